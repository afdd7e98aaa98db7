package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/dokja/dokja/atomicfile"
	"github.com/dokja/dokja/internal/sysmem"
	"github.com/dokja/dokja/safetensors"
	"github.com/dokja/dokja/tensor"
)

// InitStd is the standard deviation of initial weights (Hugging Face's
// initializer_range default).
const InitStd = 0.02

// NewRandom builds a model with seeded random weights: embeddings and
// projections drawn from N(0, 0.02²), the projections that write into the
// residual stream (o_proj, down_proj) scaled by 1/√(2·layers) as in GPT-2,
// norms at 1 and biases at 0.
func NewRandom(c *Config, seed uint64) (*Model, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := sysmem.Check(fmt.Sprintf("a model of %.3g weights (float32)", c.NumParams()), 4*c.NumParams()); err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(seed, seed^0x9E3779B97F4A7C15))
	m := &Model{Config: c, Layers: make([]Layer, c.NumHiddenLayers), K: tensor.Default()}
	residual := InitStd / math.Sqrt(2*float64(c.NumHiddenLayers))
	for _, s := range m.specs() {
		n := 1
		for _, d := range s.shape {
			n *= d
		}
		data := make([]float32, n)
		switch {
		case strings.HasSuffix(s.canon, "norm.weight"):
			for i := range data {
				data[i] = 1
			}
		case strings.HasSuffix(s.canon, ".bias"):
		default:
			std := InitStd
			if strings.HasSuffix(s.canon, "o_proj.weight") || strings.HasSuffix(s.canon, "down_proj.weight") {
				std = residual
			}
			for i := range data {
				data[i] = float32(r.NormFloat64() * std)
			}
		}
		*s.dst = data
	}
	if c.TieWordEmbeddings {
		m.Head.W = m.Embed
	}
	return m, nil
}

// Save writes the model as a Hugging Face checkpoint folder: config.json,
// model.safetensors (dtype "F32" or "BF16") and generation_config.json,
// each file written atomically.
func (m *Model) Save(dir string, dtype string) error {
	if m.quantized() {
		return errQuantized
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	c := *m.Config
	if len(c.Architectures) == 0 {
		c.Architectures = []string{"LlamaForCausalLM"}
	}
	if c.ModelType == "" {
		c.ModelType = m.Config.arch().ModelType
	}
	var encode func(name string, shape []int, data []float32) safetensors.Tensor
	switch dtype {
	case "F32":
		encode, c.TorchDtype = safetensors.F32, "float32"
	case "BF16":
		encode, c.TorchDtype = safetensors.BF16, "bfloat16"
	default:
		return fmt.Errorf("dtype %q: want F32 or BF16", dtype)
	}
	var ts []safetensors.Tensor
	for _, s := range m.specs() {
		data := *s.dst
		if m.Config.arch().NormPlusOne && isNorm(s.canon) {
			// Gemma's checkpoints store w of the 1+w scale.
			data = slices.Clone(data)
			for i := range data {
				data[i]--
			}
		}
		ts = append(ts, encode(s.name, s.shape, data))
	}
	if err := safetensors.Write(filepath.Join(dir, "model.safetensors"), ts, map[string]string{"format": "pt"}); err != nil {
		return err
	}
	if err := atomicfile.WriteJSON(filepath.Join(dir, "config.json"), &c); err != nil {
		return err
	}
	gen := map[string]any{"_from_model_config": true}
	if c.BOSTokenID != nil {
		gen["bos_token_id"] = c.BOSTokenID
	}
	if c.EOSTokenID != nil {
		gen["eos_token_id"] = c.EOSTokenID
	}
	return atomicfile.WriteJSON(filepath.Join(dir, "generation_config.json"), gen)
}

// NumParams counts the model's parameters (a tied head counts once):
// float32 tensors and matrices kept in blocks alike.
func (m *Model) NumParams() int {
	n := 0
	for _, s := range m.specs() {
		if s.lin != nil && s.lin.Q != nil {
			n += s.lin.Q.Rows * s.lin.Q.Cols
		} else {
			n += len(*s.dst)
		}
	}
	return n
}
