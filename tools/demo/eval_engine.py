"""Greedy accuracy of the demo checkpoint through ponder's own C engine.

Two modes:
  --mode logits  (works as soon as `ponder logits` exists): the R1 prompt is encoded in
                 Python (tok.py, which matches `ponder tokenize`), then each step runs
                 `ponder logits -m DIR --ids ... --chunk N` and takes the argmax of the last
                 row. One process per token: slow, so use a handful of problems.
  --mode chat    runs `ponder -m DIR -p QUESTION --temperature 0 --no-save
                 --reasoning=inline` once per problem and parses the printed answer.
  --mode batch   one `ponder --batch --json --temperature 0 --no-save` process per task,
                 one problem per input line; needs only the standard library (the test
                 tests/e2e_demo_eval.sh uses it). --min task=fraction,... sets pass marks:
                 the exit status is 1 when a task scores below its mark.
Also --compare: max relative difference between `ponder logits` and the PyTorch model
(FP8 dequantized, float32) on a few prompts, for every position.

Usage: /usr/bin/python3 tools/demo/eval_engine.py [--ponder bin/ponder] [--model models/demo]
           [--mode logits|chat] [--n 5] [--tasks add4,mul32] [--compare]
"""
import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
from tok import Tokenizer  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


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


def greedy_logits_mode(a, tk, q, max_new):
    ids = tk.prompt_ids(q)
    out = []
    for _ in range(max_new):
        row = rows_of(engine_logits(a.ponder, a.model, ids))[-1]
        nxt = max(range(len(row)), key=row.__getitem__)
        out.append(nxt)
        ids.append(nxt)
        if nxt == tk.eos:
            break
    return tk.decode(out, skip_special=True)


def chat_mode(a, q):
    r = subprocess.run([a.ponder, "-m", a.model, "-p", q, "--temperature", "0", "--no-save",
                        "--reasoning=inline"], capture_output=True, text=True, timeout=600)
    if r.returncode:
        raise RuntimeError(f"ponder failed ({r.returncode}): {r.stderr.strip()[:500]}")
    return r.stdout


def batch_mode(a, problems):
    """Answers of every problem from one ponder process, in order."""
    questions = "".join(q.replace("\n", " ") + "\n" for q, _ in problems)
    r = subprocess.run([a.ponder, "-m", a.model, "--batch", "--json", "--temperature", "0",
                        "--no-save", "-t", str(a.threads)], input=questions,
                       capture_output=True, text=True, timeout=1800)
    if r.returncode:
        raise RuntimeError(f"ponder failed ({r.returncode}): {r.stderr.strip()[:500]}")
    rows = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    if [row["index"] for row in rows] != list(range(len(problems))):
        raise RuntimeError("ponder --batch did not answer every problem in order")
    return [row["answer"] for row in rows]


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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ponder", default=os.path.join(ROOT, "bin/ponder"))
    ap.add_argument("--model", default=os.path.join(ROOT, "models/demo"))
    ap.add_argument("--mode", choices=["logits", "chat", "batch"], default="logits")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--min", default="", help="pass marks, e.g. add4=0.95,mul32=0.85")
    ap.add_argument("--tasks", default="add4,sub4,mul32,word")
    ap.add_argument("--n", type=int, default=5)
    ap.add_argument("--seed", type=int, default=4242)
    ap.add_argument("--max-new", type=int, default=400)
    ap.add_argument("--compare", action="store_true")
    ap.add_argument("--show", action="store_true")
    a = ap.parse_args()
    marks = {k: float(v) for k, v in (kv.split("=") for kv in a.min.split(",") if kv)}
    failed = False
    if a.mode == "batch":
        for task in a.tasks.split(","):
            t0 = time.time()
            problems = data.eval_set(task, a.n, a.seed)
            answers = batch_mode(a, problems)
            ok = sum(data.parse_answer(text) == want for (_, want), text in zip(problems, answers))
            mark = marks.get(task)
            failed |= mark is not None and ok < mark * a.n
            print(f"{task:8s} {ok}/{a.n} = {100 * ok / a.n:.1f}% via ponder --batch "
                  f"({time.time() - t0:.0f}s)" + (f", pass mark {100 * mark:.0f}%" if mark else ""),
                  flush=True)
        sys.exit(1 if failed else 0)
    tk = Tokenizer.load(os.path.join(a.model, "tokenizer.json"))
    if a.compare:
        compare(a, tk)
        return
    for task in a.tasks.split(","):
        ok = 0
        t0 = time.time()
        for q, want in data.eval_set(task, a.n, a.seed):
            text = greedy_logits_mode(a, tk, q, a.max_new) if a.mode == "logits" else chat_mode(a, q)
            got = data.parse_answer(text)
            ok += got == want
            if a.show or got != want:
                print(f"  Q: {q} want {want} got {got}" + (f"\n  {text!r}" if got != want else ""))
        print(f"{task:8s} {ok}/{a.n} via ponder ({a.mode}, {time.time() - t0:.0f}s)", flush=True)


if __name__ == "__main__":
    main()
