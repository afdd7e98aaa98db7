package safetensors

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func withLength(header string, data ...byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	return append(append(b, header...), data...)
}

// FuzzOpen opens arbitrary bytes as a file and reads every tensor: nothing
// may panic, and whatever Open accepts must be self-consistent and survive
// a Write/Open round trip unchanged.
func FuzzOpen(f *testing.F) {
	f.Add([]byte{})
	f.Add(withLength(`{}`))
	f.Add(withLength(`{"__metadata__":{"format":"pt"},"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}   `, 0x00, 0x3C, 0x00, 0x7C))
	f.Add(withLength(`{"b":{"dtype":"BF16","shape":[],"data_offsets":[2,4]},"a":{"dtype":"F32","shape":[0,3],"data_offsets":[0,0]}}`, 1, 2, 0x80, 0x3F))
	f.Add(withLength(`{"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},"b":{"dtype":"U8","shape":[1],"data_offsets":[4,5]}}`, make([]byte, 9)...))
	f.Add(withLength(`{"a":{"dtype":"I64","shape":[1099511627776,1099511627776],"data_offsets":[0,8]}}`, make([]byte, 8)...))
	if golden, err := os.ReadFile("testdata/golden.safetensors"); err == nil {
		f.Add(golden)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(dir, "fuzz.safetensors")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		sf, err := Open(path)
		if err != nil {
			return
		}
		defer sf.Close()
		var tensors []Tensor
		for _, name := range sf.Names() {
			info, ok := sf.Info(name)
			if !ok {
				t.Fatalf("Info(%q) missing", name)
			}
			raw, err := sf.Bytes(name)
			if err != nil {
				t.Fatalf("Bytes(%q): %v", name, err)
			}
			if len(raw) != info.Size || info.Size != info.NumElements()*info.DType.Size() {
				t.Fatalf("%q: %d bytes, info %+v", name, len(raw), info)
			}
			vals, err := sf.Float32(name)
			if info.DType.IsFloat() != (err == nil) {
				t.Fatalf("Float32(%q) of %s: %v", name, info.DType, err)
			}
			if err == nil && len(vals) != info.NumElements() {
				t.Fatalf("Float32(%q) has %d values, want %d", name, len(vals), info.NumElements())
			}
			tensors = append(tensors, Tensor{Name: name, DType: info.DType, Shape: info.Shape, Data: raw})
		}
		// Write's encoding, in memory (Write itself would fsync each run).
		header, order, err := buildHeader(tensors, sf.Metadata())
		if err != nil {
			for _, tn := range tensors {
				if tn.Name == "" { // the writer refuses empty names
					return
				}
			}
			t.Fatalf("Write of an accepted file: %v", err)
		}
		var buf bytes.Buffer
		bw := bufio.NewWriter(&buf)
		writeFile(bw, header, order, tensors)
		bw.Flush()
		back := &File{path: "rewritten", buf: buf.Bytes()}
		if err := back.parse(); err != nil {
			t.Fatalf("parsing a rewritten file: %v", err)
		}
		if len(back.Names()) != len(tensors) || len(back.Metadata()) != len(sf.Metadata()) {
			t.Fatalf("rewritten file has %d tensors, %d metadata", len(back.Names()), len(back.Metadata()))
		}
		for _, tn := range tensors {
			got, err := back.Bytes(tn.Name)
			if err != nil || !bytes.Equal(got, tn.Data) {
				t.Fatalf("rewritten %q = %x, %v; want %x", tn.Name, got, err, tn.Data)
			}
			info, _ := back.Info(tn.Name)
			if info.DType != tn.DType || !slices.Equal(info.Shape, tn.Shape) {
				t.Fatalf("rewritten %q is %s %v, want %s %v", tn.Name, info.DType, info.Shape, tn.DType, tn.Shape)
			}
		}
	})
}
