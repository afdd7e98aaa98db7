package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/dokja/dokja/infer"
	"github.com/dokja/dokja/serve"
)

func runServe(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("serve", "", `
Serve models over the OpenAI HTTP API: /v1/chat/completions and
/v1/completions (plain or streamed; logprobs; echo for scoring prompts),
/v1/models, /health and Prometheus /metrics. Concurrent requests share
decode steps (continuous batching); a client that disconnects frees its
slot at once. Each --model is a checkpoint folder (config.json,
model.safetensors, tokenizer.json, optionally tokenizer_config.json with
a chat template; ChatML otherwise) or a GGUF file (its tokenizer and
tokenizer.chat_template; Q8_0/Q4_0/Q4_K matrices stay quantized), served
under its folder or file name or the NAME given as NAME=PATH. Each
--embedding-model is an encoder folder (BERT, XLM-RoBERTa, ModernBERT) served at
/v1/embeddings, each --rerank-model a cross-encoder served at /v1/rerank. SIGTERM or Ctrl-C shuts down gracefully.

Bodies must be JSON (Content-Type: application/json). Browser requests
from other sites are refused unless --cors-origin names them, and a
server on a loopback address answers only localhost Host names (pages
that rebind their DNS to 127.0.0.1 get 403).

Example:
  dokja serve --model runs/nsmc/15m/model --addr 127.0.0.1:8080 --api-key "$KEY"`, stdout, stderr)
	var models, embedders, rerankers pathsFlag
	fs.Var(&models, "model", "checkpoint `folder`, or NAME=FOLDER (repeatable)")
	fs.Var(&rerankers, "rerank-model", "cross-encoder `folder` (XLMRobertaForSequenceClassification with one label, as bge-reranker-v2-m3) served at /v1/rerank, or NAME=FOLDER (repeatable)")
	fs.Var(&embedders, "embedding-model", "encoder `folder` (BERT, XLM-RoBERTa, ModernBERT) served at /v1/embeddings, or NAME=FOLDER (repeatable)")
	addr := fs.String("addr", "127.0.0.1:8080", "listen address")
	apiKey := fs.String("api-key", os.Getenv("DOKJA_API_KEY"), "require this Bearer key on /v1/ (default $DOKJA_API_KEY)")
	maxBatch := fs.Int("max-batch", 8, "sequences decoded together per model")
	maxQueue := fs.Int("max-queue", 64, "requests waiting per model before 429")
	maxBody := fs.Int64("max-body", 4<<20, "largest request body in bytes (413 beyond)")
	maxPrompt := fs.Int("max-prompt-tokens", 0, "longest prompt in tokens (413 beyond; default: the model's context)")
	maxContext := fs.Int("context", 0, "prompt plus generated tokens at most (default: max_position_embeddings)")
	kernels := fs.String("kernels", "", "matrix kernels: portable, simd or openblas (default: fastest)")
	grace := fs.Duration("grace", 30*time.Second, "time running requests get to finish on shutdown")
	maxPrompts := fs.Int("max-prompts", 64, "prompts in one completions request at most (400 beyond)")
	var origins, hosts pathsFlag
	fs.Var(&origins, "cors-origin", "serve browser requests from this `origin` (https://app.example.com, or * for any; repeatable); others get 403")
	fs.Var(&hosts, "allowed-host", "answer requests addressed to this Host `name` besides localhost names (repeatable; * for any); a server on loopback answers only localhost names otherwise")
	readTimeout := fs.Duration("read-timeout", 30*time.Second, "time a client has to send a whole request (408 beyond)")
	writeTimeout := fs.Duration("write-timeout", 60*time.Second, "time each write of a response may take: a plain response's body, each event of a stream")
	idleTimeout := fs.Duration("idle-timeout", 60*time.Second, "close keep-alive connections idle this long")
	maxConns := fs.Int("max-conns", 512, "open connections at most (503 beyond)")
	halfKV := kvCacheFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if len(models)+len(embedders)+len(rerankers) == 0 {
		return fs.usageError("--model or --embedding-model is required")
	}
	var rrs []*serve.Reranker
	for _, spec := range rerankers {
		name, dir, named := strings.Cut(spec, "=")
		if !named {
			dir = spec
		}
		rr, err := serve.LoadReranker(dir)
		if err != nil {
			return fmt.Errorf("--rerank-model %s: %w", spec, err)
		}
		if named {
			rr.Name = name
		}
		rrs = append(rrs, rr)
		slog.Info("loaded", "rerank_model", rr.Name, "folder", dir)
	}
	var embs []*serve.Embedder
	for _, spec := range embedders {
		name, dir, named := strings.Cut(spec, "=")
		if !named {
			dir = spec
		}
		e, err := serve.LoadEmbedder(dir)
		if err != nil {
			return fmt.Errorf("--embedding-model %s: %w", spec, err)
		}
		if named {
			e.Name = name
		}
		if e.TokErr != nil {
			slog.Warn("token ids only: the tokenizer is not read", "model", e.Name, "error", e.TokErr)
		}
		embs = append(embs, e)
		slog.Info("loaded", "embedding_model", e.Name, "folder", dir, "dimensions", e.Model.Dim())
	}
	var served []*serve.Model
	defer func() {
		for _, m := range served {
			m.Engine.Close()
		}
	}()
	for _, spec := range models {
		name, dir, named := strings.Cut(spec, "=")
		if !named {
			dir = spec
		}
		m, err := serve.Load(dir, *kernels, infer.EngineOptions{MaxBatch: *maxBatch, MaxQueue: *maxQueue, MaxContext: *maxContext, HalfKV: *halfKV})
		if err != nil {
			return fmt.Errorf("--model %s: %w", spec, err)
		}
		if named {
			m.Name = name
		}
		served = append(served, m)
		slog.Info("loaded", "model", m.Name, "folder", dir, "params", m.Engine.Model().NumParams(), "chat_template", m.Chat.Origin, "kernels", m.Engine.Model().K.Name())
	}
	s, err := serve.New(served, serve.Options{Embedders: embs, Rerankers: rrs, APIKey: *apiKey, MaxBodyBytes: *maxBody, MaxPromptTokens: *maxPrompt, MaxPrompts: *maxPrompts,
		CORSOrigins: origins, AllowedHosts: hosts, ReadTimeout: *readTimeout, WriteTimeout: *writeTimeout, IdleTimeout: *idleTimeout,
		MaxConns: *maxConns, Log: slog.Default()})
	if err != nil {
		return err
	}
	err = s.Run(ctx, *addr, *grace, func(a net.Addr) {
		fmt.Fprintf(stdout, "serving %d model(s) on http://%s (OpenAI base URL http://%s/v1)\n", len(served)+len(embs)+len(rrs), a, a)
	})
	if err == nil {
		fmt.Fprintln(stdout, "stopped")
	}
	return err
}

