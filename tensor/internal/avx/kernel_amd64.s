//go:build amd64

#include "textflag.h"

// func Kernel6x16(kc int, ap, bp, c *float32, ldc int, alpha float32)
//
// C[0:6, 0:16] += alpha · Ap·Bp for Ap packed as kc steps of 6 floats and
// Bp as kc steps of 16: twelve YMM accumulators (Y4-Y15), two B vectors
// (Y0, Y1) and two broadcast registers (Y2, Y3). Needs AVX2 and FMA.
TEXT ·Kernel6x16(SB), NOSPLIT, $0-44
	MOVQ kc+0(FP), CX
	MOVQ ap+8(FP), SI
	MOVQ bp+16(FP), DI
	MOVQ c+24(FP), DX
	MOVQ ldc+32(FP), R8
	SHLQ $2, R8
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	VXORPS Y14, Y14, Y14
	VXORPS Y15, Y15, Y15
	TESTQ CX, CX
	JE    done

loop:
	VMOVUPS      (DI), Y0
	VMOVUPS      32(DI), Y1
	VBROADCASTSS (SI), Y2
	VFMADD231PS  Y0, Y2, Y4
	VFMADD231PS  Y1, Y2, Y5
	VBROADCASTSS 4(SI), Y3
	VFMADD231PS  Y0, Y3, Y6
	VFMADD231PS  Y1, Y3, Y7
	VBROADCASTSS 8(SI), Y2
	VFMADD231PS  Y0, Y2, Y8
	VFMADD231PS  Y1, Y2, Y9
	VBROADCASTSS 12(SI), Y3
	VFMADD231PS  Y0, Y3, Y10
	VFMADD231PS  Y1, Y3, Y11
	VBROADCASTSS 16(SI), Y2
	VFMADD231PS  Y0, Y2, Y12
	VFMADD231PS  Y1, Y2, Y13
	VBROADCASTSS 20(SI), Y3
	VFMADD231PS  Y0, Y3, Y14
	VFMADD231PS  Y1, Y3, Y15
	ADDQ         $24, SI
	ADDQ         $64, DI
	DECQ         CX
	JNE          loop

done:
	VBROADCASTSS alpha+40(FP), Y0
	VMOVUPS      (DX), Y1
	VFMADD231PS  Y4, Y0, Y1
	VMOVUPS      Y1, (DX)
	VMOVUPS      32(DX), Y1
	VFMADD231PS  Y5, Y0, Y1
	VMOVUPS      Y1, 32(DX)
	ADDQ         R8, DX
	VMOVUPS      (DX), Y1
	VFMADD231PS  Y6, Y0, Y1
	VMOVUPS      Y1, (DX)
	VMOVUPS      32(DX), Y1
	VFMADD231PS  Y7, Y0, Y1
	VMOVUPS      Y1, 32(DX)
	ADDQ         R8, DX
	VMOVUPS      (DX), Y1
	VFMADD231PS  Y8, Y0, Y1
	VMOVUPS      Y1, (DX)
	VMOVUPS      32(DX), Y1
	VFMADD231PS  Y9, Y0, Y1
	VMOVUPS      Y1, 32(DX)
	ADDQ         R8, DX
	VMOVUPS      (DX), Y1
	VFMADD231PS  Y10, Y0, Y1
	VMOVUPS      Y1, (DX)
	VMOVUPS      32(DX), Y1
	VFMADD231PS  Y11, Y0, Y1
	VMOVUPS      Y1, 32(DX)
	ADDQ         R8, DX
	VMOVUPS      (DX), Y1
	VFMADD231PS  Y12, Y0, Y1
	VMOVUPS      Y1, (DX)
	VMOVUPS      32(DX), Y1
	VFMADD231PS  Y13, Y0, Y1
	VMOVUPS      Y1, 32(DX)
	ADDQ         R8, DX
	VMOVUPS      (DX), Y1
	VFMADD231PS  Y14, Y0, Y1
	VMOVUPS      Y1, (DX)
	VMOVUPS      32(DX), Y1
	VFMADD231PS  Y15, Y0, Y1
	VMOVUPS      Y1, 32(DX)
	VZEROUPPER
	RET

// func DotRows(x, w, out *float32, k, ldw, n int)
//
// out[j] = Σ_i x[i]·w[j·ldw+i] for j < n: one vector x against n rows of a
// matrix, the whole of a single-token (decode) product. k must be a
// multiple of 8. Rows go four at a time, 16 floats a step with eight
// accumulators (Y0-Y7): four streams from memory at once keep more loads
// in flight than one, and x (in L1) is loaded once for the four. Leftover
// rows go one at a time. Needs AVX2 and FMA.
TEXT ·DotRows(SB), NOSPLIT, $0-48
	MOVQ x+0(FP), SI
	MOVQ w+8(FP), DI
	MOVQ out+16(FP), DX
	MOVQ k+24(FP), BX
	SHLQ $2, BX
	MOVQ ldw+32(FP), R8
	SHLQ $2, R8
	MOVQ n+40(FP), R9
	MOVQ BX, R10
	ANDQ $-64, R10
	LEAQ (R8)(R8*2), R13

quad:
	CMPQ   R9, $4
	JL     row
	LEAQ   (DI)(R8*1), R11
	LEAQ   (DI)(R8*2), R12
	LEAQ   (DI)(R13*1), R14
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	XORQ   AX, AX

