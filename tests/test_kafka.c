/* test_kafka.c - the Kafka mirror module against the real development
 * broker, with kcat as the consumer: records published with the writer reach
 * their topics exactly once with the right key, headers and JSON; a lapped
 * mirror reads the journal and loses nothing; a restart resumes after the
 * checkpoint; a broker taken down (refusing connections, or frozen with
 * SIGSTOP) costs nothing and is waited for with bounded memory; delivery
 * errors librdkafka gives up on are re-sent from the watermark; bad
 * directives are refused with a reason.
 *
 * The mirror runs tr_kafka_run() on a thread of the test with its own stop
 * flag, exactly as tickringd's mirror thread does. */
#define _GNU_SOURCE
#include <ftw.h>
#include <pthread.h>
#include <sys/stat.h>

#include "test_kafka.h"
#include "th.h"
#include "tr_format.h"
#include "tr_journal.h"
#include "tr_kafka.h"
#include "tr_msrc.h"
#include "tr_uring.h"

static char jdir[64];

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb, (void)flag, (void)f;
	return remove(p);
}

static void fini(void)
{
	tproc_cleanup();
	if (jdir[0])
		nftw(jdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

#define T(name, ...) Test(kafka, name, .fini = fini, .timeout = 90, ##__VA_ARGS__)

/* ---- the market the tests publish: deterministic by seq ---- */

static int sym_ids[3];

static void setup_names(struct tr_writer *w)
{
	int v = tr_writer_venue(w, "binance");
	static const char *const names[] = {"BTCUSDT", "ETHUSDT", "SOLUSDT"};

	cr_assert_geq(v, 0);
	for (int i = 0; i < 3; i++)
		cr_assert_geq(sym_ids[i] = tr_writer_symbol(w, (unsigned)v, names[i]), 0);
}

static void make(unsigned kind, uint64_t seq, void *rec)
{
	memset(rec, 0, tr_kind_size(kind));
	uint32_t sym = (uint32_t)sym_ids[seq % 3];
	int64_t ts = 1722000000000000000ll + (int64_t)seq * 1000000;

	switch (kind) {
	case TR_KIND_TRADE: {
		struct tr_trade *t = rec;
		t->ts_event = ts;
		t->ts_recv = ts + 500;
		t->price = 6000000000000 + (int64_t)(th_mix(seq) % 100000000);
		t->qty = 1 + (int64_t)(th_mix(seq + 1) % 100000000);
		t->trade_id = 1000 + seq;
		t->symbol_id = sym;
		t->side = (uint8_t)(seq % 3);
		t->trade_count = 1;
		break;
	}
	case TR_KIND_QUOTE: {
		struct tr_quote *q = rec;
		q->ts_recv = ts;
		q->bid_px = 6000000000000 + (int64_t)seq;
		q->ask_px = q->bid_px + 1000000;
		q->bid_qty = q->ask_qty = 100000000;
		q->symbol_id = sym;
		break;
	}
	case TR_KIND_CANDLE: {
		struct tr_candle *c = rec;
		c->open_time = 1722000000000000000ll + (int64_t)seq * 60000000000ll;
		c->open = c->high = c->low = c->close = c->vwap = 6000000000000;
		c->volume = 100000000;
		c->quote_volume = 6000000000000;
		c->trade_count = 1;
		c->interval_s = 60;
		c->symbol_id = sym;
		c->flags = seq % 2 ? TR_CANDLE_FINAL : 0;
		break;
	}
	default: {
		struct tr_event *e = rec;
		e->ts_event = e->ts_recv = ts;
		e->type = TR_EV_FEED_UP;
		/* every other event about no symbol: key "<venue>" alone */
		e->symbol_id = seq % 2 ? UINT32_MAX : sym;
		snprintf(e->u.text, sizeof e->u.text, "event %llu", (unsigned long long)seq);
		break;
	}
	}
}

/* Publish n records of kind; with j, journal them as the engine does. */
static void publish(struct tr_writer *w, unsigned kind, unsigned n, struct tr_journal *j,
		    struct tr_uring *u)
{
	uint64_t rec[16];

	for (unsigned i = 0; i < n; i++) {
		make(kind, w->rings[kind].next, rec);
		tr_writer_publish(w, kind, rec);
		if (j) {
			cr_assert_eq(tr_journal_append(j, kind, rec), 0, "%s", tr_errmsg());
			if (i % 64 == 63) {
				tr_journal_flush(j);
				tr_uring_reap(u);
			}
		}
	}
	tr_writer_commit(w);
	if (j) {
		for (int i = 0; i < 1000 && tr_journal_pending(j); i++) {
			tr_journal_flush(j);
			tr_uring_wait(u, 10000000);
			tr_uring_reap(u);
		}
		cr_assert_eq(tr_journal_pending(j), 0);
	}
}

static struct tr_journal *journal(struct tr_uring *u)
{
	struct tr_journal_config c;
	struct tr_journal *j;

	snprintf(jdir, sizeof jdir, "/tmp/trk-XXXXXX");
	cr_assert_not_null(mkdtemp(jdir));
	cr_assert_eq(tr_uring_init(u, 256), 0);
	tr_journal_config_default(&c);
	c.dir = jdir;
	cr_assert_eq(tr_journal_open(&j, u, &c), 0, "%s", tr_errmsg());
	return j;
}

/* ---- the mirror on a thread ---- */

struct mrun {
	pthread_t th;
	atomic_int stop;
	struct tr_mirror_stats st;
	struct tr_mirror_opt opts[24];
	char names[24][64], values[24][256];
	struct tr_mirror_args a;
	unsigned n;
	int rc, running;
};

static void mopt(struct mrun *m, const char *name, const char *value)
{
	char err[256];

	cr_assert_lt(m->n, 24);
	cr_assert_eq(tr_mirror_kafka.check(name, value, err, sizeof err), 0, "%s %s: %s", name,
		     value, err);
	snprintf(m->names[m->n], 64, "%s", name);
	snprintf(m->values[m->n], 256, "%s", value);
	m->opts[m->n] = (struct tr_mirror_opt){m->names[m->n], m->values[m->n], "test"};
	m->n++;
}

static void *mthread(void *arg)
{
	struct mrun *m = arg;

	m->rc = tr_kafka_run(&m->a, NULL);
	return NULL;
}

static void mstart(struct mrun *m, const char *inst, const char *journal_dir)
{
	memset(&m->st, 0, sizeof m->st);
	atomic_store(&m->stop, 0);
	m->a = (struct tr_mirror_args){.instance = inst,
				       .journal_dir = journal_dir,
				       .opts = m->opts,
				       .nopts = m->n,
				       .stop = &m->stop,
				       .stats = &m->st};
	cr_assert_eq(pthread_create(&m->th, NULL, mthread, m), 0);
	m->running = 1;
}

static int mstop(struct mrun *m)
{
	/* Pairs with the mirror loop's load of the flag. */
	atomic_store(&m->stop, 1);
	pthread_join(m->th, NULL);
	m->running = 0;
	return m->rc;
}

#define LD(x) atomic_load_explicit(&(x), memory_order_relaxed)

/* Wait until the mirror's checkpoint of kind reaches seq. */
static void mwait(struct mrun *m, unsigned kind, uint64_t seq, int seconds)
{
	int64_t deadline = e2e_now() + seconds * 1000000000ll;

	while (LD(m->st.checkpoint[kind]) < seq) {
		cr_assert_lt(e2e_now(), deadline,
			     "%s checkpoint %" PRIu64 " < %" PRIu64 " after %d s (sent %" PRIu64
			     ", delivered %" PRIu64 ", failed %" PRIu64 ")",
			     tr_kind_name(kind), (uint64_t)LD(m->st.checkpoint[kind]), seq, seconds,
			     (uint64_t)LD(m->st.sent), (uint64_t)LD(m->st.delivered),
			     (uint64_t)LD(m->st.failed));
		usleep(20000);
	}
}

/* ---- checks ---- */

static const char *const schema_of[] = {"tickring.trade.v1", "tickring.quote.v1",
					"tickring.candle.v1", "tickring.event.v1"};

static void expected_key(const struct tr_region *r, unsigned kind, uint64_t seq, char *key,
			 size_t n)
{
	uint64_t rec[16];
	struct tr_symbol s;

	make(kind, seq, rec);
	uint32_t sym = kind == TR_KIND_EVENT ? ((struct tr_event *)rec)->symbol_id
					     : (uint32_t)sym_ids[seq % 3];
	if (sym == UINT32_MAX) {
		snprintf(key, n, "binance");
		return;
	}
	cr_assert_eq(tr_symbol_get(r, sym, &s), 0);
	snprintf(key, n, "binance:%s", s.name);
}

/* Topic <prefix>.<kind> holds seqs 1..n, each once (or, with dups, at
 * least once), with key, headers and payload as the mirror promises.
 * Returns the duplicates. */
static size_t check_topic(const char *addr, const char *prefix, const char *inst, unsigned kind,
			  uint64_t n, int allow_dups)
{
	char topic[128], key[96], json[TR_FORMAT_BUFSZ];
	struct kmsgs k;
	struct tr_region *r;
	uint64_t rec[16];
	size_t dups = 0;

	snprintf(topic, sizeof topic, "%s.%s", prefix, tr_kind_name(kind));
	kcat_topic(addr, topic, &k);
	cr_assert_eq(tr_region_open(&r, inst, TR_OPEN_ANY_STATE), 0, "%s", tr_errmsg());
	size_t *idx = kmsgs_by_seq(&k, n, allow_dups ? &dups : NULL);
	for (size_t i = 0; i < k.n; i++) {
		const struct kmsg *m = &k.m[i];
		make(kind, m->seq, rec);
		((uint64_t *)rec)[0] = m->seq;
		/* the header's epoch: the region's for records still of this epoch */
		cr_assert(m->epoch == tr_region_epoch(r) || m->epoch == 0,
			  "seq %" PRIu64 ": epoch %" PRIu64, m->seq, m->epoch);
		cr_assert_geq(tr_format_json(r, kind, rec, m->epoch, json, sizeof json), 0);
		cr_assert_str_eq(m->json, json, "seq %" PRIu64 " payload", m->seq);
		expected_key(r, kind, m->seq, key, sizeof key);
		cr_assert_str_eq(m->key, key, "seq %" PRIu64 " key", m->seq);
		cr_assert_str_eq(m->schema, schema_of[kind]);
	}
	kmsgs_check_order(&k, n, allow_dups);
	free(idx);
	kmsgs_free(&k);
	tr_region_close(r);
	return dups;
}

/* ---- tests ---- */

T(every_record_reaches_its_topic_once_with_key_headers_and_json)
{
	struct kbroker b;
	struct mrun m = {0};
	const char *inst = tproc_instance("kaf");
	const char *ckpt = tproc_tmpfile("ckpt");
	struct tr_writer *w = th_writer(inst, 4096);
	static const unsigned count[TR_NKINDS] = {3000, 1000, 200, 40};
	uint64_t saved[TR_NKINDS];

	kb_start(&b, "4");
	setup_names(w);
	for (unsigned k = 0; k < TR_NKINDS; k++)
		publish(w, k, count[k], NULL, NULL);
	mopt(&m, "kafka-brokers", b.addr);
	mopt(&m, "kafka-checkpoint", ckpt);
	mstart(&m, inst, NULL);
	for (unsigned k = 0; k < TR_NKINDS; k++)
		mwait(&m, k, count[k], 30);
	cr_assert_eq(mstop(&m), 0, "%s", tr_errmsg());
	cr_assert_eq(LD(m.st.delivered), 4240);
	cr_assert_eq(LD(m.st.sent), 4240);
	cr_assert_eq(LD(m.st.failed) + LD(m.st.lost) + LD(m.st.from_journal), 0);
	cr_assert_geq(LD(m.st.reconnects), 1);
	cr_assert_eq(tr_checkpoint_load(ckpt, saved), 0);
	for (unsigned k = 0; k < TR_NKINDS; k++) {
		cr_assert_eq(saved[k], count[k]);
		cr_assert_eq(check_topic(b.addr, "tickring", inst, k, count[k], 0), 0);
	}
	tr_writer_close(w);
}

T(kinds_and_prefix_choose_the_topics)
{
	struct kbroker b;
	struct mrun m = {0};
	const char *inst = tproc_instance("kafk");
	struct tr_writer *w = th_writer(inst, 1024);
	char *argv[] = {(char *)"kcat", (char *)"-L", (char *)"-b", b.addr, (char *)"-q", NULL};

	kb_start(&b, "2");
	setup_names(w);
	publish(w, TR_KIND_TRADE, 100, NULL, NULL);
	publish(w, TR_KIND_QUOTE, 100, NULL, NULL);
	mopt(&m, "kafka-brokers", b.addr);
	mopt(&m, "kafka-checkpoint", tproc_tmpfile("ckpt"));
	mopt(&m, "kafka-topic-prefix", "shard-7.eu");
	mopt(&m, "kafka-kinds", "quotes");
	mstart(&m, inst, NULL);
	mwait(&m, TR_KIND_QUOTE, 100, 30);
	cr_assert_eq(mstop(&m), 0);
	cr_assert_eq(LD(m.st.read[TR_KIND_TRADE]), 0);
	cr_assert_eq(LD(m.st.kinds), 1u << TR_KIND_QUOTE);
	check_topic(b.addr, "shard-7.eu", inst, TR_KIND_QUOTE, 100, 0);
	/* the broker auto-created only the one topic the mirror wrote */
	char *list = kcat_run(argv);
	cr_assert_not_null(strstr(list, "\"shard-7.eu.quotes\""));
	cr_assert_null(strstr(list, "shard-7.eu.trades"));
	free(list);
	tr_writer_close(w);
}

T(a_lapped_mirror_reads_the_journal_and_loses_nothing)
{
	struct kbroker b;
	struct mrun m = {0};
	struct tr_uring u;
	const char *inst = tproc_instance("kafl");
	struct tr_writer *w = th_writer(inst, 64);
	struct tr_journal *j = journal(&u);

	kb_start(&b, "3");
	setup_names(w);
	/* 64 slots: all but the last 64 of 5000 are only in the journal */
	publish(w, TR_KIND_TRADE, 5000, j, &u);
	mopt(&m, "kafka-brokers", b.addr);
	mopt(&m, "kafka-kinds", "trades");
	mstart(&m, inst, jdir);
	/* and more while it runs, lapping it again */
	for (int i = 0; i < 10; i++) {
		publish(w, TR_KIND_TRADE, 500, j, &u);
		usleep(10000);
	}
	mwait(&m, TR_KIND_TRADE, 10000, 30);
	cr_assert_eq(mstop(&m), 0);
	cr_assert_geq(LD(m.st.from_journal), 5000 - 64);
	cr_assert_eq(LD(m.st.lost), 0);
	cr_assert_eq(LD(m.st.delivered), 10000);
	check_topic(b.addr, "tickring", inst, TR_KIND_TRADE, 10000, 0);
	/* default checkpoint: in the journal directory */
	char path[128];
	uint64_t saved[TR_NKINDS];
	snprintf(path, sizeof path, "%s/kafka.checkpoint", jdir);
	cr_assert_eq(tr_checkpoint_load(path, saved), 0);
	cr_assert_eq(saved[TR_KIND_TRADE], 10000);
	tr_journal_close(j);
	tr_uring_exit(&u);
	tr_writer_close(w);
}

T(a_restart_resumes_after_the_checkpoint)
{
	struct kbroker b;
	struct mrun m = {0};
	const char *inst = tproc_instance("kafr");
	const char *ckpt = tproc_tmpfile("ckpt");
	struct tr_writer *w = th_writer(inst, 4096);
	uint64_t saved[TR_NKINDS];

	kb_start(&b, "4");
	setup_names(w);
	mopt(&m, "kafka-brokers", b.addr);
	mopt(&m, "kafka-checkpoint", ckpt);
	mopt(&m, "kafka-kinds", "trades,events");
	mopt(&m, "kafka-start", "tail");
	publish(w, TR_KIND_TRADE, 300, NULL, NULL); /* before the first start: skipped */
	mstart(&m, inst, NULL);
	mwait(&m, TR_KIND_TRADE, 300, 30); /* positioned at the tail */
	publish(w, TR_KIND_TRADE, 700, NULL, NULL);
	mwait(&m, TR_KIND_TRADE, 1000, 30);
	cr_assert_eq(mstop(&m), 0);
	cr_assert_eq(LD(m.st.delivered), 700);
	cr_assert_eq(tr_checkpoint_load(ckpt, saved), 0);
	cr_assert_eq(saved[TR_KIND_TRADE], 1000);

	/* Stopped: 1000 more published. With a checkpoint, kafka-start tail no
	 * longer matters: the mirror resumes at 1001. */
	publish(w, TR_KIND_TRADE, 1000, NULL, NULL);
	publish(w, TR_KIND_EVENT, 10, NULL, NULL);
	mstart(&m, inst, NULL);
	mwait(&m, TR_KIND_TRADE, 2000, 30);
	mwait(&m, TR_KIND_EVENT, 10, 30);
	cr_assert_eq(mstop(&m), 0);
	cr_assert_eq(LD(m.st.delivered), 1010);

	struct kmsgs k;
	kcat_topic(b.addr, "tickring.trades", &k);
	cr_assert_eq(k.n, 1700);
	uint8_t seen[2001] = {0};
	for (size_t i = 0; i < k.n; i++) {
		cr_assert(k.m[i].seq > 300 && k.m[i].seq <= 2000, "seq %" PRIu64, k.m[i].seq);
		cr_assert_eq(seen[k.m[i].seq]++, 0, "seq %" PRIu64 " twice", k.m[i].seq);
	}
	kmsgs_free(&k);
	check_topic(b.addr, "tickring", inst, TR_KIND_EVENT, 10, 0);
	tr_writer_close(w);
}

/* The broker refuses connections for a while (SIGUSR1 ... SIGUSR2). With a
 * 200-message producer queue and a 256-slot ring, the mirror must stop
 * reading (stall), get lapped, and later take the records from the journal:
 * all arrive once, with the same payloads. */
T(a_broker_outage_stalls_the_mirror_and_the_journal_fills_the_gap)
{
	struct kbroker b;
	struct mrun m = {0};
	struct tr_uring u;
	const char *inst = tproc_instance("kafo");
	struct tr_writer *w = th_writer(inst, 256);
	struct tr_journal *j = journal(&u);

	kb_start(&b, "4");
	setup_names(w);
	mopt(&m, "kafka-brokers", b.addr);
	mopt(&m, "kafka-kinds", "trades");
	mopt(&m, "kafka.queue.buffering.max.messages", "200");
	mstart(&m, inst, jdir);
	publish(w, TR_KIND_TRADE, 1000, j, &u);
	mwait(&m, TR_KIND_TRADE, 1000, 30);

	kill(b.pid, SIGUSR1);
	for (int i = 0; i < 20; i++) {
		publish(w, TR_KIND_TRADE, 250, j, &u);
		usleep(50000);
	}
	int64_t deadline = e2e_now() + 10 * 1000000000ll;
	while (LD(m.st.connected)) {
		cr_assert_lt(e2e_now(), deadline, "the mirror never noticed the outage");
		usleep(20000);
	}
	cr_assert_lt(LD(m.st.checkpoint[TR_KIND_TRADE]), 6000);
	cr_assert_leq(LD(m.st.sent), LD(m.st.delivered) + 200,
		      "more in flight than the producer queue's bound");
	cr_assert_geq(LD(m.st.kafka_stalls), 1);

	kill(b.pid, SIGUSR2);
	mwait(&m, TR_KIND_TRADE, 6000, 60);
	cr_assert_eq(mstop(&m), 0);
	cr_assert_gt(LD(m.st.from_journal), 0);
	cr_assert_eq(LD(m.st.lost), 0);
	cr_assert_geq(LD(m.st.reconnects), 2);
	cr_assert_eq(check_topic(b.addr, "tickring", inst, TR_KIND_TRADE, 6000, 0), 0);
	tr_journal_close(j);
	tr_uring_exit(&u);
	tr_writer_close(w);
}

/* A frozen broker (SIGSTOP: connections stay open, nothing answers) is just
 * a slow one: after SIGCONT everything arrives once. */
T(a_frozen_broker_delays_but_loses_nothing)
{
	struct kbroker b;
	struct mrun m = {0};
	const char *inst = tproc_instance("kafs");
	struct tr_writer *w = th_writer(inst, 8192);

	kb_start(&b, "4");
	setup_names(w);
	mopt(&m, "kafka-brokers", b.addr);
	mopt(&m, "kafka-kinds", "trades");
	mopt(&m, "kafka-checkpoint", tproc_tmpfile("ckpt"));
	mstart(&m, inst, NULL);
	publish(w, TR_KIND_TRADE, 500, NULL, NULL);
	mwait(&m, TR_KIND_TRADE, 500, 30);
	kill(b.pid, SIGSTOP);
	publish(w, TR_KIND_TRADE, 2000, NULL, NULL);
	usleep(1500000);
	cr_assert_lt(LD(m.st.checkpoint[TR_KIND_TRADE]), 2500);
	kill(b.pid, SIGCONT);
	mwait(&m, TR_KIND_TRADE, 2500, 60);
	cr_assert_eq(mstop(&m), 0);
	cr_assert_eq(check_topic(b.addr, "tickring", inst, TR_KIND_TRADE, 2500, 0), 0);
	tr_writer_close(w);
}

/* With a message timeout (kafka.message.timeout.ms) an outage makes
 * delivery fail for good; the mirror re-sends from the watermark once the
 * broker is back. Every record arrives; a record appears twice only if it
 * was in the re-sent range. */
T(final_delivery_errors_are_re_sent_from_the_watermark)
{
	struct kbroker b;
	struct mrun m = {0};
	const char *inst = tproc_instance("kafe");
	struct tr_writer *w = th_writer(inst, 8192);

	kb_start(&b, "2");
	setup_names(w);
	mopt(&m, "kafka-brokers", b.addr);
	mopt(&m, "kafka-kinds", "trades");
	mopt(&m, "kafka-checkpoint", tproc_tmpfile("ckpt"));
	mopt(&m, "kafka.message.timeout.ms", "300");
	mstart(&m, inst, NULL);
	publish(w, TR_KIND_TRADE, 200, NULL, NULL);
	mwait(&m, TR_KIND_TRADE, 200, 30);
	kill(b.pid, SIGUSR1);
	publish(w, TR_KIND_TRADE, 800, NULL, NULL);
	int64_t deadline = e2e_now() + 10 * 1000000000ll;
	while (!LD(m.st.failed)) {
		cr_assert_lt(e2e_now(), deadline, "no delivery ever failed");
		usleep(20000);
	}
	usleep(500000);
	kill(b.pid, SIGUSR2);
	mwait(&m, TR_KIND_TRADE, 1000, 60);
	cr_assert_eq(mstop(&m), 0);
	cr_assert_gt(LD(m.st.kafka_resends), 0);
	size_t dups = check_topic(b.addr, "tickring", inst, TR_KIND_TRADE, 1000, 1);
	cr_assert_leq(dups, LD(m.st.kafka_resends));
	tr_writer_close(w);
}

T(bad_directives_are_refused_with_a_reason)
{
	static const char *const bad[][3] = {
	    {"kafka.linger.ms", "soon", "Invalid value"},
	    {"kafka.no.such.property", "1", "No such configuration property"},
	    {"kafka.compression.codec", "zip", "Invalid value"},
	    {"kafka.", "1", "no librdkafka property"},
	    {"kafka.bootstrap.servers", "127.0.0.1:1", "kafka-brokers"},
	    {"kafka-brokers", "", "host:port"},
	    {"kafka-topic-prefix", "a/b", "[a-zA-Z0-9._-]"},
	    {"kafka-kinds", "trades,orders", "'orders'"},
	    {"kafka-start", "newest", "oldest or tail"},
	    {"kafka-flush-ms", "-1", "0..3600000"},
	    {"kafka-checkpoint", "", "file path"},
	    {"kafka-bogus", "1", "unknown directive"},
	};
	static const char *const good[][2] = {
	    {"kafka.linger.ms", "20"},
	    {"kafka.security.protocol", "sasl_ssl"},
	    {"kafka.sasl.mechanisms", "SCRAM-SHA-512"},
	    {"kafka.sasl.username", "tick"},
	    {"kafka.message.timeout.ms", "0"},
	    {"kafka-kinds", "trades,candles"},
	    {"kafka-kinds", "all"},
	    {"kafka-start", "tail"},
	    {"kafka-topic-prefix", "md.binance-spot_v1"},
	};
	char err[256];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = 0;
		cr_assert_eq(tr_mirror_kafka.check(bad[i][0], bad[i][1], err, sizeof err), -EINVAL,
			     "%s %s accepted", bad[i][0], bad[i][1]);
		cr_assert_not_null(strstr(err, bad[i][2]), "%s %s: '%s'", bad[i][0], bad[i][1],
				   err);
	}
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		cr_assert_eq(tr_mirror_kafka.check(good[i][0], good[i][1], err, sizeof err), 0,
			     "%s %s: %s", good[i][0], good[i][1], err);
}

/* tickringd stops at a bad kafka.* line and names the file and line. */
T(tickringd_names_the_line_of_a_bad_property)
{
	const char *conf = tproc_tmpfile("conf");
	const char *log = tproc_tmpfile("log");
	FILE *f = fopen(conf, "w");

	cr_assert_not_null(f);
	fprintf(f, "# kafka\nkafka-brokers 127.0.0.1:9\nkafka.linger.ms soon\n");
	fclose(f);
	char *argv[] = {(char *)"tickringd",  (char *)"--config", (char *)conf,
			(char *)"--instance", (char *)"kafbad",	  NULL};
	pid_t pid = e2e_spawn(argv, NULL, log);
	tproc_track(pid);
	cr_assert_neq(tproc_reap(pid), 0);
	char buf[4096] = "", where[300];
	f = fopen(log, "r");
	cr_assert_not_null(f);
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = 0;
	fclose(f);
	snprintf(where, sizeof where, "%s:3", conf);
	cr_assert_not_null(strstr(buf, where), "log: %s", buf);
	cr_assert_not_null(strstr(buf, "linger.ms"), "log: %s", buf);
}

/* Properties valid one by one but not together fail when the producer is
 * made: run() returns at once with librdkafka's reason, writing nothing. */
T(conflicting_properties_stop_the_mirror_with_the_reason)
{
	struct mrun m = {0};
	const char *inst = tproc_instance("kafc");
	const char *ckpt = tproc_tmpfile("ckpt");
	struct tr_writer *w = th_writer(inst, 64);

	mopt(&m, "kafka-brokers", "127.0.0.1:9");
	mopt(&m, "kafka-checkpoint", ckpt);
	mopt(&m, "kafka.acks", "1"); /* the idempotent producer needs all */
	m.a = (struct tr_mirror_args){
	    .instance = inst, .opts = m.opts, .nopts = m.n, .stop = &m.stop, .stats = &m.st};
	cr_assert_eq(tr_kafka_run(&m.a, NULL), -EINVAL);
	cr_assert_not_null(strstr(tr_errmsg(), "acks"), "%s", tr_errmsg());
	cr_assert_eq(access(ckpt, F_OK), -1, "a checkpoint was written");
	tr_writer_close(w);
}
