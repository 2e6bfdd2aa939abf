#!/usr/bin/python3
"""Crafts a tiny glm4_moe checkpoint whose greedy output is a chosen text (test helper).

The end-to-end server tests need a model that *really* says specific things (a <think> block,
a tool call, a long story) so that the server's detokenizer, stop strings, reasoning and
tool-call parsers are exercised on real engine output. This script writes one: a 1-layer
glm4_moe (dense MLP, no MoE layer) whose weights implement a lookup table

    (mode, last K+1 tokens) -> next token

Layout of the residual stream (dim D, all directions one-hot, F32 weights):
    [const] [cur slots] [prev1 slots] ... [prevK slots] [mode slots] [out slots]
  * embedding of a "table" token t = const + onehot(cur slot of t); any other token = const.
  * attention, "copy" heads: q and k are constant (biases only) in the rotary dims, chosen so
    the score is sum_j w cos((delta - d) theta_j) for relative distance d: it peaks at
    d = delta (rope_theta 2 spreads the frequencies so every other d in [0, max_pos) scores at
    least GAP nats lower, checked numerically below). V copies the cur slots; O writes them to
    the prev-delta block. So after attention the stream holds the tokens at distance 1..K.
  * attention, "mode" head: q constant, k non-zero only for marker tokens (in a non-rotary dim,
    so position does not matter), scaled by the mode's priority: the highest-priority marker
    anywhere in the context takes all the attention (V = its mode slot); without markers the
    attention is uniform and V is the default mode's slot for every token.
  * MLP, one hidden unit per table entry: gate = AND of the entry's context slots (using the
    const slot as a bias: positive only when all k+1 slots match), up = the entry's mode slot,
    down = the target's out slot. SiLU(gate) * up is ~0 unless context and mode match.
  * lm_head reads the out slots; tokens that are never a target have a zero row.
Every entry uses the shortest context (0..K previous tokens) whose successor is unique among all
occurrences in its mode's sequences, so every entry that fires points at the right token; a
sequence may therefore repeat tokens as long as some K+1-token window disambiguates.

A sequence is {"mode", "trigger", "text"}: the trigger is the prompt's last token (e.g.
"<|assistant|>"), the text what the model then says (ending with an eos token such as <|user|>).
Tokens after a sequence ends, or after an unknown context, get all-zero logits (uniform).

Usage: craft_model.py --glm BUILD/glm --spec spec.json --out DIR [--verify]
The spec may also set "like" (glm synth preset), "chat_template" (file), "context" (K),
"max_pos". --verify runs `glm run` greedily on each sequence's "verify_prompt" and checks the text.
"""
import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "model"))
from safetensors_np import SafeTensors, save_checkpoint  # noqa: E402

HEAD_DIM = 128          # rot_dim 64 (partial rotary 0.5): 32 frequencies
ROPE_THETA = 2.0
GAP = 40.0              # nats between the wanted position/marker and any other
MARKER_STEP = 40.0      # score of a marker = priority * MARKER_STEP
GATE_MARGIN = 24.0      # gate pre-activation (in units after the MLP norm) of a matching entry / 2
LOGIT = 40.0            # logit of the table's answer; everything else ~0


def run(cmd, inp=None):
    r = subprocess.run(cmd, input=inp, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"craft_model: {' '.join(cmd)} failed:\n{r.stderr}")
    return r.stdout


def tokenize(glm, ckpt, text):
    return json.loads(run([glm, "tokenize", "--model", ckpt], text))


def synth(glm, out, like, template, extra):
    cmd = [glm, "synth", "--like", like, "--tiny", "--layers", "1", "--dense-layers", "1", "--mtp", "0",
           "--dtype", "f32", "--qk-norm", "0", "--attention-bias", "1", "--out", out] + extra
    if template:
        cmd += ["--chat-template", template]
    run(cmd)


def build_entries(seqs_by_mode, K):
    """[(mode, ctx tuple (cur, prev1, ..., prevk), target)] with the shortest unique contexts."""
    entries = set()
    for mode, seqs in seqs_by_mode.items():
        occ = []  # (seq, position) of every token that has a successor
        for s in seqs:
            for i in range(len(s) - 1):
                occ.append((s, i))
        for s, i in occ:
            target = s[i + 1]
            limit = 0 if i == 0 else min(i, K)  # nothing is known before the trigger
            for k in range(limit + 1):
                ctx = tuple(s[i - r] for r in range(k + 1))
                unique = True
                for s2, j in occ:
                    # compare as far as s2 is known; earlier tokens of s2 come from a prompt
                    known = min(k, j)
                    if all(s2[j - r] == ctx[r] for r in range(known + 1)) and s2[j + 1] != target:
                        unique = False
                        break
                if unique:
                    entries.add((mode, ctx, target))
                    break
            else:
                raise SystemExit(f"craft_model: mode {mode}: the context of position {i} needs more than "
                                 f"{K} previous tokens to decide its successor; raise \"context\" or reword")
    return sorted(entries, key=lambda e: (e[0], len(e[1]), e[1], e[2]))


