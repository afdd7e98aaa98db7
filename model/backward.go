package model

import (
	"errors"
	"fmt"
	"math"

	"github.com/dokja/dokja/tensor"
)

// Batch is a training batch: Seqs sequences of equal length, concatenated,
// with the next-token target of every input. A Sep token starts a new
// document: from it on, positions restart at 0 and tokens attend only to
// their own document, so packed documents do not see each other. Sep < 0
// means no document boundaries.
type Batch struct {
	Inputs, Targets []int
	Seqs            int
	Sep             int
}

// pass turns the batch into rows with per-document positions and windows.
func (b *Batch) pass(m *Model) (*pass, error) {
	n := len(b.Inputs)
	if b.Seqs <= 0 || n == 0 || n%b.Seqs != 0 {
		return nil, fmt.Errorf("batch: %d inputs do not split into %d sequences", n, b.Seqs)
	}
	if len(b.Targets) != n {
		return nil, fmt.Errorf("batch: %d targets for %d inputs", len(b.Targets), n)
	}
	if err := m.checkIDs(b.Inputs, "input"); err != nil {
		return nil, err
	}
	if err := m.checkIDs(b.Targets, "target"); err != nil {
		return nil, err
	}
	T := n / b.Seqs
	ps := &pass{ids: b.Inputs, pos: make([]int, n), lo: make([]int, n), start: make([]int, b.Seqs+1)}
	for s := range ps.start {
		ps.start[s] = s * T
	}
	for s := range b.Seqs {
		start := 0
		for t := range T {
			i := s*T + t
			if b.Inputs[i] == b.Sep {
				start = t
			}
			ps.pos[i], ps.lo[i] = t-start, start
		}
	}
	return ps, nil
}

// NewGrads returns a model-shaped set of zero gradients for m (tied
// embeddings stay tied, so both uses add into one tensor).
func (m *Model) NewGrads() *Model {
	g := &Model{Config: m.Config, Layers: make([]Layer, len(m.Layers)), K: m.K}
	src := m.specs()
	for i, s := range g.specs() {
		*s.dst = make([]float32, len(*src[i].dst))
	}
	if m.Config.TieWordEmbeddings {
		g.Head.W = g.Embed
	}
	return g
}

var errQuantized = errors.New("model: a model with quantized weights can only decode (load it without KeepQuantized to train or save it)")

// lossRows is how many rows of logits the loss computes at a time, to
// bound memory (rows × vocab floats) on large vocabularies.
const lossRows = 128

// Loss returns the summed cross-entropy of the batch's targets (natural
// log) without computing gradients, for validation.
func (m *Model) Loss(b *Batch) (float64, error) {
	if m.Head.Q != nil {
		return 0, errQuantized
	}
	ps, err := b.pass(m)
	if err != nil {
		return 0, err
	}
	h := m.forward(ps, nil)
	return m.crossEntropy(h, b.Targets, nil, nil, 0, nil), nil
}

// LossAndGrad runs the batch forward and backward, adds scale times the
// gradient of the summed cross-entropy into g (from NewGrads), and
// returns the summed loss. With scale 1/tokens over all micro-batches of
// a step, g ends as the gradient of the mean loss: accumulation equals
// one large batch.
func (m *Model) LossAndGrad(b *Batch, g *Model, scale float32) (float64, error) {
	if m.quantized() {
		return 0, errQuantized
	}
	if m.Config.IsMoE() {
		return 0, errMoETraining
	}
	if m.Config.FinalLogitSoftcapping != nil {
		return 0, errors.New("model: training with final_logit_softcapping is not supported (inference only)")
	}
	ps, err := b.pass(m)
	if err != nil {
		return 0, err
	}
	mem := new(arena)
	if m.mem.mu.TryLock() {
		mem = &m.mem.a
		defer func() { mem.next = 0; m.mem.mu.Unlock() }()
	}
	tp := &tape{mem: mem}
	h := m.forward(ps, tp)
	dh := mem.get(len(h))
	loss := m.crossEntropy(h, b.Targets, dh, g.Head.W, scale, mem)
	m.backward(ps, tp, dh, g)
	return loss, nil
}

