// Package unigram reads SentencePiece Unigram tokenizers (tokenizer.json
// with a Unigram model and a Metaspace pre-tokenizer, as XLM-RoBERTa,
// BGE-M3 and multilingual E5 ship them) and encodes text by the Viterbi
// segmentation of Hugging Face's tokenizers.
//
// The Precompiled normalizer (SentencePiece's nmt_nfkc character map) is
// applied as Tokenizers.js applies it: control characters dropped, other
// spaces made plain, then NFKC (precomposed Hangul passes unchanged). The
// map itself is not decoded.
package unigram

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/dokja/dokja/tokenizer"
	"golang.org/x/text/unicode/norm"
)

// Tokenizer is a loaded Unigram tokenizer; it is safe for concurrent use.
type Tokenizer struct {
	pieces   map[string]int
	scores   []float64
	maxLen   int // the longest piece, in characters
	unk      int
	unkScore float64
	// The normalizer's steps, in order.
	steps []func(string) string
	// Metaspace.
	replacement string
	prepend     string // always, first or never
	added       []added
	before      []int
	after       []int
	pair        func(a, b []int) []int // nil without a pair template
}

type added struct {
	content        string
	id             int
	lstrip, rstrip bool // swallow the whitespace on that side
}

type normalizerSpec struct {
	Type        string           `json:"type"`
	Normalizers []normalizerSpec `json:"normalizers"`
	Pattern     *struct {
		Regex  *string `json:"Regex"`
		String *string `json:"String"`
	} `json:"pattern"`
	Content string `json:"content"`
}

type preTokenizerSpec struct {
	Type           string             `json:"type"`
	Replacement    string             `json:"replacement"`
	PrependScheme  string             `json:"prepend_scheme"`
	AddPrefixSpace *bool              `json:"add_prefix_space"`
	PreTokenizers  []preTokenizerSpec `json:"pretokenizers"`
}

type file struct {
	AddedTokens []struct {
		ID      int    `json:"id"`
		Content string `json:"content"`
		LStrip  bool   `json:"lstrip"`
		RStrip  bool   `json:"rstrip"`
	} `json:"added_tokens"`
	Normalizer    *normalizerSpec   `json:"normalizer"`
	PreTokenizer  *preTokenizerSpec `json:"pre_tokenizer"`
	PostProcessor json.RawMessage   `json:"post_processor"`
	Model         struct {
		Type         string            `json:"type"`
		UnkID        *int              `json:"unk_id"`
		Vocab        []json.RawMessage `json:"vocab"`
		ByteFallback bool              `json:"byte_fallback"`
	} `json:"model"`
}

// Load reads a Unigram tokenizer.json.
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
	if m.Type != "Unigram" {
		return nil, fmt.Errorf(`field "model.type": %q, not "Unigram"`, m.Type)
	}
	if m.ByteFallback {
		return nil, errors.New(`field "model.byte_fallback": true is not supported`)
	}
	if len(m.Vocab) == 0 {
		return nil, errors.New(`field "model.vocab": empty`)
	}
	t := &Tokenizer{pieces: make(map[string]int, len(m.Vocab)), scores: make([]float64, len(m.Vocab)), replacement: "▁", prepend: "always"}
	minScore := math.Inf(1)
	for i, raw := range m.Vocab {
		var pair []json.RawMessage
		var piece string
		var score float64
		if json.Unmarshal(raw, &pair) != nil || len(pair) != 2 || json.Unmarshal(pair[0], &piece) != nil || json.Unmarshal(pair[1], &score) != nil {
			return nil, fmt.Errorf(`field "model.vocab": entry %d is not [piece, score]`, i)
		}
		if _, dup := t.pieces[piece]; !dup {
			t.pieces[piece] = i
		}
		t.scores[i] = score
		t.maxLen = max(t.maxLen, utf8.RuneCountInString(piece))
		minScore = min(minScore, score)
	}
	if m.UnkID == nil || *m.UnkID < 0 || *m.UnkID >= len(m.Vocab) {
		return nil, errors.New(`field "model.unk_id": missing or outside the vocabulary`)
	}
	t.unk = *m.UnkID
	// An unknown character costs 10 more than the rarest piece, as in
	// SentencePiece.
	t.unkScore = minScore - 10
	if f.Normalizer != nil {
		if err := t.addNormalizer(f.Normalizer); err != nil {
			return nil, err
		}
	}
	if f.PreTokenizer != nil {
		if err := t.setPreTokenizer(f.PreTokenizer); err != nil {
			return nil, err
		}
	}
	for _, a := range f.AddedTokens {
		if a.Content != "" {
			t.added = append(t.added, added{a.Content, a.ID, a.LStrip, a.RStrip})
		}
	}
	sort.SliceStable(t.added, func(i, j int) bool { return len(t.added[i].content) > len(t.added[j].content) })
	var err error
	if t.before, t.after, err = tokenizer.ParseTemplate(f.PostProcessor); err != nil {
		return nil, err
	}
	t.pair, _ = tokenizer.ParsePairTemplate(f.PostProcessor) // optional
	return t, nil
}

