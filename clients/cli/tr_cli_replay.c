/* tr_cli_replay.c - `tickring replay FILE...`: the engine's replay, from the CLI.
 *
 * Runs the same code as `tickringd --replay`: capture files in, records into
 * the instance's region (and journal, with --journal-dir), at the original
 * pace, N times faster, or as fast as possible, with a progress line on a
 * terminal. Handy to fill a region for a client without running a daemon.
 */
#define _GNU_SOURCE
#include "tr_cli.h"

#include "tr_config.h"
#include "tr_engine.h"
#include "tr_err.h"
#include "tr_replay.h"
#include "tr_uring.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: tickring [--instance NAME] replay [--speed N|max] [--DIRECTIVE VALUE]... FILE...\n"
    "\n"
    "Replay capture files (one frame per line: `<recv ns or us> <frame>`, plain or\n"
    "gzip) into the instance's region, as `tickringd --replay` does.\n"
    "\n"
    "  --speed N|max   1 = the original pace, N = N times faster, max (default)\n"
    "  --DIRECTIVE V   any tickringd directive (see tickringd --help), e.g.\n"
    "                  --journal-dir DIR, --ring-slots 65536\n";

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int tr_cli_replay(int argc, char **argv, const char *instance)
{
	static struct tr_config cfg;
	static char *args[1024];
	struct tr_uring u;
	struct tr_engine *e;
	struct tr_replay_stats st;
	int n = 0, files = 0, rc;

	tr_config_default(&cfg);
	if (instance)
		snprintf(cfg.instance, sizeof cfg.instance, "%s", instance);
	/* Into tickringd's argv: --speed is --replay-speed, the files follow --replay. */
	args[n++] = argv[0];
	for (int i = 1; i < argc && n < 1000; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(usage, stdout);
			return 0;
		}
		if (strncmp(argv[i], "--", 2))
			continue;
		if (i + 1 >= argc) {
			fprintf(stderr, "tickring replay: %s needs a value\n%s", argv[i], usage);
			return TR_CLI_USAGE;
		}
		args[n++] = !strcmp(argv[i], "--speed") ? (char *)"--replay-speed" : argv[i];
		args[n++] = argv[++i];
	}
	args[n++] = (char *)"--replay";
	for (int i = 1; i < argc && n < 1020; i++) {
		if (!strncmp(argv[i], "--", 2)) {
			i++;
			continue;
		}
		args[n++] = argv[i];
		files++;
	}
	if (!files) {
		fprintf(stderr, "tickring replay: no capture file given\n%s", usage);
		return TR_CLI_USAGE;
	}
	if (tr_config_args(&cfg, n, args) < 0 || tr_config_check(&cfg) < 0) {
		fprintf(stderr, "tickring replay: %s\n", tr_errmsg());
		return TR_CLI_USAGE;
	}
	if (instance)
		snprintf(cfg.instance, sizeof cfg.instance, "%s", instance);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if ((rc = tr_uring_init(&u, 256)) < 0) {
		fprintf(stderr, "tickring replay: io_uring: %s\n", strerror(-rc));
		return 1;
	}
	if (tr_engine_open(&e, &cfg, &u) < 0) {
		fprintf(stderr, "tickring replay: %s\n", tr_errmsg());
		tr_uring_exit(&u);
		return 1;
	}
	rc = tr_replay_run(e, &u, &cfg, &stop, &st) < 0;
	if (rc)
		fprintf(stderr, "tickring replay: %s\n", tr_errmsg());
	fprintf(stderr, "tickring replay: %llu frames, %llu records in %.2f s (%llu bad lines)\n",
		(unsigned long long)st.frames, (unsigned long long)st.records, st.seconds,
		(unsigned long long)st.bad_lines);
	tr_engine_close(e);
	tr_uring_exit(&u);
	return rc;
}
