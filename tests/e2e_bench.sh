#!/bin/sh
# End-to-end tests of `ponder bench` on the demo model (and on the shared tiny-v2lite
# and tiny-v3 checkpoints when the fixtures are there): the --json object has every figure,
# positive where it must be; the text table prints; bad arguments fail naming the
# option; and weight_bytes_per_token agrees with a count made independently from the
# safetensors headers. Small --prompt, --gen and --ctx keep each run near a second
# (most of it the bandwidth probe).
. tests/lib_e2e.sh
e2e_begin e2e_bench jq
FIXTURES=../shared/fixtures/models

# The expected weight bytes per decoded token, from the checkpoint's safetensors headers
# alone: every main-model tensor at its stored dtype; one row of the embedding; 1-D
# tensors (norms, router bias) and FP8 scales as the F32 the engine reads; routed experts
# scaled to num_experts_per_tok of n_routed_experts; MTP layers left out.
weight_bytes() { # model-dir
	python3 - "$1" <<'EOF'
import json, os, re, struct, sys
d = sys.argv[1]
cfg = json.load(open(os.path.join(d, "config.json")))
idx = os.path.join(d, "model.safetensors.index.json")
files = (sorted(set(json.load(open(idx))["weight_map"].values())) if os.path.exists(idx)
         else ["model.safetensors"])
size = {"F32": 4, "BF16": 2, "F16": 2, "F8_E4M3": 1}
L, E, K = cfg["num_hidden_layers"], cfg["n_routed_experts"], cfg["num_experts_per_tok"]
dense = experts = 0
for f in files:
    with open(os.path.join(d, f), "rb") as fh:
        hdr = json.loads(fh.read(struct.unpack("<Q", fh.read(8))[0]))
    for name, t in hdr.items():
        if name == "__metadata__":
            continue
        m = re.match(r"model\.layers\.(\d+)\.", name)
        if m and int(m.group(1)) >= L:
            continue
        n = 1
        for s in t["shape"]:
            n *= s
        if name.startswith("model.embed_tokens."):
            n = t["shape"][1]
        b = n * 4 if name.endswith("_scale_inv") or len(t["shape"]) == 1 else n * size[t["dtype"]]
        if re.search(r"\.mlp\.experts\.\d+\.", name):
            experts += b
        else:
            dense += b
print(dense + experts * K // E)
EOF
}

# Every required key, sane values, the asked threads and context; $2: a name for messages.
check_json() { # file name threads ctx
	if jq -e --argjson t "$3" --argjson c "$4" '
		(["decode_tok_s", "decode", "prefill_tok_s", "prefill_tokens", "bytes_per_token",
		  "weight_bytes_per_token", "probe_gb_s", "probe_gb_s_1t", "threads",
		  "faults_per_token", "rss_bytes", "mtp_verify_cost", "kernels", "cpu", "model"]
		 - keys | length == 0)
		and .decode_tok_s > 0 and .prefill_tok_s > 0 and .prefill_tokens == 32
		and .probe_gb_s > 0 and .probe_gb_s_1t > 0 and .rss_bytes > 0
		and .mtp_verify_cost > 0 and .faults_per_token >= 0
		and .threads == $t and .weight_bytes_per_token > 0
		and .bytes_per_token >= .weight_bytes_per_token
		and (.kernels | length > 0) and (.cpu | length > 0)
		and (.decode | length == 1) and .decode[0].ctx == $c
		and (.decode[0] | .tok_s > 0 and .gb_s > 0 and .probe_share > 0
			and .paired_probe_gb_s > 0 and .paired_probe_share > 0
			and .bytes_per_token >= 0)
		and .decode[0].tok_s == .decode_tok_s
		and .decode[0].bytes_per_token == .bytes_per_token' "$1" >/dev/null; then
		pass "bench_json_$2"
	else
		fail "bench_json_$2" "$(head -c 1500 "$1")"
	fi
}

check_weights() { # dir json name
	if ! command -v python3 >/dev/null 2>&1; then
		echo "SKIP bench_weight_bytes_$3: python3 is not installed"
		return
	fi
	want=$(weight_bytes "$1")
	got=$(jq .weight_bytes_per_token "$2")
	if [ -n "$want" ] && [ "$want" = "$got" ]; then pass "bench_weight_bytes_$3"
	else fail "bench_weight_bytes_$3" "engine $got, from the headers $want"; fi
}

B="$BIN bench --prompt 32 --gen 8 --ctx 64"

$B -m "$MODEL" -t 2 --mtp --json >"$T/demo.json" 2>"$T/err"
rc=$?
if [ $rc -eq 0 ] && [ ! -s "$T/err" ]; then
	check_json "$T/demo.json" demo 2 64
	check_weights "$MODEL" "$T/demo.json" demo
	# The demo model has an MTP module: --mtp measures speculative decoding too.
	if jq -e '.mtp_decode | .tok_s > 0 and .acceptance >= 0 and .acceptance <= 1
		and .tokens >= 8 and .ctx == 64' "$T/demo.json" >/dev/null; then pass bench_mtp
	else fail bench_mtp "$(jq -c .mtp_decode "$T/demo.json")"; fi
else
	fail bench_json_demo "rc=$rc $(head -c 300 "$T/err")"
fi

# The table: one line per figure, the decode row at the asked context.
$B -m "$MODEL" -t 1 >"$T/text" 2>"$T/err"
rc=$?
if [ $rc -eq 0 ] && grep -q '^read bandwidth .* GB/s' "$T/text" &&
   grep -q '^prefill .* tok/s' "$T/text" && grep -q '^ *64 ' "$T/text" &&
   grep -q '^MTP verify ' "$T/text" && grep -q '^weights ' "$T/text" &&
   grep -q '^kernels .*1 thread' "$T/text" && ! grep -q '^{' "$T/text"; then
	pass bench_text
else
	fail bench_text "rc=$rc $(head -c 600 "$T/text") $(head -c 200 "$T/err")"
fi

# --resume N: a re-prefill against a resume from a KV snapshot. Times are positive (a
# resume need not win on a model this small), the snapshot is the size its layout
# implies (a 256-byte header, the int32 tokens padded to 64 bytes, one cache row per
# layer and token; no MTP rows), and the temporary snapshot folder is gone afterwards.
# Without --resume none of these keys appear.
resume_check() { # model-dir name
	mkdir -p "$T/tmp-$2"
	TMPDIR="$T/tmp-$2" $B -m "$1" -t 2 --resume 256 --json >"$T/$2-resume.json" 2>"$T/err"
	rc=$?
	if [ $rc -eq 0 ] && jq -e '.resume_tokens == 256 and .resume_cold_ms > 0
		and .resume_ms > 0 and .resume_uncached_ms > 0 and .snapshot_write_ms > 0
		and (.resume_ratio - .resume_ms / .resume_cold_ms | fabs) < 1e-9
		and (.resume_logits_identical | type == "boolean")
		and (.resume_evicted | type == "boolean")
		and .resume_max_rel_diff >= 0
		and (if .resume_logits_identical then .resume_max_rel_diff == 0 else true end)
		and .snapshot_bytes == 256 + 1024 + 256 * .kv_bytes_per_position' \
		"$T/$2-resume.json" >/dev/null; then
		pass "bench_resume_$2"
	else
		fail "bench_resume_$2" "rc=$rc $(jq -c '[.kv_bytes_per_position, .resume_tokens,
			.resume_cold_ms, .resume_ms, .resume_uncached_ms, .snapshot_bytes,
			.snapshot_write_ms, .resume_logits_identical, .resume_max_rel_diff]' \
			"$T/$2-resume.json" 2>/dev/null) $(head -c 300 "$T/err")"
	fi
	if [ -z "$(ls -A "$T/tmp-$2")" ]; then pass "bench_resume_cleanup_$2"
	else fail "bench_resume_cleanup_$2" "left behind: $(ls -A "$T/tmp-$2")"; fi
}
resume_check "$MODEL" demo
if jq -e 'keys | map(select(startswith("resume") or startswith("snapshot"))) | length == 0' \
	"$T/demo.json" >/dev/null; then pass bench_resume_absent_by_default
