/* tr_analytics.c - analytics settings, outlier and spike detectors, alert rules (tr_analytics.h).
 *
 * Medians are lower medians (the element of rank (n - 1) / 2), so the
 * reference is always a price that traded and all arithmetic stays in
 * integers. Selection is quickselect with a median-of-three pivot on a copy:
 * O(window) per recompute, once every window/4 trades.
 */
#include "tr_analytics.h"

#include "tr_err.h"
#include "tr_fixed.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef __int128 i128;

/* ---- settings ---- */

void tr_an_config_default(struct tr_an_config *c)
{
	memset(c, 0, sizeof *c);
	c->enabled = true;
	c->refresh_us = 1000;
	c->sma[0] = c->ema[0] = 20;
	c->sma[1] = c->ema[1] = 50;
	c->sma[2] = c->ema[2] = 200;
	c->rsi = 14;
	c->macd[0] = 12;
	c->macd[1] = 26;
	c->macd[2] = 9;
	c->bb_period = 20;
	c->bb_k = 2 * TR_SCALE;
	c->spike_mode = TR_SPIKE_MULTIPLE;
	c->spike_threshold = 5 * TR_SCALE;
	c->spike_window = 20;
	c->spike_intervals[0] = 60;
	c->nspike_intervals = 1;
	c->outlier_mads = 10 * TR_SCALE;
	c->outlier_window = 64;
	c->outlier_floor_bps = 10;
	c->stale_ms = 60000;
}

static const char *const names[] = {
    "analytics",	   "latest-refresh-us",	     "indicator-sma", "indicator-ema",
    "indicator-rsi",	   "indicator-macd",	     "indicator-bb",  "volume-spike",
    "volume-spike-window", "volume-spike-intervals", "outlier-mads",  "outlier-window",
    "outlier-floor-bps",   "symbol-stale-ms",	     "warm-start",    "alert"};

int tr_an_config_has(const char *name)
{
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (!strcmp(names[i], name))
			return 1;
	return 0;
}

/* Up to max unsigned numbers separated by commas, each in lo..hi. Returns
 * how many, or -1. */
static int parse_list(const char *v, uint32_t *out, int max, uint32_t lo, uint32_t hi)
{
	int n = 0;

	while (*v) {
		char *end;
		if (!isdigit((unsigned char)*v) || n == max)
			return -1;
		errno = 0;
		unsigned long x = strtoul(v, &end, 10);
		if (errno || x < lo || x > hi)
			return -1;
		out[n++] = (uint32_t)x;
		v = end;
		if (*v == ',')
			v++;
		else if (*v)
			return -1;
	}
	return n;
}

/* A non-negative decimal at 1e-8 ("2", "2.5"). */
static int parse_dec(const char *v, size_t len, int64_t *out)
{
	return tr_fixed_parse(v, len, out) == TR_FIXED_OK && *out >= 0 ? 0 : -1;
}

static int parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1"))
		*out = true;
	else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0"))
		*out = false;
	else
		return -1;
	return 0;
}

/* Kline interval name to seconds, 0 if unknown. */
static uint32_t interval_s(const char *t, size_t n)
{
	static const struct {
		const char *name;
		uint32_t s;
	} known[] = {{"1s", 1},	    {"1m", 60},	    {"3m", 180},   {"5m", 300},	  {"15m", 900},
		     {"30m", 1800}, {"1h", 3600},   {"2h", 7200},  {"4h", 14400}, {"6h", 21600},
		     {"8h", 28800}, {"12h", 43200}, {"1d", 86400}, {"1w", 604800}};

	for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
		if (strlen(known[k].name) == n && !strncmp(t, known[k].name, n))
			return known[k].s;
	return 0;
}

/* "30s", "5m", "1h", "24h": whole seconds, 0 if bad. */
static int64_t duration_s(const char *t)
{
	char *end;
	errno = 0;
	long long v = strtoll(t, &end, 10);
	int64_t mult = !strcmp(end, "s")   ? 1
		       : !strcmp(end, "m") ? 60
		       : !strcmp(end, "h") ? 3600
		       : !strcmp(end, "d") ? 86400
					   : 0;
	if (errno || end == t || v <= 0 || !mult || v > 86400 / mult)
		return 0;
	return v * mult;
}

