#include "textflag.h"

// SCORE_STORE sums a dot product's two accumulators (Y0, Y1) in DotRows's
// order, scales it by X15 and stores it at (R14).
#define SCORE_STORE \
	VADDPS       Y1, Y0, Y0 \
	VEXTRACTF128 $1, Y0, X1 \
	VADDPS       X1, X0, X0 \
	VHADDPS      X0, X0, X0 \
	VHADDPS      X0, X0, X0 \
	VMULSS       X15, X0, X0 \
	VMOVSS       X0, (R14)

// func AttnScores(q, k, s *float32, hd, heads, group, n, ldk, lds int, scale float32)
//
// s[h·lds+j] = scale·(q[h·hd:]·k[j·ldk+(h/group)·hd:]) for h < heads,
// j < n, each dot over hd floats (a multiple of 16): one query's
// attention scores for a run of heads, sweeping the cached keys once, row
// after row, so that the reads are sequential. The sums run in the order
// of DotRows (two accumulators, then lanes pairwise), so the scores equal
// those of the general product bit for bit. Needs AVX2 and FMA.
TEXT ·AttnScores(SB), NOSPLIT, $0-76
	MOVQ   q+0(FP), SI
	MOVQ   k+8(FP), DI
	MOVQ   s+16(FP), DX
	MOVQ   hd+24(FP), BX
	SHLQ   $2, BX
	MOVQ   n+48(FP), CX
	MOVQ   ldk+56(FP), R10
	SHLQ   $2, R10
	MOVQ   lds+64(FP), R11
	SHLQ   $2, R11
	VMOVSS scale+72(FP), X15

spos:
	TESTQ CX, CX
	JE    sdone
	MOVQ  SI, R12
	MOVQ  DI, R13
	MOVQ  DX, R14
	MOVQ  heads+32(FP), AX

skv:
	MOVQ group+40(FP), R8

shead:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	XORQ   R9, R9

sdot:
	VMOVUPS     (R12)(R9*1), Y4
	VFMADD231PS (R13)(R9*1), Y4, Y0
	VMOVUPS     32(R12)(R9*1), Y5
	VFMADD231PS 32(R13)(R9*1), Y5, Y1
	ADDQ        $64, R9
	CMPQ        R9, BX
	JL          sdot
	SCORE_STORE
	ADDQ         BX, R12
	ADDQ         R11, R14
	DECQ         AX
	JE           snext
	DECQ         R8
	JNE          shead
	ADDQ         BX, R13
	JMP          skv

snext:
	ADDQ R10, DI
	ADDQ $4, DX
	DECQ CX
	JMP  spos

sdone:
	VZEROUPPER
	RET

// func AttnValues(p, v, out *float32, hd, heads, group, n, ldv, ldp int)
//
// out[h·hd+c] += Σ_j p[h·ldp+j]·v[j·ldv+(h/group)·hd+c] for h < heads,
// c < hd (a multiple of 16): the probability-weighted sum of the cached
// values, sweeping them once, row after row. Each output adds its terms
// in the order of j with fused multiply-adds, as VecMat does, so the
// result equals it bit for bit. Needs AVX2 and FMA.
TEXT ·AttnValues(SB), NOSPLIT, $0-72
	MOVQ p+0(FP), SI
	MOVQ v+8(FP), DI
	MOVQ out+16(FP), DX
	MOVQ hd+24(FP), BX
	SHLQ $2, BX
	MOVQ n+48(FP), CX
	MOVQ ldv+56(FP), R10
	SHLQ $2, R10
	MOVQ ldp+64(FP), R11
	SHLQ $2, R11

vpos:
	TESTQ CX, CX
	JE    vdone
	MOVQ  SI, R12
	MOVQ  DI, R13
	MOVQ  DX, R14
	MOVQ  heads+32(FP), AX

vkv:
	MOVQ group+40(FP), R8

vhead:
	VBROADCASTSS (R12), Y4
	XORQ         R9, R9

vacc:
	VMOVUPS     (R14)(R9*1), Y0
	VFMADD231PS (R13)(R9*1), Y4, Y0
	VMOVUPS     Y0, (R14)(R9*1)
	VMOVUPS     32(R14)(R9*1), Y1
	VFMADD231PS 32(R13)(R9*1), Y4, Y1
	VMOVUPS     Y1, 32(R14)(R9*1)
	ADDQ        $64, R9
	CMPQ        R9, BX
	JL          vacc
	ADDQ        R11, R12
	ADDQ        BX, R14
	DECQ        AX
	JE          vnext
	DECQ        R8
	JNE         vhead
	ADDQ        BX, R13
	JMP         vkv

