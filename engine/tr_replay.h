/* tr_replay.h - replay capture files through the engine.
 *
 * Frames of several capture files (../shared/data format) are merged in
 * receive-time order and handed to the engine as if they had just arrived
 * (records are flagged as replayed; ts_recv is the recorded receive time so
 * a replay builds the same records as live). Pace: the original (speed 1),
 * N times faster, or as fast as possible (speed 0). Reads go through the
 * engine's io_uring (tr_capfile); nothing here blocks but the pacing sleep.
 */
#ifndef TR_REPLAY_H
#define TR_REPLAY_H

#include <signal.h>
#include <stdint.h>

#include "tr_config.h"
#include "tr_engine.h"
#include "tr_uring.h"

struct tr_replay_stats {
	uint64_t frames, records, bad_lines;
	double seconds;
};

/* Venue of a capture file, guessed from its path: "binance-usdm" when it
 * names USD-M futures (usdm, fapi, futures), else "binance". */
const char *tr_replay_venue(const char *path);

/* Replay cfg->replay[] into e at cfg->replay_speed; returns when done or
 * when *stop becomes non-zero. 0 or -errno (tr_errmsg). */
int tr_replay_run(struct tr_engine *e, struct tr_uring *u, const struct tr_config *cfg,
		  volatile sig_atomic_t *stop, struct tr_replay_stats *st);

#endif
