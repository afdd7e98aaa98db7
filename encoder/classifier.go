package encoder

import (
	"errors"
	"fmt"
	"math"
)

// Classifier is a BERT-family encoder with its sequence-classification
// head over the first position: XLMRobertaForSequenceClassification's
// (dense, tanh and out_proj), as cross-encoder rerankers such as
// bge-reranker-v2-m3 are published, or BertForSequenceClassification's
// (the pooler's dense and tanh, then the classifier), as KLUE-style
// Korean classifiers are. The two compute the same thing under other
// names.
type Classifier struct {
	*Model
	dense, denseB []float32
	out, outB     []float32
	// Labels is the number of logits (1 for a reranker's relevance).
	Labels int
}

// LoadClassifier opens a sequence-classification folder.
func LoadClassifier(dir string) (*Classifier, error) {
	m, f, err := load(dir)
	if err != nil {
		return nil, err
	}
	path := f.Path()
	// Tensor names: RoBERTa's head, or BERT's pooler and classifier.
	dense, out := "classifier.dense", "classifier.out_proj"
	if m.Config.ModelType == "bert" {
		dense, out = "bert.pooler.dense", "classifier"
	}
	H := m.Config.HiddenSize
	info, ok := f.Info(out + ".weight")
	if !ok || len(info.Shape) != 2 || info.Shape[0] < 1 {
		return nil, fmt.Errorf("%s: no classification head (%s.weight)", path, out)
	}
	c := &Classifier{Model: m, Labels: info.Shape[0]}
	r := &tensors{f: f, path: path}
	r.read(&c.dense, dense+".weight", true, H, H)
	r.read(&c.denseB, dense+".bias", true, H)
	r.read(&c.out, out+".weight", true, c.Labels, H)
	r.read(&c.outB, out+".bias", true, c.Labels)
	if err := errors.Join(r.errs...); err != nil {
		return nil, err
	}
	return c, nil
}

// Logits runs a sequence (for a reranker: <s> query </s></s> document
// </s>, or [CLS] query [SEP] document [SEP]) and returns the head's
// logits.
func (c *Classifier) Logits(ids []int) ([]float32, error) {
	h, err := c.Forward(ids)
	if err != nil {
		return nil, err
	}
	H := c.Config.HiddenSize
	x := make([]float32, H)
	linear(c.K, x, h[:H], c.dense, c.denseB, 1, H, H)
	for i, v := range x {
		x[i] = float32(math.Tanh(float64(v)))
	}
	out := make([]float32, c.Labels)
	linear(c.K, out, x, c.out, c.outB, 1, H, c.Labels)
	return out, nil
}
