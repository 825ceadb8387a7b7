#!/bin/sh
# The dependency between the folders runs one way: ui → app → engine / history / net →
# kernels
# (docs/design.md). Checked from the #include lines, without building:
#  - ui/ includes no engine/, history/ or kernels/ header, and never app/chat.h (the
#    session's insides); the app/ headers it does include (chat_api.h, the interface
#    made for it, and small ones such as options.h) include no engine/, history/,
#    kernels/ or ui/ header themselves, so nothing of those reaches the UI through them;
#  - app/ includes no ui/ header except ui/ui.h (the entry point ui_run), and only in
#    main.c;
#  - engine/, history/, net/ and kernels/ include nothing from app/ or ui/.
# Prints PASS / FAIL lines for tests/run.sh.
cd "$(dirname "$0")/.." || exit 1

# includes DIRS...: "file:line:#include ..." for every quoted include under the folders.
includes() {
	for d in "$@"; do
		find "$d" -name '*.[ch]' -o -name '*.cu' -o -name '*.cuh'
	done | sort | xargs grep -Hn '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' 2>/dev/null
}

# check NAME PATTERN LINES: FAIL when any line matches the (extended) pattern.
check() {
	bad=$(printf '%s\n' "$3" | grep -E "$2")
	if [ -n "$bad" ]; then
		echo "FAIL $1: $(printf '%s\n' "$bad" | head -5 | tr '\n' ' ')"
	else
		echo "PASS $1"
	fi
}

ui=$(includes ui)
check layering_ui_no_engine_history '"(engine|history|net|kernels)/' "$ui"
check layering_ui_not_chat_internals '"app/chat\.h"' "$ui"
used=$(printf '%s\n' "$ui" | sed -n 's/.*#[[:space:]]*include[[:space:]]*"\(app\/[^"]*\)".*/\1/p' | sort -u)
check layering_ui_app_headers_clean '"(engine|history|net|kernels|ui)/' \
	"$(for h in app/chat_api.h $used; do grep -Hn '#[[:space:]]*include[[:space:]]*"' "$h"; done)"
app=$(includes app)
check layering_app_no_ui '"ui/' "$(printf '%s\n' "$app" | grep -v '^app/main\.c:[0-9]*:#include "ui/ui\.h"')"
check layering_lower_no_app_ui '"(app|ui)/' "$(includes engine history net kernels common)"
exit 0
