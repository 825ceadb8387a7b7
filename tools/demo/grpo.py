"""Group Relative Policy Optimization of the supervised demo model, on CPU.

As in the DeepSeek-R1 report (GRPO from DeepSeekMath): for each prompt, sample G
completions from the current policy; score each with rules only; the advantage of a
completion is its reward minus the group's mean, divided by the group's standard
deviation; maximise the clipped-ratio objective minus beta times the KL divergence to
the frozen supervised model (the k3 estimator, per token).

Rewards (no learned reward model):
  +1    the parsed answer is right (a number, yes/no, or the fixed reply for questions
        that are not arithmetic);
  +0.1  format: the reasoning closes with </think> exactly once and the answer after it
        is well formed ("The answer is N." or the fixed reply);
  -0.5  overlong: no end of sentence within --max-new tokens.

Each rollout batch (prompts x G completions, sampled at temperature 1) is used for two
updates on its two halves, so the second half sees a policy that moved and the ratio
clip matters. Prompts come from the training templates (the held-out ones stay for
evaluation); categories are drawn with weight 1 - running accuracy (floor 0.1), so the
rollouts go where the policy still fails. The MTP module is trained alongside on the
policy's own completions (its acceptance is what speculative decoding needs), and the
routing biases keep their auxiliary-loss-free updates.

Usage: /usr/bin/python3 tools/demo/grpo.py --init OUT/sft/model.pt --out OUT/grpo
Writes OUT/model.pt (the format train.py writes), OUT/grpo_log.csv (one row per step).
"""
import argparse
import csv
import os
import random
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
from model import Config, DeepseekV3  # noqa: E402
from tok import Tokenizer  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def reward(text, finished, want, eos_text):
    """(reward, correct, well formed) of one completion's text, decoded with its markers."""
    got = data.parse_answer(text)
    correct = got is not None and got == want
    tail = text.split("</think>")[-1] if text.count("</think>") == 1 else ""
    tail = tail[:-len(eos_text)] if finished and tail.endswith(eos_text) else tail
    formed = bool(data.ANSWER_RE.fullmatch(tail.strip()) or tail.strip() == data.OTHER_REPLY)
    r = (1.0 if correct else 0.0) + (0.1 if formed else 0.0) - (0.0 if finished else 0.5)
    return r, correct, formed


def load_checkpoint(path):
    st = torch.load(path)
    cfg = Config.from_dict(st["config"])
    m = DeepseekV3(cfg)
    mtp = m.model.layers[cfg.num_hidden_layers]
    mtp.embed_tokens.weight = m.model.embed_tokens.weight
    mtp.shared_head.head.weight = m.lm_head.weight
    m.load_state_dict(st["model"])
    return m, cfg, st


def token_logprobs(model, ids, start, lengths, want_hidden=False):
    """log pi(token) of every completion token: [B, T-1] (0 outside completions)."""
    real = torch.arange(ids.shape[1])[None, :] < lengths[:, None]
    mtp_mlp = model.model.layers[model.cfg.num_hidden_layers].mlp
    for mo in model.moe_layers():
        mo.valid = real[:, 1:-1] if mo is mtp_mlp else real[:, :-1]
    logits, h = model(ids[:, :-1], want_hidden=True)
    lp = torch.log_softmax(logits.float(), -1).gather(-1, ids[:, 1:, None])[..., 0]
    pos = torch.arange(ids.shape[1] - 1)[None, :] + 1
    mask = (pos >= start[:, None]) & (pos < lengths[:, None])
    return (lp * mask, mask, h) if want_hidden else (lp * mask, mask)


