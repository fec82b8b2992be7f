/* tr_stats24h.c - sliding-window ticker statistics from buckets and monotonic deques.
 *
 * The buckets that hold trades sit in a ring in time order, each with its
 * open (first trade), high, low, first id, count and exact sums. The window
 * totals are kept as running sums: a trade adds to its bucket and to the
 * totals, an expiring bucket subtracts its sums. Since every bucket in the
 * ring is non-empty, the oldest one gives the window's open and first id.
 *
 * High and low: `hi` holds ring sequence numbers of buckets whose highs
 * strictly decrease from front to back (`lo`: lows strictly increase). A
 * bucket is pushed at the back when created, after popping the buckets it
 * dominates; when a trade raises the newest bucket's high, the same popping
 * runs again (the newest bucket is always the back of the deque, or was
 * popped by nothing newer). Expiry pops the front once it is older than the
 * ring's head. Each bucket enters and leaves each deque once: O(1) amortised.
 *
 * All three rings share one power-of-two capacity; a deque never holds more
 * entries than the bucket ring, so growing all three together when the
 * bucket ring is full keeps them all in bounds. Entries are addressed by
 * monotonically increasing sequence numbers masked with cap - 1.
 */
#include "tr_stats24h.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef __int128 i128;

struct s24_bucket {
	int64_t idx; /* floor(ts / bucket_ns) */
	int64_t open, high, low;
	uint64_t first_id;
	uint64_t count;
	i128 volume; /* x 1e-8 */
	i128 quote;  /* sum price*qty, x 1e-16 */
};

struct tr_s24 {
	int64_t bucket_ns;
	int64_t nb; /* window_ns / bucket_ns: the window is buckets [cur - nb, cur] */

	int started;
	int expired;	/* expire_to() ran at cur and no bucket came since: it is
			 * a no-op again until one does or cur moves */
	int64_t cur;	/* bucket index of the clock */
	int64_t cur_lo; /* its start, ns */
	int64_t clock;	/* ns: the latest trade or advance time */

	struct s24_bucket *b;
	uint64_t *hi, *lo;
	uint64_t mask;	     /* capacity - 1 */
	uint64_t head, tail; /* bucket seqs [head, tail) */
	uint64_t hi_head, hi_tail, lo_head, lo_tail;

	i128 volume, quote;
	uint64_t count;

	int have_last;
	int64_t last, last_ts;
	uint64_t last_id;

	/* [fast_lo, fast_hi): time span of the newest bucket, so that a trade
	 * into it needs no division (the common case) */
	int64_t fast_lo, fast_hi;

	unsigned nwin;
	struct {
		int64_t nb;    /* window / bucket_ns */
		uint64_t head; /* first bucket seq inside the sub-window */
	} win[TR_S24_MAX_WINDOWS];
};

void tr_s24_config_default(struct tr_s24_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->window_ns = 86400ll * 1000000000;
	cfg->bucket_ns = 1000000000;
	cfg->initial_buckets = 64;
}

static int alloc_rings(struct tr_s24 *s, uint64_t cap)
{
	s->b = malloc(cap * sizeof(*s->b));
	s->hi = malloc(cap * sizeof(*s->hi));
	s->lo = malloc(cap * sizeof(*s->lo));
	if (!s->b || !s->hi || !s->lo) {
		free(s->b);
		free(s->hi);
		free(s->lo);
		return -ENOMEM;
	}
	s->mask = cap - 1;
	return 0;
}

int tr_s24_create(struct tr_s24 **out, const struct tr_s24_config *cfg)
{
	struct tr_s24_config def;
	struct tr_s24 *s;
	uint64_t cap = 1;

	if (!cfg) {
		tr_s24_config_default(&def);
		cfg = &def;
	}
	if (cfg->window_ns <= 0 || cfg->bucket_ns <= 0 || cfg->window_ns % cfg->bucket_ns)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->bucket_ns = cfg->bucket_ns;
	s->nb = cfg->window_ns / cfg->bucket_ns;
	while (cap < cfg->initial_buckets && cap < (uint64_t)s->nb + 1)
		cap <<= 1;
	if (alloc_rings(s, cap) < 0) {
		free(s);
		return -ENOMEM;
	}
	*out = s;
	return 0;
}

