/* tr_feed.h - a venue's WebSocket feed: libwebsockets client connections.
 *
 * One tr_feed per configured `feed VENUE URL`. It subscribes the configured
 * symbols' streams (combined streams, /stream?streams=a/b/c, the rest by
 * SUBSCRIBE messages), reassembles fragmented messages into a padded buffer
 * for the parser, and keeps the connection healthy: answers pings (lws),
 * sends its own, reconnects with capped exponential backoff and jitter,
 * treats a silent connection as dead, and before the venue's 24 h cut opens
 * a second connection, overlaps the two and closes the old one, while the
 * engine drops the duplicates by trade id. It respects Binance's limits: at
 * most 5 messages a second from us, 1024 streams per connection, 300
 * connection attempts per 5 minutes.
 *
 * Runs on the engine thread inside the lws loop.
 */
#ifndef TR_FEED_H
#define TR_FEED_H

#include <libwebsockets.h>

#include "tr_config.h"
#include "tr_engine.h"

struct tr_feed;

/* The lws protocol entry the context must list (name "tr-feed"). */
extern const struct lws_protocols tr_feed_protocol;

/* Start feed number idx of cfg on context ctx; frames go to e. */
int tr_feed_start(struct tr_feed **out, struct lws_context *ctx, struct tr_engine *e,
		  const struct tr_config *cfg, unsigned idx);

/* Change the symbol set at runtime (SIGHUP): SUBSCRIBE what is new,
 * UNSUBSCRIBE what is gone, rate-limited. */
int tr_feed_resubscribe(struct tr_feed *f, const struct tr_config *cfg);

/* Close connections (no reconnect). */
void tr_feed_stop(struct tr_feed *f);
void tr_feed_free(struct tr_feed *f);

/* Frames and connections so far, for logs and tests. */
struct tr_feed_stats {
	uint64_t frames, connects, disconnects, stale_closes, rollovers, oversize;
};
void tr_feed_stats(const struct tr_feed *f, struct tr_feed_stats *out);

#endif
