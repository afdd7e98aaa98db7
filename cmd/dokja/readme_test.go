package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The README's examples say what the commands print: run them.
func TestReadmeExamples(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	// echo "TEXT" | dokja tokenizer encode --tokenizer NAME, then "# IDS".
	encode := regexp.MustCompile(`(?m)^echo "([^"]+)" \| dokja tokenizer encode --tokenizer (\S+)\n# ([0-9]+(?: [0-9]+)*)`)
	ms := encode.FindAllStringSubmatch(readme, -1)
	if len(ms) == 0 {
		t.Fatal("the README's encode example was not found")
	}
	for _, m := range ms {
		r := mustRun(t, m[1]+"\n", "tokenizer", "encode", "--tokenizer", m[2])
		if got := strings.TrimSpace(r.stdout); got != m[3] {
			t.Errorf("README: %q with %s shows %q; dokja prints %q", m[1], m[2], m[3], got)
		}
	}
	// echo "TEXT" | dokja data redact   # OUTPUT
	redact := regexp.MustCompile(`(?m)^echo "([^"]+)" \| dokja data redact\s+# (.+)$`)
	ms = redact.FindAllStringSubmatch(readme, -1)
	if len(ms) == 0 {
		t.Fatal("the README's redact example was not found")
	}
	for _, m := range ms {
		r := mustRun(t, m[1]+"\n", "data", "redact")
		if got := strings.TrimSpace(r.stdout); got != m[2] {
			t.Errorf("README: redacting %q shows %q; dokja prints %q", m[1], m[2], got)
		}
	}
}

// Every examples/ file the README, the docs or a command's help names
// exists.
func TestExampleFilesExist(t *testing.T) {
	texts := map[string]string{}
	for _, f := range []string{"README.md", "docs/architecture.md", "docs/benchmarks.md"} {
		data, err := os.ReadFile(filepath.Join("..", "..", f))
		if err != nil {
			t.Fatal(err)
		}
		texts[f] = string(data)
	}
	for _, c := range allCommands() {
		args := []string{"help", c.name}
		texts["dokja help "+c.name] = mustRun(t, "", args...).stdout
		for _, sub := range strings.Split(c.subs, "|") {
			if sub != "" {
				texts["dokja help "+c.name+" "+sub] = mustRun(t, "", "help", c.name, sub).stdout
			}
		}
	}
	path := regexp.MustCompile(`examples/[A-Za-z0-9_./-]+\.(ya?ml|json|jsonl)`)
	n := 0
	for where, text := range texts {
		for _, p := range path.FindAllString(text, -1) {
			n++
			if _, err := os.Stat(filepath.Join("..", "..", p)); err != nil {
				t.Errorf("%s names %s, which does not exist", where, p)
			}
		}
	}
	if n == 0 {
		t.Fatal("no examples/ paths found: the pattern is wrong")
	}
}
