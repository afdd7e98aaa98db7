#!/usr/bin/env python3
"""Training goldens (loss, gradients, AdamW steps) for the Dokja Go trainer.

Reads the three tiny checkpoints written by reference.py (tiny-llama, tiny-qwen2,
tiny-llama-mha: config.json + model.safetensors) and writes train_golden.json next to
each. Plain torch ops and torch autograd; the safetensors reader, the RMSNorm / RoPE /
linear helpers and (for a cross-check) the single-sequence forward come from
reference.py. The existing config.json / model.safetensors / golden.json are only read.

Run with Debian's interpreter (python3-torch 1.13, numpy), from anywhere:

    /usr/bin/python3 model/testdata/train_reference.py            # all three presets
    /usr/bin/python3 model/testdata/train_reference.py tiny-qwen2 # just one

See CONVENTIONS below (also stored in every train_golden.json) and the README section
"Training goldens".
"""

import json
import math
import os
import re
import sys

sys.dont_write_bytecode = True  # importing reference.py must not leave __pycache__ here

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import reference as ref  # noqa: E402  (also sets torch threads to <= 2)

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

PRESET_NAMES = ("tiny-llama", "tiny-qwen2", "tiny-llama-mha", "tiny-qwen3", "tiny-llama31", "tiny-qwen25-yarn",
                "tiny-llama-linear", "tiny-llama-dynamic", "tiny-mistral", "tiny-exaone", "tiny-exaone4", "tiny-gemma3",
                "tiny-granite", "tiny-hyperclovax")
SEP = 3
B, T = 2, 12

ADAMW = dict(
    steps=6, max_lr=1e-2, min_lr=1e-3, warmup_steps=2, total_steps=6,
    beta1=0.9, beta2=0.95, eps=1e-8, weight_decay=0.1, max_grad_norm=1.0, clip_eps=1e-6,
)

# Absolute tolerances for a float32 implementation: about 5-10x the measured torch
# float32-vs-float64 differences and well below the smallest injected bug (see README).
SUGGESTED_ATOL = {
    "batch.loss": 1e-5, "batch.token_losses": 1e-5, "batch.logits": 1e-5, "batch.grads": 1e-6,
    "batch.grad_norm": 1e-5, "batch.no_sep.loss": 1e-5, "batch.no_sep.grad_norm": 1e-5,
    "adamw.loss": 1e-5, "adamw.grad_norm": 1e-5, "adamw.final_weights": 1e-4,
    "adamw.final_sum": 2e-3, "adamw.final_sumsq": 3e-4,
}

CONVENTIONS = """\
Batch: B rows of T+1 token ids ("windows"); inputs = window[:T], targets = window[1:].
Segments: in each row a new document (segment) starts at t=0 and at every t with inputs[t] == sep \
(the separator is the FIRST token of its document; sep = -1 means no separator, one segment per row). \
With s(t) = start of the segment holding t: RoPE position id = t - s(t) (positions restart at 0 in \
every document) and position t attends exactly to u with s(t) <= u <= t (block-diagonal causal mask, \
no attention across documents). position_ids and segment_starts are stored per row.
Forward: the HF Llama/Qwen2 forward of reference.py, batched: x = embed[inputs]; per layer \
h = x + o_proj(attn(rmsnorm(x))), x = h + down(silu(gate(n)) * up(n)), n = rmsnorm(h); \
logits = rmsnorm_final(x) @ head^T. RMSNorm x*rsqrt(mean(x^2)+eps)*w; RoPE rotate_half (pairs j, j+hd/2), \
inv_freq[j] = 1/theta^(2j/hd), angle = pos*inv_freq[j] in float32; GQA query head h -> kv head h/(Hq/Hkv); \
scores q.k/sqrt(hd); biases per config; tied embeddings: head = model.embed_tokens.weight.
Loss: mean over all B*T positions of cross_entropy(logits[b][t], targets[b][t]) = logsumexp(logits) - \
logits[target]; every position counts (targets equal to sep too). token_losses[b][t] are the per-position terms.
Gradients: d loss / d parameter for every tensor of model.safetensors, keyed by its HF name, flattened \
row-major (same layout as the safetensors tensor). With tie_word_embeddings there is only \
model.embed_tokens.weight and its gradient is the sum of the embedding-lookup and the output-head parts. \
grad_norm = sqrt(sum over all tensors of sum(g^2)) (global L2 norm, every parameter counted once).
LR schedule (0-based step s): s < warmup: lr = max_lr*(s+1)/warmup; else p = (s-warmup)/(total-warmup), \
lr = min_lr + 0.5*(max_lr-min_lr)*(1+cos(pi*p)).
Each AdamW step s: forward/backward on windows[s] at the current weights (loss[s], grad_norm[s] are \
recorded before any change); clip: coef = min(1, max_norm/(grad_norm + 1e-6)), g *= coef (always \
multiplied, as torch.nn.utils.clip_grad_norm_); then torch.optim.AdamW (foreach=False, amsgrad=False) \
with k = s+1: p *= (1 - lr*wd_p); m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g*g; \
p -= (lr/(1-b1^k)) * m / (sqrt(v)/sqrt(1-b2^k) + eps). wd_p = weight_decay for tensors with ndim >= 2 \
(embedding, lm_head, all projection matrices), 0 for norms and biases. m, v start at 0.
Note: with RoPE and this mask, resetting the positions is mathematically a no-op (scores depend only on \
t - u inside a document); it changes results only by float rounding (~1e-7), so no golden can detect a \
missing reset. The mask itself and the sep-starts-a-document rule are clearly detected.
Numbers: float32 computation (the golden). Float32 results (logits, token_losses, loss, grads, grad_norm, \
final_weights) are written as the shortest decimal that rounds back to the same float32 (<= 9 significant \
digits), so parsing and rounding to float32 gives torch's exact bits. final_sum / final_sumsq are float64 \
sums of the float32 final tensors (12 significant digits); lr and clip_coef are float64. The same \
computations in float64 (weights converted from the float32 checkpoint; RoPE tables in float64) are \
stored under "float64" keys with the f32-vs-f64 differences, to size the tolerances; so are, under \
"perturbed_1e-7", the largest differences of three float32 AdamW runs started from weights moved by a \
relative 1e-7 (how much this trajectory amplifies rounding)."""


