/* test_journal.c - the journal: round trip by seq across segments, rotation
 * and retention, torn-tail recovery, never blocking (appends with nothing
 * reaped), the overflow cap, write errors (EFBIG through RLIMIT_FSIZE), two
 * kinds at once, and the contiguity rule.
 *
 * Every test works in its own mkdtemp() directory and removes it. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tr_abi.h"
#include "tr_err.h"
#include "tr_journal.h"
#include "tr_uring.h"

static char dir[64];
static struct tr_uring ring;

static void setup(void)
{
	snprintf(dir, sizeof dir, "/tmp/trj-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(tr_uring_init(&ring, 256), 0);
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb, (void)flag, (void)f;
	return remove(p);
}

static void teardown(void)
{
	tr_uring_exit(&ring);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(journal, .init = setup, .fini = teardown, .timeout = 120);

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	return x ^ (x >> 33);
}

/* A record of `size` bytes for seq: seq first, the rest derived from it. */
static void fill(void *rec, uint64_t seq, uint32_t size)
{
	uint64_t *w = rec;

	w[0] = seq;
	for (uint32_t i = 1; i < size / 8; i++)
		w[i] = mix(seq * 16 + i);
}

static int check(const void *rec, uint64_t seq, uint32_t size)
{
	uint64_t want[16];

	fill(want, seq, size);
	return memcmp(rec, want, size) == 0;
}

static struct tr_journal *jopen(const struct tr_journal_config *cfg)
{
	struct tr_journal *j;
	int rc = tr_journal_open(&j, &ring, cfg);

	cr_assert_eq(rc, 0, "tr_journal_open: %s", tr_errmsg());
	return j;
}

static void cfg_small(struct tr_journal_config *cfg, uint64_t seg_records)
{
	tr_journal_config_default(cfg);
	cfg->dir = dir;
	cfg->segment_records = seg_records;
}

/* Append seqs [from, to] of kind, flushing and reaping like the engine loop. */
static void append_range(struct tr_journal *j, unsigned kind, uint64_t from, uint64_t to)
{
	uint64_t rec[16];

	for (uint64_t s = from; s <= to; s++) {
		fill(rec, s, tr_kind_size(kind));
		int rc = tr_journal_append(j, kind, rec);
		cr_assert_eq(rc, 0, "append %" PRIu64 ": %s", s, tr_errmsg());
		if (s % 512 == 0) {
			tr_journal_flush(j);
			tr_uring_reap(&ring);
		}
	}
	tr_journal_flush(j);
}

static int count_segments(unsigned kind)
{
	char path[128];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof path, "%s/%s", dir, tr_journal_kind_name(kind));
	cr_assert_not_null(d = opendir(path));
	while ((e = readdir(d)))
		n += strlen(e->d_name) > 4 && !strcmp(e->d_name + strlen(e->d_name) - 4, ".seg");
	closedir(d);
	return n;
}

static void seg_path(char *buf, size_t n, unsigned kind, uint64_t first)
{
	snprintf(buf, n, "%s/%s/%020" PRIu64 ".seg", dir, tr_journal_kind_name(kind), first);
}

