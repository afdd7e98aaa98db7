package model

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"

	"github.com/dokja/dokja/gguf"
	"github.com/dokja/dokja/quant"
	"github.com/dokja/dokja/tensor"
)

// RopeScaling is config.json's rope_scaling: how a model stretches its
// rotary embeddings past the context it was pretrained on. The types are
// Hugging Face's:
//
//   - "linear": every inverse frequency divided by Factor (positional
//     interpolation).
//   - "dynamic": dynamic NTK. Up to max_position_embeddings, plain RoPE;
//     beyond, position p uses the base θ·(Factor·(p+1)/max − (Factor−1))^(d/(d−2)).
//     Hugging Face rescales every position of a call with the call's
//     longest length, so its cached keys and a single pass disagree;
//     Dokja ties each position's frequencies to that position, so the KV
//     cache and one pass agree (and training sees what inference sees).
//   - "yarn": YaRN (Peng et al. 2023). Pairs that turn fewer than
//     BetaSlow times over the original context are interpolated (÷Factor),
//     pairs that turn more than BetaFast times are kept, the ones between
//     blend linearly; cos and sin are multiplied by the attention factor,
//     0.1·ln(Factor)+1 unless given.
//   - "llama3": Llama 3.1's rule. Wavelengths longer than
//     original/LowFreqFactor are divided by Factor, shorter than
//     original/HighFreqFactor kept, the ones between blend smoothly.
type RopeScaling struct {
	Type                          string  `json:"rope_type"`
	Factor                        float64 `json:"factor,omitempty"`
	OriginalMaxPositionEmbeddings int     `json:"original_max_position_embeddings,omitempty"`
	LowFreqFactor                 float64 `json:"low_freq_factor,omitempty"`
	HighFreqFactor                float64 `json:"high_freq_factor,omitempty"`
	BetaFast                      float64 `json:"beta_fast,omitempty"`
	BetaSlow                      float64 `json:"beta_slow,omitempty"`
	AttentionFactor               float64 `json:"attention_factor,omitempty"`
	Mscale                        float64 `json:"mscale,omitempty"`
	MscaleAllDim                  float64 `json:"mscale_all_dim,omitempty"`
	// Truncate (YaRN) rounds the blend's bounds to whole pairs; Hugging
	// Face's default is true.
	Truncate *bool `json:"truncate,omitempty"`
	// theta is rope_parameters' rope_theta (Transformers 5 moves it
	// there); ReadConfig copies it to Config.RopeTheta.
	theta float64
}

// ropeKeys lists the keys each type reads; any other key is refused, so
// that a setting Dokja would silently ignore cannot change a model's
// numbers unnoticed.
var ropeKeys = map[string][]string{
	"default": {},
	"linear":  {"factor"},
	"dynamic": {"factor", "original_max_position_embeddings"},
	"yarn":    {"factor", "original_max_position_embeddings", "beta_fast", "beta_slow", "attention_factor", "mscale", "mscale_all_dim", "truncate"},
	"llama3":  {"factor", "original_max_position_embeddings", "low_freq_factor", "high_freq_factor"},
}

// UnmarshalJSON reads rope_scaling (or rope_parameters), accepting the
// older "type" for "rope_type" and refusing keys its type does not use.
func (r *RopeScaling) UnmarshalJSON(data []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return fmt.Errorf("rope_scaling: %w", err)
	}
	typ := "default"
	for _, k := range []string{"type", "rope_type"} {
		if v, ok := raw[k]; ok {
			if err := json.Unmarshal(v, &typ); err != nil {
				return fmt.Errorf("rope_scaling: %s: %w", k, err)
			}
			delete(raw, k)
		}
	}
	if typ == "su" {
		typ = "longrope" // its old name
	}
	allowed, ok := ropeKeys[typ]
	if !ok {
		return fmt.Errorf("rope_scaling: rope_type %q is not supported (want one of default, linear, dynamic, yarn, llama3)", typ)
	}
	*r = RopeScaling{Type: typ}
	if v, ok := raw["rope_theta"]; ok {
		if err := json.Unmarshal(v, &r.theta); err != nil {
			return fmt.Errorf("rope_scaling: rope_theta: %w", err)
		}
		delete(raw, "rope_theta")
	}
	if v, ok := raw["partial_rotary_factor"]; ok {
		var f float64
		if err := json.Unmarshal(v, &f); err != nil || f != 1 {
			return fmt.Errorf("rope_scaling: partial_rotary_factor %s is not supported (partial RoPE)", v)
		}
		delete(raw, "partial_rotary_factor")
	}
	fields := map[string]any{
		"factor": &r.Factor, "original_max_position_embeddings": &r.OriginalMaxPositionEmbeddings,
		"low_freq_factor": &r.LowFreqFactor, "high_freq_factor": &r.HighFreqFactor,
		"beta_fast": &r.BetaFast, "beta_slow": &r.BetaSlow, "attention_factor": &r.AttentionFactor,
		"mscale": &r.Mscale, "mscale_all_dim": &r.MscaleAllDim, "truncate": &r.Truncate,
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Contains(allowed, k) {
			return fmt.Errorf("rope_scaling: key %q is not used by rope_type %q (Dokja refuses settings it would ignore)", k, typ)
		}
		if bytes.Equal(raw[k], []byte("null")) {
			continue
		}
		if err := json.Unmarshal(raw[k], fields[k]); err != nil {
			return fmt.Errorf("rope_scaling: %s: %w", k, err)
		}
	}
	return nil
}

