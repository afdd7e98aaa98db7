package model

import (
	"fmt"
	"math"
	"sync"

	"github.com/dokja/dokja/tensor"
)

// pass describes the rows one forward pass computes: seqs sequences of
// equal length, concatenated. Inference runs one sequence after the
// positions already in a cache; training runs a batch of packed sequences
// in which every document attends only to itself.
type pass struct {
	ids  []int
	seqs int
	pos  []int // RoPE position of each row
	// lo is the first key each row attends to, as an index into its
	// sequence's keys; a row's own key is at past + its index in the sequence.
	lo   []int
	past int
}

// layerTape records the activations of one layer that backward needs.
type layerTape struct {
	x, h1, q, k, v, p, att, x2, h2, gate, up, act []float32
}

// tape records a forward pass for Backward; nil at inference.
type tape struct {
	layers []layerTape
	xF, hF []float32 // final residual stream and its normalisation
	mem    *arena
}

// arena hands out float32 buffers and takes them all back at once, so
// that training steps reuse the previous step's gigabytes instead of
// allocating (and zeroing, and collecting) them again.
type arena struct {
	bufs [][]float32
	next int
}

// trainMem is the model's arena for LossAndGrad. It is held by the
// model rather than a sync.Pool, which empties at every garbage
// collection: giving back and re-faulting the pages cost a tenth of a
// training step. Concurrent calls find it locked and use a fresh one.
type trainMem struct {
	mu sync.Mutex
	a  arena
}

// get returns a buffer of n floats with unspecified contents.
func (a *arena) get(n int) []float32 {
	if a.next == len(a.bufs) {
		a.bufs = append(a.bufs, nil)
	}
	b := a.bufs[a.next]
	if cap(b) < n {
		b = make([]float32, n)
		a.bufs[a.next] = b
	}
	a.next++
	return b[:n]
}

// zeros returns a zeroed buffer of n floats.
func (a *arena) zeros(n int) []float32 {
	b := a.get(n)
	clear(b)
	return b
}

// forward runs the decoder over the rows of ps and returns the final
// normalised hidden states (rows × hidden). With a cache (inference, one
// sequence) keys and values are appended to it; with a tape (training)
// every activation that backward needs is kept in it.
func (m *Model) forward(ps *pass, cache *Cache, tp *tape) []float32 {
	c := m.Config
	rows, d := len(ps.ids), c.HiddenSize
	T := rows / ps.seqs
	hq, hkv, hd, ff := c.NumAttentionHeads, c.NumKeyValueHeads, c.HeadDim, c.IntermediateSize
	qd, kvd := hq*hd, hkv*hd
	eps := float32(c.RMSNormEps)
	k := m.K

	alloc := func(n int) []float32 { return make([]float32, n) }
	if tp != nil {
		alloc = tp.mem.get
	}
	x := alloc(rows * d)
	for t, id := range ps.ids {
		copy(x[t*d:(t+1)*d], m.Embed[id*d:(id+1)*d])
	}
	var lt layerTape
	if tp == nil {
		lt = layerTape{
			h1: make([]float32, rows*d), q: make([]float32, rows*qd),
			k: make([]float32, rows*kvd), v: make([]float32, rows*kvd),
			att: make([]float32, rows*qd), h2: make([]float32, rows*d),
			gate: make([]float32, rows*ff), up: make([]float32, rows*ff),
		}
		lt.act = lt.gate
	} else {
		tp.layers = make([]layerTape, len(m.Layers))
	}
	out := alloc(rows * d)
	linear := func(out, in, w, bias []float32, nOut, nIn int) {
		k.Gemm(false, true, rows, nOut, nIn, 1, in, nIn, w, nIn, 0, out, nOut)
		if bias != nil {
			tensor.AddBias(out, bias)
		}
	}
	for li := range m.Layers {
		l := &m.Layers[li]
		if tp != nil {
			lt = layerTape{
				x: alloc(rows * d), h1: alloc(rows * d), q: alloc(rows * qd), k: alloc(rows * kvd), v: alloc(rows * kvd),
				p: alloc(ps.seqs * hq * T * T), att: alloc(rows * qd), x2: alloc(rows * d), h2: alloc(rows * d),
				gate: alloc(rows * ff), up: alloc(rows * ff), act: alloc(rows * ff),
			}
			copy(lt.x, x)
		}
		tensor.RMSNorm(lt.h1, x, l.AttnNorm, eps)
		linear(lt.q, lt.h1, l.Q, l.QBias, qd, d)
		linear(lt.k, lt.h1, l.K, l.KBias, kvd, d)
		linear(lt.v, lt.h1, l.V, l.VBias, kvd, d)
		tensor.RoPE(lt.q, hq, hd, ps.pos, c.RopeTheta)
		tensor.RoPE(lt.k, hkv, hd, ps.pos, c.RopeTheta)
		keys, values := lt.k, lt.v
		if cache != nil {
			cache.k[li] = append(cache.k[li], lt.k...)
			cache.v[li] = append(cache.v[li], lt.v...)
			keys, values = cache.k[li], cache.v[li]
		}
		m.attention(ps, lt.q, keys, values, lt.p, lt.att)
		linear(out, lt.att, l.O, l.OBias, d, qd)
		tensor.Add(x, out)
		if tp != nil {
			copy(lt.x2, x)
		}
		tensor.RMSNorm(lt.h2, x, l.MLPNorm, eps)
		linear(lt.gate, lt.h2, l.Gate, nil, ff, d)
		linear(lt.up, lt.h2, l.Up, nil, ff, d)
		tensor.SwiGLU(lt.act, lt.gate, lt.up)
		linear(out, lt.act, l.Down, nil, d, ff)
		tensor.Add(x, out)
		if tp != nil {
			tp.layers[li] = lt
		}
	}
	if cache != nil {
		cache.Len += rows
	}
	tensor.RMSNorm(out, x, m.Norm, eps)
	if tp != nil {
		tp.xF, tp.hF = x, out
	}
	return out
}

