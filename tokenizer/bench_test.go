package tokenizer

import (
	"context"
	"fmt"
	"testing"

	tiktoken "github.com/tiktoken-go/tokenizer"
)

// benchTexts are the NSMC reviews encoded by the throughput benchmarks.
func benchTexts(b *testing.B) ([]string, int64) {
	texts := nsmcTexts(b, 50000)
	var n int64
	for _, s := range texts {
		n += int64(len(s))
	}
	return texts, n
}

// BenchmarkEncode compares single-threaded encoding of NSMC reviews with
// tiktoken-go, the anchor, in the same run.
func BenchmarkEncode(b *testing.B) {
	texts, size := benchTexts(b)
	for _, name := range []string{"o200k", "cl100k"} {
		ours, err := Named(name)
		if err != nil {
			b.Fatal(err)
		}
		enc := map[string]tiktoken.Encoding{"o200k": tiktoken.O200kBase, "cl100k": tiktoken.Cl100kBase}[name]
		ref, err := tiktoken.Get(enc)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name+"/dokja", func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				// Each pass starts cold: the cache may only help within
				// one pass over the reviews, as on a real corpus.
				ours.clearCache()
				for _, s := range texts {
					if _, err := ours.EncodeOrdinary(s); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
		b.Run(name+"/tiktoken-go", func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				for _, s := range texts {
					if _, _, err := ref.Encode(s); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkEncodeBatch shows how batch encoding scales with workers.
func BenchmarkEncodeBatch(b *testing.B) {
	texts, size := benchTexts(b)
	tok, err := Named("o200k")
	if err != nil {
		b.Fatal(err)
	}
	for _, w := range []int{1, 2} {
		b.Run(fmt.Sprintf("o200k/workers=%d", w), func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				tok.clearCache()
				if _, err := tok.EncodeBatch(context.Background(), texts, w); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
