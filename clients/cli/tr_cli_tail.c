/* tr_cli_tail.c - `tickring tail`: follow one ring and print each record.
 *
 * A tail outlives the engine it reads: it opens the region in any state, and
 * when the engine stops, dies or is replaced it says so on stderr and waits.
 * An in-place restart shows up as a new epoch on the cursor; a restart with a
 * different geometry replaces the file (the old one is marked stopped and
 * unlinked), which we notice with tr_region_replaced() and follow by
 * reopening. Lost records are never silent: a lap prints how many.
 *
 * Output is line buffered even into a pipe, so a consumer sees each record as
 * soon as it arrives; a closed pipe (EPIPE) is a normal way to stop.
 */
#define _GNU_SOURCE
#include "tr_cli.h"

#include "tr_format.h"
#include "tr_layout.h"
#include "tr_reader.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define WAIT_NS 200000000ll   /* tr_wait slice: how soon a signal is noticed */
#define CHECK_NS 1000000000ll /* liveness and file-replacement check period */

static const char usage[] =
    "usage: tickring [--instance NAME] tail [options]\n"
    "\n"
    "Print records as they arrive, one per line.\n"
    "\n"
    "  -k, --kind KIND      trades (default), quotes, candles or events\n"
    "  -s, --symbol NAME    only this symbol (case-insensitive)\n"
    "  -I, --interval IV    candles of this interval only (1s, 1m, 1h, 1d, 90s ...)\n"
    "  -j, --json           one JSON object per line (schema: docs/cli.md)\n"
    "  -f, --from WHERE     tail: only new records (default); oldest: first replay\n"
    "                       what the ring still holds\n"
    "  -n, --count N        exit after printing N records\n"
    "  -i, --instance NAME  region instance (also accepted before the command)\n"
    "  -h, --help           this help\n"
    "\n"
    "Laps, engine restarts and a stopped engine are reported on stderr; tail keeps\n"
    "waiting for the engine to come back. Exit: 0 on SIGINT/SIGTERM, a closed pipe\n"
    "or --count reached; 1 if the region cannot be opened; 2 on a usage error.\n";

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

struct tail {
	const char *instance;
	char path[300];
	struct tr_region *r;
	struct tr_cursor c;
	unsigned kind;
	const char *symbol; /* filter, or NULL */
	uint8_t *match;	    /* per symbol id: 0 not looked up, 1 match, 2 no match */
	uint32_t match_size;
	int64_t interval_s; /* candle filter, or 0 */
	bool json;
	enum tr_join join; /* --from */
	uint64_t count, printed;
	int alive; /* last liveness verdict: 1, 0, or -1 before the first check */
};

/* Open (or reopen) the region and start a cursor at join. */
static int tail_open(struct tail *t, enum tr_join join)
{
	struct tr_region *r;
	int err;

	if ((err = tr_region_open(&r, t->instance, TR_OPEN_ANY_STATE)) < 0)
		return err;
	uint32_t cap = tr_region_superblock(r)->symbol_capacity;
	uint8_t *m = calloc(cap, 1);
	if (!m) {
		tr_region_close(r);
		return tr_err(ENOMEM, "out of memory");
	}
	tr_cursor_init(&t->c, r, t->kind, join, 0);
	tr_region_close(t->r);
	free(t->match);
	t->r = r;
	t->match = m;
	t->match_size = cap;
	t->alive = -1;
	return 0;
}

/* Whether the reader of our stdout has gone: a quiet ring would otherwise
 * never write, so never learn of it from EPIPE. */
static bool stdout_gone(void)
{
	struct pollfd p = {.fd = 1, .events = 0};

	return poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP));
}

/* Once a second: report liveness changes, and follow a replaced file. */
static void tail_check(struct tail *t)
{
	int live = tr_region_liveness(t->r, 0) == 0;

	if (!live && t->alive != 0)
		fprintf(stderr, "tickring: %s: %s; waiting for the engine\n", t->path, tr_errmsg());
	else if (live && t->alive == 0)
		fprintf(stderr, "tickring: %s: engine is running again (pid %d, epoch %llu)\n",
			t->path, tr_region_superblock(t->r)->engine_pid,
			(unsigned long long)tr_region_epoch(t->r));
	t->alive = live;
	if (live || !tr_region_replaced(t->r))
		return;
	/* A new file: everything in it is newer than what we printed. */
	if (tail_open(t, TR_JOIN_OLDEST) < 0)
		return; /* half-made or vanished again: try next time */
	fprintf(stderr, "tickring: %s: region file was replaced; following the new one\n", t->path);
	tail_check(t);
}

static uint32_t record_symbol(unsigned kind, const void *rec)
{
	switch (kind) {
	case TR_KIND_TRADE:
		return ((const struct tr_trade *)rec)->symbol_id;
	case TR_KIND_QUOTE:
		return ((const struct tr_quote *)rec)->symbol_id;
	case TR_KIND_CANDLE:
		return ((const struct tr_candle *)rec)->symbol_id;
	default:
		return ((const struct tr_event *)rec)->symbol_id;
	}
}

static bool wanted(struct tail *t, const void *rec)
{
	if (t->interval_s && ((const struct tr_candle *)rec)->interval_s != t->interval_s)
		return false;
	if (!t->symbol)
		return true;
	uint32_t id = record_symbol(t->kind, rec);
	if (id >= t->match_size)
		return false;
	if (!t->match[id]) {
		struct tr_symbol s;

		if (id >= tr_symbol_count(t->r) || tr_symbol_get(t->r, id, &s) < 0)
			return false; /* not registered yet (cannot be ours): look again next time
				       */
		/* Ids never change within a file, so the answer is cached. */
		t->match[id] = strcasecmp(s.name, t->symbol) ? 2 : 1;
	}
	return t->match[id] == 1;
}

