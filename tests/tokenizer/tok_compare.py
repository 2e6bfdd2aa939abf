#!/usr/bin/env python3
"""tok_compare.py - compares the C tokenizer (tok_batch, glm tokenize) with tokref (Hugging Face
tokenizers 0.22 via node) in batches: one tokref process and one tok_batch process per check.

  tok_compare.py vectors  --tok-batch BIN --tokref DIR --tokenizer JSON --vectors DIR
  tok_compare.py random   --tok-batch BIN --tokref DIR --tokenizer JSON [--n 3000] [--seed 1]
  tok_compare.py builtin  --tok-batch BIN --tokref DIR [--n 1000]
  tok_compare.py variants --tok-batch BIN --tokref DIR [--n 300]
  tok_compare.py cli      --glm BIN --tok-batch BIN --tokref DIR

Every mode prints what failed and ends with "N passed, M failed" (exit status 1 if M > 0).
"""
import argparse
import copy
import json
import os
import random
import subprocess
import sys
import tempfile

passed = 0
failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        if failed <= 40:
            print("FAIL " + what, flush=True)


def short(s, n=120):
    r = repr(s)
    return r if len(r) <= n else r[:n] + "..."


def run(cmd, inp, what):
    r = subprocess.run(cmd, input=inp.encode("utf-8"), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    err = r.stderr.decode("utf-8", "replace").strip()
    if err:
        print(err, flush=True)
    if r.returncode != 0:
        raise SystemExit("%s failed with status %d" % (what, r.returncode))
    # split on "\n" only: str.splitlines would also split at U+2028, U+0085, ...
    return [l for l in r.stdout.decode("utf-8").split("\n") if l]


def json_lines(items):
    return "".join(json.dumps(x, ensure_ascii=True) + "\n" for x in items)


def tokref(args, tj, items, *flags):
    out = run(["node", os.path.join(args.tokref, "tokref.cjs"), tj] + list(flags), json_lines(items), "tokref")
    return [json.loads(l) for l in out]


def c_batch(args, tj, items, *flags):
    out = run([args.tok_batch, tj] + list(flags), json_lines(items), "tok_batch")
    return [json.loads(l) for l in out]


def compare(args, tj, texts, label, roundtrip=True, expected=None, id_sets=(), decodes=((), ("--skip-special",))):
    """Encodes texts with both, compares ids (and the expected ids if given); checks
    decode(encode(x)) == x and the incremental detokenizer; compares decode with and without
    skip_special on the ids and on extra id sequences (id_sets)."""
    ref = tokref(args, tj, texts, "--json")
    got = c_batch(args, tj, texts)
    check(len(ref) == len(texts) and len(got) == len(texts), "%s: line counts %d/%d/%d" % (label, len(texts), len(ref), len(got)))
    if len(ref) != len(texts) or len(got) != len(texts):
        return
    for i, (t, r, g) in enumerate(zip(texts, ref, got)):
        ids = g.get("ids")
        if ids is None:
            check(False, "%s[%d] %s: C error %s" % (label, i, short(t), g.get("error")))
            continue
        k = next((j for j in range(min(len(ids), len(r))) if ids[j] != r[j]), min(len(ids), len(r)))
        check(ids == r, "%s[%d] %s: ids differ from tokref at %d: C %s tokref %s" % (label, i, short(t), k, ids[k:k + 6], r[k:k + 6]))
        if expected is not None:
            check(ids == expected[i], "%s[%d]: ids differ from the ground truth" % (label, i))
        if roundtrip:
            check(g["text"] == t, "%s[%d]: decode(encode(x)) != x: %s -> %s" % (label, i, short(t), short(g["text"])))
        check(g["detok"], "%s[%d]: incremental detokenizer mismatch (skip_special=false)" % (label, i))
        check(g["detok_skip"], "%s[%d]: incremental detokenizer mismatch (skip_special=true)" % (label, i))
    seqs = [g.get("ids") or [] for g in got] + list(id_sets)
    for flags in decodes:
        rd = tokref(args, tj, seqs, "--decode", *flags)
        cd = c_batch(args, tj, seqs, "--decode", *flags)
        check(len(rd) == len(seqs) and len(cd) == len(seqs), "%s: decode line counts" % label)
        for i, (a, b) in enumerate(zip(rd, cd)):
            check(a == b, "%s: decode%s of %s: tokref %s C %s" % (label, " ".join(("",) + flags), short(seqs[i], 80), short(a), short(b)))


# ---- random text ------------------------------------------------------------------------

SPECIALS = ["<|endoftext|>", "[MASK]", "[gMASK]", "[sMASK]", "<sop>", "<eop>", "<|system|>", "<|user|>",
            "<|assistant|>", "<|observation|>", "<|begin_of_image|>", "<|end_of_image|>", "<|begin_of_video|>",
            "<|end_of_video|>", "<|begin_of_audio|>", "<|end_of_audio|>", "<|begin_of_transcription|>",
            "<|end_of_transcription|>", "<|code_prefix|>", "<|code_middle|>", "<|code_suffix|>", "<think>",
            "</think>", "<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>", "<arg_key>",
            "</arg_key>", "<arg_value>", "</arg_value>", "/nothink", "<|begin_of_box|>", "<|end_of_box|>",
            "<|image|>", "<|video|>"]
NEAR_SPECIALS = ["<|user", "|user|>", "<|endoftext", "[gMASK", "<think", "</think", "<think >", "< think>",
                 "<tool_call", "/nothin", "<|", "|>", "<<|user|>>", "[[gMASK]]", "<|<|user|>|>", "<sop", "<>",
                 "<|endoftext|><|endoftext|>", "<think></think>", "</arg_key><arg_value>"]
WORDS = ["the", "The", "THE", "model", "token", "hello", "world", "don't", "it's", "I'm", "we'll", "you've",
         "they're", "he'd", "IT'S", "WE'LL", "naïve", "café", "Straße", "Ærø", "fiancée", "Übermensch", "x", "a",
         "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "function", "return", "print", "self", "__init__",
         "snake_case", "camelCase", "HTTP", "JSON", "GPU", "llama", "glm", "Zhipu", "ſ", "ǅ", "ﬁ", "Ⅻ"]
SCRIPTS = [
    (0x4E00, 0x9FFF), (0x3040, 0x309F), (0x30A0, 0x30FF), (0xAC00, 0xD7A3), (0x0400, 0x04FF), (0x0370, 0x03FF),
    (0x0600, 0x06FF), (0x05D0, 0x05EA), (0x0900, 0x097F), (0x0E00, 0x0E7F), (0x00C0, 0x024F), (0x1E00, 0x1EFF),
    (0x0530, 0x058F), (0x10A0, 0x10FF), (0x0B80, 0x0BFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF),
]
EMOJI = ["😀", "🤔", "👍🏽", "👨‍👩‍👧‍👦", "🇨🇳", "🇺🇸", "1️⃣", "❤️", "🏳️‍🌈", "🧑🏿‍🚀", "🙂", "🔥", "✨", "🚀", "🐍",
         "🀄", "🃏", "🫠", "🧪", "☕"]
SPACES = [" ", "  ", "   ", "    ", "\t", "\t\t", "\n", "\n\n", "\r\n", "\r\n\r\n", "\r", " \n", "\n ", " \t \n",
          "\u00a0", "\u3000", "\u2028", "\u2029", "\u0085", "\u180e", "\u200b", "\ufeff", "\u2003", "\u202f",
          "\x0b", "\x0c", "\x1c", "\x1f", " \r\n  ", "\n\n\n"]
PUNCT = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") + ["...", "…", "—", "–", "«", "»", "¿", "¡", "、", "。", "，",
                                                      "“", "”", "‘", "’", "’s", "’S", "'s", "'S", "'ll", "'LL",
                                                      "'ve", "'re", "'d", "'m", "'t", "''", "```", "->", "=>",
                                                      "::", "!=", "<=", "//", "/*", "*/", "#!", "&&", "||"]
