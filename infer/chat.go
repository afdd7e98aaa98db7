package infer

import (
	"fmt"

	"github.com/ardanlabs/jinja"
	"github.com/dokja/dokja/checkpoint"
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

// CompileChat compiles a checkpoint's chat template (checkpoint.Open and
// ReadChatTemplate find it), or ChatML when the checkpoint has none, with
// Origin saying which.
func CompileChat(t checkpoint.ChatTemplate) (*ChatTemplate, error) {
	if t.Source == "" {
		c, err := NewChatTemplate(ChatML, "", "")
		if c != nil {
			c.Origin = "ChatML (no chat template"
			if t.Origin != "" {
				c.Origin += " in " + t.Origin
			}
			c.Origin += ")"
		}
		return c, err
	}
	c, err := NewChatTemplate(t.Source, t.BOS, t.EOS)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.Origin, err)
	}
	c.Origin = t.Origin
	return c, nil
}

// LoadChat reads and compiles the chat template of a checkpoint folder or
// GGUF file (see checkpoint.ReadChatTemplate); ChatML when it has none.
func LoadChat(path string) (*ChatTemplate, error) {
	t, err := checkpoint.ReadChatTemplate(path)
	if err != nil {
		return nil, err
	}
	if t.Origin == "" {
		t.Origin = path
	}
	return CompileChat(t)
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
