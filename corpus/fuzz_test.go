package corpus

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/parquet-go/parquet-go"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzJSONL feeds arbitrary bytes (possibly gzip or zstd, detected by magic)
// to a JSONL reader and checks that it never panics, never loops, and only
// returns non-empty, valid UTF-8 records with increasing line numbers.
func FuzzJSONL(f *testing.F) {
	f.Add([]byte("{\"text\":\"hello\"}\n{\"text\":\"세계\"}\n"), "text", false)
	f.Add([]byte("{\"text\":\"a\\ud800b\"}\r\n\n{\"text\":null}\n"), "text", true)
	f.Add([]byte("{\"meta\":{\"body\":\"x\"}}\n{\"meta\":[1]}\n"), "meta.body", false)
	f.Add([]byte("{\"text\":\"\xff\"}\n[1]\n{\"text\":"), "text", false)
	f.Add([]byte("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"), "text", false)
	f.Add([]byte("\x28\xb5\x2f\xfd\x00\x00"), "text", false)
	f.Add([]byte("\xef\xbb\xbf{\"text\":\"bom\"}"), "", false)

	f.Fuzz(func(t *testing.T, data []byte, field string, skip bool) {
		for _, max := range []int{0, 16} {
			r, err := NewReader(bytes.NewReader(data), "fuzz.jsonl", Options{
				Format:         JSONL,
				Field:          field,
				SkipMissing:    skip,
				MaxRecordBytes: max,
			})
			if err != nil {
				continue
			}
			var prev int64
			// Decompressed input can be much larger than data; a record
			// needs at least one byte, so bound the loop generously.
			for i := 0; ; i++ {
				if i > 1<<20 {
					t.Fatal("too many records")
				}
				rec, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					var re *RecordError
					if errors.As(err, &re) {
						if re.Line <= prev {
							t.Fatalf("error line %d not after %d", re.Line, prev)
						}
						prev = re.Line
						continue
					}
					break
				}
				if rec.Text == "" || !utf8.ValidString(rec.Text) {
					t.Fatalf("line %d: bad text %q", rec.Line, rec.Text)
				}
				if rec.Line <= prev {
					t.Fatalf("line %d not after %d", rec.Line, prev)
				}
				prev = rec.Line
			}
			if err := r.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
		}
	})
}

// checkReader drains r and checks what a Reader promises on any input: no
// panic, no endless loop, records with non-empty valid UTF-8 text and
// increasing numbers, errors that name the input, sticky errors other than
// *RecordError, and a clean Close.
func checkReader(t *testing.T, r *Reader, name string) {
	t.Helper()
	var prev int64
	for i := 0; ; i++ {
		if i > 1<<20 {
			t.Fatal("too many records")
		}
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if !strings.Contains(err.Error(), name) {
				t.Fatalf("error does not name the input: %v", err)
			}
			var re *RecordError
			if errors.As(err, &re) {
				// A WARC record that is not where it should be
				// takes the number of the record found after it.
				if re.Line < prev {
					t.Fatalf("error number %d before %d", re.Line, prev)
				}
				prev = re.Line
				continue
			}
			if _, again := r.Next(); again != err {
				t.Fatalf("error not sticky: %v, then %v", err, again)
			}
			break
		}
		if rec.Text == "" || !utf8.ValidString(rec.Text) || !utf8.ValidString(rec.ID) {
			t.Fatalf("record %d: bad text %q or ID %q", rec.Line, rec.Text, rec.ID)
		}
		if rec.Line <= prev && !(rec.Line == prev && r.Format() == WARC) {
			t.Fatalf("record %d not after %d", rec.Line, prev)
		}
		prev = rec.Line
	}
	if err := r.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// FuzzParquet feeds arbitrary bytes to the Parquet reader. The committed
// seeds (testdata/fuzz/FuzzParquet, written by TestWriteFuzzSeeds) are
// small valid files whose page checksums are removed, so that mutations
// reach the page decoders.
func FuzzParquet(f *testing.F) {
	f.Add([]byte("PAR1\x15\x00PAR1"), "text", "", false)
	f.Fuzz(func(t *testing.T, data []byte, field, idField string, skip bool) {
		r, err := NewReader(bytes.NewReader(data), "fuzz.parquet", Options{
			Format:         Parquet,
			Field:          field,
			IDField:        idField,
			SkipMissing:    skip,
			MaxRecordBytes: 64,
		})
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.parquet") {
				t.Fatalf("error does not name the input: %v", err)
			}
			return
		}
		checkReader(t, r, "fuzz.parquet")
	})
}

