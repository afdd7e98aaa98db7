package encoder

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/dokja/dokja/atomicfile"
	"github.com/dokja/dokja/internal/sysmem"
	"github.com/dokja/dokja/model"
	"github.com/dokja/dokja/safetensors"
	"github.com/dokja/dokja/tensor"
)

// Training ModernBERT: the masked-language objective on packed batches
// (model.Batch, with Targets < 0 where nothing is predicted), written as
// a forward pass that keeps its intermediates and a hand-derived
// backward pass, checked against PyTorch's autograd.

// Ignore is the target of a position without a prediction.
const Ignore = -1

// NewModernRandom returns a ModernBERT of the config.json in raw, with
// its masked-language head, initialised as Hugging Face's ModernBERT
// initialises: truncated normals of initializer_range (at most
// initializer_cutoff_factor deviations), the output projections of each
// layer and the head's dense with initializer_range/√(2·layers), norms
// at 1 and biases at 0.
func NewModernRandom(path string, raw []byte, seed uint64) (*ModernBERT, error) {
	c, all, err := parseModern(path, raw)
	if err != nil {
		return nil, err
	}
	m := newModern(c, all)
	m.hasHead = true
	n := 0
	for _, s := range m.specs() {
		n += numel(s.shape)
	}
	if err := sysmem.Check(fmt.Sprintf("an encoder of %d weights (float32)", n), 4*float64(n)); err != nil {
		return nil, err
	}
	m.initSpecs(m.specs(), seed)
	return m, nil
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// initSpecs gives the listed weights their initial values.
func (m *ModernBERT) initSpecs(specs []mspec, seed uint64) {
	c := &m.Config
	std := c.InitializerRange
	if std == 0 {
		std = model.InitStd
	}
	cut := c.InitializerCutoffFactor
	if cut == 0 {
		cut = 2
	}
	out := std / math.Sqrt(2*float64(c.NumHiddenLayers))
	r := rand.New(rand.NewPCG(seed, seed^0x9E3779B97F4A7C15))
	for _, s := range specs {
		data := make([]float32, numel(s.shape))
		switch {
		case len(s.shape) == 1 && (strings.HasSuffix(s.name, "norm.weight")):
			for i := range data {
				data[i] = 1
			}
		case len(s.shape) == 1: // biases
		default:
			sd := std
			if strings.HasSuffix(s.name, "attn.Wo.weight") || strings.HasSuffix(s.name, "mlp.Wo.weight") || s.name == "head.dense.weight" {
				sd = out
			}
			for i := range data {
				v := r.NormFloat64()
				for math.Abs(v) > cut {
					v = r.NormFloat64()
				}
				data[i] = float32(v * sd)
			}
		}
		*s.dst = data
	}
}

// EnsureHead gives m a freshly initialised masked-language head when its
// checkpoint had none (a ModernBertModel folder), so that it can train.
func (m *ModernBERT) EnsureHead(seed uint64) {
	if m.hasHead {
		return
	}
	body := len(m.specs())
	m.hasHead = true
	m.initSpecs(m.specs()[body:], seed)
}

// Params lists the weights in a fixed order under ModernBertForMaskedLM's
// names; Data aliases m's own slices.
func (m *ModernBERT) Params() []model.Param {
	var ps []model.Param
	for _, s := range m.specs() {
		ps = append(ps, model.Param{Name: s.name, Shape: s.shape, Data: *s.dst})
	}
	return ps
}

// NumParams counts the weights (the tied decoder once).
func (m *ModernBERT) NumParams() int {
	n := 0
	for _, s := range m.specs() {
		n += numel(s.shape)
	}
	return n
}

// NewGrads returns zero gradients shaped like m.
func (m *ModernBERT) NewGrads() *ModernBERT {
	g := newModern(m.Config, m.raw)
	g.hasHead, g.K, g.labels = m.hasHead, m.K, m.labels
	for _, s := range g.specs() {
		*s.dst = make([]float32, numel(s.shape))
	}
	return g
}

// Save writes m as a ModernBertForMaskedLM folder (ModernBertModel
// without the head, ModernBertForSequenceClassification with labels): config.json (as read, architectures set) and
// model.safetensors in float32.
func (m *ModernBERT) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cfg := map[string]any{}
	for k, v := range m.raw {
		cfg[k] = v
	}
	cfg["architectures"] = []string{"ModernBertForMaskedLM"}
	switch {
	case m.labels != nil:
		cfg["architectures"] = []string{"ModernBertForSequenceClassification"}
		l2i := map[string]int{}
		for i, l := range m.labels {
			l2i[l] = i
		}
		cfg["id2label"], cfg["label2id"] = m.Config.ID2Label, l2i
		if m.Config.ClassifierPooling != "" {
			cfg["classifier_pooling"] = m.Config.ClassifierPooling
		}
	case !m.hasHead:
		cfg["architectures"] = []string{"ModernBertModel"}
	}
	cfg["model_type"] = "modernbert"
	cfg["torch_dtype"] = "float32"
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	var ts []safetensors.Tensor
	for _, p := range m.Params() {
		ts = append(ts, safetensors.F32(p.Name, p.Shape, p.Data))
	}
	if err := safetensors.Write(filepath.Join(dir, "model.safetensors"), ts, map[string]string{"format": "pt"}); err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, "config.json"), append(data, '\n'))
}

