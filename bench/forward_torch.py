#!/usr/bin/python3
"""PyTorch side of BenchmarkForward (model/bench_test.go): prefill of 128
tokens through random-weight Llama shapes, timed with torch ops on CPU.

Uses the forward pass of model/testdata/reference.py (plain torch ops,
Hugging Face semantics). Run: /usr/bin/python3 bench/forward_torch.py
(Debian's python3-torch). Prints tokens/s medians for 1 and 2 threads. DOKJA_BENCH_1B=1 adds the
1.1B (TinyLlama) shape, as in the Go benchmark.
"""
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "model", "testdata"))
import reference  # noqa: E402

SHAPES = {
    "15M": dict(hidden_size=288, intermediate_size=768, num_hidden_layers=6, num_attention_heads=6, num_key_value_heads=6),
    "134M": dict(hidden_size=768, intermediate_size=2048, num_hidden_layers=12, num_attention_heads=12, num_key_value_heads=12),
}
if os.environ.get("DOKJA_BENCH_1B"):
    SHAPES["1.1B"] = dict(hidden_size=2048, intermediate_size=5632, num_hidden_layers=22, num_attention_heads=32, num_key_value_heads=4)
T = 128


def main():
    for name, s in SHAPES.items():
        cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 32000,
               "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": False, **s}
        d = reference.Dims(cfg)
        g = torch.Generator().manual_seed(1)
        tensors = {}
        for pname, shape, kind in reference.param_specs(d):
            if kind == "norm":
                tensors[pname] = torch.ones(shape)
            elif kind == "bias":
                tensors[pname] = torch.zeros(shape)
            else:
                tensors[pname] = torch.randn(shape, generator=g) * 0.02
        ids = [(i * 7919) % 32000 for i in range(T)]
        for threads in (1, 2):
            torch.set_num_threads(threads)
            with torch.no_grad():
                reference.forward_batched(d, tensors, ids)
                times = []
                for _ in range(3 if name == "1.1B" else 5):
                    t0 = time.perf_counter()
                    reference.forward_batched(d, tensors, ids)
                    times.append(time.perf_counter() - t0)
            print("%s/prefill%d/torch threads=%d: %.1f tokens/s (median)" % (name, T, threads, T / statistics.median(times)))


if __name__ == "__main__":
    main()
