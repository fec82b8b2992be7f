/* test_e2e.c - exsim -> tickringd -> a reader, with real processes and the
 * recorded Binance days: every trade exactly once, in order, ids contiguous;
 * the same when exsim keeps dropping the connection; and across a kill -9
 * and restart of tickringd, with the reader keeping its mapping. */
#include <sys/socket.h>
#include <sys/un.h>
#include <zlib.h>

#include "e2e.h"

#define DAY1 "binance-spot/btcusdt_20240808.gz"
#define DAY2 "binance-spot/btcusdt_20240809.gz"
#define NTRADES 19904

/* Trade ids of the @trade lines, read independently of the engine. */
static uint64_t first_id, last_id;
static uint64_t count_trades(void)
{
	static const char *files[] = {DAY1, DAY2};
	char path[600];
	static char line[1 << 20];
	uint64_t n = 0;

	first_id = last_id = 0;
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof path, "%s/%s", e2e_data(), files[i]);
		gzFile f = gzopen(path, "rb");
		cr_assert_not_null(f, "%s", path);
		while (gzgets(f, line, sizeof line)) {
			if (!strstr(line, "@trade\""))
				continue;
			char *t = strstr(line, "\"t\":");
			cr_assert_not_null(t);
			uint64_t id = strtoull(t + 4, NULL, 10);
			if (!first_id)
				first_id = id;
			last_id = id;
			n++;
		}
		gzclose(f);
	}
	return n;
}

struct run {
	char inst[64], dir[64], log[96], url[128], jdir[96], dl[96];
	pid_t exsim, engine;
	int port;
};

static void start_exsim4(struct run *r, const char *speed, const char *e1, const char *e2,
			 const char *e3, const char *e4);
static void start_exsim(struct run *r, const char *speed, const char *extra1, const char *extra2)
{
	start_exsim4(r, speed, extra1, extra2, NULL, NULL);
}

static void start_exsim4(struct run *r, const char *speed, const char *extra1, const char *extra2,
			 const char *e3, const char *e4)
{
	char d1[600], d2[600];

	snprintf(d1, sizeof d1, "%s/%s", e2e_data(), DAY1);
	snprintf(d2, sizeof d2, "%s/%s", e2e_data(), DAY2);
	char *argv[] = {(char *)"exsim",
			(char *)"--port",
			(char *)"0",
			(char *)"--speed",
			(char *)speed,
			(char *)"--replay",
			d1,
			d2,
			(char *)extra1,
			(char *)extra2,
			(char *)e3,
			(char *)e4,
			NULL};
	if (!extra1)
		argv[8] = NULL;
	else if (!e3)
		argv[10] = NULL;
	int fd;
	r->exsim = e2e_spawn(argv, &fd, r->log);
	r->port = e2e_exsim_port(fd);
	close(fd);
	snprintf(r->url, sizeof r->url, "binance ws://127.0.0.1:%d", r->port);
}

static void start_engine(struct run *r)
{
	char *argv[] = {(char *)"tickringd",
			(char *)"--instance",
			r->inst,
			(char *)"--feed",
			r->url,
			(char *)"--symbols",
			(char *)"BTCUSDT",
			(char *)"--ring-slots",
			(char *)"131072",
			(char *)"--journal-dir",
			r->jdir,
			(char *)"--dead-letter",
			r->dl,
			(char *)"--reconnect-min-ms",
			(char *)"100",
			(char *)"--reconnect-max-ms",
			(char *)"1000",
			NULL};
	r->engine = e2e_spawn(argv, NULL, r->log);
}

/* The run in progress: a failed assertion leaves the test function, and
 * the suite's fini still stops its processes and removes its region. */
static struct run *live_run;

static void setup_run(struct run *r, const char *tag)
{
	live_run = r;
	snprintf(r->inst, sizeof r->inst, "e2e-%s-%d", tag, (int)getpid());
	snprintf(r->dir, sizeof r->dir, "/tmp/tr-e2e-XXXXXX");
	cr_assert_not_null(mkdtemp(r->dir));
	snprintf(r->log, sizeof r->log, "%s/log", r->dir);
	snprintf(r->jdir, sizeof r->jdir, "%s/journal", r->dir);
	snprintf(r->dl, sizeof r->dl, "%s/dead-letter", r->dir);
	tr_writer_unlink(NULL, r->inst);
}

