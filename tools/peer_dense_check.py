#!/usr/bin/python3
"""peer_dense_check.py: checks tools/peer_dense_gguf.py against a fixture's golden logits.

    /usr/bin/python3 tools/peer_dense_check.py FIXTURE_DIR... [--outtype f32|f16|q8_0]
                                               [--bound 1e-4] [--peer PATH]

For each fixture (../shared/fixtures/models/tiny-qwen2, tiny-llama3, tiny-qwen3: a
checkpoint with golden.json and golden.safetensors from a float64 reference), converts it
to GGUF with --outtype (default f32), runs llama_peer's logits mode (K/V cache in F32,
flash attention off: llama.cpp's CPU flash attention rounds through F16, which alone
costs ~5e-4) on every case's prompt and compares: the prefill logits of every position with
`<case>.prefill_logits`, as the largest |llama.cpp - golden| over the largest |golden|
of the case, and the greedy continuation with golden.json's greedy_12 (reported, not
judged: near-ties may flip). Exits 1 when a fixture's error exceeds --bound. The peer is
an instrument (../shared/peer/llama.cpp/build.sh builds it into $PEER, default
/tmp/llamapeer); this checks that the converter's layout, rope and hyperparameters agree
with the architecture definitions. Needs numpy (/usr/bin/python3).
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import peer_dense_gguf  # noqa: E402


def read_safetensors(path):
    """name -> float32 array of an F32-only safetensors file."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        hdr = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in hdr.items():
        if k == "__metadata__":
            continue
        assert v["dtype"] == "F32", (k, v["dtype"])
        a, b = v["data_offsets"]
        out[k] = np.frombuffer(data[a:b], dtype="<f4").reshape(v["shape"])
    return out


def peer_logits(peer, gguf, prompt, n_gen, out_json):
    """llama_peer's {prefill_logits, greedy} for prompt."""
    cmd = [peer, gguf, "logits", "--tokens", ",".join(map(str, prompt)), "-n", str(n_gen),
           "--kv", "f32", "--fa", "off", "-t", "2", "--ctx", str(len(prompt) + n_gen + 16), "--out", out_json]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("peer_dense_check: %s failed:\n%s" % (" ".join(cmd), p.stderr[-3000:]))
    with open(out_json) as f:
        return json.load(f)


def check(fixture, peer, outtype, tmp):
    """(largest relative error over the cases, per-case lines)."""
    name = os.path.basename(os.path.normpath(fixture))
    gguf = os.path.join(tmp, name + ".gguf")
    peer_dense_gguf.convert(fixture, gguf, outtype)
    golden = read_safetensors(os.path.join(fixture, "golden.safetensors"))
    cases = json.load(open(os.path.join(fixture, "golden.json")))["cases"]
    worst, lines = 0.0, []
    for c in cases:
        r = peer_logits(peer, gguf, c["prompt"], len(c["greedy_12"]),
                        os.path.join(tmp, "out.json"))
        got = np.asarray(r["prefill_logits"], dtype=np.float64)
        ref = golden[c["name"] + ".prefill_logits"].astype(np.float64)
        err = np.abs(got - ref).max() / np.abs(ref).max()
        worst = max(worst, err)
        same = sum(a == b for a, b in zip(r["greedy"], c["greedy_12"]))
        lines.append("  %s: %d tokens, max |diff| %.3g, relative %.3g; greedy %d/%d agree"
                     % (c["name"], len(c["prompt"]), np.abs(got - ref).max(), err, same,
                        len(c["greedy_12"])))
    return worst, lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("fixtures", nargs="+")
    ap.add_argument("--outtype", default="f32", choices=sorted(peer_dense_gguf.OUTTYPES))
    ap.add_argument("--bound", type=float, default=1e-4,
                    help="largest relative error accepted (default 1e-4)")
    ap.add_argument("--peer", default=os.path.join(os.environ.get("PEER", "/tmp/llamapeer"),
                                                   "llama_peer"))
    a = ap.parse_args()
    if not os.access(a.peer, os.X_OK):
        sys.exit("peer_dense_check: llama_peer not found at %s (build.sh)" % a.peer)
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        for fx in a.fixtures:
            worst, lines = check(fx, a.peer, a.outtype, tmp)
            ok = worst <= a.bound
            bad += not ok
            print("%s %s (%s): max relative prefill logits error %.3g (bound %g)"
                  % ("PASS" if ok else "FAIL", os.path.basename(os.path.normpath(fx)),
                     a.outtype, worst, a.bound))
            print("\n".join(lines))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
