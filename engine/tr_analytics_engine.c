/* tr_analytics_engine.c - per-symbol analytics state and its publication (tr_analytics_engine.h).
 *
 * State lives in one struct ae_sym per symbol that has traded (by symbol
 * id). The dirty list holds the ids whose latest-table analytics are behind;
 * `dirty` on the symbol says it is on the list. Everything that changes a
 * symbol's published analytics (a trade, a closed candle, a stale flag) marks
 * it dirty; refresh() writes the whole analytics part of its latest entry
 * under one seqlock update, so a reader always sees candles, statistics and
 * indicators of the same moment.
 */
#include "tr_analytics_engine.h"

#include "tr_analytics.h"
#include "tr_candle.h"
#include "tr_err.h"
#include "tr_indicators.h"
#include "tr_journal.h"
#include "tr_log.h"
#include "tr_stats24h.h"
#include "tr_writer.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS_PER_S 1000000000LL
#define H1_NS (3600 * NS_PER_S)

struct ae_sym;

/* Where a builder's records go. */
struct ae_cctx {
	struct tr_ae *a;
	struct ae_sym *s;
	unsigned k;
};

struct ae_sym {
	uint32_t id;
	uint16_t venue_id;
	uint8_t dirty;	    /* on the dirty list */
	uint8_t stale;	    /* stale event sent, not cleared yet */
	uint32_t ind_dirty; /* interval slots whose indicators changed */
	int64_t flushed;    /* receive clock of the last refresh */
	/* Trades of the current 1 s span not yet merged into the builders:
	 * every builder gets one merge per span (or per refresh), not one add
	 * per trade. span_ok: the span's buckets are open in every builder. */
	struct tr_candle_agg agg;
	int span_ok;
	/* The 24 h window gets the trades the aggregate holds when it is
	 * folded, not one by one (not for a symbol with alert rules: change
	 * rules read the window on every trade). */
	int batch24;
	/* The builders' current candles as the timer left them, for the
	 * refresh that follows in the same run (cur_ok: valid until then). */
	const struct tr_candle *cur[TR_MAX_INTERVALS];
	int cur_ok;
	struct tr_candle_builder *cb[TR_MAX_INTERVALS];
	struct ae_cctx cctx[TR_MAX_INTERVALS];
	struct tr_ind *ind[TR_MAX_INTERVALS];
	struct tr_spike *spike[TR_MAX_INTERVALS];
	struct tr_indicators irec[TR_MAX_INTERVALS]; /* as published */
	struct tr_s24 *s24;
	int h1; /* sub-window of s24 for the 1 h movers, -1 if none */
	struct tr_outlier out;
	int64_t out_dev; /* deviation of the trade tr_ae_check flagged */
	int64_t out_ref;
	uint64_t outliers;
	int64_t last_recv; /* receive clock of the last trade */
	int64_t last_evt;  /* exchange time of the last trade */
	uint64_t rules;	   /* alert rules about this symbol */
	uint64_t cross_known, cross_above, change_on;
	int8_t win[TR_AN_MAX_RULES]; /* change rules: their s24 sub-window */
};

struct tr_ae {
	struct tr_config cfg;
	struct tr_an_config *an; /* = &cfg.an */
	struct tr_writer *w;
	tr_ae_publish_fn publish;
	void *ctx;
	uint32_t cap;
	struct ae_sym **sym; /* by id */
	uint32_t *live;	     /* ids of the symbols in sym, ascending: the timer's list */
	uint32_t nlive;
	uint32_t *dirty;
	uint32_t ndirty;
	int64_t refresh_ns, stale_ns;
	int64_t late_ns;     /* the builders' lateness: watermark = clock - late_ns */
	uint32_t spike_mask; /* interval slots checked for spikes */
	int64_t ranked_at;   /* clock second of the last movers ranking */
	struct tr_stats24h *st24, *st1h;
	const struct tr_stats24h **p24, **p1h;
	struct tr_ind_config icfg;
	int ind_on;
	int64_t clock; /* latest candle clock seen */
	/* The movers ranking being built, and a copy of what the shared table
	 * holds (valid once mv_written), so a ranking writes only its changes. */
	struct tr_movers *mv, *mv_pub;
	int mv_written;
};

static void mark(struct tr_ae *a, struct ae_sym *s)
{
	if (!s->dirty) {
		s->dirty = 1;
		a->dirty[a->ndirty++] = s->id;
	}
}

/* The aggregate's trades into the 24 h window, as if added one by one. */
static void fold24(struct ae_sym *s)
{
	const struct tr_candle_agg *g = &s->agg;
	struct tr_s24_batch b = {.first_price = g->arr_price,
				 .first_id = g->arr_id,
				 .last_ts = g->lat_ts,
				 .last_price = g->lat_price,
				 .last_id = g->lat_id,
				 .high = g->high,
				 .low = g->low,
				 .count = g->trade_count,
				 .volume = g->volume,
				 .quote = g->quote};

	if (s->batch24)
		tr_s24_add_batch(s->s24, &b);
}