// crossEntropy sums −log softmax(h·Headᵀ)[target] over rows. With dh not
// nil it also writes scale·∂loss/∂h into dh and adds scale·∂loss/∂Head
// into dHead.
func (m *Model) crossEntropy(h []float32, targets []int, dh, dHead []float32, scale float32, mem *arena) float64 {
	d, V := m.Config.HiddenSize, m.Config.VocabSize
	ls := m.Config.logitScale() // µP's logits_scaling, folded into the products
	rows := len(targets)
	var logits []float32
	if mem != nil {
		logits = mem.get(min(rows, lossRows) * V)
	} else {
		logits = make([]float32, min(rows, lossRows)*V)
	}
	losses := make([]float64, rows)
	for r0 := 0; r0 < rows; r0 += lossRows {
		n := min(lossRows, rows-r0)
		hc := h[r0*d : (r0+n)*d]
		m.K.Gemm(false, true, n, V, d, ls, hc, d, m.Head.W, d, 0, logits, V)
		m.Config.softcap(logits[:n*V])
		tensor.ParallelFor(n, 8, func(lo, hi int) {
			for r := lo; r < hi; r++ {
				row := logits[r*V : (r+1)*V]
				mx := row[0]
				for _, v := range row {
					mx = max(mx, v)
				}
				tgt := targets[r0+r]
				logit := row[tgt]
				var sum float64
				if dh == nil {
					for _, v := range row {
						sum += float64(tensor.Exp32(v - mx))
					}
				} else {
					// One exponential per entry: keep e^(v−max) for the gradient.
					for i, v := range row {
						e := tensor.Exp32(v - mx)
						row[i] = e
						sum += float64(e)
					}
				}
				losses[r0+r] = float64(mx) + math.Log(sum) - float64(logit)
				if dh == nil {
					continue
				}
				f := scale / float32(sum)
				for i := range row {
					row[i] *= f
				}
				row[tgt] -= scale
			}
		})
		if dh != nil {
			m.K.Gemm(true, false, V, d, n, ls, logits, V, hc, d, 1, dHead, d)
			m.K.Gemm(false, false, n, d, V, ls, logits, V, m.Head.W, d, 0, dh[r0*d:], d)
		}
	}
	var total float64
	for _, l := range losses {
		total += l
	}
	return total
}

// backward propagates dh, the gradient of the final normalised hidden
// states, through the layers recorded in tp and adds the parameter
// gradients into g.
func (m *Model) backward(ps *pass, tp *tape, dh []float32, g *Model) {
	c := m.Config
	rows, d := len(ps.ids), c.HiddenSize
	hq, hkv, hd, ff := c.NumAttentionHeads, c.NumKeyValueHeads, c.HeadDim, c.IntermediateSize
	qd, kvd := hq*hd, hkv*hd
	eps := float32(c.RMSNormEps)
	k := m.K
	rot, rotLocal := c.Rotary(), c.localRotary()
	plans, err := c.layerPlans()
	if err != nil {
		panic("model: " + err.Error() + " (the configuration was not validated)")
	}

	// dx is the gradient of the residual stream.
	mem := tp.mem
	dx := mem.zeros(rows * d)
	tensor.RMSNormBackward(dx, g.Norm, dh, tp.xF, m.Norm, eps)
	dIn := mem.get(rows * d)
	dq, dk, dv, datt := mem.get(rows*qd), mem.get(rows*kvd), mem.get(rows*kvd), mem.get(rows*qd)
	dgate, dup, dact := mem.get(rows*ff), mem.get(rows*ff), mem.get(rows*ff)
	// linearBack adds ∂/∂W and ∂/∂B of out = in·Wᵀ + B into dl, and
	// writes (beta 0) or adds (beta 1) ∂/∂in into dIn.
	linearBack := func(dOut, in []float32, l, dl *Linear, dIn []float32, nOut, nIn int, beta float32) {
		k.Gemm(true, false, nOut, nIn, rows, 1, dOut, nOut, in, nIn, 1, dl.W, nIn)
		if dl.B != nil {
			tensor.AddColumnSums(dl.B, dOut)
		}
		k.Gemm(false, false, rows, nIn, nOut, 1, dOut, nOut, l.W, nIn, beta, dIn, nIn)
	}
	var dqn, dkn, dRaw []float32
	if c.QKNorm() {
		dqn, dkn = mem.get(rows*qd), mem.get(rows*kvd)
	}
	if c.postNorms() {
		dRaw = mem.get(rows * d)
	}
	// postBack is the gradient of a sublayer's output before its post
	// norm (raw), given dx, that of the post norm's output.
	var dScaled []float32
	if c.residualScale() != 1 {
		dScaled = mem.get(rows * d)
	}
	postBack := func(raw, w, dw []float32) []float32 {
		dOut := dx
		if r := c.residualScale(); r != 1 {
			// µP: the sublayer's output was multiplied by r.
			copy(dScaled, dx)
			tensor.Scale(dScaled, r)
			dOut = dScaled
		}
		if w == nil {
			return dOut
		}
		clear(dRaw)
		tensor.RMSNormBackward(dRaw, dw, dOut, raw, w, eps)
		return dRaw
	}
	// preBack adds into dx the gradient through a sublayer's pre norm
	// (x itself where there is none), given dIn, that of its output.
	preBack := func(x, w, dw []float32) {
		if w == nil {
			tensor.Add(dx, dIn)
		} else {
			tensor.RMSNormBackward(dx, dw, dIn, x, w, eps)
		}
	}
	for li := len(m.Layers) - 1; li >= 0; li-- {
		l, gl, lt := &m.Layers[li], &g.Layers[li], &tp.layers[li]
		// MLP: x += pn(down(silu(gate(h2))·up(h2))), h2 = norm(x2).
		linearBack(postBack(lt.dRaw, l.PostMLPNorm, gl.PostMLPNorm), lt.act, &l.Down, &gl.Down, dact, d, ff, 0)
		if c.HiddenAct == "gelu_pytorch_tanh" {
			tensor.GeGLUBackward(dgate, dup, dact, lt.gate, lt.up)
		} else {
			tensor.SwiGLUBackward(dgate, dup, dact, lt.gate, lt.up)
		}
		linearBack(dgate, lt.h2, &l.Gate, &gl.Gate, dIn, ff, d, 0)
		linearBack(dup, lt.h2, &l.Up, &gl.Up, dIn, ff, d, 1)
		preBack(lt.x2, l.MLPNorm, gl.MLPNorm)
		// Attention: x2 = x + pn(o(attention(rope(qn(q(h1))), rope(kn(k(h1))), v(h1)))).
		linearBack(postBack(lt.oRaw, l.PostAttnNorm, gl.PostAttnNorm), lt.att, &l.O, &gl.O, datt, d, qd, 0)
		m.attentionBackward(ps, lt, plans[li].window, datt, dq, dk, dv)
		if !plans[li].noRoPE {
			r := rot
			if plans[li].local {
				r = rotLocal
			}
			r.Transpose(dq, hq, hd, ps.pos)
			r.Transpose(dk, hkv, hd, ps.pos)
		}
		dqIn, dkIn := dq, dk
		if l.QNorm != nil {
			// Per head: rows of head_dim values, the projections' outputs
			// kept before normalisation.
			clear(dqn)
			clear(dkn)
			tensor.RMSNormBackward(dqn, gl.QNorm, dq, lt.qRaw, l.QNorm, eps)
			tensor.RMSNormBackward(dkn, gl.KNorm, dk, lt.kRaw, l.KNorm, eps)
			dqIn, dkIn = dqn, dkn
		}
		linearBack(dqIn, lt.h1, &l.Q, &gl.Q, dIn, qd, d, 0)
		linearBack(dkIn, lt.h1, &l.K, &gl.K, dIn, kvd, d, 1)
		linearBack(dv, lt.h1, &l.V, &gl.V, dIn, kvd, d, 1)
		preBack(lt.x, l.AttnNorm, gl.AttnNorm)
	}
	// Rows are added in order, so a token seen twice sums deterministically.
	if s := c.embedScale(); s != 1 {
		tensor.Scale(dx, s)
	}
	for t, id := range ps.ids {
		tensor.Add(g.Embed[id*d:(id+1)*d], dx[t*d:(t+1)*d])
	}
}