def f32(x):
    """A float32 value as the python float of its shortest round-trip decimal (at most 9
    significant digits): json writes e.g. 0.0123 instead of 0.012299999594688416, and
    parsing it back and rounding to float32 gives the exact float32 bits again."""
    x = np.float32(x)
    if not np.isfinite(x):
        return float(x)
    return float(np.format_float_scientific(x, unique=True))


def flat(t):
    return [f32(v) for v in t.detach().reshape(-1).numpy().astype(np.float32)]


def nested(t):
    t = t.detach()
    return [nested(s) for s in t] if t.dim() > 1 else flat(t)


def r12(x):
    """float64 diagnostics: 12 significant digits are plenty."""
    x = float(x)
    return x if x == 0.0 or not math.isfinite(x) else float("%.12g" % x)


def dump_json(obj, path):
    text = json.dumps(obj, separators=(",", ":"))
    text = re.sub(r"(?<=[0-9])e-0(?=[0-9])", "e-", text)  # 1.5e-05 -> 1.5e-5 (valid JSON, shorter)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text + "\n")
    os.replace(tmp, path)


# --------------------------------------------------------------------------------------
# Segments and the batched, segment-masked forward
# --------------------------------------------------------------------------------------

def segments(inputs, sep, bug=None):
    """inputs [B, T] long -> (segment_starts [B, T], position_ids [B, T]) as long tensors."""
    Bn, Tn = inputs.shape
    starts = torch.zeros(Bn, Tn, dtype=torch.long)
    for b in range(Bn):
        s = 0
        for t in range(Tn):
            if bug == "sep_ends_document":  # wrong convention: the separator closes a document
                if t > 0 and int(inputs[b, t - 1]) == sep:
                    s = t
            elif t > 0 and int(inputs[b, t]) == sep:
                s = t
            starts[b, t] = s
    pos = torch.arange(Tn).unsqueeze(0) - starts
    return starts, pos


