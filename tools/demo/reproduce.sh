#!/bin/sh
# reproduce.sh — rebuild models/demo from nothing: tokenizer, training, FP8 export, eval.
#
#   sh tools/demo/reproduce.sh            (from the repository root)
#
# Needs Debian's /usr/bin/python3 with torch (CPU) and numpy. Training runs on one
# thread. Debian's torch calls the system BLAS; the reference netlib BLAS makes
# training ~4x slower than OpenBLAS. Set BLAS_DIR to a folder holding an OpenBLAS
# libblas.so.3 to use it for these processes only, e.g. without installing anything:
#   apt-get download libopenblas0-serial && dpkg-deb -x libopenblas0-serial_*.deb /tmp/oblas
#   BLAS_DIR=/tmp/oblas/usr/lib/x86_64-linux-gnu/openblas-serial sh tools/demo/reproduce.sh
# Every step is seeded; a different BLAS can change the last bits of the float math.
set -eu
PY=${PYTHON:-/usr/bin/python3}
OUT=${OUT:-tools/demo/out}
if [ -n "${BLAS_DIR:-}" ]; then
	LD_LIBRARY_PATH="$BLAS_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
	export LD_LIBRARY_PATH
fi
export OMP_NUM_THREADS=1
t() { date +%s; }

s=$(t); $PY tools/demo/make_tokenizer.py --out models/demo
echo "tokenizer: $(( $(t) - s ))s"
# Phase 1 (~30 min): the whole recipe from random init (train.py's defaults).
s=$(t); $PY tools/demo/train.py --out "$OUT/base"
echo "training phase 1: $(( $(t) - s ))s"
# Phase 2 (~14 min): 1000 more steps at a lower learning rate with more subtraction
# (a quarter of equal-length pairs share a prefix: long borrow chains, leading zeros)
# and comparisons. Both phases together stay under the 60-minute budget.
s=$(t); $PY tools/demo/train.py --out "$OUT" --init-from "$OUT/base/model.pt" \
	--steps 1000 --lr 5e-4 --warmup 50 --seed 2 --near 0.25 \
	--mix add=0.20,sub=0.26,mul=0.26,cmp=0.10
echo "training phase 2: $(( $(t) - s ))s"
s=$(t); $PY tools/demo/export.py --float "$OUT/model.pt" --out models/demo
echo "export: $(( $(t) - s ))s"
s=$(t); $PY tools/demo/eval.py --float "$OUT/model.pt" --json "$OUT/eval_float.json"
$PY tools/demo/eval.py --hf models/demo --json "$OUT/eval_fp8.json"
echo "eval: $(( $(t) - s ))s"
