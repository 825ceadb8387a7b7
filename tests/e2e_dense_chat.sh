#!/bin/sh
# A chat with a dense model of each R1-distill family (Qwen2, Llama, Qwen3): the shared
# tiny fixtures' weights (symlinked, never copied) with the demo model's tokenizer,
# whose 512 ids fit their vocabularies. The weights are random, so the text is noise;
# what is checked is the path a real distill takes: a pipe answer that exits 0 and is
# saved, a follow-up (-c) that resumes from the KV snapshot the first turn left, with
# every --kv-type, and an unknown architecture refused with the list of supported ones.
# Prints PASS / FAIL / SKIP lines for tests/run.sh.
. tests/lib_e2e.sh
e2e_begin e2e_dense_chat
FIX=${PONDER_FIXTURES:-../shared/fixtures}/models
if [ ! -d "$FIX/tiny-qwen2" ]; then
	echo "SKIP e2e_dense_chat: no $FIX"
	exit 0
fi

# dense_dir NAME: $T/NAME = the fixture's files plus the demo tokenizer.
dense_dir() {
	mkdir -p "$T/$1"
	for f in "$FIX/$1"/*; do
		ln -s "$(cd "$(dirname "$f")" && pwd)/$(basename "$f")" "$T/$1/"
	done
	cp "$MODEL/tokenizer.json" "$MODEL/tokenizer_config.json" "$T/$1/"
}

for m in tiny-qwen2 tiny-llama3 tiny-qwen3; do
	dense_dir $m
	for kv in bf16 fp8; do
		name=${m}_$kv
		echo "What is 12 + 30?" | $BIN -m "$T/$m" --kv-type $kv --max-tokens 40 \
			--seed 7 >"$T/out" 2>"$T/err"
		rc=$?
		# --max-tokens cuts the noise short: the CLI's exit status for that is 0 or 3
		if [ $rc -ne 0 ] && [ $rc -ne 3 ]; then
			fail "${name}_pipe" "exit $rc: $(head -c 300 "$T/err")"
			continue
		fi
		pass "${name}_pipe"
		echo "And that times 2?" | $BIN -m "$T/$m" --kv-type $kv -c --max-tokens 20 \
			--seed 7 --verbose >"$T/out2" 2>"$T/err2"
		rc=$?
		if [ $rc -ne 0 ] && [ $rc -ne 3 ]; then
			fail "${name}_follow_up" "exit $rc: $(head -c 300 "$T/err2")"
		elif grep -q "resumed [0-9]* of the prompt's" "$T/err2"; then
			pass "${name}_follow_up_resumes_snapshot"
		else
			fail "${name}_follow_up_resumes_snapshot" "$(grep -i "snapshot\|resum" "$T/err2")"
		fi
	done
done

n=$($BIN history list 2>/dev/null | grep -c "12 + 30")
if [ "$n" -eq 6 ]; then pass dense_chats_saved
else fail dense_chats_saved "$n of 6 conversations in the history"; fi

mkdir -p "$T/mistral"
printf '{"architectures": ["MistralForCausalLM"], "vocab_size": 512}\n' >"$T/mistral/config.json"
cp "$MODEL/tokenizer.json" "$T/mistral/"
$BIN -m "$T/mistral" "hi" >"$T/out" 2>"$T/err"
rc=$?
if [ $rc -ne 0 ] && grep -q "MistralForCausalLM" "$T/err" &&
	grep -q "Qwen2ForCausalLM" "$T/err" && grep -q "LlamaForCausalLM" "$T/err" &&
	grep -q "Qwen3ForCausalLM" "$T/err"; then
	pass unknown_architecture_lists_supported
else
	fail unknown_architecture_lists_supported "exit $rc: $(cat "$T/err")"
fi
