// Package mcpserver offers Dokja's capabilities to other agents as an MCP
// server (through the official Go SDK): redacting personal data, measuring
// and applying a tokenizer, searching a local index, and, with a model
// loaded, scoring text and running evaluation tasks.
package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/dokja/dokja/eval"
	"github.com/dokja/dokja/index"
	"github.com/dokja/dokja/infer"
	"github.com/dokja/dokja/pii"
	"github.com/dokja/dokja/tokenizer"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Version is what the server tells its clients it is.
const Version = "0.1"

// maxText bounds the text any tool takes.
const maxText = 1 << 20

// Options choose what the server offers.
type Options struct {
	// Tokenizer is used by the tokenizer tools (default: the model's, or
	// o200k).
	Tokenizer *tokenizer.Tokenizer
	// Engine, when set, makes the evaluation tools available; ModelName
	// and Identity describe it in reports.
	Engine    *infer.Engine
	ModelName string
	Identity  eval.Identity
	// KoBEST is the folder of the KoBEST data (for the kobest tasks).
	KoBEST string
	// Index, when set, makes the search tool available.
	Index *index.Index
}

// New returns an MCP server with Dokja's tools.
func New(opt Options) (*mcp.Server, error) {
	if opt.Tokenizer == nil && opt.Engine != nil {
		opt.Tokenizer = opt.Engine.Tokenizer()
	}
	if opt.Tokenizer == nil {
		t, err := tokenizer.Named("o200k")
		if err != nil {
			return nil, err
		}
		opt.Tokenizer = t
	}
	s := mcp.NewServer(&mcp.Implementation{Name: "dokja", Version: Version}, nil)
	h := &handlers{opt: opt}
	mcp.AddTool(s, &mcp.Tool{Name: "redact_pii", Description: "Find and mask personal data in Korean or English text: resident registration numbers, phone numbers, e-mail addresses, card and account numbers, IP addresses, street addresses. Returns the redacted text and counts by kind."}, h.redact)
	mcp.AddTool(s, &mcp.Tool{Name: "tokenizer_stats", Description: "Tokenize text with Dokja's tokenizer: token count, characters per token, tokens per Hangul syllable, and optionally the tokens."}, h.stats)
	if opt.Index != nil {
		mcp.AddTool(s, &mcp.Tool{Name: "search", Description: "Search the local document index (BM25; Korean words match their other forms): the best passages, each with its document and score."}, h.search)
	}
	if opt.Engine != nil {
		mcp.AddTool(s, &mcp.Tool{Name: "score_text", Description: "Score text with the loaded model: log-likelihood, bits per byte and perplexities (lower is better)."}, h.score)
		mcp.AddTool(s, &mcp.Tool{Name: "evaluate", Description: "Run evaluation tasks on the loaded model (KoBEST: kobest_boolq, kobest_copa, kobest_hellaswag, kobest_sentineg, kobest_wic, or kobest for all) and return their metrics."}, h.evaluate)
	}
	return s, nil
}

type handlers struct {
	opt Options
	mu  sync.Mutex // one evaluation at a time: they share the engine
}

// RedactIn is redact_pii's input.
type RedactIn struct {
	Text  string   `json:"text" jsonschema:"the text to redact"`
	Kinds []string `json:"kinds,omitempty" jsonschema:"kinds to find (rrn, phone, email, card, account, ip, address); all if empty"`
}

// RedactOut is redact_pii's output.
type RedactOut struct {
	Text   string         `json:"text"`
	Counts map[string]int `json:"counts"`
}

func (h *handlers) redact(ctx context.Context, _ *mcp.CallToolRequest, in RedactIn) (*mcp.CallToolResult, RedactOut, error) {
	if len(in.Text) > maxText {
		return nil, RedactOut{}, fmt.Errorf("text: %d bytes, at most %d", len(in.Text), maxText)
	}
	var kinds []pii.Kind
	for _, k := range in.Kinds {
		if !slices.Contains(pii.Precedence(), pii.Kind(k)) {
			return nil, RedactOut{}, fmt.Errorf("kinds: unknown kind %q", k)
		}
		kinds = append(kinds, pii.Kind(k))
	}
	text, counts := pii.New(pii.Options{Kinds: kinds}).Redact(in.Text)
	out := RedactOut{Text: text, Counts: map[string]int{}}
	for k, n := range counts {
		out.Counts[string(k)] = n
	}
	return nil, out, nil
}

// StatsIn is tokenizer_stats's input.
type StatsIn struct {
	Text       string `json:"text" jsonschema:"the text to tokenize"`
	ShowTokens bool   `json:"show_tokens,omitempty" jsonschema:"also return the tokens (at most 1000; pieces of a character as <0xNN> bytes)"`
}

// StatsOut is tokenizer_stats's output.
type StatsOut struct {
	Tokens          int64    `json:"tokens"`
	Chars           int64    `json:"chars"`
	Bytes           int64    `json:"bytes"`
	HangulSyllables int64    `json:"hangul_syllables"`
	CharsPerToken   float64  `json:"chars_per_token"`
	TokensPerHangul float64  `json:"tokens_per_hangul"`
	Pieces          []string `json:"pieces,omitempty"`
}

