package pii

import (
	"strings"
	"unicode/utf8"
)

// The practical subset of RFC 5322 found in web text: a local part of
// letters, digits and ._%+- and a domain of two or more dot-separated
// labels. Labels are ASCII letters, digits and inner hyphens, or Hangul
// syllables (internationalised names such as "한국.kr"; "xn--" punycode is
// ASCII anyway). The top-level domain is ASCII letters only, at least two,
// and not a file extension, so "icon@2x.png" is not an address. Korean
// particles glued on ("naver.com으로") are not part of the address.
//
// Rather than refusing a malformed address outright, the scanner keeps the
// longest well-formed part next to the "@": the local part after a "..",
// the domain up to the last label that is a valid TLD. That way the answer
// does not change when a neighbouring match is redacted, which would
// otherwise make a second Redact find more than the first.

// fileExt are endings of "name@2x.png"-style file names that are not TLDs.
var fileExt = []string{"png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "css", "js", "html", "htm", "php", "jsp", "asp", "txt", "pdf"}

func isLocalByte(c byte) bool {
	return isWordByte(c) || c == '.' || c == '%' || c == '+' || c == '-'
}

func isLabelByte(c byte) bool { return isDigit(c) || isAlpha(c) || c == '-' }

// syllableAt returns the size of the Hangul syllable at i, or 0.
func syllableAt(s string, i int) int {
	if i >= len(s) || s[i] < utf8.RuneSelf {
		return 0
	}
	r, size := utf8.DecodeRuneInString(s[i:])
	if !isSyllable(r) {
		return 0
	}
	return size
}

// findEmails finds e-mail addresses around each "@".
func findEmails(s string, dst []Match) []Match {
	floor := 0 // no address may start before this (the last match or "@")
	for {
		k := strings.IndexByte(s[floor:], '@')
		if k < 0 {
			return dst
		}
		at := floor + k
		start := localStart(s, floor, at)
		end := domainEnd(s, at+1)
		if start >= 0 && end > 0 {
			dst = append(dst, Match{Email, start, end})
			floor = end
		} else {
			floor = at + 1
		}
	}
}

// localStart returns where the local part before at begins, or -1. It
// reads back no further than floor, so the scans for successive "@" do not
// overlap and the whole search stays linear.
func localStart(s string, floor, at int) int {
	i := at
	for i > floor && isLocalByte(s[i-1]) {
		i--
	}
	if k := strings.LastIndex(s[i:at], ".."); k >= 0 {
		i += k + 2
	}
	// Punctuation cannot begin a local part ("--a@b.com").
	for i < at && !isWordByte(s[i]) {
		i++
	}
	if i == at || s[at-1] == '.' {
		return -1
	}
	return i
}

// domainEnd returns the end of the domain starting at j, or -1.
func domainEnd(s string, j int) int {
	const maxLabel = 63
	type label struct {
		start, end int
		hangul     bool
		ok         bool // fit to stand before another label
	}
	var buf [16]label
	labels := buf[:0]
	i := j
	for len(labels) < len(buf) {
		l := label{start: i, ok: true}
		if i < len(s) && isLabelByte(s[i]) {
			for i < len(s) && isLabelByte(s[i]) && i-l.start <= maxLabel {
				i++
			}
			l.ok = s[l.start] != '-' && s[i-1] != '-' && i-l.start <= maxLabel
		} else if syllableAt(s, i) > 0 {
			l.hangul = true
			for n := syllableAt(s, i); n > 0 && i-l.start <= 3*maxLabel; n = syllableAt(s, i) {
				i += n
			}
		} else {
			break
		}
		l.end = i
		labels = append(labels, l)
		if !l.ok || i+1 >= len(s) || s[i] != '.' || (!isLabelByte(s[i+1]) && syllableAt(s, i+1) == 0) {
			break
		}
		i++
	}
	// okBefore counts the leading labels that may precede a TLD.
	okBefore := 0
	for okBefore < len(labels) && labels[okBefore].ok {
		okBefore++
	}
	for k := min(len(labels)-1, okBefore); k >= 1; k-- {
		if l := labels[k]; !l.hangul && tldOK(s[l.start:l.end]) {
			return l.end
		}
	}
	return -1
}

// tldOK accepts ASCII letters (two or more, not a file extension) and
// punycode ("xn--...").
func tldOK(t string) bool {
	if strings.HasPrefix(t, "xn--") && len(t) > 4 {
		return true
	}
	if len(t) < 2 || len(t) > 24 {
		return false
	}
	for i := 0; i < len(t); i++ {
		if !isAlpha(t[i]) {
			return false
		}
	}
	lt := strings.ToLower(t)
	for _, e := range fileExt {
		if lt == e {
			return false
		}
	}
	return true
}
