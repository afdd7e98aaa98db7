package tensor

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// ParallelFor splits [0, n) into equal contiguous chunks, no more than
// GOMAXPROCS and no more than n/grain rounded up, and runs body on them on
// as many goroutines, the caller's among them. Small loops run inline.
//
// A decode step of a 1.1B model runs about 200 parallel regions of a few
// hundred microseconds each. Starting goroutines for each one left a core
// idle for 10-25% of the step, mostly waiting for a parked thread to wake,
// so the regions go to a pool of workers that spin a while between jobs
// before they park. Only one region uses the pool at a time; a region
// started while it is busy (nested, or from another goroutine) runs on
// fresh goroutines as before.
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
	per := (n + workers - 1) / workers
	parts := (n + per - 1) / per
	if pool.busy.CompareAndSwap(false, true) {
		pool.run(&job{n: n, per: per, parts: int64(parts), body: body}, parts-1)
		pool.busy.Store(false)
		return
	}
	var wg sync.WaitGroup
	for lo := 0; lo < n; lo += per {
		hi := min(lo+per, n)
		wg.Go(func() { body(lo, hi) })
	}
	wg.Wait()
}

// job is one parallel region. Parts are claimed through next by the
// caller and the workers alike, so a worker that wakes late finds its part
// done by the caller rather than delaying the region. A job is never
// reused: a worker holding a finished one claims nothing from it.
type job struct {
	n, per  int
	parts   int64
	next    atomic.Int64
	pending atomic.Int64
	body    func(lo, hi int)
}

// work claims and runs parts until none is left.
func (j *job) work() {
	for {
		p := j.next.Add(1) - 1
		if p >= j.parts {
			return
		}
		lo := int(p) * j.per
		j.body(lo, min(lo+j.per, j.n))
		j.pending.Add(-1)
	}
}

// spinFor is how long an idle worker polls for the next job before it
// parks: longer than the gaps between the products of a decode step,
// short enough that an idle process goes quiet at once.
const spinFor = 200 * time.Microsecond

type workerPool struct {
	busy    atomic.Bool
	current atomic.Pointer[job]
	workers []*worker // grown only by the goroutine holding busy
}

type worker struct {
	parked atomic.Bool
	wake   chan struct{}
}

var pool workerPool

// run publishes j, wakes parked workers (helpers of them at most), joins
// the work and waits until every part has finished.
func (p *workerPool) run(j *job, helpers int) {
	j.pending.Store(j.parts)
	p.grow(helpers)
	p.current.Store(j)
	for _, w := range p.workers[:helpers] {
		if w.parked.Load() && w.parked.CompareAndSwap(true, false) {
			w.wake <- struct{}{}
		}
	}
	j.work()
	for spins := 0; j.pending.Load() != 0; spins++ {
		if spins&1023 == 1023 {
			// The worker may share this thread's P after a preemption.
			runtime.Gosched()
		}
	}
	p.current.Store(nil)
}

// grow starts workers until there are at least n.
func (p *workerPool) grow(n int) {
	for len(p.workers) < n {
		w := &worker{wake: make(chan struct{}, 1)}
		p.workers = append(p.workers, w)
		go w.loop(p)
	}
}

// loop runs the jobs it sees, spinning for spinFor after each before it
// parks. A worker parks by setting parked and looking for a job once more;
// run publishes the job before it looks at parked, so one of the two
// always sees the other.
func (w *worker) loop(p *workerPool) {
	var last *job
	for {
		start := time.Now()
		for spins := 1; ; spins++ {
			if j := p.current.Load(); j != nil && j != last {
				last = j
				j.work()
				start = time.Now()
				continue
			}
			if spins&255 != 0 || time.Since(start) < spinFor {
				continue
			}
			w.parked.Store(true)
			if j := p.current.Load(); j != nil && j != last {
				if !w.parked.CompareAndSwap(true, false) {
					<-w.wake // run is sending a token for this park
				}
				continue
			}
			<-w.wake
			start = time.Now()
		}
	}
}
