package serve

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/dokja/dokja/grammar"
	"github.com/dokja/dokja/infer"
)

// Tool calling in the OpenAI shapes. Models announce calls in the format
// their chat template teaches; Dokja reads two: the Hermes format that
// Qwen2.5, Qwen3 and A.X 4.0 use (<tool_call>{"name": ..., "arguments":
// ...}</tool_call>), and Llama 3.1 and 3.2's JSON ({"name": ...,
// "parameters": ...} as the whole reply). Models whose template has no
// tools, or another format, are taught the Hermes format in a system
// message. Calls are held to the tools' JSON schemas by constrained
// decoding: from the call's opening on when the model chooses
// (tool_choice auto), from the first token when a call is required.

// toolFormat is how a model writes its calls.
type toolFormat struct {
	name string
	// open starts a call; inJSON: it is the start of the call's JSON
	// object, not a tag before it. close ends a call: a tag, or the
	// object's closing brace.
	open   string
	inJSON bool
	close  string
	// argsKey names the arguments in the call's object.
	argsKey string
	// parallel: calls may follow one another ("\n" between).
	parallel bool
}

var (
	hermesFormat = &toolFormat{name: "hermes", open: "<tool_call>", close: "</tool_call>", argsKey: "arguments", parallel: true}
	llamaFormat  = &toolFormat{name: "llama3", open: `{"name"`, inJSON: true, close: "}", argsKey: "parameters"}
)

// findOpen finds the first call's opening in s: where it starts, or -1
// and where a suffix starts that may yet become one (len(s) if none). An
// opening inside JSON may have whitespace after its brace.
func (f *toolFormat) findOpen(s string) (at, maybe int) {
	if !f.inJSON {
		if i := strings.Index(s, f.open); i >= 0 {
			return i, i
		}
		for k := min(len(f.open)-1, len(s)); k > 0; k-- {
			if strings.HasPrefix(f.open, s[len(s)-k:]) {
				return -1, len(s) - k
			}
		}
		return -1, len(s)
	}
	key := f.open[1:] // "name" with its quotes
	maybe = len(s)
	for i := 0; i < len(s); i++ {
		if s[i] != '{' {
			continue
		}
		rest := strings.TrimLeft(s[i+1:], " \t\r\n")
		if strings.HasPrefix(rest, key) {
			return i, i
		}
		if strings.HasPrefix(key, rest) && maybe == len(s) {
			maybe = i
		}
	}
	return -1, maybe
}

// formatOf reads a chat template's tool format: Hermes when it writes
// <tool_call>, Llama's JSON when it asks for {"name", "parameters"}; nil
// for a template that teaches none Dokja reads.
func formatOf(chat *infer.ChatTemplate) *toolFormat {
	switch {
	case chat == nil:
		return nil
	case strings.Contains(chat.Source, hermesFormat.open):
		return hermesFormat
	case strings.Contains(chat.Source, `"parameters": dictionary of argument name`):
		return llamaFormat
	}
	return nil
}

type toolSpec struct {
	Type     string `json:"type"`
	Function *struct {
		Name        string          `json:"name"`
		Description string          `json:"description"`
		Parameters  json.RawMessage `json:"parameters"`
		Strict      *bool           `json:"strict"`
	} `json:"function"`
}

// toolChoice is "none", "auto", "required" or {"type": "function",
// "function": {"name": ...}}.
type toolChoice struct {
	mode, name string
}

