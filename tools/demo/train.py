"""Train the demo reasoner (DeepSeek-V3 architecture) on synthetic arithmetic, on CPU.

Objective: next-token cross-entropy on the assistant part of the R1 chat rendering
(everything after "<think>\\n", including </think>, the answer and EOS) plus the depth-1
MTP loss weighted by lambda (0.3 for the first 70% of steps, then 0.1, as in the
DeepSeek-V3 report). Routing is balanced without an auxiliary loss: after every step
each MoE layer's e_score_correction_bias moves by gamma * sign(mean load - load).
The MTP module shares the embedding and output head with the main model while training
(export.py writes the copies DeepSeek's layout expects).

Data: fresh examples from data.py every step (seeded, never repeated), batched by token
budget after sorting a pool by length (less padding). AdamW, linear warmup + cosine.

Usage: /usr/bin/python3 tools/demo/train.py --out tools/demo/out [--steps N] ...
Writes out/model.pt (float state dict + config), out/config.json, out/train_log.jsonl.
Reproducible: the seed fixes init, data and batching; the BLAS may change the last bits.
"""
import argparse
import json
import math
import os
import random
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
from model import Config, DeepseekV3, init_weights  # noqa: E402
from tok import Tokenizer  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def demo_config(vocab, args):
    return Config.from_dict(dict(
        vocab_size=vocab, hidden_size=args.dim, intermediate_size=args.dense_inter,
        moe_intermediate_size=args.moe_inter, num_hidden_layers=args.layers,
        num_nextn_predict_layers=1, num_attention_heads=args.heads,
        num_key_value_heads=args.heads, n_shared_experts=1, n_routed_experts=args.experts,
        routed_scaling_factor=1.0, kv_lora_rank=args.kv_lora, q_lora_rank=args.q_lora,
        qk_rope_head_dim=args.rope_dim, v_head_dim=args.v_dim, qk_nope_head_dim=args.nope_dim,
        topk_method="noaux_tc",
        n_group=args.groups, topk_group=args.topk_groups, num_experts_per_tok=args.topk,
        moe_layer_freq=1, first_k_dense_replace=1, norm_topk_prob=True,
        scoring_func="sigmoid", hidden_act="silu", max_position_embeddings=2048,
        rms_norm_eps=1e-6, rope_theta=args.rope_theta, rope_scaling=None, tie_word_embeddings=False,
        bos_token_id=0, eos_token_id=1))


def make_example(rng, tk):
    """-> (ids, first target index): history turns are context only."""
    _, hist, q, reas, ans = data.example(rng)
    p = tk.prompt_ids(q, hist)
    c = tk.completion_ids(reas, ans)
    return p + c, len(p)


def batches(seed, tk, tokens_per_batch, pool=384):
    """Endless stream of (ids [B,T], start [B]) with about tokens_per_batch tokens."""
    rng = random.Random(seed)
    brng = random.Random(seed + 1)
    while True:
        ex = [make_example(rng, tk) for _ in range(pool)]
        ex.sort(key=lambda e: len(e[0]))
        out, cur = [], []
        for e in ex:
            L = max([len(x[0]) for x in cur] + [len(e[0])])
            if cur and L * (len(cur) + 1) > tokens_per_batch:
                out.append(cur)
                cur = []
            cur.append(e)
        if cur:
            out.append(cur)
        brng.shuffle(out)
        for b in out:
            T = max(len(x[0]) for x in b)
            ids = torch.full((len(b), T), tk.pad, dtype=torch.long)
            start = torch.zeros(len(b), dtype=torch.long)
            for i, (x, s) in enumerate(b):
                ids[i, :len(x)] = torch.tensor(x)
                start[i] = s
            yield ids, start


