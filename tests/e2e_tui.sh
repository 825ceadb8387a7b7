#!/bin/sh
# End-to-end tests of the terminal UI, driven through tmux (send-keys, capture-pane) with
# the shipped demo model: start-up and help screens, a question with its reasoning and
# answer in their panes, folding, two resizes during generation, Ctrl-C mid-generation
# keeping the partial answer, the conversation browser (list, search, open, delete), a
# too-small terminal, the terminal given back on Ctrl-Q and on SIGTERM, and a continued
# conversation resumed from its KV snapshot.
#
# Screens that are deterministic (fixed --seed, --temperature 0, at 120x40 and at 80x24)
# are compared with tests/screens/*.txt after masking times and speeds. At 80x24 it also
# checks what a small terminal squeezes: the status bar's figures, the input hints, the
# help box, the reasoning header and title, word wrap in the input line, the history
# search prompt, and the ASCII fallback (--ascii, and a locale that is not UTF-8). After retraining the demo
# model, refresh them with: UPDATE_SCREENS=1 sh tests/e2e_tui.sh
# Prints PASS / FAIL / SKIP lines for tests/run.sh.
BIN=${BIN:-bin/ponder}
# Without MODEL, ponder runs its shipped demo model the way a user gets it: no -m.
if [ -n "$MODEL" ]; then MODEL_ARG="-m $MODEL"; DEMO=; else MODEL=models/demo; MODEL_ARG=; DEMO=1; fi
W=120
H=40
SCREENS=tests/screens
# Waits stretch by TEST_TIME_SCALE (make check-asan sets it: everything runs slower).
SCALE=${TEST_TIME_SCALE:-1}

if ! command -v tmux >/dev/null 2>&1; then
	echo "SKIP e2e_tui: tmux is not installed"
	exit 0
fi
# Without a working /dev/pts (a container or chroot that does not mount it) tmux starts
# its server but cannot open a pane: find that out at once rather than after a minute of
# waiting for a screen that never comes.
if [ ! -c /dev/ptmx ] && [ ! -c /dev/pts/ptmx ]; then
	echo "SKIP e2e_tui: no pseudo-terminals (/dev/ptmx missing; is /dev/pts mounted?)"
	exit 0
fi
probe="ponder-probe-$$"
if ! why=$(timeout 10 tmux -L "$probe" -f /dev/null new-session -d -s probe "sleep 5" 2>&1) ||
	! timeout 5 tmux -L "$probe" has-session -t probe 2>/dev/null; then
	tmux -L "$probe" kill-server 2>/dev/null
	echo "SKIP e2e_tui: tmux cannot open a pane here (is /dev/pts mounted?): ${why:-no session}"
	exit 0
fi
tmux -L "$probe" kill-server 2>/dev/null
if [ ! -f "$MODEL/config.json" ]; then
	echo "SKIP e2e_tui: no model at $MODEL"
	exit 0
