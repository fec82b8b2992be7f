/* tr_gateway.c - NDJSON listener on io_uring: multishot accept, multishot
 * recv with a buffer ring, line framing (tr_gateway.h).
 *
 * Operations and their lifetimes. Each listener has one multishot accept,
 * each connection one multishot recv; their struct tr_uring_op lives in the
 * listener or connection, which is not freed before the operation's final
 * completion (the one without IORING_CQE_F_MORE). `inflight` counts the
 * operations still expecting a final completion, so close knows when the
 * kernel has let go of everything.
 *
 * Buffers. buf_count buffers of buf_size bytes, each followed by
 * TR_GATEWAY_PADDING spare bytes, sit in one malloc'd pool (malloc, not
 * mmap, so ASan checks the padding reads). The kernel picks one per recv
 * completion; the completion handler frames lines out of it and gives it
 * straight back, so the gateway never holds a buffer between completions.
 * Whatever part of a line is left at the end of a buffer is copied to the
 * connection's carry buffer, which grows up to max_line + 1 (room for a
 * '\r') plus padding, and is allocated only when a line straddles buffers.
 *
 * Running dry. When data arrives and the ring is empty, the recv ends with
 * -ENOBUFS. Every buffer the kernel took has a completion queued before that
 * one, so once those are handled all buffers are back: the connection is
 * parked as starved and a NOP is queued; the NOP completes after everything
 * already in the completion queue, and its handler re-arms the starved
 * connections. The same parking serves when no submission slot is free
 * (io_uring_submit() failing): kick() tries again at the next gateway
 * completion.
 *
 * Accept errors (EMFILE, ENFILE, ENOMEM) would repeat at once if the
 * accept were re-armed at once, so the listener waits 100 ms on a timeout
 * operation first.
 *
 * Lost wakeups. On the 6.18 kernel this was written on, a multishot recv on
 * an AF_UNIX stream socket now and then stays armed after the peer has
 * closed: the EOF is queued (recv(MSG_PEEK) returns 0) but no completion
 * ever comes (about one run in ten of the 8-client test). So while
 * connections are open a sweep runs every GW_SWEEP_NS: a connection that
 * has had no completion since the previous sweep is peeked without
 * blocking, and if it has data or EOF waiting, its recv is cancelled and
 * re-armed; the new recv finds what is waiting at once. An idle connection
 * costs one recv() syscall per sweep.
 */
#define _GNU_SOURCE
#include "tr_gateway.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "tr_err.h"
#include "tr_parse.h"

_Static_assert(TR_GATEWAY_PADDING >= TR_PARSE_PADDING, "lines must carry the parser's padding");

#define GW_CLOSE_NS 5000000000LL     /* how long close waits for the kernel */
#define GW_ACCEPT_RETRY_NS 100000000 /* pause before re-arming a failed accept */
#define GW_SWEEP_NS 500000000	     /* how often idle connections are checked */

enum conn_state {
	CONN_ARMED,  /* multishot recv in flight */
	CONN_PARKED, /* to be re-armed by kick() */
	CONN_STARVED /* ran out of buffers: re-armed when the refill NOP completes */
};

struct conn {
	struct tr_uring_op op; /* the recv; op.ctx = this */
	struct tr_gateway *gw;
	int fd;
	unsigned slot;
	enum conn_state state;
	uint64_t id;
	char *carry; /* start of a line that straddles buffers */
	size_t carry_len;
	size_t carry_cap; /* allocated: carry_cap + TR_GATEWAY_PADDING */
	int discarding;	  /* inside an oversize line: skip to its newline */
	int active;	  /* a completion came since the last sweep */
	int nudged;	  /* the sweep cancelled the recv, to re-arm it */
};

struct listener {
	struct tr_uring_op op;	  /* the multishot accept; op.ctx = this */
	struct tr_uring_op retry; /* the pause after an accept error */
	struct __kernel_timespec retry_ts;
	struct tr_gateway *gw;
	int fd;
	int is_unix;
	int armed;   /* accept in flight */
	int waiting; /* retry timeout in flight */
};

