/* tail_trades.c - the smallest useful tickring reader: print every trade.
 *
 * Copy this to start a client. Build: cc tail_trades.c $(pkg-config --cflags
 * --libs tickring). Run: ./tail_trades [instance]   (try it with tr-synth).
 */
#include <stdio.h>
#include <tr_fixed.h>  /* exact decimal text <-> int64 at 1e-8 */
#include <tr_reader.h> /* regions, cursors, tr_wait */

int main(int argc, char **argv)
{
	struct tr_region *r;
	struct tr_cursor c;
	struct tr_trade t; /* records are copied out: ours to keep */
	char px[TR_FIXED_BUFSZ], qty[TR_FIXED_BUFSZ];

	/* NULL means $TICKRING_INSTANCE or "default". Fails with a reason if
	 * there is no region or its engine is not running. */
	if (tr_region_open(&r, argc > 1 ? argv[1] : NULL, 0) < 0) {
		fprintf(stderr, "tail_trades: %s\n", tr_errmsg());
		return 1;
	}
	/* Join at the tail: the next trade published is the first we get. */
	tr_cursor_init(&c, r, TR_KIND_TRADE, TR_JOIN_TAIL, 0);

	for (;;) {
		/* Spin briefly, then sleep on the ring's futex; wake within 1 s
		 * even if nothing comes (a place to check for shutdown). */
		switch (tr_wait(&c, &t, TR_WAIT_FUTEX, 1000000000)) {
		case TR_POLL_RECORD: {
			struct tr_symbol s;

			/* Prices are int64 mantissas: format, never use double. */
			tr_fixed_format(t.price, px);
			tr_fixed_format(t.qty, qty);
			if (tr_symbol_get(r, t.symbol_id, &s) < 0)
				snprintf(s.name, sizeof s.name, "#%u", t.symbol_id);
			printf("%s %s x %s id=%llu\n", s.name, px, qty,
			       (unsigned long long)t.trade_id);
			break;
		}
		case TR_POLL_LAPPED:
			/* We were too slow and the ring overwrote c.last_gap
			 * trades (the count is exact). The latest table still
			 * holds each symbol's last trade: resync from it. */
			fprintf(stderr, "lapped: lost %llu trades\n",
				(unsigned long long)c.last_gap);
			for (uint32_t id = 0; id < tr_symbol_count(r); id++)
				if (tr_latest_trade(r, id, &t) == 0) {
					tr_fixed_format(t.price, px);
					fprintf(stderr, "  symbol %u last %s\n", id, px);
				}
			break;
		case TR_POLL_EPOCH:
			/* The engine restarted; the cursor carries on. */
			fprintf(stderr, "engine restarted\n");
			break;
		default: /* TR_POLL_EMPTY: timed out, nothing new */
			if (tr_region_liveness(r, 0) < 0)
				fprintf(stderr, "engine down: %s\n", tr_errmsg());
			break;
		}
		fflush(stdout);
	}
}
