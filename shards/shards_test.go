package shards

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// writeShard writes docs as a shard at dir/name and returns the path.
func writeShard(t *testing.T, dir, name string, vocab, sep int, docs [][]int) string {
	t.Helper()
	path := filepath.Join(dir, name)
	w, err := Create(path, vocab, sep)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		if err := w.Append(d); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// flatten lays docs out as a shard does: sep d1... sep d2...
func flatten(sep int, docs [][]int) []int32 {
	var out []int32
	for _, d := range docs {
		out = append(out, int32(sep))
		for _, id := range d {
			out = append(out, int32(id))
		}
	}
	return out
}

func randomDocs(r *rand.Rand, n, vocab, sep int) [][]int {
	docs := make([][]int, n)
	for i := range docs {
		d := make([]int, r.IntN(40))
		for j := range d {
			d[j] = r.IntN(vocab)
			if d[j] == sep {
				d[j] = (sep + 1) % vocab
			}
		}
		docs[i] = d
	}
	return docs
}

// listDir returns the names in dir.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		vocab, sep, width int
	}{
		{1, 0, 2},
		{300, 299, 2},
		{65536, 65535, 2},
		{65537, 3, 4},
		{200019, 199999, 4},
	} {
		t.Run(fmt.Sprint(tc.vocab), func(t *testing.T) {
			dir := t.TempDir()
			r := rand.New(rand.NewPCG(uint64(tc.vocab), 1))
			docs := randomDocs(r, 50, tc.vocab, tc.sep)
			docs = append(docs, nil, []int{tc.vocab - 1, 0})
			if tc.vocab == 1 {
				docs = [][]int{nil, {0}, nil}
			}
			path := writeShard(t, dir, "train-00000.tok", tc.vocab, tc.sep, docs)
			want := flatten(tc.sep, docs)
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if st.Size() != int64(HeaderSize+len(want)*tc.width) {
				t.Errorf("file has %d bytes, want %d", st.Size(), HeaderSize+len(want)*tc.width)
			}
			s, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.Len() != int64(len(want)) || s.Vocab() != tc.vocab || s.Separator() != tc.sep ||
				s.Docs() != int64(len(docs)) || s.Width() != tc.width || s.Path() != path {
				t.Errorf("got len %d vocab %d sep %d docs %d width %d path %s", s.Len(), s.Vocab(), s.Separator(), s.Docs(), s.Width(), s.Path())
			}
			got := make([]int32, len(want))
			if err := s.Read(0, got); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("ids differ:\n got %v\nwant %v", got, want)
			}
			for off := range int64(len(want)) {
				one := make([]int32, 1)
				if err := s.Read(off, one); err != nil || one[0] != want[off] {
					t.Fatalf("Read(%d) = %v, %v; want %d", off, one, err, want[off])
				}
			}
			if err := s.Read(int64(len(want)), nil); err != nil {
				t.Errorf("empty read at the end: %v", err)
			}
			if names := listDir(t, dir); len(names) != 1 {
				t.Errorf("left in the folder: %v", names)
			}
		})
	}
}

func TestEmptyShard(t *testing.T) {
	path := writeShard(t, t.TempDir(), "val-00000.tok", 10, 0, nil)
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Len() != 0 || s.Docs() != 0 {
		t.Errorf("len %d docs %d", s.Len(), s.Docs())
	}
}

func TestHeaderBytes(t *testing.T) {
	path := writeShard(t, t.TempDir(), "x.tok", 1000, 7, [][]int{{1, 2}, {3}})
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte("DOKJATOK")
	want = binary.LittleEndian.AppendUint32(want, 1)
	want = binary.LittleEndian.AppendUint32(want, 2)
	want = binary.LittleEndian.AppendUint32(want, 1000)
	want = binary.LittleEndian.AppendUint32(want, 7)
	want = binary.LittleEndian.AppendUint64(want, 5)
	want = binary.LittleEndian.AppendUint64(want, 2)
	want = append(want, make([]byte, 24)...)
	for _, id := range []uint16{7, 1, 2, 7, 3} {
		want = binary.LittleEndian.AppendUint16(want, id)
	}
	if !slices.Equal(b, want) {
		t.Errorf("file bytes\n got %x\nwant %x", b, want)
	}
}

