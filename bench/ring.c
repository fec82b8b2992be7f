/* ring.c - bench-ring: the shared-memory ring against a pipe and a Unix socket.
 *
 * One run measures, on the same machine and with the same two cores:
 *   - the cross-core cache-line round trip, the physical floor of any
 *     core-to-core hand-off (one-way floor = RTT / 2);
 *   - one-way latency publish -> consume of 64-byte trades through the ring,
 *     a pipe and a Unix stream socket, stamped with the TSC, paced so that
 *     nothing queues;
 *   - throughput with the producer flat out: the ring with one and two
 *     readers, the pipe and the socket with one.
 * The producer is this process, pinned to the first allowed CPU; every
 * reader is a forked child pinned to the second one. Children report through
 * a shared anonymous page and exit; the parent prints the table and writes
 * the JSON. bench/README.md explains each figure and why the comparison is
 * fair.
 */
#define _GNU_SOURCE
#include "bench_util.h"
#include "tr_reader.h"
#include "tr_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define TR_BENCH_TSC 1
#endif

#define TR_BENCH_MAX_READERS 2
#define TR_BENCH_MAX_METRICS 64
#define TR_BENCH_HEARTBEAT_NS 50000000ll /* twice the 10 Hz the ABI asks for */

/* Ticks -> ns; set once by tr_bench_calibrate() before any fork. */
static double tr_bench_ns_per_tick = 1.0;

/* Region file names, for the signal handler (unlink is async-signal-safe). */
static char tr_bench_region_path[300], tr_bench_ctl_path[310];

struct tr_bench_opts {
	uint64_t lat_samples;	   /* ring latency samples, warm-up included */
	uint64_t base_lat_samples; /* pipe and socket latency samples, each */
	uint64_t ring_records;	   /* ring throughput records per phase */
	uint64_t base_records;	   /* pipe and socket throughput records */
	uint64_t slots;		   /* trade ring capacity */
	uint64_t gap_ns;	   /* ring latency pacing */
	uint64_t base_gap_ns;	   /* pipe and socket latency pacing */
	uint64_t rtt_trips;	   /* cache-line round trips */
	int seqpacket;		   /* SOCK_SEQPACKET instead of SOCK_STREAM */
	int cpu[2];		   /* producer, readers; -1: the first two allowed */
	const char *json;
};

/* Latency of one run, ns, warm-up dropped. */
struct tr_bench_lat {
	uint64_t n;	   /* samples kept */
	uint64_t negative; /* stamps that went backwards across cores (TSC skew) */
	double min, p50, p99, p999, p9999, max;
};

/* What one reader child reports before it exits. */
struct tr_bench_reader {
	uint64_t delivered;	 /* records received and verified intact */
	uint64_t lapped_records; /* ring only: records overwritten unread */
	uint64_t lap_events;
	uint64_t corrupt; /* wrong payload or out of order: must stay 0 */
	uint64_t t_last;  /* ticks after the last record */
	uint64_t nivcsw;  /* times the reader was preempted */
	struct tr_bench_lat lat;
	char err[160]; /* empty on success */
};

/* The page shared with the children. */
struct tr_bench_shared {
	uint32_t ready; /* children set up and polling */
	uint8_t pad[TR_CACHELINE - 4];
	struct tr_bench_reader rd[TR_BENCH_MAX_READERS];
};

/* One phase: what the children must do. Copied into them by fork. */
struct tr_bench_phase {
	const char *name; /* row label */
	int ring;	  /* 1: ring, 0: fd */
	int spin;	  /* fd readers: non-blocking read in a spin loop */
	int readers;	  /* 1 or 2 (ring only) */
	uint64_t n;	  /* records */
	uint64_t warmup;  /* latency: leading samples dropped */
	uint64_t gap_ns;  /* latency pacing; 0: flat out */
	uint64_t first;	  /* ring: seq of the first record */
	const char *inst; /* ring: instance name */
	int fd;		  /* fd: the reader's end */
	int cpu;	  /* reader CPU, -1: unpinned */
};

/* Results of one phase, in the parent. */
struct tr_bench_result {
	struct tr_bench_reader rd[TR_BENCH_MAX_READERS];
	int readers;
	uint64_t n;
	double secs;	    /* producer's first record to the last reader's last */
	double publish_mps; /* producer's own rate */
	uint64_t gap_ns;
	uint64_t preempted;	    /* involuntary context switches of the producer */
	uint64_t preempted_readers; /* and of all its readers */
	double steal;		    /* share of CPU time the hypervisor took, whole machine */
};

/* Noise accounting around one phase. */
struct tr_bench_noise {
	uint64_t nivcsw;
	uint64_t total, steal; /* /proc/stat cpu line, ticks */
};

static struct bu_metric tr_bench_metrics[TR_BENCH_MAX_METRICS];
static int tr_bench_nmetrics;

static void tr_bench_metric(const char *name, double v)
{
	if (tr_bench_nmetrics < TR_BENCH_MAX_METRICS)
		tr_bench_metrics[tr_bench_nmetrics++] = (struct bu_metric){name, v};
}

static void tr_bench_die(const char *what, const char *why)
{
	fprintf(stderr, "bench-ring: %s: %s\n", what, why);
	exit(1);
}

static int64_t tr_bench_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A timestamp. The TSC where there is one: ~10 ns to read and, with
 * constant_tsc on a single socket, the same clock on every core. */
static inline uint64_t tr_bench_ticks(void)
{
#ifdef TR_BENCH_TSC
	return __rdtsc();
#else
	return (uint64_t)tr_bench_mono_ns();
#endif
}

/* A timestamp taken only after every earlier load has completed: lfence
 * keeps rdtsc from running ahead of the poll that found the record. */
static inline uint64_t tr_bench_ticks_after(void)
{
#ifdef TR_BENCH_TSC
	_mm_lfence();
	return __rdtsc();
#else
	return (uint64_t)tr_bench_mono_ns();
#endif
}

/* TSC ticks per ns, measured against CLOCK_MONOTONIC over ~100 ms. */
static void tr_bench_calibrate(void)
{
	int64_t t0 = tr_bench_mono_ns(), t1;
	uint64_t c0 = tr_bench_ticks(), c1;

	do {
		t1 = tr_bench_mono_ns();
		c1 = tr_bench_ticks();
	} while (t1 - t0 < 100000000);
	tr_bench_ns_per_tick = (double)(t1 - t0) / (double)(c1 - c0);
}