// validate checks the settings against the model's sizes.
func (r *RopeScaling) validate(c *Config) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("config.json: rope_scaling (%s): %s", r.Type, fmt.Sprintf(format, args...))
	}
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	for _, f := range []struct {
		name string
		v    float64
	}{{"factor", r.Factor}, {"low_freq_factor", r.LowFreqFactor}, {"high_freq_factor", r.HighFreqFactor},
		{"beta_fast", r.BetaFast}, {"beta_slow", r.BetaSlow}, {"attention_factor", r.AttentionFactor},
		{"mscale", r.Mscale}, {"mscale_all_dim", r.MscaleAllDim}} {
		if !finite(f.v) || f.v < 0 {
			return bad("%s %g must be a finite number ≥ 0", f.name, f.v)
		}
	}
	if r.OriginalMaxPositionEmbeddings < 0 || r.OriginalMaxPositionEmbeddings > maxDim {
		return bad("original_max_position_embeddings %d is not in [0, %d]", r.OriginalMaxPositionEmbeddings, maxDim)
	}
	if r.Type != "default" && r.Factor <= 0 {
		return bad("factor is required and must be positive")
	}
	switch r.Type {
	case "dynamic":
		if c.MaxPositionEmbeddings <= 0 {
			return bad("needs max_position_embeddings")
		}
		if c.HeadDim <= 2 {
			return bad("head_dim %d is too small", c.HeadDim)
		}
	case "yarn":
		if r.original(c) <= 0 {
			return bad("needs original_max_position_embeddings or max_position_embeddings")
		}
		if fast, slow := r.betas(); fast <= slow {
			return bad("beta_fast %g must exceed beta_slow %g", fast, slow)
		}
	case "llama3":
		if r.OriginalMaxPositionEmbeddings <= 0 {
			return bad("original_max_position_embeddings is required")
		}
		if r.LowFreqFactor <= 0 || r.HighFreqFactor <= r.LowFreqFactor {
			return bad("want 0 < low_freq_factor (%g) < high_freq_factor (%g)", r.LowFreqFactor, r.HighFreqFactor)
		}
	}
	return nil
}

// original is the context the model was pretrained on (YaRN's L).
func (r *RopeScaling) original(c *Config) int {
	if r.OriginalMaxPositionEmbeddings > 0 {
		return r.OriginalMaxPositionEmbeddings
	}
	return c.MaxPositionEmbeddings
}

// betas are YaRN's rotation bounds, Hugging Face's defaults 32 and 1
// where unset.
func (r *RopeScaling) betas() (fast, slow float64) {
	fast, slow = r.BetaFast, r.BetaSlow
	if fast == 0 {
		fast = 32
	}
	if slow == 0 {
		slow = 1
	}
	return fast, slow
}

// yarnMscale is YaRN's attention temperature term for a scale factor.
func yarnMscale(scale, m float64) float64 {
	if scale <= 1 {
		return 1
	}
	return 0.1*m*math.Log(scale) + 1
}

