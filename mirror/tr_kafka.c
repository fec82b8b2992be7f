/* tr_kafka.c - the Kafka mirror (tr_kafka.h): sources to an idempotent
 * librdkafka producer, delivery reports to a checkpoint.
 *
 * One thread does everything: it reads each configured ring through its
 * tr_msrc, formats and produces, and serves librdkafka's callbacks (delivery
 * reports, errors, statistics) with rd_kafka_poll(), so the per-kind state
 * needs no locking. A record read from a source but not yet accepted by the
 * producer stays "pending" in its kind's slot until it is; the source is not
 * read meanwhile. That is the whole of the backpressure: a full producer
 * queue (queue.buffering.max.*) or a full delivery window pauses reading,
 * the rings may lap us, and the source reads the journal when we come back.
 *
 * The opaque of every message is (seq << 2 | kind): the delivery report
 * acknowledges seq in its kind's window without any allocation.
 *
 * Re-sending: a delivery error that librdkafka will not retry (message.
 * timeout.ms expired if set, topic missing or unauthorised, a fatal
 * idempotence error) marks the kind; once its last message is reported, the
 * source and window restart at the watermark, with a growing pause between
 * repeats (100 ms doubling to 5 s) so a permanent error does not spin.
 */
#define _GNU_SOURCE
#include "tr_kafka.h"

#include <errno.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tr_err.h"
#include "tr_format.h"
#include "tr_layout.h"
#include "tr_log.h"
#include "tr_msrc.h"
#include "tr_reader.h"

#define BATCH 256	    /* records per kind per round */
#define WINDOW (1u << 18)   /* seqs in flight per kind */
#define SAVE_NS 100000000ll /* checkpoint at most this often */
#define IDLE_NS 2000000ll   /* wait on a ring this long when all are idle */
#define BACKOFF_MIN_NS 100000000ll
#define BACKOFF_MAX_NS 5000000000ll
#define KEY_MAX (TR_VENUE_LEN + TR_NAME_LEN + 24)

static const char *const schemas[TR_NKINDS] = {"tickring.trade.v1", "tickring.quote.v1",
					       "tickring.candle.v1", "tickring.event.v1"};

/* The defaults, applied before the kafka.* lines (which may override them). */
static const char *const defaults[][2] = {
    {"enable.idempotence", "true"},		/* acks=all, no reordering or duplicates on retry */
    {"compression.codec", "lz4"},		/* cheap, good on JSON */
    {"linger.ms", "5"},				/* batches fill at high rates; bounded added lag */
    {"batch.num.messages", "10000"},		/* messages per MessageSet */
    {"batch.size", "1048576"},			/* bytes per MessageSet */
    {"queue.buffering.max.messages", "100000"}, /* the bound on RAM while the broker is away */
    {"queue.buffering.max.kbytes", "65536"},
    {"message.timeout.ms", "0"},	  /* retry forever, idempotently */
    {"reconnect.backoff.max.ms", "1000"}, /* notice a returning broker within a second */
    {"statistics.interval.ms", "1000"},	  /* broker states, for `connected` */
};

struct kconf {
	const char *brokers;
	const char *prefix;
	unsigned kinds; /* bit per enum tr_kind */
	char checkpoint[PATH_MAX];
	int start_tail;
	int flush_ms;
};

struct kind {
	struct tr_msrc *src;
	struct tr_ackwin *win;
	rd_kafka_topic_t *rkt;
	uint64_t last_added;  /* last seq added to the window */
	uint64_t outstanding; /* produced, not yet reported */
	int pending;	      /* rec/info hold a record not yet produced */
	int rewind;	      /* a final delivery error: restart at the watermark */
	int64_t retry_at;     /* not before (backoff) */
	int64_t backoff;
	uint64_t rec[16]; /* 128 bytes, 8-aligned */
	struct tr_msrc_info info;
	uint64_t src_lost; /* lost already counted from the current source */
};

