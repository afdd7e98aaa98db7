package tensor

import "sync"

// The blocked GEMM follows the BLIS scheme: for each kc-deep slice of k,
// op(B) is packed into panels nr columns wide and op(A) into panels mr rows
// high, so the micro-kernel streams both from contiguous memory; a block of
// A (mc×kc) stays in L2 while B panels pass through L1. Work is split
// across cores by B panel.
const (
	// smallM is the most rows of A for which products with a transposed B
	// (a weight matrix) are taken as dot products rather than packed.
	smallM = 8
	blockK = 256
	blockM = 96 // a multiple of every micro-kernel's mr
)

// microKernel adds alpha·(Ap·Bp) into the rows×cols corner of C, where Ap
// holds kc steps of mr values and Bp kc steps of nr values.
type microKernel struct {
	mr, nr int
	run    func(kc int, ap, bp []float32, c []float32, ldc int, alpha float32, rows, cols int)
	dot    func(a, b []float32) float32
	// dot4 returns four rows of A dotted with one row of B.
	dot4 func(a0, a1, a2, a3, b []float32) [4]float32
	// dotRows sets out[j] to x dotted with row j of w (row stride ldw).
	dotRows func(x, w []float32, ldw int, out []float32)
	// vecMat adds x times the len(x)×len(c) matrix w (row stride ldw)
	// into c.
	vecMat func(x, w []float32, ldw int, c []float32)
}

var packPool = sync.Pool{New: func() any { return new([]float32) }}

func getBuf(n int) *[]float32 {
	p := packPool.Get().(*[]float32)
	if cap(*p) < n {
		*p = make([]float32, n)
	}
	*p = (*p)[:n]
	return p
}

// gemm is the driver shared by the portable and SIMD paths.
func gemm(mk *microKernel, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkGemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	scaleC(m, n, beta, c, ldc)
	if k == 0 || alpha == 0 {
		return
	}
	// Few rows against a weight matrix stored n×k (decoding a token, or a
	// batch of a few sequences): packing B would cost more than the
	// product, so take dot products, each row of B once against all rows
	// of A while it is in L1.
	if !transA && transB && m == 1 {
		// At least 16k multiply-adds per goroutine: one query's attention
		// scores (k = a head's 64 or 128) stay on the calling goroutine.
		ParallelFor(n, max(64, (1<<14)/k), func(lo, hi int) {
			var buf [256]float32
			for j0 := lo; j0 < hi; j0 += len(buf) {
				out := buf[:min(len(buf), hi-j0)]
				mk.dotRows(a[:k], b[j0*ldb:], ldb, out)
				for j, v := range out {
					c[j0+j] += alpha * v
				}
			}
		})
		return
	}
	// One row times a matrix stored k×n (attention over cached values):
	// accumulate scaled rows of B, without packing.
	if !transA && !transB && m == 1 && alpha == 1 {
		ParallelFor(n, 256, func(lo, hi int) {
			mk.vecMat(a[:k], b[lo:], ldb, c[lo:hi])
		})
		return
	}
	if !transA && transB && m <= smallM {
		ParallelFor(n, 64, func(lo, hi int) {
			for j := lo; j < hi; j++ {
				brow := b[j*ldb : j*ldb+k]
				i := 0
				for ; i+4 <= m; i += 4 {
					d := mk.dot4(a[i*lda:i*lda+k], a[(i+1)*lda:(i+1)*lda+k], a[(i+2)*lda:(i+2)*lda+k], a[(i+3)*lda:(i+3)*lda+k], brow)
					for r, v := range d {
						c[(i+r)*ldc+j] += alpha * v
					}
				}
				for ; i < m; i++ {
					c[i*ldc+j] += alpha * mk.dot(a[i*lda:i*lda+k], brow)
				}
			}
		})
		return
	}
	mr, nr := mk.mr, mk.nr
	panels := (n + nr - 1) / nr
	bufB := getBuf(panels * nr * min(k, blockK))
	bufA := getBuf(((min(m, blockM) + mr - 1) / mr) * mr * min(k, blockK))
	defer packPool.Put(bufB)
	defer packPool.Put(bufA)
	for pc := 0; pc < k; pc += blockK {
		kc := min(blockK, k-pc)
		bp := (*bufB)[:panels*nr*kc]
		ParallelFor(panels, 8, func(lo, hi int) {
			for jp := lo; jp < hi; jp++ {
				packB(bp[jp*nr*kc:(jp+1)*nr*kc], transB, b, ldb, pc, kc, jp*nr, min(nr, n-jp*nr), nr)
			}
		})
		// Tall products (the output head's gradient: vocabulary × hidden)
		// have many row blocks and few B panels: split the row blocks
		// across cores, each packing its own A. Otherwise split the B
		// panels of each row block. Either way every element of C is summed
		// by one goroutine in the same order, so results do not depend on
		// the number of cores.
		mBlocks := (m + blockM - 1) / blockM
		if mBlocks >= 2*panels {
			ParallelFor(mBlocks, 1, func(lo, hi int) {
				buf := getBuf(blockM * kc)
				defer packPool.Put(buf)
				for blk := lo; blk < hi; blk++ {
					ic := blk * blockM
					mc := min(blockM, m-ic)
					aPanels := (mc + mr - 1) / mr
					ap := (*buf)[:aPanels*mr*kc]
					for ip := range aPanels {
						packA(ap[ip*mr*kc:(ip+1)*mr*kc], transA, a, lda, ic+ip*mr, min(mr, mc-ip*mr), pc, kc, mr)
					}
					for jp := range panels {
						cols := min(nr, n-jp*nr)
						for ip := range aPanels {
							rows := min(mr, mc-ip*mr)
							off := (ic+ip*mr)*ldc + jp*nr
							mk.run(kc, ap[ip*mr*kc:(ip+1)*mr*kc], bp[jp*nr*kc:(jp+1)*nr*kc], c[off:], ldc, alpha, rows, cols)
						}
					}
				}
			})
			continue
		}
		for ic := 0; ic < m; ic += blockM {
			mc := min(blockM, m-ic)
			aPanels := (mc + mr - 1) / mr
			ap := (*bufA)[:aPanels*mr*kc]
			for ip := range aPanels {
				packA(ap[ip*mr*kc:(ip+1)*mr*kc], transA, a, lda, ic+ip*mr, min(mr, mc-ip*mr), pc, kc, mr)
			}
			ParallelFor(panels, 4, func(lo, hi int) {
				for jp := lo; jp < hi; jp++ {
					cols := min(nr, n-jp*nr)
					for ip := range aPanels {
						rows := min(mr, mc-ip*mr)
						off := (ic+ip*mr)*ldc + jp*nr
						mk.run(kc, ap[ip*mr*kc:(ip+1)*mr*kc], bp[jp*nr*kc:(jp+1)*nr*kc], c[off:], ldc, alpha, rows, cols)
					}
				}
			})
		}
	}
}