// Rotary returns the model's rotary embedding: plain RoPE with base
// rope_theta, rescaled as rope_scaling says.
func (c *Config) Rotary() *tensor.Rotary {
	d := c.HeadDim
	rot := tensor.NewRotary(d, c.RopeTheta)
	r := c.RopeScaling
	if r == nil {
		return rot
	}
	inv := rot.InvFreq
	switch r.Type {
	case "linear":
		for i := range inv {
			inv[i] /= r.Factor
		}
	case "dynamic":
		maxPos, theta, factor := c.MaxPositionEmbeddings, c.RopeTheta, r.Factor
		rot.At = func(pos int, inv []float64) bool {
			n := pos + 1
			if n <= maxPos {
				return false
			}
			base := theta * math.Pow(factor*float64(n)/float64(maxPos)-(factor-1), float64(d)/float64(d-2))
			for i := range inv {
				inv[i] = math.Pow(base, -float64(2*i)/float64(d))
			}
			return true
		}
	case "yarn":
		fast, slow := r.betas()
		orig := float64(r.original(c))
		// The pair index at which a wavelength turns n times over orig.
		pairAt := func(n float64) float64 {
			return float64(d) * math.Log(orig/(n*2*math.Pi)) / (2 * math.Log(c.RopeTheta))
		}
		lo, hi := pairAt(fast), pairAt(slow)
		if r.Truncate == nil || *r.Truncate {
			lo, hi = math.Floor(lo), math.Ceil(hi)
		}
		lo, hi = max(lo, 0), min(hi, float64(d-1))
		if lo == hi {
			hi += 0.001
		}
		for i := range inv {
			// ramp is 0 for pairs kept as they are, 1 for interpolated ones.
			ramp := min(max((float64(i)-lo)/(hi-lo), 0), 1)
			inv[i] = inv[i]/r.Factor*ramp + inv[i]*(1-ramp)
		}
		switch {
		case r.AttentionFactor > 0:
			rot.Scale = r.AttentionFactor
		case r.Mscale > 0 && r.MscaleAllDim > 0:
			rot.Scale = yarnMscale(r.Factor, r.Mscale) / yarnMscale(r.Factor, r.MscaleAllDim)
		default:
			rot.Scale = yarnMscale(r.Factor, 1)
		}
	case "llama3":
		orig := float64(r.OriginalMaxPositionEmbeddings)
		longest, shortest := orig/r.LowFreqFactor, orig/r.HighFreqFactor
		for i, f := range inv {
			switch wave := 2 * math.Pi / f; {
			case wave > longest:
				inv[i] = f / r.Factor
			case wave >= shortest:
				s := (orig/wave - r.LowFreqFactor) / (r.HighFreqFactor - r.LowFreqFactor)
				inv[i] = (1-s)*f/r.Factor + s*f
			}
		}
	}
	return rot
}

