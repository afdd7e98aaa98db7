package safetensors

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/dokja/dokja/mapfile"
)

// MaxHeaderSize is the largest JSON header Open accepts (100 MiB, the
// limit of the reference implementation). It bounds the memory an
// untrusted file can make the parser use.
const MaxHeaderSize = 100 << 20

// metadataKey is the reserved header key holding string metadata.
const metadataKey = "__metadata__"

// mapFile maps a file; tests replace it to exercise the fallback.
var mapFile = mapfile.Map

// ErrNotFound is returned (wrapped) when a tensor name is not in a file.
var ErrNotFound = errors.New("no such tensor")

// ErrClosed is returned (wrapped) when a closed File or Set is used.
var ErrClosed = errors.New("file is closed")

// TensorInfo describes one stored tensor.
type TensorInfo struct {
	Name  string
	DType DType
	// Shape holds the dimensions, outermost first; it is empty for a
	// 0-dimensional (scalar) tensor.
	Shape []int
	// Offsets is the [begin, end) byte range within the data buffer,
	// as written in the header.
	Offsets [2]int
	// Size is the number of bytes, end - begin.
	Size int
}

// NumElements is the product of the dimensions (1 for a scalar).
func (t TensorInfo) NumElements() int {
	if t.DType.Size() == 0 {
		return 0
	}
	return t.Size / t.DType.Size()
}

// File is an open safetensors file. Its methods may be called from several
// goroutines at once, but not concurrently with Close.
type File struct {
	path     string
	mu       sync.RWMutex
	buf      []byte // the whole file; nil once closed
	mapped   bool   // buf comes from mmap
	data     []byte // the data buffer, a suffix of buf
	tensors  map[string]*TensorInfo
	names    []string
	metadata map[string]string
}

// Open maps the safetensors file at path read-only (reading it into memory
// where mapping fails), then parses and validates its header: a bounded
// header length, a JSON object, a known dtype for every tensor, shapes
// whose element count does not overflow, byte ranges that lie inside the
// data buffer, match the shape and do not overlap. The data buffer may
// have holes. Errors name the file and the tensor or field at fault.
func Open(path string) (*File, error) {
	osf, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	defer osf.Close()
	st, err := osf.Stat()
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("safetensors: %s: not a regular file", path)
	}
	size := st.Size()
	if size < 8 {
		return nil, fmt.Errorf("safetensors: %s: file is %d bytes, too short for the 8-byte header length", path, size)
	}
	f := &File{path: path}
	if f.buf, f.mapped, err = mapfile.MapOrRead(osf, size, mapFile); err != nil {
		return nil, fmt.Errorf("safetensors: %s: %w", path, err)
	}
	if err := f.parse(); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// errorf formats an error about the file.
func (f *File) errorf(format string, args ...any) error {
	return fmt.Errorf("safetensors: %s: %s", f.path, fmt.Sprintf(format, args...))
}

// tensorErrorf formats an error about one tensor of the file.
func (f *File) tensorErrorf(name, format string, args ...any) error {
	return fmt.Errorf("safetensors: %s: tensor %s: %s", f.path, quote(name), fmt.Sprintf(format, args...))
}

// quote quotes an untrusted name for an error message, shortening it.
func quote(name string) string {
	if len(name) > 200 {
		return strconv.Quote(name[:200]) + "..."
	}
	return strconv.Quote(name)
}

func (f *File) parse() error {
	if len(f.buf) < 8 {
		return f.errorf("file is %d bytes, too short for the 8-byte header length", len(f.buf))
	}
	n := binary.LittleEndian.Uint64(f.buf)
	if n > MaxHeaderSize {
		return f.errorf("header length %d exceeds the limit of %d bytes", n, MaxHeaderSize)
	}
	if n > uint64(len(f.buf)-8) {
		return f.errorf("header length %d exceeds the %d bytes after the length field", n, len(f.buf)-8)
	}
	header := f.buf[8 : 8+n]
	f.data = f.buf[8+n:]
	if !utf8.Valid(header) {
		return f.errorf("header is not valid UTF-8")
	}
	members, err := readObject(header)
	if err != nil {
		return f.errorf("header: %v", err)
	}
	f.tensors = make(map[string]*TensorInfo, len(members))
	for _, m := range members {
		if m.key == metadataKey {
			if err := f.parseMetadata(m.value); err != nil {
				return err
			}
			continue
		}
		t, err := f.parseTensor(m.key, m.value)
		if err != nil {
			return err
		}
		f.tensors[m.key] = t
		f.names = append(f.names, m.key)
	}
	sort.Strings(f.names)
	return f.checkOverlaps()
}

