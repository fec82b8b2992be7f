/* tr_feed.c - libwebsockets client for Binance streams (tr_feed.h).
 *
 * Each feed has up to two connections: the current one and, during a
 * planned rollover, its successor. Both deliver frames to the engine; the
 * engine's per-symbol id checks drop what arrives twice. The old connection
 * is closed overlap_ms after the new one delivered its first frame.
 *
 * Timers are lws sorted-usec-list entries, so everything runs inside the
 * engine's lws loop with no threads.
 */
#define _GNU_SOURCE
#include "tr_feed.h"

#include "tr_err.h"
#include "tr_log.h"
#include "tr_parse.h"
#include "tr_writer.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STREAMS_PER_CONN 1024
#define URL_STREAMS_MAX 2000   /* bytes of stream names we put in the URL */
#define MSG_INTERVAL_US 250000 /* at most 4 messages a second (venue allows 5) */
#define ATTEMPT_WINDOW_NS (300ll * 1000000000)
#define ATTEMPT_LIMIT 300
#define CHECK_US 250000
#define NS 1000000000ll

#define container_of(p, t, m) ((t *)((char *)(p)-offsetof(t, m)))

enum conn_state { C_IDLE = 0, C_CONNECTING, C_OPEN, C_CLOSING };

struct msg {
	struct msg *next;
	size_t len;
	char text[]; /* LWS_PRE bytes of headroom, then the message */
};

struct conn {
	struct tr_feed *f;
	struct lws *wsi;
	enum conn_state state;
	int64_t opened_ns, last_rx_ns, last_ping_ns, retire_ns;
	int64_t first_frag_ns;
	bool delivered; /* at least one frame received */
	bool retiring;	/* being replaced: no reconnect when it closes */
	bool want_ping;
	bool dropping; /* current message is oversize: discard to its end */
	char *buf;     /* reassembly, with TR_PARSE_PADDING spare */
	size_t len, cap;
	struct msg *out, **out_tail; /* queued text messages */
	int64_t last_msg_ns;
};

struct tr_feed {
	struct lws_context *ctx;
	struct tr_engine *e;
	unsigned venue_id;
	char venue[TR_VENUE_LEN];
	char host[256], base_path[256];
	int port, tls;
	bool verify;
	char streams[TR_CFG_MAX_SYMBOLS * 3][48]; /* btcusdt@trade ... */
	unsigned nstreams;
	struct conn conns[2];
	unsigned cur; /* index of the current connection */
	uint32_t backoff_ms, min_ms, max_ms, stale_ms, ping_s, max_age_s, overlap_ms;
	unsigned attempts; /* consecutive failures */
	int64_t attempt_ns[ATTEMPT_LIMIT];
	unsigned attempt_pos;
	uint64_t next_id;
	bool stopping;
	lws_sorted_usec_list_t sul_connect, sul_check;
	struct tr_feed_stats st;
};

static int64_t now_ns(void)
{
	return tr_now_ns();
}

