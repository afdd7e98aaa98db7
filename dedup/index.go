package dedup

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// Index collects the LSH band keys of documents and resolves them into
// clusters of near-duplicates. Documents are named by a uint64 the caller
// chooses: its global order number, so that "keep the smallest" keeps the
// first copy seen. Each document should be added once.
//
// The Index is compact: it stores the document ids, the band keys and
// (for verification) the low 8 bits of each signature value in flat
// slices, 8 + 8·Bands + Hashes bytes per document: 288 bytes with the
// defaults, so 700,000 documents take 202 MB (118 MB with Threshold 0,
// which needs no signatures). Grow spares the slack of growing slices;
// Resolve needs another 53 bytes per document while it runs.
//
// Add is not safe for concurrent use, and need not be: it only appends.
// Compute signatures and band keys (the expensive part) on all cores or
// workers, then Add them from one goroutine.
type Index struct {
	bands, hashes int
	threshold     float64
	docs          []uint64 // in Add order
	keys          []uint64 // bands per document, document-major
	sigs          []byte   // low bytes of the signature, hashes per document, when threshold > 0
}

// NewIndex returns an empty Index for documents whose band keys and
// signatures were made with o. It panics if o is not valid: check it with
// Validate or NewMinHasher first.
func NewIndex(o Options) *Index {
	if err := o.Validate(); err != nil {
		panic(err)
	}
	return &Index{bands: o.Bands, hashes: o.Hashes, threshold: o.Threshold}
}

// Grow makes room for n more documents, to spare the reallocations of
// growing one at a time.
func (x *Index) Grow(n int) {
	x.docs = slices.Grow(x.docs, n)
	x.keys = slices.Grow(x.keys, n*x.bands)
	if x.threshold > 0 {
		x.sigs = slices.Grow(x.sigs, n*x.hashes)
	}
}

// Len returns the number of documents added (empty ones are not counted).
func (x *Index) Len() int { return len(x.docs) }

// Add records document doc with its band keys (from MinHasher.Bands) and,
// when Options.Threshold > 0, its signature; sig may be nil otherwise. A
// document with no band keys (an empty document, see EmptyValue) is not
// recorded: it is never part of a cluster. Add panics when the lengths do
// not match the Options, which is a programming error.
func (x *Index) Add(doc uint64, bands []uint64, sig []uint32) {
	if len(bands) == 0 {
		return
	}
	if len(bands) != x.bands {
		panic(fmt.Sprintf("dedup: Index.Add: %d band keys, expected %d", len(bands), x.bands))
	}
	if x.threshold > 0 {
		if len(sig) != x.hashes {
			panic(fmt.Sprintf("dedup: Index.Add: signature of %d values, expected %d (threshold %v needs it)",
				len(sig), x.hashes, x.threshold))
		}
		for _, v := range sig {
			x.sigs = append(x.sigs, byte(v))
		}
	}
	if len(x.docs) == math.MaxUint32 {
		panic("dedup: Index.Add: more than 2^32-1 documents in one Index")
	}
	x.docs = append(x.docs, doc)
	x.keys = append(x.keys, bands...)
}

// maxReps bounds the work of verification in one LSH bucket: a document is
// compared with at most this many earlier, mutually dissimilar members of
// the bucket. Buckets of copies need one comparison per member.
const maxReps = 64

// bandEntry is one (band key, document) pair of the band being resolved;
// rank is the document's position among the sorted distinct ids.
type bandEntry struct {
	key  uint64
	rank uint32
}

