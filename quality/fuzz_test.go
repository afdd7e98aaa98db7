package quality

import (
	"slices"
	"testing"
	"unicode/utf8"
)

// FuzzCheck checks, for any text and language label: no panic, a valid
// Reason on every drop with the input returned unchanged, valid UTF-8 out of
// valid UTF-8 in, and Modified exactly when the kept Text differs from the
// input.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{
		"", enRiver, koRiver, enLibrary + "\n\nPlease enable JavaScript.[1]\n",
		koLibrary + "\nㅋㅋㅋㅋㅋㅋ\n개인정보처리방침\n", "\xff\xfe...\n#\n- …\n{", "a\r\n\r\nb [edit]\n\n\n",
	} {
		f.Add(s, "ko")
		f.Add(s, "en")
	}
	f.Add(enMountain, "")
	fil, err := New(DefaultConfig())
	if err != nil {
		f.Fatal(err)
	}
	reasons := Reasons()
	f.Fuzz(func(t *testing.T, text, lang string) {
		r := fil.Check(text, lang)
		if !r.Keep {
			if !slices.Contains(reasons, r.Reason) || r.Text != text || r.Modified || r.Detail == "" {
				t.Fatalf("drop %+v: want a known reason, the input text, Modified false and a Detail", r)
			}
			return
		}
		if r.Reason != "" {
			t.Fatalf("kept with reason %q", r.Reason)
		}
		if utf8.ValidString(text) && !utf8.ValidString(r.Text) {
			t.Fatalf("invalid UTF-8 out of valid input: %q", r.Text)
		}
		if r.Modified == (r.Text == text) {
			t.Fatalf("Modified %v but text changed %v", r.Modified, r.Text != text)
		}
	})
}
