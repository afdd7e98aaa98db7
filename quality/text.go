package quality

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// token is one whitespace-separated token of a document. It holds offsets,
// not strings, so that the token list has no pointers for the garbage
// collector to scan.
type token struct {
	// The core, text[start:end], runs from the token's first letter or
	// digit to its last one (combining marks included); it is empty for a
	// token of symbols only, which is then not a word.
	start, end int
	runes      int32 // runes in the core
	alpha      bool  // the token holds a letter
}

func (t *token) isWord() bool { return t.end > t.start }

func (t *token) core(text string) string { return text[t.start:t.end] }

// lineInfo is one line of a document (split at "\n").
type lineInfo struct {
	start, end int   // byte bounds with surrounding white space trimmed; equal for a blank line
	runes      int32 // runes between start and end
	tok0, ntok int32 // its tokens: toks[tok0 : tok0+ntok]
	maxTok     int32 // runes in its longest token
}

func (l *lineInfo) blank() bool { return l.start == l.end }

// stats is what one pass over a document finds.
type stats struct {
	lines     []lineInfo
	toks      []token
	words     int // tokens with a core
	wordRunes int // runes in all cores
	runes     int // runes in the text
	nonSpace  int // runes that are not white space
	hashes    int // "#"
	ellipses  int // "..." (non-overlapping, as Python's str.count) and "…"
	letters   int // unicode.IsLetter
	hangul    int // Hangul letters (syllables and jamo)
	jamo      int // compatibility and half-width jamo
	runChars  int // runes in runs of one repeated character of length >= runMin
}

// analyze splits text into lines and tokens and counts what the rules need,
// in one pass over its runes. runMin is the run length counted in runChars
// (0: none).
func analyze(text string, runMin int) *stats {
	st := &stats{
		toks:  make([]token, 0, len(text)/5+1),
		lines: make([]lineInfo, 0, len(text)/64+1),
	}
	sc := scanner{st: st, text: text, lnFirst: -1, tokStart: -1, coreStart: -1}
	var (
		dots int
		prev rune = -1
		run  int
		ri   int // index of the current rune
	)
	for i := 0; i < len(text); ri++ {
		if c := text[i]; 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' {
			// The common case, kept short: an ASCII letter.
			r := rune(c)
			if dots > 0 {
				st.ellipses += dots / 3
				dots = 0
			}
			if runMin > 0 {
				if r == prev {
					run++
				} else {
					if run >= runMin && !isSpace(prev) && !isDigit(prev) {
						st.runChars += run
					}
					prev, run = r, 1
				}
			}
			st.nonSpace++
			st.letters++
			if sc.lnFirst < 0 {
				sc.lnFirst, sc.lnFirstRune = i, ri
			}
			if sc.tokStart < 0 {
				sc.tokStart, sc.tokStartRune = i, ri
			}
			if sc.coreStart < 0 {
				sc.coreStart, sc.coreStartRune = i, ri
			}
			sc.alpha = true
			i++
			sc.lnEnd, sc.lnEndRune = i, ri+1
			sc.coreEnd, sc.coreEndRune = i, ri+1
			continue
		}
		r, size := rune(text[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(text[i:])
		}
		if r == '.' {
			dots++
		} else if dots > 0 {
			st.ellipses += dots / 3
			dots = 0
		}
		if runMin > 0 {
			if r == prev {
				run++
			} else {
				if run >= runMin && !isSpace(prev) && !isDigit(prev) {
					st.runChars += run
				}
				prev, run = r, 1
			}
		}
		if r == '\n' {
			sc.endLine(ri)
			i += size
			continue
		}
		if r == ' ' || isSpace(r) {
			if sc.tokStart >= 0 {
				sc.endTok(ri)
			}
			i += size
			continue
		}
		st.nonSpace++
		if sc.lnFirst < 0 {
			sc.lnFirst, sc.lnFirstRune = i, ri
		}
		sc.lnEnd, sc.lnEndRune = i+size, ri+1
		if sc.tokStart < 0 {
			sc.tokStart, sc.tokStartRune = i, ri
		}
		inCore := false
		switch {
		case r < utf8.RuneSelf:
			switch {
			case 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z':
				st.letters++
				sc.alpha, inCore = true, true
			case '0' <= r && r <= '9':
				inCore = true
			case r == '#':
				st.hashes++
			}
		case 0xAC00 <= r && r <= 0xD7A3: // Hangul syllables
			st.letters++
			st.hangul++
			sc.alpha, inCore = true, true
		case unicode.IsLetter(r):
			st.letters++
			sc.alpha, inCore = true, true
			if isHangul(r) {
				st.hangul++
				if isCompatJamo(r) {
					st.jamo++
				}
			}
		case unicode.IsNumber(r):
			inCore = true
		case unicode.IsMark(r):
			inCore = sc.coreStart >= 0
		case r == '…':
			st.ellipses++
		}
		if inCore {
			if sc.coreStart < 0 {
				sc.coreStart, sc.coreStartRune = i, ri
			}
			sc.coreEnd, sc.coreEndRune = i+size, ri+1
		}
		i += size
	}
	st.ellipses += dots / 3
	if runMin > 0 && run >= runMin && !isSpace(prev) && !isDigit(prev) {
		st.runChars += run
	}
	sc.endLine(ri)
	st.runes = ri
	return st
}

