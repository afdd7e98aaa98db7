#include "textflag.h"

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
	VADDPS       Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0
	VMULSS       X15, X0, X0
	VMOVSS       X0, (R14)
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
