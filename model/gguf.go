package model

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/dokja/dokja/gguf"
	"github.com/dokja/dokja/internal/sysmem"
	"github.com/dokja/dokja/quant"
	"github.com/dokja/dokja/tensor"
	"github.com/dokja/dokja/tokenizer"
)

// GGUF files name tensors after llama.cpp (token_embd, blk.N.attn_q, ...)
// and store each [out, in] weight with dims [in, out]. For the llama
// architecture, llama.cpp's converter (convert_hf_to_gguf.py,
// LlamaModel.permute) also reorders the rows of q_proj and k_proj (and
// their biases) within each head, from Hugging Face's "rotate half"
// layout to the interleaved pairs of ggml's default RoPE: row
// half·(head_dim/2)+i becomes row 2i+half. Qwen2 uses ggml's NeoX RoPE,
// which is rotate-half, so its rows stay. SaveGGUF applies the
// permutation and LoadGGUF undoes it, so Dokja's model (always
// rotate-half) sees the Hugging Face layout.

// ggufName maps one of Dokja's tensor names (tensorSpec.canon) to
// llama.cpp's.
func ggufName(hf string) string {
	switch hf {
	case "model.embed_tokens.weight":
		return "token_embd.weight"
	case "model.norm.weight":
		return "output_norm.weight"
	case "lm_head.weight":
		return "output.weight"
	}
	rest, ok := strings.CutPrefix(hf, "model.layers.")
	if !ok {
		return hf
	}
	n, rest, _ := strings.Cut(rest, ".")
	for _, r := range [][2]string{
		{"input_layernorm.", "attn_norm."}, {"post_attention_layernorm.", "ffn_norm."},
		{"self_attn.q_proj.", "attn_q."}, {"self_attn.k_proj.", "attn_k."}, {"self_attn.v_proj.", "attn_v."},
		{"self_attn.o_proj.", "attn_output."}, {"mlp.gate_proj.", "ffn_gate."}, {"mlp.up_proj.", "ffn_up."},
		{"mlp.down_proj.", "ffn_down."}, {"self_attn.q_norm.", "attn_q_norm."}, {"self_attn.k_norm.", "attn_k_norm."},
		{"post_attn_norm.", "post_attention_norm."}, {"post_ffw_norm.", "post_ffw_norm."},
		{"mlp.gate.", "ffn_gate_inp."}, {"mlp.shared_expert_gate.", "ffn_gate_inp_shexp."},
		{"mlp.shared_expert.gate_proj.", "ffn_gate_shexp."}, {"mlp.shared_expert.up_proj.", "ffn_up_shexp."},
		{"mlp.shared_expert.down_proj.", "ffn_down_shexp."},
	} {
		if s, ok := strings.CutPrefix(rest, r[0]); ok {
			return "blk." + n + "." + r[1] + s
		}
	}
	return hf
}

// ggufTensorName is ggufName for any tensor: an expert's matrix lives in
// its layer's stacked tensor (blk.N.ffn_gate_exps and so on: experts
// outermost), whose name it returns with the expert's index; -1 for
// every other tensor.
func ggufTensorName(canon string) (string, int) {
	rest, ok := strings.CutPrefix(canon, "model.layers.")
	if !ok || !strings.Contains(rest, ".mlp.experts.") {
		return ggufName(canon), -1
	}
	n, rest, _ := strings.Cut(rest, ".mlp.experts.")
	e, part, _ := strings.Cut(rest, ".")
	idx, err := strconv.Atoi(e)
	if err != nil {
		return canon, -1
	}
	kind, _, _ := strings.Cut(part, "_proj")
	return "blk." + n + ".ffn_" + kind + "_exps.weight", idx
}

// ggufSpecDims are the GGUF dims of a tensor: an expert's stacked tensor
// is [in, out, experts]; Qwen2-MoE's shared-expert gate [1, hidden] is
// stored as a vector, as llama.cpp reads it.
func ggufSpecDims(s tensorSpec, c *Config) []int {
	if _, e := ggufTensorName(s.canon); e >= 0 {
		return []int{s.shape[1], s.shape[0], c.NumExperts}
	}
	if strings.HasSuffix(s.canon, "mlp.shared_expert_gate.weight") {
		return []int{s.shape[1]}
	}
	return ggufDims(s.shape)
}

// ropePermuted reports whether a tensor's rows are permuted in GGUF files
// of the model's architecture (Arch.PermuteQK), and over how many heads.
func (m *Model) ropePermuted(hf string) (heads int, ok bool) {
	if !m.Config.arch().PermuteQK {
		return 0, false
	}
	switch {
	case strings.Contains(hf, ".q_proj."):
		return m.Config.NumAttentionHeads, true
	case strings.Contains(hf, ".k_proj."):
		return m.Config.NumKeyValueHeads, true
	}
	return 0, false
}