/* Merge the pending trades into every builder and the 24 h window. */
static void fold(struct tr_ae *a, struct ae_sym *s)
{
	if (!s->agg.trades)
		return;
	tr_candle_agg_split(&s->agg); /* once for every builder */
	for (unsigned k = 0; k < a->cfg.ninterval; k++)
		tr_candle_add_agg(s->cb[k], &s->agg, a->clock);
	fold24(s);
	tr_candle_agg_reset(&s->agg, s->agg.span_lo, s->agg.span_hi);
}

/* ---- events ---- */

static void ev_init(struct tr_event *ev, const struct ae_sym *s, unsigned type, unsigned sev,
		    int64_t ts_event, int64_t ts_recv)
{
	memset(ev, 0, sizeof *ev);
	ev->type = (uint16_t)type;
	ev->severity = (uint8_t)sev;
	ev->symbol_id = s->id;
	ev->venue_id = s->venue_id;
	ev->ts_event = ts_event;
	ev->ts_recv = ts_recv;
}

static void alert(struct tr_ae *a, const struct ae_sym *s, unsigned rule, int64_t value,
		  int64_t threshold, uint32_t aux, int64_t ts_event, int64_t ts_recv)
{
	const struct tr_alert_rule *r = &a->an->rules[rule];
	struct tr_event ev;

	ev_init(&ev, s, TR_EV_ALERT, 1, ts_event, ts_recv);
	ev.aux = aux;
	ev.u.alert.rule_id = rule;
	ev.u.alert.rule_kind = r->kind;
	ev.u.alert.value = value;
	ev.u.alert.threshold = threshold;
	snprintf(ev.u.alert.text, sizeof ev.u.alert.text, "%s", r->name);
	a->publish(a->ctx, TR_KIND_EVENT, &ev);
}

/* Alert rules of kind about s whose interval matches (spike), fired. */
static void alerts_of_kind(struct tr_ae *a, const struct ae_sym *s, unsigned kind,
			   uint32_t interval_s, int64_t value, int64_t threshold, int64_t ts_event,
			   int64_t ts_recv)
{
	for (uint64_t m = s->rules; m; m &= m - 1) {
		unsigned i = (unsigned)__builtin_ctzll(m);
		const struct tr_alert_rule *r = &a->an->rules[i];

		if (r->kind == kind && (!r->interval_s || r->interval_s == interval_s))
			alert(a, s, i, value, threshold, interval_s, ts_event, ts_recv);
	}
}

static void stale_event(struct tr_ae *a, struct ae_sym *s, unsigned type, int64_t ts_event,
			int64_t ts_recv, int64_t silent)
{
	struct tr_event ev;

	ev_init(&ev, s, type, type == TR_EV_STALE ? 1 : 0, ts_event, ts_recv);
	ev.u.stale.last_trade_ns = s->last_evt;
	ev.u.stale.silent_ns = silent;
	a->publish(a->ctx, TR_KIND_EVENT, &ev);
	if (type == TR_EV_STALE)
		alerts_of_kind(a, s, TR_ALERT_STALE, 0, silent / 10, a->stale_ns / 10, ts_event,
			       ts_recv); /* seconds x 1e-8 */
}

/* ---- closed candles ---- */

static void ind_record(struct tr_ae *a, struct ae_sym *s, unsigned k, const struct tr_candle *c)
{
	struct tr_indicators *r = &s->irec[k];
	struct tr_ind_values v;

	tr_ind_get(s->ind[k], &v);
	memset(r, 0, sizeof *r);
	r->open_time = c->open_time;
	r->closes = v.closes;
	r->valid = v.valid;
	r->interval_s = c->interval_s;
	for (int i = 0; i < 4; i++) {
		r->sma_period[i] = (uint16_t)a->icfg.sma[i];
		r->ema_period[i] = (uint16_t)a->icfg.ema[i];
		r->sma[i] = v.sma[i];
		r->ema[i] = v.ema[i];
	}
	r->rsi_period = (uint16_t)a->icfg.rsi;
	r->macd_fast_period = (uint16_t)a->icfg.macd_fast;
	r->macd_slow_period = (uint16_t)a->icfg.macd_slow;
	r->macd_signal_period = (uint16_t)a->icfg.macd_signal;
	r->bb_period = (uint16_t)a->icfg.bb_period;
	r->bb_k = a->icfg.bb_k;
	r->revision = c->revision;
	r->rsi = v.rsi;
	r->macd = v.macd;
	r->macd_signal = v.macd_signal;
	r->macd_hist = v.macd_hist;
	r->bb_mid = v.bb_mid;
	r->bb_upper = v.bb_upper;
	r->bb_lower = v.bb_lower;
	r->close = c->close;
	s->ind_dirty |= 1u << k;
}

/* A final candle of slot k (first record or a revision): indicators and
 * spike baseline. Returns 1 for a new close, 0 for a revision of the last
 * close, -1 for one too old to matter. events: also judge spikes. */
