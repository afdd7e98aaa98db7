package train

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/dokja/dokja/model"
	"github.com/dokja/dokja/tensor"
)

// BenchmarkTrainStep measures training throughput on the shapes of the
// training issue: one optimizer step (forward, backward, clipping, AdamW)
// over batch × 256 tokens, per kernel path, reported as tokens/s and MFU
// against the peak FLOP/s the same kernels reach on this machine now.
// bench/train_torch.py trains the same shapes with PyTorch. The 125M
// shape runs with DOKJA_BENCH_125M=1.
func BenchmarkTrainStep(b *testing.B) {
	const T = 256
	shapes := []struct {
		name  string
		batch int
		c     model.Config
	}{
		{"15M", 8, model.Config{VocabSize: 32000, HiddenSize: 288, IntermediateSize: 768, NumHiddenLayers: 6, NumAttentionHeads: 6, NumKeyValueHeads: 6}},
		{"125M", 4, model.Config{VocabSize: 32000, HiddenSize: 768, IntermediateSize: 2048, NumHiddenLayers: 12, NumAttentionHeads: 12, NumKeyValueHeads: 12}},
	}
	for _, s := range shapes {
		if s.name == "125M" && os.Getenv("DOKJA_BENCH_125M") == "" {
			continue
		}
		c := s.c
		c.HeadDim = c.HiddenSize / c.NumAttentionHeads
		c.RMSNormEps, c.RopeTheta, c.HiddenAct, c.TieWordEmbeddings = 1e-5, 10000, "silu", true
		for _, kname := range tensor.Available() {
			m, err := model.NewRandom(&c, 1)
			if err != nil {
				b.Fatal(err)
			}
			m.K, _ = tensor.ByName(kname)
			r := rand.New(rand.NewPCG(1, 1))
			batch := &model.Batch{Seqs: s.batch, Sep: 0}
			for range s.batch * T {
				batch.Inputs = append(batch.Inputs, r.IntN(c.VocabSize))
				batch.Targets = append(batch.Targets, r.IntN(c.VocabSize))
			}
			g := m.NewGrads()
			opt := NewAdamW(m, 0.9, 0.95, 1e-8, 0.1)
			peak := MeasurePeak(m.K, s.batch*T, c.HiddenSize, c.IntermediateSize)
			flops := FLOPsPerToken(&c, T)
			b.Run(fmt.Sprintf("%s/b%d/%s", s.name, s.batch, kname), func(b *testing.B) {
				for b.Loop() {
					if _, err := m.LossAndGrad(batch, g, 1/float32(len(batch.Targets))); err != nil {
						b.Fatal(err)
					}
					ClipGrads(g, 1)
					opt.Update(m, g, 1e-4)
					ZeroGrads(g)
				}
				tps := float64(s.batch*T*b.N) / b.Elapsed().Seconds()
				b.ReportMetric(tps, "tokens/s")
				b.ReportMetric(100*tps*flops/peak, "MFU%")
				b.ReportMetric(peak/1e9, "peakGFLOPS")
			})
		}
	}
}
