/* parse.c - bench-parse: the venue extractors against cJSON on recorded Binance frames.
 *
 * The frames are the recorded spot BTCUSDT session in ../shared/data/binance-spot (found
 * through $TR_ROOT or --data DIR), loaded into memory first, each in its own slot followed
 * by TR_PARSE_PADDING bytes, so the timed loops do no I/O and no allocation. Sets: raw
 * trade payloads (the /ws form), the same trades in their combined-stream envelope,
 * enveloped bookTicker frames, and every recorded frame in order (depth included). cJSON
 * (Debian's libcjson) does the same work on the trade sets in the same run: parse, find
 * "data" if enveloped, read p, q, t, T, m, s, convert p and q with tr_fixed_parse from
 * their strings, copy the symbol. The general (simdjson) path of tr_parse_binance is
 * timed alone on the trade sets too, as the baseline the fast path is measured against
 * (docs/parsing.md).
 *
 * Timing, on one pinned CPU: after a checked warm-up pass, every set is parsed over and
 * over, in order, for TR_BP_ROUNDS rounds of at least 0.25 s (0.05 s with --quick), and
 * each slice of TR_BP_SLICE consecutive frames is timed on its own (two clock reads per
 * slice, well under 0.1 ns a frame). ns/frame and M/s come from the median pass: each
 * slice's median time over all passes, summed over the slices. That is what the set
 * costs while the parser has the CPU: a slice in which another task took the CPU is one
 * outlier among its column, where on a shared machine it would stretch a whole round's
 * average. "overall" is all frames over all timed time, interference included; "best
 * ns" is the fastest whole pass. Targets (>= 5 M trade frames/s, >= 4x cJSON) print
 * PASS or MISS and never change the exit status; a frame that parses wrong does (exit 1).
 */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "bench_util.h"
#include "tr_fixed.h"
#include "tr_parse.h"

#define TR_BP_LINE_CAP (1u << 20)
#define TR_BP_ROUNDS 7
#define TR_BP_SLICE 1024 /* frames per timed slice */
#define TR_BP_TARGET_MPS 5.0
#define TR_BP_TARGET_RATIO 4.0

/* Frames back to back, each followed by its padding; off[i] .. off[i] + len[i]. */
struct tr_bp_set {
	const char *name;
	char *arena;
	size_t used, cap;
	size_t *off, *len;
	size_t n, ncap;
	size_t bytes;
};

static void tr_bp_die(const char *what)
{
	fprintf(stderr, "bench-parse: %s: %s\n", what, errno ? strerror(errno) : "failed");
	exit(2);
}

static void tr_bp_add(struct tr_bp_set *s, const char *f, size_t len)
{
	if (s->used + len + TR_PARSE_PADDING > s->cap) {
		s->cap = (s->cap ? s->cap * 2 : 1 << 20) + len + TR_PARSE_PADDING;
		if (!(s->arena = realloc(s->arena, s->cap)))
			tr_bp_die("out of memory");
	}
	if (s->n == s->ncap) {
		s->ncap = s->ncap ? s->ncap * 2 : 4096;
		s->off = realloc(s->off, s->ncap * sizeof *s->off);
		s->len = realloc(s->len, s->ncap * sizeof *s->len);
		if (!s->off || !s->len)
			tr_bp_die("out of memory");
	}
	memcpy(s->arena + s->used, f, len);
	memset(s->arena + s->used + len, 0, TR_PARSE_PADDING);
	s->off[s->n] = s->used;
	s->len[s->n++] = len;
	s->used += len + TR_PARSE_PADDING;
	s->bytes += len;
}

/* `<recv ns> {"stream":..,"data":{..}}` -> the enveloped frame and its payload. */
static void tr_bp_load(const char *path, struct tr_bp_set *trade_env, struct tr_bp_set *trade_raw,
		       struct tr_bp_set *quote_env, struct tr_bp_set *all)
{
	char *line = malloc(TR_BP_LINE_CAP);
	gzFile gz = gzopen(path, "rb");