DIGITS = ["0", "7", "42", "123", "1234", "12345", "1234567890", "3.14159", "1,000,000", "٣٤٥", "１２３", "²", "½",
          "¾", "Ⅻ", "₁₂", "0x1F", "1e-9", "2024-01-01", "12:30:45", "१२३", "๑๒๓"]
CONTROL = ["\x00", "\x01", "\x07", "\x1b", "\x7f", "\x80", "\x9f", "\u00ad", "\u200d", "\u2060", "\ue000", "\U0010fffd",
           "\ufffd", "\ufffe", "\U0001d49c", "\u0301", "e\u0301", "a\u0308\u0304", "\u0915\u094d\u0937"]


def rand_text(rng):
    parts = []
    for _ in range(rng.randint(1, 30)):
        k = rng.random()
        if k < 0.22:
            w = rng.choice(WORDS)
            parts.append(w if rng.random() < 0.7 else w.upper() if rng.random() < 0.5 else w.capitalize())
        elif k < 0.34:
            parts.append(rng.choice(SPACES))
        elif k < 0.44:
            lo, hi = rng.choice(SCRIPTS)
            parts.append("".join(chr(rng.randint(lo, hi)) for _ in range(rng.randint(1, 8))))
        elif k < 0.52:
            parts.append(rng.choice(PUNCT))
        elif k < 0.60:
            if rng.random() < 0.5:
                parts.append(rng.choice(DIGITS))
            else:
                parts.append("".join(rng.choice("0123456789") for _ in range(rng.randint(1, 14))))
        elif k < 0.67:
            parts.append(rng.choice(EMOJI))
        elif k < 0.74:
            parts.append(rng.choice(SPECIALS))
        elif k < 0.78:
            parts.append(rng.choice(NEAR_SPECIALS))
        elif k < 0.82:
            parts.append(rng.choice(CONTROL))
        elif k < 0.85:  # long runs
            parts.append(rng.choice([" ", "\n", "a", "7", "!", "\t", "中", "😀", " \n", "ab"]) * rng.randint(10, 300))
        elif k < 0.93:
            parts.append("".join(chr(rng.randint(0x20, 0x7E)) for _ in range(rng.randint(1, 12))))
        else:  # any non-surrogate code point of the BMP / astral planes
            cp = rng.randint(0x80, 0x2FFFF)
            parts.append(chr(cp) if not 0xD800 <= cp <= 0xDFFF else "?")
    sep = rng.choice(["", "", " ", "\n"])
    return sep.join(parts)


