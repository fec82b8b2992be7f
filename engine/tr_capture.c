/* tr_capture.c - capture writer: lines into heap buffers, written by io_uring (tr_capture.h).
 *
 * The same scheme as the journal without segments: the current buffer covers
 * file bytes [off, off + used); a flush writes [sent, used) and keeps filling
 * after `used`, so one buffer may have several writes in flight. A buffer
 * that cannot take the next line is retired and freed (or kept as a spare)
 * when its last write completes. `held` counts the bytes of every buffer
 * alive; a line that would take it past max_backlog is dropped.
 */
#define _GNU_SOURCE
#include "tr_capture.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tr_err.h"

#define container_of(p, T, m) ((T *)(void *)((char *)(p)-offsetof(T, m)))

struct cbuf {
	char *data;
	size_t cap, used, sent;
	uint64_t off;
	unsigned inflight;
	int retired;
	struct cbuf *next; /* spare list */
};

struct cwrite {
	struct tr_uring_op op;
	struct cbuf *b;
	size_t start, len, done;
	struct cwrite *next; /* backlog */
};

struct tr_capture {
	struct tr_uring *u;
	struct tr_capture_config cfg;
	int fd;
	uint64_t file_off; /* where the next line goes */
	struct cbuf *cur;
	struct cbuf *spare;
	size_t held;	   /* bytes of live buffers, spares excluded */
	unsigned inflight; /* writes submitted or in the backlog */
	struct cwrite *backlog, *backlog_tail;
	struct tr_capture_stats st;
	char path[256];
};

void tr_capture_config_default(struct tr_capture_config *cfg)
{
	cfg->buf_size = 1u << 20;
	cfg->max_backlog = (size_t)64 << 20;
}

static void buf_release(struct tr_capture *c, struct cbuf *b)
{
	if (!b->retired || b->inflight)
		return;
	c->held -= b->cap;
	if (b->cap == c->cfg.buf_size && !c->spare) { /* keep one to skip malloc */
		b->next = NULL;
		c->spare = b;
		return;
	}
	free(b->data);
	free(b);
}

static void write_done(struct tr_uring_op *op, const struct io_uring_cqe *cqe);

static void write_submit(struct tr_capture *c, struct cwrite *w)
{
	struct io_uring_sqe *sqe = tr_uring_sqe(c->u, &w->op);

	c->inflight++;
	if (!sqe) { /* queue full even after submitting: the next flush retries */
		w->next = NULL;
		if (c->backlog_tail)
			c->backlog_tail->next = w;
		else
			c->backlog = w;
		c->backlog_tail = w;
		return;
	}
	io_uring_prep_write(sqe, c->fd, w->b->data + w->start + w->done,
			    (unsigned)(w->len - w->done), w->b->off + w->start + w->done);
}

static void drain_backlog(struct tr_capture *c)
{
	struct cwrite *w = c->backlog;

	c->backlog = c->backlog_tail = NULL;
	while (w) {
		struct cwrite *next = w->next;

		c->inflight--; /* write_submit counts it again */
		write_submit(c, w);
		w = next;
	}
}

static void write_done(struct tr_uring_op *op, const struct io_uring_cqe *cqe)
{
	struct cwrite *w = container_of(op, struct cwrite, op);
	struct tr_capture *c = op->ctx;

	c->inflight--;
	if (cqe->res > 0) {
		w->done += (size_t)cqe->res;
		c->st.bytes_written += (uint64_t)cqe->res;
		if (w->done < w->len) { /* short write: the rest */
			write_submit(c, w);
			return;
		}
	} else {
		int e = cqe->res ? -cqe->res : EIO;

		c->st.write_errors++;
		c->st.last_error = -e;
		tr_err(e, "capture: write %s: %s", c->path, strerror(e));
	}
	w->b->inflight--;
	buf_release(c, w->b);
	free(w);
}

static int buf_send(struct tr_capture *c, struct cbuf *b)
{
	struct cwrite *w;

	if (b->used == b->sent || !(w = calloc(1, sizeof *w)))
		return 0;
	w->op.cb = write_done;
	w->op.ctx = c;
	w->b = b;
	w->start = b->sent;
	w->len = b->used - b->sent;
	b->sent = b->used;
	b->inflight++;
	c->st.writes++;
	write_submit(c, w);
	return 1;
}

