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

// INT16_ONES sets y to sixteen int16 ones (VPMADDWD's pair sums).
#define INT16_ONES(y) \
	VPCMPEQW     y, y, y \
	VPSRLW       $15, y, y

// LOW_NIBBLES sets y (whose low half is x) to the byte mask 0x0F.
#define LOW_NIBBLES(x, y) \
	MOVL         $0x0F0F0F0F, AX \
	VMOVD        AX, x \
	VPBROADCASTD x, y

// Sets Y6 to int16 ones and Y8 to the low-nibble mask.
#define ONES_AND_LOW_NIBBLES \
	INT16_ONES(Y6) \
	LOW_NIBBLES(X8, Y8)

// Q4KX8STEP multiplies one 32-byte chunk of an eight-row Q4_K group
// (four quant bytes of each row at qoff(R12)) with the activations it
// meets: low nibbles with a's bytes at alo(R8), high ones at ahi, adding the
// int16 products into Y10 (sub-block 2c) and Y11 (2c+1).
#define Q4KX8STEP(qoff, alo, ahi) \
	PREFETCHT0   qoff+2368(R12) \
	VMOVDQU      qoff(R12), Y0 \
	VPAND        Y8, Y0, Y1 \
	VPSRLW       $4, Y0, Y0 \
	VPAND        Y8, Y0, Y0 \
	VPBROADCASTD alo(R8), Y2 \
	VPBROADCASTD ahi(R8), Y3 \
	VPMADDUBSW   Y2, Y1, Y1 \
	VPMADDUBSW   Y3, Y0, Y0 \
	VPADDW       Y1, Y10, Y10 \
	VPADDW       Y0, Y11, Y11

// Q4X8IN4 multiplies the unpacked chunk (low nibbles Y1, high Y0) with
// activation row DI+IDX's bytes at alo (low) and alo+16 (high), adding
// the int16 products into acc.
#define Q4X8IN4(acc, alo, IDX) \
	VPBROADCASTD alo(DI)IDX, Y2 \
	VPBROADCASTD alo+16(DI)IDX, Y3 \
	VPMADDUBSW   Y2, Y1, Y2 \
	VPMADDUBSW   Y3, Y0, Y3 \
	VPADDW       Y2, acc, acc \
	VPADDW       Y3, acc, acc

// Q8X8IN4 multiplies an eight-row Q8_0 chunk (|w| in Y1, w in Y0) with
// activation row DI+IDX's four bytes at aoff, adding the int32 products
// into acc.
#define Q8X8IN4(acc, aoff, IDX) \
	VPBROADCASTD aoff(DI)IDX, Y2 \
	VPSIGNB      Y0, Y2, Y2 \
	VPMADDUBSW   Y2, Y1, Y2 \
	VPMADDWD     Y9, Y2, Y2 \
	VPADDD       Y2, acc, acc

// Q4X8IN4CHUNK unpacks the eight-row Q4_0 chunk at qoff(SI) once and
// multiplies it with the four activation rows' bytes at aoff.
#define Q4X8IN4CHUNK(qoff, aoff) \
	VMOVDQU      qoff(SI), Y0 \
	VPAND        Y8, Y0, Y1 \
	VPSRLW       $4, Y0, Y0 \
	VPAND        Y8, Y0, Y0 \
	Q4X8IN4(Y4, aoff, (R14*1)) \
	Q4X8IN4(Y5, aoff, (BX*1)) \
	Q4X8IN4(Y6, aoff, (BX*2)) \
	Q4X8IN4(Y7, aoff, (R13*1))

// Q8X8IN4CHUNK is Q4X8IN4CHUNK for an eight-row Q8_0 chunk (|w| in Y1).
#define Q8X8IN4CHUNK(qoff, aoff) \
	VMOVDQU      qoff(SI), Y0 \
	VPSIGNB      Y0, Y0, Y1 \
	Q8X8IN4(Y4, aoff, (R14*1)) \
	Q8X8IN4(Y5, aoff, (BX*1)) \
	Q8X8IN4(Y6, aoff, (BX*2)) \
	Q8X8IN4(Y7, aoff, (R13*1))

// IN4SCALE adds the int32 block sums in sum, times the eight row scales
// (Y14) and activation row IDX's scale, into the float32 accumulator acc.
#define IN4SCALE(sum, IDX, acc) \
	VCVTDQ2PS    sum, sum \
	VBROADCASTSS (DI)IDX, Y15 \
	VMULPS       Y14, Y15, Y15 \
	VFMADD231PS  Y15, sum, acc

// HMAX_Y4 leaves the largest of Y4's eight lanes in X4 (X5 is scratch).
#define HMAX_Y4 \
	VEXTRACTF128 $1, Y4, X5 \
	VMAXPS       X5, X4, X4 \
	VMOVHLPS     X4, X4, X5 \
	VMAXPS       X5, X4, X4 \
	VPSHUFD      $1, X4, X5 \
	VMAXSS       X5, X4, X4

// ABS_MASK sets y to 0x7FFFFFFF in every lane (float absolute value).
#define ABS_MASK(y) \
	VPCMPEQD y, y, y \
	VPSRLD   $1, y, y


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
	ONES_AND_LOW_NIBBLES
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

// func DotQ4K(w, a *byte, blocks int, f16 *float32) float32
//
// Per 256-value block: the 6-bit scales and mins unpacked in general
// registers (ggml's kmask trick), the scales widened to int16 on the
// stack, the mins dotted with the activations' 16-value sums, and each
// 32-value sub-block's nibbles multiplied with VPMADDUBSW then by its
// scale with VPMADDWD, summed as int32 lanes over the block.
TEXT ·DotQ4K(SB), NOSPLIT, $16-36
	MOVQ         w+0(FP), SI
	MOVQ         a+8(FP), DI
	MOVQ         blocks+16(FP), CX
	MOVQ         f16+24(FP), R8
	VXORPS       Y7, Y7, Y7
	VXORPS       X11, X11, X11
	LOW_NIBBLES(X8, Y8)

