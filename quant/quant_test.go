package quant

import (
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"testing"
)

func randVec(r *rand.Rand, n int, scale float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64()) * scale
	}
	return v
}

func TestTypes(t *testing.T) {
	for _, c := range []struct {
		t            Type
		block, bytes int
	}{{F32, 1, 4}, {F16, 1, 2}, {Q8_0, 32, 34}, {Q4_0, 32, 18}, {Q4_K, 256, 144}, {Q6_K, 256, 210}} {
		if c.t.BlockSize() != c.block || c.t.BlockBytes() != c.bytes {
			t.Errorf("%s: block %d/%d bytes, want %d/%d", c.t, c.t.BlockSize(), c.t.BlockBytes(), c.block, c.bytes)
		}
		p, err := ParseType(c.t.String())
		if err != nil || p != c.t {
			t.Errorf("ParseType(%q) = %v, %v", c.t.String(), p, err)
		}
	}
	if p, err := ParseType("Q4_K"); err != nil || p != Q4_K {
		t.Errorf("ParseType(Q4_K) = %v, %v", p, err)
	}
	if _, err := Q4_K.RowBytes(100); err == nil {
		t.Error("RowBytes(100) for q4_K: no error")
	}
	if Type(99).Known() || Type(99).String() != "type(99)" {
		t.Error("type 99 is known")
	}
}

// TestRoundTripError bounds quantize→dequantize errors by each format's
// step: Q8_0 by half a step (amax/254, plus fp16 rounding of d), Q4_0
// by a whole step of amax/8 (the levels are −8d..7d, so values at the far
// end clamp; elsewhere it rounds to half a step), and
// Q4_K in RMS (its least-squares fit trades worst case for mean error).
func TestRoundTripError(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	n := 256 * 6
	x := randVec(r, n, 0.02)
	x[7], x[300] = 0.5, -0.3 // outliers
	for i := 512; i < 768; i++ {
		x[i] = 0 // an all-zero super-block
	}
	for _, typ := range []Type{F32, F16, BF16, Q8_0, Q4_0, Q4_K} {
		data, err := Quantize(typ, nil, x)
		if err != nil {
			t.Fatal(err)
		}
		if want, _ := typ.RowBytes(n); len(data) != want {
			t.Fatalf("%s: %d bytes, want %d", typ, len(data), want)
		}
		y := make([]float32, n)
		if err := Dequantize(typ, y, data); err != nil {
			t.Fatal(err)
		}
		bs := max(typ.BlockSize(), 32)
		var sq, sqx float64
		for b := 0; b < n; b += bs {
			var amax float64
			for _, v := range x[b : b+bs] {
				amax = max(amax, math.Abs(float64(v)))
			}
			var bound float64
			switch typ {
			case F32:
				bound = 0
			case F16:
				bound = amax / 2048
			case BF16:
				bound = amax / 256
			case Q8_0:
				bound = amax/254 + amax/1024 // half a step, plus fp16 rounding of d (2⁻¹¹ relative, times 127 steps)
			case Q4_0:
				bound = amax/8*1.01 + 1e-7 // the 16 levels are −8d..7d: values near +8d clamp to 7d, a whole step
			case Q4_K:
				bound = amax / 4 // loose worst case; the RMS check below is the real one
			}
			for i := b; i < b+bs; i++ {
				e := math.Abs(float64(y[i] - x[i]))
				sq += e * e
				sqx += float64(x[i]) * float64(x[i])
				if e > bound {
					t.Errorf("%s: value %d: %g became %g (error %.3g > %.3g)", typ, i, x[i], y[i], e, bound)
					break
				}
			}
		}
		rel := math.Sqrt(sq / sqx)
		t.Logf("%s: relative RMS error %.4f", typ, rel)
		limit := map[Type]float64{F32: 0, F16: 1e-3, BF16: 5e-3, Q8_0: 0.01, Q4_0: 0.15, Q4_K: 0.12}[typ]
		if rel > limit {
			t.Errorf("%s: relative RMS error %.4f > %.4f", typ, rel, limit)
		}
		for i := 512; i < 768; i++ {
			if y[i] != 0 {
				t.Fatalf("%s: zero block dequantized to %g at %d", typ, y[i], i)
			}
		}
	}
}

