package encoder

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/dokja/dokja/safetensors"
	"github.com/dokja/dokja/tensor"
)

// ModernBERT (A.X Encoder's architecture) as Hugging Face defines it:
// rotary positions, pre-norm layers whose first has no attention norm,
// global attention every few layers and a sliding window in between, each
// with its own RoPE base, GeGLU, LayerNorms without bias.

// ModernConfig is the part of a ModernBERT config.json the forward pass
// reads, in both spellings: global_rope_theta, local_rope_theta and
// global_attn_every_n_layers, or layer_types and rope_parameters.
type ModernConfig struct {
	ModelType              string   `json:"model_type"`
	VocabSize              int      `json:"vocab_size"`
	HiddenSize             int      `json:"hidden_size"`
	IntermediateSize       int      `json:"intermediate_size"`
	NumHiddenLayers        int      `json:"num_hidden_layers"`
	NumAttentionHeads      int      `json:"num_attention_heads"`
	MaxPositionEmbeddings  int      `json:"max_position_embeddings"`
	NormEps                float64  `json:"norm_eps"`
	NormBias               bool     `json:"norm_bias"`
	AttentionBias          bool     `json:"attention_bias"`
	MLPBias                bool     `json:"mlp_bias"`
	HiddenActivation       string   `json:"hidden_activation"`
	LocalAttention         int      `json:"local_attention"`
	GlobalAttnEveryNLayers int      `json:"global_attn_every_n_layers"`
	GlobalRopeTheta        float64  `json:"global_rope_theta"`
	LocalRopeTheta         *float64 `json:"local_rope_theta"`
	LayerTypes             []string `json:"layer_types"`
	RopeParameters         map[string]struct {
		RopeTheta float64 `json:"rope_theta"`
	} `json:"rope_parameters"`
	// The masked-language head: dense (with a bias when classifier_bias),
	// activation, norm, then the decoder tied to the token embeddings
	// (with a bias unless decoder_bias is false).
	ClassifierBias       bool   `json:"classifier_bias"`
	ClassifierActivation string `json:"classifier_activation"`
	DecoderBias          *bool  `json:"decoder_bias"`
	TieWordEmbeddings    *bool  `json:"tie_word_embeddings"`
	// Initialisation of new weights (training from scratch, a new head).
	InitializerRange        float64 `json:"initializer_range"`
	InitializerCutoffFactor float64 `json:"initializer_cutoff_factor"`
	// Special tokens, for the masked-language objective.
	MaskTokenID *int `json:"mask_token_id"`
	// Sequence classification (ModernBertForSequenceClassification):
	// the pooling ("cls", the default, or "mean") before the head, and
	// the labels' names.
	ClassifierPooling string            `json:"classifier_pooling"`
	ID2Label          map[string]string `json:"id2label"`
}

func (c *ModernConfig) decoderBias() bool { return c.DecoderBias == nil || *c.DecoderBias }

// global reports whether layer i attends to the whole sequence.
func (c *ModernConfig) global(i int) bool {
	if len(c.LayerTypes) > 0 {
		return c.LayerTypes[i] == "full_attention"
	}
	return i%c.GlobalAttnEveryNLayers == 0
}

// theta is layer i's RoPE base.
func (c *ModernConfig) theta(i int) float64 {
	kind := "sliding_attention"
	if c.global(i) {
		kind = "full_attention"
	}
	if p, ok := c.RopeParameters[kind]; ok && p.RopeTheta > 0 {
		return p.RopeTheta
	}
	if !c.global(i) && c.LocalRopeTheta != nil {
		return *c.LocalRopeTheta
	}
	return c.GlobalRopeTheta
}