q4kloop:
	TESTQ CX, CX
	JE    q4kdone

	// Scales (bytes 0-3 in R9, 4-7 in R10) and mins (R11, R12).
	MOVL  4(SI), AX
	MOVL  8(SI), BX
	MOVL  12(SI), DX
	MOVL  AX, R9
	ANDL  $0x3f3f3f3f, R9
	MOVL  DX, R10
	ANDL  $0x0f0f0f0f, R10
	MOVL  AX, R13
	SHRL  $6, R13
	ANDL  $0x03030303, R13
	SHLL  $4, R13
	ORL   R13, R10
	MOVL  BX, R11
	ANDL  $0x3f3f3f3f, R11
	MOVL  DX, R12
	SHRL  $4, R12
	ANDL  $0x0f0f0f0f, R12
	MOVL  BX, R13
	SHRL  $6, R13
	ANDL  $0x03030303, R13
	SHLL  $4, R13
	ORL   R13, R12

	VMOVD     R9, X0
	VPINSRD   $1, R10, X0, X0
	VPMOVZXBW X0, X0
	VMOVDQU   X0, 0(SP)

	// Mins times the activations' pair sums, scaled by dmin·d(a).
	VMOVD        R11, X1
	VPINSRD      $1, R12, X1, X1
	VPMOVZXBW    X1, X1
	VMOVDQU      260(DI), Y2
	VEXTRACTI128 $1, Y2, X3
	VPHADDW      X3, X2, X2
	VPMADDWD     X2, X1, X1
	VCVTDQ2PS    X1, X1
	MOVWLZX      2(SI), AX
	VMOVSS       (R8)(AX*4), X4
	VMULSS       (DI), X4, X4
	VBROADCASTSS X4, X4
	VFMADD231PS  X4, X1, X11

	// Sub-blocks: four chunks of 32 bytes, low nibbles then high.
	VPXOR Y9, Y9, Y9

#define Q4KCHUNK(qoff, aoff, soff) \
	VMOVDQU      qoff(SI), Y0 \
	VPAND        Y8, Y0, Y1 \
	VPSRLW       $4, Y0, Y0 \
	VPAND        Y8, Y0, Y0 \
	VPMADDUBSW   aoff(DI), Y1, Y1 \
	VPBROADCASTW soff(SP), Y3 \
	VPMADDWD     Y3, Y1, Y1 \
	VPADDD       Y1, Y9, Y9 \
	VPMADDUBSW   aoff+32(DI), Y0, Y0 \
	VPBROADCASTW soff+2(SP), Y3 \
	VPMADDWD     Y3, Y0, Y0 \
	VPADDD       Y0, Y9, Y9

	Q4KCHUNK(16, 4, 0)
	Q4KCHUNK(48, 68, 4)
	Q4KCHUNK(80, 132, 8)
	Q4KCHUNK(112, 196, 12)

	MOVWLZX      (SI), AX
	VMOVSS       (R8)(AX*4), X4
	VMULSS       (DI), X4, X4
	VBROADCASTSS X4, Y4
	VCVTDQ2PS    Y9, Y9
	VFMADD231PS  Y4, Y9, Y7

	ADDQ $144, SI
	ADDQ $292, DI
	DECQ CX
	JMP  q4kloop

q4kdone:
	HSUM
	VHADDPS X11, X11, X11
	VHADDPS X11, X11, X11
	VSUBSS  X11, X7, X7
	VZEROUPPER
	MOVSS   X7, ret+32(FP)
	RET

// Q4X8CHUNK multiplies chunk j of an eight-row Q4_0 group (32 bytes at
// qoff(SI): four quant bytes of each row, row k at 4k) with the
// activations it meets: the low nibbles are values 4j..4j+3 of each row
// (activation bytes at aoff(DI)), the high ones values 16+4j..16+4j+3
// (aoff+16). The int16 products of each row land in lanes 2k and 2k+1 and
// add into Y9 (eight chunks of at most 2·15·127 fit int16).
#define Q4X8CHUNK(qoff, aoff) \
	VMOVDQU      qoff(SI), Y0 \
	VPAND        Y8, Y0, Y1 \
	VPSRLW       $4, Y0, Y0 \
	VPAND        Y8, Y0, Y0 \
	VPBROADCASTD aoff(DI), Y2 \
	VPBROADCASTD aoff+16(DI), Y3 \
	VPMADDUBSW   Y2, Y1, Y1 \
	VPMADDUBSW   Y3, Y0, Y0 \
	VPADDW       Y1, Y9, Y9 \
	VPADDW       Y0, Y9, Y9

// func DotQ4_0x8(w, a *byte, sums *int32, blocks int, out *[8]float32)
//
// Eight Q4_0 rows at once, a lane per row (llama.cpp's repacked layout
// in spirit): per block, eight fp16 row scales (16 bytes) then four
// chunks of 32 bytes (see Q4X8CHUNK), 144 bytes in all. The nibbles go
// unsigned into VPMADDUBSW; sums[b] = 8·Σ a_b takes the offset of 8 off.
// The eight row scales convert at once with F16C. Needs AVX2, FMA, F16C.
TEXT ·DotQ4_0x8(SB), NOSPLIT, $0-40
	MOVQ         w+0(FP), SI
	MOVQ         a+8(FP), DI
	MOVQ         sums+16(FP), R9
	MOVQ         blocks+24(FP), CX
	MOVQ         out+32(FP), DX
	VXORPS       Y7, Y7, Y7
	ONES_AND_LOW_NIBBLES

q4x8loop:
	TESTQ        CX, CX
	JE           q4x8done
	PREFETCHT0   2304(SI)
	PREFETCHT0   2368(SI)
	PREFETCHT0   2432(SI)
	VPXOR        Y9, Y9, Y9
	Q4X8CHUNK(16, 4)
	Q4X8CHUNK(48, 8)
	Q4X8CHUNK(80, 12)
	Q4X8CHUNK(112, 16)
	VPMADDWD     Y6, Y9, Y9
	VPBROADCASTD (R9), Y4
	VPSUBD       Y4, Y9, Y9
	VCVTDQ2PS    Y9, Y9
	VCVTPH2PS    (SI), Y10
	VBROADCASTSS (DI), Y12
	VMULPS       Y12, Y10, Y10
	VFMADD231PS  Y10, Y9, Y7
	ADDQ         $144, SI
	ADDQ         $36, DI
	ADDQ         $4, R9
	DECQ         CX
	JMP          q4x8loop

