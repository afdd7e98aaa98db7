package dedup

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// koreanDoc returns a document of about n runes cut from real reviews.
func koreanDoc(b testing.TB, n int) string {
	revs := nsmcReviews(b, 200)
	var sb strings.Builder
	for i := 0; utf8.RuneCountInString(sb.String()) < n; i++ {
		sb.WriteString(revs[i%len(revs)])
		sb.WriteByte(' ')
	}
	return string([]rune(sb.String())[:n])
}

func benchmarkSignature(b *testing.B, runes int) {
	doc := koreanDoc(b, runes)
	m, err := NewMinHasher(DefaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	sig := m.Signature(doc, nil)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		sig = m.Signature(doc, sig)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
}

// BenchmarkSignature measures Signature on Korean documents of 200 and
// 2000 runes (normalization, shingling and all hash functions).
func BenchmarkSignature(b *testing.B) {
	b.Run("200runes", func(b *testing.B) { benchmarkSignature(b, 200) })
	b.Run("2000runes", func(b *testing.B) { benchmarkSignature(b, 2000) })
}

// BenchmarkResolve measures Resolve over 100,000 documents, 1% of them
// near-copies of others, with and without verification.
func BenchmarkResolve(b *testing.B) {
	for _, thr := range []float64{0, 0.5} {
		name := "threshold=0"
		if thr > 0 {
			name = "threshold=0.5"
		}
		b.Run(name, func(b *testing.B) {
			o := DefaultOptions()
			o.Threshold = thr
			x := syntheticIndex(o, 100_000, rand.New(rand.NewPCG(1, 2)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				x.Resolve()
			}
			b.ReportMetric(float64(x.Len()*b.N)/b.Elapsed().Seconds(), "docs/s")
		})
	}
}

// syntheticIndex returns an Index of n documents with random signatures,
// every hundredth a near-copy of an earlier one (each value changed with
// probability 1/8), added in random order.
func syntheticIndex(o Options, n int, rng *rand.Rand) *Index {
	m, _ := NewMinHasher(o)
	x := NewIndex(o)
	x.Grow(n)
	sigs := make([][]uint32, n)
	for i := range sigs {
		s := make([]uint32, o.Hashes)
		if i%100 == 99 {
			copy(s, sigs[rng.IntN(i)])
			for j := range s {
				if rng.IntN(8) == 0 {
					s[j] = rng.Uint32() >> 1
				}
			}
		} else {
			for j := range s {
				s[j] = rng.Uint32() >> 1
			}
		}
		sigs[i] = s
	}
	var bands []uint64
	for _, i := range rng.Perm(n) {
		bands = m.Bands(sigs[i], bands)
		x.Add(uint64(i)*3+7, bands, sigs[i])
	}
	return x
}