func (c *ModernConfig) validate() error {
	for name, v := range map[string]int{"vocab_size": c.VocabSize, "hidden_size": c.HiddenSize, "num_hidden_layers": c.NumHiddenLayers,
		"num_attention_heads": c.NumAttentionHeads, "intermediate_size": c.IntermediateSize, "max_position_embeddings": c.MaxPositionEmbeddings,
		"local_attention": c.LocalAttention} {
		if v <= 0 || v > 1<<24 {
			return fmt.Errorf("%s %d: want a positive size", name, v)
		}
	}
	if c.HiddenSize%c.NumAttentionHeads != 0 || (c.HiddenSize/c.NumAttentionHeads)%2 != 0 {
		return fmt.Errorf("hidden_size %d over num_attention_heads %d: want an even head size", c.HiddenSize, c.NumAttentionHeads)
	}
	if c.HiddenActivation != "gelu" {
		return fmt.Errorf("hidden_activation %q: only gelu (exact, erf) is supported", c.HiddenActivation)
	}
	if a := c.ClassifierActivation; a != "" && a != "gelu" {
		return fmt.Errorf("classifier_activation %q: only gelu (exact, erf) is supported", a)
	}
	if p := c.ClassifierPooling; p != "" && p != "cls" && p != "mean" {
		return fmt.Errorf("classifier_pooling %q: want cls or mean", p)
	}
	if c.TieWordEmbeddings != nil && !*c.TieWordEmbeddings {
		return errors.New("tie_word_embeddings false: the masked-language decoder is read only as tied to the token embeddings")
	}
	if c.InitializerRange < 0 || c.InitializerCutoffFactor < 0 {
		return fmt.Errorf("initializer_range %g, initializer_cutoff_factor %g: want non-negative numbers", c.InitializerRange, c.InitializerCutoffFactor)
	}
	if c.NormEps <= 0 {
		return fmt.Errorf("norm_eps %g: want a positive number", c.NormEps)
	}
	if len(c.LayerTypes) > 0 && len(c.LayerTypes) != c.NumHiddenLayers {
		return fmt.Errorf("layer_types has %d entries for %d layers", len(c.LayerTypes), c.NumHiddenLayers)
	}
	for _, t := range c.LayerTypes {
		if t != "full_attention" && t != "sliding_attention" {
			return fmt.Errorf("layer_types: %q is neither full_attention nor sliding_attention", t)
		}
	}
	if len(c.LayerTypes) == 0 && c.GlobalAttnEveryNLayers <= 0 {
		return fmt.Errorf("global_attn_every_n_layers %d: want a positive number (or layer_types)", c.GlobalAttnEveryNLayers)
	}
	for i := range c.NumHiddenLayers {
		if c.theta(i) <= 0 {
			return fmt.Errorf("layer %d has no RoPE base (global_rope_theta, local_rope_theta or rope_parameters)", i)
		}
	}
	return nil
}

// ModernBERT is a loaded ModernBERT encoder, with its masked-language
// head when the checkpoint has one (or training made one).
type ModernBERT struct {
	Config ModernConfig
	K      tensor.Kernels
	embed  []float32
	embNW  []float32
	embNB  []float32
	finW   []float32
	finB   []float32
	layers []modernLayer
	rot    []*tensor.Rotary
	// The masked-language head (ModernBertPredictionHead and the decoder,
	// whose weight is the token embeddings).
	hasHead        bool
	headW, headB   []float32
	headNW, headNB []float32
	decB           []float32
	// The sequence-classification layer over the head (with labels
	// named; none for a masked-language model).
	labels     []string
	clsW, clsB []float32
	// raw is config.json as read, written back (architectures updated) by
	// Save so that keys the forward pass ignores survive.
	raw map[string]any
}

type modernLayer struct {
	attnNW, attnNB []float32 // nil for layer 0
	wqkv, bqkv     []float32
	wo, bo         []float32
	mlpNW, mlpNB   []float32
	wi, bi         []float32
	w2, b2         []float32
}

// mspec is one weight tensor under ModernBertForMaskedLM's name.
type mspec struct {
	name  string
	shape []int
	dst   *[]float32
}

