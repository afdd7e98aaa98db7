package model

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/dokja/dokja/internal/sysmem"
	"github.com/dokja/dokja/quant"
	"github.com/dokja/dokja/safetensors"
	"github.com/dokja/dokja/tensor"
)

// Linear is one projection, out = in·Wᵀ + B, with its weight [out, in] as
// Hugging Face stores it: in float32 (W), or kept in a ggml block format
// (Q; LoadGGUFWith KeepQuantized), in which case W is nil. B is nil when
// the projection has no bias. A model with blocks decodes from them and
// cannot be trained or saved.
type Linear struct {
	W []float32
	Q *quant.Matrix
	B []float32
}

// apply computes out = in·Wᵀ (+ B) for rows rows of nIn values.
func (l *Linear) apply(k tensor.Kernels, out, in []float32, rows, nOut, nIn int) {
	if l.Q != nil {
		l.Q.MatMul(out, in, rows)
	} else {
		k.Gemm(false, true, rows, nOut, nIn, 1, in, nIn, l.W, nIn, 0, out, nOut)
	}
	if l.B != nil {
		tensor.AddBias(out, l.B)
	}
}

// Layer holds one decoder block's weights.
type Layer struct {
	// AttnNorm and MLPNorm normalise the residual stream before attention
	// and MLP; nil where the architecture has none (Arch.NoPreNorms).
	AttnNorm, MLPNorm []float32
	// PostAttnNorm and PostMLPNorm normalise the attention and MLP outputs
	// before they join the residual stream (Config.postNorms); else nil.
	PostAttnNorm, PostMLPNorm []float32
	Q, K, V, O                Linear
	Gate, Up, Down            Linear
	// QNorm and KNorm normalise each head's queries and keys before RoPE
	// (one weight per head dimension); nil where the architecture has none.
	QNorm, KNorm []float32
	// In a mixture-of-experts layer Gate, Up and Down are empty and the
	// MLP is Router ([experts, hidden]) choosing among Experts, plus, for
	// Qwen2-MoE, a Shared expert scaled by sigmoid(SharedGate·x).
	Router     Linear
	Experts    []Expert
	Shared     *Expert
	SharedGate Linear
}

// Model is a decoder-only transformer.
type Model struct {
	Config *Config
	Embed  []float32 // [vocab, hidden]
	Layers []Layer
	Norm   []float32
	// Head is the output projection [vocab, hidden]; when tied, Head.W is
	// the embedding (and Head.Q the embedding's blocks, when kept).
	Head Linear
	K    tensor.Kernels

	// HalfKV makes NewCache keep keys and values in fp16 (rounded to
	// nearest, ties to even, as llama.cpp's default cache): half the
	// memory per cached position, and half the bytes a decode step reads
	// from the cache.
	HalfKV bool

	mem trainMem // activations of LossAndGrad, reused across steps
}

// quantized reports whether any matrix is kept in blocks.
func (m *Model) quantized() bool {
	if m.Head.Q != nil {
		return true
	}
	for i := range m.Layers {
		for _, l := range m.Layers[i].linears() {
			if l.Q != nil {
				return true
			}
		}
	}
	return false
}

// linears lists the layer's projections.
func (l *Layer) linears() []*Linear {
	out := []*Linear{&l.Q, &l.K, &l.V, &l.O, &l.Gate, &l.Up, &l.Down, &l.Router, &l.SharedGate}
	for i := range l.Experts {
		e := &l.Experts[i]
		out = append(out, &e.Gate, &e.Up, &e.Down)
	}
	if l.Shared != nil {
		out = append(out, &l.Shared.Gate, &l.Shared.Up, &l.Shared.Down)
	}
	return out
}

// tensorSpec names one weight and its expected shape; lin is the
// projection a matrix belongs to (nil for embeddings, norms and biases).
// name is the checkpoint's (Hugging Face) name, canon Dokja's: Llama's
// names, with post_attn_norm and post_ffw_norm for the post norms, from
// which GGUF names are made.
type tensorSpec struct {
	name  string
	shape []int
	dst   *[]float32
	lin   *Linear
	canon string
}

// specs lists every tensor of the configuration under its Hugging Face
// name, pointing at the field that receives it.
func (m *Model) specs() []tensorSpec {
	a := m.Config.arch()
	s := m.canonSpecs()
	for i := range s {
		s[i].canon = s[i].name
		s[i].name = a.hfName(s[i].name)
	}
	return s
}

