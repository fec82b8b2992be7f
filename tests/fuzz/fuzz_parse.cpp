/* fuzz_parse.cpp - libFuzzer target for both venue extractors, and a differential fuzzer of
 * tr_parse_binance's two paths.
 *
 * Each frame is copied into an exactly sized heap buffer plus TR_PARSE_PADDING bytes, so
 * ASan catches any read past the padding, then parsed as a Binance frame and as a gateway
 * line. The invariants are the extractors' contract: a valid kind, `bad` set exactly when
 * the kind is TR_MSG_BAD with a non-empty reason, positive price and quantity on trades,
 * non-negative quote sides, and NUL-terminated names.
 *
 * Differential: tr_parse_binance (fast path, else simdjson), tr_parse_binance_simdjson
 * (the general path alone), tr_parse_binance_fast (the fast path alone, -1 when it
 * declines) and each of the fast path's two collectors alone (the member orders Binance
 * sends, and any order) must agree on every frame: same kind, reason, text, names and
 * record, byte for byte. Random bytes rarely look like Binance, so the first input byte
 * may also pick a real frame with a hole that the rest of the input fills (a value, a key,
 * a stream name, extra members): most of those reach the fast path and its decisions. At
 * exit the target prints how many frames the fast path and its shapes took.
 * tests/fuzz/README.md says how to run.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tr_parse.h"

static void tr_fuzz_check(enum tr_msg_kind k, const struct tr_msg *m)
{
	if (k != m->kind || k < TR_MSG_BAD || k > TR_MSG_IGNORED)
		abort();
	if ((k == TR_MSG_BAD) != (m->bad != TR_BAD_NONE))
		abort();
	if (k == TR_MSG_BAD && (!m->why || !*m->why || !strcmp(tr_bad_name(m->bad), "unknown")))
		abort();
	if (!memchr(m->symbol, 0, sizeof m->symbol) || !memchr(m->stream, 0, sizeof m->stream) ||
	    !memchr(m->venue, 0, sizeof m->venue))
		abort();
	if (k == TR_MSG_TRADE || k == TR_MSG_AGGTRADE) {
		const struct tr_msg_trade *t = &m->u.trade;

		if (t->price <= 0 || t->qty <= 0 || !m->symbol[0] || t->first_id > t->last_id ||
		    t->ts_trade < 0 || t->ts_event < 0 || t->side > 2 || t->nonmarket > 1)
			abort();
	}
	if (k == TR_MSG_QUOTE) {
		const struct tr_msg_quote *q = &m->u.quote;

		if (q->bid_px < 0 || q->bid_qty < 0 || q->ask_px < 0 || q->ask_qty < 0 ||
		    (q->bid_px == 0 && q->bid_qty != 0) || (q->ask_px == 0 && q->ask_qty != 0) ||
		    !m->symbol[0] || q->ts_event < 0)
			abort();
	}
}

/* Both results byte for byte: each path starts from a zeroed struct. */
static void tr_fuzz_same(const struct tr_msg *a, const struct tr_msg *b)
{
	if (a->kind != b->kind || a->bad != b->bad || !a->why != !b->why ||
	    (a->why && strcmp(a->why, b->why)))
		abort();
	if (memcmp(a->symbol, b->symbol, sizeof a->symbol) ||
	    memcmp(a->stream, b->stream, sizeof a->stream) ||
	    memcmp(a->venue, b->venue, sizeof a->venue) || memcmp(&a->u, &b->u, sizeof a->u))
		abort();
}

static struct tr_parser *tr_fuzz_parser;
static unsigned long tr_fuzz_frames, tr_fuzz_fast, tr_fuzz_shapes;

static void tr_fuzz_report(void)
{
	fprintf(stderr,
		"fuzz-parse: the fast path took %lu of %lu Binance frames (%lu in a known member "
		"order)\n",
		tr_fuzz_fast, tr_fuzz_frames, tr_fuzz_shapes);
}

/* The fast path, or one of its collectors (fk its answer): the general
 * path's struct when it takes the frame, *f untouched when it declines. */
