#!/usr/bin/env python3
"""Independent reference for encoders: BERT, XLM-RoBERTa, ModernBERT (Dokja test goldens).

Plain torch + numpy, no transformers: the maths of Hugging Face's BertModel and
XLMRobertaModel (absolute positions, post-norm layers), written from the BERT paper
and the published configs, not copied. Safetensors are written with model/testdata's
hand-written writer.

  reference.py all      make every preset below and its golden.json here
  reference.py make PRESET OUTDIR [--seed N]
  reference.py golden CKPTDIR
  reference.py mlmgrad CKPTDIR   masked-language loss and gradients (mlm_golden.json)
  reference.py contrastive CKPTDIR   in-batch-negatives loss and gradients (contrastive_golden.json)
  reference.py classifier MLMDIR OUTDIR   a ModernBertForSequenceClassification made from the
                                          masked-language checkpoint, its logits, loss and gradients

Conventions (as Hugging Face):
  * embeddings = word[ids] + position[pos] + token_type[0], then LayerNorm (with bias);
    BERT positions are 0..T-1; XLM-RoBERTa's start at padding_idx + 1 (pad_token_id 1:
    positions 2..T+1) and its max_position_embeddings counts the two skipped rows.
  * each layer: a = LayerNorm(x + Wo(attention(Wq x + bq, Wk x + bk, Wv x + bv)) + bo)
               y = LayerNorm(a + W2 gelu(W1 a + b1) + b2), gelu exact (erf).
  * attention is bidirectional (no mask for one unpadded sequence), scale 1/sqrt(hd).
  * pooled outputs: CLS (position 0) and mean over positions, each also L2-normalised.

ModernBERT (the ModernBERT paper, arXiv 2412.13663, and its published config):
  * embeddings = LayerNorm(tok[ids]) (no positions: RoPE; LayerNorms without bias when
    norm_bias is false); pre-norm layers, the first without its attention norm;
  * layer i attends globally when i % global_attn_every_n_layers == 0 (RoPE base
    global_rope_theta), else within |i - j| <= local_attention // 2 (local_rope_theta);
  * Wqkv gives q, k, v one after the other; RoPE rotate_half with inv_freq 1/base^(2i/hd);
  * MLP: Wi gives [input | gate]; Wo(gelu(input) * gate); a final LayerNorm.
"""

import json
import math
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "model", "testdata"))
from reference import safetensors_save, safetensors_load  # noqa: E402

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