// batchPass lays out a training batch: a Sep token starts a document.
func (m *ModernBERT) batchPass(b *model.Batch) (*mpass, error) {
	n := len(b.Inputs)
	if b.Seqs <= 0 || n == 0 || n%b.Seqs != 0 {
		return nil, fmt.Errorf("batch: %d inputs do not split into %d sequences", n, b.Seqs)
	}
	if len(b.Targets) != n {
		return nil, fmt.Errorf("batch: %d targets for %d inputs", len(b.Targets), n)
	}
	T := n / b.Seqs
	if T > m.Config.MaxPositionEmbeddings {
		return nil, fmt.Errorf("batch: sequences of %d tokens, the model takes at most %d", T, m.Config.MaxPositionEmbeddings)
	}
	if err := m.checkIDs(b.Inputs, "input"); err != nil {
		return nil, err
	}
	for _, t := range b.Targets {
		if t != Ignore && (t < 0 || t >= m.Config.VocabSize) {
			return nil, fmt.Errorf("encoder: target id %d outside the vocabulary of %d", t, m.Config.VocabSize)
		}
	}
	ps := &mpass{ids: b.Inputs, start: make([]int, b.Seqs+1), pos: make([]int, n), lo: make([]int, n), hi: make([]int, n)}
	for s := range b.Seqs {
		ps.start[s+1] = (s + 1) * T
		start := 0
		for t := range T {
			i := s*T + t
			if b.Inputs[i] == b.Sep && t > 0 {
				for u := start; u < t; u++ {
					ps.hi[s*T+u] = t
				}
				start = t
			}
			ps.pos[i], ps.lo[i] = t-start, start
		}
		for u := start; u < T; u++ {
			ps.hi[s*T+u] = T
		}
	}
	return ps, nil
}

var errNoHead = errors.New("encoder: the model has no masked-language head (EnsureHead adds one)")

// Loss returns the summed cross-entropy of the batch's targets (natural
// log; positions with Ignore left out).
func (m *ModernBERT) Loss(b *model.Batch) (float64, error) {
	if !m.hasHead {
		return 0, errNoHead
	}
	ps, err := m.batchPass(b)
	if err != nil {
		return 0, err
	}
	h := m.forward(ps, nil)
	loss, _ := m.mlm(h, b.Targets, nil, 0)
	return loss, nil
}

// LossAndGrad runs the batch forward and backward, adds scale times the
// gradient of the summed cross-entropy into g (from NewGrads) and returns
// the summed loss.
func (m *ModernBERT) LossAndGrad(b *model.Batch, g *ModernBERT, scale float32) (float64, error) {
	if !m.hasHead || !g.hasHead {
		return 0, errNoHead
	}
	ps, err := m.batchPass(b)
	if err != nil {
		return 0, err
	}
	tp := &mtape{}
	h := m.forward(ps, tp)
	loss, dh := m.mlm(h, b.Targets, g, scale)
	m.backward(tp, dh, g)
	return loss, nil
}

// mlmRows is how many rows of logits the loss holds at a time.
const mlmRows = 128

