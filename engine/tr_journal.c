/* tr_journal.c - seq-indexed journal segments written through io_uring (tr_journal.h).
 *
 * Mechanism. Each kind appends into its current buffer, which belongs to one
 * segment and covers a contiguous file range starting at b->off. A flush
 * submits the bytes not yet sent, [sent, used), as one write and leaves the
 * buffer current: later records go after `used`, which the kernel does not
 * read, so a buffer may carry several writes in flight. A buffer that cannot
 * take another record is retired; when its last write completes it goes back
 * to the free list (registered) or is freed (heap overflow). A segment is
 * created by IORING_OP_OPENAT; writes for it wait on its `waiting` list until
 * the descriptor exists, and it is closed by IORING_OP_CLOSE once retired and
 * idle. Retention deletes whole oldest segments with IORING_OP_UNLINKAT.
 *
 * Everything that needs a submission goes through submit_op(); when the
 * submission queue is full the op waits on j->backlog and tr_journal_flush()
 * retries it, so no path ever waits for the kernel. Only tr_journal_open()
 * (recovery, before the loop) and tr_journal_close() do blocking I/O.
 */
#define _GNU_SOURCE
#include "tr_journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "tr_err.h"

#define container_of(p, T, m) ((T *)(void *)((char *)(p)-offsetof(T, m)))

struct tr_journal;

/* One submission: the op the ring returns, how to prepare it, backlog link. */
struct jop {
	struct tr_uring_op op;
	void (*prep)(struct tr_journal *j, struct jop *o, struct io_uring_sqe *sqe);
	struct jop *next;
};

enum { SEG_OPENING, SEG_OPEN, SEG_CLOSING, SEG_CLOSED, SEG_FAILED };

struct jseg {
	struct jop jop; /* open, then close: never both in flight */
	struct tr_journal *j;
	unsigned kind;
	int state;
	int fd;
	int retired;		/* no more appends: close when idle */
	int in_list;		/* still retained (in the kind's list) */
	uint64_t first;		/* seq of record 0 */
	uint64_t cap;		/* records it may hold */
	uint64_t count;		/* records appended or recovered */
	uint64_t bytes;		/* header + count * record size */
	unsigned inflight;	/* writes assigned, waiting or submitted */
	struct jwrite *waiting; /* writes held until the open completes */
	struct jseg *next;	/* kind list, oldest first */
	char path[];
};

struct jbuf {
	uint8_t *data;
	size_t cap, used, sent;
	int index; /* registered buffer index; -1: heap overflow */
	int retired;
	unsigned inflight;
	uint64_t off; /* file offset of data[0] */
	struct jseg *seg;
	struct jbuf *next; /* free list */
};

struct jwrite {
	struct jop jop;
	struct jbuf *b;
	struct jseg *s;
	uint32_t start, len, done; /* region of b->data; done: bytes written so far */
	uint64_t off;		   /* file offset of data[start] */
	struct jwrite *next;	   /* seg waiting list / free list */
};

struct junlink {
	struct jop jop;
	char path[];
};

struct jkind {
	uint32_t rs;	  /* record size */
	uint64_t last;	  /* last seq accepted */
	int need_restart; /* next append starts a new segment */
	struct jseg *cur; /* segment being appended */
	struct jbuf *buf; /* its current buffer */
	struct jseg *oldest, *newest;
	uint64_t total_bytes; /* retained bytes on disk or on the way */
	uint64_t seg_records; /* capacity of new segments */
	char dir[PATH_MAX];
};

struct tr_journal {
	struct tr_uring *u;
	struct tr_journal_config cfg;
	struct jkind k[TR_NKINDS];
	struct jbuf *bufs; /* the registered ones, cfg.nbufs */
	uint8_t *pool;	   /* their memory */
	struct jbuf *free_bufs;
	struct jwrite *free_writes;
	struct jop *backlog, *backlog_tail;
	size_t overflow_bytes;
	uint64_t inflight_ops; /* submitted or backlogged, not completed */
	uint64_t done_records; /* records whose write completed or failed */
	int registered;
	struct tr_journal_stats st;
	char errbuf[256];
};

static const char *const kind_names[TR_NKINDS] = {"trades", "quotes", "candles", "events"};

const char *tr_journal_kind_name(unsigned kind)
{
	return kind < TR_NKINDS ? kind_names[kind] : "?";
}

