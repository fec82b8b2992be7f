/* tr_journal.h - the engine's record journal: seq-indexed segment files on disk.
 *
 * Every record the engine publishes into a ring is also appended here, so a
 * consumer that was lapped (the Kafka mirror) or an engine that restarts can
 * find record s of a kind again by arithmetic: per kind a directory
 * <dir>/<trades|quotes|candles|events>/, segment files named by their first
 * seq (%020llu.seg), each a 64-byte header and then fixed-size records back to
 * back, record s at 64 + (s - first_seq) * record_size. docs/journal.md has
 * the format, the recovery rules and the reasoning below in full.
 *
 * Writer side (tr_journal_open/append/flush/close) runs on the engine thread
 * and never blocks after open: records are copied into io_uring registered
 * buffers, written with IORING_OP_WRITE_FIXED, and the buffers are recycled by
 * completions reaped from the engine's tr_uring. When every registered buffer
 * is in flight, records go to heap overflow buffers (plain IORING_OP_WRITE)
 * up to cfg.max_overflow bytes; beyond that cap (a disk that has made no
 * progress for seconds) records are dropped and counted instead of waiting,
 * and the journal continues with a new segment once buffers free up.
 * Segment files are created, closed and deleted through io_uring too.
 *
 * The journal owns the ring's registered-buffer table (one per io_uring); if
 * registering fails (already taken, memlock limit) it falls back to plain
 * writes from the same buffers and says so in stats.unregistered.
 *
 * Reader side (tr_journal_reader_*) is synchronous (pread), for a thread or
 * process other than the engine, and may run while the engine writes.
 *
 * Errors: 0 or a negative errno; the reason is in tr_errmsg() of the calling
 * thread. Write errors happen on completion and are counted, kept in
 * tr_journal_last_error() and never stop the engine.
 */
#ifndef TR_JOURNAL_H
#define TR_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "tr_abi.h"
#include "tr_uring.h"

#define TR_JOURNAL_MAGIC 0x4c4e524a4b434954ull /* bytes "TICKJRNL" */
#define TR_JOURNAL_VERSION 1u
#define TR_JOURNAL_HDR_SIZE 64u
#define TR_JOURNAL_SEGMENT_BYTES (64u << 20) /* default segment size */

/* The first 64 bytes of every segment file, little-endian. */
struct tr_journal_hdr {
	uint64_t magic;	      /* TR_JOURNAL_MAGIC */
	uint32_t version;     /* TR_JOURNAL_VERSION */
	uint32_t kind;	      /* enum tr_kind */
	uint32_t record_size; /* 64 or 128: tr_kind_size(kind) */
	uint32_t header_size; /* TR_JOURNAL_HDR_SIZE */
	uint64_t first_seq;   /* seq of the first record; equals the file name */
	uint64_t capacity;    /* records this segment may hold */
	int64_t created_ns;   /* CLOCK_REALTIME */
	uint64_t reserved[2];
};
_Static_assert(sizeof(struct tr_journal_hdr) == TR_JOURNAL_HDR_SIZE, "journal header");

struct tr_journal_config {
	const char *dir;	  /* created if missing; one subdirectory per kind */
	uint64_t segment_records; /* per segment; 0: as many as fit in 64 MiB */
	uint64_t retain_bytes;	  /* per kind; 0: keep everything */
	size_t buf_size;	  /* registered buffer size; multiple of 128 */
	unsigned nbufs;		  /* registered buffers, shared by the kinds */
	size_t max_overflow;	  /* cap on heap overflow bytes in flight */
	int fsync_on_close;	  /* fsync every open segment in tr_journal_close */
};

/* Writer statistics; read them on the engine thread. */
struct tr_journal_stats {
	uint64_t records;	  /* appended (accepted) */
	uint64_t bytes_written;	  /* completed write bytes, headers included */
	uint64_t writes;	  /* write operations submitted */
	uint64_t overflow_writes; /* of which from heap overflow buffers */
	uint64_t overflow_peak;	  /* most overflow bytes held at once */
	uint64_t write_errors;	  /* failed writes (ENOSPC, EIO, EFBIG ...) */
	uint64_t records_lost;	  /* records in failed writes */
	uint64_t records_dropped; /* refused because the overflow cap was reached */
	uint64_t segments_created;
	uint64_t segments_deleted;
	uint64_t file_errors;  /* failed open/close/unlink/fsync of segments */
	uint32_t unregistered; /* 1: buffer registration failed, plain writes */
	int32_t last_error;    /* last failure, negative errno; 0 none */
};

