/* tr_engine.c - frames in, records out (tr_engine.h).
 *
 * Per symbol the engine keeps the last trade id (and aggregate id) and the
 * last quote update id. Ids are monotonic per symbol on Binance, so a trade
 * whose id is not above the last one is a duplicate (connection overlap,
 * replay rewind) and is dropped; one more than a step above the last means
 * trades were missed: the trade is published with TR_TRADE_GAP and a gap
 * event says how many. bookTicker update ids are shared with the depth
 * stream and skip by design, so for quotes only duplicates (an id not above
 * the last) are dropped and no gap is reported.
 *
 * Unknown symbols: a feed only sends what we subscribed, so anything else is
 * bad input; a capture file or the gateway registers symbols as they come.
 */
#define _GNU_SOURCE
#include "tr_engine.h"

#include "tr_analytics_engine.h"
#include "tr_capture.h"
#include "tr_err.h"
#include "tr_journal.h"
#include "tr_log.h"
#include "tr_parse.h"
#include "tr_writer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct sym_state {
	uint64_t last_trade_id;
	uint64_t last_agg_id;
	uint64_t last_update_id;
	uint32_t id;
	uint16_t venue_id;
	uint8_t reset; /* feed reconnected since the last trade */
	uint8_t used;
	char name[TR_NAME_LEN];
};

struct tr_engine {
	struct tr_config cfg;
	struct tr_writer *w;
	struct tr_uring *u;
	struct tr_parser *parser;
	struct tr_journal *journal;
	struct tr_capture *capture;
	struct tr_capture *dead;
	struct tr_ae *an;	/* analytics; NULL with `analytics no` */
	struct sym_state *syms; /* open addressing, nslots power of two */
	uint32_t nslots;
	struct sym_state **by_id; /* symbol id -> state */
	uint32_t cap;
	/* The candle clock runs on exchange time: the newest trade time seen,
	 * advanced by the receive-clock time elapsed since it arrived. Live that
	 * is the wall clock less the feed latency; in a replay (receive times
	 * are the recorded ones) and with old data served by a simulator it is
	 * the data's own time, so candles come out the same at any speed and a
	 * feed of 2024 data never meets a 2026 watermark. */
	int64_t evt_ns;	   /* newest trade time */
	int64_t evt_recv;  /* receive time of that trade */
	int64_t recv_ns;   /* newest receive time (replay: recorded) */
	bool replay_clock; /* replaying: the wall clock means nothing */
	int64_t last_bad_event_ns;
	uint64_t bad_since_event;
	bool journal_failed_reported;
};

static int64_t now_ns(void)
{
	return tr_now_ns();
}