def rand_texts(seed, n):
    rng = random.Random(seed)
    texts = [rand_text(rng) for _ in range(n)]
    texts += ["", " ", "\n", "\r\n", "a", "<|user|>", "<|user|><|user|>", "  <think>  ", "'s", "\u180e\u180e!"]
    return texts


def rand_id_sets(seed, n, vocab):
    """Random id sequences (decode-only): byte tokens that form invalid UTF-8, specials,
    unknown ids."""
    rng = random.Random(seed)
    sets = []
    for _ in range(n):
        ids = []
        for _ in range(rng.randint(0, 20)):
            k = rng.random()
            if k < 0.5:
                ids.append(rng.randint(0, 255))
            elif k < 0.8:
                ids.append(rng.randint(0, vocab - 1))
            elif k < 0.95:
                ids.append(vocab - rng.randint(1, 36))
            else:
                ids.append(vocab + rng.randint(0, 1000))
        sets.append(ids)
    return sets


# ---- modes ------------------------------------------------------------------------------

def mode_vectors(args):
    d = args.vectors
    unesc = lambda l: l.replace("\\n", "\n").replace("\\s", " ").replace("\\x", "")
    lines = lambda p: [l for l in open(p, encoding="utf-8").read().split("\n") if l]
    texts, exp = [], []
    for s in ("small", "mixed"):
        texts += [unesc(l) for l in lines(os.path.join(d, s + "_input.txt"))]
        exp += [[int(x) for x in l.split(",")] for l in lines(os.path.join(d, s + "_tokens_glm46.txt"))]
    texts.append(open(os.path.join(d, "utf8_input.txt"), encoding="utf-8").read())
    exp.append([int(x) for l in lines(os.path.join(d, "utf8_tokens_glm46.txt")) for x in l.split(",")])
    for v in json.load(open(os.path.join(d, "extra_vectors.json"), encoding="utf-8"))["vectors"]:
        texts.append(v["text"])
        exp.append(v["ids"])
    print("%d vectors" % len(texts))
    check(len(texts) == 142, "expected 142 vectors, found %d" % len(texts))
    compare(args, args.tokenizer, texts, "vector", expected=exp)


