package pii

import (
	"github.com/dokja/dokja/corpus"
	"os"
	"testing"
)

const nsmcPath = "../../shared/data/nsmc/reviews.jsonl.gz"

// nsmcTexts returns up to n review texts from the shared NSMC corpus (a
// real crawl of Korean movie reviews). It skips when the file is missing,
// except under CI=true, where that is a failure.
func nsmcTexts(t testing.TB, n int) []string {
	t.Helper()
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

// TestNSMC runs the redactor over 20,000 real reviews. Movie reviews hold
// almost no personal information but plenty of numbers (ratings, years,
// times, prices), so nearly everything found here is a false positive:
// the rate must stay tiny. Each hit is logged, masked, for inspection.
func TestNSMC(t *testing.T) {
	texts := nsmcTexts(t, 20000)
	r := New(Options{})
	total := Counts{}
	hitTexts := 0
	for _, s := range texts {
		ms := r.Find(s)
		if len(ms) == 0 {
			continue
		}
		hitTexts++
		for _, m := range ms {
			total[m.Kind]++
			t.Logf("%s: %q", m.Kind, mask(s, m))
		}
	}
	for _, k := range Precedence() {
		t.Logf("%-8s %d", k, total[k])
	}
	rate := float64(hitTexts) / float64(len(texts))
	t.Logf("%d of %d reviews redacted (%.4f%%)", hitTexts, len(texts), 100*rate)
	if rate > 0.0005 {
		t.Errorf("%d of %d reviews redacted; expected almost none", hitTexts, len(texts))
	}
}

// mask shows a match in a little context with its letters and digits
// replaced (an e-mail domain is kept), so logs do not repeat what was found.
func mask(s string, m Match) string {
	lo := backRunes(s, m.Start, 12)
	hi := fwdRunes(s, m.End, 12)
	b := []byte(s[m.Start:m.End])
	for i, c := range b {
		if c == '@' {
			break
		}
		switch {
		case isDigit(c):
			b[i] = '#'
		case isAlpha(c):
			b[i] = 'x'
		}
	}
	return s[lo:m.Start] + "[" + string(b) + "]" + s[m.End:hi]
}
