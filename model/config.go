// Package model defines Dokja's decoder-only transformer, the Llama /
// Qwen2 / A.X family: token embedding, RMSNorm, rotary position
// embeddings, grouped-query attention with optional q/k/v biases, a SwiGLU
// MLP, and a tied or separate output head. Its configuration is Hugging
// Face's config.json and its weights use Hugging Face's tensor names.
package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/dokja/dokja/tensor"
)

// Config is the subset of a Hugging Face config.json that defines a Llama
// or Qwen2 model.
type Config struct {
	Architectures         []string     `json:"architectures"`
	ModelType             string       `json:"model_type"`
	VocabSize             int          `json:"vocab_size"`
	HiddenSize            int          `json:"hidden_size"`
	IntermediateSize      int          `json:"intermediate_size"`
	NumHiddenLayers       int          `json:"num_hidden_layers"`
	NumAttentionHeads     int          `json:"num_attention_heads"`
	NumKeyValueHeads      int          `json:"num_key_value_heads"`
	HeadDim               int          `json:"head_dim"`
	HiddenAct             string       `json:"hidden_act"`
	MaxPositionEmbeddings int          `json:"max_position_embeddings"`
	RMSNormEps            float64      `json:"rms_norm_eps"`
	RopeTheta             float64      `json:"rope_theta"`
	RopeScaling           *RopeScaling `json:"rope_scaling"`
	// RopeParameters is Transformers 5's name for rope_scaling, which also
	// carries rope_theta; ReadConfig folds it into the two fields above.
	RopeParameters    *RopeScaling `json:"rope_parameters,omitempty"`
	TieWordEmbeddings bool         `json:"tie_word_embeddings"`
	AttentionBias     bool         `json:"attention_bias"`
	MLPBias           bool         `json:"mlp_bias"`
	UseSlidingWindow  bool         `json:"use_sliding_window"`
	// SlidingWindow is how many positions a sliding-window layer sees,
	// itself included; which layers slide is the architecture's rule
	// (Arch.Sliding) or LayerTypes.
	SlidingWindow        *int     `json:"sliding_window,omitempty"`
	MaxWindowLayers      int      `json:"max_window_layers,omitempty"`
	LayerTypes           []string `json:"layer_types,omitempty"`
	SlidingWindowPattern any      `json:"sliding_window_pattern,omitempty"`
	// EXAONE 3 names three keys its own way; ReadConfig copies them to
	// num_hidden_layers, rms_norm_eps and hidden_act.
	NumLayers          int     `json:"num_layers,omitempty"`
	LayerNormEpsilon   float64 `json:"layer_norm_epsilon,omitempty"`
	ActivationFunction string  `json:"activation_function,omitempty"`
	// Mixture of experts (Qwen3-MoE, Qwen2-MoE, Mixtral). Mixtral's
	// num_local_experts is copied to num_experts.
	NumExperts                   int   `json:"num_experts,omitempty"`
	NumLocalExperts              int   `json:"num_local_experts,omitempty"`
	NumExpertsPerTok             int   `json:"num_experts_per_tok,omitempty"`
	MoEIntermediateSize          int   `json:"moe_intermediate_size,omitempty"`
	SharedExpertIntermediateSize int   `json:"shared_expert_intermediate_size,omitempty"`
	NormTopKProb                 *bool `json:"norm_topk_prob,omitempty"`
	DecoderSparseStep            int   `json:"decoder_sparse_step,omitempty"`
	MLPOnlyLayers                []int `json:"mlp_only_layers,omitempty"`
	// Gemma 3: hidden_activation (copied to hidden_act), the query scale
	// 1/√query_pre_attn_scalar, the sliding layers' RoPE base, a tanh cap
	// on the logits.
	HiddenActivation      string   `json:"hidden_activation,omitempty"`
	QueryPreAttnScalar    float64  `json:"query_pre_attn_scalar,omitempty"`
	RopeLocalBaseFreq     float64  `json:"rope_local_base_freq,omitempty"`
	FinalLogitSoftcapping *float64 `json:"final_logit_softcapping,omitempty"`
	AttnLogitSoftcapping  *float64 `json:"attn_logit_softcapping,omitempty"`
	// µP (Granite, HyperCLOVA X): see Arch.MuP. attention_multiplier
	// replaces 1/√head_dim (null: that default).
	EmbeddingMultiplier float64  `json:"embedding_multiplier,omitempty"`
	AttentionMultiplier *float64 `json:"attention_multiplier,omitempty"`
	ResidualMultiplier  float64  `json:"residual_multiplier,omitempty"`
	LogitsScaling       float64  `json:"logits_scaling,omitempty"`
	UsePostNorm         *bool    `json:"use_post_norm,omitempty"`
	TorchDtype          string   `json:"torch_dtype"`
	BOSTokenID          any      `json:"bos_token_id,omitempty"`
	EOSTokenID          any      `json:"eos_token_id,omitempty"`
}

