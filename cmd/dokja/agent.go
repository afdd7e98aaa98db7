package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/dokja/dokja/agent"
	"github.com/dokja/dokja/eval"
	"github.com/dokja/dokja/index"
	"github.com/dokja/dokja/infer"
	"github.com/dokja/dokja/mcpserver"
	"github.com/dokja/dokja/serve"
	"github.com/dokja/dokja/tokenizer"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

func init() {
	lateCommands = append(lateCommands,
		command{"agent", "run a model as an agent with tools: built-in ones and MCP servers", runAgent, ""},
		command{"mcp", "offer Dokja's tools (PII redaction, tokenizer, evaluation) as an MCP server", runMCP, ""})
}

func runAgent(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("agent", "[PROMPT...]", `
Run a model as an agent: it gets the prompt (the arguments, or standard
input) and tools, calls them, reads their results and goes on until it
answers or a limit is reached. The model is a local one (--model, a
checkpoint folder or GGUF file, served in process on a loopback port) or
any OpenAI-compatible endpoint (--endpoint and --model-name). Tools: a
calculator, files under --root (read_file, list_files), and the tools of
each --mcp server: a command line started over stdio (split at spaces)
or a streamable HTTP URL.

Examples:
  dokja agent --model runs/qwen2.5-0.5b-instruct --root docs "docs 폴더에 무엇이 있나요?"
  dokja agent --endpoint http://127.0.0.1:8080/v1 --model-name m --mcp "dokja mcp" "이 문장의 개인정보를 가려 줘: 010-1234-5678"`, stdout, stderr)
	modelPath := fs.String("model", "", "local checkpoint `folder` or GGUF file, served in process")
	endpoint := fs.String("endpoint", "", "OpenAI-compatible base `URL` (e.g. http://127.0.0.1:8080/v1) instead of --model")
	modelName := fs.String("model-name", "", "model name at --endpoint")
	apiKey := fs.String("api-key", os.Getenv("OPENAI_API_KEY"), "key for --endpoint (default $OPENAI_API_KEY)")
	var mcps pathsFlag
	fs.Var(&mcps, "mcp", "MCP server: a command line or an http(s) URL (repeatable)")
	root := fs.String("root", "", "let the model read files under this `folder`")
	calculator := fs.Bool("calculator", true, "offer the calculator")
	system := fs.String("system", "You are a helpful assistant. Use the tools when they help, then answer the user.", "system message")
	maxSteps := fs.Int("max-steps", 8, "model calls at most")
	maxTokens := fs.Int("max-tokens", 4096, "completion tokens at most, over the whole run")
	timeout := fs.Duration("timeout", 5*time.Minute, "wall time at most")
	first := fs.String("first-tool-choice", "auto", "tool_choice of the first step: auto or required")
	temperature := fs.Float64("temperature", 0, "sampling temperature")
	if err := parse(fs, args); err != nil {
		return err
	}
	if (*modelPath == "") == (*endpoint == "") {
		return fs.usageError("give --model or --endpoint (with --model-name)")
	}
	if *endpoint != "" && *modelName == "" {
		return fs.usageError("--endpoint needs --model-name")
	}
	if *first != "auto" && *first != "required" {
		return fs.usageError("--first-tool-choice %q: want auto or required", *first)
	}
	prompt := strings.Join(fs.Args(), " ")
	if prompt == "" {
		b, err := io.ReadAll(io.LimitReader(stdin, 1<<20))
		if err != nil {
			return err
		}
		prompt = strings.TrimSpace(string(b))
	}
	if prompt == "" {
		return fs.usageError("no prompt: give it as arguments or on standard input")
	}
	var tools []agent.Tool
	if *calculator {
		tools = append(tools, agent.Calculator())
	}
	if *root != "" {
		ft, err := agent.FileTools(*root)
		if err != nil {
			return err
		}
		tools = append(tools, ft...)
	}
	for _, spec := range mcps {
		s, err := agent.ConnectMCP(ctx, spec)
		if err != nil {
			return err
		}
		defer s.Close()
		mt, err := agent.MCPTools(ctx, s)
		if err != nil {
			return fmt.Errorf("--mcp %s: %w", spec, err)
		}
		tools = append(tools, mt...)
	}
	base, name, key := *endpoint, *modelName, *apiKey
	if *modelPath != "" {
		m, b, stop, err := serve.StartModel(ctx, *modelPath, infer.EngineOptions{MaxBatch: 1})
		if err != nil {
			return err
		}
		defer stop()
		base, name, key = b, m.Name, ""
	}
	client := openai.NewClient(option.WithBaseURL(strings.TrimSuffix(base, "/")+"/"), option.WithAPIKey(key), option.WithMaxRetries(2))
	var names []string
	for _, t := range tools {
		names = append(names, t.Name)
	}
	fmt.Fprintf(stderr, "agent: %s with %d tools (%s)\n", name, len(tools), strings.Join(names, ", "))
	res, err := agent.Run(ctx, agent.Options{Client: client, Model: name, System: *system, Tools: tools, MaxSteps: *maxSteps,
		MaxTokens: *maxTokens, Timeout: *timeout, FirstToolChoice: *first, Temperature: temperature,
		OnEvent: func(ev agent.Event) {
			switch ev.Kind {
			case "call":
				fmt.Fprintf(stderr, "[%d] → %s(%s)\n", ev.Step, ev.Name, ev.Arguments)
			case "result":
				text := ev.Text
				if ev.Err != nil {
					text = "error: " + ev.Err.Error()
				}
				if len(text) > 300 {
					text = text[:300] + "…"
				}
				fmt.Fprintf(stderr, "[%d] ← %s\n", ev.Step, strings.ReplaceAll(text, "\n", " "))
			}
		}}, prompt)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, res.Answer)
	fmt.Fprintf(stderr, "agent: %s after %d steps, %d tool calls, %d prompt and %d completion tokens\n", res.Stop, res.Steps, len(res.Calls), res.PromptTokens, res.CompletionTokens)
	return nil
}

