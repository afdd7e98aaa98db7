package corpus

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
)

type pqRow struct {
	ID   int64   `parquet:"id"`
	Text *string `parquet:"text,optional"`
	N    int32   `parquet:"n"`
	Name string  `parquet:"name"`
	Meta struct {
		Body *string `parquet:"body,optional"`
	} `parquet:"meta,optional"`
	Tags []string `parquet:"tags,list"`
}

func strp(s string) *string { return &s }

// pqBytes writes rows as a Parquet file in memory.
func pqBytes[T any](t testing.TB, rows []T, opts ...parquet.WriterOption) []byte {
	t.Helper()
	var b bytes.Buffer
	w := parquet.NewGenericWriter[T](&b, opts...)
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// pqSample has ten rows in row groups of three: row 4 has a null text,
// row 6 an empty one, row 8 invalid UTF-8.
func pqSample(t testing.TB, opts ...parquet.WriterOption) []byte {
	var rows []pqRow
	for i := 1; i <= 10; i++ {
		r := pqRow{ID: int64(100 + i), N: int32(i), Name: fmt.Sprintf("doc-%d", i), Tags: []string{"a"}}
		switch i {
		case 4:
		case 6:
			r.Text = strp("")
		case 8:
			r.Text = strp("bad \xff byte")
		default:
			r.Text = strp(fmt.Sprintf("텍스트 %d", i))
		}
		if i%2 == 0 {
			r.Meta.Body = strp(fmt.Sprintf("body %d", i))
		}
		rows = append(rows, r)
	}
	return pqBytes(t, rows, append([]parquet.WriterOption{parquet.MaxRowsPerRowGroup(3)}, opts...)...)
}

// stripCRC returns a copy of a Parquet file whose page checksums are all
// zero, which means "no checksum": byte flips in page data then reach the
// decoders instead of failing the check, as in files from writers that
// write no checksums (pyarrow by default). Each checksum is rewritten as a
// zero varint of the same length, so no offset moves.
func stripCRC(t testing.TB, data []byte) []byte {
	t.Helper()
	out := bytes.Clone(data)
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	for _, rg := range f.Metadata().RowGroups {
		for _, cc := range rg.Columns {
			md := cc.MetaData
			pos := md.DataPageOffset
			if md.DictionaryPageOffset != 0 {
				pos = md.DictionaryPageOffset
			}
			end := pos + md.TotalCompressedSize
			for pos < end {
				var compressed int64
				used, err := validateThrift(out[pos:end], func(path []int16, v int64, start, stop int) {
					switch {
					case len(path) == 1 && path[0] == 3:
						compressed = v
					case len(path) == 1 && path[0] == 4:
						for i := start; i < stop-1; i++ {
							out[pos+int64(i)] = 0x80
						}
						out[pos+int64(stop-1)] = 0
					}
				})
				if err != nil {
					t.Fatal(err)
				}
				pos += int64(used) + compressed
			}
		}
	}
	return out
}

// drainIDs is drain with the record IDs: "N:ID:text".
func drainIDs(t *testing.T, r *Reader) []string {
	t.Helper()
	return drainAs(t, r, func(rec Record) string { return fmt.Sprintf("%d:%s:%s", rec.Line, rec.ID, rec.Text) })
}

func TestParquet(t *testing.T) {
	sample := pqSample(t)
	if n := len(mustOpenParquet(t, sample).RowGroups()); n != 4 {
		t.Fatalf("sample has %d row groups, want 4", n)
	}
	all := []string{
		"1::텍스트 1", "2::텍스트 2", "3::텍스트 3",
		`ERR:corpus: s.parquet row 4: column "text": missing (null)`,
		"5::텍스트 5",
		"7::텍스트 7",
		`ERR:corpus: s.parquet row 8: column "text": invalid UTF-8 at byte offset 4`,
		"9::텍스트 9", "10::텍스트 10",
	}
	tests := []struct {
		name string
		data []byte
		opt  Options
		want []string
	}{
		{"default", sample, Options{}, all},
		{"no checksums", stripCRC(t, sample), Options{}, all},
		{"zstd pages and dictionary", pqSample(t, parquet.Compression(&parquet.Zstd)), Options{}, all},
		{"snappy", pqSample(t, parquet.Compression(&parquet.Snappy)), Options{}, all},
		{"skip missing", sample, Options{SkipMissing: true}, []string{
			"1::텍스트 1", "2::텍스트 2", "3::텍스트 3", "5::텍스트 5", "7::텍스트 7",
			`ERR:corpus: s.parquet row 8: column "text": invalid UTF-8`,
			"9::텍스트 9", "10::텍스트 10",
		}},
		{"integer ID", sample, Options{IDField: "id", SkipMissing: true}, []string{
			"1:101:텍스트 1", "2:102:텍스트 2", "3:103:텍스트 3", "5:105:텍스트 5", "7:107:텍스트 7",
			"ERR:", "9:109:텍스트 9", "10:110:텍스트 10",
		}},
		{"string ID", sample, Options{IDField: "name", SkipMissing: true, Format: Parquet}, []string{
			"1:doc-1:텍스트 1", "2:doc-2:텍스트 2", "3:doc-3:텍스트 3", "5:doc-5:텍스트 5", "7:doc-7:텍스트 7",
			"ERR:", "9:doc-9:텍스트 9", "10:doc-10:텍스트 10",
		}},
		{"nested column", sample, Options{Field: "meta.body", IDField: "n", SkipMissing: true}, []string{
			"2:2:body 2", "4:4:body 4", "6:6:body 6", "8:8:body 8", "10:10:body 10",
		}},
		{"nested nulls reported", sample, Options{Field: "meta.body"}, []string{
			`ERR:corpus: s.parquet row 1: column "meta.body": missing (null)`, "2::body 2",
			"ERR:", "4::body 4", "ERR:", "6::body 6", "ERR:", "8::body 8", "ERR:", "10::body 10",
		}},
		{"value over the limit", sample, Options{SkipMissing: true, MaxRecordBytes: 11}, []string{
			"1::텍스트 1", "2::텍스트 2", "3::텍스트 3", "5::텍스트 5", "7::텍스트 7",
			"ERR:corpus: s.parquet row 8: column \"text\": invalid UTF-8",
			"9::텍스트 9",
			"ERR:corpus: s.parquet row 10: line too long: column \"text\" holds 12 bytes, beyond the limit of 11",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewReader(bytes.NewReader(tc.data), "s.parquet", tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if r.Format() != Parquet {
				t.Fatalf("format %v", r.Format())
			}
			if got := drainIDs(t, r); !match(got, tc.want) {
				t.Errorf("got\n%s\nwant\n%s", shorten(got), shorten(tc.want))
			}
		})
	}
}

func mustOpenParquet(t *testing.T, data []byte) *parquet.File {
	t.Helper()
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestParquetOpenErrors(t *testing.T) {
	sample := pqSample(t)
	tests := []struct {
		name string
		data []byte
		opt  Options
		want []string // substrings of the error
	}{
		{"missing column", sample, Options{Field: "body"},
			[]string{`corpus: s.parquet: no column "body"`, "columns id, text, n, name, meta.body, tags.list.element"}},
		{"missing nested column", sample, Options{Field: "meta.title"}, []string{`no column "meta.title"`}},
		{"group", sample, Options{Field: "meta"}, []string{`column "meta" is a group`}},
		{"integer column", sample, Options{Field: "n"},
			[]string{`corpus: s.parquet: column "n" holds INT32`, "not a string (BYTE_ARRAY, UTF8) column"}},
		{"repeated column", sample, Options{Field: "tags.list.element"}, []string{`column "tags.list.element" is repeated`}},
		{"missing ID column", sample, Options{IDField: "uuid"}, []string{`no column "uuid"`}},
		{"bad ID column", pqBytes(t, []struct {
			Text string  `parquet:"text"`
			F    float64 `parquet:"f"`
		}{{"a", 1}}), Options{IDField: "f"}, []string{`column "f" holds DOUBLE, not a string or integer column`}},
		{"not parquet", []byte("hello, world, this is text"), Options{}, []string{"corpus: s.parquet: not a valid Parquet file"}},
		{"empty", nil, Options{}, []string{"corpus: s.parquet: not a valid Parquet file"}},
		{"truncated", sample[:len(sample)-100], Options{}, []string{"corpus: s.parquet: not a valid Parquet file", "truncated"}},
		{"truncated start", sample[100:], Options{}, []string{"corpus: s.parquet: not a valid Parquet file"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewReader(bytes.NewReader(tc.data), "s.parquet", tc.opt)
			if err == nil {
				r.Close()
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestParquetPages reads a file with many pages per row group, from a
// stream (read into memory), gzip-compressed, and from a file by path.
func TestParquetPages(t *testing.T) {
	type row struct {
		Text string `parquet:"text,dict"`
		ID   string `parquet:"id"`
	}
	var rows []row
	for i := range 5000 {
		rows = append(rows, row{Text: fmt.Sprintf("line %d %s", i, strings.Repeat("x", i%50)), ID: fmt.Sprint("r", i)})
	}
	data := pqBytes(t, rows, parquet.PageBufferSize(2048), parquet.MaxRowsPerRowGroup(1500))
	path := filepath.Join(t.TempDir(), "big.parquet")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, r *Reader) {
		t.Helper()
		defer r.Close()
		n := 0
		for rec, err := range r.All() {
			if err != nil {
				t.Fatal(err)
			}
			if want := rows[n]; rec.Text != want.Text || rec.ID != want.ID || rec.Line != int64(n+1) {
				t.Fatalf("record %d: %+v, want %+v", n, rec, want)
			}
			n++
		}
		if n != len(rows) {
			t.Fatalf("%d records, want %d", n, len(rows))
		}
	}
	t.Run("open", func(t *testing.T) {
		r, err := Open(path, Options{IDField: "id"})
		if err != nil {
			t.Fatal(err)
		}
		check(t, r)
	})
	t.Run("stream", func(t *testing.T) {
		r, err := NewReader(io.MultiReader(bytes.NewReader(data)), "big.parquet", Options{IDField: "id"})
		if err != nil {
			t.Fatal(err)
		}
		check(t, r)
	})
	t.Run("gzip", func(t *testing.T) {
		r, err := NewReader(bytes.NewReader(gzipBytes(t, data)), "big.parquet.gz", Options{IDField: "id"})
		if err != nil {
			t.Fatal(err)
		}
		check(t, r)
	})
	t.Run("zstd", func(t *testing.T) {
		r, err := NewReader(bytes.NewReader(zstdBytes(t, data)), "big.parquet.zst", Options{IDField: "id"})
		if err != nil {
			t.Fatal(err)
		}
		check(t, r)
	})
}

// TestParquetCorrupt flips every byte of a small file in turn, and cuts it
// at every length: reading must end in records and errors that name the
// file, never a panic or a hang.
func TestParquetCorrupt(t *testing.T) {
	data := stripCRC(t, pqSample(t))
	try := func(t *testing.T, b []byte, what string) {
		r, err := NewReader(bytes.NewReader(b), "c.parquet", Options{IDField: "name"})
		if err != nil {
			if !strings.HasPrefix(err.Error(), "corpus: c.parquet: ") {
				t.Fatalf("%s: error does not name the file: %v", what, err)
			}
			return
		}
		defer r.Close()
		for i := 0; ; i++ {
			if i > 100 {
				t.Fatalf("%s: too many records", what)
			}
			_, err := r.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				if !strings.HasPrefix(err.Error(), "corpus: c.parquet") {
					t.Fatalf("%s: error does not name the file: %v", what, err)
				}
				var re *RecordError
				if !errors.As(err, &re) {
					if _, again := r.Next(); again != err {
						t.Fatalf("%s: error not sticky: %v then %v", what, err, again)
					}
					return
				}
			}
		}
	}
	for i := range data {
		b := bytes.Clone(data)
		b[i] ^= 0xff
		try(t, b, fmt.Sprintf("flip %d", i))
		try(t, data[:i], fmt.Sprintf("cut %d", i))
	}
}

func TestExpandFormats(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a.parquet", "b.warc", "c.warc.gz", "d.jsonl", "e.txt.zst", "f.bin", "g.warc.zst", "h.parquet.bak"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	files, err := Expand([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		got = append(got, filepath.Base(f))
	}
	if want := "a.parquet b.warc c.warc.gz d.jsonl e.txt.zst g.warc.zst"; strings.Join(got, " ") != want {
		t.Errorf("Expand: %v, want %s", got, want)
	}
	for name, want := range map[string]Format{
		"x.parquet": Parquet, "X.PARQUET": Parquet, "x.warc": WARC, "x.warc.gz": WARC, "x.WARC.GZ": WARC,
		"x.warc.zst": WARC, "x.wet": Text, "x.parquet.json": JSONL,
	} {
		if got := formatByName(name); got != want {
			t.Errorf("formatByName(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestParquetAllocationBomb: a file of a few bytes whose footer claims
// 2^31-1 row groups must be rejected before parquet-go allocates for them.
func TestParquetAllocationBomb(t *testing.T) {
	footer := []byte{0x49, 0xfc, 0xff, 0xff, 0xff, 0xff, 0x07} // field 4 (row_groups): list<struct> of 2^31-1
	var b bytes.Buffer
	b.WriteString("PAR1")
	b.Write(footer)
	b.Write([]byte{byte(len(footer)), 0, 0, 0})
	b.WriteString("PAR1")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := NewReader(bytes.NewReader(b.Bytes()), "bomb.parquet", Options{})
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "corpus: bomb.parquet: not a valid Parquet file: corrupt footer") {
		t.Fatalf("got %v", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Errorf("allocated %d bytes for an 18-byte file", n)
	}
}
