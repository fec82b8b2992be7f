/* tr_config.c - directive table and parsers for tickringd (tr_config.h).
 *
 * One table drives the file parser, the flag parser and the help text, so
 * a directive cannot exist in one and not the others.
 */
#include "tr_config.h"

#include "tr_err.h"
#include "tr_mirror.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum vtype {
	V_STR,
	V_U32,
	V_U64,
	V_POW2,
	V_BOOL,
	V_SPEED,
	V_FEED,
	V_SYMBOLS,
	V_STREAMS,
	V_LOG,
	V_INTERVALS,
	V_EMPTY,
	V_ANALYTICS /* tr_an_config_set() */
};

struct directive {
	const char *name;
	enum vtype type;
	size_t off;  /* into struct tr_config */
	size_t size; /* for V_STR */
	uint64_t min, max;
	const char *help;
};

#define OFF(f) offsetof(struct tr_config, f)
#define STR(f) OFF(f), sizeof(((struct tr_config *)0)->f)

static const struct directive table[] = {
    {"instance", V_STR, STR(instance), 0, 0, "region instance: /dev/shm/tickring.<instance>"},
    {"shm-dir", V_STR, STR(shm_dir), 0, 0, "directory of the region (default /dev/shm)"},
    {"ring-slots", V_POW2, OFF(ring_slots), 0, 2, 1ull << 30, "slots in every ring (power of two)"},
    {"ring-slots-trades", V_POW2, OFF(ring_slots[0]), 0, 2, 1ull << 30, "slots in the trade ring"},
    {"ring-slots-quotes", V_POW2, OFF(ring_slots[1]), 0, 2, 1ull << 30, "slots in the quote ring"},
    {"ring-slots-candles", V_POW2, OFF(ring_slots[2]), 0, 2, 1ull << 30,
     "slots in the candle ring"},
    {"ring-slots-events", V_POW2, OFF(ring_slots[3]), 0, 2, 1ull << 30, "slots in the event ring"},
    {"symbol-capacity", V_U32, OFF(symbol_capacity), 0, 1, 1u << 20, "symbol table size"},
    {"feed", V_FEED, 0, 0, 0, 0,
     "VENUE URL: a WebSocket feed (binance | binance-usdm); repeatable"},
    {"symbols", V_SYMBOLS, 0, 0, 0, 0, "comma-separated symbols, e.g. BTCUSDT,ETHUSDT"},
    {"streams", V_STREAMS, 0, 0, 0, 0, "comma-separated: trade, aggTrade, bookTicker"},
    {"journal-dir", V_STR, STR(journal_dir), 0, 0, "journal directory (empty: no journal)"},
    {"journal-segment-records", V_U64, OFF(journal_segment_records), 0, 1024, 1ull << 32,
     "records per journal segment"},
    {"journal-retain-mb", V_U64, OFF(journal_retain_mb), 0, 1, 1ull << 30,
     "journal MiB kept per ring"},
    {"capture", V_STR, STR(capture), 0, 0, "raw capture file of received frames (empty: off)"},
    {"dead-letter", V_STR, STR(dead_letter), 0, 0, "file for rejected frames"},
    {"gateway-tcp", V_STR, STR(gateway_tcp), 0, 0,
     "NDJSON gateway TCP address, e.g. 127.0.0.1:9400"},
    {"gateway-unix", V_STR, STR(gateway_unix), 0, 0, "NDJSON gateway Unix socket path"},
    {"verify-tls", V_BOOL, OFF(verify_tls), 0, 0, 0, "verify the feed's TLS certificate (yes)"},
    {"reconnect-min-ms", V_U32, OFF(reconnect_min_ms), 0, 1, 3600000, "first reconnect delay"},
    {"reconnect-max-ms", V_U32, OFF(reconnect_max_ms), 0, 1, 3600000, "reconnect delay cap"},
    {"stale-ms", V_U32, OFF(stale_ms), 0, 100, 3600000, "silent connection timeout"},
    {"ping-interval-s", V_U32, OFF(ping_interval_s), 0, 1, 3600, "our WebSocket pings"},
    {"max-conn-age-s", V_U32, OFF(max_conn_age_s), 0, 5, 86400,
     "planned overlapping reconnect after this age (venue cuts at 24 h)"},
    {"overlap-ms", V_U32, OFF(overlap_ms), 0, 0, 600000,
     "keep the old connection this long once the new one delivers"},
    {"candle-intervals", V_INTERVALS, 0, 0, 0, 0,
     "comma-separated kline intervals: 1s 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 1w"},
    {"candle-lateness-ms", V_U32, OFF(candle_lateness_ms), 0, 0, 3600000,
     "a candle closes (and accepts late trades) this long after its end"},
    {"candle-empty", V_EMPTY, 0, 0, 0, 0, "interval without trades: flat (previous close) or skip"},
    {"candle-partials", V_U32, OFF(candle_partials), 0, 0, 1000,
     "partial candle records per second per symbol and interval (0: finals only)"},
    /* analytics (tr_analytics.h, README "Analytics") */
    {"analytics", V_ANALYTICS, 0, 0, 0, 0, "candles, statistics, indicators, events (yes)"},
    {"latest-refresh-us", V_ANALYTICS, 0, 0, 0, 0,
     "min gap between latest-table candle/statistics refreshes per symbol (1000)"},
    {"indicator-sma", V_ANALYTICS, 0, 0, 0, 0, "SMA periods, up to 4 (20,50,200) or off"},
    {"indicator-ema", V_ANALYTICS, 0, 0, 0, 0, "EMA periods, up to 4 (20,50,200) or off"},
    {"indicator-rsi", V_ANALYTICS, 0, 0, 0, 0, "RSI period (14) or off"},
    {"indicator-macd", V_ANALYTICS, 0, 0, 0, 0, "MACD fast,slow,signal (12,26,9) or off"},
    {"indicator-bb", V_ANALYTICS, 0, 0, 0, 0, "Bollinger period,k (20,2) or off"},
    {"volume-spike", V_ANALYTICS, 0, 0, 0, 0, "multiple X | zscore X | off (multiple 5)"},
    {"volume-spike-window", V_ANALYTICS, 0, 0, 0, 0, "baseline: previous N candles (20)"},
    {"volume-spike-intervals", V_ANALYTICS, 0, 0, 0, 0, "intervals checked for spikes (1m)"},
    {"outlier-mads", V_ANALYTICS, 0, 0, 0, 0,
     "price outlier beyond N MADs of the median (10; 0 off)"},
    {"outlier-window", V_ANALYTICS, 0, 0, 0, 0, "trades in the outlier reference window (64)"},
    {"outlier-floor-bps", V_ANALYTICS, 0, 0, 0, 0, "MAD floor, basis points of the median (10)"},
    {"symbol-stale-ms", V_ANALYTICS, 0, 0, 0, 0,
     "a symbol without trades this long is stale (60000; 0 off)"},
    {"warm-start", V_ANALYTICS, 0, 0, 0, 0, "seed indicators from the candle journal (no)"},
    {"alert", V_ANALYTICS, 0, 0, 0, 0,
     "NAME cross SYM PRICE | change SYM PCT WINDOW | spike SYM [IV] | stale SYM; repeatable"},
    {"replay-speed", V_SPEED, 0, 0, 0, 0, "replay pace: 1 = original, N = N times, max"},
    {"replay-progress", V_BOOL, OFF(replay_progress), 0, 0, 0, "progress line on a terminal (yes)"},
    {"mirror-drain-ms", V_U32, OFF(mirror_drain_ms), 0, 0, 3600000,
     "on stop, wait up to this long for the mirrors to deliver every record"},
    {"log-json", V_BOOL, OFF(log_json), 0, 0, 0, "log one JSON object per line (no)"},
    {"log-level", V_LOG, 0, 0, 0, 0, "error, warn, info or debug"},
};

