package serve

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dokja/dokja/infer"
	"github.com/dokja/dokja/infer/infertest"
	"github.com/dokja/dokja/model"
	"github.com/dokja/dokja/tokenizer"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

const testKey = "sk-test-123"

// tinyEngine is a random-weight Qwen2-shaped model over the byte-level
// test tokenizer, with weights scaled so greedy decoding is input-dependent.
func tinyEngine(t *testing.T, opt infer.EngineOptions) (*infer.Engine, *model.Model, *tokenizer.Tokenizer) {
	t.Helper()
	m, tok := infertest.TinyModel(t, 40)
	e, err := infer.NewEngine(m, tok, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e, m, tok
}

// startServer runs a server on 127.0.0.1 and returns its base URL.
func startServer(t *testing.T, opt Options, models ...*Model) string {
	t.Helper()
	opt.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := New(models, opt)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, "127.0.0.1:0", 5*time.Second, func(a net.Addr) { addr <- a }) }()
	var a net.Addr
	select {
	case a = <-addr:
	case err := <-done:
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// A connection the client dialled but never sent a request on
		// (its transport races a dial against a connection coming free)
		// counts for Shutdown as busy for its first 5 s, as long as the
		// grace: close the client's idle connections first.
		http.DefaultClient.CloseIdleConnections()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return "http://" + a.String()
}

func client(base, key string) openai.Client {
	return openai.NewClient(option.WithBaseURL(base+"/v1/"), option.WithAPIKey(key), option.WithMaxRetries(0))
}

func chatModel(t *testing.T, e *infer.Engine) *Model {
	t.Helper()
	chat, err := infer.NewChatTemplate(infer.ChatML, "", "")
	if err != nil {
		t.Fatal(err)
	}
	return &Model{Name: "tiny", Engine: e, Chat: chat}
}

