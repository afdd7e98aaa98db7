package serve

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dokja/dokja/infer"
)

// post sends body to path with the given headers and returns the status,
// the headers and the body.
func post(t *testing.T, method, url, body string, headers ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i] == "Host" {
			req.Host = headers[i+1]
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(data)
}

// Every number a client sends is checked before it sizes anything: a
// max_tokens near the largest int used to overflow the context check and
// panic the server.
func TestNumericFieldsAtTheEdge(t *testing.T) {
	e, _, _ := tinyEngine(t, infer.EngineOptions{})
	base := startServer(t, Options{}, chatModel(t, e))
	chat := func(extra string) string {
		return `{"model": "tiny", "messages": [{"role": "user", "content": "hi"}]` + extra + `}`
	}
	comp := func(extra string) string { return `{"model": "tiny", "prompt": "hi"` + extra + `}` }
	for _, tc := range []struct {
		path, body string
		status     int
		mention    string
	}{
		{"/v1/completions", comp(`, "max_tokens": 9223372036854775807`), 400, "exceed the context"},
		{"/v1/completions", comp(`, "max_tokens": 9223372036854775807, "stream": true`), 400, "exceed the context"},
		{"/v1/completions", comp(`, "max_tokens": -1`), 400, "max_tokens"},
		{"/v1/completions", comp(`, "max_tokens": 1e30`), 400, "max_tokens"},
		{"/v1/chat/completions", chat(`, "max_tokens": 9223372036854775807`), 400, "exceed the context"},
		{"/v1/chat/completions", chat(`, "max_tokens": 9223372036854775807, "stream": true`), 400, "exceed the context"},
		{"/v1/chat/completions", chat(`, "max_completion_tokens": 9223372036854775807`), 400, "exceed the context"},
		{"/v1/chat/completions", chat(`, "max_tokens": -1`), 400, "max_tokens"},
		{"/v1/chat/completions", chat(`, "max_completion_tokens": 0`), 400, "max_completion_tokens"},
		{"/v1/chat/completions", chat(`, "presence_penalty": 3`), 400, "presence_penalty"},
		{"/v1/chat/completions", chat(`, "frequency_penalty": -2.5`), 400, "frequency_penalty"},
		{"/v1/chat/completions", chat(`, "repetition_penalty": -1`), 400, "repetition_penalty"},
		{"/v1/chat/completions", chat(`, "top_k": -3`), 400, "top_k"},
		{"/v1/chat/completions", chat(`, "n": 9223372036854775807`), 400, "n "},
		{"/v1/chat/completions", chat(`, "seed": -1`), 400, "seed"},
		{"/v1/chat/completions", chat(`, "top_logprobs": 99999, "logprobs": true`), 400, "top_logprobs"},
		{"/v1/completions", comp(`, "logprobs": 21`), 400, "logprobs"},
	} {
		code, _, body := post(t, "POST", base+tc.path, tc.body)
		if code != tc.status || !strings.Contains(body, tc.mention) {
			t.Errorf("%s %s: %d %s, want %d naming %q", tc.path, tc.body, code, body, tc.status, tc.mention)
		}
	}
	if code, _, _ := post(t, "GET", base+"/health", ""); code != 200 {
		t.Fatalf("the server did not survive: /health %d", code)
	}
}

// A request with more prompts than the limit is refused before any is
// tokenized, with the limit in the message.
func TestTooManyPrompts(t *testing.T) {
	e, _, _ := tinyEngine(t, infer.EngineOptions{})
	base := startServer(t, Options{MaxPrompts: 3}, chatModel(t, e))
	code, _, body := post(t, "POST", base+"/v1/completions", `{"model": "tiny", "prompt": ["a", "b", "c", "d"], "max_tokens": 1}`)
	if code != 400 || !strings.Contains(body, "at most 3") {
		t.Errorf("four prompts over a limit of 3: %d %s", code, body)
	}
	code, _, body = post(t, "POST", base+"/v1/completions", `{"model": "tiny", "prompt": ["a", "b", "c"], "max_tokens": 1}`)
	if code != 200 || strings.Count(body, `"finish_reason"`) != 3 {
		t.Errorf("three prompts: %d %s", code, body)
	}
}