Test(journal, shouldReadEveryRecordBySeqAfterReopenAcrossSegments)
{
	const uint64_t N = 1000000;
	struct tr_journal_config cfg;
	struct tr_journal_reader *r;
	struct tr_journal *j;
	struct tr_trade t;

	cfg_small(&cfg, 150000);
	j = jopen(&cfg);
	cr_assert_eq(tr_journal_last_seq(j, TR_KIND_TRADE), 0);
	append_range(j, TR_KIND_TRADE, 1, N);
	cr_assert_eq(tr_journal_stats(j)->records, N);
	cr_assert_eq(tr_journal_close(j), 0, "%s", tr_errmsg());
	cr_assert_eq(count_segments(TR_KIND_TRADE), 7);

	j = jopen(&cfg);
	cr_assert_eq(tr_journal_last_seq(j, TR_KIND_TRADE), N);
	cr_assert_eq(tr_journal_last_seq(j, TR_KIND_QUOTE), 0);
	cr_assert_eq(tr_journal_oldest(j, TR_KIND_TRADE), 1);
	cr_assert_eq(tr_journal_stats(j)->unregistered, 0, "buffers registered");

	cr_assert_eq(tr_journal_reader_open(&r, dir, TR_KIND_TRADE), 0);
	cr_assert_eq(tr_journal_reader_oldest(r), 1);
	cr_assert_eq(tr_journal_reader_newest(r), N);
	for (uint64_t s = 1; s <= N; s++) {
		int rc = tr_journal_read(r, s, &t);
		cr_assert_eq(rc, 0, "read %" PRIu64 ": %d", s, rc);
		cr_assert(check(&t, s, sizeof t), "record %" PRIu64 " differs", s);
	}
	cr_assert_eq(tr_journal_read(r, N + 1, &t), -ENOENT);
	cr_assert_eq(tr_journal_read(r, 0, &t), -ENOENT);

	/* Appending continues at last + 1, in the partly filled last segment. */
	append_range(j, TR_KIND_TRADE, N + 1, N + 10);
	cr_assert_eq(tr_journal_close(j), 0);
	cr_assert_eq(tr_journal_read(r, N + 10, &t), 0);
	cr_assert(check(&t, N + 10, sizeof t));
	tr_journal_reader_close(r);
}

Test(journal, shouldDeleteOldestSegmentsBeyondRetention)
{
	struct tr_journal_config cfg;
	struct tr_journal_reader *r;
	struct tr_journal *j;
	struct tr_trade t;
	uint64_t seg_bytes = TR_JOURNAL_HDR_SIZE + 1000 * 64;

	cfg_small(&cfg, 1000);
	cfg.retain_bytes = 5 * seg_bytes;
	j = jopen(&cfg);
	append_range(j, TR_KIND_TRADE, 1, 20500);
	cr_assert_eq(tr_journal_close(j), 0, "%s", tr_errmsg());

	/* 21 segments written; the newest (500 records) plus at most 5 - 1
	 * full ones fit in 5 segment sizes. */
	cr_assert_eq(count_segments(TR_KIND_TRADE), 5, "%d", count_segments(TR_KIND_TRADE));
	cr_assert_eq(tr_journal_reader_open(&r, dir, TR_KIND_TRADE), 0);
	cr_assert_eq(tr_journal_reader_oldest(r), 16001);
	cr_assert_eq(tr_journal_read(r, 1, &t), -ENOENT);
	cr_assert_eq(tr_journal_read(r, 16000, &t), -ENOENT);
	cr_assert_eq(tr_journal_read(r, 16001, &t), 0);
	cr_assert(check(&t, 16001, 64));
	cr_assert_eq(tr_journal_read(r, 20500, &t), 0);

	/* Reopening with a smaller limit deletes at once, never the current. */
	cfg.retain_bytes = 1;
	j = jopen(&cfg);
	cr_assert_eq(tr_journal_oldest(j, TR_KIND_TRADE), 20001);
	cr_assert_eq(tr_journal_stats(j)->segments_deleted, 4);
	cr_assert_eq(tr_journal_close(j), 0);
	cr_assert_eq(count_segments(TR_KIND_TRADE), 1);
	cr_assert_eq(tr_journal_read(r, 19999, &t), -ENOENT);
	cr_assert_eq(tr_journal_read(r, 20001, &t), 0);
	tr_journal_reader_close(r);
}