// packA writes rows [i0, i0+rows) and columns [p0, p0+kc) of op(A) as kc
// steps of mr values, zero-padding missing rows. Both layouts read A
// along its stored rows, so the source streams through the cache.
func packA(dst []float32, transA bool, a []float32, lda, i0, rows, p0, kc, mr int) {
	if rows < mr {
		clear(dst)
	}
	if transA {
		for p := range kc {
			src := a[(p0+p)*lda+i0 : (p0+p)*lda+i0+rows]
			d := dst[p*mr : p*mr+rows]
			copy(d, src)
		}
		return
	}
	for r := range rows {
		i := i0 + r
		src := a[i*lda+p0 : i*lda+p0+kc]
		for p, v := range src {
			dst[p*mr+r] = v
		}
	}
}

// packB writes rows [p0, p0+kc) and columns [j0, j0+cols) of op(B) as kc
// steps of nr values, zero-padding missing columns.
func packB(dst []float32, transB bool, b []float32, ldb, p0, kc, j0, cols, nr int) {
	if cols < nr {
		clear(dst)
	}
	if transB {
		for c := range cols {
			src := b[(j0+c)*ldb+p0 : (j0+c)*ldb+p0+kc]
			for p, v := range src {
				dst[p*nr+c] = v
			}
		}
		return
	}
	for p := range kc {
		copy(dst[p*nr:p*nr+cols], b[(p0+p)*ldb+j0:(p0+p)*ldb+j0+cols])
	}
}

// Portable is the reference kernel path in plain Go.
type Portable struct{}

// Name returns "portable".
func (Portable) Name() string { return "portable" }

// Gemm implements Kernels.
func (Portable) Gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gemm(&portableKernel, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// Dot implements Kernels.
func (Portable) Dot(a, b []float32) float32 { return dotPortable(a, b) }

var portableKernel = microKernel{mr: 4, nr: 8, run: kernel4x8, dot: dotPortable, dot4: dot4Portable, dotRows: dotRowsPortable, vecMat: vecMatPortable}

func vecMatPortable(x, w []float32, ldw int, c []float32) {
	for i, a := range x {
		row := w[i*ldw : i*ldw+len(c)]
		for j, v := range row {
			c[j] += a * v
		}
	}
}

func dotRowsPortable(x, w []float32, ldw int, out []float32) {
	for j := range out {
		out[j] = dotPortable(x, w[j*ldw:j*ldw+len(x)])
	}
}

func dot4Portable(a0, a1, a2, a3, b []float32) [4]float32 {
	return [4]float32{dotPortable(a0, b), dotPortable(a1, b), dotPortable(a2, b), dotPortable(a3, b)}
}

func dotPortable(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func kernel4x8(kc int, ap, bp []float32, c []float32, ldc int, alpha float32, rows, cols int) {
	var acc [4][8]float32
	ap, bp = ap[:kc*4], bp[:kc*8]
	for p := range kc {
		av := ap[p*4 : p*4+4 : p*4+4]
		bv := bp[p*8 : p*8+8 : p*8+8]
		for r := range 4 {
			x := av[r]
			row := &acc[r]
			for j := range 8 {
				row[j] += x * bv[j]
			}
		}
	}
	for r := range rows {
		crow := c[r*ldc : r*ldc+cols]
		for j := range crow {
			crow[j] += alpha * acc[r][j]
		}
	}
}