// permuteRows moves rows between Hugging Face's rotate-half layout and
// ggml's interleaved layout: w holds heads·headDim rows of rowLen values;
// toGGML moves row half·(headDim/2)+i of each head to 2i+half, and the
// inverse moves it back.
func permuteRows[T any](w []T, heads, rowLen int, toGGML bool) []T {
	out := make([]T, len(w))
	hd := len(w) / rowLen / heads
	for h := range heads {
		for half := range 2 {
			for i := range hd / 2 {
				hfRow := h*hd + half*(hd/2) + i
				gRow := h*hd + 2*i + half
				src, dst := hfRow, gRow
				if !toGGML {
					src, dst = gRow, hfRow
				}
				copy(out[dst*rowLen:(dst+1)*rowLen], w[src*rowLen:(src+1)*rowLen])
			}
		}
	}
	return out
}

// LoadGGUF reads a GGUF file of the llama or qwen2 architecture: the
// hyperparameters from <arch>.* metadata, every weight (F32, F16, BF16,
// Q8_0, Q4_0, Q4_K or Q6_K, converted to float32, and llama's q/k rows
// put back in Hugging Face's order), and the tokenizer when the file
// holds a byte-level BPE one (tokenizer.ggml.model "gpt2"); the tokenizer
// is nil when the file has none. Sizes are checked against the
// configuration as Load checks safetensors files.
func LoadGGUF(path string) (*Model, *tokenizer.Tokenizer, error) {
	return LoadGGUFWith(path, GGUFOptions{})
}

// GGUFOptions adjust LoadGGUFWith.
type GGUFOptions struct {
	// KeepQuantized keeps the layers' matrices and a separate output head
	// in their Q8_0, Q4_0 or Q4_K blocks (in memory, 2-4 times smaller
	// than float32) and multiplies on the blocks; other tensors are
	// converted to float32. Such a model can decode but not train.
	KeepQuantized bool
}

// ReadGGUFInfo reads what a GGUF file describes without its weights: the
// configuration its metadata gives, its tokenizer (nil when it has none),
// and how many tensors it stores in each type.
func ReadGGUFInfo(path string) (*Config, *tokenizer.Tokenizer, map[string]int, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, nil, nil, err
	}
	defer f.Close()
	c, err := ggufConfig(f)
	if err != nil {
		return nil, nil, nil, err
	}
	tok, err := ggufTokenizer(f)
	if err != nil {
		return nil, nil, nil, err
	}
	types := map[string]int{}
	for _, t := range f.Tensors {
		types[strings.ToUpper(t.Type.String())]++
	}
	return c, tok, types, nil
}

