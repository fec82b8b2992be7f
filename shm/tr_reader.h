/* tr_reader.h - libtickring: read the engine's shared-memory region.
 *
 * A reader maps the region read-only (it cannot corrupt it) and follows any
 * ring with a cursor. Threading: a tr_region may be shared by threads; a
 * tr_cursor belongs to one thread. Functions return 0 or a count on success,
 * negative errno or -TR_E* (tr_err.h) on failure, with the reason in
 * tr_errmsg().
 *
 *   struct tr_region *r;
 *   struct tr_cursor c;
 *   struct tr_trade t;
 *   if (tr_region_open(&r, "default", 0) < 0) die(tr_errmsg());
 *   tr_cursor_init(&c, r, TR_KIND_TRADE, TR_JOIN_TAIL, 0);
 *   for (;;)
 *           switch (tr_wait(&c, &t, TR_WAIT_FUTEX, 1000000000)) {
 *           case TR_POLL_RECORD: use(&t); break;
 *           case TR_POLL_LAPPED: lost(c.last_gap); resync_from_latest(); break;
 *           case TR_POLL_EPOCH:  engine_restarted(); break;
 *           }
 */
#ifndef TR_READER_H
#define TR_READER_H

#include "tr_abi.h"
#include "tr_err.h"

#include <stddef.h>
#include <stdint.h>

struct tr_region;

/* tr_region_open() flags */
#define TR_OPEN_ANY_STATE 1u /* open even if the engine is stopped or dead (inspection) */
#define TR_OPEN_NO_CTL 2u    /* do not map the reader-control file */

/* Default age after which a running engine's heartbeat counts as stale. */
#define TR_STALE_NS 3000000000ll

/* Open a region: name is an instance ("default"), or a path if it contains
 * '/'; NULL means $TICKRING_INSTANCE or "default". Instances live in
 * $TICKRING_DIR or /dev/shm. Validates magic, ABI version, layout hash and
 * geometry, and (unless TR_OPEN_ANY_STATE) that the engine is alive. */
int tr_region_open(struct tr_region **out, const char *name, unsigned flags);

/* Attach to a region already mapped in this process (base, size), and
 * optionally its control file. For embedding and for thread-sanitizer tests,
 * where reader and writer must share one mapping. */
int tr_region_attach(struct tr_region **out, const void *base, uint64_t size, void *ctl,
		     unsigned flags);

void tr_region_close(struct tr_region *r);

const struct tr_superblock *tr_region_superblock(const struct tr_region *r);

/* 1 if the file at the region's path is no longer the one mapped (the engine
 * made a new one: reopen), 0 if it is. */
int tr_region_replaced(const struct tr_region *r);
const char *tr_region_path(const struct tr_region *r);

/* Engine liveness: 0 if running with a fresh heartbeat (younger than
 * stale_ns; 0 means TR_STALE_NS), else -TR_ESTOPPED, -TR_EDEAD (pid gone),
 * -TR_ESTALE or -TR_EINIT, with a message. */
int tr_region_liveness(const struct tr_region *r, int64_t stale_ns);

uint64_t tr_region_epoch(const struct tr_region *r);
uint64_t tr_region_head(const struct tr_region *r, unsigned kind); /* last published seq */
uint64_t tr_region_counter(const struct tr_region *r, unsigned index);
/* Lap statistics readers reported in the control file (0 without it). */
void tr_region_laps(const struct tr_region *r, unsigned kind, uint64_t *events, uint64_t *records);

/* Symbols and venues. Ids are stable for the life of the region file. */
uint32_t tr_symbol_count(const struct tr_region *r);
int tr_symbol_get(const struct tr_region *r, uint32_t id, struct tr_symbol *out);
/* Find a symbol by name (case-insensitive) and optional venue name; returns
 * its id or -ENOENT. */
int tr_symbol_find(const struct tr_region *r, const char *venue, const char *name);
uint32_t tr_venue_count(const struct tr_region *r);
const char *tr_venue_name(const struct tr_region *r, uint32_t id); /* "?" if unknown */

/* Latest values of a symbol, consistent under its seqlock. Return 0, -ENOENT
 * (no such symbol), -ENODATA (nothing yet), or -EAGAIN (the writer died
 * mid-update). */