// TestQuantizeKnownBlocks pins hand-checked bytes of ggml's formulas.
func TestQuantizeKnownBlocks(t *testing.T) {
	x := make([]float32, 32)
	for i := range x {
		x[i] = float32(i - 16) // -16..15
	}
	q8, _ := Quantize(Q8_0, nil, x)
	// d = 16/127 (fp16 0x3008 = 0.12597656), q = round(v·127/16)
	if d := half(q8[0:]); math.Abs(float64(d)-16.0/127) > 1e-4 {
		t.Errorf("q8_0 d = %g", d)
	}
	if int8(q8[2]) != -127 || int8(q8[2+16]) != 0 || int8(q8[2+31]) != int8(math.Round(15*127/16.0)) {
		t.Errorf("q8_0 qs = %v", q8[2:])
	}
	q4, _ := Quantize(Q4_0, nil, x)
	// max |v| is -16 → d = 2, q = trunc(v/2 + 8.5) clamped to 15.
	if d := half(q4[0:]); d != 2 {
		t.Errorf("q4_0 d = %g, want 2", d)
	}
	for j := range 16 {
		lo, hi := int(q4[2+j]&15), int(q4[2+j]>>4)
		wantLo := min(15, int(float32(x[j])/2+8.5))
		wantHi := min(15, int(float32(x[j+16])/2+8.5))
		if lo != wantLo || hi != wantHi {
			t.Errorf("q4_0 byte %d = %d,%d want %d,%d", j, lo, hi, wantLo, wantHi)
		}
	}
}

func TestDequantizeErrors(t *testing.T) {
	if err := Dequantize(Q8_0, make([]float32, 32), make([]byte, 33)); err == nil {
		t.Error("short Q8_0 data: no error")
	}
	if err := Dequantize(Q5_K, make([]float32, 256), make([]byte, 176)); err == nil {
		t.Error("Q5_K: no error")
	}
	if _, err := Quantize(Q4_K, nil, make([]float32, 100)); err == nil {
		t.Error("Q4_K of 100 values: no error")
	}
}

// refProduct computes y = x·Wᵀ in float64 from float32 x and weights.
func refProduct(w []float32, rows, cols int, x []float32, n int) []float64 {
	y := make([]float64, n*rows)
	for i := range n {
		for r := range rows {
			var s float64
			for c := range cols {
				s += float64(x[i*cols+c]) * float64(w[r*cols+c])
			}
			y[i*rows+r] = s
		}
	}
	return y
}

// quantizedActs returns x as the kernels see it: each row quantized to
// Q8_0 (or Q8_K) blocks and dequantized.
func quantizedActs(typ Type, x []float32, n, cols int) []float32 {
	out := make([]float32, len(x))
	for i := range n {
		row := x[i*cols : (i+1)*cols]
		if typ == Q4_K {
			blocks := make([]q8KBlock, cols/256)
			quantizeRowQ8K(blocks, row)
			for b, blk := range blocks {
				for j, q := range blk.qs {
					out[i*cols+256*b+j] = float32(q) * blk.d
				}
			}
		} else {
			blocks := make([]q8Block, cols/32)
			quantizeRowQ8(blocks, row)
			for b, blk := range blocks {
				for j, q := range blk.qs {
					out[i*cols+32*b+j] = float32(q) * blk.d
				}
			}
		}
	}
	return out
}

