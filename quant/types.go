// Package quant implements ggml's block quantization formats (Q8_0, Q4_0,
// Q4_K; Q6_K, F16 and BF16 for reading) and matrix products whose weights
// stay quantized.
//
// A quantized matrix is stored as ggml stores it: each row is a run of
// blocks, and a block holds a fixed number of consecutive values of the
// row (32 for Q8_0 and Q4_0, 256 for the K-quants) with its own scale.
// Quantizers follow ggml's reference quantizers (quantize_row_*_ref in
// ggml-quants.c), so files written here hold the bytes llama-quantize
// would write without an importance matrix, up to rare rounding ties (see
// Quantize).
//
// The products y = x·Wᵀ quantize each row of x on the fly into 8-bit
// blocks (Q8_0 for Q8_0/Q4_0 weights, Q8_K for Q4_K weights) and take
// integer dot products block by block, as ggml's CPU backend does: the
// arithmetic is ggml's, so logits agree with llama.cpp's (to 2.4e-7 for
// Q8_0 in model's TestMatchesLlamaCpp), and the inner loops are 8-bit
// integer multiply-adds. Whole matrices are never dequantized. Only the
// portable Go path exists so far.
package quant

import (
	"fmt"
	"strings"
)

// Type is a ggml tensor type, numbered as in ggml.h and GGUF files.
type Type uint32

// The ggml types. Only some can be converted here (see CanDequantize and
// CanQuantize); the others are known for their block sizes, so that a
// GGUF file holding them can still be parsed and its tensors measured.
const (
	F32     Type = 0
	F16     Type = 1
	Q4_0    Type = 2
	Q4_1    Type = 3
	Q5_0    Type = 6
	Q5_1    Type = 7
	Q8_0    Type = 8
	Q8_1    Type = 9
	Q2_K    Type = 10
	Q3_K    Type = 11
	Q4_K    Type = 12
	Q5_K    Type = 13
	Q6_K    Type = 14
	Q8_K    Type = 15
	IQ2_XXS Type = 16
	IQ2_XS  Type = 17
	IQ3_XXS Type = 18
	IQ1_S   Type = 19
	IQ4_NL  Type = 20
	IQ3_S   Type = 21
	IQ2_S   Type = 22
	IQ4_XS  Type = 23
	I8      Type = 24
	I16     Type = 25
	I32     Type = 26
	I64     Type = 27
	F64     Type = 28
	IQ1_M   Type = 29
	BF16    Type = 30
	TQ1_0   Type = 34
	TQ2_0   Type = 35
	MXFP4   Type = 39
)

// BlockK is the number of values in a K-quant super-block.
const BlockK = 256

type traits struct {
	name         string
	block, bytes int
}

var typeTraits = map[Type]traits{
	F32: {"f32", 1, 4}, F16: {"f16", 1, 2}, BF16: {"bf16", 1, 2}, F64: {"f64", 1, 8},
	I8: {"i8", 1, 1}, I16: {"i16", 1, 2}, I32: {"i32", 1, 4}, I64: {"i64", 1, 8},
	Q4_0: {"q4_0", 32, 18}, Q4_1: {"q4_1", 32, 20}, Q5_0: {"q5_0", 32, 22}, Q5_1: {"q5_1", 32, 24},
	Q8_0: {"q8_0", 32, 34}, Q8_1: {"q8_1", 32, 36},
	Q2_K: {"q2_K", 256, 84}, Q3_K: {"q3_K", 256, 110}, Q4_K: {"q4_K", 256, 144}, Q5_K: {"q5_K", 256, 176},
	Q6_K: {"q6_K", 256, 210}, Q8_K: {"q8_K", 256, 292},
	IQ2_XXS: {"iq2_xxs", 256, 66}, IQ2_XS: {"iq2_xs", 256, 74}, IQ3_XXS: {"iq3_xxs", 256, 98},
	IQ1_S: {"iq1_s", 256, 50}, IQ4_NL: {"iq4_nl", 32, 18}, IQ3_S: {"iq3_s", 256, 110},
	IQ2_S: {"iq2_s", 256, 82}, IQ4_XS: {"iq4_xs", 256, 136}, IQ1_M: {"iq1_m", 256, 56},
	TQ1_0: {"tq1_0", 256, 54}, TQ2_0: {"tq2_0", 256, 66}, MXFP4: {"mxfp4", 32, 17},
}

// Known reports whether t is a ggml type whose block layout is known.
func (t Type) Known() bool { _, ok := typeTraits[t]; return ok }

// String returns ggml's name of the type ("q4_K"), or "type(N)".
func (t Type) String() string {
	if tr, ok := typeTraits[t]; ok {
		return tr.name
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// BlockSize is the number of values in one block (1 for plain types, 0
// for an unknown type).
func (t Type) BlockSize() int { return typeTraits[t].block }

// BlockBytes is the size of one block in bytes (0 for an unknown type).
func (t Type) BlockBytes() int { return typeTraits[t].bytes }

// RowBytes returns the bytes of n consecutive values, which must be a
// whole number of blocks.
func (t Type) RowBytes(n int) (int, error) {
	tr, ok := typeTraits[t]
	if !ok {
		return 0, fmt.Errorf("unknown ggml type %d", uint32(t))
	}
	if n < 0 || n%tr.block != 0 {
		return 0, fmt.Errorf("%s: %d values are not a whole number of %d-value blocks", tr.name, n, tr.block)
	}
	return n / tr.block * tr.bytes, nil
}

// CanDequantize reports whether Dequantize converts type t.
func (t Type) CanDequantize() bool {
	switch t {
	case F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K:
		return true
	}
	return false
}

// CanQuantize reports whether Quantize produces type t.
func (t Type) CanQuantize() bool {
	switch t {
	case F32, F16, BF16, Q8_0, Q4_0, Q4_K:
		return true
	}
	return false
}

// ParseType returns the type of a name such as "q8_0", "Q4_K" or "f16"
// (case-insensitive).
func ParseType(name string) (Type, error) {
	for t, tr := range typeTraits {
		if strings.EqualFold(tr.name, name) {
			return t, nil
		}
	}
	return 0, fmt.Errorf("unknown ggml type %q", name)
}