// ropeScalingFromFactors recovers Llama 3.1's rope_scaling from the
// per-pair frequency divisors llama.cpp's converter stores as
// rope_freqs.weight. The largest divisor is factor. In the pairs that
// blend, 1/ff = (1−s)/factor + s with s = (original/wave − low)/(high −
// low): two such pairs give original/(high−low) and low/(high−low), and
// the scale the three share is fixed by low_freq_factor = 1, as in every
// Llama 3 release. With one blended pair high_freq_factor is taken as 4
// (also every release's); with none, any original between the kept and
// the divided wavelengths gives the same frequencies. The result is
// checked by recomputing every divisor.
func ropeScalingFromFactors(c *Config, ff []float32) (*RopeScaling, error) {
	if len(ff) != c.HeadDim/2 {
		return nil, fmt.Errorf("rope_freqs.weight has %d values, want head_dim/2 = %d", len(ff), c.HeadDim/2)
	}
	base := plainInvFreq(c)
	r := &RopeScaling{Type: "llama3", LowFreqFactor: 1, HighFreqFactor: 4}
	for _, f := range ff {
		if !(f >= 1) || math.IsInf(float64(f), 0) {
			return nil, fmt.Errorf("rope_freqs.weight: divisor %g is not ≥ 1 (only Llama 3.1's frequency rule is supported)", f)
		}
		r.Factor = max(r.Factor, float64(f))
	}
	if r.Factor == 1 {
		return nil, nil // nothing is rescaled
	}
	const eps = 1e-4
	var pts [][2]float64 // (1/wave, s) of the blended pairs
	kept, divided := 0.0, math.Inf(1)
	for i, f := range ff {
		wave := 2 * math.Pi / base[i]
		switch {
		case float64(f) <= 1+eps:
			kept = max(kept, wave)
		case float64(f) >= r.Factor*(1-eps):
			divided = min(divided, wave)
		default:
			pts = append(pts, [2]float64{1 / wave, (1/float64(f) - 1/r.Factor) / (1 - 1/r.Factor)})
		}
	}
	switch len(pts) {
	case 0:
		r.OriginalMaxPositionEmbeddings = int(math.Floor(divided))
		if float64(r.OriginalMaxPositionEmbeddings) <= 4*kept {
			return nil, errors.New("rope_freqs.weight does not follow Llama 3.1's frequency rule")
		}
	case 1:
		// s = (original/wave − 1)/3
		r.OriginalMaxPositionEmbeddings = int(math.Round((1 + 3*pts[0][1]) / pts[0][0]))
	default:
		p, q := pts[0], pts[len(pts)-1]
		a := (p[1] - q[1]) / (p[0] - q[0]) // original/(high−low)
		b := a*p[0] - p[1]                 // low/(high−low)
		if !(a > 0 && b > 0) {
			return nil, errors.New("rope_freqs.weight does not follow Llama 3.1's frequency rule")
		}
		r.HighFreqFactor = 1 + 1/b
		r.OriginalMaxPositionEmbeddings = int(math.Round(a / b))
		// Published values are round; snap the recovered high_freq_factor.
		if h := math.Round(r.HighFreqFactor*1000) / 1000; math.Abs(h-r.HighFreqFactor) < 1e-3 {
			r.HighFreqFactor = h
		}
	}
	cc := *c
	cc.RopeScaling = r
	if err := r.validate(&cc); err != nil {
		return nil, fmt.Errorf("rope_freqs.weight: %w", err)
	}
	got := cc.Rotary().InvFreq
	for i, f := range ff {
		if want := base[i] / float64(f); math.Abs(got[i]-want) > 1e-5*want {
			return nil, fmt.Errorf("rope_freqs.weight: pair %d's divisor %g does not follow Llama 3.1's frequency rule (recovered %s)", i, f, r)
		}
	}
	return r, nil
}

// String shows the settings as config.json would.
func (r *RopeScaling) String() string {
	b, _ := json.Marshal(r)
	return strings.TrimSpace(string(b))
}

// ropeKey is where Dokja keeps rope_scaling in GGUF files, as config.json
// spells it: llama.cpp's keys and rope_freqs cannot say everything
// (dynamic NTK, YaRN's truncate, Llama 3.1's three parameters apart), so
// Dokja's own files round-trip exactly; llama.cpp ignores the key.
const ropeKey = "dokja.rope_scaling"

// ggufRopeScaling reads the rope scaling of a GGUF file: Dokja's own key
// where present, else llama.cpp's rope.scaling.* keys and rope_freqs
// tensor (Llama 3.1's rule, recovered from its divisors).
func ggufRopeScaling(f *gguf.File, arch string, c *Config) (*RopeScaling, error) {
	if s, err := f.String(ropeKey); err == nil {
		r := new(RopeScaling)
		if err := json.Unmarshal([]byte(s), r); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", f.Path, ropeKey, err)
		}
		if r.Type == "default" {
			return nil, nil
		}
		return r, nil
	}
	typ, err := f.String(arch + ".rope.scaling.type")
	if err != nil && !errors.Is(err, gguf.ErrNotFound) {
		return nil, err
	}
	factor := 0.0
	for _, k := range []string{".rope.scaling.factor", ".rope.scale_linear"} {
		if v, err := f.Float(arch + k); err == nil {
			factor = v
			break
		}
	}
	var freqs []float32
	if _, ok := f.Tensor("rope_freqs.weight"); ok {
		if freqs, err = f.Float32("rope_freqs.weight"); err != nil {
			return nil, err
		}
	}
	// Without a type llama.cpp reads the factor as linear.
	if typ == "" && factor != 0 && factor != 1 {
		typ = "linear"
	}
	switch typ {
	case "", "none":
		if freqs == nil {
			return nil, nil
		}
		r, err := ropeScalingFromFactors(c, freqs)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Path, err)
		}
		return r, nil
	case "linear", "yarn":
		if freqs != nil {
			return nil, fmt.Errorf("%s: rope_freqs.weight together with %s.rope.scaling.type %q is not supported", f.Path, arch, typ)
		}
		if !(factor > 0) {
			return nil, fmt.Errorf("%s: %s.rope.scaling.type %q without a positive %s.rope.scaling.factor", f.Path, arch, typ, arch)
		}
		r := &RopeScaling{Type: typ, Factor: factor}
		if typ == "yarn" {
			if v, err := f.Uint(arch + ".rope.scaling.original_context_length"); err == nil {
				if v > maxDim {
					return nil, fmt.Errorf("%s: %s.rope.scaling.original_context_length %d exceeds %d", f.Path, arch, v, maxDim)
				}
				r.OriginalMaxPositionEmbeddings = int(v)
			}
			// llama.cpp multiplies its attn_factor by YaRN's own
			// 0.1·ln(factor)+1.
			if v, err := f.Float(arch + ".rope.scaling.attn_factor"); err == nil && v != 1 {
				r.AttentionFactor = v * yarnMscale(factor, 1)
			}
			if v, err := f.Float(arch + ".rope.scaling.yarn_beta_fast"); err == nil {
				r.BetaFast = v
			}
			if v, err := f.Float(arch + ".rope.scaling.yarn_beta_slow"); err == nil {
				r.BetaSlow = v
			}
		}
		return r, nil
	}
	return nil, fmt.Errorf("%s: %s.rope.scaling.type %q is not supported (want none, linear or yarn, or Llama 3.1's rope_freqs)", f.Path, arch, typ)
}

