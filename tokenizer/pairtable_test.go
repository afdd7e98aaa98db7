package tokenizer

import (
	"math/rand/v2"
	"testing"
)

// The hand-written table must agree with a Go map under random use,
// including growth and keys that collide in the low bits.
func TestPairTableMatchesMap(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	tab := newPairTable(4)
	ref := map[uint64]merge{}
	for i := range 50000 {
		var k uint64
		if i%3 == 0 {
			k = uint64(r.IntN(64)) << 32 // same low bits, different high bits
		} else {
			k = pairKey(int32(r.IntN(3000)), int32(r.IntN(3000)))
		}
		m := merge{rank: int32(i), id: int32(r.IntN(1000))}
		_, had := ref[k]
		if stored := tab.put(k, m); stored == had {
			t.Fatalf("put(%x) stored=%v but the key was present=%v", k, stored, had)
		}
		if !had {
			ref[k] = m
		}
	}
	if tab.len() != len(ref) {
		t.Fatalf("len %d, want %d", tab.len(), len(ref))
	}
	for k, want := range ref {
		if got, ok := tab.get(k); !ok || got != want {
			t.Fatalf("get(%x) = %v %v, want %v", k, got, ok, want)
		}
	}
	for range 10000 {
		k := pairKey(int32(3000+r.IntN(1000)), int32(r.IntN(3000)))
		if _, ok := tab.get(k); ok {
			t.Fatalf("get(%x) found a key never stored", k)
		}
	}
	n := 0
	tab.all(func(k uint64, m merge) {
		if ref[k] != m {
			t.Fatalf("all: %x → %v, want %v", k, m, ref[k])
		}
		n++
	})
	if n != len(ref) {
		t.Fatalf("all visited %d, want %d", n, len(ref))
	}
}