void tr_config_default(struct tr_config *c)
{
	memset(c, 0, sizeof *c);
	snprintf(c->instance, sizeof c->instance, "default");
	for (int k = 0; k < TR_NKINDS; k++)
		c->ring_slots[k] = 1u << 20;
	c->symbol_capacity = 4096;
	c->streams = TR_STREAM_TRADE | TR_STREAM_BOOKTICKER;
	c->journal_segment_records = 1u << 20;
	c->journal_retain_mb = 4096;
	c->verify_tls = true;
	c->reconnect_min_ms = 250;
	c->reconnect_max_ms = 30000;
	c->stale_ms = 30000;
	c->ping_interval_s = 30;
	c->max_conn_age_s = 23 * 3600 + 30 * 60;
	c->overlap_ms = 5000;
	static const uint32_t iv[] = {1, 60, 300, 900, 3600, 86400};
	memcpy(c->intervals_s, iv, sizeof iv);
	c->ninterval = sizeof iv / sizeof iv[0];
	c->candle_lateness_ms = 2000;
	c->mirror_drain_ms = 30000;
	c->candle_flat = true;
	c->candle_partials = 10;
	tr_an_config_default(&c->an);
	c->replay_speed = 0;
	c->replay_progress = true;
	c->log_level = 2;
}