// ggufRopeMeta is the rope scaling metadata and tensors SaveGGUF writes:
// llama.cpp's spelling where it has one, and Dokja's key always.
func (c *Config) ggufRopeMeta(arch string) ([]gguf.KV, []gguf.Tensor, error) {
	r := c.RopeScaling
	if r == nil {
		return nil, nil, nil
	}
	raw, err := json.Marshal(r)
	if err != nil {
		return nil, nil, err
	}
	meta := []gguf.KV{{Key: ropeKey, Value: string(raw)}}
	f32 := func(k string, v float64) gguf.KV { return gguf.KV{Key: arch + ".rope.scaling." + k, Value: float32(v)} }
	switch r.Type {
	case "linear":
		meta = append(meta, gguf.KV{Key: arch + ".rope.scaling.type", Value: "linear"}, f32("factor", r.Factor))
	case "yarn":
		meta = append(meta, gguf.KV{Key: arch + ".rope.scaling.type", Value: "yarn"}, f32("factor", r.Factor),
			gguf.KV{Key: arch + ".rope.scaling.original_context_length", Value: uint32(r.original(c))})
		if s := c.Rotary().Scale; math.Abs(s-yarnMscale(r.Factor, 1)) > 1e-12 {
			meta = append(meta, f32("attn_factor", s/yarnMscale(r.Factor, 1)))
		}
		if fast, slow := r.betas(); fast != 32 || slow != 1 {
			// llama.cpp reads these for a few architectures only and
			// otherwise uses 32 and 1.
			slog.Warn("gguf: YaRN's beta_fast and beta_slow are written but llama.cpp ignores them for this architecture", "arch", arch, "beta_fast", fast, "beta_slow", slow)
			meta = append(meta, f32("yarn_beta_fast", fast), f32("yarn_beta_slow", slow))
		}
		if r.Truncate != nil && !*r.Truncate {
			slog.Warn("gguf: YaRN with truncate: false is kept in dokja.rope_scaling; llama.cpp always truncates", "arch", arch)
		}
	case "llama3":
		base := plainInvFreq(c)
		half := c.HeadDim / 2
		tensors := []gguf.Tensor{{Name: "rope_freqs.weight", Dims: []int{half}, Type: quant.F32, Encode: func() ([]byte, error) {
			scaled := c.Rotary().InvFreq
			ff := make([]float32, half)
			for i := range ff {
				ff[i] = float32(base[i] / scaled[i])
			}
			return quant.Quantize(quant.F32, nil, ff)
		}}}
		return meta, tensors, nil
	case "dynamic":
		slog.Warn("gguf: llama.cpp has no dynamic NTK RoPE: it will run plain RoPE, the same up to max_position_embeddings; Dokja reads dokja.rope_scaling", "arch", arch)
	}
	return meta, nil, nil
}

// plainInvFreq is plain RoPE's inverse frequencies for c's head size
// and base, before any scaling.
func plainInvFreq(c *Config) []float64 {
	return tensor.NewRotary(c.HeadDim, c.RopeTheta).InvFreq
}
