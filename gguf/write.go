package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"slices"

	"github.com/dokja/dokja/atomicfile"
	"github.com/dokja/dokja/quant"
)

// Tensor is a tensor to write. Its bytes come from Data, or from Encode
// when Data is nil: Encode is called once, when the tensor's turn comes,
// so that a large model can be converted one tensor at a time.
type Tensor struct {
	Name string
	// Dims are ggml's ne, innermost first (see TensorInfo.Dims).
	Dims   []int
	Type   quant.Type
	Data   []byte
	Encode func() ([]byte, error)
}

// Write creates or atomically replaces a GGUF version 3 file at path with
// the metadata (in order) and tensors (in order, each at a multiple of
// the alignment: general.alignment if meta sets it as a uint32, else 32).
// Names and keys must be unique; each tensor's byte count must match its
// type and dimensions.
func Write(path string, meta []KV, tensors []Tensor) (err error) {
	align := DefaultAlignment
	keys := map[string]bool{}
	for _, kv := range meta {
		if kv.Key == "" || keys[kv.Key] {
			return fmt.Errorf("gguf: write %s: metadata key %q is empty or repeated", path, kv.Key)
		}
		keys[kv.Key] = true
		if kv.Key == "general.alignment" {
			a, ok := kv.Value.(uint32)
			if !ok || a == 0 || a&(a-1) != 0 {
				return fmt.Errorf("gguf: write %s: general.alignment must be a uint32 power of two", path)
			}
			align = int(a)
		}
	}
	names := map[string]bool{}
	sizes := make([]int64, len(tensors))
	offsets := make([]int64, len(tensors))
	var off int64
	for i, t := range tensors {
		if t.Name == "" || names[t.Name] || len(t.Name) > MaxNameLen {
			return fmt.Errorf("gguf: write %s: tensor name %q is empty, too long or repeated", path, t.Name)
		}
		names[t.Name] = true
		if len(t.Dims) == 0 || len(t.Dims) > MaxDims {
			return fmt.Errorf("gguf: write %s: tensor %q has %d dimensions", path, t.Name, len(t.Dims))
		}
		n := 1
		for _, d := range t.Dims {
			if d <= 0 || n > math.MaxInt/d {
				return fmt.Errorf("gguf: write %s: tensor %q has dimensions %v", path, t.Name, t.Dims)
			}
			n *= d
		}
		rb, err := t.Type.RowBytes(t.Dims[0])
		if err != nil {
			return fmt.Errorf("gguf: write %s: tensor %q: %w", path, t.Name, err)
		}
		sizes[i] = int64(rb) * int64(n/t.Dims[0])
		if t.Data == nil && t.Encode == nil {
			return fmt.Errorf("gguf: write %s: tensor %q has no data", path, t.Name)
		}
		if t.Data != nil && int64(len(t.Data)) != sizes[i] {
			return fmt.Errorf("gguf: write %s: tensor %q (%s %v) takes %d bytes, have %d", path, t.Name, t.Type, t.Dims, sizes[i], len(t.Data))
		}
		offsets[i] = off
		off = alignUp(off+sizes[i], int64(align))
	}

	tmp, err := atomicfile.CreateTemp(path)
	if err != nil {
		return fmt.Errorf("gguf: write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			err = fmt.Errorf("gguf: write %s: %w", path, err)
		}
	}()
	cw := &countingWriter{w: bufio.NewWriterSize(tmp, 1<<20)}
	w := &encoder{w: cw}
	w.raw([]byte(Magic))
	w.u32(3)
	w.u64(uint64(len(tensors)))
	w.u64(uint64(len(meta)))
	for _, kv := range meta {
		w.str(kv.Key)
		if err := w.value(kv.Value, true); err != nil {
			return fmt.Errorf("metadata %s: %w", kv.Key, err)
		}
	}
	for i, t := range tensors {
		w.str(t.Name)
		w.u32(uint32(len(t.Dims)))
		for _, d := range t.Dims {
			w.u64(uint64(d))
		}
		w.u32(uint32(t.Type))
		w.u64(uint64(offsets[i]))
	}
	w.pad(align)
	start := cw.n
	for i, t := range tensors {
		data := t.Data
		if data == nil {
			if data, err = t.Encode(); err != nil {
				return fmt.Errorf("tensor %q: %w", t.Name, err)
			}
			if int64(len(data)) != sizes[i] {
				return fmt.Errorf("tensor %q (%s %v): encoded %d bytes, want %d", t.Name, t.Type, t.Dims, len(data), sizes[i])
			}
		}
		if w.err == nil && cw.n-start != offsets[i] {
			return fmt.Errorf("internal error: tensor %q starts at %d, want %d", t.Name, cw.n-start, offsets[i])
		}
		w.raw(data)
		if i < len(tensors)-1 {
			w.pad(align)
		}
	}
	if w.err != nil {
		return w.err
	}
	if err = cw.w.(*bufio.Writer).Flush(); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// encoder writes little-endian fields; the first error sticks.
type encoder struct {
	w   *countingWriter
	err error
	buf [8]byte
}

func (e *encoder) raw(b []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(b)
	}
}

func (e *encoder) u32(v uint32) {
	binary.LittleEndian.PutUint32(e.buf[:], v)
	e.raw(e.buf[:4])
}

