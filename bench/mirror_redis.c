/* mirror_redis.c - bench-mirror_redis: the Redis mirror's PUBLISH rate
 * against redis-benchmark's, on the same redis-server in the same run.
 *
 * The recorded BTCUSDT and ETHUSDT trades of ../shared/data are published
 * into a region (cycled up to N records) while the mirror runs on a thread
 * of this process, pub/sub only: it reads the ring, formats every trade with
 * tr_format_json(), and PUBLISHes it pipelined on one connection. Its rate is
 * N over the time from the first record published to the last PUBLISH
 * acknowledged. The baseline is `redis-benchmark -P 64 -n N PUBLISH <chan>
 * <payload>` with a channel and a payload of the same sizes as the mirror's
 * (default 50 connections, as the issue names it; with -c 1 too, one
 * connection like the mirror's). Both over TCP 127.0.0.1 (the headline) and
 * the server's unix socket; best of several interleaved passes, so both see
 * the same machine weather. Nobody subscribes: the figure is the publishing
 * side's.
 *
 * Usage: bench-mirror_redis [--quick] [--records N] [--passes P]
 *        [--pipeline N] [--results-dir DIR]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "bench_util.h"
#include "tr_err.h"
#include "tr_fixed.h"
#include "tr_format.h"
#include "tr_log.h"
#include "tr_mirror.h"
#include "tr_reader.h"
#include "tr_redis.h"
#include "tr_writer.h"

static struct tr_trade *trades;
static size_t ntrades;
static pid_t server = -1;
static char dir[64], sock[128], inst[64];
static int port;

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb, (void)flag, (void)f;
	return remove(p);
}

static void cleanup(void)
{
	if (server > 0) {
		kill(server, SIGKILL);
		waitpid(server, NULL, 0);
		server = -1;
	}
	if (dir[0])
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	if (inst[0])
		tr_writer_unlink(NULL, inst);
}

static void on_signal(int sig)
{
	(void)sig;
	if (server > 0)
		kill(server, SIGKILL);
	_exit(1);
}

static void die(const char *what)
{
	fprintf(stderr, "bench-mirror_redis: %s\n", what);
	cleanup();
	exit(1);
}

/* The @trade frames of one recorded file, as records of symbol sym. */
static void load(const char *path, uint32_t sym)
{
	static char line[1 << 16];
	gzFile f = gzopen(path, "rb");

	if (!f) {
		fprintf(stderr, "bench-mirror_redis: %s: cannot open\n", path);
		exit(1);
	}
	while (gzgets(f, line, sizeof line)) {
		char *p, *q, *t, *T, *m;
		if (!strstr(line, "@trade\"") || !(p = strstr(line, "\"p\":\"")) ||
		    !(q = strstr(line, "\"q\":\"")) || !(t = strstr(line, "\"t\":")) ||
		    !(T = strstr(line, "\"T\":")) || !(m = strstr(line, "\"m\":")))
			continue;
		struct tr_trade r = {0};
		if (tr_fixed_parse(p + 5, strcspn(p + 5, "\""), &r.price) ||
		    tr_fixed_parse(q + 5, strcspn(q + 5, "\""), &r.qty))
			continue;
		r.trade_id = strtoull(t + 4, NULL, 10);
		r.ts_event = atoll(T + 4) * 1000000;
		r.ts_recv = atoll(line);
		r.side =
		    m[4] == 't' ? TR_SIDE_SELL : TR_SIDE_BUY; /* buyer is maker: sell aggressor */
		r.symbol_id = sym;
		r.trade_count = 1;
		r.flags = TR_TRADE_REPLAY;
		trades = realloc(trades, (ntrades + 1) * sizeof *trades);
		trades[ntrades++] = r;
	}
	gzclose(f);
}

static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		die("cannot find a free port");
	close(fd);
	return ntohs(a.sin_port);
}

