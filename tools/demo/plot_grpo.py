"""Plot a GRPO run's log (grpo_log.csv) into one PNG: reward, accuracy, mean response
length and KL to the reference, per step, with a moving average over --window steps.

Usage: /usr/bin/python3 tools/demo/plot_grpo.py OUT/grpo/grpo_log.csv docs/demo-model-grpo.png
Needs Debian's python3-matplotlib.
"""
import argparse
import csv

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def moving_average(v, w):
    out = []
    for i in range(len(v)):
        part = v[max(0, i - w + 1):i + 1]
        out.append(sum(part) / len(part))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("csv")
    ap.add_argument("png")
    ap.add_argument("--window", type=int, default=10)
    a = ap.parse_args()
    with open(a.csv) as f:
        rows = list(csv.DictReader(f))
    steps = [int(r["step"]) for r in rows]
    panels = [("reward", "reward (mean over completions)"),
              ("accuracy", "accuracy of sampled completions"),
              ("length", "mean response length (tokens)"),
              ("kl", "KL to the supervised model (per token)")]
    fig, axes = plt.subplots(2, 2, figsize=(10, 6.5), sharex=True)
    for ax, (key, title) in zip(axes.flat, panels):
        v = [float(r[key]) for r in rows]
        ax.plot(steps, v, color="0.75", linewidth=0.8, label="per step")
        ax.plot(steps, moving_average(v, a.window), color="C0", linewidth=1.6,
                label=f"mean of {a.window} steps")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("GRPO step")
    axes[0][0].legend(fontsize=8)
    fig.suptitle("GRPO on the demo model (rule-based rewards, temperature-1 rollouts)", fontsize=11)
    fig.tight_layout()
    fig.savefig(a.png, dpi=90)


if __name__ == "__main__":
    main()
