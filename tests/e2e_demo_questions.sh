#!/bin/sh
# The questions a new user typed when the demo model answered them wrong (lowercase, no
# spaces, words for the operation, a negative result, "bigger", yes/no, a follow-up that
# says "that"), asked as a user asks them: one `ponder --json` per question, the
# follow-up with `-c` in the same saved history. Each answer is checked exactly; the
# test fails when fewer than MARK are right. The shipped model gets 9 of the 11: it
# answers "yes" to "Is 4821 smaller than 4812?" (its trace finds 4821 > 4812, then
# answers the asked relation wrongly) and miscopies in "-5 + 12" (docs/demo-model.md,
# Known weaknesses). MARK is that count, so any regression fails.
MARK=9
. tests/lib_e2e.sh
e2e_begin e2e_demo_questions jq

right=0
ask() {   # ask NAME WANT ARGS... : the last JSON answer must be "The answer is WANT."
	name=$1 want=$2
	shift 2
	got=$("$BIN" -m "$MODEL" --json "$@" </dev/null | jq -r .answer)
	if [ "$got" = "The answer is $want." ]; then
		pass "$name"
		right=$((right + 1))
	else
		echo "MISS $name: asked '$*', wanted 'The answer is $want.', got '$got'"
	fi
}

ask larger_yes_no yes "Is 4821 larger than 4812?"
ask smaller_yes_no no "Is 4821 smaller than 4812?"
ask first_turn 85 "What is 37 + 48?"
ask follow_up_that 255 -c "And that times 3?"
ask follow_up_result 250 -c "Subtract 5 from the result."
ask lowercase_no_spaces 85 "what is 37+48"
ask minus_word_negative -18 "What is 12 minus 30?"
ask bigger_of_two 76 "Which is bigger, 67 or 76?"
ask negative_operand 7 "What is -5 + 12?"
ask word_problem 42 "Sam had 50 cookies and ate 8. How many cookies are left?"
out=$("$BIN" -m "$MODEL" --json "Tell me about volcanoes." </dev/null | jq -r .answer)
case "$out" in
*"only does arithmetic"*) pass out_of_domain; right=$((right + 1)) ;;
*) echo "MISS out_of_domain: wanted the fixed reply, got '$out'" ;;
esac
if [ $right -ge $MARK ]; then
	pass "demo_questions: $right of 11 right (mark $MARK)"
else
	fail demo_questions "$right of 11 right, under the mark of $MARK"
	exit 1
fi
