#!/bin/sh
# The examples in README.md ("## Use": the indented lines that run ./bin/ponder) and in
# man/ponder.1 (EXAMPLES: the ".Dl $ " lines, roff escapes undone) run exactly as printed
# and give the right answers. The lines are read out of the docs on every run, so the
# docs cannot drift from this test.
#
# Each line runs through `sh -c LINE` (comment and all) with stdin from /dev/null, from a
# fresh folder per document, under a private HOME and XDG folders per document (PONDER_DB
# unset: the documented default history file), so `-c` continues the conversation the
# previous example of the same document made, and `history search` searches that
# document's conversations only. The binary under test is reached without editing the
# line: README lines run in a folder whose bin/ponder is a symbolic link to $BIN; man
# lines run with a folder holding a `ponder` link to $BIN first in PATH. The binary finds
# its demo model next to its real path (/proc/self/exe), as it does in the source tree;
# MODEL, when the caller sets it, is passed on as PONDER_MODEL instead.
#
# Checked: "What is A op B?" (op + - * x), "Is A larger|smaller than B?" (yes / no), and a
# `-c` follow-up "... that times|plus|minus N?" against the true answer of the
# conversation it continues (a follow-up after a yes/no answer is a FAIL: the docs' order
# is wrong). The answer (stdout, which is jq's output where the line pipes into jq, or
# the file named by `> FILE`) must be exactly "The answer is X.". `history search WORD`
# must exit 0 and list every earlier conversation of the document whose questions have
# WORD; when none has it only the exit status is checked, and the PASS line says so. Lines
# needing what is not here (a -m checkpoint, a `< FILE` input, jq) and lines with no
# checkable answer print SKIP with the reason. One PASS / FAIL / SKIP line per example,
# then a count; exits 1 on any FAIL.
model_given=${MODEL:+1}
. tests/lib_e2e.sh
e2e_begin e2e_doc_examples

case "$BIN" in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
if [ ! -x "$BIN" ]; then
	echo "FAIL e2e_doc_examples: no binary at $BIN"
	exit 1
