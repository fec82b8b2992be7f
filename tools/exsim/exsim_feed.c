/* exsim_feed.c - the frame ring: pacing, backpressure, hold and rewind.
 *
 * One ring of frames is shared by every client. Three positions move forward
 * through it: lo (oldest frame kept), pub (frames below it are visible to
 * clients) and hi (frames below it were taken from the source). Each client
 * has a cursor in [lo, pub] and sends the frames it subscribed to.
 *
 * Pacing: a frame with source time ts is due at base_ns + (ts - base_ts) /
 * speed; the feed takes it from the source when due and publishes it
 * --delay-ms later. In --speed max mode frames are taken as soon as the ring
 * has room, and room only appears when the slowest subscribed client has
 * sent past the oldest frame: the file reader waits for the socket, nothing
 * is dropped and nothing grows. In paced mode the exchange does not wait: a
 * client so slow that it holds the oldest frame of a full ring when the next
 * frame is due is disconnected, as Binance does with slow consumers.
 *
 * Hold (--hold, implied by --drop-every): while no client is subscribed the
 * replay clock stops, so frames are not published to nobody between a drop
 * and the reconnect. Rewind (after each --drop-every drop): pub steps back
 * to the oldest frame a dropped client had not been sent yet (its cursor;
 * what was already written reaches the client before the FIN, since the
 * drop is a shutdown(2)), then further over --rewind-ms of source time, as
 * far as the ring still holds frames. Those frames are published again to
 * whoever subscribes next: the reconnecting client sees duplicates (the
 * --rewind-ms part, and any frame cut in half by the drop), never a gap.
 */
#define _GNU_SOURCE
#include "exsim.h"

#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

#define PUMP_BUDGET 8192 /* frames taken per pump before yielding to the sockets */

static struct {
	lws_sorted_usec_list_t sul; /* first: the callback casts back */
	struct exsim *ex;
} pump_timer;

static void pump_cb(lws_sorted_usec_list_t *sul)
{
	(void)sul;
	exsim_feed_pump(pump_timer.ex);
}

static void schedule(struct exsim *ex, int64_t delay_ns)
{
	if (delay_ns < 0)
		delay_ns = 0;
	lws_sul_schedule(ex->ctx, 0, &pump_timer.sul, pump_cb, (lws_usec_t)(delay_ns / 1000));
}

int exsim_feed_init(struct exsim *ex)
{
	struct exsim_ring *r = &ex->ring;

	r->slot = calloc(ex->cfg.ring_slots, sizeof *r->slot);
	if (!r->slot)
		return -1;
	r->mask = ex->cfg.ring_slots - 1;
	pump_timer.ex = ex;
	return 0;
}

void exsim_feed_free(struct exsim *ex)
{
	if (!ex->ring.slot)
		return;
	for (uint64_t i = 0; i <= ex->ring.mask; i++)
		free(ex->ring.slot[i].buf);
	free(ex->ring.slot);
	ex->ring.slot = NULL;
}

/* Source time that corresponds to now on the replay clock. */
static int64_t clock_ts(struct exsim *ex, int64_t now)
{
	if (ex->cfg.speed <= 0)
		return ex->base_ts;
	return ex->base_ts + (int64_t)((double)(now - ex->base_ns) * ex->cfg.speed);
}

void exsim_feed_hold(struct exsim *ex, bool hold)
{
	int64_t now = exsim_now();

	if (!hold && !ex->started) {
		int64_t ts = 0;

		ex->started = true;
		ex->held = false;
		ex->start_ns = ex->last_progress_ns = now;
		if (ex->src->peek(ex->src, &ts) > 0)
			ex->base_ts = ts;
		ex->base_ns = now;
		exsim_log("feed: started");
		exsim_feed_pump(ex);
		return;
	}
	if (!ex->started || hold == ex->held)
		return;
	if (hold) {
		ex->held_ts = clock_ts(ex, now);
		ex->held = true;
		lws_sul_cancel(&pump_timer.sul);
		exsim_log("feed: held (no subscribed client) at frame %llu",
			  (unsigned long long)ex->ring.pub);
	} else {
		ex->base_ts = ex->held_ts;
		ex->base_ns = now;
		ex->held = false;
		exsim_log("feed: resumed at frame %llu", (unsigned long long)ex->ring.pub);
		exsim_feed_pump(ex);
	}
}

void exsim_feed_rewind(struct exsim *ex, uint64_t from)
{
	struct exsim_ring *r = &ex->ring;
	int64_t span = (int64_t)ex->cfg.rewind_ms * 1000000;

	if (from > r->pub)
		from = r->pub;
	if (from < r->lo)
		from = r->lo;
	uint64_t s = from;
	if (s > r->lo && span > 0) {
		int64_t edge = exsim_at(r, s - 1)->ts - span;

		while (s > r->lo && exsim_at(r, s - 1)->ts >= edge)
			s--;
	}
	exsim_log("feed: rewind %llu frames: %llu never sent, %llu again (%.3f s of source "
		  "time)%s",
		  (unsigned long long)(r->pub - s), (unsigned long long)(r->pub - from),
		  (unsigned long long)(from - s),
		  s < from ? (double)(exsim_at(r, from - 1)->ts - exsim_at(r, s)->ts) / 1e9 : 0.0,
		  s == r->lo && r->lo > 0 ? ", limited by the ring size" : "");
	r->pub = s;
	exsim_server_clamp(ex);
}