	if (!line || !gz)
		tr_bp_die(path);
	while (gzgets(gz, line, TR_BP_LINE_CAP)) {
		char *f = strchr(line, '{');

		if (!f)
			continue;
		size_t len = strcspn(f, "\r\n");

		tr_bp_add(all, f, len);
		if (strstr(f, "\"stream\":\"") && strstr(f, "@trade\"")) {
			const char *d = strstr(f, "\"data\":") + 7;

			tr_bp_add(trade_env, f, len);
			tr_bp_add(trade_raw, d, (size_t)(f + len - 1 - d)); /* drop the last '}' */
		} else if (strstr(f, "@bookTicker\"")) {
			tr_bp_add(quote_env, f, len);
		}
	}
	gzclose(gz);
	free(line);
}

static double tr_bp_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- the two contestants ------------------------------------------------------ */

static volatile int64_t tr_bp_sink;

/* tr_parse_binance (or, general, its simdjson path alone) over frames [from, to) of a
 * set; returns frames that gave `want`. */
static size_t tr_bp_pass_tr(struct tr_parser *p, const struct tr_bp_set *s, int want, int general,
			    size_t from, size_t to)
{
	struct tr_msg m;
	size_t ok = 0;
	int64_t acc = 0;

	for (size_t i = from; i < to; i++) {
		const char *f = s->arena + s->off[i];
		int k = general ? (int)tr_parse_binance_simdjson(p, f, s->len[i], &m)
				: (int)tr_parse_binance(p, f, s->len[i], &m);

		ok += want < 0 ? k != TR_MSG_BAD : k == want;
		acc += m.u.trade.price;
	}
	tr_bp_sink = acc;
	return ok;
}

/* The same fields through cJSON: parse, p, q, t, T, m, s, and the decimals. */
static size_t tr_bp_pass_cjson(const struct tr_bp_set *s, size_t from, size_t to)
{
	size_t ok = 0;
	int64_t acc = 0;

	for (size_t i = from; i < to; i++) {
		cJSON *root = cJSON_ParseWithLength(s->arena + s->off[i], s->len[i]);
		cJSON *d = root ? cJSON_GetObjectItemCaseSensitive(root, "data") : NULL;
		cJSON *o = d ? d : root;
		int64_t px, qty;
		char sym[32];

		if (!o)
			goto next;
		cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "p");
		cJSON *q = cJSON_GetObjectItemCaseSensitive(o, "q");
		cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "t");
		cJSON *tt = cJSON_GetObjectItemCaseSensitive(o, "T");
		cJSON *mk = cJSON_GetObjectItemCaseSensitive(o, "m");
		cJSON *sy = cJSON_GetObjectItemCaseSensitive(o, "s");

		if (!cJSON_IsString(p) || !cJSON_IsString(q) || !cJSON_IsNumber(t) ||
		    !cJSON_IsNumber(tt) || !cJSON_IsBool(mk) || !cJSON_IsString(sy) ||
		    strlen(sy->valuestring) >= sizeof sym)
			goto next;
		if (tr_fixed_parse(p->valuestring, strlen(p->valuestring), &px) ||
		    tr_fixed_parse(q->valuestring, strlen(q->valuestring), &qty))
			goto next;
		strcpy(sym, sy->valuestring);
		acc += px + qty + (int64_t)t->valuedouble + (int64_t)tt->valuedouble +
		       cJSON_IsTrue(mk) + sym[0];
		ok++;
	next:
		cJSON_Delete(root);
	}
	tr_bp_sink = acc;
	return ok;
}

struct tr_bp_result {
	double mps, ns, mbps; /* from the median slice */
	double best_ns;	      /* the fastest whole pass over the set, per frame */
	double overall_mps;   /* all frames over all timed time */
	size_t ok, n;
};

enum tr_bp_who { TR_BP_PARSE, TR_BP_GENERAL, TR_BP_CJSON };

static int tr_bp_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* TR_BP_ROUNDS rounds of whole passes, each round at least min_s long, every
 * slice of TR_BP_SLICE frames timed; see the top of the file. */
static struct tr_bp_result tr_bp_run(struct tr_parser *p, const struct tr_bp_set *s, int want,
				     enum tr_bp_who who, double min_s)
{
	int cjson = who == TR_BP_CJSON, general = who == TR_BP_GENERAL;
	size_t nsl = (s->n + TR_BP_SLICE - 1) / TR_BP_SLICE, passes = 0, cap = 0;
	struct tr_bp_result r = {0};
	double *t_sl = NULL, *col = malloc(sizeof *col), timed = 0, median = 0;

