package redteam

import (
	"context"

	"github.com/dokja/dokja/infer"
	"github.com/dokja/dokja/serve"
)

// EngineGenerator answers with an in-process engine: the conversation is
// rendered with the model's chat template, as dokja serve does, and the
// reply sampled with Temperature (0: greedy) and Seed.
type EngineGenerator struct {
	Engine      *infer.Engine
	Chat        *infer.ChatTemplate
	Temperature float32
	Seed        uint64
	name        string
}

// NewEngineGenerator answers with the model that dokja serve would load
// from path (a checkpoint folder or GGUF file).
func NewEngineGenerator(path string, temperature float32, seed uint64) (*EngineGenerator, error) {
	m, err := serve.Load(path, "", infer.EngineOptions{MaxBatch: 4, MaxQueue: 64})
	if err != nil {
		return nil, err
	}
	return &EngineGenerator{Engine: m.Engine, Chat: m.Chat, Temperature: temperature, Seed: seed, name: m.Name}, nil
}

// Generate implements Generator.
func (g *EngineGenerator) Generate(ctx context.Context, msgs []Message, maxTokens int) (string, error) {
	im := make([]infer.Message, len(msgs))
	for i, m := range msgs {
		im[i] = infer.Message{Role: m.Role, Content: m.Content}
	}
	ids, err := g.Engine.EncodeChat(g.Chat, im)
	if err != nil {
		return "", err
	}
	res, err := g.Engine.Generate(ctx, infer.Request{Prompt: ids, MaxTokens: maxTokens,
		Sampler: infer.SamplerOptions{Temperature: g.Temperature, Seed: g.Seed + uint64(AttemptFrom(ctx))}}, nil)
	if err != nil {
		return "", err
	}
	return res.Text, nil
}

// Name names the model in reports.
func (g *EngineGenerator) Name() string { return g.name }
