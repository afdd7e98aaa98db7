package index

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/dokja/dokja/atomicfile"
	"github.com/dokja/dokja/corpus"
)

// HelpPages is a retrieval task built from the LibreOffice help pages,
// which exist in Korean and English under the same paths: each sampled
// Korean page's title is a query, answered by that page and, across the
// languages, by its English counterpart.
type HelpPages struct {
	// Files are the pages to index: the sampled Korean pages and their
	// English counterparts.
	Files   []string
	Queries map[string]string
	// Korean judges the Korean page, English the English one.
	Korean, English Qrels
}

var titleRe = regexp.MustCompile(`<title>([^<]+)</title>`)

// NewHelpPages samples n Korean pages across root/ko/text (every k-th
// page) with their English counterparts under root/en-US/text. Titles
// that several sampled pages share, or without Hangul, make no query.
func NewHelpPages(root string, n int) (*HelpPages, error) {
	ko := filepath.Join(root, "ko", "text")
	all, err := corpus.Expand([]string{ko})
	if err != nil {
		return nil, err
	}
	sort.Strings(all)
	t := &HelpPages{Queries: map[string]string{}, Korean: Qrels{}, English: Qrels{}}
	count := map[string]int{}
	titles := map[string]string{}
	step := max(1, len(all)/max(n, 1))
	for i := 0; i < len(all) && len(titles) < n; i += step {
		b, err := os.ReadFile(all[i])
		if err != nil {
			return nil, err
		}
		title := ""
		if m := titleRe.FindSubmatch(b); m != nil {
			title = strings.TrimSpace(string(m[1]))
		}
		titles[all[i]] = title
		count[title]++
		t.Files = append(t.Files, all[i])
		rel, _ := filepath.Rel(ko, all[i])
		if en := filepath.Join(root, "en-US", "text", rel); fileExists(en) {
			t.Files = append(t.Files, en)
		}
	}
	for page, title := range titles {
		if title == "" || count[title] > 1 || !strings.ContainsFunc(title, isHangul) {
			continue
		}
		t.Queries[page] = title
		t.Korean[page] = map[string]int{page: 1}
		rel, _ := filepath.Rel(ko, page)
		if en := filepath.Join(root, "en-US", "text", rel); fileExists(en) {
			t.English[page] = map[string]int{en: 1}
		}
	}
	return t, nil
}

// DocID turns an indexed page's name (file:1) into its file.
func (t *HelpPages) DocID(doc string) string {
	if i := strings.LastIndexByte(doc, ':'); i >= 0 {
		return doc[:i]
	}
	return doc
}

func fileExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir()
}

// Pair is a training pair for contrastive fine-tuning: a query and the
// text that answers it.
type Pair struct {
	Query    string `json:"query"`
	Positive string `json:"positive"`
}

// HelpPagePairs makes training pairs from the Korean help pages that
// the task's sample leaves out (so that evaluation on the task stays
// unseen): each page's unique Korean title with the page's text, and
// with its English counterpart's text, each cut to maxChars.
func HelpPagePairs(root string, task *HelpPages, maxChars int) ([]Pair, error) {
	ko := filepath.Join(root, "ko", "text")
	all, err := corpus.Expand([]string{ko})
	if err != nil {
		return nil, err
	}
	sort.Strings(all)
	held := map[string]bool{}
	for _, f := range task.Files {
		held[f] = true
	}
	// Titles of the held-out pages make no training query either.
	heldTitles := map[string]bool{}
	for _, q := range task.Queries {
		heldTitles[q] = true
	}
	text := func(path string) (string, string, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", "", err
		}
		title := ""
		if m := titleRe.FindSubmatch(b); m != nil {
			title = strings.TrimSpace(string(m[1]))
		}
		body, _, err := corpus.HTMLText(bytes.NewReader(b), 1<<20)
		if err != nil {
			return "", "", fmt.Errorf("%s: %w", path, err)
		}
		body = strings.Join(strings.Fields(body), " ")
		if r := []rune(body); len(r) > maxChars {
			body = string(r[:maxChars])
		}
		return title, body, nil
	}
	count := map[string]int{}
	type page struct{ path, title, body string }
	var pages []page
	for _, path := range all {
		if held[path] {
			continue
		}
		title, body, err := text(path)
		if err != nil {
			return nil, err
		}
		count[title]++
		pages = append(pages, page{path, title, body})
	}
	var pairs []Pair
	for _, p := range pages {
		if p.title == "" || p.body == "" || count[p.title] > 1 || heldTitles[p.title] || !strings.ContainsFunc(p.title, isHangul) {
			continue
		}
		pairs = append(pairs, Pair{Query: p.title, Positive: p.body})
		rel, _ := filepath.Rel(ko, p.path)
		if en := filepath.Join(root, "en-US", "text", rel); fileExists(en) {
			_, body, err := text(en)
			if err != nil {
				return nil, err
			}
			if body != "" {
				pairs = append(pairs, Pair{Query: p.title, Positive: body})
			}
		}
	}
	return pairs, nil
}

func isHangul(r rune) bool { return r >= '가' && r <= '힣' }

// WritePairs writes pairs as JSON lines (what dokja train's pairs: key
// reads), atomically.
func WritePairs(path string, pairs []Pair) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	for _, p := range pairs {
		if err := enc.Encode(p); err != nil {
			return err
		}
	}
	return atomicfile.WriteFile(path, b.Bytes())
}
