/*
 * turns.c — the conversation on screen: sending a question (a question block and an
 * empty answer block in the answer pane, a live reasoning section in the reasoning
 * pane), streaming the worker's text into them, finishing a reply (stopped, failed or
 * complete), folding reasoning, and rebuilding both panes from a saved conversation,
 * whose reasoning opens folded.
 */
#include <stdio.h>
#include <string.h>

#include "ui/ui_int.h"

void ui_turn_clear(struct ui *u)
{
	u->welcome = true;
	ui_pane_clear(&u->panes[UI_PANE_REASONING]);
	ui_pane_clear(&u->panes[UI_PANE_ANSWER]);
	u->live_reasoning = u->live_answer = NULL;
	u->dirty = true;
}

void ui_turn_fold(struct ui *u)
{
	struct ui_pane *p = &u->panes[UI_PANE_REASONING];
	struct ui_block *b = NULL;
	/* With the reasoning pane focused and scrolled back, fold the section in view. */
	if (u->focus == UI_FOCUS_REASONING && !p->follow)
		b = ui_pane_block_at(p, ui_pane_first_row(p), NULL);
	if (!b)
		b = ui_pane_last(p, UI_B_REASONING);
	if (!b) {
		ui_message(u, "no reasoning yet");
		return;
	}
	b->folded = !b->folded;
	ui_block_touch(b);
	if (!p->follow)
		p->top = ui_pane_row_of(p, b);
	u->dirty = true;
}

void ui_turn_send(struct ui *u, const char *text, size_t len)
{
	struct ui_pane *rp = &u->panes[UI_PANE_REASONING], *ap = &u->panes[UI_PANE_ANSWER];
	/* The welcome (or "New conversation.") has been read once a question is asked;
	   errors stay, they may still matter. */
	if (u->welcome) {
		ui_pane_drop(ap, UI_B_NOTICE);
		u->welcome = false;
	}
	/* Earlier turns' reasoning makes room for the new one. */
	for (size_t i = 0; i < rp->n; i++)
		if (!rp->b[i]->folded) {
			rp->b[i]->folded = true;
			ui_block_touch(rp->b[i]);
		}
	double now = ui_now_ms();
	struct ui_block *ub = ui_pane_add(ap, UI_B_USER, text, len);
	struct ui_block *rb = ui_pane_add(rp, UI_B_REASONING, "", 0);
	struct ui_block *ab = ui_pane_add(ap, UI_B_ANSWER, "", 0);
	if (!ub || !rb || !ab) {
		ui_message(u, "out of memory");
		return;
	}
	rb->live = ab->live = true;
	rb->t0_ms = now;
	rb->tokens = 0;
	struct err e = {0};
	if (ui_worker_start(u->worker, text, len, &e)) {
		rb->live = ab->live = false;
		ui_notice(u, UI_B_ERROR, "%s", e.msg);
		return;
	}
	u->generating = true;
	u->stopping = false;
	u->gen_t0 = now;
	u->live_tokens = 0;
	u->live_tps = -1;
	u->live_reasoning = rb;
	u->live_answer = ab;
	ui_pane_end(rp);
	ui_pane_end(ap);
	u->dirty = true;
}

static void finish(struct ui *u, const struct ui_worker_news *n)
{
	double now = ui_now_ms();
	struct ui_block *rb = u->live_reasoning, *ab = u->live_answer;
	bool stopped = n->stats.interrupted;
	if (rb->live) {
		rb->live = false;
		rb->secs = (now - rb->t0_ms) / 1000.0;
		rb->stopped = stopped;
	}
	if (!n->rc || stopped)
		rb->tokens = n->stats.reasoning_tokens; /* exact, where pieces were an estimate */
	ab->live = false;
	ab->stopped = stopped;
	rb->mid = ab->mid = app_chat_reply_mid(u->chat);
	ui_block_touch(rb);
	ui_block_touch(ab);
	if (n->rc && !stopped)
		ui_notice(u, UI_B_ERROR, "%s", n->err.msg);
	u->stats = n->stats;
	u->have_stats = !n->rc || stopped;
	u->gen_t1 = now;
	u->generating = u->stopping = false;
	u->live_reasoning = u->live_answer = NULL;
	const char *w;
	while ((w = app_chat_take_warning(u->chat)))
		ui_notice(u, UI_B_ERROR, "%s", w);
	if (stopped)
		ui_message(u, "stopped: the partial answer is kept (and saved)");
}

void ui_turn_news(struct ui *u)
{
	struct ui_worker_news n;
	ui_worker_drain(u->worker, &n);
	struct ui_block *rb = u->live_reasoning, *ab = u->live_answer;
	if (!rb || !ab)
		return;
	if ((n.rlen && ui_block_append(rb, n.reasoning, n.rlen)) ||
	    (n.alen && ui_block_append(ab, n.answer, n.alen)))
		ui_message(u, "out of memory: part of the reply is not shown");
	rb->tokens = n.reasoning_pieces;
	if (rb->live && n.t_answer_ms > 0) {
		/* The answer began: the thinking time is final. */
		rb->live = false;
		rb->secs = (n.t_answer_ms - rb->t0_ms) / 1000.0;
		ui_block_touch(rb);
	}
	u->live_tokens = n.reasoning_pieces + n.answer_pieces;
	double now = ui_now_ms();
	if (n.t_first_ms > 0 && now - n.t_first_ms > 250 && u->live_tokens > 1)
		u->live_tps = (double)(u->live_tokens - 1) / ((now - n.t_first_ms) / 1000.0);
	if (n.finished)
		finish(u, &n);
	u->dirty = true;
}

int ui_turn_load(struct ui *u, int64_t cid, struct err *e)
{
	struct app_transcript t;
	int rc = app_chat_open_conversation(u->chat, cid, &t, e);
	if (rc)
		return rc;
	ui_turn_clear(u);
	u->welcome = false;
	u->have_stats = false;
	ui_notice(u, UI_B_NOTICE, "Conversation #%lld: %s (%lld messages). Past reasoning is "
		  "folded: Ctrl-T unfolds the latest, or focus the reasoning pane (Tab), scroll to "
		  "a section and press Ctrl-T.", (long long)t.cid, t.title, (long long)t.n_messages);
	struct ui_pane *rp = &u->panes[UI_PANE_REASONING], *ap = &u->panes[UI_PANE_ANSWER];
	for (size_t i = 0; i < t.n; i++) {
		const struct app_msg *msg = &t.m[i];
		if (msg->from_user) {
			struct ui_block *b = ui_pane_add(ap, UI_B_USER, msg->text, msg->text_len);
			if (b)
				b->mid = msg->id;
			continue;
		}
		bool stopped = msg->status == APP_MSG_STOPPED;
		struct ui_block *rb = ui_pane_add(rp, UI_B_REASONING, msg->reasoning,
						  msg->reasoning_len);
		struct ui_block *ab = ui_pane_add(ap, UI_B_ANSWER, msg->text, msg->text_len);
		if (!rb || !ab)
			break;
		rb->folded = true;
		rb->tokens = msg->reasoning_tokens;
		rb->stopped = stopped && !msg->text_len;
		rb->mid = ab->mid = msg->id;
		ab->stopped = stopped;
		if (msg->error)
			ui_notice(u, UI_B_ERROR, "%s", msg->error);
	}
	app_transcript_free(&t);
	ui_pane_end(rp);
	ui_pane_end(ap);
	u->dirty = true;
	return 0;
}
