/* e2e.c - bench-e2e: the whole pipeline, exsim -> tickringd -> a ring reader.
 *
 * Real processes on the real wire: exsim (a Binance stream server, synthetic
 * market) and tickringd (the engine) are forked and exec'ed from the build
 * directory this program lives in, talk WebSocket over 127.0.0.1, and this
 * process reads the engine's trade ring with libtickring, spinning on
 * tr_poll(). Each run starts both programs afresh on an instance of its
 * own in a private directory, and measures:
 *   - latency engine receive -> reader: for every trade, CLOCK_REALTIME
 *     right after tr_poll() returned it, minus the record's ts_recv (taken
 *     by the engine when the frame's first WebSocket fragment arrived);
 *   - latency exsim -> reader: the same clock minus the trade's price, which
 *     exsim --stamp-price sets to the CLOCK_REALTIME ns the frame was made;
 *   - the engine's frame rate (superblock counter frames_in over time) and
 *     whether anything was lost: trade ids contiguous per symbol, no gap or
 *     dup counted by the engine, no reconnect, the reader never lapped,
 *     exsim never closing the engine as a slow consumer.
 * Latency runs at 10 k and 100 k frames/s (paced) and at exsim --speed max;
 * then a paced ramp finds the highest rate the pipeline sustains with zero
 * loss. By default the reader and tickringd are pinned to CPUs of their own
 * (exsim shares tickringd's) and run at nice -20 in an autogroup of their own
 * (--pin, --priority); the 100 k/s run is repeated with the other choices
 * (--compare). bench/README.md ("bench-e2e") explains the figures and the
 * method.
 */
#define _GNU_SOURCE
#include "bench_util.h"
#include "tr_reader.h"
#include "tr_writer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define E2E_MAX_SYMBOLS 16 /* also the engine's symbol capacity */
#define E2E_MAX_STEPS 16
#define E2E_MAX_METRICS 128
#define E2E_TARGET_P99_NS 5000.0
#define E2E_START_TIMEOUT_NS 15000000000ll /* exsim port, region, first trade */
#define E2E_NICE_CRITICAL -20		   /* tickringd, the reader, our autogroup: --priority */
/* --priority rt: the reader SCHED_FIFO, tickringd at nice -20 as with nice.
 * A real-time tickringd takes the CPU from exsim at every frame exsim
 * writes (a context switch pair per frame: we measured a third of the
 * paced rate), and exsim's event loop spins when its next send is under a
 * millisecond away, which starves an equal-priority tickringd. */
#define E2E_FIFO_READER 40

enum { E2E_PRIO_PLAIN, E2E_PRIO_NICE, E2E_PRIO_RT };
static const char *const e2e_prio_name[] = {"no", "nice", "rt"};

struct e2e_opts {
	double warmup_s, secs;	      /* each latency run */
	double step_warmup_s, step_s; /* each ramp step */
	double ramp[E2E_MAX_STEPS];   /* offered frames/s */
	int nramp;
	uint64_t trade_slots, quote_slots;
	const char *symbols;
	int cpu[2];	       /* engine, reader; -1: the first two allowed */
	int exsim_with_reader; /* exsim shares the reader's CPU, not the engine's */
	int pin;	       /* pin the three processes (default) */
	int prio;	       /* E2E_PRIO_*: rt (default), nice or plain */
	int compare;	       /* also run 100 k/s with other pinning and priority */
	const char *json;
};

/* Latency of one run, ns, warm-up excluded. */
struct e2e_lat {
	uint64_t n;
	uint64_t negative; /* clock went backwards between the two stamps */
	double p50, p99, p999, max;
};

/* One run: exsim at one rate, a fresh tickringd, the reader. */
struct e2e_run {
	/* in */
	const char *label;
	double rate; /* offered frames/s; 0: exsim --speed max */
	double warmup_s, secs;
	int pinned, prio; /* this run's placement and priorities */
	/* out */
	struct e2e_lat eng; /* ts_recv -> reader */
	struct e2e_lat exs; /* exsim stamp -> reader, when stamped */
	int stamped;	    /* prices carried exsim's send stamps */
	double fps;	    /* engine frames_in per second over the measured window */
	uint64_t trades;    /* trades read in the measured window */
	uint64_t overflow;  /* of those, not sampled: the sample array was full */
	/* loss, over the whole run */
	uint64_t id_gaps, id_dups; /* trade ids missing / repeated, per symbol */
	uint64_t gap_flags;	   /* trades the engine flagged TR_TRADE_GAP */
	uint64_t ctr_gaps, ctr_dups, ctr_reconnects, ctr_bad;
	uint64_t lapped, lap_events;
	uint64_t slow_consumer; /* exsim closed the engine's connection */
	/* noise */
	uint64_t reader_preempt, engine_preempt;
	double reader_cpu; /* share of the run the spinning reader was on its CPU */
	double steal;	   /* share of the machine's CPU time the hypervisor took */
	char err[256];
};

/* Latency samples, allocated and touched once, reused by every run. */
struct e2e_buf {
	int64_t *eng, *exs;
	uint64_t cap;
};

/* Paths of one run, for cleanup (also from the signal path). */
struct e2e_env {
	char build[PATH_MAX];
	char dir[128]; /* private directory in /dev/shm */
	char inst[32];
	char region[256];
	char exsim_log[256], engine_log[256], dead_letter[256];
	int cpu_engine, cpu_reader, cpu_exsim;
	cpu_set_t allowed; /* what we may run on: the unpinned runs use all of it */
	int can_prio;	   /* we may lower our nice value (CAP_SYS_NICE) */
	int can_rt;	   /* we may use SCHED_FIFO (CAP_SYS_NICE or RLIMIT_RTPRIO) */
	int autogroup;	   /* the kernel groups sessions; our group's nice was this */
	int have_stamp;	   /* exsim knows --stamp-price */
	pid_t exsim, engine;
};

static struct bu_metric e2e_metrics[E2E_MAX_METRICS];
static int e2e_nmetrics;

static volatile sig_atomic_t e2e_stop_signal;

static void e2e_metric(const char *name, double v)
{
	/* Names are often built in a caller's buffer: keep a copy (for the
	 * program's life). */
	char *copy = strdup(name);

	if (copy && e2e_nmetrics < E2E_MAX_METRICS)
		e2e_metrics[e2e_nmetrics++] = (struct bu_metric){copy, v};
	else
		free(copy);
}

static void e2e_die(const char *what, const char *why)
{
	fprintf(stderr, "bench-e2e: %s: %s\n", what, why);
	exit(1);
}

