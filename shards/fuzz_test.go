package shards

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// FuzzOpen opens arbitrary bytes as a shard and reads it: nothing may
// panic, errors must name the file, and whatever Open accepts must be
// self-consistent, read the same whole or in pieces, and survive a
// Writer/Open round trip. The seed corpus (testdata/fuzz/FuzzOpen) holds a
// valid file of each width, a truncated one, a bad magic, a bad width, a
// wrong size and a bad id.
func FuzzOpen(f *testing.F) {
	f.Add([]byte{})
	f.Add(rawShard(Magic, 1, 2, 10, 5, 5, 2, u16s(5, 1, 2, 5, 3)))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(dir, "fuzz.tok")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := Open(path)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "shards: "+path+": ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		defer s.Close()
		w := int64(s.Width())
		if (w != 2 && w != 4) || s.Vocab() < 1 || s.Separator() < 0 || s.Separator() >= s.Vocab() ||
			int64(len(b)) != HeaderSize+s.Len()*w || s.Docs() > s.Len() || (s.Len() > 0) != (s.Docs() > 0) {
			t.Fatalf("accepted an inconsistent shard: width %d vocab %d sep %d len %d docs %d, %d bytes",
				w, s.Vocab(), s.Separator(), s.Len(), s.Docs(), len(b))
		}
		all := make([]int32, s.Len())
		allErr := s.Read(0, all)
		// Read in pieces of 7: the same ids, or the same error.
		var pieces []int32
		var pieceErr error
		for off := int64(0); off < s.Len() && pieceErr == nil; off += 7 {
			dst := make([]int32, min(7, s.Len()-off))
			if pieceErr = s.Read(off, dst); pieceErr == nil {
				pieces = append(pieces, dst...)
			}
		}
		if (allErr == nil) != (pieceErr == nil) || (allErr != nil && allErr.Error() != pieceErr.Error()) {
			t.Fatalf("whole read: %v; read in pieces: %v", allErr, pieceErr)
		}
		if allErr != nil {
			if !strings.Contains(allErr.Error(), path+": id ") {
				t.Fatalf("bad id error does not name the file: %v", allErr)
			}
			return
		}
		if !slices.Equal(all, pieces) {
			t.Fatal("pieces differ from the whole")
		}
		if err := s.Read(s.Len(), make([]int32, 1)); err == nil {
			t.Fatal("read past the end succeeded")
		}
		// Round trip: split at the separators and write again.
		sep := int32(s.Separator())
		var docs [][]int
		for _, id := range all {
			if id < 0 || int(id) >= s.Vocab() {
				t.Fatalf("id %d escaped the vocabulary check", id)
			}
			if id == sep {
				docs = append(docs, []int{})
				continue
			}
			docs[len(docs)-1] = append(docs[len(docs)-1], int(id))
		}
		out := filepath.Join(dir, "roundtrip.tok")
		wr, err := Create(out, s.Vocab(), s.Separator())
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range docs {
			if err := wr.Append(d); err != nil {
				t.Fatal(err)
			}
		}
		if err := wr.Close(); err != nil {
			t.Fatal(err)
		}
		s2, err := Open(out)
		if err != nil {
			t.Fatalf("reopening the rewritten shard: %v", err)
		}
		defer s2.Close()
		again := make([]int32, s2.Len())
		if err := s2.Read(0, again); err != nil || !slices.Equal(again, all) {
			t.Fatalf("round trip changed the ids: %v", err)
		}
		if s2.Docs() != int64(len(docs)) {
			t.Fatalf("round trip: %d docs, want %d", s2.Docs(), len(docs))
		}
		if s2.Width() == s.Width() {
			rewritten, _ := os.ReadFile(out)
			if !slices.Equal(rewritten[HeaderSize:], b[HeaderSize:]) {
				t.Fatal("round trip changed the id bytes")
			}
		}
	})
}

// TestFuzzSeedsParse makes sure the committed seeds are what their names
// say: the valid ones open, the others fail for the stated reason.
func TestFuzzSeedsParse(t *testing.T) {
	want := map[string]string{
		"valid_width2":  "",
		"valid_width4":  "",
		"valid_empty":   "",
		"truncated":     "header implies",
		"short_header":  "too short for the 64-byte header",
		"bad_magic":     "bad magic",
		"bad_width":     `header field "width" is 3`,
		"wrong_size":    "file has",
		"bad_separator": `header field "separator"`,
		"bad_id":        "", // opens; Read reports the id
	}
	for name, w := range want {
		data, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzOpen", name))
		if err != nil {
			t.Fatal(err)
		}
		b, err := parseCorpusFile(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		path := filepath.Join(t.TempDir(), name)
		os.WriteFile(path, b, 0o644)
		s, err := Open(path)
		if w == "" {
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			rerr := s.Read(0, make([]int32, s.Len()))
			if (name == "bad_id") != (rerr != nil) {
				t.Errorf("%s: Read: %v", name, rerr)
			}
			s.Close()
			continue
		}
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("%s: got %v, want %q", name, err, w)
		}
	}
}

// parseCorpusFile reads a "go test fuzz v1" file holding one []byte.
func parseCorpusFile(data []byte) ([]byte, error) {
	lines := strings.SplitN(string(data), "\n", 3)
	if len(lines) < 2 || lines[0] != "go test fuzz v1" {
		return nil, fmt.Errorf("not a fuzz corpus file")
	}
	var s string
	if _, err := fmt.Sscanf(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"), "%q", &s); err != nil {
		return nil, err
	}
	return []byte(s), nil
}
