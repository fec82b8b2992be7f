/* tr_reader.c - libtickring's reader (tr_reader.h).
 *
 * The hot path is tr_poll(): one acquire load of the wanted slot's seq, a
 * copy, an acquire fence and a second load. It never touches the producer's
 * head line, so a reader keeping up costs the producer only the slot line it
 * reads. Head and epoch are looked at on the idle path (every 256th empty
 * poll) and when lapped.
 */
#define _GNU_SOURCE
#include "tr_reader.h"

#include "tr_atomic.h"
#include "tr_layout.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct tr_region {
	const uint8_t *base;
	uint64_t size;
	const struct tr_superblock *sb;
	struct tr_ctl *ctl; /* writable, may be NULL */
	int owns_map;
	dev_t dev; /* of the file mapped, to notice a replacement */
	ino_t ino;
	char path[300];
};

static int64_t now_realtime(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void resolve_path(char *buf, size_t n, const char *name)
{
	const char *dir = getenv("TICKRING_DIR");

	if (!name || !*name)
		name = getenv("TICKRING_INSTANCE");
	if (!name || !*name)
		name = "default";
	if (strchr(name, '/'))
		snprintf(buf, n, "%s", name);
	else
		snprintf(buf, n, "%s/tickring.%s", dir && *dir ? dir : "/dev/shm", name);
}

static void map_ctl(struct tr_region *r)
{
	char p[320];
	int fd;
	struct tr_ctl *c;

	snprintf(p, sizeof p, "%s.ctl", r->path);
	fd = open(p, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return; /* no permission or no file: futex waits fall back to sleeping */
	c = mmap(NULL, sizeof *c, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (c == MAP_FAILED)
		return;
	/* Pairs with the writer's release store of magic after it zeroes the file. */
	if (tr_load_acquire(&c->magic) != TR_CTL_MAGIC) {
		munmap(c, sizeof *c);
		return;
	}
	r->ctl = c;
}

static int finish_open(struct tr_region *r, unsigned flags)
{
	int err;

	if ((err = tr_layout_check(r->sb, r->size)) < 0)
		return err;
	if (!(flags & TR_OPEN_ANY_STATE) && (err = tr_region_liveness(r, 0)) < 0)
		return err;
	return 0;
}

int tr_region_open(struct tr_region **out, const char *name, unsigned flags)
{
	struct tr_region *r = calloc(1, sizeof *r);
	struct stat st;
	void *m;
	int fd, err;

	if (!r)
		return tr_err(ENOMEM, "out of memory");
	resolve_path(r->path, sizeof r->path, name);
	fd = open(r->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = errno == ENOENT
			  ? tr_err(ENOENT, "no region: is tickringd running for this instance?")
			  : tr_err(errno, "%s", strerror(errno));
		goto fail;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		err = tr_err(EINVAL, "not a regular file");
		close(fd);
		goto fail;
	}
	if ((uint64_t)st.st_size < sizeof(struct tr_superblock)) {
		err = tr_err(TR_ETRUNC, "file is %lld bytes, shorter than a superblock (%zu)",
			     (long long)st.st_size, sizeof(struct tr_superblock));
		close(fd);
		goto fail;
	}
	/* Validate the superblock before mapping the whole file: its sizes are
	 * untrusted until tr_layout_check() agrees with the file size. */
	m = mmap(NULL, sizeof(struct tr_superblock), PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		err = tr_err(errno, "mmap: %s", strerror(errno));
		close(fd);
		goto fail;
	}
	err = tr_layout_check(m, (uint64_t)st.st_size);
	uint64_t size = ((const struct tr_superblock *)m)->region_size;
	munmap(m, sizeof(struct tr_superblock));
	if (err < 0) {
		close(fd);
		goto fail;
	}
	m = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED) {
		err =
		    tr_err(errno, "mmap %llu bytes: %s", (unsigned long long)size, strerror(errno));
		goto fail;
	}
	r->base = m;
	r->size = size;
	r->sb = m;
	r->owns_map = 1;
	r->dev = st.st_dev;
	r->ino = st.st_ino;
	if ((err = finish_open(r, flags)) < 0)
		goto fail;
	if (!(flags & TR_OPEN_NO_CTL))
		map_ctl(r);
	*out = r;
	return 0;
fail:
	err = tr_err_ctx(err, "%s", r->path);
	tr_region_close(r);
	return err;
}

int tr_region_attach(struct tr_region **out, const void *base, uint64_t size, void *ctl,
		     unsigned flags)
{
	struct tr_region *r = calloc(1, sizeof *r);
	int err;

	if (!r)
		return tr_err(ENOMEM, "out of memory");
	snprintf(r->path, sizeof r->path, "(attached at %p)", base);
	r->base = base;
	r->size = size;
	r->sb = base;
	r->ctl = ctl;
	if ((err = finish_open(r, flags)) < 0) {
		free(r);
		return err;
	}
	*out = r;
	return 0;
}

void tr_region_close(struct tr_region *r)
{
	if (!r)
		return;
	if (r->owns_map) {
		if (r->base)
			munmap((void *)r->base, r->size);
		if (r->ctl)
			munmap(r->ctl, sizeof *r->ctl);
	}
	free(r);
}

int tr_region_replaced(const struct tr_region *r)
{
	struct stat st;

	if (!r->owns_map)
		return 0;
	if (stat(r->path, &st) < 0)
		return 1;
	return st.st_dev != r->dev || st.st_ino != r->ino;
}

const struct tr_superblock *tr_region_superblock(const struct tr_region *r)
{
	return r->sb;
}

const char *tr_region_path(const struct tr_region *r)
{
	return r->path;
}

int tr_region_liveness(const struct tr_region *r, int64_t stale_ns)
{
	const struct tr_superblock *sb = r->sb;
	/* Pairs with the writer's release store of state. */
	uint32_t state = tr_load_acquire(&sb->state);
	int32_t pid = tr_load_relaxed(&sb->engine_pid);
	int64_t age =
	    now_realtime() - tr_load_relaxed(&sb->heartbeat_ns); /* stored relaxed at >= 10 Hz */

	if (stale_ns <= 0)
		stale_ns = TR_STALE_NS;
	if (state == TR_STATE_INIT)
		return tr_err(TR_EINIT, "region is still being created");
	if (state == TR_STATE_STOPPED)
		return tr_err(TR_ESTOPPED, "engine (pid %d) stopped %.1f s ago", pid, age / 1e9);
	if (state != TR_STATE_RUNNING)
		return tr_err(TR_ELAYOUT, "unknown engine state %u", state);
	if (pid <= 0 || (kill(pid, 0) < 0 && errno == ESRCH))
		return tr_err(TR_EDEAD,
			      "engine pid %d is gone without stopping (last heartbeat %.1f s ago): "
			      "the region is stale",
			      pid, age / 1e9);
	if (age > stale_ns)
		return tr_err(TR_ESTALE, "engine pid %d has not beaten for %.1f s (limit %.1f s)",
			      pid, age / 1e9, stale_ns / 1e9);
	return 0;
}

uint64_t tr_region_epoch(const struct tr_region *r)
{
	return tr_load_acquire(&r->sb->epoch); /* pairs with the writer's release store of epoch */
}

static const struct tr_ring_hdr *ring_hdr(const struct tr_region *r, unsigned kind)
{
	return (const struct tr_ring_hdr *)(r->base + r->sb->rings[kind].offset);
}

uint64_t tr_region_head(const struct tr_region *r, unsigned kind)
{
	if (kind >= TR_NKINDS)
		return 0;
	return tr_load_acquire(
	    &ring_hdr(r, kind)->head); /* pairs with the writer's release store */
}

uint64_t tr_region_counter(const struct tr_region *r, unsigned index)
{
	return index < TR_MAX_COUNTERS ? tr_load_relaxed(&r->sb->counters[index])
				       : 0; /* relaxed on both sides */
}

void tr_region_laps(const struct tr_region *r, unsigned kind, uint64_t *events, uint64_t *records)
{
	*events = *records = 0;
	if (r->ctl && kind < TR_NKINDS) {
		*events = tr_load_relaxed(&r->ctl->rings[kind].lap_events); /* statistics only */
		*records = tr_load_relaxed(&r->ctl->rings[kind].lapped_records);
	}
}

uint32_t tr_symbol_count(const struct tr_region *r)
{
	uint32_t n =
	    tr_load_acquire(&r->sb->symbol_count); /* pairs with the writer's release store */

	return n < r->sb->symbol_capacity ? n : r->sb->symbol_capacity;
}

static const struct tr_symbol *symtab(const struct tr_region *r)
{
	return (const struct tr_symbol *)(r->base + r->sb->symbols.offset);
}

int tr_symbol_get(const struct tr_region *r, uint32_t id, struct tr_symbol *out)
{
	if (id >= tr_symbol_count(r))
		return tr_err(ENOENT, "no symbol id %u", id);
	memcpy(out, &symtab(r)[id], sizeof *out);	      /* immutable once counted */
	out->status = tr_load_relaxed(&symtab(r)[id].status); /* single word, stored relaxed */
	out->name[TR_NAME_LEN - 1] = 0;
	return 0;
}

uint32_t tr_venue_count(const struct tr_region *r)
{
	uint32_t n =
	    tr_load_acquire(&r->sb->venue_count); /* pairs with the writer's release store */

	return n < TR_MAX_VENUES ? n : TR_MAX_VENUES;
}

const char *tr_venue_name(const struct tr_region *r, uint32_t id)
{
	if (id >= tr_venue_count(r) || r->sb->venues[id][TR_VENUE_LEN - 1])
		return "?";
	return r->sb->venues[id];
}

int tr_symbol_find(const struct tr_region *r, const char *venue, const char *name)
{
	uint32_t n = tr_symbol_count(r);
	const struct tr_symbol *t = symtab(r);

	for (uint32_t i = 0; i < n; i++)
		if (!strncasecmp(t[i].name, name, TR_NAME_LEN) &&
		    (!venue || !strcmp(tr_venue_name(r, t[i].venue_id), venue)))
			return (int)i;
	return tr_err(ENOENT, "no symbol %s%s%s", venue ? venue : "", venue ? ":" : "", name);
}

int tr_interval_index(const struct tr_region *r, uint32_t interval_s)
{
	for (uint32_t i = 0; i < r->sb->interval_count && i < TR_MAX_INTERVALS; i++)
		if (r->sb->intervals_s[i] == interval_s)
			return (int)i;
	return tr_err(ENOENT, "interval %us is not configured", interval_s);
}

/* Copy [off, off+len) of a seqlock-protected block whose lock word is *lock
 * (and, if valid is not NULL, its valid word) into out. 0 or -EAGAIN. */
static int seqlock_read(const uint64_t *lock, const uint32_t *valid_word, const uint8_t *base,
			size_t off, size_t len, uint32_t *valid, void *out)
{
	for (long tries = 0; tries < 10000000; tries++) {
		/* Pairs with the writer's release store that ends an update. */
		uint64_t v = tr_load_acquire(lock);
		if (v & 1) {
			tr_cpu_relax();
			continue;
		}
		if (valid_word)
			*valid = tr_load_relaxed(valid_word); /* checked by the lock re-load */
		tr_copy_from_shared(out, base + off, len);
		/* Orders the copy before the re-check; pairs with the writer's
		 * release fence after it made the lock odd. */
		tr_fence_acquire();
		if (tr_load_relaxed(lock) == v)
			return 0;
	}
	return -EAGAIN;
}

/* Copy part [off, off+len) of a symbol's latest entry under its seqlock. */
static int latest_read(const struct tr_region *r, uint32_t sym, size_t off, size_t len,
		       uint32_t bit, void *out)
{
	if (sym >= tr_symbol_count(r))
		return tr_err(ENOENT, "no symbol id %u", sym);
	const struct tr_latest *l =
	    (const struct tr_latest *)(r->base + r->sb->latest.offset) + sym;
	uint32_t valid = 0;
	if (seqlock_read(&l->lock, &l->valid, (const uint8_t *)l, off, len, &valid, out) < 0)
		return tr_err(
		    EAGAIN, "latest entry of symbol %u stays locked: engine died mid-update?", sym);
	return valid & bit ? 0 : -ENODATA;
}

int tr_latest_trade(const struct tr_region *r, uint32_t sym, struct tr_trade *out)
{
	return latest_read(r, sym, offsetof(struct tr_latest, trade), sizeof *out, TR_LATEST_TRADE,
			   out);
}

int tr_latest_quote(const struct tr_region *r, uint32_t sym, struct tr_quote *out)
{
	return latest_read(r, sym, offsetof(struct tr_latest, quote), sizeof *out, TR_LATEST_QUOTE,
			   out);
}

int tr_latest_stats(const struct tr_region *r, uint32_t sym, struct tr_stats24h *out)
{
	return latest_read(r, sym, offsetof(struct tr_latest, stats), sizeof *out, TR_LATEST_STATS,
			   out);
}

int tr_latest_candle(const struct tr_region *r, uint32_t sym, unsigned i, struct tr_candle *out)
{
	if (i >= TR_MAX_INTERVALS)
		return tr_err(EINVAL, "interval index %u", i);
	return latest_read(r, sym, offsetof(struct tr_latest, candles) + i * sizeof *out,
			   sizeof *out, TR_LATEST_CANDLE(i), out);
}

int tr_latest_analytics(const struct tr_region *r, uint32_t sym, struct tr_sym_analytics *out)
{
	return latest_read(r, sym, offsetof(struct tr_latest, analytics), sizeof *out,
			   TR_LATEST_ANALYTICS, out);
}

int tr_latest_indicators(const struct tr_region *r, uint32_t sym, unsigned i,
			 struct tr_indicators *out)
{
	if (i >= TR_MAX_INTERVALS)
		return tr_err(EINVAL, "interval index %u", i);
	int rc = latest_read(r, sym, offsetof(struct tr_latest, indicators) + i * sizeof *out,
			     sizeof *out, TR_LATEST_ANALYTICS, out);
	return rc == 0 && out->closes == 0 ? -ENODATA : rc;
}

int tr_movers(const struct tr_region *r, struct tr_movers *out)
{
	const struct tr_movers *m = (const struct tr_movers *)(r->base + r->sb->movers.offset);

	if (seqlock_read(&m->lock, NULL, (const uint8_t *)m, 0, sizeof *out, NULL, out) < 0)
		return tr_err(EAGAIN, "movers table stays locked: engine died mid-update?");
	out->lock = 0;
	for (int k = 0; k < TR_MOVERS_NLISTS; k++)
		if (out->count[k] > TR_MOVERS_MAX)
			out->count[k] = TR_MOVERS_MAX; /* never trust a count from the region */
	return out->ts_update ? 0 : -ENODATA;
}

int tr_cursor_init(struct tr_cursor *c, const struct tr_region *r, unsigned kind, enum tr_join join,
		   uint64_t seq)
{
	if (kind >= TR_NKINDS)
		return tr_err(EINVAL, "no ring kind %u", kind);
	memset(c, 0, sizeof *c);
	c->region = r;
	c->kind = kind;
	c->head = &ring_hdr(r, kind)->head;
	c->slots = (const uint8_t *)ring_hdr(r, kind) + sizeof(struct tr_ring_hdr);
	c->mask = r->sb->rings[kind].slot_count - 1;
	c->slot_size = r->sb->rings[kind].slot_size;
	c->epoch = tr_region_epoch(r);
	uint64_t head =
	    tr_load_acquire(c->head); /* pairs with the writer's release store of head */
	switch (join) {
	case TR_JOIN_TAIL:
		c->next = head + 1;
		break;
	case TR_JOIN_OLDEST:
		c->next = head > c->mask ? head - c->mask : 1;
		break;
	case TR_JOIN_SEQ:
		c->next = seq ? seq : 1;
		break;
	default:
		return tr_err(EINVAL, "bad join mode %d", (int)join);
	}
	return 0;
}

static int lapped(struct tr_cursor *c, uint64_t s)
{
	uint64_t cap = c->mask + 1;
	uint64_t head =
	    tr_load_acquire(c->head); /* pairs with the writer's release store of head */
	uint64_t resume;

	if (c->lap_policy == TR_LAP_TAIL)
		resume = head + 1;
	else
		resume = head >= cap ? head - cap + 1 + cap / 8 : 1;
	if (resume <= s)
		resume = s + 1; /* head lags the slot we saw: at least skip s */
	c->last_gap = resume - s;
	c->lapped_records += c->last_gap;
	c->lap_events++;
	c->next = resume;
	c->idle = 0;
	if (c->region->ctl) {
		struct tr_ctl_ring *cr = &c->region->ctl->rings[c->kind];

		__atomic_fetch_add(&cr->lap_events, 1,
				   __ATOMIC_RELAXED); /* statistics; read relaxed by stat */
		__atomic_fetch_add(&cr->lapped_records, c->last_gap, __ATOMIC_RELAXED);
	}
	return TR_POLL_LAPPED;
}

/* Nothing at c->next: every 256th time, look at epoch and head. */
static int idle(struct tr_cursor *c)
{
	if (++c->idle & 255)
		return TR_POLL_EMPTY;
	uint64_t e = tr_region_epoch(c->region);
	uint64_t head =
	    tr_load_acquire(c->head); /* pairs with the writer's release store of head */

	if (e != c->epoch) {
		c->epoch = e;
		if (head + 1 < c->next)
			c->next =
			    head + 1; /* the new engine went back in sequence: rejoin its tail */
		return TR_POLL_EPOCH;
	}
	/* A slot still showing 0 or an older seq while head is a ring ahead:
	 * the writer is (or died) rewriting it; we were lapped. */
	if (head >= c->next + c->mask + 1)
		return lapped(c, c->next);
	return TR_POLL_EMPTY;
}

int tr_poll(struct tr_cursor *c, void *out)
{
	uint64_t s = c->next;
	const uint64_t *slot = (const uint64_t *)(c->slots + (s & c->mask) * c->slot_size);
	/* Pairs with the writer's release store of seq after the payload. */
	uint64_t v = tr_load_acquire(slot);

	if (v == s) {
		tr_copy_from_shared((uint64_t *)out + 1, slot + 1, c->slot_size - 8);
		/* Orders the payload loads before the re-check; pairs with the
		 * writer's release fence after its busy mark. */
		tr_fence_acquire();
		if (tr_load_relaxed(slot) == s) {
			*(uint64_t *)out = s;
			c->next = s + 1;
			c->delivered++;
			c->idle = 0;
			return TR_POLL_RECORD;
		}
		return lapped(c, s); /* overwritten while we copied */
	}
	if (v > s)
		return lapped(c, s);
	return idle(c);
}

static void ctl_leave(uint32_t *w)
{
	uint32_t v = tr_load_relaxed(w);

	/* Never below zero: the writer may have reset the count on restart. */
	while (v &&
	       !__atomic_compare_exchange_n(w, &v, v - 1, 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
		;
}

int tr_wait(struct tr_cursor *c, void *out, enum tr_wait_mode mode, int64_t timeout_ns)
{
	int64_t deadline = timeout_ns < 0 ? INT64_MAX : now_mono() + timeout_ns;
	int rc;

	for (unsigned spin = 0;; spin++) {
		if ((rc = tr_poll(c, out)) != TR_POLL_EMPTY)
			return rc;
		if ((spin & 1023) == 1023 && now_mono() >= deadline)
			return TR_POLL_EMPTY;
		if (mode == TR_WAIT_SPIN || spin < 2000) {
			tr_cpu_relax();
			continue;
		}
		if (mode == TR_WAIT_YIELD) {
			sched_yield();
			continue;
		}
		int64_t left = deadline - now_mono();
		if (left <= 0)
			return TR_POLL_EMPTY;
		if (!c->region->ctl) {
			struct timespec ts = {0, left < 50000 ? left : 50000};
			if (nanosleep(&ts, NULL) < 0 && errno == EINTR)
				return TR_POLL_EMPTY;
			continue;
		}
		uint32_t *waiters = &c->region->ctl->rings[c->kind].waiters;
		int intr = 0;
		/* Register before the last look; pairs with the writer's seq_cst
		 * fence between its head store and its waiters load. */
		tr_fetch_add(waiters, 1);
		tr_fence_seq_cst();
		uint32_t seen =
		    (uint32_t)tr_load_relaxed(c->head); /* the futex word: head's low half */
		rc = tr_poll(c, out);
		if (rc == TR_POLL_EMPTY) {
			/* Wake at least every 100 ms to notice a dead engine or a
			 * lap the futex cannot tell us about. */
			struct timespec ts = {0, left < 100000000 ? left : 100000000};
			if (syscall(SYS_futex, (const uint32_t *)c->head, FUTEX_WAIT, seen, &ts,
				    NULL, 0) < 0 &&
			    errno == EINTR)
				intr = 1;
		}
		ctl_leave(waiters);
		if (rc != TR_POLL_EMPTY || intr)
			return rc; /* a signal returns early, so the caller can act on it */
		c->idle |= 255;	   /* next empty poll checks epoch and head */
	}
}