// specs lists m's weights in a fixed order: the body under model., then
// the head when m has one. Optional tensors (biases the config leaves out,
// layer 0's attention norm) are not listed.
func (m *ModernBERT) specs() []mspec {
	c := &m.Config
	H, I := c.HiddenSize, c.IntermediateSize
	var s []mspec
	add := func(present bool, name string, dst *[]float32, shape ...int) {
		if present {
			s = append(s, mspec{name, shape, dst})
		}
	}
	add(true, "model.embeddings.tok_embeddings.weight", &m.embed, c.VocabSize, H)
	add(true, "model.embeddings.norm.weight", &m.embNW, H)
	add(c.NormBias, "model.embeddings.norm.bias", &m.embNB, H)
	for i := range m.layers {
		l, p := &m.layers[i], fmt.Sprintf("model.layers.%d.", i)
		add(i > 0, p+"attn_norm.weight", &l.attnNW, H)
		add(i > 0 && c.NormBias, p+"attn_norm.bias", &l.attnNB, H)
		add(true, p+"attn.Wqkv.weight", &l.wqkv, 3*H, H)
		add(c.AttentionBias, p+"attn.Wqkv.bias", &l.bqkv, 3*H)
		add(true, p+"attn.Wo.weight", &l.wo, H, H)
		add(c.AttentionBias, p+"attn.Wo.bias", &l.bo, H)
		add(true, p+"mlp_norm.weight", &l.mlpNW, H)
		add(c.NormBias, p+"mlp_norm.bias", &l.mlpNB, H)
		add(true, p+"mlp.Wi.weight", &l.wi, 2*I, H)
		add(c.MLPBias, p+"mlp.Wi.bias", &l.bi, 2*I)
		add(true, p+"mlp.Wo.weight", &l.w2, H, I)
		add(c.MLPBias, p+"mlp.Wo.bias", &l.b2, H)
	}
	add(true, "model.final_norm.weight", &m.finW, H)
	add(c.NormBias, "model.final_norm.bias", &m.finB, H)
	add(m.hasHead, "head.dense.weight", &m.headW, H, H)
	add(m.hasHead && c.ClassifierBias, "head.dense.bias", &m.headB, H)
	add(m.hasHead, "head.norm.weight", &m.headNW, H)
	add(m.hasHead && c.NormBias, "head.norm.bias", &m.headNB, H)
	add(m.hasHead && c.decoderBias() && m.labels == nil, "decoder.bias", &m.decB, c.VocabSize)
	add(m.labels != nil, "classifier.weight", &m.clsW, len(m.labels), H)
	add(m.labels != nil, "classifier.bias", &m.clsB, len(m.labels))
	return s
}

// newModern returns a ModernBERT of cfg's shape with no weights yet.
func newModern(c ModernConfig, raw map[string]any) *ModernBERT {
	m := &ModernBERT{Config: c, K: tensor.Default(), raw: raw, layers: make([]modernLayer, c.NumHiddenLayers)}
	for i := range m.layers {
		m.rot = append(m.rot, tensor.NewRotary(c.HiddenSize/c.NumAttentionHeads, c.theta(i)))
	}
	return m
}

// parseModern reads and checks a ModernBERT config.json.
func parseModern(path string, raw []byte) (ModernConfig, map[string]any, error) {
	var c ModernConfig
	var all map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		return c, nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := json.Unmarshal(raw, &all); err != nil {
		return c, nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := c.validate(); err != nil {
		return c, nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, all, nil
}

// loadModern reads a ModernBERT folder, its body's tensors bare or under
// the model. prefix ModernBertForMaskedLM saves them with, and the
// masked-language head when present.
func loadModern(dir string, raw []byte) (*ModernBERT, error) {
	c, all, err := parseModern(filepath.Join(dir, "config.json"), raw)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "model.safetensors")
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, err
	}
	names := f.Names()
	bare := !slices.Contains(names, "model.embeddings.tok_embeddings.weight")
	m := newModern(c, all)
	m.hasHead = slices.Contains(names, "head.dense.weight")
	if info, ok := f.Info("classifier.weight"); ok && len(info.Shape) == 2 {
		if m.labels, err = labelNames(c.ID2Label, info.Shape[0]); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "config.json"), err)
		}
	}
	r := &tensors{f: f, path: path}
	for _, s := range m.specs() {
		name := s.name
		if bare {
			name = strings.TrimPrefix(name, "model.")
		}
		r.read(s.dst, name, true, s.shape...)
	}
	if err := errors.Join(r.errs...); err != nil {
		return nil, err
	}
	return m, nil
}

// Dim is the width of the hidden states and embeddings.
func (m *ModernBERT) Dim() int { return m.Config.HiddenSize }

// MaxTokens is the longest sequence the model takes.
func (m *ModernBERT) MaxTokens() int { return m.Config.MaxPositionEmbeddings }

// VocabSize bounds the token ids.
func (m *ModernBERT) VocabSize() int { return m.Config.VocabSize }

// SetKernels selects the matrix kernels.
func (m *ModernBERT) SetKernels(k tensor.Kernels) { m.K = k }

// mpass is a forward pass's layout: sequences of rows one after another
// (sequence s is rows start[s] to start[s+1]), each cut into documents
// that attend only within themselves, with positions counted from their
// document's start (packed training batches, texts of several lengths;
// one sequence of one document for inference).
type mpass struct {
	ids    []int
	start  []int
	pos    []int // the row's position in its document
	lo, hi []int // its document's rows within the sequence: [lo, hi)
	// poff[s] is where sequence s's attention probabilities start (T²
	// per head).
	poff []int
}

func (ps *mpass) seqs() int { return len(ps.start) - 1 }

