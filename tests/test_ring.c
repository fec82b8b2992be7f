/* test_ring.c - ring semantics in one process: join, poll, the per-slot
 * seqlock, exact lap accounting, epochs, waiting, and writer open rules. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>

#include "th.h"
#include "tr_layout.h"

static struct tr_region *open_reader(const char *inst)
{
	struct tr_region *r = NULL;
	int rc = tr_region_open(&r, inst, 0);

	cr_assert_eq(rc, 0, "tr_region_open(%s): %s", inst, tr_errmsg());
	return r;
}

static uint64_t publish_trades(struct tr_writer *w, uint64_t n)
{
	struct tr_trade t;
	uint64_t last = 0;

	for (uint64_t i = 0; i < n; i++) {
		th_fill_trade(&t, w->rings[TR_KIND_TRADE].next);
		last = tr_writer_publish(w, TR_KIND_TRADE, &t);
	}
	tr_writer_commit(w);
	return last;
}

Test(ring, sequence_starts_at_one_and_is_contiguous)
{
	char inst[64];
	th_instance(inst, sizeof inst, "seq");
	struct tr_writer *w = th_writer(inst, 16);
	struct tr_region *r = open_reader(inst);
	struct tr_cursor c;
	struct tr_trade t;

	cr_assert_eq(tr_region_head(r, TR_KIND_TRADE), 0);
	cr_assert_eq(tr_cursor_init(&c, r, TR_KIND_TRADE, TR_JOIN_TAIL, 0), 0);
	cr_assert_eq(tr_poll(&c, &t), TR_POLL_EMPTY);
	cr_assert_eq(publish_trades(w, 10), 10);
	for (uint64_t s = 1; s <= 10; s++) {
		cr_assert_eq(tr_poll(&c, &t), TR_POLL_RECORD);
		cr_assert_eq(t.seq, s);
		cr_assert(th_check_trade(&t), "record %llu corrupt", (unsigned long long)s);
	}
	cr_assert_eq(tr_poll(&c, &t), TR_POLL_EMPTY);
	cr_assert_eq(c.delivered, 10);
	cr_assert_eq(c.lapped_records, 0);
	cr_assert_eq(tr_region_head(r, TR_KIND_TRADE), 10);
	tr_region_close(r);
	tr_writer_close(w);
	tr_writer_unlink(NULL, inst);
}

Test(ring, join_tail_skips_history_and_join_oldest_replays_it)
{
	char inst[64];
	th_instance(inst, sizeof inst, "join");
	struct tr_writer *w = th_writer(inst, 16);
	struct tr_region *r = open_reader(inst);
	struct tr_cursor tail, oldest, at;
	struct tr_trade t;

	publish_trades(w, 40); /* ring holds 25..40 */
	tr_cursor_init(&tail, r, TR_KIND_TRADE, TR_JOIN_TAIL, 0);
	tr_cursor_init(&oldest, r, TR_KIND_TRADE, TR_JOIN_OLDEST, 0);
	tr_cursor_init(&at, r, TR_KIND_TRADE, TR_JOIN_SEQ, 30);
	cr_assert_eq(tr_poll(&tail, &t), TR_POLL_EMPTY);
	for (uint64_t s = 25; s <= 40; s++) {
		cr_assert_eq(tr_poll(&oldest, &t), TR_POLL_RECORD, "seq %llu",
			     (unsigned long long)s);
		cr_assert_eq(t.seq, s);
	}
	cr_assert_eq(tr_poll(&at, &t), TR_POLL_RECORD);
	cr_assert_eq(t.seq, 30);
	publish_trades(w, 1);
	cr_assert_eq(tr_poll(&tail, &t), TR_POLL_RECORD);
	cr_assert_eq(t.seq, 41);
	tr_region_close(r);
	tr_writer_close(w);
	tr_writer_unlink(NULL, inst);
}