static int64_t e2e_clock(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t e2e_mono(void)
{
	return e2e_clock(CLOCK_MONOTONIC);
}

/* ---- child processes ---------------------------------------------------- */

/* Start argv[0] (a path) pinned to cpu, stderr (and stdout unless out_fd)
 * appended to log. With out_fd, stdout is a pipe whose read end is
 * returned there. The child dies with us. Returns the pid or -errno. */
/* SCHED_FIFO at level, or back to SCHED_OTHER with 0. */
static int e2e_fifo(int level)
{
	struct sched_param sp = {.sched_priority = level};

	/* Reset on fork: the reader spawns exsim and tickringd. */
	return sched_setscheduler(0, level ? SCHED_FIFO | SCHED_RESET_ON_FORK : SCHED_OTHER, &sp);
}

static pid_t e2e_spawn(char *const argv[], int cpu, int nice, int *out_fd, const char *log)
{
	int fds[2] = {-1, -1};
	pid_t parent = getpid();

	if (out_fd && pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0) {
		int err = errno;
		if (out_fd) {
			close(fds[0]);
			close(fds[1]);
		}
		return -err;
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the benchmark */
		if (getppid() != parent)
			_exit(127); /* it died before the prctl */
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		bu_pin("bench-e2e", cpu);
		int lf = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (lf >= 0)
			dup2(lf, 2); /* dup2 clears O_CLOEXEC on the copy */
		if (nice && setpriority(PRIO_PROCESS, 0, nice) < 0)
			fprintf(stderr, "bench-e2e: nice %d: %s\n", nice, strerror(errno));
		if (out_fd)
			dup2(fds[1], 1);
		else if (lf >= 0)
			dup2(lf, 1);
		execv(argv[0], argv);
		fprintf(stderr, "bench-e2e: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	if (out_fd) {
		close(fds[1]);
		*out_fd = fds[0];
	}
	return pid;
}

/* SIGTERM, then SIGKILL after 5 s. Returns the wait status, or -1. */
static int e2e_stop(pid_t *pid)
{
	int st = -1;

	if (*pid <= 0)
		return -1;
	kill(*pid, SIGTERM);
	for (int i = 0; i < 500; i++) {
		if (waitpid(*pid, &st, WNOHANG) == *pid) {
			*pid = 0;
			return st;
		}
		usleep(10000);
	}
	kill(*pid, SIGKILL);
	waitpid(*pid, &st, 0);
	*pid = 0;
	return st;
}

/* 1 if pid has exited (and is reaped), 0 if it runs. */
static int e2e_exited(pid_t *pid)
{
	if (*pid > 0 && waitpid(*pid, NULL, WNOHANG) == *pid) {
		*pid = 0;
		return 1;
	}
	return *pid <= 0;
}

/* One line from fd, up to a deadline. Returns its length, or -1. */
static int e2e_read_line(int fd, char *buf, size_t n, int64_t deadline)
{
	size_t k = 0;

	while (k < n - 1 && e2e_mono() < deadline && !e2e_stop_signal) {
		struct pollfd p = {.fd = fd, .events = POLLIN};

		if (poll(&p, 1, 100) != 1)
			continue;
		ssize_t r = read(fd, buf + k, 1);
		if (r <= 0)
			break;
		if (buf[k++] == '\n')
			break;
	}
	buf[k] = 0;
	return k && buf[k - 1] == '\n' ? (int)k : -1;
}

/* The last lines of a log, to say why a child failed. */
static void e2e_log_tail(const char *path)
{
	char buf[1200];
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	off_t end = lseek(fd, 0, SEEK_END);
	off_t from = end > (off_t)sizeof buf - 1 ? end - (off_t)sizeof buf + 1 : 0;
	ssize_t n = pread(fd, buf, sizeof buf - 1, from);
	close(fd);
	if (n > 0) {
		buf[n] = 0;
		fprintf(stderr, "---- %s (end)\n%s%s----\n", path, buf,
			buf[n - 1] == '\n' ? "" : "\n");
	}
}

/* Lines of a log containing needle. */
static uint64_t e2e_log_count(const char *path, const char *needle)
{
	char line[1024];
	uint64_t n = 0;
	FILE *f = fopen(path, "r");

	while (f && fgets(line, sizeof line, f))
		if (strstr(line, needle))
			n++;
	if (f)
		fclose(f);
	return n;
}

/* Does exsim know --stamp-price? Asks its --help. */
static int e2e_exsim_has_stamp(struct e2e_env *env)
{
	char exe[PATH_MAX + 8], line[256], log[160];
	int fd, found = 0;

	snprintf(exe, sizeof exe, "%s/exsim", env->build);
	snprintf(log, sizeof log, "%s/exsim-help.log", env->dir);
	char *argv[] = {exe, (char *)"--help", NULL};
	pid_t pid = e2e_spawn(argv, -1, 0, &fd, log);
	if (pid < 0)
		return 0;
	int64_t deadline = e2e_mono() + 5000000000ll;
	while (e2e_read_line(fd, line, sizeof line, deadline) > 0)
		if (strstr(line, "--stamp-price"))
			found = 1;
	close(fd);
	e2e_stop(&pid);
	unlink(log);
	return found;
}

/* /proc/<pid>/status nonvoluntary_ctxt_switches (its main thread). */
static uint64_t e2e_proc_preempt(pid_t pid)
{
	char path[64], line[128];
	uint64_t n = 0;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, "nonvoluntary_ctxt_switches:", 27))
			n = strtoull(line + 27, NULL, 10);
	if (f)
		fclose(f);
	return n;
}

/* The machine's total and steal CPU ticks (/proc/stat). */
static void e2e_cpu_ticks(uint64_t *total, uint64_t *steal)
{
	unsigned long long v[8] = {0};
	FILE *f = fopen("/proc/stat", "r");

	*total = *steal = 0;
	if (f && fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
			&v[3], &v[4], &v[5], &v[6], &v[7]) == 8) {
		for (int i = 0; i < 8; i++)
			*total += v[i];
		*steal = v[7];
	}
	if (f)
		fclose(f);
}

/* Our involuntary context switches, and CPU time used in ns. */
static uint64_t e2e_self_preempt(int64_t *cpu_ns)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	*cpu_ns = ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
		  ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
	return (uint64_t)ru.ru_nivcsw;
}

/* ---- latency figures ------------------------------------------------------ */

static int e2e_cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v[0..n). */
static double e2e_pct(const int64_t *v, uint64_t n, double q)
{
	uint64_t k = (uint64_t)(q * (double)n + 0.999999);

	return (double)v[k ? k - 1 : 0];
}

static void e2e_summarize(struct e2e_lat *l, int64_t *v, uint64_t n)
{
	memset(l, 0, sizeof *l);
	if (!n)
		return;
	qsort(v, n, sizeof *v, e2e_cmp_i64);
	l->n = n;
	for (uint64_t i = 0; i < n && v[i] < 0; i++)
		l->negative++;
	l->p50 = e2e_pct(v, n, 0.50);
	l->p99 = e2e_pct(v, n, 0.99);
	l->p999 = e2e_pct(v, n, 0.999);
	l->max = (double)v[n - 1];
}

/* Session autogroups (CONFIG_SCHED_AUTOGROUP): the scheduler first shares a
 * CPU between sessions, then within each by nice, so a nice -20 reader still
 * gets only its session's share against a busy session next door. The
 * group's own nice is in /proc/self/autogroup ("/autogroup-N nice K"). */
static int e2e_autogroup_saved = INT_MIN;

static int e2e_autogroup_get(void)
{
	char line[128];
	FILE *f = fopen("/proc/sys/kernel/sched_autogroup_enabled", "r");
	int on = f && fgets(line, sizeof line, f) && atoi(line) == 1;

	if (f)
		fclose(f);
	if (!on || !(f = fopen("/proc/self/autogroup", "r")))
		return INT_MIN;
	char *nice = fgets(line, sizeof line, f) ? strstr(line, " nice ") : NULL;

	fclose(f);
	return nice ? atoi(nice + 6) : INT_MIN;
}

/* Give the benchmark a session, so an autogroup, of its own, whose nice it
 * may raise without touching its caller's session. Fork: the child goes on
 * in a new session; the parent stays in the caller's process group, so the
 * terminal's Ctrl-C still reaches it, passes SIGINT/SIGTERM on, waits and
 * exits with the child's status. Returns 1 in our own session, 0 if none. */
static pid_t e2e_session_child;

static void e2e_forward(int sig)
{
	if (e2e_session_child > 0)
		kill(e2e_session_child, sig);
}

