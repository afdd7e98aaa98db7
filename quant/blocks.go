package quant

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/dokja/dokja/safetensors"
)

// f16 holds every binary16 value as float32: scales are converted once
// per block in the kernels, and a table is faster than the bit-level
// conversion's subnormal loop.
var f16 [1 << 16]float32

func init() {
	for i := range f16 {
		f16[i] = safetensors.Float16ToFloat32(uint16(i))
	}
}

// half reads a little-endian binary16 at b[0:2] as float32.
func half(b []byte) float32 { return f16[binary.LittleEndian.Uint16(b)] }

// toHalf rounds f to binary16 (ties to even, as ggml's GGML_FP32_TO_FP16).
func toHalf(f float32) uint16 { return safetensors.Float32ToFloat16(f) }

// nearestInt rounds to the nearest integer, ties to even, as ggml's
// nearest_int (which adds 1.5·2²³ and reads the mantissa).
func nearestInt(f float32) int { return int(math.RoundToEven(float64(f))) }

// Quantize converts src, a whole number of blocks of type t, to t's
// stored bytes, appending to dst.
//
// Q8_0, Q4_0 and Q4_K follow ggml's quantize_row_q8_0_ref,
// quantize_row_q4_0_ref and quantize_row_q4_K_ref operation by operation
// in float32, with every product rounded before it is added (no fused
// multiply-add). A C compiler that contracts a·b+c into one FMA (GCC's
// default with -march=native) can therefore pick a different level for a
// value lying within an ulp of a rounding boundary; such bytes differ
// from ours by one quantization step at most.
func Quantize(t Type, dst []byte, src []float32) ([]byte, error) {
	if !t.CanQuantize() {
		return dst, fmt.Errorf("quantize: type %s is not supported", t)
	}
	n, err := t.RowBytes(len(src))
	if err != nil {
		return dst, fmt.Errorf("quantize: %w", err)
	}
	start := len(dst)
	dst = grow(dst, n)
	out := dst[start:]
	switch t {
	case F32:
		for i, v := range src {
			binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(v))
		}
	case F16:
		for i, v := range src {
			binary.LittleEndian.PutUint16(out[2*i:], toHalf(v))
		}
	case BF16:
		for i, v := range src {
			binary.LittleEndian.PutUint16(out[2*i:], safetensors.Float32ToBFloat16(v))
		}
	case Q8_0:
		for i := 0; i < len(src); i += 32 {
			quantizeQ8_0((*[34]byte)(out[i/32*34:]), (*[32]float32)(src[i:]))
		}
	case Q4_0:
		for i := 0; i < len(src); i += 32 {
			quantizeQ4_0((*[18]byte)(out[i/32*18:]), (*[32]float32)(src[i:]))
		}
	case Q4_K:
		for i := 0; i < len(src); i += 256 {
			quantizeQ4_K((*[144]byte)(out[i/256*144:]), (*[256]float32)(src[i:]))
		}
	}
	return dst, nil
}

func grow(b []byte, n int) []byte {
	if cap(b)-len(b) < n {
		nb := make([]byte, len(b), len(b)+n)
		copy(nb, b)
		b = nb
	}
	return b[:len(b)+n]
}

// Dequantize converts src, the stored bytes of len(dst) values of type t,
// to float32 in dst.
func Dequantize(t Type, dst []float32, src []byte) error {
	if !t.CanDequantize() {
		return fmt.Errorf("dequantize: type %s is not supported", t)
	}
	n, err := t.RowBytes(len(dst))
	if err != nil {
		return fmt.Errorf("dequantize: %w", err)
	}
	if len(src) != n {
		return fmt.Errorf("dequantize: %d %s values take %d bytes, have %d", len(dst), t, n, len(src))
	}
	switch t {
	case F32:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
		}
	case F16:
		for i := range dst {
			dst[i] = half(src[2*i:])
		}
	case BF16:
		for i := range dst {
			dst[i] = safetensors.BFloat16ToFloat32(binary.LittleEndian.Uint16(src[2*i:]))
		}
	case Q8_0:
		for i := 0; i < len(dst); i += 32 {
			dequantizeQ8_0((*[32]float32)(dst[i:]), (*[34]byte)(src[i/32*34:]))
		}
	case Q4_0:
		for i := 0; i < len(dst); i += 32 {
			dequantizeQ4_0((*[32]float32)(dst[i:]), (*[18]byte)(src[i/32*18:]))
		}
	case Q4_K:
		for i := 0; i < len(dst); i += 256 {
			dequantizeQ4_K((*[256]float32)(dst[i:]), (*[144]byte)(src[i/256*144:]))
		}
	case Q6_K:
		for i := 0; i < len(dst); i += 256 {
			dequantizeQ6_K((*[256]float32)(dst[i:]), (*[210]byte)(src[i/256*210:]))
		}
	}
	return nil
}

// Q8_0: fp16 scale d, then 32 int8 values; value = q·d.

