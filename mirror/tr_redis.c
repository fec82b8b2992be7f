/* tr_redis.c - the Redis mirror (tr_redis.h): one thread, pipelined.
 *
 * Sources. Each enabled kind has a pub/sub source (tr_msrc) that starts at
 * the ring's head when the mirror starts (pub/sub is for who listens now, not
 * a history) and, with redis-streams, a stream source that starts after the
 * checkpoint. The two read in lockstep while Redis is up: the stream source
 * reads a record right after the pub/sub source has, and the JSON formatted
 * for PUBLISH is reused for XADD. They part only around an outage: pub/sub
 * keeps draining the ring (its records counted as dropped, since pub/sub
 * keeps nothing for later) while the stream source stops, so the rings and
 * the journal hold what the streams still need; once Redis is back the stream
 * source catches up, and the lockstep resumes when it reaches the pub/sub one.
 *
 * Writing. hiredis makes the connection (blocking, with a 1 s timeout, AUTH
 * and SELECT included); from then on the mirror drives the non-blocking
 * socket itself (tr_resp.h). Commands are RESP-encoded straight into one
 * buffer (a batch is at most redis-pipeline of them; the PUBLISH command and
 * channel, and the JSON's first members, are kept per symbol) and written
 * from it; replies are skimmed in place, without an object per reply, and
 * matched in order against the queue of commands in flight. That queue is
 * capped at four batches, so a slow server costs bounded memory, and once it
 * is nearly full it is refilled a whole batch at a time: large writes, few
 * wake-ups, and the server always has the next batch waiting in its socket.
 *
 * Streams. Every XADD uses the explicit id 0-<seq>, so Redis itself refuses
 * a record it already holds ("equal or smaller than the target stream top
 * item"): what is resent after a reconnect or a restart (in flight, or
 * delivered after the last checkpoint) lands exactly once. A reply acks its
 * seq in the kind's tr_ackwin; the watermark goes to the checkpoint file.
 * When the connection breaks, the XADDs in flight are counted failed and the
 * stream source is reopened after the watermark.
 *
 * Hashes. Every redis-latest-ms the latest table is read through the reader
 * API and each part that changed since it was last written (trade and quote
 * by seq, stats and candles by a hash of their bytes) is written with one
 * HSET per key; after a reconnect, an error reply or a new region every part
 * counts as changed, so the hashes are rewritten from the table.
 *
 * Counters: struct tr_mirror_stats, see the README's "Redis" section.
 */
#define _GNU_SOURCE
#include "tr_redis.h"

#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "tr_err.h"
#include "tr_fixed.h"
#include "tr_format.h"
#include "tr_log.h"
#include "tr_msrc.h"
#include "tr_reader.h"
#include "tr_resp.h"

#define RD_QUANTUM 64		   /* records per kind per turn: no ring starves the others */
#define RD_IDLE_NS 2000000ll	   /* first wait on a ring once every ring is empty */
#define RD_IDLE_MAX_NS 16000000ll  /* it doubles while they stay empty, up to this */
#define RD_BACKOFF_MIN_MS 100	   /* first reconnect delay; doubles per failure */
#define RD_BACKOFF_MAX_MS 5000	   /* reconnect delay cap */
#define RD_CONNECT_TIMEOUT_MS 1000 /* connect, AUTH and SELECT */
#define RD_REPLY_TIMEOUT_NS 10000000000ll /* no reply for this long: the connection is dead */
#define RD_CKPT_EVERY_NS 200000000ll	  /* checkpoint file rewritten at most this often */
#define RD_STOP_DRAIN_NS 5000000000ll	  /* on stop, time left to send what is there */
#define RD_STILL_DOWN_NS 60000000000ll	  /* "still down" reminder in the log */
#define RD_FLAP_NS 1000000000ll /* a connection lost younger than this: keep backing off */
#define RD_PREFIX_MAX 64
#define RD_SNDBUF (1 << 20) /* socket send buffer asked for */

static const char *const kind_names[TR_NKINDS] = {"trades", "quotes", "candles", "events"};

/* ---- Configuration ---- */

struct rd_cfg {
	struct tr_redis_url url;
	char password[256]; /* redis-password: used when the URL has none */
	char prefix[RD_PREFIX_MAX + 1];
	unsigned kinds; /* bit per enum tr_kind */
	unsigned latest_ms;
	int streams;
	uint64_t maxlen;      /* 0: no trimming */
	char checkpoint[512]; /* "": none */
	unsigned pipeline;
};

static int errf(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int errf(char *err, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (err && n)
		vsnprintf(err, n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Unsigned decimal s into *v, within [min, max]. */
static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *v)
{
	uint64_t x = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || x > (UINT64_MAX - 9) / 10)
			return -1;
		x = x * 10 + (uint64_t)(*s - '0');
	}
	if (x < min || x > max)
		return -1;
	*v = x;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* s[0..n) %-decoded into out (size cap). 0 or -1. */
static int pct_decode(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '%') {
			int h, l;
			if (i + 2 >= n || (h = hexval(s[i + 1])) < 0 || (l = hexval(s[i + 2])) < 0)
				return -1;
			c = (char)(h * 16 + l);
			i += 2;
		}
		if (c == 0 || o + 1 >= cap)
			return -1;
		out[o++] = c;
	}
	out[o] = 0;
	return 0;
}

int tr_redis_url_parse(const char *s, struct tr_redis_url *u, char *err, size_t errlen)
{
	memset(u, 0, sizeof *u);
	u->port = 6379;
	if (!strncmp(s, "unix://", 7)) {
		const char *p = s + 7, *q = strchr(p, '?');
		size_t n = q ? (size_t)(q - p) : strlen(p);
		uint64_t db;

		if (n == 0 || p[0] != '/')
			return errf(err, errlen, "'%s': unix:// needs an absolute socket path", s);
		if (n >= sizeof u->path)
			return errf(err, errlen, "'%s': socket path too long", s);
		memcpy(u->path, p, n);
		u->is_unix = 1;
		if (q) {
			if (strncmp(q, "?db=", 4) || parse_u64(q + 4, 0, 1000000, &db) < 0)
				return errf(err, errlen,
					    "'%s': expected ?db=N after the socket path", s);
			u->db = (int)db;
		}
		return 0;
	}
	if (!strncmp(s, "rediss://", 9))
		return errf(err, errlen, "'%s': TLS (rediss://) is not supported (hiredis 0.14)",
			    s);
	if (strncmp(s, "redis://", 8))
		return errf(err, errlen, "'%s': expected redis://host[:port][/db] or unix:///path",
			    s);
	const char *p = s + 8;
	const char *slash = strchr(p, '/');
	const char *end = slash ? slash : p + strlen(p);
	const char *at = memrchr(p, '@', (size_t)(end - p));
	if (at) {
		const char *colon = memchr(p, ':', (size_t)(at - p));
		const char *uend = colon ? colon : at;
		if (pct_decode(p, (size_t)(uend - p), u->user, sizeof u->user) < 0 ||
		    (colon && pct_decode(colon + 1, (size_t)(at - colon - 1), u->password,
					 sizeof u->password) < 0))
			return errf(err, errlen, "'%s': bad user or password (use %%XX escapes)",
				    s);
		if (u->user[0] && !u->password[0])
			return errf(err, errlen, "'%s': a user needs a password", s);
		p = at + 1;
	}
	const char *hend, *portp = NULL;
	if (*p == '[') {
		const char *rb = memchr(p, ']', (size_t)(end - p));
		if (!rb)
			return errf(err, errlen, "'%s': unclosed [ in the host", s);
		if (rb + 1 < end && rb[1] != ':')
			return errf(err, errlen, "'%s': junk after ]", s);
		portp = rb + 1 < end ? rb + 2 : NULL;
		p++;
		hend = rb;
	} else {
		const char *colon = memchr(p, ':', (size_t)(end - p));
		hend = colon ? colon : end;
		portp = colon ? colon + 1 : NULL;
	}
	if (hend == p)
		return errf(err, errlen, "'%s': no host", s);
	if ((size_t)(hend - p) >= sizeof u->host)
		return errf(err, errlen, "'%s': host too long", s);
	memcpy(u->host, p, (size_t)(hend - p));
	if (portp) {
		char buf[8];
		uint64_t port;
		size_t n = (size_t)(end - portp);
		if (n == 0 || n >= sizeof buf)
			return errf(err, errlen, "'%s': bad port", s);
		memcpy(buf, portp, n);
		buf[n] = 0;
		if (parse_u64(buf, 1, 65535, &port) < 0)
			return errf(err, errlen, "'%s': bad port '%s'", s, buf);
		u->port = (int)port;
	}
	if (slash && slash[1]) {
		uint64_t db;
		if (parse_u64(slash + 1, 0, 1000000, &db) < 0)
			return errf(err, errlen, "'%s': bad database number '%s'", s, slash + 1);
		u->db = (int)db;
	}
	return 0;
}

