package infer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ardanlabs/jinja"
)

// Message is one turn of a conversation.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// ChatML is the chat format of Qwen2 and A.X 4.0 (and the fallback for
// checkpoints that carry no template): each turn as
// <|im_start|>role\ncontent<|im_end|>\n, then <|im_start|>assistant\n.
const ChatML = `{%- for message in messages -%}
<|im_start|>{{ message.role }}
{{ message.content }}<|im_end|>
{% endfor -%}
{%- if add_generation_prompt -%}
<|im_start|>assistant
{% endif -%}`

// ChatTemplate renders conversations into the prompt text a model was
// tuned on, from the Jinja template in its tokenizer_config.json.
type ChatTemplate struct {
	// Source is the template text; Origin says where it came from.
	Source, Origin string
	bos, eos       string
	tmpl           *jinja.Template
}

// NewChatTemplate compiles a Jinja chat template; bos and eos are the
// values of the template's bos_token and eos_token variables.
func NewChatTemplate(source, bos, eos string) (*ChatTemplate, error) {
	t, err := jinja.Compile(source)
	if err != nil {
		return nil, fmt.Errorf("chat template: %w", err)
	}
	return &ChatTemplate{Source: source, Origin: "given", bos: bos, eos: eos, tmpl: t}, nil
}

// LoadChatTemplate reads the chat template of a checkpoint folder's
// tokenizer_config.json (chat_template as a string, or the "default" of a
// list of named templates). Without one it returns ChatML, with Origin
// saying so.
func LoadChatTemplate(dir string) (*ChatTemplate, error) {
	path := filepath.Join(dir, "tokenizer_config.json")
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		c, err := NewChatTemplate(ChatML, "", "")
		if c != nil {
			c.Origin = "ChatML (no tokenizer_config.json)"
		}
		return c, err
	}
	if err != nil {
		return nil, err
	}
	var cfg struct {
		ChatTemplate json.RawMessage `json:"chat_template"`
		BOS          json.RawMessage `json:"bos_token"`
		EOS          json.RawMessage `json:"eos_token"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	source, err := templateSource(cfg.ChatTemplate)
	if err != nil {
		return nil, fmt.Errorf("%s: field \"chat_template\": %w", path, err)
	}
	origin := path
	if source == "" {
		source, origin = ChatML, "ChatML (no chat_template in "+path+")"
	}
	c, err := NewChatTemplate(source, specialToken(cfg.BOS), specialToken(cfg.EOS))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c.Origin = origin
	return c, nil
}

// templateSource accepts a template string or a list of {name, template}.
func templateSource(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var named []struct {
		Name     string `json:"name"`
		Template string `json:"template"`
	}
	if err := json.Unmarshal(raw, &named); err != nil {
		return "", errors.New("want a string or a list of {name, template}")
	}
	for _, n := range named {
		if n.Name == "default" {
			return n.Template, nil
		}
	}
	return "", errors.New("no template named \"default\" in the list")
}

// specialToken reads a bos/eos entry: a string or an {"content": ...} object.
func specialToken(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var obj struct {
		Content string `json:"content"`
	}
	if json.Unmarshal(raw, &obj) == nil {
		return obj.Content
	}
	return ""
}

// Render formats messages; with addGenerationPrompt the text ends where
// the assistant's reply begins.
func (c *ChatTemplate) Render(messages []Message, addGenerationPrompt bool) (string, error) {
	msgs := make([]any, len(messages))
	for i, m := range messages {
		msgs[i] = map[string]any{"role": m.Role, "content": m.Content}
	}
	out, err := c.tmpl.Render(map[string]any{
		"messages":              msgs,
		"add_generation_prompt": addGenerationPrompt,
		"bos_token":             c.bos,
		"eos_token":             c.eos,
	})
	if err != nil {
		return "", fmt.Errorf("chat template (%s): %w", c.Origin, err)
	}
	return out, nil
}
