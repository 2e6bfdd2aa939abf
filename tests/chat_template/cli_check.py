#!/usr/bin/env python3
"""End-to-end check of `glm template`: for every shared template x context, a checkpoint-like
directory is made (the template as chat_template.jinja, or inside tokenizer_config.json), the
context becomes an OpenAI-style request (extra keys -> chat_template_kwargs, tool-call
arguments as JSON strings), and stdout must equal expected/<model>__<context>.txt byte for
byte. With the reconstructed GLM-4.5 tokenizer, `--ids` must equal `glm tokenize` of that text.
Prints "N passed, M failed"."""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--glm", required=True)
    ap.add_argument("--shared", required=True)
    a = ap.parse_args()
    root = os.path.join(a.shared, "data", "chat_templates")
    tok = os.path.join(a.shared, "data", "tokenizers", "glm-4.5-reconstructed", "tokenizer.json")
    models = sorted(m for m in os.listdir(root) if os.path.isfile(os.path.join(root, m, "chat_template.jinja")))
    ctxs = sorted(f[:-5] for f in os.listdir(os.path.join(root, "contexts")) if f.endswith(".json"))
    passed = failed = 0
    tmp = tempfile.mkdtemp(prefix="glm_cli_tpl_")
    try:
        for mi, m in enumerate(models):
            d = os.path.join(tmp, m)
            os.makedirs(d)
            src = open(os.path.join(root, m, "chat_template.jinja"), encoding="utf-8", newline="").read()
            if mi % 2:  # alternate where the template lives
                with open(os.path.join(d, "tokenizer_config.json"), "w", encoding="utf-8") as f:
                    json.dump({"chat_template": src, "eos_token": "<|endoftext|>"}, f)
            else:
                shutil.copy(os.path.join(root, m, "chat_template.jinja"), d)
            if os.path.isfile(tok) and m == "glm-4.5":
                os.symlink(tok, os.path.join(d, "tokenizer.json"))
            for c in ctxs:
                ctx = json.load(open(os.path.join(root, "contexts", c + ".json"), encoding="utf-8"))
                req = {"messages": [], "chat_template_kwargs": {}}
                for msg in ctx["messages"]:
                    msg = dict(msg)
                    if "tool_calls" in msg:
                        msg["tool_calls"] = [dict(tc, function=dict(tc["function"], arguments=json.dumps(
                            tc["function"]["arguments"], ensure_ascii=False))) if "function" in tc else tc
                            for tc in msg["tool_calls"]]
                    req["messages"].append(msg)
                for k, v in ctx.items():
                    if k == "tools":
                        req["tools"] = v
                    elif k != "messages" and k != "add_generation_prompt":
                        req["chat_template_kwargs"][k] = v
                rp = os.path.join(tmp, "req.json")
                with open(rp, "w", encoding="utf-8") as f:
                    json.dump(req, f, ensure_ascii=False)
                cmd = [a.glm, "template", "--model", d, "--messages", rp]
                if not ctx.get("add_generation_prompt", False):
                    cmd.append("--no-generation-prompt")
                r = subprocess.run(cmd, capture_output=True)
                exp = open(os.path.join(root, "expected", "%s__%s.txt" % (m, c)), "rb").read()
                if r.returncode == 0 and r.stdout == exp:
                    passed += 1
                else:
                    failed += 1
                    print("FAIL %s/%s: rc=%d %s" % (m, c, r.returncode, r.stderr.decode()[-300:]))
                if os.path.exists(os.path.join(d, "tokenizer.json")) and c in ("basic", "tools_multiturn"):
                    r2 = subprocess.run(cmd + ["--ids"], capture_output=True)
                    r3 = subprocess.run([a.glm, "tokenize", "--model", d], input=exp, capture_output=True)
                    ok = r2.returncode == 0 and r3.returncode == 0 and json.loads(r2.stdout) == json.loads(r3.stdout)
                    ok = ok and json.loads(r2.stdout)[:2] == [151331, 151333]  # [gMASK]<sop> as special ids
                    if ok:
                        passed += 1
                    else:
                        failed += 1
                        print("FAIL --ids %s/%s: %s %s" % (m, c, r2.stderr.decode()[-300:], r3.stderr.decode()[-300:]))
        # errors reach the user with the position
        bad = os.path.join(tmp, "bad.jinja")
        with open(bad, "w") as f:
            f.write("ok\n{{ messages | nosuchfilter }}")
        rp = os.path.join(tmp, "req.json")
        with open(rp, "w") as f:
            json.dump([{"role": "user", "content": "x"}], f)
        r = subprocess.run([a.glm, "template", "--chat-template", bad, "--messages", rp], capture_output=True)
        if r.returncode != 0 and b"bad.jinja:2:15: No filter named 'nosuchfilter'" in r.stderr and not r.stdout:
            passed += 1
        else:
            failed += 1
            print("FAIL error position: rc=%d %r" % (r.returncode, r.stderr))
    finally:
        shutil.rmtree(tmp)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
