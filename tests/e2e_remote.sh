#!/bin/sh
# ponder --remote in pipe mode and the interface, against tests/fake_openai.py (each
# scenario picked by the model name asked for) and against ponder serve:
#  - the round trip through ponder serve is byte-identical to the same model in process
#    at temperature 0, and history stores the server's model and figures;
#  - a reply split by a reasoning field, and one with <think> tags in its content, land
#    in the right channels;
#  - each failure is one line, exit status 6 (4 for the context), and text that arrived
#    is kept in history as an interrupted reply;
#  - SIGINT during a slow stream: 130, partial reply saved as interrupted;
#  - -m with --remote is a usage error; [remote] in the config file works; options for
#    the local engine say they do nothing;
#  - the interface (tmux) shows a remote reply and its model.
# Every wait is bounded; the servers are killed on exit.
. tests/lib_e2e.sh
e2e_begin remote python3 jq

fake_pid= serve_pid=
cleanup() {
	[ -n "$fake_pid" ] && kill "$fake_pid" 2>/dev/null
	[ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null
	tmux -L ponder_remote_e2e kill-server 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

python3 tests/fake_openai.py --port 0 --port-file "$T/fake.port" --record "$T/rec.json" \
	2>"$T/fake.err" &
fake_pid=$!
i=0
while [ ! -s "$T/fake.port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
if [ ! -s "$T/fake.port" ]; then
	fail remote_fake_server "tests/fake_openai.py did not start: $(cat "$T/fake.err")"
	exit 0
fi
FAKE=http://127.0.0.1:$(cat "$T/fake.port")

# remote NAME MODEL [ARGS...]: pipe mode against the fake server; sets rc, out, err.
remote() {
	_model=$1
	shift
	timeout 30 "$BIN" --remote "$FAKE" --remote-model "$_model" "$@" >"$T/out" 2>"$T/err"
	rc=$?
	out=$(cat "$T/out")
	err=$(cat "$T/err")
}

# --- channels and stored figures ---
remote vllm --json "What is 2 + 2?"
if [ $rc -eq 0 ] && [ "$(jq -r .reasoning "$T/out")" = "Two plus two is four." ] &&
	[ "$(jq -r .answer "$T/out")" = "The answer is **4**." ] &&
	[ "$(jq -r .usage.reasoning_tokens "$T/out")" = 20 ] &&
	[ "$(jq -r .usage.answer_tokens "$T/out")" = 10 ] &&
	[ "$(jq -r .model "$T/out")" = vllm ]; then
	pass remote_reasoning_field
else
	fail remote_reasoning_field "rc $rc: $out $err"
fi
cid=$(jq -r .conversation_id "$T/out")
stats=$("$BIN" history show "$cid" --json 2>&1 | jq -c '.messages[1] | [.model, .stats.prompt_tokens, .stats.reasoning_tokens, (.stats.time_to_first_token_ms > 0)]')
if [ "$stats" = '["vllm",12,20,true]' ]; then
	pass remote_history_figures
else
	fail remote_history_figures "$stats"
fi

remote think --reasoning=inline "six times seven?"
if [ $rc -eq 0 ] && [ "$out" = "$(printf '<think>\nHmm, six times seven.\n</think>\n\n42.')" ] &&
	printf '%s' "$err" | grep -q "cut short"; then
	pass remote_think_tags_in_content
else
	fail remote_think_tags_in_content "rc $rc: [$out] $err"
fi

remote split --json "hi"
if [ $rc -eq 0 ] && [ "$(jq -r .reasoning "$T/out")" = "Grüße, 世界 🙂" ] &&
	[ "$(jq -r .answer "$T/out")" = "naïve — ok ✓" ]; then
	pass remote_split_utf8
else
	fail remote_split_utf8 "rc $rc: $out $err"
fi

# --- failures: one line, status 6, partial text kept ---
check_error() { # NAME MODEL WORDS STATUS
	remote "$2" "hello"
	lines=$(printf '%s\n' "$err" | grep -c .)
	if [ $rc -eq "$4" ] && printf '%s' "$err" | grep -q "$3" && [ "$lines" -eq 1 ]; then
		pass "$1"
	else
		fail "$1" "rc $rc (want $4), $lines lines: $err"
	fi
}
check_error remote_error_401 unauth "API key" 6
check_error remote_error_404 nomodel "not" 6
check_error remote_error_429 ratelimit "retry after 7" 6
check_error remote_error_500 boom "500" 6
check_error remote_error_context toolong "context" 4
check_error remote_error_not_sse html "event" 6
check_error remote_error_bad_json badjson "JSON" 6
check_error remote_error_cut cut "mid-answer\|closed" 6
stored=$("$BIN" history list --json 2>/dev/null | jq -r '.[0].id')
kept=$("$BIN" history show "$stored" --reasoning --json | jq -r '.messages[1] | [.status, .reasoning, .content] | join("|")')
case "$kept" in
interrupted\|Thinking\|Partial\ an*) pass remote_error_keeps_partial_text ;;
*) fail remote_error_keeps_partial_text "$kept" ;;
esac
timeout 10 "$BIN" --remote "http://127.0.0.1:1" "hi" >/dev/null 2>"$T/err"
rc=$?
if [ $rc -eq 6 ] && grep -q "refused" "$T/err"; then
	pass remote_error_refused
else
	fail remote_error_refused "rc $rc: $(cat "$T/err")"
fi

# --- SIGINT during a slow stream ---
"$BIN" --remote "$FAKE" --remote-model slow "count" >"$T/out" 2>"$T/err" &
pid=$!
sleep 1
kill -INT $pid
wait_end $pid 5
last=$("$BIN" history show "$("$BIN" history list --json | jq -r '.[0].id')" --json |
	jq -r '.messages[1] | [.status, (.content | startswith("tick 0"))] | join(" ")')
if [ $rc -eq 130 ] && [ "$last" = "interrupted true" ]; then
	pass remote_sigint_keeps_partial
else
	fail remote_sigint_keeps_partial "rc $rc, stored: $last, $(cat "$T/err")"
fi

# --- options ---
timeout 10 "$BIN" -m models/demo --remote "$FAKE" "hi" >/dev/null 2>"$T/err"
rc=$?
if [ $rc -eq 2 ] && grep -q "both" "$T/err"; then
	pass remote_and_model_refused
else
	fail remote_and_model_refused "rc $rc: $(cat "$T/err")"
fi
remote vllm -t 2 --head fp8 --ctx 100 -t 1 "hi"
if [ $rc -eq 0 ] && printf '%s' "$err" | grep -q -- "--threads, --head, --ctx: .*do nothing with --remote"; then
	pass remote_local_options_noted
else
	fail remote_local_options_noted "rc $rc: $err"
fi
mkdir -p "$XDG_CONFIG_HOME/ponder"
printf '[remote]\nurl = %s\nmodel = vllm\napi_key_env = E2E_KEY\n' "$FAKE" \
	>"$XDG_CONFIG_HOME/ponder/config"
E2E_KEY=sekret timeout 30 "$BIN" "hi" >"$T/out" 2>"$T/err"
rc=$?
auth=$(jq -r .authorization "$T/rec.json")
if [ $rc -eq 0 ] && grep -q "The answer is" "$T/out" && [ "$auth" = "Bearer sekret" ] &&
	! grep -rq sekret "$PONDER_DB" "$XDG_CONFIG_HOME/ponder/config"; then
	pass remote_config_section
else
	fail remote_config_section "rc $rc, auth $auth: $(cat "$T/err")"
fi
timeout 30 "$BIN" "hi" >/dev/null 2>"$T/err"
rc=$?
if [ $rc -eq 2 ] && grep -q "E2E_KEY" "$T/err"; then
	pass remote_key_variable_unset
else
	fail remote_key_variable_unset "rc $rc: $(cat "$T/err")"
fi
rm "$XDG_CONFIG_HOME/ponder/config"

# --- the round trip through ponder serve ---
"$BIN" serve --port 0 2>"$T/serve.err" &
serve_pid=$!
i=0
while ! grep -q "http://127.0.0.1:" "$T/serve.err" && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
SERVE=http://127.0.0.1:$(sed -n 's/.*http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/serve.err")
same=0
for q in "What is 37 + 48?" "What is 123 * 45?" "Which is bigger, 67 or 76?"; do
	a=$(timeout 60 "$BIN" --temperature 0 --reasoning=inline --no-save "$q" 2>&1)
	b=$(timeout 60 "$BIN" --remote "$SERVE" --temperature 0 --reasoning=inline --no-save "$q" 2>&1)
	[ -n "$a" ] && [ "$a" = "$b" ] && same=$((same + 1))
done
if [ $same -eq 3 ]; then
	pass remote_serve_round_trip_identical
else
	fail remote_serve_round_trip_identical "$same of 3 identical"
fi
timeout 60 "$BIN" --remote "$SERVE" --temperature 0 "What is 37 + 48?" >/dev/null 2>&1
follow=$(timeout 60 "$BIN" --remote "$SERVE" --temperature 0 -c "And that times 3?" 2>&1)
local_follow=$(printf 'What is 37 + 48?\n' | timeout 60 "$BIN" --temperature 0 >/dev/null 2>&1;
	timeout 60 "$BIN" --temperature 0 -c "And that times 3?" 2>&1)
if [ -n "$follow" ] && [ "$follow" = "$local_follow" ]; then
	pass remote_serve_follow_up
else
	fail remote_serve_follow_up "remote [$follow] local [$local_follow]"
fi

# --- the interface ---
# wait_screen TEXT: sets screen to the pane, once it shows TEXT or after 10 s.
wait_screen() {
	i=0
	while [ $i -lt 50 ]; do
		screen=$(tmux -L ponder_remote_e2e capture-pane -p 2>/dev/null)
		printf '%s' "$screen" | grep -q "$1" && return
		sleep 0.2
		i=$((i + 1))
	done
}
if ! command -v tmux >/dev/null 2>&1; then
	echo "SKIP remote_tui_shows_reply: tmux is not installed"
elif ! tmux -L ponder_remote_e2e new-session -d -x 100 -y 30 \
	"XDG_CONFIG_HOME=$XDG_CONFIG_HOME XDG_DATA_HOME=$XDG_DATA_HOME XDG_STATE_HOME=$XDG_STATE_HOME PONDER_DB=$PONDER_DB $BIN --remote $FAKE --remote-model vllm" \
	2>"$T/tmux.err"; then
	echo "SKIP remote_tui_shows_reply: tmux cannot start a session here: $(head -c 200 "$T/tmux.err")"
else
	sleep 1
	tmux -L ponder_remote_e2e send-keys "What is 2 + 2?" Enter
	wait_screen "The answer is"
	if printf '%s' "$screen" | grep -q "Two plus two is four" &&
		printf '%s' "$screen" | grep -q "The answer is" &&
		printf '%s' "$screen" | grep -q "vllm"; then
		pass remote_tui_shows_reply
	else
		fail remote_tui_shows_reply "$(printf '%s' "$screen" | tail -12)"
	fi
	tmux -L ponder_remote_e2e send-keys "/info" Enter
	wait_screen "server: $FAKE"
	if printf '%s' "$screen" | grep -q "server: $FAKE" &&
		printf '%s' "$screen" | grep -q "temperature the server's"; then
		pass remote_tui_info
	else
		fail remote_tui_info "$(printf '%s' "$screen" | tail -12)"
	fi
fi
exit 0
