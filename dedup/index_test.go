package dedup

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// bandsOf returns band keys where the listed bands carry the given shared
// key and the others a key of their own.
func bandsOf(o Options, doc uint64, shared map[int]uint64) []uint64 {
	keys := make([]uint64, o.Bands)
	for i := range keys {
		keys[i] = doc<<8 | uint64(i) | 1<<63
		if k, ok := shared[i]; ok {
			keys[i] = k
		}
	}
	return keys
}

func noVerify() Options {
	o := DefaultOptions()
	o.Threshold = 0
	return o
}

func TestResolveTransitive(t *testing.T) {
	o := noVerify()
	x := NewIndex(o)
	// 30~20 in band 0, 20~10 in band 5: one cluster {10, 20, 30} although
	// 10 and 30 share nothing. 40~50 in band 2. 60 is alone.
	x.Add(30, bandsOf(o, 30, map[int]uint64{0: 111}), nil)
	x.Add(60, bandsOf(o, 60, nil), nil)
	x.Add(20, bandsOf(o, 20, map[int]uint64{0: 111, 5: 222}), nil)
	x.Add(50, bandsOf(o, 50, map[int]uint64{2: 333}), nil)
	x.Add(10, bandsOf(o, 10, map[int]uint64{5: 222}), nil)
	x.Add(40, bandsOf(o, 40, map[int]uint64{2: 333}), nil)
	x.Add(70, nil, nil) // an empty document: not recorded
	if x.Len() != 6 {
		t.Errorf("Len = %d, want 6", x.Len())
	}
	c := x.Resolve()
	if got, want := c.Groups(), [][]uint64{{10, 20, 30}, {40, 50}}; !equalGroups(got, want) {
		t.Errorf("Groups = %v, want %v", got, want)
	}
	if got, want := c.Dropped(), []uint64{20, 30, 50}; !slices.Equal(got, want) {
		t.Errorf("Dropped = %v, want %v", got, want)
	}
	if c.Len() != 2 {
		t.Errorf("Len = %d, want 2", c.Len())
	}
	for doc, want := range map[uint64]bool{10: false, 20: true, 30: true, 40: false, 50: true, 60: false, 70: false, 99: false} {
		if c.Drop(doc) != want {
			t.Errorf("Drop(%d) = %v, want %v", doc, !want, want)
		}
	}
}

// A key shared in one band is the same value in another band's slot
// only by accident; bands are resolved separately, so equal keys in
// different bands must not join documents.
func TestResolveBandsSeparate(t *testing.T) {
	o := noVerify()
	x := NewIndex(o)
	x.Add(1, bandsOf(o, 1, map[int]uint64{0: 5}), nil)
	x.Add(2, bandsOf(o, 2, map[int]uint64{1: 5}), nil)
	if c := x.Resolve(); c.Len() != 0 {
		t.Errorf("documents joined by equal keys in different bands: %v", c.Groups())
	}
}

func equalGroups(a, b [][]uint64) bool {
	return slices.EqualFunc(a, b, func(x, y []uint64) bool { return slices.Equal(x, y) })
}

