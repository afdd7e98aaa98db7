// Package encoder runs encoders as Hugging Face defines them: the
// BERT family (BertModel, XLMRobertaModel: absolute positions, post-norm
// layers; the strongest Korean embedders, BGE-M3 and its Korean
// fine-tunes, are XLM-RoBERTa models) and ModernBERT (A.X Encoder's
// architecture): the hidden states of a sequence, and sentence embeddings
// pooled from them.
package encoder

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/dokja/dokja/safetensors"
	"github.com/dokja/dokja/tensor"
)

// Config is the part of a BERT-family config.json the forward pass reads.
type Config struct {
	Architectures         []string `json:"architectures"`
	ModelType             string   `json:"model_type"`
	VocabSize             int      `json:"vocab_size"`
	HiddenSize            int      `json:"hidden_size"`
	NumHiddenLayers       int      `json:"num_hidden_layers"`
	NumAttentionHeads     int      `json:"num_attention_heads"`
	IntermediateSize      int      `json:"intermediate_size"`
	MaxPositionEmbeddings int      `json:"max_position_embeddings"`
	TypeVocabSize         int      `json:"type_vocab_size"`
	LayerNormEps          float64  `json:"layer_norm_eps"`
	HiddenAct             string   `json:"hidden_act"`
	PadTokenID            int      `json:"pad_token_id"`
	PositionEmbeddingType string   `json:"position_embedding_type"`
}

// positionOffset is where positions start: XLM-RoBERTa counts them from
// padding_idx + 1 (its table has two rows more than its context).
func (c *Config) positionOffset() int {
	if c.ModelType == "xlm-roberta" || c.ModelType == "roberta" {
		return c.PadTokenID + 1
	}
	return 0
}

// MaxTokens is the longest sequence the position table covers.
func (c *Config) MaxTokens() int { return c.MaxPositionEmbeddings - c.positionOffset() }

