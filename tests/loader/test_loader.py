#!/usr/bin/python3
"""Loader error tests: a checkpoint broken in each way a real download can be broken must be
refused by `glm info` (which loads exactly as the engine does) with a message that names the
file and the tensor or key at fault.

usage: test_loader.py GLM_BINARY WORKDIR
"""
import json
import os
import shutil
import struct
import subprocess
import sys

glm, work = sys.argv[1], sys.argv[2]
passed = failed = 0


def check(ok, what, detail=""):
    global passed, failed
    passed += bool(ok)
    failed += not ok
    print(("PASS " if ok else "FAIL ") + what + ("" if ok else f"\n    {detail}"), flush=True)


def synth(name, *args):
    d = os.path.join(work, name)
    shutil.rmtree(d, ignore_errors=True)
    subprocess.run([glm, "synth", "--like", "glm-4.5", "--tiny", "--layers", "2", "--out", d, *args],
                   check=True, capture_output=True)
    return d


def read_st(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    return json.loads(raw[8:8 + n]), raw[8 + n:]


def write_st(path, header, data):
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + data)


def info(d):
    p = subprocess.run([glm, "info", "--model", d], capture_output=True, text=True)
    return p.returncode, p.stderr


def expect_error(what, d, *needles):
    rc, err = info(d)
    ok = rc != 0 and all(s in err for s in needles)
    check(ok, what, f"exit {rc}, stderr: {err.strip()!r}, expected to contain {needles}")


os.makedirs(work, exist_ok=True)
base = synth("base")
rc, err = info(base)
check(rc == 0, "an intact checkpoint loads", err)
st = os.path.join(base, "model.safetensors")
hdr, data = read_st(st)
Q = "model.layers.1.self_attn.q_proj.weight"


def variant(name, mutate_header=None, mutate_raw=None, mutate_dir=None):
    d = os.path.join(work, name)
    shutil.rmtree(d, ignore_errors=True)
    shutil.copytree(base, d)
    p = os.path.join(d, "model.safetensors")
    if mutate_header:
        h = json.loads(json.dumps(hdr))
        mutate_header(h)
        write_st(p, h, data)
    if mutate_raw:
        with open(p, "rb") as f:
            raw = f.read()
        with open(p, "wb") as f:
            f.write(mutate_raw(raw))
    if mutate_dir:
        mutate_dir(d)
    return d


# corrupt header: not JSON
d = variant("bad_json", mutate_raw=lambda r: r[:8] + b"{not json" + r[17:])
expect_error("corrupt header (not JSON)", d, "model.safetensors", "not valid JSON")
# header length larger than the file
d = variant("bad_len", mutate_raw=lambda r: struct.pack("<Q", 1 << 40) + r[8:])
expect_error("header length past the end of the file", d, "model.safetensors", "header length")
# truncated data
d = variant("truncated", mutate_raw=lambda r: r[:len(r) // 2])
expect_error("truncated file", d, "model.safetensors", "truncated")
# file shorter than the length prefix
d = variant("tiny", mutate_raw=lambda r: r[:5])
expect_error("file shorter than 8 bytes", d, "model.safetensors", "too short")


def reshape(h):
    r, c = h[Q]["shape"]
    h[Q]["shape"] = [r // 2, c * 2]


d = variant("wrong_shape", mutate_header=reshape)
expect_error("wrong shape (same element count)", d, Q, "has shape", "expected")


def drop(h):
    h["model.layers.1.mlp.gate.weight_renamed"] = h.pop("model.layers.1.mlp.gate.weight")


d = variant("missing", mutate_header=drop)
expect_error("missing tensor", d, "model.layers.1.mlp.gate.weight", "missing")


def bad_dtype(h):
    h[Q]["dtype"] = "Q4_K"


d = variant("unknown_dtype", mutate_header=bad_dtype)
expect_error("unknown dtype", d, Q, "unknown dtype", "Q4_K")


def int_dtype(h):
    h[Q]["dtype"] = "I16" if False else "U8"
    r, c = h[Q]["shape"]
    h[Q]["shape"] = [r, c * 2]          # same bytes, one byte per element


d = variant("wrong_dtype", mutate_header=int_dtype)
expect_error("a dtype the tensor cannot have", d, Q)


def bad_offsets(h):
    h[Q]["data_offsets"][1] += 2


d = variant("bad_offsets", mutate_header=bad_offsets)
expect_error("data_offsets disagree with shape x dtype", d, Q, "bytes for")


def config_missing(dd):
    p = os.path.join(dd, "config.json")
    c = json.load(open(p))
    del c["hidden_size"]
    json.dump(c, open(p, "w"))


d = variant("config_missing", mutate_dir=config_missing)
expect_error("config.json without hidden_size", d, "config.json", "hidden_size")


def config_arch(dd):
    p = os.path.join(dd, "config.json")
    c = json.load(open(p))
    c["model_type"] = "llama"
    json.dump(c, open(p, "w"))


d = variant("config_arch", mutate_dir=config_arch)
expect_error("unsupported model_type", d, "config.json", "llama", "not supported")

# FP8 weight without its scale
fp8 = synth("fp8", "--fp8", "channel")
h8, d8 = read_st(os.path.join(fp8, "model.safetensors"))
h8.pop(Q.replace(".weight", ".weight_scale"))
write_st(os.path.join(fp8, "model.safetensors"), h8, d8)
expect_error("FP8 weight without weight_scale", fp8, Q, "weight_scale")

# sharded: the index names a shard that lacks the tensor
sh = synth("sharded", "--shards", "2")
ix = json.load(open(os.path.join(sh, "model.safetensors.index.json")))
names = sorted(set(ix["weight_map"].values()))
first = next(k for k, v in ix["weight_map"].items() if v == names[0])
ix["weight_map"][first] = names[1]
json.dump(ix, open(os.path.join(sh, "model.safetensors.index.json"), "w"))
expect_error("index points at the wrong shard", sh, first, names[1])
# a shard file missing altogether
sh2 = synth("sharded2", "--shards", "2")
os.remove(os.path.join(sh2, names[1]))
expect_error("missing shard file", sh2, names[1])
# MTP tensors are optional: removing them keeps the checkpoint loadable
nomtp = variant("no_mtp", mutate_header=lambda h: [h.pop(k) for k in list(h) if k.startswith("model.layers.2.")])
rc, err = info(nomtp)
check(rc == 0, "checkpoint without its (optional) MTP layer loads", err)

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
