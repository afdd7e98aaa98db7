package infer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/dokja/dokja/model"
	"github.com/dokja/dokja/tokenizer"
)

// BenchmarkEngineDecode measures generated tokens/s over all requests when
// 1, 4 or 8 requests decode at once (continuous batching: one forward
// pass per step for all of them). Random-weight Llama shapes, 16-token
// prompts, 64 new tokens each, greedy. The 134M shape runs with
// DOKJA_BENCH_134M=1.
func BenchmarkEngineDecode(b *testing.B) {
	shapes := []struct {
		name string
		c    model.Config
	}{
		{"15M", model.Config{VocabSize: 32000, HiddenSize: 288, IntermediateSize: 768, NumHiddenLayers: 6, NumAttentionHeads: 6, NumKeyValueHeads: 6}},
		{"134M", model.Config{VocabSize: 32000, HiddenSize: 768, IntermediateSize: 2048, NumHiddenLayers: 12, NumAttentionHeads: 12, NumKeyValueHeads: 12}},
	}
	// Prompts are ids; the tokenizer only turns generated ids into text.
	tok, err := tokenizer.LoadJSON(filepath.Join("..", "tokenizer", "testdata", "tiny.json"))
	if err != nil {
		b.Fatal(err)
	}
	// DOKJA_BENCH_GGUF names GGUF files (comma-separated) to run as well,
	// their quantized matrices kept in their blocks as dokja serve keeps them.
	var ggufs []string
	if v := os.Getenv("DOKJA_BENCH_GGUF"); v != "" {
		ggufs = strings.Split(v, ",")
	}
	for _, path := range ggufs {
		shapes = append(shapes, struct {
			name string
			c    model.Config
		}{name: strings.TrimSuffix(filepath.Base(path), ".gguf")})
	}
	for si, s := range shapes {
		if s.name == "134M" && os.Getenv("DOKJA_BENCH_134M") == "" {
			continue
		}
		c := s.c
		var m *model.Model
		if si >= len(shapes)-len(ggufs) {
			m, _, err = model.LoadGGUFWith(ggufs[si-(len(shapes)-len(ggufs))], model.GGUFOptions{KeepQuantized: true})
			if err != nil {
				b.Fatal(err)
			}
			c = *m.Config
		} else {
			c.HeadDim = c.HiddenSize / c.NumAttentionHeads
			c.RMSNormEps, c.RopeTheta, c.HiddenAct, c.MaxPositionEmbeddings = 1e-5, 10000, "silu", 2048
			if m, err = model.NewRandom(&c, 1); err != nil {
				b.Fatal(err)
			}
		}
		e, err := newEngine(m, tok, EngineOptions{MaxBatch: 8})
		if err != nil {
			b.Fatal(err)
		}
		go e.loop()
		for _, conc := range []int{1, 4, 8} {
			b.Run(fmt.Sprintf("%s/concurrent%d", s.name, conc), func(b *testing.B) {
				const newTokens = 64
				for b.Loop() {
					var wg sync.WaitGroup
					for i := range conc {
						wg.Go(func() {
							prompt := make([]int, 16)
							for k := range prompt {
								prompt[k] = (i*7919 + k*104729) % c.VocabSize
							}
							if _, err := e.Generate(context.Background(), Request{Prompt: prompt, MaxTokens: newTokens}, nil); err != nil {
								b.Error(err)
							}
						})
					}
					wg.Wait()
				}
				b.ReportMetric(float64(conc*newTokens*b.N)/b.Elapsed().Seconds(), "tokens/s")
			})
		}
		e.Close()
	}
}
