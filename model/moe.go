package model

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"

	"github.com/dokja/dokja/gguf"
	"github.com/dokja/dokja/tensor"
)

// Expert is one SwiGLU MLP of a mixture-of-experts layer:
// down(silu(gate(x))·up(x)).
type Expert struct {
	Gate, Up, Down Linear
}

// moe reports whether layer i's MLP is a mixture of experts: every layer
// of a Mixtral; for Qwen's, the layers of decoder_sparse_step not listed
// in mlp_only_layers.
func (c *Config) moe(i int) bool {
	a := c.arch()
	if a.MoE == "" || c.NumExperts == 0 {
		return false
	}
	if a.MoE == "mixtral" {
		return true
	}
	step := max(c.DecoderSparseStep, 1)
	return !slices.Contains(c.MLPOnlyLayers, i) && (i+1)%step == 0
}

// IsMoE reports whether any layer is a mixture of experts.
func (c *Config) IsMoE() bool {
	for i := range c.NumHiddenLayers {
		if c.moe(i) {
			return true
		}
	}
	return false
}

// expertFF is the width of one expert's MLP.
func (c *Config) expertFF() int {
	if c.arch().MoE == "qwen" {
		return c.MoEIntermediateSize
	}
	return c.IntermediateSize
}

// normTopK reports whether the chosen experts' weights are renormalised
// to sum to 1: always for Mixtral, as norm_topk_prob says for Qwen
// (false when absent, as in Transformers).
func (c *Config) normTopK() bool {
	if c.arch().MoE == "mixtral" {
		return true
	}
	return c.NormTopKProb != nil && *c.NormTopKProb
}

func (c *Config) validateMoE() error {
	a, _ := c.Arch()
	if a == nil || a.MoE == "" {
		if c.NumExperts > 0 {
			return fmt.Errorf("config.json: num_experts %d: %s has no mixture-of-experts layers", c.NumExperts, a.Name)
		}
		return nil
	}
	if c.HiddenAct != "silu" {
		return fmt.Errorf("config.json: hidden_act %q: experts are SwiGLU MLPs (silu)", c.HiddenAct)
	}
	if c.NumExperts <= 0 || c.NumExperts > 1<<16 {
		return fmt.Errorf("config.json: num_experts %d is not in [1, 65536]", c.NumExperts)
	}
	if c.NumExpertsPerTok <= 0 || c.NumExpertsPerTok > c.NumExperts {
		return fmt.Errorf("config.json: num_experts_per_tok %d is not in [1, num_experts = %d]", c.NumExpertsPerTok, c.NumExperts)
	}
	if a.MoE == "qwen" && (c.MoEIntermediateSize <= 0 || c.MoEIntermediateSize > maxDim) {
		return fmt.Errorf("config.json: moe_intermediate_size %d is not in [1, %d]", c.MoEIntermediateSize, maxDim)
	}
	if c.SharedExpertIntermediateSize < 0 || c.SharedExpertIntermediateSize > maxDim {
		return fmt.Errorf("config.json: shared_expert_intermediate_size %d is not in [0, %d]", c.SharedExpertIntermediateSize, maxDim)
	}
	if c.SharedExpertIntermediateSize > 0 && a.Name != "Qwen2MoeForCausalLM" {
		return fmt.Errorf("config.json: shared_expert_intermediate_size: %s has no shared expert", a.Name)
	}
	if c.DecoderSparseStep < 0 {
		return fmt.Errorf("config.json: decoder_sparse_step %d is negative", c.DecoderSparseStep)
	}
	for _, i := range c.MLPOnlyLayers {
		if i < 0 || i >= c.NumHiddenLayers {
			return fmt.Errorf("config.json: mlp_only_layers: layer %d does not exist", i)
		}
	}
	return nil
}

