/* test_parse.c - the venue extractors on recorded real traffic and on hand-made bad frames.
 *
 * The recordings in $TR_ROOT/../shared/data (see its SOURCES.md) are the ground truth: every
 * frame must parse, every trade must come out with the exact digits, ids and times that a
 * dumb string scan of the same line finds, and the counts must match SOURCES.md. Then the
 * same frames without their envelope, with their members shuffled, cut short against a
 * PROT_NONE page, and a table of broken frames, one per rejection reason.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "tr_abi.h"
#include "tr_fixed.h"
#include "tr_parse.h"

#define LINE_CAP (1u << 20) /* recorded depth snapshots reach 64 KB */

/* ---- helpers ------------------------------------------------------------------ */

static const char *data_dir(void)
{
	static char dir[4096];
	const char *root = getenv("TR_ROOT");

	snprintf(dir, sizeof dir, "%s/../shared/data", root ? root : ".");
	return dir;
}

/* Parse a NUL-terminated frame from a padded copy. */
static enum tr_msg_kind parse_str(struct tr_parser *p, const char *s, size_t len, struct tr_msg *m)
{
	char *buf = malloc(len + TR_PARSE_PADDING);

	cr_assert(buf);
	memcpy(buf, s, len);
	memset(buf + len, 'x', TR_PARSE_PADDING); /* padding content must not matter */
	enum tr_msg_kind k = tr_parse_binance(p, buf, len, m);

	free(buf);
	return k;
}

static enum tr_msg_kind parse(struct tr_parser *p, const char *s, struct tr_msg *m)
{
	return parse_str(p, s, strlen(s), m);
}

static enum tr_msg_kind parse_gw(struct tr_parser *p, const char *s, struct tr_msg *m)
{
	size_t len = strlen(s);
	char *buf = malloc(len + TR_PARSE_PADDING);

	cr_assert(buf);
	memcpy(buf, s, len);
	memset(buf + len, 0, TR_PARSE_PADDING);
	enum tr_msg_kind k = tr_parse_gateway(p, buf, len, m);

	free(buf);
	return k;
}

/* Dumb scans of a frame for `"key":"value"` and `"key":digits`. */
static int scan_str(const char *f, const char *key, char *out, size_t cap)
{
	char pat[32];
	const char *at, *end;

	snprintf(pat, sizeof pat, "\"%s\":\"", key);
	if (!(at = strstr(f, pat)))
		return 0;
	at += strlen(pat);
	end = strchr(at, '"');
	cr_assert(end && (size_t)(end - at) < cap);
	memcpy(out, at, (size_t)(end - at));
	out[end - at] = 0;
	return 1;
}

static int scan_u64(const char *f, const char *key, uint64_t *v)
{
	char pat[32];
	const char *at;

	snprintf(pat, sizeof pat, "\"%s\":", key);
	if (!(at = strstr(f, pat)))
		return 0;
	*v = strtoull(at + strlen(pat), NULL, 10);
	return 1;
}

/* "61837.63000000" -> "61837.63", "1.00000000" -> "1": what tr_fixed_format prints. */
static void trim_zeros(char *s)
{
	if (!strchr(s, '.'))
		return;
	size_t n = strlen(s);

	while (n && s[n - 1] == '0')
		s[--n] = 0;
	if (n && s[n - 1] == '.')
		s[--n] = 0;
}

static void expect_decimal(int64_t v, const char *frame, const char *key)
{
	char want[64], got[TR_FIXED_BUFSZ];

	cr_assert(scan_str(frame, key, want, sizeof want), "no \"%s\" in %s", key, frame);
	trim_zeros(want);
	tr_fixed_format(v, got);
	cr_assert_str_eq(got, want, "\"%s\" of %s", key, frame);
}

/* The frame of a recorded line: `<recv time> <frame>` or, in other-venues/,
 * `<float secs>: <frame>` (the URL header line has no frame). */
static char *line_frame(char *line, size_t *len)
{
	char *f = strchr(line, '{');

	if (!f || !strncmp(line, "wss://", 6))
		return NULL;
	*len = strcspn(f, "\r\n");
	f[*len] = 0;
	return f;
}

/* The "data" member of an envelope, as its own padded frame. */
static size_t strip_envelope(const char *frame, char *out)
{
	const char *d = strstr(frame, "\"data\":");
	const char *end = strrchr(frame, '}');

	cr_assert(d && end);
	d += 7;
	memcpy(out, d, (size_t)(end - d));
	out[end - d] = 0;
	return (size_t)(end - d);
}

struct counts {
	long lines, trades, aggtrades, quotes, ignored, replies, bad, nonmarket, depth, snapshot;
	long fast;   /* frames tr_parse_binance_fast took */
	long shapes; /* of those, frames in one of the member orders it knows */
};

/* Two results byte for byte (each path starts from a zeroed struct). */
static void expect_same_msg(const struct tr_msg *a, const struct tr_msg *b, const char *f)
{
	cr_assert_eq(a->kind, b->kind, "%s", f);
	cr_assert_eq(a->bad, b->bad, "%s", f);
	cr_assert(!a->why == !b->why && (!a->why || !strcmp(a->why, b->why)), "%s: %s / %s", f,
		  a->why ? a->why : "-", b->why ? b->why : "-");
	cr_assert(!memcmp(a->symbol, b->symbol, sizeof a->symbol), "%s", f);
	cr_assert(!memcmp(a->stream, b->stream, sizeof a->stream), "%s", f);
	cr_assert(!memcmp(a->venue, b->venue, sizeof a->venue), "%s", f);
	cr_assert(!memcmp(&a->u, &b->u, sizeof a->u), "%s", f);
}

/* Which of the fast path's collectors took a frame. */
enum { BY_SHAPES = TR_FAST_SHAPES, BY_WALK = TR_FAST_WALK };

/* tr_parse_binance on a padded frame, checked against every path: the general
 * path alone must give the same struct, and so must the fast path and each of
 * its two collectors alone whenever they take the frame (*took says which
 * collectors did; one that declines must leave *out alone). */
static enum tr_msg_kind parse_paths(struct tr_parser *p, const char *f, size_t len,
				    struct tr_msg *m, int *took)
{
	struct tr_msg g, q;
	enum tr_msg_kind k = tr_parse_binance(p, f, len, m);

	cr_assert_eq(tr_parse_binance_simdjson(p, f, len, &g), k, "%.300s", f);
	expect_same_msg(m, &g, f);
	int fk = tr_parse_binance_fast(f, len, &q);

	if (fk >= 0) {
		cr_assert_eq(fk, (int)k, "%.300s", f);
		expect_same_msg(&q, &g, f);
	}
	*took = 0;
	for (int c = TR_FAST_SHAPES; c <= TR_FAST_WALK; c <<= 1) {
		memset(&q, 0x5a, sizeof q);
		int ck = tr_parse_binance_fast_with(f, len, &q, c);

		if (ck < 0) {
			for (size_t b = 0; b < sizeof q; b++)
				cr_assert_eq(((unsigned char *)&q)[b], 0x5a, "%.300s: *out touched",
					     f);
			continue;
		}
		*took |= c;
		cr_assert_eq(ck, (int)k, "%.300s", f);
		expect_same_msg(&q, &g, f);
	}
	cr_assert_eq(fk >= 0, *took != 0, "%.300s", f);
	/* the shapes are member orders the walk takes too */
	cr_assert(!(*took & BY_SHAPES) || (*took & BY_WALK), "%.300s", f);
	return k;
}

/* The same, *fast set when the fast path took the frame. */
static enum tr_msg_kind parse_both(struct tr_parser *p, const char *f, size_t len, struct tr_msg *m,
				   int *fast)
{
	int took;
	enum tr_msg_kind k = parse_paths(p, f, len, m, &took);

	*fast = took != 0;
	return k;
}

static void check_trade(const struct tr_msg *m, const char *f)
{
	const struct tr_msg_trade *t = &m->u.trade;
	uint64_t id, ts, ev;
	char sym[64], x[32];

	expect_decimal(t->price, f, "p");
	expect_decimal(t->qty, f, "q");
	cr_assert(scan_u64(f, m->kind == TR_MSG_AGGTRADE ? "a" : "t", &id));
	cr_assert_eq(t->trade_id, id, "%s", f);
	cr_assert(scan_u64(f, "T", &ts) && scan_u64(f, "E", &ev));
	cr_assert_eq(t->ts_trade, (int64_t)ts * 1000000, "%s", f);
	cr_assert_eq(t->ts_event, (int64_t)ev * 1000000, "%s", f);
	cr_assert(scan_str(f, "s", sym, sizeof sym));
	cr_assert_str_eq(m->symbol, sym);
	cr_assert_eq(t->side, strstr(f, "\"m\":true") ? TR_SIDE_SELL : TR_SIDE_BUY, "%s", f);
	if (m->kind == TR_MSG_AGGTRADE) {
		cr_assert(scan_u64(f, "f", &id));
		cr_assert_eq(t->first_id, id);
		cr_assert(scan_u64(f, "l", &id));
		cr_assert_eq(t->last_id, id);
	} else {
		cr_assert(t->first_id == t->trade_id && t->last_id == t->trade_id);
	}
	int nonmarket = scan_str(f, "X", x, sizeof x) && strcmp(x, "MARKET") != 0;

	cr_assert_eq(t->nonmarket, nonmarket, "%s", f);
	cr_assert(t->price > 0 && t->qty > 0);
}