// mlm is the masked-language head and loss over the rows with a target:
// decoder(norm(gelu(dense(h)))). With g it also returns the gradient of
// scale times the loss with respect to the hidden states.
func (m *ModernBERT) mlm(hidden []float32, targets []int, g *ModernBERT, scale float32) (float64, []float32) {
	c := &m.Config
	H, V := c.HiddenSize, c.VocabSize
	eps := float32(c.NormEps)
	var rows []int
	for i, t := range targets {
		if t != Ignore {
			rows = append(rows, i)
		}
	}
	M := len(rows)
	hs := make([]float32, M*H)
	for j, r := range rows {
		copy(hs[j*H:(j+1)*H], hidden[r*H:(r+1)*H])
	}
	z := make([]float32, M*H)
	linear(m.K, z, hs, m.headW, m.headB, M, H, H)
	a := slices.Clone(z)
	gelu(a)
	y := slices.Clone(a)
	layerNorm(y, H, m.headNW, m.headNB, eps)
	var dy []float32
	if g != nil {
		dy = make([]float32, M*H)
	}
	logits := make([]float32, min(M, mlmRows)*V)
	var loss float64
	for r0 := 0; r0 < M; r0 += mlmRows {
		n := min(mlmRows, M-r0)
		lg := logits[:n*V]
		m.K.Gemm(false, true, n, V, H, 1, y[r0*H:], H, m.embed, H, 0, lg, V)
		if m.decB != nil {
			tensor.AddBias(lg, m.decB)
		}
		for j := range n {
			row := lg[j*V : (j+1)*V]
			t := targets[rows[r0+j]]
			lse := tensor.LogSumExp(row)
			loss += lse - float64(row[t])
			if g == nil {
				continue
			}
			for i, v := range row {
				row[i] = float32(math.Exp(float64(v)-lse)) * scale
			}
			row[t] -= scale
		}
		if g == nil {
			continue
		}
		m.K.Gemm(false, false, n, H, V, 1, lg, V, m.embed, H, 0, dy[r0*H:], H)
		m.K.Gemm(true, false, V, H, n, 1, lg, V, y[r0*H:], H, 1, g.embed, H)
		if g.decB != nil {
			tensor.AddColumnSums(g.decB, lg)
		}
	}
	if g == nil {
		return loss, nil
	}
	da := make([]float32, M*H)
	tensor.LayerNormBackward(da, g.headNW, g.headNB, dy, a, m.headNW, eps)
	for i, v := range z {
		da[i] *= geluGrad(v)
	}
	linearBackward(m.K, da, hs, m.headW, g.headW, g.headB, M, H, H, dy) // dy now holds d(hs)
	dh := make([]float32, len(hidden))
	for j, r := range rows {
		copy(dh[r*H:(r+1)*H], dy[j*H:(j+1)*H])
	}
	return loss, dh
}

// geluGrad is the derivative of the exact GELU: Φ(x) + x·φ(x).
func geluGrad(x float32) float32 {
	cdf, pdf := normal(x)
	return cdf + x*pdf
}

// linearBackward, for y = x·wᵀ + b with dy given, adds dyᵀ·x into dw and
// the column sums of dy into db (when not nil), and sets dx = dy·w
// (when dx is not nil).
func linearBackward(k tensor.Kernels, dy, x, w, dw, db []float32, rows, in, out int, dx []float32) {
	k.Gemm(true, false, out, in, rows, 1, dy, out, x, in, 1, dw, in)
	if db != nil {
		tensor.AddColumnSums(db, dy)
	}
	if dx != nil {
		k.Gemm(false, false, rows, in, out, 1, dy, out, w, in, 0, dx, in)
	}
}