// A panic in a handler, or in a goroutine a request starts, answers 500
// and leaves the server running.
func TestPanicsAreRecovered(t *testing.T) {
	e, _, _ := tinyEngine(t, infer.EngineOptions{})
	base := startServer(t, Options{}, chatModel(t, e), &Model{Name: "broken"}) // no engine: the handler panics
	code, _, body := post(t, "POST", base+"/v1/completions", `{"model": "broken", "prompt": "hi"}`)
	if code != 500 || !strings.Contains(body, "internal") {
		t.Errorf("handler panic: %d %s", code, body)
	}
	testHookPrompt = func(i int) {
		if i == 1 {
			panic("test: a prompt's goroutine panics")
		}
	}
	defer func() { testHookPrompt = nil }()
	code, _, body = post(t, "POST", base+"/v1/completions", `{"model": "tiny", "prompt": ["a", "b"], "max_tokens": 2}`)
	if code != 500 || !strings.Contains(body, "internal error") {
		t.Errorf("panic in a prompt's goroutine: %d %s", code, body)
	}
	testHookPrompt = nil
	if code, _, body := post(t, "POST", base+"/v1/completions", `{"model": "tiny", "prompt": "hi", "max_tokens": 2}`); code != 200 {
		t.Fatalf("after the panics: %d %s", code, body)
	}
}

