package model

import (
	"math"
	"os"
	"path/filepath"
	"testing"
)

func TestInitSaveLoad(t *testing.T) {
	for _, name := range []string{"tiny-llama", "tiny-qwen2"} {
		c, err := LoadConfig(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		m, err := NewRandom(c, 42)
		if err != nil {
			t.Fatal(err)
		}
		again, _ := NewRandom(c, 42)
		other, _ := NewRandom(c, 43)
		if m.Layers[0].Q[5] != again.Layers[0].Q[5] || m.Layers[0].Q[5] == other.Layers[0].Q[5] {
			t.Fatalf("%s: seeding is not deterministic or ignores the seed", name)
		}
		var sum, sq float64
		for _, v := range m.Embed {
			sum += float64(v)
			sq += float64(v) * float64(v)
		}
		n := float64(len(m.Embed))
		if std := math.Sqrt(sq/n - (sum/n)*(sum/n)); math.Abs(std-InitStd) > 0.003 {
			t.Fatalf("%s: embedding std %.4f, want about %.2f", name, std, InitStd)
		}
		for _, dtype := range []string{"F32", "BF16"} {
			dir := filepath.Join(t.TempDir(), dtype)
			if err := m.Save(dir, dtype); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{"config.json", "model.safetensors", "generation_config.json"} {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Fatal(err)
				}
			}
			back, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			if back.NumParams() != m.NumParams() {
				t.Fatalf("%s %s: %d params after loading, %d before", name, dtype, back.NumParams(), m.NumParams())
			}
			ids := []int{1, 5, 9, 2}
			want, _ := m.Forward(ids)
			got, err := back.Forward(ids)
			if err != nil {
				t.Fatal(err)
			}
			tol := 1e-6
			if dtype == "BF16" {
				tol = 2e-2 // bf16 keeps 8 bits of mantissa
			}
			for p := range want {
				for v := range want[p] {
					if d := math.Abs(float64(got[p][v] - want[p][v])); d > tol {
						t.Fatalf("%s %s: logit [%d][%d] changed by %g", name, dtype, p, v, d)
					}
				}
			}
		}
	}
}
