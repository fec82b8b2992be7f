/* tr_format.c - records as a text line or a JSON object (tr_format.h).
 *
 * Output goes through a small bounded writer (struct out): every append is
 * clipped to the caller's buffer and remembers that it was, so the format
 * code reads straight through without checking each step, and the result is
 * either the whole line or -ENOSPC with nothing written past len. Numbers are
 * formatted by hand rather than with snprintf: the mirrors format every
 * record, and this is their hot path. So each writer checks the room once
 * and then writes straight into the caller's buffer; only an append that
 * does not fit goes the slow way, through a copy that is clipped.
 */
#include "tr_format.h"

#include "tr_digits.h"
#include "tr_fixed.h"
#include "tr_reader.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct out {
	char *buf;
	size_t len; /* capacity, including the NUL */
	size_t pos;
	bool full; /* something was clipped */
};

/* The little writers are forced inline so that keys, which are literals,
 * have their length folded and become a few moves. */
#define INLINE static inline __attribute__((always_inline))
#define LIKELY(x) __builtin_expect(!!(x), 1)

/* Bytes that may still be written, keeping the NUL's place. */
INLINE size_t room(const struct out *o)
{
	return o->len ? o->len - 1 - o->pos : 0;
}

static __attribute__((noinline)) void put_clipped(struct out *o, const char *s, size_t n)
{
	size_t r = room(o);

	if (n > r) {
		n = r;
		o->full = true;
	}
	memcpy(o->buf + o->pos, s, n);
	o->pos += n;
}

INLINE void put(struct out *o, const char *s, size_t n)
{
	if (LIKELY(n <= room(o))) {
		memcpy(o->buf + o->pos, s, n);
		o->pos += n;
	} else {
		put_clipped(o, s, n);
	}
}

INLINE void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

INLINE void putc_(struct out *o, char c)
{
	put(o, &c, 1);
}

/* A literal: its length is known at compile time. */
#define PUTL(o, lit) put((o), (lit), sizeof(lit) - 1)

/* v in decimal at p (at most 20 bytes, no NUL); returns the length. Eight
 * digits at a time in 32-bit arithmetic: a ns time is three pieces. */
static inline size_t u64_write(char *p, uint64_t v)
{
	size_t n;

	if (v < 100000000)
		return tr_digits_u32(p, (uint32_t)v);
	uint64_t hi = v / 100000000;
	if (hi < 100000000) {
		n = tr_digits_u32(p, (uint32_t)hi);
	} else {
		n = tr_digits_u32(p, (uint32_t)(hi / 100000000)); /* < 10^4: v < 2^64 */
		tr_digits_w8(p + n, (uint32_t)(hi % 100000000));
		n += 8;
	}
	tr_digits_w8(p + n, (uint32_t)(v % 100000000));
	return n + 8;
}

/* Near the end of the buffer: through a copy that is clipped. Out of line,
 * so the usual path has no buffer on its stack to guard. */
static __attribute__((noinline)) void put_u64_clipped(struct out *o, uint64_t v)
{
	char tmp[20];

	put_clipped(o, tmp, u64_write(tmp, v));
}

static void put_u64(struct out *o, uint64_t v)
{
	if (LIKELY(room(o) >= 20))
		o->pos += u64_write(o->buf + o->pos, v);
	else
		put_u64_clipped(o, v);
}

static void put_i64(struct out *o, int64_t v)
{
	if (v < 0) {
		putc_(o, '-');
		put_u64(o, -(uint64_t)v); /* well defined for INT64_MIN too */
	} else {
		put_u64(o, (uint64_t)v);
	}
}

static __attribute__((noinline)) void put_fixed_clipped(struct out *o, int64_t v)
{
	char tmp[TR_FIXED_BUFSZ];

	put_clipped(o, tmp, tr_fixed_format(v, tmp));
}

