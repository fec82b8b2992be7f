/* tr_candle.c - the candle builder: a ring of UTC-aligned buckets per symbol and interval.
 *
 * A bucket is identified by its open time; bucket n of the timeline lives in
 * slot n mod nslots. The main invariant: every open (non-final) bucket has
 * open_time >= fin, and all open buckets lie within nslots consecutive
 * buckets, so two open buckets never share a slot. `fin` only grows: every
 * bucket with open_time < fin is final (emitted, or empty and skipped). The
 * watermark moves fin in tr_candle_advance(); a trade a whole ring ahead of
 * the oldest open bucket moves it in tr_candle_add() (early finalization).
 *
 * The hot path (a trade into an open bucket) is integer adds and compares:
 * the quote sums stay exact at 1e-16 in __int128 and are divided down only
 * when a record is made (materialize), which happens at most at the partial
 * rate, at close, and on tr_candle_current().
 */
#include "tr_candle.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NS_PER_S 1000000000LL
#define SCALE 100000000LL /* 1e-8 */
/* Unix epoch was a Thursday; Binance weeks start on Monday: 4 days later. */
#define WEEK_OFFSET_NS (4LL * 86400 * NS_PER_S)

#define I128_MAX ((__int128)(((unsigned __int128)1 << 127) - 1))

/* A quote sum n (>= 0, x 1e-16) as q = floor(n / 1e8) and r = n mod 1e8.
 * q > INT64_MAX: too large for a record (or the sum saturated); the record
 * then divides the exact sum, which saturates and flags it. */
struct split {
	uint64_t q, r;
};

struct slot {
	int64_t open_time; /* bucket; meaningful only when used */
	int64_t open, high, low, close;
	int64_t open_ts, close_ts; /* (ts, id) keys of the open and close prints */
	uint64_t open_id, close_id;
	uint64_t first_id, last_id;
	int64_t volume, tb_volume; /* x 1e-8, saturating */
	__int128 quote, tb_quote;  /* exact price*qty, x 1e-16, saturating */
	/* quote and tb_quote as floor(/1e8) and remainder, kept beside the
	 * exact sums so a record rounds them without dividing (struct split) */
	struct split q8, tq8;
	int64_t ts_update;
	uint32_t trade_count;
	uint8_t used;
	uint8_t final;	 /* closed; later changes are revisions */
	uint8_t emitted; /* a final record went out */
	uint8_t dirty;	 /* changed since the last partial */
	uint8_t flags;	 /* TR_CANDLE_GAP | EMPTY | OVERFLOW (FINAL comes from .final) */
	uint8_t revision;
};

struct tr_candle_builder {
	struct tr_candle_cfg cfg;
	int64_t iv;	/* interval, ns */
	int64_t offset; /* alignment offset, ns (weeks) */
	uint32_t nslots;
	int fin_set; /* fin is meaningful */
	int64_t fin; /* buckets with open_time < fin are final */
	int have_newest;
	int64_t newest; /* newest bucket that holds a candle */
	int have_prev;
	int64_t prev_close; /* close of the last finalized candle, for FLAT */
	int gap_pending;
	int have_partial;
	int64_t last_partial; /* caller time of the last partial */
	int64_t partial_gap;  /* min ns between partials */
	/* The trade fast path: the newest open bucket and its [lo, hi) span. */
	struct slot *hot;
	int64_t hot_lo, hot_hi;
	/* rec holds mat_slot as of generation mat_gen; gen counts changes */
	uint64_t gen, mat_gen;
	const struct slot *mat_slot;
	struct tr_candle rec; /* scratch record handed to emit / current */
	struct slot slots[];
};

static const uint32_t intervals[] = {1,	   60,	  180,	 300,	900,   1800,  3600,
				     7200, 14400, 21600, 28800, 43200, 86400, 604800};

