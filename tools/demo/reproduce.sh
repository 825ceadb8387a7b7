#!/bin/sh
# reproduce.sh — rebuild models/demo from nothing: tokenizer, supervised training, GRPO,
# FP8 export, evaluation before and after GRPO, the GRPO plot.
#
#   sh tools/demo/reproduce.sh            (from the repository root, after `make`)
#
# Needs Debian's /usr/bin/python3 with torch (CPU), numpy and matplotlib
# (python3-torch python3-matplotlib). Training runs on one thread. Debian's torch calls
# the system BLAS; the reference netlib BLAS makes training ~4x slower than OpenBLAS.
# Set BLAS_DIR to a folder holding an OpenBLAS libblas.so.3 to use it for these
# processes only, e.g. without installing anything:
#   apt-get download libopenblas0-serial && dpkg-deb -x libopenblas0-serial_*.deb /tmp/oblas
#   BLAS_DIR=/tmp/oblas/usr/lib/x86_64-linux-gnu/openblas-serial sh tools/demo/reproduce.sh
# Every step is seeded and runs a fixed number of steps; a different BLAS can change the
# last bits of the float math.
set -eu
PY=${PYTHON:-/usr/bin/python3}
OUT=${OUT:-tools/demo/out}
if [ -n "${BLAS_DIR:-}" ]; then
	LD_LIBRARY_PATH="$BLAS_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
	export LD_LIBRARY_PATH
fi
export OMP_NUM_THREADS=1
t() { date +%s; }
mkdir -p "$OUT"

s=$(t); $PY tools/demo/make_tokenizer.py --out models/demo
echo "tokenizer: $(( $(t) - s ))s"
# Supervised phase 1 (~41 min): the whole recipe from random init (train.py's defaults).
s=$(t); $PY tools/demo/train.py --out "$OUT/sft1" --steps 3000
echo "supervised phase 1: $(( $(t) - s ))s"
# Supervised phase 2 (~30 min): a lower learning rate, more of the weaker categories.
s=$(t); $PY tools/demo/train.py --out "$OUT/sft" --init-from "$OUT/sft1/model.pt" --steps 2100 \
	--lr 1.5e-3 --warmup 50 --seed 3 --mix add=0.10,sub=0.16,mul=0.22,cmp=0.25,word=0.13,follow=0.10,other=0.04
echo "supervised phase 2: $(( $(t) - s ))s"
$PY tools/demo/export.py --float "$OUT/sft/model.pt" --out "$OUT/sft_hf"
cp models/demo/tokenizer.json models/demo/tokenizer_config.json models/demo/generation_config.json "$OUT/sft_hf/"
# GRPO (~30 min, 71 steps): rule-based rewards, KL to the supervised model, constant learning rate.
s=$(t); $PY tools/demo/grpo.py --init "$OUT/sft/model.pt" --out "$OUT/grpo" --steps 71 --lr 5e-5
echo "GRPO: $(( $(t) - s ))s"
$PY tools/demo/export.py --float "$OUT/grpo/model.pt" --out models/demo
$PY tools/demo/plot_grpo.py "$OUT/grpo/grpo_log.csv" docs/demo-model-grpo.png
# Evaluation through the C engine, before and after GRPO, greedy and at temperature 0.6.
s=$(t)
for m in sft grpo; do
	dir=$OUT/sft_hf
	[ $m = grpo ] && dir=models/demo
	for temp in 0 0.6; do
		python3 tools/demo/eval_engine.py --model "$dir" --seed 31337 --mode batch --temperature $temp \
			--cats add,sub,mul,cmp,word,other --json "$OUT/eval_${m}_t${temp}_batch.json"
		python3 tools/demo/eval_engine.py --model "$dir" --seed 31337 --mode cli --temperature $temp \
			--cats follow --json "$OUT/eval_${m}_t${temp}_cli.json"
	done
done
python3 tools/demo/eval_table.py \
	--col "supervised, greedy=$OUT/eval_sft_t0_batch.json+$OUT/eval_sft_t0_cli.json" \
	--col "after GRPO, greedy=$OUT/eval_grpo_t0_batch.json+$OUT/eval_grpo_t0_cli.json" \
	--col "supervised, T 0.6=$OUT/eval_sft_t0.6_batch.json+$OUT/eval_sft_t0.6_cli.json" \
	--col "after GRPO, T 0.6=$OUT/eval_grpo_t0.6_batch.json+$OUT/eval_grpo_t0.6_cli.json"
echo "eval: $(( $(t) - s ))s"
