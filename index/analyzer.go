package index

import (
	"unicode"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/analysis/token/lowercase"
	unicodetok "github.com/blevesearch/bleve/v2/analysis/tokenizer/unicode"
	"github.com/blevesearch/bleve/v2/registry"
)

// Korean attaches particles and endings to words (서울에서, 서울은), so
// whole-word terms rarely match a query's form of the word; without a
// morphological analyzer, overlapping syllable bigrams are the standard
// remedy (Lucene's CJK bigram filter does the same for Hangul). bleve's
// own cjk analyzer keeps Hangul words whole, which measured worse on the
// help pages (docs/benchmarks.md).

// AnalyzerName is the analyzer Dokja's indexes use: Unicode word
// segmentation, lower case, and Hangul words as syllable bigrams.
const AnalyzerName = "dokja_ko"

const bigramFilterName = "dokja_hangul_bigram"

func init() {
	registry.RegisterTokenFilter(bigramFilterName, func(map[string]any, *registry.Cache) (analysis.TokenFilter, error) {
		return hangulBigrams{}, nil
	})
	registry.RegisterAnalyzer(AnalyzerName, func(_ map[string]any, cache *registry.Cache) (analysis.Analyzer, error) {
		tok, err := cache.TokenizerNamed(unicodetok.Name)
		if err != nil {
			return nil, err
		}
		lower, err := cache.TokenFilterNamed(lowercase.Name)
		if err != nil {
			return nil, err
		}
		bigrams, err := cache.TokenFilterNamed(bigramFilterName)
		if err != nil {
			return nil, err
		}
		return &analysis.DefaultAnalyzer{Tokenizer: tok, TokenFilters: []analysis.TokenFilter{lower, bigrams}}, nil
	})
}

// hangulBigrams replaces each token of two or more Hangul syllables by
// its overlapping syllable pairs (positions renumbered), and keeps other
// tokens as they are.
type hangulBigrams struct{}

func (hangulBigrams) Filter(in analysis.TokenStream) analysis.TokenStream {
	out := make(analysis.TokenStream, 0, len(in))
	pos := 0
	for _, t := range in {
		runes := []rune(string(t.Term))
		if len(runes) < 2 || !allHangul(runes) {
			pos++
			c := *t
			c.Position = pos
			out = append(out, &c)
			continue
		}
		// The word itself, for exact matches, then its pairs, for the
		// word's other forms.
		pos++
		c := *t
		c.Position = pos
		out = append(out, &c)
		offset := t.Start
		for i := 0; i+1 < len(runes); i++ {
			pos++
			w := utf8.RuneLen(runes[i])
			term := string(runes[i : i+2])
			out = append(out, &analysis.Token{Term: []byte(term), Start: offset, End: offset + len(term), Position: pos, Type: analysis.Ideographic})
			offset += w
		}
	}
	return out
}

func allHangul(rs []rune) bool {
	for _, r := range rs {
		if !unicode.Is(unicode.Hangul, r) {
			return false
		}
	}
	return true
}
