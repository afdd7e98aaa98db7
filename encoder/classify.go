package encoder

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"

	"github.com/dokja/dokja/tensor"
)

// Sequence classification with ModernBERT, as
// ModernBertForSequenceClassification defines it: the final hidden
// states pooled (the first position, or the mean), then the head
// (dense, GELU, norm) and a linear layer to one logit per label. This is
// the data-curation classifier: trained on labelled lines, it becomes a
// stage of the data pipeline.

// labelNames orders id2label's names by id; missing names become
// LABEL_i, as Hugging Face names them.
func labelNames(id2label map[string]string, n int) ([]string, error) {
	if n < 1 || n > 1<<16 {
		return nil, fmt.Errorf("%d labels: want 1 to 65536", n)
	}
	names := make([]string, n)
	for i := range names {
		names[i] = "LABEL_" + strconv.Itoa(i)
	}
	for k, v := range id2label {
		i, err := strconv.Atoi(k)
		if err != nil || i < 0 || i >= n {
			return nil, fmt.Errorf("id2label key %q: want an id below the classifier's %d labels", k, n)
		}
		names[i] = v
	}
	return names, nil
}

// Labels names the classifier's labels in logit order; nil for a model
// without a classification layer.
func (m *ModernBERT) Labels() []string { return m.labels }

// AddClassifier turns m into a classifier over labels: the head is kept
// when m has one (a masked-language checkpoint's, as Hugging Face reuses
// it) and made otherwise; the classification layer starts fresh (seeded);
// the decoder bias goes.
func (m *ModernBERT) AddClassifier(labels []string, seed uint64) error {
	if len(labels) < 2 {
		return fmt.Errorf("encoder: %d labels: a classifier needs at least 2", len(labels))
	}
	m.EnsureHead(seed)
	m.decB = nil
	m.labels = slices.Clone(labels)
	H := m.Config.HiddenSize
	m.clsW, m.clsB = make([]float32, len(labels)*H), make([]float32, len(labels))
	r := rand.New(rand.NewPCG(seed, seed+1))
	std := m.Config.InitializerRange
	if std == 0 {
		std = 0.02
	}
	for i := range m.clsW {
		m.clsW[i] = float32(r.NormFloat64() * std)
	}
	m.Config.ID2Label = map[string]string{}
	for i, l := range labels {
		m.Config.ID2Label[strconv.Itoa(i)] = l
	}
	return nil
}

// pooled returns text s's pooled hidden state (by classifier_pooling).
func (m *ModernBERT) pooled(ps *mpass, h []float32, s int) []float32 {
	H := m.Config.HiddenSize
	r0, r1 := ps.start[s], ps.start[s+1]
	if m.Config.ClassifierPooling == "mean" {
		return Pool(h[r0*H:r1*H], H, PoolMean)
	}
	return slices.Clone(h[r0*H : (r0+1)*H])
}

// ClassifyLogits returns one logit per label for a sequence of ids.
func (m *ModernBERT) ClassifyLogits(ids []int) ([]float32, error) {
	if m.labels == nil {
		return nil, fmt.Errorf("encoder: the model has no classification layer")
	}
	h, err := m.Forward(ids)
	if err != nil {
		return nil, err
	}
	ps := textsPass([][]int{ids})
	_, logits := m.classifyRows(m.pooled(ps, h, 0), 1)
	return logits, nil
}

// classifyRows runs the head and classification layer over n pooled rows,
// returning the head's pre-activation and the logits.
func (m *ModernBERT) classifyRows(pooled []float32, n int) (z, logits []float32) {
	H, L := m.Config.HiddenSize, len(m.labels)
	z = make([]float32, n*H)
	linear(m.K, z, pooled, m.headW, m.headB, n, H, H)
	y := slices.Clone(z)
	gelu(y)
	layerNorm(y, H, m.headNW, m.headNB, float32(m.Config.NormEps))
	logits = make([]float32, n*L)
	linear(m.K, logits, y, m.clsW, m.clsB, n, H, L)
	return z, logits
}

// ClassifierLoss returns the summed cross-entropy of texts against their
// labels (indices into Labels); with g (from NewGrads) it adds scale
// times the gradient, and it reports how many texts the argmax got right.
func (m *ModernBERT) ClassifierLoss(texts [][]int, labels []int, g *ModernBERT, scale float32) (loss float64, correct int, err error) {
	L := len(m.labels)
	if L == 0 {
		return 0, 0, fmt.Errorf("encoder: the model has no classification layer")
	}
	if len(texts) == 0 || len(labels) != len(texts) {
		return 0, 0, fmt.Errorf("encoder: %d texts and %d labels: want as many of each, at least one", len(texts), len(labels))
	}
	if err := m.checkTexts(texts); err != nil {
		return 0, 0, err
	}
	for i := range texts {
		if labels[i] < 0 || labels[i] >= L {
			return 0, 0, fmt.Errorf("encoder: label %d of text %d: want 0 to %d", labels[i], i, L-1)
		}
	}
	ps := textsPass(texts)
	var tp *mtape
	if g != nil {
		tp = &mtape{}
	}
	h := m.forward(ps, tp)
	c := &m.Config
	H, n := c.HiddenSize, len(texts)
	pooled := make([]float32, n*H)
	for s := range n {
		copy(pooled[s*H:(s+1)*H], m.pooled(ps, h, s))
	}
	z, logits := m.classifyRows(pooled, n)
	dl := make([]float32, n*L)
	for s := range n {
		row := logits[s*L : (s+1)*L]
		lse := tensor.LogSumExp(row)
		loss += lse - float64(row[labels[s]])
		if slices.Index(row, slices.Max(row)) == labels[s] {
			correct++
		}
		for j, v := range row {
			dl[s*L+j] = float32(math.Exp(float64(v)-lse)) * scale
		}
		dl[s*L+labels[s]] -= scale
	}
	if g == nil {
		return loss, correct, nil
	}
	eps := float32(c.NormEps)
	a := slices.Clone(z)
	gelu(a)
	y := slices.Clone(a)
	layerNorm(y, H, m.headNW, m.headNB, eps)
	dy, da, dp := make([]float32, n*H), make([]float32, n*H), make([]float32, n*H)
	linearBackward(m.K, dl, y, m.clsW, g.clsW, g.clsB, n, H, L, dy)
	tensor.LayerNormBackward(da, g.headNW, g.headNB, dy, a, m.headNW, eps)
	for i, v := range z {
		da[i] *= geluGrad(v)
	}
	linearBackward(m.K, da, pooled, m.headW, g.headW, g.headB, n, H, H, dp)
	dh := make([]float32, len(h))
	for s := range n {
		r0, r1 := ps.start[s], ps.start[s+1]
		if c.ClassifierPooling == "mean" {
			inv := 1 / float32(r1-r0)
			for r := r0; r < r1; r++ {
				for j := range H {
					dh[r*H+j] = dp[s*H+j] * inv
				}
			}
		} else {
			copy(dh[r0*H:(r0+1)*H], dp[s*H:(s+1)*H])
		}
	}
	m.backward(tp, dh, g)
	return loss, correct, nil
}