/* "trades,quotes" into kind bits. */
static int parse_kinds(const char *v, unsigned *bits, char *err, size_t errlen)
{
	char buf[128];
	unsigned b = 0;

	if (strlen(v) >= sizeof buf)
		return errf(err, errlen, "'%s': too long", v);
	strcpy(buf, v);
	for (char *save = NULL, *t = strtok_r(buf, ", ", &save); t;
	     t = strtok_r(NULL, ", ", &save)) {
		unsigned k;
		for (k = 0; k < TR_NKINDS; k++)
			if (!strcmp(t, kind_names[k]))
				break;
		if (k == TR_NKINDS)
			return errf(err, errlen,
				    "'%s': unknown kind (trades, quotes, candles, events)", t);
		b |= 1u << k;
	}
	if (!b)
		return errf(err, errlen, "no kind given (trades, quotes, candles, events)");
	*bits = b;
	return 0;
}

static int parse_bool(const char *v, int *out)
{
	if (!strcmp(v, "yes") || !strcmp(v, "on") || !strcmp(v, "true") || !strcmp(v, "1"))
		*out = 1;
	else if (!strcmp(v, "no") || !strcmp(v, "off") || !strcmp(v, "false") || !strcmp(v, "0"))
		*out = 0;
	else
		return -1;
	return 0;
}

static void cfg_default(struct rd_cfg *c)
{
	memset(c, 0, sizeof *c);
	strcpy(c->prefix, "tickring");
	c->kinds = (1u << TR_NKINDS) - 1;
	c->latest_ms = 100;
	c->maxlen = 100000;
	c->pipeline = 256;
}

/* Apply one directive to c. 0 or -EINVAL with the reason in err. */
static int cfg_set(struct rd_cfg *c, const char *name, const char *v, char *err, size_t errlen)
{
	uint64_t x;

	if (!strcmp(name, "redis-url"))
		return tr_redis_url_parse(v, &c->url, err, errlen);
	if (!strcmp(name, "redis-password")) {
		if (!*v || strlen(v) >= sizeof c->password)
			return errf(err, errlen, "empty or too long");
		strcpy(c->password, v);
		return 0;
	}
	if (!strcmp(name, "redis-prefix")) {
		size_t n = strlen(v);
		if (n == 0 || n > RD_PREFIX_MAX)
			return errf(err, errlen, "'%s': 1 to %d characters", v, RD_PREFIX_MAX);
		for (size_t i = 0; i < n; i++)
			if (v[i] <= ' ' || v[i] > '~' || strchr("*?[]", v[i]))
				return errf(err, errlen,
					    "'%s': printable characters only, no space or *?[]", v);
		strcpy(c->prefix, v);
		return 0;
	}
	if (!strcmp(name, "redis-kinds"))
		return parse_kinds(v, &c->kinds, err, errlen);
	if (!strcmp(name, "redis-latest-ms")) {
		if (parse_u64(v, 0, 3600000, &x) < 0)
			return errf(err, errlen, "'%s': milliseconds 0 (no hashes) to 3600000", v);
		c->latest_ms = (unsigned)x;
		return 0;
	}
	if (!strcmp(name, "redis-streams"))
		return parse_bool(v, &c->streams) < 0 ? errf(err, errlen, "'%s': yes or no", v) : 0;
	if (!strcmp(name, "redis-stream-maxlen")) {
		if (parse_u64(v, 0, 1ull << 40, &x) < 0)
			return errf(err, errlen, "'%s': entries, 0 (no trimming) to 2^40", v);
		c->maxlen = x;
		return 0;
	}
	if (!strcmp(name, "redis-checkpoint")) {
		if (!*v || strlen(v) >= sizeof c->checkpoint)
			return errf(err, errlen, "empty or too long path");
		strcpy(c->checkpoint, v);
		return 0;
	}
	if (!strcmp(name, "redis-pipeline")) {
		if (parse_u64(v, 1, 65536, &x) < 0)
			return errf(err, errlen, "'%s': commands per flush, 1 to 65536", v);
		c->pipeline = (unsigned)x;
		return 0;
	}
	return errf(err, errlen, "unknown directive (see tickringd --help)");
}

static int redis_check(const char *name, const char *value, char *err, size_t errlen)
{
	struct rd_cfg c;

	cfg_default(&c);
	return cfg_set(&c, name, value, err, errlen);
}

/* ---- Output ---- */

static void put_str(struct tr_resp_buf *b, const char *s)
{
	tr_resp_arg(b, s, strlen(s));
}

/* ---- State ---- */

union rd_rec {
	struct tr_trade t;
	struct tr_quote q;
	struct tr_candle c;
	struct tr_event e;
	uint64_t w[16];
};

/* A tr_msrc with room for one record taken early (by a wait, or refused by a
 * full delivery window) and handed out first next time. */
struct rd_src {
	struct tr_msrc *m;
	int stashed;
	union rd_rec stash;
	struct tr_msrc_info stash_info;
	uint64_t after;		    /* where it was opened */
	struct tr_msrc_stats prior; /* of earlier incarnations (reopened after outages) */
};

struct rd_kind {
	int on;
	struct rd_src pub, str; /* str.m NULL without streams */
	struct tr_ackwin *win;	/* stream deliveries; NULL until the first XADD */
	uint64_t pub_wm;	/* every pub/sub seq up to here published or dropped */
	uint64_t pub_last;	/* last PUBLISH queued */
	uint64_t pub_inflight;	/* PUBLISHes without a reply */
};

enum { OP_PUB = 1, OP_XADD = 2, OP_HSET = 3 };

struct rd_pend {
	uint8_t op, kind;
	uint64_t seq;
};

/* The heads of one symbol's records of one kind: the PUBLISH command with
 * its channel, "*3\r\n$7\r\nPUBLISH\r\n$<n>\r\n<channel>\r\n" (none for candles,
 * whose channel names the interval too), and the JSON head from
 * tr_format_json_head(). Names never change in a region (its tables are
 * append-only), so the heads of a known symbol hold until the pub/sub
 * source opens another region file; unknown names are not kept. */
#define RD_PUB_HEAD_MAX 192
#define RD_JSON_HEAD_MAX 384 /* 315 with every name byte escaped as \u00XX */

struct rd_head {
	uint32_t venue;
	uint16_t publen, jsonlen;
	char pub[RD_PUB_HEAD_MAX];
	char json[RD_JSON_HEAD_MAX];
};

struct rd_heads {
	struct rd_head **h; /* by symbol id */
	uint32_t n;	    /* slots in h */
	uint64_t reopens;   /* the source's region opens they were made for */
};

/* What the hashes last got from the latest table, per symbol. */
struct rd_mark {
	uint64_t trade, quote, stats;
	uint64_t candle[TR_MAX_INTERVALS];
};

struct rd {
	struct rd_cfg cfg;
	const struct tr_mirror_args *a;
	struct tr_mirror_stats *st;
	char url_shown[600]; /* the URL without its password, for the log */
	redisContext *c;
	struct tr_resp_buf out, args, in;
	size_t out_sent;   /* bytes of out already written to the socket */
	int wblocked;	   /* the socket refused a write: wait for POLLOUT */
	int rready;	   /* waited on the socket since replies were last read */
	int lowat;	   /* SO_RCVLOWAT set on the socket (TCP) */
	unsigned out_cmds; /* commands added to out since the last flush */
	struct rd_pend *q;
	size_t qcap, qhead,
	    qlen;	     /* ring of commands in flight, oldest at qhead; qcap a power of 2 */
	size_t inflight_cap; /* records in flight at most */
	struct rd_kind k[TR_NKINDS];
	int first; /* first enabled kind: its pub/sub source is the idle wait's and the hashes' */
	unsigned rr;
	struct rd_mark *marks;
	uint32_t nmarks;
	uint64_t marks_reopens;
	int64_t next_latest, next_connect, backoff_ms, last_reply, last_ckpt, down_since,
	    connected_at, connect_logged, down_logged;
	uint64_t dropped_at_down;
	uint64_t ckpt[TR_NKINDS];
	int ckpt_dirty, ever_connected, final_hashes;
	int64_t idle_ns; /* current idle slice */
	int64_t hash_err_logged, reply_err_logged;
	char json[TR_FORMAT_BUFSZ], json2[TR_FORMAT_BUFSZ], val[TR_FORMAT_BUFSZ];
	char chan[TR_NKINDS][RD_PREFIX_MAX + 16]; /* "<prefix>:<kind>:" */
	size_t chan_len[TR_NKINDS];
	struct tr_resp_reply reply;
	struct rd_heads heads[TR_NKINDS];
	struct rd_head scratch; /* the heads of a record whose names are not kept */
};

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The counters have one writer, this thread: a relaxed load and store, no
 * read-modify-write; readers take relaxed snapshots with no ordering. */
static inline void st_add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

static inline void st_set(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c, v, memory_order_relaxed);
}

/* ---- Sources ---- */

static int src_open(struct rd *m, struct rd_src *s, unsigned kind, uint64_t after)
{
	struct tr_msrc_config mc = {
	    .instance = m->a->instance,
	    .journal_dir = m->a->journal_dir,
	    .kind = kind,
	    .after_seq = after,
	};
	int rc = tr_msrc_open(&s->m, &mc);

	if (rc < 0)
		return tr_err_ctx(-rc, "redis: %s source", kind_names[kind]);
	s->after = after;
	s->stashed = 0;
	return 0;
}