// layout fills poff for nh heads and returns the probabilities' size.
func (ps *mpass) layout(nh int) int {
	ps.poff = make([]int, len(ps.start))
	for s := range ps.seqs() {
		T := ps.start[s+1] - ps.start[s]
		ps.poff[s+1] = ps.poff[s] + nh*T*T
	}
	return ps.poff[len(ps.poff)-1]
}

// keys returns the rows of its sequence that row r (t within the
// sequence) attends to: its document, within half a window for sliding
// layers.
func (ps *mpass) keys(r, t int, global bool, half int) (from, to int) {
	from, to = ps.lo[r], ps.hi[r]
	if !global {
		from, to = max(from, t-half), min(to, t+half+1)
	}
	return from, to
}

// textsPass lays out texts as sequences of one document each.
func textsPass(texts [][]int) *mpass {
	ps := &mpass{start: []int{0}}
	for _, ids := range texts {
		T := len(ids)
		ps.ids = append(ps.ids, ids...)
		for t := range T {
			ps.pos, ps.lo, ps.hi = append(ps.pos, t), append(ps.lo, 0), append(ps.hi, T)
		}
		ps.start = append(ps.start, len(ps.ids))
	}
	return ps
}

func (m *ModernBERT) checkIDs(ids []int, what string) error {
	for _, id := range ids {
		if id < 0 || id >= m.Config.VocabSize {
			return fmt.Errorf("encoder: %s id %d outside the vocabulary of %d", what, id, m.Config.VocabSize)
		}
	}
	return nil
}

// checkTexts checks that every text fits the context and the vocabulary.
func (m *ModernBERT) checkTexts(texts [][]int) error {
	for i, ids := range texts {
		if len(ids) == 0 || len(ids) > m.Config.MaxPositionEmbeddings {
			return fmt.Errorf("encoder: text %d has %d tokens: want 1 to %d", i, len(ids), m.Config.MaxPositionEmbeddings)
		}
		if err := m.checkIDs(ids, "token"); err != nil {
			return err
		}
	}
	return nil
}

// Forward returns the last hidden states of a sequence of token ids.
func (m *ModernBERT) Forward(ids []int) ([]float32, error) {
	T := len(ids)
	if T == 0 || T > m.Config.MaxPositionEmbeddings {
		return nil, fmt.Errorf("encoder: %d tokens: want 1 to %d", T, m.Config.MaxPositionEmbeddings)
	}
	if err := m.checkIDs(ids, "token"); err != nil {
		return nil, err
	}
	return m.forward(textsPass([][]int{ids}), nil), nil
}

// ForwardBatch runs several sequences in one pass: the products over all
// their rows at once, attention within each.
func (m *ModernBERT) ForwardBatch(texts [][]int) ([][]float32, error) {
	if err := m.checkTexts(texts); err != nil {
		return nil, err
	}
	ps := textsPass(texts)
	h := m.forward(ps, nil)
	H := m.Config.HiddenSize
	out := make([][]float32, len(texts))
	for s := range texts {
		out[s] = h[ps.start[s]*H : ps.start[s+1]*H : ps.start[s+1]*H]
	}
	return out, nil
}

// mtape is what the backward pass reads: the inputs of every norm and
// product.
type mtape struct {
	ps     *mpass
	x0     []float32 // embeddings before their norm
	layers []mlayerTape
	xf     []float32 // before the final norm
}

type mlayerTape struct {
	xin, h1, q, k, v, p, att, xmid, h2, mid, act []float32
}