fi
if [ -z "$TUI_WIRED" ] && ! grep -qs 'ui_run' app/*.c; then
	echo "SKIP e2e_tui: $BIN does not start the TUI yet (app/ does not call ui_run)"
	exit 0
fi

T=$(mktemp -d) || exit 1
SOCK="ponder-e2e-$$"
RUNS=0
tm() { tmux -L "$SOCK" -f /dev/null "$@"; }
trap 'tm kill-server 2>/dev/null; rm -rf "$T"' EXIT
export LANG=C.UTF-8 LC_ALL=C.UTF-8
LOCALE=C.UTF-8 # ponder's own locale (start)

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }

cap() { tm capture-pane -p -t e2e >"$T/screen" 2>/dev/null; }

# wait_for TEXT [SECONDS]: until the screen shows TEXT (fixed string).
wait_for() {
	n=$(( ${2:-20} * 10 * SCALE ))
	while [ "$n" -gt 0 ]; do
		cap
		grep -qF -- "$1" "$T/screen" && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

# wait_re REGEX [SECONDS]: like wait_for, for an extended regular expression.
wait_re() {
	n=$(( ${2:-20} * 10 * SCALE ))
	while [ "$n" -gt 0 ]; do
		cap
		grep -qE -- "$1" "$T/screen" && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

# A finished reasoning header, in its long form or the short one a narrow pane takes
# when the time has more digits (a slower run): "Thought for 35 ms (45 tokens)" or
# "206 ms, 45 tok".
DONE_HDR='Thought for [0-9.]+ m?s|[0-9.]+ m?s, [0-9]+ tok'

# settle: the frame that showed what wait_for saw may still be arriving; take it whole.
settle() {
	sleep 0.3
	cap
}

# wait_gone TEXT [SECONDS]: until the screen no longer shows TEXT.
wait_gone() {
	n=$(( ${2:-20} * 10 * SCALE ))
	while [ "$n" -gt 0 ]; do
		cap
		grep -qF -- "$1" "$T/screen" || return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

# The status bar says "generating…" while a reply streams, "stopping…" until it ends.
wait_idle() {
	sleep 0.2
	wait_gone "generating" "${1:-60}" && wait_gone "stopping…" "${1:-60}"
}

# Each start gets its own tmux server: a killed server may still hold its socket.
start() {
	tm kill-server 2>/dev/null
	RUNS=$((RUNS + 1))
	SOCK="ponder-e2e-$$-$RUNS"
	tm new-session -d -s e2e -x "$W" -y "$H" \
		"env LANG=$LOCALE LC_ALL=$LOCALE XDG_CONFIG_HOME='$T/config' \
		 XDG_DATA_HOME='$T/data' XDG_STATE_HOME='$T/state' XDG_CACHE_HOME='$T/cache' PONDER_DB= PONDER_MODEL= NO_COLOR= \
		 $BIN $MODEL_ARG -t 1 --db '$T/history.db' --seed 1 --temperature 0 $*; \
		 echo EXIT=\$?; sleep 600"
	tm set -g status off 2>/dev/null
}

# Left of the pane separator (reasoning) and right of it (answer), body rows only.
left() { sed -n "2,$((H - 3))p" "$T/screen" | sed 's/│.*//'; }
right() { sed -n "2,$((H - 3))p" "$T/screen" | sed 's/^[^│]*│//'; }

# Times, speeds and ages change from run to run; everything else must not. The status
# bar (last line) keeps its fields by width, so the optional ones that the digits of a
# speed push in or out (prefill speed, MTP rate, the demo note's length) are masked. A
# reasoning header takes its long or short form by the width of its time, so both become
# THOUGHT(tokens), and the padding after a masked figure (its digits varied) is squeezed.
normalize() {
	sed -E -e 's/[0-9]+(\.[0-9]+)? t\/s/N t\/s/g' \
	    -e 's/Thought for [0-9]+(\.[0-9]+)? m?s \(([0-9]+) tokens?\)/THOUGHT(\2)/g' \
	    -e 's/(^|[▸▾·] )[0-9]+(\.[0-9]+)? m?s, ([0-9]+) tok/\1THOUGHT(\3)/g' \
	    -e 's/[0-9]+(\.[0-9]+)? m?s([^a-zA-Z]|$)/N s\2/g' \
	    -e '/THOUGHT|N s|N t\/s/s/ *│/ │/g' \
	    -e 's/(just now|[0-9]+ (min|h|days) ago)/AGO/g' -e 's/ +$//' \
	    -e '$s/ │ (prefill [^│]*t\/s|MTP [0-9]+%)//g' -e '$s/ │ demo model( [^│]*)?$/ │ DEMO/'
}

# compare NAME: the current screen against tests/screens/NAME.txt.
compare() {
	normalize <"$T/screen" >"$T/$1.txt"
	if [ -n "$UPDATE_SCREENS" ]; then
		mkdir -p "$SCREENS"
		cp "$T/$1.txt" "$SCREENS/$1.txt"
		pass "screen_$1 (stored)"
	elif [ ! -f "$SCREENS/$1.txt" ]; then
		echo "SKIP screen_$1: no stored capture (UPDATE_SCREENS=1 sh tests/e2e_tui.sh)"
	elif diff -u "$SCREENS/$1.txt" "$T/$1.txt" >"$T/diff"; then
		pass "screen_$1"
	else
		fail "screen_$1" "differs from $SCREENS/$1.txt:
$(head -40 "$T/diff")"
	fi
}

tty_sane() {
	tty=$(tm display -p -t e2e '#{pane_tty}')
	modes=$(stty -a -F "$tty" 2>/dev/null)
	echo "$modes" | grep -q ' icanon ' && echo "$modes" | grep -q ' echo ' &&
		! echo "$modes" | grep -q -- '-icanon'
}

