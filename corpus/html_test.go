package corpus

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const page = `<!DOCTYPE html><html lang="ko"><head><title>제목</title>
<script>var x = "<p>not text</p>";</script><style>p { color: red }</style></head>
<body><header><a href="/">LibreOffice 7.4 Help</a><nav>Module</nav></header>
<aside class="leftside"><div>Index 🔎︎</div></aside>
<div id="DisplayArea"><h1>쿼리 디자인 도구 모음</h1>
<p>SQL 쿼리를 만들거나 <span class="x">편집하는</span>   경우 &lt;Ctrl&gt;+Enter</p>
<ul><li>첫째</li><li>둘째<br>셋째</li></ul><button>Copy</button></div>
<footer>© 2022</footer></body></html>`

func TestHTMLText(t *testing.T) {
	got, truncated, err := HTMLText(strings.NewReader(page), 1<<20)
	if err != nil || truncated {
		t.Fatal(err, truncated)
	}
	want := "쿼리 디자인 도구 모음\nSQL 쿼리를 만들거나 편집하는 경우 <Ctrl>+Enter\n첫째\n둘째\n셋째"
	if got != want {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
	if _, truncated, _ := HTMLText(strings.NewReader(page), 100); !truncated {
		t.Fatal("a page over the limit was not reported")
	}
}

func TestHTMLReaderAndExpand(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "b"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "b", "page.html"), []byte(page), 0o644))
	must(os.WriteFile(filepath.Join(dir, "a.jsonl"), []byte(`{"text":"x"}`+"\n"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("y\n"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "logo.png"), []byte("\x89PNG"), 0o644))
	files, err := Expand([]string{dir})
	must(err)
	var rel []string
	for _, f := range files {
		r, _ := filepath.Rel(dir, f)
		rel = append(rel, r)
	}
	if want := []string{"a.jsonl", "b/page.html", "notes.txt"}; !slices.Equal(rel, want) {
		t.Fatalf("Expand: %v, want %v", rel, want)
	}
	if _, err := Expand([]string{filepath.Join(dir, "missing")}); err == nil {
		t.Fatal("missing path accepted")
	}
	r, err := Open(filepath.Join(dir, "b", "page.html"), Options{})
	must(err)
	defer r.Close()
	rec, err := r.Next()
	must(err)
	if !strings.HasPrefix(rec.Text, "쿼리 디자인") || rec.Line != 1 {
		t.Fatalf("record %+v", rec)
	}
	if _, err := r.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("second record: %v", err)
	}
	big, err := NewReader(strings.NewReader(page), "p.html", Options{MaxRecordBytes: 64})
	must(err)
	if _, err := big.Next(); !errors.Is(err, ErrLineTooLong) || !strings.Contains(err.Error(), "p.html") {
		t.Fatalf("oversized page: %v", err)
	}
}
