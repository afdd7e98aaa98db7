// Package agent runs a model as an agent: it asks an OpenAI-compatible
// chat endpoint (Dokja's server or any other), runs the tools the model
// calls (built-in ones, or those of MCP servers), hands their results
// back, and repeats until the model answers or a limit on steps, tokens
// or time is reached.
package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/shared"
)

// Tool is a function the model may call.
type Tool struct {
	Name        string
	Description string
	// Parameters is the JSON schema of the arguments (an object).
	Parameters json.RawMessage
	// Call runs the tool. An error is reported to the model as the
	// call's result, not to the caller: the model may recover from it.
	Call func(ctx context.Context, args json.RawMessage) (string, error)
}

// Options configure a run.
type Options struct {
	// Client talks to the endpoint; Model names the model there.
	Client openai.Client
	Model  string
	// System is the system message (none if empty).
	System string
	Tools  []Tool
	// MaxSteps bounds the model calls (default 8); MaxTokens the
	// completion tokens of the whole run (default 4096); Timeout its
	// wall time (default 5 minutes); ToolTimeout each tool call's (default
	// 30 s).
	MaxSteps    int
	MaxTokens   int
	Timeout     time.Duration
	ToolTimeout time.Duration
	// FirstToolChoice is the first step's tool_choice ("auto" by default;
	// "required" makes the model act before it answers).
	FirstToolChoice string
	// Temperature, when set, is sent with every request.
	Temperature *float64
	// OnEvent sees the run as it happens (a terminal prints it).
	OnEvent func(Event)
	Log     *slog.Logger
}

// Event is something that happened in a run.
type Event struct {
	Step int
	// Kind is "call" (Name, Arguments), "result" (Name, Text, Err),
	// or "answer" (Text).
	Kind      string
	Name      string
	Arguments string
	Text      string
	Err       error
}

// Result is a run's outcome.
type Result struct {
	// Answer is the model's last message; Stop says why the run ended:
	// "answer", "max_steps" or "max_tokens".
	Answer string
	Stop   string
	Steps  int
	// Calls are the tool calls made, in order.
	Calls []Call
	// PromptTokens and CompletionTokens add up the endpoint's usage.
	PromptTokens, CompletionTokens int64
	Messages                       []openai.ChatCompletionMessageParamUnion
}

// Call is one tool call and what it returned.
type Call struct {
	Name, Arguments, Result string
	Err                     error
}

// Run gives the model the user's message and runs the loop.
func Run(ctx context.Context, opt Options, user string) (*Result, error) {
	if opt.MaxSteps <= 0 {
		opt.MaxSteps = 8
	}
	if opt.MaxTokens <= 0 {
		opt.MaxTokens = 4096
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 5 * time.Minute
	}
	if opt.ToolTimeout <= 0 {
		opt.ToolTimeout = 30 * time.Second
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	byName := map[string]*Tool{}
	var specs []openai.ChatCompletionToolUnionParam
	for i := range opt.Tools {
		t := &opt.Tools[i]
		if _, dup := byName[t.Name]; dup {
			return nil, fmt.Errorf("agent: two tools are named %s", t.Name)
		}
		byName[t.Name] = t
		var params map[string]any
		if len(t.Parameters) > 0 {
			if err := json.Unmarshal(t.Parameters, &params); err != nil {
				return nil, fmt.Errorf("agent: tool %s: parameters: %w", t.Name, err)
			}
		}
		fn := shared.FunctionDefinitionParam{Name: t.Name, Parameters: params}
		if t.Description != "" {
			fn.Description = openai.String(t.Description)
		}
		specs = append(specs, openai.ChatCompletionFunctionTool(fn))
	}
	ctx, cancel := context.WithTimeout(ctx, opt.Timeout)
	defer cancel()
	emit := func(ev Event) {
		if opt.OnEvent != nil {
			opt.OnEvent(ev)
		}
	}
	res := &Result{}
	if opt.System != "" {
		res.Messages = append(res.Messages, openai.SystemMessage(opt.System))
	}
	res.Messages = append(res.Messages, openai.UserMessage(user))
	for step := 1; ; step++ {
		if step > opt.MaxSteps {
			res.Stop = "max_steps"
			return res, nil
		}
		left := int64(opt.MaxTokens) - res.CompletionTokens
		if left <= 0 {
			res.Stop = "max_tokens"
			return res, nil
		}
		params := openai.ChatCompletionNewParams{Model: opt.Model, Messages: res.Messages, MaxTokens: openai.Int(left)}
		if len(specs) > 0 {
			params.Tools = specs
			choice := "auto"
			if step == 1 && opt.FirstToolChoice != "" {
				choice = opt.FirstToolChoice
			}
			params.ToolChoice = openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String(choice)}
		}
		if opt.Temperature != nil {
			params.Temperature = openai.Float(*opt.Temperature)
		}
		resp, err := opt.Client.Chat.Completions.New(ctx, params)
		if err != nil {
			return res, fmt.Errorf("agent step %d: %w", step, err)
		}
		res.Steps = step
		res.PromptTokens += resp.Usage.PromptTokens
		res.CompletionTokens += resp.Usage.CompletionTokens
		if len(resp.Choices) == 0 {
			return res, fmt.Errorf("agent step %d: the endpoint returned no choice", step)
		}
		msg := resp.Choices[0].Message
		res.Messages = append(res.Messages, msg.ToParam())
		if len(msg.ToolCalls) == 0 {
			res.Answer = msg.Content
			res.Stop = "answer"
			if resp.Choices[0].FinishReason == "length" && res.CompletionTokens >= int64(opt.MaxTokens) {
				res.Stop = "max_tokens"
			}
			emit(Event{Step: step, Kind: "answer", Text: msg.Content})
			return res, nil
		}
		for _, tc := range msg.ToolCalls {
			name, args := tc.Function.Name, tc.Function.Arguments
			emit(Event{Step: step, Kind: "call", Name: name, Arguments: args})
			out, err := runTool(ctx, byName[name], name, args, opt.ToolTimeout)
			if ctx.Err() != nil {
				return res, fmt.Errorf("agent: %w", ctx.Err())
			}
			opt.Log.Info("tool call", "step", step, "tool", name, "error", err)
			res.Calls = append(res.Calls, Call{Name: name, Arguments: args, Result: out, Err: err})
			emit(Event{Step: step, Kind: "result", Name: name, Text: out, Err: err})
			if err != nil {
				out = "error: " + err.Error()
			}
			res.Messages = append(res.Messages, openai.ToolMessage(out, tc.ID))
		}
	}
}

// runTool calls t with its own deadline; a missing tool or bad arguments
// are errors the model sees.
func runTool(ctx context.Context, t *Tool, name, args string, timeout time.Duration) (string, error) {
	if t == nil {
		return "", fmt.Errorf("there is no tool named %q", name)
	}
	if args == "" {
		args = "{}"
	}
	if !json.Valid([]byte(args)) {
		return "", errors.New("the arguments are not valid JSON")
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return t.Call(ctx, json.RawMessage(args))
}
