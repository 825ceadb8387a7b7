#!/bin/sh
# `make install PREFIX=... DESTDIR=...` puts the binary, the man page, the themes and the
# demo model where the man page says, and the installed binary runs.
T=$(mktemp -d) || exit 1
trap 'rm -rf "$T"' EXIT
if ! make -s install PREFIX=/usr/local DESTDIR="$T" >"$T/log" 2>&1; then
	echo "FAIL install: $(tail -5 "$T/log")"
	exit 0
fi
missing=""
for f in usr/local/bin/ponder usr/local/share/man/man1/ponder.1 \
	usr/local/share/ponder/themes/default-dark.theme; do
	[ -f "$T/$f" ] || missing="$missing $f"
done
if [ -f models/demo/config.json ]; then
	for f in config.json generation_config.json tokenizer.json tokenizer_config.json; do
		[ -f "$T/usr/local/share/ponder/models/demo/$f" ] || missing="$missing models/demo/$f"
	done
fi
if [ -z "$missing" ] && "$T/usr/local/bin/ponder" --help >/dev/null; then echo "PASS install"
else echo "FAIL install: missing$missing"; fi