static uint64_t tr_bench_ns_to_ticks(uint64_t ns)
{
	return (uint64_t)((double)ns / tr_bench_ns_per_tick);
}

/* ---- cache-line round trip ------------------------------------------- */

struct tr_bench_pingpong {
	_Alignas(128) uint64_t word; /* 128: keep the adjacent-line prefetcher out */
	_Alignas(128) uint64_t trips;
	int cpu;
};

/* Answer every odd value with the next even one. */
static void *tr_bench_pong(void *arg)
{
	struct tr_bench_pingpong *pp = arg;

	bu_pin("bench-ring", pp->cpu);
	for (uint64_t i = 1; i <= pp->trips; i++) {
		/* Pairs with the ping's release store of 2i-1. */
		while (tr_load_acquire(&pp->word) != 2 * i - 1)
			;
		tr_store_release(&pp->word, 2 * i); /* pairs with the ping's acquire load */
	}
	return NULL;
}

/* Median over five rounds of ns per round trip between cpu a and cpu b. No
 * pause in either spin: this is the floor, not the library. */
static double tr_bench_cacheline_rtt(uint64_t trips, int a, int b)
{
	double rtt[5];

	bu_pin("bench-ring", a);
	for (int round = 0; round < 5; round++) {
		struct tr_bench_pingpong *pp = aligned_alloc(128, sizeof *pp);
		pthread_t th;

		if (!pp)
			tr_bench_die("round trip", "out of memory");
		memset(pp, 0, sizeof *pp);
		pp->trips = trips / 5 + 1;
		pp->cpu = b;
		if (pthread_create(&th, NULL, tr_bench_pong, pp) != 0)
			tr_bench_die("round trip", "pthread_create failed");
		/* Trip 1 waits for the thread to start; time the rest. */
		int64_t t0 = 0;
		for (uint64_t i = 1; i <= pp->trips; i++) {
			/* Pairs with the pong's acquire load. */
			tr_store_release(&pp->word, 2 * i - 1);
			/* Pairs with the pong's release store of 2i. */
			while (tr_load_acquire(&pp->word) != 2 * i)
				;
			if (i == 1)
				t0 = tr_bench_mono_ns();
		}
		rtt[round] = (double)(tr_bench_mono_ns() - t0) / (double)(pp->trips - 1);
		pthread_join(th, NULL);
		free(pp);
	}
	for (int i = 1; i < 5; i++) /* insertion sort: five values */
		for (int j = i; j > 0 && rtt[j] < rtt[j - 1]; j--) {
			double t = rtt[j];
			rtt[j] = rtt[j - 1];
			rtt[j - 1] = t;
		}
	return rtt[2];
}

/* ---- records ----------------------------------------------------------- */

/* Payload of record i: every word derives from i, so a torn or misplaced
 * copy shows. ts_event carries the send stamp in latency runs. */
static void tr_bench_fill(struct tr_trade *t, uint64_t i)
{
	t->ts_recv = (int64_t)i;
	t->price = (int64_t)(i * 0x9e3779b97f4a7c15ull >> 1);
	t->qty = (int64_t)~i;
	t->trade_id = i;
	t->symbol_id = (uint32_t)i;
	t->trade_count = (uint32_t)(i >> 32) + 1;
}

static int tr_bench_intact(const struct tr_trade *t, uint64_t i)
{
	return t->trade_id == i && t->ts_recv == (int64_t)i &&
	       t->price == (int64_t)(i * 0x9e3779b97f4a7c15ull >> 1) && t->qty == (int64_t)~i &&
	       t->symbol_id == (uint32_t)i && t->trade_count == (uint32_t)(i >> 32) + 1;
}

static int tr_bench_cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v[0..n). */
static double tr_bench_pct(const int64_t *v, uint64_t n, double q)
{
	uint64_t k = (uint64_t)(q * (double)n + 0.999999);

	return (double)v[k ? k - 1 : 0] * tr_bench_ns_per_tick;
}

static void tr_bench_summarize(struct tr_bench_lat *l, int64_t *v, uint64_t n, uint64_t warmup)
{
	memset(l, 0, sizeof *l);
	if (n <= warmup)
		return;
	v += warmup;
	n -= warmup;
	qsort(v, n, sizeof *v, tr_bench_cmp_i64);
	l->n = n;
	for (uint64_t i = 0; i < n && v[i] < 0; i++)
		l->negative++;
	l->min = (double)v[0] * tr_bench_ns_per_tick;
	l->p50 = tr_bench_pct(v, n, 0.50);
	l->p99 = tr_bench_pct(v, n, 0.99);
	l->p999 = tr_bench_pct(v, n, 0.999);
	l->p9999 = tr_bench_pct(v, n, 0.9999);
	l->max = (double)v[n - 1] * tr_bench_ns_per_tick;
}

/* ---- readers (forked children) ---------------------------------------- */

/* The latency sample array, allocated and touched before we say ready. */
static int64_t *tr_bench_samples(const struct tr_bench_phase *p, struct tr_bench_reader *out)
{
	int64_t *s;

	if (!p->gap_ns)
		return NULL;
	s = malloc(p->n * sizeof *s);
	if (!s)
		snprintf(out->err, sizeof out->err, "out of memory for %llu samples",
			 (unsigned long long)p->n);
	else
		memset(s, 0, p->n * sizeof *s);
	return s;
}

static void tr_bench_ready(struct tr_bench_shared *sh)
{
	/* Pairs with the parent's acquire load of ready before it publishes. */
	__atomic_fetch_add(&sh->ready, 1, __ATOMIC_RELEASE);
}

/* Spin on the ring from p->first until p->first + n - 1 is behind us. */
static void tr_bench_ring_reader(const struct tr_bench_phase *p, struct tr_bench_shared *sh,
				 struct tr_bench_reader *out)
{
	struct tr_region *r;
	struct tr_cursor c;
	struct tr_trade t;
	int64_t *s = NULL;
	uint64_t last = p->first + p->n - 1, k = 0;

