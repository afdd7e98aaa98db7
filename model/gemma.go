package model

import (
	"errors"
	"fmt"

	"github.com/dokja/dokja/gguf"
)

// queryScalarKey keeps query_pre_attn_scalar in Dokja's GGUF files:
// llama.cpp derives Gemma 3's query scale from the model's shape instead.
const queryScalarKey = "dokja.query_pre_attn_scalar"

// ggufGemmaMeta is what a Gemma 3 file carries beyond the shared keys:
// the sliding layers' RoPE base, the logit cap, the query scale.
func (c *Config) ggufGemmaMeta(arch string) []gguf.KV {
	a := c.arch()
	if !a.LocalRoPE && c.FinalLogitSoftcapping == nil && c.QueryPreAttnScalar == 0 {
		return nil
	}
	var meta []gguf.KV
	if a.LocalRoPE {
		meta = append(meta, gguf.KV{Key: arch + ".rope.freq_base_swa", Value: float32(c.localRotaryBase())})
	}
	if f := c.FinalLogitSoftcapping; f != nil {
		meta = append(meta, gguf.KV{Key: arch + ".final_logit_softcapping", Value: float32(*f)})
	}
	if c.QueryPreAttnScalar > 0 {
		meta = append(meta, gguf.KV{Key: queryScalarKey, Value: float32(c.QueryPreAttnScalar)})
	}
	return meta
}

// localRotaryBase is rope_local_base_freq, 10000 where unset.
func (c *Config) localRotaryBase() float64 {
	if c.RopeLocalBaseFreq == 0 {
		return 10000
	}
	return c.RopeLocalBaseFreq
}

// ggufGemma reads those settings back; for a file without Dokja's key the
// query scale is llama.cpp's: 1/√(hidden/heads) for the 62-layer 27B,
// 1/√head_dim otherwise.
func ggufGemma(f *gguf.File, arch string, c *Config) error {
	a := c.arch()
	if a.Name != "Gemma3ForCausalLM" {
		return nil
	}
	c.HiddenAct = "gelu_pytorch_tanh"
	c.RopeLocalBaseFreq = 10000
	if v, err := f.Float(arch + ".rope.freq_base_swa"); err == nil {
		c.RopeLocalBaseFreq = v
	} else if !errors.Is(err, gguf.ErrNotFound) {
		return err
	}
	if v, err := f.Float(arch + ".final_logit_softcapping"); err == nil && v != 0 {
		c.FinalLogitSoftcapping = &v
	}
	c.QueryPreAttnScalar = float64(c.HeadDim)
	if c.NumHiddenLayers == 62 {
		c.QueryPreAttnScalar = float64(c.HiddenSize / c.NumAttentionHeads)
	}
	if v, err := f.Float(queryScalarKey); err == nil {
		if !(v > 0) {
			return fmt.Errorf("%s: %s %g is not positive", f.Path, queryScalarKey, v)
		}
		c.QueryPreAttnScalar = v
	}
	return nil
}
