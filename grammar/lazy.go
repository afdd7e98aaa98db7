package grammar

import (
	"strings"
)

// Lazy applies a grammar only from a trigger on: text is free until the
// generation writes the trigger (a tool call's opening tag, say), then the
// grammar, which begins with the trigger, holds until it completes, and
// the text is free again, watching for the next trigger. Nothing is
// masked while free, so free text costs nothing. It is not safe for
// concurrent use.
type Lazy struct {
	g       *Grammar
	v       *Vocab
	trigger string
	active  *Constraint
	tail    string // the free text's end, where a trigger may be starting
}

// NewLazy returns a constraint that switches g on after each trigger.
func (g *Grammar) NewLazy(v *Vocab, trigger string) *Lazy {
	return &Lazy{g: g, v: v, trigger: trigger}
}

// Active reports whether the grammar holds now.
func (l *Lazy) Active() bool { return l.active != nil }

// Allows reports whether token id may come next.
func (l *Lazy) Allows(id, remaining int) bool {
	if l.active == nil {
		return true
	}
	return l.active.Allows(id, remaining)
}

// Mask masks the logits while the grammar holds. When too few tokens are
// left to complete it, the grammar is dropped rather than the generation
// failed: the call stays incomplete, as an unconstrained one would.
func (l *Lazy) Mask(logits []float32, remaining int) error {
	if l.active == nil {
		return nil
	}
	if err := l.active.Mask(logits, remaining); err != nil {
		l.active = nil
	}
	return nil
}

// Accept advances past token id.
func (l *Lazy) Accept(id int) error {
	if l.active != nil {
		if err := l.active.Accept(id); err != nil {
			return err
		}
		if l.active.Done() {
			l.active = nil
		}
		return nil
	}
	var text string
	if id >= 0 && id < len(l.v.text) {
		text = l.v.text[id]
	}
	l.tail += text
	i := strings.Index(l.tail, l.trigger)
	if i < 0 {
		if keep := len(l.trigger) - 1; len(l.tail) > keep {
			l.tail = l.tail[len(l.tail)-keep:]
		}
		return nil
	}
	from := l.tail[i:]
	l.tail = ""
	l.active = l.g.NewConstraint(l.v)
	if err := l.active.m.Accept(from); err != nil {
		// The grammar does not begin with the trigger, or the token ran
		// past it into text the grammar refuses: nothing is left to hold.
		l.active = nil
	}
	if l.active != nil && l.active.Done() {
		l.active = nil
	}
	return nil
}

// Done is always false: free text may follow.
func (l *Lazy) Done() bool { return false }
