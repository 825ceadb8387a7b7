"""Accuracy of the demo checkpoint through ponder's own C engine, per category.

Problems come from data.eval_set(cat, n, seed, split): each is a list of turns asked one
after the other in one conversation, with the expected parsed answer after each turn.

Modes:
  --mode batch   one `ponder --batch --json --no-save` process per category, one question
                 per input line (single-turn categories only: multi-turn ones are skipped
                 with a note). Standard library only (tests/e2e_demo_eval.sh uses it).
  --mode cli     drives the real command line as a user would: every problem gets its own
                 fresh state folder (HOME and the XDG folders point into a new temporary
                 folder, so the user's history and config are never touched); the first
                 turn is `ponder -m MODEL --json --temperature T -- QUESTION`, later turns
                 add `-c` (continue the last, saved conversation). Each turn's "answer"
                 field is parsed; a problem counts as right when its LAST turn is right
                 (the first turns are counted too). --jobs problems run in parallel.
                 Standard library only.
  --mode logits  (slow, small --n) the R1 prompt is encoded in Python (tok.py, which
                 matches `ponder tokenize`), then each step runs `ponder logits` and takes
                 the argmax of the last row, one process per token; later turns carry the
                 model's own earlier answers as history. Greedy only.
Sampling: --temperature T (default 0, greedy) is passed to ponder; with T > 0 every cli
problem gets `--seed SEED+i` (i its index) and batch mode `--seed SEED`, so a run is
reproducible.
Output: one `cat  ok/n = xx.x%` line per category; --json FILE writes {"mode", "split",
"temperature", "n", "seed", "model", "categories": {cat: {"ok", "n", "acc", ...}}}
(tools/demo/eval_table.py turns several such files into a markdown table). --min
cat=fraction,... sets pass marks: the exit status is 1 when a category scores below its
mark (or a ponder process failed). --show prints the failures.

Also --compare: max relative difference between `ponder logits` and the PyTorch model
(FP8 dequantized, float32) on a few prompts, for every position (needs torch).

Usage: python3 tools/demo/eval_engine.py [--ponder bin/ponder] [--model models/demo]
           [--mode batch|cli|logits] [--cats add,sub,...] [--split heldout|train] [--n 200]
           [--seed 777] [--temperature 0] [-t 1] [--jobs 2] [--min add=0.9,...]
           [--json FILE] [--show] | --compare
"""
import argparse
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TIMEOUT = 1800


class PonderError(RuntimeError):
    pass


def isolated_env(home):
    """The environment for one ponder run whose state lives only under `home`: no user
    history, config or input history is read or written."""
    env = dict(os.environ)
    for k in ("PONDER_DB", "PONDER_MODEL"):
        env.pop(k, None)
    env["HOME"] = home
    for k, sub in (("XDG_DATA_HOME", "data"), ("XDG_CONFIG_HOME", "config"),
                   ("XDG_CACHE_HOME", "cache"), ("XDG_STATE_HOME", "state")):
        env[k] = os.path.join(home, sub)
    return env


def sampling_args(a, seed=None):
    args = ["--temperature", str(a.temperature)]
    if a.temperature > 0 and seed is not None:
        args += ["--seed", str(seed)]
    if a.max_tokens:
        args += ["--max-tokens", str(a.max_tokens)]
    return args


def run_ponder(args, env, stdin_text=None):
    feed = {"input": stdin_text} if stdin_text is not None else {"stdin": subprocess.DEVNULL}
    r = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT, env=env, **feed)
    if r.returncode:
        raise PonderError(f"ponder exited {r.returncode}: {r.stderr.strip()[:500]} "
                          f"(command: {' '.join(args[:-1])} ...)")
    return r.stdout


# ---------------------------------------------------------------- batch mode

def batch_category(a, problems):
    """Results of every (single-turn) problem from one ponder process, in order."""
    questions = "".join(p["turns"][0].replace("\r", " ").replace("\n", " ") + "\n" for p in problems)
    home = tempfile.mkdtemp(prefix="ponder-eval-")
    try:
        out = run_ponder([a.ponder, "-m", a.model, "--batch", "--json", "--no-save",
                          "-t", str(a.threads)] + sampling_args(a, a.seed),
                         isolated_env(home), stdin_text=questions)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    if [row.get("index") for row in rows] != list(range(len(problems))):
        raise PonderError("ponder --batch did not answer every problem in order")
    return [{"answers": [row.get("answer", "")], "error": None, "mtp": mtp_counts([row])}
            for row in rows]


def mtp_counts(replies):
    """(drafted, accepted) MTP draft tokens over ponder's JSON replies."""
    m = [r.get("mtp") or {} for r in replies]
    return sum(x.get("drafted", 0) for x in m), sum(x.get("accepted", 0) for x in m)


# ---------------------------------------------------------------- cli mode