var (
	controls = regexp.MustCompile("[\u0001-\u0008\u000B\u000E-\u001F\u007F\u008F\u009F]")
	spaces   = regexp.MustCompile("[\u0009\u000A\u000C\u000D\u00A0\u1680\u2000-\u200F\u2028\u2029\u202F\u205F\u2581\u3000\uFEFF\uFFFD]")
)

// precompiled is the nmt_nfkc normalization as Tokenizers.js performs it
// (NFKC around the full-width tilde, which it keeps).
func precompiled(s string) string {
	s = controls.ReplaceAllString(s, "")
	s = spaces.ReplaceAllString(s, " ")
	parts := strings.Split(s, "\uFF5E")
	for i, p := range parts {
		parts[i] = norm.NFKC.String(p)
	}
	return strings.Join(parts, "\uFF5E")
}

func (t *Tokenizer) addNormalizer(n *normalizerSpec) error {
	switch n.Type {
	case "Sequence":
		for i := range n.Normalizers {
			if err := t.addNormalizer(&n.Normalizers[i]); err != nil {
				return err
			}
		}
	case "Precompiled":
		t.steps = append(t.steps, precompiled)
	case "NFKC":
		t.steps = append(t.steps, norm.NFKC.String)
	case "NFC":
		t.steps = append(t.steps, norm.NFC.String)
	case "Replace":
		if n.Pattern == nil {
			return errors.New(`field "normalizer": Replace without a pattern`)
		}
		content := n.Content
		switch {
		case n.Pattern.Regex != nil:
			re, err := regexp.Compile(*n.Pattern.Regex)
			if err != nil {
				return fmt.Errorf(`field "normalizer": Replace pattern %q: %w`, *n.Pattern.Regex, err)
			}
			t.steps = append(t.steps, func(s string) string { return re.ReplaceAllLiteralString(s, content) })
		case n.Pattern.String != nil:
			old := *n.Pattern.String
			t.steps = append(t.steps, func(s string) string { return strings.ReplaceAll(s, old, content) })
		}
	default:
		return fmt.Errorf(`field "normalizer": %q is not supported here`, n.Type)
	}
	return nil
}

func (t *Tokenizer) setPreTokenizer(p *preTokenizerSpec) error {
	switch p.Type {
	case "Sequence":
		for i := range p.PreTokenizers {
			if err := t.setPreTokenizer(&p.PreTokenizers[i]); err != nil {
				return err
			}
		}
	case "WhitespaceSplit":
		// Metaspace's splitting at spaces gives the same pieces.
	case "Metaspace":
		if p.Replacement != "" {
			t.replacement = p.Replacement
		}
		switch {
		case p.PrependScheme != "":
			t.prepend = p.PrependScheme
		case p.AddPrefixSpace != nil && !*p.AddPrefixSpace:
			t.prepend = "never"
		}
	default:
		return fmt.Errorf(`field "pre_tokenizer": %q is not supported here`, p.Type)
	}
	return nil
}

