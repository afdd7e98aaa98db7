package serve

import (
	"context"
	"slices"

	"github.com/dokja/dokja/encoder"
)

// Concurrent embedding requests are batched: a request queues its
// inputs, and whichever request finds the encoder idle leads, running
// every queued request's inputs (up to maxBatchTokens) through one
// forward pass; when it is done, the oldest request still queued leads
// the next pass. Batches thus form from whatever arrived while the
// encoder was busy, with no timer and no goroutine of their own; one
// request alone runs at once. Few rows at a time leave the matrix
// kernels mostly idle, so batching raises throughput (docs/benchmarks.md).

// maxBatchTokens bounds the tokens of one forward pass (a request's own
// inputs beyond it run in several).
const maxBatchTokens = 8192

// embedJob is one request's inputs waiting for their embeddings.
type embedJob struct {
	inputs  [][]int
	out     [][]float32
	err     error
	done    chan struct{} // closed when out or err is set
	lead    chan struct{} // closed when the job is to lead the next pass
	leading bool          // lead is closed (under Embedder.mu)
}

// embedMany embeds token-id inputs, batched with concurrent requests.
func (e *Embedder) embedMany(ctx context.Context, inputs [][]int) ([][]float32, error) {
	j := &embedJob{inputs: inputs, done: make(chan struct{}), lead: make(chan struct{})}
	e.mu.Lock()
	e.queue = append(e.queue, j)
	if !e.busy {
		e.busy, j.leading = true, true
		close(j.lead)
	}
	e.mu.Unlock()
	if e.onQueue != nil {
		e.onQueue()
	}
	select {
	case <-j.done:
		return j.out, j.err
	case <-j.lead:
	case <-ctx.Done():
		e.mu.Lock()
		if i := slices.Index(e.queue, j); i >= 0 && !j.leading {
			// Still waiting: leave the queue.
			e.queue = slices.Delete(e.queue, i, i+1)
			e.mu.Unlock()
			return nil, ctx.Err()
		}
		e.mu.Unlock()
		// Taken into a pass, or just made leader: see it through, so that
		// the queue keeps moving.
		select {
		case <-j.done:
			return j.out, j.err
		case <-j.lead:
		}
	}
	e.runPass()
	<-j.done
	return j.out, j.err
}

// runPass takes queued jobs from the front (the leader's own first) up
// to maxBatchTokens, runs them, and hands the lead on.
func (e *Embedder) runPass() {
	e.mu.Lock()
	n, tokens := 0, 0
	for _, j := range e.queue {
		t := 0
		for _, ids := range j.inputs {
			t += len(ids)
		}
		if n > 0 && tokens+t > maxBatchTokens {
			break
		}
		n, tokens = n+1, tokens+t
	}
	batch := slices.Clone(e.queue[:n])
	e.queue = slices.Delete(e.queue, 0, n)
	e.mu.Unlock()

	var all [][]int
	for _, j := range batch {
		all = append(all, j.inputs...)
	}
	vecs, err := e.forwardGroups(all)
	at := 0
	for _, j := range batch {
		if err != nil {
			j.err = err
		} else {
			j.out = vecs[at : at+len(j.inputs)]
		}
		at += len(j.inputs)
		close(j.done)
	}

	e.mu.Lock()
	if len(e.queue) > 0 {
		next := e.queue[0]
		next.leading = true
		close(next.lead)
	} else {
		e.busy = false
	}
	e.mu.Unlock()
}

// forwardGroups runs inputs through the encoder in passes of at most
// maxBatchTokens tokens and pools (and normalises) each one's states.
func (e *Embedder) forwardGroups(inputs [][]int) ([][]float32, error) {
	out := make([][]float32, 0, len(inputs))
	for lo := 0; lo < len(inputs); {
		hi, tokens := lo, 0
		for hi < len(inputs) && (hi == lo || tokens+len(inputs[hi]) <= maxBatchTokens) {
			tokens += len(inputs[hi])
			hi++
		}
		hs, err := e.Model.ForwardBatch(inputs[lo:hi])
		if err != nil {
			return nil, err
		}
		for _, h := range hs {
			v := encoder.Pool(h, e.Model.Dim(), e.Pooling)
			if e.Normalize {
				encoder.Normalize(v)
			}
			out = append(out, v)
		}
		lo = hi
	}
	return out, nil
}