// TestMatMulMatchesDequantized checks every kernel path against
// dequantize-then-float64 products, on odd shapes: exactly (to float32
// rounding of the sums) against the dequantized weights times the
// quantized activations, and within the activation quantization error
// against the float32 activations.
func TestMatMulMatchesDequantized(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	paths := []bool{true}
	if simdKernels != nil {
		paths = append(paths, false)
	}
	for _, typ := range []Type{Q8_0, Q4_0, Q4_K} {
		for _, shape := range [][3]int{{1, 1, 1}, {7, 3, 1}, {13, 9, 1}, {5, 3, 5}, {37, 5, 3}, {17, 2, 9}} {
			rows, cols, n := shape[0], shape[1]*typ.BlockSize(), shape[2]
			if typ != Q4_K {
				cols = shape[1] * 32 * 3 // 96, 288, ...: odd block counts
			}
			w := randVec(r, rows*cols, 0.05)
			x := randVec(r, n*cols, 1)
			x[0] = 4 // an outlier activation
			m, err := QuantizeMatrix(typ, rows, cols, w)
			if err != nil {
				t.Fatal(err)
			}
			wd, err := m.Dequantize()
			if err != nil {
				t.Fatal(err)
			}
			exact := refProduct(wd, rows, cols, quantizedActs(typ, x, n, cols), n)
			loose := refProduct(wd, rows, cols, x, n)
			for _, portable := range paths {
				usePortable = portable
				y := make([]float32, n*rows)
				m.MatMul(y, x, n)
				var worstExact, worstLoose, scale float64
				for i := range y {
					worstExact = max(worstExact, math.Abs(float64(y[i])-exact[i]))
					worstLoose = max(worstLoose, math.Abs(float64(y[i])-loose[i]))
					scale = max(scale, math.Abs(loose[i]))
				}
				// Sums of cols float32 terms: a few ulps of the magnitude.
				if worstExact > 1e-5*(scale+1) {
					t.Errorf("%s %s %dx%d n=%d: |y - exact| = %.3g (scale %.3g)", KernelPath(), typ, rows, cols, n, worstExact, scale)
				}
				// Activations lose at most half a step (amax/254 per
				// block); the sum of cols such errors, each times |w|, is
				// well inside 2% of the largest output here.
				if worstLoose > 0.02*(scale+1) {
					t.Errorf("%s %s %dx%d n=%d: |y - float| = %.3g (scale %.3g)", KernelPath(), typ, rows, cols, n, worstLoose, scale)
				}
				// Each input row's products equal its MatVec's bit for bit,
				// whichever group kernel (one input row, or four at once)
				// ran. (Q4_K's single-row kernel for four inputs takes the
				// mins off per block and rounds differently.)
				y2 := make([]float32, rows)
				for i := range n {
					m.MatVec(y2, x[i*cols:(i+1)*cols])
					for j := range y2 {
						if (j < m.grouped || typ != Q4_K) && y2[j] != y[i*rows+j] {
							t.Fatalf("%s %s %dx%d n=%d: row %d output %d: MatMul %v, MatVec %v", KernelPath(), typ, rows, cols, n, i, j, y[i*rows+j], y2[j])
						}
					}
				}
			}
			usePortable = false
		}
	}
}

func TestNewMatrixChecks(t *testing.T) {
	if _, err := NewMatrix(Q8_0, 2, 32, make([]byte, 67)); err == nil {
		t.Error("wrong size: no error")
	}
	if _, err := NewMatrix(Q8_0, 2, 33, make([]byte, 68)); err == nil {
		t.Error("cols not a block multiple: no error")
	}
}

// ggmlInputs regenerates the inputs of testdata/ggml-*.bin.
func ggmlInputs() []float32 {
	r := rand.New(rand.NewPCG(9, 9))
	x := make([]float32, 2048)
	for i := range x {
		x[i] = float32(r.NormFloat64()) * float32(math.Exp(r.NormFloat64())) * 0.02
	}
	return x
}

// TestQuantizeMatchesGGML compares with the bytes ggml's own reference
// quantizers wrote for the same inputs (see testdata/README.md).
func TestQuantizeMatchesGGML(t *testing.T) {
	x := ggmlInputs()
	for _, typ := range []Type{Q8_0, Q4_0, Q4_K} {
		want, err := os.ReadFile("testdata/ggml-" + typ.String() + ".bin")
		if err != nil {
			t.Fatal(err)
		}
		got, err := Quantize(typ, nil, x)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			bb := typ.BlockBytes()
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("%s: first difference at byte %d (block %d): %d, ggml %d", typ, i, i/bb, got[i], want[i])
					break
				}
			}
		}
	}
}