	if (tr_region_open(&r, p->inst, 0) < 0) {
		snprintf(out->err, sizeof out->err, "open: %s", tr_errmsg());
		tr_bench_ready(sh);
		return;
	}
	/* Fault the read-only mapping in now, so the first lap is not timed. */
	const volatile uint8_t *base = (const volatile uint8_t *)tr_region_superblock(r);
	uint64_t size = tr_region_superblock(r)->region_size, sum = 0;
	for (uint64_t off = 0; off < size; off += 4096)
		sum += base[off];
	(void)sum;
	if (tr_cursor_init(&c, r, TR_KIND_TRADE, TR_JOIN_SEQ, p->first) < 0)
		snprintf(out->err, sizeof out->err, "cursor: %s", tr_errmsg());
	else
		s = tr_bench_samples(p, out); /* sets err when it fails */
	tr_bench_ready(sh);
	if (out->err[0])
		goto done;
	while (c.next <= last) {
		int rc = tr_poll(&c, &t);

		if (rc == TR_POLL_RECORD) {
			if (s) {
				uint64_t now = tr_bench_ticks_after();
				s[k++] = (int64_t)(now - (uint64_t)t.ts_event);
			}
			if (!tr_bench_intact(&t, t.seq - p->first))
				out->corrupt++;
		} else if (rc == TR_POLL_EMPTY) {
			tr_cpu_relax(); /* TR_WAIT_SPIN does the same */
		} else if (rc == TR_POLL_EPOCH) {
			snprintf(out->err, sizeof out->err, "engine epoch changed");
			break;
		}
		/* TR_POLL_LAPPED: the cursor has counted the loss and moved on. */
	}
	out->t_last = tr_bench_ticks();
	out->delivered = c.delivered;
	out->lapped_records = c.lapped_records;
	out->lap_events = c.lap_events;
	if (s)
		tr_bench_summarize(&out->lat, s, k, p->warmup);
done:
	free(s);
	tr_region_close(r);
}

/* Read exactly one record; spin on EAGAIN in spin mode. 0 or -errno. */
static int tr_bench_read_record(int fd, struct tr_trade *t)
{
	size_t got = 0;

	while (got < sizeof *t) {
		ssize_t n = read(fd, (char *)t + got, sizeof *t - got);

		if (n > 0)
			got += (size_t)n;
		else if (n == 0)
			return -EPIPE;
		else if (errno == EAGAIN)
			tr_cpu_relax();
		else if (errno != EINTR)
			return -errno;
	}
	return 0;
}

static void tr_bench_fd_reader(const struct tr_bench_phase *p, struct tr_bench_shared *sh,
			       struct tr_bench_reader *out)
{
	struct tr_trade t;
	int64_t *s = tr_bench_samples(p, out);
	int err;

	if (p->spin && fcntl(p->fd, F_SETFL, fcntl(p->fd, F_GETFL) | O_NONBLOCK) < 0)
		snprintf(out->err, sizeof out->err, "O_NONBLOCK: %s", strerror(errno));
	tr_bench_ready(sh);
	if (out->err[0])
		goto done;
	for (uint64_t i = 0; i < p->n; i++) {
		if ((err = tr_bench_read_record(p->fd, &t)) < 0) {
			snprintf(out->err, sizeof out->err, "read record %llu: %s",
				 (unsigned long long)i, strerror(-err));
			break;
		}
		if (s) {
			uint64_t now = tr_bench_ticks_after();
			s[i] = (int64_t)(now - (uint64_t)t.ts_event);
		}
		if (!tr_bench_intact(&t, i))
			out->corrupt++;
		out->delivered++;
	}
	out->t_last = tr_bench_ticks();
	if (s)
		tr_bench_summarize(&out->lat, s, out->delivered, p->warmup);
done:
	free(s);
}