	r.n = s->n;
	r.best_ns = 1e30;
	r.ok = cjson ? tr_bp_pass_cjson(s, 0, s->n)
		     : tr_bp_pass_tr(p, s, want, general, 0, s->n); /* warm-up, checked */
	for (int round = 0; round < TR_BP_ROUNDS; round++) {
		double t0 = tr_bp_now();

		do {
			double pass = 0;

			if (passes == cap) {
				cap = cap ? 2 * cap : 64;
				if (!(t_sl = realloc(t_sl, cap * nsl * sizeof *t_sl)))
					tr_bp_die("out of memory");
			}
			for (size_t j = 0; j < nsl; j++) {
				size_t from = j * TR_BP_SLICE;
				size_t to = from + TR_BP_SLICE < s->n ? from + TR_BP_SLICE : s->n;
				double a = tr_bp_now();

				if (cjson)
					tr_bp_pass_cjson(s, from, to);
				else
					tr_bp_pass_tr(p, s, want, general, from, to);
				a = tr_bp_now() - a;
				t_sl[passes * nsl + j] = a;
				pass += a;
			}
			passes++;
			timed += pass;
			if (pass * 1e9 / (double)s->n < r.best_ns)
				r.best_ns = pass * 1e9 / (double)s->n;
		} while (tr_bp_now() - t0 < min_s);
	}
	/* the median pass: each slice's median over the passes, summed */
	if (!(col = realloc(col, passes * sizeof *col)))
		tr_bp_die("out of memory");
	for (size_t j = 0; j < nsl; j++) {
		for (size_t k = 0; k < passes; k++)
			col[k] = t_sl[k * nsl + j];
		qsort(col, passes, sizeof *col, tr_bp_cmp);
		median += col[passes / 2];
	}
	r.ns = median * 1e9 / (double)s->n;
	r.mps = 1e3 / r.ns;
	r.mbps = r.mps * (double)s->bytes / (double)s->n;
	r.overall_mps = (double)(passes * s->n) / timed / 1e6;
	free(t_sl);
	free(col);
	return r;
}

/* ---- machine and output ------------------------------------------------------ */

struct tr_bp_metric {
	const char *name;
	double v;
};

static int tr_bp_write_json(const char *path, const struct bu_machine *m,
			    const struct tr_bp_metric *mt, int n, const char *data)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		fprintf(stderr, "bench-parse: %s: %s\n", path, strerror(errno));
		return -1;
	}
	fprintf(f, "{\n  \"machine\": {\"cpu\": ");
	bu_json_str(f, m->cpu);
	fprintf(f, ", \"cores\": %ld, \"kernel\": ", m->cores);
	bu_json_str(f, m->kernel);
	fprintf(f, ", \"date\": \"%s\"},\n  \"config\": {\"data\": ", m->date);
	bu_json_str(f, data);
	fprintf(f, ", \"rounds\": %d, \"slice\": %d},\n  \"metrics\": {", TR_BP_ROUNDS,
		TR_BP_SLICE);
	for (int i = 0; i < n; i++)
		fprintf(f, "%s\n    \"%s\": %.6g", i ? "," : "", mt[i].name, mt[i].v);
	fprintf(f, "\n  }\n}\n");
	return fclose(f);
}

static void tr_bp_usage(FILE *f)
{
	fprintf(f,
		"usage: bench-parse [--quick] [--results-dir DIR] [--data DIR] [--cpu N]\n"
		"Venue extractors against cJSON on recorded Binance spot frames.\n"
		"  --quick            shorter rounds (about 3 s in all)\n"
		"  --results-dir DIR  write DIR/parse.json\n"
		"  --data DIR         the shared data directory (default $TR_ROOT/../shared/data)\n"
		"  --cpu N            pin to CPU N (default: the first allowed)\n");
}

