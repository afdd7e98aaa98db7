package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// initModel writes a small random checkpoint with the test tokenizer.
func initModel(t *testing.T) string {
	t.Helper()
	_, tokPath := trainTokenizer(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.json")
	os.WriteFile(cfg, []byte(`{"architectures": ["Qwen2ForCausalLM"], "vocab_size": 400, "hidden_size": 32,
		"intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
		"max_position_embeddings": 256, "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "tie_word_embeddings": true}`), 0o644)
	out := filepath.Join(dir, "tiny")
	mustRun(t, "", "init", "--config", cfg, "--tokenizer", tokPath, "--out", out)
	return out
}

// dokja serve answers the OpenAI client on 127.0.0.1 and stops cleanly
// when its context ends (SIGTERM in real use).
func TestServeCommand(t *testing.T) {
	dir := initModel(t)
	ggufPath := filepath.Join(t.TempDir(), "tiny-q8.gguf")
	mustRun(t, "", "export", "gguf", "--model", dir, "--out", ggufPath, "--type", "q8_0")
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		var stderr strings.Builder
		code := run(ctx, []string{"serve", "--model", "tiny-model=" + dir, "--model", ggufPath, "--addr", "127.0.0.1:0", "--api-key", "k"}, strings.NewReader(""), pw, &stderr)
		pw.Close()
		done <- code
	}()
	lines := bufio.NewScanner(pr)
	if !lines.Scan() {
		t.Fatal("serve printed nothing")
	}
	first := lines.Text()
	i := strings.Index(first, "http://")
	if i < 0 {
		t.Fatalf("serve said %q", first)
	}
	base := strings.Fields(first[i:])[0]
	c := openai.NewClient(option.WithBaseURL(base+"/v1/"), option.WithAPIKey("k"), option.WithMaxRetries(0))
	// Seeded: a request without a seed is seeded from the clock, and one
	// draw in a few hundred ended at once on the end-of-text token.
	res, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "tiny-model",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("문서를 저장합니다")}, MaxTokens: openai.Int(5), Seed: openai.Int(7)})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Choices) != 1 || res.Usage.CompletionTokens == 0 {
		t.Fatalf("chat: %s", res.RawJSON())
	}
	// The same weights from the GGUF file (Q8_0) under its file name.
	res2, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "tiny-q8",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("문서를 저장합니다")}, MaxTokens: openai.Int(5), Seed: openai.Int(7)})
	if err != nil || res2.Usage.PromptTokens != res.Usage.PromptTokens {
		t.Fatalf("gguf model: %v %+v", err, res2)
	}
	cancel()
	var rest strings.Builder
	for lines.Scan() {
		rest.WriteString(lines.Text())
	}
	if code := <-done; code != 0 && code != 130 {
		t.Errorf("serve exited %d", code)
	}
	if !strings.Contains(rest.String(), "stopped") {
		t.Errorf("serve did not report a clean stop: %q", rest.String())
	}
}

func TestChatCommand(t *testing.T) {
	dir := initModel(t)
	r := mustRun(t, "안녕하세요\n/reset\nhello there\n/exit\n", "chat", "--model", dir, "--max-tokens", "4", "--temperature", "0")
	if n := strings.Count(r.stderr, "> "); n != 4 || r.stdout == "" {
		t.Errorf("four prompts, two replies: %d prompts, output %q", n, r.stdout)
	}
	if !strings.Contains(r.stderr, "ChatML") {
		t.Errorf("chat should say which template it uses: %q", r.stderr)
	}
}