// scanner is analyze's state within the current line and token. Offsets are
// in bytes, the *Rune fields in runes from the start of the text.
type scanner struct {
	st                         *stats
	text                       string
	tok0                       int // first token of the current line
	lnFirst, lnEnd             int // non-space bounds of the current line; lnFirst < 0 while blank
	lnFirstRune, lnEndRune     int
	lnMaxTok                   int32
	tokStart, tokStartRune     int // tokStart < 0 between tokens
	coreStart, coreEnd         int // coreStart < 0 until the token has a letter or digit
	coreStartRune, coreEndRune int
	alpha                      bool
}

// endTok ends the current token before rune ri.
func (sc *scanner) endTok(ri int) {
	st := sc.st
	if n := int32(ri - sc.tokStartRune); n > sc.lnMaxTok {
		sc.lnMaxTok = n
	}
	t := token{alpha: sc.alpha}
	if sc.coreStart >= 0 {
		t.start, t.end = sc.coreStart, sc.coreEnd
		t.runes = int32(sc.coreEndRune - sc.coreStartRune)
		st.words++
		st.wordRunes += int(t.runes)
	}
	st.toks = append(st.toks, t)
	sc.tokStart, sc.coreStart, sc.alpha = -1, -1, false
}

// endLine ends the current line (and token) before rune ri.
func (sc *scanner) endLine(ri int) {
	st := sc.st
	if sc.tokStart >= 0 {
		sc.endTok(ri)
	}
	l := lineInfo{tok0: int32(sc.tok0), ntok: int32(len(st.toks) - sc.tok0), maxTok: sc.lnMaxTok}
	if sc.lnFirst >= 0 {
		l.start, l.end, l.runes = sc.lnFirst, sc.lnEnd, int32(sc.lnEndRune-sc.lnFirstRune)
	}
	st.lines = append(st.lines, l)
	sc.tok0, sc.lnFirst, sc.lnMaxTok = len(st.toks), -1, 0
}

func isSpace(r rune) bool {
	if r < utf8.RuneSelf {
		return r == ' ' || '\t' <= r && r <= '\r'
	}
	return unicode.IsSpace(r)
}

func isDigit(r rune) bool {
	if r < utf8.RuneSelf {
		return '0' <= r && r <= '9'
	}
	return unicode.IsNumber(r)
}

// isHangul reports Hangul syllables and jamo of every block.
func isHangul(r rune) bool {
	return 0xAC00 <= r && r <= 0xD7A3 || 0x1100 <= r && r <= 0x11FF || 0x3131 <= r && r <= 0x318E ||
		0xA960 <= r && r <= 0xA97F || 0xD7B0 <= r && r <= 0xD7FF || 0xFFA0 <= r && r <= 0xFFDC
}

// isCompatJamo reports compatibility jamo (ㄱ..ㆎ, what keyboards type alone:
// ㅋㅋ, ㅠㅠ) and their half-width forms; not the conjoining jamo of NFD text.
func isCompatJamo(r rune) bool {
	return 0x3131 <= r && r <= 0x318E || 0xFFA0 <= r && r <= 0xFFDC
}

func trimSpace(s string) string {
	return strings.TrimFunc(s, isSpace)
}

// isCloser reports closing quotes and brackets, which may follow a sentence's
// final punctuation or ending.
func isCloser(r rune) bool {
	switch r {
	case '"', '\'', '”', '’', '»', ')', ']', '」', '』', '》', '〉', '）':
		return true
	}
	return false
}

func trimClosers(s string) string {
	for s != "" {
		r, n := utf8.DecodeLastRuneInString(s)
		if !isCloser(r) {
			break
		}
		s = s[:len(s)-n]
	}
	return s
}

func lastRune(s string) rune {
	r, _ := utf8.DecodeLastRuneInString(s)
	return r
}

func endsWithEllipsis(s string) bool {
	return strings.HasSuffix(s, "...") || strings.HasSuffix(s, "…")
}

func hasAnySuffix(s string, suffixes []string) bool {
	for _, x := range suffixes {
		if strings.HasSuffix(s, x) {
			return true
		}
	}
	return false
}

// isBulletLine reports a trimmed line that starts with a bullet.
func isBulletLine(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	switch r {
	case '•', '‣', '◦', '∙', '●', '○', '▪', '▫', '■', '□', '◆', '◇', '►', '▶', '▸', '➢', '➤',
		'✓', '✔', '✗', '✘', '-', '*', '·', 'ㆍ', '※', '–', '+':
		return true
	}
	return false
}