else fail bench_resume_absent_by_default "$(jq -c keys "$T/demo.json")"; fi
for t in f32 fp8; do
	$B -m "$MODEL" -t 2 --kv-type $t --resume 64 --json >"$T/resume-$t.json" 2>"$T/err"
	if jq -e --arg t $t '.kv_type == $t and .resume_tokens == 64 and .resume_ms > 0
		and .snapshot_bytes == 256 + 256 + 64 * .kv_bytes_per_position' \
		"$T/resume-$t.json" >/dev/null; then pass "bench_resume_kv_$t"
	else fail "bench_resume_kv_$t" "$(head -c 300 "$T/err") $(jq -c '[.kv_type,
		.snapshot_bytes, .kv_bytes_per_position]' "$T/resume-$t.json" 2>/dev/null)"; fi
done
$B -m "$MODEL" -t 1 --resume 64 >"$T/text" 2>"$T/err"
rc=$?
if [ $rc -eq 0 ] && grep -q '^resume .*64-token conversation' "$T/text" &&
   grep -q '^  re-prefill .* ms' "$T/text" && grep -q '^  snapshot .* ms' "$T/text" &&
   grep -q '^  uncached .* ms' "$T/text" && grep -q '^  write .* B), fsync' "$T/text" &&
   grep -q '^  logits ' "$T/text"; then
	pass bench_resume_text