# The ponder process: the child of the pane's shell. pgrep (procps) is not on a fresh
# Debian; /proc says the same.
ponder_pid() {
	pp=$(tm display -p -t e2e '#{pane_pid}')
	if command -v pgrep >/dev/null 2>&1; then
		pgrep -P "$pp" | head -1
		return
	fi
	for s in /proc/[0-9]*/stat; do
		# Fields after "(comm) ": state, ppid, ...
		f=$(sed 's/^.*) //' "$s" 2>/dev/null) || continue
		set -- $f
		if [ "${2:-}" = "$pp" ]; then
			s=${s#/proc/}
			echo "${s%/stat}"
			return
		fi
	done
}

# ---- start-up and help ----
start
if wait_for "Ask a question" 60; then
	if [ -z "$DEMO" ] || tail -1 "$T/screen" | grep -qF "demo model (arithmetic)"; then
		pass tui_start
	else fail tui_start "no demo note in the status bar: $(tail -1 "$T/screen")"; fi
	settle
	compare startup
else
	fail tui_start "no welcome after 60 s: $(cat "$T/screen")"
	exit 0
fi

tm send-keys -t e2e F1
if wait_for " Keys " 5 && wait_for "Ctrl-T" 5; then
	pass tui_help
	settle
	compare help
else fail tui_help "$(cat "$T/screen")"; fi
tm send-keys -t e2e q
wait_gone " Keys " 5 || fail tui_help_close "help did not close"

# ---- a question: reasoning and answer in their panes ----
tm send-keys -t e2e "What is 12 + 30?" Enter
if wait_for "Thought for" 60 && wait_idle 60; then
	r=$(left | grep -v 'Thought for' | grep -c '[^ ]')
	a=$(right | sed -n '/What is 12 + 30?/,$p' | sed 1d | grep -c '[^ ]')
	if [ "$r" -gt 0 ] && [ "$a" -gt 0 ]; then pass tui_answer
	else fail tui_answer "reasoning rows $r, answer rows $a: $(cat "$T/screen")"; fi
	settle
	compare answer
else
	fail tui_answer "no finished reply: $(cat "$T/screen")"
fi

# ---- fold and unfold the reasoning ----
tm send-keys -t e2e C-t
if wait_for "▸ Thought for" 5 && [ "$(left | grep -v 'Thought for' | grep -c '[^ ]')" -eq 0 ]; then
	pass tui_fold
else fail tui_fold "$(cat "$T/screen")"; fi
tm send-keys -t e2e C-t
if wait_for "▾ Thought for" 5 && [ "$(left | grep -v 'Thought for' | grep -c '[^ ]')" -gt 0 ]; then
	pass tui_unfold
else fail tui_unfold "$(cat "$T/screen")"; fi

# ---- two resizes while the model generates ----
tm send-keys -t e2e "What is 345 + 678?" Enter
sleep 0.05
tm resize-window -t e2e -x 90 -y 28
sleep 0.15
tm resize-window -t e2e -x "$W" -y "$H"
if wait_idle 60 && wait_for "What is 345 + 678?" 5; then
	lines=$(wc -l <"$T/screen")
	widest=$(wc -L <"$T/screen")
	if [ "$lines" -eq "$H" ] && [ "$widest" -le "$W" ] &&
		sed -n "$((H - 2))p" "$T/screen" | grep -qF "Enter send" &&
		tail -1 "$T/screen" | grep -qF "ctx "; then
		pass tui_resize_during_generation
	else
		fail tui_resize_during_generation "lines $lines, widest $widest: $(cat "$T/screen")"
	fi
	settle
	compare resize
else
	fail tui_resize_during_generation "no finished reply: $(cat "$T/screen")"
fi

# ---- Ctrl-C mid-generation keeps the partial answer ----
# The demo model answers in milliseconds, too fast to catch by watching the screen, so
# Ctrl-C travels with Enter and the reply is made long: at temperature 3 (fixed seed)
# the model rambles for hundreds of tokens. With reasoning off, the first pieces are
# answer text, which must stay on screen and in the history.
tm send-keys -t e2e C-n
wait_for "New conversation." 5
tm send-keys -t e2e "/think off" Enter
wait_for "reasoning off" 5
tm send-keys -t e2e "/set temperature 3" Enter
sleep 0.3
tm send-keys -t e2e "What is 98765 + 43210?" Enter C-c
if wait_idle 30 && wait_for "[stopped]" 5; then
	partial=$(right | sed -n '/What is 98765 + 43210?/,/\[stopped\]/p' | sed '1d;$d' | grep -c '[^ ]')
	if grep -qF "partial answer is kept" "$T/screen" && [ "$partial" -gt 0 ]; then
		pass tui_stop
	else
		fail tui_stop "partial answer rows: $partial: $(cat "$T/screen")"
	fi
else
	fail tui_stop "no stopped reply: $(cat "$T/screen")"
fi
tm send-keys -t e2e "/think on" Enter
tm send-keys -t e2e "/set temperature 0" Enter

# ---- the browser: list, search, open (reasoning folded), delete ----
tm send-keys -t e2e C-o
if wait_for "Conversations (2)" 5 && grep -qF "What is 12 + 30?" "$T/screen" &&
	grep -qF "What is 98765" "$T/screen"; then
	pass tui_browser_list
else fail tui_browser_list "$(cat "$T/screen")"; fi
tm send-keys -t e2e "345"
# "(N found)" shows for an empty query too: wait for the typed text, then the count.
if wait_for "345" 5 && wait_for "found)" 5; then pass tui_browser_search
else fail tui_browser_search "$(cat "$T/screen")"; fi
tm send-keys -t e2e Enter
if wait_for "Conversation #1" 5 && wait_gone "Search:" 5 &&
	[ "$(right | grep -c 'What is 345 + 678?')" -eq 1 ] && grep -qF "▸ Thought" "$T/screen"; then
	pass tui_browser_open
else fail tui_browser_open "$(cat "$T/screen")"; fi
# The stopped reply was saved as interrupted: reopened, it is still marked.
tm send-keys -t e2e C-o
wait_for "Conversations (2)" 5
tm send-keys -t e2e Enter
if wait_for "Conversation #2" 5 && wait_gone "Search:" 5 &&
	[ "$(right | grep -c '\[stopped\]')" -eq 1 ] && right | grep -qF "What is 98765 + 43210?"; then
	pass tui_stop_saved
else fail tui_stop_saved "$(cat "$T/screen")"; fi
tm send-keys -t e2e C-o
wait_for "Conversations (2)" 5
tm send-keys -t e2e Down
tm send-keys -t e2e d
if wait_for "? y/n" 5; then
	tm send-keys -t e2e y
	if wait_for "Conversations (1)" 5; then pass tui_browser_delete
	else fail tui_browser_delete "$(cat "$T/screen")"; fi
else fail tui_browser_delete "no confirmation: $(cat "$T/screen")"; fi
tm send-keys -t e2e Escape
wait_gone "Search:" 5

# ---- a terminal smaller than the minimum ----
tm resize-window -t e2e -x 30 -y 8
if wait_for "too small" 5; then pass tui_too_small; else fail tui_too_small "$(cat "$T/screen")"; fi
tm resize-window -t e2e -x "$W" -y "$H"
wait_for "Answer" 5 || fail tui_too_small_recovers "$(cat "$T/screen")"

# ---- the terminal is given back: Ctrl-Q, then SIGTERM ----
tm send-keys -t e2e C-q
if wait_for "EXIT=0" 10 && tty_sane; then pass tui_quit_restores
else fail tui_quit_restores "$(cat "$T/screen")"; fi
hist="$T/state/ponder/input_history"
if [ -f "$hist" ] && [ "$(stat -c %a "$hist")" = 600 ] && grep -qF "345" "$hist"; then
	pass tui_input_history
else fail tui_input_history "missing or not private: $(ls -l "$hist" 2>&1)"; fi

# ---- a saved conversation continued (-c) resumes from its KV snapshot ----
start
wait_for "Ask a question" 60
tm send-keys -t e2e "What is 21 + 21?" Enter
wait_re "$DONE_HDR" 60 && wait_idle 60
tm send-keys -t e2e C-q
wait_for "EXIT=0" 10
start -c
if wait_for "What is 21 + 21?" 60; then
	tm send-keys -t e2e "And that times 2?" Enter
	if wait_re "$DONE_HDR" 60 && wait_idle 60 && tail -1 "$T/screen" | grep -qE "resumed [0-9]+ tok"
	then pass tui_resumed_from_snapshot
	else fail tui_resumed_from_snapshot "$(tail -1 "$T/screen")"; fi
else fail tui_resumed_from_snapshot "no conversation: $(cat "$T/screen")"; fi
tm send-keys -t e2e C-q
wait_for "EXIT=0" 10

# ---- 80x24: what a small terminal squeezes ----
W=80
H=24
start
if wait_for "Ask a question" 60; then
	settle
	compare startup80
	hint=$(sed -n "$((H - 2))p" "$T/screen")
	case "$hint" in
	*"F1 help ─"*) pass tui80_hint_fits ;;
	*) fail tui80_hint_fits "the hint is cut: $hint" ;;
	esac
	tm send-keys -t e2e F1
	wait_for " Keys " 5 && settle
	if grep -qF "typing)" "$T/screen" && ! grep -qF "while typin│" "$T/screen"; then
		pass tui80_help_wraps
	else fail tui80_help_wraps "$(cat "$T/screen")"; fi
	compare help80
	tm send-keys -t e2e q
	wait_gone " Keys " 5
	tm send-keys -t e2e "What is 12 + 30?" Enter
	if wait_re "$DONE_HDR" 60 && wait_idle 60; then
		settle
		st=$(tail -1 "$T/screen")
		case "$st" in
		*"ctx "*" tok"*"t/s"*) pass tui80_status_figures ;;
		*) fail tui80_status_figures "figures dropped: $st" ;;
		esac
		if grep -qE "(Thought for |▾ )([0-9]+ ms|[1-9][0-9]*\.[0-9] s)" "$T/screen" &&
			! grep -qF "0.0 s" "$T/screen"; then pass tui_thought_ms
		else fail tui_thought_ms "$(sed -n 2p "$T/screen")"; fi
		if ! grep -qF "Ask a question" "$T/screen"; then pass tui_welcome_cleared
		else fail tui_welcome_cleared "$(cat "$T/screen")"; fi
		if sed -n 2p "$T/screen" | grep -qE "^▾ (Thought for .*tokens\)|[0-9.]+ m?s, [0-9]+ tok)"; then
			pass tui80_header_fits
		else fail tui80_header_fits "$(sed -n 2p "$T/screen")"; fi
		compare answer80
	else
		fail tui80_answer "no finished reply: $(cat "$T/screen")"
	fi
	tm send-keys -t e2e C-t
	wait_re "▸ ($DONE_HDR)" 5 && settle
	if head -1 "$T/screen" | grep -qF "folded"; then pass tui80_fold_title
	else fail tui80_fold_title "$(head -2 "$T/screen")"; fi
	compare fold80
	# The number crosses the right edge: it moves to the next row whole.
	tm send-keys -t e2e "Please add these numbers for me and show each step of the work, thanks: 12345678 + 87654321"
	if wait_for "87654321" 5 && sed -n "$((H - 1))p" "$T/screen" | grep -qF "12345678 + 87654321"; then
		pass tui80_input_wraps_words
	else fail tui80_input_wraps_words "$(tail -4 "$T/screen")"; fi
	tm send-keys -t e2e C-u C-r "12 +"
	if wait_for "history search" 5 && ! grep -qF "bck:" "$T/screen" &&
		grep -qF "What is 12 + 30?" "$T/screen"; then pass tui_history_search_prompt
	else fail tui_history_search_prompt "$(tail -4 "$T/screen")"; fi
	tm send-keys -t e2e C-g C-u
	wait_gone "history search" 5
	# Ctrl-C right behind Enter: whatever reasoning is on screen is counted.
	tm send-keys -t e2e "What is 4321 + 1234?" Enter C-c
	if wait_idle 30 && wait_for "stopped" 5; then
		hdr=$(left | grep -E "^[▸▾] (Thought|No reasoning|[0-9.]+ m?s,)" | tail -1)
		rows=$(left | sed -n '/What is 4321/,$p' | grep -c '[^ ]')
		case "$hdr" in
		*"No reasoning"*) echo "SKIP tui_stop_counts_tokens: stopped before any reasoning" ;;
		*"(0 tokens)"* | *" 0 tok"*)
			fail tui_stop_counts_tokens "$hdr with text on screen: $(cat "$T/screen")" ;;
		*"token"* | *" tok"*) pass tui_stop_counts_tokens ;;
		*) fail tui_stop_counts_tokens "header '$hdr' ($rows rows): $(cat "$T/screen")" ;;
		esac
	else
		fail tui_stop_counts_tokens "no stopped reply: $(cat "$T/screen")"
	fi
	tm send-keys -t e2e C-q
	wait_for "EXIT=0" 10
