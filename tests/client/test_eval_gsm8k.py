#!/usr/bin/python3
"""test_eval_gsm8k.py - `glm eval gsm8k` against mock_openai.py --gsm8k, which accepts only
SGLang's exact few-shot prompt and answers question i by i % 6: correct, a wrong number, no
number, a comma-formatted correct number, a leading zero, a trailing non-ASCII digit. The
expected accuracy and invalid rate are computed here with SGLang's own extraction (Python's re
and ast.literal_eval on the texts the mock sent) and must equal the printed ones exactly; the
request parameters (temperature 0, max tokens, stop strings, parallelism) are checked in the
mock's log; failures (HTTP errors, unreachable server) are reported, not crashes."""
import argparse
import ast
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Proc, check, closed_port, finish, read_log, run  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--glm", required=True)
ap.add_argument("--data", required=True, help="the gsm8k directory holding test.jsonl")
ap.add_argument("--tmp", required=True)
args = ap.parse_args()
HERE = os.path.dirname(os.path.abspath(__file__))
MOCK = os.path.join(HERE, "mock_openai.py")
TEST = os.path.join(args.data, "test.jsonl")
os.makedirs(args.tmp, exist_ok=True)
env = dict(os.environ)
env.pop("OPENAI_API_KEY", None)
INVALID = -9999999


def get_answer_value(answer_str):
    """sglang/test/few_shot_gsm8k.py"""
    answer_str = answer_str.replace(",", "")
    numbers = re.findall(r"\d+", answer_str)
    if len(numbers) < 1:
        return INVALID
    try:
        return ast.literal_eval(numbers[-1])
    except SyntaxError:
        return INVALID


items = [json.loads(l) for l in open(TEST) if l.strip()]


def mock(name, *extra):
    log = os.path.join(args.tmp, "mock_%s.jsonl" % name)
    if os.path.exists(log):
        os.remove(log)
    return Proc(["/usr/bin/python3", MOCK, "--port", "0", "--log", log, "--gsm8k", TEST] + list(extra)), log


def printed(out, name):
    m = re.search(r"^%s: ([0-9.]+)" % re.escape(name), out, re.M)
    check(m is not None, "printed %s" % name)
    return m.group(1) if m else None


def expected(reqs, n):
    preds = {r["question"]: get_answer_value(r["answer"]) for r in reqs if "answer" in r}
    labels = [get_answer_value(items[i]["answer"]) for i in range(n)]
    p = [preds.get(i, INVALID) for i in range(n)]
    acc = sum(a == b for a, b in zip(p, labels)) / n
    inv = sum(a == INVALID for a in p) / n
    return acc, inv


# ---- 1. 30 questions, 5 shots, 8 in parallel ----
N, PAR = 30, 8
srv, log = mock("main", "--first-delay", "0.2")
out_json = os.path.join(args.tmp, "gsm8k.json")
rc, out, err = run([args.glm, "eval", "gsm8k", "--base-url", srv.base, "--model", "mock-model", "--num-questions",
                    str(N), "--parallel", str(PAR), "--data-path", args.data, "--output-json", out_json],
                   timeout=120, env=env)
srv.stop()
print(out)
check(rc == 0, "eval exit status 0 (got %d): %s" % (rc, err[-2000:]))
reqs = read_log(log)
check(sorted(r["question"] for r in reqs) == list(range(N)),
      "each of the first %d questions asked once with SGLang's exact 5-shot prompt" % N)
check(all(r["temperature"] == 0 and r["max_tokens"] == 512 and r["stop"] == ["Question", "Assistant:", "<|separator|>"]
          and r["stream"] is False for r in reqs), "temperature 0, max_tokens 512, SGLang's stop strings")
check(max(r["inflight"] for r in reqs) == PAR,
      "--parallel %d requests in flight at most (mock saw %d)" % (PAR, max(r["inflight"] for r in reqs)))