static void check_quote(const struct tr_msg *m, const char *f)
{
	const struct tr_msg_quote *q = &m->u.quote;
	uint64_t u, ev;

	expect_decimal(q->bid_px, f, "b");
	expect_decimal(q->bid_qty, f, "B");
	expect_decimal(q->ask_px, f, "a");
	expect_decimal(q->ask_qty, f, "A");
	cr_assert(scan_u64(f, "u", &u));
	cr_assert_eq(q->update_id, u);
	if (scan_u64(f, "E", &ev))
		cr_assert_eq(q->ts_event, (int64_t)ev * 1000000);
	else
		cr_assert_eq(q->ts_event, 0);
}

/* Parse every line of one recording, check each record against the line,
 * and the stripped payload against the enveloped frame. */
static struct counts run_file(const char *rel)
{
	char path[4200];
	struct counts c = {0};
	char *line = malloc(LINE_CAP + TR_PARSE_PADDING);
	char *raw = malloc(LINE_CAP + TR_PARSE_PADDING);
	struct tr_parser *p = tr_parser_new();
	uint64_t last_id = 0;

	cr_assert(line && raw && p);
	snprintf(path, sizeof path, "%s/%s", data_dir(), rel);
	gzFile gz = gzopen(path, "rb");

	cr_assert(gz, "cannot open %s (TR_ROOT=%s)", path, getenv("TR_ROOT"));
	gzbuffer(gz, 1 << 16);
	while (gzgets(gz, line, LINE_CAP)) {
		size_t len;
		struct tr_msg m, r;

		cr_assert(strchr(line, '\n') || gzeof(gz), "%s: line longer than the buffer", rel);
		char *f = line_frame(line, &len);

		if (!f)
			continue;
		c.lines++;
		int took, rtook;
		enum tr_msg_kind k = parse_paths(p, f, len, &m, &took);
		int fast = took != 0;

		cr_assert(k >= TR_MSG_BAD && k <= TR_MSG_IGNORED);
		cr_assert_eq(k == TR_MSG_BAD, m.bad != TR_BAD_NONE);
		if (k == TR_MSG_BAD) {
			c.bad++;
			cr_log_error("%s: %s (%s): %.200s", rel, tr_bad_name(m.bad), m.why, f);
			continue;
		}
		const char *stream = strstr(f, "\"stream\":\"");

		c.fast += fast;
		c.shapes += (took & BY_SHAPES) != 0;
		/* The fast path takes every trade and quote Binance sent, in the
		 * member order it was sent in. */
		if (k == TR_MSG_TRADE || k == TR_MSG_AGGTRADE || k == TR_MSG_QUOTE)
			cr_assert(took & BY_SHAPES, "%s: the shapes declined %s", rel, f);
		if (strstr(f, "@trade\"")) {
			cr_assert_eq(k, TR_MSG_TRADE, "%s", f);
			check_trade(&m, f);
			/* SOURCES.md: trade ids are contiguous within each file. */
			cr_assert(!last_id || m.u.trade.trade_id == last_id + 1,
				  "%s: gap before %s", rel, f);
			last_id = m.u.trade.trade_id;
			c.trades++;
			c.nonmarket += m.u.trade.nonmarket;
		} else if (strstr(f, "@aggTrade\"")) {
			cr_assert_eq(k, TR_MSG_AGGTRADE, "%s", f);
			check_trade(&m, f);
			c.aggtrades++;
		} else if (strstr(f, "@bookTicker\"")) {
			cr_assert_eq(k, TR_MSG_QUOTE, "%s", f);
			check_quote(&m, f);
			c.quotes++;
		} else {
			cr_assert_eq(k, TR_MSG_IGNORED, "%s", f);
			c.ignored++;
			c.depth += strstr(f, "@depth") != NULL;
			c.snapshot += !stream && strstr(f, "\"lastUpdateId\"") != NULL;
		}
		if (!stream)
			continue;
		/* The same payload without its envelope: the same struct, no stream. */
		size_t rlen = strip_envelope(f, raw);

		cr_assert_eq(parse_paths(p, raw, rlen, &r, &rtook), k, "%s", raw);
		cr_assert_eq(rtook, took, "%s", raw);
		cr_assert(!strncmp(m.stream, stream + 10, strlen(m.stream)));
		cr_assert_eq(r.stream[0], 0);
		cr_assert_str_eq(r.symbol, m.symbol);
		if (k != TR_MSG_IGNORED)
			cr_assert(!memcmp(&r.u, &m.u, sizeof m.u), "%s", raw);
	}
	gzclose(gz);
	tr_parser_free(p);
	free(line);
	free(raw);
	cr_log_info(
	    "%s: %ld frames, %ld trades, %ld aggTrades, %ld quotes, %ld ignored (%ld depth, "
	    "%ld snapshots), %ld nonmarket, %ld by the fast path (%ld in a known member order)",
	    rel, c.lines, c.trades, c.aggtrades, c.quotes, c.ignored, c.depth, c.snapshot,
	    c.nonmarket, c.fast, c.shapes);
	return c;
}

/* ---- the recordings --------------------------------------------------------------- */

Test(parse, spot_recordings_match_sources)
{
	static const struct {
		const char *file;
		long lines, trades, quotes, depth, snapshots;
	} want[] = {
	    {"binance-spot/btcusdt_20240808.gz", 41249, 9757, 28040, 3451, 1},
	    {"binance-spot/btcusdt_20240809.gz", 58325, 10147, 45134, 3044, 0},
	    {"binance-spot/ethusdt_20240808.gz", 33618, 6106, 24077, 3434, 1},
	    {"binance-spot/ethusdt_20240809.gz", 46126, 8409, 34681, 3036, 0},
	    {"binance-spot-2023/btcusdt_20230405.dat.gz", 15088, 3144, 8015, 3929, 0},
	};

	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		struct counts c = run_file(want[i].file);

		cr_assert_eq(c.bad, 0, "%s: %ld bad frames", want[i].file, c.bad);
		cr_assert_eq(c.lines, want[i].lines, "%s lines", want[i].file);
		cr_assert_eq(c.trades, want[i].trades, "%s trades", want[i].file);
		cr_assert_eq(c.quotes, want[i].quotes, "%s bookTicker", want[i].file);
		cr_assert_eq(c.depth, want[i].depth, "%s depth", want[i].file);
		cr_assert_eq(c.snapshot, want[i].snapshots, "%s snapshots", want[i].file);
		/* Exactly the trades and quotes; depth (arrays) goes to simdjson. */
		cr_assert_eq(c.fast, want[i].trades + want[i].quotes, "%s fast path", want[i].file);
		cr_assert_eq(c.shapes, c.fast, "%s shapes", want[i].file);
	}
}

Test(parse, usdm_recordings_flag_nonmarket_trades)
{
	static const struct {
		const char *file;
		long lines, trades, nonmarket;
	} want[] = {
	    {"binance-usdm/btcusdt_20230404.dat.gz", 13384, 2197, 0},
	    {"binance-usdm/btcusdt_20230405.dat.gz", 60381, 10738, 1}, /* one INSURANCE_FUND */
	    {"binance-usdm/btcusdt_20240718.gz", 11414, 974, 0},
	    {"binance-usdm/btcusdt_20240719.gz", 60570, 9727, 0},
	    {"binance-usdm/btcusdt_20240808.gz", 93954, 21313, 0},
	};

	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		struct counts c = run_file(want[i].file);

		cr_assert_eq(c.bad, 0, "%s: %ld bad frames", want[i].file, c.bad);
		cr_assert_eq(c.lines, want[i].lines, "%s lines", want[i].file);
		cr_assert_eq(c.trades, want[i].trades, "%s trades", want[i].file);
		cr_assert_eq(c.nonmarket, want[i].nonmarket, "%s nonmarket", want[i].file);
	}
}

Test(parse, cryptofeed_binance_samples_parse)
{
	struct counts s = run_file("other-venues/BINANCE.ws.1.0");
	struct counts f = run_file("other-venues/BINANCE_FUTURES.ws.1.0");

	cr_assert_eq(s.bad + f.bad, 0);
	cr_assert_eq(s.aggtrades, 2);
	cr_assert_eq(s.quotes, 84);
	cr_assert_eq(s.ignored, 177 + 2); /* depth and kline_1m */
	cr_assert_eq(f.aggtrades, 91);
	cr_assert_eq(f.quotes, 613);
	cr_assert_eq(f.ignored, 764 + 67);
}

/* ---- field order ------------------------------------------------------------------ */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Shuffle the members of a flat object (scalar values, no commas inside). */
static void shuffle_members(const char *obj, char *out)
{
	char body[1024], *mem[32];
	int n = 0;

	snprintf(body, sizeof body, "%.*s", (int)strlen(obj) - 2, obj + 1);
	for (char *tok = strtok(body, ","); tok; tok = strtok(NULL, ","))
		mem[n++] = tok;
	for (int i = n - 1; i > 0; i--) {
		int j = (int)(rng() % (uint64_t)(i + 1));
		char *t = mem[i];

		mem[i] = mem[j];
		mem[j] = t;
	}
	strcpy(out, "{");
	for (int i = 0; i < n; i++) {
		strcat(out, mem[i]);
		strcat(out, i + 1 < n ? "," : "}");
	}
}

