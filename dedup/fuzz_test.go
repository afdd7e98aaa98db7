package dedup

import (
	"slices"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// FuzzSignature checks, for any input (invalid UTF-8 included), both
// units: no panic; Normalize gives valid UTF-8, is idempotent and its fast
// NFKC path agrees with norm; the signature has Hashes values, is the
// empty signature exactly when the text has no shingles and otherwise
// never holds EmptyValue; a text and its normalized form have the same
// signature; Bands gives one key per band, none for the empty signature.
func FuzzSignature(f *testing.F) {
	for _, s := range []string{
		"", " ", "가", "영화가 정말 재밌어요!!! ㅋㅋㅋ", "Hello, World", "ㄱ-ㅏ", "e.\u0301",
		"\xff\xfe\xfd", "가\xed\xa0\x80나", "ＡＢＣ１２３ ｶﾀｶﾅ", "😀👍", "\u200b\ufeff",
		"각\u11a8", "<\u0338", "ﬁ①㈜Ⅻ", "İSTANBUL ΣΑΣ",
	} {
		f.Add(s)
	}
	char := mustMinHasher(f, DefaultOptions())
	wo := DefaultOptions()
	wo.Unit = "word"
	word := mustMinHasher(f, wo)
	f.Fuzz(func(t *testing.T, s string) {
		n := Normalize(s)
		if !utf8.ValidString(n) {
			t.Fatalf("Normalize(%q) = %q: invalid UTF-8", s, n)
		}
		if nn := Normalize(n); nn != n {
			t.Fatalf("Normalize(%q) = %q, but Normalize of that = %q", s, n, nn)
		}
		var it norm.Iter
		if got, want := string(appendNFKC(nil, &it, s)), norm.NFKC.String(s); got != want {
			t.Fatalf("appendNFKC(%q) = %q, norm gives %q", s, got, want)
		}
		for _, m := range []*MinHasher{char, word} {
			o := m.Options()
			sig := m.Signature(s, nil)
			if len(sig) != o.Hashes {
				t.Fatalf("%s: %d values", o.Unit, len(sig))
			}
			var offs []int
			empty := len(appendShingleHashes(nil, &offs, []byte(n), o.Unit, o.ShingleSize())) == 0
			if IsEmpty(sig) != empty {
				t.Fatalf("%s: IsEmpty = %v for %q (normalized %q)", o.Unit, IsEmpty(sig), s, n)
			}
			for _, v := range sig {
				if (v == EmptyValue) != empty {
					t.Fatalf("%s: value %#x in the signature of %q", o.Unit, v, s)
				}
			}
			if !slices.Equal(sig, m.Signature(n, nil)) {
				t.Fatalf("%s: %q and its normalized form %q differ", o.Unit, s, n)
			}
			bands := m.Bands(sig, nil)
			if want := o.Bands; empty {
				if len(bands) != 0 {
					t.Fatalf("%s: %d band keys for an empty document", o.Unit, len(bands))
				}
			} else if len(bands) != want {
				t.Fatalf("%s: %d band keys", o.Unit, len(bands))
			}
		}
	})
}
