package mcpserver_test

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dokja/dokja/agent"
	"github.com/dokja/dokja/index"
	"github.com/dokja/dokja/infer"
	"github.com/dokja/dokja/infer/infertest"
	"github.com/dokja/dokja/mcpserver"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// connect runs the server on in-memory transports and returns the
// client's session.
func connect(t *testing.T, opt mcpserver.Options) *mcp.ClientSession {
	t.Helper()
	s, err := mcpserver.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	st, ct := mcp.NewInMemoryTransports()
	ctx, cancel := context.WithCancel(context.Background())
	ss, err := s.Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close(); ss.Wait(); cancel() })
	return cs
}

// Dokja's tools through the SDK's client, as an agent sees them.
func TestToolsThroughClient(t *testing.T) {
	m, tok := infertest.TinyModel(t, 40)
	e, err := infer.NewEngine(m, tok, infer.EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	opt := mcpserver.Options{Engine: e}
	kobest := "../../shared/data/kobest"
	if _, err := os.Stat(kobest); err == nil {
		opt.KoBEST = kobest
	}
	cs := connect(t, opt)
	tools, err := agent.MCPTools(context.Background(), cs)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]agent.Tool{}
	for _, tl := range tools {
		byName[tl.Name] = tl
		var schema map[string]any
		if json.Unmarshal(tl.Parameters, &schema) != nil || schema["type"] != "object" {
			t.Errorf("%s: input schema %s", tl.Name, tl.Parameters)
		}
	}
	for _, n := range []string{"redact_pii", "tokenizer_stats", "score_text", "evaluate"} {
		if _, ok := byName[n]; !ok {
			t.Fatalf("no %s tool among %v", n, tools)
		}
	}
	call := func(name, args string) (map[string]any, error) {
		out, err := byName[name].Call(context.Background(), json.RawMessage(args))
		if err != nil {
			return nil, err
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("%s: %q: %v", name, out, err)
		}
		return v, nil
	}
	r, err := call("redact_pii", `{"text":"연락처는 010-1234-5678, 메일은 kim@example.com 입니다."}`)
	if err != nil || r["text"] != "연락처는 <|pii:phone|>, 메일은 <|pii:email|> 입니다." {
		t.Errorf("redact_pii: %v %v", r, err)
	}
	if _, err := call("redact_pii", `{"text":"x","kinds":["dna"]}`); err == nil || !strings.Contains(err.Error(), `unknown kind "dna"`) {
		t.Errorf("redact_pii with a bad kind: %v", err)
	}
	text := "한국어 토크나이저를 잽니다."
	ids, _ := tok.Encode(text)
	r, err = call("tokenizer_stats", `{"text":"`+text+`","show_tokens":true}`)
	if err != nil || r["tokens"] != float64(len(ids)) || r["hangul_syllables"] != float64(12) || len(r["pieces"].([]any)) != len(ids) {
		t.Errorf("tokenizer_stats: %v %v (want %d tokens)", r, err, len(ids))
	}
	r, err = call("score_text", `{"text":"서울은 한국의 수도입니다."}`)
	if bpb, _ := r["perplexity bits_per_byte"].(float64); err != nil || !(bpb > 0) || math.IsInf(bpb, 0) {
		t.Errorf("score_text: %v %v", r, err)
	}
	if opt.KoBEST != "" {
		r, err = call("evaluate", `{"tasks":["kobest_copa"],"limit":4}`)
		if acc, ok := r["kobest_copa acc"].(float64); err != nil || !ok || acc < 0 || acc > 1 {
			t.Errorf("evaluate: %v %v", r, err)
		}
	}
	if _, err := call("evaluate", `{"tasks":["nope"]}`); err == nil {
		t.Error("evaluate of an unknown task: no error")
	}
	// Without a model, only the model-free tools are offered.
	names := []string{}
	for tl, err := range connect(t, mcpserver.Options{}).Tools(context.Background(), nil) {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, tl.Name)
	}
	slices.Sort(names)
	if strings.Join(names, ",") != "redact_pii,tokenizer_stats" {
		t.Errorf("tools without a model: %v", names)
	}
}

// The same server over streamable HTTP (on 127.0.0.1), reached by the
// agent's MCP client from its URL.
func TestStreamableHTTP(t *testing.T) {
	s, err := mcpserver.New(mcpserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil))
	defer srv.Close()
	cs, err := agent.ConnectMCP(t.Context(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	tools, err := agent.MCPTools(t.Context(), cs)
	if err != nil {
		t.Fatal(err)
	}
	for _, tl := range tools {
		if tl.Name != "tokenizer_stats" {
			continue
		}
		out, err := tl.Call(t.Context(), json.RawMessage(`{"text":"안녕하세요"}`))
		var r map[string]any
		if err != nil || json.Unmarshal([]byte(out), &r) != nil || r["hangul_syllables"] != float64(5) || !(r["tokens"].(float64) >= 1) {
			t.Fatalf("tokenizer_stats over HTTP: %s %v", out, err)
		}
		return
	}
	t.Fatalf("no tokenizer_stats among %v", tools)
}

// With an index, the search tool finds passages.
func TestSearchTool(t *testing.T) {
	src := filepath.Join(t.TempDir(), "docs.jsonl")
	os.WriteFile(src, []byte(`{"text": "서울에서 회의를 엽니다."}`+"\n"+`{"text": "부산행 기차"}`+"\n"), 0o644)
	dir := filepath.Join(t.TempDir(), "idx")
	if _, err := index.Build(t.Context(), []string{src}, dir, index.Options{}); err != nil {
		t.Fatal(err)
	}
	ix, err := index.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	cs := connect(t, mcpserver.Options{Index: ix})
	res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "search", Arguments: map[string]any{"query": "서울 회의", "k": 1}})
	if err != nil || res.IsError {
		t.Fatalf("search: %+v %v", res, err)
	}
	b, _ := json.Marshal(res.StructuredContent)
	var out struct{ Hits []index.Hit }
	if err := json.Unmarshal(b, &out); err != nil || len(out.Hits) != 1 || !strings.Contains(out.Hits[0].Text, "서울에서") {
		t.Errorf("search result %s: %v", b, err)
	}
	res, err = cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "search", Arguments: map[string]any{"query": "x", "k": 500}})
	if err != nil || !res.IsError {
		t.Errorf("k 500: %+v %v", res, err)
	}
}