struct tr_gateway {
	struct tr_uring *u;
	tr_gateway_line_cb cb;
	void *ctx;
	size_t max_line;
	unsigned buf_count, buf_size, stride;
	unsigned short bgid;
	struct io_uring_buf_ring *br;
	size_t br_bytes;
	char *pool;
	struct listener lis[2]; /* [0] TCP, [1] Unix */
	unsigned tcp_port;
	char *unix_path; /* set once we created the socket file */
	struct conn **conns;
	unsigned max_conns;
	uint64_t next_id;
	struct tr_uring_op refill; /* the NOP that wakes starved connections */
	int refill_armed;
	struct tr_uring_op sweep; /* the timeout that checks for lost wakeups */
	struct __kernel_timespec sweep_ts;
	int sweep_armed;
	int parked;	   /* connections or listeners waiting for kick() */
	unsigned inflight; /* operations whose final completion is pending */
	int closing;
	struct tr_gateway_stats st;
};

static void on_accept(struct tr_uring_op *op, const struct io_uring_cqe *cqe);
static void on_recv(struct tr_uring_op *op, const struct io_uring_cqe *cqe);
static void kick(struct tr_gateway *gw);

void tr_gateway_config_default(struct tr_gateway_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->max_conns = 64;
	cfg->max_line = 64 * 1024;
	cfg->buf_count = 128;
	cfg->buf_size = 16 * 1024;
	cfg->buf_group = TR_GATEWAY_BUF_GROUP;
}

/* ---- buffers ---- */

static char *buf_addr(struct tr_gateway *gw, unsigned bid)
{
	return gw->pool + (size_t)bid * gw->stride;
}

/* Give buffer bid back to the kernel. The release store of the ring tail in
 * io_uring_buf_ring_advance() pairs with the kernel's acquire load of the
 * tail when it picks a buffer, so the entry is written before it is seen. */
static void buf_put(struct tr_gateway *gw, unsigned bid)
{
	io_uring_buf_ring_add(gw->br, buf_addr(gw, bid), gw->buf_size, (unsigned short)bid,
			      io_uring_buf_ring_mask(gw->buf_count), 0);
	io_uring_buf_ring_advance(gw->br, 1);
}

static int bufs_setup(struct tr_gateway *gw)
{
	struct io_uring_buf_reg reg;
	long page = sysconf(_SC_PAGESIZE);
	int rc;

	/* The ring itself must be page-aligned; the pool need not be. */
	gw->br_bytes = (size_t)gw->buf_count * sizeof(struct io_uring_buf);
	if (posix_memalign((void **)&gw->br, (size_t)page, gw->br_bytes))
		return tr_err(ENOMEM, "gateway: buffer ring of %u entries", gw->buf_count);
	gw->stride = (gw->buf_size + TR_GATEWAY_PADDING + 63) & ~63u;
	gw->pool = malloc((size_t)gw->buf_count * gw->stride);
	if (!gw->pool)
		return tr_err(ENOMEM, "gateway: %u buffers of %u bytes", gw->buf_count,
			      gw->buf_size);
	memset(&reg, 0, sizeof reg);
	reg.ring_addr = (uint64_t)(uintptr_t)gw->br;
	reg.ring_entries = gw->buf_count;
	reg.bgid = gw->bgid;
	rc = io_uring_register_buf_ring(&gw->u->ring, &reg, 0);
	if (rc < 0)
		return tr_err(rc, "gateway: register buffer ring (group %u): %s", gw->bgid,
			      strerror(-rc));
	io_uring_buf_ring_init(gw->br);
	for (unsigned i = 0; i < gw->buf_count; i++)
		io_uring_buf_ring_add(gw->br, buf_addr(gw, i), gw->buf_size, (unsigned short)i,
				      io_uring_buf_ring_mask(gw->buf_count), (int)i);
	io_uring_buf_ring_advance(gw->br, (int)gw->buf_count);
	return 0;
}

/* ---- arming operations ---- */

static int arm_accept(struct listener *l)
{
	struct io_uring_sqe *sqe = tr_uring_sqe(l->gw->u, &l->op);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_multishot_accept(sqe, l->fd, NULL, NULL, SOCK_CLOEXEC);
	l->armed = 1;
	l->gw->inflight++;
	return 0;
}

