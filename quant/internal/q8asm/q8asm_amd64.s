#include "textflag.h"

// Integer dot of the 32 int8 in Y0 (weights) and Y1 (activations) into
// X5 lane 0 as float32: |w| times a·sign(w) with VPMADDUBSW (as ggml does:
// the instruction takes one unsigned operand), pairs summed to int32 with
// VPMADDWD against 16-bit ones (Y6), then a horizontal add.
#define BLOCKDOT \
	VPSIGNB     Y0, Y0, Y2 \
	VPSIGNB     Y0, Y1, Y3 \
	VPMADDUBSW  Y3, Y2, Y4 \
	VPMADDWD    Y6, Y4, Y5 \
	VEXTRACTI128 $1, Y5, X4 \
	VPADDD      X4, X5, X5 \
	VPSHUFD     $0x4E, X5, X4 \
	VPADDD      X4, X5, X5 \
	VPSHUFD     $0xB1, X5, X4 \
	VPADDD      X4, X5, X5 \
	VCVTDQ2PS   X5, X5

// func DotQ8_0(w, a *byte, blocks int, f16 *float32) float32
TEXT ·DotQ8_0(SB), NOSPLIT, $0-36
	MOVQ     w+0(FP), SI
	MOVQ     a+8(FP), DI
	MOVQ     blocks+16(FP), CX
	MOVQ     f16+24(FP), R8
	VXORPS   X7, X7, X7
	VPCMPEQW Y6, Y6, Y6
	VPSRLW   $15, Y6, Y6

q8loop:
	TESTQ   CX, CX
	JE      q8done
	VMOVDQU 2(SI), Y0
	VMOVDQU 4(DI), Y1
	BLOCKDOT
	MOVWLZX (SI), AX
	VMOVSS  (R8)(AX*4), X4
	VMULSS  (DI), X4, X4
	VMULSS  X4, X5, X5
	VADDSS  X5, X7, X7
	ADDQ    $34, SI
	ADDQ    $36, DI
	DECQ    CX
	JMP     q8loop

q8done:
	VZEROUPPER
	MOVSS X7, ret+32(FP)
	RET

// func DotQ4_0(w, a *byte, blocks int, f16 *float32) float32
TEXT ·DotQ4_0(SB), NOSPLIT, $0-36
	MOVQ         w+0(FP), SI
	MOVQ         a+8(FP), DI
	MOVQ         blocks+16(FP), CX
	MOVQ         f16+24(FP), R8
	VXORPS       X7, X7, X7
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
	MOVWLZX      (SI), AX
	VMULSS       (R8)(AX*4), X5, X5
	VMULSS       (DI), X5, X5
	VADDSS       X5, X7, X7
	ADDQ         $18, SI
	ADDQ         $36, DI
	DECQ         CX
	JMP          q4loop

q4done:
	VZEROUPPER
	MOVSS X7, ret+32(FP)
	RET