Test(journal, shouldTruncateTornAndZeroTailOnRecovery)
{
	struct tr_journal_config cfg;
	struct tr_journal_reader *r;
	struct tr_journal *j;
	struct tr_trade t;
	char path[160];
	struct stat sb;
	int fd;

	cfg_small(&cfg, 1000);
	j = jopen(&cfg);
	append_range(j, TR_KIND_TRADE, 1, 2500);
	cr_assert_eq(tr_journal_close(j), 0);

	/* Cut the last segment in the middle of record 2401. */
	seg_path(path, sizeof path, TR_KIND_TRADE, 2001);
	cr_assert_eq(truncate(path, TR_JOURNAL_HDR_SIZE + 400 * 64 + 30), 0);
	j = jopen(&cfg);
	cr_assert_eq(tr_journal_last_seq(j, TR_KIND_TRADE), 2400);
	cr_assert_eq(tr_journal_close(j), 0);
	cr_assert_eq(stat(path, &sb), 0);
	cr_assert_eq(sb.st_size, TR_JOURNAL_HDR_SIZE + 400 * 64);

	/* Zeros, then a record with a wrong seq, then a right-looking one. */
	fd = open(path, O_WRONLY | O_APPEND);
	cr_assert_geq(fd, 0);
	char zeros[10 * 64] = {0};
	cr_assert_eq(write(fd, zeros, sizeof zeros), (ssize_t)sizeof zeros);
	fill(&t, 777, 64);
	cr_assert_eq(write(fd, &t, 64), 64);
	fill(&t, 2412, 64);
	cr_assert_eq(write(fd, &t, 64), 64);
	close(fd);

	/* A newer segment whose header never made it: deleted. */
	seg_path(path, sizeof path, TR_KIND_TRADE, 3001);
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	cr_assert_eq(write(fd, zeros, 200), 200);
	close(fd);

	j = jopen(&cfg);
	cr_assert_eq(tr_journal_last_seq(j, TR_KIND_TRADE), 2400);
	cr_assert_eq(access(path, F_OK), -1, "headerless segment removed");
	append_range(j, TR_KIND_TRADE, 2401, 3100);
	cr_assert_eq(tr_journal_close(j), 0);

	cr_assert_eq(tr_journal_reader_open(&r, dir, TR_KIND_TRADE), 0);
	for (uint64_t s = 1; s <= 3100; s++) {
		cr_assert_eq(tr_journal_read(r, s, &t), 0, "seq %" PRIu64, s);
		cr_assert(check(&t, s, 64), "seq %" PRIu64, s);
	}
	tr_journal_reader_close(r);
}

/* With nothing reaped no buffer comes back, yet appends go on: they spill to
 * heap overflow buffers. Then reaping completes everything. */
Test(journal, shouldNeverWaitWhenNoCompletionIsReaped)
{
	struct tr_journal_config cfg;
	struct tr_journal_reader *r;
	struct tr_journal *j;
	struct tr_trade t;
	const uint64_t N = 20000;

	cfg_small(&cfg, 0);
	cfg.nbufs = 2;
	cfg.buf_size = 4096;
	j = jopen(&cfg);
	for (uint64_t s = 1; s <= N; s++) {
		fill(&t, s, 64);
		cr_assert_eq(tr_journal_append(j, TR_KIND_TRADE, &t), 0);
		if (s % 100 == 0)
			cr_assert_geq(tr_journal_flush(j), 0); /* submits, never reaps */
	}
	const struct tr_journal_stats *st = tr_journal_stats(j);
	cr_assert_gt(st->overflow_writes, 0, "registered buffers all in flight: overflow used");
	cr_assert_gt(st->overflow_peak, 0);
	cr_assert_gt(tr_journal_pending(j), 0, "nothing reaped, so nothing counted done");

	for (int i = 0; i < 1000 && tr_journal_pending(j); i++)
		tr_uring_wait(&ring, 100 * 1000000ll);
	cr_assert_eq(tr_journal_pending(j), 0);
	cr_assert_eq(st->write_errors, 0);

	/* Completed writes are visible to a reader while the journal is open. */
	cr_assert_eq(tr_journal_reader_open(&r, dir, TR_KIND_TRADE), 0);
	cr_assert_eq(tr_journal_read(r, N, &t), 0);
	cr_assert(check(&t, N, 64));
	cr_assert_eq(tr_journal_reader_newest(r), N);
	cr_assert_eq(tr_journal_close(j), 0);
	tr_journal_reader_close(r);
}

