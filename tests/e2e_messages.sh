#!/bin/sh
# What ponder says and the status it exits with when something is off: a conversation
# that is not there (-c, --cid), --think off on a model that always reasons, a model
# that does not load (3 in every mode), a HOME that does not exist, a history file this
# ponder cannot write, plural wording, and `ponder info`'s figures.
# Prints PASS / FAIL / SKIP lines for tests/run.sh.
. tests/lib_e2e.sh
e2e_begin e2e_messages
P="$BIN -m $MODEL -t 1"
Q="What is 1 + 1?"

# expect NAME STATUS PATTERN CMD...: CMD exits STATUS and its stderr matches PATTERN.
expect() {
	name=$1 want=$2 pat=$3
	shift 3
	"$@" </dev/null >"$T/out" 2>"$T/err"
	rc=$?
	if [ $rc -eq "$want" ] && grep -q -- "$pat" "$T/err"; then echo "PASS $name"
	else echo "FAIL $name: rc=$rc (want $want) $(head -c 300 "$T/err")"; fi
}

# A conversation that is not there is a usage error (2), not a database error.
$P "$Q" </dev/null >/dev/null 2>&1
expect cid_missing 2 'there is no conversation 999999' $P --cid 999999 "$Q"
expect continue_nothing 2 'no conversation to continue yet' env PONDER_DB="$T/empty.db" $P -c "$Q"

# --think off on a model whose template opens every reply with <think>.
expect think_off_refused 2 'always reasons before answering' $P --think off "$Q"

# A model that does not load exits 3 in every mode and command.
expect model_missing_pipe 3 /nonexistent $BIN -m "$T/nonexistent" "$Q"
expect model_missing_info 3 /nonexistent $BIN info -m "$T/nonexistent"
expect model_missing_tokenize 3 /nonexistent $BIN tokenize -m "$T/nonexistent"
expect model_missing_logits 3 /nonexistent $BIN logits -m "$T/nonexistent" --ids 1,2

# HOME pointing nowhere: the answer comes, history is not saved, and nothing is created.
env -u XDG_DATA_HOME -u PONDER_DB HOME="$T/nohome/deep" $P "$Q" </dev/null >"$T/out" 2>"$T/err"
rc=$?
if [ $rc -eq 0 ] && [ -s "$T/out" ] && [ ! -e "$T/nohome" ] &&
   grep -q 'history is not saved: the home folder .* does not exist' "$T/err"; then
	echo "PASS home_missing_not_created"
else echo "FAIL home_missing_not_created: rc=$rc $(cat "$T/err"); $(find "$T/nohome" 2>/dev/null | tail -1)"; fi

# A history file this ponder must not write (a newer schema): the reason, said once.
if command -v python3 >/dev/null 2>&1; then
	python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("PRAGMA user_version = 99"); c.commit()' "$PONDER_DB"
	$P "$Q" </dev/null >/dev/null 2>"$T/err"
	if [ "$(grep -o 'history is n[a-z ]*saved' "$T/err" | wc -l)" -eq 1 ] &&
	   grep -q 'newer ponder' "$T/err"; then echo "PASS history_warning_said_once"
	else echo "FAIL history_warning_said_once: $(cat "$T/err")"; fi
else
	echo "SKIP history_warning_said_once: python3 is not installed"
fi

# A theme that does not exist is refused in pipe mode as in the interface (exit 2).
expect theme_unknown_pipe 2 "theme 'nosuch' not found" $P --no-save --theme nosuch "$Q"
expect theme_unknown_batch 2 "theme 'nosuch' not found" $P --no-save --batch --theme nosuch

# One new token: singular.
long=$(awk 'BEGIN { for (i = 0; i < 200; i++) printf "what is 1 + 1 "; }')
expect context_one_token 4 'and 1 new token was requested' $P --no-save --ctx 64 --max-tokens 1 "$long"

# info: the parameters the README quotes, the real path of the demo model, and the KV
# bytes per token a chat reserves (4 layers + the MTP layer, 64 + 16 values each: 2 bytes
# a value in the default bf16 cache, 4 in f32, 1 plus a 4-byte scale a layer in fp8).
$BIN info >"$T/info" 2>&1
$BIN info --json >"$T/info.json" 2>&1
if grep -q '^parameters  *2.49M (2486848): 1.93M (1930008) main model + 556.84K (556840) MTP$' "$T/info" &&
   grep -q '^stored  *2.62M (2617920)' "$T/info" && grep -q '2.49 M parameters' "$MODEL/README.md"; then
	echo "PASS info_parameters"
else echo "FAIL info_parameters: $(grep -A1 '^parameters' "$T/info")"; fi
if grep -q '^model  *\(/[^/]*\)*/models/demo$' "$T/info" && ! grep -q '/\.\./' "$T/info"; then
	echo "PASS info_model_path_resolved"
else echo "FAIL info_model_path_resolved: $(head -1 "$T/info")"; fi
if command -v jq >/dev/null 2>&1; then
	if [ "$(jq -c '[.kv_cache.dtype, .kv_cache.bytes_per_token, .kv_cache.bytes_per_token_mtp_off]' "$T/info.json")" = '["bf16",800,640]' ] &&
	   grep -q '^KV cache  *800 B per token (bf16' "$T/info" &&
	   [ "$($BIN info --kv-type f32 --json | jq -c '[.kv_cache.bytes_per_token, .kv_cache.bytes_per_token_mtp_off]')" = "[1600,1280]" ] &&
	   [ "$($BIN info --kv-type fp8 --json | jq -c '[.kv_cache.bytes_per_token, .kv_cache.bytes_per_token_mtp_off]')" = "[420,336]" ] &&
	   $BIN info --kv-type f32 | grep -q '^KV cache  *1.56 KiB per token (f32'; then echo "PASS info_kv_per_token"
	else echo "FAIL info_kv_per_token: $(grep '^KV' "$T/info")"; fi
	expect_kv_bad=$($BIN info --kv-type f16 2>&1); kv_rc=$?
	if [ $kv_rc -eq 2 ] && printf '%s' "$expect_kv_bad" | grep -q 'f32, bf16 or fp8'; then echo "PASS info_kv_type_bad"
	else echo "FAIL info_kv_type_bad: status $kv_rc: $expect_kv_bad"; fi
else
	echo "SKIP info_kv_per_token: jq is not installed"
fi
exit 0
