/* test_kafka_e2e.c - tickringd with the Kafka mirror on, replaying the
 * recorded BTCUSDT and ETHUSDT days into the development broker, kcat as
 * the consumer:
 *  - with the broker down when the replay starts and back later, and rings
 *    so small that the mirror is lapped: every trade arrives exactly once
 *    (by seq and by venue, symbol and trade id, the set equal to the trades
 *    in the capture files), in order per key, the payload equal to
 *    tr_format_json() of the journal's record; every final candle arrives;
 *  - with tickringd killed (-9) in the middle of a paced replay and
 *    restarted: no trade missing; duplicates only of records delivered after
 *    the last checkpoint write, identical to the first copy. */
#define _GNU_SOURCE
#include <ftw.h>
#include <sys/stat.h>
#include <zlib.h>

#include "test_kafka.h"
#include "tr_format.h"
#include "tr_journal.h"
#include "tr_msrc.h"

static const char *const days[] = {"btcusdt_20240808.gz", "btcusdt_20240809.gz",
				   "ethusdt_20240808.gz", "ethusdt_20240809.gz"};

struct erun {
	char dir[64], jdir[96], log[96], dl[96], inst[64], files[4][600];
};

static struct erun er;

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb, (void)flag, (void)f;
	return remove(p);
}

