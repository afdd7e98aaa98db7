package train

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/dokja/dokja/encoder"
	"github.com/dokja/dokja/model"
	"github.com/dokja/dokja/tensor"
	"github.com/dokja/dokja/tokenizer"
)

// Weights is anything with a fixed list of weight tensors: a model, or
// its gradients, for the optimizer.
type Weights interface {
	Params() []model.Param
}

// net is what the loop trains: a decoder on next-token prediction, or a
// ModernBERT encoder on masked tokens. Batches come from the same loader;
// targets < 0 are not predicted.
type net interface {
	Weights
	newGrads() net
	lossAndGrad(b *model.Batch, g net, scale float32) (float64, error)
	loss(b *model.Batch) (float64, error)
	save(dir string) error
	kernels() tensor.Kernels
	setKernels(tensor.Kernels)
	numParams() int
	vocab() int
	maxTokens() int
	// flopsPerToken is the training work per input token (FLOPsPerToken).
	flopsPerToken(seqLen int) float64
	// widths are the hidden and MLP widths, for MeasurePeak.
	widths() (hidden, inter int)
}

type decoderNet struct{ *model.Model }

func (d decoderNet) newGrads() net { return decoderNet{d.Model.NewGrads()} }
func (d decoderNet) lossAndGrad(b *model.Batch, g net, scale float32) (float64, error) {
	return d.Model.LossAndGrad(b, g.(decoderNet).Model, scale)
}
func (d decoderNet) loss(b *model.Batch) (float64, error) { return d.Model.Loss(b) }
func (d decoderNet) save(dir string) error                { return d.Model.Save(dir, "F32") }
func (d decoderNet) kernels() tensor.Kernels              { return d.K }
func (d decoderNet) setKernels(k tensor.Kernels)          { d.K = k }
func (d decoderNet) numParams() int                       { return d.NumParams() }
func (d decoderNet) vocab() int                           { return d.Config.VocabSize }
func (d decoderNet) maxTokens() int                       { return d.Config.MaxPositionEmbeddings }
func (d decoderNet) flopsPerToken(seqLen int) float64     { return FLOPsPerToken(d.Config, seqLen) }
func (d decoderNet) widths() (int, int)                   { return d.Config.HiddenSize, d.Config.IntermediateSize }

type encoderNet struct{ *encoder.ModernBERT }

func (e encoderNet) newGrads() net { return encoderNet{e.ModernBERT.NewGrads()} }
func (e encoderNet) lossAndGrad(b *model.Batch, g net, scale float32) (float64, error) {
	return e.ModernBERT.LossAndGrad(b, g.(encoderNet).ModernBERT, scale)
}
func (e encoderNet) loss(b *model.Batch) (float64, error) { return e.ModernBERT.Loss(b) }
func (e encoderNet) save(dir string) error                { return e.Save(dir) }
func (e encoderNet) kernels() tensor.Kernels              { return e.K }
func (e encoderNet) setKernels(k tensor.Kernels)          { e.K = k }
func (e encoderNet) numParams() int                       { return e.NumParams() }
func (e encoderNet) vocab() int                           { return e.Config.VocabSize }
func (e encoderNet) maxTokens() int                       { return e.Config.MaxPositionEmbeddings }
func (e encoderNet) widths() (int, int)                   { return e.Config.HiddenSize, e.Config.IntermediateSize }

// flopsPerToken counts as FLOPsPerToken does: the layers' products, the
// attention over the sequence, and the head and decoder on the masked
// share of positions.
func (e encoderNet) flopsPerToken(seqLen int) float64 {
	c := &e.Config
	h, ff := float64(c.HiddenSize), float64(c.IntermediateSize)
	perLayer := 4*h*h + 3*h*ff
	head := (h*h + h*float64(c.VocabSize)) * 0.3
	return 6*(float64(c.NumHiddenLayers)*perLayer+head) + 12*float64(c.NumHiddenLayers)*h*float64(seqLen)
}

// modelType reads the model_type of a config.json, "" when unreadable.
func modelType(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	var c struct {
		ModelType string `json:"model_type"`
	}
	if json.Unmarshal(data, &c) != nil {
		return ""
	}
	return c.ModelType
}

// isEncoder reports whether a model config.json, or a folder's, is a
// ModernBERT encoder.
func isEncoder(path string) bool {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "config.json")
	}
	return modelType(path) == "modernbert"
}

// masker turns next-token batches from the loader into masked-language
// batches, as BERT and ModernBERT train: a share of the positions
// (special tokens never) is chosen; of those, 80% become the mask token,
// 10% a random token and 10% stay; only chosen positions are predicted.
// The choice depends only on the seed and the batch's place in the data
// order, so a resumed run masks as an uninterrupted one.
type masker struct {
	rate    float64
	mask    int
	vocab   int // random replacements are drawn below this id
	special []bool
}

// newMasker finds (or appends) the mask token in the data's tokenizer.
// It returns the tokenizer to save with the model: the data's, with the
// mask token added when it lacked one.
func newMasker(cfg *Config, tok *tokenizer.Tokenizer, sep, modelVocab int) (*masker, *tokenizer.Tokenizer, error) {
	mk := &masker{rate: cfg.MaskRate}
	if tok == nil {
		return nil, nil, fmt.Errorf("data %s: masked-language training needs the data's tokenizer.json (for its mask and special tokens)", cfg.Data)
	}
	if cfg.MaskToken == "" {
		cfg.MaskToken = "<|mask|>"
		for _, name := range []string{"[MASK]", "<mask>", "<|mask|>"} {
			if _, ok := tok.TokenID(name); ok {
				cfg.MaskToken = name
				break
			}
		}
	}
	id, err := tok.AddSpecial(cfg.MaskToken)
	if err != nil {
		return nil, nil, fmt.Errorf("mask_token %q: %w", cfg.MaskToken, err)
	}
	mk.mask, mk.vocab = id, tok.VocabSize()
	if mk.vocab > modelVocab {
		return nil, nil, fmt.Errorf("the tokenizer with its mask token %q has %d ids, the model's vocab_size only %d", cfg.MaskToken, mk.vocab, modelVocab)
	}
	mk.special = make([]bool, mk.vocab)
	for _, a := range tok.AddedTokens() {
		if a.Special && a.ID < mk.vocab {
			mk.special[a.ID] = true
		}
	}
	if sep >= 0 && sep < mk.vocab {
		mk.special[sep] = true
	}
	mk.special[mk.mask] = true
	return mk, tok, nil
}

// apply masks b in place; key identifies the batch (seed and position).
func (mk *masker) apply(b *model.Batch, key uint64) {
	r := rand.New(rand.NewPCG(key, mix(key)))
	for i, id := range b.Inputs {
		b.Targets[i] = encoder.Ignore
		if id < len(mk.special) && mk.special[id] || r.Float64() >= mk.rate {
			continue
		}
		b.Targets[i] = id
		switch p := r.Float64(); {
		case p < 0.8:
			b.Inputs[i] = mk.mask
		case p < 0.9:
			// Any ordinary token: a separator would cut the document.
			for {
				b.Inputs[i] = r.IntN(mk.vocab)
				if !mk.special[b.Inputs[i]] {
					break
				}
			}
		}
	}
}

// targets counts the positions of b that are predicted.
func targets(b *model.Batch) int {
	n := 0
	for _, t := range b.Targets {
		if t >= 0 {
			n++
		}
	}
	return n
}
