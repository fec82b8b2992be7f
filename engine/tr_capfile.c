/* tr_capfile.c - capture reader: io_uring read-ahead, zlib inflate, line split (tr_capfile.h).
 *
 * Chunks form a ring in file order: chunk i holds the bytes at the offset it
 * was given when its read was submitted; the parser consumes them strictly in
 * that order and resubmits each consumed chunk for the next offset, so up to
 * nchunks reads run ahead of it. A short read is continued into the same
 * chunk before the chunk counts as ready.
 *
 * Bytes (inflated or plain) are appended to the line buffer `lb`, where lines
 * are found and handed out in place: the '\n' becomes the NUL, and lb keeps
 * TR_CAPFILE_PADDING spare bytes past its capacity so the padding exists even
 * for a line that ends at the very end. lb is compacted (memmove) only when a
 * line does not fit in the space left, which is after the previous frame
 * has been given up by the caller.
 *
 * The reader may be closed with reads in flight: it is then marked orphaned
 * and the last completion frees it.
 */
#define _GNU_SOURCE
#include "tr_capfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "tr_err.h"

#define container_of(p, T, m) ((T *)(void *)((char *)(p)-offsetof(T, m)))

enum { CH_IDLE, CH_READING, CH_READY };

struct chunk {
	struct tr_uring_op op;
	struct tr_capfile *r;
	uint8_t *data;
	uint64_t off; /* file offset of data[0] */
	size_t want;  /* bytes asked for */
	size_t len;   /* bytes arrived */
	size_t pos;   /* bytes consumed by the parser */
	int state;
	int err; /* negative errno of a failed read */
};

struct tr_capfile {
	struct tr_uring *u;
	struct tr_capfile_config cfg;
	int fd;
	uint64_t size;
	uint64_t next_off; /* where the next read starts */
	uint64_t consumed; /* file bytes handed to the parser */
	struct chunk *ch;
	unsigned cur; /* chunk the parser reads next */
	unsigned inflight;
	int unsubmitted; /* a read found the submission queue full */
	int orphan;	 /* closed with reads in flight */

	int fmt; /* -1 unknown, 0 plain, 1 gzip */
	z_stream z;
	int z_live;	  /* inflateInit2 done */
	int z_member_end; /* the last member ended; more input needs a new one */

	char *lb; /* line buffer: lb_cap + padding bytes */
	size_t lb_cap, start, scan, end;
	int skipping; /* inside an over-long line: drop up to the next '\n' */
	int eof;      /* no more input bytes */
	int done;     /* 0 delivered or fatal: sticky result */
	int result;
	struct tr_capfile_stats st;
	char path[256];
};

void tr_capfile_config_default(struct tr_capfile_config *cfg)
{
	cfg->chunk_size = 1u << 20;
	cfg->nchunks = 4;
	cfg->max_line = TR_CAPFILE_MAX_LINE;
}

static void free_reader(struct tr_capfile *r)
{
	if (r->z_live)
		inflateEnd(&r->z);
	if (r->ch)
		for (unsigned i = 0; i < r->cfg.nchunks; i++)
			free(r->ch[i].data);
	free(r->ch);
	free(r->lb);
	free(r);
}

static void read_done(struct tr_uring_op *op, const struct io_uring_cqe *cqe);

/* Submit (or continue) the read of chunk c. */
static void chunk_submit(struct tr_capfile *r, struct chunk *c)
{
	struct io_uring_sqe *sqe = tr_uring_sqe(r->u, &c->op);

	if (!sqe) { /* queue full: next() tries again */
		r->unsubmitted = 1;
		return;
	}
	io_uring_prep_read(sqe, r->fd, c->data + c->len, (unsigned)(c->want - c->len),
			   c->off + c->len);
	c->state = CH_READING;
	r->inflight++;
	r->st.reads++;
}

