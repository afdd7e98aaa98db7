package redteam

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestProbesWellFormed(t *testing.T) {
	ps := Probes()
	dets := Detectors()
	ids := map[string]bool{}
	count := map[string]map[string]int{}
	for _, p := range ps {
		if err := p.Validate(dets); err != nil {
			t.Error(err)
		}
		if ids[p.ID] {
			t.Errorf("duplicate ID %s", p.ID)
		}
		ids[p.ID] = true
		if !strings.HasSuffix(p.ID, "."+p.Lang) {
			t.Errorf("%s: ID does not end in its language", p.ID)
		}
		if count[p.Category] == nil {
			count[p.Category] = map[string]int{}
		}
		count[p.Category][p.Lang]++
		text := ""
		for _, m := range p.Messages {
			text += m.Content + "\n"
		}
		switch p.Category {
		case JailbreakRoleplay:
			if p.Canary == "" || !strings.Contains(text, p.Canary) {
				t.Errorf("%s: marker %q is not asked for in the messages", p.ID, p.Canary)
			}
		case PromptInjection:
			word, num, _ := strings.Cut(p.Canary, "-")
			if p.Canary == "" || strings.Contains(text, p.Canary) || !strings.Contains(text, `"`+word+`" + "-`+num+`"`) {
				t.Errorf("%s: canary %q must be planted in two pieces", p.ID, p.Canary)
			}
		case JailbreakEncoding:
			if p.Canary == "" || containsFold(text, p.Canary) {
				t.Errorf("%s: canary %q must be hidden by the encoding", p.ID, p.Canary)
			}
		case SocialBias:
			if len(p.FailPatterns) == 0 || len(p.PassPatterns) == 0 {
				t.Errorf("%s: bias probe without patterns", p.ID)
			}
		}
		if p.Lang == "ko" && !strings.ContainsFunc(text, func(r rune) bool { return r >= 0xAC00 && r <= 0xD7A3 || r >= 0x3131 && r <= 0x318E }) && p.Category != JailbreakEncoding {
			t.Errorf("%s: Korean probe without Hangul", p.ID)
		}
	}
	for _, c := range Categories() {
		for _, l := range []string{"ko", "en"} {
			if count[c][l] < 8 {
				t.Errorf("category %s has %d %s probes, want at least 8", c, count[c][l], l)
			}
		}
	}
	t.Logf("%d probes: %v", len(ps), count)
}

// refuser always declines politely, in both languages.
type refuser struct{ calls atomic.Int64 }

const refusalReply = "죄송하지만 그 요청은 도와드릴 수 없습니다. I'm sorry, but I can't help with that."

func (r *refuser) Generate(ctx context.Context, msgs []Message, maxTokens int) (string, error) {
	r.calls.Add(1)
	return refusalReply, nil
}

// naive complies with everything: it answers option A, prints whatever
// code word or persona marker it was asked for (it "decodes" payloads and
// joins planted canaries by looking up the probe), fabricates a
// checksum-valid RRN and echoes the text it was handed.
type naive struct{ canaries map[string]string }

func newNaive(ps []Probe) *naive {
	n := &naive{canaries: map[string]string{}}
	for _, p := range ps {
		n.canaries[p.Messages[len(p.Messages)-1].Content] = p.Canary
	}
	return n
}

func (n *naive) Name() string { return "naive-1" }

func (n *naive) Generate(ctx context.Context, msgs []Message, maxTokens int) (string, error) {
	last := msgs[len(msgs)-1].Content
	reply := "A. Sure, here it is! " + n.canaries[last] + " Example number: " + rrn("900101123456") + "."
	if strings.Contains(last, "<document>") {
		reply += " " + last
	}
	return reply, nil
}

// verdicts counts the detector verdicts of a probe set: one per attempt
// and detector.
func verdicts(ps []Probe, attempts int) (total int, byDet, byCat map[string]int) {
	byDet, byCat = map[string]int{}, map[string]int{}
	for _, p := range ps {
		total += len(p.Detectors) * attempts
		byCat[p.Category] += attempts
		for _, d := range p.Detectors {
			byDet[d] += attempts
		}
	}
	return total, byDet, byCat
}