// Row gives back every row's bytes exactly as stored by ggml, whatever
// layout the matrix keeps them in (groups of eight and the rest).
func TestMatrixRowRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, typ := range []Type{Q8_0, Q4_0, Q4_K, F16} {
		rows, cols := 19, 2*256
		data, err := QuantizeRows(typ, rows, cols, randVec(r, rows*cols, 0.05))
		if err != nil {
			t.Fatal(err)
		}
		m, err := NewMatrix(typ, rows, cols, data)
		if err != nil {
			t.Fatal(err)
		}
		if m.grouped == 0 && typ != F16 {
			t.Errorf("%s: no rows grouped", typ)
		}
		rb := m.RowBytes()
		for i := range rows {
			if got := m.Row(nil, i); !bytes.Equal(got, data[i*rb:(i+1)*rb]) {
				t.Fatalf("%s row %d differs from the stored bytes", typ, i)
			}
		}
	}
}

// Every path quantizes activations to the same bytes as quantizeRowQ8:
// random rows over several magnitudes, a zero block, tiny values whose
// scale is an fp16 subnormal, and exact halves.
func TestQuantizeActivationsPaths(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	x := make([]float32, 32*64)
	for i := range x {
		x[i] = float32(r.NormFloat64()) * float32(math.Exp(3*r.NormFloat64()))
	}
	clear(x[32:64])
	for i := 64; i < 96; i++ {
		x[i] = float32(i-80) * 1e-7
	}
	for i := 96; i < 128; i++ {
		x[i] = float32(i-112) * 0.5
	}
	want := make([]q8Block, len(x)/32)
	quantizeRowQ8(want, x)
	for _, k := range []*dotKernels{&portableKernels, simdKernels} {
		if k == nil {
			continue
		}
		for _, withSums := range []bool{false, true} {
			got := make([]q8Block, len(want))
			var sums []int32
			if withSums {
				sums = make([]int32, len(want))
			}
			k.quantQ8(got, sums, x)
			for b := range want {
				if got[b] != want[b] {
					t.Fatalf("%s: block %d: %+v, want %+v", k.name, b, got[b], want[b])
				}
				var s int32
				for _, q := range want[b].qs {
					s += int32(q)
				}
				if withSums && sums[b] != 8*s {
					t.Fatalf("%s: block %d: sum %d, want 8·%d", k.name, b, sums[b], s)
				}
			}
		}
	}
	// Q8_K (256-value blocks): a zero block, a tiny one, one whose largest
	// magnitude comes twice with both signs (the first decides), and
	// values on rounding ties.
	xk := make([]float32, 256*8)
	for i := range xk {
		xk[i] = float32(r.NormFloat64()) * float32(math.Exp(3*r.NormFloat64()))
	}
	clear(xk[256:512])
	for i := 512; i < 768; i++ {
		xk[i] = float32(i-640) * 1e-7
	}
	for i := 768; i < 1024; i++ {
		xk[i] = float32(2*r.Float64() - 1)
	}
	xk[800], xk[803], xk[900] = -3, 3, 3
	for i := 1024; i < 1280; i++ {
		xk[i] = float32(i-1152) * 0.5
	}
	wantK := make([]q8KBlock, len(xk)/256)
	quantizeRowQ8K(wantK, xk)
	for _, k := range []*dotKernels{&portableKernels, simdKernels} {
		if k == nil {
			continue
		}
		got := make([]q8KBlock, len(wantK))
		for b := range got {
			got[b].qs[0], got[b].bsums[3] = 9, 9 // stale contents must go
		}
		k.quantQ8K(got, xk)
		for b := range wantK {
			if got[b] != wantK[b] {
				t.Fatalf("%s: Q8_K block %d: %+v, want %+v", k.name, b, got[b], wantK[b])
			}
		}
	}
}