// Encode returns the ids of text without the special tokens the template
// adds.
func (t *Tokenizer) Encode(text string) ([]int, error) {
	var ids []int
	section := 0
	for len(text) > 0 {
		at, which := len(text), -1
		for i, a := range t.added {
			if j := strings.Index(text, a.content); j >= 0 && j < at {
				at, which = j, i
			}
		}
		plain := text[:at]
		if which >= 0 && t.added[which].lstrip {
			plain = strings.TrimRight(plain, " \t\n\r")
		}
		if plain != "" {
			ids = t.appendPlain(ids, plain, section)
			section++
		}
		if which < 0 {
			break
		}
		ids = append(ids, t.added[which].id)
		text = text[at+len(t.added[which].content):]
		if t.added[which].rstrip {
			text = strings.TrimLeft(text, " \t\n\r")
		}
	}
	return ids, nil
}

// EncodeWithSpecial returns the ids of text inside the template's special
// tokens (<s> ... </s>), as a model is fed.
func (t *Tokenizer) EncodeWithSpecial(text string) ([]int, error) {
	ids, err := t.Encode(text)
	if err != nil {
		return nil, err
	}
	out := append(append([]int(nil), t.before...), ids...)
	return append(out, t.after...), nil
}

// EncodePair returns the ids of two texts joined by the template's pair
// form (<s> a </s></s> b </s>), as a cross-encoder is fed.
func (t *Tokenizer) EncodePair(a, b string) ([]int, error) {
	if t.pair == nil {
		return nil, errors.New("unigram: the tokenizer has no pair template")
	}
	ia, err := t.Encode(a)
	if err != nil {
		return nil, err
	}
	ib, err := t.Encode(b)
	if err != nil {
		return nil, err
	}
	return t.pair(ia, ib), nil
}

func (t *Tokenizer) appendPlain(ids []int, text string, section int) []int {
	for _, step := range t.steps {
		text = step(text)
	}
	if text == "" {
		return ids
	}
	s := strings.ReplaceAll(text, " ", t.replacement)
	if !strings.HasPrefix(s, t.replacement) && (t.prepend == "always" || t.prepend == "first" && section == 0) {
		s = t.replacement + s
	}
	return t.viterbi(ids, []rune(s))
}

// viterbi appends the best segmentation of chars: the pieces whose scores
// sum highest, an unknown character costing unkScore; consecutive unknown
// characters become one unknown token.
func (t *Tokenizer) viterbi(ids []int, chars []rune) []int {
	n := len(chars)
	best := make([]float64, n+1)
	from := make([]int, n+1) // where the best piece ending here begins
	tok := make([]int, n+1)
	for i := 1; i <= n; i++ {
		best[i] = math.Inf(-1)
	}
	for j := 0; j < n; j++ {
		if math.IsInf(best[j], -1) {
			continue
		}
		single := false
		for l := 1; l <= t.maxLen && j+l <= n; l++ {
			id, ok := t.pieces[string(chars[j:j+l])]
			if !ok {
				continue
			}
			if l == 1 {
				single = true
			}
			if s := best[j] + t.scores[id]; s > best[j+l] {
				best[j+l], from[j+l], tok[j+l] = s, j, id
			}
		}
		if !single {
			if s := best[j] + t.unkScore; s > best[j+1] {
				best[j+1], from[j+1], tok[j+1] = s, j, t.unk
			}
		}
	}
	var path []int
	for i := n; i > 0; i = from[i] {
		path = append(path, tok[i])
	}
	for i := len(path) - 1; i >= 0; i-- {
		if path[i] == t.unk && len(ids) > 0 && ids[len(ids)-1] == t.unk {
			continue // fused with the unknown before
		}
		ids = append(ids, path[i])
	}
	return ids
}