static int on_final(struct tr_ae *a, struct ae_sym *s, unsigned k, const struct tr_candle *c,
		    int events)
{
	const struct tr_indicators *r = &s->irec[k];
	int fresh = !r->closes || c->open_time > r->open_time;

	if (!fresh && c->open_time != r->open_time)
		return -1; /* revision of an older candle: indicators moved on */
	if (s->ind[k]) {
		if (fresh)
			tr_ind_update(s->ind[k], c->close, NULL);
		else
			tr_ind_revise(s->ind[k], c->close, NULL);
		ind_record(a, s, k, c);
	}
	if (s->spike[k]) {
		int64_t base, score;

		if (!fresh)
			tr_spike_revise(s->spike[k], c->volume);
		else if (tr_spike_close(s->spike[k], c->volume, &base, &score) && events) {
			struct tr_event ev;
			int64_t now = c->open_time + (int64_t)c->interval_s * NS_PER_S;

			ev_init(&ev, s, TR_EV_VOLUME_SPIKE, 0, now, now);
			ev.aux = c->interval_s;
			ev.u.spike.volume = c->volume;
			ev.u.spike.baseline = base;
			ev.u.spike.score = score;
			ev.u.spike.open_time = c->open_time;
			ev.u.spike.interval_s = c->interval_s;
			a->publish(a->ctx, TR_KIND_EVENT, &ev);
			alerts_of_kind(a, s, TR_ALERT_SPIKE, c->interval_s, score,
				       a->an->spike_threshold, now, now);
		}
	}
	return fresh;
}

static void candle_emit(void *arg, struct tr_candle *c)
{
	struct ae_cctx *cc = arg;

	cc->a->publish(cc->a->ctx, TR_KIND_CANDLE, c); /* stamps c->seq */
	if (c->flags & TR_CANDLE_FINAL) {
		on_final(cc->a, cc->s, cc->k, c, 1);
		mark(cc->a, cc->s);
	}
}

/* ---- symbols ---- */

static const char *sym_name(struct tr_ae *a, uint32_t id)
{
	const struct tr_symbol *tab =
	    (const struct tr_symbol *)(a->w->base + a->w->sb->symbols.offset);
	return tab[id].name;
}

static void sym_free(struct ae_sym *s)
{
	if (!s)
		return;
	for (unsigned k = 0; k < TR_MAX_INTERVALS; k++) {
		tr_candle_free(s->cb[k]);
		tr_ind_free(s->ind[k]);
		tr_spike_free(s->spike[k]);
	}
	tr_s24_free(s->s24);
	tr_outlier_free(&s->out);
	free(s);
}

static struct ae_sym *sym_new(struct tr_ae *a, uint32_t id, uint16_t venue)
{
	struct ae_sym *s = calloc(1, sizeof *s);
	struct tr_s24_config sc;

	if (!s)
		return NULL;
	s->id = id;
	s->venue_id = venue;
	s->h1 = -1;
	tr_s24_config_default(&sc);
	if (tr_s24_create(&s->s24, &sc) < 0)
		goto fail;
	s->h1 = tr_s24_add_window(s->s24, H1_NS);
	if (tr_outlier_init(&s->out, a->an->outlier_window, a->an->outlier_mads,
			    a->an->outlier_floor_bps) < 0)
		goto fail;
	for (unsigned k = 0; k < a->cfg.ninterval; k++) {
		struct tr_candle_cfg cc;

		memset(&cc, 0, sizeof cc);
		cc.interval_s = a->cfg.intervals_s[k];
		cc.symbol_id = id;
		cc.venue_id = venue;
		cc.policy = a->cfg.candle_flat ? TR_CANDLE_POLICY_FLAT : TR_CANDLE_POLICY_SKIP;
		cc.partial_per_s = a->cfg.candle_partials;
		cc.lateness_ns = (int64_t)a->cfg.candle_lateness_ms * 1000000;
		cc.revise_ns = cc.lateness_ns;
		cc.lazy_partials = 1;
		s->cctx[k] = (struct ae_cctx){a, s, k};
		cc.emit = candle_emit;
		cc.ctx = &s->cctx[k];
		if (!(s->cb[k] = tr_candle_new(&cc)))
			goto fail;
		if (a->ind_on && tr_ind_create(&s->ind[k], &a->icfg) < 0)
			goto fail;
		if ((a->spike_mask >> k & 1) &&
		    !(s->spike[k] = tr_spike_new(a->an->spike_window, a->an->spike_mode,
						 a->an->spike_threshold)))
			goto fail;
	}
	/* Alert rules about this symbol; change rules get a sub-window. */
	const char *name = sym_name(a, id);
	for (uint32_t i = 0; i < a->an->nrules; i++) {
		const struct tr_alert_rule *r = &a->an->rules[i];

		if (strcmp(r->symbol, "*") && strcmp(r->symbol, name))
			continue;
		if (r->kind == TR_ALERT_CHANGE) {
			int w = tr_s24_add_window(s->s24, r->window_ns);
			if (w < 0) {
				tr_log(TR_LOG_WARN, "alert %s: no window left for %s, rule ignored",
				       r->name, name);
				continue;
			}
			s->win[i] = (int8_t)w;
		}
		s->rules |= 1ull << i;
	}
	s->batch24 = !s->rules;
	return s;
fail:
	sym_free(s);
	return NULL;
}

