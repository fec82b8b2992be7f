/* test_redis.c - the Redis mirror against a real redis-server, with
 * redis-cli as the client: every record on its channel, in order, exactly
 * tr_format_json(); hashes equal to the latest table; streams trimmed,
 * resumed from the checkpoint without duplicates and read back from the
 * journal; redis:// and unix:// URLs with AUTH and a database; Redis killed
 * and restarted; bad directives refused. Then through tickringd replaying the
 * recorded BTCUSDT and ETHUSDT days.
 *
 * Each test starts its own redis-server (a free port found by binding port
 * 0, and a unix socket in its temporary directory) and kills it in .fini. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "e2e.h"
#include "th.h"
#include "tr_fixed.h"
#include "tr_format.h"
#include "tr_journal.h"
#include "tr_log.h"
#include "tr_mirror.h"
#include "tr_redis.h"
#include "tr_uring.h"

#define SEC 1000000000ll
#define LD(x) atomic_load_explicit(&(x), memory_order_relaxed)

/* ---- redis-server and redis-cli ---- */

struct rsrv {
	pid_t pid;
	int port;
	int aof;	  /* appendonly yes, appendfsync always: survives kill -9 */
	const char *pass; /* requirepass */
	char dir[64];
	char sock[128];
};

static struct rsrv *servers[4];
static int nservers;
static pid_t children[16];
static int nchildren;
static char tmpdirs[4][64];
static int ntmpdirs;
static char insts[4][64];
static int ninsts;

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb, (void)flag, (void)f;
	return remove(p);
}

static void kill_child(pid_t *pid)
{
	if (*pid > 0) {
		kill(*pid, SIGKILL);
		waitpid(*pid, NULL, 0);
	}
	*pid = 0;
}