static void buf_retire(struct tr_capture *c)
{
	struct cbuf *b = c->cur;

	if (!b)
		return;
	buf_send(c, b);
	if (b->used > b->sent)
		return; /* no memory for the op: retried at the next flush */
	c->cur = NULL;
	b->retired = 1;
	buf_release(c, b);
}

static struct cbuf *buf_new(struct tr_capture *c, size_t need)
{
	size_t cap = need > c->cfg.buf_size ? need : c->cfg.buf_size;
	struct cbuf *b = NULL;

	if (c->held + cap > c->cfg.max_backlog)
		return NULL;
	if (cap == c->cfg.buf_size && c->spare) {
		b = c->spare;
		c->spare = NULL;
	} else {
		if (!(b = calloc(1, sizeof *b)) || !(b->data = malloc(cap))) {
			free(b);
			return NULL;
		}
	}
	b->cap = cap;
	b->used = b->sent = 0;
	b->inflight = 0;
	b->retired = 0;
	b->off = c->file_off;
	c->held += cap;
	return b;
}

int tr_capture_write(struct tr_capture *c, int64_t ts_ns, const void *frame, size_t len)
{
	char ts[24];
	int tn = snprintf(ts, sizeof ts, "%lld ", (long long)ts_ns);
	size_t need = (size_t)tn + len + 1;
	struct cbuf *b;

	if (memchr(frame, '\n', len) || ts_ns <= 0) {
		c->st.rejected++;
		return tr_err(EINVAL, "capture: frame with a newline or bad time");
	}
	b = c->cur;
	if (b && b->cap - b->used < need) {
		buf_retire(c);
		b = c->cur; /* still there only if it could not be sent */
		if (b) {
			c->st.dropped++;
			return tr_err(ENOBUFS, "capture: out of memory");
		}
	}
	if (!b) {
		if (!(b = buf_new(c, need))) {
			c->st.dropped++;
			return tr_err(ENOBUFS, "capture: backlog over %zu bytes, frame dropped",
				      c->cfg.max_backlog);
		}
		c->cur = b;
	}
	memcpy(b->data + b->used, ts, (size_t)tn);
	memcpy(b->data + b->used + tn, frame, len);
	b->data[b->used + need - 1] = '\n';
	b->used += need;
	c->file_off += need;
	c->st.frames++;
	c->st.bytes += need;
	if (b->cap - b->used < 128) { /* full enough: write it now */
		buf_retire(c);
		tr_uring_submit(c->u);
	}
	return 0;
}

int tr_capture_flush(struct tr_capture *c)
{
	int n, rc;

	drain_backlog(c);
	n = c->cur ? buf_send(c, c->cur) : 0;
	rc = tr_uring_submit(c->u);

	return rc < 0 ? rc : n;
}

const struct tr_capture_stats *tr_capture_stats(const struct tr_capture *c)
{
	return &c->st;
}

int tr_capture_open(struct tr_capture **out, struct tr_uring *u, const char *path,
		    const struct tr_capture_config *cfg)
{
	struct tr_capture *c;
	int e;

	*out = NULL;
	if (!(c = calloc(1, sizeof *c)))
		return tr_err(ENOMEM, "capture: out of memory");
	if (cfg)
		c->cfg = *cfg;
	else
		tr_capture_config_default(&c->cfg);
	if (!c->cfg.buf_size || c->cfg.max_backlog < c->cfg.buf_size) {
		free(c);
		return tr_err(EINVAL, "capture: bad configuration");
	}
	c->u = u;
	snprintf(c->path, sizeof c->path, "%s", path);
	if ((c->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
		e = errno;
		free(c);
		return tr_err(e, "capture: open %s: %s", path, strerror(e));
	}
	*out = c;
	return 0;
}

int tr_capture_close(struct tr_capture *c)
{
	int rc;

	if (!c)
		return 0;
	tr_capture_flush(c);
	buf_retire(c);
	while (c->inflight) {
		drain_backlog(c);
		if ((rc = tr_uring_wait(c->u, 100 * 1000000ll)) < 0 && rc != -EINTR)
			break;
	}
	if (c->cur) { /* only if an op could never be allocated */
		free(c->cur->data);
		free(c->cur);
	}
	if (c->spare) {
		free(c->spare->data);
		free(c->spare);
	}
	rc = c->st.last_error;
	if (close(c->fd) < 0 && !rc)
		rc = -errno;
	free(c);
	return rc;
}