static __attribute__((noinline)) struct ae_sym *sym_add(struct tr_ae *a, uint32_t id,
							uint16_t venue)
{
	if (!(a->sym[id] = sym_new(a, id, venue))) {
		tr_log(TR_LOG_ERROR, "analytics for symbol %u: out of memory", id);
		return NULL;
	}
	/* in id order, as a scan of sym would visit them */
	uint32_t j = a->nlive++;
	for (; j > 0 && a->live[j - 1] > id; j--)
		a->live[j] = a->live[j - 1];
	a->live[j] = id;
	return a->sym[id];
}

/* Twice per trade: the lookup inline, the first-trade setup out of line. */
static inline struct ae_sym *sym_get(struct tr_ae *a, uint32_t id, uint16_t venue)
{
	if (id >= a->cap)
		return NULL;
	return a->sym[id] ? a->sym[id] : sym_add(a, id, venue);
}

static void rank(struct tr_ae *a, int64_t clock);

/* ---- open / close ---- */

int tr_ae_open(struct tr_ae **out, const struct tr_config *cfg, struct tr_writer *w,
	       tr_ae_publish_fn publish, void *ctx)
{
	struct tr_ae *a = calloc(1, sizeof *a);

	if (!a)
		return tr_err(ENOMEM, "out of memory");
	a->cfg = *cfg;
	a->an = &a->cfg.an;
	a->w = w;
	a->publish = publish;
	a->ctx = ctx;
	a->cap = w->sb->symbol_capacity;
	a->refresh_ns = (int64_t)a->an->refresh_us * 1000;
	a->stale_ns = (int64_t)a->an->stale_ms * 1000000;
	a->late_ns = (int64_t)cfg->candle_lateness_ms * 1000000;
	a->ranked_at = INT64_MIN;
	a->sym = calloc(a->cap, sizeof *a->sym);
	a->dirty = calloc(a->cap, sizeof *a->dirty);
	a->live = calloc(a->cap, sizeof *a->live);
	a->st24 = calloc(a->cap, sizeof *a->st24);
	a->st1h = calloc(a->cap, sizeof *a->st1h);
	a->p24 = calloc(a->cap, sizeof *a->p24);
	a->p1h = calloc(a->cap, sizeof *a->p1h);
	a->mv = calloc(2, sizeof *a->mv);
	a->mv_pub = a->mv ? a->mv + 1 : NULL;
	if (!a->sym || !a->dirty || !a->live || !a->st24 || !a->st1h || !a->p24 || !a->p1h ||
	    !a->mv) {
		tr_ae_close(a);
		return tr_err(ENOMEM, "out of memory");
	}
	struct tr_ind_config *ic = &a->icfg;
	memset(ic, 0, sizeof *ic);
	memcpy(ic->sma, a->an->sma, sizeof ic->sma);
	memcpy(ic->ema, a->an->ema, sizeof ic->ema);
	ic->rsi = a->an->rsi;
	ic->macd_fast = a->an->macd[0];
	ic->macd_slow = a->an->macd[1];
	ic->macd_signal = a->an->macd[2];
	ic->bb_period = a->an->bb_period;
	ic->bb_k = a->an->bb_k;
	struct tr_ind *probe;
	if (tr_ind_create(&probe, ic) < 0) {
		tr_ae_close(a);
		return tr_err(EINVAL, "indicator settings rejected (periods, macd slow > fast)");
	}
	tr_ind_free(probe);
	a->ind_on = 1;
	for (unsigned k = 0; k < cfg->ninterval; k++)
		for (unsigned i = 0; a->an->spike_mode && i < a->an->nspike_intervals; i++)
			if (a->an->spike_intervals[i] == cfg->intervals_s[k])
				a->spike_mask |= 1u << k;
	*out = a;
	return 0;
}

/* (last - open) * 1e10 / open, toward zero, open > 0: one hardware divide
 * on the magnitude while the quotient fits 64 bits, not the library's. */
static int64_t change_1e10(int64_t last, int64_t open)
{
	__int128 n = ((__int128)last - open) * 10000000000ll;
	unsigned __int128 m = n < 0 ? -(unsigned __int128)n : (unsigned __int128)n;
	uint64_t hi = (uint64_t)(m >> 64);

#if defined(__x86_64__)
	if (hi < (uint64_t)open >> 1) { /* quotient < 2^63: fits int64 */
		uint64_t q, r;

		__asm__("divq %4"
			: "=a"(q), "=d"(r)
			: "a"((uint64_t)m), "d"(hi), "rm"((uint64_t)open));
		(void)r;
		return n < 0 ? -(int64_t)q : (int64_t)q;
	}
#endif
	return (int64_t)(n / open);
}

