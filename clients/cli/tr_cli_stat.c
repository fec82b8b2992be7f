/* tr_cli_stat.c - `tickring stat`: what is in a region and is its engine alive.
 *
 * Opens the region in any state (a stopped or dead engine is exactly what one
 * wants to inspect), samples every ring's head twice half a second apart for
 * a rate, and prints the superblock, rings, non-zero counters and tables, as
 * text or as one JSON object. The exit status is the liveness verdict, so
 * scripts and health checks can use `tickring stat >/dev/null`.
 */
#define _GNU_SOURCE
#include "tr_cli.h"

#include "tr_atomic.h"
#include "tr_format.h"
#include "tr_layout.h"
#include "tr_reader.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define SAMPLE_NS 500000000ll

static const char usage[] =
    "usage: tickring [--instance NAME] stat [--json]\n"
    "\n"
    "Show the region's superblock, rings (capacity, head, records/s, laps), non-zero\n"
    "counters, symbols and venues, and whether the engine is alive.\n"
    "\n"
    "  -j, --json           one JSON object instead of text\n"
    "  -i, --instance NAME  region instance (also accepted before the command)\n"
    "  -h, --help           this help\n"
    "\n"
    "Exit: 0 if the engine is alive, 1 if it is not or the region cannot be opened.\n";

struct sample {
	uint64_t head0[TR_NKINDS], head1[TR_NKINDS];
	double secs;
	int live;
	char verdict[512];
};

static const char *state_name(uint32_t s)
{
	return s == TR_STATE_INIT      ? "init"
	       : s == TR_STATE_RUNNING ? "running"
	       : s == TR_STATE_STOPPED ? "stopped"
				       : "unknown";
}

static void iso_time(int64_t ns, char *buf, size_t len)
{
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;

	if (ns <= 0 || !gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "-");
}

/* A name from the region as printable text. */
static void clean(const char *s, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n && s[i]; i++)
		out[i] = s[i] >= ' ' && s[i] <= '~' ? s[i] : '?';
	out[i] = 0;
}

static void take_sample(const struct tr_region *r, struct sample *s)
{
	struct timespec ts = {0, SAMPLE_NS};
	int64_t t0, t1;

	t0 = tr_cli_now_mono();
	for (unsigned k = 0; k < TR_NKINDS; k++)
		s->head0[k] = tr_region_head(r, k);
	nanosleep(&ts, NULL);
	t1 = tr_cli_now_mono();
	for (unsigned k = 0; k < TR_NKINDS; k++)
		s->head1[k] = tr_region_head(r, k);
	s->secs = (double)(t1 - t0) / 1e9;
	s->live = tr_region_liveness(r, 0) == 0;
	snprintf(s->verdict, sizeof s->verdict, "%s", s->live ? "alive" : tr_errmsg());
}

static double rate(const struct sample *s, unsigned k)
{
	/* A restart may move head back; no rate is better than a negative one. */
	if (s->head1[k] < s->head0[k] || s->secs <= 0)
		return 0;
	return (double)(s->head1[k] - s->head0[k]) / s->secs;
}

static void print_text(const struct tr_region *r, const struct sample *s)
{
	const struct tr_superblock *sb = tr_region_superblock(r);
	char inst[TR_NAME_LEN + 1], created[40], started[40], iv[TR_INTERVAL_BUFSZ];
	int64_t now = tr_cli_now_real();

	clean(sb->instance, sizeof sb->instance, inst);
	iso_time(sb->created_ns, created, sizeof created);
	iso_time(tr_load_relaxed(&sb->start_ns), started, sizeof started);
	printf("region     %s\n", tr_region_path(r));
	printf("instance   %s\n", inst);
	printf("abi        version %u, layout hash %08x\n", sb->abi_version, sb->layout_hash);
	printf("size       %.1f MiB (%" PRIu64 " bytes), created %s\n",
	       (double)sb->region_size / 1048576.0, sb->region_size, created);
	printf("epoch      %" PRIu64 ", started %s\n", tr_region_epoch(r), started);
	printf("engine     pid %d, %s, heartbeat %.2f s ago\n", tr_load_relaxed(&sb->engine_pid),
	       state_name(tr_load_relaxed(&sb->state)),
	       (double)(now - tr_load_relaxed(&sb->heartbeat_ns)) / 1e9);
	printf("liveness   %s\n", s->verdict);
	printf("intervals ");
	for (uint32_t i = 0; i < sb->interval_count && i < TR_MAX_INTERVALS; i++)
		printf(" %s", tr_interval_name(sb->intervals_s[i], iv));
	printf("\nsymbols    %u of %u\nvenues    ", tr_symbol_count(r), sb->symbol_capacity);
	for (uint32_t v = 0; v < tr_venue_count(r); v++) {
		char name[TR_VENUE_LEN + 1];

		clean(tr_venue_name(r, v), TR_VENUE_LEN, name);
		printf(" %s", name);
	}
	printf("\n\n%-8s %12s %5s %14s %12s %10s %14s\n", "ring", "capacity", "slot", "head",
	       "records/s", "lap_events", "lapped_records");
	for (unsigned k = 0; k < TR_NKINDS; k++) {
		uint64_t ev, recs;

		tr_region_laps(r, k, &ev, &recs);
		printf("%-8s %12" PRIu64 " %5u %14" PRIu64 " %12.1f %10" PRIu64 " %14" PRIu64 "\n",
		       tr_kind_name(k), sb->rings[k].slot_count, sb->rings[k].slot_size,
		       s->head1[k], rate(s, k), ev, recs);
	}
	bool any = false;
	for (unsigned i = 0; i < TR_MAX_COUNTERS; i++) {
		uint64_t v = tr_region_counter(r, i);
		const char *name = tr_counter_name(i);

		if (!v)
			continue;
		if (!any)
			printf("\ncounters\n");
		any = true;
		if (name)
			printf("  %-20s %" PRIu64 "\n", name, v);
		else
			printf("  counter_%-12u %" PRIu64 "\n", i, v);
	}
}

