#!/usr/bin/python3
"""mock_openai.py - a deterministic OpenAI-compatible server for the client tests
(`glm bench serve`, `glm eval gsm8k`). Standard library only; listens on 127.0.0.1 and prints
"listening on http://127.0.0.1:PORT" once ready (--port 0: the kernel picks the port).

Streaming completions (/v1/completions, /v1/chat/completions with "stream": true): waits
--first-delay seconds, then sends exactly max_tokens chunks of one "token" each, --chunk-delay
seconds apart (the last one with finish_reason "length"), then the usage chunk when
stream_options.include_usage is set, then [DONE]. usage.prompt_tokens is the length of a token-id
prompt; for text prompts it is left out (the mock has no tokenizer), so the client's own count is
what gets reported.

Faults, by the order requests arrive (1-based k): --fail-every N answers request k with HTTP 500
when k % N == 0; --malformed-every N sends a broken SSE event in the middle of the stream when
k % N == 0 (and it was not failed).

GSM8K mode (--gsm8k FILE): non-streaming /v1/completions whose prompt must be exactly SGLang's
few-shot prompt (--num-shots) for some test question i, else HTTP 400. The answer depends on
i % 6 (correct, wrong, no number, comma-formatted, leading zero, non-ASCII digit); the tests
compute the expected accuracy from these texts with SGLang's own extraction.

Every request is logged as one JSON line to --log (prompt kind and length, max_tokens, flags,
in-flight count, times)."""
import argparse
import json
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, default=0)
ap.add_argument("--first-delay", type=float, default=0.05)
ap.add_argument("--chunk-delay", type=float, default=0.01)
ap.add_argument("--fail-every", type=int, default=0)
ap.add_argument("--malformed-every", type=int, default=0)
ap.add_argument("--log", default=None)
ap.add_argument("--model-name", default="mock-model")
ap.add_argument("--root", default=None, help="root reported by /v1/models")
ap.add_argument("--gsm8k", default=None)
ap.add_argument("--num-shots", type=int, default=5)
args = ap.parse_args()

lock = threading.Lock()
state = {"k": 0, "inflight": 0, "max_inflight": 0}
log_f = open(args.log, "a") if args.log else None

gsm_items = []
gsm_by_prompt = {}
if args.gsm8k:
    with open(args.gsm8k) as f:
        gsm_items = [json.loads(l) for l in f if l.strip()]
    # SGLang few_shot_gsm8k: the shots are the first k test items with answers, then the question
    shots = "".join("Question: " + it["question"] + "\nAnswer: " + it["answer"] + "\n\n"
                    for it in gsm_items[:args.num_shots])
    for i, it in enumerate(gsm_items):
        gsm_by_prompt.setdefault(shots + "Question: " + it["question"] + "\nAnswer:", i)


def gold(i):
    return int(gsm_items[i]["answer"].split("####")[-1].strip().replace(",", ""))


def gsm_answer(i):
    g = gold(i)
    kind = i % 6
    if kind == 0:
        return " We add 3 and 4 to get 7. So the answer is %d." % g
    if kind == 1:
        return " The total is 12, so the answer is %d." % (g + 1)
    if kind == 2:
        return " I cannot tell from the question."
    if kind == 3:
        return " It costs {:,} dollars in all.".format(g)
    if kind == 4:
        return " The answer is 0%d." % g
    return " The answer is %d\u0663." % g