Test(parse, field_order_never_matters)
{
	static const char *payloads[] = {
	    "{\"e\":\"trade\",\"E\":1723161255343,\"s\":\"BTCUSDT\",\"t\":3735683259,\"p\":\"61837."
	    "63000000\",\"q\":\"0.02000000\",\"T\":1723161255342,\"m\":true,\"M\":true}",
	    "{\"e\":\"trade\",\"E\":1680652700455,\"T\":1680652700452,\"s\":\"BTCUSDT\",\"t\":"
	    "3535186032,\"p\":\"28145.10\",\"q\":\"0.002\",\"X\":\"INSURANCE_FUND\",\"m\":false}",
	    "{\"e\":\"trade\",\"E\":1680652800000,\"s\":\"BTCUSDT\",\"t\":3071245454,\"p\":\"28165."
	    "47000000\",\"q\":\"0.00056000\",\"b\":20720542158,\"a\":20720542592,\"T\":"
	    "1680652799999,\"m\":true,\"M\":true}",
	    "{\"e\":\"aggTrade\",\"E\":1626992741575,\"a\":16599292,\"s\":\"CTKUSDT\",\"p\":\"1."
	    "01100\",\"q\":\"10\",\"f\":23961322,\"l\":23961325,\"T\":1626992741421,\"m\":false}",
	    "{\"u\":50093239212,\"s\":\"BTCUSDT\",\"b\":\"61837.63000000\",\"B\":\"3.78826000\","
	    "\"a\":\"61837.64000000\",\"A\":\"1.54698000\"}",
	    "{\"e\":\"bookTicker\",\"u\":5123107839020,\"s\":\"BTCUSDT\",\"b\":\"61800.20\",\"B\":"
	    "\"2.507\",\"a\":\"61800.30\",\"A\":\"2.510\",\"T\":1723161256313,\"E\":1723161256314}",
	};
	static const char *streams[] = {"btcusdt@trade",      "btcusdt@trade",
					"btcusdt@trade",      "ctkusdt@aggTrade",
					"btcusdt@bookTicker", "btcusdt@bookTicker"};
	struct tr_parser *p = tr_parser_new();

	for (size_t i = 0; i < sizeof payloads / sizeof payloads[0]; i++) {
		struct tr_msg ref, m;
		char perm[1024], env[1200];
		enum tr_msg_kind k = parse(p, payloads[i], &ref);

		cr_assert_neq(k, TR_MSG_BAD, "%s: %s", payloads[i], ref.why);
		for (int round = 0; round < 300; round++) {
			shuffle_members(payloads[i], perm);
			cr_assert_eq(parse(p, perm, &m), k, "%s: %s", perm, m.why ? m.why : "");
			cr_assert(!memcmp(&m, &ref, sizeof m), "%s", perm);
			/* Enveloped, with "data" first half of the time. */
			if (round & 1)
				snprintf(env, sizeof env, "{\"data\":%s,\"stream\":\"%s\"}", perm,
					 streams[i]);
			else
				snprintf(env, sizeof env, "{\"stream\":\"%s\",\"data\":%s}",
					 streams[i], perm);
			cr_assert_eq(parse(p, env, &m), k, "%s: %s", env, m.why ? m.why : "");
			cr_assert_str_eq(m.stream, streams[i]);
			cr_assert(!memcmp(&m.u, &ref.u, sizeof m.u) &&
				      !strcmp(m.symbol, ref.symbol),
				  "%s", env);
		}
	}
	tr_parser_free(p);
}

/* ---- bad input -------------------------------------------------------------------- */

#define T_OK "{\"e\":\"trade\",\"E\":1,\"s\":\"BTCUSDT\",\"t\":1,\"T\":1,\"m\":true,"

