package quality

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// viewLine is a non-blank line as FineWeb's rules see it.
type viewLine struct {
	s     string // trimmed, citations removed
	runes int
	ntok  int
}

// allLines is FineWeb's view of a document that C4 did not clean.
func allLines(text string, st *stats) []viewLine {
	view := make([]viewLine, 0, len(st.lines))
	for i := range st.lines {
		l := &st.lines[i]
		if !l.blank() {
			view = append(view, viewLine{text[l.start:l.end], int(l.runes), int(l.ntok)})
		}
	}
	return view
}

// Why C4 removed a line, in C4's order of tests.
const (
	lineTooLongWord = iota
	lineNoTerminalPunct
	lineFewWords
	lineJavascript
	linePolicy
	nLineReasons
)

var lineReasonNames = [nLineReasons]string{"too_long_word", "no_terminal_punct", "min_words", "javascript", "policy"}

type c4Result struct {
	reason, detail string
	text           string
	modified       bool
	view           []viewLine
}

// c4 applies C4's page rules to text and its line rules to each line.
func (c *compiled) c4(text string, st *stats) c4Result {
	k := &c.C4
	// ASCII lower-casing keeps byte offsets, so lines of lower are lines
	// of text.
	lower := lowerASCII(text)
	if k.LoremIpsum && strings.Contains(lower, "lorem ipsum") {
		return c4Result{reason: reasonLoremIpsum, detail: `contains "lorem ipsum"`}
	}
	if k.CurlyBracket {
		if i := strings.IndexByte(text, '{'); i >= 0 {
			return c4Result{reason: reasonCurlyBracket, detail: fmt.Sprintf(`"{" at byte %d`, i)}
		}
	}
	var (
		res       c4Result
		removed   [nLineReasons]int
		nonBlank  int
		citations int
		sentences int
		kept      []string
		gapBefore []bool // a blank line separates kept[i] from kept[i-1] in the input
		gap       bool
	)
	for i := range st.lines {
		l := &st.lines[i]
		if l.blank() {
			gap = true
			continue
		}
		nonBlank++
		s, ls, runes, ntok := text[l.start:l.end], lower[l.start:l.end], int(l.runes), int(l.ntok)
		if k.MaxWordLen > 0 && int(l.maxTok) > k.MaxWordLen {
			removed[lineTooLongWord]++
			continue
		}
		if k.RemoveCitations && strings.IndexByte(s, '[') >= 0 {
			if s2, ok := removeCitations(s); ok {
				citations++
				s = trimSpace(s2)
				ls = lowerASCII(s)
				ntok, _ = countTokens(s)
				runes = utf8.RuneCountInString(s)
			}
		}
		why := -1
		terminated := !k.TerminalPunct || c.c4Terminated(s)
		if !terminated {
			why = lineNoTerminalPunct
		}
		inView := true
		switch {
		case ntok == 0 || ntok < k.MinWordsPerLine:
			inView = false
			if why < 0 {
				why = lineFewWords
			}
		case containsAny(ls, c.js):
			inView = false
			if why < 0 {
				why = lineJavascript
			}
		case containsAny(ls, c.policy):
			inView = false
			if why < 0 {
				why = linePolicy
			}
		}
		if inView {
			res.view = append(res.view, viewLine{s, runes, ntok})
		}
		if why >= 0 {
			removed[why]++
			continue
		}
		kept = append(kept, s)
		gapBefore = append(gapBefore, gap && len(kept) > 1)
		gap = false
		if k.MinSentences > 0 {
			sentences += countSentences(s)
		}
	}
	nRemoved := 0
	for _, n := range removed {
		nRemoved += n
	}
	if len(kept) == 0 {
		res.reason = reasonC4Empty
		res.detail = fmt.Sprintf("c4 removed all %d lines (%s)", nonBlank, describeRemoved(removed))
		return res
	}
	if k.MinSentences > 0 && sentences < k.MinSentences {
		res.reason = reasonMinSentences
		res.detail = fmt.Sprintf("%d sentences < %d", sentences, k.MinSentences)
		return res
	}
	if nRemoved == 0 && citations == 0 {
		return res
	}
	var b strings.Builder
	b.Grow(len(text))
	for i, s := range kept {
		if i > 0 {
			b.WriteByte('\n')
			if gapBefore[i] {
				b.WriteByte('\n')
			}
		}
		b.WriteString(s)
	}
	res.text, res.modified = b.String(), true
	switch {
	case nRemoved == 0:
		res.detail = fmt.Sprintf("c4 removed citations from %d lines", citations)
	case citations == 0:
		res.detail = fmt.Sprintf("c4 removed %d of %d lines (%s)", nRemoved, nonBlank, describeRemoved(removed))
	default:
		res.detail = fmt.Sprintf("c4 removed %d of %d lines (%s) and citations from %d lines", nRemoved, nonBlank, describeRemoved(removed), citations)
	}
	return res
}

