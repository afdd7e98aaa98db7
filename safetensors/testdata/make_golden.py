#!/usr/bin/env python3
"""Builds golden.safetensors by hand, following the safetensors spec, and
golden.json with the values the Go test must read back.

Only the standard library and numpy are used (not the safetensors package):
  8-byte little-endian header length N, N bytes of JSON, then the data.
The header keys are deliberately not sorted, the data are laid out in yet
another order, a one-byte hole is left between two tensors, and the header
is padded with spaces. Run from this folder:  python3 make_golden.py
"""
import json
import struct

import numpy as np

np.seterr(over="ignore")  # -1e300 and 1e6 overflow to infinity on purpose


def bf16_bits(values):
    """bfloat16 bits of values that are exactly representable in bfloat16
    (checked), so that no rounding is involved."""
    f = np.asarray(values, dtype="<f4")
    u = f.view("<u4")
    assert np.all(u & 0xFFFF == 0), "value not exact in bfloat16"
    return (u >> 16).astype("<u2")


tensors = {}  # name -> (dtype, shape, bytes)

f32 = np.array([[1.5, -2.25, 3.0], [0.1, 1e-40, -0.0]], dtype="<f4")  # 1e-40: f32 subnormal
tensors["model.embed_tokens.weight"] = ("F32", list(f32.shape), f32.tobytes())

f16 = np.array([1.0, -2.0, 65504.0, 6.103515625e-05, 5.960464477539063e-08,
                np.inf, -np.inf, 0.333251953125], dtype="<f2")
tensors["model.layers.0.mlp.up_proj.weight"] = ("F16", [2, 4], f16.tobytes())

bf = bf16_bits([1.0, -3.5, 0.15625, 3.3895313892515355e38, 9.183549615799121e-41, -0.0])
tensors["model.layers.0.self_attn.q_proj.weight"] = ("BF16", [3, 2], bf.tobytes())

f64 = np.array([3.141592653589793, -1e300, 1e-50, 2.5], dtype="<f8")
tensors["lm_head.bias"] = ("F64", [4], f64.tobytes())

i64 = np.array([-9223372036854775808, 9223372036854775807, 42], dtype="<i8")
tensors["position_ids"] = ("I64", [1, 3], i64.tobytes())

i32 = np.array([-1, 2147483647, 7, 0], dtype="<i4")
tensors["ints.i32"] = ("I32", [2, 2], i32.tobytes())

u8 = np.array([0, 1, 254, 255, 128], dtype="u1")
tensors["bytes.u8"] = ("U8", [5], u8.tobytes())

bools = np.array([True, False, True], dtype="?")
tensors["mask"] = ("BOOL", [3], bools.tobytes())

scalar = np.array(0.5, dtype="<f4")
tensors["scale"] = ("F32", [], scalar.tobytes())

empty = np.zeros((0, 3), dtype="<f4")
tensors["empty"] = ("F32", [0, 3], empty.tobytes())

# Data layout order: neither the header order nor sorted order.
layout = ["mask", "lm_head.bias", "model.layers.0.mlp.up_proj.weight", "scale",
          "empty", "position_ids", "model.embed_tokens.weight", "ints.i32",
          "bytes.u8", "model.layers.0.self_attn.q_proj.weight"]
offsets = {}
data = b""
for name in layout:
    if name == "ints.i32":
        data += b"\xee"  # a hole: allowed, not covered by any tensor
    offsets[name] = (len(data), len(data) + len(tensors[name][2]))
    data += tensors[name][2]

# Header order: reverse sorted, with __metadata__ in the middle.
header = {}
names = sorted(tensors, reverse=True)
for i, name in enumerate(names):
    if i == 4:
        header["__metadata__"] = {"format": "pt", "note": "golden file, made by hand"}
    dtype, shape, _ = tensors[name]
    header[name] = {"dtype": dtype, "shape": shape, "data_offsets": list(offsets[name])}
header_bytes = json.dumps(header).encode("utf-8")
header_bytes += b" " * (8 - len(header_bytes) % 8 + 3)  # padding, not a multiple of 8 on purpose

with open("golden.safetensors", "wb") as out:
    out.write(struct.pack("<Q", len(header_bytes)))
    out.write(header_bytes)
    out.write(data)


def f32_bits(values):
    return [int(x) for x in np.asarray(values, dtype="<f4").ravel().view("<u4")]


# Expected values: float tensors as float32 bit patterns (JSON has no NaN
# or infinity), converted by numpy (f16->f32 and f64->f32 with numpy's
# own rounding); integer tensors as numbers.
expected = {
    "metadata": {"format": "pt", "note": "golden file, made by hand"},
    "names": sorted(tensors),
    "tensors": {},
}
for name, (dtype, shape, raw) in tensors.items():
    e = {"dtype": dtype, "shape": shape, "data_offsets": list(offsets[name])}
    if dtype == "F32":
        e["f32_bits"] = f32_bits(np.frombuffer(raw, "<f4"))
    elif dtype == "F16":
        e["f32_bits"] = f32_bits(np.frombuffer(raw, "<f2").astype("<f4"))
    elif dtype == "BF16":
        u = np.frombuffer(raw, "<u2").astype("<u4") << 16
        e["f32_bits"] = [int(x) for x in u]
    elif dtype == "F64":
        e["f32_bits"] = f32_bits(np.frombuffer(raw, "<f8").astype("<f4"))
    elif dtype == "I64":
        e["ints"] = [int(x) for x in np.frombuffer(raw, "<i8")]
    elif dtype == "I32":
        e["ints"] = [int(x) for x in np.frombuffer(raw, "<i4")]
    elif dtype in ("U8", "BOOL"):
        e["ints"] = [int(x) for x in np.frombuffer(raw, "u1")]
    expected["tensors"][name] = e

# numpy's float32 -> float16 rounding (round to nearest, ties to even) on
# tricky inputs, to compare with Float32ToFloat16.
probe = np.array([
    0.0, -0.0, 1.0, 65504.0, 65519.99, 65520.0, 1e6, -1e6,
    1.0 + 2.0**-11, 1.0 + 3 * 2.0**-11, 1.0 + 2.0**-11 + 2.0**-20,
    2.0**-24, 2.0**-25, 2.0**-25 + 2.0**-40, 3 * 2.0**-25, 2.0**-26,
    2.0**-14, 2.0**-14 - 2.0**-25, 6.0975552e-05, 1e-8, 0.1, -0.3, 3.14159,
    1e-45, np.inf, -np.inf,
], dtype="<f4")
rng = np.random.default_rng(1)
probe = np.concatenate([probe, (rng.standard_normal(200) * 10.0 ** rng.integers(-9, 6, 200)).astype("<f4")])
expected["f16_rounding"] = [[int(b), int(h)] for b, h in
                            zip(probe.view("<u4"), probe.astype("<f2").view("<u2"))]

with open("golden.json", "w") as out:
    json.dump(expected, out, sort_keys=True)
    out.write("\n")
