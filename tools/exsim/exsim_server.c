/* exsim_server.c - the WebSocket side: Binance's stream protocol over lws.
 *
 * Paths: /stream?streams=a/b (combined: every frame is the envelope
 * {"stream":..,"data":..}), /ws/<stream>[/<stream>...] and /ws (raw: the
 * data object only). Clients may SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS
 * and GET/SET_PROPERTY "combined" at any time (exsim_req.c parses them).
 *
 * Binance's limits are enforced as the real server does, because tickringd
 * has to live with them: at most --max-streams (1024) streams per connection
 * (a request that would exceed it gets an error reply and changes nothing; a
 * URL with too many is closed with 1008), and at most --msg-limit (5) incoming
 * messages per second per connection, text messages and pongs counted. Going
 * over the message rate closes the connection with 1008 "Too many requests":
 * Binance disconnects too (and bans repeat offenders), so a client that trips
 * it must see the same failure here, not a friendlier error it could ignore.
 *
 * Sending: each client has a cursor into the shared ring (exsim_feed.c). In
 * the writeable callback it sends queued replies first, then frames from its
 * cursor, one lws_write per frame, while lws_send_pipe_choked() says the
 * socket takes more, up to a batch limit so other clients get their turn.
 * Faults that differ per client (--malformed-every) are applied here, on a
 * private copy; faults on trade ids (skip, dup) were decided once in the ring.
 *
 * Timers: one tick every 100 ms sends pings (--ping-interval), closes
 * connections that did not answer (--pong-timeout), that are too old
 * (--max-conn-age, a clean close frame like Binance's 24 h cut) or turns them
 * silent (--silent-after). A second timer drops every connection abruptly
 * (--drop-every: shutdown(2), no close frame) and rewinds the feed; under
 * --hold, the last subscribed client leaving in any other way rewinds too.
 * A client that vanished without a close frame may not have read what sat
 * in the socket buffers, so that rewind first steps back over as many bytes
 * of its frames as the buffers can hold (our SO_SNDBUF plus the kernel's
 * largest receive buffer): duplicates, but no gap.
 */
#define _GNU_SOURCE
#include "exsim.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define TICK_NS 100000000ll
#define BATCH 1024	  /* frames written per writeable callback */
#define SCAN 65536	  /* ring slots examined per writeable callback */
#define MAX_REPLIES 16	  /* queued control replies per client */
#define MAX_RX (64 << 10) /* largest client message */

struct exsim_client {
	struct exsim_client *next, *prev;
	struct exsim *ex;
	struct lws *wsi;
	unsigned id;
	char peer[64];
	bool combined;
	uint8_t *bits; /* subscription bitmap over stream ids */
	uint32_t *subs;
	int nsubs;
	uint64_t cursor;
	bool dup_sent;
	int64_t connected_ns, last_ping_ns, ping_sent_ns;
	bool ping_due, ping_outstanding, closing, drop, silent, rx_off;
	bool peer_closed;  /* the client sent a close frame: it read what it wanted */
	uint64_t inflight; /* bytes socket buffers can hold between us and its reads */
	int close_code;
	const char *close_msg;
	char *reply[MAX_REPLIES];
	int nreply;
	int64_t msg_ns[EXSIM_MAX_MSG_LIMIT];
	unsigned nmsg;
	char *rx;
	size_t rxlen;
	uint64_t nsent;
	unsigned char *out;
	size_t outcap;
	/* A text message on its way in fragments (--fragment,
	 * --fragment-bytes-every, --oversize-every): it goes out whole, before
	 * anything else, over as many writeable callbacks as it takes. */
	char *msg;
	size_t msg_len, msg_off, msg_cap;
	size_t step;  /* fragments of this many bytes, or (0) up to ends[] */
	size_t *ends; /* fragment ends, ascending; the last is msg_len */
	unsigned end_i;
	unsigned char *frag; /* LWS_PRE headroom, then one fragment */
	size_t frag_cap;
	uint64_t nmsgs, noversize;
	bool oversize_due; /* an oversize message follows the current one */
	const char *oversize_stream;
	uint64_t rng;
};

struct pss {
	struct exsim_client *c;
};

static struct exsim *g_ex;

static uint64_t inflight_bytes(struct lws *wsi);
static lws_sorted_usec_list_t tick_sul, drop_sul;

static bool active(const struct exsim_client *c)
{
	return !c->closing && !c->drop;
}

static bool subscribed(const struct exsim_client *c, uint32_t id)
{
	return c->bits[id >> 3] & (1u << (id & 7));
}

unsigned exsim_server_subscribed(struct exsim *ex)
{
	unsigned n = 0;

	for (struct exsim_client *c = ex->clients; c; c = c->next)
		n += active(c) && c->nsubs > 0;
	return n;
}

