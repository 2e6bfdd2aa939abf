#!/usr/bin/python3
"""test_e2e_serve.py - `glm bench serve` and `glm eval gsm8k` against `glm serve` on a tiny
synthetic checkpoint (`glm synth --like glm-4.5-air --tiny`, random weights). The model's
answers are noise (GSM8K accuracy ~0); what is checked is that both tools complete against our
server with every request successful, and that the benchmark's token counts are exact: the
prompts are built with the checkpoint's own tokenizer (found through /v1/models) and the server
honours max_tokens with ignore_eos."""
import argparse
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Proc, check, finish, parse_report, run  # noqa: E402



def bandwidth_ceiling(ckpt, b):
    """B * bytes(one token) / bytes(B tokens) for a glm4_moe checkpoint, from its safetensors header:
    a token reads attention, dense MLP or router + K routed + shared experts, and lm_head; B tokens
    with uniform routing touch E(1 - (1 - K/E)^B) distinct experts per MoE layer."""
    cfg = json.load(open(os.path.join(ckpt, "config.json")))
    sizes = {}
    for f in os.listdir(ckpt):
        if f.endswith(".safetensors"):
            with open(os.path.join(ckpt, f), "rb") as fh:
                n = int.from_bytes(fh.read(8), "little")
                for k, v in json.loads(fh.read(n)).items():
                    if k != "__metadata__":
                        sizes[k] = v["data_offsets"][1] - v["data_offsets"][0]
    E, K = cfg["n_routed_experts"], cfg["num_experts_per_tok"]
    tok = expert = 0
    n_moe = 0
    for l in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % l
        tok += sum(sizes[p + "self_attn.%s_proj.weight" % x] for x in "qkvo")
        if l < cfg["first_k_dense_replace"]:
            tok += sum(sizes[p + "mlp.%s_proj.weight" % x] for x in ("gate", "up", "down"))
            continue
        n_moe += 1
        one = sum(sizes[p + "mlp.experts.0.%s_proj.weight" % x] for x in ("gate", "up", "down"))
        expert = one
        tok += sizes[p + "mlp.gate.weight"] + K * one
        if cfg.get("n_shared_experts", 0):
            tok += sum(sizes[p + "mlp.shared_experts.%s_proj.weight" % x] for x in ("gate", "up", "down"))
    tok += sizes["model.embed_tokens.weight" if cfg.get("tie_word_embeddings") else "lm_head.weight"]
    uniq = E * (1 - (1 - K / E) ** b)
    return b * tok / (tok + n_moe * (uniq - K) * expert)


ap = argparse.ArgumentParser()
ap.add_argument("--glm", required=True)
ap.add_argument("--tmp", required=True)
args = ap.parse_args()
os.makedirs(args.tmp, exist_ok=True)
env = dict(os.environ)
env.pop("OPENAI_API_KEY", None)

ckpt = os.path.join(args.tmp, "tiny")
rc, out, err = run([args.glm, "synth", "--like", "glm-4.5-air", "--tiny", "--out", ckpt], timeout=120)
check(rc == 0 and os.path.exists(os.path.join(ckpt, "tokenizer.json")), "glm synth --tiny: %s" % err[-1000:])

# The default KV pool (max-model-len tokens) is smaller than the GSM8K prompts need at once, so the
# scheduler has to queue and preempt while sharing the few-shot prefix: every request must still succeed.
srv = Proc([args.glm, "serve", "--model", ckpt, "--host", "127.0.0.1", "--port", "0",
            "--disable-log-requests"], timeout=120, env=env)
