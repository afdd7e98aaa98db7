#!/usr/bin/python3
"""PyTorch side of BenchmarkTrainStep (train/bench_test.go): one optimizer
step (forward, backward, clip_grad_norm_, torch.optim.AdamW) over
batch x 256 tokens of a random-weight Llama shape with tied embeddings, on CPU.

The forward pass is model/testdata/train_reference.py's document-masked
training forward (plain torch ops, Hugging Face semantics), the same maths
as Dokja's. Run: /usr/bin/python3 bench/train_torch.py (Debian's
python3-torch); DOKJA_BENCH_125M=1 adds the 125M shape. Prints the median
tokens/s of 1 and 2 threads.
"""
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "model", "testdata"))
import reference  # noqa: E402
import train_reference  # noqa: E402

T = 256
SHAPES = {
    "15M": (8, dict(hidden_size=288, intermediate_size=768, num_hidden_layers=6, num_attention_heads=6, num_key_value_heads=6)),
}
if os.environ.get("DOKJA_BENCH_125M"):
    SHAPES["125M"] = (4, dict(hidden_size=768, intermediate_size=2048, num_hidden_layers=12, num_attention_heads=12, num_key_value_heads=12))


def main():
    for name, (batch, s) in SHAPES.items():
        cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 32000,
               "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": True, **s}
        d = reference.Dims(cfg)
        g = torch.Generator().manual_seed(1)
        W = {}
        for pname, shape, kind in reference.param_specs(d):
            if kind == "norm":
                W[pname] = torch.ones(shape)
            elif kind == "bias":
                W[pname] = torch.zeros(shape)
            else:
                W[pname] = torch.randn(shape, generator=g) * 0.02
            W[pname].requires_grad_(True)
        decay = [w for w in W.values() if w.dim() >= 2]
        no_decay = [w for w in W.values() if w.dim() < 2]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                                lr=1e-4, betas=(0.9, 0.95), eps=1e-8)
        windows = torch.randint(0, 32000, (batch, T + 1), generator=g)
        inputs, targets = windows[:, :-1], windows[:, 1:]
        for threads in (1, 2):
            torch.set_num_threads(threads)
            times = []
            for i in range(4):
                t0 = time.perf_counter()
                logits = train_reference.train_forward(d, W, inputs, 0, torch.float32)
                loss = torch.nn.functional.cross_entropy(logits.reshape(-1, d.V), targets.reshape(-1))
                loss.backward()
                torch.nn.utils.clip_grad_norm_(list(W.values()), 1.0)
                opt.step()
                opt.zero_grad(set_to_none=True)
                if i > 0:  # the first step allocates the optimizer state
                    times.append(time.perf_counter() - t0)
            tps = batch * T / statistics.median(times)
            print(f"{name}/b{batch} torch {torch.__version__} threads={threads}: {tps:.1f} tokens/s "
                  f"(median of {len(times)} steps, {statistics.median(times):.2f} s/step)", flush=True)


if __name__ == "__main__":
    main()