static void cleanup(void)
{
	for (int i = 0; i < nchildren; i++)
		kill_child(&children[i]);
	for (int i = 0; i < nservers; i++) {
		kill_child(&servers[i]->pid);
		nftw(servers[i]->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	}
	for (int i = 0; i < ntmpdirs; i++)
		nftw(tmpdirs[i], rm_one, 16, FTW_DEPTH | FTW_PHYS);
	for (int i = 0; i < ninsts; i++)
		tr_writer_unlink(NULL, insts[i]);
}

/* The mirror logs to stderr as tickringd would; the tests read its counters. */
static void quiet(void)
{
	tr_log_setup(0, TR_LOG_ERROR);
}

TestSuite(redis, .init = quiet, .fini = cleanup, .timeout = 120);

static void track(pid_t pid)
{
	cr_assert_lt(nchildren, 16);
	children[nchildren++] = pid;
}

static void untrack(pid_t pid)
{
	for (int i = 0; i < nchildren; i++)
		if (children[i] == pid)
			children[i] = 0;
}

static const char *tmpdir(void)
{
	cr_assert_lt(ntmpdirs, 4);
	char *d = tmpdirs[ntmpdirs++];
	snprintf(d, sizeof tmpdirs[0], "/tmp/tr-rd-XXXXXX");
	cr_assert_not_null(mkdtemp(d));
	return d;
}

static const char *instance(void)
{
	cr_assert_lt(ninsts, 4);
	th_instance(insts[ninsts], sizeof insts[0], "rd");
	return insts[ninsts++];
}

static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

/* Run `redis-cli -s SOCK [-a PASS] --raw args...` (NULL-terminated); its
 * stdout, NUL-terminated (free it). */
static char *cli(const struct rsrv *s, const char *arg, ...)
{
	const char *argv[64] = {"redis-cli", "-s", s->sock};
	int n = 3, fds[2];
	va_list ap;

	if (s->pass) {
		argv[n++] = "-a";
		argv[n++] = s->pass;
		argv[n++] = "--no-auth-warning";
	}
	argv[n++] = "--raw";
	va_start(ap, arg);
	for (const char *a = arg; a && n < 63; a = va_arg(ap, const char *))
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	cr_assert_eq(pipe(fds), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		execvp("redis-cli", (char **)argv);
		_exit(127);
	}
	close(fds[1]);
	size_t len = 0, cap = 1 << 16;
	char *buf = malloc(cap);
	ssize_t k;
	while ((k = read(fds[0], buf + len, cap - len - 1)) > 0) {
		len += (size_t)k;
		if (cap - len < 4096)
			buf = realloc(buf, cap *= 2);
	}
	close(fds[0]);
	waitpid(pid, NULL, 0);
	buf[len] = 0;
	return buf;
}

/* One-line reply, trailing newline removed, into out. */
static const char *cli1(const struct rsrv *s, char *out, size_t n, const char *arg, ...)
{
	const char *argv[16];
	int c = 0;
	va_list ap;

	va_start(ap, arg);
	for (const char *a = arg; a && c < 15; a = va_arg(ap, const char *))
		argv[c++] = a;
	va_end(ap);
	while (c < 15)
		argv[c++] = NULL;
	char *r = cli(s, argv[0], argv[1], argv[2], argv[3], argv[4], argv[5], argv[6], argv[7],
		      argv[8], argv[9], argv[10], argv[11], argv[12], argv[13], argv[14], NULL);
	snprintf(out, n, "%s", r);
	out[strcspn(out, "\n")] = 0;
	free(r);
	return out;
}

static int ready(const struct rsrv *s)
{
	char b[64];

	return !strcmp(cli1(s, b, sizeof b, "PING", NULL), "PONG");
}

/* Start (or restart, same port and directory) a redis-server. */
static void rs_start(struct rsrv *s)
{
	int fresh = !s->dir[0];

	if (fresh) {
		snprintf(s->dir, sizeof s->dir, "/tmp/tr-redis-XXXXXX");
		cr_assert_not_null(mkdtemp(s->dir));
		snprintf(s->sock, sizeof s->sock, "%s/redis.sock", s->dir);
		cr_assert_lt(nservers, 4);
		servers[nservers++] = s;
	}
	for (int attempt = 0; attempt < 5; attempt++) {
		char port[16], log[128];
		if (fresh)
			s->port = free_port();
		snprintf(port, sizeof port, "%d", s->port);
		snprintf(log, sizeof log, "%s/redis.log", s->dir);
		const char *argv[32] = {"redis-server",
					"--port",
					port,
					"--bind",
					"127.0.0.1",
					"--unixsocket",
					s->sock,
					"--unixsocketperm",
					"700",
					"--dir",
					s->dir,
					"--save",
					"",
					"--logfile",
					log,
					"--daemonize",
					"no",
					"--appendonly",
					s->aof ? "yes" : "no",
					"--appendfsync",
					"always"};
		int n = 21;
		if (s->pass) {
			argv[n++] = "--requirepass";
			argv[n++] = s->pass;
		}
		argv[n] = NULL;
		pid_t pid = fork();
		cr_assert_geq(pid, 0);
		if (pid == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			execvp("redis-server", (char **)argv);
			_exit(127);
		}
		s->pid = pid;
		for (int i = 0; i < 500; i++) {
			if (waitpid(pid, NULL, WNOHANG) == pid) {
				s->pid = 0; /* port taken meanwhile: another one */
				break;
			}
			if (access(s->sock, F_OK) == 0 && ready(s))
				return;
			usleep(10000);
		}
		kill_child(&s->pid);
	}
	cr_assert_fail("redis-server did not start (see %s/redis.log)", s->dir);
}

static void rs_kill(struct rsrv *s)
{
	kill_child(&s->pid);
	unlink(s->sock);
}

/* A redis-cli in (P)SUBSCRIBE mode, its stdout on a pipe. */
struct rsub {
	pid_t pid;
	int fd;
	char buf[1 << 16];
	size_t len, pos;
	char line[4][4096];
};

static void subscribe(const struct rsrv *s, struct rsub *u, const char *cmd, const char *chan)
{
	int fds[2];

	memset(u, 0, sizeof *u);
	cr_assert_eq(pipe(fds), 0);
	u->pid = fork();
	cr_assert_geq(u->pid, 0);
	if (u->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(fds[1], 1);
		close(fds[0]);
		execlp("redis-cli", "redis-cli", "-s", s->sock, "--raw", cmd, chan, (char *)NULL);
		_exit(127);
	}
	track(u->pid);
	close(fds[1]);
	u->fd = fds[0];
}

/* Next line of the subscriber's output into u->line[i], up to timeout. */
static int sub_line(struct rsub *u, int i, int64_t timeout)
{
	int64_t deadline = e2e_now() + timeout;

	for (;;) {
		char *nl = memchr(u->buf + u->pos, '\n', u->len - u->pos);
		if (nl) {
			size_t n = (size_t)(nl - (u->buf + u->pos));
			cr_assert_lt(n, sizeof u->line[0], "line too long");
			memcpy(u->line[i], u->buf + u->pos, n);
			u->line[i][n] = 0;
			u->pos += n + 1;
			return 1;
		}
		if (u->pos) {
			memmove(u->buf, u->buf + u->pos, u->len - u->pos);
			u->len -= u->pos;
			u->pos = 0;
		}
		int64_t left = deadline - e2e_now();
		struct pollfd p = {.fd = u->fd, .events = POLLIN};
		if (left <= 0 || poll(&p, 1, (int)(left / 1000000) + 1) != 1)
			return 0;
		ssize_t k = read(u->fd, u->buf + u->len, sizeof u->buf - u->len);
		if (k <= 0)
			return 0;
		u->len += (size_t)k;
	}
}

/* Wait for the subscription's confirmation (kind, channel, count). */
static void sub_ready(struct rsub *u)
{
	for (int i = 0; i < 3; i++)
		cr_assert(sub_line(u, i, 10 * SEC), "no subscription confirmation");
	cr_assert(!strcmp(u->line[0], "subscribe") || !strcmp(u->line[0], "psubscribe"), "got '%s'",
		  u->line[0]);
}

/* Next message: channel in line[1], payload in line[2]. PSUBSCRIBE's
 * pattern is dropped. 1, or 0 on timeout. */
static int sub_msg(struct rsub *u, int64_t timeout)
{
	if (!sub_line(u, 0, timeout))
		return 0;
	if (!strcmp(u->line[0], "pmessage") && !sub_line(u, 3, timeout))
		return 0;
	cr_assert(!strcmp(u->line[0], "message") || !strcmp(u->line[0], "pmessage"),
		  "unexpected '%s'", u->line[0]);
	return sub_line(u, 1, timeout) && sub_line(u, 2, timeout);
}

static void sub_end(struct rsub *u)
{
	kill_child(&u->pid);
	untrack(u->pid);
	close(u->fd);
}

/* HGETALL as pairs. */
struct hash {
	char *raw;
	char *k[256], *v[256];
	int n;
};

static void hgetall(const struct rsrv *s, const char *key, struct hash *h, const char *db)
{
	char *save = NULL;

	h->raw = db ? cli(s, "-n", db, "HGETALL", key, NULL) : cli(s, "HGETALL", key, NULL);
	h->n = 0;
	for (char *l = strtok_r(h->raw, "\n", &save); l && h->n < 256;
	     l = strtok_r(NULL, "\n", &save)) {
		h->k[h->n] = l;
		h->v[h->n] = strtok_r(NULL, "\n", &save);
		cr_assert_not_null(h->v[h->n], "odd HGETALL output for %s", key);
		h->n++;
	}
}

static const char *hv(const struct hash *h, const char *field)
{
	for (int i = 0; i < h->n; i++)
		if (!strcmp(h->k[i], field))
			return h->v[i];
	return NULL;
}

#define HEQ(h, f, want)                                                                            \
	do {                                                                                       \
		const char *v_ = hv(h, f);                                                         \
		cr_assert(v_ && !strcmp(v_, want), "%s: '%s', want '%s'", f, v_ ? v_ : "(none)",   \
			  want);                                                                   \
	} while (0)

/* ---- The mirror on a thread ---- */

struct mrun {
	pthread_t th;
	atomic_int stop;
	struct tr_mirror_stats st;
	struct tr_mirror_opt opt[16];
	char val[16][320];
	unsigned n;
	const char *inst, *jdir;
	int rc, running;
};

static void mr_opt(struct mrun *m, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void mr_opt(struct mrun *m, const char *name, const char *fmt, ...)
{
	va_list ap;

	cr_assert_lt(m->n, 16);
	va_start(ap, fmt);
	vsnprintf(m->val[m->n], sizeof m->val[0], fmt, ap);
	va_end(ap);
	m->opt[m->n] = (struct tr_mirror_opt){name, m->val[m->n], "test"};
	m->n++;
}

static void *mr_main(void *arg)
{
	struct mrun *m = arg;
	struct tr_mirror_args a = {.instance = m->inst,
				   .journal_dir = m->jdir,
				   .opts = m->opt,
				   .nopts = m->n,
				   .stop = &m->stop,
				   .stats = &m->st};

	m->rc = tr_mirror_redis.run(&a);
	return NULL;
}

static void mr_start(struct mrun *m)
{
	atomic_init(&m->stop, 0);
	memset(&m->st, 0, sizeof m->st);
	cr_assert_eq(pthread_create(&m->th, NULL, mr_main, m), 0);
	m->running = 1;
}

static int mr_stop(struct mrun *m)
{
	if (!m->running)
		return m->rc;
	/* Pairs with the mirror loop's acquire load of stop. */
	atomic_store_explicit(&m->stop, 1, memory_order_release);
	pthread_join(m->th, NULL);
	m->running = 0;
	return m->rc;
}

#define WAIT_FOR(cond, secs, ...)                                                                  \
	do {                                                                                       \
		int64_t d_ = e2e_now() + (int64_t)(secs)*SEC;                                      \
		while (!(cond)) {                                                                  \
			cr_assert_lt(e2e_now(), d_, __VA_ARGS__);                                  \
			usleep(5000);                                                              \
		}                                                                                  \
	} while (0)

/* ---- Records ---- */

#define BASE_TS 1723161600000000000ll

static void mk_trade(struct tr_trade *t, unsigned sym, unsigned venue, uint64_t i)
{
	memset(t, 0, sizeof *t);
	t->ts_event = BASE_TS + (int64_t)i * 1000000;
	t->ts_recv = t->ts_event + 1234567;
	t->price = 6183763000000 + (int64_t)i * 1000000; /* 61837.63 + i * 0.01 */
	t->qty = 100000 + (int64_t)i;			 /* 0.001 + i * 1e-8 */
	t->trade_id = 3600000000ull + i;
	t->symbol_id = sym;
	t->venue_id = (uint16_t)venue;
	t->side = (uint8_t)(1 + i % 2);
	t->trade_count = 1;
	t->flags = i % 7 == 0 ? TR_TRADE_GAP : 0;
}

static void mk_quote(struct tr_quote *q, unsigned sym, unsigned venue, uint64_t i)
{
	memset(q, 0, sizeof *q);
	q->ts_event = BASE_TS + (int64_t)i * 1000;
	q->ts_recv = q->ts_event + 77;
	q->bid_px = 265110000000 + (int64_t)i;
	q->bid_qty = 150000000;
	q->ask_px = 265111000000 + (int64_t)i;
	q->ask_qty = 1;
	q->symbol_id = sym;
	q->venue_id = (uint16_t)venue;
}

static void mk_candle(struct tr_candle *c, unsigned sym, unsigned venue, uint32_t interval,
		      uint64_t i)
{
	memset(c, 0, sizeof *c);
	c->open_time = BASE_TS + (int64_t)i * interval * SEC;
	c->open = 6000000000000;
	c->high = 6010050000000;
	c->low = 5990000000000;
	c->close = 6005000000000 + (int64_t)i;
	c->volume = 1234567890;
	c->quote_volume = 741000000000000;
	c->taker_buy_volume = 600000000;
	c->taker_buy_quote_volume = 360000000000000;
	c->vwap = 6002000000000;
	c->first_trade_id = 100 + i;
	c->last_trade_id = 180 + i;
	c->ts_update = c->open_time + 59999000000;
	c->trade_count = 81;
	c->symbol_id = sym;
	c->interval_s = interval;
	c->venue_id = (uint16_t)venue;
	c->flags = TR_CANDLE_FINAL;
	c->revision = (uint8_t)(i % 3);
}

/* A region with venue binance and BTCUSDT (id 0), ETHUSDT (id 1). */
static struct tr_writer *market(const char *inst, uint64_t slots, int *btc, int *eth)
{
	struct tr_writer *w = th_writer(inst, slots);
	int v = tr_writer_venue(w, "binance");

	cr_assert_eq(v, 0);
	*btc = tr_writer_symbol(w, (unsigned)v, "BTCUSDT");
	*eth = tr_writer_symbol(w, (unsigned)v, "ETHUSDT");
	cr_assert(*btc >= 0 && *eth >= 0);
	return w;
}

static struct tr_region *reader(const char *inst)
{
	struct tr_region *r;

	cr_assert_eq(tr_region_open(&r, inst, TR_OPEN_ANY_STATE), 0, "%s", tr_errmsg());
	return r;
}

/* ---- Directives ---- */

static int check(const char *name, const char *value, char *err)
{
	err[0] = 0;
	return tr_mirror_redis.check(name, value, err, 256);
}

Test(redis, directives_are_checked_and_bad_values_refused)
{
	char err[256];
	struct tr_redis_url u;

	static const char *const good[][2] = {
	    {"redis-url", "redis://127.0.0.1"},
	    {"redis-url", "redis://localhost:6380/2"},
	    {"redis-url", "redis://:secret@10.0.0.1:7000/15"},
	    {"redis-url", "redis://alice:pw@[::1]:6379"},
	    {"redis-url", "unix:///run/redis/redis.sock"},
	    {"redis-url", "unix:///tmp/r.sock?db=3"},
	    {"redis-password", "hunter2"},
	    {"redis-prefix", "md.prod"},
	    {"redis-kinds", "trades"},
	    {"redis-kinds", "candles,events"},
	    {"redis-latest-ms", "0"},
	    {"redis-latest-ms", "250"},
	    {"redis-streams", "yes"},
	    {"redis-streams", "no"},
	    {"redis-stream-maxlen", "0"},
	    {"redis-stream-maxlen", "1000000"},
	    {"redis-checkpoint", "/var/lib/tickring/redis.ckpt"},
	    {"redis-pipeline", "1"},
	    {"redis-pipeline", "65536"},
	};
	static const char *const bad[][3] = {
	    {"redis-url", "http://127.0.0.1", "expected redis://"},
	    {"redis-url", "rediss://127.0.0.1", "TLS"},
	    {"redis-url", "redis://", "no host"},
	    {"redis-url", "redis://h:0", "bad port"},
	    {"redis-url", "redis://h:65536", "bad port"},
	    {"redis-url", "redis://h:12ab", "bad port"},
	    {"redis-url", "redis://h/x", "bad database"},
	    {"redis-url", "redis://alice@h", "needs a password"},
	    {"redis-url", "redis://:p%zz@h", "bad user or password"},
	    {"redis-url", "redis://[::1", "unclosed"},
	    {"redis-url", "unix://relative.sock", "absolute"},
	    {"redis-url", "unix:///tmp/r.sock?database=1", "?db=N"},
	    {"redis-password", "", "empty"},
	    {"redis-prefix", "", "1 to 64"},
	    {"redis-prefix", "has space", "printable"},
	    {"redis-prefix", "star*", "printable"},
	    {"redis-kinds", "trades,books", "unknown kind"},
	    {"redis-kinds", ",", "no kind"},
	    {"redis-latest-ms", "-1", "milliseconds"},
	    {"redis-latest-ms", "3600001", "milliseconds"},
	    {"redis-streams", "maybe", "yes or no"},
	    {"redis-stream-maxlen", "lots", "entries"},
	    {"redis-checkpoint", "", "empty"},
	    {"redis-pipeline", "0", "1 to 65536"},
	    {"redis-pipeline", "65537", "1 to 65536"},
	    {"redis-pipelines", "8", "unknown directive"},
	};

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		cr_assert_eq(check(good[i][0], good[i][1], err), 0, "%s %s refused: %s", good[i][0],
			     good[i][1], err);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cr_assert_eq(check(bad[i][0], bad[i][1], err), -EINVAL, "%s '%s' accepted",
			     bad[i][0], bad[i][1]);
		cr_assert_not_null(strstr(err, bad[i][2]), "%s '%s': message '%s' lacks '%s'",
				   bad[i][0], bad[i][1], err, bad[i][2]);
	}

	cr_assert_eq(
	    tr_redis_url_parse("redis://al%40ice:p%3Aw%2F@db.local:7001/9", &u, err, sizeof err), 0,
	    "%s", err);
	cr_assert_str_eq(u.user, "al@ice");
	cr_assert_str_eq(u.password, "p:w/");
	cr_assert_str_eq(u.host, "db.local");
	cr_assert_eq(u.port, 7001);
	cr_assert_eq(u.db, 9);
	cr_assert_eq(u.is_unix, 0);
	cr_assert_eq(tr_redis_url_parse("redis://[::1]:6400", &u, err, sizeof err), 0);
	cr_assert_str_eq(u.host, "::1");
	cr_assert_eq(u.port, 6400);
	cr_assert_eq(u.db, 0);
	cr_assert_str_eq(u.password, "");
	cr_assert_eq(tr_redis_url_parse("redis://h", &u, err, sizeof err), 0);
	cr_assert_eq(u.port, 6379);
	cr_assert_eq(tr_redis_url_parse("unix:///tmp/x.sock?db=4", &u, err, sizeof err), 0);
	cr_assert_eq(u.is_unix, 1);
	cr_assert_str_eq(u.path, "/tmp/x.sock");
	cr_assert_eq(u.db, 4);

	/* The config plumbing hands redis... directives to check(), naming the line. */
	struct tr_mirror_args a = {0};
	struct tr_mirror_stats st = {0};
	atomic_int stop = 1;
	struct tr_mirror_opt o = {"redis-pipeline", "0", "test.conf:7"};
	a.instance = "nowhere", a.opts = &o, a.nopts = 1, a.stop = &stop, a.stats = &st;
	cr_assert_eq(tr_mirror_redis.run(&a), -EINVAL);
	cr_assert_not_null(strstr(tr_errmsg(), "test.conf:7"), "%s", tr_errmsg());
	cr_assert_eq(tr_mirror_find("redis-url"), &tr_mirror_redis);

	/* tickringd refuses a bad value in its config file, naming the line. */
	const char *dir = tmpdir();
	char conf[128], log[128], line[512] = "";
	snprintf(conf, sizeof conf, "%s/rd.conf", dir);
	snprintf(log, sizeof log, "%s/tickringd.log", dir);
	FILE *f = fopen(conf, "w");
	fputs("redis-url redis://127.0.0.1\nredis-kinds trades,books\n", f);
	fclose(f);
	char *argv[] = {(char *)"tickringd", (char *)"--config",  conf,
			(char *)"--replay",  (char *)"/dev/null", NULL};
	pid_t pid = e2e_spawn(argv, NULL, log);
	int status;
	waitpid(pid, &status, 0);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) != 0, "tickringd accepted it");
	f = fopen(log, "r");
	cr_assert_not_null(f);
	while (fgets(line, sizeof line, f) && !strstr(line, "rd.conf:2"))
		;
	fclose(f);
	cr_assert_not_null(strstr(line, "rd.conf:2: redis-kinds: 'books': unknown kind"), "%s",
			   line);
}

