#!/bin/sh
# Other checkpoint shapes of the dense families (Qwen2, Llama, Qwen3), built by
# tests/dense_variant.py from the shared tiny fixtures as exact equivalents and compared
# through `ponder logits --kv-type f32`: all tensors in one model.safetensors with no
# index gives the sharded original's logits bit for bit; a copied head and
# tie_word_embeddings with no lm_head.weight agree exactly (and differ from the
# original); one kv head (GQA) and kv head 0 repeated per head (MHA) agree to 1e-5 of
# each row's largest logit; eos_token_id as a list loads and changes nothing. Bad
# variants (kv heads not dividing the heads, a missing k_norm, a bias the config does
# not announce, sliding-window layers, dynamic RoPE) fail naming the field or tensor.
# Variants are written under a temporary folder removed at exit; the fixtures are only
# read. Without ../shared/fixtures (or PONDER_FIXTURES) it prints SKIP lines.
# Prints PASS / FAIL / SKIP lines for tests/run.sh.
. tests/lib_e2e.sh
FIX=${PONDER_FIXTURES:-../shared/fixtures}/models
if [ ! -d "$FIX" ]; then
	echo "SKIP e2e_dense_shapes: no $FIX"
	exit 0
fi
if ! command -v python3 >/dev/null 2>&1; then
	echo "SKIP e2e_dense_shapes: python3 is not installed"
	exit 0
fi
T=$(mktemp -d) || exit 1
trap 'rm -rf "$T"' EXIT
VAR="python3 tests/dense_variant.py"
IDS=0,17,5,300,42,767,1,255,128,64,3,9
failed=0
ok() { pass "$1"; }
ko() { fail "$1" "$2"; failed=1; }

# logits DIR OUT: OUT holds the JSON, OUT.err what went to stderr; the exit status.
logits() {
	$BIN logits -m "$1" --ids $IDS --kv-type f32 -t 2 >"$2" 2>"$2.err"
}
# build NAME SRC EDITS...: the variant in $T/NAME; a failed build is a failed check.
build() {
	name=$1 src=$2
	shift 2
	if ! $VAR build "$src" "$T/$name" "$@" 2>"$T/$name.build.err"; then
		ko "build_$name" "$(head -c 400 "$T/$name.build.err")"
		return 1
	fi
}
# same NAME A.json B.json MODE...: PASS NAME when dense_variant.py cmp says so.
same() {
	name=$1 a=$2 b=$3
	shift 3
	if why=$($VAR cmp "$a" "$b" "$@" 2>&1); then ok "$name"
	else ko "$name" "$why"; fi
}

