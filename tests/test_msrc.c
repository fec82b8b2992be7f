/* test_msrc.c - the mirrors' source: every record once and in order from
 * ring and journal, losses counted exactly, a region that appears late, the
 * delivery window's watermark, and the checkpoint file. */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "th.h"
#include "tr_journal.h"
#include "tr_msrc.h"
#include "tr_uring.h"

static char dir[64];

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb, (void)flag, (void)f;
	return remove(p);
}

static void setup(void)
{
	snprintf(dir, sizeof dir, "/tmp/trm-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(msrc, .init = setup, .fini = teardown, .timeout = 60);

/* Publish n checksummed trades; with j, journal them too (as the engine does). */
static void publish(struct tr_writer *w, struct tr_journal *j, struct tr_uring *u, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct tr_trade t;

		th_fill_trade(&t, w->rings[TR_KIND_TRADE].next);
		tr_writer_publish(w, TR_KIND_TRADE, &t);
		if (j) {
			cr_assert_eq(tr_journal_append(j, TR_KIND_TRADE, &t), 0);
			if (i % 64 == 63) {
				tr_journal_flush(j);
				tr_uring_reap(u);
			}
		}
	}
	tr_writer_commit(w);
}

/* Let every journal write complete, as the engine's loop would. */
static void settle(struct tr_journal *j, struct tr_uring *u)
{
	for (int i = 0; i < 1000 && tr_journal_pending(j); i++) {
		tr_journal_flush(j);
		tr_uring_wait(u, 10000000);
		tr_uring_reap(u);
	}
	cr_assert_eq(tr_journal_pending(j), 0);
}

static struct tr_msrc *src(const char *inst, const char *jdir, uint64_t after)
{
	struct tr_msrc_config c = {.instance = inst,
				   .journal_dir = jdir,
				   .kind = TR_KIND_TRADE,
				   .after_seq = after,
				   .journal_grace_ns = 50000000};
	struct tr_msrc *s;

	cr_assert_eq(tr_msrc_open(&s, &c), 0);
	return s;
}

/* Drain s until nothing comes for 300 ms; check order and checksums. Returns
 * the records delivered; *lost gets the sum of lost_before. */
static uint64_t drain(struct tr_msrc *s, uint64_t first, uint64_t *lost, uint64_t *journal)
{
	struct tr_trade t;
	struct tr_msrc_info in;
	uint64_t n = 0, want = first, lb = 0, fj = 0;

	while (tr_msrc_next(s, &t, &in, 300000000) == 1) {
		lb += in.lost_before;
		cr_assert_eq(in.seq, want + in.lost_before, "seq %llu, want %llu + %llu lost",
			     (unsigned long long)in.seq, (unsigned long long)want,
			     (unsigned long long)in.lost_before);
		cr_assert_eq(t.seq, in.seq);
		cr_assert(th_check_trade(&t), "record %llu corrupt", (unsigned long long)t.seq);
		fj += (uint64_t)in.from_journal;
		want = in.seq + 1;
		n++;
	}
	*lost = lb;
	if (journal)
		*journal = fj;
	return n;
}

Test(msrc, ring_only_in_order_with_epoch)
{
	char inst[64];
	struct tr_writer *w;
	struct tr_msrc *s;
	struct tr_trade t;
	struct tr_msrc_info in;
	uint64_t lost;

	th_instance(inst, sizeof inst, "msrc");
	w = th_writer(inst, 1024);
	publish(w, NULL, NULL, 500);
	s = src(inst, NULL, 0);
	cr_assert_eq(drain(s, 1, &lost, NULL), 500);
	cr_assert_eq(lost, 0);
	cr_assert_eq(tr_msrc_stats(s)->delivered, 500);
	publish(w, NULL, NULL, 10);
	cr_assert_eq(tr_msrc_next(s, &t, &in, 1000000000), 1);
	cr_assert_eq(in.seq, 501);
	cr_assert_eq(in.epoch, w->sb->epoch);
	cr_assert_neq(in.epoch, 0);
	tr_msrc_close(s);
	tr_writer_close(w);
	tr_writer_unlink(NULL, inst);
}

Test(msrc, tail_and_checkpoint_position)
{
	char inst[64];
	struct tr_writer *w;
	struct tr_msrc *s;
	uint64_t lost;

	th_instance(inst, sizeof inst, "msrc");
	w = th_writer(inst, 1024);
	publish(w, NULL, NULL, 100);
	s = src(inst, NULL, TR_MSRC_TAIL);
	cr_assert_eq(drain(s, 101, &lost, NULL), 0, "the tail delivers nothing old");
	publish(w, NULL, NULL, 5);
	cr_assert_eq(drain(s, 101, &lost, NULL), 5);
	tr_msrc_close(s);
	s = src(inst, NULL, 42); /* a checkpoint: resume after 42 */
	cr_assert_eq(drain(s, 43, &lost, NULL), 105 - 42);
	tr_msrc_close(s);
	tr_writer_close(w);
	tr_writer_unlink(NULL, inst);
}

/* The ring laps the source many times over; the journal has everything, so
 * nothing is lost and the lapped part comes from the journal. */
Test(msrc, lap_is_read_back_from_the_journal)
{
	char inst[64], jdir[128];
	struct tr_writer *w;
	struct tr_msrc *s;
	struct tr_uring u;
	struct tr_journal *j;
	struct tr_journal_config jc;
	uint64_t lost, fj;

	th_instance(inst, sizeof inst, "msrc");
	snprintf(jdir, sizeof jdir, "%s/journal", dir);
	tr_journal_config_default(&jc);
	jc.dir = jdir;
	jc.segment_records = 1024; /* several segments */
	cr_assert_eq(tr_uring_init(&u, 64), 0);
	cr_assert_eq(tr_journal_open(&j, &u, &jc), 0, "%s", tr_errmsg());
	w = th_writer(inst, 64);
	s = src(inst, jdir, 0);
	publish(w, j, &u, 30);
	cr_assert_eq(drain(s, 1, &lost, &fj), 30); /* from the ring */
	publish(w, j, &u, 5000);		   /* laps the 64-slot ring */
	cr_assert_eq(tr_journal_close(j), 0);
	cr_assert_eq(drain(s, 31, &lost, &fj), 5000);
	cr_assert_eq(lost, 0);
	cr_assert_gt(fj, 4000, "most came from the journal (%llu)", (unsigned long long)fj);
	cr_assert_gt(tr_msrc_stats(s)->laps, 0);
	tr_msrc_close(s);
	tr_uring_exit(&u);
	tr_writer_close(w);
	tr_writer_unlink(NULL, inst);
}

/* Without a journal a lap is a loss, counted exactly and reported with the
 * next record. */
Test(msrc, lap_without_journal_counts_the_loss)
{
	char inst[64];
	struct tr_writer *w;
	struct tr_msrc *s;
	uint64_t lost, n;

	th_instance(inst, sizeof inst, "msrc");
	w = th_writer(inst, 64);
	s = src(inst, NULL, 0);
	publish(w, NULL, NULL, 10);
	cr_assert_eq(drain(s, 1, &lost, NULL), 10);
	publish(w, NULL, NULL, 1000);
	n = drain(s, 11, &lost, NULL);
	cr_assert_gt(lost, 0);
	cr_assert_eq(n + lost, 1000, "delivered %llu + lost %llu", (unsigned long long)n,
		     (unsigned long long)lost);
	cr_assert_eq(tr_msrc_stats(s)->lost, lost);
	tr_msrc_close(s);
	tr_writer_close(w);
	tr_writer_unlink(NULL, inst);
}

/* A hole in the journal (records never written) is waited for, then skipped
 * and counted; everything around it arrives. */
Test(msrc, journal_hole_is_counted_after_the_grace)
{
	char inst[64], jdir[128];
	struct tr_writer *w;
	struct tr_msrc *s;
	struct tr_uring u;
	struct tr_journal *j;
	struct tr_journal_config jc;
	uint64_t lost, n;

	th_instance(inst, sizeof inst, "msrc");
	snprintf(jdir, sizeof jdir, "%s/journal", dir);
	tr_journal_config_default(&jc);
	jc.dir = jdir;
	cr_assert_eq(tr_uring_init(&u, 64), 0);
	cr_assert_eq(tr_journal_open(&j, &u, &jc), 0, "%s", tr_errmsg());
	w = th_writer(inst, 64);
	s = src(inst, jdir, 0);
	publish(w, j, &u, 100);
	settle(j, &u);
	cr_assert_eq(drain(s, 1, &lost, NULL), 100);
	publish(w, j, &u, 200);	    /* 101..300 journaled */
	publish(w, NULL, NULL, 50); /* 301..350 never journaled */
	cr_assert_eq(tr_journal_restart(j, TR_KIND_TRADE, 351), 0);
	publish(w, j, &u, 300); /* 351..650 journaled; the ring holds the last 64 */
	cr_assert_eq(tr_journal_close(j), 0);
	n = drain(s, 101, &lost, NULL);
	cr_assert_eq(lost, 50);
	cr_assert_eq(n, 500);
	tr_msrc_close(s);
	tr_uring_exit(&u);
	tr_writer_close(w);
	tr_writer_unlink(NULL, inst);
}

/* The source may start before the engine: it opens the region when it appears. */
Test(msrc, region_appears_later)
{
	char inst[64];
	struct tr_writer *w;
	struct tr_msrc *s;
	struct tr_trade t;
	struct tr_msrc_info in;
	uint64_t lost;

	th_instance(inst, sizeof inst, "msrc");
	tr_writer_unlink(NULL, inst);
	s = src(inst, NULL, 0);
	cr_assert_eq(tr_msrc_next(s, &t, &in, 50000000), 0);
	cr_assert_null(tr_msrc_region(s));
	w = th_writer(inst, 1024);
	publish(w, NULL, NULL, 20);
	cr_assert_eq(drain(s, 1, &lost, NULL), 20);
	cr_assert_not_null(tr_msrc_region(s));
	tr_msrc_close(s);
	tr_writer_close(w);
	tr_writer_unlink(NULL, inst);
}

Test(msrc, ackwin_watermark_out_of_order)
{
	struct tr_ackwin *a;

	cr_assert_eq(tr_ackwin_create(&a, 100, 10), 0); /* rounds up to 128 */
	for (uint64_t s = 11; s <= 20; s++)
		cr_assert_eq(tr_ackwin_add(a, s), 0);
	cr_assert_eq(tr_ackwin_in_flight(a), 10);
	cr_assert_eq(tr_ackwin_ack(a, 13), 10, "13 alone moves nothing");
	cr_assert_eq(tr_ackwin_ack(a, 12), 10);
	cr_assert_eq(tr_ackwin_ack(a, 11), 13, "11 releases 11..13");
	cr_assert_eq(tr_ackwin_ack(a, 11), 13, "a repeat is harmless");
	cr_assert_eq(tr_ackwin_ack(a, 999), 13, "unknown seqs are ignored");
	cr_assert_eq(tr_ackwin_in_flight(a), 7);
	/* a jump: 21..29 lost, counted as done */
	cr_assert_eq(tr_ackwin_add(a, 30), 0);
	for (uint64_t s = 14; s <= 20; s++)
		tr_ackwin_ack(a, s);
	cr_assert_eq(tr_ackwin_watermark(a), 29);
	cr_assert_eq(tr_ackwin_ack(a, 30), 30);
	cr_assert_eq(tr_ackwin_in_flight(a), 0);
	/* full: 128 in flight past the watermark */
	for (uint64_t s = 31; s <= 30 + 128; s++)
		cr_assert_eq(tr_ackwin_add(a, s), 0);
	cr_assert_eq(tr_ackwin_add(a, 159), -ENOSPC);
	tr_ackwin_ack(a, 31);
	cr_assert_eq(tr_ackwin_add(a, 159), 0);
	cr_assert_eq(tr_ackwin_add(a, 159), -EINVAL, "not increasing");
	/* nothing in flight: a long jump is fine */
	for (uint64_t s = 32; s <= 159; s++)
		tr_ackwin_ack(a, s);
	cr_assert_eq(tr_ackwin_add(a, 1000000), 0);
	cr_assert_eq(tr_ackwin_watermark(a), 999999);
	tr_ackwin_free(a);
}

Test(msrc, checkpoint_file)
{
	char p[128];
	uint64_t in[TR_NKINDS] = {123, 0, 45678901234ull, 7}, out[TR_NKINDS];
	FILE *f;

	snprintf(p, sizeof p, "%s/ck", dir);
	cr_assert_eq(tr_checkpoint_load(p, out), -ENOENT);
	cr_assert_eq(tr_checkpoint_save(p, in), 0);
	cr_assert_eq(tr_checkpoint_load(p, out), 0);
	cr_assert_arr_eq(in, out, sizeof in);
	f = fopen(p, "w");
	fputs("trades 5\nquotes five\n", f);
	fclose(f);
	cr_assert_eq(tr_checkpoint_load(p, out), -EINVAL);
	cr_assert(strstr(tr_errmsg(), ":2:"), "names the line: %s", tr_errmsg());
}
