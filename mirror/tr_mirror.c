/* tr_mirror.c - the table of mirrors, directive dispatch, mirror threads. */
#define _GNU_SOURCE
#include "tr_mirror.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tr_err.h"
#include "tr_kafka.h"
#include "tr_redis.h"

static const struct tr_mirror_def *const mirrors[] = {
    &tr_mirror_kafka,
    &tr_mirror_redis,
    NULL,
};

const struct tr_mirror_def *const *tr_mirror_all(void)
{
	return mirrors;
}

const struct tr_mirror_def *tr_mirror_by_name(const char *name)
{
	for (const struct tr_mirror_def *const *m = mirrors; *m; m++)
		if (!strcmp((*m)->name, name))
			return *m;
	return NULL;
}

/* "kafka-brokers", "kafka.linger.ms" belong to "kafka"; "kafkaesque" not. */
const struct tr_mirror_def *tr_mirror_find(const char *directive)
{
	for (const struct tr_mirror_def *const *m = mirrors; *m; m++) {
		size_t n = strlen((*m)->name);

		if (!strncmp(directive, (*m)->name, n) &&
		    (directive[n] == '-' || directive[n] == '.'))
			return *m;
	}
	return NULL;
}

const char *tr_mirror_opt(const struct tr_mirror_opt *opts, unsigned n, const char *name)
{
	const char *v = NULL;

	for (unsigned i = 0; i < n; i++)
		if (!strcmp(opts[i].name, name))
			v = opts[i].value;
	return v;
}

void tr_mirror_stats_line(const char *name, const struct tr_mirror_stats *st, char *buf, size_t len)
{
	/* Relaxed: plain counters, read for a report. */
#define LD(f) (unsigned long long)atomic_load_explicit(&st->f, memory_order_relaxed)
	snprintf(buf, len,
		 "%s mirror: %llu sent, %llu delivered, %llu from the journal, %llu dropped, "
		 "%llu failed, %llu lost",
		 name, LD(sent), LD(delivered), LD(from_journal), LD(dropped), LD(failed),
		 LD(lost));
#undef LD
}

struct tr_mirror_thread {
	pthread_t tid;
	const struct tr_mirror_def *def;
	struct tr_mirror_args args;
	atomic_int stop;
	struct tr_mirror_stats stats;
	int rc;
};

static void *thread_main(void *arg)
{
	struct tr_mirror_thread *t = arg;

	t->rc = t->def->run(&t->args);
	return NULL;
}

int tr_mirror_spawn(struct tr_mirror_thread **out, const struct tr_mirror_def *def,
		    const struct tr_mirror_args *a)
{
	struct tr_mirror_thread *t;
	int rc;

	*out = NULL;
	if (!(t = calloc(1, sizeof *t)))
		return tr_err(ENOMEM, "mirror %s: out of memory", def->name);
	t->def = def;
	t->args = *a;
	t->args.stop = &t->stop;
	t->args.stats = &t->stats;
	atomic_init(&t->stop, 0);
	if ((rc = pthread_create(&t->tid, NULL, thread_main, t)) != 0) {
		free(t);
		return tr_err(rc, "mirror %s: cannot start its thread: %s", def->name,
			      strerror(rc));
	}
	*out = t;
	return 0;
}

const struct tr_mirror_stats *tr_mirror_thread_stats(const struct tr_mirror_thread *t)
{
	return &t->stats;
}

int tr_mirror_drain(const struct tr_mirror_thread *t, const uint64_t head[TR_NKINDS],
		    int64_t timeout_ns)
{
	for (int64_t waited = 0;; waited += 10000000) {
		/* Relaxed: statistics; the mirror's own I/O orders nothing here. */
		unsigned kinds = atomic_load_explicit(&t->stats.kinds, memory_order_relaxed);
		int done = kinds != 0;

		for (int k = 0; k < TR_NKINDS && done; k++)
			if ((kinds >> k & 1) &&
			    atomic_load_explicit(&t->stats.checkpoint[k], memory_order_relaxed) <
				head[k])
				done = 0;
		if (done)
			return 0;
		if (waited >= timeout_ns)
			return -ETIMEDOUT;
		nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
	}
}

int tr_mirror_join(struct tr_mirror_thread *t)
{
	int rc;

	if (!t)
		return 0;
	/* Pairs with the mirror loop's load of *stop; seq_cst is plenty for a
	 * flag read once per loop. */
	atomic_store(&t->stop, 1);
	pthread_join(t->tid, NULL);
	rc = t->rc;
	free(t);
	return rc;
}