static void src_close(struct rd_src *s)
{
	if (!s->m)
		return;
	const struct tr_msrc_stats *x = tr_msrc_stats(s->m);
	s->prior.delivered += x->delivered;
	s->prior.from_journal += x->from_journal;
	s->prior.lost += x->lost;
	s->prior.laps += x->laps;
	s->prior.rewinds += x->rewinds;
	s->prior.reopens += x->reopens;
	tr_msrc_close(s->m);
	s->m = NULL;
	s->stashed = 0;
}

/* Next record, the stashed one first. 1 or 0 (nothing). */
static int src_take(struct rd_src *s, union rd_rec *rec, struct tr_msrc_info *info,
		    int64_t timeout_ns)
{
	if (s->stashed) {
		*rec = s->stash;
		*info = s->stash_info;
		s->stashed = 0;
		return 1;
	}
	return tr_msrc_next(s->m, rec, info, timeout_ns) == 1;
}

static void src_stash(struct rd_src *s, const union rd_rec *rec, const struct tr_msrc_info *info)
{
	s->stash = *rec;
	s->stash_info = *info;
	s->stashed = 1;
}

/* Seq the source hands out next. */
static uint64_t src_position(const struct rd_src *s)
{
	return s->stashed ? s->stash_info.seq : tr_msrc_position(s->m);
}

/* Where pub/sub starts: after the ring's current head (pub/sub serves who
 * listens now), or at the tail once the region appears. */
static uint64_t pub_start(const char *instance, unsigned kind)
{
	struct tr_region *r;
	uint64_t h;

	if (tr_region_open(&r, instance, TR_OPEN_ANY_STATE | TR_OPEN_NO_CTL) < 0)
		return TR_MSRC_TAIL;
	h = tr_region_head(r, kind);
	tr_region_close(r);
	return h;
}

/* ---- Names ---- */

/* The symbol and venue ids of a record. */
static void rec_ids(unsigned kind, const union rd_rec *rec, uint32_t *sym, uint32_t *venue)
{
	switch (kind) {
	case TR_KIND_TRADE:
		*sym = rec->t.symbol_id, *venue = rec->t.venue_id;
		break;
	case TR_KIND_QUOTE:
		*sym = rec->q.symbol_id, *venue = rec->q.venue_id;
		break;
	case TR_KIND_CANDLE:
		*sym = rec->c.symbol_id, *venue = rec->c.venue_id;
		break;
	default:
		*sym = rec->e.symbol_id, *venue = rec->e.venue_id;
		break;
	}
}

/* "<prefix>:<kind>[:<interval>]:<venue>:<SYMBOL>" for a record; venue and
 * symbol as tr_format_json() names them ("?" and "#<id>" when unknown), "-"
 * for an event about no symbol. Returns the length (out: 256 bytes). */
static size_t channel(const struct rd *m, const struct tr_region *r, unsigned kind,
		      const union rd_rec *rec, char *out)
{
	uint32_t sym, venue;
	size_t n = m->chan_len[kind];
	char ib[TR_INTERVAL_BUFSZ];

	rec_ids(kind, rec, &sym, &venue);
	memcpy(out, m->chan[kind], n);
	if (kind == TR_KIND_CANDLE) {
		const char *in = tr_interval_name(rec->c.interval_s, ib);
		size_t il = strlen(in);
		memcpy(out + n, in, il);
		n += il;
		out[n++] = ':';
	}
	const char *v = r ? tr_venue_name(r, venue) : "?";
	size_t vl = strnlen(v, TR_VENUE_LEN);
	memcpy(out + n, v, vl);
	n += vl;
	out[n++] = ':';
	struct tr_symbol s;
	if (sym == UINT32_MAX) {
		out[n++] = '-';
	} else if (r && sym < tr_symbol_count(r) && tr_symbol_get(r, sym, &s) == 0) {
		size_t sl = strnlen(s.name, TR_NAME_LEN);
		memcpy(out + n, s.name, sl);
		n += sl;
	} else {
		out[n++] = '#';
		n += tr_resp_u64(sym, out + n);
	}
	out[n] = 0;
	return n;
}

/* ---- Commands in flight ---- */

static void q_push(struct rd *m, uint8_t op, unsigned kind, uint64_t seq)
{
	if (m->qlen == m->qcap) {
		size_t cap = m->qcap ? m->qcap * 2 : 4096;
		struct rd_pend *q = malloc(cap * sizeof *q);
		if (!q) {
			tr_log(TR_LOG_ERROR, "redis: out of memory");
			abort();
		}
		for (size_t i = 0; i < m->qlen; i++)
			q[i] = m->q[(m->qhead + i) & (m->qcap - 1)];
		free(m->q);
		m->q = q;
		m->qcap = cap;
		m->qhead = 0;
	}
	m->q[(m->qhead + m->qlen) & (m->qcap - 1)] = (struct rd_pend){op, (uint8_t)kind, seq};
	m->qlen++;
	m->out_cmds++;
}

static void stream_acked(struct rd *m, unsigned kind, uint64_t seq)
{
	struct rd_kind *k = &m->k[kind];

	if (!k->win)
		return;
	uint64_t w = tr_ackwin_ack(k->win, seq);
	if (w != m->ckpt[kind]) {
		m->ckpt[kind] = w;
		m->ckpt_dirty = 1;
	}
}

/* ---- Records: PUBLISH and XADD ---- */

static void heads_clear(struct rd_heads *hs)
{
	for (uint32_t i = 0; i < hs->n; i++)
		free(hs->h[i]);
	free(hs->h);
	hs->h = NULL;
	hs->n = 0;
}

/* The PUBLISH command and channel of rec into h->pub. */
static void make_pub_head(const struct rd *m, unsigned kind, const struct tr_region *r,
			  const union rd_rec *rec, struct rd_head *h)
{
	char chan[256];
	size_t cl = channel(m, r, kind, rec, chan), n;

	memcpy(h->pub, "*3\r\n$7\r\nPUBLISH\r\n$", 18);
	n = 18 + tr_resp_u64(cl, h->pub + 18);
	h->pub[n++] = '\r';
	h->pub[n++] = '\n';
	memcpy(h->pub + n, chan, cl);
	n += cl;
	h->pub[n++] = '\r';
	h->pub[n++] = '\n';
	h->publen = (uint16_t)n;
}

/* The heads for rec: kept ones, or made (and kept when its names are
 * known). NULL if the JSON head does not fit (never for a known kind). */
static const struct rd_head *heads_for(struct rd *m, unsigned kind, const struct tr_region *r,
				       const union rd_rec *rec)
{
	struct rd_heads *hs = &m->heads[kind];
	uint64_t reopens = tr_msrc_stats(m->k[kind].pub.m)->reopens;
	struct rd_head *h = &m->scratch;
	uint32_t sym, venue;
	int stable, jl;

	rec_ids(kind, rec, &sym, &venue);
	if (hs->reopens != reopens) {
		heads_clear(hs);
		hs->reopens = reopens;
	}
	if (sym < hs->n && hs->h[sym] && hs->h[sym]->venue == venue)
		return hs->h[sym];
	jl = tr_format_json_head(r, kind, rec, h->json, sizeof h->json, &stable);
	if (jl < 0)
		return NULL;
	h->venue = venue;
	h->jsonlen = (uint16_t)jl;
	h->publen = 0;
	if (kind != TR_KIND_CANDLE)
		make_pub_head(m, kind, r, rec, h);
	if (!stable || sym == UINT32_MAX)
		return h;
	if (sym >= hs->n) {
		uint32_t n = hs->n ? hs->n : 64;
		while (n <= sym)
			n *= 2;
		struct rd_head **t = realloc(hs->h, n * sizeof *t);
		if (!t)
			return h; /* not kept: made again next time */
		memset(t + hs->n, 0, (n - hs->n) * sizeof *t);
		hs->h = t;
		hs->n = n;
	}
	if (!hs->h[sym] && !(hs->h[sym] = malloc(sizeof *h)))
		return h;
	*hs->h[sym] = *h;
	return hs->h[sym];
}

/* XADD rec to its kind's stream, with json if it is already formatted.
 * 0, or -ENOSPC when the delivery window is full (nothing sent). */
