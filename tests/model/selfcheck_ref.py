#!/usr/bin/python3
"""Self-check of the numpy glm4_moe reference (ref_glm4_moe.py), independent of the C engine.

Builds tiny random checkpoints (tiny_glm4_moe.py) in a temp dir and checks properties the spec
implies: (a) KV-cached incremental logits == full recompute, (b) FP8 per-channel / 128x128-block
checkpoints give exactly the logits of a BF16 checkpoint holding the dequantised values,
(c) noaux_tc grouped routing picks experts only from the kept groups (direct + permutation tests),
(d) use_qk_norm off needs no q_norm/k_norm tensors, plus format/numeric unit checks.
Prints one line per check and "N passed, M failed"; exits 1 on failure.
"""
import json
import math
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_np as stn  # noqa: E402
import tiny_glm4_moe as tiny  # noqa: E402
from ref_glm4_moe import Glm4MoeRef, noaux_tc_route, main as ref_main  # noqa: E402

RESULTS = [0, 0]


def check(ok, what, detail=""):
    RESULTS[0 if ok else 1] += 1
    print(f"{'PASS' if ok else 'FAIL'} {what}{(': ' + detail) if detail else ''}")


def rel(a, b):
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def full_logits(m, seq):
    return m.forward(seq, m.new_cache())


def test_format(tmp):
    t = stn.E4M3FN
    known = {0x00: 0.0, 0x01: 2.0 ** -9, 0x07: 7 * 2.0 ** -9, 0x08: 2.0 ** -6, 0x38: 1.0, 0xb8: -1.0,
             0x3c: 1.5, 0x7e: 448.0, 0xfe: -448.0, 0x40: 2.0, 0x80: -0.0}
    ok = all(t[b] == v for b, v in known.items()) and np.isnan(t[0x7f]) and np.isnan(t[0xff]) \
        and np.isfinite(t).sum() == 254 and math.copysign(1, t[0x80]) < 0
    check(ok, "format: e4m3fn table (subnormals, 448 max, NaN at 0x7f/0xff, no Inf)")
    codes, vals = tiny.fp8_positive_values()
    check(np.array_equal(t[codes].astype(np.float64), vals), "format: e4m3fn table == independent formula")
    x = np.array([1.0, -2.5, 3.14159, 1e-3, 65504.0, 0.0], dtype=np.float32)
    b = stn.f32_to_bf16_bits(x)
    check(b[0] == 0x3f80 and b[1] == 0xc020 and np.allclose(stn.bf16_bits_to_f32(b), x, rtol=2 ** -8),
          "format: bf16 <-> f32")
    r = np.random.default_rng(1)
    ts = {"a.f32": r.standard_normal((3, 5)).astype(np.float32), "b.f16": np.arange(6, dtype=np.float16),
          "c.bf16": ("BF16", stn.f32_to_bf16_bits(np.ones(4))), "d.f8": ("F8_E4M3", np.arange(256, dtype=np.uint8)),
          "e.i64": np.arange(4, dtype=np.int64), "f.i32": -np.arange(3, dtype=np.int32), "g.empty": np.zeros((0, 4), np.float32)}
    ok = True
    for shards in (1, 3):
        d = os.path.join(tmp, f"fmt{shards}")
        stn.save_checkpoint(d, ts, shards)
        st = stn.SafeTensors(d)
        ok &= sorted(st.keys()) == sorted(ts) and st.dtype("c.bf16") == "BF16" and st.shape("g.empty") == (0, 4)
        ok &= np.array_equal(st.get("a.f32"), ts["a.f32"]) and np.array_equal(st.get("b.f16"), np.arange(6))
        ok &= np.array_equal(st.get("c.bf16"), np.ones(4)) and np.array_equal(st.get("e.i64", np.int64), np.arange(4))
        ok &= np.array_equal(st.get("d.f8")[:0x7f], t[:0x7f]) and np.array_equal(st.raw("f.i32"), ts["f.i32"])
    check(ok, "format: safetensors write/read round trip, single file and 3 shards + index.json")


