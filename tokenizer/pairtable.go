package tokenizer

// pairTable maps a pair of token ids to its merge. It is hand-written
// rather than a Go map because encoding spends most of its time in these
// lookups: one 16-byte slot holds key and value, so a lookup touches one
// cache line, and Fibonacci hashing with linear probing at a load of at
// most one half keeps probe runs short.
type pairTable struct {
	slots []pairSlot
	shift uint
	n     int
}

type pairSlot struct {
	key uint64
	m   merge
}

// emptyKey marks a free slot; no pair of non-negative ids produces it.
const emptyKey = ^uint64(0)

func newPairTable(n int) *pairTable {
	size, bits := 16, uint(4)
	for size < 2*n {
		size *= 2
		bits++
	}
	t := &pairTable{slots: make([]pairSlot, size), shift: 64 - bits}
	for i := range t.slots {
		t.slots[i].key = emptyKey
	}
	return t
}

func (t *pairTable) index(k uint64) uint64 { return (k * 0x9E3779B97F4A7C15) >> t.shift }

// get returns the merge of pair k.
func (t *pairTable) get(k uint64) (merge, bool) {
	mask := uint64(len(t.slots) - 1)
	for i := t.index(k); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.key == k {
			return s.m, true
		}
		if s.key == emptyKey {
			return merge{}, false
		}
	}
}

// put sets the merge of pair k unless it is already set, and reports
// whether it stored it.
func (t *pairTable) put(k uint64, m merge) bool {
	if 2*(t.n+1) > len(t.slots) {
		t.grow()
	}
	mask := uint64(len(t.slots) - 1)
	for i := t.index(k); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.key == k {
			return false
		}
		if s.key == emptyKey {
			s.key, s.m = k, m
			t.n++
			return true
		}
	}
}

func (t *pairTable) grow() {
	old := t.slots
	bigger := newPairTable(len(old))
	for _, s := range old {
		if s.key != emptyKey {
			bigger.put(s.key, s.m)
		}
	}
	*t = *bigger
}

// len returns the number of pairs stored.
func (t *pairTable) len() int { return t.n }

// all calls f for every stored pair, in no particular order.
func (t *pairTable) all(f func(k uint64, m merge)) {
	for _, s := range t.slots {
		if s.key != emptyKey {
			f(s.key, s.m)
		}
	}
}
