package quant

import (
	"fmt"
	"math"
	"sync"

	"github.com/dokja/dokja/tensor"
)

// Matrix is a Rows×Cols weight matrix of ggml blocks of Type (each row a
// run of Cols/BlockSize blocks). For the types with group kernels (Q8_0,
// Q4_0, Q4_K) the leading rows are stored in groups of eight whose blocks
// lie side by side, so that a product over a group reads one stream of
// memory, shares each activation load, and lands each row's result in a
// lane of its own, as llama.cpp repacks Q4_0 for its AVX2 kernels (see
// packX8 and packQ4Kx8; the layouts are Dokja's). The remaining rows are
// stored as ggml stores them. Row returns any row in ggml's layout.
type Matrix struct {
	Type       Type
	Rows, Cols int
	data       []byte
	rowBytes   int
	// group is the rows of a group (0: none), grouped how many leading
	// rows are stored in groups, groupBytes the size of one group.
	group, grouped, groupBytes int
}

// groupRows is the group size of type t's layout, and blockBytes the
// bytes one block of the group's rows takes.
func groupRows(t Type) (rows, blockBytes int) {
	switch t {
	case Q8_0, Q4_0:
		return 8, 8 * t.BlockBytes()
	case Q4_K:
		return 8, q4Kx8Bytes
	}
	return 0, 0
}

// q4Kx8Bytes is a block of eight Q4_K rows in packQ4Kx8's layout: four
// bytes more per row than ggml's 144, for the unpacked scales and mins.
const q4Kx8Bytes = 1184

// NewMatrix copies stored rows (ggml's layout, row after row) into a
// matrix, checking their size; data may alias a memory-mapped file.
// Products are supported for Q8_0, Q4_0 and Q4_K (see CanMultiply).
func NewMatrix(t Type, rows, cols int, data []byte) (*Matrix, error) {
	rb, err := t.RowBytes(cols)
	if err != nil {
		return nil, err
	}
	if rows < 0 || cols <= 0 || rows > math.MaxInt/max(rb, 1)/2 {
		return nil, fmt.Errorf("quant: bad matrix shape %d×%d", rows, cols)
	}
	if len(data) != rows*rb {
		return nil, fmt.Errorf("quant: %d×%d %s matrix takes %d bytes, have %d", rows, cols, t, rows*rb, len(data))
	}
	m := &Matrix{Type: t, Rows: rows, Cols: cols, rowBytes: rb}
	groups := 0
	if g, gbb := groupRows(t); g > 0 {
		m.group, m.grouped, m.groupBytes = g, rows/g*g, gbb*(rb/t.BlockBytes())
		groups = rows / g
	}
	m.data = make([]byte, groups*m.groupBytes+(rows-m.grouped)*rb)
	for g := range groups {
		m.pack(m.data[g*m.groupBytes:(g+1)*m.groupBytes], data[g*m.group*rb:(g+1)*m.group*rb])
	}
	copy(m.data[groups*m.groupBytes:], data[m.grouped*rb:])
	return m, nil
}

// pack lays out one group of rows (ggml's layout in src) in dst.
func (m *Matrix) pack(dst, src []byte) {
	bb, blocks := m.Type.BlockBytes(), m.rowBytes/m.Type.BlockBytes()
	gbb := m.groupBytes / blocks
	for k := range m.group {
		row := src[k*m.rowBytes : (k+1)*m.rowBytes]
		for b := range blocks {
			blk, gb := row[b*bb:(b+1)*bb], dst[b*gbb:(b+1)*gbb]
			if m.Type == Q4_K {
				packQ4Kx8(gb, k, blk)
			} else {
				packX8(gb, k, blk)
			}
		}
	}
}

// packX8 puts block blk of row k (Q8_0 or Q4_0) into a group's eight-row
// block: the eight rows' fp16 scales (row k at 2k), then chunks of 32
// bytes, chunk j holding quant bytes 4j..4j+3 of every row (row k at 4k),
// so that one load brings four values (Q8_0) or four nibble pairs (Q4_0)
// of each row, and the products land in a lane per row.
func packX8(dst []byte, k int, blk []byte) {
	copy(dst[2*k:2*k+2], blk[0:2])
	for j := range (len(blk) - 2) / 4 {
		copy(dst[16+32*j+4*k:16+32*j+4*k+4], blk[2+4*j:2+4*j+4])
	}
}