// Routing: a known path with another method is 405 with Allow; unknown
// paths 404; bodies must be one JSON object sent as application/json.
func TestMethodsAndBodies(t *testing.T) {
	e, _, _ := tinyEngine(t, infer.EngineOptions{})
	base := startServer(t, Options{}, chatModel(t, e))
	good := `{"model": "tiny", "prompt": "hi", "max_tokens": 1}`
	for _, tc := range []struct {
		method, path, body, ctype string
		status                    int
		allow                     string
	}{
		{"GET", "/v1/chat/completions", "", "", 405, "POST"},
		{"PUT", "/v1/completions", good, "application/json", 405, "POST"},
		{"POST", "/health", "", "", 405, "GET, HEAD"},
		{"DELETE", "/v1/models", "", "", 405, "GET, HEAD"},
		{"HEAD", "/health", "", "", 200, ""},
		{"GET", "/v2/nothing", "", "", 404, ""},
		{"POST", "/v1/completions", good + ` {"model": "tiny"}`, "application/json", 400, ""},
		{"POST", "/v1/completions", good + `garbage`, "application/json", 400, ""},
		{"POST", "/v1/completions", good + "\n", "application/json", 200, ""},
		{"POST", "/v1/completions", good, "application/json; charset=utf-8", 200, ""},
		{"POST", "/v1/completions", good, "text/plain", 415, ""},
		{"POST", "/v1/completions", good, "application/x-www-form-urlencoded", 415, ""},
		{"POST", "/v1/completions", good, "", 415, ""},
	} {
		req, _ := http.NewRequest(tc.method, base+tc.path, strings.NewReader(tc.body))
		if tc.ctype != "" {
			req.Header.Set("Content-Type", tc.ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || resp.Header.Get("Allow") != tc.allow || (tc.status >= 400 && tc.method != "HEAD" && !strings.Contains(string(data), `"error"`)) {
			t.Errorf("%s %s %q (%s): %d Allow %q %s, want %d Allow %q", tc.method, tc.path, tc.body, tc.ctype, resp.StatusCode, resp.Header.Get("Allow"), data, tc.status, tc.allow)
		}
	}
}

// Browser requests from other sites are refused unless allowed; allowed
// ones get CORS headers and their preflight answered. Host names other
// than loopback ones are refused by a server on loopback (DNS
// rebinding).
func TestOriginAndHost(t *testing.T) {
	e, _, _ := tinyEngine(t, infer.EngineOptions{})
	keyless := startServer(t, Options{}, chatModel(t, e))
	body := `{"model": "tiny", "prompt": "hi", "max_tokens": 1}`
	code, _, resp := post(t, "POST", keyless+"/v1/completions", body, "Origin", "http://evil.example")
	if code != 403 || !strings.Contains(resp, "--cors-origin http://evil.example") {
		t.Errorf("foreign origin: %d %s", code, resp)
	}
	if code, _, resp := post(t, "GET", keyless+"/v1/models", "", "Host", "evil.example:8080"); code != 403 || !strings.Contains(resp, "Host") {
		t.Errorf("foreign Host on a loopback server: %d %s", code, resp)
	}
	for _, host := range []string{"localhost", "localhost:1234", "127.0.0.1:80", "[::1]:8080"} {
		if code, _, resp := post(t, "GET", keyless+"/v1/models", "", "Host", host); code != 200 {
			t.Errorf("Host %s: %d %s", host, code, resp)
		}
	}

	e2, _, _ := tinyEngine(t, infer.EngineOptions{})
	open := startServer(t, Options{CORSOrigins: []string{"http://app.example"}, AllowedHosts: []string{"models.internal"}}, chatModel(t, e2))
	code, h, resp := post(t, "POST", open+"/v1/completions", body, "Origin", "http://app.example")
	if code != 200 || h.Get("Access-Control-Allow-Origin") != "http://app.example" {
		t.Errorf("allowed origin: %d %v %s", code, h, resp)
	}
	code, h, _ = post(t, "OPTIONS", open+"/v1/chat/completions", "", "Origin", "http://app.example", "Access-Control-Request-Method", "POST",
		"Access-Control-Request-Headers", "authorization, content-type")
	if code != 204 || !strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") || !strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("preflight: %d %v", code, h)
	}
	if code, _, _ := post(t, "POST", open+"/v1/completions", body, "Origin", "http://other.example"); code != 403 {
		t.Errorf("origin not in the list: %d", code)
	}
	if code, _, _ := post(t, "GET", open+"/v1/models", "", "Host", "models.internal"); code != 200 {
		t.Errorf("allowed host: %d", code)
	}
	if code, _, _ := post(t, "GET", open+"/v1/models", "", "Host", "localhost"); code != 200 {
		t.Errorf("loopback name beside --allowed-host: %d", code)
	}
	if code, _, _ := post(t, "GET", open+"/v1/models", "", "Host", "evil.example"); code != 403 {
		t.Errorf("host outside --allowed-host: %d", code)
	}
}

// dial opens a raw connection to the server at base.
func dial(t *testing.T, base string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// A client that trickles its body is cut off with 408 at the read
// timeout; an idle keep-alive connection is closed at the idle timeout;
// a connection over the limit gets 503 at once.
func TestConnectionLimits(t *testing.T) {
	e, _, _ := tinyEngine(t, infer.EngineOptions{})
	base := startServer(t, Options{ReadTimeout: 300 * time.Millisecond, IdleTimeout: 300 * time.Millisecond, MaxConns: 2}, chatModel(t, e))

	slow := dial(t, base)
	fmt.Fprintf(slow, "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
	slow.SetReadDeadline(time.Now().Add(20 * time.Second))
	status, err := bufio.NewReader(slow).ReadString('\n')
	if err != nil || !strings.Contains(status, "408") {
		t.Errorf("trickled body: status %q, %v; want 408", status, err)
	}

	idle := dial(t, base)
	fmt.Fprintf(idle, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	idle.SetReadDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(idle)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("health on a raw connection: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("idle keep-alive connection: read %v, want the server to close it (EOF)", err)
	}

	// Two connections held open (each mid-request); the third is refused.
	for range 2 {
		c := dial(t, base)
		fmt.Fprintf(c, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil || resp.StatusCode != 200 {
			t.Fatalf("connection within the limit: %v", err)
		}
	}
	over := dial(t, base)
	over.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err = http.ReadResponse(bufio.NewReader(over), nil)
	if err != nil || resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("connection over the limit: %v %v, want 503 with Retry-After", resp, err)
	}
}

// A stream outlives the read and write timeouts: once the body is in,
// reading no longer has a deadline (whose expiry would cancel the
// request's context), and each event gets a write deadline of its own.
// Here the echo goes out, then the request is held past both timeouts,
// then it must stream to the end.
func TestStreamOutlivesTimeouts(t *testing.T) {
	e, _, _ := tinyEngine(t, infer.EngineOptions{MaxContext: 1000})
	const timeout = 200 * time.Millisecond
	base := startServer(t, Options{ReadTimeout: timeout, WriteTimeout: timeout}, chatModel(t, e))
	release := make(chan struct{})
	started := make(chan struct{})
	testHookPrompt = func(int) {
		close(started)
		<-release
	}
	defer func() { testHookPrompt = nil }()
	done := make(chan string, 1)
	go func() {
		code, _, body := post(t, "POST", base+"/v1/completions", `{"model": "tiny", "prompt": "hi", "max_tokens": 5, "stream": true, "echo": true}`)
		done <- fmt.Sprint(code, " ", body)
	}()
	<-started
	// The request is past its body and held; the time passing here is the
	// subject of the test.
	time.Sleep(2 * timeout)
	close(release)
	if got := <-done; !strings.HasPrefix(got, "200 ") || !strings.Contains(got, "data: [DONE]") || strings.Count(got, "data: ") < 3 {
		t.Fatalf("a stream older than the read and write timeouts: %q", got)
	}
}
