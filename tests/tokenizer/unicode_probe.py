#!/usr/bin/env python3
"""unicode_probe.py - checks that the C pre-tokenizer's regex classes match what HF tokenizers
(Oniguruma, via tokref) matches, code point by code point.

For each property P (\\p{L}, \\p{N}, ..., \\w, \\d, \\s) it builds a tokenizer.json whose
pre-tokenizer is Split(P, Isolated) in front of a BPE with only <unk> (fuse_unk): the text
"cc" (code point c twice) then encodes to two ids if c matches P and to one id otherwise. Both
tokref and tok_batch encode every probed code point in one batch each; any disagreement is
printed as PCRE2 class items (the form of unicode_extra[] in src/tokenizer/pretok.c).

  unicode_probe.py --tok-batch BIN --tokref DIR            all code points (minutes)
  unicode_probe.py --tok-batch BIN --tokref DIR --quick    a sample, for CTest (seconds)

Ends with "N passed, M failed" (one check per property).
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile

FULL = ["\\p{L}", "\\p{N}", "\\p{P}", "\\p{M}", "\\p{Nd}", "\\p{S}", "\\w", "\\d", "\\s"]
QUICK = ["\\p{L}", "\\p{N}", "\\s", "\\w"]
# blocks where Unicode 15/16 added letters, numbers or marks (see pretok.c)
NEW_RANGES = [(0x1C80, 0x1C8F), (0xA7C0, 0xA7FF), (0x10500, 0x1063F), (0x10D40, 0x10D8F), (0x10EC0, 0x10EFF),
              (0x11200, 0x1124F), (0x11380, 0x113FF), (0x11B00, 0x11BFF), (0x11F00, 0x11F5F), (0x13430, 0x1345F),
              (0x13460, 0x143FF), (0x16100, 0x1613F), (0x16D40, 0x16D7F), (0x1CC00, 0x1CEBF), (0x1E030, 0x1E08F),
              (0x1E4D0, 0x1E4FF), (0x1E5D0, 0x1E5FF), (0x2B730, 0x2B73F), (0x2EBF0, 0x2EE5F), (0x31350, 0x323AF)]


def probe_json(prop):
    return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": [], "normalizer": None,
            "pre_tokenizer": {"type": "Split", "pattern": {"Regex": prop}, "behavior": "Isolated", "invert": False},
            "post_processor": None, "decoder": None,
            "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                      "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": False, "ignore_merges": False,
                      "vocab": {"<unk>": 0}, "merges": []}}


def members(cmd, cps):
    inp = "".join(json.dumps(chr(c) * 2) + "\n" for c in cps).encode()
    r = subprocess.run(cmd, input=inp, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode:
        raise SystemExit("%s failed: %s" % (cmd[0], r.stderr.decode()[-2000:]))
    out = [json.loads(l) for l in r.stdout.decode().split("\n") if l]
    if len(out) != len(cps):
        raise SystemExit("%s: %d results for %d inputs" % (cmd[0], len(out), len(cps)))
    return {c for c, o in zip(cps, out) if len(o.get("ids", o) if isinstance(o, dict) else o) == 2}


def as_class(cps):
    items, run = [], None
    for c in sorted(cps):
        if run and run[1] == c - 1:
            run[1] = c
        else:
            run = [c, c]
            items.append(run)
    return "".join("\\x{%X}" % a if a == b else "\\x{%X}-\\x{%X}" % (a, b) for a, b in items)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tok-batch", required=True)
    ap.add_argument("--tokref", required=True)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.quick:
        rng = random.Random(7)
        cps = set(range(0, 0x800)) | {c for a, b in NEW_RANGES for c in range(a, b + 1, 3)}
        cps |= {rng.randint(0x800, 0x3FFFF) for _ in range(3000)} | {0x180E, 0x1C, 0x85, 0x200B, 0xFEFF, 0x3000}
        props = QUICK
    else:
        cps = set(range(0, 0x110000))
        props = FULL
    cps = sorted(c for c in cps if not 0xD800 <= c <= 0xDFFF)
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for prop in props:
            path = os.path.join(tmp, "probe.json")
            with open(path, "w") as f:
                json.dump(probe_json(prop), f)
            ref = members(["node", os.path.join(args.tokref, "tokref.cjs"), path, "--json"], cps)
            got = members([args.tok_batch, path], cps)
            print("%-7s %d code points probed, tokref matches %d, C matches %d" % (prop, len(cps), len(ref), len(got)))
            if ref == got:
                passed += 1
                continue
            failed += 1
            if ref - got:
                print("  only tokref matches: " + as_class(ref - got))
            if got - ref:
                print("  only C matches: " + as_class(got - ref))
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