static void put_fixed(struct out *o, int64_t v)
{
	/* tr_fixed_format() writes a NUL too: room for it is kept. */
	if (LIKELY(room(o) >= TR_FIXED_BUFSZ))
		o->pos += tr_fixed_format(v, o->buf + o->pos);
	else
		put_fixed_clipped(o, v);
}

static int finish(struct out *o)
{
	if (!o->len)
		return -ENOSPC;
	o->buf[o->pos] = 0;
	return o->full ? -ENOSPC : (int)o->pos;
}

/* Length of a valid UTF-8 sequence at s[0..n), or 0. Rejects overlong forms,
 * surrogates and code points above U+10FFFF, as RFC 3629 does. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t need;
	unsigned char lo = 0x80, hi = 0xbf; /* allowed range of the second byte */

	if (c >= 0xc2 && c <= 0xdf)
		need = 2;
	else if (c >= 0xe0 && c <= 0xef)
		need = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		need = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (n < need || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < need; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return need;
}

/* 1 for the bytes a JSON string holds as they are: printable ASCII but the
 * quote and the backslash. */
static const unsigned char plain[256] = {
    [0x20 ... 0x21] = 1, /* '"' is 0x22 */
    [0x23 ... 0x5b] = 1, /* '\\' is 0x5c */
    [0x5d ... 0x7e] = 1,
};

/* s[0..n), stopping at a NUL, as a quoted JSON string: one pass, plain runs
 * copied whole. A UTF-8 sequence never runs past a NUL, which is not a
 * continuation byte. */
static void put_jstring(struct out *o, const char *str, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	putc_(o, '"');
	for (;;) {
		size_t j = i;

		while (j < n && plain[s[j]])
			j++;
		if (j > i)
			put(o, str + i, j - i);
		if (j >= n || !s[j])
			break;
		unsigned char c = s[j];
		size_t run = 1;

		if (c == '"' || c == '\\') {
			char e[2] = {'\\', (char)c};
			put(o, e, 2);
		} else if (c == '\n') {
			PUTL(o, "\\n");
		} else if (c == '\t') {
			PUTL(o, "\\t");
		} else if (c == '\r') {
			PUTL(o, "\\r");
		} else if (c < 0x20 || c == 0x7f) {
			char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
			put(o, e, 6);
		} else if ((run = utf8_len(s + j, n - j)) != 0) {
			put(o, (const char *)s + j, run);
		} else {
			PUTL(o, "\\ufffd"); /* one replacement per invalid byte */
			run = 1;
		}
		i = j + run;
	}
	putc_(o, '"');
}

/* Text lines show names as printable ASCII only: a terminal must not be
 * driven by bytes from the region. */
static void put_tstring(struct out *o, const char *s, size_t n)
{
	for (size_t i = 0; i < n && s[i]; i++)
		putc_(o, s[i] > ' ' && s[i] <= '~' ? s[i] : '?');
}

/* "2024-05-01T12:00:00.123456789Z" */
static void put_time(struct out *o, int64_t ns)
{
	int64_t sec = ns / 1000000000, frac = ns % 1000000000;
	time_t t;
	struct tm tm;
	char tmp[64];
	size_t n;

	if (frac < 0) {
		frac += 1000000000;
		sec--;
	}
	t = (time_t)sec;
	if (!gmtime_r(&t, &tm) || !(n = strftime(tmp, sizeof tmp, "%Y-%m-%dT%H:%M:%S", &tm))) {
		put_i64(o, ns);
		return;
	}
	tmp[n++] = '.';
	for (int i = 8; i >= 0; i--, frac /= 10)
		tmp[n + (size_t)i] = (char)('0' + frac % 10);
	n += 9;
	tmp[n++] = 'Z';
	put(o, tmp, n);
}

/* JSON members: each writes `,"key":` and a value; the first member of an
 * object, "type", is written by j_common() with the opening brace. */
