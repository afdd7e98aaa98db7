package serve

import (
	"encoding/json"
	"errors"
	"fmt"
)

// The OpenAI request and response shapes Dokja speaks. Field names and
// meanings follow the OpenAI API reference; extensions (top_k, min_p,
// repetition_penalty) follow vLLM and llama.cpp's server.

// stringList accepts a string or a list of strings (stop).
type stringList []string

func (s *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*s = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("want a string or a list of strings")
	}
	*s = many
	return nil
}

// promptList is a completions prompt: a string, a list of strings, a list
// of token ids or a list of such lists. Each entry is one prompt.
type promptList struct {
	texts []string
	ids   [][]int
}

func (p *promptList) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		p.texts = []string{one}
		return nil
	}
	var texts []string
	if json.Unmarshal(b, &texts) == nil {
		p.texts = texts
		return nil
	}
	var ids []int
	if json.Unmarshal(b, &ids) == nil {
		p.ids = [][]int{ids}
		return nil
	}
	var lists [][]int
	if err := json.Unmarshal(b, &lists); err != nil {
		return errors.New("want a string, a list of strings, a list of token ids or a list of lists of token ids")
	}
	p.ids = lists
	return nil
}

func (p *promptList) len() int { return len(p.texts) + len(p.ids) }

// sampling holds the sampling fields both endpoints share.
type sampling struct {
	Temperature       *float32   `json:"temperature"`
	TopP              *float32   `json:"top_p"`
	TopK              int        `json:"top_k"`
	MinP              float32    `json:"min_p"`
	RepetitionPenalty float32    `json:"repetition_penalty"`
	PresencePenalty   float32    `json:"presence_penalty"`
	FrequencyPenalty  float32    `json:"frequency_penalty"`
	Seed              *uint64    `json:"seed"`
	Stop              stringList `json:"stop"`
	N                 *int       `json:"n"`
	Stream            bool       `json:"stream"`
	StreamOptions     *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	User string `json:"user"`
	// LogitBias maps token ids (as strings) to a bias in [-100, 100].
	LogitBias map[string]float32 `json:"logit_bias"`
	// Grammar holds the output to a GBNF grammar (llama.cpp's extension).
	Grammar *string `json:"grammar"`
	// ResponseFormat asks for JSON (json_object) or JSON that validates
	// against a schema (json_schema).
	ResponseFormat *responseFormat `json:"response_format"`
}

type completionRequest struct {
	Model     string     `json:"model"`
	Prompt    promptList `json:"prompt"`
	MaxTokens *int       `json:"max_tokens"`
	Echo      bool       `json:"echo"`
	Logprobs  *int       `json:"logprobs"`
	Suffix    *string    `json:"suffix"`
	BestOf    *int       `json:"best_of"`
	sampling
}

// content accepts a message's content: a string or a list of parts, of
// which the text parts are joined.
type content string

func (c *content) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*c = content(s)
		return nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(b, &parts); err != nil {
		return errors.New("want a string or a list of content parts")
	}
	var out string
	for _, p := range parts {
		if p.Type != "text" {
			return fmt.Errorf("content part of type %q: only text is supported", p.Type)
		}
		out += p.Text
	}
	*c = content(out)
	return nil
}

type chatMessage struct {
	Role       string            `json:"role"`
	Content    content           `json:"content"`
	ToolCalls  []messageToolCall `json:"tool_calls"`
	ToolCallID string            `json:"tool_call_id"`
	Name       string            `json:"name"`
}

type chatRequest struct {
	Model               string        `json:"model"`
	Messages            []chatMessage `json:"messages"`
	MaxTokens           *int          `json:"max_tokens"`
	MaxCompletionTokens *int          `json:"max_completion_tokens"`
	Logprobs            bool          `json:"logprobs"`
	TopLogprobs         *int          `json:"top_logprobs"`
	Tools               []toolSpec    `json:"tools"`
	ToolChoice          *toolChoice   `json:"tool_choice"`
	ParallelToolCalls   *bool         `json:"parallel_tool_calls"`
	sampling
}

type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

type completionLogprobs struct {
	Tokens        []string             `json:"tokens"`
	TokenLogprobs []*float64           `json:"token_logprobs"`
	TopLogprobs   []map[string]float64 `json:"top_logprobs"`
	TextOffset    []int                `json:"text_offset"`
}

type completionChoice struct {
	Text         string              `json:"text"`
	Index        int                 `json:"index"`
	Logprobs     *completionLogprobs `json:"logprobs"`
	FinishReason *string             `json:"finish_reason"`
}

type completionResponse struct {
	ID      string             `json:"id"`
	Object  string             `json:"object"`
	Created int64              `json:"created"`
	Model   string             `json:"model"`
	Choices []completionChoice `json:"choices"`
	Usage   *usage             `json:"usage,omitempty"`
}

type topLogprob struct {
	Token   string  `json:"token"`
	Logprob float64 `json:"logprob"`
	Bytes   []int   `json:"bytes"`
}

type tokenLogprob struct {
	Token       string       `json:"token"`
	Logprob     float64      `json:"logprob"`
	Bytes       []int        `json:"bytes"`
	TopLogprobs []topLogprob `json:"top_logprobs"`
}

type chatLogprobs struct {
	Content []tokenLogprob `json:"content"`
}

type chatResponseMessage struct {
	Role      string        `json:"role,omitempty"`
	Content   *string       `json:"content"`
	ToolCalls []toolCallOut `json:"tool_calls,omitempty"`
}

type chatChoice struct {
	Index        int                  `json:"index"`
	Message      *chatResponseMessage `json:"message,omitempty"`
	Delta        *chatResponseMessage `json:"delta,omitempty"`
	Logprobs     *chatLogprobs        `json:"logprobs"`
	FinishReason *string              `json:"finish_reason"`
}

type chatResponse struct {
	ID      string       `json:"id"`
	Object  string       `json:"object"`
	Created int64        `json:"created"`
	Model   string       `json:"model"`
	Choices []chatChoice `json:"choices"`
	Usage   *usage       `json:"usage,omitempty"`
}

type modelEntry struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

type modelList struct {
	Object string       `json:"object"`
	Data   []modelEntry `json:"data"`
}

// apiError is the OpenAI error body.
type apiError struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	} `json:"error"`
}
