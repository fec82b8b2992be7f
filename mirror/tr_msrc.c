/* tr_msrc.c - a mirror's ordered source over ring and journal; the delivery
 * window; the checkpoint file. The rules are in tr_msrc.h. */
#define _GNU_SOURCE
#include "tr_msrc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tr_atomic.h"
#include "tr_err.h"
#include "tr_journal.h"
#include "tr_reader.h"

#define GRACE_NS 2000000000ll
#define REOPEN_NS 100000000ll /* retry a missing region or journal this often */
#define WAIT_SLICE_NS 100000000ll

struct tr_msrc {
	char instance[256];
	char jdir[256];
	unsigned kind;
	uint64_t after_seq;
	int64_t grace_ns;

	struct tr_region *r;
	struct tr_cursor c;
	struct tr_journal_reader *jr;
	int positioned;	    /* next/ring_from are meaningful */
	uint64_t next;	    /* seq the next call returns */
	uint64_t ring_from; /* seqs from here come from the cursor, below from the journal */
	int64_t miss_since; /* when the journal first lacked `next`, 0 if not missing */
	int64_t region_retry, journal_retry;
	uint64_t lost_pending; /* skipped since the last record handed out */
	struct tr_msrc_stats st;
};

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void nap(int64_t ns)
{
	struct timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};

	nanosleep(&ts, NULL);
}

int tr_msrc_open(struct tr_msrc **out, const struct tr_msrc_config *cfg)
{
	struct tr_msrc *s;

	*out = NULL;
	if (!cfg || cfg->kind >= TR_NKINDS)
		return tr_err(EINVAL, "mirror source: bad kind");
	if (!(s = calloc(1, sizeof *s)))
		return tr_err(ENOMEM, "mirror source: out of memory");
	snprintf(s->instance, sizeof s->instance, "%s", cfg->instance ? cfg->instance : "");
	snprintf(s->jdir, sizeof s->jdir, "%s", cfg->journal_dir ? cfg->journal_dir : "");
	s->kind = cfg->kind;
	s->after_seq = cfg->after_seq;
	s->grace_ns = cfg->journal_grace_ns > 0 ? cfg->journal_grace_ns : GRACE_NS;
	*out = s;
	return 0;
}

static void drop_region(struct tr_msrc *s)
{
	tr_region_close(s->r);
	s->r = NULL;
}

void tr_msrc_close(struct tr_msrc *s)
{
	if (!s)
		return;
	drop_region(s);
	tr_journal_reader_close(s->jr);
	free(s);
}

static const struct tr_ring_hdr *ring_hdr(const struct tr_msrc *s)
{
	const struct tr_superblock *sb = tr_region_superblock(s->r);

	return (const struct tr_ring_hdr *)((const uint8_t *)sb + sb->rings[s->kind].offset);
}

static int have_journal(struct tr_msrc *s)
{
	int64_t now;

	if (s->jr)
		return 1;
	if (!s->jdir[0])
		return 0;
	now = mono_ns();
	if (now < s->journal_retry)
		return 0;
	s->journal_retry = now + REOPEN_NS;
	return tr_journal_reader_open(&s->jr, s->jdir, s->kind) == 0;
}

/* Open the region if there is one, and place the cursor at s->next. */
static int open_region(struct tr_msrc *s)
{
	int64_t now = mono_ns();
	uint64_t head;

	if (now < s->region_retry)
		return 0;
	s->region_retry = now + REOPEN_NS;
	if (tr_region_open(&s->r, s->instance, TR_OPEN_ANY_STATE) < 0) {
		s->r = NULL;
		return 0;
	}
	s->st.reopens++;
	head = tr_region_head(s->r, s->kind);
	if (!s->positioned) {
		s->positioned = 1;
		if (s->after_seq == TR_MSRC_TAIL) {
			s->next = head + 1;
		} else if (s->after_seq) {
			s->next = s->after_seq + 1;
		} else {
			/* The oldest record anywhere: with a journal configured
			 * that is its oldest, or 1 while nothing is on disk yet
			 * (writes in flight); else the ring's oldest. */
			uint64_t o = have_journal(s) ? tr_journal_reader_oldest(s->jr) : 0;

			if (!o && s->jdir[0]) {
				o = 1;
			} else if (!o) {
				tr_cursor_init(&s->c, s->r, s->kind, TR_JOIN_OLDEST, 0);
				o = s->c.next;
			}
			s->next = o;
		}
	}
	if (s->next > head + 1 && tr_region_liveness(s->r, TR_STALE_NS) == 0) {
		/* A running engine behind our position: its sequence went back
		 * (journal deleted), so ours means nothing; follow it. */
		s->st.rewinds++;
		s->next = head + 1;
	}
	tr_cursor_init(&s->c, s->r, s->kind, TR_JOIN_SEQ, s->next);
	s->ring_from = s->next;
	s->miss_since = 0;
	return 1;
}

/* The journal keeps no epochs: a record gets the region's epoch when it
 * belongs to it (seq at or after the epoch's first), else 0, "unknown". */
