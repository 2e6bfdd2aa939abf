#!/usr/bin/python3
"""Builds tiny random `glm4_moe` checkpoints laid out like the published ones (test helper).

Owns: config.json / generation_config.json with the real model's keys (models.md §1.1), tensors with
the real names and shapes (models.md §3.1, plus an unused MTP layer per §6.1), and FP8 variants
(models.md §7): "channel" (compressed-tensors, weight_scale [out,1]) and "block" (quant_method fp8,
weight_scale_inv [ceil(N/128), ceil(K/128)]), each with a BF16 "mirror" holding exactly the
dequantised values. Scales are {1,1.25,1.5,1.75}*2^k so fp8 * scale is exact in BF16.
The FP8 code table here is written independently of safetensors_np.E4M3FN on purpose.

CLI: tiny_glm4_moe.py OUT_DIR [--seed N] [--fp8 channel|block] [--mirror] [--set key=json ...]
"""
import argparse
import json
import os
import sys
import zlib

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_np import f32_to_bf16_bits, bf16_bits_to_f32, save_checkpoint  # noqa: E402

BASE_CONFIG = {
    "architectures": ["Glm4MoeForCausalLM"], "model_type": "glm4_moe",
    "hidden_size": 64, "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 2,
    "head_dim": 32, "partial_rotary_factor": 0.5, "rope_theta": 1000000, "rope_scaling": None,
    "max_position_embeddings": 4096, "vocab_size": 512, "intermediate_size": 96,
    "moe_intermediate_size": 32, "n_routed_experts": 8, "n_shared_experts": 1, "num_experts_per_tok": 2,
    "n_group": 1, "topk_group": 1, "routed_scaling_factor": 2.5, "norm_topk_prob": True,
    "first_k_dense_replace": 1, "use_qk_norm": True, "attention_bias": True, "rms_norm_eps": 1e-5,
    "tie_word_embeddings": False, "num_nextn_predict_layers": 1, "hidden_act": "silu",
    "eos_token_id": [500, 507, 509], "pad_token_id": 500, "torch_dtype": "bfloat16",
    "attention_dropout": 0.0, "initializer_range": 0.02, "use_cache": True,
    "transformers_version": "4.54.0",
}


def fp8_positive_values():
    """(codes, values) of all finite non-negative e4m3fn codes, from s eeee mmm:
    value = m * 2^-9 when e == 0, else (8 + m) * 2^(e - 10); code 0x7f is NaN."""
    codes = np.array([c for c in range(0x7f)], dtype=np.uint8)
    e, m = codes >> 3, codes & 7
    vals = np.where(e == 0, np.ldexp(m.astype(np.float64), -9),
                    np.ldexp(8.0 + m, e.astype(np.int64) - 10))
    return codes, vals


def nice_scale(x):
    """Smallest {1,1.25,1.5,1.75,2}*2^k >= x (so fp8 * scale has <= 7 significant bits)."""
    x = np.maximum(np.asarray(x, dtype=np.float64), 1e-30)
    k = np.floor(np.log2(x))
    m = x / np.exp2(k)
    steps = np.array([1.0, 1.25, 1.5, 1.75, 2.0])
    q = steps[np.argmax(steps[None, :] >= m.reshape(-1, 1) - 1e-12, axis=1)].reshape(m.shape)
    return q * np.exp2(k)


def quantize_fp8(x):
    """Nearest e4m3fn codes of x (|x| <= 448) and their exact values."""
    codes, vals = fp8_positive_values()
    a = np.abs(x)
    i = np.clip(np.searchsorted(vals, a), 1, len(vals) - 1)
    i = np.where(a - vals[i - 1] <= vals[i] - a, i - 1, i)
    c = codes[i] | np.where(x < 0, 0x80, 0).astype(np.uint8)
    return c.astype(np.uint8), np.where(x < 0, -vals[i], vals[i])


def bf16(x):
    return ("BF16", f32_to_bf16_bits(np.asarray(x, dtype=np.float32)))