INLINE void key(struct out *o, const char *k)
{
	size_t n = strlen(k);

	if (LIKELY(room(o) >= n + 4)) {
		char *p = o->buf + o->pos;

		p[0] = ',';
		p[1] = '"';
		memcpy(p + 2, k, n);
		p[n + 2] = '"';
		p[n + 3] = ':';
		o->pos += n + 4;
	} else {
		PUTL(o, ",\"");
		put(o, k, n);
		PUTL(o, "\":");
	}
}

INLINE void j_str(struct out *o, const char *k, const char *s, size_t n)
{
	key(o, k);
	put_jstring(o, s, n);
}

/* A string of ours (a name from this file's tables), which needs no escape. */
INLINE void j_lit(struct out *o, const char *k, const char *s)
{
	key(o, k);
	putc_(o, '"');
	puts_(o, s);
	putc_(o, '"');
}

INLINE void j_u64(struct out *o, const char *k, uint64_t v)
{
	key(o, k);
	put_u64(o, v);
}

INLINE void j_i64(struct out *o, const char *k, int64_t v)
{
	key(o, k);
	put_i64(o, v);
}

INLINE void j_fixed(struct out *o, const char *k, int64_t v)
{
	key(o, k);
	putc_(o, '"');
	put_fixed(o, v);
	putc_(o, '"');
}

INLINE void j_bool(struct out *o, const char *k, bool v)
{
	key(o, k);
	if (v)
		PUTL(o, "true");
	else
		PUTL(o, "false");
}

/* Flag bits as an array of names; a bit without a name prints as "bit<n>",
 * so a newer engine's flag is visible rather than dropped. Only the set bits
 * are visited: most records have none or one. */
static void j_flags(struct out *o, const char *k, uint32_t bits, const char *const *names,
		    unsigned nnames, uint32_t skip)
{
	bool first = true;

	key(o, k);
	putc_(o, '[');
	bits &= ~skip;
	while (bits) {
		unsigned i = (unsigned)__builtin_ctz(bits);

		bits &= bits - 1;
		if (!first)
			putc_(o, ',');
		first = false;
		putc_(o, '"');
		if (i < nnames && names[i]) {
			puts_(o, names[i]);
		} else {
			PUTL(o, "bit");
			put_u64(o, i);
		}
		putc_(o, '"');
	}
	putc_(o, ']');
}

static const char *const trade_flags[] = {"nonmarket", "agg",	 "outlier",
					  "gap",       "replay", "gateway"};
static const char *const quote_flags[] = {"gap", "replay"};
static const char *const candle_flags[] = {NULL /* final: its own member */, "gap", "empty",
					   "overflow"};
#define NELEM(a) (unsigned)(sizeof(a) / sizeof((a)[0]))

static const char *const event_names[] = {
    [TR_EV_ENGINE_START] = "engine_start",
    [TR_EV_FEED_UP] = "feed_up",
    [TR_EV_FEED_DOWN] = "feed_down",
    [TR_EV_GAP] = "gap",
    [TR_EV_STALE] = "stale",
    [TR_EV_STALE_CLEARED] = "stale_cleared",
    [TR_EV_VOLUME_SPIKE] = "volume_spike",
    [TR_EV_PRICE_OUTLIER] = "price_outlier",
    [TR_EV_LATE_TRADE] = "late_trade",
    [TR_EV_ALERT] = "alert",
    [TR_EV_BAD_INPUT] = "bad_input",
};

const char *tr_record_type_name(unsigned kind)
{
	static const char *const names[TR_NKINDS] = {"trade", "quote", "candle", "event"};

	return kind < TR_NKINDS ? names[kind] : NULL;
}

const char *tr_event_name(unsigned type)
{
	return type < NELEM(event_names) ? event_names[type] : NULL;
}

const char *tr_side_name(unsigned side)
{
	return side == TR_SIDE_BUY ? "buy" : side == TR_SIDE_SELL ? "sell" : "unknown";
}

const char *tr_severity_name(unsigned severity)
{
	static const char *const names[] = {"info", "warning", "error"};

	return severity < NELEM(names) ? names[severity] : NULL;
}

