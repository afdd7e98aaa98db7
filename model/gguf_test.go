package model

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/dokja/dokja/gguf"
	"github.com/dokja/dokja/quant"
	"github.com/dokja/dokja/tokenizer"
)

func maxLogitDiff(t *testing.T, a, b *Model, prompt []int) float64 {
	t.Helper()
	la, err := a.Forward(prompt)
	if err != nil {
		t.Fatal(err)
	}
	lb, err := b.Forward(prompt)
	if err != nil {
		t.Fatal(err)
	}
	var worst float64
	for i := range la {
		for v := range la[i] {
			worst = max(worst, math.Abs(float64(la[i][v]-lb[i][v])))
		}
	}
	return worst
}

// TestGGUFRoundTrip exports each reference checkpoint and loads it back:
// F32 gives the same weights (so the same logits, to 1e-6) and must have
// undone llama's q/k row permutation exactly; quantized files stay within
// a measured tolerance of the float32 logits.
//
// The tolerances: the tiny checkpoints' logits are at most 0.69 in size,
// and their q/k weights were drawn wide on purpose (so that RoPE bugs move
// the logits), which also amplifies weight rounding through the attention
// softmax. F16 weights carry 2⁻¹¹ relative error; Q8_0 about 0.9% RMS
// (TestRoundTripError in quant), Q4_0 about 14%; Q4_K falls back to Q8_0
// here, since no row is a multiple of 256. Measured worst differences over
// the three checkpoints: F16 2.4e-4, Q8_0 6.4e-3, Q4_0 7.6e-2 (11% of the
// largest logit, the size of Q4_0's weight error). The bounds leave 2.5x.
func TestGGUFRoundTrip(t *testing.T) {
	prompt := []int{65, 32, 16, 0, 1, 7, 43, 96, 4, 50, 5}
	tol := map[string]float64{"f32": 1e-6, "f16": 6e-4, "q8_0": 1.6e-2, "q4_0": 0.19, "q4_k": 1.6e-2}
	for _, name := range allPresets {
		m, err := Load(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		prompt := prompt
		if m.Config.IsMoE() {
			// Rounding the weights may flip an expert choice that hangs
			// on a small margin; the reference's prompts have none below
			// 8.8e-4 (golden.json min_router_margin).
			prompt = readGolden(t, filepath.Join("testdata", name, "golden.json")).Prompts[2]
		}
		for _, typ := range GGUFTypes {
			path := filepath.Join(t.TempDir(), name+"-"+typ+".gguf")
			if err := m.SaveGGUF(path, nil, typ); err != nil {
				t.Fatal(err)
			}
			g, tok, err := LoadGGUF(path)
			if err != nil {
				t.Fatal(err)
			}
			if tok != nil {
				t.Errorf("%s: a tokenizer from a file without one", name)
			}
			c, gc := m.Config, g.Config
			if c.Architectures[0] != gc.Architectures[0] || c.VocabSize != gc.VocabSize || c.HeadDim != gc.HeadDim ||
				c.NumKeyValueHeads != gc.NumKeyValueHeads || c.TieWordEmbeddings != gc.TieWordEmbeddings ||
				c.QKVBias() != gc.QKVBias() || c.OBias() != gc.OBias() || c.RopeTheta != gc.RopeTheta ||
				float32(c.RMSNormEps) != float32(gc.RMSNormEps) || c.MaxPositionEmbeddings != gc.MaxPositionEmbeddings ||
				!reflect.DeepEqual(c.RopeScaling, gc.RopeScaling) {
				t.Errorf("%s/%s: config %+v, want %+v", name, typ, gc, c)
			}
			if typ == "f32" {
				for i, p := range m.Params() {
					q := g.Params()[i]
					for j := range p.Data {
						if p.Data[j] != q.Data[j] {
							t.Fatalf("%s: %s[%d] = %g, want %g", name, p.Name, j, q.Data[j], p.Data[j])
						}
					}
				}
			}
			d := maxLogitDiff(t, m, g, prompt)
			t.Logf("%s %s: max logit difference %.3g", name, typ, d)
			// RMSNorm epsilon is stored as float32: exact for these files'
			// 1e-5/1e-6 to well below 1e-6 in the logits.
			limit := tol[typ]
			if name == "tiny-gemma3" {
				// Gemma renormalises every sublayer's output (and scales
				// embeddings by √hidden), so the rounding of these small
				// random weights reaches the residual stream at full size:
				// measured f16 1.15e-3, Q8_0 2.1e-2, Q4_0 0.40 (of logits up
				// to 0.66); the bounds leave 1.5x over that.
				limit *= 3
			}
			if d > limit {
				t.Errorf("%s %s: max logit difference %.3g > %.3g", name, typ, d, limit)
			}
		}
	}
}

// A GGUF file written by llama.cpp's converter has no dokja.rope_scaling:
// rope_scaling comes from rope.scaling.* and, for Llama 3.1, from the
// divisors in rope_freqs.weight, and must give the same model.
func TestGGUFRopeScalingFromLlamaCppKeys(t *testing.T) {
	for _, tc := range []struct {
		name string
		keys []string // llama.cpp's keys the file must hold
	}{
		{"tiny-llama31", nil},
		{"tiny-qwen25-yarn", []string{"qwen2.rope.scaling.type", "qwen2.rope.scaling.factor", "qwen2.rope.scaling.original_context_length"}},
		{"tiny-llama-linear", []string{"llama.rope.scaling.type", "llama.rope.scaling.factor"}},
	} {
		m, err := Load(filepath.Join("testdata", tc.name))
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "m.gguf")
		if err := m.SaveGGUF(path, nil, "f32"); err != nil {
			t.Fatal(err)
		}
		f, err := gguf.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		meta, ts, err := gguf.FromFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var kept []gguf.KV
		for _, kv := range meta {
			if kv.Key != ropeKey {
				kept = append(kept, kv)
			}
		}
		for _, k := range tc.keys {
			if _, ok := f.Get(k); !ok {
				t.Errorf("%s: no %s", tc.name, k)
			}
		}
		if _, ok := f.Tensor("rope_freqs.weight"); ok != (m.Config.RopeScaling.Type == "llama3") {
			t.Errorf("%s: rope_freqs.weight present: %v", tc.name, ok)
		}
		stripped := filepath.Join(t.TempDir(), "llamacpp.gguf")
		if err := gguf.Write(stripped, kept, ts); err != nil {
			t.Fatal(err)
		}
		f.Close()
		g, _, err := LoadGGUF(stripped)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(g.Config.RopeScaling, m.Config.RopeScaling) {
			t.Errorf("%s: rope_scaling %v from llama.cpp's keys, want %v", tc.name, g.Config.RopeScaling, m.Config.RopeScaling)
		}
		if d := maxLogitDiff(t, m, g, []int{5, 1, 7, 3, 9, 11, 2, 40, 8, 6, 4, 30}); d > 1e-6 {
			t.Errorf("%s: logits differ by %.3g", tc.name, d)
		}
	}
}

