#!/usr/bin/python3
"""Compares the C engine (`glm run`) with the numpy glm4_moe reference on one prompt.

Owns: running `GLM run --model DIR --prompt-ids IDS -n N --json --dump-logits TMP --ignore-eos`,
recomputing the logits with ref_glm4_moe.py teacher-forced along the C tokens, and the checks
  (a) per step max|c - r| <= rtol * max|r|,
  (b) the reference's own greedy continuation equals the C tokens,
  (c) C's logprob of each token and of its top ids == log_softmax(ref)[id] within --lp-tol, and
      C's top-5 ids agree with the reference's where the reference's logprob gaps exceed 1e-4.
Logit files are float32 [n_steps][vocab]: step 0 = last prompt position, step i = after token i.
Prints one line per check, then "N passed, M failed"; exits 1 on any failure.

Usage: compare.py --glm BUILD/glm --model DIR --prompt-ids 1,2,3 -n 32 [--rtol 1e-4] [--glm-arg X ...]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ref_glm4_moe import Glm4MoeRef, log_softmax, parse_ids  # noqa: E402

TIE_GAP = 1e-4       # reference logprob gap below which two ids may legitimately swap ranks


class Checks:
    def __init__(self):
        self.passed = self.failed = 0

    def __call__(self, ok, what):
        self.passed += bool(ok)
        self.failed += not ok
        print(f"{'PASS' if ok else 'FAIL'} {what}", flush=True)

    def finish(self):
        print(f"{self.passed} passed, {self.failed} failed")
        return 1 if self.failed else 0


def num(x):
    return float(x) if isinstance(x, (int, float)) else float("nan")


def parse_json(text):
    try:
        return json.loads(text)
    except ValueError:
        for line in reversed(text.splitlines()):     # tolerate log lines around the object
            if line.strip().startswith("{"):
                return json.loads(line)
        raise


def run_glm(a, tmp):
    dump = os.path.join(tmp, "c_logits.f32")
    cmd = [a.glm, "run", "--model", a.model, "--prompt-ids", a.prompt_ids, "-n", str(a.n),
           "--json", "--dump-logits", dump, "--ignore-eos"] + a.glm_arg
    print("running:", " ".join(cmd), flush=True)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=a.timeout)
    return p, dump


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--glm", required=True, help="path to the glm binary")
    ap.add_argument("--model", required=True)
    ap.add_argument("--prompt-ids", required=True)
    ap.add_argument("-n", type=int, default=32)
    ap.add_argument("--rtol", type=float, default=1e-4)
    ap.add_argument("--lp-tol", type=float, default=1e-3, help="absolute logprob tolerance")
    ap.add_argument("--glm-arg", action="append", default=[], help="extra argument passed to glm (repeatable)")
    ap.add_argument("--timeout", type=float, default=600)
    a = ap.parse_args(argv)
    chk = Checks()
    prompt = parse_ids(a.prompt_ids)

    with tempfile.TemporaryDirectory() as tmp:
        try:
            p, dump = run_glm(a, tmp)
        except (OSError, subprocess.TimeoutExpired) as e:
            chk(False, f"glm could not run: {e}")
            return chk.finish()
        if p.returncode != 0:
            sys.stdout.write(p.stdout[-2000:] + p.stderr[-4000:])
            chk(False, f"glm run exited with status {p.returncode}")
            return chk.finish()
        try:
            res = parse_json(p.stdout)
            c_tok = [int(t["id"]) for t in res["tokens"]]
            raw = np.fromfile(dump, dtype="<f4")
        except (ValueError, KeyError, TypeError, OSError) as e:
            sys.stdout.write(p.stdout[-2000:] + p.stderr[-2000:])
            chk(False, f"glm output unreadable: {e!r}")
            return chk.finish()

    ref = Glm4MoeRef(a.model)
    V, S = ref.V, len(c_tok)
    ok = res.get("prompt_ids", prompt) == prompt and 0 < S <= a.n and raw.size == S * V
    chk(ok, f"glm run: {S}/{a.n} steps, finish_reason {res.get('finish_reason')!r}, "
            f"logit dump {raw.size} floats (expected {S} x {V})")
    if not ok:
        return chk.finish()
    C = raw.reshape(S, V).astype(np.float64)
    if S < a.n:
        print(f"note: glm stopped after {S} steps; comparing those only")

    # reference: own greedy run (b); teacher-forced along C's tokens unless they agree anyway (a, c)
    R_own, r_tok = ref.run(prompt, S)
    R = R_own if r_tok == c_tok else ref.run(prompt, S, teacher=c_tok)[0]
    if ref.min_router_margin != float("inf"):
        print(f"info: smallest router top-K/group margin seen by the reference: {ref.min_router_margin:.3e}")

    # (a) logits
    err = np.max(np.abs(C - R), axis=1) / np.maximum(np.max(np.abs(R), axis=1), 1e-30)
    w = int(np.argmax(err))
    chk(np.all(np.isfinite(C)) and err[w] <= a.rtol,
        f"(a) logits: worst max|c-r|/max|r| = {err[w]:.3e} at step {w} (rtol {a.rtol:g}, "
        f"{int(np.sum(err > a.rtol))} steps over)")

    # (b) greedy tokens
    if r_tok == c_tok:
        chk(True, f"(b) greedy: reference tokens == C tokens ({S} steps)")
    else:
        i = next(k for k in range(S) if r_tok[k] != c_tok[k])
        lp = log_softmax(R[i])
        chk(False, f"(b) greedy: first mismatch at step {i}: C {c_tok[i]} vs ref {r_tok[i]} "
                   f"(ref logprobs {lp[c_tok[i]]:.6f} vs {lp[r_tok[i]]:.6f}); C {c_tok[:i + 1]}, ref {r_tok[:i + 1]}")

    # (c) logprobs and top ids
    worst_lp, bad = 0.0, []
    for i, t in enumerate(res["tokens"]):
        lp = log_softmax(R[i])
        order = np.argsort(-lp, kind="stable")
        d = abs(num(t.get("logprob")) - lp[c_tok[i]])
        worst_lp = max(worst_lp, d)
        if not d <= a.lp_tol:
            bad.append(f"step {i}: logprob {t['logprob']} vs ref {lp[c_tok[i]]:.6f}")
        top = t.get("top")
        if not top:
            bad.append(f"step {i}: no top list")
            continue
        for j, (tid, tlp) in enumerate(top[:5]):
            tid = int(tid)
            d = abs(num(tlp) - lp[tid])
            worst_lp = max(worst_lp, d)
            if not d <= a.lp_tol:
                bad.append(f"step {i}: top[{j}] id {tid} logprob {tlp} vs ref {lp[tid]:.6f}")
            if tid != order[j] and abs(lp[tid] - lp[order[j]]) > TIE_GAP:
                bad.append(f"step {i}: top[{j}] C id {tid} vs ref id {int(order[j])} "
                           f"(ref gap {lp[order[j]] - lp[tid]:.2e})")
    chk(not bad, f"(c) logprobs: worst |c - log_softmax(ref)| = {worst_lp:.3e} (tol {a.lp_tol:g}); "
                 f"top-5 ids {'agree' if not bad else 'differ'}" + ("".join("\n    " + b for b in bad[:10])))
    return chk.finish()


if __name__ == "__main__":
    sys.exit(main())
