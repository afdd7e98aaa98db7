package safetensors

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

// Bit patterns from IEEE 754 binary16 and from the bfloat16 definition
// (the top half of a binary32).
func TestFloat16Known(t *testing.T) {
	tests := []struct {
		h uint16
		f float32
	}{
		{0x0000, 0},
		{0x3C00, 1},
		{0xBC00, -1},
		{0xC000, -2},
		{0x3800, 0.5},
		{0x3555, 0.333251953125},
		{0x7BFF, 65504},                  // largest finite
		{0x0400, 6.103515625e-05},        // smallest normal, 2^-14
		{0x03FF, 6.097555160522461e-05},  // largest subnormal
		{0x0001, 5.9604644775390625e-08}, // smallest subnormal, 2^-24
		{0x8001, -5.9604644775390625e-08},
		{0x0200, 3.0517578125e-05}, // 2^-15
		{0x7C00, float32(math.Inf(1))},
		{0xFC00, float32(math.Inf(-1))},
	}
	for _, tc := range tests {
		if got := Float16ToFloat32(tc.h); got != tc.f {
			t.Errorf("Float16ToFloat32(%#04x) = %g, want %g", tc.h, got, tc.f)
		}
		if got := Float32ToFloat16(tc.f); got != tc.h {
			t.Errorf("Float32ToFloat16(%g) = %#04x, want %#04x", tc.f, got, tc.h)
		}
	}
	negZero := Float16ToFloat32(0x8000)
	if negZero != 0 || !math.Signbit(float64(negZero)) {
		t.Errorf("Float16ToFloat32(0x8000) = %g, want -0", negZero)
	}
	if got := Float32ToFloat16(float32(math.Copysign(0, -1))); got != 0x8000 {
		t.Errorf("Float32ToFloat16(-0) = %#04x, want 0x8000", got)
	}
	for _, h := range []uint16{0x7E00, 0x7C01, 0xFE00, 0x7FFF} {
		if f := Float16ToFloat32(h); !math.IsNaN(float64(f)) {
			t.Errorf("Float16ToFloat32(%#04x) = %g, want NaN", h, f)
		}
	}
	for _, bits := range []uint32{0x7FC00000, 0x7F800001, 0xFFC00000, 0x7FFFFFFF} {
		h := Float32ToFloat16(math.Float32frombits(bits))
		if h&0x7C00 != 0x7C00 || h&0x3FF == 0 {
			t.Errorf("Float32ToFloat16(NaN %#08x) = %#04x, not a NaN", bits, h)
		}
		if h>>15 != uint16(bits>>31) {
			t.Errorf("Float32ToFloat16(NaN %#08x) = %#04x lost the sign", bits, h)
		}
	}
}

func TestFloat32ToFloat16Rounding(t *testing.T) {
	p := func(e int) float64 { return math.Ldexp(1, e) }
	tests := []struct {
		f    float64
		want uint16
	}{
		{1 + p(-11), 0x3C00},          // tie between 0x3C00 and 0x3C01: even
		{1 + 3*p(-11), 0x3C02},        // tie between 0x3C01 and 0x3C02: even
		{1 + p(-11) + p(-20), 0x3C01}, // just above the tie
		{1 + p(-11) - p(-20), 0x3C00}, // just below the tie
		{65519.99, 0x7BFF},
		{65520, 0x7C00}, // tie between 65504 and 2^16: rounds to infinity
		{1e6, 0x7C00},
		{-1e6, 0xFC00},
		{p(-25), 0x0000},          // tie between 0 and the smallest subnormal
		{p(-25) + p(-40), 0x0001}, // just above it
		{3 * p(-25), 0x0002},      // tie between 0x0001 and 0x0002
		{5 * p(-25), 0x0002},      // tie between 0x0002 and 0x0003
		{p(-26), 0x0000},
		{p(-14) - p(-25), 0x0400}, // rounds up from subnormal to normal
		{p(-14) - p(-24), 0x03FF},
		{1e-45, 0x0000}, // a binary32 subnormal
		{-1e-45, 0x8000},
	}
	for _, tc := range tests {
		if got := Float32ToFloat16(float32(tc.f)); got != tc.want {
			t.Errorf("Float32ToFloat16(%g) = %#04x, want %#04x", tc.f, got, tc.want)
		}
	}
}