/* Write the analytics part of s's latest entry, emitting due partials. */
static void refresh(struct tr_ae *a, struct ae_sym *s, int64_t recv)
{
	struct tr_latest *l = tr_latest_begin(a->w, s->id);
	uint32_t bits = TR_LATEST_ANALYTICS;
	struct tr_stats24h st;
	struct tr_sym_analytics an;

	if (!s->cur_ok) {
		fold(a, s);
		for (unsigned k = 0; k < a->cfg.ninterval; k++) {
			tr_candle_partial(s->cb[k], a->clock);
			s->cur[k] = tr_candle_current(s->cb[k]);
		}
	}
	s->cur_ok = 0;
	for (unsigned k = 0; k < a->cfg.ninterval; k++) {
		const struct tr_candle *c = s->cur[k];

		if (c) {
			tr_latest_put(l, &l->candles[k], c, sizeof *c);
			bits |= TR_LATEST_CANDLE(k);
		}
	}
	if (tr_s24_read(s->s24, &st) >= 0) {
		tr_latest_put(l, &l->stats, &st, sizeof st);
		bits |= TR_LATEST_STATS;
	}
	memset(&an, 0, sizeof an);
	int64_t last = tr_s24_last(s->s24), open;
	if (s->h1 >= 0 && tr_s24_window_open(s->s24, (unsigned)s->h1, &open) && open > 0) {
		an.open_1h = open;
		an.change_1h = (int64_t)((__int128)last - open);
		an.change_pct_1h = change_1e10(last, open); /* toward zero */
		an.flags |= TR_SYMA_H1;
	}
	if (s->out.valid) {
		an.reference = s->out.ref;
		an.mad = s->out.mad;
		an.flags |= TR_SYMA_OUTLIER;
	}
	an.outliers = s->outliers;
	an.last_trade_ns = s->last_recv;
	if (s->stale)
		an.flags |= TR_SYMA_STALE;
	tr_latest_put(l, &l->analytics, &an, sizeof an);
	for (uint32_t m = s->ind_dirty; m; m &= m - 1) {
		unsigned k = (unsigned)__builtin_ctz(m);
		tr_latest_put(l, &l->indicators[k], &s->irec[k], sizeof s->irec[k]);
	}
	s->ind_dirty = 0;
	tr_latest_mark(l, bits);
	tr_latest_end(l);
	s->flushed = recv;
}

/* Refresh dirty symbols: all of them, or those due by refresh_ns. */
static void refresh_dirty(struct tr_ae *a, int64_t recv, int all)
{
	uint32_t kept = 0;

	for (uint32_t i = 0; i < a->ndirty; i++) {
		struct ae_sym *s = a->sym[a->dirty[i]];

		if (all || recv - s->flushed >= a->refresh_ns || recv < s->flushed) {
			refresh(a, s, recv);
			s->dirty = 0;
		} else {
			a->dirty[kept++] = s->id;
		}
	}
	a->ndirty = kept;
}

void tr_ae_close(struct tr_ae *a)
{
	if (!a)
		return;
	for (uint32_t i = 0; a->sym && i < a->cap; i++) {
		struct ae_sym *s = a->sym[i];

		if (s)
			fold(a, s);
		for (unsigned k = 0; s && k < a->cfg.ninterval; k++)
			if (tr_candle_flush(s->cb[k])) /* the open candles, as finals */
				mark(a, s);
	}
	if (a->dirty)
		refresh_dirty(a, a->clock, 1);
	if (a->sym && a->p24 && a->mv)
		rank(a, a->clock); /* the final state, for readers of a stopped engine */
	for (uint32_t i = 0; a->sym && i < a->cap; i++)
		sym_free(a->sym[i]);
	free(a->sym);
	free(a->dirty);
	free(a->live);
	free(a->st24);
	free(a->st1h);
	free(a->p24);
	free(a->p1h);
	free(a->mv);
	free(a);
}

/* ---- trades ---- */

uint32_t tr_ae_check(struct tr_ae *a, const struct tr_trade *t)
{
	if (!a->an->outlier_mads || (t->flags & TR_TRADE_NONMARKET) || t->price <= 0)
		return 0;
	struct ae_sym *s = sym_get(a, t->symbol_id, t->venue_id);
	if (!s)
		return 0;
	s->out_ref = s->out.ref;
	return tr_outlier_check(&s->out, t->price, &s->out_dev) ? TR_TRADE_OUTLIER : 0;
}

