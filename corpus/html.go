package corpus

import (
	"bytes"
	"io"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// skipped elements hold no main text: code, metadata, and the page
// furniture that HTML5 marks as such (navigation, headers, sidebars).
var skipped = map[atom.Atom]bool{
	atom.Head: true, atom.Script: true, atom.Style: true, atom.Noscript: true,
	atom.Template: true, atom.Svg: true, atom.Math: true, atom.Iframe: true,
	atom.Nav: true, atom.Header: true, atom.Footer: true, atom.Aside: true,
	atom.Button: true, atom.Select: true, atom.Textarea: true, atom.Object: true,
}

// breaks end a line of text: block-level elements and line breaks.
var breaks = map[atom.Atom]bool{
	atom.P: true, atom.Div: true, atom.Br: true, atom.Li: true, atom.Tr: true,
	atom.H1: true, atom.H2: true, atom.H3: true, atom.H4: true, atom.H5: true, atom.H6: true,
	atom.Table: true, atom.Ul: true, atom.Ol: true, atom.Dl: true, atom.Dt: true, atom.Dd: true,
	atom.Pre: true, atom.Blockquote: true, atom.Section: true, atom.Article: true, atom.Main: true,
	atom.Hr: true, atom.Figure: true, atom.Figcaption: true, atom.Td: true, atom.Th: true,
	atom.Caption: true, atom.Body: true, atom.Form: true, atom.Fieldset: true, atom.Details: true,
	atom.Summary: true,
}

// HTMLText extracts the readable text of an HTML page: the text outside
// scripts, styles and page furniture, one line per block element, with
// runs of spaces collapsed (inside <pre> too, where layout is not kept).
// It reads at most limit bytes and reports whether the page was longer.
func HTMLText(r io.Reader, limit int) (text string, truncated bool, err error) {
	data, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return "", false, err
	}
	if len(data) > limit {
		return "", true, nil
	}
	z := html.NewTokenizer(bytes.NewReader(data))
	var out, line strings.Builder
	skip := 0 // depth inside skipped elements
	flush := func() {
		s := strings.Join(strings.Fields(line.String()), " ")
		line.Reset()
		if s != "" {
			out.WriteString(s)
			out.WriteByte('\n')
		}
	}
	for {
		switch z.Next() {
		case html.ErrorToken:
			if z.Err() != io.EOF {
				return "", false, z.Err()
			}
			flush()
			return strings.TrimRight(out.String(), "\n"), false, nil
		case html.TextToken:
			if skip == 0 {
				line.Write(z.Text())
				line.WriteByte(' ')
			}
		case html.StartTagToken:
			name, _ := z.TagName()
			a := atom.Lookup(name)
			if skipped[a] {
				skip++
			} else if breaks[a] && skip == 0 {
				flush()
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			a := atom.Lookup(name)
			if skipped[a] && skip > 0 {
				skip--
			} else if breaks[a] && skip == 0 {
				flush()
			}
		case html.SelfClosingTagToken:
			name, _ := z.TagName()
			if a := atom.Lookup(name); breaks[a] && skip == 0 {
				flush()
			}
		}
	}
}