else
	fail bench_resume_text "rc=$rc $(tail -c 800 "$T/text") $(head -c 200 "$T/err")"
fi

# Bad arguments: exit 2 (3 for a model that cannot be loaded) and a message naming the
# option or the folder.
bad() { # name expected-status word args...
	name=$1 want=$2 word=$3
	shift 3
	$BIN bench "$@" >"$T/out" 2>"$T/err"
	rc=$?
	if [ $rc -eq "$want" ] && grep -q -- "$word" "$T/err" && [ ! -s "$T/out" ]; then
		pass "bench_rejects_$name"
	else
		fail "bench_rejects_$name" "rc=$rc (want $want) $(head -c 300 "$T/err")"
	fi
}
bad prompt_over_context 2 --prompt -m "$MODEL" --prompt 100000
bad prompt_not_a_number 2 --prompt -m "$MODEL" --prompt 12x
bad gen_zero 2 --gen -m "$MODEL" --gen 0
bad ctx_over_context 2 --ctx -m "$MODEL" --ctx 2040
bad threads_zero 2 --threads -m "$MODEL" -t 0
bad threads_missing 2 --threads -m "$MODEL" --threads
bad kernels_unknown 2 kernels -m "$MODEL" --kernels nosuch
bad unknown_option 2 --frobnicate -m "$MODEL" --frobnicate
bad head_unknown 2 --head -m "$MODEL" --head fp4
bad resume_over_context 2 --resume -m "$MODEL" --resume 2000
bad resume_negative 2 --resume -m "$MODEL" --resume -1
bad missing_model 3 "$T/nomodel" -m "$T/nomodel"

# The shared tiny checkpoints: BF16 DeepSeek-V2, and FP8 DeepSeek-V3 in two shards with
# an MTP layer that plain decoding must not count.
for fx in tiny-v2lite tiny-v3; do
	dir=$FIXTURES/$fx
	if [ ! -f "$dir/config.json" ]; then
		echo "SKIP bench_$fx: no $dir"
		continue
	fi
	$B -m "$dir" -t 2 --json >"$T/$fx.json" 2>"$T/err"
	rc=$?
	if [ $rc -eq 0 ]; then
		check_json "$T/$fx.json" "$fx" 2 64
		check_weights "$dir" "$T/$fx.json" "$fx"
		resume_check "$dir" "$fx"
	else
		fail "bench_json_$fx" "rc=$rc $(head -c 300 "$T/err")"
	fi
	# --head fp8: the BF16 head's vocab x hidden x 2 bytes become one byte each plus a
	# 4-byte scale per 128x128 block, and the report says so.
	$B -m "$dir" -t 2 --head fp8 --json >"$T/$fx-h8.json" 2>"$T/err"
	rc=$?
	v=$(jq .vocab_size "$dir/config.json") h=$(jq .hidden_size "$dir/config.json")
	bf=$(jq .weight_bytes_per_token "$T/$fx.json")
	want=$((bf - v * h + ((v + 127) / 128) * ((h + 127) / 128) * 4))
	if [ $rc -eq 0 ] && [ "$(jq -r .head_type "$T/$fx.json")" = bf16 ] &&
	   [ "$(jq -r .head_type "$T/$fx-h8.json")" = fp8 ] &&
	   [ "$(jq .weight_bytes_per_token "$T/$fx-h8.json")" = "$want" ]; then
		pass "bench_head_fp8_$fx"
	else
		fail "bench_head_fp8_$fx" "rc=$rc want $want: $(jq -c '[.head_type,
			.weight_bytes_per_token]' "$T/$fx-h8.json") $(head -c 300 "$T/err")"
	fi
done
if [ -f "$FIXTURES/tiny-v2lite/config.json" ]; then
	bad mtp_without_module 3 "no MTP module" -m "$FIXTURES/tiny-v2lite" --mtp
fi
