package encoder

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type golden struct {
	Cases []struct {
		IDs            []int       `json:"ids"`
		Hidden         [][]float64 `json:"hidden"`
		CLS            []float64   `json:"cls"`
		Mean           []float64   `json:"mean"`
		CLSNormalized  []float64   `json:"cls_normalized"`
		MeanNormalized []float64   `json:"mean_normalized"`
	} `json:"cases"`
}

func maxDiff(got []float32, want []float64) float64 {
	d := 0.0
	for i := range want {
		d = max(d, math.Abs(float64(got[i])-want[i]))
	}
	return d
}

// TestMatchesPyTorchReference: hidden states and pooled embeddings equal
// the float64 PyTorch reference (encoder/testdata/reference.py, written
// from the BERT and ModernBERT papers and the published configs of
// multilingual BERT, BGE-M3's XLM-RoBERTa and ModernBERT-base, shrunk; the
// ModernBERT one has global and sliding-window layers and prompts longer
// than the window) on every kernel path.
func TestMatchesPyTorchReference(t *testing.T) {
	for _, preset := range []string{"tiny-bert", "tiny-xlmr", "tiny-modernbert"} {
		dir := filepath.Join("testdata", preset)
		b, err := os.ReadFile(filepath.Join(dir, "golden.json"))
		if err != nil {
			t.Fatal(err)
		}
		var g golden
		if err := json.Unmarshal(b, &g); err != nil {
			t.Fatal(err)
		}
		m, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		for kname := range kernelPaths(t, m) {
			worst := 0.0
			for _, c := range g.Cases {
				h, err := m.Forward(c.IDs)
				if err != nil {
					t.Fatal(err)
				}
				H := m.Dim()
				for ti, row := range c.Hidden {
					worst = max(worst, maxDiff(h[ti*H:(ti+1)*H], row))
				}
				cls, mean := Pool(h, H, PoolCLS), Pool(h, H, PoolMean)
				worst = max(worst, maxDiff(cls, c.CLS), maxDiff(mean, c.Mean))
				Normalize(cls)
				Normalize(mean)
				worst = max(worst, maxDiff(cls, c.CLSNormalized), maxDiff(mean, c.MeanNormalized))
			}
			t.Logf("%s %s: largest difference %.2g", preset, kname, worst)
			if worst > 2e-5 {
				t.Errorf("%s on %s: %.3g from the reference, want within 2e-5", preset, kname, worst)
			}
		}
	}
}

func TestLoadErrors(t *testing.T) {
	src := filepath.Join("testdata", "tiny-bert")
	cfg, _ := os.ReadFile(filepath.Join(src, "config.json"))
	for _, tc := range []struct{ from, to, want string }{
		{`"hidden_act": "gelu"`, `"hidden_act": "relu"`, `hidden_act "relu"`},
		{`"model_type": "bert"`, `"model_type": "llama"`, `model_type "llama"`},
		{`"num_attention_heads": 4`, `"num_attention_heads": 5`, "not a multiple"},
		{`"position_embedding_type": "absolute"`, `"position_embedding_type": "relative_key"`, "only absolute"},
		{`"hidden_size": 32`, `"hidden_size": 64`, "has shape [300 32], want [300 64]"},
	} {
		dir := t.TempDir()
		if !strings.Contains(string(cfg), tc.from) {
			t.Fatalf("config lacks %s", tc.from)
		}
		os.WriteFile(filepath.Join(dir, "config.json"), []byte(strings.Replace(string(cfg), tc.from, tc.to, 1)), 0o644)
		st, _ := os.ReadFile(filepath.Join(src, "model.safetensors"))
		os.WriteFile(filepath.Join(dir, "model.safetensors"), st, 0o644)
		if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.to, err, tc.want)
		}
	}
	m, err := Load(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, ids := range [][]int{nil, {300}, {-1}, make([]int, 65)} {
		if _, err := m.Forward(ids); err == nil {
			t.Errorf("Forward(%d ids ...): no error", len(ids))
		}
	}
}