const char *tr_alert_kind_name(unsigned kind)
{
	static const char *const k[] = {NULL, "cross", "change", "spike", "stale"};

	return kind < sizeof k / sizeof k[0] ? k[kind] : NULL;
}

int tr_alert_parse(const char *value, struct tr_alert_rule *r, const char *where)
{
	char w[6][64];
	int n = sscanf(value, "%63s %63s %63s %63s %63s %63s", w[0], w[1], w[2], w[3], w[4], w[5]);

	memset(r, 0, sizeof *r);
	if (n < 3)
		return tr_err(EINVAL, "%s: alert: expected 'alert NAME KIND SYMBOL ...'", where);
	if (strlen(w[0]) >= sizeof r->name)
		return tr_err(EINVAL, "%s: alert: name '%s' is longer than %zu", where, w[0],
			      sizeof r->name - 1);
	snprintf(r->name, sizeof r->name, "%s", w[0]);
	if (strlen(w[2]) >= TR_NAME_LEN)
		return tr_err(EINVAL, "%s: alert %s: symbol '%s' too long", where, r->name, w[2]);
	for (size_t i = 0; w[2][i]; i++)
		r->symbol[i] = (char)toupper((unsigned char)w[2][i]);
	bool any = !strcmp(r->symbol, "*");
	if (!strcmp(w[1], "cross")) {
		r->kind = TR_ALERT_CROSS;
		if (any)
			return tr_err(EINVAL, "%s: alert %s: cross needs one symbol, not *", where,
				      r->name);
		if (n != 4 || tr_fixed_parse(w[3], strlen(w[3]), &r->level) != TR_FIXED_OK ||
		    r->level <= 0)
			return tr_err(EINVAL,
				      "%s: alert %s: expected 'cross SYMBOL PRICE' (PRICE > 0)",
				      where, r->name);
	} else if (!strcmp(w[1], "change")) {
		r->kind = TR_ALERT_CHANGE;
		int64_t secs = n == 5 ? duration_s(w[4]) : 0;
		if (n != 5 || parse_dec(w[3], strlen(w[3]), &r->pct) < 0 || r->pct <= 0 || !secs)
			return tr_err(EINVAL,
				      "%s: alert %s: expected 'change SYMBOL PCT WINDOW' (PCT > 0, "
				      "WINDOW like 30s, 5m, 1h, at most 24h)",
				      where, r->name);
		r->window_ns = secs * 1000000000;
	} else if (!strcmp(w[1], "spike")) {
		r->kind = TR_ALERT_SPIKE;
		if (n > 4 || (n == 4 && !(r->interval_s = interval_s(w[3], strlen(w[3])))))
			return tr_err(EINVAL, "%s: alert %s: expected 'spike SYMBOL [INTERVAL]'",
				      where, r->name);
	} else if (!strcmp(w[1], "stale")) {
		r->kind = TR_ALERT_STALE;
		if (n != 3)
			return tr_err(EINVAL, "%s: alert %s: expected 'stale SYMBOL'", where,
				      r->name);
	} else {
		return tr_err(EINVAL,
			      "%s: alert %s: kind '%s' is not cross, change, spike or stale", where,
			      r->name, w[1]);
	}
	return 0;
}

