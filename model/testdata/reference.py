#!/usr/bin/env python3
"""Independent reference for the Llama / Qwen2 decoder forward pass (Dokja test goldens).

Plain torch + numpy only: no transformers, no safetensors package. The maths follows
Hugging Face's LlamaForCausalLM / Qwen2ForCausalLM / Qwen3ForCausalLM (eager attention,
no sliding window; rope_scaling linear, dynamic, yarn and llama3 written from each
method's definition, see rope_inv_freq) but the code is written from scratch.

Modes (run with Debian's /usr/bin/python3, which has python3-torch 1.13 and numpy):

  reference.py all [--outdir DIR]
      safetensors self-test, then make + golden for every preset (see PRESETS)
      into DIR/<preset>/ (DIR defaults to this script's folder).
  reference.py make PRESET OUTDIR [--seed N]
      write OUTDIR/config.json and OUTDIR/model.safetensors (F32, random init).
  reference.py golden CKPTDIR
      compute golden.json for a checkpoint folder (prompts of length 1, 5, 11,
      and 48 for the RoPE-scaled presets),
      with the float64 and per-head-loop cross-checks and a bug-sensitivity table.
  reference.py logits CKPTDIR --prompt 1,2,3 [--prompt 4,5] [--dtype float32|float64]
                       [--out FILE.json]
      print (and optionally write) the full [T, V] logits for each prompt.
  reference.py selftest
      safetensors writer/reader round-trip checks only.

Conventions (identical to HF):
  * RMSNorm: x * rsqrt(mean(x^2) + eps) * weight.
  * RoPE "rotate_half" (NeoX) layout: pair (i, i + hd/2), NOT interleaved (2i, 2i+1).
    inv_freq[i] = 1 / theta^(2i/hd), angle = pos * inv_freq[i] (computed in float32,
    like HF), q' = q*cos + rotate_half(q)*sin, rotate_half(x) = cat(-x[hd/2:], x[:hd/2]).
  * GQA: query head h reads kv head h // (Hq / Hkv) (repeat_interleave).
  * Causal softmax attention with scale 1/sqrt(hd).
  * Llama attention_bias=true puts biases on q, k, v AND o_proj; Qwen2 has q/k/v biases
    and no o_proj bias. MLP: down(silu(gate(x)) * up(x)), no biases.
  * Tied embeddings: logits = norm(x) @ embed_tokens.weight^T, no lm_head.weight tensor.
"""

import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

HERE = os.path.dirname(os.path.abspath(__file__))

# --------------------------------------------------------------------------------------
# safetensors: hand-written writer and reader
# --------------------------------------------------------------------------------------
# Layout: u64 little-endian N | N bytes of UTF-8 JSON header (padded with spaces to a
# multiple of 8) | raw little-endian data buffer. The header maps tensor name ->
# {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the data buffer)
# plus an optional "__metadata__" string->string map.

_ST_DTYPES = {
    # safetensors name: (numpy little-endian dtype, torch dtype)
    "F64": ("<f8", torch.float64),
    "F32": ("<f4", torch.float32),
    "F16": ("<f2", torch.float16),
    "BF16": ("<u2", torch.bfloat16),  # raw bits, converted by hand below
    "I64": ("<i8", torch.int64),
    "I32": ("<i4", torch.int32),
    "I16": ("<i2", torch.int16),
    "I8": ("i1", torch.int8),
    "U8": ("u1", torch.uint8),
    "BOOL": ("?", torch.bool),
}
_TORCH_TO_ST = {v[1]: k for k, v in _ST_DTYPES.items()}


def _tensor_bytes(t):
    """Little-endian raw bytes of a torch tensor, row-major."""
    t = t.detach().contiguous().cpu()
    st = _TORCH_TO_ST[t.dtype]
    if st == "BF16":
        bits = t.view(torch.int16).numpy().astype("<i2")
        return bits.tobytes()
    return t.numpy().astype(_ST_DTYPES[st][0], copy=False).tobytes()


def safetensors_dumps(tensors, metadata=None):
    """Serialise {name: torch.Tensor} to safetensors bytes.

    Tensors are laid out in name order (all our tensors share one dtype, which is also
    the order the Rust implementation uses); the header lists "__metadata__" first and
    then the tensors sorted by name.
    """
    if metadata is None:
        metadata = {"format": "pt"}
    names = sorted(tensors)
    header = {"__metadata__": dict(metadata)}
    chunks = []
    offset = 0
    for name in names:
        if name == "__metadata__":
            raise ValueError("reserved tensor name")
        t = tensors[name]
        raw = _tensor_bytes(t)
        expected = t.numel() * t.element_size()
        assert len(raw) == expected, (name, len(raw), expected)
        header[name] = {
            "dtype": _TORCH_TO_ST[t.dtype],
            "shape": list(t.shape),
            "data_offsets": [offset, offset + len(raw)],
        }
        chunks.append(raw)
        offset += len(raw)
    hjson = json.dumps(header, separators=(",", ":"), ensure_ascii=True).encode("utf-8")
    pad = (-len(hjson)) % 8
    hjson += b" " * pad
    return struct.pack("<Q", len(hjson)) + hjson + b"".join(chunks)


def safetensors_save(path, tensors, metadata=None):
    data = safetensors_dumps(tensors, metadata)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    return len(data)


def safetensors_loads(data):
    """Parse safetensors bytes -> (ordered list of names as in header, {name: tensor}, metadata)."""
    if len(data) < 8:
        raise ValueError("file too short")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8 or n > 100 * 1024 * 1024:
        raise ValueError("bad header length %d" % n)
    raw_header = data[8:8 + n]
    if not raw_header.startswith(b"{"):
        raise ValueError("header must start with '{'")
    header = json.loads(raw_header.decode("utf-8"))  # trailing spaces are valid JSON whitespace
    buf = memoryview(data)[8 + n:]
    metadata = header.pop("__metadata__", None)
    spans = []
    out = {}
    for name, info in header.items():
        st = info["dtype"]
        if st not in _ST_DTYPES:
            raise ValueError("unsupported dtype %s for %s" % (st, name))
        npdt, tdt = _ST_DTYPES[st]
        shape = [int(s) for s in info["shape"]]
        begin, end = (int(v) for v in info["data_offsets"])
        count = 1
        for s in shape:
            if s < 0:
                raise ValueError("negative dim in %s" % name)
            count *= s
        if not (0 <= begin <= end <= len(buf)):
            raise ValueError("offsets out of range for %s" % name)
        if end - begin != count * np.dtype(npdt).itemsize:
            raise ValueError("byte size mismatch for %s" % name)
        spans.append((begin, end, name))
        arr = np.frombuffer(buf[begin:end], dtype=npdt).reshape(shape).copy()
        if st == "BF16":
            t = torch.from_numpy(arr.view("<i2").astype(np.int16)).view(torch.bfloat16)
        else:
            t = torch.from_numpy(arr.astype(npdt[1:] if npdt[0] in "<>" else npdt))
        assert t.dtype == tdt, (t.dtype, tdt)
        out[name] = t
    # The format forbids holes and overlaps: spans must tile the data buffer exactly.
    pos = 0
    for begin, end, name in sorted(spans):
        if begin != pos:
            raise ValueError("hole or overlap before %s" % name)
        pos = end
    if pos != len(buf):
        raise ValueError("trailing bytes after tensor data")
    return list(header.keys()), out, metadata


def safetensors_load(path):
    with open(path, "rb") as f:
        return safetensors_loads(f.read())