// TestResolveDeterministic adds the same documents in several orders, with
// and without verification, and expects the same clusters every time.
func TestResolveDeterministic(t *testing.T) {
	for _, thr := range []float64{0, 0.5} {
		t.Run(fmt.Sprint("threshold=", thr), func(t *testing.T) {
			o := DefaultOptions()
			o.Threshold = thr
			m := mustMinHasher(t, o)
			rng := rand.New(rand.NewPCG(9, 9))
			// Bases and near-copies in chains, some pairs that share half
			// their text; a third of the documents share band 0
			// (boilerplate), so that verification works in a big bucket.
			var docs []string
			for range 100 {
				base := syllables(rng, 60+rng.IntN(200))
				docs = append(docs, base)
				for range rng.IntN(3) {
					rs := []rune(docs[len(docs)-1])
					rs[rng.IntN(len(rs))] = '가'
					docs = append(docs, string(rs))
				}
				if rng.IntN(4) == 0 { // half shared: J ≈ 0.33
					rs := []rune(base)
					docs = append(docs, string(rs[:len(rs)/2])+syllables(rng, len(rs)/2))
				}
			}
			ids := rng.Perm(len(docs))
			sigs := make([][]uint32, len(docs))
			bands := make([][]uint64, len(docs))
			boiler := m.Signature("상투적인 머리말", nil)
			for i, d := range docs {
				sigs[i] = m.Signature(d, nil)
				if i%3 == 0 {
					copy(sigs[i][:o.Rows], boiler)
				}
				bands[i] = m.Bands(sigs[i], nil)
			}
			var first *Clusters
			for trial := range 4 {
				x := NewIndex(o)
				for _, i := range rng.Perm(len(docs)) {
					x.Add(uint64(ids[i])*10, bands[i], sigs[i])
				}
				c := x.Resolve()
				if trial == 0 {
					first = c
					t.Logf("%d documents, %d clusters, %d dropped", len(docs), c.Len(), len(c.Dropped()))
					// Verification keeps the boilerplate from joining
					// everything; without it, it joins a third of all.
					if thr > 0 && c.Len() < 50 || thr == 0 && c.Len() > 20 {
						t.Errorf("%d clusters", c.Len())
					}
					continue
				}
				if !slices.Equal(c.Dropped(), first.Dropped()) || !equalGroups(c.Groups(), first.Groups()) {
					t.Fatalf("trial %d: another Add order gave other clusters", trial)
				}
			}
			checkClusters(t, first)
		})
	}
}

// checkClusters checks the invariants of a Clusters: groups sorted, in
// order of first member, disjoint, the first kept and the rest dropped.
func checkClusters(t *testing.T, c *Clusters) {
	t.Helper()
	groups := c.Groups()
	if len(groups) != c.Len() {
		t.Errorf("%d groups, Len %d", len(groups), c.Len())
	}
	var dropped []uint64
	seen := map[uint64]bool{}
	for i, g := range groups {
		if len(g) < 2 || !slices.IsSorted(g) {
			t.Fatalf("group %v: not sorted or too small", g)
		}
		if i > 0 && groups[i-1][0] >= g[0] {
			t.Fatalf("groups not in order of first member: %v then %v", groups[i-1], g)
		}
		for j, d := range g {
			if seen[d] {
				t.Fatalf("%d in two groups", d)
			}
			seen[d] = true
			if c.Drop(d) != (j > 0) {
				t.Fatalf("Drop(%d) = %v in group %v", d, c.Drop(d), g)
			}
			if j > 0 {
				dropped = append(dropped, d)
			}
		}
	}
	slices.Sort(dropped)
	if !slices.Equal(dropped, c.Dropped()) || !slices.IsSorted(c.Dropped()) {
		t.Errorf("Dropped = %v, groups say %v", c.Dropped(), dropped)
	}
}

// TestResolveVerification plants a band collision between two unrelated
// documents: without verification they are joined, with it they are not,
// while a true near-copy still is.
func TestResolveVerification(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	a := syllables(rng, 300)
	b := syllables(rng, 300)
	rs := []rune(a)
	rs[150] = '똠'
	near := string(rs) // Jaccard ≈ 0.98 with a
	for _, thr := range []float64{0, 0.5} {
		o := DefaultOptions()
		o.Threshold = thr
		m := mustMinHasher(t, o)
		sa, sb, sn := m.Signature(a, nil), m.Signature(b, nil), m.Signature(near, nil)
		copy(sb[2*o.Rows:3*o.Rows], sa[2*o.Rows:3*o.Rows]) // band 2 now collides
		if j := Jaccard(sa, sb); j > 0.1 {
			t.Fatalf("planted pair has estimated Jaccard %.2f", j)
		}
		x := NewIndex(o)
		x.Add(1, m.Bands(sa, nil), sa)
		x.Add(2, m.Bands(sb, nil), sb)
		x.Add(3, m.Bands(sn, nil), sn)
		c := x.Resolve()
		want := [][]uint64{{1, 3}}
		if thr == 0 {
			want = [][]uint64{{1, 2, 3}}
		}
		if got := c.Groups(); !equalGroups(got, want) {
			t.Errorf("threshold %v: Groups = %v, want %v", thr, got, want)
		}
	}
}

