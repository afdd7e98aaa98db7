// Package wordpiece reads BERT's WordPiece tokenizers (tokenizer.json with
// a WordPiece model, BertNormalizer and BertPreTokenizer, as BERT, KLUE's
// BERT and RoBERTa, and multilingual BERT ship them) and encodes text as
// Hugging Face's tokenizers library does.
package wordpiece

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode"

	"github.com/dokja/dokja/tokenizer"
	"golang.org/x/text/unicode/norm"
)

// Tokenizer is a loaded WordPiece tokenizer; it is safe for concurrent use.
type Tokenizer struct {
	vocab    map[string]int
	unk      int
	prefix   string // "##"
	maxChars int
	// The normalizer's switches.
	clean, chinese, stripAccents, lower bool
	// added tokens, matched in the text before anything else, longest
	// first.
	added []added
	// The template of a single sequence: ids before and after it.
	before, after []int
}

type added struct {
	content string
	id      int
}

type file struct {
	AddedTokens []struct {
		ID      int    `json:"id"`
		Content string `json:"content"`
	} `json:"added_tokens"`
	Normalizer *struct {
		Type               string `json:"type"`
		CleanText          bool   `json:"clean_text"`
		HandleChineseChars bool   `json:"handle_chinese_chars"`
		StripAccents       *bool  `json:"strip_accents"`
		Lowercase          bool   `json:"lowercase"`
	} `json:"normalizer"`
	PreTokenizer *struct {
		Type string `json:"type"`
	} `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Model         struct {
		Type                    string         `json:"type"`
		UnkToken                string         `json:"unk_token"`
		ContinuingSubwordPrefix string         `json:"continuing_subword_prefix"`
		MaxInputCharsPerWord    int            `json:"max_input_chars_per_word"`
		Vocab                   map[string]int `json:"vocab"`
	} `json:"model"`
}

// Load reads a WordPiece tokenizer.json.
func Load(path string) (*Tokenizer, error) {
	var f file
	if err := tokenizer.DecodeFile(path, &f); err != nil {
		return nil, err
	}
	t, err := build(&f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

func build(f *file) (*Tokenizer, error) {
	m := &f.Model
	if m.Type != "WordPiece" {
		return nil, fmt.Errorf(`field "model.type": %q, not "WordPiece"`, m.Type)
	}
	if len(m.Vocab) == 0 {
		return nil, errors.New(`field "model.vocab": empty`)
	}
	t := &Tokenizer{vocab: m.Vocab, prefix: m.ContinuingSubwordPrefix, maxChars: m.MaxInputCharsPerWord}
	if t.maxChars <= 0 {
		t.maxChars = 100
	}
	unk, ok := m.Vocab[m.UnkToken]
	if !ok {
		return nil, fmt.Errorf(`field "model.unk_token": %q is not in the vocabulary`, m.UnkToken)
	}
	t.unk = unk
	if n := f.Normalizer; n != nil {
		if n.Type != "BertNormalizer" {
			return nil, fmt.Errorf(`field "normalizer.type": %q is not supported (BertNormalizer)`, n.Type)
		}
		t.clean, t.chinese, t.lower = n.CleanText, n.HandleChineseChars, n.Lowercase
		t.stripAccents = n.Lowercase // unset: it follows lowercase
		if n.StripAccents != nil {
			t.stripAccents = *n.StripAccents
		}
	}
	if p := f.PreTokenizer; p == nil || p.Type != "BertPreTokenizer" {
		return nil, errors.New(`field "pre_tokenizer": only BertPreTokenizer is supported`)
	}
	for _, a := range f.AddedTokens {
		if a.Content != "" {
			t.added = append(t.added, added{a.Content, a.ID})
		}
	}
	sort.SliceStable(t.added, func(i, j int) bool { return len(t.added[i].content) > len(t.added[j].content) })
	before, after, err := tokenizer.ParseTemplate(f.PostProcessor)
	if err != nil {
		return nil, err
	}
	t.before, t.after = before, after
	return t, nil
}

// VocabSize is one more than the largest id.
func (t *Tokenizer) VocabSize() int {
	n := 0
	for _, id := range t.vocab {
		n = max(n, id+1)
	}
	for _, a := range t.added {
		n = max(n, a.id+1)
	}
	return n
}

// Encode returns the ids of text without the special tokens the template
// adds (add_special_tokens=false).
func (t *Tokenizer) Encode(text string) ([]int, error) {
	var ids []int
	for len(text) > 0 {
		// The earliest added token, longest at its place.
		at, which := len(text), -1
		for i, a := range t.added {
			if j := strings.Index(text, a.content); j >= 0 && (j < at || (j == at && len(a.content) > len(t.added[which].content))) {
				at, which = j, i
			}
		}
		ids = t.appendPlain(ids, text[:at])
		if which < 0 {
			break
		}
		ids = append(ids, t.added[which].id)
		text = text[at+len(t.added[which].content):]
	}
	return ids, nil
}

// EncodeWithSpecial returns the ids of text inside the template's
// special tokens ([CLS] ... [SEP]), as a model is fed.
func (t *Tokenizer) EncodeWithSpecial(text string) ([]int, error) {
	ids, err := t.Encode(text)
	if err != nil {
		return nil, err
	}
	out := append(append([]int(nil), t.before...), ids...)
	return append(out, t.after...), nil
}

func (t *Tokenizer) appendPlain(ids []int, text string) []int {
	for _, w := range t.words(t.normalize(text)) {
		ids = t.appendWord(ids, w)
	}
	return ids
}

// normalize applies BertNormalizer.
func (t *Tokenizer) normalize(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case t.clean && (r == 0 || r == 0xFFFD || isControl(r)):
			continue
		case t.clean && isWhitespace(r):
			b.WriteByte(' ')
		case t.chinese && isChinese(r):
			b.WriteByte(' ')
			b.WriteRune(r)
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	s = b.String()
	if t.stripAccents {
		s = norm.NFD.String(s)
		s = strings.Map(func(r rune) rune {
			if unicode.Is(unicode.Mn, r) {
				return -1
			}
			return r
		}, s)
	}
	if t.lower {
		s = strings.ToLower(s)
	}
	return s
}

// words applies BertPreTokenizer: split at whitespace (dropped) and
// around each punctuation character (kept alone).
func (t *Tokenizer) words(s string) []string {
	var out []string
	start := -1
	for i, r := range s {
		switch {
		case isWhitespace(r):
			if start >= 0 {
				out = append(out, s[start:i])
				start = -1
			}
		case isPunct(r):
			if start >= 0 {
				out = append(out, s[start:i])
				start = -1
			}
			out = append(out, string(r))
		default:
			if start < 0 {
				start = i
			}
		}
	}
	if start >= 0 {
		out = append(out, s[start:])
	}
	return out
}

// appendWord applies the WordPiece model: the longest vocabulary entry
// from the start, then "##" continuations; a word that cannot be covered
// is one unknown token.
func (t *Tokenizer) appendWord(ids []int, w string) []int {
	runes := []rune(w)
	if len(runes) > t.maxChars {
		return append(ids, t.unk)
	}
	var pieces []int
	for start := 0; start < len(runes); {
		end, id := len(runes), -1
		for ; end > start; end-- {
			sub := string(runes[start:end])
			if start > 0 {
				sub = t.prefix + sub
			}
			if v, ok := t.vocab[sub]; ok {
				id = v
				break
			}
		}
		if id < 0 {
			return append(ids, t.unk)
		}
		pieces = append(pieces, id)
		start = end
	}
	return append(ids, pieces...)
}

// The character classes of BERT's original tokenizer, as tokenizers
// defines them.
func isWhitespace(r rune) bool { return unicode.IsSpace(r) }

func isControl(r rune) bool {
	if r == '\t' || r == '\n' || r == '\r' {
		return false
	}
	return unicode.Is(unicode.C, r)
}

func isPunct(r rune) bool {
	return r >= 33 && r <= 47 || r >= 58 && r <= 64 || r >= 91 && r <= 96 || r >= 123 && r <= 126 || unicode.IsPunct(r)
}

func isChinese(r rune) bool {
	return r >= 0x4E00 && r <= 0x9FFF || r >= 0x3400 && r <= 0x4DBF || r >= 0x20000 && r <= 0x2A6DF || r >= 0x2A700 && r <= 0x2B73F ||
		r >= 0x2B740 && r <= 0x2B81F || r >= 0x2B820 && r <= 0x2CEAF || r >= 0xF900 && r <= 0xFAFF || r >= 0x2F800 && r <= 0x2FA1F
}
