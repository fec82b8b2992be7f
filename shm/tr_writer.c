/* tr_writer.c - create, reopen and publish into the region (tr_writer.h).
 *
 * Opening order matters for readers that race with us. The .ctl file is
 * created and flock()ed first: it is the instance lock. A new region is built
 * under a temporary name and rename()d into place only when its superblock is
 * complete, so a reader never maps a half-made file. A reopened region keeps
 * its contents; the epoch is bumped last, after pid, heartbeat and state, so
 * a reader that sees the new epoch sees a running engine.
 */
#define _GNU_SOURCE
#include "tr_writer.h"

#include "tr_err.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int64_t tr_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void tr_writer_config_default(struct tr_writer_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	tr_geometry_default(&cfg->geometry);
}

static int valid_instance(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= TR_NAME_LEN || s[0] == '.')
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' || *s == '.'))
			return 0;
	return 1;
}

static const char *default_dir(const char *dir)
{
	const char *env = getenv("TICKRING_DIR");

	return dir ? dir : env && *env ? env : "/dev/shm";
}

/* Map an existing region's superblock and decide whether it can be kept. */
static int region_matches(int fd, const struct tr_superblock *want)
{
	struct stat st;
	struct tr_superblock *sb;
	int ok;

	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size < sizeof *sb)
		return 0;
	sb = mmap(NULL, sizeof *sb, PROT_READ, MAP_SHARED, fd, 0);
	if (sb == MAP_FAILED)
		return 0;
	ok = tr_layout_check(sb, (uint64_t)st.st_size) == 0 &&
	     sb->region_size == want->region_size &&
	     !memcmp(&sb->symbols, &want->symbols, sizeof sb->symbols) &&
	     !memcmp(&sb->latest, &want->latest, sizeof sb->latest) &&
	     !memcmp(sb->rings, want->rings, sizeof sb->rings) &&
	     sb->interval_count == want->interval_count &&
	     !memcmp(sb->intervals_s, want->intervals_s, sizeof sb->intervals_s);
	munmap(sb, sizeof *sb);
	return ok;
}

/* Tell readers of a region we are about to replace that it is finished. */
static void retire_region(int fd)
{
	struct stat st;
	struct tr_superblock *sb;

	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size < sizeof *sb)
		return;
	sb = mmap(NULL, sizeof *sb, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (sb == MAP_FAILED)
		return;
	if (sb->magic == TR_MAGIC)
		tr_store_release(&sb->state,
				 TR_STATE_STOPPED); /* pairs with reader liveness acquire load */
	munmap(sb, sizeof *sb);
}

static int check_space(const char *dir, uint64_t need)
{
	struct statvfs vfs;

	if (statvfs(dir, &vfs) < 0)
		return tr_err(errno, "statvfs %s: %s", dir, strerror(errno));
	uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	if (avail < need)
		return tr_err(ENOSPC,
			      "%s has %llu MiB free, the region needs %llu MiB: lower the ring "
			      "capacities or grow %s",
			      dir, (unsigned long long)(avail >> 20),
			      (unsigned long long)(need >> 20), dir);
	return 0;
}

