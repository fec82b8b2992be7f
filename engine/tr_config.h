/* tr_config.h - tickringd's configuration: `directive value` lines.
 *
 * A config file holds one directive per line, `name value...`, with `#`
 * comments and blank lines, like redis.conf. Every directive is also a
 * command-line flag, `--name value`, applied after the file so flags win.
 * An unknown directive or an invalid value stops the engine with a message
 * naming the file and line (or the flag). README "Configuration" lists them.
 */
#ifndef TR_CONFIG_H
#define TR_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "tr_abi.h"
#include "tr_analytics.h"

#define TR_CFG_MAX_FEEDS 4
#define TR_CFG_MAX_SYMBOLS 1024
#define TR_CFG_MAX_REPLAY 64
#define TR_CFG_MAX_MIRROR_OPTS 128

/* A mirror's directive (kafka..., redis...), checked by the mirror and kept
 * as given for it (mirror/tr_mirror.h). */
struct tr_cfg_mirror_opt {
	char name[64];
	char value[512];
	char where[96];
};

enum tr_stream_bits {
	TR_STREAM_TRADE = 1u << 0,
	TR_STREAM_AGGTRADE = 1u << 1,
	TR_STREAM_BOOKTICKER = 1u << 2
};

struct tr_feed_cfg {
	char venue[TR_VENUE_LEN]; /* "binance" (spot) or "binance-usdm" (futures) */
	char url[256];		  /* ws:// or wss:// base, e.g. wss://stream.binance.com:9443 */
};

struct tr_config {
	char instance[TR_NAME_LEN];
	char shm_dir[256]; /* "" = $TICKRING_DIR or /dev/shm */
	uint64_t ring_slots[TR_NKINDS];
	uint32_t symbol_capacity;
	struct tr_feed_cfg feeds[TR_CFG_MAX_FEEDS];
	unsigned nfeeds;
	char symbols[TR_CFG_MAX_SYMBOLS][TR_NAME_LEN]; /* upper case */
	unsigned nsymbols;
	unsigned streams;      /* TR_STREAM_* */
	char journal_dir[256]; /* "" = no journal */
	uint64_t journal_segment_records;
	uint64_t journal_retain_mb;
	char capture[256];	/* "" = no raw capture */
	char dead_letter[256];	/* "" = <instance>.dead-letter in the cwd */
	char gateway_tcp[64];	/* "" = off, "127.0.0.1:9400" */
	char gateway_unix[256]; /* "" = off */
	bool verify_tls;	/* certificate verification (default yes) */
	uint32_t reconnect_min_ms, reconnect_max_ms;
	uint32_t stale_ms;	  /* no frame for this long: reconnect */
	uint32_t ping_interval_s; /* our pings to the server */
	uint32_t max_conn_age_s;  /* planned, overlapping reconnect before the venue's 24 h cut */
	uint32_t overlap_ms;	  /* keep the old connection this long after the new one is live */
	uint32_t intervals_s[TR_MAX_INTERVALS]; /* candle intervals, seconds */
	uint32_t ninterval;
	uint32_t candle_lateness_ms; /* a candle closes this long after its end */
	bool candle_flat;	     /* empty interval: flat candle (yes) or none */
	uint32_t candle_partials;    /* partial candle records per second per interval */
	struct tr_an_config an;	     /* analytics: indicators, events, alerts (tr_analytics.h) */
	double replay_speed;	     /* 0 = as fast as possible */
	bool replay_progress;	     /* progress line on a terminal */
	uint32_t mirror_drain_ms;    /* on stop, wait for the mirrors this long */
	bool log_json;
	int log_level;			 /* 0 error, 1 warn, 2 info, 3 debug */
	char *replay[TR_CFG_MAX_REPLAY]; /* files, from --replay */
	unsigned nreplay;
	char config_path[256];
	struct tr_cfg_mirror_opt mirror_opts[TR_CFG_MAX_MIRROR_OPTS];
	unsigned nmirror_opts;
};

/* Defaults: instance "default", Binance spot, BTCUSDT, trade+bookTicker. */
void tr_config_default(struct tr_config *c);

/* Apply one directive; where says where it came from ("file:12" or
 * "--flag") for the message. 0 or -EINVAL with tr_errmsg(). */
int tr_config_set(struct tr_config *c, const char *name, const char *value, const char *where);

/* Read a config file. 0 or -errno/-EINVAL with tr_errmsg() naming the line. */
int tr_config_load(struct tr_config *c, const char *path);

/* Parse argv: `--config FILE` first, then every `--directive value`, plus
 * `--replay FILE...` (the remaining non-flag arguments). Returns 0, 1 if
 * --help was printed, or -EINVAL. */
int tr_config_args(struct tr_config *c, int argc, char **argv);

/* Check cross-directive rules (a feed or replay files, symbols...). */
int tr_config_check(const struct tr_config *c);

/* The directives of mirror `name` ("kafka"), as tr_mirror_opt pointers into
 * c, in the order given; returns how many (at most max). */
struct tr_mirror_opt;
unsigned tr_config_mirror_opts(const struct tr_config *c, const char *name,
			       struct tr_mirror_opt *out, unsigned max);

/* Help text listing every directive. */
const char *tr_config_help(void);

#endif