/* Room for one more frame: reuse the oldest slot once nobody needs it. */
static bool make_room(struct exsim *ex, bool max)
{
	struct exsim_ring *r = &ex->ring;

	if (r->hi - r->lo <= r->mask)
		return true;
	if (r->lo >= r->pub)
		return false; /* the whole ring is waiting for --delay-ms */
	if (r->lo < exsim_min_cursor(ex)) {
		r->lo++;
		return true;
	}
	if (max)
		return false; /* backpressure: a client write will pump again */
	exsim_server_evict_below(ex, r->lo + 1);
	r->lo++;
	return true;
}

static void mark_faults(struct exsim *ex, struct exsim_frame *f)
{
	if (!(f->flags & EXSIM_F_TRADE))
		return;
	ex->trades_seen++;
	if (ex->cfg.skip_ids_every > 0 && ex->trades_seen % (uint64_t)ex->cfg.skip_ids_every == 0)
		f->flags |= EXSIM_F_SKIP;
	else if (ex->cfg.dup_ids_every > 0 &&
		 ex->trades_seen % (uint64_t)ex->cfg.dup_ids_every == 0)
		f->flags |= EXSIM_F_DUP;
}

static void check_end(struct exsim *ex, int64_t now)
{
	struct exsim_ring *r = &ex->ring;

	if (!ex->src_done || r->pub != r->hi)
		return;
	if (!ex->done_logged) {
		ex->done_logged = true;
		exsim_log(
		    "feed: end of data: %llu frames published, %llu loops, %llu lines skipped",
		    (unsigned long long)ex->published, (unsigned long long)ex->loops,
		    (unsigned long long)ex->src->lines_skipped);
	}
	if (!ex->cfg.exit_at_end || ex->exiting)
		return;
	if (!exsim_server_drained(ex)) {
		ex->end_ns = 0;
		schedule(ex, 100000000);
		return;
	}
	if (!ex->end_ns) {
		ex->end_ns = now;
		exsim_log("feed: all clients drained; exiting in %.1f s", ex->cfg.grace);
	}
	if (now - ex->end_ns >= (int64_t)(ex->cfg.grace * 1e9)) {
		ex->exiting = true;
		exsim_log("feed: done, closing");
		exsim_server_close_all(ex, false, "end of data");
		lws_cancel_service(ex->ctx);
		return;
	}
	schedule(ex, 100000000);
}

static void progress(struct exsim *ex, int64_t now)
{
	double dt = (double)(now - ex->last_progress_ns) / 1e9;

	if (ex->cfg.progress_every <= 0 || dt < ex->cfg.progress_every)
		return;
	exsim_log(
	    "progress: published %llu frames (%.0f/s), sent %llu, %u clients, frame %llu",
	    (unsigned long long)ex->published, (double)(ex->published - ex->last_progress_pub) / dt,
	    (unsigned long long)ex->sent_frames, ex->nclients, (unsigned long long)ex->ring.pub);
	ex->last_progress_ns = now;
	ex->last_progress_pub = ex->published;
}

void exsim_feed_pump(struct exsim *ex)
{
	struct exsim_ring *r = &ex->ring;
	bool max = ex->cfg.speed <= 0;
	int64_t now = exsim_now(), wake = -1;
	int budget = PUMP_BUDGET;

	if (!ex->started || ex->held || ex->exiting)
		return;
	while (!ex->src_done && budget > 0) {
		int64_t ts;
		int rc = ex->src->peek(ex->src, &ts);

		if (rc == 0 && ex->cfg.loop) {
			ex->loops++;
			exsim_log("feed: end of data, looping (pass %llu)",
				  (unsigned long long)ex->loops + 1);
			rc = ex->src->restart(ex->src);
			if (rc == 0)
				rc = ex->src->peek(ex->src, &ts);
		}
		if (rc <= 0) {
			if (rc < 0)
				exsim_log("feed: source error %d, stopping", rc);
			ex->src_done = true;
			break;
		}
		if (!max) {
			int64_t due =
			    ex->base_ns + (int64_t)((double)(ts - ex->base_ts) / ex->cfg.speed);

			if (due > now) {
				wake = due;
				break;
			}
		}
		if (!make_room(ex, max))
			break;
		struct exsim_frame *f = exsim_at(r, r->hi);
		rc = ex->src->take(ex->src, f);
		if (rc < 0) {
			exsim_log("feed: source error %d, stopping", rc);
			ex->src_done = true;
			break;
		}
		f->taken_ns = now;
		mark_faults(ex, f);
		r->hi++;
		budget--;
	}

	int64_t delay = (int64_t)ex->cfg.delay_ms * 1000000;
	uint64_t before = r->pub;
	while (r->pub < r->hi) {
		struct exsim_frame *f = exsim_at(r, r->pub);

		if (f->taken_ns + delay > now) {
			if (wake < 0 || f->taken_ns + delay < wake)
				wake = f->taken_ns + delay;
			break;
		}
		f->pub_ns = now;
		r->pub++;
	}
	ex->published += r->pub - before;
	if (r->pub != before)
		exsim_server_wake(ex);
	progress(ex, now);
	if (budget == 0)
		wake = now;
	if (wake >= 0)
		schedule(ex, wake - now);
	check_end(ex, now);
}