static int xadd(struct rd *m, unsigned kind, const union rd_rec *rec,
		const struct tr_msrc_info *info, const char *json, int jl)
{
	struct rd_kind *k = &m->k[kind];
	char key[RD_PREFIX_MAX + 32], id[24];

	if (!k->win) {
		/* Opened after the checkpoint, or at the tail: what came before
		 * this record is not ours to deliver. */
		uint64_t after = k->str.after == TR_MSRC_TAIL || k->str.after == 0
				     ? info->seq - 1 - info->lost_before
				     : k->str.after;
		if (tr_ackwin_create(&k->win, m->inflight_cap, after) < 0) {
			tr_log(TR_LOG_ERROR, "redis: out of memory");
			abort();
		}
	}
	int rc = tr_ackwin_add(k->win, info->seq);
	if (rc == -ENOSPC)
		return -ENOSPC;
	if (rc == -EINVAL) {
		/* The engine went back in sequence (its journal was deleted):
		 * the window starts over; Redis refuses the ids it holds. */
		tr_ackwin_free(k->win);
		if (tr_ackwin_create(&k->win, m->inflight_cap, info->seq - 1) < 0) {
			tr_log(TR_LOG_ERROR, "redis: out of memory");
			abort();
		}
		tr_ackwin_add(k->win, info->seq);
	}
	if (!json) {
		jl = tr_format_json(tr_msrc_region(k->str.m), kind, rec, info->epoch, m->json2,
				    sizeof m->json2);
		json = m->json2;
	}
	st_add(&m->st->redis_stream_read, 1);
	if (info->from_journal)
		st_add(&m->st->redis_stream_from_journal, 1);
	if (info->lost_before)
		st_add(&m->st->redis_stream_lost, info->lost_before);
	if (jl < 0) {
		/* Only an unknown kind fails; never expected, but not worth a stop. */
		st_add(&m->st->failed, 1);
		st_add(&m->st->dropped, 1);
		stream_acked(m, kind, info->seq);
		return 0;
	}
	size_t kl =
	    (size_t)snprintf(key, sizeof key, "%s:stream:%s", m->cfg.prefix, kind_names[kind]);
	id[0] = '0';
	id[1] = '-';
	size_t il = 2 + tr_resp_u64(info->seq, id + 2);
	struct tr_resp_buf *b = &m->out;
	tr_resp_count(b, '*', m->cfg.maxlen ? 8 : 5);
	tr_resp_arg(b, "XADD", 4);
	tr_resp_arg(b, key, kl);
	if (m->cfg.maxlen) {
		tr_resp_arg(b, "MAXLEN", 6);
		tr_resp_arg(b, "~", 1);
		tr_resp_arg_u64(b, m->cfg.maxlen);
	}
	tr_resp_arg(b, id, il);
	tr_resp_arg(b, "json", 4);
	tr_resp_arg(b, json, (size_t)jl);
	q_push(m, OP_XADD, kind, info->seq);
	st_add(&m->st->sent, 1);
	return 0;
}

/* One turn of kind `kind`: up to RD_QUANTUM records of pub/sub (each also
 * XADDed when the stream source is level with it), then stream catch-up
 * while the stream source is behind. Returns the commands added. */
static unsigned kind_turn(struct rd *m, unsigned kind, unsigned budget)
{
	struct rd_kind *k = &m->k[kind];
	union rd_rec rec, rec2;
	struct tr_msrc_info info, info2;
	unsigned n = 0;

	for (unsigned i = 0; i < RD_QUANTUM && n < budget; i++) {
		if (!src_take(&k->pub, &rec, &info, 0))
			break;
		const struct tr_region *r = tr_msrc_region(k->pub.m);
		st_add(&m->st->read[kind], 1);
		if (info.from_journal)
			st_add(&m->st->from_journal, 1);
		if (info.lost_before)
			st_add(&m->st->lost, info.lost_before);
		const struct rd_head *h = heads_for(m, kind, r, &rec);
		int jl = h ? tr_format_json_with_head(h->json, h->jsonlen, kind, &rec, info.epoch,
						      m->json, sizeof m->json)
			   : tr_format_json(r, kind, &rec, info.epoch, m->json, sizeof m->json);
		if (jl < 0) {
			st_add(&m->st->dropped, 1);
			if (!k->pub_inflight)
				k->pub_wm = info.seq;
			continue;
		}
		if (h && h->publen) {
			tr_resp_raw(&m->out, h->pub, h->publen);
		} else {
			make_pub_head(m, kind, r, &rec, &m->scratch);
			tr_resp_raw(&m->out, m->scratch.pub, m->scratch.publen);
		}
		tr_resp_arg(&m->out, m->json, (size_t)jl);
		q_push(m, OP_PUB, kind, info.seq);
		k->pub_last = info.seq;
		k->pub_inflight++;
		st_add(&m->st->sent, 1);
		n++;
		/* Lockstep: the stream source is at this very record. */
		if (k->str.m && !k->str.stashed && tr_msrc_position(k->str.m) == info.seq &&
		    n < budget && src_take(&k->str, &rec2, &info2, 0)) {
			int same = info2.seq == info.seq && info2.epoch == info.epoch;
			if (xadd(m, kind, &rec2, &info2, same ? m->json : NULL, jl) < 0)
				src_stash(&k->str, &rec2, &info2);
			else
				n++;
		}
	}
	/* Catch-up: the stream source is behind (after an outage or a restart). */
	while (k->str.m && n < budget) {
		uint64_t sp = src_position(&k->str), pp = src_position(&k->pub);
		if (sp >= pp || pp == 0)
			break;
		if (!src_take(&k->str, &rec2, &info2, 0))
			break;
		if (xadd(m, kind, &rec2, &info2, NULL, 0) < 0) {
			src_stash(&k->str, &rec2, &info2);
			break;
		}
		n++;
	}
	return n;
}

/* Fill the batch: turns over the kinds until it is full or nothing is left.
 * Returns the records taken. */
static unsigned gather(struct rd *m)
{
	unsigned total = 0;

	/* A window that is nearly full waits for room for a whole batch:
	 * topping it up a few commands at a time would cost a write and a
	 * wake-up each, and hand the server short reads. */
	if (m->qlen + m->cfg.pipeline > m->inflight_cap)
		return 0;
	for (;;) {
		size_t room = m->inflight_cap > m->qlen ? m->inflight_cap - m->qlen : 0;
		unsigned budget = m->cfg.pipeline > m->out_cmds ? m->cfg.pipeline - m->out_cmds : 0;
		if (budget > room)
			budget = (unsigned)room;
		if (budget == 0)
			break;
		unsigned got = 0;
		for (unsigned i = 0; i < TR_NKINDS && got < budget; i++) {
			unsigned kind = (m->rr + i) % TR_NKINDS;
			if (m->k[kind].on)
				got += kind_turn(m, kind, budget - got);
		}
		m->rr++;
		total += got;
		if (!got)
			break;
	}
	return total;
}

/* Redis down: pub/sub records are read and counted as dropped, so pub/sub
 * resumes live when Redis is back; the stream sources wait. */
static void drain_down(struct rd *m)
{
	union rd_rec rec;
	struct tr_msrc_info info;

	for (unsigned kind = 0; kind < TR_NKINDS; kind++) {
		struct rd_kind *k = &m->k[kind];
		if (!k->on)
			continue;
		for (unsigned i = 0; i < 65536 && src_take(&k->pub, &rec, &info, 0); i++) {
			st_add(&m->st->read[kind], 1);
			st_add(&m->st->dropped, 1);
			k->pub_wm = info.seq;
			if (info.from_journal)
				st_add(&m->st->from_journal, 1);
			if (info.lost_before)
				st_add(&m->st->lost, info.lost_before);
		}
	}
}

/* Every ring is empty: wait on the first enabled one for up to ns (and at
 * most the current idle slice, which doubles while nothing comes, so a quiet
 * market costs few wake-ups; the other rings are looked at after it). */
static void idle_wait(struct rd *m, int64_t ns)
{
	struct rd_src *s = &m->k[m->first].pub;
	union rd_rec rec;
	struct tr_msrc_info info;

	if (ns > m->idle_ns)
		ns = m->idle_ns;
	if (ns <= 0 || s->stashed)
		return;
	if (tr_msrc_next(s->m, &rec, &info, ns) == 1) {
		src_stash(s, &rec, &info);
		m->idle_ns = RD_IDLE_NS;
	} else if (m->idle_ns < RD_IDLE_MAX_NS) {
		m->idle_ns *= 2;
	}
}

/* ---- Hashes ---- */

static uint64_t fnv(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h | 1; /* never 0, the "not written" mark */
}

/* JSON string body at s (after the opening quote), unescaped into out;
 * returns a pointer past the closing quote, or NULL. tr_format_json()
 * escapes only \" \\ \n \r \t and \u00XX, \u007f, \ufffd: no surrogates. */
static const char *json_unescape(const char *s, const char *end, char *out, size_t *outlen)
{
	size_t o = 0;

	while (s < end && *s != '"') {
		if (*s != '\\') {
			out[o++] = *s++;
			continue;
		}
		if (++s >= end)
			return NULL;
		char c = *s++;
		switch (c) {
		case 'b':
			out[o++] = '\b';
			break;
		case 'f':
			out[o++] = '\f';
			break;
		case 'n':
			out[o++] = '\n';
			break;
		case 'r':
			out[o++] = '\r';
			break;
		case 't':
			out[o++] = '\t';
			break;
		case 'u': {
			unsigned cp = 0;
			for (int i = 0; i < 4; i++) {
				int h = s < end ? hexval(*s++) : -1;
				if (h < 0)
					return NULL;
				cp = cp * 16 + (unsigned)h;
			}
			if (cp < 0x80) {
				out[o++] = (char)cp;
			} else if (cp < 0x800) {
				out[o++] = (char)(0xc0 | cp >> 6);
				out[o++] = (char)(0x80 | (cp & 0x3f));
			} else {
				out[o++] = (char)(0xe0 | cp >> 12);
				out[o++] = (char)(0x80 | (cp >> 6 & 0x3f));
				out[o++] = (char)(0x80 | (cp & 0x3f));
			}
			break;
		}
		default:
			out[o++] = c;
			break; /* \" \\ \/ */
		}
	}
	if (s >= end)
		return NULL;
	*outlen = o;
	return s + 1;
}

