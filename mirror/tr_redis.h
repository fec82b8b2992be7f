/* tr_redis.h - the Redis mirror: pub/sub fan-out, latest-value hashes and
 * optional Streams; hiredis makes the connection, tr_resp.h speaks on it.
 *
 * Every record of the enabled rings is PUBLISHed, as tr_format_json(), on
 *   <prefix>:trades:<venue>:<SYMBOL>      <prefix>:quotes:<venue>:<SYMBOL>
 *   <prefix>:candles:<interval>:<venue>:<SYMBOL>
 *   <prefix>:events:<venue>:<SYMBOL>      (<SYMBOL> is "-" for events not
 *                                          about one symbol)
 * so `redis-cli PSUBSCRIBE '<prefix>:*'` shows everything. Every
 * redis-latest-ms the latest table is written, coalesced, into the hashes
 *   <prefix>:latest:<venue>:<SYMBOL>              last trade, quote, 24 h stats
 *   <prefix>:candle:<interval>:<venue>:<SYMBOL>   the current candle
 * and with redis-streams, every record is also XADDed to
 * <prefix>:stream:<trades|quotes|candles|events> with the entry id 0-<seq>,
 * resumable from a checkpoint and the journal like the Kafka mirror.
 * README "Redis" and docs/mirrors.md describe the fields and the behaviour
 * while Redis is down.
 *
 * run() follows tr_mirror.h: one thread, returns when *stop is set.
 */
#ifndef TR_REDIS_H
#define TR_REDIS_H

#include <stddef.h>

#include "tr_mirror.h"

extern const struct tr_mirror_def tr_mirror_redis;

/* A parsed redis-url:
 *   redis://[[user][:password]@]host[:port][/db]     (host may be [v6addr])
 *   unix:///path/to/socket[?db=N]
 * user and password are %-decoded. */
struct tr_redis_url {
	int is_unix;
	char host[256];
	int port; /* 6379 unless given */
	char path[256];
	char user[128];	    /* "" for none (AUTH password only) */
	char password[256]; /* "" for none */
	int db;		    /* 0 unless given */
};

/* Parse s into u. 0, or -EINVAL with a one-line reason in err. */
int tr_redis_url_parse(const char *s, struct tr_redis_url *u, char *err, size_t errlen);

#endif