struct km {
	const struct tr_mirror_args *a;
	const struct tr_kafka_hooks *hooks;
	struct tr_mirror_stats *st;
	struct kconf c;
	rd_kafka_t *rk;
	struct kind k[TR_NKINDS];
	uint64_t saved[TR_NKINDS]; /* last checkpoint written */
	uint64_t loaded[TR_NKINDS];
	int64_t saved_at, save_err_log;
	int have_file; /* the checkpoint file exists (loaded or written) */
	int fatal;     /* librdkafka raised a fatal error: make a new producer */
	int blocked;   /* reading paused by backpressure */
	int64_t last_err_log;
	int last_err;
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Statistics are relaxed: plain counters, no ordering paired with them
 * (tr_mirror.h). */
static void inc(_Atomic uint64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* ---- directives ---- */

__attribute__((format(printf, 3, 4))) static int bad(char *err, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int parse_kinds(const char *v, unsigned *out, char *err, size_t n)
{
	char buf[128], *save = NULL;
	unsigned m = 0;

	if (!strcmp(v, "all")) {
		*out = (1u << TR_NKINDS) - 1;
		return 0;
	}
	if (strlen(v) >= sizeof buf)
		return bad(err, n, "too long: '%s'", v);
	strcpy(buf, v);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		int k = tr_kind_parse(t);
		if (k < 0)
			return bad(err, n, "'%s' is not trades, quotes, candles, events or all", t);
		m |= 1u << k;
	}
	if (!m)
		return bad(err, n, "empty: '%s'", v);
	*out = m;
	return 0;
}

/* Kafka topic names: [a-zA-Z0-9._-], at most 249 characters. */
static int valid_prefix(const char *p)
{
	size_t n = strlen(p);

	if (!n || n > 240)
		return 0;
	for (; *p; p++)
		if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') &&
		    !(*p >= '0' && *p <= '9') && *p != '.' && *p != '_' && *p != '-')
			return 0;
	return 1;
}

/* One directive into c (which may be NULL: validate only). */
static int apply(struct kconf *c, const char *name, const char *value, char *err, size_t n)
{
	char *end;

	if (!value)
		value = "";
	if (!strncmp(name, "kafka.", 6)) {
		const char *prop = name + 6;
		char errstr[512];
		rd_kafka_conf_t *scratch;
		rd_kafka_conf_res_t res;

		if (!*prop)
			return bad(err, n, "no librdkafka property after 'kafka.'");
		if (!strcmp(prop, "bootstrap.servers") || !strcmp(prop, "metadata.broker.list"))
			return bad(err, n, "set the brokers with kafka-brokers");
		scratch = rd_kafka_conf_new();
		res = rd_kafka_conf_set(scratch, prop, value, errstr, sizeof errstr);
		rd_kafka_conf_destroy(scratch);
		if (res != RD_KAFKA_CONF_OK)
			return bad(err, n, "%s", errstr);
		return 0;
	}
	if (!strcmp(name, "kafka-brokers")) {
		if (!*value || strpbrk(value, " \t"))
			return bad(err, n, "want host:port[,host:port...], not '%s'", value);
		if (c)
			c->brokers = value;
	} else if (!strcmp(name, "kafka-topic-prefix")) {
		if (!valid_prefix(value))
			return bad(err, n, "'%s' is not 1-240 of [a-zA-Z0-9._-]", value);
		if (c)
			c->prefix = value;
	} else if (!strcmp(name, "kafka-kinds")) {
		unsigned m = 0;
		int rc = parse_kinds(value, &m, err, n);
		if (rc)
			return rc;
		if (c)
			c->kinds = m;
	} else if (!strcmp(name, "kafka-checkpoint")) {
		if (!*value || strlen(value) >= PATH_MAX)
			return bad(err, n, "want a file path, not '%s'", value);
		if (c)
			snprintf(c->checkpoint, sizeof c->checkpoint, "%s", value);
	} else if (!strcmp(name, "kafka-start")) {
		if (strcmp(value, "oldest") && strcmp(value, "tail"))
			return bad(err, n, "want oldest or tail, not '%s'", value);
		if (c)
			c->start_tail = !strcmp(value, "tail");
	} else if (!strcmp(name, "kafka-flush-ms")) {
		errno = 0;
		long v = strtol(value, &end, 10);
		if (errno || end == value || *end || v < 0 || v > 3600000)
			return bad(err, n, "want 0..3600000, not '%s'", value);
		if (c)
			c->flush_ms = (int)v;
	} else {
		return bad(err, n,
			   "unknown directive (kafka-brokers, kafka-topic-prefix, "
			   "kafka-kinds, kafka-checkpoint, kafka-start, kafka-flush-ms, "
			   "kafka.<librdkafka property>)");
	}
	return 0;
}

static int kafka_check(const char *name, const char *value, char *err, size_t errlen)
{
	return apply(NULL, name, value, err, errlen);
}

static int load_conf(struct kconf *c, const struct tr_mirror_args *a)
{
	char err[600];

	memset(c, 0, sizeof *c);
	c->prefix = "tickring";
	c->kinds = (1u << TR_NKINDS) - 1;
	c->flush_ms = 5000;
	for (unsigned i = 0; i < a->nopts; i++)
		if (apply(c, a->opts[i].name, a->opts[i].value, err, sizeof err))
			return tr_err(EINVAL, "%s: %s: %s",
				      a->opts[i].where ? a->opts[i].where : "?", a->opts[i].name,
				      err);
	if (!c->brokers)
		return tr_err(EINVAL, "kafka: kafka-brokers is not set");
	if (!c->checkpoint[0]) {
		const char *inst = a->instance ? a->instance : "default";
		const char *base = strrchr(inst, '/');
		/* tickringd passes "<shm-dir>/tickring.<instance>" for a moved region */
		base = base ? base + 1 : inst;
		if (!strncmp(base, "tickring.", 9) && base[9])
			base += 9;
		if (a->journal_dir && a->journal_dir[0])
			snprintf(c->checkpoint, sizeof c->checkpoint, "%s/kafka.checkpoint",
				 a->journal_dir);
		else
			snprintf(c->checkpoint, sizeof c->checkpoint, "./%s.kafka.checkpoint",
				 base);
	}
	return 0;
}

/* ---- librdkafka callbacks (run inside rd_kafka_poll on our thread) ---- */

static void set_connected(struct km *m, int up)
{
	int was = atomic_exchange_explicit(&m->st->connected, up, memory_order_relaxed);

	if (up && !was) {
		inc(&m->st->reconnects, 1);
		tr_log(TR_LOG_INFO, "kafka: connected to %s", m->c.brokers);
	} else if (!up && was) {
		tr_log(TR_LOG_WARN,
		       "kafka: all brokers down (%s); records wait in the rings and the journal",
		       m->c.brokers);
	}
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
	struct km *m = opaque;
	uintptr_t tag = (uintptr_t)msg->_private;
	unsigned k = (unsigned)(tag & 3);
	uint64_t seq = (uint64_t)(tag >> 2);
	struct kind *ks = &m->k[k];

	(void)rk;
	ks->outstanding--;
	if (!msg->err) {
		tr_ackwin_ack(ks->win, seq);
		inc(&m->st->delivered, 1);
		ks->backoff = 0;
		/* Relaxed: a statistic; only this thread writes it. */
		if (!atomic_load_explicit(&m->st->connected, memory_order_relaxed))
			set_connected(m, 1);
	} else if (msg->err != RD_KAFKA_RESP_ERR__PURGE_QUEUE &&
		   msg->err != RD_KAFKA_RESP_ERR__PURGE_INFLIGHT) {
		inc(&m->st->failed, 1);
		if (!ks->rewind)
			tr_log(TR_LOG_WARN,
			       "kafka: %s seq %" PRIu64 " not delivered: %s; re-sending "
			       "%s from seq %" PRIu64,
			       tr_kind_name(k), seq, rd_kafka_err2str(msg->err), tr_kind_name(k),
			       tr_ackwin_watermark(ks->win) + 1);
		ks->rewind = 1;
	}
	if (m->hooks && m->hooks->delivered)
		m->hooks->delivered(m->hooks->arg, k, seq, msg->err);
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct km *m = opaque;
	char buf[512];

	if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
		set_connected(m, 0);
		return;
	}
	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		rd_kafka_fatal_error(rk, buf, sizeof buf);
		tr_log(TR_LOG_ERROR, "kafka: fatal producer error: %s; starting a new producer",
		       buf);
		m->fatal = 1;
		return;
	}
	/* Transport errors repeat at every reconnect attempt: one line per
	 * error code per 10 s. */
	int64_t t = now_ns();
	if (err != m->last_err || t - m->last_err_log > 10000000000ll) {
		tr_log(TR_LOG_WARN, "kafka: %s", reason);
		m->last_err = err;
		m->last_err_log = t;
	}
}