/* Run argv, stdout into out (NUL-terminated). Exit status. */
static int run(const char *const *argv, char *out, size_t n)
{
	int fds[2];

	if (pipe(fds) < 0)
		die("pipe");
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 2);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	size_t len = 0;
	ssize_t k;
	while (len + 1 < n && (k = read(fds[0], out + len, n - len - 1)) > 0)
		len += (size_t)k;
	out[len] = 0;
	close(fds[0]);
	int st;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void start_server(void)
{
	char p[16], out[64];

	snprintf(dir, sizeof dir, "/tmp/tr-bench-redis-XXXXXX");
	if (!mkdtemp(dir))
		die("mkdtemp");
	snprintf(sock, sizeof sock, "%s/redis.sock", dir);
	for (int attempt = 0; attempt < 5; attempt++) {
		port = free_port();
		snprintf(p, sizeof p, "%d", port);
		server = fork();
		if (server == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			int null = open("/dev/null", O_WRONLY);
			dup2(null, 1);
			execlp("redis-server", "redis-server", "--port", p, "--bind", "127.0.0.1",
			       "--unixsocket", sock, "--unixsocketperm", "700", "--dir", dir,
			       "--save", "", "--appendonly", "no", (char *)NULL);
			_exit(127);
		}
		for (int i = 0; i < 300; i++) {
			const char *argv[] = {"redis-cli", "-s", sock, "PING", NULL};
			if (waitpid(server, NULL, WNOHANG) == server)
				break;
			if (access(sock, F_OK) == 0 && run(argv, out, sizeof out) == 0 &&
			    !strncmp(out, "PONG", 4))
				return;
			usleep(10000);
		}
		kill(server, SIGKILL);
		waitpid(server, NULL, 0);
	}
	die("redis-server did not start");
}

struct mirror {
	pthread_t th;
	atomic_int stop;
	struct tr_mirror_stats st;
	struct tr_mirror_opt opt[4];
	char url[200], pipeline[16];
	int rc;
	double cpu_s, sys_s; /* the mirror thread's CPU time, of which in the kernel */
};

static void *mirror_main(void *arg)
{
	struct mirror *m = arg;
	struct tr_mirror_args a = {
	    .instance = inst, .opts = m->opt, .nopts = 4, .stop = &m->stop, .stats = &m->st};

	pthread_setname_np(pthread_self(), "redis-mirror");
	m->rc = tr_mirror_redis.run(&a);
	struct rusage ru;
	getrusage(RUSAGE_THREAD, &ru);
	m->sys_s = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	m->cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + m->sys_s;
	return NULL;
}

