package index

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSplit(t *testing.T) {
	para := strings.Repeat("가나다라 마바사. ", 30) + "\n\n" + strings.Repeat("word ", 200)
	for _, tc := range []struct {
		text          string
		size, overlap int
	}{
		{para, 100, 20},
		{para, 300, 0},
		{"짧은 글", 100, 20},
		{strings.Repeat("가", 1000), 100, 10}, // no break anywhere
	} {
		pieces := Split(tc.text, tc.size, tc.overlap)
		runes := []rune(tc.text)
		covered := make([]bool, len(runes))
		for i, p := range pieces {
			n := utf8.RuneCountInString(p.Text)
			if n > tc.size {
				t.Errorf("piece %d has %d characters, over %d", i, n, tc.size)
			}
			if string(runes[p.Start:p.Start+n]) != p.Text {
				t.Errorf("piece %d is not the text at %d", i, p.Start)
			}
			for j := p.Start; j < p.Start+n; j++ {
				covered[j] = true
			}
			if i > 0 && p.Start <= pieces[i-1].Start {
				t.Errorf("piece %d does not advance", i)
			}
			if i > 0 && tc.overlap > 0 && p.Start >= pieces[i-1].Start+utf8.RuneCountInString(pieces[i-1].Text) && len(pieces[i-1].Text) > tc.overlap {
				t.Errorf("piece %d shares nothing with the one before", i)
			}
		}
		for j, r := range runes {
			if !covered[j] && r != ' ' && r != '\n' {
				t.Fatalf("character %d (%q) is in no piece", j, r)
			}
		}
	}
	// A paragraph break inside the last fifth is where a piece ends.
	text := strings.Repeat("a", 85) + "\n\n" + strings.Repeat("b", 100)
	if p := Split(text, 100, 10); p[0].Text != strings.Repeat("a", 85) {
		t.Errorf("first piece %q, want the paragraph", p[0].Text)
	}
}

func writeDocs(t *testing.T, dir string, lines ...string) string {
	t.Helper()
	path := filepath.Join(dir, "docs.jsonl")
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(`{"text": "` + l + `"}` + "\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestBuildAndSearch(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	path := writeDocs(t, src,
		"서울에서 회의를 엽니다. 회의실은 3층입니다.",
		"부산으로 가는 기차는 매시간 출발합니다.",
		"To save a document, choose File - Save.",
		"문서를 저장하려면 파일 - 저장을 선택하십시오.")
	dir := filepath.Join(t.TempDir(), "idx")
	man, err := Build(ctx, []string{src}, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if man.Docs != 4 || man.Chunks != 4 || len(man.Files) != 1 || man.Files[0].Path != path {
		t.Fatalf("manifest %+v", man)
	}
	ix, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ query, want string }{
		{"서울 회의", "서울에서 회의를"}, // 서울 matches inside 서울에서
		{"문서 저장", "문서를 저장하려면"},
		{"save document", "To save a document"},
		{"기차 출발 시간", "부산으로"},
	} {
		hits, err := ix.Search(ctx, tc.query, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(hits) == 0 || !strings.Contains(hits[0].Text, tc.want) || hits[0].Doc != path+":"+hits[0].ID[len(path)+1:strings.LastIndex(hits[0].ID, "#")] {
			t.Errorf("%q: hits %+v, want %q first", tc.query, hits, tc.want)
		}
	}
	for _, bad := range []struct {
		q string
		k int
	}{{"x", 0}, {"x", 5000}, {"  ", 3}, {"\xff", 3}} {
		if _, err := ix.Search(ctx, bad.q, bad.k); err == nil {
			t.Errorf("search %q k=%d: no error", bad.q, bad.k)
		}
	}
	ix.Close()

	// A second build with another file redoes only that file, and drops
	// a file no longer given.
	other := filepath.Join(t.TempDir(), "more.jsonl")
	os.WriteFile(other, []byte(`{"text": "제주도 여행 안내"}`+"\n"), 0o644)
	if man, err = Build(ctx, []string{src, other}, dir, Options{}); err != nil || man.Docs != 5 || len(man.Files) != 2 {
		t.Fatalf("adding a file: %+v %v", man, err)
	}
	if ix, err = Open(dir); err != nil {
		t.Fatal(err)
	}
	if hits, _ := ix.Search(ctx, "제주도", 3); len(hits) != 1 || !strings.HasPrefix(hits[0].Doc, other) {
		t.Errorf("the added file's document: %+v", hits)
	}
	ix.Close()
	if man, err = Build(ctx, []string{other}, dir, Options{}); err != nil || man.Docs != 1 {
		t.Fatalf("dropping a file: %+v %v", man, err)
	}
	if ix, err = Open(dir); err != nil {
		t.Fatal(err)
	}
	if hits, _ := ix.Search(ctx, "서울 회의", 3); len(hits) != 0 {
		t.Errorf("a dropped file's documents are still found: %+v", hits)
	}
	ix.Close()

	// A changed file is indexed again; a folder that is not an index is
	// not replaced.
	writeDocs(t, src, "새 문서 하나")
	if man, err = Build(ctx, []string{src}, dir, Options{}); err != nil || man.Docs != 1 || man.Files[0].Path != path {
		t.Fatalf("rebuild: %+v %v", man, err)
	}
	notIndex := t.TempDir()
	os.WriteFile(filepath.Join(notIndex, "keep.txt"), []byte("x"), 0o644)
	if _, err := Build(ctx, []string{src}, notIndex, Options{}); err == nil || !strings.Contains(err.Error(), "not an index") {
		t.Errorf("building over a folder that is not an index: %v", err)
	}
	if _, err := os.Stat(filepath.Join(notIndex, "keep.txt")); err != nil {
		t.Errorf("the folder was touched: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Dir(dir))
	if len(entries) != 1 {
		t.Errorf("left beside the index: %v", entries)
	}
	for _, o := range []Options{{ChunkChars: 10}, {ChunkChars: 100, Overlap: 60}} {
		if _, err := Build(ctx, []string{src}, dir, o); err == nil {
			t.Errorf("options %+v: no error", o)
		}
	}
	// An interrupted build leaves the old index in place.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Build(cctx, []string{src}, dir, Options{}); err == nil {
		t.Error("a cancelled build reported success")
	}
	if ix, err := Open(dir); err != nil || ix.Manifest.Docs != 1 {
		t.Errorf("after a cancelled build: %v", err)
	} else {
		ix.Close()
	}
}
