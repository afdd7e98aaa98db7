package corpus

import (
	"bytes"
	"errors"
	"io"
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
