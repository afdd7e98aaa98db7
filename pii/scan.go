package pii

import (
	"strings"
	"unicode/utf8"
)

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isAlpha(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }

func isWordByte(c byte) bool { return isDigit(c) || isAlpha(c) || c == '_' }

// isSyllable reports whether r is a precomposed Hangul syllable (가-힣).
func isSyllable(r rune) bool { return 0xAC00 <= r && r <= 0xD7A3 }

// digitRun returns the end of the run of ASCII digits starting at i and
// whether the run is 1 to max digits long. It reads at most max+1 bytes, so
// callers stay linear however long the run really is.
func digitRun(s string, i, max int) (int, bool) {
	j := i
	for j < len(s) && isDigit(s[j]) {
		j++
		if j-i > max {
			return j, false
		}
	}
	return j, j > i
}

// indexDigit returns the offset of the first ASCII digit at or after i,
// or -1. Most text has few digits, so it tests eight bytes at a time.
func indexDigit(s string, i int) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for ; i+8 <= len(s); i += 8 {
		w := s[i : i+8] // one bounds check; the compiler merges the loads
		x := uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
			uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
		// A byte strictly between '/' and ':' sets its high bit ("hasbetween"
		// from Sean Anderson's bit hacks); bytes from 0x80 never do.
		t := x & (ones * 127)
		if (ones*(127+':')-t)&^x&(t+ones*(127-'/'))&highs != 0 {
			break
		}
	}
	for ; i < len(s); i++ {
		if isDigit(s[i]) {
			return i
		}
	}
	return -1
}

// nextRun returns the start of the first run of digits that begins at or
// after i, or -1.
func nextRun(s string, i int) int {
	for {
		j := indexDigit(s, i)
		if j <= 0 || !isDigit(s[j-1]) {
			return j
		}
		for j < len(s) && isDigit(s[j]) { // inside a run: skip it
			j++
		}
		i = j
	}
}

// findRuns calls at on the start of each run of digits and collects the
// matches it returns (their ends; -1 for none).
func findRuns(s string, kind Kind, dst []Match, at func(s string, i int) int) []Match {
	for i := nextRun(s, 0); i >= 0; {
		next := i + 1
		if end := at(s, i); end > 0 {
			dst = append(dst, Match{kind, i, end})
			next = end
		}
		i = nextRun(s, next)
	}
	return dst
}

// gluedLeft reports whether a match starting at i would be the tail of a
// longer token: a word character before it, or one of seps between two
// digits ("1.2" in "1.2.3.4.5", "2-010-..." in a serial number).
//
// The rules are symmetric (a digit on both sides of a separator), so when
// two candidates touch, either both are glued or neither is. Otherwise
// redacting one could unglue the other, and a second Redact would find
// more than the first.
//
// A Unicode dash (see dashes) between two digits glues as "-" does, where
// "-" is among seps; a dash with a space beside it does not glue.
func gluedLeft(s string, i int, seps string) bool {
	if i == 0 || i >= len(s) {
		return false
	}
	c := s[i-1]
	if isWordByte(c) && isWordByte(s[i]) {
		return true
	}
	if i >= 2 && strings.IndexByte(seps, c) >= 0 && isDigit(s[i-2]) && isDigit(s[i]) {
		return true
	}
	if c >= 0x80 && isDigit(s[i]) && strings.IndexByte(seps, '-') >= 0 {
		for _, d := range dashes {
			if k := i - len(d); k >= 1 && s[k:i] == d && isDigit(s[k-1]) {
				return true
			}
		}
	}
	return false
}

// gluedRight is gluedLeft for a match ending at j.
func gluedRight(s string, j int, seps string) bool {
	if j == 0 || j >= len(s) {
		return false
	}
	c := s[j]
	if isWordByte(c) && isWordByte(s[j-1]) {
		return true
	}
	if j+1 < len(s) && strings.IndexByte(seps, c) >= 0 && isDigit(s[j+1]) && isDigit(s[j-1]) {
		return true
	}
	if c >= 0x80 && isDigit(s[j-1]) && strings.IndexByte(seps, '-') >= 0 {
		if n := dashAt(s, j); n > 0 && j+n < len(s) && isDigit(s[j+n]) {
			return true
		}
	}
	return false
}