Test(ring, lapped_reader_learns_the_exact_loss)
{
	char inst[64];
	th_instance(inst, sizeof inst, "lap");
	struct tr_writer *w = th_writer(inst, 64);
	struct tr_region *r = open_reader(inst);
	struct tr_cursor c;
	struct tr_trade t;
	uint64_t got = 0, prev = 0;

	tr_cursor_init(&c, r, TR_KIND_TRADE, TR_JOIN_TAIL, 0); /* wants seq 1 */
	publish_trades(w, 1000);
	cr_assert_eq(tr_poll(&c, &t), TR_POLL_LAPPED);
	/* oldest policy: head - cap + 1 + cap/8 = 1000 - 64 + 1 + 8 */
	cr_assert_eq(c.last_gap, 945 - 1);
	cr_assert_eq(c.next, 945);
	for (int rc; (rc = tr_poll(&c, &t)) == TR_POLL_RECORD; got++) {
		cr_assert(prev == 0 || t.seq == prev + 1);
		cr_assert(th_check_trade(&t));
		prev = t.seq;
	}
	cr_assert_eq(prev, 1000);
	cr_assert_eq(got + c.lapped_records, 1000);
	cr_assert_eq(c.lap_events, 1);
	uint64_t ev, rec;
	tr_region_laps(r, TR_KIND_TRADE, &ev, &rec);
	cr_assert_eq(ev, 1, "lap statistics reach the control file");
	cr_assert_eq(rec, 944);
	tr_region_close(r);
	tr_writer_close(w);
	tr_writer_unlink(NULL, inst);
}

Test(ring, tail_lap_policy_skips_to_the_newest)
{
	char inst[64];
	th_instance(inst, sizeof inst, "laptail");
	struct tr_writer *w = th_writer(inst, 64);
	struct tr_region *r = open_reader(inst);
	struct tr_cursor c;
	struct tr_trade t;

	tr_cursor_init(&c, r, TR_KIND_TRADE, TR_JOIN_SEQ, 5);
	c.lap_policy = TR_LAP_TAIL;
	publish_trades(w, 500);
	cr_assert_eq(tr_poll(&c, &t), TR_POLL_LAPPED);
	cr_assert_eq(c.last_gap, 501 - 5);
	cr_assert_eq(tr_poll(&c, &t), TR_POLL_EMPTY);
	publish_trades(w, 1);
	cr_assert_eq(tr_poll(&c, &t), TR_POLL_RECORD);
	cr_assert_eq(t.seq, 501);
	tr_region_close(r);
	tr_writer_close(w);
	tr_writer_unlink(NULL, inst);
}

Test(ring, a_slot_being_written_is_not_returned)
{
	char inst[64];
	th_instance(inst, sizeof inst, "busy");
	struct tr_writer *w = th_writer(inst, 16);
	struct tr_region *r = open_reader(inst);
	struct tr_cursor c;
	struct tr_trade t;

	tr_cursor_init(&c, r, TR_KIND_TRADE, TR_JOIN_TAIL, 0);
	publish_trades(w, 3);
	/* Freeze the writer mid-publish of seq 2: busy mark stored, seq not yet. */
	uint64_t *slot2 = (uint64_t *)(w->rings[TR_KIND_TRADE].slots + 2 * 64);
	*slot2 = 0;
	cr_assert_eq(tr_poll(&c, &t), TR_POLL_RECORD);
	cr_assert_eq(t.seq, 1);
	for (int i = 0; i < 1000; i++)
		cr_assert_eq(tr_poll(&c, &t), TR_POLL_EMPTY, "a busy slot must read as not yet");
	*slot2 = 2; /* the writer finishes */
	cr_assert_eq(tr_poll(&c, &t), TR_POLL_RECORD);
	cr_assert_eq(t.seq, 2);
	tr_region_close(r);
	tr_writer_close(w);
	tr_writer_unlink(NULL, inst);
}

