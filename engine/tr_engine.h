/* tr_engine.h - the engine core: frames in, records out.
 *
 * tr_engine owns the region writer and the per-symbol state, and turns each
 * parsed frame into records: dedupe by trade id (the overlap of an old and a
 * new connection, or a replayed rewind, delivers some trades twice), gap
 * detection with a gap event, bad input counted by reason and written to the
 * dead-letter file, then publish to the ring, the latest table and the
 * journal, and hand every trade to the analytics (tr_analytics_engine.h:
 * candles, statistics, indicators, events; off with `analytics no`). It
 * knows nothing of sockets: the feed (tr_feed), the replay driver and the
 * gateway hand it frames, and the loop calls tr_engine_commit() once per
 * batch (it also refreshes the latest table's analytics, see there).
 *
 * Single-threaded: everything runs on the engine thread.
 */
#ifndef TR_ENGINE_H
#define TR_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "tr_config.h"
#include "tr_uring.h"

struct tr_engine;
struct tr_writer;

/* Where a frame came from: decides how unknown symbols are treated. */
enum tr_source {
	TR_SRC_FEED = 0,   /* a subscribed exchange feed: unknown symbols are bad input */
	TR_SRC_REPLAY = 1, /* a capture file: symbols are registered as they appear */
	TR_SRC_GATEWAY = 2 /* the user's NDJSON: venues and symbols registered as they appear */
};

/* Open the region (and journal, capture, dead-letter file) for cfg; u is the
 * engine's io_uring. Continues every ring's sequence after the larger of the
 * region's head and the journal's last record, and bumps the epoch. */
int tr_engine_open(struct tr_engine **out, const struct tr_config *cfg, struct tr_uring *u);

/* Publish what is still open (current candles as finals) and commit: the
 * last records of a run, so the mirrors can be drained after it. No frame
 * may follow. tr_engine_close() calls it if it was not called. */
void tr_engine_finish(struct tr_engine *e);

/* Stop: finish, flush journal and capture, mark the region stopped. */
void tr_engine_close(struct tr_engine *e);

/* Handle one exchange frame of venue_id (tr_engine_venue) received at
 * ts_recv (ns). buf must have TR_PARSE_PADDING bytes allocated past len.
 * Returns the number of records published (0 for replies, ignored frames
 * and rejected ones, which are counted and dead-lettered). */
int tr_engine_frame(struct tr_engine *e, unsigned venue_id, enum tr_source src, int64_t ts_recv,
		    const char *buf, size_t len);

/* Handle one gateway NDJSON line (same buffer rule). */
int tr_engine_gateway_line(struct tr_engine *e, int64_t ts_recv, const char *buf, size_t len);

/* A status event (feed up/down, ...): text is copied, truncated to 87. */
void tr_engine_event_text(struct tr_engine *e, unsigned type, unsigned severity, unsigned venue_id,
			  const char *text);

/* Wake blocked readers and hand buffered journal/capture data to io_uring.
 * Call once per batch of frames. */
void tr_engine_commit(struct tr_engine *e);

/* Periodic work (>= 10 Hz): heartbeat; candle closes, stale symbols,
 * latest-table refreshes and movers (tr_ae_tick). */
void tr_engine_tick(struct tr_engine *e);

/* Venue id by name, registering it. */
int tr_engine_venue(struct tr_engine *e, const char *name);

/* Mark a feed's stream interrupted (reconnect): the next trade of each of
 * its symbols is not a gap unless ids are really missing, but candles and
 * consumers get to know (issue 4 uses it for the candle gap flag). */
void tr_engine_feed_reset(struct tr_engine *e, unsigned venue_id);

struct tr_writer *tr_engine_writer(struct tr_engine *e);

/* Register a symbol of a venue so that its frames are accepted (SIGHUP adds
 * the new symbols of the config before subscribing them). Id or -errno. */
int tr_engine_symbol(struct tr_engine *e, unsigned venue_id, const char *name);

/* Record a raw frame in the capture file, if capturing. */
void tr_engine_capture(struct tr_engine *e, int64_t ts_recv, const char *buf, size_t len);

#endif
