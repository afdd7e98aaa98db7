package gguf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/dokja/dokja/mapfile"
	"github.com/dokja/dokja/quant"
)

// sampleMeta has a value of every type, arrays of each, and nested arrays.
func sampleMeta() []KV {
	return []KV{
		{"general.architecture", "llama"},
		{"u8", uint8(200)}, {"i8", int8(-5)}, {"u16", uint16(60000)}, {"i16", int16(-300)},
		{"u32", uint32(4e9)}, {"i32", int32(-2e9)}, {"f32", float32(1.5)}, {"bool", true},
		{"u64", uint64(1 << 60)}, {"i64", int64(-1 << 60)}, {"f64", math.Pi}, {"str", "안녕 GGUF"},
		{"a.u8", Array{TypeUint8, []uint8{1, 2}}}, {"a.i8", Array{TypeInt8, []int8{-1}}},
		{"a.u16", Array{TypeUint16, []uint16{7}}}, {"a.i16", Array{TypeInt16, []int16{-7, 8}}},
		{"a.u32", Array{TypeUint32, []uint32{9}}}, {"a.i32", Array{TypeInt32, []int32{-9, 3, 4}}},
		{"a.f32", Array{TypeFloat32, []float32{0.25}}}, {"a.bool", Array{TypeBool, []bool{true, false}}},
		{"a.str", Array{TypeString, []string{"a", "", "Ġb"}}}, {"a.u64", Array{TypeUint64, []uint64{1 << 63}}},
		{"a.i64", Array{TypeInt64, []int64{-3}}}, {"a.f64", Array{TypeFloat64, []float64{-0.5}}},
		{"a.empty", Array{TypeString, []string{}}},
		{"a.nested", Array{TypeArray, []Array{{TypeInt32, []int32{1, 2}}, {TypeString, []string{"x"}}, {TypeArray, []Array{{TypeBool, []bool{false}}}}}}},
		{"general.alignment", uint32(64)},
	}
}

func sampleTensors() []Tensor {
	f32 := make([]float32, 2*3)
	for i := range f32 {
		f32[i] = float32(i) - 2.5
	}
	w := make([]float32, 4*64)
	for i := range w {
		w[i] = float32(math.Sin(float64(i)))
	}
	enc := func(t quant.Type, x []float32) []byte {
		b, err := quant.Quantize(t, nil, x)
		if err != nil {
			panic(err)
		}
		return b
	}
	kw := make([]float32, 256*2)
	for i := range kw {
		kw[i] = float32(math.Cos(float64(i) * 0.37))
	}
	return []Tensor{
		{Name: "a", Dims: []int{3, 2}, Type: quant.F32, Data: enc(quant.F32, f32)},
		{Name: "b", Dims: []int{64, 4}, Type: quant.F16, Data: enc(quant.F16, w)},
		{Name: "c", Dims: []int{64, 2, 2}, Type: quant.Q8_0, Encode: func() ([]byte, error) { return enc(quant.Q8_0, w), nil }},
		{Name: "d", Dims: []int{64, 4}, Type: quant.Q4_0, Data: enc(quant.Q4_0, w)},
		{Name: "e", Dims: []int{256, 2}, Type: quant.Q4_K, Data: enc(quant.Q4_K, kw)},
		{Name: "one", Dims: []int{1}, Type: quant.F32, Data: enc(quant.F32, []float32{7})},
	}
}