static int parse_u64(const char *v, uint64_t *out)
{
	char *end;

	if (!*v || !isdigit((unsigned char)*v))
		return -1;
	errno = 0;
	unsigned long long x = strtoull(v, &end, 10);
	if (errno || *end)
		return -1;
	*out = x;
	return 0;
}

static int add_symbols(struct tr_config *c, const char *v, const char *where)
{
	char buf[8192];
	char *save = NULL;

	if (strlen(v) >= sizeof buf)
		return tr_err(EINVAL, "%s: symbols: list too long", where);
	snprintf(buf, sizeof buf, "%s", v);
	c->nsymbols = 0; /* a directive replaces the list */
	for (char *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
		size_t n = strlen(t);

		if (n >= TR_NAME_LEN)
			return tr_err(EINVAL, "%s: symbols: '%s' is longer than %d", where, t,
				      TR_NAME_LEN - 1);
		for (size_t i = 0; i < n; i++) {
			if (!isalnum((unsigned char)t[i]) && t[i] != '_' && t[i] != '-')
				return tr_err(EINVAL, "%s: symbols: '%s' has a bad character",
					      where, t);
			t[i] = (char)toupper((unsigned char)t[i]);
		}
		if (c->nsymbols == TR_CFG_MAX_SYMBOLS)
			return tr_err(EINVAL, "%s: symbols: more than %d", where,
				      TR_CFG_MAX_SYMBOLS);
		memcpy(c->symbols[c->nsymbols++], t, n + 1);
	}
	if (!c->nsymbols)
		return tr_err(EINVAL, "%s: symbols: empty list", where);
	return 0;
}

static int set_streams(struct tr_config *c, const char *v, const char *where)
{
	char buf[256];
	char *save = NULL;
	unsigned bits = 0;

	snprintf(buf, sizeof buf, "%s", v);
	for (char *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
		if (!strcmp(t, "trade"))
			bits |= TR_STREAM_TRADE;
		else if (!strcmp(t, "aggTrade"))
			bits |= TR_STREAM_AGGTRADE;
		else if (!strcmp(t, "bookTicker"))
			bits |= TR_STREAM_BOOKTICKER;
		else
			return tr_err(EINVAL,
				      "%s: streams: '%s' is not trade, aggTrade or bookTicker",
				      where, t);
	}
	if (!bits)
		return tr_err(EINVAL, "%s: streams: empty list", where);
	c->streams = bits;
	return 0;
}