def pack(seqs, starts, pad):
    T = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), T), pad, dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = torch.tensor(s)
    return ids, torch.tensor(starts), torch.tensor([len(s) for s in seqs])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--init", default=os.path.join(HERE, "out/sft/model.pt"),
                    help="the supervised model (also the KL reference)")
    ap.add_argument("--out", default=os.path.join(HERE, "out/grpo"))
    ap.add_argument("--tokenizer", default=os.path.join(ROOT, "models/demo/tokenizer.json"))
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--prompts", type=int, default=8, help="prompts per step")
    ap.add_argument("--group", type=int, default=8, help="G: completions per prompt")
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--clip", type=float, default=0.2)
    ap.add_argument("--beta", type=float, default=0.04, help="KL weight")
    ap.add_argument("--mtp-weight", type=float, default=0.1)
    ap.add_argument("--gamma", type=float, default=1e-3, help="routing bias update speed")
    ap.add_argument("--max-new", type=int, default=600)
    ap.add_argument("--max-minutes", type=float, default=0,
                    help="stop (and save) after this long; 0: run all --steps")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    tk = Tokenizer.load(args.tokenizer)
    policy, cfg, st = load_checkpoint(args.init)
    ref, _, _ = load_checkpoint(args.init)
    ref.eval()
    for p in ref.parameters():
        p.requires_grad_(False)
    mtp = policy.model.layers[cfg.num_hidden_layers]
    opt = torch.optim.AdamW([p for p in policy.parameters() if p.requires_grad], lr=args.lr,
                            betas=(0.9, 0.99), weight_decay=0.0)
    moes = policy.moe_layers()
    os.makedirs(args.out, exist_ok=True)
    cats = [c for c in data.CATEGORIES]
    acc_ema = {c: 0.5 for c in cats}
    fields = ["step", "elapsed_s", "reward", "accuracy", "format", "overlong", "length",
              "kl", "clip_frac", "mtp_loss", "groups_with_signal"] + [f"acc_{c}" for c in cats] + \
             [f"n_{c}" for c in cats]
    logf = open(os.path.join(args.out, "grpo_log.csv"), "w", newline="")
    log = csv.DictWriter(logf, fieldnames=fields)
    log.writeheader()
    t0 = time.time()
    for step in range(args.steps):
        # ---- rollouts
        weights = [max(0.1, 1.0 - acc_ema[c]) for c in cats]
        batch = []
        for _ in range(args.prompts):
            cat = rng.choices(cats, weights=weights)[0]
            _, hist, q, _, ans = data.example(rng, cat)
            batch.append((cat, tk.prompt_ids(q, hist), data.parse_answer(ans)))
        prompts = [p for _, p, _ in batch for _ in range(args.group)]
        policy.eval()
        for mo in moes:
            mo.valid = None     # set by the last update for its own batch shape
        outs = policy.generate(prompts, args.max_new, tk.eos, 1.0, gen)
        policy.train()
        rows = []
        per_cat = {c: [0, 0] for c in cats}
        for i, o in enumerate(outs):
            cat, p, want = batch[i // args.group]
            finished = bool(o) and o[-1] == tk.eos
            r, ok, formed = reward(tk.decode(o), finished, want, tk.decode([tk.eos]))
            rows.append({"r": r, "ok": ok, "formed": formed, "finished": finished,
                         "seq": p + o, "start": len(p), "len": len(o)})
            per_cat[cat][0] += ok
            per_cat[cat][1] += 1
        for c, (k, n) in per_cat.items():
            if n:
                acc_ema[c] = 0.9 * acc_ema[c] + 0.1 * k / n
        signal = 0
        for g in range(args.prompts):
            grp = rows[g * args.group:(g + 1) * args.group]
            rs = torch.tensor([x["r"] for x in grp])
            sd = rs.std()
            signal += bool(sd > 1e-6)
            adv = (rs - rs.mean()) / (sd + 1e-4)
            for x, a in zip(grp, adv.tolist()):
                x["adv"] = a

        # ---- two updates, on the two halves of the rollouts (shuffled whole groups)
        order = list(range(len(rows)))
        rng.shuffle(order)
        halves = [order[:len(order) // 2], order[len(order) // 2:]]
        useful = [[i for i in h if rows[i]["adv"] != 0.0] for h in halves]
        # the second half's old log-probabilities, before the first update moves the policy
        old_lp = {}
        if useful[1]:
            with torch.no_grad():
                ids, start, lens = pack([rows[i]["seq"] for i in useful[1]],
                                        [rows[i]["start"] for i in useful[1]], tk.pad)
                old_lp[1] = token_logprobs(policy, ids, start, lens)[0]
        stats = {"kl": [], "clip": [], "mtp": []}
        for hi, h in enumerate(useful):
            if not h:
                continue
            ids, start, lens = pack([rows[i]["seq"] for i in h], [rows[i]["start"] for i in h], tk.pad)
            adv = torch.tensor([rows[i]["adv"] for i in h])
            lp, mask, hid = token_logprobs(policy, ids, start, lens, want_hidden=True)
            with torch.no_grad():
                ref_lp = token_logprobs(ref, ids, start, lens)[0]
            old = old_lp.get(hi, lp.detach())
            ratio = torch.exp(lp - old)
            obj = torch.min(ratio * adv[:, None],
                            ratio.clamp(1 - args.clip, 1 + args.clip) * adv[:, None])
            d = ref_lp - lp
            kl = torch.exp(d) - d - 1
            per_tok = -(obj - args.beta * kl)
            ntok = mask.sum(1).clamp(min=1)
            loss = ((per_tok * mask).sum(1) / ntok).mean()
            # MTP: predict token t+2 from the hidden state at t and token t+1
            mh = mtp.mtp_hidden(hid[:, :-1], ids[:, 1:-1], *policy.rope(ids.shape[1] - 2, hid.dtype))
            mmask = mask[:, 1:]
            mloss = F.cross_entropy(mtp.shared_head.head(mh[mmask]), ids[:, 2:][mmask]) \
                if mmask.any() else torch.zeros(())
            opt.zero_grad(set_to_none=True)
            (loss + args.mtp_weight * mloss).backward()
            torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
            opt.step()
            with torch.no_grad():
                for mo in moes:
                    if mo.last_load is not None:
                        load = mo.last_load.float()
                        mo.gate.e_score_correction_bias += args.gamma * torch.sign(load.mean() - load)
                stats["kl"].append(float((kl * mask).sum() / mask.sum()))
                clipped = ((ratio - 1).abs() > args.clip) & mask
                stats["clip"].append(float(clipped.sum() / mask.sum()))
                stats["mtp"].append(float(mloss))

        n = len(rows)
        rec = {"step": step + 1, "elapsed_s": round(time.time() - t0, 1),
               "reward": sum(x["r"] for x in rows) / n,
               "accuracy": sum(x["ok"] for x in rows) / n,
               "format": sum(x["formed"] for x in rows) / n,
               "overlong": sum(not x["finished"] for x in rows) / n,
               "length": sum(x["len"] for x in rows) / n,
               "kl": sum(stats["kl"]) / max(1, len(stats["kl"])),
               "clip_frac": sum(stats["clip"]) / max(1, len(stats["clip"])),
               "mtp_loss": sum(stats["mtp"]) / max(1, len(stats["mtp"])),
               "groups_with_signal": signal}
        for c in cats:
            k, m = per_cat[c]
            rec[f"acc_{c}"] = round(k / m, 4) if m else ""
            rec[f"n_{c}"] = m
        log.writerow({k: (round(v, 5) if isinstance(v, float) else v) for k, v in rec.items()})
        logf.flush()
        print(f"step {step + 1}: reward {rec['reward']:.3f} acc {rec['accuracy']:.3f} "
              f"len {rec['length']:.0f} kl {rec['kl']:.5f} signal {signal}/{args.prompts} "
              f"({rec['elapsed_s']:.0f}s)", flush=True)
        if args.max_minutes and time.time() - t0 > 60 * args.max_minutes:
            print(f"stopped at step {step + 1} (--max-minutes {args.max_minutes:g})", flush=True)
            break
    sd = {k: v.detach().clone() for k, v in policy.state_dict().items()}
    torch.save({"model": sd, "config": cfg.to_dict(), "step": st.get("step"),
                "grpo_steps": step + 1, "load": st.get("load")},
               os.path.join(args.out, "model.pt.tmp"))
    os.replace(os.path.join(args.out, "model.pt.tmp"), os.path.join(args.out, "model.pt"))


if __name__ == "__main__":
    main()
