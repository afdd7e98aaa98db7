// Package tensor holds the compute kernels of Dokja's engine: matrix
// multiplication with transposes, and the vector operations of a
// transformer (RMSNorm, softmax, RoPE, SiLU).
//
// Matrix multiplication, where the time goes, has interchangeable paths
// behind the Kernels interface: portable Go (the reference, always built),
// AVX2+FMA through Go's simd/archsimd (built with GOEXPERIMENT=simd on
// amd64), and OpenBLAS's sgemm (built with cgo and the openblas tag).
// Tests compare every path with the portable one.
package tensor

import (
	"fmt"
	"sort"
	"sync"
)

// Kernels computes general matrix products on row-major float32 data.
type Kernels interface {
	// Name identifies the path: "portable", "simd" or "openblas".
	Name() string
	// Gemm computes C = alpha·op(A)·op(B) + beta·C, where op(A) is m×k and
	// op(B) is k×n; transA means A is stored k×m (row stride lda), and
	// transB that B is stored n×k (row stride ldb). C is m×n with row
	// stride ldc. With beta 0, C's old contents are ignored (NaN included).
	Gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)
	// Dot returns the inner product of a and b (equal lengths).
	Dot(a, b []float32) float32
}

// QueryAttender is implemented by kernel paths with a fused kernel for
// one query's attention over cached keys and values, the inner loop of
// decoding.
type QueryAttender interface {
	// AttendQuery sets att[h·hd:(h+1)·hd], for query heads h < heads, to
	// softmax(scale·q_h·Kᵀ)·V over n cached positions, where q_h is
	// q[h·hd:(h+1)·hd] and position j's key and value for head h start at
	// keys[j·ld+(h/group)·hd] and values[j·ld+(h/group)·hd]. scores
	// (heads·n floats) is scratch. It reports false, touching nothing,
	// when it cannot take the shape; the caller then uses Gemm.
	AttendQuery(q, keys, values, scores, att []float32, heads, group, hd, ld, n int, scale float32) bool
	// AttendQueryF16 is AttendQuery over keys and values cached as fp16
	// bits, equal to AttendQuery on them widened to float32.
	AttendQueryF16(q []float32, keys, values []uint16, scores, att []float32, heads, group, hd, ld, n int, scale float32) bool
}

var (
	registryMu sync.Mutex
	registry   = map[string]Kernels{"portable": Portable{}}
	// preference lists the paths from fastest; Default takes the first built.
	preference = []string{"openblas", "simd", "portable"}
)

// register adds a kernel path; build-tagged files call it from init.
func register(k Kernels) {
	registryMu.Lock()
	defer registryMu.Unlock()
	registry[k.Name()] = k
}

// Available lists the kernel paths built into this binary.
func Available() []string {
	registryMu.Lock()
	defer registryMu.Unlock()
	var out []string
	for name := range registry {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// ByName returns a kernel path by name.
func ByName(name string) (Kernels, error) {
	registryMu.Lock()
	defer registryMu.Unlock()
	k, ok := registry[name]
	if !ok {
		names := make([]string, 0, len(registry))
		for n := range registry {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("kernel path %q is not built into this binary (available: %v)", name, names)
	}
	return k, nil
}

// Default returns the fastest path built in.
func Default() Kernels {
	registryMu.Lock()
	defer registryMu.Unlock()
	for _, name := range preference {
		if k, ok := registry[name]; ok {
			return k
		}
	}
	return Portable{}
}

// checkGemm panics on arguments that no caller inside Dokja should pass:
// shapes come from validated model configurations, so a mismatch here is
// a programming error, not bad user data.
func checkGemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	need := func(name string, s []float32, rows, cols, ld int) {
		if rows == 0 || cols == 0 {
			return
		}
		if ld < cols || len(s) < (rows-1)*ld+cols {
			panic(fmt.Sprintf("tensor: gemm %s: %d×%d with stride %d needs %d elements, have %d", name, rows, cols, ld, (rows-1)*ld+cols, len(s)))
		}
	}
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("tensor: gemm: negative size m=%d n=%d k=%d", m, n, k))
	}
	if transA {
		need("A", a, k, m, lda)
	} else {
		need("A", a, m, k, lda)
	}
	if transB {
		need("B", b, n, k, ldb)
	} else {
		need("B", b, k, n, ldb)
	}
	need("C", c, m, n, ldc)
}

// scaleC applies beta to C before accumulation.
func scaleC(m, n int, beta float32, c []float32, ldc int) {
	if beta == 1 {
		return
	}
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}