static const struct bad_case {
	const char *frame;
	enum tr_bad bad;
	const char *why_has; /* a word the reason must contain */
} bad_cases[] = {
    /* not JSON */
    {"", TR_BAD_JSON, "empty"},
    {"   ", TR_BAD_JSON, ""},
    {"{", TR_BAD_JSON, ""},
    {"}", TR_BAD_JSON, ""},
    {"{\"e\":\"trade\"", TR_BAD_JSON, ""},
    {"{\"e\":\"trade}", TR_BAD_JSON, ""},
    {T_OK "\"p\":\"1\",\"q\":\"1\"}}", TR_BAD_JSON, "after"},
    {T_OK "\"p\":\"1\",\"q\":\"1\"} {}", TR_BAD_JSON, "after"},
    {T_OK "\"p\":\"1\",\"q\":\"1\",}", TR_BAD_JSON, ""},
    {T_OK "\"p\":\"1\" \"q\":\"1\"}", TR_BAD_JSON, ""},
    {T_OK "\"p\":\"1\",\"q\":\"1\",\"m\":true}", TR_BAD_JSON, "duplicate key \"m\""},
    {T_OK "\"p\":\"1\",\"p\":\"2\",\"q\":\"1\"}", TR_BAD_JSON, "duplicate key \"p\""},
    {"{\"stream\":\"a@trade\",\"stream\":\"a@trade\",\"data\":{}}", TR_BAD_JSON, "stream"},
    {"{\"e\":\"trade\",\"E\":1,\"s\":\"BTCUSDT\",\"t\":1,\"T\":1,\"m\":tru,\"p\":\"1\",\"q\":"
     "\"1\"}",
     TR_BAD_JSON, "literal"},
    {"{\"e\":\"trade\",\"E\":1,\"s\":\"BTCUSDT\",\"t\":01,\"T\":1,\"m\":true,\"p\":\"1\",\"q\":"
     "\"1\"}",
     TR_BAD_JSON, "number"},
    {"{\"e\":\"trade\",\"E\":1,\"s\":\"BTCUSDT\",\"t\":1x,\"T\":1,\"m\":true,\"p\":\"1\",\"q\":"
     "\"1\"}",
     TR_BAD_JSON, "number"},
    {"{\"e\":\"trade\",\"s\":\"BTC\xff\"}", TR_BAD_JSON, "UTF-8"},
    {"{\"e\":\"trade\",\"s\":\"BTC\tUSDT\"}", TR_BAD_JSON, "control"},
    /* wrong types */
    {"[1,2]", TR_BAD_TYPE, "object"},
    {"42", TR_BAD_TYPE, "object"},
    {"\"trade\"", TR_BAD_TYPE, "object"},
    {T_OK "\"p\":{\"v\":1},\"q\":\"1\"}", TR_BAD_TYPE, "price"},
    {T_OK "\"p\":[\"1\"],\"q\":\"1\"}", TR_BAD_TYPE, "price"},
    {T_OK "\"p\":1.5,\"q\":\"1\"}", TR_BAD_TYPE, "price"},
    {T_OK "\"p\":null,\"q\":\"1\"}", TR_BAD_TYPE, "price"},
    {"{\"e\":\"trade\",\"E\":1,\"s\":\"BTCUSDT\",\"t\":\"1\",\"T\":1,\"m\":true,\"p\":\"1\","
     "\"q\":\"1\"}",
     TR_BAD_TYPE, "trade id"},
    {"{\"e\":\"trade\",\"E\":1,\"s\":\"BTCUSDT\",\"t\":1,\"T\":1,\"m\":\"true\",\"p\":\"1\","
     "\"q\":\"1\"}",
     TR_BAD_TYPE, "maker"},
    {"{\"e\":\"trade\",\"E\":1,\"s\":42,\"t\":1,\"T\":1,\"m\":true,\"p\":\"1\",\"q\":\"1\"}",
     TR_BAD_TYPE, "symbol"},
    {"{\"e\":7,\"s\":\"X\"}", TR_BAD_TYPE, "event type"},
    {"{\"stream\":\"btcusdt@trade\",\"data\":[1]}", TR_BAD_TYPE, "data"},
    {"{\"stream\":1,\"data\":{}}", TR_BAD_TYPE, "stream"},
    {T_OK "\"p\":\"1\",\"q\":\"1\",\"X\":1}", TR_BAD_TYPE, "execution type"},
    {"{\"result\":null,\"id\":\"1\"}", TR_BAD_TYPE, "id"},
    {"{\"error\":\"no\",\"id\":1}", TR_BAD_TYPE, "error"},
    {"{\"lastUpdateId\":\"1\",\"bids\":[],\"asks\":[]}", TR_BAD_TYPE, "lastUpdateId"},
    /* missing fields */
    {T_OK "\"q\":\"1\"}", TR_BAD_MISSING, "price"},
    {T_OK "\"p\":\"1\"}", TR_BAD_MISSING, "quantity"},
    {"{\"e\":\"trade\",\"E\":1,\"t\":1,\"T\":1,\"m\":true,\"p\":\"1\",\"q\":\"1\"}", TR_BAD_MISSING,
     "symbol"},
    {"{\"e\":\"trade\",\"E\":1,\"s\":\"X\",\"T\":1,\"m\":true,\"p\":\"1\",\"q\":\"1\"}",
     TR_BAD_MISSING, "trade id"},
    {"{\"e\":\"trade\",\"E\":1,\"s\":\"X\",\"t\":1,\"m\":true,\"p\":\"1\",\"q\":\"1\"}",
     TR_BAD_MISSING, "trade time"},
    {"{\"e\":\"trade\",\"E\":1,\"s\":\"X\",\"t\":1,\"T\":1,\"p\":\"1\",\"q\":\"1\"}",
     TR_BAD_MISSING, "maker"},
    {"{\"e\":\"aggTrade\",\"s\":\"X\",\"a\":1,\"f\":1,\"T\":1,\"m\":true,\"p\":\"1\",\"q\":"
     "\"1\"}",
     TR_BAD_MISSING, "last id"},
    {"{\"u\":1,\"s\":\"X\",\"b\":\"1\",\"a\":\"2\",\"A\":\"1\"}", TR_BAD_MISSING, "bid quantity"},
    {"{\"stream\":\"btcusdt@trade\"}", TR_BAD_MISSING, "data"},
    {"{\"data\":{\"e\":\"trade\"}}", TR_BAD_MISSING, "stream"},
    {"{\"result\":null}", TR_BAD_MISSING, "id"},
    /* values */
    {T_OK "\"p\":\"0\",\"q\":\"1\"}", TR_BAD_VALUE, "price \"p\" is not positive"},
    {T_OK "\"p\":\"0.00000000\",\"q\":\"1\"}", TR_BAD_VALUE, "not positive"},
    {T_OK "\"p\":\"-1.5\",\"q\":\"1\"}", TR_BAD_VALUE, "not positive"},
    {T_OK "\"p\":\"1\",\"q\":\"0\"}", TR_BAD_VALUE, "quantity \"q\" is not positive"},
    {T_OK "\"p\":\"1.000000001\",\"q\":\"1\"}", TR_BAD_VALUE, "decimals"},
    {T_OK "\"p\":\"1,5\",\"q\":\"1\"}", TR_BAD_VALUE, "not a valid number"},
    {T_OK "\"p\":\"\",\"q\":\"1\"}", TR_BAD_VALUE, "not a valid number"},
    {T_OK "\"p\":\" 1\",\"q\":\"1\"}", TR_BAD_VALUE, "not a valid number"},
    {T_OK "\"p\":\"0x10\",\"q\":\"1\"}", TR_BAD_VALUE, "not a valid number"},
    {T_OK "\"p\":\"NaN\",\"q\":\"1\"}", TR_BAD_VALUE, "not a valid number"},
    {T_OK "\"p\":\"1\\u0030\",\"q\":\"1\"}", TR_BAD_VALUE, "not a valid number"},
    {"{\"e\":\"trade\",\"E\":1,\"s\":\"BTCUSDT\",\"t\":-1,\"T\":1,\"m\":true,\"p\":\"1\",\"q\":"
     "\"1\"}",
     TR_BAD_VALUE, "negative"},
    {"{\"e\":\"trade\",\"E\":1,\"s\":\"BTCUSDT\",\"t\":1.5,\"T\":1,\"m\":true,\"p\":\"1\",\"q\":"
     "\"1\"}",
     TR_BAD_VALUE, "trade id"},
    {"{\"e\":\"trade\",\"E\":1,\"s\":\"BTCUSDT\",\"t\":1e3,\"T\":1,\"m\":true,\"p\":\"1\",\"q\":"
     "\"1\"}",
     TR_BAD_VALUE, "trade id"},
    {"{\"e\":\"trade\",\"E\":1,\"s\":\"BTCUSDT\",\"t\":1,\"T\":0,\"m\":true,\"p\":\"1\",\"q\":"
     "\"1\"}",
     TR_BAD_VALUE, "trade time"},
    {"{\"e\":\"trade\",\"E\":1,\"s\":\"\",\"t\":1,\"T\":1,\"m\":true,\"p\":\"1\",\"q\":\"1\"}",
     TR_BAD_VALUE, "symbol"},
    {"{\"e\":\"trade\",\"E\":1,\"s\":\"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345\",\"t\":1,\"T\":1,\"m\":"
     "true,\"p\":\"1\",\"q\":\"1\"}",
     TR_BAD_VALUE, "symbol"},
    {"{\"e\":\"trade\",\"E\":1,\"s\":\"BTC USDT\",\"t\":1,\"T\":1,\"m\":true,\"p\":\"1\",\"q\":"
     "\"1\"}",
     TR_BAD_VALUE, "symbol"},
    {"{\"e\":\"trade\",\"E\":1,\"s\":\"BTC\\u0000\",\"t\":1,\"T\":1,\"m\":true,\"p\":\"1\","
     "\"q\":\"1\"}",
     TR_BAD_VALUE, "symbol"},
    {"{\"e\":\"aggTrade\",\"s\":\"X\",\"a\":1,\"f\":5,\"l\":4,\"T\":1,\"m\":true,\"p\":\"1\","
     "\"q\":\"1\"}",
     TR_BAD_VALUE, "first id"},
    {"{\"u\":1,\"s\":\"X\",\"b\":\"0\",\"B\":\"1\",\"a\":\"2\",\"A\":\"1\"}", TR_BAD_VALUE,
     "bid price"},
    {"{\"u\":1,\"s\":\"X\",\"b\":\"1\",\"B\":\"1\",\"a\":\"-2\",\"A\":\"1\"}", TR_BAD_VALUE,
     "ask price"},
    {"{\"u\":1,\"s\":\"X\",\"b\":\"1\",\"B\":\"-1\",\"a\":\"2\",\"A\":\"1\"}", TR_BAD_VALUE,
     "bid quantity"},
    {"{\"stream\":\"ethusdt@trade\",\"data\":" T_OK "\"p\":\"1\",\"q\":\"1\"}}", TR_BAD_VALUE,
     "symbol"},
    {"{\"stream\":\"btcusdt@trade\",\"data\":{\"e\":\"aggTrade\",\"s\":\"BTCUSDT\"}}", TR_BAD_VALUE,
     "contradicts"},
    {"{\"stream\":\"btcusdt@trade\\\"\",\"data\":{}}", TR_BAD_VALUE, "stream"},
    {"{\"stream\":\"btcusdt@tradeXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\","
     "\"data\":{}}",
     TR_BAD_VALUE, "stream"},
    /* overflow */
    {T_OK "\"p\":\"92233720368.54775808\",\"q\":\"1\"}", TR_BAD_OVERFLOW, "price"},
    {T_OK "\"p\":\"1e30\",\"q\":\"1\"}", TR_BAD_OVERFLOW, "price"},
    {T_OK "\"p\":\"1\",\"q\":\"100000000000\"}", TR_BAD_OVERFLOW, "quantity"},
    {"{\"e\":\"trade\",\"E\":1,\"s\":\"BTCUSDT\",\"t\":18446744073709551616,\"T\":1,\"m\":true,"
     "\"p\":\"1\",\"q\":\"1\"}",
     TR_BAD_OVERFLOW, "trade id"},
    {"{\"e\":\"trade\",\"E\":1,\"s\":\"BTCUSDT\",\"t\":99999999999999999999999,\"T\":1,\"m\":"
     "true,\"p\":\"1\",\"q\":\"1\"}",
     TR_BAD_OVERFLOW, "trade id"},
    {"{\"e\":\"trade\",\"E\":1,\"s\":\"BTCUSDT\",\"t\":1,\"T\":9223372036855,\"m\":true,\"p\":"
     "\"1\",\"q\":\"1\"}",
     TR_BAD_OVERFLOW, "trade time"},
    {"{\"e\":\"trade\",\"E\":18446744073709551615,\"s\":\"BTCUSDT\",\"t\":1,\"T\":1,\"m\":true,"
     "\"p\":\"1\",\"q\":\"1\"}",
     TR_BAD_OVERFLOW, "event time"},
    {"{\"result\":null,\"id\":9223372036854775808}", TR_BAD_OVERFLOW, "id"},
    /* unknown streams and events */
    {"{\"stream\":\"btcusdt@miniTicker\",\"data\":{}}", TR_BAD_UNKNOWN_STREAM, "stream"},
    {"{\"stream\":\"!bookTicker\",\"data\":{}}", TR_BAD_UNKNOWN_STREAM, "stream"},
    {"{\"stream\":\"btcusdt@trades\",\"data\":{}}", TR_BAD_UNKNOWN_STREAM, "stream"},
    {"{\"e\":\"24hrTicker\",\"s\":\"BTCUSDT\"}", TR_BAD_UNKNOWN_STREAM, "event type"},
    {"{\"e\":\"Trade\",\"s\":\"BTCUSDT\"}", TR_BAD_UNKNOWN_STREAM, "event type"},
    {"{}", TR_BAD_UNKNOWN_STREAM, "key set"},
    {"{\"s\":\"BTCUSDT\",\"p\":\"1\"}", TR_BAD_UNKNOWN_STREAM, "key set"},
};

Test(parse, every_bad_frame_names_its_reason)
{
	struct tr_parser *p = tr_parser_new();

	for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
		const struct bad_case *c = &bad_cases[i];
		struct tr_msg m;
		enum tr_msg_kind k = parse(p, c->frame, &m);
		size_t len = strlen(c->frame);
		char *buf = malloc(len + TR_PARSE_PADDING);
		int fast;

		cr_assert(buf);
		memcpy(buf, c->frame, len);
		memset(buf + len, 0, TR_PARSE_PADDING);
		parse_both(p, buf, len, &m, &fast); /* the same rejection on either path */
		free(buf);
		cr_assert_eq(k, TR_MSG_BAD, "%s: kind %d", c->frame, k);
		cr_assert_eq(m.kind, TR_MSG_BAD);
		cr_assert_eq(m.bad, c->bad, "%s: %s (%s), want %s", c->frame, tr_bad_name(m.bad),
			     m.why, tr_bad_name(c->bad));
		cr_assert(m.why && *m.why, "%s: no reason", c->frame);
		cr_assert(strstr(m.why, c->why_has), "%s: reason \"%s\" lacks \"%s\"", c->frame,
			  m.why, c->why_has);
	}
	/* Each bad frame leaves the parser fine for the next good one. */
	struct tr_msg m;

	cr_assert_eq(parse(p, T_OK "\"p\":\"1\",\"q\":\"1\"}", &m), TR_MSG_TRADE);
	tr_parser_free(p);
}

