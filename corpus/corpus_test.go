package corpus

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/klauspost/compress/zstd"
)

func gzipBytes(t testing.TB, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func zstdBytes(t testing.TB, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := zstd.NewWriter(&b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// drain reads r to the end and describes what it saw: "N:text" for a
// record and "ERR:message" for an error. It continues past *RecordError
// and stops at io.EOF or any other error.
func drain(t *testing.T, r *Reader) []string {
	t.Helper()
	return drainAs(t, r, func(rec Record) string { return fmt.Sprintf("%d:%s", rec.Line, rec.Text) })
}

// drainAs is drain with each record described by show.
func drainAs(t *testing.T, r *Reader, show func(Record) string) []string {
	t.Helper()
	var got []string
	for range 100000 {
		rec, err := r.Next()
		if err == io.EOF {
			return got
		}
		if err != nil {
			got = append(got, "ERR:"+err.Error())
			var re *RecordError
			if !errors.As(err, &re) {
				return got
			}
			continue
		}
		got = append(got, show(rec))
	}
	t.Fatal("reader did not stop")
	return nil
}

// match compares drain output with want; entries of want starting with
// "ERR:" need only be a prefix of the error text.
func match(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if strings.HasPrefix(want[i], "ERR:") {
			if !strings.HasPrefix(got[i], want[i]) {
				return false
			}
		} else if got[i] != want[i] {
			return false
		}
	}
	return true
}

func TestReader(t *testing.T) {
	const jsonl = `{"id":1,"text":"안녕하세요"}
{"id":2,"text":"second line"}

{"id":4,"text":"fourth"}
`
	longOK := strings.Repeat("가", 50000)                        // 150000 bytes, beyond the bufio buffer
	longBad := `{"text":"` + strings.Repeat("x", 300000) + `"}` // past a 200000-byte limit

	tests := []struct {
		name string
		file string
		data []byte
		opt  Options
		want []string
	}{
		{
			name: "text",
			file: "notes.txt",
			data: []byte("alpha\nbeta\n\ngamma"),
			want: []string{"1:alpha", "2:beta", "4:gamma"},
		},
		{
			name: "text CRLF",
			file: "notes.txt",
			data: []byte("alpha\r\nbeta\r\n\r\ngamma\r\n"),
			want: []string{"1:alpha", "2:beta", "4:gamma"},
		},
		{
			name: "text keeps JSON-looking lines",
			file: "x.jsonl",
			opt:  Options{Format: Text},
			data: []byte(`{"text":"a"}` + "\n"),
			want: []string{`1:{"text":"a"}`},
		},
		{
			name: "text byte order mark",
			file: "bom.txt",
			data: []byte("\xef\xbb\xbfhello\n\xef\xbb\xbfagain\n"),
			want: []string{"1:hello", "2:\ufeffagain"},
		},
		{
			name: "text whitespace-only line is a record",
			file: "a.txt",
			data: []byte(" \n\t\n"),
			want: []string{"1: ", "2:\t"},
		},
		{
			name: "jsonl",
			file: "reviews.jsonl",
			data: []byte(jsonl),
			want: []string{"1:안녕하세요", "2:second line", "4:fourth"},
		},
		{
			name: "jsonl CRLF and blank lines",
			file: "reviews.ndjson",
			data: []byte("{\"text\":\"a\"}\r\n  \r\n\r\n{\"text\":\"b\"}\r\n"),
			want: []string{"1:a", "4:b"},
		},
		{
			name: "jsonl gzip",
			file: "reviews.jsonl.gz",
			data: gzipBytes(t, []byte(jsonl)),
			want: []string{"1:안녕하세요", "2:second line", "4:fourth"},
		},
		{
			name: "jsonl zstd",
			file: "reviews.jsonl.zst",
			data: zstdBytes(t, []byte(jsonl)),
			want: []string{"1:안녕하세요", "2:second line", "4:fourth"},
		},
		{
			name: "text zstd",
			file: "notes.txt.zstd",
			data: zstdBytes(t, []byte("one\ntwo\n")),
			want: []string{"1:one", "2:two"},
		},
		{
			name: "gzip content behind misleading .txt name",
			file: "reviews.jsonl", // format by name, compression by magic
			data: gzipBytes(t, []byte(jsonl)),
			want: []string{"1:안녕하세요", "2:second line", "4:fourth"},
		},
		{
			name: "zstd content behind .gz name",
			file: "notes.gz",
			data: zstdBytes(t, []byte("z\n")),
			want: []string{"1:z"},
		},
		{
			name: "plain content behind .gz name",
			file: "reviews.jsonl.gz",
			data: []byte(`{"text":"plain"}`),
			want: []string{"1:plain"},
		},
		{
			name: "concatenated gzip members",
			file: "a.txt.gz",
			data: append(gzipBytes(t, []byte("one\n")), gzipBytes(t, []byte("two\n"))...),
			want: []string{"1:one", "2:two"},
		},
		{
			name: "missing field",
			file: "x.jsonl",
			data: []byte("{\"text\":\"a\"}\n{\"body\":\"b\"}\n{\"text\":\"c\"}\n"),
			want: []string{"1:a", `ERR:corpus: x.jsonl line 2: field "text": missing`, "3:c"},
		},
		{
			name: "null field",
			file: "x.jsonl",
			data: []byte(`{"text":null}`),
			want: []string{`ERR:corpus: x.jsonl line 1: field "text": expected a string, got null`},
		},
		{
			name: "skip missing and null",
			file: "x.jsonl",
			opt:  Options{SkipMissing: true},
			data: []byte("{\"body\":\"b\"}\n{\"text\":null}\n{\"text\":\"c\"}\n{\"text\":\"\"}\n"),
			want: []string{"3:c"},
		},
		{
			name: "skip missing still reports wrong type",
			file: "x.jsonl",
			opt:  Options{SkipMissing: true},
			data: []byte(`{"text":["a"]}`),
			want: []string{`ERR:corpus: x.jsonl line 1: field "text": expected a string, got array`},
		},
		{
			name: "wrong type",
			file: "reviews.jsonl.gz",
			data: gzipBytes(t, []byte(strings.Repeat("{\"text\":\"ok\"}\n", 16)+`{"text": 12.5}`+"\n")),
			want: append(lines(16, "ok"), `ERR:corpus: reviews.jsonl.gz line 17: field "text": expected a string, got number`),
		},
		{
			name: "wrong types",
			file: "x.jsonl",
			data: []byte("{\"text\":true}\n{\"text\":{}}\n"),
			want: []string{
				`ERR:corpus: x.jsonl line 1: field "text": expected a string, got boolean`,
				`ERR:corpus: x.jsonl line 2: field "text": expected a string, got object`,
			},
		},
		{
			name: "bad JSON",
			file: "x.jsonl",
			data: []byte("{\"text\":\"a\"\n{\"text\":\"b\"}\n{\"text\":\"c\"} x\n"),
			want: []string{
				"ERR:corpus: x.jsonl line 1: invalid JSON: ",
				"2:b",
				"ERR:corpus: x.jsonl line 3: invalid JSON: ",
			},
		},
		{
			name: "not an object",
			file: "x.jsonl",
			data: []byte("[1,2]\n\"text\"\n"),
			want: []string{
				"ERR:corpus: x.jsonl line 1: invalid JSON: expected an object, got array",
				"ERR:corpus: x.jsonl line 2: invalid JSON: expected an object, got string",
			},
		},
		{
			name: "escapes",
			file: "x.jsonl",
			data: []byte(`{"text":"a\nb\u00e9\ud800"}`),
			want: []string{"1:a\nbé\ufffd"},
		},
		{
			name: "custom field",
			file: "x.jsonl",
			opt:  Options{Field: "document"},
			data: []byte(`{"text":1,"document":"doc"}`),
			want: []string{"1:doc"},
		},
		{
			name: "dotted field",
			file: "x.jsonl",
			opt:  Options{Field: "meta.body"},
			data: []byte(`{"meta":{"body":"nested"}}
{"meta.body":"literal","meta":{"body":"nested"}}
{"meta":{"title":"t"}}
{"meta":null}
{"meta":"flat"}
{"meta":{"body":3}}
`),
			want: []string{
				"1:nested",
				"2:literal",
				`ERR:corpus: x.jsonl line 3: field "meta.body": missing`,
				`ERR:corpus: x.jsonl line 4: field "meta.body": missing`,
				`ERR:corpus: x.jsonl line 5: field "meta.body": "meta" is a string, not an object`,
				`ERR:corpus: x.jsonl line 6: field "meta.body": expected a string, got number`,
			},
		},
		{
			name: "deep dotted field",
			file: "x.jsonl",
			opt:  Options{Field: "a.b.c"},
			data: []byte(`{"a":{"b":{"c":"deep"}}}`),
			want: []string{"1:deep"},
		},
		{
			name: "over-long line",
			file: "x.txt",
			opt:  Options{MaxRecordBytes: 10},
			data: []byte("0123456789\r\n0123456789A\nok\n0123456789ABCDEF"),
			want: []string{
				"1:0123456789",
				"ERR:corpus: x.txt line 2: line too long: exceeds the limit of 10 bytes",
				"3:ok",
				"ERR:corpus: x.txt line 4: line too long: exceeds the limit of 10 bytes",
			},
		},
		{
			name: "long lines across buffer refills",
			file: "x.jsonl",
			opt:  Options{MaxRecordBytes: 200000},
			data: []byte(`{"text":"` + longOK + "\"}\n" + longBad + "\n{\"text\":\"after\"}\n"),
			want: []string{
				"1:" + longOK,
				"ERR:corpus: x.jsonl line 2: line too long: exceeds the limit of 200000 bytes",
				"3:after",
			},
		},
		{
			name: "invalid UTF-8 text",
			file: "x.txt",
			data: []byte("ok\nab\xffcd\nnext\n"),
			want: []string{"1:ok", "ERR:corpus: x.txt line 2: invalid UTF-8 at byte offset 2", "3:next"},
		},
		{
			name: "invalid UTF-8 jsonl",
			file: "x.jsonl",
			data: []byte("{\"text\":\"\xc3\x28\"}\n"),
			want: []string{"ERR:corpus: x.jsonl line 1: invalid UTF-8 at byte offset 9"},
		},
		{
			name: "empty input",
			file: "x.jsonl",
			data: nil,
			want: nil,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewReader(bytes.NewReader(tc.data), tc.file, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			got := drain(t, r)
			if !match(got, tc.want) {
				t.Errorf("got\n%s\nwant\n%s", shorten(got), shorten(tc.want))
			}
		})
	}
}

func lines(n int, text string) []string {
	var out []string
	for i := 1; i <= n; i++ {
		out = append(out, fmt.Sprintf("%d:%s", i, text))
	}
	return out
}

func shorten(s []string) string {
	var b strings.Builder
	for _, x := range s {
		if len(x) > 120 {
			x = x[:120] + "…"
		}
		fmt.Fprintf(&b, "  %q\n", x)
	}
	return b.String()
}

func TestErrorsIs(t *testing.T) {
	tests := []struct {
		data string
		opt  Options
		want error
	}{
		{`{"x":1}`, Options{}, ErrMissingField},
		{`{"text":1}`, Options{}, ErrFieldType},
		{`{"a":1}`, Options{Field: "a.b"}, ErrFieldType},
		{`{"text":`, Options{}, ErrInvalidJSON},
		{"\xff", Options{}, ErrInvalidUTF8},
		{`{"text":"long"}`, Options{MaxRecordBytes: 4}, ErrLineTooLong},
	}
	for _, tc := range tests {
		r, err := NewReader(strings.NewReader(tc.data), "x.jsonl", tc.opt)
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.Next()
		var re *RecordError
		if !errors.Is(err, tc.want) || !errors.As(err, &re) || re.Line != 1 || re.Name != "x.jsonl" {
			t.Errorf("%q: got %v, want %v in a *RecordError", tc.data, err, tc.want)
		}
	}
}

func TestFormatByName(t *testing.T) {
	tests := map[string]Format{
		"a.jsonl":            JSONL,
		"a.json":             JSONL,
		"a.ndjson":           JSONL,
		"A.JSONL.GZ":         JSONL,
		"dir/a.jsonl.zst":    JSONL,
		"a.json.zstd":        JSONL,
		"a.txt":              Text,
		"a.txt.gz":           Text,
		"a":                  Text,
		"":                   Text,
		"a.jsonl.bak":        Text,
		"a.jsonl.gz.zst":     Text,
		"dir.jsonl/data.txt": Text,
	}
	for name, want := range tests {
		r, err := NewReader(strings.NewReader(""), name, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Format(); got != want {
			t.Errorf("%q: got %v, want %v", name, got, want)
		}
	}
}

func TestCorrupt(t *testing.T) {
	text := []byte(strings.Repeat("some line of text that compresses\n", 2000))
	gz := gzipBytes(t, text)
	zs := zstdBytes(t, text)

	flip := func(b []byte, i int) []byte {
		c := bytes.Clone(b)
		c[i] ^= 0xff
		return c
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"gzip flipped byte", flip(gz, len(gz)/2)},
		{"gzip bad checksum", flip(gz, len(gz)-6)},
		{"gzip truncated", gz[:len(gz)/2]},
		{"gzip trailing garbage", append(bytes.Clone(gz), "garbage!"...)},
		{"zstd flipped byte", flip(zs, len(zs)/2)},
		{"zstd truncated", zs[:len(zs)-3]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewReader(bytes.NewReader(tc.data), "broken.txt.gz", Options{})
			if err != nil {
				if !strings.Contains(err.Error(), "broken.txt.gz") {
					t.Errorf("error does not name the file: %v", err)
				}
				return
			}
			defer r.Close()
			var last error
			for range 100000 {
				_, err := r.Next()
				if err != nil {
					last = err
					break
				}
			}
			if last == nil || last == io.EOF {
				t.Fatalf("corruption not detected: %v", last)
			}
			if !strings.HasPrefix(last.Error(), "corpus: broken.txt.gz: ") {
				t.Errorf("error does not name the file: %v", last)
			}
			if _, again := r.Next(); again != last {
				t.Errorf("error not sticky: %v then %v", last, again)
			}
		})
	}

	t.Run("gzip header", func(t *testing.T) {
		_, err := NewReader(bytes.NewReader([]byte{0x1f, 0x8b, 0, 0, 0}), "h.gz", Options{})
		if err == nil || !strings.Contains(err.Error(), "corpus: h.gz: ") {
			t.Errorf("got %v", err)
		}
	})
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "data.jsonl.zst")
	if err := os.WriteFile(path, zstdBytes(t, []byte("{\"text\":\"a\"}\n{\"text\":\"b\"}\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := drain(t, r), []string{"1:a", "2:b"}; !match(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := r.Next(); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Next after Close: %v", err)
	}

	bad := filepath.Join(dir, "bad.jsonl")
	if err := os.WriteFile(bad, []byte("{\"text\":7}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err = Open(bad, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	want := "corpus: " + bad + ` line 1: field "text": expected a string, got number`
	if _, err := r.Next(); err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}

	if _, err := Open(filepath.Join(dir, "nope.txt"), Options{}); err == nil || !strings.Contains(err.Error(), "nope.txt") {
		t.Errorf("missing file: %v", err)
	}
	if _, err := Open(path, Options{Format: Format(9)}); err == nil || !strings.Contains(err.Error(), "unknown format") {
		t.Errorf("bad format: %v", err)
	}
}

func TestAll(t *testing.T) {
	data := "{\"text\":\"a\"}\n{\"text\":2}\n{\"text\":\"c\"}\n"
	r, err := NewReader(strings.NewReader(data), "x.jsonl", Options{})
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	var errs int
	for rec, err := range r.All() {
		if err != nil {
			errs++
			continue
		}
		texts = append(texts, rec.Text)
	}
	if strings.Join(texts, ",") != "a,c" || errs != 1 {
		t.Errorf("got %q with %d errors", texts, errs)
	}

	// A sticky error ends the iteration.
	r, err = NewReader(bytes.NewReader(gzipBytes(t, []byte("a\nb\n"))[:12]), "t.gz", Options{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, err := range r.All() {
		n++
		if err == nil {
			t.Error("expected an error")
		}
	}
	if n != 1 {
		t.Errorf("got %d iterations, want 1", n)
	}

	// Breaking out early is fine.
	r, _ = NewReader(strings.NewReader("a\nb\nc\n"), "t.txt", Options{})
	for rec := range r.All() {
		if rec.Text != "a" {
			t.Errorf("got %q", rec.Text)
		}
		break
	}
	if rec, err := r.Next(); err != nil || rec.Text != "b" {
		t.Errorf("after break: %v %v", rec, err)
	}
}

func TestNSMC(t *testing.T) {
	const path = "../../shared/data/nsmc/reviews.jsonl.gz"
	if _, err := os.Stat(path); err != nil {
		t.Skipf("NSMC data not available: %v", err)
	}
	r, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var prev int64
	for i := range 1000 {
		rec, err := r.Next()
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if rec.Text == "" || !utf8.ValidString(rec.Text) {
			t.Fatalf("line %d: bad text %q", rec.Line, rec.Text)
		}
		if rec.Line <= prev {
			t.Fatalf("line numbers not increasing: %d after %d", rec.Line, prev)
		}
		prev = rec.Line
	}
}

func TestJSONLID(t *testing.T) {
	data := `{"id":"doc-1","text":"a"}
{"id":42,"text":"b"}
{"text":"c"}
{"id":null,"text":"d"}
{"id":{"x":1},"text":"e"}
{"id":"skipped","text":""}
{"meta":{"id":1.5e3},"id":true,"text":"f"}
`
	r, err := NewReader(strings.NewReader(data), "ids.jsonl", Options{IDField: "id"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"1:doc-1:a", "2:42:b", "3::c", "4::d",
		`ERR:corpus: ids.jsonl line 5: field "id": expected a string or number, got object`,
		`ERR:corpus: ids.jsonl line 7: field "id": expected a string or number, got boolean`}
	if got := drainIDs(t, r); !match(got, want) {
		t.Errorf("got\n%s\nwant\n%s", shorten(got), shorten(want))
	}

	r, _ = NewReader(strings.NewReader(data), "ids.jsonl", Options{IDField: "meta.id"})
	var ids []string
	for rec, err := range r.All() {
		if err == nil {
			ids = append(ids, rec.ID)
		}
	}
	if got := strings.Join(ids, ","); got != ",,,,,1.5e3" {
		t.Errorf("dotted ID field: %q", got)
	}

	// Text files have no IDs, and the ID field is not needed.
	r, _ = NewReader(strings.NewReader("x\n"), "a.txt", Options{IDField: "id"})
	if rec, err := r.Next(); err != nil || rec.ID != "" {
		t.Errorf("text: %+v %v", rec, err)
	}
}

func TestRecordErrorUnits(t *testing.T) {
	for _, tc := range []struct {
		err  *RecordError
		want string
	}{
		{&RecordError{Name: "a.txt", Line: 3, Err: ErrInvalidUTF8}, "corpus: a.txt line 3: invalid UTF-8"},
		{&RecordError{Name: "a.parquet", Line: 4, Err: ErrMissingField, unit: "row"}, "corpus: a.parquet row 4: missing"},
		{&RecordError{Name: "a.warc", Line: 5, Err: ErrLineTooLong, unit: "record"}, "corpus: a.warc record 5: line too long"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}

func TestParseFormat(t *testing.T) {
	for f := Auto; f <= WARC; f++ {
		if got, err := ParseFormat(f.String()); err != nil || got != f {
			t.Errorf("ParseFormat(%q) = %v, %v", f.String(), got, err)
		}
	}
	if got, err := ParseFormat(""); err != nil || got != Auto {
		t.Errorf(`ParseFormat("") = %v, %v`, got, err)
	}
	if _, err := ParseFormat("docx"); err == nil {
		t.Error("docx accepted")
	}
}
