package gguf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"os"
	"sort"
	"strconv"
	"sync"

	"github.com/dokja/dokja/mapfile"
	"github.com/dokja/dokja/quant"
)

// mapFile maps a file; tests replace it to exercise the fallback.
var mapFile = mapfile.Map

// ErrNotFound is returned (wrapped) for a missing tensor or key.
var ErrNotFound = errors.New("not found")

// File is an open GGUF file. Its methods may be called from several
// goroutines at once, but not concurrently with Close.
type File struct {
	// Path names the file in errors.
	Path string
	// Version is the format version (2 or 3).
	Version uint32
	// Metadata lists the entries in file order.
	Metadata []KV
	// Tensors lists the tensor infos in file order.
	Tensors []TensorInfo
	// Alignment is general.alignment, or DefaultAlignment.
	Alignment int
	// DataOffset is where the data section starts in the file.
	DataOffset int64

	meta    map[string]int
	tensors map[string]int

	mu     sync.RWMutex
	buf    []byte
	mapped bool
}

// Open maps the GGUF file at path read-only (reading it into memory where
// mapping fails) and parses and validates it (see Parse).
func Open(path string) (*File, error) {
	osf, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	defer osf.Close()
	st, err := osf.Stat()
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	buf, mapped, err := mapfile.MapOrRead(osf, st.Size(), mapFile)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f, err := Parse(path, buf)
	if err != nil {
		if mapped {
			mapfile.Unmap(buf)
		}
		return nil, err
	}
	f.mapped = mapped
	return f, nil
}

// Parse validates buf as a GGUF file; name is used in errors. The File
// keeps buf (tensor data are slices of it). Checks: magic and version (2
// or 3); counts that fit in the bytes left (every entry takes some bytes,
// so no count can make Parse allocate more than the file's size allows);
// string lengths, array sizes and nesting depth; known value types; keys
// and tensor names unique and valid; general.alignment a power of two;
// tensor dimensions positive with an element count that does not
// overflow and a first dimension that is a whole number of the type's
// blocks; offsets aligned, inside the file and not overlapping.
func Parse(name string, buf []byte) (*File, error) {
	f := &File{Path: name, buf: buf, Alignment: DefaultAlignment, meta: map[string]int{}, tensors: map[string]int{}}
	r := &reader{buf: buf, name: name}
	if len(buf) < 4 || string(buf[:4]) != Magic {
		n := min(len(buf), 4)
		return nil, fmt.Errorf("%s: not a GGUF file (starts with %q, want %q)", name, buf[:n], Magic)
	}
	r.off = 4
	f.Version = r.u32("version")
	if r.err == nil && f.Version != 2 && f.Version != 3 {
		if f.Version == 1 {
			return nil, fmt.Errorf("%s: GGUF version 1 is not supported (want 2 or 3)", name)
		}
		if bits.ReverseBytes32(f.Version) <= 3 {
			return nil, fmt.Errorf("%s: version %d: this is a big-endian GGUF file; only little-endian files are supported", name, bits.ReverseBytes32(f.Version))
		}
		return nil, fmt.Errorf("%s: unknown GGUF version %d (want 2 or 3)", name, f.Version)
	}
	nTensors := r.u64("tensor count")
	nKV := r.u64("metadata count")
	if r.err != nil {
		return nil, r.err
	}
	// Each metadata entry takes at least 13 bytes, each tensor info 28.
	if nKV > uint64(r.left()/13) {
		return nil, fmt.Errorf("%s: metadata count %d cannot fit in the %d bytes left", name, nKV, r.left())
	}
	if nTensors > uint64(r.left()/28) {
		return nil, fmt.Errorf("%s: tensor count %d cannot fit in the %d bytes left", name, nTensors, r.left())
	}
	f.Metadata = make([]KV, 0, nKV)
	for i := range int(nKV) {
		key := r.str(fmt.Sprintf("metadata[%d].key", i))
		if r.err != nil {
			return nil, r.err
		}
		what := fmt.Sprintf("metadata %s", quote(key))
		if key == "" {
			return nil, fmt.Errorf("%s: metadata[%d]: empty key", name, i)
		}
		if _, dup := f.meta[key]; dup {
			return nil, fmt.Errorf("%s: %s: key appears twice", name, what)
		}
		typ := ValueType(r.u32(what + " type"))
		v := r.value(what, typ, 0)
		if r.err != nil {
			return nil, r.err
		}
		f.meta[key] = len(f.Metadata)
		f.Metadata = append(f.Metadata, KV{key, v})
	}
	if v, ok := f.Get("general.alignment"); ok {
		a, ok := v.(uint32)
		if !ok {
			return nil, fmt.Errorf("%s: general.alignment is %s, want uint32", name, typeOf(v))
		}
		if a == 0 || a&(a-1) != 0 || a > 1<<30 {
			return nil, fmt.Errorf("%s: general.alignment %d is not a power of two", name, a)
		}
		f.Alignment = int(a)
	}
	f.Tensors = make([]TensorInfo, 0, nTensors)
	for i := range int(nTensors) {
		t, err := r.tensorInfo(i)
		if err != nil {
			return nil, err
		}
		if _, dup := f.tensors[t.Name]; dup {
			return nil, fmt.Errorf("%s: tensor %s appears twice", name, quote(t.Name))
		}
		f.tensors[t.Name] = len(f.Tensors)
		f.Tensors = append(f.Tensors, t)
	}
	start := alignUp(int64(r.off), int64(f.Alignment))
	if nTensors > 0 && start > int64(len(buf)) {
		return nil, fmt.Errorf("%s: data section would start at byte %d, past the end of the file (%d bytes)", name, start, len(buf))
	}
	f.DataOffset = start
	dataLen := int64(len(buf)) - start
	for i := range f.Tensors {
		t := &f.Tensors[i]
		if t.Offset%int64(f.Alignment) != 0 {
			return nil, fmt.Errorf("%s: tensor %s: offset %d is not a multiple of the alignment %d", name, quote(t.Name), t.Offset, f.Alignment)
		}
		if t.Offset > dataLen || t.Size > dataLen-t.Offset {
			return nil, fmt.Errorf("%s: tensor %s: data [%d, %d) extends past the end of the file (data section is %d bytes from byte %d)",
				name, quote(t.Name), t.Offset, t.Offset+t.Size, max(dataLen, 0), start)
		}
	}
	order := make([]int, len(f.Tensors))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return f.Tensors[order[a]].Offset < f.Tensors[order[b]].Offset })
	for i := 1; i < len(order); i++ {
		a, b := &f.Tensors[order[i-1]], &f.Tensors[order[i]]
		if a.Size > 0 && b.Size > 0 && a.Offset+a.Size > b.Offset {
			return nil, fmt.Errorf("%s: tensors %s [%d, %d) and %s [%d, %d) overlap", name, quote(a.Name), a.Offset, a.Offset+a.Size, quote(b.Name), b.Offset, b.Offset+b.Size)
		}
	}
	return f, nil
}