Test(parse, embedded_nul_is_rejected)
{
	static const char frame[] = T_OK "\"p\":\"1\",\"q\":\"1\"}";
	struct tr_parser *p = tr_parser_new();
	struct tr_msg m;
	char buf[sizeof frame];

	/* A NUL in every position: never a record, never a crash. */
	for (size_t i = 0; i + 1 < sizeof frame; i++) {
		memcpy(buf, frame, sizeof frame);
		buf[i] = 0;
		cr_assert_eq(parse_str(p, buf, sizeof frame - 1, &m), TR_MSG_BAD, "NUL at %zu", i);
	}
	tr_parser_free(p);
}

Test(parse, edges_that_are_valid)
{
	struct tr_parser *p = tr_parser_new();
	struct tr_msg m;

	/* Ids above INT64_MAX but within uint64. */
	cr_assert_eq(parse(p,
			   "{\"e\":\"trade\",\"E\":1,\"s\":\"BTCUSDT\",\"t\":18446744073709551615,"
			   "\"T\":9223372036854,\"m\":false,\"p\":\"92233720368.54775807\",\"q\":"
			   "\"0.00000001\",\"X\":\"MARKET\"}",
			   &m),
		     TR_MSG_TRADE, "%s", m.why);
	cr_assert_eq(m.u.trade.trade_id, UINT64_MAX);
	cr_assert_eq(m.u.trade.price, INT64_MAX);
	cr_assert_eq(m.u.trade.qty, 1);
	cr_assert_eq(m.u.trade.ts_trade, 9223372036854000000ll);
	cr_assert_eq(m.u.trade.side, TR_SIDE_BUY);
	cr_assert_eq(m.u.trade.nonmarket, 0);
	/* Whitespace everywhere JSON allows it; exponents in decimal strings. */
	cr_assert_eq(
	    parse(p,
		  " \n{ \"e\" : \"trade\" ,\t\"s\":\"ETHUSDT\" , \"t\" : 7 , \"T\" : 1 , "
		  "\"m\" : true , \"p\" : \"1.5e2\" , \"q\" : \"2\" , \"X\" : \"ADL\" }\r\n ",
		  &m),
	    TR_MSG_TRADE, "%s", m.why);
	cr_assert_eq(m.u.trade.price, 15000000000ll);
	cr_assert_eq(m.u.trade.ts_event, 0);
	cr_assert_eq(m.u.trade.nonmarket, 1);
	/* A quote may have an empty side (0 price, 0 quantity). */
	cr_assert_eq(
	    parse(p, "{\"u\":1,\"s\":\"X\",\"b\":\"0\",\"B\":\"0\",\"a\":\"2\",\"A\":\"0\"}", &m),
	    TR_MSG_QUOTE, "%s", m.why);
	cr_assert_eq(m.u.quote.bid_px, 0);
	cr_assert_eq(m.u.quote.ask_qty, 0);
	/* Futures bookTicker without "E" takes "T". */
	cr_assert_eq(
	    parse(p,
		  "{\"e\":\"bookTicker\",\"u\":1,\"s\":\"X\",\"b\":\"1\",\"B\":\"1\",\"a\":"
		  "\"2\",\"A\":\"1\",\"T\":5}",
		  &m),
	    TR_MSG_QUOTE, "%s", m.why);
	cr_assert_eq(m.u.quote.ts_event, 5000000);
	/* Unknown members of any type are skipped; escaped keys are unknown keys. */
	cr_assert_eq(
	    parse(p, T_OK "\"p\":\"1\",\"q\":\"1\",\"zz\":{\"a\":[1,{}]},\"\\u0070\":0}", &m),
	    TR_MSG_TRADE, "%s", m.why);
	/* Replies. */
	cr_assert_eq(parse(p, "{\"result\":null,\"id\":1}", &m), TR_MSG_REPLY);
	cr_assert_eq(m.u.reply.id, 1);
	cr_assert_eq(m.u.reply.is_error, 0);
	cr_assert_eq(parse(p, "{\"id\":-3,\"result\":[\"btcusdt@trade\"]}", &m), TR_MSG_REPLY);
	cr_assert_eq(m.u.reply.id, -3);
	cr_assert_eq(parse(p, "{\"error\":{\"code\":2,\"msg\":\"Invalid request\"},\"id\":7}", &m),
		     TR_MSG_REPLY);
	cr_assert_eq(m.u.reply.id, 7);
	cr_assert_eq(m.u.reply.is_error, 1);
	cr_assert_eq(parse(p, "{\"error\":{\"code\":2,\"msg\":\"x\"},\"id\":null}", &m),
		     TR_MSG_REPLY);
	cr_assert_eq(m.u.reply.id, -1);
	/* Known, unused: depth, markPrice, kline, snapshots, partial depth. */
	static const char *ignored[] = {
	    "{\"stream\":\"btcusdt@depth@100ms\",\"data\":{\"e\":\"depthUpdate\",\"s\":\"BTCUSDT\","
	    "\"b\":[],\"a\":[]}}",
	    "{\"stream\":\"btcusdt@depth20@100ms\",\"data\":{\"lastUpdateId\":1,\"bids\":[],"
	    "\"asks\":[]}}",
	    "{\"stream\":\"btcusdt@markPrice@1s\",\"data\":{\"e\":\"markPriceUpdate\"}}",
	    "{\"stream\":\"btcusdt@kline_1m\",\"data\":{\"e\":\"kline\",\"k\":{}}}",
	    "{\"e\":\"depthUpdate\",\"s\":\"BTCUSDT\",\"b\":[],\"a\":[]}",
	    "{\"lastUpdateId\":1027024,\"E\":1,\"T\":1,\"bids\":[[\"4.0\",\"431.0\"]],\"asks\":[]}",
	};
	for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++)
		cr_assert_eq(parse(p, ignored[i], &m), TR_MSG_IGNORED, "%s: %s", ignored[i],
			     m.why ? m.why : "");
	tr_parser_free(p);
}