// LoadGGUFWith is LoadGGUF with options.
func LoadGGUFWith(path string, opt GGUFOptions) (*Model, *tokenizer.Tokenizer, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	c, err := ggufConfig(f)
	if err != nil {
		return nil, nil, err
	}
	var bytes float64
	for _, t := range f.Tensors {
		bytes += float64(t.Size)
	}
	if err := c.checkLayers(path, "blk.%d.attn_q.weight", func(i int) bool {
		_, ok := f.Tensor(fmt.Sprintf("blk.%d.attn_q.weight", i))
		return ok
	}); err != nil {
		return nil, nil, err
	}
	// Kept quantized, the matrices take what the file takes (the embedding
	// becomes float32); otherwise every weight is float32.
	need := 4 * c.NumParams()
	if opt.KeepQuantized {
		need = bytes + 4*float64(c.VocabSize)*float64(c.HiddenSize)
	}
	if err := sysmem.Check(fmt.Sprintf("%s (%.3g weights)", path, c.NumParams()), need); err != nil {
		return nil, nil, err
	}
	m := &Model{Config: c, Layers: make([]Layer, c.NumHiddenLayers), K: tensor.Default()}
	// Experts are stored stacked, one 3-D tensor per kind and layer; a
	// float32 copy of each is made once for all its experts.
	stacked := map[string][]float32{}
	for _, s := range m.specs() {
		name, expert := ggufTensorName(s.canon)
		info, ok := f.Tensor(name)
		want := ggufSpecDims(s, c)
		if !ok {
			return nil, nil, fmt.Errorf("%s: tensor %q is missing (expected dims %v for %s)", path, name, want, c.arch().GGUF)
		}
		if !slices.Equal(info.Dims, want) && !(len(want) == 1 && slices.Equal(info.Dims, []int{want[0], 1})) {
			return nil, nil, fmt.Errorf("%s: tensor %q has dims %v, the metadata implies %v", path, name, info.Dims, want)
		}
		if expert >= 0 {
			rows, cols, n := info.Dims[1], info.Dims[0], info.Dims[2]
			if s.lin != nil && opt.KeepQuantized && quant.CanMultiply(info.Type) {
				raw, err := f.Bytes(name)
				if err != nil {
					return nil, nil, err
				}
				per := len(raw) / n
				if s.lin.Q, err = quant.NewMatrix(info.Type, rows, cols, raw[expert*per:(expert+1)*per]); err != nil {
					return nil, nil, fmt.Errorf("%s: tensor %q, expert %d: %w", path, name, expert, err)
				}
				continue
			}
			all, ok := stacked[name]
			if !ok {
				var err error
				if all, err = f.Float32(name); err != nil {
					return nil, nil, err
				}
				stacked[name] = all
			}
			*s.dst = slices.Clone(all[expert*rows*cols : (expert+1)*rows*cols])
			continue
		}
		if s.lin != nil && opt.KeepQuantized && quant.CanMultiply(info.Type) {
			raw, err := f.Bytes(name)
			if err != nil {
				return nil, nil, err
			}
			rows, cols := info.Dims[1], info.Dims[0]
			if len(info.Dims) == 1 {
				rows, cols = 1, info.Dims[0]
			}
			// NewMatrix copies raw, so the file's mapping may end with f.
			if heads, ok := m.ropePermuted(s.canon); ok {
				if err := checkPermutable(name, rows, heads, c.HeadDim); err != nil {
					return nil, nil, fmt.Errorf("%s: %w", path, err)
				}
				raw = permuteRows(raw, heads, len(raw)/rows, false)
			}
			if s.lin.Q, err = quant.NewMatrix(info.Type, rows, cols, raw); err != nil {
				return nil, nil, fmt.Errorf("%s: tensor %q: %w", path, name, err)
			}
			continue
		}
		data, err := f.Float32(name)
		if err != nil {
			return nil, nil, err
		}
		if heads, ok := m.ropePermuted(s.canon); ok {
			if err := checkPermutable(name, len(data), heads, c.HeadDim); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", path, err)
			}
			data = permuteRows(data, heads, len(data)/(heads*c.HeadDim), false)
		}
		*s.dst = data
		// A tied head multiplies by the embedding's blocks, as llama.cpp
		// does, while lookups read the float32 rows.
		if opt.KeepQuantized && s.dst == &m.Embed && c.TieWordEmbeddings && quant.CanMultiply(info.Type) {
			raw, err := f.Bytes(name)
			if err != nil {
				return nil, nil, err
			}
			if m.Head.Q, err = quant.NewMatrix(info.Type, info.Dims[1], info.Dims[0], raw); err != nil {
				return nil, nil, fmt.Errorf("%s: tensor %q: %w", path, name, err)
			}
		}
	}
	if c.TieWordEmbeddings && m.Head.Q == nil {
		m.Head.W = m.Embed
	}
	tok, err := ggufTokenizer(f)
	if err != nil {
		return nil, nil, err
	}
	if tok != nil && tok.VocabSize() > c.VocabSize {
		return nil, nil, fmt.Errorf("%s: the tokenizer has %d ids but token_embd only %d rows", path, tok.VocabSize(), c.VocabSize)
	}
	return m, tok, nil
}

func checkPermutable(name string, n, heads, hd int) error {
	if hd%2 != 0 || n%(heads*hd) != 0 {
		return fmt.Errorf("tensor %q: %d values are not %d heads of %d rows", name, n, heads, hd)
	}
	return nil
}

// ggufDims turns a Hugging Face shape (outermost first) into GGUF dims.
func ggufDims(shape []int) []int {
	d := slices.Clone(shape)
	slices.Reverse(d)
	return d
}