def cli_problem(a, i, problem):
    """Asks the turns of one problem through the CLI in a fresh state folder."""
    home = tempfile.mkdtemp(prefix="ponder-eval-")
    env = isolated_env(home)
    answers = []
    replies = []
    cid = None
    try:
        for j, q in enumerate(problem["turns"]):
            args = [a.ponder, "-m", a.model, "--json", "-t", str(a.threads)]
            args += sampling_args(a, a.seed + i)
            if j:
                args.append("-c")
            args += ["--", q]          # a question may start with '-' ("-5 + 3 = ?")
            js = json.loads(run_ponder(args, env))
            if j and js.get("conversation_id") != cid:
                raise PonderError(f"turn {j + 1} went to conversation {js.get('conversation_id')}, "
                                  f"not {cid}: -c did not continue")
            cid = js.get("conversation_id")
            answers.append(js.get("answer", ""))
            replies.append(js)
        return {"answers": answers, "error": None, "mtp": mtp_counts(replies)}
    except (PonderError, subprocess.TimeoutExpired, ValueError, OSError) as e:
        return {"answers": answers, "error": str(e), "mtp": mtp_counts(replies)}
    finally:
        shutil.rmtree(home, ignore_errors=True)


def cli_category(a, problems):
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, a.jobs)) as pool:
        return list(pool.map(lambda ip: cli_problem(a, *ip), enumerate(problems)))


# ---------------------------------------------------------------- logits mode

def engine_logits(ponder, model, ids, last_only=True):
    args = [ponder, "logits", "-m", model, "--ids", ",".join(map(str, ids))]
    if last_only:
        args += ["--chunk", str(len(ids))]
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(f"ponder logits failed ({r.returncode}): {r.stderr.strip()[:500]}")
    return json.loads(r.stdout)


def rows_of(js):
    for key in ("logits", "step_logits", "prefill_logits"):
        if key in js:
            return js[key]
    raise KeyError(f"no logits in ponder output keys {list(js)}")


def greedy_reply(a, tk, q, history):
    """(reasoning, answer) of a greedy reply to q after the (question, answer) history."""
    ids = tk.prompt_ids(q, history)
    out = []
    for _ in range(a.max_new):
        row = rows_of(engine_logits(a.ponder, a.model, ids))[-1]
        nxt = max(range(len(row)), key=row.__getitem__)
        if nxt == tk.eos:
            break
        out.append(nxt)
        ids.append(nxt)
    if tk.end_think in out:
        k = out.index(tk.end_think)
        return tk.decode(out[:k], skip_special=True), tk.decode(out[k + 1:], skip_special=True).strip()
    return tk.decode(out, skip_special=True), ""


def logits_category(a, tk, problems):
    res = []
    for p in problems:
        hist, answers = [], []
        for q in p["turns"]:
            _, ans = greedy_reply(a, tk, q, hist)
            answers.append(ans)
            hist.append((q, ans))
        res.append({"answers": answers, "error": None})
    return res


# ---------------------------------------------------------------- compare

def compare(a, tk):
    import torch
    from eval import load_model
    torch.set_num_threads(1)

    class A:
        hf = a.model
        float = None
    m = load_model(A)
    worst = 0.0
    for q in ["What is 4821 + 375?", "Which is larger, 4821 or 4812?",
              "Anna has 37 apples and buys 48 more. How many apples does Anna have now?"]:
        ids = tk.prompt_ids(q)
        with torch.no_grad():
            gen = m.generate([ids], 60, tk.eos)[0]
            seq = ids + gen
            ref, h = m(torch.tensor([seq]), want_hidden=True)
            ref_mtp = m.mtp_logits(h[:, :-1], torch.tensor([seq[1:]]))[0]
        ref = ref[0]
        js = engine_logits(a.ponder, a.model, seq, last_only=False)
        got = torch.tensor(rows_of(js))
        rel = ((got - ref).abs().max() / ref.abs().max()).item()
        same = (got.argmax(-1) == ref.argmax(-1)).float().mean().item()
        line = f"{q[:40]:40s} len {len(seq)}: max rel diff {rel:.2e}, argmax agree {100 * same:.1f}%"
        worst = max(worst, rel)
        r2 = subprocess.run([a.ponder, "logits", "-m", a.model, "--ids", ",".join(map(str, seq)),
                             "--mtp"], capture_output=True, text=True)
        if r2.returncode == 0 and "mtp_logits" in json.loads(r2.stdout):
            gm = torch.tensor(json.loads(r2.stdout)["mtp_logits"])
            n = min(gm.shape[0], ref_mtp.shape[0])
            relm = ((gm[:n] - ref_mtp[:n]).abs().max() / ref_mtp.abs().max()).item()
            line += f"; MTP rel diff {relm:.2e}"
            worst = max(worst, relm)
        print(line, flush=True)
    print(f"worst relative difference {worst:.2e}")
    return worst


# ---------------------------------------------------------------- main

def show_failure(p, r, got):
    for j, q in enumerate(p["turns"]):
        print(f"    Q{j + 1}: {q!r}")
    print(f"    want {p['wants']} got {got}")
    for j, ans in enumerate(r["answers"]):
        print(f"    A{j + 1}: {ans!r}")
    if r["error"]:
        print(f"    error: {r['error']}")


