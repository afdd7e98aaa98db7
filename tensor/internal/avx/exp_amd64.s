#include "textflag.h"

DATA expc<>+0(SB)/4, $0x3fb8aa3b
DATA expc<>+4(SB)/4, $0x3fb8aa3b
DATA expc<>+8(SB)/4, $0x3fb8aa3b
DATA expc<>+12(SB)/4, $0x3fb8aa3b
DATA expc<>+16(SB)/4, $0x3fb8aa3b
DATA expc<>+20(SB)/4, $0x3fb8aa3b
DATA expc<>+24(SB)/4, $0x3fb8aa3b
DATA expc<>+28(SB)/4, $0x3fb8aa3b
DATA expc<>+32(SB)/4, $0x3f000000
DATA expc<>+36(SB)/4, $0x3f000000
DATA expc<>+40(SB)/4, $0x3f000000
DATA expc<>+44(SB)/4, $0x3f000000
DATA expc<>+48(SB)/4, $0x3f000000
DATA expc<>+52(SB)/4, $0x3f000000
DATA expc<>+56(SB)/4, $0x3f000000
DATA expc<>+60(SB)/4, $0x3f000000
DATA expc<>+64(SB)/4, $0x3f318000
DATA expc<>+68(SB)/4, $0x3f318000
DATA expc<>+72(SB)/4, $0x3f318000
DATA expc<>+76(SB)/4, $0x3f318000
DATA expc<>+80(SB)/4, $0x3f318000
DATA expc<>+84(SB)/4, $0x3f318000
DATA expc<>+88(SB)/4, $0x3f318000
DATA expc<>+92(SB)/4, $0x3f318000
DATA expc<>+96(SB)/4, $0xb95e8083
DATA expc<>+100(SB)/4, $0xb95e8083
DATA expc<>+104(SB)/4, $0xb95e8083
DATA expc<>+108(SB)/4, $0xb95e8083
DATA expc<>+112(SB)/4, $0xb95e8083
DATA expc<>+116(SB)/4, $0xb95e8083
DATA expc<>+120(SB)/4, $0xb95e8083
DATA expc<>+124(SB)/4, $0xb95e8083
DATA expc<>+128(SB)/4, $0x42b17217
DATA expc<>+132(SB)/4, $0x42b17217
DATA expc<>+136(SB)/4, $0x42b17217
DATA expc<>+140(SB)/4, $0x42b17217
DATA expc<>+144(SB)/4, $0x42b17217
DATA expc<>+148(SB)/4, $0x42b17217
DATA expc<>+152(SB)/4, $0x42b17217
DATA expc<>+156(SB)/4, $0x42b17217
DATA expc<>+160(SB)/4, $0xc2aeac4f
DATA expc<>+164(SB)/4, $0xc2aeac4f
DATA expc<>+168(SB)/4, $0xc2aeac4f
DATA expc<>+172(SB)/4, $0xc2aeac4f
DATA expc<>+176(SB)/4, $0xc2aeac4f
DATA expc<>+180(SB)/4, $0xc2aeac4f
DATA expc<>+184(SB)/4, $0xc2aeac4f
DATA expc<>+188(SB)/4, $0xc2aeac4f
DATA expc<>+192(SB)/4, $0x39500d01
DATA expc<>+196(SB)/4, $0x39500d01
DATA expc<>+200(SB)/4, $0x39500d01
DATA expc<>+204(SB)/4, $0x39500d01
DATA expc<>+208(SB)/4, $0x39500d01
DATA expc<>+212(SB)/4, $0x39500d01
DATA expc<>+216(SB)/4, $0x39500d01
DATA expc<>+220(SB)/4, $0x39500d01
DATA expc<>+224(SB)/4, $0x3ab60b61
DATA expc<>+228(SB)/4, $0x3ab60b61
DATA expc<>+232(SB)/4, $0x3ab60b61
DATA expc<>+236(SB)/4, $0x3ab60b61
DATA expc<>+240(SB)/4, $0x3ab60b61
DATA expc<>+244(SB)/4, $0x3ab60b61
DATA expc<>+248(SB)/4, $0x3ab60b61
DATA expc<>+252(SB)/4, $0x3ab60b61
DATA expc<>+256(SB)/4, $0x3c088889
DATA expc<>+260(SB)/4, $0x3c088889
DATA expc<>+264(SB)/4, $0x3c088889
DATA expc<>+268(SB)/4, $0x3c088889
DATA expc<>+272(SB)/4, $0x3c088889
DATA expc<>+276(SB)/4, $0x3c088889
DATA expc<>+280(SB)/4, $0x3c088889
DATA expc<>+284(SB)/4, $0x3c088889
DATA expc<>+288(SB)/4, $0x3d2aaaab
DATA expc<>+292(SB)/4, $0x3d2aaaab
DATA expc<>+296(SB)/4, $0x3d2aaaab
DATA expc<>+300(SB)/4, $0x3d2aaaab
DATA expc<>+304(SB)/4, $0x3d2aaaab
DATA expc<>+308(SB)/4, $0x3d2aaaab
DATA expc<>+312(SB)/4, $0x3d2aaaab
DATA expc<>+316(SB)/4, $0x3d2aaaab
DATA expc<>+320(SB)/4, $0x3e2aaaab
DATA expc<>+324(SB)/4, $0x3e2aaaab
DATA expc<>+328(SB)/4, $0x3e2aaaab
DATA expc<>+332(SB)/4, $0x3e2aaaab
DATA expc<>+336(SB)/4, $0x3e2aaaab
DATA expc<>+340(SB)/4, $0x3e2aaaab
DATA expc<>+344(SB)/4, $0x3e2aaaab
DATA expc<>+348(SB)/4, $0x3e2aaaab
DATA expc<>+352(SB)/4, $0x3f000000
DATA expc<>+356(SB)/4, $0x3f000000
DATA expc<>+360(SB)/4, $0x3f000000
DATA expc<>+364(SB)/4, $0x3f000000
DATA expc<>+368(SB)/4, $0x3f000000
DATA expc<>+372(SB)/4, $0x3f000000
DATA expc<>+376(SB)/4, $0x3f000000
DATA expc<>+380(SB)/4, $0x3f000000
DATA expc<>+384(SB)/4, $0x3f800000
DATA expc<>+388(SB)/4, $0x3f800000
DATA expc<>+392(SB)/4, $0x3f800000
DATA expc<>+396(SB)/4, $0x3f800000
DATA expc<>+400(SB)/4, $0x3f800000
DATA expc<>+404(SB)/4, $0x3f800000
DATA expc<>+408(SB)/4, $0x3f800000
DATA expc<>+412(SB)/4, $0x3f800000
DATA expc<>+416(SB)/4, $0x40000000
DATA expc<>+420(SB)/4, $0x40000000
DATA expc<>+424(SB)/4, $0x40000000
DATA expc<>+428(SB)/4, $0x40000000
DATA expc<>+432(SB)/4, $0x40000000
DATA expc<>+436(SB)/4, $0x40000000
DATA expc<>+440(SB)/4, $0x40000000
DATA expc<>+444(SB)/4, $0x40000000
DATA expc<>+448(SB)/4, $0x7f800000
DATA expc<>+452(SB)/4, $0x7f800000
DATA expc<>+456(SB)/4, $0x7f800000
DATA expc<>+460(SB)/4, $0x7f800000
DATA expc<>+464(SB)/4, $0x7f800000
DATA expc<>+468(SB)/4, $0x7f800000
DATA expc<>+472(SB)/4, $0x7f800000
DATA expc<>+476(SB)/4, $0x7f800000
DATA expc<>+480(SB)/4, $127
DATA expc<>+484(SB)/4, $127
DATA expc<>+488(SB)/4, $127
DATA expc<>+492(SB)/4, $127
DATA expc<>+496(SB)/4, $127
DATA expc<>+500(SB)/4, $127
DATA expc<>+504(SB)/4, $127
DATA expc<>+508(SB)/4, $127
GLOBL expc<>(SB), RODATA|NOPTR, $512

