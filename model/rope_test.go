package model

import (
	"reflect"
	"strings"
	"testing"
)

// Llama 3.1's parameters come back from the divisors llama.cpp's
// converter stores, for the published configurations' head sizes and
// bases (Llama 3.2 1B, Llama 3.1 8B, EXAONE 4.0 1.2B and 32B).
func TestRopeScalingFromFactors(t *testing.T) {
	for _, tc := range []struct {
		name          string
		headDim       int
		theta, factor float64
		orig          int
	}{
		{"Llama-3.2-1B", 64, 500000, 32, 8192},
		{"Llama-3.1-8B", 128, 500000, 8, 8192},
		{"EXAONE-4.0-1.2B", 64, 1e6, 16, 8192},
		{"EXAONE-4.0-32B", 128, 1e6, 16, 8192},
	} {
		c := &Config{HeadDim: tc.headDim, RopeTheta: tc.theta, MaxPositionEmbeddings: 131072}
		want := &RopeScaling{Type: "llama3", Factor: tc.factor, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositionEmbeddings: tc.orig}
		c.RopeScaling = want
		scaled := c.Rotary().InvFreq
		base := plainInvFreq(c)
		ff := make([]float32, len(base))
		for i := range ff {
			ff[i] = float32(base[i] / scaled[i])
		}
		c.RopeScaling = nil
		got, err := ropeScalingFromFactors(c, ff)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: recovered %v, want %v", tc.name, got, want)
		}
	}
	c := &Config{HeadDim: 8, RopeTheta: 10000}
	for _, bad := range [][]float32{{1, 2, 3}, {0.5, 1, 1, 1}, {1, 3, 1, 3}} {
		if _, err := ropeScalingFromFactors(c, bad); err == nil {
			t.Errorf("divisors %v: no error", bad)
		}
	}
	if r, err := ropeScalingFromFactors(c, []float32{1, 1, 1, 1}); r != nil || err != nil {
		t.Errorf("all ones: %v, %v", r, err)
	}
}

func TestReadRopeScaling(t *testing.T) {
	const head = `{"architectures": ["LlamaForCausalLM"], "vocab_size": 10, "hidden_size": 16, "intermediate_size": 32,
		"num_hidden_layers": 1, "num_attention_heads": 2, "max_position_embeddings": 64`
	for _, tc := range []struct {
		name, json string
		want       *RopeScaling
		theta      float64
		err        string
	}{
		{"none", head + `, "rope_scaling": null}`, nil, 10000, ""},
		{"default", head + `, "rope_scaling": {"rope_type": "default"}}`, nil, 10000, ""},
		{"old type key", head + `, "rope_scaling": {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32}}`,
			&RopeScaling{Type: "yarn", Factor: 4, OriginalMaxPositionEmbeddings: 32}, 10000, ""},
		{"llama3", head + `, "rope_theta": 500000.0, "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0, "original_max_position_embeddings": 16, "rope_type": "llama3"}}`,
			&RopeScaling{Type: "llama3", Factor: 32, HighFreqFactor: 4, LowFreqFactor: 1, OriginalMaxPositionEmbeddings: 16}, 500000, ""},
		{"transformers 5", head + `, "rope_parameters": {"rope_type": "linear", "factor": 2.0, "rope_theta": 1000000.0}}`,
			&RopeScaling{Type: "linear", Factor: 2}, 1e6, ""},
		{"transformers 5 default", head + `, "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0}}`, nil, 1e6, ""},
		{"unknown type", head + `, "rope_scaling": {"rope_type": "longrope", "short_factor": [1], "long_factor": [1]}}`, nil, 0, `"longrope" is not supported`},
		{"su is longrope", head + `, "rope_scaling": {"type": "su"}}`, nil, 0, `"longrope" is not supported`},
		{"unused key", head + `, "rope_scaling": {"rope_type": "linear", "factor": 2.0, "beta_fast": 3}}`, nil, 0, `key "beta_fast" is not used`},
		{"no factor", head + `, "rope_scaling": {"rope_type": "linear"}}`, nil, 0, "factor is required"},
		{"negative", head + `, "rope_scaling": {"rope_type": "yarn", "factor": -2}}`, nil, 0, "factor -2"},
		{"llama3 incomplete", head + `, "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0}}`, nil, 0, "original_max_position_embeddings is required"},
		{"llama3 low >= high", head + `, "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 4.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 16}}`, nil, 0, "low_freq_factor"},
		{"yarn betas", head + `, "rope_scaling": {"rope_type": "yarn", "factor": 4.0, "beta_fast": 1, "beta_slow": 2}}`, nil, 0, "beta_fast"},
		{"partial", head + `, "rope_parameters": {"rope_type": "default", "partial_rotary_factor": 0.5}}`, nil, 0, "partial"},
		{"bad theta", head + `, "rope_theta": 1.0}`, nil, 0, "rope_theta"},
	} {
		c, err := ReadConfig(strings.NewReader(tc.json))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !reflect.DeepEqual(c.RopeScaling, tc.want) || c.RopeTheta != tc.theta {
			t.Errorf("%s: rope_scaling %v theta %g, want %v %g", tc.name, c.RopeScaling, c.RopeTheta, tc.want, tc.theta)
		}
	}
}
