package model

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/dokja/dokja/tensor"
)

// pass describes the rows one forward pass computes: sequences of rows,
// concatenated. Inference runs sequences after the positions already in
// their caches (several at once when a server batches requests); training
// runs a batch of packed sequences of equal length, in which every
// document attends only to itself.
type pass struct {
	ids []int
	pos []int // RoPE position of each row
	// lo is the first key each row attends to, as an index into its
	// sequence's keys; a row's own key is at its sequence's past plus its
	// index in the sequence.
	lo []int
	// start[s] is the first row of sequence s; start[len-1] is the row count.
	start []int
	// caches, at inference, hold each sequence's earlier keys and values
	// and receive the new ones; nil in training.
	caches []*Cache
}

func (ps *pass) seqs() int { return len(ps.start) - 1 }

// firstKey is the first key row r attends to, its own key being at
// index self of its sequence's keys: its document's first (lo), or with
// a sliding window of w positions the first of the last w.
func (ps *pass) firstKey(r, self, w int) int {
	if w > 0 {
		return max(ps.lo[r], self-w+1)
	}
	return ps.lo[r]
}

// past is the number of positions sequence s has before this pass.
func (ps *pass) past(s int) int {
	if ps.caches == nil {
		return 0
	}
	return ps.caches[s].n
}

