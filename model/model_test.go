package model

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dokja/dokja/tensor"
)

// golden is what model/testdata/reference.py (PyTorch ops, written
// independently of this package) computed for a checkpoint.
type golden struct {
	Prompts [][]int       `json:"prompts"`
	Logits  [][][]float32 `json:"logits"`
}

func TestForwardMatchesPyTorchReference(t *testing.T) {
	for _, name := range []string{"tiny-llama", "tiny-qwen2", "tiny-llama-mha"} {
		dir := filepath.Join("testdata", name)
		data, err := os.ReadFile(filepath.Join(dir, "golden.json"))
		if err != nil {
			t.Fatal(err)
		}
		var g golden
		if err := json.Unmarshal(data, &g); err != nil {
			t.Fatal(err)
		}
		m, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, kname := range tensor.Available() {
			m.K, _ = tensor.ByName(kname)
			for pi, prompt := range g.Prompts {
				logits, err := m.Forward(prompt)
				if err != nil {
					t.Fatal(err)
				}
				var worst float64
				for pos := range prompt {
					for v, want := range g.Logits[pi][pos] {
						worst = max(worst, math.Abs(float64(logits[pos][v]-want)))
					}
				}
				if len(g.Logits[pi]) != len(prompt) || len(g.Logits[pi][0]) != m.Config.VocabSize {
					t.Fatalf("%s: golden logits have the wrong shape", name)
				}
				t.Logf("%s/%s prompt %d (%d tokens): max diff %.2g", name, kname, pi, len(prompt), worst)
				if worst > 1e-4 {
					t.Errorf("%s/%s prompt %d: max |logit - reference| = %.3g", name, kname, pi, worst)
				}
			}
		}
	}
}

func TestLoadErrors(t *testing.T) {
	src := filepath.Join("testdata", "tiny-llama")
	cfg, err := os.ReadFile(filepath.Join(src, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	weights, err := os.ReadFile(filepath.Join(src, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, old, new, want string }{
		{"other architecture", `"LlamaForCausalLM"`, `"MistralForCausalLM"`, "architectures"},
		{"wrong hidden size", `"hidden_size": 64`, `"hidden_size": 32`, "has shape"},
		{"more layers", `"num_hidden_layers": 2`, `"num_hidden_layers": 3`, "model.layers.2"},
		{"bad heads", `"num_key_value_heads": 2`, `"num_key_value_heads": 3`, "multiple"},
		{"negative vocab", `"vocab_size": 97`, `"vocab_size": -1`, "vocab_size"},
		{"not json", `{`, `[`, "config.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			bad := strings.Replace(string(cfg), tc.old, tc.new, 1)
			if bad == string(cfg) {
				t.Fatalf("case does not change config.json: %q", tc.old)
			}
			os.WriteFile(filepath.Join(dir, "config.json"), []byte(bad), 0o644)
			os.WriteFile(filepath.Join(dir, "model.safetensors"), weights, 0o644)
			_, err := Load(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	m, err := Load(src)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Forward([]int{1, 97}); err == nil || !strings.Contains(err.Error(), "position 1") {
		t.Fatalf("out-of-vocabulary token: %v", err)
	}
}
