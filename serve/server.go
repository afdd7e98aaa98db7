// Package serve is Dokja's OpenAI-compatible HTTP server: chat and text
// completions (plain and streamed as server-sent events, with
// log-probabilities and prompt echo for evaluation harnesses), model
// listing, health and Prometheus metrics, over one continuous-batching
// engine per model.
package serve

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/dokja/dokja/infer"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Model is one served model: its name in requests, its engine and its
// chat template.
type Model struct {
	Name   string
	Engine *infer.Engine
	Chat   *infer.ChatTemplate
}

// Options configure a Server.
type Options struct {
	// APIKey, when set, is required as "Authorization: Bearer KEY" on /v1/.
	APIKey string
	// MaxBodyBytes bounds request bodies (413 beyond; default 4 MiB).
	MaxBodyBytes int64
	// MaxPromptTokens bounds prompts (413 beyond; default: the model's
	// context).
	MaxPromptTokens int
	// MaxTokensDefault is max_tokens when a chat request leaves it out
	// (default: what the context leaves).
	Log *slog.Logger
}

// Server answers the OpenAI API for a set of models.
type Server struct {
	models  map[string]*Model
	names   []string
	opt     Options
	log     *slog.Logger
	reg     *prometheus.Registry
	created int64
	m       metrics
	mux     *http.ServeMux
}

type metrics struct {
	requests             *prometheus.CounterVec
	promptTokens         *prometheus.CounterVec
	completionTokens     *prometheus.CounterVec
	ttft                 *prometheus.HistogramVec
	decodeRate           *prometheus.HistogramVec
	queue, running, kvcb *prometheus.GaugeVec
}

// New returns a server for models (at least one; names must differ).
func New(models []*Model, opt Options) (*Server, error) {
	if len(models) == 0 {
		return nil, errors.New("serve: no model")
	}
	if opt.MaxBodyBytes <= 0 {
		opt.MaxBodyBytes = 4 << 20
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	s := &Server{models: map[string]*Model{}, opt: opt, log: opt.Log, reg: prometheus.NewRegistry(), created: time.Now().Unix()}
	for _, m := range models {
		if _, dup := s.models[m.Name]; dup || m.Name == "" {
			return nil, fmt.Errorf("serve: model name %q is empty or given twice", m.Name)
		}
		s.models[m.Name] = m
		s.names = append(s.names, m.Name)
	}
	sort.Strings(s.names)
	s.initMetrics()
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET /health", s.health)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	s.mux.HandleFunc("GET /v1/models", s.auth(s.listModels))
	s.mux.HandleFunc("POST /v1/completions", s.auth(s.completions))
	s.mux.HandleFunc("POST /v1/chat/completions", s.auth(s.chat))
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, http.StatusNotFound, "invalid_request_error", "not_found", fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path))
	})
	return s, nil
}

func (s *Server) initMetrics() {
	f := prometheus.WrapRegistererWithPrefix("dokja_", s.reg)
	s.m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "requests_total", Help: "HTTP requests by endpoint and status code."}, []string{"endpoint", "code"})
	s.m.promptTokens = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "prompt_tokens_total", Help: "Prompt tokens processed."}, []string{"model"})
	s.m.completionTokens = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "completion_tokens_total", Help: "Tokens generated."}, []string{"model"})
	s.m.ttft = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "time_to_first_token_seconds", Help: "Time from request to first generated token.",
		Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)}, []string{"model"})
	s.m.decodeRate = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "decode_tokens_per_second", Help: "Generated tokens per second of each request after its first token.",
		Buckets: prometheus.ExponentialBuckets(1, 2, 12)}, []string{"model"})
	f.MustRegister(s.m.requests, s.m.promptTokens, s.m.completionTokens, s.m.ttft, s.m.decodeRate)
	for _, name := range s.names {
		e := s.models[name].Engine
		labels := prometheus.Labels{"model": name}
		f.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "queue_depth", Help: "Requests waiting for a decoding slot.", ConstLabels: labels},
				func() float64 { return float64(e.Stats().Queued) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "running_sequences", Help: "Sequences decoding now.", ConstLabels: labels},
				func() float64 { return float64(e.Stats().Running) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "kv_cache_bytes", Help: "Memory held by the running sequences' key/value caches.", ConstLabels: labels},
				func() float64 { return float64(e.Stats().CacheBytes) }),
		)
	}
}

// statusWriter records the status code for the request counter.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w}
	start := time.Now()
	s.mux.ServeHTTP(sw, r)
	endpoint := r.URL.Path
	switch endpoint {
	case "/health", "/metrics", "/v1/models", "/v1/completions", "/v1/chat/completions":
	default:
		endpoint = "other"
	}
	s.m.requests.WithLabelValues(endpoint, fmt.Sprint(sw.code)).Inc()
	s.log.Info("request", "method", r.Method, "path", r.URL.Path, "code", sw.code, "seconds", time.Since(start).Seconds())
}

// auth checks the API key, when one is set.
func (s *Server) auth(h http.HandlerFunc) http.HandlerFunc {
	if s.opt.APIKey == "" {
		return h
	}
	want := []byte("Bearer " + s.opt.APIKey)
	return func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			s.fail(w, r, http.StatusUnauthorized, "authentication_error", "invalid_api_key", "missing or incorrect API key: send Authorization: Bearer KEY")
			return
		}
		h(w, r)
	}
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "models": s.names})
}

func (s *Server) listModels(w http.ResponseWriter, r *http.Request) {
	out := modelList{Object: "list"}
	for _, n := range s.names {
		out.Data = append(out.Data, modelEntry{ID: n, Object: "model", Created: s.created, OwnedBy: "dokja"})
	}
	writeJSON(w, http.StatusOK, out)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// fail writes an OpenAI-shaped error.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, code int, typ, errCode, msg string) {
	var e apiError
	e.Error.Message, e.Error.Type = msg, typ
	if errCode != "" {
		e.Error.Code = &errCode
	}
	writeJSON(w, code, e)
}

// decode reads a JSON body within the size limit.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	r.Body = http.MaxBytesReader(w, r.Body, s.opt.MaxBodyBytes)
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.fail(w, r, http.StatusRequestEntityTooLarge, "invalid_request_error", "request_too_large", fmt.Sprintf("request body exceeds %d bytes", s.opt.MaxBodyBytes))
			return false
		}
		s.fail(w, r, http.StatusBadRequest, "invalid_request_error", "invalid_json", "request body: "+err.Error())
		return false
	}
	return true
}

// model finds the requested model; with one model served an empty name
// selects it.
func (s *Server) model(w http.ResponseWriter, r *http.Request, name string) *Model {
	if m, ok := s.models[name]; ok {
		return m
	}
	if name == "" && len(s.names) == 1 {
		return s.models[s.names[0]]
	}
	s.fail(w, r, http.StatusNotFound, "invalid_request_error", "model_not_found", fmt.Sprintf("model %q is not served here (models: %s)", name, strings.Join(s.names, ", ")))
	return nil
}

func newID(prefix string) string {
	var b [12]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// Run serves on addr until ctx is cancelled, then shuts down gracefully:
// no new connections, running requests get grace to finish.
func (s *Server) Run(ctx context.Context, addr string, grace time.Duration, ready func(net.Addr)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	if ready != nil {
		ready(ln.Addr())
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err = hs.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		hs.Close()
	}
	return err
}