// ggufConfig builds a Config from a GGUF file's metadata.
func ggufConfig(f *gguf.File) (*Config, error) {
	arch, err := f.String("general.architecture")
	if err != nil {
		return nil, err
	}
	a := archOfGGUF(arch)
	if a == nil {
		return nil, fmt.Errorf("%s: general.architecture %q is not supported (want one of %s)", f.Path, arch, archNames(true))
	}
	// Dokja's own files name the Hugging Face architecture where several
	// share a GGUF one (Mistral and Mixtral run as llama); otherwise a
	// llama file with experts is a Mixtral.
	if name, err := f.String(archKey); err == nil {
		if b := archNamed(name); b != nil && (b.GGUF == arch || b.MuP == "hyperclovax" && arch == "granite") {
			a = b
		}
	} else if n, err := f.Uint(arch + ".expert_count"); err == nil && n > 0 && arch == "llama" {
		a = archNamed("MixtralForCausalLM")
	}
	c := &Config{HiddenAct: "silu", TorchDtype: "float32", ModelType: a.ModelType, Architectures: []string{a.Name}}
	ints := []struct {
		key      string
		dst      *int
		required bool
	}{
		{"context_length", &c.MaxPositionEmbeddings, false}, {"embedding_length", &c.HiddenSize, true},
		{"block_count", &c.NumHiddenLayers, true}, {"feed_forward_length", &c.IntermediateSize, true},
		{"attention.head_count", &c.NumAttentionHeads, true}, {"attention.head_count_kv", &c.NumKeyValueHeads, false},
		{"attention.key_length", &c.HeadDim, false},
	}
	for _, it := range ints {
		key := arch + "." + it.key
		v, err := f.Uint(key)
		if errors.Is(err, gguf.ErrNotFound) && !it.required {
			continue
		}
		if err != nil {
			return nil, err
		}
		if v > maxDim {
			return nil, fmt.Errorf("%s: %s = %d exceeds %d", f.Path, key, v, maxDim)
		}
		*it.dst = int(v)
	}
	if c.NumKeyValueHeads == 0 {
		c.NumKeyValueHeads = c.NumAttentionHeads
	}
	if c.HeadDim == 0 && c.NumAttentionHeads > 0 {
		c.HeadDim = c.HiddenSize / c.NumAttentionHeads
	}
	if v, err := f.Uint(arch + ".attention.value_length"); err == nil && int(v) != c.HeadDim {
		return nil, fmt.Errorf("%s: %s.attention.value_length %d differs from key_length %d (not supported)", f.Path, arch, v, c.HeadDim)
	}
	c.RopeTheta, c.RMSNormEps = 10000, 1e-6
	for _, it := range []struct {
		key string
		dst *float64
	}{{"rope.freq_base", &c.RopeTheta}, {"attention.layer_norm_rms_epsilon", &c.RMSNormEps}} {
		v, err := f.Float(arch + "." + it.key)
		if errors.Is(err, gguf.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		*it.dst = v
	}
	if c.RopeScaling, err = ggufRopeScaling(f, arch, c); err != nil {
		return nil, err
	}
	if err := ggufSlidingWindow(f, arch, c); err != nil {
		return nil, err
	}
	if err := ggufMoE(f, arch, c); err != nil {
		return nil, err
	}
	if err := ggufGemma(f, arch, c); err != nil {
		return nil, err
	}
	if err := ggufMuP(f, arch, c); err != nil {
		return nil, err
	}
	if dc, err := f.Uint(arch + ".rope.dimension_count"); err == nil && int(dc) != c.HeadDim {
		return nil, fmt.Errorf("%s: %s.rope.dimension_count %d differs from the head size %d (partial RoPE is not supported)", f.Path, arch, dc, c.HeadDim)
	}
	emb, ok := f.Tensor("token_embd.weight")
	if !ok || len(emb.Dims) != 2 {
		return nil, fmt.Errorf("%s: tensor \"token_embd.weight\" is missing or not 2-dimensional", f.Path)
	}
	c.VocabSize = emb.Dims[1]
	_, hasOutput := f.Tensor("output.weight")
	c.TieWordEmbeddings = !hasOutput
	_, qb := f.Tensor("blk.0.attn_q.bias")
	_, ob := f.Tensor("blk.0.attn_output.bias")
	if !a.QKVBias {
		if qb != ob {
			return nil, fmt.Errorf("%s: %s with attn_q.bias %v but attn_output.bias %v is not supported (attention_bias biases q, k, v and o)", f.Path, arch, qb, ob)
		}
		c.AttentionBias = qb
	}
	for _, k := range []string{"bos_token_id", "eos_token_id"} {
		if v, err := f.Uint("tokenizer.ggml." + k); err == nil {
			if k == "bos_token_id" {
				c.BOSTokenID = float64(v)
			} else {
				c.EOSTokenID = float64(v)
			}
		}
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", f.Path, err)
	}
	return c, nil
}

// archKey names the Hugging Face architecture in Dokja's GGUF files.
const archKey = "dokja.architecture"

// ggufSlidingWindow reads the sliding window: attention.sliding_window
// and, where not every layer slides, attention.sliding_window_pattern,
// as an array of booleans (true: the layer slides) or as llama.cpp's
// period n (layer i slides when i mod n < n−1).
func ggufSlidingWindow(f *gguf.File, arch string, c *Config) error {
	w, err := f.Uint(arch + ".attention.sliding_window")
	if errors.Is(err, gguf.ErrNotFound) || err == nil && w == 0 {
		return nil
	}
	if err != nil {
		return err
	}
	if w > maxDim {
		return fmt.Errorf("%s: %s.attention.sliding_window %d exceeds %d", f.Path, arch, w, maxDim)
	}
	window := int(w)
	c.SlidingWindow = &window
	sliding := make([]bool, c.NumHiddenLayers)
	for i := range sliding {
		sliding[i] = true
	}
	key := arch + ".attention.sliding_window_pattern"
	if a, err := f.Array(key); err == nil {
		bools, ok := a.Values.([]bool)
		if !ok || len(bools) != len(sliding) {
			return fmt.Errorf("%s: %s: want %d booleans, one per layer", f.Path, key, len(sliding))
		}
		copy(sliding, bools)
	} else if p, err := f.Uint(key); err == nil {
		if p == 0 || p > maxDim {
			return fmt.Errorf("%s: %s = %d is not a layer period", f.Path, key, p)
		}
		for i := range sliding {
			sliding[i] = uint64(i)%p < p-1
		}
	} else if arch == "gemma3" {
		// llama.cpp's Gemma 3 files carry no pattern: every sixth layer
		// is global.
		for i := range sliding {
			sliding[i] = i%6 < 5
		}
	}
	c.LayerTypes = make([]string, len(sliding))
	for i, s := range sliding {
		c.LayerTypes[i] = "full_attention"
		if s {
			c.LayerTypes[i] = "sliding_attention"
		}
	}
	return nil
}

// ggufSlidingMeta is the sliding-window metadata SaveGGUF writes.
func (c *Config) ggufSlidingMeta(arch string) ([]gguf.KV, error) {
	plans, err := c.layerPlans()
	if err != nil {
		return nil, err
	}
	window, all := 0, true
	pattern := make([]bool, len(plans))
	for i, p := range plans {
		pattern[i] = p.window > 0
		all = all && pattern[i]
		window = max(window, p.window)
	}
	if window == 0 {
		return nil, nil
	}
	meta := []gguf.KV{{Key: arch + ".attention.sliding_window", Value: uint32(window)}}
	if !all {
		meta = append(meta, gguf.KV{Key: arch + ".attention.sliding_window_pattern", Value: pattern})
	}
	return meta, nil
}

// llama.cpp's token types (llama_token_type).
const (
	tokNormal      = 1
	tokControl     = 3
	tokUserDefined = 4
	tokUnused      = 5
)

// hfJSONKey holds a whole tokenizer.json, as llama.cpp's converter names
// it; Dokja writes it so that its own files load the tokenizer exactly.
const hfJSONKey = "tokenizer.huggingface.json"

// Pre-tokenizer names of llama.cpp (tokenizer.ggml.pre) and the split
// patterns Dokja knows for them.
var ggufPre = []struct {
	name, pattern string
	ignoreMerges  bool
}{
	{"qwen2", tokenizer.PatternQwen2, false},
	{"llama-bpe", tokenizer.PatternCL100K, true},
	{"gpt-4o", tokenizer.PatternO200K, false},
	{"gpt-2", tokenizer.PatternGPT2, false},
}

// ggufTokenizer builds the file's tokenizer: from tokenizer.huggingface.json
// when present, else from the tokenizer.ggml.* arrays of a "gpt2" model.
func ggufTokenizer(f *gguf.File) (*tokenizer.Tokenizer, error) {
	if s, err := f.String(hfJSONKey); err == nil {
		t, err := tokenizer.ReadJSON(strings.NewReader(s))
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", f.Path, hfJSONKey, err)
		}
		return t, nil
	}
	kind, err := f.String("tokenizer.ggml.model")
	if errors.Is(err, gguf.ErrNotFound) || kind == "none" || kind == "no_vocab" {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if kind != "gpt2" {
		return nil, fmt.Errorf("%s: tokenizer.ggml.model %q is not supported (only byte-level BPE, \"gpt2\")", f.Path, kind)
	}
	pre, err := f.String("tokenizer.ggml.pre")
	if err != nil {
		return nil, err
	}
	var pattern string
	var ignoreMerges bool
	for _, p := range ggufPre {
		if p.name == pre || pre == "llama3" && p.name == "llama-bpe" {
			pattern, ignoreMerges = p.pattern, p.ignoreMerges
		}
	}
	if pattern == "" {
		return nil, fmt.Errorf("%s: tokenizer.ggml.pre %q is not supported (want qwen2, llama-bpe, gpt-4o or gpt-2)", f.Path, pre)
	}
	tokens, err := f.Strings("tokenizer.ggml.tokens")
	if err != nil {
		return nil, err
	}
	var types []int64
	if _, ok := f.Get("tokenizer.ggml.token_type"); ok {
		if types, err = f.Ints("tokenizer.ggml.token_type"); err != nil {
			return nil, err
		}
		if len(types) != len(tokens) {
			return nil, fmt.Errorf("%s: tokenizer.ggml.token_type has %d entries for %d tokens", f.Path, len(types), len(tokens))
		}
	}
	var merges []string
	if _, ok := f.Get("tokenizer.ggml.merges"); ok {
		if merges, err = f.Strings("tokenizer.ggml.merges"); err != nil {
			return nil, err
		}
	}
	type added struct {
		ID      int    `json:"id"`
		Content string `json:"content"`
		Special bool   `json:"special"`
	}
	vocab := make(map[string]int, len(tokens))
	var adds []added
	for id, tok := range tokens {
		typ := int64(tokNormal)
		if types != nil {
			typ = types[id]
		}
		switch typ {
		case tokUnused:
		case tokControl, tokUserDefined:
			adds = append(adds, added{id, tok, typ == tokControl})
		default:
			if prev, dup := vocab[tok]; dup {
				return nil, fmt.Errorf("%s: tokenizer.ggml.tokens: %q at ids %d and %d", f.Path, clip(tok), prev, id)
			}
			vocab[tok] = id
		}
	}
	hf := map[string]any{
		"model":        map[string]any{"type": "BPE", "vocab": vocab, "merges": merges, "ignore_merges": ignoreMerges},
		"added_tokens": adds,
		"pre_tokenizer": map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "Split", "pattern": map[string]string{"Regex": pattern}, "behavior": "Isolated", "invert": false},
			map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false},
		}},
		"decoder": map[string]any{"type": "ByteLevel"},
	}
	if pre == "qwen2" {
		hf["normalizer"] = map[string]any{"type": "NFC"}
	}
	raw, err := json.Marshal(hf)
	if err != nil {
		return nil, err
	}
	t, err := tokenizer.ReadJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%s: tokenizer.ggml.*: %w", f.Path, err)
	}
	return t, nil
}