// attentionBackward writes the gradients of the (post-RoPE) queries, keys
// and values given datt, the gradient of the attention output. Per
// sequence and key-value head, so that the heads of a group add into
// their shared dk and dv without races. With S = q·kᵀ·scale, P =
// softmax(S) and O = P·v: dP = dO·vᵀ, dv = Pᵀ·dO, dS = P ⊙ (dP − Σ dP⊙P),
// dq = dS·k·scale, dk = dSᵀ·q·scale.
func (m *Model) attentionBackward(ps *pass, lt *layerTape, window int, datt, dq, dk, dv []float32) {
	c := m.Config
	hq, hkv, hd := c.NumAttentionHeads, c.NumKeyValueHeads, c.HeadDim
	qd, kvd := hq*hd, hkv*hd
	T := len(ps.ids) / ps.seqs()
	group := hq / hkv
	scale := c.attnScale()
	k := m.K
	tensor.ParallelFor(ps.seqs()*hkv, 1, func(lo, hi int) {
		ds := make([]float32, T*T)
		for job := lo; job < hi; job++ {
			b, kvh := job/hkv, job%hkv
			kb, vb := lt.k[b*T*kvd+kvh*hd:], lt.v[b*T*kvd+kvh*hd:]
			dkb, dvb := dk[b*T*kvd+kvh*hd:], dv[b*T*kvd+kvh*hd:]
			for head := kvh * group; head < (kvh+1)*group; head++ {
				beta := float32(1)
				if head == kvh*group {
					beta = 0
				}
				p := lt.p[(b*hq+head)*T*T : (b*hq+head+1)*T*T]
				do := datt[b*T*qd+head*hd:]
				qb := lt.q[b*T*qd+head*hd:]
				k.Gemm(false, true, T, T, hd, 1, do, qd, vb, kvd, 0, ds, T)
				k.Gemm(true, false, T, hd, T, 1, p, T, do, qd, beta, dvb, kvd)
				for t := range T {
					pr, dr := p[t*T:(t+1)*T], ds[t*T:(t+1)*T]
					from, to := ps.firstKey(b*T+t, t, window), t+1
					var dot float32
					for u := from; u < to; u++ {
						dot += pr[u] * dr[u]
					}
					for u := range dr {
						dr[u] = pr[u] * (dr[u] - dot)
					}
				}
				k.Gemm(false, false, T, hd, T, scale, ds, T, kb, kvd, 0, dq[b*T*qd+head*hd:], qd)
				k.Gemm(true, false, T, hd, T, scale, ds, T, qb, qd, beta, dkb, kvd)
			}
		}
	})
}
