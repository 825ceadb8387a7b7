#!/bin/sh
# Runs every test binary in $BUILD/tests and every tests/e2e_*.sh script from the project
# root, and adds their PASS / FAIL / SKIP lines into one closing line. A binary or
# script that exits non-zero without printing FAIL (a crash) counts as a failure.
BUILD=${BUILD:-build}
pass=0 fail=0 skip=0
log=$(mktemp) || exit 1
trap 'rm -f "$log"' EXIT
# TESTS, when set, names the tests to run instead (make check-tsan uses it); SKIP_TESTS
# names tests (file names) to leave out with a SKIP line (make check-asan uses it).
for t in ${TESTS:-"$BUILD"/tests/test_* tests/e2e_*.sh}; do
	[ -e "$t" ] || continue
	case "$t" in *.d) continue ;; esac
	case " $SKIP_TESTS " in *" ${t##*/} "*)
		echo "SKIP ${t##*/}: left out of this run (SKIP_TESTS)"
		skip=$((skip + 1))
		continue ;;
	esac
	echo "== $t"
	case "$t" in
	*.sh) BUILD="$BUILD" sh "$t" >"$log" 2>&1 ;;
	*) "$t" >"$log" 2>&1 ;;
	esac
	rc=$?
	cat "$log"
	p=$(grep -c '^PASS ' "$log"); f=$(grep -c '^FAIL ' "$log"); s=$(grep -c '^SKIP ' "$log")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL $t: exited with status $rc"
		f=1
	fi
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
done
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