static const struct {
	uint32_t s;
	const char *name;
} intervals[] = {
    {1, "1s"},	   {60, "1m"},	   {180, "3m"},	  {300, "5m"},	  {900, "15m"},
    {1800, "30m"}, {3600, "1h"},   {7200, "2h"},  {14400, "4h"},  {21600, "6h"},
    {28800, "8h"}, {43200, "12h"}, {86400, "1d"}, {604800, "1w"},
};

const char *tr_interval_name(uint32_t s, char *buf)
{
	struct out o = {buf, TR_INTERVAL_BUFSZ, 0, false};

	for (unsigned i = 0; i < NELEM(intervals); i++)
		if (intervals[i].s == s) {
			puts_(&o, intervals[i].name);
			finish(&o);
			return buf;
		}
	put_u64(&o, s);
	putc_(&o, 's');
	finish(&o);
	return buf;
}

int64_t tr_interval_parse(const char *s)
{
	static const struct {
		char unit;
		int64_t mult;
	} units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 604800}};
	int64_t n = 0;
	const char *p = s;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		n = n * 10 + (*p - '0');
		if (n > UINT32_MAX)
			return -EINVAL;
	}
	if (!*p)
		return n > 0 ? n : -EINVAL;
	if (p[1])
		return -EINVAL;
	for (unsigned i = 0; i < NELEM(units); i++)
		if (units[i].unit == *p) {
			n *= units[i].mult;
			return n > 0 && n <= UINT32_MAX ? n : -EINVAL;
		}
	return -EINVAL;
}

int tr_format_json_string(const char *s, size_t n, char *buf, size_t len)
{
	struct out o = {buf, len, 0, false};

	put_jstring(&o, s, n);
	return finish(&o);
}

/* Names of a record's venue and symbol; unknown ones as "?" and "#<id>". */
struct names {
	const char *venue;
	char symbol[TR_NAME_LEN + 16];
	bool has_symbol;
};

/* Returns whether both names were found in r: names never change in a
 * region, so what was found holds; "?" and "#<id>" may be known later. */
static bool lookup(const struct tr_region *r, uint32_t venue_id, uint32_t sym, struct names *n)
{
	struct tr_symbol s;
	struct out o = {n->symbol, sizeof n->symbol, 0, false};
	bool found = r && venue_id < tr_venue_count(r);

	n->venue = r ? tr_venue_name(r, venue_id) : "?";
	n->has_symbol = sym != UINT32_MAX;
	/* Check the count first: tr_symbol_get() would overwrite tr_errmsg(). */
	if (r && sym < tr_symbol_count(r) && tr_symbol_get(r, sym, &s) == 0) {
		put(&o, s.name, strnlen(s.name, TR_NAME_LEN));
	} else {
		putc_(&o, '#');
		put_u64(&o, sym);
		found &= !n->has_symbol;
	}
	finish(&o);
	return found;
}

/* The members that depend on the kind and names only: the head. */
static void j_head(struct out *o, unsigned kind, const struct names *n)
{
	PUTL(o, "{\"type\":\"");
	puts_(o, tr_record_type_name(kind));
	PUTL(o, "\",\"venue\":");
	put_jstring(o, n->venue, TR_VENUE_LEN);
	if (n->has_symbol) {
		j_str(o, "symbol", n->symbol, sizeof n->symbol);
	} else {
		key(o, "symbol");
		PUTL(o, "null");
	}
}

static void j_common(struct out *o, uint64_t seq, uint64_t epoch)
{
	j_u64(o, "seq", seq);
	j_u64(o, "epoch", epoch);
}

static void json_trade(struct out *o, const struct tr_trade *t, uint64_t epoch)
{
	j_common(o, t->seq, epoch);
	j_i64(o, "ts_event", t->ts_event);
	j_i64(o, "ts_recv", t->ts_recv);
	j_fixed(o, "price", t->price);
	j_fixed(o, "qty", t->qty);
	j_u64(o, "trade_id", t->trade_id);
	j_lit(o, "side", tr_side_name(t->side));
	j_u64(o, "trade_count", t->trade_count);
	j_flags(o, "flags", t->flags, trade_flags, NELEM(trade_flags), 0);
}

