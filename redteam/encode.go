package redteam

import (
	"encoding/base64"
	"fmt"
	"strings"
)

// Encodings used by the jailbreak_encoding probes. Each turns a payload
// into text that a model must decode before it can obey it.

// Base64 encodes s's UTF-8 bytes in standard base64.
func Base64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// ROT13 rotates ASCII letters by 13 places and leaves the rest alone.
func ROT13(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return 'a' + (r-'a'+13)%26
		case r >= 'A' && r <= 'Z':
			return 'A' + (r-'A'+13)%26
		}
		return r
	}, s)
}

// Leetspeak replaces a, e, i, o, s and t (either case) with 4, 3, 1, 0, 5
// and 7.
func Leetspeak(s string) string {
	return strings.NewReplacer("a", "4", "A", "4", "e", "3", "E", "3", "i", "1", "I", "1",
		"o", "0", "O", "0", "s", "5", "S", "5", "t", "7", "T", "7").Replace(s)
}

// Hex writes s's UTF-8 bytes as space-separated hexadecimal pairs.
func Hex(s string) string {
	parts := make([]string, len(s))
	for i := range len(s) {
		parts[i] = fmt.Sprintf("%02x", s[i])
	}
	return strings.Join(parts, " ")
}

// Reverse reverses s by runes.
func Reverse(s string) string {
	rs := []rune(s)
	for i, j := 0, len(rs)-1; i < j; i, j = i+1, j-1 {
		rs[i], rs[j] = rs[j], rs[i]
	}
	return string(rs)
}

// UnicodeEscape writes every non-ASCII rune of s as \uXXXX.
func UnicodeEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x80 {
			b.WriteRune(r)
		} else {
			fmt.Fprintf(&b, "\\u%04X", r)
		}
	}
	return b.String()
}

// Compatibility jamo for the leading consonants, vowels and trailing
// consonants of a precomposed Hangul syllable.
var (
	leadJamo  = []rune("ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ")
	vowelJamo = []rune("ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ")
	tailJamo  = []rune("\x00ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ")
)

// JamoSplit spells every precomposed Hangul syllable of s as its
// compatibility jamo ("한국" becomes "ㅎㅏㄴㄱㅜㄱ"), a way of writing that
// Korean readers decode at a glance and string filters do not.
func JamoSplit(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0xAC00 || r > 0xD7A3 {
			b.WriteRune(r)
			continue
		}
		i := r - 0xAC00
		b.WriteRune(leadJamo[i/588])
		b.WriteRune(vowelJamo[i%588/28])
		if t := i % 28; t > 0 {
			b.WriteRune(tailJamo[t])
		}
	}
	return b.String()
}
