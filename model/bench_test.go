package model

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dokja/dokja/tensor"
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
// does with llama.cpp: a 128-token prefill in one Step (DOKJA_BENCH_PROMPT
// sets another length), then 64 tokens one at a time. Quantized files run
// twice: kept in their blocks, and dequantized to float32 at load. Decode
// also reports the machine's bandwidth, measured just before, and the
// share of the bound it sets (bytes a step reads / bandwidth) reached.
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
	promptLen := 128
	if v := os.Getenv("DOKJA_BENCH_PROMPT"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("DOKJA_BENCH_PROMPT=%q: want a positive number of prompt tokens", v)
		}
		promptLen = n
	}
	kv := os.Getenv("DOKJA_BENCH_KV") // f32 (default) or f16 caches
	if kv != "" && kv != "f32" && kv != "f16" {
		b.Fatalf("DOKJA_BENCH_KV=%q: want f32 or f16", kv)
	}
	halfKV := kv == "f16"
	for _, path := range strings.Split(files, ",") {
		name := strings.TrimSuffix(filepath.Base(path), ".gguf")
		m, _, err := LoadGGUF(path)
		if err != nil {
			b.Fatal(err)
		}
		runs = append(runs, variant{name, m})
		if kept, _, err := LoadGGUFWith(path, GGUFOptions{KeepQuantized: true}); err == nil && kept.Layers[0].Q.Q != nil {
			runs = append(runs, variant{name + "-blocks", kept})
		}
	}
	for _, run := range runs {
		m, name := run.m, run.name
		m.HalfKV = halfKV
		prompt := make([]int, promptLen)
		for i := range prompt {
			prompt[i] = (i * 7919) % 256
		}
		b.Run(fmt.Sprintf("%s/prefill%d", name, promptLen), func(b *testing.B) {
			for b.Loop() {
				if _, err := m.Step(m.NewCache(), prompt, false); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(prompt)*b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
		b.Run(name+"/decode64", func(b *testing.B) {
			bw := streamBandwidth(m.K)
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
			rate := float64(64*b.N) / b.Elapsed().Seconds()
			b.ReportMetric(rate, "tokens/s")
			// Positions 128..191 attend over 160 cached ones on average.
			bound := bw / float64(decodeBytes(m, len(prompt)+32))
			b.ReportMetric(bw/1e9, "GB/s-machine")
			b.ReportMetric(100*rate/bound, "%bound")
		})
	}
}

// decodeBytes is what one decode step must read from memory at context
// ctx: every layer's weights (of a mixture of experts, the router and the
// experts a token chooses), the head, and the keys and values cached for
// the layers, float32 or fp16 (the embedding contributes one row).
func decodeBytes(m *Model, ctx int) int {
	size := func(l *Linear) int {
		if l.Q != nil {
			return l.Q.Size()
		}
		return 4 * len(l.W)
	}
	n := size(&m.Head)
	for i := range m.Layers {
		l := &m.Layers[i]
		experts := 0
		for _, e := range l.Experts {
			experts += size(&e.Gate) + size(&e.Up) + size(&e.Down)
		}
		for _, lin := range l.linears() {
			n += size(lin)
		}
		if len(l.Experts) > 0 {
			n -= experts - experts/len(l.Experts)*m.Config.NumExpertsPerTok
		}
	}
	return n + ctx*m.CacheBytesPerToken()
}

// streamBandwidth measures the machine's read bandwidth at the current
// GOMAXPROCS, in bytes/s, the way a decode step reads weights: dot
// products over two 128 MiB vectors split across the cores. The best of
// three passes counts, since a shared machine only ever slows it.
func streamBandwidth(k tensor.Kernels) float64 {
	const n, chunk = 32 << 20, 1 << 16
	x, y := make([]float32, n), make([]float32, n)
	for i := range x {
		x[i], y[i] = 1, 2
	}
	best := 0.0
	for range 3 {
		start := time.Now()
		tensor.ParallelFor(n/chunk, 1, func(lo, hi int) {
			for c := lo; c < hi; c++ {
				k.Dot(x[c*chunk:(c+1)*chunk], y[c*chunk:(c+1)*chunk])
			}
		})
		best = max(best, 8*n/time.Since(start).Seconds())
	}
	return best
}