Test(journal, shouldDropAndCountBeyondOverflowCapThenResume)
{
	struct tr_journal_config cfg;
	struct tr_journal_reader *r;
	struct tr_journal *j;
	struct tr_trade t;
	uint64_t s = 0, first_drop = 0;
	int rc;

	cfg_small(&cfg, 0);
	cfg.nbufs = 2;
	cfg.buf_size = 4096;
	cfg.max_overflow = 4 * 4096;
	j = jopen(&cfg);
	do { /* nothing reaped: 2 registered + 4 overflow buffers, then the cap */
		fill(&t, ++s, 64);
		rc = tr_journal_append(j, TR_KIND_TRADE, &t);
	} while (rc == 0 && s < 100000);
	cr_assert_eq(rc, -ENOBUFS, "%s", tr_errmsg());
	first_drop = s;
	cr_assert_lt(first_drop, 6 * 4096 / 64 + 2);
	fill(&t, ++s, 64);
	cr_assert_eq(tr_journal_append(j, TR_KIND_TRADE, &t), -ENOBUFS);
	cr_assert_eq(tr_journal_stats(j)->records_dropped, 2);
	cr_assert_eq(tr_journal_last_seq(j, TR_KIND_TRADE), s, "sequence moves on");

	while (tr_journal_pending(j))
		tr_uring_wait(&ring, 100 * 1000000ll);
	append_range(j, TR_KIND_TRADE, s + 1, s + 100); /* buffers back: a new segment */
	cr_assert_eq(tr_journal_close(j), 0);

	cr_assert_eq(tr_journal_reader_open(&r, dir, TR_KIND_TRADE), 0);
	cr_assert_eq(tr_journal_read(r, first_drop - 1, &t), 0);
	cr_assert_eq(tr_journal_read(r, first_drop, &t), -ENOENT);
	cr_assert_eq(tr_journal_read(r, s, &t), -ENOENT);
	cr_assert_eq(tr_journal_read(r, s + 1, &t), 0);
	cr_assert(check(&t, s + 1, 64));
	tr_journal_reader_close(r);
	j = jopen(&cfg);
	cr_assert_eq(tr_journal_last_seq(j, TR_KIND_TRADE), s + 100);
	tr_journal_close(j);
}

/* RLIMIT_FSIZE stands in for a full disk: writes past it fail with EFBIG. */
Test(journal, shouldCountWriteErrorsAndGoOn)
{
	struct tr_journal_config cfg;
	struct tr_journal *j;
	struct rlimit rl = {.rlim_cur = 64 * 1024, .rlim_max = RLIM_INFINITY};
	struct tr_trade t;

	signal(SIGXFSZ, SIG_IGN);
	cfg_small(&cfg, 0);
	cfg.buf_size = 8192;
	j = jopen(&cfg);
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	for (uint64_t s = 1; s <= 5000; s++) {
		fill(&t, s, 64);
		cr_assert_eq(tr_journal_append(j, TR_KIND_TRADE, &t), 0);
		if (s % 200 == 0) {
			tr_journal_flush(j);
			tr_uring_reap(&ring);
		}
	}
	while (tr_journal_pending(j)) {
		tr_journal_flush(j);
		tr_uring_wait(&ring, 100 * 1000000ll);
	}
	const struct tr_journal_stats *st = tr_journal_stats(j);
	cr_assert_gt(st->write_errors, 0);
	cr_assert_gt(st->records_lost, 0);
	cr_assert_leq(st->records_lost, 5000 - (64 * 1024 - 64) / 64);
	cr_assert_eq(st->last_error, -EFBIG);
	cr_assert(strstr(tr_journal_last_error(j), "write"), "%s", tr_journal_last_error(j));
	cr_assert_eq(tr_journal_close(j), -EFBIG);
}

