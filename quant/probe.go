package quant

import "sync/atomic"

// A RoundingProbe sees the activations of a product as they are
// quantized, before any weight meets them: x holds the n input rows
// (n×m.Cols floats), q the quantized values in the same layout, and
// scale, per block of q (32 values for Q8_0 and Q4_0 weights, 256 for
// Q4_K), the factor each value was multiplied by before rounding to the
// nearest integer (ties to even), so x[i]·scale[i/block] computed in
// float32 is the exact value that was rounded. The probe may move
// quantized values by one step (rounding them the other way) and reports
// whether it changed any.
//
// Two implementations that sum the same floats in another order can
// round an activation that sits within a few ulps of a rounding tie to
// neighbouring integers; the logits then differ by far more than the
// floating-point noise. The comparison with llama.cpp (package model's
// TestMatchesLlamaCpp) uses a probe to find such ties and to show that a
// deviation is exactly one of them.
type RoundingProbe func(m *Matrix, x, scale []float32, q []int8) (changed bool)

var probe atomic.Pointer[RoundingProbe]

// SetRoundingProbe installs p for every product in the process; nil
// removes it. It is a diagnostic for tests: a product with a probe copies
// its quantized activations out and back, and products running on other
// goroutines at the time see the probe too.
func SetRoundingProbe(p RoundingProbe) {
	if p == nil {
		probe.Store(nil)
		return
	}
	probe.Store(&p)
}

// probeQ8 runs the probe, if one is set, over Q8_0 activation blocks of
// n rows, restoring sums (8·Σ of each block, when not nil) after a change.
func (m *Matrix) probeQ8(x []float32, n int, acts []q8Block, sums []int32) {
	pp := probe.Load()
	if pp == nil {
		return
	}
	q := make([]int8, 32*len(acts))
	scale := make([]float32, len(acts))
	for b := range acts {
		copy(q[32*b:], acts[b].qs[:])
		// The quantizer's multiplier: 127/amax over the block (0 for an
		// all-zero block).
		var amax float32
		for _, v := range x[32*b : 32*b+32] {
			amax = max(amax, abs32(v))
		}
		if amax != 0 {
			scale[b] = 127 / amax
		}
	}
	if !(*pp)(m, x[:n*m.Cols], scale, q) {
		return
	}
	for b := range acts {
		copy(acts[b].qs[:], q[32*b:])
		if sums != nil {
			var s int32
			for _, v := range acts[b].qs {
				s += int32(v)
			}
			sums[b] = 8 * s
		}
	}
}

// probeQ8K runs the probe, if one is set, over Q8_K activation blocks of
// n rows, restoring the blocks' sums after a change.
func (m *Matrix) probeQ8K(x []float32, n int, acts []q8KBlock) {
	pp := probe.Load()
	if pp == nil {
		return
	}
	q := make([]int8, 256*len(acts))
	scale := make([]float32, len(acts))
	for b := range acts {
		copy(q[256*b:], acts[b].qs[:])
		if acts[b].d != 0 {
			// quantizeRowQ8K's iscale, -127/mx: d is its reciprocal, but
			// recomputing it from x avoids a second rounding.
			var amax, mx float32
			for _, v := range x[256*b : 256*b+256] {
				if a := abs32(v); a > amax {
					amax, mx = a, v
				}
			}
			scale[b] = -127 / mx
		}
	}
	if !(*pp)(m, x[:n*m.Cols], scale, q) {
		return
	}
	for b := range acts {
		blk := &acts[b]
		copy(blk.qs[:], q[256*b:])
		for j := range 16 {
			s := 0
			for _, v := range blk.qs[16*j : 16*j+16] {
				s += int(v)
			}
			blk.bsums[j] = int16(s)
		}
	}
}