static int arm_recv(struct conn *c)
{
	struct io_uring_sqe *sqe = tr_uring_sqe(c->gw->u, &c->op);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = c->gw->bgid;
	c->state = CONN_ARMED;
	c->active = 1; /* a sweep period's grace before it is checked */
	c->nudged = 0;
	c->gw->inflight++;
	return 0;
}

static void on_refill(struct tr_uring_op *op, const struct io_uring_cqe *cqe)
{
	struct tr_gateway *gw = op->ctx;

	(void)cqe;
	gw->refill_armed = 0;
	gw->inflight--;
	for (unsigned i = 0; i < gw->max_conns; i++)
		if (gw->conns[i] && gw->conns[i]->state == CONN_STARVED)
			gw->conns[i]->state = CONN_PARKED;
	gw->parked = 1;
	kick(gw);
}

static void on_retry(struct tr_uring_op *op, const struct io_uring_cqe *cqe)
{
	struct listener *l = op->ctx;

	(void)cqe;
	l->waiting = 0;
	l->gw->inflight--;
	l->gw->parked = 1;
	kick(l->gw);
}

/* A connection with no completion for a whole sweep period, yet something
 * to read (data, EOF or an error), has lost its wakeup: cancel its recv;
 * on_recv() re-arms it when the cancellation lands. */
static void on_sweep(struct tr_uring_op *op, const struct io_uring_cqe *cqe)
{
	struct tr_gateway *gw = op->ctx;
	char b;

	(void)cqe;
	gw->sweep_armed = 0;
	gw->inflight--;
	if (gw->closing)
		return;
	for (unsigned i = 0; i < gw->max_conns; i++) {
		struct conn *c = gw->conns[i];
		if (!c || c->state != CONN_ARMED || c->nudged)
			continue;
		if (c->active) {
			c->active = 0;
			continue;
		}
		if (recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) < 0 &&
		    (errno == EAGAIN || errno == EWOULDBLOCK))
			continue; /* idle, as it should be */
		struct io_uring_sqe *sqe = tr_uring_sqe(gw->u, NULL);
		if (!sqe)
			break; /* next sweep */
		io_uring_prep_cancel(sqe, &c->op, 0);
		c->nudged = 1;
		gw->st.stalls++;
	}
	gw->parked = 1; /* kick() re-arms the sweep while connections remain */
	kick(gw);
}

/* Arm whatever is parked, as far as submission slots allow; what does not
 * fit stays parked for the next completion. */
static void kick(struct tr_gateway *gw)
{
	int starved = 0, left = 0;

	if (!gw->parked || gw->closing)
		return;
	for (int i = 0; i < 2; i++) {
		struct listener *l = &gw->lis[i];
		if (l->fd >= 0 && !l->armed && !l->waiting && arm_accept(l) < 0)
			left = 1;
	}
	for (unsigned i = 0; i < gw->max_conns; i++) {
		struct conn *c = gw->conns[i];
		if (!c)
			continue;
		if (c->state == CONN_STARVED)
			starved = 1;
		else if (c->state == CONN_PARKED && arm_recv(c) < 0)
			left = 1;
	}
	if (gw->st.open && !gw->sweep_armed) {
		struct io_uring_sqe *sqe = tr_uring_sqe(gw->u, &gw->sweep);
		if (sqe) {
			gw->sweep_ts.tv_sec = GW_SWEEP_NS / 1000000000;
			gw->sweep_ts.tv_nsec = GW_SWEEP_NS % 1000000000;
			io_uring_prep_timeout(sqe, &gw->sweep_ts, 0, 0);
			gw->sweep_armed = 1;
			gw->inflight++;
		} else {
			left = 1;
		}
	}
	if (starved && !gw->refill_armed) {
		struct io_uring_sqe *sqe = tr_uring_sqe(gw->u, &gw->refill);
		if (sqe) {
			io_uring_prep_nop(sqe);
			gw->refill_armed = 1;
			gw->inflight++;
		} else {
			left = 1;
		}
	}
	gw->parked = left;
}

/* ---- lines ---- */

static void emit(struct tr_gateway *gw, struct conn *c, enum tr_gateway_event type,
		 const char *data, size_t len, int err)
{
	struct tr_gateway_ev ev = {
	    .type = type, .conn = c->id, .data = data, .len = len, .err = err};

	gw->cb(gw->ctx, &ev);
}

