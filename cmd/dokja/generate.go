package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/dokja/dokja/infer"
)

func runGenerate(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("generate", "", `
Continue a prompt with a model, streaming the text to stdout as it is
generated. The model is a Hugging Face checkpoint folder (config.json,
model.safetensors and tokenizer.json, as written by "dokja init").
A temperature of 0 decodes greedily.

Example:
  dokja generate --model runs/tiny --prompt "안녕하세요" --max-tokens 64 --temperature 0.8 --top-p 0.95`, stdout, stderr)
	dir := fs.String("model", "", "checkpoint `folder` or GGUF file")
	prompt := fs.String("prompt", "", "text to continue")
	maxTokens := fs.Int("max-tokens", 128, "new tokens at most")
	var stop listFlag
	fs.Var(&stop, "stop", "text that ends generation (repeatable)")
	var so infer.SamplerOptions
	fs.Func("temperature", "sampling temperature; 0 is greedy (default 0.8)", floatFlag(&so.Temperature))
	so.Temperature = 0.8
	fs.IntVar(&so.TopK, "top-k", 40, "keep the k most likely tokens (0: all)")
	fs.Func("top-p", "keep the most likely tokens up to this probability mass (default 0.95)", floatFlag(&so.TopP))
	so.TopP = 0.95
	fs.Func("min-p", "drop tokens below min-p times the most likely one's probability (default 0.05)", floatFlag(&so.MinP))
	so.MinP = 0.05
	fs.Func("repetition-penalty", "divide the logits of tokens already seen (default 1: off)", floatFlag(&so.RepetitionPenalty))
	fs.Func("presence-penalty", "subtract from the logits of tokens already seen", floatFlag(&so.PresencePenalty))
	fs.Func("frequency-penalty", "subtract per occurrence from the logits of tokens already seen", floatFlag(&so.FrequencyPenalty))
	fs.Uint64Var(&so.Seed, "seed", 1, "random seed")
	halfKV := kvCacheFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *dir == "" || *prompt == "" {
		return fs.usageError("--model and --prompt are required")
	}
	m, tok, err := infer.LoadModel(*dir, "")
	if err != nil {
		return fmt.Errorf("--model %s: %w", *dir, err)
	}
	m.HalfKV = *halfKV
	start := time.Now()
	res, err := infer.Generate(ctx, m, tok, *prompt, infer.GenerateOptions{MaxTokens: *maxTokens, Stop: stop, Sampler: so},
		func(s string) error { _, err := io.WriteString(stdout, s); return err })
	fmt.Fprintln(stdout)
	if err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	slog.Info("generated", "prompt_tokens", res.PromptTokens, "tokens", len(res.Tokens), "finish", res.FinishReason,
		"seconds", round(secs), "tokens_per_second", round(float64(len(res.Tokens))/secs))
	return nil
}

// floatFlag parses a float32 flag value.
// kvCacheFlag adds --kv-cache to fs; the result says whether the
// key/value cache is to be fp16.
func kvCacheFlag(fs *flags) *bool {
	half := new(bool)
	fs.Func("kv-cache", "key/value cache precision: f32 (default), or f16 (half the memory per cached token, as llama.cpp keeps it)",
		func(s string) (err error) { *half, err = infer.ParseKVCache(s); return err })
	return half
}

func floatFlag(dst *float32) func(string) error {
	return func(s string) error {
		var f float64
		if _, err := fmt.Sscan(s, &f); err != nil {
			return fmt.Errorf("%q is not a number", s)
		}
		*dst = float32(f)
		return nil
	}
}
