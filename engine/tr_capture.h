/* tr_capture.h - raw capture of received frames, for replay by tr_capfile.
 *
 * Writes `<recv ns> <frame>\n` lines, plain text, the format tr_capfile.h
 * reads, so a day recorded by tickring can be replayed by tickring. Lines are
 * copied into heap buffers and written with IORING_OP_WRITE on the engine's
 * io_uring; nothing here waits for the disk except tr_capture_close(). When
 * the disk falls behind by more than cfg.max_backlog bytes, frames are
 * dropped and counted rather than waited for. No rotation and no gzip: the
 * capture is a debugging and replay aid, rotate by opening a new file.
 *
 * Threading: engine thread only. Errors: 0 or negative errno, message in
 * tr_errmsg(); write errors arrive on completion and are counted.
 */
#ifndef TR_CAPTURE_H
#define TR_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

#include "tr_uring.h"

struct tr_capture_config {
	size_t buf_size;    /* bytes per buffer and write; default 1 MiB */
	size_t max_backlog; /* bytes in buffers not yet written; default 64 MiB */
};

struct tr_capture_stats {
	uint64_t frames;	/* accepted */
	uint64_t bytes;		/* accepted line bytes */
	uint64_t bytes_written; /* completed */
	uint64_t writes;
	uint64_t dropped;  /* refused: backlog cap reached */
	uint64_t rejected; /* refused: frame contains '\n' */
	uint64_t write_errors;
	int32_t last_error; /* negative errno; 0 none */
};

struct tr_capture;

void tr_capture_config_default(struct tr_capture_config *cfg);

/* Create (truncate) `path`; synchronous open, call it before the loop runs.
 * cfg may be NULL. 0 or -errno. */
int tr_capture_open(struct tr_capture **out, struct tr_uring *u, const char *path,
		    const struct tr_capture_config *cfg);

/* Append one line. The frame is copied. 0, -EINVAL (frame contains '\n':
 * the line format cannot carry it), -ENOBUFS (backlog cap: dropped). */
int tr_capture_write(struct tr_capture *c, int64_t ts_ns, const void *frame, size_t len);

/* Submit the partly filled buffer; once per loop iteration. Never blocks.
 * Writes submitted, or -errno from io_uring_submit. */
int tr_capture_flush(struct tr_capture *c);

const struct tr_capture_stats *tr_capture_stats(const struct tr_capture *c);

/* Flush, wait for every write, close, free. 0 or the last write error. */
int tr_capture_close(struct tr_capture *c);

#endif