// expected is what greedy decoding of the rendered chat gives in process.
func expected(t *testing.T, m *model.Model, tok *tokenizer.Tokenizer, user string, n int) string {
	t.Helper()
	prompt, _ := chatModelTemplate(t).Render([]infer.Message{{Role: "user", Content: user}}, true)
	res, err := infer.Generate(context.Background(), m, tok, prompt, infer.GenerateOptions{MaxTokens: n}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res.Text
}

func chatModelTemplate(t *testing.T) *infer.ChatTemplate {
	c, err := infer.NewChatTemplate(infer.ChatML, "", "")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestChatPlainStreamingAndConcurrent(t *testing.T) {
	e, m, tok := tinyEngine(t, infer.EngineOptions{MaxBatch: 4})
	base := startServer(t, Options{APIKey: testKey}, chatModel(t, e))
	c := client(base, testKey)
	ctx := context.Background()
	params := func(user string) openai.ChatCompletionNewParams {
		return openai.ChatCompletionNewParams{Model: "tiny", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(user)},
			MaxTokens: openai.Int(12), Temperature: openai.Float(0)}
	}
	want := expected(t, m, tok, "안녕하세요", 12)
	got, err := c.Chat.Completions.New(ctx, params("안녕하세요"))
	if err != nil {
		t.Fatal(err)
	}
	if got.Choices[0].Message.Content != want || got.Usage.CompletionTokens == 0 || got.Choices[0].FinishReason == "" {
		t.Fatalf("chat: %q (finish %q, usage %+v), want %q", got.Choices[0].Message.Content, got.Choices[0].FinishReason, got.Usage, want)
	}
	stream := c.Chat.Completions.NewStreaming(ctx, params("안녕하세요"))
	var streamed strings.Builder
	chunks := 0
	for stream.Next() {
		ch := stream.Current()
		if len(ch.Choices) > 0 {
			streamed.WriteString(ch.Choices[0].Delta.Content)
			chunks++
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if streamed.String() != want || chunks < 3 {
		t.Fatalf("streamed %q in %d chunks, want %q", streamed.String(), chunks, want)
	}
	// Several clients at once share decode steps and get their own answers.
	users := []string{"one", "두 번째", "three three", "넷", "five", "여섯"}
	var wg sync.WaitGroup
	errs := make([]error, len(users))
	for i, u := range users {
		wg.Go(func() {
			r, err := c.Chat.Completions.New(ctx, params(u))
			if err == nil && r.Choices[0].Message.Content != expected(t, m, tok, u, 12) {
				err = errors.New("answer differs from the in-process one: " + r.Choices[0].Message.Content)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("client %d: %v", i, err)
		}
	}
}

// Completions with echo and logprobs score the prompt the way evaluation
// harnesses read it: token_logprobs[0] is null, the rest are the model's.
func TestCompletionsEchoLogprobs(t *testing.T) {
	e, m, tok := tinyEngine(t, infer.EngineOptions{})
	base := startServer(t, Options{}, chatModel(t, e))
	c := client(base, "")
	prompt := "the cat sat on the mat"
	res, err := c.Completions.New(context.Background(), openai.CompletionNewParams{
		Model: "tiny", Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String(prompt)},
		Echo: openai.Bool(true), Logprobs: openai.Int(2), MaxTokens: openai.Int(0), Temperature: openai.Float(0)})
	if err != nil {
		t.Fatal(err)
	}
	ids, _ := tok.Encode(prompt)
	logits, _ := m.Forward(ids)
	lp := res.Choices[0].Logprobs
	if res.Choices[0].Text != prompt || len(lp.Tokens) != len(ids) || len(lp.TokenLogprobs) != len(ids) {
		t.Fatalf("echo: text %q, %d tokens for %d ids", res.Choices[0].Text, len(lp.Tokens), len(ids))
	}
	if !lp.JSON.TokenLogprobs.Valid() || res.Usage.PromptTokens != int64(len(ids)) {
		t.Fatalf("usage %+v", res.Usage)
	}
	for i := 1; i < len(ids); i++ {
		var sum float64
		for _, v := range logits[i-1] {
			sum += math.Exp(float64(v))
		}
		want := float64(logits[i-1][ids[i]]) - math.Log(sum)
		if math.Abs(lp.TokenLogprobs[i]-want) > 1e-4 || len(lp.TopLogprobs[i]) == 0 {
			t.Errorf("token %d: logprob %.5f, want %.5f; top %v", i, lp.TokenLogprobs[i], want, lp.TopLogprobs[i])
		}
	}
	// Token-id prompts, several at once, and generation with logprobs.
	res, err = c.Completions.New(context.Background(), openai.CompletionNewParams{
		Model: "tiny", Prompt: openai.CompletionNewParamsPromptUnion{OfArrayOfTokenArrays: [][]int64{{10, 20, 30}, {40, 50}}},
		Logprobs: openai.Int(1), MaxTokens: openai.Int(4), Temperature: openai.Float(0)})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Choices) != 2 {
		t.Fatalf("two prompts: %s", res.RawJSON())
	}
	if res.Choices[1].Index != 1 || len(res.Choices[0].Logprobs.Tokens) != 4 || res.Usage.PromptTokens != 5 {
		t.Fatalf("two prompts: %+v", res)
	}
}

func TestErrorsAndLimits(t *testing.T) {
	e, _, _ := tinyEngine(t, infer.EngineOptions{MaxBatch: 1, MaxQueue: 1, MaxContext: 200000})
	base := startServer(t, Options{APIKey: testKey, MaxBodyBytes: 4096, MaxPromptTokens: 64}, chatModel(t, e))
	ctx := context.Background()
	var apiErr *openai.Error
	wrong := client(base, "wrong")
	_, err := wrong.Models.List(ctx)
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong key: %v", err)
	}
	c := client(base, testKey)
	models, err := c.Models.List(ctx)
	if err != nil || len(models.Data) != 1 || models.Data[0].ID != "tiny" {
		t.Fatalf("models: %v %+v", err, models)
	}
	msg := func(s string) []openai.ChatCompletionMessageParamUnion {
		return []openai.ChatCompletionMessageParamUnion{openai.UserMessage(s)}
	}
	for _, tc := range []struct {
		name   string
		params openai.ChatCompletionNewParams
		status int
	}{
		{"unknown model", openai.ChatCompletionNewParams{Model: "gpt-9", Messages: msg("hi")}, 404},
		{"bad temperature", openai.ChatCompletionNewParams{Model: "tiny", Messages: msg("hi"), Temperature: openai.Float(5)}, 400},
		{"prompt over the limit", openai.ChatCompletionNewParams{Model: "tiny", Messages: msg(strings.Repeat("가", 60))}, 413},
		{"body over the limit", openai.ChatCompletionNewParams{Model: "tiny", Messages: msg(strings.Repeat("x", 5000))}, 413},
	} {
		_, err := c.Chat.Completions.New(ctx, tc.params)
		if !errors.As(err, &apiErr) || apiErr.StatusCode != tc.status || apiErr.Message == "" {
			t.Errorf("%s: %v, want status %d", tc.name, err, tc.status)
		}
	}
	for _, body := range []string{`{"model": "tiny", "messages": [`, `{"model": "tiny", "messages": []}`, `{"model": "tiny", "messages": [{"role": "robot", "content": "x"}]}`} {
		req, _ := http.NewRequest("POST", base+"/v1/chat/completions", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !bytes.Contains(data, []byte(`"error"`)) {
			t.Errorf("%s: %d %s", body, resp.StatusCode, data)
		}
	}

	// A long request holds the one slot; cancelling it frees the slot at once.
	long, cancel := context.WithCancel(ctx)
	stream := c.Chat.Completions.NewStreaming(long, openai.ChatCompletionNewParams{Model: "tiny", Messages: msg("go on"), MaxTokens: openai.Int(150000)})
	if !stream.Next() {
		t.Fatalf("long stream: %v", stream.Err())
	}
	// The slot is taken and the queue holds one more; a third is refused.
	queued := make(chan error, 1)
	go func() {
		_, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "tiny", Messages: msg("queued"), MaxTokens: openai.Int(2)})
		queued <- err
	}()
	for e.Stats().Queued == 0 {
		// The queued request is on its way; nothing to do but let it arrive.
		runtimeGosched()
	}
	_, err = c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "tiny", Messages: msg("refused"), MaxTokens: openai.Int(2)})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusTooManyRequests {
		t.Errorf("over capacity: %v, want 429", err)
	}
	cancel()
	stream.Close()
	select {
	case err := <-queued:
		if err != nil {
			t.Errorf("queued request: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the cancelled request did not free its slot")
	}

	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`dokja_requests_total{code="401",endpoint="/v1/models"} 1`, `dokja_requests_total{code="429"`, "dokja_completion_tokens_total", "dokja_time_to_first_token_seconds_bucket", `dokja_queue_depth{model="tiny"}`, "dokja_kv_cache_bytes"} {
		if !bytes.Contains(data, []byte(want)) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	resp, err = http.Get(base + "/health")
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("health: %v", err)
	}
}

func runtimeGosched() { runtime.Gosched() }