func (c *toolChoice) UnmarshalJSON(b []byte) error {
	if json.Unmarshal(b, &c.mode) == nil {
		switch c.mode {
		case "none", "auto", "required":
			return nil
		}
		return fmt.Errorf("tool_choice %q: want none, auto, required or a named function", c.mode)
	}
	var named struct {
		Type     string `json:"type"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if err := json.Unmarshal(b, &named); err != nil || named.Type != "function" || named.Function.Name == "" {
		return errors.New(`tool_choice: want none, auto, required or {"type": "function", "function": {"name": ...}}`)
	}
	c.mode, c.name = "function", named.Function.Name
	return nil
}

type responseFormat struct {
	Type       string `json:"type"`
	JSONSchema *struct {
		Name        string          `json:"name"`
		Description string          `json:"description"`
		Schema      json.RawMessage `json:"schema"`
		Strict      *bool           `json:"strict"`
	} `json:"json_schema"`
}

type messageToolCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

// toolCallOut is a call in a response; Index is set in stream deltas.
type toolCallOut struct {
	Index    *int   `json:"index,omitempty"`
	ID       string `json:"id,omitempty"`
	Type     string `json:"type,omitempty"`
	Function struct {
		Name      string `json:"name,omitempty"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

// tools checks a request's tools and returns them for the template.
func checkTools(specs []toolSpec) ([]infer.Tool, error) {
	var out []infer.Tool
	seen := map[string]bool{}
	for i, t := range specs {
		if t.Type != "function" || t.Function == nil {
			return nil, badRequest("tools", "tools[%d]: want {\"type\": \"function\", \"function\": {...}}", i)
		}
		name := t.Function.Name
		if name == "" || len(name) > 64 || strings.ContainsFunc(name, func(r rune) bool {
			return !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
		}) {
			return nil, badRequest("tools", "tools[%d].function.name %q: want 1 to 64 letters, digits, _ or -", i, name)
		}
		if seen[name] {
			return nil, badRequest("tools", "tools[%d]: function %s is listed twice", i, name)
		}
		seen[name] = true
		params := t.Function.Parameters
		if len(bytes.TrimSpace(params)) == 0 || string(bytes.TrimSpace(params)) == "null" {
			params = json.RawMessage(`{"type":"object","properties":{}}`)
		}
		out = append(out, infer.Tool{Name: name, Description: t.Function.Description, Parameters: params})
	}
	return out, nil
}

// callSchema is a JSON schema of one call of any of tools, with the
// name before the arguments (the order the templates show).
func (f *toolFormat) callSchema(tools []infer.Tool) []byte {
	var b bytes.Buffer
	b.WriteString(`{"anyOf":[`)
	for i, t := range tools {
		if i > 0 {
			b.WriteByte(',')
		}
		name, _ := json.Marshal(t.Name)
		fmt.Fprintf(&b, `{"type":"object","properties":{"name":{"const":%s},"%s":%s},"required":["name","%s"],"additionalProperties":false}`,
			name, f.argsKey, t.Parameters, f.argsKey)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// callGrammar is a grammar of tool calls: one call from its opening on
// (auto: the lazy constraint starts it at the opening), or one or more
// whole calls (required).
func (f *toolFormat) callGrammar(tools []infer.Tool, required, parallel bool) (*grammar.Grammar, error) {
	src, err := grammar.SchemaGBNF(f.callSchema(tools))
	if err != nil {
		return nil, err
	}
	// The schema's root becomes the call; a new root frames it.
	src = strings.Replace(src, "root ::= ", "call ::= ", 1)
	one := "call"
	if !f.inJSON {
		one = `"` + f.open + `\n" call "\n` + f.close + `"`
	}
	if required && parallel && f.parallel {
		return grammar.Parse("root ::= " + one + ` ( "\n" ` + one + " )*\n" + src)
	}
	return grammar.Parse("root ::= " + one + "\n" + src)
}

// constraint holds a generation to the calls: all of it (required), or
// from each opening on (auto).
func (f *toolFormat) constraint(g *grammar.Grammar, v *grammar.Vocab, lazy bool) infer.Constraint {
	if lazy {
		return g.NewLazy(v, f.open)
	}
	return g.NewConstraint(v)
}

// toolInstructions teach the Hermes format to a model whose chat template
// has no tools: a system message listing them (Dokja's own wording).
func toolInstructions(tools []infer.Tool) string {
	var b strings.Builder
	b.WriteString("You can call these functions. Each is given as JSON inside <tools></tools>:\n<tools>\n")
	for _, t := range tools {
		line, _ := json.Marshal(map[string]any{"type": "function", "function": map[string]any{"name": t.Name, "description": t.Description, "parameters": t.Parameters}})
		b.Write(line)
		b.WriteByte('\n')
	}
	b.WriteString("</tools>\nTo call one, answer with its name and arguments as JSON between tags:\n<tool_call>\n{\"name\": \"function name\", \"arguments\": {...}}\n</tool_call>")
	return b.String()
}

// withToolInstructions adds toolInstructions to the system message, or as
// a new first one.
func withToolInstructions(msgs []infer.Message, tools []infer.Tool) []infer.Message {
	out := append([]infer.Message(nil), msgs...)
	if len(out) > 0 && out[0].Role == "system" {
		out[0].Content += "\n\n" + toolInstructions(tools)
		return out
	}
	return append([]infer.Message{{Role: "system", Content: toolInstructions(tools)}}, out...)
}

// grammarCache keeps the grammars of recent requests: requests with the
// same tools, schema or grammar share one, and with it the recognizer's
// memoized states and token masks, so only the first pays for them.
type grammarCache struct {
	mu    sync.Mutex
	byKey map[string]*grammar.Grammar
	order []string // oldest first
}

// maxGrammars bounds the cache; each grammar keeps its masks (a few MB
// at most for a 150k vocabulary).
const maxGrammars = 16

func (c *grammarCache) get(key string, build func() (*grammar.Grammar, error)) (*grammar.Grammar, error) {
	c.mu.Lock()
	if g, ok := c.byKey[key]; ok {
		c.mu.Unlock()
		return g, nil
	}
	c.mu.Unlock()
	g, err := build()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byKey == nil {
		c.byKey = map[string]*grammar.Grammar{}
	}
	if _, ok := c.byKey[key]; !ok {
		if len(c.order) >= maxGrammars {
			delete(c.byKey, c.order[0])
			c.order = c.order[1:]
		}
		c.order = append(c.order, key)
	}
	c.byKey[key] = g
	return g, nil
}

func newCallID() string {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, 24)
	rand.Read(b)
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return "call_" + string(b)
}

// parseCall reads a call's JSON object.
func (f *toolFormat) parseCall(body string) (name, args string, ok bool) {
	var c map[string]json.RawMessage
	if json.Unmarshal([]byte(body), &c) != nil || json.Unmarshal(c["name"], &name) != nil || name == "" {
		return "", "", false
	}
	raw := c[f.argsKey]
	if len(raw) == 0 {
		return "", "", false // not a call in this format
	}
	var compact bytes.Buffer
	if json.Compact(&compact, raw) != nil {
		return "", "", false
	}
	return name, compact.String(), true
}

// splitCalls separates a finished answer into its text and its calls. A
// malformed call leaves the whole answer as text.
func (f *toolFormat) splitCalls(text string) (string, []toolCallOut) {
	var calls []toolCallOut
	var content strings.Builder
	rest := text
	for {
		i, _ := f.findOpen(rest)
		if i < 0 {
			content.WriteString(rest)
			break
		}
		body, after := "", ""
		if f.inJSON {
			// The object runs to its matching brace.
			dec := json.NewDecoder(strings.NewReader(rest[i:]))
			var raw json.RawMessage
			if dec.Decode(&raw) != nil {
				return text, nil
			}
			body, after = string(raw), rest[i+int(dec.InputOffset()):]
		} else {
			j := strings.Index(rest[i:], f.close)
			if j < 0 {
				return text, nil
			}
			body, after = rest[i+len(f.open):i+j], rest[i+j+len(f.close):]
		}
		name, args, ok := f.parseCall(body)
		if !ok {
			return text, nil
		}
		content.WriteString(rest[:i])
		var c toolCallOut
		c.ID, c.Type = newCallID(), "function"
		c.Function.Name, c.Function.Arguments = name, args
		calls = append(calls, c)
		rest = after
	}
	if len(calls) > 0 && strings.TrimSpace(content.String()) == "" {
		return "", calls
	}
	return strings.TrimSpace(content.String()), calls
}

// callStream turns streamed text into content and tool-call deltas: text
// before a call is passed on (holding back what may be the start of the
// opening tag), a call's name goes out as soon as it is complete, and its
// arguments as they are generated.
type callStream struct {
	f       *toolFormat
	buf     string // text not yet passed on
	inCall  bool
	header  bool // the call's name has gone out
	argsAt  int  // where the arguments start in buf
	sent    int  // how much of the arguments has gone out
	depth   int
	inStr   bool
	escaped bool
	argsEnd bool
	calls   int
	after   bool // a call has ended: whitespace is held, not sent
}

// callHeader matches a call's object up to its arguments, for each name
// the arguments may have.
var callHeader = map[string]*regexp.Regexp{
	"arguments":  regexp.MustCompile(`^\s*\{\s*"name"\s*:\s*"((?:[^"\\]|\\.)*)"\s*,\s*"arguments"\s*:\s*`),
	"parameters": regexp.MustCompile(`^\s*\{\s*"name"\s*:\s*"((?:[^"\\]|\\.)*)"\s*,\s*"parameters"\s*:\s*`),
}

// push takes generated text and returns the content and call deltas it
// completes.
func (cs *callStream) push(text string) (string, []toolCallOut) {
	cs.buf += text
	var content strings.Builder
	var deltas []toolCallOut
	for {
		if !cs.inCall {
			i, maybe := cs.f.findOpen(cs.buf)
			if i < 0 {
				// Hold back a suffix that could begin the opening.
				out := cs.buf[:maybe]
				if cs.after && strings.TrimSpace(out) == "" {
					return content.String(), deltas // whitespace between calls
				}
				content.WriteString(out)
				cs.after = false
				cs.buf = cs.buf[len(out):]
				return content.String(), deltas
			}
			if pre := cs.buf[:i]; !(cs.after && strings.TrimSpace(pre) == "") {
				content.WriteString(pre)
			}
			cs.buf = cs.buf[i:]
			if !cs.f.inJSON {
				cs.buf = cs.buf[len(cs.f.open):]
			}
			cs.inCall, cs.header, cs.argsAt, cs.sent, cs.depth, cs.inStr, cs.escaped, cs.argsEnd = true, false, 0, 0, 0, false, false, false
		}
		if !cs.header {
			m := callHeader[cs.f.argsKey].FindStringSubmatchIndex(cs.buf)
			if m == nil {
				return content.String(), deltas
			}
			var name string
			json.Unmarshal([]byte(`"`+cs.buf[m[2]:m[3]]+`"`), &name)
			d := toolCallOut{Index: ptr(cs.calls), ID: newCallID(), Type: "function"}
			d.Function.Name = name
			deltas = append(deltas, d)
			cs.header, cs.argsAt, cs.sent = true, m[1], m[1]
		}
		// Arguments: pass on what is generated up to the end of the value.
		for cs.sent < len(cs.buf) && !cs.argsEnd {
			c := cs.buf[cs.sent]
			switch {
			case cs.inStr:
				switch {
				case cs.escaped:
					cs.escaped = false
				case c == '\\':
					cs.escaped = true
				case c == '"':
					cs.inStr = false
					if cs.depth == 0 {
						cs.argsEnd = true
					}
				}
			case c == '"':
				cs.inStr = true
			case c == '{' || c == '[':
				cs.depth++
			case c == '}' || c == ']':
				if cs.depth == 0 { // a scalar ended at the call's closing brace
					cs.argsEnd = true
					continue
				}
				cs.depth--
				if cs.depth == 0 {
					cs.argsEnd = true
				}
			case c == ',' && cs.depth == 0:
				cs.argsEnd = true
				continue
			}
			cs.sent++
		}
		if args := cs.buf[cs.argsAt:cs.sent]; args != "" {
			d := toolCallOut{Index: ptr(cs.calls)}
			d.Function.Arguments = args
			deltas = append(deltas, d)
			cs.argsAt = cs.sent
		}
		j := strings.Index(cs.buf[cs.sent:], cs.f.close)
		if !cs.argsEnd || j < 0 {
			return content.String(), deltas
		}
		cs.buf = cs.buf[cs.sent+j+len(cs.f.close):]
		cs.inCall, cs.after = false, true
		cs.calls++
	}
}

// finish returns what is held back at the end of the generation.
func (cs *callStream) finish() string {
	if cs.inCall {
		if !cs.header {
			if cs.f.inJSON {
				return cs.buf // never became a call
			}
			return cs.f.open + cs.buf
		}
		return ""
	}
	if cs.after && strings.TrimSpace(cs.buf) == "" {
		return ""
	}
	return cs.buf
}