int tr_an_config_set(struct tr_an_config *c, const char *name, const char *v, const char *where)
{
	uint32_t x[TR_MAX_INTERVALS];
	int n;

	if (!strcmp(name, "analytics")) {
		if (parse_bool(v, &c->enabled) < 0)
			goto bad_bool;
	} else if (!strcmp(name, "warm-start")) {
		if (parse_bool(v, &c->warm_start) < 0)
			goto bad_bool;
	} else if (!strcmp(name, "latest-refresh-us")) {
		if (parse_list(v, x, 1, 0, 1000000) != 1)
			return tr_err(EINVAL, "%s: %s: '%s' is not a number in 0..1000000", where,
				      name, v);
		c->refresh_us = x[0];
	} else if (!strcmp(name, "indicator-sma") || !strcmp(name, "indicator-ema")) {
		uint32_t *dst = name[10] == 's' ? c->sma : c->ema;
		if (!strcmp(v, "off"))
			n = 0;
		else if ((n = parse_list(v, x, 4, 1, 4096)) < 1)
			return tr_err(EINVAL,
				      "%s: %s: '%s' is not 1 to 4 periods in 1..4096 (or off)",
				      where, name, v);
		memset(dst, 0, 4 * sizeof *dst);
		memcpy(dst, x, (size_t)n * sizeof *dst);
	} else if (!strcmp(name, "indicator-rsi")) {
		if (!strcmp(v, "off"))
			c->rsi = 0;
		else if (parse_list(v, x, 1, 1, 4096) != 1)
			return tr_err(EINVAL, "%s: %s: '%s' is not a period in 1..4096 (or off)",
				      where, name, v);
		else
			c->rsi = x[0];
	} else if (!strcmp(name, "indicator-macd")) {
		if (!strcmp(v, "off"))
			memset(c->macd, 0, sizeof c->macd);
		else if (parse_list(v, x, 3, 1, 4096) != 3 || x[1] <= x[0])
			return tr_err(
			    EINVAL,
			    "%s: %s: '%s' is not FAST,SLOW,SIGNAL with SLOW > FAST (or off)", where,
			    name, v);
		else
			memcpy(c->macd, x, sizeof c->macd);
	} else if (!strcmp(name, "indicator-bb")) {
		const char *comma = strchr(v, ',');
		int64_t k;
		if (!strcmp(v, "off")) {
			c->bb_period = 0;
		} else {
			char p[16];
			size_t pl = comma ? (size_t)(comma - v) : 0;
			if (!comma || pl >= sizeof p)
				goto bad_bb;
			memcpy(p, v, pl);
			p[pl] = 0;
			if (parse_list(p, x, 1, 1, 4096) != 1 ||
			    parse_dec(comma + 1, strlen(comma + 1), &k) < 0)
				goto bad_bb;
			c->bb_period = x[0];
			c->bb_k = k;
		}
	} else if (!strcmp(name, "volume-spike")) {
		char mode[16];
		int64_t t;
		const char *sp = strchr(v, ' ');
		if (!strcmp(v, "off")) {
			c->spike_mode = TR_SPIKE_OFF;
			return 0;
		}
		if (!sp || (size_t)(sp - v) >= sizeof mode)
			goto bad_spike;
		memcpy(mode, v, (size_t)(sp - v));
		mode[sp - v] = 0;
		while (*sp == ' ')
			sp++;
		if (parse_dec(sp, strlen(sp), &t) < 0 || t <= 0)
			goto bad_spike;
		if (!strcmp(mode, "multiple"))
			c->spike_mode = TR_SPIKE_MULTIPLE;
		else if (!strcmp(mode, "zscore"))
			c->spike_mode = TR_SPIKE_ZSCORE;
		else
			goto bad_spike;
		c->spike_threshold = t;
	} else if (!strcmp(name, "volume-spike-window")) {
		if (parse_list(v, x, 1, 2, TR_SPIKE_MAX_WINDOW) != 1)
			return tr_err(EINVAL, "%s: %s: '%s' is not a number in 2..%d", where, name,
				      v, TR_SPIKE_MAX_WINDOW);
		c->spike_window = x[0];
	} else if (!strcmp(name, "volume-spike-intervals")) {
		char buf[256], *save = NULL;
		uint32_t k = 0;
		snprintf(buf, sizeof buf, "%s", v);
		for (char *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
			uint32_t s = interval_s(t, strlen(t));
			if (!s || k == TR_MAX_INTERVALS)
				return tr_err(EINVAL, "%s: %s: '%s' is not a Binance interval",
					      where, name, t);
			c->spike_intervals[k++] = s;
		}
		c->nspike_intervals = k;
	} else if (!strcmp(name, "outlier-mads")) {
		if (parse_dec(v, strlen(v), &c->outlier_mads) < 0)
			return tr_err(EINVAL, "%s: %s: '%s' is not a decimal >= 0 (0: off)", where,
				      name, v);
	} else if (!strcmp(name, "outlier-window")) {
		if (parse_list(v, x, 1, 4, TR_OUTLIER_MAX_WINDOW) != 1)
			return tr_err(EINVAL, "%s: %s: '%s' is not a number in 4..%d", where, name,
				      v, TR_OUTLIER_MAX_WINDOW);
		c->outlier_window = x[0];
	} else if (!strcmp(name, "outlier-floor-bps")) {
		if (parse_list(v, x, 1, 0, 10000) != 1)
			return tr_err(EINVAL, "%s: %s: '%s' is not a number in 0..10000", where,
				      name, v);
		c->outlier_floor_bps = x[0];
	} else if (!strcmp(name, "symbol-stale-ms")) {
		if (parse_list(v, x, 1, 0, 86400000) != 1)
			return tr_err(EINVAL, "%s: %s: '%s' is not a number in 0..86400000", where,
				      name, v);
		c->stale_ms = x[0];
	} else if (!strcmp(name, "alert")) {
		if (c->nrules == TR_AN_MAX_RULES)
			return tr_err(EINVAL, "%s: alert: at most %d rules", where,
				      TR_AN_MAX_RULES);
		if (tr_alert_parse(v, &c->rules[c->nrules], where) < 0)
			return -EINVAL;
		for (uint32_t i = 0; i < c->nrules; i++)
			if (!strcmp(c->rules[i].name, c->rules[c->nrules].name))
				return tr_err(EINVAL, "%s: alert: a rule named %s already exists",
					      where, c->rules[i].name);
		c->nrules++;
	} else {
		return tr_err(EINVAL, "%s: unknown directive '%s'", where, name);
	}
	return 0;
bad_bool:
	return tr_err(EINVAL, "%s: %s: '%s' is not yes or no", where, name, v);
bad_bb:
	return tr_err(EINVAL, "%s: indicator-bb: '%s' is not PERIOD,K (e.g. 20,2) or off", where,
		      v);
bad_spike:
	return tr_err(EINVAL,
		      "%s: volume-spike: '%s' is not 'multiple X', 'zscore X' (X > 0) or off",
		      where, v);
}