/* CPU seconds redis-server has used so far. */
static double server_cpu(void)
{
	char p[64], buf[1024];
	unsigned long ut = 0, st = 0;

	snprintf(p, sizeof p, "/proc/%d/stat", (int)server);
	FILE *f = fopen(p, "r");
	if (!f)
		return 0;
	if (fgets(buf, sizeof buf, f)) {
		char *c = strrchr(buf, ')');
		if (c)
			sscanf(c + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
			       &st);
	}
	fclose(f);
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* What redis-server says about its side: bytes and commands per read(2),
 * replies per write(2), and its own usec_per_call of PUBLISH. */
struct srv_io {
	double in_bytes, reads, writes, calls, usec;
};

static double info_field(const char *info, const char *name)
{
	const char *p = strstr(info, name);

	return p ? atof(p + strlen(name)) : 0;
}

static void server_io(struct srv_io *io)
{
	redisContext *c = redisConnectUnix(sock);
	redisReply *r = c && !c->err ? redisCommand(c, "INFO all") : NULL;

	memset(io, 0, sizeof *io);
	if (r && r->type == REDIS_REPLY_STRING) {
		io->in_bytes = info_field(r->str, "total_net_input_bytes:");
		io->reads = info_field(r->str, "total_reads_processed:");
		io->writes = info_field(r->str, "total_writes_processed:");
		io->calls = info_field(r->str, "cmdstat_publish:calls=");
		const char *u = strstr(r->str, "cmdstat_publish:");
		if (u && (u = strstr(u, "usec=")))
			io->usec = atof(u + 5);
	}
	if (r)
		freeReplyObject(r);
	if (c)
		redisFree(c);
}

/* "<bytes>/read, <commands>/read, <replies>/write, <usec> us/PUBLISH" since a. */
static void io_since(const struct srv_io *a, char *out, size_t n)
{
	struct srv_io b;

	server_io(&b);
	double reads = b.reads - a->reads, calls = b.calls - a->calls;
	snprintf(out, n, "%.0f B and %.1f cmds/read, %.1f replies/write, %.2f us/call",
		 reads > 0 ? (b.in_bytes - a->in_bytes) / reads : 0, reads > 0 ? calls / reads : 0,
		 b.writes > a->writes ? calls / (b.writes - a->writes) : 0,
		 calls > 0 ? (b.usec - a->usec) / calls : 0);
}

static char io_mirror[160], io_bench[160];
static double cpu_mirror_us, sys_mirror_us, cpu_server_us; /* per record, last mirror pass */
static double cpu_bench_server_us;			   /* per request, last benchmark pass */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median of v[0..n), which it sorts. */
static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* One pass: n records through the mirror; records/s. */
static double mirror_pass(struct tr_writer *w, uint64_t n, int tcp, unsigned pipeline)
{
	static struct mirror m;
	struct tr_trade t;

	memset(&m, 0, sizeof m);
	if (tcp)
		snprintf(m.url, sizeof m.url, "redis://127.0.0.1:%d", port);
	else
		snprintf(m.url, sizeof m.url, "unix://%s", sock);
	snprintf(m.pipeline, sizeof m.pipeline, "%u", pipeline);
	m.opt[0] = (struct tr_mirror_opt){"redis-url", m.url, "bench"};
	m.opt[1] = (struct tr_mirror_opt){"redis-kinds", "trades", "bench"};
	m.opt[2] = (struct tr_mirror_opt){"redis-latest-ms", "0", "bench"};
	m.opt[3] = (struct tr_mirror_opt){"redis-pipeline", m.pipeline, "bench"};
	atomic_init(&m.stop, 0);
	pthread_create(&m.th, NULL, mirror_main, &m);
	/* Relaxed: statistics, polled. */
	while (!atomic_load_explicit(&m.st.connected, memory_order_relaxed)) {
		tr_writer_heartbeat(w); /* a slow start (valgrind) is not a dead engine */
		usleep(1000);
	}
	usleep(20000); /* let it settle into its idle wait */
	struct srv_io io;
	server_io(&io);
	double s0 = server_cpu();
	int64_t t0 = now_ns();
	for (uint64_t i = 0; i < n; i++) {
		t = trades[i % ntrades];
		tr_writer_publish(w, TR_KIND_TRADE, &t);
		if ((i & 1023) == 1023)
			tr_writer_commit(w);
	}
	tr_writer_commit(w);
	int64_t deadline = t0 + 120 * 1000000000ll;
	while (atomic_load_explicit(&m.st.delivered, memory_order_relaxed) < n) {
		if (now_ns() > deadline)
			die("the mirror did not deliver every record within 120 s");
		tr_writer_heartbeat(w);
		usleep(
		    1000); /* a coarser poll would cost the mirror and the server a core's time */
	}
	int64_t t1 = now_ns();
	cpu_server_us = (server_cpu() - s0) / (double)n * 1e6;
	io_since(&io, io_mirror, sizeof io_mirror);
	/* Pairs with the mirror loop's acquire load of stop. */
	atomic_store_explicit(&m.stop, 1, memory_order_release);
	pthread_join(m.th, NULL);
	if (m.rc < 0 || atomic_load_explicit(&m.st.failed, memory_order_relaxed) ||
	    atomic_load_explicit(&m.st.dropped, memory_order_relaxed) ||
	    atomic_load_explicit(&m.st.delivered, memory_order_relaxed) != n)
		die("the mirror lost or failed records");
	cpu_mirror_us = m.cpu_s / (double)n * 1e6;
	sys_mirror_us = m.sys_s / (double)n * 1e6;
	return (double)n / ((double)(t1 - t0) / 1e9);
}

/* redis-benchmark -P 64 -n n [-c clients] PUBLISH chan payload; requests/s. */
static double benchmark_pass(uint64_t n, int tcp, int clients, const char *chan,
			     const char *payload)
{
	char ns[24], ps[16], cs[16], out[4096];
	const char *argv[20] = {"redis-benchmark"};
	int a = 1;

	snprintf(ns, sizeof ns, "%llu", (unsigned long long)n);
	snprintf(ps, sizeof ps, "%d", port);
	snprintf(cs, sizeof cs, "%d", clients);
	if (tcp) {
		argv[a++] = "-h", argv[a++] = "127.0.0.1", argv[a++] = "-p", argv[a++] = ps;
	} else {
		argv[a++] = "-s", argv[a++] = sock;
	}
	argv[a++] = "-P", argv[a++] = "64", argv[a++] = "-n", argv[a++] = ns;
	if (clients)
		argv[a++] = "-c", argv[a++] = cs;
	argv[a++] = "--csv", argv[a++] = "PUBLISH", argv[a++] = chan;
	argv[a++] = payload;
	argv[a] = NULL;
	struct srv_io io;
	server_io(&io);
	double s0 = server_cpu();
	if (run(argv, out, sizeof out) != 0)
		die("redis-benchmark failed");
	cpu_bench_server_us = (server_cpu() - s0) / (double)n * 1e6;
	io_since(&io, io_bench, sizeof io_bench);
	/* "test","rps",... then "PUBLISH ...","<rps>",... */
	char *l = strchr(out, '\n');
	char *q = l ? strstr(l, "\",\"") : NULL;
	if (!q)
		die("cannot read redis-benchmark's output");
	return atof(q + 3);
}

int main(int argc, char **argv)
{
	const char *rdir = "bench/results", *root = getenv("TR_ROOT");
	uint64_t n = 1000000;
	int passes = 3;
	unsigned pipeline = 256;
	int mirror_only = 0;
	char path[1024];

	static const struct option opts[] = {{"quick", no_argument, 0, 'q'},
					     {"records", required_argument, 0, 'n'},
					     {"passes", required_argument, 0, 'p'},
					     {"pipeline", required_argument, 0, 'P'},
					     {"results-dir", required_argument, 0, 'r'},
					     {"mirror-only", optional_argument, 0, 'm'},
					     {"help", no_argument, 0, 'h'},
					     {0, 0, 0, 0}};
	for (int c; (c = getopt_long(argc, argv, "qn:p:P:r:mh", opts, NULL)) != -1;) {
		if (c == 'q')
			n = 200000, passes = 2;
		else if (c == 'n')
			n = strtoull(optarg, NULL, 10);
		else if (c == 'p')
			passes = atoi(optarg);
		else if (c == 'P')
			pipeline = (unsigned)atoi(optarg);
		else if (c == 'r')
			rdir = optarg;
		else if (c == 'm')
			mirror_only = optarg && !strcmp(optarg, "tcp") ? 2 : 1;
		else {
			fputs("usage: bench-mirror_redis [--quick] [--records N] [--passes P] "
			      "[--pipeline N] [--results-dir DIR] [--mirror-only[=tcp]]\n",
			      c == 'h' ? stdout : stderr);
			return c == 'h' ? 0 : 2;
		}
	}
	if (n < 1000 || n > (1u << 22) || passes < 1 || pipeline < 1)
		die("--records 1000..4194304, --passes >= 1, --pipeline >= 1");
	tr_log_setup(0, TR_LOG_WARN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);

	struct tr_writer_config cfg;
	struct tr_writer *w;
	tr_writer_config_default(&cfg);
	snprintf(inst, sizeof inst, "bench-mredis-%d", (int)getpid());
	cfg.instance = inst;
	for (int k = 0; k < TR_NKINDS; k++)
		cfg.geometry.ring_slots[k] = 1024;
	/* Every pass fits in the ring: the mirror is never lapped. */
	cfg.geometry.ring_slots[TR_KIND_TRADE] = 1u << 22;
	cfg.geometry.symbol_capacity = 16;
	tr_writer_unlink(NULL, inst);
	if (tr_writer_open(&w, &cfg) < 0) {
		fprintf(stderr, "bench-mirror_redis: %s\n", tr_errmsg());
		return 1;
	}
	int v = tr_writer_venue(w, "binance");
	int sym[2] = {tr_writer_symbol(w, (unsigned)v, "BTCUSDT"),
		      tr_writer_symbol(w, (unsigned)v, "ETHUSDT")};
	static const char *const files[] = {"btcusdt_20240808", "btcusdt_20240809",
					    "ethusdt_20240808", "ethusdt_20240809"};
	for (int i = 0; i < 4; i++) {
		snprintf(path, sizeof path, "%s/../shared/data/binance-spot/%s.gz",
			 root ? root : ".", files[i]);
		load(path, (uint32_t)sym[i / 2]);
		tr_writer_heartbeat(w);
	}
	if (!ntrades)
		die("no recorded trades");

	/* The baseline's payload and channel: the mirror's average sizes. */
	struct tr_region *r;
	if (tr_region_attach(&r, w->base, w->size, NULL, 0) < 0)
		die(tr_errmsg());
	char json[TR_FORMAT_BUFSZ];
	double bytes = 0;
	for (size_t i = 0; i < ntrades; i++) {
		trades[i].seq = i + 1;
		bytes += tr_format_json(r, TR_KIND_TRADE, &trades[i], 1, json, sizeof json);
	}
	tr_region_close(r);
	size_t plen = (size_t)(bytes / (double)ntrades + 0.5);
	char *payload = malloc(plen + 1);
	memset(payload, 'x', plen);
	payload[plen] = 0;
	const char *chan = "tickring:trades:binance:BTCUSDT";

	start_server();
	struct bu_machine mach;
	double load[3] = {0};
	bu_machine(&mach);
	/* Other work on the machine moves every figure: say how much there was. */
	getloadavg(load, 3);
	printf("bench-mirror_redis: %s, %ld cores, %s, load average %.2f at the start\n", mach.cpu,
	       mach.cores, mach.kernel, load[0]);
	printf("  %zu recorded trades cycled to %llu records, JSON payload %zu bytes on average,\n"
	       "  mirror pipeline %u, best of %d passes, no subscribers\n",
	       ntrades, (unsigned long long)n, plen, pipeline, passes);
	double best[2][3] = {{0}}; /* [tcp][mirror, benchmark -c 50, benchmark -c 1] */
	if (mirror_only) {
		/* For profiling the mirror alone (perf stat, perf record):
		 * the unix socket, or TCP with --mirror-only=tcp. */
		for (int p = 0; p < passes; p++) {
			double x = mirror_pass(w, n, mirror_only == 2, pipeline);
			printf("  mirror over %s: %.0f rec/s, %.3f us CPU/record (%.3f in the "
			       "kernel), redis-server %.3f us\n    redis-server: %s\n",
			       mirror_only == 2 ? "tcp" : "unix", x, cpu_mirror_us, sys_mirror_us,
			       cpu_server_us, io_mirror);
		}
		tr_writer_close(w);
		free(payload);
		free(trades);
		cleanup();
		return 0;
	}
	/* Per pass and transport: the paired ratio, and CPU per record of the
	 * mirror, of redis-server for it, of redis-server for redis-benchmark. */
	double *per[2][4];
	for (int t = 0; t < 2; t++)
		for (int i = 0; i < 4; i++)
			if (!(per[t][i] = calloc((size_t)passes, sizeof(double))))
				die("out of memory");
	for (int p = 0; p < passes; p++)
		for (int tcp = 1; tcp >= 0; tcp--) {
			double x[3], cpu_m, cpu_s, cpu_b;
			char io_m[160], io_b[160];
			x[0] = mirror_pass(w, n, tcp, pipeline);
			cpu_m = cpu_mirror_us, cpu_s = cpu_server_us;
			memcpy(io_m, io_mirror, sizeof io_m);
			x[1] = benchmark_pass(n, tcp, 0, chan, payload);
			cpu_b = cpu_bench_server_us;
			memcpy(io_b, io_bench, sizeof io_b);
			x[2] = benchmark_pass(n, tcp, 1, chan, payload);
			printf(
			    "  pass %d %-4s: mirror %7.0f rec/s (CPU/record: mirror %.2f us, "
			    "redis-server %.2f us)  benchmark %7.0f req/s (redis-server %.2f us)  "
			    "-c 1 %7.0f (%.2f us)\n"
			    "    redis-server, mirror:    %s\n"
			    "    redis-server, benchmark: %s\n",
			    p + 1, tcp ? "tcp" : "unix", x[0], cpu_m, cpu_s, x[1], cpu_b, x[2],
			    cpu_bench_server_us, io_m, io_b);
			for (int i = 0; i < 3; i++)
				if (x[i] > best[tcp][i])
					best[tcp][i] = x[i];
			per[tcp][0][p] = x[0] / x[1];
			per[tcp][1][p] = cpu_m;
			per[tcp][2][p] = cpu_s;
			per[tcp][3][p] = cpu_b;
		}
	double med[2][4];
	for (int t = 0; t < 2; t++)
		for (int i = 0; i < 4; i++)
			med[t][i] = median(per[t][i], passes);
	for (int tcp = 1; tcp >= 0; tcp--) {
		double ratio = best[tcp][0] / best[tcp][1];
		printf("  %-5s mirror %10.0f rec/s   redis-benchmark -P 64 %10.0f req/s (-c 1: "
		       "%10.0f)   mirror/benchmark %5.1f %%%s\n",
		       tcp ? "tcp" : "unix", best[tcp][0], best[tcp][1], best[tcp][2], ratio * 100,
		       tcp ? (ratio >= 0.8 ? "  target >= 80 %: PASS" : "  target >= 80 %: MISS")
			   : "");
	}
	/* A pass compares mirror and benchmark run one after the other, so its
	 * ratio is the least moved by other work on the machine. */
	for (int tcp = 1; tcp >= 0; tcp--)
		printf(
		    "  %-5s per pass: mirror/benchmark median %5.1f %% (%5.1f to %5.1f); CPU per "
		    "record, median: mirror %.2f us, redis-server %.2f us (for redis-benchmark "
		    "%.2f us)\n",
		    tcp ? "tcp" : "unix", med[tcp][0] * 100, per[tcp][0][0] * 100,
		    per[tcp][0][passes - 1] * 100, med[tcp][1], med[tcp][2], med[tcp][3]);

	mkdir(rdir, 0755); /* bench/run.sh makes it; a direct run may not have */
	snprintf(path, sizeof path, "%s/mirror_redis.json", rdir);
	FILE *f = fopen(path, "w");
	if (!f)
		die("cannot write the results file");
	fprintf(f,
		"{\n  \"machine\": {\"cpu\": \"%s\", \"cores\": %ld, \"kernel\": \"%s\", "
		"\"date\": \"%s\"},\n"
		"  \"config\": {\"records\": %llu, \"payload_bytes\": %zu, \"pipeline\": %u, "
		"\"passes\": %d, \"loadavg_1m\": %.2f, "
		"\"transport\": \"tcp 127.0.0.1 (unix socket in *_unix)\", "
		"\"baseline\": \"redis-benchmark -P 64 -n %llu PUBLISH <chan> <payload>\"},\n"
		"  \"metrics\": {\n"
		"    \"redis_mirror_rps\": %.0f,\n    \"redis_benchmark_rps\": %.0f,\n"
		"    \"redis_mirror_ratio\": %.3f,\n    \"redis_benchmark_c1_rps\": %.0f,\n"
		"    \"redis_mirror_rps_unix\": %.0f,\n    \"redis_benchmark_rps_unix\": %.0f,\n"
		"    \"redis_benchmark_c1_rps_unix\": %.0f,\n"
		"    \"redis_mirror_ratio_median\": %.3f,\n    \"redis_mirror_ratio_median_unix\": "
		"%.3f,\n"
		"    \"redis_mirror_cpu_us\": %.3f,\n    \"redis_server_cpu_us_mirror\": %.3f,\n"
		"    \"redis_server_cpu_us_benchmark\": %.3f\n  }\n}\n",
		mach.cpu, mach.cores, mach.kernel, mach.date, (unsigned long long)n, plen, pipeline,
		passes, load[0], (unsigned long long)n, best[1][0], best[1][1],
		best[1][0] / best[1][1], best[1][2], best[0][0], best[0][1], best[0][2], med[1][0],
		med[0][0], med[1][1], med[1][2], med[1][3]);
	for (int t = 0; t < 2; t++)
		for (int i = 0; i < 4; i++)
			free(per[t][i]);
	if (fclose(f))
		die("cannot write the results file");
	tr_writer_close(w);
	free(payload);
	free(trades);
	cleanup();
	return 0;
}
