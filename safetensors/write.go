package safetensors

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/bits"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/dokja/dokja/atomicfile"
)

// Tensor is a tensor to write: its name, element type, dimensions
// (outermost first, empty for a scalar) and stored bytes (little-endian,
// row-major, exactly the product of the dimensions times the element size).
type Tensor struct {
	Name  string
	DType DType
	Shape []int
	Data  []byte
}

// F32 builds an F32 tensor from data. Write checks that shape matches
// len(data).
func F32(name string, shape []int, data []float32) Tensor {
	b := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return Tensor{Name: name, DType: DTypeF32, Shape: slices.Clone(shape), Data: b}
}

// F16 builds an F16 tensor from data, rounding each value to the nearest
// binary16 (ties to even; see Float32ToFloat16).
func F16(name string, shape []int, data []float32) Tensor {
	b := make([]byte, 2*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint16(b[2*i:], Float32ToFloat16(v))
	}
	return Tensor{Name: name, DType: DTypeF16, Shape: slices.Clone(shape), Data: b}
}

// BF16 builds a BF16 tensor from data, rounding each value to the nearest
// bfloat16 (ties to even; see Float32ToBFloat16).
func BF16(name string, shape []int, data []float32) Tensor {
	b := make([]byte, 2*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint16(b[2*i:], Float32ToBFloat16(v))
	}
	return Tensor{Name: name, DType: DTypeBF16, Shape: slices.Clone(shape), Data: b}
}

// Write creates or atomically replaces the safetensors file at path. The
// header lists metadata (if any) under "__metadata__" and the tensors in
// name order; the data follow in the same order, and the header is padded
// with spaces so that the data buffer starts at a multiple of 8 bytes.
// Tensors are checked first: names must be non-empty, unique, valid UTF-8
// and not "__metadata__"; dtypes known; dimensions non-negative; and the
// data length must match the shape.
func Write(path string, tensors []Tensor, metadata map[string]string) error {
	header, order, err := buildHeader(tensors, metadata)
	if err != nil {
		return fmt.Errorf("safetensors: write %s: %w", path, err)
	}
	err = atomicfile.Write(path, func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 1<<20)
		writeFile(bw, header, order, tensors)
		return bw.Flush()
	})
	if err != nil {
		return fmt.Errorf("safetensors: write %s: %w", path, err)
	}
	return nil
}

// writeFile writes the length, header and data; write errors stick in bw.
func writeFile(bw *bufio.Writer, header []byte, order []int, tensors []Tensor) {
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(header)))
	bw.Write(n[:])
	bw.Write(header)
	for _, i := range order {
		bw.Write(tensors[i].Data)
	}
}

// buildHeader validates the tensors and returns the padded header and the
// order (indices into tensors) in which their data are laid out.
func buildHeader(tensors []Tensor, metadata map[string]string) ([]byte, []int, error) {
	order := make([]int, len(tensors))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return tensors[order[a]].Name < tensors[order[b]].Name })
	for k, i := range order {
		t := &tensors[i]
		switch {
		case t.Name == "":
			return nil, nil, fmt.Errorf("tensor %d has an empty name", i)
		case t.Name == metadataKey:
			return nil, nil, fmt.Errorf("tensor %d: the name %s is reserved", i, metadataKey)
		case !utf8.ValidString(t.Name):
			return nil, nil, fmt.Errorf("tensor %s: name is not valid UTF-8", quote(t.Name))
		case k > 0 && tensors[order[k-1]].Name == t.Name:
			return nil, nil, fmt.Errorf("tensor %s appears twice", quote(t.Name))
		case !t.DType.Known():
			return nil, nil, fmt.Errorf("tensor %s: unknown dtype %s", quote(t.Name), quote(string(t.DType)))
		}
		nbytes := uint64(t.DType.Size())
		for _, d := range t.Shape {
			if d < 0 {
				return nil, nil, fmt.Errorf("tensor %s: shape %v has a negative dimension", quote(t.Name), t.Shape)
			}
			hi, lo := bits.Mul64(nbytes, uint64(d))
			if hi != 0 || lo > math.MaxInt {
				return nil, nil, fmt.Errorf("tensor %s: shape %v: size overflows", quote(t.Name), t.Shape)
			}
			nbytes = lo
		}
		if nbytes != uint64(len(t.Data)) {
			return nil, nil, fmt.Errorf("tensor %s: shape %v of %s needs %d bytes, data has %d",
				quote(t.Name), t.Shape, t.DType, nbytes, len(t.Data))
		}
	}

	var h bytes.Buffer
	h.WriteByte('{')
	if len(metadata) > 0 {
		keys := make([]string, 0, len(metadata))
		for k, v := range metadata {
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				return nil, nil, fmt.Errorf("metadata %s: key or value is not valid UTF-8", quote(k))
			}
			keys = append(keys, k)
		}
		sort.Strings(keys)
		writeJSONString(&h, metadataKey)
		h.WriteString(":{")
		for i, k := range keys {
			if i > 0 {
				h.WriteByte(',')
			}
			writeJSONString(&h, k)
			h.WriteByte(':')
			writeJSONString(&h, metadata[k])
		}
		h.WriteByte('}')
		if len(order) > 0 {
			h.WriteByte(',')
		}
	}
	offset := 0
	for k, i := range order {
		t := &tensors[i]
		if k > 0 {
			h.WriteByte(',')
		}
		writeJSONString(&h, t.Name)
		h.WriteString(`:{"dtype":`)
		writeJSONString(&h, string(t.DType))
		h.WriteString(`,"shape":[`)
		for j, d := range t.Shape {
			if j > 0 {
				h.WriteByte(',')
			}
			h.WriteString(strconv.Itoa(d))
		}
		end := offset + len(t.Data)
		fmt.Fprintf(&h, `],"data_offsets":[%d,%d]}`, offset, end)
		offset = end
	}
	h.WriteByte('}')
	if pad := (8 - (8+h.Len())%8) % 8; pad > 0 {
		h.WriteString(strings.Repeat(" ", pad))
	}
	if h.Len() > MaxHeaderSize {
		return nil, nil, fmt.Errorf("header of %d bytes exceeds the limit of %d", h.Len(), MaxHeaderSize)
	}
	return h.Bytes(), order, nil
}

// writeJSONString writes s as a JSON string, without HTML escaping.
func writeJSONString(buf *bytes.Buffer, s string) {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	enc.Encode(s) // cannot fail for a string
	buf.Truncate(buf.Len() - 1)
}
