/* tr_mirror.h - mirrors: the rings' records, as JSON, to Kafka and Redis.
 *
 * A mirror is a loop that reads the rings through the public reader API
 * (tr_msrc.h: ring first, the journal when lapped or resuming) and sends
 * every record, formatted by tr_format_json(), to an external system. The
 * same loop runs on its own thread inside tickringd when configured, or as
 * the whole of `tickring mirror kafka|redis`. It never touches the engine
 * thread: a slow or dead broker costs the engine nothing.
 *
 * Configuration: every directive whose name starts with a mirror's name
 * ("kafka...", "redis...") belongs to that mirror. tr_config keeps them as
 * they came (name, value, file:line) after asking the mirror's check() to
 * validate each one, so a bad value stops tickringd with a message naming
 * the line, like every other directive. A mirror is on when its enable
 * directive (kafka-brokers, redis-url) is set.
 *
 * Adding a mirror: implement check() and run(), add it to the table in
 * tr_mirror.c.
 */
#ifndef TR_MIRROR_H
#define TR_MIRROR_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "tr_abi.h"

/* One directive as given: pointers into tr_config, valid while it lives. */
struct tr_mirror_opt {
	const char *name;
	const char *value;
	const char *where; /* "file:12" or "--flag" */
};

/* Counters a running mirror keeps for tickringd's log and `tickring mirror`.
 * Written by the mirror thread, read by others: relaxed atomics, each a
 * plain statistic with no ordering paired to it. */
struct tr_mirror_stats {
	_Atomic uint64_t read[TR_NKINDS]; /* records taken from the source */
	_Atomic uint64_t from_journal;	  /* of which read back from the journal */
	_Atomic uint64_t sent;		  /* handed to the client library */
	_Atomic uint64_t delivered;	  /* acknowledged by the server */
	_Atomic uint64_t dropped;	  /* given up on (pub/sub while down, ...) */
	_Atomic uint64_t failed;	  /* delivery errors (each retried or dropped) */
	_Atomic uint64_t lost;		  /* absent from both ring and journal */
	_Atomic uint64_t reconnects;	  /* connection (re)established */
	/* Watermark per ring: every seq at or below it is delivered or counted
	 * (dropped, lost). tickringd --replay waits on it before exiting, so a
	 * mirror must advance it for every kind it reads (and set `kinds`). */
	_Atomic uint64_t checkpoint[TR_NKINDS];
	_Atomic unsigned kinds; /* 1 << kind for each ring it reads */
	_Atomic int connected;	/* 1 while the server is reachable */
	/* kafka: */
	_Atomic uint64_t kafka_stalls;	/* reading paused: producer queue or window full */
	_Atomic uint64_t kafka_resends; /* records sent again after a final delivery error */
	/* redis: */
	_Atomic uint64_t redis_published;   /* PUBLISH acknowledged */
	_Atomic uint64_t redis_receivers;   /* subscribers those PUBLISHes reached, summed */
	_Atomic uint64_t redis_stream_read; /* records taken by the stream sources */
	_Atomic uint64_t redis_stream_from_journal; /* of which read back from the journal */
	_Atomic uint64_t redis_stream_lost;	    /* seqs the stream sources found nowhere */
	_Atomic uint64_t redis_stream_added;	    /* XADD acknowledged */
	_Atomic uint64_t redis_stream_dups; /* XADD refused: the stream has that id already */
	_Atomic uint64_t redis_hash_writes; /* HSET acknowledged */
	_Atomic uint64_t redis_hash_errors; /* HSET refused (rewritten next pass) */
};

/* What run() gets. */
struct tr_mirror_args {
	const char *instance;		  /* region instance */
	const char *journal_dir;	  /* "" or NULL: no journal (a lap loses records) */
	const struct tr_mirror_opt *opts; /* this mirror's directives only */
	unsigned nopts;
	atomic_int *stop;	       /* becomes non-zero: flush what can be, return */
	struct tr_mirror_stats *stats; /* never NULL */
};

struct tr_mirror_def {
	const char *name;   /* "kafka", "redis": the directive prefix too */
	const char *enable; /* directive that turns it on: "kafka-brokers" */
	/* Validate one directive (its name starts with `name`). 0, or -EINVAL
	 * with a one-line reason in err. */
	int (*check)(const char *name, const char *value, char *err, size_t errlen);
	/* The mirror's loop; returns when *stop is set (0) or on a fatal
	 * configuration error (-errno, message in tr_errmsg()). */
	int (*run)(const struct tr_mirror_args *a);
	const char *help; /* directive lines for --help */
};

/* The mirror whose directives `name` belongs to, or NULL. */
const struct tr_mirror_def *tr_mirror_find(const char *directive);

/* The mirror called `name` ("kafka"), or NULL. */
const struct tr_mirror_def *tr_mirror_by_name(const char *name);

/* All mirrors, NULL-terminated. */
const struct tr_mirror_def *const *tr_mirror_all(void);

/* A directive's value among opts (the last one given wins), or NULL. */
const char *tr_mirror_opt(const struct tr_mirror_opt *opts, unsigned n, const char *name);

/* "<name> mirror: N sent, N delivered, N from the journal, N dropped,
 * N failed, N lost" into buf (NUL-terminated, truncated to
 * len): the line tickringd logs at stop and `tickring mirror` prints. */
void tr_mirror_stats_line(const char *name, const struct tr_mirror_stats *st, char *buf,
			  size_t len);

/* A mirror running on its own thread (tickringd). */
struct tr_mirror_thread;

/* Start def->run on a new thread with a copy of a (stop and stats are
 * owned by the thread object). 0 or -errno. */
int tr_mirror_spawn(struct tr_mirror_thread **out, const struct tr_mirror_def *def,
		    const struct tr_mirror_args *a);

/* The running thread's counters. */
const struct tr_mirror_stats *tr_mirror_thread_stats(const struct tr_mirror_thread *t);

/* Wait until the mirror's watermark reaches head[kind] for every kind it
 * reads, up to timeout_ns. 0, or -ETIMEDOUT. */
int tr_mirror_drain(const struct tr_mirror_thread *t, const uint64_t head[TR_NKINDS],
		    int64_t timeout_ns);

/* Ask it to stop, join, free. Returns run()'s result. */
int tr_mirror_join(struct tr_mirror_thread *t);

#endif
