package index

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// clustered returns n unit vectors of width dim scattered around
// centers random directions, as embeddings of documents on a few topics.
func clustered(n, dim, centers int, seed uint64) *vectors {
	r := rand.New(rand.NewPCG(seed, seed))
	cs := make([][]float32, centers)
	for i := range cs {
		cs[i] = make([]float32, dim)
		for j := range cs[i] {
			cs[i][j] = float32(r.NormFloat64())
		}
	}
	v := &vectors{}
	for i := range n {
		c := cs[r.IntN(centers)]
		x := make([]float32, dim)
		for j := range x {
			x[j] = c[j] + float32(r.NormFloat64())*0.7
		}
		v.add(fmt.Sprintf("f#%d", i), x)
	}
	return v
}

// The inverted file: every list probed gives exactly the flat scan's
// ranking; the default probes find most of the true neighbours; the
// clusters depend on the vectors alone; the file reads back as written
// and a damaged one is refused.
func TestIVF(t *testing.T) {
	v := clustered(6000, 32, 40, 1)
	f := buildIVF(v)
	if f.nlist() != 77 {
		t.Fatalf("%d lists for 6000 vectors, want 77 (√n)", f.nlist())
	}
	total := 0
	for _, l := range f.lists {
		total += len(l)
	}
	if total != 6000 {
		t.Fatalf("the lists hold %d vectors, want 6000", total)
	}
	again := buildIVF(v)
	if !slices.Equal(f.centroids, again.centroids) {
		t.Error("two builds over the same vectors differ")
	}
	// Queries: rows of v, and vectors around other centers (seed 2).
	queries := clustered(200, 32, 40, 2)
	found, want := 0, 0
	for qi := range 200 {
		q := v.data[(qi*29)*v.dim : (qi*29+1)*v.dim]
		if qi%2 == 1 {
			q = queries.data[qi*queries.dim : (qi+1)*queries.dim]
		}
		exact, es := v.flat(q, 10)
		all, as := f.search(v, q, 10, f.nlist())
		if !slices.Equal(exact, all) || !slices.Equal(es, as) {
			t.Fatalf("query %d: probing every list gives %v, the flat scan %v", qi, all, exact)
		}
		approx, _ := f.search(v, q, 10, DefaultProbes)
		for _, r := range approx {
			if slices.Contains(exact, r) {
				found++
			}
		}
		want += len(exact)
	}
	recall := float64(found) / float64(want)
	t.Logf("recall@10 with %d of %d lists probed: %.3f", DefaultProbes, f.nlist(), recall)
	if recall < 0.9 {
		t.Errorf("recall@10 %.3f with the default probes, want at least 0.9", recall)
	}

	p := filepath.Join(t.TempDir(), ivfName)
	if err := f.write(p, len(v.ids)); err != nil {
		t.Fatal(err)
	}
	back, err := readIVF(p, v)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(back.centroids, f.centroids) || len(back.lists) != len(f.lists) {
		t.Fatal("the file reads back otherwise")
	}
	for c := range f.lists {
		if !slices.Equal(back.lists[c], f.lists[c]) {
			t.Fatalf("list %d reads back otherwise", c)
		}
	}
	good, _ := os.ReadFile(p)
	other := clustered(100, 32, 4, 3)
	for _, tt := range []struct {
		name string
		data []byte
		v    *vectors
		want string
	}{
		{"truncated", good[:len(good)-1], v, "bytes"},
		{"other vectors", good, other, "built for 6000"},
		{"not ours", []byte("hello"), v, "not an inverted-file"},
		{"list out of range", append(slices.Clone(good[:len(good)-4]), 0xff, 0xff, 0, 0), v, "in list 65535"},
	} {
		q := filepath.Join(t.TempDir(), "x.ivf")
		os.WriteFile(q, tt.data, 0o644)
		if _, err := readIVF(q, tt.v); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error with %q", tt.name, err, tt.want)
		}
	}
}

