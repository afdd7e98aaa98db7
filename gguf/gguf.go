// Package gguf reads and writes GGUF files, the model format of ggml and
// llama.cpp: a header, typed metadata (key → value), tensor descriptions,
// then the tensor data, each tensor at an aligned offset.
//
// Reading (Open) maps the file and validates it as untrusted input: every
// count, length and offset is checked against the file's size before
// anything is allocated or sliced, and errors name the file and the field
// or tensor at fault. Writing (Write) streams the tensors through a
// temporary file that is renamed over the target at the end.
//
// Layout (little-endian, versions 2 and 3): "GGUF", uint32 version,
// uint64 tensor count, uint64 metadata count; the metadata entries
// (string key, uint32 value type, value); the tensor infos (string name,
// uint32 dimension count, uint64 dimensions innermost first, uint32 ggml
// type, uint64 offset from the data section); padding to
// general.alignment (default 32); the data section. Strings are a uint64
// byte length and the bytes; arrays a uint32 element type, a uint64
// count and the elements.
package gguf

import (
	"fmt"

	"github.com/dokja/dokja/quant"
)

// Magic is the first four bytes of every GGUF file.
const Magic = "GGUF"

// DefaultAlignment is the data alignment of files without general.alignment.
const DefaultAlignment = 32

// MaxDims is the most dimensions a tensor may have (ggml's GGML_MAX_DIMS).
const MaxDims = 4

// MaxNameLen bounds tensor names. ggml itself stops at 63 bytes; names up
// to this length are read so that the error can come from the caller.
const MaxNameLen = 1024

// maxNesting bounds arrays of arrays.
const maxNesting = 8

// ValueType is the type tag of a metadata value.
type ValueType uint32

// Metadata value types, numbered as in the GGUF specification.
const (
	TypeUint8   ValueType = 0
	TypeInt8    ValueType = 1
	TypeUint16  ValueType = 2
	TypeInt16   ValueType = 3
	TypeUint32  ValueType = 4
	TypeInt32   ValueType = 5
	TypeFloat32 ValueType = 6
	TypeBool    ValueType = 7
	TypeString  ValueType = 8
	TypeArray   ValueType = 9
	TypeUint64  ValueType = 10
	TypeInt64   ValueType = 11
	TypeFloat64 ValueType = 12
)

var valueTypeNames = [...]string{"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "bool", "string", "array", "uint64", "int64", "float64"}

// String returns the type's name ("uint32", "array").
func (t ValueType) String() string {
	if int(t) < len(valueTypeNames) {
		return valueTypeNames[t]
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// size is the encoded size of a scalar of type t (0 for strings and arrays).
func (t ValueType) size() int {
	switch t {
	case TypeUint8, TypeInt8, TypeBool:
		return 1
	case TypeUint16, TypeInt16:
		return 2
	case TypeUint32, TypeInt32, TypeFloat32:
		return 4
	case TypeUint64, TypeInt64, TypeFloat64:
		return 8
	}
	return 0
}

// minSize is the fewest bytes a value of type t can take.
func (t ValueType) minSize() int {
	switch t {
	case TypeString:
		return 8
	case TypeArray:
		return 12
	}
	return t.size()
}

// Array is a metadata array. Values is a slice of the Go type matching
// Elem: []uint8, []int8, []uint16, []int16, []uint32, []int32, []float32,
// []bool, []string, []Array (nested arrays), []uint64, []int64 or
// []float64.
type Array struct {
	Elem   ValueType
	Values any
}

// Len is the number of elements.
func (a Array) Len() int {
	switch v := a.Values.(type) {
	case []uint8:
		return len(v)
	case []int8:
		return len(v)
	case []uint16:
		return len(v)
	case []int16:
		return len(v)
	case []uint32:
		return len(v)
	case []int32:
		return len(v)
	case []float32:
		return len(v)
	case []bool:
		return len(v)
	case []string:
		return len(v)
	case []Array:
		return len(v)
	case []uint64:
		return len(v)
	case []int64:
		return len(v)
	case []float64:
		return len(v)
	}
	return 0
}

// KV is one metadata entry. Value is uint8, int8, uint16, int16, uint32,
// int32, float32, bool, string, Array, uint64, int64 or float64; Write
// also accepts slices of those scalar types (as arrays) and int (as int64).
type KV struct {
	Key   string
	Value any
}

// TensorInfo describes one stored tensor.
type TensorInfo struct {
	Name string
	// Dims are ggml's ne: Dims[0] is the innermost (contiguous) one, so a
	// Hugging Face [out, in] weight has Dims [in, out].
	Dims []int
	Type quant.Type
	// Offset is the tensor's byte offset from the start of the data
	// section; Size its byte length.
	Offset, Size int64
}

// NumElements is the product of the dimensions.
func (t *TensorInfo) NumElements() int {
	n := 1
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// Cols is Dims[0], the length of one stored row.
func (t *TensorInfo) Cols() int {
	if len(t.Dims) == 0 {
		return 1
	}
	return t.Dims[0]
}

// Rows is the product of the outer dimensions (see Cols).
func (t *TensorInfo) Rows() int {
	if c := t.Cols(); c > 0 {
		return t.NumElements() / c
	}
	return 0
}