static int e2e_own_session(void)
{
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0)
		return 0;
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM); /* the caller gave up on us */
		if (getppid() != parent)
			_exit(1);
		return setsid() >= 0;
	}
	struct sigaction sa;
	int st;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = e2e_forward;
	e2e_session_child = pid;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			_exit(1);
	_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
}

static void e2e_autogroup_set(int nice)
{
	FILE *f = fopen("/proc/self/autogroup", "w");

	if (f) {
		fprintf(f, "%d", nice);
		if (fclose(f) != 0)
			fprintf(stderr, "bench-e2e: autogroup nice %d: %s\n", nice,
				strerror(errno));
	}
}

static void e2e_autogroup_nice(const struct e2e_env *env, int nice)
{
	if (env->autogroup != INT_MIN)
		e2e_autogroup_set(nice);
}

/* At exit (normal, error or after SIGINT/SIGTERM): the session as it was. */
static void e2e_autogroup_restore(void)
{
	if (e2e_autogroup_saved != INT_MIN)
		e2e_autogroup_set(e2e_autogroup_saved);
}

/* ---- one run ---------------------------------------------------------------- */

/* Start exsim at run->rate and return its port, or -1 with run->err set. */
static int e2e_start_exsim(struct e2e_env *env, const struct e2e_opts *o, struct e2e_run *run,
			   int *out_fd)
{
	char exe[PATH_MAX + 8], rate[32], line[256];
	char *argv[24];
	int n = 0;

	snprintf(exe, sizeof exe, "%s/exsim", env->build);
	snprintf(rate, sizeof rate, "%.0f", run->rate > 0 ? run->rate : 100000);
	argv[n++] = exe;
	argv[n++] = (char *)"--host";
	argv[n++] = (char *)"127.0.0.1";
	argv[n++] = (char *)"--port";
	argv[n++] = (char *)"0";
	argv[n++] = (char *)"--synthetic";
	argv[n++] = (char *)"--symbols";
	argv[n++] = (char *)o->symbols;
	argv[n++] = (char *)"--rate";
	argv[n++] = rate;
	if (run->rate <= 0) {
		argv[n++] = (char *)"--speed";
		argv[n++] = (char *)"max";
	}
	if (env->have_stamp)
		argv[n++] = (char *)"--stamp-price";
	argv[n++] = (char *)"--progress";
	argv[n++] = (char *)"0";
	argv[n] = NULL;
	env->exsim = e2e_spawn(argv, run->pinned ? env->cpu_exsim : -1, 0, out_fd, env->exsim_log);
	if (env->exsim < 0) {
		snprintf(run->err, sizeof run->err, "start exsim: %s", strerror(-env->exsim));
		env->exsim = 0;
		return -1;
	}
	/* First stdout line: "exsim: listening on ws://127.0.0.1:PORT". */
	if (e2e_read_line(*out_fd, line, sizeof line, e2e_mono() + E2E_START_TIMEOUT_NS) < 0 ||
	    !strrchr(line, ':')) {
		snprintf(run->err, sizeof run->err, "exsim did not say where it listens");
		return -1;
	}
	return atoi(strrchr(line, ':') + 1);
}

static int e2e_start_engine(struct e2e_env *env, const struct e2e_opts *o, struct e2e_run *run,
			    int port)
{
	char exe[PATH_MAX + 16], feed[64], trades[24], quotes[24];
	snprintf(exe, sizeof exe, "%s/tickringd", env->build);
	snprintf(feed, sizeof feed, "binance ws://127.0.0.1:%d", port);
	snprintf(trades, sizeof trades, "%llu", (unsigned long long)o->trade_slots);
	snprintf(quotes, sizeof quotes, "%llu", (unsigned long long)o->quote_slots);
	/* Same symbols and streams as exsim serves; small rings (see README);
	 * no journal, no capture; every file in our private directory. */
	char *argv[] = {exe,
			(char *)"--instance",
			env->inst,
			(char *)"--shm-dir",
			env->dir,
			(char *)"--feed",
			feed,
			(char *)"--symbols",
			(char *)o->symbols,
			(char *)"--streams",
			(char *)"trade,bookTicker",
			(char *)"--ring-slots-trades",
			trades,
			(char *)"--ring-slots-quotes",
			quotes,
			(char *)"--ring-slots-candles",
			(char *)"1024",
			(char *)"--ring-slots-events",
			(char *)"1024",
			(char *)"--symbol-capacity",
			(char *)"16",
			(char *)"--dead-letter",
			env->dead_letter,
			(char *)"--replay-progress",
			(char *)"no",
			NULL};
	env->engine = e2e_spawn(argv, run->pinned ? env->cpu_engine : -1,
				run->prio ? E2E_NICE_CRITICAL : 0, NULL, env->engine_log);
	if (env->engine < 0) {
		snprintf(run->err, sizeof run->err, "start tickringd: %s", strerror(-env->engine));
		env->engine = 0;
		return -1;
	}
	return 0;
}

/* Open the engine's region once it runs. */
static struct tr_region *e2e_open_region(struct e2e_env *env, struct e2e_run *run)
{
	struct tr_region *r = NULL;
	int64_t deadline = e2e_mono() + E2E_START_TIMEOUT_NS;

	while (tr_region_open(&r, env->region, 0) < 0) {
		if (e2e_exited(&env->engine)) {
			snprintf(run->err, sizeof run->err, "tickringd exited at start");
			return NULL;
		}
		if (e2e_mono() > deadline || e2e_stop_signal) {
			snprintf(run->err, sizeof run->err, "region never came up: %s",
				 tr_errmsg());
			return NULL;
		}
		usleep(10000);
	}
	return r;
}

/* Per-symbol trade-id continuity. */
static void e2e_check_id(struct e2e_run *run, uint64_t *last, const struct tr_trade *t)
{
	uint64_t *l = &last[t->symbol_id < E2E_MAX_SYMBOLS ? t->symbol_id : 0];

	if (t->flags & TR_TRADE_GAP)
		run->gap_flags++;
	if (*l && t->trade_id != *l + 1) {
		if (t->trade_id <= *l)
			run->id_dups++;
		else
			run->id_gaps += t->trade_id - *l - 1;
	}
	if (t->trade_id > *l)
		*l = t->trade_id;
}

/* Spin on the trade ring: wait for the first trade, drop warmup_s of them,
 * sample for secs. Returns 0, or -1 with run->err set. */
static int e2e_read(struct e2e_env *env, struct tr_region *r, struct e2e_run *run,
		    struct e2e_buf *b, uint64_t *k)
{
	struct tr_cursor c;
	struct tr_trade t;
	uint64_t last[E2E_MAX_SYMBOLS] = {0}, frames0 = 0;
	int64_t deadline = e2e_mono() + E2E_START_TIMEOUT_NS, t_meas = 0, t_end = 0, check = 0;
	enum { WAIT_FIRST, WARMUP, MEASURE } state = WAIT_FIRST;

