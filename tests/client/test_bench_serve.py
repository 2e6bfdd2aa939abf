#!/usr/bin/python3
"""test_bench_serve.py - `glm bench serve` against mock_openai.py, whose timing and token counts
are known: request and token counts, TTFT >= the first-chunk delay, ITL/TPOT ~ the chunk delay,
concurrency limits and Poisson arrivals, the report's exact labels and format (vLLM's), the
--output-json keys, exact prompt lengths (token-id prompts counted by the mock; text prompts
re-tokenized by the Hugging Face tokenizers engine through tokref), chat backend, failures
(HTTP 500, malformed SSE, unreachable server) counted and explained, never a crash."""
import argparse
import json
import math
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Proc, check, closed_port, finish, format_ok, labels_of, parse_report, read_log,  # noqa: E402
                     run)

ap = argparse.ArgumentParser()
ap.add_argument("--glm", required=True)
ap.add_argument("--tokenizer", required=True, help="the GLM tokenizer.json")
ap.add_argument("--tokref", required=True, help="tokref.cjs (Hugging Face tokenizers engine)")
ap.add_argument("--node", default="node")
ap.add_argument("--tmp", required=True)
args = ap.parse_args()
HERE = os.path.dirname(os.path.abspath(__file__))
MOCK = os.path.join(HERE, "mock_openai.py")
os.makedirs(args.tmp, exist_ok=True)
env = dict(os.environ)
env.pop("OPENAI_API_KEY", None)

HEAD = ["============ Serving Benchmark Result ============", "Successful requests:", "Failed requests:"]
COUNTS = ["Benchmark duration (s):", "Total input tokens:", "Total generated tokens:",
          "Request throughput (req/s):", "Output token throughput (tok/s):",
          "Peak output token throughput (tok/s):", "Peak concurrent requests:", "Total token throughput (tok/s):"]


def block_labels(name, header, pcts):
    return [header] + ["Mean %s (ms):" % name, "Median %s (ms):" % name] + ["P%s %s (ms):" % (p, name) for p in pcts]


TTFT = lambda p: block_labels("TTFT", "---------------Time to First Token----------------", p)  # noqa: E731
TPOT = lambda p: block_labels("TPOT", "-----Time per Output Token (excl. 1st token)------", p)  # noqa: E731
ITL = lambda p: block_labels("ITL", "---------------Inter-token Latency----------------", p)  # noqa: E731
E2EL = lambda p: block_labels("E2EL", "----------------End-to-end Latency----------------", p)  # noqa: E731


def mock(name, *extra):
    log = os.path.join(args.tmp, "mock_%s.jsonl" % name)
    if os.path.exists(log):
        os.remove(log)
    return Proc(["/usr/bin/python3", MOCK, "--port", "0", "--log", log] + list(extra)), log


def bench(base, *flags, timeout=120):
    argv = [args.glm, "bench", "serve", "--base-url", base] + list(flags)
    return run(argv, timeout=timeout, env=env)


def f(vals, label):
    try:
        return float(vals[label])
    except (KeyError, ValueError):
        check(False, "report has no number for %r: %r" % (label, vals))
        return float("nan")


def tokref_lengths(texts):
    inp = "".join(json.dumps(t) + "\n" for t in texts)
    r = subprocess.run([args.node, args.tokref, args.tokenizer, "--json"], input=inp, capture_output=True, text=True,
                       timeout=120)
    check(r.returncode == 0, "tokref ran: %s" % r.stderr[-500:])
    return [len(json.loads(l)) for l in r.stdout.split("\n") if l.strip()]


# ---- 1. token-id prompts, a concurrency limit, every latency block and percentiles 50,99 ----
FIRST, CHUNK, N, IN, OUT, MC = 0.10, 0.02, 12, 100, 10, 4
srv, log = mock("ids", "--first-delay", str(FIRST), "--chunk-delay", str(CHUNK))
out_json = os.path.join(args.tmp, "bench_ids.json")
rc, out, err = bench(srv.base, "--model", "mock-model", "--tokenizer", args.tokenizer, "--num-prompts", str(N),
                     "--random-input-len", str(IN), "--random-output-len", str(OUT), "--max-concurrency", str(MC),
                     "--prompt-ids", "--percentile-metrics", "ttft,tpot,itl,e2el", "--metric-percentiles", "50,99",
                     "--output-json", out_json)
