#!/bin/sh
# End-to-end tests of tools/synth-checkpoint on the DeepSeek shapes and on three dense
# ones (qwen2-1.5b BF16, llama3-8b with tied embeddings, qwen3-8b FP8), all shrunk with
# --set (a few MB, so the script takes seconds): the index maps every tensor of every
# shard exactly once and names only shards that exist, each header's offsets agree with
# the dtypes and shapes; a dense checkpoint holds exactly the tensors of its Hugging Face
# family (names, dtypes, shapes); ponder loads the result, `ponder info` reports the
# asked shape and `ponder logits` gives finite, varied values; the same seed writes the
# same bytes and another seed other weights; bad arguments fail naming the problem
# without leaving a folder behind; a non-empty OUT_DIR is refused untouched; a write
# that fails (a file size limit, standing in for a full disk) removes what was written.
# A ponder that does not run the dense families yet (refused by its config checks) makes
# their part print SKIP lines saying so. Prints PASS / FAIL / SKIP lines for tests/run.sh.
# SYNTH names another build of the tool (default tools/synth-checkpoint).
. tests/lib_e2e.sh
e2e_begin e2e_synth_checkpoint jq od
SYNTH=${SYNTH:-$PWD/tools/synth-checkpoint}

# The tiny shapes: real layer structure and head dimensions, small widths and counts.
# The demo tokenizer (512 ids) must fit vocab_size.
SMALL="--set hidden_size=256 --set intermediate_size=512 --set moe_intermediate_size=128
 --set num_attention_heads=4 --set num_key_value_heads=4 --set kv_lora_rank=64"
V2="--layers 2 $SMALL --set n_routed_experts=8 --set num_experts_per_tok=2
 --set vocab_size=1024"
V3="--shape v3 --layers 2 --mtp $SMALL --set n_routed_experts=16 --set q_lora_rank=96
 --set vocab_size=640 --shard-mb 1"

# The first run builds the tool if needed; from another folder, with a relative OUT_DIR.
# Without both checkpoints the checks below have nothing to look at.
# shellcheck disable=SC2086 # the option lists split on purpose
(cd "$T" && "$SYNTH" $V2 v2) >"$T/out" 2>"$T/err"
rc=$?
if [ $rc -eq 0 ] && [ -f "$T/v2/config.json" ] && grep -q 'v2-lite, 2 layers' "$T/out"; then
	pass synth_v2_lite
else
	fail synth_v2_lite "rc=$rc $(head -c 600 "$T/err")"
	exit 1
fi
# shellcheck disable=SC2086
"$SYNTH" $V3 "$T/v3" >"$T/out" 2>"$T/err"
rc=$?
if [ $rc -eq 0 ] && [ -f "$T/v3/config.json" ]; then
	pass synth_v3
else
	fail synth_v3 "rc=$rc $(head -c 600 "$T/err")"
	exit 1
fi

# The JSON header of a safetensors file: an 8-byte little-endian length (od reads it in
# the host's order: x86 and ARM are little-endian), then that many bytes.
st_header() { # file
	n=$(od -An -t u8 -N 8 "$1" | tr -d ' ')
	tail -c +9 "$1" | head -c "$n"
}

