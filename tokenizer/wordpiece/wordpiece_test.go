package wordpiece

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dokja/dokja/tokenizer/internal/hfref"
)

var texts = []string{
	"서울에서 회의를 엽니다.",
	"안녕하세요! 문서를 저장하려면 파일 - 저장.",
	"To save the document, open the file.",
	"Inserting charts (2024년)",
	"  several   spaces\tand\nlines  ",
	"中文 and 한국어",
	"Café cafe CAFÉ",
	"control\u0000chars\u200b and \ufffd gone",
	"[CLS] already special [SEP] and [MASK]",
	"unknownwordsxyz hello-world",
	"",
	"x" + strings.Repeat("x", 120),
}

// TestMatchesTokenizersJS: cased (multilingual BERT's settings) and
// uncased (accents stripped, so Hangul is decomposed, as BERT's uncased
// models do) tokenizers give Tokenizers.js's ids on Korean, English,
// CJK, accented, control-character and special-token text.
func TestMatchesTokenizersJS(t *testing.T) {
	for _, name := range []string{"cased", "uncased"} {
		path := filepath.Join("testdata", name+".json")
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
			if len(got) == 0 && len(want[i]) == 0 {
				continue
			}
			if testing.Verbose() && i < 3 {
				t.Logf("%s %q: %v", name, s, got)
			}
			if !slices.Equal(got, want[i]) {
				t.Errorf("%s %q: %v, Tokenizers.js %v", name, s, got, want[i])
			}
		}
	}
}

func TestTemplateAndErrors(t *testing.T) {
	tok, err := Load(filepath.Join("testdata", "cased.json"))
	if err != nil {
		t.Fatal(err)
	}
	ids, _ := tok.EncodeWithSpecial("서울")
	if ids[0] != tok.vocab["[CLS]"] || ids[len(ids)-1] != tok.vocab["[SEP]"] {
		t.Errorf("with specials: %v, want [CLS] ... [SEP]", ids)
	}
	b, _ := os.ReadFile(filepath.Join("testdata", "cased.json"))
	for _, tc := range []struct{ from, to, want string }{
		{`"type": "WordPiece",
  "unk_token"`, `"type": "BPE",
  "unk_token"`, `not "WordPiece"`},
		{`"unk_token": "[UNK]"`, `"unk_token": "<unk>"`, "not in the vocabulary"},
		{`"type": "BertPreTokenizer"`, `"type": "Whitespace"`, "only BertPreTokenizer"},
	} {
		src := strings.Replace(string(b), tc.from, tc.to, 1)
		if src == string(b) {
			t.Fatalf("%s not found", tc.from)
		}
		p := filepath.Join(t.TempDir(), "t.json")
		os.WriteFile(p, []byte(src), 0o644)
		if _, err := Load(p); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.to, err, tc.want)
		}
	}
}

// FuzzEncode: any text encodes without panicking, to ids of the
// vocabulary, inside the template when asked.
func FuzzEncode(f *testing.F) {
	for _, s := range texts {
		f.Add(s)
	}
	tok, err := Load(filepath.Join("testdata", "uncased.json"))
	if err != nil {
		f.Fatal(err)
	}
	n := tok.VocabSize()
	f.Fuzz(func(t *testing.T, s string) {
		ids, err := tok.EncodeWithSpecial(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			if id < 0 || id >= n {
				t.Fatalf("%q: id %d outside the vocabulary of %d", s, id, n)
			}
		}
		if len(ids) < 2 || ids[0] != tok.vocab["[CLS]"] || ids[len(ids)-1] != tok.vocab["[SEP]"] {
			t.Fatalf("%q: %v lacks the template", s, ids)
		}
	})
}
