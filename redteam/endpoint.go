package redteam

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// EndpointGenerator talks to an OpenAI-compatible /v1/chat/completions
// server (non-streaming). Requests are retried on 408, 409, 429, 5xx and
// network errors with exponential backoff, honouring Retry-After and
// Retry-After-Ms. Environment variables such as OPENAI_API_KEY are not
// read: only the fields below reach the server.
type EndpointGenerator struct {
	// URL is the server's base, with or without /v1.
	URL   string
	Model string
	// APIKey is sent as a bearer token when set.
	APIKey      string
	Temperature float64
	// Seed, when not 0, is sent as seed plus the attempt number (see
	// WithAttempt), so that repeated samples differ and a rerun repeats
	// them on servers that honour seeds.
	Seed int64
	// Retries is how many times a request is retried (default 4; negative:
	// never); MaxRetryDelay caps one wait (default 30s).
	Retries       int
	MaxRetryDelay time.Duration
	// Timeout bounds one request (default 5 minutes).
	Timeout time.Duration
	// HTTPClient, when set, sends the requests.
	HTTPClient *http.Client
}

// Name returns the model name, for the report.
func (g *EndpointGenerator) Name() string { return g.Model }

func (g *EndpointGenerator) client() openai.Client {
	base := strings.TrimRight(g.URL, "/")
	if !strings.HasSuffix(base, "/v1") {
		base += "/v1"
	}
	retries := g.Retries
	switch {
	case retries == 0:
		retries = 4
	case retries < 0:
		retries = 0
	}
	opts := []option.RequestOption{
		option.WithBaseURL(base + "/"), option.WithMaxRetries(retries),
		option.WithAPIKey(g.APIKey), option.WithMaxRetryDelay(orDuration(g.MaxRetryDelay, 30*time.Second)),
		option.WithRequestTimeout(orDuration(g.Timeout, 5*time.Minute)),
		option.WithHeaderDel("OpenAI-Organization"), option.WithHeaderDel("OpenAI-Project"),
	}
	if g.APIKey == "" {
		opts = append(opts, option.WithHeaderDel("Authorization"))
	}
	if g.HTTPClient != nil {
		opts = append(opts, option.WithHTTPClient(g.HTTPClient))
	}
	return openai.NewClient(opts...)
}

func orDuration(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Generate implements Generator.
func (g *EndpointGenerator) Generate(ctx context.Context, msgs []Message, maxTokens int) (string, error) {
	if g.URL == "" || g.Model == "" {
		return "", errors.New("redteam: endpoint needs a URL and a model")
	}
	params := openai.ChatCompletionNewParams{Model: g.Model, Temperature: openai.Float(g.Temperature)}
	for _, m := range msgs {
		switch m.Role {
		case "system":
			params.Messages = append(params.Messages, openai.SystemMessage(m.Content))
		case "user":
			params.Messages = append(params.Messages, openai.UserMessage(m.Content))
		case "assistant":
			params.Messages = append(params.Messages, openai.AssistantMessage(m.Content))
		default:
			return "", fmt.Errorf("redteam: unknown role %q", m.Role)
		}
	}
	if maxTokens > 0 {
		params.MaxTokens = openai.Int(int64(maxTokens))
	}
	if g.Seed != 0 {
		params.Seed = openai.Int(g.Seed + int64(AttemptFrom(ctx)))
	}
	c := g.client()
	res, err := c.Chat.Completions.New(ctx, params)
	if err != nil {
		return "", fmt.Errorf("redteam: %s chat completion: %w", g.Model, err)
	}
	if len(res.Choices) == 0 {
		return "", fmt.Errorf("redteam: %s chat completion: no choices in the reply", g.Model)
	}
	return res.Choices[0].Message.Content, nil
}
