package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// naiveGemm is the definition, accumulated in float64.
func naiveGemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := range m {
		for j := range n {
			var s float64
			for p := range k {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
			}
			old := float64(0)
			if beta != 0 {
				old = float64(beta) * float64(c[i*ldc+j])
			}
			c[i*ldc+j] = float32(float64(alpha)*s + old)
		}
	}
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

// allPaths returns every kernel path built in; `make test` builds the
// SIMD and OpenBLAS ones too (see the Makefile).
func allPaths(t testing.TB) []Kernels {
	var out []Kernels
	for _, name := range Available() {
		k, err := ByName(name)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, k)
	}
	return out
}

func TestGemmMatchesDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	sizes := [][3]int{{1, 1, 1}, {1, 7, 3}, {3, 1, 5}, {5, 17, 1}, {6, 16, 8}, {7, 33, 19}, {13, 9, 300},
		{1, 100, 257}, {1, 70, 64}, {1, 300, 288}, {2, 65, 64}, {97, 31, 45}, {100, 130, 513}, {1000, 20, 300}, {0, 5, 5}, {5, 0, 5}, {4, 4, 0}}
	for _, kern := range allPaths(t) {
		for _, sz := range sizes {
			m, n, k := sz[0], sz[1], sz[2]
			for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
				for _, ab := range [][2]float32{{1, 0}, {0.5, 1}, {-2, 0.25}} {
					name := fmt.Sprintf("%s/%dx%dx%d/tA=%v,tB=%v/a=%g,b=%g", kern.Name(), m, n, k, tr[0], tr[1], ab[0], ab[1])
					// Row strides larger than the rows exercise lda/ldb/ldc.
					ra, ca := m, k
					if tr[0] {
						ra, ca = k, m
					}
					rb, cb := k, n
					if tr[1] {
						rb, cb = n, k
					}
					lda, ldb, ldc := ca+3, cb+1, n+2
					a := randSlice(r, max(ra*lda, 1))
					b := randSlice(r, max(rb*ldb, 1))
					c0 := randSlice(r, max(m*ldc, 1))
					if ab[1] == 0 && len(c0) > 0 {
						c0[0] = float32(math.NaN()) // beta 0 must ignore C
					}
					want := append([]float32(nil), c0...)
					got := append([]float32(nil), c0...)
					naiveGemm(tr[0], tr[1], m, n, k, ab[0], a, lda, b, ldb, ab[1], want, ldc)
					kern.Gemm(tr[0], tr[1], m, n, k, ab[0], a, lda, b, ldb, ab[1], got, ldc)
					tol := 1e-4 * float64(k+1)
					for i := range m {
						for j := range n {
							g, w := got[i*ldc+j], want[i*ldc+j]
							if math.IsNaN(float64(g)) || math.Abs(float64(g-w)) > tol*(1+math.Abs(float64(w))) {
								t.Fatalf("%s: C[%d,%d] = %g, want %g", name, i, j, g, w)
							}
						}
						for j := n; j < ldc && i*ldc+j < len(got); j++ {
							if got[i*ldc+j] != c0[i*ldc+j] && !(math.IsNaN(float64(c0[i*ldc+j]))) {
								t.Fatalf("%s: wrote outside C at [%d,%d]", name, i, j)
							}
						}
					}
				}
			}
		}
	}
}

// Fast paths against the portable reference on random odd shapes.
func TestFastPathsMatchPortable(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 3))
	for _, kern := range allPaths(t) {
		if kern.Name() == "portable" {
			continue
		}
		for trial := range 60 {
			m, n, k := 1+r.IntN(70), 1+r.IntN(90), 1+r.IntN(600)
			ta, tb := r.IntN(2) == 1, r.IntN(2) == 1
			lda, ldb := k, n
			if ta {
				lda = m
			}
			if tb {
				ldb = k
			}
			a := randSlice(r, m*k)
			b := randSlice(r, k*n)
			want := make([]float32, m*n)
			got := make([]float32, m*n)
			Portable{}.Gemm(ta, tb, m, n, k, 1, a, lda, b, ldb, 0, want, n)
			kern.Gemm(ta, tb, m, n, k, 1, a, lda, b, ldb, 0, got, n)
			for i := range want {
				if d := math.Abs(float64(got[i] - want[i])); d > 2e-5*float64(k)*(1+math.Abs(float64(want[i]))) {
					t.Fatalf("%s trial %d (%d×%d×%d tA=%v tB=%v): [%d] %g vs portable %g", kern.Name(), trial, m, n, k, ta, tb, i, got[i], want[i])
				}
			}
		}
		for _, n := range []int{0, 1, 7, 8, 31, 32, 33, 100, 1023} {
			a, b := randSlice(r, n), randSlice(r, n)
			want := float64(Portable{}.Dot(a, b))
			if got := float64(kern.Dot(a, b)); math.Abs(got-want) > 1e-4*float64(n+1) {
				t.Fatalf("%s Dot n=%d: %g vs %g", kern.Name(), n, got, want)
			}
		}
	}
}

func TestGemmPanicsOnShortSlices(t *testing.T) {
	for _, kern := range allPaths(t) {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic on a short C", kern.Name())
				}
			}()
			kern.Gemm(false, true, 2, 2, 2, 1, make([]float32, 4), 2, make([]float32, 4), 2, 0, make([]float32, 3), 2)
		}()
	}
}