srv.stop()
print(out)
check(rc == 0, "bench serve exit status 0 (got %d): %s" % (rc, err[-2000:]))
block, vals = parse_report(out)
check(block is not None, "the report block is printed")
if block:
    want = (HEAD + ["Maximum request concurrency:"] + COUNTS + TTFT(["50", "99"]) + TPOT(["50", "99"]) +
            ITL(["50", "99"]) + E2EL(["50", "99"]) + ["=" * 50])
    check(labels_of(block) == want, "report labels are vLLM's, in order:\n%s\nwant\n%s" % (labels_of(block), want))
    bad = format_ok(block)
    check(bad is None, "every report line is '{:<40} {:<10}' (bad: %r)" % bad)
reqs = read_log(log)
check(len(reqs) == N, "the mock saw %d requests (got %d)" % (N, len(reqs)))
check(all(r["kind"] == "ids" and r["prompt_len"] == IN for r in reqs), "every prompt is %d token ids" % IN)
check(all(r["max_tokens"] == OUT and r["ignore_eos"] is True and r["stream"] is True and
          r["stream_options"] == {"include_usage": True} and r["model"] == "mock-model" for r in reqs),
      "payloads carry max_tokens, ignore_eos, stream, stream_options.include_usage, model")
check(max(r["inflight"] for r in reqs) == MC,
      "the mock saw exactly %d requests in flight at most (%d)" % (MC, max(r["inflight"] for r in reqs)))
check(vals.get("Successful requests:") == str(N) and vals.get("Failed requests:") == "0", "all requests succeeded")
check(vals.get("Maximum request concurrency:") == str(MC), "concurrency limit printed")
check(vals.get("Total input tokens:") == str(sum(r["prompt_len"] for r in reqs)), "total input = the mock's count")
check(vals.get("Total generated tokens:") == str(N * OUT), "total output = %d" % (N * OUT))
check(f(vals, "Peak concurrent requests:") == MC, "peak concurrent requests = the limit")
ttft, itl, tpot, e2el = (f(vals, "Mean TTFT (ms):"), f(vals, "Median ITL (ms):"), f(vals, "Mean TPOT (ms):"),
                         f(vals, "Mean E2EL (ms):"))
check(FIRST * 1000 <= ttft < FIRST * 1000 + 150, "mean TTFT %.2f ms in [%g, +150)" % (ttft, FIRST * 1000))
check(f(vals, "P50 TTFT (ms):") >= FIRST * 1000, "P50 TTFT >= the first-chunk delay")
check(CHUNK * 1000 * 0.95 <= itl <= CHUNK * 1000 * 1.6, "median ITL %.2f ms ~ %g ms" % (itl, CHUNK * 1000))
check(CHUNK * 1000 * 0.95 <= tpot <= CHUNK * 1000 * 1.6, "mean TPOT %.2f ms ~ %g ms" % (tpot, CHUNK * 1000))
e2e_min = (FIRST + (OUT - 1) * CHUNK) * 1000
check(e2e_min * 0.98 <= e2el <= e2e_min + 250, "mean E2EL %.2f ms ~ %.0f ms" % (e2el, e2e_min))
dur = f(vals, "Benchmark duration (s):")
# 12 requests, 4 at a time, each >= 0.28 s: at least 3 rounds
check(dur >= 3 * e2e_min / 1000 * 0.98, "duration %.2f s covers 3 rounds of 4" % dur)
check(abs(f(vals, "Request throughput (req/s):") - N / dur) <= 0.01 + N / dur * 0.01, "req/s = N / duration")
check(abs(f(vals, "Output token throughput (tok/s):") - N * OUT / dur) <= 0.01 + N * OUT / dur * 0.01,
      "output tok/s = total / duration")
try:
    j = json.load(open(out_json))
except (OSError, ValueError) as e:
    j = {}
    check(False, "--output-json written: %s" % e)
keys = ["date", "endpoint_type", "backend", "label", "model_id", "tokenizer_id", "num_prompts", "request_rate",
        "burstiness", "max_concurrency", "duration", "completed", "failed", "total_input_tokens", "total_output_tokens",
        "request_throughput", "request_goodput", "output_throughput", "total_token_throughput",
        "max_output_tokens_per_s", "max_concurrent_requests", "latencies"]
for m in ("ttft", "tpot", "itl", "e2el"):
    keys += ["mean_%s_ms" % m, "median_%s_ms" % m, "std_%s_ms" % m, "p50_%s_ms" % m, "p99_%s_ms" % m]
missing = [k for k in keys if k not in j]
check(not missing, "--output-json has vLLM's keys (missing %s)" % missing)
check(j.get("completed") == N and j.get("failed") == 0 and j.get("total_output_tokens") == N * OUT and
      j.get("max_concurrency") == MC and j.get("request_rate") == "inf" and j.get("num_prompts") == N,
      "JSON values agree with the run")