static void feed_log(struct tr_feed *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void feed_log(struct tr_feed *f, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	tr_log(TR_LOG_INFO, "feed %s: %s", f->venue, msg);
}

static int parse_url(struct tr_feed *f, const char *url)
{
	const char *p = url;

	f->tls = !strncmp(p, "wss://", 6);
	p += f->tls ? 6 : 5;
	const char *slash = strchr(p, '/');
	size_t hl = slash ? (size_t)(slash - p) : strlen(p);
	if (hl == 0 || hl >= sizeof f->host)
		return tr_err(EINVAL, "feed URL %s: bad host", url);
	memcpy(f->host, p, hl);
	f->host[hl] = 0;
	f->port = f->tls ? 443 : 80;
	char *colon = strrchr(f->host, ':');
	if (colon) {
		*colon = 0;
		f->port = atoi(colon + 1);
		if (f->port <= 0 || f->port > 65535)
			return tr_err(EINVAL, "feed URL %s: bad port", url);
	}
	snprintf(f->base_path, sizeof f->base_path, "%s", slash ? slash : "");
	size_t bl = strlen(f->base_path);
	if (bl && f->base_path[bl - 1] == '/')
		f->base_path[bl - 1] = 0;
	return 0;
}

static void build_streams(struct tr_feed *f, const struct tr_config *cfg)
{
	static const struct {
		unsigned bit;
		const char *suffix;
	} kinds[] = {{TR_STREAM_TRADE, "trade"},
		     {TR_STREAM_AGGTRADE, "aggTrade"},
		     {TR_STREAM_BOOKTICKER, "bookTicker"}};

	f->nstreams = 0;
	for (unsigned i = 0; i < cfg->nsymbols; i++)
		for (unsigned k = 0; k < 3; k++) {
			if (!(cfg->streams & kinds[k].bit))
				continue;
			char lower[TR_NAME_LEN];
			size_t n = strlen(cfg->symbols[i]);
			for (size_t j = 0; j <= n; j++)
				lower[j] = (char)tolower((unsigned char)cfg->symbols[i][j]);
			snprintf(f->streams[f->nstreams++], sizeof f->streams[0], "%s@%s", lower,
				 kinds[k].suffix);
		}
}

/* Queue a text message; sent by the writeable callback, rate-limited. */
static void queue_msg(struct conn *c, const char *text)
{
	size_t n = strlen(text);
	struct msg *m = malloc(sizeof *m + LWS_PRE + n + 1);

	if (!m)
		return;
	m->next = NULL;
	m->len = n;
	memcpy(m->text + LWS_PRE, text, n + 1);
	*c->out_tail = m;
	c->out_tail = &m->next;
	if (c->wsi && c->state == C_OPEN)
		lws_callback_on_writable(c->wsi);
}

static void free_msgs(struct conn *c)
{
	while (c->out) {
		struct msg *m = c->out;
		c->out = m->next;
		free(m);
	}
	c->out_tail = &c->out;
}

/* SUBSCRIBE or UNSUBSCRIBE streams [from, to) in messages of <= 200 params. */
static void queue_method(struct tr_feed *f, struct conn *c, const char *method, char (*s)[48],
			 unsigned from, unsigned to)
{
	char text[200 * 52 + 128];

	while (from < to) {
		size_t n =
		    (size_t)snprintf(text, sizeof text, "{\"method\":\"%s\",\"params\":[", method);
		unsigned i;
		for (i = from; i < to && i < from + 200; i++)
			n += (size_t)snprintf(text + n, sizeof text - n, "%s\"%s\"",
					      i > from ? "," : "", s[i]);
		snprintf(text + n, sizeof text - n, "],\"id\":%llu}",
			 (unsigned long long)++f->next_id);
		queue_msg(c, text);
		from = i;
	}
}

/* Attempts in the last 5 minutes have reached the venue's limit: wait. */
static int64_t attempt_delay_ns(struct tr_feed *f, int64_t now)
{
	int64_t oldest = f->attempt_ns[f->attempt_pos]; /* the ATTEMPT_LIMIT-th last */

	return oldest && now - oldest < ATTEMPT_WINDOW_NS ? ATTEMPT_WINDOW_NS - (now - oldest) : 0;
}

static int conn_open(struct tr_feed *f, struct conn *c)
{
	char path[URL_STREAMS_MAX + 512];
	struct lws_client_connect_info ci;
	size_t n;
	unsigned in_url = 0;

	n = (size_t)snprintf(path, sizeof path, "%s/stream?streams=", f->base_path);
	for (; in_url < f->nstreams && in_url < MAX_STREAMS_PER_CONN; in_url++) {
		if (n + strlen(f->streams[in_url]) + 1 > URL_STREAMS_MAX)
			break;
		n += (size_t)snprintf(path + n, sizeof path - n, "%s%s", in_url ? "/" : "",
				      f->streams[in_url]);
	}
	memset(c, 0, sizeof *c);
	c->f = f;
	c->out_tail = &c->out;
	c->cap = 1 << 16;
	c->buf = malloc(c->cap + TR_PARSE_PADDING);
	if (!c->buf)
		return tr_err(ENOMEM, "out of memory");
	unsigned limit = f->nstreams < MAX_STREAMS_PER_CONN ? f->nstreams : MAX_STREAMS_PER_CONN;
	if (in_url < limit)
		queue_method(f, c, "SUBSCRIBE", f->streams, in_url, limit);
	if (f->nstreams > MAX_STREAMS_PER_CONN)
		feed_log(f, "%u streams: only the first %d fit one connection", f->nstreams,
			 MAX_STREAMS_PER_CONN);

	memset(&ci, 0, sizeof ci);
	ci.context = f->ctx;
	ci.address = f->host;
	ci.host = f->host;
	ci.origin = f->host;
	ci.port = f->port;
	ci.path = path;
	ci.ssl_connection = f->tls ? LCCSCF_USE_SSL : 0;
	if (f->tls && !f->verify)
		ci.ssl_connection |=
		    LCCSCF_ALLOW_SELFSIGNED | LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK;
	ci.local_protocol_name = tr_feed_protocol.name;
	ci.userdata = c;
	ci.pwsi = &c->wsi;
	c->state = C_CONNECTING;
	c->opened_ns = now_ns();
	f->attempt_ns[f->attempt_pos] = c->opened_ns;
	f->attempt_pos = (f->attempt_pos + 1) % ATTEMPT_LIMIT;
	if (!lws_client_connect_via_info(&ci)) {
		/* lws reports the failure through CLIENT_CONNECTION_ERROR or not
		 * at all; make sure a retry happens */
		c->state = C_IDLE;
		return tr_err(ECONNREFUSED, "connect %s:%d failed", f->host, f->port);
	}
	return 0;
}

static void schedule_connect(struct tr_feed *f);

static void on_connect_timer(lws_sorted_usec_list_t *sul)
{
	struct tr_feed *f = container_of(sul, struct tr_feed, sul_connect);
	struct conn *c = &f->conns[f->cur];

	if (f->stopping || c->state != C_IDLE)
		return;
	int64_t wait = attempt_delay_ns(f, now_ns());
	if (wait > 0) {
		feed_log(f, "connection attempt limit: waiting %.1f s", wait / 1e9);
		lws_sul_schedule(f->ctx, 0, &f->sul_connect, on_connect_timer, wait / 1000);
		return;
	}
	if (conn_open(f, c) < 0) {
		feed_log(f, "%s", tr_errmsg());
		free(c->buf);
		c->buf = NULL;
		schedule_connect(f);
	}
}

/* Capped exponential backoff with jitter: delay in [d/2, d). */
static void schedule_connect(struct tr_feed *f)
{
	uint64_t d = f->min_ms;

	for (unsigned i = 0; i < f->attempts && d < f->max_ms; i++)
		d *= 2;
	if (d > f->max_ms)
		d = f->max_ms;
	f->attempts++;
	uint64_t us = d * 500 + (uint64_t)(rand() % (int)(d * 500 + 1));
	lws_sul_schedule(f->ctx, 0, &f->sul_connect, on_connect_timer, (lws_usec_t)us);
}

static void conn_closed(struct conn *c, const char *why)
{
	struct tr_feed *f = c->f;
	bool was_current = c == &f->conns[f->cur] && !c->retiring;
	bool was_open = c->state == C_OPEN || c->state == C_CLOSING;

	c->state = C_IDLE;
	c->wsi = NULL;
	free(c->buf);
	c->buf = NULL;
	free_msgs(c);
	if (was_open)
		f->st.disconnects++;
	if (!was_current) {
		if (c->retiring)
			feed_log(f, "old connection closed after rollover");
		c->retiring = false;
		return;
	}
	/* The successor, if any, becomes current. */
	struct conn *other = &f->conns[!f->cur];
	if (other->state == C_OPEN || other->state == C_CONNECTING) {
		other->retiring = false; /* the only connection left: keep it */
		f->cur = !f->cur;
		return;
	}
	if (was_open && !f->stopping) {
		char text[88];
		snprintf(text, sizeof text, "%.40s:%d %.40s", f->host, f->port, why);
		tr_engine_event_text(f->e, TR_EV_FEED_DOWN, 1, f->venue_id, text);
		tr_engine_feed_reset(f->e, f->venue_id);
		tr_writer_counter_add(tr_engine_writer(f->e), TR_CTR_RECONNECTS, 1);
	}
	feed_log(f, "disconnected (%s)", why);
	if (!f->stopping)
		schedule_connect(f);
}

static void deliver(struct conn *c)
{
	struct tr_feed *f = c->f;

	f->st.frames++;
	c->delivered = true;
	tr_engine_capture(f->e, c->first_frag_ns, c->buf, c->len);
	tr_engine_frame(f->e, f->venue_id, TR_SRC_FEED, c->first_frag_ns, c->buf, c->len);
	tr_writer_commit(tr_engine_writer(f->e)); /* wake sleeping readers now */
}

static int on_receive(struct conn *c, struct lws *wsi, const char *in, size_t len)
{
	int64_t now = now_ns();

	if (lws_is_first_fragment(wsi)) {
		c->len = 0;
		c->dropping = false;
		c->first_frag_ns = now;
	}
	c->last_rx_ns = now;
	if (!c->dropping && c->len + len > TR_PARSE_MAX_FRAME) {
		c->dropping = true;
		c->f->st.oversize++;
		tr_writer_counter_add(tr_engine_writer(c->f->e), TR_CTR_BAD_OVERSIZE, 1);
	}
	if (!c->dropping) {
		if (c->len + len > c->cap) {
			size_t cap = c->cap;
			while (cap < c->len + len)
				cap *= 2;
			char *b = realloc(c->buf, cap + TR_PARSE_PADDING);
			if (!b)
				return -1;
			c->buf = b;
			c->cap = cap;
		}
		memcpy(c->buf + c->len, in, len);
		c->len += len;
	}
	if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
		if (!c->dropping)
			deliver(c);
		c->len = 0;
		c->dropping = false;
	}
	return 0;
}