/* Give idle chunks the next file ranges, in ring order from cur. */
static void refill(struct tr_capfile *r)
{
	r->unsubmitted = 0;
	for (unsigned i = 0; i < r->cfg.nchunks; i++) {
		struct chunk *c = &r->ch[(r->cur + i) % r->cfg.nchunks];

		if (c->state != CH_IDLE)
			continue;
		if (c->want && c->len < c->want) { /* assigned, not yet (fully) submitted */
			chunk_submit(r, c);
			continue;
		}
		if (r->next_off >= r->size)
			break;
		c->off = r->next_off;
		c->want =
		    r->size - c->off < r->cfg.chunk_size ? r->size - c->off : r->cfg.chunk_size;
		c->len = c->pos = 0;
		c->err = 0;
		r->next_off += c->want;
		chunk_submit(r, c);
		if (r->unsubmitted)
			break;
	}
	tr_uring_submit(r->u);
}

static void read_done(struct tr_uring_op *op, const struct io_uring_cqe *cqe)
{
	struct chunk *c = container_of(op, struct chunk, op);
	struct tr_capfile *r = c->r;

	r->inflight--;
	if (r->orphan) {
		if (!r->inflight)
			free_reader(r);
		return;
	}
	if (cqe->res < 0) {
		c->err = cqe->res;
		c->state = CH_READY;
		return;
	}
	c->len += (size_t)cqe->res;
	if (cqe->res == 0 && c->len < c->want) { /* file shrank under us */
		c->err = -EIO;
		c->state = CH_READY;
		return;
	}
	if (c->len < c->want) { /* short read: continue into the same chunk */
		c->state = CH_IDLE;
		chunk_submit(r, c);
		tr_uring_submit(r->u);
		return;
	}
	c->state = CH_READY;
}

