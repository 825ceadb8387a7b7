#!/bin/sh
# KV snapshots through the CLI: a saved conversation continued with -c resumes from the
# snapshot its last turn wrote (--verbose and --json say how much), answers as a cold
# re-prefill does, and damaged, foreign or oversized snapshots never stop a turn or touch
# the history. `ponder kv ls|rm|gc` manage the folder; deleting a conversation deletes
# its snapshots.
# Prints PASS / FAIL / SKIP lines for tests/run.sh.
. tests/lib_e2e.sh
e2e_begin e2e_kv jq
P="$BIN -m $MODEL -t 1 --temperature 0"
KV="$XDG_CACHE_HOME/ponder/kv"
count() { find "$KV" -name '*.pkv' 2>/dev/null | wc -l; }

# A saved turn leaves one snapshot, labelled with its conversation.
$P "What is 12 + 35?" </dev/null >/dev/null 2>"$T/err1"
ls1=$($BIN kv ls --json 2>/dev/null)
if [ "$(count)" -eq 1 ] && [ "$(echo "$ls1" | jq -r '.[0].label')" = "conversation 1" ] &&
   [ "$(echo "$ls1" | jq -r '.[0].tokens')" -gt 5 ] && [ ! -s "$T/err1" ]; then
	echo "PASS snapshot_written_after_turn"
else echo "FAIL snapshot_written_after_turn: $(count) files; $ls1; $(cat "$T/err1")"; fi

# -c resumes from it; the answer equals a cold re-prefill's (same history, no snapshots).
cp "$PONDER_DB" "$T/cold.db"
$P -c --json --verbose "And 3 * 7?" </dev/null >"$T/warm.json" 2>"$T/warm.err"
$P -c --json --no-kv-cache --db "$T/cold.db" "And 3 * 7?" </dev/null >"$T/cold.json" 2>/dev/null
cached=$(jq -r .usage.cached_prompt_tokens "$T/warm.json")
if [ "$cached" -gt 5 ] && grep -q "resumed $cached of the prompt's" "$T/warm.err" &&
   [ "$(jq -r .usage.cached_prompt_tokens "$T/cold.json")" = 0 ] &&
   [ "$(jq -r .answer "$T/warm.json")" = "$(jq -r .answer "$T/cold.json")" ] &&
   [ -n "$(jq -r .answer "$T/warm.json")" ]; then
	echo "PASS continue_resumes_from_snapshot"
else echo "FAIL continue_resumes_from_snapshot: cached=$cached $(cat "$T/warm.err") /" \
	"$(jq -c '[.answer, .usage]' "$T/warm.json" "$T/cold.json")"; fi

# The second turn's snapshot supersedes the first (its tokens begin it).
if [ "$(count)" -eq 1 ] &&
   [ "$($BIN kv ls --json | jq -r '.[0].tokens')" -gt "$(echo "$ls1" | jq -r '.[0].tokens')" ]
then echo "PASS longer_snapshot_supersedes"
else echo "FAIL longer_snapshot_supersedes: $($BIN kv ls)"; fi

# --no-save writes no snapshot (it would hold the conversation's tokens).
$P --no-save "What is 2 + 2?" </dev/null >/dev/null 2>&1
if [ "$(count)" -eq 1 ]; then echo "PASS no_save_writes_no_snapshot"
else echo "FAIL no_save_writes_no_snapshot: $(count) files"; fi

# A damaged snapshot: one note, removed, the turn still answered from a re-prefill, and
# the history intact.
f=$(find "$KV" -name '*.pkv' | head -1)
size=$(wc -c <"$f")
printf 'XXXX' | dd of="$f" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
msgs=$($BIN history show 1 --json | jq '.messages | length')
$P -c --json "What is 5 + 6?" </dev/null >"$T/dmg.json" 2>"$T/dmg.err"
rc=$?
if [ $rc -eq 0 ] && grep -q 'KV snapshot .* removed: its contents fail their checksum' "$T/dmg.err" &&
   [ "$(grep -c snapshot "$T/dmg.err")" -eq 1 ] && [ ! -e "$f" ] &&
   [ "$(jq -r .usage.cached_prompt_tokens "$T/dmg.json")" = 0 ] &&
   [ -n "$(jq -r .answer "$T/dmg.json")" ] &&
   [ "$($BIN history show 1 --json | jq '.messages | length')" -eq $((msgs + 2)) ]; then
	echo "PASS damaged_snapshot_ignored"