	*k = 0;
	if (tr_cursor_init(&c, r, TR_KIND_TRADE, TR_JOIN_TAIL, 0) < 0) {
		snprintf(run->err, sizeof run->err, "cursor: %s", tr_errmsg());
		return -1;
	}
	for (uint64_t spin = 0;; spin++) {
		int rc = tr_poll(&c, &t);

		if (rc == TR_POLL_RECORD) {
			/* The record is ours: stamp before anything else. */
			int64_t now = e2e_clock(CLOCK_REALTIME);

			if (state == MEASURE) {
				if (*k < b->cap) {
					b->eng[*k] = now - t.ts_recv;
					b->exs[*k] = now - t.price;
					++*k;
				} else {
					run->overflow++;
				}
				run->trades++;
			} else if (state == WAIT_FIRST) {
				/* A stamped price is within a minute of the receive time. */
				int64_t d = t.ts_recv - t.price;
				run->stamped =
				    env->have_stamp && d > -60000000000ll && d < 60000000000ll;
				state = WARMUP;
				t_meas = e2e_mono() + (int64_t)(run->warmup_s * 1e9);
				check = 0;
			}
			e2e_check_id(run, last, &t);
		} else if (rc == TR_POLL_EMPTY) {
			tr_cpu_relax(); /* what TR_WAIT_SPIN does between polls */
		} else if (rc == TR_POLL_EPOCH) {
			snprintf(run->err, sizeof run->err, "the engine restarted (new epoch)");
			return -1;
		}
		/* TR_POLL_LAPPED: the cursor counted the loss and moved on. */
		if (spin & 1023)
			continue;
		int64_t now = e2e_mono();
		if (e2e_stop_signal) {
			snprintf(run->err, sizeof run->err, "interrupted");
			return -1;
		}
		if (state == WAIT_FIRST && now > deadline) {
			snprintf(run->err, sizeof run->err, "no trade within %lld s",
				 E2E_START_TIMEOUT_NS / 1000000000);
			return -1;
		}
		if (state == WARMUP && now >= t_meas) {
			state = MEASURE;
			frames0 = tr_region_counter(r, TR_CTR_FRAMES_IN);
			t_meas = now;
			t_end = now + (int64_t)(run->secs * 1e9);
		}
		if (state == MEASURE && now >= t_end) {
			uint64_t frames = tr_region_counter(r, TR_CTR_FRAMES_IN) - frames0;
			run->fps = (double)frames / ((double)(now - t_meas) / 1e9);
			break;
		}
		if (now >= check) { /* a child that died ends the run */
			check = now + 100000000;
			if (e2e_exited(&env->engine) || e2e_exited(&env->exsim)) {
				snprintf(run->err, sizeof run->err, "%s exited during the run",
					 env->engine ? "exsim" : "tickringd");
				return -1;
			}
		}
	}
	run->lapped = c.lapped_records;
	run->lap_events = c.lap_events;
	return 0;
}

/* Remove every file of our private directory (region, control file, dead
 * letters, logs). */
static void e2e_clean_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[512];

	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
			unlink(path);
		}
	if (d)
		closedir(d);
}

/* One run from start to cleanup. Returns 0, or -1 with run->err set. */
static int e2e_run(struct e2e_env *env, const struct e2e_opts *o, struct e2e_run *run,
		   struct e2e_buf *b, int idx)
{
	struct tr_region *r = NULL;
	uint64_t k = 0, tot0, steal0, tot1, steal1;
	int64_t cpu0, cpu1, wall0 = e2e_mono();
	uint64_t pre0 = e2e_self_preempt(&cpu0);
	int fd = -1, rc = -1;

	/* The reader: pinned to its CPU or free on all of ours; nice -20 or 0. */
	if (run->pinned)
		bu_pin("bench-e2e", env->cpu_reader);
	else if (sched_setaffinity(0, sizeof env->allowed, &env->allowed) < 0)
		fprintf(stderr, "bench-e2e: unpin: %s\n", strerror(errno));
	if (env->can_prio) {
		setpriority(PRIO_PROCESS, 0, run->prio ? E2E_NICE_CRITICAL : 0);
		e2e_autogroup_nice(env, run->prio ? E2E_NICE_CRITICAL : env->autogroup);
	}
	if (env->can_rt && e2e_fifo(run->prio == E2E_PRIO_RT ? E2E_FIFO_READER : 0) < 0)
		fprintf(stderr, "bench-e2e: reader scheduling: %s\n", strerror(errno));
	e2e_cpu_ticks(&tot0, &steal0);
	snprintf(env->inst, sizeof env->inst, "e2e-%d-%d", (int)getpid(), idx);
	snprintf(env->region, sizeof env->region, "%s/tickring.%s", env->dir, env->inst);
	snprintf(env->exsim_log, sizeof env->exsim_log, "%s/exsim-%d.log", env->dir, idx);
	snprintf(env->engine_log, sizeof env->engine_log, "%s/tickringd-%d.log", env->dir, idx);
	snprintf(env->dead_letter, sizeof env->dead_letter, "%s/dead-letter-%d", env->dir, idx);

	int port = e2e_start_exsim(env, o, run, &fd);
	if (port <= 0) {
		if (!run->err[0])
			snprintf(run->err, sizeof run->err, "exsim gave no port");
		goto out;
	}
	if (e2e_start_engine(env, o, run, port) < 0)
		goto out;
	if (!(r = e2e_open_region(env, run)))
		goto out;
	if (e2e_read(env, r, run, b, &k) < 0)
		goto out;
	/* Counters before stopping anything: the engine counts its own
	 * shutdown as a disconnect. */
	run->ctr_gaps = tr_region_counter(r, TR_CTR_TRADE_GAPS);
	run->ctr_dups = tr_region_counter(r, TR_CTR_DUP_TRADES);
	run->ctr_reconnects = tr_region_counter(r, TR_CTR_RECONNECTS);
	for (unsigned i = TR_CTR_BAD_JSON; i <= TR_CTR_UNKNOWN_SYMBOL; i++)
		run->ctr_bad += tr_region_counter(r, i);
	run->engine_preempt = e2e_proc_preempt(env->engine);
	rc = 0;
out:
	run->reader_preempt = e2e_self_preempt(&cpu1) - pre0;
	run->reader_cpu = (double)(cpu1 - cpu0) / (double)(e2e_mono() - wall0);
	e2e_cpu_ticks(&tot1, &steal1);
	run->steal = tot1 > tot0 ? (double)(steal1 - steal0) / (double)(tot1 - tot0) : 0;
	e2e_stop(&env->engine); /* first: exsim then sees a clean close */
	e2e_stop(&env->exsim);
	if (fd >= 0)
		close(fd);
	if (r)
		tr_region_close(r);
	run->slow_consumer = e2e_log_count(env->exsim_log, "slow consumer");
	if (rc < 0) {
		fprintf(stderr, "bench-e2e: %s: %s\n", run->label, run->err);
		e2e_log_tail(env->exsim_log);
		e2e_log_tail(env->engine_log);
	}
	tr_writer_unlink(env->dir, env->inst);
	e2e_clean_dir(env->dir);
	e2e_summarize(&run->eng, b->eng, k);
	if (run->stamped)
		e2e_summarize(&run->exs, b->exs, k);
	return rc;
}

/* Nothing lost anywhere, and the run completed. */
static int e2e_lossless(const struct e2e_run *r)
{
	return !r->err[0] && !r->id_gaps && !r->id_dups && !r->gap_flags && !r->ctr_gaps &&
	       !r->ctr_dups && !r->ctr_reconnects && !r->ctr_bad && !r->lapped && !r->slow_consumer;
}

/* ---- machine and output ------------------------------------------------------ */

/* Other tasks wanting a CPU right now: procs_running over 20 ms, minus us. */
static double e2e_others_running(void)
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