static void finish_run(struct run *r)
{
	char cmd[200];

	live_run = NULL;
	e2e_stop(r->engine, SIGTERM);
	e2e_stop(r->exsim, SIGTERM);
	tr_writer_unlink(NULL, r->inst);
	if (getenv("TR_KEEP_LOGS"))
		fprintf(stderr, "logs kept in %s\n", r->dir);
	else {
		snprintf(cmd, sizeof cmd, "rm -rf %s", r->dir);
		(void)!system(cmd);
	}
}

static void e2e_fini(void)
{
	if (live_run)
		finish_run(live_run);
}

TestSuite(e2e, .fini = e2e_fini);

struct seen {
	uint64_t trades, epochs, lapped, last_seq, bad_order;
	uint64_t next_id;
	bool allow_gaps;   /* ids may jump, but only on a trade flagged TR_TRADE_GAP */
	uint64_t id_jumps; /* trades missing between consecutive ones seen */
};

/* Follow the trade ring from seq 1 until want trades or the deadline. */
static void follow(struct tr_region *reg, struct tr_cursor *c, struct seen *s, uint64_t want,
		   int64_t deadline, void (*hook)(struct seen *, void *), void *arg)
{
	struct tr_trade t;

	while (s->trades < want && s->next_id <= last_id && e2e_now() < deadline) {
		int rc = tr_wait(c, &t, TR_WAIT_FUTEX, 100000000);
		if (rc == TR_POLL_RECORD) {
			if (s->last_seq && t.seq != s->last_seq + 1)
				s->bad_order++;
			s->last_seq = t.seq;
			if (s->allow_gaps && t.trade_id > s->next_id) {
				cr_assert(t.flags & TR_TRADE_GAP,
					  "trade %llu: ids jumped unflagged",
					  (unsigned long long)t.trade_id);
				s->id_jumps += t.trade_id - s->next_id;
				s->next_id = t.trade_id;
			}
			cr_assert_eq(
			    t.trade_id, s->next_id, "trade %llu after %llu: duplicate or gap",
			    (unsigned long long)t.trade_id, (unsigned long long)(s->next_id - 1));
			s->next_id++;
			s->trades++;
			if (hook)
				hook(s, arg);
		} else if (rc == TR_POLL_LAPPED) {
			s->lapped += c->last_gap;
		} else if (rc == TR_POLL_EPOCH) {
			s->epochs++;
		}
	}
	(void)reg;
}

static void expect_all(struct seen *s)
{
	cr_assert_eq(s->lapped, 0, "the reader was lapped");
	cr_assert_eq(s->bad_order, 0, "ring sequence not contiguous");
	cr_assert_eq(s->trades + s->id_jumps, NTRADES, "saw %llu trades, %llu missing",
		     (unsigned long long)s->trades, (unsigned long long)s->id_jumps);
	cr_assert_eq(s->next_id - 1, last_id);
}

/* Sum of `missing` over the gap events of the events ring. */
static uint64_t gap_events_missing(struct tr_region *reg)
{
	struct tr_cursor c;
	struct tr_event ev;
	uint64_t missing = 0;
	int rc;

	tr_cursor_init(&c, reg, TR_KIND_EVENT, TR_JOIN_SEQ, 1);
	while ((rc = tr_poll(&c, &ev)) != TR_POLL_EMPTY ||
	       c.next <= tr_region_head(reg, TR_KIND_EVENT))
		if (rc == TR_POLL_RECORD && ev.type == TR_EV_GAP)
			missing += ev.u.gap.missing;
	return missing;
}

/* After the last trade nothing more may come (exactly once). */
static void expect_quiet(struct tr_cursor *c)
{
	struct tr_trade t;
	int64_t until = e2e_now() + 1500000000ll;

	while (e2e_now() < until) {
		int rc = tr_wait(c, &t, TR_WAIT_FUTEX, 100000000);
		cr_assert_neq(rc, TR_POLL_RECORD, "an extra trade %llu after the last one",
			      (unsigned long long)t.trade_id);
	}
}