/* Append the record's JSON j[0..n) to the HSET in m->args: field `part` holds
 * the whole object, and every member but type, venue and symbol (they are in
 * the key) becomes field `part.member`: strings unquoted and unescaped, other
 * values (numbers, true/false, arrays) as their JSON text. Returns the
 * arguments added. */
static unsigned flatten(struct rd *m, const char *part, const char *j, size_t n)
{
	const char *p = j + 1, *end = j + n - 1; /* inside the braces */
	char field[96];
	unsigned args = 2;
	size_t pl = strlen(part);

	put_str(&m->args, part);
	tr_resp_arg(&m->args, j, n);
	while (p < end) {
		if (*p == ',')
			p++;
		if (*p != '"')
			break;
		const char *k = p + 1, *ke = memchr(k, '"', (size_t)(end - k));
		if (!ke || ke + 1 >= end || ke[1] != ':')
			break;
		const char *v = ke + 2, *ve;
		const char *val = v;
		size_t vl;
		if (*v == '"') {
			ve = json_unescape(v + 1, end, m->val, &vl);
			if (!ve)
				break;
			val = m->val;
		} else {
			int depth = 0, in_str = 0;
			for (ve = v; ve < end; ve++) {
				if (in_str) {
					if (*ve == '\\')
						ve++;
					else if (*ve == '"')
						in_str = 0;
				} else if (*ve == '"') {
					in_str = 1;
				} else if (*ve == '[' || *ve == '{') {
					depth++;
				} else if (*ve == ']' || *ve == '}') {
					depth--;
				} else if (*ve == ',' && depth == 0) {
					break;
				}
			}
			vl = (size_t)(ve - v);
		}
		size_t kl = (size_t)(ke - k);
		p = ve;
		if ((kl == 4 && !memcmp(k, "type", 4)) || (kl == 5 && !memcmp(k, "venue", 5)) ||
		    (kl == 6 && !memcmp(k, "symbol", 6)) || pl + 1 + kl >= sizeof field)
			continue;
		memcpy(field, part, pl);
		field[pl] = '.';
		memcpy(field + pl + 1, k, kl);
		tr_resp_arg(&m->args, field, pl + 1 + kl);
		tr_resp_arg(&m->args, val, vl);
		args += 2;
	}
	return args;
}

static unsigned stats_fields(struct rd *m, const struct tr_stats24h *s)
{
	struct tr_resp_buf *b = &m->args;

	put_str(b, "stats.last"), tr_resp_arg_fixed(b, s->last);
	put_str(b, "stats.open"), tr_resp_arg_fixed(b, s->open);
	put_str(b, "stats.high"), tr_resp_arg_fixed(b, s->high);
	put_str(b, "stats.low"), tr_resp_arg_fixed(b, s->low);
	put_str(b, "stats.change"), tr_resp_arg_fixed(b, s->change);
	put_str(b, "stats.change_pct"), tr_resp_arg_fixed(b, s->change_pct);
	put_str(b, "stats.volume"), tr_resp_arg_fixed(b, s->volume);
	put_str(b, "stats.quote_volume"), tr_resp_arg_fixed(b, s->quote_volume);
	put_str(b, "stats.vwap"), tr_resp_arg_fixed(b, s->vwap);
	put_str(b, "stats.trade_count"), tr_resp_arg_u64(b, s->trade_count);
	put_str(b, "stats.open_time"), tr_resp_arg_i64(b, s->open_time);
	put_str(b, "stats.close_time"), tr_resp_arg_i64(b, s->close_time);
	put_str(b, "stats.first_trade_id"), tr_resp_arg_u64(b, s->first_trade_id);
	put_str(b, "stats.last_trade_id"), tr_resp_arg_u64(b, s->last_trade_id);
	put_str(b, "stats.ts_update"), tr_resp_arg_i64(b, s->ts_update);
	return 30;
}

/* HSET key <the nargs arguments in m->args>. */
static void put_hset(struct rd *m, const char *key, size_t kl, unsigned nargs)
{
	tr_resp_count(&m->out, '*', 2 + nargs);
	tr_resp_arg(&m->out, "HSET", 4);
	tr_resp_arg(&m->out, key, kl);
	tr_resp_need(&m->out, m->args.len);
	memcpy(m->out.p + m->out.len, m->args.p, m->args.len);
	m->out.len += m->args.len;
	m->args.len = 0;
	q_push(m, OP_HSET, 0, 0);
}

/* The epoch a latest-table record was published in: the region's for this
 * epoch's records, 0 (unknown) for older ones, as tr_msrc hands them out. */
static uint64_t latest_epoch(const struct tr_region *r, unsigned kind, uint64_t seq)
{
	const struct tr_superblock *sb = tr_region_superblock(r);
	const struct tr_ring_hdr *h = (const void *)((const char *)sb + sb->rings[kind].offset);
	/* A plain statistic written once per engine start; no ordering needed. */
	uint64_t base = __atomic_load_n(&h->base_seq, __ATOMIC_RELAXED);

	return base && seq >= base ? tr_region_epoch(r) : 0;
}

/* Write every part of the latest table that changed since it was last written. */
static void hashes(struct rd *m)
{
	const struct tr_region *r = tr_msrc_region(m->k[m->first].pub.m);
	const struct tr_msrc_stats *ms = tr_msrc_stats(m->k[m->first].pub.m);
	unsigned on = m->cfg.kinds;
	char key[RD_PREFIX_MAX + 128], ib[TR_INTERVAL_BUFSZ];

	if (!r)
		return;
	const struct tr_superblock *sb = tr_region_superblock(r);
	uint32_t cap = sb->symbol_capacity, nsym = tr_symbol_count(r);
	if (!m->marks || m->nmarks != cap || ms->reopens != m->marks_reopens) {
		/* A new region: symbol ids mean other symbols now. */
		free(m->marks);
		m->marks = calloc(cap, sizeof *m->marks);
		if (!m->marks) {
			tr_log(TR_LOG_ERROR, "redis: out of memory");
			abort();
		}
		m->nmarks = cap;
		m->marks_reopens = ms->reopens;
	}
	unsigned nint =
	    sb->interval_count < TR_MAX_INTERVALS ? sb->interval_count : TR_MAX_INTERVALS;
	for (uint32_t id = 0; id < nsym && id < cap; id++) {
		struct rd_mark *mk = &m->marks[id];
		struct tr_symbol s;
		struct tr_trade t;
		struct tr_quote q;
		struct tr_stats24h x;
		struct tr_candle c;
		unsigned nargs = 0;
		int jl;

		if (tr_symbol_get(r, id, &s) < 0)
			continue;
		const char *venue = tr_venue_name(r, s.venue_id);
		int vl = (int)strnlen(venue, TR_VENUE_LEN), sl = (int)strnlen(s.name, TR_NAME_LEN);
		m->args.len = 0;
		if ((on & 1u << TR_KIND_TRADE) && tr_latest_trade(r, id, &t) == 0 &&
		    t.seq != mk->trade) {
			jl = tr_format_json(r, TR_KIND_TRADE, &t,
					    latest_epoch(r, TR_KIND_TRADE, t.seq), m->json,
					    sizeof m->json);
			if (jl > 0)
				nargs += flatten(m, "trade", m->json, (size_t)jl);
			mk->trade = t.seq;
		}
		if ((on & 1u << TR_KIND_QUOTE) && tr_latest_quote(r, id, &q) == 0 &&
		    q.seq != mk->quote) {
			jl = tr_format_json(r, TR_KIND_QUOTE, &q,
					    latest_epoch(r, TR_KIND_QUOTE, q.seq), m->json,
					    sizeof m->json);
			if (jl > 0)
				nargs += flatten(m, "quote", m->json, (size_t)jl);
			mk->quote = q.seq;
		}
		if ((on & 1u << TR_KIND_TRADE) && tr_latest_stats(r, id, &x) == 0) {
			uint64_t h = fnv(&x, sizeof x);
			if (h != mk->stats) {
				nargs += stats_fields(m, &x);
				mk->stats = h;
			}
		}
		if (nargs) {
			int kl = snprintf(key, sizeof key, "%s:latest:%.*s:%.*s", m->cfg.prefix, vl,
					  venue, sl, s.name);
			put_hset(m, key, (size_t)kl, nargs);
		}
		if (!(on & 1u << TR_KIND_CANDLE))
			continue;
		for (unsigned i = 0; i < nint; i++) {
			if (tr_latest_candle(r, id, i, &c) < 0)
				continue;
			uint64_t h = fnv(&c, sizeof c);
			if (h == mk->candle[i])
				continue;
			jl = tr_format_json(r, TR_KIND_CANDLE, &c,
					    latest_epoch(r, TR_KIND_CANDLE, c.seq), m->json,
					    sizeof m->json);
			if (jl <= 0)
				continue;
			m->args.len = 0;
			nargs = flatten(m, "candle", m->json, (size_t)jl);
			int kl = snprintf(key, sizeof key, "%s:candle:%s:%.*s:%.*s", m->cfg.prefix,
					  tr_interval_name(sb->intervals_s[i], ib), vl, venue, sl,
					  s.name);
			put_hset(m, key, (size_t)kl, nargs);
			mk->candle[i] = h;
		}
	}
}

