package tensor

import "math"

// RMSNorm writes x·w/√(mean(x²)+eps) into dst, row by row over rows of
// width len(w), with the scale computed as llama.cpp computes it (see
// rmsScale).
func RMSNorm(dst, x, w []float32, eps float32) {
	d := len(w)
	ParallelFor(len(x)/d, max(1, 4096/d), func(lo, hi int) {
		for r := lo * d; r < hi*d; r += d {
			rmsNormRow(dst[r:r+d], x[r:r+d], w, eps)
		}
	})
}

// rmsScale returns 1/√(mean(row²)+eps) as ggml's CPU RMSNorm computes
// it: squares in float32 summed in float64, the mean rounded to float32,
// then eps, the root and the reciprocal in float32. A float64 scale
// differs from it in the last bit now and then, which is enough to flip
// the rounding of an activation quantized to Q8_0 that sits on a tie: on
// GGUF models whose embeddings are Q4_0 (normalized rows are then
// multiples of a block scale, and ties are common) that moved logits 0.1
// from llama.cpp's.
func rmsScale(row []float32, eps float32) float32 {
	var ss float64
	for _, v := range row {
		ss += float64(v * v)
	}
	mean := float32(ss / float64(len(row)))
	return 1 / float32(math.Sqrt(float64(mean+eps)))
}

func rmsNormRow(out, row, w []float32, eps float32) {
	scale := rmsScale(row[:len(w)], eps)
	for i, v := range row {
		out[i] = v * scale * w[i]
	}
}

// Rotary is a rotary position embedding: rows of heads×headDim values
// are rotated in the "rotate half" layout of Hugging Face's Llama and
// Qwen2 (element i pairs with element i+headDim/2) by the angle
// position·InvFreq[i], computed in float64, and multiplied by Scale.
// The scaled variants (linear, dynamic NTK, YaRN, Llama 3) differ only in
// these numbers, so the model builds them and this type applies them.
type Rotary struct {
	// InvFreq holds the inverse frequency of each of the headDim/2 pairs.
	InvFreq []float64
	// Scale multiplies cos and sin (YaRN's attention factor); 0 means 1.
	Scale float64
	// At, if set, replaces InvFreq for positions whose frequencies depend
	// on the position (dynamic NTK scaling): it fills inv, of
	// len(InvFreq), for position pos and reports false to keep InvFreq.
	At func(pos int, inv []float64) bool
}

// NewRotary returns plain RoPE: InvFreq[i] = theta^(-2i/headDim).
func NewRotary(headDim int, theta float64) *Rotary {
	inv := make([]float64, headDim/2)
	for i := range inv {
		inv[i] = math.Pow(theta, -float64(2*i)/float64(headDim))
	}
	return &Rotary{InvFreq: inv, Scale: 1}
}

// Apply rotates x in place; row t is at position pos[t]. headDim must be
// 2·len(r.InvFreq).
func (r *Rotary) Apply(x []float32, heads, headDim int, pos []int) {
	r.rotate(x, heads, headDim, pos, 1)
}

// Transpose applies the transpose of Apply: the rotation by the negative
// angles, times the same Scale. It is Apply's backward pass, and its
// inverse when Scale is 1.
func (r *Rotary) Transpose(x []float32, heads, headDim int, pos []int) {
	r.rotate(x, heads, headDim, pos, -1)
}

func (r *Rotary) rotate(x []float32, heads, headDim int, pos []int, sign float64) {
	half := headDim / 2
	if half != len(r.InvFreq) {
		panic("tensor: Rotary with the wrong head size")
	}
	scale := r.Scale
	if scale == 0 {
		scale = 1
	}
	width := heads * headDim
	rows := len(x) / width
	ParallelFor(rows, max(1, 8192/width), func(lo, hi int) {
		cos := make([]float32, half)
		sin := make([]float32, half)
		var own []float64
		if r.At != nil {
			own = make([]float64, half)
		}
		for t := lo; t < hi; t++ {
			p := float64(pos[t])
			inv := r.InvFreq
			if own != nil && r.At(pos[t], own) {
				inv = own
			}
			for i := range half {
				s, c := math.Sincos(p * inv[i])
				cos[i], sin[i] = float32(scale*c), float32(sign*scale*s)
			}
			row := x[t*width : (t+1)*width]
			for h := range heads {
				v := row[h*headDim : (h+1)*headDim]
				for i := range half {
					x1, x2 := v[i], v[i+half]
					v[i] = x1*cos[i] - x2*sin[i]
					v[i+half] = x2*cos[i] + x1*sin[i]
				}
			}
		}
	})
}