/* One complete line, newline removed, with padding after it. */
static void line_done(struct tr_gateway *gw, struct conn *c, const char *p, size_t n)
{
	if (n && p[n - 1] == '\r')
		n--;
	if (!n)
		return;
	if (n > gw->max_line) {
		gw->st.oversize++;
		emit(gw, c, TR_GATEWAY_OVERSIZE, p, gw->max_line, 0);
		return;
	}
	gw->st.lines++;
	emit(gw, c, TR_GATEWAY_LINE, p, n, 0);
}

/* Append n bytes of an unfinished line to the carry buffer; the caller
 * keeps carry_len + n <= max_line + 1 (room for a '\r' that does not
 * count). Returns 0 or -ENOMEM. */
static int carry_add(struct tr_gateway *gw, struct conn *c, const char *p, size_t n)
{
	size_t want = c->carry_len + n;

	if (want > c->carry_cap) {
		size_t cap = c->carry_cap ? c->carry_cap : 256;
		char *nc;

		while (cap < want)
			cap *= 2;
		if (cap > gw->max_line + 1)
			cap = gw->max_line + 1;
		nc = realloc(c->carry, cap + TR_GATEWAY_PADDING);
		if (!nc)
			return -ENOMEM;
		c->carry = nc;
		c->carry_cap = cap;
	}
	memcpy(c->carry + c->carry_len, p, n);
	c->carry_len = want;
	return 0;
}

static void conn_free(struct tr_gateway *gw, struct conn *c);

/* Frame the n bytes of a received buffer (which has padding after n). */
static void feed(struct tr_gateway *gw, struct conn *c, const char *p, size_t n)
{
	while (n) {
		const char *nl = memchr(p, '\n', n);
		size_t seg = nl ? (size_t)(nl - p) : n;

		if (c->discarding) {
			/* The rest of an oversize line, already reported. */
		} else if (!c->carry_len && nl) {
			line_done(gw, c, p, seg); /* the whole line is in this buffer */
		} else if (c->carry_len + seg > gw->max_line + 1) {
			/* Too long: report its first max_line bytes, skip the rest. */
			size_t have = c->carry_len < gw->max_line ? c->carry_len : gw->max_line;
			if (carry_add(gw, c, p, gw->max_line - have) == 0) {
				gw->st.oversize++;
				emit(gw, c, TR_GATEWAY_OVERSIZE, c->carry, gw->max_line, 0);
			} else {
				gw->st.errors++; /* out of memory: dropped unreported */
			}
			c->carry_len = 0;
			c->discarding = !nl;
		} else if (carry_add(gw, c, p, seg) < 0) {
			gw->st.errors++; /* out of memory: drop the line */
			c->carry_len = 0;
			c->discarding = !nl;
		} else if (nl) {
			line_done(gw, c, c->carry, c->carry_len);
			c->carry_len = 0;
		}
		if (!nl)
			return;
		c->discarding = 0;
		n -= seg + 1;
		p = nl + 1;
	}
}

/* ---- connections ---- */

static const char no_data[TR_GATEWAY_PADDING]; /* "" with padding, for empty events */

static void conn_free(struct tr_gateway *gw, struct conn *c)
{
	close(c->fd);
	gw->conns[c->slot] = NULL;
	gw->st.open--;
	free(c->carry);
	free(c);
}

/* The recv is over for good (EOF or error): report, then free. */
static void conn_end(struct tr_gateway *gw, struct conn *c, int err)
{
	if (c->carry_len)
		gw->st.partial++;
	emit(gw, c, TR_GATEWAY_CLOSE, c->carry_len ? c->carry : no_data, c->carry_len, err);
	conn_free(gw, c);
}

