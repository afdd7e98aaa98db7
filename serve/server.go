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
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
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
	// Embedders are encoders served at /v1/embeddings; Rerankers,
	// cross-encoders at /v1/rerank.
	Embedders []*Embedder
	Rerankers []*Reranker
	// APIKey, when set, is required as "Authorization: Bearer KEY" on /v1/.
	APIKey string
	// MaxBodyBytes bounds request bodies (413 beyond; default 4 MiB).
	MaxBodyBytes int64
	// MaxPromptTokens bounds prompts (413 beyond; default: the model's
	// context).
	MaxPromptTokens int
	// MaxPrompts bounds the prompts of one completions request (400
	// beyond; default 64).
	MaxPrompts int
	// CORSOrigins are the browser origins ("https://app.example.com", or
	// "*" for any) whose cross-origin requests are served. A request that
	// carries any other Origin is refused with 403: without this, any web
	// page a user opens could drive a keyless server on localhost.
	CORSOrigins []string
	// AllowedHosts are Host names requests may address besides loopback
	// names ("*": any). Empty: any for a server on a public address; a
	// server listening on a loopback address (Run) answers only loopback
	// names, which a DNS-rebinding page cannot send.
	AllowedHosts []string
	// ReadTimeout bounds reading a request, body included (default 30 s):
	// a client that trickles its body is cut off with 408.
	ReadTimeout time.Duration
	// WriteTimeout bounds each write of a response (default 60 s): the
	// whole body of a plain response, each event of a stream, so that a
	// long generation streams as long as the client reads.
	WriteTimeout time.Duration
	// IdleTimeout closes keep-alive connections idle this long (default
	// 60 s).
	IdleTimeout time.Duration
	// MaxConns bounds open connections (default 512); one more is
	// answered 503 and closed.
	MaxConns int
	Log      *slog.Logger
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
	routes  map[string]string // path → method
	// loopbackOnly: Run listens on a loopback address.
	loopbackOnly atomic.Bool
	grammars     grammarCache
	embedders    map[string]*Embedder
	rerankers    map[string]*Reranker
}

type metrics struct {
	requests             *prometheus.CounterVec
	promptTokens         *prometheus.CounterVec
	completionTokens     *prometheus.CounterVec
	ttft                 *prometheus.HistogramVec
	decodeRate           *prometheus.HistogramVec
	queue, running, kvcb *prometheus.GaugeVec
}