check(abs(j.get("mean_ttft_ms", 0) - ttft) < 0.006, "JSON mean_ttft_ms = the printed one")
check("input_lens" not in j, "per-request arrays only with --save-detailed")

# ---- 2. text prompts of varying length, re-tokenized by Hugging Face's engine ----
N2, IN2, OUT2, R2 = 10, 200, 8, 0.3
srv, log = mock("text", "--first-delay", "0.05", "--chunk-delay", "0.005")
out_json = os.path.join(args.tmp, "bench_text.json")
rc, out, err = bench(srv.base, "--model", "mock-model", "--tokenizer", args.tokenizer, "--num-prompts", str(N2),
                     "--random-input-len", str(IN2), "--random-output-len", str(OUT2), "--random-range-ratio",
                     str(R2), "--seed", "3", "--save-detailed", "--output-json", out_json)
srv.stop()
print(out)
check(rc == 0, "text run exit status 0: %s" % err[-2000:])
block, vals = parse_report(out)
if block:
    want = HEAD + COUNTS + TTFT(["99"]) + TPOT(["99"]) + ITL(["99"]) + ["=" * 50]
    check(labels_of(block) == want, "default report (no limit, rate inf): %s" % labels_of(block))
check("WARNING: /tokenize unavailable, skipping alignment." in out, "the server-tokenizer check is tried")
reqs = read_log(log)
texts = [r.get("prompt") for r in reqs]
check(len(texts) == N2 and all(isinstance(t, str) for t in texts), "prompts sent as text")
lens = tokref_lengths(texts)
j = json.load(open(out_json)) if os.path.exists(out_json) else {}
lo, hi = math.floor(IN2 * (1 - R2)), math.ceil(IN2 * (1 + R2))
check(all(lo <= n <= hi for n in lens), "every prompt length within [%d, %d]: %s" % (lo, hi, lens))
check(len(set(lens)) > 3, "lengths vary: %s" % lens)
check(sorted(lens) == sorted(j.get("input_lens", [])),
      "HF tokenizer lengths of the texts sent == the lengths reported (%s vs %s)" % (sorted(lens),
                                                                                 sorted(j.get("input_lens", []))))
check(vals.get("Total input tokens:") == str(sum(lens)), "total input tokens = HF count %d" % sum(lens))
olo, ohi = math.floor(OUT2 * (1 - R2)), math.ceil(OUT2 * (1 + R2))
mt = [r["max_tokens"] for r in reqs]
check(all(olo <= m <= ohi for m in mt), "max_tokens within [%d, %d]: %s" % (olo, ohi, mt))
check(sorted(mt) == sorted(j.get("output_lens", [])), "output lens = the usage the mock sent")
check(vals.get("Total generated tokens:") == str(sum(mt)), "total generated = sum of max_tokens")
check(f(vals, "Peak concurrent requests:") == N2, "all %d in flight at once with rate inf" % N2)
itls = j.get("itls", [])
check(len(itls) == N2 and all(len(x) == m - 1 for x, m in zip(itls, j.get("output_lens", []))),
      "one ITL per chunk after the first")
check(all(e == "" for e in j.get("errors", ["x"])), "no errors recorded")
check(all(t.startswith("t0 t1 ") for t in j.get("generated_texts", [""])), "generated texts collected")

# ---- 3. Poisson arrivals at 10 req/s; --max-concurrency 1 serializes ----
srv, log = mock("rate", "--first-delay", "0.01", "--chunk-delay", "0.001")
rc, out, err = bench(srv.base, "--model", "mock-model", "--tokenizer", args.tokenizer, "--num-prompts", "10",
                     "--random-input-len", "20", "--random-output-len", "2", "--request-rate", "10", "--prompt-ids")
block, vals = parse_report(out)
check("Traffic request rate: 10.0" in out and "Burstiness factor: 1.0 (Poisson process)" in out,
      "traffic lines printed like vLLM's")
check(vals.get("Request rate configured (RPS):") == "10.00", "configured rate line")
if block:
    check(labels_of(block)[3] == "Request rate configured (RPS):", "rate line after the failed count")
dur = f(vals, "Benchmark duration (s):")
check(1.0 <= dur < 1.6, "the last of 10 arrivals at 10 req/s is at 1.0 s: duration %.2f" % dur)
starts = sorted(r["t_start"] for r in read_log(log))
check(len(starts) == 10 and starts[-1] - starts[0] > 0.3, "arrivals spread over time: %s" % starts)
rc, out, err = bench(srv.base, "--model", "mock-model", "--tokenizer", args.tokenizer, "--num-prompts", "10",
                     "--random-input-len", "20", "--random-output-len", "2", "--request-rate", "20", "--burstiness",
                     "0.5", "--prompt-ids")
