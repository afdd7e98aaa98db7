package dedup

import (
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

func TestNormalize(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"empty", "", ""},
		{"english", "Hello, World!", "hello world"},
		{"korean untouched", "영화가 정말 재밌어요", "영화가 정말 재밌어요"},
		{"korean punctuation", "영화가 정말 재밌어요!!! 최고.. 강추~", "영화가 정말 재밌어요 최고 강추"},
		{"punctuation joins", "안녕.하세요 don't e-mail", "안녕하세요 dont email"},
		{"whitespace runs", "  여러   공백\t\n이\r\n  ", "여러 공백 이"},
		{"nbsp and ideographic space", "a\u00a0b\u3000c\u2003d", "a b c d"},
		{"digits", "2019년 12월 31일, 1,500원", "0000년 00월 00일 0000원"},
		{"other scripts' digits", "٣٤ ३", "00 0"},
		{"full-width", "ＡＢＣ　１２３！", "abc 000"},
		{"half-width katakana", "ｶﾀｶﾅ", "カタカナ"},
		{"ligature", "ﬁne ﬂow", "fine flow"},
		{"parenthesized hangul", "㈜삼성", "주삼성"},
		{"circled digits", "①②", "00"},
		{"roman numeral", "Ⅻ장", "xii장"},
		{"compatibility jamo", "ㅋㅋㅋ ㅠㅠ", "\u110f\u110f\u110f \u1172\u1172"},
		{"jamo joined across removed hyphen", "ㄱ-ㅏ", "가"},
		{"accent joined across removed dot", "e.\u0301", "é"},
		{"decomposed accent", "Cafe\u0301 CAFÉ", "café café"},
		{"zero-width and bom", "\ufeffzero\u200bwidth\u00adsoft", "zerowidthsoft"},
		{"controls", "a\x00b\x07c\x7fd", "abcd"},
		{"emoji and symbols", "😀 최고 👍 ★★★ $5 ©", "최고 0"},
		{"invalid utf-8", "\xff\xfe영화\xc3", "영화"},
		{"greek", "ΣΑΣ", "σασ"},
		{"only punctuation", "!!! ... ??? ~~~", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := Normalize(c.in)
			if got != c.want {
				t.Errorf("Normalize(%q) = %q (%+q), want %q", c.in, got, got, c.want)
			}
			if again := Normalize(got); again != got {
				t.Errorf("Normalize not idempotent on %q: %q then %q", c.in, got, again)
			}
		})
	}
}

// TestAppendNFKC compares the fast path for mostly-Hangul text with
// norm.NFKC on texts that mix safe and unsafe characters at every
// position.
func TestAppendNFKC(t *testing.T) {
	pieces := []string{
		"a", "가", "각", "中", " ", ".", "ㅋ", "ㅏ", "\u1161", "\u11a8", "\u0301", "\u0338", "<",
		"ｶ", "\uff9e", "ﬁ", "①", "\xff", "é", "e", "\u3099", "か", "ᄀ", "😀", "Å", "\u212b",
	}
	var it norm.Iter
	check := func(s string) {
		t.Helper()
		if got, want := string(appendNFKC(nil, &it, s)), norm.NFKC.String(s); got != want {
			t.Fatalf("appendNFKC(%+q) = %+q, want %+q", s, got, want)
		}
	}
	for _, a := range pieces {
		for _, b := range pieces {
			for _, c := range pieces {
				check(a + b + c)
			}
		}
	}
	check(strings.Repeat("가\u11a8ㅋ.", 100))
}

func TestExactKey(t *testing.T) {
	a := ExactKey("영화가 정말 재밌어요")
	if a != ExactKey("영화가 정말 재밌어요") {
		t.Fatal("ExactKey is not deterministic")
	}
	if a == ExactKey("영화가 정말 재밌어요.") {
		t.Error("ExactKey ignores a trailing dot: it must hash the text as given")
	}
	if ExactKey(Normalize("영화가  정말 재밌어요!!")) != ExactKey(Normalize("영화가 정말 재밌어요")) {
		t.Error("ExactKey of normalized copies differ")
	}
	if k := ExactKey(""); k == (Key{}) {
		t.Error("ExactKey(\"\") is all zero")
	}
	// The two halves are independent hashes, not one repeated.
	if [8]byte(a[:8]) == [8]byte(a[8:]) {
		t.Error("the two halves of a Key are equal")
	}
	seen := map[Key]string{}
	for i := range 20000 {
		s := strings.Repeat("가", i%7) + string(rune('A'+i%26)) + strings.Repeat("x", i/26)
		k := ExactKey(s)
		if prev, ok := seen[k]; ok && prev != s {
			t.Fatalf("collision: %q and %q", prev, s)
		}
		seen[k] = s
	}
	if n := testing.AllocsPerRun(100, func() { ExactKey("영화가 정말 재밌어요") }); n != 0 {
		t.Errorf("ExactKey allocates %v times", n)
	}
}

func TestNormalizeValidUTF8(t *testing.T) {
	for _, s := range []string{"\xff", "\xe0\x80", "가\xed\xa0\x80나", "\xf4\x90\x80\x80", "a\xc0\xafb"} {
		if got := Normalize(s); !utf8.ValidString(got) {
			t.Errorf("Normalize(%q) = %q, not valid UTF-8", s, got)
		}
	}
}
