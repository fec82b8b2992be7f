/* mirror_kafka.c - the Kafka mirror against the development broker.
 *
 * The recorded BTCUSDT and ETHUSDT trades of ../shared/data (both days,
 * 34,419 @trade frames, cycled with fresh seqs) are published into a region
 * by the writer, and the real mirror (tr_kafka_run on a thread, as in
 * tickringd) sends them to build/kafka-dev-broker, a separate process.
 *
 *   baseline   a bare librdkafka producer in this process, same producer
 *              settings, sending the same JSON payloads, keys and headers
 *              (formatted in advance) to the same broker: what the client
 *              library and broker can take, without ring, formatting,
 *              window or checkpoint.
 *   throughput N trades already in the ring (no lap); the mirror started at
 *              the oldest; records/s from its start to the last delivery
 *              report. kafka_mirror_rps, and its ratio to the baseline;
 *              best of 3 passes each, interleaved (--quick: 1).
 *   lag        a writer thread publishes at 100 k trades/s (1 ms batches)
 *              for S seconds (sleeping between batches); each delivery report's time minus the
 * seq's publish time (CLOCK_MONOTONIC) is the mirror lag (ring publish
 *              -> broker acknowledgement). p50/p99/p99.9/max after the first
 *              10 %; the writer's achieved rate (it never waits on the mirror:
 *              the ring decouples them), the largest backlog seen, and how
 *              long the mirror took to drain after the writer stopped.
 *
 * Targets: the mirror keeps up at 100 k/s (drains within a second, never
 * lapped) and lag p99 < 50 ms. Missing a target does not fail the run; a
 * lost or undelivered record does (exit 1).
 *
 * Usage: bench-mirror_kafka [--quick] [--results-dir DIR] [--count N]
 *                           [--rate N] [--seconds S] [--set kafka.PROP=VALUE]...
 * (--set: a mirror directive for the mirror runs, to try settings.)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "bench_util.h"
#include "tr_err.h"
#include "tr_fixed.h"
#include "tr_format.h"
#include "tr_kafka.h"
#include "tr_log.h"
#include "tr_reader.h"
#include "tr_writer.h"

#define PARTITIONS "4"

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "bench-mirror_kafka: %s: %s\n", what, tr_errmsg());
	exit(1);
}

/* ---- recorded trades ---- */

static struct tr_trade *trades;
static char (*tsym)[16];
static size_t ntrades;

static void load(const char *path)
{
	static char line[1 << 20];
	gzFile f = gzopen(path, "rb");

	if (!f) {
		fprintf(stderr, "bench-mirror_kafka: %s: cannot open\n", path);
		exit(1);
	}
	while (gzgets(f, line, sizeof line)) {
		char *s = strstr(line, "\"s\":\""), *p = strstr(line, "\"p\":\""),
		     *q = strstr(line, "\"q\":\""), *t = strstr(line, "\"t\":"),
		     *T = strstr(line, "\"T\":"), *m = strstr(line, "\"m\":");
		if (!strstr(line, "@trade\"") || !s || !p || !q || !t || !T || !m)
			continue;
		trades = realloc(trades, (ntrades + 1) * sizeof *trades);
		tsym = realloc(tsym, (ntrades + 1) * sizeof *tsym);
		struct tr_trade *x = &trades[ntrades];
		memset(x, 0, sizeof *x);
		sscanf(s + 5, "%15[^\"]", tsym[ntrades]);
		if (tr_fixed_parse(p + 5, strcspn(p + 5, "\""), &x->price) ||
		    tr_fixed_parse(q + 5, strcspn(q + 5, "\""), &x->qty))
			continue;
		x->trade_id = strtoull(t + 4, NULL, 10);
		x->ts_event = strtoll(T + 4, NULL, 10) * 1000000;
		x->ts_recv = strtoll(line, NULL, 10);
		x->side = !strncmp(m + 4, "true", 4) ? TR_SIDE_SELL : TR_SIDE_BUY;
		x->trade_count = 1;
		ntrades++;
	}
	gzclose(f);
}

/* ---- the broker ---- */

static pid_t broker_pid;
static char broker_addr[192];

static void broker_stop(void)
{
	if (broker_pid > 0) {
		kill(broker_pid, SIGTERM);
		waitpid(broker_pid, NULL, 0);
		broker_pid = 0;
	}
}