/* Edge-triggered cross and change rules of s after a trade at price p. */
static void trade_alerts(struct tr_ae *a, struct ae_sym *s, const struct tr_trade *t)
{
	for (uint64_t m = s->rules; m; m &= m - 1) {
		unsigned i = (unsigned)__builtin_ctzll(m);
		const struct tr_alert_rule *r = &a->an->rules[i];
		uint64_t bit = 1ull << i;

		if (r->kind == TR_ALERT_CROSS) {
			int above = t->price >= r->level;
			if ((s->cross_known & bit) && above != !!(s->cross_above & bit))
				alert(a, s, i, t->price, r->level, above ? 1 : 2, t->ts_event,
				      t->ts_recv);
			s->cross_known |= bit;
			s->cross_above = above ? s->cross_above | bit : s->cross_above & ~bit;
		} else if (r->kind == TR_ALERT_CHANGE) {
			int64_t open;
			if (!tr_s24_window_open(s->s24, (unsigned)s->win[i], &open) || open <= 0)
				continue;
			__int128 d = (__int128)t->price - open, ad = d < 0 ? -d : d;
			int on = ad * 100 * TR_SCALE >= (__int128)r->pct * open;
			if (on && !(s->change_on & bit))
				alert(a, s, i, (int64_t)(d * 100 * TR_SCALE / open), r->pct,
				      d < 0 ? 2 : 1, t->ts_event, t->ts_recv);
			s->change_on = on ? s->change_on | bit : s->change_on & ~bit;
		}
	}
}

/* tr_ae_trade() of any trade: outliers to report, non-market prints, a new
 * span, out-of-order and late trades, stale symbols, alert rules. */
static __attribute__((noinline)) void trade_slow(struct tr_ae *a, struct ae_sym *s,
						 const struct tr_trade *t, int64_t clock)
{
	bool late = false, direct = true; /* direct: not via the aggregate */

	if (t->flags & TR_TRADE_OUTLIER) {
		struct tr_event ev;

		s->outliers++;
		ev_init(&ev, s, TR_EV_PRICE_OUTLIER, 1, t->ts_event, t->ts_recv);
		ev.u.outlier.price = t->price;
		ev.u.outlier.reference = s->out_ref;
		ev.u.outlier.deviation = s->out_dev;
		ev.u.outlier.trade_id = t->trade_id;
		a->publish(a->ctx, TR_KIND_EVENT, &ev);
	}
	if (t->flags & TR_TRADE_NONMARKET)
		return; /* not in candles, windows or checks: not a market price */
	if (t->price <= 0 || t->qty <= 0) {
		/* candles refuse it (tr_candle_add: -EINVAL); so must the
		 * aggregate. The window counts it, after the trades before it. */
		if (s->batch24)
			fold(a, s);
		goto window;
	}
	if (t->ts_event >= s->agg.span_lo && t->ts_event < s->agg.span_hi && s->span_ok) {
		tr_candle_agg_add(&s->agg, t); /* the common case */
		direct = false;
		goto window;
	}
	fold(a, s);
	if (t->ts_event >= s->agg.span_hi || !s->span_ok) {
		/* A new span (time moves on), or the first trade after an advance:
		 * aggregate it if its buckets are open everywhere. */
		int64_t lo = t->ts_event - ((t->ts_event % NS_PER_S) + NS_PER_S) % NS_PER_S;
		int ok = t->ts_event >= s->agg.span_lo;
		for (unsigned k = 0; ok && k < a->cfg.ninterval; k++)
			ok = tr_candle_open_for(s->cb[k], t->ts_event);
		if (ok) {
			tr_candle_agg_reset(&s->agg, lo, lo + NS_PER_S);
			s->span_ok = 1;
			tr_candle_agg_add(&s->agg, t);
			direct = false;
			goto window;
		}
		s->span_ok = 0; /* the adds below may close buckets early (a ring ahead) */
	}
	/* Out of order, or into a closed candle: one add per builder, which
	 * revises or reports it late. */
	for (unsigned k = 0; k < a->cfg.ninterval; k++)
		if (tr_candle_add(s->cb[k], t, clock) == TR_CANDLE_ADD_LATE && !late) {
			struct tr_event ev;

			late = true;
			tr_writer_counter_add(a->w, TR_CTR_LATE_TRADES, 1);
			ev_init(&ev, s, TR_EV_LATE_TRADE, 1, t->ts_event, t->ts_recv);
			ev.aux = a->cfg.intervals_s[k];
			ev.u.late.trade_id = t->trade_id;
			ev.u.late.trade_ts = t->ts_event;
			ev.u.late.lateness_ns = clock - t->ts_event;
			ev.u.late.interval_s = a->cfg.intervals_s[k];
			a->publish(a->ctx, TR_KIND_EVENT, &ev);
		}
window:
	if (direct || !s->batch24)
		tr_s24_add_trade(s->s24, t);
	/* Stale: a silence long enough is reported even if no timer ran in it
	 * (a replay at full speed), so the events do not depend on the pace. */
	if (a->stale_ns && s->last_recv) {
		int64_t silent = t->ts_recv - s->last_recv;
		if (!s->stale && silent >= a->stale_ns) {
			s->stale = 1;
			stale_event(a, s, TR_EV_STALE, s->last_recv + a->stale_ns, t->ts_recv,
				    a->stale_ns);
		}
		if (s->stale) {
			s->stale = 0;
			stale_event(a, s, TR_EV_STALE_CLEARED, t->ts_recv, t->ts_recv, silent);
		}
	}
	s->last_recv = t->ts_recv;
	s->last_evt = t->ts_event;
	if (s->rules)
		trade_alerts(a, s, t);
	mark(a, s);
}