q4x8done:
	VMOVUPS      Y7, (DX)
	VZEROUPPER
	RET

// Q8X8CHUNK multiplies chunk j of an eight-row Q8_0 group (32 bytes at
// qoff(SI): four int8 of each row, row k at 4k) with activation bytes
// aoff..aoff+3, broadcast: |w| times a·sign(w) with VPMADDUBSW, pairs
// summed to int32 lane k for row k, added into Y9.
#define Q8X8CHUNK(qoff, aoff) \
	VMOVDQU      qoff(SI), Y0 \
	VPBROADCASTD aoff(DI), Y2 \
	VPSIGNB      Y0, Y0, Y1 \
	VPSIGNB      Y0, Y2, Y2 \
	VPMADDUBSW   Y2, Y1, Y1 \
	VPMADDWD     Y6, Y1, Y1 \
	VPADDD       Y1, Y9, Y9

// func DotQ8_0x8(w, a *byte, blocks int, out *[8]float32)
//
// Eight Q8_0 rows at once, a lane per row: per block, eight fp16 row
// scales (16 bytes) then eight chunks of 32 bytes (see Q8X8CHUNK), 272
// bytes in all. Needs AVX2, FMA, F16C.
TEXT ·DotQ8_0x8(SB), NOSPLIT, $0-32
	MOVQ     w+0(FP), SI
	MOVQ     a+8(FP), DI
	MOVQ     blocks+16(FP), CX
	MOVQ     out+24(FP), DX
	VXORPS   Y7, Y7, Y7
	VPCMPEQW Y6, Y6, Y6
	VPSRLW   $15, Y6, Y6

q8x8loop:
	TESTQ        CX, CX
	JE           q8x8done
	PREFETCHT0   4352(SI)
	PREFETCHT0   4416(SI)
	PREFETCHT0   4480(SI)
	PREFETCHT0   4544(SI)
	PREFETCHT0   4608(SI)
	VPXOR        Y9, Y9, Y9
	Q8X8CHUNK(16, 4)
	Q8X8CHUNK(48, 8)
	Q8X8CHUNK(80, 12)
	Q8X8CHUNK(112, 16)
	Q8X8CHUNK(144, 20)
	Q8X8CHUNK(176, 24)
	Q8X8CHUNK(208, 28)
	Q8X8CHUNK(240, 32)
	VCVTDQ2PS    Y9, Y9
	VCVTPH2PS    (SI), Y10
	VBROADCASTSS (DI), Y12
	VMULPS       Y12, Y10, Y10
	VFMADD231PS  Y10, Y9, Y7
	ADDQ         $272, SI
	ADDQ         $36, DI
	DECQ         CX
	JMP          q8x8loop

q8x8done:
	VMOVUPS      Y7, (DX)
	VZEROUPPER
	RET

// Q4KX4MINS subtracts dmin·d(a)·Σ_j min_j·(pair sums of a's 16-value
// sums) for the activation row at DI + IDX (IDX an index such as
// (BX*2); R14 is 0 for the first row) from acc: the mins (int16) are in X5,
// dmin broadcast in Y4. The VEX.128 conversion zeroes Y2's upper half, so
// only the low four lanes of acc move.
#define Q4KX4MINS(IDX, acc) \
	VMOVDQU      260(DI)IDX, Y2 \
	VEXTRACTI128 $1, Y2, X6 \
	VPHADDW      X6, X2, X2 \
	VPMADDWD     X2, X5, X2 \
	VCVTDQ2PS    X2, X2 \
	VBROADCASTSS (DI)IDX, Y6 \
	VMULPS       Y4, Y6, Y6 \
	VFNMADD231PS Y6, Y2, acc

// Q4KX4SUB adds one 32-value sub-block (nibbles in nib, scale broadcast
// in Y6) of the activation rows into their int32 accumulators.
#define Q4KX4SUB(nib, aoff) \
	VPMADDUBSW aoff(DI)(R14*1), nib, Y2 \
	VPMADDWD   Y6, Y2, Y2 \
	VPADDD     Y2, Y9, Y9 \
	VPMADDUBSW aoff(DI)(BX*1), nib, Y2 \
	VPMADDWD   Y6, Y2, Y2 \
	VPADDD     Y2, Y10, Y10 \
	VPMADDUBSW aoff(DI)(BX*2), nib, Y2 \
	VPMADDWD   Y6, Y2, Y2 \
	VPADDD     Y2, Y11, Y11 \
	VPMADDUBSW aoff(DI)(R13*1), nib, Y2 \
	VPMADDWD   Y6, Y2, Y2 \
	VPADDD     Y2, Y12, Y12

#define Q4KX4CHUNK(qoff, aoff, soff) \
	VMOVDQU      qoff(SI), Y0 \
	VPAND        Y8, Y0, Y1 \
	VPSRLW       $4, Y0, Y0 \
	VPAND        Y8, Y0, Y0 \
	VPBROADCASTW soff(SP), Y6 \
	Q4KX4SUB(Y1, aoff) \
	VPBROADCASTW soff+2(SP), Y6 \
	Q4KX4SUB(Y0, aoff+32)

// Adds d·d(a)·sumi of the activation row at DI + IDX into acc (d in Y3).
#define Q4KX4SCALE(IDX, sumi, acc) \
	VCVTDQ2PS    sumi, sumi \
	VBROADCASTSS (DI)IDX, Y2 \
	VMULPS       Y3, Y2, Y2 \
	VFMADD231PS  Y2, sumi, acc

#define Q4KX4STORE(acc, accx, off) \
	VEXTRACTF128 $1, acc, X4 \
	VADDPS       X4, accx, accx \
	VHADDPS      accx, accx, accx \
	VHADDPS      accx, accx, accx \
	MOVSS        accx, off(DX)

