#!/bin/sh
# End-to-end tests of `ponder convert --fp8 SRC DST` on the fixtures (SKIP without
# ../shared/fixtures): tiny-v2lite converts with a one-line summary and no progress bar
# when stderr is not a terminal; every projection in the output is F8_E4M3 with its
# [ceil(rows/128), ceil(cols/128)] F32 scale, every other tensor keeps its dtype and shape;
# `ponder info` sees FP8 weights and `ponder logits` runs on it; the tokenizer files
# travel along; --shard-size splits into shards that the index and total_size describe;
# a terminal gets a progress bar; and refusals exit non-zero naming the problem, leaving
# nothing behind: no --fp8, SRC missing, SRC not a checkpoint, SRC already FP8, DST not
# empty (left untouched), a write that fails half-way (a file-size limit standing in for
# a full disk), and SIGINT during a conversion (exit 130, the output removed).
# The numeric checks (byte-identical copies, dequantisation, logits against the goldens)
# are in tests/test_convert.c. Prints PASS / FAIL / SKIP lines for tests/run.sh.
. tests/lib_e2e.sh
e2e_begin e2e_convert jq od
FX=${PONDER_FIXTURES:-../shared/fixtures}
SRC=$FX/models/tiny-v2lite
if [ ! -f "$SRC/config.json" ]; then
	echo "SKIP e2e_convert: no fixtures at $FX"
	exit 0
fi

# The JSON header of a safetensors file (little-endian length: x86 and ARM).
st_header() { # file
	n=$(od -An -t u8 -N 8 "$1" | tr -d ' ')
	tail -c +9 "$1" | head -c "$n"
}
# All tensors of a checkpoint folder as one JSON object, name -> {dtype, shape}.
tensors() { # dir
	for f in "$1"/model*.safetensors; do st_header "$f"; echo; done |
		jq -s 'map(del(.__metadata__) | map_values({dtype, shape})) | add'
}

# A plain conversion: status 0, the summary on stdout, nothing on stderr.
$BIN convert --fp8 -t 2 "$SRC" "$T/out" >"$T/stdout" 2>"$T/stderr"
rc=$?
if [ $rc -eq 0 ] && grep -q "^$T/out: 62 of 72 tensors quantised to FP8 e4m3, .* -> .* in 1 shard, " \
	"$T/stdout" && [ ! -s "$T/stderr" ] && [ -f "$T/out/config.json" ]; then
	pass convert_v2lite
else
	fail convert_v2lite "rc=$rc $(cat "$T/stdout") $(head -c 400 "$T/stderr")"
	exit 1
fi

# The layout: projections FP8 with their scales, the rest as in the source.
tensors "$SRC" >"$T/src.json"
tensors "$T/out" >"$T/out.json"
if jq -e --slurpfile s "$T/src.json" '
	. as $o | $s[0] | to_entries | map(
		.key as $k | .value as $v |
		if ($k | test("_proj(_with_mqa)?\\.weight$")) then
			$o[$k].dtype == "F8_E4M3" and $o[$k].shape == $v.shape
			and $o[$k + "_scale_inv"].dtype == "F32"
			and $o[$k + "_scale_inv"].shape == ($v.shape | map(. / 128 | ceil))
		else $o[$k] == $v end) | all' "$T/out.json" >/dev/null &&
   [ "$(jq 'keys | length' "$T/out.json")" -eq 134 ]; then
	pass convert_layout
else
	fail convert_layout "$(jq -c 'to_entries[:6]' "$T/out.json" | head -c 600)"
fi

# ponder reads it as an FP8 checkpoint and runs it.
if $BIN info -m "$T/out" --json 2>"$T/err" | jq -e '.fp8 == true' >/dev/null &&
   $BIN logits -m "$T/out" -t 1 --ids 1,5,9 2>>"$T/err" |
	jq -e '(.logits | length == 3) and ([.logits[][] | isinfinite or isnan] | any | not)' \
		>/dev/null; then
	pass convert_output_runs
else
	fail convert_output_runs "$(head -c 400 "$T/err")"
fi

# Tokenizer files come along, byte for byte; several shards with --shard-size.
mkdir "$T/src2"
cp "$SRC"/config.json "$SRC"/model* "$T/src2/"
cp "$MODEL/tokenizer.json" "$MODEL/tokenizer_config.json" "$T/src2/"
$BIN convert --fp8 --shard-size 1M "$T/src2" "$T/out2" >"$T/stdout" 2>"$T/err"
rc=$?
shards=$(ls "$T/out2"/model-*-of-*.safetensors 2>/dev/null | wc -l)
data=0
for f in "$T/out2"/model-*.safetensors; do
	hl=$(od -An -t u8 -N 8 "$f" | tr -d ' ')
	data=$((data + $(wc -c <"$f") - 8 - hl))
done
total=$(jq .metadata.total_size "$T/out2/model.safetensors.index.json" 2>/dev/null)
named=$(jq -r '[.weight_map[]] | unique | length' "$T/out2/model.safetensors.index.json" 2>/dev/null)
if [ $rc -eq 0 ] && [ "$shards" -ge 3 ] && [ "$named" = "$shards" ] && [ "$total" = "$data" ] &&
   cmp -s "$MODEL/tokenizer.json" "$T/out2/tokenizer.json" &&
   cmp -s "$MODEL/tokenizer_config.json" "$T/out2/tokenizer_config.json" &&
   grep -q "in $shards shards" "$T/stdout" &&
   tensors "$T/out2" | jq -e --slurpfile o "$T/out.json" '. == $o[0]' >/dev/null &&
   $BIN info -m "$T/out2" --json 2>/dev/null | jq -e ".shards == $shards" >/dev/null; then
	pass convert_shards_and_tokenizer
