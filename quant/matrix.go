package quant

import (
	"fmt"
	"math"

	"github.com/dokja/dokja/tensor"
)

// Matrix is a Rows×Cols weight matrix held as ggml stores it: row r is
// Data[r·RowBytes : (r+1)·RowBytes], a run of blocks of Type. Data may
// alias a memory-mapped file.
type Matrix struct {
	Type       Type
	Rows, Cols int
	Data       []byte
	rowBytes   int
}

// NewMatrix wraps stored data as a matrix, checking its size. Products
// are supported for Q8_0, Q4_0 and Q4_K (see CanMultiply).
func NewMatrix(t Type, rows, cols int, data []byte) (*Matrix, error) {
	rb, err := t.RowBytes(cols)
	if err != nil {
		return nil, err
	}
	if rows < 0 || cols <= 0 || rows > math.MaxInt/max(rb, 1) {
		return nil, fmt.Errorf("quant: bad matrix shape %d×%d", rows, cols)
	}
	if len(data) != rows*rb {
		return nil, fmt.Errorf("quant: %d×%d %s matrix takes %d bytes, have %d", rows, cols, t, rows*rb, len(data))
	}
	return &Matrix{Type: t, Rows: rows, Cols: cols, Data: data, rowBytes: rb}, nil
}

// QuantizeMatrix quantizes a row-major rows×cols float32 matrix.
func QuantizeMatrix(t Type, rows, cols int, w []float32) (*Matrix, error) {
	if len(w) != rows*cols {
		return nil, fmt.Errorf("quant: %d×%d matrix needs %d values, have %d", rows, cols, rows*cols, len(w))
	}
	rb, err := t.RowBytes(cols)
	if err != nil {
		return nil, err
	}
	data := make([]byte, rows*rb)
	var qerr error
	tensor.ParallelFor(rows, 16, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			if _, err := Quantize(t, data[r*rb:r*rb:(r+1)*rb], w[r*cols:(r+1)*cols]); err != nil {
				qerr = err
			}
		}
	})
	if qerr != nil {
		return nil, qerr
	}
	return NewMatrix(t, rows, cols, data)
}

// RowBytes is the size of one stored row.
func (m *Matrix) RowBytes() int { return m.rowBytes }

