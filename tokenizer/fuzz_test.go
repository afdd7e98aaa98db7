package tokenizer

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzRoundTrip checks decode(encode(x)) == x for every valid UTF-8 input
// on each family of tokenizer, and a clear error for invalid UTF-8.
func FuzzRoundTrip(f *testing.F) {
	for _, s := range []string{"", "안녕하세요 world", "I'm 12345 \n\n  x", "<|endoftext|>ab", "ㅋㅋㅋㅋ😀\r\n", "\xff\xfe"} {
		f.Add(s)
	}
	cl, err := Named("cl100k")
	if err != nil {
		f.Fatal(err)
	}
	o2, err := Named("o200k")
	if err != nil {
		f.Fatal(err)
	}
	tiny, err := LoadJSON("testdata/tiny.json")
	if err != nil {
		f.Fatal(err)
	}
	toks := []*Tokenizer{cl, o2, tiny}
	f.Fuzz(func(t *testing.T, s string) {
		for _, tok := range toks {
			ids, err := tok.Encode(s)
			if !utf8.ValidString(s) {
				var bad *InvalidUTF8Error
				if !errors.As(err, &bad) {
					t.Fatalf("invalid UTF-8 %q: got %v", s, err)
				}
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			back, err := tok.Decode(ids)
			if err != nil || back != s {
				t.Fatalf("%q: decoded %q, %v", s, back, err)
			}
		}
	})
}

// FuzzReadTiktoken feeds arbitrary bytes to the rank-file parser: it must
// fail cleanly or give a tokenizer that round-trips text.
func FuzzReadTiktoken(f *testing.F) {
	var full bytes.Buffer
	cl, err := Named("cl100k")
	if err != nil {
		f.Fatal(err)
	}
	if err := cl.WriteTiktoken(&full); err != nil {
		f.Fatal(err)
	}
	lines := strings.SplitAfter(full.String(), "\n")
	f.Add(strings.Join(lines[:300], ""))
	f.Add("YQ== 0\nYg== 1\n")
	f.Add("!!! x\n")
	f.Fuzz(func(t *testing.T, data string) {
		tok, err := ReadTiktoken(strings.NewReader(data), "fuzz.tiktoken", PatternCL100K, nil)
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.tiktoken") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		ids, err := tok.Encode("hello 세계")
		if err != nil {
			t.Fatal(err)
		}
		if back, _ := tok.Decode(ids); back != "hello 세계" {
			t.Fatalf("round trip gave %q", back)
		}
	})
}