static void tr_fuzz_fast_same(int fk, enum tr_msg_kind k, struct tr_msg *f, const struct tr_msg *g)
{
	if (fk >= 0) {
		if (fk != (int)k)
			abort();
		tr_fuzz_same(f, g);
		return;
	}
	for (size_t i = 0; i < sizeof *f; i++)
		if (((unsigned char *)f)[i] != 0xa5)
			abort();
}

static void tr_fuzz_frame(const char *data, size_t size, int gateway)
{
	char *buf = (char *)malloc(size + TR_PARSE_PADDING);
	struct tr_msg m, g, f;

	if (!buf)
		abort();
	memcpy(buf, data, size);
	memset(buf + size, 0, TR_PARSE_PADDING);
	enum tr_msg_kind k = tr_parse_binance(tr_fuzz_parser, buf, size, &m);

	tr_fuzz_check(k, &m);
	tr_fuzz_check(tr_parse_binance_simdjson(tr_fuzz_parser, buf, size, &g), &g);
	tr_fuzz_same(&m, &g);
	memset(&f, 0xa5, sizeof f); /* a declined frame must leave it alone */
	int fk = tr_parse_binance_fast(buf, size, &f);

	tr_fuzz_fast_same(fk, k, &f, &g);
	memset(&f, 0xa5, sizeof f);
	int sk = tr_parse_binance_fast_with(buf, size, &f, TR_FAST_SHAPES);

	tr_fuzz_fast_same(sk, k, &f, &g);
	memset(&f, 0xa5, sizeof f);
	int wk = tr_parse_binance_fast_with(buf, size, &f, TR_FAST_WALK);

	tr_fuzz_fast_same(wk, k, &f, &g);
	/* the fast path takes what either collector takes; the shapes are orders the
	 * walk takes too */
	if ((fk >= 0) != (sk >= 0 || wk >= 0) || (sk >= 0 && wk < 0))
		abort();
	tr_fuzz_frames++;
	tr_fuzz_fast += fk >= 0;
	tr_fuzz_shapes += sk >= 0;
	if (gateway)
		tr_fuzz_check(tr_parse_gateway(tr_fuzz_parser, buf, size, &m), &m);
	free(buf);
}