void tr_ae_trade(struct tr_ae *a, const struct tr_trade *t, int64_t clock)
{
	struct ae_sym *s = sym_get(a, t->symbol_id, t->venue_id);

	if (clock > a->clock)
		a->clock = clock;
	if (!s)
		return;
	/* The common case, which trade_slow() handles the same way: a market
	 * trade into the current span, no stale state to change, no rules. */
	if ((t->flags & (TR_TRADE_OUTLIER | TR_TRADE_NONMARKET)) || t->price <= 0 || t->qty <= 0 ||
	    t->ts_event < s->agg.span_lo || t->ts_event >= s->agg.span_hi || !s->span_ok ||
	    s->rules || s->stale ||
	    (a->stale_ns && s->last_recv && t->ts_recv - s->last_recv >= a->stale_ns)) {
		trade_slow(a, s, t, clock);
		return;
	}
	tr_candle_agg_add(&s->agg, t); /* and the 24 h window at the next fold (batch24) */
	s->last_recv = t->ts_recv;
	s->last_evt = t->ts_event;
	mark(a, s);
}

void tr_ae_commit(struct tr_ae *a, int64_t recv)
{
	if (a->ndirty)
		refresh_dirty(a, recv, 0);
}

/* ---- timer ---- */

/* Copy the words of `from` in [lo, hi) bytes that differ from `pub` (the
 * copy of what the shared table holds) into the shared table `to`. */
static void put_changed(uint64_t *to, uint64_t *pub, const uint64_t *from, size_t lo, size_t hi)
{
	for (size_t i = lo / 8; i < hi / 8; i++)
		if (from[i] != pub[i]) {
			pub[i] = from[i];
			tr_store_relaxed(&to[i], from[i]); /* published by tr_movers_end */
		}
}

/* Rank every symbol over 24 h and 1 h into the movers table. One division
 * per symbol and window; the table (4 KiB) is written only where it
 * changed: the header and the entries in use now or at the last ranking. */
static void rank(struct tr_ae *a, int64_t clock)
{
	struct tr_movers *mv = a->mv, *pub = a->mv_pub;
	uint32_t n24 = 0, n1h = 0;
	/* same: every input of the lists (st24, st1h and which of them rank)
	 * is what the last ranking had, so the lists would come out equal */
	int same = a->mv_written;

	for (uint32_t j = 0; j < a->nlive; j++) {
		uint32_t i = a->live[j]; /* the others' entries stay NULL (calloc) */
		struct ae_sym *s = a->sym[i];
		struct tr_stats24h *d = &a->st24[i], *h = &a->st1h[i];
		const struct tr_stats24h *was24 = a->p24[i], *was1h = a->p1h[i];
		struct tr_stats24h o = *d;
		int64_t open;

		a->p24[i] = a->p1h[i] = NULL;
		if (tr_s24_read_change(s->s24, d) == 1) {
			a->p24[i] = d;
			n24++;
		}
		same &= a->p24[i] == was24 &&
			(!was24 || (d->change_pct == o.change_pct && d->last == o.last &&
				    d->open == o.open && !d->trade_count == !o.trade_count));
		if (s->h1 >= 0 && tr_s24_window_open(s->s24, (unsigned)s->h1, &open) && open > 0) {
			int64_t last = tr_s24_last(s->s24);

			same &= was1h && h->open == open && h->last == last;
			h->open = open;
			h->last = last;
			h->change_pct = change_1e10(last, open);
			h->trade_count = 1;
			a->p1h[i] = h;
			n1h++;
		} else {
			same &= !was1h;
		}
	}
	mv->ts_update = clock;
	if (same) {
		/* Nothing ranks differently: only the ranking's time changes. */
		struct tr_movers *m = tr_movers_begin(a->w);
		put_changed((uint64_t *)m, (uint64_t *)pub, (const uint64_t *)mv, 8,
			    offsetof(struct tr_movers, list));
		tr_movers_end(m);
		return;
	}
	mv->count[TR_MOVERS_GAIN_24H] = mv->count[TR_MOVERS_LOSS_24H] =
	    (uint32_t)tr_s24_movers(a->p24, a->cap, TR_MOVERS_MAX, mv->list[TR_MOVERS_GAIN_24H],
				    mv->list[TR_MOVERS_LOSS_24H]);
	mv->count[TR_MOVERS_GAIN_1H] = mv->count[TR_MOVERS_LOSS_1H] =
	    (uint32_t)tr_s24_movers(a->p1h, a->cap, TR_MOVERS_MAX, mv->list[TR_MOVERS_GAIN_1H],
				    mv->list[TR_MOVERS_LOSS_1H]);
	mv->ranked[0] = n24;
	mv->ranked[1] = n1h;
	struct tr_movers *m = tr_movers_begin(a->w);
	if (!a->mv_written) {
		/* everything but the lock word, once: pub then mirrors the table */
		tr_copy_to_shared((uint8_t *)m + 8, (const uint8_t *)mv + 8, sizeof *mv - 8);
		memcpy(pub, mv, sizeof *mv);
		a->mv_written = 1;
	} else {
		for (unsigned l = 0; l < TR_MOVERS_NLISTS; l++) {
			uint32_t was = pub->count[l], now = mv->count[l];
			size_t lo =
			    (size_t)((const uint8_t *)&mv->list[l][0] - (const uint8_t *)mv);

			/* entries a shorter list no longer uses go back to zero */
			if (was > now)
				memset(&mv->list[l][now], 0, (was - now) * sizeof mv->list[l][0]);
			put_changed((uint64_t *)m, (uint64_t *)pub, (const uint64_t *)mv, lo,
				    lo + (was > now ? was : now) * sizeof mv->list[l][0]);
		}
		put_changed((uint64_t *)m, (uint64_t *)pub, (const uint64_t *)mv, 8,
			    offsetof(struct tr_movers, list));
	}
	tr_movers_end(m);
}