func describeRemoved(removed [nLineReasons]int) string {
	var parts []string
	for i, n := range removed {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", lineReasonNames[i], n))
		}
	}
	return strings.Join(parts, ", ")
}

func containsAny(s string, pats []string) bool {
	for _, p := range pats {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

// c4Terminated reports whether a trimmed line ends a sentence, by C4Rules.
func (c *compiled) c4Terminated(s string) bool {
	k := &c.C4
	if endsWithEllipsis(s) {
		return k.EllipsisTerminates
	}
	if strings.ContainsRune(k.TerminalChars, lastRune(s)) {
		return true
	}
	t := trimClosers(s)
	if t == "" {
		return false
	}
	if t != s && strings.ContainsRune(k.TerminalChars, lastRune(t)) {
		return true
	}
	return hasAnySuffix(t, k.SentenceEndings)
}

// finewebTerminated reports whether a trimmed line ends in punctuation, by
// FineWebRules.
func (c *compiled) finewebTerminated(s string) bool {
	if unicode.Is(unicode.Terminal_Punctuation, lastRune(s)) {
		return true
	}
	t := trimClosers(s)
	if t == "" {
		return false
	}
	return unicode.Is(unicode.Terminal_Punctuation, lastRune(t)) || hasAnySuffix(t, c.FineWeb.SentenceEndings)
}

// fineweb applies FineWeb's rules to the lines C4 left.
func (c *compiled) fineweb(view []viewLine) (string, string) {
	w := &c.FineWeb
	n := len(view)
	if n == 0 {
		return "", ""
	}
	if w.MinLinePunctRatio > 0 {
		punct := 0
		for _, l := range view {
			if c.finewebTerminated(l.s) {
				punct++
			}
		}
		r := float64(punct) / float64(n)
		if r < w.MinLinePunctRatio && !(punct == 0 && w.LinePunctExcludeZero) {
			return reasonLinePunct, fmt.Sprintf("%d of %d lines end in punctuation (%.2f < %g)", punct, n, r, w.MinLinePunctRatio)
		}
	}
	if w.MaxShortLineRatio > 0 {
		short := 0
		for _, l := range view {
			if l.runes <= w.ShortLineChars {
				short++
			}
		}
		if r := float64(short) / float64(n); r > w.MaxShortLineRatio {
			return reasonShortLines, fmt.Sprintf("%d of %d lines have at most %d characters (%.2f > %g)", short, n, w.ShortLineChars, r, w.MaxShortLineRatio)
		}
	}
	if w.MaxCharDupRatio > 0 {
		seen := make(map[string]bool, n)
		total, dup := 0, 0
		for _, l := range view {
			total += l.runes
			if seen[l.s] {
				dup += l.runes
			} else {
				seen[l.s] = true
			}
		}
		if r := float64(dup) / float64(total); r > w.MaxCharDupRatio {
			return reasonCharDup, fmt.Sprintf("repeated lines hold %.3f of characters > %g", r, w.MaxCharDupRatio)
		}
	}
	if w.MaxNewlineWordRatio > 0 {
		words := 0
		for _, l := range view {
			words += l.ntok
		}
		if r := float64(n-1) / float64(words); r > w.MaxNewlineWordRatio {
			return reasonListRatio, fmt.Sprintf("%d line breaks for %d words (%.2f > %g)", n-1, words, r, w.MaxNewlineWordRatio)
		}
	}
	return "", ""
}
