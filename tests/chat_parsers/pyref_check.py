#!/usr/bin/env python3
"""pyref_check.py — checks src/chat/tool_json.c and the argument typing of tool_parser.c against
CPython itself: json.loads/json.dumps(ensure_ascii=False), ast.literal_eval, float repr, and a
reference of the typing chain of docs/serving.md §3.2 (SGLang's newest: schema string -> raw
text / decoded JSON string / re-serialized object; other types -> json.loads, json.loads of the
unescaped text, ast.literal_eval, raw string; integer/number coerce numeric strings).

Usage: pyref_check.py PATH_TO_chat_parsers_pyprobe
Prints mismatches and "N passed, M failed"; exits non-zero on any mismatch."""
import ast
import json
import random
import struct
import subprocess
import sys
import warnings

NOTHING = object()


def ref_typed(raw, t):
    """The typing chain, written from the spec text."""

    def coerce(v):
        if isinstance(v, str):
            try:
                if t == "integer":
                    return int(v)
                if t == "number":
                    return float(v) if ("." in v or "e" in v.lower()) else int(v)
            except ValueError:
                pass
        return v

    v = NOTHING
    try:
        v = coerce(json.loads(raw))
    except ValueError:
        try:
            wrapped = json.loads('{"tmp": "' + raw + '"}')
            if isinstance(wrapped.get("tmp"), str):
                v = coerce(json.loads(wrapped["tmp"]))
        except ValueError:
            pass
    if t == "string":
        if v is NOTHING:
            if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
                return raw[1:-1]
            return raw
        if isinstance(v, str):
            return v
        if isinstance(v, (dict, list)):
            return json.dumps(v, ensure_ascii=False)
        return raw
    if v is not NOTHING:
        return v
    lit = ref_literal(raw)
    return raw if lit is NOTHING else lit


def ref_literal(raw):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            v = ast.literal_eval(raw)
        json.dumps(v)
        return v
    except Exception:
        return NOTHING


def enc(s):
    return s.encode("utf-8", "surrogatepass")


def expected(op, s):
    if op == "loads":
        try:
            return enc(json.dumps(json.loads(s), ensure_ascii=False))
        except ValueError:
            return b"ERR"
    if op == "lit":
        v = ref_literal(s)
        return b"ERR" if v is NOTHING else enc(json.dumps(v, ensure_ascii=False))
    return enc(json.dumps(ref_typed(s, op[5:]), ensure_ascii=False))


FRAGS = ["1", "-", ".", "e", "5", "0", '"', "'", "{", "}", "[", "]", ",", ":", " ", "\\", "n", "u", "a",
         "True", "None", "null", "true", "x", "_", "\n", "(", ")", "NaN", "Infinity", "北", "\t", "r", "b",
         '\\"', "0x", "1e400", "2.5", "-0", "00", '{"k": ', "[1, 2]", "'s'", '"s"', "\\u00e9", "\\ud83d",
         "\\ude00", "+", "E", "j", "7_0", "0o7", "0b1", "ff", "\\x41", '"""', "''", "\r", "\x01", "é"]


def random_frag_text(rng, max_parts=8):
    return "".join(rng.choice(FRAGS) for _ in range(rng.randint(1, max_parts)))


def random_value(rng, depth=0):
    k = rng.randint(0, 9 if depth < 3 else 5)
    if k == 0:
        return None
    if k == 1:
        return rng.choice([True, False])
    if k == 2:
        return rng.choice([0, -1, 7, 10**25, -(10**30), rng.randint(-10**6, 10**6)])
    if k == 3:
        while True:
            x = struct.unpack("<d", bytes(rng.getrandbits(8) for _ in range(8)))[0]
            if x == x and abs(x) != float("inf"):
                return x
    if k == 4:
        return rng.choice([0.1, 1e16, 1e-5, 123.0, 1.5e300, -0.0, 5e-324, 1e22, 12345678.9, 0.0001])
    if k == 5:
        return "".join(rng.choice(["a", "\"", "\\", "\n", "\t", "\x00", "\x1f", "\x7f", "é", "北", "😀", " ", "'"])
                       for _ in range(rng.randint(0, 6)))
    if k in (6, 7):
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    d = {}
    for _ in range(rng.randint(0, 4)):
        d[random_value(rng, 3) if isinstance(random_value(rng, 3), str) else str(rng.randint(0, 5))] = \
            random_value(rng, depth + 1)
    return d


