package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

// numericGrad returns ∂f/∂x[i] by central differences in float64 terms.
func numericGrad(x []float32, i int, f func() float64) float64 {
	const eps = 1e-3
	orig := x[i]
	x[i] = orig + eps
	up := f()
	x[i] = orig - eps
	down := f()
	x[i] = orig
	return (up - down) / (2 * eps)
}

// weighted returns Σ y·c for fixed random c: a scalar whose gradient with
// respect to y is c, so backward(dy = c) must match its finite differences.
func weighted(y, c []float32) float64 {
	var s float64
	for i := range y {
		s += float64(y[i]) * float64(c[i])
	}
	return s
}

func checkGrad(t *testing.T, what string, x, analytic []float32, f func() float64) {
	t.Helper()
	for i := range x {
		num := numericGrad(x, i, f)
		if math.Abs(num-float64(analytic[i])) > 2e-3*(1+math.Abs(num)) {
			t.Fatalf("%s[%d]: analytic %g, finite difference %g", what, i, analytic[i], num)
		}
	}
}

func TestBackwardOpsMatchFiniteDifferences(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for _, rows := range []int{1, 5, 70} { // 70 spans several gradient chunks
		const d = 12
		x, w, c := randSlice(r, rows*d), randSlice(r, d), randSlice(r, rows*d)
		for i := range w {
			w[i] += 1.5
		}
		y := make([]float32, len(x))
		f := func() float64 { RMSNorm(y, x, w, 1e-5); return weighted(y, c) }
		dx, dw := make([]float32, len(x)), make([]float32, d)
		RMSNormBackward(dx, dw, c, x, w, 1e-5)
		checkGrad(t, "RMSNorm dx", x, dx, f)
		checkGrad(t, "RMSNorm dw", w, dw, f)

		g, u := randSlice(r, rows*d), randSlice(r, rows*d)
		for i := range g {
			g[i] *= 4 // reach the saturating parts of SiLU
		}
		f = func() float64 { SwiGLU(y, g, u); return weighted(y, c) }
		dg, du := make([]float32, len(g)), make([]float32, len(g))
		SwiGLUBackward(dg, du, c, g, u)
		checkGrad(t, "SwiGLU dgate", g, dg, f)
		checkGrad(t, "SwiGLU dup", u, du, f)
		f = func() float64 { GeGLU(y, g, u); return weighted(y, c) }
		GeGLUBackward(dg, du, c, g, u)
		checkGrad(t, "GeGLU dgate", g, dg, f)
		checkGrad(t, "GeGLU dup", u, du, f)

		bias := make([]float32, d)
		AddColumnSums(bias, c)
		for j := range d {
			var want float64
			for i := range rows {
				want += float64(c[i*d+j])
			}
			if math.Abs(want-float64(bias[j])) > 1e-5 {
				t.Fatalf("AddColumnSums[%d] = %g, want %g", j, bias[j], want)
			}
		}

		const heads, hd = 2, 6
		pos := make([]int, rows)
		for i := range pos {
			pos[i] = r.IntN(500)
		}
		q := randSlice(r, rows*heads*hd)
		back := append([]float32(nil), q...)
		rot := NewRotary(hd, 10000)
		rot.Apply(back, heads, hd, pos)
		rot.Transpose(back, heads, hd, pos)
		for i := range q {
			if math.Abs(float64(back[i]-q[i])) > 1e-5 {
				t.Fatalf("Transpose(Apply(x))[%d] = %g, want %g", i, back[i], q[i])
			}
		}
		// With a scale, Transpose is the adjoint: <Apply(a), b> = <a, Transpose(b)>.
		rot.Scale = 1.3
		a, b := randSlice(r, rows*heads*hd), randSlice(r, rows*heads*hd)
		ra, tb := append([]float32(nil), a...), append([]float32(nil), b...)
		rot.Apply(ra, heads, hd, pos)
		rot.Transpose(tb, heads, hd, pos)
		var lhs, rhs float64
		for i := range a {
			lhs += float64(ra[i]) * float64(b[i])
			rhs += float64(a[i]) * float64(tb[i])
		}
		if math.Abs(lhs-rhs) > 1e-4*(1+math.Abs(lhs)) {
			t.Fatalf("<Apply(a), b> = %g, <a, Transpose(b)> = %g", lhs, rhs)
		}
	}
}