def train_forward(d, W, inputs, sep, dtype, bug=None):
    """Segment-masked forward. W: {hf name: tensor of `dtype`}; returns logits [B, T, V].

    `bug` injects a mistake for the sensitivity table: 'no_position_reset',
    'no_segment_mask', 'sep_ends_document', 'tied_head_grad_missing'."""
    Bn, Tn = inputs.shape
    starts, pos = segments(inputs, sep, bug)
    if bug == "no_position_reset":
        pos = torch.arange(Tn).unsqueeze(0).expand(Bn, Tn)
    if bug == "no_segment_mask":
        starts = torch.zeros_like(starts)
    cos_t, sin_t = ref.rope_cos_sin(d, Tn, dtype)           # [T, hd] for positions 0..T-1
    cos, sin = cos_t[pos].unsqueeze(1), sin_t[pos].unsqueeze(1)  # [B, 1, T, hd]
    if any(d.local):  # Gemma 3's sliding layers: the local base, unscaled
        import copy
        dl = copy.copy(d)
        dl.theta, dl.rope_scaling = d.local_theta, None
        cl_t, sl_t = ref.rope_cos_sin(dl, Tn, dtype)
        cos_l, sin_l = cl_t[pos].unsqueeze(1), sl_t[pos].unsqueeze(1)

    def norm(v, w):
        return ref.rms_norm(v, w + d.norm_offset, d.eps)
    u = torch.arange(Tn)
    allowed = (u[None, None, :] <= u[None, :, None]) & (u[None, None, :] >= starts[:, :, None])  # [B, T, T]

    def blocked(i):  # [B, 1, T, T]; a sliding window of w keeps keys u > t - w
        w = d.window[i]
        a = allowed if w is None else allowed & (u[None, None, :] > u[None, :, None] - w)
        return ~a.unsqueeze(1)
    scale = d.attn_scale
    idx = torch.arange(d.Hq) // d.group

    x = W["model.embed_tokens.weight"][inputs]               # [B, T, D]
    if d.embed_scale is not None:
        x = x * torch.tensor(d.embed_scale, dtype=torch.float32).to(dtype)
    for i in range(d.L):
        p = "model.layers.%d." % i
        h = norm(x, W[p + "input_layernorm.weight"]) if d.pre_norms else x
        q = ref.linear(h, W, p + "self_attn.q_proj").view(Bn, Tn, d.Hq, d.hd).transpose(1, 2)
        k = ref.linear(h, W, p + "self_attn.k_proj").view(Bn, Tn, d.Hkv, d.hd).transpose(1, 2)
        v = ref.linear(h, W, p + "self_attn.v_proj").view(Bn, Tn, d.Hkv, d.hd).transpose(1, 2)
        if d.qk_norm:  # Qwen3: per-head RMSNorm before RoPE
            q = norm(q, W[p + "self_attn.q_norm.weight"])
            k = norm(k, W[p + "self_attn.k_norm.weight"])
        if d.local[i]:
            q = q * cos_l + ref.rotate_half(q) * sin_l
            k = k * cos_l + ref.rotate_half(k) * sin_l
        elif d.rope[i]:
            q = q * cos + ref.rotate_half(q) * sin
            k = k * cos + ref.rotate_half(k) * sin
        k, v = k[:, idx], v[:, idx]                           # [B, Hq, T, hd]
        scores = (q @ k.transpose(-1, -2)) * scale
        scores = scores.masked_fill(blocked(i), float("-inf"))
        probs = torch.softmax(scores, dim=-1)
        attn = (probs @ v).transpose(1, 2).reshape(Bn, Tn, d.Hq * d.hd)
        o = ref.linear(attn, W, p + "self_attn.o_proj")
        if d.sandwich:  # Gemma 3: norms before and after each sublayer
            x = x + norm(o, W[p + "post_attention_layernorm.weight"])
            h = norm(x, W[p + "pre_feedforward_layernorm.weight"])
        elif d.post_norms:  # EXAONE 4: norms after the sublayers, none before
            x = x + norm(o, W[p + "post_attention_layernorm.weight"])
            h = x
        else:
            if d.hcx_post:  # HyperCLOVA X: post_norm1 on the attention output
                o = norm(o, W[p + "post_norm1.weight"])
            x = x + o * d.res_mult
            h = norm(x, W[p + "post_attention_layernorm.weight"])
        g = ref.linear(h, W, p + "mlp.gate_proj")
        up = ref.linear(h, W, p + "mlp.up_proj")
        a = torch.nn.functional.gelu(g, approximate="tanh") if d.act == "gelu_pytorch_tanh" else torch.nn.functional.silu(g)
        m = ref.linear(a * up, W, p + "mlp.down_proj")
        if d.post_norms:
            x = x + norm(m, W[p + "post_feedforward_layernorm.weight"])
        else:
            if d.hcx_post:
                m = norm(m, W[p + "post_norm2.weight"])
            x = x + m * d.res_mult
    x = norm(x, W["model.norm.weight"])
    head = W["model.embed_tokens.weight"] if d.tied else W["lm_head.weight"]
    if bug == "tied_head_grad_missing":
        head = head.detach()
    return (x @ head.t()) * d.logit_mult


def leaf_params(tensors, dtype):
    return {k: v.detach().to(dtype).clone().requires_grad_(True) for k, v in sorted(tensors.items())}


def global_norm(grads):
    """As clip_grad_norm_: L2 norm of the per-tensor L2 norms (in the grads' dtype)."""
    return torch.norm(torch.stack([torch.norm(g.detach(), 2.0) for g in grads]), 2.0)