func (f *File) parseMetadata(raw []byte) error {
	if kind(raw) == "null" {
		return nil
	}
	if k := kind(raw); k != "an object" {
		return f.errorf("%s is %s, not an object", metadataKey, k)
	}
	members, err := readObject(raw)
	if err != nil {
		return f.errorf("%s: %v", metadataKey, err)
	}
	f.metadata = make(map[string]string, len(members))
	for _, m := range members {
		v, err := readString(m.value)
		if err != nil {
			return f.errorf("%s[%s] %v", metadataKey, quote(m.key), err)
		}
		f.metadata[m.key] = v
	}
	return nil
}

func (f *File) parseTensor(name string, raw []byte) (*TensorInfo, error) {
	if k := kind(raw); k != "an object" {
		return nil, f.tensorErrorf(name, "entry is %s, not an object", k)
	}
	members, err := readObject(raw)
	if err != nil {
		return nil, f.tensorErrorf(name, "entry: %v", err)
	}
	var (
		dtype            string
		shape, offsets   []int64
		hasD, hasS, hasO bool
	)
	for _, m := range members {
		var err error
		switch m.key {
		case "dtype":
			dtype, err = readString(m.value)
			hasD = true
		case "shape":
			shape, err = readInts(m.value)
			hasS = true
		case "data_offsets":
			offsets, err = readInts(m.value)
			hasO = true
		default:
			continue // unknown fields are ignored, as by the reference implementation
		}
		if err != nil {
			return nil, f.tensorErrorf(name, "%s %v", m.key, err)
		}
	}
	switch {
	case !hasD:
		return nil, f.tensorErrorf(name, "missing dtype")
	case !hasS:
		return nil, f.tensorErrorf(name, "missing shape")
	case !hasO:
		return nil, f.tensorErrorf(name, "missing data_offsets")
	}
	t := &TensorInfo{Name: name, DType: DType(dtype)}
	if !t.DType.Known() {
		return nil, f.tensorErrorf(name, "unknown dtype %s", quote(dtype))
	}
	t.Shape = make([]int, len(shape))
	numel := uint64(1)
	for i, d := range shape {
		if d < 0 {
			return nil, f.tensorErrorf(name, "shape %v: dimension %d is negative", clipInts(shape), i)
		}
		hi, lo := bits.Mul64(numel, uint64(d))
		if hi != 0 || lo > math.MaxInt || uint64(d) > math.MaxInt {
			return nil, f.tensorErrorf(name, "shape %v: element count overflows", clipInts(shape))
		}
		numel = lo
		t.Shape[i] = int(d)
	}
	hi, nbytes := bits.Mul64(numel, uint64(t.DType.Size()))
	if hi != 0 || nbytes > math.MaxInt {
		return nil, f.tensorErrorf(name, "shape %v of %s: byte size overflows", clipInts(shape), dtype)
	}
	if len(offsets) != 2 {
		return nil, f.tensorErrorf(name, "data_offsets %v has %d elements, want 2", clipInts(offsets), len(offsets))
	}
	begin, end := offsets[0], offsets[1]
	switch {
	case begin < 0 || end < 0:
		return nil, f.tensorErrorf(name, "data_offsets [%d, %d] are negative", begin, end)
	case begin > end:
		return nil, f.tensorErrorf(name, "data_offsets [%d, %d] begin after they end", begin, end)
	case uint64(end) > uint64(len(f.data)):
		return nil, f.tensorErrorf(name, "data_offsets [%d, %d] run past the data buffer of %d bytes", begin, end, len(f.data))
	case uint64(end-begin) != nbytes:
		return nil, f.tensorErrorf(name, "data_offsets [%d, %d] do not match shape %v of %s (%d bytes)", begin, end, clipInts(shape), dtype, nbytes)
	}
	t.Offsets = [2]int{int(begin), int(end)}
	t.Size = int(nbytes)
	return t, nil
}