def mode_random(args):
    texts = rand_texts(args.seed, args.n)
    print("%d random texts (seed %d), %d chars" % (len(texts), args.seed, sum(map(len, texts))))
    compare(args, args.tokenizer, texts, "random", id_sets=rand_id_sets(args.seed + 1, 300, 151365))


def write_builtin(args, n_merges, path):
    out = run([args.tok_batch, "--write-builtin", str(n_merges), path], "", "tok_batch --write-builtin")
    return int(out[0])


def mode_builtin(args):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "tokenizer.json")
        for n_merges in (0, 300, 5000):
            vs = write_builtin(args, n_merges, path)
            tj = json.load(open(path, encoding="utf-8"))
            merges = len(tj["model"]["merges"])
            check(merges <= n_merges, "builtin %d: %d merges written" % (n_merges, merges))
            check(vs == len(tj["model"]["vocab"]) + 36, "builtin %d: vocab size %d" % (n_merges, vs))
            texts = rand_texts(args.seed + n_merges, args.n)
            texts += ["The quick brown fox jumps over the lazy dog.", "你好，世界！今天天气很好。",
                      "def fibonacci(n):\n    return n\n", "[gMASK]<sop><|user|>\nhi<|assistant|>\n<think></think>ok"]
            print("builtin tokenizer, %d merges requested, %d written, vocab %d: %d texts" % (n_merges, merges, vs, len(texts)))
            compare(args, path, texts, "builtin%d" % n_merges, id_sets=rand_id_sets(args.seed, 200, vs))