void tr_s24_free(struct tr_s24 *s)
{
	if (!s)
		return;
	free(s->b);
	free(s->hi);
	free(s->lo);
	free(s);
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* The bucket of time ts: the clock's or the next without a division (the
 * timer and every new second ask), else floor(ts / bucket_ns). */
static int64_t bucket_idx(const struct tr_s24 *s, int64_t ts)
{
	if (s->started && ts >= s->cur_lo) {
		uint64_t d = (uint64_t)ts - (uint64_t)s->cur_lo, b = (uint64_t)s->bucket_ns;

		if (d < b)
			return s->cur;
		if (d - b < b)
			return s->cur + 1;
	}
	return floor_div(ts, s->bucket_ns);
}

/* Double the capacity, keeping every live entry at its sequence number. */
static int grow(struct tr_s24 *s)
{
	struct tr_s24 old = *s;
	uint64_t cap = (s->mask + 1) * 2;

	if (alloc_rings(s, cap) < 0) {
		s->b = old.b;
		s->hi = old.hi;
		s->lo = old.lo;
		s->mask = old.mask;
		return -ENOMEM;
	}
	for (uint64_t q = s->head; q != s->tail; q++)
		s->b[q & s->mask] = old.b[q & old.mask];
	for (uint64_t q = s->hi_head; q != s->hi_tail; q++)
		s->hi[q & s->mask] = old.hi[q & old.mask];
	for (uint64_t q = s->lo_head; q != s->lo_tail; q++)
		s->lo[q & s->mask] = old.lo[q & old.mask];
	free(old.b);
	free(old.hi);
	free(old.lo);
	return 0;
}

static struct s24_bucket *bucket(const struct tr_s24 *s, uint64_t seq)
{
	return &s->b[seq & s->mask];
}

/* Bucket `seq`, the newest, has a new high: pop what it dominates, then sit at the back. */
static void push_high(struct tr_s24 *s, uint64_t seq)
{
	int64_t h = bucket(s, seq)->high;

	while (s->hi_tail != s->hi_head && bucket(s, s->hi[(s->hi_tail - 1) & s->mask])->high <= h)
		s->hi_tail--;
	s->hi[s->hi_tail++ & s->mask] = seq;
}

static void push_low(struct tr_s24 *s, uint64_t seq)
{
	int64_t l = bucket(s, seq)->low;

	while (s->lo_tail != s->lo_head && bucket(s, s->lo[(s->lo_tail - 1) & s->mask])->low >= l)
		s->lo_tail--;
	s->lo[s->lo_tail++ & s->mask] = seq;
}

/* Move the clock to bucket idx and drop the buckets before the window. */
static void expire_to(struct tr_s24 *s, int64_t idx)
{
	if (!s->started || idx > s->cur) {
		s->started = 1;
		s->cur = idx;
		s->cur_lo = idx * s->bucket_ns;
	}
	while (s->head != s->tail && bucket(s, s->head)->idx < s->cur - s->nb) {
		struct s24_bucket *e = bucket(s, s->head);
		s->volume -= e->volume;
		s->quote -= e->quote;
		s->count -= e->count;
		s->head++;
	}
	while (s->hi_head != s->hi_tail && s->hi[s->hi_head & s->mask] < s->head)
		s->hi_head++;
	while (s->lo_head != s->lo_tail && s->lo[s->lo_head & s->mask] < s->head)
		s->lo_head++;
	for (unsigned w = 0; w < s->nwin; w++) {
		if (s->win[w].head < s->head)
			s->win[w].head = s->head;
		while (s->win[w].head != s->tail &&
		       bucket(s, s->win[w].head)->idx < s->cur - s->win[w].nb)
			s->win[w].head++;
	}
	s->expired = 1;
}

