package data

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dokja/dokja/encoder"
	"github.com/dokja/dokja/tokenizer"
)

// classifierDir copies the encoder package's reference classifier
// (ModernBertForSequenceClassification, labels negative, positive,
// neutral; checked against PyTorch there) and gives it a tokenizer.
func classifierDir(t *testing.T) string {
	t.Helper()
	src := filepath.Join("..", "encoder", "testdata", "tiny-modernbert-classifier")
	dir := t.TempDir()
	for _, f := range []string{"config.json", "model.safetensors"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	texts := func(yield func(string, error) bool) {
		for range 20 {
			if !yield("영화가 정말 재미있었다 the film was fun 지루했다 boring", nil) {
				return
			}
		}
	}
	wc, err := tokenizer.CountWords(context.Background(), texts, tokenizer.CountOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Train(context.Background(), wc, tokenizer.TrainOptions{VocabSize: 290, Special: []string{"<|endoftext|>"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.SetTemplate([]string{"<|endoftext|>"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := tok.SaveJSON(filepath.Join(dir, "tokenizer.json")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// The classify stage labels each document with the classifier's most
// probable label (as the model itself computes it), drops the labels not
// kept, and names bad options.
func TestClassifyStage(t *testing.T) {
	dir := classifierDir(t)
	e, err := encoder.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := e.(*encoder.ModernBERT)
	tok, err := tokenizer.Load(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	sep, _ := tok.TokenID("<|endoftext|>")
	docs := []string{"영화가 정말 재미있었다", "the film was fun", "지루했다", "boring boring boring", "영화 film 재미"}
	var want []string
	for _, d := range docs {
		ids, _ := tok.Encode(d)
		lg, err := m.ClassifyLogits(append([]int{sep}, ids...))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, m.Labels()[slices.Index(lg, slices.Max(lg))])
	}
	if len(slices.Compact(slices.Sorted(slices.Values(want)))) < 2 {
		t.Fatalf("the documents all get %v: the test needs two labels at least", want)
	}
	for _, keep := range [][]string{nil, {"positive"}, {"negative", "neutral"}} {
		b, err := (&ClassifyOptions{Model: dir, Keep: keep, MaxTokens: 512}).build(&Env{})
		if err != nil {
			t.Fatal(err)
		}
		st := b.(Stage)
		for i, d := range docs {
			v := st.Process(&Document{Text: d})
			if v.Counts[want[i]] != 1 {
				t.Errorf("%q: counts %v, want label %s", d, v.Counts, want[i])
			}
			dropped := len(keep) > 0 && !slices.Contains(keep, want[i])
			if v.Drop != dropped || (dropped && v.Reason != "label") {
				t.Errorf("keep %v, %q (%s): verdict %+v", keep, d, want[i], v)
			}
		}
	}
	// min_prob 1 keeps nothing short of certainty; 0.0001 with every label kept, all.
	b, err := (&ClassifyOptions{Model: dir, Keep: []string{"positive"}, MinProb: 0.999999, MaxTokens: 512}).build(&Env{})
	if err != nil {
		t.Fatal(err)
	}
	if v := b.(Stage).Process(&Document{Text: docs[0]}); !v.Drop || v.Reason != "low_prob" {
		t.Errorf("min_prob 0.999999: %+v", v)
	}
	for _, tt := range []struct {
		o    ClassifyOptions
		want string
	}{
		{ClassifyOptions{MaxTokens: 8}, "model"},
		{ClassifyOptions{Model: dir, Keep: []string{"spam"}, MaxTokens: 8}, "keep: spam"},
		{ClassifyOptions{Model: dir, MinProb: 2, MaxTokens: 8}, "min_prob"},
		{ClassifyOptions{Model: dir}, "max_tokens"},
		{ClassifyOptions{Model: filepath.Join("..", "encoder", "testdata", "tiny-modernbert"), MaxTokens: 8}, "ModernBertForSequenceClassification"},
	} {
		if _, err := tt.o.build(&Env{}); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v, want an error with %q", tt.o, err, tt.want)
		}
	}
	// As a configured stage of a pipeline.
	cfg, err := ParseConfig([]byte("stages:\n  - classify: {model: " + dir + ", keep: [positive]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.Build(nil); err != nil {
		t.Fatal(err)
	}
}
