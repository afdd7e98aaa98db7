package infer

import (
	"strings"
	"unicode/utf8"
)

// textStream turns decoded token bytes into text that is safe to show:
// pieces never split a UTF-8 character and never show the start of a stop
// string that may still complete. A stop string ends the text before it.
type textStream struct {
	stops []string
	raw   []byte // decoded bytes not yet released
	text  strings.Builder
}

// push adds a token's bytes and returns the text now certain, and whether
// a stop string was found.
func (s *textStream) push(piece string) (string, bool) {
	s.raw = append(s.raw, piece...)
	return s.release(false)
}

// finish releases what is held back at the end of generation.
func (s *textStream) finish() string {
	out, _ := s.release(true)
	return out
}

func (s *textStream) release(final bool) (string, bool) {
	pending := string(s.raw)
	for _, st := range s.stops {
		if st == "" {
			continue
		}
		if i := strings.Index(s.text.String()+pending, st); i >= 0 {
			keep := max(0, i-s.text.Len())
			out := pending[:keep]
			s.text.WriteString(out)
			s.raw = s.raw[:0]
			return out, true
		}
	}
	n := len(pending)
	if !final {
		n -= incompleteTail(pending)
		for _, st := range s.stops {
			for l := min(len(st)-1, n); l > 0; l-- {
				if strings.HasSuffix(pending[:n], st[:l]) {
					n -= l
					break
				}
			}
		}
	}
	out := pending[:n]
	s.text.WriteString(out)
	s.raw = append(s.raw[:0], pending[n:]...)
	return out, false
}

// incompleteTail returns how many bytes at the end of b begin a UTF-8
// character whose remaining bytes have not arrived (0 when none).
func incompleteTail(b string) int {
	for i := 1; i <= min(utf8.UTFMax-1, len(b)); i++ {
		c := b[len(b)-i]
		if c < utf8.RuneSelf {
			return 0
		}
		if utf8.RuneStart(c) {
			if utf8.FullRuneInString(b[len(b)-i:]) {
				return 0
			}
			return i
		}
	}
	return 0
}