def test_kv_cache(tmp):
    d = os.path.join(tmp, "base")
    tiny.write_model(d, {}, seed=1, shards=2)
    m = Glm4MoeRef(d)
    seq = [5, 17, 300, 2, 99, 41, 41, 7, 250, 128, 3, 511]
    full = full_logits(m, seq)
    c = m.new_cache()
    inc = np.concatenate([m.forward(seq[:5], c), m.forward(seq[5:8], c)] + [m.forward([t], c) for t in seq[8:]])
    check(rel(inc, full) < 1e-12, "(a) KV cache: prefill 5 + chunk 3 + 1-by-1 == one full forward",
          f"rel err {rel(inc, full):.2e}")
    rec = np.array([full_logits(m, seq[:t + 1])[-1] for t in range(len(seq))])
    check(rel(rec, full) < 1e-12, "(a) KV cache: recompute prefix each step == full forward", f"rel err {rel(rec, full):.2e}")
    lg, greedy = m.run(seq[:4], 6)
    along = full_logits(m, seq[:4] + greedy[:5])[3:]
    check(rel(lg, along) < 1e-12 and greedy == [int(np.argmax(x)) for x in along],
          "(a) run(): greedy steps == full forward along its own tokens")
    lt, _ = m.run(seq[:4], 8, teacher=seq[4:12])
    check(rel(lt, full[3:11]) < 1e-12, "(a) run(teacher): teacher-forced logits == full forward")
    # logit scale sanity: the random model must give a non-degenerate distribution
    check(np.all(np.isfinite(full)) and 1.0 < np.std(full) < 50.0, "(a) logits finite, spread", f"std {np.std(full):.2f}")
    # same weights in one file and with the MTP layer dropped give the same logits (MTP unused)
    d1 = os.path.join(tmp, "base_single")
    cfg = dict(tiny.BASE_CONFIG)
    tiny.write_model(d1, {}, weights=tiny.make_weights(cfg, 1, mtp=False))
    st1 = stn.SafeTensors(d1)
    check(not any(k.startswith("model.layers.3.") for k in st1.keys()) and "model.layers.3.eh_proj.weight" in m.st
          and np.array_equal(full_logits(Glm4MoeRef(d1), seq), full),
          "(a) MTP layer tensors (model.layers.L.*) are ignored; 1 file == 2 shards")
    return m, seq


def test_fp8(tmp):
    cfg = {"hidden_size": 160, "num_attention_heads": 6, "num_key_value_heads": 2, "head_dim": 32,
           "intermediate_size": 288, "moe_intermediate_size": 48, "vocab_size": 300,
           "eos_token_id": [299], "pad_token_id": 299}
    seq = [1, 200, 33, 47, 299, 0, 150]
    base = os.path.join(tmp, "fp8_bf16")
    tiny.write_model(base, cfg, seed=2)
    ref_base = full_logits(Glm4MoeRef(base), seq)
    for kind, scale_name in (("channel", "weight_scale"), ("block", "weight_scale_inv")):
        q, mir = os.path.join(tmp, f"fp8_{kind}"), os.path.join(tmp, f"fp8_{kind}_mirror")
        tiny.write_model(q, cfg, seed=2, fp8=kind)
        tiny.write_model(mir, cfg, seed=2, fp8=kind, mirror=True)
        mq, mm = Glm4MoeRef(q), Glm4MoeRef(mir)
        p = "model.layers.1.mlp.experts.3.down_proj"
        shp = mq.st.shape(p + "." + scale_name)
        layout_ok = mq.st.dtype(p + ".weight") == "F8_E4M3" and \
            (shp == (160, 1) if kind == "channel" else shp == (2, 1)) and \
            mq.st.dtype("model.layers.1.mlp.gate.weight") == "BF16" and mq.st.dtype("lm_head.weight") == "BF16"
        lq, lm = full_logits(mq, seq), full_logits(mm, seq)
        check(layout_ok and np.array_equal(mq.linear(p), mm.linear(p)) and np.array_equal(lq, lm),
              f"(b) FP8 {kind}: logits == BF16 checkpoint of the dequantised values (exact)",
              f"quantisation moved logits by rel {rel(lq, ref_base):.1e} vs the unquantised model")
        # the scales matter: perturbing one scale block of one tensor must change the logits
        st = stn.SafeTensors(q)
        s = st.get(f"model.layers.0.self_attn.q_proj.{scale_name}").copy()
        s[-1, 0] *= 2.0
        t = {k: (st.dtype(k), np.array(st.raw(k))) for k in st.keys()}
        t[f"model.layers.0.self_attn.q_proj.{scale_name}"] = s.astype(np.float32)
        bad = os.path.join(tmp, f"fp8_{kind}_bad")
        stn.save_checkpoint(bad, t)
        os.link(os.path.join(q, "config.json"), os.path.join(bad, "config.json"))
        check(rel(full_logits(Glm4MoeRef(bad), seq), lq) > 1e-6, f"(b) FP8 {kind}: last scale row/block is used")


