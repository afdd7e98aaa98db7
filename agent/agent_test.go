package agent

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

func TestEvaluate(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want float64
	}{
		{"2+2", 4},
		{"(3 + 4.5) * 2 ^ 10 / sqrt(2)", 7.5 * 1024 / math.Sqrt2},
		{"2^3^2", 512}, // right-associative
		{"-2^2", -4},
		{"10 % 4 - -3", 5},
		{"1_000_000 * 1e-3", 1000},
		{"round(pi * 100) / 100 + ln(e)", 4.14},
		{"abs(floor(-2.5)) + ceil(0.1) + log10(1000)", 7},
	} {
		got, err := Evaluate(tc.expr)
		if err != nil || math.Abs(got-tc.want) > 1e-9*math.Max(1, math.Abs(tc.want)) {
			t.Errorf("%s = %v (%v), want %v", tc.expr, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ expr, want string }{
		{"1/0", "division by zero"},
		{"2 +", "unexpected end"},
		{"os.exit(1)", `unknown name "os"`},
		{"(1", "missing )"},
		{"1 2", "unexpected"},
		{strings.Repeat("(", 200) + "1" + strings.Repeat(")", 200), "nested too deeply"},
		{"sqrt(-1)", "not a finite number"},
		{"10^400", "not a finite number"},
	} {
		if _, err := Evaluate(tc.expr); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.expr, err, tc.want)
		}
	}
}

func TestFileToolsStayInside(t *testing.T) {
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret.txt"), []byte("secret"), 0o644)
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "a.txt"), []byte("안녕"), 0o644)
	os.Mkdir(filepath.Join(root, "sub"), 0o755)
	os.WriteFile(filepath.Join(root, "sub", "big.txt"), []byte(strings.Repeat("x", maxRead+10)), 0o644)
	os.Symlink(filepath.Join(outside, "secret.txt"), filepath.Join(root, "link.txt"))
	tools, err := FileTools(root)
	if err != nil {
		t.Fatal(err)
	}
	read, list := tools[0], tools[1]
	call := func(tool Tool, path string) (string, error) {
		args, _ := json.Marshal(map[string]string{"path": path})
		return tool.Call(context.Background(), args)
	}
	if got, err := call(read, "a.txt"); err != nil || got != "안녕" {
		t.Errorf("read a.txt: %q %v", got, err)
	}
	if got, err := call(read, "/a.txt"); err != nil || got != "안녕" {
		t.Errorf("read /a.txt (the root's): %q %v", got, err)
	}
	if got, err := call(read, "sub/big.txt"); err != nil || len(got) < maxRead || !strings.HasSuffix(got, "[truncated at 64 KB]") {
		t.Errorf("read big: %d bytes %v", len(got), err)
	}
	for _, p := range []string{"../" + filepath.Base(outside) + "/secret.txt", "link.txt", "sub/../../x"} {
		if got, err := call(read, p); err == nil {
			t.Errorf("read %s: %q, want an error (outside the folder)", p, got)
		}
	}
	if got, err := call(list, "."); err != nil || got != "a.txt\nlink.txt\nsub/\n" {
		t.Errorf("list: %q %v", got, err)
	}
}

// fakeEndpoint is an OpenAI-compatible chat endpoint that answers from a
// script and keeps the requests it got.
type fakeEndpoint struct {
	mu       sync.Mutex
	script   []string // response bodies' "message" JSON, in order; the last repeats
	requests []map[string]any
}

func (f *fakeEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var req map[string]any
	json.Unmarshal(b, &req)
	f.mu.Lock()
	f.requests = append(f.requests, req)
	msg := f.script[min(len(f.requests), len(f.script))-1]
	f.mu.Unlock()
	finish := "stop"
	if strings.Contains(msg, "tool_calls") {
		finish = "tool_calls"
	}
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":`+msg+`,"finish_reason":"`+finish+`"}],"usage":{"prompt_tokens":10,"completion_tokens":7,"total_tokens":17}}`)
}

func fakeClient(t *testing.T, f *fakeEndpoint) openai.Client {
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return openai.NewClient(option.WithBaseURL(srv.URL+"/v1/"), option.WithAPIKey("k"), option.WithMaxRetries(0))
}

const callTwo = `{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"calculator","arguments":"{\"expression\":\"6*7\"}"}},{"id":"call_2","type":"function","function":{"name":"nope","arguments":"{}"}}]}`