Test(ring, a_writer_that_died_mid_lap_is_seen_as_a_lap)
{
	char inst[64];
	th_instance(inst, sizeof inst, "deadlap");
	struct tr_writer *w = th_writer(inst, 16);
	struct tr_region *r = open_reader(inst);
	struct tr_cursor c;
	struct tr_trade t;

	tr_cursor_init(&c, r, TR_KIND_TRADE, TR_JOIN_TAIL, 0);	   /* wants 1 */
	publish_trades(w, 17);					   /* 17 overwrote slot 1 */
	*(uint64_t *)(w->rings[TR_KIND_TRADE].slots + 1 * 64) = 0; /* ...and stopped busy */
	int rc = TR_POLL_EMPTY;
	for (int i = 0; i < 1000 && rc == TR_POLL_EMPTY; i++)
		rc = tr_poll(&c, &t);
	cr_assert_eq(rc, TR_POLL_LAPPED, "head is a ring ahead: the reader must not wait forever");
	tr_region_close(r);
	tr_writer_close(w);
	tr_writer_unlink(NULL, inst);
}

Test(ring, restart_bumps_the_epoch_and_continues_the_sequence)
{
	char inst[64];
	th_instance(inst, sizeof inst, "epoch");
	struct tr_writer *w = th_writer(inst, 16);
	struct tr_region *r = open_reader(inst);
	struct tr_cursor c;
	struct tr_trade t;
	struct tr_writer_config cfg;

	uint64_t e1 = tr_region_epoch(r);
	cr_assert_geq(e1, 1);
	tr_cursor_init(&c, r, TR_KIND_TRADE, TR_JOIN_TAIL, 0);
	publish_trades(w, 5);
	int sym = tr_writer_symbol(w, (unsigned)tr_writer_venue(w, "v"), "BTCUSDT");
	tr_writer_close(w);
	cr_assert_eq(tr_region_liveness(r, 0), -TR_ESTOPPED);

	th_config(&cfg, inst, 16);
	cr_assert_eq(tr_writer_open(&w, &cfg), 0, "%s", tr_errmsg());
	cr_assert(w->reopened, "same geometry: the region is kept in place");
	cr_assert_eq(tr_region_liveness(r, 0), 0, "%s", tr_errmsg());
	cr_assert_eq(tr_region_epoch(r), e1 + 1);
	cr_assert_eq(tr_writer_symbol(w, 0, "BTCUSDT"), sym, "symbol ids survive a restart");
	publish_trades(w, 2);

	/* the old mapping sees the restart and then the sequence going on */
	int rc, seen_epoch = 0;
	uint64_t want = 1;
	for (int i = 0; i < 10000 && want <= 7; i++) {
		rc = tr_poll(&c, &t);
		if (rc == TR_POLL_EPOCH)
			seen_epoch++;
		if (rc == TR_POLL_RECORD)
			cr_assert_eq(t.seq, want++);
	}
	cr_assert_eq(want, 8);
	for (int i = 0; i < 1000; i++)
		if (tr_poll(&c, &t) == TR_POLL_EPOCH)
			seen_epoch++;
	cr_assert_eq(seen_epoch, 1, "exactly one epoch notice");
	cr_assert_eq(c.epoch, e1 + 1);
	tr_region_close(r);
	tr_writer_close(w);
	tr_writer_unlink(NULL, inst);
}

