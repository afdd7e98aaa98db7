package unigram

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/dokja/dokja/tokenizer/internal/hfref"
)

var texts = []string{
	"서울에서 회의를 엽니다.",
	"안녕하세요! 문서를 저장하려면 파일 - 저장.",
	"to save the document, open a file",
	"  several   spaces\tand\nlines  ",
	"中文 and 한국어 (2024년)",
	"café Café ｃａｆｅ", // full-width letters: NFKC
	"control\u0001chars\u00a0and\u3000spaces",
	"unknown 😀😀 chars ✓ here",
	"<s> tokens </s> inside <mask> text",
	"～ tilde ~",
	"x",
}

// TestMatchesTokenizersJS: an XLM-RoBERTa-shaped Unigram tokenizer
// (Precompiled and Replace normalizers, Metaspace, added tokens) gives
// Tokenizers.js's ids on Korean, English, CJK, full-width, control and
// space characters, unknown characters and special tokens.
func TestMatchesTokenizersJS(t *testing.T) {
	path := filepath.Join("testdata", "xlmr-like.json")
	want := hfref.IDs(t, path, texts)
	tok, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range texts {
		got, err := tok.Encode(s)
		if err != nil {
			t.Fatal(err)
		}
		if testing.Verbose() {
			t.Logf("%q: %v", s, got)
		}
		if !slices.Equal(got, want[i]) && !(len(got) == 0 && len(want[i]) == 0) {
			t.Errorf("%q: %v, Tokenizers.js %v", s, got, want[i])
		}
	}
	ids, _ := tok.EncodeWithSpecial("서울")
	if ids[0] != 0 || ids[len(ids)-1] != 2 {
		t.Errorf("with specials: %v, want <s> ... </s>", ids)
	}
}

// FuzzEncode: any text encodes without panicking, to ids of the
// vocabulary, inside the template.
func FuzzEncode(f *testing.F) {
	for _, s := range texts {
		f.Add(s)
	}
	tok, err := Load(filepath.Join("testdata", "xlmr-like.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ids, err := tok.EncodeWithSpecial(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			if id < 0 || id >= len(tok.scores) {
				t.Fatalf("%q: id %d outside the vocabulary", s, id)
			}
		}
		if len(ids) < 2 || ids[0] != 0 || ids[len(ids)-1] != 2 {
			t.Fatalf("%q: %v lacks the template", s, ids)
		}
	})
}