// maxDim bounds every size read from a config, so that products of sizes
// cannot overflow and absurd files fail early.
const maxDim = 1 << 24

// ReadConfig parses and validates a config.json.
func ReadConfig(r io.Reader) (*Config, error) {
	var c Config
	data, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	// Gemma's head is tied unless the file says otherwise.
	if a, err := c.Arch(); err == nil && a.TiedByDefault {
		var keys map[string]json.RawMessage
		if json.Unmarshal(data, &keys) == nil {
			if _, ok := keys["tie_word_embeddings"]; !ok {
				c.TieWordEmbeddings = true
			}
		}
	}
	if c.NumHiddenLayers == 0 {
		c.NumHiddenLayers = c.NumLayers
	}
	if c.NumExperts == 0 {
		c.NumExperts = c.NumLocalExperts
	}
	if c.RMSNormEps == 0 {
		c.RMSNormEps = c.LayerNormEpsilon
	}
	if c.HiddenAct == "" {
		c.HiddenAct = c.ActivationFunction
	}
	if c.HiddenAct == "" {
		c.HiddenAct = c.HiddenActivation
	}
	if c.NumKeyValueHeads == 0 {
		c.NumKeyValueHeads = c.NumAttentionHeads
	}
	if c.HeadDim == 0 && c.NumAttentionHeads > 0 {
		c.HeadDim = c.HiddenSize / c.NumAttentionHeads
	}
	if p := c.RopeParameters; p != nil {
		if p.theta != 0 && c.RopeTheta == 0 {
			c.RopeTheta = p.theta
		}
		p.theta = 0
		if c.RopeScaling == nil {
			c.RopeScaling = p
		}
		c.RopeParameters = nil
	}
	if c.RopeScaling != nil && c.RopeScaling.Type == "default" {
		c.RopeScaling = nil
	}
	if c.RopeTheta == 0 {
		c.RopeTheta = 10000
	}
	if c.RMSNormEps == 0 {
		c.RMSNormEps = 1e-6
	}
	if c.HiddenAct == "" {
		c.HiddenAct = "silu"
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// LoadConfig reads path/config.json, or path itself if it is a file.
func LoadConfig(path string) (*Config, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path += "/config.json"
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c, err := ReadConfig(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Validate checks that the sizes describe a model Dokja can build.
func (c *Config) Validate() error {
	if _, err := c.Arch(); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		v    int
	}{
		{"vocab_size", c.VocabSize}, {"hidden_size", c.HiddenSize}, {"intermediate_size", c.IntermediateSize},
		{"num_hidden_layers", c.NumHiddenLayers}, {"num_attention_heads", c.NumAttentionHeads},
		{"num_key_value_heads", c.NumKeyValueHeads}, {"head_dim", c.HeadDim},
	} {
		if f.v <= 0 || f.v > maxDim {
			return fmt.Errorf("config.json: %s: %d is not in [1, %d]", f.name, f.v, maxDim)
		}
	}
	if c.NumAttentionHeads%c.NumKeyValueHeads != 0 {
		return fmt.Errorf("config.json: num_attention_heads %d is not a multiple of num_key_value_heads %d", c.NumAttentionHeads, c.NumKeyValueHeads)
	}
	if c.HeadDim%2 != 0 {
		return fmt.Errorf("config.json: head_dim %d must be even for rotary embeddings", c.HeadDim)
	}
	if c.HiddenAct != "silu" && c.HiddenAct != "gelu_pytorch_tanh" {
		return fmt.Errorf("config.json: hidden_act: %q is not supported (want silu or gelu_pytorch_tanh)", c.HiddenAct)
	}
	if c.AttnLogitSoftcapping != nil {
		return errors.New("config.json: attn_logit_softcapping is not supported (Gemma 2's capped attention scores)")
	}
	if f := c.FinalLogitSoftcapping; f != nil && !(*f > 0 && !math.IsInf(*f, 0)) {
		return fmt.Errorf("config.json: final_logit_softcapping %g must be positive", *f)
	}
	if v := c.QueryPreAttnScalar; v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return fmt.Errorf("config.json: query_pre_attn_scalar %g must be positive", v)
	}
	for _, m := range []struct {
		name string
		v    float64
	}{{"embedding_multiplier", c.EmbeddingMultiplier}, {"residual_multiplier", c.ResidualMultiplier}, {"logits_scaling", c.LogitsScaling}} {
		if m.v < 0 || math.IsNaN(m.v) || math.IsInf(m.v, 0) {
			return fmt.Errorf("config.json: %s %g must be positive", m.name, m.v)
		}
	}
	if v := c.AttentionMultiplier; v != nil && !(*v > 0 && !math.IsInf(*v, 0)) {
		return fmt.Errorf("config.json: attention_multiplier %g must be positive", *v)
	}
	if v := c.RopeLocalBaseFreq; v != 0 && !(v > 1 && !math.IsInf(v, 0)) {
		return fmt.Errorf("config.json: rope_local_base_freq %g must be finite and > 1", v)
	}
	if c.MLPBias {
		return errors.New("config.json: mlp_bias: true is not supported")
	}
	if _, err := c.layerPlans(); err != nil {
		return err
	}
	if err := c.validateMoE(); err != nil {
		return err
	}
	if c.RopeScaling != nil {
		if err := c.RopeScaling.validate(c); err != nil {
			return err
		}
	}
	if c.RMSNormEps < 0 || !(c.RopeTheta > 1) || math.IsInf(c.RopeTheta, 0) {
		return fmt.Errorf("config.json: rms_norm_eps %g must be ≥ 0 and rope_theta %g finite and > 1", c.RMSNormEps, c.RopeTheta)
	}
	if c.MaxPositionEmbeddings < 0 || c.MaxPositionEmbeddings > maxDim {
		return fmt.Errorf("config.json: max_position_embeddings: %d is not in [0, %d]", c.MaxPositionEmbeddings, maxDim)
	}
	return nil
}

// NumParams is the number of weights the configuration implies, counted
// in float64: sizes of up to 2²⁴ each multiply past what int64 holds.
func (c *Config) NumParams() float64 {
	d, hd := float64(c.HiddenSize), float64(c.HeadDim)
	qd, kvd := float64(c.NumAttentionHeads)*hd, float64(c.NumKeyValueHeads)*hd
	layer := 2*d + qd*d + 2*kvd*d + d*qd
	if c.QKVBias() {
		layer += qd + 2*kvd
	}
	if c.OBias() {
		layer += d
	}
	if c.QKNorm() {
		layer += 2 * hd
	}
	n := float64(c.VocabSize)*d + d + float64(c.NumHiddenLayers)*layer
	for i := range c.NumHiddenLayers {
		n += c.mlpParams(i, false)
	}
	if !c.TieWordEmbeddings {
		n += float64(c.VocabSize) * d
	}
	return n
}

// checkLayers refuses a configuration with more layers than the file
// holds (has(i) reports whether layer i's first tensor is there), before
// anything is sized by the layer count: a config.json or GGUF header that
// claims 16 million layers must not make the loader allocate for them.
func (c *Config) checkLayers(file, firstTensor string, has func(i int) bool) error {
	for i := range c.NumHiddenLayers {
		if !has(i) {
			return fmt.Errorf("%s: tensor %q is missing: the configuration has %d layers, the file holds %d", file, fmt.Sprintf(firstTensor, i), c.NumHiddenLayers, i)
		}
	}
	return nil
}

// layerPlan is what differs between the layers of one model.
type layerPlan struct {
	// window is how many positions the layer attends to, itself included
	// (0: all).
	window int
	// noRoPE: the layer's queries and keys are not rotated.
	noRoPE bool
	// local: rotated with the local base and no scaling (Arch.LocalRoPE).
	local bool
}

// layerPlans decides, per layer, the attention window and whether RoPE
// applies, from layer_types where config.json lists them and otherwise
// from the architecture's rule.
func (c *Config) layerPlans() ([]layerPlan, error) {
	a, err := c.Arch()
	if err != nil {
		return nil, err
	}
	n := c.NumHiddenLayers
	plans := make([]layerPlan, n)
	sliding := make([]bool, n)
	switch {
	case len(c.LayerTypes) > 0:
		if len(c.LayerTypes) != n {
			return nil, fmt.Errorf("config.json: layer_types has %d entries for %d layers", len(c.LayerTypes), n)
		}
		for i, t := range c.LayerTypes {
			switch t {
			case "sliding_attention":
				sliding[i] = true
			case "full_attention":
			default:
				return nil, fmt.Errorf("config.json: layer_types[%d]: %q is not supported (want sliding_attention or full_attention)", i, t)
			}
		}
	case a.Sliding == "all":
		for i := range sliding {
			sliding[i] = c.SlidingWindow != nil
		}
	case a.Sliding == "qwen":
		for i := range sliding {
			sliding[i] = c.UseSlidingWindow && i >= c.MaxWindowLayers
		}
	case a.Sliding == "pattern" && c.SlidingWindow != nil:
		switch p := c.SlidingWindowPattern.(type) {
		case nil:
		case float64:
			if p < 1 || p != math.Trunc(p) || p > maxDim {
				return nil, fmt.Errorf("config.json: sliding_window_pattern %g is not a positive whole number", p)
			}
			for i := range sliding {
				sliding[i] = (i+1)%int(p) != 0
			}
		case string:
			// "LLLG": L slides, G is global, repeated over the layers; the
			// last layer is global (EXAONE 4's rule).
			if p == "" || strings.Trim(p, "LG") != "" {
				return nil, fmt.Errorf("config.json: sliding_window_pattern %q: want letters L and G", p)
			}
			for i := range sliding {
				sliding[i] = p[i%len(p)] == 'L' && i != n-1
			}
		default:
			return nil, fmt.Errorf("config.json: sliding_window_pattern %v: want a number or a string of L and G", p)
		}
	}
	if a.Sliding == "" && len(c.LayerTypes) > 0 && slices.Contains(sliding, true) {
		return nil, fmt.Errorf("config.json: layer_types: %s has no sliding-window layers", a.Name)
	}
	for i := range plans {
		if sliding[i] {
			if c.SlidingWindow == nil || *c.SlidingWindow <= 0 || *c.SlidingWindow > maxDim {
				return nil, fmt.Errorf("config.json: layer %d slides but sliding_window is %s", i, fmtWindow(c.SlidingWindow))
			}
			plans[i].window = *c.SlidingWindow
		}
		plans[i].noRoPE = a.NoPEGlobal && c.SlidingWindow != nil && !sliding[i]
		plans[i].local = a.LocalRoPE && sliding[i]
	}
	return plans, nil
}

func fmtWindow(w *int) string {
	if w == nil {
		return "null"
	}
	return fmt.Sprint(*w)
}

// localRotary is the sliding layers' RoPE where the architecture has a
// local base (Gemma 3: rope_local_base_freq, 10000 where unset), unscaled.
func (c *Config) localRotary() *tensor.Rotary {
	theta := c.RopeLocalBaseFreq
	if theta == 0 {
		theta = 10000
	}
	return tensor.NewRotary(c.HeadDim, theta)
}

// attnScale multiplies the attention scores: attention_multiplier (µP),
// 1/√query_pre_attn_scalar (Gemma), else 1/√head_dim.
func (c *Config) attnScale() float32 {
	if v := c.AttentionMultiplier; v != nil {
		return float32(*v)
	}
	if c.QueryPreAttnScalar > 0 {
		return float32(1 / math.Sqrt(c.QueryPreAttnScalar))
	}
	return float32(1 / math.Sqrt(float64(c.HeadDim)))
}

// embedScale multiplies the embeddings: embedding_multiplier (µP), or
// Gemma's √hidden_size in float32.
func (c *Config) embedScale() float32 {
	if c.EmbeddingMultiplier > 0 {
		return float32(c.EmbeddingMultiplier)
	}
	if c.arch().EmbedScale {
		return float32(math.Sqrt(float64(c.HiddenSize)))
	}
	return 1
}

// softcap applies final_logit_softcapping, cap·tanh(logit/cap), where
// the configuration sets it.
func (c *Config) softcap(logits []float32) {
	if c.FinalLogitSoftcapping == nil {
		return
	}
	cp := *c.FinalLogitSoftcapping
	for i, v := range logits {
		logits[i] = float32(cp * math.Tanh(float64(v)/cp))
	}
}

// residualScale multiplies each sublayer's output before the residual
// add (µP's residual_multiplier; 1 otherwise).
func (c *Config) residualScale() float32 {
	if c.ResidualMultiplier > 0 {
		return float32(c.ResidualMultiplier)
	}
	return 1
}

// logitScale multiplies the logits: 1/logits_scaling for Granite,
// logits_scaling for HyperCLOVA X, 1 otherwise.
func (c *Config) logitScale() float32 {
	if c.LogitsScaling == 0 {
		return 1
	}
	switch c.arch().MuP {
	case "granite":
		return float32(1 / c.LogitsScaling)
	case "hyperclovax":
		return float32(c.LogitsScaling)
	}
	return 1
}