static void json_quote(struct out *o, const struct tr_quote *q, uint64_t epoch)
{
	j_common(o, q->seq, epoch);
	j_i64(o, "ts_event", q->ts_event);
	j_i64(o, "ts_recv", q->ts_recv);
	j_fixed(o, "bid_px", q->bid_px);
	j_fixed(o, "bid_qty", q->bid_qty);
	j_fixed(o, "ask_px", q->ask_px);
	j_fixed(o, "ask_qty", q->ask_qty);
	j_flags(o, "flags", q->flags, quote_flags, NELEM(quote_flags), 0);
}

/* Close time as the exchange prints it: the last millisecond of the interval.
 * Unsigned arithmetic: a corrupt open_time must not be undefined behaviour. */
static int64_t close_time(int64_t open_time, uint32_t interval_s)
{
	return (int64_t)((uint64_t)open_time + (uint64_t)interval_s * 1000000000u - 1000000u);
}

static void json_candle(struct out *o, const struct tr_candle *c, uint64_t epoch)
{
	char iv[TR_INTERVAL_BUFSZ];

	j_common(o, c->seq, epoch);
	j_lit(o, "interval", tr_interval_name(c->interval_s, iv));
	j_i64(o, "open_time", c->open_time);
	j_i64(o, "close_time", close_time(c->open_time, c->interval_s));
	j_fixed(o, "open", c->open);
	j_fixed(o, "high", c->high);
	j_fixed(o, "low", c->low);
	j_fixed(o, "close", c->close);
	j_fixed(o, "volume", c->volume);
	j_fixed(o, "quote_volume", c->quote_volume);
	j_u64(o, "trade_count", c->trade_count);
	j_fixed(o, "taker_buy_volume", c->taker_buy_volume);
	j_fixed(o, "taker_buy_quote_volume", c->taker_buy_quote_volume);
	j_fixed(o, "vwap", c->vwap);
	j_u64(o, "first_trade_id", c->first_trade_id);
	j_u64(o, "last_trade_id", c->last_trade_id);
	j_i64(o, "ts_update", c->ts_update);
	j_bool(o, "final", c->flags & TR_CANDLE_FINAL);
	j_u64(o, "revision", c->revision);
	j_flags(o, "flags", c->flags, candle_flags, NELEM(candle_flags), TR_CANDLE_FINAL);
}

/* Alert rule kinds (tr_ev_alert.rule_kind), as the config spells them. */
static const char *alert_kind(uint32_t kind)
{
	static const char *const k[] = {"unknown", "cross", "change", "spike", "stale"};

	return kind < NELEM(k) ? k[kind] : "unknown";
}

