package safetensors

import "math"

// Float16ToFloat32 converts an IEEE 754 binary16 value, given by its bits,
// to float32. The conversion is exact: subnormals become normal float32
// values, infinities stay infinite, and NaNs keep their sign and payload.
func Float16ToFloat32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // infinity or NaN
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	case mant == 0: // signed zero
		return math.Float32frombits(sign)
	}
	// Subnormal: mant * 2^-24. Shift the mantissa up until its leading 1
	// reaches the implicit-bit position, lowering the exponent as we go.
	e := uint32(127 - 15 + 1)
	for mant&0x400 == 0 {
		mant <<= 1
		e--
	}
	return math.Float32frombits(sign | e<<23 | (mant&0x3ff)<<13)
}

// Float32ToFloat16 converts f to IEEE 754 binary16 bits, rounding to the
// nearest value with ties to even. Values beyond the binary16 range become
// infinities, values below half the smallest subnormal become signed zeros,
// and NaNs stay NaN (keeping the sign and the top payload bits).
func Float32ToFloat16(f float32) uint16 {
	bits := math.Float32bits(f)
	sign := uint16(bits>>16) & 0x8000
	exp := int32(bits>>23) & 0xff
	mant := bits & 0x7fffff
	if exp == 0xff {
		if mant == 0 {
			return sign | 0x7c00
		}
		m := uint16(mant >> 13)
		if m == 0 {
			m = 0x200 // keep it a NaN
		}
		return sign | 0x7c00 | m
	}
	e := exp - 127
	switch {
	case e > 15:
		return sign | 0x7c00
	case e >= -14: // normal binary16 range
		h := uint32(e+15)<<10 | mant>>13
		rem := mant & 0x1fff
		if rem > 0x1000 || rem == 0x1000 && h&1 == 1 {
			h++ // a carry into the exponent is right, up to infinity
		}
		return sign | uint16(h)
	case e >= -25: // subnormal binary16, or rounds to the smallest one
		m := mant | 0x800000 // value = m * 2^(e-23) = (m >> shift) * 2^-24
		shift := uint32(-e - 1)
		h := m >> shift
		rem := m & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || rem == half && h&1 == 1 {
			h++ // a carry to 0x400 is the smallest normal, which is right
		}
		return sign | uint16(h)
	}
	return sign
}

// BFloat16ToFloat32 converts a bfloat16 value, given by its bits, to
// float32. A bfloat16 is the top 16 bits of a float32, so this is exact.
func BFloat16ToFloat32(b uint16) float32 {
	return math.Float32frombits(uint32(b) << 16)
}

// Float32ToBFloat16 converts f to bfloat16 bits, rounding to the nearest
// value with ties to even. Values that round beyond the largest finite
// bfloat16 become infinities; NaNs stay NaN.
func Float32ToBFloat16(f float32) uint16 {
	bits := math.Float32bits(f)
	if bits&0x7fffffff > 0x7f800000 { // NaN
		b := uint16(bits >> 16)
		if b&0x7f == 0 {
			b |= 0x40 // the payload was only in the dropped bits
		}
		return b
	}
	bias := uint32(0x7fff) + (bits>>16)&1
	return uint16((bits + bias) >> 16)
}