func writeSample(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "m.gguf")
	if err := Write(path, sampleMeta(), sampleTensors()); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestWriteReadRoundTrip(t *testing.T) {
	path := writeSample(t)
	for _, mapped := range []bool{true, false} {
		if !mapped {
			mapFile = func(*os.File, int) ([]byte, error) { return nil, errors.New("no mmap") }
		}
		f, err := Open(path)
		mapFile = mapfile.Map
		if err != nil {
			t.Fatal(err)
		}
		if f.Version != 3 || f.Alignment != 64 || f.DataOffset%64 != 0 {
			t.Errorf("version %d alignment %d data offset %d", f.Version, f.Alignment, f.DataOffset)
		}
		if !reflect.DeepEqual(f.Metadata, sampleMeta()) {
			t.Errorf("metadata:\n got %#v\nwant %#v", f.Metadata, sampleMeta())
		}
		for _, want := range sampleTensors() {
			info, ok := f.Tensor(want.Name)
			if !ok {
				t.Fatalf("tensor %q missing", want.Name)
			}
			if info.Offset%64 != 0 || !reflect.DeepEqual(info.Dims, want.Dims) || info.Type != want.Type {
				t.Errorf("%q: %+v", want.Name, info)
			}
			data := want.Data
			if data == nil {
				data, _ = want.Encode()
			}
			got, err := f.Bytes(want.Name)
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("%q: bytes differ (%v)", want.Name, err)
			}
			vals, err := f.Float32(want.Name)
			if err != nil || len(vals) != info.NumElements() {
				t.Errorf("%q: Float32: %d values, %v", want.Name, len(vals), err)
			}
		}
		if s, err := f.String("general.architecture"); err != nil || s != "llama" {
			t.Errorf("String: %q %v", s, err)
		}
		if n, err := f.Uint("u16"); err != nil || n != 60000 {
			t.Errorf("Uint: %d %v", n, err)
		}
		if _, err := f.Uint("i8"); err == nil {
			t.Error("Uint of a negative: no error")
		}
		if v, err := f.Float("f32"); err != nil || v != 1.5 {
			t.Errorf("Float: %g %v", v, err)
		}
		if v, err := f.Ints("a.i32"); err != nil || !reflect.DeepEqual(v, []int64{-9, 3, 4}) {
			t.Errorf("Ints: %v %v", v, err)
		}
		if _, err := f.String("missing"); !errors.Is(err, ErrNotFound) {
			t.Errorf("missing key: %v", err)
		}
		if _, err := f.Strings("a.i32"); err == nil {
			t.Error("Strings of int32s: no error")
		}
		f.Close()
		if _, err := f.Bytes("a"); err == nil {
			t.Error("Bytes after Close: no error")
		}
	}
	// Rewriting what was read gives the same file.
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	meta, ts, err := FromFile(f)
	if err != nil {
		t.Fatal(err)
	}
	path2 := filepath.Join(t.TempDir(), "copy.gguf")
	if err := Write(path2, meta, ts); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(path)
	b, _ := os.ReadFile(path2)
	if !bytes.Equal(a, b) {
		t.Error("rewritten file differs")
	}
}

// header builds the start of a file by hand.
type header struct{ bytes.Buffer }

func (h *header) u32(v uint32) *header { binary.Write(h, binary.LittleEndian, v); return h }
func (h *header) u64(v uint64) *header { binary.Write(h, binary.LittleEndian, v); return h }
func (h *header) str(s string) *header { h.u64(uint64(len(s))); h.WriteString(s); return h }

func start(version uint32, tensors, kvs uint64) *header {
	h := &header{}
	h.WriteString("GGUF")
	return h.u32(version).u64(tensors).u64(kvs)
}

