#!/bin/sh
# End-to-end tests of `ponder serve` through the built binary and the demo model, with
# tests/serve_check.py as the client (Python standard library only):
#   - streamed and whole replies agree, usage, exact SSE framing, /v1/models;
#   - hostile requests each get their 4xx (413, 400, 404, 405), lying and slow clients
#     and 300 fuzzed bodies leave the server answering, never a 5xx;
#   - 50 streams at once, 4 rounds: each whole or a 503 with Retry-After, RSS flat;
#   - clients that hang up (queued or mid-stream) leave the server idle within 3 s;
#   - the API key (401 / 200), --save (nothing saved without it), a port in use,
#     --host 0.0.0.0 without a key, an unset --api-key-env;
#   - SIGTERM, idle and mid-stream: exit 0 within 5 s;
#   - the official openai npm client (openai@4) streams reasoning_content and content
#     (SKIP when node/npm or the registry is not there).
# Every wait is bounded; the servers are killed on exit.
# Prints PASS / FAIL / SKIP lines for tests/run.sh.
. tests/lib_e2e.sh
e2e_begin e2e_serve python3
CHK="timeout 150 python3 tests/serve_check.py"
SERVE="$BIN serve -m $MODEL -t 1"
pids=
trap 'for p in $pids; do kill -KILL "$p" 2>/dev/null; done; rm -rf "$T"' EXIT
trap 'exit 130' INT TERM

# start NAME ARGS...: starts `ponder serve --port 0 ARGS` in the background with its
# stderr in $T/NAME.err; sets spid and port (empty when it did not come up in 20 s).
start() {
	slog="$T/$1.err"
	shift
	$SERVE --port 0 "$@" 2>"$slog" &
	spid=$!
	pids="$pids $spid"
	port=
	i=0
	while [ $i -lt 400 ]; do
		port=$(sed -n 's|^ponder serve: .* on http://127\.0\.0\.1:\([0-9][0-9]*\) .*|\1|p' "$slog")
		[ -n "$port" ] && break
		running $spid || break
		sleep 0.05
		i=$((i + 1))
	done
	[ -n "$port" ]
}

# check NAME ARGS...: runs serve_check.py ARGS against the server (its lines go out as
# they are); a crash or a timeout without a FAIL line is a FAIL NAME.
check() {
	cname=$1
	shift
	$CHK --port "$port" --pid "$spid" "$@" >"$T/check.out" 2>&1
	crc=$?
	cat "$T/check.out"
	if [ $crc -ne 0 ] && ! grep -q '^FAIL ' "$T/check.out"; then
		fail "$cname" "serve_check.py exited $crc: $(tail -n 3 "$T/check.out")"
	fi
}

# term NAME: SIGTERM to the server, which must exit 0 within 5 s.
term() {
	kill -TERM "$spid" 2>/dev/null
	wait_end "$spid" 5
	if [ "$rc" = 0 ] && grep -q 'SIGTERM: stopping' "$slog"; then pass "$1"
	else fail "$1" "exit status $rc: $(tail -n 3 "$slog")"; fi
}

t_start=$(date +%s)

# ---- The main server: requests, limits, load, disconnects.
# A high default temperature lets serve_check.py find a long reply (a seed whose reply
# runs >= 1000 tokens) for the disconnect and SIGTERM checks; the other checks ask for
# temperature 0.
if start main --ctx 2048 --temperature 100 --max-body 1M --max-messages 1024 --queue 8; then
	pass serve_starts
else
	fail serve_starts "no startup line in 20 s: $(head -c 300 "$T/main.err")"
	exit 0
fi

check serve_stream stream
check serve_hostile --max-body 1048576 hostile
# Under AddressSanitizer RSS grows by design (freed memory waits in its quarantine);
# there LeakSanitizer checks for leaks instead, when SIGTERM ends the server (exit 0).
if grep -q __asan_init "$BIN" 2>/dev/null; then
	check serve_concurrent --rounds 4 --no-rss "an ASan build: freed memory stays in its quarantine, so RSS is no leak measure; LeakSanitizer checks at the SIGTERM exit" concurrent 50
else
	check serve_concurrent --rounds 4 concurrent 50
fi
check serve_disconnect disconnect

# A second server on the same port: refused, and said why.
timeout 60 $SERVE --port "$port" >/dev/null 2>"$T/inuse.err"
rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -qi 'in use' "$T/inuse.err"; then pass port_in_use
else fail port_in_use "rc=$rc $(head -c 300 "$T/inuse.err")"; fi

term sigterm_idle_exits_0

