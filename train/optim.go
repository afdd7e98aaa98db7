// Package train pretrains and continues pretraining decoders (next-token
// prediction) and ModernBERT encoders (masked tokens):
// the optimizer and schedule, the deterministic data loader over token
// shards, checkpoints that resume bit-identically, and the training loop.
package train

import (
	"math"

	"github.com/dokja/dokja/model"
	"github.com/dokja/dokja/tensor"
)

// AdamW is Adam with decoupled weight decay (Loshchilov & Hutter), with
// the update written as PyTorch's torch.optim.AdamW computes it, so that
// runs can be compared step for step. Weight decay applies only to
// matrices (embeddings included), never to norms or biases.
type AdamW struct {
	Beta1, Beta2, Eps, WeightDecay float64
	// Step counts the updates made so far.
	Step int
	// M and V are the first and second moment estimates, one per model
	// parameter in model.Params order.
	M, V [][]float32
}

// NewAdamW returns an optimizer with zero moments for m's parameters.
func NewAdamW(m Weights, beta1, beta2, eps, weightDecay float64) *AdamW {
	o := &AdamW{Beta1: beta1, Beta2: beta2, Eps: eps, WeightDecay: weightDecay}
	for _, p := range m.Params() {
		o.M = append(o.M, make([]float32, len(p.Data)))
		o.V = append(o.V, make([]float32, len(p.Data)))
	}
	return o
}

// decays reports whether weight decay applies to a parameter: matrices
// yes, vectors (norm weights, biases) no.
func decays(p model.Param) bool { return len(p.Shape) >= 2 }

// Update applies one step with learning rate lr, given the gradients g
// (shaped as m, from its NewGrads).
func (o *AdamW) Update(m, g Weights, lr float64) {
	o.Step++
	bc1 := 1 - math.Pow(o.Beta1, float64(o.Step))
	bc2 := math.Sqrt(1 - math.Pow(o.Beta2, float64(o.Step)))
	b1, b2 := float32(o.Beta1), float32(o.Beta2)
	stepSize := float32(lr / bc1)
	bc2f, eps := float32(bc2), float32(o.Eps)
	grads := g.Params()
	for i, p := range m.Params() {
		decay := float32(1)
		if decays(p) {
			decay = float32(1 - lr*o.WeightDecay)
		}
		w, gr, mo, ve := p.Data, grads[i].Data, o.M[i], o.V[i]
		tensor.ParallelFor(len(w), 16384, func(lo, hi int) {
			for j := lo; j < hi; j++ {
				w[j] *= decay
				mo[j] = mo[j]*b1 + gr[j]*(1-b1)
				ve[j] = ve[j]*b2 + gr[j]*gr[j]*(1-b2)
				denom := float32(math.Sqrt(float64(ve[j])))/bc2f + eps
				w[j] -= stepSize * (mo[j] / denom)
			}
		})
	}
}

// GradNorm returns the global L2 norm of the gradients, summed in float64
// in parameter order.
func GradNorm(g Weights) float64 {
	var ss float64
	for _, p := range g.Params() {
		for _, v := range p.Data {
			ss += float64(v) * float64(v)
		}
	}
	return math.Sqrt(ss)
}

// ClipGrads scales the gradients so their global norm is at most maxNorm,
// as torch.nn.utils.clip_grad_norm_ does (coefficient maxNorm/(norm+1e-6),
// applied only when below 1), and returns the norm before clipping.
func ClipGrads(g Weights, maxNorm float64) float64 {
	norm := GradNorm(g)
	if maxNorm <= 0 {
		return norm
	}
	if coef := maxNorm / (norm + 1e-6); coef < 1 {
		c := float32(coef)
		for _, p := range g.Params() {
			for j := range p.Data {
				p.Data[j] *= c
			}
		}
	}
	return norm
}

// ZeroGrads clears the gradients for the next step.
func ZeroGrads(g Weights) {
	for _, p := range g.Params() {
		clear(p.Data)
	}
}

// Schedule is linear warmup to MaxLR over Warmup steps, then cosine decay
// to MinLR at step Total.
type Schedule struct {
	MaxLR, MinLR  float64
	Warmup, Total int
}

// LR returns the learning rate of 0-based step s.
func (s Schedule) LR(step int) float64 {
	if step < s.Warmup {
		return s.MaxLR * float64(step+1) / float64(s.Warmup)
	}
	if s.Total <= s.Warmup {
		return s.MaxLR
	}
	p := min(1, float64(step-s.Warmup)/float64(s.Total-s.Warmup))
	return s.MinLR + 0.5*(s.MaxLR-s.MinLR)*(1+math.Cos(math.Pi*p))
}
