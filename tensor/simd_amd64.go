//go:build goexperiment.simd && amd64

package tensor

import "simd/archsimd"

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

// A 4×16 tile: 8 accumulators, two B loads and one broadcast. Go's
// register allocator spills with the 6×16 tile usual in assembly kernels,
// which measured 3x slower here.
var simdKernel = microKernel{mr: 4, nr: 16, run: kernel4x16, dot: dotSIMD}

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

func kernel4x16(kc int, ap, bp []float32, c []float32, ldc int, alpha float32, rows, cols int) {
	var c00, c01, c10, c11, c20, c21, c30, c31 archsimd.Float32x8
	ap, bp = ap[:kc*4], bp[:kc*16]
	for p := 0; p < kc; p++ {
		b0 := archsimd.LoadFloat32x8((*[8]float32)(bp[p*16:]))
		b1 := archsimd.LoadFloat32x8((*[8]float32)(bp[p*16+8:]))
		av := (*[4]float32)(ap[p*4:])
		c00 = archsimd.BroadcastFloat32x8(av[0]).MulAdd(b0, c00)
		c01 = archsimd.BroadcastFloat32x8(av[0]).MulAdd(b1, c01)
		c10 = archsimd.BroadcastFloat32x8(av[1]).MulAdd(b0, c10)
		c11 = archsimd.BroadcastFloat32x8(av[1]).MulAdd(b1, c11)
		c20 = archsimd.BroadcastFloat32x8(av[2]).MulAdd(b0, c20)
		c21 = archsimd.BroadcastFloat32x8(av[2]).MulAdd(b1, c21)
		c30 = archsimd.BroadcastFloat32x8(av[3]).MulAdd(b0, c30)
		c31 = archsimd.BroadcastFloat32x8(av[3]).MulAdd(b1, c31)
	}
	al := archsimd.BroadcastFloat32x8(alpha)
	if rows == 4 && cols == 16 {
		r0 := c[0:16:16]
		c00.MulAdd(al, archsimd.LoadFloat32x8((*[8]float32)(r0[0:]))).Store((*[8]float32)(r0[0:]))
		c01.MulAdd(al, archsimd.LoadFloat32x8((*[8]float32)(r0[8:]))).Store((*[8]float32)(r0[8:]))
		r1 := c[ldc : ldc+16 : ldc+16]
		c10.MulAdd(al, archsimd.LoadFloat32x8((*[8]float32)(r1[0:]))).Store((*[8]float32)(r1[0:]))
		c11.MulAdd(al, archsimd.LoadFloat32x8((*[8]float32)(r1[8:]))).Store((*[8]float32)(r1[8:]))
		r2 := c[2*ldc : 2*ldc+16 : 2*ldc+16]
		c20.MulAdd(al, archsimd.LoadFloat32x8((*[8]float32)(r2[0:]))).Store((*[8]float32)(r2[0:]))
		c21.MulAdd(al, archsimd.LoadFloat32x8((*[8]float32)(r2[8:]))).Store((*[8]float32)(r2[8:]))
		r3 := c[3*ldc : 3*ldc+16 : 3*ldc+16]
		c30.MulAdd(al, archsimd.LoadFloat32x8((*[8]float32)(r3[0:]))).Store((*[8]float32)(r3[0:]))
		c31.MulAdd(al, archsimd.LoadFloat32x8((*[8]float32)(r3[8:]))).Store((*[8]float32)(r3[8:]))
		archsimd.ClearAVXUpperBits()
		return
	}
	// A partial tile at the matrix edge goes through a buffer.
	var tile [4][16]float32
	c00.Store((*[8]float32)(tile[0][0:]))
	c01.Store((*[8]float32)(tile[0][8:]))
	c10.Store((*[8]float32)(tile[1][0:]))
	c11.Store((*[8]float32)(tile[1][8:]))
	c20.Store((*[8]float32)(tile[2][0:]))
	c21.Store((*[8]float32)(tile[2][8:]))
	c30.Store((*[8]float32)(tile[3][0:]))
	c31.Store((*[8]float32)(tile[3][8:]))
	archsimd.ClearAVXUpperBits()
	for r := range rows {
		crow := c[r*ldc : r*ldc+cols]
		for j := range crow {
			crow[j] += alpha * tile[r][j]
		}
	}
}
