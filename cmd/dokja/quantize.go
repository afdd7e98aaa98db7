package main

import (
	"context"
	"io"
)

func runQuantize(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("quantize", "", `
Write a GGUF file with quantized weights from a GGUF file or a checkpoint
folder. Input weights are read as float32 (a quantized input is
dequantized first, so requantizing loses a little more), then quantized
with ggml's reference quantizers; the tokenizer is carried over.

Example:
  dokja quantize --model tiny-f32.gguf --out tiny-q4_0.gguf --type q4_0`, stdout, stderr)
	in := fs.String("model", "", "input `file.gguf` or checkpoint folder")
	out := fs.String("out", "", "output `file.gguf`")
	typ := fs.String("type", "", "weight type: q8_0, q4_0 or q4_k (also f16, f32)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *in == "" || *out == "" || *typ == "" {
		return fs.usageError("--model, --out and --type are required")
	}
	ck, err := loadForGGUF(*in)
	if err != nil {
		return err
	}
	return saveGGUF(stdout, ck, *out, *typ)
}
