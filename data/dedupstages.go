package data

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/cespare/xxhash/v2"
	"github.com/dokja/dokja/dedup"
)

// Decision is what a corpus stage decided: the documents to drop and, for
// line deduplication, the lines to remove from the others. It is saved as
// JSON between phases.
type Decision struct {
	Stage string   `json:"stage"`
	Drop  []uint64 `json:"drop"` // sorted orders
	// Lines lists, per document order, the 0-based indexes of lines
	// (split at "\n") to remove, sorted.
	Lines map[uint64][]int32 `json:"lines,omitempty"`
	// Reason labels the drops in reports.
	Reason string `json:"reason"`
	// Groups counts clusters of two or more duplicates, Largest the biggest
	// cluster, and Samples holds a few clusters (orders, kept one first).
	Groups  int        `json:"groups"`
	Largest int        `json:"largest"`
	Samples [][]uint64 `json:"samples,omitempty"`
}

// Apply carries out the decision on one document.
func (dc *Decision) Apply(d *Document) Verdict {
	if _, drop := slices.BinarySearch(dc.Drop, d.Order); drop {
		return Verdict{Drop: true, Reason: dc.Reason, Detail: "duplicate of an earlier document"}
	}
	rm := dc.Lines[d.Order]
	if len(rm) == 0 {
		return Verdict{}
	}
	lines := strings.Split(d.Text, "\n")
	kept := lines[:0]
	for i, l := range lines {
		if _, gone := slices.BinarySearch(rm, int32(i)); !gone {
			kept = append(kept, l)
		}
	}
	d.Text = strings.TrimSpace(strings.Join(kept, "\n"))
	if d.Text == "" {
		return Verdict{Drop: true, Reason: "all_lines_duplicate", Detail: fmt.Sprintf("all %d lines seen before", len(lines))}
	}
	return Verdict{Modified: true, Detail: fmt.Sprintf("%d of %d lines seen before", len(rm), len(lines))}
}

const maxSamples = 5