def log(rec):
    if log_f:
        with lock:
            log_f.write(json.dumps(rec) + "\n")
            log_f.flush()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def setup(self):
        super().setup()
        # one small write per chunk must leave at once (ITL is measured per chunk)
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt, *a):
        pass

    def send_json(self, status, obj):
        # No Content-Length: the body ends when the connection closes, i.e. after this request's
        # in-flight count was dropped, so a client never sees more in flight than it sent.
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/v1/models":
            self.send_json(200, {"object": "list", "data": [
                {"id": args.model_name, "object": "model", "owned_by": "mock", "root": args.root}]})
        elif self.path == "/health":
            self.send_json(200, {})
        else:
            self.send_json(404, {"error": {"message": "no route " + self.path, "type": "NotFoundError",
                                           "code": 404}})

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(n)
        try:
            body = json.loads(raw)
        except ValueError:
            self.send_json(400, {"error": {"message": "body is not JSON", "code": 400}})
            return
        if self.path not in ("/v1/completions", "/v1/chat/completions"):
            self.send_json(404, {"error": {"message": "no route " + self.path, "code": 404}})
            return
        with lock:
            state["k"] += 1
            k = state["k"]
            state["inflight"] += 1
            state["max_inflight"] = max(state["max_inflight"], state["inflight"])
            inflight = state["inflight"]
        t0 = time.time()
        rec = {"k": k, "path": self.path, "inflight": inflight, "t_start": t0}
        try:
            if args.gsm8k:
                self.gsm8k(body, rec)
            else:
                self.stream(body, rec, k)
        except (BrokenPipeError, ConnectionResetError):
            rec["client_gone"] = True
        finally:
            with lock:
                state["inflight"] -= 1
            rec["t_end"] = time.time()
            rec["max_inflight"] = state["max_inflight"]
            log(rec)

    def stream(self, body, rec, k):
        chat = self.path.endswith("/chat/completions")
        if chat:
            msgs = body.get("messages") or []
            content = msgs[0].get("content") if msgs else None
            text = content[0]["text"] if isinstance(content, list) else content
            rec.update(kind="chat", prompt=text)
            max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
        else:
            p = body.get("prompt")
            if isinstance(p, list):
                rec.update(kind="ids", prompt_len=len(p))
            else:
                rec.update(kind="text", prompt=p)
            max_tokens = body.get("max_tokens")
        rec.update(max_tokens=max_tokens, ignore_eos=body.get("ignore_eos"), stream=body.get("stream"),
                   stream_options=body.get("stream_options"), model=body.get("model"))
        if args.fail_every and k % args.fail_every == 0:
            rec["fault"] = "500"
            self.send_json(500, {"error": {"message": "mock failure for request %d" % k,
                                           "type": "InternalServerError", "code": 500}})
            return
        if not isinstance(max_tokens, int) or max_tokens < 1 or body.get("stream") is not True:
            self.send_json(400, {"error": {"message": "max_tokens and stream: true are required", "code": 400}})
            return
        malformed = args.malformed_every and k % args.malformed_every == 0
        if malformed:
            rec["fault"] = "malformed"
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        rid = "cmpl-mock%d" % k
        time.sleep(args.first_delay)
        for i in range(max_tokens):
            if i > 0:
                time.sleep(args.chunk_delay)
            if malformed and i == max_tokens // 2:
                self.wfile.write(b"data: {\"choices\": [{\"text\": \"unterminated\n\n")
                self.wfile.flush()
                continue
            fin = "length" if i == max_tokens - 1 else None
            if chat:
                delta = {"content": "t%d " % i}
                if i == 0:
                    delta["role"] = "assistant"
                ch = {"id": rid, "object": "chat.completion.chunk", "choices": [
                    {"index": 0, "delta": delta, "finish_reason": fin}]}
            else:
                ch = {"id": rid, "object": "text_completion", "choices": [
                    {"index": 0, "text": "t%d " % i, "finish_reason": fin}]}
            self.wfile.write(b"data: " + json.dumps(ch).encode() + b"\n\n")
            self.wfile.flush()
        so = body.get("stream_options") or {}
        if so.get("include_usage"):
            usage = {"completion_tokens": max_tokens}
            if rec["kind"] == "ids":
                usage["prompt_tokens"] = rec["prompt_len"]
                usage["total_tokens"] = rec["prompt_len"] + max_tokens
            self.wfile.write(b"data: " + json.dumps({"id": rid, "choices": [], "usage": usage}).encode() + b"\n\n")
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()

    def gsm8k(self, body, rec):
        prompt = body.get("prompt")
        i = gsm_by_prompt.get(prompt) if isinstance(prompt, str) else None
        rec.update(kind="gsm8k", question=i, max_tokens=body.get("max_tokens"),
                   temperature=body.get("temperature"), stop=body.get("stop"), stream=body.get("stream"))
        if i is None:
            self.send_json(400, {"error": {"message": "the prompt is not SGLang's few-shot prompt", "code": 400}})
            return
        text = gsm_answer(i)
        time.sleep(args.first_delay)
        n_tok = len(text.split())
        rec["answer"] = text
        rec["completion_tokens"] = n_tok
        self.send_json(200, {"id": "cmpl-g%d" % i, "object": "text_completion", "model": body.get("model"),
                             "choices": [{"index": 0, "text": text, "finish_reason": "stop"}],
                             "usage": {"prompt_tokens": 0, "completion_tokens": n_tok,
                                       "total_tokens": n_tok}})


class Server(ThreadingHTTPServer):
    request_queue_size = 1024  # the listen backlog: hundreds of clients connect at once
    daemon_threads = False     # server_close() joins the handlers, so every request gets logged
    block_on_close = True


srv = Server(("127.0.0.1", args.port), Handler)
# SIGTERM: stop accepting, let the handlers finish (and log), exit 0
signal.signal(signal.SIGTERM, lambda *a: threading.Thread(target=srv.shutdown).start())
print("listening on http://127.0.0.1:%d" % srv.server_address[1], flush=True)
try:
    srv.serve_forever()
except KeyboardInterrupt:
    pass
srv.server_close()
if log_f:
    log_f.close()