// canonSpecs is specs under Dokja's names.
func (m *Model) canonSpecs() []tensorSpec {
	c := m.Config
	a := c.arch()
	d, ff, hd := c.HiddenSize, c.IntermediateSize, c.HeadDim
	qd, kvd := c.NumAttentionHeads*hd, c.NumKeyValueHeads*hd
	s := []tensorSpec{{name: "model.embed_tokens.weight", shape: []int{c.VocabSize, d}, dst: &m.Embed}, {name: "model.norm.weight", shape: []int{d}, dst: &m.Norm}}
	if !c.TieWordEmbeddings {
		s = append(s, tensorSpec{name: "lm_head.weight", shape: []int{c.VocabSize, d}, dst: &m.Head.W, lin: &m.Head})
	}
	for i := range m.Layers {
		l := &m.Layers[i]
		p := fmt.Sprintf("model.layers.%d.", i)
		mat := func(name string, out, in int, lin *Linear) tensorSpec {
			return tensorSpec{name: p + name + ".weight", shape: []int{out, in}, dst: &lin.W, lin: lin}
		}
		vec := func(name string, n int, dst *[]float32) tensorSpec {
			return tensorSpec{name: p + name + ".weight", shape: []int{n}, dst: dst}
		}
		if !a.NoPreNorms {
			s = append(s, vec("input_layernorm", d, &l.AttnNorm), vec("post_attention_layernorm", d, &l.MLPNorm))
		}
		if c.postNorms() {
			s = append(s, vec("post_attn_norm", d, &l.PostAttnNorm), vec("post_ffw_norm", d, &l.PostMLPNorm))
		}
		s = append(s,
			mat("self_attn.q_proj", qd, d, &l.Q),
			mat("self_attn.k_proj", kvd, d, &l.K),
			mat("self_attn.v_proj", kvd, d, &l.V),
			mat("self_attn.o_proj", d, qd, &l.O),
		)
		mlp := func(prefix string, ff int, ex *Expert) {
			s = append(s, mat(prefix+"gate_proj", ff, d, &ex.Gate), mat(prefix+"up_proj", ff, d, &ex.Up), mat(prefix+"down_proj", d, ff, &ex.Down))
		}
		if c.moe(i) {
			E := c.NumExperts
			if len(l.Experts) != E {
				l.Experts = make([]Expert, E)
			}
			s = append(s, mat("mlp.gate", E, d, &l.Router))
			for e := range l.Experts {
				mlp(fmt.Sprintf("mlp.experts.%d.", e), c.expertFF(), &l.Experts[e])
			}
			if sff := c.SharedExpertIntermediateSize; sff > 0 {
				if l.Shared == nil {
					l.Shared = new(Expert)
				}
				mlp("mlp.shared_expert.", sff, l.Shared)
				s = append(s, mat("mlp.shared_expert_gate", 1, d, &l.SharedGate))
			}
		} else {
			s = append(s,
				mat("mlp.gate_proj", ff, d, &l.Gate),
				mat("mlp.up_proj", ff, d, &l.Up),
				mat("mlp.down_proj", d, ff, &l.Down),
			)
		}
		if c.QKVBias() {
			s = append(s,
				tensorSpec{name: p + "self_attn.q_proj.bias", shape: []int{qd}, dst: &l.Q.B},
				tensorSpec{name: p + "self_attn.k_proj.bias", shape: []int{kvd}, dst: &l.K.B},
				tensorSpec{name: p + "self_attn.v_proj.bias", shape: []int{kvd}, dst: &l.V.B})
		}
		if c.OBias() {
			s = append(s, tensorSpec{name: p + "self_attn.o_proj.bias", shape: []int{d}, dst: &l.O.B})
		}
		if c.QKNorm() {
			s = append(s, vec("self_attn.q_norm", hd, &l.QNorm), vec("self_attn.k_norm", hd, &l.KNorm))
		}
	}
	return s
}