def parse_marks(text, cats):
    marks = {}
    for kv in filter(None, text.split(",")):
        k, _, v = kv.partition("=")
        if k not in cats:
            sys.exit(f"eval_engine: --min names {k!r}, which is not evaluated (--cats {','.join(cats)})")
        marks[k] = float(v)
    return marks


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ponder", default=os.path.join(ROOT, "bin/ponder"))
    ap.add_argument("--model", default=os.path.join(ROOT, "models/demo"))
    ap.add_argument("--mode", choices=["batch", "cli", "logits"], default="batch")
    ap.add_argument("--cats", default=",".join(data.CATEGORIES),
                    help="categories, comma-separated (default: all of data.CATEGORIES)")
    ap.add_argument("--split", choices=["heldout", "train"], default="heldout")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--seed", type=int, default=777)
    ap.add_argument("--temperature", type=float, default=0.0)
    ap.add_argument("-t", "--threads", type=int, default=1, help="ponder worker threads per process")
    ap.add_argument("--jobs", type=int, default=2, help="cli mode: problems run in parallel")
    ap.add_argument("--max-tokens", type=int, default=0, help="passed to ponder when > 0")
    ap.add_argument("--max-new", type=int, default=400, help="logits mode: tokens per reply")
    ap.add_argument("--min", default="", help="pass marks, e.g. add=0.95,follow=0.8")
    ap.add_argument("--json", metavar="FILE", help="write the scores as JSON")
    ap.add_argument("--show", action="store_true", help="print the failures")
    ap.add_argument("--compare", action="store_true")
    a = ap.parse_args()
    a.ponder = os.path.abspath(a.ponder) if os.sep in a.ponder else a.ponder

    if shutil.which(a.ponder) is None:
        sys.exit(f"eval_engine: no ponder executable at {a.ponder} (build it with make, or --ponder)")
    if a.compare or a.mode == "logits":
        from tok import Tokenizer
        tk = Tokenizer.load(os.path.join(a.model, "tokenizer.json"))
        if a.compare:
            compare(a, tk)
            return
        if a.temperature > 0:
            sys.exit("eval_engine: --mode logits is greedy only")

    cats = [c for c in a.cats.split(",") if c]
    unknown = [c for c in cats if c not in data.CATEGORIES]
    if unknown:
        sys.exit(f"eval_engine: unknown categories {unknown}; known: {','.join(data.CATEGORIES)}")
    marks = parse_marks(a.min, cats)
    failed = False
    scores = {}
    for cat in cats:
        t0 = time.time()
        problems = data.eval_set(cat, a.n, a.seed, a.split)
        turns = max(len(p["turns"]) for p in problems) if problems else 1
        if a.mode == "batch" and turns > 1:
            print(f"{cat:7s} skipped: {turns} turns per problem; use --mode cli", flush=True)
            if cat in marks:
                print(f"{cat:7s} has a pass mark but was not evaluated", flush=True)
                failed = True
            continue
        if a.mode == "batch":
            results = batch_category(a, problems)
        elif a.mode == "cli":
            results = cli_category(a, problems)
        else:
            results = logits_category(a, tk, problems)
        ok = first_ok = errors = drafted = accepted = 0
        fails = []
        for p, r in zip(problems, results):
            drafted += r.get("mtp", (0, 0))[0]
            accepted += r.get("mtp", (0, 0))[1]
            got = [data.parse_answer(t) for t in r["answers"]]
            got += [None] * (len(p["wants"]) - len(got))
            errors += r["error"] is not None
            first_ok += got[0] == p["wants"][0]
            if got[-1] == p["wants"][-1] and r["error"] is None:
                ok += 1
            else:
                fails.append((p, r, got))
        n = len(problems)
        acc = ok / n if n else 0.0
        entry = {"ok": ok, "n": n, "acc": round(acc, 4)}
        line = f"{cat:7s} {ok}/{n} = {100 * acc:.1f}%"
        if turns > 1:
            entry.update(first_ok=first_ok, first_acc=round(first_ok / n, 4) if n else 0.0)
            line += f"  (first turn {first_ok}/{n} = {100 * first_ok / max(n, 1):.1f}%)"
        if drafted:
            entry["mtp_acceptance"] = round(accepted / drafted, 4)
            line += f"  MTP acceptance {100 * accepted / drafted:.1f}%"
        if errors:
            entry["errors"] = errors
            line += f"  {errors} ponder failures"
            failed = True
        mark = marks.get(cat)
        if mark is not None:
            below = ok < mark * n
            failed |= below
            line += f"  mark {100 * mark:.1f}%" + ("  BELOW" if below else "")
        print(f"{line}  [{a.mode}, {time.time() - t0:.0f}s]", flush=True)
        if a.show or errors:
            for p, r, got in fails:
                if a.show or r["error"]:
                    show_failure(p, r, got)
        scores[cat] = entry
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"mode": a.mode, "split": a.split, "temperature": a.temperature, "n": a.n,
                       "seed": a.seed, "model": a.model, "categories": scores}, f, indent=1)
            f.write("\n")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