func TestBFloat16Known(t *testing.T) {
	p := func(e int) float64 { return math.Ldexp(1, e) }
	tests := []struct {
		f    float64
		want uint16
	}{
		{1, 0x3F80},
		{-2, 0xC000},
		{0.5, 0x3F00},
		{3.3895313892515355e38, 0x7F7F}, // largest finite bfloat16
		{math.Inf(1), 0x7F80},
		{math.Inf(-1), 0xFF80},
		{math.MaxFloat32, 0x7F80}, // rounds beyond the largest finite: infinity
		{1 + p(-8), 0x3F80},       // tie: even
		{1 + 3*p(-8), 0x3F82},     // tie: even
		{1 + p(-8) + p(-20), 0x3F81},
		{math.Pi, 0x4049},
		{p(-133), 0x0001}, // smallest bfloat16 subnormal
	}
	for _, tc := range tests {
		if got := Float32ToBFloat16(float32(tc.f)); got != tc.want {
			t.Errorf("Float32ToBFloat16(%g) = %#04x, want %#04x", tc.f, got, tc.want)
		}
	}
	if got := BFloat16ToFloat32(0x3F80); got != 1 {
		t.Errorf("BFloat16ToFloat32(0x3F80) = %g, want 1", got)
	}
	if got := BFloat16ToFloat32(0xC049); got != -3.140625 {
		t.Errorf("BFloat16ToFloat32(0xC049) = %g, want -3.140625", got)
	}
	for _, bits := range []uint32{0x7FC00000, 0x7F800001, 0xFF800001, 0x7FFFFFFF} {
		b := Float32ToBFloat16(math.Float32frombits(bits))
		if b&0x7F80 != 0x7F80 || b&0x7F == 0 || b>>15 != uint16(bits>>31) {
			t.Errorf("Float32ToBFloat16(NaN %#08x) = %#04x, not a NaN of the same sign", bits, b)
		}
	}
}

// Every binary16 value converts to float32 and back unchanged; the value
// matches the binary16 formula; NaNs stay NaN (with their payload).
func TestFloat16Exhaustive(t *testing.T) {
	for i := range 1 << 16 {
		h := uint16(i)
		f := Float16ToFloat32(h)
		exp, mant := int(h>>10)&0x1f, float64(h&0x3ff)
		if exp == 0x1f {
			if mant == 0 != math.IsInf(float64(f), 0) || mant != 0 != math.IsNaN(float64(f)) {
				t.Fatalf("Float16ToFloat32(%#04x) = %g", h, f)
			}
		} else {
			var want float64
			if exp == 0 {
				want = math.Ldexp(mant, -24)
			} else {
				want = math.Ldexp(1+mant/1024, exp-15)
			}
			if h&0x8000 != 0 {
				want = -want
			}
			if float64(f) != want || math.Signbit(float64(f)) != (h&0x8000 != 0) {
				t.Fatalf("Float16ToFloat32(%#04x) = %g, want %g", h, f, want)
			}
		}
		if back := Float32ToFloat16(f); back != h {
			t.Fatalf("Float32ToFloat16(Float16ToFloat32(%#04x)) = %#04x", h, back)
		}
	}
}

func TestBFloat16Exhaustive(t *testing.T) {
	for i := range 1 << 16 {
		b := uint16(i)
		if back := Float32ToBFloat16(BFloat16ToFloat32(b)); back != b {
			t.Fatalf("Float32ToBFloat16(BFloat16ToFloat32(%#04x)) = %#04x", b, back)
		}
	}
}