func TestWriterRejectsBadIDs(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.tok")
	w, err := Create(path, 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Append([]int{1, 2}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		doc  []int
		want string
	}{
		{[]int{5, 100}, "id 100 at position 1"},
		{[]int{-1}, "id -1 at position 0"},
		{[]int{1, 2, 3, 1 << 40}, fmt.Sprintf("id %d at position 3", 1<<40)},
	} {
		err := w.Append(tc.doc)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("Append(%v) = %v, want an error naming the file and %q", tc.doc, err, tc.want)
		}
	}
	if w.Count() != 3 || w.Docs() != 1 {
		t.Errorf("rejected documents were counted: count %d docs %d", w.Count(), w.Docs())
	}
	if err := w.Append([]int{99}); err != nil {
		t.Fatalf("writer unusable after a rejected document: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := make([]int32, s.Len())
	if err := s.Read(0, got); err != nil || !slices.Equal(got, []int32{0, 1, 2, 0, 99}) {
		t.Errorf("got %v, %v", got, err)
	}
	if err := w.Append([]int{1}); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close: %v", err)
	}
	if err := w.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
}

func TestCreateErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name       string
		path       string
		vocab, sep int
		want       string
	}{
		{"vocab 0", filepath.Join(dir, "a.tok"), 0, 0, "vocab 0 is outside"},
		{"vocab too large", filepath.Join(dir, "a.tok"), MaxVocab + 1, 0, "is outside [1, 2147483647]"},
		{"sep = vocab", filepath.Join(dir, "a.tok"), 10, 10, "separator 10 is outside [0, 10)"},
		{"negative sep", filepath.Join(dir, "a.tok"), 10, -1, "separator -1"},
		{"missing folder", filepath.Join(dir, "no", "a.tok"), 10, 0, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := Create(tc.path, tc.vocab, tc.sep)
			if err == nil {
				w.Abort()
				t.Fatal("Create succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
	if names := listDir(t, dir); len(names) != 0 {
		t.Errorf("left in the folder: %v", names)
	}
}

func TestWriterAbortLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	w, err := Create(filepath.Join(dir, "a.tok"), 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	w.Append([]int{1, 2, 3})
	w.Abort()
	w.Abort()
	if names := listDir(t, dir); len(names) != 0 {
		t.Errorf("left after Abort: %v", names)
	}
	if err := w.Append([]int{1}); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Abort: %v", err)
	}
	if err := w.Close(); err == nil {
		t.Error("Close after Abort succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, "a.tok")); !os.IsNotExist(err) {
		t.Errorf("target exists after Abort: %v", err)
	}
}

// A failed Close (here: the folder vanished) leaves no target and no
// temporary file.
func TestWriterFailedClose(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "sub")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	w, err := Create(filepath.Join(dir, "a.tok"), 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	w.Append([]int{1})
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err == nil || !strings.Contains(err.Error(), "a.tok") {
		t.Fatalf("Close into a removed folder: %v", err)
	}
	if names := listDir(t, parent); len(names) != 0 {
		t.Errorf("left behind: %v", names)
	}
}

// rawShard builds shard bytes from header fields and raw id bytes.
func rawShard(magic string, version, width, vocab, sep uint32, count, docs uint64, ids []byte) []byte {
	b := append([]byte(nil), magic...)
	b = binary.LittleEndian.AppendUint32(b, version)
	b = binary.LittleEndian.AppendUint32(b, width)
	b = binary.LittleEndian.AppendUint32(b, vocab)
	b = binary.LittleEndian.AppendUint32(b, sep)
	b = binary.LittleEndian.AppendUint64(b, count)
	b = binary.LittleEndian.AppendUint64(b, docs)
	b = append(b, make([]byte, 24)...)
	return append(b, ids...)
}

func u16s(ids ...uint16) []byte {
	var b []byte
	for _, id := range ids {
		b = binary.LittleEndian.AppendUint16(b, id)
	}
	return b
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	ok := u16s(5, 1, 2, 5, 3)
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "file has 0 bytes, too short for the 64-byte header"},
		{"short", []byte("DOKJATOK\x01\x00"), "file has 10 bytes, too short for the 64-byte header"},
		{"bad magic", rawShard("DOKJATOX", 1, 2, 10, 5, 5, 2, ok), `bad magic "DOKJATOX", expected "DOKJATOK"`},
		{"version 2", rawShard(Magic, 2, 2, 10, 5, 5, 2, ok), `header field "version" is 2, expected 1`},
		{"width 3", rawShard(Magic, 1, 3, 10, 5, 5, 2, ok), `header field "width" is 3, expected 2 or 4`},
		{"width 0", rawShard(Magic, 1, 0, 10, 5, 5, 2, ok), `header field "width" is 0, expected 2 or 4`},
		{"vocab 0", rawShard(Magic, 1, 2, 0, 0, 5, 2, ok), `header field "vocab" is 0`},
		{"vocab too large", rawShard(Magic, 1, 4, math.MaxInt32+1, 5, 0, 0, nil), `header field "vocab" is 2147483648, more than the limit`},
		{"width 2 for a large vocab", rawShard(Magic, 1, 2, 70000, 5, 5, 2, ok), `header field "width" is 2, but vocab 70000 needs 4`},
		{"separator = vocab", rawShard(Magic, 1, 2, 10, 10, 5, 2, ok), `header field "separator" is 10, expected below vocab 10`},
		{"docs > count", rawShard(Magic, 1, 2, 10, 5, 5, 6, ok), `header field "docs" is 6, more than the 5 ids`},
		{"no docs", rawShard(Magic, 1, 2, 10, 5, 5, 0, ok), `header field "docs" is 0, but the file holds 5 ids`},
		{"truncated", rawShard(Magic, 1, 2, 10, 5, 5, 2, ok[:9]), "file has 73 bytes, header implies 74 (count 5 × width 2 + 64)"},
		{"trailing bytes", rawShard(Magic, 1, 2, 10, 5, 5, 2, append(ok, 0)), "file has 75 bytes, header implies 74 (count 5 × width 2 + 64)"},
		{"brief's example", rawShard(Magic, 1, 2, 10, 5, 1000, 1, make([]byte, 1000-64)), "file has 1000 bytes, header implies 2064 (count 1000 × width 2 + 64)"},
		{"count overflows", rawShard(Magic, 1, 4, 10, 5, math.MaxUint64/2, 1, ok), "file has 74 bytes, header implies 2^63 bytes or more (count"},
		{"count overflows int64", rawShard(Magic, 1, 2, 10, 5, math.MaxInt64/2, 1, ok), "file has 74 bytes, header implies 2^63 bytes or more (count"},
		{"first id not the separator", rawShard(Magic, 1, 2, 10, 5, 5, 2, u16s(1, 5, 2, 5, 3)), "first id is 1, expected the separator 5"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "train-00003.tok")
			if err := os.WriteFile(path, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := Open(path)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			want := "shards: " + path + ": " + tc.want
			if !strings.Contains(err.Error(), want) {
				t.Errorf("got  %v\nwant %s", err, want)
			}
		})
	}
	t.Run("missing", func(t *testing.T) {
		_, err := Open(filepath.Join(dir, "nope.tok"))
		if err == nil || !strings.Contains(err.Error(), "nope.tok") || !errors.Is(err, os.ErrNotExist) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("folder", func(t *testing.T) {
		_, err := Open(dir)
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("got %v", err)
		}
	})
}

// Reserved bytes are written as zeros but ignored when read, and a width
// of 4 is accepted for a small vocabulary.
func TestOpenTolerates(t *testing.T) {
	dir := t.TempDir()
	b := rawShard(Magic, 1, 2, 10, 5, 5, 2, u16s(5, 1, 2, 5, 3))
	for i := 40; i < 64; i++ {
		b[i] = 0xff
	}
	p := filepath.Join(dir, "a.tok")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	var ids []byte
	for _, id := range []uint32{5, 1, 9} {
		ids = binary.LittleEndian.AppendUint32(ids, id)
	}
	if err := os.WriteFile(p, rawShard(Magic, 1, 4, 10, 5, 3, 1, ids), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err = Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := make([]int32, 3)
	if err := s.Read(0, got); err != nil || !slices.Equal(got, []int32{5, 1, 9}) {
		t.Errorf("got %v, %v", got, err)
	}
}

func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	// Id 12 at offset 3 is outside the vocabulary of 10.
	p := filepath.Join(dir, "bad.tok")
	if err := os.WriteFile(p, rawShard(Magic, 1, 2, 10, 5, 5, 2, u16s(5, 1, 5, 12, 3)), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]int32, 3)
	if err := s.Read(0, dst); err != nil {
		t.Errorf("Read before the bad id: %v", err)
	}
	for _, tc := range []struct {
		off  int64
		n    int
		want string
	}{
		{0, 5, p + ": id 12 at offset 3 is outside the vocabulary [0, 10)"},
		{3, 1, p + ": id 12 at offset 3 is outside the vocabulary [0, 10)"},
		{-1, 1, "read of 1 ids at offset -1 is outside [0, 5)"},
		{4, 2, "read of 2 ids at offset 4 is outside [0, 5)"},
		{6, 0, "read of 0 ids at offset 6 is outside [0, 5)"},
		{math.MaxInt64, 1, "is outside [0, 5)"},
	} {
		err := s.Read(tc.off, make([]int32, tc.n))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Read(%d, %d) = %v, want %q", tc.off, tc.n, err, tc.want)
		}
	}
	// Width 4: an id beyond the vocabulary, and beyond int32.
	var ids []byte
	for _, id := range []uint32{5, 1, math.MaxUint32} {
		ids = binary.LittleEndian.AppendUint32(ids, id)
	}
	p4 := filepath.Join(dir, "bad4.tok")
	if err := os.WriteFile(p4, rawShard(Magic, 1, 4, 70000, 5, 3, 1, ids), 0o644); err != nil {
		t.Fatal(err)
	}
	s4, err := Open(p4)
	if err != nil {
		t.Fatal(err)
	}
	defer s4.Close()
	if err := s4.Read(0, make([]int32, 3)); err == nil || !strings.Contains(err.Error(), "id 4294967295 at offset 2") {
		t.Errorf("width 4: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := s.Read(0, dst); !errors.Is(err, ErrClosed) {
		t.Errorf("Read after Close: %v", err)
	}
}