/* Make every hash count as changed: the next pass rewrites them all. */
static void marks_reset(struct rd *m)
{
	if (m->marks)
		memset(m->marks, 0, m->nmarks * sizeof *m->marks);
}

/* ---- Checkpoint ---- */

static void ckpt_save(struct rd *m, int64_t now)
{
	if (!m->ckpt_dirty || !m->cfg.streams || !m->cfg.checkpoint[0])
		return;
	int rc = tr_checkpoint_save(m->cfg.checkpoint, m->ckpt);
	if (rc < 0) {
		/* Retried at the next save; the streams go on (a restart resends more). */
		tr_log(TR_LOG_WARN, "redis: checkpoint %s: %s", m->cfg.checkpoint, tr_errmsg());
		return;
	}
	m->ckpt_dirty = 0;
	m->last_ckpt = now;
}

/* stats->checkpoint: per kind, the seq up to which everything is published
 * or dropped and, with streams, added to the stream (tr_mirror_drain waits
 * on it). Where nothing is in flight, that is the source's position. */
static void publish_watermarks(struct rd *m)
{
	for (unsigned kind = 0; kind < TR_NKINDS; kind++) {
		struct rd_kind *k = &m->k[kind];
		if (!k->on)
			continue;
		uint64_t pos = src_position(&k->pub), wm = k->pub_wm;
		if (!k->pub_inflight && !k->pub.stashed && pos > wm + 1)
			wm = k->pub_wm = pos - 1;
		if (k->str.m) {
			uint64_t sw = k->win ? tr_ackwin_watermark(k->win) : 0;
			pos = src_position(&k->str);
			if ((!k->win || !tr_ackwin_in_flight(k->win)) && !k->str.stashed &&
			    pos > sw + 1)
				sw = pos - 1;
			if (sw < wm)
				wm = sw;
		}
		st_set(&m->st->checkpoint[kind], wm);
	}
}

/* ---- Connection ---- */

static void conn_lost(struct rd *m, const char *reason)
{
	int64_t now = mono_ns();
	uint64_t pubs = 0, xadds = 0;
	char why[160];

	snprintf(why, sizeof why, "%s", reason); /* it may live in the context freed below */

	for (size_t i = 0; i < m->qlen; i++) {
		const struct rd_pend *p = &m->q[(m->qhead + i) & (m->qcap - 1)];
		if (p->op == OP_PUB)
			pubs++;
		else if (p->op == OP_XADD)
			xadds++;
	}
	/* PUBLISHes without a reply may or may not have gone out: given up.
	 * XADDs are sent again from the watermark (duplicates are refused). */
	st_add(&m->st->failed, pubs + xadds);
	st_add(&m->st->dropped, pubs);
	for (unsigned kind = 0; kind < TR_NKINDS; kind++)
		if (m->k[kind].pub_inflight) {
			m->k[kind].pub_wm = m->k[kind].pub_last;
			m->k[kind].pub_inflight = 0;
		}
	m->qlen = 0;
	m->qhead = 0;
	m->out.len = m->out_sent = 0;
	m->out_cmds = 0;
	m->in.len = 0;
	m->wblocked = 0;
	redisFree(m->c);
	m->c = NULL;
	atomic_store_explicit(&m->st->connected, 0, memory_order_relaxed); /* a statistic */
	for (unsigned kind = 0; kind < TR_NKINDS; kind++) {
		struct rd_kind *k = &m->k[kind];
		if (!k->str.m || !k->win)
			continue;
		uint64_t w = tr_ackwin_watermark(k->win);
		tr_ackwin_free(k->win);
		k->win = NULL;
		src_close(&k->str);
		if (src_open(m, &k->str, kind, w) < 0)
			tr_log(TR_LOG_ERROR, "%s", tr_errmsg()); /* only ENOMEM */
	}
	/* A connection that dies young (a server still loading, a script
	 * holding it) keeps the backoff growing, and is logged once a minute. */
	int flapping = now - m->connected_at < RD_FLAP_NS;
	m->backoff_ms = !flapping				? RD_BACKOFF_MIN_MS
			: m->backoff_ms * 2 > RD_BACKOFF_MAX_MS ? RD_BACKOFF_MAX_MS
								: m->backoff_ms * 2;
	m->next_connect = now + m->backoff_ms * 1000000ll;
	if (!flapping || now - m->down_logged >= RD_STILL_DOWN_NS) {
		m->down_since = now;
		m->dropped_at_down = atomic_load_explicit(&m->st->dropped, memory_order_relaxed);
		tr_log(TR_LOG_WARN,
		       "redis: connection to %s lost (%s); %llu commands had no reply; pub/sub is "
		       "dropped until it returns%s",
		       m->url_shown, why, (unsigned long long)(pubs + xadds),
		       m->cfg.streams ? ", streams wait" : "");
		m->down_logged = now;
	} else {
		tr_log(TR_LOG_DEBUG, "redis: connection to %s lost again (%s)", m->url_shown, why);
	}
}

/* A blocking command during the connect; 0 or -1 with why. */
static int conn_cmd(redisContext *c, int argc, const char **argv, char *why, size_t n)
{
	redisReply *r = redisCommandArgv(c, argc, argv, NULL);

	if (!r) {
		snprintf(why, n, "%s: %s", argv[0], c->errstr);
		return -1;
	}
	int ok = r->type == REDIS_REPLY_STATUS;
	if (!ok)
		snprintf(why, n, "%s: %s", argv[0],
			 r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
	freeReplyObject(r);
	return ok ? 0 : -1;
}

static int try_connect(struct rd *m)
{
	const struct tr_redis_url *u = &m->cfg.url;
	struct timeval tv = {RD_CONNECT_TIMEOUT_MS / 1000, RD_CONNECT_TIMEOUT_MS % 1000 * 1000};
	redisContext *c = u->is_unix ? redisConnectUnixWithTimeout(u->path, tv)
				     : redisConnectWithTimeout(u->host, u->port, tv);
	const char *pw = u->password[0] ? u->password : m->cfg.password;
	char why[256] = "";
	int64_t now;

	if (!c) {
		snprintf(why, sizeof why, "out of memory");
	} else if (c->err) {
		snprintf(why, sizeof why, "%s", c->errstr);
	} else if (redisSetTimeout(c, tv) != REDIS_OK) {
		snprintf(why, sizeof why, "%s", c->errstr);
	} else if (pw[0]) {
		const char *argv[3] = {"AUTH", u->user[0] ? u->user : pw, pw};
		conn_cmd(c, u->user[0] ? 3 : 2, argv, why, sizeof why);
	}
	if (!why[0] && u->db) {
		char db[16];
		const char *argv[2] = {"SELECT", db};
		snprintf(db, sizeof db, "%d", u->db);
		conn_cmd(c, 2, argv, why, sizeof why);
	}
	if (!why[0]) {
		int fl = fcntl(c->fd, F_GETFL);
		if (fl < 0 || fcntl(c->fd, F_SETFL, fl | O_NONBLOCK) < 0)
			snprintf(why, sizeof why, "fcntl: %s", strerror(errno));
		if (!u->is_unix)
			redisEnableKeepAlive(c);
		/* Room in the kernel for the whole window: a send buffer smaller
		 * than what is in flight (TCP starts at 16 KiB) makes every
		 * write short and wakes the mirror for each third of it. Capped
		 * by net.core.wmem_max; a refusal only costs speed. */
		int sb = RD_SNDBUF;
		setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &sb, sizeof sb);
	}
	now = mono_ns();
	if (why[0]) {
		if (c)
			redisFree(c);
		/* The first failure of an outage is a warning; then a reminder a minute. */
		if (!m->down_logged || now - m->down_logged >= RD_STILL_DOWN_NS) {
			tr_log(TR_LOG_WARN, "redis: cannot connect to %s: %s (retrying)",
			       m->url_shown, why);
			m->down_logged = now;
		} else {
			tr_log(TR_LOG_DEBUG, "redis: cannot connect to %s: %s", m->url_shown, why);
		}
		m->backoff_ms =
		    m->backoff_ms * 2 > RD_BACKOFF_MAX_MS ? RD_BACKOFF_MAX_MS : m->backoff_ms * 2;
		m->next_connect = now + m->backoff_ms * 1000000ll;
		return -1;
	}
	/* From here the mirror reads and writes the socket itself; hiredis
	 * keeps only the descriptor and closes it. */
	m->c = c;
	m->in.len = 0;
	m->out.len = m->out_sent = 0;
	m->wblocked = 0;
	m->rready = 1;
	m->lowat = 1;
	st_add(&m->st->reconnects, 1);
	atomic_store_explicit(&m->st->connected, 1, memory_order_relaxed); /* a statistic */
	if (!m->ever_connected)
		tr_log(TR_LOG_INFO, "redis: connected to %s", m->url_shown);
	else
		tr_log(now - m->connect_logged >= RD_STILL_DOWN_NS ? TR_LOG_INFO : TR_LOG_DEBUG,
		       "redis: connected to %s again after %.1f s; %llu pub/sub records dropped "
		       "meanwhile",
		       m->url_shown, (double)(now - m->down_since) / 1e9,
		       (unsigned long long)(atomic_load_explicit(&m->st->dropped,
								 memory_order_relaxed) -
					    m->dropped_at_down));
	if (now - m->connect_logged >= RD_STILL_DOWN_NS)
		m->connect_logged = now;
	m->ever_connected = 1;
	m->connected_at = now;
	m->last_reply = now;
	marks_reset(m);
	m->next_latest = now; /* rewrite the hashes at once */
	return 0;
}

