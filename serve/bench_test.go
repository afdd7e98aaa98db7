package serve

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dokja/dokja/infer"
	"github.com/dokja/dokja/model"
	"github.com/dokja/dokja/tokenizer"
	"github.com/openai/openai-go/v3"
)

// BenchmarkServeStreaming measures the server end to end: 1, 4 and 16
// clients stream completions at once (16-token prompts, 48 new tokens,
// sampled at temperature 1 so that no client stops early), through the
// OpenAI Go client over 127.0.0.1, with 8 decoding slots: against a
// random-weight 15M Llama shape, and against the GGUF files named in
// DOKJA_BENCH_GGUF (comma-separated; kept in their blocks, with their own
// tokenizers). It reports aggregate generated tokens/s, time to first
// token (median and 99th percentile over all requests) and the key/value
// cache bytes per cached token.
func BenchmarkServeStreaming(b *testing.B) {
	c := model.Config{VocabSize: 32000, HiddenSize: 288, IntermediateSize: 768, NumHiddenLayers: 6, NumAttentionHeads: 6,
		NumKeyValueHeads: 6, HeadDim: 48, RMSNormEps: 1e-5, RopeTheta: 10000, HiddenAct: "silu", MaxPositionEmbeddings: 2048}
	m, err := model.NewRandom(&c, 1)
	if err != nil {
		b.Fatal(err)
	}
	tok, err := tokenizer.LoadJSON(filepath.Join("..", "tokenizer", "testdata", "tiny.json"))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("15m-random", func(b *testing.B) { benchServe(b, m, tok) })
	if files := os.Getenv("DOKJA_BENCH_GGUF"); files != "" {
		for _, path := range strings.Split(files, ",") {
			g, gtok, err := model.LoadGGUFWith(path, model.GGUFOptions{KeepQuantized: true})
			if err != nil {
				b.Fatal(err)
			}
			b.Run(strings.TrimSuffix(filepath.Base(path), ".gguf"), func(b *testing.B) { benchServe(b, g, gtok) })
		}
	}
}

// benchServe serves m on 127.0.0.1 and runs BenchmarkServeStreaming's
// client counts against it.
func benchServe(b *testing.B, m *model.Model, tok *tokenizer.Tokenizer) {
	c := m.Config
	e, err := infer.NewEngine(m, tok, infer.EngineOptions{MaxBatch: 8, MaxQueue: 64})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	chat, _ := infer.NewChatTemplate(infer.ChatML, "", "")
	s, err := New([]*Model{{Name: "m", Engine: e, Chat: chat}}, Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr := make(chan string, 1)
	go s.Run(ctx, "127.0.0.1:0", time.Second, func(a net.Addr) { addr <- a.String() })
	cl := client("http://"+<-addr, "")
	const newTokens = 48
	for _, clients := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("clients%d", clients), func(b *testing.B) {
			var mu sync.Mutex
			var ttfts []time.Duration
			generated := 0
			for b.Loop() {
				var wg sync.WaitGroup
				for i := range clients {
					wg.Go(func() {
						prompt := make([]int64, 16)
						for k := range prompt {
							prompt[k] = int64((i*131 + k*17) % min(259, c.VocabSize))
						}
						start := time.Now()
						st := cl.Completions.NewStreaming(ctx, openai.CompletionNewParams{Model: "m",
							Prompt:    openai.CompletionNewParamsPromptUnion{OfArrayOfTokens: prompt},
							MaxTokens: openai.Int(newTokens), Temperature: openai.Float(1), Seed: openai.Int(int64(i)),
							// logprobs make every token an event, even one whose text is held back.
							Logprobs: openai.Int(0)})
						first, n := time.Duration(0), 0
						for st.Next() {
							if first == 0 {
								first = time.Since(start)
							}
							n++
						}
						if err := st.Err(); err != nil {
							b.Error(err)
						}
						mu.Lock()
						ttfts = append(ttfts, first)
						generated += n
						mu.Unlock()
					})
				}
				wg.Wait()
			}
			slices.Sort(ttfts)
			b.ReportMetric(float64(clients*newTokens*b.N)/b.Elapsed().Seconds(), "tokens/s")
			b.ReportMetric(ttfts[len(ttfts)/2].Seconds()*1000, "ttft-p50-ms")
			b.ReportMetric(ttfts[min(len(ttfts)-1, len(ttfts)*99/100)].Seconds()*1000, "ttft-p99-ms")
		})
	}
	b.Logf("key/value cache: %d bytes per cached token", 2*c.NumHiddenLayers*c.NumKeyValueHeads*c.HeadDim*4)
}