void tr_ae_tick(struct tr_ae *a, int64_t clock, int64_t recv)
{
	if (clock > a->clock)
		a->clock = clock;
	for (uint32_t i = 0; i < a->nlive; i++) {
		struct ae_sym *s = a->sym[a->live[i]];

		/* merge, advance, partial and current candle: one call per builder */
		const struct tr_candle_agg *g = s->agg.trades ? &s->agg : NULL;
		if (g)
			tr_candle_agg_split(&s->agg); /* once for every builder */
		for (unsigned k = 0; k < a->cfg.ninterval; k++)
			s->cur[k] = tr_candle_tick(s->cb[k], g, a->clock);
		if (g) {
			fold24(s);
			tr_candle_agg_reset(&s->agg, s->agg.span_lo, s->agg.span_hi);
		}
		/* The span's buckets stay open while the watermark (the same for
		 * every builder) has not passed its start: finalize_before() never
		 * goes past the bucket of the watermark. Else re-check. */
		int64_t lim;
		if (__builtin_add_overflow(s->agg.span_lo, a->late_ns, &lim))
			lim = INT64_MAX;
		s->span_ok = s->span_ok && a->clock <= lim;
		tr_s24_advance(s->s24, a->clock);
		if (a->stale_ns && s->last_recv && !s->stale &&
		    recv - s->last_recv >= a->stale_ns) {
			s->stale = 1;
			stale_event(a, s, TR_EV_STALE, s->last_recv + a->stale_ns, recv,
				    a->stale_ns);
			mark(a, s);
		}
		if (!s->dirty && recv - s->flushed >= NS_PER_S)
			mark(a, s);   /* windows and the 1 h change age with the clock */
		s->cur_ok = s->dirty; /* refreshed below, before any other builder call */
	}
	refresh_dirty(a, recv, 1);
	int64_t sec = a->clock / NS_PER_S;
	if (sec != a->ranked_at) {
		a->ranked_at = sec;
		rank(a, a->clock);
	}
}

void tr_ae_feed_reset(struct tr_ae *a, unsigned venue_id)
{
	for (uint32_t i = 0; i < a->cap; i++) {
		struct ae_sym *s = a->sym[i];

		if (s && s->venue_id == venue_id)
			fold(a, s); /* trades before the reconnect first */
		for (unsigned k = 0; s && s->venue_id == venue_id && k < a->cfg.ninterval; k++)
			tr_candle_mark_gap(s->cb[k]); /* the candle spans a reconnect */
	}
}

/* ---- warm start ---- */

long tr_ae_warm(struct tr_ae *a, const char *dir)
{
	struct tr_journal_reader *r;
	struct tr_candle c;
	long n = 0;
	int rc = tr_journal_reader_open(&r, dir, TR_KIND_CANDLE);

	if (rc == -ENOENT)
		return 0; /* no candle journal yet */
	if (rc < 0)
		return rc;
	uint64_t first = tr_journal_reader_oldest(r), last = tr_journal_reader_newest(r);
	uint32_t nsym = a->w->sb->symbol_count;
	const struct tr_symbol *tab =
	    (const struct tr_symbol *)(a->w->base + a->w->sb->symbols.offset);
	for (uint64_t q = first; first && q <= last; q++) {
		if (tr_journal_read(r, q, &c) < 0 || !(c.flags & TR_CANDLE_FINAL) ||
		    c.symbol_id >= nsym)
			continue;
		unsigned k = 0;
		while (k < a->cfg.ninterval && a->cfg.intervals_s[k] != c.interval_s)
			k++;
		if (k == a->cfg.ninterval)
			continue;
		struct ae_sym *s = sym_get(a, c.symbol_id, tab[c.symbol_id].venue_id);
		if (s && on_final(a, s, k, &c, 0) >= 0) {
			mark(a, s);
			n++;
		}
	}
	tr_journal_reader_close(r);
	if (a->ndirty)
		refresh_dirty(a, 0, 1);
	return n;
}
