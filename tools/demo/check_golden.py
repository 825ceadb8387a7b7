"""Check model.py against the golden logits of a fixture checkpoint (float64).

Usage: /usr/bin/python3 tools/demo/check_golden.py [fixture_dir]
Compares prefill logits, step logits (recomputed as full prefixes: attention is causal,
so the last position of a prefix equals the incremental result) and MTP logits, and
prints the max abs / max relative difference per tensor. Exit status 1 when any
relative difference exceeds 1e-4.
"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import Config, DeepseekV3, load_hf_dir  # noqa: E402
from stfile import load  # noqa: E402


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/fixtures/models/tiny-v3"
    cfg = Config.from_file(os.path.join(d, "config.json"))
    m = DeepseekV3(cfg).double().eval()
    load_hf_dir(m, d)
    gold = load(os.path.join(d, "golden.safetensors"))
    cases = json.load(open(os.path.join(d, "golden.json")))["cases"]
    worst = 0.0
    with torch.no_grad():
        for c in cases:
            n = c["name"]
            prompt = c["prompt"]
            seq = prompt + c["greedy_12"]
            logits, h = m(torch.tensor([seq]), want_hidden=True)
            res = {"prefill_logits": logits[0, :len(prompt)]}
            k = c["chunk_prefill_len"]
            res["step_logits"] = logits[0, k - 1:len(prompt)]
            if n + ".mtp_logits" in gold:
                res["mtp_logits"] = m.mtp_logits(h[:, :-1], torch.tensor([seq[1:]]))[0]
            greedy = logits[0, len(prompt) - 1:-1].argmax(-1).tolist()
            print(f"{n}: greedy match {greedy == c['greedy_12']}")
            for key, got in res.items():
                ref = torch.from_numpy(gold[f"{n}.{key}"].astype(np.float64))
                got = got[:ref.shape[0]]
                if got.shape != ref.shape:
                    print(f"  {key}: shape {tuple(got.shape)} vs golden {tuple(ref.shape)}")
                    worst = max(worst, 1.0)
                    continue
                diff = (got - ref).abs().max().item()
                rel = diff / ref.abs().max().item()
                worst = max(worst, rel)
                print(f"  {key}: max abs {diff:.3e} rel {rel:.3e}")
            if "mtp_argmax" in c and "mtp_logits" in res:
                am = res["mtp_logits"].argmax(-1).tolist()
                print(f"  mtp argmax match {am == c['mtp_argmax']}")
    print("worst relative difference", f"{worst:.3e}")
    return 0 if worst < 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