static void on_recv(struct tr_uring_op *op, const struct io_uring_cqe *cqe)
{
	struct conn *c = op->ctx;
	struct tr_gateway *gw = c->gw;

	c->active = 1;
	if (cqe->flags & IORING_CQE_F_BUFFER) {
		unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
		if (cqe->res > 0 && !gw->closing) {
			gw->st.bytes += (uint64_t)cqe->res;
			feed(gw, c, buf_addr(gw, bid), (size_t)cqe->res);
		}
		buf_put(gw, bid); /* any buffer the kernel hands us goes back */
	}
	if (cqe->flags & IORING_CQE_F_MORE)
		return;
	gw->inflight--;
	c->state = CONN_PARKED;
	if (gw->closing)
		return; /* close frees it */
	if (cqe->res > 0 || (cqe->res == -ECANCELED && c->nudged)) {
		/* Multishot ended with data (CQ overflow), or the sweep cancelled
		 * it: go on. */
		if (arm_recv(c) < 0)
			gw->parked = 1;
	} else if (cqe->res == -ENOBUFS) {
		gw->st.enobufs++;
		c->state = CONN_STARVED;
		gw->parked = 1;
		kick(gw);
	} else {
		if (cqe->res < 0)
			gw->st.errors++;
		conn_end(gw, c, cqe->res);
	}
}

/* The peer, for the OPEN event: address and port, or the Unix peer's
 * credentials. */
static void describe_peer(int fd, int is_unix, char *out, size_t n)
{
	if (is_unix) {
		struct ucred cr;
		socklen_t len = sizeof cr;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == 0)
			snprintf(out, n, "unix pid=%d uid=%u", (int)cr.pid, (unsigned)cr.uid);
		else
			snprintf(out, n, "unix");
		return;
	}
	struct sockaddr_storage ss = {.ss_family = AF_UNSPEC};
	socklen_t len = sizeof ss;
	char host[INET6_ADDRSTRLEN] = "?", port[8] = "?";
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0)
		getnameinfo((struct sockaddr *)&ss, len, host, sizeof host, port, sizeof port,
			    NI_NUMERICHOST | NI_NUMERICSERV);
	snprintf(out, n, ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
}

static void conn_new(struct tr_gateway *gw, int fd, int is_unix)
{
	char peer[128 + TR_GATEWAY_PADDING] = "";
	struct conn *c;
	unsigned slot;

	gw->st.accepted++;
	for (slot = 0; slot < gw->max_conns && gw->conns[slot]; slot++)
		;
	if (slot == gw->max_conns) {
		gw->st.rejected++;
		close(fd);
		return;
	}
	if (!(c = calloc(1, sizeof *c))) {
		gw->st.errors++;
		close(fd);
		return;
	}
	c->op.cb = on_recv;
	c->op.ctx = c;
	c->gw = gw;
	c->fd = fd;
	c->slot = slot;
	c->id = ++gw->next_id;
	c->state = CONN_PARKED;
	gw->conns[slot] = c;
	gw->st.open++;
	describe_peer(fd, is_unix, peer, 128);
	emit(gw, c, TR_GATEWAY_OPEN, peer, strlen(peer), 0);
	if (arm_recv(c) < 0 || !gw->sweep_armed) {
		gw->parked = 1;
		kick(gw);
	}
}

static void on_accept(struct tr_uring_op *op, const struct io_uring_cqe *cqe)
{
	struct listener *l = op->ctx;
	struct tr_gateway *gw = l->gw;

	if (!(cqe->flags & IORING_CQE_F_MORE)) {
		l->armed = 0;
		gw->inflight--;
	}
	if (cqe->res >= 0) {
		if (gw->closing)
			close(cqe->res);
		else
			conn_new(gw, cqe->res, l->is_unix);
	} else if (!gw->closing) {
		gw->st.errors++;
	}
	if (l->armed || gw->closing)
		return;
	if (cqe->res < 0) {
		/* EMFILE and the like would fail again at once: pause first. */
		struct io_uring_sqe *sqe = tr_uring_sqe(gw->u, &l->retry);
		if (sqe) {
			l->retry_ts.tv_sec = 0;
			l->retry_ts.tv_nsec = GW_ACCEPT_RETRY_NS;
			io_uring_prep_timeout(sqe, &l->retry_ts, 0, 0);
			l->waiting = 1;
			gw->inflight++;
			return;
		}
	}
	if (arm_accept(l) < 0)
		gw->parked = 1;
}

/* ---- listeners ---- */