// New returns a server for models and opt.Embedders (at least one in
// all; names must differ).
func New(models []*Model, opt Options) (*Server, error) {
	if len(models)+len(opt.Embedders)+len(opt.Rerankers) == 0 {
		return nil, errors.New("serve: no model")
	}
	if opt.MaxBodyBytes <= 0 {
		opt.MaxBodyBytes = 4 << 20
	}
	if opt.MaxPrompts <= 0 {
		opt.MaxPrompts = 64
	}
	if opt.ReadTimeout <= 0 {
		opt.ReadTimeout = 30 * time.Second
	}
	if opt.WriteTimeout <= 0 {
		opt.WriteTimeout = 60 * time.Second
	}
	if opt.IdleTimeout <= 0 {
		opt.IdleTimeout = 60 * time.Second
	}
	if opt.MaxConns <= 0 {
		opt.MaxConns = 512
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
	s.embedders = map[string]*Embedder{}
	for _, e := range opt.Embedders {
		if _, dup := s.models[e.Name]; dup || s.embedders[e.Name] != nil || e.Name == "" {
			return nil, fmt.Errorf("serve: model name %q is empty or given twice", e.Name)
		}
		s.embedders[e.Name] = e
		s.names = append(s.names, e.Name)
	}
	s.rerankers = map[string]*Reranker{}
	for _, rr := range opt.Rerankers {
		if _, dup := s.models[rr.Name]; dup || s.embedders[rr.Name] != nil || s.rerankers[rr.Name] != nil || rr.Name == "" {
			return nil, fmt.Errorf("serve: model name %q is empty or given twice", rr.Name)
		}
		s.rerankers[rr.Name] = rr
		s.names = append(s.names, rr.Name)
	}
	sort.Strings(s.names)
	s.initMetrics()
	s.mux = http.NewServeMux()
	s.routes = map[string]string{}
	s.handle("GET", "/health", s.health)
	s.handle("GET", "/metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}).ServeHTTP)
	s.handle("GET", "/v1/models", s.auth(s.listModels))
	s.handle("POST", "/v1/completions", s.auth(s.completions))
	s.handle("POST", "/v1/chat/completions", s.auth(s.chat))
	s.handle("POST", "/v1/embeddings", s.auth(s.embeddings))
	s.handle("POST", "/v1/rerank", s.auth(s.rerank))
	return s, nil
}

// handle registers a route: one method (GET also answers HEAD) per path.
func (s *Server) handle(method, path string, h http.HandlerFunc) {
	s.mux.HandleFunc(method+" "+path, h)
	s.routes[path] = method
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
		m, ok := s.models[name]
		if !ok {
			continue // an embedder: no decoding engine
		}
		e := m.Engine
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

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ServeHTTP implements http.Handler: host and origin checks, routing
// (404 for unknown paths, 405 with Allow for a known path's other
// methods), and a recovered panic answered 500 instead of ending the
// process.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w}
	start := time.Now()
	endpoint := r.URL.Path
	if _, ok := s.routes[endpoint]; !ok {
		endpoint = "other"
	}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log.Error("request handler panicked", "method", r.Method, "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
			if sw.code == 0 {
				s.fail(sw, r, http.StatusInternalServerError, "server_error", "internal_error", "internal server error")
			}
		}
		s.m.requests.WithLabelValues(endpoint, fmt.Sprint(sw.code)).Inc()
		s.log.Info("request", "method", r.Method, "path", r.URL.Path, "code", sw.code, "seconds", time.Since(start).Seconds())
	}()
	// Deadlines are set per write (see Options.WriteTimeout); a previous
	// request's on this connection must not cut this one short.
	http.NewResponseController(sw).SetWriteDeadline(time.Time{})
	if !s.checkHost(sw, r) || !s.checkOrigin(sw, r) {
		return
	}
	method, known := s.routes[r.URL.Path]
	switch {
	case !known:
		s.fail(sw, r, http.StatusNotFound, "invalid_request_error", "not_found", fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path))
	case r.Method != method && !(method == "GET" && r.Method == "HEAD"):
		allow := method
		if method == "GET" {
			allow = "GET, HEAD"
		}
		sw.Header().Set("Allow", allow)
		s.fail(sw, r, http.StatusMethodNotAllowed, "invalid_request_error", "method_not_allowed", fmt.Sprintf("%s %s: this route takes %s", r.Method, r.URL.Path, allow))
	default:
		s.mux.ServeHTTP(sw, r)
	}
}

// checkHost refuses Host names the server does not answer to: loopback
// names are always answered, AllowedHosts too; other names only by a
// server that is not on loopback and has no AllowedHosts.
func (s *Server) checkHost(w http.ResponseWriter, r *http.Request) bool {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if isLoopbackName(host) || (len(s.opt.AllowedHosts) == 0 && !s.loopbackOnly.Load()) {
		return true
	}
	for _, a := range s.opt.AllowedHosts {
		if a == "*" || strings.EqualFold(a, host) {
			return true
		}
	}
	why := "this server answers localhost names only, as it listens on loopback"
	if len(s.opt.AllowedHosts) > 0 {
		why = "this server answers localhost names and " + strings.Join(s.opt.AllowedHosts, ", ")
	}
	s.fail(w, r, http.StatusForbidden, "invalid_request_error", "host_not_allowed",
		fmt.Sprintf("Host %q is not served here: %s (--allowed-host %s adds it)", r.Host, why, host))
	return false
}