Test(e2e, replay_two_days_every_trade_once, .timeout = 240)
{
	static struct run r; /* e2e_fini may read it after the test left */
	struct seen s = {0};
	struct tr_cursor c;

	cr_assert_eq(count_trades(), NTRADES, "the recorded files changed");
	setup_run(&r, "once");
	start_exsim(&r, "max", NULL, NULL);
	start_engine(&r);
	struct tr_region *reg = e2e_region(r.inst);
	tr_cursor_init(&c, reg, TR_KIND_TRADE, TR_JOIN_SEQ, 1);
	s.next_id = first_id;
	follow(reg, &c, &s, NTRADES, e2e_now() + 180 * 1000000000ll, NULL, NULL);
	expect_all(&s);
	expect_quiet(&c);
	cr_assert_eq(tr_region_counter(reg, TR_CTR_TRADES), NTRADES);
	cr_assert_gt(tr_region_counter(reg, TR_CTR_QUOTES), 70000, "bookTicker quotes flow too");
	tr_region_close(reg);
	finish_run(&r);
}

Test(e2e, connection_dropped_every_two_seconds_loses_nothing, .timeout = 300)
{
	static struct run r; /* e2e_fini may read it after the test left */
	struct seen s = {0};
	struct tr_cursor c;

	cr_assert_eq(count_trades(), NTRADES);
	setup_run(&r, "drop");
	start_exsim(&r, "100", "--drop-every", "2");
	start_engine(&r);
	struct tr_region *reg = e2e_region(r.inst);
	tr_cursor_init(&c, reg, TR_KIND_TRADE, TR_JOIN_SEQ, 1);
	s.next_id = first_id;
	follow(reg, &c, &s, NTRADES, e2e_now() + 240 * 1000000000ll, NULL, NULL);
	expect_all(&s);
	expect_quiet(&c);
	cr_assert_geq(tr_region_counter(reg, TR_CTR_RECONNECTS), 1, "exsim did drop us");
	cr_assert_gt(tr_region_counter(reg, TR_CTR_DUP_TRADES), 0,
		     "the rewound frames arrived twice and were dropped");
	cr_assert_eq(tr_region_counter(reg, TR_CTR_TRADE_GAPS), 0);
	tr_region_close(reg);
	finish_run(&r);
}

static struct run *kill_run;
static void kill_and_restart(struct seen *s, void *arg)
{
	(void)arg;
	if (s->trades != 6000)
		return;
	kill(kill_run->engine, SIGKILL);
	waitpid(kill_run->engine, NULL, 0);
	start_engine(kill_run);
}

Test(e2e, kill_9_and_restart_keeps_readers_and_the_sequence, .timeout = 300)
{
	static struct run r; /* e2e_fini may read it after the test left */
	struct seen s = {0};
	struct tr_cursor c;

	cr_assert_eq(count_trades(), NTRADES);
	setup_run(&r, "kill");
	kill_run = &r;
	/* --hold: the replay clock stops while tickringd is down. Frames
	 * in flight when it was killed are lost, as they would be live: the
	 * restarted engine must report exactly those as a gap, not hide them,
	 * and never publish a trade twice. */
	start_exsim(&r, "100", "--hold", NULL);
	start_engine(&r);
	struct tr_region *reg = e2e_region(r.inst);
	uint64_t epoch = tr_region_epoch(reg);
	tr_cursor_init(&c, reg, TR_KIND_TRADE, TR_JOIN_SEQ, 1);
	s.next_id = first_id;
	s.allow_gaps = true;
	follow(reg, &c, &s, NTRADES, e2e_now() + 240 * 1000000000ll, kill_and_restart, NULL);
	expect_all(&s);
	cr_assert_eq(gap_events_missing(reg), s.id_jumps,
		     "gap events account for exactly the trades that never came");
	cr_assert_eq(tr_region_epoch(reg), epoch + 1, "the restart bumped the epoch");
	cr_assert_geq(s.epochs, 1, "the reader was told of the restart");
	cr_assert_eq(tr_region_liveness(reg, 0), 0, "%s", tr_errmsg());
	tr_region_close(reg);
	finish_run(&r);
}