/* Fork reader idx of phase p. The child never returns. */
static pid_t tr_bench_spawn(const struct tr_bench_phase *p, struct tr_bench_shared *sh, int idx,
			    int close_fd)
{
	pid_t pid = fork();

	if (pid < 0)
		tr_bench_die("fork", strerror(errno));
	if (pid > 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the producer */
	if (close_fd >= 0)
		close(close_fd); /* the writer's end: EOF if the producer dies */
	bu_pin("bench-ring", p->cpu);
	if (p->ring)
		tr_bench_ring_reader(p, sh, &sh->rd[idx]);
	else
		tr_bench_fd_reader(p, sh, &sh->rd[idx]);
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		sh->rd[idx].nivcsw = (uint64_t)ru.ru_nivcsw;
	_exit(0); /* skip atexit and leak checks: the parent's heap is not ours */
}

/* Wait until every child said ready; die if one exits first. */
static void tr_bench_wait_ready(struct tr_bench_shared *sh, int want, const pid_t *pids)
{
	int64_t deadline = tr_bench_mono_ns() + 30000000000ll;

	/* Pairs with each child's release increment after its setup. */
	while ((int)__atomic_load_n(&sh->ready, __ATOMIC_ACQUIRE) < want) {
		for (int i = 0; i < want; i++)
			if (waitpid(pids[i], NULL, WNOHANG) == pids[i])
				tr_bench_die("reader", "exited before it was ready");
		if (tr_bench_mono_ns() > deadline)
			tr_bench_die("reader", "not ready after 30 s");
		usleep(100);
	}
}

static void tr_bench_reap(struct tr_bench_shared *sh, int n, const pid_t *pids,
			  struct tr_bench_result *res)
{
	for (int i = 0; i < n; i++) {
		int st = 0;

		if (waitpid(pids[i], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			snprintf(sh->rd[i].err, sizeof sh->rd[i].err, "reader died (status %#x)",
				 st);
		res->rd[i] = sh->rd[i]; /* plain: waitpid orders the child's stores */
	}
	res->readers = n;
}

/* ---- producers ----------------------------------------------------------- */

static void tr_bench_maybe_beat(struct tr_writer *w, uint64_t now, uint64_t *next_beat)
{
	if (now >= *next_beat) {
		tr_writer_heartbeat(w);
		*next_beat = now + tr_bench_ns_to_ticks(TR_BENCH_HEARTBEAT_NS);
	}
}

/* Publish p->n trades; paced by gap_ns when set (the stamp goes in ts_event
 * right before publish), else flat out. Commits after every publish, as a
 * pipe write makes every record visible on its own. */
static void tr_bench_ring_produce(struct tr_writer *w, const struct tr_bench_phase *p,
				  uint64_t *t_start, uint64_t *t_end)
{
	struct tr_trade t;
	uint64_t gap = tr_bench_ns_to_ticks(p->gap_ns), beat = 0, now;

	memset(&t, 0, sizeof t);
	*t_start = now = tr_bench_ticks();
	tr_bench_maybe_beat(w, now, &beat);
	for (uint64_t i = 0; i < p->n; i++) {
		tr_bench_fill(&t, i);
		if (gap) {
			uint64_t due = now + gap;

			while ((now = tr_bench_ticks()) < due)
				tr_bench_maybe_beat(w, now, &beat);
			t.ts_event = (int64_t)now; /* publish follows at once */
		} else if (!(i & 4095)) {
			tr_bench_maybe_beat(w, tr_bench_ticks(), &beat);
		}
		tr_writer_publish(w, TR_KIND_TRADE, &t);
		tr_writer_commit(w);
	}
	*t_end = tr_bench_ticks();
}

static int tr_bench_write_record(int fd, const struct tr_trade *t)
{
	size_t put = 0;

	while (put < sizeof *t) {
		ssize_t n = write(fd, (const char *)t + put, sizeof *t - put);

		if (n > 0)
			put += (size_t)n;
		else if (n < 0 && errno != EINTR)
			return -errno;
	}
	return 0;
}

/* Same records, one write() each, through fd. */
static void tr_bench_fd_produce(int fd, const struct tr_bench_phase *p, uint64_t *t_start,
				uint64_t *t_end)
{
	struct tr_trade t;
	uint64_t gap = tr_bench_ns_to_ticks(p->gap_ns), now;
	int err;

	memset(&t, 0, sizeof t);
	*t_start = now = tr_bench_ticks();
	for (uint64_t i = 0; i < p->n; i++) {
		tr_bench_fill(&t, i);
		t.seq = i + 1;
		if (gap) {
			uint64_t due = now + gap;

			while ((now = tr_bench_ticks()) < due)
				;
			t.ts_event = (int64_t)now; /* write follows at once */
		}
		if ((err = tr_bench_write_record(fd, &t)) < 0)
			tr_bench_die("write", strerror(-err));
	}
	*t_end = tr_bench_ticks();
}

/* ---- noise ----------------------------------------------------------------- */

/* Our involuntary switches, and the machine's CPU and steal time: a phase
 * that was preempted or stolen from says so. Readers count their own. */
static void tr_bench_noise(struct tr_bench_noise *n)
{
	struct rusage self;
	unsigned long long v[8] = {0};
	FILE *f = fopen("/proc/stat", "r");

	getrusage(RUSAGE_SELF, &self);
	n->nivcsw = (uint64_t)self.ru_nivcsw;
	n->total = n->steal = 0;
	if (f && fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
			&v[3], &v[4], &v[5], &v[6], &v[7]) == 8) {
		for (int i = 0; i < 8; i++)
			n->total += v[i];
		n->steal = v[7];
	}
	if (f)
		fclose(f);
}

static void tr_bench_noise_since(struct tr_bench_result *res, const struct tr_bench_noise *a)
{
	struct tr_bench_noise b;

	tr_bench_noise(&b);
	res->preempted = b.nivcsw - a->nivcsw;
	res->preempted_readers = 0;
	for (int i = 0; i < res->readers; i++)
		res->preempted_readers += res->rd[i].nivcsw;
	res->steal =
	    b.total > a->total ? (double)(b.steal - a->steal) / (double)(b.total - a->total) : 0;
}

/* Other tasks wanting a CPU right now: procs_running over 20 ms, minus us. */
static double tr_bench_others_running(void)
{
	char line[128];
	double sum = 0;

	for (int i = 0; i < 10; i++) {
		FILE *f = fopen("/proc/stat", "r");

		while (f && fgets(line, sizeof line, f))
			if (!strncmp(line, "procs_running ", 14))
				sum += atof(line + 14) - 1;
		if (f)
			fclose(f);
		usleep(2000);
	}
	return sum / 10;
}

/* ---- phases ----------------------------------------------------------------- */

static void tr_bench_finish(struct tr_bench_result *res, const struct tr_bench_phase *p,
			    uint64_t t_start, uint64_t t_end)
{
	uint64_t t_last = t_end;

	for (int i = 0; i < res->readers; i++)
		if (res->rd[i].t_last > t_last)
			t_last = res->rd[i].t_last;
	res->n = p->n;
	res->gap_ns = p->gap_ns;
	res->secs = (double)(t_last - t_start) * tr_bench_ns_per_tick / 1e9;
	res->publish_mps = (double)p->n / ((double)(t_end - t_start) * tr_bench_ns_per_tick / 1e3);
}

static void tr_bench_ring_phase(struct tr_writer *w, struct tr_bench_shared *sh,
				struct tr_bench_phase *p, struct tr_bench_result *res)
{
	pid_t pids[TR_BENCH_MAX_READERS];
	uint64_t t0, t1;
	struct tr_bench_noise noise;

	memset(sh, 0, sizeof *sh);
	memset(res, 0, sizeof *res);
	tr_bench_noise(&noise);
	p->ring = 1;
	p->first = w->rings[TR_KIND_TRADE].next; /* our own counter: the next seq */
	tr_writer_heartbeat(w);			 /* readers check it when they open */
	for (int i = 0; i < p->readers; i++)
		pids[i] = tr_bench_spawn(p, sh, i, -1);
	tr_bench_wait_ready(sh, p->readers, pids);
	tr_bench_ring_produce(w, p, &t0, &t1);
	tr_bench_reap(sh, p->readers, pids, res);
	tr_bench_finish(res, p, t0, t1);
	tr_bench_noise_since(res, &noise);
}

static void tr_bench_fd_phase(int uds_type, struct tr_bench_shared *sh, struct tr_bench_phase *p,
			      struct tr_bench_result *res)
{
	int fds[2]; /* [0] read end, [1] write end */
	pid_t pid;
	uint64_t t0, t1;
	struct tr_bench_noise noise;

	memset(sh, 0, sizeof *sh);
	memset(res, 0, sizeof *res);
	tr_bench_noise(&noise);
	p->ring = 0;
	p->readers = 1;
	if (uds_type ? socketpair(AF_UNIX, uds_type | SOCK_CLOEXEC, 0, fds) < 0
		     : pipe2(fds, O_CLOEXEC) < 0)
		tr_bench_die(uds_type ? "socketpair" : "pipe", strerror(errno));
	p->fd = fds[0];
	pid = tr_bench_spawn(p, sh, 0, fds[1]);
	close(fds[0]);
	tr_bench_wait_ready(sh, 1, &pid);
	tr_bench_fd_produce(fds[1], p, &t0, &t1);
	tr_bench_reap(sh, 1, &pid, res);
	close(fds[1]);
	tr_bench_finish(res, p, t0, t1);
	tr_bench_noise_since(res, &noise);
}

/* Records delivered per second to the slowest reader, millions. */
static double tr_bench_mps(const struct tr_bench_result *r)
{
	double min = -1;

	for (int i = 0; i < r->readers; i++) {
		double m = (double)r->rd[i].delivered / r->secs / 1e6;

		if (min < 0 || m < min)
			min = m;
	}
	return min;
}

/* Every record either delivered intact or counted as lapped, and no error. */
static int tr_bench_verified(const struct tr_bench_result *r)
{
	for (int i = 0; i < r->readers; i++) {
		const struct tr_bench_reader *d = &r->rd[i];

		if (d->err[0] || d->corrupt || d->delivered + d->lapped_records != r->n)
			return 0;
	}
	return 1;
}

static uint64_t tr_bench_lapped(const struct tr_bench_result *r, uint64_t *events)
{
	uint64_t n = 0;

	*events = 0;
	for (int i = 0; i < r->readers; i++) {
		n += r->rd[i].lapped_records;
		*events += r->rd[i].lap_events;
	}
	return n;
}

static void tr_bench_report_errors(const char *name, const struct tr_bench_result *r)
{
	for (int i = 0; i < r->readers; i++) {
		const struct tr_bench_reader *d = &r->rd[i];

		if (d->err[0])
			fprintf(stderr, "bench-ring: %s reader %d: %s\n", name, i, d->err);
		if (d->corrupt)
			fprintf(stderr, "bench-ring: %s reader %d: %llu corrupt records\n", name, i,
				(unsigned long long)d->corrupt);
		if (d->delivered + d->lapped_records != r->n)
			fprintf(
			    stderr,
			    "bench-ring: %s reader %d: %llu delivered + %llu lapped != %llu sent\n",
			    name, i, (unsigned long long)d->delivered,
			    (unsigned long long)d->lapped_records, (unsigned long long)r->n);
	}
}

/* ---- machine and output ------------------------------------------------------ */

/* "producer/readers" involuntary context switches, for the preempt column. */
static const char *tr_bench_preempt(const struct tr_bench_result *r, char *buf, size_t n)
{
	snprintf(buf, n, "%llu/%llu", (unsigned long long)r->preempted,
		 (unsigned long long)r->preempted_readers);
	return buf;
}

static void tr_bench_lat_row(const char *name, const struct tr_bench_result *r)
{
	const struct tr_bench_lat *l = &r->rd[0].lat;
	char pre[48];

	printf("  %-24s %8.0f %8.0f %8.0f %8.0f %9.0f %7.1f %9llu %9s %6.1f%%", name, l->p50,
	       l->p99, l->p999, l->p9999, l->max, (double)r->gap_ns / 1e3, (unsigned long long)l->n,
	       tr_bench_preempt(r, pre, sizeof pre), r->steal * 100);
	if (l->negative)
		printf("  (%llu negative: TSC skew)", (unsigned long long)l->negative);
	printf("\n");
}

static void tr_bench_tput_row(const char *name, const struct tr_bench_result *r)
{
	uint64_t ev, lapped = tr_bench_lapped(r, &ev);
	char pre[48];

	printf("  %-30s %10llu %8.2f %9.2f %12llu %6llu %9s %6.1f%%  %s\n", name,
	       (unsigned long long)r->n, tr_bench_mps(r), r->publish_mps,
	       (unsigned long long)lapped, (unsigned long long)ev,
	       tr_bench_preempt(r, pre, sizeof pre), r->steal * 100,
	       tr_bench_verified(r) ? "ok" : "FAILED");
}

static const char *tr_bench_mark(int ok)
{
	return ok ? "PASS" : "MISS";
}

static void tr_bench_on_signal(int sig)
{
	(void)sig;
	unlink(tr_bench_region_path);
	unlink(tr_bench_ctl_path);
	_exit(130);
}

static void tr_bench_usage(FILE *f)
{
	fprintf(f, "usage: bench-ring [options]\n"
		   "Ring latency and throughput against a pipe and a Unix socket, same run.\n"
		   "  --quick               small counts, a few seconds in all\n"
		   "  --lat-samples N       ring latency samples (default 2000000)\n"
		   "  --base-lat-samples N  pipe and socket latency samples (default 200000)\n"
		   "  --ring-records N      ring throughput records (default 50000000)\n"
		   "  --base-records N      pipe and socket throughput records (default 1000000)\n"
		   "  --slots N             trade ring slots, power of two (default 65536)\n"
		   "  --gap-ns N            ring latency pacing (default 2000)\n"
		   "  --base-gap-ns N       pipe and socket latency pacing (default 10000)\n"
		   "  --rtt-trips N         cache-line round trips (default 1000000)\n"
		   "  --seqpacket           Unix socket as SOCK_SEQPACKET (default SOCK_STREAM)\n"
		   "  --cpus P,R            producer on CPU P, readers on CPU R (default: the\n"
		   "                        first two CPUs this process may use)\n"
		   "  --json PATH           write the results as JSON to PATH\n"
		   "  --results-dir DIR     same as --json DIR/ring.json\n"
		   "  --help\n"
		   "Targets are informational: a miss never changes the exit status;\n"
		   "a lost or corrupt record does (exit 1).\n");
}

static uint64_t tr_bench_num(const char *opt, const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || v == 0)
		tr_bench_die(opt, "expects a positive number");
	return v;
}

static void tr_bench_parse(int argc, char **argv, struct tr_bench_opts *o, char *json, size_t n)
{
	enum {
		O_QUICK = 256,
		O_LAT,
		O_BLAT,
		O_RREC,
		O_BREC,
		O_SLOTS,
		O_GAP,
		O_BGAP,
		O_RTT,
		O_SEQP,
		O_CPUS,
		O_JSON,
		O_DIR,
		O_HELP
	};
	static const struct option lo[] = {
	    {"quick", no_argument, NULL, O_QUICK},
	    {"lat-samples", required_argument, NULL, O_LAT},
	    {"base-lat-samples", required_argument, NULL, O_BLAT},
	    {"ring-records", required_argument, NULL, O_RREC},
	    {"base-records", required_argument, NULL, O_BREC},
	    {"slots", required_argument, NULL, O_SLOTS},
	    {"gap-ns", required_argument, NULL, O_GAP},
	    {"base-gap-ns", required_argument, NULL, O_BGAP},
	    {"rtt-trips", required_argument, NULL, O_RTT},
	    {"seqpacket", no_argument, NULL, O_SEQP},
	    {"cpus", required_argument, NULL, O_CPUS},
	    {"json", required_argument, NULL, O_JSON},
	    {"results-dir", required_argument, NULL, O_DIR},
	    {"help", no_argument, NULL, O_HELP},
	    {NULL, 0, NULL, 0},
	};
	int c;

	*o = (struct tr_bench_opts){
	    .lat_samples = 2000000,
	    .base_lat_samples = 200000,
	    .ring_records = 50000000,
	    .base_records = 1000000,
	    .slots = 1u << 16,
	    .gap_ns = 2000,
	    .base_gap_ns = 10000,
	    .rtt_trips = 1000000,
	    .cpu = {-1, -1},
	};
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case O_QUICK: /* options after --quick still win */
			o->lat_samples = 200000;
			o->base_lat_samples = 30000;
			o->ring_records = 5000000;
			o->base_records = 200000;
			o->rtt_trips = 200000;
			break;
		case O_LAT:
			o->lat_samples = tr_bench_num("--lat-samples", optarg);
			break;
		case O_BLAT:
			o->base_lat_samples = tr_bench_num("--base-lat-samples", optarg);
			break;
		case O_RREC:
			o->ring_records = tr_bench_num("--ring-records", optarg);
			break;
		case O_BREC:
			o->base_records = tr_bench_num("--base-records", optarg);
			break;
		case O_SLOTS:
			o->slots = tr_bench_num("--slots", optarg);
			break;
		case O_GAP:
			o->gap_ns = tr_bench_num("--gap-ns", optarg);
			break;
		case O_BGAP:
			o->base_gap_ns = tr_bench_num("--base-gap-ns", optarg);
			break;
		case O_RTT:
			o->rtt_trips = tr_bench_num("--rtt-trips", optarg);
			break;
		case O_SEQP:
			o->seqpacket = 1;
			break;
		case O_CPUS:
			if (sscanf(optarg, "%d,%d", &o->cpu[0], &o->cpu[1]) != 2 || o->cpu[0] < 0 ||
			    o->cpu[1] < 0)
				tr_bench_die("--cpus", "expects two CPU numbers, P,R");
			break;
		case O_JSON:
			snprintf(json, n, "%s", optarg);
			break;
		case O_DIR:
			snprintf(json, n, "%s/ring.json", optarg);
			break;
		case 'h':
		case O_HELP:
			tr_bench_usage(stdout);
			exit(0);
		default:
			tr_bench_usage(stderr);
			exit(2);
		}
	}
	if (optind < argc) {
		tr_bench_usage(stderr);
		exit(2);
	}
	if (o->rtt_trips < 10)
		o->rtt_trips = 10;
	o->json = json[0] ? json : NULL;
}

