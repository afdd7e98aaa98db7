//go:build amd64

// Package q8asm holds the AVX2 block dot products of package quant in
// assembly: written with simd/archsimd the same loops ran slower than
// portable Go (see quant/matrix.go).
package q8asm

// DotQ8_0 returns Σ_b (Σ_j w_b[j]·a_b[j]) · d(w_b)·a_b.d over blocks ggml
// Q8_0 weight blocks at w (34 bytes each: an fp16 scale, 32 int8) and
// activation blocks at a (36 bytes each: a float32 scale, 32 int8). Like
// ggml's AVX2 kernel it accumulates eight float32 lanes and sums them at
// the end, so it rounds differently from quant's portable loop (within
// float32 precision of the sum). f16 is the fp16→float32 table. Needs AVX2.
//
//go:noescape
func DotQ8_0(w, a *byte, blocks int, f16 *float32) float32

// DotQ4_0 is DotQ8_0 for Q4_0 weight blocks (18 bytes: an fp16 scale and
// 32 nibbles, value = nibble − 8).
//
//go:noescape
func DotQ4_0(w, a *byte, blocks int, f16 *float32) float32

// DotQ4K returns the dot product of blocks ggml Q4_K weight blocks at w
// (144 bytes: fp16 scale and min, twelve bytes of 6-bit sub-block scales
// and mins, 256 nibbles) with Q8_K activation blocks at a (292 bytes: a
// float32 scale, 256 int8, sixteen int16 sums of 16 values). It rounds
// differently from quant's portable loop (eight lanes, the mins summed
// apart), within float32 precision of the sum.
//
//go:noescape
func DotQ4K(w, a *byte, blocks int, f16 *float32) float32

// DotQ4_0x8 computes the dot products of eight Q4_0 weight rows, stored
// in the eight-row layout described in the assembly, with the same Q8_0
// activation blocks, one float32 lane per row. sums holds 8·Σ of each
// activation block's values. Needs AVX2, FMA and F16C.
//
//go:noescape
func DotQ4_0x8(w, a *byte, sums *int32, blocks int, out *[8]float32)

// DotQ8_0x8 computes the dot products of eight Q8_0 weight rows, stored
// in the eight-row layout described in the assembly, with the same Q8_0
// activation blocks, one float32 lane per row. Needs AVX2, FMA and F16C.
//
//go:noescape
func DotQ8_0x8(w, a *byte, blocks int, out *[8]float32)

// DotQ4Kx4 computes DotQ4K for one weight row against four rows of Q8_K
// activation blocks, astride bytes apart, into out (the mins are taken
// off per block, so results round differently from DotQ4K's). Needs
// AVX2 and FMA.
//
//go:noescape
func DotQ4Kx4(w, a *byte, astride, blocks int, f16 *float32, out *[4]float32)

// DotQ4Kx8 computes the dot products of eight Q4_K weight rows, stored in
// the eight-row layout described in the assembly, with the same Q8_K
// activation blocks, one float32 lane per row; pairs holds, for each
// activation block, the sums of its eight 32-value sub-blocks. Needs
// AVX2, FMA and F16C.
//
//go:noescape
func DotQ4Kx8(w, a *byte, pairs *int32, blocks int, out *[8]float32)

// DotQ4_0x8in4 computes DotQ4_0x8 for four rows of activation blocks,
// astride bytes apart (their sums sstride bytes apart), into out: out[8k+r]
// for weight row r and activation row k. Needs AVX2, FMA and F16C.
//
//go:noescape
func DotQ4_0x8in4(w, a *byte, astride int, sums *int32, sstride, blocks int, out *[32]float32)

// QuantizeQ8 quantizes blocks·32 activations at x into Q8_0 activation
// blocks at dst (36 bytes each), byte for byte as quant's quantizeRowQ8
// does, and, when sums is not nil, sets sums[b] to 8·Σ of block b's
// values (Q4_0's offset). Needs AVX2 and F16C.
//
//go:noescape
func QuantizeQ8(x *float32, dst *byte, sums *int32, blocks int)

// DotQ8_0x8in4 computes DotQ8_0x8 for four rows of activation blocks,
// astride bytes apart, into out: out[8k+r] for weight row r and
// activation row k. Needs AVX2, FMA and F16C.
//
//go:noescape
func DotQ8_0x8in4(w, a *byte, astride, blocks int, out *[32]float32)

// DotQ4Kx8in4 computes DotQ4Kx8 for four rows of activation blocks,
// astride bytes apart (their pairs pstride bytes apart), into out:
// out[8k+r] for weight row r and activation row k, each equal to
// DotQ4Kx8's bit for bit. Needs AVX2, FMA and F16C.
//
//go:noescape
func DotQ4Kx8in4(w, a *byte, astride int, pairs *int32, pstride, blocks int, out *[32]float32)

// QuantizeQ8K quantizes blocks·256 activations at x into Q8_K blocks at
// dst (292 bytes each), byte for byte as quant's quantizeRowQ8K does.
// Needs AVX2.
//
//go:noescape
func QuantizeQ8K(x *float32, dst *byte, blocks int)
