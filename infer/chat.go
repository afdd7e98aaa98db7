package infer

import (
	"encoding/json"
	"fmt"

	"github.com/ardanlabs/jinja"
	"github.com/dokja/dokja/checkpoint"
)

// Message is one turn of a conversation: system, user, assistant (with
// the tool calls it made) or tool (a call's result).
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
	// ToolCalls are an assistant's calls.
	ToolCalls []ToolCall `json:"tool_calls,omitempty"`
	// ToolCallID and Name say which call a tool message answers.
	ToolCallID string `json:"tool_call_id,omitempty"`
	Name       string `json:"name,omitempty"`
}

// ToolCall is one function call an assistant made; Arguments is JSON
// text, as the OpenAI API carries it.
type ToolCall struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// Tool is a function a model may call: its name, what it does, and a
// JSON schema of its arguments.
type Tool struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
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
	return c.RenderTools(messages, nil, addGenerationPrompt)
}

// RenderTools formats messages with the tools the model may call, as
// Hugging Face's apply_chat_template does: tools as a list of
// {"type": "function", "function": {...}}, and tool-call arguments as
// parsed JSON (templates write them with tojson), as vLLM passes them.
func (c *ChatTemplate) RenderTools(messages []Message, tools []Tool, addGenerationPrompt bool) (string, error) {
	msgs := make([]any, len(messages))
	for i, m := range messages {
		msg := map[string]any{"role": m.Role, "content": m.Content}
		if len(m.ToolCalls) > 0 {
			calls := make([]any, len(m.ToolCalls))
			for j, tc := range m.ToolCalls {
				var args any = tc.Arguments
				var parsed any
				if json.Unmarshal([]byte(tc.Arguments), &parsed) == nil {
					args = parsed
				}
				calls[j] = map[string]any{"id": tc.ID, "type": "function", "function": map[string]any{"name": tc.Name, "arguments": args}}
			}
			msg["tool_calls"] = calls
		}
		if m.ToolCallID != "" {
			msg["tool_call_id"] = m.ToolCallID
		}
		if m.Name != "" {
			msg["name"] = m.Name
		}
		msgs[i] = msg
	}
	vars := map[string]any{
		"messages":              msgs,
		"add_generation_prompt": addGenerationPrompt,
		"bos_token":             c.bos,
		"eos_token":             c.eos,
	}
	if len(tools) > 0 {
		list := make([]any, len(tools))
		for i, t := range tools {
			fn := map[string]any{"name": t.Name}
			if t.Description != "" {
				fn["description"] = t.Description
			}
			if len(t.Parameters) > 0 {
				var p any
				if err := json.Unmarshal(t.Parameters, &p); err != nil {
					return "", fmt.Errorf("tool %s: parameters: %w", t.Name, err)
				}
				fn["parameters"] = p
			}
			list[i] = map[string]any{"type": "function", "function": fn}
		}
		vars["tools"] = list
	}
	out, err := c.tmpl.Render(vars)
	if err != nil {
		return "", fmt.Errorf("chat template (%s): %w", c.Origin, err)
	}
	return out, nil
}
