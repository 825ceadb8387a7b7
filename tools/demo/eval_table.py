"""A markdown table of accuracies from several eval_engine.py --json files.

One row per category, one column per file, percentages with one decimal ("-" where a
file has no score for the category). A column is `--col "LABEL=FILE"`, or `--col FILE`
to label it from the file ("cli heldout T=0.6"). FILE may join several files with "+"
(e.g. a batch run of the single-turn categories + a cli run of follow): their categories
are merged, a later file winning.

Usage: python3 tools/demo/eval_table.py --col "SFT greedy=a.json" --col "GRPO greedy=b.json"
           [--total] [--first]
  --total  adds a row with all categories pooled (ok and n summed)
  --first  adds, for multi-turn categories, a row with the first turn's accuracy
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402


def label_of(js):
    return f"{js.get('mode', '?')} {js.get('split', '?')} T={js.get('temperature', '?')}"


def pct(ok, n):
    return f"{100 * ok / n:.1f}%" if n else "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--col", action="append", required=True, metavar="LABEL=FILE")
    ap.add_argument("--total", action="store_true")
    ap.add_argument("--first", action="store_true")
    a = ap.parse_args()
    cols = []
    for spec in a.col:
        label, sep, path = spec.rpartition("=")
        if not sep or not label:
            label, path = None, spec
        cats = {}
        for one in path.split("+"):
            with open(one) as f:
                js = json.load(f)
            cats.update(js.get("categories", {}))
        cols.append((label or label_of(js), cats))
    seen = [c for c in data.CATEGORIES if any(c in cats for _, cats in cols)]
    seen += sorted({c for _, cats in cols for c in cats} - set(seen))
    rows = []
    for c in seen:
        rows.append([c] + [pct(cats[c]["ok"], cats[c]["n"]) if c in cats else "-" for _, cats in cols])
        if a.first and any("first_ok" in cats.get(c, {}) for _, cats in cols):
            rows.append([f"{c} (first turn)"] + [
                pct(cats[c]["first_ok"], cats[c]["n"]) if "first_ok" in cats.get(c, {}) else "-"
                for _, cats in cols])
    if a.total:
        rows.append(["all"] + [pct(sum(v["ok"] for v in cats.values()), sum(v["n"] for v in cats.values()))
                               for _, cats in cols])
    head = ["category"] + [label for label, _ in cols]
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]

    def line(cells, right=True):
        return "| " + " | ".join(
            (x.ljust(w) if i == 0 or not right else x.rjust(w)) for i, (x, w) in enumerate(zip(cells, widths))) + " |"
    print(line(head, right=False))
    print("|" + "|".join(("-" * (w + 2)) if i == 0 else ("-" * (w + 1) + ":") for i, w in enumerate(widths)) + "|")
    for r in rows:
        print(line(r))


if __name__ == "__main__":
    main()