else
	fail tui80_start "no welcome after 60 s: $(cat "$T/screen")"
fi

# ---- the ASCII fallback: --ascii, and a locale that is not UTF-8 ----
for how in option locale; do
	if [ "$how" = option ]; then start --ascii; else LOCALE=C; start; LOCALE=C.UTF-8; fi
	if wait_for "Ask a question" 60; then
		tm send-keys -t e2e F1
		wait_for " Keys " 5 && settle
		if grep -q '[│─┌┐└┘▸▾›·…]' "$T/screen" || ! grep -qF "+- Keys -" "$T/screen" ||
			! grep -qF " | " "$T/screen"; then
			fail "tui_ascii_$how" "$(cat "$T/screen")"
		else
			pass "tui_ascii_$how"
		fi
		[ "$how" = option ] && compare ascii80
		tm send-keys -t e2e q C-q
		wait_for "EXIT=0" 10
	else
		fail "tui_ascii_$how" "did not start: $(cat "$T/screen")"
	fi
done
W=120
H=40

# ---- resizes that certainly land while text streams ----
# The demo model is done in milliseconds. The tiny random fixture checkpoint (with the
# demo tokenizer) given a long pasted question takes seconds to prefill and then streams
# random text for seconds more, so both resizes hit a reply that is streaming.
FIX=${PONDER_FIXTURES:-../shared/fixtures}
if [ -d "$FIX/models/tiny-v3" ] && [ -f models/demo/tokenizer.json ]; then
	mkdir -p "$T/slow"
	ln -sf "$(cd "$FIX/models/tiny-v3" && pwd)"/* "$T/slow/"
	cp models/demo/tokenizer.json models/demo/tokenizer_config.json "$T/slow/"
	saved_arg=$MODEL_ARG
	MODEL_ARG="-m $T/slow"
	start --max-tokens 1500 --temperature 0.6
	MODEL_ARG=$saved_arg
	if wait_for "Ask a question" 30; then
		tm set-buffer "$(seq 1 1500 | tr '\n' ' ')"
		tm paste-buffer -p -t e2e
		sleep 0.5
		tm send-keys -t e2e Enter
		n=300
		while [ "$n" -gt 0 ]; do
			cap
			tail -1 "$T/screen" | grep -q 'generating.* [1-9][0-9]* tok' && break
			sleep 0.1
			n=$((n - 1))
		done
		mid=0
		tm resize-window -t e2e -x 90 -y 28
		sleep 0.3
		cap
		grep -qF "generating" "$T/screen" && [ "$(wc -l <"$T/screen")" -eq 28 ] && mid=$((mid + 1))
		tm resize-window -t e2e -x "$W" -y "$H"
		sleep 0.3
		cap
		grep -qF "generating" "$T/screen" && mid=$((mid + 1))
		tm send-keys -t e2e C-c
		if [ "$mid" -lt 2 ]; then
			echo "SKIP tui_resize_while_streaming: the reply ended before both resizes"
		elif wait_idle 30 && tail -1 "$T/screen" | grep -qF "press Ctrl-C again to quit"; then
			# the random reply reached its end of sentence between the second resize
			# and Ctrl-C, which then found nothing to stop
			echo "SKIP tui_resize_while_streaming: the reply ended before Ctrl-C"
		elif [ "$(wc -l <"$T/screen")" -eq "$H" ] &&
			[ "$(wc -L <"$T/screen")" -le "$W" ] &&
			sed -n "$((H - 2))p" "$T/screen" | grep -qF "Enter send" &&
			tail -1 "$T/screen" | grep -qF "ctx " && grep -qF "[stopped]" "$T/screen"; then
			pass tui_resize_while_streaming
		else
			fail tui_resize_while_streaming "$(cat "$T/screen")"
		fi
	else
		echo "SKIP tui_resize_while_streaming: the fixture checkpoint does not load with the demo tokenizer"
	fi
else
	echo "SKIP tui_resize_while_streaming: no fixtures at $FIX"
fi

start
if ! wait_for "Ask a question" 60; then
	fail tui_sigterm_restores "did not start: $(cat "$T/screen")"
	exit 0
fi
pid=$(ponder_pid)
if [ -n "$pid" ] && kill -TERM "$pid" && wait_for "EXIT=" 10 && tty_sane; then
	pass tui_sigterm_restores
else fail tui_sigterm_restores "pid '$pid': $(cat "$T/screen")"; fi
exit 0