func clip(s string) string {
	if len(s) > 100 {
		return s[:100] + "..."
	}
	return s
}

// GGUFTypes lists the values SaveGGUF's typ accepts.
var GGUFTypes = []string{"f32", "f16", "q8_0", "q4_0", "q4_k"}

// ggufFileType is general.file_type (llama_ftype) for each typ.
var ggufFileType = map[string]uint32{"f32": 0, "f16": 1, "q4_0": 2, "q8_0": 7, "q4_k": 14}

// tensorType picks the stored type of one weight: norms and biases (one
// dimension) stay F32, as in llama.cpp; 2-D weights take typ, except
// that rows whose length is not a whole number of typ's blocks fall back
// (Q4_K to Q8_0 when rows are a multiple of 32 — llama.cpp would pick
// Q5_0, which Dokja does not write — and otherwise to F16, as llama.cpp
// does), and the output head of Q4_0/Q4_K files is Q8_0 (llama-quantize
// gives it Q6_K, a higher precision than the rest; Dokja does not write
// Q6_K).
func tensorType(typ quant.Type, ggName string, dims []int) quant.Type {
	// Routers stay float32, as llama.cpp's converter keeps them.
	if len(dims) == 1 || strings.Contains(ggName, ".ffn_gate_inp") {
		return quant.F32
	}
	if ggName == "output.weight" && (typ == quant.Q4_0 || typ == quant.Q4_K) {
		typ = quant.Q8_0
	}
	for _, t := range []quant.Type{typ, quant.Q8_0, quant.F16} {
		if t == quant.Q8_0 && typ == quant.F16 {
			continue
		}
		if dims[0]%t.BlockSize() == 0 {
			return t
		}
	}
	return quant.F16
}

