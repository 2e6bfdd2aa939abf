#!/usr/bin/python3
"""Independent numpy reference of the `glm4_moe` forward pass (GLM-4.5/4.5-Air/4.6/4.7).

Owns: loading config.json (+ generation_config.json) and a safetensors checkpoint, dequantising every
weight to float (BF16/F16/F32, FP8 per-channel compressed-tensors, FP8 128x128 block), the forward of
shared/docs/models.md §3.2 with a KV cache, greedy / teacher-forced logits and a small CLI.
Does not own: tokenisation, sampling, the MTP layer (§6; its tensors model.layers.{L}.* are ignored).
Written from the spec only (models.md §1.1, §2, §3, §7), not from the C engine, so the engine can be
tested against it. Computes in float64 by default (the spec's fp32 semantics with exact-er sums);
RoPE angles are formed in fp32 as the spec prescribes. Single-threaded; a model object is not shared.

CLI: ref_glm4_moe.py --model DIR --prompt-ids 1,2,3 -n 32 [--logits-out F] [--teacher IDS] [--f32]
prints {"tokens": [...], "logprobs": [...], "top": [[[id, logprob] x5] per step], ...}; --logits-out
writes float32 logits [n_steps][vocab]: step 0 = last prompt position, step i = after token i.
"""
import argparse
import json
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_np import SafeTensors  # noqa: E402


def rms_norm(x, w, eps):
    """models.md §2: normalise over the last dim, then multiply by the weight."""
    var = np.mean(x * x, axis=-1, keepdims=True)
    return (x / np.sqrt(var + eps)) * w


def silu(x):
    return x / (1.0 + np.exp(-x))


def softmax(x, axis=-1):
    m = np.max(x, axis=axis, keepdims=True)
    e = np.exp(x - m)
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(x):
    x = np.asarray(x, dtype=np.float64)
    m = np.max(x)
    return x - m - math.log(np.sum(np.exp(x - m)))