/* The statistics JSON lists every broker with its "state"; one "UP" is
 * enough to call the cluster reachable. */
static int on_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
	(void)rk, (void)len;
	set_connected(opaque, strstr(json, "\"state\":\"UP\"") != NULL);
	return 0;
}

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk, (void)level;
	tr_log(TR_LOG_DEBUG, "kafka: librdkafka %s: %s", fac, buf);
}

/* ---- the producer ---- */

static int new_producer(struct km *m)
{
	char errstr[512], cid[96];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	const struct tr_mirror_args *a = m->a;

	snprintf(cid, sizeof cid, "tickring-%s", a->instance ? a->instance : "default");
	if (rd_kafka_conf_set(conf, "bootstrap.servers", m->c.brokers, errstr, sizeof errstr) ||
	    rd_kafka_conf_set(conf, "client.id", cid, errstr, sizeof errstr))
		goto err;
	for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
		if (rd_kafka_conf_set(conf, defaults[i][0], defaults[i][1], errstr, sizeof errstr))
			goto err;
	for (unsigned i = 0; i < a->nopts; i++)
		if (!strncmp(a->opts[i].name, "kafka.", 6) &&
		    rd_kafka_conf_set(conf, a->opts[i].name + 6, a->opts[i].value, errstr,
				      sizeof errstr)) {
			rd_kafka_conf_destroy(conf);
			return tr_err(EINVAL, "%s: %s: %s", a->opts[i].where, a->opts[i].name,
				      errstr);
		}
	rd_kafka_conf_set_opaque(conf, m);
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rd_kafka_conf_set_error_cb(conf, on_error);
	rd_kafka_conf_set_stats_cb(conf, on_stats);
	rd_kafka_conf_set_log_cb(conf, on_log);
	/* rd_kafka_new owns conf on success only. */
	m->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
	if (!m->rk)
		goto err;
	for (unsigned k = 0; k < TR_NKINDS; k++) {
		char topic[300];
		if (!(m->c.kinds & (1u << k)))
			continue;
		snprintf(topic, sizeof topic, "%s.%s", m->c.prefix, tr_kind_name(k));
		m->k[k].rkt = rd_kafka_topic_new(m->rk, topic, NULL);
		if (!m->k[k].rkt)
			return tr_err(EINVAL, "kafka: topic %s: %s", topic,
				      rd_kafka_err2str(rd_kafka_last_error()));
	}
	return 0;
err:
	if (!m->rk)
		rd_kafka_conf_destroy(conf);
	/* Conflicts between properties only show here, not line by line. */
	return tr_err(EINVAL, "kafka: producer configuration: %s", errstr);
}