def loss_and_grads(d, tensors, windows, sep, dtype, bug=None):
    W = leaf_params(tensors, dtype)
    inputs, targets = windows[:, :-1], windows[:, 1:]
    logits = train_forward(d, W, inputs, sep, dtype, bug)
    tok = torch.nn.functional.cross_entropy(logits.reshape(-1, d.V), targets.reshape(-1), reduction="none")
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, d.V), targets.reshape(-1))
    loss.backward()
    grads = {k: w.grad.detach() for k, w in W.items()}
    gn = global_norm(list(grads.values())).item()
    return dict(loss=loss.item(), grads=grads, grad_norm=gn, logits=logits.detach(),
                token_losses=tok.detach().view(windows.shape[0], -1))


# --------------------------------------------------------------------------------------
# Batches
# --------------------------------------------------------------------------------------

def random_ids(g, V, shape, sep):
    ids = torch.randint(0, V, shape, generator=g)
    ids[ids == sep] = (sep + 1) % V  # separators only where planted
    return ids


def main_batch(d, seed):
    g = torch.Generator().manual_seed(seed * 1000 + 17)
    w = random_ids(g, d.V, (B, T + 1), SEP)
    # row 0: separator at t=0 (a document starting with the separator) and at t=6 -> 2 documents;
    #        the target at t=5 is the separator.
    w[0, 0] = SEP
    w[0, 6] = SEP
    # row 1: documents [0,4), [4,11), [11,12): the last input position (t=T-1) is a separator.
    w[1, 4] = SEP
    w[1, T - 1] = SEP
    # edge token ids
    w[0, 2] = 0
    w[1, 7] = d.V - 1
    return w


def adamw_batches(d, seed):
    out = []
    for s in range(ADAMW["steps"]):
        g = torch.Generator().manual_seed(seed * 1000 + 100 + s)
        w = random_ids(g, d.V, (B, T + 1), SEP)
        plant = torch.rand((B, T + 1), generator=g) < 0.15
        w[plant] = SEP
        out.append(w)
    return out


def lr_at(s):
    a = ADAMW
    if s < a["warmup_steps"]:
        return a["max_lr"] * (s + 1) / a["warmup_steps"]
    p = (s - a["warmup_steps"]) / (a["total_steps"] - a["warmup_steps"])
    return a["min_lr"] + 0.5 * (a["max_lr"] - a["min_lr"]) * (1.0 + math.cos(math.pi * p))


# --------------------------------------------------------------------------------------
# AdamW run (torch.optim.AdamW + clip_grad_norm_), and a hand-written twin for the check
# --------------------------------------------------------------------------------------

def run_adamw(d, tensors, batches, dtype):
    W = leaf_params(tensors, dtype)
    names = list(W)
    decay = [n for n in names if W[n].dim() >= 2]
    no_decay = [n for n in names if W[n].dim() < 2]
    a = ADAMW
    opt = torch.optim.AdamW(
        [{"params": [W[n] for n in decay], "weight_decay": a["weight_decay"]},
         {"params": [W[n] for n in no_decay], "weight_decay": 0.0}],
        lr=a["max_lr"], betas=(a["beta1"], a["beta2"]), eps=a["eps"], foreach=False)
    rec = dict(lr=[], loss=[], grad_norm=[], clip_coef=[])
    for s, win in enumerate(batches):
        lr = lr_at(s)
        for grp in opt.param_groups:
            grp["lr"] = lr
        opt.zero_grad(set_to_none=True)
        inputs, targets = win[:, :-1], win[:, 1:]
        logits = train_forward(d, W, inputs, SEP, dtype)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, d.V), targets.reshape(-1))
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_([W[n] for n in names], a["max_grad_norm"])
        rec["lr"].append(lr)
        rec["loss"].append(loss.item())
        rec["grad_norm"].append(gn.item())
        rec["clip_coef"].append(min(1.0, a["max_grad_norm"] / (gn.item() + a["clip_eps"])))
        opt.step()
    return rec, {n: w.detach().clone() for n, w in W.items()}, decay, no_decay


ADAMW_BUGS = ("decay_all_params", "no_bias_correction", "eps_inside_sqrt", "no_clipping",
              "lr_schedule_off_by_one", "decay_not_scaled_by_lr", "decay_after_update")