# Index against shards, both ways: "tensor shard" lines from every shard's header equal
# those of weight_map, no tensor is in two shards, and weight_map names no other file.
# In each shard the tensors tile the data exactly (sizes from dtype and shape), and
# total_size is their sum.
check_layout() { # dir name
	d=$1 why=
	: >"$T/from_shards"
	data=0
	for f in "$d"/model-*.safetensors; do
		b=${f##*/}
		st_header "$f" >"$T/hdr" || why="$why; no header in $b"
		jq -r --arg f "$b" 'del(.__metadata__) | keys[] | "\(.) \($f)"' "$T/hdr" \
			>>"$T/from_shards"
		hlen=$(od -An -t u8 -N 8 "$f" | tr -d ' ')
		size=$(wc -c <"$f")
		if ! jq -e --argjson n $((size - 8 - hlen)) '
			del(.__metadata__) | [.[]] | sort_by(.data_offsets[0])
			| (.[0].data_offsets[0] == 0) and (.[-1].data_offsets[1] == $n)
			and ([range(1; length) as $i | .[$i].data_offsets[0] == .[$i - 1].data_offsets[1]]
			     | all)
			and (map((.shape | reduce .[] as $x (1; . * $x))
				 * {"F8_E4M3": 1, "BF16": 2, "F32": 4}[.dtype]
				 == .data_offsets[1] - .data_offsets[0]) | all)' "$T/hdr" >/dev/null; then
			why="$why; $b: offsets do not tile its $((size - 8 - hlen)) data bytes"
		fi
		data=$((data + size - 8 - hlen))
	done
	sort "$T/from_shards" >"$T/a"
	jq -r '.weight_map | to_entries[] | "\(.key) \(.value)"' \
		"$d/model.safetensors.index.json" | sort >"$T/b"
	cmp -s "$T/a" "$T/b" ||
		why="$why; weight_map and the shards differ: $(diff "$T/a" "$T/b" | head -5)"
	dup=$(cut -d' ' -f1 "$T/a" | uniq -d | head -3)
	[ -z "$dup" ] || why="$why; in two shards: $dup"
	total=$(jq .metadata.total_size "$d/model.safetensors.index.json")
	[ "$total" = "$data" ] || why="$why; total_size $total, data bytes $data"
	[ -s "$T/a" ] || why="$why; no tensors"
	if [ -z "$why" ]; then pass "synth_layout_$2"; else fail "synth_layout_$2" "${why#; }"; fi
}
check_layout "$T/v2" v2
check_layout "$T/v3" v3

# ponder loads each and reports the shape asked for.
check_info() { # dir name jq-condition
	if $BIN info -m "$1" --json >"$T/info.json" 2>"$T/err" &&
	   jq -e "$3" "$T/info.json" >/dev/null; then
		pass "synth_info_$2"
	else
		fail "synth_info_$2" "$(head -c 300 "$T/err") $(jq -c . "$T/info.json" 2>/dev/null | head -c 900)"
	fi
}
shards=$(jq '[.weight_map[]] | unique | length' "$T/v3/model.safetensors.index.json")
check_info "$T/v2" v2 '.architecture == "DeepseekV2ForCausalLM" and .num_hidden_layers == 2
	and .dense_layers == 1 and .moe_layers == 1 and .mtp_layers == 0 and .hidden_size == 256
	and .experts.routed == 8 and .experts.shared == 2 and .experts.per_token == 2
	and .experts.scoring_func == "softmax" and .q_lora_rank == null and .kv_lora_rank == 64
	and .vocab_size == 1024 and .fp8 and .shards == 1'
check_info "$T/v3" v3 ".architecture == \"DeepseekV3ForCausalLM\" and .num_hidden_layers == 2
	and .dense_layers == 1 and .moe_layers == 1 and .mtp_layers == 1 and .mtp_weights_present
	and .hidden_size == 256 and .experts.routed == 16 and .experts.per_token == 8
	and .experts.n_group == 8 and .experts.scoring_func == \"sigmoid\" and .q_lora_rank == 96
	and .vocab_size == 640 and .fp8 and .shards == $shards and .shards >= 3"
if $BIN info -m "$T/v3" 2>/dev/null |
   grep -q '^layers  *2: 1 dense, 1 MoE; + 1 MTP layer (weights present)'; then
	pass synth_info_text
else
	fail synth_info_text "$($BIN info -m "$T/v3" 2>&1 | head -5)"
fi

# Logits: finite (ponder prints nan/inf as words, which jq rejects), of vocab width, and
# not flat: random weights must reach the output.
check_logits() { # dir name vocab jq-extra args...
	d=$1 name=$2 vocab=$3 extra=$4
	shift 4
	if $BIN logits -m "$d" -t 1 --ids 1,5,9,200,17 "$@" >"$T/logits" 2>"$T/err" &&
	   jq -e --argjson v "$vocab" '(.logits | length == 5)
		and ([.logits[] | length == $v] | all)
		and ([.logits[][] | isinfinite or isnan] | any | not)
		and ([.logits[4][]] | max - min > 0.1)'"$extra" "$T/logits" >/dev/null; then
		pass "synth_logits_$name"
	else
		fail "synth_logits_$name" "$(head -c 300 "$T/err") $(head -c 300 "$T/logits")"
	fi
}
check_logits "$T/v2" v2 1024 ''
check_logits "$T/v3" v3 640 ' and (.mtp_logits | length == 4)
	and ([.mtp_logits[][] | isinfinite or isnan] | any | not)' --mtp

# Same seed, same bytes (every file); another seed, other weights in the same layout.
# shellcheck disable=SC2086
"$SYNTH" $V3 "$T/again" >/dev/null 2>&1
# shellcheck disable=SC2086
"$SYNTH" $V3 --seed 7 "$T/seed7" >/dev/null 2>&1
same=yes
for f in "$T"/v3/*; do cmp -s "$f" "$T/again/${f##*/}" || same="no: ${f##*/}"; done
[ "$(ls "$T/v3")" = "$(ls "$T/again")" ] || same="no: other files"
if [ "$same" = yes ]; then pass synth_same_seed_same_bytes
else fail synth_same_seed_same_bytes "$same"; fi
differ=0
for f in "$T"/v3/model-*.safetensors; do
	cmp -s "$f" "$T/seed7/${f##*/}" || differ=$((differ + 1))
done
if [ "$differ" -eq "$shards" ] &&
   cmp -s "$T/v3/model.safetensors.index.json" "$T/seed7/model.safetensors.index.json"; then
	pass synth_other_seed_other_weights
else
	fail synth_other_seed_other_weights "$differ of $shards shards differ"
fi

# Bad arguments: non-zero, a message naming the problem, nothing created.
bad() { # name word args...
	name=$1 word=$2
	shift 2
	"$SYNTH" "$@" >"$T/out" 2>"$T/err"
	rc=$?
	if [ $rc -ne 0 ] && grep -q -- "$word" "$T/err" && [ ! -e "$T/bad" ]; then
		pass "synth_rejects_$name"
	else
		fail "synth_rejects_$name" "rc=$rc $(head -c 300 "$T/err")"
	fi
	rm -rf "$T/bad"
}
bad unknown_shape "unknown --shape 'v9'" --shape v9 "$T/bad"
bad unknown_set_key "--set no_such_key" --set no_such_key=3 "$T/bad"
bad set_not_integer "--set rope_theta" --set rope_theta=5 "$T/bad"
bad set_not_a_number "got '12x'" --set hidden_size=12x "$T/bad"
bad unknown_option "unknown option '--frobnicate'" --frobnicate "$T/bad"
bad missing_out "no OUT_DIR" --layers 2
bad layers_zero "--layers must be at least 1" --layers 0 "$T/bad"
bad shape_ponder_refuses "n_group" --shape v3 --set n_routed_experts=12 "$T/bad"
bad vocab_under_tokenizer "more than vocab_size 100" --set vocab_size=100 "$T/bad"
bad no_tokenizer "tokenizer" --tokenizer "$T/nowhere" "$T/bad"

# A non-empty OUT_DIR is refused and left as it was.
mkdir "$T/full" && echo keep >"$T/full/notes"
# shellcheck disable=SC2086
"$SYNTH" $V2 "$T/full" >/dev/null 2>"$T/err"
rc=$?
if [ $rc -ne 0 ] && grep -q 'not empty' "$T/err" && [ "$(ls "$T/full")" = notes ]; then
	pass synth_refuses_nonempty_out
else
	fail synth_refuses_nonempty_out "rc=$rc $(ls "$T/full") $(head -c 300 "$T/err")"
fi

# A write that fails half-way leaves nothing that looks like a checkpoint: the folder it
# made is gone, and an empty folder it was given is empty again. The single-shard tiny V3
# is about 6 MB; the limit (2048 blocks of 512 or 1024 bytes, by shell) stops it first.
mkdir "$T/given"
for out in made given; do
	# shellcheck disable=SC2086
	(ulimit -f 2048 && "$SYNTH" $V3 --shard-mb 100 "$T/$out") >/dev/null 2>"$T/err"
	rc=$?
	if [ $out = made ]; then left=$(ls -d "$T/made" 2>/dev/null); else left=$(ls "$T/given"); fi
	if [ $rc -ne 0 ] && grep -q 'writing .* failed' "$T/err" && [ -z "$left" ]; then
		pass "synth_failed_write_removed_$out"
	else
		fail "synth_failed_write_removed_$out" "rc=$rc $(ls "$T/$out" 2>&1) $(head -c 300 "$T/err")"
	fi
done

# ---- dense shapes ---------------------------------------------------------------------
# Each shrunk to 2 layers of width 256, 4 query heads of 64 over 2 key/value heads.
DSMALL="--layers 2 --set hidden_size=256 --set intermediate_size=512
 --set num_attention_heads=4 --set num_key_value_heads=2 --set vocab_size=1024"
# shellcheck disable=SC2086
bad dense_mtp "--mtp: a DeepSeek option" --shape qwen2-1.5b --mtp $DSMALL "$T/bad"
# shellcheck disable=SC2086
bad dense_dense "--dense: a DeepSeek option" --shape llama3-8b --dense 1 $DSMALL "$T/bad"
# shellcheck disable=SC2086
bad set_bool_not_0_1 "tie_word_embeddings: a boolean, 0 or 1" --shape qwen2-1.5b \
	--set tie_word_embeddings=2 $DSMALL "$T/bad"

# The tensors a dense checkpoint must hold, "name dtype shape" sorted: Hugging Face's names
# for the family; FP8 matrices with F32 128x128 scale blocks, all else BF16.
dense_expect() { # family fp8 tied
	dense_tensors "$@" | LC_ALL=C sort
}
dense_tensors() { # family fp8 tied
	fam=$1 fp8=$2 tied=$3
	mat() { # name rows cols
		if [ "$fp8" = 1 ]; then
			echo "$1.weight F8_E4M3 $2x$3"
			echo "$1.weight_scale_inv F32 $((($2 + 127) / 128))x$((($3 + 127) / 128))"
		else
			echo "$1.weight BF16 $2x$3"
		fi
	}
	echo "model.embed_tokens.weight BF16 1024x256"
	echo "model.norm.weight BF16 256"
	[ "$tied" = 1 ] || echo "lm_head.weight BF16 1024x256"
	for l in 0 1; do
		p=model.layers.$l
		echo "$p.input_layernorm.weight BF16 256"
		echo "$p.post_attention_layernorm.weight BF16 256"
		mat "$p.self_attn.q_proj" 256 256
		mat "$p.self_attn.k_proj" 128 256
		mat "$p.self_attn.v_proj" 128 256
		mat "$p.self_attn.o_proj" 256 256
		mat "$p.mlp.gate_proj" 512 256
		mat "$p.mlp.up_proj" 512 256
		mat "$p.mlp.down_proj" 256 512
		if [ "$fam" = qwen2 ]; then
			echo "$p.self_attn.q_proj.bias BF16 256"
			echo "$p.self_attn.k_proj.bias BF16 128"
			echo "$p.self_attn.v_proj.bias BF16 128"
		fi
		if [ "$fam" = qwen3 ]; then
			echo "$p.self_attn.q_norm.weight BF16 64"
			echo "$p.self_attn.k_norm.weight BF16 64"
		fi
	done
}

# "name dtype shape" of every tensor in dir's shards, sorted.
dense_actual() { # dir
	for f in "$1"/model-*.safetensors; do
		st_header "$f" | jq -r 'del(.__metadata__) | to_entries[]
			| "\(.key) \(.value.dtype) \(.value.shape | map(tostring) | join("x"))"'
	done | LC_ALL=C sort
}

# One dense shape: generate, then its layout, tensors and config.json, then ponder on it.
# Until ponder's config checks take the family, the tool refuses it and the rest is SKIP.
dense_case() { # name shape family fp8 tied arch jq-config args...
	name=$1 shape=$2 fam=$3 fp8=$4 tied=$5 arch=$6 cond=$7
	shift 7
	# shellcheck disable=SC2086
	"$SYNTH" --shape "$shape" $DSMALL "$@" "$T/$name" >"$T/out" 2>"$T/err"
	rc=$?
	if [ $rc -ne 0 ] && grep -q "ponder would not load this config.json: architecture" "$T/err"; then
		echo "SKIP synth_dense_$name: this ponder does not run $arch yet ($(head -c 200 "$T/err" | head -1))"
		return
	fi
	if [ $rc -ne 0 ] || ! grep -q "$shape, 2 layers" "$T/out"; then
		fail "synth_dense_$name" "rc=$rc $(head -c 600 "$T/err")"
		return
	fi
	pass "synth_dense_$name"
	check_layout "$T/$name" "$name"
	dense_expect "$fam" "$fp8" "$tied" >"$T/want"
	dense_actual "$T/$name" >"$T/got"
	if cmp -s "$T/want" "$T/got"; then
		pass "synth_dense_tensors_$name"
	else
		fail "synth_dense_tensors_$name" "$(diff "$T/want" "$T/got" | head -8 | tr '\n' ';')"
	fi
	if jq -e --arg a "$arch" ".architectures == [\$a] and .num_hidden_layers == 2
		and .hidden_size == 256 and $cond" "$T/$name/config.json" >/dev/null; then
		pass "synth_dense_config_$name"
	else
		fail "synth_dense_config_$name" "$(jq -c . "$T/$name/config.json" | head -c 600)"
	fi
	# ponder on it: SKIP while `ponder info` refuses the architecture.
	if ! $BIN info -m "$T/$name" >/dev/null 2>"$T/err" &&
	   grep -q "not supported" "$T/err"; then
		echo "SKIP synth_dense_ponder_$name: ponder info refuses $arch ($(head -1 "$T/err" | head -c 160))"
		return
	fi
	check_info "$T/$name" "dense_$name" ".architecture == \"$arch\" and .num_hidden_layers == 2
		and .hidden_size == 256 and .vocab_size == 1024"
	check_logits "$T/$name" "dense_$name" 1024 ''
}
dense_case qwen2 qwen2-1.5b qwen2 0 0 Qwen2ForCausalLM \
	'(.quantization_config == null) and (.tie_word_embeddings == false)
	 and .max_window_layers == 21 and .use_sliding_window == false'
dense_case llama3 llama3-8b llama 0 1 LlamaForCausalLM \
	'.tie_word_embeddings == true and .rope_scaling.rope_type == "llama3"
	 and .rope_theta == 500000' --set tie_word_embeddings=1
dense_case qwen3 qwen3-8b qwen3 1 0 Qwen3ForCausalLM \
	'.head_dim == 64 and .rope_scaling.rope_type == "yarn"
	 and .quantization_config.weight_block_size == [128, 128]' \
	--set head_dim=64 --fp8 --shard-mb 1