uint64_t exsim_min_cursor(struct exsim *ex)
{
	uint64_t m = ex->ring.pub;

	for (struct exsim_client *c = ex->clients; c; c = c->next)
		if (active(c) && c->nsubs > 0 && c->cursor < m)
			m = c->cursor;
	return m;
}

static bool msg_pending(const struct exsim_client *c)
{
	return c->msg_off < c->msg_len || c->oversize_due;
}

bool exsim_server_drained(struct exsim *ex)
{
	for (struct exsim_client *c = ex->clients; c; c = c->next)
		if (active(c) && c->nsubs > 0 &&
		    (c->cursor < ex->ring.pub || c->nreply || msg_pending(c)))
			return false;
	return true;
}

void exsim_server_wake(struct exsim *ex)
{
	for (struct exsim_client *c = ex->clients; c; c = c->next)
		if (active(c) && c->nsubs > 0 && !c->silent)
			lws_callback_on_writable(c->wsi);
}

void exsim_server_clamp(struct exsim *ex)
{
	for (struct exsim_client *c = ex->clients; c; c = c->next)
		if (c->cursor > ex->ring.pub)
			c->cursor = ex->ring.pub;
}

static void close_client(struct exsim_client *c, int code, const char *why)
{
	if (!active(c))
		return;
	c->closing = true;
	c->close_code = code;
	c->close_msg = why;
	exsim_log("client %u: closing (%d %s)", c->id, code, why);
	lws_callback_on_writable(c->wsi);
}

/* No close frame: the peer sees the TCP stream end, as when a route dies. */
static void drop_client(struct exsim_client *c)
{
	if (!active(c))
		return;
	c->drop = true;
	shutdown(lws_get_socket_fd(c->wsi), SHUT_RDWR);
	lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_ACK, LWS_TO_KILL_ASYNC);
}

void exsim_server_evict_below(struct exsim *ex, uint64_t seq)
{
	for (struct exsim_client *c = ex->clients; c; c = c->next)
		if (active(c) && c->nsubs > 0 && c->cursor < seq)
			close_client(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "slow consumer");
}

void exsim_server_close_all(struct exsim *ex, bool abrupt, const char *why)
{
	for (struct exsim_client *c = ex->clients; c; c = c->next)
		if (abrupt)
			drop_client(c);
		else
			close_client(c, LWS_CLOSE_STATUS_NORMAL, why);
}

/* Hold the replay clock while nobody listens (--hold), start it on the first
 * subscription. */
static void update_hold(struct exsim *ex)
{
	unsigned n = exsim_server_subscribed(ex);

	if (n > 0)
		exsim_feed_hold(ex, false);
	else if (ex->cfg.hold)
		exsim_feed_hold(ex, true);
	/* A client came or went: the ring may have room, or a new reader. In
	 * max mode nothing else would restart a feed stalled on backpressure. */
	exsim_feed_pump(ex);
}

static void queue_reply(struct exsim_client *c, const char *s)
{
	if (c->nreply == MAX_REPLIES) {
		close_client(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "Too many requests");
		return;
	}
	c->reply[c->nreply] = strdup(s);
	if (c->reply[c->nreply])
		c->nreply++;
	lws_callback_on_writable(c->wsi);
}

static void sub_add(struct exsim_client *c, int id)
{
	if (subscribed(c, (uint32_t)id))
		return;
	if (c->nsubs == 0)
		c->cursor = c->ex->ring.pub; /* live from now on */
	c->bits[id >> 3] |= (uint8_t)(1u << (id & 7));
	c->subs[c->nsubs++] = (uint32_t)id;
}

static void sub_del(struct exsim_client *c, int id)
{
	if (!subscribed(c, (uint32_t)id))
		return;
	c->bits[id >> 3] &= (uint8_t) ~(1u << (id & 7));
	for (int i = 0; i < c->nsubs; i++)
		if (c->subs[i] == (uint32_t)id) {
			memmove(&c->subs[i], &c->subs[i + 1],
				(size_t)(c->nsubs - i - 1) * sizeof c->subs[0]);
			c->nsubs--;
			break;
		}
}

/* How many of the ids are not yet subscribed. */
static int count_new(struct exsim_client *c, const int *ids, int n)
{
	int k = 0;

	for (int i = 0; i < n; i++) {
		bool seen = subscribed(c, (uint32_t)ids[i]);

		for (int j = 0; j < i && !seen; j++)
			seen = ids[j] == ids[i];
		k += !seen;
	}
	return k;
}

static void after_subscribe(struct exsim_client *c)
{
	if (c->ex->cfg.no_pong && !c->rx_off && c->nsubs > 0) {
		/* lws answers pings itself; not reading is the only way to withhold
		 * the pong. Requests from now on are not read either. */
		c->rx_off = true;
		lws_rx_flow_control(c->wsi, 0);
		exsim_log("client %u: fault: no-pong, no longer reading", c->id);
	}
	update_hold(c->ex);
}

