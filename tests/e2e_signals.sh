#!/bin/sh
# Signals and load, end to end through the built binary and the demo model:
#   - a run whose engine stops answering (PONDER_DEBUG_STALL=1: after its first piece of
#     text nothing reads the stop flag, as in a hung computation) still ends on the first
#     SIGTERM within the grace period, and at once on a second SIGINT, with 128 + the
#     signal number and the text so far saved as an interrupted reply;
#   - the same stalled run in the TUI ends on SIGTERM with the terminal given back;
#   - four ponder processes at once on two cores, each with a two-thread pool, all
#     finish and give identical answers (the thread pool once froze here).
# Prints PASS / FAIL / SKIP lines for tests/run.sh.
. tests/lib_e2e.sh
e2e_begin e2e_signals jq
P="$BIN -m $MODEL -t 2"

now_ms() { date +%s%3N; }

# Waits up to 5 s for a file to have content.
wait_for() {
	i=0
	while [ ! -s "$1" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
}

# Waits (up to 2 s) until pid $1 has taken its pending signals: two signals of one kind
# sent before the first is taken arrive as one.
taken() {
	i=0
	while [ $i -lt 40 ] && grep -q '^ShdPnd:.*[1-9a-f]' /proc/"$1"/status 2>/dev/null; do
		sleep 0.05
		i=$((i + 1))
	done
	sleep 0.1
}

# The last assistant message of the newest conversation: "status reasoning-length".
last_reply() {
	cid=$($BIN history list --json 2>/dev/null | jq -r '.[0].id // empty')
	$BIN history show "$cid" --json --reasoning 2>/dev/null |
		jq -r '.messages[-1] | "\(.status) \((.reasoning // "") | length)"'
}

# 1. One SIGTERM to a stalled run: ends after the grace period with 143.
rm -f "$PONDER_DB"* "$T/out" "$T/err"
PONDER_DEBUG_STALL=1 $P --reasoning=stderr "What is 37 + 48?" >"$T/out" 2>"$T/err" &
pid=$!
wait_for "$T/err"
t0=$(now_ms)
kill -TERM $pid
wait_end $pid 8
dt=$(($(now_ms) - t0))
reply=$(last_reply)
if [ "$rc" = 143 ] && [ "$dt" -lt 4000 ] && [ "${reply%% *}" = interrupted ] &&
	[ "${reply#* }" -gt 0 ] && grep -q 'did not stop' "$T/err"; then
	pass stalled_sigterm_ends
else fail stalled_sigterm_ends "rc=$rc after ${dt} ms, reply=[$reply], err=$(tail -c 300 "$T/err")"; fi

# 2. Two SIGINTs to a stalled run: the second ends it at once with 130.
rm -f "$PONDER_DB"* "$T/out" "$T/err"
PONDER_DEBUG_STALL=1 $P --reasoning=stderr "What is 12 + 30?" >"$T/out" 2>"$T/err" &
pid=$!
wait_for "$T/err"
t0=$(now_ms)
kill -INT $pid
taken $pid
kill -INT $pid
wait_end $pid 8
dt=$(($(now_ms) - t0))
reply=$(last_reply)
if [ "$rc" = 130 ] && [ "$dt" -lt 1500 ] && [ "${reply%% *}" = interrupted ] &&
	grep -q 'second signal' "$T/err"; then
	pass stalled_second_sigint_ends
else fail stalled_second_sigint_ends "rc=$rc after ${dt} ms, reply=[$reply], err=$(tail -c 300 "$T/err")"; fi

# 3. SIGHUP ends a stalled run with 128 + 1.
rm -f "$T/out" "$T/err"
PONDER_DEBUG_STALL=1 $P --reasoning=stderr "What is 5 + 5?" >"$T/out" 2>"$T/err" &
pid=$!
wait_for "$T/err"
kill -HUP $pid
taken $pid
kill -HUP $pid
wait_end $pid 8
if [ "$rc" = 129 ]; then pass stalled_sighup_status
else fail stalled_sighup_status "rc=$rc err=$(tail -c 300 "$T/err")"; fi

# 3b. Under nohup SIGHUP stays ignored; SIGTERM still ends the run.
rm -f "$T/out" "$T/err"
PONDER_DEBUG_STALL=1 nohup $P --reasoning=stderr "What is 6 + 6?" >"$T/out" 2>"$T/err" &
pid=$!
wait_for "$T/err"
kill -HUP $pid
sleep 0.5
if running $pid; then alive=yes; else alive=no; fi
kill -TERM $pid
taken $pid
kill -TERM $pid
wait_end $pid 8
if [ $alive = yes ] && [ "$rc" = 143 ]; then pass nohup_keeps_sighup_ignored
else fail nohup_keeps_sighup_ignored "alive after SIGHUP=$alive rc=$rc"; fi

# 4. The TUI on a stalled run: SIGTERM gives the terminal back and ends the process.
if ! command -v tmux >/dev/null 2>&1; then
	echo "SKIP tui_stalled_sigterm: tmux is not installed"
elif ! tmux -L ponder-sig-probe new-session -d -x 80 -y 24 'sleep 1' 2>/dev/null; then
	echo "SKIP tui_stalled_sigterm: tmux cannot open a pane (no /dev/pts?)"
else
	tmux -L ponder-sig-probe kill-server 2>/dev/null
	S="ponder-sig-$$"
	tmux -L "$S" new-session -d -x 80 -y 24 \
		"PONDER_DEBUG_STALL=1 $P --db '$T/tui.db'; echo EXITED=\$?; sleep 30"
	sleep 1.5
	tmux -L "$S" send-keys "What is 1 + 2?" Enter
	sleep 1.5
	ppid=$(tmux -L "$S" display -p '#{pane_pid}')
	tpid=$(cat /proc/"$ppid"/task/*/children 2>/dev/null | awk '{print $1}')
	if [ -n "$tpid" ]; then kill -TERM "$tpid"; fi
	i=0
	while ! tmux -L "$S" capture-pane -p | grep -q 'EXITED=' && [ $i -lt 120 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	screen=$(tmux -L "$S" capture-pane -p)
	alt=$(tmux -L "$S" display -p '#{alternate_on}')
	tmux -L "$S" kill-server 2>/dev/null
	if [ -n "$tpid" ] && echo "$screen" | grep -q 'EXITED=143' && [ "$alt" = 0 ]; then
		pass tui_stalled_sigterm
	else fail tui_stalled_sigterm "pid=$tpid alt=$alt screen: $(echo "$screen" | tail -5)"; fi
fi

# 5. Four processes at once, two pool threads each, on two cores: all finish, all agree.
i=1
: >"$T/questions"
while [ $i -le 40 ]; do
	echo "What is $((i * 37 % 1000)) + $((i * 91 % 1000))?" >>"$T/questions"
	i=$((i + 1))
done
for k in 1 2 3 4; do
	$BIN -m "$MODEL" -t 2 --batch --json --temperature 0 --no-save <"$T/questions" \
		>"$T/batch$k" 2>"$T/batcherr$k" &
	eval "pid$k=\$!"
done
ok=1 why=""
for k in 1 2 3 4; do
	eval "p=\$pid$k"
	wait_end "$p" 120
	[ "$rc" = 0 ] || { ok=0; why="$why process $k: $rc;"; }
	jq -r '.answer' "$T/batch$k" >"$T/answers$k" 2>/dev/null
done
n=$(wc -l <"$T/answers1")
for k in 2 3 4; do
	cmp -s "$T/answers1" "$T/answers$k" || { ok=0; why="$why answers of $k differ from 1;"; }
done
if [ $ok = 1 ] && [ "$n" -eq 40 ]; then pass four_processes_agree
else fail four_processes_agree "$why answers=$n $(head -c 200 "$T/batcherr1")"; fi