// SaveGGUF writes the model as a GGUF file that llama.cpp loads:
// architecture "llama" or "qwen2" with its hyperparameters, the weights
// in typ ("f32", "f16", "q8_0", "q4_0" or "q4_k"; see tensorType for the
// exceptions per tensor), and the tokenizer (tok may be nil) as
// tokenizer.ggml.* arrays plus the whole tokenizer.json. Weights are
// converted one tensor at a time while the file is written.
func (m *Model) SaveGGUF(path string, tok *tokenizer.Tokenizer, typ string) error {
	return m.SaveGGUFWith(path, tok, typ, GGUFSaveOptions{})
}

// GGUFSaveOptions add what a GGUF file may carry beside the weights.
type GGUFSaveOptions struct {
	// ChatTemplate is written as tokenizer.chat_template (Jinja), which
	// llama.cpp and Dokja render conversations with.
	ChatTemplate string
}

// SaveGGUFWith is SaveGGUF with options.
func (m *Model) SaveGGUFWith(path string, tok *tokenizer.Tokenizer, typ string, opt GGUFSaveOptions) error {
	if m.quantized() {
		return errQuantized
	}
	typ = strings.ToLower(typ)
	ftype, ok := ggufFileType[typ]
	if !ok {
		return fmt.Errorf("gguf type %q is not supported (want one of %s)", typ, strings.Join(GGUFTypes, ", "))
	}
	qt, err := quant.ParseType(typ)
	if err != nil {
		return err
	}
	c := m.Config
	if tok != nil && tok.VocabSize() > c.VocabSize {
		return fmt.Errorf("the tokenizer has %d ids but the model's vocabulary only %d", tok.VocabSize(), c.VocabSize)
	}
	arch := c.ggufArch()
	meta := []gguf.KV{
		{Key: "general.architecture", Value: arch},
		{Key: "general.name", Value: "dokja"},
		{Key: "general.file_type", Value: ftype},
	}
	if qt != quant.F32 && qt != quant.F16 {
		meta = append(meta, gguf.KV{Key: "general.quantization_version", Value: uint32(2)})
	}
	ctx := c.MaxPositionEmbeddings
	if ctx <= 0 {
		ctx = 2048
	}
	u := func(k string, v int) gguf.KV { return gguf.KV{Key: arch + "." + k, Value: uint32(v)} }
	meta = append(meta,
		u("vocab_size", c.VocabSize), u("context_length", ctx), u("embedding_length", c.HiddenSize),
		u("block_count", c.NumHiddenLayers), u("feed_forward_length", c.IntermediateSize),
		u("attention.head_count", c.NumAttentionHeads), u("attention.head_count_kv", c.NumKeyValueHeads),
		u("attention.key_length", c.HeadDim), u("attention.value_length", c.HeadDim), u("rope.dimension_count", c.HeadDim),
		gguf.KV{Key: arch + ".rope.freq_base", Value: float32(c.RopeTheta)},
		gguf.KV{Key: arch + ".attention.layer_norm_rms_epsilon", Value: float32(c.RMSNormEps)},
	)
	rm, ropeTensors, err := c.ggufRopeMeta(arch)
	if err != nil {
		return err
	}
	meta = append(meta, rm...)
	meta = append(meta, gguf.KV{Key: archKey, Value: c.arch().Name})
	meta = append(meta, c.ggufMoEMeta(arch)...)
	meta = append(meta, c.ggufGemmaMeta(arch)...)
	meta = append(meta, c.ggufMuPMeta(arch)...)
	sw, err := c.ggufSlidingMeta(arch)
	if err != nil {
		return err
	}
	meta = append(meta, sw...)
	tm, err := ggufTokenizerMeta(tok, c)
	if err != nil {
		return err
	}
	meta = append(meta, tm...)
	if opt.ChatTemplate != "" {
		meta = append(meta, gguf.KV{Key: "tokenizer.chat_template", Value: opt.ChatTemplate})
	}

	var tensors []gguf.Tensor
	// Experts' matrices go into one stacked tensor per kind and layer.
	stackAt := map[string]int{}
	var stacks [][][]float32
	for _, s := range m.specs() {
		name, expert := ggufTensorName(s.canon)
		dims := ggufSpecDims(s, c)
		t := tensorType(qt, name, dims)
		data := *s.dst
		if expert >= 0 {
			i, ok := stackAt[name]
			if !ok {
				i = len(stacks)
				stackAt[name] = i
				stacks = append(stacks, nil)
				tensors = append(tensors, gguf.Tensor{Name: name, Dims: dims, Type: t, Encode: func() ([]byte, error) {
					var out []byte
					for _, part := range stacks[i] {
						b, err := quantizeRows(t, part, dims[0])
						if err != nil {
							return nil, err
						}
						out = append(out, b...)
					}
					return out, nil
				}})
			}
			stacks[i] = append(stacks[i], data)
			continue
		}
		heads, perm := m.ropePermuted(s.canon)
		tensors = append(tensors, gguf.Tensor{Name: name, Dims: dims, Type: t, Encode: func() ([]byte, error) {
			src := data
			if perm {
				src = permuteRows(src, heads, len(src)/(heads*c.HeadDim), true)
			}
			return quantizeRows(t, src, dims[0])
		}})
	}
	tensors = append(tensors, ropeTensors...)
	return gguf.Write(path, meta, tensors)
}

