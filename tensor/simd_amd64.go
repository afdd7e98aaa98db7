//go:build goexperiment.simd && amd64

package tensor

import (
	"simd/archsimd"

	"golang.org/x/sys/cpu"

	"github.com/dokja/dokja/tensor/internal/avx"
)

// SIMD is the AVX2+FMA kernel path, written with Go's simd/archsimd.
type SIMD struct{}

func init() {
	if archsimd.X86.AVX2() && archsimd.X86.FMA() {
		register(SIMD{})
	}
}

// Name returns "simd".
func (SIMD) Name() string { return "simd" }

// Gemm implements Kernels.
func (SIMD) Gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gemm(&simdKernel, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// Dot implements Kernels.
func (SIMD) Dot(a, b []float32) float32 { return dotSIMD(a, b) }

// AttendQuery implements QueryAttender in assembly: the keys and values
// are swept once, row after row, for all the heads, and the results equal
// Gemm's (dot products, Softmax, then the weighted values) bit for bit.
func (SIMD) AttendQuery(q, keys, values, scores, att []float32, heads, group, hd, ld, n int, scale float32) bool {
	if !fusedShape(len(q), len(keys), len(values), len(scores), len(att), heads, group, hd, ld, n) {
		return false
	}
	avx.AttnScores(&q[0], &keys[0], &scores[0], hd, heads, group, n, ld, n, scale)
	softmaxHeads(scores, att, heads, hd, n)
	avx.AttnValues(&scores[0], &values[0], &att[0], hd, heads, group, n, ld, n)
	return true
}

// fusedShape reports whether the fused attention kernels take the shape
// (heads of a multiple of 16, whole groups) and the slices, of the given
// lengths, cover it.
func fusedShape(nq, nk, nv, nscores, natt, heads, group, hd, ld, n int) bool {
	if hd <= 0 || hd%16 != 0 || group <= 0 || heads <= 0 || heads%group != 0 || n <= 0 {
		return false
	}
	span := (n-1)*ld + heads/group*hd
	return nq >= heads*hd && natt >= heads*hd && nscores >= heads*n && nk >= span && nv >= span
}

// softmaxHeads turns each head's scores into probabilities and clears
// the output the values are added into.
func softmaxHeads(scores, att []float32, heads, hd, n int) {
	for h := range heads {
		Softmax(scores[h*n : (h+1)*n])
	}
	clear(att[:heads*hd])
}

// AttendQueryF16 implements QueryAttender for fp16 caches, widening each
// chunk of keys and values in the kernels (F16C).
func (SIMD) AttendQueryF16(q []float32, keys, values []uint16, scores, att []float32, heads, group, hd, ld, n int, scale float32) bool {
	if !cpu.X86.HasF16C || !fusedShape(len(q), len(keys), len(values), len(scores), len(att), heads, group, hd, ld, n) {
		return false
	}
	avx.AttnScoresF16(&q[0], &keys[0], &scores[0], hd, heads, group, n, ld, n, scale)
	softmaxHeads(scores, att, heads, hd, n)
	avx.AttnValuesF16(&scores[0], &values[0], &att[0], hd, heads, group, n, ld, n)
	return true
}

// A 6×16 tile: full tiles go to the assembly kernel (internal/avx);
// partial tiles at the matrix edges to the archsimd one below.
var simdKernel = microKernel{mr: 6, nr: 16, run: kernel6x16, dot: dotSIMD, dot4: dot4SIMD, dotRows: dotRowsSIMD, vecMat: vecMatSIMD}

// vecMatSIMD adds x times w (len(x) rows of stride ldw) into c: the
// columns in multiples of 8 in assembly, the rest here.
func vecMatSIMD(x, w []float32, ldw int, c []float32) {
	k, n := len(x), len(c)
	if k == 0 || n == 0 {
		return
	}
	_ = w[(k-1)*ldw+n-1]
	if n8 := n &^ 7; n8 > 0 {
		avx.VecMat(&x[0], &w[0], &c[0], k, ldw, n8)
	}
	if n%8 != 0 {
		n8 := n &^ 7
		vecMatPortable(x, w[n8:], ldw, c[n8:])
	}
}

// dotRowsSIMD sets out[j] to x·w[j·ldw : j·ldw+len(x)] for j < len(out),
// in assembly when len(x) is a multiple of 8.
func dotRowsSIMD(x, w []float32, ldw int, out []float32) {
	k, n := len(x), len(out)
	if n == 0 {
		return
	}
	if k == 0 || k%8 != 0 {
		for j := range out {
			out[j] = dotSIMD(x, w[j*ldw:j*ldw+k])
		}
		return
	}
	_ = w[(n-1)*ldw+k-1]
	avx.DotRows(&x[0], &w[0], &out[0], k, ldw, n)
}

func kernel6x16(kc int, ap, bp []float32, c []float32, ldc int, alpha float32, rows, cols int) {
	if rows == 6 && cols == 16 && kc > 0 {
		_ = ap[kc*6-1]
		_ = bp[kc*16-1]
		_ = c[5*ldc+15]
		avx.Kernel6x16(kc, &ap[0], &bp[0], &c[0], ldc, alpha)
		return
	}
	edgeTile(kc, ap, bp, c, ldc, alpha, rows, cols)
}

func dotSIMD(a, b []float32) float32 {
	n := len(a)
	b = b[:n]
	var s0, s1, s2, s3 archsimd.Float32x8
	i := 0
	for ; i+32 <= n; i += 32 {
		s0 = archsimd.LoadFloat32x8Slice(a[i:]).MulAdd(archsimd.LoadFloat32x8Slice(b[i:]), s0)
		s1 = archsimd.LoadFloat32x8Slice(a[i+8:]).MulAdd(archsimd.LoadFloat32x8Slice(b[i+8:]), s1)
		s2 = archsimd.LoadFloat32x8Slice(a[i+16:]).MulAdd(archsimd.LoadFloat32x8Slice(b[i+16:]), s2)
		s3 = archsimd.LoadFloat32x8Slice(a[i+24:]).MulAdd(archsimd.LoadFloat32x8Slice(b[i+24:]), s3)
	}
	for ; i+8 <= n; i += 8 {
		s0 = archsimd.LoadFloat32x8Slice(a[i:]).MulAdd(archsimd.LoadFloat32x8Slice(b[i:]), s0)
	}
	var lanes [8]float32
	s0.Add(s1).Add(s2.Add(s3)).Store(&lanes)
	// Leaving YMM upper halves dirty makes the SSE code that follows
	// (math.Exp in softmax, scalar loops) pay a transition penalty on
	// every instruction: measured 20x slower exp.
	archsimd.ClearAVXUpperBits()
	sum := (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))
	for ; i < n; i++ {
		sum += a[i] * b[i]
	}
	return sum
}