// badFiles are malformed files and the error each must give.
func badFiles() map[string]struct {
	data []byte
	want string
} {
	valid, err := os.ReadFile("testdata/valid.gguf")
	if err != nil {
		panic(err)
	}
	tensor := func(h *header, name string, dims []uint64, typ uint32, off uint64) *header {
		h.str(name).u32(uint32(len(dims)))
		for _, d := range dims {
			h.u64(d)
		}
		return h.u32(typ).u64(off)
	}
	pad := func(h *header, n int) []byte {
		b := h.Bytes()
		for len(b)%32 != 0 {
			b = append(b, 0)
		}
		return append(b, make([]byte, n)...)
	}
	return map[string]struct {
		data []byte
		want string
	}{
		"empty":            {nil, "not a GGUF file"},
		"bad magic":        {[]byte("GGUG\x03\x00\x00\x00"), "not a GGUF file"},
		"version 1":        {start(1, 0, 0).Bytes(), "version 1 is not supported"},
		"big-endian":       {[]byte("GGUF\x00\x00\x00\x03"), "big-endian"},
		"truncated":        {valid[:len(valid)/2], "past the end of the file"},
		"truncated header": {valid[:20], "the file ends"},
		"huge kv count":    {start(3, 0, 1<<60).Bytes(), "metadata count 1152921504606846976 cannot fit"},
		"huge tensors":     {start(3, 1<<40, 0).Bytes(), "tensor count 1099511627776 cannot fit"},
		"huge string":      {append(start(3, 0, 1).u64(1<<62).Bytes(), make([]byte, 20)...), "string of 4611686018427387904 bytes"},
		"huge array":       {start(3, 0, 1).str("k").u32(9).u32(4).u64(1 << 50).Bytes(), "array of 1125899906842624 uint32 values cannot fit"},
		"bad value type":   {start(3, 0, 1).str("k").u32(13).Bytes(), "unknown value type 13"},
		"bad bool":         {start(3, 0, 1).str("k").u32(7).u32(2).Bytes(), "bool byte is 2"},
		"duplicate key":    {start(3, 0, 2).str("k").u32(4).u32(0).str("k").u32(4).u32(0).Bytes(), `"k": key appears twice`},
		"bad alignment":    {start(3, 0, 1).str("general.alignment").u32(4).u32(48).Bytes(), "not a power of two"},
		"alignment type":   {start(3, 0, 1).str("general.alignment").u32(10).u64(32).Bytes(), "want uint32"},
		"deep nesting": {func() []byte {
			h := start(3, 0, 1).str("k").u32(9)
			for range 20 {
				h.u32(9).u64(1)
			}
			return h.u32(0).u64(0).Bytes()
		}(), "nested deeper"},
		"past end": {pad(tensor(start(3, 1, 0), "blk.0.attn_q.weight", []uint64{32, 2}, 0, 0), 100),
			`tensor "blk.0.attn_q.weight": data [0, 256) extends past the end of the file`},
		"unaligned offset": {pad(tensor(start(3, 1, 0), "t", []uint64{4}, 0, 4), 64), "not a multiple of the alignment"},
		"overlap": {pad(tensor(tensor(start(3, 2, 0), "a", []uint64{16}, 0, 0), "b", []uint64{8}, 0, 32), 128),
			`tensors "a" [0, 64) and "b" [32, 64) overlap`},
		"duplicate tensor": {pad(tensor(tensor(start(3, 2, 0), "a", []uint64{8}, 0, 0), "a", []uint64{8}, 0, 32), 64), `tensor "a" appears twice`},
		"zero dim":         {pad(tensor(start(3, 1, 0), "t", []uint64{0}, 0, 0), 0), "dimension 0 is 0"},
		"five dims":        {pad(tensor(start(3, 1, 0), "t", []uint64{1, 1, 1, 1, 1}, 0, 0), 0), "5 dimensions"},
		"overflow":         {pad(tensor(start(3, 1, 0), "t", []uint64{1 << 32, 1 << 32}, 0, 0), 0), "overflows"},
		"unknown type":     {pad(tensor(start(3, 1, 0), "t", []uint64{32}, 4, 0), 0), "unknown ggml type 4"},
		"partial block":    {pad(tensor(start(3, 1, 0), "t", []uint64{33}, 8, 0), 64), "not a multiple of the q8_0 block size 32"},
		"empty name":       {pad(tensor(start(3, 1, 0), "", []uint64{1}, 0, 0), 0), "empty name"},
	}
}

func TestParseRejectsBadFiles(t *testing.T) {
	for name, c := range badFiles() {
		_, err := Parse("model.gguf", c.data)
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "model.gguf: ") {
			t.Errorf("%s: error %q does not say %q", name, err, c.want)
		}
	}
}

func TestValidFixture(t *testing.T) {
	f, err := Open("testdata/valid.gguf")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if len(f.Tensors) != len(sampleTensors()) {
		t.Fatalf("%d tensors", len(f.Tensors))
	}
}

func TestWriteChecks(t *testing.T) {
	dir := t.TempDir()
	for name, c := range map[string]struct {
		meta []KV
		ts   []Tensor
	}{
		"dup key":    {[]KV{{"a", uint8(1)}, {"a", uint8(2)}}, nil},
		"bad value":  {[]KV{{"a", struct{}{}}}, nil},
		"size":       {nil, []Tensor{{Name: "t", Dims: []int{4}, Type: quant.F32, Data: make([]byte, 15)}}},
		"block":      {nil, []Tensor{{Name: "t", Dims: []int{33}, Type: quant.Q8_0, Data: make([]byte, 34)}}},
		"dup tensor": {nil, []Tensor{{Name: "t", Dims: []int{1}, Type: quant.F32, Data: make([]byte, 4)}, {Name: "t", Dims: []int{1}, Type: quant.F32, Data: make([]byte, 4)}}},
		"encode":     {nil, []Tensor{{Name: "t", Dims: []int{1}, Type: quant.F32, Encode: func() ([]byte, error) { return nil, errors.New("boom") }}}},
	} {
		path := filepath.Join(dir, "x.gguf")
		if err := Write(path, c.meta, c.ts); err == nil {
			t.Errorf("%s: no error", name)
		}
		if _, err := os.Stat(path); err == nil {
			t.Errorf("%s: file written", name)
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 0 {
			t.Errorf("%s: left %v", name, entries)
		}
	}
}

// TestWriteFixture regenerates testdata/valid.gguf when asked.
func TestWriteFixture(t *testing.T) {
	if os.Getenv("DOKJA_WRITE_FIXTURES") == "" {
		t.Skip("set DOKJA_WRITE_FIXTURES=1 to rewrite testdata/valid.gguf")
	}
	if err := Write("testdata/valid.gguf", sampleMeta(), sampleTensors()); err != nil {
		t.Fatal(err)
	}
}
