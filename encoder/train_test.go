package encoder

import (
	"encoding/json"
	"iter"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
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
	for kname := range kernelPaths(t, m) {
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
		compareGrads(t, kname, g.Params(), gold.Grads)
	}
}

// compareGrads checks every gradient against the reference's, relative
// to the largest entry of its tensor.
func compareGrads(t *testing.T, kname string, params []model.Param, gold map[string][]float64) {
	t.Helper()
	if len(params) != len(gold) {
		t.Errorf("%d gradients, the reference has %d", len(params), len(gold))
	}
	worst, where := 0.0, ""
	for _, p := range params {
		want, ok := gold[p.Name]
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
	t.Logf("%s: largest gradient difference %.2g of the tensor's largest (%s)", kname, worst, where)
	if worst > 1e-4 {
		t.Errorf("%s: gradient of %s differs by %.3g of its largest entry", kname, where, worst)
	}
}

// TestContrastiveGradientsMatchPyTorch: the in-batch-negatives loss
// (texts of several lengths, some longer than the sliding window) and
// the body's gradients equal PyTorch autograd's on every kernel path.
func TestContrastiveGradientsMatchPyTorch(t *testing.T) {
	var gold struct {
		Queries, Docs [][]int
		Temperature   float64
		Loss          float64
		Grads         map[string][]float64
	}
	m := openGolden(t, "tiny-modernbert", "contrastive_golden.json", &gold)
	m.DropHead()
	for kname := range kernelPaths(t, m) {
		g := m.NewGrads()
		loss, err := m.ContrastiveLoss(gold.Queries, gold.Docs, gold.Temperature, g, 1)
		if err != nil {
			t.Fatal(err)
		}
		plain, err := m.ContrastiveLoss(gold.Queries, gold.Docs, gold.Temperature, nil, 0)
		if err != nil || math.Abs(plain-loss) > 1e-9 {
			t.Errorf("%s: loss without gradients %v (%v), with %v", kname, plain, err, loss)
		}
		if math.Abs(loss-gold.Loss) > 1e-4*max(1, gold.Loss) {
			t.Errorf("%s: loss %.6f, reference %.6f", kname, loss, gold.Loss)
		}
		compareGrads(t, kname, g.Params(), gold.Grads)
	}
	for _, bad := range []struct {
		q, d [][]int
		tau  float64
		want string
	}{
		{nil, nil, 0.05, "at least one"},
		{[][]int{{1}}, [][]int{{1}, {2}}, 0.05, "as many"},
		{[][]int{{1}}, [][]int{{1}}, 0, "temperature"},
		{[][]int{{}}, [][]int{{1}}, 0.05, "text 0 has 0 tokens"},
		{[][]int{{1}}, [][]int{{1, 100000}}, 0.05, "outside the vocabulary"},
	} {
		if _, err := m.ContrastiveLoss(bad.q, bad.d, bad.tau, nil, 0); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("ContrastiveLoss(%v, %v, %g): %v, want an error with %q", bad.q, bad.d, bad.tau, err, bad.want)
		}
	}
}

// TestClassifierGradientsMatchPyTorch: ModernBertForSequenceClassification
// (mean pooling, head, classification layer) read from its folder gives
// the reference's logits, labels by id2label, and the summed
// cross-entropy's gradients equal PyTorch autograd's, on every kernel
// path.
func TestClassifierGradientsMatchPyTorch(t *testing.T) {
	var gold struct {
		Texts  [][]int
		Labels []int
		Logits [][]float64
		Loss   float64
		Grads  map[string][]float64
	}
	m := openGolden(t, "tiny-modernbert-classifier", "classifier_golden.json", &gold)
	if got := m.Labels(); !slices.Equal(got, []string{"negative", "positive", "neutral"}) {
		t.Errorf("labels %v", got)
	}
	for kname := range kernelPaths(t, m) {
		for i, ids := range gold.Texts {
			lg, err := m.ClassifyLogits(ids)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxDiff(lg, gold.Logits[i]); d > 2e-5 {
				t.Errorf("%s: text %d: logits differ by %.3g", kname, i, d)
			}
		}
		g := m.NewGrads()
		loss, correct, err := m.ClassifierLoss(gold.Texts, gold.Labels, g, 1)
		if err != nil {
			t.Fatal(err)
		}
		want := 0
		for i, row := range gold.Logits {
			if slices.Index(row, slices.Max(row)) == gold.Labels[i] {
				want++
			}
		}
		if math.Abs(loss-gold.Loss) > 1e-4 || correct != want {
			t.Errorf("%s: loss %.6f (reference %.6f), %d correct (reference %d)", kname, loss, gold.Loss, correct, want)
		}
		compareGrads(t, kname, g.Params(), gold.Grads)
	}
	if _, _, err := m.ClassifierLoss(gold.Texts[:1], []int{3}, nil, 0); err == nil || !strings.Contains(err.Error(), "label 3") {
		t.Errorf("a label out of range: %v", err)
	}
}

// openGolden reads testdata/preset/name into gold and opens the preset's
// ModernBERT.
func openGolden(t *testing.T, preset, name string, gold any) *ModernBERT {
	t.Helper()
	dir := filepath.Join("testdata", preset)
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, gold); err != nil {
		t.Fatal(err)
	}
	e, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return e.(*ModernBERT)
}

// kernelPaths yields the name of every kernel path built in, with m set
// to run on it.
func kernelPaths(t *testing.T, m interface{ SetKernels(tensor.Kernels) }) iter.Seq[string] {
	return func(yield func(string) bool) {
		for _, name := range tensor.Available() {
			k, err := tensor.ByName(name)
			if err != nil {
				t.Fatal(err)
			}
			m.SetKernels(k)
			if !yield(name) {
				return
			}
		}
	}
}