else echo "FAIL damaged_snapshot_ignored: rc=$rc $(cat "$T/dmg.err") $(ls "$KV")"; fi

# A snapshot cut short (as by a crash while it was written, were it renamed early).
f=$(find "$KV" -name '*.pkv' | head -1)
truncate -s -100 "$f"
$P -c "What is 7 + 8?" </dev/null >"$T/out" 2>"$T/trunc.err"
if [ $? -eq 0 ] && [ -s "$T/out" ] && grep -q 'removed: .* bytes where its header says' "$T/trunc.err"
then echo "PASS truncated_snapshot_ignored"
else echo "FAIL truncated_snapshot_ignored: $(cat "$T/trunc.err")"; fi

# Another model's snapshot (a copy of the demo with one bit of each tensor flipped) is
# passed over in silence: the demo continuing that model's conversation renders the same
# tokens but loads nothing, and both snapshots stay.
mkdir -p "$T/other"
cp "$MODEL"/* "$T/other/"
python3 - "$T/other/model.safetensors" <<'EOF'
import json, struct, sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
n = struct.unpack('<Q', b[:8])[0]
for name, t in json.loads(b[8:8 + n]).items():
    if name != '__metadata__':
        b[8 + n + t['data_offsets'][0]] ^= 1
open(p, 'wb').write(b)
EOF
rm -rf "$KV"
$BIN -m "$T/other" -t 1 --temperature 0 "What is 12 + 35?" </dev/null >/dev/null 2>&1
$P -c --json "Thanks." </dev/null >"$T/o.json" 2>"$T/o.err"
$BIN -m "$T/other" -t 1 --temperature 0 -c --json "Thanks again." </dev/null >"$T/o2.json" 2>&1
if [ "$(jq -r .usage.cached_prompt_tokens "$T/o.json")" = 0 ] && [ ! -s "$T/o.err" ] &&
   [ "$(count)" -eq 2 ] && [ "$(jq -r .usage.cached_prompt_tokens "$T/o2.json")" -gt 0 ]; then
	echo "PASS other_models_snapshots_not_loaded"
else echo "FAIL other_models_snapshots_not_loaded: $(jq -c .usage "$T/o.json" "$T/o2.json")" \
	"$(cat "$T/o.err"); $(count) files"; fi

# A cap smaller than one snapshot: said once, the turn is answered, nothing written.
rm -rf "$KV"
$P --kv-cache-max 1K "What is 9 + 9?" </dev/null >"$T/out" 2>"$T/cap.err"
if [ $? -eq 0 ] && [ -s "$T/out" ] && [ "$(count)" -eq 0 ] &&
   grep -q 'KV snapshot not saved: .*more than the whole snapshot cache' "$T/cap.err"; then
	echo "PASS cap_too_small_said"
else echo "FAIL cap_too_small_said: $(cat "$T/cap.err")"; fi
$P --kv-cache-max lots "x" </dev/null >/dev/null 2>"$T/bad.err"
rc=$?
if [ $rc -eq 2 ] && grep -q -- "--kv-cache-max: 'lots' is not a size" "$T/bad.err"; then
	echo "PASS cap_value_checked"
else echo "FAIL cap_value_checked: rc=$rc $(cat "$T/bad.err")"; fi

# kv rm by id prefix; gc removes damaged files and stale unfinished writes, then
# evicts the least recently used beyond the cap.
$P "What is 1 + 1?" </dev/null >/dev/null 2>&1
$P "What is 2 + 3?" </dev/null >/dev/null 2>&1
$P "What is 4 + 4?" </dev/null >/dev/null 2>&1
id=$($BIN kv ls --json | jq -r '.[0].id')
$BIN kv rm "$(echo "$id" | cut -c1-6)" >"$T/rm.out" 2>&1
rc_rm=$?
$BIN kv rm zz >/dev/null 2>"$T/rm.err"
rc_bad=$?
if [ $rc_rm -eq 0 ] && grep -q "removed KV snapshot $id" "$T/rm.out" && [ "$(count)" -eq 2 ] &&
   [ $rc_bad -eq 2 ] && grep -q 'not a snapshot id' "$T/rm.err"; then echo "PASS kv_rm"
else echo "FAIL kv_rm: rc=$rc_rm/$rc_bad $(cat "$T/rm.out" "$T/rm.err")"; fi
printf 'garbage' >"$KV/0123456789abcdef.pkv"
printf 'partial' >"$KV/.tmp-0123456789abcdef-AAAAAA"
touch -d '2 hours ago' "$KV/.tmp-0123456789abcdef-AAAAAA"
printf 'partial' >"$KV/.tmp-0123456789abcdef-BBBBBB"
one=$($BIN kv ls --json | jq '[.[] | select(.valid)][0].bytes')
$BIN kv gc --kv-cache-max "$one" >"$T/gc.out" 2>&1
if grep -q 'removed 1 damaged, 1 unfinished and 1 least recently used snapshot' "$T/gc.out" &&
   [ "$(count)" -eq 1 ] && [ -e "$KV/.tmp-0123456789abcdef-BBBBBB" ]; then echo "PASS kv_gc"
else echo "FAIL kv_gc: $(cat "$T/gc.out"); $(ls -a "$KV")"; fi

# A write killed long ago left a temporary file: the next saved turn removes it (a
# fresh one may be another process's write in progress and stays).
printf 'partial' >"$KV/.tmp-00000000000000aa-OLD000"
touch -d '2 hours ago' "$KV/.tmp-00000000000000aa-OLD000"
printf 'partial' >"$KV/.tmp-00000000000000aa-NEW000"
$P "What is 6 + 6?" </dev/null >/dev/null 2>&1
if [ ! -e "$KV/.tmp-00000000000000aa-OLD000" ] && [ -e "$KV/.tmp-00000000000000aa-NEW000" ]
then echo "PASS save_sweeps_stale_temp_files"
else echo "FAIL save_sweeps_stale_temp_files: $(ls -a "$KV")"; fi

# Deleting a conversation deletes its snapshots (they hold its tokens); others stay.
rm -rf "$KV"
$P "What is 30 + 12?" </dev/null >/dev/null 2>&1
$P "What is 40 + 2?" </dev/null >/dev/null 2>&1
gone=$($BIN history list --json | jq -r '.[0].id')
$BIN history rm "$gone" >/dev/null 2>&1
labels=$($BIN kv ls --json | jq -r '[.[].label] | join(",")')
if [ "$(count)" -eq 1 ] && [ "$labels" != "conversation $gone" ] && [ -n "$labels" ]; then
	echo "PASS history_rm_forgets_snapshots"
else echo "FAIL history_rm_forgets_snapshots: removed $gone; left: $labels"; fi

# Many processes writing, evicting and collecting in one folder at once (pinned to one
# core, so they preempt each other mid-write): every run answers, none reports a
# damaged snapshot, and every file left is a whole snapshot.
rm -rf "$KV"
pin=""
command -v taskset >/dev/null 2>&1 && pin="taskset -c 0"
one=12000
i=0
while [ $i -lt 8 ]; do
	$pin $P --kv-cache-max $((one * 3)) "What is $i + $((i * 7))?" </dev/null >"$T/par$i.out" 2>"$T/par$i.err" &
	$pin $BIN kv gc --kv-cache-max $((one * 3)) >/dev/null 2>&1 &
	i=$((i + 1))
done
wait
bad=""
i=0
while [ $i -lt 8 ]; do
	{ [ -s "$T/par$i.out" ] && [ ! -s "$T/par$i.err" ]; } || bad="$bad run$i:$(cat "$T/par$i.err")"
	i=$((i + 1))
done
invalid=$($BIN kv ls --json | jq '[.[] | select(.valid | not)] | length')
if [ -z "$bad" ] && [ "$invalid" = 0 ] && [ "$(count)" -ge 1 ]; then
	echo "PASS concurrent_writers_and_gc"
else echo "FAIL concurrent_writers_and_gc: $bad; invalid=$invalid; $(count) files"; fi
