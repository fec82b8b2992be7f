/* exsim.c - the exchange simulator: a Binance stream server for tests and benchmarks.
 *
 * Serves recorded (--replay) or synthetic (--synthetic) market data over
 * plain ws:// with Binance's paths, requests, limits, pings and connection
 * lifetime, and injects the faults tickringd must survive: dropped
 * connections, malformed frames, skipped and duplicated trade ids, delays,
 * missing pongs and pings, silent connections, the 24 h cut. See
 * docs/exsim.md for the semantics; this file is options, logging and the
 * service loop. The first stdout line is `exsim: listening on ws://HOST:PORT`
 * so that a parent can start it with --port 0 and read the port.
 */
#define _GNU_SOURCE
#include "exsim.h"

#include <errno.h>
#include <getopt.h>
#include <libwebsockets.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t stop_signal;
static struct lws_context *signal_ctx;

int64_t exsim_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void exsim_log(const char *fmt, ...)
{
	char line[1024];
	struct timespec ts;
	struct tm tm;
	va_list ap;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(line, sizeof line, "exsim: %02d:%02d:%02d.%03ld ", tm.tm_hour, tm.tm_min,
			 tm.tm_sec, ts.tv_nsec / 1000000);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s\n", line); /* one write per line: lines from runs never mix */
}

static void usage(FILE *f)
{
	fputs("usage: exsim (--replay FILE... | --synthetic) [options]\n"
	      "A Binance WebSocket stream server (plain ws://) for tests and benchmarks.\n"
	      "Paths: /stream?streams=a/b (combined), /ws/<stream>, /ws (raw).\n"
	      "\n"
	      "source:\n"
	      "  --replay FILE...        capture files (gzip or plain), merged by time\n"
	      "  --synthetic             random-walk market instead of files\n"
	      "  --symbols A,B,...       synthetic symbols (default BTCUSDT,ETHUSDT)\n"
	      "  --rate N                synthetic frames/s over all symbols (default 1000)\n"
	      "  --burst K               synthetic sweeps of K trades at one instant\n"
	      "  --burst-prob P          chance an arrival is a sweep (default 0.01)\n"
	      "  --seed N                synthetic market seed\n"
	      "  --stamp-price           synthetic trades: the price is the wall-clock ns\n"
	      "                          when the frame is made, as 8 decimals (benchmarks)\n"
	      "pacing:\n"
	      "  --speed X|max           1 = recorded pace, X = X times faster, max = as fast\n"
	      "                          as the slowest subscribed client reads (default 1)\n"
	      "  --start-immediately     do not wait for the first subscription\n"
	      "  --loop                  replay again at the end (trade ids repeat)\n"
	      "  --hold                  stop the replay clock while nobody is subscribed\n"
	      "  --exit-at-end           exit once the data is sent and drained\n"
	      "  --grace S               seconds to wait before that exit (default 1)\n"
	      "  --ring N                frames kept in the shared ring (default 65536)\n"
	      "faults:\n"
	      "  --drop-every S          close every connection abruptly every S s (implies\n"
	      "                          --hold; the replay rewinds --rewind-ms on each drop)\n"
	      "  --rewind-ms MS          rewind after a drop (default 2000)\n"
	      "  --malformed-every N     every Nth frame to a client is malformed\n"
	      "  --skip-ids-every N      every Nth trade is not sent (an id gap)\n"
	      "  --dup-ids-every N       every Nth trade is sent twice\n"
	      "  --delay-ms D            publish every frame D ms late\n"
	      "  --no-pong               stop reading after subscription: pings unanswered\n"
	      "  --stop-pings            never send pings\n"
	      "  --silent-after S        after S s a connection gets nothing at all\n"
	      "  --max-conn-age S        close connections (cleanly) after S s (Binance: 86400)\n"
	      "  --fragment N            send every text message as N WebSocket fragments,\n"
	      "                          cut at random points (--seed); shorter ones a byte\n"
	      "                          per fragment\n"
	      "  --fragment-bytes-every K  every Kth message a byte per fragment\n"
	      "  --oversize-every N      after every Nth frame to a client, an extra message\n"
	      "                          just over 1 MiB (tickringd's limit), 64 KiB fragments\n"
	      "protocol:\n"
	      "  --host ADDR             listen address (default 127.0.0.1)\n"
	      "  --port N                listen port, 0 = any (default 9443)\n"
	      "  --ping-interval S       server pings every S s (default 20, 0 = off)\n"
	      "  --pong-timeout S        close if no pong within S s (default 60, 0 = off)\n"
	      "  --msg-limit N           incoming messages/s per connection (default 5)\n"
	      "  --max-streams N         streams per connection (default 1024)\n"
	      "  --progress S            progress log every S s (default 5, 0 = off)\n"
	      "  --help\n",
	      f);
}