// LoadConfig reads and checks dir/config.json.
func LoadConfig(dir string) (*Config, error) {
	path := filepath.Join(dir, "config.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &c, nil
}

func (c *Config) validate() error {
	switch c.ModelType {
	case "bert", "xlm-roberta", "roberta":
	default:
		return fmt.Errorf("model_type %q: this encoder runs bert, roberta and xlm-roberta", c.ModelType)
	}
	for name, v := range map[string]int{"vocab_size": c.VocabSize, "hidden_size": c.HiddenSize, "num_hidden_layers": c.NumHiddenLayers,
		"num_attention_heads": c.NumAttentionHeads, "intermediate_size": c.IntermediateSize, "max_position_embeddings": c.MaxPositionEmbeddings,
		"type_vocab_size": c.TypeVocabSize} {
		if v <= 0 || v > 1<<24 {
			return fmt.Errorf("%s %d: want a positive size", name, v)
		}
	}
	if c.HiddenSize%c.NumAttentionHeads != 0 {
		return fmt.Errorf("hidden_size %d is not a multiple of num_attention_heads %d", c.HiddenSize, c.NumAttentionHeads)
	}
	if c.HiddenAct != "gelu" {
		return fmt.Errorf("hidden_act %q: only gelu (exact, erf) is supported", c.HiddenAct)
	}
	if c.PositionEmbeddingType != "" && c.PositionEmbeddingType != "absolute" {
		return fmt.Errorf("position_embedding_type %q: only absolute is supported", c.PositionEmbeddingType)
	}
	if c.LayerNormEps <= 0 {
		return fmt.Errorf("layer_norm_eps %g: want a positive number", c.LayerNormEps)
	}
	if c.MaxTokens() <= 0 {
		return fmt.Errorf("max_position_embeddings %d leaves no position after the offset %d", c.MaxPositionEmbeddings, c.positionOffset())
	}
	return nil
}

// Encoder is a loaded encoder of any architecture.
type Encoder interface {
	// Forward returns the last hidden states of a sequence of token ids,
	// a row of Dim floats per position.
	Forward(ids []int) ([]float32, error)
	// ForwardBatch runs several sequences in one pass (each attends only
	// to itself) and returns each one's hidden states.
	ForwardBatch(texts [][]int) ([][]float32, error)
	// Dim is the width of the hidden states and embeddings.
	Dim() int
	// VocabSize bounds the token ids.
	VocabSize() int
	// MaxTokens is the longest sequence the model takes.
	MaxTokens() int
	// SetKernels selects the matrix kernels.
	SetKernels(tensor.Kernels)
}

// Open loads an encoder folder by its config.json's model_type: BERT and
// (XLM-)RoBERTa (Load), or ModernBERT.
func Open(dir string) (Encoder, error) {
	kind, raw, err := readModelType(dir)
	if err != nil {
		return nil, err
	}
	if kind == "modernbert" {
		return loadModern(dir, raw)
	}
	return Load(dir)
}

// Dim is the width of the hidden states and embeddings.
func (m *Model) Dim() int { return m.Config.HiddenSize }

// MaxTokens is the longest sequence the position table covers.
func (m *Model) MaxTokens() int { return m.Config.MaxTokens() }

// VocabSize bounds the token ids.
func (m *Model) VocabSize() int { return m.Config.VocabSize }

// SetKernels selects the matrix kernels.
func (m *Model) SetKernels(k tensor.Kernels) { m.K = k }

// Model is a loaded BERT-family encoder.
type Model struct {
	Config         Config
	K              tensor.Kernels
	word, pos, typ []float32
	embW, embB     []float32
	layers         []layer
}

type layer struct {
	wq, bq, wk, bk, wv, bv, wo, bo []float32
	ln1W, ln1B                     []float32
	w1, b1, w2, b2                 []float32
	ln2W, ln2B                     []float32
}

// Load opens an encoder folder: config.json and model.safetensors, its
// tensors named as BertModel or XLMRobertaModel save them, bare or under
// the bert. or roberta. prefix that task heads add.
func Load(dir string) (*Model, error) {
	m, _, err := load(dir)
	return m, err
}

// load is Load, also returning the opened weights file (its tensors
// alias it) for heads read beside the body.
func load(dir string) (*Model, *safetensors.File, error) {
	c, err := LoadConfig(dir)
	if err != nil {
		return nil, nil, err
	}
	path := filepath.Join(dir, "model.safetensors")
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, nil, err
	}
	names := f.Names()
	prefix := ""
	for _, p := range []string{"", "bert.", "roberta."} {
		if slices.Contains(names, p+"embeddings.word_embeddings.weight") {
			prefix = p
			break
		}
	}
	H, I := c.HiddenSize, c.IntermediateSize
	r := &tensors{f: f, path: path, prefix: prefix}
	m := &Model{Config: *c, K: tensor.Default()}
	must := func(dst *[]float32, name string, shape ...int) { r.read(dst, name, true, shape...) }
	must(&m.word, "embeddings.word_embeddings.weight", c.VocabSize, H)
	must(&m.pos, "embeddings.position_embeddings.weight", c.MaxPositionEmbeddings, H)
	must(&m.typ, "embeddings.token_type_embeddings.weight", c.TypeVocabSize, H)
	must(&m.embW, "embeddings.LayerNorm.weight", H)
	must(&m.embB, "embeddings.LayerNorm.bias", H)
	m.layers = make([]layer, c.NumHiddenLayers)
	for i := range m.layers {
		l, p := &m.layers[i], fmt.Sprintf("encoder.layer.%d.", i)
		must(&l.wq, p+"attention.self.query.weight", H, H)
		must(&l.bq, p+"attention.self.query.bias", H)
		must(&l.wk, p+"attention.self.key.weight", H, H)
		must(&l.bk, p+"attention.self.key.bias", H)
		must(&l.wv, p+"attention.self.value.weight", H, H)
		must(&l.bv, p+"attention.self.value.bias", H)
		must(&l.wo, p+"attention.output.dense.weight", H, H)
		must(&l.bo, p+"attention.output.dense.bias", H)
		must(&l.ln1W, p+"attention.output.LayerNorm.weight", H)
		must(&l.ln1B, p+"attention.output.LayerNorm.bias", H)
		must(&l.w1, p+"intermediate.dense.weight", I, H)
		must(&l.b1, p+"intermediate.dense.bias", I)
		must(&l.w2, p+"output.dense.weight", H, I)
		must(&l.b2, p+"output.dense.bias", H)
		must(&l.ln2W, p+"output.LayerNorm.weight", H)
		must(&l.ln2B, p+"output.LayerNorm.bias", H)
	}
	if err := errors.Join(r.errs...); err != nil {
		return nil, nil, err
	}
	return m, f, nil
}