def run_adamw_by_hand(d, tensors, batches, bug=None):
    """float64 AdamW written out from the CONVENTIONS formula (no torch.optim), to check
    them; `bug` (one of ADAMW_BUGS) injects a mistake for the sensitivity table.
    Returns (final weights, per-step losses)."""
    a = ADAMW
    W = leaf_params(tensors, torch.float64)
    m = {n: torch.zeros_like(w) for n, w in W.items()}
    v = {n: torch.zeros_like(w) for n, w in W.items()}
    losses = []
    for s, win in enumerate(batches):
        lr, k = lr_at(s + 1 if bug == "lr_schedule_off_by_one" else s), s + 1
        for w in W.values():
            w.grad = None
        logits = train_forward(d, W, win[:, :-1], SEP, torch.float64)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, d.V), win[:, 1:].reshape(-1))
        loss.backward()
        losses.append(loss.item())
        gn = math.sqrt(sum(float((w.grad ** 2).sum()) for w in W.values()))
        coef = min(1.0, a["max_grad_norm"] / (gn + a["clip_eps"]))
        if bug == "no_clipping":
            coef = 1.0
        bc1, bc2 = 1 - a["beta1"] ** k, 1 - a["beta2"] ** k
        if bug == "no_bias_correction":
            bc1 = bc2 = 1.0
        with torch.no_grad():
            for n, w in W.items():
                g = w.grad * coef
                wd = a["weight_decay"] if (w.dim() >= 2 or bug == "decay_all_params") else 0.0
                decay = 1.0 - (wd if bug == "decay_not_scaled_by_lr" else lr * wd)
                if bug != "decay_after_update":
                    w.mul_(decay)
                m[n] = a["beta1"] * m[n] + (1 - a["beta1"]) * g
                v[n] = a["beta2"] * v[n] + (1 - a["beta2"]) * g * g
                if bug == "eps_inside_sqrt":
                    denom = (v[n] / bc2 + a["eps"]).sqrt()
                else:
                    denom = v[n].sqrt() / math.sqrt(bc2) + a["eps"]
                w.sub_((lr / bc1) * m[n] / denom)
                if bug == "decay_after_update":
                    w.mul_(decay)
    return {n: w.detach() for n, w in W.items()}, losses


# --------------------------------------------------------------------------------------
# Cross-checks
# --------------------------------------------------------------------------------------

def check_vs_golden_logits(d, tensors, ckdir):
    """train_forward with no separator, B=1, must reproduce golden.json (reference.py)."""
    with open(os.path.join(ckdir, "golden.json")) as f:
        gold = json.load(f)
    W = {k: v for k, v in tensors.items()}
    worst = 0.0
    with torch.no_grad():
        for ids, lg in zip(gold["prompts"], gold["logits"]):
            out = train_forward(d, W, torch.tensor([ids]), -1, torch.float32)[0]
            worst = max(worst, (out.double() - torch.tensor(lg, dtype=torch.float64)).abs().max().item())
    return worst


def check_documents_separately(d, tensors, windows, sep, batch64):
    """Loss and gradients of the separator batch, recomputed in float64 by running every
    document as its own sequence through reference.py's plain causal forward
    (positions from 0), summing the per-token cross-entropies and dividing by B*T."""
    W = leaf_params(tensors, torch.float64)
    fwd = ref.forward_batched.__wrapped__  # the same function without its @torch.no_grad()
    inputs, targets = windows[:, :-1], windows[:, 1:]
    starts, _ = segments(inputs, sep)
    total = 0.0
    ndocs = []
    logit_diff = 0.0
    for b in range(inputs.shape[0]):
        bounds = sorted(set(starts[b].tolist())) + [inputs.shape[1]]
        ndocs.append(len(bounds) - 1)
        for s, e in zip(bounds[:-1], bounds[1:]):
            lg = fwd(d, W, inputs[b, s:e].tolist(), torch.float64)
            logit_diff = max(logit_diff, (lg.detach() - batch64["logits"][b, s:e]).abs().max().item())
            total = total + torch.nn.functional.cross_entropy(lg, targets[b, s:e], reduction="sum")
    loss = total / inputs.numel()
    loss.backward()
    gdiff = max((W[n].grad - batch64["grads"][n]).abs().max().item() for n in W)
    return dict(documents_per_row=ndocs, max_abs_diff_logits=logit_diff,
                abs_diff_loss=abs(loss.item() - batch64["loss"]), max_abs_diff_grads=gdiff)


# --------------------------------------------------------------------------------------
# Per preset
# --------------------------------------------------------------------------------------

def sum_sq(t):
    t = t.detach().double()
    return float(t.sum()), float((t * t).sum())


