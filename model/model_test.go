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

func readGolden(t *testing.T, path string) golden {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return g
}

func TestForwardMatchesPyTorchReference(t *testing.T) {
	for _, name := range allPresets {
		dir := filepath.Join("testdata", name)
		g := readGolden(t, filepath.Join(dir, "golden.json"))
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
		{"other architecture", `"LlamaForCausalLM"`, `"GPT2LMHeadModel"`, "architectures"},
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

// cacheCase loads a test model with its reference's third prompt and the
// logits the reference gives at each of its positions.
func cacheCase(t *testing.T, name string) (*Model, []int, [][]float32) {
	t.Helper()
	dir := filepath.Join("testdata", name)
	g := readGolden(t, filepath.Join(dir, "golden.json"))
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return m, g.Prompts[2], g.Logits[2]
}

// Decoding token by token through the cache must give the reference's
// logits at every position, as the whole-sequence pass does; so must a
// prefix followed by the rest, and a cache truncated and refilled.
func TestCacheMatchesReference(t *testing.T) {
	for _, name := range allPresets {
		m, prompt, want := cacheCase(t, name)
		check := func(how string, pos int, got []float32) {
			t.Helper()
			for v := range got {
				if d := math.Abs(float64(got[v] - want[pos][v])); d > 1e-4 {
					t.Fatalf("%s %s position %d: logit %d off by %g", name, how, pos, v, d)
				}
			}
		}
		c := m.NewCache()
		for pos, id := range prompt {
			out, err := m.Step(c, []int{id}, false)
			if err != nil {
				t.Fatal(err)
			}
			check("one by one", pos, out[0])
		}
		c = m.NewCache()
		if _, err := m.Step(c, prompt[:4], true); err != nil {
			t.Fatal(err)
		}
		out, _ := m.Step(c, prompt[4:], true)
		for i, row := range out {
			check("prefix then rest", 4+i, row)
		}
		c.Truncate(6)
		out, _ = m.Step(c, prompt[6:], false)
		check("truncated and refilled", len(prompt)-1, out[0])
		if c.Len() != len(prompt) {
			t.Fatalf("cache length %d, want %d", c.Len(), len(prompt))
		}
	}
}

// Batched steps over sequences at different positions give each sequence
// the logits it gets alone.
func TestStepBatchMatchesSingleSteps(t *testing.T) {
	for _, name := range []string{"tiny-llama", "tiny-qwen2"} {
		m, err := Load(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		prompts := [][]int{{1, 2, 3}, {7}, {9, 9, 4, 5, 6, 20, 30}, {11, 12}}
		next := [][]int{{4}, {8, 8, 2}, nil, {13}}
		alone := make([][][]float32, len(prompts))
		for i := range prompts {
			c := m.NewCache()
			if _, err := m.Step(c, prompts[i], false); err != nil {
				t.Fatal(err)
			}
			if len(next[i]) > 0 {
				alone[i], _ = m.Step(c, next[i], true)
			}
		}
		caches := make([]*Cache, len(prompts))
		all := []bool{true, true, true, true}
		for i := range caches {
			caches[i] = m.NewCache()
		}
		if _, err := m.StepBatch(caches, prompts, []bool{false, false, false, false}); err != nil {
			t.Fatal(err)
		}
		got, err := m.StepBatch(caches, next, all)
		if err != nil {
			t.Fatal(err)
		}
		for i := range prompts {
			if len(got[i]) != len(next[i]) || caches[i].Len() != len(prompts[i])+len(next[i]) {
				t.Fatalf("%s sequence %d: %d rows of logits, cache length %d", name, i, len(got[i]), caches[i].Len())
			}
			for r := range got[i] {
				for v := range got[i][r] {
					if d := math.Abs(float64(got[i][r][v] - alone[i][r][v])); d > 1e-5 {
						t.Fatalf("%s sequence %d row %d: batched logit %g, alone %g", name, i, r, got[i][r][v], alone[i][r][v])
					}
				}
			}
		}
	}
}

// Decode steps of several sequences at once, each one token at a
// different position (the fused attention kernel's case where the head
// size allows: tiny-llama's 16, not tiny-qwen2's 8), give each sequence
// the logits it gets alone.
func TestDecodeBatchMatchesSingleSteps(t *testing.T) {
	for _, name := range []string{"tiny-llama", "tiny-qwen2"} {
		m, err := Load(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		prompts := [][]int{{1, 2, 3}, {7}, {9, 9, 4, 5, 6, 20, 30}, {11, 12}}
		alone, batched := make([]*Cache, len(prompts)), make([]*Cache, len(prompts))
		for i, p := range prompts {
			alone[i], batched[i] = m.NewCache(), m.NewCache()
			if _, err := m.Step(alone[i], p, false); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := m.StepBatch(batched, prompts, make([]bool, len(prompts))); err != nil {
			t.Fatal(err)
		}
		for step := range 3 {
			ids := make([][]int, len(prompts))
			for i := range ids {
				ids[i] = []int{(5*i + 3*step + 1) % 90}
			}
			got, err := m.StepBatch(batched, ids, make([]bool, len(prompts)))
			if err != nil {
				t.Fatal(err)
			}
			for i := range ids {
				want, err := m.Step(alone[i], ids[i], false)
				if err != nil {
					t.Fatal(err)
				}
				for v := range want[0] {
					if d := math.Abs(float64(got[i][0][v] - want[0][v])); d > 1e-5 {
						t.Fatalf("%s step %d sequence %d: batched logit %g, alone %g", name, step, i, got[i][0][v], want[0][v])
					}
				}
			}
		}
	}
}

// generalOnly is a kernel path without its optional fused kernels.
type generalOnly struct{ tensor.Kernels }

// A half (fp16) cache stays close to the reference, really holds fp16
// (its logits differ from a float32 cache's), gives the same logits
// through the fused decode kernels as through the general path (bit for
// bit), and survives prefixes and truncation like a float32 one.
func TestHalfCache(t *testing.T) {
	for _, name := range allPresets {
		m, prompt, want := cacheCase(t, name)
		oneByOne := func() [][]float32 {
			c := m.NewCache()
			var rows [][]float32
			for _, id := range prompt {
				out, err := m.Step(c, []int{id}, false)
				if err != nil {
					t.Fatal(err)
				}
				rows = append(rows, out[0])
			}
			return rows
		}
		full := oneByOne()
		m.HalfKV = true
		if got, want := m.CacheBytesPerToken()*2, (&Model{Config: m.Config, Layers: m.Layers}).CacheBytesPerToken(); got != want {
			t.Fatalf("%s: half cache %d bytes a token, float %d", name, got/2, want)
		}
		half := oneByOne()
		kern := m.K
		m.K = generalOnly{kern} // hides the fused decode kernels
		general := oneByOne()
		m.K = kern
		var fromRef, fromFull, fromGeneral float64
		for pos := range half {
			for v := range half[pos] {
				fromRef = max(fromRef, math.Abs(float64(half[pos][v]-want[pos][v])))
				fromFull = max(fromFull, math.Abs(float64(half[pos][v]-full[pos][v])))
				fromGeneral = max(fromGeneral, math.Abs(float64(half[pos][v]-general[pos][v])))
			}
		}
		t.Logf("%s: half cache vs reference %.3g, vs float32 cache %.3g, fused vs general %.3g", name, fromRef, fromFull, fromGeneral)
		if fromRef > 2e-2 || fromFull == 0 || fromGeneral != 0 {
			t.Errorf("%s: half cache %.3g from the reference (want ≤ 2e-2), %.3g from float32 (want > 0), fused %.3g from general (want 0)",
				name, fromRef, fromFull, fromGeneral)
		}
		c := m.NewCache()
		if _, err := m.Step(c, prompt[:4], false); err != nil {
			t.Fatal(err)
		}
		out, _ := m.Step(c, prompt[4:], true)
		c.Truncate(6)
		again, _ := m.Step(c, prompt[6:], false)
		for v := range half[len(prompt)-1] {
			for _, got := range [][]float32{out[len(out)-1], again[0]} {
				// OpenBLAS sums the prefix's products in another order than
				// the fused decode kernel: up to 1.6e-5 seen (tiny-llama-dynamic).
				if d := math.Abs(float64(got[v] - half[len(prompt)-1][v])); d > 3e-5 {
					t.Fatalf("%s: prefix/truncate through a half cache off by %g", name, d)
				}
			}
		}
	}
}
