package safetensors

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/dokja/dokja/mapfile"
)

// rawFile writes an 8-byte length, header and data to a new file.
func rawFile(t testing.TB, header string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "model.safetensors")
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	b = append(b, data...)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustOpen(t testing.TB, path string) *File {
	t.Helper()
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func sameFloats(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// interesting float32 values, then random ones.
func testValues(n int, r *rand.Rand) []float32 {
	special := []float32{0, float32(math.Copysign(0, -1)), 1, -1, 0.1, 65504, 1e-7, 3e38,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 1e-40}
	out := make([]float32, n)
	for i := range out {
		if i < len(special) && n > 3 {
			out[i] = special[i]
		} else {
			out[i] = float32(r.NormFloat64() * 3)
		}
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	shapes := [][]int{{}, {0}, {3, 0, 2}, {1}, {7}, {3, 5}, {2, 3, 5}, {1, 1, 1, 1, 3}, {13, 1}}
	r := rand.New(rand.NewPCG(5, 6))
	type want struct {
		info  TensorInfo
		data  []byte
		float []float32 // nil for non-float dtypes
	}
	var tensors []Tensor
	wants := map[string]want{}
	for si, shape := range shapes {
		n := 1
		for _, d := range shape {
			n *= d
		}
		vals := testValues(n, r)
		f64 := make([]byte, 8*n)
		f64vals := make([]float32, n)
		for i, v := range vals {
			x := float64(v) * (1 + 1e-9) // not exact in float32: exercises rounding
			binary.LittleEndian.PutUint64(f64[8*i:], math.Float64bits(x))
			f64vals[i] = float32(x)
		}
		f16vals := make([]float32, n)
		bf16vals := make([]float32, n)
		for i, v := range vals {
			f16vals[i] = Float16ToFloat32(Float32ToFloat16(v))
			bf16vals[i] = BFloat16ToFloat32(Float32ToBFloat16(v))
		}
		ints := make([]byte, 8*n)
		for i := range ints {
			ints[i] = byte(r.Uint32())
		}
		for _, tc := range []struct {
			t     Tensor
			float []float32
		}{
			{F32("f32."+string(rune('a'+si)), shape, vals), vals},
			{F16("f16."+string(rune('a'+si)), shape, vals), f16vals},
			{BF16("bf16."+string(rune('a'+si)), shape, vals), bf16vals},
			{Tensor{"f64." + string(rune('a'+si)), DTypeF64, shape, f64}, f64vals},
			{Tensor{"i64." + string(rune('a'+si)), DTypeI64, shape, ints}, nil},
			{Tensor{"u8." + string(rune('a'+si)), DTypeU8, shape, ints[:n]}, nil},
		} {
			tensors = append(tensors, tc.t)
			wants[tc.t.Name] = want{
				info:  TensorInfo{Name: tc.t.Name, DType: tc.t.DType, Shape: slices.Clone(shape), Size: len(tc.t.Data)},
				data:  tc.t.Data,
				float: tc.float,
			}
		}
	}
	// Shuffle so that Write has to sort.
	r.Shuffle(len(tensors), func(i, j int) { tensors[i], tensors[j] = tensors[j], tensors[i] })
	meta := map[string]string{"format": "pt", "ünïcode <&>": "a\"b\\c\n"}
	path := filepath.Join(t.TempDir(), "rt.safetensors")
	if err := Write(path, tensors, meta); err != nil {
		t.Fatal(err)
	}
	f := mustOpen(t, path)

	var names []string
	for n := range wants {
		names = append(names, n)
	}
	slices.Sort(names)
	if got := f.Names(); !slices.Equal(got, names) {
		t.Fatalf("Names() = %v, want %v", got, names)
	}
	if got := f.Metadata(); !reflect.DeepEqual(got, meta) {
		t.Errorf("Metadata() = %q, want %q", got, meta)
	}
	for _, name := range names {
		w := wants[name]
		info, ok := f.Info(name)
		if !ok {
			t.Fatalf("Info(%q) not found", name)
		}
		info.Offsets = [2]int{}
		if !reflect.DeepEqual(info, w.info) {
			t.Errorf("Info(%q) = %+v, want %+v", name, info, w.info)
		}
		if info.NumElements() != w.info.Size/w.info.DType.Size() {
			t.Errorf("%s: NumElements() = %d", name, info.NumElements())
		}
		b, err := f.Bytes(name)
		if err != nil || string(b) != string(w.data) {
			t.Errorf("Bytes(%q) = %x, %v; want %x", name, b, err, w.data)
		}
		fl, err := f.Float32(name)
		if w.float == nil {
			if err == nil {
				t.Errorf("Float32(%q) of %s: no error", name, info.DType)
			}
			continue
		}
		if err != nil || !sameFloats(fl, w.float) {
			t.Errorf("Float32(%q) = %v, %v; want %v", name, fl, err, w.float)
		}
	}

	// Layout: data start 8-aligned, header keys and data in name order.
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(raw)
	if (8+n)%8 != 0 {
		t.Errorf("data buffer starts at %d, not a multiple of 8", 8+n)
	}
	header := string(raw[8 : 8+n])
	if strings.TrimRight(header, " ") != strings.TrimSpace(header) || !strings.HasSuffix(strings.TrimRight(header, " "), "}") {
		t.Errorf("header is not an object padded with spaces: %q", header)
	}
	last, prevEnd := -1, 0
	for _, name := range names {
		key, _ := json.Marshal(name)
		i := strings.Index(header, string(key)+":")
		if i < last {
			t.Errorf("header key %s is out of order", key)
		}
		last = i
		info, _ := f.Info(name)
		if info.Offsets[0] != prevEnd {
			t.Errorf("%s starts at %d, want %d (name order, no holes)", name, info.Offsets[0], prevEnd)
		}
		prevEnd = info.Offsets[1]
	}
	if want := len(raw) - 8 - int(n); prevEnd != want {
		t.Errorf("tensors end at %d, data buffer is %d bytes", prevEnd, want)
	}
	if strings.Index(header, `"__metadata__"`) != 1 {
		t.Errorf("__metadata__ is not the first key: %q", header[:40])
	}
}

func TestWriteEmpty(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty.safetensors")
	if err := Write(path, nil, nil); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	if want := "\x08\x00\x00\x00\x00\x00\x00\x00{}      "; string(raw) != want {
		t.Errorf("file = %q, want %q", raw, want)
	}
	f := mustOpen(t, path)
	if len(f.Names()) != 0 || len(f.Metadata()) != 0 {
		t.Errorf("Names() = %v, Metadata() = %v", f.Names(), f.Metadata())
	}
}

type goldenTensor struct {
	DType       string   `json:"dtype"`
	Shape       []int    `json:"shape"`
	DataOffsets [2]int   `json:"data_offsets"`
	F32Bits     []uint32 `json:"f32_bits"`
	Ints        []int64  `json:"ints"`
}

type golden struct {
	Metadata    map[string]string       `json:"metadata"`
	Names       []string                `json:"names"`
	Tensors     map[string]goldenTensor `json:"tensors"`
	F16Rounding [][2]uint32             `json:"f16_rounding"`
}

func readGolden(t *testing.T) golden {
	t.Helper()
	raw, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

// testdata/golden.safetensors was written by hand by make_golden.py
// (numpy, struct, json), with unsorted header keys, padding and a hole.
func TestGolden(t *testing.T) {
	g := readGolden(t)
	f := mustOpen(t, "testdata/golden.safetensors")
	if got := f.Names(); !slices.Equal(got, g.Names) {
		t.Errorf("Names() = %q, want %q", got, g.Names)
	}
	if got := f.Metadata(); !reflect.DeepEqual(got, g.Metadata) {
		t.Errorf("Metadata() = %q, want %q", got, g.Metadata)
	}
	if len(g.Tensors) < 10 {
		t.Fatalf("golden.json lists %d tensors", len(g.Tensors))
	}
	for name, want := range g.Tensors {
		info, ok := f.Info(name)
		if !ok {
			t.Errorf("tensor %q missing", name)
			continue
		}
		if string(info.DType) != want.DType || !slices.Equal(info.Shape, want.Shape) || info.Offsets != want.DataOffsets {
			t.Errorf("Info(%q) = %+v, want %+v", name, info, want)
		}
		b, err := f.Bytes(name)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case want.F32Bits != nil:
			got, err := f.Float32(name)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want.F32Bits) {
				t.Errorf("Float32(%q) has %d values, want %d", name, len(got), len(want.F32Bits))
				continue
			}
			for i, v := range got {
				if math.Float32bits(v) != want.F32Bits[i] {
					t.Errorf("Float32(%q)[%d] = %g (%#08x), want %#08x", name, i, v, math.Float32bits(v), want.F32Bits[i])
				}
			}
		case want.Ints != nil:
			size := info.DType.Size()
			if len(b) != size*len(want.Ints) {
				t.Errorf("Bytes(%q) has %d bytes, want %d values of %d", name, len(b), len(want.Ints), size)
				continue
			}
			for i, w := range want.Ints {
				var v int64
				switch size {
				case 8:
					v = int64(binary.LittleEndian.Uint64(b[8*i:]))
				case 4:
					v = int64(int32(binary.LittleEndian.Uint32(b[4*i:])))
				case 1:
					v = int64(b[i])
				}
				if v != w {
					t.Errorf("%s[%d] = %d, want %d", name, i, v, w)
				}
			}
		default:
			if len(b) != 0 {
				t.Errorf("%s: no expected values but %d bytes", name, len(b))
			}
		}
	}
}

// Float32ToFloat16 agrees with numpy's float32 -> float16 cast.
func TestFloat16MatchesNumpy(t *testing.T) {
	g := readGolden(t)
	if len(g.F16Rounding) < 100 {
		t.Fatalf("golden.json has %d rounding probes", len(g.F16Rounding))
	}
	for _, p := range g.F16Rounding {
		f := math.Float32frombits(p[0])
		if got := Float32ToFloat16(f); uint32(got) != p[1] {
			t.Errorf("Float32ToFloat16(%g = %#08x) = %#04x, numpy gives %#04x", f, p[0], got, p[1])
		}
	}
}

func TestOpenAccepts(t *testing.T) {
	tests := []struct {
		name   string
		header string
		data   []byte
		check  func(t *testing.T, f *File)
	}{
		{"empty object", `{}`, nil, nil},
		{"padded header", `{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}       `, []byte{1, 2}, nil},
		{"null metadata", `{"__metadata__":null}`, nil, nil},
		{"unknown field ignored", `{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"extra":[1]}}`, []byte{9}, nil},
		{"hole and trailing bytes", `{"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, []byte{0, 7, 0, 0}, func(t *testing.T, f *File) {
			if b, _ := f.Bytes("a"); string(b) != "\x07" {
				t.Errorf("Bytes = %q", b)
			}
		}},
		{"empty tensor inside another", `{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[0,5],"data_offsets":[2,2]}}`, make([]byte, 4), func(t *testing.T, f *File) {
			if v, err := f.Float32("b"); err != nil || len(v) != 0 {
				t.Errorf("Float32(b) = %v, %v", v, err)
			}
		}},
		{"scalar", `{"s":{"dtype":"BF16","shape":[],"data_offsets":[0,2]}}`, []byte{0x80, 0x3F}, func(t *testing.T, f *File) {
			info, _ := f.Info("s")
			if info.Shape == nil || len(info.Shape) != 0 || info.NumElements() != 1 {
				t.Errorf("Info = %+v", info)
			}
			if v, err := f.Float32("s"); err != nil || len(v) != 1 || v[0] != 1 {
				t.Errorf("Float32 = %v, %v", v, err)
			}
		}},
		{"zero dim before huge dims", `{"z":{"dtype":"F32","shape":[0,1073741824,1073741824],"data_offsets":[0,0]}}`, nil, nil},
		{"empty name", `{"":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, []byte{1}, nil},
		{"unaligned data", `{"x":{"dtype":"F32","shape":[1],"data_offsets":[1,5]}}`, []byte{0, 0, 0, 0x80, 0x3F}, func(t *testing.T, f *File) {
			if v, err := f.Float32("x"); err != nil || v[0] != 1 {
				t.Errorf("Float32 = %v, %v", v, err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := mustOpen(t, rawFile(t, tc.header, tc.data))
			if tc.check != nil {
				tc.check(t, f)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	u8 := func(offsets string) string {
		return `{"a":{"dtype":"U8","shape":[2],"data_offsets":` + offsets + `}}`
	}
	tests := []struct {
		name   string
		file   []byte // if set, the whole file
		header string
		data   []byte
		want   string
	}{
		{name: "empty file", file: []byte{}, want: "file is 0 bytes, too short"},
		{name: "truncated length", file: []byte{2, 0, 0}, want: "file is 3 bytes, too short"},
		{name: "header length beyond limit", file: binary.LittleEndian.AppendUint64(nil, 200<<20), want: "header length 209715200 exceeds the limit"},
		{name: "header length beyond file", file: append(binary.LittleEndian.AppendUint64(nil, 100), "{}"...), want: "header length 100 exceeds the 2 bytes"},
		{name: "huge header length", file: binary.LittleEndian.AppendUint64(nil, math.MaxUint64), want: "exceeds the limit"},
		{name: "truncated data", header: u8("[0,2]"), data: []byte{1}, want: `tensor "a": data_offsets [0, 2] run past the data buffer of 1 bytes`},
		{name: "empty header", header: "", want: "header: invalid JSON"},
		{name: "bad JSON", header: `{"a":`, want: "header: invalid JSON"},
		{name: "bad JSON syntax", header: `{"a" 1}`, want: "header: invalid JSON at byte"},
		{name: "not an object", header: `[1,2]`, want: "header: not a JSON object (found an array)"},
		{name: "null header", header: `null`, want: "not a JSON object (found null)"},
		{name: "trailing garbage", header: `{} {}`, want: "after the JSON object"},
		{name: "invalid UTF-8", header: "{\"\xff\":1}", want: "header is not valid UTF-8"},
		{name: "duplicate tensor", header: `{"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}`, want: `duplicate key "a"`},
		{name: "entry not object", header: `{"a":[1]}`, want: `tensor "a": entry is an array, not an object`},
		{name: "unknown dtype", header: `{"a":{"dtype":"F4","shape":[2],"data_offsets":[0,1]}}`, data: []byte{0}, want: `tensor "a": unknown dtype "F4"`},
		{name: "lowercase dtype", header: `{"a":{"dtype":"f32","shape":[],"data_offsets":[0,4]}}`, data: make([]byte, 4), want: `unknown dtype "f32"`},
		{name: "dtype not string", header: `{"a":{"dtype":5,"shape":[],"data_offsets":[0,1]}}`, want: `tensor "a": dtype is a number, not a string`},
		{name: "dtype null", header: `{"a":{"dtype":null,"shape":[],"data_offsets":[0,1]}}`, want: `dtype is null, not a string`},
		{name: "missing dtype", header: `{"a":{"shape":[2],"data_offsets":[0,2]}}`, want: `tensor "a": missing dtype`},
		{name: "missing shape", header: `{"a":{"dtype":"U8","data_offsets":[0,2]}}`, want: `tensor "a": missing shape`},
		{name: "missing offsets", header: `{"a":{"dtype":"U8","shape":[2]}}`, want: `tensor "a": missing data_offsets`},
		{name: "duplicate field", header: `{"a":{"dtype":"U8","dtype":"F32","shape":[],"data_offsets":[0,1]}}`, data: []byte{0}, want: `duplicate key "dtype"`},
		{name: "shape null", header: `{"a":{"dtype":"U8","shape":null,"data_offsets":[0,1]}}`, want: `shape is null, not an array`},
		{name: "negative dim", header: `{"a":{"dtype":"U8","shape":[2,-3],"data_offsets":[0,1]}}`, want: `tensor "a": shape [2 -3]: dimension 1 is negative`},
		{name: "fractional dim", header: `{"a":{"dtype":"U8","shape":[1.5],"data_offsets":[0,1]}}`, want: `shape element 0 (1.5) is not an integer`},
		{name: "null dim", header: `{"a":{"dtype":"U8","shape":[null],"data_offsets":[0,1]}}`, want: `shape element 0 is null, not an integer`},
		{name: "quoted dim", header: `{"a":{"dtype":"U8","shape":["1"],"data_offsets":[0,1]}}`, want: `shape element 0 is a string, not an integer`},
		{name: "dim out of int64", header: `{"a":{"dtype":"U8","shape":[99999999999999999999],"data_offsets":[0,1]}}`, want: `shape element 0 (99999999999999999999) is out of range`},
		{name: "overflow dims", header: `{"a":{"dtype":"U8","shape":[1099511627776,1099511627776],"data_offsets":[0,1]}}`, want: `tensor "a": shape [1099511627776 1099511627776]: element count overflows`},
		{name: "overflow before zero dim", header: `{"a":{"dtype":"U8","shape":[1099511627776,1099511627776,0],"data_offsets":[0,0]}}`, want: `element count overflows`},
		{name: "byte size overflow", header: `{"a":{"dtype":"F64","shape":[` + strconv.Itoa(math.MaxInt/4) + `],"data_offsets":[0,1]}}`, want: `tensor "a": shape [` + strconv.Itoa(math.MaxInt/4) + `] of F64: byte size overflows`},
		{name: "offsets count", header: u8("[0]"), want: `tensor "a": data_offsets [0] has 1 elements, want 2`},
		{name: "offsets not array", header: u8(`"0,2"`), want: `data_offsets is a string, not an array`},
		{name: "negative offset", header: u8("[-2,0]"), data: []byte{1, 2}, want: `data_offsets [-2, 0] are negative`},
		{name: "offsets reversed", header: u8("[2,0]"), data: []byte{1, 2}, want: `data_offsets [2, 0] begin after they end`},
		{name: "offset out of range", header: u8("[4,6]"), data: []byte{1, 2, 3, 4}, want: `data_offsets [4, 6] run past the data buffer of 4 bytes`},
		{name: "huge offset", header: u8("[0,100000000000000000000]"), data: []byte{1, 2}, want: `data_offsets element 1 (100000000000000000000) is out of range`},
		{name: "size mismatch", header: u8("[0,3]"), data: []byte{1, 2, 3}, want: `tensor "a": data_offsets [0, 3] do not match shape [2] of U8 (2 bytes)`},
		{name: "overlap", header: `{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"I16","shape":[1],"data_offsets":[1,3]}}`, data: []byte{1, 2, 3}, want: `tensors "a" [0, 2] and "b" [1, 3] overlap`},
		{name: "same range twice", header: `{"b":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}`, data: []byte{1, 2}, want: `tensors "a" [0, 2] and "b" [0, 2] overlap`},
		{name: "metadata not object", header: `{"__metadata__":["x"]}`, want: `__metadata__ is an array, not an object`},
		{name: "metadata value not string", header: `{"__metadata__":{"k":1}}`, want: `__metadata__["k"] is a number, not a string`},
		{name: "metadata duplicate key", header: `{"__metadata__":{"k":"1","k":"2"}}`, want: `__metadata__: duplicate key "k"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var path string
			if tc.file != nil {
				path = filepath.Join(t.TempDir(), "bad.safetensors")
				if err := os.WriteFile(path, tc.file, 0o644); err != nil {
					t.Fatal(err)
				}
			} else {
				path = rawFile(t, tc.header, tc.data)
			}
			f, err := Open(path)
			if err == nil {
				f.Close()
				t.Fatalf("Open succeeded, want error containing %q", tc.want)
			}
			msg := err.Error()
			t.Log(msg)
			if !strings.Contains(msg, tc.want) {
				t.Errorf("error %q does not contain %q", msg, tc.want)
			}
			if !strings.HasPrefix(msg, "safetensors: "+path+": ") {
				t.Errorf("error %q does not start with the file name", msg)
			}
		})
	}
}

// The message asked for by the format's users, in full.
func TestOpenErrorMessage(t *testing.T) {
	path := rawFile(t, `{"model.layers.0.mlp.up_proj.weight":{"dtype":"F32","shape":[3,5],"data_offsets":[0,12]}}`, make([]byte, 12))
	_, err := Open(path)
	want := "safetensors: " + path + `: tensor "model.layers.0.mlp.up_proj.weight": data_offsets [0, 12] do not match shape [3 5] of F32 (60 bytes)`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v\nwant    %s", err, want)
	}
}

func TestOpenMissingAndDir(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(filepath.Join(dir, "nope.safetensors")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open(missing) = %v, want ErrNotExist", err)
	}
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("Open(dir) = %v", err)
	}
}

func TestLookupErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.safetensors")
	err := Write(path, []Tensor{
		{Name: "ids", DType: DTypeI32, Shape: []int{2}, Data: make([]byte, 8)},
		F32("w", []int{1}, []float32{2}),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Float32("nope"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `tensor "nope"`) {
		t.Errorf("Float32(nope) = %v", err)
	}
	if _, err := f.Bytes("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Bytes(nope) = %v", err)
	}
	if _, ok := f.Info("nope"); ok {
		t.Error("Info(nope) found")
	}
	if _, err := f.Float32("ids"); err == nil || !strings.Contains(err.Error(), `tensor "ids": dtype I32 is not a floating-point type`) {
		t.Errorf("Float32(ids) = %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := f.Float32("w"); !errors.Is(err, ErrClosed) {
		t.Errorf("Float32 after Close = %v", err)
	}
	if _, err := f.Bytes("w"); !errors.Is(err, ErrClosed) {
		t.Errorf("Bytes after Close = %v", err)
	}
}

// When mmap fails, Open reads the file instead.
func TestOpenWithoutMmap(t *testing.T) {
	saved := mapFile
	mapFile = func(*os.File, int) ([]byte, error) { return nil, errors.New("no mmap here") }
	defer func() { mapFile = saved }()
	path := filepath.Join(t.TempDir(), "m.safetensors")
	if err := Write(path, []Tensor{F16("h", []int{2}, []float32{1, -0.5})}, nil); err != nil {
		t.Fatal(err)
	}
	f := mustOpen(t, path)
	if f.mapped {
		t.Error("file is mapped")
	}
	if v, err := f.Float32("h"); err != nil || !slices.Equal(v, []float32{1, -0.5}) {
		t.Errorf("Float32 = %v, %v", v, err)
	}
}

func TestOpenIsMapped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.safetensors")
	if err := Write(path, []Tensor{F32("x", nil, []float32{1})}, nil); err != nil {
		t.Fatal(err)
	}
	f := mustOpen(t, path)
	if !f.mapped && mapfile.Supported {
		t.Error("file was read, not mapped")
	}
}

func TestWriteErrors(t *testing.T) {
	ok := F32("ok", []int{1}, []float32{1})
	tests := []struct {
		name    string
		tensors []Tensor
		meta    map[string]string
		want    string
	}{
		{"empty name", []Tensor{F32("", []int{1}, []float32{1})}, nil, "tensor 0 has an empty name"},
		{"reserved name", []Tensor{ok, F32("__metadata__", []int{1}, []float32{1})}, nil, "the name __metadata__ is reserved"},
		{"duplicate", []Tensor{ok, F32("b", nil, []float32{1}), ok}, nil, `tensor "ok" appears twice`},
		{"invalid UTF-8 name", []Tensor{F32("a\xff", []int{1}, []float32{1})}, nil, "name is not valid UTF-8"},
		{"unknown dtype", []Tensor{{Name: "x", DType: "F4", Data: []byte{1}}}, nil, `tensor "x": unknown dtype "F4"`},
		{"empty dtype", []Tensor{{Name: "x", Data: []byte{1}}}, nil, `tensor "x": unknown dtype ""`},
		{"short data", []Tensor{F32("x", []int{2, 3}, []float32{1, 2, 3, 4, 5})}, nil, `tensor "x": shape [2 3] of F32 needs 24 bytes, data has 20`},
		{"long data", []Tensor{BF16("x", []int{}, []float32{1, 2})}, nil, `tensor "x": shape [] of BF16 needs 2 bytes, data has 4`},
		{"negative dim", []Tensor{F32("x", []int{-1}, nil)}, nil, `tensor "x": shape [-1] has a negative dimension`},
		{"overflow", []Tensor{F32("x", []int{math.MaxInt / 2, 3}, nil)}, nil, "size overflows"},
		{"bad metadata", []Tensor{ok}, map[string]string{"k": "\xff"}, `metadata "k": key or value is not valid UTF-8`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "out.safetensors")
			err := Write(path, tc.tensors, tc.meta)
			if err == nil {
				t.Fatalf("Write succeeded, want error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "safetensors: write "+path+": ") {
				t.Errorf("error %q does not name the file and contain %q", err, tc.want)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("Write left files behind: %v", entries)
			}
		})
	}
}

// Errors quote untrusted names and lists shortened, not in full.
func TestErrorsClipLongInput(t *testing.T) {
	long := strings.Repeat("x", 5000)
	dims := strings.Repeat("1,", 1000) + "-1"
	for _, header := range []string{
		`{"` + long + `":{"dtype":"` + long + `","shape":[],"data_offsets":[0,0]}}`,
		`{"a":{"dtype":"U8","shape":[` + dims + `],"data_offsets":[0,0]}}`,
		`{"a":{"dtype":"U8","shape":[1` + strings.Repeat("0", 3000) + `],"data_offsets":[0,0]}}`,
	} {
		_, err := Open(rawFile(t, header, nil))
		if err == nil {
			t.Fatal("Open succeeded")
		}
		if len(err.Error()) > 700 {
			t.Errorf("error of %d bytes: %.100s...", len(err.Error()), err)
		}
	}
}
