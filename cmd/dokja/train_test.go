package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeRun writes a run.yaml and returns its path.
func writeRun(t *testing.T, dir, name string, fields map[string]any) string {
	t.Helper()
	var b strings.Builder
	for k, v := range fields {
		fmt.Fprintf(&b, "%s: %v\n", k, v)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// The whole training path through the CLI: tokenize, train from scratch,
// generate from the result, continue with a swapped tokenizer, compare.
func TestTrainFromScratchAndContinue(t *testing.T) {
	corpusPath, tokPath := trainTokenizer(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "shards")
	mustRun(t, "", "tokenize", "--tokenizer", tokPath, "--input", corpusPath, "--out", data, "--val-fraction", "0.1")
	cfg := filepath.Join(dir, "config.json")
	os.WriteFile(cfg, []byte(`{"architectures": ["LlamaForCausalLM"], "vocab_size": 400, "hidden_size": 32,
		"intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
		"max_position_embeddings": 64, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": true}`), 0o644)
	out := filepath.Join(dir, "scratch")
	run := writeRun(t, dir, "run.yaml", map[string]any{"model": cfg, "data": data, "out": out, "seq_len": 32,
		"batch_size": 4, "steps": 6, "lr": 0.01, "warmup": 2, "eval_every": 3, "eval_batches": 2, "checkpoint_every": 3})
	r := mustRun(t, "", "train", "--config", run)
	if !strings.Contains(r.stdout, "steps 6/6") || !strings.Contains(r.stdout, "model "+filepath.Join(out, "model")) {
		t.Fatalf("train output: %s", r.stdout)
	}
	for _, f := range []string{"metrics.jsonl", "loss.png", "model/model.safetensors", "model/tokenizer.json", "checkpoints/step-0000006/optimizer.safetensors"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("run folder: %v", err)
		}
	}
	g := mustRun(t, "", "generate", "--model", filepath.Join(out, "model"), "--prompt", "<|endoftext|>문서", "--max-tokens", "4", "--temperature", "0")
	if !strings.Contains(g.stderr, "tokens=4") && !strings.Contains(g.stderr, "finish=stop") {
		t.Errorf("generate: %q %q", g.stdout, g.stderr)
	}
	if r := dokja(t, "", "train", "--config", run); r.code == 0 || !strings.Contains(r.stderr, "--resume") {
		t.Errorf("training into a finished run folder without --resume: exit %d, %s", r.code, r.stderr)
	}

	// Continual pretraining with a new vocabulary.
	newTok := filepath.Join(dir, "new.json")
	mustRun(t, "", "tokenizer", "train", "--input", corpusPath, "--vocab-size", "350", "--pattern", "llama3", "--out", newTok)
	newData := filepath.Join(dir, "shards-new")
	mustRun(t, "", "tokenize", "--tokenizer", newTok, "--input", corpusPath, "--out", newData, "--val-fraction", "0.1")
	cpt := writeRun(t, dir, "cpt.yaml", map[string]any{"init": filepath.Join(out, "model"), "tokenizer": newTok, "data": newData,
		"out": filepath.Join(dir, "cpt"), "seq_len": 32, "batch_size": 4, "steps": 3, "eval_every": 3, "eval_batches": 2})
	r = mustRun(t, "", "train", "--config", cpt)
	if !strings.Contains(r.stderr, "swapped the vocabulary") || !strings.Contains(r.stdout, "steps 3/3") {
		t.Errorf("continual pretraining: %s\n%s", r.stdout, r.stderr)
	}
	// The old model on data of the new vocabulary, without a swap, is refused.
	bad := writeRun(t, dir, "bad.yaml", map[string]any{"init": filepath.Join(out, "model"), "data": newData,
		"out": filepath.Join(dir, "bad"), "seq_len": 32, "batch_size": 4, "steps": 3})
	if r := dokja(t, "", "train", "--config", bad); r.code == 0 || !strings.Contains(r.stderr, "another vocabulary") {
		t.Errorf("mismatched vocabulary: exit %d, %s", r.code, r.stderr)
	}
	png := filepath.Join(dir, "cmp.png")
	mustRun(t, "", "train", "plot", "--out", png, "scratch="+out, filepath.Join(dir, "cpt"))
	if st, err := os.Stat(png); err != nil || st.Size() < 1000 {
		t.Errorf("train plot: %v", err)
	}
	if r := dokja(t, "", "train", "plot", "--out", png, filepath.Join(dir, "missing")); r.code == 0 {
		t.Error("plotting a missing run succeeded")
	}
}