// func DotQ4Kx4(w, a *byte, astride, blocks int, f16 *float32, out *[4]float32)
//
// One Q4_K weight row against four Q8_K activation rows (astride bytes
// apart), for prefill: the scales, mins and nibbles of each weight block
// are unpacked once for the four rows, where DotQ4K would unpack them for
// each. Accumulators: int32 Y9-Y12, float32 Y7, Y13-Y15.
TEXT ·DotQ4Kx4(SB), NOSPLIT, $16-48
	MOVQ         w+0(FP), SI
	MOVQ         a+8(FP), DI
	MOVQ         astride+16(FP), BX
	MOVQ         blocks+24(FP), CX
	MOVQ         f16+32(FP), R8
	LEAQ         (BX)(BX*2), R13
	XORQ         R14, R14
	VXORPS       Y7, Y7, Y7
	VXORPS       Y13, Y13, Y13
	VXORPS       Y14, Y14, Y14
	VXORPS       Y15, Y15, Y15
	LOW_NIBBLES(X8, Y8)

q4kx4loop:
	TESTQ CX, CX
	JE    q4kx4done

	// Scales (R9, R10) and mins (R11, R12), as in DotQ4K.
	MOVL  4(SI), AX
	MOVL  8(SI), R11
	MOVL  12(SI), DX
	MOVL  AX, R9
	ANDL  $0x3f3f3f3f, R9
	MOVL  DX, R10
	ANDL  $0x0f0f0f0f, R10
	MOVL  AX, R12
	SHRL  $6, R12
	ANDL  $0x03030303, R12
	SHLL  $4, R12
	ORL   R12, R10
	MOVL  DX, R12
	SHRL  $4, R12
	ANDL  $0x0f0f0f0f, R12
	MOVL  R11, AX
	SHRL  $6, AX
	ANDL  $0x03030303, AX
	SHLL  $4, AX
	ORL   AX, R12
	ANDL  $0x3f3f3f3f, R11

	VMOVD     R9, X0
	VPINSRD   $1, R10, X0, X0
	VPMOVZXBW X0, X0
	VMOVDQU   X0, 0(SP)
	VMOVD     R11, X5
	VPINSRD   $1, R12, X5, X5
	VPMOVZXBW X5, X5

	MOVWLZX      (SI), AX
	VBROADCASTSS (R8)(AX*4), Y3
	MOVWLZX      2(SI), AX
	VBROADCASTSS (R8)(AX*4), Y4

	Q4KX4MINS((R14*1), Y7)
	Q4KX4MINS((BX*1), Y13)
	Q4KX4MINS((BX*2), Y14)
	Q4KX4MINS((R13*1), Y15)

	VPXOR Y9, Y9, Y9
	VPXOR Y10, Y10, Y10
	VPXOR Y11, Y11, Y11
	VPXOR Y12, Y12, Y12
	Q4KX4CHUNK(16, 4, 0)
	Q4KX4CHUNK(48, 68, 4)
	Q4KX4CHUNK(80, 132, 8)
	Q4KX4CHUNK(112, 196, 12)

	Q4KX4SCALE((R14*1), Y9, Y7)
	Q4KX4SCALE((BX*1), Y10, Y13)
	Q4KX4SCALE((BX*2), Y11, Y14)
	Q4KX4SCALE((R13*1), Y12, Y15)

	ADDQ $144, SI
	ADDQ $292, DI
	DECQ CX
	JMP  q4kx4loop

q4kx4done:
	MOVQ out+40(FP), DX
	Q4KX4STORE(Y7, X7, 0)
	Q4KX4STORE(Y13, X13, 4)
	Q4KX4STORE(Y14, X14, 8)
	Q4KX4STORE(Y15, X15, 12)
	VZEROUPPER
	RET

// func DotQ4Kx8(w, a *byte, pairs *int32, blocks int, out *[8]float32)
//
// Eight Q4_K rows at once, a lane per row, in the eight-row layout of
// quant's packQ4Kx8 (1,184 bytes a block: eight fp16 scales d, eight
// fp16 dmin, the 6-bit sub-block scales and mins unpacked to bytes,
// eight rows' scales per sub-block, then 32 chunks of 32 bytes, chunk
// 8c+t holding quant bytes 32c+4t..32c+4t+3 of every row). For each pair
// of sub-blocks (2c, 2c+1) the nibble products of a row add up as int16
// (eight chunks of at most 2·15·127 fit), become int32 by VPMADDWD, and
// are weighted by the rows' sub-block scales with VPMULLD. The mins term
// Σ_j min_j·(a's sums over sub-block j) uses pairs (eight int32 a block,
// precomputed). Needs AVX2, FMA, F16C.
TEXT ·DotQ4Kx8(SB), NOSPLIT, $0-40
	MOVQ         w+0(FP), SI
	MOVQ         a+8(FP), DI
	MOVQ         pairs+16(FP), R9
	MOVQ         blocks+24(FP), CX
	MOVQ         out+32(FP), DX
	VXORPS       Y7, Y7, Y7
	ONES_AND_LOW_NIBBLES

q4kx8loop:
	TESTQ        CX, CX
	JE           q4kx8done
	VPXOR        Y9, Y9, Y9
	XORQ         AX, AX