Test(ring, a_sequence_that_goes_back_clears_the_ring_and_rejoins_readers)
{
	char inst[64];
	th_instance(inst, sizeof inst, "back");
	struct tr_writer *w = th_writer(inst, 16);
	struct tr_region *r = open_reader(inst);
	struct tr_cursor c;
	struct tr_trade t;

	publish_trades(w, 100);
	tr_cursor_init(&c, r, TR_KIND_TRADE, TR_JOIN_TAIL, 0); /* wants 101 */
	tr_writer_close(w);
	struct tr_writer_config cfg;
	th_config(&cfg, inst, 16);
	cr_assert_eq(tr_writer_open(&w, &cfg), 0, "%s", tr_errmsg());
	tr_writer_set_next(w, TR_KIND_TRADE, 10); /* journal lost: restart at 10 */
	/* nothing old may look like the new seq 10..25 */
	struct tr_cursor fresh;
	tr_cursor_init(&fresh, r, TR_KIND_TRADE, TR_JOIN_SEQ, 10);
	cr_assert_eq(tr_poll(&fresh, &t), TR_POLL_EMPTY);
	int rc = TR_POLL_EMPTY;
	for (int i = 0; i < 1000 && rc != TR_POLL_EPOCH; i++)
		rc = tr_poll(&c, &t);
	cr_assert_eq(rc, TR_POLL_EPOCH);
	cr_assert_eq(c.next, 10);
	publish_trades(w, 3);
	cr_assert_eq(tr_poll(&c, &t), TR_POLL_RECORD);
	cr_assert_eq(t.seq, 10);
	cr_assert_eq(tr_poll(&fresh, &t), TR_POLL_RECORD);
	cr_assert_eq(t.seq, 10);
	tr_region_close(r);
	tr_writer_close(w);
	tr_writer_unlink(NULL, inst);
}

Test(ring, new_geometry_retires_the_old_file)
{
	char inst[64];
	th_instance(inst, sizeof inst, "geom");
	struct tr_writer *w = th_writer(inst, 16);
	struct tr_region *r = open_reader(inst);
	struct tr_writer_config cfg;

	tr_writer_close(w);
	th_config(&cfg, inst, 64);
	cr_assert_eq(tr_writer_open(&w, &cfg), 0, "%s", tr_errmsg());
	cr_assert(!w->reopened, "a different geometry cannot be reused in place");
	struct tr_region *r2 = open_reader(inst);
	cr_assert_eq(tr_region_superblock(r2)->rings[0].slot_count, 64);
	cr_assert_eq(tr_region_liveness(r, 0), -TR_ESTOPPED,
		     "the old mapping sees its engine gone");
	cr_assert_eq(tr_region_superblock(r)->rings[0].slot_count, 16,
		     "and stays mapped and valid");
	cr_assert(tr_region_replaced(r), "the old mapping learns the file was replaced");
	cr_assert(!tr_region_replaced(r2));
	tr_region_close(r2);
	tr_region_close(r);
	tr_writer_close(w);
	tr_writer_unlink(NULL, inst);
}

Test(ring, one_writer_per_instance)
{
	char inst[64];
	th_instance(inst, sizeof inst, "excl");
	struct tr_writer *w = th_writer(inst, 16), *w2 = NULL;
	struct tr_writer_config cfg;

	th_config(&cfg, inst, 16);
	cr_assert_eq(tr_writer_open(&w2, &cfg), -EBUSY);
	cr_assert_not_null(strstr(tr_errmsg(), "another running engine"), "%s", tr_errmsg());
	tr_writer_close(w);
	cr_assert_eq(tr_writer_open(&w2, &cfg), 0, "%s", tr_errmsg());
	tr_writer_close(w2);
	tr_writer_unlink(NULL, inst);
}

Test(ring, refuses_a_region_larger_than_free_space)
{
	char inst[64];
	struct tr_writer_config cfg;
	struct tr_writer *w = NULL;

	th_instance(inst, sizeof inst, "nospace");
	tr_writer_config_default(&cfg);
	cfg.instance = inst;
	cfg.geometry.ring_slots[TR_KIND_EVENT] = 1ull << 30; /* 128 GiB */
	cr_assert_eq(tr_writer_open(&w, &cfg), -ENOSPC);
	cr_assert_not_null(strstr(tr_errmsg(), "MiB free"), "%s", tr_errmsg());
	cr_assert_eq(access("/dev/shm/tickring.nospace", F_OK), -1);
	tr_writer_unlink(NULL, inst);
}