def test_router():
    # hand example: 4 groups of 2, keep 2 groups, K=2 (models.md §2 steps 1-8)
    sc = np.array([0.9, 0.1, 0.62, 0.6, 0.8, 0.05, 0.3, 0.3])
    lg = np.log(sc / (1 - sc))
    ids, w, _ = noaux_tc_route(lg, np.zeros(8), 4, 2, 2, True, 2.5)
    ok1 = ids.tolist() == [0, 2] and np.allclose(w, np.array([0.9, 0.62]) / 1.52 * 2.5)
    bias = np.array([0, 0, 0, 0, 0, 0, 0.5, 0.5])
    ids, w, _ = noaux_tc_route(lg, bias, 4, 2, 2, True, 2.5)
    ok2 = ids.tolist() == [6, 7] and np.allclose(w, [1.25, 1.25])          # bias chooses, weights un-biased
    ids, w, _ = noaux_tc_route(lg, np.zeros(8), 1, 1, 2, False, 2.0)
    ok3 = ids.tolist() == [0, 4] and np.allclose(w, [1.8, 1.6])             # n_group 1, no normalisation
    check(ok1 and ok2 and ok3, "(c) router hand examples (group top-2 sums, bias for choice only, norm, scale)")
    # random: selection only from the kept groups, even when biased scores are negative
    r = np.random.default_rng(3)
    E, G, TG, K = 16, 4, 2, 4
    bad, differs = 0, 0
    for _ in range(3000):
        lg, b = 2 * r.standard_normal(E), 0.6 * r.standard_normal(E)
        c = 1 / (1 + np.exp(-lg)) + b
        gsum = [sum(sorted(c[g * 4:(g + 1) * 4])[-2:]) for g in range(G)]
        kept = set(np.argsort(gsum)[-TG:].tolist())
        ids, w, _ = noaux_tc_route(lg, b, G, TG, K, True, 1.0)
        allowed = [e for e in range(E) if e // 4 in kept]
        best = sorted(allowed, key=lambda e: -c[e])[:K]
        bad += any(e // 4 not in kept for e in ids) or sorted(best) != ids.tolist() or abs(w.sum() - 1) > 1e-12
        differs += set(np.argsort(-c)[:K].tolist()) != set(ids.tolist())
    check(bad == 0 and differs > 300, "(c) grouped top-K: experts only from kept groups == brute force",
          f"{differs}/3000 cases differ from ungrouped top-K, {bad} wrong")


def permute_experts(src, dst, perm, cfg_over):
    """Copy checkpoint src to dst with expert j of every MoE layer := old expert perm[j]."""
    st = stn.SafeTensors(src)
    with open(os.path.join(src, "config.json")) as f:
        cfg = json.load(f)
    t = {}
    for k in st.keys():
        v = (st.dtype(k), np.array(st.raw(k)))
        parts = k.split(".")
        if ".mlp.experts." in k:
            parts[5] = str(perm.index(int(parts[5])))
        elif k.endswith("mlp.gate.weight") or k.endswith("e_score_correction_bias"):
            v = (v[0], v[1][perm])
        t[".".join(parts)] = v
    stn.save_checkpoint(dst, t)
    cfg.update(cfg_over)
    with open(os.path.join(dst, "config.json"), "w") as f:
        json.dump(cfg, f)


def test_router_model(tmp):
    over = {"n_routed_experts": 16, "n_group": 4, "topk_group": 2, "num_experts_per_tok": 4, "num_hidden_layers": 4}
    d = os.path.join(tmp, "grouped")
    tiny.write_model(d, over, seed=4)
    seq = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    m = Glm4MoeRef(d)
    base = full_logits(m, seq)
    r = np.random.default_rng(5)
    gperm = [2, 0, 3, 1]
    perm = [g * 4 + int(i) for g in gperm for i in r.permutation(4)]   # move whole groups + shuffle inside
    pd = os.path.join(tmp, "grouped_perm")
    permute_experts(d, pd, perm, {})
    check(rel(full_logits(Glm4MoeRef(pd), seq), base) < 1e-12,
          "(c) permuting whole groups and experts within groups leaves logits unchanged")
    # swapping experts across groups changes grouped routing, but not the n_group=1 model
    swap = list(range(16))
    swap[0], swap[5], swap[10], swap[15] = 5, 0, 15, 10     # exchange experts between groups 0<->1, 2<->3
    xd = os.path.join(tmp, "grouped_swap")
    permute_experts(d, xd, swap, {})
    moved = rel(full_logits(Glm4MoeRef(xd), seq), base)
    d1, x1 = os.path.join(tmp, "ungrouped"), os.path.join(tmp, "ungrouped_swap")
    permute_experts(d, d1, list(range(16)), {"n_group": 1, "topk_group": 1})
    permute_experts(d, x1, swap, {"n_group": 1, "topk_group": 1})
    u0, u1 = full_logits(Glm4MoeRef(d1), seq), full_logits(Glm4MoeRef(x1), seq)
    check(moved > 1e-6 and rel(u1, u0) < 1e-12 and rel(u0, base) > 1e-6,
          "(c) cross-group swap changes grouped logits, n_group=1 is invariant",
          f"grouped moved by rel {moved:.1e}")


def test_qk_norm(tmp):
    over = {"use_qk_norm": False}
    seq = [3, 1, 4, 1, 5, 9, 2, 6]
    a, b, c = (os.path.join(tmp, n) for n in ("noqk", "noqk_extra", "qk_missing"))
    cfg = dict(tiny.BASE_CONFIG, **over)
    wa = tiny.make_weights(cfg, 6)
    r = np.random.default_rng(9)
    wb = dict(wa, **{f"model.layers.{li}.self_attn.{n}_norm.weight": (1 + 0.3 * r.standard_normal(cfg["head_dim"]))
                     .astype(np.float32) for li in range(cfg["num_hidden_layers"] + 1) for n in "qk"})
    tiny.write_model(a, over, weights=wa)
    tiny.write_model(b, over, weights=wb)
    ma, mb = Glm4MoeRef(a), Glm4MoeRef(b)
    la, lb = full_logits(ma, seq), full_logits(mb, seq)
    has = any("q_norm" in k for k in ma.st.keys())
    check(not has and np.array_equal(la, lb), "(d) use_qk_norm=false: runs without q_norm/k_norm, ignores them if present")
    tiny.write_model(c, {"use_qk_norm": True}, weights=wb)
    lc = full_logits(Glm4MoeRef(c), seq)
    check(rel(lc, lb) > 1e-6, "(d) use_qk_norm=true applies q_norm/k_norm", f"rel change {rel(lc, lb):.1e}")
    tiny.write_model(c, {"use_qk_norm": True}, weights=wa)
    try:
        full_logits(Glm4MoeRef(c), seq)
        check(False, "(d) use_qk_norm=true without q_norm tensors is an error")
    except KeyError:
        check(True, "(d) use_qk_norm=true without q_norm tensors is an error")


def test_misc(tmp, m, seq):
    # RoPE: dims >= rd untouched, rotation preserves pair norms, position 0 is the identity
    x = np.random.default_rng(7).standard_normal((3, 2, m.hd))
    cos, sin = m.rope_cos_sin(np.array([0, 1, 1000]))
    y = m.rope(x, cos, sin)
    h = m.rd // 2
    pn = lambda z: z[..., :h] ** 2 + z[..., h:m.rd] ** 2
    ok = np.array_equal(y[..., m.rd:], x[..., m.rd:]) and np.allclose(pn(x), pn(y)) and np.allclose(y[0], x[0])
    # pair (0, h) at position 1 rotates by exactly inv_freq[0] = 1 rad
    ok &= np.allclose(y[1, :, 0], x[1, :, 0] * math.cos(1) - x[1, :, h] * math.sin(1))
    check(ok, "rope: NeoX split-half on first rd dims only, pos 0 identity, angle pos*inv_freq")
    # tied embeddings: no lm_head + tie == lm_head copied from embed_tokens
    cfg = dict(tiny.BASE_CONFIG)
    w = tiny.make_weights(cfg, 8)
    w2 = dict(w, **{"lm_head.weight": w["model.embed_tokens.weight"]})
    a, b = os.path.join(tmp, "tied"), os.path.join(tmp, "untied")
    tiny.write_model(a, {"tie_word_embeddings": True}, weights={k: v for k, v in w.items() if k != "lm_head.weight"})
    tiny.write_model(b, {}, weights=w2)
    check(np.array_equal(full_logits(Glm4MoeRef(a), seq), full_logits(Glm4MoeRef(b), seq)),
          "tie_word_embeddings: embed_tokens used as lm_head")
    # CLI: JSON + logits file match run()
    out = os.path.join(tmp, "cli.f32")
    import contextlib
    import io
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        ref_main(["--model", os.path.join(tmp, "base"), "--prompt-ids", ",".join(map(str, seq[:4])),
                  "-n", "6", "--logits-out", out])
    res = json.loads(buf.getvalue())
    lg, greedy = m.run(seq[:4], 6)
    dump = np.fromfile(out, dtype="<f4").reshape(6, m.V)
    check(res["tokens"] == greedy and np.array_equal(dump, lg.astype(np.float32)) and len(res["top"][0]) == 5
          and res["top"][0][0][0] == greedy[0] and res["eos_token_ids"] == [500, 507, 509],
          "cli: --logits-out [n][V] float32 and JSON tokens match run()")


def main():
    import time
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        test_format(tmp)
        m, seq = test_kv_cache(tmp)
        test_fp8(tmp)
        test_router()
        test_router_model(tmp)
        test_qk_norm(tmp)
        test_misc(tmp, m, seq)
    print(f"({time.time() - t0:.1f}s)")
    print(f"{RESULTS[0]} passed, {RESULTS[1]} failed")
    return 1 if RESULTS[1] else 0


if __name__ == "__main__":
    sys.exit(main())