func (h *handlers) stats(ctx context.Context, _ *mcp.CallToolRequest, in StatsIn) (*mcp.CallToolResult, StatsOut, error) {
	if len(in.Text) > maxText {
		return nil, StatsOut{}, fmt.Errorf("text: %d bytes, at most %d", len(in.Text), maxText)
	}
	t := h.opt.Tokenizer
	st, err := tokenizer.Measure(ctx, t, []string{in.Text}, 1)
	if err != nil {
		return nil, StatsOut{}, err
	}
	out := StatsOut{Tokens: st.Tokens, Chars: st.Chars, Bytes: st.Bytes, HangulSyllables: st.Hangul, CharsPerToken: st.CharsPerToken(), TokensPerHangul: st.TokensPerHangul()}
	if in.ShowTokens {
		ids, err := t.Encode(in.Text)
		if err != nil {
			return nil, StatsOut{}, err
		}
		for _, id := range ids[:min(len(ids), 1000)] {
			s, _ := t.Token(id)
			if !utf8.ValidString(s) {
				// A piece of a character: its bytes, as <0xNN>.
				var b strings.Builder
				for i := 0; i < len(s); i++ {
					fmt.Fprintf(&b, "<0x%02X>", s[i])
				}
				s = b.String()
			}
			out.Pieces = append(out.Pieces, s)
		}
	}
	return nil, out, nil
}

// SearchIn is search's input.
type SearchIn struct {
	Query string `json:"query" jsonschema:"what to look for"`
	K     int    `json:"k,omitempty" jsonschema:"how many passages (default 5, at most 50)"`
}

// SearchOut is search's output.
type SearchOut struct {
	Hits []index.Hit `json:"hits"`
}

func (h *handlers) search(ctx context.Context, _ *mcp.CallToolRequest, in SearchIn) (*mcp.CallToolResult, SearchOut, error) {
	if in.K == 0 {
		in.K = 5
	}
	if in.K < 1 || in.K > 50 {
		return nil, SearchOut{}, fmt.Errorf("k %d: want 1 to 50", in.K)
	}
	hits, err := h.opt.Index.Search(ctx, in.Query, in.K)
	if err != nil {
		return nil, SearchOut{}, err
	}
	return nil, SearchOut{Hits: hits}, nil
}

// ScoreIn is score_text's input.
type ScoreIn struct {
	Text string `json:"text" jsonschema:"the text to score"`
}

func (h *handlers) score(ctx context.Context, _ *mcp.CallToolRequest, in ScoreIn) (*mcp.CallToolResult, map[string]float64, error) {
	if strings.TrimSpace(in.Text) == "" || len(in.Text) > maxText {
		return nil, nil, fmt.Errorf("text: want 1 to %d bytes", maxText)
	}
	dir, err := os.MkdirTemp("", "dokja-mcp-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "text.jsonl")
	line, _ := json.Marshal(map[string]string{"text": in.Text})
	if err := os.WriteFile(path, append(line, '\n'), 0o600); err != nil {
		return nil, nil, err
	}
	rep, err := h.run(ctx, []*eval.Task{eval.Perplexity()}, path, 0)
	if err != nil {
		return nil, nil, err
	}
	return nil, metrics(rep), nil
}

// EvaluateIn is evaluate's input.
type EvaluateIn struct {
	Tasks []string `json:"tasks" jsonschema:"task names, e.g. kobest_copa, or kobest for all five"`
	Limit int      `json:"limit,omitempty" jsonschema:"items per task (default 100, at most 5000)"`
}

func (h *handlers) evaluate(ctx context.Context, _ *mcp.CallToolRequest, in EvaluateIn) (*mcp.CallToolResult, map[string]float64, error) {
	if len(in.Tasks) == 0 {
		return nil, nil, errors.New("tasks: name at least one")
	}
	if in.Limit == 0 {
		in.Limit = 100
	}
	if in.Limit < 0 || in.Limit > 5000 {
		return nil, nil, fmt.Errorf("limit %d: want 1 to 5000", in.Limit)
	}
	if h.opt.KoBEST == "" {
		return nil, nil, errors.New("this server has no evaluation data (start it with --kobest DIR)")
	}
	var tasks []*eval.Task
	for _, n := range in.Tasks {
		ts, err := eval.Lookup(n)
		if err != nil {
			return nil, nil, err
		}
		tasks = append(tasks, ts...)
	}
	rep, err := h.run(ctx, tasks, "", in.Limit)
	if err != nil {
		return nil, nil, err
	}
	return nil, metrics(rep), nil
}

// run evaluates tasks on the engine, one run at a time.
func (h *handlers) run(ctx context.Context, tasks []*eval.Task, text string, limit int) (*eval.Report, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.opt.Engine
	td, err := eval.LoadTaskData(tasks, h.opt.KoBEST, "dev", text, "", false)
	if err != nil {
		return nil, err
	}
	for i := range td {
		if limit > 0 && len(td[i].Docs) > limit {
			td[i].Docs = td[i].Docs[:limit]
		}
	}
	opt := eval.Options{Encoder: e.Tokenizer(), MaxLength: e.MaxContext(), Seed: 1234, Identity: h.opt.Identity}
	if opt.PrefixToken, err = eval.PrefixToken(e.Model().Config, e.Tokenizer()); err != nil {
		return nil, err
	}
	return eval.Evaluate(ctx, &eval.Engine{Engine: e, Concurrency: 8}, td, opt)
}

// metrics flattens a report to "task metric" -> value.
func metrics(rep *eval.Report) map[string]float64 {
	out := map[string]float64{}
	for _, t := range rep.Tasks {
		for _, m := range t.Metrics {
			out[t.Task+" "+m.Metric] = m.Value
		}
	}
	return out
}