// mlpParams counts layer i's MLP weights: all of them, or those one token
// uses (active: the chosen experts, the router and the shared expert).
func (c *Config) mlpParams(i int, active bool) float64 {
	d := float64(c.HiddenSize)
	if !c.moe(i) {
		return 3 * float64(c.IntermediateSize) * d
	}
	experts := float64(c.NumExperts)
	if active {
		experts = float64(c.NumExpertsPerTok)
	}
	n := experts*3*float64(c.expertFF())*d + float64(c.NumExperts)*d
	if s := c.SharedExpertIntermediateSize; s > 0 {
		n += 3*float64(s)*d + d
	}
	return n
}

// ActiveParams is the number of weights one token's forward pass uses:
// NumParams for a dense model, less the experts it does not choose for a
// mixture of experts (what decode speed follows).
func (c *Config) ActiveParams() float64 {
	n := c.NumParams()
	for i := range c.NumHiddenLayers {
		n += c.mlpParams(i, true) - c.mlpParams(i, false)
	}
	return n
}

var errMoETraining = errors.New("model: training mixture-of-experts models is not supported (inference only)")

// route picks each row's experts: softmax over the router's logits (in
// float32, as Transformers and llama.cpp compute it), the top k
// probabilities in descending order (the lower index first on ties),
// renormalised to sum to 1 where the architecture says so. It returns
// rows × k expert indices and their weights.
func (c *Config) route(logits []float32, rows int) (picks []int, weights []float32) {
	E, K := c.NumExperts, c.NumExpertsPerTok
	norm := c.normTopK()
	picks, weights = make([]int, rows*K), make([]float32, rows*K)
	probs := make([]float32, E)
	for r := range rows {
		copy(probs, logits[r*E:(r+1)*E])
		tensor.Softmax(probs)
		top := picks[r*K : (r+1)*K]
		for j := range top {
			best := -1
			for e, p := range probs {
				if (best < 0 || p > probs[best]) && !slices.Contains(top[:j], e) {
					best = e
				}
			}
			top[j] = best
		}
		var sum float32
		for _, e := range top {
			sum += probs[e]
		}
		for j, e := range top {
			w := probs[e]
			if norm {
				w /= sum
			}
			weights[r*K+j] = w
		}
	}
	return picks, weights
}

// moeMLP writes into out (rows × hidden) the mixture-of-experts MLP of
// layer l for the normalised rows h: each row's chosen experts, weighted
// and summed in the order they were chosen (as llama.cpp sums them;
// Transformers sums in expert order, which differs only in rounding),
// plus the shared expert gated by a sigmoid where there is one. Each
// expert runs once on all the rows routed to it.
func (m *Model) moeMLP(l *Layer, out, h []float32, rows int) {
	c := m.Config
	d, ff, K := c.HiddenSize, c.expertFF(), c.NumExpertsPerTok
	logits := make([]float32, rows*c.NumExperts)
	l.Router.apply(m.K, logits, h, rows, c.NumExperts, d)
	picks, weights := c.route(logits, rows)
	byExpert := make([][]int, c.NumExperts) // slots (row·K + j) served by each expert
	for slot, e := range picks {
		byExpert[e] = append(byExpert[e], slot)
	}
	ys := make([]float32, rows*K*d) // each slot's weighted expert output
	var xs, gate, up, y []float32
	run := func(ex *Expert, in []float32, n, ff int) []float32 {
		gate, up, y = grow(gate, n*ff), grow(up, n*ff), grow(y, n*d)
		ex.Gate.apply(m.K, gate, in, n, ff, d)
		ex.Up.apply(m.K, up, in, n, ff, d)
		tensor.SwiGLU(gate, gate, up)
		ex.Down.apply(m.K, y, gate, n, d, ff)
		return y
	}
	for e, slots := range byExpert {
		if len(slots) == 0 {
			continue
		}
		xs = grow(xs, len(slots)*d)
		for i, slot := range slots {
			r := slot / K
			copy(xs[i*d:(i+1)*d], h[r*d:(r+1)*d])
		}
		y := run(&l.Experts[e], xs, len(slots), ff)
		for i, slot := range slots {
			w, dst := weights[slot], ys[slot*d:(slot+1)*d]
			for j, v := range y[i*d : (i+1)*d] {
				dst[j] = w * v
			}
		}
	}
	for r := range rows {
		dst := out[r*d : (r+1)*d]
		copy(dst, ys[r*K*d:(r*K+1)*d])
		for j := 1; j < K; j++ {
			tensor.Add(dst, ys[(r*K+j)*d:(r*K+j+1)*d])
		}
	}
	if l.Shared != nil {
		g := make([]float32, rows)
		l.SharedGate.apply(m.K, g, h, rows, 1, d)
		y := run(l.Shared, h, rows, c.SharedExpertIntermediateSize)
		for r := range rows {
			w := float32(1 / (1 + math.Exp(-float64(g[r]))))
			dst := out[r*d : (r+1)*d]
			for j, v := range y[r*d : (r+1)*d] {
				dst[j] += w * v
			}
		}
	}
}