q4kx8pair:
	// AX = 16c for pair c: chunks from SI+256c, activations from DI+64c.
	LEAQ         (SI)(AX*8), R12
	LEAQ         (R12)(AX*8), R12
	LEAQ         (DI)(AX*4), R8
	VPXOR        Y10, Y10, Y10
	VPXOR        Y11, Y11, Y11
	Q4KX8STEP(160, 4, 36)
	Q4KX8STEP(192, 8, 40)
	Q4KX8STEP(224, 12, 44)
	Q4KX8STEP(256, 16, 48)
	Q4KX8STEP(288, 20, 52)
	Q4KX8STEP(320, 24, 56)
	Q4KX8STEP(352, 28, 60)
	Q4KX8STEP(384, 32, 64)
	VPMADDWD     Y6, Y10, Y10
	VPMOVZXBD    32(SI)(AX*1), Y2
	VPMULLD      Y2, Y10, Y10
	VPADDD       Y10, Y9, Y9
	VPMADDWD     Y6, Y11, Y11
	VPMOVZXBD    40(SI)(AX*1), Y2
	VPMULLD      Y2, Y11, Y11
	VPADDD       Y11, Y9, Y9
	ADDQ         $16, AX
	CMPQ         AX, $64
	JL           q4kx8pair
	VPXOR        Y12, Y12, Y12
	VPMOVZXBD    96(SI), Y2
	VPBROADCASTD 0(R9), Y3
	VPMULLD      Y3, Y2, Y2
	VPADDD       Y2, Y12, Y12
	VPMOVZXBD    104(SI), Y2
	VPBROADCASTD 4(R9), Y3
	VPMULLD      Y3, Y2, Y2
	VPADDD       Y2, Y12, Y12
	VPMOVZXBD    112(SI), Y2
	VPBROADCASTD 8(R9), Y3
	VPMULLD      Y3, Y2, Y2
	VPADDD       Y2, Y12, Y12
	VPMOVZXBD    120(SI), Y2
	VPBROADCASTD 12(R9), Y3
	VPMULLD      Y3, Y2, Y2
	VPADDD       Y2, Y12, Y12
	VPMOVZXBD    128(SI), Y2
	VPBROADCASTD 16(R9), Y3
	VPMULLD      Y3, Y2, Y2
	VPADDD       Y2, Y12, Y12
	VPMOVZXBD    136(SI), Y2
	VPBROADCASTD 20(R9), Y3
	VPMULLD      Y3, Y2, Y2
	VPADDD       Y2, Y12, Y12
	VPMOVZXBD    144(SI), Y2
	VPBROADCASTD 24(R9), Y3
	VPMULLD      Y3, Y2, Y2
	VPADDD       Y2, Y12, Y12
	VPMOVZXBD    152(SI), Y2
	VPBROADCASTD 28(R9), Y3
	VPMULLD      Y3, Y2, Y2
	VPADDD       Y2, Y12, Y12
	VCVTDQ2PS    Y9, Y9
	VCVTDQ2PS    Y12, Y12
	VBROADCASTSS (DI), Y4
	VCVTPH2PS    (SI), Y2
	VMULPS       Y4, Y2, Y2
	VFMADD231PS  Y2, Y9, Y7
	VCVTPH2PS    16(SI), Y3
	VMULPS       Y4, Y3, Y3
	VFNMADD231PS Y3, Y12, Y7
	ADDQ         $1184, SI
	ADDQ         $292, DI
	ADDQ         $32, R9
	DECQ         CX
	JMP          q4kx8loop

q4kx8done:
	VMOVUPS      Y7, (DX)
	VZEROUPPER
	RET

// func DotQ4_0x8in4(w, a *byte, astride int, sums *int32, sstride, blocks int, out *[32]float32)
//
// DotQ4_0x8 for four activation rows at once (astride bytes apart, their
// 8·Σa sums sstride bytes apart), for batched decoding and prefill: each
// chunk of weights is unpacked once for the four rows. out[8k+r] is row
// r against activation row k. Int16 accumulators Y4-Y7, float32 Y10-Y13,
// the eight row scales in Y14.
TEXT ·DotQ4_0x8in4(SB), NOSPLIT, $0-56
	MOVQ         w+0(FP), SI
	MOVQ         a+8(FP), DI
	MOVQ         astride+16(FP), BX
	MOVQ         sums+24(FP), R9
	MOVQ         sstride+32(FP), R10
	MOVQ         blocks+40(FP), CX
	LEAQ         (BX)(BX*2), R13
	LEAQ         (R10)(R10*2), R11
	XORQ         R14, R14
	VXORPS       Y10, Y10, Y10
	VXORPS       Y11, Y11, Y11
	VXORPS       Y12, Y12, Y12
	VXORPS       Y13, Y13, Y13
	INT16_ONES(Y9)
	LOW_NIBBLES(X8, Y8)

q4x8in4loop:
	TESTQ        CX, CX
	JE           q4x8in4done
	PREFETCHT0   2304(SI)
	PREFETCHT0   2368(SI)
	PREFETCHT0   2432(SI)
	VPXOR        Y4, Y4, Y4
	VPXOR        Y5, Y5, Y5
	VPXOR        Y6, Y6, Y6
	VPXOR        Y7, Y7, Y7
	Q4X8IN4CHUNK(16, 4)
	Q4X8IN4CHUNK(48, 8)
	Q4X8IN4CHUNK(80, 12)
	Q4X8IN4CHUNK(112, 16)
	VPMADDWD     Y9, Y4, Y4
	VPMADDWD     Y9, Y5, Y5
	VPMADDWD     Y9, Y6, Y6
	VPMADDWD     Y9, Y7, Y7
	VCVTPH2PS    (SI), Y14
	VPBROADCASTD (R9)(R14*1), Y15
	VPSUBD       Y15, Y4, Y4
	IN4SCALE(Y4, (R14*1), Y10)
	VPBROADCASTD (R9)(R10*1), Y15
	VPSUBD       Y15, Y5, Y5
	IN4SCALE(Y5, (BX*1), Y11)
	VPBROADCASTD (R9)(R10*2), Y15
	VPSUBD       Y15, Y6, Y6
	IN4SCALE(Y6, (BX*2), Y12)
	VPBROADCASTD (R9)(R11*1), Y15
	VPSUBD       Y15, Y7, Y7
	IN4SCALE(Y7, (R13*1), Y13)
	ADDQ         $144, SI
	ADDQ         $36, DI
	ADDQ         $4, R9
	DECQ         CX
	JMP          q4x8in4loop

q4x8in4done:
	MOVQ         out+48(FP), DX
	VMOVUPS      Y10, (DX)
	VMOVUPS      Y11, 32(DX)
	VMOVUPS      Y12, 64(DX)
	VMOVUPS      Y13, 96(DX)
	VZEROUPPER
	RET

DATA permQ8<>+0(SB)/4, $0
DATA permQ8<>+4(SB)/4, $4
DATA permQ8<>+8(SB)/4, $1
DATA permQ8<>+12(SB)/4, $5
DATA permQ8<>+16(SB)/4, $2
DATA permQ8<>+20(SB)/4, $6
DATA permQ8<>+24(SB)/4, $3
DATA permQ8<>+28(SB)/4, $7
GLOBL permQ8<>(SB), RODATA|NOPTR, $32