static int add_feed(struct tr_config *c, const char *v, const char *where)
{
	char venue[64], url[512];

	if (sscanf(v, "%63s %511s", venue, url) != 2)
		return tr_err(EINVAL, "%s: feed: expected 'feed VENUE URL'", where);
	if (strcmp(venue, "binance") && strcmp(venue, "binance-usdm"))
		return tr_err(EINVAL, "%s: feed: venue '%s' is not binance or binance-usdm", where,
			      venue);
	if (strncmp(url, "ws://", 5) && strncmp(url, "wss://", 6))
		return tr_err(EINVAL, "%s: feed: '%s' is not a ws:// or wss:// URL", where, url);
	if (strlen(url) >= sizeof c->feeds[0].url)
		return tr_err(EINVAL, "%s: feed: URL too long", where);
	if (c->nfeeds == TR_CFG_MAX_FEEDS)
		return tr_err(EINVAL, "%s: feed: at most %d feeds", where, TR_CFG_MAX_FEEDS);
	snprintf(c->feeds[c->nfeeds].venue, sizeof c->feeds[0].venue, "%.15s", venue);
	snprintf(c->feeds[c->nfeeds].url, sizeof c->feeds[0].url, "%s", url);
	c->nfeeds++;
	return 0;
}

/* kafka..., redis...: the mirror checks the value; we keep it for its run(). */
static int mirror_set(struct tr_config *c, const char *name, const char *value, const char *where)
{
	const struct tr_mirror_def *m = tr_mirror_find(name);
	struct tr_cfg_mirror_opt *o;
	char err[256] = "";

	if (!m)
		return tr_err(EINVAL, "%s: unknown directive '%s' (see tickringd --help)", where,
			      name);
	if (m->check(name, value, err, sizeof err) < 0)
		return tr_err(EINVAL, "%s: %s: %s", where, name, err[0] ? err : "invalid value");
	if (strlen(name) >= sizeof o->name || strlen(value) >= sizeof o->value)
		return tr_err(EINVAL, "%s: %s: name or value too long (%zu/%zu)", where, name,
			      sizeof o->name - 1, sizeof o->value - 1);
	if (c->nmirror_opts == TR_CFG_MAX_MIRROR_OPTS)
		return tr_err(EINVAL, "%s: at most %d mirror directives", where,
			      TR_CFG_MAX_MIRROR_OPTS);
	o = &c->mirror_opts[c->nmirror_opts++];
	snprintf(o->name, sizeof o->name, "%s", name);
	snprintf(o->value, sizeof o->value, "%s", value);
	snprintf(o->where, sizeof o->where, "%s", where);
	return 0;
}

unsigned tr_config_mirror_opts(const struct tr_config *c, const char *name,
			       struct tr_mirror_opt *out, unsigned max)
{
	const struct tr_mirror_def *m = tr_mirror_by_name(name);
	unsigned n = 0;

	for (unsigned i = 0; m && i < c->nmirror_opts && n < max; i++)
		if (tr_mirror_find(c->mirror_opts[i].name) == m)
			out[n++] = (struct tr_mirror_opt){.name = c->mirror_opts[i].name,
							  .value = c->mirror_opts[i].value,
							  .where = c->mirror_opts[i].where};
	return n;
}