def variant_files(base):
    """(name, tokenizer.json dict, lossless) variants of the built-in tokenizer that exercise the
    options GLM does not use."""
    out = []
    v = copy.deepcopy(base)
    v["model"]["merges"] = [a + " " + b for a, b in v["model"]["merges"]]
    out.append(("legacy-merges", v, True))
    v = copy.deepcopy(base)
    v["model"]["ignore_merges"] = False
    out.append(("no-ignore-merges", v, True))
    v = copy.deepcopy(base)
    del v["model"]["ignore_merges"]
    out.append(("ignore-merges-missing", v, True))
    # added-token flags; ids past the end
    v = copy.deepcopy(base)
    nxt = max(t["id"] for t in v["added_tokens"]) + 1
    flags = {"<think>": dict(lstrip=True, rstrip=True), "</think>": dict(single_word=True),
             "<|user|>": dict(rstrip=True), "<|assistant|>": dict(lstrip=True), "[MASK]": dict(single_word=True, lstrip=True),
             "<tool_call>": dict(normalized=True)}
    for t in v["added_tokens"]:
        t.update(flags.get(t["content"], {}))
    extra = [("hello", dict(single_word=True, normalized=True, special=False)),
             ("wor", dict(normalized=False, special=False)), ("world", dict(normalized=True, special=True)),
             ("ab", dict(special=False, lstrip=True)), ("abc", dict(special=True, rstrip=True)),
             ("\u00e9t\u00e9", dict(special=False, single_word=True)), ("fox jumps", dict(special=True)),
             ("<|user|>", dict(special=True))]  # a duplicate content: keeps its id
    for content, f in extra:
        t = dict(id=nxt, content=content, single_word=False, lstrip=False, rstrip=False, normalized=False, special=False)
        t.update(f)
        v["added_tokens"].append(t)
        nxt += 1
    out.append(("added-flags", v, False))
    # ids in the file that HF does not use (it assigns the next free id)
    v = copy.deepcopy(base)
    v["added_tokens"][3]["id"] += 1000
    v["added_tokens"].append(dict(id=5, content="the", single_word=False, lstrip=False, rstrip=False, normalized=False, special=True))
    out.append(("added-ids", v, True))
    # pre-tokenizer variants
    split = lambda pat, beh, inv=False, lit=False: {"type": "Split", "pattern": {"String" if lit else "Regex": pat},
                                                    "behavior": beh, "invert": inv}
    bl = lambda aps=False, rx=False: {"type": "ByteLevel", "add_prefix_space": aps, "trim_offsets": True, "use_regex": rx}
    glm = base["pre_tokenizer"]["pretokenizers"][0]
    for name, steps in [
        ("bytelevel-regex", [bl(False, True)]),
        ("bytelevel-prefix", [bl(True, True)]),
        ("bytelevel-prefix-noregex", [glm, bl(True, False)]),
        ("removed", [split("\\s+", "Removed"), bl()]),
        ("merged-prev", [split("[0-9]|\\s", "MergedWithPrevious"), bl()]),
        ("merged-next", [split("[0-9]|\\s", "MergedWithNext"), bl()]),
        ("contiguous", [split("\\p{P}", "Contiguous"), bl()]),
        ("isolated-invert", [split("\\p{L}+", "Isolated", True), bl()]),
        ("merged-next-invert", [split("\\s+", "MergedWithNext", True), bl()]),
        ("literal", [split("the", "Isolated", lit=True), bl()]),
        ("literal-removed", [split(" ", "Removed", lit=True), bl()]),
        ("ws-word-classes", [split("\\w+|\\W", "Isolated"), bl()]),
        ("anchors", [split("^\\s+|\\s+$|x$", "Isolated"), bl()]),
        ("nested-sequence", [{"type": "Sequence", "pretokenizers": [glm]}, bl()]),
    ]:
        v = copy.deepcopy(base)
        v["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": steps}
        lossless = name not in ("removed", "literal-removed", "bytelevel-prefix", "bytelevel-prefix-noregex")
        out.append(("pretok-" + name, v, lossless))
    v = copy.deepcopy(base)
    v["pre_tokenizer"] = bl(False, False)  # not inside a Sequence
    out.append(("pretok-bytelevel-alone", v, True))
    v = copy.deepcopy(base)
    v["pre_tokenizer"] = None  # the model sees raw characters: most are dropped (no unk)
    out.append(("pretok-null", v, False))
    # a char-level BPE with unk / fuse_unk / byte_fallback and no decoder
    chars = list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,!?'中文😀")
    vocab = {c: i for i, c in enumerate(chars)}
    merges = []
    for a, b in [("t", "h"), ("th", "e"), ("e", "r"), ("i", "n"), ("a", "n"), ("o", "n"), ("h", "e"), (" ", "t"),
                 (" t", "he"), ("in", "g"), ("中", "文")]:
        if a + b not in vocab:
            vocab[a + b] = len(vocab)
        merges.append([a, b])
    vocab["<unk>"] = len(vocab)
    for b in range(256):
        vocab["<0x%02X>" % b] = len(vocab)
    char_model = {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": merges}
    for name, upd in [("unk", {}), ("fuse-unk", {"fuse_unk": True}), ("byte-fallback", {"byte_fallback": True}),
                      ("byte-fallback-fuse", {"byte_fallback": True, "fuse_unk": True}),
                      ("no-unk", {"unk_token": None})]:
        m = copy.deepcopy(char_model)
        m.update(upd)
        v = {"version": "1.0", "truncation": None, "padding": None,
             "added_tokens": [dict(id=len(vocab), content="<|user|>", single_word=False, lstrip=False, rstrip=False,
                                   normalized=False, special=True)],
             "normalizer": None, "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "\\s+"}, "behavior": "MergedWithNext",
                                                   "invert": False},
             "post_processor": None, "decoder": None, "model": m}
        out.append(("charbpe-" + name, v, False))
    return out


