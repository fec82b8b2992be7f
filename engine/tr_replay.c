/* tr_replay.c - merge capture files by receive time into the engine. */
#define _GNU_SOURCE
#include "tr_replay.h"

#include "tr_capfile.h"
#include "tr_err.h"
#include "tr_writer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct src {
	struct tr_capfile *r;
	unsigned venue;
	int state; /* 1 frame ready, 0 EOF, -EAGAIN waiting */
	int64_t ts;
	const char *frame;
	size_t len;
};

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

const char *tr_replay_venue(const char *path)
{
	return strstr(path, "usdm") || strstr(path, "fapi") || strstr(path, "futures")
		   ? "binance-usdm"
		   : "binance";
}

/* Fetch the next frame of s unless one is waiting. */
static int fill(struct src *s)
{
	if (s->state == 1 || s->state == 0)
		return s->state;
	s->state = tr_capfile_next(s->r, &s->ts, &s->frame, &s->len);
	return s->state;
}

static void progress(const struct tr_replay_stats *st, struct src *srcs, unsigned n, int64_t t0,
		     int final)
{
	double done = 0, secs = (mono_ns() - t0) / 1e9;

	for (unsigned i = 0; i < n; i++) {
		uint64_t d, t;

		tr_capfile_progress(srcs[i].r, &d, &t);
		done += t ? (double)d / (double)t / n : 0;
	}
	double rate = secs > 0 ? st->records / secs : 0;
	double eta = done > 0.001 ? secs * (1 - done) / done : 0;
	fprintf(stderr,
		"\rreplay: %llu frames, %llu records, %.0f records/s, %3.0f%%, ETA %.0f s   %s",
		(unsigned long long)st->frames, (unsigned long long)st->records, rate, done * 100,
		eta, final ? "\n" : "");
}

int tr_replay_run(struct tr_engine *e, struct tr_uring *u, const struct tr_config *cfg,
		  volatile sig_atomic_t *stop, struct tr_replay_stats *st)
{
	struct src *srcs = calloc(cfg->nreplay, sizeof *srcs);
	unsigned n = 0;
	int rc = 0;
	int64_t t0 = mono_ns(), first_ts = 0, last_tick = 0, last_progress = 0;
	bool tty = cfg->replay_progress && isatty(2);

	memset(st, 0, sizeof *st);
	if (!srcs)
		return tr_err(ENOMEM, "out of memory");
	for (; n < cfg->nreplay; n++) {
		int v = tr_engine_venue(e, tr_replay_venue(cfg->replay[n]));

		if (v < 0 || (rc = tr_capfile_open(&srcs[n].r, u, cfg->replay[n], NULL)) < 0) {
			rc = tr_err_ctx(v < 0 ? v : rc, "replay %s", cfg->replay[n]);
			goto out;
		}
		srcs[n].venue = (unsigned)v;
		srcs[n].state = -EAGAIN;
	}
	for (uint64_t iter = 0; !*stop; iter++) {
		struct src *best = NULL;
		bool waiting = false;

		for (unsigned i = 0; i < n; i++) {
			int r = fill(&srcs[i]);

			if (r == -EAGAIN) {
				waiting = true;
				continue;
			}
			if (r < 0) {
				rc = tr_err_ctx(r, "replay %s", cfg->replay[i]);
				goto out;
			}
			if (r == 1 && (!best || srcs[i].ts < best->ts))
				best = &srcs[i];
		}
		if (waiting) {
			/* every file must have its next frame before we can merge */
			tr_engine_commit(e);
			tr_uring_wait(u, 1000000);
			continue;
		}
		if (!best)
			break; /* all at EOF */
		if (!first_ts)
			first_ts = best->ts;
		if (cfg->replay_speed > 0) {
			int64_t due = t0 + (int64_t)((best->ts - first_ts) / cfg->replay_speed);
			int64_t now = mono_ns();
			if (due - now > 200000) {
				tr_engine_commit(e);
				struct timespec ts = {0,
						      due - now > 10000000 ? 10000000 : due - now};
				nanosleep(&ts, NULL);
				tr_uring_reap(u);
				continue;
			}
		}
		st->records += (uint64_t)tr_engine_frame(e, best->venue, TR_SRC_REPLAY, best->ts,
							 best->frame, best->len);
		st->frames++;
		best->state = -EAGAIN;
		if ((iter & 255) == 0) {
			int64_t now = mono_ns();

			tr_engine_commit(e);
			tr_uring_reap(u);
			if (now - last_tick > 50000000) {
				tr_engine_tick(e);
				last_tick = now;
			}
			if (tty && now - last_progress > 250000000) {
				progress(st, srcs, n, t0, 0);
				last_progress = now;
			}
		}
	}
	tr_engine_commit(e);
	if (tty)
		progress(st, srcs, n, t0, 1);
out:
	for (unsigned i = 0; i < n; i++) {
		st->bad_lines += tr_capfile_stats(srcs[i].r)->bad_lines;
		tr_capfile_close(srcs[i].r);
	}
	st->seconds = (mono_ns() - t0) / 1e9;
	free(srcs);
	return rc;
}
