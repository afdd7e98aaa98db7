//go:build amd64

package quant

import (
	"unsafe"

	"github.com/dokja/dokja/quant/internal/q8asm"
	"golang.org/x/sys/cpu"
)

// The assembly reads activation blocks as 36 bytes, the scale then the
// values; these fail to compile if q8Block's layout changes.
var (
	_ [unsafe.Sizeof(q8Block{}) - 36]struct{}
	_ [36 - unsafe.Sizeof(q8Block{})]struct{}
	_ [unsafe.Offsetof(q8Block{}.qs) - 4]struct{}
	_ [4 - unsafe.Offsetof(q8Block{}.qs)]struct{}
	_ [unsafe.Sizeof(q8KBlock{}) - 292]struct{}
	_ [292 - unsafe.Sizeof(q8KBlock{})]struct{}
	_ [unsafe.Offsetof(q8KBlock{}.bsums) - 260]struct{}
	_ [260 - unsafe.Offsetof(q8KBlock{}.bsums)]struct{}
)

func init() {
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		k := &dotKernels{"simd", dotQ8_0AVX2, dotQ4_0AVX2, groupRowsBy(Q8_0, dotQ8_0AVX2), groupRowsBy(Q4_0, dotQ4_0AVX2),
			dotQ4KAVX2, dotQ4KIn4AVX2, groupRowsQ4K(dotQ4KAVX2), in4By(groupRowsBy(Q4_0, dotQ4_0AVX2)), quantizeRowQ8Sums,
			q8In4By(groupRowsBy(Q8_0, dotQ8_0AVX2)), q4KIn4GroupBy(groupRowsQ4K(dotQ4KAVX2)), quantizeRowQ8KAVX2}
		if cpu.X86.HasF16C {
			k.q8_0x8, k.q4_0x8, k.q4Kx8, k.q4_0x8in4 = dotQ8_0x8AVX2, dotQ4_0x8AVX2, dotQ4Kx8AVX2, dotQ4_0x8in4AVX2
			k.quantQ8, k.q8_0x8in4, k.q4Kx8in4 = quantizeRowQ8AVX2, dotQ8_0x8in4AVX2, dotQ4Kx8in4AVX2
		}
		simdKernels = k
	}
}

func dotQ8_0AVX2(w []byte, a []q8Block) float32 {
	if len(a) == 0 {
		return 0
	}
	_ = w[34*len(a)-1]
	return q8asm.DotQ8_0(&w[0], (*byte)(unsafe.Pointer(&a[0])), len(a), &f16[0])
}

func dotQ4_0AVX2(w []byte, a []q8Block) float32 {
	if len(a) == 0 {
		return 0
	}
	_ = w[18*len(a)-1]
	return q8asm.DotQ4_0(&w[0], (*byte)(unsafe.Pointer(&a[0])), len(a), &f16[0])
}

func dotQ8_0x8AVX2(w []byte, a []q8Block, _ []int32, out []float32) {
	if len(a) == 0 {
		clear(out)
		return
	}
	_ = w[8*34*len(a)-1]
	q8asm.DotQ8_0x8(&w[0], (*byte)(unsafe.Pointer(&a[0])), len(a), (*[8]float32)(out))
}

func dotQ4_0x8AVX2(w []byte, a []q8Block, sums []int32, out []float32) {
	if len(a) == 0 {
		clear(out)
		return
	}
	_ = w[8*18*len(a)-1]
	_ = sums[len(a)-1]
	q8asm.DotQ4_0x8(&w[0], (*byte)(unsafe.Pointer(&a[0])), &sums[0], len(a), (*[8]float32)(out))
}

func dotQ4KAVX2(w []byte, a []q8KBlock) float32 {
	if len(a) == 0 {
		return 0
	}
	_ = w[144*len(a)-1]
	return q8asm.DotQ4K(&w[0], (*byte)(unsafe.Pointer(&a[0])), len(a), &f16[0])
}

func dotQ4KIn4AVX2(w []byte, a []q8KBlock, per int, out *[4]float32) {
	if per == 0 {
		*out = [4]float32{}
		return
	}
	_ = w[144*per-1]
	_ = a[4*per-1]
	q8asm.DotQ4Kx4(&w[0], (*byte)(unsafe.Pointer(&a[0])), per*int(unsafe.Sizeof(q8KBlock{})), per, &f16[0], out)
}

func dotQ4Kx8AVX2(w []byte, a []q8KBlock, pairs []int32, out []float32) {
	if len(a) == 0 {
		clear(out)
		return
	}
	_ = w[q4Kx8Bytes*len(a)-1]
	_ = pairs[8*len(a)-1]
	q8asm.DotQ4Kx8(&w[0], (*byte)(unsafe.Pointer(&a[0])), &pairs[0], len(a), (*[8]float32)(out))
}

func dotQ4_0x8in4AVX2(w []byte, a []q8Block, per int, sums []int32, out *[32]float32) {
	if per == 0 {
		*out = [32]float32{}
		return
	}
	_ = w[8*18*per-1]
	_ = a[4*per-1]
	_ = sums[4*per-1]
	q8asm.DotQ4_0x8in4(&w[0], (*byte)(unsafe.Pointer(&a[0])), per*int(unsafe.Sizeof(q8Block{})), &sums[0], 4*per, per, out)
}

func quantizeRowQ8AVX2(dst []q8Block, sums []int32, x []float32) {
	if len(dst) == 0 {
		return
	}
	_ = x[32*len(dst)-1]
	var sp *int32
	if sums != nil {
		_ = sums[len(dst)-1]
		sp = &sums[0]
	}
	q8asm.QuantizeQ8(&x[0], (*byte)(unsafe.Pointer(&dst[0])), sp, len(dst))
}

func dotQ8_0x8in4AVX2(w []byte, a []q8Block, per int, out *[32]float32) {
	if per == 0 {
		*out = [32]float32{}
		return
	}
	_ = w[8*34*per-1]
	_ = a[4*per-1]
	q8asm.DotQ8_0x8in4(&w[0], (*byte)(unsafe.Pointer(&a[0])), per*int(unsafe.Sizeof(q8Block{})), per, out)
}

func dotQ4Kx8in4AVX2(w []byte, a []q8KBlock, per int, pairs []int32, out *[32]float32) {
	if per == 0 {
		*out = [32]float32{}
		return
	}
	_ = w[q4Kx8Bytes*per-1]
	_ = a[4*per-1]
	_ = pairs[32*per-1]
	q8asm.DotQ4Kx8in4(&w[0], (*byte)(unsafe.Pointer(&a[0])), per*int(unsafe.Sizeof(q8KBlock{})), &pairs[0], 32*per, per, out)
}

func quantizeRowQ8KAVX2(dst []q8KBlock, x []float32) {
	if len(dst) == 0 {
		return
	}
	_ = x[256*len(dst)-1]
	q8asm.QuantizeQ8K(&x[0], (*byte)(unsafe.Pointer(&dst[0])), len(dst))
}