static void json_str(const char *s, size_t n)
{
	char buf[TR_FORMAT_BUFSZ];

	if (tr_format_json_string(s, n, buf, sizeof buf) < 0)
		snprintf(buf, sizeof buf, "\"\"");
	fputs(buf, stdout);
}

static void print_json(const struct tr_region *r, const struct sample *s)
{
	const struct tr_superblock *sb = tr_region_superblock(r);
	const char *path = tr_region_path(r);
	char iv[TR_INTERVAL_BUFSZ];
	int64_t hb = tr_load_relaxed(&sb->heartbeat_ns); /* the liveness line is rewritten live */

	printf("{\"path\":");
	json_str(path, strlen(path));
	printf(",\"instance\":");
	json_str(sb->instance, sizeof sb->instance);
	printf(",\"abi_version\":%u,\"layout_hash\":\"%08x\",\"region_size\":%" PRIu64
	       ",\"created_ns\":%" PRId64 ",\"epoch\":%" PRIu64 ",\"start_ns\":%" PRId64
	       ",\"engine_pid\":%d,\"state\":\"%s\",\"heartbeat_ns\":%" PRId64
	       ",\"heartbeat_age_ns\":%" PRId64 ",\"alive\":%s,\"liveness\":",
	       sb->abi_version, sb->layout_hash, sb->region_size, sb->created_ns,
	       tr_region_epoch(r), tr_load_relaxed(&sb->start_ns), tr_load_relaxed(&sb->engine_pid),
	       state_name(tr_load_relaxed(&sb->state)), hb, tr_cli_now_real() - hb,
	       s->live ? "true" : "false");
	json_str(s->verdict, sizeof s->verdict);
	printf(",\"intervals\":[");
	for (uint32_t i = 0; i < sb->interval_count && i < TR_MAX_INTERVALS; i++)
		printf("%s\"%s\"", i ? "," : "", tr_interval_name(sb->intervals_s[i], iv));
	printf("],\"symbol_count\":%u,\"symbol_capacity\":%u,\"venues\":[", tr_symbol_count(r),
	       sb->symbol_capacity);
	for (uint32_t v = 0; v < tr_venue_count(r); v++) {
		if (v)
			putchar(',');
		json_str(tr_venue_name(r, v), TR_VENUE_LEN);
	}
	printf("],\"rings\":[");
	for (unsigned k = 0; k < TR_NKINDS; k++) {
		uint64_t ev, recs;

		tr_region_laps(r, k, &ev, &recs);
		printf("%s{\"kind\":\"%s\",\"capacity\":%" PRIu64
		       ",\"slot_size\":%u,\"head\":%" PRIu64
		       ",\"rate\":%.1f,\"lap_events\":%" PRIu64 ",\"lapped_records\":%" PRIu64 "}",
		       k ? "," : "", tr_kind_name(k), sb->rings[k].slot_count,
		       sb->rings[k].slot_size, s->head1[k], rate(s, k), ev, recs);
	}
	printf("],\"counters\":{");
	bool first = true;
	for (unsigned i = 0; i < TR_MAX_COUNTERS; i++) {
		uint64_t v = tr_region_counter(r, i);
		const char *name = tr_counter_name(i);

		if (!v)
			continue;
		if (name)
			printf("%s\"%s\":%" PRIu64, first ? "" : ",", name, v);
		else
			printf("%s\"counter_%u\":%" PRIu64, first ? "" : ",", i, v);
		first = false;
	}
	printf("}}\n");
}

int tr_cli_stat(int argc, char **argv, const char *instance)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"instance", required_argument, NULL, 'i'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct tr_region *r;
	struct sample s;
	bool json = false;
	char path[300];
	int c;

	while ((c = getopt_long(argc, argv, "ji:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'i':
			instance = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return TR_CLI_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "tickring stat: unexpected argument '%s'\n\n%s", argv[optind],
			usage);
		return TR_CLI_USAGE;
	}
	tr_cli_region_path(instance, path, sizeof path);
	if (tr_region_open(&r, instance, TR_OPEN_ANY_STATE) < 0) {
		tr_cli_error(path);
		return 1;
	}
	take_sample(r, &s);
	if (json)
		print_json(r, &s);
	else
		print_text(r, &s);
	fflush(stdout);
	if (!s.live)
		fprintf(stderr, "tickring: %s: engine is not alive: %s\n", tr_region_path(r),
			s.verdict);
	tr_region_close(r);
	return s.live ? 0 : 1;
}