/* The typed payload of an event, by type. Unknown types carry none. */
static void json_event_payload(struct out *o, const struct tr_event *e)
{
	char iv[TR_INTERVAL_BUFSZ];

	switch (e->type) {
	case TR_EV_ENGINE_START:
	case TR_EV_FEED_UP:
	case TR_EV_FEED_DOWN:
	case TR_EV_BAD_INPUT:
		j_str(o, "text", e->u.text, sizeof e->u.text);
		break;
	case TR_EV_GAP:
		j_u64(o, "expected_id", e->u.gap.expected_id);
		j_u64(o, "got_id", e->u.gap.got_id);
		j_u64(o, "missing", e->u.gap.missing);
		j_str(o, "id_kind",
		      e->u.gap.id_kind == 0   ? "trade"
		      : e->u.gap.id_kind == 1 ? "update"
					      : "unknown",
		      8);
		break;
	case TR_EV_STALE:
	case TR_EV_STALE_CLEARED:
		j_i64(o, "last_trade_ns", e->u.stale.last_trade_ns);
		j_i64(o, "silent_ns", e->u.stale.silent_ns);
		break;
	case TR_EV_VOLUME_SPIKE:
		j_fixed(o, "volume", e->u.spike.volume);
		j_fixed(o, "baseline", e->u.spike.baseline);
		j_fixed(o, "score", e->u.spike.score);
		j_i64(o, "open_time", e->u.spike.open_time);
		j_str(o, "interval", tr_interval_name(e->u.spike.interval_s, iv), sizeof iv);
		break;
	case TR_EV_PRICE_OUTLIER:
		j_fixed(o, "price", e->u.outlier.price);
		j_fixed(o, "reference", e->u.outlier.reference);
		j_fixed(o, "deviation", e->u.outlier.deviation);
		j_u64(o, "trade_id", e->u.outlier.trade_id);
		break;
	case TR_EV_LATE_TRADE:
		j_u64(o, "trade_id", e->u.late.trade_id);
		j_i64(o, "trade_ts", e->u.late.trade_ts);
		j_i64(o, "lateness_ns", e->u.late.lateness_ns);
		j_str(o, "interval", tr_interval_name(e->u.late.interval_s, iv), sizeof iv);
		break;
	case TR_EV_ALERT:
		j_u64(o, "rule_id", e->u.alert.rule_id);
		j_u64(o, "rule_kind", e->u.alert.rule_kind);
		j_str(o, "rule", alert_kind(e->u.alert.rule_kind), 16);
		j_fixed(o, "value", e->u.alert.value);
		j_fixed(o, "threshold", e->u.alert.threshold);
		j_str(o, "text", e->u.alert.text, sizeof e->u.alert.text);
		break;
	default:
		break;
	}
}

static void json_event(struct out *o, const struct tr_event *e, uint64_t epoch)
{
	const char *name = tr_event_name(e->type), *sev = tr_severity_name(e->severity);

	j_common(o, e->seq, epoch);
	if (name) {
		j_str(o, "event", name, 32);
	} else { /* a newer engine's event: "#<type>" */
		key(o, "event");
		puts_(o, "\"#");
		put_u64(o, e->type);
		putc_(o, '"');
	}
	j_i64(o, "ts_event", e->ts_event);
	j_i64(o, "ts_recv", e->ts_recv);
	j_str(o, "severity", sev ? sev : "unknown", 8);
	json_event_payload(o, e);
}

/* The venue and symbol ids of a record of kind; -1 for an unknown kind. */
static int rec_ids(unsigned kind, const void *rec, uint32_t *venue, uint32_t *sym)
{
	switch (kind) {
	case TR_KIND_TRADE:
		*venue = ((const struct tr_trade *)rec)->venue_id;
		*sym = ((const struct tr_trade *)rec)->symbol_id;
		return 0;
	case TR_KIND_QUOTE:
		*venue = ((const struct tr_quote *)rec)->venue_id;
		*sym = ((const struct tr_quote *)rec)->symbol_id;
		return 0;
	case TR_KIND_CANDLE:
		*venue = ((const struct tr_candle *)rec)->venue_id;
		*sym = ((const struct tr_candle *)rec)->symbol_id;
		return 0;
	case TR_KIND_EVENT:
		*venue = ((const struct tr_event *)rec)->venue_id;
		*sym = ((const struct tr_event *)rec)->symbol_id;
		return 0;
	default:
		return -1;
	}
}

/* Everything after the head, closing brace included. */
static void json_rest(struct out *o, unsigned kind, const void *rec, uint64_t epoch)
{
	switch (kind) {
	case TR_KIND_TRADE:
		json_trade(o, rec, epoch);
		break;
	case TR_KIND_QUOTE:
		json_quote(o, rec, epoch);
		break;
	case TR_KIND_CANDLE:
		json_candle(o, rec, epoch);
		break;
	default:
		json_event(o, rec, epoch);
		break;
	}
	putc_(o, '}');
}

