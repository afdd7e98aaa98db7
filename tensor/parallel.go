package tensor

import (
	"runtime"
	"sync"
)

// ParallelFor splits [0, n) into contiguous chunks of at least grain items
// and runs body on them on up to GOMAXPROCS goroutines. Small loops run
// inline: a goroutine costs about a microsecond.
func ParallelFor(n, grain int, body func(lo, hi int)) {
	if n <= 0 {
		return
	}
	workers := runtime.GOMAXPROCS(0)
	if grain < 1 {
		grain = 1
	}
	if max := (n + grain - 1) / grain; workers > max {
		workers = max
	}
	if workers <= 1 {
		body(0, n)
		return
	}
	var wg sync.WaitGroup
	per := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += per {
		hi := min(lo+per, n)
		wg.Go(func() { body(lo, hi) })
	}
	wg.Wait()
}
