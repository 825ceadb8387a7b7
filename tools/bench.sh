#!/bin/sh
# Runs every benchmark binary in $BUILD/tools (bench_*) in turn; `make bench` calls this.
# Benchmarks are added by several modules, so they are found by name, not listed here.
# Exits non-zero if any of them fails.
BUILD=${BUILD:-build}
rc=0 ran=0
for b in "$BUILD"/tools/bench_*; do
	[ -x "$b" ] && [ -f "$b" ] || continue
	case "$b" in *.d | *.o) continue ;; esac
	echo "== $b"
	"$b" || { echo "FAILED: $b exited with status $?"; rc=1; }
	ran=$((ran + 1))
done
[ "$ran" -gt 0 ] || echo "no benchmarks in $BUILD/tools"
exit $rc
