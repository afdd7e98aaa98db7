package serve

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/dokja/dokja/encoder"
	"github.com/dokja/dokja/tensor"
)

// gatedEncoder is a fake encoder whose hidden state at each position is
// its token id; its first pass says it started and waits for gate, and
// it records the number of texts of every pass.
type gatedEncoder struct {
	started, gate chan struct{}
	mu            sync.Mutex
	passes        []int
}

func (g *gatedEncoder) Forward(ids []int) ([]float32, error) {
	hs, err := g.ForwardBatch([][]int{ids})
	if err != nil {
		return nil, err
	}
	return hs[0], nil
}

func (g *gatedEncoder) ForwardBatch(texts [][]int) ([][]float32, error) {
	g.mu.Lock()
	first := len(g.passes) == 0
	g.passes = append(g.passes, len(texts))
	g.mu.Unlock()
	if first {
		close(g.started)
		<-g.gate
	}
	out := make([][]float32, len(texts))
	for i, ids := range texts {
		for _, id := range ids {
			out[i] = append(out[i], float32(id))
		}
	}
	return out, nil
}

func (g *gatedEncoder) Dim() int                  { return 1 }
func (g *gatedEncoder) VocabSize() int            { return 1000 }
func (g *gatedEncoder) MaxTokens() int            { return 64 }
func (g *gatedEncoder) SetKernels(tensor.Kernels) {}

var _ encoder.Encoder = (*gatedEncoder)(nil)

// Requests that arrive while the encoder is busy run together in its
// next pass, each getting its own embeddings back; a cancelled request
// leaves the queue without stalling it.
func TestEmbeddingRequestsBatch(t *testing.T) {
	g := &gatedEncoder{started: make(chan struct{}), gate: make(chan struct{})}
	joined := make(chan struct{}, 16)
	e := &Embedder{Name: "fake", Model: g, Pooling: encoder.PoolMean, onQueue: func() { joined <- struct{}{} }}
	ctx := context.Background()
	type result struct {
		vecs [][]float32
		err  error
	}
	leader := make(chan result, 1)
	go func() {
		v, err := e.embedMany(ctx, [][]int{{1, 3}})
		leader <- result{v, err}
	}()
	<-joined
	<-g.started
	results := make([]chan result, 4)
	for i := range results {
		results[i] = make(chan result, 1)
		go func() {
			v, err := e.embedMany(ctx, [][]int{{10 * (i + 1)}, {10*(i+1) + 2, 10*(i+1) + 4}})
			results[i] <- result{v, err}
		}()
	}
	cctx, cancel := context.WithCancel(ctx)
	cancelled := make(chan error, 1)
	go func() {
		_, err := e.embedMany(cctx, [][]int{{999}})
		cancelled <- err
	}()
	for range 5 {
		<-joined
	}
	cancel()
	if err := <-cancelled; err != context.Canceled {
		t.Fatalf("cancelled request: %v", err)
	}
	close(g.gate)
	if r := <-leader; r.err != nil || len(r.vecs) != 1 || r.vecs[0][0] != 2 {
		t.Fatalf("leader: %+v", r)
	}
	for i, ch := range results {
		r := <-ch
		base := float32(10 * (i + 1))
		if r.err != nil || len(r.vecs) != 2 || r.vecs[0][0] != base || r.vecs[1][0] != base+3 {
			t.Errorf("request %d: %+v", i, r)
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if fmt.Sprint(g.passes) != "[1 8]" {
		t.Errorf("passes of %v texts, want [1 8]: the four waiting requests in one", g.passes)
	}
	if e.busy || len(e.queue) != 0 {
		t.Errorf("after the last pass: busy %v, %d queued", e.busy, len(e.queue))
	}
}

// BenchmarkEmbeddingBatching embeds 64 concurrent single-text requests
// (32 tokens each) with a ModernBERT of the demo encoder's shape
// (random weights: the cost depends only on the shape): "batched"
// through the request batcher, "alone" one forward pass per request,
// concurrently, as the server ran them before the batcher.
//
//	go test ./serve -run '^$' -bench EmbeddingBatching -count 5
func BenchmarkEmbeddingBatching(b *testing.B) {
	cfg := `{"model_type": "modernbert", "vocab_size": 16064, "hidden_size": 256, "intermediate_size": 384,
		"num_hidden_layers": 4, "num_attention_heads": 4, "max_position_embeddings": 1024, "norm_eps": 1e-5,
		"hidden_activation": "gelu", "local_attention": 128, "global_attn_every_n_layers": 3,
		"global_rope_theta": 160000.0, "local_rope_theta": 10000.0}`
	m, err := encoder.NewModernRandom("bench.json", []byte(cfg), 1)
	if err != nil {
		b.Fatal(err)
	}
	const clients, tokens = 64, 32
	texts := make([][]int, clients)
	for i := range texts {
		for j := range tokens {
			texts[i] = append(texts[i], (i*131+j*17)%16000)
		}
	}
	for _, mode := range []string{"batched", "alone"} {
		b.Run(mode, func(b *testing.B) {
			e := &Embedder{Name: "bench", Model: m, Pooling: encoder.PoolMean, Normalize: true}
			for b.Loop() {
				var wg sync.WaitGroup
				for i := range clients {
					wg.Go(func() {
						if mode == "batched" {
							if _, err := e.embedMany(context.Background(), texts[i:i+1]); err != nil {
								b.Error(err)
							}
							return
						}
						if _, err := m.Forward(texts[i]); err != nil {
							b.Error(err)
						}
					})
				}
				wg.Wait()
			}
			b.ReportMetric(float64(clients*b.N)/b.Elapsed().Seconds(), "texts/s")
		})
	}
}