int tr_s24_add_window(struct tr_s24 *s, int64_t window_ns)
{
	if (window_ns <= 0 || window_ns % s->bucket_ns || window_ns / s->bucket_ns > s->nb)
		return -EINVAL;
	if (s->nwin == TR_S24_MAX_WINDOWS)
		return -ENOSPC;
	s->expired = 0;
	s->win[s->nwin].nb = window_ns / s->bucket_ns;
	s->win[s->nwin].head = s->head;
	while (s->win[s->nwin].head != s->tail &&
	       bucket(s, s->win[s->nwin].head)->idx < s->cur - s->win[s->nwin].nb)
		s->win[s->nwin].head++;
	return (int)s->nwin++;
}

int tr_s24_window_open(const struct tr_s24 *s, unsigned w, int64_t *open)
{
	if (w >= s->nwin || s->win[w].head == s->tail)
		return 0;
	*open = bucket(s, s->win[w].head)->open;
	return 1;
}

int64_t tr_s24_last(const struct tr_s24 *s)
{
	return s->have_last ? s->last : 0;
}

void tr_s24_advance(struct tr_s24 *s, int64_t now)
{
	int first = !s->started;
	int64_t idx = bucket_idx(s, now);

	/* ten times a second per symbol: skip what would change nothing */
	if (first || !s->expired || idx > s->cur)
		expire_to(s, idx);
	if (first || now > s->clock)
		s->clock = now;
}

/* A counted trade's sums, into its bucket e and the window, and `last`. */
static inline void count_trade(struct tr_s24 *s, struct s24_bucket *e, int64_t ts, int64_t price,
			       int64_t qty, uint64_t trade_id, uint32_t trade_count)
{
	i128 pq = (i128)price * qty;

	e->count += trade_count;
	e->volume += qty;
	e->quote += pq;
	s->count += trade_count;
	s->volume += qty;
	s->quote += pq;
	if (!s->have_last || ts >= s->last_ts) {
		s->have_last = 1;
		s->last = price;
		s->last_ts = ts;
		s->last_id = trade_id;
	}
}

/* Raise the bucket's high and low to hi and lo, keeping the deques. */
static inline void widen(struct tr_s24 *s, uint64_t seq, struct s24_bucket *e, int64_t hi,
			 int64_t lo)
{
	if (hi > e->high) {
		e->high = hi;
		push_high(s, seq);
	}
	if (lo < e->low) {
		e->low = lo;
		push_low(s, seq);
	}
}

/* The bucket of time ts when it is not the newest bucket's fast range:
 * the window expires up to it, and a bucket newer than the newest is
 * opened with the open, high, low and first id of what arrives first
 * (a trade, or a batch whose high and low the deques take at once).
 * Returns 0 with *seq the newest bucket (to widen), 2 with *seq opened,
 * 1 when ts is older than the window, or -ENOMEM. */
static int place(struct tr_s24 *s, int64_t ts, int64_t open, int64_t high, int64_t low,
		 uint64_t first_id, uint64_t *seq)
{
	int64_t idx = bucket_idx(s, ts);
	int first = !s->started;
	struct s24_bucket *e;

	expire_to(s, idx);
	if (first || ts > s->clock)
		s->clock = ts;
	if (idx < s->cur - s->nb)
		return 1;
	if (s->head != s->tail && idx <= bucket(s, s->tail - 1)->idx) {
		*seq = s->tail - 1; /* a late one counts in the newest bucket */
		return 0;
	}
	if (s->tail - s->head == s->mask + 1 && grow(s) < 0)
		return -ENOMEM;
	*seq = s->tail++;
	s->expired = 0; /* a sub-window may start at the new bucket */
	e = bucket(s, *seq);
	e->idx = idx;
	e->open = open;
	e->high = high;
	e->low = low;
	e->first_id = first_id;
	e->count = 0;
	e->volume = e->quote = 0;
	push_high(s, *seq);
	push_low(s, *seq);
	s->fast_lo = idx * s->bucket_ns;
	s->fast_hi = s->fast_lo + s->bucket_ns;
	return 2;
}