/* What was lost, in a few words ("none" when nothing). */
static const char *e2e_loss(const struct e2e_run *r, char *buf, size_t n)
{
	size_t k = 0;

	buf[0] = 0;
#define E2E_LOSS(cond, ...)                                                                        \
	do {                                                                                       \
		if ((cond) && k < n)                                                               \
			k += (size_t)snprintf(buf + k, n - k, __VA_ARGS__);                        \
	} while (0)
	E2E_LOSS(r->err[0], "failed ");
	E2E_LOSS(r->id_gaps, "%llu ids missing ", (unsigned long long)r->id_gaps);
	E2E_LOSS(r->id_dups, "%llu dup ids ", (unsigned long long)r->id_dups);
	E2E_LOSS(r->ctr_gaps || r->gap_flags, "%llu gap events ", (unsigned long long)r->ctr_gaps);
	E2E_LOSS(r->ctr_dups, "%llu engine dups ", (unsigned long long)r->ctr_dups);
	E2E_LOSS(r->ctr_reconnects, "%llu reconnects ", (unsigned long long)r->ctr_reconnects);
	E2E_LOSS(r->ctr_bad, "%llu bad frames ", (unsigned long long)r->ctr_bad);
	E2E_LOSS(r->lapped, "%llu lapped ", (unsigned long long)r->lapped);
	E2E_LOSS(r->slow_consumer, "slow consumer ");
#undef E2E_LOSS
	if (!buf[0])
		snprintf(buf, n, "none");
	else if (k && k < n)
		buf[k - 1] = 0;
	return buf;
}

static void e2e_lat_row(const char *rate, const char *path, const struct e2e_lat *l,
			const struct e2e_run *r)
{
	char pre[48];

	snprintf(pre, sizeof pre, "%llu/%llu", (unsigned long long)r->engine_preempt,
		 (unsigned long long)r->reader_preempt);
	printf("  %-10s %-18s %8.0f %8.0f %9.0f %10.0f %8llu %9.0f %9s %5.0f%% %5.1f%%", rate, path,
	       l->p50, l->p99, l->p999, l->max, (unsigned long long)l->n, r->fps, pre,
	       r->reader_cpu * 100, r->steal * 100);
	if (l->negative)
		printf("  (%llu negative)", (unsigned long long)l->negative);
	printf("\n");
}

static void e2e_lat_metrics(const char *prefix, const char *infix, const struct e2e_lat *l)
{
	static const char *q[] = {"p50", "p99", "p999", "max"};
	double v[] = {l->p50, l->p99, l->p999, l->max};
	char name[48];

	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof name, "%s%s%s_ns", prefix, infix, q[i]);
		e2e_metric(name, v[i]);
	}
	snprintf(name, sizeof name, "%s%ssamples", prefix, infix);
	e2e_metric(name, (double)l->n);
}

/* ---- options ------------------------------------------------------------------- */

static void e2e_usage(FILE *f)
{
	fprintf(f,
		"usage: bench-e2e [options]\n"
		"End-to-end latency and zero-loss frame rate, exsim -> tickringd -> reader.\n"
		"Runs $BUILD/exsim and $BUILD/tickringd (BUILD: this program's directory).\n"
		"  --quick               short runs (well under a minute in all)\n"
		"  --secs S              measured seconds per latency run (default 5)\n"
		"  --warmup S            warm-up seconds per latency run (default 1)\n"
		"  --ramp R1,R2,...      offered frames/s of the zero-loss ramp\n"
		"                        (default 50000,100000,150000,200000,300000,400000,\n"
		"                        800000; --quick 150000,200000,300000); it stops after\n"
		"                        two steps in a row that lose or fall behind\n"
		"  --ramp-secs S         measured seconds per ramp step (default 2)\n"
		"  --symbols A,B,...     synthetic symbols (default BTCUSDT,ETHUSDT; at most %d)\n"
		"  --trade-slots N       engine trade ring slots (default 65536)\n"
		"  --quote-slots N       engine quote ring slots (default 65536)\n"
		"  --cpus E,R            tickringd on CPU E, the reader on CPU R (default: the\n"
		"                        first two CPUs this process may use)\n"
		"  --exsim-cpu engine|reader  whose CPU exsim shares (default engine)\n"
		"  --pin yes|no          pin tickringd, exsim and the reader as above (default\n"
		"                        yes); no: the scheduler places them\n"
		"  --priority nice|rt|no nice (default; yes is the same): tickringd and the\n"
		"                        reader at nice %d, and with session autogroups our\n"
		"                        group too; rt: the same, and the reader SCHED_FIFO %d;\n"
		"                        each needs CAP_SYS_NICE, else the next best\n"
		"  --compare yes|no      also measure 100 k frames/s with the other pinning and\n"
		"                        priority choices (default yes)\n"
		"  --json PATH           write the results as JSON to PATH\n"
		"  --results-dir DIR     same as --json DIR/e2e.json\n"
		"  --help\n"
		"The target (p99 engine receive -> reader < 5 us at 100 k frames/s) is\n"
		"informational. Exit 1 if a latency run failed or lost a trade at 10 k or\n"
		"100 k frames/s, 2 on bad options.\n",
		E2E_MAX_SYMBOLS, E2E_NICE_CRITICAL, E2E_FIFO_READER);
}

static double e2e_num(const char *opt, const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v > 0)) {
		fprintf(stderr, "bench-e2e: %s expects a positive number\n", opt);
		exit(2);
	}
	return v;
}

static int e2e_yes(const char *opt, const char *s)
{
	if (strcmp(s, "yes") && strcmp(s, "no")) {
		fprintf(stderr, "bench-e2e: %s is yes or no\n", opt);
		exit(2);
	}
	return !strcmp(s, "yes");
}

static int e2e_pow2(uint64_t v)
{
	return v >= 16 && !(v & (v - 1));
}

