/* tr_writer.h - the engine side of the shared-memory region.
 *
 * Exactly one writer per instance (an flock on the .ctl file enforces it).
 * All functions run on the engine thread, except tr_writer_heartbeat(),
 * which stores one atomic word and may be called from a timer thread. Each
 * superblock counter has one writing thread (tr_writer_counter_add() is a
 * load and a store, not a read-modify-write). Nothing here blocks on a reader: a slow reader is
 * lapped and learns so from the sequence numbers.
 */
#ifndef TR_WRITER_H
#define TR_WRITER_H

#include "tr_abi.h"
#include "tr_atomic.h"
#include "tr_layout.h"

#include <stdbool.h>

struct tr_writer_config {
	const char *dir;      /* NULL: $TICKRING_DIR or /dev/shm */
	const char *instance; /* NULL: "default"; [A-Za-z0-9_.-]{1,31} */
	struct tr_geometry geometry;
	unsigned mode;	   /* region file mode; 0: 0640 */
	unsigned ctl_mode; /* reader-control file mode; 0: 0660 */
};

struct tr_wring {
	struct tr_ring_hdr *hdr;
	uint8_t *slots;
	uint64_t mask;
	uint32_t slot_size;
	uint64_t next;	    /* seq of the next publish */
	uint64_t committed; /* head at the last tr_writer_commit() */
};

struct tr_writer {
	uint8_t *base;
	uint64_t size;
	struct tr_superblock *sb;
	struct tr_ctl *ctl;
	int fd, ctl_fd;
	bool reopened; /* the region existed with this geometry and was kept */
	struct tr_wring rings[TR_NKINDS];
	char path[256];
	char ctl_path[264];
};

/* Fill cfg with defaults (tr_geometry_default, /dev/shm, "default"). */
void tr_writer_config_default(struct tr_writer_config *cfg);

/* Create or reopen the region and take the instance. A region with the same
 * geometry is reopened in place (rings, symbols and latest values kept, ring
 * sequences continue); a different one is marked stopped, unlinked and made
 * anew (readers of the old file see it stop). Checks free space before
 * growing, prefaults every page, bumps the epoch and sets state running.
 * Returns 0 with *out set, or -errno / -TR_E* with tr_errmsg(). */
int tr_writer_open(struct tr_writer **out, const struct tr_writer_config *cfg);

/* Mark the region stopped, unmap, release the instance. Files stay, so a
 * restart reopens them and readers keep their mapping. */
void tr_writer_close(struct tr_writer *w);

/* Remove the region and control files of an instance (tests, `--unlink`). */
int tr_writer_unlink(const char *dir, const char *instance);

/* Continue ring kind at sequence next (from the journal). If next is not
 * above the current head, every slot is cleared first so no reader mistakes
 * an old record for a newer one. */
void tr_writer_set_next(struct tr_writer *w, unsigned kind, uint64_t next);

/* Publish one record of ring kind (64 or 128 bytes, 8-aligned). Sets rec's
 * seq and returns it. Readers spinning on the slot see it at once; blocked
 * readers are woken by the next tr_writer_commit(). */
static inline uint64_t tr_writer_publish(struct tr_writer *w, unsigned kind, void *rec)
{
	struct tr_wring *r = &w->rings[kind];
	uint64_t s = r->next++;
	uint64_t *slot = (uint64_t *)(r->slots + (s & r->mask) * r->slot_size);

	/* Busy mark: a reader that loads 0 treats the slot as not yet written;
	 * pairs with the reader's re-check load of seq after its copy. */
	tr_store_relaxed(&slot[0], 0);
	/* Orders the busy mark before the payload stores; pairs with the
	 * reader's acquire fence between its copy and its re-check. */
	tr_fence_release();
	/* The record size by kind (= slot_size, checked by the layout): a
	 * constant where kind is, so the copy is unrolled. */
	if (tr_kind_size(kind) == 128)
		tr_copy_to_shared(slot + 1, (const uint64_t *)rec + 1, 120);
	else
		tr_copy_to_shared(slot + 1, (const uint64_t *)rec + 1, 56);
	/* Publishes the payload; pairs with the reader's acquire load of seq. */
	tr_store_release(&slot[0], s);
	/* Pairs with the acquire loads of head in reader join, lap and wait. */
	tr_store_release(&r->hdr->head, s);
	*(uint64_t *)rec = s;
	return s;
}

/* Wake readers blocked in futex wait on any ring published to since the last
 * commit. Costs one fence and one load per such ring, plus a syscall only
 * when a reader has registered as waiting. */
void tr_writer_commit(struct tr_writer *w);

/* Register a venue or a symbol; returns its id (the existing id if already
 * registered, so ids stay stable across restarts), or -ENOSPC / -EINVAL. */
int tr_writer_venue(struct tr_writer *w, const char *name);
int tr_writer_symbol(struct tr_writer *w, unsigned venue_id, const char *name);
void tr_writer_symbol_status(struct tr_writer *w, unsigned symbol_id, unsigned status);

/* Latest table update for one symbol: begin, write parts with
 * tr_latest_put() (and ts_update if wanted), end. Readers retry while an update is in progress. */
struct tr_latest *tr_latest_begin(struct tr_writer *w, unsigned symbol_id);
void tr_latest_end(struct tr_latest *l);

/* Copy len bytes (multiple of 8) into a part of an entry between begin and
 * end, e.g. tr_latest_put(l, &l->trade, &t, sizeof t). */
static inline void tr_latest_put(struct tr_latest *l, void *dst, const void *src, size_t len)
{
	(void)l;
	tr_copy_to_shared(dst, src, len);
}

/* Set the valid bits of an entry (between begin and end). */
static inline void tr_latest_mark(struct tr_latest *l, uint32_t bits)
{
	tr_store_relaxed(&l->valid,
			 tr_load_relaxed(&l->valid) | bits); /* published by tr_latest_end */
}

/* Movers table update: begin, write it (tr_latest_put() works on any part),
 * end. Same seqlock protocol as a latest entry. */
struct tr_movers *tr_movers_begin(struct tr_writer *w);
void tr_movers_end(struct tr_movers *m);

/* Stamp the heartbeat with CLOCK_REALTIME now; call at >= 10 Hz. */
void tr_writer_heartbeat(struct tr_writer *w);

/* Superblock counters (single writer: plain relaxed load and store). */
static inline void tr_writer_counter_add(struct tr_writer *w, unsigned idx, uint64_t n)
{
	uint64_t *c = &w->sb->counters[idx];

	tr_store_relaxed(c, tr_load_relaxed(c) + n); /* read by `stat` with relaxed loads */
}

/* Current time, ns, CLOCK_REALTIME. */
int64_t tr_now_ns(void);

#endif
