#!/usr/bin/env python3
"""peer_bench.py: ponder against llama.cpp on the same weights, side by side.

    tools/peer_bench.py -m HF_DIR [-g MODEL.gguf] [--rounds 3] [--threads 2,1]
                        [--ctx 16] [--prompt 512] [--gen 32] [--ponder-arg ARG ...]
                        [--peer-only]

HF_DIR is a Hugging Face checkpoint (tools/synth-checkpoint makes one): a DeepSeek one
(DeepseekV2/V3ForCausalLM) or a dense one (Qwen2ForCausalLM, LlamaForCausalLM,
Qwen3ForCausalLM: the DeepSeek-R1 distills). MODEL.gguf is the same weights converted
for llama.cpp; without -g it is HF_DIR-q8_0.gguf beside the folder. When that file is
missing or older than the checkpoint it is made first, as Q8_0: dense checkpoints by
tools/peer_dense_gguf.py, DeepSeek ones by ../shared/peer/llama.cpp/hf2gguf.py (both need
numpy: --python, default /usr/bin/python3). Each round runs, for each thread count,
llama.cpp and then ponder, so both see the same state of a shared, noisy machine; the
table gives each figure's median over the rounds and ponder's ratio. --peer-only times
llama.cpp alone (ponder's columns then read "-").

Per run and thread count:
  decode   tokens/s of greedy single-token steps after a prompt of --ctx tokens
           (llama_peer bench --prompt-len CTX; ponder bench --ctx CTX);
  prefill  tokens/s of one --prompt-token prompt (llama_peer bench --prompt-len PROMPT;
           ponder bench --prompt PROMPT), which also reports ponder's MTP verify cost;
  probe%   ponder's decode GB/s over its best-of read probe (ponder bench probe_share),
           and paired%, over probe passes taken between its decode slices
           (paired_probe_share).
The llama.cpp driver is ../shared/peer/llama.cpp (built by its build.sh into
$PEER, default /tmp/llamapeer); it is an instrument, not part of ponder. Standard library
only (the converters it may start need numpy).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PEER_SRC = os.environ.get("PEER_SRC", os.path.join(ROOT, "..", "shared", "peer", "llama.cpp"))
DENSE = ("Qwen2ForCausalLM", "LlamaForCausalLM", "Qwen3ForCausalLM")


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


def checkpoint_mtime(hf_dir):
    """The newest modification time of the checkpoint's config.json and weights."""
    names = [n for n in os.listdir(hf_dir)
             if n == "config.json" or n.endswith((".safetensors", ".index.json"))]
    return max(os.path.getmtime(os.path.join(hf_dir, n)) for n in names)