for fx in tiny-qwen2 tiny-llama3 tiny-qwen3; do
	src=$FIX/$fx
	if [ ! -f "$src/config.json" ]; then
		echo "SKIP dense_shapes_$fx: no $src"
		continue
	fi
	if ! logits "$src" "$T/$fx.json"; then
		ko "logits_$fx" "$(head -c 400 "$T/$fx.json.err")"
		continue
	fi

	# 1. Every tensor in one model.safetensors, no index: the same bytes out.
	if build "$fx-one" "$src" --single; then
		if [ -e "$T/$fx-one/model.safetensors.index.json" ]; then
			ko "single_file_$fx" "the variant has an index"
		elif ! logits "$T/$fx-one" "$T/$fx-one.json"; then
			ko "single_file_$fx" "$(head -c 400 "$T/$fx-one.json.err")"
		elif cmp -s "$T/$fx.json" "$T/$fx-one.json"; then
			ok "single_file_$fx"
		else
			ko "single_file_$fx" "$($VAR cmp "$T/$fx.json" "$T/$fx-one.json" --exact)"
		fi
	fi

	# 2. Tied embeddings: the head as a copy of the embedding (A) and as the embedding
	# itself by tie_word_embeddings with no lm_head.weight (B).
	if build "$fx-tieA" "$src" --tie-copy &&
	   build "$fx-tieB" "$src" --drop '^lm_head\.weight$' --set tie_word_embeddings=true; then
		if ! logits "$T/$fx-tieA" "$T/$fx-tieA.json"; then
			ko "tied_copy_$fx" "$(head -c 400 "$T/$fx-tieA.json.err")"
		elif ! logits "$T/$fx-tieB" "$T/$fx-tieB.json"; then
			ko "tied_embeddings_$fx" "$(head -c 400 "$T/$fx-tieB.json.err")"
		else
			same "tied_equals_copied_head_$fx" "$T/$fx-tieA.json" "$T/$fx-tieB.json" --exact
			same "tied_head_changes_logits_$fx" "$T/$fx.json" "$T/$fx-tieA.json" --differ
		fi
	fi

	# 3. One kv head shared by all four query heads (G) against kv head 0 repeated for
	# each (M): the same attention, through the grouped and the plain path. info reports
	# the new count; G differs from the original (the edit took).
	if build "$fx-kv1" "$src" --kv-heads 1 && build "$fx-kv4" "$src" --kv-heads 4; then
		if ! logits "$T/$fx-kv1" "$T/$fx-kv1.json"; then
			ko "kv_heads_1_$fx" "$(head -c 400 "$T/$fx-kv1.json.err")"
		elif ! logits "$T/$fx-kv4" "$T/$fx-kv4.json"; then
			ko "kv_heads_4_$fx" "$(head -c 400 "$T/$fx-kv4.json.err")"
		else
			same "gqa_1_kv_head_equals_mha_$fx" "$T/$fx-kv1.json" "$T/$fx-kv4.json" --rel 1e-5
			same "kv_head_edit_changes_logits_$fx" "$T/$fx.json" "$T/$fx-kv1.json" --differ
		fi
		k1=$($BIN info -m "$T/$fx-kv1" --json 2>/dev/null | python3 -c \
			'import json,sys; print(json.load(sys.stdin)["num_key_value_heads"])' 2>/dev/null)
		k4=$($BIN info -m "$T/$fx-kv4" --json 2>/dev/null | python3 -c \
			'import json,sys; print(json.load(sys.stdin)["num_key_value_heads"])' 2>/dev/null)
		if [ "$k1" = 1 ] && [ "$k4" = 4 ]; then ok "info_kv_heads_$fx"
		else ko "info_kv_heads_$fx" "info says $k1 and $k4, want 1 and 4"; fi
	fi

	# 4. eos_token_id as a list: info loads it, logits are unchanged.
	if build "$fx-eos" "$src" --set 'eos_token_id=[1, 2]'; then
		if ! $BIN info -m "$T/$fx-eos" --json >"$T/$fx-eos.info" 2>&1 ||
		   ! python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/$fx-eos.info" \
			2>/dev/null; then
			ko "eos_list_info_$fx" "$(head -c 400 "$T/$fx-eos.info")"
		else
			ok "eos_list_info_$fx"
		fi
		if ! logits "$T/$fx-eos" "$T/$fx-eos.json"; then
			ko "eos_list_logits_$fx" "$(head -c 400 "$T/$fx-eos.json.err")"
		elif cmp -s "$T/$fx.json" "$T/$fx-eos.json"; then
			ok "eos_list_logits_$fx"
		else
			ko "eos_list_logits_$fx" "$($VAR cmp "$T/$fx.json" "$T/$fx-eos.json" --exact)"
		fi
	fi
done

# 5. Refused variants: `ponder logits` exits non-zero (not by a signal) with a message
# matching WANT (an extended regular expression naming the field or tensor).
# refuse NAME WANT SRC EDITS...
refuse() {
	name=$1 want=$2 src=$3
	shift 3
	if [ ! -f "$src/config.json" ]; then
		echo "SKIP refuse_$name: no $src"
		return
	fi
	build "$name" "$src" "$@" || return
	logits "$T/$name" "$T/$name.json"
	rc=$?
	msg=$(head -c 400 "$T/$name.json.err")
	if [ $rc -eq 0 ]; then
		ko "refuse_$name" "exit status 0, logits printed"
	elif [ $rc -ge 128 ]; then
		ko "refuse_$name" "killed by a signal (status $rc): $msg"
	elif ! grep -Eq "$want" "$T/$name.json.err"; then
		ko "refuse_$name" "message does not match /$want/: $msg"
	else
		ok "refuse_$name"
	fi
}
refuse kv_heads_3_of_4 'num_key_value_heads' "$FIX/tiny-qwen2" --set num_key_value_heads=3
refuse qwen3_no_k_norm 'k_norm' "$FIX/tiny-qwen3" --drop 'layers\.1\.self_attn\.k_norm\.weight$'
refuse llama_bias_attention_bias_false 'q_proj\.bias|attention_bias' "$FIX/tiny-llama3" \
	--add-bias q_proj
refuse llama_bias_config_silent 'q_proj\.bias|attention_bias' "$FIX/tiny-llama3" \
	--add-bias q_proj --unset attention_bias
refuse qwen2_sliding_window 'sliding_window|max_window_layers' "$FIX/tiny-qwen2" \
	--set use_sliding_window=true --set max_window_layers=1
refuse rope_dynamic 'dynamic' "$FIX/tiny-qwen2" \
	--set 'rope_scaling={"rope_type": "dynamic", "factor": 2}'
exit $failed