# Shrunk from the published configs, every key kept: bert-base-multilingual-cased
# (BertModel) and BAAI/bge-m3 (XLMRobertaModel, the Korean embedders' base).
PRESETS = {
    "tiny-bert": {
        "architectures": ["BertModel"], "model_type": "bert", "attention_probs_dropout_prob": 0.1,
        "classifier_dropout": None, "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "hidden_size": 32,
        "initializer_range": 0.02, "intermediate_size": 64, "layer_norm_eps": 1e-12,
        "max_position_embeddings": 64, "num_attention_heads": 4, "num_hidden_layers": 2, "pad_token_id": 0,
        "pooler_fc_size": 768, "pooler_num_attention_heads": 12, "pooler_num_fc_layers": 3,
        "pooler_size_per_head": 128, "pooler_type": "first_token_transform", "position_embedding_type": "absolute",
        "torch_dtype": "float32", "type_vocab_size": 2, "use_cache": True, "vocab_size": 300,
    },
    # answerdotai/ModernBERT-base (A.X Encoder's architecture), shrunk: four layers so
    # that both kinds of attention appear, a window of 4 so that 17 tokens exceed it.
    "tiny-modernbert": {
        "architectures": ["ModernBertForMaskedLM"], "model_type": "modernbert", "attention_bias": False,
        "attention_dropout": 0.0, "bos_token_id": 50281, "classifier_activation": "gelu", "classifier_bias": False,
        "classifier_dropout": 0.0, "classifier_pooling": "mean", "cls_token_id": 50281, "decoder_bias": True,
        "deterministic_flash_attn": False, "embedding_dropout": 0.0, "eos_token_id": 50282,
        "global_attn_every_n_layers": 3, "global_rope_theta": 160000.0, "gradient_checkpointing": False,
        "hidden_activation": "gelu", "hidden_size": 32, "initializer_cutoff_factor": 2.0, "initializer_range": 0.02,
        "intermediate_size": 48, "layer_norm_eps": 1e-05, "local_attention": 4, "local_rope_theta": 10000.0,
        "max_position_embeddings": 64, "mlp_bias": False, "mlp_dropout": 0.0, "norm_bias": False, "norm_eps": 1e-05,
        "num_attention_heads": 4, "num_hidden_layers": 4, "pad_token_id": 50283, "position_embedding_type": "absolute",
        "sep_token_id": 50282, "sparse_pred_ignore_index": -100, "sparse_prediction": False, "torch_dtype": "float32",
        "transformers_version": "4.48.0.dev0", "vocab_size": 300,
    },
    # BertForSequenceClassification (KLUE-style Korean classifiers): the pooler (dense +
    # tanh over [CLS]) and a linear classifier, three labels.
    "tiny-bert-classifier": {
        "architectures": ["BertForSequenceClassification"], "model_type": "bert", "attention_probs_dropout_prob": 0.1,
        "classifier_dropout": None, "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "hidden_size": 32,
        "id2label": {"0": "negative", "1": "neutral", "2": "positive"},
        "label2id": {"negative": 0, "neutral": 1, "positive": 2},
        "initializer_range": 0.02, "intermediate_size": 64, "layer_norm_eps": 1e-12,
        "max_position_embeddings": 64, "num_attention_heads": 4, "num_hidden_layers": 2, "pad_token_id": 0,
        "position_embedding_type": "absolute", "torch_dtype": "float32", "type_vocab_size": 2,
        "use_cache": True, "vocab_size": 300,
    },
    # BAAI/bge-reranker-v2-m3's shape (XLMRobertaForSequenceClassification, one label).
    "tiny-xlmr-reranker": {
        "architectures": ["XLMRobertaForSequenceClassification"], "model_type": "xlm-roberta",
        "attention_probs_dropout_prob": 0.1, "bos_token_id": 0, "classifier_dropout": None, "eos_token_id": 2,
        "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "hidden_size": 32, "id2label": {"0": "LABEL_0"},
        "initializer_range": 0.02, "intermediate_size": 64, "label2id": {"LABEL_0": 0}, "layer_norm_eps": 1e-05,
        "max_position_embeddings": 66, "num_attention_heads": 4, "num_hidden_layers": 2, "output_past": True,
        "pad_token_id": 1, "position_embedding_type": "absolute", "torch_dtype": "float32", "type_vocab_size": 1,
        "use_cache": True, "vocab_size": 300,
    },
    "tiny-xlmr": {
        "architectures": ["XLMRobertaModel"], "model_type": "xlm-roberta", "attention_probs_dropout_prob": 0.1,
        "bos_token_id": 0, "classifier_dropout": None, "eos_token_id": 2, "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1, "hidden_size": 32, "initializer_range": 0.02, "intermediate_size": 64,
        "layer_norm_eps": 1e-05, "max_position_embeddings": 66, "num_attention_heads": 4,
        "num_hidden_layers": 2, "output_past": True, "pad_token_id": 1, "position_embedding_type": "absolute",
        "torch_dtype": "float32", "type_vocab_size": 1, "use_cache": True, "vocab_size": 300,
    },
}

PROMPT_LENGTHS = (1, 5, 17)


def prefix(cfg):
    return "roberta." if cfg["model_type"] == "xlm-roberta" else "bert."


def make_modernbert(cfg, g):
    H, I, L = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]

    def rnd(*shape, scale=0.1):
        return (torch.randn(*shape, generator=g) * scale).float()

    t = {"model.embeddings.tok_embeddings.weight": rnd(cfg["vocab_size"], H, scale=0.5),
         "model.embeddings.norm.weight": 1 + rnd(H), "model.final_norm.weight": 1 + rnd(H)}
    for i in range(L):
        q = f"model.layers.{i}."
        if i > 0:
            t[q + "attn_norm.weight"] = 1 + rnd(H)
        t[q + "attn.Wqkv.weight"] = rnd(3 * H, H, scale=0.3)
        t[q + "attn.Wo.weight"] = rnd(H, H, scale=0.3)
        t[q + "mlp_norm.weight"] = 1 + rnd(H)
        t[q + "mlp.Wi.weight"] = rnd(2 * I, H, scale=0.3)
        t[q + "mlp.Wo.weight"] = rnd(H, I, scale=0.3)
    # The masked-language head, carried, not used for embeddings.
    t["head.dense.weight"] = rnd(H, H)
    t["head.norm.weight"] = 1 + rnd(H)
    t["decoder.bias"] = rnd(cfg["vocab_size"])
    return t