// Load reads a Hugging Face checkpoint folder: config.json and
// model.safetensors (or sharded files with model.safetensors.index.json),
// in F32, F16 or BF16. Every expected tensor must be present with its
// exact shape; tensors of other kinds (e.g. rotary caches) are ignored.
func Load(dir string) (*Model, error) {
	c, err := LoadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	set, err := safetensors.OpenSharded(dir)
	if err != nil {
		return nil, err
	}
	defer set.Close()
	qName := c.arch().hfName("model.layers.%d.self_attn.q_proj.weight")
	if err := c.checkLayers(dir, qName, func(i int) bool {
		_, ok := set.Info(fmt.Sprintf(qName, i))
		return ok
	}); err != nil {
		return nil, err
	}
	if err := sysmem.Check(fmt.Sprintf("%s (%.3g weights as float32)", dir, c.NumParams()), 4*c.NumParams()); err != nil {
		return nil, err
	}
	m := &Model{Config: c, Layers: make([]Layer, c.NumHiddenLayers), K: tensor.Default()}
	for _, s := range m.specs() {
		info, ok := set.Info(s.name)
		if !ok {
			return nil, fmt.Errorf("%s: tensor %q is missing (expected shape %v for %s)", dir, s.name, s.shape, c.Architectures)
		}
		if !slices.Equal(info.Shape, s.shape) {
			return nil, fmt.Errorf("%s: tensor %q has shape %v, config.json implies %v", dir, s.name, info.Shape, s.shape)
		}
		data, err := set.Float32(s.name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", dir, err)
		}
		if c.arch().NormPlusOne && isNorm(s.canon) {
			for i := range data {
				data[i]++
			}
		}
		*s.dst = data
	}
	if c.TieWordEmbeddings {
		m.Head.W = m.Embed
	}
	return m, nil
}

// isNorm reports whether a tensor (Dokja's name) is an RMSNorm weight.
func isNorm(canon string) bool { return strings.HasSuffix(canon, "norm.weight") }

// Cache holds the keys and values of the positions a model has seen, per
// layer, so that decoding a new token costs one position's work: in
// float32, or in fp16 (hk, hv) when the model's HalfKV is set.
type Cache struct {
	k, v   [][]float32 // per layer: n rows of kv_heads×head_dim
	hk, hv [][]uint16  // the same in fp16, for a half cache
	half   bool
	n      int // positions held
}

// Len is the number of positions the cache holds.
func (c *Cache) Len() int { return c.n }

// NewCache returns an empty cache for m, in fp16 if m.HalfKV is set.
func (m *Model) NewCache() *Cache {
	n := len(m.Layers)
	if m.HalfKV {
		return &Cache{hk: make([][]uint16, n), hv: make([][]uint16, n), half: true}
	}
	return &Cache{k: make([][]float32, n), v: make([][]float32, n)}
}

// CacheBytesPerToken is the memory one cached position takes in the
// caches NewCache makes: keys and values for every layer.
func (m *Model) CacheBytesPerToken() int {
	return m.Config.CacheBytesPerToken(m.HalfKV)
}

// CacheBytesPerToken is the memory one cached position takes: keys and
// values of every layer, in float32 or (half) fp16.
func (c *Config) CacheBytesPerToken(half bool) int {
	size := 4
	if half {
		size = 2
	}
	return 2 * c.NumHiddenLayers * c.NumKeyValueHeads * c.HeadDim * size
}

// Truncate forgets the positions from n on (n ≤ Len()), to reuse a prefix.
func (c *Cache) Truncate(n int) {
	if n < 0 || n > c.n {
		return
	}
	for i := range c.k {
		w := len(c.k[i]) / max(c.n, 1)
		c.k[i] = c.k[i][:n*w]
		c.v[i] = c.v[i][:n*w]
	}
	for i := range c.hk {
		w := len(c.hk[i]) / max(c.n, 1)
		c.hk[i] = c.hk[i][:n*w]
		c.hv[i] = c.hv[i][:n*w]
	}
	c.n = n
}

// appendRows adds layer li's keys and values of new positions.
func (c *Cache) appendRows(li int, k, v []float32) {
	if !c.half {
		c.k[li] = append(c.k[li], k...)
		c.v[li] = append(c.v[li], v...)
		return
	}
	for i := range k {
		c.hk[li] = append(c.hk[li], safetensors.Float32ToFloat16(k[i]))
		c.hv[li] = append(c.hv[li], safetensors.Float32ToFloat16(v[i]))
	}
}

// layer returns layer li's cached keys and values in float32: the cache
// itself, or for a half cache its first rows·width values widened.
func (c *Cache) layer(li, rows, width int) (k, v []float32) {
	if !c.half {
		return c.k[li], c.v[li]
	}
	n := rows * width
	k, v = make([]float32, n), make([]float32, n)
	for i := range n {
		k[i] = safetensors.Float16ToFloat32(c.hk[li][i])
		v[i] = safetensors.Float16ToFloat32(c.hv[li][i])
	}
	return k, v
}

// Param is one weight tensor under its Hugging Face name.
type Param struct {
	Name  string
	Shape []int
	Data  []float32
}

// Params lists the model's weight tensors in a fixed order (a tied output
// head is not listed twice). Data aliases the model's own slices.
func (m *Model) Params() []Param {
	specs := m.specs()
	out := make([]Param, len(specs))
	for i, s := range specs {
		out[i] = Param{Name: s.name, Shape: s.shape, Data: *s.dst}
	}
	return out
}