func TestReadFallbackWithoutMmap(t *testing.T) {
	defer func(f func(*os.File, int) ([]byte, error)) { mapFile = f }(mapFile)
	mapFile = func(*os.File, int) ([]byte, error) { return nil, errors.New("no mmap") }
	docs := [][]int{{1, 2, 3}, {4}}
	s, err := Open(writeShard(t, t.TempDir(), "a.tok", 10, 0, docs))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.mapped {
		t.Error("mapped despite the failing mmap")
	}
	got := make([]int32, s.Len())
	if err := s.Read(0, got); err != nil || !slices.Equal(got, flatten(0, docs)) {
		t.Errorf("got %v, %v", got, err)
	}
}

func TestConcurrentReads(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	docs := randomDocs(r, 200, 500, 0)
	want := flatten(0, docs)
	s, err := Open(writeShard(t, t.TempDir(), "a.tok", 500, 0, docs))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 9))
			for range 200 {
				off := r.Int64N(s.Len())
				dst := make([]int32, r.Int64N(s.Len()-off+1))
				if err := s.Read(off, dst); err != nil || !slices.Equal(dst, want[off:off+int64(len(dst))]) {
					t.Errorf("Read(%d, %d): %v", off, len(dst), err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestSet(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(7, 7))
	var all []int32
	var docs int64
	// Shards of different sizes, one of them empty; a val shard and a
	// stray file that must not be picked up.
	for i, n := range []int{3, 0, 1, 10, 2} {
		d := randomDocs(r, n, 300, 299)
		writeShard(t, dir, ShardName("train", i), 300, 299, d)
		all = append(all, flatten(299, d)...)
		docs += int64(n)
	}
	writeShard(t, dir, ShardName("val", 0), 300, 299, [][]int{{1}})
	os.WriteFile(filepath.Join(dir, "train-notes.txt"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, ".train-00009.tok.tmp123"), []byte("x"), 0o644)
	s, err := OpenSet(dir, "train")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Len() != int64(len(all)) || s.Vocab() != 300 || s.Separator() != 299 || s.Docs() != docs {
		t.Fatalf("len %d vocab %d sep %d docs %d; want len %d docs %d", s.Len(), s.Vocab(), s.Separator(), s.Docs(), len(all), docs)
	}
	var wantFiles []string
	for i := range 5 {
		wantFiles = append(wantFiles, filepath.Join(dir, ShardName("train", i)))
	}
	if !slices.Equal(s.Files(), wantFiles) {
		t.Errorf("files %v, want %v", s.Files(), wantFiles)
	}
	if len(s.Shards()) != 5 {
		t.Errorf("%d shards", len(s.Shards()))
	}
	// Every window, so every boundary is crossed from every side.
	for off := range int64(len(all)) + 1 {
		for n := int64(0); off+n <= int64(len(all)); n++ {
			dst := make([]int32, n)
			if err := s.Read(off, dst); err != nil {
				t.Fatalf("Read(%d, %d): %v", off, n, err)
			}
			if !slices.Equal(dst, all[off:off+n]) {
				t.Fatalf("Read(%d, %d) = %v, want %v", off, n, dst, all[off:off+n])
			}
		}
	}
	for _, tc := range []struct {
		off int64
		n   int
	}{{-1, 1}, {int64(len(all)), 1}, {0, len(all) + 1}, {int64(len(all)) + 1, 0}} {
		if err := s.Read(tc.off, make([]int32, tc.n)); err == nil || !strings.Contains(err.Error(), "outside") {
			t.Errorf("Read(%d, %d): %v", tc.off, tc.n, err)
		}
	}
	v, err := OpenSet(dir, "val")
	if err != nil {
		t.Fatal(err)
	}
	if v.Len() != 2 || len(v.Files()) != 1 {
		t.Errorf("val: len %d files %v", v.Len(), v.Files())
	}
	v.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Read(0, make([]int32, 1)); !errors.Is(err, ErrClosed) {
		t.Errorf("Read after Close: %v", err)
	}
}

func TestOpenSetErrors(t *testing.T) {
	t.Run("no files", func(t *testing.T) {
		dir := t.TempDir()
		writeShard(t, dir, "val-00000.tok", 10, 0, nil)
		_, err := OpenSet(dir, "train")
		want := "no files match " + filepath.Join(dir, "train-*.tok")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want %q", err, want)
		}
	})
	t.Run("missing folder", func(t *testing.T) {
		_, err := OpenSet(filepath.Join(t.TempDir(), "none"), "train")
		if err == nil || !errors.Is(err, os.ErrNotExist) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("bad split name", func(t *testing.T) {
		for _, split := range []string{"", "a/b", "tr*"} {
			if _, err := OpenSet(t.TempDir(), split); err == nil || !strings.Contains(err.Error(), "split name") {
				t.Errorf("%q: %v", split, err)
			}
		}
	})
	for _, tc := range []struct {
		name       string
		vocab, sep int
	}{{"vocab", 11, 0}, {"separator", 10, 1}} {
		t.Run("disagreeing "+tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeShard(t, dir, "train-00000.tok", 10, 0, [][]int{{1}})
			writeShard(t, dir, "train-00001.tok", 10, 0, [][]int{{2}})
			bad := writeShard(t, dir, "train-00002.tok", tc.vocab, tc.sep, [][]int{{3}})
			_, err := OpenSet(dir, "train")
			if err == nil || !strings.HasPrefix(err.Error(), "shards: "+bad+": ") || !strings.Contains(err.Error(), "disagree") {
				t.Errorf("got %v, want an error naming %s", err, bad)
			}
		})
	}
	t.Run("corrupt shard", func(t *testing.T) {
		dir := t.TempDir()
		writeShard(t, dir, "train-00000.tok", 10, 0, [][]int{{1}})
		bad := filepath.Join(dir, "train-00001.tok")
		os.WriteFile(bad, []byte("DOKJATOK"), 0o644)
		_, err := OpenSet(dir, "train")
		if err == nil || !strings.Contains(err.Error(), bad+": file has 8 bytes") {
			t.Errorf("got %v", err)
		}
	})
}

func TestSplitWriter(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(5, 5))
	docs := randomDocs(r, 60, 1000, 999)
	sw, err := NewSplitWriter(dir, "train", 1000, 999, 100)
	if err != nil {
		t.Fatal(err)
	}
	if names := listDir(t, dir); len(names) != 0 {
		t.Fatalf("files before the first document: %v", names)
	}
	for _, d := range docs {
		if err := sw.Append(d); err != nil {
			t.Fatal(err)
		}
	}
	if err := sw.Append([]int{1000}); err == nil || !strings.Contains(err.Error(), "id 1000 at position 0") {
		t.Errorf("bad id: %v", err)
	}
	if err := sw.Close(); err != nil {
		t.Fatal(err)
	}
	files := sw.Files()
	if len(files) < 3 {
		t.Fatalf("only %d shards for %d ids", len(files), sw.Count())
	}
	var total, ndocs int64
	for i, f := range files {
		if f != ShardName("train", i) {
			t.Errorf("shard %d is %s", i, f)
		}
		s, err := Open(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		// Full shards reached the target; only the last may be smaller,
		// and a shard passes the target by less than one document.
		if i < len(files)-1 && s.Len() < 100 {
			t.Errorf("%s: %d ids, below the target", f, s.Len())
		}
		if s.Len() >= 100+41 {
			t.Errorf("%s: %d ids, more than one document past the target", f, s.Len())
		}
		total += s.Len()
		ndocs += s.Docs()
		s.Close()
	}
	if total != sw.Count() || ndocs != sw.Docs() || ndocs != int64(len(docs)) {
		t.Errorf("shards hold %d ids and %d docs; writer counted %d and %d", total, ndocs, sw.Count(), sw.Docs())
	}
	set, err := OpenSet(dir, "train")
	if err != nil {
		t.Fatal(err)
	}
	all := make([]int32, set.Len())
	if err := set.Read(0, all); err != nil || !slices.Equal(all, flatten(999, docs)) {
		t.Errorf("the set does not read back the documents: %v", err)
	}
	set.Close()
	sw.Abort()
	if names := listDir(t, dir); len(names) != 0 {
		t.Errorf("left after Abort: %v", names)
	}
}

func TestSplitWriterAbortMidway(t *testing.T) {
	dir := t.TempDir()
	sw, err := NewSplitWriter(dir, "val", 10, 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if err := sw.Append([]int{1, 2}); err != nil {
			t.Fatal(err)
		}
	}
	if len(listDir(t, dir)) < 2 {
		t.Fatalf("expected finished shards and a temporary file: %v", listDir(t, dir))
	}
	sw.Abort()
	if names := listDir(t, dir); len(names) != 0 {
		t.Errorf("left after Abort: %v", names)
	}
	if err := sw.Append([]int{1}); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Abort: %v", err)
	}
}

func TestNewSplitWriterErrors(t *testing.T) {
	for _, tc := range []struct {
		split       string
		vocab, sep  int
		shardTokens int64
		want        string
	}{
		{"train", 10, 0, 0, "must be positive"},
		{"a/b", 10, 0, 10, "split name"},
		{"train", 10, 10, 10, "separator 10"},
		{"train", 0, 0, 10, "vocab 0"},
	} {
		if _, err := NewSplitWriter(t.TempDir(), tc.split, tc.vocab, tc.sep, tc.shardTokens); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v", tc, err)
		}
	}
}

