/* test_stress.c - one producer, several readers, one of them stopped long
 * enough to be lapped. Every reader must see every record it reports exactly
 * once, in order, never torn (each record carries a checksum of its payload
 * and its own seq), and the lapped reader's loss must be exact: delivered +
 * lost == published, and each reported gap equals the jump in sequence.
 *
 * ring_stress runs readers as processes (the deployment shape; also under
 * ASan). ring_threads runs them as threads sharing the writer's mapping
 * through tr_region_attach(), so ThreadSanitizer sees both sides of every
 * access. The producer throttles itself on the readers' reported progress
 * (a test harness choice, not the ring's: the ring never waits) so that only
 * the stopped reader is lapped and the others must deliver everything. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "th.h"

#define MAXR 4

struct rstat {
	uint64_t progress; /* delivered + lost: the next seq it wants, minus one */
	uint64_t delivered, lost, lap_events, bad_order, bad_sum, bad_gap;
	int paused; /* thread mode: the reader has stopped itself */
	int done;
	int ready;
};

struct shared {
	struct rstat r[MAXR];
	int pause;  /* thread mode: producer asks the stoppable reader to stop */
	int resume; /* thread mode: producer lets the paused reader go on */
};

struct rcfg {
	const char *inst;
	struct tr_region *attached; /* thread mode */
	unsigned kind;
	uint64_t n;
	enum tr_wait_mode mode;
	int stoppable; /* thread mode: obey the producer's pause request */
	struct shared *sh;
	int id;
};

static void fill(uint64_t *w, size_t words, uint64_t seq)
{
	uint64_t sum = seq;

	for (size_t i = 1; i + 1 < words; i++) {
		w[i] = th_mix(seq * 31 + i);
		sum = th_mix(sum ^ w[i]);
	}
	w[words - 1] = sum;
}

static int valid(const uint64_t *w, size_t words)
{
	uint64_t sum = w[0];

	for (size_t i = 1; i + 1 < words; i++) {
		if (w[i] != th_mix(w[0] * 31 + i))
			return 0;
		sum = th_mix(sum ^ w[i]);
	}
	return w[words - 1] == sum;
}

static void reader_loop(struct rcfg *rc)
{
	struct tr_region *r = rc->attached;
	struct rstat *st = &rc->sh->r[rc->id];
	struct tr_cursor c;
	uint64_t rec[16];
	size_t words = tr_kind_size(rc->kind) / 8;
	uint64_t expect = 1;

	if (!r && tr_region_open(&r, rc->inst, 0) < 0) {
		fprintf(stderr, "reader %d: %s\n", rc->id, tr_errmsg());
		_exit(3);
	}
	tr_cursor_init(&c, r, rc->kind, TR_JOIN_SEQ, 1);
	__atomic_store_n(&st->ready, 1, __ATOMIC_RELEASE); /* pairs with the producer's wait */
	while (c.next <= rc->n) {
		int rv = tr_wait(&c, rec, rc->mode, 100000000);
		if (rv == TR_POLL_RECORD) {
			if (rec[0] != expect)
				st->bad_order++;
			if (!valid(rec, words))
				st->bad_sum++;
			expect = rec[0] + 1;
		} else if (rv == TR_POLL_LAPPED) {
			if (c.next != expect + c.last_gap)
				st->bad_gap++;
			expect += c.last_gap;
		}
		st->delivered = c.delivered;
		st->lost = c.lapped_records;
		st->lap_events = c.lap_events;
		/* progress feeds the producer's throttle; pairs with its acquire load */
		__atomic_store_n(&st->progress, c.next - 1, __ATOMIC_RELEASE);
		/* pairs with the producer's release store of pause */
		if (rc->stoppable && __atomic_load_n(&rc->sh->pause, __ATOMIC_ACQUIRE) &&
		    !__atomic_load_n(&rc->sh->resume, __ATOMIC_ACQUIRE)) {
			__atomic_store_n(&st->paused, 1,
					 __ATOMIC_RELEASE); /* pairs with producer */
			while (!__atomic_load_n(&rc->sh->resume,
						__ATOMIC_ACQUIRE)) /* pairs with producer */
				usleep(1000);
			__atomic_store_n(&st->paused, 0, __ATOMIC_RELEASE);
		}
	}
	if (c.next != rc->n + 1 || c.delivered + c.lapped_records != rc->n)
		st->bad_gap++;
	__atomic_store_n(&st->done, 1, __ATOMIC_RELEASE); /* pairs with the producer's join */
	if (!rc->attached)
		tr_region_close(r);
}