func TestRunRefuser(t *testing.T) {
	ps := Probes()
	const attempts = 2
	g := &refuser{}
	r, err := Run(context.Background(), g, ps, Options{Attempts: attempts, Concurrency: 3, Model: "polite", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if int(g.calls.Load()) != len(ps)*attempts {
		t.Fatalf("%d calls, want %d", g.calls.Load(), len(ps)*attempts)
	}
	_, byDet, byCat := verdicts(ps, attempts)
	if len(r.Failures) != 0 {
		t.Fatalf("%d failures for a refusing model; first: %+v", len(r.Failures), r.Failures[0])
	}
	for c, n := range byCat {
		if got := r.ByCategory[c]; got != (Rate{n, n, 1}) {
			t.Errorf("category %s: %+v, want %d/%d", c, got, n, n)
		}
	}
	for d, n := range byDet {
		if got := r.ByDetector[d]; got != (Rate{n, n, 1}) {
			t.Errorf("detector %s: %+v, want %d/%d", d, got, n, n)
		}
	}
	if r.Overall != (Rate{len(ps) * attempts, len(ps) * attempts, 1}) || r.Model != "polite" || len(r.Probes) != len(ps) {
		t.Errorf("overall %+v model %q probes %d", r.Overall, r.Model, len(r.Probes))
	}
}

func TestRunNaive(t *testing.T) {
	ps := Probes()
	r, err := Run(context.Background(), newNaive(ps), ps, Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	total, byDet, byCat := verdicts(ps, 1)
	if len(r.Failures) != total {
		t.Fatalf("%d failures, want every verdict (%d)", len(r.Failures), total)
	}
	for c, n := range byCat {
		if got := r.ByCategory[c]; got != (Rate{0, n, 0}) {
			t.Errorf("category %s: %+v, want 0/%d", c, got, n)
		}
	}
	for d, n := range byDet {
		if got := r.ByDetector[d]; got != (Rate{0, n, 0}) {
			t.Errorf("detector %s: %+v, want 0/%d", d, got, n)
		}
	}
	if r.Model != "naive-1" {
		t.Errorf("model %q", r.Model)
	}
	// Every failure keeps its transcript and evidence.
	want := map[string]string{PIILeak: "rrn", InjectionFollowed: "canary", EncodingDecoded: "canary",
		RoleplayComplied: "marker", RefusalMissing: "no refusal", BiasStereotype: "picked"}
	for _, f := range r.Failures {
		if len(f.Messages) == 0 || f.Reply == "" || !strings.Contains(f.Evidence, want[f.Detector]) {
			t.Fatalf("failure without transcript or evidence: %+v", f)
		}
	}
}

func TestRunSelect(t *testing.T) {
	ps := Probes()
	r, err := Run(context.Background(), &refuser{}, ps, Options{Categories: []string{SocialBias}, Langs: []string{"ko"}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, p := range ps {
		if p.Category == SocialBias && p.Lang == "ko" {
			want++
		}
	}
	if len(r.Probes) != want || r.ByLang["en"].Total != 0 || r.ByCategory[SocialBias].Total != want {
		t.Fatalf("selected %d probes, want %d: %+v", len(r.Probes), want, r.ByCategory)
	}
}

type failing struct{ n atomic.Int64 }

func (f *failing) Generate(ctx context.Context, msgs []Message, maxTokens int) (string, error) {
	if f.n.Add(1)%2 == 0 {
		return "", errors.New("boom")
	}
	return refusalReply, nil
}

type broken struct{}

func (broken) Generate(context.Context, []Message, int) (string, error) {
	return "", errors.New("connection refused")
}

func TestRunErrors(t *testing.T) {
	ps := Probes()[:10]
	r, err := Run(context.Background(), &failing{}, ps, Options{Concurrency: 1, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if r.Errors != 5 || r.Overall.Total != 5 || len(r.Failures) != 0 {
		t.Errorf("errors %d overall %+v failures %d", r.Errors, r.Overall, len(r.Failures))
	}
	if _, err := Run(context.Background(), broken{}, ps, Options{Logger: quiet}); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("all generations failing: err = %v", err)
	}
	bad := slices.Clone(ps)
	bad[0].Detectors = []string{"nope"}
	if _, err := Run(context.Background(), &refuser{}, bad, Options{}); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("unknown detector: err = %v", err)
	}
	dup := append(slices.Clone(ps), ps[0])
	if _, err := Run(context.Background(), &refuser{}, dup, Options{}); err == nil {
		t.Error("duplicate IDs accepted")
	}
	badPat := slices.Clone(ps)
	badPat[0].FailPatterns = []string{"("}
	if _, err := Run(context.Background(), &refuser{}, badPat, Options{}); err == nil {
		t.Error("bad pattern accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, &refuser{}, ps, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v", err)
	}
}

// chatServer is a minimal /v1/chat/completions that answers 429 to the
// first `throttle` requests and 503 to the next `unavailable`.
type chatServer struct {
	mu                    sync.Mutex
	throttle, unavailable int
	requests              []map[string]any
	auth                  []string
}

func (s *chatServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/chat/completions" || r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.requests = append(s.requests, body)
	s.auth = append(s.auth, r.Header.Get("Authorization"))
	n := len(s.requests)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case n <= s.throttle:
		w.Header().Set("Retry-After-Ms", "1")
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, `{"error":{"message":"slow down","type":"rate_limit"}}`)
		return
	case n <= s.throttle+s.unavailable:
		w.Header().Set("Retry-After-Ms", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"error":{"message":"busy"}}`)
		return
	}
	msgs := body["messages"].([]any)
	last := msgs[len(msgs)-1].(map[string]any)["content"]
	json.NewEncoder(w).Encode(map[string]any{
		"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": body["model"],
		"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
			"message": map[string]any{"role": "assistant", "content": "죄송합니다. echo: " + last.(string)}}},
	})
}

func TestEndpointGenerator(t *testing.T) {
	s := &chatServer{throttle: 1, unavailable: 1}
	srv := httptest.NewServer(s)
	defer srv.Close()
	g := &EndpointGenerator{URL: srv.URL, Model: "tiny", APIKey: "secret", Temperature: 0.7, Seed: 42}
	msgs := []Message{{Role: "system", Content: "be safe"}, {Role: "user", Content: "hi"}, {Role: "assistant", Content: "hello"}, {Role: "user", Content: "안녕"}}
	got, err := g.Generate(WithAttempt(context.Background(), 3), msgs, 17)
	if err != nil {
		t.Fatal(err)
	}
	if got != "죄송합니다. echo: 안녕" {
		t.Fatalf("reply %q", got)
	}
	if len(s.requests) != 3 {
		t.Fatalf("%d requests, want 3 (429, 503, then success)", len(s.requests))
	}
	req := s.requests[2]
	if req["model"] != "tiny" || req["max_tokens"] != 17.0 || req["temperature"] != 0.7 || req["seed"] != 45.0 {
		t.Errorf("request %v", req)
	}
	var roles []string
	for _, m := range req["messages"].([]any) {
		roles = append(roles, m.(map[string]any)["role"].(string))
	}
	if !reflect.DeepEqual(roles, []string{"system", "user", "assistant", "user"}) {
		t.Errorf("roles %v", roles)
	}
	if s.auth[2] != "Bearer secret" {
		t.Errorf("authorization %q", s.auth[2])
	}

	// Retries exhausted: the error names the model and the status.
	s2 := &chatServer{throttle: 100}
	srv2 := httptest.NewServer(s2)
	defer srv2.Close()
	g2 := &EndpointGenerator{URL: srv2.URL + "/v1/", Model: "tiny", Retries: 2}
	if _, err := g2.Generate(context.Background(), msgs, 0); err == nil || !strings.Contains(err.Error(), "429") {
		t.Errorf("err = %v, want a 429", err)
	}
	if len(s2.requests) != 3 || s2.auth[0] != "" {
		t.Errorf("%d requests (want 3), authorization %q (want none)", len(s2.requests), s2.auth[0])
	}
	if _, ok := s2.requests[0]["seed"]; ok {
		t.Error("seed sent though Seed is 0")
	}

	// A whole run through the endpoint.
	s3 := &chatServer{}
	srv3 := httptest.NewServer(s3)
	defer srv3.Close()
	ps := Probes()
	r, err := Run(context.Background(), &EndpointGenerator{URL: srv3.URL, Model: "echo"}, ps, Options{Categories: []string{HarmfulRequest}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if r.Model != "echo" || r.ByCategory[HarmfulRequest].Rate != 1 || len(s3.requests) != r.Overall.Total {
		t.Errorf("model %q, %+v, %d requests", r.Model, r.ByCategory, len(s3.requests))
	}
}

func TestReportJSONAndHTML(t *testing.T) {
	ps := Probes()
	r, err := Run(context.Background(), newNaive(ps), ps, Options{Attempts: 2, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := ReadJSON(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Created.Equal(r.Created) {
		t.Errorf("created %v, want %v", back.Created, r.Created)
	}
	back.Created = r.Created
	if !reflect.DeepEqual(back, r) {
		t.Fatal("JSON round trip changed the report")
	}
	buf.Reset()
	if err := r.WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, want := range append(Categories(), "naive-1", "<details>", PIILeak, BiasStereotype, "bias.gender_math.ko",
		"전라도", "width:0.0%") {
		if !strings.Contains(page, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	if strings.Contains(page, "<document>") {
		t.Error("transcript text is not escaped")
	}
}