func TestIsVal(t *testing.T) {
	// SHA-256("hello") starts 2cf24dba5fb0a30e: 0x2cf24dba5fb0a30e / 2^64 ≈ 0.1755.
	if !IsVal("hello", 0.18) || IsVal("hello", 0.17) {
		t.Error(`"hello" is not split at 0.1755`)
	}
	if IsVal("hello", 0) {
		t.Error("fraction 0 sent a document to val")
	}
	n, val := 20000, 0
	for i := range n {
		text := fmt.Sprintf("document %d", i)
		v := IsVal(text, 0.1)
		if v != IsVal(text, 0.1) {
			t.Fatal("not deterministic")
		}
		if v {
			val++
			if !IsVal(text, 0.2) {
				t.Fatal("a val document at 0.1 is not val at 0.2")
			}
		}
	}
	if got := float64(val) / float64(n); math.Abs(got-0.1) > 0.01 {
		t.Errorf("val share %.4f, want about 0.1", got)
	}
}

func testManifest() *Manifest {
	return &Manifest{
		Version: ManifestVersion, Tokenizer: "tokenizer.json", TokenizerSHA256: "ab12",
		Vocab: 400, Separator: 397, SeparatorToken: "<|endoftext|>", ValFraction: 0.005,
		Splits: map[string]SplitInfo{
			"train": {Tokens: 1000, Documents: 10, Files: []string{"train-00000.tok", "train-00001.tok"}},
			"val":   {Tokens: 20, Documents: 1, Files: []string{"val-00000.tok"}},
		},
		Inputs:  []string{"a.jsonl", "b/c.txt"},
		Created: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
	}
}

func TestManifestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	m := testManifest()
	if err := WriteManifest(dir, m); err != nil {
		t.Fatal(err)
	}
	got, err := ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(*got) != fmt.Sprint(*m) || !got.Created.Equal(m.Created) {
		t.Errorf("got %+v\nwant %+v", *got, *m)
	}
	data, _ := os.ReadFile(filepath.Join(dir, ManifestName))
	for _, key := range []string{`"version": 1`, `"tokenizer_sha256"`, `"separator_token": "<|endoftext|>"`, `"val_fraction": 0.005`, `"documents": 10`, `"created": "2025-01-02T03:04:05Z"`} {
		if !strings.Contains(string(data), key) {
			t.Errorf("manifest lacks %s:\n%s", key, data)
		}
	}
}

func TestManifestErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Manifest)
		want   string
	}{
		{"version", func(m *Manifest) { m.Version = 2 }, `field "version" is 2`},
		{"vocab", func(m *Manifest) { m.Vocab = 0 }, `field "vocab" is 0`},
		{"separator", func(m *Manifest) { m.Separator = 400 }, `field "separator" is 400`},
		{"val fraction", func(m *Manifest) { m.ValFraction = 1 }, `field "val_fraction" is 1`},
		{"tokenizer path", func(m *Manifest) { m.Tokenizer = "../tokenizer.json" }, `field "tokenizer" is "../tokenizer.json"`},
		{"shard path", func(m *Manifest) { m.Splits["val"] = SplitInfo{Files: []string{"/etc/passwd"}} }, `field "splits.val.files[0]" is "/etc/passwd"`},
		{"counts", func(m *Manifest) { m.Splits["val"] = SplitInfo{Tokens: 1, Documents: 2} }, `field "splits.val": 1 tokens and 2 documents`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			m := testManifest()
			tc.change(m)
			if err := WriteManifest(dir, m); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("write: %v, want %q", err, tc.want)
			}
			if _, err := os.Stat(filepath.Join(dir, ManifestName)); !os.IsNotExist(err) {
				t.Errorf("an invalid manifest was written: %v", err)
			}
			// The same check on reading a file written by someone else.
			data, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(dir, ManifestName), data, 0o644)
			if _, err := ReadManifest(dir); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("read: %v, want %q", err, tc.want)
			}
		})
	}
	dir := t.TempDir()
	if _, err := ReadManifest(dir); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
	os.WriteFile(filepath.Join(dir, ManifestName), []byte(`{"version": 1, "vocab": "many"}`), 0o644)
	if _, err := ReadManifest(dir); err == nil || !strings.Contains(err.Error(), ManifestName) {
		t.Errorf("bad JSON: %v", err)
	}
	os.WriteFile(filepath.Join(dir, ManifestName), []byte(`{"version": 1, "vocab": 10, "separator": 12, "tokenizer": "tokenizer.json"}`), 0o644)
	if _, err := ReadManifest(dir); err == nil || !strings.Contains(err.Error(), `field "separator" is 12`) {
		t.Errorf("bad separator: %v", err)
	}
}

