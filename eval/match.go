package eval

import (
	"fmt"
	"regexp"
	"strings"
)

// Filter functions of a task file's filter_list, in the harness's names.
const (
	FilterRegex            = "regex"
	FilterTakeFirst        = "take_first"
	FilterRemoveWhitespace = "remove_whitespace"
	FilterLowercase        = "lowercase"
	FilterUppercase        = "uppercase"
)

// FilterStep is one function of a filter chain.
type FilterStep struct {
	Function string
	// Regex, Group and Fallback configure FilterRegex (the harness's
	// regex_pattern, group_select and fallback).
	Regex    *regexp.Regexp
	Group    int
	Fallback string
}

// FilterChain turns a model's reply into the answer that is scored; each
// chain of a task yields its own metrics, labelled with its name.
type FilterChain struct {
	Name  string
	Steps []FilterStep
}

// DefaultFilter is the chain of a task without filter_list: the reply as
// it is, under the harness's name "none".
var DefaultFilter = FilterChain{Name: "none", Steps: []FilterStep{{Function: FilterTakeFirst}}}

// Apply runs the chain over one reply. Dokja draws one reply per item, so
// take_first keeps it.
func (c FilterChain) Apply(reply string) string {
	for _, s := range c.Steps {
		switch s.Function {
		case FilterRegex:
			reply = s.regex(reply)
		case FilterRemoveWhitespace:
			reply = strings.TrimPrefix(reply, " ")
		case FilterLowercase:
			reply = strings.ToLower(reply)
		case FilterUppercase:
			reply = strings.ToUpper(reply)
		}
	}
	return reply
}

// regex is the harness's regex filter: Python's findall, the match at
// Group (negative counts from the end), its first non-empty group when
// the pattern has several, stripped; Fallback when nothing matches.
func (s FilterStep) regex(reply string) string {
	all := s.Regex.FindAllStringSubmatch(reply, -1)
	g := s.Group
	if g < 0 {
		g += len(all)
	}
	if g < 0 || g >= len(all) {
		return s.Fallback
	}
	m := all[g]
	var v string
	switch len(m) {
	case 1:
		v = m[0]
	case 2:
		v = m[1]
	default:
		found := false
		for _, sub := range m[1:] {
			if sub != "" {
				v, found = sub, true
				break
			}
		}
		if !found {
			return s.Fallback
		}
	}
	return strings.TrimFunc(v, isPySpace)
}

// MatchOptions are exact_match's options in a task's metric_list.
type MatchOptions struct {
	IgnoreCase, IgnorePunctuation, IgnoreNumbers bool
	// RegexesToIgnore are removed from both strings first.
	RegexesToIgnore []*regexp.Regexp
}

// Match is the harness's exact_match for one prediction and reference:
// the ignored regexes are removed from both, then case, ASCII punctuation
// and digits as asked, and the results must be equal.
func (o MatchOptions) Match(pred, ref string) bool {
	return o.normalize(pred) == o.normalize(ref)
}

func (o MatchOptions) normalize(s string) string {
	for _, re := range o.RegexesToIgnore {
		s = re.ReplaceAllLiteralString(s, "")
	}
	if o.IgnoreCase {
		s = strings.ToLower(s)
	}
	if o.IgnorePunctuation {
		s = strings.Map(func(r rune) rune {
			if r < 0x80 && strings.ContainsRune(asciiPunctuation, r) {
				return -1
			}
			return r
		}, s)
	}
	if o.IgnoreNumbers {
		s = strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return -1
			}
			return r
		}, s)
	}
	return s
}

// asciiPunctuation is Python's string.punctuation.
const asciiPunctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"

// CompilePython compiles a regular expression written for Python's re
// module with Go's RE2, which lacks lookaround and backreferences (an
// error says so). Python's \w, \d and \s match Unicode letters, digits and
// spaces, Go's only ASCII ones; outside character classes they are
// rewritten, so that \w+ matches Korean words as in the harness. \b stays
// ASCII.
func CompilePython(pattern string) (*regexp.Regexp, error) {
	var sb strings.Builder
	inClass := false
	rs := []rune(pattern)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case r == '\\' && i+1 < len(rs):
			i++
			sb.WriteString(pyEscape(rs[i], inClass))
		case r == '[' && !inClass:
			inClass = true
			sb.WriteRune(r)
			// A ] right after [ or [^ is a literal.
			if i+1 < len(rs) && rs[i+1] == '^' {
				sb.WriteRune('^')
				i++
			}
			if i+1 < len(rs) && rs[i+1] == ']' {
				sb.WriteString(`\]`)
				i++
			}
		case r == ']' && inClass:
			inClass = false
			sb.WriteRune(r)
		default:
			sb.WriteRune(r)
		}
	}
	re, err := regexp.Compile(sb.String())
	if err != nil {
		msg := err.Error()
		if strings.Contains(pattern, "(?=") || strings.Contains(pattern, "(?!") || strings.Contains(pattern, "(?<=") || strings.Contains(pattern, "(?<!") {
			msg += " (lookaround is not supported by Go's regular expressions)"
		}
		return nil, fmt.Errorf("regular expression %q: %s", pattern, msg)
	}
	return re, nil
}

func pyEscape(r rune, inClass bool) string {
	switch r {
	case 'w':
		if inClass {
			return `\p{L}\p{N}_`
		}
		return `[\p{L}\p{N}_]`
	case 'd':
		return `\p{Nd}`
	case 's':
		if inClass {
			return `\s\p{Z}\x{85}`
		}
		return `[\s\p{Z}\x{85}]`
	case 'W':
		if !inClass {
			return `[^\p{L}\p{N}_]`
		}
	case 'D':
		if !inClass {
			return `\P{Nd}`
		}
	case 'S':
		if !inClass {
			return `[^\s\p{Z}\x{85}]`
		}
	}
	return `\` + string(r)
}