/* Any trade but one into the newest bucket (tr_s24_add's fast path). */
static __attribute__((noinline)) int add_slow(struct tr_s24 *s, int64_t ts, int64_t price,
					      int64_t qty, uint64_t trade_id, uint32_t trade_count)
{
	uint64_t seq;
	int rc = place(s, ts, price, price, price, trade_id, &seq);

	if (rc < 0 || rc == 1)
		return rc;
	struct s24_bucket *e = bucket(s, seq);
	if (rc == 0)
		widen(s, seq, e, price, price);
	count_trade(s, e, ts, price, qty, trade_id, trade_count);
	return 0;
}

int tr_s24_add(struct tr_s24 *s, int64_t ts, int64_t price, int64_t qty, uint64_t trade_id,
	       uint32_t trade_count)
{
	if (!(ts >= s->fast_lo && ts < s->fast_hi && s->head != s->tail))
		return add_slow(s, ts, price, qty, trade_id, trade_count);
	/* Into the newest bucket, still in the window: nothing expires that
	 * the clock had not already expired. */
	uint64_t seq = s->tail - 1;
	struct s24_bucket *e = bucket(s, seq);

	if (ts > s->clock)
		s->clock = ts;
	widen(s, seq, e, price, price);
	count_trade(s, e, ts, price, qty, trade_id, trade_count);
	return 0;
}

int tr_s24_add_batch(struct tr_s24 *s, const struct tr_s24_batch *b)
{
	struct s24_bucket *e;
	uint64_t seq;
	int64_t ts = b->last_ts; /* every trade of the batch is in its bucket */
	int rc = 0;

	if (ts >= s->fast_lo && ts < s->fast_hi && s->head != s->tail) {
		seq = s->tail - 1; /* the newest bucket, as tr_s24_add()'s fast path */
		if (ts > s->clock)
			s->clock = ts;
	} else {
		rc = place(s, ts, b->first_price, b->high, b->low, b->first_id, &seq);
		if (rc < 0 || rc == 1)
			return rc;
	}
	e = bucket(s, seq);
	if (rc == 0)
		widen(s, seq, e, b->high, b->low);
	e->count += b->count;
	e->volume += b->volume;
	e->quote += b->quote;
	s->count += b->count;
	s->volume += b->volume;
	s->quote += b->quote;
	if (!s->have_last || ts >= s->last_ts) {
		s->have_last = 1;
		s->last = b->last_price;
		s->last_ts = ts;
		s->last_id = b->last_id;
	}
	return 0;
}

int tr_s24_add_trade(struct tr_s24 *s, const struct tr_trade *t)
{
	return tr_s24_add(s, t->ts_event, t->price, t->qty, t->trade_id,
			  t->trade_count ? t->trade_count : 1);
}

uint64_t tr_s24_trade_count(const struct tr_s24 *s)
{
	return s->count;
}

static int64_t sat64(i128 v)
{
	return v > INT64_MAX ? INT64_MAX : v < INT64_MIN ? INT64_MIN : (int64_t)v;
}

/* num / den rounded half away from zero (den != 0), saturated. */
static inline __attribute__((always_inline)) int64_t div_round(i128 num, i128 den)
{
	i128 q, r;

	if (den < 0) {
		num = -num;
		den = -den;
	}
#if defined(__x86_64__)
	/* Read on every trade: one hardware 128/64-bit divide on the magnitude
	 * when the quotient fits 64 bits, instead of the library division. */
	unsigned __int128 mag = num < 0 ? -(unsigned __int128)num : (unsigned __int128)num;
	uint64_t hi = (uint64_t)(mag >> 64);
	if (den <= (i128)UINT64_MAX && hi < (uint64_t)den) {
		uint64_t qq, rr;

		__asm__("divq %4"
			: "=a"(qq), "=d"(rr)
			: "a"((uint64_t)mag), "d"(hi), "rm"((uint64_t)den));
		/* half away from zero on the magnitude: the remainder is data,
		 * so a compare added in, not a branch to mispredict */
		q = (i128)qq + (rr >= (uint64_t)den - rr);
		return sat64(num < 0 ? -q : q);
	}
#endif
	q = num / den;
	r = num % den;
	if (r < 0)
		r = -r;
	if (r >= den - r)
		q += num < 0 ? -1 : 1;
	return sat64(q);
}