// clipInts shortens a long shape or offset list for an error message.
func clipInts(v []int64) string {
	if len(v) <= 16 {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(fmt.Sprint(v[:16]), "]") + " ...]"
}

// checkOverlaps refuses tensors whose byte ranges share a byte. Empty
// tensors hold no bytes and cannot overlap anything.
func (f *File) checkOverlaps() error {
	ts := make([]*TensorInfo, 0, len(f.tensors))
	for _, name := range f.names {
		if t := f.tensors[name]; t.Size > 0 {
			ts = append(ts, t)
		}
	}
	slices.SortFunc(ts, func(a, b *TensorInfo) int {
		if a.Offsets[0] != b.Offsets[0] {
			return a.Offsets[0] - b.Offsets[0]
		}
		return strings.Compare(a.Name, b.Name)
	})
	for i := 1; i < len(ts); i++ {
		a, b := ts[i-1], ts[i]
		if b.Offsets[0] < a.Offsets[1] {
			return f.errorf("tensors %s [%d, %d] and %s [%d, %d] overlap",
				quote(a.Name), a.Offsets[0], a.Offsets[1], quote(b.Name), b.Offsets[0], b.Offsets[1])
		}
	}
	return nil
}

// Path is the path the file was opened with.
func (f *File) Path() string { return f.path }

// Names lists the tensor names in sorted order. The caller may modify the
// returned slice.
func (f *File) Names() []string { return slices.Clone(f.names) }

// Info describes the named tensor.
func (f *File) Info(name string) (TensorInfo, bool) {
	t, ok := f.tensors[name]
	if !ok {
		return TensorInfo{}, false
	}
	info := *t
	info.Shape = slices.Clone(t.Shape)
	if info.Shape == nil {
		info.Shape = []int{}
	}
	return info, true
}

// Metadata returns a copy of the header's __metadata__ strings (empty if
// the file has none).
func (f *File) Metadata() map[string]string {
	m := make(map[string]string, len(f.metadata))
	for k, v := range f.metadata {
		m[k] = v
	}
	return m
}

// Bytes returns the stored bytes of the named tensor (little-endian,
// row-major). The slice is a view into the mapped file: it must not be
// modified, and it is valid only until Close.
func (f *File) Bytes(name string) ([]byte, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	t, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	return f.data[t.Offsets[0]:t.Offsets[1]:t.Offsets[1]], nil
}

// Float32 converts the named tensor, which must be F32, F16, BF16 or F64,
// to a new []float32 (F64 values are rounded to nearest, overflowing to
// infinity).
func (f *File) Float32(name string) ([]float32, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	t, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	out, err := toFloat32(t.DType, f.data[t.Offsets[0]:t.Offsets[1]])
	if err != nil {
		return nil, f.tensorErrorf(name, "%v", err)
	}
	return out, nil
}

// lookup finds a tensor; the caller holds f.mu.
func (f *File) lookup(name string) (*TensorInfo, error) {
	if f.buf == nil {
		return nil, fmt.Errorf("safetensors: %s: %w", f.path, ErrClosed)
	}
	t, ok := f.tensors[name]
	if !ok {
		return nil, fmt.Errorf("safetensors: %s: tensor %s: %w", f.path, quote(name), ErrNotFound)
	}
	return t, nil
}

// toFloat32 decodes little-endian elements of a float type.
func toFloat32(dt DType, b []byte) ([]float32, error) {
	switch dt {
	case DTypeF32:
		out := make([]float32, len(b)/4)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		return out, nil
	case DTypeF16:
		out := make([]float32, len(b)/2)
		for i := range out {
			out[i] = Float16ToFloat32(binary.LittleEndian.Uint16(b[2*i:]))
		}
		return out, nil
	case DTypeBF16:
		out := make([]float32, len(b)/2)
		for i := range out {
			out[i] = BFloat16ToFloat32(binary.LittleEndian.Uint16(b[2*i:]))
		}
		return out, nil
	case DTypeF64:
		out := make([]float32, len(b)/8)
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])))
		}
		return out, nil
	}
	return nil, fmt.Errorf("dtype %s is not a floating-point type", dt)
}

// Close unmaps the file. Slices returned by Bytes must not be used
// afterwards. Closing twice is harmless.
func (f *File) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	buf := f.buf
	f.buf, f.data = nil, nil
	if buf != nil && f.mapped {
		if err := mapfile.Unmap(buf); err != nil {
			return fmt.Errorf("safetensors: %s: unmap: %w", f.path, err)
		}
	}
	return nil
}
