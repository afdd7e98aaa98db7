package tensor

import "math"

// The backward passes below accumulate parameter gradients over rows in
// fixed chunks of gradRows, summed in chunk order, so that gradients are
// bit-identical whatever the number of cores: a resumed training run must
// repeat the losses of an uninterrupted one.
const gradRows = 32

// chunkedSum runs body on fixed chunks of rows in parallel, each into its
// own zeroed width-sized partial, then adds the partials into dst in order.
func chunkedSum(dst []float32, rows int, body func(part []float32, lo, hi int)) {
	chunks := (rows + gradRows - 1) / gradRows
	if chunks == 0 {
		return
	}
	width := len(dst)
	parts := make([]float32, chunks*width)
	ParallelFor(chunks, 1, func(clo, chi int) {
		for c := clo; c < chi; c++ {
			body(parts[c*width:(c+1)*width], c*gradRows, min(rows, (c+1)*gradRows))
		}
	})
	for c := range chunks {
		Add(dst, parts[c*width:(c+1)*width])
	}
}

// RMSNormBackward adds to dx and dw the gradients of RMSNorm(x, w) given
// dy, the gradient of its output. With r = 1/√(mean(x²)+eps) and x̂ = x·r:
// dw += Σ_rows dy·x̂ and dx += r·(dy·w − x̂·mean(dy·w·x̂)).
func RMSNormBackward(dx, dw, dy, x, w []float32, eps float32) {
	d := len(w)
	rows := len(x) / d
	chunkedSum(dw, rows, func(part []float32, lo, hi int) {
		for r := lo; r < hi; r++ {
			row, g, out := x[r*d:(r+1)*d], dy[r*d:(r+1)*d], dx[r*d:(r+1)*d]
			inv := float64(rmsScale(row, eps))
			var dot float64
			for i, v := range row {
				xh := float64(v) * inv
				dot += float64(g[i]) * float64(w[i]) * xh
				part[i] += g[i] * float32(xh)
			}
			mean := dot / float64(d)
			for i, v := range row {
				xh := float64(v) * inv
				out[i] += float32(inv * (float64(g[i])*float64(w[i]) - xh*mean))
			}
		}
	})
}

// SwiGLUBackward writes the gradients of silu(gate)·up into dGate and dUp
// given dOut: with s = σ(g), d/dg silu(g) = s·(1 + g·(1 − s)).
func SwiGLUBackward(dGate, dUp, dOut, gate, up []float32) {
	ParallelFor(len(gate), 16384, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			g := gate[i]
			s := 1 / (1 + Exp32(-g))
			dUp[i] = dOut[i] * g * s
			dGate[i] = dOut[i] * up[i] * (s * (1 + g*(1-s)))
		}
	})
}

// GeGLUBackward writes the gradients of GeGLU's gate and up given dOut.
// With u = √(2/π)(g + 0.044715g³) and t = tanh(u): gelu' = 0.5(1+t) +
// 0.5·g·(1−t²)·√(2/π)(1 + 3·0.044715g²).
func GeGLUBackward(dGate, dUp, dOut, gate, up []float32) {
	ParallelFor(len(gate), 16384, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			g := float64(gate[i])
			t := math.Tanh(geluC * (g + 0.044715*g*g*g))
			dUp[i] = dOut[i] * float32(0.5*g*(1+t))
			d := 0.5*(1+t) + 0.5*g*(1-t*t)*geluC*(1+3*0.044715*g*g)
			dGate[i] = dOut[i] * up[i] * float32(d)
		}
	})
}

// AddColumnSums adds to dst (len n) the column sums of x (rows of n): the
// gradient of a bias added to every row.
func AddColumnSums(dst, x []float32) {
	n := len(dst)
	chunkedSum(dst, len(x)/n, func(part []float32, lo, hi int) {
		for r := lo; r < hi; r++ {
			Add(part, x[r*n:(r+1)*n])
		}
	})
}

// LayerNormBackward adds to dx, dw and db (nil for a LayerNorm without
// bias) the gradients of LayerNorm(x; w, b) given dy. With x̂ = (x − μ)·r,
// r = 1/√(var+eps) and g = dy·w: dx += r·(g − mean(g) − x̂·mean(g·x̂)),
// dw += Σ_rows dy·x̂, db += Σ_rows dy.
func LayerNormBackward(dx, dw, db, dy, x, w []float32, eps float32) {
	d := len(w)
	rows := len(x) / d
	if db != nil {
		AddColumnSums(db, dy)
	}
	chunkedSum(dw, rows, func(part []float32, lo, hi int) {
		xh := make([]float64, d)
		for r := lo; r < hi; r++ {
			row, g, out := x[r*d:(r+1)*d], dy[r*d:(r+1)*d], dx[r*d:(r+1)*d]
			var sum float64
			for _, v := range row {
				sum += float64(v)
			}
			mean := sum / float64(d)
			var ss float64
			for _, v := range row {
				e := float64(v) - mean
				ss += e * e
			}
			inv := 1 / math.Sqrt(ss/float64(d)+float64(eps))
			var gs, gx float64
			for i, v := range row {
				xh[i] = (float64(v) - mean) * inv
				gw := float64(g[i]) * float64(w[i])
				gs += gw
				gx += gw * xh[i]
				part[i] += g[i] * float32(xh[i])
			}
			gs /= float64(d)
			gx /= float64(d)
			for i := range row {
				out[i] += float32(inv * (float64(g[i])*float64(w[i]) - gs - xh[i]*gx))
			}
		}
	})
}
