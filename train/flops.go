package train

import (
	"math/rand/v2"
	"time"

	"github.com/dokja/dokja/model"
	"github.com/dokja/dokja/tensor"
)

// FLOPsPerToken is the work of training on one token, counted as in the
// PaLM paper's MFU: 6 per weight that multiplies activations (forward 2,
// backward 4; the output head included, the embedding lookup not) plus
// 12·layers·heads·head_dim·seqLen for attention scores and mixing.
func FLOPsPerToken(c *model.Config, seqLen int) float64 {
	d, ff := float64(c.HiddenSize), float64(c.IntermediateSize)
	qd := float64(c.NumAttentionHeads * c.HeadDim)
	kvd := float64(c.NumKeyValueHeads * c.HeadDim)
	perLayer := d*qd*2 + d*kvd*2 + 3*d*ff
	matmul := float64(c.NumHiddenLayers)*perLayer + d*float64(c.VocabSize)
	return 6*matmul + 12*float64(c.NumHiddenLayers)*qd*float64(seqLen)
}

// MeasurePeak returns the FLOP/s the kernels reach on a matrix product of
// the model's MLP shape (rows × hidden by hidden × intermediate), the best
// of several runs: the denominator of MFU, measured on this machine now.
func MeasurePeak(k tensor.Kernels, rows, hidden, inter int) float64 {
	rows = min(max(rows, 256), 2048)
	r := rand.New(rand.NewPCG(1, 1))
	fill := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = r.Float32() - 0.5
		}
		return s
	}
	a, b, c := fill(rows*hidden), fill(inter*hidden), make([]float32, rows*inter)
	flops := 2 * float64(rows) * float64(hidden) * float64(inter)
	best := 0.0
	deadline := time.Now().Add(400 * time.Millisecond)
	for i := 0; i < 3 || time.Now().Before(deadline); i++ {
		start := time.Now()
		k.Gemm(false, true, rows, inter, hidden, 1, a, hidden, b, hidden, 0, c, inter)
		if s := time.Since(start).Seconds(); s > 0 {
			best = max(best, flops/s)
		}
		if i > 50 {
			break
		}
	}
	return best
}