enum {
	O_REPLAY = 256,
	O_SYNTH,
	O_SYMBOLS,
	O_RATE,
	O_BURST,
	O_BURST_PROB,
	O_SEED,
	O_SPEED,
	O_START,
	O_LOOP,
	O_HOLD,
	O_EXIT,
	O_GRACE,
	O_RING,
	O_DROP,
	O_REWIND,
	O_MALFORMED,
	O_SKIP,
	O_DUP,
	O_DELAY,
	O_NOPONG,
	O_STOPPINGS,
	O_SILENT,
	O_AGE,
	O_HOST,
	O_PORT,
	O_PING,
	O_PONG,
	O_MSGLIMIT,
	O_MAXSTREAMS,
	O_PROGRESS,
	O_STAMP_PRICE,
	O_FRAGMENT,
	O_FRAGMENT_BYTES,
	O_OVERSIZE,
	O_HELP,
};

static const struct option opts[] = {
    {"replay", required_argument, 0, O_REPLAY},
    {"synthetic", no_argument, 0, O_SYNTH},
    {"symbols", required_argument, 0, O_SYMBOLS},
    {"rate", required_argument, 0, O_RATE},
    {"burst", required_argument, 0, O_BURST},
    {"burst-prob", required_argument, 0, O_BURST_PROB},
    {"seed", required_argument, 0, O_SEED},
    {"speed", required_argument, 0, O_SPEED},
    {"start-immediately", no_argument, 0, O_START},
    {"loop", no_argument, 0, O_LOOP},
    {"hold", no_argument, 0, O_HOLD},
    {"exit-at-end", no_argument, 0, O_EXIT},
    {"grace", required_argument, 0, O_GRACE},
    {"ring", required_argument, 0, O_RING},
    {"drop-every", required_argument, 0, O_DROP},
    {"rewind-ms", required_argument, 0, O_REWIND},
    {"malformed-every", required_argument, 0, O_MALFORMED},
    {"skip-ids-every", required_argument, 0, O_SKIP},
    {"dup-ids-every", required_argument, 0, O_DUP},
    {"delay-ms", required_argument, 0, O_DELAY},
    {"no-pong", no_argument, 0, O_NOPONG},
    {"stop-pings", no_argument, 0, O_STOPPINGS},
    {"silent-after", required_argument, 0, O_SILENT},
    {"max-conn-age", required_argument, 0, O_AGE},
    {"host", required_argument, 0, O_HOST},
    {"port", required_argument, 0, O_PORT},
    {"ping-interval", required_argument, 0, O_PING},
    {"pong-timeout", required_argument, 0, O_PONG},
    {"msg-limit", required_argument, 0, O_MSGLIMIT},
    {"max-streams", required_argument, 0, O_MAXSTREAMS},
    {"progress", required_argument, 0, O_PROGRESS},
    {"stamp-price", no_argument, 0, O_STAMP_PRICE},
    {"fragment", required_argument, 0, O_FRAGMENT},
    {"fragment-bytes-every", required_argument, 0, O_FRAGMENT_BYTES},
    {"oversize-every", required_argument, 0, O_OVERSIZE},
    {"help", no_argument, 0, O_HELP},
    {0, 0, 0, 0},
};