# Without --save, nothing went to the history.
n=$($BIN history list --json 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
if [ "$n" = 0 ]; then pass no_save_by_default
else fail no_save_by_default "$n conversations in the history"; fi

# ---- SIGTERM while a reply streams: the stream ends, the server exits 0 in 5 s.
if start midstream --ctx 2048 --temperature 100; then
	check serve_sigterm sigterm
	wait_end "$spid" 5
	if [ "$rc" = 0 ]; then pass sigterm_mid_stream_exits_0
	else fail sigterm_mid_stream_exits_0 "exit status $rc: $(tail -n 3 "$slog")"; fi
else
	fail sigterm_mid_stream_exits_0 "the server did not start: $(head -c 300 "$slog")"
fi

# ---- An API key, --save, and the official openai npm client.
KEY="ponder-e2e-$$-key"
export PONDER_E2E_KEY="$KEY"
if start keyed --api-key-env PONDER_E2E_KEY --save; then
	if grep -q 'API key required' "$slog" && grep -q 'saving to the history' "$slog"; then
		pass startup_line_says_key_and_save
	else fail startup_line_says_key_and_save "$(cat "$slog")"; fi
	check serve_auth auth "$KEY"
	# auth sent one chat request with the right key: saved, with its question.
	n=$($BIN history list --json 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
	$BIN history search --json 12 >"$T/search" 2>&1
	if [ "$n" = 1 ] && grep -q '30' "$T/search"; then pass save_stores_request
	else fail save_stores_request "$n conversations; search: $(head -c 200 "$T/search")"; fi
	# A request that carries earlier turns is stored whole: a follow-up through
	# ponder --remote (its own history off) sends 3 messages, and the server's saved
	# conversation holds all 4 with the reply.
	PONDER_E2E_KEY=$KEY timeout 60 $BIN --remote "http://127.0.0.1:$port" \
		--api-key-env PONDER_E2E_KEY --temperature 0 --db "$T/client.db" \
		"What is 37 + 48?" >/dev/null 2>&1
	PONDER_E2E_KEY=$KEY timeout 60 $BIN --remote "http://127.0.0.1:$port" \
		--api-key-env PONDER_E2E_KEY --temperature 0 --db "$T/client.db" -c \
		"And that times 3?" >/dev/null 2>&1
	last=$($BIN history list --json 2>/dev/null | python3 -c 'import json,sys; c=json.load(sys.stdin)[0]; print(c["id"])')
	roles=$($BIN history show "$last" --json 2>/dev/null | python3 -c 'import json,sys; m=json.load(sys.stdin)["messages"]; print(" ".join(x["role"] for x in m), m[1]["content"], m[3]["content"])')
	if [ "$roles" = "user assistant user assistant The answer is 85. The answer is 255." ]; then
		pass save_stores_earlier_turns
	else fail save_stores_earlier_turns "stored: $roles"; fi

	if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
		echo "SKIP openai_npm_client: node or npm is not installed"
	else
		mkdir -p "$T/npm"
		echo '{"private": true}' >"$T/npm/package.json"
		# Few retries, so that a machine without the registry skips in seconds.
		if ! (cd "$T/npm" && timeout 120 npm install --no-audit --no-fund --loglevel=error \
			--fetch-retries=1 --fetch-retry-mintimeout=1000 --fetch-retry-maxtimeout=3000 \
			openai@4 >"$T/npm.log" 2>&1); then
			echo "SKIP openai_npm_client: npm install openai@4 failed (no registry?): $(grep -m 1 . "$T/npm.log" | head -c 200)"
		else
			cat >"$T/npm/client.js" <<'EOF'
// Streams a chat completion from ponder serve with the official client.
const OpenAI = require("openai");
const [baseURL, apiKey] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 30000 });
(async () => {
	const stream = await client.chat.completions.create({
		model: "demo", temperature: 0, stream: true,
		stream_options: { include_usage: true },
		messages: [{ role: "user", content: "What is 12 + 30?" }],
	});
	let reasoning = "", content = "", finish = null, usage = null;
	for await (const chunk of stream) {
		if (chunk.usage) usage = chunk.usage;
		const ch = chunk.choices[0];
		if (!ch) continue;
		if (ch.delta.reasoning_content) reasoning += ch.delta.reasoning_content;
		if (ch.delta.content) content += ch.delta.content;
		if (ch.finish_reason) finish = ch.finish_reason;
	}
	console.log(JSON.stringify({ reasoning, content, finish, usage }));
})().catch((e) => { console.error("client error: " + e); process.exit(1); });
EOF
			(cd "$T/npm" && timeout 60 node client.js "http://127.0.0.1:$port/v1" "$KEY") \
				>"$T/npm.out" 2>"$T/npm.err"
			nrc=$?
			$CHK --port "$port" --pid "$spid" --key "$KEY" reply >"$T/whole.json" 2>&1
			if python3 - "$T/npm.out" "$T/whole.json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
w = json.load(open(sys.argv[2]))
ok = (s["reasoning"] and s["content"] and s["reasoning"] == w["reasoning"]
      and s["content"] == w["content"] and s["finish"] == "stop"
      and s["usage"] and s["usage"]["completion_tokens"] > 0)
sys.exit(0 if ok else 1)
EOF
			then pass openai_npm_client
			else fail openai_npm_client "node rc=$nrc $(head -c 300 "$T/npm.out") $(head -c 300 "$T/npm.err") whole: $(head -c 300 "$T/whole.json")"
			fi
		fi
	fi
	term sigterm_keyed_exits_0
else
	fail serve_auth "the server with a key did not start: $(head -c 300 "$slog")"
fi

# ---- Startup refusals.
timeout 60 $SERVE --host 0.0.0.0 --port 0 >/dev/null 2>"$T/host.err"
rc=$?
if [ $rc -eq 2 ] && grep -q -- '--api-key-env' "$T/host.err"; then pass public_host_needs_key
else fail public_host_needs_key "rc=$rc $(head -c 300 "$T/host.err")"; fi

unset PONDER_E2E_UNSET_VAR
timeout 60 $SERVE --port 0 --api-key-env PONDER_E2E_UNSET_VAR >/dev/null 2>"$T/unset.err"
rc=$?
if [ $rc -eq 2 ] && grep -q PONDER_E2E_UNSET_VAR "$T/unset.err"; then pass api_key_env_unset
else fail api_key_env_unset "rc=$rc $(head -c 300 "$T/unset.err")"; fi

echo "INFO e2e_serve took $(($(date +%s) - t_start)) s"
exit 0