func quantizeQ8_0(y *[34]byte, x *[32]float32) {
	var amax float32
	for _, v := range x {
		amax = max(amax, abs32(v))
	}
	d := amax / 127
	var id float32
	if d != 0 {
		id = 1 / d
	}
	binary.LittleEndian.PutUint16(y[0:], toHalf(d))
	for j, v := range x {
		y[2+j] = byte(int8(math.Round(float64(float32(v * id)))))
	}
}

func dequantizeQ8_0(y *[32]float32, x *[34]byte) {
	d := half(x[0:])
	for j := range y {
		y[j] = float32(int8(x[2+j])) * d
	}
}

// Q4_0: fp16 scale d, then 16 bytes; byte j holds value j in its low
// nibble and value j+16 in its high nibble; value = (q-8)·d.

func quantizeQ4_0(y *[18]byte, x *[32]float32) {
	var amax, mx float32
	for _, v := range x {
		if a := abs32(v); amax < a {
			amax, mx = a, v
		}
	}
	d := mx / -8
	var id float32
	if d != 0 {
		id = 1 / d
	}
	binary.LittleEndian.PutUint16(y[0:], toHalf(d))
	for j := range 16 {
		// (int8_t)(x·id + 8.5f): truncation toward zero, then at most 15.
		x0 := float32(x[j]*id) + 8.5
		x1 := float32(x[j+16]*id) + 8.5
		y[2+j] = byte(min(15, int8(x0))) | byte(min(15, int8(x1)))<<4
	}
}

func dequantizeQ4_0(y *[32]float32, x *[18]byte) {
	d := half(x[0:])
	for j := range 16 {
		y[j] = float32(int(x[2+j]&15)-8) * d
		y[j+16] = float32(int(x[2+j]>>4)-8) * d
	}
}

// Q4_K: a 256-value super-block of eight 32-value sub-blocks. Bytes 0-1
// hold fp16 d, 2-3 fp16 dmin, 4-15 the sub-blocks' 6-bit scales and mins
// (get_scale_min_k4's packing), 16-143 the nibbles: each 32-byte group c
// holds values 64c+l (low nibble) and 64c+32+l (high nibble). Value =
// d·scale·q − dmin·min.

// scaleMinK4 unpacks sub-block j's 6-bit scale and min.
// putScaleMinK4 stores sub-block j's 6-bit scale and min into the twelve
// scale bytes q, which start cleared: scaleMinK4's inverse.
func putScaleMinK4(q []byte, j int, ls, lm uint8) {
	if j < 4 {
		q[j] |= ls
		q[j+4] |= lm
		return
	}
	q[j+4] = ls&0xF | (lm&0xF)<<4
	q[j-4] |= (ls >> 4) << 6
	q[j] |= (lm >> 4) << 6
}

func scaleMinK4(j int, q []byte) (sc, m uint8) {
	if j < 4 {
		return q[j] & 63, q[j+4] & 63
	}
	return q[j+4]&0xF | (q[j-4]>>6)<<4, q[j+4]>>4 | (q[j]>>6)<<4
}

func quantizeQ4_K(y *[144]byte, x *[256]float32) {
	var (
		L              [256]uint8
		laux           [32]uint8
		weights        [32]float32
		mins, scales   [8]float32
		maxScale, maxM float32
	)
	for j := range 8 {
		xs := x[32*j : 32*j+32]
		var sumX2 float32
		for _, v := range xs {
			sumX2 += float32(v * v)
		}
		avX := float32(math.Sqrt(float64(sumX2 / 32)))
		for l, v := range xs {
			weights[l] = avX + abs32(v)
		}
		scales[j], mins[j] = makeQKX2Quants(xs, weights[:], L[32*j:32*j+32], laux[:], 15, -1, 0.1, 20)
		maxScale = max(maxScale, scales[j])
		maxM = max(maxM, mins[j])
	}
	var invScale, invMin float32
	if maxScale > 0 {
		invScale = 63 / maxScale
	}
	if maxM > 0 {
		invMin = 63 / maxM
	}
	sc := y[4:16]
	clear(sc)
	for j := range 8 {
		ls := min(63, uint8(nearestInt(invScale*scales[j])))
		lm := min(63, uint8(nearestInt(invMin*mins[j])))
		putScaleMinK4(sc, j, ls, lm)
	}
	binary.LittleEndian.PutUint16(y[0:], toHalf(maxScale/63))
	binary.LittleEndian.PutUint16(y[2:], toHalf(maxM/63))
	dAll, mAll := half(y[0:]), half(y[2:])
	for j := range 8 {
		s, m := scaleMinK4(j, sc)
		d := dAll * float32(s)
		if d == 0 {
			continue
		}
		dm := mAll * float32(m)
		for i := range 32 {
			l := nearestInt((x[32*j+i] + dm) / d)
			L[32*j+i] = uint8(max(0, min(15, l)))
		}
	}
	q := y[16:]
	for j := 0; j < 256; j += 64 {
		for l := range 32 {
			q[l] = L[j+l] | L[j+l+32]<<4
		}
		q = q[32:]
	}
}

