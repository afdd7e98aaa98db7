package quality

import "testing"

// BenchmarkCheck judges a ~2 KB Korean and a ~2 KB English document that
// pass every rule, so every family runs to the end.
func BenchmarkCheck(b *testing.B) {
	f := defaultFilter(b)
	for _, c := range []struct{ name, lang, text string }{
		{"ko", "ko", koRiver + "\n\n" + koLibrary + "\n\n" + koMountain},
		{"en", "en", enRiver + "\n\n" + enLibrary + "\n\n" + enMountain},
	} {
		b.Run(c.name, func(b *testing.B) {
			if r := f.Check(c.text, c.lang); !r.Keep {
				b.Fatalf("sample dropped by %s (%s)", r.Reason, r.Detail)
			}
			b.SetBytes(int64(len(c.text)))
			b.ReportAllocs()
			for b.Loop() {
				f.Check(c.text, c.lang)
			}
		})
	}
}