/* Strict numbers: a typo in a flag must stop the run, not become 0. */
static int num(const char *name, const char *s, double lo, double hi, double *out)
{
	char *end;

	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr, "exsim: invalid --%s '%s' (expected %g..%g)\n", name, s, lo, hi);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_args(struct exsim_config *c, int argc, char **argv)
{
	static const char *files[256];
	double v;
	int o;

	c->host = "127.0.0.1";
	c->port = 9443;
	c->rate = 1000;
	c->burst_prob = 0.01;
	c->speed = 1;
	c->grace = 1;
	c->rewind_ms = 2000;
	c->ring_slots = 65536;
	c->ping_interval = 20;
	c->pong_timeout = 60;
	c->msg_limit = 5;
	c->max_streams = 1024;
	c->progress_every = 5;
	c->replay = files;
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		const char *name = o >= O_REPLAY ? opts[o - O_REPLAY].name : "";
		int rc = 0;

		switch (o) {
		case O_REPLAY:
			/* --replay A B C: take the following non-option words too */
			files[c->nreplay++] = optarg;
			while (optind < argc && argv[optind][0] != '-' && c->nreplay < 256)
				files[c->nreplay++] = argv[optind++];
			break;
		case O_SYNTH:
			c->synthetic = true;
			break;
		case O_SYMBOLS:
			c->symbols = optarg;
			break;
		case O_RATE:
			rc = num(name, optarg, 0.001, 1e8, &c->rate);
			break;
		case O_BURST:
			rc = num(name, optarg, 0, 1e6, &v);
			c->burst = (int)v;
			break;
		case O_BURST_PROB:
			rc = num(name, optarg, 0, 1, &c->burst_prob);
			break;
		case O_SEED:
			rc = num(name, optarg, 0, 1.8e19, &v);
			c->seed = (uint64_t)v;
			break;
		case O_SPEED:
			if (!strcmp(optarg, "max"))
				c->speed = 0;
			else
				rc = num(name, optarg, 1e-6, 1e9, &c->speed);
			break;
		case O_START:
			c->start_immediately = true;
			break;
		case O_LOOP:
			c->loop = true;
			break;
		case O_HOLD:
			c->hold = true;
			break;
		case O_EXIT:
			c->exit_at_end = true;
			break;
		case O_GRACE:
			rc = num(name, optarg, 0, 3600, &c->grace);
			break;
		case O_RING:
			rc = num(name, optarg, 16, 1 << 24, &v);
			c->ring_slots = 16;
			while (c->ring_slots < (uint32_t)v)
				c->ring_slots <<= 1;
			break;
		case O_DROP:
			rc = num(name, optarg, 0.001, 1e9, &c->drop_every);
			break;
		case O_REWIND:
			rc = num(name, optarg, 0, 1e9, &v);
			c->rewind_ms = (int)v;
			break;
		case O_MALFORMED:
			rc = num(name, optarg, 1, 1e18, &v);
			c->malformed_every = (long)v;
			break;
		case O_SKIP:
			rc = num(name, optarg, 1, 1e18, &v);
			c->skip_ids_every = (long)v;
			break;
		case O_DUP:
			rc = num(name, optarg, 1, 1e18, &v);
			c->dup_ids_every = (long)v;
			break;
		case O_DELAY:
			rc = num(name, optarg, 0, 1e7, &v);
			c->delay_ms = (int)v;
			break;
		case O_NOPONG:
			c->no_pong = true;
			break;
		case O_STOPPINGS:
			c->stop_pings = true;
			break;
		case O_SILENT:
			rc = num(name, optarg, 0, 1e9, &c->silent_after);
			break;
		case O_AGE:
			rc = num(name, optarg, 0, 1e9, &c->max_conn_age);
			break;
		case O_HOST:
			c->host = optarg;
			break;
		case O_PORT:
			rc = num(name, optarg, 0, 65535, &v);
			c->port = (int)v;
			break;
		case O_PING:
			rc = num(name, optarg, 0, 1e6, &c->ping_interval);
			break;
		case O_PONG:
			rc = num(name, optarg, 0, 1e6, &c->pong_timeout);
			break;
		case O_MSGLIMIT:
			rc = num(name, optarg, 0, EXSIM_MAX_MSG_LIMIT, &v);
			c->msg_limit = (int)v;
			break;
		case O_MAXSTREAMS:
			rc = num(name, optarg, 1, 1024, &v);
			c->max_streams = (int)v;
			break;
		case O_PROGRESS:
			rc = num(name, optarg, 0, 1e6, &c->progress_every);
			break;
		case O_STAMP_PRICE:
			c->stamp_price = true;
			break;
		case O_FRAGMENT:
			rc = num(name, optarg, 1, 256, &v);
			c->fragment = (int)v;
			break;
		case O_FRAGMENT_BYTES:
			rc = num(name, optarg, 1, 1e18, &v);
			c->fragment_bytes_every = (long)v;
			break;
		case O_OVERSIZE:
			rc = num(name, optarg, 1, 1e18, &v);
			c->oversize_every = (long)v;
			break;
		case O_HELP:
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
		if (rc)
			return -1;
	}
	if (optind < argc) {
		fprintf(stderr, "exsim: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (c->synthetic == (c->nreplay > 0)) {
		fprintf(stderr, "exsim: give exactly one of --replay FILE... or --synthetic\n");
		usage(stderr);
		return -1;
	}
	if (c->drop_every > 0)
		c->hold = true; /* no frames to nobody between a drop and the reconnect */
	return 0;
}

static void on_signal(int sig)
{
	(void)sig;
	stop_signal = 1;
	if (signal_ctx)
		lws_cancel_service(signal_ctx);
}

int main(int argc, char **argv)
{
	static struct exsim ex;
	int rc;

	if (parse_args(&ex.cfg, argc, argv))
		return 2;
	signal(SIGPIPE, SIG_IGN);
	if (ex.cfg.synthetic)
		rc = exsim_synth_open(&ex.src, &ex.cfg);
	else
		rc = exsim_replay_open(&ex.src, ex.cfg.replay, ex.cfg.nreplay);
	if (rc < 0) {
		fprintf(stderr, "exsim: cannot open the source: %s\n", strerror(-rc));
		return 1;
	}
	if (exsim_feed_init(&ex) || exsim_server_start(&ex)) {
		ex.src->destroy(ex.src);
		exsim_feed_free(&ex);
		return 1;
	}
	signal_ctx = ex.ctx;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	exsim_log("source: %s, speed %s%s%s", ex.cfg.synthetic ? "synthetic" : "replay",
		  ex.cfg.speed <= 0 ? "max" : "paced", ex.cfg.hold ? ", hold" : "",
		  ex.cfg.loop ? ", loop" : "");
	if (ex.cfg.start_immediately)
		exsim_feed_hold(&ex, false);
	while (!stop_signal && !ex.exiting)
		lws_service(ex.ctx, 0);
	if (stop_signal) {
		exsim_log("signal: closing %u connections", ex.nclients);
		ex.exiting = true;
		exsim_server_close_all(&ex, false, "server shutting down");
	}
	/* Let the close frames go out, briefly. */
	int64_t deadline = exsim_now() + 1000000000;
	while (ex.nclients > 0 && exsim_now() < deadline)
		lws_service(ex.ctx, 0);
	signal_ctx = NULL;
	lws_context_destroy(ex.ctx);
	ex.src->destroy(ex.src);
	exsim_feed_free(&ex);
	exsim_log("exit: %llu frames published, %llu sent", (unsigned long long)ex.published,
		  (unsigned long long)ex.sent_frames);
	return 0;
}