// edgeTile handles a partial tile: accumulate the full 6×16 product in
// vectors, then add only the rows×cols corner that lies inside C.
func edgeTile(kc int, ap, bp []float32, c []float32, ldc int, alpha float32, rows, cols int) {
	var acc [6][2]archsimd.Float32x8
	ap, bp = ap[:kc*6], bp[:kc*16]
	for p := 0; p < kc; p++ {
		b0 := archsimd.LoadFloat32x8((*[8]float32)(bp[p*16:]))
		b1 := archsimd.LoadFloat32x8((*[8]float32)(bp[p*16+8:]))
		for r := range 6 {
			x := archsimd.BroadcastFloat32x8(ap[p*6+r])
			acc[r][0] = x.MulAdd(b0, acc[r][0])
			x = archsimd.BroadcastFloat32x8(ap[p*6+r])
			acc[r][1] = x.MulAdd(b1, acc[r][1])
		}
	}
	var tile [6][16]float32
	for r := range 6 {
		acc[r][0].Store((*[8]float32)(tile[r][0:]))
		acc[r][1].Store((*[8]float32)(tile[r][8:]))
	}
	archsimd.ClearAVXUpperBits()
	for r := range rows {
		crow := c[r*ldc : r*ldc+cols]
		for j := range crow {
			crow[j] += alpha * tile[r][j]
		}
	}
}

// dot4SIMD returns the dot products of four rows of A with one row of B,
// loading each 8 floats of B once for the four: in a small batch (decoding
// several sequences) B is a weight row and the loads are the cost.
func dot4SIMD(a0, a1, a2, a3, b []float32) [4]float32 {
	n := len(b)
	a0, a1, a2, a3 = a0[:n], a1[:n], a2[:n], a3[:n]
	var s0, s1, s2, s3 archsimd.Float32x8
	i := 0
	for ; i+8 <= n; i += 8 {
		x := archsimd.LoadFloat32x8Slice(b[i:])
		s0 = archsimd.LoadFloat32x8Slice(a0[i:]).MulAdd(x, s0)
		s1 = archsimd.LoadFloat32x8Slice(a1[i:]).MulAdd(x, s1)
		s2 = archsimd.LoadFloat32x8Slice(a2[i:]).MulAdd(x, s2)
		s3 = archsimd.LoadFloat32x8Slice(a3[i:]).MulAdd(x, s3)
	}
	var lanes [4][8]float32
	s0.Store(&lanes[0])
	s1.Store(&lanes[1])
	s2.Store(&lanes[2])
	s3.Store(&lanes[3])
	archsimd.ClearAVXUpperBits()
	var out [4]float32
	for r, l := range lanes {
		out[r] = (l[0] + l[1]) + (l[2] + l[3]) + ((l[4] + l[5]) + (l[6] + l[7]))
	}
	for ; i < n; i++ {
		out[0] += a0[i] * b[i]
		out[1] += a1[i] * b[i]
		out[2] += a2[i] * b[i]
		out[3] += a3[i] * b[i]
	}
	return out
}