// TestGGUFLayout checks what llama.cpp relies on: names, dims, types and
// the q/k row permutation of the llama architecture.
func TestGGUFLayout(t *testing.T) {
	m, err := Load("testdata/tiny-llama")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "m.gguf")
	if err := m.SaveGGUF(path, nil, "q8_0"); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := map[string]struct {
		dims []int
		typ  quant.Type
	}{
		"token_embd.weight":        {[]int{64, 97}, quant.Q8_0},
		"output.weight":            {[]int{64, 97}, quant.Q8_0},
		"output_norm.weight":       {[]int{64}, quant.F32},
		"blk.1.attn_q.weight":      {[]int{64, 64}, quant.Q8_0},
		"blk.1.attn_k.weight":      {[]int{64, 32}, quant.Q8_0},
		"blk.0.ffn_down.weight":    {[]int{176, 64}, quant.F16}, // 176 is not a multiple of 32
		"blk.0.ffn_gate.weight":    {[]int{64, 176}, quant.Q8_0},
		"blk.0.attn_norm.weight":   {[]int{64}, quant.F32},
		"blk.0.ffn_norm.weight":    {[]int{64}, quant.F32},
		"blk.0.attn_output.weight": {[]int{64, 64}, quant.Q8_0},
	}
	for name, w := range want {
		info, ok := f.Tensor(name)
		if !ok {
			t.Errorf("%s missing", name)
			continue
		}
		if !equalInts(info.Dims, w.dims) || info.Type != w.typ {
			t.Errorf("%s: dims %v type %s, want %v %s", name, info.Dims, info.Type, w.dims, w.typ)
		}
	}
	if len(f.Tensors) != len(m.Params()) {
		t.Errorf("%d tensors, want %d", len(f.Tensors), len(m.Params()))
	}
	for key, want := range map[string]uint64{"llama.block_count": 2, "llama.attention.head_count": 4, "llama.attention.head_count_kv": 2, "llama.embedding_length": 64, "llama.feed_forward_length": 176, "general.file_type": 7} {
		if v, err := f.Uint(key); err != nil || v != want {
			t.Errorf("%s = %d (%v), want %d", key, v, err, want)
		}
	}
	// The permutation: ggml row 2i+half of head h is HF row half·8+i.
	f32 := filepath.Join(t.TempDir(), "f32.gguf")
	if err := m.SaveGGUF(f32, nil, "f32"); err != nil {
		t.Fatal(err)
	}
	g, err := gguf.Open(f32)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	k, _ := g.Float32("blk.0.attn_k.weight")
	hd, d := 16, 64
	for h := range 2 {
		for i := range hd / 2 {
			for half := range 2 {
				gRow, hfRow := h*hd+2*i+half, h*hd+half*hd/2+i
				if k[gRow*d+3] != m.Layers[0].K.W[hfRow*d+3] {
					t.Fatalf("k row %d of the file is not HF row %d", gRow, hfRow)
				}
			}
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestGGUFTokenizer stores a trained tokenizer with a model and reads it
// back both ways: from tokenizer.huggingface.json, and from the
// tokenizer.ggml.* arrays alone (what llama.cpp reads), which must encode
// text to the same ids.
func TestGGUFTokenizer(t *testing.T) {
	tok := testTokenizer(t)
	c := &Config{Architectures: []string{"Qwen2ForCausalLM"}, ModelType: "qwen2", VocabSize: tok.VocabSize() + 5,
		HiddenSize: 32, IntermediateSize: 64, NumHiddenLayers: 1, NumAttentionHeads: 2, NumKeyValueHeads: 1,
		HeadDim: 16, HiddenAct: "silu", MaxPositionEmbeddings: 64, RMSNormEps: 1e-6, RopeTheta: 1e6,
		TieWordEmbeddings: true, BOSTokenID: float64(tok.VocabSize() - 1), EOSTokenID: float64(tok.VocabSize() - 1)}
	m, err := NewRandom(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "m.gguf")
	if err := m.SaveGGUF(path, tok, "q4_k"); err != nil {
		t.Fatal(err)
	}
	_, got, err := LoadGGUF(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if pre, _ := f.String("tokenizer.ggml.pre"); pre != "qwen2" {
		t.Errorf("tokenizer.ggml.pre = %q", pre)
	}
	if toks, _ := f.Strings("tokenizer.ggml.tokens"); len(toks) != c.VocabSize || toks[c.VocabSize-1] != "[PAD"+strconv.Itoa(c.VocabSize-1)+"]" || toks[32] != "A" {
		t.Errorf("tokens: %d, last %q", len(toks), toks[len(toks)-1])
	}
	// Drop the JSON copy and read the ggml arrays alone.
	meta, ts, err := gguf.FromFile(f)
	if err != nil {
		t.Fatal(err)
	}
	var kept []gguf.KV
	for _, kv := range meta {
		if kv.Key != hfJSONKey {
			kept = append(kept, kv)
		}
	}
	path2 := filepath.Join(t.TempDir(), "ggml-only.gguf")
	if err := gguf.Write(path2, kept, ts); err != nil {
		t.Fatal(err)
	}
	_, fromGGML, err := LoadGGUF(path2)
	if err != nil {
		t.Fatal(err)
	}
	text := "안녕하세요 Dokja! 123 tokens<|endoftext|>\n\n  spaces"
	want, _ := tok.Encode(text)
	for name, tk := range map[string]*tokenizer.Tokenizer{"json": got, "ggml": fromGGML} {
		ids, err := tk.Encode(text)
		if err != nil {
			t.Fatal(err)
		}
		if !equalInts(ids, want) {
			t.Errorf("%s: ids %v, want %v", name, ids, want)
		}
	}
}

func testTokenizer(t *testing.T) *tokenizer.Tokenizer {
	t.Helper()
	texts := []string{"안녕하세요 세계", "hello world tokens", "Dokja tokens and more tokens 123", "안녕 안녕 세계"}
	seq := func(yield func(string, error) bool) {
		for range 20 {
			for _, s := range texts {
				if !yield(s, nil) {
					return
				}
			}
		}
	}
	wc, err := tokenizer.CountWords(t.Context(), seq, tokenizer.CountOptions{Pattern: tokenizer.PatternQwen2})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Train(t.Context(), wc, tokenizer.TrainOptions{VocabSize: 300, Special: []string{"<|endoftext|>"}})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestLoadGGUFErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(meta []gguf.KV, ts []gguf.Tensor) string {
		p := filepath.Join(dir, "x.gguf")
		if err := gguf.Write(p, meta, ts); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for name, c := range map[string]struct {
		meta []gguf.KV
		want string
	}{
		"arch":    {[]gguf.KV{{Key: "general.architecture", Value: "gemma"}}, `"gemma" is not supported`},
		"no arch": {nil, "general.architecture"},
		"no dims": {[]gguf.KV{{Key: "general.architecture", Value: "llama"}}, "llama.embedding_length"},
	} {
		_, _, err := LoadGGUF(write(c.meta, nil))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", name, err, c.want)
		}
	}
	// A tensor of the wrong shape is named.
	m, _ := Load("testdata/tiny-qwen2")
	p := filepath.Join(dir, "q.gguf")
	if err := m.SaveGGUF(p, nil, "f32"); err != nil {
		t.Fatal(err)
	}
	f, _ := gguf.Open(p)
	meta, ts, _ := gguf.FromFile(f)
	for i := range ts {
		if ts[i].Name == "blk.1.ffn_up.weight" {
			ts[i].Dims = []int{48, 64}
			ts[i].Data = ts[i].Data[:48*64*4]
		}
	}
	_, _, err := LoadGGUF(write(meta, ts))
	f.Close()
	if err == nil || !strings.Contains(err.Error(), `tensor "blk.1.ffn_up.weight" has dims [48 64], the metadata implies [48 128]`) {
		t.Errorf("wrong dims: %v", err)
	}
}

// Kept in blocks, a quantized file decodes like its dequantized float32
// copy, up to the 8-bit activations, and refuses training and saving.
func TestKeepQuantized(t *testing.T) {
	m := loadPreset(t, "tiny-llama")
	path := filepath.Join(t.TempDir(), "q8.gguf")
	if err := m.SaveGGUF(path, nil, "q8_0"); err != nil {
		t.Fatal(err)
	}
	plain, _, err := LoadGGUF(path)
	if err != nil {
		t.Fatal(err)
	}
	kept, _, err := LoadGGUFWith(path, GGUFOptions{KeepQuantized: true})
	if err != nil {
		t.Fatal(err)
	}
	if kept.Layers[1].Q.Q == nil || kept.Head.Q == nil || kept.Layers[1].Q.W != nil {
		t.Fatal("matrices were not kept in blocks")
	}
	if kept.NumParams() != plain.NumParams() {
		t.Errorf("%d parameters kept, %d dequantized", kept.NumParams(), plain.NumParams())
	}
	prompt := []int{3, 14, 15, 92, 65, 35}
	want, _ := plain.Forward(prompt)
	got, err := kept.Forward(prompt)
	if err != nil {
		t.Fatal(err)
	}
	var worst float64
	for i := range want {
		for v := range want[i] {
			worst = max(worst, math.Abs(float64(got[i][v]-want[i][v])))
		}
	}
	t.Logf("kept blocks vs dequantized: max logit difference %.3g", worst)
	if worst == 0 || worst > 0.05 {
		t.Errorf("kept blocks vs dequantized: max logit difference %g (want small but not zero: activations are quantized)", worst)
	}
	if _, err := kept.LossAndGrad(&Batch{Inputs: prompt[:5], Targets: prompt[1:], Seqs: 1}, plain.NewGrads(), 1); !errors.Is(err, errQuantized) {
		t.Errorf("training a quantized model: %v", err)
	}
	if err := kept.Save(t.TempDir(), "F32"); !errors.Is(err, errQuantized) {
		t.Errorf("saving a quantized model: %v", err)
	}
}

// FuzzGGUFConfig: a GGUF file's metadata (architecture, RoPE scaling and
// rope_freqs, sliding windows, experts, Gemma's keys) gives a validated
// configuration or an error, never a panic; what is accepted builds its
// rotary tables and layer plans.
func FuzzGGUFConfig(f *testing.F) {
	dir := f.TempDir()
	for _, name := range []string{"tiny-llama31", "tiny-qwen25-yarn", "tiny-exaone4", "tiny-gemma3", "tiny-qwen2-moe", "tiny-mixtral"} {
		c, err := LoadConfig(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		// Small files, so that the fuzzer spends its time on metadata.
		c.VocabSize, c.HiddenSize, c.IntermediateSize, c.NumAttentionHeads, c.NumKeyValueHeads, c.HeadDim = 16, 16, 16, 2, 1, 8
		if c.MoEIntermediateSize > 0 {
			c.MoEIntermediateSize = 8
		}
		if c.SharedExpertIntermediateSize > 0 {
			c.SharedExpertIntermediateSize = 8
		}
		if c.QueryPreAttnScalar > 0 {
			c.QueryPreAttnScalar = 8
		}
		m, err := NewRandom(c, 1)
		if err != nil {
			f.Fatal(err)
		}
		p := filepath.Join(dir, name+".gguf")
		if err := m.SaveGGUF(p, nil, "f32"); err != nil {
			f.Fatal(err)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := gguf.Parse("fuzz.gguf", data)
		if err != nil {
			return
		}
		c, err := ggufConfig(g)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted a config that does not validate: %v", err)
		}
		if _, err := c.layerPlans(); err != nil {
			t.Fatal(err)
		}
		if r := c.Rotary(); len(r.InvFreq) != c.HeadDim/2 {
			t.Fatalf("rotary of %d pairs for head_dim %d", len(r.InvFreq), c.HeadDim)
		}
		if n := c.NumParams(); !(n > 0) || math.IsInf(n, 0) {
			t.Fatalf("NumParams %g", n)
		}
	})
}