static void broker_start(void)
{
	char exe[PATH_MAX], path[PATH_MAX + 32];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	int fds[2];

	if (n <= 0 || pipe(fds))
		die("broker");
	exe[n] = 0;
	*strrchr(exe, '/') = 0;
	snprintf(path, sizeof path, "%s/kafka-dev-broker", exe);
	broker_pid = fork();
	if (broker_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(fds[1], 1);
		close(fds[0]);
		execl(path, "kafka-dev-broker", "--partitions", PARTITIONS, "--prefix", "bench",
		      "--prefix", "base", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	size_t k = 0;
	while (k < sizeof broker_addr - 1) {
		struct pollfd p = {.fd = fds[0], .events = POLLIN};
		if (poll(&p, 1, 20000) != 1 || read(fds[0], broker_addr + k, 1) != 1)
			break;
		if (broker_addr[k] == '\n')
			break;
		k++;
	}
	broker_addr[k] = 0;
	close(fds[0]);
	if (strncmp(broker_addr, "127.0.0.1:", 10)) {
		fprintf(stderr, "bench-mirror_kafka: %s did not start\n", path);
		exit(1);
	}
}

static double broker_cpu_s(void)
{
	char path[64], buf[1024];
	unsigned long ut, st;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)broker_pid);
	FILE *f = fopen(path, "r");
	if (!f || !fgets(buf, sizeof buf, f)) {
		if (f)
			fclose(f);
		return 0;
	}
	fclose(f);
	char *p = strrchr(buf, ')');
	/* fields 14 and 15 (utime, stime), counted after "pid (comm)" */
	if (!p ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* ---- baseline: bare librdkafka ---- */

static uint64_t base_delivered; /* delivery reports run in rd_kafka_poll, on this thread */
static int64_t base_last;

static void base_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *op)
{
	(void)rk, (void)op;
	if (!m->err)
		base_delivered++;
	base_last = now_ns();
}

/* The mirror's producer settings (mirror/tr_kafka.c), for a fair baseline. */
static const char *const pconf[][2] = {
    {"enable.idempotence", "true"},
    {"compression.codec", "lz4"},
    {"linger.ms", "5"},
    {"batch.num.messages", "10000"},
    {"batch.size", "1048576"},
    {"queue.buffering.max.messages", "100000"},
    {"queue.buffering.max.kbytes", "65536"},
    {"message.timeout.ms", "0"},
};

static double baseline(uint64_t n)
{
	char err[512], key[64], sseq[24];
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	size_t np = ntrades < 4096 ? ntrades : 4096;
	char **json = calloc(np, sizeof *json);
	int *len = calloc(np, sizeof *len);

	base_delivered = 0;
	rd_kafka_conf_set(c, "bootstrap.servers", broker_addr, err, sizeof err);
	for (size_t i = 0; i < sizeof pconf / sizeof pconf[0]; i++)
		rd_kafka_conf_set(c, pconf[i][0], pconf[i][1], err, sizeof err);
	rd_kafka_conf_set_dr_msg_cb(c, base_dr);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
	if (!rk) {
		fprintf(stderr, "bench-mirror_kafka: %s\n", err);
		exit(1);
	}
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, "base.trades", NULL);
	for (size_t i = 0; i < np; i++) {
		char buf[TR_FORMAT_BUFSZ];
		trades[i].seq = i + 1;
		len[i] = tr_format_json(NULL, TR_KIND_TRADE, &trades[i], 1, buf, sizeof buf);
		json[i] = strdup(buf);
	}
	int64_t t0 = now_ns();
	for (uint64_t s = 1; s <= n; s++) {
		size_t i = (s - 1) % np;
		snprintf(key, sizeof key, "binance:%s", tsym[i]);
		snprintf(sseq, sizeof sseq, "%" PRIu64, s);
		for (;;) {
			rd_kafka_resp_err_t e = rd_kafka_producev(
			    rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
			    RD_KAFKA_V_KEY(key, strlen(key)),
			    RD_KAFKA_V_VALUE(json[i], (size_t)len[i]),
			    RD_KAFKA_V_HEADER("seq", sseq, -1), RD_KAFKA_V_HEADER("epoch", "1", -1),
			    RD_KAFKA_V_HEADER("schema", "tickring.trade.v1", -1), RD_KAFKA_V_END);
			if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
				break;
			rd_kafka_poll(rk, 1);
		}
		if (s % 256 == 0)
			rd_kafka_poll(rk, 0);
	}
	rd_kafka_flush(rk, 60000);
	double rps = (double)base_delivered / ((double)(base_last - t0) / 1e9);
	if (base_delivered != n) {
		fprintf(stderr,
			"bench-mirror_kafka: baseline delivered %" PRIu64 " of %" PRIu64 "\n",
			base_delivered, n);
		exit(1);
	}
	rd_kafka_topic_destroy(rkt);
	rd_kafka_destroy(rk);
	for (size_t i = 0; i < np; i++)
		free(json[i]);
	free(json);
	free(len);
	return rps;
}

