package model

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/dokja/dokja/tensor"
)

// presets are the checkpoints under testdata that reference.py and
// train_reference.py wrote, each with its goldens: the dense ones, which
// train; allPresets adds the mixtures of experts (inference only).
var (
	presets = []string{"tiny-llama", "tiny-qwen2", "tiny-llama-mha", "tiny-qwen3",
		"tiny-llama31", "tiny-qwen25-yarn", "tiny-llama-linear", "tiny-llama-dynamic",
		"tiny-mistral", "tiny-exaone", "tiny-exaone4", "tiny-gemma3", "tiny-granite", "tiny-hyperclovax"}
	allPresets = append(slices.Clip(presets), "tiny-qwen3-moe", "tiny-qwen2-moe", "tiny-mixtral")
)

func loadPreset(t *testing.T, name string) *Model {
	t.Helper()
	m, err := Load(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// randomBatch draws seqs windows of T+1 tokens with sep planted at a few
// places, so batches hold several documents.
func randomBatch(r *rand.Rand, V, seqs, T, sep int) *Batch {
	b := &Batch{Seqs: seqs, Sep: sep}
	for range seqs {
		w := make([]int, T+1)
		for i := range w {
			w[i] = r.IntN(V)
			if sep >= 0 && r.IntN(5) == 0 {
				w[i] = sep
			}
		}
		b.Inputs = append(b.Inputs, w[:T]...)
		b.Targets = append(b.Targets, w[1:]...)
	}
	return b
}

// The gradient of every tensor must agree with central finite differences
// of the loss along a direction: the gradient's own (where the change is
// largest, so float32 noise matters least) and a random one.
func TestGradientsMatchFiniteDifferences(t *testing.T) {
	for _, name := range presets {
		m := loadPreset(t, name)
		// Larger weights than the checkpoints' 0.02 put SiLU and softmax
		// in their non-linear ranges, where wrong derivatives show.
		for _, s := range m.specs() {
			if len(s.shape) == 2 {
				for j := range *s.dst {
					(*s.dst)[j] *= 3
				}
			}
		}
		r := rand.New(rand.NewPCG(1, 2))
		b := randomBatch(r, m.Config.VocabSize, 2, 9, 3)
		n := float32(len(b.Targets))
		g := m.NewGrads()
		if _, err := m.LossAndGrad(b, g, 1/n); err != nil {
			t.Fatal(err)
		}
		loss := func() float64 {
			l, err := m.Loss(b)
			if err != nil {
				t.Fatal(err)
			}
			return l / float64(n)
		}
		gs := g.specs()
		for i, s := range m.specs() {
			if s.name == "lm_head.weight" && m.Config.TieWordEmbeddings {
				continue
			}
			w, dw := *s.dst, *gs[i].dst
			var norm float64
			for _, v := range dw {
				norm += float64(v) * float64(v)
			}
			norm = math.Sqrt(norm)
			if norm == 0 {
				t.Errorf("%s %s: gradient is all zeros", name, s.name)
				continue
			}
			random := make([]float32, len(w))
			var rn float64
			for j := range random {
				random[j] = float32(r.NormFloat64())
				rn += float64(random[j]) * float64(random[j])
			}
			for _, dir := range []struct {
				kind string
				v    []float32
				vn   float64
			}{{"gradient", dw, norm}, {"random", random, math.Sqrt(rn)}} {
				// A step of 1e-3 in weight space along the unit direction.
				const eps = 1e-3
				orig := append([]float32(nil), w...)
				step := func(sign float64) float64 {
					for j := range w {
						w[j] = orig[j] + float32(sign*eps*float64(dir.v[j])/dir.vn)
					}
					return loss()
				}
				fd := (step(1) - step(-1)) / (2 * eps)
				copy(w, orig)
				var an float64
				for j := range w {
					an += float64(dw[j]) * float64(dir.v[j]) / dir.vn
				}
				tol := 2e-2*math.Abs(an) + 2e-4
				if math.Abs(fd-an) > tol {
					t.Errorf("%s %s along the %s direction: analytic %.6g, finite difference %.6g", name, s.name, dir.kind, an, fd)
				}
			}
		}
	}
}

// Packed documents must not see each other: the loss of a batch with
// separators equals the sum of the losses of each document run alone.
func TestDocumentsAreIsolated(t *testing.T) {
	for _, name := range presets {
		m := loadPreset(t, name)
		const sep = 3
		window := []int{5, 9, 11, sep, 7, 7, 20, 1, sep, 40, 2, 8, 6}
		b := &Batch{Inputs: window[:12], Targets: window[1:], Seqs: 1, Sep: sep}
		packed, err := m.Loss(b)
		if err != nil {
			t.Fatal(err)
		}
		var alone float64
		for _, span := range [][2]int{{0, 3}, {3, 8}, {8, 12}} {
			l, err := m.Loss(&Batch{Inputs: window[span[0]:span[1]], Targets: window[span[0]+1 : span[1]+1], Seqs: 1, Sep: sep})
			if err != nil {
				t.Fatal(err)
			}
			alone += l
		}
		if math.Abs(packed-alone) > 1e-4 {
			t.Errorf("%s: packed loss %.6f, documents alone %.6f", name, packed, alone)
		}
		plain, _ := m.Loss(&Batch{Inputs: window[:12], Targets: window[1:], Seqs: 1, Sep: -1})
		if math.Abs(plain-packed) < 1e-3 {
			t.Errorf("%s: the separator made no difference (%.6f)", name, plain)
		}
		// Without separators the loss is the cross-entropy of Forward's logits.
		logits, _ := m.Forward(window[:12])
		var want float64
		for i, row := range logits {
			var sum float64
			for _, v := range row {
				sum += math.Exp(float64(v))
			}
			want += math.Log(sum) - float64(row[window[i+1]])
		}
		if math.Abs(plain-want) > 1e-4 {
			t.Errorf("%s: loss %.6f, from Forward's logits %.6f", name, plain, want)
		}
	}
}

// Gradient accumulation over micro-batches equals one batch of them all,
// and every kernel path gives the same gradients.
func TestAccumulationAndKernelPaths(t *testing.T) {
	for _, name := range presets {
		m := loadPreset(t, name)
		r := rand.New(rand.NewPCG(7, 7))
		b := randomBatch(r, m.Config.VocabSize, 4, 8, 3)
		n := float32(len(b.Targets))
		whole := m.NewGrads()
		lw, err := m.LossAndGrad(b, whole, 1/n)
		if err != nil {
			t.Fatal(err)
		}
		parts := m.NewGrads()
		var lp float64
		half := len(b.Inputs) / 2
		for _, h := range []*Batch{
			{Inputs: b.Inputs[:half], Targets: b.Targets[:half], Seqs: 2, Sep: 3},
			{Inputs: b.Inputs[half:], Targets: b.Targets[half:], Seqs: 2, Sep: 3},
		} {
			l, err := m.LossAndGrad(h, parts, 1/n)
			if err != nil {
				t.Fatal(err)
			}
			lp += l
		}
		if math.Abs(lw-lp) > 1e-4 {
			t.Errorf("%s: loss %.6f in one batch, %.6f in two", name, lw, lp)
		}
		compareGrads(t, name+" accumulated", whole, parts, 1e-6)
		for _, kname := range tensor.Available() {
			m.K, _ = tensor.ByName(kname)
			other := m.NewGrads()
			if _, err := m.LossAndGrad(b, other, 1/n); err != nil {
				t.Fatal(err)
			}
			// Kernel paths sum in other orders; Gemma's post norms carry
			// that noise to 1.3e-6 (PyTorch's own float32 noise there:
			// 1.2e-6).
			compareGrads(t, name+" "+kname, whole, other, 3e-6)
		}
	}
}

func compareGrads(t *testing.T, what string, want, got *Model, tol float64) {
	t.Helper()
	gs := got.specs()
	for i, s := range want.specs() {
		for j, v := range *s.dst {
			if d := math.Abs(float64(v - (*gs[i].dst)[j])); d > tol*(1+math.Abs(float64(v))) {
				t.Errorf("%s: %s[%d] = %g, want %g", what, s.name, j, (*gs[i].dst)[j], v)
				break
			}
		}
	}
}

func TestBatchErrors(t *testing.T) {
	m := loadPreset(t, "tiny-qwen2")
	g := m.NewGrads()
	for _, b := range []*Batch{
		{Inputs: []int{1, 2, 3}, Targets: []int{2, 3, 4}, Seqs: 2},
		{Inputs: []int{1, 2}, Targets: []int{2}, Seqs: 1},
		{Inputs: []int{1, 200}, Targets: []int{2, 3}, Seqs: 1},
		{Inputs: []int{1, 2}, Targets: []int{2, -1}, Seqs: 1},
		{Seqs: 1},
	} {
		if _, err := m.LossAndGrad(b, g, 1); err == nil {
			t.Errorf("batch %+v: no error", b)
		}
	}
}

// trainGolden is the part of testdata/*/train_golden.json, written by
// testdata/train_reference.py (PyTorch autograd), that this package checks.
type trainGolden struct {
	Batch struct {
		Sep      int                  `json:"sep"`
		Windows  [][]int              `json:"windows"`
		Loss     float64              `json:"loss"`
		GradNorm float64              `json:"grad_norm"`
		Grads    map[string][]float64 `json:"grads"`
		NoSep    struct {
			Loss float64 `json:"loss"`
		} `json:"no_sep"`
		Float64 struct {
			// PyTorch's own float32 noise on these gradients.
			GradNoise float64 `json:"max_abs_diff_grads_f32_vs_f64"`
		} `json:"float64"`
	} `json:"batch"`
}

// BatchFromWindows turns windows of T+1 tokens into a training batch.
func batchFromWindows(windows [][]int, sep int) *Batch {
	b := &Batch{Seqs: len(windows), Sep: sep}
	for _, w := range windows {
		b.Inputs = append(b.Inputs, w[:len(w)-1]...)
		b.Targets = append(b.Targets, w[1:]...)
	}
	return b
}

func TestGradientsMatchPyTorch(t *testing.T) {
	for _, name := range presets {
		m := loadPreset(t, name)
		var gold trainGolden
		readJSON(t, filepath.Join("testdata", name, "train_golden.json"), &gold)
		b := batchFromWindows(gold.Batch.Windows, gold.Batch.Sep)
		n := float32(len(b.Targets))
		for _, kname := range tensor.Available() {
			m.K, _ = tensor.ByName(kname)
			g := m.NewGrads()
			loss, err := m.LossAndGrad(b, g, 1/n)
			if err != nil {
				t.Fatal(err)
			}
			if d := math.Abs(loss/float64(n) - gold.Batch.Loss); d > 1e-5 {
				t.Errorf("%s/%s: loss %.7f, PyTorch %.7f", name, kname, loss/float64(n), gold.Batch.Loss)
			}
			var worst float64
			for _, p := range g.Params() {
				want, ok := gold.Batch.Grads[p.Name]
				if !ok || len(want) != len(p.Data) {
					t.Fatalf("%s: golden gradient of %s missing or of another size", name, p.Name)
				}
				for j, v := range p.Data {
					worst = max(worst, math.Abs(float64(v)-want[j]))
				}
			}
			t.Logf("%s/%s: max |grad - PyTorch| = %.2g", name, kname, worst)
			// 1e-6, or twice PyTorch's own float32 noise where larger
			// (tiny-gemma3: 1.2e-6, its gradients reaching 0.93).
			if tol := max(1e-6, 2*gold.Batch.Float64.GradNoise); worst > tol {
				t.Errorf("%s/%s: gradients differ from PyTorch's by up to %.3g (tolerance %.3g)", name, kname, worst, tol)
			}
			plain := *b
			plain.Sep = -1
			l, _ := m.Loss(&plain)
			if d := math.Abs(l/float64(n) - gold.Batch.NoSep.Loss); d > 1e-5 {
				t.Errorf("%s/%s: loss without separators %.7f, PyTorch %.7f", name, kname, l/float64(n), gold.Batch.NoSep.Loss)
			}
		}
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
