package tokenizer

import (
	"github.com/dokja/dokja/corpus"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	tiktoken "github.com/tiktoken-go/tokenizer"
)

const nsmcPath = "../../shared/data/nsmc/reviews.jsonl.gz"

// nsmcTexts returns up to n review texts from the shared NSMC corpus (a
// tenth of that in short mode), skipping the test when the corpus is
// absent (outside the workplace; CI must have it).
func nsmcTexts(t testing.TB, n int) []string {
	t.Helper()
	if testing.Short() {
		n = max(n/10, 100)
	}
	r, err := corpus.Open(nsmcPath, corpus.Options{})
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("NSMC corpus missing in CI: %v", err)
		}
		t.Skipf("NSMC corpus not available: %v", err)
	}
	defer r.Close()
	var out []string
	for rec, err := range r.All() {
		if err != nil {
			t.Fatal(err)
		}
		if len(out) == n {
			break
		}
		out = append(out, rec.Text)
	}
	return out
}

// mixedTexts covers what a Korean web corpus throws at a tokenizer besides
// plain reviews: English prose, code, emoji and odd whitespace.
func mixedTexts() []string {
	texts := []string{
		"The quick brown fox jumps over the lazy dog. It's 3:45pm, isn't it?",
		"func main() {\n\tfmt.Println(\"hello, 세계\")\n\treturn\n}\n",
		"def f(x):\n    return x ** 2  # square\n\n\n",
		"이모지 테스트 😀🎉👍🏽 👨‍👩‍👧‍👦 🇰🇷 and flags",
		"  leading spaces\t\ttabs\r\nCRLF\u00a0nbsp\u3000ideographic space\u2028line sep",
		"HTTPServer XMLHttpRequest getElementById iPhone McDonald's I'M WE'LL",
		"1234567890 3.14159 1,000,000원 2024년 12월 25일 +82-10-1234-5678",
		"https://example.com/path/to/page?q=한국어&lang=ko#section",
		"<html><body><p class=\"x\">문단</p></body></html>",
		"ㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋ ㅠㅠㅠㅠ!!!!!!!!????",
		"Ｆｕｌｌｗｉｄｔｈ　ＡＳＣＩＩ and 中文字符 and 日本語のテキスト and Ελληνικά and Кириллица",
		"e\u0301 combining marks a\u0308\u0308 한 decomposed jamo",
		strings.Repeat("가", 300) + strings.Repeat(" ", 100) + strings.Repeat("a", 200) + strings.Repeat("!", 150),
	}
	r := rand.New(rand.NewPCG(7, 7))
	for range 300 {
		texts = append(texts, randomText(r, 1+r.IntN(120)))
	}
	return texts
}

func TestNamedMatchesTiktokenGo(t *testing.T) {
	texts := append(nsmcTexts(t, 20000), mixedTexts()...)
	for _, tc := range []struct {
		name string
		enc  tiktoken.Encoding
	}{{"o200k", tiktoken.O200kBase}, {"cl100k", tiktoken.Cl100kBase}} {
		t.Run(tc.name, func(t *testing.T) {
			ours, err := Named(tc.name)
			if err != nil {
				t.Fatal(err)
			}
			ref, err := tiktoken.Get(tc.enc)
			if err != nil {
				t.Fatal(err)
			}
			total := 0
			for i, s := range texts {
				want, _, err := ref.Encode(s)
				if err != nil {
					t.Fatal(err)
				}
				got, err := ours.EncodeOrdinary(s)
				if err != nil {
					t.Fatalf("text %d: %v", i, err)
				}
				total += len(got)
				if !equalIDs(got, want) {
					t.Fatalf("text %d %q:\n got %v\nwant %v", i, clip(s), got, want)
				}
				back, err := ours.Decode(got)
				if err != nil || back != s {
					t.Fatalf("text %d: decode gave %q, %v", i, clip(back), err)
				}
			}
			t.Logf("%d texts, %d tokens identical", len(texts), total)
		})
	}
}

func equalIDs(got []int, want []uint) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if uint(got[i]) != want[i] {
			return false
		}
	}
	return true
}

func TestSpecialTokensNeverSplit(t *testing.T) {
	tok, err := Named("cl100k")
	if err != nil {
		t.Fatal(err)
	}
	ids, err := tok.Encode("hi<|endoftext|>there<|fim_prefix|><|endoftext")
	if err != nil {
		t.Fatal(err)
	}
	if ids[1] != 100257 || ids[3] != 100258 {
		t.Fatalf("special tokens not recognised: %v", ids)
	}
	back, _ := tok.Decode(ids)
	if back != "hi<|endoftext|>there<|fim_prefix|><|endoftext" {
		t.Fatalf("round trip: %q", back)
	}
	skip, _ := tok.DecodeWith(ids, DecodeOptions{SkipSpecial: true})
	if skip != "hithere<|endoftext" {
		t.Fatalf("skip special: %q", skip)
	}
	ord, _ := tok.EncodeOrdinary("<|endoftext|>")
	if len(ord) < 2 {
		t.Fatalf("EncodeOrdinary matched a special token: %v", ord)
	}
}

func TestTiktokenFileRoundTrip(t *testing.T) {
	tok, err := Named("cl100k")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cl100k.tiktoken")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.WriteTiktoken(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	back, err := LoadTiktoken(path, PatternCL100K, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range mixedTexts()[:20] {
		a, _ := tok.EncodeOrdinary(s)
		b, _ := back.EncodeOrdinary(s)
		if !slices.Equal(a, b) {
			t.Fatalf("%q: %v vs %v", s, a, b)
		}
	}
}

func TestReadTiktokenErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"empty", "", "no ranks"},
		{"no rank", "YQ==\n", "want"},
		{"bad base64", "!!! 0\n", "base64"},
		{"bad rank", "YQ== x\n", "rank"},
		{"dup", "YQ== 0\nYg== 0\n", "given twice"},
		{"missing bytes", "YQ== 0\n", "single byte"},
		{"long line", strings.Repeat("A", maxRankLine+10), "longer than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadTiktoken(strings.NewReader(tc.in), "x.tiktoken", PatternCL100K, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "x.tiktoken") {
				t.Fatalf("got %v, want an error naming x.tiktoken and containing %q", err, tc.want)
			}
		})
	}
}
