package model

import (
	"fmt"
	"strings"
)

// Arch is one architecture Dokja runs: the names its checkpoints give it
// and the parts its layers have beyond the shared decoder (RMSNorm before
// attention and MLP, grouped-query attention with RoPE, a SwiGLU MLP, a
// tied or separate output head). Every difference between architectures
// lives here, so adding one is adding an entry; forward, backward,
// loading and GGUF export read the entry.
type Arch struct {
	// Name is the Hugging Face architectures entry, ModelType config.json's
	// model_type, GGUF llama.cpp's general.architecture.
	Name, ModelType, GGUF string
	// QKVBias: q, k and v always carry biases and o_proj never does
	// (Qwen2). Otherwise config.json's attention_bias gives all four
	// biases (Llama, Qwen3).
	QKVBias bool
	// QKNorm: each head's queries and keys pass through an RMSNorm of
	// their own (q_norm, k_norm, one weight per head dimension) before
	// RoPE (Qwen3).
	QKNorm bool
	// PermuteQK: llama.cpp's converter reorders the rows of q_proj and
	// k_proj within each head, from Hugging Face's rotate-half RoPE layout
	// to the interleaved pairs of ggml's default RoPE (llama). NeoX-RoPE
	// architectures keep the rows (qwen2, qwen3).
	PermuteQK bool
}

// Archs lists the architectures Dokja runs.
var Archs = []*Arch{
	{Name: "LlamaForCausalLM", ModelType: "llama", GGUF: "llama", PermuteQK: true},
	{Name: "Qwen2ForCausalLM", ModelType: "qwen2", GGUF: "qwen2", QKVBias: true},
	{Name: "Qwen3ForCausalLM", ModelType: "qwen3", GGUF: "qwen3", QKNorm: true},
}

// archNamed finds an architecture by its Hugging Face name.
func archNamed(name string) *Arch {
	for _, a := range Archs {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// archOfGGUF finds an architecture by its general.architecture.
func archOfGGUF(name string) *Arch {
	for _, a := range Archs {
		if a.GGUF == name {
			return a
		}
	}
	return nil
}

// archNames lists the supported names for messages.
func archNames(gguf bool) string {
	var names []string
	for _, a := range Archs {
		if gguf {
			names = append(names, a.GGUF)
		} else {
			names = append(names, a.Name)
		}
	}
	return strings.Join(names, ", ")
}

// Arch returns the configuration's architecture: its first architectures
// entry, or the one of its model_type, or Llama when it names neither.
func (c *Config) Arch() (*Arch, error) {
	if len(c.Architectures) > 0 {
		if a := archNamed(c.Architectures[0]); a != nil {
			return a, nil
		}
		return nil, fmt.Errorf("config.json: architectures: %q is not supported (want one of %s)", c.Architectures[0], archNames(false))
	}
	if c.ModelType != "" {
		for _, a := range Archs {
			if a.ModelType == c.ModelType {
				return a, nil
			}
		}
		return nil, fmt.Errorf("config.json: model_type: %q is not supported (want one of %s)", c.ModelType, archNames(false))
	}
	return Archs[0], nil
}

// arch is Arch for a validated configuration.
func (c *Config) arch() *Arch {
	a, err := c.Arch()
	if err != nil {
		panic("model: " + err.Error() + " (the configuration was not validated)")
	}
	return a
}

// QKVBias reports whether q, k and v projections have biases.
func (c *Config) QKVBias() bool { return c.arch().QKVBias || c.AttentionBias }

// OBias reports whether the output projection has a bias.
func (c *Config) OBias() bool { return !c.arch().QKVBias && c.AttentionBias }

// QKNorm reports whether queries and keys are normalised per head.
func (c *Config) QKNorm() bool { return c.arch().QKNorm }
