package pii

import "testing"

// BenchmarkRedact redacts NSMC reviews one at a time, as the data pipeline
// will; MB/s is over the review text.
func BenchmarkRedact(b *testing.B) {
	texts := nsmcTexts(b, 50000)
	var size int64
	for _, s := range texts {
		size += int64(len(s))
	}
	r := New(Options{})
	b.SetBytes(size)
	for b.Loop() {
		for _, s := range texts {
			r.Redact(s)
		}
	}
}

// BenchmarkRedactDense is mixed text full of candidates of every kind.
func BenchmarkRedactDense(b *testing.B) {
	r := New(Options{})
	b.SetBytes(int64(len(mixed)))
	for b.Loop() {
		r.Redact(mixed)
	}
}
