/* tr_msrc.h - a mirror's source: every record of one ring, in seq order,
 * from the ring while it still holds them and from the journal otherwise;
 * and the checkpoint that says where to resume.
 *
 * The source delivers seq after_seq + 1, after_seq + 2, ... without holes
 * except for records that exist nowhere any more (lapped in the ring and
 * absent from the journal: retention, a failed journal write, no journal
 * configured); those are skipped and counted in `lost`, never silently.
 *
 *   ring:     a tr_cursor joined at the wanted seq. When it reports a lap,
 *             the lapped range is read back from the journal, then the
 *             cursor's records follow.
 *   journal:  tr_journal_read() of the wanted seq. A record the engine has
 *             published but whose journal write has not completed yet reads
 *             as absent: the source waits for it up to `journal_grace_ns`
 *             (default 2 s) before calling it lost.
 *   region:   opened lazily (the mirror may start before the engine), with
 *             TR_OPEN_ANY_STATE (a dead engine's region still holds records);
 *             reopened when the engine replaces the file. An engine restart
 *             (new epoch) continues the sequence, so nothing changes for the
 *             source; if the new engine went back in sequence (its journal
 *             was deleted) the source follows it and counts `rewinds`.
 *
 * The epoch handed out with a record is the region's epoch for records of
 * the current epoch (seq >= the ring's base_seq) and 0 for older records
 * read back from the journal: the journal does not keep epochs.
 *
 * Threading: a source belongs to one thread.
 */
#ifndef TR_MSRC_H
#define TR_MSRC_H

#include <stdint.h>

#include "tr_abi.h"

/* after_seq meaning "only records published from now on". */
#define TR_MSRC_TAIL UINT64_MAX

struct tr_msrc_config {
	const char *instance;	  /* region instance name or path */
	const char *journal_dir;  /* NULL or "": none */
	unsigned kind;		  /* enum tr_kind */
	uint64_t after_seq;	  /* last seq already delivered (checkpoint), 0: from the first
				     record still available, TR_MSRC_TAIL: from now */
	int64_t journal_grace_ns; /* 0: 2 s */
};

struct tr_msrc_stats {
	uint64_t delivered;    /* records returned */
	uint64_t from_journal; /* of which from the journal */
	uint64_t lost;	       /* seqs skipped: nowhere to be found */
	uint64_t laps;	       /* times the ring lapped us */
	uint64_t rewinds;      /* the engine went back in sequence */
	uint64_t reopens;      /* region (re)opened */
};

/* One record handed out. */
struct tr_msrc_info {
	uint64_t seq;
	uint64_t epoch; /* 0: unknown (read back from the journal) */
	int from_journal;
	uint64_t lost_before; /* seqs skipped just before this one */
};

struct tr_msrc;
struct tr_region;

/* Never fails for a missing region (it is opened on demand); 0, -EINVAL or
 * -ENOMEM. */
int tr_msrc_open(struct tr_msrc **out, const struct tr_msrc_config *cfg);
void tr_msrc_close(struct tr_msrc *s);

/* The next record into rec (tr_kind_size(kind) bytes, 8-aligned). Returns
 * 1 and fills info, or 0 when there is nothing yet (wait up to timeout_ns,
 * < 0 forever, 0 not at all; a futex wait on the ring when the region is
 * open, else a short sleep). Negative errno only for bugs (bad arguments). */
int tr_msrc_next(struct tr_msrc *s, void *rec, struct tr_msrc_info *info, int64_t timeout_ns);

/* Seq of the next record to be returned (after_seq + 1 at first; after
 * TR_MSRC_TAIL, known once the region is open, else 0). */
uint64_t tr_msrc_position(const struct tr_msrc *s);

/* The open region (for symbol and venue names), or NULL while there is
 * none. Valid until the next tr_msrc_next(). */
const struct tr_region *tr_msrc_region(const struct tr_msrc *s);

const struct tr_msrc_stats *tr_msrc_stats(const struct tr_msrc *s);

/* ---- Delivery window: which seqs are acknowledged. ----
 * Sends complete out of order (Kafka acknowledges per partition). The window
 * tracks seqs handed out but not yet acknowledged and yields the watermark:
 * the highest seq with every seq at or below it acknowledged, which is what
 * a checkpoint may store. Capacity bounds the seqs in flight: when full,
 * the mirror must stop reading until acknowledgements arrive. */
struct tr_ackwin;

/* Window for up to `capacity` (rounded up to a power of two) seqs in flight,
 * starting after `after_seq` (the watermark). 0 or -ENOMEM. */
int tr_ackwin_create(struct tr_ackwin **out, uint64_t capacity, uint64_t after_seq);
void tr_ackwin_free(struct tr_ackwin *w);

/* seq is about to be sent. Seqs must be added in increasing order; a jump
 * (lost records) counts the skipped seqs as acknowledged. 0, or -ENOSPC
 * when the window is full (seq - watermark > capacity). */
int tr_ackwin_add(struct tr_ackwin *w, uint64_t seq);

/* seq was acknowledged (a repeat is harmless). Returns the watermark. */
uint64_t tr_ackwin_ack(struct tr_ackwin *w, uint64_t seq);

uint64_t tr_ackwin_watermark(const struct tr_ackwin *w);
uint64_t tr_ackwin_in_flight(const struct tr_ackwin *w);

/* ---- Checkpoint file: the watermark of each kind, on disk. ----
 * A small text file, one `<kind-name> <seq>` line per ring, replaced
 * atomically (written to a temporary, fsynced, renamed), so a crash leaves
 * either the old or the new checkpoint. */

/* Read path into seq[TR_NKINDS] (kinds not in the file get 0). 0, -ENOENT
 * (no file: a first start), or -EINVAL with tr_errmsg() naming the line. */
int tr_checkpoint_load(const char *path, uint64_t seq[TR_NKINDS]);

/* Write seq[TR_NKINDS] to path atomically. 0 or -errno. */
int tr_checkpoint_save(const char *path, const uint64_t seq[TR_NKINDS]);

#endif