def mode_variants(args):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "base.json")
        write_builtin(args, 400, path)
        base = json.load(open(path, encoding="utf-8"))
        rng = random.Random(args.seed)
        words = ["hello", "world", "wor", "ab", "abc", "été", "fox jumps", "the", " hello ", "xhello", "hello_", "helloé",
                 "abcabc", " ab", "abc ", "\tab\t"]
        for i, (name, v, lossless) in enumerate(variant_files(base)):
            vp = os.path.join(tmp, "v%d.json" % i)
            with open(vp, "w", encoding="utf-8") as f:
                json.dump(v, f, ensure_ascii=False)
            texts = rand_texts(args.seed + i, args.n)
            for _ in range(args.n // 2):  # texts dense in the added tokens and their neighbours
                texts.append("".join(rng.choice(words + SPECIALS[:10] + SPACES[:8] + ["x", "1", "中文", "😀", "!"])
                                     for _ in range(rng.randint(1, 12))))
            print("variant %s: %d texts" % (name, len(texts)), flush=True)
            vs = max(list(v["model"]["vocab"].values()) + [t["id"] for t in v["added_tokens"]]) + 1
            # plain decode is covered by the round trip where the variant is lossless
            decodes = (("--skip-special",),) if lossless else ((), ("--skip-special",))
            compare(args, vp, texts, name, roundtrip=lossless, id_sets=rand_id_sets(args.seed + i, 100, vs), decodes=decodes)


def mode_cli(args):
    with tempfile.TemporaryDirectory() as tmp:
        write_builtin(args, 500, os.path.join(tmp, "tokenizer.json"))
        tj = os.path.join(tmp, "tokenizer.json")
        texts = rand_texts(args.seed, 20) + ["[gMASK]<sop><|user|>\nhello<|assistant|>\n<think></think>Hi!\n"]
        ref = tokref(args, tj, texts, "--json")
        for i, t in enumerate(texts):
            r = subprocess.run([args.glm, "tokenize", "--model", tmp], input=t.encode("utf-8"), stdout=subprocess.PIPE)
            check(r.returncode == 0, "cli[%d]: status %d" % (i, r.returncode))
            ids = json.loads(r.stdout.decode("utf-8"))
            check(ids == ref[i], "cli[%d] %s: ids %s, tokref %s" % (i, short(t), ids[:8], ref[i][:8]))
            for flags in ([], ["--skip-special"]):
                r = subprocess.run([args.glm, "tokenize", "--tokenizer", tj, "--decode"] + flags,
                                   input=json.dumps(ids).encode(), stdout=subprocess.PIPE)
                text = json.loads(r.stdout.decode("utf-8"))
                want = tokref(args, tj, [ids], "--decode", *flags)[0] if flags else t
                check(r.returncode == 0 and text == want, "cli[%d] --decode %s: %s, expected %s" % (i, flags, short(text), short(want)))
        # usage errors and a bad tokenizer are reported, not crashes
        for cmd, what in [([args.glm, "tokenize"], "no --model"), ([args.glm, "tokenize", "--model", "/nonexistent"], "missing dir"),
                          ([args.glm, "tokenize", "--tokenizer", tj, "--decode"], "bad JSON ids")]:
            r = subprocess.run(cmd, input=b"not json", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            check(r.returncode != 0 and r.stderr, "cli: %s should fail with a message" % what)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["vectors", "random", "builtin", "variants", "cli"])
    ap.add_argument("--tok-batch", required=True)
    ap.add_argument("--tokref", required=True, help="folder with tokref.cjs (npm-installed)")
    ap.add_argument("--tokenizer")
    ap.add_argument("--vectors")
    ap.add_argument("--glm")
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    {"vectors": mode_vectors, "random": mode_random, "builtin": mode_builtin, "variants": mode_variants,
     "cli": mode_cli}[args.mode](args)
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
