# lib_e2e.sh — sourced by the tests/e2e_*.sh scripts that drive the built binary with the
# demo model (not a test itself: tests/run.sh runs only e2e_*.sh). After
#   . tests/lib_e2e.sh
#   e2e_begin NAME TOOL...
# the script has BIN, MODEL, pass/fail, and $T, a private temporary folder removed at
# exit, with private XDG folders and history database. Without the model or a TOOL it
# prints "SKIP NAME: why" and exits 0. `running PID` and `wait_end PID SECONDS` watch
# background processes.
BIN=${BIN:-bin/ponder}
MODEL=${MODEL:-models/demo}

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }

e2e_begin() {
	e2e_name=$1
	shift
	if [ ! -f "$MODEL/config.json" ]; then
		echo "SKIP $e2e_name: no model at $MODEL"
		exit 0
	fi
	for tool in "$@"; do
		if ! command -v "$tool" >/dev/null 2>&1; then
			echo "SKIP $e2e_name: $tool is not installed"
			exit 0
		fi
	done
	T=$(mktemp -d) || exit 1
	trap 'rm -rf "$T"' EXIT
	export XDG_CONFIG_HOME="$T/config" XDG_DATA_HOME="$T/data" XDG_STATE_HOME="$T/state"
	export XDG_CACHE_HOME="$T/cache"
	export PONDER_DB="$T/history.db"
	unset PONDER_MODEL
}

# True while pid $1 runs (an exited child waiting to be reaped is a zombie, not running).
running() {
	st=$(sed 's/.*) //' /proc/"$1"/stat 2>/dev/null | cut -c1)
	[ -n "$st" ] && [ "$st" != Z ]
}

# Waits up to $2 seconds for child $1 to end; sets rc to its status, or to "hung" (and
# kills it). Not in a $(...) subshell: only this shell can wait for its children.
wait_end() {
	i=0
	while running "$1" && [ $i -lt $(($2 * 20)) ]; do sleep 0.05; i=$((i + 1)); done
	if running "$1"; then
		kill -KILL "$1" 2>/dev/null
		wait "$1" 2>/dev/null
		rc=hung
	else
		wait "$1"
		rc=$?
	fi
}
