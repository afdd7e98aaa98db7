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
}

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

// ModernBERT is a loaded ModernBERT encoder.
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
}

type modernLayer struct {
	attnNW, attnNB []float32 // nil for layer 0
	wqkv, bqkv     []float32
	wo, bo         []float32
	mlpNW, mlpNB   []float32
	wi, bi         []float32
	w2, b2         []float32
}

// loadModern reads a ModernBERT folder, its tensors bare or under the
// model. prefix ModernBertForMaskedLM saves them with.
func loadModern(dir string, raw []byte) (*ModernBERT, error) {
	cpath := filepath.Join(dir, "config.json")
	var c ModernConfig
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", cpath, err)
	}
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", cpath, err)
	}
	path := filepath.Join(dir, "model.safetensors")
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, err
	}
	prefix := ""
	if slices.Contains(f.Names(), "model.embeddings.tok_embeddings.weight") {
		prefix = "model."
	}
	H, I := c.HiddenSize, c.IntermediateSize
	r := &tensors{f: f, path: path, prefix: prefix}
	load := r.read
	m := &ModernBERT{Config: c, K: tensor.Default()}
	load(&m.embed, "embeddings.tok_embeddings.weight", true, c.VocabSize, H)
	load(&m.embNW, "embeddings.norm.weight", true, H)
	load(&m.embNB, "embeddings.norm.bias", c.NormBias, H)
	load(&m.finW, "final_norm.weight", true, H)
	load(&m.finB, "final_norm.bias", c.NormBias, H)
	m.layers = make([]modernLayer, c.NumHiddenLayers)
	for i := range m.layers {
		l, p := &m.layers[i], fmt.Sprintf("layers.%d.", i)
		load(&l.attnNW, p+"attn_norm.weight", i > 0, H)
		load(&l.attnNB, p+"attn_norm.bias", i > 0 && c.NormBias, H)
		load(&l.wqkv, p+"attn.Wqkv.weight", true, 3*H, H)
		load(&l.bqkv, p+"attn.Wqkv.bias", c.AttentionBias, 3*H)
		load(&l.wo, p+"attn.Wo.weight", true, H, H)
		load(&l.bo, p+"attn.Wo.bias", c.AttentionBias, H)
		load(&l.mlpNW, p+"mlp_norm.weight", true, H)
		load(&l.mlpNB, p+"mlp_norm.bias", c.NormBias, H)
		load(&l.wi, p+"mlp.Wi.weight", true, 2*I, H)
		load(&l.bi, p+"mlp.Wi.bias", c.MLPBias, 2*I)
		load(&l.w2, p+"mlp.Wo.weight", true, H, I)
		load(&l.b2, p+"mlp.Wo.bias", c.MLPBias, H)
		m.rot = append(m.rot, tensor.NewRotary(H/c.NumAttentionHeads, c.theta(i)))
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

// SetKernels selects the matrix kernels.
func (m *ModernBERT) SetKernels(k tensor.Kernels) { m.K = k }

// Forward returns the last hidden states of a sequence of token ids.
func (m *ModernBERT) Forward(ids []int) ([]float32, error) {
	c := &m.Config
	T, H, I := len(ids), c.HiddenSize, c.IntermediateSize
	if T == 0 || T > c.MaxPositionEmbeddings {
		return nil, fmt.Errorf("encoder: %d tokens: want 1 to %d", T, c.MaxPositionEmbeddings)
	}
	x := make([]float32, T*H)
	for t, id := range ids {
		if id < 0 || id >= c.VocabSize {
			return nil, fmt.Errorf("encoder: token id %d outside the vocabulary of %d", id, c.VocabSize)
		}
		copy(x[t*H:(t+1)*H], m.embed[id*H:(id+1)*H])
	}
	eps := float32(c.NormEps)
	layerNorm(x, H, m.embNW, m.embNB, eps)
	nh := c.NumAttentionHeads
	hd := H / nh
	scale := float32(1 / math.Sqrt(float64(hd)))
	pos := make([]int, T)
	for t := range pos {
		pos[t] = t
	}
	h, qkv := make([]float32, T*H), make([]float32, T*3*H)
	q, k, v := make([]float32, T*H), make([]float32, T*H), make([]float32, T*H)
	att, tmp := make([]float32, T*H), make([]float32, T*H)
	mid, act := make([]float32, T*2*I), make([]float32, T*I)
	scores := make([]float32, T*T)
	half := c.LocalAttention / 2
	for i := range m.layers {
		l := &m.layers[i]
		copy(h, x)
		if i > 0 {
			layerNorm(h, H, l.attnNW, l.attnNB, eps)
		}
		linear(m.K, qkv, h, l.wqkv, l.bqkv, T, H, 3*H)
		for t := range T {
			row := qkv[t*3*H : (t+1)*3*H]
			copy(q[t*H:(t+1)*H], row[:H])
			copy(k[t*H:(t+1)*H], row[H:2*H])
			copy(v[t*H:(t+1)*H], row[2*H:])
		}
		m.rot[i].Apply(q, nh, hd, pos)
		m.rot[i].Apply(k, nh, hd, pos)
		global := c.global(i)
		for hh := range nh {
			m.K.Gemm(false, true, T, T, hd, scale, q[hh*hd:], H, k[hh*hd:], H, 0, scores, T)
			for t := range T {
				row := scores[t*T : (t+1)*T]
				if !global {
					// The sliding window: |t - j| <= local_attention/2.
					for j := range row {
						if j < t-half || j > t+half {
							row[j] = float32(math.Inf(-1))
						}
					}
				}
				tensor.Softmax(row)
			}
			m.K.Gemm(false, false, T, hd, T, 1, scores, T, v[hh*hd:], H, 0, att[hh*hd:], H)
		}
		linear(m.K, tmp, att, l.wo, l.bo, T, H, H)
		tensor.Add(x, tmp)
		copy(h, x)
		layerNorm(h, H, l.mlpNW, l.mlpNB, eps)
		linear(m.K, mid, h, l.wi, l.bi, T, H, 2*I)
		for t := range T {
			in, gate, out := mid[t*2*I:t*2*I+I], mid[t*2*I+I:(t+1)*2*I], act[t*I:(t+1)*I]
			copy(out, in)
			gelu(out)
			for j := range out {
				out[j] *= gate[j]
			}
		}
		linear(m.K, tmp, act, l.w2, l.b2, T, I, H)
		tensor.Add(x, tmp)
	}
	layerNorm(x, H, m.finW, m.finB, eps)
	return x, nil
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