// func QuantizeQ8(x *float32, dst *byte, blocks int)
//
// Quantizes blocks·32 floats at x into Q8_0 activation blocks at dst (36
// bytes: the scale amax/127 rounded through fp16, as a float32, then 32
// int8): values times 127/amax, rounded half to even by VCVTPS2DQ (the
// default rounding mode), packed to int8 (the packs interleave 128-bit
// lanes; VPERMD puts the four-value groups back in order). The same
// operations as quant's quantizeRowQ8, so the same bytes. Needs AVX2 and
// F16C.
TEXT ·QuantizeQ8(SB), NOSPLIT, $0-32
	MOVQ     x+0(FP), SI
	MOVQ     dst+8(FP), DI
	MOVQ     sums+16(FP), R9
	MOVQ     blocks+24(FP), CX
	ABS_MASK(Y15)
	MOVL     $0x42FE0000, AX
	VMOVD    AX, X14
	VMOVDQU  permQ8<>(SB), Y13

qq8loop:
	TESTQ        CX, CX
	JE           qq8done
	VMOVUPS      (SI), Y0
	VMOVUPS      32(SI), Y1
	VMOVUPS      64(SI), Y2
	VMOVUPS      96(SI), Y3
	VANDPS       Y15, Y0, Y4
	VANDPS       Y15, Y1, Y5
	VMAXPS       Y5, Y4, Y4
	VANDPS       Y15, Y2, Y5
	VMAXPS       Y5, Y4, Y4
	VANDPS       Y15, Y3, Y5
	VMAXPS       Y5, Y4, Y4
	HMAX_Y4
	VDIVSS       X14, X4, X5
	VCVTPS2PH    $0, X5, X6
	VCVTPH2PS    X6, X6
	VMOVSS       X6, (DI)
	VXORPS       X7, X7, X7
	VUCOMISS     X7, X4
	JE           qq8zero
	VDIVSS       X4, X14, X7

qq8zero:
	VBROADCASTSS X7, Y7
	VMULPS       Y7, Y0, Y0
	VMULPS       Y7, Y1, Y1
	VMULPS       Y7, Y2, Y2
	VMULPS       Y7, Y3, Y3
	VCVTPS2DQ    Y0, Y0
	VCVTPS2DQ    Y1, Y1
	VCVTPS2DQ    Y2, Y2
	VCVTPS2DQ    Y3, Y3
	TESTQ        R9, R9
	JE           qq8pack
	VPADDD       Y1, Y0, Y8
	VPADDD       Y3, Y2, Y9
	VPADDD       Y9, Y8, Y8
	VEXTRACTI128 $1, Y8, X9
	VPADDD       X9, X8, X8
	VPHADDD      X8, X8, X8
	VPHADDD      X8, X8, X8
	VPSLLD       $3, X8, X8
	VMOVD        X8, (R9)
	ADDQ         $4, R9

qq8pack:
	VPACKSSDW    Y1, Y0, Y0
	VPACKSSDW    Y3, Y2, Y2
	VPACKSSWB    Y2, Y0, Y0
	VPERMD       Y0, Y13, Y0
	VMOVDQU      Y0, 4(DI)
	ADDQ         $128, SI
	ADDQ         $36, DI
	DECQ         CX
	JMP          qq8loop

qq8done:
	VZEROUPPER
	RET

// func DotQ8_0x8in4(w, a *byte, astride, blocks int, out *[32]float32)
//
// DotQ8_0x8 for four activation rows at once (astride bytes apart): each
// chunk's |w| is taken once for the four. out[8k+r] is row r against
// activation row k. Int32 accumulators Y4-Y7, float32 Y10-Y13.
TEXT ·DotQ8_0x8in4(SB), NOSPLIT, $0-40
	MOVQ         w+0(FP), SI
	MOVQ         a+8(FP), DI
	MOVQ         astride+16(FP), BX
	MOVQ         blocks+24(FP), CX
	LEAQ         (BX)(BX*2), R13
	XORQ         R14, R14
	VXORPS       Y10, Y10, Y10
	VXORPS       Y11, Y11, Y11
	VXORPS       Y12, Y12, Y12
	VXORPS       Y13, Y13, Y13
	INT16_ONES(Y9)

q8x8in4loop:
	TESTQ        CX, CX
	JE           q8x8in4done
	PREFETCHT0   4352(SI)
	PREFETCHT0   4416(SI)
	PREFETCHT0   4480(SI)
	PREFETCHT0   4544(SI)
	PREFETCHT0   4608(SI)
	VPXOR        Y4, Y4, Y4
	VPXOR        Y5, Y5, Y5
	VPXOR        Y6, Y6, Y6
	VPXOR        Y7, Y7, Y7
	Q8X8IN4CHUNK(16, 4)
	Q8X8IN4CHUNK(48, 8)
	Q8X8IN4CHUNK(80, 12)
	Q8X8IN4CHUNK(112, 16)
	Q8X8IN4CHUNK(144, 20)
	Q8X8IN4CHUNK(176, 24)
	Q8X8IN4CHUNK(208, 28)
	Q8X8IN4CHUNK(240, 32)
	VCVTPH2PS    (SI), Y14
	IN4SCALE(Y4, (R14*1), Y10)
	IN4SCALE(Y5, (BX*1), Y11)
	IN4SCALE(Y6, (BX*2), Y12)
	IN4SCALE(Y7, (R13*1), Y13)
	ADDQ         $272, SI
	ADDQ         $36, DI
	DECQ         CX
	JMP          q8x8in4loop

q8x8in4done:
	MOVQ         out+32(FP), DX
	VMOVUPS      Y10, (DX)
	VMOVUPS      Y11, 32(DX)
	VMOVUPS      Y12, 64(DX)
	VMOVUPS      Y13, 96(DX)
	VZEROUPPER
	RET

// Q4KIN4ROW multiplies the unpacked chunk (low nibbles Y1, high Y0) with
// activation row IDX's bytes at alo(R8) (sub-block 2c) and alo+32 (2c+1),
// adding the int16 products into lo and hi.
#define Q4KIN4ROW(alo, IDX, lo, hi) \
	VPBROADCASTD alo(R8)IDX, Y2 \
	VPBROADCASTD alo+32(R8)IDX, Y3 \
	VPMADDUBSW   Y2, Y1, Y2 \
	VPMADDUBSW   Y3, Y0, Y3 \
	VPADDW       Y2, lo, lo \
	VPADDW       Y3, hi, hi

