#!/bin/sh
# Every libFuzzer harness under tools/ still builds (`make fuzz`): the harnesses link a
# chosen list of sources (FUZZ_LIB_SRC), so a new dependency of one of those files
# breaks them without breaking anything else. Needs clang; SKIP without it.
# Prints PASS / FAIL / SKIP lines for tests/run.sh.
BUILD=${BUILD:-build}
if ! command -v "${FUZZ_CC:-clang}" >/dev/null 2>&1; then
	echo "SKIP fuzz_harnesses_build: ${FUZZ_CC:-clang} is not installed"
	exit 0
fi
log=$(mktemp) || exit 1
trap 'rm -f "$log"' EXIT
if make -s fuzz BUILD="$BUILD/fuzzcheck" >"$log" 2>&1; then
	n=$(ls tools/fuzz_*.c | wc -l)
	built=$(ls "$BUILD"/fuzzcheck/fuzz/fuzz_* 2>/dev/null | grep -vc '\.d$')
	if [ "$built" -eq "$n" ]; then echo "PASS fuzz_harnesses_build"
	else echo "FAIL fuzz_harnesses_build: $built of $n harnesses built"; fi
else
	echo "FAIL fuzz_harnesses_build: $(grep -m5 -E 'error|undefined' "$log")"
fi