// backward adds the gradients of the weights into g given dout, the
// gradient of the final hidden states.
func (m *ModernBERT) backward(tp *mtape, dout []float32, g *ModernBERT) {
	c := &m.Config
	ps := tp.ps
	N, H, I := len(ps.ids), c.HiddenSize, c.IntermediateSize
	nh := c.NumAttentionHeads
	hd := H / nh
	eps := float32(c.NormEps)
	dx := make([]float32, N*H)
	tensor.LayerNormBackward(dx, g.finW, g.finB, dout, tp.xf, m.finW, eps)
	dact, dmid := make([]float32, N*I), make([]float32, N*2*I)
	dh, datt := make([]float32, N*H), make([]float32, N*H)
	dq, dk, dv := make([]float32, N*H), make([]float32, N*H), make([]float32, N*H)
	dqkv := make([]float32, N*3*H)
	for i := len(m.layers) - 1; i >= 0; i-- {
		l, gl, lt := &m.layers[i], &g.layers[i], &tp.layers[i]
		// The MLP: x += Wo(gelu(in)·gate), in|gate = Wi·norm(x).
		linearBackward(m.K, dx, lt.act, l.w2, gl.w2, gl.b2, N, I, H, dact)
		tensor.ParallelFor(N, 8, func(lo, hi int) {
			for t := lo; t < hi; t++ {
				in, gate := lt.mid[t*2*I:t*2*I+I], lt.mid[t*2*I+I:(t+1)*2*I]
				din, dgate, da := dmid[t*2*I:t*2*I+I], dmid[t*2*I+I:(t+1)*2*I], dact[t*I:(t+1)*I]
				for j, v := range in {
					dgate[j] = da[j] * geluOf(v)
					din[j] = da[j] * gate[j] * geluGrad(v)
				}
			}
		})
		linearBackward(m.K, dmid, lt.h2, l.wi, gl.wi, gl.bi, N, H, 2*I, dh)
		tensor.LayerNormBackward(dx, gl.mlpNW, gl.mlpNB, dh, lt.xmid, l.mlpNW, eps)
		// Attention: x += Wo·attention(rope(q), rope(k), v), q|k|v = Wqkv·norm(x).
		linearBackward(m.K, dx, lt.att, l.wo, gl.wo, gl.bo, N, H, H, datt)
		m.attendBackward(ps, c.global(i), lt, datt, dq, dk, dv)
		m.rot[i].Transpose(dq, nh, hd, ps.pos)
		m.rot[i].Transpose(dk, nh, hd, ps.pos)
		for t := range N {
			row := dqkv[t*3*H : (t+1)*3*H]
			copy(row[:H], dq[t*H:(t+1)*H])
			copy(row[H:2*H], dk[t*H:(t+1)*H])
			copy(row[2*H:], dv[t*H:(t+1)*H])
		}
		linearBackward(m.K, dqkv, lt.h1, l.wqkv, gl.wqkv, gl.bqkv, N, H, 3*H, dh)
		if i > 0 {
			tensor.LayerNormBackward(dx, gl.attnNW, gl.attnNB, dh, lt.xin, l.attnNW, eps)
		} else {
			tensor.Add(dx, dh)
		}
	}
	d0 := make([]float32, N*H)
	tensor.LayerNormBackward(d0, g.embNW, g.embNB, dx, tp.x0, m.embNW, eps)
	for t, id := range ps.ids {
		tensor.Add(g.embed[id*H:(id+1)*H], d0[t*H:(t+1)*H])
	}
}

// attendBackward writes the gradients of the (rotated) queries, keys and
// values given datt. With S = q·kᵀ·scale, P = softmax(S), O = P·v:
// dP = dO·vᵀ, dv = Pᵀ·dO, dS = P ⊙ (dP − Σ dP⊙P), dq = dS·k·scale,
// dk = dSᵀ·q·scale. Masked entries of P are zero, so they drop out.
func (m *ModernBERT) attendBackward(ps *mpass, global bool, lt *mlayerTape, datt, dq, dk, dv []float32) {
	c := &m.Config
	H, nh := c.HiddenSize, c.NumAttentionHeads
	hd := H / nh
	scale := float32(1 / math.Sqrt(float64(hd)))
	half := c.LocalAttention / 2
	k := m.K
	tensor.ParallelFor(ps.seqs()*nh, 1, func(lo, hi int) {
		var ds []float32
		for job := lo; job < hi; job++ {
			s, head := job/nh, job%nh
			r0, T := ps.start[s], ps.start[s+1]-ps.start[s]
			off := r0*H + head*hd
			p := lt.p[ps.poff[s]+head*T*T : ps.poff[s]+(head+1)*T*T]
			if cap(ds) < T*T {
				ds = make([]float32, T*T)
			}
			ds = ds[:T*T]
			k.Gemm(false, true, T, T, hd, 1, datt[off:], H, lt.v[off:], H, 0, ds, T)
			k.Gemm(true, false, T, hd, T, 1, p, T, datt[off:], H, 0, dv[off:], H)
			for t := range T {
				pr, dr := p[t*T:(t+1)*T], ds[t*T:(t+1)*T]
				from, to := ps.keys(r0+t, t, global, half)
				var dot float32
				for u := from; u < to; u++ {
					dot += pr[u] * dr[u]
				}
				for u := range dr {
					dr[u] = pr[u] * (dr[u] - dot)
				}
			}
			k.Gemm(false, false, T, hd, T, scale, ds, T, lt.k[off:], H, 0, dq[off:], H)
			k.Gemm(true, false, T, hd, T, scale, ds, T, lt.q[off:], H, 0, dk[off:], H)
		}
	})
}