def make_train_golden(name):
    ckdir = os.path.join(HERE, name)
    cfg, d, tensors = ref.load_checkpoint(ckdir)
    seed = ref.PRESETS[name]["seed"]
    names = sorted(tensors)
    nparams = sum(t.numel() for t in tensors.values())

    # 1. one batch with separators
    win = main_batch(d, seed)
    inputs = win[:, :-1]
    starts, pos = segments(inputs, SEP)
    r32 = loss_and_grads(d, tensors, win, SEP, torch.float32)
    r64 = loss_and_grads(d, tensors, win, SEP, torch.float64)
    per_tensor = {n: (r32["grads"][n].double() - r64["grads"][n]).abs().max().item() for n in names}
    max_grad_diff = max(per_tensor.values())
    max_abs_grad = max(r64["grads"][n].abs().max().item() for n in names)
    rel_grad_diff = max((r32["grads"][n].double() - r64["grads"][n]).abs().max().item()
                        / max(r64["grads"][n].abs().max().item(), 1e-30) for n in names)

    # 2. the same windows without a separator (sep = -1): plain causal rows
    n32 = loss_and_grads(d, tensors, win, -1, torch.float32)
    n64 = loss_and_grads(d, tensors, win, -1, torch.float64)

    # 3. AdamW
    batches = adamw_batches(d, seed)
    rec32, fin32, decay, no_decay = run_adamw(d, tensors, batches, torch.float32)
    rec64, fin64, _, _ = run_adamw(d, tensors, batches, torch.float64)
    # Chaos: the same float32 run from weights moved by 1e-7 (relative, about
    # a float32 rounding), three times. Where a trajectory amplifies rounding
    # (Adam's m/sqrt(v) on gradients near zero), any other float32
    # implementation parts from this one by about as much; the Go test
    # sizes its tolerance with it.
    pert = {"loss": 0.0, "grad_norm": 0.0, "final_weights": 0.0, "final_sum": 0.0}
    for k in range(3):
        g = torch.Generator().manual_seed(k)
        moved_in = {n: (v.double() * (1 + 1e-7 * torch.randn(v.shape, generator=g, dtype=torch.float64))).float()
                    for n, v in tensors.items()}
        rp, fp, _, _ = run_adamw(d, moved_in, batches, torch.float32)
        pert["loss"] = max(pert["loss"], max(abs(a - b) for a, b in zip(rp["loss"], rec32["loss"])))
        pert["grad_norm"] = max(pert["grad_norm"], max(abs(a - b) for a, b in zip(rp["grad_norm"], rec32["grad_norm"])))
        pert["final_weights"] = max(pert["final_weights"], max((fp[n] - fin32[n]).abs().max().item() for n in names))
        pert["final_sum"] = max(pert["final_sum"], max(abs(fp[n].double().sum().item() - fin32[n].double().sum().item()) for n in names))
    hand64, _ = run_adamw_by_hand(d, tensors, batches)
    hand_diff = max((hand64[n] - fin64[n]).abs().max().item() for n in names)
    fin_diff = {n: (fin32[n].double() - fin64[n]).abs().max().item() for n in names}
    moved = {n: (fin64[n] - tensors[n].double()).abs().max().item() for n in names}

    show = ["model.norm.weight", "model.layers.0.self_attn.q_proj.weight"]
    if "model.layers.0.self_attn.q_proj.bias" in tensors:
        show.append("model.layers.0.self_attn.q_proj.bias")
    final_sum, final_sumsq, sum64, sumsq64 = {}, {}, {}, {}
    for n in names:
        final_sum[n], final_sumsq[n] = (r12(x) for x in sum_sq(fin32[n]))
        sum64[n], sumsq64[n] = (r12(x) for x in sum_sq(fin64[n]))
    sum_diff = max(abs(final_sum[n] - sum64[n]) for n in names)
    sumsq_diff = max(abs(final_sumsq[n] - sumsq64[n]) for n in names)

    # Bug sensitivity: how far each injected mistake moves the goldens (float32 batch;
    # float64 AdamW by hand vs torch.optim float64), to compare with the f32-vs-f64 noise.
    fwd_bugs = ["no_position_reset", "no_segment_mask", "sep_ends_document"]
    if d.tied:
        fwd_bugs.append("tied_head_grad_missing")
    sens_batch = {}
    for bug in fwd_bugs:
        rb = loss_and_grads(d, tensors, win, SEP, torch.float32, bug)
        sens_batch[bug] = {
            "abs_diff_loss": abs(rb["loss"] - r32["loss"]),
            "max_abs_diff_grads": max((rb["grads"][n] - r32["grads"][n]).abs().max().item() for n in names),
            "abs_diff_grad_norm": abs(rb["grad_norm"] - r32["grad_norm"]),
        }
    sens_batch["no_sep"] = {
        "abs_diff_loss": abs(n32["loss"] - r32["loss"]),
        "max_abs_diff_grads": max((n32["grads"][n] - r32["grads"][n]).abs().max().item() for n in names),
        "abs_diff_grad_norm": abs(n32["grad_norm"] - r32["grad_norm"]),
    }
    sens_adamw = {}
    for bug in ADAMW_BUGS:
        fb, lb = run_adamw_by_hand(d, tensors, batches, bug)
        sens_adamw[bug] = {
            "max_abs_diff_loss": max(abs(x - y) for x, y in zip(lb, rec64["loss"])),
            "max_abs_diff_final_weights": max((fb[n] - fin64[n]).abs().max().item() for n in names),
            "max_abs_diff_final_sum": max(abs(sum_sq(fb[n])[0] - sum64[n]) for n in names),
        }

    # Checks
    golden_diff = check_vs_golden_logits(d, tensors, ckdir)
    docs = check_documents_separately(d, tensors, win, SEP, r64)
    # float64: the per-row causal forward (sep=-1) must equal reference.py's forward too
    with torch.no_grad():
        ns64 = max((ref.forward_batched(d, tensors, inputs[b].tolist(), torch.float64)
                    - n64["logits"][b]).abs().max().item() for b in range(B))

    out = {
        "format": "dokja-train-golden-v1",
        "preset": name,
        "conventions": CONVENTIONS,
        "dtype": "float32",
        "num_params": nparams,
        "param_shapes": {n: list(tensors[n].shape) for n in names},
        "batch": {
            "sep": SEP,
            "B": B,
            "T": T,
            "windows": win.tolist(),
            "inputs": inputs.tolist(),
            "targets": win[:, 1:].tolist(),
            "segment_starts": starts.tolist(),
            "position_ids": pos.tolist(),
            "loss": f32(r32["loss"]),
            "token_losses": nested(r32["token_losses"]),
            "logits": nested(r32["logits"]),
            "grad_norm": f32(r32["grad_norm"]),
            "grads": {n: flat(r32["grads"][n]) for n in names},
            "float64": {
                "loss": r64["loss"],
                "grad_norm": r64["grad_norm"],
                "abs_diff_loss_f32_vs_f64": abs(r32["loss"] - r64["loss"]),
                "abs_diff_grad_norm_f32_vs_f64": abs(r32["grad_norm"] - r64["grad_norm"]),
                "max_abs_diff_logits_f32_vs_f64": (r32["logits"].double() - r64["logits"]).abs().max().item(),
                "max_abs_diff_grads_f32_vs_f64": max_grad_diff,
                "max_abs_diff_grads_f32_vs_f64_per_tensor": per_tensor,
                "max_rel_diff_grads_f32_vs_f64": rel_grad_diff,
                "max_abs_grad": max_abs_grad,
            },
            "no_sep": {
                "sep": -1,
                "loss": f32(n32["loss"]),
                "grad_norm": f32(n32["grad_norm"]),
                "float64": {"loss": n64["loss"], "grad_norm": n64["grad_norm"]},
            },
        },
        "adamw": {
            "steps": ADAMW["steps"],
            "B": B,
            "T": T,
            "sep": SEP,
            "max_lr": ADAMW["max_lr"],
            "min_lr": ADAMW["min_lr"],
            "warmup_steps": ADAMW["warmup_steps"],
            "total_steps": ADAMW["total_steps"],
            "betas": [ADAMW["beta1"], ADAMW["beta2"]],
            "eps": ADAMW["eps"],
            "weight_decay": ADAMW["weight_decay"],
            "max_grad_norm": ADAMW["max_grad_norm"],
            "decay_params": decay,
            "no_decay_params": no_decay,
            "windows": [w.tolist() for w in batches],
            "lr": rec32["lr"],
            "loss": [f32(x) for x in rec32["loss"]],
            "grad_norm": [f32(x) for x in rec32["grad_norm"]],
            "clip_coef": [r12(x) for x in rec32["clip_coef"]],
            "final_weights": {n: flat(fin32[n]) for n in show},
            "final_sum": final_sum,
            "final_sumsq": final_sumsq,
            "float64": {
                "loss": rec64["loss"],
                "grad_norm": rec64["grad_norm"],
                "max_abs_diff_loss_f32_vs_f64": max(abs(a - b) for a, b in zip(rec32["loss"], rec64["loss"])),
                "max_abs_diff_grad_norm_f32_vs_f64": max(abs(a - b) for a, b in zip(rec32["grad_norm"], rec64["grad_norm"])),
                "max_abs_diff_final_weights_f32_vs_f64": max(fin_diff.values()),
                "max_abs_diff_final_weights_f32_vs_f64_per_tensor": fin_diff,
                "max_abs_change_of_weights_over_run": max(moved.values()),
                "final_sum": sum64,
                "final_sumsq": sumsq64,
                "max_abs_diff_final_sum_f32_vs_f64": sum_diff,
                "max_abs_diff_final_sumsq_f32_vs_f64": sumsq_diff,
            },
            "perturbed_1e-7": {"max_abs_diff_" + k: v for k, v in pert.items()},
        },
        "checks": {
            "max_abs_diff_train_forward_no_sep_vs_golden_json_logits_f32": golden_diff,
            "max_abs_diff_train_forward_no_sep_rows_vs_reference_forward_f64": ns64,
            "documents_one_by_one_through_reference_forward_f64": docs,
            "max_abs_diff_adamw_by_hand_vs_torch_optim_f64": hand_diff,
        },
        "suggested_atol": SUGGESTED_ATOL,
        "bug_sensitivity": {
            "batch_f32": sens_batch,
            "adamw_f64": sens_adamw,
        },
        "script": "train_reference.py",
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "seed": seed,
        "batch_seed": seed * 1000 + 17,
        "adamw_batch_seeds": [seed * 1000 + 100 + s for s in range(ADAMW["steps"])],
    }

    # Hard checks: the reference must agree with itself before we write anything.
    assert golden_diff < 1e-5, golden_diff
    assert ns64 < 1e-12, ns64
    assert docs["max_abs_diff_logits"] < 1e-12 and docs["abs_diff_loss"] < 1e-12, docs
    assert docs["max_abs_diff_grads"] < 1e-12, docs
    assert hand_diff < 1e-11, hand_diff  # float64 rounding over six steps (1.05e-12 seen on tiny-qwen25-yarn)
    assert docs["documents_per_row"][0] >= 2 and starts[1, T - 1] == T - 1

    path = os.path.join(ckdir, "train_golden.json")
    # Tensor names as the checkpoint spells them (EXAONE 3's differ from Llama's).
    def hf_names(o):
        if isinstance(o, dict):
            return {(ref.hf(d, k) if k in tensors else k): hf_names(v) for k, v in o.items()}
        if isinstance(o, list):
            return [ref.hf(d, v) if isinstance(v, str) and v in tensors else hf_names(v) for v in o]
        return o
    out = hf_names(out)
    dump_json(out, path)

    print("%s (%d params): wrote %s (%d bytes)" % (name, nparams, os.path.relpath(path), os.path.getsize(path)))
    print("  batch: docs/row %s  loss %.6f (no_sep %.6f)  grad_norm %.6f (no_sep %.6f)"
          % (docs["documents_per_row"], r32["loss"], n32["loss"], r32["grad_norm"], n32["grad_norm"]))
    print("  f32 vs f64: |loss| %.2e  max|grad| %.2e (rel %.2e, max|g| %.2e)  |grad_norm| %.2e"
          % (abs(r32["loss"] - r64["loss"]), max_grad_diff, rel_grad_diff, max_abs_grad,
             abs(r32["grad_norm"] - r64["grad_norm"])))
    print("  adamw lr   " + " ".join("%.6f" % x for x in rec32["lr"]))
    print("  adamw loss " + " ".join("%.6f" % x for x in rec32["loss"]))
    print("  adamw |g|  " + " ".join("%.4f" % x for x in rec32["grad_norm"]))
    worst = max(fin_diff, key=fin_diff.get)
    print("  adamw f32 vs f64: max|loss| %.2e  max|final w| %.2e in %s (weights moved up to %.2e)  |sum| %.2e |sumsq| %.2e"
          % (out["adamw"]["float64"]["max_abs_diff_loss_f32_vs_f64"], fin_diff[worst], worst, max(moved.values()),
             sum_diff, sumsq_diff))
    print("  checks: vs golden.json %.2e, docs one by one (f64) grads %.2e, AdamW by hand vs torch %.2e"
          % (golden_diff, docs["max_abs_diff_grads"], hand_diff))
    print("  bug sensitivity (batch: max|grad diff|): " +
          ", ".join("%s=%.1e" % (k, v["max_abs_diff_grads"]) for k, v in sens_batch.items()))
    print("  bug sensitivity (adamw: max|final w diff|): " +
          ", ".join("%s=%.1e" % (k, v["max_abs_diff_final_weights"]) for k, v in sens_adamw.items()))
    return out


def main(argv):
    names = argv or list(PRESET_NAMES)
    for n in names:
        if n not in PRESET_NAMES:
            raise SystemExit("unknown preset %r (want one of %s)" % (n, ", ".join(PRESET_NAMES)))
    for n in names:
        make_train_golden(n)


if __name__ == "__main__":
    main(sys.argv[1:])