// inV6Run reports whether the match s[i:j] touches an IPv6-like run of hex
// digits, colons and dots that holds two or more colons on its two sides
// together ("fe80::010.1234.5678", "1:2:10.0.0.1", "10.0.0.1::abcd:1").
// Such digits belong to that run: as part of a valid IPv6 address they
// are found as one; alone, redacting them could turn the rest of the run
// into a valid address on a second pass. A side longer than any address
// cannot become one and does not count.
func inV6Run(s string, i, j int) bool {
	n := 0
	if isV6Byte(s[i]) { // a match starting with "+" or "(" is no continuation
		n += v6Colons(s, i-1, -1)
	}
	if isV6Byte(s[j-1]) {
		n += v6Colons(s, j, 1)
	}
	return n >= 2
}

// v6Colons counts the colons in the run of IPv6 bytes from k in direction
// dir, or 0 if the run is longer than maxV6.
func v6Colons(s string, k, dir int) int {
	colons := 0
	for n := 0; k >= 0 && k < len(s) && isV6Byte(s[k]); k, n = k+dir, n+1 {
		if n == maxV6 {
			return 0
		}
		if s[k] == ':' {
			colons++
		}
	}
	return colons
}

// maxGroups bounds parseGroups; more groups than this are never one item.
const maxGroups = 6

// groups is a number written as digit groups joined by one separator,
// such as "010-1234-5678", "4111 1111 1111 1111" or "900101 - 1234567".
type groups struct {
	n     int
	start [maxGroups]int
	end   [maxGroups]int
	sep   byte // the separator's kind ('-' for every dash); 0 when n == 1
	// spaced: the separator has a space beside its dash ("900101 - ").
	spaced bool
}

// loose reports whether the groups are joined loosely, by spaces or by
// spaced dashes: then the groups are separate tokens, and a number made
// of the first few may be followed by another number. Groups joined
// tightly ("-", ".", an unspaced dash) are one token and must all belong
// to the match.
func (g *groups) loose() bool { return g.sep == ' ' || g.spaced }

// dashes are the dashes people type between number groups besides "-"
// (hyphen, non-breaking hyphen, figure dash, en dash, em dash, minus sign,
// full-width hyphen-minus): word processors and phones put them there.
var dashes = []string{"\u2010", "\u2011", "\u2012", "\u2013", "\u2014", "\u2212", "\uff0d"}

// dashAt returns the length of a dash at s[j:] ("-" or one of dashes), or 0.
func dashAt(s string, j int) int {
	if j >= len(s) {
		return 0
	}
	if s[j] == '-' {
		return 1
	}
	if s[j] < 0x80 {
		return 0
	}
	for _, d := range dashes {
		if strings.HasPrefix(s[j:], d) {
			return len(d)
		}
	}
	return 0
}

// sepAt returns the separator joining two groups at s[j:], as its length
// and its kind, or 0: one byte of seps; with wide and "-" among seps,
// also any dash with at most one space on either side ("900101 - 1234567",
// "4111 – 1111 – 1111 – 1111"), whose kind is '-'.
func sepAt(s string, j int, seps string, wide bool) (int, byte) {
	if j >= len(s) {
		return 0, 0
	}
	if wide && strings.IndexByte(seps, '-') >= 0 {
		k := j
		if s[k] == ' ' {
			k++
		}
		if n := dashAt(s, k); n > 0 {
			k += n
			if k < len(s) && s[k] == ' ' {
				k++
			}
			return k - j, '-'
		}
	}
	if strings.IndexByte(seps, s[j]) >= 0 {
		return 1, s[j]
	}
	return 0, 0
}

// parseGroups reads digit groups starting at i, joined by any one of seps
// (the same separator throughout), each at most 19 digits; with wide, a
// dash may also be a Unicode one and have a space on either side (see
// sepAt). ok is false when a group is longer; the result then means
// nothing.
func parseGroups(s string, i int, seps string) (g groups, ok bool) {
	return parseGroupsWide(s, i, seps, false)
}