Test(parse, oversize_frames_are_not_read)
{
	long pg = sysconf(_SC_PAGESIZE);
	char *none = mmap(NULL, (size_t)pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct tr_parser *p = tr_parser_new();
	struct tr_msg m;

	cr_assert(none != MAP_FAILED);
	/* The buffer is unreadable: touching it would crash. */
	cr_assert_eq(tr_parse_binance(p, none, TR_PARSE_MAX_FRAME + 1, &m), TR_MSG_BAD);
	cr_assert_eq(m.bad, TR_BAD_OVERSIZE);
	cr_assert_eq(tr_parse_gateway(p, none, (size_t)-1, &m), TR_MSG_BAD);
	cr_assert_eq(m.bad, TR_BAD_OVERSIZE);
	munmap(none, (size_t)pg);
	/* Exactly the limit is parsed: a valid object padded with spaces. */
	char *big = malloc(TR_PARSE_MAX_FRAME + TR_PARSE_PADDING);
	const char *f = T_OK "\"p\":\"1\",\"q\":\"1\"}";

	memset(big, ' ', TR_PARSE_MAX_FRAME);
	memcpy(big, f, strlen(f));
	cr_assert_eq(tr_parse_binance(p, big, TR_PARSE_MAX_FRAME, &m), TR_MSG_TRADE, "%s", m.why);
	free(big);
	tr_parser_free(p);
}

/* Frames flush against a PROT_NONE page, with exactly TR_PARSE_PADDING readable bytes
 * after them: any read past the padding faults. Every prefix of a few real frames, so
 * the error paths run there too. */
Test(parse, no_read_beyond_the_padding)
{
	static const char *frames[] = {
	    "{\"stream\":\"btcusdt@trade\",\"data\":{\"e\":\"trade\",\"E\":1723161255343,\"s\":"
	    "\"BTCUSDT\",\"t\":3735683259,\"p\":\"61837.63000000\",\"q\":\"0.02000000\",\"T\":"
	    "1723161255342,\"m\":true,\"M\":true}}",
	    "{\"u\":50093239212,\"s\":\"BTCUSDT\",\"b\":\"61837.63000000\",\"B\":\"3.78826000\","
	    "\"a\":\"61837.64000000\",\"A\":\"1.54698000\"}",
	    "{\"type\":\"trade\",\"venue\":\"v\",\"symbol\":\"S\",\"price\":\"1.5\",\"qty\":2,"
	    "\"trade_id\":7,\"ts_event\":5,\"side\":\"buy\"}",
	    "{\"result\":null,\"id\":1}",
	};
	long pg = sysconf(_SC_PAGESIZE);
	char *map =
	    mmap(NULL, 2 * (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct tr_parser *p = tr_parser_new();
	struct tr_msg m;

	cr_assert(map != MAP_FAILED);
	cr_assert_eq(mprotect(map + pg, (size_t)pg, PROT_NONE), 0);
	for (size_t i = 0; i < sizeof frames / sizeof frames[0]; i++) {
		size_t full = strlen(frames[i]);

		for (size_t len = 0; len <= full; len++) {
			char *at = map + pg - len - TR_PARSE_PADDING;

			/* Hostile paddings: a quote, digits, a closing brace. */
			for (const char *pad = "\"1}"; *pad; pad++) {
				memcpy(at, frames[i], len);
				memset(at + len, *pad, TR_PARSE_PADDING);
				enum tr_msg_kind k = tr_parse_binance(p, at, len, &m);
				enum tr_msg_kind g = tr_parse_gateway(p, at, len, &m);

				if (len < full)
					cr_assert(k == TR_MSG_BAD && g == TR_MSG_BAD,
						  "prefix %zu of %s", len, frames[i]);
				else
					cr_assert(k != TR_MSG_BAD || g != TR_MSG_BAD, "%s",
						  frames[i]);
				cr_assert_eq(tr_parse_binance_simdjson(p, at, len, &m), k);
			}
		}
	}
	tr_parser_free(p);
	munmap(map, 2 * (size_t)pg);
}

/* ---- the fast path --------------------------------------------------------------- */

/* Frames that are not in the fast path's shape: it must decline them (and leave *out
 * alone), and tr_parse_binance must then give exactly the general path's answer. */
Test(parse, fast_path_declines_every_other_shape)
{
	static const char *frames[] = {
	    " {\"e\":\"trade\"}",		    /* whitespace outside */
	    "{\"e\":\"trade\"} ",		    /* trailing whitespace */
	    "{\"e\": \"trade\"}",		    /* whitespace inside */
	    "{\"e\":\"trade\",\n\"s\":\"X\"}",	    /* a newline */
	    "\xef\xbb\xbf{\"e\":\"trade\"}",	    /* a UTF-8 byte order mark */
	    "{\"e\":\"tr\\u0061de\"}",		    /* an escape in a value */
	    "{\"\\u0065\":\"trade\"}",		    /* an escaped key */
	    "{\"e\":\"trade\",\"z\":\"\xc3\xa9\"}", /* non-ASCII, valid UTF-8 */
	    "{\"e\":\"trade\",\"z\":\"\x7f\"}",	    /* DEL */
	    "{\"e\":\"trade\",\"z\":[1,2]}",	    /* an array */
	    "{\"e\":\"trade\",\"z\":{}}",	    /* a nested object */
	    "{\"stream\":\"a@trade\",\"data\":{\"e\":\"trade\",\"z\":{}}}", /* nested in data */
	    "{\"stream\":\"a@trade\",\"data\":\"x\"}",			    /* data not an object */
	    "{\"stream\":\"a@trade\",\"data\":{},\"data\":{}}",		    /* data twice */
	    "{\"e\":\"trade\",\"e\":\"trade\"}",			    /* a duplicate key */
	    "{\"stream\":\"a@trade\",\"stream\":\"a@trade\",\"data\":{}}",
	    "{\"e\":\"trade\",\"t\":01}",  /* a leading zero */
	    "{\"e\":\"trade\",\"t\":1.}",  /* no fraction digit */
	    "{\"e\":\"trade\",\"t\":1e}",  /* no exponent digit */
	    "{\"e\":\"trade\",\"t\":-}",   /* a lone minus */
	    "{\"e\":\"trade\",\"t\":+1}",  /* a plus */
	    "{\"e\":\"trade\",\"m\":tru}", /* a broken literal */
	    "{\"e\":\"trade\",\"m\":True}",
	    "{\"e\":\"trade\",\"m\":nul}",
	    "{\"e\":\"trade\",}", /* a trailing comma */
	    "{\"e\":\"trade\"",	  /* unclosed */
	    "{\"e\":\"trade\"}}", /* content after */
	    "{\"e\"}",
	    "{\"e\":}",
	    "{,\"e\":\"trade\"}",
	    "{\"\":1}x",
	    "[{\"e\":\"trade\"}]",
	    "\"trade\"",
	    "{",
	    "",
	};
	struct tr_parser *p = tr_parser_new();

	for (size_t i = 0; i < sizeof frames / sizeof frames[0]; i++) {
		size_t len = strlen(frames[i]);
		char *buf = malloc(len + TR_PARSE_PADDING);
		struct tr_msg m, f;
		int fast;

		cr_assert(buf);
		memcpy(buf, frames[i], len);
		memset(buf + len, '}', TR_PARSE_PADDING);
		memset(&f, 0x5a, sizeof f);
		cr_assert_eq(tr_parse_binance_fast(buf, len, &f), -1, "took %s", frames[i]);
		for (size_t b = 0; b < sizeof f; b++)
			cr_assert_eq(((unsigned char *)&f)[b], 0x5a, "%s: *out touched", frames[i]);
		parse_both(p, buf, len, &m, &fast);
		free(buf);
	}
	tr_parser_free(p);
}

/* Valid frames at the edges of the fast path's shape: taken, and the same struct as
 * the general path, including the rejections decided after the walk. */
Test(parse, fast_path_takes_edge_shapes_alike)
{
	static const struct {
		const char *frame;
		enum tr_msg_kind kind;
	} frames[] = {
	    {"{}", TR_MSG_BAD},
	    {"{\"stream\":\"btcusdt@trade\",\"data\":{}}", TR_MSG_BAD},
	    {"{\"data\":{},\"stream\":\"btcusdt@depth@100ms\"}", TR_MSG_IGNORED},
	    {"{\"result\":null,\"id\":-7}", TR_MSG_REPLY},
	    {"{\"lastUpdateId\":-0.5e+3}", TR_MSG_IGNORED},
	    {T_OK "\"p\":\"1E2\",\"q\":\"0.1e-7\",\"zz\":-0.0E-0,\"\":true,\"M\":null}",
	     TR_MSG_TRADE},
	    {"{\"stream\":\"btcusdt@trade\",\"data\":" T_OK
	     "\"p\":\"1\",\"q\":\"1\",\"X\":\"ADL\",\"data\":5}}",
	     TR_MSG_TRADE},
	    {"{\"stream\":\"BTCUSDT@trade\",\"data\":" T_OK "\"p\":\"1\",\"q\":\"1\"},\"x\":1}",
	     TR_MSG_TRADE},
	    {T_OK "\"p\":\"0.000000001\",\"q\":\"1\"}", TR_MSG_BAD},
	    {T_OK "\"p\":\"00.1\",\"q\":\"1\"}", TR_MSG_BAD},
	    {"{\"e\":\"trade\",\"E\":1,\"s\":\"BTC USDT\",\"t\":1,\"T\":1,\"m\":true,\"p\":\"1\","
	     "\"q\":\"1\"}",
	     TR_MSG_BAD},
	    {"{\"u\":1,\"s\":\"X\",\"b\":\"0\",\"B\":\"0\",\"a\":\"2\",\"A\":\"0\"}", TR_MSG_QUOTE},
	};
	struct tr_parser *p = tr_parser_new();

	for (size_t i = 0; i < sizeof frames / sizeof frames[0]; i++) {
		struct tr_msg m;
		size_t len = strlen(frames[i].frame);
		char *buf = malloc(len + TR_PARSE_PADDING);
		int fast;

		cr_assert(buf);
		memcpy(buf, frames[i].frame, len);
		memset(buf + len, '"', TR_PARSE_PADDING);
		cr_assert_eq(parse_both(p, buf, len, &m, &fast), frames[i].kind, "%s: %s",
			     frames[i].frame, m.why ? m.why : "");
		cr_assert(fast, "declined %s", frames[i].frame);
		free(buf);
	}
	tr_parser_free(p);
}

/* The member orders Binance sends (the shapes) are read by their own collector; every
 * frame in them, or one member off, must come out exactly as from the walk and the
 * general path, and the shapes must take what they are for and decline the rest. The
 * padding holds `}}` and the frame again, so a collector that read past the end would
 * find a plausible continuation there. */
#define S_HEAD "{\"e\":\"trade\",\"E\":1723161255343,\"s\":\"BTCUSDT\",\"t\":3735683259,"
#define S_PQ "\"p\":\"61837.63000000\",\"q\":\"0.02000000\","
#define S_TAIL "\"T\":1723161255342,\"m\":true,\"M\":true}"
#define S_TRADE S_HEAD S_PQ S_TAIL
#define S_ENV(payload) "{\"stream\":\"btcusdt@trade\",\"data\":" payload "}"

Test(parse, shapes_take_their_member_orders_alike)
{
	enum { SW = BY_SHAPES | BY_WALK, W = BY_WALK, NONE = 0 };
	static const struct {
		const char *frame;
		enum tr_msg_kind kind;
		int took;
	} frames[] = {
	    {S_TRADE, TR_MSG_TRADE, SW},
	    {S_ENV(S_TRADE), TR_MSG_TRADE, SW},
	    /* numbers the shapes leave to the walk: fraction, exponent, sign, 16 digits */
	    {"{\"e\":\"trade\",\"E\":1.5,\"s\":\"X\",\"t\":1," S_PQ S_TAIL, TR_MSG_BAD, W},
	    {"{\"e\":\"trade\",\"E\":1,\"s\":\"X\",\"t\":1e3," S_PQ S_TAIL, TR_MSG_BAD, W},
	    {"{\"e\":\"trade\",\"E\":1,\"s\":\"X\",\"t\":-1," S_PQ S_TAIL, TR_MSG_BAD, W},
	    {"{\"e\":\"trade\",\"E\":1,\"s\":\"X\",\"t\":1234567890123456," S_PQ S_TAIL,
	     TR_MSG_TRADE, W},
	    {"{\"e\":\"trade\",\"E\":1,\"s\":\"X\",\"t\":123456789012345," S_PQ S_TAIL,
	     TR_MSG_TRADE, SW},
	    {"{\"e\":\"trade\",\"E\":1,\"s\":\"X\",\"t\":0," S_PQ S_TAIL, TR_MSG_TRADE, SW},
	    {"{\"e\":\"trade\",\"E\":1,\"s\":\"X\",\"t\":01," S_PQ S_TAIL, TR_MSG_BAD, NONE},
	    /* decimals the shapes keep as text for the decision code */
	    {S_HEAD "\"p\":\"12345678.12345678\",\"q\":\"1\"," S_TAIL, TR_MSG_TRADE, SW},
	    {S_HEAD "\"p\":\"99999999.99999999\",\"q\":\"1\"," S_TAIL, TR_MSG_TRADE, SW},
	    {S_HEAD "\"p\":\"123456789\",\"q\":\"1\"," S_TAIL, TR_MSG_TRADE, SW},
	    {S_HEAD "\"p\":\"1e2\",\"q\":\"1\"," S_TAIL, TR_MSG_TRADE, SW},
	    {S_HEAD "\"p\":\"0.000000001\",\"q\":\"1\"," S_TAIL, TR_MSG_BAD, SW},
	    {S_HEAD "\"p\":\"00.5\",\"q\":\"1\"," S_TAIL, TR_MSG_BAD, SW},
	    {S_HEAD "\"p\":\".5\",\"q\":\"1\"," S_TAIL, TR_MSG_BAD, SW},
	    {S_HEAD "\"p\":\"5.\",\"q\":\"1\"," S_TAIL, TR_MSG_BAD, SW},
	    {S_HEAD "\"p\":\"\",\"q\":\"1\"," S_TAIL, TR_MSG_BAD, SW},
	    {S_HEAD "\"p\":\"0\",\"q\":\"1\"," S_TAIL, TR_MSG_BAD, SW},
	    {S_HEAD "\"p\":\"-1\",\"q\":\"1\"," S_TAIL, TR_MSG_BAD, SW},
	    {S_HEAD "\"p\":\"1.2.3\",\"q\":\"1\"," S_TAIL, TR_MSG_BAD, SW},
	    {S_HEAD "\"p\":\"0.5\",\"q\":\"1 \"," S_TAIL, TR_MSG_BAD, SW},
	    {S_HEAD "\"p\":1,\"q\":\"1\"," S_TAIL, TR_MSG_BAD, W},
	    /* other values, members out of place, extra or missing */
	    {"{\"e\":\"trade\",\"E\":1,\"s\":\"BTC USDT\",\"t\":1," S_PQ S_TAIL, TR_MSG_BAD, SW},
	    {S_HEAD S_PQ "\"T\":1,\"m\":null,\"M\":true}", TR_MSG_BAD, W},
	    {S_HEAD S_PQ "\"T\":1,\"m\":true,\"M\":1}", TR_MSG_TRADE, W},
	    {S_HEAD S_PQ "\"T\":1,\"m\":true}", TR_MSG_TRADE, W},
	    {S_HEAD S_PQ "\"T\":1,\"m\":true,\"M\":true,\"x\":1}", TR_MSG_TRADE, W},
	    {"{\"e\":\"trade\",\"E\":1,\"t\":1,\"s\":\"X\"," S_PQ S_TAIL, TR_MSG_TRADE, W},
	    {"{\"e\":\"tradf\",\"E\":1,\"s\":\"X\",\"t\":1," S_PQ S_TAIL, TR_MSG_BAD, SW},
	    {"{\"stream\":\"btcusdt@trade\",\"data\":" S_TRADE ",\"x\":1}", TR_MSG_TRADE, W},
	    {"{\"stream\":\"ethusdt@trade\",\"data\":" S_TRADE "}", TR_MSG_BAD, SW},
	    {"{\"stream\":\"btcusdt@aggTrade\",\"data\":" S_TRADE "}", TR_MSG_BAD, SW},
	    {"{\"stream\":\"btc\\\\usdt@trade\",\"data\":" S_TRADE "}", TR_MSG_BAD, NONE},
	    {"{\"data\":" S_TRADE ",\"stream\":\"btcusdt@trade\"}", TR_MSG_TRADE, W},
	    /* cut short: the padding must not complete them */
	    {S_HEAD S_PQ "\"T\":1723161255342,\"m\":true,\"M\":true", TR_MSG_BAD, NONE},
	    {S_HEAD S_PQ "\"T\":1723161255342,\"m\":true,\"M\":tr", TR_MSG_BAD, NONE},
	    {S_HEAD S_PQ "\"T\":17231612", TR_MSG_BAD, NONE},
	    {S_HEAD "\"p\":\"61837.6", TR_MSG_BAD, NONE},
	    {"{\"stream\":\"btcusdt@trade\",\"data\":" S_TRADE, TR_MSG_BAD, NONE},
	    {S_TRADE "}", TR_MSG_BAD, NONE},
	    /* every other shape */
	    {"{\"e\":\"trade\",\"E\":1,\"T\":2,\"s\":\"BTCUSDT\",\"t\":3,\"p\":\"28145.10\",\"q\":"
	     "\"0.002\",\"X\":\"INSURANCE_FUND\",\"m\":false}",
	     TR_MSG_TRADE, SW},
	    {"{\"e\":\"trade\",\"E\":1,\"s\":\"BTCUSDT\",\"t\":3,\"p\":\"1.5\",\"q\":\"2\",\"b\":7,"
	     "\"a\":8,\"T\":2,\"m\":true,\"M\":true}",
	     TR_MSG_TRADE, SW},
	    {"{\"e\":\"aggTrade\",\"E\":1,\"s\":\"NKNUSDT\",\"a\":5,\"p\":\"0.35\",\"q\":\"10\","
	     "\"f\":6,\"l\":7,\"T\":2,\"m\":true,\"M\":true}",
	     TR_MSG_AGGTRADE, SW},
	    {"{\"e\":\"aggTrade\",\"E\":1,\"a\":5,\"s\":\"CTKUSDT\",\"p\":\"1.011\",\"q\":\"10\","
	     "\"f\":7,\"l\":6,\"T\":2,\"m\":false}",
	     TR_MSG_BAD, SW},
	    {"{\"u\":1,\"s\":\"BTCUSDT\",\"b\":\"1\",\"B\":\"2\",\"a\":\"3\",\"A\":\"4\"}",
	     TR_MSG_QUOTE, SW},
	    {"{\"u\":1,\"s\":\"BTCUSDT\",\"b\":\"0\",\"B\":\"2\",\"a\":\"3\",\"A\":\"4\"}",
	     TR_MSG_BAD, SW},
	    {"{\"u\":1,\"s\":\"BTCUSDT\",\"b\":1,\"B\":\"2\",\"a\":\"3\",\"A\":\"4\"}", TR_MSG_BAD,
	     W},
	    {"{\"e\":\"bookTicker\",\"u\":1,\"s\":\"BTCUSDT\",\"b\":\"1\",\"B\":\"2\",\"a\":\"3\","
	     "\"A\":\"4\",\"T\":5,\"E\":6}",
	     TR_MSG_QUOTE, SW},
	    {"{\"e\":\"bookTicker\",\"u\":1,\"s\":\"BTCUSDT\",\"b\":\"1\",\"B\":\"2\",\"a\":\"3\","
	     "\"A\":\"4\",\"T\":5,\"E\":6",
	     TR_MSG_BAD, NONE},
	};
	struct tr_parser *p = tr_parser_new();

	for (size_t i = 0; i < sizeof frames / sizeof frames[0]; i++) {
		const char *f = frames[i].frame;
		size_t len = strlen(f);
		char *buf = malloc(len + TR_PARSE_PADDING);
		struct tr_msg m;
		int took;

		cr_assert(buf);
		memcpy(buf, f, len);
		memset(buf + len, '}', 2);
		for (size_t b = 2; b < TR_PARSE_PADDING; b++)
			buf[len + b] = f[(b - 2) % len];
		cr_assert_eq(parse_paths(p, buf, len, &m, &took), frames[i].kind, "%s: %s", f,
			     m.why ? m.why : "");
		cr_assert_eq(took, frames[i].took, "%s: taken by %d", f, took);
		free(buf);
	}
	tr_parser_free(p);
}

/* The word-at-a-time readers of decimals and integers against the reference readers
 * (tr_fixed_parse, a digit loop) on random digit strings of every length. */
Test(parse, numbers_agree_with_the_reference_readers)
{
	static const char digits[] = "0123456789";
	struct tr_parser *p = tr_parser_new();
	char num[64], frame[256];
	struct tr_msg m;

	for (int round = 0; round < 20000; round++) {
		/* a decimal: 0..12 integer digits, maybe a dot and 0..10 fraction digits,
		 * now and then a sign, a stray byte or an exponent */
		size_t n = 0, ni = rng() % 13, nf = rng() % 11;
		uint64_t r = rng();

		if (r % 17 == 0)
			num[n++] = '-';
		for (size_t i = 0; i < ni; i++)
			num[n++] = digits[rng() % (i == 0 && r % 5 ? 9 : 10) + (i == 0 && r % 5)];
		if (r % 3)
			num[n++] = '.';
		for (size_t i = 0; i < nf; i++)
			num[n++] = digits[rng() % 10];
		if (r % 23 == 0)
			n += (size_t)snprintf(num + n, 8, "e%d", (int)(rng() % 9) - 4);
		if (r % 29 == 0 && n)
			num[rng() % n] = "x/: "[rng() % 4];
		num[n] = 0;

		int64_t want;
		int st = tr_fixed_parse(num, n, &want);
		int took;
		enum tr_msg_kind k;

		/* in the order of the walk's tests, then in spot's order (the shapes) */
		for (int order = 0; order < 2; order++) {
			if (order)
				snprintf(frame, sizeof frame,
					 S_HEAD "\"p\":\"%s\",\"q\":\"1\"," S_TAIL, num);
			else
				snprintf(frame, sizeof frame, T_OK "\"p\":\"%s\",\"q\":\"1\"}",
					 num);
			k = parse_paths(p, frame, strlen(frame), &m, &took);
			cr_assert_eq(took, order ? BY_SHAPES | BY_WALK : BY_WALK, "%s", frame);
			if (st == TR_FIXED_OK && want > 0) {
				cr_assert_eq(k, TR_MSG_TRADE, "%s: %s", num, m.why);
				cr_assert_eq(m.u.trade.price, want, "%s", num);
			} else {
				cr_assert_eq(k, TR_MSG_BAD, "%s", num);
				cr_assert_eq(
				    m.bad, st == TR_FIXED_OVERFLOW ? TR_BAD_OVERFLOW : TR_BAD_VALUE,
				    "%s: %s", num, m.why);
			}
		}

		/* an id: 1..22 digits, leading zeros now and then */
		n = 1 + rng() % 22;
		for (size_t i = 0; i < n; i++)
			num[i] = digits[rng() % 10];
		num[n] = 0;
		if (rng() % 4 && num[0] == '0' && n > 1)
			num[0] = '7';
		unsigned __int128 v = 0;

		for (size_t i = 0; i < n; i++)
			v = v * 10 + (unsigned)(num[i] - '0');
		for (int order = 0; order < 2; order++) {
			if (order)
				snprintf(
				    frame, sizeof frame,
				    "{\"e\":\"trade\",\"E\":1,\"s\":\"X\",\"t\":%s," S_PQ S_TAIL,
				    num);
			else
				snprintf(frame, sizeof frame,
					 "{\"e\":\"trade\",\"E\":1,\"s\":\"X\",\"t\":%s,\"T\":1,"
					 "\"m\":true,\"p\":\"1\",\"q\":\"1\"}",
					 num);
			k = parse_paths(p, frame, strlen(frame), &m, &took);
			if (num[0] == '0' && n > 1) {
				cr_assert_eq(m.bad, TR_BAD_JSON, "%s", num);
				cr_assert_eq(took, 0, "%s", frame);
			} else if (v > UINT64_MAX) {
				cr_assert_eq(m.bad, TR_BAD_OVERFLOW, "%s", num);
			} else {
				cr_assert_eq(k, TR_MSG_TRADE, "%s: %s", num, m.why);
				cr_assert(m.u.trade.trade_id == (uint64_t)v, "%s", num);
			}
			if (took) /* the shapes read ids of up to 15 digits */
				cr_assert_eq(took, order && n <= 15 ? BY_SHAPES | BY_WALK : BY_WALK,
					     "%s", frame);
		}
	}
	tr_parser_free(p);
}

/* ---- gateway ---------------------------------------------------------------------- */

Test(parse, gateway_records)
{
	struct tr_parser *p = tr_parser_new();
	struct tr_msg m;

	cr_assert_eq(
	    parse_gw(p,
		     "{\"type\":\"trade\",\"venue\":\"desk1\",\"symbol\":\"BTC-USD\",\"price\":"
		     "\"61837.63\",\"qty\":\"0.5\",\"trade_id\":7,\"ts_event\":"
		     "1723161255342000001,\"side\":\"sell\",\"note\":[1,2]}",
		     &m),
	    TR_MSG_TRADE, "%s", m.why);
	cr_assert_str_eq(m.venue, "desk1");
	cr_assert_str_eq(m.symbol, "BTC-USD");
	cr_assert_eq(m.u.trade.price, 6183763000000ll);
	cr_assert_eq(m.u.trade.qty, 50000000);
	cr_assert_eq(m.u.trade.trade_id, 7);
	cr_assert(m.u.trade.first_id == 7 && m.u.trade.last_id == 7);
	cr_assert_eq(m.u.trade.ts_event, 1723161255342000001ll);
	cr_assert_eq(m.u.trade.ts_trade, 1723161255342000001ll);
	cr_assert_eq(m.u.trade.side, TR_SIDE_SELL);
	cr_assert_eq(m.stream[0], 0);
	/* Numbers are parsed from their digits; ts_event, trade_id and side are optional. */
	cr_assert_eq(parse_gw(p,
			      "{\"qty\":2,\"price\":1.25,\"symbol\":\"S\",\"venue\":\"v\",\"type\":"
			      "\"trade\"}",
			      &m),
		     TR_MSG_TRADE, "%s", m.why);
	cr_assert_eq(m.u.trade.price, 125000000);
	cr_assert_eq(m.u.trade.ts_event, 0);
	cr_assert_eq(m.u.trade.side, TR_SIDE_UNKNOWN);
	cr_assert_eq(
	    parse_gw(p,
		     "{\"type\":\"quote\",\"venue\":\"v\",\"symbol\":\"S\",\"bid_px\":\"1\","
		     "\"bid_qty\":\"2\",\"ask_px\":\"1.1\",\"ask_qty\":\"0\",\"ts_event\":9}",
		     &m),
	    TR_MSG_QUOTE, "%s", m.why);
	cr_assert_eq(m.u.quote.bid_px, 100000000);
	cr_assert_eq(m.u.quote.ask_px, 110000000);
	cr_assert_eq(m.u.quote.ask_qty, 0);
	cr_assert_eq(m.u.quote.ts_event, 9);

	static const struct bad_case gw_bad[] = {
	    {"{\"venue\":\"v\",\"symbol\":\"S\",\"price\":\"1\",\"qty\":\"1\"}", TR_BAD_MISSING,
	     "type"},
	    {"{\"type\":\"order\",\"venue\":\"v\"}", TR_BAD_UNKNOWN_STREAM, "type"},
	    {"{\"type\":1}", TR_BAD_TYPE, "type"},
	    {"{\"type\":\"trade\",\"symbol\":\"S\",\"price\":\"1\",\"qty\":\"1\"}", TR_BAD_MISSING,
	     "venue"},
	    {"{\"type\":\"trade\",\"venue\":\"0123456789abcdef\",\"symbol\":\"S\",\"price\":\"1\","
	     "\"qty\":\"1\"}",
	     TR_BAD_VALUE, "venue"},
	    {"{\"type\":\"trade\",\"venue\":\"v\",\"symbol\":\"S\",\"qty\":\"1\"}", TR_BAD_MISSING,
	     "price"},
	    {"{\"type\":\"trade\",\"venue\":\"v\",\"symbol\":\"S\",\"price\":\"0\",\"qty\":\"1\"}",
	     TR_BAD_VALUE, "price"},
	    {"{\"type\":\"trade\",\"venue\":\"v\",\"symbol\":\"S\",\"price\":true,\"qty\":\"1\"}",
	     TR_BAD_TYPE, "price"},
	    {"{\"type\":\"trade\",\"venue\":\"v\",\"symbol\":\"S\",\"price\":\"1\",\"qty\":\"1\","
	     "\"side\":\"BUY\"}",
	     TR_BAD_VALUE, "side"},
	    {"{\"type\":\"trade\",\"venue\":\"v\",\"symbol\":\"S\",\"price\":\"1\",\"qty\":\"1\","
	     "\"ts_event\":\"5\"}",
	     TR_BAD_TYPE, "ts_event"},
	    {"{\"type\":\"trade\",\"venue\":\"v\",\"symbol\":\"S\",\"price\":\"1\",\"qty\":\"1\","
	     "\"ts_event\":9223372036854775808}",
	     TR_BAD_OVERFLOW, "ts_event"},
	    {"{\"type\":\"trade\",\"venue\":\"v\",\"symbol\":\"S\",\"price\":\"1\",\"qty\":\"1\","
	     "\"trade_id\":-1}",
	     TR_BAD_VALUE, "trade_id"},
	    {"{\"type\":\"quote\",\"venue\":\"v\",\"symbol\":\"S\",\"bid_px\":\"1\",\"bid_qty\":"
	     "\"1\",\"ask_px\":\"0\",\"ask_qty\":\"3\"}",
	     TR_BAD_VALUE, "ask_px"},
	    {"{\"type\":\"quote\",\"venue\":\"v\",\"symbol\":\"S\",\"bid_px\":\"1\",\"bid_qty\":"
	     "\"1\",\"ask_px\":\"2\"}",
	     TR_BAD_MISSING, "ask_qty"},
	    {"{\"type\":\"trade\",\"type\":\"trade\"}", TR_BAD_JSON, "duplicate"},
	    {"{\"type\":\"trade\"", TR_BAD_JSON, ""},
	    {"[\"trade\"]", TR_BAD_TYPE, "object"},
	};
	for (size_t i = 0; i < sizeof gw_bad / sizeof gw_bad[0]; i++) {
		cr_assert_eq(parse_gw(p, gw_bad[i].frame, &m), TR_MSG_BAD, "%s", gw_bad[i].frame);
		cr_assert_eq(m.bad, gw_bad[i].bad, "%s: %s (%s)", gw_bad[i].frame,
			     tr_bad_name(m.bad), m.why);
		cr_assert(strstr(m.why, gw_bad[i].why_has), "%s: \"%s\"", gw_bad[i].frame, m.why);
	}
	tr_parser_free(p);
}

Test(parse, bad_names_match_the_counters)
{
	cr_assert_str_eq(tr_bad_name(TR_BAD_JSON), "bad_json");
	cr_assert_str_eq(tr_bad_name(TR_BAD_MISSING), "bad_missing_field");
	cr_assert_str_eq(tr_bad_name(TR_BAD_OVERSIZE), "bad_oversize");
	cr_assert_str_eq(tr_bad_name(TR_BAD_UNKNOWN_STREAM), "bad_unknown_stream");
}
