package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/dokja/dokja/model"
	"github.com/dokja/dokja/tokenizer"
)

func init() {
	lateCommands = append(lateCommands,
		command{"export", "write a checkpoint in another format (GGUF for llama.cpp)", runExport, "gguf"},
		command{"quantize", "write a GGUF file with Q8_0, Q4_0 or Q4_K weights", runQuantize, ""},
	)
}

func runExport(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("export", "gguf", `
Write a checkpoint folder (config.json, model.safetensors, tokenizer.json)
as one GGUF file that llama.cpp loads: architecture llama or qwen2, the
hyperparameters, the tokenizer, and the weights in --type. Norms and
biases stay F32; a weight whose rows are not a whole number of the type's
blocks falls back to Q8_0 or F16, and the output head of q4_0/q4_k files
is Q8_0 (see model.SaveGGUF).

Example:
  dokja export gguf --model runs/tiny --out tiny-q8_0.gguf --type q8_0`, stdout, stderr)
	dir := fs.String("model", "", "checkpoint `folder`")
	out := fs.String("out", "", "output `file.gguf`")
	typ := fs.String("type", "f32", "weight type: "+strings.Join(model.GGUFTypes, ", "))
	if len(args) == 0 || args[0] != "gguf" {
		if helpAsked(args) {
			fs.printUsage(stdout)
			return flag.ErrHelp
		}
		return fs.usageError("the first argument must be the format, gguf")
	}
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if *dir == "" || *out == "" {
		return fs.usageError("--model and --out are required")
	}
	m, tok, err := loadForGGUF(*dir)
	if err != nil {
		return err
	}
	return saveGGUF(stdout, m, tok, *out, *typ)
}

// loadForGGUF reads a GGUF file, or a checkpoint folder with the
// tokenizer.json beside it when there is one.
func loadForGGUF(path string) (*model.Model, *tokenizer.Tokenizer, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	if !st.IsDir() {
		return model.LoadGGUF(path)
	}
	m, err := model.Load(path)
	if err != nil {
		return nil, nil, err
	}
	tj := filepath.Join(path, "tokenizer.json")
	if _, err := os.Stat(tj); errors.Is(err, os.ErrNotExist) {
		return m, nil, nil
	}
	tok, err := tokenizer.LoadJSON(tj)
	if err != nil {
		return nil, nil, err
	}
	return m, tok, nil
}

func saveGGUF(stdout io.Writer, m *model.Model, tok *tokenizer.Tokenizer, out, typ string) error {
	if err := m.SaveGGUF(out, tok, typ); err != nil {
		return err
	}
	st, err := os.Stat(out)
	if err != nil {
		return err
	}
	withTok := "no tokenizer"
	if tok != nil {
		withTok = fmt.Sprintf("tokenizer of %d ids", tok.VocabSize())
	}
	fmt.Fprintf(stdout, "wrote %s: %s %s, %.2fM parameters, %s, %.1f MB\n", out, m.Config.Architectures[0], strings.ToLower(typ),
		float64(m.NumParams())/1e6, withTok, float64(st.Size())/1e6)
	return nil
}