static void e2e_parse(int argc, char **argv, struct e2e_opts *o, char *json, size_t n)
{
	enum {
		O_QUICK = 256,
		O_SECS,
		O_WARMUP,
		O_RAMP,
		O_RAMP_SECS,
		O_SYMBOLS,
		O_TSLOTS,
		O_QSLOTS,
		O_CPUS,
		O_EXSIM_CPU,
		O_PIN,
		O_PRIO,
		O_COMPARE,
		O_JSON,
		O_DIR,
		O_HELP
	};
	static const struct option lo[] = {
	    {"quick", no_argument, NULL, O_QUICK},
	    {"secs", required_argument, NULL, O_SECS},
	    {"warmup", required_argument, NULL, O_WARMUP},
	    {"ramp", required_argument, NULL, O_RAMP},
	    {"ramp-secs", required_argument, NULL, O_RAMP_SECS},
	    {"symbols", required_argument, NULL, O_SYMBOLS},
	    {"trade-slots", required_argument, NULL, O_TSLOTS},
	    {"quote-slots", required_argument, NULL, O_QSLOTS},
	    {"cpus", required_argument, NULL, O_CPUS},
	    {"exsim-cpu", required_argument, NULL, O_EXSIM_CPU},
	    {"pin", required_argument, NULL, O_PIN},
	    {"priority", required_argument, NULL, O_PRIO},
	    {"compare", required_argument, NULL, O_COMPARE},
	    {"json", required_argument, NULL, O_JSON},
	    {"results-dir", required_argument, NULL, O_DIR},
	    {"help", no_argument, NULL, O_HELP},
	    {NULL, 0, NULL, 0},
	};
	static const double ramp[] = {50000, 100000, 150000, 200000, 300000, 400000, 800000};
	int c;

	*o = (struct e2e_opts){
	    .warmup_s = 1,
	    .secs = 5,
	    .step_warmup_s = 0.5,
	    .step_s = 2,
	    .trade_slots = 65536,
	    .quote_slots = 65536,
	    .symbols = "BTCUSDT,ETHUSDT",
	    .cpu = {-1, -1},
	    .pin = 1,
	    .prio = E2E_PRIO_NICE,
	    .compare = 1,
	};
	o->nramp = (int)(sizeof ramp / sizeof ramp[0]);
	memcpy(o->ramp, ramp, sizeof ramp);
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case O_QUICK: /* options after --quick still win */
			o->warmup_s = 0.5;
			o->secs = 1.5;
			o->step_warmup_s = 0.3;
			o->step_s = 1;
			o->nramp = 3;
			o->ramp[0] = 150000;
			o->ramp[1] = 200000;
			o->ramp[2] = 300000;
			break;
		case O_SECS:
			o->secs = e2e_num("--secs", optarg);
			break;
		case O_WARMUP:
			o->warmup_s = e2e_num("--warmup", optarg);
			break;
		case O_RAMP: {
			char *s = optarg, *end;
			o->nramp = 0;
			while (*s && o->nramp < E2E_MAX_STEPS) {
				double v = strtod(s, &end);
				if (end == s || !(v > 0) || (*end && *end != ',')) {
					fprintf(stderr,
						"bench-e2e: --ramp expects rates, R1,R2,...\n");
					exit(2);
				}
				o->ramp[o->nramp++] = v;
				s = *end ? end + 1 : end;
			}
			break;
		}
		case O_RAMP_SECS:
			o->step_s = e2e_num("--ramp-secs", optarg);
			break;
		case O_SYMBOLS:
			o->symbols = optarg;
			break;
		case O_TSLOTS:
			o->trade_slots = (uint64_t)e2e_num("--trade-slots", optarg);
			break;
		case O_QSLOTS:
			o->quote_slots = (uint64_t)e2e_num("--quote-slots", optarg);
			break;
		case O_CPUS:
			if (sscanf(optarg, "%d,%d", &o->cpu[0], &o->cpu[1]) != 2 || o->cpu[0] < 0 ||
			    o->cpu[1] < 0) {
				fprintf(stderr, "bench-e2e: --cpus expects two CPU numbers, E,R\n");
				exit(2);
			}
			break;
		case O_EXSIM_CPU:
			if (strcmp(optarg, "engine") && strcmp(optarg, "reader")) {
				fprintf(stderr, "bench-e2e: --exsim-cpu is engine or reader\n");
				exit(2);
			}
			o->exsim_with_reader = !strcmp(optarg, "reader");
			break;
		case O_PIN:
			o->pin = e2e_yes("--pin", optarg);
			break;
		case O_PRIO:
			if (!strcmp(optarg, "rt"))
				o->prio = E2E_PRIO_RT;
			else if (!strcmp(optarg, "nice") || !strcmp(optarg, "yes"))
				o->prio = E2E_PRIO_NICE;
			else if (!strcmp(optarg, "no"))
				o->prio = E2E_PRIO_PLAIN;
			else {
				fprintf(stderr, "bench-e2e: --priority is rt, nice or no\n");
				exit(2);
			}
			break;
		case O_COMPARE:
			o->compare = e2e_yes("--compare", optarg);
			break;
		case O_JSON:
			snprintf(json, n, "%s", optarg);
			break;
		case O_DIR:
			snprintf(json, n, "%s/e2e.json", optarg);
			break;
		case 'h':
		case O_HELP:
			e2e_usage(stdout);
			exit(0);
		default:
			e2e_usage(stderr);
			exit(2);
		}
	}
	if (optind < argc) {
		e2e_usage(stderr);
		exit(2);
	}
	int nsym = 1;
	for (const char *s = o->symbols; *s; s++)
		nsym += *s == ',';
	if (nsym > E2E_MAX_SYMBOLS ||
	    strspn(o->symbols, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789,") != strlen(o->symbols)) {
		fprintf(stderr, "bench-e2e: --symbols: at most %d upper-case symbols\n",
			E2E_MAX_SYMBOLS);
		exit(2);
	}
	if (!e2e_pow2(o->trade_slots) || !e2e_pow2(o->quote_slots)) {
		fprintf(stderr, "bench-e2e: ring slots must be powers of two, at least 16\n");
		exit(2);
	}
	o->json = json[0] ? json : NULL;
}

static void e2e_on_signal(int sig)
{
	(void)sig;
	e2e_stop_signal = 1; /* every wait loop checks it; cleanup runs as usual */
}

/* The directory of this executable: exsim and tickringd are its siblings. */
static void e2e_build_dir(char *out, size_t n)
{
	char self[PATH_MAX];
	ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);

	if (k <= 0)
		e2e_die("/proc/self/exe", strerror(errno));
	self[k] = 0;
	char *slash = strrchr(self, '/');
	if (slash)
		*slash = 0;
	snprintf(out, n, "%s", self);
}

