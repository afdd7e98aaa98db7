package eval

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
)

// countingBackend scores a request by its ids and counts what it is asked;
// it fails once asked for more than failAfter requests in total.
type countingBackend struct {
	asked     atomic.Int64
	failAfter int64
}

var errGone = errors.New("server went away")

func (b *countingBackend) LogLikelihood(_ context.Context, reqs []Request) ([]Result, error) {
	if b.failAfter > 0 && b.asked.Load()+int64(len(reqs)) > b.failAfter {
		return nil, errGone
	}
	b.asked.Add(int64(len(reqs)))
	out := make([]Result, len(reqs))
	for i, r := range reqs {
		sum := 0
		for _, id := range append(append([]int(nil), r.Context...), r.Continuation...) {
			sum = sum*31 + id
		}
		out[i] = Result{LogLikelihood: -float64(sum%1000) / 7, IsGreedy: sum%3 == 0}
	}
	return out, nil
}

func cacheRequests(n int) []Request {
	reqs := make([]Request, n)
	for i := range reqs {
		reqs[i] = Request{Context: []int{1, i, i % 7}, Continuation: []int{i % 5, 2}}
	}
	return reqs
}

func TestCacheResumes(t *testing.T) {
	reqs := cacheRequests(300)
	want, err := (&countingBackend{}).LogLikelihood(t.Context(), reqs)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cache.jsonl")

	// The first run dies after three chunks.
	b1 := &countingBackend{failAfter: 3*DefaultCacheChunk + 10}
	c1, err := OpenCache(path, "model-a", b1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c1.LogLikelihood(t.Context(), reqs); !errors.Is(err, errGone) {
		t.Fatalf("interrupted run: %v", err)
	}
	c1.Close()
	// A kill in the middle of writing leaves half a line.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"k":"00ab`)
	f.Close()

	b2 := &countingBackend{}
	c2, err := OpenCache(path, "model-a", b2)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c2.LogLikelihood(t.Context(), reqs)
	if err != nil {
		t.Fatal(err)
	}
	c2.Close()
	if !reflect.DeepEqual(got, want) {
		t.Error("resumed results differ from an uninterrupted run")
	}
	if c2.Hits() != 3*DefaultCacheChunk || b2.asked.Load() != int64(len(reqs)-3*DefaultCacheChunk) {
		t.Errorf("resumed run: %d answers from the cache, %d asked; want %d and %d", c2.Hits(), b2.asked.Load(), 3*DefaultCacheChunk, len(reqs)-3*DefaultCacheChunk)
	}

	// A third run asks nothing.
	b3 := &countingBackend{}
	c3, err := OpenCache(path, "model-a", b3)
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	if got, err := c3.LogLikelihood(t.Context(), reqs); err != nil || !reflect.DeepEqual(got, want) || b3.asked.Load() != 0 {
		t.Errorf("complete cache: err %v, asked %d", err, b3.asked.Load())
	}

	// Another model's cache is refused.
	if _, err := OpenCache(path, "model-b", b3); err == nil || !strings.Contains(err.Error(), "another model") {
		t.Errorf("other identity: %v", err)
	}
	// Damage in the middle is an error naming the line.
	data, _ := os.ReadFile(path)
	lines := strings.SplitAfter(string(data), "\n")
	lines[5] = "garbage\n"
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	os.WriteFile(bad, []byte(strings.Join(lines, "")), 0o644)
	if _, err := OpenCache(bad, "model-a", b3); err == nil || !strings.Contains(err.Error(), "line 6") {
		t.Errorf("damaged cache: %v", err)
	}
}