/* ---- Pub/sub ---- */

struct expect {
	char chan[160];
	char json[TR_FORMAT_BUFSZ];
};

Test(redis, every_record_is_published_on_its_channel_in_order_as_its_json)
{
	static struct rsrv s;
	static struct rsub all, btc;
	static struct mrun m;
	static struct expect ex[2000];
	const char *inst = instance();
	int b, e, n = 0;
	struct tr_writer *w = market(inst, 4096, &b, &e);
	struct tr_region *r = reader(inst);
	uint64_t epoch = tr_region_epoch(r);

	rs_start(&s);
	subscribe(&s, &all, "PSUBSCRIBE", "tickring:*");
	subscribe(&s, &btc, "SUBSCRIBE", "tickring:trades:binance:BTCUSDT");
	sub_ready(&all);
	sub_ready(&btc);
	m.inst = inst;
	mr_opt(&m, "redis-url", "redis://127.0.0.1:%d", s.port);
	mr_opt(&m, "redis-latest-ms", "0");
	mr_start(&m);
	WAIT_FOR(LD(m.st.connected), 10, "the mirror never connected");

	/* Every kind, both symbols, and an event about no symbol. */
	for (uint64_t i = 0; i < 1500; i++) {
		union {
			struct tr_trade t;
			struct tr_quote q;
			struct tr_candle c;
			struct tr_event ev;
		} rec;
		unsigned kind, sym = i % 3 ? (unsigned)b : (unsigned)e;
		if (i % 50 == 49) {
			kind = TR_KIND_CANDLE;
			mk_candle(&rec.c, sym, 0, i % 100 == 49 ? 60 : 3600, i);
		} else if (i % 100 == 98) {
			kind = TR_KIND_EVENT;
			memset(&rec.ev, 0, sizeof rec.ev);
			rec.ev.ts_event = rec.ev.ts_recv = BASE_TS + (int64_t)i;
			rec.ev.symbol_id = i % 200 == 198 ? UINT32_MAX : sym;
			rec.ev.type = rec.ev.symbol_id == UINT32_MAX ? TR_EV_FEED_UP : TR_EV_GAP;
			if (rec.ev.type == TR_EV_FEED_UP)
				snprintf(rec.ev.u.text, sizeof rec.ev.u.text,
					 "ws://127.0.0.1:9/\"x\"");
			else
				rec.ev.u.gap = (struct tr_ev_gap){100, 105, 5, 0, 0};
		} else if (i % 4 == 3) {
			kind = TR_KIND_QUOTE;
			mk_quote(&rec.q, sym, 0, i);
		} else {
			kind = TR_KIND_TRADE;
			mk_trade(&rec.t, sym, 0, i);
		}
		tr_writer_publish(w, kind, &rec);
		if (i % 64 == 0)
			tr_writer_commit(w);
		struct expect *x = &ex[n++];
		cr_assert_gt(tr_format_json(r, kind, &rec, epoch, x->json, sizeof x->json), 0);
		const char *sn = sym == (unsigned)b ? "BTCUSDT" : "ETHUSDT";
		if (kind == TR_KIND_TRADE)
			snprintf(x->chan, sizeof x->chan, "tickring:trades:binance:%s", sn);
		else if (kind == TR_KIND_QUOTE)
			snprintf(x->chan, sizeof x->chan, "tickring:quotes:binance:%s", sn);
		else if (kind == TR_KIND_CANDLE)
			snprintf(x->chan, sizeof x->chan, "tickring:candles:%s:binance:%s",
				 rec.c.interval_s == 60 ? "1m" : "1h", sn);
		else
			snprintf(x->chan, sizeof x->chan, "tickring:events:binance:%s",
				 rec.ev.symbol_id == UINT32_MAX ? "-" : sn);
	}
	tr_writer_commit(w);

	/* PSUBSCRIBE sees all of them; per channel, in publishing order. */
	int next[2000] = {0}, got = 0;
	while (got < n && sub_msg(&all, 10 * SEC)) {
		int i;
		for (i = 0; i < n; i++)
			if (!next[i] && !strcmp(ex[i].chan, all.line[1]))
				break;
		cr_assert_lt(i, n, "unexpected message on %s: %s", all.line[1], all.line[2]);
		cr_assert_str_eq(all.line[2], ex[i].json, "on %s", ex[i].chan);
		next[i] = 1;
		got++;
	}
	cr_assert_eq(got, n, "PSUBSCRIBE got %d of %d", got, n);
	cr_assert_not(sub_msg(&all, SEC / 5), "more than was published: %s", all.line[2]);
	/* SUBSCRIBE on one channel: exactly its trades, in order. */
	got = 0;
	for (int i = 0; i < n; i++) {
		if (strcmp(ex[i].chan, "tickring:trades:binance:BTCUSDT"))
			continue;
		cr_assert(sub_msg(&btc, 10 * SEC), "BTCUSDT trade %d missing", got);
		cr_assert_str_eq(btc.line[1], ex[i].chan);
		cr_assert_str_eq(btc.line[2], ex[i].json);
		got++;
	}
	cr_assert_gt(got, 500);
	cr_assert_not(sub_msg(&btc, SEC / 5), "more than was published");

	WAIT_FOR(LD(m.st.delivered) == (uint64_t)n, 10, "delivered %llu of %d",
		 (unsigned long long)LD(m.st.delivered), n);
	cr_assert_eq(mr_stop(&m), 0);
	cr_assert_eq(LD(m.st.sent), (uint64_t)n);
	cr_assert_eq(LD(m.st.redis_published), (uint64_t)n);
	cr_assert_eq(LD(m.st.redis_receivers), (uint64_t)(n + got), "each reached its listeners");
	cr_assert_eq(LD(m.st.dropped), 0);
	cr_assert_eq(LD(m.st.failed), 0);
	cr_assert_eq(LD(m.st.lost), 0);
	uint64_t reads = 0;
	for (int k = 0; k < TR_NKINDS; k++) {
		reads += LD(m.st.read[k]);
		cr_assert_eq(LD(m.st.checkpoint[k]), tr_region_head(r, (unsigned)k),
			     "kind %d watermark", k);
	}
	cr_assert_eq(reads, (uint64_t)n);
	cr_assert_eq(LD(m.st.kinds), 0xfu);
	sub_end(&all);
	sub_end(&btc);
	tr_region_close(r);
	tr_writer_close(w);
}