// tensors reads a checkpoint's tensors by name, checking their shapes and
// gathering every problem.
type tensors struct {
	f            *safetensors.File
	path, prefix string
	errs         []error
}

// read sets *dst to tensor prefix+name of the given shape, when present
// (an absent optional tensor, such as a bias the config leaves out).
func (r *tensors) read(dst *[]float32, name string, present bool, shape ...int) {
	if !present {
		return
	}
	info, ok := r.f.Info(r.prefix + name)
	if !ok {
		r.errs = append(r.errs, fmt.Errorf("%s: no tensor %s%s", r.path, r.prefix, name))
		return
	}
	if !slices.Equal(info.Shape, shape) {
		r.errs = append(r.errs, fmt.Errorf("%s: %s%s has shape %v, want %v", r.path, r.prefix, name, info.Shape, shape))
		return
	}
	v, err := r.f.Float32(r.prefix + name)
	r.errs = append(r.errs, err)
	*dst = v
}

// Forward returns the last hidden states of a sequence of token ids, a
// row of hidden_size floats per position (token type 0 throughout).
func (m *Model) Forward(ids []int) ([]float32, error) {
	hs, err := m.ForwardBatch([][]int{ids})
	if err != nil {
		return nil, err
	}
	return hs[0], nil
}

// ForwardBatch runs several sequences in one pass: the products over all
// their rows at once, attention within each.
func (m *Model) ForwardBatch(texts [][]int) ([][]float32, error) {
	c := &m.Config
	H, I := c.HiddenSize, c.IntermediateSize
	off := c.positionOffset()
	var rows []int
	start := []int{0}
	for i, ids := range texts {
		if len(ids) == 0 || len(ids) > c.MaxTokens() {
			return nil, fmt.Errorf("encoder: text %d has %d tokens: want 1 to %d", i, len(ids), c.MaxTokens())
		}
		rows = append(rows, ids...)
		start = append(start, len(rows))
	}
	N := len(rows)
	x := make([]float32, N*H)
	for s := range texts {
		for t, id := range texts[s] {
			if id < 0 || id >= c.VocabSize {
				return nil, fmt.Errorf("encoder: token id %d outside the vocabulary of %d", id, c.VocabSize)
			}
			row := x[(start[s]+t)*H : (start[s]+t+1)*H]
			copy(row, m.word[id*H:(id+1)*H])
			tensor.Add(row, m.pos[(t+off)*H:(t+off+1)*H])
			tensor.Add(row, m.typ[:H])
		}
	}
	eps := float32(c.LayerNormEps)
	layerNorm(x, H, m.embW, m.embB, eps)
	q, k, v := make([]float32, N*H), make([]float32, N*H), make([]float32, N*H)
	att, tmp := make([]float32, N*H), make([]float32, N*H)
	mid := make([]float32, N*I)
	nh := c.NumAttentionHeads
	hd := H / nh
	scale := float32(1 / math.Sqrt(float64(hd)))
	for i := range m.layers {
		l := &m.layers[i]
		linear(m.K, q, x, l.wq, l.bq, N, H, H)
		linear(m.K, k, x, l.wk, l.bk, N, H, H)
		linear(m.K, v, x, l.wv, l.bv, N, H, H)
		tensor.ParallelFor(len(texts)*nh, 1, func(lo, hi int) {
			var scores []float32
			for job := lo; job < hi; job++ {
				s, h := job/nh, job%nh
				r0, T := start[s], start[s+1]-start[s]
				if cap(scores) < T*T {
					scores = make([]float32, T*T)
				}
				scores = scores[:T*T]
				// Every position of a text attends to every position of it.
				m.K.Gemm(false, true, T, T, hd, scale, q[r0*H+h*hd:], H, k[r0*H+h*hd:], H, 0, scores, T)
				for t := range T {
					tensor.Softmax(scores[t*T : (t+1)*T])
				}
				m.K.Gemm(false, false, T, hd, T, 1, scores, T, v[r0*H+h*hd:], H, 0, att[r0*H+h*hd:], H)
			}
		})
		linear(m.K, tmp, att, l.wo, l.bo, N, H, H)
		tensor.Add(x, tmp)
		layerNorm(x, H, l.ln1W, l.ln1B, eps)
		linear(m.K, mid, x, l.w1, l.b1, N, H, I)
		gelu(mid)
		linear(m.K, tmp, mid, l.w2, l.b2, N, I, H)
		tensor.Add(x, tmp)
		layerNorm(x, H, l.ln2W, l.ln2B, eps)
	}
	out := make([][]float32, len(texts))
	for s := range texts {
		out[s] = x[start[s]*H : start[s+1]*H : start[s+1]*H]
	}
	return out, nil
}