static void handle_request(struct exsim_client *c, const char *msg, size_t len)
{
	static struct exsim_req req; /* 4 KB: the lws thread is the only user */
	char out[256];

	if (exsim_req_parse(&req, msg, len, c->ex->cfg.max_streams, out, sizeof out)) {
		exsim_log("client %u: bad request: %.*s", c->id, len > 120 ? 120 : (int)len, msg);
		queue_reply(c, out);
		return;
	}
	switch (req.method) {
	case EXSIM_SUBSCRIBE:
		if (c->nsubs + count_new(c, req.params, req.nparams) > c->ex->cfg.max_streams) {
			snprintf(out, sizeof out,
				 "{\"error\":{\"code\":2,\"msg\":\"Invalid request: too many "
				 "streams (limit %d per connection)\"},\"id\":%s}",
				 c->ex->cfg.max_streams, req.id);
			queue_reply(c, out);
			return;
		}
		for (int i = 0; i < req.nparams; i++)
			sub_add(c, req.params[i]);
		exsim_log("client %u: subscribed %d streams (%d total), id %s", c->id, req.nparams,
			  c->nsubs, req.id);
		break;
	case EXSIM_UNSUBSCRIBE:
		for (int i = 0; i < req.nparams; i++)
			sub_del(c, req.params[i]);
		exsim_log("client %u: unsubscribed %d streams (%d left), id %s", c->id, req.nparams,
			  c->nsubs, req.id);
		break;
	case EXSIM_LIST_SUBSCRIPTIONS: {
		size_t cap = 64 + (size_t)c->nsubs * (EXSIM_STREAM_NAME + 3), n = 0;
		char *s = malloc(cap);

		if (!s)
			return;
		n += (size_t)snprintf(s + n, cap - n, "{\"result\":[");
		for (int i = 0; i < c->nsubs; i++)
			n += (size_t)snprintf(s + n, cap - n, "%s\"%s\"", i ? "," : "",
					      exsim_stream_name(c->subs[i]));
		snprintf(s + n, cap - n, "],\"id\":%s}", req.id);
		queue_reply(c, s);
		free(s);
		return;
	}
	case EXSIM_SET_PROPERTY:
		c->combined = req.prop_value;
		break;
	case EXSIM_GET_PROPERTY:
		snprintf(out, sizeof out, "{\"result\":%s,\"id\":%s}",
			 c->combined ? "true" : "false", req.id);
		queue_reply(c, out);
		return;
	}
	snprintf(out, sizeof out, "{\"result\":null,\"id\":%s}", req.id);
	queue_reply(c, out);
	if (req.method == EXSIM_SUBSCRIBE || req.method == EXSIM_UNSUBSCRIBE)
		after_subscribe(c);
}

/* Binance counts every incoming message, pongs included. True if over. */
static bool over_rate(struct exsim_client *c)
{
	int lim = c->ex->cfg.msg_limit;
	int64_t now = exsim_now();

	if (lim <= 0)
		return false;
	unsigned slot = c->nmsg % (unsigned)lim;
	bool over = c->nmsg >= (unsigned)lim && now - c->msg_ns[slot] < 1000000000ll;
	c->msg_ns[slot] = now;
	c->nmsg++;
	if (over)
		close_client(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "Too many requests");
	return over;
}