// EXP8 sets out to Exp32 of the eight floats in in, operation by operation
// as the Go function (no fused multiply-adds), so bit for bit: t =
// x·log2e + 1/2, n = ⌊t⌋, r = x − n·ln2hi − n·ln2lo, the degree-7
// polynomial by Horner's rule, p·2ⁿ (p doubled and n lowered for n =
// 128), +Inf above 88.72283 and 0 below −87.33654. Clobbers Y4-Y7.
#define EXP8(in, out) \
	VMULPS       expc<>+0(SB), in, Y4 \
	VADDPS       expc<>+32(SB), Y4, Y4 \
	VROUNDPS     $1, Y4, Y4 \
	VCVTTPS2DQ   Y4, Y5 \
	VMULPS       expc<>+64(SB), Y4, Y6 \
	VSUBPS       Y6, in, Y6 \
	VMULPS       expc<>+96(SB), Y4, Y7 \
	VSUBPS       Y7, Y6, Y6 \
	VMULPS       expc<>+192(SB), Y6, Y7 \
	VADDPS       expc<>+224(SB), Y7, Y7 \
	VMULPS       Y7, Y6, Y7 \
	VADDPS       expc<>+256(SB), Y7, Y7 \
	VMULPS       Y7, Y6, Y7 \
	VADDPS       expc<>+288(SB), Y7, Y7 \
	VMULPS       Y7, Y6, Y7 \
	VADDPS       expc<>+320(SB), Y7, Y7 \
	VMULPS       Y7, Y6, Y7 \
	VADDPS       expc<>+352(SB), Y7, Y7 \
	VMULPS       Y7, Y6, Y7 \
	VADDPS       expc<>+384(SB), Y7, Y7 \
	VMULPS       Y7, Y6, Y7 \
	VADDPS       expc<>+384(SB), Y7, Y7 \
	VPCMPGTD     expc<>+480(SB), Y5, Y4 \
	VMULPS       expc<>+416(SB), Y7, Y6 \
	VBLENDVPS    Y4, Y6, Y7, Y7 \
	VPADDD       Y4, Y5, Y5 \
	VPADDD       expc<>+480(SB), Y5, Y5 \
	VPSLLD       $23, Y5, Y5 \
	VMULPS       Y5, Y7, out \
	VCMPPS       $0x1e, expc<>+128(SB), in, Y4 \
	VBLENDVPS    Y4, expc<>+448(SB), out, out \
	VCMPPS       $0x11, expc<>+160(SB), in, Y4 \
	VANDNPS      out, Y4, out