func alignUp(n, a int64) int64 { return (n + a - 1) / a * a }

// Close releases the file's mapping. Data returned earlier by Bytes must
// not be used afterwards.
func (f *File) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	buf := f.buf
	f.buf = nil
	if f.mapped && buf != nil {
		f.mapped = false
		return mapfile.Unmap(buf)
	}
	return nil
}

// Get returns a metadata value.
func (f *File) Get(key string) (any, bool) {
	i, ok := f.meta[key]
	if !ok {
		return nil, false
	}
	return f.Metadata[i].Value, true
}

// String returns a string metadata value.
func (f *File) String(key string) (string, error) {
	v, ok := f.Get(key)
	if !ok {
		return "", fmt.Errorf("%s: metadata %s: %w", f.Path, key, ErrNotFound)
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s: metadata %s is %s, want string", f.Path, key, typeOf(v))
	}
	return s, nil
}

// Uint returns an integer metadata value of any integer type, which must
// be non-negative.
func (f *File) Uint(key string) (uint64, error) {
	v, ok := f.Get(key)
	if !ok {
		return 0, fmt.Errorf("%s: metadata %s: %w", f.Path, key, ErrNotFound)
	}
	var n uint64
	neg := false
	switch x := v.(type) {
	case uint8:
		n = uint64(x)
	case uint16:
		n = uint64(x)
	case uint32:
		n = uint64(x)
	case uint64:
		n = x
	case int8:
		n, neg = uint64(x), x < 0
	case int16:
		n, neg = uint64(x), x < 0
	case int32:
		n, neg = uint64(x), x < 0
	case int64:
		n, neg = uint64(x), x < 0
	default:
		return 0, fmt.Errorf("%s: metadata %s is %s, want an integer", f.Path, key, typeOf(v))
	}
	if neg {
		return 0, fmt.Errorf("%s: metadata %s is negative (%v)", f.Path, key, v)
	}
	return n, nil
}

