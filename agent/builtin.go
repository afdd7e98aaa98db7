package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path"
	"strconv"
	"strings"
	"unicode"
)

// maxRead bounds what read_file returns.
const maxRead = 64 << 10

// FileTools returns read_file and list_files, confined to root: paths are
// resolved inside it by os.Root, so neither ".." nor a symbolic link
// leads out.
func FileTools(root string) ([]Tool, error) {
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("agent: file tools: %w", err)
	}
	pathArg := func(args json.RawMessage) (string, error) {
		var a struct {
			Path string `json:"path"`
		}
		if err := json.Unmarshal(args, &a); err != nil {
			return "", fmt.Errorf("arguments: %w", err)
		}
		p := path.Clean(strings.TrimPrefix(a.Path, "/"))
		if p == "" {
			p = "."
		}
		return p, nil
	}
	read := Tool{
		Name:        "read_file",
		Description: fmt.Sprintf("Read a text file inside the working folder (at most %d KB are returned).", maxRead>>10),
		Parameters:  json.RawMessage(`{"type":"object","properties":{"path":{"type":"string","description":"the file's path, relative to the working folder"}},"required":["path"]}`),
		Call: func(ctx context.Context, args json.RawMessage) (string, error) {
			p, err := pathArg(args)
			if err != nil {
				return "", err
			}
			f, err := r.Open(p)
			if err != nil {
				return "", err
			}
			defer f.Close()
			b, err := io.ReadAll(io.LimitReader(f, maxRead+1))
			if err != nil {
				return "", err
			}
			if len(b) > maxRead {
				return string(b[:maxRead]) + fmt.Sprintf("\n[truncated at %d KB]", maxRead>>10), nil
			}
			return string(b), nil
		},
	}
	list := Tool{
		Name:        "list_files",
		Description: "List the files and folders in a folder inside the working folder.",
		Parameters:  json.RawMessage(`{"type":"object","properties":{"path":{"type":"string","description":"the folder, relative to the working folder (\".\" for the folder itself)"}}}`),
		Call: func(ctx context.Context, args json.RawMessage) (string, error) {
			p, err := pathArg(args)
			if err != nil {
				return "", err
			}
			entries, err := fs.ReadDir(r.FS(), p)
			if err != nil {
				return "", err
			}
			var b strings.Builder
			for i, e := range entries {
				if i == 500 {
					fmt.Fprintf(&b, "[%d more]\n", len(entries)-i)
					break
				}
				name := e.Name()
				if e.IsDir() {
					name += "/"
				}
				b.WriteString(name + "\n")
			}
			return b.String(), nil
		},
	}
	return []Tool{read, list}, nil
}

// Calculator returns a tool that evaluates arithmetic: + - * / % ^,
// parentheses, the constants pi and e, and sqrt, abs, exp, ln, log10,
// floor, ceil and round. It is hand-written to be arithmetic only: no
// names but these, nothing that reaches the process.
func Calculator() Tool {
	return Tool{
		Name:        "calculator",
		Description: "Evaluate an arithmetic expression, e.g. (3 + 4.5) * 2 ^ 10 / sqrt(2).",
		Parameters:  json.RawMessage(`{"type":"object","properties":{"expression":{"type":"string"}},"required":["expression"]}`),
		Call: func(ctx context.Context, args json.RawMessage) (string, error) {
			var a struct {
				Expression string `json:"expression"`
			}
			if err := json.Unmarshal(args, &a); err != nil {
				return "", fmt.Errorf("arguments: %w", err)
			}
			v, err := Evaluate(a.Expression)
			if err != nil {
				return "", err
			}
			return strconv.FormatFloat(v, 'g', -1, 64), nil
		},
	}
}

// Evaluate computes an arithmetic expression (see Calculator).
func Evaluate(expr string) (float64, error) {
	if len(expr) > 1000 {
		return 0, errors.New("expression longer than 1000 characters")
	}
	p := &calc{src: expr}
	v, err := p.sum(0)
	if err != nil {
		return 0, err
	}
	p.space()
	if p.pos < len(p.src) {
		return 0, fmt.Errorf("unexpected %q at %d", p.src[p.pos:], p.pos)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, errors.New("the result is not a finite number")
	}
	return v, nil
}

type calc struct {
	src string
	pos int
}

const maxDepth = 100

func (p *calc) space() {
	for p.pos < len(p.src) && unicode.IsSpace(rune(p.src[p.pos])) {
		p.pos++
	}
}