def linear_prefixes(cfg, li):
    """Prefixes of the FP8-eligible Linear layers of layer li (not the router gate, per §7)."""
    p = f"model.layers.{li}"
    out = [f"{p}.self_attn.{n}_proj" for n in "qkvo"]
    mlps = [f"{p}.mlp"] if li < cfg["first_k_dense_replace"] else \
        [f"{p}.mlp.experts.{e}" for e in range(cfg["n_routed_experts"])] + \
        ([f"{p}.mlp.shared_experts"] if cfg["n_shared_experts"] else [])
    return out + [f"{m}.{n}_proj" for m in mlps for n in ("gate", "up", "down")]


def make_weights(cfg, seed, mtp=True):
    """float32 master weights {name: array} with real GLM names/shapes (models.md §3.1, §6.1)."""
    r = np.random.default_rng(seed)
    D, nh, nkv, hd, V = (cfg[k] for k in ("hidden_size", "num_attention_heads", "num_key_value_heads",
                                          "head_dim", "vocab_size"))
    F, Fm, E, ns = cfg["intermediate_size"], cfg["moe_intermediate_size"], cfg["n_routed_experts"], cfg["n_shared_experts"]
    lin = lambda o, i, g=1.0: (r.standard_normal((o, i)) * g / np.sqrt(i)).astype(np.float32)
    norm = lambda n: (1.0 + 0.2 * r.standard_normal(n)).astype(np.float32)
    w = {"model.embed_tokens.weight": r.standard_normal((V, D)).astype(np.float32),
         "model.norm.weight": norm(D)}
    if not cfg["tie_word_embeddings"]:
        w["lm_head.weight"] = lin(V, D, 2.0)
    L = cfg["num_hidden_layers"]
    for li in range(L + (cfg["num_nextn_predict_layers"] if mtp else 0)):
        p = f"model.layers.{li}"
        w[f"{p}.input_layernorm.weight"] = norm(D)
        w[f"{p}.post_attention_layernorm.weight"] = norm(D)
        for n, o in (("q", nh * hd), ("k", nkv * hd), ("v", nkv * hd)):
            w[f"{p}.self_attn.{n}_proj.weight"] = lin(o, D, 1.5)
            if cfg["attention_bias"]:
                w[f"{p}.self_attn.{n}_proj.bias"] = (0.3 * r.standard_normal(o)).astype(np.float32)
        w[f"{p}.self_attn.o_proj.weight"] = lin(D, nh * hd)
        if cfg["use_qk_norm"]:
            w[f"{p}.self_attn.q_norm.weight"] = norm(hd)
            w[f"{p}.self_attn.k_norm.weight"] = norm(hd)
        if li < cfg["first_k_dense_replace"]:
            mlps = [(f"{p}.mlp", F)]
        else:
            w[f"{p}.mlp.gate.weight"] = lin(E, D, 3.0)
            w[f"{p}.mlp.gate.e_score_correction_bias"] = (0.1 * r.standard_normal(E)).astype(np.float32)
            mlps = [(f"{p}.mlp.experts.{e}", Fm) for e in range(E)]
            if ns:
                mlps.append((f"{p}.mlp.shared_experts", Fm * ns))
        for m, f in mlps:
            w[f"{m}.gate_proj.weight"] = lin(f, D)
            w[f"{m}.up_proj.weight"] = lin(f, D)
            w[f"{m}.down_proj.weight"] = lin(D, f)
        if li >= L:   # MTP / NextN extras (§6.1): present in checkpoints, unused by the main forward
            w[f"{p}.enorm.weight"], w[f"{p}.hnorm.weight"] = norm(D), norm(D)
            w[f"{p}.eh_proj.weight"] = lin(D, 2 * D)
            w[f"{p}.shared_head.norm.weight"] = norm(D)
    return w