block, vals = parse_report(out)
check("Burstiness factor: 0.5 (Gamma distribution)" in out, "gamma arrivals announced")
dur = f(vals, "Benchmark duration (s):")
check(0.5 <= dur < 1.1 and vals.get("Successful requests:") == "10", "gamma arrivals end at 10/20 s: %.2f" % dur)
seen = len(read_log(log))
rc, out, err = bench(srv.base, "--model", "mock-model", "--tokenizer", args.tokenizer, "--num-prompts", "6",
                     "--random-input-len", "20", "--random-output-len", "3", "--max-concurrency", "1",
                     "--prompt-ids")
srv.stop()
block, vals = parse_report(out)
reqs = sorted(read_log(log)[seen:], key=lambda r: r["t_start"])
check(len(reqs) == 6 and max(r["inflight"] for r in reqs) == 1, "one request in flight at a time")
check(all(reqs[i + 1]["t_start"] >= reqs[i]["t_end"] - 0.005 for i in range(len(reqs) - 1)),
      "each request starts after the previous ended")
check(f(vals, "Peak concurrent requests:") == 1, "peak concurrency 1")

# ---- 4. chat backend; model and tokenizer found through /v1/models ----
tokdir = os.path.dirname(os.path.abspath(args.tokenizer))
srv, log = mock("chat", "--first-delay", "0.03", "--chunk-delay", "0.005", "--root", tokdir, "--model-name",
                "served-glm")
rc, out, err = bench(srv.base, "--backend", "openai-chat", "--num-prompts", "5", "--random-input-len", "50",
                     "--random-output-len", "6")
srv.stop()
print(out)
block, vals = parse_report(out)
check("First model name: served-glm, first model id: %s" % tokdir in out, "model taken from /v1/models")
reqs = read_log(log)
check(len(reqs) == 5 and all(r["path"] == "/v1/chat/completions" and r["kind"] == "chat" and
                             r["model"] == "served-glm" and r["max_tokens"] == 6 for r in reqs),
      "chat requests with max_completion_tokens to the served name")
check(vals.get("Successful requests:") == "5" and vals.get("Total generated tokens:") == "30", "chat run counted")
lens = tokref_lengths([r["prompt"] for r in reqs])
check(lens == [50] * 5, "chat prompt texts are 50 tokens each (HF): %s" % lens)
check(f(vals, "Mean TTFT (ms):") >= 30, "chat TTFT >= first delay")

# ---- 5. failures: HTTP 500 every 4th, malformed SSE every 5th ----
srv, log = mock("faults", "--first-delay", "0.01", "--chunk-delay", "0.002", "--fail-every", "4",
                "--malformed-every", "5")
rc, out, err = bench(srv.base, "--model", "mock-model", "--tokenizer", args.tokenizer, "--num-prompts", "20",
                     "--random-input-len", "30", "--random-output-len", "6", "--max-concurrency", "3",
                     "--prompt-ids")
srv.stop()
print(out)
block, vals = parse_report(out)
check(rc == 0, "failures are results, not a crash (rc %d): %s" % (rc, err[-1000:]))
# k = 4, 8, 12, 16, 20 fail with 500; 5, 10, 15 are malformed (20 already failed)
check(vals.get("Failed requests:") == "8" and vals.get("Successful requests:") == "12", "8 failed, 12 succeeded")
check(vals.get("Total generated tokens:") == "72", "failed requests count no output")
check("Failed requests during benchmark run detected (capping to 10):" in out, "failures listed")
check("HTTP 500: mock failure for request" in out, "HTTP status and server message shown")
check("malformed SSE event" in out, "malformed SSE explained")

# ---- 6. unreachable server, missing tokenizer ----
rc, out, err = bench("http://127.0.0.1:%d" % closed_port(), "--model", "x", "--tokenizer", args.tokenizer,
                     "--num-prompts", "4", "--random-input-len", "10", "--random-output-len", "2")
block, vals = parse_report(out)
check(rc == 0 and vals.get("Failed requests:") == "4" and vals.get("Successful requests:") == "0",
      "unreachable server: 4 failed requests, rc %d" % rc)
check("Failed to connect" in out or "Couldn't connect" in out, "connection error explained")
rc, out, err = bench("http://127.0.0.1:%d" % closed_port(), "--model", "not-a-directory", "--num-prompts", "1")
check(rc != 0 and "--tokenizer" in err, "no local tokenizer: a clear error (rc %d): %s" % (rc, err))
rc, out, err = bench("http://127.0.0.1:%d" % closed_port(), "--num-prompts", "1")
check(rc != 0 and "/v1/models" in err, "no --model and no server: a clear error: %s" % err)

finish()
