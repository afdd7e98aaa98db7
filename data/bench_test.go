package data

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"os"
	"testing"
)

// nsmcTexts reads the first n NSMC reviews, or skips.
func nsmcTexts(b *testing.B, n int) []string {
	b.Helper()
	f, err := os.Open("../../shared/data/nsmc/reviews.jsonl.gz")
	if err != nil {
		b.Skip(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		b.Fatal(err)
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(nil, 1<<20)
	var out []string
	for len(out) < n && sc.Scan() {
		var r struct{ Text string }
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			b.Fatal(err)
		}
		out = append(out, Normalize(r.Text, normNFC, true, true))
	}
	return out
}

// BenchmarkStages measures each stage alone on 20,000 NSMC reviews, one
// core: MB/s of review text.
func BenchmarkStages(b *testing.B) {
	texts := nsmcTexts(b, 20000)
	var bytes int64
	for _, t := range texts {
		bytes += int64(len(t))
	}
	stages := []struct {
		name string
		opts builder
	}{
		{"normalize", defaultNormalize()},
		{"langid", defaultLangID()},
		{"quality", defaultQuality()},
		{"pii", defaultPII()},
		{"exact_dedup", defaultExact()},
		{"minhash_dedup", &MinHashOptions{Options: defaultMinHash().Options}},
	}
	for _, s := range stages {
		b.Run(s.name, func(b *testing.B) {
			built, err := s.opts.build(&Env{})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(bytes)
			var key []byte
			d := &Document{Lang: "ko"}
			for b.Loop() {
				for _, t := range texts {
					d.Text = t
					switch st := built.(type) {
					case Stage:
						st.Process(d)
						d.Lang = "ko"
					case CorpusStage:
						key = st.Key(d, key[:0])
					}
				}
			}
			b.ReportMetric(float64(len(texts))*float64(b.N)/b.Elapsed().Seconds(), "docs/s")
		})
	}
}
