package tensor

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// gemmShapes are y = x·Wᵀ products of Llama-shaped models: m tokens, n
// outputs, k inputs, with W stored n×k as in Hugging Face checkpoints.
var gemmShapes = []struct {
	name    string
	m, n, k int
}{
	{"square1024", 1024, 1024, 1024},
	{"15M/prefill256/attn", 256, 288, 288},
	{"15M/prefill256/mlp-up", 256, 768, 288},
	{"15M/decode/mlp-up", 1, 768, 288},
	{"134M/prefill512/attn", 512, 768, 768},
	{"134M/prefill512/mlp-up", 512, 2048, 768},
	{"134M/decode/mlp-up", 1, 2048, 768},
	{"1.1B/prefill512/mlp-up", 512, 5632, 2048},
	{"1.1B/decode/mlp-up", 1, 5632, 2048},
}

// BenchmarkGemm reports GFLOP/s of every kernel path built in, on the same
// shapes in the same run; run it with -tags openblas and
// GOEXPERIMENT=simd to see all three side by side (make bench does).
func BenchmarkGemm(b *testing.B) {
	r := rand.New(rand.NewPCG(9, 9))
	for _, sh := range gemmShapes {
		a := randSlice(r, sh.m*sh.k)
		w := randSlice(r, sh.n*sh.k)
		c := make([]float32, sh.m*sh.n)
		for _, kern := range allPaths(b) {
			b.Run(fmt.Sprintf("%s/%s", sh.name, kern.Name()), func(b *testing.B) {
				for b.Loop() {
					kern.Gemm(false, true, sh.m, sh.n, sh.k, 1, a, sh.k, w, sh.k, 0, c, sh.n)
				}
				flops := 2 * float64(sh.m) * float64(sh.n) * float64(sh.k) * float64(b.N)
				b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkMemoryBandwidth measures how fast the kernels stream memory:
// dot products over two 128 MiB vectors, far beyond any cache, split
// across the cores like a decode step's weight reads. Decoding one token
// reads every weight once, so bandwidth / model bytes bounds decode
// tokens/s.
func BenchmarkMemoryBandwidth(b *testing.B) {
	const n = 32 << 20
	x, y := make([]float32, n), make([]float32, n)
	for i := range x {
		x[i], y[i] = 1, 2
	}
	for _, kern := range allPaths(b) {
		b.Run(kern.Name(), func(b *testing.B) {
			const chunk = 1 << 16
			for b.Loop() {
				ParallelFor(n/chunk, 1, func(lo, hi int) {
					for c := lo; c < hi; c++ {
						kern.Dot(x[c*chunk:(c+1)*chunk], y[c*chunk:(c+1)*chunk])
					}
				})
			}
			b.ReportMetric(float64(8*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
		})
	}
}