Test(journal, shouldKeepTwoKindsApart)
{
	struct tr_journal_config cfg;
	struct tr_journal_reader *rt, *rc;
	struct tr_journal *j;
	uint64_t rec[16];

	cfg_small(&cfg, 3000);
	j = jopen(&cfg);
	for (uint64_t s = 1; s <= 10000; s++) {
		fill(rec, s, 64);
		cr_assert_eq(tr_journal_append(j, TR_KIND_TRADE, rec), 0);
		if (s % 3 == 0) {
			fill(rec, s / 3, 128);
			cr_assert_eq(tr_journal_append(j, TR_KIND_CANDLE, rec), 0);
		}
		if (s % 1000 == 0) {
			tr_journal_flush(j);
			tr_uring_reap(&ring);
		}
	}
	cr_assert_eq(tr_journal_close(j), 0);
	j = jopen(&cfg);
	cr_assert_eq(tr_journal_last_seq(j, TR_KIND_TRADE), 10000);
	cr_assert_eq(tr_journal_last_seq(j, TR_KIND_CANDLE), 3333);
	cr_assert_eq(tr_journal_last_seq(j, TR_KIND_EVENT), 0);
	tr_journal_close(j);
	cr_assert_eq(tr_journal_reader_open(&rt, dir, TR_KIND_TRADE), 0);
	cr_assert_eq(tr_journal_reader_open(&rc, dir, TR_KIND_CANDLE), 0);
	for (uint64_t s = 1; s <= 10000; s++) {
		cr_assert_eq(tr_journal_read(rt, s, rec), 0);
		cr_assert(check(rec, s, 64));
		if (s <= 3333) {
			cr_assert_eq(tr_journal_read(rc, s, rec), 0);
			cr_assert(check(rec, s, 128));
		}
	}
	cr_assert_eq(tr_journal_read(rc, 3334, rec), -ENOENT);
	tr_journal_reader_close(rt);
	tr_journal_reader_close(rc);
}

Test(journal, shouldRefuseGapsUnlessRestarted)
{
	struct tr_journal_config cfg;
	struct tr_journal_reader *r;
	struct tr_journal *j;
	struct tr_quote q;

	cfg_small(&cfg, 100);
	j = jopen(&cfg);
	fill(&q, 5, 64);
	cr_assert_eq(tr_journal_append(j, TR_KIND_QUOTE, &q), -EINVAL, "empty journal starts at 1");
	append_range(j, TR_KIND_QUOTE, 1, 50);
	cr_assert_eq(tr_journal_append(j, TR_KIND_QUOTE, &q), -EINVAL, "5 again");
	cr_assert_eq(tr_journal_restart(j, TR_KIND_QUOTE, 50), -EINVAL);
	cr_assert_eq(tr_journal_restart(j, TR_KIND_QUOTE, 1000), 0);
	append_range(j, TR_KIND_QUOTE, 1000, 1010);
	cr_assert_eq(tr_journal_close(j), 0);

	cr_assert_eq(tr_journal_reader_open(&r, dir, TR_KIND_QUOTE), 0);
	cr_assert_eq(tr_journal_read(r, 50, &q), 0);
	cr_assert_eq(tr_journal_read(r, 51, &q), -ENOENT);
	cr_assert_eq(tr_journal_read(r, 999, &q), -ENOENT);
	cr_assert_eq(tr_journal_read(r, 1000, &q), 0);
	cr_assert(check(&q, 1000, 64));
	cr_assert_eq(tr_journal_reader_newest(r), 1010);
	tr_journal_reader_close(r);
	j = jopen(&cfg);
	cr_assert_eq(tr_journal_last_seq(j, TR_KIND_QUOTE), 1010);
	tr_journal_close(j);
}