int tr_capfile_open(struct tr_capfile **out, struct tr_uring *u, const char *path,
		    const struct tr_capfile_config *cfg)
{
	struct tr_capfile *r;
	struct stat sb;
	int rc;

	*out = NULL;
	if (!(r = calloc(1, sizeof *r)))
		return tr_err(ENOMEM, "capfile: out of memory");
	if (cfg)
		r->cfg = *cfg;
	else
		tr_capfile_config_default(&r->cfg);
	if (!r->cfg.chunk_size || r->cfg.nchunks < 1 || r->cfg.max_line < 64) {
		free(r);
		return tr_err(EINVAL, "capfile: bad configuration");
	}
	r->u = u;
	r->fmt = -1;
	snprintf(r->path, sizeof r->path, "%s", path);
	if ((r->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		rc = errno;
		free(r);
		return tr_err(rc, "capfile: open %s: %s", path, strerror(rc));
	}
	if (fstat(r->fd, &sb) < 0) {
		rc = errno;
		close(r->fd);
		free(r);
		return tr_err(rc, "capfile: stat %s: %s", path, strerror(rc));
	}
	r->size = (uint64_t)sb.st_size;
	/* Room for the longest line plus one chunk's worth of output, so a
	 * fill after compaction always makes progress. */
	r->lb_cap = r->cfg.max_line + r->cfg.chunk_size + 1;
	r->lb = malloc(r->lb_cap + TR_CAPFILE_PADDING);
	r->ch = calloc(r->cfg.nchunks, sizeof *r->ch);
	if (!r->lb || !r->ch)
		goto nomem;
	for (unsigned i = 0; i < r->cfg.nchunks; i++) {
		r->ch[i].r = r;
		r->ch[i].op.cb = read_done;
		r->ch[i].op.ctx = r;
		if (!(r->ch[i].data = malloc(r->cfg.chunk_size)))
			goto nomem;
	}
	memset(r->lb + r->lb_cap, 0, TR_CAPFILE_PADDING);
	refill(r);
	*out = r;
	return 0;
nomem:
	close(r->fd);
	free_reader(r);
	return tr_err(ENOMEM, "capfile: out of memory for buffers");
}

static int fatal(struct tr_capfile *r, int code, const char *what)
{
	r->done = 1;
	r->result = tr_err(code, "capfile %s: %s", r->path, what);
	return r->result;
}

/* Make room at lb's end: move the unconsumed bytes to the front. */
static void compact(struct tr_capfile *r)
{
	if (!r->start)
		return;
	memmove(r->lb, r->lb + r->start, r->end - r->start);
	r->scan -= r->start;
	r->end -= r->start;
	r->start = 0;
}

/* Inflate from [in, in + n) into lb's free space. 1 on progress (input
 * taken or output made), or a fatal -errno. */
static int inflate_some(struct tr_capfile *r, uint8_t *in, size_t n, size_t *used)
{
	size_t room = r->lb_cap - r->end;
	int zr;

	r->z.next_in = in;
	r->z.avail_in = (uInt)n;
	r->z.next_out = (Bytef *)r->lb + r->end;
	r->z.avail_out = (uInt)room;
	zr = inflate(&r->z, Z_NO_FLUSH);
	*used = n - r->z.avail_in;
	r->end += room - r->z.avail_out;
	if (zr == Z_STREAM_END) {
		r->z_member_end = 1;
		return 1;
	}
	if (zr == Z_OK || (zr == Z_BUF_ERROR && (*used || room != r->z.avail_out)))
		return 1;
	if (zr == Z_BUF_ERROR)
		return 0; /* needs input it cannot have */
	return fatal(r, EBADMSG, r->z.msg ? r->z.msg : "corrupt gzip stream");
}

/* Move bytes from the current chunk into lb (inflating if gzip). Returns 1
 * if input was consumed or produced, 0 at the end of the input, -EAGAIN,
 * or a fatal -errno. */
static int fill(struct tr_capfile *r)
{
	struct chunk *c;
	size_t in, room, used;
	int rc;

	for (;;) {
		c = &r->ch[r->cur];
		if (c->state == CH_READY && c->pos == c->len && !c->err) {
			/* Chunk used up: hand it the next range. */
			c->state = CH_IDLE;
			c->want = 0;
			r->cur = (r->cur + 1) % r->cfg.nchunks;
			refill(r);
			continue;
		}
		if (c->state != CH_READY) {
			if (r->consumed >= r->size) {
				/* All input taken, but inflate may hold output back
				 * (a long match cut by a full lb). */
				if (r->fmt == 1 && !r->z_member_end && r->end < r->lb_cap)
					return inflate_some(r, NULL, 0, &used);
				return 0;
			}
			if (r->unsubmitted || c->state == CH_IDLE)
				refill(r);
			r->st.eagain++;
			return -EAGAIN;
		}
		break;
	}
	if (c->err)
		return fatal(r, -c->err, strerror(-c->err));
	if (r->fmt < 0) {
		r->fmt = c->len >= 2 && c->data[0] == 0x1f && c->data[1] == 0x8b;
		if (r->fmt == 1) {
			if (inflateInit2(&r->z, 16 + MAX_WBITS) != Z_OK)
				return fatal(r, ENOMEM, "inflateInit2 failed");
			r->z_live = 1;
			r->st.gzip_members = 1;
		}
	}
	if (r->end == r->lb_cap)
		compact(r);
	room = r->lb_cap - r->end;
	in = c->len - c->pos;
	if (r->fmt == 0) {
		size_t n = in < room ? in : room;

		memcpy(r->lb + r->end, c->data + c->pos, n);
		r->end += n;
		c->pos += n;
		r->consumed += n;
		return 1;
	}
	if (r->z_member_end) {
		/* Another member may follow; anything else is trailing junk,
		 * which gzip(1) and zlib's gzread ignore too. */
		if (c->data[c->pos] != 0x1f) {
			r->consumed = r->size;
			r->eof = 1;
			return 0;
		}
		inflateReset(&r->z);
		r->z_member_end = 0;
		r->st.gzip_members++;
	}
	rc = inflate_some(r, c->data + c->pos, in, &used);
	c->pos += used;
	r->consumed += used;
	if (rc == 0)
		return fatal(r, EBADMSG, "gzip stream stalled");
	return rc;
}

/* Parse "<digits> <frame>" in [p, p + n). 1 ok, 0 bad (counted). */
static int parse_line(struct tr_capfile *r, char *p, size_t n, int64_t *ts, const char **frame,
		      size_t *len)
{
	uint64_t v = 0;
	size_t i = 0;

	while (i < n && p[i] >= '0' && p[i] <= '9') {
		if (v > (UINT64_MAX - 9) / 10 || i >= 19)
			goto bad_ts;
		v = v * 10 + (uint64_t)(p[i] - '0');
		i++;
	}
	if (!i || i >= n || p[i] != ' ' || !v || v > INT64_MAX)
		goto bad_ts;
	if (i + 1 == n) {
		r->st.empty_frames++;
		r->st.bad_lines++;
		return 0;
	}
	if ((int64_t)v < TR_CAPFILE_US_LIMIT) {
		if (v > (uint64_t)INT64_MAX / 1000)
			goto bad_ts;
		v *= 1000;
		r->st.us_lines++;
	}
	*ts = (int64_t)v;
	*frame = p + i + 1;
	*len = n - i - 1;
	return 1;
bad_ts:
	r->st.bad_timestamp++;
	r->st.bad_lines++;
	return 0;
}

int tr_capfile_next(struct tr_capfile *r, int64_t *ts_ns, const char **frame, size_t *len)
{
	int rc;

	if (r->done)
		return r->result;
	for (;;) {
		char *nl =
		    r->scan < r->end ? memchr(r->lb + r->scan, '\n', r->end - r->scan) : NULL;

		if (nl) {
			char *p = r->lb + r->start;
			size_t n = (size_t)(nl - p);

			*nl = 0;
			r->start = r->scan = (size_t)(nl - r->lb) + 1;
			if (r->skipping) {
				r->skipping = 0;
				continue;
			}
			if (n > r->cfg.max_line) {
				r->st.long_lines++;
				r->st.bad_lines++;
				continue;
			}
			if (parse_line(r, p, n, ts_ns, frame, len)) {
				r->st.lines++;
				return 1;
			}
			continue;
		}
		r->scan = r->end;
		if (r->end - r->start > r->cfg.max_line) {
			/* Too long already: drop what we have, skip to the next '\n'. */
			if (!r->skipping) {
				r->skipping = 1;
				r->st.long_lines++;
				r->st.bad_lines++;
			}
			r->start = r->scan = r->end = 0;
		}
		if (r->end == r->lb_cap || (r->start && r->lb_cap - r->end < r->cfg.chunk_size))
			compact(r);
		rc = r->eof ? 0 : fill(r);
		if (rc > 0)
			continue;
		if (rc == -EAGAIN)
			return rc;
		if (rc < 0)
			return rc; /* fatal() made it sticky */
		/* End of input. */
		r->eof = 1;
		if (r->fmt == 1 && !r->z_member_end)
			return fatal(r, EBADMSG, "truncated gzip stream");
		if (r->end > r->start && !r->skipping) { /* last line without '\n' */
			char *p = r->lb + r->start;
			size_t n = r->end - r->start;

			r->lb[r->end] = 0;
			r->start = r->scan = r->end;
			if (parse_line(r, p, n, ts_ns, frame, len)) {
				r->st.lines++;
				return 1;
			}
		}
		r->done = 1;
		r->result = 0;
		return 0;
	}
}

void tr_capfile_progress(const struct tr_capfile *r, uint64_t *done, uint64_t *total)
{
	*done = r->consumed;
	*total = r->size;
}

const struct tr_capfile_stats *tr_capfile_stats(const struct tr_capfile *r)
{
	return &r->st;
}

int tr_capfile_is_gzip(const struct tr_capfile *r)
{
	return r->fmt == 1;
}

unsigned tr_capfile_inflight(const struct tr_capfile *r)
{
	return r->inflight;
}

void tr_capfile_close(struct tr_capfile *r)
{
	if (!r)
		return;
	/* The descriptor may be closed now: an in-flight read holds its own
	 * reference to the file. The buffers may not be freed yet. */
	close(r->fd);
	r->fd = -1;
	if (r->inflight)
		r->orphan = 1;
	else
		free_reader(r);
}