static void on_established(struct conn *c)
{
	struct tr_feed *f = c->f;
	char text[88];

	c->state = C_OPEN;
	c->last_rx_ns = c->last_ping_ns = now_ns();
	f->attempts = 0;
	f->st.connects++;
	snprintf(text, sizeof text, "%s://%.40s:%d%.30s", f->tls ? "wss" : "ws", f->host, f->port,
		 f->base_path);
	tr_engine_event_text(f->e, TR_EV_FEED_UP, 0, f->venue_id, text);
	feed_log(f, "connected to %s (%u streams)", text, f->nstreams);
	if (c->out)
		lws_callback_on_writable(c->wsi);
}

static int on_writeable(struct conn *c, struct lws *wsi)
{
	int64_t now = now_ns();

	if (c->want_ping) {
		unsigned char buf[LWS_PRE + 8];
		c->want_ping = false;
		if (lws_write(wsi, buf + LWS_PRE, 0, LWS_WRITE_PING) < 0)
			return -1;
	}
	if (c->out) {
		if (now - c->last_msg_ns < MSG_INTERVAL_US * 1000ll)
			return 0; /* the check timer asks again */
		struct msg *m = c->out;
		if (lws_write(wsi, (unsigned char *)m->text + LWS_PRE, m->len, LWS_WRITE_TEXT) <
		    (int)m->len)
			return -1;
		c->last_msg_ns = now;
		c->out = m->next;
		if (!c->out)
			c->out_tail = &c->out;
		free(m);
	}
	return 0;
}