// Q4KIN4STEP unpacks the chunk at qoff(R12) once for the four activation
// rows (int16 accumulators Y4-Y7 for sub-block 2c, Y8-Y11 for 2c+1).
#define Q4KIN4STEP(qoff, alo) \
	PREFETCHT0   qoff+2368(R12) \
	VMOVDQU      qoff(R12), Y0 \
	VPAND        Y12, Y0, Y1 \
	VPSRLW       $4, Y0, Y0 \
	VPAND        Y12, Y0, Y0 \
	Q4KIN4ROW(alo, (R14*1), Y4, Y8) \
	Q4KIN4ROW(alo, (BX*1), Y5, Y9) \
	Q4KIN4ROW(alo, (BX*2), Y6, Y10) \
	Q4KIN4ROW(alo, (R13*1), Y7, Y11)

// Q4KIN4FOLDROW widens one activation row's int16 sums of a sub-block
// pair to int32, weights them with the rows' scales (Y14: 2c, Y15: 2c+1)
// and adds them into the row's block sum on the stack.
#define Q4KIN4FOLDROW(lo, hi, sum) \
	VPMADDWD     Y13, lo, lo \
	VPMULLD      Y14, lo, lo \
	VPMADDWD     Y13, hi, hi \
	VPMULLD      Y15, hi, hi \
	VPADDD       hi, lo, lo \
	VPADDD       sum, lo, lo \
	VMOVDQU      lo, sum

// Q4KIN4PAIR is one sub-block pair of a block for the four activation
// rows: its chunks at R12, its activation bytes at R8, its scales at
// 32(SI)(AX*1) and 40(SI)(AX*1).
#define Q4KIN4PAIR \
	VPXOR        Y4, Y4, Y4 \
	VPXOR        Y5, Y5, Y5 \
	VPXOR        Y6, Y6, Y6 \
	VPXOR        Y7, Y7, Y7 \
	VPXOR        Y8, Y8, Y8 \
	VPXOR        Y9, Y9, Y9 \
	VPXOR        Y10, Y10, Y10 \
	VPXOR        Y11, Y11, Y11 \
	Q4KIN4STEP(160, 4) \
	Q4KIN4STEP(192, 8) \
	Q4KIN4STEP(224, 12) \
	Q4KIN4STEP(256, 16) \
	Q4KIN4STEP(288, 20) \
	Q4KIN4STEP(320, 24) \
	Q4KIN4STEP(352, 28) \
	Q4KIN4STEP(384, 32) \
	VPMOVZXBD    32(SI)(AX*1), Y14 \
	VPMOVZXBD    40(SI)(AX*1), Y15 \
	Q4KIN4FOLDROW(Y4, Y8, s0-128(SP)) \
	Q4KIN4FOLDROW(Y5, Y9, s1-96(SP)) \
	Q4KIN4FOLDROW(Y6, Y10, s2-64(SP)) \
	Q4KIN4FOLDROW(Y7, Y11, s3-32(SP))

// Q4KIN4MIN adds the rows' mins of sub-block j times activation row
// PIDX's sum over it into Y3.
#define Q4KIN4MIN(j, PIDX) \
	VPMOVZXBD    96+8*j(SI), Y0 \
	VPBROADCASTD 4*j(R9)PIDX, Y1 \
	VPMULLD      Y1, Y0, Y0 \
	VPADDD       Y0, Y3, Y3

// Q4KIN4FINISH adds a block's result for activation row IDX (its
// sub-block sums at PIDX) into out at off: d·a.d·sum − dmin·a.d·mins, the
// operations of DotQ4Kx8, so each row equals that kernel's bit for bit.
// Y14 and Y15 hold the eight rows' d and dmin.
#define Q4KIN4FINISH(IDX, PIDX, sum, off) \
	VPXOR        Y3, Y3, Y3 \
	Q4KIN4MIN(0, PIDX) \
	Q4KIN4MIN(1, PIDX) \
	Q4KIN4MIN(2, PIDX) \
	Q4KIN4MIN(3, PIDX) \
	Q4KIN4MIN(4, PIDX) \
	Q4KIN4MIN(5, PIDX) \
	Q4KIN4MIN(6, PIDX) \
	Q4KIN4MIN(7, PIDX) \
	VCVTDQ2PS    sum, Y0 \
	VCVTDQ2PS    Y3, Y3 \
	VBROADCASTSS (DI)IDX, Y1 \
	VMOVUPS      off(DX), Y4 \
	VMULPS       Y1, Y14, Y2 \
	VFMADD231PS  Y2, Y0, Y4 \
	VMULPS       Y1, Y15, Y2 \
	VFNMADD231PS Y2, Y3, Y4 \
	VMOVUPS      Y4, off(DX)

// func DotQ4Kx8in4(w, a *byte, astride int, pairs *int32, pstride, blocks int, out *[32]float32)
//
// DotQ4Kx8 for four activation rows at once (astride bytes apart, their
// sub-block sums pstride bytes apart), for batched decoding and prefill:
// each chunk of weights is unpacked once for the four rows. out[8k+r] is
// weight row r against activation row k. The int16 sums of a sub-block
// pair take eight registers, so each row's int32 block sum waits on the
// stack and the float32 results accumulate in out. The four sub-block
// pairs run as a loop: unrolled, the block's code overflowed the
// decoded-instruction cache and ran at two thirds of the speed.
TEXT ·DotQ4Kx8in4(SB), NOSPLIT, $128-56
	MOVQ         w+0(FP), SI
	MOVQ         a+8(FP), DI
	MOVQ         astride+16(FP), BX
	MOVQ         pairs+24(FP), R9
	MOVQ         pstride+32(FP), R10
	MOVQ         blocks+40(FP), CX
	MOVQ         out+48(FP), DX
	LEAQ         (BX)(BX*2), R13
	LEAQ         (R10)(R10*2), R11
	XORQ         R14, R14
	VPXOR        Y0, Y0, Y0
	VMOVUPS      Y0, (DX)
	VMOVUPS      Y0, 32(DX)
	VMOVUPS      Y0, 64(DX)
	VMOVUPS      Y0, 96(DX)
	INT16_ONES(Y13)
	LOW_NIBBLES(X12, Y12)

