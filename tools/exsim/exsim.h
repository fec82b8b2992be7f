/* exsim.h - the exchange simulator's shared types: configuration, the frame
 * ring, the sources that fill it, and the client connections that drain it.
 *
 * exsim is one thread around one libwebsockets context. A source (a replay of
 * capture files, or a synthetic market) produces frames in time order; the
 * feed (exsim_feed.c) paces them into one bounded ring shared by every
 * client; each client (exsim_server.c) keeps its own cursor into that ring
 * and sends the frames of the streams it subscribed to when lws says its
 * socket is writeable. Nothing is copied per client until the frame is
 * written, and nothing is buffered beyond the ring: a slow client holds the
 * reader back (--speed max) or is disconnected (paced replay), never grows
 * a queue.
 *
 * Times: `ns` values are CLOCK_MONOTONIC nanoseconds unless named `ts`, which
 * are source times (the recorder's receive time, or synthetic time).
 */
#ifndef EXSIM_H
#define EXSIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EXSIM_MAX_STREAMS 65536 /* distinct stream names known to the process */
#define EXSIM_STREAM_NAME 96	/* longest stream name accepted, with the NUL */
#define EXSIM_MAX_MSG_LIMIT 64	/* largest --msg-limit */

struct lws;
struct lws_context;

struct exsim_config {
	const char *host;
	int port; /* 0: the kernel picks one; printed on stdout */
	const char **replay;
	int nreplay;
	bool synthetic;
	const char *symbols;
	double rate;	   /* synthetic frames per second, all symbols together */
	int burst;	   /* synthetic burst size, 0 = none */
	double burst_prob; /* chance that an arrival is a burst */
	uint64_t seed;
	bool stamp_price; /* synthetic trades: price = CLOCK_REALTIME ns when made */
	double speed;	  /* 0 = as fast as the slowest subscribed client drains */
	bool start_immediately, loop, exit_at_end, hold;
	double grace;	   /* seconds between end of data and exit */
	double drop_every; /* seconds, 0 = never */
	long malformed_every, skip_ids_every, dup_ids_every;
	int fragment;		   /* text messages in this many fragments, random cuts */
	long fragment_bytes_every; /* every Nth message a byte per fragment */
	long oversize_every;	   /* after every Nth frame, a message over 1 MiB */
	int delay_ms;
	bool no_pong, stop_pings;
	double ping_interval, pong_timeout, max_conn_age, silent_after;
	int rewind_ms;
	uint32_t ring_slots; /* power of two */
	int msg_limit;	     /* incoming messages per second per connection, 0 = off */
	int max_streams;     /* per connection */
	double progress_every;
};

/* Frame flags, decided once when the frame enters the ring so that every
 * client (and a rewound replay) sees the same faults. */
enum {
	EXSIM_F_TRADE = 1, /* a @trade stream: subject to --skip/--dup-ids-every */
	EXSIM_F_SKIP = 2,  /* not sent: a gap in trade ids */
	EXSIM_F_DUP = 4,   /* sent twice */
};

/* One frame: the combined-stream envelope text; `data` is the raw-stream
 * payload inside it. buf is owned by the ring slot and reused. */
struct exsim_frame {
	int64_t ts;	  /* source time, ns */
	int64_t taken_ns; /* when it entered the ring */
	int64_t pub_ns;	  /* when it was published to clients */
	char *buf;
	uint32_t len, cap;
	uint32_t data_off, data_len;
	uint32_t stream; /* id from exsim_stream_id() */
	uint32_t flags;
};

/* A source of frames in non-decreasing ts order. peek returns 1 and the next
 * frame's ts, 0 at the end, or -errno; take fills f (buf grown as needed),
 * returning 0 or -errno. restart rewinds to the beginning for --loop, with
 * later ts than anything returned so far. */
struct exsim_source {
	int (*peek)(struct exsim_source *s, int64_t *ts);
	int (*take)(struct exsim_source *s, struct exsim_frame *f);
	int (*restart)(struct exsim_source *s);
	void (*destroy)(struct exsim_source *s);
	uint64_t lines_skipped; /* not stream envelopes: REST snapshots, junk */
};