// isSentenceEnd reports runes that end a sentence.
func isSentenceEnd(r rune) bool {
	switch r {
	case '.', '!', '?', '…', '。', '！', '？', '‼', '⁇', '⁈', '⁉', '؟', '।':
		return true
	}
	return false
}

// abbreviations that end in a period without ending a sentence (lower case,
// period removed).
var abbreviations = map[string]bool{
	"mr": true, "mrs": true, "ms": true, "dr": true, "prof": true, "st": true, "vs": true,
	"e.g": true, "i.e": true, "etc": true, "no": true, "jr": true, "sr": true, "inc": true,
	"ltd": true, "co": true, "fig": true, "vol": true, "cf": true, "al": true, "approx": true,
}

// countSentences counts the sentences of a line: each run of sentence-ending
// punctuation (with closing quotes and brackets) that follows some text and
// is followed by white space or the end of the line ends one, unless it is a
// lone period after an initial or a known abbreviation; text after the last
// end is one more.
func countSentences(s string) int {
	n, content := 0, false
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if !isSentenceEnd(r) {
			if !isSpace(r) {
				content = true
			}
			i += size
			continue
		}
		j := i + size
		for j < len(s) {
			r2, n2 := utf8.DecodeRuneInString(s[j:])
			if !isSentenceEnd(r2) && !isCloser(r2) {
				break
			}
			j += n2
		}
		boundary := j == len(s)
		if !boundary {
			r2, _ := utf8.DecodeRuneInString(s[j:])
			boundary = isSpace(r2)
		}
		if boundary && content && !(r == '.' && j == i+1 && isAbbreviation(s[:i])) {
			n++
			content = false
		}
		i = j
	}
	if content {
		n++
	}
	return n
}

// isAbbreviation reports whether the token that ends s is an initial or a
// known abbreviation.
func isAbbreviation(s string) bool {
	// Look back at most 7 bytes, so that a long line of periods stays
	// linear: longer tokens are no abbreviation.
	tail := s[max(0, len(s)-7):]
	k := strings.LastIndexFunc(tail, isSpace)
	if k < 0 && len(s) > len(tail) {
		return false
	}
	w := tail[k+1:]
	if len(w) == 1 {
		c := w[0]
		return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
	}
	if len(w) > 6 {
		return false
	}
	var buf [6]byte
	for i := 0; i < len(w); i++ {
		c := w[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return abbreviations[string(buf[:len(w)])]
}

// lowerASCII lower-cases the ASCII letters of s, leaving every other byte
// (and so every byte offset) as it is. It returns s itself when nothing
// changes.
func lowerASCII(s string) string {
	i := 0
	for i < len(s) && !('A' <= s[i] && s[i] <= 'Z') {
		i++
	}
	if i == len(s) {
		return s
	}
	b := []byte(s)
	for ; i < len(b); i++ {
		if c := b[i]; 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// citations other than "[123]" and "[]" that C4 removes, lower case.
var citations = map[string]bool{
	"edit": true, "citation needed": true, "편집": true, "원본 편집": true, "출처 필요": true,
}

// removeCitations deletes citation marks from a line and says whether it
// found any.
func removeCitations(s string) (string, bool) {
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); {
		j := strings.IndexByte(s[i:], '[')
		if j < 0 {
			break
		}
		j += i
		// A citation is short: looking for its "]" within a bounded
		// window keeps a line full of "[" linear.
		k := strings.IndexByte(s[j:min(len(s), j+maxCitation+2)], ']')
		if k < 0 {
			i = j + 1
			continue
		}
		k += j
		if inner := s[j+1 : k]; isCitation(inner) {
			if b.Len() == 0 {
				b.Grow(len(s))
			}
			b.WriteString(s[last:j])
			last = k + 1
			i = k + 1
			continue
		}
		i = j + 1
	}
	if last == 0 {
		return s, false
	}
	b.WriteString(s[last:])
	return b.String(), true
}

// maxCitation is the longest citation text in bytes ("citation needed" and
// "원본 편집" fit).
const maxCitation = 24

func isCitation(inner string) bool {
	if len(inner) > maxCitation {
		return false
	}
	digits := true
	for i := 0; i < len(inner); i++ {
		if inner[i] < '0' || inner[i] > '9' {
			digits = false
			break
		}
	}
	return digits || citations[lowerASCII(inner)]
}

// countTokens returns the whitespace tokens of s and the runes of the longest.
func countTokens(s string) (n, longest int) {
	cur := 0
	for _, r := range s {
		if isSpace(r) {
			if cur > 0 {
				n++
				longest = max(longest, cur)
			}
			cur = 0
			continue
		}
		cur++
	}
	if cur > 0 {
		n++
		longest = max(longest, cur)
	}
	return n, longest
}