def ensure_gguf(hf_dir, gguf, python):
    """Makes gguf (Q8_0) from hf_dir unless a copy at least as new as it exists."""
    if os.path.exists(gguf) and os.path.getmtime(gguf) >= checkpoint_mtime(hf_dir):
        return
    with open(os.path.join(hf_dir, "config.json")) as f:
        arch = (json.load(f).get("architectures") or ["?"])[0]
    conv = (os.path.join(HERE, "peer_dense_gguf.py") if arch in DENSE
            else os.path.join(PEER_SRC, "hf2gguf.py"))
    tmp = gguf + ".part"
    print("peer_bench: converting %s (%s) to %s" % (hf_dir, arch, gguf), file=sys.stderr,
          flush=True)
    p = subprocess.run([python, conv, hf_dir, tmp, "--outtype", "q8_0"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        if os.path.exists(tmp):
            os.remove(tmp)
        sys.exit("peer_bench: %s failed (status %d):\n%s" % (conv, p.returncode,
                                                             p.stderr.strip()[-3000:]))
    os.replace(tmp, gguf)


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


def median_or_none(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, spec, width):
    return (spec % x) if x is not None else "-".rjust(width)


def one_round(a, t, samples):
    """llama.cpp's decode and prefill runs, then ponder's (unless --peer-only)."""
    _, l_dec = llama_run(a.peer, a.gguf, t, a.ctx, a.gen)
    l_pre, _ = llama_run(a.peer, a.gguf, t, a.prompt, 4)
    p = {} if a.peer_only else ponder_run(a.ponder, a.model, t, a.ctx, a.prompt, a.gen,
                                            a.ponder_arg)
    s = samples[t]
    s["l_dec"].append(l_dec)
    s["l_pre"].append(l_pre)
    s["p_dec"].append(p.get("decode_tok_s"))
    s["p_pre"].append(p.get("prefill_tok_s"))
    s["verify"].append(p.get("mtp_verify_cost"))
    row = (p.get("decode") or [{}])[0]
    s["share"].append(row.get("probe_share"))
    s["paired"].append(row.get("paired_probe_share"))
    return p


def print_table(a, threads, samples):
    print("medians of %d interleaved rounds; decode at context %d, prefill of %d tokens"
          % (a.rounds, a.ctx, a.prompt))
    print("%-8s %12s %12s %7s %14s %14s %7s %8s %8s %8s" % (
        "threads", "ponder dec", "llama dec", "ratio", "ponder pre", "llama pre", "ratio",
        "probe%", "paired%", "verify"))
    for t in threads:
        s = samples[t]
        pd, ld = median_or_none(s["p_dec"]), median_or_none(s["l_dec"])
        pp, lp = median_or_none(s["p_pre"]), median_or_none(s["l_pre"])
        share, verify = median_or_none(s["share"]), median_or_none(s["verify"])
        paired = median_or_none(s["paired"])
        print("%-8d %12s %12.2f %7s %14s %14.1f %7s %8s %8s %8s" % (
            t, fmt(pd, "%12.2f", 12), ld, fmt(pd and pd / ld, "%6.2fx", 7),
            fmt(pp, "%14.1f", 14), lp, fmt(pp and pp / lp, "%6.2fx", 7),
            fmt(share and 100 * share, "%7.0f%%", 8), fmt(paired and 100 * paired, "%7.0f%%", 8),
            fmt(verify, "%7.2fx", 8)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-m", "--model", required=True, help="Hugging Face checkpoint folder")
    ap.add_argument("-g", "--gguf", help="the same weights as GGUF (default: HF_DIR-q8_0.gguf,"
                                         " converted when missing or stale)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", default="2,1", help="comma list (default 2,1)")
    ap.add_argument("--ctx", type=int, default=16, help="decode context (default 16)")
    ap.add_argument("--prompt", type=int, default=512, help="prefill length (default 512)")
    ap.add_argument("--gen", type=int, default=32, help="decode steps timed (default 32)")
    ap.add_argument("--ponder", default=os.path.join(ROOT, "bin", "ponder"))
    ap.add_argument("--peer", default=os.path.join(os.environ.get("PEER", "/tmp/llamapeer"),
                                                   "llama_peer"))
    ap.add_argument("--python", default="/usr/bin/python3" if os.access(
        "/usr/bin/python3", os.X_OK) else sys.executable,
                    help="python with numpy for the GGUF converters (default /usr/bin/python3)")
    ap.add_argument("--peer-only", action="store_true", help="time llama.cpp only")
    ap.add_argument("--ponder-arg", action="append", default=[],
                    help="extra argument for ponder bench (repeat), e.g. --ponder-arg=--head"
                         " --ponder-arg=fp8")
    ap.add_argument("--json", action="store_true", help="also print every sample as JSON")
    a = ap.parse_args()
    tools = [(a.peer, "llama_peer (build.sh)")]
    if not a.peer_only:
        tools.append((a.ponder, "ponder (make)"))
    for path, what in tools:
        if not os.access(path, os.X_OK):
            sys.exit("peer_bench: %s not found at %s" % (what, path))
    if a.prompt > 4096 or a.ctx > 4096:
        sys.exit("peer_bench: llama_peer takes prompts of at most 4096 tokens")
    if not a.gguf:
        a.gguf = os.path.normpath(a.model) + "-q8_0.gguf"
    ensure_gguf(a.model, a.gguf, a.python)
    threads = [int(t) for t in a.threads.split(",")]
    samples = {t: {k: [] for k in ("l_dec", "l_pre", "p_dec", "p_pre", "verify", "share",
                                   "paired")}
               for t in threads}
    for r in range(a.rounds):
        for t in threads:
            p = one_round(a, t, samples)
            s = samples[t]
            print("round %d, %d thread%s: decode ponder %s llama.cpp %.2f tok/s; prefill "
                  "ponder %s llama.cpp %.1f tok/s" % (
                      r + 1, t, "" if t == 1 else "s", fmt(p.get("decode_tok_s"), "%.2f", 1),
                      s["l_dec"][-1], fmt(p.get("prefill_tok_s"), "%.1f", 1), s["l_pre"][-1]),
                  file=sys.stderr, flush=True)
    print_table(a, threads, samples)
    if a.json:
        print(json.dumps({"ctx": a.ctx, "prompt": a.prompt, "gguf": a.gguf, "samples": samples}))


if __name__ == "__main__":
    main()
