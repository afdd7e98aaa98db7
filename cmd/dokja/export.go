package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/dokja/dokja/checkpoint"
	"github.com/dokja/dokja/model"
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
as one GGUF file that llama.cpp loads: the architecture under
llama.cpp's name (see dokja models), the hyperparameters, the tokenizer,
and the weights in --type. Norms and
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
	ck, err := loadForGGUF(*dir)
	if err != nil {
		return err
	}
	return saveGGUF(stdout, ck, *out, *typ)
}

// loadForGGUF opens a GGUF file or a checkpoint folder with float32
// weights, with its tokenizer and chat template when it has them.
func loadForGGUF(path string) (*checkpoint.Checkpoint, error) {
	return checkpoint.Open(path, checkpoint.Options{Dequantize: true, TokenizerOptional: true})
}

// saveGGUF writes ck as a GGUF file of typ, its chat template included.
func saveGGUF(stdout io.Writer, ck *checkpoint.Checkpoint, out, typ string) error {
	if err := ck.Model.SaveGGUFWith(out, ck.Tokenizer, typ, model.GGUFSaveOptions{ChatTemplate: ck.Chat.Source}); err != nil {
		return err
	}
	st, err := os.Stat(out)
	if err != nil {
		return err
	}
	withTok := "no tokenizer"
	if ck.Tokenizer != nil {
		withTok = fmt.Sprintf("tokenizer of %d ids", ck.Tokenizer.VocabSize())
	}
	if ck.Chat.Source != "" {
		withTok += ", chat template"
	}
	fmt.Fprintf(stdout, "wrote %s: %s %s, %.2fM parameters, %s, %.1f MB\n", out, ck.Model.Config.Architectures[0], strings.ToLower(typ),
		float64(ck.Model.NumParams())/1e6, withTok, float64(st.Size())/1e6)
	return nil
}