static uint64_t bad_counters(struct tr_region *reg)
{
	uint64_t n = 0;

	for (unsigned i = TR_CTR_BAD_JSON; i <= TR_CTR_UNKNOWN_SYMBOL; i++)
		n += tr_region_counter(reg, i);
	return n;
}

static uint64_t count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	uint64_t n = 0;
	int ch;

	if (!f)
		return 0;
	while ((ch = fgetc(f)) != EOF)
		n += ch == '\n';
	fclose(f);
	return n;
}

Test(e2e, malformed_frames_are_counted_dead_lettered_and_gaps_reported, .timeout = 240)
{
	static struct run r; /* e2e_fini may read it after the test left */
	struct seen s = {0};
	struct tr_cursor c;
	char dl[128];

	cr_assert_eq(count_trades(), NTRADES);
	setup_run(&r, "bad");
	start_exsim(&r, "max", "--malformed-every", "97");
	start_engine(&r);
	struct tr_region *reg = e2e_region(r.inst);
	tr_cursor_init(&c, reg, TR_KIND_TRADE, TR_JOIN_SEQ, 1);
	s.next_id = first_id;
	s.allow_gaps = true;
	follow(reg, &c, &s, NTRADES, e2e_now() + 180 * 1000000000ll, NULL, NULL);
	/* the very last trade may itself have been mangled: wait for quiet */
	int64_t until = e2e_now() + 2000000000ll;
	while (e2e_now() < until)
		follow(reg, &c, &s, NTRADES, until, NULL, NULL);
	cr_assert_gt(s.id_jumps, 0, "some trade frames were mangled");
	cr_assert_eq(gap_events_missing(reg), s.id_jumps, "every lost trade is reported");
	uint64_t bad = bad_counters(reg);
	cr_assert_geq(bad, 900, "about one frame in 97 of 93k subscribed was bad: %llu",
		      (unsigned long long)bad);
	snprintf(dl, sizeof dl, "%s.%llu", r.dl, (unsigned long long)tr_region_epoch(reg));
	e2e_stop(r.engine, SIGTERM); /* flushes the dead-letter file */
	r.engine = 0;
	cr_assert_eq(count_lines(dl), bad, "one dead-letter line per rejected frame");
	cr_assert_eq(tr_region_liveness(reg, 0), -TR_ESTOPPED, "and it stopped cleanly");
	tr_region_close(reg);
	finish_run(&r);
}

Test(e2e, gateway_lines_become_records, .timeout = 120)
{
	static struct run r; /* e2e_fini may read it after the test left */
	char sock[100], line[512];

	setup_run(&r, "gw");
	snprintf(sock, sizeof sock, "%s/gw.sock", r.dir);
	char *argv[] = {(char *)"tickringd",
			(char *)"--instance",
			r.inst,
			(char *)"--gateway-unix",
			sock,
			(char *)"--ring-slots",
			(char *)"4096",
			(char *)"--dead-letter",
			r.dl,
			NULL};
	r.engine = e2e_spawn(argv, NULL, r.log);
	struct tr_region *reg = e2e_region(r.inst);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock);
	int64_t deadline = e2e_now() + 10000000000ll;
	while (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		cr_assert_lt(e2e_now(), deadline, "gateway socket never came up");
		usleep(20000);
	}
	struct tr_cursor c;
	tr_cursor_init(&c, reg, TR_KIND_TRADE, TR_JOIN_TAIL, 0);
	for (int i = 1; i <= 100; i++) {
		int n = snprintf(line, sizeof line,
				 "{\"type\":\"trade\",\"venue\":\"myfeed\",\"symbol\":\"ABCUSD\","
				 "\"price\":\"%d.25\",\"qty\":\"0.5\",\"trade_id\":%d,"
				 "\"ts_event\":1717000000000000000,\"side\":\"buy\"}\n",
				 1000 + i, i);
		cr_assert_eq(write(fd, line, (size_t)n), n);
		if (i == 50) {
			static const char bad[] = "{\"type\":\"trade\",\"price\":\"x\"}\n";
			cr_assert_eq(write(fd, bad, sizeof bad - 1), (ssize_t)sizeof bad - 1);
		}
	}
	struct tr_trade t;
	int got = 0;
	deadline = e2e_now() + 20000000000ll;
	while (got < 100 && e2e_now() < deadline) {
		if (tr_wait(&c, &t, TR_WAIT_FUTEX, 100000000) != TR_POLL_RECORD)
			continue;
		got++;
		cr_assert_eq(t.trade_id, (uint64_t)got, "trade_id %llu price %lld",
			     (unsigned long long)t.trade_id, (long long)t.price);
		cr_assert_eq(t.price, (int64_t)(1000 + got) * 100000000 + 25000000);
		cr_assert_eq(t.qty, 50000000);
		cr_assert_eq(t.side, TR_SIDE_BUY);
		cr_assert(t.flags & TR_TRADE_GATEWAY);
	}
	cr_assert_eq(got, 100);
	int sym = tr_symbol_find(reg, "myfeed", "ABCUSD");
	cr_assert_geq(sym, 0, "venue and symbol registered from the stream");
	cr_assert_eq(bad_counters(reg), 1, "the bad line was counted");
	close(fd);
	tr_region_close(reg);
	finish_run(&r);
}

