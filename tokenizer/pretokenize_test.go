package tokenizer

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dlclark/regexp2/v2"
)

// regexPieces splits s with the backtracking regex engine, the reference
// for the hand-written splitters.
func regexPieces(t testing.TB, pattern, s string) []string {
	t.Helper()
	// The wrapper keeps regexp2 from using the code-generated engines that
	// tiktoken-go registers for these exact strings: they differ from
	// backtracking semantics (see TestTiktokenGoDivergence).
	re := regexp2.MustCompile("(?:"+pattern+")", regexp2.None)
	var out []string
	m, err := re.FindStringMatch(s)
	for err == nil && m != nil {
		out = append(out, m.String())
		m, err = re.FindNextMatch(m)
	}
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func splitPieces(t testing.TB, pattern, s string) []string {
	t.Helper()
	sp, err := newSplitter(pattern)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	sp.split(s, func(p string) { out = append(out, p) })
	return out
}

// alphabet mixes the characters on which the patterns' alternatives turn:
// Hangul, Latin of both cases, marks, Lm/Lo/Lt letters, digits of several
// scripts, apostrophes and contraction letters, slashes, every kind of
// whitespace and newline, and emoji.
var alphabet = []rune("가나다한국어는을를의 abcdsStTrReEvVmMlLdDXYZ'’ſ\u0301\u0308\u02b0\u01c5\u4e2d\u3042" +
	"0123456789٣४Ⅻ½ \t\n\r\v\f\u00a0\u3000\u2028\u0085.,!?/-_()\"#😀🇰🇷\u200d")

func randomText(r *rand.Rand, n int) string {
	var b strings.Builder
	for range n {
		b.WriteRune(alphabet[r.IntN(len(alphabet))])
	}
	return b.String()
}

func TestSplitterMatchesRegex(t *testing.T) {
	fixed := []string{
		"", " ", "  ", "hello world", "  leading", "trailing  ", "a\n\nb", "x \n y",
		"I'm don't WE'LL they'RE it'ſ", "HTTPServer getX XMLHttpRequest", "안녕하세요, 세상! 2024년 12월",
		"1234567 12 3", "foo//bar\n/\n", "\r\n\r\n  \t\n", "a\u0301b \u0301\u0301x", "😀😀 emoji 🇰🇷",
		"Ⅻ½٣४ digits", "ǅemal ʰa", "'' 'x ' s", "  \u3000한글", "tab\tsep\tvalues\n",
	}
	r := rand.New(rand.NewPCG(1, 2))
	n := 3000
	if testing.Short() {
		n = 300
	}
	for range n {
		fixed = append(fixed, randomText(r, 1+r.IntN(40)))
	}
	for _, name := range []string{"cl100k", "qwen2", "o200k", "gpt2"} {
		pattern, _ := PatternByName(name)
		t.Run(name, func(t *testing.T) {
			for _, s := range fixed {
				want := regexPieces(t, pattern, s)
				got := splitPieces(t, pattern, s)
				if strings.Join(got, "") != s {
					t.Fatalf("%q: pieces %q do not cover the text", s, got)
				}
				if !slices.Equal(got, want) {
					t.Fatalf("%q:\n got %q\nwant %q", s, got, want)
				}
			}
		})
	}
}

func FuzzSplitter(f *testing.F) {
	f.Add("Hello, 세상! I'm 42 years\n\n old  ")
	f.Add("HTTPServer's /path//x\r\n")
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) || len(s) > 200 {
			return
		}
		for _, pattern := range []string{PatternCL100K, PatternQwen2, PatternO200K} {
			want := regexPieces(t, pattern, s)
			got := splitPieces(t, pattern, s)
			if !slices.Equal(got, want) {
				t.Fatalf("%q:\n got %q\nwant %q", s, got, want)
			}
		}
	})
}
