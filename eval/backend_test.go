package eval

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dokja/dokja/infer"
	"github.com/dokja/dokja/infer/infertest"
	"github.com/dokja/dokja/serve"
)

// tinyEngine is a random-weight Qwen2-shaped model over the byte-level
// test tokenizer (as serve's tests build it).
func tinyEngine(t *testing.T, maxContext int) *infer.Engine {
	t.Helper()
	m, tok := infertest.TinyModel(t, 10)
	e, err := infer.NewEngine(m, tok, infer.EngineOptions{MaxBatch: 8, MaxContext: maxContext})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

// startServer serves e on 127.0.0.1 as model "tiny" and returns its URL.
func startServer(t *testing.T, e *infer.Engine) string {
	t.Helper()
	s, err := serve.New([]*serve.Model{{Name: "tiny", Engine: e}}, serve.Options{APIKey: "k", Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return runServer(t, s)
}

// runServer runs s on 127.0.0.1 until the test ends and returns its URL.
func runServer(t *testing.T, s *serve.Server) string {
	t.Helper()
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
	t.Cleanup(func() { cancel(); <-done })
	return "http://" + a.String()
}

// evalData is COPA (the shared dev file, else the synthetic one) and the
// perplexity corpus.
func evalData(t *testing.T, limit int) []TaskData {
	t.Helper()
	dir := "testdata/kobest"
	if _, err := os.Stat(filepath.Join(sharedKoBEST, "COPA", "dev.tsv")); err == nil {
		dir = sharedKoBEST
	}
	copa := task(t, "kobest_copa")
	docs, err := copa.Load(dir, "dev")
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) > limit {
		docs = docs[:limit]
	}
	text, err := LoadText("testdata/corpus.txt", "")
	if err != nil {
		t.Fatal(err)
	}
	return []TaskData{{Task: copa, Docs: docs, Source: filepath.Join(dir, "COPA", "dev.tsv")},
		{Task: Perplexity(), Docs: text, Source: "testdata/corpus.txt"}}
}

// The same model scored in process and through dokja's server gives the
// same log-likelihood for every choice of every item (to 1e-4), the same
// predictions and the same perplexity, with rolling windows shorter than
// the documents; and the metrics are those of the records.
func TestInProcessMatchesEndpoint(t *testing.T) {
	data := evalData(t, 40)
	local, remote := &Report{}, &Report{}
	// COPA with the whole context; perplexity with a context of 24 tokens,
	// so that documents take several rolling windows.
	for i, maxLen := range []int{256, 24} {
		e := tinyEngine(t, maxLen)
		url := startServer(t, e)
		opt := Options{Encoder: e.Tokenizer(), PrefixToken: 258, MaxLength: maxLen, Seed: 1}
		l, err := Evaluate(t.Context(), &Engine{Engine: e}, data[i:i+1], opt)
		if err != nil {
			t.Fatal(err)
		}
		opt.Identity = Identity{Backend: "endpoint", Endpoint: url, ModelName: "tiny"}
		r, err := Evaluate(t.Context(), &Endpoint{URL: url, Model: "tiny", APIKey: "k", MaxLength: maxLen, Concurrency: 8}, data[i:i+1], opt)
		if err != nil {
			t.Fatal(err)
		}
		local.Tasks, remote.Tasks = append(local.Tasks, l.Tasks...), append(remote.Tasks, r.Tasks...)
		local.ConfigHash, remote.ConfigHash, local.Config = l.ConfigHash, r.ConfigHash, l.Config
	}
	if local.Tasks[1].Requests <= len(local.Tasks[1].Records) {
		t.Errorf("perplexity: %d requests for %d documents; want several windows", local.Tasks[1].Requests, len(local.Tasks[1].Records))
	}
	for ti := range local.Tasks {
		lt, rt := local.Tasks[ti], remote.Tasks[ti]
		if len(lt.Records) != len(rt.Records) || len(lt.Records) == 0 {
			t.Fatalf("%s: %d and %d records", lt.Task, len(lt.Records), len(rt.Records))
		}
		for i, lr := range lt.Records {
			rr := rt.Records[i]
			if lr.LogLikelihood != nil {
				if math.Abs(*lr.LogLikelihood-*rr.LogLikelihood) > 1e-4 || *lr.LogLikelihood >= 0 {
					t.Errorf("%s item %s: %v in process, %v through the server", lt.Task, lr.ID, *lr.LogLikelihood, *rr.LogLikelihood)
				}
				continue
			}
			for c := range lr.LogLikelihoods {
				if math.Abs(lr.LogLikelihoods[c]-rr.LogLikelihoods[c]) > 1e-4 || lr.IsGreedy[c] != rr.IsGreedy[c] {
					t.Errorf("%s item %s choice %d: %v %v in process, %v %v through the server", lt.Task, lr.ID, c,
						lr.LogLikelihoods[c], lr.IsGreedy[c], rr.LogLikelihoods[c], rr.IsGreedy[c])
				}
			}
			if *lr.Pred != *rr.Pred {
				t.Errorf("%s item %s: predictions differ", lt.Task, lr.ID)
			}
		}
		for m := range lt.Metrics {
			if math.Abs(lt.Metrics[m].Value-rt.Metrics[m].Value) > 1e-6 {
				t.Errorf("%s %s: %v vs %v", lt.Task, lt.Metrics[m].Metric, lt.Metrics[m].Value, rt.Metrics[m].Value)
			}
		}
	}
	// Metrics follow from the records.
	copa := local.Tasks[0]
	var gold, pred []int
	for _, r := range copa.Records {
		gold, pred = append(gold, *r.Target), append(pred, *r.Pred)
		want := 0
		if r.LogLikelihoods[1] > r.LogLikelihoods[0] {
			want = 1
		}
		if *r.Pred != want {
			t.Errorf("item %s: pred %d for %v", r.ID, *r.Pred, r.LogLikelihoods)
		}
	}
	acc, _ := Accuracy(gold, pred)
	if copa.Metrics[0].Metric != MetricAcc || copa.Metrics[0].Value != acc || copa.Metrics[1].Value != MacroF1(gold, pred) {
		t.Errorf("metrics %+v, records give acc %v", copa.Metrics, acc)
	}
	// A random model is no better than chance on 40 items (a loose band:
	// 40 coin flips land in [0.2, 0.8] with probability 0.99996).
	if len(copa.Records) >= 40 && (acc < 0.2 || acc > 0.8) {
		t.Errorf("random model scores %v on COPA", acc)
	}
	if *copa.Metrics[0].Chance != 0.5 || local.ConfigHash == remote.ConfigHash {
		t.Errorf("chance %v; config hashes %s %s", *copa.Metrics[0].Chance, local.ConfigHash, remote.ConfigHash)
	}
	var sb strings.Builder
	if err := local.WriteTable(&sb); err != nil || !strings.Contains(sb.String(), "kobest_copa") || !strings.Contains(sb.String(), "bits_per_byte") {
		t.Errorf("table: %v\n%s", err, sb.String())
	}
}

// A request's log-likelihood is the sum of the continuation's token
// log-probabilities in one forward pass over context+continuation.
func TestEngineScoresContinuation(t *testing.T) {
	e := tinyEngine(t, 256)
	tok := e.Tokenizer()
	ctxIDs, cont, err := EncodePair(tok, "비가 많이 내렸다. 그래서", " 길이 젖었다.")
	if err != nil {
		t.Fatal(err)
	}
	res, err := (&Engine{Engine: e}).LogLikelihood(t.Context(), []Request{{ctxIDs, cont}})
	if err != nil {
		t.Fatal(err)
	}
	all := append(append([]int(nil), ctxIDs...), cont...)
	logits, err := e.Model().Forward(all)
	if err != nil {
		t.Fatal(err)
	}
	var want float64
	for i := len(ctxIDs); i < len(all); i++ {
		row := logits[i-1]
		mx := math.Inf(-1)
		for _, v := range row {
			mx = math.Max(mx, float64(v))
		}
		var s float64
		for _, v := range row {
			s += math.Exp(float64(v) - mx)
		}
		want += float64(row[all[i]]) - mx - math.Log(s)
	}
	if math.Abs(res[0].LogLikelihood-want) > 1e-3 {
		t.Errorf("engine %v, direct %v", res[0].LogLikelihood, want)
	}
}

// The endpoint backend retries 429 (honouring Retry-After) and 5xx, and
// gives up at once on other errors.
func TestEndpointRetries(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		var body completionBody
		json.NewDecoder(r.Body).Decode(&body)
		switch {
		case r.URL.Path != "/v1/completions" || r.Header.Get("Authorization") != "Bearer key":
			http.Error(w, "bad request", http.StatusBadRequest)
		case n == 1:
			w.Header().Set("Retry-After", "1")
			http.Error(w, `{"error":{"message":"busy"}}`, http.StatusTooManyRequests)
		case n == 2:
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
		default:
			if !body.Echo || body.Logprobs != 1 || body.MaxTokens != 0 || len(body.Prompt) != 3 {
				http.Error(w, "unexpected body", http.StatusBadRequest)
				return
			}
			io.WriteString(w, `{"choices":[{"logprobs":{"token_logprobs":[null,-1.5,-0.25],
				"top_logprobs":[{},{"a":-0.5},{"b":-0.25}]}}]}`)
		}
	}))
	defer srv.Close()
	b := &Endpoint{URL: srv.URL, Model: "m", APIKey: "key", Backoff: 10 * time.Millisecond}
	start := time.Now()
	res, err := b.LogLikelihood(t.Context(), []Request{{Context: []int{1}, Continuation: []int{2, 3}}})
	if err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 3 || time.Since(start) < time.Second {
		t.Errorf("%d calls in %v; want 3, after waiting Retry-After", calls.Load(), time.Since(start))
	}
	if res[0].LogLikelihood != -1.75 || res[0].IsGreedy {
		t.Errorf("result %+v", res[0])
	}
	calls.Store(100)
	b.APIKey = "wrong"
	if _, err := b.LogLikelihood(t.Context(), []Request{{Context: []int{1}, Continuation: []int{2, 3}}}); err == nil || calls.Load() != 101 || !strings.Contains(err.Error(), "HTTP 400") {
		t.Errorf("a 400 was retried or not reported: %v (%d calls)", err, calls.Load()-100)
	}
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	if d := retryAfter("Wed, 01 Jan 2025 00:00:07 GMT", now); d != 7*time.Second {
		t.Errorf("Retry-After date: %v", d)
	}
	if retryAfter("soon", now) != 0 || retryAfter("2", now) != 2*time.Second {
		t.Error("Retry-After parsing")
	}
}