int tr_format_json(const struct tr_region *r, unsigned kind, const void *rec, uint64_t epoch,
		   char *buf, size_t len)
{
	struct out o = {buf, len, 0, false};
	struct names n;
	uint32_t venue, sym;

	if (rec_ids(kind, rec, &venue, &sym) < 0) {
		finish(&o);
		return -EINVAL;
	}
	lookup(r, venue, sym, &n);
	j_head(&o, kind, &n);
	json_rest(&o, kind, rec, epoch);
	return finish(&o);
}

int tr_format_json_head(const struct tr_region *r, unsigned kind, const void *rec, char *buf,
			size_t len, int *stable)
{
	struct out o = {buf, len, 0, false};
	struct names n;
	uint32_t venue, sym;

	*stable = 0;
	if (rec_ids(kind, rec, &venue, &sym) < 0) {
		finish(&o);
		return -EINVAL;
	}
	*stable = lookup(r, venue, sym, &n);
	j_head(&o, kind, &n);
	return finish(&o);
}

int tr_format_json_with_head(const char *head, size_t hl, unsigned kind, const void *rec,
			     uint64_t epoch, char *buf, size_t len)
{
	struct out o = {buf, len, 0, false};

	if (kind >= TR_NKINDS) {
		finish(&o);
		return -EINVAL;
	}
	put(&o, head, hl);
	json_rest(&o, kind, rec, epoch);
	return finish(&o);
}

/* Text lines: "<time> <venue>:<symbol> <type> ... seq=<n>". */
static void t_head(struct out *o, const struct tr_region *r, int64_t ts, uint32_t venue,
		   uint32_t sym, const char *type)
{
	struct names n;

	lookup(r, venue, sym, &n);
	put_time(o, ts);
	putc_(o, ' ');
	put_tstring(o, n.venue, TR_VENUE_LEN);
	putc_(o, ':');
	if (n.has_symbol)
		put_tstring(o, n.symbol, sizeof n.symbol);
	else
		putc_(o, '-');
	putc_(o, ' ');
	puts_(o, type);
}

static void t_flags(struct out *o, uint32_t bits, const char *const *names, unsigned nnames)
{
	bool first = true;

	if (!bits)
		return;
	puts_(o, " flags=");
	for (unsigned i = 0; i < 32; i++) {
		if (!(bits & (1u << i)))
			continue;
		if (!first)
			putc_(o, ',');
		first = false;
		if (i < nnames && names[i]) {
			puts_(o, names[i]);
		} else {
			puts_(o, "bit");
			put_u64(o, i);
		}
	}
}

static void t_kv_fixed(struct out *o, const char *k, int64_t v)
{
	putc_(o, ' ');
	puts_(o, k);
	putc_(o, '=');
	put_fixed(o, v);
}

static void t_kv_i64(struct out *o, const char *k, int64_t v)
{
	putc_(o, ' ');
	puts_(o, k);
	putc_(o, '=');
	put_i64(o, v);
}