// grow returns b with length n, reallocated only when too small.
func grow(b []float32, n int) []float32 {
	if cap(b) < n {
		return make([]float32, n)
	}
	return b[:n]
}

// topKNormKey keeps norm_topk_prob in Dokja's GGUF files: llama.cpp fixes
// it per architecture (qwen3moe and Mixtral renormalise, qwen2moe does
// not) and reads no key.
const topKNormKey = "dokja.norm_topk_prob"

// ggufMoEMeta is the mixture-of-experts metadata SaveGGUF writes.
func (c *Config) ggufMoEMeta(arch string) []gguf.KV {
	if !c.IsMoE() {
		return nil
	}
	u := func(k string, v int) gguf.KV { return gguf.KV{Key: arch + "." + k, Value: uint32(v)} }
	meta := []gguf.KV{u("expert_count", c.NumExperts), u("expert_used_count", c.NumExpertsPerTok)}
	if c.arch().MoE == "qwen" {
		meta = append(meta, u("expert_feed_forward_length", c.MoEIntermediateSize))
		if c.SharedExpertIntermediateSize > 0 {
			meta = append(meta, u("expert_shared_feed_forward_length", c.SharedExpertIntermediateSize))
		}
		if c.normTopK() != (arch == "qwen3moe") {
			slog.Warn("gguf: llama.cpp fixes norm_topk_prob per architecture and will not follow this model's", "arch", arch, "norm_topk_prob", c.normTopK())
		}
		meta = append(meta, gguf.KV{Key: topKNormKey, Value: c.normTopK()})
	}
	return meta
}

// ggufMoE reads the mixture-of-experts settings of a GGUF file; which
// layers have experts is told by their router tensors.
func ggufMoE(f *gguf.File, arch string, c *Config) error {
	a := c.arch()
	if a.MoE == "" {
		return nil
	}
	get := func(key string, dst *int, required bool) error {
		v, err := f.Uint(arch + "." + key)
		if errors.Is(err, gguf.ErrNotFound) && !required {
			return nil
		}
		if err != nil {
			return err
		}
		if v > maxDim {
			return fmt.Errorf("%s: %s.%s = %d exceeds %d", f.Path, arch, key, v, maxDim)
		}
		*dst = int(v)
		return nil
	}
	for _, k := range []struct {
		key      string
		dst      *int
		required bool
	}{{"expert_count", &c.NumExperts, true}, {"expert_used_count", &c.NumExpertsPerTok, true},
		{"expert_feed_forward_length", &c.MoEIntermediateSize, a.MoE == "qwen"},
		{"expert_shared_feed_forward_length", &c.SharedExpertIntermediateSize, false}} {
		if err := get(k.key, k.dst, k.required); err != nil {
			return err
		}
	}
	if a.MoE == "mixtral" {
		c.NumLocalExperts = c.NumExperts
		return nil
	}
	norm := arch == "qwen3moe"
	if v, err := f.Bool(topKNormKey); err == nil {
		norm = v
	}
	c.NormTopKProb = &norm
	c.DecoderSparseStep = 1
	for i := range c.NumHiddenLayers {
		if _, ok := f.Tensor(fmt.Sprintf("blk.%d.ffn_gate_inp.weight", i)); !ok {
			c.MLPOnlyLayers = append(c.MLPOnlyLayers, i)
		}
	}
	return nil
}