static uint64_t log_count(const char *log, const char *needle)
{
	FILE *f = fopen(log, "r");
	static char line[4096];
	uint64_t n = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof line, f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

static void start_engine_args(struct run *r, const char *a, const char *b, const char *c,
			      const char *d)
{
	char *argv[] = {(char *)"tickringd",
			(char *)"--instance",
			r->inst,
			(char *)"--feed",
			r->url,
			(char *)"--symbols",
			(char *)"BTCUSDT",
			(char *)"--ring-slots",
			(char *)"131072",
			(char *)"--dead-letter",
			r->dl,
			(char *)a,
			(char *)b,
			(char *)c,
			(char *)d,
			NULL};
	r->engine = e2e_spawn(argv, NULL, r->log);
}

/* The planned reconnect before the venue's 24 h cut, shortened to 3 s:
 * the successor opens while the old connection still delivers, both feed
 * the engine for a while, the duplicates are dropped, nothing is lost. The
 * venue pings every second and drops us if we do not answer within 2 s. */
Test(e2e, planned_rollover_overlaps_connections_and_drops_duplicates, .timeout = 240)
{
	static struct run r; /* e2e_fini may read it after the test left */
	struct seen s = {0};
	struct tr_cursor c;

	cr_assert_eq(count_trades(), NTRADES);
	setup_run(&r, "roll");
	/* pings every second; a connection that does not answer within 4 s is
	 * dropped by exsim (it would count as a reconnect, asserted 0 below) */
	start_exsim4(&r, "60", "--ping-interval", "1", "--pong-timeout", "4");
	start_engine_args(&r, "--max-conn-age-s", "5", "--overlap-ms", "1500");
	struct tr_region *reg = e2e_region(r.inst);
	tr_cursor_init(&c, reg, TR_KIND_TRADE, TR_JOIN_SEQ, 1);
	s.next_id = first_id;
	follow(reg, &c, &s, NTRADES, e2e_now() + 200 * 1000000000ll, NULL, NULL);
	expect_all(&s);
	expect_quiet(&c);
	cr_assert_geq(log_count(r.log, "opening its successor"), 1, "a rollover happened");
	cr_assert_geq(log_count(r.log, "old connection closed after rollover"), 1);
	cr_assert_gt(tr_region_counter(reg, TR_CTR_DUP_TRADES), 0,
		     "both connections delivered during the overlap");
	cr_assert_eq(tr_region_counter(reg, TR_CTR_RECONNECTS), 0,
		     "no unplanned disconnect: pings were answered");
	tr_region_close(reg);
	finish_run(&r);
}

/* A connection that goes silent (TCP open, nothing arrives) is closed and
 * reopened after stale-ms. */
Test(e2e, silent_connection_is_replaced, .timeout = 120)
{
	static struct run r; /* e2e_fini may read it after the test left */

	setup_run(&r, "silent");
	snprintf(r.url, sizeof r.url, "x"); /* set by start_exsim */
	char *argv[] = {(char *)"exsim",       (char *)"--port",       (char *)"0",
			(char *)"--synthetic", (char *)"--symbols",    (char *)"BTCUSDT",
			(char *)"--rate",      (char *)"200",	       (char *)"--silent-after",
			(char *)"2",	       (char *)"--stop-pings", NULL};
	int fd;
	r.exsim = e2e_spawn(argv, &fd, r.log);
	r.port = e2e_exsim_port(fd);
	close(fd);
	snprintf(r.url, sizeof r.url, "binance ws://127.0.0.1:%d", r.port);
	start_engine_args(&r, "--stale-ms", "1000", "--ping-interval-s", "60");
	struct tr_region *reg = e2e_region(r.inst);
	int64_t deadline = e2e_now() + 60 * 1000000000ll;
	while (tr_region_counter(reg, TR_CTR_RECONNECTS) < 2 && e2e_now() < deadline)
		usleep(50000);
	cr_assert_geq(tr_region_counter(reg, TR_CTR_RECONNECTS), 2,
		      "each silent connection was given up and replaced");
	cr_assert_geq(log_count(r.log, "nothing received for 1000 ms"), 2);
	uint64_t before = tr_region_counter(reg, TR_CTR_TRADES);
	cr_assert_gt(before, 0);
	tr_region_close(reg);
	finish_run(&r);
}

/* SIGHUP re-reads the config's symbols and subscribes the new one. */
Test(e2e, sighup_subscribes_new_symbols, .timeout = 120)
{
	static struct run r; /* e2e_fini may read it after the test left */
	char conf[128];

	setup_run(&r, "hup");
	char *xargv[] = {(char *)"exsim",	(char *)"--port",    (char *)"0",
			 (char *)"--synthetic", (char *)"--symbols", (char *)"BTCUSDT,ETHUSDT",
			 (char *)"--rate",	(char *)"400",	     NULL};
	int fd;
	r.exsim = e2e_spawn(xargv, &fd, r.log);
	r.port = e2e_exsim_port(fd);
	close(fd);
	snprintf(conf, sizeof conf, "%s/tickring.conf", r.dir);
	FILE *f = fopen(conf, "w");
	fprintf(f,
		"instance %s\nfeed binance ws://127.0.0.1:%d\nsymbols BTCUSDT\nring-slots 65536\n"
		"dead-letter %s\n",
		r.inst, r.port, r.dl);
	fclose(f);
	char *argv[] = {(char *)"tickringd", (char *)"--config", conf, NULL};
	r.engine = e2e_spawn(argv, NULL, r.log);
	struct tr_region *reg = e2e_region(r.inst);
	int64_t deadline = e2e_now() + 30 * 1000000000ll;
	while (tr_region_counter(reg, TR_CTR_TRADES) < 50 && e2e_now() < deadline)
		usleep(20000);
	cr_assert_eq(tr_symbol_find(reg, NULL, "ETHUSDT"), -ENOENT, "not subscribed yet");
	f = fopen(conf, "w");
	fprintf(f,
		"instance %s\nfeed binance ws://127.0.0.1:%d\nsymbols BTCUSDT,ETHUSDT\n"
		"ring-slots 65536\ndead-letter %s\n",
		r.inst, r.port, r.dl);
	fclose(f);
	kill(r.engine, SIGHUP);
	/* ETHUSDT trades arrive: the symbol appears with a latest trade */
	struct tr_trade t;
	int sym = -1;
	deadline = e2e_now() + 30 * 1000000000ll;
	while (e2e_now() < deadline) {
		sym = tr_symbol_find(reg, NULL, "ETHUSDT");
		if (sym >= 0 && tr_latest_trade(reg, (uint32_t)sym, &t) == 0)
			break;
		usleep(20000);
	}
	cr_assert_geq(sym, 0, "ETHUSDT was registered after SIGHUP");
	cr_assert_eq(tr_latest_trade(reg, (uint32_t)sym, &t), 0, "and its trades flow");
	cr_assert_geq(log_count(r.log, "1 added"), 0);
	cr_assert_eq(tr_region_counter(reg, TR_CTR_UNKNOWN_SYMBOL), 0);
	tr_region_close(reg);
	finish_run(&r);
}

static int wait_exit(pid_t pid, int secs)
{
	int st = 0;
	int64_t deadline = e2e_now() + (int64_t)secs * 1000000000;

	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (e2e_now() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -1;
		}
		usleep(20000);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* tickringd --replay, then `tickring replay` into a fresh region: the
 * second run continues the sequence from the journal the first one wrote. */
Test(e2e, replay_files_and_continue_the_sequence_from_the_journal, .timeout = 180)
{
	static struct run r; /* e2e_fini may read it after the test left */
	char d1[600], d2[600];

	cr_assert_eq(count_trades(), NTRADES);
	setup_run(&r, "replay");
	snprintf(d1, sizeof d1, "%s/%s", e2e_data(), DAY1);
	snprintf(d2, sizeof d2, "%s/%s", e2e_data(), DAY2);
	char *argv[] = {(char *)"tickringd",
			(char *)"--instance",
			r.inst,
			(char *)"--ring-slots",
			(char *)"131072",
			(char *)"--journal-dir",
			r.jdir,
			(char *)"--dead-letter",
			r.dl,
			(char *)"--replay",
			d1,
			d2,
			NULL};
	cr_assert_eq(wait_exit(e2e_spawn(argv, NULL, r.log), 120), 0, "tickringd --replay failed");

	struct tr_region *reg;
	cr_assert_eq(tr_region_open(&reg, r.inst, TR_OPEN_ANY_STATE), 0, "%s", tr_errmsg());
	cr_assert_eq(tr_region_head(reg, TR_KIND_TRADE), NTRADES);
	cr_assert_eq(tr_region_head(reg, TR_KIND_QUOTE), 28040 + 45134);
	struct tr_cursor c;
	struct tr_trade t;
	uint64_t id = first_id, n = 0;
	tr_cursor_init(&c, reg, TR_KIND_TRADE, TR_JOIN_SEQ, 1);
	while (tr_poll(&c, &t) == TR_POLL_RECORD) {
		cr_assert_eq(t.trade_id, id++);
		cr_assert(t.flags & TR_TRADE_REPLAY);
		n++;
	}
	cr_assert_eq(n, NTRADES);
	tr_region_close(reg);

	/* the region is lost (a reboot), the journal is not */
	tr_writer_unlink(NULL, r.inst);
	char *cli[] = {(char *)"tickring",
		       (char *)"--instance",
		       r.inst,
		       (char *)"replay",
		       (char *)"--speed",
		       (char *)"1000",
		       (char *)"--journal-dir",
		       r.jdir,
		       (char *)"--ring-slots",
		       (char *)"131072",
		       (char *)"--dead-letter",
		       r.dl,
		       d1,
		       NULL};
	cr_assert_eq(wait_exit(e2e_spawn(cli, NULL, r.log), 120), 0, "tickring replay failed");
	cr_assert_eq(tr_region_open(&reg, r.inst, TR_OPEN_ANY_STATE), 0, "%s", tr_errmsg());
	cr_assert_eq(tr_region_head(reg, TR_KIND_TRADE), NTRADES + 9757,
		     "the trade sequence continued after the journal's last record");
	tr_cursor_init(&c, reg, TR_KIND_TRADE, TR_JOIN_SEQ, NTRADES + 1);
	cr_assert_eq(tr_poll(&c, &t), TR_POLL_RECORD);
	cr_assert_eq(t.seq, NTRADES + 1);
	cr_assert_eq(t.trade_id, first_id, "day 1 again, first trade");
	tr_region_close(reg);
	finish_run(&r);
}

/* The two recorded days as a capture of their trade and bookTicker lines, where every 5th
 * frame carries one more member holding multi-byte UTF-8 and escapes, so that fragment
 * cuts fall inside those as well as inside numbers and names. The engine skips the member;
 * the trades are the recorded ones. Returns the number of frames written. */
static uint64_t write_noted_days(const char *path)
{
	static const char *files[] = {DAY1, DAY2};
	static const char note[] =
	    ",\"note\":\"caf\xc3\xa9 \\u00e9 \xe2\x9c\x93 \\\"q\\\" \\\\ \xf0\x9f\x93\x88\"";
	static char line[1 << 20];
	char src[600];
	uint64_t n = 0;
	gzFile out = gzopen(path, "wb1");

	cr_assert_not_null(out, "%s", path);
	for (int i = 0; i < 2; i++) {
		snprintf(src, sizeof src, "%s/%s", e2e_data(), files[i]);
		gzFile in = gzopen(src, "rb");
		cr_assert_not_null(in, "%s", src);
		while (gzgets(in, line, sizeof line)) {
			if (!strstr(line, "@trade\"") && !strstr(line, "@bookTicker\""))
				continue;
			size_t len = strcspn(line, "\r\n");
			cr_assert(len > 2 && line[len - 1] == '}' && line[len - 2] == '}');
			if (n++ % 5 == 0) /* before the data object's closing brace */
				cr_assert_gt(
				    gzprintf(out, "%.*s%s}}\n", (int)(len - 2), line, note), 0);
			else
				cr_assert_gt(gzprintf(out, "%.*s\n", (int)len, line), 0);
		}
		gzclose(in);
	}
	cr_assert_eq(gzclose(out), Z_OK);
	return n;
}

/* Every frame in WebSocket fragments: 5 per message at random cut points, every 61st
 * message a byte per fragment (so every cut position of those frames, inside numbers,
 * names, escapes and UTF-8 sequences; every 305th frame is one with the extra member),
 * and after every 25000th frame an extra message just over the 1 MiB frame limit in
 * 64 KiB fragments. Every trade arrives exactly once; each oversize message is dropped
 * and counted, and the connection carries on. Paced at 40 times the recorded speed
 * (about 16 s) rather than flat out, and not more fragments than that: each is a write
 * and a read, and the tests running beside this one need their share of the CPUs. */
Test(e2e, fragmented_frames_reassemble_every_trade_once, .timeout = 300)
{
	static struct run r; /* e2e_fini may read it after the test left */
	struct seen s = {0};
	struct tr_cursor c;
	char days[128];

	cr_assert_eq(count_trades(), NTRADES);
	setup_run(&r, "frag");
	snprintf(days, sizeof days, "%s/days.gz", r.dir);
	cr_assert_eq(write_noted_days(days), NTRADES + 28040 + 45134);
	char *argv[] = {(char *)"exsim",
			(char *)"--port",
			(char *)"0",
			(char *)"--speed",
			(char *)"40",
			(char *)"--replay",
			days,
			(char *)"--fragment",
			(char *)"5",
			(char *)"--fragment-bytes-every",
			(char *)"61",
			(char *)"--oversize-every",
			(char *)"25000",
			(char *)"--seed",
			(char *)"7",
			NULL};
	int fd;
	r.exsim = e2e_spawn(argv, &fd, r.log);
	r.port = e2e_exsim_port(fd);
	close(fd);
	snprintf(r.url, sizeof r.url, "binance ws://127.0.0.1:%d", r.port);
	start_engine(&r);
	struct tr_region *reg = e2e_region(r.inst);
	tr_cursor_init(&c, reg, TR_KIND_TRADE, TR_JOIN_SEQ, 1);
	s.next_id = first_id;
	follow(reg, &c, &s, NTRADES, e2e_now() + 240 * 1000000000ll, NULL, NULL);
	expect_all(&s);
	expect_quiet(&c);
	cr_assert_eq(tr_region_counter(reg, TR_CTR_QUOTES), 28040 + 45134, "every quote too");
	uint64_t big = log_count(r.log, "oversize message");
	cr_assert_eq(big, 3, "exsim sent one after frames 25000, 50000 and 75000");
	cr_assert_eq(tr_region_counter(reg, TR_CTR_BAD_OVERSIZE), big, "each one counted");
	cr_assert_eq(bad_counters(reg), big, "and nothing else was rejected");
	cr_assert_eq(tr_region_counter(reg, TR_CTR_RECONNECTS), 0, "on the same connection");
	tr_region_close(reg);
	finish_run(&r);
}