// ModernBERT's newer config spelling (layer_types, rope_parameters) gives
// the same model as the older one (global_attn_every_n_layers,
// global_rope_theta, local_rope_theta); bad values are named.
func TestModernBERTConfigSpellings(t *testing.T) {
	src := filepath.Join("testdata", "tiny-modernbert")
	old, err := Open(src)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join(src, "config.json"))
	st, _ := os.ReadFile(filepath.Join(src, "model.safetensors"))
	write := func(cfg map[string]any) string {
		dir := t.TempDir()
		b, _ := json.Marshal(cfg)
		os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644)
		os.WriteFile(filepath.Join(dir, "model.safetensors"), st, 0o644)
		return dir
	}
	var cfg map[string]any
	json.Unmarshal(raw, &cfg)
	for _, k := range []string{"global_attn_every_n_layers", "global_rope_theta", "local_rope_theta"} {
		delete(cfg, k)
	}
	cfg["layer_types"] = []string{"full_attention", "sliding_attention", "sliding_attention", "full_attention"}
	cfg["rope_parameters"] = map[string]any{"full_attention": map[string]any{"rope_theta": 160000.0, "rope_type": "default"},
		"sliding_attention": map[string]any{"rope_theta": 10000.0, "rope_type": "default"}}
	newer, err := Open(write(cfg))
	if err != nil {
		t.Fatal(err)
	}
	ids := []int{5, 9, 200, 3, 17, 42, 8, 99, 1}
	a, _ := old.Forward(ids)
	b, _ := newer.Forward(ids)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("position %d: the spellings differ: %v vs %v", i, a[i], b[i])
		}
	}
	for _, tc := range []struct {
		key  string
		val  any
		want string
	}{
		{"layer_types", []string{"full_attention"}, "1 entries for 4 layers"},
		{"layer_types", []string{"full_attention", "chunked", "full_attention", "full_attention"}, `"chunked"`},
		{"hidden_activation", "silu", `hidden_activation "silu"`},
		{"local_attention", 0, "local_attention 0"},
	} {
		c := map[string]any{}
		json.Unmarshal(raw, &c)
		c[tc.key] = tc.val
		if _, err := Open(write(c)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s=%v: error %v, want %q", tc.key, tc.val, err, tc.want)
		}
	}
}

// A reranker's relevance logit equals the PyTorch reference's for
// query-document pairs, on every kernel path.
func TestClassifierMatchesReference(t *testing.T) {
	for _, tt := range []struct {
		preset string
		labels int
	}{{"tiny-xlmr-reranker", 1}, {"tiny-bert-classifier", 3}} {
		dir := filepath.Join("testdata", tt.preset)
		b, err := os.ReadFile(filepath.Join(dir, "golden.json"))
		if err != nil {
			t.Fatal(err)
		}
		var g struct {
			Cases []struct {
				IDs    []int     `json:"ids"`
				Logits []float64 `json:"logits"`
			} `json:"cases"`
		}
		if err := json.Unmarshal(b, &g); err != nil {
			t.Fatal(err)
		}
		c, err := LoadClassifier(dir)
		if err != nil {
			t.Fatal(err)
		}
		if c.Labels != tt.labels {
			t.Fatalf("%s: %d labels, want %d", tt.preset, c.Labels, tt.labels)
		}
		for kname := range kernelPaths(t, c) {
			for _, tc := range g.Cases {
				got, err := c.Logits(tc.IDs)
				if err != nil {
					t.Fatal(err)
				}
				if d := maxDiff(got, tc.Logits); d > 1e-5 {
					t.Errorf("%s on %s, %d ids: logits %v, reference %v", tt.preset, kname, len(tc.IDs), got, tc.Logits)
				}
			}
		}
	}
	for _, preset := range []string{"tiny-xlmr", "tiny-bert"} {
		if _, err := LoadClassifier(filepath.Join("testdata", preset)); err == nil || !strings.Contains(err.Error(), "no classification head") {
			t.Errorf("%s, a model without a head: %v", preset, err)
		}
	}
}

// ForwardBatch gives each text the hidden states Forward gives it alone
// (texts of several lengths, longer than ModernBERT's window among them).
func TestForwardBatchMatchesForward(t *testing.T) {
	texts := [][]int{{5, 9, 11}, {7}, {3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19}, {20, 21}}
	for _, preset := range []string{"tiny-bert", "tiny-xlmr", "tiny-modernbert"} {
		m, err := Open(filepath.Join("testdata", preset))
		if err != nil {
			t.Fatal(err)
		}
		hs, err := m.ForwardBatch(texts)
		if err != nil {
			t.Fatal(err)
		}
		if len(hs) != len(texts) {
			t.Fatalf("%s: %d outputs for %d texts", preset, len(hs), len(texts))
		}
		for i, ids := range texts {
			h, err := m.Forward(ids)
			if err != nil {
				t.Fatal(err)
			}
			want := make([]float64, len(h))
			for j, v := range h {
				want[j] = float64(v)
			}
			if len(hs[i]) != len(h) || maxDiff(hs[i], want) > 1e-5 {
				t.Errorf("%s: text %d batched differs from alone", preset, i)
			}
		}
		if _, err := m.ForwardBatch([][]int{{1}, {}}); err == nil || !strings.Contains(err.Error(), "text 1 has 0 tokens") {
			t.Errorf("%s: an empty text: %v", preset, err)
		}
	}
}