static int is_dup_error(const struct tr_resp_reply *r)
{
	return r->type == TR_RESP_ERROR && strstr(r->str, "equal or smaller");
}

/* An error that says "not now" (a server loading its data after a restart,
 * a busy script, a failover): the command would succeed later. */
static int is_transient_error(const struct tr_resp_reply *r)
{
	static const char *const codes[] = {"LOADING", "BUSY", "TRYAGAIN", "MASTERDOWN"};

	if (r->type != TR_RESP_ERROR)
		return 0;
	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
		if (!strncmp(r->str, codes[i], strlen(codes[i])))
			return 1;
	return 0;
}

/* Account for one reply. Returns -1 when the server is not ready: the
 * caller drops the connection and tries again later (from the stream
 * watermark); that command is counted failed here, the rest in conn_lost(). */
static int on_reply(struct rd *m, const struct rd_pend *p, const struct tr_resp_reply *r,
		    int64_t now)
{
	const char *err = r->type == TR_RESP_ERROR ? r->str : NULL;

	if (is_transient_error(r)) {
		if (p->op == OP_PUB) {
			m->k[p->kind].pub_wm = p->seq;
			m->k[p->kind].pub_inflight--;
			st_add(&m->st->dropped, 1);
		}
		if (p->op != OP_HSET)
			st_add(&m->st->failed, 1);
		return -1;
	}
	switch (p->op) {
	case OP_PUB:
		/* Replies come in order: every earlier PUBLISH of the kind is done. */
		m->k[p->kind].pub_wm = p->seq;
		m->k[p->kind].pub_inflight--;
		if (r->type == TR_RESP_INTEGER) {
			st_add(&m->st->delivered, 1);
			st_add(&m->st->redis_published, 1);
			st_add(&m->st->redis_receivers, (uint64_t)r->integer);
			return 0;
		}
		st_add(&m->st->failed, 1);
		st_add(&m->st->dropped, 1);
		break;
	case OP_XADD:
		stream_acked(m, p->kind, p->seq);
		if (r->type == TR_RESP_STRING) {
			st_add(&m->st->delivered, 1);
			st_add(&m->st->redis_stream_added, 1);
			return 0;
		}
		if (is_dup_error(r)) {
			st_add(&m->st->delivered, 1);
			st_add(&m->st->redis_stream_dups, 1);
			return 0;
		}
		/* Refused for another reason (wrong key type, OOM): retrying would
		 * block the stream for good, so the record is given up. */
		st_add(&m->st->failed, 1);
		st_add(&m->st->dropped, 1);
		break;
	default:
		if (r->type == TR_RESP_INTEGER) {
			st_add(&m->st->redis_hash_writes, 1);
			return 0;
		}
		st_add(&m->st->redis_hash_errors, 1);
		marks_reset(m); /* try again next pass */
		break;
	}
	if (now - m->reply_err_logged >= 1000000000ll) {
		tr_log(TR_LOG_WARN, "redis: %s refused: %s",
		       p->op == OP_PUB	  ? "PUBLISH"
		       : p->op == OP_XADD ? "XADD"
					  : "HSET",
		       err ? err : "unexpected reply type");
		m->reply_err_logged = now;
	}
	return 0;
}

/* Read what replies have arrived and account for each. 0, or -1 when the
 * connection is gone. The socket is the mirror's own after the connect:
 * replies are skimmed in place (tr_resp_parse), no object is built. */
