#include "textflag.h"

// Integer dot of the 32 int8 in Y0 (weights) and Y1 (activations), as
// eight int32 partial sums converted to float32 in Y5: |w| times
// a·sign(w) with VPMADDUBSW (as ggml does: the instruction takes one
// unsigned operand), pairs summed to int32 with VPMADDWD against 16-bit
// ones (Y6).
#define BLOCKDOT \
	VPSIGNB     Y0, Y0, Y2 \
	VPSIGNB     Y0, Y1, Y3 \
	VPMADDUBSW  Y3, Y2, Y4 \
	VPMADDWD    Y6, Y4, Y5 \
	VCVTDQ2PS   Y5, Y5

// Adds Y5 times the block's scale (weight scale from the fp16 table at
// R8, times the activation scale at DI) into the accumulator Y7: one
// horizontal sum per row instead of one per block, as ggml does.
#define ACCUMULATE \
	MOVWLZX      (SI), AX \
	VMOVSS       (R8)(AX*4), X4 \
	VMULSS       (DI), X4, X4 \
	VBROADCASTSS X4, Y4 \
	VFMADD231PS  Y4, Y5, Y7

// Leaves the sum of Y7's lanes in X7.
#define HSUM \
	VEXTRACTF128 $1, Y7, X4 \
	VADDPS       X4, X7, X7 \
	VHADDPS      X7, X7, X7 \
	VHADDPS      X7, X7, X7

// func DotQ8_0(w, a *byte, blocks int, f16 *float32) float32
TEXT ·DotQ8_0(SB), NOSPLIT, $0-36
	MOVQ     w+0(FP), SI
	MOVQ     a+8(FP), DI
	MOVQ     blocks+16(FP), CX
	MOVQ     f16+24(FP), R8
	VXORPS   Y7, Y7, Y7
	VPCMPEQW Y6, Y6, Y6
	VPSRLW   $15, Y6, Y6

q8loop:
	TESTQ   CX, CX
	JE      q8done
	VMOVDQU 2(SI), Y0
	VMOVDQU 4(DI), Y1
	BLOCKDOT
	ACCUMULATE
	ADDQ    $34, SI
	ADDQ    $36, DI
	DECQ    CX
	JMP     q8loop

q8done:
	HSUM
	VZEROUPPER
	MOVSS X7, ret+32(FP)
	RET

// func DotQ4_0(w, a *byte, blocks int, f16 *float32) float32
TEXT ·DotQ4_0(SB), NOSPLIT, $0-36
	MOVQ         w+0(FP), SI
	MOVQ         a+8(FP), DI
	MOVQ         blocks+16(FP), CX
	MOVQ         f16+24(FP), R8
	VXORPS       Y7, Y7, Y7
	VPCMPEQW     Y6, Y6, Y6
	VPSRLW       $15, Y6, Y6
	MOVL         $0x0F0F0F0F, AX
	VMOVD        AX, X8
	VPBROADCASTD X8, Y8
	MOVL         $0x08080808, AX
	VMOVD        AX, X9
	VPBROADCASTD X9, Y9

q4loop:
	TESTQ        CX, CX
	JE           q4done
	VMOVDQU      2(SI), X0
	VPSRLW       $4, X0, X1
	VINSERTI128  $1, X1, Y0, Y0
	VPAND        Y8, Y0, Y0
	VPSUBB       Y9, Y0, Y0
	VMOVDQU      4(DI), Y1
	BLOCKDOT
	ACCUMULATE
	ADDQ         $18, SI
	ADDQ         $36, DI
	DECQ         CX
	JMP          q4loop

q4done:
	HSUM
	VZEROUPPER
	MOVSS X7, ret+32(FP)
	RET