acc, inv = expected(reqs, N)
# by construction: i%6 in {0,3} correct, {2,4,5} invalid (no gold answer is 0 in the first 30)
check(abs(acc - 10 / 30) < 1e-12 and abs(inv - 15 / 30) < 1e-12, "reference: acc %.3f invalid %.3f" % (acc, inv))
check(printed(out, "Accuracy") == "%.3f" % acc, "Accuracy %.3f" % acc)
check(printed(out, "Invalid") == "%.3f" % inv, "Invalid %.3f" % inv)
lat = printed(out, "Latency")
thr = printed(out, "Output throughput")
check(re.search(r"^Latency: [0-9]+\.[0-9]{3} s$", out, re.M) is not None, "Latency line like SGLang's")
check(re.search(r"^Output throughput: [0-9]+\.[0-9]{3} token/s$", out, re.M) is not None,
      "Output throughput line like SGLang's")
tokens = sum(r["completion_tokens"] for r in reqs)
if lat and thr:
    lat, thr = float(lat), float(thr)
    # 30 requests of >= 0.2 s, 8 at a time: at least 4 rounds
    check(0.8 <= lat < 10, "latency %.3f s" % lat)
    check(abs(thr - tokens / lat) <= tokens / lat * 0.01 + 0.01, "throughput = %d tokens / latency" % tokens)
try:
    j = json.load(open(out_json))
except (OSError, ValueError) as e:
    j = {}
    check(False, "--output-json written: %s" % e)
check(abs(j.get("accuracy", -1) - acc) < 1e-12 and abs(j.get("invalid", -1) - inv) < 1e-12 and
      j.get("output_tokens") == tokens and j.get("failed") == 0, "JSON totals")
qs = j.get("questions", [])
check(len(qs) == N and all(q["correct"] == (get_answer_value(q["output"]) == get_answer_value(items[q["index"]]["answer"]))
                           for q in qs), "JSON per-question verdicts agree with SGLang's extraction")

# ---- 2. other shot count, default data path (GLM_DATA_DIR/../../shared/data/gsm8k), model from /v1/models ----
srv, log = mock("shots2", "--first-delay", "0.01", "--num-shots", "2", "--model-name", "served")
rc, out, err = run([args.glm, "eval", "gsm8k", "--base-url", srv.base, "--num-questions", "13", "--num-shots", "2",
                    "--parallel", "64"], timeout=120, env=env)
srv.stop()
print(out)
reqs = read_log(log)
check(rc == 0 and sorted(r["question"] for r in reqs) == list(range(13)), "2-shot prompts exact: %s" % err[-1000:])
acc, inv = expected(reqs, 13)
check(printed(out, "Accuracy") == "%.3f" % acc and printed(out, "Invalid") == "%.3f" % inv,
      "2-shot accuracy %.3f invalid %.3f" % (acc, inv))

# ---- 3. a server that refuses the prompts (it expects 5 shots, gets 3): failures, exit 1 ----
srv, log = mock("refuse", "--first-delay", "0.0")
rc, out, err = run([args.glm, "eval", "gsm8k", "--base-url", srv.base, "--model", "m", "--num-questions", "7",
                    "--num-shots", "3", "--data-path", TEST], timeout=120, env=env)
srv.stop()
print(out)
check(rc == 1, "failed requests make the exit status 1 (got %d)" % rc)
check("Failed requests: 7 of 7" in out and "HTTP 400: the prompt is not SGLang's few-shot prompt" in out,
      "failures counted and explained")
check(printed(out, "Accuracy") == "0.000" and printed(out, "Invalid") == "1.000", "failed answers are invalid")

# ---- 4. unreachable server ----
rc, out, err = run([args.glm, "eval", "gsm8k", "--base-url", "http://127.0.0.1:%d" % closed_port(), "--model", "m",
                    "--num-questions", "3", "--data-path", args.data], timeout=60, env=env)
check(rc == 1 and "Failed requests: 3 of 3" in out and ("Failed to connect" in out or "Couldn't connect" in out),
      "unreachable server reported (rc %d): %s %s" % (rc, out, err))
rc, out, err = run([args.glm, "eval", "gsm8k", "--base-url", "http://127.0.0.1:1", "--model", "m",
                    "--data-path", "/nonexistent/gsm8k"], timeout=60, env=env)
check(rc == 1 and "--data-path" in err, "missing data: a clear error: %s" % err)

finish()