static int listen_tcp(struct tr_gateway *gw, const char *spec)
{
	struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV,
				 .ai_socktype = SOCK_STREAM};
	struct addrinfo *ai = NULL;
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	char host[128], *port;
	int fd = -1, one = 1, rc;

	if (snprintf(host, sizeof host, "%s", spec) >= (int)sizeof host ||
	    !(port = strrchr(host, ':')))
		return tr_err(EINVAL, "gateway: tcp address \"%s\": want host:port", spec);
	*port++ = '\0';
	char *h = host;
	if (h[0] == '[' && port - host >= 3 && port[-2] == ']') {
		h++;
		port[-2] = '\0';
	}
	if ((rc = getaddrinfo(h, port, &hints, &ai)) != 0)
		return tr_err(EINVAL, "gateway: tcp address \"%s\": %s", spec, gai_strerror(rc));
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = tr_err(errno, "gateway: socket: %s", strerror(errno));
		goto err;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, SOMAXCONN) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		rc = tr_err(errno, "gateway: listen on %s: %s", spec, strerror(errno));
		goto err;
	}
	gw->tcp_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						      : ((struct sockaddr_in *)&ss)->sin_port);
	gw->lis[0].fd = fd;
	freeaddrinfo(ai);
	return 0;
err:
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return rc;
}