try:
    # ---- bench serve: model and tokenizer from /v1/models, exact token counts ----
    N, IN, OUT, MC = 24, 64, 16, 4
    out_json = os.path.join(args.tmp, "bench.json")
    rc, out, err = run([args.glm, "bench", "serve", "--base-url", srv.base, "--num-prompts", str(N),
                        "--random-input-len", str(IN), "--random-output-len", str(OUT), "--max-concurrency", str(MC),
                        "--ignore-eos", "--temperature", "0", "--output-json", out_json], timeout=300, env=env)
    print(out)
    block, vals = parse_report(out)
    check(rc == 0 and block is not None, "bench serve ran (rc %d): %s" % (rc, err[-2000:]))
    check("First model name: %s, first model id: %s" % (ckpt, ckpt) in out, "model found through /v1/models")
    check("mismatch" not in out and "WARNING: across" not in out, "prompt lengths exact, server tokenizer agrees")
    check(vals.get("Successful requests:") == str(N) and vals.get("Failed requests:") == "0", "all %d succeeded" % N)
    check(vals.get("Total input tokens:") == str(N * IN), "server counted %d prompt tokens" % (N * IN))
    check(vals.get("Total generated tokens:") == str(N * OUT), "ignore_eos + max_tokens: %d tokens" % (N * OUT))
    check(vals.get("Peak concurrent requests:") == "%d.00" % MC, "peak concurrency %d" % MC)
    j = json.load(open(out_json)) if os.path.exists(out_json) else {}
    check(j.get("completed") == N and j.get("total_output_tokens") == N * OUT and j.get("mean_ttft_ms", 0) > 0,
          "JSON result")
    # the decode bandwidth ceiling for MC streams, recomputed here from the checkpoint's header
    want = bandwidth_ceiling(ckpt, MC)
    m = re.search(r"^Bandwidth ceiling vs concurrency 1: ([0-9.]+)x", out, re.M)
    check(m is not None and m.group(1) == "%.2f" % want, "ceiling line %s, expected %.2f" % (m and m.group(1), want))
    check(abs(j.get("bandwidth_ceiling", 0) - want) <= 1e-9 * want, "JSON ceiling %s vs %.12g" %
          (j.get("bandwidth_ceiling"), want))

    # ---- chat backend and Poisson arrivals ----
    rc, out, err = run([args.glm, "bench", "serve", "--base-url", srv.base, "--backend", "openai-chat",
                        "--num-prompts", "8", "--random-input-len", "32", "--random-output-len", "8",
                        "--request-rate", "20", "--model", ckpt], timeout=300, env=env)
    print(out)
    block, vals = parse_report(out)
    check(rc == 0 and vals.get("Successful requests:") == "8" and vals.get("Failed requests:") == "0",
          "chat benchmark: all succeeded (rc %d): %s" % (rc, err[-1000:]))
    check(vals.get("Total generated tokens:") == "64", "chat: 8 x 8 tokens")
    check(int(vals.get("Total input tokens:", "0")) > 8 * 32, "chat prompts include the template's tokens")
    check(vals.get("Request rate configured (RPS):") == "20.00", "rate line")

    # ---- many at once ----
    rc, out, err = run([args.glm, "bench", "serve", "--base-url", srv.base, "--num-prompts", "64",
                        "--random-input-len", "64", "--random-output-len", "16", "--random-range-ratio", "0.5"],
                       timeout=300, env=env)
    block, vals = parse_report(out)
    check(rc == 0 and vals.get("Successful requests:") == "64" and vals.get("Failed requests:") == "0",
          "64 requests at once all succeeded: %s" % out[-3000:])

    # ---- eval gsm8k ----
    out_json = os.path.join(args.tmp, "gsm8k.json")
    rc, out, err = run([args.glm, "eval", "gsm8k", "--base-url", srv.base, "--num-questions", "5",
                        "--output-json", out_json], timeout=300, env=env)
    print(out)
    check(rc == 0 and "Failed requests" not in out, "gsm8k: every request succeeded (rc %d): %s %s" %
          (rc, out[-2000:], err[-1000:]))
    for name in ("Accuracy", "Invalid"):
        check(re.search(r"^%s: [01]\.[0-9]{3}$" % name, out, re.M) is not None, "%s printed" % name)
    check(re.search(r"^Latency: [0-9]+\.[0-9]{3} s$", out, re.M) is not None, "Latency printed")
    check(re.search(r"^Output throughput: [0-9]+\.[0-9]{3} token/s$", out, re.M) is not None, "throughput printed")
    j = json.load(open(out_json)) if os.path.exists(out_json) else {}
    check(j.get("num_questions") == 5 and j.get("failed") == 0 and j.get("output_tokens", 0) > 0,
          "gsm8k JSON: 5 answered, tokens counted")
finally:
    status = srv.stop()
check(status == 0, "glm serve exited cleanly on SIGTERM (%s)" % status)

# ---- a checkpoint whose tokenizer_config.json says "chat_template": null has no template: glm serve
# starts, /v1/completions works, /v1/chat/completions answers 400 saying so ----
import shutil  # noqa: E402
import urllib.error  # noqa: E402
import urllib.request  # noqa: E402

bare = os.path.join(args.tmp, "tiny-null-template")
shutil.rmtree(bare, ignore_errors=True)
shutil.copytree(ckpt, bare)
os.remove(os.path.join(bare, "chat_template.jinja"))
tc_path = os.path.join(bare, "tokenizer_config.json")
tc = json.load(open(tc_path))
tc["chat_template"] = None
json.dump(tc, open(tc_path, "w"))


def post(base, path, body):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


srv = Proc([args.glm, "serve", "--model", bare, "--host", "127.0.0.1", "--port", "0"], timeout=120, env=env)
try:
    code, body = post(srv.base, "/v1/chat/completions", {"model": bare, "messages": [{"role": "user", "content": "hi"}]})
    check(code == 400 and "no chat template" in body.get("error", {}).get("message", ""),
          "null chat_template: chat answers 400 naming the missing template (%s %s)" % (code, body))
    code, body = post(srv.base, "/v1/completions", {"model": bare, "prompt": "hi", "max_tokens": 2})
    check(code == 200 and body.get("usage", {}).get("completion_tokens") == 2, "null chat_template: completions work")
finally:
    status = srv.stop()
check(status == 0, "glm serve (no template) exited cleanly (%s)" % status)
finish()
