/* fuzz_parse.cpp - libFuzzer target for both venue extractors.
 *
 * Each input is copied into an exactly sized heap buffer plus TR_PARSE_PADDING bytes, so
 * ASan catches any read past the padding, then parsed as a Binance frame and as a gateway
 * line. The invariants are the extractors' contract: a valid kind, `bad` set exactly when
 * the kind is TR_MSG_BAD with a non-empty reason, positive price and quantity on trades,
 * non-negative quote sides, and NUL-terminated names. tests/fuzz/README.md says how to run.
 */
#include <stdint.h>
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

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tr_parser *p = tr_parser_new();
	char *buf = (char *)malloc(size + TR_PARSE_PADDING);
	struct tr_msg m;

	if (!buf || !p)
		abort();
	memcpy(buf, data, size);
	memset(buf + size, 0, TR_PARSE_PADDING);
	tr_fuzz_check(tr_parse_binance(p, buf, size, &m), &m);
	tr_fuzz_check(tr_parse_gateway(p, buf, size, &m), &m);
	free(buf);
	return 0;
}
