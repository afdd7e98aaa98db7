package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dokja/dokja/agent"
)

// TestMain lets a test start this binary as dokja itself, a separate
// process (DOKJA_TEST_MAIN=1), as MCP clients start servers.
func TestMain(m *testing.M) {
	if os.Getenv("DOKJA_TEST_MAIN") == "1" {
		main()
	}
	os.Exit(m.Run())
}

// dokja mcp, started as a process over stdio by the agent's MCP client,
// offers its tools and runs them.
func TestMCPCommandAsProcess(t *testing.T) {
	t.Setenv("DOKJA_TEST_MAIN", "1")
	ctx := t.Context()
	s, err := agent.ConnectMCP(ctx, os.Args[0]+" mcp --tokenizer o200k")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tools, err := agent.MCPTools(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var redact agent.Tool
	for _, tl := range tools {
		names = append(names, tl.Name)
		if tl.Name == "redact_pii" {
			redact = tl
		}
	}
	if strings.Join(names, ",") != "redact_pii,tokenizer_stats" {
		t.Fatalf("tools %v", names)
	}
	out, err := redact.Call(ctx, json.RawMessage(`{"text":"주민번호 900101-1234568로 가입"}`))
	if err != nil || !strings.Contains(out, "<|pii:rrn|>") {
		t.Errorf("redact_pii: %s %v", out, err)
	}
}

// dokja agent with a local model: the model must act first, so it calls
// a tool with arguments its schema accepts; the run ends within its
// limits and says how.
func TestAgentCommand(t *testing.T) {
	// The tools' descriptions take a long prompt: a context of 8k.
	_, tokPath := trainTokenizer(t)
	cfg := filepath.Join(t.TempDir(), "config.json")
	os.WriteFile(cfg, []byte(`{"architectures": ["Qwen2ForCausalLM"], "vocab_size": 400, "hidden_size": 32,
		"intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
		"max_position_embeddings": 8192, "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "tie_word_embeddings": true}`), 0o644)
	dir := filepath.Join(t.TempDir(), "tiny")
	mustRun(t, "", "init", "--config", cfg, "--tokenizer", tokPath, "--out", dir)
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "note.txt"), []byte("회의는 3시"), 0o644)
	r := dokja(t, "", "agent", "--model", dir, "--root", root, "--first-tool-choice", "required", "--max-steps", "2",
		"--max-tokens", "120", "--temperature", "0", "note.txt를 읽어 줘")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "with 3 tools (calculator, read_file, list_files)") || !strings.Contains(r.stderr, "[1] → ") || !strings.Contains(r.stderr, "[1] ← ") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
	if testing.Verbose() {
		t.Log(r.stderr)
	}
	if !strings.Contains(r.stderr, "agent: answer after") && !strings.Contains(r.stderr, "agent: max_steps after 2 steps") && !strings.Contains(r.stderr, "agent: max_tokens") {
		t.Errorf("no summary:\n%s", r.stderr)
	}
	for _, bad := range [][]string{
		{"agent", "hi"},
		{"agent", "--endpoint", "http://127.0.0.1:1/v1", "hi"},
		{"agent", "--model", dir, "--first-tool-choice", "none", "hi"},
	} {
		if r := dokja(t, "", bad...); r.code != 2 {
			t.Errorf("%v: exit %d, want 2 (usage)", bad, r.code)
		}
	}
}

// dokja index build, then search; a second build with nothing changed
// redoes nothing, and the searches agree.
func TestIndexCommand(t *testing.T) {
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "a.jsonl"), []byte(`{"text": "서울에서 회의를 엽니다."}`+"\n"+`{"text": "부산행 기차 시간표"}`+"\n"), 0o644)
	out := filepath.Join(t.TempDir(), "idx")
	r := mustRun(t, "", "index", "build", "--out", out, src)
	if !strings.Contains(r.stdout, "1 files, 2 documents, 2 chunks") {
		t.Errorf("build: %s", r.stdout)
	}
	r = mustRun(t, "", "index", "search", "--index", out, "-k", "1", "--json", "서울")
	var hit struct {
		Doc, Text string
		Score     float64
	}
	if err := json.Unmarshal([]byte(r.stdout), &hit); err != nil || !strings.Contains(hit.Text, "서울에서") || hit.Score <= 0 {
		t.Errorf("search: %q %v", r.stdout, err)
	}
	for _, bad := range [][]string{
		{"index", "build", src},
		{"index", "search", "--index", out},
		{"index", "search", "--index", out, "-k", "0", "x"},
		{"index", "frobnicate"},
	} {
		if r := dokja(t, "", bad...); r.code != 2 {
			t.Errorf("%v: exit %d, want 2", bad, r.code)
		}
	}
	if r := dokja(t, "", "index", "search", "--index", src, "x"); r.code != 1 || !strings.Contains(r.stderr, "manifest.json") {
		t.Errorf("searching a folder that is no index: exit %d %s", r.code, r.stderr)
	}
}

// dokja eval retrieval on a BEIR folder prints the metrics.
func TestEvalRetrievalCommand(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "corpus.jsonl"), []byte(`{"_id": "d1", "text": "서울에서 회의를 엽니다."}`+"\n"+`{"_id": "d2", "text": "부산행 기차"}`+"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "queries.jsonl"), []byte(`{"_id": "q1", "text": "서울 회의"}`+"\n"+`{"_id": "q2", "text": "기차"}`+"\n"), 0o644)
	os.Mkdir(filepath.Join(dir, "qrels"), 0o755)
	os.WriteFile(filepath.Join(dir, "qrels", "test.tsv"), []byte("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n"), 0o644)
	r := mustRun(t, "", "eval", "retrieval", "--beir", dir, "--json")
	var got map[string]struct {
		Queries int
		NDCG10  float64 `json:"ndcg@10"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || got[filepath.Base(dir)].Queries != 2 || got[filepath.Base(dir)].NDCG10 != 1 {
		t.Errorf("%s: %v", r.stdout, err)
	}
	if r := dokja(t, "", "eval", "retrieval"); r.code != 2 {
		t.Errorf("no task: exit %d", r.code)
	}
}
