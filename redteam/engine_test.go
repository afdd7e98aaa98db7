package redteam

import (
	"testing"

	"github.com/dokja/dokja/infer"
	"github.com/dokja/dokja/infer/infertest"
)

// The in-process generator renders the conversation with the chat
// template and decodes greedily: its reply equals decoding the rendered
// prompt directly.
func TestEngineGenerator(t *testing.T) {
	m, tok := infertest.TinyModel(t, 40)
	e, err := infer.NewEngine(m, tok, infer.EngineOptions{MaxBatch: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	chat, err := infer.NewChatTemplate(infer.ChatML, "", "")
	if err != nil {
		t.Fatal(err)
	}
	g := &EngineGenerator{Engine: e, Chat: chat}
	msgs := []Message{{Role: "system", Content: "너는 도우미야."}, {Role: "user", Content: "안녕?"}}
	got, err := g.Generate(t.Context(), msgs, 12)
	if err != nil {
		t.Fatal(err)
	}
	text, err := chat.Render([]infer.Message{{Role: "system", Content: "너는 도우미야."}, {Role: "user", Content: "안녕?"}}, true)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := tok.Encode(text)
	if err != nil {
		t.Fatal(err)
	}
	want, err := e.Generate(t.Context(), infer.Request{Prompt: ids, MaxTokens: 12}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got != want.Text || got == "" {
		t.Errorf("reply %q, decoding the rendered prompt gives %q", got, want.Text)
	}
	// A whole run through the engine completes and reports every probe.
	probes := Probes()[:6]
	rep, err := Run(t.Context(), g, probes, Options{MaxTokens: 8})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Probes) != len(probes) || rep.Errors != 0 {
		t.Errorf("%d probe results, %d errors", len(rep.Probes), rep.Errors)
	}
}
