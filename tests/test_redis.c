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
#include "tr_format.h"
#include "tr_journal.h"
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

TestSuite(redis, .fini = cleanup, .timeout = 120);

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