// FuzzWARC feeds arbitrary bytes (plain, or gzip or zstd by magic) to the
// WARC reader, with a small and the default record limit.
func FuzzWARC(f *testing.F) {
	f.Add([]byte("WARC/1.1\r\nWARC-Type: conversion\r\nContent-Length: 5\r\n\r\nhello\r\n\r\n"), false)
	f.Fuzz(func(t *testing.T, data []byte, small bool) {
		opt := Options{Format: WARC}
		if small {
			opt.MaxRecordBytes = 256
		}
		r, err := NewReader(bytes.NewReader(data), "fuzz.warc", opt)
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.warc") {
				t.Fatalf("error does not name the input: %v", err)
			}
			return
		}
		checkReader(t, r, "fuzz.warc")
	})
}

// FuzzHTMLText checks that main-text extraction never panics, and returns
// valid UTF-8 for valid UTF-8 input.
func FuzzHTMLText(f *testing.F) {
	f.Add([]byte(page))
	f.Add([]byte(warcPage))
	f.Add([]byte(`<div class="nav"><p>x</p></div><header><h1>a</h1></header><article><header><h1>b</h1></header></article>`))
	f.Add([]byte("<meta charset=euc-kr><p>\xc7\xd1\xb1\xdb</p>"))
	f.Add([]byte(strings.Repeat("<div class=menu>", 50) + "text" + strings.Repeat("<a href=x>", 50)))
	f.Fuzz(func(t *testing.T, data []byte) {
		text, truncated, err := HTMLText(bytes.NewReader(data), 1<<20)
		if err != nil || truncated {
			t.Fatal(err, truncated)
		}
		if utf8.Valid(data) && !utf8.ValidString(text) {
			t.Fatalf("invalid UTF-8 output %q", text)
		}
	})
}

// TestWriteFuzzSeeds writes the committed seeds of FuzzParquet and FuzzWARC
// when DOKJA_WRITE_FUZZ_SEEDS=1 (run it after changing the sample files).
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("DOKJA_WRITE_FUZZ_SEEDS") != "1" {
		t.Skip("set DOKJA_WRITE_FUZZ_SEEDS=1 to rewrite testdata/fuzz seeds")
	}
	write := func(target, name string, args ...any) {
		var b strings.Builder
		b.WriteString("go test fuzz v1\n")
		for _, a := range args {
			switch v := a.(type) {
			case []byte:
				fmt.Fprintf(&b, "[]byte(%q)\n", v)
			case string:
				fmt.Fprintf(&b, "string(%q)\n", v)
			case bool:
				fmt.Fprintf(&b, "bool(%v)\n", v)
			}
		}
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	sample := stripCRC(t, pqSample(t))
	write("FuzzParquet", "sample", sample, "text", "name", false)
	write("FuzzParquet", "sample_nested_skip", sample, "meta.body", "id", true)
	write("FuzzParquet", "zstd", stripCRC(t, pqSample(t, parquet.Compression(&parquet.Zstd))), "text", "n", false)
	write("FuzzParquet", "snappy", stripCRC(t, pqSample(t, parquet.Compression(&parquet.Snappy))), "text", "", true)
	type dictRow struct {
		Text string `parquet:"text,dict"`
		ID   int32  `parquet:"id"`
	}
	dict := stripCRC(t, pqBytes(t, []dictRow{{"가나다", 1}, {"라마", 2}, {"가나다", 3}, {"", 4}}, parquet.MaxRowsPerRowGroup(2)))
	write("FuzzParquet", "dictionary", dict, "text", "id", false)
	type plainRow struct {
		Text *string `parquet:"text,optional,plain"`
	}
	plain := stripCRC(t, pqBytes(t, []plainRow{{strp("plain")}, {nil}, {strp("encoding")}}))
	write("FuzzParquet", "plain_optional", plain, "text", "", false)
	write("FuzzParquet", "truncated", sample[:len(sample)/2], "text", "", false)

	recs, _ := warcSample(t)
	write("FuzzWARC", "sample", []byte(strings.Join(recs, "")), false)
	write("FuzzWARC", "sample_gzip_members", gzipEach(t, recs[2:6]), true)
	write("FuzzWARC", "bad_content_length", []byte(
		warcRec("conversion", []string{"Content-Length: 3"}, "longer")+
			warcRec("conversion", []string{"Content-Length: x"}, "text")+
			warcRec("resource", []string{"Content-Type: text/plain; charset=euc-kr"}, eucKR(t, "한국어"))), false)
	write("FuzzWARC", "truncated", []byte(strings.Join(recs, ""))[:700], true)
}