func TestRunLoop(t *testing.T) {
	f := &fakeEndpoint{script: []string{callTwo, `{"role":"assistant","content":"답은 42입니다."}`}}
	var events []string
	res, err := Run(context.Background(), Options{Client: fakeClient(t, f), Model: "m", System: "sys", Tools: []Tool{Calculator()},
		FirstToolChoice: "required", OnEvent: func(e Event) { events = append(events, e.Kind+":"+e.Name) }}, "6 곱하기 7은?")
	if err != nil {
		t.Fatal(err)
	}
	if res.Answer != "답은 42입니다." || res.Stop != "answer" || res.Steps != 2 || res.CompletionTokens != 14 {
		t.Errorf("result %+v", res)
	}
	if len(res.Calls) != 2 || res.Calls[0].Result != "42" || res.Calls[1].Err == nil {
		t.Errorf("calls %+v", res.Calls)
	}
	if strings.Join(events, " ") != "call:calculator result:calculator call:nope result:nope answer:" {
		t.Errorf("events %v", events)
	}
	// The second request carries the calls' results, by call id, and
	// tool_choice went from required to auto.
	second := f.requests[1]
	msgs := second["messages"].([]any)
	var tool []string
	for _, m := range msgs {
		m := m.(map[string]any)
		if m["role"] == "tool" {
			tool = append(tool, m["tool_call_id"].(string)+"="+m["content"].(string))
		}
	}
	if strings.Join(tool, ";") != `call_1=42;call_2=error: there is no tool named "nope"` {
		t.Errorf("tool messages %v", tool)
	}
	if f.requests[0]["tool_choice"] != "required" || second["tool_choice"] != "auto" {
		t.Errorf("tool_choice %v then %v", f.requests[0]["tool_choice"], second["tool_choice"])
	}
	if len(msgs) != 5 || msgs[0].(map[string]any)["role"] != "system" {
		t.Errorf("%d messages: %v", len(msgs), msgs)
	}
}

func TestRunLimits(t *testing.T) {
	loop := &fakeEndpoint{script: []string{callTwo}}
	res, err := Run(context.Background(), Options{Client: fakeClient(t, loop), Model: "m", Tools: []Tool{Calculator()}, MaxSteps: 3}, "x")
	if err != nil || res.Stop != "max_steps" || res.Steps != 3 || len(loop.requests) != 3 {
		t.Errorf("max steps: %+v %v (%d requests)", res, err, len(loop.requests))
	}
	loop = &fakeEndpoint{script: []string{callTwo}}
	res, err = Run(context.Background(), Options{Client: fakeClient(t, loop), Model: "m", Tools: []Tool{Calculator()}, MaxTokens: 15}, "x")
	if err != nil || res.Stop != "max_tokens" || res.Steps != 3 {
		t.Errorf("max tokens: %+v %v", res, err)
	}
	if got := loop.requests[2]["max_tokens"]; got != float64(1) {
		t.Errorf("the last request's max_tokens %v, want what was left (1)", got)
	}
	// A tool that outlives its timeout is an error the model sees.
	hang := Tool{Name: "calculator", Call: func(ctx context.Context, _ json.RawMessage) (string, error) {
		<-ctx.Done()
		return "", ctx.Err()
	}}
	f := &fakeEndpoint{script: []string{callTwo, `{"role":"assistant","content":"ok"}`}}
	res, err = Run(context.Background(), Options{Client: fakeClient(t, f), Model: "m", Tools: []Tool{hang}, ToolTimeout: 10 * time.Millisecond}, "x")
	if err != nil || res.Answer != "ok" || res.Calls[0].Err == nil || !strings.Contains(res.Calls[0].Err.Error(), "deadline") {
		t.Errorf("tool timeout: %+v %v", res, err)
	}
	// The run's own timeout ends it with an error.
	f = &fakeEndpoint{script: []string{callTwo}}
	_, err = Run(context.Background(), Options{Client: fakeClient(t, f), Model: "m", Tools: []Tool{hang}, Timeout: 20 * time.Millisecond}, "x")
	if err == nil || !strings.Contains(err.Error(), "deadline") {
		t.Errorf("run timeout: %v", err)
	}
	if _, err := Run(context.Background(), Options{Client: fakeClient(t, f), Tools: []Tool{Calculator(), Calculator()}}, "x"); err == nil {
		t.Error("two tools of one name: no error")
	}
}