// Float returns a numeric metadata value as float64.
func (f *File) Float(key string) (float64, error) {
	v, ok := f.Get(key)
	if !ok {
		return 0, fmt.Errorf("%s: metadata %s: %w", f.Path, key, ErrNotFound)
	}
	switch x := v.(type) {
	case float32:
		return float64(x), nil
	case float64:
		return x, nil
	}
	if n, err := f.Uint(key); err == nil {
		return float64(n), nil
	}
	return 0, fmt.Errorf("%s: metadata %s is %s, want a number", f.Path, key, typeOf(v))
}

// Bool returns a bool metadata value.
func (f *File) Bool(key string) (bool, error) {
	v, ok := f.Get(key)
	if !ok {
		return false, fmt.Errorf("%s: metadata %s: %w", f.Path, key, ErrNotFound)
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("%s: metadata %s is %s, want bool", f.Path, key, typeOf(v))
	}
	return b, nil
}

// Array returns an array metadata value.
func (f *File) Array(key string) (Array, error) {
	v, ok := f.Get(key)
	if !ok {
		return Array{}, fmt.Errorf("%s: metadata %s: %w", f.Path, key, ErrNotFound)
	}
	a, ok := v.(Array)
	if !ok {
		return Array{}, fmt.Errorf("%s: metadata %s is %s, want an array", f.Path, key, typeOf(v))
	}
	return a, nil
}

// Strings returns an array of strings.
func (f *File) Strings(key string) ([]string, error) {
	a, err := f.Array(key)
	if err != nil {
		return nil, err
	}
	s, ok := a.Values.([]string)
	if !ok {
		return nil, fmt.Errorf("%s: metadata %s is an array of %s, want strings", f.Path, key, a.Elem)
	}
	return s, nil
}

// Ints returns an array of any integer type as int64s.
func (f *File) Ints(key string) ([]int64, error) {
	a, err := f.Array(key)
	if err != nil {
		return nil, err
	}
	out := make([]int64, a.Len())
	switch v := a.Values.(type) {
	case []uint8:
		for i, x := range v {
			out[i] = int64(x)
		}
	case []int8:
		for i, x := range v {
			out[i] = int64(x)
		}
	case []uint16:
		for i, x := range v {
			out[i] = int64(x)
		}
	case []int16:
		for i, x := range v {
			out[i] = int64(x)
		}
	case []uint32:
		for i, x := range v {
			out[i] = int64(x)
		}
	case []int32:
		for i, x := range v {
			out[i] = int64(x)
		}
	case []int64:
		copy(out, v)
	case []uint64:
		for i, x := range v {
			if x > math.MaxInt64 {
				return nil, fmt.Errorf("%s: metadata %s[%d] = %d overflows int64", f.Path, key, i, x)
			}
			out[i] = int64(x)
		}
	default:
		return nil, fmt.Errorf("%s: metadata %s is an array of %s, want integers", f.Path, key, a.Elem)
	}
	return out, nil
}

// Tensor returns a tensor's info.
func (f *File) Tensor(name string) (*TensorInfo, bool) {
	i, ok := f.tensors[name]
	if !ok {
		return nil, false
	}
	return &f.Tensors[i], true
}

