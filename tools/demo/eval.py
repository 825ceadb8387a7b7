"""Greedy accuracy of the demo model in PyTorch, per task, on fresh held-out problems.

Loads either the float training checkpoint (--float out/model.pt) or an exported
Hugging Face folder (--hf models/demo: FP8 blocks dequantized with weight_scale_inv),
renders each question with the R1 template, decodes greedily with a KV cache until EOS
and parses "The answer is N." after </think>. The eval seed differs from the training
seed, and the problems come from data.eval_set (fixed operand sizes per task).

Usage: /usr/bin/python3 tools/demo/eval.py --hf models/demo [--n 200] [--tasks add4,sub4]
Prints one line per task and a JSON summary; --show K prints K failures per task.
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
from model import Config, DeepseekV3, load_hf_dir  # noqa: E402
from tok import Tokenizer  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
ALL_TASKS = ["add4", "sub4", "mul32", "word", "cmp", "add6", "sub6", "subneg"]


def load_model(args):
    if args.hf:
        cfg = Config.from_file(os.path.join(args.hf, "config.json"))
        m = DeepseekV3(cfg)
        load_hf_dir(m, args.hf, dtype=torch.float32)
    else:
        st = torch.load(args.float)
        cfg = Config.from_dict(st["config"])
        m = DeepseekV3(cfg)
        m.load_state_dict(st["model"])
    return m.float().eval()


def run_task(m, tk, task, n, seed, batch, max_new):
    probs = data.eval_set(task, n, seed)
    ok = 0
    fails = []
    for i in range(0, n, batch):
        chunk = probs[i:i + batch]
        prompts = [tk.prompt_ids(q) for q, _ in chunk]
        outs = m.generate(prompts, max_new, tk.eos)
        for (q, want), o in zip(chunk, outs):
            text = tk.decode(o, skip_special=True)
            got = data.parse_answer(text)
            if got == want:
                ok += 1
            else:
                fails.append((q, want, got, text))
    return ok, fails


@torch.no_grad()
def expert_balance(m, tk, n=200, seed=4321):
    """Fraction of routed token slots per expert and MoE layer (MTP included) over n
    teacher-forced mixed examples, with the final routing biases."""
    import random
    rng = random.Random(seed)
    cfg = m.cfg
    moes = m.moe_layers()
    tot = [torch.zeros(cfg.n_routed_experts) for _ in moes]
    for _ in range(n):
        _, q, reas, ans = data.example(rng)
        ids = torch.tensor([tk.prompt_ids(q) + tk.completion_ids(reas, ans)])
        for mo in moes:
            mo.valid = None
        _, h = m(ids, want_hidden=True)
        m.mtp_logits(h[:, :-1], ids[:, 1:])
        for i, mo in enumerate(moes):
            tot[i] += mo.last_load.float()
    out = {}
    for i, t in enumerate(tot):
        lid = cfg.first_k_dense_replace + i
        out[f"layer {lid}" + (" (MTP)" if lid == cfg.num_hidden_layers else "")] = \
            [round(x, 3) for x in (t / t.sum()).tolist()]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hf", help="exported checkpoint folder (FP8)")
    ap.add_argument("--float", default=os.path.join(HERE, "out/model.pt"))
    ap.add_argument("--tokenizer", default=os.path.join(ROOT, "models/demo/tokenizer.json"))
    ap.add_argument("--tasks", default=",".join(ALL_TASKS), help="comma list; '' for none")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--seed", type=int, default=777)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--max-new", type=int, default=400)
    ap.add_argument("--show", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", help="write the summary here")
    ap.add_argument("--balance", action="store_true", help="also report expert load")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    tk = Tokenizer.load(args.tokenizer)
    m = load_model(args)
    summary = {"weights": args.hf or args.float, "n": args.n, "seed": args.seed, "tasks": {}}
    for task in filter(None, args.tasks.split(",")):
        t0 = time.time()
        ok, fails = run_task(m, tk, task, args.n, args.seed, args.batch, args.max_new)
        acc = ok / args.n
        summary["tasks"][task] = acc
        print(f"{task:8s} {ok:4d}/{args.n}  {100 * acc:5.1f}%  ({time.time() - t0:.0f}s)", flush=True)
        for q, want, got, text in fails[:args.show]:
            print(f"   Q: {q}\n   want {want} got {got}\n   " + text.replace("\n", "\n   "))
    if args.balance:
        summary["expert_load"] = expert_balance(m, tk)
        for k, v in summary["expert_load"].items():
            print(f"{k:14s} " + " ".join(f"{x:.3f}" for x in v) + f"  max/mean {max(v) * len(v):.2f}")
    print(json.dumps(summary))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=1)


if __name__ == "__main__":
    main()