static void efini(void)
{
	tproc_cleanup();
	if (er.inst[0])
		tr_writer_unlink(NULL, er.inst);
	if (er.dir[0] && !getenv("TR_KEEP_LOGS"))
		nftw(er.dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void esetup(const char *tag)
{
	memset(&er, 0, sizeof er);
	snprintf(er.dir, sizeof er.dir, "/tmp/tr-kafe-XXXXXX");
	cr_assert_not_null(mkdtemp(er.dir));
	snprintf(er.jdir, sizeof er.jdir, "%s/journal", er.dir);
	snprintf(er.log, sizeof er.log, "%s/tickringd.log", er.dir);
	snprintf(er.dl, sizeof er.dl, "%s/dead-letter", er.dir);
	snprintf(er.inst, sizeof er.inst, "kafe-%s-%d", tag, (int)getpid());
	tr_writer_unlink(NULL, er.inst);
	for (int i = 0; i < 4; i++)
		snprintf(er.files[i], sizeof er.files[i], "%s/binance-spot/%s", e2e_data(),
			 days[i]);
}

/* Start tickringd replaying the four days with `extra` directives. */
static pid_t tickringd(const char *speed, char *const *extra)
{
	char *argv[48] = {(char *)"tickringd",
			  (char *)"--instance",
			  er.inst,
			  (char *)"--journal-dir",
			  er.jdir,
			  (char *)"--dead-letter",
			  er.dl,
			  (char *)"--replay-speed",
			  (char *)speed,
			  (char *)"--mirror-drain-ms",
			  (char *)"60000",
			  (char *)"--replay",
			  er.files[0],
			  er.files[1],
			  er.files[2],
			  er.files[3]};
	int n = 16;

	for (int i = 0; extra[i]; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	pid_t pid = e2e_spawn(argv, NULL, er.log);
	tproc_track(pid);
	return pid;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 1 << 20);

	cr_assert_not_null(buf);
	if (!f)
		return buf; /* not created yet: empty */
	size_t n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

/* ---- trades by (symbol, id) ---- */

struct tid {
	char sym[16];
	uint64_t id;
};

static int tid_cmp(const void *a, const void *b)
{
	const struct tid *x = a, *y = b;
	int c = strcmp(x->sym, y->sym);

	return c ? c : (x->id > y->id) - (x->id < y->id);
}

/* The distinct trades of the capture files, read independently of the
 * engine, sorted. */
static struct tid *file_trades(size_t *count)
{
	static char line[1 << 20];
	size_t n = 0, cap = 1 << 16;
	struct tid *t = malloc(cap * sizeof *t);

	for (int i = 0; i < 4; i++) {
		gzFile f = gzopen(er.files[i], "rb");
		cr_assert_not_null(f, "%s", er.files[i]);
		while (gzgets(f, line, sizeof line)) {
			if (!strstr(line, "@trade\""))
				continue;
			char *s = strstr(line, "\"s\":\""), *id = strstr(line, "\"t\":");
			cr_assert(s && id);
			if (n == cap)
				t = realloc(t, (cap *= 2) * sizeof *t);
			sscanf(s + 5, "%15[^\"]", t[n].sym);
			t[n++].id = strtoull(id + 4, NULL, 10);
		}
		gzclose(f);
	}
	qsort(t, n, sizeof *t, tid_cmp);
	size_t u = 0;
	for (size_t i = 0; i < n; i++)
		if (!u || tid_cmp(&t[u - 1], &t[i]))
			t[u++] = t[i];
	*count = u;
	return t;
}

static struct tid json_tid(const char *json)
{
	struct tid t = {0};
	const char *s = strstr(json, "\"symbol\":\""), *id = strstr(json, "\"trade_id\":");

	cr_assert(s && id && strstr(json, "\"venue\":\"binance\""), "%s", json);
	sscanf(s + 10, "%15[^\"]", t.sym);
	t.id = strtoull(id + 11, NULL, 10);
	return t;
}

/* The first copy of each seq 1..n, by (symbol, id), equals the files' set.
 * engine_dups: how many seqs may repeat a trade already published under
 * another seq (see the kill -9 test); returns how many did. */
static uint64_t check_trade_set(const struct kmsgs *k, const size_t *idx, uint64_t n,
				uint64_t engine_dups)
{
	size_t nf;
	struct tid *want = file_trades(&nf), *got = malloc(n * sizeof *got);
	uint64_t dups = 0;

	cr_assert(n >= nf && n - nf <= engine_dups,
		  "%" PRIu64 " trades published, %zu in the files", n, nf);
	for (uint64_t s = 1; s <= n; s++)
		got[s - 1] = json_tid(k->m[idx[s]].json);
	qsort(got, n, sizeof *got, tid_cmp);
	size_t j = 0;
	for (uint64_t i = 0; i < n; i++) {
		if (i && !tid_cmp(&got[i - 1], &got[i])) {
			cr_assert_lt(dups++, engine_dups, "trade %s %" PRIu64 " under two seqs",
				     got[i].sym, got[i].id);
			continue;
		}
		cr_assert(j < nf && tid_cmp(&got[i], &want[j]) == 0, "trade %s %" PRIu64 " missing",
			  j < nf ? want[j].sym : "?", j < nf ? want[j].id : 0);
		j++;
	}
	cr_assert_eq(j, nf);
	free(want);
	free(got);
	return dups;
}

/* Poll the mirror's checkpoint file until kind's seq >= seq. */
static uint64_t wait_checkpoint(const char *path, unsigned kind, uint64_t seq, int seconds)
{
	uint64_t c[TR_NKINDS] = {0};
	int64_t deadline = e2e_now() + seconds * 1000000000ll;

	for (;;) {
		if (tr_checkpoint_load(path, c) == 0 && c[kind] >= seq)
			return c[kind];
		cr_assert_lt(e2e_now(), deadline, "checkpoint %s never reached %" PRIu64, path,
			     seq);
		usleep(10000);
	}
}

Test(kafka, replay_through_an_outage_and_laps_delivers_every_trade_once, .fini = efini,
     .timeout = 180)
{
	struct kbroker b;

	esetup("out");
	kb_start(&b, "4");
	/* Down before tickringd starts: the mirror fills its 2000-message
	 * queue and stops reading; the 1024-slot rings lap it at once. */
	kill(b.pid, SIGUSR1);
	char *extra[] = {(char *)"--kafka-brokers",
			 b.addr,
			 (char *)"--kafka.queue.buffering.max.messages",
			 (char *)"2000",
			 (char *)"--ring-slots",
			 (char *)"1024",
			 (char *)"--ring-slots-candles",
			 (char *)"65536",
			 NULL};
	pid_t pid = tickringd("max", extra);

	/* Bring the broker back once the replay is over. */
	int64_t deadline = e2e_now() + 60 * 1000000000ll;
	for (;;) {
		char *log = slurp(er.log);
		int done = strstr(log, "replayed") != NULL;
		free(log);
		if (done)
			break;
		cr_assert_lt(e2e_now(), deadline, "the replay never finished");
		usleep(50000);
	}
	usleep(500000);
	kill(b.pid, SIGUSR2);
	cr_assert_eq(tproc_reap(pid), 0, "tickringd failed (log %s)", er.log);

	char *log = slurp(er.log);
	unsigned long long sent, delivered, fromj, dropped, failed, lost;
	const char *line = strstr(log, "kafka mirror: ");
	cr_assert_not_null(line, "%s", log);
	cr_assert_eq(sscanf(line,
			    "kafka mirror: %llu sent, %llu delivered, %llu from the journal, %llu "
			    "dropped, %llu failed, %llu lost",
			    &sent, &delivered, &fromj, &dropped, &failed, &lost),
		     6, "%s", line);
	cr_assert_gt(fromj, 0, "the mirror was never lapped");
	cr_assert_eq(lost + dropped + failed, 0, "%s", line);
	cr_assert_eq(sent, delivered);
	free(log);

	/* Trades: every seq once, equal to the journal's record, the set of
	 * (symbol, id) equal to the files'. */
	struct tr_region *r;
	struct tr_journal_reader *jr;
	struct kmsgs k;
	char json[TR_FORMAT_BUFSZ];
	struct tr_trade t;

	cr_assert_eq(tr_region_open(&r, er.inst, TR_OPEN_ANY_STATE), 0, "%s", tr_errmsg());
	uint64_t n = tr_region_head(r, TR_KIND_TRADE);
	kcat_topic(b.addr, "tickring.trades", &k);
	size_t *idx = kmsgs_by_seq(&k, n, NULL);
	cr_assert_eq(k.n, n);
	cr_assert_eq(tr_journal_reader_open(&jr, er.jdir, TR_KIND_TRADE), 0);
	for (uint64_t s = 1; s <= n; s++) {
		const struct kmsg *m = &k.m[idx[s]];
		cr_assert_eq(tr_journal_read(jr, s, &t), 0, "journal seq %" PRIu64, s);
		cr_assert_geq(tr_format_json(r, TR_KIND_TRADE, &t, m->epoch, json, sizeof json), 0);
		cr_assert_str_eq(m->json, json, "seq %" PRIu64, s);
		cr_assert_str_eq(m->schema, "tickring.trade.v1");
	}
	tr_journal_reader_close(jr);
	check_trade_set(&k, idx, n, 0);
	kmsgs_check_order(&k, n, 0);
	free(idx);
	kmsgs_free(&k);

	/* Candles. tickringd publishes the open candles as finals before it
	 * drains its mirrors, so they are already there; `tickring mirror
	 * kafka`, run as its own process after it, resumes at tickringd's
	 * checkpoint and must add nothing twice. Then every record is there
	 * once, and each final candle of the ring with it. */
	struct tr_cursor c;
	struct tr_candle cd;
	char ckpt[128];
	uint64_t nc = tr_region_head(r, TR_KIND_CANDLE), finals = 0;
	char *mirror[] = {(char *)"tickring",
			  (char *)"--instance",
			  er.inst,
			  (char *)"mirror",
			  (char *)"kafka",
			  (char *)"--kafka-brokers",
			  b.addr,
			  (char *)"--journal-dir",
			  er.jdir,
			  NULL};
	snprintf(ckpt, sizeof ckpt, "%s/kafka.checkpoint", er.jdir);
	pid = e2e_spawn(mirror, NULL, er.log);
	tproc_track(pid);
	wait_checkpoint(ckpt, TR_KIND_CANDLE, nc, 60);
	e2e_wait_catches(pid, SIGINT);
	kill(pid, SIGINT);
	cr_assert_eq(tproc_reap(pid), 0);
	kcat_topic(b.addr, "tickring.candles", &k);
	idx = kmsgs_by_seq(&k, nc, NULL);
	tr_cursor_init(&c, r, TR_KIND_CANDLE, TR_JOIN_SEQ, 1);
	for (uint64_t s = 1; s <= nc; s++) {
		cr_assert_eq(tr_poll(&c, &cd), TR_POLL_RECORD, "candle %" PRIu64, s);
		if (!(cd.flags & TR_CANDLE_FINAL))
			continue;
		finals++;
		const struct kmsg *m = &k.m[idx[s]];
		cr_assert_geq(tr_format_json(r, TR_KIND_CANDLE, &cd, m->epoch, json, sizeof json),
			      0);
		cr_assert_str_eq(m->json, json, "final candle seq %" PRIu64, s);
	}
	cr_assert_gt(finals, 1000);
	free(idx);
	kmsgs_free(&k);
	tr_region_close(r);
}

Test(kafka, kill_9_during_a_replay_and_restart_loses_no_trade, .fini = efini, .timeout = 180)
{
	struct kbroker b;
	char ckpt[128];

	esetup("k9");
	kb_start(&b, "4");
	snprintf(ckpt, sizeof ckpt, "%s/kafka.checkpoint", er.jdir);
	char *extra[] = {(char *)"--kafka-brokers",
			 b.addr,
			 (char *)"--kafka-kinds",
			 (char *)"trades",
			 (char *)"--ring-slots",
			 (char *)"65536",
			 NULL};
	/* ~650 s of market at 300x: about 2 s; killed a third of the way. */
	pid_t pid = tickringd("300", extra);
	wait_checkpoint(ckpt, TR_KIND_TRADE, 8000, 60);
	kill(pid, SIGKILL);
	cr_assert_eq(tproc_reap(pid), 128 + SIGKILL);
	uint64_t c[TR_NKINDS];
	cr_assert_eq(tr_checkpoint_load(ckpt, c), 0);
	uint64_t at_crash = c[TR_KIND_TRADE];

	/* The same replay again: the engine drops the trades it already
	 * published (ids at or below the last per symbol), continues the
	 * sequence, and the mirror resumes after its checkpoint. */
	pid = tickringd("max", extra);
	cr_assert_eq(tproc_reap(pid), 0, "tickringd failed (log %s)", er.log);
	char *log = slurp(er.log);
	cr_assert_not_null(strstr(log, "resuming"), "%s", log);
	cr_assert_not_null(strstr(log, " 0 lost\n"), "%s", log);
	free(log);

	struct tr_region *r;
	struct kmsgs k;
	size_t dups;
	cr_assert_eq(tr_region_open(&r, er.inst, TR_OPEN_ANY_STATE), 0, "%s", tr_errmsg());
	uint64_t n = tr_region_head(r, TR_KIND_TRADE);
	tr_region_close(r);
	kcat_topic(b.addr, "tickring.trades", &k);
	size_t *idx = kmsgs_by_seq(&k, n, &dups);
	/* A second copy only of what was delivered after the last checkpoint
	 * write before the crash (kmsgs_by_seq checked it is identical). */
	uint8_t *first = calloc(n + 1, 1);
	for (size_t i = 0; i < k.n; i++)
		if (first[k.m[i].seq]++)
			cr_assert_gt(k.m[i].seq, at_crash,
				     "seq %" PRIu64 " twice, at or below the checkpoint %" PRIu64,
				     k.m[i].seq, at_crash);
	free(first);
	/* The engine never publishes a trade twice: after a restart it dedupes
	 * by the latest table and by the ring's newest trade, which covers a
	 * kill between publishing a trade and updating the latest table. */
	uint64_t edups = check_trade_set(&k, idx, n, 0);
	kmsgs_check_order(&k, n, 1);
	cr_log_info("kill -9 at checkpoint %" PRIu64 ": %zu mirror duplicates, %" PRIu64
		    " engine re-publications, of %" PRIu64 " trades",
		    at_crash, dups, edups, n);
	free(idx);
	kmsgs_free(&k);
}