int main(int argc, char **argv)
{
	struct e2e_opts o;
	struct bu_machine m;
	struct e2e_env env;
	struct e2e_buf b;
	char json[512] = "", path[PATH_MAX + 16];
	int cpu[2], rc = 0;

	e2e_parse(argc, argv, &o, json, sizeof json);
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	memset(&env, 0, sizeof env);
	e2e_build_dir(env.build, sizeof env.build);
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof path, "%s/%s", env.build, i ? "tickringd" : "exsim");
		if (access(path, X_OK) < 0)
			e2e_die(path, "not built (make)");
	}
	bu_machine(&m);
	bu_cpus(cpu);
	if (o.cpu[0] >= 0) {
		cpu[0] = o.cpu[0];
		cpu[1] = o.cpu[1];
	}
	env.cpu_engine = cpu[0];
	env.cpu_reader = cpu[1];
	env.cpu_exsim = o.exsim_with_reader ? cpu[1] : cpu[0];
	if (sched_getaffinity(0, sizeof env.allowed, &env.allowed) < 0)
		e2e_die("sched_getaffinity", strerror(errno));
	/* Raising priority needs CAP_SYS_NICE; without it every run is plain. */
	env.can_prio = setpriority(PRIO_PROCESS, 0, E2E_NICE_CRITICAL) == 0;
	setpriority(PRIO_PROCESS, 0, 0);
	env.can_rt = e2e_fifo(E2E_FIFO_READER) == 0;
	e2e_fifo(0);
	/* Our own autogroup to raise, never the caller's session's. */
	env.autogroup = INT_MIN;
	if (o.prio && env.can_prio && e2e_autogroup_get() != INT_MIN && e2e_own_session()) {
		env.autogroup = e2e_autogroup_get();
		e2e_autogroup_saved = env.autogroup;
		atexit(e2e_autogroup_restore);
	}
	int prio = o.prio == E2E_PRIO_RT && !env.can_rt ? E2E_PRIO_NICE : o.prio;
	if (prio && !env.can_prio)
		prio = E2E_PRIO_PLAIN;

	snprintf(env.dir, sizeof env.dir, "/dev/shm/bench-e2e-XXXXXX");
	if (!mkdtemp(env.dir))
		e2e_die("mkdtemp /dev/shm/bench-e2e-XXXXXX", strerror(errno));
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = e2e_on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	env.have_stamp = e2e_exsim_has_stamp(&env);

	/* Samples: trades are 30 % of frames; room for 1 M frames/s. */
	double longest = o.secs > o.step_s ? o.secs : o.step_s;
	b.cap = (uint64_t)(longest * 300000.0 * 1.5) + 100000;
	b.eng = malloc(b.cap * sizeof *b.eng);
	b.exs = malloc(b.cap * sizeof *b.exs);
	if (!b.eng || !b.exs)
		e2e_die("samples", "out of memory");
	memset(b.eng, 0, b.cap * sizeof *b.eng); /* fault the pages in now */
	memset(b.exs, 0, b.cap * sizeof *b.exs);

	printf("tickring end-to-end benchmark: exsim -> tickringd -> libtickring reader\n");
	printf("  cpu       %s, %ld cores online\n", m.cpu, m.cores);
	printf("  kernel    %s\n", m.kernel);
	if (o.pin)
		printf(
		    "  pinning   tickringd cpu %d, reader cpu %d (spinning on tr_poll), exsim cpu "
		    "%d (with %s)%s\n",
		    env.cpu_engine, env.cpu_reader, env.cpu_exsim,
		    o.exsim_with_reader ? "the reader" : "tickringd",
		    env.cpu_engine == env.cpu_reader ? "; one CPU only: figures are not meaningful"
						     : "");
	else
		printf("  pinning   none (--pin no): the scheduler places tickringd, exsim and the "
		       "reader (spinning on tr_poll)\n");
	if (prio == E2E_PRIO_RT)
		printf("  priority  the reader SCHED_FIFO %d; tickringd nice %d\n", E2E_FIFO_READER,
		       E2E_NICE_CRITICAL);
	else if (prio)
		printf("  priority  tickringd and the reader nice %d%s%s\n", E2E_NICE_CRITICAL,
		       env.autogroup != INT_MIN ? ", and our session's autogroup nice -20" : "",
		       o.prio == E2E_PRIO_RT ? " (SCHED_FIFO refused: --priority rt cannot apply)"
					     : "");
	else
		printf("  priority  all at nice 0%s\n",
		       o.prio ? " (no CAP_SYS_NICE: --priority cannot apply)" : " (--priority no)");
	printf("  engine    %s/tickringd, rings trades %llu, quotes %llu, candles/events 1024; "
	       "streams trade,bookTicker\n",
	       env.build, (unsigned long long)o.trade_slots, (unsigned long long)o.quote_slots);
	printf("  exsim     --synthetic --symbols %s (30 %% trades, 70 %% bookTicker), %s\n",
	       o.symbols,
	       env.have_stamp ? "--stamp-price" : "no --stamp-price: exsim -> reader not measured");
	printf("  runs      latency %.1f s after %.1f s warm-up; ramp steps %.1f s after %.1f s\n",
	       o.secs, o.warmup_s, o.step_s, o.step_warmup_s);
	double others = e2e_others_running();
	printf("  load      %.1f other runnable tasks at start%s\n\n", others,
	       others >= 0.5 ? ": the machine is busy, figures will be noisy" : "");

	/* Latency: 10 k and 100 k frames/s paced, then exsim flat out. */
	struct e2e_run lat[3] = {
	    {.label = "10k/s", .rate = 10000},
	    {.label = "100k/s", .rate = 100000},
	    {.label = "max", .rate = 0},
	};
	int idx = 0;
	for (int i = 0; i < 3 && !e2e_stop_signal; i++) {
		lat[i].warmup_s = o.warmup_s;
		lat[i].secs = o.secs;
		lat[i].pinned = o.pin;
		lat[i].prio = prio;
		e2e_run(&env, &o, &lat[i], &b, idx++);
	}
	/* Ramp: paced rates, fresh processes each, until two steps in a row fail. */
	struct e2e_run step[E2E_MAX_STEPS];
	char labels[E2E_MAX_STEPS][16];
	int nstep = 0, fails = 0;
	memset(step, 0, sizeof step);
	for (int i = 0; i < o.nramp && fails < 2 && !e2e_stop_signal; i++) {
		snprintf(labels[i], sizeof labels[i], "%.0fk/s", o.ramp[i] / 1000);
		step[i] = (struct e2e_run){.label = labels[i],
					   .rate = o.ramp[i],
					   .warmup_s = o.step_warmup_s,
					   .secs = o.step_s,
					   .pinned = o.pin,
					   .prio = prio};
		e2e_run(&env, &o, &step[i], &b, idx++);
		nstep++;
		fails =
		    e2e_lossless(&step[i]) && step[i].fps >= 0.95 * step[i].rate ? 0 : fails + 1;
	}
	/* The same 100 k/s run with the other placement and priority choices,
	 * to show what each is worth on this machine, now. */
	static const struct {
		const char *name;
		int pin, prio;
	} cmp_set[] = {
	    {"pinned_nice", 1, E2E_PRIO_NICE},	   {"pinned_rt", 1, E2E_PRIO_RT},
	    {"pinned_plain", 1, E2E_PRIO_PLAIN},   {"unpinned_nice", 0, E2E_PRIO_NICE},
	    {"unpinned_plain", 0, E2E_PRIO_PLAIN},
	};
	enum { NCMP = sizeof cmp_set / sizeof cmp_set[0] };
	struct e2e_run cmp[NCMP];
	int cmp_cfg[NCMP], ncmp = 0;
	memset(cmp, 0, sizeof cmp);
	for (int cfg = 0; cfg < NCMP && o.compare && !e2e_stop_signal; cfg++) {
		int pin = cmp_set[cfg].pin, pr = cmp_set[cfg].prio;

		if ((pin == o.pin && pr == prio) || (pr == E2E_PRIO_RT && !env.can_rt) ||
		    (pr && !env.can_prio))
			continue;
		cmp[ncmp] = (struct e2e_run){.label = cmp_set[cfg].name,
					     .rate = 100000,
					     .warmup_s = o.warmup_s,
					     .secs = o.secs,
					     .pinned = pin,
					     .prio = pr};
		cmp_cfg[ncmp] = cfg;
		e2e_run(&env, &o, &cmp[ncmp++], &b, idx++);
	}
	if (env.can_rt)
		e2e_fifo(0); /* the summary needs no CPU of its own */
	rmdir(env.dir);
	free(b.eng);
	free(b.exs);

	printf("latency, ns: engine = ts_recv (first fragment) -> reader; exsim = frame made "
	       "-> reader\n");
	printf("  %-10s %-18s %8s %8s %9s %10s %8s %9s %9s %6s %6s\n", "rate", "path", "p50", "p99",
	       "p99.9", "max", "samples", "frames/s", "preempt", "rd cpu", "steal");
	for (int i = 0; i < 3; i++) {
		if (lat[i].err[0] || !lat[i].eng.n) {
			printf("  %-10s %s: %s\n", lat[i].label,
			       lat[i].err[0] ? "failed" : "no samples",
			       lat[i].err[0] ? lat[i].err : "not run");
			continue;
		}
		e2e_lat_row(lat[i].label, "engine -> reader", &lat[i].eng, &lat[i]);
		if (lat[i].stamped)
			e2e_lat_row("", "exsim -> reader", &lat[i].exs, &lat[i]);
	}
	printf("  preempt: involuntary switches tickringd/reader during the run; rd cpu: share\n"
	       "  of the run the spinning reader had its CPU (below ~95 %%: something else ran "
	       "there)\n");

	printf("\nzero-loss frame rate (engine frames_in/s; loss: trade ids, gap/dup counters, "
	       "reconnects, laps, slow consumer)\n");
	printf("  %-10s %10s %10s %8s %8s %6s  %-8s %s\n", "offered", "frames/s", "trades",
	       "p50 ns", "p99 ns", "rd cpu", "verdict", "loss");
	double max_fps = 0, paced_max = 0;
	const char *max_from = "none";
	char loss[160];
	for (int i = -1; i < nstep; i++) {
		const struct e2e_run *r = i < 0 ? &lat[2] : &step[i];
		if (!r->err[0] && !r->fps)
			continue; /* not run (interrupted) */
		int clean = e2e_lossless(r);
		int kept_up = r->rate <= 0 || r->fps >= 0.95 * r->rate;
		const char *verdict = !clean ? "LOSS" : kept_up ? "ok" : "behind";

		printf("  %-10s %10.0f %10llu %8.0f %8.0f %5.0f%%  %-8s %s\n",
		       i < 0 ? "speed max" : r->label, r->fps, (unsigned long long)r->trades,
		       r->eng.p50, r->eng.p99, r->reader_cpu * 100, verdict,
		       e2e_loss(r, loss, sizeof loss));
		if (clean && kept_up && r->fps > max_fps) {
			max_fps = r->fps;
			max_from = i < 0 ? "exsim --speed max" : "paced ramp";
		}
		if (i >= 0 && clean && kept_up && r->fps > paced_max)
			paced_max = r->fps;
	}
	printf("  behind: no loss, but the pipeline delivered under 95 %% of the offered rate\n");
	printf("  e2e max sustained with zero loss: %.0f frames/s (%s)\n", max_fps, max_from);

	if (ncmp) {
		printf("\nplacement and priority at 100 k frames/s, engine -> reader (ns)\n");
		printf("  %-8s %-9s %8s %8s %9s %10s %8s %9s %6s\n", "pinned", "priority", "p50",
		       "p99", "p99.9", "max", "samples", "preempt", "rd cpu");
		for (int i = -1; i < ncmp; i++) {
			const struct e2e_run *r = i < 0 ? &lat[1] : &cmp[i];
			char pre[48];

			snprintf(pre, sizeof pre, "%llu/%llu",
				 (unsigned long long)r->engine_preempt,
				 (unsigned long long)r->reader_preempt);
			if (r->err[0] || !r->eng.n) {
				printf("  %-8s %-9s failed: %s\n", r->pinned ? "yes" : "no",
				       e2e_prio_name[r->prio], r->err[0] ? r->err : "no samples");
				continue;
			}
			printf("  %-8s %-9s %8.0f %8.0f %9.0f %10.0f %8llu %9s %5.0f%%%s\n",
			       r->pinned ? "yes" : "no", e2e_prio_name[r->prio], r->eng.p50,
			       r->eng.p99, r->eng.p999, r->eng.max, (unsigned long long)r->eng.n,
			       pre, r->reader_cpu * 100, i < 0 ? "  (the runs above)" : "");
		}
		printf("  priority: nice = tickringd and the reader at nice %d%s; rt = the same "
		       "and the reader SCHED_FIFO %d\n",
		       E2E_NICE_CRITICAL,
		       env.autogroup != INT_MIN ? ", our session's autogroup at nice -20" : "",
		       E2E_FIFO_READER);
	}

	const struct e2e_lat *l100 = &lat[1].eng;
	int met = !lat[1].err[0] && l100->n && l100->p99 < E2E_TARGET_P99_NS;
	printf("\ntarget (informational)\n");
	printf("  %-44s %8.0f ns  %-18s %s\n", "p99 engine receive -> reader at 100 k/s", l100->p99,
	       "target < 5000 ns",
	       lat[1].err[0] || !l100->n ? "n/a"
	       : met			 ? "PASS"
					 : "MISS");

	/* The headline figures are engine receive -> reader at 100 k/s. */
	e2e_lat_metrics("e2e_", "", &lat[1].eng);
	e2e_lat_metrics("e2e_", "10k_", &lat[0].eng);
	e2e_lat_metrics("e2e_", "maxrate_", &lat[2].eng);
	if (lat[1].stamped)
		e2e_lat_metrics("exsim_reader_", "", &lat[1].exs);
	if (lat[0].stamped)
		e2e_lat_metrics("exsim_reader_", "10k_", &lat[0].exs);
	if (lat[2].stamped)
		e2e_lat_metrics("exsim_reader_", "maxrate_", &lat[2].exs);
	e2e_metric("e2e_max_fps", max_fps);
	e2e_metric("e2e_paced_max_fps", paced_max);
	e2e_metric("e2e_speedmax_fps", lat[2].fps);
	e2e_metric("e2e_10k_fps", lat[0].fps);
	e2e_metric("e2e_100k_fps", lat[1].fps);
	e2e_metric("e2e_p99_target_met", met);
	for (int i = 0; i < 3; i++) {
		static const char *pre[] = {"e2e_10k_", "e2e_100k_", "e2e_maxrate_"};
		char name[48];

		snprintf(name, sizeof name, "%slossless", pre[i]);
		e2e_metric(name, e2e_lossless(&lat[i]));
		snprintf(name, sizeof name, "%sreader_preempted", pre[i]);
		e2e_metric(name, (double)lat[i].reader_preempt);
		snprintf(name, sizeof name, "%sengine_preempted", pre[i]);
		e2e_metric(name, (double)lat[i].engine_preempt);
		snprintf(name, sizeof name, "%sreader_cpu_pct", pre[i]);
		e2e_metric(name, lat[i].reader_cpu * 100);
		snprintf(name, sizeof name, "%ssteal_pct", pre[i]);
		e2e_metric(name, lat[i].steal * 100);
	}
	for (int i = 0; i < nstep; i++) {
		char name[48];

		snprintf(name, sizeof name, "ramp_%.0f_fps", step[i].rate);
		e2e_metric(name, step[i].fps);
		snprintf(name, sizeof name, "ramp_%.0f_lossless", step[i].rate);
		e2e_metric(name, e2e_lossless(&step[i]));
	}
	for (int i = 0; i < ncmp; i++) {
		char pre[48];

		snprintf(pre, sizeof pre, "e2e_100k_%s_", cmp_set[cmp_cfg[i]].name);
		e2e_lat_metrics(pre, "", &cmp[i].eng);
		snprintf(pre, sizeof pre, "e2e_100k_%s_reader_cpu_pct", cmp_set[cmp_cfg[i]].name);
		e2e_metric(pre, cmp[i].reader_cpu * 100);
	}
	e2e_metric("others_running_at_start", others);

	/* A failed run, or a trade lost at a rate the engine must carry, is a
	 * bug: it fails the run. Loss at the edge of the ramp is the finding. */
	for (int i = 0; i < 3; i++)
		if (lat[i].err[0] || (i < 2 && !e2e_lossless(&lat[i]))) {
			fprintf(stderr, "bench-e2e: %s: %s\n", lat[i].label,
				lat[i].err[0] ? lat[i].err : e2e_loss(&lat[i], loss, sizeof loss));
			rc = 1;
		}
	char config[1024];
	char ramp[E2E_MAX_STEPS * 12] = "";
	for (int i = 0, k = 0; i < o.nramp; i++)
		k +=
		    snprintf(ramp + k, sizeof ramp - (size_t)k, "%s%.0f", i ? ", " : "", o.ramp[i]);
	snprintf(config, sizeof config,
		 "\"engine_cpu\": %d, \"reader_cpu\": %d, \"exsim_cpu\": %d, "
		 "\"exsim_with\": \"%s\", \"symbols\": \"%s\", \"trade_slots\": %llu, "
		 "\"quote_slots\": %llu, \"secs\": %g, \"warmup_s\": %g, \"ramp\": [%s], "
		 "\"ramp_secs\": %g, \"stamp_price\": %s, \"max_fps_from\": \"%s\", "
		 "\"reader\": \"tr_poll spin\", \"pinned\": %s, \"priority\": \"%s\"",
		 env.cpu_engine, env.cpu_reader, env.cpu_exsim,
		 o.exsim_with_reader ? "reader" : "engine", o.symbols,
		 (unsigned long long)o.trade_slots, (unsigned long long)o.quote_slots, o.secs,
		 o.warmup_s, ramp, o.step_s, env.have_stamp ? "true" : "false", max_from,
		 o.pin ? "true" : "false", e2e_prio_name[prio]);
	if (o.json && !e2e_stop_signal) { /* no half-measured results */
		if (bu_write_json("bench-e2e", o.json, &m, config, e2e_metrics, e2e_nmetrics) < 0)
			rc = 1;
		else
			printf("\nresults: %s\n", o.json);
	}
	if (e2e_stop_signal)
		rc = 130;
	return rc;
}