func isLoopbackName(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkOrigin refuses browser requests from origins not in CORSOrigins,
// answers their preflight requests, and marks allowed responses. The
// server has no pages of its own, so any Origin is another site's.
func (s *Server) checkOrigin(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	allowed := ""
	for _, o := range s.opt.CORSOrigins {
		if o == "*" || o == origin {
			allowed = o
			break
		}
	}
	if allowed == "" {
		s.fail(w, r, http.StatusForbidden, "invalid_request_error", "origin_not_allowed",
			fmt.Sprintf("cross-origin request from %s refused: start the server with --cors-origin %s to serve that site", origin, origin))
		return false
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", allowed)
	h.Add("Vary", "Origin")
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		h.Set("Access-Control-Allow-Methods", "GET, POST")
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
		h.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return false
	}
	return true
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
	s.respond(w, http.StatusOK, map[string]any{"status": "ok", "models": s.names})
}

func (s *Server) listModels(w http.ResponseWriter, r *http.Request) {
	out := modelList{Object: "list"}
	for _, n := range s.names {
		out.Data = append(out.Data, modelEntry{ID: n, Object: "model", Created: s.created, OwnedBy: "dokja"})
	}
	s.respond(w, http.StatusOK, out)
}

// respond writes v as the JSON response, within the write timeout.
func (s *Server) respond(w http.ResponseWriter, code int, v any) {
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.opt.WriteTimeout))
	writeJSON(w, code, v)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// fail writes an OpenAI-shaped error.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, code int, typ, errCode, msg string) {
	s.failParam(w, r, code, typ, errCode, "", msg)
}

// failParam is fail naming the request parameter at fault.
func (s *Server) failParam(w http.ResponseWriter, r *http.Request, code int, typ, errCode, param, msg string) {
	var e apiError
	e.Error.Message, e.Error.Type = msg, typ
	if errCode != "" {
		e.Error.Code = &errCode
	}
	if param != "" {
		e.Error.Param = &param
	}
	s.respond(w, code, e)
}

// decode reads a JSON body: application/json, within the size limit and
// the read timeout, one object and nothing after it. (Once the body is
// in, net/http lifts the read deadline itself: generating may take
// longer than reading.)
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		s.fail(w, r, http.StatusUnsupportedMediaType, "invalid_request_error", "unsupported_media_type",
			fmt.Sprintf("request body must be JSON sent as Content-Type: application/json (got %q)", r.Header.Get("Content-Type")))
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.opt.MaxBodyBytes)
	dec := json.NewDecoder(r.Body)
	// A field Dokja does not implement is refused by name rather than
	// silently ignored.
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			err = errors.New("trailing data after the JSON object")
			if extra != nil && !errors.Is(extra, io.ErrUnexpectedEOF) && !isSyntax(extra) {
				err = extra // a read error: the size limit or the timeout
			}
		}
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		var ne net.Error
		switch {
		case errors.As(err, &tooBig):
			s.fail(w, r, http.StatusRequestEntityTooLarge, "invalid_request_error", "request_too_large", fmt.Sprintf("request body exceeds %d bytes", s.opt.MaxBodyBytes))
		case errors.As(err, &ne) && ne.Timeout():
			w.Header().Set("Connection", "close")
			s.fail(w, r, http.StatusRequestTimeout, "invalid_request_error", "request_timeout", fmt.Sprintf("request body not received within %s", s.opt.ReadTimeout))
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			s.failParam(w, r, http.StatusBadRequest, "invalid_request_error", "unsupported_parameter", field,
				fmt.Sprintf("unsupported parameter %q: Dokja does not implement it (and refuses rather than ignores it)", field))
		default:
			s.fail(w, r, http.StatusBadRequest, "invalid_request_error", "invalid_json", "request body: "+err.Error())
		}
		return false
	}
	return true
}

