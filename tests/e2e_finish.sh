#!/bin/sh
# How a reply ended is never silent: an answer cut at --max-tokens says so on stderr in
# pipe mode, has finish_reason "length" in --json / --jsonl / --batch (and "stop"
# otherwise), and is stored with status "length". --batch lines name their prompt.
# Prints PASS / FAIL / SKIP lines for tests/run.sh.
. tests/lib_e2e.sh
e2e_begin e2e_finish jq
P="$BIN -m $MODEL -t 1"
Q="What is 1234 + 4321?"

# Plain text: one line on stderr when cut short, none when the answer ended by itself.
$P --max-tokens 3 "$Q" </dev/null >"$T/out" 2>"$T/err"
rc=$?
$P "$Q" </dev/null >"$T/out2" 2>"$T/err2"
if [ $rc -eq 0 ] && [ "$(wc -l <"$T/err")" -eq 1 ] &&
   grep -qx 'ponder: stopped at --max-tokens 3; the answer is cut short' "$T/err" &&
   [ ! -s "$T/err2" ]; then echo "PASS finish_length_said_on_stderr"
else echo "FAIL finish_length_said_on_stderr: rc=$rc err=$(cat "$T/err") / $(cat "$T/err2")"; fi

# --json and --jsonl: "length" when cut, "stop" when not.
$P --max-tokens 3 --json "$Q" </dev/null >"$T/j1" 2>/dev/null
$P --json "$Q" </dev/null >"$T/j2" 2>/dev/null
$P --max-tokens 3 --jsonl "$Q" </dev/null >"$T/j3" 2>/dev/null
if [ "$(jq -r .finish_reason "$T/j1")" = length ] && [ "$(jq -r .finish_reason "$T/j2")" = stop ] &&
   [ "$(jq -r 'select(.type == "done") | .finish_reason' "$T/j3")" = length ]; then
	echo "PASS finish_reason_json"
else echo "FAIL finish_reason_json: $(head -c 200 "$T/j1") / $(head -c 200 "$T/j2")"; fi

# The history marks the cut reply "length", in show --json and in the Markdown export.
cid=$(jq -r .conversation_id "$T/j1")
status=$($BIN history show "$cid" --json 2>/dev/null | jq -r '.messages[-1].status')
$BIN history export "$cid" >"$T/md" 2>/dev/null
if [ "$status" = length ] && grep -q 'cut short' "$T/md"; then echo "PASS finish_length_in_history"
else echo "FAIL finish_length_in_history: status=$status $(tail -5 "$T/md")"; fi

# --batch (JSON lines by default, and with --json): each line has its prompt, its index
# and its finish_reason.
printf 'What is 1 + 1?\nWhat is 22 + 33?\n' | $P --batch --max-tokens 3 >"$T/b1" 2>/dev/null
printf 'What is 1 + 1?\nWhat is 22 + 33?\n' | $P --batch --json >"$T/b2" 2>/dev/null
if [ "$(jq -s -c '[.[] | [.index, .prompt, .finish_reason]]' "$T/b1")" = \
	'[[0,"What is 1 + 1?","length"],[1,"What is 22 + 33?","length"]]' ] &&
   [ "$(jq -s -c '[.[] | [.index, .prompt, .finish_reason]]' "$T/b2")" = \
	'[[0,"What is 1 + 1?","stop"],[1,"What is 22 + 33?","stop"]]' ]; then
	echo "PASS finish_batch_prompt_and_reason"
else echo "FAIL finish_batch_prompt_and_reason: $(cat "$T/b1" "$T/b2" | head -c 400)"; fi
exit 0