def copy_head_rho(max_pos, delta, thetas):
    d = np.arange(0, max_pos)
    d = d[d != delta]
    s = np.cos(np.outer(delta - d, thetas)).mean(axis=1)
    return float(s.max())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--glm", required=True)
    ap.add_argument("--spec", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--verify", action="store_true")
    a = ap.parse_args()
    spec = json.load(open(a.spec))
    K = int(spec.get("context", 3))
    like = spec.get("like", "glm-4.5-air")
    template = spec.get("chat_template")
    if template and not os.path.isabs(template):
        template = os.path.join(os.path.dirname(os.path.abspath(a.spec)), template)
    max_pos = int(spec.get("max_pos", 2048))

    # the tokenizer first (it decides the token ids), from a throwaway synth
    tmp = tempfile.mkdtemp(prefix="craft-")
    try:
        synth(a.glm, tmp, like, template, [])
        modes = spec["modes"]
        mode_names = [m["name"] for m in modes]
        markers = {}
        for m in modes:
            if m.get("marker") is None:
                continue
            ids = tokenize(a.glm, tmp, m["marker"])
            if len(ids) != 1:
                raise SystemExit(f"craft_model: marker {m['marker']!r} is {len(ids)} tokens, not 1")
            markers[m["name"]] = (ids[0], float(m["priority"]))
        seqs_by_mode = {n: [] for n in mode_names}
        for s in spec["sequences"]:
            trig = tokenize(a.glm, tmp, s["trigger"])
            if len(trig) != 1:
                raise SystemExit(f"craft_model: trigger {s['trigger']!r} is not one token")
            toks = trig + tokenize(a.glm, tmp, s["text"])
            # a marker in the output would switch the mode mid-sequence unless it is the
            # sequence's own or one of lower priority
            own = markers.get(s["mode"], (None, 0.0))
            for mname, (mid, prio) in markers.items():
                if mid in toks[1:] and mname != s["mode"] and prio >= own[1]:
                    raise SystemExit(f"craft_model: sequence {s['text'][:30]!r} contains the marker of mode {mname}")
            seqs_by_mode[s["mode"]].append(toks)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    entries = build_entries(seqs_by_mode, K)
    table = sorted({t for seqs in seqs_by_mode.values() for s in seqs for t in s} | {m[0] for m in markers.values()})
    targets = sorted({e[2] for e in entries})
    slot = {t: i for i, t in enumerate(table)}
    out_slot = {t: i for i, t in enumerate(targets)}
    n_slots, n_modes, n_out = len(table), len(mode_names), len(targets)
    if n_modes > HEAD_DIM:
        raise SystemExit("craft_model: too many modes")
    copy_per_offset = -(-n_slots // HEAD_DIM)
    H = K * copy_per_offset + 1
    # residual layout
    CONST = 0
    CUR = 1
    PREV = [CUR + n_slots * (d + 1) for d in range(K)]
    MODE = CUR + n_slots * (K + 1)
    OUT = MODE + n_modes
    D = -(-(OUT + n_out) // 64) * 64
    F = max(64, -(-len(entries) // 64) * 64)

    os.makedirs(os.path.dirname(os.path.abspath(a.out)) or ".", exist_ok=True)
    if os.path.exists(a.out):
        shutil.rmtree(a.out)
    synth(a.glm, a.out, like, template,
          ["--dim", str(D), "--heads", str(H), "--kv-heads", str(H), "--head-dim", str(HEAD_DIM), "--ffn", str(F),
           "--rope-theta", str(ROPE_THETA), "--max-pos", str(max_pos), "--partial-rotary", "0.5"])
    st = SafeTensors(a.out)
    shapes = {n: st.shape(n) for n in st.keys()}
    cfg = json.load(open(os.path.join(a.out, "config.json")))
    V, eps = cfg["vocab_size"], cfg["rms_norm_eps"]
    del st

    T = {n: np.zeros(s, dtype=np.float32) for n, s in shapes.items()}
    c0 = 1.0
    E = T["model.embed_tokens.weight"]
    E[:, CONST] = c0
    for t, i in slot.items():
        E[t, CUR + i] = 1.0
    nu0 = math.sqrt(D / (c0 * c0 + 1.0))  # input norm scale of a table token
    for n in ("model.layers.0.input_layernorm.weight", "model.layers.0.post_attention_layernorm.weight",
              "model.norm.weight"):
        T[n][:] = 1.0

    hd, rot = HEAD_DIM, HEAD_DIM // 2
    half = rot // 2
    thetas = ROPE_THETA ** (-np.arange(half) * 2.0 / rot)
    thetas = thetas.astype(np.float32).astype(np.float64)
    scale = 1.0 / math.sqrt(hd)
    q_b, k_b = T["model.layers.0.self_attn.q_proj.bias"], T["model.layers.0.self_attn.k_proj.bias"]
    Wk, Wv, Wo = (T[f"model.layers.0.self_attn.{x}_proj.weight"] for x in "kvo")
    for di in range(K):
        delta = di + 1
        rho = copy_head_rho(max_pos, delta, thetas)
        w = GAP / (half * (1.0 - rho))  # per-frequency weight: peak half*w, others <= peak - GAP
        amp = math.sqrt(w / scale)
        for c in range(copy_per_offset):
            h = di * copy_per_offset + c
            q_b[h * hd:h * hd + half] = amp
            k_b[h * hd:h * hd + half] = amp * np.cos(delta * thetas)
            k_b[h * hd + half:h * hd + rot] = amp * np.sin(delta * thetas)
            for r in range(hd):
                s = c * hd + r
                if s >= n_slots:
                    break
                Wv[h * hd + r, CUR + s] = 1.0 / nu0
                Wo[PREV[di] + s, h * hd + r] = 1.0
    hm = H - 1
    q_b[hm * hd + rot] = 1.0
    v_b = T["model.layers.0.self_attn.v_proj.bias"]
    default = mode_names[0]
    v_b[hm * hd + mode_names.index(default)] = 1.0
    for mname, (mid, prio) in markers.items():
        mi = mode_names.index(mname)
        Wk[hm * hd + rot, CUR + slot[mid]] = prio * MARKER_STEP / scale / nu0
        Wv[hm * hd + mi, CUR + slot[mid]] += 1.0 / nu0
        Wv[hm * hd + mode_names.index(default), CUR + slot[mid]] -= 1.0 / nu0
    for mi in range(n_modes):
        Wo[MODE + mi, hm * hd + mi] = 1.0

    # MLP: the smallest post-attention norm scale decides the gate gain
    nu1_min = math.sqrt(D / (c0 * c0 + 1 + K + 1))
    nu1_typ = math.sqrt(D / (c0 * c0 + 1 + K + 1))
    G = 2 * GATE_MARGIN / nu1_min
    Wg, Wu, Wd = (T[f"model.layers.0.mlp.{x}_proj.weight"] for x in ("gate", "up", "down"))
    y_target = 8.0
    beta = y_target / (GATE_MARGIN * nu1_typ)  # silu(0.5*G*nu1) ~ 0.5*G*nu1 = GATE_MARGIN*nu1/nu1_min
    for u, (mode, ctx, target) in enumerate(entries):
        k = len(ctx) - 1
        for r, t in enumerate(ctx):
            base = CUR if r == 0 else PREV[r - 1]
            Wg[u, base + slot[t]] = G
        Wg[u, CONST] = -G * (k + 0.5) / c0
        Wu[u, MODE + mode_names.index(mode)] = 1.0
        Wd[OUT + out_slot[target], u] = beta
    L = LOGIT / (math.sqrt(D) * 0.95)
    lm = T["lm_head.weight"]
    for t, i in out_slot.items():
        lm[t, OUT + i] = L

    save_checkpoint(a.out, T)
    info = {"dim": D, "heads": H, "ffn": F, "entries": len(entries), "table_tokens": n_slots, "targets": n_out,
            "modes": mode_names, "context": K, "vocab": V}
    with open(os.path.join(a.out, "CRAFTED.json"), "w") as f:
        json.dump(info, f, indent=1)
    print(f"craft_model: wrote {a.out}: {json.dumps(info)}")

    if a.verify:
        bad = 0
        for s in spec["sequences"]:
            vp = s.get("verify_prompt")
            if vp is None:
                continue
            want = s["text"]
            out = run([a.glm, "run", "--model", a.out, "--prompt", vp + s["trigger"], "--json", "-n", "400",
                       "--temperature", "0"])
            got = json.loads(out)
            toks = [t["id"] for t in got["tokens"]]
            text = json.loads(run([a.glm, "tokenize", "--model", a.out, "--decode"], json.dumps(toks)))
            lps = [t["logprob"] for t in got["tokens"]]
            ok = text == want
            bad += not ok
            print(f"craft_model: verify {s['mode']}: {'ok' if ok else 'MISMATCH'} "
                  f"(min logprob {min(lps):.2e}){'' if ok else ': ' + repr(text)}")
        if bad:
            raise SystemExit(f"craft_model: {bad} sequence(s) did not come out as crafted")


if __name__ == "__main__":
    main()