// makeQKX2Quants is ggml's make_qkx2_quants with use_mad false: it fits
// x ≈ scale·L + min (L in [0, nmax], min ≤ 0) by weighted least squares
// over a few trial scales, and returns scale and −min.
func makeQKX2Quants(x, weights []float32, L, laux []uint8, nmax int, rmin, rdelta float32, nstep int) (scale, negMin float32) {
	n := len(x)
	mn, mx := x[0], x[0]
	sumW := weights[0]
	sumX := float32(sumW * x[0])
	for i := 1; i < n; i++ {
		mn = min(mn, x[i])
		mx = max(mx, x[i])
		w := weights[i]
		sumW += w
		sumX += float32(w * x[i])
	}
	if mn > 0 {
		mn = 0
	}
	if mx == mn {
		for i := range n {
			L[i] = 0
		}
		return 0, -mn
	}
	fmax := float32(nmax)
	iscale := fmax / (mx - mn)
	scale = 1 / iscale
	var bestErr float32
	for i := range n {
		l := nearestInt(float32(iscale * (x[i] - mn)))
		L[i] = uint8(max(0, min(nmax, l)))
		diff := float32(scale*float32(L[i])) + mn - x[i]
		bestErr += float32(weights[i] * float32(diff*diff))
	}
	for is := 0; is <= nstep; is++ {
		iscale = (rmin + float32(rdelta*float32(is)) + fmax) / (mx - mn)
		var sumL, sumL2, sumXL float32
		for i := range n {
			l := nearestInt(float32(iscale * (x[i] - mn)))
			l = max(0, min(nmax, l))
			laux[i] = uint8(l)
			w, fl := weights[i], float32(l)
			sumL += float32(w * fl)
			sumL2 += float32(float32(w*fl) * fl)
			sumXL += float32(float32(w*fl) * x[i])
		}
		D := float32(sumW*sumL2) - float32(sumL*sumL)
		if D > 0 {
			thisScale := (float32(sumW*sumXL) - float32(sumX*sumL)) / D
			thisMin := (float32(sumL2*sumX) - float32(sumL*sumXL)) / D
			if thisMin > 0 {
				thisMin = 0
				thisScale = sumXL / sumL2
			}
			var cur float32
			for i := range n {
				diff := float32(thisScale*float32(laux[i])) + thisMin - x[i]
				cur += float32(weights[i] * float32(diff*diff))
			}
			if cur < bestErr {
				copy(L[:n], laux[:n])
				bestErr = cur
				scale, mn = thisScale, thisMin
			}
		}
	}
	return scale, -mn
}

func dequantizeQ4_K(y *[256]float32, x *[144]byte) {
	d, dmin := half(x[0:]), half(x[2:])
	sc := x[4:16]
	q := x[16:]
	for c := range 4 {
		s1, m1 := scaleMinK4(2*c, sc)
		s2, m2 := scaleMinK4(2*c+1, sc)
		d1, mm1 := d*float32(s1), dmin*float32(m1)
		d2, mm2 := d*float32(s2), dmin*float32(m2)
		for l := range 32 {
			y[64*c+l] = d1*float32(q[32*c+l]&0xF) - mm1
			y[64*c+32+l] = d2*float32(q[32*c+l]>>4) - mm2
		}
	}
}

// Q6_K (read only): ql[128] low 4 bits, qh[64] high 2 bits, 16 int8
// scales, fp16 d; value = d·scale·(q − 32).
func dequantizeQ6_K(y *[256]float32, x *[210]byte) {
	ql, qh, sc := x[0:128], x[128:192], x[192:208]
	d := half(x[208:])
	for n := range 2 {
		ql, qh, sc, y := ql[64*n:], qh[32*n:], sc[8*n:], y[128*n:]
		for l := range 32 {
			is := l / 16
			q1 := int(int8(ql[l]&0xF|((qh[l]>>0)&3)<<4)) - 32
			q2 := int(int8(ql[l+32]&0xF|((qh[l]>>2)&3)<<4)) - 32
			q3 := int(int8(ql[l]>>4|((qh[l]>>4)&3)<<4)) - 32
			q4 := int(int8(ql[l+32]>>4|((qh[l]>>6)&3)<<4)) - 32
			y[l] = d * float32(int8(sc[is])) * float32(q1)
			y[l+32] = d * float32(int8(sc[is+2])) * float32(q2)
			y[l+64] = d * float32(int8(sc[is+4])) * float32(q3)
			y[l+96] = d * float32(int8(sc[is+6])) * float32(q4)
		}
	}
}

func abs32(f float32) float32 { return math.Float32frombits(math.Float32bits(f) &^ (1 << 31)) }
