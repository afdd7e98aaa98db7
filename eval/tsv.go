package eval

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"
)

// Row is one data row, by column name, with where it came from.
type Row struct {
	Fields map[string]string
	File   string
	Line   int // 1-based line of the row's start in File
}

// Get returns the named field.
func (r Row) Get(name string) string { return r.Fields[name] }

// FieldError is a problem with one field of one data row.
type FieldError struct {
	File  string
	Line  int
	Field string
	Err   error
}

// Error formats the problem as "FILE line N field \"NAME\": problem".
func (e *FieldError) Error() string {
	return fmt.Sprintf("%s line %d field %q: %v", e.File, e.Line, e.Field, e.Err)
}

// Unwrap returns the underlying error.
func (e *FieldError) Unwrap() error { return e.Err }

// maxTSVBytes bounds a data file (KoBEST's largest is under 3 MB).
const maxTSVBytes = 256 << 20

// ReadTSV reads a tab-separated file with a header row, as KoBEST ships
// it: fields may be quoted ("..." with "" for a quote inside; see
// tsvParser), other quotes are taken literally. Every column in required
// must be in the header, and every row must have as many fields as the
// header. Errors name the file, line and field.
func ReadTSV(path string, required []string) ([]Row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > maxTSVBytes {
		return nil, fmt.Errorf("%s: %d bytes is more than the %d a data file may have", path, st.Size(), maxTSVBytes)
	}
	return parseTSV(io.LimitReader(f, maxTSVBytes), path, required)
}

func parseTSV(r io.Reader, name string, required []string) ([]Row, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if !utf8.Valid(data) {
		off := 0
		for off < len(data) {
			c, size := utf8.DecodeRune(data[off:])
			if c == utf8.RuneError && size <= 1 {
				break
			}
			off += size
		}
		return nil, fmt.Errorf("%s line %d: invalid UTF-8 at byte %d", name, 1+bytes.Count(data[:off], []byte("\n")), off)
	}
	p := &tsvParser{s: strings.TrimPrefix(string(data), "\ufeff"), line: 1}
	header, _ := p.row()
	if len(header) == 0 || (len(header) == 1 && strings.TrimSpace(header[0]) == "") {
		return nil, fmt.Errorf("%s: empty file; want a header row", name)
	}
	for i := range header {
		header[i] = strings.TrimSpace(header[i])
	}
	for _, c := range required {
		if !contains(header, c) {
			return nil, fmt.Errorf("%s line 1: header %q has no column %q", name, strings.Join(header, "\t"), c)
		}
	}
	var rows []Row
	for !p.done() {
		rec, line := p.row()
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // a blank line
		}
		if len(rec) != len(header) {
			field := ""
			if len(rec) > len(header) {
				field = fmt.Sprintf("#%d (beyond the header)", len(header)+1)
			} else {
				field = header[len(rec)]
			}
			return nil, &FieldError{File: name, Line: line, Field: field,
				Err: fmt.Errorf("row has %d fields, the header %d (a tab or line break inside a field must be quoted)", len(rec), len(header))}
		}
		row := Row{Fields: make(map[string]string, len(header)), File: name, Line: line}
		for i, h := range header {
			row.Fields[h] = rec[i]
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// tsvParser splits tab-separated text into rows. A field that starts with
// a quote and ends with a quote right before a tab or line end is quoted:
// "" inside stands for one quote, and tabs and line breaks inside are
// kept. Any other field is literal, quotes and all: KoBEST's BoolQ train
// file has fields such as `"국제시장"은 ...` that merely begin with a
// quotation, while its HellaSwag train file quotes fields CSV-style.
type tsvParser struct {
	s    string
	pos  int
	line int
}

func (p *tsvParser) done() bool { return p.pos >= len(p.s) }

// row returns the next row's fields and the line it starts on.
func (p *tsvParser) row() ([]string, int) {
	start := p.line
	var fields []string
	for {
		f, end := p.field()
		fields = append(fields, f)
		if end {
			return fields, start
		}
	}
}

// field reads one field and reports whether it ended the row.
func (p *tsvParser) field() (string, bool) {
	if p.pos < len(p.s) && p.s[p.pos] == '"' {
		if f, next, lines, ok := quoted(p.s, p.pos); ok {
			p.pos, p.line = next, p.line+lines
			return f, p.sep()
		}
	}
	i := strings.IndexAny(p.s[p.pos:], "\t\n")
	if i < 0 {
		i = len(p.s) - p.pos
	}
	f := strings.TrimSuffix(p.s[p.pos:p.pos+i], "\r")
	p.pos += i
	return f, p.sep()
}

// sep consumes the tab or line end after a field and reports whether the
// row ended.
func (p *tsvParser) sep() bool {
	if p.pos >= len(p.s) {
		return true
	}
	if strings.HasPrefix(p.s[p.pos:], "\r\n") {
		p.pos += 2
		p.line++
		return true
	}
	c := p.s[p.pos]
	p.pos++
	if c == '\n' {
		p.line++
		return true
	}
	return false
}

// quoted parses a quoted field starting at s[at] == '"'. It fails when the
// closing quote is not followed by a tab, a line end or the end of input.
func quoted(s string, at int) (field string, next, lines int, ok bool) {
	var sb strings.Builder
	for i := at + 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			if i+1 < len(s) && s[i+1] == '"' {
				sb.WriteByte('"')
				i++
				continue
			}
			rest := s[i+1:]
			if rest == "" || rest[0] == '\t' || rest[0] == '\n' || strings.HasPrefix(rest, "\r\n") {
				return sb.String(), i + 1, lines, true
			}
			return "", 0, 0, false
		case '\n':
			lines++
			sb.WriteByte(c)
		default:
			sb.WriteByte(c)
		}
	}
	return "", 0, 0, false
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