static void *reader_thread(void *arg)
{
	reader_loop(arg);
	return NULL;
}

/* Publish n records of kind; throttle on readers that are not stopped. */
static void produce(struct tr_writer *w, unsigned kind, uint64_t n, struct shared *sh, int nr,
		    const int *stoppable, pid_t *pids)
{
	uint64_t rec[16], cap = w->rings[kind].mask + 1;
	size_t words = tr_kind_size(kind) / 8;
	int stopped = 0;
	uint64_t stop_seq = 0;

	for (int i = 0; i < nr; i++)
		while (!__atomic_load_n(&sh->r[i].ready, __ATOMIC_ACQUIRE)) /* pairs with reader */
			sched_yield();
	for (uint64_t s = 1; s <= n; s++) {
		for (int i = 0; i < nr; i++) {
			if (stoppable[i] && stopped)
				continue;
			/* pairs with the reader's release store of progress */
			while (s - __atomic_load_n(&sh->r[i].progress, __ATOMIC_ACQUIRE) >
			       cap / 2) {
				tr_writer_commit(w);
				sched_yield();
			}
		}
		fill(rec, words, s);
		uint64_t got = tr_writer_publish(w, kind, rec);
		if (got != s)
			cr_assert_fail("published seq %llu, expected %llu", (unsigned long long)got,
				       (unsigned long long)s);
		if ((s & 63) == 0)
			tr_writer_commit(w);
		if ((s & 4095) == 0)
			tr_writer_heartbeat(w);
		for (int i = 0; i < nr; i++) {
			if (!stoppable[i])
				continue;
			if (!stopped && s == n / 4) {
				if (pids) {
					kill(pids[i], SIGSTOP);
				} else {
					__atomic_store_n(&sh->pause, 1,
							 __ATOMIC_RELEASE); /* pairs with reader */
					while (!__atomic_load_n(
					    &sh->r[i].paused,
					    __ATOMIC_ACQUIRE)) /* pairs with reader */
						sched_yield();
				}
				stopped = 1;
				stop_seq = s;
			} else if (stopped == 1 && s == stop_seq + 3 * cap) {
				if (pids)
					kill(pids[i], SIGCONT);
				else
					__atomic_store_n(&sh->resume, 1,
							 __ATOMIC_RELEASE); /* pairs with reader */
				stopped = 2;
			}
		}
		if (stopped == 2)
			stopped = 0;
	}
	tr_writer_commit(w);
}

static void check(struct shared *sh, int nr, const int *stoppable, uint64_t n)
{
	for (int i = 0; i < nr; i++) {
		struct rstat *st = &sh->r[i];

		cr_assert_eq(st->done, 1, "reader %d did not finish", i);
		cr_assert_eq(st->bad_order, 0, "reader %d: records out of order", i);
		cr_assert_eq(st->bad_sum, 0, "reader %d: torn or corrupt records", i);
		cr_assert_eq(st->bad_gap, 0, "reader %d: a gap count did not match the jump", i);
		cr_assert_eq(st->delivered + st->lost, n, "reader %d: %llu + %llu != %llu", i,
			     (unsigned long long)st->delivered, (unsigned long long)st->lost,
			     (unsigned long long)n);
		if (stoppable[i]) {
			cr_assert_geq(st->lap_events, 1,
				      "the stopped reader must have been lapped");
			cr_assert_gt(st->lost, 0);
		} else {
			cr_assert_eq(st->lost, 0, "reader %d kept up and must lose nothing", i);
			cr_assert_eq(st->delivered, n);
		}
	}
}