/* Drop whatever librdkafka still holds (its delivery reports say PURGE and
 * acknowledge nothing), then free the producer. */
static void free_producer(struct km *m)
{
	if (!m->rk)
		return;
	rd_kafka_purge(m->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
	rd_kafka_poll(m->rk, 0);
	for (unsigned k = 0; k < TR_NKINDS; k++)
		if (m->k[k].rkt) {
			rd_kafka_topic_destroy(m->k[k].rkt);
			m->k[k].rkt = NULL;
		}
	rd_kafka_destroy(m->rk);
	m->rk = NULL;
	for (unsigned k = 0; k < TR_NKINDS; k++)
		m->k[k].outstanding = 0;
}

/* ---- sources and windows ---- */

static uint64_t watermark(const struct km *m, unsigned k)
{
	const struct kind *ks = &m->k[k];
	uint64_t pos;

	if (ks->win)
		return tr_ackwin_watermark(ks->win);
	if (ks->src && (pos = tr_msrc_position(ks->src)) != 0)
		return pos - 1;
	return m->loaded[k];
}

/* (Re)start kind k's source and window after seq `after`. */
static int open_kind(struct km *m, unsigned k, uint64_t after)
{
	struct kind *ks = &m->k[k];
	struct tr_msrc_config sc = {
	    .instance = m->a->instance,
	    .journal_dir = m->a->journal_dir,
	    .kind = k,
	    .after_seq = after,
	};
	int rc;

	if (ks->src) {
		const struct tr_msrc_stats *ss = tr_msrc_stats(ks->src);
		inc(&m->st->lost, ss->lost - ks->src_lost);
		tr_msrc_close(ks->src);
		ks->src = NULL;
	}
	tr_ackwin_free(ks->win);
	ks->win = NULL;
	ks->pending = 0;
	ks->src_lost = 0;
	rc = tr_msrc_open(&ks->src, &sc);
	if (rc < 0)
		return tr_err_ctx(-rc, "kafka: %s source", tr_kind_name(k));
	if (after != TR_MSRC_TAIL) {
		rc = tr_ackwin_create(&ks->win, WINDOW, after);
		if (rc < 0)
			return tr_err(-rc, "kafka: delivery window: out of memory");
		ks->last_added = after;
	}
	return 0;
}

/* Restart k at its watermark after a final delivery error. */
static int rewind_kind(struct km *m, unsigned k)
{
	struct kind *ks = &m->k[k];
	uint64_t w = watermark(m, k);
	uint64_t resend = ks->last_added > w ? ks->last_added - w : 0;

	inc(&m->st->kafka_resends, resend);
	ks->rewind = 0;
	ks->backoff = ks->backoff ? ks->backoff * 2 : BACKOFF_MIN_NS;
	if (ks->backoff > BACKOFF_MAX_NS)
		ks->backoff = BACKOFF_MAX_NS;
	ks->retry_at = now_ns() + ks->backoff;
	int rc = open_kind(m, k, w);
	if (rc < 0) {
		tr_log(TR_LOG_ERROR, "%s", tr_errmsg());
		ks->rewind = 1; /* again after the backoff */
	}
	return rc;
}

/* Decimal digits of v into buf (at least 21 bytes), NUL-terminated; returns
 * the length. */
static size_t u64_str(uint64_t v, char *buf)
{
	char tmp[20];
	size_t n = 0, i = 0;

	do
		tmp[n++] = (char)('0' + v % 10);
	while (v /= 10);
	while (n)
		buf[i++] = tmp[--n];
	buf[i] = 0;
	return i;
}

static void key_of(const struct tr_region *r, unsigned kind, const void *rec, char *key)
{
	uint32_t venue, sym;
	struct tr_symbol s;

	switch (kind) {
	case TR_KIND_TRADE:
		venue = ((const struct tr_trade *)rec)->venue_id;
		sym = ((const struct tr_trade *)rec)->symbol_id;
		break;
	case TR_KIND_QUOTE:
		venue = ((const struct tr_quote *)rec)->venue_id;
		sym = ((const struct tr_quote *)rec)->symbol_id;
		break;
	case TR_KIND_CANDLE:
		venue = ((const struct tr_candle *)rec)->venue_id;
		sym = ((const struct tr_candle *)rec)->symbol_id;
		break;
	default:
		venue = ((const struct tr_event *)rec)->venue_id;
		sym = ((const struct tr_event *)rec)->symbol_id;
		break;
	}
	const char *v = r ? tr_venue_name(r, venue) : "?";
	size_t n = strnlen(v, TR_VENUE_LEN);

	memcpy(key, v, n);
	if (sym != UINT32_MAX) {
		key[n++] = ':';
		if (r && sym < tr_symbol_count(r) && tr_symbol_get(r, sym, &s) == 0) {
			size_t l = strnlen(s.name, TR_NAME_LEN);
			memcpy(key + n, s.name, l);
			n += l;
		} else {
			key[n++] = '#';
			n += u64_str(sym, key + n);
		}
	}
	key[n] = 0;
	/* Names come from a region we do not trust: no control bytes in keys. */
	for (char *p = key; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
}

/* Produce k's pending record. 0 when librdkafka took it, -EAGAIN when the
 * window or the producer queue is full (try again after delivery reports). */
static int send_pending(struct km *m, unsigned k)
{
	struct kind *ks = &m->k[k];
	uint64_t seq = ks->info.seq;
	char json[TR_FORMAT_BUFSZ], key[KEY_MAX], sseq[24], sepoch[24];
	const struct tr_region *r = tr_msrc_region(ks->src);

	if (!ks->win || seq <= ks->last_added) {
		/* First record after a tail start, or the engine went back in
		 * sequence (its journal was lost): a new window, once every
		 * message of the old one is reported. */
		if (ks->outstanding)
			return -EAGAIN;
		if (ks->win)
			tr_log(TR_LOG_WARN, "kafka: %s went back from seq %" PRIu64 " to %" PRIu64,
			       tr_kind_name(k), ks->last_added, seq);
		tr_ackwin_free(ks->win);
		ks->win = NULL;
		if (tr_ackwin_create(&ks->win, WINDOW, seq - 1) < 0)
			return -EAGAIN;
		ks->last_added = seq - 1;
	}
	if (seq - tr_ackwin_watermark(ks->win) > WINDOW) {
		if (ks->outstanding)
			return -EAGAIN;
		/* Everything before is acknowledged or lost: a jump longer
		 * than the window starts a new one. */
		tr_ackwin_free(ks->win);
		ks->win = NULL;
		if (tr_ackwin_create(&ks->win, WINDOW, seq - 1) < 0)
			return -EAGAIN;
	}
	int len = tr_format_json(r, k, ks->rec, ks->info.epoch, json, sizeof json);
	if (len < 0) {
		/* Cannot happen for a known kind; count it and move on. */
		inc(&m->st->failed, 1);
		tr_ackwin_add(ks->win, seq);
		tr_ackwin_ack(ks->win, seq);
		ks->last_added = seq;
		return 0;
	}
	key_of(r, k, ks->rec, key);
	size_t lseq = u64_str(seq, sseq), lepoch = u64_str(ks->info.epoch, sepoch);
	rd_kafka_resp_err_t err = rd_kafka_producev(
	    m->rk, RD_KAFKA_V_RKT(ks->rkt), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
	    RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_VALUE(json, (size_t)len),
	    RD_KAFKA_V_HEADER("seq", sseq, (ssize_t)lseq),
	    RD_KAFKA_V_HEADER("epoch", sepoch, (ssize_t)lepoch),
	    RD_KAFKA_V_HEADER("schema", schemas[k], -1),
	    RD_KAFKA_V_OPAQUE((void *)(uintptr_t)(seq << 2 | k)), RD_KAFKA_V_END);
	if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
		return -EAGAIN;
	if (err) {
		/* Not accepted at all (e.g. message.max.bytes below the
		 * record): the same path as a failed delivery. */
		inc(&m->st->failed, 1);
		tr_log(TR_LOG_WARN, "kafka: %s seq %" PRIu64 " refused: %s", tr_kind_name(k), seq,
		       rd_kafka_err2str(err));
		ks->rewind = 1;
		return -EAGAIN;
	}
	tr_ackwin_add(ks->win, seq); /* cannot fail: checked above */
	ks->last_added = seq;
	ks->outstanding++;
	inc(&m->st->sent, 1);
	return 0;
}

/* Read and send up to BATCH records of kind k. Returns records sent; sets
 * *blocked when backpressure stopped it. */
static int pump(struct km *m, unsigned k, int *blocked)
{
	struct kind *ks = &m->k[k];
	int n = 0;

	if (ks->rewind) {
		if (ks->outstanding || now_ns() < ks->retry_at)
			return 0;
		rewind_kind(m, k);
	}
	if (!ks->src || now_ns() < ks->retry_at)
		return 0;
	while (n < BATCH) {
		if (!ks->pending) {
			if (tr_msrc_next(ks->src, ks->rec, &ks->info, 0) != 1)
				break;
			ks->pending = 1;
			inc(&m->st->read[k], 1);
			if (ks->info.from_journal)
				inc(&m->st->from_journal, 1);
		}
		if (send_pending(m, k) < 0) {
			*blocked = 1;
			break;
		}
		ks->pending = 0;
		n++;
	}
	/* The source's own loss count, folded into the mirror's. */
	const struct tr_msrc_stats *ss = tr_msrc_stats(ks->src);
	if (ss->lost != ks->src_lost) {
		tr_log(TR_LOG_WARN, "kafka: %" PRIu64 " %s lost (in neither ring nor journal)",
		       ss->lost - ks->src_lost, tr_kind_name(k));
		inc(&m->st->lost, ss->lost - ks->src_lost);
		ks->src_lost = ss->lost;
	}
	return n;
}

/* Has kind k a known position yet (a tail start learns it when the region
 * is first opened)? */
static int positioned(const struct km *m, unsigned k)
{
	const struct kind *ks = &m->k[k];

	return ks->win || (ks->src && tr_msrc_position(ks->src) != 0);
}

/* Publish the watermarks (tickringd's drain waits on them) and write them
 * to the checkpoint file if they moved: at most every SAVE_NS, or now. */
static void save(struct km *m, int force)
{
	uint64_t w[TR_NKINDS];
	int changed = 0;
	int64_t t = now_ns();

	if (!force && t - m->saved_at < SAVE_NS)
		return;
	m->saved_at = t;
	for (unsigned k = 0; k < TR_NKINDS; k++) {
		int mine = m->c.kinds & (1u << k);
		/* Without a file yet, write none until every ring knows where it
		 * starts: a 0 for a tail start would mean "from the oldest". */
		if (mine && !m->have_file && !positioned(m, k))
			return;
		w[k] = mine ? watermark(m, k) : m->loaded[k];
		changed |= w[k] != m->saved[k];
		/* Relaxed: a statistic, read by tickringd's drain loop. */
		atomic_store_explicit(&m->st->checkpoint[k], w[k], memory_order_relaxed);
	}
	if (!changed && !force && m->have_file)
		return;
	if (tr_checkpoint_save(m->c.checkpoint, w) < 0) {
		if (t - m->save_err_log > 10000000000ll) {
			tr_log(TR_LOG_WARN, "kafka: %s (retrying)", tr_errmsg());
			m->save_err_log = t;
		}
		return;
	}
	m->have_file = 1;
	memcpy(m->saved, w, sizeof w);
}

static int start(struct km *m)
{
	int rc = tr_checkpoint_load(m->c.checkpoint, m->loaded);
	int resume = rc == 0;

	if (rc < 0 && rc != -ENOENT)
		return tr_err_ctx(-rc, "kafka-checkpoint");
	if (!resume)
		memset(m->loaded, 0, sizeof m->loaded);
	m->have_file = resume;
	memcpy(m->saved, m->loaded, sizeof m->saved);
	for (unsigned k = 0; k < TR_NKINDS; k++)
		atomic_store_explicit(&m->st->checkpoint[k], m->loaded[k], memory_order_relaxed);
	atomic_store_explicit(&m->st->kinds, m->c.kinds, memory_order_relaxed);
	rc = new_producer(m);
	if (rc < 0)
		return rc;
	for (unsigned k = 0; k < TR_NKINDS; k++) {
		if (!(m->c.kinds & (1u << k)))
			continue;
		/* With a checkpoint every kind resumes after it (0: nothing
		 * delivered yet, so from the oldest); without one,
		 * kafka-start decides. */
		uint64_t after = resume ? m->loaded[k] : m->c.start_tail ? TR_MSRC_TAIL : 0;
		if ((rc = open_kind(m, k, after)) < 0)
			return rc;
	}
	tr_log(TR_LOG_INFO,
	       "kafka: mirroring %s to %s (%s.*), checkpoint %s (%s: trades %" PRIu64
	       ", quotes %" PRIu64 ", candles %" PRIu64 ", events %" PRIu64 ")",
	       m->a->instance ? m->a->instance : "default", m->c.brokers, m->c.prefix,
	       m->c.checkpoint,
	       resume		 ? "resuming"
	       : m->c.start_tail ? "new, from the tail"
				 : "new, from the oldest",
	       m->loaded[0], m->loaded[1], m->loaded[2], m->loaded[3]);
	return 0;
}

/* A fatal librdkafka error: the producer cannot continue. Start a new one
 * and re-send every kind from its watermark. */
static int restart_producer(struct km *m)
{
	free_producer(m);
	m->fatal = 0;
	int rc = new_producer(m);
	if (rc < 0)
		return rc;
	for (unsigned k = 0; k < TR_NKINDS; k++)
		if (m->c.kinds & (1u << k))
			m->k[k].rewind = 1;
	return 0;
}

static void release(struct km *m)
{
	for (unsigned k = 0; k < TR_NKINDS; k++) {
		struct kind *ks = &m->k[k];
		if (ks->src) {
			const struct tr_msrc_stats *ss = tr_msrc_stats(ks->src);
			inc(&m->st->lost, ss->lost - ks->src_lost);
			tr_msrc_close(ks->src);
		}
		tr_ackwin_free(ks->win);
	}
}

static void finish(struct km *m)
{
	if (m->rk) {
		rd_kafka_resp_err_t err = rd_kafka_flush(m->rk, m->c.flush_ms);
		if (err)
			tr_log(TR_LOG_WARN,
			       "kafka: %d message(s) still undelivered after %d ms; they are sent "
			       "again from the checkpoint next time",
			       rd_kafka_outq_len(m->rk), m->c.flush_ms);
		free_producer(m);
	}
	save(m, 1);
	release(m);
	tr_log(TR_LOG_INFO,
	       "kafka: stopped: %" PRIu64 " sent, %" PRIu64 " delivered, %" PRIu64
	       " failed, %" PRIu64 " lost; checkpoint trades %" PRIu64 " quotes %" PRIu64
	       " candles %" PRIu64 " events %" PRIu64,
	       atomic_load_explicit(&m->st->sent, memory_order_relaxed),
	       atomic_load_explicit(&m->st->delivered, memory_order_relaxed),
	       atomic_load_explicit(&m->st->failed, memory_order_relaxed),
	       atomic_load_explicit(&m->st->lost, memory_order_relaxed), m->saved[0], m->saved[1],
	       m->saved[2], m->saved[3]);
}

int tr_kafka_run(const struct tr_mirror_args *a, const struct tr_kafka_hooks *h)
{
	struct km *m = calloc(1, sizeof *m);
	int rc;

	if (!m)
		return tr_err(ENOMEM, "kafka: out of memory");
	m->a = a;
	m->hooks = h;
	m->st = a->stats;
	if ((rc = load_conf(&m->c, a)) < 0 || (rc = start(m)) < 0) {
		/* Nothing was sent: leave the checkpoint as it is. */
		tr_log(TR_LOG_ERROR, "%s", tr_errmsg());
		free_producer(m);
		release(m);
		free(m);
		return rc;
	}
	unsigned first = (unsigned)__builtin_ctz(m->c.kinds);
	/* The flag carries no data: relaxed. */
	while (!atomic_load_explicit(a->stop, memory_order_relaxed)) {
		int sent = 0, blocked = 0;

		if (m->fatal && (rc = restart_producer(m)) < 0)
			break;
		for (unsigned k = 0; k < TR_NKINDS; k++)
			if (m->c.kinds & (1u << k))
				sent += pump(m, k, &blocked);
		if (blocked && !m->blocked)
			inc(&m->st->kafka_stalls, 1);
		m->blocked = blocked;
		rd_kafka_poll(m->rk, 0);
		save(m, 0);
		if (sent)
			continue;
		if (blocked) {
			rd_kafka_poll(m->rk, 10); /* wait for delivery reports */
			continue;
		}
		/* All idle: sleep on the first ring; the others are looked at
		 * every IDLE_NS. */
		struct kind *ks = &m->k[first];
		if (ks->src && !ks->pending && !ks->rewind && now_ns() >= ks->retry_at) {
			if (tr_msrc_next(ks->src, ks->rec, &ks->info, IDLE_NS) == 1) {
				ks->pending = 1;
				inc(&m->st->read[first], 1);
				if (ks->info.from_journal)
					inc(&m->st->from_journal, 1);
			}
		} else {
			rd_kafka_poll(m->rk, IDLE_NS / 1000000);
		}
	}
	finish(m);
	free(m);
	return rc < 0 ? rc : 0;
}

static int kafka_run(const struct tr_mirror_args *a)
{
	return tr_kafka_run(a, NULL);
}

const struct tr_mirror_def tr_mirror_kafka = {
    .name = "kafka",
    .enable = "kafka-brokers",
    .check = kafka_check,
    .run = kafka_run,
    .help = "  kafka-brokers H:P,...    Kafka bootstrap servers (turns the mirror on)\n"
	    "  kafka-topic-prefix P     topics P.trades|quotes|candles|events (tickring)\n"
	    "  kafka-kinds K,...        rings to mirror: trades,quotes,candles,events (all)\n"
	    "  kafka-checkpoint FILE    delivered seqs (<journal-dir>/kafka.checkpoint)\n"
	    "  kafka-start oldest|tail  where to begin without a checkpoint (oldest)\n"
	    "  kafka-flush-ms N         wait at stop for undelivered messages (5000)\n"
	    "  kafka.<property> VALUE   any librdkafka producer property\n",
};