// unpackX8 is packX8's inverse: row k's block (bb bytes), appended to dst.
func unpackX8(dst []byte, k int, gb []byte, bb int) []byte {
	dst = append(dst, gb[2*k:2*k+2]...)
	for j := range (bb - 2) / 4 {
		dst = append(dst, gb[16+32*j+4*k:16+32*j+4*k+4]...)
	}
	return dst
}

// packQ4Kx8 puts Q4_K block blk of row k into a group's eight-row block
// (q4Kx8Bytes): the rows' fp16 d (row k at 2k) and dmin (16+2k); the
// 6-bit scales and mins unpacked to bytes, sub-block j's at 32+8j and
// 96+8j (row k at +k); then 32 chunks of 32 bytes, chunk 8c+t holding
// quant bytes 32c+4t..32c+4t+3 of every row (row k at 4k).
func packQ4Kx8(dst []byte, k int, blk []byte) {
	copy(dst[2*k:2*k+2], blk[0:2])
	copy(dst[16+2*k:16+2*k+2], blk[2:4])
	for j := range 8 {
		dst[32+8*j+k], dst[96+8*j+k] = scaleMinK4(j, blk[4:16])
	}
	for q := range 32 {
		copy(dst[160+32*q+4*k:160+32*q+4*k+4], blk[16+4*q:16+4*q+4])
	}
}

// unpackQ4Kx8 is packQ4Kx8's inverse: row k's block, appended to dst.
func unpackQ4Kx8(dst []byte, k int, gb []byte) []byte {
	var blk [144]byte
	copy(blk[0:2], gb[2*k:2*k+2])
	copy(blk[2:4], gb[16+2*k:16+2*k+2])
	for j := range 8 {
		putScaleMinK4(blk[4:16], j, gb[32+8*j+k], gb[96+8*j+k])
	}
	for q := range 32 {
		copy(blk[16+4*q:16+4*q+4], gb[160+32*q+4*k:160+32*q+4*k+4])
	}
	return append(dst, blk[:]...)
}

// Row appends row r, in ggml's layout, to dst.
func (m *Matrix) Row(dst []byte, r int) []byte {
	if r >= m.grouped {
		off := (r - m.grouped) * m.rowBytes
		if m.group > 0 {
			off += m.grouped / m.group * m.groupBytes
		}
		return append(dst, m.data[off:off+m.rowBytes]...)
	}
	bb, blocks := m.Type.BlockBytes(), m.rowBytes/m.Type.BlockBytes()
	gbb := m.groupBytes / blocks
	group := m.data[r/m.group*m.groupBytes:]
	for b := range blocks {
		gb := group[b*gbb : (b+1)*gbb]
		if m.Type == Q4_K {
			dst = unpackQ4Kx8(dst, r%m.group, gb)
		} else {
			dst = unpackX8(dst, r%m.group, gb, bb)
		}
	}
	return dst
}

// Size is the bytes the matrix holds.
func (m *Matrix) Size() int { return len(m.data) }

// QuantizeMatrix quantizes a row-major rows×cols float32 matrix.
func QuantizeMatrix(t Type, rows, cols int, w []float32) (*Matrix, error) {
	data, err := QuantizeRows(t, rows, cols, w)
	if err != nil {
		return nil, err
	}
	return NewMatrix(t, rows, cols, data)
}

// QuantizeRows quantizes a row-major rows×cols float32 matrix into
// ggml's layout (row after row), on all cores.
func QuantizeRows(t Type, rows, cols int, w []float32) ([]byte, error) {
	if len(w) != rows*cols {
		return nil, fmt.Errorf("quant: %d×%d matrix needs %d values, have %d", rows, cols, rows*cols, len(w))
	}
	rb, err := t.RowBytes(cols)
	if err != nil {
		return nil, err
	}
	data := make([]byte, rows*rb)
	var qerr error
	var mu sync.Mutex
	tensor.ParallelFor(rows, 16, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			if _, err := Quantize(t, data[r*rb:r*rb:(r+1)*rb], w[r*cols:(r+1)*cols]); err != nil {
				mu.Lock()
				qerr = err
				mu.Unlock()
			}
		}
	})
	if qerr != nil {
		return nil, qerr
	}
	return data, nil
}

