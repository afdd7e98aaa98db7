package quality

import (
	"maps"
	"os"
	"slices"
	"testing"
	"unicode/utf8"

	"github.com/dokja/dokja/corpus"
)

const nsmcPath = "../../shared/data/nsmc/reviews.jsonl.gz"

// TestNSMC runs Check over the first 20,000 reviews of the shared NSMC
// corpus (a real crawl of Korean movie reviews) as Korean, with the default
// rules and with rules scaled down to review length (3 eojeols, 1
// sentence). Reviews are one or two informal sentences, so the defaults drop
// nearly all of them as too short; the test only checks that Check holds its
// contract on real text and logs the share of each reason. It skips when the
// file is missing, except under CI=true, where that is a failure.
func TestNSMC(t *testing.T) {
	r, err := corpus.Open(nsmcPath, corpus.Options{IDField: "id"})
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("NSMC corpus missing in CI: %v", err)
		}
		t.Skipf("NSMC corpus not available: %v", err)
	}
	defer r.Close()
	var recs []corpus.Record
	for rec, err := range r.All() {
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 20000 {
			break
		}
		recs = append(recs, rec)
	}
	if len(recs) == 0 {
		t.Fatal("no reviews read")
	}
	short := func(r *Rules) {
		r.Gopher.MinWords = 3
		r.C4.MinSentences = 1
	}
	for _, c := range []struct {
		name  string
		setup func(*Rules)
	}{{"default rules", nil}, {"review-length rules", short}} {
		f := filterFor(t, "ko", c.setup)
		counts := map[string]int{}
		modified := 0
		for _, rec := range recs {
			res := f.Check(rec.Text, "ko")
			if !res.Keep {
				if res.Text != rec.Text {
					t.Errorf("review %s: dropped with a changed Text", rec.ID)
				}
				counts[res.Reason]++
				continue
			}
			counts["(kept)"]++
			if res.Modified {
				modified++
			}
			if utf8.ValidString(rec.Text) && !utf8.ValidString(res.Text) {
				t.Errorf("review %s: invalid UTF-8 out", rec.ID)
			}
		}
		t.Logf("%s, %d reviews:", c.name, len(recs))
		for _, k := range slices.Sorted(maps.Keys(counts)) {
			t.Logf("  %-32s %6d  %6.2f%%", k, counts[k], 100*float64(counts[k])/float64(len(recs)))
		}
		t.Logf("  kept with lines removed: %d", modified)
	}
}