func parseGroupsWide(s string, i int, seps string, wide bool) (g groups, ok bool) {
	var sepText string
	for {
		j, ok := digitRun(s, i, 19)
		if !ok {
			return g, false
		}
		g.start[g.n], g.end[g.n] = i, j
		g.n++
		if g.n == maxGroups {
			return g, true
		}
		n, kind := sepAt(s, j, seps, wide)
		if n == 0 || j+n >= len(s) || !isDigit(s[j+n]) || (g.n > 1 && s[j:j+n] != sepText) {
			return g, true
		}
		g.sep, sepText = kind, s[j:j+n]
		g.spaced = kind == '-' && strings.IndexByte(sepText, ' ') >= 0
		i = j + n
	}
}

// lens returns the group lengths of the first k groups packed one per
// decimal digit (4-4-4-4 is 4444), for comparing with layouts.
func (g *groups) lens(k int) int {
	v := 0
	for t := 0; t < k; t++ {
		l := g.end[t] - g.start[t]
		if l > 9 {
			return -1
		}
		v = v*10 + l
	}
	return v
}

// digits appends the digits of the first k groups to dst.
func (g *groups) digits(s string, k int, dst []byte) []byte {
	for t := 0; t < k; t++ {
		dst = append(dst, s[g.start[t]:g.end[t]]...)
	}
	return dst
}

// backRunes returns the offset n runes before i (or 0).
func backRunes(s string, i, n int) int {
	for ; n > 0 && i > 0; n-- {
		_, size := utf8.DecodeLastRuneInString(s[:i])
		i -= size
	}
	return i
}

// fwdRunes returns the offset n runes after i (or len(s)).
func fwdRunes(s string, i, n int) int {
	for ; n > 0 && i < len(s); n-- {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return i
}

// lowerASCII appends s to dst with ASCII letters lowered; other bytes,
// including invalid UTF-8, are copied as they are so offsets do not move.
func lowerASCII(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// contextWords is a list of lower-case cue words with the rune length of
// the longest, so that windows can be widened to catch a word that begins
// outside them and ends inside.
//
// A cue counts only if the text between it and the number holds no ASCII
// digit, "@", "<" or ">". Every match holds a digit or "@", and the default
// placeholder holds "<" and ">", so no other match, redacted or not, can
// stand between a cue and its number: redacting a neighbour can neither
// bring a cue into range nor hide one, and Redact stays idempotent.
type contextWords struct {
	words    []string
	maxRunes int
}

func newContextWords(words ...string) contextWords {
	c := contextWords{words: words}
	for _, w := range words {
		c.maxRunes = max(c.maxRunes, utf8.RuneCountInString(w))
	}
	return c
}

// clearGap reports whether a cue may reach across gap.
func clearGap(gap string) bool {
	return !strings.ContainsAny(gap, "0123456789@<>")
}

// before reports whether a cue word ends within n runes before i.
func (c contextWords) before(s string, i, n int) bool { return c.lastBefore(s, i, n) >= 0 }

// lastBefore returns the end of the nearest cue word that ends within n
// runes before i, or -1.
func (c contextWords) lastBefore(s string, i, n int) int {
	near := backRunes(s, i, n)
	lo := backRunes(s, near, c.maxRunes)
	var buf [512]byte
	win := string(lowerASCII(buf[:0], s[lo:i]))
	cut := near - lo
	best := -1
	for _, w := range c.words {
		if k := strings.LastIndex(win, w); k >= 0 && k+len(w) > cut && clearGap(win[k+len(w):]) {
			best = max(best, lo+k+len(w))
		}
	}
	return best
}

// after reports whether a cue word begins within n runes after j.
func (c contextWords) after(s string, j, n int) bool {
	near := fwdRunes(s, j, n)
	hi := fwdRunes(s, near, c.maxRunes)
	var buf [512]byte
	win := string(lowerASCII(buf[:0], s[j:hi]))
	cut := near - j
	for _, w := range c.words {
		if k := strings.Index(win, w); k >= 0 && k < cut && clearGap(win[:k]) {
			return true
		}
	}
	return false
}