def make(preset, outdir, seed=1):
    cfg = PRESETS[preset]
    g = torch.Generator().manual_seed(seed)
    if cfg["model_type"] == "modernbert":
        t = make_modernbert(cfg, g)
        os.makedirs(outdir, exist_ok=True)
        with open(os.path.join(outdir, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
        safetensors_save(os.path.join(outdir, "model.safetensors"), t)
        return
    H, I, L = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    p = prefix(cfg)

    def rnd(*shape, scale=0.1):
        return (torch.randn(*shape, generator=g) * scale).float()

    t = {
        p + "embeddings.word_embeddings.weight": rnd(cfg["vocab_size"], H, scale=0.5),
        p + "embeddings.position_embeddings.weight": rnd(cfg["max_position_embeddings"], H, scale=0.5),
        p + "embeddings.token_type_embeddings.weight": rnd(cfg["type_vocab_size"], H, scale=0.5),
        p + "embeddings.LayerNorm.weight": 1 + rnd(H),
        p + "embeddings.LayerNorm.bias": rnd(H),
    }
    for i in range(L):
        q = f"{p}encoder.layer.{i}."
        for n in ("query", "key", "value"):
            t[q + f"attention.self.{n}.weight"] = rnd(H, H, scale=0.3)
            t[q + f"attention.self.{n}.bias"] = rnd(H)
        t[q + "attention.output.dense.weight"] = rnd(H, H, scale=0.3)
        t[q + "attention.output.dense.bias"] = rnd(H)
        t[q + "attention.output.LayerNorm.weight"] = 1 + rnd(H)
        t[q + "attention.output.LayerNorm.bias"] = rnd(H)
        t[q + "intermediate.dense.weight"] = rnd(I, H, scale=0.3)
        t[q + "intermediate.dense.bias"] = rnd(I)
        t[q + "output.dense.weight"] = rnd(H, I, scale=0.3)
        t[q + "output.dense.bias"] = rnd(H)
        t[q + "output.LayerNorm.weight"] = 1 + rnd(H)
        t[q + "output.LayerNorm.bias"] = rnd(H)
    if cfg["architectures"][0] == "BertForSequenceClassification":
        # BERT's: the pooler over [CLS] (dense, tanh), then the classifier.
        nl = len(cfg["id2label"])
        t[p + "pooler.dense.weight"] = rnd(H, H, scale=0.3)
        t[p + "pooler.dense.bias"] = rnd(H)
        t["classifier.weight"] = rnd(nl, H, scale=0.3)
        t["classifier.bias"] = rnd(nl)
    elif "ForSequenceClassification" in cfg["architectures"][0]:
        # The classification head over <s>: dense, tanh, out_proj.
        nl = len(cfg["id2label"])
        t["classifier.dense.weight"] = rnd(H, H, scale=0.3)
        t["classifier.dense.bias"] = rnd(H)
        t["classifier.out_proj.weight"] = rnd(nl, H, scale=0.3)
        t["classifier.out_proj.bias"] = rnd(nl)
    else:
        # The pooler (dense + tanh over CLS) is stored by BertModel; Dokja's
        # pooling is the sentence-transformers kind, so it is carried, not used.
        t[p + "pooler.dense.weight"] = rnd(H, H)
        t[p + "pooler.dense.bias"] = rnd(H)
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    safetensors_save(os.path.join(outdir, "model.safetensors"), t)


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * w + b


def rope(x, theta):
    T, hd = x.shape[-2], x.shape[-1]
    inv = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    ang = torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]
    cos, sin = torch.cat([ang.cos(), ang.cos()], -1).to(x.dtype), torch.cat([ang.sin(), ang.sin()], -1).to(x.dtype)
    half = hd // 2
    rot = torch.cat([-x[..., half:], x[..., :half]], -1)
    return x * cos + rot * sin


def forward_modernbert(cfg, W, ids, dtype=torch.float64):
    w = {k: v.to(dtype) for k, v in W.items()}
    H, nh, eps, L = cfg["hidden_size"], cfg["num_attention_heads"], cfg["norm_eps"], cfg["num_hidden_layers"]
    hd, T, I = H // nh, len(ids), cfg["intermediate_size"]

    def ln(x, name):
        mu = x.mean(-1, keepdim=True)
        var = ((x - mu) ** 2).mean(-1, keepdim=True)
        return (x - mu) / torch.sqrt(var + eps) * w[name]

    x = ln(w["model.embeddings.tok_embeddings.weight"][torch.tensor(ids)], "model.embeddings.norm.weight")
    dist = (torch.arange(T)[:, None] - torch.arange(T)[None, :]).abs()
    for i in range(L):
        q = f"model.layers.{i}."
        glob = i % cfg["global_attn_every_n_layers"] == 0
        theta = cfg["global_rope_theta"] if glob else cfg["local_rope_theta"]
        h = x if i == 0 else ln(x, q + "attn_norm.weight")
        qkv = h @ w[q + "attn.Wqkv.weight"].T
        Q, K, V = [qkv[:, j * H:(j + 1) * H].view(T, nh, hd).transpose(0, 1) for j in range(3)]
        Q, K = rope(Q, theta), rope(K, theta)
        scores = Q @ K.transpose(1, 2) / math.sqrt(hd)
        if not glob:
            scores = scores.masked_fill(dist > cfg["local_attention"] // 2, float("-inf"))
        att = (torch.softmax(scores, -1) @ V).transpose(0, 1).reshape(T, H)
        x = x + att @ w[q + "attn.Wo.weight"].T
        h = ln(x, q + "mlp_norm.weight") @ w[q + "mlp.Wi.weight"].T
        inp, gate = h[:, :I], h[:, I:]
        x = x + (0.5 * inp * (1 + torch.erf(inp / math.sqrt(2))) * gate) @ w[q + "mlp.Wo.weight"].T
    return ln(x, "model.final_norm.weight")


def modernbert_packed_mlm(cfg, w, ids, targets, T, sep):
    """Summed masked-language cross-entropy of a packed batch: sequences of T tokens,
    a sep token starting a new document; documents attend only within themselves and
    count positions from their start (ModernBERT's unpadded packing). The head is
    ModernBertPredictionHead (dense, gelu, norm) and the decoder tied to tok_embeddings."""
    H, nh, eps, L = cfg["hidden_size"], cfg["num_attention_heads"], cfg["norm_eps"], cfg["num_hidden_layers"]
    hd, I, N = H // nh, cfg["intermediate_size"], len(ids)
    S = N // T
    doc = torch.zeros(N, dtype=torch.long)
    pos = torch.zeros(N, dtype=torch.long)
    d = 0
    for s in range(S):
        start = 0
        for t in range(T):
            if t == 0 or ids[s * T + t] == sep:
                d += 1
                start = t
            doc[s * T + t], pos[s * T + t] = d, t - start

    def ln(x, name):
        mu = x.mean(-1, keepdim=True)
        var = ((x - mu) ** 2).mean(-1, keepdim=True)
        return (x - mu) / torch.sqrt(var + eps) * w[name]

    def rope_at(x, theta):  # x: nh, N, hd
        inv = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
        ang = pos.to(torch.float64)[:, None] * inv[None, :]
        cos, sin = torch.cat([ang.cos(), ang.cos()], -1), torch.cat([ang.sin(), ang.sin()], -1)
        rot = torch.cat([-x[..., hd // 2:], x[..., :hd // 2]], -1)
        return x * cos + rot * sin

    same = doc[:, None] == doc[None, :]
    dist = (torch.arange(N)[:, None] - torch.arange(N)[None, :]).abs()
    x = ln(w["model.embeddings.tok_embeddings.weight"][torch.tensor(ids)], "model.embeddings.norm.weight")
    for i in range(L):
        q = f"model.layers.{i}."
        glob = i % cfg["global_attn_every_n_layers"] == 0
        theta = cfg["global_rope_theta"] if glob else cfg["local_rope_theta"]
        allowed = same if glob else same & (dist <= cfg["local_attention"] // 2)
        h = x if i == 0 else ln(x, q + "attn_norm.weight")
        qkv = h @ w[q + "attn.Wqkv.weight"].T
        Q, K, V = [qkv[:, j * H:(j + 1) * H].view(N, nh, hd).transpose(0, 1) for j in range(3)]
        Q, K = rope_at(Q, theta), rope_at(K, theta)
        scores = (Q @ K.transpose(1, 2) / math.sqrt(hd)).masked_fill(~allowed, float("-inf"))
        att = (torch.softmax(scores, -1) @ V).transpose(0, 1).reshape(N, H)
        x = x + att @ w[q + "attn.Wo.weight"].T
        h = ln(x, q + "mlp_norm.weight") @ w[q + "mlp.Wi.weight"].T
        inp, gate = h[:, :I], h[:, I:]
        x = x + (0.5 * inp * (1 + torch.erf(inp / math.sqrt(2))) * gate) @ w[q + "mlp.Wo.weight"].T
    x = ln(x, "model.final_norm.weight")
    rows = torch.tensor([r for r, t in enumerate(targets) if t >= 0])
    z = x[rows] @ w["head.dense.weight"].T
    y = ln(0.5 * z * (1 + torch.erf(z / math.sqrt(2))), "head.norm.weight")
    logits = y @ w["model.embeddings.tok_embeddings.weight"].T + w["decoder.bias"]
    tgt = torch.tensor([t for t in targets if t >= 0])
    return torch.nn.functional.cross_entropy(logits, tgt, reduction="sum")


def mlmgrad(ckdir):
    with open(os.path.join(ckdir, "config.json")) as f:
        cfg = json.load(f)
    _, W, _ = safetensors_load(os.path.join(ckdir, "model.safetensors"))
    w = {k: v.to(torch.float64).requires_grad_(True) for k, v in W.items()}
    rng = np.random.default_rng(13)
    T, S, sep = 12, 2, 5
    ids = [int(v) for v in rng.integers(6, cfg["vocab_size"], size=T * S)]
    # The first sequence holds three documents, the second one.
    ids[0], ids[4], ids[9] = sep, sep, sep
    targets = [int(ids[r]) if rng.random() < 0.4 else -1 for r in range(T * S)]
    targets[3], targets[17] = 7, 250  # a prediction that is not the input
    loss = modernbert_packed_mlm(cfg, w, ids, targets, T, sep)
    loss.backward()
    grads = {k: v.grad.reshape(-1).tolist() for k, v in w.items()}
    with open(os.path.join(ckdir, "mlm_golden.json"), "w") as f:
        json.dump({"note": "float64 torch autograd (encoder/testdata/reference.py mlmgrad)", "inputs": ids,
                   "targets": targets, "seqs": S, "sep": sep, "loss": loss.item(), "grads": grads}, f)


def contrastive(ckdir):
    """sentence-transformers' MultipleNegativesRankingLoss, summed: mean-pooled, L2-normalised
    embeddings; cosine similarities over a temperature; query i's positive is document i."""
    with open(os.path.join(ckdir, "config.json")) as f:
        cfg = json.load(f)
    _, W, _ = safetensors_load(os.path.join(ckdir, "model.safetensors"))
    w = {k: v.to(torch.float64).requires_grad_(True) for k, v in W.items() if k.startswith("model.")}
    rng = np.random.default_rng(17)
    queries = [[int(v) for v in rng.integers(4, cfg["vocab_size"], size=n)] for n in (3, 5, 2)]
    docs = [[int(v) for v in rng.integers(4, cfg["vocab_size"], size=n)] for n in (7, 4, 9)]
    tau = 0.05

    def embed(ids):
        u = forward_modernbert(cfg, w, ids).mean(0)
        return u / u.norm()

    q = torch.stack([embed(x) for x in queries])
    d = torch.stack([embed(x) for x in docs])
    loss = torch.nn.functional.cross_entropy(q @ d.T / tau, torch.arange(len(queries)), reduction="sum")
    loss.backward()
    grads = {k: v.grad.reshape(-1).tolist() for k, v in w.items()}
    with open(os.path.join(ckdir, "contrastive_golden.json"), "w") as f:
        json.dump({"note": "float64 torch autograd (encoder/testdata/reference.py contrastive)", "queries": queries,
                   "docs": docs, "temperature": tau, "loss": loss.item(), "grads": grads}, f)


def classifier(mlmdir, outdir):
    """ModernBertForSequenceClassification: the final hidden states pooled (mean here), then
    the head (dense, gelu, norm) and a linear layer with bias; cross-entropy summed."""
    with open(os.path.join(mlmdir, "config.json")) as f:
        cfg = json.load(f)
    _, W, _ = safetensors_load(os.path.join(mlmdir, "model.safetensors"))
    cfg = dict(cfg, architectures=["ModernBertForSequenceClassification"], classifier_pooling="mean",
               id2label={"0": "negative", "1": "positive", "2": "neutral"},
               label2id={"negative": 0, "positive": 1, "neutral": 2})
    g = torch.Generator().manual_seed(5)
    W = {k: v for k, v in W.items() if k != "decoder.bias"}
    W["classifier.weight"] = (torch.randn(3, cfg["hidden_size"], generator=g) * 0.3).float()
    W["classifier.bias"] = (torch.randn(3, generator=g) * 0.1).float()
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    safetensors_save(os.path.join(outdir, "model.safetensors"), W)
    w = {k: v.to(torch.float64).requires_grad_(True) for k, v in W.items()}
    rng = np.random.default_rng(19)
    texts = [[int(v) for v in rng.integers(4, cfg["vocab_size"], size=n)] for n in (4, 9, 2, 13)]
    labels = [2, 0, 1, 1]
    eps = cfg["norm_eps"]

    def logits_of(ids):
        x = forward_modernbert(cfg, w, ids).mean(0)
        z = x @ w["head.dense.weight"].T
        a = 0.5 * z * (1 + torch.erf(z / math.sqrt(2)))
        mu = a.mean(-1, keepdim=True)
        var = ((a - mu) ** 2).mean(-1, keepdim=True)
        y = (a - mu) / torch.sqrt(var + eps) * w["head.norm.weight"]
        return y @ w["classifier.weight"].T + w["classifier.bias"]

    logits = torch.stack([logits_of(t) for t in texts])
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor(labels), reduction="sum")
    loss.backward()
    grads = {k: v.grad.reshape(-1).tolist() for k, v in w.items()}
    with open(os.path.join(outdir, "classifier_golden.json"), "w") as f:
        json.dump({"note": "float64 torch autograd (encoder/testdata/reference.py classifier)", "texts": texts,
                   "labels": labels, "logits": logits.tolist(), "loss": loss.item(), "grads": grads}, f)


def forward(cfg, W, ids, dtype=torch.float64):
    if cfg["model_type"] == "modernbert":
        return forward_modernbert(cfg, W, ids, dtype)
    p = prefix(cfg)
    w = {k: v.to(dtype) for k, v in W.items()}
    H, nh, eps = cfg["hidden_size"], cfg["num_attention_heads"], cfg["layer_norm_eps"]
    hd = H // nh
    T = len(ids)
    start = cfg["pad_token_id"] + 1 if cfg["model_type"] == "xlm-roberta" else 0
    pos = torch.arange(start, start + T)
    x = w[p + "embeddings.word_embeddings.weight"][torch.tensor(ids)] + w[p + "embeddings.position_embeddings.weight"][pos] \
        + w[p + "embeddings.token_type_embeddings.weight"][0]
    x = layer_norm(x, w[p + "embeddings.LayerNorm.weight"], w[p + "embeddings.LayerNorm.bias"], eps)
    for i in range(cfg["num_hidden_layers"]):
        q = f"{p}encoder.layer.{i}."

        def lin(v, name):
            return v @ w[q + name + ".weight"].T + w[q + name + ".bias"]

        Q = lin(x, "attention.self.query").view(T, nh, hd).transpose(0, 1)
        K = lin(x, "attention.self.key").view(T, nh, hd).transpose(0, 1)
        V = lin(x, "attention.self.value").view(T, nh, hd).transpose(0, 1)
        att = torch.softmax(Q @ K.transpose(1, 2) / math.sqrt(hd), dim=-1) @ V
        att = att.transpose(0, 1).reshape(T, H)
        a = layer_norm(x + lin(att, "attention.output.dense"), w[q + "attention.output.LayerNorm.weight"],
                       w[q + "attention.output.LayerNorm.bias"], eps)
        h = lin(a, "intermediate.dense")
        h = 0.5 * h * (1 + torch.erf(h / math.sqrt(2)))
        x = layer_norm(a + lin(h, "output.dense"), w[q + "output.LayerNorm.weight"], w[q + "output.LayerNorm.bias"], eps)
    return x


def golden(ckdir):
    with open(os.path.join(ckdir, "config.json")) as f:
        cfg = json.load(f)
    if "ForSequenceClassification" in cfg["architectures"][0]:
        return golden_classifier(ckdir, cfg)
    _, W, _ = safetensors_load(os.path.join(ckdir, "model.safetensors"))
    rng = np.random.default_rng(7)
    cases = []
    for T in PROMPT_LENGTHS:
        ids = [int(v) for v in rng.integers(3, cfg["vocab_size"], size=T)]
        x = forward(cfg, W, ids)
        cls, mean = x[0], x.mean(0)
        cases.append({
            "ids": ids,
            "hidden": x.tolist(),
            "cls": cls.tolist(),
            "mean": mean.tolist(),
            "cls_normalized": (cls / cls.norm()).tolist(),
            "mean_normalized": (mean / mean.norm()).tolist(),
        })
    with open(os.path.join(ckdir, "golden.json"), "w") as f:
        json.dump({"note": "float64 torch reference (encoder/testdata/reference.py)", "cases": cases}, f)


def golden_classifier(ckdir, cfg):
    _, W, _ = safetensors_load(os.path.join(ckdir, "model.safetensors"))
    w = {k: v.to(torch.float64) for k, v in W.items()}
    rng = np.random.default_rng(11)
    cases = []
    for qn, dn in ((3, 5), (1, 9), (6, 20)):
        # A query and a document as XLM-RoBERTa pairs them: <s> q </s></s> d </s>.
        q = [int(v) for v in rng.integers(4, cfg["vocab_size"], size=qn)]
        d = [int(v) for v in rng.integers(4, cfg["vocab_size"], size=dn)]
        if cfg["model_type"] == "bert":
            # [CLS] q [SEP] d [SEP], token types 0 throughout as Dokja runs it.
            ids = [2] + q + [3] + d + [3]
            x = forward(cfg, W, ids)
            h = torch.tanh(x[0] @ w["bert.pooler.dense.weight"].T + w["bert.pooler.dense.bias"])
            logits = h @ w["classifier.weight"].T + w["classifier.bias"]
        else:
            ids = [0] + q + [2, 2] + d + [2]
            x = forward(cfg, W, ids)
            h = torch.tanh(x[0] @ w["classifier.dense.weight"].T + w["classifier.dense.bias"])
            logits = h @ w["classifier.out_proj.weight"].T + w["classifier.out_proj.bias"]
        cases.append({"query": q, "document": d, "ids": ids, "logits": logits.tolist()})
    with open(os.path.join(ckdir, "golden.json"), "w") as f:
        json.dump({"note": "float64 torch reference (encoder/testdata/reference.py)", "cases": cases}, f)


def main(argv):
    if argv[:1] == ["all"]:
        for name in PRESETS:
            d = os.path.join(HERE, name)
            make(name, d)
            golden(d)
            print("wrote", d)
    elif argv[:1] == ["make"] and len(argv) >= 3:
        make(argv[1], argv[2], int(argv[4]) if len(argv) > 4 and argv[3] == "--seed" else 1)
    elif argv[:1] == ["golden"] and len(argv) == 2:
        golden(argv[1])
    elif argv[:1] == ["mlmgrad"] and len(argv) == 2:
        mlmgrad(argv[1])
    elif argv[:1] == ["contrastive"] and len(argv) == 2:
        contrastive(argv[1])
    elif argv[:1] == ["classifier"] and len(argv) == 3:
        classifier(argv[1], argv[2])
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