static int read_replies(struct rd *m, int64_t now)
{
	struct tr_resp_buf *in = &m->in;
	size_t off = 0;
	ssize_t k;

	/* Room for one read; a reply longer than the buffer grows it. */
	tr_resp_need(in, 4096);
	do
		k = recv(m->c->fd, in->p + in->len, in->cap - in->len, MSG_DONTWAIT);
	while (k < 0 && errno == EINTR);
	if (k == 0 || (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
		conn_lost(m, k == 0 ? "closed by the server" : strerror(errno));
		return -1;
	}
	if (k < 0)
		return 0;
	in->len += (size_t)k;
	for (;;) {
		ssize_t used = tr_resp_parse(in->p + off, in->len - off, &m->reply);
		if (used == 0)
			break;
		if (used < 0) {
			conn_lost(m, "a reply that is not RESP");
			return -1;
		}
		off += (size_t)used;
		if (!m->qlen) {
			conn_lost(m, "a reply to no command");
			return -1;
		}
		struct rd_pend p = m->q[m->qhead];
		m->qhead = (m->qhead + 1) & (m->qcap - 1);
		m->qlen--;
		if (on_reply(m, &p, &m->reply, now) < 0) {
			char why[160];
			snprintf(why, sizeof why, "%s", m->reply.str);
			conn_lost(m, why);
			return -1;
		}
		m->last_reply = now;
	}
	/* Keep the start of a reply cut by the end of the read. */
	memmove(in->p, in->p + off, in->len - off);
	in->len -= off;
	return 0;
}

/* Write what the socket takes of the batch, straight from the mirror's own
 * buffer. 1 when all is written, 0 when some waits (it is written on a
 * later call, and commands added meanwhile go after it), -1 when the
 * connection is gone. */
static int flush(struct rd *m)
{
	struct tr_resp_buf *b = &m->out;

	if (m->out_cmds) {
		/* The reply clock starts with the first command. */
		if (m->qlen == m->out_cmds)
			m->last_reply = mono_ns();
		m->out_cmds = 0;
	}
	/* A full socket is tried again only once poll() says it has room. */
	while (!m->wblocked && m->out_sent < b->len) {
		ssize_t k = send(m->c->fd, b->p + m->out_sent, b->len - m->out_sent,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			m->wblocked = 1;
			break;
		}
		if (k < 0) {
			conn_lost(m, strerror(errno));
			return -1;
		}
		m->out_sent += (size_t)k;
	}
	if (m->out_sent == b->len) {
		b->len = m->out_sent = 0;
		return 1;
	}
	/* The socket is full. Once half the buffer is written, move the rest
	 * to its start: each byte moves at most once on average. */
	if (m->out_sent >= b->cap / 2) {
		memmove(b->p, b->p + m->out_sent, b->len - m->out_sent);
		b->len -= m->out_sent;
		m->out_sent = 0;
	}
	return 0;
}

/* Over TCP, while the window waits for room for a batch, wake only once
 * the replies that free it can have arrived (4 bytes is the shortest reply,
 * and every command in flight gets one, so they do arrive): the kernel
 * then neither wakes the mirror nor charges redis-server a wake-up for each
 * of its reply writes. Otherwise, at the first byte. Unix sockets ignore
 * SO_RCVLOWAT in poll(). */
static void reply_lowat(struct rd *m)
{
	size_t room = m->inflight_cap > m->qlen ? m->inflight_cap - m->qlen : 0;
	int want = room < m->cfg.pipeline ? 4 * (int)(m->cfg.pipeline - room) : 1;

	if (m->cfg.url.is_unix || want == m->lowat)
		return;
	if (setsockopt(m->c->fd, SOL_SOCKET, SO_RCVLOWAT, &want, sizeof want) == 0)
		m->lowat = want;
}

/* ---- The loop ---- */

static void url_shown(struct rd *m)
{
	const struct tr_redis_url *u = &m->cfg.url;

	int v6 = strchr(u->host, ':') != NULL;

	if (u->is_unix)
		snprintf(m->url_shown, sizeof m->url_shown, "unix://%s?db=%d", u->path, u->db);
	else
		snprintf(m->url_shown, sizeof m->url_shown, "redis://%s%s%s%s%s:%d/%d", u->user,
			 u->user[0] ? "@" : "", v6 ? "[" : "", u->host, v6 ? "]" : "", u->port,
			 u->db);
}

static int setup(struct rd *m, const struct tr_mirror_args *a)
{
	char err[256];
	int have_url = 0;

	memset(m, 0, sizeof *m);
	m->a = a;
	m->st = a->stats;
	cfg_default(&m->cfg);
	for (unsigned i = 0; i < a->nopts; i++) {
		if (cfg_set(&m->cfg, a->opts[i].name, a->opts[i].value, err, sizeof err) < 0)
			return tr_err(EINVAL, "%s: %s: %s", a->opts[i].where, a->opts[i].name, err);
		have_url |= !strcmp(a->opts[i].name, "redis-url");
	}
	if (!have_url)
		return tr_err(EINVAL, "redis: no redis-url");
	if (m->cfg.streams && !m->cfg.checkpoint[0] && a->journal_dir && a->journal_dir[0])
		snprintf(m->cfg.checkpoint, sizeof m->cfg.checkpoint, "%s/redis.checkpoint",
			 a->journal_dir);
	url_shown(m);
	for (unsigned k = 0; k < TR_NKINDS; k++)
		m->chan_len[k] = (size_t)snprintf(m->chan[k], sizeof m->chan[k],
						  "%s:%s:", m->cfg.prefix, kind_names[k]);
	m->inflight_cap = 4 * (size_t)m->cfg.pipeline;
	m->first = -1;
	if (m->cfg.streams && m->cfg.checkpoint[0]) {
		int rc = tr_checkpoint_load(m->cfg.checkpoint, m->ckpt);
		if (rc < 0 && rc != -ENOENT)
			return tr_err_ctx(-rc, "redis: checkpoint %s", m->cfg.checkpoint);
		if (rc == 0)
			tr_log(TR_LOG_INFO, "redis: streams resume after the checkpoint %s",
			       m->cfg.checkpoint);
	}
	for (unsigned kind = 0; kind < TR_NKINDS; kind++) {
		struct rd_kind *k = &m->k[kind];
		if (!(m->cfg.kinds & 1u << kind))
			continue;
		k->on = 1;
		if (m->first < 0)
			m->first = (int)kind;
		uint64_t start = pub_start(a->instance, kind);
		if (src_open(m, &k->pub, kind, start) < 0)
			return -EINVAL;
		k->pub_wm = start == TR_MSRC_TAIL ? 0 : start;
		if (!m->cfg.streams)
			continue;
		/* With a checkpoint file: after it (0, the first start: everything
		 * still available). Without one: where pub/sub starts. */
		uint64_t after = m->cfg.checkpoint[0] ? m->ckpt[kind] : start;
		if (src_open(m, &k->str, kind, after) < 0)
			return -EINVAL;
	}
	m->backoff_ms = RD_BACKOFF_MIN_MS;
	m->idle_ns = RD_IDLE_NS;
	/* A statistic for tr_mirror_drain(); no ordering. */
	atomic_store_explicit(&a->stats->kinds, m->cfg.kinds, memory_order_relaxed);
	return 0;
}

static void teardown(struct rd *m)
{
	if (m->c)
		redisFree(m->c);
	for (unsigned kind = 0; kind < TR_NKINDS; kind++) {
		src_close(&m->k[kind].pub);
		src_close(&m->k[kind].str);
		tr_ackwin_free(m->k[kind].win);
	}
	free(m->out.p);
	free(m->args.p);
	free(m->in.p);
	free(m->q);
	free(m->marks);
	for (unsigned kind = 0; kind < TR_NKINDS; kind++)
		heads_clear(&m->heads[kind]);
}

static int redis_run(const struct tr_mirror_args *a)
{
	struct rd *m = calloc(1, sizeof *m);
	sigset_t pipe_set, old_set;
	int64_t stop_deadline = 0;
	int rc;

	if (!m)
		return tr_err(ENOMEM, "redis: out of memory");
	/* hiredis writes with write(2): a server that went away must cost this
	 * thread an EPIPE, not the process a SIGPIPE. */
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
	if ((rc = setup(m, a)) < 0)
		goto out;
	tr_log(TR_LOG_INFO, "redis: mirroring%s%s%s%s to %s (prefix %s%s%s)",
	       m->k[0].on ? " trades" : "", m->k[1].on ? " quotes" : "",
	       m->k[2].on ? " candles" : "", m->k[3].on ? " events" : "", m->url_shown,
	       m->cfg.prefix, m->cfg.latest_ms ? ", hashes" : "",
	       m->cfg.streams ? ", streams" : "");
	m->next_connect = mono_ns();
	for (;;) {
		int64_t now = mono_ns();
		/* Pairs with the store that asks us to stop (tr_mirror_join, tests);
		 * nothing else is published through it. */
		if (!stop_deadline && atomic_load_explicit(a->stop, memory_order_acquire))
			stop_deadline = now + RD_STOP_DRAIN_NS;
		if (stop_deadline && now >= stop_deadline)
			break;
		if (!m->c) {
			if (stop_deadline)
				break;
			if (now >= m->next_connect && try_connect(m) == 0)
				continue;
			drain_down(m);
			publish_watermarks(m);
			int64_t w = m->next_connect - now;
			idle_wait(m, w);
			continue;
		}
		/* Replies are read after a wait on the socket, not after every
		 * batch sent: most such reads would find nothing. */
		if (m->qlen && m->rready) {
			m->rready = 0;
			if (read_replies(m, now) < 0)
				continue;
		}
		unsigned n = gather(m);
		/* On stop, one last pass: the hashes end with the final values. */
		if (m->cfg.latest_ms &&
		    (stop_deadline ? !m->final_hashes : now >= m->next_latest)) {
			hashes(m);
			m->next_latest = now + (int64_t)m->cfg.latest_ms * 1000000;
			m->final_hashes = stop_deadline != 0;
		}
		int w = flush(m);
		if (w < 0)
			continue;
		if (m->ckpt_dirty && now - m->last_ckpt >= RD_CKPT_EVERY_NS)
			ckpt_save(m, now);
		publish_watermarks(m);
		if (n) {
			m->idle_ns = RD_IDLE_NS;
			continue;
		}
		if (stop_deadline && !m->qlen && w)
			break;
		if (m->qlen && now - m->last_reply > RD_REPLY_TIMEOUT_NS) {
			conn_lost(m, "no reply for 10 s");
			continue;
		}
		if (m->qlen || !w) {
			/* Wait on the socket, not on a ring: until it takes more when
			 * it is full (the replies wait in ours meanwhile: a few bytes
			 * each, and at most a window of them), else for replies. So a
			 * full socket does not wake the mirror at every reply. */
			struct pollfd p = {.fd = m->c->fd, .events = w ? POLLIN : POLLOUT};
			if (w)
				reply_lowat(m);
			if (poll(&p, 1, 1) > 0 && (p.revents & (POLLOUT | POLLERR | POLLHUP)))
				m->wblocked = 0;
			m->rready = 1;
		} else if (!stop_deadline) {
			idle_wait(m, m->cfg.latest_ms ? m->next_latest - now : RD_IDLE_MAX_NS);
		}
	}
	for (unsigned kind = 0; kind < TR_NKINDS; kind++)
		if (m->k[kind].win && tr_ackwin_watermark(m->k[kind].win) != m->ckpt[kind]) {
			m->ckpt[kind] = tr_ackwin_watermark(m->k[kind].win);
			m->ckpt_dirty = 1;
		}
	ckpt_save(m, mono_ns());
#define LD(f) (unsigned long long)atomic_load_explicit(&m->st->f, memory_order_relaxed)
	tr_log(TR_LOG_INFO,
	       "redis: stopped; %llu sent, %llu delivered, %llu dropped, %llu failed, %llu lost; "
	       "pub/sub %llu published to %llu subscribers; streams %llu added, %llu duplicates "
	       "refused, %llu from the journal, %llu lost; hashes %llu written, %llu refused",
	       LD(sent), LD(delivered), LD(dropped), LD(failed), LD(lost), LD(redis_published),
	       LD(redis_receivers), LD(redis_stream_added), LD(redis_stream_dups),
	       LD(redis_stream_from_journal), LD(redis_stream_lost), LD(redis_hash_writes),
	       LD(redis_hash_errors));
#undef LD
	rc = 0;
out:
	teardown(m);
	free(m);
	atomic_store_explicit(&a->stats->connected, 0, memory_order_relaxed); /* a statistic */
	/* Swallow a SIGPIPE raised while it was blocked, then restore the mask. */
	struct timespec zero = {0, 0};
	while (sigtimedwait(&pipe_set, NULL, &zero) == SIGPIPE)
		;
	pthread_sigmask(SIG_SETMASK, &old_set, NULL);
	return rc;
}

const struct tr_mirror_def tr_mirror_redis = {
    .name = "redis",
    .enable = "redis-url",
    .check = redis_check,
    .run = redis_run,
    .help = "  redis-url URL            redis://[user:pw@]host[:port][/db] or unix:///path[?db=N]\n"
	    "  redis-password PASSWORD  AUTH password when the URL has none\n"
	    "  redis-prefix NAME        channel and key prefix (tickring)\n"
	    "  redis-kinds LIST         trades,quotes,candles,events (all)\n"
	    "  redis-latest-ms N        latest-value hashes rewritten every N ms; 0: none (100)\n"
	    "  redis-streams yes|no     also XADD every record to <prefix>:stream:<kind> (no)\n"
	    "  redis-stream-maxlen N    XADD MAXLEN ~ N; 0: no trimming (100000)\n"
	    "  redis-checkpoint FILE    streams' checkpoint (<journal-dir>/redis.checkpoint)\n"
	    "  redis-pipeline N         commands per flush (256)\n",
};
