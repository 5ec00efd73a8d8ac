#!/usr/bin/env python3
"""Writes the tiny Llama test models under test-data/ and their float64 reference outputs.

Needs only python3 and numpy. The safetensors files are written by hand (no torch, no safetensors
package), so the Java reader is tested against an independent writer.

    python3 scripts/make_test_model.py            # writes test-data/tiny-llama, tiny-llama-bf16-sharded, tiny-llama-hd64
    python3 scripts/make_test_model.py --out DIR  # somewhere else

The weights are drawn from fixed seeds, so the weight files are byte-identical on every run. The logits
in reference.json come from numpy float64 matrix products; a different BLAS may change their last one or
two bits, never more.
"""

import argparse
import json
import os
import struct

import numpy as np

# Byte-level prompts: with vocab 256 every byte is its own token id, so a text prompt is its UTF-8 bytes.
PROMPTS = [
    "H",                                 # 1 token: only position 0, RoPE angle 0
    "Hello",                             # 5
    "The quick fox",                     # 13
    "Once upon a time, in a far land",   # 31
]
NEW_TOKENS = 16

# Logits closer than this at a greedy step could make a float32 implementation pick the other token; the
# script refuses to write such a reference rather than hand the Java tests a coin flip.
MIN_GREEDY_MARGIN = 1e-3


def tiny_config(tie_word_embeddings, head_dim=16, hidden=64, heads=4, intermediate=176):
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_act": "silu",
        "hidden_size": hidden,
        "intermediate_size": intermediate,
        "num_attention_heads": heads,
        "num_key_value_heads": 2,
        "head_dim": head_dim,
        "num_hidden_layers": 2,
        "vocab_size": 256,
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
        "rope_scaling": None,
        "max_position_embeddings": 256,
        "tie_word_embeddings": tie_word_embeddings,
        "attention_bias": False,
        "mlp_bias": False,
        "torch_dtype": "float32",
    }


# ---------------------------------------------------------------------------------------------- weights

def make_weights(cfg, seed, residual_gain=1.0):
    """Random weights in float64, scaled so that logits spread over several units (a clear argmax) while
    every activation stays O(1). residual_gain scales what each block adds to the residual stream (o_proj,
    down_proj). Returns an ordered dict name -> array in Hugging Face layout."""
    rng = np.random.default_rng(seed)
    h = cfg["hidden_size"]
    inter = cfg["intermediate_size"]
    heads = cfg["num_attention_heads"]
    kv = cfg["num_key_value_heads"]
    d = cfg["head_dim"]
    v = cfg["vocab_size"]

    def linear(out_f, in_f, gain=1.0):
        # std 1/sqrt(fan_in): unit-variance inputs give unit-variance outputs
        return rng.standard_normal((out_f, in_f)) * (gain / np.sqrt(in_f))

    def norm(n):
        # not all ones, so a reader that ignores the norm weight fails the tests
        return 1.0 + 0.2 * rng.standard_normal(n)

    w = {}
    w["model.embed_tokens.weight"] = rng.standard_normal((v, h))
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        w[p + "input_layernorm.weight"] = norm(h)
        # gain 2 on q gives attention scores of a few units, so the softmax is neither flat nor one-hot
        w[p + "self_attn.q_proj.weight"] = linear(heads * d, h, 2.0)
        w[p + "self_attn.k_proj.weight"] = linear(kv * d, h, 2.0)
        w[p + "self_attn.v_proj.weight"] = linear(kv * d, h)
        w[p + "self_attn.o_proj.weight"] = linear(h, heads * d, residual_gain)
        w[p + "post_attention_layernorm.weight"] = norm(h)
        w[p + "mlp.gate_proj.weight"] = linear(inter, h)
        w[p + "mlp.up_proj.weight"] = linear(inter, h)
        w[p + "mlp.down_proj.weight"] = linear(h, inter, residual_gain)
        if cfg.get("model_type") == "qwen2":  # Qwen2: biases on q, k and v (drawn last: other models unchanged)
            w[p + "self_attn.q_proj.bias"] = 0.5 * rng.standard_normal(heads * d)
            w[p + "self_attn.k_proj.bias"] = 0.5 * rng.standard_normal(kv * d)
            w[p + "self_attn.v_proj.bias"] = 0.5 * rng.standard_normal(kv * d)
        if cfg.get("model_type") == "qwen3":  # Qwen3: RMSNorm of each q and k head before RoPE
            w[p + "self_attn.q_norm.weight"] = norm(d)
            w[p + "self_attn.k_norm.weight"] = norm(d)
    w["model.norm.weight"] = norm(h)
    if not cfg["tie_word_embeddings"]:
        w["lm_head.weight"] = linear(v, h, 3.0)
    return w