/* A server that stops reading for a while (SIGSTOP) with a window far larger
 * than the kernel's socket buffers: the mirror's writes come back short, it
 * keeps the rest, waits for room and goes on. Once the server runs again
 * every record arrives, in order, byte for byte, and nothing is dropped. */
Test(redis, a_stalled_server_gets_every_record_in_order_when_it_resumes)
{
	enum { N = 40000 };
	static struct rsrv s;
	static struct rsub sub;
	static struct mrun m;
	static char want[TR_FORMAT_BUFSZ];
	const char *inst = instance();
	int b, e;
	struct tr_writer *w = market(inst, 1 << 16, &b, &e);
	struct tr_region *r = reader(inst);
	uint64_t epoch = tr_region_epoch(r);
	struct tr_trade t;

	rs_start(&s);
	subscribe(&s, &sub, "SUBSCRIBE", "tickring:trades:binance:BTCUSDT");
	sub_ready(&sub);
	m.inst = inst;
	mr_opt(&m, "redis-url", "redis://127.0.0.1:%d", s.port);
	mr_opt(&m, "redis-latest-ms", "0");
	mr_opt(&m, "redis-kinds", "trades");
	mr_opt(&m, "redis-pipeline", "16384"); /* 65536 in flight: all N, about 12 MB */
	mr_start(&m);
	WAIT_FOR(LD(m.st.connected), 10, "the mirror never connected");

	cr_assert_eq(kill(s.pid, SIGSTOP), 0);
	for (uint64_t i = 0; i < N; i++) {
		mk_trade(&t, (unsigned)b, 0, i);
		tr_writer_publish(w, TR_KIND_TRADE, &t);
		if (i % 64 == 63)
			tr_writer_commit(w);
	}
	tr_writer_commit(w);
	WAIT_FOR(LD(m.st.sent) == N, 10, "the mirror took %llu of %d",
		 (unsigned long long)LD(m.st.sent), N);
	usleep(300000); /* it writes what the kernel takes, then waits */
	cr_assert_eq(LD(m.st.delivered), 0);
	cr_assert_eq(LD(m.st.connected), 1);
	cr_assert_eq(kill(s.pid, SIGCONT), 0);

	for (uint64_t i = 0; i < N; i++) {
		mk_trade(&t, (unsigned)b, 0, i);
		t.seq = i + 1;
		cr_assert_gt(tr_format_json(r, TR_KIND_TRADE, &t, epoch, want, sizeof want), 0);
		cr_assert(sub_msg(&sub, 20 * SEC), "trade %llu of %d missing",
			  (unsigned long long)i, N);
		cr_assert_str_eq(sub.line[2], want, "trade %llu", (unsigned long long)i);
	}
	cr_assert_not(sub_msg(&sub, SEC / 5), "more than was published");
	WAIT_FOR(LD(m.st.delivered) == N, 20, "delivered %llu of %d",
		 (unsigned long long)LD(m.st.delivered), N);
	cr_assert_eq(mr_stop(&m), 0);
	cr_assert_eq(LD(m.st.redis_receivers), N);
	cr_assert_eq(LD(m.st.dropped), 0);
	cr_assert_eq(LD(m.st.failed), 0);
	cr_assert_eq(LD(m.st.reconnects), 1);
	sub_end(&sub);
	tr_region_close(r);
	tr_writer_close(w);
}

/* ---- Hashes ---- */

static void latest_trade(struct tr_writer *w, const struct tr_trade *t)
{
	struct tr_latest *l = tr_latest_begin(w, t->symbol_id);

	tr_latest_put(l, &l->trade, t, sizeof *t);
	tr_latest_mark(l, TR_LATEST_TRADE);
	tr_latest_end(l);
}

Test(redis, hashes_hold_the_latest_table_and_are_coalesced)
{
	static struct rsrv s;
	static struct mrun m;
	const char *inst = instance();
	int b, e;
	struct tr_writer *w = market(inst, 1024, &b, &e);
	struct tr_region *r = reader(inst);
	struct tr_trade t;
	struct tr_quote q;
	struct tr_candle c;
	struct tr_stats24h x = {0};
	char want[TR_FORMAT_BUFSZ];
	struct hash h;

	/* The trade and quote are published (seq from the ring) and kept as latest. */
	mk_trade(&t, (unsigned)b, 0, 0);
	t.qty = 100000, t.side = TR_SIDE_SELL, t.flags = TR_TRADE_GAP | TR_TRADE_AGG,
	t.trade_count = 3;
	tr_writer_publish(w, TR_KIND_TRADE, &t);
	mk_quote(&q, (unsigned)b, 0, 0);
	tr_writer_publish(w, TR_KIND_QUOTE, &q);
	mk_candle(&c, (unsigned)b, 0, 60, 0);
	c.flags = 0; /* the current, open candle */
	tr_writer_publish(w, TR_KIND_CANDLE, &c);
	x.last = 6183763000000, x.open = 6262000000000, x.high = 6300000000000;
	x.low = 6100000000000, x.change = -78237000000, x.change_pct = -124939000;
	x.volume = 1234500000000, x.quote_volume = 76543210000000000, x.trade_count = 19904;
	x.open_time = BASE_TS - 86400 * SEC, x.close_time = BASE_TS, x.first_trade_id = 1;
	x.last_trade_id = 3600000000, x.vwap = 6200012345678, x.ts_update = BASE_TS;
	struct tr_latest *l = tr_latest_begin(w, (unsigned)b);
	tr_latest_put(l, &l->trade, &t, sizeof t);
	tr_latest_put(l, &l->quote, &q, sizeof q);
	tr_latest_put(l, &l->stats, &x, sizeof x);
	tr_latest_put(l, &l->candles[1], &c, sizeof c); /* geometry: 1s 1m 5m 15m 1h 1d */
	tr_latest_mark(l,
		       TR_LATEST_TRADE | TR_LATEST_QUOTE | TR_LATEST_STATS | TR_LATEST_CANDLE(1));
	tr_latest_end(l);
	tr_writer_commit(w);

	rs_start(&s);
	m.inst = inst;
	mr_opt(&m, "redis-url", "unix://%s", s.sock);
	mr_opt(&m, "redis-latest-ms", "200");
	mr_start(&m);
	WAIT_FOR(LD(m.st.redis_hash_writes) >= 2, 10, "no hash written");

	hgetall(&s, "tickring:latest:binance:BTCUSDT", &h, NULL);
	cr_assert_gt(tr_format_json(r, TR_KIND_TRADE, &t, tr_region_epoch(r), want, sizeof want),
		     0);
	HEQ(&h, "trade", want);
	HEQ(&h, "trade.price", "61837.63");
	HEQ(&h, "trade.qty", "0.001");
	HEQ(&h, "trade.side", "sell");
	HEQ(&h, "trade.trade_id", "3600000000");
	HEQ(&h, "trade.trade_count", "3");
	HEQ(&h, "trade.flags", "[\"agg\",\"gap\"]");
	HEQ(&h, "trade.seq", "1");
	HEQ(&h, "trade.ts_event", "1723161600000000000");
	cr_assert_gt(tr_format_json(r, TR_KIND_QUOTE, &q, tr_region_epoch(r), want, sizeof want),
		     0);
	HEQ(&h, "quote", want);
	HEQ(&h, "quote.bid_px", "2651.1");
	HEQ(&h, "quote.bid_qty", "1.5");
	HEQ(&h, "quote.ask_px", "2651.11");
	HEQ(&h, "quote.ask_qty", "0.00000001");
	HEQ(&h, "stats.last", "61837.63");
	HEQ(&h, "stats.open", "62620");
	HEQ(&h, "stats.change", "-782.37");
	HEQ(&h, "stats.change_pct", "-1.24939");
	HEQ(&h, "stats.volume", "12345");
	HEQ(&h, "stats.quote_volume", "765432100");
	HEQ(&h, "stats.trade_count", "19904");
	HEQ(&h, "stats.vwap", "62000.12345678");
	HEQ(&h, "stats.open_time", "1723075200000000000");
	cr_assert_null(hv(&h, "trade.type"), "type, venue and symbol are in the key");
	cr_assert_null(hv(&h, "trade.symbol"));
	/* 11 trade fields (the object and its 10 members past type, venue and
	 * symbol), 10 quote fields, 15 stats fields. */
	cr_assert_eq(h.n, 11 + 10 + 15, "%d fields", h.n);
	free(h.raw);

	hgetall(&s, "tickring:candle:1m:binance:BTCUSDT", &h, NULL);
	cr_assert_gt(tr_format_json(r, TR_KIND_CANDLE, &c, tr_region_epoch(r), want, sizeof want),
		     0);
	HEQ(&h, "candle", want);
	HEQ(&h, "candle.interval", "1m");
	HEQ(&h, "candle.open", "60000");
	HEQ(&h, "candle.high", "60100.5");
	HEQ(&h, "candle.volume", "12.3456789");
	HEQ(&h, "candle.final", "false");
	HEQ(&h, "candle.trade_count", "81");
	free(h.raw);
	char tmp[64];
	cli1(&s, tmp, sizeof tmp, "EXISTS", "tickring:latest:binance:ETHUSDT", NULL);
	cr_assert_str_eq(tmp, "0", "ETHUSDT has no latest values yet");

	/* Coalesced: a burst of 1000 updates between two passes costs a few
	 * writes, and the hash ends with the last one. */
	uint64_t w0 = LD(m.st.redis_hash_writes);
	for (uint64_t i = 1; i <= 1000; i++) {
		mk_trade(&t, (unsigned)b, 0, i);
		t.seq = 1000 + i;
		latest_trade(w, &t);
	}
	usleep(700000);
	uint64_t writes = LD(m.st.redis_hash_writes) - w0;
	cr_assert(writes >= 1 && writes <= 5, "%llu writes for one burst",
		  (unsigned long long)writes);
	hgetall(&s, "tickring:latest:binance:BTCUSDT", &h, NULL);
	HEQ(&h, "trade.seq", "2000");
	HEQ(&h, "trade.price", "61847.63");
	HEQ(&h, "trade.trade_id", "3600001000");
	free(h.raw);
	/* Nothing changes: nothing is written. */
	w0 = LD(m.st.redis_hash_writes);
	usleep(500000);
	cr_assert_eq(LD(m.st.redis_hash_writes), w0);

	/* A new symbol's first trade gets its own hash. */
	mk_trade(&t, (unsigned)e, 0, 5);
	t.seq = 7;
	latest_trade(w, &t);
	WAIT_FOR(LD(m.st.redis_hash_writes) > w0, 5, "ETHUSDT hash not written");
	hgetall(&s, "tickring:latest:binance:ETHUSDT", &h, NULL);
	HEQ(&h, "trade.price", "61837.68");
	cr_assert_eq(h.n, 11, "only the trade part: %d fields", h.n);
	free(h.raw);
	cr_assert_eq(mr_stop(&m), 0);
	cr_assert_eq(LD(m.st.redis_hash_errors), 0);
	tr_region_close(r);
	tr_writer_close(w);
}