/* Remove a socket file left by a gateway that is gone; refuse anything else. */
static int unix_clear(const char *path, const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0
				       : tr_err(errno, "gateway: %s: %s", path, strerror(errno));
	if (!S_ISSOCK(st.st_mode))
		return tr_err(EEXIST, "gateway: %s exists and is not a socket; left alone", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return tr_err(errno, "gateway: socket: %s", strerror(errno));
	rc = connect(fd, (const struct sockaddr *)sa, sizeof *sa) == 0 ? 0 : errno;
	close(fd);
	if (rc == 0)
		return tr_err(EADDRINUSE, "gateway: %s: another process is listening", path);
	if (rc != ECONNREFUSED)
		return tr_err(rc, "gateway: probe %s: %s", path, strerror(rc));
	if (unlink(path) < 0 && errno != ENOENT)
		return tr_err(errno, "gateway: unlink stale %s: %s", path, strerror(errno));
	return 0;
}

static int listen_unix(struct tr_gateway *gw, const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, rc;

	if (strlen(path) >= sizeof sa.sun_path)
		return tr_err(ENAMETOOLONG, "gateway: unix path too long: %s", path);
	strcpy(sa.sun_path, path);
	if ((rc = unix_clear(path, &sa)) < 0)
		return rc;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return tr_err(errno, "gateway: socket: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		rc = tr_err(errno, "gateway: bind %s: %s", path, strerror(errno));
		close(fd);
		return rc;
	}
	/* Not listening yet, so nobody connects before the mode is right. */
	if (chmod(path, 0660) < 0 || listen(fd, SOMAXCONN) < 0 || !(gw->unix_path = strdup(path))) {
		rc = tr_err(errno, "gateway: listen on %s: %s", path, strerror(errno));
		unlink(path);
		close(fd);
		return rc;
	}
	gw->lis[1].fd = fd;
	return 0;
}

/* ---- open, close ---- */

int tr_gateway_open(struct tr_gateway **out, struct tr_uring *u,
		    const struct tr_gateway_config *cfg, tr_gateway_line_cb cb, void *ctx)
{
	struct tr_gateway_config d;
	struct tr_gateway *gw;
	int rc;

	*out = NULL;
	tr_gateway_config_default(&d);
	if (!cb || (!cfg->tcp && !cfg->unix_path))
		return tr_err(EINVAL, "gateway: needs a callback and a tcp address or unix path");
	if (cfg->buf_count > 32768 || (cfg->buf_count & (cfg->buf_count - 1)) ||
	    cfg->buf_size > (1u << 30) || cfg->max_line > (1u << 30))
		return tr_err(EINVAL,
			      "gateway: buf_count %u: want a power of two <= 32768; "
			      "buf_size %u, max_line %zu: want <= 1 GiB",
			      cfg->buf_count, cfg->buf_size, cfg->max_line);
	if (!(gw = calloc(1, sizeof *gw)))
		return tr_err(ENOMEM, "gateway: out of memory");
	gw->u = u;
	gw->cb = cb;
	gw->ctx = ctx;
	gw->max_conns = cfg->max_conns ? cfg->max_conns : d.max_conns;
	gw->max_line = cfg->max_line ? cfg->max_line : d.max_line;
	gw->buf_count = cfg->buf_count ? cfg->buf_count : d.buf_count;
	gw->buf_size = cfg->buf_size ? cfg->buf_size : d.buf_size;
	gw->bgid = cfg->buf_group ? cfg->buf_group : d.buf_group;
	gw->refill.cb = on_refill;
	gw->refill.ctx = gw;
	gw->sweep.cb = on_sweep;
	gw->sweep.ctx = gw;
	for (int i = 0; i < 2; i++) {
		struct listener *l = &gw->lis[i];
		l->op.cb = on_accept;
		l->op.ctx = l;
		l->retry.cb = on_retry;
		l->retry.ctx = l;
		l->gw = gw;
		l->fd = -1;
		l->is_unix = i;
	}
	if (!(gw->conns = calloc(gw->max_conns, sizeof *gw->conns))) {
		free(gw);
		return tr_err(ENOMEM, "gateway: out of memory");
	}
	if ((rc = bufs_setup(gw)) < 0) {
		free(gw->pool);
		free(gw->br);
		free(gw->conns);
		free(gw);
		return rc;
	}
	if ((cfg->tcp && (rc = listen_tcp(gw, cfg->tcp)) < 0) ||
	    (cfg->unix_path && (rc = listen_unix(gw, cfg->unix_path)) < 0)) {
		tr_gateway_close(gw);
		return rc;
	}
	gw->parked = 1;
	kick(gw);
	if (gw->parked) {
		rc = tr_err(EBUSY, "gateway: no submission slot for the accepts");
		tr_gateway_close(gw);
		return rc;
	}
	if ((rc = tr_uring_submit(u)) < 0) {
		rc = tr_err(rc, "gateway: submit accepts: %s", strerror(-rc));
		tr_gateway_close(gw);
		return rc;
	}
	*out = gw;
	return 0;
}

/* A submission slot for a cancellation, reaping to make room if need be. */
static struct io_uring_sqe *close_sqe(struct tr_gateway *gw)
{
	struct io_uring_sqe *sqe;

	for (int i = 0; i < 100; i++) {
		if ((sqe = tr_uring_sqe(gw->u, NULL)))
			return sqe;
		tr_uring_wait(gw->u, 10000000);
	}
	return NULL;
}

static void cancel(struct tr_gateway *gw, struct tr_uring_op *op)
{
	struct io_uring_sqe *sqe = close_sqe(gw);

	if (sqe)
		io_uring_prep_cancel(sqe, op, 0);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int tr_gateway_close(struct tr_gateway *gw)
{
	int64_t deadline = now_ns() + GW_CLOSE_NS;

	if (!gw)
		return 0;
	gw->closing = 1;
	for (int i = 0; i < 2; i++) {
		if (gw->lis[i].armed)
			cancel(gw, &gw->lis[i].op);
		if (gw->lis[i].waiting)
			cancel(gw, &gw->lis[i].retry);
	}
	for (unsigned i = 0; i < gw->max_conns; i++)
		if (gw->conns[i] && gw->conns[i]->state == CONN_ARMED)
			cancel(gw, &gw->conns[i]->op);
	if (gw->sweep_armed)
		cancel(gw, &gw->sweep);
	/* The refill NOP completes on its own. */
	while (gw->inflight && now_ns() < deadline)
		tr_uring_wait(gw->u, 100000000);
	if (gw->inflight)
		return tr_err(ETIMEDOUT,
			      "gateway: %u operations still in the kernel after 5 s; "
			      "leaking their memory",
			      gw->inflight);
	for (unsigned i = 0; i < gw->max_conns; i++)
		if (gw->conns[i])
			conn_free(gw, gw->conns[i]);
	for (int i = 0; i < 2; i++)
		if (gw->lis[i].fd >= 0)
			close(gw->lis[i].fd);
	if (gw->unix_path) {
		unlink(gw->unix_path);
		free(gw->unix_path);
	}
	io_uring_unregister_buf_ring(&gw->u->ring, gw->bgid);
	free(gw->br);
	free(gw->pool);
	free(gw->conns);
	free(gw);
	return 0;
}

unsigned tr_gateway_tcp_port(const struct tr_gateway *gw)
{
	return gw->tcp_port;
}

void tr_gateway_stats(const struct tr_gateway *gw, struct tr_gateway_stats *out)
{
	*out = gw->st;
}
