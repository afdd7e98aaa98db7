package tokenizer

import "container/heap"

// candidate is a possible merge of the part at pos with its right
// neighbour; left and right record their ids when it was queued, so stale
// entries (a neighbour merged since) can be recognised and dropped.
type candidate struct {
	rank, id    int32
	pos         int32
	left, right int32
}

type candidates []candidate

func (h candidates) Len() int { return len(h) }
func (h candidates) Less(i, j int) bool {
	if h[i].rank != h[j].rank {
		return h[i].rank < h[j].rank
	}
	return h[i].pos < h[j].pos
}
func (h candidates) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *candidates) Push(x any)   { *h = append(*h, x.(candidate)) }
func (h *candidates) Pop() any {
	old := *h
	c := old[len(old)-1]
	*h = old[:len(old)-1]
	return c
}

// appendPieceHeap merges like appendPiece, lowest rank first and leftmost
// among equals, but in O(n log n) using a linked list of parts and a heap.
func (t *Tokenizer) appendPieceHeap(dst []int, piece string) []int {
	ids := make([]int32, len(piece))
	for k := range ids {
		ids[k] = t.byteID[piece[k]]
	}
	for _, id := range t.mergeHeap(ids) {
		dst = append(dst, int(id))
	}
	return dst
}

// mergeIDs merges parts (token ids) pairwise by rank, lowest first and
// leftmost among equals, until no known pair remains.
func (t *Tokenizer) mergeIDs(ids []int32) []int32 {
	if len(ids) >= heapThreshold {
		return t.mergeHeap(ids)
	}
	for {
		best, bestRank, bestID := -1, int32(0), int32(0)
		for k := 0; k+1 < len(ids); k++ {
			if m, ok := t.merges.get(pairKey(ids[k], ids[k+1])); ok && (best < 0 || m.rank < bestRank) {
				best, bestRank, bestID = k, m.rank, m.id
			}
		}
		if best < 0 {
			return ids
		}
		ids[best] = bestID
		ids = append(ids[:best+1], ids[best+2:]...)
	}
}

// mergeHeap is mergeIDs in O(n log n), for long pieces: a linked list of
// parts and a heap of candidate merges.
func (t *Tokenizer) mergeHeap(ids []int32) []int32 {
	n := len(ids)
	if n == 0 {
		return ids
	}
	next := make([]int32, n)
	prev := make([]int32, n)
	for k := range n {
		next[k] = int32(k + 1)
		prev[k] = int32(k - 1)
	}
	next[n-1] = -1
	h := make(candidates, 0, n)
	push := func(pos int32) {
		r := next[pos]
		if r < 0 {
			return
		}
		if m, ok := t.merges.get(pairKey(ids[pos], ids[r])); ok {
			h = append(h, candidate{rank: m.rank, id: m.id, pos: pos, left: ids[pos], right: ids[r]})
		}
	}
	for k := range n - 1 {
		push(int32(k))
	}
	heap.Init(&h)
	const dead = -2
	for h.Len() > 0 {
		c := heap.Pop(&h).(candidate)
		r := next[c.pos]
		if prev[c.pos] == dead || r < 0 || ids[c.pos] != c.left || ids[r] != c.right {
			continue
		}
		ids[c.pos] = c.id
		next[c.pos] = next[r]
		if next[r] >= 0 {
			prev[next[r]] = c.pos
		}
		prev[r] = dead
		if p := prev[c.pos]; p >= 0 {
			if m, ok := t.merges.get(pairKey(ids[p], ids[c.pos])); ok {
				heap.Push(&h, candidate{rank: m.rank, id: m.id, pos: p, left: ids[p], right: ids[c.pos]})
			}
		}
		if nr := next[c.pos]; nr >= 0 {
			if m, ok := t.merges.get(pairKey(ids[c.pos], ids[nr])); ok {
				heap.Push(&h, candidate{rank: m.rank, id: m.id, pos: c.pos, left: ids[c.pos], right: ids[nr]})
			}
		}
	}
	out := make([]int32, 0, n)
	for k := int32(0); k >= 0; k = next[k] {
		out = append(out, ids[k])
	}
	return out
}
