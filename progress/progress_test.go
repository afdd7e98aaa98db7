package progress

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// Off a terminal the line must stay silent: logs and pipes get no \r noise.
func TestSilentOffTerminal(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf)
	if l.Enabled() {
		t.Fatal("a bytes.Buffer was taken for a terminal")
	}
	l.Printf("step %d", 1)
	l.Done()
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fl := New(f)
	fl.Printf("step %d", 2)
	fl.Done()
	if fl.Enabled() || buf.Len() != 0 {
		t.Fatalf("wrote %q to a non-terminal", buf.String())
	}
	if st, _ := f.Stat(); st.Size() != 0 {
		t.Fatalf("wrote %d bytes to a regular file", st.Size())
	}
	var nilLine *Line
	nilLine.Printf("no panic on a nil line")
	nilLine.Done()
}

// On a terminal the line redraws in place and Done clears it.
func TestRedraw(t *testing.T) {
	var buf bytes.Buffer
	l := &Line{w: &buf, enabled: true}
	l.Printf("counting %d", 10)
	if !bytes.HasPrefix(buf.Bytes(), []byte("\r")) || !bytes.Contains(buf.Bytes(), []byte("counting 10")) {
		t.Fatalf("drew %q", buf.String())
	}
	n := buf.Len()
	l.Printf("counting %d", 11) // within 100 ms: skipped
	if buf.Len() != n {
		t.Fatalf("redrew too soon: %q", buf.String())
	}
	l.Done()
	if !bytes.HasSuffix(buf.Bytes(), []byte("\r")) {
		t.Fatalf("Done did not clear the line: %q", buf.String())
	}
}