/* Real frames with one hole ("@@") for the input. */
static const char *const tr_fuzz_templates[] = {
    "{\"e\":\"trade\",\"E\":1723161255343,\"s\":\"BTCUSDT\",\"t\":3735683259,\"p\":\"@@\",\"q\":"
    "\"0.02000000\",\"T\":1723161255342,\"m\":true,\"M\":true}",
    "{\"e\":\"trade\",\"E\":1723161255343,\"s\":\"BTCUSDT\",\"t\":@@,\"p\":\"61837.63000000\","
    "\"q\":\"0.02000000\",\"T\":1723161255342,\"m\":true,\"M\":true}",
    "{\"stream\":\"btcusdt@trade\",\"data\":{\"e\":\"trade\",\"E\":1723161255343,\"s\":"
    "\"BTCUSDT\",\"t\":3735683259,\"p\":\"61837.63000000\",\"q\":\"0.02000000\",\"T\":"
    "1723161255342,\"m\":true,@@}}",
    "{\"stream\":\"@@\",\"data\":{\"e\":\"trade\",\"E\":1723161255343,\"s\":\"BTCUSDT\",\"t\":"
    "3735683259,\"p\":\"61837.63000000\",\"q\":\"0.02000000\",\"T\":1723161255342,\"m\":true,"
    "\"M\":true}}",
    "{\"stream\":\"btcusdt@bookTicker\",\"data\":{\"u\":50093239212,\"s\":\"BTCUSDT\",\"b\":"
    "\"@@\",\"B\":\"3.78826000\",\"a\":\"61837.64000000\",\"A\":\"1.54698000\"}}",
    "{\"stream\":\"btcusdt@bookTicker\",\"data\":{@@}}",
    "{\"e\":\"trade\",\"E\":1680652700455,\"T\":1680652700452,\"s\":\"@@\",\"t\":3535186032,"
    "\"p\":\"28145.10\",\"q\":\"0.002\",\"X\":\"INSURANCE_FUND\",\"m\":false}",
    "{\"e\":\"aggTrade\",\"E\":1626992741575,\"a\":16599292,\"s\":\"CTKUSDT\",\"p\":\"1.01100\","
    "\"q\":\"10\",\"f\":@@,\"l\":23961325,\"T\":1626992741421,\"m\":false}",
    "{\"e\":\"bookTicker\",\"u\":5123107839020,\"s\":\"BTCUSDT\",\"b\":\"61800.20\",\"B\":"
    "\"2.507\",\"a\":\"61800.30\",\"A\":\"2.510\",\"T\":1723161256313,\"E\":@@}",
    "{@@,\"u\":50093239212,\"s\":\"BTCUSDT\",\"b\":\"1\",\"B\":\"2\",\"a\":\"3\",\"A\":\"4\"}",
    "{\"e\":\"aggTrade\",\"E\":1633998512068,\"s\":\"NKNUSDT\",\"a\":24161396,\"p\":"
    "\"0.35240000\",\"q\":\"@@\",\"f\":27573537,\"l\":27573537,\"T\":1633998512067,\"m\":"
    "true,\"M\":true}",
    "{\"stream\":\"btcusdt@trade\",\"data\":{\"e\":\"trade\",\"E\":1680652700455,\"s\":"
    "\"BTCUSDT\",\"t\":3069733357,\"p\":\"28145.10000000\",\"q\":\"0.00100000\",\"b\":"
    "20310466148,\"a\":@@,\"T\":1680652700454,\"m\":true,\"M\":true}}",
    "{\"e\":\"trade\",\"E\":1723161255343,\"s\":\"BTCUSDT\",\"t\":3735683259,\"p\":"
    "\"61837.63000000\",\"q\":\"0.02000000\",\"T\":1723161255342,\"m\":@@,\"M\":true}",
    "{\"stream\":\"btcusdt@bookTicker\",\"data\":{\"e\":\"bookTicker\",\"u\":5123107839020,"
    "\"s\":\"BTCUSDT\",\"b\":\"61800.20\",\"B\":\"2.507\",\"a\":\"61800.30\",\"A\":\"@@\","
    "\"T\":1723161256313,\"E\":1723161256317}}",
    "{\"result\":@@,\"id\":1}",
    "{\"@@\":1,\"e\":\"trade\",\"E\":1,\"s\":\"X\",\"t\":1,\"p\":\"1\",\"q\":\"1\",\"T\":1,\"m\":"
    "false}",
};

/* What JSON and Binance frames are made of, plus a few bytes the fast path
 * must decline (space, DEL, a control character, non-ASCII). */
static const char tr_fuzz_alphabet[] = "0123456789.-+eE\"\\,:{}[] truefalsn@TXMAB\x7f\x1f\xc3\xa9";

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const size_t nt = sizeof tr_fuzz_templates / sizeof tr_fuzz_templates[0];

	if (!tr_fuzz_parser) {
		if (!(tr_fuzz_parser = tr_parser_new()))
			abort();
		atexit(tr_fuzz_report);
	}
	tr_fuzz_frame((const char *)data, size, 1);
	if (size == 0 || data[0] % 2 != 0)
		return 0; /* half the inputs also fill a template */
	const char *t = tr_fuzz_templates[(data[0] / 4) % nt];
	const char *hole = strstr(t, "@@");
	size_t pre = (size_t)(hole - t), post = strlen(hole + 2), n = size - 1;
	char *f = (char *)malloc(pre + n + post);

	if (!f)
		abort();
	memcpy(f, t, pre);
	memcpy(f + pre, data + 1, n);
	if (data[0] & 2) /* the input as indices into the alphabet */
		for (size_t i = 0; i < n; i++)
			f[pre + i] = tr_fuzz_alphabet[data[1 + i] % (sizeof tr_fuzz_alphabet - 1)];
	memcpy(f + pre + n, hole + 2, post);
	tr_fuzz_frame(f, pre + n + post, 0);
	free(f);
	return 0;
}
