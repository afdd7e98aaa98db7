// Package safetensors reads and writes Hugging Face safetensors files, the
// checkpoint format of Llama and Qwen2 models.
//
// A file is an 8-byte little-endian header length N, N bytes of UTF-8 JSON
// describing the tensors (dtype, shape, byte range), then the data buffer.
// Files are treated as untrusted input: [Open] checks every header field
// before anything is read, and errors name the file and the tensor.
//
// Files are memory-mapped read-only where the platform allows, so opening a
// multi-gigabyte checkpoint costs no copy; [File.Float32] converts a tensor
// into a fresh []float32 and [File.Bytes] gives the raw stored bytes.
// Sharded checkpoints (model.safetensors.index.json plus shards) are read
// with [OpenSharded]. [Write] writes a file atomically through atomicfile.
package safetensors

// DType is a tensor element type, spelled as in safetensors headers
// ("F32", "BF16", ...).
type DType string

// The element types whose elements are whole bytes. Safetensors also
// defines sub-byte types (F4, F6_E2M3, F6_E3M2); files using them are
// refused as unknown.
const (
	DTypeBOOL   DType = "BOOL"
	DTypeU8     DType = "U8"
	DTypeI8     DType = "I8"
	DTypeF8E5M2 DType = "F8_E5M2"
	DTypeF8E4M3 DType = "F8_E4M3"
	DTypeF8E8M0 DType = "F8_E8M0"
	DTypeI16    DType = "I16"
	DTypeU16    DType = "U16"
	DTypeF16    DType = "F16"
	DTypeBF16   DType = "BF16"
	DTypeI32    DType = "I32"
	DTypeU32    DType = "U32"
	DTypeF32    DType = "F32"
	DTypeC64    DType = "C64"
	DTypeF64    DType = "F64"
	DTypeI64    DType = "I64"
	DTypeU64    DType = "U64"
)

var dtypeSizes = map[DType]int{
	DTypeBOOL: 1, DTypeU8: 1, DTypeI8: 1, DTypeF8E5M2: 1, DTypeF8E4M3: 1, DTypeF8E8M0: 1,
	DTypeI16: 2, DTypeU16: 2, DTypeF16: 2, DTypeBF16: 2,
	DTypeI32: 4, DTypeU32: 4, DTypeF32: 4,
	DTypeC64: 8, DTypeF64: 8, DTypeI64: 8, DTypeU64: 8,
}

// Size is the number of bytes of one element, or 0 for an unknown type.
func (d DType) Size() int { return dtypeSizes[d] }

// Known reports whether d is a type this package can read and write.
func (d DType) Known() bool { return d.Size() > 0 }

// IsFloat reports whether [File.Float32] can convert tensors of type d
// (F16, BF16, F32, F64).
func (d DType) IsFloat() bool {
	switch d {
	case DTypeF16, DTypeBF16, DTypeF32, DTypeF64:
		return true
	}
	return false
}