func (p *calc) peek() byte {
	p.space()
	if p.pos < len(p.src) {
		return p.src[p.pos]
	}
	return 0
}

// sum := product (('+'|'-') product)*
func (p *calc) sum(depth int) (float64, error) {
	v, err := p.product(depth)
	for err == nil {
		switch p.peek() {
		case '+', '-':
			op := p.src[p.pos]
			p.pos++
			var w float64
			if w, err = p.product(depth); err == nil {
				if op == '+' {
					v += w
				} else {
					v -= w
				}
			}
		default:
			return v, nil
		}
	}
	return 0, err
}

// product := unary (('*'|'/'|'%') unary)*
func (p *calc) product(depth int) (float64, error) {
	v, err := p.unary(depth)
	for err == nil {
		switch p.peek() {
		case '*', '/', '%':
			op := p.src[p.pos]
			p.pos++
			var w float64
			if w, err = p.unary(depth); err != nil {
				break
			}
			switch {
			case op == '*':
				v *= w
			case w == 0:
				return 0, errors.New("division by zero")
			case op == '/':
				v /= w
			default:
				v = math.Mod(v, w)
			}
		default:
			return v, nil
		}
	}
	return 0, err
}

// power := atom ('^' unary)?   (right-associative; -2^2 is -4)
func (p *calc) power(depth int) (float64, error) {
	v, err := p.atom(depth)
	if err != nil {
		return 0, err
	}
	if p.peek() == '^' {
		p.pos++
		w, err := p.unary(depth + 1)
		if err != nil {
			return 0, err
		}
		return math.Pow(v, w), nil
	}
	return v, nil
}

// unary := ('-'|'+') unary | power
func (p *calc) unary(depth int) (float64, error) {
	if depth > maxDepth {
		return 0, errors.New("expression nested too deeply")
	}
	switch p.peek() {
	case '-':
		p.pos++
		v, err := p.unary(depth + 1)
		return -v, err
	case '+':
		p.pos++
		return p.unary(depth + 1)
	}
	return p.power(depth)
}

var calcFuncs = map[string]func(float64) float64{
	"sqrt": math.Sqrt, "abs": math.Abs, "exp": math.Exp, "ln": math.Log, "log10": math.Log10,
	"floor": math.Floor, "ceil": math.Ceil, "round": math.Round,
}

// atom := number | name | name '(' sum ')' | '(' sum ')'
func (p *calc) atom(depth int) (float64, error) {
	c := p.peek()
	switch {
	case c == '(':
		p.pos++
		v, err := p.sum(depth + 1)
		if err != nil {
			return 0, err
		}
		if p.peek() != ')' {
			return 0, fmt.Errorf("missing ) at %d", p.pos)
		}
		p.pos++
		return v, nil
	case c >= '0' && c <= '9' || c == '.':
		start := p.pos
		for p.pos < len(p.src) && (p.src[p.pos] >= '0' && p.src[p.pos] <= '9' || p.src[p.pos] == '.' || p.src[p.pos] == '_') {
			p.pos++
		}
		if p.pos < len(p.src) && (p.src[p.pos] == 'e' || p.src[p.pos] == 'E') {
			p.pos++
			if p.pos < len(p.src) && (p.src[p.pos] == '+' || p.src[p.pos] == '-') {
				p.pos++
			}
			for p.pos < len(p.src) && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
				p.pos++
			}
		}
		text := strings.NewReplacer("_", "").Replace(p.src[start:p.pos])
		v, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return 0, fmt.Errorf("bad number %q", p.src[start:p.pos])
		}
		return v, nil
	case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		start := p.pos
		for p.pos < len(p.src) && (p.src[p.pos] >= 'a' && p.src[p.pos] <= 'z' || p.src[p.pos] >= 'A' && p.src[p.pos] <= 'Z' || p.src[p.pos] >= '0' && p.src[p.pos] <= '9') {
			p.pos++
		}
		name := strings.ToLower(p.src[start:p.pos])
		switch name {
		case "pi":
			return math.Pi, nil
		case "e":
			return math.E, nil
		}
		f, ok := calcFuncs[name]
		if !ok {
			return 0, fmt.Errorf("unknown name %q", name)
		}
		if p.peek() != '(' {
			return 0, fmt.Errorf("%s needs (", name)
		}
		v, err := p.atom(depth + 1)
		if err != nil {
			return 0, err
		}
		return f(v), nil
	case c == 0:
		return 0, errors.New("unexpected end of expression")
	}
	return 0, fmt.Errorf("unexpected %q at %d", c, p.pos)
}
