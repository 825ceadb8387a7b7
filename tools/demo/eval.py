"""Accuracy of the demo model in PyTorch, per category, on fresh problems.

Loads either the float training checkpoint (--float out/model.pt) or an exported
Hugging Face folder (--hf models/demo: FP8 blocks dequantized with weight_scale_inv),
renders each conversation with the R1 template, decodes with a KV cache until EOS
(greedy, or sampled at --temperature) and parses the answer after </think>. Problems
come from data.eval_set: by default the held-out phrasing templates, with an eval seed
unlike the training seed. For follow-ups the earlier turn is given as history with its
correct answer (tools/demo/eval_engine.py --mode cli asks it through the real CLI).

Usage: /usr/bin/python3 tools/demo/eval.py --hf models/demo [--n 200] [--cats add,sub]
Prints one line per category and a JSON summary; --show K prints K failures each.
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


def conversation_prompts(tk, problem):
    """The prompt ids for the last turn, earlier turns answered correctly."""
    hist = [(q, data.answer_text(None if w == "other" else w))
            for q, w in zip(problem["turns"][:-1], problem["wants"][:-1])]
    return tk.prompt_ids(problem["turns"][-1], hist)


def run_category(m, tk, cat, args, seed_gen=None):
    probs = data.eval_set(cat, args.n, args.seed, args.split)
    ok = 0
    fails = []
    for i in range(0, len(probs), args.batch):
        chunk = probs[i:i + args.batch]
        prompts = [conversation_prompts(tk, p) for p in chunk]
        outs = m.generate(prompts, args.max_new, tk.eos, args.temperature, seed_gen)
        for p, o in zip(chunk, outs):
            text = tk.decode(o, skip_special=True)
            got = data.parse_answer(text)
            if got == p["wants"][-1]:
                ok += 1
            else:
                fails.append((p["turns"], p["wants"][-1], got, text))
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
        _, hist, q, reas, ans = data.example(rng)
        ids = torch.tensor([tk.prompt_ids(q, hist) + tk.completion_ids(reas, ans)])
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
    ap.add_argument("--cats", default=",".join(data.CATEGORIES), help="comma list; '' for none")
    ap.add_argument("--split", choices=data.SPLITS, default="heldout")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--seed", type=int, default=777)
    ap.add_argument("--temperature", type=float, default=0.0, help="0: greedy")
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--max-new", type=int, default=600)
    ap.add_argument("--show", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", help="write the summary here")
    ap.add_argument("--balance", action="store_true", help="also report expert load")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    tk = Tokenizer.load(args.tokenizer)
    m = load_model(args)
    gen = torch.Generator().manual_seed(args.seed)
    summary = {"mode": "pytorch", "weights": args.hf or args.float, "split": args.split,
               "temperature": args.temperature, "n": args.n, "seed": args.seed, "categories": {}}
    for cat in filter(None, args.cats.split(",")):
        t0 = time.time()
        ok, fails = run_category(m, tk, cat, args, gen)
        summary["categories"][cat] = {"ok": ok, "n": args.n, "acc": ok / args.n}
        print(f"{cat:8s} {ok:4d}/{args.n}  {100 * ok / args.n:5.1f}%  ({time.time() - t0:.0f}s)",
              flush=True)
        for turns, want, got, text in fails[:args.show]:
            print(f"   Q: {' / '.join(turns)}\n   want {want} got {got}\n   " +
                  text.replace("\n", "\n   "))
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