static uint64_t epoch_of(struct tr_msrc *s, uint64_t seq)
{
	/* A statistic the writer stores relaxed when an epoch starts; a stale
	 * value only mislabels records of a restart happening right now. */
	uint64_t base = tr_load_relaxed(&ring_hdr(s)->base_seq);

	return base && seq >= base ? tr_region_epoch(s->r) : 0;
}

static void give(struct tr_msrc *s, struct tr_msrc_info *info, uint64_t seq, int from_journal)
{
	info->seq = seq;
	info->epoch = epoch_of(s, seq);
	info->from_journal = from_journal;
	info->lost_before = s->lost_pending;
	s->lost_pending = 0;
	s->next = seq + 1;
	s->miss_since = 0;
	s->st.delivered++;
	s->st.from_journal += (uint64_t)from_journal;
}

static void skip(struct tr_msrc *s, uint64_t upto)
{
	if (upto <= s->next)
		return;
	s->st.lost += upto - s->next;
	s->lost_pending += upto - s->next;
	s->next = upto;
	s->miss_since = 0;
}

/* Records below ring_from: from the journal. 1 delivered, 0 not yet. */
static int from_journal(struct tr_msrc *s, void *rec, struct tr_msrc_info *info)
{
	int rc;

	if (!have_journal(s)) {
		if (!s->jdir[0])
			skip(s, s->ring_from); /* no journal: a lap is a loss */
		return 0;
	}
	rc = tr_journal_read(s->jr, s->next, rec);
	if (rc == 0 && *(const uint64_t *)rec == s->next) {
		give(s, info, s->next, 1);
		return 1;
	}
	if (rc != -ENOENT && rc != 0)
		return 0; /* I/O error: retry later */
	/* Not on disk: before retention, in a hole, or not written yet. */
	uint64_t oldest = tr_journal_reader_oldest(s->jr);

	if (oldest > s->next) {
		skip(s, oldest < s->ring_from ? oldest : s->ring_from);
		return 0;
	}
	int64_t now = mono_ns();

	if (!s->miss_since) {
		s->miss_since = now;
		return 0;
	}
	if (now - s->miss_since < s->grace_ns)
		return 0;
	/* Waited long enough: skip the hole up to the next record on disk. */
	do {
		s->st.lost++;
		s->lost_pending++;
		s->next++;
	} while (s->next < s->ring_from && tr_journal_read(s->jr, s->next, rec) == -ENOENT);
	s->miss_since = 0;
	return 0;
}

/* Records from ring_from on: from the cursor. */
static int from_ring(struct tr_msrc *s, void *rec, struct tr_msrc_info *info, int64_t wait_ns)
{
	int rc = wait_ns > 0 ? tr_wait(&s->c, rec, TR_WAIT_FUTEX, wait_ns) : tr_poll(&s->c, rec);

	switch (rc) {
	case TR_POLL_RECORD:
		s->ring_from = s->c.next;
		give(s, info, *(const uint64_t *)rec, 0);
		return 1;
	case TR_POLL_LAPPED:
		s->st.laps++;
		s->ring_from = s->c.next; /* [next, ring_from) now comes from the journal */
		return 0;
	case TR_POLL_EPOCH:
		if (s->c.next < s->next) {
			s->st.rewinds++;
			s->next = s->ring_from = s->c.next;
		}
		return 0;
	default:
		return -1; /* nothing */
	}
}

int tr_msrc_next(struct tr_msrc *s, void *rec, struct tr_msrc_info *info, int64_t timeout_ns)
{
	if (!s || !rec || !info)
		return -EINVAL;
	/* The usual call, a record that is in the ring, without the clock. */
	if (timeout_ns == 0 && s->r && s->next >= s->ring_from && from_ring(s, rec, info, 0) == 1)
		return 1;

	int64_t deadline = timeout_ns < 0 ? INT64_MAX : mono_ns() + timeout_ns;

	for (;;) {
		int64_t left = deadline - mono_ns();

		if (!s->r && !open_region(s)) {
			if (left <= 0)
				return 0;
			nap(left < 10000000 ? left : 10000000);
			continue;
		}
		if (s->next < s->ring_from) {
			if (from_journal(s, rec, info))
				return 1;
			if (s->next < s->ring_from) {
				if (left <= 0)
					return 0;
				nap(left < 1000000 ? left : 1000000); /* journal write in flight */
			}
			continue;
		}
		int64_t slice = left < WAIT_SLICE_NS ? left : WAIT_SLICE_NS;
		int rc = from_ring(s, rec, info, slice);

		if (rc == 1)
			return 1;
		if (rc == 0)
			continue;
		if (tr_region_replaced(s->r)) {
			drop_region(s); /* a new file: reopen it at s->next */
			s->region_retry = 0;
			continue;
		}
		if (mono_ns() >= deadline)
			return 0;
	}
}

uint64_t tr_msrc_position(const struct tr_msrc *s)
{
	return s->positioned ? s->next : (s->after_seq == TR_MSRC_TAIL ? 0 : s->after_seq + 1);
}

const struct tr_region *tr_msrc_region(const struct tr_msrc *s)
{
	return s->r;
}