def noaux_tc_route(logits, bias, n_group, topk_group, top_k, norm_topk_prob, scaling):
    """models.md §2 noaux_tc router for one token. logits [E] (fp32/64 matmul result), bias [E].
    Returns (expert ids ascending, weights in the same order, selection margin).
    Masked (dropped-group) experts get -inf so they can never be chosen (see report: HF-moe uses 0.0,
    which only differs when n_group > 1 and a kept expert's biased score is negative).
    Ties break towards the lower expert id (stable sort); the spec leaves tie order unspecified."""
    E = logits.shape[0]
    s = 1.0 / (1.0 + np.exp(-logits))                       # 2. sigmoid scores
    c = s + bias                                            # 3. biased, for choosing only
    margin = math.inf
    if n_group > 1:                                         # 4. group-limited selection
        cg = c.reshape(n_group, E // n_group)
        gs = np.sort(cg, axis=1)[:, -min(2, cg.shape[1]):].sum(axis=1)   # sum of top-2 per group
        order = np.argsort(-gs, kind="stable")
        if topk_group < n_group:
            margin = gs[order[topk_group - 1]] - gs[order[topk_group]]
        keep = np.zeros(n_group, dtype=bool)
        keep[order[:topk_group]] = True
        c = np.where(np.repeat(keep, E // n_group), c, -np.inf)
    order = np.argsort(-c, kind="stable")                   # 5. top-K by masked biased score
    if top_k < E and np.isfinite(c[order[top_k]]):
        margin = min(margin, c[order[top_k - 1]] - c[order[top_k]])
    ids = np.sort(order[:top_k])
    w = s[ids]                                              # 6. un-biased sigmoid weights
    if norm_topk_prob:
        w = w / (np.sum(w) + 1e-20)                         # 7.
    return ids, w * scaling, margin                         # 8.


class Glm4MoeRef:
    def __init__(self, model_dir, dtype=np.float64):
        with open(os.path.join(model_dir, "config.json")) as f:
            cfg = json.load(f)
        gen = {}
        gp = os.path.join(model_dir, "generation_config.json")
        if os.path.exists(gp):
            with open(gp) as f:
                gen = json.load(f)
        if cfg.get("model_type") != "glm4_moe":
            raise ValueError(f"{model_dir}/config.json: model_type {cfg.get('model_type')!r} is not glm4_moe")
        self.cfg, self.dt = cfg, dtype
        self.st = SafeTensors(model_dir)
        rp = cfg.get("rope_parameters") or {}       # transformers v5 nests rope fields here
        rs = cfg.get("rope_scaling")
        if rs and rs.get("rope_type", rs.get("type", "default")) != "default":
            raise ValueError(f"rope_scaling {rs} not supported (glm4_moe releases use null)")
        g = cfg.get
        self.D, self.L = g("hidden_size"), g("num_hidden_layers")
        self.nh, self.nkv = g("num_attention_heads"), g("num_key_value_heads")
        self.hd = g("head_dim") or self.D // self.nh
        self.V = g("vocab_size")
        self.eps = g("rms_norm_eps")
        self.theta = float(g("rope_theta", rp.get("rope_theta")))
        prf = g("partial_rotary_factor", rp.get("partial_rotary_factor", 0.5))
        self.rd = int(self.hd * prf)                # §3.2: rd = 128 * 0.5 = 64
        if self.rd % 2 or self.rd > self.hd or self.nh % self.nkv:
            raise ValueError(f"bad rotary dim {self.rd} / heads {self.nh}/{self.nkv}")
        self.attention_bias = bool(g("attention_bias", False))
        self.use_qk_norm = bool(g("use_qk_norm", False))
        self.first_dense = g("first_k_dense_replace")
        self.E, self.K = g("n_routed_experts"), g("num_experts_per_tok")
        self.n_group, self.topk_group = g("n_group", 1) or 1, g("topk_group", 1) or 1
        self.norm_topk_prob = bool(g("norm_topk_prob", True))
        self.rsf = float(g("routed_scaling_factor", 1.0))
        self.n_shared = g("n_shared_experts", 0) or 0
        self.tie = bool(g("tie_word_embeddings", False))
        if self.E % self.n_group or self.K > self.topk_group * (self.E // self.n_group):
            raise ValueError(f"router: E={self.E} n_group={self.n_group} topk_group={self.topk_group} K={self.K}")
        eos = gen.get("eos_token_id", cfg.get("eos_token_id"))
        self.eos_ids = [] if eos is None else ([eos] if isinstance(eos, int) else list(eos))
        self.qc = cfg.get("quantization_config") or {}
        self._cache = {}
        self.min_router_margin = math.inf    # smallest top-K / group boundary gap seen (diagnostic)

    # ---- weights -------------------------------------------------------------------------------
    def vec(self, name):
        if name not in self._cache:
            self._cache[name] = self.st.get(name, self.dt)
        return self._cache[name]

    def linear(self, prefix):
        """`prefix.weight` [out, in] dequantised to self.dt (models.md §7)."""
        name = prefix + ".weight"
        if name in self._cache:
            return self._cache[name]
        dt = self.st.dtype(name)
        if dt != "F8_E4M3":
            w = self.st.get(name, np.float64)
        else:
            q = self.st.get(name, np.float64)
            N, Kd = q.shape
            method = self.qc.get("quant_method")
            if prefix + ".weight_scale" in self.st:            # (a) compressed-tensors per channel
                if method not in (None, "compressed-tensors"):
                    raise ValueError(f"{prefix}: weight_scale but quant_method {method!r}")
                s = self.st.get(prefix + ".weight_scale", np.float64)
                if s.size not in (N, 1):
                    raise ValueError(f"{prefix}.weight_scale shape {s.shape} for weight {q.shape}")
                w = q * s.reshape(-1, 1)                        # W[i,j] = fp8(Wq[i,j]) * scale[i]
            elif prefix + ".weight_scale_inv" in self.st:      # (b) 128x128 block FP8
                if method not in (None, "fp8"):
                    raise ValueError(f"{prefix}: weight_scale_inv but quant_method {method!r}")
                bn, bk = self.qc.get("weight_block_size", [128, 128])
                s = self.st.get(prefix + ".weight_scale_inv", np.float64)
                if s.shape != (-(-N // bn), -(-Kd // bk)):
                    raise ValueError(f"{prefix}.weight_scale_inv shape {s.shape} for weight {q.shape}")
                w = q * np.repeat(np.repeat(s, bn, axis=0), bk, axis=1)[:N, :Kd]  # scale[i/bn][j/bk]
            else:
                raise ValueError(f"{name} is F8_E4M3 but has no weight_scale / weight_scale_inv")
        self._cache[name] = w = w.astype(self.dt)
        return w

    # ---- pieces --------------------------------------------------------------------------------
    def rope_cos_sin(self, pos):
        """models.md §2: inv_freq[j] = 1/theta^(2j/rd) in fp32; angle = f32(pos)*inv_freq in fp32."""
        j2 = np.arange(0, self.rd, 2, dtype=np.int64).astype(np.float32) / np.float32(self.rd)
        inv = (np.float32(1.0) / np.float32(self.theta ** j2.astype(np.float64))).astype(np.float32)
        ang = pos.astype(np.float32)[:, None] * inv[None, :]          # fp32 product
        return np.cos(ang.astype(np.float64)).astype(self.dt), np.sin(ang.astype(np.float64)).astype(self.dt)

    def rope(self, x, cos, sin):
        """NeoX split-half on dims [0, rd); pairs (j, j + rd/2); dims >= rd untouched. x [T, H, hd]."""
        h = self.rd // 2
        c, s = cos[:, None, :], sin[:, None, :]
        x1, x2 = x[..., :h].copy(), x[..., h:self.rd].copy()
        x = x.copy()
        x[..., :h] = x1 * c - x2 * s
        x[..., h:self.rd] = x2 * c + x1 * s
        return x

    def mlp(self, prefix, x):
        """Gated MLP: down(silu(gate(x)) * up(x)), no biases (models.md §2)."""
        g = x @ self.linear(prefix + ".gate_proj").T
        u = x @ self.linear(prefix + ".up_proj").T
        return (silu(g) * u) @ self.linear(prefix + ".down_proj").T

    def moe(self, li, x):
        """models.md §2 router + routed experts summed in ascending id order, then the shared expert."""
        p = f"model.layers.{li}.mlp"
        logits = x @ self.linear(p + ".gate").T                 # 1. router matmul
        bias = self.vec(p + ".gate.e_score_correction_bias").astype(self.dt)
        y = np.zeros_like(x)
        sel = []
        for t in range(x.shape[0]):
            ids, w, m = noaux_tc_route(logits[t], bias, self.n_group, self.topk_group, self.K,
                                       self.norm_topk_prob, self.rsf)
            self.min_router_margin = min(self.min_router_margin, m)
            sel.append(dict(zip(ids.tolist(), w)))
        for e in sorted(set().union(*sel)):                     # ascending expert id
            toks = [t for t in range(x.shape[0]) if e in sel[t]]
            out = self.mlp(f"{p}.experts.{e}", x[toks])
            for r, t in enumerate(toks):
                y[t] += out[r] * sel[t][e]
        if self.n_shared > 0:
            y = y + self.mlp(p + ".shared_experts", x)
        return y

    def attention(self, li, a, pos, cos, sin, cache):
        p = f"model.layers.{li}.self_attn"
        T, nh, nkv, hd = a.shape[0], self.nh, self.nkv, self.hd
        q = a @ self.linear(p + ".q_proj").T
        k = a @ self.linear(p + ".k_proj").T
        v = a @ self.linear(p + ".v_proj").T
        if self.attention_bias:
            q, k, v = q + self.vec(p + ".q_proj.bias"), k + self.vec(p + ".k_proj.bias"), v + self.vec(p + ".v_proj.bias")
        q, k, v = q.reshape(T, nh, hd), k.reshape(T, nkv, hd), v.reshape(T, nkv, hd)
        if self.use_qk_norm:                                    # per head, before RoPE
            q = rms_norm(q, self.vec(p + ".q_norm.weight"), self.eps)
            k = rms_norm(k, self.vec(p + ".k_norm.weight"), self.eps)
        q, k = self.rope(q, cos, sin), self.rope(k, cos, sin)
        kc, vc = cache[li]                                      # [nkv, S, hd], post-RoPE keys
        kc = np.concatenate([kc, k.transpose(1, 0, 2)], axis=1)
        vc = np.concatenate([vc, v.transpose(1, 0, 2)], axis=1)
        cache[li] = (kc, vc)
        kv_of = np.arange(nh) // (nh // nkv)                    # GQA: head h uses kv head h/(nh/nkv)
        s = (q.transpose(1, 0, 2) @ kc[kv_of].transpose(0, 2, 1)) * (hd ** -0.5)   # dot, then scale
        S = kc.shape[1]
        s = np.where(np.arange(S)[None, None, :] <= pos[None, :, None], s, -np.inf)  # causal
        o = softmax(s) @ vc[kv_of]                              # [nh, T, hd]
        return o.transpose(1, 0, 2).reshape(T, nh * hd) @ self.linear(p + ".o_proj").T

    # ---- forward -------------------------------------------------------------------------------
    def new_cache(self):
        z = np.zeros((self.nkv, 0, self.hd), dtype=self.dt)
        return {"pos": 0, **{li: (z, z) for li in range(self.L)}}

    def forward(self, ids, cache):
        """Process tokens `ids` at positions cache.pos.. ; returns logits [len(ids), V] (models.md §3.2)."""
        ids = np.asarray(ids, dtype=np.int64)
        pos = np.arange(cache["pos"], cache["pos"] + len(ids))
        h = self.linear("model.embed_tokens")[ids]              # 1. embedding, no scaling
        cos, sin = self.rope_cos_sin(pos)
        for li in range(self.L):                                # 2. decoder layers
            p = f"model.layers.{li}"
            a = rms_norm(h, self.vec(p + ".input_layernorm.weight"), self.eps)
            h = h + self.attention(li, a, pos, cos, sin, cache)
            m = rms_norm(h, self.vec(p + ".post_attention_layernorm.weight"), self.eps)
            h = h + (self.mlp(p + ".mlp", m) if li < self.first_dense else self.moe(li, m))
        cache["pos"] += len(ids)
        h = rms_norm(h, self.vec("model.norm.weight"), self.eps)   # 3. final norm + head
        head = self.linear("model.embed_tokens" if self.tie else "lm_head")
        return h @ head.T

    def run(self, prompt, n, teacher=None):
        """n steps of logits: step 0 from the prompt, step i after feeding token i (own greedy choice,
        or teacher[i-1]). Returns (logits [n, V] float64, greedy argmax per step)."""
        cache = self.new_cache()
        out, greedy = [], []
        logits = self.forward(prompt, cache)[-1]
        for i in range(n):
            out.append(logits)
            greedy.append(int(np.argmax(logits)))
            if i + 1 < n:
                tok = greedy[-1] if teacher is None else int(teacher[i])
                logits = self.forward([tok], cache)[-1]
        return np.array(out, dtype=np.float64).reshape(n, self.V), greedy


def parse_ids(s):
    return [int(t) for t in s.replace(" ", "").split(",") if t != ""]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--prompt-ids", required=True)
    ap.add_argument("-n", type=int, default=32, help="steps (default 32; with --teacher: len(teacher))")
    ap.add_argument("--teacher", help="comma-separated ids to feed instead of the greedy choice")
    ap.add_argument("--logits-out", help="write float32 logits [n_steps][vocab]")
    ap.add_argument("--f32", action="store_true", help="compute in float32 instead of float64")
    a = ap.parse_args(argv)
    m = Glm4MoeRef(a.model, np.float32 if a.f32 else np.float64)
    prompt = parse_ids(a.prompt_ids)
    teacher = parse_ids(a.teacher) if a.teacher else None
    n = len(teacher) if teacher is not None else a.n
    if not prompt or n < 1 or any(not 0 <= t < m.V for t in prompt + (teacher or [])):
        ap.error(f"need a non-empty prompt, n >= 1 and ids in [0, {m.V})")
    logits, greedy = m.run(prompt, n, teacher)
    if a.logits_out:
        logits.astype("<f4").tofile(a.logits_out)
    chosen = greedy if teacher is None else teacher
    res = {"prompt_ids": prompt, "tokens": greedy, "logprobs": [], "top": [],
           "eos_token_ids": m.eos_ids, "min_router_margin": None if math.isinf(m.min_router_margin) else m.min_router_margin}
    if teacher is not None:
        res["teacher"] = teacher
    for i in range(n):
        lp = log_softmax(logits[i])
        top = np.argsort(-lp, kind="stable")[:5]
        res["logprobs"].append(float(lp[chosen[i]]))
        res["top"].append([[int(t), float(lp[t])] for t in top])
    print(json.dumps(res))


if __name__ == "__main__":
    main()