static uint32_t hash_name(unsigned venue, const char *s)
{
	uint32_t h = 2166136261u ^ venue;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

static struct sym_state *sym_lookup(struct tr_engine *e, unsigned venue, const char *name)
{
	uint32_t i = hash_name(venue, name) & (e->nslots - 1);

	for (;; i = (i + 1) & (e->nslots - 1)) {
		struct sym_state *s = &e->syms[i];

		if (!s->used)
			return s; /* empty slot: where it would go */
		if (s->venue_id == venue && !strcmp(s->name, name))
			return s;
	}
}

/* The state of (venue, name), registering the symbol when allowed. */
static struct sym_state *sym_get(struct tr_engine *e, unsigned venue, const char *name, bool add)
{
	struct sym_state *s = sym_lookup(e, venue, name);

	if (s->used)
		return s;
	if (!add)
		return NULL;
	int id = tr_writer_symbol(e->w, venue, name);
	if (id < 0)
		return NULL;
	memset(s, 0, sizeof *s);
	s->used = 1;
	s->id = (uint32_t)id;
	s->venue_id = (uint16_t)venue;
	snprintf(s->name, sizeof s->name, "%s", name);
	e->by_id[id] = s;
	return s;
}

static void analytics_publish(void *ctx, unsigned kind, void *rec);

static int journal_open(struct tr_engine *e)
{
	struct tr_journal_config jc;

	if (!e->cfg.journal_dir[0])
		return 0;
	tr_journal_config_default(&jc);
	jc.dir = e->cfg.journal_dir;
	jc.segment_records = e->cfg.journal_segment_records;
	jc.retain_bytes = e->cfg.journal_retain_mb << 20;
	return tr_journal_open(&e->journal, e->u, &jc);
}

int tr_engine_open(struct tr_engine **out, const struct tr_config *cfg, struct tr_uring *u)
{
	struct tr_writer_config wc;
	struct tr_engine *e = calloc(1, sizeof *e);
	int rc;

	if (!e)
		return tr_err(ENOMEM, "out of memory");
	e->cfg = *cfg;
	e->u = u;
	tr_writer_config_default(&wc);
	wc.instance = e->cfg.instance;
	wc.dir = e->cfg.shm_dir[0] ? e->cfg.shm_dir : NULL;
	memcpy(wc.geometry.ring_slots, cfg->ring_slots, sizeof wc.geometry.ring_slots);
	wc.geometry.symbol_capacity = cfg->symbol_capacity;
	wc.geometry.interval_count = cfg->ninterval;
	memset(wc.geometry.intervals_s, 0, sizeof wc.geometry.intervals_s);
	memcpy(wc.geometry.intervals_s, cfg->intervals_s,
	       cfg->ninterval * sizeof cfg->intervals_s[0]);
	if ((rc = tr_writer_open(&e->w, &wc)) < 0)
		goto fail;
	e->cap = cfg->symbol_capacity;
	for (e->nslots = 16; e->nslots < 2 * e->cap; e->nslots <<= 1)
		;
	e->syms = calloc(e->nslots, sizeof *e->syms);
	e->by_id = calloc(e->cap, sizeof *e->by_id);
	e->parser = tr_parser_new();
	if (!e->syms || !e->by_id || !e->parser) {
		rc = tr_err(ENOMEM, "out of memory");
		goto fail;
	}
	/* Symbols of a reopened region keep their ids: rebuild the map. */
	const struct tr_superblock *sb = e->w->sb;
	const struct tr_symbol *tab = (const struct tr_symbol *)(e->w->base + sb->symbols.offset);
	for (uint32_t i = 0; i < sb->symbol_count; i++) {
		struct sym_state *s = sym_get(e, tab[i].venue_id, tab[i].name, true);
		const struct tr_latest *l =
		    (const struct tr_latest *)(e->w->base + sb->latest.offset) + i;

		/* Dedupe survives a restart: the last trade published is in the
		 * latest table (our own earlier writes; no reader races us here). */
		if (s && (l->valid & TR_LATEST_TRADE)) {
			if (l->trade.flags & TR_TRADE_AGG)
				s->last_agg_id = l->trade.trade_id;
			else
				s->last_trade_id = l->trade.trade_id;
		}
	}
	/* A crash between publishing a trade and recording it in the latest
	 * table leaves that one trade, the ring's newest, only in the ring. */
	const struct tr_wring *tw = &e->w->rings[TR_KIND_TRADE];
	const struct tr_trade *newest =
	    (const struct tr_trade *)(tw->slots + ((tw->next - 1) & tw->mask) * tw->slot_size);
	if (tw->next > 1 && newest->seq == tw->next - 1 && newest->symbol_id < sb->symbol_count &&
	    e->by_id[newest->symbol_id]) {
		struct sym_state *s = e->by_id[newest->symbol_id];
		uint64_t *last = newest->flags & TR_TRADE_AGG ? &s->last_agg_id : &s->last_trade_id;

		if (newest->trade_id > *last)
			*last = newest->trade_id;
	}
	for (unsigned f = 0; f < cfg->nfeeds; f++) {
		int v = tr_writer_venue(e->w, cfg->feeds[f].venue);
		if (v < 0) {
			rc = v;
			goto fail;
		}
		for (unsigned i = 0; i < cfg->nsymbols; i++)
			if (!sym_get(e, (unsigned)v, cfg->symbols[i], true)) {
				rc = tr_err_ctx(ENOSPC, "symbol %s", cfg->symbols[i]);
				goto fail;
			}
	}
	if ((rc = journal_open(e)) < 0) {
		rc = tr_err_ctx(rc, "journal %s", cfg->journal_dir);
		goto fail;
	}
	/* Continue after whatever was published last: the region's head, or
	 * the journal's last record if the region was lost (reboot). */
	for (unsigned k = 0; k < TR_NKINDS; k++) {
		uint64_t head = e->w->rings[k].next - 1;
		uint64_t jl = e->journal ? tr_journal_last_seq(e->journal, k) : 0;
		uint64_t next = (head > jl ? head : jl) + 1;

		tr_writer_set_next(e->w, k, next);
		if (e->journal && jl + 1 != next)
			tr_journal_restart(e->journal, k, next); /* records lost in a crash */
	}
	if (cfg->capture[0] && (rc = tr_capture_open(&e->capture, u, cfg->capture, NULL)) < 0) {
		rc = tr_err_ctx(rc, "capture %s", cfg->capture);
		goto fail;
	}
	/* One dead-letter file per epoch, so a restart never truncates the
	 * frames an earlier run rejected. Same line format as a capture: the
	 * file can be replayed once the cause is fixed. */
	char dl[320];
	snprintf(dl, sizeof dl, "%s.%llu",
		 cfg->dead_letter[0] ? cfg->dead_letter : "tickring.dead-letter",
		 (unsigned long long)e->w->sb->epoch);
	if (!cfg->dead_letter[0])
		snprintf(dl, sizeof dl, "tickring.%s.dead-letter.%llu", cfg->instance,
			 (unsigned long long)e->w->sb->epoch);
	if ((rc = tr_capture_open(&e->dead, u, dl, NULL)) < 0) {
		rc = tr_err_ctx(rc, "dead-letter file %s", dl);
		goto fail;
	}
	if (cfg->an.enabled && (rc = tr_ae_open(&e->an, cfg, e->w, analytics_publish, e)) < 0)
		goto fail;
	if (e->an && cfg->an.warm_start) {
		if (!e->w->reopened) {
			tr_log(TR_LOG_WARN, "warm start skipped: the region was made anew, so "
					    "symbol ids may not match the journal's");
		} else {
			long n = tr_ae_warm(e->an, cfg->journal_dir);
			if (n < 0)
				tr_log(TR_LOG_WARN, "warm start: %s", tr_errmsg());
			else
				tr_log(TR_LOG_INFO,
				       "warm start: %ld closed candles from the journal", n);
		}
	}
	*out = e;
	char ver[64];
	snprintf(ver, sizeof ver, "tickringd 0.1.0 epoch %llu",
		 (unsigned long long)e->w->sb->epoch);
	tr_engine_event_text(e, TR_EV_ENGINE_START, 0, 0, ver);
	tr_engine_commit(e);
	return 0;
fail:
	tr_engine_close(e);
	return rc;
}

void tr_engine_finish(struct tr_engine *e)
{
	if (!e)
		return;
	tr_ae_close(e->an); /* open candles as finals, before the journal closes */
	e->an = NULL;
	tr_engine_commit(e);
}

void tr_engine_close(struct tr_engine *e)
{
	if (!e)
		return;
	tr_engine_finish(e);
	if (e->journal)
		tr_journal_close(e->journal);
	if (e->capture)
		tr_capture_close(e->capture);
	if (e->dead)
		tr_capture_close(e->dead);
	tr_writer_close(e->w);
	tr_parser_free(e->parser);
	free(e->syms);
	free(e->by_id);
	free(e);
}

struct tr_writer *tr_engine_writer(struct tr_engine *e)
{
	return e->w;
}

int tr_engine_symbol(struct tr_engine *e, unsigned venue_id, const char *name)
{
	struct sym_state *s = sym_get(e, venue_id, name, true);

	return s ? (int)s->id : tr_err(ENOSPC, "cannot register %s: %s", name, tr_errmsg());
}

int tr_engine_venue(struct tr_engine *e, const char *name)
{
	return tr_writer_venue(e->w, name);
}

/* Publish to ring kind, then journal it. Inline: where kind is a constant
 * the record copy is unrolled. */
static inline void publish(struct tr_engine *e, unsigned kind, void *rec)
{
	tr_writer_publish(e->w, kind, rec);
	if (e->journal && tr_journal_append(e->journal, kind, rec) < 0 &&
	    !e->journal_failed_reported) {
		tr_log(TR_LOG_ERROR, "journal: %s", tr_journal_last_error(e->journal));
		e->journal_failed_reported = true;
	}
}

static void publish_event(struct tr_engine *e, struct tr_event *ev)
{
	publish(e, TR_KIND_EVENT, ev);
	tr_writer_counter_add(e->w, TR_CTR_EVENTS, 1);
}

/* Analytics records: candles and events, counted. */
static void analytics_publish(void *ctx, unsigned kind, void *rec)
{
	struct tr_engine *e = ctx;

	if (kind == TR_KIND_CANDLE) { /* six or more per symbol and timer run */
		publish(e, TR_KIND_CANDLE, rec);
		tr_writer_counter_add(e->w, TR_CTR_CANDLES, 1);
	} else {
		publish(e, kind, rec);
		tr_writer_counter_add(e->w, TR_CTR_EVENTS, 1);
	}
}

void tr_engine_event_text(struct tr_engine *e, unsigned type, unsigned severity, unsigned venue_id,
			  const char *text)
{
	struct tr_event ev;

	memset(&ev, 0, sizeof ev);
	ev.ts_event = ev.ts_recv = now_ns();
	ev.type = (uint16_t)type;
	ev.severity = (uint8_t)severity;
	ev.symbol_id = UINT32_MAX;
	ev.venue_id = (uint16_t)venue_id;
	snprintf(ev.u.text, sizeof ev.u.text, "%s", text);
	publish_event(e, &ev);
}

static void gap_event(struct tr_engine *e, const struct sym_state *s, uint64_t expected,
		      uint64_t got, unsigned id_kind, int64_t ts_event, int64_t ts_recv)
{
	struct tr_event ev;

	memset(&ev, 0, sizeof ev);
	ev.ts_event = ts_event;
	ev.ts_recv = ts_recv;
	ev.type = TR_EV_GAP;
	ev.severity = 1;
	ev.symbol_id = s->id;
	ev.venue_id = s->venue_id;
	ev.u.gap.expected_id = expected;
	ev.u.gap.got_id = got;
	ev.u.gap.missing = got - expected;
	ev.u.gap.id_kind = id_kind;
	publish_event(e, &ev);
}

static const unsigned bad_counter[] = {
    [TR_BAD_NONE] = TR_CTR_BAD_VALUE,
    [TR_BAD_JSON] = TR_CTR_BAD_JSON,
    [TR_BAD_TYPE] = TR_CTR_BAD_TYPE,
    [TR_BAD_MISSING] = TR_CTR_BAD_MISSING,
    [TR_BAD_VALUE] = TR_CTR_BAD_VALUE,
    [TR_BAD_OVERFLOW] = TR_CTR_BAD_OVERFLOW,
    [TR_BAD_UNKNOWN_STREAM] = TR_CTR_BAD_UNKNOWN_STREAM,
    [TR_BAD_OVERSIZE] = TR_CTR_BAD_OVERSIZE,
};

/* Write a frame as one capture line; a newline inside (only a malformed
 * frame has one) becomes a space, since the line format cannot carry it. */
static void capture_line(struct tr_capture *c, int64_t ts, const char *buf, size_t len)
{
	if (!memchr(buf, '\n', len)) {
		tr_capture_write(c, ts, buf, len);
		return;
	}
	char *copy = malloc(len);
	if (!copy)
		return;
	for (size_t i = 0; i < len; i++)
		copy[i] = buf[i] == '\n' ? ' ' : buf[i];
	tr_capture_write(c, ts, copy, len);
	free(copy);
}

/* Count, dead-letter, and (at most once a second) say so on the event ring. */
static void reject(struct tr_engine *e, unsigned counter, unsigned venue, const char *why,
		   int64_t ts_recv, const char *buf, size_t len)
{
	tr_writer_counter_add(e->w, counter, 1);
	if (e->dead)
		capture_line(e->dead, ts_recv, buf, len > TR_PARSE_MAX_FRAME ? 4096 : len);
	e->bad_since_event++;
	if (ts_recv - e->last_bad_event_ns >= 1000000000) {
		char text[88];

		snprintf(text, sizeof text, "%s (%llu rejected since last report)", why,
			 (unsigned long long)e->bad_since_event);
		tr_engine_event_text(e, TR_EV_BAD_INPUT, 1, venue, text);
		e->last_bad_event_ns = ts_recv;
		e->bad_since_event = 0;
	}
}

static void latest_quote(struct tr_engine *e, const struct tr_quote *q)
{
	struct tr_latest *l = tr_latest_begin(e->w, q->symbol_id);

	tr_latest_put(l, &l->quote, q, sizeof *q);
	tr_latest_mark(l, TR_LATEST_QUOTE);
	tr_store_relaxed(&l->ts_update, q->ts_recv); /* published by tr_latest_end */
	tr_latest_end(l);
}

/* The candle clock at receive time now (see struct tr_engine). */
static int64_t candle_clock(const struct tr_engine *e, int64_t now)
{
	return e->evt_ns ? e->evt_ns + (now - e->evt_recv) : now;
}

/* A trade into the latest table. */
static void latest_trade(struct tr_engine *e, const struct tr_trade *t)
{
	struct tr_latest *l = tr_latest_begin(e->w, t->symbol_id);

	tr_latest_put(l, &l->trade, t, sizeof *t);
	tr_latest_mark(l, TR_LATEST_TRADE);
	tr_store_relaxed(&l->ts_update, t->ts_recv); /* published by tr_latest_end */
	tr_latest_end(l);
}

static int on_trade(struct tr_engine *e, struct sym_state *s, const struct tr_msg *m,
		    enum tr_source src, int64_t ts_recv)
{
	const struct tr_msg_trade *mt = &m->u.trade;
	bool agg = m->kind == TR_MSG_AGGTRADE;
	uint64_t *last = agg ? &s->last_agg_id : &s->last_trade_id;
	uint32_t flags = 0;

	/* Gateway trades without ids (0) are not deduplicated. */
	bool numbered = !(src == TR_SRC_GATEWAY && mt->trade_id == 0);

	if (numbered && *last && mt->trade_id <= *last) {
		tr_writer_counter_add(e->w, TR_CTR_DUP_TRADES, 1);
		return 0;
	}
	if (numbered && *last && mt->trade_id > *last + 1) {
		flags |= TR_TRADE_GAP;
		tr_writer_counter_add(e->w, TR_CTR_TRADE_GAPS, 1);
		gap_event(e, s, *last + 1, mt->trade_id, 0, mt->ts_trade, ts_recv);
	}
	if (numbered)
		*last = mt->trade_id;
	s->reset = 0;

	struct tr_trade t;
	memset(&t, 0, sizeof t);
	t.ts_event = mt->ts_trade;
	t.ts_recv = ts_recv;
	t.price = mt->price;
	t.qty = mt->qty;
	t.trade_id = mt->trade_id;
	t.symbol_id = s->id;
	t.venue_id = s->venue_id;
	t.side = mt->side;
	t.flags = flags | (mt->nonmarket ? TR_TRADE_NONMARKET : 0) | (agg ? TR_TRADE_AGG : 0) |
		  (src == TR_SRC_REPLAY ? TR_TRADE_REPLAY : 0) |
		  (src == TR_SRC_GATEWAY ? TR_TRADE_GATEWAY : 0);
	uint64_t n = agg && mt->last_id >= mt->first_id ? mt->last_id - mt->first_id + 1 : 1;
	t.trade_count = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
	if (e->an)
		t.flags |= tr_ae_check(e->an, &t);
	publish(e, TR_KIND_TRADE, &t);
	latest_trade(e, &t);
	if (e->an) {
		if (t.ts_event > e->evt_ns) {
			e->evt_ns = t.ts_event;
			e->evt_recv = t.ts_recv;
		}
		tr_ae_trade(e->an, &t, candle_clock(e, t.ts_recv));
	}
	tr_writer_counter_add(e->w, TR_CTR_TRADES, 1);
	return 1;
}

static int on_quote(struct tr_engine *e, struct sym_state *s, const struct tr_msg *m,
		    enum tr_source src, int64_t ts_recv)
{
	const struct tr_msg_quote *mq = &m->u.quote;

	if (src != TR_SRC_GATEWAY && s->last_update_id && mq->update_id <= s->last_update_id)
		return 0; /* a duplicate from an overlapping connection */
	s->last_update_id = mq->update_id;

	struct tr_quote q;
	memset(&q, 0, sizeof q);
	q.ts_event = mq->ts_event;
	q.ts_recv = ts_recv;
	q.bid_px = mq->bid_px;
	q.bid_qty = mq->bid_qty;
	q.ask_px = mq->ask_px;
	q.ask_qty = mq->ask_qty;
	q.symbol_id = s->id;
	q.venue_id = s->venue_id;
	q.flags = src == TR_SRC_REPLAY ? TR_QUOTE_REPLAY : 0;
	publish(e, TR_KIND_QUOTE, &q);
	latest_quote(e, &q);
	tr_writer_counter_add(e->w, TR_CTR_QUOTES, 1);
	return 1;
}

static int dispatch(struct tr_engine *e, unsigned venue, enum tr_source src, int64_t ts_recv,
		    const struct tr_msg *m, const char *buf, size_t len)
{
	struct sym_state *s;

	switch (m->kind) {
	case TR_MSG_BAD:
		reject(e, bad_counter[m->bad], venue, m->why ? m->why : tr_bad_name(m->bad),
		       ts_recv, buf, len);
		return 0;
	case TR_MSG_REPLY:
		if (m->u.reply.is_error)
			tr_engine_event_text(e, TR_EV_FEED_DOWN, 2, venue,
					     "request rejected by venue");
		return 0;
	case TR_MSG_IGNORED:
		return 0;
	case TR_MSG_TRADE:
	case TR_MSG_AGGTRADE:
	case TR_MSG_QUOTE:
		break;
	}
	s = sym_get(e, venue, m->symbol, src != TR_SRC_FEED);
	if (!s) {
		reject(e, TR_CTR_UNKNOWN_SYMBOL, venue, "unknown symbol", ts_recv, buf, len);
		return 0;
	}
	return m->kind == TR_MSG_QUOTE ? on_quote(e, s, m, src, ts_recv)
				       : on_trade(e, s, m, src, ts_recv);
}

int tr_engine_frame(struct tr_engine *e, unsigned venue_id, enum tr_source src, int64_t ts_recv,
		    const char *buf, size_t len)
{
	struct tr_msg m;

	tr_writer_counter_add(e->w, TR_CTR_FRAMES_IN, 1);
	tr_writer_counter_add(e->w, TR_CTR_BYTES_IN, len);
	if (src == TR_SRC_REPLAY)
		e->replay_clock = true;
	if (ts_recv > e->recv_ns)
		e->recv_ns = ts_recv;
	tr_parse_binance(e->parser, buf, len, &m);
	return dispatch(e, venue_id, src, ts_recv, &m, buf, len);
}

int tr_engine_gateway_line(struct tr_engine *e, int64_t ts_recv, const char *buf, size_t len)
{
	struct tr_msg m;
	int venue = 0;

	tr_writer_counter_add(e->w, TR_CTR_FRAMES_IN, 1);
	tr_writer_counter_add(e->w, TR_CTR_BYTES_IN, len);
	if (ts_recv > e->recv_ns)
		e->recv_ns = ts_recv;
	tr_parse_gateway(e->parser, buf, len, &m);
	if (m.kind != TR_MSG_BAD) {
		venue = tr_writer_venue(e->w, m.venue);
		if (venue < 0) {
			reject(e, TR_CTR_BAD_VALUE, 0, "gateway: bad or too many venues", ts_recv,
			       buf, len);
			return 0;
		}
		if (!m.u.trade.ts_trade && (m.kind == TR_MSG_TRADE || m.kind == TR_MSG_AGGTRADE))
			m.u.trade.ts_trade = ts_recv;
	}
	return dispatch(e, (unsigned)venue, TR_SRC_GATEWAY, ts_recv, &m, buf, len);
}

void tr_engine_feed_reset(struct tr_engine *e, unsigned venue_id)
{
	for (uint32_t i = 0; i < e->cap; i++) {
		struct sym_state *s = e->by_id[i];

		if (!s || s->venue_id != venue_id)
			continue;
		s->reset = 1;
	}
	if (e->an)
		tr_ae_feed_reset(e->an, venue_id);
}

void tr_engine_capture(struct tr_engine *e, int64_t ts_recv, const char *buf, size_t len)
{
	if (e->capture)
		capture_line(e->capture, ts_recv, buf, len);
}

void tr_engine_commit(struct tr_engine *e)
{
	if (e->an)
		tr_ae_commit(e->an, e->recv_ns);
	tr_writer_commit(e->w);
	if (e->journal)
		tr_journal_flush(e->journal);
	if (e->capture)
		tr_capture_flush(e->capture);
	if (e->dead)
		tr_capture_flush(e->dead);
	tr_uring_submit(e->u);
}

void tr_engine_tick(struct tr_engine *e)
{
	int64_t now = tr_now_ns();

	tr_writer_heartbeat(e->w);
	/* Live, time is the wall clock, so quiet symbols' candles close on
	 * time; in a replay it is the recorded receive time. */
	if (!e->replay_clock && now > e->recv_ns)
		e->recv_ns = now;
	/* Before the first trade the candle clock would be the wall clock, which
	 * may be years ahead of a recorded feed's data: no clock until then. */
	if (e->an)
		tr_ae_tick(e->an, e->evt_ns ? candle_clock(e, e->recv_ns) : 0, e->recv_ns);
}