const struct tr_msrc_stats *tr_msrc_stats(const struct tr_msrc *s)
{
	return &s->st;
}

/* ---- delivery window ---- */

struct tr_ackwin {
	uint64_t mask;	   /* capacity - 1 */
	uint64_t wm;	   /* watermark: every seq <= wm acknowledged */
	uint64_t hi;	   /* last seq added */
	uint64_t inflight; /* added and not acknowledged */
	uint64_t bits[];   /* bit (seq & mask): seq in (wm, hi] acknowledged */
};

int tr_ackwin_create(struct tr_ackwin **out, uint64_t capacity, uint64_t after_seq)
{
	uint64_t cap = 64;
	struct tr_ackwin *w;

	while (cap < capacity)
		cap <<= 1;
	if (!(w = calloc(1, sizeof *w + cap / 8)))
		return -ENOMEM;
	w->mask = cap - 1;
	w->wm = w->hi = after_seq;
	*out = w;
	return 0;
}

void tr_ackwin_free(struct tr_ackwin *w)
{
	free(w);
}

static int bit_get(const struct tr_ackwin *w, uint64_t seq)
{
	uint64_t i = seq & w->mask;

	return (w->bits[i >> 6] >> (i & 63)) & 1;
}

static void bit_put(struct tr_ackwin *w, uint64_t seq, int v)
{
	uint64_t i = seq & w->mask, b = 1ull << (i & 63);

	w->bits[i >> 6] = v ? w->bits[i >> 6] | b : w->bits[i >> 6] & ~b;
}

static void advance(struct tr_ackwin *w)
{
	while (w->wm < w->hi && bit_get(w, w->wm + 1)) {
		bit_put(w, w->wm + 1, 0);
		w->wm++;
	}
}

int tr_ackwin_add(struct tr_ackwin *w, uint64_t seq)
{
	if (seq <= w->hi)
		return -EINVAL;
	if (w->inflight == 0) {
		w->wm = seq - 1; /* skipped seqs with nothing in flight: plain jump */
	} else {
		if (seq - w->wm > w->mask + 1)
			return -ENOSPC;
		for (uint64_t x = w->hi + 1; x < seq; x++)
			bit_put(w, x, 1); /* skipped: nothing to wait for */
	}
	w->hi = seq;
	w->inflight++;
	return 0;
}

uint64_t tr_ackwin_ack(struct tr_ackwin *w, uint64_t seq)
{
	if (seq > w->wm && seq <= w->hi && !bit_get(w, seq)) {
		bit_put(w, seq, 1);
		w->inflight--;
		advance(w);
	}
	return w->wm;
}

uint64_t tr_ackwin_watermark(const struct tr_ackwin *w)
{
	return w->wm;
}

uint64_t tr_ackwin_in_flight(const struct tr_ackwin *w)
{
	return w->inflight;
}

/* ---- checkpoint file ---- */

static const char *const kind_names[TR_NKINDS] = {"trades", "quotes", "candles", "events"};

int tr_checkpoint_load(const char *path, uint64_t seq[TR_NKINDS])
{
	char line[256];
	unsigned lineno = 0;
	FILE *f;

	memset(seq, 0, sizeof(uint64_t) * TR_NKINDS);
	if (!(f = fopen(path, "r"))) {
		int e = errno;

		return tr_err(e, "checkpoint %s: %s", path, strerror(e));
	}
	while (fgets(line, sizeof line, f)) {
		char name[32], *end;
		unsigned long long v;
		int k, n = 0;

		lineno++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (sscanf(line, "%31s %n", name, &n) != 1 || !n)
			goto bad;
		errno = 0;
		v = strtoull(line + n, &end, 10);
		if (errno || end == line + n || (*end && *end != '\n'))
			goto bad;
		for (k = 0; k < TR_NKINDS && strcmp(name, kind_names[k]); k++)
			;
		if (k == TR_NKINDS)
			goto bad;
		seq[k] = v;
		continue;
	bad:
		fclose(f);
		return tr_err(EINVAL,
			      "checkpoint %s:%u: expected `<trades|quotes|candles|events> <seq>`",
			      path, lineno);
	}
	fclose(f);
	return 0;
}

int tr_checkpoint_save(const char *path, const uint64_t seq[TR_NKINDS])
{
	char tmp[4096 + 8], buf[256];
	int fd, n = 0, e;

	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
		return tr_err(ENAMETOOLONG, "checkpoint %s: path too long", path);
	for (int k = 0; k < TR_NKINDS; k++)
		n += snprintf(buf + n, sizeof buf - (size_t)n, "%s %llu\n", kind_names[k],
			      (unsigned long long)seq[k]);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		goto fail;
	if (write(fd, buf, (size_t)n) != n || fsync(fd) < 0) {
		e = errno ? errno : EIO;
		close(fd);
		unlink(tmp);
		errno = e;
		goto fail;
	}
	close(fd);
	if (rename(tmp, path) < 0)
		goto fail;
	return 0;
fail:
	e = errno;
	return tr_err(e, "checkpoint %s: %s", path, strerror(e));
}
