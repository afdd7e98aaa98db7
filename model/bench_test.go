package model

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// benchConfigs are Llama shapes from the benchmarks issue; the 1.1B one
// (TinyLlama's shape, 4.4 GB in float32) runs only with DOKJA_BENCH_1B=1.
var benchConfigs = []struct {
	name string
	c    Config
}{
	{"15M", Config{VocabSize: 32000, HiddenSize: 288, IntermediateSize: 768, NumHiddenLayers: 6, NumAttentionHeads: 6, NumKeyValueHeads: 6}},
	{"134M", Config{VocabSize: 32000, HiddenSize: 768, IntermediateSize: 2048, NumHiddenLayers: 12, NumAttentionHeads: 12, NumKeyValueHeads: 12}},
	{"1.1B", Config{VocabSize: 32000, HiddenSize: 2048, IntermediateSize: 5632, NumHiddenLayers: 22, NumAttentionHeads: 32, NumKeyValueHeads: 4}},
}

// BenchmarkForward measures prefill throughput: one forward pass over 128
// tokens, reported as tokens/s. bench/forward_torch.py runs the same
// shapes with PyTorch for the side-by-side figure; use -cpu 1,2.
func BenchmarkForward(b *testing.B) {
	const T = 128
	for _, bc := range benchConfigs {
		if bc.name == "1.1B" && os.Getenv("DOKJA_BENCH_1B") == "" {
			continue
		}
		c := bc.c
		c.HeadDim = c.HiddenSize / c.NumAttentionHeads
		c.RMSNormEps, c.RopeTheta, c.HiddenAct = 1e-5, 10000, "silu"
		m, err := NewRandom(&c, 1)
		if err != nil {
			b.Fatal(err)
		}
		ids := make([]int, T)
		for i := range ids {
			ids[i] = (i * 7919) % c.VocabSize
		}
		b.Run(fmt.Sprintf("%s/prefill%d/%s", bc.name, T, m.K.Name()), func(b *testing.B) {
			for b.Loop() {
				if _, err := m.Forward(ids); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(T*b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}

// BenchmarkGGUF times Dokja on GGUF files named in DOKJA_BENCH_GGUF
// (comma-separated), the same work as model/testdata/llamaref/speed.mjs
// does with llama.cpp: a 128-token prefill in one Step, then 64 tokens
// one at a time. Quantized files run twice: kept in their blocks, and
// dequantized to float32 at load.
func BenchmarkGGUF(b *testing.B) {
	files := os.Getenv("DOKJA_BENCH_GGUF")
	if files == "" {
		b.Skip("set DOKJA_BENCH_GGUF to GGUF files")
	}
	type variant struct {
		name string
		m    *Model
	}
	var runs []variant
	for _, path := range strings.Split(files, ",") {
		name := strings.TrimSuffix(filepath.Base(path), ".gguf")
		m, _, err := LoadGGUF(path)
		if err != nil {
			b.Fatal(err)
		}
		runs = append(runs, variant{name, m})
		if kept, _, err := LoadGGUFWith(path, GGUFOptions{KeepQuantized: true}); err == nil && kept.Quant[0].Q != nil {
			runs = append(runs, variant{name + "-blocks", kept})
		}
	}
	for _, run := range runs {
		m, name := run.m, run.name
		prompt := make([]int, 128)
		for i := range prompt {
			prompt[i] = (i * 7919) % 256
		}
		b.Run(name+"/prefill128", func(b *testing.B) {
			for b.Loop() {
				if _, err := m.Step(m.NewCache(), prompt, false); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(prompt)*b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
		b.Run(name+"/decode64", func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				c := m.NewCache()
				if _, err := m.Step(c, prompt, false); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				for i := range 64 {
					if _, err := m.Step(c, []int{(i * 104729) % 256}, false); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(64*b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}
