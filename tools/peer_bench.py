#!/usr/bin/env python3
"""peer_bench.py: ponder against llama.cpp on the same weights, side by side.

    tools/peer_bench.py -m HF_DIR -g MODEL.gguf [--rounds 3] [--threads 2,1]
                        [--ctx 16] [--prompt 512] [--gen 32] [--ponder-arg ARG ...]

HF_DIR is a Hugging Face checkpoint (tools/synth-checkpoint makes one) and MODEL.gguf
the same weights converted for llama.cpp (docs/benchmarks.md says how). Each round runs,
for each thread count, llama.cpp and then ponder, so both see the same state of a shared,
noisy machine; the table gives each figure's median over the rounds and ponder's ratio.

Per run and thread count:
  decode   tokens/s of greedy single-token steps after a prompt of --ctx tokens
           (llama_peer bench --prompt-len CTX; ponder bench --ctx CTX);
  prefill  tokens/s of one --prompt-token prompt (llama_peer bench --prompt-len PROMPT;
           ponder bench --prompt PROMPT), which also reports ponder's MTP verify cost.
The llama.cpp driver is ../shared/peer/llama.cpp (built by its build.sh into
$PEER, default /tmp/llamapeer); it is an instrument, not part of ponder. Standard library
only.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def run_json_lines(cmd):
    """stdout's JSON lines of cmd; exits with its stderr when it fails."""
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("peer_bench: %s failed (status %d):\n%s" % (" ".join(cmd), p.returncode,
                                                             p.stderr.strip()))
    out = []
    for line in p.stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def llama_run(peer, gguf, threads, prompt_len, gen):
    """(prefill tok/s, decode tok/s) of one measured rep after llama_peer's warm-up."""
    lines = run_json_lines([peer, gguf, "bench", "--prompt-len", str(prompt_len),
                            "-n", str(gen), "--reps", "1", "-t", str(threads),
                            "--ctx", str(prompt_len + gen + 16)])
    med = [l for l in lines if "median_decode_tok_s" in l]
    if not med:
        sys.exit("peer_bench: llama_peer printed no median line")
    return med[0]["median_prefill_tok_s"], med[0]["median_decode_tok_s"]


def ponder_run(ponder, hf_dir, threads, ctx, prompt, gen, extra):
    """ponder bench --json's object for one context."""
    cmd = [ponder, "bench", "-m", hf_dir, "--json", "-t", str(threads), "--ctx", str(ctx),
           "--prompt", str(prompt), "--gen", str(gen)] + extra
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("peer_bench: %s failed (status %d):\n%s" % (" ".join(cmd), p.returncode,
                                                             p.stderr.strip()))
    return json.loads(p.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-m", "--model", required=True, help="Hugging Face checkpoint folder")
    ap.add_argument("-g", "--gguf", required=True, help="the same weights as GGUF")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", default="2,1", help="comma list (default 2,1)")
    ap.add_argument("--ctx", type=int, default=16, help="decode context (default 16)")
    ap.add_argument("--prompt", type=int, default=512, help="prefill length (default 512)")
    ap.add_argument("--gen", type=int, default=32, help="decode steps timed (default 32)")
    ap.add_argument("--ponder", default=os.path.join(ROOT, "bin", "ponder"))
    ap.add_argument("--peer", default=os.path.join(os.environ.get("PEER", "/tmp/llamapeer"),
                                                   "llama_peer"))
    ap.add_argument("--ponder-arg", action="append", default=[],
                    help="extra argument for ponder bench (repeat), e.g. --ponder-arg=--head"
                         " --ponder-arg=fp8")
    ap.add_argument("--json", action="store_true", help="also print every sample as JSON")
    a = ap.parse_args()
    for path, what in ((a.ponder, "ponder (make)"), (a.peer, "llama_peer (build.sh)")):
        if not os.access(path, os.X_OK):
            sys.exit("peer_bench: %s not found at %s" % (what, path))
    if a.prompt > 4096 or a.ctx > 4096:
        sys.exit("peer_bench: llama_peer takes prompts of at most 4096 tokens")
    threads = [int(t) for t in a.threads.split(",")]
    samples = {t: {k: [] for k in ("l_dec", "l_pre", "p_dec", "p_pre", "verify", "share")}
               for t in threads}
    for r in range(a.rounds):
        for t in threads:
            _, l_dec = llama_run(a.peer, a.gguf, t, a.ctx, a.gen)
            l_pre, _ = llama_run(a.peer, a.gguf, t, a.prompt, 4)
            p = ponder_run(a.ponder, a.model, t, a.ctx, a.prompt, a.gen, a.ponder_arg)
            s = samples[t]
            s["l_dec"].append(l_dec)
            s["l_pre"].append(l_pre)
            s["p_dec"].append(p["decode_tok_s"])
            s["p_pre"].append(p["prefill_tok_s"])
            s["verify"].append(p["mtp_verify_cost"])
            s["share"].append(p["decode"][0]["probe_share"])
            print("round %d, %d thread%s: decode ponder %.2f llama.cpp %.2f tok/s; prefill "
                  "ponder %.1f llama.cpp %.1f tok/s" % (r + 1, t, "" if t == 1 else "s",
                                                       p["decode_tok_s"], l_dec,
                                                       p["prefill_tok_s"], l_pre),
                  file=sys.stderr, flush=True)
    med = statistics.median
    print("medians of %d interleaved rounds; decode at context %d, prefill of %d tokens"
          % (a.rounds, a.ctx, a.prompt))
    print("%-8s %12s %12s %7s %14s %14s %7s %8s %8s" % (
        "threads", "ponder dec", "llama dec", "ratio", "ponder pre", "llama pre", "ratio",
        "probe%", "verify"))
    for t in threads:
        s = samples[t]
        pd, ld, pp, lp = med(s["p_dec"]), med(s["l_dec"]), med(s["p_pre"]), med(s["l_pre"])
        print("%-8d %12.2f %12.2f %6.2fx %14.1f %14.1f %6.2fx %7.0f%% %7.2fx" % (
            t, pd, ld, pd / ld, pp, lp, pp / lp, 100 * med(s["share"]), med(s["verify"])))
    if a.json:
        print(json.dumps({"ctx": a.ctx, "prompt": a.prompt, "samples": samples}))


if __name__ == "__main__":
    main()
