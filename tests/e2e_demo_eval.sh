#!/bin/sh
# The shipped demo model scores fresh problems through ponder's own C engine (greedy,
# the FP8 checkpoint), in the held-out phrasing split (templates never seen in
# training): 200 problems per single-turn category through `ponder --batch`, and 50
# two-turn follow-up conversations through the real CLI (`ponder --json`, then
# `ponder -c --json`, each conversation in its own fresh state folder).
# Pass marks: about 5 points under what the shipped model scores with this seed (add 78,
# sub 56.5, mul 61, cmp 51, word 64, other 94.5, follow 68 of 50), so a regression fails
# while a different CPU's last float bits do not. These are far under the targets of
# docs/demo-model.md: held-out phrasings are the model's weak point (see there).
if [ ! -f models/demo/config.json ]; then
	echo "SKIP demo_eval: no model at models/demo"
	exit 0
fi
if ! command -v python3 >/dev/null 2>&1; then
	echo "SKIP demo_eval: python3 is not installed"
	exit 0
fi
out=$(python3 tools/demo/eval_engine.py --ponder "${BIN:-bin/ponder}" --mode batch --split heldout \
	--n 200 --seed 20261125 --cats add,sub,mul,cmp,word,other \
	--min add=0.72,sub=0.50,mul=0.55,cmp=0.45,word=0.58,other=0.90 2>&1)
rc=$?
out2=$(python3 tools/demo/eval_engine.py --ponder "${BIN:-bin/ponder}" --mode cli --split heldout \
	--n 50 --seed 20261125 --cats follow --jobs 2 \
	--min follow=0.56 2>&1)
rc2=$?
echo "$out"
echo "$out2"
if [ $rc -eq 0 ] && [ $rc2 -eq 0 ]; then echo "PASS demo_eval"; else echo "FAIL demo_eval: below a pass mark, or ponder failed"; fi
