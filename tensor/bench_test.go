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

// BenchmarkAttendQuery times one query's attention over a 1024-position
// cache of the 125M shape (12 heads of 64), cycling through 12 layers'
// caches (75 MB, beyond the caches) as a decode step does, through the
// fused kernel and through Gemm. GB/s counts the keys and values read.
func BenchmarkAttendQuery(b *testing.B) {
	const heads, hd, n, layers = 12, 64, 1024, 12
	ld := heads * hd
	r := rand.New(rand.NewPCG(1, 2))
	caches := make([][2][]float32, layers)
	for i := range caches {
		for j := range 2 {
			x := make([]float32, n*ld)
			for e := range x {
				x[e] = float32(r.NormFloat64())
			}
			caches[i][j] = x
		}
	}
	q := make([]float32, ld)
	for i := range q {
		q[i] = float32(r.NormFloat64())
	}
	att, scores := make([]float32, ld), make([]float32, heads*n)
	for _, kern := range allPaths(b) {
		qa, fused := kern.(QueryAttender)
		for _, way := range []string{"fused", "gemm"} {
			if way == "fused" && !fused {
				continue
			}
			b.Run(kern.Name()+"/"+way, func(b *testing.B) {
				l := 0
				for b.Loop() {
					c := caches[l%layers]
					l++
					if way == "fused" {
						qa.AttendQuery(q, c[0], c[1], scores, att, heads, 1, hd, ld, n, 0.125)
					} else {
						attendByGemm(kern, q, c[0], c[1], att, heads, 1, hd, ld, n, 0.125)
					}
				}
				b.ReportMetric(float64(2*4*n*ld)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
			})
		}
	}
}