static void close_conn(struct conn *c)
{
	if (c->wsi && c->state != C_IDLE) {
		c->state = C_CLOSING;
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_REASON_BASE, LWS_TO_KILL_ASYNC);
	}
}

/* Every CHECK_US: stale detection, pings, rollover, queued messages. */
static void on_check_timer(lws_sorted_usec_list_t *sul)
{
	struct tr_feed *f = container_of(sul, struct tr_feed, sul_check);
	int64_t now = now_ns();

	if (f->stopping)
		return;
	for (unsigned i = 0; i < 2; i++) {
		struct conn *c = &f->conns[i];

		if (c->state != C_OPEN)
			continue;
		if (now - c->last_rx_ns > (int64_t)f->stale_ms * 1000000) {
			feed_log(f, "nothing received for %u ms: reconnecting", f->stale_ms);
			f->st.stale_closes++;
			close_conn(c);
			continue;
		}
		if (now - c->last_ping_ns >= (int64_t)f->ping_s * NS) {
			c->want_ping = true;
			c->last_ping_ns = now;
		}
		if (c->want_ping || c->out)
			lws_callback_on_writable(c->wsi);
	}
	struct conn *cur = &f->conns[f->cur], *nxt = &f->conns[!f->cur];
	/* Planned rollover before the venue's cut: open the successor. */
	if (cur->state == C_OPEN && nxt->state == C_IDLE &&
	    now - cur->opened_ns > (int64_t)f->max_age_s * NS) {
		feed_log(f, "connection is %u s old: opening its successor", f->max_age_s);
		if (conn_open(f, nxt) == 0)
			f->st.rollovers++;
	}
	/* Once the successor delivers, retire the old one after the overlap. */
	/* Only a successor (not the connection being retired, which delivered
	 * too) takes over; else the two would swap back and forth and the
	 * newer one would be closed. */
	if (cur->state == C_OPEN && nxt->state == C_OPEN && nxt->delivered && !nxt->retiring &&
	    !cur->retiring) {
		cur->retiring = true;
		cur->retire_ns = now;
		f->cur = !f->cur;
	}
	struct conn *old = &f->conns[!f->cur];
	if (old->retiring && old->state == C_OPEN &&
	    now - old->retire_ns > (int64_t)f->overlap_ms * 1000000)
		close_conn(old);
	lws_sul_schedule(f->ctx, 0, &f->sul_check, on_check_timer, CHECK_US);
}

