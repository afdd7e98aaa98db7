package tensor

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// The row-parallel operations must give the same result as a plain
// sequential computation of their definition, for any row count.
func TestOpsMatchDefinitions(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	for _, rows := range []int{1, 3, 17, 200} {
		const d = 48
		x := randSlice(r, rows*d)
		w := randSlice(r, d)
		got := make([]float32, len(x))
		RMSNorm(got, x, w, 1e-5)
		for i := range rows {
			var ss float64
			for _, v := range x[i*d : (i+1)*d] {
				ss += float64(v) * float64(v)
			}
			for j := range d {
				want := float64(x[i*d+j]) / math.Sqrt(ss/d+1e-5) * float64(w[j])
				if math.Abs(float64(got[i*d+j])-want) > 1e-5*(1+math.Abs(want)) {
					t.Fatalf("RMSNorm rows=%d [%d,%d]: %g want %g", rows, i, j, got[i*d+j], want)
				}
			}
		}
		const heads, hd = 3, 16
		q := randSlice(r, rows*heads*hd)
		rot := append([]float32(nil), q...)
		pos := make([]int, rows)
		for i := range pos {
			pos[i] = 5 + i
		}
		NewRotary(hd, 10000).Apply(rot, heads, hd, pos)
		for tk := range rows {
			for h := range heads {
				for i := range hd / 2 {
					ang := float64(5+tk) * math.Pow(10000, -float64(2*i)/hd)
					base := tk*heads*hd + h*hd
					x1, x2 := float64(q[base+i]), float64(q[base+i+hd/2])
					w1 := x1*math.Cos(ang) - x2*math.Sin(ang)
					w2 := x2*math.Cos(ang) + x1*math.Sin(ang)
					if math.Abs(float64(rot[base+i])-w1) > 1e-5 || math.Abs(float64(rot[base+i+hd/2])-w2) > 1e-5 {
						t.Fatalf("RoPE rows=%d t=%d h=%d i=%d", rows, tk, h, i)
					}
				}
			}
		}
		g, u := randSlice(r, rows*40000/rows), randSlice(r, rows*40000/rows)
		out := make([]float32, len(g))
		SwiGLU(out, g, u)
		for i := range g {
			want := float64(g[i]) / (1 + math.Exp(-float64(g[i]))) * float64(u[i])
			if math.Abs(float64(out[i])-want) > 1e-5*(1+math.Abs(want)) {
				t.Fatalf("SwiGLU [%d]: %g want %g", i, out[i], want)
			}
		}
	}
	p := []float32{1, 2, 3, 1000}
	Softmax(p)
	if math.Abs(float64(p[3])-1) > 1e-6 || p[0] < 0 {
		t.Fatalf("Softmax with a large logit: %v", p)
	}
}

func TestExp32(t *testing.T) {
	worst := 0.0
	for x := float32(-87); x < 88.5; x += 0.0137 {
		got, want := float64(Exp32(x)), math.Exp(float64(x))
		worst = max(worst, math.Abs(got-want)/want)
	}
	if worst > 3e-7 {
		t.Errorf("Exp32: relative error up to %.3g", worst)
	}
	if Exp32(-100) != 0 || !math.IsInf(float64(Exp32(100)), 1) || Exp32(0) != 1 {
		t.Errorf("Exp32 edges: %g %g %g", Exp32(-100), Exp32(100), Exp32(0))
	}
}

// Softmax and SwiGLU give the same bits on every path as the Go loops
// over Exp32: random inputs, the ends of Exp32's range and beyond, and
// lengths that are not multiples of eight.
func TestExpPathsBitExact(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	edges := []float32{0, -0.0, 1, -1, 88.72283, 88.7229, 88.1, 88.03, -87.33654, -87.34, -87.3, -100, 100, 1e-8, -1e-8, 0.5, -0.5}
	for _, n := range []int{1, 7, 8, 9, 63, 64, 1000} {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(r.NormFloat64() * 30)
			if i < len(edges) && n > len(edges) {
				x[i] = edges[i]
			}
		}
		// Softmax against the scalar loop.
		want := append([]float32(nil), x...)
		m := want[0]
		for _, v := range want[1:] {
			m = max(m, v)
		}
		var sum float64
		for i, v := range want {
			want[i] = Exp32(v - m)
			sum += float64(want[i])
		}
		inv := float32(1 / sum)
		for i := range want {
			want[i] *= inv
		}
		got := append([]float32(nil), x...)
		Softmax(got)
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("Softmax n=%d [%d] of %v: %v, want %v", n, i, x[i], got[i], want[i])
			}
		}
		// SwiGLU, with the edges as gates (exp of −g over the range).
		up := make([]float32, n)
		for i := range up {
			up[i] = float32(r.NormFloat64())
		}
		dst := make([]float32, n)
		SwiGLU(dst, x, up)
		for i, g := range x {
			w := g / (1 + Exp32(-g)) * up[i]
			if math.Float32bits(dst[i]) != math.Float32bits(w) && !(math.IsNaN(float64(w)) && math.IsNaN(float64(dst[i]))) {
				t.Fatalf("SwiGLU n=%d [%d] g=%v: %v, want %v", n, i, g, dst[i], w)
			}
		}
	}
	// Exp32 itself on the vector path, across its whole range.
	if expSub != nil {
		x := make([]float32, 0, 4096)
		for v := float32(-90); v < 90; v += 0.0441 {
			x = append(x, v)
		}
		x = x[:len(x)&^7]
		got := append([]float32(nil), x...)
		expSub(got, 0)
		for i, v := range x {
			if math.Float32bits(got[i]) != math.Float32bits(Exp32(v)) {
				t.Fatalf("vector exp(%v) = %v, Exp32 %v", v, got[i], Exp32(v))
			}
		}
	}
}

// LogSumExp equals the scalar loop it replaced in the engine bit for bit
// (Exp32 in order, summed in float64), on lengths around its 512-value
// chunks and the vector width, and leaves its input alone.
func TestLogSumExp(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for _, n := range []int{1, 7, 8, 9, 511, 512, 513, 1030, 32000} {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(r.NormFloat64() * 6)
		}
		orig := slices.Clone(x)
		mx := x[0]
		for _, v := range x {
			mx = max(mx, v)
		}
		var sum float64
		for _, v := range x {
			sum += float64(Exp32(v - mx))
		}
		want := float64(mx) + math.Log(sum)
		if got := LogSumExp(x); got != want {
			t.Errorf("n=%d: LogSumExp %v, scalar loop %v", n, got, want)
		}
		if !slices.Equal(x, orig) {
			t.Errorf("n=%d: input changed", n)
		}
	}
}