// quantizeRows converts a tensor row by row, on all cores.
func quantizeRows(t quant.Type, src []float32, cols int) ([]byte, error) {
	rows := len(src) / cols
	if t == quant.F32 || t == quant.F16 || rows == 1 {
		return quant.Quantize(t, nil, src)
	}
	return quant.QuantizeRows(t, rows, cols, src)
}

// tokenID reads a config.json token id (a number, or the first of a list).
func tokenID(v any) (int, bool) {
	switch x := v.(type) {
	case float64:
		if x >= 0 && x == math.Trunc(x) {
			return int(x), true
		}
	case []any:
		if len(x) > 0 {
			return tokenID(x[0])
		}
	case int:
		return x, x >= 0
	}
	return 0, false
}

// byteLevelToken matches a spelling in Hugging Face's byte-level alphabet
// (what tokenizer.json's vocab holds): no ASCII control, space or DEL.
var byteLevelToken = regexp.MustCompile(`^[^\x00-\x20\x7f]+$`)

// ggufTokenizerMeta is the tokenizer.ggml.* metadata for tok, padded to
// the model's vocabulary with unused [PADn] tokens as llama.cpp's
// converter does. Without a tokenizer, tokenizer.ggml.model is "none".
func ggufTokenizerMeta(tok *tokenizer.Tokenizer, c *Config) ([]gguf.KV, error) {
	if tok == nil {
		return []gguf.KV{{Key: "tokenizer.ggml.model", Value: "none"}}, nil
	}
	if tok.IsSentencePiece() {
		// llama.cpp reads these as its "llama" vocabulary, with scores and
		// token types Dokja does not produce yet.
		return nil, errors.New("gguf: SentencePiece-style (byte_fallback) tokenizers cannot be written to GGUF yet; convert the model without its tokenizer")
	}
	var buf bytes.Buffer
	if err := tok.WriteJSON(&buf, tokenizer.JSONOptions{}); err != nil {
		return nil, err
	}
	var hf struct {
		AddedTokens []struct {
			ID      int    `json:"id"`
			Content string `json:"content"`
			Special bool   `json:"special"`
		} `json:"added_tokens"`
		Model struct {
			Vocab  map[string]int `json:"vocab"`
			Merges [][2]string    `json:"merges"`
		} `json:"model"`
	}
	if err := json.Unmarshal(buf.Bytes(), &hf); err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	tokens := make([]string, c.VocabSize)
	types := make([]int32, c.VocabSize)
	for i := range tokens {
		tokens[i], types[i] = "[PAD"+strconv.Itoa(i)+"]", tokUnused
	}
	for s, id := range hf.Model.Vocab {
		if id >= 0 && id < len(tokens) {
			tokens[id], types[id] = s, tokNormal
		}
	}
	for _, a := range hf.AddedTokens {
		if a.ID < 0 || a.ID >= len(tokens) {
			continue
		}
		tokens[a.ID], types[a.ID] = a.Content, tokUserDefined
		if a.Special {
			types[a.ID] = tokControl
		}
	}
	merges := make([]string, len(hf.Model.Merges))
	for i, mg := range hf.Model.Merges {
		if !byteLevelToken.MatchString(mg[0]) || !byteLevelToken.MatchString(mg[1]) {
			return nil, fmt.Errorf("tokenizer: merge %d (%q %q) is not in the byte-level alphabet", i, mg[0], mg[1])
		}
		merges[i] = mg[0] + " " + mg[1]
	}
	pre := "default"
	for _, p := range ggufPre {
		if p.pattern == tok.Pattern() {
			pre = p.name
			break
		}
	}
	meta := []gguf.KV{
		{Key: "tokenizer.ggml.model", Value: "gpt2"},
		{Key: "tokenizer.ggml.pre", Value: pre},
		{Key: "tokenizer.ggml.tokens", Value: tokens},
		{Key: "tokenizer.ggml.token_type", Value: types},
		{Key: "tokenizer.ggml.merges", Value: merges},
	}
	if id, ok := tokenID(c.BOSTokenID); ok && id < c.VocabSize {
		meta = append(meta, gguf.KV{Key: "tokenizer.ggml.bos_token_id", Value: uint32(id)})
	}
	if id, ok := tokenID(c.EOSTokenID); ok && id < c.VocabSize {
		meta = append(meta, gguf.KV{Key: "tokenizer.ggml.eos_token_id", Value: uint32(id)})
	}
	meta = append(meta,
		gguf.KV{Key: "tokenizer.ggml.add_bos_token", Value: false},
		gguf.KV{Key: hfJSONKey, Value: buf.String()})
	return meta, nil
}