int tr_config_set(struct tr_config *c, const char *name, const char *value, const char *where)
{
	const struct directive *d = NULL;
	uint64_t x;

	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
		if (!strcmp(table[i].name, name))
			d = &table[i];
	if (!d)
		return mirror_set(c, name, value, where);
	char *p = (char *)c + d->off;
	switch (d->type) {
	case V_STR:
		if (strlen(value) >= d->size)
			return tr_err(EINVAL, "%s: %s: value longer than %zu", where, name,
				      d->size - 1);
		snprintf(p, d->size, "%s", value);
		return 0;
	case V_U32:
	case V_U64:
	case V_POW2:
		if (parse_u64(value, &x) < 0 || x < d->min || x > d->max)
			return tr_err(EINVAL, "%s: %s: '%s' is not a number in %llu..%llu", where,
				      name, value, (unsigned long long)d->min,
				      (unsigned long long)d->max);
		if (d->type == V_POW2 && (x & (x - 1)))
			return tr_err(EINVAL, "%s: %s: %llu is not a power of two", where, name,
				      (unsigned long long)x);
		if (d->type == V_U32)
			*(uint32_t *)p = (uint32_t)x;
		else if (!strcmp(name, "ring-slots"))
			for (int k = 0; k < TR_NKINDS; k++)
				c->ring_slots[k] = x;
		else
			*(uint64_t *)p = x;
		return 0;
	case V_BOOL:
		if (!strcmp(value, "yes") || !strcmp(value, "true") || !strcmp(value, "1"))
			*(bool *)p = true;
		else if (!strcmp(value, "no") || !strcmp(value, "false") || !strcmp(value, "0"))
			*(bool *)p = false;
		else
			return tr_err(EINVAL, "%s: %s: '%s' is not yes or no", where, name, value);
		return 0;
	case V_SPEED: {
		char *end;
		double v;

		if (!strcmp(value, "max")) {
			c->replay_speed = 0;
			return 0;
		}
		v = strtod(value, &end);
		if (*end || !(v > 0) || v > 1e6)
			return tr_err(EINVAL, "%s: %s: '%s' is not a positive number or max", where,
				      name, value);
		c->replay_speed = v;
		return 0;
	}
	case V_FEED:
		return add_feed(c, value, where);
	case V_SYMBOLS:
		return add_symbols(c, value, where);
	case V_STREAMS:
		return set_streams(c, value, where);
	case V_INTERVALS: {
		static const struct {
			const char *name;
			uint32_t s;
		} known[] = {{"1s", 1},	    {"1m", 60},	   {"3m", 180},	  {"5m", 300},
			     {"15m", 900},  {"30m", 1800}, {"1h", 3600},  {"2h", 7200},
			     {"4h", 14400}, {"6h", 21600}, {"8h", 28800}, {"12h", 43200},
			     {"1d", 86400}, {"1w", 604800}};
		char buf[256];
		char *save = NULL;
		unsigned n = 0;

		snprintf(buf, sizeof buf, "%s", value);
		for (char *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
			size_t k;

			for (k = 0; k < sizeof known / sizeof known[0]; k++)
				if (!strcmp(t, known[k].name))
					break;
			if (k == sizeof known / sizeof known[0])
				return tr_err(
				    EINVAL, "%s: candle-intervals: '%s' is not a Binance interval",
				    where, t);
			if (n == TR_MAX_INTERVALS)
				return tr_err(EINVAL, "%s: candle-intervals: at most %d", where,
					      TR_MAX_INTERVALS);
			c->intervals_s[n++] = known[k].s;
		}
		c->ninterval = n; /* 0: no candles */
		return 0;
	}
	case V_EMPTY:
		if (strcmp(value, "flat") && strcmp(value, "skip"))
			return tr_err(EINVAL, "%s: candle-empty: '%s' is not flat or skip", where,
				      value);
		c->candle_flat = !strcmp(value, "flat");
		return 0;
	case V_ANALYTICS:
		return tr_an_config_set(&c->an, name, value, where);
	case V_LOG: {
		static const char *const lv[] = {"error", "warn", "info", "debug"};

		for (int i = 0; i < 4; i++)
			if (!strcmp(value, lv[i])) {
				c->log_level = i;
				return 0;
			}
		return tr_err(EINVAL, "%s: log-level: '%s' is not error, warn, info or debug",
			      where, value);
	}
	}
	return tr_err(EINVAL, "%s: %s: unhandled", where, name);
}

int tr_config_load(struct tr_config *c, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[8192], where[300];
	int n = 0, rc = 0;

	if (!f)
		return tr_err(errno, "config %s: %s", path, strerror(errno));
	snprintf(c->config_path, sizeof c->config_path, "%s", path);
	while (fgets(line, sizeof line, f)) {
		n++;
		snprintf(where, sizeof where, "%s:%d", path, n);
		size_t len = strlen(line);
		if (len == sizeof line - 1 && line[len - 1] != '\n') {
			rc = tr_err(EINVAL, "%s: line too long", where);
			break;
		}
		char *hash = strchr(line, '#');
		if (hash)
			*hash = 0;
		char *s = line;
		while (isspace((unsigned char)*s))
			s++;
		char *e = s + strlen(s);
		while (e > s && isspace((unsigned char)e[-1]))
			*--e = 0;
		if (!*s)
			continue;
		char *v = s;
		while (*v && !isspace((unsigned char)*v))
			v++;
		if (*v)
			*v++ = 0;
		while (isspace((unsigned char)*v))
			v++;
		if (!*v) {
			rc = tr_err(EINVAL, "%s: %s: missing value", where, s);
			break;
		}
		if ((rc = tr_config_set(c, s, v, where)) < 0)
			break;
	}
	fclose(f);
	return rc;
}