/* ---- selection ---- */

/* The element of rank k of a[0..n), using tmp[0..n) (both reordered).
 * Each round splits the candidates around a median of three into those
 * below (compacted in place), above (into the other buffer) and equal
 * (counted): every element is stored to both sides and only the counts
 * move, so there is no branch on the data to mispredict (a third of the
 * time of a Hoare partition on recorded prices, half of them repeats). A
 * round keeps fewer than m candidates, since the pivot is one of them. */
static int64_t select_k(int64_t *a, int64_t *tmp, uint32_t n, uint32_t k)
{
	int64_t *cur = a, *oth = tmp;
	uint32_t m = n;

	while (m > 1) {
		int64_t x = cur[0], y = cur[m / 2], z = cur[m - 1];
		int64_t mn = x < y ? x : y, mx = x < y ? y : x;
		int64_t p = z < mn ? mn : z > mx ? mx : z;
		uint32_t nl = 0, ng = 0;

		for (uint32_t i = 0; i < m; i++) {
			int64_t v = cur[i];

			cur[nl] = v; /* nl <= i: already read */
			oth[ng] = v;
			nl += v < p;
			ng += v > p;
		}
		if (k < nl) {
			m = nl;
			continue;
		}
		if (k < m - ng)
			return p;
		k -= m - ng;
		m = ng;
		int64_t *t = cur;
		cur = oth;
		oth = t;
	}
	return cur[0];
}

/* ---- outliers ---- */

int tr_outlier_init(struct tr_outlier *o, uint32_t window, int64_t mads, uint32_t floor_bps)
{
	memset(o, 0, sizeof *o);
	if (window < 4 || window > TR_OUTLIER_MAX_WINDOW)
		return -EINVAL;
	o->ring = calloc(3 * (size_t)window, sizeof *o->ring);
	if (!o->ring)
		return -ENOMEM;
	o->scratch = o->ring + window;
	o->spare = o->scratch + window;
	o->window = window;
	o->mads = mads;
	o->floor_bps = floor_bps;
	return 0;
}

void tr_outlier_free(struct tr_outlier *o)
{
	free(o->ring);
	o->ring = o->scratch = o->spare = NULL;
}

