package encoder

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/dokja/dokja/model"
	"github.com/dokja/dokja/tensor"
)

// mlmGolden is testdata/tiny-modernbert/mlm_golden.json, written by
// reference.py mlmgrad with PyTorch's autograd in float64.
type mlmGolden struct {
	Inputs, Targets []int
	Seqs, Sep       int
	Loss            float64
	Grads           map[string][]float64
}

func loadMLMGolden(t *testing.T) (*ModernBERT, *mlmGolden, *model.Batch) {
	t.Helper()
	dir := filepath.Join("testdata", "tiny-modernbert")
	b, err := os.ReadFile(filepath.Join(dir, "mlm_golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g mlmGolden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	e, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := e.(*ModernBERT)
	for i, v := range g.Targets {
		if v < 0 {
			g.Targets[i] = Ignore
		}
	}
	return m, &g, &model.Batch{Inputs: g.Inputs, Targets: g.Targets, Seqs: g.Seqs, Sep: g.Sep}
}

// TestMLMGradientsMatchPyTorch: the masked-language loss and every
// weight's gradient equal PyTorch autograd's on a packed batch (two
// sequences, one of three documents; global and sliding-window layers;
// a target that differs from its input) on every kernel path.
func TestMLMGradientsMatchPyTorch(t *testing.T) {
	m, gold, batch := loadMLMGolden(t)
	for _, kname := range tensor.Available() {
		k, err := tensor.ByName(kname)
		if err != nil {
			t.Fatal(err)
		}
		m.SetKernels(k)
		g := m.NewGrads()
		loss, err := m.LossAndGrad(batch, g, 1)
		if err != nil {
			t.Fatal(err)
		}
		if d := math.Abs(loss - gold.Loss); d > 1e-4 {
			t.Errorf("%s: loss %.6f, reference %.6f", kname, loss, gold.Loss)
		}
		plain, err := m.Loss(batch)
		if err != nil || plain != loss {
			t.Errorf("%s: Loss %v (%v), LossAndGrad %v", kname, plain, err, loss)
		}
		params := g.Params()
		if len(params) != len(gold.Grads) {
			t.Errorf("%d gradients, the reference has %d", len(params), len(gold.Grads))
		}
		worst, where := 0.0, ""
		for _, p := range params {
			want, ok := gold.Grads[p.Name]
			if !ok || len(want) != len(p.Data) {
				t.Fatalf("%s: reference gradient missing or of another size", p.Name)
			}
			scale := 0.0
			for _, v := range want {
				scale = max(scale, math.Abs(v))
			}
			for i, v := range want {
				if d := math.Abs(float64(p.Data[i])-v) / max(scale, 1e-3); d > worst {
					worst, where = d, p.Name
				}
			}
		}
		t.Logf("%s: loss %.6f (reference %.6f), largest gradient difference %.2g of the tensor's largest (%s)", kname, loss, gold.Loss, worst, where)
		if worst > 1e-4 {
			t.Errorf("%s: gradient of %s differs by %.3g of its largest entry", kname, where, worst)
		}
	}
}