def lr_at(step, total, peak, warmup, floor=0.1):
    if step < warmup:
        return peak * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return peak * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "out"))
    ap.add_argument("--tokenizer", default=os.path.join(ROOT, "models/demo/tokenizer.json"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch-tokens", type=int, default=2800)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--warmup", type=int, default=150)
    ap.add_argument("--wd", type=float, default=0.05)
    ap.add_argument("--gamma", type=float, default=1e-3, help="bias update speed")
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--nope-dim", type=int, default=16)
    ap.add_argument("--rope-dim", type=int, default=16)
    ap.add_argument("--v-dim", type=int, default=16)
    ap.add_argument("--mtp-rows", type=int, default=2,
                    help="MTP loss on every Nth sequence of a batch (saves compute)")
    ap.add_argument("--q-lora", type=int, default=96)
    ap.add_argument("--kv-lora", type=int, default=64)
    ap.add_argument("--dense-inter", type=int, default=384)
    ap.add_argument("--moe-inter", type=int, default=128)
    ap.add_argument("--experts", type=int, default=8)
    ap.add_argument("--groups", type=int, default=4)
    ap.add_argument("--topk-groups", type=int, default=2)
    ap.add_argument("--topk", type=int, default=2)
    ap.add_argument("--rope-theta", type=float, default=1000.0)
    ap.add_argument("--max-minutes", type=float, default=0,
                    help="stop (and save) once training has run this long; 0: no limit")
    ap.add_argument("--stop-at", type=int, default=0,
                    help="end after this step (schedule still planned for --steps); "
                         "replays a run that --max-minutes cut short")
    ap.add_argument("--init-from", help="start from this model.pt (fresh optimizer and schedule)")
    ap.add_argument("--mix", default="", help="category weights, e.g. add=0.2,sub=0.3 (others kept)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--log-every", type=int, default=25)
    ap.add_argument("--save-every", type=int, default=250)
    ap.add_argument("--resume", action="store_true")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    for kv in filter(None, args.mix.split(",")):
        k, v = kv.split("=")
        if k not in data.MIX:
            raise SystemExit(f"--mix: unknown category {k!r} (categories: {', '.join(data.MIX)})")
        data.MIX[k] = float(v)
    os.makedirs(args.out, exist_ok=True)
    tk = Tokenizer.load(args.tokenizer)
    cfg = demo_config(len(tk.vocab), args)
    model = DeepseekV3(cfg)
    init_weights(model, args.seed)
    mtp = model.model.layers[cfg.num_hidden_layers]
    mtp.embed_tokens.weight = model.model.embed_tokens.weight
    mtp.shared_head.head.weight = model.lm_head.weight
    if args.init_from:
        st = torch.load(args.init_from)
        if Config.from_dict(st["config"]).to_dict() != cfg.to_dict():
            raise SystemExit(f"{args.init_from}: its config differs from these arguments")
        model.load_state_dict(st["model"])
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    nodecay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.wd},
                             {"params": nodecay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8)
    moes = model.moe_layers()
    nparams = sum(p.numel() for p in model.parameters())
    print(f"params {nparams / 1e6:.2f}M, vocab {cfg.vocab_size}, layers {cfg.num_hidden_layers}+MTP",
          flush=True)
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(cfg.to_dict(), f, indent=1)
    logf = open(os.path.join(args.out, "train_log.jsonl"), "a" if args.resume else "w")

    step0 = 0
    stream = batches(args.seed, tk, args.batch_tokens)
    if args.resume and os.path.exists(os.path.join(args.out, "state.pt")):
        st = torch.load(os.path.join(args.out, "state.pt"))
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        step0 = st["step"]
        for _ in range(step0):      # replay the data stream to stay reproducible
            next(stream)
    load_sum = [torch.zeros(cfg.n_routed_experts) for _ in moes]
    t_start = time.time()
    tokens = 0
    acc = {"loss": 0.0, "mtp": 0.0, "n": 0}
    for step in range(step0, args.steps):
        ids, start = next(stream)
        B, T = ids.shape
        lr = lr_at(step, args.steps, args.lr, args.warmup)
        for g in opt.param_groups:
            g["lr"] = lr
        lam = 0.3 if step < 0.7 * args.steps else 0.1
        pos = torch.arange(T)
        real = ids != tk.pad
        rows = torch.arange(0, B, args.mtp_rows)
        for m in moes:
            m.valid = real[:, :-1] if m is not mtp.mlp else real[rows, 1:-1]
        # the output head only where the loss is taken (the prompt needs no logits)
        h = model.hidden(ids[:, :-1])
        mask = (pos[1:][None, :] >= start[:, None]) & real[:, 1:]
        loss = F.cross_entropy(model.lm_head(h[mask]), ids[:, 1:][mask])
        mh = mtp.mtp_hidden(h[rows, :-1], ids[rows, 1:-1], *model.rope(T - 2, h.dtype))
        mmask = (pos[2:][None, :] >= start[rows, None]) & real[rows, 2:]
        mloss = F.cross_entropy(mtp.shared_head.head(mh[mmask]), ids[rows, 2:][mmask])
        total = loss + lam * mloss
        opt.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            for i, m in enumerate(moes):
                load = m.last_load.float()
                load_sum[i] += load
                m.gate.e_score_correction_bias += args.gamma * torch.sign(load.mean() - load)
        tokens += int(real.sum())
        acc["loss"] += loss.item()
        acc["mtp"] += mloss.item()
        acc["n"] += 1
        if (step + 1) % args.log_every == 0 or step + 1 == args.steps:
            el = time.time() - t_start
            rec = {"step": step + 1, "loss": acc["loss"] / acc["n"], "mtp_loss": acc["mtp"] / acc["n"],
                   "lr": lr, "tokens": tokens, "elapsed_s": round(el, 1),
                   "tok_per_s": round(tokens / max(el, 1e-9))}
            print(json.dumps(rec), flush=True)
            logf.write(json.dumps(rec) + "\n")
            logf.flush()
            acc = {"loss": 0.0, "mtp": 0.0, "n": 0}
        out_of_time = (args.max_minutes and time.time() - t_start > 60 * args.max_minutes) or \
            step + 1 == args.stop_at
        if (step + 1) % args.save_every == 0 or step + 1 == args.steps or out_of_time:
            save(model, opt, cfg, step + 1, load_sum, moes, args.out)
        if out_of_time:
            print(f"stopped at step {step + 1} of {args.steps} (--max-minutes/--stop-at)", flush=True)
            break
    bal = balance_report(load_sum, moes, cfg)
    print(bal, flush=True)
    with open(os.path.join(args.out, "balance.txt"), "w") as f:
        f.write(bal + "\n")


def balance_report(load_sum, moes, cfg):
    """moes are in layer order: first_k_dense_replace..num_hidden_layers (the last is MTP)."""
    lines = ["expert load (fraction of routed token slots per expert, whole run):"]
    for i, ls in enumerate(load_sum):
        lid = cfg.first_k_dense_replace + i
        frac = (ls / ls.sum().clamp(min=1)).tolist()
        name = f"layer {lid}" + (" (MTP)" if lid == cfg.num_hidden_layers else "")
        lines.append(f"  {name}: " + " ".join(f"{x:.3f}" for x in frac) +
                     f"  (max/mean {max(frac) * len(frac):.2f})")
    return "\n".join(lines)


def save(model, opt, cfg, step, load_sum, moes, out):
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    torch.save({"model": sd, "config": cfg.to_dict(), "step": step,
                "load": [x.tolist() for x in load_sum]}, os.path.join(out, "model.pt.tmp"))
    os.replace(os.path.join(out, "model.pt.tmp"), os.path.join(out, "model.pt"))
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step},
               os.path.join(out, "state.pt.tmp"))
    os.replace(os.path.join(out, "state.pt.tmp"), os.path.join(out, "state.pt"))


if __name__ == "__main__":
    main()