// func ExpSub(x *float32, n int, m float32)
//
// x[i] = Exp32(x[i] − m) for i < n (a multiple of 8), in place: softmax's
// exponentials, bit for bit as tensor.Exp32. Needs AVX2.
TEXT ·ExpSub(SB), NOSPLIT, $0-20
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSS m+16(FP), Y9

expsubloop:
	CMPQ    CX, $8
	JL      expsubdone
	VMOVUPS (SI), Y0
	VSUBPS  Y9, Y0, Y0
	EXP8(Y0, Y1)
	VMOVUPS Y1, (SI)
	ADDQ    $32, SI
	SUBQ    $8, CX
	JMP     expsubloop

expsubdone:
	VZEROUPPER
	RET

// func SwiGLU(dst, gate, up *float32, n int)
//
// dst[i] = g/(1 + Exp32(−g))·up[i] with g = gate[i], for i < n (a
// multiple of 8), bit for bit as tensor.SwiGLU's loop. Needs AVX2.
TEXT ·SwiGLU(SB), NOSPLIT, $0-32
	MOVQ     dst+0(FP), DI
	MOVQ     gate+8(FP), SI
	MOVQ     up+16(FP), DX
	MOVQ     n+24(FP), CX
	VPCMPEQD Y9, Y9, Y9
	VPSLLD   $31, Y9, Y9

swigluloop:
	CMPQ    CX, $8
	JL      swigludone
	VMOVUPS (SI), Y0
	VXORPS  Y9, Y0, Y2
	EXP8(Y2, Y1)
	VADDPS  expc<>+384(SB), Y1, Y1
	VDIVPS  Y1, Y0, Y1
	VMULPS  (DX), Y1, Y1
	VMOVUPS Y1, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     swigluloop

swigludone:
	VZEROUPPER
	RET
