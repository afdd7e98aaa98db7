package tokenizer

import (
	"fmt"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/dlclark/regexp2/v2"
)

// The split patterns of the byte-level BPE families Dokja knows. They are
// the exact strings found in tiktoken and in Hugging Face tokenizer.json
// files, so a file carrying one of them gets the hand-written splitter.
const (
	// PatternCL100K is GPT-4's cl100k_base pattern, also used by Llama 3:
	// letter runs, numbers in groups of up to three, punctuation runs.
	PatternCL100K = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	// PatternQwen2 is Qwen2's pattern (also Qwen2.5, Qwen3 and A.X 4.0):
	// cl100k's rules with every digit on its own, which helps arithmetic.
	PatternQwen2 = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	// PatternO200K is GPT-4o's o200k_base pattern: it also splits words at
	// lower-to-upper case changes and keeps contractions on the word.
	PatternO200K = `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	// PatternGPT2 is the GPT-2 pattern that Hugging Face's ByteLevel
	// pre-tokenizer applies when use_regex is true.
	PatternGPT2 = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
)

// patternNames maps the names accepted on the command line to patterns.
var patternNames = map[string]string{
	"cl100k": PatternCL100K,
	"llama3": PatternCL100K,
	"qwen2":  PatternQwen2,
	"o200k":  PatternO200K,
	"gpt2":   PatternGPT2,
}

// PatternByName returns the split pattern for a name such as "qwen2",
// "llama3", "cl100k", "o200k" or "gpt2".
func PatternByName(name string) (string, error) {
	p, ok := patternNames[name]
	if !ok {
		return "", fmt.Errorf("unknown pre-tokenizer pattern %q (want qwen2, llama3, cl100k, o200k or gpt2)", name)
	}
	return p, nil
}

type splitKind uint8

const (
	splitCL100K splitKind = iota // also Qwen2, with maxDigits 1
	splitO200K
	splitRegex
)

// splitter cuts text into pre-tokens. The known patterns are matched by
// hand-written code that reproduces the backtracking regex's choices
// exactly (tests compare it with regexp2 on random and real text); this is
// several times faster than a general regex engine, which is where most of
// tiktoken-go's encoding time goes. Any other pattern falls back to regexp2.
type splitter struct {
	pattern   string
	kind      splitKind
	maxDigits int
	re        *regexp2.Regexp
}

func newSplitter(pattern string) (*splitter, error) {
	switch pattern {
	case PatternCL100K:
		return &splitter{pattern: pattern, kind: splitCL100K, maxDigits: 3}, nil
	case PatternQwen2:
		return &splitter{pattern: pattern, kind: splitCL100K, maxDigits: 1}, nil
	case PatternO200K:
		return &splitter{pattern: pattern, kind: splitO200K, maxDigits: 3}, nil
	}
	// The group keeps regexp2 from substituting a code-generated engine
	// registered for the same string by another package (tiktoken-go
	// registers some, and they deviate from backtracking semantics).
	re, err := regexp2.Compile("(?:"+pattern+")", regexp2.None)
	if err != nil {
		return nil, fmt.Errorf("split pattern %q: %w", pattern, err)
	}
	return &splitter{pattern: pattern, kind: splitRegex, re: re}, nil
}

// split calls yield with each pre-token of s, in order; together they
// cover s exactly. s must be valid UTF-8.
func (sp *splitter) split(s string, yield func(piece string)) {
	if sp.kind == splitRegex {
		sp.splitRegex(s, yield)
		return
	}
	for i := 0; i < len(s); {
		var e int
		if sp.kind == splitO200K {
			e = sp.endO200K(s, i)
		} else {
			e = sp.endCL100K(s, i)
		}
		yield(s[i:e])
		i = e
	}
}

// splitRegex emits each match and, like Hugging Face's "Isolated" split
// behaviour, each stretch of text between matches as its own piece.
func (sp *splitter) splitRegex(s string, yield func(piece string)) {
	// regexp2 reports positions in runes; map them back to bytes.
	offs := make([]int, 0, len(s)+1)
	for i := range s {
		offs = append(offs, i)
	}
	offs = append(offs, len(s))
	prev := 0
	m, err := sp.re.FindStringMatch(s)
	for err == nil && m != nil {
		start, end := offs[m.RuneIndex], offs[m.RuneIndex+m.RuneLength]
		if start > prev {
			yield(s[prev:start])
		}
		if end > start {
			yield(s[start:end])
		}
		prev = end
		m, err = sp.re.FindNextMatch(m)
	}
	if prev < len(s) {
		yield(s[prev:])
	}
}

// Character classes used by the split patterns, as bits.
const (
	cLetter  uint8 = 1 << iota // \p{L}
	cNumber                    // \p{N}
	cSpace                     // \s
	cUpper                     // [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]
	cLower                     // [\p{Ll}\p{Lm}\p{Lo}\p{M}]
	cNewline                   // [\r\n]
)

var (
	bmpClassOnce sync.Once
	bmpClass     []uint8 // classes of every rune below 0x10000
)

func classOfRune(r rune) uint8 {
	var c uint8
	if unicode.IsLetter(r) {
		c |= cLetter
	}
	if unicode.IsNumber(r) {
		c |= cNumber
	}
	if unicode.IsSpace(r) {
		c |= cSpace
	}
	mark := unicode.IsMark(r)
	lmlo := unicode.In(r, unicode.Lm, unicode.Lo)
	if mark || lmlo || unicode.In(r, unicode.Lu, unicode.Lt) {
		c |= cUpper
	}
	if mark || lmlo || unicode.Is(unicode.Ll, r) {
		c |= cLower
	}
	if r == '\r' || r == '\n' {
		c |= cNewline
	}
	return c
}

func buildBMPClass() {
	bmpClass = make([]uint8, 0x10000)
	for r := range rune(0x10000) {
		bmpClass[r] = classOfRune(r)
	}
}

// classAt decodes the rune at s[i] and returns its classes and width.
func classAt(s string, i int) (uint8, int) {
	b := s[i]
	if b < utf8.RuneSelf {
		return asciiClass[b], 1
	}
	r, n := utf8.DecodeRuneInString(s[i:])
	if r < 0x10000 {
		bmpClassOnce.Do(buildBMPClass)
		return bmpClass[r], n
	}
	return classOfRune(r), n
}

var asciiClass = func() (t [128]uint8) {
	for r := range rune(128) {
		t[r] = classOfRune(r)
	}
	return t
}()

// scan returns the end of the run starting at i of runes whose classes
// intersect want (or, with none set, avoid all of want).
func scan(s string, i int, want uint8, none bool) int {
	for i < len(s) {
		c, n := classAt(s, i)
		if (c&want != 0) == none {
			break
		}
		i += n
	}
	return i
}

// contraction matches (?i:'s|'t|'re|'ve|'m|'ll|'d) at i and returns its
// end, or -1. Case folding follows the regex engines: 'ſ' (U+017F) folds to s.
func contraction(s string, i int) int {
	if i >= len(s) || s[i] != '\'' || i+1 >= len(s) {
		return -1
	}
	lower := func(j int) (byte, int) {
		if j >= len(s) {
			return 0, 0
		}
		b := s[j]
		if b >= 'A' && b <= 'Z' {
			return b + 'a' - 'A', 1
		}
		if b == 0xC5 && j+1 < len(s) && s[j+1] == 0xBF { // ſ
			return 's', 2
		}
		return b, 1
	}
	c1, n1 := lower(i + 1)
	switch c1 {
	case 's', 't', 'm', 'd':
		return i + 1 + n1
	case 'r', 'v':
		if c2, n2 := lower(i + 1 + n1); c2 == 'e' {
			return i + 1 + n1 + n2
		}
	case 'l':
		if c2, n2 := lower(i + 1 + n1); c2 == 'l' {
			return i + 1 + n1 + n2
		}
	}
	return -1
}

// digits matches \p{N}{1,max} at i, where s[i] is known to be a number.
func (sp *splitter) digits(s string, i, n0 int) int {
	e := i + n0
	for k := 1; k < sp.maxDigits && e < len(s); k++ {
		c, n := classAt(s, e)
		if c&cNumber == 0 {
			break
		}
		e += n
	}
	return e
}

// punctOrSpace handles the pattern's tail shared by cl100k and o200k:
// ` ?[^\s\p{L}\p{N}]+[\r\n]*` (with '/' in the trailing set for o200k),
// then `\s*[\r\n]+`, `\s+(?!\S)` and `\s+`.
func punctOrSpace(s string, i int, slash bool) int {
	j := i
	if s[i] == ' ' {
		j++
	}
	if e := scan(s, j, cSpace|cLetter|cNumber, true); e > j {
		for e < len(s) && (s[e] == '\r' || s[e] == '\n' || (slash && s[e] == '/')) {
			e++
		}
		return e
	}
	// s[i] is whitespace here: every other rune matched above or earlier.
	end, lastNL, lastStart := i, -1, i
	for end < len(s) {
		c, n := classAt(s, end)
		if c&cSpace == 0 {
			break
		}
		if c&cNewline != 0 {
			lastNL = end
		}
		lastStart = end
		end += n
	}
	switch {
	case lastNL >= 0: // \s*[\r\n]+
		return lastNL + 1
	case end == len(s): // \s+(?!\S) at the end of the text
		return end
	case lastStart > i: // \s+(?!\S): leave the last space for the next word
		return lastStart
	default: // \s+
		return end
	}
}

func (sp *splitter) endCL100K(s string, i int) int {
	if s[i] == '\'' {
		if e := contraction(s, i); e > 0 {
			return e
		}
	}
	c0, n0 := classAt(s, i)
	// [^\r\n\p{L}\p{N}]?\p{L}+
	if c0&cLetter != 0 {
		return scan(s, i+n0, cLetter, false)
	}
	if c0&(cLetter|cNumber|cNewline) == 0 && i+n0 < len(s) {
		if c1, n1 := classAt(s, i+n0); c1&cLetter != 0 {
			return scan(s, i+n0+n1, cLetter, false)
		}
	}
	if c0&cNumber != 0 {
		return sp.digits(s, i, n0)
	}
	return punctOrSpace(s, i, false)
}

// o200kWord matches `P?U*W+C?` or, failing that, `P?U+W*C?` at i, where P
// is [^\r\n\p{L}\p{N}], U the upper class, W the lower class and C a
// contraction; it returns the end or -1.
func o200kWord(s string, i int, c0 uint8, n0 int) int {
	prefix := c0&(cLetter|cNumber|cNewline) == 0
	if prefix {
		if e := o200kLowerCore(s, i+n0); e > 0 {
			return e
		}
	}
	if e := o200kLowerCore(s, i); e > 0 {
		return e
	}
	if prefix {
		if e := o200kUpperCore(s, i+n0); e > 0 {
			return e
		}
	}
	return o200kUpperCore(s, i)
}

func withContraction(s string, e int) int {
	if e < len(s) && s[e] == '\'' {
		if c := contraction(s, e); c > 0 {
			return c
		}
	}
	return e
}

// o200kLowerCore matches U*W+C? at p: greedy U*, then W+, backtracking
// into the U run when needed (Lm, Lo and M belong to both classes).
func o200kLowerCore(s string, p int) int {
	lastW, lastWEnd := -1, -1
	b := p
	for b < len(s) {
		c, n := classAt(s, b)
		if c&cUpper == 0 {
			break
		}
		if c&cLower != 0 {
			lastW, lastWEnd = b, b+n
		}
		b += n
	}
	if b < len(s) {
		if c, n := classAt(s, b); c&cLower != 0 {
			return withContraction(s, scan(s, b+n, cLower, false))
		}
	}
	if lastW < 0 {
		return -1
	}
	return withContraction(s, lastWEnd)
}

// o200kUpperCore matches U+W*C? at p.
func o200kUpperCore(s string, p int) int {
	b := scan(s, p, cUpper, false)
	if b == p {
		return -1
	}
	return withContraction(s, scan(s, b, cLower, false))
}

func (sp *splitter) endO200K(s string, i int) int {
	c0, n0 := classAt(s, i)
	if c0&(cLetter|cNumber|cNewline) == 0 || c0&(cUpper|cLower) != 0 {
		if e := o200kWord(s, i, c0, n0); e > 0 {
			return e
		}
	}
	if c0&cNumber != 0 {
		return sp.digits(s, i, n0)
	}
	return punctOrSpace(s, i, true)
}
