package model

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dokja/dokja/internal/sysmem"
)

// Configurations that pass the shape checks but claim more than the file
// holds, or more memory than there is, fail with a clear error before
// anything is sized by them.
func TestSizesCheckedBeforeAllocating(t *testing.T) {
	small := func(t *testing.T) *Model {
		t.Helper()
		c := &Config{Architectures: []string{"LlamaForCausalLM"}, VocabSize: 64, HiddenSize: 32, IntermediateSize: 64,
			NumHiddenLayers: 2, NumAttentionHeads: 4, NumKeyValueHeads: 2, HeadDim: 8, HiddenAct: "silu",
			MaxPositionEmbeddings: 64, RMSNormEps: 1e-5, RopeTheta: 10000}
		m, err := NewRandom(c, 1)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	// 16,777,216 layers in config.json over a two-layer safetensors file.
	dir := t.TempDir()
	m := small(t)
	m.Config.NumHiddenLayers = 1 << 24
	if err := m.Save(dir, "F32"); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "model.layers.2.self_attn.q_proj.weight") || !strings.Contains(err.Error(), "16777216 layers, the file holds 2") {
		t.Errorf("16M layers over a 2-layer file: %v", err)
	}
	// The same in a GGUF header (block_count), kept quantized or not.
	m = small(t)
	path := filepath.Join(t.TempDir(), "m.gguf")
	m.Config.NumHiddenLayers = 1 << 24
	if err := m.SaveGGUF(path, nil, "q8_0"); err != nil {
		t.Fatal(err)
	}
	for _, keep := range []bool{false, true} {
		if _, _, err := LoadGGUFWith(path, GGUFOptions{KeepQuantized: keep}); err == nil || !strings.Contains(err.Error(), "blk.2.attn_q.weight") {
			t.Errorf("GGUF with block_count 16M (keep quantized %v): %v", keep, err)
		}
	}
	// A context length no model has.
	cfg := filepath.Join(t.TempDir(), "config.json")
	os.WriteFile(cfg, []byte(`{"architectures": ["LlamaForCausalLM"], "vocab_size": 64, "hidden_size": 32, "intermediate_size": 64,
		"num_hidden_layers": 2, "num_attention_heads": 4, "max_position_embeddings": 1e12}`), 0o644)
	if _, err := LoadConfig(cfg); err == nil || !strings.Contains(err.Error(), "max_position_embeddings") {
		t.Errorf("max_position_embeddings 1e12: %v", err)
	}
	// init of a model that cannot fit: hidden 2²⁴ × vocabulary 2²⁴.
	huge := &Config{Architectures: []string{"LlamaForCausalLM"}, VocabSize: 1 << 24, HiddenSize: 1 << 24, IntermediateSize: 64,
		NumHiddenLayers: 1, NumAttentionHeads: 1 << 20, NumKeyValueHeads: 1 << 20, HeadDim: 16, HiddenAct: "silu", RMSNormEps: 1e-5, RopeTheta: 10000}
	if _, ok := sysmem.Available(); !ok {
		t.Skip("this system does not say how much memory is available")
	}
	if _, err := NewRandom(huge, 1); err == nil || !strings.Contains(err.Error(), "of memory") {
		t.Errorf("a model of %.3g weights: %v", huge.NumParams(), err)
	}
}

// NumParams counts what the loaders read: every tensor of specs().
func TestNumParamsMatchesTensors(t *testing.T) {
	for _, arch := range []string{"llama", "qwen2"} {
		m, _ := llamaRefModel(t, arch)
		var n float64
		for _, p := range m.Params() {
			n += float64(len(p.Data))
		}
		if got := m.Config.NumParams(); got != n {
			t.Errorf("%s: NumParams %v, the tensors hold %v", arch, got, n)
		}
	}
}
