package model

import (
	"errors"
	"fmt"

	"github.com/dokja/dokja/gguf"
)

// ggufArch is the general.architecture SaveGGUF writes: the table's,
// except that HyperCLOVA X without post norms is Granite's maths with the
// logit scale inverted, which llama.cpp runs as granite.
func (c *Config) ggufArch() string {
	if c.arch().MuP == "hyperclovax" && !c.postNorms() {
		return "granite"
	}
	return c.arch().GGUF
}

// ggufMuPMeta writes µP's multipliers under llama.cpp's granite keys:
// embedding_scale, residual_scale, attention.scale, and logit_scale as
// the divisor of the logits (Granite's logits_scaling; for HyperCLOVA X,
// which multiplies, its inverse).
func (c *Config) ggufMuPMeta(arch string) []gguf.KV {
	if c.arch().MuP == "" {
		return nil
	}
	f32 := func(k string, v float32) gguf.KV { return gguf.KV{Key: arch + "." + k, Value: v} }
	return []gguf.KV{
		f32("embedding_scale", c.embedScale()), f32("residual_scale", c.residualScale()),
		f32("attention.scale", c.attnScale()), f32("logit_scale", 1/c.logitScale()),
	}
}

// ggufMuP reads them back; HyperCLOVA X's post norms are there when their
// tensors are.
func ggufMuP(f *gguf.File, arch string, c *Config) error {
	a := c.arch()
	if a.MuP == "" {
		return nil
	}
	get := func(key string) (float64, bool, error) {
		v, err := f.Float(arch + "." + key)
		if errors.Is(err, gguf.ErrNotFound) {
			return 0, false, nil
		}
		if err != nil {
			return 0, false, err
		}
		if !(v > 0) {
			return 0, false, fmt.Errorf("%s: %s.%s %g must be positive", f.Path, arch, key, v)
		}
		return v, true, nil
	}
	for _, k := range []struct {
		key string
		dst *float64
	}{{"embedding_scale", &c.EmbeddingMultiplier}, {"residual_scale", &c.ResidualMultiplier}} {
		v, ok, err := get(k.key)
		if err != nil {
			return err
		}
		if ok {
			*k.dst = v
		}
	}
	if v, ok, err := get("attention.scale"); err != nil {
		return err
	} else if ok {
		c.AttentionMultiplier = &v
	}
	if v, ok, err := get("logit_scale"); err != nil {
		return err
	} else if ok {
		c.LogitsScaling = v
		if a.MuP == "hyperclovax" {
			c.LogitsScaling = 1 / v
		}
	}
	if a.MuP == "hyperclovax" {
		_, post := f.Tensor("blk.0.post_attention_norm.weight")
		c.UsePostNorm = &post
	}
	return nil
}