/* ---- Streams ---- */

/* XRANGE key - + as (id, json) pairs; returns the count. */
struct entries {
	char *raw;
	uint64_t *id;
	char **json;
	int n;
};

static void xrange(const struct rsrv *s, const char *key, struct entries *x)
{
	char *save = NULL;
	int cap = 0;

	x->raw = cli(s, "XRANGE", key, "-", "+", NULL);
	x->n = 0;
	x->id = NULL;
	x->json = NULL;
	for (char *l = strtok_r(x->raw, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (x->n == cap) {
			cap = cap ? cap * 2 : 4096;
			x->id = realloc(x->id, (size_t)cap * sizeof *x->id);
			x->json = realloc(x->json, (size_t)cap * sizeof *x->json);
		}
		cr_assert(!strncmp(l, "0-", 2), "entry id '%s'", l);
		x->id[x->n] = strtoull(l + 2, NULL, 10);
		char *f = strtok_r(NULL, "\n", &save);
		cr_assert(f && !strcmp(f, "json"), "field '%s'", f ? f : "");
		x->json[x->n] = strtok_r(NULL, "\n", &save);
		cr_assert_not_null(x->json[x->n]);
		x->n++;
	}
}

static void entries_free(struct entries *x)
{
	free(x->raw);
	free(x->id);
	free(x->json);
}

/* Entries are seqs first..last, each the record's JSON as the ring has it. */
static void check_entries(const struct entries *x, struct tr_region *r, uint64_t first,
			  uint64_t last)
{
	struct tr_cursor c;
	struct tr_trade t;
	char want[TR_FORMAT_BUFSZ];

	cr_assert_eq((uint64_t)x->n, last - first + 1, "%d entries, want %llu..%llu", x->n,
		     (unsigned long long)first, (unsigned long long)last);
	cr_assert_eq(tr_cursor_init(&c, r, TR_KIND_TRADE, TR_JOIN_SEQ, first), 0);
	for (int i = 0; i < x->n; i++) {
		cr_assert_eq(x->id[i], first + (uint64_t)i, "entry %d is 0-%llu", i,
			     (unsigned long long)x->id[i]);
		cr_assert_eq(tr_poll(&c, &t), TR_POLL_RECORD, "seq %llu not in the ring",
			     (unsigned long long)x->id[i]);
		tr_format_json(r, TR_KIND_TRADE, &t, tr_region_epoch(r), want, sizeof want);
		cr_assert_str_eq(x->json[i], want, "entry 0-%llu", (unsigned long long)x->id[i]);
	}
}

static void publish_trades(struct tr_writer *w, int sym, uint64_t n, struct tr_journal *j,
			   struct tr_uring *u)
{
	struct tr_trade t;

	for (uint64_t i = 0; i < n; i++) {
		uint64_t seq = w->rings[TR_KIND_TRADE].next;
		mk_trade(&t, (unsigned)sym, 0, seq);
		tr_writer_publish(w, TR_KIND_TRADE, &t);
		if (j) {
			cr_assert_eq(tr_journal_append(j, TR_KIND_TRADE, &t), 0);
			if (i % 64 == 63) {
				tr_journal_flush(j);
				tr_uring_reap(u);
			}
		}
		if (i % 256 == 255)
			tr_writer_commit(w);
	}
	tr_writer_commit(w);
	for (int i = 0; j && i < 1000 && tr_journal_pending(j); i++) {
		tr_journal_flush(j);
		tr_uring_wait(u, 10000000);
		tr_uring_reap(u);
	}
}

Test(redis, streams_are_trimmed_to_maxlen_and_hold_the_newest_records)
{
	static struct rsrv s;
	static struct mrun m;
	struct entries x;
	const char *inst = instance();
	int b, e;
	struct tr_writer *w = market(inst, 4096, &b, &e);
	struct tr_region *r = reader(inst);
	char len[32];

	rs_start(&s);
	m.inst = inst;
	mr_opt(&m, "redis-url", "unix://%s", s.sock);
	mr_opt(&m, "redis-kinds", "trades");
	mr_opt(&m, "redis-latest-ms", "0");
	mr_opt(&m, "redis-streams", "yes");
	mr_opt(&m, "redis-stream-maxlen", "100");
	mr_opt(&m, "redis-pipeline", "64");
	mr_start(&m);
	WAIT_FOR(LD(m.st.connected), 10, "never connected");
	publish_trades(w, b, 3000, NULL, NULL);
	WAIT_FOR(LD(m.st.checkpoint[TR_KIND_TRADE]) == 3000, 20, "watermark %llu",
		 (unsigned long long)LD(m.st.checkpoint[TR_KIND_TRADE]));
	cr_assert_eq(mr_stop(&m), 0);
	cr_assert_eq(LD(m.st.redis_stream_added), 3000);
	cr_assert_eq(LD(m.st.redis_published), 3000);
	cr_assert_eq(LD(m.st.redis_stream_read), 3000);

	/* MAXLEN ~ 100 trims whole nodes (100 entries each): 100 to 199 stay. */
	long n = atol(cli1(&s, len, sizeof len, "XLEN", "tickring:stream:trades", NULL));
	cr_assert(n >= 100 && n < 200, "XLEN %ld", n);
	xrange(&s, "tickring:stream:trades", &x);
	check_entries(&x, r, 3000 - (uint64_t)n + 1, 3000);
	entries_free(&x);
	cli1(&s, len, sizeof len, "EXISTS", "tickring:stream:quotes", NULL);
	cr_assert_str_eq(len, "0", "only the kinds asked for");
	tr_region_close(r);
	tr_writer_close(w);
}

Test(redis, streams_resume_after_the_checkpoint_from_the_journal_without_duplicates)
{
	static struct rsrv s;
	static struct mrun m;
	struct entries x;
	const char *inst = instance(), *dir = tmpdir();
	char jdir[128], ckpt[160], buf[256];
	int b, e;
	struct tr_uring u;
	struct tr_journal *j;
	struct tr_journal_config jc;

	snprintf(jdir, sizeof jdir, "%s/journal", dir);
	snprintf(ckpt, sizeof ckpt, "%s/redis.checkpoint", jdir);
	tr_journal_config_default(&jc);
	jc.dir = jdir;
	jc.segment_records = 1024;
	cr_assert_eq(tr_uring_init(&u, 64), 0);
	cr_assert_eq(tr_journal_open(&j, &u, &jc), 0, "%s", tr_errmsg());
	struct tr_writer *w = market(inst, 1024, &b, &e);
	struct tr_region *r = reader(inst);

	rs_start(&s);
	m.inst = inst;
	m.jdir = jdir; /* the checkpoint goes beside the journal */
	mr_opt(&m, "redis-url", "unix://%s", s.sock);
	mr_opt(&m, "redis-kinds", "trades");
	mr_opt(&m, "redis-latest-ms", "0");
	mr_opt(&m, "redis-streams", "yes");
	mr_opt(&m, "redis-stream-maxlen", "0");
	mr_start(&m);
	WAIT_FOR(LD(m.st.connected), 10, "never connected");
	publish_trades(w, b, 500, j, &u);
	WAIT_FOR(LD(m.st.checkpoint[TR_KIND_TRADE]) == 500, 20, "watermark");
	cr_assert_eq(mr_stop(&m), 0);
	FILE *f = fopen(ckpt, "r");
	cr_assert_not_null(f, "no checkpoint file %s", ckpt);
	cr_assert_not_null(fgets(buf, sizeof buf, f));
	fclose(f);
	cr_assert_str_eq(buf, "trades 500\n");

	/* While the mirror is away, 3000 more lap the 1024-slot ring: the
	 * stream catches up from the journal. */
	publish_trades(w, b, 3000, j, &u);
	mr_start(&m);
	WAIT_FOR(LD(m.st.checkpoint[TR_KIND_TRADE]) == 3500, 30, "watermark %llu",
		 (unsigned long long)LD(m.st.checkpoint[TR_KIND_TRADE]));
	cr_assert_eq(mr_stop(&m), 0);
	cr_assert_eq(LD(m.st.redis_stream_added), 3000);
	cr_assert_gt(LD(m.st.redis_stream_from_journal), 1500);
	cr_assert_eq(LD(m.st.redis_stream_lost), 0);
	cr_assert_eq(LD(m.st.redis_stream_dups), 0);
	cr_assert_eq(LD(m.st.sent), 3000, "pub/sub starts at the head: only XADDs");
	xrange(&s, "tickring:stream:trades", &x);
	cr_assert_eq(x.n, 3500);
	for (int i = 0; i < x.n; i++)
		cr_assert_eq(x.id[i], (uint64_t)i + 1);
	/* The ring holds the last 1024: those match it; every entry is a trade
	 * of its seq. */
	for (int i = 0; i < x.n; i++) {
		char want[32];
		snprintf(want, sizeof want, "\"seq\":%d,", i + 1);
		cr_assert_not_null(strstr(x.json[i], want), "entry %d: %s", i, x.json[i]);
	}
	struct entries *tail = &x;
	tail->n = 1000;
	for (int i = 0; i < 1000; i++) {
		tail->id[i] = tail->id[2500 + i];
		tail->json[i] = tail->json[2500 + i];
	}
	check_entries(tail, r, 2501, 3500);
	entries_free(&x);

	/* A crash before the checkpoint was written: what is resent is refused. */
	f = fopen(ckpt, "w");
	fputs("trades 1000\n", f);
	fclose(f);
	mr_start(&m);
	WAIT_FOR(LD(m.st.redis_stream_dups) == 2500, 30, "dups %llu",
		 (unsigned long long)LD(m.st.redis_stream_dups));
	WAIT_FOR(LD(m.st.checkpoint[TR_KIND_TRADE]) == 3500, 10, "watermark");
	cr_assert_eq(mr_stop(&m), 0);
	cr_assert_eq(LD(m.st.redis_stream_added), 0);
	cr_assert_eq(LD(m.st.failed), 0);
	cli1(&s, buf, sizeof buf, "XLEN", "tickring:stream:trades", NULL);
	cr_assert_str_eq(buf, "3500");
	f = fopen(ckpt, "r");
	cr_assert_not_null(fgets(buf, sizeof buf, f));
	fclose(f);
	cr_assert_str_eq(buf, "trades 3500\n");

	cr_assert_eq(tr_journal_close(j), 0);
	tr_uring_exit(&u);
	tr_region_close(r);
	tr_writer_close(w);
}

/* ---- URLs, AUTH, databases ---- */

/* Run the mirror with url (and password), publish one trade and wait for
 * its hash; returns the mirror's stats through m. */
static void mirror_once(struct mrun *m, const char *inst, struct tr_writer *w, int sym,
			const char *url, const char *password, uint64_t i)
{
	struct tr_trade t;

	memset(m, 0, sizeof *m);
	m->inst = inst;
	mr_opt(m, "redis-url", "%s", url);
	if (password)
		mr_opt(m, "redis-password", "%s", password);
	mr_opt(m, "redis-latest-ms", "20");
	mr_start(m);
	WAIT_FOR(LD(m->st.connected), 10, "no connection to %s", url);
	mk_trade(&t, (unsigned)sym, 0, i);
	tr_writer_publish(w, TR_KIND_TRADE, &t);
	latest_trade(w, &t);
	tr_writer_commit(w);
	WAIT_FOR(LD(m->st.redis_hash_writes) >= 1 && LD(m->st.delivered) == 1, 10,
		 "nothing written through %s", url);
	cr_assert_eq(mr_stop(m), 0);
}

Test(redis, urls_select_the_database_and_authenticate)
{
	static struct rsrv s = {.pass = "p@ss:w/rd"};
	static struct mrun m;
	const char *inst = instance();
	char url[256], v[128];
	int b, e;
	struct tr_writer *w = market(inst, 1024, &b, &e);

	rs_start(&s);
	/* redis:// with a %-encoded password and database 3. */
	snprintf(url, sizeof url, "redis://:p%%40ss%%3Aw%%2Frd@127.0.0.1:%d/3", s.port);
	mirror_once(&m, inst, w, b, url, NULL, 1);
	cli1(&s, v, sizeof v, "-n", "3", "HGET", "tickring:latest:binance:BTCUSDT", "trade.price",
	     NULL);
	cr_assert_str_eq(v, "61837.64");
	cli1(&s, v, sizeof v, "-n", "0", "EXISTS", "tickring:latest:binance:BTCUSDT", NULL);
	cr_assert_str_eq(v, "0", "nothing in database 0");

	/* unix:// with ?db=5 and the password from redis-password. */
	snprintf(url, sizeof url, "unix://%s?db=5", s.sock);
	mirror_once(&m, inst, w, b, url, "p@ss:w/rd", 2);
	cli1(&s, v, sizeof v, "-n", "5", "HGET", "tickring:latest:binance:BTCUSDT", "trade.price",
	     NULL);
	cr_assert_str_eq(v, "61837.65");

	/* An ACL user. */
	cli1(&s, v, sizeof v, "ACL", "SETUSER", "feed", "on", ">feedpw", "~*", "&*", "+@all", NULL);
	cr_assert_str_eq(v, "OK");
	snprintf(url, sizeof url, "redis://feed:feedpw@127.0.0.1:%d/7", s.port);
	mirror_once(&m, inst, w, b, url, NULL, 3);
	cli1(&s, v, sizeof v, "-n", "7", "HGET", "tickring:latest:binance:BTCUSDT", "trade.price",
	     NULL);
	cr_assert_str_eq(v, "61837.66");

	/* A wrong password: no connection, no crash, retried until stopped. */
	snprintf(url, sizeof url, "redis://:wrong@127.0.0.1:%d", s.port);
	memset(&m, 0, sizeof m);
	m.inst = inst;
	mr_opt(&m, "redis-url", "%s", url);
	mr_start(&m);
	usleep(600000);
	struct tr_trade t;
	mk_trade(&t, (unsigned)b, 0, 4);
	tr_writer_publish(w, TR_KIND_TRADE, &t);
	tr_writer_commit(w);
	WAIT_FOR(LD(m.st.dropped) == 1, 10, "the trade was not counted as dropped");
	cr_assert_eq(LD(m.st.connected), 0);
	cr_assert_eq(LD(m.st.reconnects), 0);
	cr_assert_eq(LD(m.st.sent), 0);
	WAIT_FOR(LD(m.st.checkpoint[TR_KIND_TRADE]) == 4, 10, "dropped counts as done");
	cr_assert_eq(mr_stop(&m), 0);
	tr_writer_close(w);
}

/* ---- Redis down and back ---- */

Test(redis, redis_killed_and_restarted_drops_pubsub_and_catches_up_streams_and_hashes)
{
	static struct rsrv s = {.aof = 1};
	static struct rsub sub;
	static struct mrun m;
	struct entries x;
	const char *inst = instance(), *dir = tmpdir();
	char v[64];
	int b, e;
	struct tr_writer *w = market(inst, 65536, &b, &e);
	struct tr_region *r = reader(inst);
	struct tr_trade t;
	struct hash h;

	mk_trade(&t, (unsigned)b, 0, 99);
	t.seq = 12345;
	latest_trade(w, &t);
	rs_start(&s);
	subscribe(&s, &sub, "SUBSCRIBE", "tickring:trades:binance:BTCUSDT");
	sub_ready(&sub);
	m.inst = inst;
	mr_opt(&m, "redis-url", "redis://127.0.0.1:%d", s.port);
	mr_opt(&m, "redis-kinds", "trades");
	mr_opt(&m, "redis-latest-ms", "50");
	mr_opt(&m, "redis-streams", "yes");
	mr_opt(&m, "redis-stream-maxlen", "0");
	mr_opt(&m, "redis-checkpoint", "%s/ckpt", dir);
	mr_start(&m);
	WAIT_FOR(LD(m.st.connected), 10, "never connected");

	publish_trades(w, b, 1000, NULL, NULL);
	WAIT_FOR(LD(m.st.checkpoint[TR_KIND_TRADE]) == 1000, 20, "batch A not delivered");
	for (int i = 0; i < 1000; i++)
		cr_assert(sub_msg(&sub, 10 * SEC), "batch A message %d missing", i);
	sub_end(&sub);
	/* Unchanged values are not rewritten... */
	WAIT_FOR(LD(m.st.redis_hash_writes) >= 1, 10, "no hash");
	cli1(&s, v, sizeof v, "DEL", "tickring:latest:binance:BTCUSDT", NULL);
	usleep(300000);
	cli1(&s, v, sizeof v, "EXISTS", "tickring:latest:binance:BTCUSDT", NULL);
	cr_assert_str_eq(v, "0");

	/* ...until Redis comes back. Meanwhile pub/sub is dropped, streams wait. */
	rs_kill(&s);
	publish_trades(w, b, 1000, NULL, NULL);
	WAIT_FOR(LD(m.st.dropped) == 1000, 20, "dropped %llu of batch B",
		 (unsigned long long)LD(m.st.dropped));
	WAIT_FOR(!LD(m.st.connected), 10, "the outage went unnoticed");
	cr_assert_geq(LD(m.st.failed), 1, "batch B's first commands had no reply");
	cr_assert_eq(LD(m.st.read[TR_KIND_TRADE]), 2000, "pub/sub drained the ring");
	usleep(200000);
	cr_assert_eq(LD(m.st.checkpoint[TR_KIND_TRADE]), 1000, "the streams wait");

	rs_start(&s);
	WAIT_FOR(LD(m.st.checkpoint[TR_KIND_TRADE]) == 2000, 20, "streams did not catch up (%llu)",
		 (unsigned long long)LD(m.st.checkpoint[TR_KIND_TRADE]));
	cr_assert_geq(LD(m.st.reconnects), 2); /* more if it found Redis still loading */
	xrange(&s, "tickring:stream:trades", &x);
	check_entries(&x, r, 1, 2000);
	entries_free(&x);
	WAIT_FOR(atol(cli1(&s, v, sizeof v, "EXISTS", "tickring:latest:binance:BTCUSDT", NULL)) ==
		     1,
		 10, "hash not rewritten");
	hgetall(&s, "tickring:latest:binance:BTCUSDT", &h, NULL);
	HEQ(&h, "trade.seq", "12345");
	HEQ(&h, "trade.price", "61838.62");
	free(h.raw);

	/* Pub/sub is live again. */
	subscribe(&s, &sub, "SUBSCRIBE", "tickring:trades:binance:BTCUSDT");
	sub_ready(&sub);
	publish_trades(w, b, 10, NULL, NULL);
	for (int i = 0; i < 10; i++) {
		char want[32];
		cr_assert(sub_msg(&sub, 10 * SEC), "batch C message %d missing", i);
		snprintf(want, sizeof want, "\"seq\":%d,", 2001 + i);
		cr_assert_not_null(strstr(sub.line[2], want), "%s", sub.line[2]);
	}
	cr_assert_not(sub_msg(&sub, SEC / 5), "nothing of the outage is replayed to pub/sub");
	WAIT_FOR(LD(m.st.checkpoint[TR_KIND_TRADE]) == 2010, 10, "batch C");
	cr_assert_eq(mr_stop(&m), 0);
	cr_assert_eq(LD(m.st.dropped), 1000);
	cr_assert_eq(LD(m.st.sent), LD(m.st.delivered) + LD(m.st.failed));
	cr_assert_eq(LD(m.st.redis_published), 1010);
	cr_assert_eq(LD(m.st.redis_stream_added) + LD(m.st.redis_stream_dups), 2010);
	cli1(&s, v, sizeof v, "XLEN", "tickring:stream:trades", NULL);
	cr_assert_str_eq(v, "2010");
	sub_end(&sub);
	tr_region_close(r);
	tr_writer_close(w);
}

/* ---- Through tickringd ---- */

static const char *const days[] = {
    "binance-spot/btcusdt_20240808.gz", "binance-spot/btcusdt_20240809.gz",
    "binance-spot/ethusdt_20240808.gz", "binance-spot/ethusdt_20240809.gz"};

/* The subscriber's messages, kept while tickringd runs. */
struct msgs {
	char **payload;
	int n, cap;
};

static void keep(struct msgs *ms, struct rsub *u, int64_t timeout)
{
	while (sub_msg(u, timeout)) {
		if (ms->n == ms->cap) {
			ms->cap = ms->cap ? ms->cap * 2 : 4096;
			ms->payload = realloc(ms->payload, (size_t)ms->cap * sizeof *ms->payload);
		}
		ms->payload[ms->n++] = strdup(u->line[2]);
	}
}

/* tickringd --replay of the four recorded days with argv's extra directives. */
static pid_t replay(const char *inst, const char *log, const char *const *extra)
{
	static char p[4][600];
	char *argv[64] = {(char *)"tickringd", (char *)"--instance", (char *)inst,
			  (char *)"--dead-letter", (char *)"/dev/null"};
	int n = 5;

	for (const char *const *e = extra; *e; e++)
		argv[n++] = (char *)*e;
	argv[n++] = (char *)"--replay";
	for (int i = 0; i < 4; i++) {
		snprintf(p[i], sizeof p[i], "%s/%s", e2e_data(), days[i]);
		argv[n++] = p[i];
	}
	argv[n] = NULL;
	pid_t pid = e2e_spawn(argv, NULL, log);
	track(pid);
	return pid;
}

static int reap(pid_t pid)
{
	int st;

	cr_assert_eq(waitpid(pid, &st, 0), pid);
	untrack(pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The numbers of tickringd's "<name> mirror: ... sent, ..." line. */
struct mline {
	unsigned long long sent, delivered, journal, dropped, failed, lost;
	unsigned long long published, receivers, s_added, s_dups, s_journal, s_lost;
};

static void mirror_line(const char *log, struct mline *ml)
{
	char line[1024];
	int found = 0, found2 = 0;
	FILE *f = fopen(log, "r");

	cr_assert_not_null(f);
	while (fgets(line, sizeof line, f)) {
		const char *p = strstr(line, "redis mirror: ");
		if (p && sscanf(p,
				"redis mirror: %llu sent, %llu delivered, %llu from the journal, "
				"%llu dropped, %llu failed, %llu lost",
				&ml->sent, &ml->delivered, &ml->journal, &ml->dropped, &ml->failed,
				&ml->lost) == 6)
			found = 1;
		p = strstr(line, "pub/sub ");
		if (strstr(line, "redis: stopped") && p &&
		    sscanf(p,
			   "pub/sub %llu published to %llu subscribers; streams %llu added, %llu "
			   "duplicates refused, %llu from the journal, %llu lost",
			   &ml->published, &ml->receivers, &ml->s_added, &ml->s_dups,
			   &ml->s_journal, &ml->s_lost) == 6)
			found2 = 1;
	}
	fclose(f);
	cr_assert(found && found2, "no mirror statistics in %s", log);
}

/* The stream has exactly the seqs 1..head, and its last entry is that record. */
static void stream_complete(const struct rsrv *s, struct tr_region *r, unsigned kind)
{
	char key[64], v[TR_FORMAT_BUFSZ + 64], want[TR_FORMAT_BUFSZ];
	uint64_t head = tr_region_head(r, kind);
	static const char *const names[] = {"trades", "quotes", "candles", "events"};

	snprintf(key, sizeof key, "tickring:stream:%s", names[kind]);
	cr_assert_gt(head, 0);
	cli1(s, v, sizeof v, "XLEN", key, NULL);
	cr_assert_eq(strtoull(v, NULL, 10), head, "%s: XLEN %s, head %llu", key, v,
		     (unsigned long long)head);
	cli1(s, v, sizeof v, "XRANGE", key, "-", "+", "COUNT", "1", NULL);
	cr_assert_str_eq(v, "0-1", "%s starts at seq 1", key);
	char *last = cli(s, "XREVRANGE", key, "+", "-", "COUNT", "1", NULL);
	char id[32];
	snprintf(id, sizeof id, "0-%llu\njson\n", (unsigned long long)head);
	cr_assert(!strncmp(last, id, strlen(id)), "%s ends with %.40s", key, last);
	/* Entries are unique ids in [1, head], as many as head: every seq once. */
	union {
		struct tr_trade t;
		struct tr_event e;
		uint64_t w[16];
	} rec;
	struct tr_cursor c;
	/* Not for events: engine_start is published before any venue is
	 * registered, so its JSON names venue 0 "?" or "binance" depending on
	 * when it was read. */
	if (kind != TR_KIND_EVENT && tr_cursor_init(&c, r, kind, TR_JOIN_SEQ, head) == 0 &&
	    tr_poll(&c, &rec) == TR_POLL_RECORD) {
		tr_format_json(r, kind, &rec, tr_region_epoch(r), want, sizeof want);
		char *j = last + strlen(id);
		j[strcspn(j, "\n")] = 0;
		cr_assert_str_eq(j, want, "%s's last entry:\n%s\nwant\n%s", key, j, want);
	}
	free(last);
}

static void latest_hash_is_the_last_trade(const struct rsrv *s, struct tr_region *r,
					  const char *sym)
{
	struct tr_trade t;
	struct hash h;
	char key[96], want[TR_FORMAT_BUFSZ], px[TR_FIXED_BUFSZ];
	int id = tr_symbol_find(r, "binance", sym);

	cr_assert_geq(id, 0);
	cr_assert_eq(tr_latest_trade(r, (uint32_t)id, &t), 0);
	tr_format_json(r, TR_KIND_TRADE, &t, tr_region_epoch(r), want, sizeof want);
	snprintf(key, sizeof key, "tickring:latest:binance:%s", sym);
	hgetall(s, key, &h, NULL);
	HEQ(&h, "trade", want);
	tr_fixed_format(t.price, px);
	HEQ(&h, "trade.price", px);
	free(h.raw);
}

Test(redis, tickringd_replay_reaches_subscribers_hashes_and_streams, .timeout = 300)
{
	static struct rsrv s;
	static struct rsub sub;
	static struct msgs ms;
	const char *inst = instance(), *dir = tmpdir();
	char log[128], jdir[128], url[200];

	snprintf(log, sizeof log, "%s/tickringd.log", dir);
	snprintf(jdir, sizeof jdir, "%s/journal", dir);
	rs_start(&s);
	snprintf(url, sizeof url, "unix://%s", s.sock);
	subscribe(&s, &sub, "SUBSCRIBE", "tickring:trades:binance:BTCUSDT");
	sub_ready(&sub);
	const char *extra[] = {"--ring-slots",
			       "262144",
			       "--journal-dir",
			       jdir,
			       "--redis-url",
			       url,
			       "--redis-streams",
			       "yes",
			       "--redis-stream-maxlen",
			       "40000",
			       "--redis-latest-ms",
			       "50",
			       NULL};
	pid_t pid = replay(inst, log, extra);
	while (waitpid(pid, NULL, WNOHANG) == 0)
		keep(&ms, &sub, SEC / 10);
	untrack(pid);
	keep(&ms, &sub, SEC / 2);

	struct tr_region *r = reader(inst);
	struct tr_cursor c;
	struct tr_trade t;
	char want[TR_FORMAT_BUFSZ];
	int btc = tr_symbol_find(r, "binance", "BTCUSDT"), i = 0;
	cr_assert_geq(btc, 0);
	/* The channel carries exactly the ring's BTCUSDT trades, in order. */
	tr_cursor_init(&c, r, TR_KIND_TRADE, TR_JOIN_SEQ, 1);
	while (tr_poll(&c, &t) == TR_POLL_RECORD) {
		if (t.symbol_id != (uint32_t)btc)
			continue;
		cr_assert_lt(i, ms.n, "the channel has %d messages, the ring more", ms.n);
		tr_format_json(r, TR_KIND_TRADE, &t, tr_region_epoch(r), want, sizeof want);
		cr_assert_str_eq(ms.payload[i], want, "message %d", i);
		i++;
	}
	cr_assert_eq(i, 19904, "the recorded days hold 19,904 BTCUSDT trades");
	cr_assert_eq(ms.n, i, "%d messages for %d trades", ms.n, i);
	latest_hash_is_the_last_trade(&s, r, "BTCUSDT");
	latest_hash_is_the_last_trade(&s, r, "ETHUSDT");
	stream_complete(&s, r, TR_KIND_TRADE);
	stream_complete(&s, r, TR_KIND_EVENT);
	char v[64];
	/* tickringd publishes the open candles as finals when it closes, after
	 * its mirrors have stopped: `tickring mirror redis` picks them up after
	 * the checkpoint, from the journal, as a restarted tickringd would. */
	char *argv[] = {(char *)"tickring",
			(char *)"--instance",
			(char *)inst,
			(char *)"mirror",
			(char *)"redis",
			(char *)"--journal-dir",
			jdir,
			(char *)"--redis-url",
			url,
			(char *)"--redis-streams",
			(char *)"yes",
			(char *)"--redis-stream-maxlen",
			(char *)"40000",
			NULL};
	uint64_t finals =
	    tr_region_head(r, TR_KIND_CANDLE) -
	    strtoull(cli1(&s, v, sizeof v, "XLEN", "tickring:stream:candles", NULL), NULL, 10);
	char log2[160];
	snprintf(log2, sizeof log2, "%s/mirror.log", dir);
	pid_t cli_pid = e2e_spawn(argv, NULL, log2);
	track(cli_pid);
	WAIT_FOR(strtoull(cli1(&s, v, sizeof v, "XLEN", "tickring:stream:candles", NULL), NULL,
			  10) == tr_region_head(r, TR_KIND_CANDLE),
		 20, "the candle stream did not catch up: %s of %llu", v,
		 (unsigned long long)tr_region_head(r, TR_KIND_CANDLE));
	e2e_wait_catches(cli_pid, SIGTERM);
	kill(cli_pid, SIGTERM);
	cr_assert_eq(reap(cli_pid), 0, "tickring mirror redis failed (see %s)", log2);
	stream_complete(&s, r, TR_KIND_CANDLE);
	/* Every interval's current candle has its hash. */
	struct hash h;
	hgetall(&s, "tickring:candle:1m:binance:ETHUSDT", &h, NULL);
	cr_assert_not_null(hv(&h, "candle.close"));
	HEQ(&h, "candle.interval", "1m");
	free(h.raw);

	struct mline ml;
	mirror_line(log, &ml);
	cr_assert_eq(ml.dropped, 0);
	cr_assert_eq(ml.failed, 0);
	cr_assert_eq(ml.lost, 0);
	cr_assert_eq(ml.sent, ml.delivered);
	uint64_t total = 0;
	for (unsigned k = 0; k < TR_NKINDS; k++)
		total += tr_region_head(r, k);
	total -= finals;
	cr_assert_eq(ml.s_added, total,
		     "every record of every kind went to its stream: %llu of %llu", ml.s_added,
		     (unsigned long long)total);
	/* Pub/sub starts at the head: all but engine_start, published before
	 * the mirror started. */
	cr_assert_eq(ml.published, total - 1, "%llu published", ml.published);
	cr_assert_eq(ml.receivers, 19904, "the one subscriber got its BTCUSDT trades");
	cr_assert_eq(ml.sent, ml.published + ml.s_added);
	sub_end(&sub);
	for (int k = 0; k < ms.n; k++)
		free(ms.payload[k]);
	free(ms.payload);
	tr_region_close(r);
}

Test(redis, tickringd_survives_redis_killed_mid_replay, .timeout = 300)
{
	static struct rsrv s = {.aof = 1};
	const char *inst = instance(), *dir = tmpdir();
	char log[128], jdir[128], url[200];

	snprintf(log, sizeof log, "%s/tickringd.log", dir);
	snprintf(jdir, sizeof jdir, "%s/journal", dir);
	rs_start(&s);
	snprintf(url, sizeof url, "unix://%s", s.sock);
	/* A 1024-slot ring laps the stopped stream source at once: it must
	 * come back through the journal. */
	const char *extra[] = {"--ring-slots",
			       "1024",
			       "--journal-dir",
			       jdir,
			       "--replay-speed",
			       "150",
			       "--redis-url",
			       url,
			       "--redis-kinds",
			       "trades,events",
			       "--redis-streams",
			       "yes",
			       "--redis-stream-maxlen",
			       "0",
			       "--redis-latest-ms",
			       "50",
			       NULL};
	pid_t pid = replay(inst, log, extra);
	struct tr_region *r = e2e_region(inst);
	WAIT_FOR(tr_region_head(r, TR_KIND_TRADE) >= 4000, 60, "the replay does not progress");
	rs_kill(&s);
	uint64_t at_kill = tr_region_head(r, TR_KIND_TRADE);
	WAIT_FOR(tr_region_head(r, TR_KIND_TRADE) >= at_kill + 8000, 60, "the replay stalls");
	rs_start(&s);
	cr_assert_lt(tr_region_head(r, TR_KIND_TRADE), 30000, "Redis came back after the end");
	cr_assert_eq(reap(pid), 0, "tickringd failed (see %s)", log);
	tr_region_close(r);

	r = reader(inst);
	struct mline ml;
	mirror_line(log, &ml);
	cr_assert_gt(ml.dropped, 1000, "pub/sub while down is counted as dropped");
	cr_assert_eq(ml.lost, 0);
	cr_assert_eq(ml.s_lost, 0);
	cr_assert_gt(ml.s_journal, 1000, "the streams caught up from the journal");
	/* What was applied but whose reply the kill lost is resent and refused. */
	cr_assert_eq(ml.s_added + ml.s_dups,
		     tr_region_head(r, TR_KIND_TRADE) + tr_region_head(r, TR_KIND_EVENT),
		     "%llu added, %llu refused", ml.s_added, ml.s_dups);
	stream_complete(&s, r, TR_KIND_TRADE);
	stream_complete(&s, r, TR_KIND_EVENT);
	latest_hash_is_the_last_trade(&s, r, "BTCUSDT");
	latest_hash_is_the_last_trade(&s, r, "ETHUSDT");
	tr_region_close(r);
}

Test(redis, a_busy_server_is_retried_not_given_up)
{
	static struct rsrv s;
	static struct mrun m;
	struct entries x;
	const char *inst = instance();
	char v[128];
	int b, e;
	struct tr_writer *w = market(inst, 4096, &b, &e);
	struct tr_region *r = reader(inst);

	rs_start(&s);
	m.inst = inst;
	mr_opt(&m, "redis-url", "unix://%s", s.sock);
	mr_opt(&m, "redis-kinds", "trades");
	mr_opt(&m, "redis-latest-ms", "0");
	mr_opt(&m, "redis-streams", "yes");
	mr_opt(&m, "redis-stream-maxlen", "0");
	mr_start(&m);
	WAIT_FOR(LD(m.st.connected), 10, "never connected");
	/* A script that never ends: after 100 ms every other command is
	 * answered "BUSY", until SCRIPT KILL. */
	cr_assert_str_eq(
	    cli1(&s, v, sizeof v, "CONFIG", "SET", "busy-reply-threshold", "100", NULL), "OK");
	pid_t eval = fork();
	cr_assert_geq(eval, 0);
	if (eval == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		dup2(null, 2);
		execlp("redis-cli", "redis-cli", "-s", s.sock, "EVAL", "while true do end", "0",
		       (char *)NULL);
		_exit(127);
	}
	track(eval);
	usleep(400000);
	publish_trades(w, b, 500, NULL, NULL);
	WAIT_FOR(LD(m.st.failed) > 0, 10, "no BUSY reply seen");
	usleep(300000);
	cr_assert_lt(LD(m.st.checkpoint[TR_KIND_TRADE]), 500, "nothing can be added meanwhile");
	cr_assert_str_eq(cli1(&s, v, sizeof v, "SCRIPT", "KILL", NULL), "OK");
	WAIT_FOR(LD(m.st.checkpoint[TR_KIND_TRADE]) == 500, 20, "the stream did not catch up");
	cr_assert_eq(mr_stop(&m), 0);
	xrange(&s, "tickring:stream:trades", &x);
	check_entries(&x, r, 1, 500);
	entries_free(&x);
	cr_assert_geq(LD(m.st.reconnects), 2, "the connection was dropped and made again");
	cr_assert_eq(LD(m.st.redis_stream_added), 500);
	cr_assert_gt(LD(m.st.dropped), 0, "pub/sub refused with BUSY is dropped");
	cr_assert_eq(LD(m.st.dropped) + LD(m.st.redis_published), 500);
	untrack(eval);
	kill_child(&eval);
	tr_region_close(r);
	tr_writer_close(w);
}