else
	fail convert_shards_and_tokenizer "rc=$rc shards=$shards named=$named total=$total data=$data $(head -c 300 "$T/err")"
fi

# On a terminal: a progress bar on stderr, erased at the end; the summary stays.
if command -v script >/dev/null 2>&1; then
	script -qec "$BIN convert --fp8 '$SRC' '$T/out3'" /dev/null >"$T/tty" 2>&1
	if grep -q 'tensors' "$T/tty" && grep -q '100%' "$T/tty" && grep -q "$T/out3: 62 of 72" "$T/tty"; then
		pass convert_progress_bar
	else
		fail convert_progress_bar "$(head -c 400 "$T/tty")"
	fi
else
	echo "SKIP convert_progress_bar: script(1) is not installed"
fi

# Refusals: a status, a message naming the problem, nothing created.
bad() { # name status word args...
	name=$1 want=$2 word=$3
	shift 3
	$BIN convert "$@" >"$T/stdout" 2>"$T/err"
	rc=$?
	if [ $rc -eq "$want" ] && grep -q -- "$word" "$T/err" && [ ! -e "$T/bad" ] &&
	   [ ! -s "$T/stdout" ]; then
		pass "convert_rejects_$name"
	else
		fail "convert_rejects_$name" "rc=$rc $(head -c 300 "$T/err")"
	fi
	rm -rf "$T/bad"
}
bad no_format 2 "--fp8" "$SRC" "$T/bad"
bad one_folder 2 "name the source" --fp8 "$SRC"
bad bad_head 2 "--head 'fp4'" --fp8 --head fp4 "$SRC" "$T/bad"
bad src_missing 1 "$T/nowhere" --fp8 "$T/nowhere" "$T/bad"
mkdir "$T/empty"
bad not_a_checkpoint 3 "no config.json" --fp8 "$T/empty" "$T/bad"
bad already_fp8 3 "already FP8" --fp8 "$FX/models/tiny-v3" "$T/bad"

# A non-empty DST is refused and left as it was.
mkdir "$T/full" && echo keep >"$T/full/notes"
$BIN convert --fp8 "$SRC" "$T/full" >/dev/null 2>"$T/err"
rc=$?
if [ $rc -eq 2 ] && grep -q 'not empty' "$T/err" && [ "$(ls "$T/full")" = notes ]; then
	pass convert_refuses_nonempty_dst
else
	fail convert_refuses_nonempty_dst "rc=$rc $(ls "$T/full") $(head -c 300 "$T/err")"
fi

# A write that fails half-way: the folder it made is gone, a folder it was given is empty
# again. The output shard is about 2.5 MB; the limit (2048 blocks of 512 or 1024 bytes,
# by shell) stops it first.
mkdir "$T/given"
for out in made given; do
	(ulimit -f 2048 && $BIN convert --fp8 "$SRC" "$T/$out") >/dev/null 2>"$T/err"
	rc=$?
	if [ $out = made ]; then left=$(ls -d "$T/made" 2>/dev/null); else left=$(ls -A "$T/given"); fi
	if [ $rc -ne 0 ] && grep -q 'writing .* failed: File too large' "$T/err" && [ -z "$left" ]; then
		pass "convert_failed_write_removed_$out"
	else
		fail "convert_failed_write_removed_$out" "rc=$rc $(ls -A "$T/$out" 2>&1) $(head -c 300 "$T/err")"
	fi
done

# SIGINT while converting: exit 130, nothing left. The source is one sparse 8192 x 8192
# BF16 matrix of zeros (no disk used), so that the conversion runs long enough to be
# interrupted once its shard exists.
mkdir "$T/big"
printf '{"architectures": ["ToyForCausalLM"]}' >"$T/big/config.json"
hdr='{"a.q_proj.weight":{"dtype":"BF16","shape":[8192,8192],"data_offsets":[0,134217728]}}'
while [ $((${#hdr} % 8)) -ne 0 ]; do hdr="$hdr "; done
n=${#hdr}
printf "$(printf '\\%03o\\%03o' $((n % 256)) $((n / 256)))\\000\\000\\000\\000\\000\\000" \
	>"$T/big/model.safetensors"
printf '%s' "$hdr" >>"$T/big/model.safetensors"
truncate -s $((8 + n + 134217728)) "$T/big/model.safetensors"
$BIN convert --fp8 -t 1 "$T/big" "$T/big_out" >/dev/null 2>"$T/err" &
pid=$!
i=0
while [ ! -e "$T/big_out/model-00001-of-00001.safetensors" ] && [ $i -lt 500 ]; do
	sleep 0.01
	i=$((i + 1))
done
kill -INT $pid 2>/dev/null
wait $pid
rc=$?
if [ $rc -eq 130 ] && grep -q 'stopped' "$T/err" && [ ! -e "$T/big_out" ]; then
	pass convert_sigint_removes_output
elif [ $rc -eq 0 ]; then
	echo "SKIP convert_sigint_removes_output: the conversion finished before the signal"
else
	fail convert_sigint_removes_output "rc=$rc $(ls -A "$T/big_out" 2>&1) $(head -c 300 "$T/err")"
fi