static void tr_bp_row(const char *name, const struct tr_bp_result *r)
{
	printf("  %-34s %8zu %9.2f %9.1f %9.0f %9.1f %9.2f\n", name, r->n, r->mps, r->ns, r->mbps,
	       r->best_ns, r->overall_mps);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"quick", no_argument, NULL, 'q'},	    {"results-dir", required_argument, NULL, 'r'},
	    {"data", required_argument, NULL, 'd'}, {"cpu", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},	    {NULL, 0, NULL, 0},
	};
	const char *results = NULL, *root = getenv("TR_ROOT");
	char data[4096], path[4400];
	double min_s = 0.25;
	int cpu = -1, c;

	snprintf(data, sizeof data, "%s/../shared/data", root ? root : ".");
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'q':
			min_s = 0.05;
			break;
		case 'r':
			results = optarg;
			break;
		case 'd':
			snprintf(data, sizeof data, "%s", optarg);
			break;
		case 'c':
			cpu = atoi(optarg);
			break;
		case 'h':
			tr_bp_usage(stdout);
			return 0;
		default:
			tr_bp_usage(stderr);
			return 2;
		}
	}
	if (access(data, R_OK) != 0 && !root) {
		/* Run from the repository root without TR_ROOT. */
		snprintf(data, sizeof data, "../shared/data");
	}
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof set, &set) == 0) {
		for (int i = 0; cpu < 0 && i < CPU_SETSIZE; i++)
			if (CPU_ISSET(i, &set))
				cpu = i;
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof set, &set) != 0)
			fprintf(stderr, "bench-parse: pin to cpu %d: %s\n", cpu, strerror(errno));
	}

	struct tr_bp_set trade_env = {"trade, enveloped"}, trade_raw = {"trade, raw payload"};
	struct tr_bp_set quote_env = {"bookTicker, enveloped"}, all = {"every frame, in order"};
	static const char *files[] = {"btcusdt_20240808.gz", "btcusdt_20240809.gz"};

	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof path, "%s/binance-spot/%s", data, files[i]);
		tr_bp_load(path, &trade_env, &trade_raw, &quote_env, &all);
	}
	struct tr_parser *p = tr_parser_new();
	struct bu_machine mach;

	if (!p)
		tr_bp_die("tr_parser_new");
	bu_machine(&mach);
	printf("bench-parse: %s, %ld cores, %s, pinned to cpu %d\n", mach.cpu, mach.cores,
	       mach.kernel, cpu);
	printf("data: %s/binance-spot/btcusdt_2024080{8,9}.gz: %zu frames (%zu trades, %zu "
	       "bookTicker)\n\n",
	       data, all.n, trade_env.n, quote_env.n);

	struct tr_bp_result tr_raw = tr_bp_run(p, &trade_raw, TR_MSG_TRADE, TR_BP_PARSE, min_s);
	struct tr_bp_result tr_env = tr_bp_run(p, &trade_env, TR_MSG_TRADE, TR_BP_PARSE, min_s);
	struct tr_bp_result tr_q = tr_bp_run(p, &quote_env, TR_MSG_QUOTE, TR_BP_PARSE, min_s);
	struct tr_bp_result tr_all = tr_bp_run(p, &all, -1, TR_BP_PARSE, min_s);
	struct tr_bp_result gen_raw = tr_bp_run(p, &trade_raw, TR_MSG_TRADE, TR_BP_GENERAL, min_s);
	struct tr_bp_result gen_env = tr_bp_run(p, &trade_env, TR_MSG_TRADE, TR_BP_GENERAL, min_s);
	struct tr_bp_result cj_raw = tr_bp_run(NULL, &trade_raw, 0, TR_BP_CJSON, min_s);
	struct tr_bp_result cj_env = tr_bp_run(NULL, &trade_env, 0, TR_BP_CJSON, min_s);
	int wrong = tr_raw.ok != tr_raw.n || tr_env.ok != tr_env.n || tr_q.ok != tr_q.n ||
		    tr_all.ok != tr_all.n || gen_raw.ok != gen_raw.n || gen_env.ok != gen_env.n ||
		    cj_raw.ok != cj_raw.n || cj_env.ok != cj_env.n;

	printf("  %-34s %8s %9s %9s %9s %9s %9s\n", "set", "frames", "M/s", "ns/frame", "MB/s",
	       "best ns", "overall");
	tr_bp_row("tr_parse_binance: trade, raw", &tr_raw);
	tr_bp_row("tr_parse_binance: trade, envelope", &tr_env);
	tr_bp_row("tr_parse_binance: bookTicker, env.", &tr_q);
	tr_bp_row("tr_parse_binance: every frame", &tr_all);
	tr_bp_row("simdjson path only: trade, raw", &gen_raw);
	tr_bp_row("simdjson path only: trade, env.", &gen_env);
	tr_bp_row("cJSON: trade, raw", &cj_raw);
	tr_bp_row("cJSON: trade, envelope", &cj_env);

	double ratio_raw = tr_raw.mps / cj_raw.mps, ratio_env = tr_env.mps / cj_env.mps;

	printf("\n  targets\n");
	printf("  %-44s %6.2f M/s  %s\n", "trade frames/s, raw (>= 5 M)", tr_raw.mps,
	       tr_raw.mps >= TR_BP_TARGET_MPS ? "PASS" : "MISS");
	printf("  %-44s %6.2f M/s  %s\n", "trade frames/s, envelope (>= 5 M)", tr_env.mps,
	       tr_env.mps >= TR_BP_TARGET_MPS ? "PASS" : "MISS");
	printf("  %-44s %6.2f x    %s\n", "vs cJSON, raw trades (>= 4x)", ratio_raw,
	       ratio_raw >= TR_BP_TARGET_RATIO ? "PASS" : "MISS");
	printf("  %-44s %6.2f x    %s\n", "vs cJSON, enveloped trades (>= 4x)", ratio_env,
	       ratio_env >= TR_BP_TARGET_RATIO ? "PASS" : "MISS");
	if (wrong)
		fprintf(stderr,
			"bench-parse: frames parsed wrong: %zu/%zu %zu/%zu %zu/%zu %zu/%zu "
			"%zu/%zu %zu/%zu %zu/%zu %zu/%zu\n",
			tr_raw.ok, tr_raw.n, tr_env.ok, tr_env.n, tr_q.ok, tr_q.n, tr_all.ok,
			tr_all.n, gen_raw.ok, gen_raw.n, gen_env.ok, gen_env.n, cj_raw.ok, cj_raw.n,
			cj_env.ok, cj_env.n);

	const struct tr_bp_metric mt[] = {
	    {"parse_trade_mps", tr_raw.mps},
	    {"parse_trade_ns", tr_raw.ns},
	    {"parse_envelope_mps", tr_env.mps},
	    {"parse_envelope_ns", tr_env.ns},
	    {"parse_bookticker_mps", tr_q.mps},
	    {"parse_bookticker_ns", tr_q.ns},
	    {"parse_all_frames_mps", tr_all.mps},
	    {"parse_all_frames_ns", tr_all.ns},
	    {"simdjson_path_trade_mps", gen_raw.mps},
	    {"simdjson_path_trade_ns", gen_raw.ns},
	    {"simdjson_path_envelope_mps", gen_env.mps},
	    {"simdjson_path_envelope_ns", gen_env.ns},
	    {"cjson_trade_mps", cj_raw.mps},
	    {"cjson_trade_ns", cj_raw.ns},
	    {"cjson_envelope_mps", cj_env.mps},
	    {"cjson_envelope_ns", cj_env.ns},
	    {"ratio_trade_vs_cjson", ratio_raw},
	    {"ratio_envelope_vs_cjson", ratio_env},
	    {"parse_trade_best_ns", tr_raw.best_ns},
	    {"parse_envelope_best_ns", tr_env.best_ns},
	    {"parse_bookticker_best_ns", tr_q.best_ns},
	    {"simdjson_path_trade_best_ns", gen_raw.best_ns},
	    {"cjson_trade_best_ns", cj_raw.best_ns},
	    {"parse_trade_overall_mps", tr_raw.overall_mps},
	    {"parse_envelope_overall_mps", tr_env.overall_mps},
	    {"parse_bookticker_overall_mps", tr_q.overall_mps},
	    {"cjson_trade_overall_mps", cj_raw.overall_mps},
	    {"frames_trade", (double)trade_raw.n},
	    {"frames_bookticker", (double)quote_env.n},
	    {"frames_all", (double)all.n},
	};
	if (results) {
		snprintf(path, sizeof path, "%s/parse.json", results);
		if (tr_bp_write_json(path, &mach, mt, (int)(sizeof mt / sizeof mt[0]), data) != 0)
			return 2;
	}
	tr_parser_free(p);
	return wrong ? 1 : 0;
}