func runChat(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("chat", "", `
Chat with a model in the terminal: each line you type is a user turn,
the reply streams back. The conversation is formatted with the model's
chat template (ChatML when it has none). /reset starts over, /exit or
end of input quits.

Example:
  dokja chat --model runs/chat-model --system "You are a helpful assistant."`, stdout, stderr)
	dir := fs.String("model", "", "checkpoint `folder`")
	system := fs.String("system", "", "system message")
	maxTokens := fs.Int("max-tokens", 256, "reply tokens at most")
	var so infer.SamplerOptions
	fs.Func("temperature", "sampling temperature; 0 is greedy (default 0.7)", floatFlag(&so.Temperature))
	so.Temperature = 0.7
	fs.Func("top-p", "nucleus sampling mass (default 0.9)", floatFlag(&so.TopP))
	so.TopP = 0.9
	fs.Uint64Var(&so.Seed, "seed", 1, "random seed")
	halfKV := kvCacheFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		return fs.usageError("--model is required")
	}
	m, err := serve.Load(*dir, "", infer.EngineOptions{MaxBatch: 1, HalfKV: *halfKV})
	if err != nil {
		return err
	}
	defer m.Engine.Close()
	var history []infer.Message
	if *system != "" {
		history = append(history, infer.Message{Role: "system", Content: *system})
	}
	start := len(history)
	in := bufio.NewScanner(stdin)
	in.Buffer(make([]byte, 1<<16), 1<<20)
	fmt.Fprintf(stderr, "chatting with %s (%s); /reset starts over, /exit quits\n", *dir, m.Chat.Origin)
	for {
		fmt.Fprint(stderr, "> ")
		if !in.Scan() {
			return in.Err()
		}
		line := strings.TrimSpace(in.Text())
		switch line {
		case "":
			continue
		case "/exit", "/quit":
			return nil
		case "/reset":
			history = history[:start]
			continue
		}
		history = append(history, infer.Message{Role: "user", Content: line})
		prompt, err := m.Chat.Render(history, true)
		if err != nil {
			return err
		}
		ids, err := m.Engine.Tokenizer().Encode(prompt)
		if err != nil {
			return err
		}
		n := min(*maxTokens, m.Engine.MaxContext()-len(ids))
		if n <= 0 {
			fmt.Fprintln(stderr, "the conversation fills the context; /reset to start over")
			history = history[:len(history)-1]
			continue
		}
		res, err := m.Engine.Generate(ctx, infer.Request{Prompt: ids, MaxTokens: n, Sampler: so}, func(ev infer.Event) error {
			_, err := io.WriteString(stdout, ev.Text)
			return err
		})
		fmt.Fprintln(stdout)
		if err != nil {
			return err
		}
		history = append(history, infer.Message{Role: "assistant", Content: res.Text})
	}
}