// DropHead removes the masked-language head: contrastive fine-tuning
// trains the body only, and the result is an embedding model.
func (m *ModernBERT) DropHead() {
	m.hasHead = false
	m.headW, m.headB, m.headNW, m.headNB, m.decB = nil, nil, nil, nil, nil
}

// ContrastiveLoss is the in-batch-negatives loss of sentence-transformers'
// MultipleNegativesRankingLoss, summed over the queries: query i's
// positive is docs[i], every other document a negative; embeddings are
// mean-pooled and normalised, similarities cosines divided by the
// temperature. With g (from NewGrads) it adds scale times the gradient.
func (m *ModernBERT) ContrastiveLoss(queries, docs [][]int, temperature float64, g *ModernBERT, scale float32) (float64, error) {
	n := len(queries)
	if n == 0 || len(docs) != n {
		return 0, fmt.Errorf("encoder: %d queries and %d documents: want as many of each, at least one", n, len(docs))
	}
	if !(temperature > 0) {
		return 0, fmt.Errorf("encoder: temperature %g: want a positive number", temperature)
	}
	texts := append(slices.Clone(queries), docs...)
	if err := m.checkTexts(texts); err != nil {
		return 0, err
	}
	ps := textsPass(texts)
	var tp *mtape
	if g != nil {
		tp = &mtape{}
	}
	h := m.forward(ps, tp)
	H := m.Config.HiddenSize
	// e[i] = u/|u|, u the mean of text i's rows.
	e := make([][]float64, len(texts))
	norms := make([]float64, len(texts))
	for i := range texts {
		r0, r1 := ps.start[i], ps.start[i+1]
		u := make([]float64, H)
		for r := r0; r < r1; r++ {
			for j, v := range h[r*H : (r+1)*H] {
				u[j] += float64(v)
			}
		}
		var ss float64
		for j := range u {
			u[j] /= float64(r1 - r0)
			ss += u[j] * u[j]
		}
		norms[i] = math.Sqrt(ss)
		for j := range u {
			u[j] /= norms[i]
		}
		e[i] = u
	}
	dot := func(a, b []float64) float64 {
		var s float64
		for j := range a {
			s += a[j] * b[j]
		}
		return s
	}
	var loss float64
	de := make([][]float64, len(texts))
	for i := range de {
		de[i] = make([]float64, H)
	}
	row := make([]float64, n)
	for i := range n {
		mx := math.Inf(-1)
		for j := range n {
			row[j] = dot(e[i], e[n+j]) / temperature
			mx = max(mx, row[j])
		}
		var sum float64
		for j := range n {
			sum += math.Exp(row[j] - mx)
		}
		lse := mx + math.Log(sum)
		loss += lse - row[i]
		if g == nil {
			continue
		}
		for j := range n {
			d := math.Exp(row[j] - lse)
			if j == i {
				d--
			}
			d *= float64(scale) / temperature
			for k := range H {
				de[i][k] += d * e[n+j][k]
				de[n+j][k] += d * e[i][k]
			}
		}
	}
	if g == nil {
		return loss, nil
	}
	// Through the normalisation and the mean: du = (de − e·(e·de))/|u|,
	// spread evenly over the text's rows.
	dh := make([]float32, len(h))
	for i := range texts {
		r0, r1 := ps.start[i], ps.start[i+1]
		proj := dot(e[i], de[i])
		du := make([]float32, H)
		for k := range H {
			du[k] = float32((de[i][k] - e[i][k]*proj) / norms[i] / float64(r1-r0))
		}
		for r := r0; r < r1; r++ {
			copy(dh[r*H:(r+1)*H], du)
		}
	}
	m.backward(tp, dh, g)
	return loss, nil
}