static void text_event(struct out *o, const struct tr_region *r, const struct tr_event *e)
{
	const char *name = tr_event_name(e->type), *sev = tr_severity_name(e->severity);
	char iv[TR_INTERVAL_BUFSZ];

	t_head(o, r, e->ts_event, e->venue_id, e->symbol_id, "event ");
	if (name) {
		puts_(o, name);
	} else {
		putc_(o, '#');
		put_u64(o, e->type);
	}
	putc_(o, ' ');
	puts_(o, sev ? sev : "unknown");
	switch (e->type) {
	case TR_EV_ENGINE_START:
	case TR_EV_FEED_UP:
	case TR_EV_FEED_DOWN:
	case TR_EV_BAD_INPUT:
		puts_(o, " \"");
		put_tstring(o, e->u.text, sizeof e->u.text);
		putc_(o, '"');
		break;
	case TR_EV_GAP:
		t_kv_i64(o, "missing", (int64_t)e->u.gap.missing);
		t_kv_i64(o, "expected", (int64_t)e->u.gap.expected_id);
		t_kv_i64(o, "got", (int64_t)e->u.gap.got_id);
		break;
	case TR_EV_STALE:
	case TR_EV_STALE_CLEARED:
		t_kv_i64(o, "silent_ms", e->u.stale.silent_ns / 1000000);
		break;
	case TR_EV_VOLUME_SPIKE:
		puts_(o, " ");
		puts_(o, tr_interval_name(e->u.spike.interval_s, iv));
		t_kv_fixed(o, "volume", e->u.spike.volume);
		t_kv_fixed(o, "baseline", e->u.spike.baseline);
		t_kv_fixed(o, "score", e->u.spike.score);
		break;
	case TR_EV_PRICE_OUTLIER:
		t_kv_fixed(o, "price", e->u.outlier.price);
		t_kv_fixed(o, "reference", e->u.outlier.reference);
		t_kv_fixed(o, "deviation", e->u.outlier.deviation);
		break;
	case TR_EV_LATE_TRADE:
		t_kv_i64(o, "id", (int64_t)e->u.late.trade_id);
		t_kv_i64(o, "late_ms", e->u.late.lateness_ns / 1000000);
		break;
	case TR_EV_ALERT:
		puts_(o, " \"");
		put_tstring(o, e->u.alert.text, sizeof e->u.alert.text);
		puts_(o, "\" ");
		puts_(o, alert_kind(e->u.alert.rule_kind));
		t_kv_fixed(o, "value", e->u.alert.value);
		t_kv_fixed(o, "threshold", e->u.alert.threshold);
		break;
	default:
		break;
	}
}

int tr_format_text(const struct tr_region *r, unsigned kind, const void *rec, char *buf, size_t len)
{
	struct out o = {buf, len, 0, false};
	char iv[TR_INTERVAL_BUFSZ];

	switch (kind) {
	case TR_KIND_TRADE: {
		const struct tr_trade *t = rec;

		t_head(&o, r, t->ts_event, t->venue_id, t->symbol_id, "trade ");
		put_fixed(&o, t->price);
		puts_(&o, " x ");
		put_fixed(&o, t->qty);
		putc_(&o, ' ');
		puts_(&o, tr_side_name(t->side));
		t_kv_i64(&o, "id", (int64_t)t->trade_id);
		t_flags(&o, t->flags, trade_flags, NELEM(trade_flags));
		break;
	}
	case TR_KIND_QUOTE: {
		const struct tr_quote *q = rec;

		t_head(&o, r, q->ts_event ? q->ts_event : q->ts_recv, q->venue_id, q->symbol_id,
		       "quote ");
		put_fixed(&o, q->bid_qty);
		putc_(&o, '@');
		put_fixed(&o, q->bid_px);
		puts_(&o, " / ");
		put_fixed(&o, q->ask_qty);
		putc_(&o, '@');
		put_fixed(&o, q->ask_px);
		t_flags(&o, q->flags, quote_flags, NELEM(quote_flags));
		break;
	}
	case TR_KIND_CANDLE: {
		const struct tr_candle *c = rec;

		t_head(&o, r, c->open_time, c->venue_id, c->symbol_id, "candle ");
		puts_(&o, tr_interval_name(c->interval_s, iv));
		t_kv_fixed(&o, "o", c->open);
		t_kv_fixed(&o, "h", c->high);
		t_kv_fixed(&o, "l", c->low);
		t_kv_fixed(&o, "c", c->close);
		t_kv_fixed(&o, "v", c->volume);
		t_kv_i64(&o, "n", c->trade_count);
		puts_(&o, c->flags & TR_CANDLE_FINAL ? " final" : " open");
		if (c->revision)
			t_kv_i64(&o, "rev", c->revision);
		t_flags(&o, c->flags & ~TR_CANDLE_FINAL, candle_flags, NELEM(candle_flags));
		break;
	}
	case TR_KIND_EVENT:
		text_event(&o, r, rec);
		break;
	default:
		finish(&o);
		return -EINVAL;
	}
	t_kv_i64(&o, "seq", (int64_t) * (const uint64_t *)rec);
	return finish(&o);
}