func (e *encoder) u64(v uint64) {
	binary.LittleEndian.PutUint64(e.buf[:], v)
	e.raw(e.buf[:8])
}

func (e *encoder) str(s string) {
	e.u64(uint64(len(s)))
	e.raw([]byte(s))
}

func (e *encoder) pad(align int) {
	if r := int(e.w.n % int64(align)); r != 0 {
		e.raw(make([]byte, align-r))
	}
}

// value writes v; with tag, its type tag first.
func (e *encoder) value(v any, tag bool) error {
	t, err := valueType(v)
	if err != nil {
		return err
	}
	if tag {
		e.u32(uint32(t))
	}
	le := binary.LittleEndian
	switch x := v.(type) {
	case uint8:
		e.raw([]byte{x})
	case int8:
		e.raw([]byte{byte(x)})
	case bool:
		b := byte(0)
		if x {
			b = 1
		}
		e.raw([]byte{b})
	case uint16:
		e.raw(le.AppendUint16(nil, x))
	case int16:
		e.raw(le.AppendUint16(nil, uint16(x)))
	case uint32:
		e.u32(x)
	case int32:
		e.u32(uint32(x))
	case float32:
		e.u32(math.Float32bits(x))
	case uint64:
		e.u64(x)
	case int64:
		e.u64(uint64(x))
	case int:
		e.u64(uint64(x))
	case float64:
		e.u64(math.Float64bits(x))
	case string:
		e.str(x)
	case Array:
		return e.array(x)
	default:
		return e.array(Array{Values: v})
	}
	return nil
}

func (e *encoder) array(a Array) error {
	elem, err := elemType(a.Values)
	if err != nil {
		return err
	}
	e.u32(uint32(elem))
	e.u64(uint64(a.Len()))
	switch v := a.Values.(type) {
	case []uint8:
		e.raw(v)
	case []string:
		for _, s := range v {
			e.str(s)
		}
	case []Array:
		for _, x := range v {
			if err := e.array(x); err != nil {
				return err
			}
		}
	default:
		var err error
		forEach(a.Values, func(x any) {
			if err == nil {
				err = e.value(x, false)
			}
		})
		return err
	}
	return nil
}

// forEach calls f with each element of a typed slice.
func forEach(s any, f func(any)) {
	switch v := s.(type) {
	case []int8:
		for _, x := range v {
			f(x)
		}
	case []uint16:
		for _, x := range v {
			f(x)
		}
	case []int16:
		for _, x := range v {
			f(x)
		}
	case []uint32:
		for _, x := range v {
			f(x)
		}
	case []int32:
		for _, x := range v {
			f(x)
		}
	case []float32:
		for _, x := range v {
			f(x)
		}
	case []bool:
		for _, x := range v {
			f(x)
		}
	case []uint64:
		for _, x := range v {
			f(x)
		}
	case []int64:
		for _, x := range v {
			f(x)
		}
	case []float64:
		for _, x := range v {
			f(x)
		}
	}
}

func valueType(v any) (ValueType, error) {
	switch v.(type) {
	case uint8:
		return TypeUint8, nil
	case int8:
		return TypeInt8, nil
	case uint16:
		return TypeUint16, nil
	case int16:
		return TypeInt16, nil
	case uint32:
		return TypeUint32, nil
	case int32:
		return TypeInt32, nil
	case float32:
		return TypeFloat32, nil
	case bool:
		return TypeBool, nil
	case string:
		return TypeString, nil
	case uint64:
		return TypeUint64, nil
	case int64, int:
		return TypeInt64, nil
	case float64:
		return TypeFloat64, nil
	case Array:
		return TypeArray, nil
	}
	if _, err := elemType(v); err == nil {
		return TypeArray, nil
	}
	return 0, fmt.Errorf("unsupported value type %T", v)
}

func elemType(s any) (ValueType, error) {
	switch s.(type) {
	case []uint8:
		return TypeUint8, nil
	case []int8:
		return TypeInt8, nil
	case []uint16:
		return TypeUint16, nil
	case []int16:
		return TypeInt16, nil
	case []uint32:
		return TypeUint32, nil
	case []int32:
		return TypeInt32, nil
	case []float32:
		return TypeFloat32, nil
	case []bool:
		return TypeBool, nil
	case []string:
		return TypeString, nil
	case []Array:
		return TypeArray, nil
	case []uint64:
		return TypeUint64, nil
	case []int64:
		return TypeInt64, nil
	case []float64:
		return TypeFloat64, nil
	}
	return 0, fmt.Errorf("unsupported array type %T", s)
}

// FromFile returns the metadata and tensors of an open file, ready for
// Write (tensor data alias f's mapping).
func FromFile(f *File) ([]KV, []Tensor, error) {
	meta := slices.Clone(f.Metadata)
	ts := make([]Tensor, len(f.Tensors))
	for i, t := range f.Tensors {
		data, err := f.Bytes(t.Name)
		if err != nil {
			return nil, nil, err
		}
		ts[i] = Tensor{Name: t.Name, Dims: slices.Clone(t.Dims), Type: t.Type, Data: data}
	}
	return meta, ts, nil
}