// Resolve groups the documents into clusters: two documents are joined
// when they share a band key (and, with Options.Threshold > 0, their
// signatures agree on at least that fraction of positions), and clusters
// are the transitive closure of those joins. In each cluster the document
// with the smallest id is kept and the others are dropped.
//
// The result does not depend on the order of Add calls: document ids are
// ranked in sorted order, each band's (key, id) pairs are sorted, and the
// buckets (runs of equal keys) are visited band by band, key by key,
// members by id. Joining uses union-find with path halving over the dense
// ranks, the root of a set always being its smallest id. Ranking the ids
// costs O(n log n) for n documents; each band is radix-sorted by key in
// O(n), and each bucket of k members sorted by id in O(k log k).
//
// With verification, the first member of a bucket becomes its first
// representative; each later member is compared with every representative
// that is not yet in its cluster, joined to those it verifies against,
// and becomes a representative itself if it verified against none. Up to
// 64 representatives are kept, which bounds the work on huge buckets of
// boilerplate (a bucket of copies needs one comparison per member);
// members that verify against none of the 64 stay apart.
//
// Resolve does not change the Index; it may be called again after more
// Adds.
func (x *Index) Resolve() *Clusters {
	n := len(x.docs)
	// Rank the distinct ids. order lists Add positions by (id, position).
	order := make([]uint32, n)
	for i := range order {
		order[i] = uint32(i)
	}
	slices.SortFunc(order, func(a, b uint32) int {
		if c := cmp.Compare(x.docs[a], x.docs[b]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	rank := make([]uint32, n)
	ids := make([]uint64, 0, n)
	first := order[:0] // first Add position of each rank; reuses order
	for _, pos := range order {
		if d := x.docs[pos]; len(ids) == 0 || ids[len(ids)-1] != d {
			ids = append(ids, d)
			first = append(first, pos)
		}
		rank[pos] = uint32(len(ids) - 1)
	}
	uf := newUnionFind(len(ids))
	sig := func(r uint32) []byte {
		p := int(first[r]) * x.hashes
		return x.sigs[p : p+x.hashes]
	}

	entries := make([]bandEntry, n)
	var spare []bandEntry
	if n >= radixMin {
		spare = make([]bandEntry, n)
	}
	var reps []uint32
	for band := range x.bands {
		for i := range entries {
			entries[i] = bandEntry{x.keys[i*x.bands+band], rank[i]}
		}
		sortEntries(entries, spare)
		for lo := 0; lo < n; {
			hi := lo + 1
			for hi < n && entries[hi].key == entries[lo].key {
				hi++
			}
			bucket := entries[lo:hi]
			lo = hi
			if len(bucket) < 2 {
				continue
			}
			if x.threshold <= 0 {
				for _, e := range bucket[1:] {
					uf.union(bucket[0].rank, e.rank)
				}
				continue
			}
			reps = reps[:0]
			for _, e := range bucket {
				joined := false
				for _, r := range reps {
					if uf.find(r) == uf.find(e.rank) {
						joined = true
					} else if bbitJaccard(sig(r), sig(e.rank)) >= x.threshold {
						uf.union(r, e.rank)
						joined = true
					}
				}
				if !joined && len(reps) < maxReps {
					reps = append(reps, e.rank)
				}
			}
		}
	}

	// Compress fully: every rank points at its root, which is never after
	// it, so one pass in rank order suffices.
	root := uf.parent
	c := &Clusters{ids: ids, root: root}
	member := make([]bool, len(ids)) // the root has other members
	for r := range root {
		root[r] = root[root[r]]
		if k := root[r]; k != uint32(r) {
			c.dropped = append(c.dropped, ids[r])
			if !member[k] {
				member[k] = true
				c.groups++
			}
		}
	}
	return c
}

// radixMin is the length from which sortEntries radix-sorts.
const radixMin = 1024

// sortEntries sorts e by (key, rank), using spare (of e's length, or nil
// when len(e) < radixMin) as scratch. Long slices are radix-sorted by key,
// least significant byte first, in O(n); the runs of equal keys that
// remain (LSH buckets, mostly short) are then sorted by rank.
func sortEntries(e, spare []bandEntry) {
	byKeyRank := func(a, b bandEntry) int {
		if c := cmp.Compare(a.key, b.key); c != 0 {
			return c
		}
		return cmp.Compare(a.rank, b.rank)
	}
	if len(e) < radixMin {
		slices.SortFunc(e, byKeyRank)
		return
	}
	src, dst := e, spare[:len(e)]
	var count [256]int
	for shift := uint(0); shift < 64; shift += 8 {
		count = [256]int{}
		for _, v := range src {
			count[byte(v.key>>shift)]++
		}
		if count[byte(src[0].key>>shift)] == len(src) {
			continue // all keys share this byte
		}
		sum := 0
		for i, c := range count {
			count[i] = sum
			sum += c
		}
		for _, v := range src {
			b := byte(v.key >> shift)
			dst[count[b]] = v
			count[b]++
		}
		src, dst = dst, src
	}
	if &src[0] != &e[0] {
		copy(e, src)
	}
	for lo := 0; lo < len(e); {
		hi := lo + 1
		for hi < len(e) && e[hi].key == e[lo].key {
			hi++
		}
		if hi-lo > 1 {
			slices.SortFunc(e[lo:hi], byKeyRank)
		}
		lo = hi
	}
}

// bbitJaccard estimates the Jaccard similarity of two documents from the
// low 8 bits of their signature values (b-bit minwise hashing, Li and
// König 2010): values that differ still agree in their low byte with
// probability 1/256, so a fraction f of agreeing bytes estimates
// (f - 1/256) / (1 - 1/256). The spread is that of Jaccard on full
// values, within 1%.
func bbitJaccard(a, b []byte) float64 {
	same := 0
	for i, v := range a {
		if b[i] == v {
			same++
		}
	}
	const chance = 1.0 / 256
	return (float64(same)/float64(len(a)) - chance) / (1 - chance)
}

// unionFind is a disjoint-set forest over dense indexes whose roots are
// always the smallest index of their set.
type unionFind struct{ parent []uint32 }

func newUnionFind(n int) *unionFind {
	p := make([]uint32, n)
	for i := range p {
		p[i] = uint32(i)
	}
	return &unionFind{p}
}

// find returns the root of i's set, halving the path on the way.
func (u *unionFind) find(i uint32) uint32 {
	p := u.parent
	for p[i] != i {
		p[i] = p[p[i]]
		i = p[i]
	}
	return i
}

// union joins the sets of a and b under the smaller of their roots.
func (u *unionFind) union(a, b uint32) {
	ra, rb := u.find(a), u.find(b)
	switch {
	case ra < rb:
		u.parent[rb] = ra
	case rb < ra:
		u.parent[ra] = rb
	}
}

// Clusters is the outcome of Index.Resolve: which documents are
// near-duplicates of which, and which to drop. Documents that were never
// added are in no cluster and are not dropped.
type Clusters struct {
	ids     []uint64 // distinct document ids, sorted
	root    []uint32 // rank of the kept document of each rank's cluster
	dropped []uint64 // sorted
	groups  int
}

// Drop reports whether doc is in a cluster and is not its kept (smallest)
// member.
func (c *Clusters) Drop(doc uint64) bool {
	_, found := slices.BinarySearch(c.dropped, doc)
	return found
}

// Dropped returns the documents to drop, in increasing order. The slice is
// the Clusters' own; do not modify it.
func (c *Clusters) Dropped() []uint64 { return c.dropped }

// Len returns the number of clusters with at least two documents.
func (c *Clusters) Len() int { return c.groups }

// Groups returns the clusters of two or more documents, each sorted (so
// its first member is the one kept), in increasing order of first member.
func (c *Clusters) Groups() [][]uint64 {
	size := make([]int32, len(c.ids)) // members of each root's cluster
	for _, k := range c.root {
		size[k]++
	}
	groups := make([][]uint64, 0, c.groups)
	at := size // reused: the group index of each root
	for r, k := range c.root {
		if k == uint32(r) {
			if size[r] > 1 {
				g := make([]uint64, 1, size[r])
				g[0] = c.ids[r]
				at[r] = int32(len(groups))
				groups = append(groups, g)
			}
			continue
		}
		g := &groups[at[k]]
		*g = append(*g, c.ids[r])
	}
	return groups
}
