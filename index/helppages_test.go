package index

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/blevesearch/bleve/v2/analysis/analyzer/standard"
	"github.com/blevesearch/bleve/v2/analysis/lang/cjk"
	"github.com/dokja/dokja/corpus"
)

// helpPages returns the folder of the LibreOffice help pages (installed,
// or unpacked into .cache by make test and make demo); it skips without
// them unless CI=true.
func helpPages(t *testing.T) string {
	t.Helper()
	for _, dir := range []string{"/usr/share/libreoffice/help", "../.cache/libreoffice-help/usr/share/libreoffice/help"} {
		if st, err := os.Stat(filepath.Join(dir, "ko", "text")); err == nil && st.IsDir() {
			return dir
		}
	}
	msg := "LibreOffice help pages not installed (make test unpacks them into .cache)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// knownItems are Korean pages with their titles: a page's title is a
// query that page should answer.
func knownItems(t *testing.T, root string, n int) (files []string, titles map[string]string) {
	t.Helper()
	all, err := corpus.Expand([]string{filepath.Join(root, "ko", "text")})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(all)
	titles = map[string]string{}
	seen := map[string]bool{}
	// Every k-th page, for a sample across the help's sections.
	step := max(1, len(all)/n)
	for i := 0; i < len(all) && len(files) < n; i += step {
		b, err := os.ReadFile(all[i])
		if err != nil {
			t.Fatal(err)
		}
		m := titleRe.FindSubmatch(b)
		title := ""
		if m != nil {
			title = strings.TrimSpace(string(m[1]))
		}
		files = append(files, all[i])
		// Titles several pages share are no test of ranking.
		if title != "" && !seen[title] && strings.ContainsFunc(title, func(r rune) bool { return r >= '가' && r <= '힣' }) {
			titles[all[i]] = title
		}
		seen[title] = true
	}
	return files, titles
}

// retrieval scores known-item search: mean reciprocal rank within the
// top 10, and the share of queries whose page is in the top 1 and 10.
func retrieval(t *testing.T, ix *Index, titles map[string]string) (mrr, at1, at10 float64) {
	for file, title := range titles {
		hits, err := ix.Search(context.Background(), title, 10)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		rank := 0
		for _, h := range hits {
			if seen[h.Doc] {
				continue
			}
			seen[h.Doc] = true
			rank++
			if strings.HasPrefix(h.Doc, file+":") {
				mrr += 1 / float64(rank)
				if rank == 1 {
					at1++
				}
				at10++
				break
			}
		}
	}
	n := float64(len(titles))
	return mrr / n, at1 / n, at10 / n
}

// stems drops the last syllable of each Hangul word of three or more:
// the title's words with their particles and endings gone or changed, as
// a user types them ("저장하기" as "저장하").
func stems(title string) string {
	words := strings.Fields(title)
	for i, w := range words {
		r := []rune(w)
		if len(r) >= 3 && allHangul(r) {
			words[i] = string(r[:len(r)-1])
		}
	}
	return strings.Join(words, " ")
}

// TestHelpPagesKnownItem: Korean page titles find their pages, as typed
// and with their words' endings cut. Whole Hangul words plus syllable
// bigrams (dokja_ko) do as well as bleve's cjk analyzer (words whole) and
// its standard one on whole titles, and better on cut ones.
// DOKJA_HELP_PAGES=N sets the sample (default 400 pages; the benchmarks
// quote all of them).
func TestHelpPagesKnownItem(t *testing.T) {
	if testing.Short() {
		t.Skip("indexes hundreds of pages; the plain run covers it")
	}
	root := helpPages(t)
	n := 400
	if v := os.Getenv("DOKJA_HELP_PAGES"); v != "" {
		fmt.Sscan(v, &n)
	}
	files, titles := knownItems(t, root, n)
	cut := map[string]string{}
	for f, title := range titles {
		if c := stems(title); c != title {
			cut[f] = c
		}
	}
	whole, stem := map[string]float64{}, map[string]float64{}
	for _, analyzer := range []string{AnalyzerName, cjk.AnalyzerName, standard.Name} {
		dir := filepath.Join(t.TempDir(), analyzer)
		if _, err := Build(context.Background(), files, dir, Options{Format: corpus.HTML, analyzer: analyzer}); err != nil {
			t.Fatal(err)
		}
		ix, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		mrr, at1, at10 := retrieval(t, ix, titles)
		t.Logf("%-10s %d pages, %d titles: MRR@10 %.3f, top-1 %.3f, top-10 %.3f", analyzer, len(files), len(titles), mrr, at1, at10)
		whole[analyzer] = mrr
		mrr, at1, at10 = retrieval(t, ix, cut)
		t.Logf("%-10s %d titles with endings cut: MRR@10 %.3f, top-1 %.3f, top-10 %.3f", analyzer, len(cut), mrr, at1, at10)
		stem[analyzer] = mrr
		ix.Close()
	}
	for _, other := range []string{cjk.AnalyzerName, standard.Name} {
		if whole[AnalyzerName] < whole[other]-0.02 || stem[AnalyzerName] < stem[other]+0.05 {
			t.Errorf("MRR@10 whole titles %v, cut titles %v: want %s within 0.02 on whole titles and 0.05 ahead on cut ones", whole, stem, AnalyzerName)
		}
	}
}