void tr_journal_config_default(struct tr_journal_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->buf_size = 256u << 10;
	cfg->nbufs = 16;
	cfg->max_overflow = (size_t)256 << 20;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Remember a failure from a completion: counters, the journal's own copy of
 * the message (tr_errmsg is overwritten by the next error on the thread). */
static void note_error(struct tr_journal *j, int code, const char *what, const char *path)
{
	j->st.last_error = code > 0 ? -code : code;
	tr_err(code, "journal: %s %s: %s", what, path, tr_strerror(code));
	snprintf(j->errbuf, sizeof j->errbuf, "%s", tr_errmsg());
}

/* Records whose first byte lies in file range [a, b) of a segment. */
static uint64_t records_in(uint64_t a, uint64_t b, uint32_t rs)
{
	uint64_t h = TR_JOURNAL_HDR_SIZE;

	a = a < h ? h : a;
	if (b <= a)
		return 0;
	return (b - h + rs - 1) / rs - (a - h + rs - 1) / rs;
}

/* ---- submissions ---- */

static void submit_op(struct tr_journal *j, struct jop *o)
{
	struct io_uring_sqe *sqe = tr_uring_sqe(j->u, &o->op);

	if (!sqe) { /* queue full even after submitting: retried by flush */
		o->next = NULL;
		if (j->backlog_tail)
			j->backlog_tail->next = o;
		else
			j->backlog = o;
		j->backlog_tail = o;
		return;
	}
	o->prep(j, o, sqe);
}

static void drain_backlog(struct tr_journal *j)
{
	struct jop *o = j->backlog;

	j->backlog = j->backlog_tail = NULL;
	while (o) {
		struct jop *next = o->next;

		submit_op(j, o);
		o = next;
	}
}

/* ---- segments ---- */

static void seg_maybe_free(struct jseg *s)
{
	if (!s->in_list && s->inflight == 0 && (s->state == SEG_CLOSED || s->state == SEG_FAILED))
		free(s);
}

static void prep_close(struct tr_journal *j, struct jop *o, struct io_uring_sqe *sqe)
{
	struct jseg *s = container_of(o, struct jseg, jop);

	(void)j;
	io_uring_prep_close(sqe, s->fd);
}

static void close_done(struct tr_uring_op *op, const struct io_uring_cqe *cqe)
{
	struct jseg *s = container_of(op, struct jseg, jop.op);
	struct tr_journal *j = op->ctx;

	j->inflight_ops--;
	if (cqe->res < 0) {
		j->st.file_errors++;
		note_error(j, -cqe->res, "close", s->path);
	}
	s->fd = -1;
	s->state = SEG_CLOSED;
	seg_maybe_free(s);
}

/* A retired segment with nothing left to write is closed asynchronously; at
 * shutdown tr_journal_close() closes (and fsyncs) what is still open. */
static void seg_maybe_close(struct tr_journal *j, struct jseg *s)
{
	if (!s->retired || s->inflight || s->state != SEG_OPEN)
		return;
	s->state = SEG_CLOSING;
	s->jop.op.cb = close_done;
	s->jop.prep = prep_close;
	j->inflight_ops++;
	submit_op(j, &s->jop);
}

static void write_finish(struct tr_journal *j, struct jwrite *w, int err);
static void write_submit(struct tr_journal *j, struct jwrite *w);

static void apply_retention(struct tr_journal *j, struct jkind *k, int now);

static void prep_open(struct tr_journal *j, struct jop *o, struct io_uring_sqe *sqe)
{
	struct jseg *s = container_of(o, struct jseg, jop);

	(void)j;
	io_uring_prep_openat(sqe, AT_FDCWD, s->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			     0644);
}

static void open_done(struct tr_uring_op *op, const struct io_uring_cqe *cqe)
{
	struct jseg *s = container_of(op, struct jseg, jop.op);
	struct tr_journal *j = op->ctx;
	struct jwrite *w = s->waiting;

	j->inflight_ops--;
	s->waiting = NULL;
	s->inflight++; /* hold s: a failing write_finish below may otherwise free it */
	if (cqe->res < 0) {
		s->state = SEG_FAILED;
		j->st.file_errors++;
		note_error(j, -cqe->res, "create", s->path);
	} else {
		s->fd = cqe->res;
		s->state = SEG_OPEN;
	}
	while (w) {
		struct jwrite *next = w->next;

		if (s->state == SEG_OPEN)
			write_submit(j, w);
		else
			write_finish(j, w, -cqe->res);
		w = next;
	}
	s->inflight--;
	seg_maybe_close(j, s);
	/* Retention skipped it while it was opening: look again. */
	if (s->in_list)
		apply_retention(j, &j->k[s->kind], 0);
	seg_maybe_free(s);
}

static void prep_unlink(struct tr_journal *j, struct jop *o, struct io_uring_sqe *sqe)
{
	struct junlink *ul = container_of(o, struct junlink, jop);

	(void)j;
	io_uring_prep_unlinkat(sqe, AT_FDCWD, ul->path, 0);
}

static void unlink_done(struct tr_uring_op *op, const struct io_uring_cqe *cqe)
{
	struct junlink *ul = container_of(op, struct junlink, jop.op);
	struct tr_journal *j = op->ctx;

	j->inflight_ops--;
	if (cqe->res < 0 && cqe->res != -ENOENT) {
		j->st.file_errors++;
		note_error(j, -cqe->res, "delete", ul->path);
	}
	free(ul);
}

/* Delete whole oldest segments while the kind holds more than retain_bytes;
 * never the one being written, nor one whose open is still in flight (io-wq
 * may run the unlink first, and the open would then create it again).
 * Readers with the file open keep reading it.
 * `now`: unlink here (recovery, before the loop) rather than through the ring. */
static void apply_retention(struct tr_journal *j, struct jkind *k, int now)
{
	while (j->cfg.retain_bytes && k->total_bytes > j->cfg.retain_bytes && k->oldest &&
	       k->oldest != k->cur && k->oldest->state != SEG_OPENING) {
		struct jseg *s = k->oldest;
		size_t plen = strlen(s->path) + 1;
		struct junlink *ul = malloc(sizeof *ul + plen);

		if (!ul)
			return; /* try again at the next rotation */
		k->oldest = s->next;
		if (k->newest == s)
			k->newest = NULL;
		k->total_bytes -= s->bytes;
		s->in_list = 0;
		j->st.segments_deleted++;
		if (now) {
			if (unlink(s->path) < 0 && errno != ENOENT) {
				j->st.file_errors++;
				note_error(j, errno, "delete", s->path);
			}
			free(ul);
			seg_maybe_free(s);
			continue;
		}
		memcpy(ul->path, s->path, plen);
		ul->jop.op.cb = unlink_done;
		ul->jop.op.ctx = j;
		ul->jop.prep = prep_unlink;
		j->inflight_ops++;
		submit_op(j, &ul->jop);
		seg_maybe_free(s);
	}
}

static struct jseg *seg_alloc(struct tr_journal *j, unsigned kind, uint64_t first)
{
	struct jkind *k = &j->k[kind];
	size_t plen = strlen(k->dir) + 26;
	struct jseg *s = calloc(1, sizeof *s + plen);

	if (!s)
		return NULL;
	snprintf(s->path, plen, "%s/%020" PRIu64 ".seg", k->dir, first);
	s->j = j;
	s->kind = kind;
	s->fd = -1;
	s->first = first;
	s->cap = k->seg_records;
	s->bytes = TR_JOURNAL_HDR_SIZE;
	s->jop.op.ctx = j;
	return s;
}

static void seg_link(struct jkind *k, struct jseg *s)
{
	s->in_list = 1;
	if (k->newest)
		k->newest->next = s;
	else
		k->oldest = s;
	k->newest = s;
	k->total_bytes += s->bytes;
}

/* ---- buffers and writes ---- */

static void buf_maybe_recycle(struct tr_journal *j, struct jbuf *b)
{
	if (!b->retired || b->inflight)
		return;
	if (b->index >= 0) {
		b->next = j->free_bufs;
		j->free_bufs = b;
	} else {
		j->overflow_bytes -= b->cap;
		free(b->data);
		free(b);
	}
}

static struct jbuf *buf_get(struct tr_journal *j)
{
	struct jbuf *b = j->free_bufs;

	if (b) {
		j->free_bufs = b->next;
	} else {
		/* Every registered buffer is in flight: stage on the heap, up to
		 * the cap, rather than wait for the disk. */
		if (j->overflow_bytes + j->cfg.buf_size > j->cfg.max_overflow)
			return NULL;
		b = calloc(1, sizeof *b);
		if (!b || !(b->data = malloc(j->cfg.buf_size))) {
			free(b);
			return NULL;
		}
		b->index = -1;
		b->cap = j->cfg.buf_size;
		j->overflow_bytes += b->cap;
		if (j->overflow_bytes > j->st.overflow_peak)
			j->st.overflow_peak = j->overflow_bytes;
	}
	b->used = b->sent = 0;
	b->retired = 0;
	b->inflight = 0;
	b->next = NULL;
	return b;
}

static void prep_write(struct tr_journal *j, struct jop *o, struct io_uring_sqe *sqe)
{
	struct jwrite *w = container_of(o, struct jwrite, jop);
	struct jbuf *b = w->b;
	uint8_t *p = b->data + w->start + w->done;
	unsigned n = w->len - w->done;

	if (b->index >= 0 && j->registered)
		io_uring_prep_write_fixed(sqe, w->s->fd, p, n, w->off + w->done, b->index);
	else
		io_uring_prep_write(sqe, w->s->fd, p, n, w->off + w->done);
}

static void write_done(struct tr_uring_op *op, const struct io_uring_cqe *cqe)
{
	struct jwrite *w = container_of(op, struct jwrite, jop.op);
	struct tr_journal *j = op->ctx;

	j->inflight_ops--;
	if (cqe->res > 0) {
		w->done += (uint32_t)cqe->res;
		j->st.bytes_written += (uint64_t)cqe->res;
		if (w->done < w->len) { /* short write: send the rest */
			j->inflight_ops++;
			submit_op(j, &w->jop);
			return;
		}
		write_finish(j, w, 0);
	} else {
		write_finish(j, w, cqe->res == 0 ? EIO : -cqe->res);
	}
}

static void write_submit(struct tr_journal *j, struct jwrite *w)
{
	if (w->s->state == SEG_OPENING) {
		w->next = w->s->waiting;
		w->s->waiting = w;
		return;
	}
	if (w->s->state != SEG_OPEN) {
		write_finish(j, w, EBADF);
		return;
	}
	j->inflight_ops++;
	submit_op(j, &w->jop);
}

/* A write is over (err 0) or failed for good: count, release the buffer and
 * the segment, recycle the op. */
static void write_finish(struct tr_journal *j, struct jwrite *w, int err)
{
	struct jbuf *b = w->b;
	struct jseg *s = w->s;
	uint32_t rs = j->k[s->kind].rs;

	j->done_records += records_in(w->off, w->off + w->len, rs);
	if (err) {
		j->st.write_errors++;
		j->st.records_lost += records_in(w->off + w->done, w->off + w->len, rs);
		note_error(j, err, "write", s->path);
	}
	b->inflight--;
	s->inflight--;
	w->next = j->free_writes;
	j->free_writes = w;
	buf_maybe_recycle(j, b);
	seg_maybe_close(j, s);
	seg_maybe_free(s);
}

/* Send the bytes of b not sent yet as one write. 1 if one was made. */
static int buf_send(struct tr_journal *j, struct jbuf *b)
{
	struct jwrite *w = j->free_writes;

	if (b->used == b->sent)
		return 0;
	if (w)
		j->free_writes = w->next;
	else if (!(w = malloc(sizeof *w)))
		return 0; /* the bytes stay in the buffer for the next flush */
	memset(w, 0, sizeof *w);
	w->jop.op.cb = write_done;
	w->jop.op.ctx = j;
	w->jop.prep = prep_write;
	w->b = b;
	w->s = b->seg;
	w->start = (uint32_t)b->sent;
	w->len = (uint32_t)(b->used - b->sent);
	w->off = b->off + b->sent;
	b->sent = b->used;
	b->inflight++;
	b->seg->inflight++;
	j->st.writes++;
	if (b->index < 0)
		j->st.overflow_writes++;
	write_submit(j, w);
	return 1;
}

/* Send what is left and let the buffer go back to the pool when idle. */
static void buf_retire(struct tr_journal *j, struct jkind *k)
{
	struct jbuf *b = k->buf;

	if (!b)
		return;
	k->buf = NULL;
	buf_send(j, b);
	if (b->used > b->sent) { /* no memory for a write op: keep it for flush */
		k->buf = b;
		return;
	}
	b->retired = 1;
	buf_maybe_recycle(j, b);
}

/* Start a segment whose first record is `seq`: retire the current one and
 * open the new file asynchronously; its writes wait for the descriptor. */
static int seg_start(struct tr_journal *j, unsigned kind, uint64_t seq)
{
	struct jkind *k = &j->k[kind];
	struct jseg *s = seg_alloc(j, kind, seq);

	if (!s)
		return -ENOMEM;
	buf_retire(j, k);
	if (k->buf) { /* could not send the old buffer's tail: try later */
		free(s);
		return -ENOMEM;
	}
	if (k->cur) {
		k->cur->retired = 1;
		seg_maybe_close(j, k->cur);
	}
	s->state = SEG_OPENING;
	s->jop.op.cb = open_done;
	s->jop.prep = prep_open;
	seg_link(k, s);
	k->cur = s;
	j->st.segments_created++;
	j->inflight_ops++;
	submit_op(j, &s->jop);
	apply_retention(j, k, 0);
	return 0;
}

int tr_journal_append(struct tr_journal *j, unsigned kind, const void *rec)
{
	struct jkind *k;
	struct jseg *s;
	struct jbuf *b;
	uint64_t seq;
	int rc;

	if (kind >= TR_NKINDS)
		return tr_err(EINVAL, "journal: bad kind %u", kind);
	k = &j->k[kind];
	memcpy(&seq, rec, sizeof seq);
	if (seq != k->last + 1)
		return tr_err(EINVAL,
			      "journal %s: seq %" PRIu64 " after %" PRIu64
			      " (use tr_journal_restart)",
			      kind_names[kind], seq, k->last);
	s = k->cur;
	if (k->need_restart || !s || s->state == SEG_FAILED || s->count >= s->cap) {
		if ((rc = seg_start(j, kind, seq)) < 0)
			goto drop;
		k->need_restart = 0;
		s = k->cur;
	}
	b = k->buf;
	if (b && b->used + k->rs > b->cap) {
		buf_retire(j, k);
		if (k->buf) { /* no memory for the write op: nowhere to put it */
			rc = -ENOMEM;
			goto drop;
		}
		b = NULL;
	}
	if (!b) {
		if (!(b = buf_get(j))) {
			rc = -ENOBUFS;
			goto drop;
		}
		b->seg = s;
		if (seq == s->first) { /* the header travels with the first record */
			struct tr_journal_hdr h = {.magic = TR_JOURNAL_MAGIC,
						   .version = TR_JOURNAL_VERSION,
						   .kind = kind,
						   .record_size = k->rs,
						   .header_size = TR_JOURNAL_HDR_SIZE,
						   .first_seq = s->first,
						   .capacity = s->cap,
						   .created_ns = now_ns()};

			memcpy(b->data, &h, sizeof h);
			b->used = sizeof h;
			b->off = 0;
		} else {
			b->off = TR_JOURNAL_HDR_SIZE + (seq - s->first) * k->rs;
		}
		k->buf = b;
	}
	memcpy(b->data + b->used, rec, k->rs);
	b->used += k->rs;
	s->count++;
	s->bytes += k->rs;
	k->total_bytes += k->rs;
	k->last = seq;
	j->st.records++;
	if (b->used + k->rs > b->cap) { /* full: one write now, not at the next flush */
		buf_retire(j, k);
		tr_uring_submit(j->u);
	}
	return 0;
drop:
	/* Keep the sequence moving so the engine's next record is accepted; it
	 * will open a new segment, leaving a gap readers see as -ENOENT. */
	k->last = seq;
	k->need_restart = 1;
	j->st.records_dropped++;
	return tr_err(rc, "journal %s: record %" PRIu64 " dropped: %s", kind_names[kind], seq,
		      rc == -ENOBUFS ? "overflow cap reached" : "out of memory");
}

int tr_journal_restart(struct tr_journal *j, unsigned kind, uint64_t seq)
{
	if (kind >= TR_NKINDS || seq <= j->k[kind].last)
		return tr_err(EINVAL, "journal: restart at %" PRIu64 " not after %" PRIu64, seq,
			      kind < TR_NKINDS ? j->k[kind].last : 0);
	j->k[kind].last = seq - 1;
	j->k[kind].need_restart = 1;
	return 0;
}

int tr_journal_flush(struct tr_journal *j)
{
	int n = 0, rc;

	drain_backlog(j);
	for (unsigned kind = 0; kind < TR_NKINDS; kind++) {
		struct jkind *k = &j->k[kind];

		if (!k->buf)
			continue;
		if (k->buf->used + k->rs > k->buf->cap)
			buf_retire(j, k), n++;
		else
			n += buf_send(j, k->buf);
	}
	if ((rc = tr_uring_submit(j->u)) < 0)
		return rc;
	return n;
}

uint64_t tr_journal_last_seq(const struct tr_journal *j, unsigned kind)
{
	return kind < TR_NKINDS ? j->k[kind].last : 0;
}

uint64_t tr_journal_oldest(const struct tr_journal *j, unsigned kind)
{
	return kind < TR_NKINDS && j->k[kind].oldest ? j->k[kind].oldest->first : 0;
}

uint64_t tr_journal_pending(const struct tr_journal *j)
{
	return j->st.records - j->done_records;
}

const struct tr_journal_stats *tr_journal_stats(const struct tr_journal *j)
{
	return &j->st;
}

const char *tr_journal_last_error(const struct tr_journal *j)
{
	return j->errbuf;
}

/* ---- open and recovery ---- */

static int mkdir_p(const char *path)
{
	char tmp[PATH_MAX];
	size_t n = strlen(path);

	if (n >= sizeof tmp)
		return -ENAMETOOLONG;
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Sorted first seqs of the *.seg files in dir. 0 or -errno. */
static int list_segments(const char *dir, uint64_t **out, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	uint64_t *v = NULL;
	size_t cnt = 0, cap = 0;

	*out = NULL;
	*n = 0;
	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		char *end;
		unsigned long long first;

		if (strlen(e->d_name) != 24 || strcmp(e->d_name + 20, ".seg"))
			continue;
		errno = 0;
		first = strtoull(e->d_name, &end, 10);
		if (errno || end != e->d_name + 20 || !first)
			continue;
		if (cnt == cap) {
			uint64_t *nv = realloc(v, (cap = cap ? cap * 2 : 64) * sizeof *v);

			if (!nv) {
				free(v);
				closedir(d);
				return -ENOMEM;
			}
			v = nv;
		}
		v[cnt++] = first;
	}
	closedir(d);
	if (cnt)
		qsort(v, cnt, sizeof *v, cmp_u64);
	*out = v;
	*n = cnt;
	return 0;
}

static int hdr_ok(const struct tr_journal_hdr *h, unsigned kind, uint64_t first)
{
	return h->magic == TR_JOURNAL_MAGIC && h->version == TR_JOURNAL_VERSION &&
	       h->kind == kind && h->record_size == tr_kind_size(kind) &&
	       h->header_size == TR_JOURNAL_HDR_SIZE && h->first_seq == first && h->capacity;
}

/* Records at the start of fd whose seq is first + i: the valid prefix. A
 * crash can leave zeros anywhere writes were in flight, so the scan stops at
 * the first mismatch, not at the file size. */
static int64_t valid_prefix(int fd, uint64_t first, uint32_t rs, uint64_t nrec)
{
	enum { CHUNK = 1 << 20 };
	uint8_t *buf = malloc(CHUNK);
	uint64_t i = 0;

	if (!buf)
		return -ENOMEM;
	while (i < nrec) {
		uint64_t want = nrec - i < CHUNK / rs ? nrec - i : CHUNK / rs;
		ssize_t got = pread(fd, buf, want * rs, (off_t)(TR_JOURNAL_HDR_SIZE + i * rs));

		if (got < 0) {
			int e = -errno;
			free(buf);
			return e;
		}
		for (uint64_t r = 0; r < (uint64_t)got / rs; r++, i++) {
			uint64_t seq;

			memcpy(&seq, buf + r * rs, sizeof seq);
			if (seq != first + i)
				goto out;
		}
		if ((uint64_t)got < want * rs)
			break;
	}
out:
	free(buf);
	return (int64_t)i;
}

/* Recover one kind: list its segments, then find the newest one with a valid
 * header (deleting newer ones without), truncate it to its valid prefix and
 * keep it open as the current segment. */
static int recover_kind(struct tr_journal *j, unsigned kind)
{
	struct jkind *k = &j->k[kind];
	uint64_t *firsts;
	size_t n;
	int rc;

	if ((rc = mkdir_p(k->dir)) < 0)
		return tr_err(rc, "journal: mkdir %s: %s", k->dir, tr_strerror(rc));
	if ((rc = list_segments(k->dir, &firsts, &n)) < 0)
		return tr_err(rc, "journal: list %s: %s", k->dir, tr_strerror(rc));
	for (size_t i = 0; i < n; i++) {
		struct jseg *s = seg_alloc(j, kind, firsts[i]);
		struct stat sb;

		if (!s) {
			free(firsts);
			return tr_err(ENOMEM, "journal: out of memory");
		}
		s->state = SEG_CLOSED;
		s->retired = 1;
		s->bytes = stat(s->path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
		seg_link(k, s);
	}
	free(firsts);
	while (k->newest) {
		struct jseg *s = k->newest, *p;
		struct tr_journal_hdr h;
		struct stat sb;
		int64_t v;
		int fd = open(s->path, O_RDWR | O_CLOEXEC);

		if (fd < 0)
			return tr_err(errno, "journal: open %s: %s", s->path, strerror(errno));
		if (fstat(fd, &sb) < 0 || pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h ||
		    !hdr_ok(&h, kind, s->first)) {
			/* No usable header: its records cannot be located. */
			close(fd);
			if (unlink(s->path) < 0)
				return tr_err(errno, "journal: unlink %s: %s", s->path,
					      strerror(errno));
			for (p = k->oldest; p && p->next != s; p = p->next)
				;
			if (p)
				p->next = NULL;
			else
				k->oldest = NULL;
			k->newest = p;
			k->total_bytes -= s->bytes;
			free(s);
			continue;
		}
		s->cap = h.capacity;
		v = valid_prefix(fd, s->first, k->rs, ((uint64_t)sb.st_size - sizeof h) / k->rs);
		if (v < 0) {
			close(fd);
			return tr_err(v, "journal: read %s: %s", s->path, tr_strerror((int)v));
		}
		if ((uint64_t)sb.st_size != sizeof h + (uint64_t)v * k->rs &&
		    ftruncate(fd, (off_t)(sizeof h + (uint64_t)v * k->rs)) < 0) {
			rc = -errno;
			close(fd);
			return tr_err(rc, "journal: truncate %s: %s", s->path, tr_strerror(rc));
		}
		k->total_bytes -= s->bytes;
		s->count = (uint64_t)v;
		s->bytes = sizeof h + (uint64_t)v * k->rs;
		k->total_bytes += s->bytes;
		s->fd = fd;
		s->state = SEG_OPEN;
		s->retired = 0;
		k->cur = s;
		k->last = s->first + (uint64_t)v - 1;
		break;
	}
	apply_retention(j, k, 1);
	return 0;
}

static void free_all(struct tr_journal *j)
{
	for (unsigned kind = 0; kind < TR_NKINDS; kind++) {
		struct jseg *s = j->k[kind].oldest;

		while (s) {
			struct jseg *next = s->next;

			if (s->fd >= 0)
				close(s->fd);
			free(s);
			s = next;
		}
	}
	while (j->free_writes) {
		struct jwrite *w = j->free_writes;

		j->free_writes = w->next;
		free(w);
	}
	if (j->registered)
		io_uring_unregister_buffers(&j->u->ring);
	free(j->bufs);
	free(j->pool);
	free(j);
}

int tr_journal_open(struct tr_journal **out, struct tr_uring *u,
		    const struct tr_journal_config *cfg)
{
	struct tr_journal *j;
	struct iovec *iov;
	int rc;

	*out = NULL;
	if (!cfg->dir || !cfg->buf_size || cfg->buf_size % 128 || !cfg->nbufs ||
	    cfg->buf_size < 2 * TR_JOURNAL_HDR_SIZE + 128 || cfg->buf_size > (1u << 30))
		return tr_err(EINVAL, "journal: bad configuration");
	if (!(j = calloc(1, sizeof *j)))
		return tr_err(ENOMEM, "journal: out of memory");
	j->u = u;
	j->cfg = *cfg;
	if (strlen(cfg->dir) + 16 >= PATH_MAX) {
		free(j);
		return tr_err(ENAMETOOLONG, "journal: path too long");
	}
	for (unsigned kind = 0; kind < TR_NKINDS; kind++) {
		struct jkind *k = &j->k[kind];

		k->rs = tr_kind_size(kind);
		snprintf(k->dir, sizeof k->dir, "%s/%s", cfg->dir, kind_names[kind]);
	}
	j->pool = aligned_alloc(4096, cfg->buf_size * cfg->nbufs);
	j->bufs = calloc(cfg->nbufs, sizeof *j->bufs);
	iov = calloc(cfg->nbufs, sizeof *iov);
	if (!j->pool || !j->bufs || !iov) {
		free(iov);
		free_all(j);
		return tr_err(ENOMEM, "journal: out of memory for buffers");
	}
	for (unsigned i = 0; i < cfg->nbufs; i++) {
		struct jbuf *b = &j->bufs[i];

		b->data = j->pool + (size_t)i * cfg->buf_size;
		b->cap = cfg->buf_size;
		b->index = (int)i;
		b->next = j->free_bufs;
		j->free_bufs = b;
		iov[i].iov_base = b->data;
		iov[i].iov_len = cfg->buf_size;
	}
	/* One table per ring: if it is taken or memlock is short, plain writes. */
	rc = io_uring_register_buffers(&u->ring, iov, cfg->nbufs);
	free(iov);
	j->registered = rc == 0;
	j->st.unregistered = rc != 0;
	for (unsigned kind = 0; kind < TR_NKINDS; kind++) {
		struct jkind *k = &j->k[kind];

		k->seg_records = cfg->segment_records
				     ? cfg->segment_records
				     : (TR_JOURNAL_SEGMENT_BYTES - TR_JOURNAL_HDR_SIZE) / k->rs;
		if ((rc = recover_kind(j, kind)) < 0) {
			free_all(j);
			return rc;
		}
	}
	*out = j;
	return 0;
}

int tr_journal_close(struct tr_journal *j)
{
	int rc = 0;

	if (!j)
		return 0;
	tr_journal_flush(j);
	for (unsigned kind = 0; kind < TR_NKINDS; kind++)
		buf_retire(j, &j->k[kind]);
	while (j->inflight_ops) {
		drain_backlog(j);
		if ((rc = tr_uring_wait(j->u, 100 * 1000000ll)) < 0 && rc != -EINTR)
			break;
	}
	rc = j->st.last_error;
	if (j->cfg.fsync_on_close) {
		int dfd = open(j->cfg.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		/* syncfs covers segments already closed asynchronously as well */
		if (dfd < 0 || syncfs(dfd) < 0)
			rc = rc ? rc : -errno;
		if (dfd >= 0)
			close(dfd);
	}
	free_all(j);
	return rc;
}

/* ---- reader ---- */

struct tr_journal_reader {
	unsigned kind;
	uint32_t rs;
	uint64_t *firsts;
	size_t n;
	int fd;
	uint64_t fd_first;
	char dir[PATH_MAX];
};

static int reader_scan(struct tr_journal_reader *r)
{
	free(r->firsts);
	return list_segments(r->dir, &r->firsts, &r->n);
}

/* Make r->fd the segment starting at `first`, header checked. 0, -ENOENT. */
static int reader_use(struct tr_journal_reader *r, uint64_t first)
{
	char path[PATH_MAX + 32];
	struct tr_journal_hdr h;
	int fd;

	if (r->fd >= 0 && r->fd_first == first)
		return 0;
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	snprintf(path, sizeof path, "%s/%020" PRIu64 ".seg", r->dir, first);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	if (pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h || !hdr_ok(&h, r->kind, first)) {
		close(fd); /* being created: its header is not there yet */
		return -ENOENT;
	}
	r->fd = fd;
	r->fd_first = first;
	return 0;
}

int tr_journal_reader_open(struct tr_journal_reader **out, const char *dir, unsigned kind)
{
	struct tr_journal_reader *r;
	int rc;

	*out = NULL;
	if (kind >= TR_NKINDS)
		return tr_err(EINVAL, "journal reader: bad kind %u", kind);
	if (!(r = calloc(1, sizeof *r)))
		return tr_err(ENOMEM, "journal reader: out of memory");
	r->kind = kind;
	r->rs = tr_kind_size(kind);
	r->fd = -1;
	snprintf(r->dir, sizeof r->dir, "%s/%s", dir, kind_names[kind]);
	if ((rc = reader_scan(r)) < 0) {
		free(r);
		return tr_err(rc, "journal reader: %s: %s", dir, tr_strerror(rc));
	}
	*out = r;
	return 0;
}

/* Try seq in the segments known now. 0, -ENOENT, -errno. */
static int reader_try(struct tr_journal_reader *r, uint64_t seq, void *rec)
{
	size_t lo = 0, hi = r->n;
	uint64_t got, off;
	uint8_t again[128];
	ssize_t n;
	int rc;

	while (lo < hi) { /* first index with firsts[i] > seq */
		size_t mid = (lo + hi) / 2;

		if (r->firsts[mid] <= seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return -ENOENT;
	if ((rc = reader_use(r, r->firsts[lo - 1])) < 0)
		return rc;
	off = TR_JOURNAL_HDR_SIZE + (seq - r->fd_first) * r->rs;
	if ((n = pread(r->fd, rec, r->rs, (off_t)off)) < 0)
		return -errno;
	memcpy(&got, rec, sizeof got);
	if ((size_t)n != r->rs || got != seq)
		return -ENOENT;
	/* In the segment being written a write may be copying this record
	 * right now: a second identical read makes a torn copy unlikely. */
	if (lo == r->n) {
		if (pread(r->fd, again, r->rs, (off_t)off) != (ssize_t)r->rs ||
		    memcmp(again, rec, r->rs))
			return -ENOENT;
	}
	return 0;
}

int tr_journal_read(struct tr_journal_reader *r, uint64_t seq, void *rec)
{
	int rc;

	if (!seq)
		return -ENOENT;
	rc = reader_try(r, seq, rec);
	if (rc == -ENOENT) {
		/* New segments, or deleted ones: look at the directory again. */
		if ((rc = reader_scan(r)) < 0)
			return rc;
		rc = reader_try(r, seq, rec);
	}
	return rc;
}

uint64_t tr_journal_reader_oldest(struct tr_journal_reader *r)
{
	if (reader_scan(r) < 0 || !r->n)
		return 0;
	return r->firsts[0];
}

uint64_t tr_journal_reader_newest(struct tr_journal_reader *r)
{
	uint8_t rec[128];

	if (reader_scan(r) < 0)
		return 0;
	for (size_t i = r->n; i-- > 0;) {
		struct stat sb;
		uint64_t nrec;

		if (reader_use(r, r->firsts[i]) < 0 || fstat(r->fd, &sb) < 0)
			continue;
		nrec = ((uint64_t)sb.st_size - TR_JOURNAL_HDR_SIZE) / r->rs;
		/* The tail may still have holes where writes are in flight. */
		for (uint64_t x = nrec; x-- > 0;) {
			uint64_t seq;

			if (pread(r->fd, rec, r->rs, (off_t)(TR_JOURNAL_HDR_SIZE + x * r->rs)) !=
			    (ssize_t)r->rs)
				break;
			memcpy(&seq, rec, sizeof seq);
			if (seq == r->firsts[i] + x)
				return seq;
		}
	}
	return 0;
}

void tr_journal_reader_close(struct tr_journal_reader *r)
{
	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	free(r->firsts);
	free(r);
}
