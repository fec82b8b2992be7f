/* tr_gateway.h - NDJSON records from the user's own systems, over TCP and a
 * Unix socket, on the engine's io_uring.
 *
 * The gateway listens on a TCP address, a Unix socket path, or both, and
 * hands every complete line of every connection to one callback. Sockets
 * are served by multishot accept and multishot recv with provided buffers
 * from a buffer ring, so the engine thread never blocks and an idle
 * connection holds no buffer. A line that fits inside one received buffer
 * is passed straight from that buffer; a line split across buffers is
 * reassembled in a per-connection carry buffer. Either way the line is
 * followed by at least TR_GATEWAY_PADDING readable bytes (of any content),
 * as the simdjson parser needs (TR_PARSE_PADDING in tr_parse.h).
 *
 * Protocol: fire-and-forget NDJSON. One record per line, "\n" or "\r\n"
 * terminated; empty lines are ignored; nothing is ever sent back (a future
 * version may answer error lines). The gateway does not look inside a line:
 * a NUL byte or bad JSON reaches the callback, and the parser rejects it. A
 * line longer than max_line is reported once as TR_GATEWAY_OVERSIZE with
 * its first max_line bytes, the rest of it is discarded up to its newline,
 * and the connection goes on. A partial line at disconnect is dropped,
 * counted, and reported with TR_GATEWAY_CLOSE.
 *
 * Threading: everything runs on the engine thread that owns the tr_uring;
 * callbacks run inside tr_uring_reap(). Buffer group: the gateway registers
 * one buffer ring on the tr_uring under cfg.buf_group, which no other user
 * of the same ring may use. Needs Linux 6.0 (multishot recv). While
 * connections are open, a 500 ms timeout operation sweeps them for lost
 * wakeups (a kernel race that can leave an AF_UNIX EOF unreported: see
 * tr_gateway.c), so the ring never goes idle for longer than that.
 */
#ifndef TR_GATEWAY_H
#define TR_GATEWAY_H

#include <stddef.h>
#include <stdint.h>

#include "tr_uring.h"

#define TR_GATEWAY_PADDING 64 /* readable bytes after each line; = TR_PARSE_PADDING */

struct tr_gateway_config {
	const char *tcp;       /* "127.0.0.1:9400", "[::1]:9400", port 0 = ephemeral; NULL: none */
	const char *unix_path; /* socket path, created mode 0660; NULL: none */
	unsigned max_conns;    /* open connections at once; more are closed at accept. 0: 64 */
	size_t max_line;       /* longest line accepted, without "\r\n"; 0: 64 KiB */
	unsigned buf_count;    /* provided buffers, a power of two <= 32768; 0: 128 */
	unsigned buf_size;     /* bytes per provided buffer; 0: 16 KiB */
	unsigned short buf_group; /* buffer group id on the ring; 0: TR_GATEWAY_BUF_GROUP */
};

#define TR_GATEWAY_BUF_GROUP 0x4757 /* "GW" */

/* What a callback reports, and what data and len hold for it. */
enum tr_gateway_event {
	/* One complete line without its "\n" or "\r\n"; len > 0. */
	TR_GATEWAY_LINE = 0,
	/* The first max_line bytes of a longer line, for a dead-letter file. */
	TR_GATEWAY_OVERSIZE = 1,
	/* A new connection; data is the peer, NUL-terminated: "127.0.0.1:5123",
	 * "[::1]:5123" or "unix pid=7 uid=1000". */
	TR_GATEWAY_OPEN = 2,
	/* The connection ended; data, len: the partial line dropped (len may be
	 * 0); err: 0 at EOF, else -errno. */
	TR_GATEWAY_CLOSE = 3
};

struct tr_gateway_ev {
	enum tr_gateway_event type;
	uint64_t conn; /* connection id: 1, 2, ... never reused within a gateway */
	/* Valid during the callback only; data[len, len + TR_GATEWAY_PADDING)
	 * is readable (its content is unspecified). */
	const char *data;
	size_t len;
	int err; /* TR_GATEWAY_CLOSE only */
};

/* Called on the engine thread for every event, in order per connection. It
 * must not call tr_gateway_close() or tr_uring_wait(). */
typedef void (*tr_gateway_line_cb)(void *ctx, const struct tr_gateway_ev *ev);

/* Counters since open. Lines are delivered lines; bytes are received bytes. */
struct tr_gateway_stats {
	uint64_t accepted; /* connections accepted (including rejected ones) */
	uint64_t rejected; /* closed at accept: max_conns reached */
	uint64_t open;	   /* connections open now */
	uint64_t lines;	   /* TR_GATEWAY_LINE events */
	uint64_t bytes;	   /* bytes received */
	uint64_t oversize; /* TR_GATEWAY_OVERSIZE events */
	uint64_t partial;  /* partial lines dropped at disconnect */
	uint64_t errors;   /* accept or recv failures (a connection reset counts) */
	uint64_t enobufs;  /* recv stopped because the buffer ring ran dry, then re-armed */
	uint64_t stalls;   /* lost wakeups: a recv re-armed by the periodic sweep */
};

struct tr_gateway;

/* Fill cfg with the defaults (all zero: no listener). */
void tr_gateway_config_default(struct tr_gateway_config *cfg);

/* Bind and listen, register the buffer ring, arm the accepts; the first
 * completions come through tr_uring_reap(). A stale Unix socket file at
 * unix_path (a socket nobody listens on) is replaced; any other file is
 * left alone and open fails with -EEXIST. Returns 0 with *out set, or
 * -errno with tr_errmsg() saying why. */
int tr_gateway_open(struct tr_gateway **out, struct tr_uring *u,
		    const struct tr_gateway_config *cfg, tr_gateway_line_cb cb, void *ctx);

/* Cancel every operation, wait for the kernel to let go of the buffers
 * (this reaps the ring with tr_uring_wait(), so other modules' callbacks may
 * run), close every socket and unlink the Unix socket. No gateway callback
 * runs once close has begun. Returns 0, or -ETIMEDOUT if the kernel did not
 * finish within 5 s (then the memory is leaked rather than freed under the
 * kernel). gw may be NULL. */
int tr_gateway_close(struct tr_gateway *gw);

/* The bound TCP port (useful with port 0), or 0 without a TCP listener. */
unsigned tr_gateway_tcp_port(const struct tr_gateway *gw);

/* Copy out the counters. */
void tr_gateway_stats(const struct tr_gateway *gw, struct tr_gateway_stats *out);

#endif
