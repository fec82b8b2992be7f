/* th.h - small helpers shared by the ring tests: unique instances, records
 * with a checksum, and a writer with a chosen geometry. */
#ifndef TH_H
#define TH_H

#ifdef TR_TSHIM
#include "tshim.h"
#else
#include <criterion/criterion.h>
#endif
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tr_reader.h"
#include "tr_writer.h"

/* A unique instance name per process and call. */
static inline void th_instance(char *buf, size_t n, const char *tag)
{
	static int counter;

	snprintf(buf, n, "t-%s-%d-%d", tag, (int)getpid(), counter++);
}

/* The tests' writer geometry: `slots` slots in every ring, 64 symbols. */
static inline void th_config(struct tr_writer_config *cfg, const char *inst, uint64_t slots)
{
	tr_writer_config_default(cfg);
	cfg->instance = inst;
	for (int k = 0; k < TR_NKINDS; k++)
		cfg->geometry.ring_slots[k] = slots;
	cfg->geometry.symbol_capacity = 64;
}

/* Open a writer on a fresh instance with `slots` slots in every ring. */
static inline struct tr_writer *th_writer(const char *inst, uint64_t slots)
{
	struct tr_writer_config cfg;
	struct tr_writer *w = NULL;

	th_config(&cfg, inst, slots);
	tr_writer_unlink(NULL, inst);
	int rc = tr_writer_open(&w, &cfg);
	cr_assert_eq(rc, 0, "tr_writer_open(%s): %s", inst, tr_errmsg());
	return w;
}

/* Payload derived from seq, and a checksum over every other word, so a torn
 * or misplaced record is caught. */
static inline uint64_t th_mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

static inline void th_fill_trade(struct tr_trade *t, uint64_t seq)
{
	memset(t, 0, sizeof *t);
	t->ts_event = (int64_t)th_mix(seq) & 0x7fffffffffff;
	t->ts_recv = (int64_t)th_mix(seq + 1) & 0x7fffffffffff;
	t->price = (int64_t)(th_mix(seq + 2) & 0xffffffffff);
	t->qty = (int64_t)(th_mix(seq + 3) & 0xffffffff);
	t->symbol_id = (uint32_t)(seq % 7);
	t->side = (uint8_t)(seq % 3);
	t->flags = (uint32_t)seq;
	t->trade_count = 1;
	/* trade_id carries the checksum of the rest, including the expected seq */
	t->trade_id = th_mix((uint64_t)t->ts_event ^ (uint64_t)t->ts_recv * 3 ^
			     (uint64_t)t->price * 5 ^ (uint64_t)t->qty * 7 ^ seq * 11 ^ t->flags);
}

static inline int th_check_trade(const struct tr_trade *t)
{
	return t->trade_id ==
		   th_mix((uint64_t)t->ts_event ^ (uint64_t)t->ts_recv * 3 ^
			  (uint64_t)t->price * 5 ^ (uint64_t)t->qty * 7 ^ t->seq * 11 ^ t->flags) &&
	       t->flags == (uint32_t)t->seq;
}

/* Seqlock under contention: the writer keeps every word of the trade equal;
 * a reader must never see a mix of two updates. Run by TSan as well. */
struct hammer {
	struct tr_writer *w;
	int sym;
	volatile int stop;
};

static inline void *th_latest_writer(void *arg)
{
	struct hammer *h = arg;
	struct tr_trade t;

	for (uint64_t i = 1; !__atomic_load_n(&h->stop, __ATOMIC_ACQUIRE); i++) {
		t.seq = i;
		t.ts_event = t.ts_recv = t.price = t.qty = (int64_t)i;
		t.trade_id = i;
		t.symbol_id = (uint32_t)i;
		t.venue_id = (uint16_t)i;
		t.side = (uint8_t)i;
		t.reserved0 = (uint8_t)i;
		t.flags = t.trade_count = (uint32_t)i;
		struct tr_latest *l = tr_latest_begin(h->w, (unsigned)h->sym);
		tr_latest_put(l, &l->trade, &t, sizeof t);
		tr_latest_mark(l, TR_LATEST_TRADE);
		tr_latest_end(l);
	}
	return NULL;
}

static inline void th_latest_hammer(struct tr_writer *w, struct tr_region *r, int reads)
{
	struct hammer h = {.w = w};
	pthread_t th;
	struct tr_trade t;
	int ok = 0;

	h.sym = tr_writer_symbol(w, (unsigned)tr_writer_venue(w, "v"), "HAMMER");
	pthread_create(&th, NULL, th_latest_writer, &h);
	while (tr_latest_trade(r, (uint32_t)h.sym, &t) == -ENODATA)
		sched_yield(); /* the writer thread may not have run yet */
	for (int i = 0; i < reads; i++) {
		int rc = tr_latest_trade(r, (uint32_t)h.sym, &t);
		if (rc == -ENODATA)
			continue;
		cr_assert_eq(rc, 0, "%s", tr_errmsg());
		uint64_t v = t.seq;
		cr_assert(t.ts_event == (int64_t)v && t.ts_recv == (int64_t)v &&
			      t.price == (int64_t)v && t.qty == (int64_t)v && t.trade_id == v &&
			      t.symbol_id == (uint32_t)v && t.venue_id == (uint16_t)v &&
			      t.flags == (uint32_t)v && t.trade_count == (uint32_t)v &&
			      t.side == (uint8_t)v,
			  "torn latest read at update %llu", (unsigned long long)v);
		ok++;
	}
	__atomic_store_n(&h.stop, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	cr_assert_gt(ok, 0);
}

#endif