/* ---- the mirror ---- */

/* --set kafka.PROP=VALUE: extra mirror directives, to try settings. */
static char props[16][2][256];
static int nprops;

static struct tr_writer *w;
static char inst[64];
static int sym_id[2];

static void open_region(uint64_t slots)
{
	struct tr_writer_config cfg;

	tr_writer_config_default(&cfg);
	snprintf(inst, sizeof inst, "bench-kafka-%d", (int)getpid());
	cfg.instance = inst;
	for (int k = 0; k < TR_NKINDS; k++)
		cfg.geometry.ring_slots[k] = k == TR_KIND_TRADE ? slots : 64;
	cfg.geometry.symbol_capacity = 16;
	tr_writer_unlink(NULL, inst);
	if (tr_writer_open(&w, &cfg) < 0)
		die("tr_writer_open");
	int v = tr_writer_venue(w, "binance");
	sym_id[0] = tr_writer_symbol(w, (unsigned)v, "BTCUSDT");
	sym_id[1] = tr_writer_symbol(w, (unsigned)v, "ETHUSDT");
}

static void close_region(void)
{
	tr_writer_close(w);
	tr_writer_unlink(NULL, inst);
}

static void publish_one(uint64_t i)
{
	struct tr_trade t = trades[i % ntrades];

	t.symbol_id = (uint32_t)sym_id[tsym[i % ntrades][0] == 'E'];
	tr_writer_publish(w, TR_KIND_TRADE, &t);
}

struct mir {
	pthread_t th;
	atomic_int stop;
	struct tr_mirror_stats st;
	struct tr_mirror_opt opt[4 + 16];
	struct tr_mirror_args a;
	struct tr_kafka_hooks h;
	char ckpt[96];
	int rc;
};

static int64_t *pub_ns; /* by seq */
static int64_t *lag_ns; /* by seq; 0: not delivered */
static int64_t last_dr; /* written by the mirror thread, read after joining it */

static void on_delivered(void *arg, unsigned kind, uint64_t seq, int err)
{
	(void)arg, (void)kind;
	int64_t t = now_ns();

	last_dr = t;
	if (!err && pub_ns && pub_ns[seq])
		lag_ns[seq] = t - pub_ns[seq];
}

static void *mir_main(void *arg)
{
	struct mir *m = arg;

	pthread_setname_np(pthread_self(), "kafka-mirror");
	m->rc = tr_kafka_run(&m->a, &m->h);
	return NULL;
}

static void mir_start(struct mir *m)
{
	memset(m, 0, sizeof *m);
	snprintf(m->ckpt, sizeof m->ckpt, "/tmp/bench-kafka-%d.checkpoint", (int)getpid());
	unlink(m->ckpt);
	m->opt[0] = (struct tr_mirror_opt){"kafka-brokers", broker_addr, "bench"};
	m->opt[1] = (struct tr_mirror_opt){"kafka-kinds", "trades", "bench"};
	m->opt[2] = (struct tr_mirror_opt){"kafka-checkpoint", m->ckpt, "bench"};
	m->opt[3] = (struct tr_mirror_opt){"kafka-topic-prefix", "bench", "bench"};
	m->h = (struct tr_kafka_hooks){.delivered = on_delivered};
	unsigned n = 4;
	for (int i = 0; i < nprops; i++)
		m->opt[n++] = (struct tr_mirror_opt){props[i][0], props[i][1], "--set"};
	m->a = (struct tr_mirror_args){
	    .instance = inst, .opts = m->opt, .nopts = n, .stop = &m->stop, .stats = &m->st};
	if (pthread_create(&m->th, NULL, mir_main, m))
		die("pthread_create");
}