// clusterDecision turns groups (sorted members, kept one first) into a
// Decision.
func clusterDecision(stage, reason string, groups [][]uint64) *Decision {
	dc := &Decision{Stage: stage, Reason: reason, Drop: []uint64{}}
	slices.SortFunc(groups, func(a, b []uint64) int { return cmpU64(a[0], b[0]) })
	for _, g := range groups {
		dc.Drop = append(dc.Drop, g[1:]...)
		dc.Groups++
		dc.Largest = max(dc.Largest, len(g))
	}
	slices.Sort(dc.Drop)
	// The largest clusters make the most telling samples.
	bySize := slices.Clone(groups)
	slices.SortStableFunc(bySize, func(a, b []uint64) int { return len(b) - len(a) })
	for _, g := range bySize[:min(len(bySize), maxSamples)] {
		dc.Samples = append(dc.Samples, slices.Clone(g[:min(len(g), 10)]))
	}
	return dc
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ExactOptions configure exact_dedup.
type ExactOptions struct {
	// Normalize compares texts after dedup.Normalize (case, punctuation,
	// digits and spacing ignored); false compares them byte for byte.
	Normalize bool `yaml:"normalize"`
}

func defaultExact() *ExactOptions { return &ExactOptions{Normalize: true} }

func (o *ExactOptions) build(*Env) (any, error) { return &exactStage{*o}, nil }

type exactStage struct{ o ExactOptions }

func (s *exactStage) Name() string { return "exact_dedup" }

func (s *exactStage) Key(d *Document, dst []byte) []byte {
	t := d.Text
	if s.o.Normalize {
		t = dedup.Normalize(t)
	}
	k := dedup.ExactKey(t)
	return append(dst, k[:]...)
}

func (s *exactStage) Resolve(keys func(func(uint64, []byte) bool) error) (*Decision, error) {
	members := map[dedup.Key][]uint64{}
	err := keys(func(order uint64, key []byte) bool {
		k := dedup.Key(key)
		members[k] = append(members[k], order)
		return true
	})
	if err != nil {
		return nil, err
	}
	var groups [][]uint64
	for _, m := range members {
		if len(m) > 1 {
			slices.Sort(m)
			groups = append(groups, m)
		}
	}
	return clusterDecision(s.Name(), "duplicate", groups), nil
}

// LineDedupOptions configure line_dedup.
type LineDedupOptions struct {
	// MinChars: shorter lines (after trimming) are never removed, so that
	// short headings and list markers survive.
	MinChars int `yaml:"min_chars"`
}

func defaultLineDedup() *LineDedupOptions { return &LineDedupOptions{MinChars: 20} }

func (o *LineDedupOptions) build(*Env) (any, error) {
	if o.MinChars < 0 {
		return nil, fieldErr("min_chars", o.MinChars, "0 or more")
	}
	return &lineDedup{*o}, nil
}

type lineDedup struct{ o LineDedupOptions }

func (s *lineDedup) Name() string { return "line_dedup" }

// Key is the hash of every line, 0 for lines too short to count.
func (s *lineDedup) Key(d *Document, dst []byte) []byte {
	for l := range strings.SplitSeq(d.Text, "\n") {
		var h uint64
		if t := strings.TrimSpace(l); len([]rune(t)) >= s.o.MinChars {
			h = xxhash.Sum64String(t) | 1 // never 0
		}
		dst = binary.LittleEndian.AppendUint64(dst, h)
	}
	return dst
}

func (s *lineDedup) Resolve(keys func(func(uint64, []byte) bool) error) (*Decision, error) {
	first := map[uint64]uint64{} // line hash -> smallest order holding it
	err := keys(func(order uint64, key []byte) bool {
		for i := 0; i+8 <= len(key); i += 8 {
			h := binary.LittleEndian.Uint64(key[i:])
			if h == 0 {
				continue
			}
			if o, ok := first[h]; !ok || order < o {
				first[h] = order
			}
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	dc := &Decision{Stage: s.Name(), Reason: "duplicate", Drop: []uint64{}, Lines: map[uint64][]int32{}}
	seen := map[uint64]int{} // hash -> documents holding it, for the report
	err = keys(func(order uint64, key []byte) bool {
		var rm []int32
		for i := 0; i+8 <= len(key); i += 8 {
			h := binary.LittleEndian.Uint64(key[i:])
			if h == 0 {
				continue
			}
			if first[h] != order {
				rm = append(rm, int32(i/8))
				seen[h]++
			}
		}
		if len(rm) > 0 {
			dc.Lines[order] = rm
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	// A line repeated within one document is kept there: only lines seen in
	// an earlier document go.
	for _, n := range seen {
		dc.Groups++
		dc.Largest = max(dc.Largest, n+1)
	}
	return dc, nil
}

// MinHashOptions configure minhash_dedup (see dedup.Options).
type MinHashOptions struct {
	dedup.Options `yaml:",inline"`
	// MinChars leaves shorter documents (after dedup.Normalize) to exact
	// deduplication: between texts of a few words, shingle overlap finds
	// shared phrases ("말이 필요없다"), not copies, and clusters chain
	// them together.
	MinChars int `yaml:"min_chars"`
}

func defaultMinHash() *MinHashOptions {
	return &MinHashOptions{Options: dedup.DefaultOptions(), MinChars: 50}
}

func (o *MinHashOptions) build(*Env) (any, error) {
	if o.MinChars < 0 {
		return nil, fieldErr("min_chars", o.MinChars, "0 or more")
	}
	m, err := dedup.NewMinHasher(o.Options)
	if err != nil {
		return nil, err
	}
	return &minhashStage{o: o.Options, m: m, minChars: o.MinChars}, nil
}

type minhashStage struct {
	o        dedup.Options
	m        *dedup.MinHasher
	minChars int
}

func (s *minhashStage) Name() string { return "minhash_dedup" }

// Key is the band keys, then, when candidates are verified, the low byte
// of each signature value: all that dedup.Index keeps of them.
func (s *minhashStage) Key(d *Document, dst []byte) []byte {
	if s.minChars > 0 && runeLen(dedup.Normalize(d.Text)) < s.minChars {
		return dst
	}
	sig := s.m.Signature(d.Text, nil)
	if dedup.IsEmpty(sig) {
		return dst
	}
	for _, b := range s.m.Bands(sig, nil) {
		dst = binary.LittleEndian.AppendUint64(dst, b)
	}
	if s.o.Threshold > 0 {
		for _, v := range sig {
			dst = append(dst, byte(v))
		}
	}
	return dst
}

func (s *minhashStage) Resolve(keys func(func(uint64, []byte) bool) error) (*Decision, error) {
	x := dedup.NewIndex(s.o)
	want := 8 * s.o.Bands
	if s.o.Threshold > 0 {
		want += s.o.Hashes
	}
	var bad error
	err := keys(func(order uint64, key []byte) bool {
		if len(key) != want {
			bad = fmt.Errorf("minhash_dedup: key of document %d has %d bytes, want %d (work files from another configuration?)", order, len(key), want)
			return false
		}
		bands := make([]uint64, s.o.Bands)
		for i := range bands {
			bands[i] = binary.LittleEndian.Uint64(key[8*i:])
		}
		var sig []uint32
		if s.o.Threshold > 0 {
			sig = make([]uint32, s.o.Hashes)
			for i := range sig {
				sig[i] = uint32(key[8*s.o.Bands+i])
			}
		}
		x.Add(order, bands, sig)
		return true
	})
	if err == nil {
		err = bad
	}
	if err != nil {
		return nil, err
	}
	return clusterDecision(s.Name(), "near_duplicate", x.Resolve().Groups()), nil
}
