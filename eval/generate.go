package eval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dokja/dokja/infer"
)

// Message is one turn of a chat conversation.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// GenRequest asks a chat model for its reply to a conversation
// (lm-evaluation-harness's generate_until through chat completions).
type GenRequest struct {
	Messages []Message
	// Until are stop strings: the reply ends before the first of them.
	Until []string
	// MaxTokens bounds the reply.
	MaxTokens int
	// Temperature 0 decodes greedily; TopP 0 leaves nucleus sampling off.
	Temperature, TopP float64
	// Seed makes sampled replies repeatable (unused when greedy).
	Seed uint64
}

// Generator answers generation requests through chat. Implementations
// may answer concurrently; replies come back in the order of the
// requests, already cut at the first stop string.
type Generator interface {
	Generate(ctx context.Context, reqs []GenRequest) ([]string, error)
}

// CutAtStop returns s before the earliest occurrence of any stop string,
// as the harness cuts each reply at its until strings (servers may stop
// later than asked, or honour only a few stop strings).
func CutAtStop(s string, until []string) string {
	cut := len(s)
	for _, u := range until {
		if u == "" {
			continue
		}
		if i := strings.Index(s[:cut], u); i >= 0 {
			cut = i
		}
	}
	return s[:cut]
}

// Generate implements Generator: each conversation is rendered with the
// engine's chat template, as dokja serve renders it, and decoded with
// stop strings. A reply is cut short where the model's context ends.
func (b *Engine) Generate(ctx context.Context, reqs []GenRequest) ([]string, error) {
	if b.Chat == nil {
		return nil, errors.New("generation needs the model's chat template (eval.Engine.Chat)")
	}
	return parallel(ctx, reqs, b.Concurrency, 16, b.Progress, func(ctx context.Context, r GenRequest) (string, error) {
		msgs := make([]infer.Message, len(r.Messages))
		for i, m := range r.Messages {
			msgs[i] = infer.Message{Role: m.Role, Content: m.Content}
		}
		ids, err := b.Engine.EncodeChat(b.Chat, msgs)
		if err != nil {
			return "", err
		}
		room := b.Engine.MaxContext() - len(ids)
		if room < 1 {
			return "", fmt.Errorf("%w: the rendered conversation has %d tokens, the model's context %d", infer.ErrPromptLength, len(ids), b.Engine.MaxContext())
		}
		req := infer.Request{Prompt: ids, MaxTokens: min(r.MaxTokens, room), Stop: r.Until,
			Sampler: infer.SamplerOptions{Temperature: float32(r.Temperature), TopP: float32(r.TopP), Seed: r.Seed}}
		res, err := b.generate(ctx, req)
		if err != nil {
			return "", err
		}
		return CutAtStop(validUTF8(res.Text), r.Until), nil
	})
}

// validUTF8 replaces each byte that is not part of valid UTF-8 with U+FFFD,
// as a server's JSON reply carries such text, so that a reply read in
// process equals the one read through dokja serve.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var sb strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			sb.WriteRune(utf8.RuneError)
		} else {
			sb.WriteString(s[i : i+n])
		}
		i += n
	}
	return sb.String()
}

// generate runs one request, waiting while the engine's queue is full.
func (b *Engine) generate(ctx context.Context, req infer.Request) (*infer.Result, error) {
	for {
		res, err := b.Engine.Generate(ctx, req, nil)
		if !errors.Is(err, infer.ErrBusy) {
			return res, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// maxStops is how many stop strings the OpenAI API takes; the reply is cut
// at the others here.
const maxStops = 4

type chatBody struct {
	Model       string    `json:"model"`
	Messages    []Message `json:"messages"`
	MaxTokens   int       `json:"max_tokens,omitempty"`
	Temperature float64   `json:"temperature"`
	TopP        *float64  `json:"top_p,omitempty"`
	Stop        []string  `json:"stop,omitempty"`
	Seed        *uint64   `json:"seed,omitempty"`
}

type chatReply struct {
	Choices []struct {
		Message struct {
			Content *string `json:"content"`
		} `json:"message"`
	} `json:"choices"`
}

// Generate implements Generator through the server's
// /v1/chat/completions, with the same concurrency and retries as
// LogLikelihood. Prompts go as text: no tokenizer is needed here.
func (b *Endpoint) Generate(ctx context.Context, reqs []GenRequest) ([]string, error) {
	if b.URL == "" || b.Model == "" {
		return nil, errors.New("endpoint: a URL and a model name are required")
	}
	return parallel(ctx, reqs, b.Concurrency, 8, b.Progress, func(ctx context.Context, r GenRequest) (string, error) {
		body := chatBody{Model: b.Model, Messages: r.Messages, MaxTokens: r.MaxTokens, Temperature: r.Temperature,
			Stop: r.Until[:min(len(r.Until), maxStops)]}
		if r.TopP > 0 {
			body.TopP = &r.TopP
		}
		if r.Temperature > 0 {
			body.Seed = &r.Seed
		}
		data, err := json.Marshal(body)
		if err != nil {
			return "", err
		}
		var reply chatReply
		if err := b.call(ctx, "/chat/completions", data, &reply); err != nil {
			return "", err
		}
		if len(reply.Choices) != 1 || reply.Choices[0].Message.Content == nil {
			return "", fmt.Errorf("chat completion reply has %d choices and no message content", len(reply.Choices))
		}
		return CutAtStop(*reply.Choices[0].Message.Content, r.Until), nil
	})
}