static int feed_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
			 size_t len)
{
	struct conn *c = user;

	(void)user;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		on_established(c);
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		return on_receive(c, wsi, in, len);
	case LWS_CALLBACK_CLIENT_RECEIVE_PONG:
		c->last_rx_ns = now_ns();
		break;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return on_writeable(c, wsi);
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
		char why[128];
		snprintf(why, sizeof why, "connect failed: %s", in ? (const char *)in : "?");
		if (c)
			conn_closed(c, why);
		break;
	}
	case LWS_CALLBACK_CLIENT_CLOSED:
		if (c)
			conn_closed(c, c->state == C_CLOSING ? "closed by us" : "closed by peer");
		break;
	default:
		break;
	}
	return 0;
}

const struct lws_protocols tr_feed_protocol = {
    .name = "tr-feed",
    .callback = feed_callback,
    .per_session_data_size = 0,
    .rx_buffer_size = 65536,
};

int tr_feed_start(struct tr_feed **out, struct lws_context *ctx, struct tr_engine *e,
		  const struct tr_config *cfg, unsigned idx)
{
	struct tr_feed *f = calloc(1, sizeof *f);
	int rc;

	if (!f)
		return tr_err(ENOMEM, "out of memory");
	f->ctx = ctx;
	f->e = e;
	snprintf(f->venue, sizeof f->venue, "%s", cfg->feeds[idx].venue);
	if ((rc = tr_engine_venue(e, f->venue)) < 0) {
		free(f);
		return rc;
	}
	f->venue_id = (unsigned)rc;
	if ((rc = parse_url(f, cfg->feeds[idx].url)) < 0) {
		free(f);
		return rc;
	}
	f->verify = cfg->verify_tls;
	f->min_ms = cfg->reconnect_min_ms;
	f->max_ms = cfg->reconnect_max_ms;
	f->stale_ms = cfg->stale_ms;
	f->ping_s = cfg->ping_interval_s ? cfg->ping_interval_s : 30;
	f->max_age_s = cfg->max_conn_age_s;
	f->overlap_ms = cfg->overlap_ms;
	build_streams(f, cfg);
	for (int i = 0; i < 2; i++)
		f->conns[i].out_tail = &f->conns[i].out;
	lws_sul_schedule(ctx, 0, &f->sul_connect, on_connect_timer, 1);
	lws_sul_schedule(ctx, 0, &f->sul_check, on_check_timer, CHECK_US);
	*out = f;
	return 0;
}

int tr_feed_resubscribe(struct tr_feed *f, const struct tr_config *cfg)
{
	char old[TR_CFG_MAX_SYMBOLS * 3][48];
	unsigned nold = f->nstreams, nadd = 0, ndel = 0;
	static char add[TR_CFG_MAX_SYMBOLS * 3][48], del[TR_CFG_MAX_SYMBOLS * 3][48];

	memcpy(old, f->streams, sizeof old);
	build_streams(f, cfg);
	for (unsigned i = 0; i < f->nstreams; i++) {
		bool found = false;
		for (unsigned j = 0; j < nold && !found; j++)
			found = !strcmp(f->streams[i], old[j]);
		if (!found)
			memcpy(add[nadd++], f->streams[i], 48);
	}
	for (unsigned j = 0; j < nold; j++) {
		bool found = false;
		for (unsigned i = 0; i < f->nstreams && !found; i++)
			found = !strcmp(f->streams[i], old[j]);
		if (!found)
			memcpy(del[ndel++], old[j], 48);
	}
	for (unsigned i = 0; i < 2; i++) {
		struct conn *c = &f->conns[i];
		if (c->state != C_OPEN && c->state != C_CONNECTING)
			continue;
		if (nadd)
			queue_method(f, c, "SUBSCRIBE", add, 0, nadd);
		if (ndel)
			queue_method(f, c, "UNSUBSCRIBE", del, 0, ndel);
	}
	feed_log(f, "resubscribe: %u streams added, %u removed", nadd, ndel);
	return 0;
}

void tr_feed_stop(struct tr_feed *f)
{
	f->stopping = true;
	lws_sul_cancel(&f->sul_connect);
	lws_sul_cancel(&f->sul_check);
	for (int i = 0; i < 2; i++)
		close_conn(&f->conns[i]);
}

void tr_feed_free(struct tr_feed *f)
{
	if (!f)
		return;
	for (int i = 0; i < 2; i++) {
		free(f->conns[i].buf);
		free_msgs(&f->conns[i]);
	}
	free(f);
}

void tr_feed_stats(const struct tr_feed *f, struct tr_feed_stats *out)
{
	*out = f->st;
}