// Softmax turns x into probabilities in place, subtracting the maximum
// first for stability.
func Softmax(x []float32) {
	if len(x) == 0 {
		return
	}
	inv := float32(1 / expSumInPlace(x, maxOf(x), 0))
	for i := range x {
		x[i] *= inv
	}
}

// LogSumExp returns log Σ exp(x[i]) (x not empty), computed as Softmax
// computes its normalizer: the maximum taken out, the exponentials as
// Exp32 (eight at a time where the CPU allows), summed in order in
// float64. x is left as it was.
func LogSumExp(x []float32) float64 {
	m := maxOf(x)
	var buf [512]float32
	var sum float64
	for lo := 0; lo < len(x); lo += len(buf) {
		sum = expSumInPlace(buf[:copy(buf[:], x[lo:])], m, sum)
	}
	return float64(m) + math.Log(sum)
}

func maxOf(x []float32) float32 {
	m := x[0]
	for _, v := range x[1:] {
		m = max(m, v)
	}
	return m
}

// expSumInPlace sets x[i] to Exp32(x[i]−m) and returns sum plus them,
// added in order in float64; the exponentials come eight at a time where
// the CPU allows (bit for bit as Exp32).
func expSumInPlace(x []float32, m float32, sum float64) float64 {
	done := 0
	if expSub != nil {
		done = expSub(x, m)
	}
	for i, v := range x {
		if i >= done {
			v = Exp32(v - m)
			x[i] = v
		}
		sum += float64(v)
	}
	return sum
}

// expSub and swiGLU, when the CPU has them, do the leading multiple of
// eight of Softmax's exponentials (x[i] = Exp32(x[i]−m)) and of SwiGLU in
// assembly, bit for bit as the Go loops, and return how many they did.
var (
	expSub func(x []float32, m float32) int
	swiGLU func(dst, gate, up []float32) int
)

// SwiGLU writes silu(gate)·up into dst: SiLU(g) = g·σ(g).
func SwiGLU(dst, gate, up []float32) {
	ParallelFor(len(gate), 16384, func(lo, hi int) {
		if swiGLU != nil {
			lo += swiGLU(dst[lo:hi], gate[lo:hi], up[lo:hi])
		}
		for i := lo; i < hi; i++ {
			g := gate[i]
			dst[i] = g / (1 + Exp32(-g)) * up[i]
		}
	})
}

// GeGLU writes gelu(gate)·up into dst, with the tanh form of GELU (Gemma's
// gelu_pytorch_tanh): 0.5·g·(1 + tanh(√(2/π)·(g + 0.044715·g³))),
// computed in float64.
func GeGLU(dst, gate, up []float32) {
	ParallelFor(len(gate), 16384, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			g := float64(gate[i])
			dst[i] = float32(0.5*g*(1+math.Tanh(geluC*(g+0.044715*g*g*g)))) * up[i]
		}
	})
}

// geluC is √(2/π).
const geluC = 0.7978845608028654

// Scale multiplies x by s in place.
func Scale(x []float32, s float32) {
	for i := range x {
		x[i] *= s
	}
}

// Add adds src into dst elementwise.
func Add(dst, src []float32) {
	src = src[:len(dst)]
	for i := range dst {
		dst[i] += src[i]
	}
}

// AddBias adds bias to every row of x (rows of len(bias)).
func AddBias(x, bias []float32) {
	n := len(bias)
	for r := 0; r+n <= len(x); r += n {
		Add(x[r:r+n], bias)
	}
}

// Exp32 returns e^x in float32 arithmetic, within 2 units in the last
// place: x = n·ln2 + r with |r| ≤ ln2/2, e^r by its degree-7 Taylor
// polynomial, 2^n by the exponent bits. It is several times faster than
// math.Exp, which matters in the loss: one exponential per vocabulary
// entry per token. Below about −87.3 it returns 0.
func Exp32(x float32) float32 {
	const (
		log2e = 1.44269504088896341
		ln2hi = 0.693359375
		ln2lo = -2.12194440e-4
	)
	if x > 88.72283 {
		return float32(math.Inf(1))
	}
	if x < -87.33654 {
		return 0
	}
	// Round to nearest: conversion truncates towards zero.
	t := x*log2e + 0.5
	ni := int32(t)
	if t < float32(ni) {
		ni--
	}
	n := float32(ni)
	r := x - n*ln2hi - n*ln2lo
	p := 1 + r*(1+r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720+r*(1.0/5040)))))))
	if ni > 127 { // 2^128 is not a float32; e^x still is
		p, ni = p*2, ni-1
	}
	return p * math.Float32frombits(uint32(ni+127)<<23)
}
