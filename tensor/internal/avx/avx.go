//go:build amd64

// Package avx holds Dokja's assembly kernels for amd64 with AVX2 and FMA.
// They live in their own package because a package that uses cgo (the
// tensor package, for OpenBLAS) may not contain Go assembly.
package avx

// Kernel6x16 adds alpha·Ap·Bp into a full 6×16 tile of C (row stride ldc),
// where ap holds kc steps of 6 floats and bp kc steps of 16. It is
// assembly because Go's register allocator spills the twelve accumulators
// of this tile when it is written with simd/archsimd (3 GFLOP/s there,
// over 20 per core here). The caller checks for AVX2 and FMA and that all
// pointers cover their extents.
//
//go:noescape
func Kernel6x16(kc int, ap, bp, c *float32, ldc int, alpha float32)

// DotRows writes into out[0:n] the dot products of x[0:k] with the n rows
// w[j·ldw : j·ldw+k]: a single-token product against a weight matrix. k
// must be a positive multiple of 8. It is assembly because the archsimd
// loop it replaced (one row at a time, bounds-checked loads, a horizontal
// sum per row) decoded 10-20% slower. The caller checks the extents.
//
//go:noescape
func DotRows(x, w, out *float32, k, ldw, n int)

// VecMat adds into c[0:n] the row vector a[0:k] times the k×n matrix b
// (row stride ldb): one query's attention over the cached values. n must
// be a multiple of 8. It replaces a general product whose packing of b
// cost more than the arithmetic. The caller checks the extents.
//
//go:noescape
func VecMat(a, b, c *float32, k, ldb, n int)

// ExpSub sets x[i] to tensor.Exp32(x[i]−m) for i < n, a multiple of 8:
// softmax's exponentials, bit for bit as the Go function (the same
// operations, no fused multiply-adds), eight at a time.
//
//go:noescape
func ExpSub(x *float32, n int, m float32)

// SwiGLU sets dst[i] to g/(1+Exp32(−g))·up[i], g = gate[i], for i < n, a
// multiple of 8, bit for bit as tensor.SwiGLU's Go loop.
//
//go:noescape
func SwiGLU(dst, gate, up *float32, n int)

// AttnScores sets s[h·lds+j] to scale·(q[h·hd:(h+1)·hd]·k[j·ldk+(h/group)·hd:])
// for heads h < heads and cached positions j < n: one query's attention
// scores for a run of query heads, group of them to a key head. hd must
// be a positive multiple of 16 and heads a multiple of group. It sweeps
// the cache row after row: the general product's pass per head read it
// with a stride of a whole row and reached half the machine's bandwidth.
// The sums equal DotRows's bit for bit. The caller checks the extents.
//
//go:noescape
func AttnScores(q, k, s *float32, hd, heads, group, n, ldk, lds int, scale float32)

// AttnValues adds into out[h·hd:(h+1)·hd] the sum over j < n of
// p[h·ldp+j]·v[j·ldv+(h/group)·hd:], for heads h < heads: the weighted sum
// of the cached values, swept row after row like AttnScores, and equal to
// VecMat's bit for bit. The caller checks the extents.
//
//go:noescape
func AttnValues(p, v, out *float32, hd, heads, group, n, ldv, ldp int)

// AttnScoresF16 is AttnScores over keys cached as fp16 (ldk counted in
// elements), equal bit for bit to AttnScores on the keys widened to
// float32. Needs F16C as well.
//
//go:noescape
func AttnScoresF16(q *float32, k *uint16, s *float32, hd, heads, group, n, ldk, lds int, scale float32)

// AttnValuesF16 is AttnValues over values cached as fp16, equal bit for
// bit to AttnValues on the values widened to float32. Needs F16C as well.
//
//go:noescape
func AttnValuesF16(p *float32, v *uint16, out *float32, hd, heads, group, n, ldv, ldp int)
