#!/bin/sh
# The man page lints clean (mandoc -Tlint: no warnings, no style notes) and names every
# option ponder --help lists.
if ! command -v mandoc >/dev/null 2>&1; then
	echo "SKIP man_lint: mandoc is not installed"
	exit 0
fi
out=$(mandoc -Tlint -Wstyle man/ponder.1 2>&1 | grep -v 'mandoc.db lacks')
if [ -z "$out" ]; then echo "PASS man_lint"; else echo "FAIL man_lint: $out"; fi
missing=""
for opt in $(${BIN:-bin/ponder} --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
	grep -q -- "Fl \\\\${opt#-}" man/ponder.1 || missing="$missing $opt"
done
if [ -z "$missing" ]; then echo "PASS man_covers_options"; else echo "FAIL man_covers_options: missing$missing"; fi