// Dequantize returns the matrix as row-major float32 (for tests and for
// loading into float32 models; products never call it).
func (m *Matrix) Dequantize() ([]float32, error) {
	out := make([]float32, m.Rows*m.Cols)
	for r := range m.Rows {
		if err := Dequantize(m.Type, out[r*m.Cols:(r+1)*m.Cols], m.Data[r*m.rowBytes:(r+1)*m.rowBytes]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// CanMultiply reports whether MatVec and MatMul support weights of type t.
func CanMultiply(t Type) bool { return t == Q8_0 || t == Q4_0 || t == Q4_K }

// MatVec computes y = W·x for one vector x of Cols values into y of Rows
// values. It is MatMul with one row.
func (m *Matrix) MatVec(y, x []float32) { m.MatMul(y, x, 1) }

// MatMul computes y = x·Wᵀ for n rows of x (n×Cols, row-major) into y
// (n×Rows, row-major). Each row of x is quantized once (Q8_0 or Q8_K
// blocks, as ggml does), then every weight row is dotted with every
// quantized row; work is split across cores by weight rows. It panics if
// the type has no kernel or the slices are too short, which are
// programming errors: shapes come from validated files.
func (m *Matrix) MatMul(y, x []float32, n int) {
	if !CanMultiply(m.Type) {
		panic(fmt.Sprintf("quant: no product kernel for %s", m.Type))
	}
	if len(x) < n*m.Cols || len(y) < n*m.Rows {
		panic(fmt.Sprintf("quant: MatMul %d×%d by %d rows: x has %d values, y %d", m.Rows, m.Cols, n, len(x), len(y)))
	}
	if n == 0 || m.Rows == 0 {
		return
	}
	k := kernels()
	if m.Type == Q4_K {
		acts := make([]q8KBlock, n*(m.Cols/256))
		per := m.Cols / 256
		for i := range n {
			quantizeRowQ8K(acts[i*per:(i+1)*per], x[i*m.Cols:(i+1)*m.Cols])
		}
		m.rows(n, func(w []byte, i int) float32 { return k.q4K(w, acts[i*per:(i+1)*per]) }, y)
		return
	}
	per := m.Cols / 32
	acts := make([]q8Block, n*per)
	for i := range n {
		quantizeRowQ8(acts[i*per:(i+1)*per], x[i*m.Cols:(i+1)*m.Cols])
	}
	dot := k.q8_0
	if m.Type == Q4_0 {
		dot = k.q4_0
	}
	m.rows(n, func(w []byte, i int) float32 { return dot(w, acts[i*per:(i+1)*per]) }, y)
}

// rows runs dot for every (weight row, input row) pair, split by weight
// rows across cores; a weight row stays in cache while it meets every
// input row.
func (m *Matrix) rows(n int, dot func(w []byte, i int) float32, y []float32) {
	grain := max(1, 4096/max(n, 1))
	tensor.ParallelFor(m.Rows, grain, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			w := m.Data[r*m.rowBytes : (r+1)*m.rowBytes]
			for i := range n {
				y[i*m.Rows+r] = dot(w, i)
			}
		}
	})
}

// q8Block is a Q8_0 block of activations, unpacked: the scale (rounded
// through fp16, as ggml stores it) and 32 int8 values.
type q8Block struct {
	d  float32
	qs [32]int8
}

// q8KBlock is ggml's block_q8_K: a float32 scale, 256 int8 values and the
// sums of each 16 of them.
type q8KBlock struct {
	d     float32
	qs    [256]int8
	bsums [16]int16
}

// quantizeRowQ8 quantizes x into Q8_0 blocks (quantize_row_q8_0_ref).
func quantizeRowQ8(dst []q8Block, x []float32) {
	for b := range dst {
		xs := (*[32]float32)(x[32*b:])
		var amax float32
		for _, v := range xs {
			amax = max(amax, abs32(v))
		}
		d := amax / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		blk := &dst[b]
		blk.d = f16[toHalf(d)]
		for j, v := range xs {
			blk.qs[j] = int8(math.Round(float64(float32(v * id))))
		}
	}
}

// quantizeRowQ8K quantizes x into Q8_K blocks (quantize_row_q8_K_ref).
func quantizeRowQ8K(dst []q8KBlock, x []float32) {
	for b := range dst {
		xs := (*[256]float32)(x[256*b:])
		blk := &dst[b]
		var amax, mx float32
		for _, v := range xs {
			if a := abs32(v); a > amax {
				amax, mx = a, v
			}
		}
		if amax == 0 {
			*blk = q8KBlock{}
			continue
		}
		iscale := -127 / mx
		for j, v := range xs {
			blk.qs[j] = int8(min(127, nearestInt(float32(iscale*v))))
		}
		for j := range 16 {
			s := 0
			for _, q := range blk.qs[16*j : 16*j+16] {
				s += int(q)
			}
			blk.bsums[j] = int16(s)
		}
		blk.d = 1 / iscale
	}
}

// dotKernels are the block dot products of one path.
type dotKernels struct {
	name       string
	q8_0, q4_0 func(w []byte, a []q8Block) float32
	q4K        func(w []byte, a []q8KBlock) float32
}

var portableKernels = dotKernels{"portable", dotQ8_0, dotQ4_0, dotQ4K}

// simdKernels is where the AVX2 path registers itself when the CPU has
// it (simd_amd64.go): Q8_0 and Q4_0 block dot products in assembly
// (quant/internal/q8asm); Q4_K still runs the portable loop. A first
// simd/archsimd version ran 4-10x slower than portable Go, hence the
// assembly. Tests run every registered path.
var simdKernels *dotKernels

// usePortable forces the portable kernels (tests compare the paths).
var usePortable bool

func kernels() *dotKernels {
	if simdKernels != nil && !usePortable {
		return simdKernels
	}
	return &portableKernels
}

// KernelPath names the dot-product path MatMul uses: "simd" or "portable".
func KernelPath() string { return kernels().name }

func dotQ8_0(w []byte, a []q8Block) float32 {
	var sum float32
	for b := range a {
		blk := (*[34]byte)(w[34*b:])
		q := &a[b].qs
		var s int32
		for j := range 32 {
			s += int32(int8(blk[2+j])) * int32(q[j])
		}
		sum += float32(s) * float32(half(blk[0:])*a[b].d)
	}
	return sum
}

func dotQ4_0(w []byte, a []q8Block) float32 {
	var sum float32
	for b := range a {
		blk := (*[18]byte)(w[18*b:])
		q := &a[b].qs
		var s0, s1 int32
		for j := range 16 {
			v := blk[2+j]
			s0 += (int32(v&15) - 8) * int32(q[j])
			s1 += (int32(v>>4) - 8) * int32(q[j+16])
		}
		sum += float32(s0+s1) * half(blk[0:]) * a[b].d
	}
	return sum
}

func dotQ4K(w []byte, a []q8KBlock) float32 {
	var sum float32
	for b := range a {
		blk := (*[144]byte)(w[144*b:])
		act := &a[b]
		sc := blk[4:16]
		q4 := blk[16:144]
		var sumi, mins int32
		for c := range 4 {
			s1, m1 := scaleMinK4(2*c, sc)
			s2, m2 := scaleMinK4(2*c+1, sc)
			lo := (*[32]int8)(act.qs[64*c:])
			hi := (*[32]int8)(act.qs[64*c+32:])
			qs := (*[32]byte)(q4[32*c:])
			var d1, d2 int32
			for l := range 32 {
				d1 += int32(qs[l]&0xF) * int32(lo[l])
				d2 += int32(qs[l]>>4) * int32(hi[l])
			}
			sumi += int32(s1)*d1 + int32(s2)*d2
			mins += int32(m1)*int32(act.bsums[4*c]+act.bsums[4*c+1]) + int32(m2)*int32(act.bsums[4*c+2]+act.bsums[4*c+3])
		}
		sum += half(blk[0:])*act.d*float32(sumi) - half(blk[2:])*act.d*float32(mins)
	}
	return sum
}