int tr_config_args(struct tr_config *c, int argc, char **argv)
{
	int rc;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(tr_config_help(), stdout);
			return 1;
		}
		if (!strcmp(argv[i], "--config")) {
			if (i + 1 >= argc)
				return tr_err(EINVAL, "--config: missing file");
			if ((rc = tr_config_load(c, argv[++i])) < 0)
				return rc;
		}
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--config")) {
			i++;
			continue;
		}
		if (!strcmp(a, "--replay")) {
			while (i + 1 < argc && strncmp(argv[i + 1], "--", 2)) {
				if (c->nreplay == TR_CFG_MAX_REPLAY)
					return tr_err(EINVAL, "--replay: at most %d files",
						      TR_CFG_MAX_REPLAY);
				c->replay[c->nreplay++] = argv[++i];
			}
			if (!c->nreplay)
				return tr_err(EINVAL, "--replay: no file given");
			continue;
		}
		if (strncmp(a, "--", 2))
			return tr_err(EINVAL, "unexpected argument '%s'", a);
		if (i + 1 >= argc)
			return tr_err(EINVAL, "%s: missing value", a);
		char where[80];
		snprintf(where, sizeof where, "%.70s", a);
		if ((rc = tr_config_set(c, a + 2, argv[++i], where)) < 0)
			return rc;
	}
	return 0;
}

int tr_config_check(const struct tr_config *c)
{
	if (!c->nreplay && !c->nfeeds && !c->gateway_tcp[0] && !c->gateway_unix[0])
		return tr_err(EINVAL,
			      "nothing to do: configure a feed, a gateway, or --replay files");
	if (c->nfeeds && !c->nsymbols)
		return tr_err(EINVAL, "feeds need symbols");
	if (c->reconnect_min_ms > c->reconnect_max_ms)
		return tr_err(EINVAL, "reconnect-min-ms is above reconnect-max-ms");
	if (c->an.warm_start && !c->journal_dir[0])
		return tr_err(EINVAL, "warm-start needs journal-dir (it reads the candle journal)");

	return 0;
}

const char *tr_config_help(void)
{
	static char buf[16384];

	if (!buf[0]) {
		size_t n = (size_t)snprintf(
		    buf, sizeof buf,
		    "usage: tickringd [--config FILE] [--DIRECTIVE VALUE]... [--replay FILE...]\n"
		    "\n"
		    "The tickring engine: exchange WebSocket feeds (or capture files with "
		    "--replay,\n"
		    "or the NDJSON gateway) in; exact records into the shared-memory rings at\n"
		    "/dev/shm/tickring.<instance>, a journal, and an optional raw capture out.\n"
		    "Every directive of the config file (`name value`, # comments) is also a "
		    "flag.\n"
		    "\n"
		    "directives:\n");
		for (size_t i = 0; i < sizeof table / sizeof table[0] && n < sizeof buf; i++)
			n += (size_t)snprintf(buf + n, sizeof buf - n, "  %-24s %s\n",
					      table[i].name, table[i].help);
		for (const struct tr_mirror_def *const *m = tr_mirror_all(); *m && n < sizeof buf;
		     m++)
			n += (size_t)snprintf(buf + n, sizeof buf - n,
					      "\n%s mirror (on with %s):\n%s", (*m)->name,
					      (*m)->enable, (*m)->help);
		if (n < sizeof buf)
			snprintf(buf + n, sizeof buf - n,
				 "\n  --replay FILE...         replay capture files "
				 "(../shared/data format)\n"
				 "  --config FILE            read directives from FILE first\n"
				 "  --help                   this text\n");
	}
	return buf;
}