/* Build a fresh region at tmp, then rename it to path. Returns fd or -err. */
static int create_region(const char *dir, const char *path, const struct tr_superblock *plan,
			 unsigned mode)
{
	char tmp[300];
	int fd, err;
	struct tr_superblock *sb;

	if ((err = check_space(dir, plan->region_size)) < 0)
		return err;
	snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
	fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return tr_err(errno, "create %s: %s", tmp, strerror(errno));
	if (fchmod(fd, mode) < 0 || ftruncate(fd, (off_t)plan->region_size) < 0) {
		err = tr_err(errno, "size %s: %s", tmp, strerror(errno));
		goto fail;
	}
	/* Reserve every page now: ENOSPC here beats SIGBUS on a later store. */
	if ((err = posix_fallocate(fd, 0, (off_t)plan->region_size)) != 0) {
		err = tr_err(err, "reserve %llu bytes in %s: %s",
			     (unsigned long long)plan->region_size, dir, strerror(err));
		goto fail;
	}
	sb = mmap(NULL, sizeof *sb, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (sb == MAP_FAILED) {
		err = tr_err(errno, "mmap %s: %s", tmp, strerror(errno));
		goto fail;
	}
	memcpy(sb, plan, sizeof *sb);
	sb->state = TR_STATE_INIT;
	sb->created_ns = tr_now_ns();
	munmap(sb, sizeof *sb);
	if (rename(tmp, path) < 0) {
		err = tr_err(errno, "rename %s to %s: %s", tmp, path, strerror(errno));
		goto fail;
	}
	return fd;
fail:
	unlink(tmp);
	close(fd);
	return err;
}

static int open_ctl(struct tr_writer *w, unsigned mode)
{
	struct stat st;

	w->ctl_fd = open(w->ctl_path, O_RDWR | O_CREAT | O_CLOEXEC, mode);
	if (w->ctl_fd < 0)
		return tr_err(errno, "open %s: %s", w->ctl_path, strerror(errno));
	if (flock(w->ctl_fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			return tr_err(EBUSY,
				      "instance is owned by another running engine (lock on %s)",
				      w->ctl_path);
		return tr_err(errno, "flock %s: %s", w->ctl_path, strerror(errno));
	}
	if (fstat(w->ctl_fd, &st) < 0 || fchmod(w->ctl_fd, mode) < 0 ||
	    ((uint64_t)st.st_size != sizeof(struct tr_ctl) &&
	     ftruncate(w->ctl_fd, sizeof(struct tr_ctl)) < 0))
		return tr_err(errno, "size %s: %s", w->ctl_path, strerror(errno));
	w->ctl =
	    mmap(NULL, sizeof(struct tr_ctl), PROT_READ | PROT_WRITE, MAP_SHARED, w->ctl_fd, 0);
	if (w->ctl == MAP_FAILED) {
		w->ctl = NULL;
		return tr_err(errno, "mmap %s: %s", w->ctl_path, strerror(errno));
	}
	if (w->ctl->magic != TR_CTL_MAGIC || w->ctl->abi_version != TR_ABI_VERSION) {
		memset(w->ctl, 0, sizeof *w->ctl);
		w->ctl->abi_version = TR_ABI_VERSION;
		tr_store_release(&w->ctl->magic,
				 TR_CTL_MAGIC); /* pairs with reader's acquire load of magic */
	}
	/* Waiter counts of readers that died while blocked would cost a futex
	 * syscall per commit forever; start from zero (readers never decrement
	 * below zero, and re-register after their bounded wait). */
	for (int k = 0; k < TR_NKINDS; k++)
		tr_store_relaxed(&w->ctl->rings[k].waiters, 0); /* read by tr_writer_commit */
	return 0;
}

int tr_writer_open(struct tr_writer **out, const struct tr_writer_config *cfg)
{
	const char *dir = default_dir(cfg->dir);
	const char *inst = cfg->instance ? cfg->instance : "default";
	unsigned mode = cfg->mode ? cfg->mode : 0640,
		 ctl_mode = cfg->ctl_mode ? cfg->ctl_mode : 0660;
	struct tr_superblock plan;
	struct tr_writer *w;
	int err, fd;

	if (!valid_instance(inst))
		return tr_err(EINVAL, "instance name '%s': use 1-31 of [A-Za-z0-9_.-]", inst);
	memset(&plan, 0, sizeof plan);
	if (!tr_layout_plan(&cfg->geometry, &plan))
		return tr_err_ctx(EINVAL, "instance %s", inst);
	snprintf(plan.instance, sizeof plan.instance, "%s", inst);

	w = calloc(1, sizeof *w);
	if (!w)
		return tr_err(ENOMEM, "out of memory");
	w->fd = w->ctl_fd = -1;
	if ((size_t)snprintf(w->path, sizeof w->path, "%s/tickring.%s", dir, inst) >=
	    sizeof w->path) {
		err = tr_err(ENAMETOOLONG, "region directory name too long: %s", dir);
		goto fail;
	}
	snprintf(w->ctl_path, sizeof w->ctl_path, "%s.ctl", w->path);
	if ((err = open_ctl(w, ctl_mode)) < 0)
		goto fail;

	fd = open(w->path, O_RDWR | O_CLOEXEC);
	if (fd >= 0 && region_matches(fd, &plan)) {
		w->reopened = true;
	} else {
		if (fd >= 0) {
			retire_region(fd);
			close(fd);
			unlink(w->path);
		} else if (errno != ENOENT) {
			err = tr_err(errno, "open %s: %s", w->path, strerror(errno));
			goto fail;
		}
		fd = create_region(dir, w->path, &plan, mode);
		if (fd < 0) {
			err = fd;
			goto fail;
		}
	}
	w->fd = fd;
	w->size = plan.region_size;
	w->base = mmap(NULL, w->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
	if (w->base == MAP_FAILED) {
		w->base = NULL;
		err = tr_err(errno, "mmap %s (%llu bytes): %s", w->path,
			     (unsigned long long)w->size, strerror(errno));
		goto fail;
	}
	w->sb = (struct tr_superblock *)w->base;
	for (unsigned k = 0; k < TR_NKINDS; k++) {
		struct tr_wring *r = &w->rings[k];
		const struct tr_ring_desc *d = &w->sb->rings[k];

		r->hdr = (struct tr_ring_hdr *)(w->base + d->offset);
		r->slots = w->base + d->offset + sizeof(struct tr_ring_hdr);
		r->mask = d->slot_count - 1;
		r->slot_size = d->slot_size;
		r->next = tr_load_relaxed(&r->hdr->head) + 1; /* our own earlier store */
		r->committed = r->next - 1;
		tr_store_relaxed(&r->hdr->base_seq, r->next); /* read by stat */
	}
	int64_t now = tr_now_ns();
	tr_store_relaxed(&w->sb->engine_pid, (int32_t)getpid()); /* published by the epoch store */
	tr_store_relaxed(&w->sb->heartbeat_ns, now);
	tr_store_relaxed(&w->sb->start_ns, now);
	tr_store_release(&w->sb->state, TR_STATE_RUNNING); /* pairs with reader liveness load */
	/* Pairs with the reader's acquire load of epoch: it then sees the new
	 * pid, heartbeat and state. */
	tr_store_release(&w->sb->epoch, tr_load_relaxed(&w->sb->epoch) + 1);
	*out = w;
	return 0;
fail:
	tr_writer_close(w);
	return err;
}

void tr_writer_close(struct tr_writer *w)
{
	if (!w)
		return;
	if (w->sb) {
		tr_writer_commit(w);
		tr_store_relaxed(&w->sb->heartbeat_ns, tr_now_ns());
		tr_store_release(&w->sb->state,
				 TR_STATE_STOPPED); /* pairs with reader liveness load */
		/* Wake every blocked reader so it can notice the stop. */
		for (unsigned k = 0; k < TR_NKINDS; k++)
			syscall(SYS_futex, (uint32_t *)&w->rings[k].hdr->head, FUTEX_WAKE, INT_MAX,
				NULL, NULL, 0);
	}
	if (w->base)
		munmap(w->base, w->size);
	if (w->ctl)
		munmap(w->ctl, sizeof *w->ctl);
	if (w->fd >= 0)
		close(w->fd);
	if (w->ctl_fd >= 0)
		close(w->ctl_fd); /* releases the instance lock */
	free(w);
}

int tr_writer_unlink(const char *dir, const char *inst)
{
	char path[300], ctl[310];
	int err = 0;

	dir = default_dir(dir);
	snprintf(path, sizeof path, "%s/tickring.%s", dir, inst ? inst : "default");
	snprintf(ctl, sizeof ctl, "%s.ctl", path);
	if (unlink(path) < 0 && errno != ENOENT)
		err = -errno;
	if (unlink(ctl) < 0 && errno != ENOENT)
		err = -errno;
	return err;
}

void tr_writer_set_next(struct tr_writer *w, unsigned kind, uint64_t next)
{
	struct tr_wring *r = &w->rings[kind];
	uint64_t head = tr_load_relaxed(&r->hdr->head); /* our own store */

	if (next == 0)
		next = 1;
	if (next <= head) {
		/* Sequence goes back: old records would look newer than the ones
		 * to come. Mark every slot unwritten first. */
		for (uint64_t i = 0; i <= r->mask; i++)
			tr_store_relaxed((uint64_t *)(r->slots + i * r->slot_size),
					 0); /* ordered by the head store below */
	}
	r->next = next;
	r->committed = next - 1;
	tr_store_relaxed(&r->hdr->base_seq, next); /* read by stat */
	/* Pairs with the reader's acquire load of head when it checks the epoch. */
	tr_store_release(&r->hdr->head, next - 1);
}

void tr_writer_commit(struct tr_writer *w)
{
	for (unsigned k = 0; k < TR_NKINDS; k++) {
		struct tr_wring *r = &w->rings[k];

		if (r->next - 1 == r->committed)
			continue;
		/* statistics for stat; single writer, read relaxed */
		tr_store_relaxed(&r->hdr->published, tr_load_relaxed(&r->hdr->published) +
							 (r->next - 1 - r->committed));
		r->committed = r->next - 1;
		/* Orders the head store before the waiters load; pairs with the
		 * reader's seq_cst increment of waiters before it re-reads head. */
		tr_fence_seq_cst();
		if (w->ctl && tr_load_relaxed(&w->ctl->rings[k].waiters)) {
			syscall(SYS_futex, (uint32_t *)&r->hdr->head, FUTEX_WAKE, INT_MAX, NULL,
				NULL, 0);
			tr_writer_counter_add(w, TR_CTR_FUTEX_WAKES, 1);
		}
	}
}

int tr_writer_venue(struct tr_writer *w, const char *name)
{
	struct tr_superblock *sb = w->sb;
	uint32_t n = tr_load_relaxed(&sb->venue_count); /* our own store */

	if (!*name || strlen(name) >= TR_VENUE_LEN)
		return tr_err(EINVAL, "venue name '%s': 1-%d characters", name, TR_VENUE_LEN - 1);
	for (const char *p = name; *p; p++)
		if (*p <= ' ' || *p > '~')
			return tr_err(EINVAL, "venue name '%s': printable characters only", name);
	for (uint32_t i = 0; i < n; i++)
		if (!strcmp(sb->venues[i], name))
			return (int)i;
	if (n >= TR_MAX_VENUES)
		return tr_err(ENOSPC, "venue table full (%d)", TR_MAX_VENUES);
	snprintf(sb->venues[n], TR_VENUE_LEN, "%s", name);
	/* Publishes the name; pairs with the reader's acquire load of venue_count. */
	tr_store_release(&sb->venue_count, n + 1);
	return (int)n;
}

int tr_writer_symbol(struct tr_writer *w, unsigned venue_id, const char *name)
{
	struct tr_superblock *sb = w->sb;
	struct tr_symbol *tab = (struct tr_symbol *)(w->base + sb->symbols.offset);
	uint32_t n = tr_load_relaxed(&sb->symbol_count); /* our own store */

	if (!*name || strlen(name) >= TR_NAME_LEN)
		return tr_err(EINVAL, "symbol name '%s': 1-%d characters", name, TR_NAME_LEN - 1);
	for (const char *p = name; *p; p++)
		if (*p <= ' ' || *p > '~')
			return tr_err(EINVAL, "symbol name '%s': printable characters only", name);
	if (venue_id >= tr_load_relaxed(&sb->venue_count))
		return tr_err(EINVAL, "venue id %u not registered", venue_id);
	for (uint32_t i = 0; i < n; i++)
		if (tab[i].venue_id == venue_id && !strcmp(tab[i].name, name))
			return (int)i;
	if (n >= sb->symbol_capacity)
		return tr_err(ENOSPC, "symbol table full (%u): raise symbol capacity",
			      sb->symbol_capacity);
	memset(&tab[n], 0, sizeof tab[n]);
	tab[n].id = n;
	tab[n].venue_id = (uint16_t)venue_id;
	snprintf(tab[n].name, sizeof tab[n].name, "%s", name);
	struct tr_latest *l = (struct tr_latest *)(w->base + sb->latest.offset) + n;
	tr_store_relaxed(&l->symbol_id, n); /* published by the symbol_count store */
	/* Publishes the entry; pairs with the reader's acquire load of symbol_count. */
	tr_store_release(&sb->symbol_count, n + 1);
	return (int)n;
}

void tr_writer_symbol_status(struct tr_writer *w, unsigned id, unsigned status)
{
	struct tr_symbol *tab = (struct tr_symbol *)(w->base + w->sb->symbols.offset);

	if (id < tr_load_relaxed(&w->sb->symbol_count))
		tr_store_relaxed(&tab[id].status, status); /* single word; readers load relaxed */
}

struct tr_latest *tr_latest_begin(struct tr_writer *w, unsigned id)
{
	struct tr_latest *l = (struct tr_latest *)(w->base + w->sb->latest.offset) + id;
	uint64_t v = tr_load_relaxed(&l->lock); /* our own store */

	tr_store_relaxed(&l->lock, v + 1); /* odd: update in progress */
	/* Orders the odd lock before the part stores; pairs with the reader's
	 * acquire fence before it re-checks the lock. */
	tr_fence_release();
	return l;
}

void tr_latest_end(struct tr_latest *l)
{
	/* Even again: publishes the parts; pairs with the reader's acquire load
	 * of lock at the start of its copy. */
	tr_store_release(&l->lock, tr_load_relaxed(&l->lock) + 1);
}

struct tr_movers *tr_movers_begin(struct tr_writer *w)
{
	struct tr_movers *m = (struct tr_movers *)(w->base + w->sb->movers.offset);
	uint64_t v = tr_load_relaxed(&m->lock); /* our own store */

	tr_store_relaxed(&m->lock, v + 1); /* odd: update in progress */
	/* Orders the odd lock before the table stores; pairs with the reader's
	 * acquire fence before it re-checks the lock. */
	tr_fence_release();
	return m;
}

void tr_movers_end(struct tr_movers *m)
{
	/* Even again: publishes the table; pairs with the reader's acquire load
	 * of lock at the start of its copy. */
	tr_store_release(&m->lock, tr_load_relaxed(&m->lock) + 1);
}

void tr_writer_heartbeat(struct tr_writer *w)
{
	/* Pairs with the relaxed heartbeat load in reader liveness checks. */
	tr_store_relaxed(&w->sb->heartbeat_ns, tr_now_ns());
}
