package quant

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/dokja/dokja/tensor"
)

// BenchmarkMatVec times y = W·x for one vector (decoding) on the sizes
// of a 1B-class model's projections, against the float32 path
// (tensor.Default().Gemm with m = 1). Bytes/s is the weight bytes read.
func BenchmarkMatVec(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, shape := range [][2]int{{2048, 768}, {5632, 2048}} {
		rows, cols := shape[0], shape[1]
		w := randVec(r, rows*cols, 0.02)
		x := randVec(r, cols, 1)
		y := make([]float32, rows)
		k := tensor.Default()
		b.Run(fmt.Sprintf("%dx%d/f32-%s", rows, cols, k.Name()), func(b *testing.B) {
			b.SetBytes(int64(4 * rows * cols))
			for b.Loop() {
				k.Gemm(false, true, 1, rows, cols, 1, x, cols, w, cols, 0, y, rows)
			}
		})
		for _, typ := range []Type{Q8_0, Q4_0, Q4_K} {
			m, err := QuantizeMatrix(typ, rows, cols, w)
			if err != nil {
				b.Fatal(err)
			}
			b.Run(fmt.Sprintf("%dx%d/%s-%s", rows, cols, typ, KernelPath()), func(b *testing.B) {
				b.SetBytes(int64(m.Size()))
				for b.Loop() {
					m.MatVec(y, x)
				}
			})
		}
	}
}

// BenchmarkMatMul times a 32-row prefill block on the 2048×768 shape.
func BenchmarkMatMul(b *testing.B) {
	r := rand.New(rand.NewPCG(7, 8))
	rows, cols, n := 2048, 768, 32
	w := randVec(r, rows*cols, 0.02)
	x := randVec(r, n*cols, 1)
	y := make([]float32, n*rows)
	k := tensor.Default()
	b.Run("f32-"+k.Name(), func(b *testing.B) {
		for b.Loop() {
			k.Gemm(false, true, n, rows, cols, 1, x, cols, w, cols, 0, y, rows)
		}
	})
	for _, typ := range []Type{Q8_0, Q4_0, Q4_K} {
		m, _ := QuantizeMatrix(typ, rows, cols, w)
		b.Run(typ.String()+"-"+KernelPath(), func(b *testing.B) {
			for b.Loop() {
				m.MatMul(y, x, n)
			}
		})
	}
}

func BenchmarkQuantize(b *testing.B) {
	x := randVec(rand.New(rand.NewPCG(1, 1)), 256*64, 0.02)
	for _, typ := range []Type{Q8_0, Q4_0, Q4_K} {
		b.Run(typ.String(), func(b *testing.B) {
			b.SetBytes(int64(4 * len(x)))
			var buf []byte
			for b.Loop() {
				buf, _ = Quantize(typ, buf[:0], x)
			}
		})
	}
}