// A build past ApproxFrom writes the inverted file, Open reads it, and
// dense search goes through it (Probes -1: every vector).
func TestBuildWithApproximateIndex(t *testing.T) {
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "docs.jsonl")
	var lines []string
	for i := range 60 {
		lines = append(lines, fmt.Sprintf(`{"text": "문서 %d번: 표와 차트를 %d개 넣는 방법, page %d"}`, i, i%7, i))
	}
	os.WriteFile(src, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	dir := filepath.Join(t.TempDir(), "idx")
	emb := &trigrams{}
	man, err := Build(ctx, []string{src}, dir, Options{Embedder: emb, EmbedderName: "trigrams", ApproxFrom: 50})
	if err != nil {
		t.Fatal(err)
	}
	if man.Lists != 8 {
		t.Fatalf("%d lists for 60 vectors, want 8", man.Lists)
	}
	ix, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if ix.ivf == nil {
		t.Fatal("Open did not read the inverted file")
	}
	q, _ := emb.Embed(ctx, []string{"문서 17번: 표와 차트를 3개 넣는 방법, page 17"})
	for _, probes := range []int{-1, 0, 8} {
		ix.Probes = probes
		hits, err := ix.SearchVector(ctx, q[0], 3)
		if err != nil || len(hits) == 0 || !strings.Contains(hits[0].Text, "문서 17번") {
			t.Errorf("probes %d: %+v %v", probes, hits, err)
		}
	}
	// Below the threshold, none.
	man, err = Build(ctx, []string{src}, filepath.Join(t.TempDir(), "flat"), Options{Embedder: emb, EmbedderName: "trigrams"})
	if err != nil || man.Lists != 0 {
		t.Errorf("60 vectors at the default threshold: %d lists (%v)", man.Lists, err)
	}
}

// FuzzReadIVF: any inverted file is read or refused, never a panic.
func FuzzReadIVF(f *testing.F) {
	v := clustered(50, 4, 3, 1)
	p := filepath.Join(f.TempDir(), ivfName)
	if err := buildIVF(v).write(p, len(v.ids)); err != nil {
		f.Fatal(err)
	}
	good, _ := os.ReadFile(p)
	f.Add(good)
	f.Add(good[:40])
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), ivfName)
		os.WriteFile(p, data, 0o644)
		got, err := readIVF(p, v)
		if err != nil {
			return
		}
		n := 0
		for _, l := range got.lists {
			n += len(l)
		}
		if n != len(v.ids) || len(got.centroids) != got.nlist()*v.dim {
			t.Fatalf("%d vectors in the lists, %d centroid values", n, len(got.centroids))
		}
	})
}

// benchSet is BenchmarkVectorSearch's data, made once: 200,000 clustered
// vectors, their inverted file, and 100 queries from the same clusters.
var benchSet = sync.OnceValues(func() (*vectors, *ivf) {
	all := clustered(200100, 256, 500, 1)
	n := 200000
	v := &vectors{dim: all.dim, ids: all.ids[:n], data: all.data[:n*all.dim]}
	q := &vectors{dim: all.dim, ids: all.ids[n:], data: all.data[n*all.dim:]}
	benchQueries = q
	return v, buildIVF(v)
})

var benchQueries *vectors

// BenchmarkVectorSearch: the 10 nearest of 200,000 clustered vectors of
// 256 values (the demo encoder's width), by the flat scan and by the
// inverted file with the default probes, whose recall@10 against the
// flat scan is reported.
//
//	go test ./index -run '^$' -bench VectorSearch -count 5
func BenchmarkVectorSearch(b *testing.B) {
	v, f := benchSet()
	qs := benchQueries
	query := func(i int) []float32 { return qs.data[(i%100)*qs.dim : (i%100+1)*qs.dim] }
	b.Run("flat", func(b *testing.B) {
		i := 0
		for b.Loop() {
			v.flat(query(i), 10)
			i++
		}
	})
	b.Run("ivf", func(b *testing.B) {
		i := 0
		for b.Loop() {
			f.search(v, query(i), 10, DefaultProbes)
			i++
		}
		found := 0
		for i := range 100 {
			rows, _ := f.search(v, query(i), 10, DefaultProbes)
			exact, _ := v.flat(query(i), 10)
			for _, r := range rows {
				if slices.Contains(exact, r) {
					found++
				}
			}
		}
		b.ReportMetric(float64(found)/1000, "recall@10")
	})
}