def selftest_safetensors():
    """Round-trip checks of the writer/reader. Returns a short report string."""
    g = torch.Generator().manual_seed(1234)
    ts = {
        "b.weight": torch.randn(3, 5, generator=g),
        "a.bias": torch.randn(7, generator=g),
        "z.scalar": torch.tensor(3.25),
        "empty": torch.zeros(0, 4),
        "d64": torch.randn(2, 3, generator=g, dtype=torch.float64),
        "h16": torch.randn(4, 2, generator=g).half(),
        "bf": torch.randn(6, generator=g).bfloat16(),
        "ids": torch.arange(-3, 9, dtype=torch.int64).reshape(3, 4),
        "i32": torch.arange(5, dtype=torch.int32),
        "m": torch.tensor([True, False, True]),
        "special": torch.tensor([0.0, -0.0, float("inf"), -float("inf"), 1e-45, 3.4028235e38]),
    }
    data = safetensors_dumps(ts)
    (n,) = struct.unpack("<Q", data[:8])
    assert n % 8 == 0, "header not padded to 8"
    assert data[8:9] == b"{"
    hdr = json.loads(data[8:8 + n])
    keys = list(hdr.keys())
    assert keys[0] == "__metadata__" and hdr["__metadata__"] == {"format": "pt"}
    assert keys[1:] == sorted(ts), keys
    order, back, meta = safetensors_loads(data)
    assert meta == {"format": "pt"}
    assert set(back) == set(ts)
    for k, v in ts.items():
        w = back[k]
        assert w.dtype == v.dtype and tuple(w.shape) == tuple(v.shape), k
        # bitwise equality (also distinguishes -0.0 and keeps inf)
        if v.is_floating_point():
            assert _tensor_bytes(w) == _tensor_bytes(v), k
        else:
            assert torch.equal(w, v), k
    # Re-serialising what we read gives byte-identical output.
    assert safetensors_dumps(back, meta) == data
    # Hand-checked tiny example: one F32 tensor [1.0, 2.0].
    tiny = safetensors_dumps({"x": torch.tensor([1.0, 2.0])})
    expect_hdr = b'{"__metadata__":{"format":"pt"},"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'
    expect_hdr += b" " * ((-len(expect_hdr)) % 8)
    expect = struct.pack("<Q", len(expect_hdr)) + expect_hdr + struct.pack("<2f", 1.0, 2.0)
    assert tiny == expect, (tiny, expect)
    # Corruptions must be rejected.
    bad = bytearray(data)
    bad[0:8] = struct.pack("<Q", len(data))
    for blob in (bytes(bad), data[:-1], data + b"\0"):
        try:
            safetensors_loads(blob)
        except (ValueError, json.JSONDecodeError):
            pass
        else:
            raise AssertionError("corrupt file accepted")
    return "safetensors self-test OK (%d tensors, %d bytes, header %d bytes)" % (len(ts), len(data), n)


# --------------------------------------------------------------------------------------
# Presets and random initialisation
# --------------------------------------------------------------------------------------

