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
	// NoPreNorms: no RMSNorm before attention and MLP (EXAONE 4).
	NoPreNorms bool
	// PostNorms: the attention and MLP outputs each pass through an
	// RMSNorm before they join the residual stream (EXAONE 4).
	PostNorms bool
	// Sliding says which layers attend through a window of the last
	// sliding_window positions: "all" every layer when sliding_window is
	// set (Mistral); "qwen" layers from max_window_layers on when
	// use_sliding_window is true (Qwen2, Qwen3); "pattern" the layers
	// sliding_window_pattern marks (EXAONE 4); "" none. Where config.json
	// lists layer_types, they decide.
	Sliding string
	// NoPEGlobal: when the model has a sliding window, its full-attention
	// layers use no rotary embedding (EXAONE 4).
	NoPEGlobal bool
	// Prefix and Names give the checkpoint's tensor names where they are
	// not Llama's: Prefix replaces "model.layers." and Names maps Dokja's
	// names (whole names outside layers, the part after "model.layers.N."
	// inside) to the checkpoint's. Dokja calls the post norms
	// post_attn_norm and post_ffw_norm.
	Prefix string
	Names  map[string]string
	// NormPlusOne: every RMSNorm scales by 1+w, the checkpoint storing w
	// (Gemma). Dokja keeps 1+w, as llama.cpp's converter writes it.
	NormPlusOne bool
	// EmbedScale: embeddings are multiplied by √hidden_size (Gemma).
	EmbedScale bool
	// LocalRoPE: sliding-window layers rotate with rope_local_base_freq
	// and no scaling; global layers with rope_theta and rope_scaling
	// (Gemma 3).
	LocalRoPE bool
	// TiedByDefault: the head is the embedding unless config.json says
	// tie_word_embeddings: false (Gemma).
	TiedByDefault bool
	// MuP names the µP multipliers (embedding_multiplier,
	// attention_multiplier, residual_multiplier, logits_scaling): "granite"
	// divides the logits by logits_scaling, "hyperclovax" multiplies
	// them, and there use_post_norm (default true) adds norms after the
	// sublayers (post_norm1, post_norm2).
	MuP string
	// MoE: the MLPs are mixtures of experts when num_experts is set:
	// "qwen" (Qwen3-MoE, Qwen2-MoE: moe_intermediate_size, norm_topk_prob,
	// decoder_sparse_step, mlp_only_layers, an optional shared expert) or
	// "mixtral" (every layer, intermediate_size, weights renormalised).
	MoE string
}

// Archs lists the architectures Dokja runs.
var Archs = []*Arch{
	{Name: "LlamaForCausalLM", ModelType: "llama", GGUF: "llama", PermuteQK: true},
	{Name: "Qwen2ForCausalLM", ModelType: "qwen2", GGUF: "qwen2", QKVBias: true, Sliding: "qwen"},
	{Name: "Qwen3ForCausalLM", ModelType: "qwen3", GGUF: "qwen3", QKNorm: true, Sliding: "qwen"},
	// Mistral is Llama with a sliding window; llama.cpp runs it as llama
	// and ignores the window (the same numbers up to sliding_window).
	{Name: "MistralForCausalLM", ModelType: "mistral", GGUF: "llama", PermuteQK: true, Sliding: "all"},
	// EXAONE 3.0 and 3.5: Llama's maths under GPT-2-style names.
	{Name: "ExaoneForCausalLM", ModelType: "exaone", GGUF: "exaone", Prefix: "transformer.h.", Names: map[string]string{
		"model.embed_tokens.weight": "transformer.wte.weight", "model.norm.weight": "transformer.ln_f.weight",
		"input_layernorm.weight": "ln_1.weight", "post_attention_layernorm.weight": "ln_2.weight",
		"self_attn.q_proj.weight": "attn.attention.q_proj.weight", "self_attn.k_proj.weight": "attn.attention.k_proj.weight",
		"self_attn.v_proj.weight": "attn.attention.v_proj.weight", "self_attn.o_proj.weight": "attn.attention.out_proj.weight",
		"mlp.gate_proj.weight": "mlp.c_fc_0.weight", "mlp.up_proj.weight": "mlp.c_fc_1.weight", "mlp.down_proj.weight": "mlp.c_proj.weight",
	}},
	// Mixtures of experts. llama.cpp runs Mixtral as llama with experts.
	{Name: "Qwen3MoeForCausalLM", ModelType: "qwen3_moe", GGUF: "qwen3moe", QKNorm: true, Sliding: "qwen", MoE: "qwen"},
	{Name: "Qwen2MoeForCausalLM", ModelType: "qwen2_moe", GGUF: "qwen2moe", QKVBias: true, Sliding: "qwen", MoE: "qwen"},
	{Name: "MixtralForCausalLM", ModelType: "mixtral", GGUF: "llama", PermuteQK: true, Sliding: "all", MoE: "mixtral", Names: map[string]string{
		"mlp.gate.weight": "block_sparse_moe.gate.weight", "mlp.experts.*.gate_proj.weight": "block_sparse_moe.experts.*.w1.weight",
		"mlp.experts.*.up_proj.weight": "block_sparse_moe.experts.*.w3.weight", "mlp.experts.*.down_proj.weight": "block_sparse_moe.experts.*.w2.weight",
	}},
	// Gemma 3 (text): GELU-tanh MLP, norms before and after attention and
	// MLP with 1+w scales, per-head q/k norms, embeddings times √hidden,
	// query_pre_attn_scalar, five sliding-window layers with a local RoPE
	// base to one global layer.
	{Name: "Gemma3ForCausalLM", ModelType: "gemma3_text", GGUF: "gemma3", QKNorm: true, PostNorms: true, Sliding: "pattern",
		NormPlusOne: true, EmbedScale: true, LocalRoPE: true, TiedByDefault: true, Names: map[string]string{
			"post_attention_layernorm.weight": "pre_feedforward_layernorm.weight",
			"post_attn_norm.weight":           "post_attention_layernorm.weight", "post_ffw_norm.weight": "post_feedforward_layernorm.weight",
		}},
	// IBM Granite 3 and NAVER's HyperCLOVA X (SEED): Llama with µP
	// multipliers; HyperCLOVA X multiplies the logits and may add post norms.
	{Name: "GraniteForCausalLM", ModelType: "granite", GGUF: "granite", PermuteQK: true, MuP: "granite"},
	{Name: "HyperCLOVAXForCausalLM", ModelType: "hyperclovax", GGUF: "hyperclovax", PermuteQK: true, MuP: "hyperclovax", Names: map[string]string{
		"post_attn_norm.weight": "post_norm1.weight", "post_ffw_norm.weight": "post_norm2.weight",
	}},
	// EXAONE 4.0: per-head q/k norms, norms after attention and MLP
	// instead of before, and (32B) three sliding-window layers with RoPE
	// to one global layer without.
	{Name: "Exaone4ForCausalLM", ModelType: "exaone4", GGUF: "exaone4", QKNorm: true, NoPreNorms: true, PostNorms: true,
		Sliding: "pattern", NoPEGlobal: true, Names: map[string]string{
			"post_attn_norm.weight": "post_attention_layernorm.weight", "post_ffw_norm.weight": "post_feedforward_layernorm.weight",
		}},
}

