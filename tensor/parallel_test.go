package tensor

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// visits runs ParallelFor and fails unless every index in [0, n) was
// visited exactly once, in no more chunks than GOMAXPROCS and n/grain
// rounded up allow.
func visits(t *testing.T, n, grain int) {
	t.Helper()
	seen := make([]atomic.Int32, max(n, 0))
	var chunks atomic.Int32
	ParallelFor(n, grain, func(lo, hi int) {
		chunks.Add(1)
		for i := lo; i < hi; i++ {
			seen[i].Add(1)
		}
	})
	for i := range seen {
		if c := seen[i].Load(); c != 1 {
			t.Fatalf("n=%d grain=%d: index %d visited %d times", n, grain, i, c)
		}
	}
	limit := min(runtime.GOMAXPROCS(0), (n+max(grain, 1)-1)/max(grain, 1))
	if c := int(chunks.Load()); n > 0 && (c < 1 || c > limit) {
		t.Errorf("n=%d grain=%d: %d chunks, want 1 to %d", n, grain, c, limit)
	}
}

func TestParallelForCoversEachIndexOnce(t *testing.T) {
	for _, procs := range []int{1, 2, 5} {
		old := runtime.GOMAXPROCS(procs)
		for _, tc := range []struct{ n, grain int }{
			{0, 1}, {-3, 1}, {1, 1}, {2, 1}, {7, 0}, {7, 3}, {100, 1}, {100, 33}, {1000, 7}, {4096, 4096},
		} {
			visits(t, tc.n, tc.grain)
		}
		runtime.GOMAXPROCS(old)
	}
}

// Regions started inside a region, or from several goroutines at once,
// find the pool busy and must still run every index once.
func TestParallelForNestedAndConcurrent(t *testing.T) {
	old := runtime.GOMAXPROCS(4)
	defer runtime.GOMAXPROCS(old)
	var total atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 50 {
				ParallelFor(8, 1, func(lo, hi int) {
					for range hi - lo {
						ParallelFor(16, 2, func(lo, hi int) { total.Add(int64(hi - lo)) })
					}
				})
			}
		})
	}
	wg.Wait()
	if got, want := total.Load(), int64(4*50*8*16); got != want {
		t.Fatalf("nested regions covered %d items, want %d", got, want)
	}
}

// After spinFor without work every worker parks; the next region must
// wake them (or do their parts itself) and still cover everything.
func TestParallelForAfterWorkersPark(t *testing.T) {
	old := runtime.GOMAXPROCS(3)
	defer runtime.GOMAXPROCS(old)
	visits(t, 300, 1)
	deadline := time.Now().Add(10 * time.Second)
	for {
		parked := 0
		for _, w := range pool.workers {
			if w.parked.Load() {
				parked++
			}
		}
		if parked == len(pool.workers) && parked > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d workers parked after 10 s idle", parked, len(pool.workers))
		}
		runtime.Gosched()
	}
	for range 20 {
		visits(t, 300, 1)
	}
}
