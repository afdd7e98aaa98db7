package dedup

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"unicode"
	"unicode/utf8"
)

const nsmcPath = "../../shared/data/nsmc/reviews.jsonl.gz"

// nsmcReviews returns the first n distinct reviews longer than 40 runes
// from the shared NSMC corpus (real Korean movie reviews, one JSON object
// a line with a "text" field). Reviews that are copies after Normalize are
// kept once. It skips when the file is missing, except under CI=true,
// where that is a failure.
func nsmcReviews(t testing.TB, n int) []string {
	t.Helper()
	f, err := os.Open(nsmcPath)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("NSMC corpus missing in CI: %v", err)
		}
		t.Skipf("NSMC corpus not available: %v", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	seen := map[Key]bool{}
	var out []string
	for len(out) < n && sc.Scan() {
		var rec struct {
			Text string `json:"text"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("%s: %v", nsmcPath, err)
		}
		s := strings.TrimSpace(rec.Text)
		if utf8.RuneCountInString(s) <= 40 {
			continue
		}
		k := ExactKey(Normalize(s))
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) < n {
		t.Fatalf("%s: %d reviews, need %d", nsmcPath, len(out), n)
	}
	return out
}

// plantedDoc is one document of the planted evaluation.
type plantedDoc struct {
	text  string
	group int    // ground truth: documents with the same group are duplicates
	op    string // "original", or how this near-duplicate was made
	rate  float64
}

// plantedSet builds the planted evaluation set from real reviews:
// originals (single reviews, and documents of 5-10 reviews) and, for a
// subset of them, near-duplicates made by one of the edits below. Hard
// negatives are documents that share 1-3 reviews with an original and are
// otherwise new (Jaccard similarity up to about 0.3): related, but not
// duplicates. The documents are shuffled; group numbers give the ground
// truth.
func plantedSet(t testing.TB, rng *rand.Rand) []plantedDoc {
	const (
		singles   = 3000 // single reviews
		docPool   = 6000 // reviews for multi-review documents
		extraPool = 600  // reviews for "append" edits
		overlaps  = 200  // hard negatives
		overPool  = 6 * overlaps
	)
	revs := nsmcReviews(t, singles+docPool+extraPool+overPool)
	extra := revs[singles+docPool : singles+docPool+extraPool]
	fresh := revs[singles+docPool+extraPool:]
	var originals [][]string // each a list of sentences
	for _, r := range revs[:singles] {
		originals = append(originals, []string{r})
	}
	pool := revs[singles : singles+docPool]
	for len(pool) >= 10 {
		k := 5 + rng.IntN(6)
		originals = append(originals, pool[:k])
		pool = pool[k:]
	}
	// Characters for insertions and substitutions, in corpus proportions.
	var chars []rune
	for _, r := range revs[:500] {
		for _, c := range r {
			if !unicode.IsSpace(c) {
				chars = append(chars, c)
			}
		}
	}

	var docs []plantedDoc
	for g, sents := range originals {
		orig := strings.Join(sents, " ")
		docs = append(docs, plantedDoc{text: orig, group: g, op: "original"})
		if rng.Float64() >= 0.4 { // 40% of originals get near-duplicates
			continue
		}
		for range 1 + rng.IntN(3) {
			ops := []string{"edit", "space"}
			if len(sents) > 1 {
				ops = append(ops, "swap", "append", "drop")
			} else if len(splitSentences(orig)) > 1 {
				ops = append(ops, "swap")
			}
			d := plantedDoc{group: g, op: ops[rng.IntN(len(ops))]}
			switch d.op {
			case "edit":
				d.rate = 0.02 + 0.08*rng.Float64()
				d.text = editChars(rng, orig, d.rate, chars)
			case "space":
				d.text = editSpacing(rng, orig)
			case "swap":
				s := sents
				if len(s) == 1 {
					s = splitSentences(orig)
				}
				s = append([]string(nil), s...)
				i := rng.IntN(len(s))
				j := (i + 1 + rng.IntN(len(s)-1)) % len(s)
				s[i], s[j] = s[j], s[i]
				d.text = strings.Join(s, " ")
			case "append":
				d.text = orig + " " + extra[rng.IntN(len(extra))]
			case "drop":
				s := append([]string(nil), sents...)
				i := rng.IntN(len(s))
				d.text = strings.Join(append(s[:i], s[i+1:]...), " ")
			}
			docs = append(docs, d)
		}
	}
	for i := range overlaps {
		sents := originals[singles+rng.IntN(len(originals)-singles)]
		shared := 1 + rng.IntN(3)
		var s []string
		for _, j := range rng.Perm(len(sents))[:shared] {
			s = append(s, sents[j])
		}
		s = append(s, fresh[:6-shared]...)
		fresh = fresh[6-shared:]
		rng.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
		docs = append(docs, plantedDoc{text: strings.Join(s, " "), group: len(originals) + i, op: "overlap"})
	}
	rng.Shuffle(len(docs), func(i, j int) { docs[i], docs[j] = docs[j], docs[i] })
	return docs
}

// splitSentences cuts a review after runs of sentence-ending punctuation
// followed by a space.
func splitSentences(s string) []string {
	var out []string
	start := 0
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		if strings.ContainsRune(".!?~", rs[i]) {
			j := i
			for j+1 < len(rs) && strings.ContainsRune(".!?~", rs[j+1]) {
				j++
			}
			if j+1 < len(rs) && rs[j+1] == ' ' {
				if part := strings.TrimSpace(string(rs[start : j+1])); part != "" {
					out = append(out, part)
				}
				start = j + 2
			}
			i = j
		}
	}
	if part := strings.TrimSpace(string(rs[start:])); part != "" {
		out = append(out, part)
	}
	return out
}

// editChars makes rate·len random single-character insertions, deletions
// and substitutions, with new characters drawn from chars.
func editChars(rng *rand.Rand, s string, rate float64, chars []rune) string {
	rs := []rune(s)
	n := max(1, int(rate*float64(len(rs))+0.5))
	for range n {
		switch op := rng.IntN(3); {
		case op == 0 || len(rs) < 2: // insert
			i := rng.IntN(len(rs) + 1)
			rs = append(rs[:i], append([]rune{chars[rng.IntN(len(chars))]}, rs[i:]...)...)
		case op == 1: // delete
			i := rng.IntN(len(rs))
			rs = append(rs[:i], rs[i+1:]...)
		default: // substitute
			rs[rng.IntN(len(rs))] = chars[rng.IntN(len(chars))]
		}
	}
	return string(rs)
}

// editSpacing changes white space and punctuation the way copies on the
// web differ: spaces dropped between words or added inside them, line
// breaks and doubled spaces, punctuation added, removed or changed.
func editSpacing(rng *rand.Rand, s string) string {
	var b strings.Builder
	puncts := []string{".", "..", "...", "!", "!!", "?", "~", "~~", ",", "ㅡ", "^^", " - "}
	for _, c := range s {
		switch {
		case c == ' ':
			switch p := rng.Float64(); {
			case p < 0.25: // drop the space
			case p < 0.35:
				b.WriteString("\n")
			case p < 0.45:
				b.WriteString("  ")
			default:
				b.WriteRune(c)
			}
		case unicode.IsPunct(c):
			switch p := rng.Float64(); {
			case p < 0.4: // drop it
			case p < 0.6:
				b.WriteString(puncts[rng.IntN(len(puncts))])
			default:
				b.WriteRune(c)
			}
		default:
			b.WriteRune(c)
			switch p := rng.Float64(); {
			case p < 0.03:
				b.WriteString(" ")
			case p < 0.06:
				b.WriteString(puncts[rng.IntN(len(puncts))])
			}
		}
	}
	return b.String()
}

// plantedResult is the pairwise precision and recall of one run.
type plantedResult struct {
	precision, recall       float64
	tp, predPairs, truePair int
	byOp                    map[string][2]int // op -> (found, total) near-duplicates joined to their original
	falsePairs              [][2]int          // document indexes of false pairs, up to 20
}

func (r plantedResult) String() string {
	return fmt.Sprintf("precision %.4f (%d/%d pairs) recall %.4f (%d/%d pairs)",
		r.precision, r.tp, r.predPairs, r.recall, r.tp, r.truePair)
}

// evaluatePlanted runs signatures, an Index and Resolve over docs with o
// and scores the clusters against the ground-truth groups.
func evaluatePlanted(t testing.TB, docs []plantedDoc, o Options) plantedResult {
	t.Helper()
	m, err := NewMinHasher(o)
	if err != nil {
		t.Fatal(err)
	}
	sigs := make([][]uint32, len(docs))
	bands := make([][]uint64, len(docs))
	var wg sync.WaitGroup
	const workers = 2
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(docs); i += workers {
				sigs[i] = m.Signature(docs[i].text, nil)
				bands[i] = m.Bands(sigs[i], nil)
			}
		}()
	}
	wg.Wait()
	x := NewIndex(o)
	for i := range docs {
		x.Add(uint64(i), bands[i], sigs[i])
	}
	c := x.Resolve()

	var r plantedResult
	r.byOp = map[string][2]int{}
	cluster := make([]int, len(docs)) // kept doc of each doc's cluster
	for i := range cluster {
		cluster[i] = i
	}
	for _, g := range c.Groups() {
		for _, d := range g {
			cluster[d] = int(g[0])
		}
		for i, a := range g {
			for _, b := range g[i+1:] {
				r.predPairs++
				if docs[a].group == docs[b].group {
					r.tp++
				} else if len(r.falsePairs) < 20 {
					r.falsePairs = append(r.falsePairs, [2]int{int(a), int(b)})
				}
			}
		}
	}
	members := map[int][]int{}
	for i, d := range docs {
		members[d.group] = append(members[d.group], i)
	}
	for _, ms := range members {
		r.truePair += len(ms) * (len(ms) - 1) / 2
		orig := -1
		for _, i := range ms {
			if docs[i].op == "original" {
				orig = i
			}
		}
		for _, i := range ms {
			if i == orig || orig < 0 {
				continue
			}
			op := docs[i].op
			if op == "edit" {
				lo := int(docs[i].rate*50) * 2
				op = fmt.Sprintf("edit %02d-%02d%%", lo, lo+2)
			}
			v := r.byOp[op]
			v[1]++
			if cluster[i] == cluster[orig] {
				v[0]++
			}
			r.byOp[op] = v
		}
	}
	r.precision = float64(r.tp) / float64(max(r.predPairs, 1))
	r.recall = float64(r.tp) / float64(max(r.truePair, 1))
	return r
}

// TestPlanted is the planted evaluation: real Korean reviews and documents
// made of them, near-duplicates with known ground truth, and the pairwise
// precision and recall of DefaultOptions on them.
func TestPlanted(t *testing.T) {
	docs := plantedSet(t, rand.New(rand.NewPCG(2024, 1)))
	kinds := map[string]int{}
	for _, d := range docs {
		kinds[d.op]++
	}
	t.Logf("%d documents: %v", len(docs), kinds)
	o := DefaultOptions()
	r := evaluatePlanted(t, docs, o)
	t.Logf("defaults (%d-%s shingles, %d bands × %d rows, LSH threshold %.3f, verification at %v): %v",
		o.ShingleSize(), o.Unit, o.Bands, o.Rows, o.LSHThreshold(), o.Threshold, r)
	ops := make([]string, 0, len(r.byOp))
	for op := range r.byOp {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	for _, op := range ops {
		v := r.byOp[op]
		t.Logf("  %-12s %4d/%4d near-duplicates joined to their original (%.3f)", op, v[0], v[1], float64(v[0])/float64(v[1]))
	}
	for _, p := range r.falsePairs {
		a, b := docs[p[0]], docs[p[1]]
		t.Logf("  false pair (J=%.2f): %.60q | %.60q", ShingleJaccard(a.text, b.text, o), a.text, b.text)
	}
	// Without verification, for comparison (not asserted).
	o0 := o
	o0.Threshold = 0
	t.Logf("without verification: %v", evaluatePlanted(t, docs, o0))
	if r.precision < 0.95 {
		t.Errorf("precision %.4f < 0.95", r.precision)
	}
	if r.recall < 0.9 {
		t.Errorf("recall %.4f < 0.9", r.recall)
	}
}

// TestUnrelatedJaccard measures how alike unrelated long documents look
// in character 3-shingles (the DefaultOptions doc comment quotes these
// numbers): NSMC reviews concatenated into documents of about 2,300 and
// 7,600 characters, every pair compared. They must stay far below the
// similarities where LSH makes candidates.
func TestUnrelatedJaccard(t *testing.T) {
	if testing.Short() {
		t.Skip("slow in -short mode")
	}
	revs := nsmcReviews(t, 2000)
	o := DefaultOptions()
	for _, per := range []int{30, 100} {
		var docs []string
		for i := 0; i+per <= len(revs) && len(docs) < 20; i += per {
			docs = append(docs, strings.Join(revs[i:i+per], " "))
		}
		var js []float64
		for i := range docs {
			for j := i + 1; j < len(docs); j++ {
				js = append(js, ShingleJaccard(docs[i], docs[j], o))
			}
		}
		sort.Float64s(js)
		n := len(js)
		p := func(j float64) float64 { // candidate probability
			return 1 - math.Pow(1-math.Pow(j, float64(o.Rows)), float64(o.Bands))
		}
		t.Logf("%d pairs of %d-review documents (~%d characters): Jaccard median %.3f, p99 %.3f, max %.3f; P(candidate) at the max %.1e",
			n, per, utf8.RuneCountInString(docs[0]), js[n/2], js[n*99/100], js[n-1], p(js[n-1]))
		if js[n-1] > 0.15 {
			t.Errorf("unrelated documents with Jaccard %.3f", js[n-1])
		}
	}
}