q4kx8in4loop:
	TESTQ        CX, CX
	JE           q4kx8in4done
	VPXOR        Y0, Y0, Y0
	VMOVDQU      Y0, s0-128(SP)
	VMOVDQU      Y0, s1-96(SP)
	VMOVDQU      Y0, s2-64(SP)
	VMOVDQU      Y0, s3-32(SP)
	XORQ         AX, AX

q4kx8in4pair:
	// AX = 16c for pair c: chunks from SI+256c, activations from DI+64c.
	LEAQ         (SI)(AX*8), R12
	LEAQ         (R12)(AX*8), R12
	LEAQ         (DI)(AX*4), R8
	Q4KIN4PAIR
	ADDQ         $16, AX
	CMPQ         AX, $64
	JL           q4kx8in4pair
	VCVTPH2PS    (SI), Y14
	VCVTPH2PS    16(SI), Y15
	Q4KIN4FINISH((R14*1), (R14*1), s0-128(SP), 0)
	Q4KIN4FINISH((BX*1), (R10*1), s1-96(SP), 32)
	Q4KIN4FINISH((BX*2), (R10*2), s2-64(SP), 64)
	Q4KIN4FINISH((R13*1), (R11*1), s3-32(SP), 96)
	ADDQ         $1184, SI
	ADDQ         $292, DI
	ADDQ         $32, R9
	DECQ         CX
	JMP          q4kx8in4loop

q4kx8in4done:
	VZEROUPPER
	RET

// func QuantizeQ8K(x *float32, dst *byte, blocks int)
//
// Quantizes blocks·256 floats at x into Q8_K activation blocks at dst (292
// bytes: the float32 scale 1/iscale, 256 int8, sixteen int16 sums of 16
// values) as quant's quantizeRowQ8K does, byte for byte: iscale is
// −127/mx for mx the first value of largest magnitude, values times
// iscale are rounded half to even by VCVTPS2DQ (they stay within ±127,
// so the saturating packs never clip), and a block of zeros stays zero.
// Needs AVX2.
TEXT ·QuantizeQ8K(SB), NOSPLIT, $0-24
	MOVQ     x+0(FP), SI
	MOVQ     dst+8(FP), DI
	MOVQ     blocks+16(FP), CX
	ABS_MASK(Y15)
	VMOVDQU  permQ8<>(SB), Y13

qq8kloop:
	TESTQ        CX, CX
	JE           qq8kdone
	VANDPS       (SI), Y15, Y4
	MOVQ         $32, AX

qq8kmax:
	VANDPS       (SI)(AX*1), Y15, Y5
	VMAXPS       Y5, Y4, Y4
	ADDQ         $32, AX
	CMPQ         AX, $1024
	JL           qq8kmax
	HMAX_Y4
	VXORPS       X7, X7, X7
	VUCOMISS     X7, X4
	JE           qq8kzero
	VBROADCASTSS X4, Y4
	XORQ         AX, AX

qq8kfind:
	// The first value whose magnitude is the maximum gives the sign.
	VANDPS       (SI)(AX*1), Y15, Y5
	VCMPPS       $0, Y4, Y5, Y5
	VMOVMSKPS    Y5, DX
	TESTL        DX, DX
	JNE          qq8kfound
	ADDQ         $32, AX
	JMP          qq8kfind

qq8kfound:
	BSFL         DX, DX
	LEAQ         (AX)(DX*4), AX
	VMOVSS       (SI)(AX*1), X5
	MOVL         $0xC2FE0000, R8
	VMOVD        R8, X6
	VDIVSS       X5, X6, X6
	MOVL         $0x3F800000, R8
	VMOVD        R8, X7
	VDIVSS       X6, X7, X7
	VMOVSS       X7, (DI)
	VBROADCASTSS X6, Y6
	XORQ         AX, AX
	LEAQ         4(DI), R9
	LEAQ         260(DI), R10

qq8kquant:
	VMULPS       (SI)(AX*1), Y6, Y0
	VMULPS       32(SI)(AX*1), Y6, Y1
	VMULPS       64(SI)(AX*1), Y6, Y2
	VMULPS       96(SI)(AX*1), Y6, Y3
	VCVTPS2DQ    Y0, Y0
	VCVTPS2DQ    Y1, Y1
	VCVTPS2DQ    Y2, Y2
	VCVTPS2DQ    Y3, Y3
	VPADDD       Y1, Y0, Y8
	VPADDD       Y3, Y2, Y9
	VEXTRACTI128 $1, Y8, X10
	VPADDD       X10, X8, X8
	VEXTRACTI128 $1, Y9, X11
	VPADDD       X11, X9, X9
	VPHADDD      X9, X8, X8
	VPHADDD      X8, X8, X8
	VPACKSSDW    X8, X8, X8
	VMOVD        X8, (R10)
	VPACKSSDW    Y1, Y0, Y0
	VPACKSSDW    Y3, Y2, Y2
	VPACKSSWB    Y2, Y0, Y0
	VPERMD       Y0, Y13, Y0
	VMOVDQU      Y0, (R9)
	ADDQ         $32, R9
	ADDQ         $4, R10
	ADDQ         $128, AX
	CMPQ         AX, $1024
	JL           qq8kquant
	JMP          qq8knext

qq8kzero:
	VPXOR        Y0, Y0, Y0
	VMOVDQU      Y0, (DI)
	VMOVDQU      Y0, 32(DI)
	VMOVDQU      Y0, 64(DI)
	VMOVDQU      Y0, 96(DI)
	VMOVDQU      Y0, 128(DI)
	VMOVDQU      Y0, 160(DI)
	VMOVDQU      Y0, 192(DI)
	VMOVDQU      Y0, 224(DI)
	VMOVDQU      Y0, 256(DI)
	MOVL         $0, 288(DI)

qq8knext:
	ADDQ         $1024, SI
	ADDQ         $292, DI
	DECQ         CX
	JMP          qq8kloop

qq8kdone:
	VZEROUPPER
	RET