fi
unset PONDER_DB
if [ -n "$model_given" ]; then
	case "$MODEL" in /*) ;; *) MODEL=$(pwd)/$MODEL ;; esac
	export PONDER_MODEL="$MODEL"
fi
run_timeout=""
command -v timeout >/dev/null 2>&1 && run_timeout="timeout 120"
npass=0 nfail=0 nskip=0
# printf, not the library's echo: dash's echo would act on backslashes in a doc line.
ok() { printf 'PASS %s\n' "$1"; npass=$((npass + 1)); }
bad() { printf 'FAIL %s: %s\n' "$1" "$2"; nfail=$((nfail + 1)); }
skip() { printf 'SKIP %s: %s\n' "$1" "$2"; nskip=$((nskip + 1)); }
tab=$(printf '\t')

# "The answer is X." for a question, or nothing when it has no checkable answer. A
# follow-up uses $last_answer, the true answer of the conversation it continues.
expected() { # question
	# Numbers lose their leading zeros (shell arithmetic would read 012 as octal).
	set -- $(printf '%s\n' "$1" | sed -n -e 's/\<0*\([0-9]\)/\1/g' \
		-e 's/^What is \([0-9]*\) *\([-+*x]\) *\([0-9]*\)?$/\1 \2 \3/p' \
		-e 's/^Is \([0-9]*\) \(larger\|smaller\) than \([0-9]*\)?$/\1 \2 \3/p' \
		-e 's/.*\<that \(times\|plus\|minus\) \([0-9]*\)?$/follow \1 \2/p' | tr '*' x)
	case "$#:$1:$2" in
	3:*:+) echo $(($1 + $3)) ;;
	3:*:-) echo $(($1 - $3)) ;;
	3:*:x) echo $(($1 * $3)) ;;
	3:*:larger) if [ "$1" -gt "$3" ]; then echo yes; else echo no; fi ;;
	3:*:smaller) if [ "$1" -lt "$3" ]; then echo yes; else echo no; fi ;;
	3:follow:*)
		case "$last_answer" in
		'' | *[!0-9-]*) echo "follows '$last_answer'" ;;
		*) case "$2" in
		   times) echo $((last_answer * $3)) ;;
		   plus) echo $((last_answer + $3)) ;;
		   *) echo $((last_answer - $3)) ;;
		   esac ;;
		esac ;;
	esac
}

# Runs one document's example lines ("LINE-NUMBER<tab>COMMAND" on stdin). With roff=1
# the roff escapes \(dq \- \& \e are undone first; any other escape is a FAIL rather
# than a command run with the wrong text.
run_doc() { # doc-name path-dir(or empty) roff(0/1)
	doc=$1 pathdir=$2 roff=$3
	# convs: one line per conversation made so far: its title (first question), a tab,
	# and all its questions.
	dir="$T/$doc" last_answer="" convs=""
	mkdir -p "$dir/run" "$dir/home" || exit 1
	while IFS="$tab" read -r ln cmd; do
		name="$doc:$ln"
		if [ "$roff" = 1 ]; then
			if printf '%s\n' "$cmd" | sed 's/\\(dq//g; s/\\-//g; s/\\&//g; s/\\e//g' |
			   grep -q '\\'; then
				bad "$name: $cmd" "a roff escape this test cannot undo"
				continue
			fi
			cmd=$(printf '%s\n' "$cmd" | sed 's/\\(dq/"/g; s/\\-/-/g; s/\\&//g; s/\\e/\\/g')
		fi
		shown=$(printf '%s\n' "$cmd" | sed 's/[[:space:]][[:space:]]*#.*$//')
		what="$name: $shown"
		q=$(printf '%s\n' "$shown" | sed -n 's/^[^"]*"\([^"]*\)".*/\1/p')
		cont=0
		case " $shown " in *" -c "* | *" --continue "*) cont=1 ;; esac
		search=$(printf '%s\n' "$shown" | sed -n 's/.* history search \([^ ]*\).*/\1/p')

		# What the line needs.
		m=$(printf '%s\n' "$shown" | sed -n 's/.* \(-m\|--model\) \([^ ]*\).*/\2/p')
		mpath=$m
		case "$m" in "~/"*) mpath="$dir/home/${m#"~/"}" m="$m (HOME is the test's own)" ;; esac
		in=$(printf '%s\n' "$shown" | sed -n 's/.* < *\([^ ]*\).*/\1/p')
		if [ -n "$m" ] && [ ! -e "$mpath" ]; then
			skip "$what" "needs the checkpoint $m, not here"; continue
		fi
		if [ -n "$in" ] && [ ! -e "$dir/run/$in" ]; then
			skip "$what" "needs the input file $in, not here"; continue
		fi
		case "$shown" in *"| jq"*)
			if ! command -v jq >/dev/null 2>&1; then
				skip "$what" "jq is not installed"; continue
			fi ;;
		esac
		want=""
		[ -z "$search" ] && [ -n "$q" ] && want=$(expected "$q")
		if [ -z "$search" ] && [ -z "$want" ]; then
			skip "$what" "no checkable answer"; continue
		fi
		case "$want" in "follows "*)
			bad "$what" "a follow-up to the answer ${want#follows }, not a number: the example before it must ask for a number"
			continue ;;
		esac

		out="$dir/out" err="$dir/err"
		( cd "$dir/run" && HOME="$dir/home" XDG_DATA_HOME="$dir/home/data" \
			XDG_CONFIG_HOME="$dir/home/config" XDG_CACHE_HOME="$dir/home/cache" \
			XDG_STATE_HOME="$dir/home/state" PATH="${pathdir:+$pathdir:}$PATH" \
			$run_timeout sh -c "$cmd" </dev/null >"$out" 2>"$err" )
		rc=$?

		if [ -n "$search" ]; then
			if [ $rc -ne 0 ]; then
				bad "$what" "exit status $rc: $(head -c 300 "$err")"; continue
			fi
			missing="" found=0
			while IFS="$tab" read -r title qs; do
				printf '%s\n' "$qs" | grep -qiw -- "$search" || continue
				found=$((found + 1))
				grep '^#' "$out" | grep -qF -- "  $title  " || missing="$missing '$title'"
			done <<-EOF
			$convs
			EOF
			if [ -n "$missing" ]; then
				bad "$what" "did not list the conversation$missing: $(head -c 300 "$out")"
			elif [ $found -eq 0 ]; then
				ok "$what (exit 0; '$search' is in no earlier example, so no hit to check)"
			else
				ok "$what (lists the $found earlier conversation(s) with '$search')"
			fi
			continue
		fi

		# The answer: stdout, or the file the line writes with "> FILE".
		file=$(printf '%s\n' "$shown" | sed -n 's/.* > *\([^ |;&]*\).*/\1/p')
		src="$out" from=stdout
		[ -n "$file" ] && src="$dir/run/$file" from=$file
		got=$(cat "$src" 2>/dev/null)
		# The conversation this line started or continued, for -c and history search.
		case " $shown " in *" --no-save "*) ;; *)
			last_answer=$want
			if [ $cont -eq 0 ] || [ -z "$convs" ]; then
				convs="$convs${convs:+
}$q$tab$q"
			else
				convs=$(printf '%s\n' "$convs" | sed "\$s/\$/ $(printf '%s' "$q" | sed 's/[\/&]/\\&/g')/")
			fi ;;
		esac
		if [ $rc -ne 0 ]; then
			bad "$what" "exit status $rc: $(head -c 300 "$err")"
		elif [ "$got" = "The answer is $want." ]; then
			ok "$what -> $want"
		else
			bad "$what" "expected \"The answer is $want.\" on $from, got \"$(printf '%s' "$got" | head -c 300)\""
		fi
	done
}

# README.md: the indented lines of "## Use" that run ./bin/ponder.
mkdir -p "$T/README.md/run/bin" || exit 1
ln -s "$BIN" "$T/README.md/run/bin/ponder"
awk '/^## / { use = ($0 == "## Use") }
     use && /^    / && /\.\/bin\/ponder/ { print NR "\t" substr($0, 5) }' README.md >"$T/readme.lines"
if [ -s "$T/readme.lines" ]; then run_doc README.md "" 0 <"$T/readme.lines"
else bad README.md "no example lines found under \"## Use\""; fi

# man/ponder.1: the ".Dl $ " lines of EXAMPLES.
mkdir -p "$T/path" || exit 1
ln -s "$BIN" "$T/path/ponder"
awk '/^\.Sh / { ex = ($0 == ".Sh EXAMPLES") }
     ex && /^\.Dl \$ / { print NR "\t" substr($0, 7) }' man/ponder.1 >"$T/man.lines"
if [ -s "$T/man.lines" ]; then run_doc ponder.1 "$T/path" 1 <"$T/man.lines"
else bad ponder.1 "no .Dl \$ lines found under EXAMPLES"; fi

echo "e2e_doc_examples: $npass passed, $nfail failed, $nskip skipped"
[ $nfail -eq 0 ]
