// Package progress draws a one-line status on a terminal for long work,
// and stays silent when the output is not a terminal (logs, CI, pipes).
package progress

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"
)

// Line rewrites a single status line in place.
type Line struct {
	mu      sync.Mutex
	w       io.Writer
	enabled bool
	last    time.Time
	width   int
	start   time.Time
}

// New returns a Line writing to w, enabled only when w is a terminal.
func New(w io.Writer) *Line {
	enabled := false
	if f, ok := w.(*os.File); ok {
		enabled = term.IsTerminal(int(f.Fd()))
	}
	return &Line{w: w, enabled: enabled, start: time.Now()}
}

// Enabled reports whether the line is drawn.
func (l *Line) Enabled() bool { return l != nil && l.enabled }

// Printf redraws the line, at most ten times a second.
func (l *Line) Printf(format string, args ...any) {
	if !l.Enabled() {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if time.Since(l.last) < 100*time.Millisecond {
		return
	}
	l.last = time.Now()
	s := fmt.Sprintf("%6.1fs  ", time.Since(l.start).Seconds()) + fmt.Sprintf(format, args...)
	pad := ""
	if n := l.width - len(s); n > 0 {
		pad = fmt.Sprintf("%*s", n, "")
	}
	l.width = len(s)
	fmt.Fprint(l.w, "\r"+s+pad)
}

// Done clears the line so that normal output can follow.
func (l *Line) Done() {
	if !l.Enabled() {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.width > 0 {
		fmt.Fprintf(l.w, "\r%*s\r", l.width, "")
		l.width = 0
	}
}