/* Print one record. Returns 0, or -errno if stdout failed. */
static int emit(struct tail *t, const void *rec)
{
	char line[TR_FORMAT_BUFSZ];
	int n = t->json ? tr_format_json(t->r, t->kind, rec, t->c.epoch, line, sizeof line - 1)
			: tr_format_text(t->r, t->kind, rec, line, sizeof line - 1);

	if (n < 0)
		n = (int)strlen(line); /* cannot happen at this size; print what fits */
	line[n++] = '\n';
	if (fwrite(line, 1, (size_t)n, stdout) != (size_t)n)
		return -(errno ? errno : EIO);
	return 0;
}

static int parse_args(struct tail *t, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"kind", required_argument, NULL, 'k'},
	    {"symbol", required_argument, NULL, 's'},
	    {"interval", required_argument, NULL, 'I'},
	    {"json", no_argument, NULL, 'j'},
	    {"from", required_argument, NULL, 'f'},
	    {"count", required_argument, NULL, 'n'},
	    {"instance", required_argument, NULL, 'i'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c, k;
	char *end;

	while ((c = getopt_long(argc, argv, "k:s:I:jf:n:i:h", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			if ((k = tr_kind_parse(optarg)) < 0) {
				fprintf(stderr, "tickring tail: unknown kind '%s'\n", optarg);
				return TR_CLI_USAGE;
			}
			t->kind = (unsigned)k;
			break;
		case 's':
			t->symbol = optarg;
			break;
		case 'I':
			if ((t->interval_s = tr_interval_parse(optarg)) < 0) {
				fprintf(stderr, "tickring tail: bad interval '%s'\n", optarg);
				return TR_CLI_USAGE;
			}
			break;
		case 'j':
			t->json = true;
			break;
		case 'f':
			if (!strcmp(optarg, "oldest")) {
				t->join = TR_JOIN_OLDEST;
			} else if (!strcmp(optarg, "tail")) {
				t->join = TR_JOIN_TAIL;
			} else {
				fprintf(stderr, "tickring tail: --from oldest|tail, not '%s'\n",
					optarg);
				return TR_CLI_USAGE;
			}
			break;
		case 'n':
			errno = 0;
			t->count = strtoull(optarg, &end, 10);
			if (errno || end == optarg || *end || *optarg == '-' || !t->count) {
				fprintf(stderr, "tickring tail: bad count '%s'\n", optarg);
				return TR_CLI_USAGE;
			}
			break;
		case 'i':
			t->instance = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return -1;
		default:
			fputs(usage, stderr);
			return TR_CLI_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "tickring tail: unexpected argument '%s'\n\n%s", argv[optind],
			usage);
		return TR_CLI_USAGE;
	}
	if (t->interval_s && t->kind != TR_KIND_CANDLE) {
		fputs("tickring tail: --interval needs --kind candles\n", stderr);
		return TR_CLI_USAGE;
	}
	return 0;
}

static void handle_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal; /* no SA_RESTART: a blocked wait returns early */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN); /* a closed pipe becomes EPIPE from fwrite */
}

int tr_cli_tail(int argc, char **argv, const char *instance)
{
	struct tail t = {.instance = instance, .kind = TR_KIND_TRADE, .join = TR_JOIN_TAIL};
	union {
		uint64_t raw[16]; /* the largest record, 8-aligned */
		struct tr_trade trade;
		struct tr_event event;
	} rec;
	int rc, err;

	if ((rc = parse_args(&t, argc, argv)) != 0)
		return rc < 0 ? 0 : rc;
	tr_cli_region_path(t.instance, t.path, sizeof t.path);
	if ((err = tail_open(&t, t.join)) < 0) {
		tr_cli_error(t.path);
		return 1;
	}
	snprintf(t.path, sizeof t.path, "%s", tr_region_path(t.r));
	if (t.symbol && tr_symbol_find(t.r, NULL, t.symbol) < 0)
		fprintf(stderr, "tickring: %s: no symbol %s yet; waiting for it\n", t.path,
			t.symbol);
	handle_signals();
	setvbuf(stdout, NULL, _IOLBF, 0);
	tail_check(&t);

	int64_t next_check = tr_cli_now_mono() + CHECK_NS;
	unsigned since_check = 0;
	rc = 0;
	while (!stop) {
		switch (tr_wait(&t.c, &rec, TR_WAIT_FUTEX, WAIT_NS)) {
		case TR_POLL_RECORD:
			if (wanted(&t, &rec)) {
				if ((err = emit(&t, &rec)) < 0) {
					if (err != -EPIPE) {
						fprintf(stderr, "tickring: stdout: %s\n",
							strerror(-err));
						rc = 1;
					}
					goto out;
				}
				if (++t.printed == t.count)
					goto out;
			}
			if (++since_check & 4095)
				continue; /* a busy ring: look at the clock now and then */
			break;
		case TR_POLL_LAPPED:
			fprintf(stderr, "tickring: lapped: lost %llu %s records\n",
				(unsigned long long)t.c.last_gap, tr_kind_name(t.kind));
			break;
		case TR_POLL_EPOCH:
			fprintf(stderr, "tickring: %s: engine restarted (epoch %llu)\n", t.path,
				(unsigned long long)t.c.epoch);
			break;
		default:
			break;
		}
		int64_t now = tr_cli_now_mono();
		if (now >= next_check) {
			if (stdout_gone())
				break;
			tail_check(&t);
			next_check = now + CHECK_NS;
		}
	}
out:
	if (fflush(stdout) != 0 && errno != EPIPE && !rc) {
		fprintf(stderr, "tickring: stdout: %s\n", strerror(errno));
		rc = 1;
	}
	tr_region_close(t.r);
	free(t.match);
	return rc;
}