vnext:
	ADDQ $4, SI
	ADDQ R10, DI
	DECQ CX
	JMP  vpos

vdone:
	VZEROUPPER
	RET

// func AttnScoresF16(q *float32, k *uint16, s *float32, hd, heads, group, n, ldk, lds int, scale float32)
//
// AttnScores over keys cached as fp16 (ldk in elements): each chunk of
// eight keys is widened by VCVTPH2PS, exactly, and meets the same
// multiply-adds in the same order, so the scores equal AttnScores's on
// the widened keys bit for bit. Needs AVX2, FMA and F16C.
TEXT ·AttnScoresF16(SB), NOSPLIT, $0-76
	MOVQ   q+0(FP), SI
	MOVQ   k+8(FP), DI
	MOVQ   s+16(FP), DX
	MOVQ   hd+24(FP), BX
	SHLQ   $1, BX
	MOVQ   n+48(FP), CX
	MOVQ   ldk+56(FP), R10
	SHLQ   $1, R10
	MOVQ   lds+64(FP), R11
	SHLQ   $2, R11
	VMOVSS scale+72(FP), X15

hpos:
	TESTQ CX, CX
	JE    hdone
	MOVQ  SI, R12
	MOVQ  DI, R13
	MOVQ  DX, R14
	MOVQ  heads+32(FP), AX

hkv:
	MOVQ group+40(FP), R8

hhead:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	XORQ   R9, R9

hdot:
	// R9 counts key bytes (two a value); the query's are twice that.
	VCVTPH2PS   (R13)(R9*1), Y6
	VMOVUPS     (R12)(R9*2), Y4
	VFMADD231PS Y6, Y4, Y0
	VCVTPH2PS   16(R13)(R9*1), Y7
	VMOVUPS     32(R12)(R9*2), Y5
	VFMADD231PS Y7, Y5, Y1
	ADDQ        $32, R9
	CMPQ        R9, BX
	JL          hdot
	SCORE_STORE
	LEAQ         (R12)(BX*2), R12
	ADDQ         R11, R14
	DECQ         AX
	JE           hnext
	DECQ         R8
	JNE          hhead
	ADDQ         BX, R13
	JMP          hkv

hnext:
	ADDQ R10, DI
	ADDQ $4, DX
	DECQ CX
	JMP  hpos

hdone:
	VZEROUPPER
	RET

// func AttnValuesF16(p *float32, v *uint16, out *float32, hd, heads, group, n, ldv, ldp int)
//
// AttnValues over values cached as fp16 (ldv in elements), widened by
// VCVTPH2PS and otherwise the same operations in the same order, so the
// result equals AttnValues's on the widened values bit for bit. Needs
// AVX2, FMA and F16C.
TEXT ·AttnValuesF16(SB), NOSPLIT, $0-72
	MOVQ p+0(FP), SI
	MOVQ v+8(FP), DI
	MOVQ out+16(FP), DX
	MOVQ hd+24(FP), BX
	SHLQ $1, BX
	MOVQ n+48(FP), CX
	MOVQ ldv+56(FP), R10
	SHLQ $1, R10
	MOVQ ldp+64(FP), R11
	SHLQ $2, R11

gpos:
	TESTQ CX, CX
	JE    gdone
	MOVQ  SI, R12
	MOVQ  DI, R13
	MOVQ  DX, R14
	MOVQ  heads+32(FP), AX

gkv:
	MOVQ group+40(FP), R8

ghead:
	VBROADCASTSS (R12), Y4
	XORQ         R9, R9

gacc:
	// R9 counts value bytes (two a value); the output's are twice that.
	VCVTPH2PS   (R13)(R9*1), Y6
	VMOVUPS     (R14)(R9*2), Y0
	VFMADD231PS Y6, Y4, Y0
	VMOVUPS     Y0, (R14)(R9*2)
	VCVTPH2PS   16(R13)(R9*1), Y7
	VMOVUPS     32(R14)(R9*2), Y1
	VFMADD231PS Y7, Y4, Y1
	VMOVUPS     Y1, 32(R14)(R9*2)
	ADDQ        $32, R9
	CMPQ        R9, BX
	JL          gacc
	ADDQ        R11, R12
	LEAQ        (R14)(BX*2), R14
	DECQ        AX
	JE          gnext
	DECQ        R8
	JNE         ghead
	ADDQ        BX, R13
	JMP         gkv

gnext:
	ADDQ $4, SI
	ADDQ R10, DI
	DECQ CX
	JMP  gpos

gdone:
	VZEROUPPER
	RET