// RowBytes is the size of one stored row.
func (m *Matrix) RowBytes() int { return m.rowBytes }

// Dequantize returns the matrix as row-major float32 (for tests and for
// loading into float32 models; products never call it).
func (m *Matrix) Dequantize() ([]float32, error) {
	out := make([]float32, m.Rows*m.Cols)
	row := make([]byte, 0, m.rowBytes)
	for r := range m.Rows {
		if err := Dequantize(m.Type, out[r*m.Cols:(r+1)*m.Cols], m.Row(row[:0], r)); err != nil {
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
			k.quantQ8K(acts[i*per:(i+1)*per], x[i*m.Cols:(i+1)*m.Cols])
		}
		m.probeQ8K(x, n, acts)
		pairs := make([]int32, 8*len(acts))
		for b := range acts {
			for j := range 8 {
				pairs[8*b+j] = int32(acts[b].bsums[2*j]) + int32(acts[b].bsums[2*j+1])
			}
		}
		m.rows(n, rowKernels{
			dot: func(w []byte, i int) float32 { return k.q4K(w, acts[i*per:(i+1)*per]) },
			group: func(w []byte, i int, out []float32) {
				k.q4Kx8(w, acts[i*per:(i+1)*per], pairs[8*i*per:8*(i+1)*per], out)
			},
			groupIn4: func(w []byte, i int, out *[32]float32) {
				k.q4Kx8in4(w, acts[i*per:(i+4)*per], per, pairs[8*i*per:8*(i+4)*per], out)
			},
			dotIn4: func(w []byte, i int, out *[4]float32) { k.q4KIn4(w, acts[i*per:(i+4)*per], per, out) },
		}, y)
		return
	}
	per := m.Cols / 32
	acts := make([]q8Block, n*per)
	dot, groupDot := k.q8_0, k.q8_0x8
	var sums []int32
	if m.Type == Q4_0 {
		dot, groupDot = k.q4_0, k.q4_0x8
		sums = make([]int32, len(acts))
	}
	for i := range n {
		var rowSums []int32
		if sums != nil {
			rowSums = sums[i*per : (i+1)*per]
		}
		k.quantQ8(acts[i*per:(i+1)*per], rowSums, x[i*m.Cols:(i+1)*m.Cols])
	}
	m.probeQ8(x, n, acts, sums)
	r := rowKernels{
		dot: func(w []byte, i int) float32 { return dot(w, acts[i*per:(i+1)*per]) },
		group: func(w []byte, i int, out []float32) {
			groupDot(w, acts[i*per:(i+1)*per], sums[min(i*per, len(sums)):min((i+1)*per, len(sums))], out)
		},
	}
	if m.Type == Q4_0 {
		r.groupIn4 = func(w []byte, i int, out *[32]float32) {
			k.q4_0x8in4(w, acts[i*per:(i+4)*per], per, sums[i*per:(i+4)*per], out)
		}
	} else {
		r.groupIn4 = func(w []byte, i int, out *[32]float32) { k.q8_0x8in4(w, acts[i*per:(i+4)*per], per, out) }
	}
	m.rows(n, r, y)
}

// rowKernels are the products rows runs for a matrix: dot for one weight
// row and one input row; group for a group of weight rows and one input
// row; and, when set, groupIn4 for a group of eight weight rows and four
// input rows (out[8k+r]: weight row r, input row i+k), dotIn4 for one
// weight row and four input rows.
type rowKernels struct {
	dot      func(w []byte, i int) float32
	group    func(w []byte, i int, out []float32)
	groupIn4 func(w []byte, i int, out *[32]float32)
	dotIn4   func(w []byte, i int, out *[4]float32)
}