int main(int argc, char **argv)
{
	struct tr_bench_opts o;
	struct bu_machine m;
	struct tr_writer_config cfg;
	struct tr_writer *w;
	struct tr_bench_shared *sh;
	struct tr_bench_result ring_lat, ring1, ring2, base_tput[4], base_lat[4];
	char inst[32], json[512] = "";
	int cpu[2], rc = 0;

	tr_bench_parse(argc, argv, &o, json, sizeof json);
	int uds_type = o.seqpacket ? SOCK_SEQPACKET : SOCK_STREAM;
	const char *uds_name = o.seqpacket ? "SOCK_SEQPACKET" : "SOCK_STREAM";
	/* The four baselines: {transport, read mode}. Spin first: it is the
	 * stronger baseline and the one the ratios use. */
	const struct {
		const char *name;
		int uds, spin;
	} base[4] = {
	    {"pipe, spin read", 0, 1},
	    {"uds, spin read", 1, 1},
	    {"pipe, blocking read", 0, 0},
	    {"uds, blocking read", 1, 0},
	};

#ifdef TR_BENCH_TSC
	const char *clock_name = "TSC";
#else
	const char *clock_name = "CLOCK_MONOTONIC (no TSC)";
#endif

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN); /* a dead reader shows as EPIPE, reported */
	bu_machine(&m);
	bu_cpus(cpu);
	if (o.cpu[0] >= 0) {
		cpu[0] = o.cpu[0];
		cpu[1] = o.cpu[1];
	}
	tr_bench_calibrate();
	bu_pin("bench-ring", cpu[0]);

	printf("tickring ring benchmark\n");
	printf("  cpu       %s, %ld cores online, L2 %s, L3 %s\n", m.cpu, m.cores, m.l2, m.l3);
	printf("  kernel    %s\n", m.kernel);
	printf("  clock     %s %.3f GHz, calibrated against CLOCK_MONOTONIC\n", clock_name,
	       1.0 / tr_bench_ns_per_tick);
	printf("  pinning   producer cpu %d, readers cpu %d%s\n", cpu[0], cpu[1],
	       cpu[0] == cpu[1] ? " (one CPU only: figures are not meaningful)" : "");
	printf("  ring      %llu trade slots x 64 B = %llu KiB, commit after every publish\n",
	       (unsigned long long)o.slots, (unsigned long long)(o.slots * 64 >> 10));
	printf("  uds       socketpair(AF_UNIX, %s)\n", uds_name);
	double others = tr_bench_others_running();
	printf("  load      %.1f other runnable tasks at start%s\n\n", others,
	       others >= 0.5 ? ": the machine is busy, figures will be noisy" : "");

	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		tr_bench_die("mmap", strerror(errno));

	/* The trade ring holds 2^16 slots (4 MiB) by default: eight times a
	 * 512 KiB L2, so records really stream through the caches as they do
	 * in the engine, yet well inside a 32 MiB L3. It is also 1.3 ms of
	 * records at 50 M/s, so a reader on its own core that keeps up never
	 * laps; the 2^20 default would measure DRAM and page walks instead.
	 * The other rings are not used and get the minimum. */
	tr_writer_config_default(&cfg);
	snprintf(inst, sizeof inst, "bench-%d", (int)getpid());
	cfg.instance = inst;
	for (int k = 0; k < TR_NKINDS; k++)
		cfg.geometry.ring_slots[k] = k == TR_KIND_TRADE ? o.slots : 64;
	cfg.geometry.symbol_capacity = 1;
	if (tr_writer_open(&w, &cfg) < 0)
		tr_bench_die("open region", tr_errmsg());
	snprintf(tr_bench_region_path, sizeof tr_bench_region_path, "%s", w->path);
	snprintf(tr_bench_ctl_path, sizeof tr_bench_ctl_path, "%s", w->ctl_path);
	signal(SIGINT, tr_bench_on_signal);
	signal(SIGTERM, tr_bench_on_signal);

	double rtt = tr_bench_cacheline_rtt(o.rtt_trips, cpu[0], cpu[1]);
	bu_pin("bench-ring", cpu[0]); /* the round trip pinned the parent thread: keep it so */

	/* On one CPU, pinning a spinning reader next to the producer would
	 * starve it for whole time slices: leave the scheduler to it. */
	int rcpu = cpu[0] == cpu[1] ? -1 : cpu[1];
	struct tr_bench_phase p = {.inst = inst, .cpu = rcpu, .readers = 1};
	p.n = o.lat_samples;
	p.warmup = o.lat_samples / 10;
	p.gap_ns = o.gap_ns;
	tr_bench_ring_phase(w, sh, &p, &ring_lat);
	/* Again after: on a VM the host may move the vCPUs mid-run, and then
	 * the floor the ratio uses no longer holds. */
	double rtt_after = tr_bench_cacheline_rtt(o.rtt_trips / 4, cpu[0], cpu[1]);
	bu_pin("bench-ring", cpu[0]);
	p.n = o.ring_records;
	p.gap_ns = p.warmup = 0;
	tr_bench_ring_phase(w, sh, &p, &ring1);
	p.readers = 2;
	tr_bench_ring_phase(w, sh, &p, &ring2);
	tr_writer_close(w);
	tr_writer_unlink(NULL, inst);

	for (int i = 0; i < 4; i++) {
		struct tr_bench_phase b = {.cpu = rcpu, .spin = base[i].spin};

		b.n = o.base_records;
		tr_bench_fd_phase(base[i].uds ? uds_type : 0, sh, &b, &base_tput[i]);
		b.n = o.base_lat_samples;
		b.warmup = b.n / 10;
		b.gap_ns = o.base_gap_ns;
		tr_bench_fd_phase(base[i].uds ? uds_type : 0, sh, &b, &base_lat[i]);
	}
	munmap(sh, sizeof *sh);

	/* Each baseline figure is the better of its two read modes (latency:
	 * the mode with the lower p50, its whole row), so no ratio flatters
	 * the ring by picking the baseline's bad side. */
	int pipe_lat = base_lat[2].rd[0].lat.p50 < base_lat[0].rd[0].lat.p50 ? 2 : 0;
	int uds_lat = base_lat[3].rd[0].lat.p50 < base_lat[1].rd[0].lat.p50 ? 3 : 1;
	const struct tr_bench_lat *rl = &ring_lat.rd[0].lat, *pl = &base_lat[pipe_lat].rd[0].lat,
				  *ul = &base_lat[uds_lat].rd[0].lat;
	double mps1 = tr_bench_mps(&ring1), mps2 = tr_bench_mps(&ring2);
	double pipe_mps = tr_bench_mps(&base_tput[0]), uds_mps = tr_bench_mps(&base_tput[1]);
	int pipe_tput = tr_bench_mps(&base_tput[2]) > pipe_mps ? 2 : 0;
	int uds_tput = tr_bench_mps(&base_tput[3]) > uds_mps ? 3 : 1;
	pipe_mps = tr_bench_mps(&base_tput[pipe_tput]);
	uds_mps = tr_bench_mps(&base_tput[uds_tput]);
	uint64_t ev1, ev2, lap1 = tr_bench_lapped(&ring1, &ev1),
			   lap2 = tr_bench_lapped(&ring2, &ev2);

	printf("latency, one-way publish -> consume, ns (warm-up dropped)\n");
	printf("  %-24s %8s %8s %8s %8s %9s %7s %9s %9s %7s\n", "transport", "p50", "p99", "p99.9",
	       "p99.99", "max", "gap us", "samples", "preempt", "steal");
	tr_bench_lat_row("ring, spin poll", &ring_lat);
	for (int i = 0; i < 4; i++)
		tr_bench_lat_row(base[i].name, &base_lat[i]);
	printf("\nthroughput, producer flat out, million records/s delivered to the slowest "
	       "reader\n");
	printf("  %-30s %10s %8s %9s %12s %6s %9s %7s  %s\n", "transport", "records", "mps",
	       "pub mps", "lapped recs", "laps", "preempt", "steal", "verified");
	tr_bench_tput_row("ring, 1 reader", &ring1);
	tr_bench_tput_row("ring, 2 readers (3 procs/2 cpu)", &ring2);
	for (int i = 0; i < 4; i++)
		tr_bench_tput_row(base[i].name, &base_tput[i]);
	printf("  ring, 2 readers: per reader %.2f and %.2f mps, %.2f in all\n",
	       (double)ring2.rd[0].delivered / ring2.secs / 1e6,
	       (double)ring2.rd[1].delivered / ring2.secs / 1e6,
	       (double)(ring2.rd[0].delivered + ring2.rd[1].delivered) / ring2.secs / 1e6);

	printf("\ncache line round trip cpu %d <-> cpu %d: %.1f ns; one-way floor %.1f ns\n",
	       cpu[0], cpu[1], rtt, rtt / 2);
	printf("  after the ring latency run: %.1f ns%s\n", rtt_after,
	       rtt_after > rtt * 1.25 || rtt_after < rtt / 1.25
		   ? " (changed: the CPUs moved under us, ratios to the floor are unreliable)"
		   : "");
	printf("\nratios and targets (informational)\n");
	printf("  %-34s %10.2fx  %-16s %s\n", "ring p50 / one-way floor", rl->p50 / (rtt / 2),
	       "target <= 2x", tr_bench_mark(rl->p50 <= rtt));
	printf("  %-34s %8.0f ns  %-16s %s\n", "ring p99", rl->p99, "target < 1000 ns",
	       tr_bench_mark(rl->p99 < 1000));
	printf("  %-34s %7.2f mps  %-16s %s\n", "ring throughput, 1 reader", mps1,
	       "target >= 20 mps", tr_bench_mark(mps1 >= 20));
	printf("  %-34s %10.1fx  %-16s %s\n", "ring / uds throughput", mps1 / uds_mps,
	       "target >= 20x", tr_bench_mark(mps1 / uds_mps >= 20));
	printf("  %-34s %10.1fx\n", "ring / pipe throughput", mps1 / pipe_mps);
	printf("  %-34s %10.1fx\n", "uds p50 / ring p50", ul->p50 / rl->p50);
	printf("  %-34s %10.1fx\n", "pipe p50 / ring p50", pl->p50 / rl->p50);
	printf("  baselines in the ratios and JSON: the better read mode of each\n"
	       "    pipe: %s (latency), %s (throughput)\n"
	       "    uds:  %s (latency), %s (throughput)\n",
	       base[pipe_lat].name, base[pipe_tput].name, base[uds_lat].name, base[uds_tput].name);

	tr_bench_metric("cacheline_rtt_ns", rtt);
	tr_bench_metric("cacheline_rtt_after_ns", rtt_after);
	tr_bench_metric("ring_p50_ns", rl->p50);
	tr_bench_metric("ring_p99_ns", rl->p99);
	tr_bench_metric("ring_p999_ns", rl->p999);
	tr_bench_metric("ring_p9999_ns", rl->p9999);
	tr_bench_metric("ring_max_ns", rl->max);
	tr_bench_metric("ring_mps_1reader", mps1);
	tr_bench_metric("ring_mps_2readers", mps2);
	tr_bench_metric("ring_mps_2readers_total",
			(double)(ring2.rd[0].delivered + ring2.rd[1].delivered) / ring2.secs / 1e6);
	tr_bench_metric("ring_publish_mps_1reader", ring1.publish_mps);
	tr_bench_metric("ring_lapped_latency", (double)ring_lat.rd[0].lapped_records);
	tr_bench_metric("ring_lapped_1reader", (double)lap1);
	tr_bench_metric("ring_lapped_2readers", (double)lap2);
	tr_bench_metric("ring_lap_events_1reader", (double)ev1);
	tr_bench_metric("ring_lap_events_2readers", (double)ev2);
	tr_bench_metric("pipe_mps", pipe_mps);
	tr_bench_metric("uds_mps", uds_mps);
	tr_bench_metric("pipe_p50_ns", pl->p50);
	tr_bench_metric("pipe_p99_ns", pl->p99);
	tr_bench_metric("pipe_p999_ns", pl->p999);
	tr_bench_metric("uds_p50_ns", ul->p50);
	tr_bench_metric("uds_p99_ns", ul->p99);
	tr_bench_metric("uds_p999_ns", ul->p999);
	tr_bench_metric("pipe_spin_mps", tr_bench_mps(&base_tput[0]));
	tr_bench_metric("uds_spin_mps", tr_bench_mps(&base_tput[1]));
	tr_bench_metric("pipe_blocking_mps", tr_bench_mps(&base_tput[2]));
	tr_bench_metric("uds_blocking_mps", tr_bench_mps(&base_tput[3]));
	tr_bench_metric("pipe_spin_p50_ns", base_lat[0].rd[0].lat.p50);
	tr_bench_metric("pipe_spin_p99_ns", base_lat[0].rd[0].lat.p99);
	tr_bench_metric("uds_spin_p50_ns", base_lat[1].rd[0].lat.p50);
	tr_bench_metric("uds_spin_p99_ns", base_lat[1].rd[0].lat.p99);
	tr_bench_metric("pipe_blocking_p50_ns", base_lat[2].rd[0].lat.p50);
	tr_bench_metric("pipe_blocking_p99_ns", base_lat[2].rd[0].lat.p99);
	tr_bench_metric("uds_blocking_p50_ns", base_lat[3].rd[0].lat.p50);
	tr_bench_metric("uds_blocking_p99_ns", base_lat[3].rd[0].lat.p99);
	tr_bench_metric("ring_vs_uds_mps_ratio", mps1 / uds_mps);
	tr_bench_metric("ring_vs_pipe_mps_ratio", mps1 / pipe_mps);
	tr_bench_metric("ring_p50_vs_floor_ratio", rl->p50 / (rtt / 2));
	tr_bench_metric("tsc_ghz", 1.0 / tr_bench_ns_per_tick);
	tr_bench_metric("others_running_at_start", others);
	tr_bench_metric("ring_lat_preempted", (double)ring_lat.preempted);
	tr_bench_metric("ring_lat_reader_preempted", (double)ring_lat.preempted_readers);
	tr_bench_metric("ring_lat_steal_pct", ring_lat.steal * 100);
	tr_bench_metric("ring_1reader_preempted", (double)ring1.preempted);
	tr_bench_metric("ring_1reader_reader_preempted", (double)ring1.preempted_readers);

	/* Lost or torn records are a bug, not a slow run: they fail the run. */
	const struct tr_bench_result *all[] = {
	    &ring_lat,	   &ring1,	 &ring2,       &base_tput[0], &base_tput[1], &base_tput[2],
	    &base_tput[3], &base_lat[0], &base_lat[1], &base_lat[2],  &base_lat[3]};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		tr_bench_report_errors(i < 3 ? "ring" : "baseline", all[i]);
		if (!tr_bench_verified(all[i]))
			rc = 1;
	}
	char config[1024];
	snprintf(config, sizeof config,
		 "\"ring_slots\": %llu, \"uds\": \"%s\", \"producer_cpu\": %d, "
		 "\"reader_cpu\": %d, \"ring_gap_ns\": %llu, \"base_gap_ns\": %llu, "
		 "\"ring_lat_samples\": %llu, \"base_lat_samples\": %llu, "
		 "\"ring_records\": %llu, \"base_records\": %llu, \"commit\": \"every publish\", "
		 "\"pipe_lat_mode\": \"%s\", \"pipe_mps_mode\": \"%s\", "
		 "\"uds_lat_mode\": \"%s\", \"uds_mps_mode\": \"%s\"",
		 (unsigned long long)o.slots, uds_name, cpu[0], rcpu, (unsigned long long)o.gap_ns,
		 (unsigned long long)o.base_gap_ns, (unsigned long long)o.lat_samples,
		 (unsigned long long)o.base_lat_samples, (unsigned long long)o.ring_records,
		 (unsigned long long)o.base_records, base[pipe_lat].name, base[pipe_tput].name,
		 base[uds_lat].name, base[uds_tput].name);
	if (rc)
		fprintf(stderr, "bench-ring: records were lost or corrupted: see above\n");
	if (o.json) {
		if (bu_write_json("bench-ring", o.json, &m, config, tr_bench_metrics,
				  tr_bench_nmetrics) < 0)
			rc = 1; /* it said why */
		else
			printf("\nresults: %s\n", o.json);
	}
	return rc;
}