static void run_processes(unsigned kind, uint64_t slots, uint64_t n, enum tr_wait_mode mode)
{
	char inst[64];
	th_instance(inst, sizeof inst, "stress");
	struct tr_writer *w = th_writer(inst, slots);
	struct shared *sh =
	    mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	const int nr = 3, stoppable[MAXR] = {0, 0, 1};
	pid_t pids[MAXR];

	cr_assert_neq(sh, MAP_FAILED);
	memset(sh, 0, sizeof *sh);
	for (int i = 0; i < nr; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			struct rcfg rc = {
			    .inst = inst, .kind = kind, .n = n, .mode = mode, .sh = sh, .id = i};
			reader_loop(&rc);
			_exit(0);
		}
	}
	produce(w, kind, n, sh, nr, stoppable, pids);
	for (int i = 0; i < nr; i++) {
		int st;
		waitpid(pids[i], &st, 0);
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "reader %d status %#x", i, st);
	}
	check(sh, nr, stoppable, n);
	uint64_t ev, rec;
	struct tr_region *r;
	cr_assert_eq(tr_region_open(&r, inst, 0), 0);
	tr_region_laps(r, kind, &ev, &rec);
	cr_assert_eq(rec, sh->r[2].lost, "control file lap statistics match the reader's");
	tr_region_close(r);
	munmap(sh, sizeof *sh);
	tr_writer_close(w);
	tr_writer_unlink(NULL, inst);
}

Test(ring_stress, trades_three_reader_processes_one_stopped, .timeout = 240)
{
	run_processes(TR_KIND_TRADE, 4096, 2000000, TR_WAIT_YIELD);
}

Test(ring_stress, candles_two_cache_line_slots, .timeout = 240)
{
	run_processes(TR_KIND_CANDLE, 1024, 500000, TR_WAIT_YIELD);
}

Test(ring_stress, futex_sleeping_readers, .timeout = 240)
{
	run_processes(TR_KIND_EVENT, 1024, 300000, TR_WAIT_FUTEX);
}

static void run_threads(unsigned kind, uint64_t slots, uint64_t n, enum tr_wait_mode mode)
{
	char inst[64];
	th_instance(inst, sizeof inst, "threads");
	struct tr_writer *w = th_writer(inst, slots);
	struct tr_region *r;
	struct shared *sh = calloc(1, sizeof *sh);
	const int nr = 3, stoppable[MAXR] = {0, 0, 1};
	pthread_t th[MAXR];
	struct rcfg rc[MAXR];

	cr_assert_eq(tr_region_attach(&r, w->base, w->size, w->ctl, 0), 0, "%s", tr_errmsg());
	for (int i = 0; i < nr; i++) {
		rc[i] = (struct rcfg){.attached = r,
				      .kind = kind,
				      .n = n,
				      .mode = mode,
				      .sh = sh,
				      .id = i,
				      .stoppable = stoppable[i]};
		pthread_create(&th[i], NULL, reader_thread, &rc[i]);
	}
	produce(w, kind, n, sh, nr, stoppable, NULL);
	for (int i = 0; i < nr; i++)
		pthread_join(th[i], NULL);
	check(sh, nr, stoppable, n);
	tr_region_close(r);
	free(sh);
	tr_writer_close(w);
	tr_writer_unlink(NULL, inst);
}

Test(ring_threads, trades_three_reader_threads_one_paused, .timeout = 300)
{
	run_threads(TR_KIND_TRADE, 1024, 200000, TR_WAIT_YIELD);
}

Test(ring_threads, candles_with_futex_waits, .timeout = 300)
{
	run_threads(TR_KIND_CANDLE, 256, 60000, TR_WAIT_FUTEX);
}

Test(ring_threads, latest_table_seqlock, .timeout = 300)
{
	char inst[64];
	th_instance(inst, sizeof inst, "tlatest");
	struct tr_writer *w = th_writer(inst, 16);
	struct tr_region *r;

	cr_assert_eq(tr_region_attach(&r, w->base, w->size, w->ctl, 0), 0, "%s", tr_errmsg());
	th_latest_hammer(w, r, 50000);
	tr_region_close(r);
	tr_writer_close(w);
	tr_writer_unlink(NULL, inst);
}
