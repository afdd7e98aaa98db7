package quant

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestRoundingProbe checks that the probe sees exactly what the kernels
// round (x·scale rounds to q, ties to even) and that a value it moves by
// one step changes the product as the dequantized arithmetic says: by
// that step times the weight column, on every kernel path and for each
// type (Q4_0's block sums and Q4_K's sub-block sums follow the change).
func TestRoundingProbe(t *testing.T) {
	defer SetRoundingProbe(nil)
	r := rand.New(rand.NewPCG(5, 6))
	paths := []bool{true}
	if simdKernels != nil {
		paths = append(paths, false)
	}
	defer func() { usePortable = false }()
	for _, typ := range []Type{Q8_0, Q4_0, Q4_K} {
		rows, cols, n := 19, 512, 3
		w := randVec(r, rows*cols, 0.05)
		x := randVec(r, n*cols, 1)
		m, err := QuantizeMatrix(typ, rows, cols, w)
		if err != nil {
			t.Fatal(err)
		}
		wd, err := m.Dequantize()
		if err != nil {
			t.Fatal(err)
		}
		block := 32
		if typ == Q4_K {
			block = 256
		}
		for _, portable := range paths {
			usePortable = portable
			plain := make([]float32, n*rows)
			SetRoundingProbe(nil)
			m.MatMul(plain, x, n)

			// Seen as rounded: every value, and nothing changed.
			calls := 0
			SetRoundingProbe(func(pm *Matrix, px, scale []float32, q []int8) bool {
				calls++
				if pm != m || len(px) != n*cols || len(q) != len(px) || len(scale) != len(px)/block {
					t.Fatalf("%s %s: probe got matrix %p (want %p), %d values, %d quantized, %d scales", KernelPath(), typ, pm, m, len(px), len(q), len(scale))
				}
				for i, v := range px {
					want := math.RoundToEven(float64(v * scale[i/block]))
					if float64(q[i]) != min(want, 127) {
						t.Fatalf("%s %s: value %d: %v·%v rounds to %v, kernels used %d", KernelPath(), typ, i, v, scale[i/block], want, q[i])
					}
				}
				return false
			})
			same := make([]float32, n*rows)
			m.MatMul(same, x, n)
			if calls != 1 {
				t.Fatalf("%s %s: probe called %d times for one product", KernelPath(), typ, calls)
			}
			for i := range same {
				if same[i] != plain[i] {
					t.Fatalf("%s %s: an unchanging probe changed output %d: %v, want %v", KernelPath(), typ, i, same[i], plain[i])
				}
			}

			// Move input row 1's value 300 up one step.
			const row, col = 1, 300
			var step float32
			SetRoundingProbe(func(_ *Matrix, px, scale []float32, q []int8) bool {
				i := row*cols + col
				q[i]++
				step = 1 / scale[i/block]
				return true
			})
			moved := make([]float32, n*rows)
			m.MatMul(moved, x, n)
			for i := range n {
				for o := range rows {
					var want float64
					if i == row {
						want = float64(step) * float64(wd[o*cols+col])
					}
					got := float64(moved[i*rows+o]) - float64(plain[i*rows+o])
					if math.Abs(got-want) > 1e-5 {
						t.Errorf("%s %s: input row %d output %d moved by %.7g, want %.7g", KernelPath(), typ, i, o, got, want)
					}
				}
			}
		}
	}
}
