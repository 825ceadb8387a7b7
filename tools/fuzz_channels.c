/*
 * fuzz_channels.c — libFuzzer harness for the reasoning/answer splitter
 * (engine/channels.c) and, under it, detok_push on token ids (engine/detok_stream.c).
 *
 * Two small byte-level tokenizers are built once: one with <think> and </think> as
 * added tokens (markers matched by id), one without (markers matched as text). Input
 * byte 0 picks the tokenizer, whether the prompt opened the reasoning, and after how
 * many pieces emit asks to stop; every later byte is a token id (byte b is the token of
 * byte b; 0xFF escapes: next byte 0 <think>, 1 </think>, 2 a special EOS, 3 an unknown
 * id, else 0xFF itself). Traps unless every piece is non-empty valid UTF-8 on a known
 * channel, nothing is emitted after a stop and the stop value keeps coming back, and
 * (text markers) no reasoning segment shows "</think>" (a segment ends at every channel
 * change, seen after each push or between pieces).
 *
 *   make fuzz && build/fuzz/fuzz_channels -max_total_time=180 tools/fuzz/corpus/channels
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/channels.h"
#include "tests/byte_vocab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Vocab: the 256 byte-level characters (id = byte); added tokens from `added`. */
static struct tok *make_tok(const char *added)
{
	size_t cap = 16384, k = 0;
	char *j = malloc(cap);
	k += (size_t)snprintf(j + k, cap - k, "{\"model\":{\"type\":\"BPE\",\"vocab\":{");
	k = put_byte_vocab(j, cap, k, '"');
	k += (size_t)snprintf(j + k, cap - k,
			      "},\"merges\":[]},\"pre_tokenizer\":{\"type\":\"ByteLevel\","
			      "\"add_prefix_space\":false,\"use_regex\":true},\"decoder\":{\"type\":"
			      "\"ByteLevel\"},\"added_tokens\":[%s]}",
			      added);
	struct tok *t = NULL;
	struct err e = {0};
	if (tok_parse(j, k, "fuzz-channels", &t, &e)) {
		fprintf(stderr, "%s\n", e.msg);
		abort();
	}
	free(j);
	return t;
}

#define ADDED(id, content, special)                                                    \
	"{\"id\":" #id ",\"content\":\"" content "\",\"special\":" #special ","         \
	"\"normalized\":false,\"lstrip\":false,\"rstrip\":false,\"single_word\":false}"

struct state {
	int stop_after; /* pieces before emit returns 7; -1 never */
	int pieces;
	bool stopped, text_markers;
	int last_channel, pushed_channel;
	char seg[64]; /* the tail of the current reasoning segment */
	size_t nseg;
};

static int emit(void *ud, int channel, const char *utf8, size_t len)
{
	struct state *s = ud;
	if (s->stopped || !len || (channel != CH_REASONING && channel != CH_ANSWER))
		__builtin_trap();
	for (size_t i = 0; i < len;) {
		uint8_t c = (uint8_t)utf8[i];
		size_t l = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3
			 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
		if (!l || l > len - i)
			__builtin_trap();
		for (size_t k = 1; k < l; k++)
			if (((uint8_t)utf8[i + k] & 0xC0) != 0x80)
				__builtin_trap();
		i += l;
	}
	if (channel != s->last_channel)
		s->nseg = 0;
	s->last_channel = channel;
	if (s->text_markers && channel == CH_REASONING) {
		/* keep the last 16 bytes of the segment plus this piece, look for the marker */
		char buf[16 + 512];
		size_t keep = s->nseg < 16 ? s->nseg : 16;
		memcpy(buf, s->seg + s->nseg - keep, keep);
		size_t take = len < 512 ? len : 512;
		memcpy(buf + keep, utf8, take);
		if (memmem(buf, keep + take, "</think>", 8))
			__builtin_trap();
		size_t tail = keep + take < 16 ? keep + take : 16;
		memcpy(s->seg, buf + keep + take - tail, tail);
		s->nseg = tail;
	}
	if (s->stop_after >= 0 && ++s->pieces > s->stop_after) {
		s->stopped = true;
		return 7;
	}
	return 0;
}

/* Pushes one id; the result must be 0 until emit stopped, then emit's value. A marker
   ends the segment even when the next one is on the same channel with nothing shown
   between ("<" </think> <think> "/think>" is two segments). */
static void push(struct chan_splitter *s, struct state *st, int32_t id)
{
	if (chan_push(s, id) != (st->stopped ? 7 : 0))
		__builtin_trap();
	if (chan_channel(s) != st->pushed_channel)
		st->nseg = 0;
	st->pushed_channel = chan_channel(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tok *with_ids, *text_only;
	if (!with_ids) {
		with_ids = make_tok(ADDED(256, "<think>", false) "," ADDED(257, "</think>", false)
				    "," ADDED(258, "<eos>", true));
		text_only = make_tok(ADDED(256, "<eos>", true));
	}
	if (!size)
		return 0;
	bool ids = data[0] & 1;
	struct state st = {.stop_after = data[0] & 2 ? data[0] >> 2 : -1,
			   .text_markers = !ids};
	struct chan_splitter s;
	chan_init(&s, ids ? with_ids : text_only, data[0] & 4, emit, &st);
	st.pushed_channel = chan_channel(&s);
	for (size_t i = 1; i < size; i++) {
		if (data[i] != 0xFF || i + 1 == size) {
			push(&s, &st, data[i]);
			continue;
		}
		uint8_t x = data[++i];
		if (x <= 1 && !ids) /* no marker token: its bytes one by one */
			for (const char *m = x ? "</think>" : "<think>"; *m; m++)
				push(&s, &st, (uint8_t)*m);
		else
			push(&s, &st, x <= 1 ? 256 + x : x == 2 ? (ids ? 258 : 256)
					 : x == 3 ? 100000 : 0xFF);
	}
	if (chan_flush(&s) != (st.stopped ? 7 : 0))
		__builtin_trap();
	int ch = chan_channel(&s);
	if (ch != CH_REASONING && ch != CH_ANSWER)
		__builtin_trap();
	return 0;
}
