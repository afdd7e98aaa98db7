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
	TorchDtype        string       `json:"torch_dtype"`
	BOSTokenID        any          `json:"bos_token_id,omitempty"`
	EOSTokenID        any          `json:"eos_token_id,omitempty"`
}

// maxDim bounds every size read from a config, so that products of sizes
// cannot overflow and absurd files fail early.
const maxDim = 1 << 24

// ReadConfig parses and validates a config.json.
func ReadConfig(r io.Reader) (*Config, error) {
	var c Config
	dec := json.NewDecoder(io.LimitReader(r, 1<<20))
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
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
	if c.HiddenAct != "silu" {
		return fmt.Errorf("config.json: hidden_act: %q is not supported (want silu)", c.HiddenAct)
	}
	if c.MLPBias {
		return errors.New("config.json: mlp_bias: true is not supported")
	}
	if c.UseSlidingWindow {
		return errors.New("config.json: use_sliding_window: true is not supported yet (every layer would attend over the whole context)")
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
	d, ff, hd := float64(c.HiddenSize), float64(c.IntermediateSize), float64(c.HeadDim)
	qd, kvd := float64(c.NumAttentionHeads)*hd, float64(c.NumKeyValueHeads)*hd
	layer := 2*d + qd*d + 2*kvd*d + d*qd + 3*ff*d
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
