package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/dokja/dokja/model"
	"github.com/dokja/dokja/tokenizer"
)

func runInit(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("init", "", `
Write a Hugging Face checkpoint folder with seeded random weights for a
Llama or Qwen2 config.json: config.json, model.safetensors and
generation_config.json, plus tokenizer.json when --tokenizer is given.
Weights are drawn from N(0, 0.02²), with o_proj and down_proj scaled by
1/sqrt(2·layers); norms start at 1 and biases at 0.

Example:
  dokja init --config config.json --tokenizer tokenizer.json --out runs/tiny`, stdout, stderr)
	cfgPath := fs.String("config", "", "Hugging Face config.json `path`")
	tokPath := fs.String("tokenizer", "", "tokenizer (tokenizer.json, o200k, cl100k) to store beside the weights")
	out := fs.String("out", "", "output checkpoint `folder`")
	seed := fs.Uint64("seed", 1, "random seed")
	dtype := fs.String("dtype", "f32", "weight dtype in model.safetensors: f32 or bf16")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *cfgPath == "" || *out == "" {
		return fs.usageError("--config and --out are required")
	}
	c, err := model.LoadConfig(*cfgPath)
	if err != nil {
		return err
	}
	var tok *tokenizer.Tokenizer
	if *tokPath != "" {
		if tok, err = tokenizer.Load(*tokPath); err != nil {
			return fmt.Errorf("--tokenizer: %w", err)
		}
		if tok.VocabSize() > c.VocabSize {
			return fmt.Errorf("--tokenizer %s has %d ids but %s sets vocab_size %d", *tokPath, tok.VocabSize(), *cfgPath, c.VocabSize)
		}
	}
	m, err := model.NewRandom(c, *seed)
	if err != nil {
		return err
	}
	if err := m.Save(*out, strings.ToUpper(*dtype)); err != nil {
		return err
	}
	if tok != nil {
		if err := tok.SaveJSON(filepath.Join(*out, "tokenizer.json")); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "wrote %s: %s, %d layers, %.2fM parameters (seed %d)\n", *out, c.Architectures, c.NumHiddenLayers, float64(m.NumParams())/1e6, *seed)
	return nil
}