// forward runs the pass; with tp it records what backward needs.
func (m *ModernBERT) forward(ps *mpass, tp *mtape) []float32 {
	c := &m.Config
	N, H, I := len(ps.ids), c.HiddenSize, c.IntermediateSize
	nh := c.NumAttentionHeads
	hd := H / nh
	x := make([]float32, N*H)
	for t, id := range ps.ids {
		copy(x[t*H:(t+1)*H], m.embed[id*H:(id+1)*H])
	}
	eps := float32(c.NormEps)
	if tp != nil {
		tp.ps, tp.x0 = ps, slices.Clone(x)
		tp.layers = make([]mlayerTape, len(m.layers))
	}
	layerNorm(x, H, m.embNW, m.embNB, eps)
	tmp := make([]float32, N*H)
	var lt mlayerTape
	fresh := func(n int) []float32 { return make([]float32, n) }
	lt = mlayerTape{h1: fresh(N * H), q: fresh(N * H), k: fresh(N * H), v: fresh(N * H), att: fresh(N * H),
		h2: fresh(N * H), mid: fresh(N * 2 * I), act: fresh(N * I)}
	qkv := make([]float32, N*3*H)
	for i := range m.layers {
		l := &m.layers[i]
		if tp != nil {
			lt = mlayerTape{xin: slices.Clone(x), h1: fresh(N * H), q: fresh(N * H), k: fresh(N * H), v: fresh(N * H),
				p: fresh(ps.layout(nh)), att: fresh(N * H), h2: fresh(N * H), mid: fresh(N * 2 * I), act: fresh(N * I)}
		}
		copy(lt.h1, x)
		if i > 0 {
			layerNorm(lt.h1, H, l.attnNW, l.attnNB, eps)
		}
		linear(m.K, qkv, lt.h1, l.wqkv, l.bqkv, N, H, 3*H)
		for t := range N {
			row := qkv[t*3*H : (t+1)*3*H]
			copy(lt.q[t*H:(t+1)*H], row[:H])
			copy(lt.k[t*H:(t+1)*H], row[H:2*H])
			copy(lt.v[t*H:(t+1)*H], row[2*H:])
		}
		m.rot[i].Apply(lt.q, nh, hd, ps.pos)
		m.rot[i].Apply(lt.k, nh, hd, ps.pos)
		m.attend(ps, c.global(i), lt.q, lt.k, lt.v, lt.p, lt.att)
		linear(m.K, tmp, lt.att, l.wo, l.bo, N, H, H)
		tensor.Add(x, tmp)
		if tp != nil {
			lt.xmid = slices.Clone(x)
		}
		copy(lt.h2, x)
		layerNorm(lt.h2, H, l.mlpNW, l.mlpNB, eps)
		linear(m.K, lt.mid, lt.h2, l.wi, l.bi, N, H, 2*I)
		tensor.ParallelFor(N, 8, func(lo, hi int) {
			for t := lo; t < hi; t++ {
				in, gate, out := lt.mid[t*2*I:t*2*I+I], lt.mid[t*2*I+I:(t+1)*2*I], lt.act[t*I:(t+1)*I]
				for j, v := range in {
					out[j] = geluOf(v) * gate[j]
				}
			}
		})
		linear(m.K, tmp, lt.act, l.w2, l.b2, N, I, H)
		tensor.Add(x, tmp)
		if tp != nil {
			tp.layers[i] = lt
		}
	}
	if tp != nil {
		tp.xf = slices.Clone(x)
	}
	layerNorm(x, H, m.finW, m.finB, eps)
	return x
}

// attend is bidirectional attention per sequence and head over each row's
// keys (its document, and the window in sliding layers). With probs it
// keeps the probabilities, T×T per sequence and head.
func (m *ModernBERT) attend(ps *mpass, global bool, q, k, v, probs, att []float32) {
	c := &m.Config
	H, nh := c.HiddenSize, c.NumAttentionHeads
	hd := H / nh
	scale := float32(1 / math.Sqrt(float64(hd)))
	half := c.LocalAttention / 2
	tensor.ParallelFor(ps.seqs()*nh, 1, func(lo, hi int) {
		var scratch []float32
		for job := lo; job < hi; job++ {
			s, head := job/nh, job%nh
			r0, T := ps.start[s], ps.start[s+1]-ps.start[s]
			var p []float32
			if probs != nil {
				p = probs[ps.poff[s]+head*T*T : ps.poff[s]+(head+1)*T*T]
			} else {
				if cap(scratch) < T*T {
					scratch = make([]float32, T*T)
				}
				p = scratch[:T*T]
			}
			m.K.Gemm(false, true, T, T, hd, scale, q[r0*H+head*hd:], H, k[r0*H+head*hd:], H, 0, p, T)
			for t := range T {
				row := p[t*T : (t+1)*T]
				from, to := ps.keys(r0+t, t, global, half)
				clear(row[:from])
				tensor.Softmax(row[from:to])
				clear(row[to:])
			}
			m.K.Gemm(false, false, T, hd, T, 1, p, T, v[r0*H+head*hd:], H, 0, att[r0*H+head*hd:], H)
		}
	})
}

// readModelType peeks at a config.json's model_type.
func readModelType(dir string) (string, []byte, error) {
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return "", nil, err
	}
	var c struct {
		ModelType string `json:"model_type"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return "", nil, fmt.Errorf("%s: %w", filepath.Join(dir, "config.json"), err)
	}
	return c.ModelType, b, nil
}
