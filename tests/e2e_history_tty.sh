#!/bin/sh
# `ponder history show / search / export / list` on a terminal (a pty from python3):
# stored escape sequences (OSC 52 clipboard writes, ESC[2J, OSC 8 links, OSC 0 titles,
# the C1 control U+009B) come out visible (^[, <U+009B>), never raw; into a pipe, export
# is the stored bytes. Prints PASS / FAIL / SKIP lines for tests/run.sh.
. tests/lib_e2e.sh
e2e_begin e2e_history_tty python3 jq
# A container or chroot without /dev/pts has no pseudo-terminals: nothing to test then.
if ! python3 -c 'import os; os.openpty()' 2>/dev/null; then
	echo "SKIP e2e_history_tty: no pseudo-terminal can be opened (is /dev/pts mounted?)"
	exit 0
fi

# on_tty OUT CMD...: runs CMD with stdout and stderr on a pseudo-terminal, its output
# (as the terminal received it) into OUT.
on_tty() {
	out=$1
	shift
	python3 - "$out" "$@" <<'PY'
import os, subprocess, sys
master, slave = os.openpty()
p = subprocess.Popen(sys.argv[2:], stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
os.close(slave)
data = b""
while True:
    try:
        chunk = os.read(master, 65536)
    except OSError:
        break
    if not chunk:
        break
    data += chunk
p.wait()
open(sys.argv[1], "wb").write(data)
PY
}

# raw_escapes FILE: what would drive a terminal, left after removing ponder's own SGR
# styling (ESC [ digits m): any other ESC, or the C1 control U+009B.
raw_escapes() {
	python3 - "$1" <<'PY'
import re, sys
d = open(sys.argv[1], "rb").read()
d = re.sub(rb"\x1b\[[0-9;]*m", b"", d)
bad = [m for m in (b"\x1b", b"\xc2\x9b") if m in d]
print(" ".join(repr(b) for b in bad))
PY
}

# A question holding every kind of escape is stored as the user typed it.
printf 'What is 2 + 2? zebra \033]52;c;SGVsbG8=\007 \033[2J \033]8;;http://evil.example/\033\\link\033]8;;\033\\ \033]0;pwned\007 \302\2332J end\n' |
	"$BIN" -m "$MODEL" -t 1 --max-tokens 40 --json >"$T/j" 2>"$T/err"
cid=$(jq -r .conversation_id "$T/j" 2>/dev/null)
case "$cid" in
'' | null | *[!0-9]*)
	echo "FAIL history_tty_setup: no conversation stored: $(head -c 300 "$T/err")"
	exit 0
	;;
esac

# NAME:ARGS; JSON escapes ESC itself (\u001b), so only the text forms must show ^[.
for t in "show:show $cid" "show_json:show $cid --json" "search:search zebra" \
	"export:export $cid" "export_json:export $cid --format json" "list:list"; do
	name=history_tty_${t%%:*}
	# shellcheck disable=SC2086
	on_tty "$T/tty" "$BIN" history ${t#*:}
	bad=$(raw_escapes "$T/tty")
	case "$name" in
	*json | *list) visible=yes ;;
	*) visible=$(grep -q '\^\[' "$T/tty" && echo yes) ;;
	esac
	# and the stored question did reach the terminal (an empty capture proves nothing)
	grep -q 'What is 2' "$T/tty" || visible=no
	if [ -z "$bad" ] && [ "$visible" = yes ]; then
		echo "PASS $name"
	else
		echo "FAIL $name: raw $bad reached the terminal: $(head -c 300 "$T/tty" | od -c | head -5)"
	fi
done

# Into a pipe, export is byte for byte what was stored.
"$BIN" history export "$cid" >"$T/md" 2>"$T/err"
if grep -q "$(printf '\033]52;c;SGVsbG8=\007')" "$T/md" && grep -q "$(printf '\302\233')" "$T/md"; then
	echo "PASS history_export_pipe_faithful"
else
	echo "FAIL history_export_pipe_faithful: $(head -c 300 "$T/md" | od -c | head -5)"
fi
exit 0