def to_f32_bytes(a):
    return a.astype("<f4").tobytes()


def f32_to_bf16_bits(a32):
    """float32 -> bfloat16 bits, round to nearest even (the same rule as HalfFloats.floatToBf16)."""
    u = np.ascontiguousarray(a32, dtype="<f4").view("<u4").astype(np.uint64)
    assert not np.isnan(a32).any()
    bias = 0x7FFF + ((u >> 16) & 1)
    return ((u + bias) >> 16).astype("<u2")


def bf16_bits_to_f64(bits):
    return (bits.astype(np.uint32) << 16).view("<f4").astype(np.float64)


# ------------------------------------------------------------------------------------------ safetensors

def write_safetensors(path, tensors):
    """tensors: list of (name, dtype string, shape, raw little-endian bytes)."""
    header = {"__metadata__": {"format": "pt", "writer": "attnrt make_test_model.py"}}
    offset = 0
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    # pad with spaces so the data region starts 8-byte aligned, as the safetensors library does
    text += b" " * ((8 - (8 + len(text)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for _, _, _, raw in tensors:
            f.write(raw)
    return offset


# ------------------------------------------------------------------------------ float64 reference model

def rms_norm(x, w, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def scaled_inv_freq(inv_freq, scaling):
    """rope_scaling as transformers' _compute_llama3_parameters / linear scaling apply it."""
    if not scaling:
        return inv_freq
    kind = scaling.get("rope_type", scaling.get("type"))
    if kind == "linear":
        return inv_freq / scaling["factor"]
    assert kind == "llama3", kind
    factor = scaling["factor"]
    low, high = scaling["low_freq_factor"], scaling["high_freq_factor"]
    old = scaling["original_max_position_embeddings"]
    wavelen = 2 * np.pi / inv_freq
    out = np.where(wavelen > old / low, inv_freq / factor, inv_freq)
    smooth = (old / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * out / factor + smooth * out
    medium = ~(wavelen < old / high) & ~(wavelen > old / low)
    return np.where(medium, smoothed, out)


def rope_rotate_half(x, positions, theta, scaling=None):
    """x: [T, heads, d]. Hugging Face rotate-half: dimension i pairs with i + d/2, angle pos·theta^(-2i/d)."""
    d = x.shape[-1]
    half = d // 2
    inv_freq = scaled_inv_freq(theta ** (-np.arange(half, dtype=np.float64) * 2.0 / d), scaling)
    ang = positions[:, None].astype(np.float64) * inv_freq[None, :]  # [T, half]
    cos = np.cos(ang)[:, None, :]
    sin = np.sin(ang)[:, None, :]
    x1 = x[..., :half]
    x2 = x[..., half:]
    return np.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)


def silu(x):
    return x / (1.0 + np.exp(-x))


def forward(cfg, w, tokens):
    """Logits [T, vocab] of every position of one sequence, all in float64."""
    h = cfg["hidden_size"]
    heads = cfg["num_attention_heads"]
    kv = cfg["num_key_value_heads"]
    d = cfg["head_dim"]
    eps = cfg["rms_norm_eps"]
    theta = cfg["rope_theta"]
    t = len(tokens)
    pos = np.arange(t)
    group = heads // kv
    causal = np.tril(np.ones((t, t), dtype=bool))
    window = cfg.get("sliding_window") or 0
    if window:  # Mistral: query i sees keys j with i - j < window
        causal &= (pos[:, None] - pos[None, :]) < window

    x = w["model.embed_tokens.weight"][np.asarray(tokens)]  # [T, H]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        a = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        bias = lambda name: w.get(p + name, 0.0)
        q = (a @ w[p + "self_attn.q_proj.weight"].T + bias("self_attn.q_proj.bias")).reshape(t, heads, d)
        k = (a @ w[p + "self_attn.k_proj.weight"].T + bias("self_attn.k_proj.bias")).reshape(t, kv, d)
        v = (a @ w[p + "self_attn.v_proj.weight"].T + bias("self_attn.v_proj.bias")).reshape(t, kv, d)
        if p + "self_attn.q_norm.weight" in w:
            q = rms_norm(q, w[p + "self_attn.q_norm.weight"], eps)
            k = rms_norm(k, w[p + "self_attn.k_norm.weight"], eps)
        q = rope_rotate_half(q, pos, theta, cfg.get("rope_scaling"))
        k = rope_rotate_half(k, pos, theta, cfg.get("rope_scaling"))
        att = np.empty((t, heads, d))
        for hh in range(heads):
            g = hh // group  # GQA: query head h reads kv head h // (H / KV)
            s = (q[:, hh, :] @ k[:, g, :].T) / np.sqrt(d)
            s = np.where(causal, s, -np.inf)
            s = s - s.max(axis=1, keepdims=True)
            e = np.exp(s)
            att[:, hh, :] = (e / e.sum(axis=1, keepdims=True)) @ v[:, g, :]
        x = x + att.reshape(t, heads * d) @ w[p + "self_attn.o_proj.weight"].T
        m = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        gate = m @ w[p + "mlp.gate_proj.weight"].T
        up = m @ w[p + "mlp.up_proj.weight"].T
        x = x + (silu(gate) * up) @ w[p + "mlp.down_proj.weight"].T
    x = rms_norm(x, w["model.norm.weight"], eps)
    head = w["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else w["lm_head.weight"]
    return x @ head.T


def top2_margin(row):
    s = np.sort(row)
    return float(s[-1] - s[-2])


def greedy(cfg, w, prompt, n):
    """n greedy tokens, recomputing the whole sequence every step (no cache to get wrong)."""
    seq = list(prompt)
    tokens, step_logits, margins = [], [], []
    for _ in range(n):
        last = forward(cfg, w, seq)[-1]
        nxt = int(np.argmax(last))  # numpy's argmax returns the lowest index among ties
        tokens.append(nxt)
        step_logits.append(last)
        margins.append(top2_margin(last))
        seq.append(nxt)
    return tokens, step_logits, margins


def reference_case(cfg, w, text, new_tokens):
    """One case of reference.json for a byte-level prompt: its logits and greedy continuation."""
    prompt = list(text.encode("utf-8"))
    logits = forward(cfg, w, prompt)
    tokens, step_logits, margins = greedy(cfg, w, prompt, new_tokens)
    return {
        "text": text,
        "prompt": prompt,
        "logits": logits.tolist(),
        "greedy": {
            "new_tokens": new_tokens,
            "tokens": tokens,
            "step_logits": [row.tolist() for row in step_logits],
            "min_top2_margin": min(margins),
        },
    }


def case_max_abs_logit(case):
    return max(abs(v) for row in case["logits"] for v in row)


def build_reference(name, cfg, w, weight_dtype, seed):
    cases = []
    for text in PROMPTS:
        case = reference_case(cfg, w, text, NEW_TOKENS)
        tokens, margin = case["greedy"]["tokens"], case["greedy"]["min_top2_margin"]
        if len(set(tokens)) < 4:
            raise SystemExit(f"{name}: greedy continuation of {text!r} is degenerate: {tokens}")
        if margin < MIN_GREEDY_MARGIN:
            raise SystemExit(f"{name}: greedy step of {text!r} has a near tie (margin {margin:.2e})")
        if case_max_abs_logit(case) < 1.0:
            raise SystemExit(f"{name}: logits of {text!r} are all near zero")
        cases.append(case)
    return {
        "format": "attnrt-reference/1",
        "model": name,
        "weight_dtype": weight_dtype,
        "seed": seed,
        "generator": "scripts/make_test_model.py",
        "compute": "float64 forward pass from the stored (dtype-rounded) weights",
        "vocab_size": cfg["vocab_size"],
        "cases": cases,
    }


def write_json(path, obj, indent=None):
    with open(path, "w", encoding="utf-8") as f:
        # repr-style floats (shortest round trip), so float64 values survive exactly
        json.dump(obj, f, indent=indent, allow_nan=False)
        f.write("\n")


# ---------------------------------------------------------------------------------------------- models

def write_model(out, name, cfg, seed, dtype, run_cfg=None):
    """Draws the weights of cfg, stores them as F32 or BF16 in one model.safetensors and writes the float64
    reference of exactly the stored values (run_cfg: the config the reference runs, when it differs)."""
    w = make_weights(cfg, seed)
    shapes = {k: a.shape for k, a in w.items()}
    if dtype == "BF16":
        stored = {k: f32_to_bf16_bits(a.astype(np.float32)) for k, a in w.items()}
        w = {k: bf16_bits_to_f64(b).reshape(shapes[k]) for k, b in stored.items()}
        blobs = [(k, "BF16", shapes[k], stored[k].tobytes()) for k in w]
    else:
        w = {k: a.astype(np.float32).astype(np.float64) for k, a in w.items()}
        blobs = [(k, "F32", a.shape, to_f32_bytes(a)) for k, a in w.items()]
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    write_json(os.path.join(d, "config.json"), cfg, indent=2)
    write_safetensors(os.path.join(d, "model.safetensors"), blobs)
    write_json(os.path.join(d, "reference.json"), build_reference(name, run_cfg or cfg, w, dtype, seed))
    return d


def make_tiny_llama(out, seed=20240611):
    return write_model(out, "tiny-llama", tiny_config(tie_word_embeddings=False), seed, "F32")


def make_tiny_llama_bf16_sharded(out, seed=20240612):
    cfg = tiny_config(tie_word_embeddings=True)
    cfg["torch_dtype"] = "bfloat16"
    # A tied head scores the input token's own embedding highest unless the blocks move the residual
    # stream well away from it: with gain 1 every greedy continuation just repeats the last prompt byte.
    w = make_weights(cfg, seed, residual_gain=3.0)
    bits = {k: f32_to_bf16_bits(a.astype(np.float32)) for k, a in w.items()}
    shapes = {k: a.shape for k, a in w.items()}
    w = {k: bf16_bits_to_f64(b).reshape(shapes[k]) for k, b in bits.items()}
    d = os.path.join(out, "tiny-llama-bf16-sharded")
    os.makedirs(d, exist_ok=True)
    write_json(os.path.join(d, "config.json"), cfg, indent=2)

    # shard 1: embedding and layer 0; shard 2: the rest — so both shards are needed for any forward pass
    names = list(w.keys())
    first = [n for n in names if n == "model.embed_tokens.weight" or n.startswith("model.layers.0.")]
    second = [n for n in names if n not in first]
    shard_names = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    weight_map, total = {}, 0
    for shard, group in zip(shard_names, [first, second]):
        total += write_safetensors(os.path.join(d, shard),
                                   [(n, "BF16", shapes[n], bits[n].tobytes()) for n in group])
        for n in group:
            weight_map[n] = shard
    write_json(os.path.join(d, "model.safetensors.index.json"),
               {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}, indent=2)
    write_json(os.path.join(d, "reference.json"),
               build_reference("tiny-llama-bf16-sharded", cfg, w, "BF16", seed))
    return d


def make_tiny_llama_hd64(out, seed=20240613):
    """Head dim 64, the smallest a GPU attention kernel is built for (GPUs have no kernels for 16), with
    query width 256 != hidden 128 and BF16 weights: the model the cuda backend is tested on end to end."""
    cfg = tiny_config(tie_word_embeddings=False, head_dim=64, hidden=128, heads=4, intermediate=352)
    cfg["torch_dtype"] = "bfloat16"
    return write_model(out, "tiny-llama-hd64", cfg, seed, "BF16")


def make_tiny_llama3_rope(out, seed=20240614):
    """The hd64 shape with Llama 3.1-style rope_scaling, scaled down so that the prompts reach every regime:
    original context 64, low/high frequency factors 1/4, factor 8 — wavelengths under 16 keep their
    frequency, those over 64 are divided by 8, those between blend."""
    cfg = tiny_config(tie_word_embeddings=False, head_dim=64, hidden=128, heads=4, intermediate=352)
    cfg["torch_dtype"] = "bfloat16"
    cfg["rope_scaling"] = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                           "original_max_position_embeddings": 64}
    return write_model(out, "tiny-llama3-rope", cfg, seed, "BF16")


def make_tiny_mistral_window(out, seed=20240615):
    """Mistral's architecture (a Llama block) with a sliding window of 8 keys, which the longer prompts
    (13 and 31 tokens) and greedy continuations cross; F32."""
    cfg = tiny_config(tie_word_embeddings=False)
    cfg["architectures"] = ["MistralForCausalLM"]
    cfg["model_type"] = "mistral"
    cfg["sliding_window"] = 8
    return write_model(out, "tiny-mistral-window", cfg, seed, "F32")


def make_tiny_qwen2(out, seed=20240616):
    """Qwen2's architecture: the hd64 shape with q/k/v biases (model_type qwen2 implies them), rope_theta 1e6,
    and a sliding_window that use_sliding_window=false switches off, as Qwen2.5 configs write it; BF16."""
    cfg = tiny_config(tie_word_embeddings=False, head_dim=64, hidden=128, heads=4, intermediate=352)
    cfg["architectures"] = ["Qwen2ForCausalLM"]
    cfg["model_type"] = "qwen2"
    cfg["rope_theta"] = 1000000.0
    cfg["sliding_window"] = 4
    cfg["use_sliding_window"] = False
    cfg["torch_dtype"] = "bfloat16"
    del cfg["attention_bias"]
    run_cfg = dict(cfg, sliding_window=None)  # switched off: the reference attends to everything
    return write_model(out, "tiny-qwen2", cfg, seed, "BF16", run_cfg)


def make_tiny_qwen3(out, seed=20240617):
    """Qwen3's architecture: the hd64 shape (head_dim 64 with hidden 128, so head_dim is not hidden / heads)
    with q_norm / k_norm before RoPE, no biases; BF16."""
    cfg = tiny_config(tie_word_embeddings=False, head_dim=64, hidden=128, heads=4, intermediate=352)
    cfg["architectures"] = ["Qwen3ForCausalLM"]
    cfg["model_type"] = "qwen3"
    cfg["rope_theta"] = 1000000.0
    cfg["torch_dtype"] = "bfloat16"
    return write_model(out, "tiny-qwen3", cfg, seed, "BF16")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--out", default=os.path.join(root, "test-data"), help="output folder (default: test-data/)")
    args = ap.parse_args()
    for d in (make_tiny_llama(args.out), make_tiny_llama_bf16_sharded(args.out), make_tiny_llama_hd64(args.out),
              make_tiny_llama3_rope(args.out), make_tiny_mistral_window(args.out), make_tiny_qwen2(args.out),
              make_tiny_qwen3(args.out)):
        size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
        print(f"wrote {os.path.relpath(d)} ({size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
