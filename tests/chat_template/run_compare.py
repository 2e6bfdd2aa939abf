#!/usr/bin/env python3
"""Compares the C template renderer with Python jinja2 (the authority), byte for byte.

    run_compare.py --batch BUILD/tests/chat_template/jinja_batch --shared ../shared [--seed 1234] [--n 300]

Cases (all rendered by pyrender.py's environment in this process, and by one jinja_batch
process over a JSON-lines file):
  * the 35 fixtures: every shared template x every context, also checked against expected/;
  * --n random conversations per GLM template (seeded): roles system/user/assistant/tool/
    developer, typed tool-call arguments, reasoning_content, list contents, unicode, thinking
    flags, tools lists (incl. GLM-5.1 defer_loading / tool_reference);
  * hand-written templates (templates.py beside this file) that exercise macros, namespaces,
    loop scoping, filters, tests, slicing, string methods, whitespace control, raise_exception.
A case passes when both produce the same text, or both fail (for raise_exception: with the same
message). The last line is "N passed, M failed"; the exit status is 1 on any failure.
"""
import argparse
import importlib.util
import json
import os
import random
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import templates  # noqa: E402  (hand-written templates and contexts)


def load_pyrender(shared):
    path = os.path.join(shared, "tools", "jinjaref", "pyrender.py")
    spec = importlib.util.spec_from_file_location("pyrender", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# ---------------------------------------------------------------- random conversations

WORDS = ["hello", "world", "the", "weather", "in", "Beijing", "is", "sunny", "ok", "Let me check.", "sure",
         "call", "tool", "result", "42", "3.14", "yes", "no", "Done", "again"]
SPICE = ["é", "二", "中文", "😀", "👍🏽", "\u00a0", "\u200b", "\u2028", "ß", "ﬁ", "Ωmega", "'", '"', "\\", "\\n",
         "\n", "\t", "  ", "\x01", "\x7f", "{", "}", "{{ x }}", "{% if %}", "%s", "<think>", "</think>",
         "<tool_call>", "/nothink", "\r\n", "\u3000", "й", "ع", "\U0001F9EA", "\x00"]


def rchar(rng):
    """A random code point from anywhere in Unicode (no surrogates; no capital sigma, whose
    lowercasing is context-dependent and refused by the renderer)."""
    while True:
        r = rng.random()
        cp = rng.randint(0x80, 0x2FFF) if r < 0.6 else rng.randint(0x3000, 0xFFFF) if r < 0.85 else rng.randint(
            0x10000, 0x10FFFF)
        if not (0xD800 <= cp <= 0xDFFF) and cp != 0x3A3:
            return chr(cp)


def rtext(rng, allow_empty=True):
    if allow_empty and rng.random() < 0.08:
        return ""
    parts = []
    for _ in range(rng.randint(1, 8)):
        r = rng.random()
        parts.append(rng.choice(SPICE) if r < 0.25 else rchar(rng) if r < 0.35 else rng.choice(WORDS))
    s = " ".join(parts) if rng.random() < 0.7 else "".join(parts)
    r = rng.random()
    if r < 0.1:
        s = "\n  " + s + " \n"
    elif r < 0.15:
        s = s + "/nothink"
    elif r < 0.22:
        s = "<think>\n" + rtext(rng) + "\n</think>\n" + s
    elif r < 0.25:
        s = rtext(rng) + "</think>" + s
    return s


def rfloat(rng):
    r = rng.random()
    if r < 0.3:
        return rng.uniform(-1, 1) * 10.0 ** rng.randint(-30, 30)
    if r < 0.4:
        return float(rng.randint(-10**17, 10**17))
    return rng.choice([1.0, 1e20, 1e-5, 2.5e-7, -0.0, 0.1, 3.14159, 123456789.0, 1e16, 1.5e16, -2.75, 100.0,
                       1234567890123456.0, 0.3333333333333333, 5e-324, 1.7976931348623157e308])


def rvalue(rng, depth=0):
    r = rng.random()
    if depth > 2:
        r = r * 0.7
    if r < 0.25:
        return rtext(rng)
    if r < 0.38:
        return rng.choice([0, 1, -1, 2, 42, 10**12, -(2**40), 2**63 - 1])
    if r < 0.5:
        return rfloat(rng)
    if r < 0.57:
        return rng.choice([True, False])
    if r < 0.62:
        return None
    if r < 0.8:
        return {rng.choice(["k", "name", "city", "二", "a b", "q\"uote", "x"]) + str(i): rvalue(rng, depth + 1)
                for i in range(rng.randint(0, 3))}
    return [rvalue(rng, depth + 1) for _ in range(rng.randint(0, 3))]


def rtool(rng):
    name = rng.choice(["get_weather", "get_time", "search", "run_code", "读取文件"])
    fn = {}
    keys = ["name", "description", "parameters"]
    rng.shuffle(keys)
    for k in keys:
        if k == "name":
            fn["name"] = name
        elif k == "description" and rng.random() < 0.85:
            fn["description"] = rtext(rng)
        elif k == "parameters" and rng.random() < 0.9:
            fn["parameters"] = {"type": "object",
                                "properties": {"city": {"type": "string"}, "days": {"type": "integer", "default": 1.0}},
                                "required": ["city"]}
    if rng.random() < 0.2:
        fn["strict"] = rng.choice([False, True])
    if rng.random() < 0.2:
        fn["defer_loading"] = rng.choice([False, True])
    if rng.random() < 0.3:
        return fn  # SGLang passes the bare function object
    return {"type": "function", "function": fn}


def rtool_call(rng):
    args = {rng.choice(["city", "days", "q", "nested", "flag", "x", "值"]) + str(i): rvalue(rng) for i in
            range(rng.randint(0, 4))}
    if rng.random() < 0.04:  # shapes a client should not send; both renderers must agree anyway
        args = rng.choice(['{"city": "x"}', None, [1, 2], 5])
    fn = {"name": rng.choice(["get_weather", "get_time", "search"]), "arguments": args}
    if rng.random() < 0.15:
        return fn  # no "function" wrapper
    tc = {"id": "call_%d" % rng.randint(0, 999), "type": "function", "function": fn}
    return tc


def rcontent(rng, role):
    r = rng.random()
    if r < 0.65:
        return rtext(rng)
    if r < 0.85:
        parts = []
        for _ in range(rng.randint(0, 3)):
            q = rng.random()
            if q < 0.5:
                parts.append({"type": "text", "text": rtext(rng)})
            elif q < 0.65:
                parts.append({"type": "image_url", "image_url": {"url": "http://x/y.png"}})
            elif q < 0.8:
                parts.append(rtext(rng))
            elif role == "tool":
                parts.append({"output": rtext(rng)} if rng.random() < 0.6 else {"type": "text", "text": rtext(rng)})
            else:
                parts.append({"type": "text", "text": rtext(rng)})
        return parts
    if r < 0.9 and role == "tool":
        return [{"type": "tool_reference", "name": rng.choice(["get_weather", "search", "nope"])}]
    return None if rng.random() < 0.5 else "MISSING"


def rmessage(rng):
    role = rng.choices(["system", "user", "assistant", "tool", "developer"], [1, 4, 4, 3, 0.4])[0]
    m = {"role": role}
    c = rcontent(rng, role)
    if c != "MISSING":
        m["content"] = c
    if role == "assistant":
        r = rng.random()
        if r < 0.45:
            m["reasoning_content"] = rtext(rng)
        elif r < 0.5:
            m["reasoning_content"] = None
        if rng.random() < 0.4:
            m["tool_calls"] = [rtool_call(rng) for _ in range(rng.randint(1, 3))]
    if role == "tool" and rng.random() < 0.5:
        m["tool_call_id"] = "call_1"
    return m


def rcontext(rng):
    ctx = {"messages": [rmessage(rng) for _ in range(rng.randint(1, 8))]}
    if rng.random() < 0.03:
        m = rng.choice(ctx["messages"])
        m[rng.choice(["content", "role"])] = rng.choice([7, {"type": "text", "text": "d"}, None, True, 2.5])
    # bias towards realistic shapes: end with a user or tool turn most of the time
    if rng.random() < 0.6:
        ctx["messages"].append({"role": "user", "content": rtext(rng)})
    r = rng.random()
    if r < 0.45:
        ctx["tools"] = [rtool(rng) for _ in range(rng.randint(1, 3))]
        if rng.random() < 0.05:
            ctx["tools"].append(rng.choice(["get_weather", 3, None, {"function": "f"}]))
    elif r < 0.5:
        ctx["tools"] = []
    ctx["add_generation_prompt"] = rng.random() < 0.8
    for flag in ("enable_thinking", "clear_thinking"):
        r = rng.random()
        if r < 0.3:
            ctx[flag] = True
        elif r < 0.6:
            ctx[flag] = False
    return ctx


# string operations on random text (Python str semantics on arbitrary Unicode)
STRING_OPS = (
    "{% for s in xs %}{{ s|upper }}|{{ s|lower }}|{{ s|capitalize }}|{{ s|title }}|{{ s|trim }}|{{ s|length }}|"
    "{{ s|wordcount }}|{{ s|reverse }}|{{ s|center(30) }}|{{ s.split() }}|{{ s.split(' ') }}|{{ s.rsplit(none, 1) }}|"
    "{{ s.strip() }}|{{ s.lstrip(' a') }}|{{ s.splitlines() }}|{{ s.replace(' ', '_') }}|{{ s[1:5] }}|{{ s[::-2] }}|"
    "{{ s.find('o') }}|{{ s.count('e') }}|{{ s.startswith('he') }}|{{ [s] }}|{{ {s: s} }}|{{ s|tojson }}|"
    "{{ s|tojson(ensure_ascii=true) }}|{{ s|indent(2) }}|{{ s|truncate(12) }}|{{ s.upper() }}|{{ s.capitalize() }}|"
    "{{ s.isspace() }}|{{ s.isalnum() }}|{{ s.isdecimal() }}|{{ s|e }}|{{ s ~ 1.5 }}|{{ s|list|length }}\n{% endfor %}"
    "{% for f in fs %}{{ f }}|{{ [f] }}|{{ f|tojson }}|{{ f|round(3) }}|{{ f|int if f|abs < 1e18 else 'big' }}|{{ f|string|float == f }}|"
    "{{ '%.3f'|format(f) }}|{{ f * 3 }}|{{ f // 7 if f else 0 }}|{{ f % 7 if f else 0 }}\n{% endfor %}"
)


def rstring_ctx(rng):
    return {"xs": [rtext(rng) for _ in range(4)], "fs": [rfloat(rng) for _ in range(4)]}


# ---------------------------------------------------------------- main


def py_render(env, cache, source, ctx):
    try:
        tpl = cache.get(source)
        if tpl is None:
            tpl = cache[source] = env.from_string(source)
        c = dict(ctx)
        c.setdefault("tools", None)
        return ("out", tpl.render(**c))
    except Exception as e:  # noqa: BLE001 - any jinja2/Python error counts as "fails"
        if cache.get(source) is None:
            cache[source] = None
        return ("err", "%s: %s" % (type(e).__name__, e))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", required=True)
    ap.add_argument("--shared", required=True)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()

    pr = load_pyrender(args.shared)
    root = os.path.join(args.shared, "data", "chat_templates")
    models = sorted(m for m in os.listdir(root) if os.path.isfile(os.path.join(root, m, "chat_template.jinja")))
    sources = {m: pr.read(os.path.join(root, m, "chat_template.jinja")) for m in models}

    cases = []  # (label, source, ctx, expected_file_text or None)
    for m in models:
        for f in sorted(os.listdir(os.path.join(root, "contexts"))):
            if not f.endswith(".json"):
                continue
            ctx = json.loads(pr.read(os.path.join(root, "contexts", f)))
            exp = pr.read(os.path.join(root, "expected", "%s__%s.txt" % (m, f[:-5])))
            cases.append(("fixture %s/%s" % (m, f[:-5]), sources[m], ctx, exp))
    rng = random.Random(args.seed)
    for m in models:
        for i in range(args.n):
            cases.append(("random %s #%d" % (m, i), sources[m], rcontext(rng), None))
    for i in range(args.n // 3):
        cases.append(("random strings #%d" % i, STRING_OPS, rstring_ctx(rng), None))
    for name, src, ctxs in templates.CASES:
        for j, ctx in enumerate(ctxs):
            cases.append(("custom %s [%d]" % (name, j), src, ctx, None))

    cache = {}
    py = [py_render(pr.ENV, cache, src, ctx) for _, src, ctx, _ in cases]

    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8") as f:
        for _, src, ctx, _ in cases:
            f.write(json.dumps({"template": src, "context": ctx}, ensure_ascii=True) + "\n")
        path = f.name
    try:
        res = subprocess.run([args.batch, path], capture_output=True, check=False)
    finally:
        os.unlink(path)
    lines = res.stdout.decode("utf-8").splitlines()
    if res.returncode != 0 or len(lines) != len(cases):
        sys.stderr.write(res.stderr.decode("utf-8", "replace")[-2000:])
        print("jinja_batch failed (status %d, %d of %d results)" % (res.returncode, len(lines), len(cases)))
        print("0 passed, %d failed" % len(cases))
        return 1

    passed = failed = 0
    shown = 0
    for (label, _src, ctx, exp), (pk, pv), line in zip(cases, py, lines):
        c = json.loads(line)
        ok = True
        why = ""
        if exp is not None and (pk != "out" or pv != exp):
            ok, why = False, "pyrender disagrees with the expected fixture"
        if pk == "out":
            if c.get("out") != pv:
                ok, why = False, "output differs"
        else:
            if "err" not in c:
                ok, why = False, "jinja2 raised (%s) but C rendered" % pv
            elif pv.startswith("TemplateError: ") and c["err"] != "raise_exception: " + pv[len("TemplateError: "):]:
                ok, why = False, "raise_exception message differs"
        if ok:
            passed += 1
            continue
        failed += 1
        if shown < 15 or args.verbose:
            shown += 1
            print("FAIL %s: %s" % (label, why))
            print("  python: %s" % json.dumps(pv if pk == "out" else "<error> " + pv, ensure_ascii=False)[:1500])
            print("  C:      %s" % json.dumps(c.get("out", "<error> " + str(c.get("err"))), ensure_ascii=False)[:1500])
            if args.verbose:
                print("  context: %s" % json.dumps(ctx, ensure_ascii=False)[:3000])
    n_err = sum(1 for k, _ in py if k == "err")
    print("(%d cases: %d fixtures, %d random, %d custom; %d where jinja2 raises)" % (
        len(cases), sum(1 for c in cases if c[0].startswith("fixture")),
        sum(1 for c in cases if c[0].startswith("random")), sum(1 for c in cases if c[0].startswith("custom")), n_err))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