// rows runs the kernels for every (weight row, input row) pair, split
// across cores by weight rows: a group at a time for the grouped rows,
// one by one for the rest, four input rows at a time where a kernel
// takes four. The weights stay in cache while they meet every input row.
func (m *Matrix) rows(n int, k rowKernels, y []float32) {
	grain := max(1, (32<<10)/(m.rowBytes*max(n, 1)))
	rb := m.rowBytes
	tail := 0
	if m.grouped > 0 {
		gr, gb := m.group, m.groupBytes
		tail = m.grouped / gr * gb
		tensor.ParallelFor(m.grouped/gr, max(1, grain/gr), func(lo, hi int) {
			var out4 [32]float32
			for g := lo; g < hi; g++ {
				w, r := m.data[g*gb:(g+1)*gb], gr*g
				i := 0
				if k.groupIn4 != nil && gr == 8 {
					for ; i+4 <= n; i += 4 {
						k.groupIn4(w, i, &out4)
						for in := range 4 {
							copy(y[(i+in)*m.Rows+r:(i+in)*m.Rows+r+8], out4[8*in:8*in+8])
						}
					}
				}
				for ; i < n; i++ {
					k.group(w, i, y[i*m.Rows+r:i*m.Rows+r+gr])
				}
			}
		})
	}
	tensor.ParallelFor(m.Rows-m.grouped, grain, func(lo, hi int) {
		var out [4]float32
		for r := m.grouped + lo; r < m.grouped+hi; r++ {
			off := tail + (r-m.grouped)*rb
			w := m.data[off : off+rb]
			i := 0
			if k.dotIn4 != nil {
				for ; i+4 <= n; i += 4 {
					k.dotIn4(w, i, &out)
					for k, v := range out {
						y[(i+k)*m.Rows+r] = v
					}
				}
			}
			for ; i < n; i++ {
				y[i*m.Rows+r] = k.dot(w, i)
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

// quantizeRowQ8 quantizes activations x into Q8_0 blocks as ggml's AVX2
// quantize_row_q8_0 does, which is what llama.cpp runs on these CPUs: the
// inverse scale 127/amax and rounding half to even, where the reference
// quantizer (quantize_row_q8_0_ref, which Quantize follows for weights)
// takes 1/(amax/127) and rounds half away from zero. The two disagree on
// an activation now and then; with the reference's, Q4_0 logits differed
// from llama.cpp's by 0.03, with this one by 2.4e-7 (model's
// TestMatchesLlamaCpp). The scale is stored rounded through fp16, as in
// ggml.
func quantizeRowQ8(dst []q8Block, x []float32) {
	for b := range dst {
		xs := (*[32]float32)(x[32*b:])
		var amax float32
		for _, v := range xs {
			amax = max(amax, abs32(v))
		}
		var id float32
		if amax != 0 {
			id = 127 / amax
		}
		blk := &dst[b]
		blk.d = f16[toHalf(amax/127)]
		for j, v := range xs {
			// RoundToEven is one instruction on amd64; v·id is within
			// ±127, exact in float64.
			blk.qs[j] = int8(math.RoundToEven(float64(v * id)))
		}
	}
}

// quantizeRowQ8Sums is quantizeRowQ8 that also sets sums[b] to 8·Σ of
// block b's values when sums is not nil.
func quantizeRowQ8Sums(dst []q8Block, sums []int32, x []float32) {
	quantizeRowQ8(dst, x)
	for b := range sums {
		var s int32
		for _, q := range dst[b].qs {
			s += int32(q)
		}
		sums[b] = 8 * s
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

// dotKernels are the block dot products of one path: single rows of
// contiguous blocks, and groups of rows in their packed layouts (see
// Matrix), one result per row. sums holds 8·Σ of each activation block's
// values (for Q4_0's offset).
type dotKernels struct {
	name       string
	q8_0, q4_0 func(w []byte, a []q8Block) float32
	q8_0x8     func(w []byte, a []q8Block, sums []int32, out []float32)
	q4_0x8     func(w []byte, a []q8Block, sums []int32, out []float32)
	q4K        func(w []byte, a []q8KBlock) float32
	// q4KIn4 multiplies one Q4_K row with four activation rows of per
	// blocks each, one after the other in a.
	q4KIn4 func(w []byte, a []q8KBlock, per int, out *[4]float32)
	// q4Kx8 multiplies a group of eight rows with one activation row
	// (pairs: the eight sub-block sums of each activation block).
	q4Kx8 func(w []byte, a []q8KBlock, pairs []int32, out []float32)
	// q4_0x8in4 multiplies a Q4_0 group with four activation rows of per
	// blocks each (out[8k+r]).
	q4_0x8in4 func(w []byte, a []q8Block, per int, sums []int32, out *[32]float32)
	// quantQ8 quantizes activations (quantizeRowQ8) and, when sums is not
	// nil, sets each block's 8·Σ of its values there (Q4_0's offset).
	quantQ8 func(dst []q8Block, sums []int32, x []float32)
	// q8_0x8in4 is q4_0x8in4 for Q8_0 (no sums).
	q8_0x8in4 func(w []byte, a []q8Block, per int, out *[32]float32)
	// q4Kx8in4 is q4Kx8 for four activation rows of per blocks each (their
	// pairs likewise one after the other; out[8k+r]).
	q4Kx8in4 func(w []byte, a []q8KBlock, per int, pairs []int32, out *[32]float32)
	// quantQ8K quantizes activations for Q4_K (quantizeRowQ8K).
	quantQ8K func(dst []q8KBlock, x []float32)
}

var portableKernels = dotKernels{"portable", dotQ8_0, dotQ4_0, groupRowsBy(Q8_0, dotQ8_0), groupRowsBy(Q4_0, dotQ4_0), dotQ4K, q4KIn4By(dotQ4K), groupRowsQ4K(dotQ4K), in4By(groupRowsBy(Q4_0, dotQ4_0)), quantizeRowQ8Sums,
	q8In4By(groupRowsBy(Q8_0, dotQ8_0)), q4KIn4GroupBy(groupRowsQ4K(dotQ4K)), quantizeRowQ8K}

// q4KIn4GroupBy makes a four-input Q4_K group kernel of a one-input one.
func q4KIn4GroupBy(group func(w []byte, a []q8KBlock, pairs []int32, out []float32)) func(w []byte, a []q8KBlock, per int, pairs []int32, out *[32]float32) {
	return func(w []byte, a []q8KBlock, per int, pairs []int32, out *[32]float32) {
		for k := range 4 {
			group(w, a[k*per:(k+1)*per], pairs[8*k*per:8*(k+1)*per], out[8*k:8*k+8])
		}
	}
}

// q8In4By makes a four-input Q8_0 group kernel of a one-input one.
func q8In4By(group func(w []byte, a []q8Block, sums []int32, out []float32)) func(w []byte, a []q8Block, per int, out *[32]float32) {
	return func(w []byte, a []q8Block, per int, out *[32]float32) {
		for k := range 4 {
			group(w, a[k*per:(k+1)*per], nil, out[8*k:8*k+8])
		}
	}
}

// in4By makes a four-input group kernel of a one-input one.
func in4By(group func(w []byte, a []q8Block, sums []int32, out []float32)) func(w []byte, a []q8Block, per int, sums []int32, out *[32]float32) {
	return func(w []byte, a []q8Block, per int, sums []int32, out *[32]float32) {
		for k := range 4 {
			group(w, a[k*per:(k+1)*per], sums[k*per:(k+1)*per], out[8*k:8*k+8])
		}
	}
}

// groupRowsQ4K is groupRowsBy for Q4_K.
func groupRowsQ4K(dot func(w []byte, a []q8KBlock) float32) func(w []byte, a []q8KBlock, pairs []int32, out []float32) {
	return func(w []byte, a []q8KBlock, _ []int32, out []float32) {
		m := &Matrix{Type: Q4_K, Rows: len(out), rowBytes: 144 * len(a), group: len(out), grouped: len(out), groupBytes: len(w), data: w}
		row := make([]byte, 0, m.rowBytes)
		for k := range out {
			out[k] = dot(m.Row(row[:0], k), a)
		}
	}
}

// q4KIn4By makes a four-input kernel of a single-row one.
func q4KIn4By(dot func(w []byte, a []q8KBlock) float32) func(w []byte, a []q8KBlock, per int, out *[4]float32) {
	return func(w []byte, a []q8KBlock, per int, out *[4]float32) {
		for k := range 4 {
			out[k] = dot(w, a[k*per:(k+1)*per])
		}
	}
}

// groupRowsBy makes a group kernel of a single-row one: each row of the
// group is unpacked into ggml's layout and multiplied alone.
func groupRowsBy(t Type, dot func(w []byte, a []q8Block) float32) func(w []byte, a []q8Block, sums []int32, out []float32) {
	return func(w []byte, a []q8Block, _ []int32, out []float32) {
		rb := len(a) * t.BlockBytes()
		m := &Matrix{Type: t, Rows: len(out), rowBytes: rb, group: len(out), grouped: len(out), groupBytes: len(w), data: w}
		row := make([]byte, 0, rb)
		for k := range out {
			out[k] = dot(m.Row(row[:0], k), a)
		}
	}
}

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
