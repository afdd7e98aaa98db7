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