struct tr_journal;

/* Defaults: 64 MiB segments, no retention limit, 16 x 256 KiB registered
 * buffers, 256 MiB overflow cap, no fsync. cfg->dir must still be set. */
void tr_journal_config_default(struct tr_journal_config *cfg);

/* Open or create the journal in cfg->dir and recover every kind: the newest
 * segment is checked record by record and a torn or zero tail truncated, so
 * appends continue at tr_journal_last_seq() + 1. Synchronous (directory scan,
 * pread, ftruncate): call it before the event loop runs. `u` must outlive the
 * journal. 0 or -errno. */
int tr_journal_open(struct tr_journal **out, struct tr_uring *u,
		    const struct tr_journal_config *cfg);

/* Last seq on disk or accepted for `kind` (0: none). */
uint64_t tr_journal_last_seq(const struct tr_journal *j, unsigned kind);

/* Oldest seq still retained for `kind` (0: none). */
uint64_t tr_journal_oldest(const struct tr_journal *j, unsigned kind);

/* Append one record (64 or 128 bytes as the kind says; `seq` is its first
 * field). It must be tr_journal_last_seq() + 1: anything else is -EINVAL and
 * nothing is written; a larger jump is made with tr_journal_restart(). The
 * record is copied; it reaches the disk after a later flush or when its
 * buffer fills. Returns 0, -EINVAL, or -ENOBUFS when the overflow cap is
 * reached (the record is dropped and counted; the next accepted record
 * starts a new segment). Never blocks. */
int tr_journal_append(struct tr_journal *j, unsigned kind, const void *rec);

/* Continue `kind` at `seq` (> tr_journal_last_seq()) in a new segment, e.g.
 * when the ring is ahead because the journal was deleted. Records in between
 * are simply absent (readers get -ENOENT). 0 or -EINVAL. Never blocks. */
int tr_journal_restart(struct tr_journal *j, unsigned kind, uint64_t seq);

/* Submit every partly filled buffer as one write per kind. The engine calls it
 * once per loop iteration; completions arrive through tr_uring_reap(). Returns
 * the number of writes submitted, or -errno from io_uring_submit. Never blocks. */
int tr_journal_flush(struct tr_journal *j);

/* Records accepted whose write has not completed yet. */
uint64_t tr_journal_pending(const struct tr_journal *j);

const struct tr_journal_stats *tr_journal_stats(const struct tr_journal *j);

/* Message of the last write or file error ("" if none). */
const char *tr_journal_last_error(const struct tr_journal *j);

/* Flush, wait for every write (the only call that waits), fsync if
 * configured, close and free. Returns 0, or the last write error seen during
 * the journal's life (negative errno) so a clean shutdown can report it. */
int tr_journal_close(struct tr_journal *j);

/* Directory name of a kind: "trades", "quotes", "candles", "events". */
const char *tr_journal_kind_name(unsigned kind);

/* ---- Reader: synchronous, any thread or process. ---- */

struct tr_journal_reader;

/* Open the journal of `kind` under `dir` for reading. 0 or -errno (-ENOENT:
 * no such journal directory). */
int tr_journal_reader_open(struct tr_journal_reader **out, const char *dir, unsigned kind);

/* Copy record `seq` into rec (tr_kind_size(kind) bytes). Returns 0, or
 * -ENOENT when it is not on disk: before the oldest retained segment, in a
 * gap (restart, drop, failed write), or not written yet (appended but its
 * write not completed counts as not written). -errno on I/O errors. */
int tr_journal_read(struct tr_journal_reader *r, uint64_t seq, void *rec);

/* Oldest and newest seq on disk right now (0 when empty); rescans the
 * directory. */
uint64_t tr_journal_reader_oldest(struct tr_journal_reader *r);
uint64_t tr_journal_reader_newest(struct tr_journal_reader *r);

void tr_journal_reader_close(struct tr_journal_reader *r);

#endif