func isSyntax(err error) bool {
	var se *json.SyntaxError
	return errors.As(err, &se)
}

// model finds the requested model; with one model served an empty name
// selects it.
func (s *Server) model(w http.ResponseWriter, r *http.Request, name string) *Model {
	if m, ok := s.models[name]; ok {
		return m
	}
	if name == "" && len(s.names) == 1 && s.models[s.names[0]] != nil {
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
// no new connections, running requests get grace to finish. Headers must
// arrive within 10 s and the whole request within ReadTimeout; idle
// keep-alive connections close after IdleTimeout; at most MaxConns are
// open at once.
func (s *Server) Run(ctx context.Context, addr string, grace time.Duration, ready func(net.Addr)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	if ta, ok := ln.Addr().(*net.TCPAddr); ok && ta.IP.IsLoopback() {
		s.loopbackOnly.Store(true)
	}
	hs := &http.Server{Handler: s, ReadHeaderTimeout: min(10*time.Second, s.opt.ReadTimeout), ReadTimeout: s.opt.ReadTimeout,
		IdleTimeout: s.opt.IdleTimeout, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(&limitListener{Listener: ln, max: int64(s.opt.MaxConns)}) }()
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

// limitListener accepts at most max open connections. One more is
// answered with a 503 at once and closed, rather than left waiting in
// the kernel's backlog with no word to the client.
type limitListener struct {
	net.Listener
	max  int64
	open atomic.Int64
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) > l.max {
			l.open.Add(-1)
			c.SetWriteDeadline(time.Now().Add(time.Second))
			io.WriteString(c, tooManyConns)
			c.Close()
			continue
		}
		return &limitedConn{Conn: c, l: l}, nil
	}
}

// tooManyConns is the whole 503 response to a connection over the limit.
var tooManyConns = func() string {
	body := `{"error":{"message":"too many open connections; retry shortly","type":"server_error","code":"too_many_conns"}}`
	return fmt.Sprintf("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
}()

type limitedConn struct {
	net.Conn
	l    *limitListener
	once sync.Once
}

func (c *limitedConn) Close() error {
	c.once.Do(func() { c.l.open.Add(-1) })
	return c.Conn.Close()
}

// Start runs the server on a free loopback port in the background, for a
// caller in the same process (an agent, the demo), and returns its OpenAI
// base URL (http://127.0.0.1:PORT/v1/) and a function that shuts it down.
func (s *Server) Start(ctx context.Context) (base string, stop func() error, err error) {
	ctx, cancel := context.WithCancel(ctx)
	addrc := make(chan net.Addr, 1)
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx, "127.0.0.1:0", 5*time.Second, func(a net.Addr) { addrc <- a }) }()
	select {
	case a := <-addrc:
		return "http://" + a.String() + "/v1/", func() error {
			cancel()
			if err := <-errc; err != nil && !errors.Is(err, context.Canceled) {
				return err
			}
			return nil
		}, nil
	case err := <-errc:
		cancel()
		return "", nil, fmt.Errorf("server: %w", err)
	}
}

// StartModel loads a model (a checkpoint folder or GGUF file, see Load),
// serves it alone on a free loopback port (Start), and returns it with
// its OpenAI base URL; stop shuts the server down and frees the engine.
func StartModel(ctx context.Context, path string, opt infer.EngineOptions) (m *Model, base string, stop func() error, err error) {
	m, err = Load(path, "", opt)
	if err != nil {
		return nil, "", nil, err
	}
	s, err := New([]*Model{m}, Options{Log: slog.New(slog.DiscardHandler)})
	if err == nil {
		var stopServer func() error
		if base, stopServer, err = s.Start(ctx); err == nil {
			return m, base, func() error {
				defer m.Engine.Close()
				return stopServer()
			}, nil
		}
	}
	m.Engine.Close()
	return nil, "", nil, err
}