Test(ring, rejects_bad_instance_names)
{
	struct tr_writer_config cfg;
	struct tr_writer *w = NULL;
	static const char *bad[] = {"", "../etc", "a/b", ".hidden",
				    "way-too-long-instance-name-0123456789"};

	tr_writer_config_default(&cfg);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cfg.instance = bad[i];
		cr_assert_eq(tr_writer_open(&w, &cfg), -EINVAL, "%s", bad[i]);
	}
}

Test(ring, files_have_the_documented_modes)
{
	char inst[64], path[128];
	struct stat st;
	th_instance(inst, sizeof inst, "mode");
	struct tr_writer *w = th_writer(inst, 16);

	snprintf(path, sizeof path, "/dev/shm/tickring.%s", inst);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0640);
	strcat(path, ".ctl");
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0660);
	tr_writer_close(w);
	tr_writer_unlink(NULL, inst);
}

struct waiter {
	struct tr_region *r;
	enum tr_wait_mode mode;
	int rc;
	struct tr_trade t;
};

static void *wait_one(void *arg)
{
	struct waiter *wt = arg;
	struct tr_cursor c;

	tr_cursor_init(&c, wt->r, TR_KIND_TRADE, TR_JOIN_SEQ, 1);
	wt->rc = tr_wait(&c, &wt->t, wt->mode, 30 * 1000000000ll);
	return NULL;
}

static void check_wait(enum tr_wait_mode mode)
{
	char inst[64];
	th_instance(inst, sizeof inst, "wait");
	struct tr_writer *w = th_writer(inst, 16);
	struct waiter wt = {.r = open_reader(inst), .mode = mode};
	pthread_t th;

	pthread_create(&th, NULL, wait_one, &wt);
	if (mode == TR_WAIT_FUTEX) {
		/* publish only once the reader sleeps on the futex */
		while (!__atomic_load_n(&w->ctl->rings[TR_KIND_TRADE].waiters, __ATOMIC_ACQUIRE))
			usleep(1000);
	} else {
		usleep(20000);
	}
	publish_trades(w, 1);
	pthread_join(th, NULL);
	cr_assert_eq(wt.rc, TR_POLL_RECORD);
	cr_assert_eq(wt.t.seq, 1);
	if (mode == TR_WAIT_FUTEX)
		cr_assert_geq(w->sb->counters[TR_CTR_FUTEX_WAKES], 1,
			      "the commit woke the sleeper");
	tr_region_close(wt.r);
	tr_writer_close(w);
	tr_writer_unlink(NULL, inst);
}

Test(ring, futex_wait_is_woken_by_commit, .timeout = 60)
{
	check_wait(TR_WAIT_FUTEX);
}

Test(ring, yield_and_spin_waits_return_the_record, .timeout = 60)
{
	check_wait(TR_WAIT_YIELD);
	check_wait(TR_WAIT_SPIN);
}

Test(ring, wait_times_out_empty_and_commit_without_waiters_makes_no_syscall)
{
	char inst[64];
	th_instance(inst, sizeof inst, "tmo");
	struct tr_writer *w = th_writer(inst, 16);
	struct tr_region *r = open_reader(inst);
	struct tr_cursor c;
	struct tr_trade t;

	tr_cursor_init(&c, r, TR_KIND_TRADE, TR_JOIN_TAIL, 0);
	cr_assert_eq(tr_wait(&c, &t, TR_WAIT_FUTEX, 20000000), TR_POLL_EMPTY);
	cr_assert_eq(w->ctl->rings[TR_KIND_TRADE].waiters, 0, "a timed-out waiter deregisters");
	publish_trades(w, 100);
	cr_assert_eq(w->sb->counters[TR_CTR_FUTEX_WAKES], 0);
	tr_region_close(r);
	tr_writer_close(w);
	tr_writer_unlink(NULL, inst);
}
