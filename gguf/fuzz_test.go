package gguf

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse parses arbitrary bytes: nothing may panic, and whatever Parse
// accepts must be self-consistent (every tensor's bytes inside the file,
// convertible types convert) and survive a Write/Parse round trip with
// the same metadata and tensor bytes.
func FuzzParse(f *testing.F) {
	valid, err := os.ReadFile("testdata/valid.gguf")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	for _, c := range badFiles() {
		f.Add(c.data)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := Parse("fuzz.gguf", b)
		if err != nil {
			return
		}
		for _, info := range g.Tensors {
			raw, err := g.Bytes(info.Name)
			if err != nil || int64(len(raw)) != info.Size {
				t.Fatalf("%q: %d bytes (%v), info %+v", info.Name, len(raw), err, info)
			}
			if info.Type.CanDequantize() && info.NumElements() < 1<<20 {
				vals, err := g.Float32(info.Name)
				if err != nil || len(vals) != info.NumElements() {
					t.Fatalf("Float32(%q): %d values, %v", info.Name, len(vals), err)
				}
			}
		}
		if len(b) > 1<<20 {
			return
		}
		meta, ts, err := FromFile(g)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "rt.gguf")
		if err := Write(path, meta, ts); err != nil {
			t.Fatalf("rewriting an accepted file: %v", err)
		}
		h, err := Open(path)
		if err != nil {
			t.Fatalf("reopening a rewritten file: %v", err)
		}
		defer h.Close()
		if len(h.Metadata) != len(g.Metadata) || len(h.Tensors) != len(g.Tensors) {
			t.Fatalf("round trip: %d/%d entries, %d/%d tensors", len(h.Metadata), len(g.Metadata), len(h.Tensors), len(g.Tensors))
		}
		for _, info := range g.Tensors {
			a, _ := g.Bytes(info.Name)
			c, err := h.Bytes(info.Name)
			if err != nil || !bytes.Equal(a, c) {
				t.Fatalf("round trip: tensor %q differs", info.Name)
			}
		}
	})
}