// nearest returns the index of the value in sorted vals nearest to a,
// ties to the even index; vals[len-1] stands for the overflow threshold.
func nearest(vals []float64, a float64) int {
	i := sort.Search(len(vals), func(i int) bool { return vals[i] > a }) - 1
	if vals[i] == a {
		return i
	}
	dl, dh := a-vals[i], vals[i+1]-a
	switch {
	case dl < dh:
		return i
	case dh < dl:
		return i + 1
	case i%2 == 0:
		return i
	}
	return i + 1
}

// randomFloat32 draws float32 values spread over exponents lo..hi, plus
// some raw bit patterns and values just around halfway points.
func randomFloat32(r *rand.Rand, lo, hi int) float32 {
	switch r.IntN(4) {
	case 0:
		return math.Float32frombits(r.Uint32())
	case 1: // near a halfway point of a 10- or 7-bit mantissa
		b := r.Uint32()&^0x1fff | 0x1000
		if r.IntN(2) == 0 {
			b = r.Uint32()&^0xffff | 0x8000
		}
		return math.Float32frombits(b + uint32(r.IntN(3)) - 1)
	}
	e := lo + r.IntN(hi-lo+1)
	v := math.Ldexp(1+r.Float64(), e)
	if r.IntN(2) == 0 {
		v = -v
	}
	return float32(v)
}

// Float32ToFloat16 against a brute-force search over all binary16 values.
func TestFloat32ToFloat16Nearest(t *testing.T) {
	vals := make([]float64, 0x7C01) // positive finite values, then 2^16
	for h := range 0x7C00 {
		exp, mant := h>>10, float64(h&0x3ff)
		if exp == 0 {
			vals[h] = math.Ldexp(mant, -24)
		} else {
			vals[h] = math.Ldexp(1+mant/1024, exp-15)
		}
	}
	vals[0x7C00] = 65536
	r := rand.New(rand.NewPCG(1, 2))
	n := 2_000_000
	if testing.Short() {
		n = 200_000
	}
	for range n {
		f := randomFloat32(r, -27, 16)
		if f != f {
			continue
		}
		a := math.Abs(float64(f))
		want := uint16(0x7C00)
		if a < 65536 {
			want = uint16(nearest(vals, a))
		}
		if math.Signbit(float64(f)) {
			want |= 0x8000
		}
		if got := Float32ToFloat16(f); got != want {
			t.Fatalf("Float32ToFloat16(%g = %#08x) = %#04x, want %#04x", f, math.Float32bits(f), got, want)
		}
	}
}

// Float32ToBFloat16 against a brute-force search over all bfloat16 values.
func TestFloat32ToBFloat16Nearest(t *testing.T) {
	vals := make([]float64, 0x7F81) // positive finite values, then 2^128
	for b := range 0x7F80 {
		exp, mant := b>>7, float64(b&0x7f)
		if exp == 0 {
			vals[b] = math.Ldexp(mant, -133)
		} else {
			vals[b] = math.Ldexp(1+mant/128, exp-127)
		}
	}
	vals[0x7F80] = math.Ldexp(1, 128)
	r := rand.New(rand.NewPCG(3, 4))
	n := 2_000_000
	if testing.Short() {
		n = 200_000
	}
	for range n {
		f := randomFloat32(r, -140, 127)
		if f != f {
			continue
		}
		a := math.Abs(float64(f))
		want := uint16(0x7F80)
		if !math.IsInf(a, 0) {
			want = uint16(nearest(vals, a))
		}
		if math.Signbit(float64(f)) {
			want |= 0x8000
		}
		if got := Float32ToBFloat16(f); got != want {
			t.Fatalf("Float32ToBFloat16(%g = %#08x) = %#04x, want %#04x", f, math.Float32bits(f), got, want)
		}
	}
}