int exsim_replay_open(struct exsim_source **out, const char **paths, int n);
int exsim_synth_open(struct exsim_source **out, const struct exsim_config *cfg);

/* Fill f->buf with `{"stream":"<name>","data":<data>}`; sets offsets. */
int exsim_frame_set(struct exsim_frame *f, const char *stream, size_t slen, const char *data,
		    size_t dlen);

/* Stream names interned to small ids (exsim_req.c). Returns the id, or -1
 * when the table is full or the name invalid. */
int exsim_stream_id(const char *name, size_t len);
const char *exsim_stream_name(uint32_t id);

/* A parsed client request (exsim_req.c). */
enum exsim_method {
	EXSIM_SUBSCRIBE,
	EXSIM_UNSUBSCRIBE,
	EXSIM_LIST_SUBSCRIPTIONS,
	EXSIM_SET_PROPERTY,
	EXSIM_GET_PROPERTY,
};

struct exsim_req {
	enum exsim_method method;
	char id[32]; /* the id as JSON text ("7", "\"abc\"" or "null") */
	int nparams;
	int params[1100]; /* stream ids, for (UN)SUBSCRIBE */
	bool prop_combined, prop_value;
};

/* Parse one request. Returns 0, or fills err (a complete JSON error reply,
 * Binance's codes) and returns -1. */
int exsim_req_parse(struct exsim_req *r, const char *msg, size_t len, int max_params, char *err,
		    size_t errlen);

/* The feed: ring, pacing, rewind (exsim_feed.c). */
struct exsim_ring {
	struct exsim_frame *slot;
	uint64_t mask;
	uint64_t lo;  /* oldest frame still held (history for rewind) */
	uint64_t pub; /* frames below pub have been published to clients */
	uint64_t hi;  /* frames below hi have been taken from the source */
};

static inline struct exsim_frame *exsim_at(struct exsim_ring *r, uint64_t seq)
{
	return &r->slot[seq & r->mask];
}

struct exsim_client;

/* Process-wide state; one instance, owned by main. */
struct exsim {
	struct exsim_config cfg;
	struct lws_context *ctx;
	struct exsim_source *src;
	struct exsim_ring ring;
	struct exsim_client *clients; /* doubly linked */
	unsigned nclients, next_client_id;
	bool started, held, src_done, done_logged, exiting, interrupted;
	int64_t base_ns, base_ts, held_ts; /* pacing: ts runs from base_ts at base_ns */
	int64_t end_ns;			   /* when everything was drained, for the grace */
	uint64_t trades_seen, published, sent_frames, loops;
	int64_t start_ns, last_progress_ns;
	uint64_t last_progress_pub;
};

int64_t exsim_now(void);
void exsim_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int exsim_feed_init(struct exsim *ex);
void exsim_feed_free(struct exsim *ex);
/* Move frames from the source into the ring and publish what is due;
 * schedules its own timer. Safe to call at any time on the lws thread. */
void exsim_feed_pump(struct exsim *ex);
/* Pause or resume the replay clock (no subscribed client under --hold). */
void exsim_feed_hold(struct exsim *ex, bool hold);
/* Step the published position back to `from` (the oldest frame a dropped
 * client had not been sent) and --rewind-ms of source time before it. */
void exsim_feed_rewind(struct exsim *ex, uint64_t from);
/* The lowest cursor of any subscribed client, or ring.pub if none. */
uint64_t exsim_min_cursor(struct exsim *ex);

/* Clients (exsim_server.c). */
int exsim_server_start(struct exsim *ex);
void exsim_server_wake(struct exsim *ex); /* published frames: ask for writeable */
unsigned exsim_server_subscribed(struct exsim *ex);
bool exsim_server_drained(struct exsim *ex);
/* Close clients whose cursor is below seq (slow consumers in paced mode). */
void exsim_server_evict_below(struct exsim *ex, uint64_t seq);
void exsim_server_close_all(struct exsim *ex, bool abrupt, const char *why);
void exsim_server_clamp(struct exsim *ex); /* cursors above ring.pub come down */

#endif