func runMCP(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("mcp", "", `
Offer Dokja's tools to MCP clients (Claude Desktop, IDEs, other agents,
dokja agent --mcp): redact_pii, tokenizer_stats, search with --index,
and with --model score_text and evaluate (KoBEST with --kobest). It speaks MCP over
standard input and output, or over streamable HTTP with --http.

Examples:
  dokja mcp --model runs/demo/train/model --kobest ../shared/data/kobest
  dokja mcp --http 127.0.0.1:8090`, stdout, stderr)
	modelPath := fs.String("model", "", "checkpoint `folder` or GGUF file for score_text and evaluate")
	tokSpec := fs.String("tokenizer", "", "tokenizer for tokenizer_stats: o200k, cl100k or a tokenizer.json (default: the model's, or o200k)")
	kobest := fs.String("kobest", "", "KoBEST data `folder` for evaluate")
	indexDir := fs.String("index", "", "search `index` (dokja index build) for the search tool")
	httpAddr := fs.String("http", "", "serve streamable HTTP on this loopback `address` instead of stdio")
	if err := parse(fs, args); err != nil {
		return err
	}
	opt := mcpserver.Options{KoBEST: *kobest}
	if *indexDir != "" {
		ix, err := index.Open(*indexDir)
		if err != nil {
			return err
		}
		defer ix.Close()
		opt.Index = ix
	}
	if *tokSpec != "" {
		t, err := tokenizer.Load(*tokSpec)
		if err != nil {
			return err
		}
		opt.Tokenizer = t
	}
	if *modelPath != "" {
		e, id, err := eval.LoadEngine(*modelPath, "", "", 8, 0)
		if err != nil {
			return err
		}
		defer e.Close()
		opt.Engine, opt.Identity = e, id
	}
	s, err := mcpserver.New(opt)
	if err != nil {
		return err
	}
	if *httpAddr == "" {
		r, w := io.NopCloser(stdin), nopWriteCloser{stdout}
		err := s.Run(ctx, &mcp.IOTransport{Reader: r, Writer: w})
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	srv := &http.Server{Addr: *httpAddr, Handler: mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil),
		ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	fmt.Fprintf(stderr, "MCP over streamable HTTP at http://%s\n", *httpAddr)
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		return err
	}
	return nil
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