/* Streams from the URL: /stream?streams=a/b/c, /ws/a, /ws/a/b, /ws. */
static int parse_path(struct exsim_client *c)
{
	char uri[8192], args[8192] = "";
	const char *list = NULL;
	int n = lws_hdr_copy(c->wsi, uri, sizeof uri, WSI_TOKEN_GET_URI);

	if (n < 0)
		return -1;
	char *q = strchr(uri, '?');
	if (q) {
		*q++ = 0;
		snprintf(args, sizeof args, "%s", q);
	} else {
		char frag[8192];

		for (int i = 0; lws_hdr_copy_fragment(c->wsi, frag, sizeof frag,
						      WSI_TOKEN_HTTP_URI_ARGS, i) > 0;
		     i++)
			if (!strncmp(frag, "streams=", 8))
				snprintf(args, sizeof args, "%s", frag);
	}
	size_t ul = strlen(uri);
	while (ul > 1 && uri[ul - 1] == '/')
		uri[--ul] = 0;
	if (!strcmp(uri, "/stream")) {
		c->combined = true;
		for (char *save = NULL, *t = strtok_r(args, "&", &save); t;
		     t = strtok_r(NULL, "&", &save))
			if (!strncmp(t, "streams=", 8))
				list = t + 8;
	} else if (!strcmp(uri, "/ws")) {
		c->combined = false;
	} else if (!strncmp(uri, "/ws/", 4)) {
		c->combined = false;
		list = uri + 4;
	} else {
		return -1;
	}
	if (!list)
		return 0;
	static int ids[2048];
	int k = 0;
	char *dup = strdup(list);
	if (!dup)
		return -1;
	for (char *save = NULL, *t = strtok_r(dup, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
		int id = exsim_stream_id(t, strlen(t));

		if (id < 0 || k == 2048) {
			free(dup);
			return id < 0 ? -1 : -2;
		}
		ids[k++] = id;
	}
	free(dup);
	if (count_new(c, ids, k) > c->ex->cfg.max_streams)
		return -2;
	for (int i = 0; i < k; i++)
		sub_add(c, ids[i]);
	return 0;
}

/* ---- fragmented messages ---------------------------------------------------- */

#define OVERSIZE_BYTES ((1u << 20) + 4096) /* just over tickringd's 1 MiB frame limit */
#define OVERSIZE_FRAG (64u << 10)

static uint64_t next_rand(struct exsim_client *c)
{
	c->rng ^= c->rng << 13;
	c->rng ^= c->rng >> 7;
	c->rng ^= c->rng << 17;
	return c->rng;
}

/* Take a copy of s[0..n) as the current message and choose its fragments:
 * `step` bytes each when step > 0, else `parts` fragments with random cut
 * points (one byte each when the message is shorter). */
static int start_message(struct exsim_client *c, const char *s, size_t n, size_t step,
			 unsigned parts)
{
	if (c->msg_cap < n) {
		char *m = realloc(c->msg, n);

		if (!m)
			return -1;
		c->msg = m;
		c->msg_cap = n;
	}
	if (s)
		memcpy(c->msg, s, n); /* else the caller built it there */
	c->msg_len = n;
	c->msg_off = 0;
	c->end_i = 0;
	if (step == 0 && parts >= n)
		step = 1;
	c->step = step;
	if (step > 0)
		return 0;
	size_t *e = realloc(c->ends, parts * sizeof *e);
	if (!e)
		return -1;
	c->ends = e;
	/* parts - 1 distinct cuts in 1..n-1, kept sorted (parts is small) */
	unsigned k = 0;
	while (k < parts - 1) {
		size_t cut = 1 + (size_t)(next_rand(c) % (n - 1)), i = k;

		while (i > 0 && e[i - 1] > cut)
			i--;
		if (i > 0 && e[i - 1] == cut)
			continue;
		memmove(e + i + 1, e + i, (k - i) * sizeof *e);
		e[i] = cut;
		k++;
	}
	e[k] = n;
	return 0;
}

/* Send the current message on from msg_off, a fragment per lws_write, while
 * the socket takes more. Returns 0 when it is all out, 1 when the socket is
 * full (the rest goes in a later writeable callback), -1 on error. */
static int send_fragments(struct exsim_client *c)
{
	while (c->msg_off < c->msg_len) {
		if (lws_send_pipe_choked(c->wsi))
			return 1;
		size_t end = c->step ? c->msg_off + c->step : c->ends[c->end_i];

		if (end > c->msg_len)
			end = c->msg_len;
		size_t n = end - c->msg_off;
		int flags = (c->msg_off ? LWS_WRITE_CONTINUATION : LWS_WRITE_TEXT) |
			    (end < c->msg_len ? LWS_WRITE_NO_FIN : 0);

		if (c->frag_cap < LWS_PRE + n) {
			unsigned char *fr = realloc(c->frag, LWS_PRE + n);

			if (!fr)
				return -1;
			c->frag = fr;
			c->frag_cap = LWS_PRE + n;
		}
		memcpy(c->frag + LWS_PRE, c->msg + c->msg_off, n);
		if (lws_write(c->wsi, c->frag + LWS_PRE, n, (enum lws_write_protocol)flags) <
		    (int)n)
			return -1;
		c->msg_off = end;
		c->end_i++;
	}
	return 0;
}

/* A well-formed message just over 1 MiB in 64 KiB fragments, on the stream
 * of the frame just sent: tickringd must drop it, count it and go on. */
static int start_oversize(struct exsim_client *c, const char *stream)
{
	char head[160];
	const char *tail = c->combined ? "\"}}" : "\"}";
	int h = c->combined
		    ? snprintf(head, sizeof head,
			       "{\"stream\":\"%s\",\"data\":{\"e\":\"trade\",\"pad\":\"", stream)
		    : snprintf(head, sizeof head, "{\"e\":\"trade\",\"pad\":\"");
	size_t tl = strlen(tail);

	if (start_message(c, NULL, OVERSIZE_BYTES, OVERSIZE_FRAG, 0))
		return -1;
	memcpy(c->msg, head, (size_t)h);
	memset(c->msg + h, 'x', OVERSIZE_BYTES - (size_t)h - tl);
	memcpy(c->msg + OVERSIZE_BYTES - tl, tail, tl);
	c->noversize++;
	exsim_log("client %u: oversize message %llu, %u bytes in %u fragments", c->id,
		  (unsigned long long)c->noversize, OVERSIZE_BYTES,
		  (OVERSIZE_BYTES + OVERSIZE_FRAG - 1) / OVERSIZE_FRAG);
	return 0;
}

/* Finish the message in flight, then a due oversize message. 0: nothing is
 * pending any more; 1: the socket is full; -1: error. */
static int flush_message(struct exsim_client *c)
{
	for (;;) {
		int rc = send_fragments(c);

		if (rc)
			return rc;
		if (!c->oversize_due)
			return 0;
		c->oversize_due = false;
		if (start_oversize(c, c->oversize_stream))
			return -1;
	}
}

static int write_text(struct exsim_client *c, const char *s, size_t n)
{
	const struct exsim_config *cfg = &c->ex->cfg;

	if (n > 0 && (cfg->fragment > 1 || cfg->fragment_bytes_every > 0)) {
		size_t step = 0; /* --fragment N: random cuts */

		c->nmsgs++;
		if (cfg->fragment_bytes_every > 0 &&
		    c->nmsgs % (uint64_t)cfg->fragment_bytes_every == 0)
			step = 1; /* a byte per fragment */
		else if (cfg->fragment < 2)
			step = n; /* one fragment: an ordinary message */
		if (start_message(c, s, n, step, (unsigned)cfg->fragment))
			return -1;
		return send_fragments(c) < 0 ? -1 : 0;
	}
	if (c->outcap < LWS_PRE + n) {
		size_t cap = (LWS_PRE + n) * 2;
		unsigned char *p = realloc(c->out, cap);

		if (!p)
			return -1;
		c->out = p;
		c->outcap = cap;
	}
	memcpy(c->out + LWS_PRE, s, n);
	return lws_write(c->wsi, c->out + LWS_PRE, n, LWS_WRITE_TEXT) < (int)n ? -1 : 0;
}

/* The Nth frame (--malformed-every) in one of several broken forms. */
static int write_malformed(struct exsim_client *c, const struct exsim_frame *f)
{
	const char *stream = exsim_stream_name(f->stream);
	const char *data = f->buf + f->data_off;
	bool trade = f->flags & EXSIM_F_TRADE;
	char s[512];
	int n = 0;
	unsigned kind = (unsigned)((c->nsent / (uint64_t)c->ex->cfg.malformed_every) % 5);

	switch (kind) {
	case 0: /* truncated mid-frame */
		if (c->combined)
			return write_text(c, f->buf, f->len / 2);
		return write_text(c, data, f->data_len / 2);
	case 1: /* right keys, wrong types */
		n = snprintf(s, sizeof s, "%s",
			     trade ? "{\"e\":\"trade\",\"E\":\"soon\",\"s\":42,\"t\":\"abc\","
				     "\"p\":61837.63,\"q\":null,\"T\":[],\"m\":\"no\",\"M\":1}"
				   : "{\"u\":\"x\",\"s\":7,\"b\":null,\"B\":[],\"a\":{},\"A\":-1}");
		break;
	case 2: /* not JSON at all */
		n = snprintf(s, sizeof s, "}{ not json \\\" at all");
		break;
	case 3: /* a number that fits no fixed-point field */
		n = snprintf(s, sizeof s, "%s",
			     trade ? "{\"e\":\"trade\",\"E\":1,\"s\":\"BTCUSDT\",\"t\":1,"
				     "\"p\":\"999999999999999999999.00000000\",\"q\":\"-0.0.1\","
				     "\"T\":1,\"m\":true,\"M\":true}"
				   : "{\"u\":1,\"s\":\"BTCUSDT\",\"b\":\"1e400\",\"B\":\"\","
				     "\"a\":\"999999999999999999999.1\",\"A\":\"x\"}");
		break;
	default: /* envelope without data, or an empty object */
		if (c->combined)
			n = snprintf(s, sizeof s, "{\"stream\":\"%s\"}", stream);
		else
			n = snprintf(s, sizeof s, "{}");
		return write_text(c, s, (size_t)n);
	}
	if (c->combined) {
		char e[768];
		int m = snprintf(e, sizeof e, "{\"stream\":\"%s\",\"data\":%s}", stream, s);

		return write_text(c, e, (size_t)m);
	}
	return write_text(c, s, (size_t)n);
}

static int write_frame(struct exsim_client *c, const struct exsim_frame *f)
{
	long every = c->ex->cfg.malformed_every, big = c->ex->cfg.oversize_every;

	c->nsent++;
	c->ex->sent_frames++;
	if (big > 0 && c->nsent % (uint64_t)big == 0) {
		c->oversize_due = true; /* after this frame, from flush_message */
		c->oversize_stream = exsim_stream_name(f->stream);
	}
	if (every > 0 && c->nsent % (uint64_t)every == 0)
		return write_malformed(c, f);
	if (c->combined)
		return write_text(c, f->buf, f->len);
	return write_text(c, f->buf + f->data_off, f->data_len);
}

static int on_writeable(struct exsim_client *c)
{
	struct exsim *ex = c->ex;
	struct exsim_ring *r = &ex->ring;

	if (c->drop)
		return -1;
	if (c->closing) {
		size_t n = strlen(c->close_msg);

		lws_close_reason(c->wsi, (enum lws_close_status)c->close_code,
				 (unsigned char *)(uintptr_t)c->close_msg, n);
		return -1;
	}
	if (c->silent)
		return 0;
	/* A message in fragments goes out whole before anything else. */
	int rc = flush_message(c);
	if (rc < 0)
		return -1;
	if (rc > 0) {
		lws_callback_on_writable(c->wsi);
		return 0;
	}
	if (c->ping_due) {
		unsigned char ping[LWS_PRE + 16];

		c->ping_due = false;
		c->last_ping_ns = exsim_now();
		if (!c->ping_outstanding) /* the timeout runs from the oldest unanswered ping */
			c->ping_sent_ns = c->last_ping_ns;
		c->ping_outstanding = true;
		/* A payload, as Binance sends: lws (4.1) does not report the
		 * answer to an empty ping as RECEIVE_PONG, so an empty ping
		 * would look unanswered. */
		memcpy(ping + LWS_PRE, &c->last_ping_ns, 8);
		if (lws_write(c->wsi, ping + LWS_PRE, 8, LWS_WRITE_PING) < 0)
			return -1;
		if (lws_send_pipe_choked(c->wsi)) {
			lws_callback_on_writable(c->wsi);
			return 0;
		}
	}
	while (c->nreply > 0) {
		char *s = c->reply[0];
		rc = write_text(c, s, strlen(s));

		free(s);
		memmove(&c->reply[0], &c->reply[1], (size_t)--c->nreply * sizeof c->reply[0]);
		if (rc)
			return -1;
		if (msg_pending(c) || lws_send_pipe_choked(c->wsi)) {
			lws_callback_on_writable(c->wsi);
			return 0;
		}
	}
	uint64_t start = c->cursor;
	int sent = 0;
	if (c->cursor < r->lo) /* only after a rewind past an idle client */
		c->cursor = r->lo;
	while (c->nsubs > 0 && c->cursor < r->pub && sent < BATCH && c->cursor - start < SCAN) {
		struct exsim_frame *f = exsim_at(r, c->cursor);

		if (!subscribed(c, f->stream) || (f->flags & EXSIM_F_SKIP)) {
			c->cursor++;
			continue;
		}
		if (msg_pending(c) || lws_send_pipe_choked(c->wsi))
			break;
		if (write_frame(c, f))
			return -1;
		sent++;
		if ((f->flags & EXSIM_F_DUP) && !c->dup_sent) {
			c->dup_sent = true; /* the same frame once more, next round */
			continue;
		}
		c->dup_sent = false;
		c->cursor++;
	}
	if (c->nsubs == 0)
		c->cursor = r->pub;
	if ((c->cursor < r->pub && c->nsubs > 0) || msg_pending(c))
		lws_callback_on_writable(c->wsi);
	if (c->cursor != start && ex->cfg.speed <= 0)
		exsim_feed_pump(ex); /* room in the ring: read on */
	else if (ex->src_done && c->cursor == r->pub)
		exsim_feed_pump(ex); /* maybe the last one to drain */
	return 0;
}

static void on_receive(struct exsim_client *c, const void *in, size_t len)
{
	if (c->rxlen + len > MAX_RX) {
		close_client(c, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "message too large");
		return;
	}
	char *p = realloc(c->rx, c->rxlen + len + 1);
	if (!p)
		return;
	c->rx = p;
	memcpy(c->rx + c->rxlen, in, len);
	c->rxlen += len;
	c->rx[c->rxlen] = 0;
	if (!lws_is_final_fragment(c->wsi) || lws_remaining_packet_payload(c->wsi))
		return;
	size_t n = c->rxlen;
	c->rxlen = 0;
	if (over_rate(c) || !active(c))
		return;
	handle_request(c, c->rx, n);
}

static void on_established(struct exsim *ex, struct lws *wsi, struct pss *pss)
{
	struct exsim_client *c = calloc(1, sizeof *c);

	pss->c = c;
	if (!c)
		return;
	c->bits = calloc(EXSIM_MAX_STREAMS / 8, 1);
	c->subs = calloc((size_t)ex->cfg.max_streams + 1, sizeof *c->subs);
	c->ex = ex;
	c->wsi = wsi;
	c->id = ++ex->next_client_id;
	/* fragment cuts: deterministic per --seed and client, never zero */
	c->rng = (ex->cfg.seed ^ 0x9e3779b97f4a7c15ull) * (2 * c->id + 1) | 1;
	c->connected_ns = c->last_ping_ns = exsim_now();
	c->cursor = ex->ring.pub;
	c->inflight = inflight_bytes(wsi);
	lws_get_peer_simple(wsi, c->peer, sizeof c->peer);
	c->next = ex->clients;
	if (ex->clients)
		ex->clients->prev = c;
	ex->clients = c;
	ex->nclients++;
	char uri[256] = "";
	lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI);
	exsim_log("client %u: connected from %s, path %s", c->id, c->peer, uri);
	if (!c->bits || !c->subs) {
		close_client(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory");
		return;
	}
	int rc = parse_path(c);
	if (rc == -2) {
		close_client(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "too many streams");
		return;
	}
	if (rc < 0) {
		close_client(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "unknown path or stream name");
		return;
	}
	if (c->nsubs > 0) {
		exsim_log("client %u: subscribed %d streams from the URL (%s)", c->id, c->nsubs,
			  c->combined ? "combined" : "raw");
		after_subscribe(c);
	}
}

/* The oldest frame a vanished client may not have read: back from its cursor
 * over c->inflight bytes of the frames it was sent. */
static uint64_t unread_from(struct exsim *ex, struct exsim_client *c)
{
	struct exsim_ring *r = &ex->ring;
	uint64_t s = c->cursor < r->pub ? c->cursor : r->pub, bytes = 0;

	while (s > r->lo && bytes < c->inflight) {
		const struct exsim_frame *f = exsim_at(r, s - 1);

		if (subscribed(c, f->stream))
			bytes += c->combined ? f->len : f->data_len;
		s--;
	}
	return s;
}

/* Socket buffer room between our writes and the peer's reads. */
static uint64_t inflight_bytes(struct lws *wsi)
{
	static long rmem_max;
	int sndbuf = 0;
	socklen_t sl = sizeof sndbuf;

	if (!rmem_max) {
		FILE *f = fopen("/proc/sys/net/ipv4/tcp_rmem", "r");
		long a, b, m;

		rmem_max = 6 << 20; /* Linux's default maximum */
		if (f && fscanf(f, "%ld %ld %ld", &a, &b, &m) == 3 && m > 0)
			rmem_max = m;
		if (f)
			fclose(f);
	}
	getsockopt(lws_get_socket_fd(wsi), SOL_SOCKET, SO_SNDBUF, &sndbuf, &sl);
	return (uint64_t)rmem_max + (uint64_t)(sndbuf > 0 ? sndbuf : 4 << 20);
}

static void on_closed(struct exsim *ex, struct exsim_client *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		ex->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	ex->nclients--;
	exsim_log("client %u: disconnected after %.1f s, %llu frames sent", c->id,
		  (double)(exsim_now() - c->connected_ns) / 1e9, (unsigned long long)c->nsent);
	/* Under --hold, the last listener going away for any reason other than a
	 * --drop-every drop (which rewound already), e.g. a client killed with
	 * kill -9, rewinds like a drop: the next subscriber gets what it may
	 * not have read, and the replay waits for it. */
	if (ex->cfg.hold && !ex->exiting && !c->drop && c->nsubs > 0 &&
	    exsim_server_subscribed(ex) == 0)
		exsim_feed_rewind(ex, c->peer_closed ? c->cursor : unread_from(ex, c));
	for (int i = 0; i < c->nreply; i++)
		free(c->reply[i]);
	free(c->bits);
	free(c->subs);
	free(c->rx);
	free(c->out);
	free(c->msg);
	free(c->ends);
	free(c->frag);
	free(c);
	if (!ex->exiting)
		update_hold(ex); /* and pumps: the last drainer may have gone */
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		    size_t len)
{
	struct pss *pss = user;
	struct exsim *ex = g_ex;

	switch (reason) {
	case LWS_CALLBACK_ESTABLISHED:
		on_established(ex, wsi, pss);
		if (!pss->c)
			return -1;
		break;
	case LWS_CALLBACK_RECEIVE:
		if (pss && pss->c && active(pss->c))
			on_receive(pss->c, in, len);
		break;
	case LWS_CALLBACK_RECEIVE_PONG:
		if (pss && pss->c && active(pss->c)) {
			pss->c->ping_outstanding = false;
			over_rate(pss->c);
		}
		break;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (pss && pss->c)
			pss->c->peer_closed = true;
		break;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (pss && pss->c)
			return on_writeable(pss->c);
		break;
	case LWS_CALLBACK_CLOSED:
		if (pss && pss->c) {
			on_closed(ex, pss->c);
			pss->c = NULL;
		}
		break;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static void tick_cb(lws_sorted_usec_list_t *sul)
{
	struct exsim *ex = g_ex;
	const struct exsim_config *cfg = &ex->cfg;
	int64_t now = exsim_now();

	(void)sul;
	for (struct exsim_client *c = ex->clients; c; c = c->next) {
		double age = (double)(now - c->connected_ns) / 1e9;

		if (!active(c))
			continue;
		if (cfg->max_conn_age > 0 && age >= cfg->max_conn_age) {
			exsim_log("client %u: max connection age %.1f s reached", c->id,
				  cfg->max_conn_age);
			close_client(c, LWS_CLOSE_STATUS_NORMAL, "max connection age");
			continue;
		}
		if (cfg->silent_after > 0 && age >= cfg->silent_after && !c->silent) {
			c->silent = true;
			if (!c->rx_off) {
				c->rx_off = true;
				lws_rx_flow_control(c->wsi, 0);
			}
			exsim_log("client %u: fault: silent from now on", c->id);
		}
		if (c->silent)
			continue;
		if (c->ping_outstanding && !c->rx_off && cfg->pong_timeout > 0 &&
		    now - c->ping_sent_ns > (int64_t)(cfg->pong_timeout * 1e9)) {
			exsim_log("client %u: no pong within %.1f s", c->id, cfg->pong_timeout);
			close_client(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "pong timeout");
			continue;
		}
		if (!cfg->stop_pings && cfg->ping_interval > 0 && !c->ping_due &&
		    now - c->last_ping_ns >= (int64_t)(cfg->ping_interval * 1e9)) {
			c->ping_due = true;
			lws_callback_on_writable(c->wsi);
		}
	}
	lws_sul_schedule(ex->ctx, 0, &tick_sul, tick_cb, TICK_NS / 1000);
}

static void drop_cb(lws_sorted_usec_list_t *sul)
{
	struct exsim *ex = g_ex;
	unsigned n = 0;

	(void)sul;
	for (struct exsim_client *c = ex->clients; c; c = c->next)
		n += active(c);
	if (n > 0 && !ex->exiting) {
		uint64_t from = exsim_min_cursor(ex); /* before they stop counting */

		exsim_log("fault: drop-every: dropping %u connections without a close frame", n);
		exsim_server_close_all(ex, true, "drop");
		exsim_feed_rewind(ex, from);
		update_hold(ex);
	}
	lws_sul_schedule(ex->ctx, 0, &drop_sul, drop_cb, (lws_usec_t)(ex->cfg.drop_every * 1e6));
}

static void log_emit(int level, const char *line)
{
	size_t n = strlen(line);

	(void)level;
	while (n && line[n - 1] == '\n')
		n--;
	exsim_log("lws: %.*s", (int)n, line);
}

static const struct lws_protocols protocols[] = {
    {"exsim", callback, sizeof(struct pss), 4096, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* Create the context and listen; prints the URL on stdout. Returns 0 or -1. */
int exsim_server_start(struct exsim *ex)
{
	struct lws_context_creation_info info;

	g_ex = ex;
	lws_set_log_level(LLL_ERR | LLL_WARN, log_emit);
	memset(&info, 0, sizeof info);
	info.port = ex->cfg.port;
	info.iface = ex->cfg.host;
	info.protocols = protocols;
	info.gid = -1;
	info.uid = -1;
	info.pt_serv_buf_size = 64 << 10;
	/* No LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT: plain ws only. */
	info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
	ex->ctx = lws_create_context(&info);
	if (!ex->ctx) {
		exsim_log("cannot listen on %s:%d", ex->cfg.host, ex->cfg.port);
		return -1;
	}
	struct lws_vhost *vh = lws_get_vhost_by_name(ex->ctx, "default");
	int port = vh ? lws_get_vhost_listen_port(vh) : ex->cfg.port;
	printf("exsim: listening on ws://%s:%d\n", ex->cfg.host, port);
	fflush(stdout);
	exsim_log("listening on ws://%s:%d", ex->cfg.host, port);
	lws_sul_schedule(ex->ctx, 0, &tick_sul, tick_cb, TICK_NS / 1000);
	if (ex->cfg.drop_every > 0)
		lws_sul_schedule(ex->ctx, 0, &drop_sul, drop_cb,
				 (lws_usec_t)(ex->cfg.drop_every * 1e6));
	return 0;
}
