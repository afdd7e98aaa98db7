package train

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dokja/dokja/encoder"
	"github.com/dokja/dokja/model"
	"github.com/dokja/dokja/shards"
	"github.com/dokja/dokja/tokenizer"
)

// writeEncoderData writes shards of Korean and English sentences with
// their tokenizer.json (which has no mask token) and a tiny ModernBERT
// config.json whose vocabulary has room for the mask token.
func writeEncoderData(t *testing.T) (dataDir, configPath string, tok *tokenizer.Tokenizer) {
	t.Helper()
	text := strings.Repeat("고양이가 매트 위에 앉았다\n모델이 데이터를 읽는다\nthe cat sat on the mat\nthe model reads the data\n", 10)
	tok = trainTokenizer(t, text, 300, []string{"<|endoftext|>"})
	sep, _ := tok.TokenID("<|endoftext|>")
	dataDir = t.TempDir()
	lines := strings.Split(strings.TrimSpace(text), "\n")
	manifest := &shards.Manifest{Version: shards.ManifestVersion, Tokenizer: "tokenizer.json", Vocab: tok.VocabSize(), Separator: sep, SeparatorToken: "<|endoftext|>", Splits: map[string]shards.SplitInfo{}}
	for _, split := range []string{"train", "val"} {
		w, err := shards.Create(filepath.Join(dataDir, split+"-00000.tok"), tok.VocabSize(), sep)
		if err != nil {
			t.Fatal(err)
		}
		var tokens, docs int64
		n := map[string]int{"train": 40, "val": 8}[split]
		for i := range n {
			ids, err := tok.Encode(lines[i%len(lines)] + " " + lines[(i*7+3)%len(lines)])
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Append(ids); err != nil {
				t.Fatal(err)
			}
			tokens += int64(len(ids)) + 1
			docs++
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		manifest.Splits[split] = shards.SplitInfo{Tokens: tokens, Documents: docs, Files: []string{split + "-00000.tok"}}
	}
	if err := shards.WriteManifest(dataDir, manifest); err != nil {
		t.Fatal(err)
	}
	if err := tok.SaveJSON(filepath.Join(dataDir, "tokenizer.json")); err != nil {
		t.Fatal(err)
	}
	// answerdotai/ModernBERT-base's keys, shrunk.
	c := map[string]any{
		"architectures": []string{"ModernBertForMaskedLM"}, "model_type": "modernbert", "vocab_size": tok.VocabSize() + 4,
		"hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4,
		"max_position_embeddings": 64, "norm_eps": 1e-5, "norm_bias": false, "attention_bias": false, "mlp_bias": false,
		"hidden_activation": "gelu", "classifier_activation": "gelu", "classifier_bias": false, "decoder_bias": true,
		"local_attention": 8, "global_attn_every_n_layers": 2, "global_rope_theta": 160000.0, "local_rope_theta": 10000.0,
		"initializer_range": 0.02, "initializer_cutoff_factor": 2.0, "tie_word_embeddings": true,
	}
	data, _ := json.Marshal(c)
	configPath = filepath.Join(dataDir, "modernbert.json")
	if err := os.WriteFile(configPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dataDir, configPath, tok
}

// A ModernBERT trains on masked tokens with the decoders' trainer: the
// loss falls, a stopped and resumed run logs exactly the losses of an
// uninterrupted one, and the final folder loads as an encoder whose
// tokenizer has the added mask token and puts the separator first.
func TestEncoderMLMTraining(t *testing.T) {
	data, cfgPath, tok := writeEncoderData(t)
	ctx := context.Background()
	conf := func(out string) *Config {
		c := &Config{Model: cfgPath, Data: data, Out: out, SeqLen: 32, BatchSize: 4, GradAccum: 2, Steps: 24,
			LR: 1e-2, Warmup: 2, WeightDecay: 0.01, EvalEvery: 12, EvalBatches: 2, CheckpointEvery: 8}
		c.Defaults()
		return c
	}
	whole := filepath.Join(t.TempDir(), "whole")
	res, err := Run(ctx, conf(whole), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := readMetrics(t, whole)
	if res.Steps != 24 || len(want) != 24+2 || res.ValLoss == 0 {
		t.Fatalf("run: %d steps, %d metric lines, val loss %g", res.Steps, len(want), res.ValLoss)
	}
	first, last := want[0].Loss, res.Loss
	if !(last < first*0.8) {
		t.Errorf("masked-token loss did not fall: %.4f → %.4f", first, last)
	}
	split := filepath.Join(t.TempDir(), "split")
	if _, err := Run(ctx, conf(split), Options{StopAfter: 10}); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(ctx, conf(split), Options{Resume: true}); err != nil {
		t.Fatal(err)
	}
	if got := readMetrics(t, split); !slices.Equal(got, want) {
		t.Errorf("resumed run logged\n%+v\nuninterrupted\n%+v", got, want)
	}

	dir := filepath.Join(whole, "model")
	e, err := encoder.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, ok := e.(*encoder.ModernBERT)
	if !ok {
		t.Fatalf("the final model opened as %T", e)
	}
	if len(m.Params()) == 0 || m.Params()[len(m.Params())-1].Name != "decoder.bias" {
		t.Errorf("the final model lacks its masked-language head")
	}
	saved, err := tokenizer.Load(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	mask, ok := saved.TokenID("<|mask|>")
	if !ok || mask != tok.VocabSize() {
		t.Errorf("mask token id %d (%v), want %d appended", mask, ok, tok.VocabSize())
	}
	before, after, err := saved.Template()
	sep, _ := tok.TokenID("<|endoftext|>")
	if err != nil || !slices.Equal(before, []int{sep}) || len(after) != 0 {
		t.Errorf("template %v %v (%v), want the separator first", before, after, err)
	}
	if _, err := m.Forward([]int{sep, 5, 6, mask}); err != nil {
		t.Error(err)
	}
}

// The masking chooses about the rate's share of ordinary positions,
// never a special token, and replaces as BERT does.
func TestMaskerShares(t *testing.T) {
	_, _, tok := writeEncoderData(t)
	sep, _ := tok.TokenID("<|endoftext|>")
	cfg := &Config{MaskRate: 0.3}
	mk, tok2, err := newMasker(cfg, tok, sep, tok.VocabSize()+1)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaskToken != "<|mask|>" || mk.mask != tok2.VocabSize()-1 {
		t.Fatalf("mask token %q id %d", cfg.MaskToken, mk.mask)
	}
	n := 20000
	b := &model.Batch{Inputs: make([]int, n), Targets: make([]int, n), Seqs: 1, Sep: sep}
	for i := range b.Inputs {
		b.Inputs[i] = 1 + i%200
		if i%10 == 0 {
			b.Inputs[i] = sep
		}
	}
	orig := slices.Clone(b.Inputs)
	mk.apply(b, 42)
	var chosen, masked, kept int
	for i, tgt := range b.Targets {
		switch {
		case orig[i] == sep:
			if tgt != encoder.Ignore || b.Inputs[i] != sep {
				t.Fatalf("position %d: the separator was chosen", i)
			}
		case tgt == encoder.Ignore:
			if b.Inputs[i] != orig[i] {
				t.Fatalf("position %d changed without a target", i)
			}
		default:
			chosen++
			if tgt != orig[i] {
				t.Fatalf("position %d: target %d, input was %d", i, tgt, orig[i])
			}
			switch b.Inputs[i] {
			case mk.mask:
				masked++
			case orig[i]:
				kept++
			case sep:
				t.Fatalf("position %d replaced by the separator", i)
			}
		}
	}
	ordinary := n - n/10
	if r := float64(chosen) / float64(ordinary); r < 0.28 || r > 0.32 {
		t.Errorf("chose %.3f of ordinary positions, want about 0.3", r)
	}
	if r := float64(masked) / float64(chosen); r < 0.77 || r > 0.83 {
		t.Errorf("masked %.3f of the chosen, want about 0.8", r)
	}
	if r := float64(kept) / float64(chosen); r < 0.08 || r > 0.12 {
		t.Errorf("kept %.3f of the chosen, want about 0.1", r)
	}
	if _, _, err := newMasker(cfg, nil, sep, 400); err == nil || !strings.Contains(err.Error(), "tokenizer.json") {
		t.Errorf("no tokenizer: %v", err)
	}
	if _, _, err := newMasker(&Config{MaskRate: 0.3, MaskToken: "<|new|>"}, tok2, sep, tok2.VocabSize()); err == nil || !strings.Contains(err.Error(), "vocab_size") {
		t.Errorf("no room for the mask token: %v", err)
	}
}

// Contrastive fine-tuning from a random ModernBERT: the in-batch loss and
// the held-out loss fall, and the folder written is an embedding model
// (ModernBertModel, mean pooling and normalisation declared as
// sentence-transformers declares them) whose queries find their pairs
// better than before.
func TestContrastiveFineTuning(t *testing.T) {
	m, init, tok := randomEncoder(t)
	sep, _ := tok.TokenID("<|endoftext|>")
	words := []string{"cat", "mat", "model", "data", "reads", "sat", "the", "on"}
	kwords := []string{"고양이", "매트", "모델", "데이터", "읽는다", "앉았다", "위에", "가"}
	var lines []string
	var queries, docs [][]int
	for i := range 80 {
		a, b := i%8, (i/8)%8
		q := kwords[a] + " " + kwords[b]
		d := words[a] + " " + words[b]
		line, _ := json.Marshal(map[string]string{"query": q, "positive": d})
		lines = append(lines, string(line))
		if i < 16 {
			qi, _ := tok.Encode(q)
			di, _ := tok.Encode(d)
			queries, docs = append(queries, append([]int{sep}, qi...)), append(docs, append([]int{sep}, di...))
		}
	}
	pairs := filepath.Join(t.TempDir(), "pairs.jsonl")
	if err := os.WriteFile(pairs, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before, err := m.ContrastiveLoss(queries, docs, 0.05, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "ft")
	cfg := &Config{Init: init, Pairs: pairs, Out: out, SeqLen: 32, BatchSize: 16, Steps: 40, LR: 2e-3, Warmup: 4, EvalEvery: 20}
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ms := readMetrics(t, out)
	if len(ms) == 0 || ms[0].Step != 0 || ms[0].ValLoss == 0 {
		t.Fatalf("metrics start %+v, want the validation loss before training", ms[:min(1, len(ms))])
	}
	if !(res.ValLoss < ms[0].ValLoss*0.7) {
		t.Errorf("validation loss %.4f → %.4f: want it to fall", ms[0].ValLoss, res.ValLoss)
	}
	e, err := encoder.Open(res.Model)
	if err != nil {
		t.Fatal(err)
	}
	after, err := e.(*encoder.ModernBERT).ContrastiveLoss(queries, docs, 0.05, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("validation loss %.4f → %.4f; in-batch loss of 16 pairs %.4f → %.4f", ms[0].ValLoss, res.ValLoss, before, after)
	if !(after < before*0.7) {
		t.Errorf("in-batch loss of 16 pairs %.4f → %.4f: want it to fall", before, after)
	}
	cfgJSON, _ := os.ReadFile(filepath.Join(res.Model, "config.json"))
	modules, _ := os.ReadFile(filepath.Join(res.Model, "modules.json"))
	pooling, _ := os.ReadFile(filepath.Join(res.Model, "1_Pooling", "config.json"))
	if !strings.Contains(string(cfgJSON), "ModernBertModel") || !strings.Contains(string(modules), "sentence_transformers.models.Normalize") ||
		!strings.Contains(string(pooling), `"pooling_mode_mean_tokens": true`) {
		t.Errorf("the model folder does not declare an embedding model:\n%s\n%s\n%s", cfgJSON, modules, pooling)
	}
	if _, err := Run(context.Background(), cfg, Options{}); err == nil || !strings.Contains(err.Error(), "already holds") {
		t.Errorf("a second run into the same out: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	os.WriteFile(bad, []byte(`{"query": "a", "positive": "b"}`+"\n"+`{"query": "a"}`+"\n"), 0o644)
	cfg2 := *cfg
	cfg2.Pairs, cfg2.Out = bad, filepath.Join(t.TempDir(), "x")
	if _, err := Run(context.Background(), &cfg2, Options{}); err == nil || !strings.Contains(err.Error(), "bad.jsonl:2") {
		t.Errorf("a pair without a positive: %v", err)
	}
}

// A classifier fine-tuned from a ModernBERT on labelled lines (labels as
// strings or numbers) learns them: held-out accuracy rises well above
// chance, and the folder written reads back as a
// ModernBertForSequenceClassification with the labels' names.
func TestClassifierFineTuning(t *testing.T) {
	_, init, _ := randomEncoder(t)
	// The label is whether the text speaks of the cat (고양이, cat) or of
	// the model (모델, model), among filler words.
	fill := []string{"the", "data", "위에", "sat", "reads", "매트", "on", "앉았다"}
	var lines []string
	for i := range 200 {
		// Topics alternate in pairs of lines.
		topic, label := []string{"고양이", "cat"}[(i/2)%2], "animal"
		if (i/20+i)%2 == 1 {
			topic, label = []string{"모델", "model"}[(i/2)%2], "machine"
		}
		text := fill[i%8] + " " + topic + " " + fill[(i/8)%8]
		line, _ := json.Marshal(map[string]string{"text": text, "label": label})
		lines = append(lines, string(line))
	}
	labelled := filepath.Join(t.TempDir(), "labelled.jsonl")
	if err := os.WriteFile(labelled, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "cls")
	cfg := &Config{Init: init, Labelled: labelled, Out: out, SeqLen: 32, BatchSize: 16, Steps: 40, LR: 3e-3, Warmup: 4, EvalEvery: 20}
	cfg.Defaults()
	res, err := Run(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ms := readMetrics(t, out)
	t.Logf("held-out accuracy %.2f → %.2f, loss %.4f → %.4f", ms[0].ValAccuracy, res.ValAccuracy, ms[0].ValLoss, res.ValLoss)
	if ms[0].ValAccuracy > 0.8 || res.ValAccuracy < 0.9 {
		t.Errorf("held-out accuracy %.2f → %.2f, want from near chance to at least 0.9", ms[0].ValAccuracy, res.ValAccuracy)
	}
	e, err := encoder.Open(res.Model)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.(*encoder.ModernBERT).Labels(); !slices.Equal(got, []string{"animal", "machine"}) {
		t.Errorf("labels %v", got)
	}
	for _, tt := range []struct{ body, want string }{
		{`{"text": "a", "label": "x"}` + "\n" + `{"text": "b", "label": "x"}`, "1 distinct labels"},
		{`{"text": "a", "label": ["x"]}`, "string or a number"},
		{`{"text": "", "label": 1}`, "non-empty"},
	} {
		p := filepath.Join(t.TempDir(), "bad.jsonl")
		os.WriteFile(p, []byte(tt.body+"\n"), 0o644)
		bad := *cfg
		bad.Labelled, bad.Out = p, filepath.Join(t.TempDir(), "x")
		if _, err := Run(context.Background(), &bad, Options{}); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error with %q", tt.body, err, tt.want)
		}
	}
}

// randomEncoder saves a random ModernBERT of writeEncoderData's config
// with its tokenizer (the separator before each text) in a folder.
func randomEncoder(t *testing.T) (*encoder.ModernBERT, string, *tokenizer.Tokenizer) {
	t.Helper()
	_, cfgPath, tok := writeEncoderData(t)
	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	m, err := encoder.NewModernRandom(cfgPath, raw, 3)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "init")
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	if err := tok.SetTemplate([]string{"<|endoftext|>"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := tok.SaveJSON(filepath.Join(dir, "tokenizer.json")); err != nil {
		t.Fatal(err)
	}
	return m, dir, tok
}

// Held-out pairs of one query go to different validation batches, in
// order, so none is another's false negative.
func TestValBatchesKeepQueriesApart(t *testing.T) {
	ex := func(q, d int) example { return example{query: []int{q}, positive: []int{d}} }
	c := &fineTune{cfg: &Config{BatchSize: 3}, val: []example{ex(1, 10), ex(1, 11), ex(2, 12), ex(3, 10), ex(4, 13), ex(5, 14)}}
	got := c.valBatches()
	var shape [][]int
	for _, b := range got {
		var qs []int
		for _, e := range b {
			qs = append(qs, e.query[0])
		}
		shape = append(shape, qs)
	}
	// 1→11 repeats query 1, 3→10 repeats positive 10: both wait; 5 finds
	// the first batch full.
	if fmt.Sprint(shape) != "[[1 2 4] [1 3 5]]" {
		t.Errorf("batches by query %v, want [[1 2 4] [1 3 5]]", shape)
	}
	c.classify = true
	if got := c.valBatches(); len(got) != 2 || len(got[0]) != 3 {
		t.Errorf("a classifier's batches: %d", len(got))
	}
}