#define LD(x) atomic_load_explicit(&(x), memory_order_relaxed)

/* Wait for the checkpoint watermark to reach seq; 0 or -1 on timeout. */
static int mir_wait(struct mir *m, uint64_t seq, int64_t timeout_ns)
{
	int64_t end = now_ns() + timeout_ns;

	while (LD(m->st.checkpoint[TR_KIND_TRADE]) < seq)
		if (now_ns() > end)
			return -1;
		else
			usleep(1000);
	return 0;
}

static void mir_stop(struct mir *m)
{
	/* Pairs with the mirror loop's load of the flag. */
	atomic_store(&m->stop, 1);
	pthread_join(m->th, NULL);
	unlink(m->ckpt);
	if (m->rc < 0)
		die("tr_kafka_run");
}

static double thread_cpu_s(pthread_t th)
{
	clockid_t id;
	struct timespec ts;

	if (pthread_getcpuclockid(th, &id) || clock_gettime(id, &ts))
		return 0;
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double process_cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Throughput: n trades already in the ring. Returns records/s. */
static double throughput(uint64_t n, uint64_t *lost)
{
	struct mir m;
	uint64_t slots = 64;

	while (slots < n)
		slots <<= 1;
	open_region(slots);
	for (uint64_t i = 0; i < n; i++)
		publish_one(i);
	tr_writer_commit(w);
	int64_t t0 = now_ns();
	mir_start(&m);
	if (mir_wait(&m, n, 300 * 1000000000ll) < 0) {
		fprintf(stderr, "bench-mirror_kafka: only %" PRIu64 " of %" PRIu64 " delivered\n",
			(uint64_t)LD(m.st.checkpoint[TR_KIND_TRADE]), n);
		exit(1);
	}
	mir_stop(&m);
	double rps = (double)n / ((double)(last_dr - t0) / 1e9);
	*lost = LD(m.st.lost);
	close_region();
	return rps;
}

struct lagres {
	double p50, p99, p999, max, achieved, drain_ms, mirror_cpu, proc_cpu, broker_cpu;
	uint64_t n, backlog_max, lost, journal;
	int keeps_up;
};

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static void lag(double rate, double seconds, struct lagres *r)
{
	struct mir m;
	const uint64_t warm = 2000, batch = 100;
	uint64_t total = warm + (uint64_t)(rate * seconds);

	memset(r, 0, sizeof *r);
	open_region(1u << 21);
	pub_ns = calloc(total + 1, sizeof *pub_ns);
	lag_ns = calloc(total + 1, sizeof *lag_ns);
	mir_start(&m);
	/* Warm up: connection, metadata, producer id. */
	for (uint64_t i = 0; i < warm; i++)
		publish_one(i);
	tr_writer_commit(w);
	if (mir_wait(&m, warm, 30 * 1000000000ll) < 0) {
		fprintf(stderr, "bench-mirror_kafka: warm-up never delivered\n");
		exit(1);
	}
	double c0 = thread_cpu_s(m.th), p0 = process_cpu_s(), b0 = broker_cpu_s();
	int64_t t0 = now_ns(), period = (int64_t)(1e9 * (double)batch / rate);
	uint64_t seq = warm;
	for (uint64_t b = 0; seq < total; b++) {
		int64_t due = t0 + (int64_t)b * period;
		struct timespec ts = {.tv_sec = due / 1000000000, .tv_nsec = due % 1000000000};
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		for (uint64_t i = 0; i < batch && seq < total; i++) {
			pub_ns[seq + 1] = now_ns();
			publish_one(seq++);
		}
		tr_writer_commit(w);
		uint64_t backlog = seq - LD(m.st.delivered);
		if (backlog > r->backlog_max)
			r->backlog_max = backlog;
	}
	int64_t t1 = now_ns();
	r->achieved = (double)(seq - warm) / ((double)(t1 - t0) / 1e9);
	int ok = mir_wait(&m, total, 60 * 1000000000ll) == 0;
	r->drain_ms = (double)(now_ns() - t1) / 1e6;
	double span = (double)(now_ns() - t0) / 1e9;
	r->mirror_cpu = (thread_cpu_s(m.th) - c0) / span * 100;
	r->proc_cpu = (process_cpu_s() - p0) / span * 100;
	r->broker_cpu = (broker_cpu_s() - b0) / span * 100;
	mir_stop(&m);
	r->lost = LD(m.st.lost);
	r->journal = LD(m.st.from_journal);
	/* Samples after the first 10 % of the paced run. */
	uint64_t from = warm + 1 + (total - warm) / 10, n = 0;
	int64_t *v = malloc((total + 1) * sizeof *v);
	for (uint64_t s = from; s <= total; s++)
		if (lag_ns[s])
			v[n++] = lag_ns[s];
	qsort(v, n, sizeof *v, cmp_i64);
	r->n = n;
	if (n) {
		r->p50 = (double)v[n / 2] / 1e6;
		r->p99 = (double)v[(size_t)((double)n * 0.99)] / 1e6;
		r->p999 = (double)v[(size_t)((double)n * 0.999)] / 1e6;
		r->max = (double)v[n - 1] / 1e6;
	}
	r->keeps_up = ok && r->lost == 0 && r->drain_ms < 1000 && r->achieved > rate * 0.98;
	free(v);
	free(pub_ns);
	free(lag_ns);
	pub_ns = lag_ns = NULL;
	close_region();
}

int main(int argc, char **argv)
{
	const char *dir = "bench/results";
	const char *root = getenv("TR_ROOT");
	uint64_t count = 1000000;
	double rate = 100000, seconds = 5;
	int passes = 3;
	char path[1024];

	static const struct option opts[] = {
	    {"quick", no_argument, 0, 'q'},	    {"results-dir", required_argument, 0, 'r'},
	    {"count", required_argument, 0, 'n'},   {"rate", required_argument, 0, 'R'},
	    {"seconds", required_argument, 0, 's'}, {"set", required_argument, 0, 'S'},
	    {"help", no_argument, 0, 'h'},	    {0, 0, 0, 0}};
	for (int c; (c = getopt_long(argc, argv, "qr:n:R:s:S:h", opts, NULL)) != -1;) {
		if (c == 'q') {
			count = 200000;
			seconds = 2;
			passes = 1;
		} else if (c == 'r') {
			dir = optarg;
		} else if (c == 'n') {
			count = strtoull(optarg, NULL, 10);
		} else if (c == 'R') {
			rate = atof(optarg);
		} else if (c == 's') {
			seconds = atof(optarg);
		} else if (c == 'S') {
			char *eq = strchr(optarg, '=');
			char err[256];
			if (!eq || nprops == 16) {
				fputs("bench-mirror_kafka: --set kafka.PROP=VALUE (at most 16)\n",
				      stderr);
				return 2;
			}
			snprintf(props[nprops][0], 256, "%.*s", (int)(eq - optarg), optarg);
			snprintf(props[nprops][1], 256, "%s", eq + 1);
			if (tr_mirror_kafka.check(props[nprops][0], props[nprops][1], err,
						  sizeof err)) {
				fprintf(stderr, "bench-mirror_kafka: %s: %s\n", props[nprops][0],
					err);
				return 2;
			}
			nprops++;
		} else {
			fputs("usage: bench-mirror_kafka [--quick] [--results-dir DIR] [--count N] "
			      "[--rate N] [--seconds S] [--set kafka.PROP=VALUE]...\n",
			      c == 'h' ? stdout : stderr);
			return c == 'h' ? 0 : 2;
		}
	}
	if (!count || rate <= 0 || seconds <= 0) {
		fputs("bench-mirror_kafka: --count, --rate and --seconds must be positive\n",
		      stderr);
		return 2;
	}
	tr_log_setup(0, TR_LOG_WARN);
	for (int d = 0; d < 4; d++) {
		static const char *const f[] = {"btcusdt_20240808.gz", "btcusdt_20240809.gz",
						"ethusdt_20240808.gz", "ethusdt_20240809.gz"};
		snprintf(path, sizeof path, "%s/../shared/data/binance-spot/%s", root ? root : ".",
			 f[d]);
		load(path);
	}
	struct bu_machine mach;
	bu_machine(&mach);
	atexit(broker_stop);

	/* Best of a few interleaved passes: the least disturbed by the rest of
	 * the machine, for both sides alike. */
	double base = 0, mirror = 0;
	uint64_t lost = 0;
	for (int p = 0; p < passes; p++) {
		uint64_t l;
		/* A fresh broker for each run: the mock keeps every message in
		 * memory. */
		broker_start();
		double b = baseline(count);
		broker_stop();
		broker_start();
		double x = throughput(count, &l);
		broker_stop();
		base = b > base ? b : base;
		mirror = x > mirror ? x : mirror;
		lost += l;
	}
	struct lagres L;
	broker_start();
	lag(rate, seconds, &L);

	printf("bench-mirror_kafka: %s, %ld cores, %s\n", mach.cpu, mach.cores, mach.kernel);
	printf(
	    "  kafka-dev-broker (librdkafka %s mock cluster, %s partitions), a fresh one per run\n",
	    rd_kafka_version_str(), PARTITIONS);
	printf("  %zu recorded trades, cycled; idempotent producer, lz4, linger 5 ms\n", ntrades);
	printf("  throughput, %" PRIu64 " trades in the ring, best of %d interleaved passes\n",
	       count, passes);
	printf("    bare librdkafka producer (baseline)   %10.0f records/s\n", base);
	printf("    Kafka mirror                          %10.0f records/s  %.0f %% of baseline\n",
	       mirror, 100 * mirror / base);
	printf("  lag at %.0f trades/s for %.1f s (%" PRIu64 " samples after the first 10 %%)\n",
	       rate, seconds, L.n);
	printf("    ring publish -> delivery report  p50 %.2f ms  p99 %.2f ms  p99.9 %.2f ms  max "
	       "%.2f ms  target p99 < 50 ms %s\n",
	       L.p50, L.p99, L.p999, L.max, L.p99 < 50 ? "PASS" : "MISS");
	printf("    writer achieved %.0f records/s; largest backlog %" PRIu64
	       " records; drained %.1f ms after the writer stopped\n",
	       L.achieved, L.backlog_max, L.drain_ms);
	printf("    CPU: mirror thread %.1f %%, this process %.1f %% (mirror, librdkafka, writer), "
	       "broker %.1f %%\n",
	       L.mirror_cpu, L.proc_cpu, L.broker_cpu);
	printf("    keeps up: %s (never lapped, %" PRIu64 " lost, drained within 1 s)\n",
	       L.keeps_up ? "yes" : "NO", L.lost);

	char file[1100];
	snprintf(file, sizeof file, "%s/mirror_kafka.json", dir);
	FILE *f = fopen(file, "w");
	if (!f) {
		fprintf(stderr, "bench-mirror_kafka: cannot write %s\n", file);
		return 1;
	}
	fprintf(f,
		"{\n  \"machine\": {\"cpu\": \"%s\", \"cores\": %ld, \"kernel\": \"%s\", "
		"\"date\": \"%s\"},\n",
		mach.cpu, mach.cores, mach.kernel, mach.date);
	fprintf(f,
		"  \"config\": {\"broker\": \"kafka-dev-broker (librdkafka %s mock)\", "
		"\"partitions\": %s, \"count\": %" PRIu64 ", \"lag_rate\": %.0f, "
		"\"lag_seconds\": %.1f, \"compression\": \"lz4\", \"linger_ms\": 5},\n",
		rd_kafka_version_str(), PARTITIONS, count, rate, seconds);
	fprintf(f,
		"  \"metrics\": {\n    \"kafka_mirror_rps\": %.0f,\n    \"kafka_baseline_rps\": "
		"%.0f,\n    \"kafka_mirror_vs_baseline\": %.3f,\n    \"kafka_lag_p50_ms\": %.3f,\n"
		"    \"kafka_lag_p99_ms\": %.3f,\n    \"kafka_lag_p999_ms\": %.3f,\n"
		"    \"kafka_lag_max_ms\": %.3f,\n    \"kafka_writer_achieved_rps\": %.0f,\n"
		"    \"kafka_backlog_max\": %" PRIu64 ",\n    \"kafka_drain_ms\": %.1f,\n"
		"    \"kafka_mirror_cpu_pct\": %.1f,\n    \"kafka_keeps_up\": %d\n  }\n}\n",
		mirror, base, mirror / base, L.p50, L.p99, L.p999, L.max, L.achieved, L.backlog_max,
		L.drain_ms, L.mirror_cpu, L.keeps_up);
	fclose(f);
	broker_stop();
	if (lost || L.lost || L.n == 0) {
		fprintf(stderr, "bench-mirror_kafka: records lost\n");
		return 1;
	}
	return 0;
}