// OpenSplit reads a split only from a complete folder, as its manifest
// lists it, and says what is wrong with an incomplete or mixed one.
func TestOpenSplit(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	complete := func(t *testing.T) (string, [][]int) {
		dir := t.TempDir()
		docs := randomDocs(r, 30, 300, 299)
		sw, err := NewSplitWriter(dir, "train", 300, 299, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range docs {
			if err := sw.Append(d); err != nil {
				t.Fatal(err)
			}
		}
		if err := sw.Close(); err != nil {
			t.Fatal(err)
		}
		m := &Manifest{Version: ManifestVersion, Tokenizer: "tokenizer.json", Vocab: 300, Separator: 299,
			Splits: map[string]SplitInfo{"train": {Tokens: sw.Count(), Documents: sw.Docs(), Files: sw.Files()}}}
		if err := WriteManifest(dir, m); err != nil {
			t.Fatal(err)
		}
		return dir, docs
	}
	dir, docs := complete(t)
	s, m, err := OpenSplit(dir, "train")
	if err != nil {
		t.Fatal(err)
	}
	all := make([]int32, s.Len())
	if err := s.Read(0, all); err != nil || !slices.Equal(all, flatten(299, docs)) || m.Vocab != 300 {
		t.Errorf("the split does not read back the documents: %v", err)
	}
	s.Close()
	if _, _, err := OpenSplit(dir, "val"); !errors.Is(err, ErrNoSplit) {
		t.Errorf("a split the manifest lacks: %v, want ErrNoSplit", err)
	}

	for _, tc := range []struct {
		name  string
		spoil func(dir string)
		want  string
	}{
		{"no manifest (a stopped tokenization)", func(dir string) { os.Remove(filepath.Join(dir, ManifestName)) }, "no manifest.json"},
		{"truncated manifest", func(dir string) {
			data, _ := os.ReadFile(filepath.Join(dir, ManifestName))
			os.WriteFile(filepath.Join(dir, ManifestName), data[:len(data)/2], 0o644)
		}, "unexpected EOF"},
		{"a listed shard missing", func(dir string) { os.Remove(filepath.Join(dir, ShardName("train", 1))) }, ShardName("train", 1)},
		{"a shard the manifest does not list", func(dir string) {
			data, _ := os.ReadFile(filepath.Join(dir, ShardName("train", 0)))
			os.WriteFile(filepath.Join(dir, ShardName("train", 99)), data, 0o644)
		}, ShardName("train", 99) + " is not in the manifest"},
		{"a shard of other content", func(dir string) {
			data, _ := os.ReadFile(filepath.Join(dir, ShardName("train", 0)))
			os.WriteFile(filepath.Join(dir, ShardName("train", 1)), data, 0o644)
		}, "the manifest says"},
	} {
		dir, _ := complete(t)
		tc.spoil(dir)
		_, _, err := OpenSplit(dir, "train")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %q", tc.name, err, tc.want)
		}
	}
}