def py_literal_value(rng, depth=0):
    k = rng.randint(0, 8 if depth < 3 else 4)
    if k == 0:
        return rng.choice([None, True, False])
    if k == 1:
        return rng.randint(-10**20, 10**20)
    if k == 2:
        return rng.choice([1.5, -2.25, 1e300, 3.0, 0.1])
    if k in (3, 4):
        return "".join(rng.choice(["a", "'", '"', "\\", "\n", "é", "x", "\t"]) for _ in range(rng.randint(0, 5)))
    if k == 5:
        return tuple(py_literal_value(rng, depth + 1) for _ in range(rng.randint(0, 3)))
    if k == 6:
        return [py_literal_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {rng.choice(["a", "b", 1, 2, True, None, 1.0, 2.5]): py_literal_value(rng, depth + 1)
            for _ in range(rng.randint(0, 3))}


HAND_VALUES = [
    "", " ", "hello", "hello world", "123", " 123 ", "-7", "1.5", "1e5", "1E5", "2.0", "0", "-0", "-0.0",
    "true", "True", "false", "False", "null", "None", '"42"', '"3.5"', '"1e3"', '"abc"', "'x'", "'42'",
    '"quoted"', "'single'", '"bad \\q"', "{\"a\":1}", "{'a': 1}", "[1,2]", "[1, 2,]", "(1, 2)", "(1,)", "()",
    "(1)", "{}", "[]", "{\\\"a\\\": 1}", "[\\\"x\\\"]", "\\u0031", "\\n[1]", "\n[1]", "\t1", "[1,\n2]",
    "NaN", "Infinity", "-Infinity", "1e400", "-1e400", "0x1F", "0o17", "0b101", "1_000", "1__0", "007",
    "0_0", "00", ".5", "5.", "1.e5", "1j", "1+2j", "{1, 2}", "b'x'", "f'x'", "r'a\\b'", "u'x'", "'a' 'b'",
    "'''tri'''", '"""tri"""', "'\\x41\\u00e9\\U0001F600\\101'", "'\\q'", "{1: 'a', True: 'b'}",
    "{1.0: 'a', 'b': 2}", "{None: 1, False: 2}", "{(1, 2): 3}", "[[[1]]]", "-  5", "+5", "--5", "- 1.5",
    "12345678901234567890123", "1.7976931348623157e308", "5e-324", "0.1", "1e16", "1e15", "1e-5",
    "0.0001", "123456789.123456789", "北京", "\"北京\"", "'北京'", "{\"city\": \"北京\"}", "\\\"",
    "[1, 'a', None, True]", "{\"a\": NaN}", "{\"a\": 1, \"a\": 2}", "{\"a\": 1, \"b\": 2, \"a\": 3}",
    '"\\ud83d\\ude00"', '"\\ud800"', '"\\ude00x"', '"a\\u0000b"', "\"tab\there\"", "\x01", "a\x00b",
    " [1] ", "1 2", "[1] x", "{\"k\": [1, {\"z\": null}]}", "\"unterminated", "'unterminated",
    "1_000.5", " 42\u3000", "\u3000", "\xa0", "inf", "nan", "-inf", "Infinity2", "3.14abc",
]

TYPES = ["string", "integer", "number", "boolean", "object", "array", "null", "unknown", "other"]


def main():
    probe = sys.argv[1]
    rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 20260101)
    records = []
    for v in HAND_VALUES:
        for t in TYPES:
            records.append(("type:" + t, v))
        records.append(("loads", v))
        records.append(("lit", v))
    for _ in range(2500):
        v = random_frag_text(rng)
        records.append(("type:" + rng.choice(TYPES), v))
        records.append(("loads", v))
        records.append(("lit", v))
    for _ in range(1500):
        x = random_value(rng)
        text = json.dumps(x, ensure_ascii=rng.random() < 0.5,
                          separators=rng.choice([(",", ":"), (", ", ": "), (" ,", " :  ")]))
        records.append(("loads", text))
        records.append(("type:" + rng.choice(TYPES), text))
    for _ in range(1500):
        x = py_literal_value(rng)
        records.append(("lit", repr(x)))
        records.append(("type:" + rng.choice(["unknown", "object", "array", "string"]), repr(x)))
    for _ in range(3000):
        while True:
            x = struct.unpack("<d", bytes(rng.getrandbits(8) for _ in range(8)))[0]
            if x == x and abs(x) != float("inf"):
                break
        records.append(("loads", rng.choice([repr(x), "%.17g" % x, "%.6e" % x, "%.3f" % x])))

    data = bytearray()
    for op, s in records:
        b = enc(s)
        data += b"%s %d\n" % (op.encode(), len(b)) + b + b"\n"
    out = subprocess.run([probe], input=bytes(data), capture_output=True, check=True).stdout

    passed = failed = 0
    pos = 0
    for op, s in records:
        nl = out.index(b"\n", pos)
        n = int(out[pos:nl])
        got = out[nl + 1: nl + 1 + n]
        pos = nl + 1 + n + 1
        want = expected(op, s)
        if got == want:
            passed += 1
        else:
            failed += 1
            if failed <= 40:
                print("MISMATCH %s %r\n  got:  %r\n  want: %r" % (op, s, got, want))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
