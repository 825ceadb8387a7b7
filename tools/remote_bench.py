#!/usr/bin/env python3
"""remote_bench.py: what going through HTTP costs, `ponder --remote` against `ponder serve`
compared with the same model in process.

    tools/remote_bench.py [-m DIR] [--rounds 5] [--bin bin/ponder]

Starts `ponder serve` (the demo model without -m) on a free loopback port, then for each
round and each prompt runs pipe mode twice, interleaved: in process (`ponder --json`)
and through the server (`ponder --remote URL --json`), both greedy (--temperature 0) and
without saving. Checks that the two replies are byte-identical (reasoning and answer)
and reports medians of:
  ttft      time to first token: in process, from the engine call to its first token;
            remote, from the HTTP request to the first text that arrived (so the HTTP,
            SSE and JSON work on both sides is the difference);
  ms/token  per generated token after the first (1000 / decode tokens per second; the
            remote figure is measured at the client as the text arrives);
  whole     (remote reply time - in-process reply time) / generated tokens, a reply's
            time being its ttft plus its tokens at its ms/token.
Targets (issue 20): overhead per token <= 1 ms, time-to-first-token overhead <= 20 ms.
Standard library only.
"""
import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time

PROMPTS = ["What is 37 + 48?", "What is 123 * 45?", "Is 4821 larger than 4812?",
           "What is 12 minus 30?", "What is 905 - 417?"]


def run_json(cmd, env):
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)}: exit {out.returncode}: {out.stderr.strip()}")
    return json.loads(out.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-m", "--model", default="")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--bin", default="bin/ponder")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        return run(a, tmp)


def run(a, tmp):
    env = dict(os.environ, XDG_CONFIG_HOME=tmp, XDG_DATA_HOME=tmp, XDG_STATE_HOME=tmp,
               XDG_CACHE_HOME=tmp)
    env.pop("PONDER_MODEL", None)
    model = ["-m", a.model] if a.model else []
    errf = open(os.path.join(tmp, "serve.err"), "w+")
    srv = subprocess.Popen([a.bin, "serve", "--port", "0"] + model, env=env, stderr=errf)
    try:
        port = None
        for _ in range(600):
            errf.seek(0)
            m = re.search(r"http://127\.0\.0\.1:(\d+)", errf.read())
            if m:
                port = m.group(1)
                break
            if srv.poll() is not None:
                sys.exit("ponder serve ended before it listened")
            time.sleep(0.1)
        if not port:
            sys.exit("ponder serve did not start listening within 60 s")
        common = ["--json", "--no-save", "--temperature", "0"]
        local_cmd = [a.bin] + model + common
        remote_cmd = [a.bin, "--remote", f"http://127.0.0.1:{port}"] + common
        fig = {k: [] for k in ("lt", "rt", "lp", "rp", "whole")}
        same = total = 0
        for _ in range(a.rounds):
            for p in PROMPTS:
                loc = run_json(local_cmd + [p], env)
                rem = run_json(remote_cmd + [p], env)
                total += 1
                same += (loc["reasoning"], loc["answer"]) == (rem["reasoning"], rem["answer"])
                fig["lt"].append(loc["timings"]["time_to_first_token_ms"])
                fig["rt"].append(rem["timings"]["time_to_first_token_ms"])
                reply_ms = []
                for key, r in (("lp", loc), ("rp", rem)):
                    tps = r["timings"]["decode_tokens_per_s"]
                    n = r["usage"]["completion_tokens"]
                    fig[key].append(1000.0 / tps)
                    reply_ms.append(r["timings"]["time_to_first_token_ms"] + n * 1000.0 / tps)
                fig["whole"].append((reply_ms[1] - reply_ms[0]) / n)
        if os.environ.get("REMOTE_BENCH_RAW"):
            print(json.dumps(fig))
        med = {k: statistics.median(v) if v else float("nan") for k, v in fig.items()}
        print(f"replies byte-identical: {same}/{total}")
        print(f"{'':10} {'in process':>12} {'remote':>12} {'overhead':>12}")
        print(f"{'ttft ms':10} {med['lt']:12.3f} {med['rt']:12.3f} {med['rt'] - med['lt']:12.3f}")
        print(f"{'ms/token':10} {med['lp']:12.4f} {med['rp']:12.4f} {med['rp'] - med['lp']:12.4f}")
        print(f"whole reply, remote minus in process, per generated token: {med['whole']:.4f} ms")
        return 0 if same == total else 1
    finally:
        srv.send_signal(signal.SIGTERM)
        srv.wait(timeout=10)
        errf.close()


if __name__ == "__main__":
    sys.exit(main())