// TestResolveBigBucket puts 300 copies and 300 unrelated documents that
// share one band key (boilerplate) in one bucket: with verification the
// copies form one cluster and the others stay apart, and the work stays
// bounded.
func TestResolveBigBucket(t *testing.T) {
	o := DefaultOptions()
	m := mustMinHasher(t, o)
	rng := rand.New(rand.NewPCG(8, 8))
	base := m.Signature(syllables(rng, 200), nil)
	x := NewIndex(o)
	for i := range 600 {
		sig := base
		if i%2 == 1 {
			sig = m.Signature(syllables(rng, 200), nil)
			copy(sig[:o.Rows], base[:o.Rows]) // band 0 as the copies'
		}
		x.Add(uint64(i), m.Bands(sig, nil), sig)
	}
	c := x.Resolve()
	groups := c.Groups()
	if len(groups) != 1 || len(groups[0]) != 300 || groups[0][0] != 0 {
		t.Fatalf("got %d groups (first of %d); want one of the 300 copies", len(groups), len(groups[0]))
	}
	for _, d := range groups[0] {
		if d%2 != 0 {
			t.Fatalf("unrelated document %d joined the copies", d)
		}
	}
	checkClusters(t, c)
}

func TestIndexAddPanics(t *testing.T) {
	o := DefaultOptions()
	for name, f := range map[string]func(){
		"bands":   func() { NewIndex(o).Add(1, make([]uint64, 3), make([]uint32, o.Hashes)) },
		"sig":     func() { NewIndex(o).Add(1, make([]uint64, o.Bands), nil) },
		"options": func() { NewIndex(Options{}) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
	// Without verification the signature is not needed.
	NewIndex(noVerify()).Add(1, make([]uint64, o.Bands), nil)
}

func TestResolveEmpty(t *testing.T) {
	c := NewIndex(DefaultOptions()).Resolve()
	if c.Len() != 0 || len(c.Dropped()) != 0 || len(c.Groups()) != 0 || c.Drop(0) {
		t.Error("empty index: clusters")
	}
}

// TestResolveDuplicateIDs: a document added twice is one document.
func TestResolveDuplicateIDs(t *testing.T) {
	o := noVerify()
	x := NewIndex(o)
	x.Add(5, bandsOf(o, 5, nil), nil)
	x.Add(5, bandsOf(o, 5, nil), nil)
	x.Add(3, bandsOf(o, 3, map[int]uint64{1: 9}), nil)
	x.Add(4, bandsOf(o, 4, map[int]uint64{1: 9}), nil)
	c := x.Resolve()
	if got, want := c.Groups(), [][]uint64{{3, 4}}; !equalGroups(got, want) {
		t.Errorf("Groups = %v, want %v", got, want)
	}
}

// TestIndexMemory checks the compactness claim: bytes held per document.
func TestIndexMemory(t *testing.T) {
	o := DefaultOptions()
	x := NewIndex(o)
	const n = 10000
	x.Grow(n)
	bands := make([]uint64, o.Bands)
	sig := make([]uint32, o.Hashes)
	for i := range n {
		bands[0] = uint64(i)
		x.Add(uint64(i), bands, sig)
	}
	per := (cap(x.docs)*8 + cap(x.keys)*8 + cap(x.sigs)) / n
	t.Logf("%d bytes per document (700k documents: %d MB)", per, per*700000>>20)
	if float64(per) > 1.02*float64(8+8*o.Bands+o.Hashes) {
		t.Errorf("%d bytes per document", per)
	}
}

// TestSortEntries compares the radix sort with slices.SortFunc on random
// entries of odd lengths, with many equal keys and equal byte columns.
func TestSortEntries(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	for _, n := range []int{0, 1, 7, radixMin - 1, radixMin, radixMin + 13, 5000, 40001} {
		for _, keyBits := range []int{3, 17, 64} {
			e := make([]bandEntry, n)
			for i := range e {
				e[i] = bandEntry{rng.Uint64() >> (64 - keyBits) << 8, uint32(rng.IntN(n + 1))}
			}
			want := slices.Clone(e)
			slices.SortFunc(want, func(a, b bandEntry) int {
				if a.key != b.key {
					return cmp.Compare(a.key, b.key)
				}
				return cmp.Compare(a.rank, b.rank)
			})
			sortEntries(e, make([]bandEntry, n))
			if !slices.Equal(e, want) {
				t.Fatalf("n=%d, %d-bit keys: radix sort differs", n, keyBits)
			}
		}
	}
}
