package index

import (
	"context"
	"hash/fnv"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// trigrams embeds text as hashed character trigrams: texts that share
// many trigrams are close, a text is closest to itself.
type trigrams struct{ calls int }

func (e *trigrams) Embed(_ context.Context, texts []string) ([][]float32, error) {
	e.calls += len(texts)
	out := make([][]float32, len(texts))
	for i, s := range texts {
		v := make([]float32, 64)
		r := []rune(s)
		for j := 0; j+3 <= len(r); j++ {
			h := fnv.New32a()
			h.Write([]byte(string(r[j : j+3])))
			v[h.Sum32()%64]++
		}
		out[i] = v
	}
	return out, nil
}

func TestDenseAndHybrid(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	a := filepath.Join(src, "a.jsonl")
	os.WriteFile(a, []byte(`{"text": "서울에서 회의를 엽니다. 회의실은 3층입니다."}`+"\n"+`{"text": "부산으로 가는 기차는 매시간 출발합니다."}`+"\n"), 0o644)
	b := filepath.Join(src, "b.jsonl")
	os.WriteFile(b, []byte(`{"text": "To save a document, choose File - Save."}`+"\n"), 0o644)
	dir := filepath.Join(t.TempDir(), "idx")
	emb := &trigrams{}
	man, err := Build(ctx, []string{a, b}, dir, Options{Embedder: emb, EmbedderName: "trigrams"})
	if err != nil {
		t.Fatal(err)
	}
	if man.Embedder != "trigrams" || man.Dim != 64 || emb.calls != 3 {
		t.Fatalf("manifest %+v, %d texts embedded", man, emb.calls)
	}
	ix, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	q, _ := emb.Embed(ctx, []string{"부산으로 가는 기차는 매시간 출발합니다."})
	hits, err := ix.SearchVector(ctx, q[0], 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 3 || !strings.HasPrefix(hits[0].Text, "부산으로") || math.Abs(hits[0].Score-1) > 1e-5 || hits[1].Score >= hits[0].Score {
		t.Errorf("dense: %+v", hits)
	}
	hy, err := ix.SearchHybrid(ctx, "기차 출발", emb, 2)
	if err != nil || len(hy) != 2 || !strings.HasPrefix(hy[0].Text, "부산으로") {
		t.Errorf("hybrid: %+v %v", hy, err)
	}
	ix.Close()

	// A rebuild with b changed embeds b's chunk again, and only it; one
	// with b dropped keeps a's vectors.
	os.WriteFile(b, []byte(`{"text": "Charts are inserted from the Insert menu."}`+"\n"), 0o644)
	emb.calls = 0
	if _, err := Build(ctx, []string{a, b}, dir, Options{Embedder: emb, EmbedderName: "trigrams"}); err != nil || emb.calls != 1 {
		t.Fatalf("changed file: %v, %d texts embedded, want 1", err, emb.calls)
	}
	if _, err := Build(ctx, []string{a}, dir, Options{Embedder: emb, EmbedderName: "trigrams"}); err != nil {
		t.Fatal(err)
	}
	if ix, err = Open(dir); err != nil {
		t.Fatal(err)
	}
	if got := len(ix.vecs.ids); got != 2 {
		t.Errorf("%d vectors after dropping b, want 2", got)
	}
	if _, err := ix.SearchVector(ctx, make([]float32, 8), 3); err == nil {
		t.Error("a query vector of the wrong width: no error")
	}
	ix.Close()
	// Another embedder embeds everything again.
	emb.calls = 0
	if _, err := Build(ctx, []string{a}, dir, Options{Embedder: emb, EmbedderName: "other"}); err != nil || emb.calls != 2 {
		t.Errorf("another embedder: %v, %d embedded", err, emb.calls)
	}
	// An index without vectors says so.
	plain := filepath.Join(t.TempDir(), "plain")
	Build(ctx, []string{a}, plain, Options{})
	ix, _ = Open(plain)
	defer ix.Close()
	if _, err := ix.SearchVector(ctx, q[0], 3); err == nil || !strings.Contains(err.Error(), "without an embedding model") {
		t.Errorf("dense search on a BM25 index: %v", err)
	}
}

func TestFuse(t *testing.T) {
	h := func(ids ...string) []Hit {
		var out []Hit
		for _, id := range ids {
			out = append(out, Hit{Chunk: Chunk{ID: id}})
		}
		return out
	}
	// b: 1/62 + 1/61 = 0.032523; a: 1/61 + 1/63 = 0.032266; c: 1/63;
	// d: 1/62.
	got := Fuse(3, h("a", "b", "c"), h("b", "d", "a"))
	var ids []string
	for _, x := range got {
		ids = append(ids, x.ID)
	}
	if strings.Join(ids, ",") != "b,a,d" || math.Abs(got[0].Score-(1.0/62+1.0/61)) > 1e-12 {
		t.Errorf("fused %v (%+v)", ids, got)
	}
}

// FuzzReadVectors: any vectors.bin is read or refused, never a panic or
// an allocation the file cannot back.
func FuzzReadVectors(f *testing.F) {
	v := &vectors{}
	v.add("a#0", []float32{1, 2, 3})
	v.add("b#1", []float32{0, 1, 0})
	dir := f.TempDir()
	p := filepath.Join(dir, "v.bin")
	if err := v.write(p); err != nil {
		f.Fatal(err)
	}
	good, _ := os.ReadFile(p)
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add([]byte("DOKJAVEC1\n\xff\xff\xff\xff\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "v.bin")
		os.WriteFile(p, data, 0o644)
		got, err := readVectors(p)
		if err == nil && len(got.data) != len(got.ids)*got.dim {
			t.Fatalf("%d ids of %d values, %d values read", len(got.ids), got.dim, len(got.data))
		}
	})
}