int tr_latest_trade(const struct tr_region *r, uint32_t sym, struct tr_trade *out);
int tr_latest_quote(const struct tr_region *r, uint32_t sym, struct tr_quote *out);
int tr_latest_stats(const struct tr_region *r, uint32_t sym, struct tr_stats24h *out);
int tr_latest_candle(const struct tr_region *r, uint32_t sym, unsigned interval_index,
		     struct tr_candle *out);
/* Analytics of a symbol: 1 h change, outlier reference, stale flag. */
int tr_latest_analytics(const struct tr_region *r, uint32_t sym, struct tr_sym_analytics *out);
/* Indicators of a symbol for latest-table interval slot i, after its latest
 * closed candle; -ENODATA before the first close. Check out->valid per value. */
int tr_latest_indicators(const struct tr_region *r, uint32_t sym, unsigned interval_index,
			 struct tr_indicators *out);
/* The movers table (four ranked lists), consistent under its seqlock; 0,
 * -ENODATA (never ranked yet) or -EAGAIN. */
int tr_movers(const struct tr_region *r, struct tr_movers *out);

/* Index of an interval (seconds) in the latest table, or -ENOENT. */
int tr_interval_index(const struct tr_region *r, uint32_t interval_s);

/* Where a new cursor starts. */
enum tr_join {
	TR_JOIN_TAIL = 0,   /* the next record published */
	TR_JOIN_OLDEST = 1, /* the oldest record still in the ring */
	TR_JOIN_SEQ = 2	    /* a given sequence number */
};

/* Where a lapped cursor resumes. Either way the loss is exact. */
enum tr_lap_policy {
	TR_LAP_OLDEST = 0, /* oldest record still there, plus 1/8 ring of slack */
	TR_LAP_TAIL = 1	   /* the newest: skip to now */
};

/* Poll and wait results. */
enum tr_poll_result {
	TR_POLL_EMPTY = 0,  /* nothing new (or wait timed out) */
	TR_POLL_RECORD = 1, /* a record was copied out, cursor advanced */
	TR_POLL_LAPPED = 2, /* records were overwritten unread: last_gap of them;
			     * cursor moved past them, nothing copied */
	TR_POLL_EPOCH = 3   /* the engine restarted (new epoch); nothing copied */
};

struct tr_cursor {
	/* read-only for the user */
	uint64_t next;		 /* seq the next poll returns */
	uint64_t epoch;		 /* epoch last seen */
	uint64_t delivered;	 /* records returned */
	uint64_t lapped_records; /* records lost to laps, total, exact */
	uint64_t lap_events;
	uint64_t last_gap; /* records lost in the latest lap */
	unsigned kind;
	unsigned lap_policy; /* enum tr_lap_policy; may be set after init */
	/* private */
	const struct tr_region *region;
	const uint8_t *slots;
	const uint64_t *head;
	uint64_t mask;
	uint32_t slot_size;
	uint32_t idle;
};

/* Start a cursor on ring kind. seq is used with TR_JOIN_SEQ only. */
int tr_cursor_init(struct tr_cursor *c, const struct tr_region *r, unsigned kind, enum tr_join join,
		   uint64_t seq);

/* Non-blocking: copy the next record into out (64 or 128 bytes, 8-aligned,
 * tr_kind_size(kind)). Returns enum tr_poll_result. */
int tr_poll(struct tr_cursor *c, void *out);

enum tr_wait_mode {
	TR_WAIT_SPIN = 0,  /* busy poll: lowest latency, burns a core */
	TR_WAIT_YIELD = 1, /* spin a while, then sched_yield between polls */
	TR_WAIT_FUTEX = 2  /* spin a while, then sleep on the ring's futex */
};

/* Blocking poll, up to timeout_ns (< 0: forever). Returns as tr_poll();
 * TR_POLL_EMPTY on timeout or when a signal interrupts a sleep. Futex waits need the control file;
 * without it the reader sleeps 50 us between polls instead. */
int tr_wait(struct tr_cursor *c, void *out, enum tr_wait_mode mode, int64_t timeout_ns);

#endif
