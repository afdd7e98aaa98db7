package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dokja/dokja/gguf"
	"github.com/dokja/dokja/model"
)

func TestExportAndQuantizeGGUF(t *testing.T) {
	dir := t.TempDir()
	ckpt := filepath.Join(dir, "ckpt")
	cfg := filepath.Join(dir, "config.json")
	os.WriteFile(cfg, []byte(`{"architectures": ["LlamaForCausalLM"], "vocab_size": 300, "hidden_size": 64,
		"intermediate_size": 128, "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 2,
		"max_position_embeddings": 64, "rms_norm_eps": 1e-5, "bos_token_id": 1, "eos_token_id": 2}`), 0o644)
	mustRun(t, "", "init", "--config", cfg, "--out", ckpt)
	f32 := filepath.Join(dir, "m-f32.gguf")
	r := mustRun(t, "", "export", "gguf", "--model", ckpt, "--out", f32)
	if !strings.Contains(r.stdout, "wrote "+f32) {
		t.Errorf("stdout: %s", r.stdout)
	}
	q4 := filepath.Join(dir, "m-q4_0.gguf")
	mustRun(t, "", "quantize", "--model", f32, "--out", q4, "--type", "q4_0")
	q8 := filepath.Join(dir, "m-q8_0.gguf")
	mustRun(t, "", "quantize", "--model", ckpt, "--out", q8, "--type", "Q8_0")
	for path, want := range map[string]string{f32: "f32", q4: "q4_0", q8: "q8_0"} {
		f, err := gguf.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		info, _ := f.Tensor("blk.0.ffn_up.weight")
		if info.Type.String() != want {
			t.Errorf("%s: ffn_up is %s, want %s", path, info.Type, want)
		}
		f.Close()
	}
	orig, err := model.Load(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	back, _, err := model.LoadGGUF(f32)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := orig.Forward([]int{1, 5, 299})
	b, _ := back.Forward([]int{1, 5, 299})
	for i := range a {
		for j := range a[i] {
			if a[i][j] != b[i][j] {
				t.Fatalf("logits differ after export: %g vs %g", a[i][j], b[i][j])
			}
		}
	}
	for _, args := range [][]string{
		{"export", "onnx", "--model", ckpt, "--out", f32},
		{"export", "gguf", "--model", ckpt},
		{"quantize", "--model", f32, "--out", q4},
	} {
		if r := dokja(t, "", args...); r.code != 2 {
			t.Errorf("%q: exit %d, want 2\n%s", args, r.code, r.stderr)
		}
	}
	if r := dokja(t, "", "quantize", "--model", f32, "--out", q4, "--type", "q5_k"); r.code != 1 || !strings.Contains(r.stderr, `"q5_k" is not supported`) {
		t.Errorf("q5_k: exit %d: %s", r.code, r.stderr)
	}
	if r := dokja(t, "", "quantize", "--model", filepath.Join(dir, "config.json"), "--out", q4, "--type", "q8_0"); r.code != 1 || !strings.Contains(r.stderr, "neither a checkpoint folder") {
		t.Errorf("not gguf: exit %d: %s", r.code, r.stderr)
	}
}