def quantize(cfg, w, fp8):
    """Turn FP8-eligible linears into fp8 codes + scales. Returns (tensors, mirror values, quant config)."""
    tensors, mirror = {}, {}
    targets = {f"{p}.weight" for li in range(cfg["num_hidden_layers"] + cfg["num_nextn_predict_layers"])
               for p in linear_prefixes(cfg, li)}
    for name, x in w.items():
        if name not in targets:
            continue
        p = name[:-len(".weight")]
        N, K = x.shape
        if fp8 == "channel":
            s = nice_scale(np.abs(x).max(axis=1, keepdims=True) / 448.0)      # [N, 1]
            full = s
            # alternate the scale's dtype: the spec says F32 in the test, "may be BF16"
            tensors[p + ".weight_scale"] = s.astype(np.float32) if zlib.crc32(p.encode()) % 2 else bf16(s)
        else:
            nb, kb = -(-N // 128), -(-K // 128)
            amax = np.zeros((nb, kb))
            for i in range(nb):
                for j in range(kb):
                    amax[i, j] = np.abs(x[i * 128:(i + 1) * 128, j * 128:(j + 1) * 128]).max()
            s = nice_scale(amax / 448.0)
            full = np.repeat(np.repeat(s, 128, 0), 128, 1)[:N, :K]
            tensors[p + ".weight_scale_inv"] = s.astype(np.float32)
        codes, vals = quantize_fp8(x / full)
        tensors[name] = ("F8_E4M3", codes)
        mirror[name] = (vals * full).astype(np.float32)
        assert np.array_equal(bf16_bits_to_f32(f32_to_bf16_bits(mirror[name])), mirror[name])
    if fp8 == "channel":
        qc = {"quant_method": "compressed-tensors", "format": "float-quantized",
              "config_groups": {"group_0": {
                  "targets": ["Linear"],
                  "weights": {"num_bits": 8, "type": "float", "strategy": "channel", "symmetric": True,
                              "dynamic": False},
                  "input_activations": {"num_bits": 8, "type": "float", "strategy": "token", "dynamic": True}}},
              "ignore": ["lm_head"] + [f"model.layers.{li}.mlp.gate" for li in range(
                  cfg["first_k_dense_replace"], cfg["num_hidden_layers"] + cfg["num_nextn_predict_layers"])]}
    else:
        qc = {"quant_method": "fp8", "fmt": "e4m3", "activation_scheme": "dynamic", "weight_block_size": [128, 128]}
    return tensors, mirror, qc


def write_model(out, cfg=None, seed=0, fp8=None, mirror=False, shards=1, weights=None):
    """Write a checkpoint. fp8=None: BF16 (router bias F32). fp8='channel'/'block': FP8 layout, or with
    mirror=True the BF16 checkpoint holding exactly its dequantised values. Returns the config."""
    cfg = dict(BASE_CONFIG, **(cfg or {}))
    w = weights if weights is not None else make_weights(cfg, seed)
    tensors = {}
    for name, x in w.items():
        tensors[name] = x.astype(np.float32) if name.endswith("e_score_correction_bias") else bf16(x)
    conf = dict(cfg)
    if fp8:
        q, mir, qc = quantize(cfg, w, fp8)
        if mirror:
            tensors.update({n: bf16(v) for n, v in mir.items()})
        else:
            tensors.update(q)
            conf["quantization_config"] = qc
    save_checkpoint(out, tensors, shards)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(conf, f, indent=2)
    with open(os.path.join(out, "generation_config.json"), "w") as f:
        json.dump({"_from_model_config": True, "eos_token_id": cfg["eos_token_id"],
                   "pad_token_id": cfg["pad_token_id"], "transformers_version": cfg["transformers_version"]}, f, indent=2)
    return cfg


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fp8", choices=["channel", "block"])
    ap.add_argument("--mirror", action="store_true")
    ap.add_argument("--shards", type=int, default=1)
    ap.add_argument("--set", action="append", default=[], help="config override key=json_value")
    a = ap.parse_args()
    over = {k: json.loads(v) for k, v in (s.split("=", 1) for s in a.set)}
    write_model(a.out, over, a.seed, a.fp8, a.mirror, a.shards)