// attention computes softmax(q·kᵀ/√hd)·v per sequence and query head over
// each row's window of keys [lo, past+t], with matrix products: the
// scores of masked keys are computed and discarded, which costs less than
// scalar loops. probs, when not nil, receives the probabilities
// (seqs × heads × T × keys) for backward.
func (m *Model) attention(ps *pass, q, keys, values, probs, att []float32) {
	c := m.Config
	hq, hkv, hd := c.NumAttentionHeads, c.NumKeyValueHeads, c.HeadDim
	qd, kvd := hq*hd, hkv*hd
	T := len(ps.ids) / ps.seqs
	total := ps.past + T
	group := hq / hkv
	scale := float32(1 / math.Sqrt(float64(hd)))
	k := m.K
	tensor.ParallelFor(ps.seqs*hq, 1, func(lo, hi int) {
		var scratch []float32
		if probs == nil {
			scratch = make([]float32, T*total)
		}
		for job := lo; job < hi; job++ {
			b, head := job/hq, job%hq
			kvh := head / group
			p := scratch
			if probs != nil {
				p = probs[job*T*total : (job+1)*T*total]
			}
			qb := q[b*T*qd+head*hd:]
			kb, vb := keys[kvh*hd:], values[kvh*hd:]
			if ps.past == 0 {
				kb, vb = keys[b*T*kvd+kvh*hd:], values[b*T*kvd+kvh*hd:]
			}
			k.Gemm(false, true, T, total, hd, scale, qb, qd, kb, kvd, 0, p, total)
			for t := range T {
				row := p[t*total : (t+1)*total]
				from, to := ps.lo[b*T+t], ps.past+t+1
				clear(row[:from])
				tensor.Softmax(row[from:to])
				clear(row[to:])
			}
			k.Gemm(false, false, T, hd, total, 1, p, total, vb, kvd, 0, att[b*T*qd+head*hd:], qd)
		}
	})
}

// Forward returns the logits [len(ids)][vocab] of a token sequence, each
// position attending to itself and the positions before it.
func (m *Model) Forward(ids []int) ([][]float32, error) {
	return m.Step(m.NewCache(), ids, true)
}

// Step runs ids at the positions after those in the cache, appends their
// keys and values to it, and returns the logits of every new position
// (all true) or of the last one only. Step and training share forward,
// the model's one definition of the forward pass.
func (m *Model) Step(cache *Cache, ids []int, all bool) ([][]float32, error) {
	c := m.Config
	T, d, V := len(ids), c.HiddenSize, c.VocabSize
	if T == 0 {
		return nil, nil
	}
	if err := m.checkIDs(ids, "token"); err != nil {
		return nil, err
	}
	ps := &pass{ids: ids, seqs: 1, pos: make([]int, T), lo: make([]int, T), past: cache.Len}
	for t := range ps.pos {
		ps.pos[t] = cache.Len + t
	}
	h := m.forward(ps, cache, nil)
	rows, first := T, 0
	if !all {
		rows, first = 1, T-1
	}
	logits := make([]float32, rows*V)
	m.K.Gemm(false, true, rows, V, d, 1, h[first*d:], d, m.Head, d, 0, logits, V)
	out := make([][]float32, rows)
	for t := range rows {
		out[t] = logits[t*V : (t+1)*V]
	}
	return out, nil
}

func (m *Model) checkIDs(ids []int, what string) error {
	V := m.Config.VocabSize
	for i, id := range ids {
		if id < 0 || id >= V {
			return fmt.Errorf("%s %d at position %d is outside the vocabulary of %d", what, id, i, V)
		}
	}
	return nil
}