int tr_candle_interval_valid(uint32_t interval_s)
{
	for (size_t i = 0; i < sizeof intervals / sizeof intervals[0]; i++)
		if (intervals[i] == interval_s)
			return 1;
	return 0;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t align(int64_t iv, int64_t offset, int64_t ts)
{
	/* ts - offset cannot overflow for offset >= 0 unless ts is near INT64_MIN. */
	if (ts < INT64_MIN + offset + iv)
		ts = INT64_MIN + offset + iv;
	return floor_div(ts - offset, iv) * iv + offset;
}

int64_t tr_candle_align(uint32_t interval_s, int64_t ts_ns)
{
	int64_t iv = (int64_t)interval_s * NS_PER_S;

	return align(iv, interval_s == 604800 ? WEEK_OFFSET_NS : 0, ts_ns);
}

int64_t tr_candle_interval_ns(const struct tr_candle_builder *b)
{
	return b->iv;
}

struct tr_candle_builder *tr_candle_new(const struct tr_candle_cfg *cfg)
{
	if (!cfg || !tr_candle_interval_valid(cfg->interval_s) || cfg->lateness_ns < 0 ||
	    cfg->revise_ns < 0 || cfg->policy > TR_CANDLE_POLICY_FLAT ||
	    cfg->slots > TR_CANDLE_MAX_SLOTS || (cfg->slots && cfg->slots < 2)) {
		errno = EINVAL;
		return NULL;
	}
	int64_t iv = (int64_t)cfg->interval_s * NS_PER_S;
	uint32_t n = cfg->slots;

	if (!n) {
		/* Open buckets span [watermark, newest trade] (lateness plus the
		 * exchange clock's lead); final ones stay revisable for revise_ns. */
		int64_t span =
		    cfg->lateness_ns / 2 + cfg->revise_ns / 2 + NS_PER_S; /* halves: no overflow */
		int64_t k = span / iv * 2 + 2 + 3;

		n = k > (int64_t)TR_CANDLE_MAX_SLOTS ? TR_CANDLE_MAX_SLOTS
		    : k < 4			     ? 4
						     : (uint32_t)k;
	}
	struct tr_candle_builder *b = calloc(1, sizeof *b + (size_t)n * sizeof(struct slot));

	if (!b) {
		errno = ENOMEM;
		return NULL;
	}
	b->cfg = *cfg;
	b->iv = iv;
	b->offset = cfg->interval_s == 604800 ? WEEK_OFFSET_NS : 0;
	b->nslots = n;
	b->partial_gap = cfg->partial_per_s ? NS_PER_S / cfg->partial_per_s : 0;
	b->rec.symbol_id = cfg->symbol_id;
	b->rec.interval_s = cfg->interval_s;
	b->rec.venue_id = cfg->venue_id;
	return b;
}

void tr_candle_free(struct tr_candle_builder *b)
{
	free(b);
}

static uint32_t slot_index(const struct tr_candle_builder *b, int64_t open_time)
{
	int64_t n = floor_div(open_time - b->offset, b->iv) % (int64_t)b->nslots;

	return (uint32_t)(n < 0 ? n + b->nslots : n);
}

static struct slot *slot_of(struct tr_candle_builder *b, int64_t open_time)
{
	return &b->slots[slot_index(b, open_time)];
}

/* n / d rounded half to even, saturated at INT64_MAX (*ovf set); n >= 0,
 * d > 0 (the sums are of positive prices and quantities). Each record made
 * runs it three times: one 128/64-bit hardware divide while the quotient
 * fits 64 bits (always, short of saturation), not the library division. */
static int64_t div_half_even(__int128 n, int64_t d, int *ovf)
{
	uint64_t q, r, hi = (uint64_t)((unsigned __int128)n >> 64), ud = (uint64_t)d;

	if (hi >= ud) {
		*ovf = 1; /* the quotient needs more than 64 bits */
		return INT64_MAX;
	}
#if defined(__x86_64__)
	__asm__("divq %4" : "=a"(q), "=d"(r) : "a"((uint64_t)n), "d"(hi), "rm"(ud));
#else
	q = (uint64_t)((unsigned __int128)n / ud);
	r = (uint64_t)((unsigned __int128)n % ud);
#endif
	/* the remainder is data: the rounding is added in, not branched on */
	q += ((uint64_t)(r > ud - r) | ((uint64_t)(r == ud - r) & q)) & 1;
	if (q > INT64_MAX) {
		*ovf = 1;
		return INT64_MAX;
	}
	return (int64_t)q;
}

/* div_half_even(n, 1e8) for the quote volumes, without the divider: n
 * times a precomputed reciprocal (Moller and Granlund, "Improved division
 * by invariant integers", 2011, algorithm 4, on the divisor normalized to
 * 1e8 << 37). Two multiplies pipeline; three divides on one divider do not,
 * and a record rounds two quote sums besides its vwap. */
#define D8_SHIFT 37 /* leading zero bits of 1e8 */
#define D8_NORM ((uint64_t)SCALE << D8_SHIFT)
#define D8_RECIP ((uint64_t)(~(unsigned __int128)0 / D8_NORM)) /* - 2^64, mod 2^64 */

#define SPLIT_BIG ((uint64_t)1 << 63) /* any q >= this: too large */

/* floor(n / 1e8) and the remainder, n >= 0; q = SPLIT_BIG if the quotient
 * is SPLIT_BIG or more (so that q + q' + 1 never wraps). */
static struct split split_1e8(__int128 n)
{
	unsigned __int128 u = (unsigned __int128)n;
	struct split x = {SPLIT_BIG, 0};

	if (u >> 64 >= (uint64_t)SCALE)
		return x; /* the quotient needs more than 64 bits */
	u <<= D8_SHIFT;	  /* n < 1e8 * 2^64 < 2^91: nothing lost */
	uint64_t u1 = (uint64_t)(u >> 64), u0 = (uint64_t)u;
	unsigned __int128 p = (unsigned __int128)D8_RECIP * u1 + u;

	p += (unsigned __int128)1 << 64; /* + (u1 + 1) * 2^64 + u0, with p's u1 * 2^64 above */
	uint64_t q = (uint64_t)(p >> 64), r = u0 - q * D8_NORM;

	if (r > (uint64_t)p) {
		q--;
		r += D8_NORM;
	}
	/* whether the last correction is needed depends on the sum's low
	 * digits: added in, not branched on */
	uint64_t c = r >= D8_NORM;

	q += c;
	r -= D8_NORM & -c;
	x.q = q < SPLIT_BIG ? q : SPLIT_BIG;
	x.r = r >> D8_SHIFT;
	return x;
}

/* 1 if x.r / 1e8 rounds x.q up, half to even: r > 1e8 / 2, or a tie
 * with q odd. */
static uint64_t rounds_up(struct split x)
{
	return 2 * x.r + (x.q & 1) > (uint64_t)SCALE;
}

/* n / 1e8 rounded half to even, saturated at INT64_MAX (*ovf set), n >= 0. */
static int64_t div_half_even_1e8(__int128 n, int *ovf)
{
	struct split x = split_1e8(n);

	if (x.q < INT64_MAX || (x.q == INT64_MAX && !rounds_up(x)))
		return (int64_t)(x.q + rounds_up(x));
	*ovf = 1;
	return INT64_MAX;
}

/* a += b, both splits of sums (b.q <= SPLIT_BIG); a too large stays so. */
static inline __attribute__((always_inline)) void split_add(struct split *a, struct split b)
{
	uint64_t r = a->r + b.r, c = r >= (uint64_t)SCALE;

	if (__builtin_add_overflow(a->q, b.q + c, &a->q))
		a->q = UINT64_MAX;
	a->r = c ? r - (uint64_t)SCALE : r;
}

/* A record's quote volume: from the split when it fits, else divided. */
static int64_t quote_1e8(const struct split *x, __int128 exact, int *ovf)
{
	return x->q < INT64_MAX ? (int64_t)(x->q + rounds_up(*x)) : div_half_even_1e8(exact, ovf);
}

/* The record of slot s in b->rec. seq, symbol_id, interval_s and venue_id
 * were set by tr_candle_new and never change. */
static __attribute__((noinline)) const struct tr_candle *
materialize_slow(struct tr_candle_builder *b, struct slot *s)
{
	struct tr_candle *c = &b->rec;
	int ovf = 0;

	b->mat_slot = s;
	b->mat_gen = b->gen;
	c->open_time = s->open_time;
	c->open = s->open;
	c->high = s->high;
	c->low = s->low;
	c->close = s->close;
	c->volume = s->volume;
	c->quote_volume = quote_1e8(&s->q8, s->quote, &ovf);
	c->taker_buy_volume = s->tb_volume;
	c->taker_buy_quote_volume = quote_1e8(&s->tq8, s->tb_quote, &ovf);
	if (ovf)
		s->flags |= TR_CANDLE_OVERFLOW; /* a quote volume saturated */
	c->vwap = s->volume > 0 ? div_half_even(s->quote, s->volume, &ovf) : 0;
	c->first_trade_id = s->first_id;
	c->last_trade_id = s->last_id;
	c->ts_update = s->ts_update;
	c->trade_count = s->trade_count;
	c->flags = (uint8_t)(s->flags | (s->final ? TR_CANDLE_FINAL : 0));
	c->revision = s->revision;
	return c;
}

/* Inline: tr_candle_current() after a partial finds the record made. */
static inline const struct tr_candle *materialize(struct tr_candle_builder *b, struct slot *s)
{
	if (b->mat_slot == s && b->mat_gen == b->gen)
		return &b->rec; /* unchanged since the last time: the divisions are done */
	return materialize_slow(b, s);
}

static void emit(struct tr_candle_builder *b, struct slot *s)
{
	materialize(b, s);
	if (b->cfg.emit) {
		b->cfg.emit(b->cfg.ctx, &b->rec);
		b->rec.seq = 0; /* the callback may have stamped it */
	}
}

static void note_newest(struct tr_candle_builder *b, int64_t t)
{
	if (!b->have_newest || t > b->newest) {
		b->newest = t;
		b->have_newest = 1;
	}
}

/* Oldest open bucket with open_time >= from; 0 if none. */
static int next_open(struct tr_candle_builder *b, int64_t from, int64_t *out)
{
	int found = 0;

	for (uint32_t i = 0; i < b->nslots; i++) {
		struct slot *s = &b->slots[i];

		if (s->used && !s->final && s->open_time >= from &&
		    (!found || s->open_time < *out)) {
			*out = s->open_time;
			found = 1;
		}
	}
	return found;
}

static void close_slot(struct tr_candle_builder *b, struct slot *s)
{
	b->gen++;
	s->final = 1;
	s->dirty = 0;
	s->emitted = 1;
	emit(b, s);
	b->prev_close = s->close;
	b->have_prev = 1;
}

static void flat_bucket(struct tr_candle_builder *b, struct slot *s, int64_t t)
{
	struct slot tmp;

	/* The slot may hold a newer open bucket when fin lags far behind: then
	 * publish the flat candle without keeping it (it cannot be revised). */
	if (s->used && !s->final && s->open_time > t)
		s = &tmp;
	b->gen++;
	memset(s, 0, sizeof *s);
	s->used = 1;
	s->open_time = t;
	s->open = s->high = s->low = s->close = b->prev_close;
	s->flags = TR_CANDLE_EMPTY | (b->gap_pending ? TR_CANDLE_GAP : 0);
	s->final = 1;
	s->emitted = 1;
	note_newest(b, t);
	emit(b, s);
}

/* Make every bucket with open_time < limit final, in time order. Returns the
 * number of final records emitted. */
static int finalize_before(struct tr_candle_builder *b, int64_t limit)
{
	int n = 0;
	int64_t t = limit;

	if (b->fin_set && limit <= b->fin)
		return 0;
	if (b->fin_set)
		t = b->fin;
	else if (!next_open(b, INT64_MIN, &t))
		t = limit;
	/* consecutive buckets sit in consecutive slots: one division here */
	uint32_t i = t < limit ? slot_index(b, t) : 0;
	while (t < limit) {
		struct slot *s = &b->slots[i];

		if (s->used && s->open_time == t && !s->final) {
			close_slot(b, s);
			n++;
		} else if (b->cfg.policy == TR_CANDLE_POLICY_FLAT && b->have_prev) {
			flat_bucket(b, s, t);
			n++;
		} else {
			/* Skip straight to the next bucket with trades. */
			int64_t nx = limit;

			if (!next_open(b, t, &nx) || nx >= limit)
				break;
			t = nx;
			i = slot_index(b, t);
			continue;
		}
		t += b->iv;
		i = i + 1 == b->nslots ? 0 : i + 1;
	}
	b->fin = limit;
	b->fin_set = 1;
	return n;
}

static void open_slot(struct tr_candle_builder *b, struct slot *s, int64_t t)
{
	b->gen++;
	memset(s, 0, sizeof *s);
	s->used = 1;
	s->open_time = t;
	note_newest(b, t);
	if (t == b->newest) {
		b->hot = s;
		b->hot_lo = t;
		b->hot_hi = t + b->iv;
	}
}

static int64_t sat_add(int64_t a, int64_t v, uint8_t *flags)
{
	int64_t r;

	if (__builtin_add_overflow(a, v, &r)) {
		*flags |= TR_CANDLE_OVERFLOW;
		return INT64_MAX;
	}
	return r;
}

static __int128 sat_add128(__int128 a, __int128 v, uint8_t *flags)
{
	__int128 r;

	if (__builtin_add_overflow(a, v, &r)) {
		*flags |= TR_CANDLE_OVERFLOW;
		return I128_MAX;
	}
	return r;
}

static int key_less(int64_t ts_a, uint64_t id_a, int64_t ts_b, uint64_t id_b)
{
	return ts_a < ts_b || (ts_a == ts_b && id_a < id_b);
}

static void apply(struct slot *s, const struct tr_trade *t)
{
	uint32_t cnt = (t->flags & TR_TRADE_AGG) && t->trade_count ? t->trade_count : 1;
	__int128 pq = (__int128)t->price * t->qty;

	if (!s->trade_count && !(s->flags & TR_CANDLE_EMPTY) && !s->volume) {
		/* first trade of the bucket */
		s->open = s->high = s->low = s->close = t->price;
		s->open_ts = s->close_ts = s->ts_update = t->ts_event;
		s->open_id = s->close_id = s->first_id = s->last_id = t->trade_id;
	} else {
		if (s->flags & TR_CANDLE_EMPTY) {
			/* a late trade into a flat candle: it becomes a real one */
			s->flags &= (uint8_t)~TR_CANDLE_EMPTY;
			s->open = s->high = s->low = s->close = t->price;
			s->open_ts = s->close_ts = s->ts_update = t->ts_event;
			s->open_id = s->close_id = s->first_id = s->last_id = t->trade_id;
		}
		if (t->price > s->high)
			s->high = t->price;
		if (t->price < s->low)
			s->low = t->price;
		if (key_less(t->ts_event, t->trade_id, s->open_ts, s->open_id)) {
			s->open = t->price;
			s->open_ts = t->ts_event;
			s->open_id = t->trade_id;
		}
		if (!key_less(t->ts_event, t->trade_id, s->close_ts, s->close_id)) {
			s->close = t->price;
			s->close_ts = t->ts_event;
			s->close_id = t->trade_id;
		}
		if (t->trade_id < s->first_id)
			s->first_id = t->trade_id;
		if (t->trade_id > s->last_id)
			s->last_id = t->trade_id;
		if (t->ts_event > s->ts_update)
			s->ts_update = t->ts_event;
	}
	struct split pq8 = split_1e8(pq); /* one trade: the rare direct path */

	s->volume = sat_add(s->volume, t->qty, &s->flags);
	s->quote = sat_add128(s->quote, pq, &s->flags);
	split_add(&s->q8, pq8);
	if (t->side == TR_SIDE_BUY) {
		s->tb_volume = sat_add(s->tb_volume, t->qty, &s->flags);
		s->tb_quote = sat_add128(s->tb_quote, pq, &s->flags);
		split_add(&s->tq8, pq8);
	}
	if (__builtin_add_overflow(s->trade_count, cnt, &s->trade_count)) {
		s->trade_count = UINT32_MAX;
		s->flags |= TR_CANDLE_OVERFLOW;
	}
	if (t->flags & TR_TRADE_GAP)
		s->flags |= TR_CANDLE_GAP;
}

void tr_candle_agg_reset(struct tr_candle_agg *g, int64_t span_lo, int64_t span_hi)
{
	/* the sums; the rest is set by the first tr_candle_agg_add */
	g->span_lo = span_lo;
	g->span_hi = span_hi;
	g->volume = g->tb_volume = 0;
	g->quote = g->tb_quote = 0;
	g->trade_count = g->trades = 0;
	g->flags = 0;
	g->split = 0;
}

void tr_candle_agg_split(struct tr_candle_agg *g)
{
	struct split q = split_1e8(g->quote), t = split_1e8(g->tb_quote);

	g->q8 = q.q;
	g->q8r = q.r;
	g->tq8 = t.q;
	g->tq8r = t.r;
	g->split = 1;
}

void tr_candle_agg_add(struct tr_candle_agg *g, const struct tr_trade *t)
{
	uint32_t cnt = (t->flags & TR_TRADE_AGG) && t->trade_count ? t->trade_count : 1;
	__int128 pq = (__int128)t->price * t->qty;

	if (t->ts_event >= g->lat_ts || !g->trades) {
		g->lat_ts = t->ts_event;
		g->lat_price = t->price;
		g->lat_id = t->trade_id;
	}
	if (!g->trades++) {
		g->open = g->high = g->low = g->close = t->price;
		g->open_ts = g->close_ts = g->ts_update = t->ts_event;
		g->open_id = g->close_id = g->first_id = g->last_id = t->trade_id;
		g->arr_price = t->price;
		g->arr_id = t->trade_id;
	} else {
		/* prices go up and down at random: no branches to mispredict */
		g->high = t->price > g->high ? t->price : g->high;
		g->low = t->price < g->low ? t->price : g->low;
		if (key_less(t->ts_event, t->trade_id, g->open_ts, g->open_id)) {
			g->open = t->price;
			g->open_ts = t->ts_event;
			g->open_id = t->trade_id;
		}
		if (!key_less(t->ts_event, t->trade_id, g->close_ts, g->close_id)) {
			g->close = t->price;
			g->close_ts = t->ts_event;
			g->close_id = t->trade_id;
		}
		if (t->trade_id < g->first_id)
			g->first_id = t->trade_id;
		if (t->trade_id > g->last_id)
			g->last_id = t->trade_id;
		/* trades of one millisecond share a time: no branch either */
		g->ts_update = t->ts_event > g->ts_update ? t->ts_event : g->ts_update;
	}
	g->volume = sat_add(g->volume, t->qty, &g->flags);
	g->quote = sat_add128(g->quote, pq, &g->flags);
	if (t->side == TR_SIDE_BUY) {
		g->tb_volume = sat_add(g->tb_volume, t->qty, &g->flags);
		g->tb_quote = sat_add128(g->tb_quote, pq, &g->flags);
	}
	if (__builtin_add_overflow(g->trade_count, cnt, &g->trade_count)) {
		g->trade_count = UINT32_MAX;
		g->flags |= TR_CANDLE_OVERFLOW;
	}
	if (t->flags & TR_TRADE_GAP)
		g->flags |= TR_CANDLE_GAP;
	g->split = 0;
}

/* The first trades of a bucket, or the first into a flat candle (which has
 * no volume; the aggregate replaces its prices): the aggregate's prices. */
static __attribute__((noinline)) void merge_first(struct slot *s, const struct tr_candle_agg *g)
{
	s->flags &= (uint8_t)~TR_CANDLE_EMPTY;
	s->open = g->open;
	s->high = g->high;
	s->low = g->low;
	s->close = g->close;
	s->open_ts = g->open_ts;
	s->close_ts = g->close_ts;
	s->ts_update = g->ts_update;
	s->open_id = g->open_id;
	s->close_id = g->close_id;
	s->first_id = g->first_id;
	s->last_id = g->last_id;
}

/* apply() of a whole aggregate: the same result as applying its trades.
 * Six times per symbol and timer run, so the first-trades case is out of
 * line and the rest is compares and adds. */
static inline __attribute__((always_inline)) void merge(struct slot *s,
							const struct tr_candle_agg *g)
{
	if (__builtin_expect((!s->trade_count && !s->volume) || (s->flags & TR_CANDLE_EMPTY), 0)) {
		merge_first(s, g);
	} else {
		s->high = g->high > s->high ? g->high : s->high;
		s->low = g->low < s->low ? g->low : s->low;
		if (key_less(g->open_ts, g->open_id, s->open_ts, s->open_id)) {
			s->open = g->open;
			s->open_ts = g->open_ts;
			s->open_id = g->open_id;
		}
		if (!key_less(g->close_ts, g->close_id, s->close_ts, s->close_id)) {
			s->close = g->close;
			s->close_ts = g->close_ts;
			s->close_id = g->close_id;
		}
		s->first_id = g->first_id < s->first_id ? g->first_id : s->first_id;
		s->last_id = g->last_id > s->last_id ? g->last_id : s->last_id;
		s->ts_update = g->ts_update > s->ts_update ? g->ts_update : s->ts_update;
	}
	s->volume = sat_add(s->volume, g->volume, &s->flags);
	s->quote = sat_add128(s->quote, g->quote, &s->flags);
	s->tb_volume = sat_add(s->tb_volume, g->tb_volume, &s->flags);
	s->tb_quote = sat_add128(s->tb_quote, g->tb_quote, &s->flags);
	if (__builtin_expect(g->split, 1)) {
		split_add(&s->q8, (struct split){g->q8, g->q8r});
		split_add(&s->tq8, (struct split){g->tq8, g->tq8r});
	} else {
		split_add(&s->q8, split_1e8(g->quote));
		split_add(&s->tq8, split_1e8(g->tb_quote));
	}
	if (__builtin_add_overflow(s->trade_count, g->trade_count, &s->trade_count)) {
		s->trade_count = UINT32_MAX;
		s->flags |= TR_CANDLE_OVERFLOW;
	}
	s->flags |= g->flags;
}

static inline __attribute__((always_inline)) void maybe_partial(struct tr_candle_builder *b,
								struct slot *s, int64_t now)
{
	if (!b->partial_gap || !s->dirty || s->final)
		return;
	if (b->have_partial && now - b->last_partial < b->partial_gap &&
	    now >= b->last_partial) /* a clock going back does not block partials forever */
		return;
	s->dirty = 0;
	b->have_partial = 1;
	b->last_partial = now;
	emit(b, s);
}

static int64_t watermark(const struct tr_candle_builder *b, int64_t now)
{
	return now < INT64_MIN + b->cfg.lateness_ns ? INT64_MIN : now - b->cfg.lateness_ns;
}

/* A trade t, or an aggregate g (t NULL) of trades at times within one
 * bucket, at time ts, into the builder. */
static int add(struct tr_candle_builder *b, const struct tr_trade *t, const struct tr_candle_agg *g,
	       int64_t ts, int64_t now_ns)
{
	struct slot *h = b->hot;
	if (h && ts >= b->hot_lo && ts < b->hot_hi && h->used && !h->final &&
	    h->open_time == b->hot_lo) {
		/* The common case: the newest open bucket. No division. */
		b->gen++;
		if (t)
			apply(h, t);
		else
			merge(h, g);
		h->dirty = 1;
		if (!b->cfg.lazy_partials)
			maybe_partial(b, h, now_ns);
		return TR_CANDLE_ADD_APPLIED;
	}
	b->gen++;
	int64_t ot = align(b->iv, b->offset, ts);
	struct slot *s = slot_of(b, ot);

	if (b->fin_set && ot < b->fin) {
		/* A final bucket: revise it while the watermark is within revise_ns
		 * of its end and the ring still holds it. */
		int64_t end = ot + b->iv;
		int64_t wm = watermark(b, now_ns);

		if (wm >= end && wm - end >= b->cfg.revise_ns)
			return TR_CANDLE_ADD_LATE;
		if (s->used && s->open_time > ot)
			return TR_CANDLE_ADD_LATE; /* overwritten by a newer bucket */
		if (!s->used || s->open_time < ot) {
			/* skipped empty bucket: its first record is this one */
			open_slot(b, s, ot);
			s->final = 1;
		}
		if (t)
			apply(s, t);
		else
			merge(s, g);
		if (s->emitted && s->revision < UINT8_MAX)
			s->revision++;
		s->emitted = 1;
		s->dirty = 0;
		emit(b, s);
		if (s->open_time >= b->newest)
			b->prev_close = s->close; /* the newest final candle's close carries on */
		return TR_CANDLE_ADD_REVISED;
	}
	if (!s->used || s->open_time != ot) {
		if (s->used && s->open_time > ot)
			return TR_CANDLE_ADD_LATE; /* over a ring behind the newest: cannot hold it
						    */
		if (s->used && !s->final) /* an open bucket a ring behind: close it early */
			finalize_before(b, ot - (int64_t)(b->nslots - 1) * b->iv);
		open_slot(b, s, ot);
		if (b->gap_pending) {
			s->flags |= TR_CANDLE_GAP;
			b->gap_pending = 0;
		}
	}
	if (t)
		apply(s, t);
	else
		merge(s, g);
	s->dirty = 1;
	if (!b->cfg.lazy_partials)
		maybe_partial(b, s, now_ns);
	return TR_CANDLE_ADD_APPLIED;
}

int tr_candle_add(struct tr_candle_builder *b, const struct tr_trade *t, int64_t now_ns)
{
	if (t->flags & TR_TRADE_NONMARKET)
		return TR_CANDLE_ADD_NONMARKET;
	if (t->price <= 0 || t->qty <= 0)
		return -EINVAL;
	return add(b, t, NULL, t->ts_event, now_ns);
}

/* tr_candle_add_agg() and tr_candle_advance(), inline in tr_candle_tick(). */
static inline __attribute__((always_inline)) int
add_agg(struct tr_candle_builder *b, const struct tr_candle_agg *g, int64_t now_ns)
{
	struct slot *h = b->hot;

	if (!g->trades)
		return TR_CANDLE_ADD_APPLIED;
	if (h && g->open_ts >= b->hot_lo && g->open_ts < b->hot_hi && h->used && !h->final &&
	    h->open_time == b->hot_lo && b->cfg.lazy_partials) {
		b->gen++;
		merge(h, g);
		h->dirty = 1;
		return TR_CANDLE_ADD_APPLIED;
	}
	return add(b, NULL, g, g->open_ts, now_ns);
}

int tr_candle_add_agg(struct tr_candle_builder *b, const struct tr_candle_agg *g, int64_t now_ns)
{
	return add_agg(b, g, now_ns);
}

int tr_candle_open_for(const struct tr_candle_builder *b, int64_t ts)
{
	if (b->hot && ts >= b->hot_lo && ts < b->hot_hi && b->hot->used && !b->hot->final &&
	    b->hot->open_time == b->hot_lo)
		return 1;
	return !b->fin_set || align(b->iv, b->offset, ts) >= b->fin;
}

/* The slot of the newest bucket (the hot one when it is, no division). */
static struct slot *newest_slot(struct tr_candle_builder *b)
{
	if (b->hot && b->hot_lo == b->newest)
		return b->hot;
	return slot_of(b, b->newest);
}

int tr_candle_partial(struct tr_candle_builder *b, int64_t now_ns)
{
	if (!b->have_newest)
		return 0;
	struct slot *s = newest_slot(b);
	int was = s->dirty;

	if (s->used && s->open_time == b->newest)
		maybe_partial(b, s, now_ns);
	return was && !s->dirty;
}

static inline __attribute__((always_inline)) int advance(struct tr_candle_builder *b,
							 int64_t now_ns)
{
	int64_t wm = watermark(b, now_ns);
	int n = 0;

	/* Nothing closes before the watermark reaches the bucket after fin, and
	 * up to the bucket after that the new fin is fin + iv: no division in
	 * either case (the timer calls this for every builder, 10 times a
	 * second). An older watermark finalizes nothing. */
	if (!b->fin_set)
		n = finalize_before(b, align(b->iv, b->offset, wm));
	else if (wm >= b->fin + b->iv)
		n = finalize_before(b, wm - b->iv < b->fin + b->iv ? b->fin + b->iv
								   : align(b->iv, b->offset, wm));

	if (b->have_newest) {
		struct slot *s = newest_slot(b); /* the hot slot: no division */

		if (s->used && s->open_time == b->newest)
			maybe_partial(b, s, now_ns);
	}
	return n;
}

int tr_candle_advance(struct tr_candle_builder *b, int64_t now_ns)
{
	return advance(b, now_ns);
}

static inline const struct tr_candle *current(struct tr_candle_builder *b);

const struct tr_candle *tr_candle_tick(struct tr_candle_builder *b, const struct tr_candle_agg *g,
				       int64_t now_ns)
{
	struct slot *h = b->hot;

	/* The common case, checked once for the three steps: the aggregate
	 * goes into the hot bucket, which is the newest and stays open (the
	 * watermark has not reached the bucket after fin), so the partial and
	 * the current candle are both of the hot slot. */
	if (h && b->have_newest && b->hot_lo == b->newest && h->used && !h->final &&
	    h->open_time == b->hot_lo && b->cfg.lazy_partials && b->fin_set &&
	    watermark(b, now_ns) < b->fin + b->iv &&
	    (!g || !g->trades || (g->open_ts >= b->hot_lo && g->open_ts < b->hot_hi))) {
		if (g && g->trades) {
			b->gen++;
			merge(h, g);
			h->dirty = 1;
		}
		maybe_partial(b, h, now_ns);
		return materialize(b, h);
	}
	if (g)
		add_agg(b, g, now_ns);
	advance(b, now_ns);
	return current(b);
}

int tr_candle_flush(struct tr_candle_builder *b)
{
	int found = 0;
	int64_t last = 0;

	for (uint32_t i = 0; i < b->nslots; i++) {
		const struct slot *s = &b->slots[i];

		if (s->used && !s->final && (!found || s->open_time > last)) {
			last = s->open_time;
			found = 1;
		}
	}
	return found ? finalize_before(b, last + b->iv) : 0;
}

void tr_candle_mark_gap(struct tr_candle_builder *b)
{
	if (b->have_newest) {
		struct slot *s = slot_of(b, b->newest);

		if (s->used && s->open_time == b->newest && !s->final) {
			b->gen++;
			s->flags |= TR_CANDLE_GAP;
			s->dirty = 1;
		}
	}
	b->gap_pending = 1;
}

static inline const struct tr_candle *current(struct tr_candle_builder *b)
{
	if (!b->have_newest)
		return NULL;
	struct slot *s = newest_slot(b);

	if (!s->used || s->open_time != b->newest)
		return NULL;
	return materialize(b, s);
}

const struct tr_candle *tr_candle_current(struct tr_candle_builder *b)
{
	return current(b);
}