// Bytes returns a tensor's stored bytes, a slice of the mapped file:
// read-only, valid until Close.
func (f *File) Bytes(name string) ([]byte, error) {
	t, ok := f.Tensor(name)
	if !ok {
		return nil, fmt.Errorf("%s: tensor %s: %w", f.Path, quote(name), ErrNotFound)
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.buf == nil && t.Size > 0 {
		return nil, fmt.Errorf("%s: file is closed", f.Path)
	}
	start := f.DataOffset + t.Offset
	return f.buf[start : start+t.Size : start+t.Size], nil
}

// Float32 returns a tensor's values converted to float32 (F32, F16,
// BF16, Q8_0, Q4_0, Q4_K, Q6_K).
func (f *File) Float32(name string) ([]float32, error) {
	t, ok := f.Tensor(name)
	if !ok {
		return nil, fmt.Errorf("%s: tensor %s: %w", f.Path, quote(name), ErrNotFound)
	}
	if !t.Type.CanDequantize() {
		return nil, fmt.Errorf("%s: tensor %s: type %s cannot be converted to float32", f.Path, quote(name), t.Type)
	}
	raw, err := f.Bytes(name)
	if err != nil {
		return nil, err
	}
	out := make([]float32, t.NumElements())
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.buf == nil && len(out) > 0 {
		return nil, fmt.Errorf("%s: file is closed", f.Path)
	}
	if err := quant.Dequantize(t.Type, out, raw); err != nil {
		return nil, fmt.Errorf("%s: tensor %s: %w", f.Path, quote(name), err)
	}
	return out, nil
}

// quote quotes an untrusted name for an error message, shortening it.
func quote(name string) string {
	if len(name) > 200 {
		return strconv.Quote(name[:200]) + "..."
	}
	return strconv.Quote(name)
}

func typeOf(v any) string {
	switch v.(type) {
	case Array:
		return "an array"
	case string:
		return "a string"
	}
	return fmt.Sprintf("%T", v)
}

// reader decodes little-endian fields with bounds checks; the first
// failure sticks in err and later reads return zeros.
type reader struct {
	buf  []byte
	off  int
	name string
	err  error
}

func (r *reader) left() int { return len(r.buf) - r.off }

func (r *reader) take(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > r.left() {
		r.err = fmt.Errorf("%s: %s: needs %d bytes at offset %d, but the file ends at %d", r.name, what, n, r.off, len(r.buf))
		return nil
	}
	b := r.buf[r.off : r.off+n]
	r.off += n
	return b
}

func (r *reader) u32(what string) uint32 {
	if b := r.take(4, what); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (r *reader) u64(what string) uint64 {
	if b := r.take(8, what); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func (r *reader) str(what string) string {
	n := r.u64(what + " length")
	if r.err != nil {
		return ""
	}
	if n > uint64(r.left()) {
		r.err = fmt.Errorf("%s: %s: string of %d bytes at offset %d, but only %d bytes are left", r.name, what, n, r.off, r.left())
		return ""
	}
	return string(r.take(int(n), what))
}

// value reads one value of type t.
func (r *reader) value(what string, t ValueType, depth int) any {
	if r.err != nil {
		return nil
	}
	switch t {
	case TypeString:
		return r.str(what)
	case TypeArray:
		if depth >= maxNesting {
			r.err = fmt.Errorf("%s: %s: arrays nested deeper than %d", r.name, what, maxNesting)
			return nil
		}
		return r.array(what, depth+1)
	}
	sz := t.size()
	if sz == 0 {
		r.err = fmt.Errorf("%s: %s: unknown value type %d", r.name, what, uint32(t))
		return nil
	}
	b := r.take(sz, what)
	if b == nil {
		return nil
	}
	switch t {
	case TypeUint8:
		return b[0]
	case TypeInt8:
		return int8(b[0])
	case TypeBool:
		if b[0] > 1 {
			r.err = fmt.Errorf("%s: %s: bool byte is %d, want 0 or 1", r.name, what, b[0])
			return nil
		}
		return b[0] == 1
	case TypeUint16:
		return binary.LittleEndian.Uint16(b)
	case TypeInt16:
		return int16(binary.LittleEndian.Uint16(b))
	case TypeUint32:
		return binary.LittleEndian.Uint32(b)
	case TypeInt32:
		return int32(binary.LittleEndian.Uint32(b))
	case TypeFloat32:
		return math.Float32frombits(binary.LittleEndian.Uint32(b))
	case TypeUint64:
		return binary.LittleEndian.Uint64(b)
	case TypeInt64:
		return int64(binary.LittleEndian.Uint64(b))
	case TypeFloat64:
		return math.Float64frombits(binary.LittleEndian.Uint64(b))
	}
	return nil
}

func (r *reader) array(what string, depth int) any {
	elem := ValueType(r.u32(what + " element type"))
	n := r.u64(what + " length")
	if r.err != nil {
		return nil
	}
	ms := elem.minSize()
	if ms == 0 {
		r.err = fmt.Errorf("%s: %s: unknown array element type %d", r.name, what, uint32(elem))
		return nil
	}
	if n > uint64(r.left()/ms) {
		r.err = fmt.Errorf("%s: %s: array of %d %s values cannot fit in the %d bytes left", r.name, what, n, elem, r.left())
		return nil
	}
	count := int(n)
	switch elem {
	case TypeString:
		out := make([]string, count)
		for i := range out {
			out[i] = r.str(what)
			if r.err != nil {
				return nil
			}
		}
		return Array{elem, out}
	case TypeArray:
		if depth >= maxNesting {
			r.err = fmt.Errorf("%s: %s: arrays nested deeper than %d", r.name, what, maxNesting)
			return nil
		}
		out := make([]Array, count)
		for i := range out {
			v, _ := r.array(fmt.Sprintf("%s[%d]", what, i), depth+1).(Array)
			if r.err != nil {
				return nil
			}
			out[i] = v
		}
		return Array{elem, out}
	}
	b := r.take(count*ms, what)
	if b == nil {
		return nil
	}
	le := binary.LittleEndian
	switch elem {
	case TypeUint8:
		return Array{elem, append([]uint8(nil), b...)}
	case TypeInt8:
		out := make([]int8, count)
		for i := range out {
			out[i] = int8(b[i])
		}
		return Array{elem, out}
	case TypeBool:
		out := make([]bool, count)
		for i := range out {
			if b[i] > 1 {
				r.err = fmt.Errorf("%s: %s[%d]: bool byte is %d, want 0 or 1", r.name, what, i, b[i])
				return nil
			}
			out[i] = b[i] == 1
		}
		return Array{elem, out}
	case TypeUint16:
		out := make([]uint16, count)
		for i := range out {
			out[i] = le.Uint16(b[2*i:])
		}
		return Array{elem, out}
	case TypeInt16:
		out := make([]int16, count)
		for i := range out {
			out[i] = int16(le.Uint16(b[2*i:]))
		}
		return Array{elem, out}
	case TypeUint32:
		out := make([]uint32, count)
		for i := range out {
			out[i] = le.Uint32(b[4*i:])
		}
		return Array{elem, out}
	case TypeInt32:
		out := make([]int32, count)
		for i := range out {
			out[i] = int32(le.Uint32(b[4*i:]))
		}
		return Array{elem, out}
	case TypeFloat32:
		out := make([]float32, count)
		for i := range out {
			out[i] = math.Float32frombits(le.Uint32(b[4*i:]))
		}
		return Array{elem, out}
	case TypeUint64:
		out := make([]uint64, count)
		for i := range out {
			out[i] = le.Uint64(b[8*i:])
		}
		return Array{elem, out}
	case TypeInt64:
		out := make([]int64, count)
		for i := range out {
			out[i] = int64(le.Uint64(b[8*i:]))
		}
		return Array{elem, out}
	case TypeFloat64:
		out := make([]float64, count)
		for i := range out {
			out[i] = math.Float64frombits(le.Uint64(b[8*i:]))
		}
		return Array{elem, out}
	}
	return nil
}

func (r *reader) tensorInfo(i int) (TensorInfo, error) {
	what := fmt.Sprintf("tensor[%d]", i)
	name := r.str(what + " name")
	if r.err != nil {
		return TensorInfo{}, r.err
	}
	if name == "" {
		return TensorInfo{}, fmt.Errorf("%s: %s: empty name", r.name, what)
	}
	if len(name) > MaxNameLen {
		return TensorInfo{}, fmt.Errorf("%s: %s: name of %d bytes exceeds %d", r.name, what, len(name), MaxNameLen)
	}
	what = "tensor " + quote(name)
	nd := r.u32(what + " dimension count")
	if r.err != nil {
		return TensorInfo{}, r.err
	}
	if nd == 0 || nd > MaxDims {
		return TensorInfo{}, fmt.Errorf("%s: %s: %d dimensions (want 1 to %d)", r.name, what, nd, MaxDims)
	}
	t := TensorInfo{Name: name, Dims: make([]int, nd)}
	numel := uint64(1)
	for d := range t.Dims {
		v := r.u64(what + " dimension")
		if r.err != nil {
			return TensorInfo{}, r.err
		}
		if v == 0 || v > math.MaxInt64 {
			return TensorInfo{}, fmt.Errorf("%s: %s: dimension %d is %d", r.name, what, d, v)
		}
		hi, lo := bits.Mul64(numel, v)
		if hi != 0 || lo > math.MaxInt64 {
			return TensorInfo{}, fmt.Errorf("%s: %s: element count of dimensions %v overflows", r.name, what, t.Dims[:d])
		}
		numel = lo
		t.Dims[d] = int(v)
	}
	t.Type = quant.Type(r.u32(what + " type"))
	off := r.u64(what + " offset")
	if r.err != nil {
		return TensorInfo{}, r.err
	}
	if !t.Type.Known() {
		return TensorInfo{}, fmt.Errorf("%s: %s: unknown ggml type %d", r.name, what, uint32(t.Type))
	}
	if t.Dims[0]%t.Type.BlockSize() != 0 {
		return TensorInfo{}, fmt.Errorf("%s: %s: first dimension %d is not a multiple of the %s block size %d", r.name, what, t.Dims[0], t.Type, t.Type.BlockSize())
	}
	hi, size := bits.Mul64(numel/uint64(t.Type.BlockSize()), uint64(t.Type.BlockBytes()))
	if hi != 0 || size > math.MaxInt64 || off > math.MaxInt64 {
		return TensorInfo{}, fmt.Errorf("%s: %s: size or offset overflows", r.name, what)
	}
	t.Offset, t.Size = int64(off), int64(size)
	return t, nil
}