// layerTape records the activations of one layer that backward needs.
// qRaw and kRaw are the projections before a per-head norm (QKNorm);
// oRaw and dRaw the attention and MLP outputs before a post norm.
type layerTape struct {
	x, h1, q, k, v, p, att, x2, h2, gate, up, act []float32
	qRaw, kRaw, oRaw, dRaw                        []float32
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
// normalised hidden states (rows × hidden). At inference the sequences'
// keys and values are appended to their caches; with a tape (training)
// every activation that backward needs is kept in it.
func (m *Model) forward(ps *pass, tp *tape) []float32 {
	c := m.Config
	rows, d := len(ps.ids), c.HiddenSize
	T := rows / ps.seqs()
	hq, hkv, hd, ff := c.NumAttentionHeads, c.NumKeyValueHeads, c.HeadDim, c.IntermediateSize
	qd, kvd := hq*hd, hkv*hd
	eps := float32(c.RMSNormEps)
	k := m.K
	rot, rotLocal := c.Rotary(), c.localRotary()
	plans, err := c.layerPlans()
	if err != nil {
		panic("model: " + err.Error() + " (the configuration was not validated)")
	}

	alloc := func(n int) []float32 { return make([]float32, n) }
	if tp != nil {
		alloc = tp.mem.get
	}
	x := alloc(rows * d)
	for t, id := range ps.ids {
		copy(x[t*d:(t+1)*d], m.Embed[id*d:(id+1)*d])
	}
	if s := c.embedScale(); s != 1 {
		tensor.Scale(x, s)
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
	qkNorm := c.QKNorm()
	if qkNorm && tp == nil {
		lt.qRaw, lt.kRaw = make([]float32, rows*qd), make([]float32, rows*kvd)
	}
	for li := range m.Layers {
		l := &m.Layers[li]
		if tp != nil {
			lt = layerTape{
				x: alloc(rows * d), h1: alloc(rows * d), q: alloc(rows * qd), k: alloc(rows * kvd), v: alloc(rows * kvd),
				p: alloc(ps.seqs() * hq * T * T), att: alloc(rows * qd), x2: alloc(rows * d), h2: alloc(rows * d),
				gate: alloc(rows * ff), up: alloc(rows * ff), act: alloc(rows * ff),
			}
			if qkNorm {
				lt.qRaw, lt.kRaw = alloc(rows*qd), alloc(rows*kvd)
			}
			if l.PostAttnNorm != nil {
				lt.oRaw, lt.dRaw = alloc(rows*d), alloc(rows*d)
			}
			copy(lt.x, x)
		}
		// norm is the pre-norm of a sublayer: the residual stream itself
		// where the architecture has none.
		norm := func(dst, src, w []float32) {
			if w == nil {
				copy(dst, src)
			} else {
				tensor.RMSNorm(dst, src, w, eps)
			}
		}
		// post adds a sublayer's output to the residual stream, through
		// its post norm where there is one (kept raw for backward).
		post := func(out, raw, w []float32) {
			if w != nil {
				if raw != nil {
					copy(raw, out)
				}
				tensor.RMSNorm(out, out, w, eps)
			}
			if r := c.residualScale(); r != 1 {
				tensor.Scale(out, r)
			}
			tensor.Add(x, out)
		}
		plan := plans[li]
		norm(lt.h1, x, l.AttnNorm)
		if qkNorm {
			// Each head's queries and keys are normalised (rows of head_dim
			// values) before RoPE.
			l.Q.apply(k, lt.qRaw, lt.h1, rows, qd, d)
			l.K.apply(k, lt.kRaw, lt.h1, rows, kvd, d)
			tensor.RMSNorm(lt.q, lt.qRaw, l.QNorm, eps)
			tensor.RMSNorm(lt.k, lt.kRaw, l.KNorm, eps)
		} else {
			l.Q.apply(k, lt.q, lt.h1, rows, qd, d)
			l.K.apply(k, lt.k, lt.h1, rows, kvd, d)
		}
		l.V.apply(k, lt.v, lt.h1, rows, kvd, d)
		if !plan.noRoPE {
			r := rot
			if plan.local {
				r = rotLocal
			}
			r.Apply(lt.q, hq, hd, ps.pos)
			r.Apply(lt.k, hkv, hd, ps.pos)
		}
		for s, cache := range ps.caches {
			a, b := ps.start[s]*kvd, ps.start[s+1]*kvd
			cache.appendRows(li, lt.k[a:b], lt.v[a:b])
		}
		m.attention(ps, li, plan.window, lt.q, lt.k, lt.v, lt.p, lt.att)
		l.O.apply(k, out, lt.att, rows, d, qd)
		post(out, lt.oRaw, l.PostAttnNorm)
		if tp != nil {
			copy(lt.x2, x)
		}
		norm(lt.h2, x, l.MLPNorm)
		if l.Experts != nil {
			m.moeMLP(l, out, lt.h2, rows)
		} else {
			l.Gate.apply(k, lt.gate, lt.h2, rows, ff, d)
			l.Up.apply(k, lt.up, lt.h2, rows, ff, d)
			if c.HiddenAct == "gelu_pytorch_tanh" {
				tensor.GeGLU(lt.act, lt.gate, lt.up)
			} else {
				tensor.SwiGLU(lt.act, lt.gate, lt.up)
			}
			l.Down.apply(k, out, lt.act, rows, d, ff)
		}
		post(out, lt.dRaw, l.PostMLPNorm)
		if tp != nil {
			tp.layers[li] = lt
		}
	}
	for s, cache := range ps.caches {
		cache.n += ps.start[s+1] - ps.start[s]
	}
	tensor.RMSNorm(out, x, m.Norm, eps)
	if tp != nil {
		tp.xF, tp.hF = x, out
	}
	return out
}

// attention computes softmax(q·kᵀ/√hd)·v per sequence and query head over
// each row's window of keys [lo, past+t] (or its last window keys, for a
// sliding-window layer; window 0 is none), with matrix products: the
// scores of masked keys are computed and discarded, which costs less than
// scalar loops. Keys and values come from the sequence's cache at
// inference (layer li) and from this pass's rows in training. probs, when
// not nil (training: sequences of equal length T), receives the
// probabilities (sequences × heads × T × T) for backward.
func (m *Model) attention(ps *pass, li, window int, q, k, v, probs, att []float32) {
	c := m.Config
	hq, hkv, hd := c.NumAttentionHeads, c.NumKeyValueHeads, c.HeadDim
	qd, kvd := hq*hd, hkv*hd
	group := hq / hkv
	scale := c.attnScale()
	kern := m.K
	if qa, ok := kern.(tensor.QueryAttender); ok && probs == nil && ps.caches != nil && ps.oneRowEach() &&
		m.attendCached(qa, ps, li, window, q, att, scale) {
		return
	}
	// Each sequence's cached keys and values for this layer, in float32
	// (a half cache is widened once here for all its heads).
	var cached [][2][]float32
	if ps.caches != nil {
		cached = make([][2][]float32, ps.seqs())
		for s, cache := range ps.caches {
			k, v := cache.layer(li, ps.past(s)+ps.start[s+1]-ps.start[s], kvd)
			cached[s] = [2][]float32{k, v}
		}
	}
	tensor.ParallelFor(ps.seqs()*hq, 1, func(lo, hi int) {
		var scratch []float32
		for job := lo; job < hi; job++ {
			s, head := job/hq, job%hq
			kvh := head / group
			r0, T := ps.start[s], ps.start[s+1]-ps.start[s]
			if T == 0 {
				continue
			}
			// Caches already hold this pass's keys; their Len moves on after
			// the last layer.
			past := ps.past(s)
			keys, values := k[r0*kvd:], v[r0*kvd:]
			if cached != nil {
				keys, values = cached[s][0], cached[s][1]
			}
			total := past + T
			var p []float32
			if probs != nil {
				p = probs[job*T*total : (job+1)*T*total]
			} else {
				if cap(scratch) < T*total {
					scratch = make([]float32, T*total)
				}
				p = scratch[:T*total]
			}
			kern.Gemm(false, true, T, total, hd, scale, q[r0*qd+head*hd:], qd, keys[kvh*hd:], kvd, 0, p, total)
			for t := range T {
				row := p[t*total : (t+1)*total]
				from, to := ps.firstKey(r0+t, past+t, window), past+t+1
				clear(row[:from])
				tensor.Softmax(row[from:to])
				clear(row[to:])
			}
			kern.Gemm(false, false, T, hd, total, 1, p, total, values[kvh*hd:], kvd, 0, att[r0*qd+head*hd:], qd)
		}
	})
}

// oneRowEach reports whether every sequence in the pass has one new row:
// a decode step.
func (ps *pass) oneRowEach() bool {
	for s := range ps.seqs() {
		if ps.start[s+1]-ps.start[s] != 1 {
			return false
		}
	}
	return true
}

// scorePool recycles attendCached's score buffers (heads × context floats).
var scorePool = sync.Pool{New: func() any { return new([]float32) }}

// attendCached is attention for a decode step through a fused kernel:
// work is cut by key heads rather than query heads, so that each piece
// sweeps its part of the cache once, row after row, for all the query
// heads reading it. It reports false, and the general path then redoes
// the whole step, when the kernel refuses the shape.
func (m *Model) attendCached(qa tensor.QueryAttender, ps *pass, li, window int, q, att []float32, scale float32) bool {
	c := m.Config
	hq, hkv, hd := c.NumAttentionHeads, c.NumKeyValueHeads, c.HeadDim
	qd, kvd := hq*hd, hkv*hd
	group := hq / hkv
	var refused atomic.Bool
	tensor.ParallelFor(ps.seqs()*hkv, 1, func(lo, hi int) {
		buf := scorePool.Get().(*[]float32)
		defer scorePool.Put(buf)
		for u := lo; u < hi; {
			s, kv0 := u/hkv, u%hkv
			kv1 := min(hkv, kv0+hi-u)
			u += kv1 - kv0
			r := ps.start[s]
			from := ps.firstKey(r, ps.past(s), window)
			n := ps.past(s) + 1 - from
			heads := (kv1 - kv0) * group
			if cap(*buf) < heads*n {
				*buf = make([]float32, heads*n)
			}
			cache := ps.caches[s]
			off := from*kvd + kv0*hd
			qs, out, scores := q[r*qd+kv0*group*hd:], att[r*qd+kv0*group*hd:], (*buf)[:heads*n]
			var ok bool
			if cache.half {
				ok = qa.AttendQueryF16(qs, cache.hk[li][off:], cache.hv[li][off:], scores, out, heads, group, hd, kvd, n, scale)
			} else {
				ok = qa.AttendQuery(qs, cache.k[li][off:], cache.v[li][off:], scores, out, heads, group, hd, kvd, n, scale)
			}
			if !ok {
				refused.Store(true)
				return
			}
		}
	})
	return !refused.Load()
}

// Forward returns the logits [len(ids)][vocab] of a token sequence, each
// position attending to itself and the positions before it.
func (m *Model) Forward(ids []int) ([][]float32, error) {
	return m.Step(m.NewCache(), ids, true)
}

// Step runs ids at the positions after those in the cache, appends their
// keys and values to it, and returns the logits of every new position
// (all true) or of the last one only. Step, StepBatch and training share
// forward, the model's one definition of the forward pass.
func (m *Model) Step(cache *Cache, ids []int, all bool) ([][]float32, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	out, err := m.StepBatch([]*Cache{cache}, [][]int{ids}, []bool{all})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// StepBatch runs several sequences in one pass, each after the positions
// in its own cache: the weights are read once for all of them, which is
// what makes serving concurrent requests cheaper than serving them in
// turn. For each sequence it returns the logits of all its new positions
// (all[s]) or of the last one. A sequence may have no new ids (nil logits).
// It is HiddenBatch followed by one product with the output head.
func (m *Model) StepBatch(caches []*Cache, ids [][]int, all []bool) ([][][]float32, error) {
	hidden, err := m.HiddenBatch(caches, ids, all)
	if err != nil {
		return nil, err
	}
	var rows [][]float32
	for _, h := range hidden {
		rows = append(rows, h...)
	}
	logits := m.Logits(rows)
	out := make([][][]float32, len(ids))
	i := 0
	for s, h := range hidden {
		if len(h) > 0 {
			out[s] = logits[i : i+len(h) : i+len(h)]
			i += len(h)
		}
	}
	return out, nil
}

// HiddenBatch is StepBatch without the output head: for each sequence it
// returns the final normalised hidden states (rows of hidden_size) of all
// its new positions (all[s]) or of the last one. Embeddings, encoders and
// other heads start from these.
func (m *Model) HiddenBatch(caches []*Cache, ids [][]int, all []bool) ([][][]float32, error) {
	if len(caches) != len(ids) || len(all) != len(ids) {
		return nil, fmt.Errorf("step: %d caches, %d id lists and %d flags", len(caches), len(ids), len(all))
	}
	d := m.Config.HiddenSize
	ps := &pass{start: []int{0}}
	for s, seq := range ids {
		if err := m.checkIDs(seq, "token"); err != nil {
			return nil, fmt.Errorf("sequence %d: %w", s, err)
		}
		past := caches[s].n
		for t, id := range seq {
			ps.ids = append(ps.ids, id)
			ps.pos = append(ps.pos, past+t)
			ps.lo = append(ps.lo, 0)
		}
		ps.start = append(ps.start, len(ps.ids))
	}
	ps.caches = caches
	out := make([][][]float32, len(ids))
	if len(ps.ids) == 0 {
		return out, nil
	}
	h := m.forward(ps, nil)
	for s := range ids {
		from, to := ps.start[s], ps.start[s+1]
		if to > from && !all[s] {
			from = to - 1
		}
		for r := from; r < to; r++ {
			out[s] = append(out[s], h[r*d:(r+1)*d:(r+1)*d])
		}
	}
	return out, nil
}

// Logits applies the output head to rows of final hidden states, in one
// product: a row of vocab_size logits for each.
func (m *Model) Logits(hidden [][]float32) [][]float32 {
	d, V := m.Config.HiddenSize, m.Config.VocabSize
	if len(hidden) == 0 {
		return nil
	}
	hs := make([]float32, len(hidden)*d)
	for i, h := range hidden {
		copy(hs[i*d:(i+1)*d], h)
	}
	flat := make([]float32, len(hidden)*V)
	m.Head.apply(m.K, flat, hs, len(hidden), V, d)
	if s := m.Config.logitScale(); s != 1 {
		tensor.Scale(flat, s)
	}
	m.Config.softcap(flat)
	out := make([][]float32, len(hidden))
	for i := range out {
		out[i] = flat[i*V : (i+1)*V : (i+1)*V]
	}
	return out
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
