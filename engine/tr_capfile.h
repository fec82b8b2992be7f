/* tr_capfile.h - capture file reader for replay: `<recv time> <raw frame>` lines.
 *
 * Reads the line format of ../shared/data and of tr_capture.h: one frame per
 * line, a decimal receive timestamp, one space, the raw frame, '\n'. The
 * timestamp is ns since the epoch, or µs in older recordings (the 2023
 * .dat.gz files): values below 1e17 are taken as µs and converted to ns.
 * The file may be gzip (one or more concatenated members) or plain text,
 * told apart by its first two bytes.
 *
 * File reads go through the engine's io_uring (IORING_OP_READ into a few big
 * buffers, read ahead), so tr_capfile_next() never waits on the disk: when
 * the next bytes have not arrived it returns -EAGAIN with the read already
 * submitted, and the engine calls it again after tr_uring_reap().
 *
 * Frames are delivered in place, NUL-terminated, with at least
 * TR_CAPFILE_PADDING readable bytes after the end (simdjson's padding).
 *
 * Bad lines (no timestamp, malformed timestamp, empty frame, longer than
 * max_line) are counted and skipped. Only an I/O error or a corrupt or
 * truncated gzip stream ends the file; its message is in tr_errmsg().
 *
 * Threading: one reader is used by the engine thread (the thread that reaps
 * the ring) only.
 */
#ifndef TR_CAPFILE_H
#define TR_CAPFILE_H

#include <stddef.h>
#include <stdint.h>

#include "tr_uring.h"

#define TR_CAPFILE_PADDING 64			 /* >= TR_PARSE_PADDING */
#define TR_CAPFILE_MAX_LINE (4u << 20)		 /* default longest line */
#define TR_CAPFILE_US_LIMIT 100000000000000000ll /* 1e17: below, the time is µs */

struct tr_capfile_config {
	size_t chunk_size; /* bytes per read; default 1 MiB */
	unsigned nchunks;  /* reads in flight ahead of the parser; default 4 */
	size_t max_line;   /* longer lines are skipped; default TR_CAPFILE_MAX_LINE */
};

struct tr_capfile_stats {
	uint64_t lines;		/* frames delivered */
	uint64_t bad_lines;	/* skipped: all reasons below */
	uint64_t bad_timestamp; /* missing, non-numeric, overflowing or zero */
	uint64_t empty_frames;	/* timestamp with nothing after it */
	uint64_t long_lines;	/* longer than max_line */
	uint64_t us_lines;	/* timestamps converted from µs */
	uint64_t gzip_members;	/* gzip members decoded */
	uint64_t reads;		/* read operations submitted */
	uint64_t eagain;	/* next() calls that found no data ready */
};

struct tr_capfile;

void tr_capfile_config_default(struct tr_capfile_config *cfg);

/* Open `path` (synchronous open + fstat: call it before handing control to
 * the loop) and submit the first reads. cfg may be NULL for defaults. `u`
 * must outlive the reader. 0 or -errno. */
int tr_capfile_open(struct tr_capfile **out, struct tr_uring *u, const char *path,
		    const struct tr_capfile_config *cfg);

/* The next frame. Returns 1 with *ts_ns (ns), *frame and *len set: the frame
 * is NUL-terminated at frame[len], followed by >= TR_CAPFILE_PADDING readable
 * bytes, and stays valid until the next call. Returns 0 at the end of the
 * file, -EAGAIN when the data is still being read (retry after reaping), and
 * another negative errno on a fatal error (-EIO, -EBADMSG for a corrupt or
 * truncated gzip stream); after 0 or a fatal error it keeps returning it. */
int tr_capfile_next(struct tr_capfile *r, int64_t *ts_ns, const char **frame, size_t *len);

/* Compressed bytes consumed so far and the file size, for a progress line. */
void tr_capfile_progress(const struct tr_capfile *r, uint64_t *done, uint64_t *total);

const struct tr_capfile_stats *tr_capfile_stats(const struct tr_capfile *r);

/* 1 if the file is gzip (known after the first chunk arrived), else 0. */
int tr_capfile_is_gzip(const struct tr_capfile *r);

/* Close the file and free the reader. Never waits: memory that a read still
 * in flight writes into is freed by that read's completion, so keep reaping
 * the ring until it has arrived (tr_capfile_inflight() tells, before close). */
void tr_capfile_close(struct tr_capfile *r);

/* Reads submitted and not completed. */
unsigned tr_capfile_inflight(const struct tr_capfile *r);

#endif
