"""harness.py - shared pieces of the client tests: checks that count toward the final
"N passed, M failed" line, starting/stopping the mock server and `glm serve` (bounded waits,
127.0.0.1, port 0), running `glm` with a time limit, and parsing vLLM's report."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

passed = 0
failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("CHECK failed: " + what, file=sys.stderr, flush=True)
    return cond


def finish():
    print("%d passed, %d failed" % (passed, failed), flush=True)
    sys.exit(1 if failed else 0)


class Proc:
    """A server started in the background that printed 'listening on http://HOST:PORT'. Its
    output is collected by a reader thread (so a chatty server never blocks on a full pipe)."""

    def __init__(self, argv, timeout=60, env=None):
        self.argv = argv
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                                  errors="replace")
        self.chunks = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        deadline = time.time() + timeout
        self.port = None
        while self.port is None:
            m = re.search(r"listening on http://[^\s:]+:(\d+)", self.out)
            if m:
                self.port = int(m.group(1))
            elif time.time() > deadline:
                self.kill()
                raise RuntimeError("server did not start in time: %s\n%s" % (argv, self.out))
            elif self.p.poll() is not None:
                self.reader.join(5)
                raise RuntimeError("server exited early (%s): %s\n%s" % (self.p.returncode, argv, self.out))
            else:
                time.sleep(0.02)
        self.base = "http://127.0.0.1:%d" % self.port

    def _read(self):
        for line in self.p.stdout:
            self.chunks.append(line)

    @property
    def out(self):
        return "".join(self.chunks)

    def stop(self, timeout=20):
        """SIGTERM, wait (bounded); returns the exit status (None if it had to be killed)."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                return None
        self.reader.join(5)
        return self.p.returncode

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


def run(argv, timeout=120, env=None):
    """Runs a command; returns (rc, stdout, stderr). A timeout is a failed check, rc -9."""
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)
        return r.returncode, r.stdout, r.stderr
    except subprocess.TimeoutExpired as e:
        check(False, "timed out after %ss: %s" % (timeout, " ".join(argv)))
        return -9, e.stdout or "", e.stderr or ""


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def read_log(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


RULE = "=" * 50
TITLE = "============ Serving Benchmark Result ============"


def parse_report(out):
    """The report block of `glm bench serve` as (lines, {label: value string})."""
    lines = out.split("\n")
    try:
        a = lines.index(TITLE)
        b = lines.index(RULE, a + 1)
    except ValueError:
        return None, {}
    block = lines[a:b + 1]
    vals = {}
    for l in block[1:-1]:
        if l.startswith("-"):
            continue
        label, _, value = l.partition(":")
        vals[label + ":"] = value.strip()
    return block, vals


def labels_of(block):
    return [l if l.startswith("-") or l.startswith("=") else l.partition(":")[0] + ":" for l in block]


def format_ok(block):
    """Every value line is "{:<40} {:<10}".format(label, value); rules are 50 wide."""
    for l in block:
        if l.startswith("-") or l.startswith("="):
            if len(l) != 50:
                return l
            continue
        label, _, value = l.partition(":")
        if l != "{:<40} {:<10}".format(label + ":", value.strip()):
            return l
    return None