// hfName is the checkpoint's name for one of Dokja's tensor names.
func (a *Arch) hfName(name string) string {
	if n, ok := a.Names[name]; ok {
		return n
	}
	rest, ok := strings.CutPrefix(name, "model.layers.")
	if !ok || (a.Prefix == "" && a.Names == nil) {
		return name
	}
	i, suffix, _ := strings.Cut(rest, ".")
	if n, ok := a.Names[suffix]; ok {
		suffix = n
	} else if e, part, ok := strings.Cut(strings.TrimPrefix(suffix, "mlp.experts."), "."); ok && strings.HasPrefix(suffix, "mlp.experts.") {
		if n, ok := a.Names["mlp.experts.*."+part]; ok {
			suffix = strings.Replace(n, "*", e, 1)
		}
	}
	prefix := a.Prefix
	if prefix == "" {
		prefix = "model.layers."
	}
	return prefix + i + "." + suffix
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

// Features lists, for people, what the architecture adds to the shared
// decoder.
func (a *Arch) Features() []string {
	var f []string
	add := func(ok bool, s string) {
		if ok {
			f = append(f, s)
		}
	}
	add(a.QKVBias, "q/k/v biases")
	add(a.QKNorm, "per-head q/k norms")
	add(a.NoPreNorms && a.PostNorms, "norms after attention and MLP")
	add(!a.NoPreNorms && a.PostNorms, "norms before and after attention and MLP")
	add(a.MuP != "", "µP multipliers")
	add(a.MuP == "hyperclovax", "optional post norms (use_post_norm)")
	add(a.NormPlusOne, "1+w norm scales")
	add(a.EmbedScale, "embeddings times √hidden")
	add(a.LocalRoPE, "local RoPE base on sliding layers")
	switch a.Sliding {
	case "all":
		f = append(f, "sliding window")
	case "qwen":
		f = append(f, "optional sliding window (use_sliding_window)")
	case "pattern":
		f = append(f, "sliding-window and global layers")
	}
	add(a.NoPEGlobal, "no RoPE on global layers")
	switch a.MoE {
	case "qwen":
		f = append(f, "mixture of experts (shared expert where configured)")
	case "mixtral":
		f = append(f, "mixture of experts")
	}
	add(a.Prefix != "", "own tensor names")
	return f
}

// AttentionLayout describes, for people, which layers attend how.
func (c *Config) AttentionLayout() string {
	plans, err := c.layerPlans()
	if err != nil {
		return err.Error()
	}
	var sliding, nope int
	window := 0
	for _, p := range plans {
		if p.window > 0 {
			sliding++
			window = p.window
		}
		if p.noRoPE {
			nope++
		}
	}
	s := "causal over the whole context"
	switch {
	case sliding == len(plans):
		s = fmt.Sprintf("sliding window of %d positions on every layer", window)
	case sliding > 0:
		s = fmt.Sprintf("%d sliding-window layers (%d positions), %d global", sliding, window, len(plans)-sliding)
	}
	switch {
	case nope == 1:
		s += "; 1 layer without RoPE"
	case nope > 1:
		s += fmt.Sprintf("; %d layers without RoPE", nope)
	}
	return s
}

// postNorms reports whether the sublayers' outputs are normalised before
// the residual add: the architecture's rule, or HyperCLOVA X's
// use_post_norm (true where absent, as in Transformers).
func (c *Config) postNorms() bool {
	a := c.arch()
	if a.MuP == "hyperclovax" {
		return c.UsePostNorm == nil || *c.UsePostNorm
	}
	return a.PostNorms
}