quad16:
	CMPQ        AX, R10
	JGE         quad8
	VMOVUPS     (SI)(AX*1), Y8
	VMOVUPS     32(SI)(AX*1), Y9
	VFMADD231PS (DI)(AX*1), Y8, Y0
	VFMADD231PS 32(DI)(AX*1), Y9, Y1
	VFMADD231PS (R11)(AX*1), Y8, Y2
	VFMADD231PS 32(R11)(AX*1), Y9, Y3
	VFMADD231PS (R12)(AX*1), Y8, Y4
	VFMADD231PS 32(R12)(AX*1), Y9, Y5
	VFMADD231PS (R14)(AX*1), Y8, Y6
	VFMADD231PS 32(R14)(AX*1), Y9, Y7
	ADDQ        $64, AX
	JMP         quad16

quad8:
	CMPQ        AX, BX
	JGE         quadsum
	VMOVUPS     (SI)(AX*1), Y8
	VFMADD231PS (DI)(AX*1), Y8, Y0
	VFMADD231PS (R11)(AX*1), Y8, Y2
	VFMADD231PS (R12)(AX*1), Y8, Y4
	VFMADD231PS (R14)(AX*1), Y8, Y6
	ADDQ        $32, AX
	JMP         quad8

quadsum:
	VADDPS       Y1, Y0, Y0
	VADDPS       Y3, Y2, Y2
	VADDPS       Y5, Y4, Y4
	VADDPS       Y7, Y6, Y6
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VEXTRACTF128 $1, Y2, X3
	VADDPS       X3, X2, X2
	VEXTRACTF128 $1, Y4, X5
	VADDPS       X5, X4, X4
	VEXTRACTF128 $1, Y6, X7
	VADDPS       X7, X6, X6
	VHADDPS      X2, X0, X0
	VHADDPS      X6, X4, X4
	VHADDPS      X4, X0, X0
	VMOVUPS      X0, (DX)
	ADDQ         $16, DX
	LEAQ         (DI)(R8*4), DI
	SUBQ         $4, R9
	JMP          quad

row:
	TESTQ  R9, R9
	JE     done
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	XORQ   AX, AX

row16:
	CMPQ        AX, R10
	JGE         row8
	VMOVUPS     (SI)(AX*1), Y4
	VFMADD231PS (DI)(AX*1), Y4, Y0
	VMOVUPS     32(SI)(AX*1), Y5
	VFMADD231PS 32(DI)(AX*1), Y5, Y1
	ADDQ        $64, AX
	JMP         row16

row8:
	CMPQ        AX, BX
	JGE         rowsum
	VMOVUPS     (SI)(AX*1), Y4
	VFMADD231PS (DI)(AX*1), Y4, Y0
	ADDQ        $32, AX
	JMP         row8

rowsum:
	VADDPS       Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0
	VMOVSS       X0, (DX)
	ADDQ         $4, DX
	ADDQ         R8, DI
	DECQ         R9
	JMP          row

done:
	VZEROUPPER
	RET

// func VecMat(a, b, c *float32, k, ldb, n int)
//
// c[j] += Σ_i a[i]·b[i·ldb+j] for j < n (a multiple of 8): a row vector
// times a k×n matrix, as attention weighs the cached values of one query.
// Columns go 32 at a time in four accumulators kept in registers over all
// k rows, then 8 at a time. Needs AVX2 and FMA.
TEXT ·VecMat(SB), NOSPLIT, $0-48
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DI
	MOVQ c+16(FP), DX
	MOVQ k+24(FP), CX
	MOVQ ldb+32(FP), R8
	SHLQ $2, R8
	MOVQ n+40(FP), R9

vm32:
	CMPQ    R9, $32
	JL      vm8
	VMOVUPS (DX), Y0
	VMOVUPS 32(DX), Y1
	VMOVUPS 64(DX), Y2
	VMOVUPS 96(DX), Y3
	MOVQ    DI, R10
	XORQ    AX, AX

vm32row:
	CMPQ         AX, CX
	JGE          vm32end
	VBROADCASTSS (SI)(AX*4), Y4
	VFMADD231PS  (R10), Y4, Y0
	VFMADD231PS  32(R10), Y4, Y1
	VFMADD231PS  64(R10), Y4, Y2
	VFMADD231PS  96(R10), Y4, Y3
	ADDQ         R8, R10
	INCQ         AX
	JMP          vm32row

vm32end:
	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	VMOVUPS Y2, 64(DX)
	VMOVUPS Y3, 96(DX)
	ADDQ    $128, DX
	ADDQ    $128, DI
	SUBQ    $32, R9
	JMP     vm32

vm8:
	CMPQ    R9, $8
	JL      vmdone
	VMOVUPS (DX), Y0
	MOVQ    DI, R10
	XORQ    AX, AX

vm8row:
	CMPQ         AX, CX
	JGE          vm8end
	VBROADCASTSS (SI)(AX*4), Y4
	VFMADD231PS  (R10), Y4, Y0
	ADDQ         R8, R10
	INCQ         AX
	JMP          vm8row

vm8end:
	VMOVUPS Y0, (DX)
	ADDQ    $32, DX
	ADDQ    $32, DI
	SUBQ    $8, R9
	JMP     vm8

vmdone:
	VZEROUPPER
	RET