/* Once per window trades: out of line, so the per-trade check stays small. */
void tr_outlier_recompute(struct tr_outlier *o)
{
	uint32_t n = o->window, k = (n - 1) / 2;

	memcpy(o->scratch, o->ring, n * sizeof *o->scratch);
	o->ref = select_k(o->scratch, o->spare, n, k);
	for (uint32_t i = 0; i < n; i++) {
		int64_t d = o->ring[i] - o->ref;
		o->scratch[i] = d < 0 ? -d : d; /* prices are positive: no overflow */
	}
	o->mad = select_k(o->scratch, o->spare, n, k);
	int64_t floor = (int64_t)((i128)o->ref * o->floor_bps / 10000);
	o->limit = o->mad > floor ? o->mad : floor;
	if (o->limit < 1)
		o->limit = 1;
	/* |price - ref| * 1e8 > mads * limit  <=>  |price - ref| > band for an
	 * integer difference, band = floor(mads * limit / 1e8) */
	i128 band = (i128)o->mads * o->limit / TR_SCALE;
	i128 lo = (i128)o->ref - band, hi = (i128)o->ref + band;
	o->lo = lo < INT64_MIN ? INT64_MIN : (int64_t)lo; /* clamped: no price beyond */
	o->hi = hi > INT64_MAX ? INT64_MAX : (int64_t)hi;
	o->valid = 1;
	o->since = 0;
}

int tr_outlier_deviation(const struct tr_outlier *o, int64_t price, int64_t *deviation)
{
	i128 d = (i128)price - o->ref;

	if (d < 0)
		d = -d;
	i128 dev = d * TR_SCALE / o->limit;
	*deviation = dev > INT64_MAX ? INT64_MAX : (int64_t)dev;
	return 1;
}

/* ---- volume spikes ---- */

struct tr_spike *tr_spike_new(uint32_t window, uint32_t mode, int64_t threshold)
{
	if (window == 0 || window > TR_SPIKE_MAX_WINDOW) {
		errno = EINVAL;
		return NULL;
	}
	struct tr_spike *s = calloc(1, sizeof *s + window * sizeof(int64_t));
	if (!s) {
		errno = ENOMEM;
		return NULL;
	}
	s->window = window;
	s->mode = mode;
	s->threshold = threshold;
	return s;
}

void tr_spike_free(struct tr_spike *s)
{
	free(s);
}

static int64_t sat(i128 v)
{
	return v > INT64_MAX ? INT64_MAX : v < INT64_MIN ? INT64_MIN : (int64_t)v;
}

int tr_spike_close(struct tr_spike *s, int64_t volume, int64_t *baseline, int64_t *score)
{
	int spike = 0;

	if (s->n == s->window && s->mode != TR_SPIKE_OFF && s->sum > 0) {
		i128 n = s->window;
		i128 mean_r = (s->sum * 2 + n) / (2 * n); /* rounded half up; sum > 0 */
		if (s->mode == TR_SPIKE_MULTIPLE) {
			/* volume / (sum / n) >= threshold / 1e8 */
			if ((i128)volume * n * TR_SCALE >= (i128)s->threshold * s->sum) {
				*score = sat(((i128)volume * n * TR_SCALE + s->sum / 2) / s->sum);
				*baseline = sat(mean_r);
				spike = 1;
			}
		} else {
			long double mean = (long double)s->sum / s->window, var = 0;
			for (uint32_t i = 0; i < s->window; i++) {
				long double d = (long double)s->ring[i] - mean;
				var += d * d;
			}
			var /= s->window;
			if (var > 0) {
				long double z = ((long double)volume - mean) / sqrtl(var);
				if (z * TR_SCALE >= (long double)s->threshold) {
					*score = z * TR_SCALE >= 9.2e18L ? INT64_MAX
									 : llroundl(z * TR_SCALE);
					*baseline = sat(mean_r);
					spike = 1;
				}
			}
		}
	}
	if (s->n == s->window)
		s->sum -= s->ring[s->pos];
	else
		s->n++;
	s->ring[s->pos] = volume;
	s->sum += volume;
	s->pos = s->pos + 1 == s->window ? 0 : s->pos + 1;
	return spike;
}

void tr_spike_revise(struct tr_spike *s, int64_t volume)
{
	if (!s->n)
		return;
	uint32_t last = s->pos ? s->pos - 1 : s->window - 1;
	s->sum += (i128)volume - s->ring[last];
	s->ring[last] = volume;
}
