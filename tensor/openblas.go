//go:build cgo && openblas

package tensor

/*
#cgo LDFLAGS: -lopenblas
#include <cblas.h>
*/
import "C"

import "unsafe"

// OpenBLAS is the kernel path that calls OpenBLAS's cblas_sgemm (Debian
// package libopenblas-dev; build with -tags openblas).
type OpenBLAS struct{}

func init() { register(OpenBLAS{}) }

// Name returns "openblas".
func (OpenBLAS) Name() string { return "openblas" }

// Gemm implements Kernels.
func (OpenBLAS) Gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkGemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	ta, tb := C.enum_CBLAS_TRANSPOSE(C.CblasNoTrans), C.enum_CBLAS_TRANSPOSE(C.CblasNoTrans)
	if transA {
		ta = C.CblasTrans
	}
	if transB {
		tb = C.CblasTrans
	}
	if beta == 0 {
		// BLAS may compute 0·NaN; Dokja's contract ignores C when beta is 0.
		scaleC(m, n, 0, c, ldc)
	}
	C.cblas_sgemm(C.CblasRowMajor, ta, tb, C.blasint(m), C.blasint(n), C.blasint(k), C.float(alpha),
		(*C.float)(unsafe.Pointer(&a[0])), C.blasint(lda), (*C.float)(unsafe.Pointer(&b[0])), C.blasint(ldb),
		C.float(beta), (*C.float)(unsafe.Pointer(&c[0])), C.blasint(ldc))
}

// Dot implements Kernels.
func (OpenBLAS) Dot(a, b []float32) float32 {
	if len(a) == 0 {
		return 0
	}
	return float32(C.cblas_sdot(C.blasint(len(a)), (*C.float)(unsafe.Pointer(&a[0])), 1, (*C.float)(unsafe.Pointer(&b[0])), 1))
}