// linear sets dst (rows×out) to x (rows×in) times wᵀ (w is out×in), plus
// b unless it is nil.
func linear(k tensor.Kernels, dst, x, w, b []float32, rows, in, out int) {
	k.Gemm(false, true, rows, out, in, 1, x, in, w, in, 0, dst, out)
	if b != nil {
		for r := range rows {
			tensor.Add(dst[r*out:(r+1)*out], b)
		}
	}
}

// layerNorm normalises each row of x (width n) to zero mean and unit
// variance, then scales and shifts it (b may be nil: no shift); sums in
// float64.
func layerNorm(x []float32, n int, w, b []float32, eps float32) {
	for r := 0; r < len(x); r += n {
		row := x[r : r+n]
		var sum float64
		for _, v := range row {
			sum += float64(v)
		}
		mean := sum / float64(n)
		var ss float64
		for _, v := range row {
			d := float64(v) - mean
			ss += d * d
		}
		inv := 1 / math.Sqrt(ss/float64(n)+float64(eps))
		for i, v := range row {
			row[i] = float32((float64(v)-mean)*inv) * w[i]
			if b != nil {
				row[i] += b[i]
			}
		}
	}
}

// gelu is the exact GELU, x·Φ(x), as BERT's "gelu" is, in place.
func gelu(x []float32) {
	tensor.ParallelFor(len(x), 4096, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			x[i] = geluOf(x[i])
		}
	})
}

// geluOf is the exact GELU of one value, x·Φ(x).
func geluOf(x float32) float32 {
	cdf, _ := normal(x)
	return x * cdf
}

// normal returns the standard normal distribution's Φ(x) and density
// φ(x). Φ comes from erf by Abramowitz and Stegun's formula 7.1.26
// (absolute error at most 1.5e-7, below float32's resolution of Φ),
// which needs e^(−x²/2), φ's own exponential: one fast float32
// exponential per value instead of math.Erf's and math.Exp's float64
// work, which dominated training time.
func normal(x float32) (cdf, pdf float32) {
	const (
		p                      = 0.3275911
		a1, a2, a3, a4, a5     = 0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429
		invSqrt2, invSqrt2Pi32 = 0.70710678118654752, 0.39894228040143268
	)
	e := tensor.Exp32(-0.5 * x * x)
	ax := x
	if ax < 0 {
		ax = -ax
	}
	t := 1 / (1 + p*invSqrt2*ax)
	erf := 1 - ((((a5*t+a4)*t+a3)*t+a2)*t+a1)*t*e
	if x < 0 {
		erf = -erf
	}
	return 0.5 * (1 + erf), e * invSqrt2Pi32
}

// Pooling says how a sequence's hidden states become one embedding.
type Pooling int

// The poolings sentence-transformers configs name.
const (
	PoolCLS  Pooling = iota // the first position's state
	PoolMean                // the mean over positions
	PoolLast                // the last position's state
)

// Pool reduces hidden states (rows of width h) to one vector.
func Pool(hidden []float32, h int, p Pooling) []float32 {
	T := len(hidden) / h
	out := make([]float32, h)
	switch p {
	case PoolCLS:
		copy(out, hidden[:h])
	case PoolLast:
		copy(out, hidden[(T-1)*h:])
	default:
		acc := make([]float64, h)
		for t := range T {
			for i, v := range hidden[t*h : (t+1)*h] {
				acc[i] += float64(v)
			}
		}
		for i := range out {
			out[i] = float32(acc[i] / float64(T))
		}
	}
	return out
}

// Normalize scales v to unit length (a zero vector stays zero).
func Normalize(v []float32) {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	if ss == 0 {
		return
	}
	inv := float32(1 / math.Sqrt(ss))
	for i := range v {
		v[i] *= inv
	}
}