int tr_s24_read(const struct tr_s24 *s, struct tr_stats24h *out)
{
	if (!s->have_last) {
		memset(out, 0, sizeof(*out));
		return -ENODATA;
	}
	out->last = s->last;
	out->last_trade_id = s->last_id;
	out->ts_update = s->last_ts;
	out->open_time = (s->cur - s->nb) * s->bucket_ns;
	out->close_time = s->clock;
	out->reserved = 0;
	if (s->head == s->tail) {
		out->open = out->high = out->low = s->last;
		out->change = out->change_pct = out->volume = out->quote_volume = 0;
		out->trade_count = out->first_trade_id = out->last_trade_id = 0;
		out->vwap = 0;
		return 0;
	}
	out->open = bucket(s, s->head)->open;
	out->first_trade_id = bucket(s, s->head)->first_id;
	out->high = bucket(s, s->hi[s->hi_head & s->mask])->high;
	out->low = bucket(s, s->lo[s->lo_head & s->mask])->low;
	i128 change = (i128)s->last - out->open;
	out->change = sat64(change);
	out->change_pct = out->open ? div_round(change * 10000000000ll, out->open) : 0;
	out->volume = sat64(s->volume);
	out->quote_volume = div_round(s->quote, TR_SCALE);
	out->vwap = s->volume ? div_round(s->quote, s->volume) : 0;
	out->trade_count = s->count;
	return 1;
}

int tr_s24_read_change(const struct tr_s24 *s, struct tr_stats24h *out)
{
	if (!s->have_last) {
		out->last = out->open = out->change_pct = 0;
		out->trade_count = 0;
		return -ENODATA;
	}
	out->last = s->last;
	out->trade_count = s->count;
	if (s->head == s->tail) {
		out->open = s->last;
		out->change_pct = 0;
		out->trade_count = 0;
		return 0;
	}
	out->open = bucket(s, s->head)->open;
	out->change_pct =
	    out->open ? div_round(((i128)s->last - out->open) * 10000000000ll, out->open) : 0;
	return 1;
}

/* a ranks before b in `best` order (larger change first, then lower id). */
static int better(const struct tr_mover *a, const struct tr_mover *b)
{
	return a->change_pct != b->change_pct ? a->change_pct > b->change_pct
					      : a->symbol_id < b->symbol_id;
}

static int worse(const struct tr_mover *a, const struct tr_mover *b)
{
	return a->change_pct != b->change_pct ? a->change_pct < b->change_pct
					      : a->symbol_id < b->symbol_id;
}

/* Insert m into the sorted list top[0..*len) of at most n, if it ranks. */
static void insert(struct tr_mover *top, size_t *len, size_t n, const struct tr_mover *m,
		   int (*before)(const struct tr_mover *, const struct tr_mover *))
{
	size_t i = *len;

	if (i == n) {
		if (!before(m, &top[n - 1]))
			return;
		i = n - 1;
	} else {
		(*len)++;
	}
	while (i > 0 && before(m, &top[i - 1])) {
		top[i] = top[i - 1];
		i--;
	}
	top[i] = *m;
}

size_t tr_s24_movers(const struct tr_stats24h *const *stats, size_t count, size_t n,
		     struct tr_mover *best, struct tr_mover *worst)
{
	size_t nb = 0, nw = 0;

	if (n == 0)
		return 0;
	for (size_t i = 0; i < count; i++) {
		if (!stats[i] || stats[i]->trade_count == 0)
			continue;
		struct tr_mover m = {.symbol_id = (uint32_t)i,
				     .change_pct = stats[i]->change_pct,
				     .last = stats[i]->last,
				     .open = stats[i]->open};
		insert(best, &nb, n, &m, better);
		insert(worst, &nw, n, &m, worse);
	}
	return nb;
}
