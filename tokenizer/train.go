package tokenizer

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"iter"
	"runtime"
	"slices"
	"sort"
	"sync"
	"time"
)

// WordCounts holds how often each pre-token occurred in a corpus: the only
// statistics BPE training needs, so memory grows with the number of
// distinct pre-tokens, never with the corpus.
type WordCounts struct {
	Pattern string
	Words   map[string]int64
	Texts   int64 // texts read
	Bytes   int64 // bytes read
	// Pruned is the count below which rare pre-tokens were dropped to
	// stay under the MaxWords bound (0: none were dropped).
	Pruned int64
}

// CountOptions configures CountWords.
type CountOptions struct {
	Pattern  string // split pattern; default PatternQwen2
	Workers  int    // default: all cores
	MaxWords int    // bound on distinct pre-tokens kept; default 8,000,000
	// Progress, when set, is called now and then with the running totals.
	Progress func(texts, bytes int64)
}

// CountWords splits every text into pre-tokens on all cores and counts
// them. Texts are consumed as they come, so the corpus is streamed. When
// the number of distinct pre-tokens passes MaxWords, the rarest are
// dropped (lossy counting), which bounds memory on any corpus.
func CountWords(ctx context.Context, texts iter.Seq2[string, error], opt CountOptions) (*WordCounts, error) {
	if opt.Pattern == "" {
		opt.Pattern = PatternQwen2
	}
	if opt.Workers <= 0 {
		opt.Workers = runtime.GOMAXPROCS(0)
	}
	if opt.MaxWords <= 0 {
		opt.MaxWords = 8_000_000
	}
	sp, err := newSplitter(opt.Pattern)
	if err != nil {
		return nil, err
	}
	type batch struct{ texts []string }
	work := make(chan batch, opt.Workers*2)
	locals := make([]map[string]int64, opt.Workers)
	pruned := make([]int64, opt.Workers)
	errs := make([]error, opt.Workers)
	perWorker := max(opt.MaxWords/opt.Workers, 1024)
	var wg sync.WaitGroup
	for w := range opt.Workers {
		locals[w] = make(map[string]int64)
		wg.Go(func() {
			m := locals[w]
			for b := range work {
				for _, s := range b.texts {
					if err := checkUTF8(s); err != nil {
						if errs[w] == nil {
							errs[w] = err
						}
						continue
					}
					sp.split(s, func(p string) { m[p]++ })
				}
				if len(m) > perWorker {
					pruned[w] = max(pruned[w], prune(m, perWorker/2))
				}
			}
		})
	}
	wc := &WordCounts{Pattern: opt.Pattern}
	var cur []string
	var curBytes int
	const batchBytes = 1 << 20
	lastReport := time.Now()
	var readErr error
	for s, err := range texts {
		if err != nil {
			readErr = err
			break
		}
		if err := ctx.Err(); err != nil {
			readErr = err
			break
		}
		wc.Texts++
		wc.Bytes += int64(len(s))
		cur = append(cur, s)
		curBytes += len(s)
		if curBytes >= batchBytes {
			work <- batch{cur}
			cur, curBytes = nil, 0
			if opt.Progress != nil && time.Since(lastReport) > 200*time.Millisecond {
				opt.Progress(wc.Texts, wc.Bytes)
				lastReport = time.Now()
			}
		}
	}
	if len(cur) > 0 {
		work <- batch{cur}
	}
	close(work)
	wg.Wait()
	if readErr != nil {
		return nil, readErr
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if opt.Progress != nil {
		opt.Progress(wc.Texts, wc.Bytes)
	}
	wc.Words = locals[0]
	for _, m := range locals[1:] {
		for k, v := range m {
			wc.Words[k] += v
		}
	}
	wc.Pruned = slices.Max(pruned)
	if len(wc.Words) > opt.MaxWords {
		wc.Pruned = max(wc.Pruned, prune(wc.Words, opt.MaxWords))
	}
	return wc, nil
}

// prune drops the rarest entries until at most keep remain and returns
// the smallest count that survived.
func prune(m map[string]int64, keep int) int64 {
	threshold := int64(2)
	for len(m) > keep {
		for k, v := range m {
			if v < threshold {
				delete(m, k)
			}
		}
		threshold *= 2
	}
	return threshold / 2
}

// TrainOptions configures Train.
type TrainOptions struct {
	// VocabSize is the final vocabulary size: 256 byte tokens, the
	// learned merges and the special tokens.
	VocabSize int
	// MinFrequency stops training when the best pair is rarer (default 2).
	MinFrequency int64
	// Special lists added tokens (e.g. <|endoftext|>, <|im_start|>),
	// given the ids after the learned tokens.
	Special []string
	// Progress, when set, is called now and then with merges done; first
	// with 0 before the pair statistics are built.
	Progress func(done, total int)
}

// pairHeapItem is a pair with the count it had when queued.
type pairHeapItem struct {
	count int64
	pair  uint64
}

type pairHeap []pairHeapItem

func (h pairHeap) Len() int { return len(h) }
func (h pairHeap) Less(i, j int) bool {
	if h[i].count != h[j].count {
		return h[i].count > h[j].count
	}
	return h[i].pair < h[j].pair
}
func (h pairHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *pairHeap) Push(x any)   { *h = append(*h, x.(pairHeapItem)) }
func (h *pairHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}

// trainer holds the state of the merge loop.
type trainer struct {
	words  [][]int32 // each distinct pre-token as its current tokens
	counts []int64   // occurrences of each word
	pairs  map[uint64]int64
	where  map[uint64][]int32 // words that contained the pair when it was counted
	heap   pairHeap
}

func (tr *trainer) add(p uint64, delta int64, word int32) {
	c := tr.pairs[p] + delta
	if c == 0 {
		delete(tr.pairs, p)
	} else {
		tr.pairs[p] = c
	}
	if delta > 0 {
		tr.where[p] = append(tr.where[p], word)
	}
}

// Train learns byte-level BPE merges from word counts, the way Hugging
// Face's BpeTrainer does: repeatedly merge the most frequent adjacent pair
// (ties go to the smaller pair of ids), updating only the words that hold
// it. Ids 0-255 are the bytes in the byte-level alphabet's order, then
// the merges in the order learned, then the special tokens. The result is
// deterministic for given counts.
func Train(ctx context.Context, wc *WordCounts, opt TrainOptions) (*Tokenizer, error) {
	if opt.MinFrequency <= 0 {
		opt.MinFrequency = 2
	}
	special := uniqueStrings(opt.Special)
	numMerges := opt.VocabSize - 256 - len(special)
	if numMerges < 0 {
		return nil, fmt.Errorf("vocabulary size %d is too small: it must hold 256 byte tokens and %d special tokens", opt.VocabSize, len(special))
	}
	if opt.VocabSize > maxVocab {
		return nil, fmt.Errorf("vocabulary size %d is larger than %d", opt.VocabSize, maxVocab)
	}
	sp, err := newSplitter(wc.Pattern)
	if err != nil {
		return nil, err
	}
	pieces := make([]string, 256, opt.VocabSize)
	var byteToID [256]int32
	for id, b := range byteOrder {
		pieces[id] = string([]byte{b})
		byteToID[b] = int32(id)
	}

	if opt.Progress != nil {
		opt.Progress(0, numMerges) // the set-up below takes seconds on big corpora
	}
	// Sorting makes word indices, and so the where lists, independent of
	// map order.
	keys := make([]string, 0, len(wc.Words))
	for k := range wc.Words {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	tr := &trainer{
		words:  make([][]int32, len(keys)),
		counts: make([]int64, len(keys)),
		pairs:  make(map[uint64]int64),
		where:  make(map[uint64][]int32),
	}
	for i, k := range keys {
		w := make([]int32, len(k))
		for j := 0; j < len(k); j++ {
			w[j] = byteToID[k[j]]
		}
		tr.words[i] = w
		tr.counts[i] = wc.Words[k]
		for j := 0; j+1 < len(w); j++ {
			tr.add(pairKey(w[j], w[j+1]), tr.counts[i], int32(i))
		}
	}
	tr.heap = make(pairHeap, 0, len(tr.pairs))
	for p, c := range tr.pairs {
		tr.heap = append(tr.heap, pairHeapItem{c, p})
	}
	heap.Init(&tr.heap)

	order := make([][2]int32, 0, numMerges)
	lastReport := time.Now()
	for len(order) < numMerges && tr.heap.Len() > 0 {
		if len(order)%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if opt.Progress != nil && time.Since(lastReport) > 200*time.Millisecond {
				opt.Progress(len(order), numMerges)
				lastReport = time.Now()
			}
		}
		top := heap.Pop(&tr.heap).(pairHeapItem)
		cur := tr.pairs[top.pair]
		if cur != top.count {
			if cur > 0 {
				heap.Push(&tr.heap, pairHeapItem{cur, top.pair})
			}
			continue
		}
		if cur < opt.MinFrequency {
			break
		}
		a, b := int32(top.pair>>32), int32(uint32(top.pair))
		newID := int32(len(pieces))
		pieces = append(pieces, pieces[a]+pieces[b])
		order = append(order, [2]int32{a, b})
		tr.merge(a, b, newID)
	}
	if opt.Progress != nil {
		opt.Progress(len(order), numMerges)
	}

	t := &Tokenizer{pieces: pieces, split: sp}
	if err := t.build(order); err != nil {
		return nil, fmt.Errorf("trained vocabulary: %w", err)
	}
	added := make([]AddedToken, len(special))
	for i, s := range special {
		added[i] = AddedToken{ID: len(pieces) + i, Content: s, Special: true}
	}
	if err := t.setAdded(added); err != nil {
		return nil, err
	}
	return t, nil
}

// merge replaces pair (a, b) by newID in every word that holds it and
// updates the pair counts of the neighbours.
func (tr *trainer) merge(a, b, newID int32) {
	p := pairKey(a, b)
	list := tr.where[p]
	delete(tr.where, p)
	delete(tr.pairs, p)
	touched := make(map[uint64]struct{})
	last := int32(-1)
	for _, wi := range list {
		if wi == last {
			continue // listed once per occurrence; one pass merges them all
		}
		last = wi
		w := tr.words[wi]
		n := tr.counts[wi]
		out := w[:0]
		for r := 0; r < len(w); r++ {
			if r+1 < len(w) && w[r] == a && w[r+1] == b {
				if len(out) > 0 {
					left := out[len(out)-1]
					tr.add(pairKey(left, a), -n, wi)
					tr.add(pairKey(left, newID), n, wi)
					touched[pairKey(left, newID)] = struct{}{}
				}
				if r+2 < len(w) {
					// Left-to-right, so a following occurrence sees newID
					// as its left neighbour and cancels (newID, a) again.
					right := w[r+2]
					tr.add(pairKey(b, right), -n, wi)
					tr.add(pairKey(newID, right), n, wi)
					touched[pairKey(newID, right)] = struct{}{}
				}
				out = append(out, newID)
				r++
				continue
			}
			out = append(out, w[r])
		}
		tr.words[wi] = out
	}
	delete(tr.pairs, p) // occurrences of the pair itself are gone
	for q := range touched {
		if c := tr.pairs[q]; c > 0 {
			heap.Push(&tr.heap, pairHeapItem{c, q})
		}
	}
}

func uniqueStrings(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