PRESETS = {
    "tiny-llama": dict(
        arch="LlamaForCausalLM", model_type="llama", vocab_size=97, hidden_size=64,
        intermediate_size=176, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=None, rms_norm_eps=1e-5, rope_theta=10000.0,
        tie_word_embeddings=False, attention_bias=False, seed=1,
    ),
    "tiny-qwen2": dict(
        arch="Qwen2ForCausalLM", model_type="qwen2", vocab_size=101, hidden_size=48,
        intermediate_size=128, num_hidden_layers=2, num_attention_heads=6,
        num_key_value_heads=2, head_dim=8, rms_norm_eps=1e-6, rope_theta=1000000.0,
        tie_word_embeddings=True, attention_bias=True, seed=2,
    ),
    "tiny-llama-mha": dict(
        arch="LlamaForCausalLM", model_type="llama", vocab_size=97, hidden_size=64,
        intermediate_size=176, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=4, head_dim=16, rms_norm_eps=1e-5, rope_theta=10000.0,
        tie_word_embeddings=True, attention_bias=True, seed=3,
    ),
    # Qwen3-0.6B's config.json shrunk, every key kept: head_dim is given and
    # is not hidden_size / heads (128 against 1024 / 16 there, 32 against
    # 64 / 4 here), q_norm and k_norm normalise each head before RoPE.
    "tiny-qwen3": dict(
        arch="Qwen3ForCausalLM", model_type="qwen3", vocab_size=113, hidden_size=64,
        intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=32, rms_norm_eps=1e-6, rope_theta=1000000.0,
        tie_word_embeddings=True, attention_bias=False, seed=4,
    ),
    # Llama-3.2-1B's config.json shrunk, every key kept, with its rope_scaling
    # block ("rope_type": "llama3", factor 32, low 1, high 4). The original
    # context is shrunk with the sizes (8192 -> 64) so that, at head_dim 16,
    # pair 0 is kept, pair 1 blends and the rest are divided by 32 within the
    # prompts' positions; with 8192 the rescaled pairs would barely turn.
    "tiny-llama31": dict(
        arch="LlamaForCausalLM", model_type="llama", vocab_size=97, hidden_size=64,
        intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=16, rms_norm_eps=1e-5, rope_theta=500000.0,
        tie_word_embeddings=True, attention_bias=False, seed=5, max_position_embeddings=1024,
        rope_scaling={"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                      "original_max_position_embeddings": 64, "rope_type": "llama3"},
        prompt_lengths=(1, 5, 11, 48),
    ),
    # Qwen2.5-7B-Instruct's config.json with the YaRN block its model card
    # recommends for long inputs ("type": "yarn", the older key name, factor 4,
    # original 32768), shrunk: original 256, max 1024, so the blend spans
    # pairs 0..3 of head_dim 16 (ramp 0, 1/3, 2/3, 1).
    "tiny-qwen25-yarn": dict(
        arch="Qwen2ForCausalLM", model_type="qwen2", vocab_size=101, hidden_size=64,
        intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=None, rms_norm_eps=1e-6, rope_theta=1000000.0,
        tie_word_embeddings=False, attention_bias=True, seed=6, max_position_embeddings=1024,
        rope_scaling={"factor": 4.0, "original_max_position_embeddings": 256, "type": "yarn"},
        prompt_lengths=(1, 5, 11, 48),
    ),
    # Linear interpolation and dynamic NTK on tiny-llama's shape. Dynamic
    # leaves positions below max_position_embeddings (8 here) alone, so the
    # 48-token prompt crosses it.
    "tiny-llama-linear": dict(
        arch="LlamaForCausalLM", model_type="llama", vocab_size=97, hidden_size=64,
        intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=None, rms_norm_eps=1e-5, rope_theta=10000.0,
        tie_word_embeddings=False, attention_bias=False, seed=7, max_position_embeddings=256,
        rope_scaling={"type": "linear", "factor": 4.0},
        prompt_lengths=(1, 5, 11, 48),
    ),
    "tiny-llama-dynamic": dict(
        arch="LlamaForCausalLM", model_type="llama", vocab_size=97, hidden_size=64,
        intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=None, rms_norm_eps=1e-5, rope_theta=10000.0,
        tie_word_embeddings=False, attention_bias=False, seed=8, max_position_embeddings=8,
        rope_scaling={"type": "dynamic", "factor": 4.0},
        prompt_lengths=(1, 5, 11, 48),
    ),
    # Mistral-7B-v0.1's config.json, every key kept, sizes shrunk; its
    # sliding window (4096) shrunk to 6 so that it cuts into the prompts.
    "tiny-mistral": dict(seed=9, prompt_lengths=(1, 5, 11, 48), config={
        "architectures": ["MistralForCausalLM"], "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu",
        "hidden_size": 64, "initializer_range": 0.02, "intermediate_size": 112,
        "max_position_embeddings": 256, "model_type": "mistral", "num_attention_heads": 4,
        "num_hidden_layers": 2, "num_key_value_heads": 2, "rms_norm_eps": 1e-05, "rope_theta": 10000.0,
        "sliding_window": 6, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
        "transformers_version": "4.34.0.dev0", "use_cache": True, "vocab_size": 97}),
    # EXAONE's config.json (the key set of LGAI-EXAONE/EXAONE-3.0-7.8B-Instruct,
    # which EXAONE 3.5 shares: num_layers, layer_norm_epsilon,
    # activation_function), sizes shrunk; eos 361 becomes 2 with the vocabulary.
    "tiny-exaone": dict(seed=10, config={
        "_name_or_path": "LGAI-EXAONE/EXAONE-3.0-7.8B-Instruct", "activation_function": "silu",
        "architectures": ["ExaoneForCausalLM"], "attention_dropout": 0.0,
        "auto_map": {"AutoConfig": "configuration_exaone.ExaoneConfig",
                     "AutoModelForCausalLM": "modeling_exaone.ExaoneForCausalLM",
                     "AutoModelForSequenceClassification": "modeling_exaone.ExaoneForSequenceClassification"},
        "bos_token_id": 1, "embed_dropout": 0.0, "eos_token_id": 2, "hidden_size": 64, "initializer_range": 0.02,
        "intermediate_size": 144, "layer_norm_epsilon": 1e-05, "max_position_embeddings": 4096,
        "model_type": "exaone", "num_attention_heads": 4, "num_key_value_heads": 2, "num_layers": 2,
        "pad_token_id": 0, "rope_scaling": None, "rope_theta": 500000.0, "tie_word_embeddings": False,
        "torch_dtype": "bfloat16", "transformers_version": "4.45.2", "use_cache": True, "vocab_size": 97}),
    # LGAI-EXAONE/EXAONE-4.0-32B's config.json, every key kept, shrunk to
    # four layers of its "LLLG" pattern (three sliding-window layers with
    # RoPE, one global layer without), window 4096 -> 4, Llama 3.1 scaling's
    # original context 8192 -> 64; eos 361 -> 2.
    "tiny-exaone4": dict(seed=11, prompt_lengths=(1, 5, 11, 48), config={
        "architectures": ["Exaone4ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 1, "eos_token_id": 2,
        "head_dim": 16, "hidden_act": "silu", "hidden_size": 64, "initializer_range": 0.02,
        "intermediate_size": 96,
        "layer_types": ["sliding_attention", "sliding_attention", "sliding_attention", "full_attention"],
        "max_position_embeddings": 1024, "model_type": "exaone4", "num_attention_heads": 4,
        "num_hidden_layers": 4, "num_key_value_heads": 2, "pad_token_id": 0, "rms_norm_eps": 1e-05,
        "rope_scaling": {"factor": 16.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                         "original_max_position_embeddings": 64, "rope_type": "llama3"},
        "rope_theta": 1000000, "sliding_window": 4, "sliding_window_pattern": "LLLG",
        "tie_word_embeddings": False, "torch_dtype": "bfloat16", "transformers_version": "4.54.0",
        "use_cache": True, "vocab_size": 113}),
    # Qwen/Qwen3-30B-A3B's config.json, every key kept, shrunk: 128 experts
    # choosing 8 -> 8 choosing 2; head_dim 128 (not hidden / heads) -> 32.
    "tiny-qwen3-moe": dict(seed=19, config={
        "architectures": ["Qwen3MoeForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
        "bos_token_id": 1, "decoder_sparse_step": 1, "eos_token_id": 2, "head_dim": 32,
        "hidden_act": "silu", "hidden_size": 64, "initializer_range": 0.02, "intermediate_size": 96,
        "max_position_embeddings": 40960, "max_window_layers": 2, "mlp_only_layers": [],
        "model_type": "qwen3_moe", "moe_intermediate_size": 32, "norm_topk_prob": True,
        "num_attention_heads": 4, "num_experts": 8, "num_experts_per_tok": 2, "num_hidden_layers": 2,
        "num_key_value_heads": 2, "output_router_logits": False, "rms_norm_eps": 1e-06, "rope_scaling": None,
        "rope_theta": 1000000.0, "router_aux_loss_coef": 0.001, "sliding_window": None,
        "tie_word_embeddings": False, "torch_dtype": "bfloat16", "transformers_version": "4.51.0",
        "use_cache": True, "use_sliding_window": False, "vocab_size": 113}),
    # Qwen1.5-MoE-A2.7B's config keys (Qwen2MoeForCausalLM): 60 experts choosing
    # 4 -> 6 choosing 2, a shared expert with its sigmoid gate, no renormalisation;
    # the second layer dense through mlp_only_layers.
    "tiny-qwen2-moe": dict(seed=13, config={
        "architectures": ["Qwen2MoeForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 1,
        "decoder_sparse_step": 1, "eos_token_id": 2, "hidden_act": "silu", "hidden_size": 64,
        "initializer_range": 0.02, "intermediate_size": 80, "max_position_embeddings": 8192,
        "max_window_layers": 2, "mlp_only_layers": [1], "model_type": "qwen2_moe", "moe_intermediate_size": 24,
        "norm_topk_prob": False, "num_attention_heads": 4, "num_experts": 6, "num_experts_per_tok": 2,
        "num_hidden_layers": 2, "num_key_value_heads": 4, "output_router_logits": False,
        "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "router_aux_loss_coef": 0.001,
        "shared_expert_intermediate_size": 80, "sliding_window": 32768, "tie_word_embeddings": False,
        "torch_dtype": "bfloat16", "transformers_version": "4.40.0.dev0", "use_cache": True,
        "use_sliding_window": False, "vocab_size": 101}),
    # google/gemma-3-1b-it's config.json (model_type gemma3_text), every key kept,
    # shrunk to six layers (five sliding-window layers, one global), window
    # 512 -> 4, head_dim 256 -> 32; query_pre_attn_scalar 256 -> 24 so that it
    # differs from head_dim (as in Gemma 3 27B) and the scale is seen; and the
    # rope_scaling of Gemma 3 4B (linear, factor 8, global layers only) in
    # place of the 1B's null. No tie_word_embeddings key: Gemma ties.
    "tiny-gemma3": dict(seed=15, prompt_lengths=(1, 5, 11, 48), config={
        "architectures": ["Gemma3ForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
        "attn_logit_softcapping": None, "bos_token_id": 2, "cache_implementation": "hybrid",
        "eos_token_id": [1, 106], "final_logit_softcapping": None, "head_dim": 32,
        "hidden_activation": "gelu_pytorch_tanh", "hidden_size": 64, "initializer_range": 0.02,
        "intermediate_size": 96, "max_position_embeddings": 32768, "model_type": "gemma3_text",
        "num_attention_heads": 4, "num_hidden_layers": 6, "num_key_value_heads": 1, "pad_token_id": 0,
        "query_pre_attn_scalar": 24, "rms_norm_eps": 1e-06, "rope_local_base_freq": 10000,
        "rope_scaling": {"factor": 8.0, "rope_type": "linear"}, "rope_theta": 1000000,
        "sliding_window": 4, "sliding_window_pattern": 6, "torch_dtype": "bfloat16",
        "transformers_version": "4.52.4", "use_cache": True, "vocab_size": 131}),
    # IBM granite-3.0-2b-instruct's µP values (embedding_multiplier 12, residual_multiplier
    # 0.22, logits_scaling 8; attention_multiplier 1/head_dim: 1/64 there, 1/16 at this
    # head size), config keys of GraniteForCausalLM, sizes shrunk. The q/k weights are drawn
    # 3x wider still, so that attention under the small multiplier is far from uniform.
    "tiny-granite": dict(seed=16, qk_std=0.36, config={
        "architectures": ["GraniteForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
        "attention_multiplier": 0.0625, "bos_token_id": 0, "embedding_multiplier": 12.0,
        "eos_token_id": 0, "hidden_act": "silu", "hidden_size": 64, "initializer_range": 0.02,
        "intermediate_size": 128, "logits_scaling": 8.0, "max_position_embeddings": 4096, "mlp_bias": False,
        "model_type": "granite", "num_attention_heads": 4, "num_hidden_layers": 2, "num_key_value_heads": 2,
        "pad_token_id": 0, "residual_multiplier": 0.22, "rms_norm_eps": 1e-05, "rope_scaling": None,
        "rope_theta": 10000.0, "tie_word_embeddings": True, "torch_dtype": "bfloat16",
        "transformers_version": "4.46.0.dev0", "use_cache": True, "vocab_size": 97}),
    # HyperCLOVAXForCausalLM as Transformers defines it (Granite's multipliers, logits
    # MULTIPLIED by logits_scaling, use_post_norm: post_norm1/post_norm2 after the
    # sublayers). No SEED config.json was available: head_dim and rope_theta 5e7 follow
    # the Think-32B text config; the multipliers are chosen here, each away from 1.
    "tiny-hyperclovax": dict(seed=17, config={
        "architectures": ["HyperCLOVAXForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
        "attention_multiplier": 0.2, "bos_token_id": 0, "embedding_multiplier": 3.0, "eos_token_id": 1,
        "head_dim": 16, "hidden_act": "silu", "hidden_size": 64, "initializer_range": 0.02,
        "intermediate_size": 128, "logits_scaling": 0.5, "max_position_embeddings": 8192, "mlp_bias": False,
        "model_type": "hyperclovax", "num_attention_heads": 4, "num_hidden_layers": 2, "num_key_value_heads": 2,
        "residual_multiplier": 0.6, "rms_norm_eps": 1e-05, "rope_scaling": None, "rope_theta": 50000000.0,
        "tie_word_embeddings": False, "torch_dtype": "bfloat16", "use_cache": True, "use_post_norm": True,
        "vocab_size": 97}),
    # mistralai/Mixtral-8x7B-v0.1's config.json, every key kept, shrunk: 8
    # experts choosing 2 -> 4 choosing 2.
    "tiny-mixtral": dict(seed=13, config={
        "architectures": ["MixtralForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 1, "eos_token_id": 2,
        "hidden_act": "silu", "hidden_size": 64, "initializer_range": 0.02, "intermediate_size": 48,
        "max_position_embeddings": 32768, "model_type": "mixtral", "num_attention_heads": 4,
        "num_experts_per_tok": 2, "num_hidden_layers": 2, "num_key_value_heads": 2, "num_local_experts": 4,
        "output_router_logits": False, "rms_norm_eps": 1e-05, "rope_theta": 1000000.0,
        "router_aux_loss_coef": 0.02, "sliding_window": None, "tie_word_embeddings": False,
        "torch_dtype": "bfloat16", "transformers_version": "4.36.0.dev0", "use_cache": True, "vocab_size": 97}),
}

INIT_STD = 0.02       # linear / embedding weights ~ N(0, 0.02), as HF initializer_range
QK_STD = 0.12         # q_proj / k_proj weights: wider, so attention is not ~uniform and
                      # RoPE / position bugs move the logits far beyond 1e-4 (see golden.json
                      # "bug_sensitivity_max_abs_diff"); with 0.02 everywhere a wrong RoPE
                      # layout changed the logits by only ~1e-3.
NORM_NOISE_STD = 0.1  # norm weights = 1 + N(0, 0.1) so that they matter
ROUTER_STD = 0.5      # MoE routers: wide, so that the chosen experts are clear winners and
                      # float32 rounding cannot flip a choice (golden.json "min_router_margin",
                      # asserted > 1e-4; the MoE presets' seeds were picked among 12..24 for
                      # the widest margin, 1.6e-3 and more)
BIAS_STD = 0.1        # biases ~ N(0, 0.1): small but clearly visible in the logits
PROMPT_LENGTHS = (1, 5, 11)


def make_config(p):
    cfg = {
        "architectures": [p["arch"]],
        "model_type": p["model_type"],
        "vocab_size": p["vocab_size"],
        "hidden_size": p["hidden_size"],
        "intermediate_size": p["intermediate_size"],
        "num_hidden_layers": p["num_hidden_layers"],
        "num_attention_heads": p["num_attention_heads"],
        "num_key_value_heads": p["num_key_value_heads"],
    }
    if p["head_dim"] is not None:
        cfg["head_dim"] = p["head_dim"]
    cfg.update({
        "hidden_act": "silu",
        "max_position_embeddings": p.get("max_position_embeddings", 128),
        "initializer_range": INIT_STD,
        "rms_norm_eps": p["rms_norm_eps"],
        "rope_theta": p["rope_theta"],
        "rope_scaling": p.get("rope_scaling"),
        "tie_word_embeddings": p["tie_word_embeddings"],
        "torch_dtype": "float32",
        "attention_dropout": 0.0,
        "use_cache": True,
        "bos_token_id": 1,
        "eos_token_id": 2,
    })
    if p["model_type"] == "llama":
        cfg["attention_bias"] = p["attention_bias"]
        cfg["mlp_bias"] = False
        cfg["pretraining_tp"] = 1
    else:  # qwen2 (q/k/v biases unconditional), qwen3: no sliding window
        cfg["use_sliding_window"] = False
        cfg["sliding_window"] = None
        cfg["max_window_layers"] = p["num_hidden_layers"]
    if p["model_type"] == "qwen3":
        cfg["attention_bias"] = p["attention_bias"]
        cfg["max_position_embeddings"] = 40960
    return cfg


class Dims:
    """Derived sizes from a config.json dict, with HF defaults."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.model_type = cfg.get("model_type")
        arch = (cfg.get("architectures") or [""])[0]
        known = {"LlamaForCausalLM": "llama", "Qwen2ForCausalLM": "qwen2", "Qwen3ForCausalLM": "qwen3",
                 "MistralForCausalLM": "mistral", "ExaoneForCausalLM": "exaone", "Exaone4ForCausalLM": "exaone4",
                 "Qwen3MoeForCausalLM": "qwen3_moe", "Qwen2MoeForCausalLM": "qwen2_moe", "MixtralForCausalLM": "mixtral",
                 "Gemma3ForCausalLM": "gemma3_text", "GraniteForCausalLM": "granite",
                 "HyperCLOVAXForCausalLM": "hyperclovax"}
        if self.model_type not in known.values() and arch not in known:
            raise ValueError("unsupported model %r / %r" % (self.model_type, arch))
        if self.model_type is None:
            self.model_type = known.get(arch, "llama")
        self.rope_scaling = cfg.get("rope_scaling")
        if self.rope_scaling:
            t = self.rope_scaling.get("rope_type", self.rope_scaling.get("type"))
            if t not in ("default", "linear", "dynamic", "yarn", "llama3"):
                raise ValueError("rope_scaling type %r not supported by this reference" % t)
        self.max_pos = cfg.get("max_position_embeddings")
        self.act = cfg.get("hidden_act") or cfg.get("activation_function") or cfg.get("hidden_activation") or "silu"
        if self.act not in ("silu", "gelu_pytorch_tanh"):
            raise ValueError("activation %r not supported" % self.act)
        self.V = cfg["vocab_size"]
        self.D = cfg["hidden_size"]
        self.I = cfg["intermediate_size"]
        self.L = cfg.get("num_hidden_layers", cfg.get("num_layers"))
        self.Hq = cfg["num_attention_heads"]
        self.Hkv = cfg.get("num_key_value_heads") or self.Hq
        self.hd = cfg.get("head_dim") or self.D // self.Hq
        assert self.Hq % self.Hkv == 0
        self.group = self.Hq // self.Hkv
        self.eps = float(cfg.get("rms_norm_eps", cfg.get("layer_norm_epsilon")))
        self.theta = float(cfg.get("rope_theta", 10000.0))
        self.gemma = self.model_type == "gemma3_text"
        self.tied = bool(cfg.get("tie_word_embeddings", self.gemma))  # Gemma ties unless told otherwise
        if self.model_type in ("qwen2", "qwen2_moe"):
            self.qkv_bias, self.o_bias = True, False
        else:  # llama, qwen3: attention_bias biases q, k, v and o
            ab = bool(cfg.get("attention_bias", False))
            self.qkv_bias, self.o_bias = ab, ab
        if self.model_type in ("mistral", "exaone", "exaone4", "mixtral"):
            self.qkv_bias, self.o_bias = False, False
        # Qwen3, Qwen3-MoE, EXAONE 4: RMSNorm over each head's queries and keys (weight
        # [head_dim]), before RoPE.
        self.qk_norm = self.model_type in ("qwen3", "qwen3_moe", "exaone4")
        # Mixture of experts: which layers, how many experts, top-k, renormalisation.
        self.E = cfg.get("num_experts") or cfg.get("num_local_experts") or 0
        self.topk = cfg.get("num_experts_per_tok", 0)
        if self.model_type == "mixtral":
            self.moe = [True] * self.L
            self.I_exp = self.I
            self.norm_topk = True                # Mixtral always renormalises the top-k weights
        elif self.model_type in ("qwen3_moe", "qwen2_moe"):
            step = cfg.get("decoder_sparse_step", 1)
            self.moe = [i not in cfg.get("mlp_only_layers", []) and self.E > 0 and (i + 1) % step == 0
                        for i in range(self.L)]
            self.I_exp = cfg["moe_intermediate_size"]
            self.norm_topk = bool(cfg.get("norm_topk_prob", False))
        else:
            self.moe = [False] * self.L
        self.I_shared = cfg.get("shared_expert_intermediate_size", 0) if self.model_type == "qwen2_moe" else 0
        # EXAONE 4: no norm before attention / MLP; their outputs are normalised before the
        # residual add (post_attention_layernorm, post_feedforward_layernorm).
        self.pre_norms = self.model_type != "exaone4"
        self.post_norms = self.model_type in ("exaone4", "gemma3_text")
        # Gemma 3: norms before AND after attention and MLP (pre_feedforward_layernorm is the
        # MLP's input norm); every RMSNorm scales by (1 + w); embeddings times sqrt(hidden);
        # scores times query_pre_attn_scalar^-0.5; GELU-tanh MLP; sliding layers rotate with
        # rope_local_base_freq, unscaled; an optional tanh cap on the final logits.
        self.sandwich = self.gemma
        if self.gemma:
            self.qkv_bias, self.o_bias, self.qk_norm = False, False, True
        self.norm_offset = 1.0 if self.gemma else 0.0
        self.embed_scale = self.D ** 0.5 if self.gemma else None
        qpas = cfg.get("query_pre_attn_scalar") if self.gemma else None
        self.attn_scale = (qpas if qpas else self.hd) ** -0.5
        self.local_theta = float(cfg.get("rope_local_base_freq", 10000.0))
        self.softcap = cfg.get("final_logit_softcapping")
        # µP (Granite, HyperCLOVA X): embeddings times embedding_multiplier, scores times
        # attention_multiplier, each sublayer output times residual_multiplier before the
        # residual add, logits divided (Granite) or multiplied (HyperCLOVA X) by
        # logits_scaling; HyperCLOVA X's use_post_norm (default true) normalises each
        # sublayer's output (post_norm1, post_norm2) before that.
        self.mup = self.model_type in ("granite", "hyperclovax")
        self.res_mult = float(cfg.get("residual_multiplier", 1.0)) if self.mup else 1.0
        self.hcx_post = self.model_type == "hyperclovax" and cfg.get("use_post_norm", True)
        self.logit_mult = 1.0
        if self.mup:
            self.embed_scale = cfg.get("embedding_multiplier")
            if cfg.get("attention_multiplier") is not None:
                self.attn_scale = float(cfg["attention_multiplier"])
            ls = float(cfg.get("logits_scaling", 1.0))
            self.logit_mult = 1.0 / ls if self.model_type == "granite" else ls
        if cfg.get("mlp_bias"):
            raise ValueError("mlp_bias not supported")
        # Per layer: the sliding window (None: full causal attention) and whether RoPE applies.
        # Window w: a query at position i sees keys j with i - w < j <= i.
        w = cfg.get("sliding_window")
        L = self.L
        if cfg.get("layer_types"):
            sliding = [t == "sliding_attention" for t in cfg["layer_types"]]
        elif self.model_type == "mistral":
            sliding = [w is not None] * L
        elif self.model_type in ("qwen2", "qwen3", "qwen2_moe", "qwen3_moe"):
            sliding = [bool(cfg.get("use_sliding_window")) and i >= cfg.get("max_window_layers", L) for i in range(L)]
        elif self.model_type == "mixtral":
            sliding = [w is not None] * L
        elif self.gemma and w is not None:
            pat = cfg.get("sliding_window_pattern", 6)
            sliding = [(i + 1) % pat != 0 for i in range(L)]
        else:
            sliding = [False] * L
        self.window = [w if sl else None for sl in sliding]
        # EXAONE 4 (modeling_exaone4): RoPE only "if self.sliding_window is None or self.is_sliding".
        self.rope = [not (self.model_type == "exaone4" and w is not None and not sl) for sl in sliding]
        self.local = [self.gemma and sl for sl in sliding]


# EXAONE 3's module names (modeling_exaone: transformer.wte, h.N.ln_1, attn.attention.*,
# out_proj, ln_2, mlp.c_fc_0 (gate), c_fc_1 (up), c_proj (down), ln_f).
EXAONE_NAMES = {
    "model.embed_tokens.weight": "transformer.wte.weight", "model.norm.weight": "transformer.ln_f.weight",
    "input_layernorm.weight": "ln_1.weight", "post_attention_layernorm.weight": "ln_2.weight",
    "self_attn.q_proj.weight": "attn.attention.q_proj.weight", "self_attn.k_proj.weight": "attn.attention.k_proj.weight",
    "self_attn.v_proj.weight": "attn.attention.v_proj.weight", "self_attn.o_proj.weight": "attn.attention.out_proj.weight",
    "mlp.gate_proj.weight": "mlp.c_fc_0.weight", "mlp.up_proj.weight": "mlp.c_fc_1.weight", "mlp.down_proj.weight": "mlp.c_proj.weight",
}


MIXTRAL_PARTS = {"gate_proj": "w1", "up_proj": "w3", "down_proj": "w2"}


def hf(d, name):
    """The checkpoint's name for a Llama-style name (model.layers.N.<part>)."""
    if d.model_type == "mixtral" and ".mlp." in name:
        # block_sparse_moe.gate (router); block_sparse_moe.experts.E.w1 (gate) / w3 (up) / w2 (down)
        name = name.replace(".mlp.gate.", ".block_sparse_moe.gate.")
        if ".mlp.experts." in name:
            head, part = name.rsplit(".", 2)[0], name.rsplit(".", 2)[1]
            name = head.replace(".mlp.experts.", ".block_sparse_moe.experts.") + "." + MIXTRAL_PARTS[part] + ".weight"
        return name
    if d.model_type != "exaone":
        return name
    if name in EXAONE_NAMES:
        return EXAONE_NAMES[name]
    if not name.startswith("model.layers."):
        return name  # lm_head.weight
    rest = name[len("model.layers."):]
    i, part = rest.split(".", 1)
    return "transformer.h.%s.%s" % (i, EXAONE_NAMES[part])


def param_specs(d):
    """(name, shape, kind) in HF module order; kind in {weight, norm, bias}.

    Names are Llama's here (EXAONE 4 adds post_attention_layernorm meaning the norm after
    attention, and post_feedforward_layernorm); load/save map them with hf()."""
    specs = [("model.embed_tokens.weight", (d.V, d.D), "weight")]
    for i in range(d.L):
        p = "model.layers.%d." % i
        if d.pre_norms:
            specs.append((p + "input_layernorm.weight", (d.D,), "norm"))
        for proj, rows in (("q", d.Hq * d.hd), ("k", d.Hkv * d.hd), ("v", d.Hkv * d.hd)):
            specs.append((p + "self_attn.%s_proj.weight" % proj, (rows, d.D), "weight"))
            if d.qkv_bias:
                specs.append((p + "self_attn.%s_proj.bias" % proj, (rows,), "bias"))
        specs.append((p + "self_attn.o_proj.weight", (d.D, d.Hq * d.hd), "weight"))
        if d.o_bias:
            specs.append((p + "self_attn.o_proj.bias", (d.D,), "bias"))
        if d.qk_norm:
            specs.append((p + "self_attn.q_norm.weight", (d.hd,), "norm"))
            specs.append((p + "self_attn.k_norm.weight", (d.hd,), "norm"))
        specs.append((p + "post_attention_layernorm.weight", (d.D,), "norm"))
        if d.hcx_post:
            specs.append((p + "post_norm1.weight", (d.D,), "norm"))
            specs.append((p + "post_norm2.weight", (d.D,), "norm"))
        if d.sandwich:
            specs.append((p + "pre_feedforward_layernorm.weight", (d.D,), "norm"))
        if d.post_norms:
            specs.append((p + "post_feedforward_layernorm.weight", (d.D,), "norm"))
        if d.moe[i]:
            specs.append((p + "mlp.gate.weight", (d.E, d.D), "weight"))
            experts = [("mlp.experts.%d." % e, d.I_exp) for e in range(d.E)]
            if d.I_shared:
                experts.append(("mlp.shared_expert.", d.I_shared))
            for q, ff in experts:
                specs.append((p + q + "gate_proj.weight", (ff, d.D), "weight"))
                specs.append((p + q + "up_proj.weight", (ff, d.D), "weight"))
                specs.append((p + q + "down_proj.weight", (d.D, ff), "weight"))
            if d.I_shared:
                specs.append((p + "mlp.shared_expert_gate.weight", (1, d.D), "weight"))
        else:
            specs.append((p + "mlp.gate_proj.weight", (d.I, d.D), "weight"))
            specs.append((p + "mlp.up_proj.weight", (d.I, d.D), "weight"))
            specs.append((p + "mlp.down_proj.weight", (d.D, d.I), "weight"))
    specs.append(("model.norm.weight", (d.D,), "norm"))
    if not d.tied:
        specs.append(("lm_head.weight", (d.V, d.D), "weight"))
    return specs


def make_checkpoint(preset, outdir, seed=None):
    p = dict(PRESETS[preset])
    if seed is None:
        seed = p["seed"]
    cfg = p["config"] if "config" in p else make_config(p)
    d = Dims(cfg)
    torch.manual_seed(seed)
    tensors = {}
    for name, shape, kind in param_specs(d):
        t = torch.empty(shape, dtype=torch.float32)
        if kind == "weight" and (".q_proj." in name or ".k_proj." in name):
            t.normal_(0.0, p.get("qk_std", QK_STD))
        elif kind == "weight" and name.endswith("mlp.gate.weight"):
            t.normal_(0.0, ROUTER_STD)
        elif kind == "weight":
            t.normal_(0.0, INIT_STD)
        elif kind == "norm":
            t.normal_(0.0, NORM_NOISE_STD).add_(1.0 - d.norm_offset)  # Gemma stores w of 1 + w
        else:
            t.normal_(0.0, BIAS_STD)
        tensors[name] = t
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    path = os.path.join(outdir, "model.safetensors")
    size = safetensors_save(path, {hf(d, k): v for k, v in tensors.items()})
    # Read back and compare bit for bit.
    _, back, meta = safetensors_load(path)
    assert meta == {"format": "pt"}
    back = {k: back[hf(d, k)] for k in tensors}
    for k in tensors:
        assert back[k].dtype == torch.float32 and _tensor_bytes(back[k]) == _tensor_bytes(tensors[k]), k
    print("wrote %s (%d bytes, %d tensors, %d params, seed %d); read-back bitwise identical"
          % (path, size, len(tensors), sum(t.numel() for t in tensors.values()), seed))
    return cfg, tensors


def load_checkpoint(ckdir):
    with open(os.path.join(ckdir, "config.json")) as f:
        cfg = json.load(f)
    _, stored, _ = safetensors_load(os.path.join(ckdir, "model.safetensors"))
    d = Dims(cfg)
    want = {n: s for n, s, _ in param_specs(d)}
    names = {hf(d, n): n for n in want}
    tensors = {names.get(k, k): v for k, v in stored.items()}
    missing = set(want) - set(tensors)
    extra = set(tensors) - set(want)
    if missing or extra:
        raise ValueError("tensor set mismatch: missing %s extra %s" % (sorted(missing), sorted(extra)))
    for n, s in want.items():
        if tuple(tensors[n].shape) != tuple(s):
            raise ValueError("%s has shape %s, want %s" % (n, tuple(tensors[n].shape), s))
    return cfg, d, tensors


# --------------------------------------------------------------------------------------
# Implementation A: batched torch forward (float32 golden; float64 cross-check)
# --------------------------------------------------------------------------------------

def rms_norm(x, w, eps):
    var = x.pow(2).mean(dim=-1, keepdim=True)
    return x * torch.rsqrt(var + eps) * w


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rope_type(d):
    rs = d.rope_scaling or {}
    return rs.get("rope_type", rs.get("type", "default"))


def rope_inv_freq(d, n_ctx=None):
    """Inverse frequency of each pair (float64 list) and the factor on cos/sin.

    Written from each method's definition:
      linear  (positional interpolation, Chen et al. 2023): theta_i / factor.
      dynamic (NTK-aware, bloc97/emozilla): for a context of n > max_position_embeddings
              tokens the base becomes theta * (factor*n/max - (factor-1))^(hd/(hd-2)); here
              n is the position + 1 (n_ctx), so a position's rotation never changes.
      yarn    (Peng et al. 2023, as its reference code and HF define the ramp): the pair
              index at which a wavelength turns r times over the original context L is
              hd*ln(L/(2*pi*r)) / (2*ln(theta)); between floor(at beta_fast) and
              ceil(at beta_slow) the pair blends linearly from kept to interpolated;
              cos/sin are multiplied by 0.1*ln(factor)+1.
      llama3  (Meta's Llama 3.1 apply_scaling): wavelengths > L/low are divided by factor,
              < L/high kept, between: (1-s)*f/factor + s*f with s = (L/wave - low)/(high-low).
    """
    hd, theta = d.hd, d.theta
    half = hd // 2
    base = [theta ** (-(2.0 * j) / hd) for j in range(half)]
    t = rope_type(d)
    rs = d.rope_scaling or {}
    if t == "default":
        return base, 1.0
    f = float(rs["factor"])
    if t == "linear":
        return [b / f for b in base], 1.0
    if t == "dynamic":
        if n_ctx is None or n_ctx <= d.max_pos:
            return base, 1.0
        nb = theta * (f * n_ctx / d.max_pos - (f - 1)) ** (hd / (hd - 2))
        return [nb ** (-(2.0 * j) / hd) for j in range(half)], 1.0
    if t == "yarn":
        L = rs.get("original_max_position_embeddings") or d.max_pos
        fast, slow = rs.get("beta_fast") or 32, rs.get("beta_slow") or 1

        def pair_at(r):
            return hd * math.log(L / (2 * math.pi * r)) / (2 * math.log(theta))
        lo, hi = math.floor(pair_at(fast)), math.ceil(pair_at(slow))
        lo, hi = max(lo, 0), min(hi, hd - 1)
        if lo == hi:
            hi += 0.001
        out = []
        for j, b in enumerate(base):
            interp = min(max((j - lo) / (hi - lo), 0.0), 1.0)   # 1: fully interpolated
            out.append(b / f * interp + b * (1 - interp))
        af = rs.get("attention_factor") or (0.1 * math.log(f) + 1.0 if f > 1 else 1.0)
        return out, af
    if t == "llama3":
        L = rs["original_max_position_embeddings"]
        low, high = rs["low_freq_factor"], rs["high_freq_factor"]
        out = []
        for b in base:
            wave = 2 * math.pi / b
            if wave < L / high:
                out.append(b)
            elif wave > L / low:
                out.append(b / f)
            else:
                sm = (L / wave - low) / (high - low)
                out.append((1 - sm) * b / f + sm * b)
        return out, 1.0
    raise ValueError(t)


def rope_cos_sin(d, T, dtype):
    """[T, hd] cos/sin tables. For float32 this mirrors HF: inv_freq and angles in float32."""
    if rope_type(d) == "default":
        if dtype == torch.float32:
            exps = torch.arange(0, d.hd, 2, dtype=torch.int64).float() / d.hd
            inv_freq = 1.0 / (d.theta ** exps)
            freqs = torch.arange(T, dtype=torch.float32)[:, None] * inv_freq[None, :]
        else:
            exps = torch.arange(0, d.hd, 2, dtype=torch.float64) / d.hd
            inv_freq = 1.0 / (d.theta ** exps)
            freqs = torch.arange(T, dtype=torch.float64)[:, None] * inv_freq[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos().to(dtype), emb.sin().to(dtype)
    rows_c, rows_s = [], []
    for p in range(T):
        inv, af = rope_inv_freq(d, p + 1)
        if dtype == torch.float32:
            ang = torch.tensor(float(p), dtype=torch.float32) * torch.tensor(inv, dtype=torch.float32)
        else:
            ang = float(p) * torch.tensor(inv, dtype=torch.float64)
        ang = torch.cat((ang, ang))
        rows_c.append(ang.cos() * af)
        rows_s.append(ang.sin() * af)
    return torch.stack(rows_c).to(dtype), torch.stack(rows_s).to(dtype)


def linear(x, W, name):
    y = x @ W[name + ".weight"].t()
    b = W.get(name + ".bias")
    return y if b is None else y + b


ROUTER_MARGINS = []  # the gap between each row's k-th and (k+1)-th router probability


def moe_torch(d, W, p, h, bug=None):
    """Mixture of experts (Mixtral, Qwen-MoE model cards): p = softmax(router(h)) over all
    experts in float32, the top k, renormalised to sum 1 for Mixtral / norm_topk_prob;
    out = sum_k w_k * expert_k(h); Qwen2-MoE adds sigmoid(shared_gate(h)) * shared(h)."""
    # float32 softmax as Transformers computes it (float64 in the float64 cross-check)
    probs = torch.softmax((h @ W[p + "mlp.gate.weight"].t()).to(torch.promote_types(h.dtype, torch.float32)), dim=-1)
    w, idx = torch.topk(probs, d.topk, dim=-1)
    if d.topk < d.E:
        nxt = torch.topk(probs, d.topk + 1, dim=-1).values[:, -1]
        ROUTER_MARGINS.append((w[:, -1] - nxt).min().item())
    if d.norm_topk and bug != "no_topk_norm":
        w = w / w.sum(dim=-1, keepdim=True)
    w = w.to(h.dtype)

    def expert(q, v):
        g = linear(v, W, p + q + "gate_proj")
        u = linear(v, W, p + q + "up_proj")
        return linear(torch.nn.functional.silu(g) * u, W, p + q + "down_proj")
    out = torch.zeros_like(h)
    for t in range(h.shape[0]):
        for j in range(d.topk):
            e = int(idx[t, j])
            out[t] += w[t, j] * expert("mlp.experts.%d." % e, h[t:t + 1])[0]
    if d.I_shared and bug != "no_shared_expert":
        out = out + torch.sigmoid(h @ W[p + "mlp.shared_expert_gate.weight"].t()) * expert("mlp.shared_expert.", h)
    return out


@torch.no_grad()
def forward_batched(d, tensors, ids, dtype=torch.float32, bug=None):
    """Full-sequence forward; returns logits [T, V] in `dtype`.

    `bug` injects a deliberate mistake (only for the sensitivity table):
    'interleaved_rope', 'no_rope', 'gqa_modulo', 'no_causal_mask', 'no_o_bias',
    'no_qkv_bias', 'norm_without_weight', 'wrong_theta'.
    """
    W = {k: v.to(dtype) for k, v in tensors.items()}
    if bug == "no_o_bias":
        W = {k: v for k, v in W.items() if not k.endswith("o_proj.bias")}
    if bug == "no_qkv_bias":
        W = {k: v for k, v in W.items() if not (k.endswith("_proj.bias") and "o_proj" not in k)}
    ids_t = torch.tensor(ids, dtype=torch.long)
    T = len(ids)
    x = W["model.embed_tokens.weight"][ids_t]                      # [T, D]
    if d.embed_scale is not None and bug != "no_embed_scale":
        x = x * torch.tensor(d.embed_scale, dtype=torch.float32).to(dtype)
    if bug == "wrong_theta":
        import copy
        d = copy.copy(d)
        d.theta = 500000.0 if d.theta == 10000.0 else 10000.0
    if bug == "no_rope_scaling":
        import copy
        d = copy.copy(d)
        d.rope_scaling = None
    cos, sin = rope_cos_sin(d, T, dtype)                            # [T, hd]
    if any(d.local):
        import copy
        dl = copy.copy(d)
        dl.theta, dl.rope_scaling = (d.theta if bug == "no_local_theta" else d.local_theta), None
        cos_l, sin_l = rope_cos_sin(dl, T, dtype)
    scale = d.attn_scale if bug != "head_dim_scale" else 1.0 / math.sqrt(d.hd)
    causal = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)  # True: masked
    ii = torch.arange(T)

    def layer_mask(i):
        w = d.window[i]
        if w is None or bug == "no_window":
            return causal
        return causal | (ii[None, :] <= ii[:, None] - w)           # key j <= i - w is out

    def norm(v, w):
        return rms_norm(v, 1.0 if bug == "norm_without_weight" else w + d.norm_offset, d.eps)

    def rope(v, cos=cos, sin=sin):  # v: [H, T, hd]
        if bug == "no_rope":
            return v
        if bug == "interleaved_rope":
            half = d.hd // 2
            c, s = cos[:, :half], sin[:, :half]
            a, b = v[..., 0::2], v[..., 1::2]
            out = torch.empty_like(v)
            out[..., 0::2] = a * c - b * s
            out[..., 1::2] = b * c + a * s
            return out
        return v * cos + rotate_half(v) * sin

    for i in range(d.L):
        p = "model.layers.%d." % i
        h = norm(x, W[p + "input_layernorm.weight"]) if d.pre_norms else x
        q = linear(h, W, p + "self_attn.q_proj").view(T, d.Hq, d.hd).transpose(0, 1)
        k = linear(h, W, p + "self_attn.k_proj").view(T, d.Hkv, d.hd).transpose(0, 1)
        v = linear(h, W, p + "self_attn.v_proj").view(T, d.Hkv, d.hd).transpose(0, 1)
        if d.qk_norm and bug != "no_qk_norm":
            q = rms_norm(q, W[p + "self_attn.q_norm.weight"] + d.norm_offset, d.eps)
            k = rms_norm(k, W[p + "self_attn.k_norm.weight"] + d.norm_offset, d.eps)
        if d.local[i]:
            q, k = rope(q, cos_l, sin_l), rope(k, cos_l, sin_l)
        elif d.rope[i] or bug == "rope_everywhere":
            q, k = rope(q), rope(k)
        if bug == "gqa_modulo":
            idx = torch.arange(d.Hq) % d.Hkv
        else:
            idx = torch.arange(d.Hq) // d.group       # == repeat_interleave(group, dim=0)
        k, v = k[idx], v[idx]                          # [Hq, T, hd]
        scores = (q @ k.transpose(-1, -2)) * scale     # [Hq, T, T]
        if bug != "no_causal_mask":
            scores = scores.masked_fill(layer_mask(i), float("-inf"))
        probs = torch.softmax(scores, dim=-1)
        attn = (probs @ v).transpose(0, 1).reshape(T, d.Hq * d.hd)
        o = linear(attn, W, p + "self_attn.o_proj")
        if d.sandwich:
            x = x + norm(o, W[p + "post_attention_layernorm.weight"])
            h = norm(x, W[p + "pre_feedforward_layernorm.weight"])
        elif d.post_norms:
            x = x + norm(o, W[p + "post_attention_layernorm.weight"])
            h = x
        else:
            if d.hcx_post:
                o = norm(o, W[p + "post_norm1.weight"])
            x = x + o * (d.res_mult if bug != "no_residual_mult" else 1.0)
            h = norm(x, W[p + "post_attention_layernorm.weight"])
        if d.moe[i]:
            m = moe_torch(d, W, p, h, bug)
        else:
            g = linear(h, W, p + "mlp.gate_proj")
            u = linear(h, W, p + "mlp.up_proj")
            if d.act == "gelu_pytorch_tanh":
                a = torch.nn.functional.gelu(g, approximate="tanh") if bug != "exact_gelu" else torch.nn.functional.gelu(g)
            else:
                a = torch.nn.functional.silu(g)
            m = linear(a * u, W, p + "mlp.down_proj")
        if d.post_norms:
            x = x + norm(m, W[p + "post_feedforward_layernorm.weight"])
        else:
            if d.hcx_post:
                m = norm(m, W[p + "post_norm2.weight"])
            x = x + m * (d.res_mult if bug != "no_residual_mult" else 1.0)
    x = norm(x, W["model.norm.weight"])
    head = W["model.embed_tokens.weight"] if d.tied else W["lm_head.weight"]
    logits = x @ head.t()
    if d.logit_mult != 1.0 and bug != "no_logit_mult":
        logits = logits * d.logit_mult
    if d.softcap:
        logits = torch.tanh(logits / d.softcap) * d.softcap
    return logits


# --------------------------------------------------------------------------------------
# Implementation B: token-by-token numpy float64 with a KV cache and explicit per-head
# loops, written independently of A (own RoPE by index pairs, own softmax).
# --------------------------------------------------------------------------------------

def forward_incremental_np(d, tensors, ids):
    W = {k: v.double().numpy() for k, v in tensors.items()}
    half = d.hd // 2

    def rms(v, w):
        return v / math.sqrt(float(np.dot(v, v)) / v.shape[0] + d.eps) * (w + d.norm_offset)

    def lin(v, name):
        y = W[name + ".weight"].dot(v)
        if name + ".bias" in W:
            y = y + W[name + ".bias"]
        return y

    import copy
    d_local = copy.copy(d)
    d_local.theta, d_local.rope_scaling = d.local_theta, None

    def rot(vec, pos, local=False):  # vec [hd]; pair (j, j+half)
        inv, af = rope_inv_freq(d_local if local else d, pos + 1)
        out = np.empty_like(vec)
        for j in range(half):
            a, b = vec[j], vec[j + half]
            c, s = af * math.cos(pos * inv[j]), af * math.sin(pos * inv[j])
            out[j] = a * c - b * s
            out[j + half] = b * c + a * s
        return out

    cache_k = [[] for _ in range(d.L)]  # per layer: list over positions of [Hkv, hd]
    cache_v = [[] for _ in range(d.L)]
    head = W["model.embed_tokens.weight"] if d.tied else W["lm_head.weight"]
    rows = []
    for pos, tok in enumerate(ids):
        x = W["model.embed_tokens.weight"][tok].copy()
        if d.embed_scale is not None:
            x = x * float(np.float32(d.embed_scale))
        for i in range(d.L):
            p = "model.layers.%d." % i
            h = rms(x, W[p + "input_layernorm.weight"]) if d.pre_norms else x
            q = lin(h, p + "self_attn.q_proj").reshape(d.Hq, d.hd)
            k = lin(h, p + "self_attn.k_proj").reshape(d.Hkv, d.hd)
            v = lin(h, p + "self_attn.v_proj").reshape(d.Hkv, d.hd)
            if d.qk_norm:
                q = np.stack([rms(q[j], W[p + "self_attn.q_norm.weight"]) for j in range(d.Hq)])
                k = np.stack([rms(k[j], W[p + "self_attn.k_norm.weight"]) for j in range(d.Hkv)])
            if d.rope[i]:
                k = np.stack([rot(k[j], pos, d.local[i]) for j in range(d.Hkv)])
            cache_k[i].append(k)
            cache_v[i].append(v)
            attn = np.zeros(d.Hq * d.hd)
            for hq in range(d.Hq):
                kvh = hq // d.group
                qh = rot(q[hq], pos, d.local[i]) if d.rope[i] else q[hq]
                first = 0 if d.window[i] is None else max(0, pos - d.window[i] + 1)
                keys = range(first, pos + 1)
                sc = [float(np.dot(qh, cache_k[i][s][kvh])) * d.attn_scale for s in keys]
                m = max(sc)
                e = [math.exp(z - m) for z in sc]
                tot = sum(e)
                o = np.zeros(d.hd)
                for e_s, s in zip(e, keys):
                    o += (e_s / tot) * cache_v[i][s][kvh]
                attn[hq * d.hd:(hq + 1) * d.hd] = o
            o = lin(attn, p + "self_attn.o_proj")
            if d.sandwich:
                x = x + rms(o, W[p + "post_attention_layernorm.weight"])
                h = rms(x, W[p + "pre_feedforward_layernorm.weight"])
            elif d.post_norms:
                x = x + rms(o, W[p + "post_attention_layernorm.weight"])
                h = x
            else:
                if d.hcx_post:
                    o = rms(o, W[p + "post_norm1.weight"])
                x = x + o * d.res_mult
                h = rms(x, W[p + "post_attention_layernorm.weight"])
            def mlp(v, q):
                g = lin(v, p + q + "gate_proj")
                u = lin(v, p + q + "up_proj")
                if d.act == "gelu_pytorch_tanh":
                    a = 0.5 * g * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (g + 0.044715 * g ** 3)))
                else:
                    a = g / (1.0 + np.exp(-g))
                return lin(a * u, p + q + "down_proj")
            if d.moe[i]:
                z = W[p + "mlp.gate.weight"].dot(h)
                e_z = np.exp(z - z.max())
                pr = e_z / e_z.sum()
                top = sorted(range(d.E), key=lambda e: -pr[e])[:d.topk]
                ws = [pr[e] for e in top]
                if d.norm_topk:
                    ws = [v / sum(ws) for v in ws]
                mo = sum(wv * mlp(h, "mlp.experts.%d." % e) for wv, e in zip(ws, top))
                if d.I_shared:
                    sg = float(W[p + "mlp.shared_expert_gate.weight"].dot(h)[0])
                    mo = mo + mlp(h, "mlp.shared_expert.") / (1.0 + math.exp(-sg))
            else:
                mo = mlp(h, "mlp.")
            if d.post_norms:
                x = x + rms(mo, W[p + "post_feedforward_layernorm.weight"])
            else:
                if d.hcx_post:
                    mo = rms(mo, W[p + "post_norm2.weight"])
                x = x + mo * d.res_mult
        x = rms(x, W["model.norm.weight"])
        row = head.dot(x) * d.logit_mult
        if d.softcap:
            row = np.tanh(row / d.softcap) * d.softcap
        rows.append(row)
    return np.stack(rows)


# --------------------------------------------------------------------------------------
# Golden generation
# --------------------------------------------------------------------------------------

def make_prompts(d, seed, lengths=PROMPT_LENGTHS):
    g = torch.Generator().manual_seed(seed + 1000)
    prompts = []
    for n in lengths:
        ids = torch.randint(0, d.V, (n,), generator=g).tolist()
        prompts.append(ids)
    # make sure the edge ids 0 and V-1 appear in the longest prompt
    prompts[2][3] = 0
    prompts[2][7] = d.V - 1
    return prompts


def golden(ckdir, seed=None):
    cfg, d, tensors = load_checkpoint(ckdir)
    if seed is None:
        name = os.path.basename(os.path.normpath(ckdir))
        seed = PRESETS.get(name, {}).get("seed", 0)
    name = os.path.basename(os.path.normpath(ckdir))
    prompts = make_prompts(d, seed, PRESETS.get(name, {}).get("prompt_lengths", PROMPT_LENGTHS))
    all32, diff64, diff_np64, diff_np32 = [], 0.0, 0.0, 0.0
    del ROUTER_MARGINS[:]
    max_abs_logit = 0.0
    for ids in prompts:
        l32 = forward_batched(d, tensors, ids, torch.float32)
        l64 = forward_batched(d, tensors, ids, torch.float64)
        lnp = forward_incremental_np(d, tensors, ids)
        diff64 = max(diff64, (l32.double() - l64).abs().max().item())
        diff_np64 = max(diff_np64, float(np.abs(lnp - l64.numpy()).max()))
        diff_np32 = max(diff_np32, float(np.abs(lnp - l32.double().numpy()).max()))
        max_abs_logit = max(max_abs_logit, l32.abs().max().item())
        all32.append(l32)
    margin = min(ROUTER_MARGINS) if ROUTER_MARGINS else None
    # Prefix consistency: logits of a prefix equal the first rows of the full prompt.
    pre = forward_batched(d, tensors, prompts[2][:5], torch.float32)
    diff_prefix = (pre - all32[2][:5]).abs().max().item()

    bugs = ["interleaved_rope", "no_rope", "wrong_theta", "no_causal_mask", "norm_without_weight"]
    if d.group > 1:
        bugs.append("gqa_modulo")
    if d.qkv_bias:
        bugs.append("no_qkv_bias")
    if d.o_bias:
        bugs.append("no_o_bias")
    if d.qk_norm:
        bugs.append("no_qk_norm")
    if d.rope_scaling:
        bugs.append("no_rope_scaling")
    if any(w is not None for w in d.window):
        bugs.append("no_window")
    if not all(d.rope):
        bugs.append("rope_everywhere")
    if any(d.moe) and d.norm_topk:
        bugs.append("no_topk_norm")
    if d.gemma:
        bugs += ["no_embed_scale", "head_dim_scale", "exact_gelu", "no_local_theta"]
    if d.mup:
        bugs += ["no_embed_scale", "head_dim_scale", "no_residual_mult", "no_logit_mult"]
    if any(d.moe) and d.I_shared:
        bugs.append("no_shared_expert")
    sens = {}
    for b in bugs:
        m = 0.0
        for ids, ref in zip(prompts, all32):
            m = max(m, (forward_batched(d, tensors, ids, torch.float32, bug=b) - ref).abs().max().item())
        sens[b] = m

    out = {
        "prompts": prompts,
        "logits": [l.tolist() for l in all32],
        "logits_layout": "logits[p][t][v]: next-token logits after prompts[p][0..t] (full [T, V] per prompt, positions start at 0, no BOS added)",
        "dtype": "float32",
        "max_abs_diff_vs_float64": diff64,
        "max_abs_diff_incremental_loop_f64_vs_batched_f64": diff_np64,
        "max_abs_diff_incremental_loop_f64_vs_batched_f32": diff_np32,
        "max_abs_diff_prefix_vs_full": diff_prefix,
        "max_abs_logit": max_abs_logit,
        "bug_sensitivity_max_abs_diff": sens,
        "min_router_margin": margin,
        "suggested_atol": 1e-4,
        "script": "reference.py",
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "seed": seed,
        "init": {"weights_std": INIT_STD, "q_k_proj_weights_std": QK_STD, "norm": "1 + N(0, %g)" % NORM_NOISE_STD, "bias_std": BIAS_STD},
    }
    path = os.path.join(ckdir, "golden.json")
    with open(path, "w") as f:
        json.dump(out, f)
        f.write("\n")
    print("%s: prompts %s" % (ckdir, [len(p) for p in prompts]))
    print("  max|f32-f64| = %.3e   max|loop64-f64| = %.3e   max|loop64-f32| = %.3e   prefix %.3e   max|logit| = %.4f"
          % (diff64, diff_np64, diff_np32, diff_prefix, max_abs_logit))
    print("  bug sensitivity: " + ", ".join("%s=%.2e" % kv for kv in sens.items()))
    assert diff64 < 1e-5, diff64
    assert diff_np64 < 1e-10, diff_np64
    assert diff_prefix < 1e-5, diff_prefix
    if margin is not None:
        print("  smallest gap between a chosen expert and the next: %.3g" % margin)
        assert margin > 1e-4, margin  # no expert choice may hang on rounding
    for b, m in sens.items():
        if m < 1e-3:
            print("  WARNING: golden barely detects bug %s (%.2e)" % (b, m))
    print("  wrote %s (%d bytes)" % (path, os.path.getsize(path)))
    return out


def cmd_logits(args):
    cfg, d, tensors = load_checkpoint(args.ckpt)
    dtype = torch.float64 if args.dtype == "float64" else torch.float32
    prompts = [[int(t) for t in s.split(",") if t.strip()] for s in args.prompt]
    res = []
    for ids in prompts:
        if not ids or min(ids) < 0 or max(ids) >= d.V:
            raise SystemExit("prompt ids must be non-empty and in [0, %d)" % d.V)
        lg = forward_batched(d, tensors, ids, dtype)
        res.append(lg.tolist())
        torch.set_printoptions(precision=6, linewidth=140)
        print("prompt %s -> logits [%d, %d], argmax per position %s" % (ids, lg.shape[0], lg.shape[1], lg.argmax(-1).tolist()))
        print(lg)
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"prompts": prompts, "logits": res, "dtype": args.dtype, "torch_version": torch.__version__}, f)
            f.write("\n")
        print("wrote", args.out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="mode", required=True)
    a = sub.add_parser("all")
    a.add_argument("--outdir", default=HERE)
    m = sub.add_parser("make")
    m.add_argument("preset", choices=sorted(PRESETS))
    m.add_argument("outdir")
    m.add_argument("--seed", type=int)
    g = sub.add_parser("golden")
    g.add_argument("ckpt")
    g.add_argument("--seed", type=int)
    lg = sub.add_parser("logits")
    lg.add_argument("ckpt")
    lg.add_argument("--prompt", action="append", required=True, help="comma-separated token ids")
    lg.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    lg.add_argument("--out")
    sub.add_parser("selftest")
    args = ap.parse_args(argv)

    if args.mode == "selftest":
        print(selftest_safetensors())
    elif args.mode == "make":
        make_checkpoint(args.preset, args.outdir, args.seed)
    elif args.mode == "golden":
        golden(args.ckpt, args.seed)
    elif args.mode == "logits":
        cmd_logits(args)
    elif args.mode == "all":
        print(selftest_safetensors())
        for name in PRESETS:
            out = os.path.join(args.outdir, name)
            make_checkpoint(name, out)
            golden(out)


if __name__ == "__main__":
    main()
