/* tr_cli_mirror.c - `tickring mirror kafka|redis`: a mirror as its own process.
 *
 * Runs the same code as the mirror threads inside tickringd, with the same
 * directives, against a running (or not yet running) engine's region and
 * journal. Useful to mirror from another user account, to restart a mirror
 * without touching the engine, or to run several mirrors of one region.
 * Stops on SIGINT/SIGTERM after flushing and saving its checkpoint.
 */
#define _GNU_SOURCE
#include "tr_cli.h"

#include "tr_config.h"
#include "tr_err.h"
#include "tr_mirror.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: tickring [--instance NAME] mirror kafka|redis [--config FILE] [--DIRECTIVE VALUE]...\n"
    "\n"
    "Mirror the instance's rings to Kafka or Redis, as tickringd does when the\n"
    "mirror is configured; reads tickringd's config file (only `instance`,\n"
    "`shm-dir`, `journal-dir` and the mirror's own directives matter here).\n"
    "\n"
    "  --config FILE   tickringd config file\n"
    "  --DIRECTIVE V   any directive, e.g. --kafka-brokers 127.0.0.1:9092,\n"
    "                  --redis-url redis://127.0.0.1:6379/0, --journal-dir DIR\n";

static atomic_int stop;

static void on_signal(int sig)
{
	(void)sig;
	/* Lock-free atomic, so safe in a handler; pairs with the mirror loop's load. */
	atomic_store(&stop, 1);
}

int tr_cli_mirror(int argc, char **argv, const char *instance)
{
	static struct tr_config cfg;
	static struct tr_mirror_opt opts[TR_CFG_MAX_MIRROR_OPTS];
	static struct tr_mirror_stats st;
	char region[320];
	const struct tr_mirror_def *def;
	struct sigaction sa;
	int rc;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? TR_CLI_USAGE : 0;
	}
	if (!(def = tr_mirror_by_name(argv[1]))) {
		fprintf(stderr, "tickring mirror: unknown mirror '%s' (kafka or redis)\n", argv[1]);
		return TR_CLI_USAGE;
	}
	tr_config_default(&cfg);
	rc = tr_config_args(&cfg, argc - 1, argv + 1);
	if (rc == 1)
		return 0;
	if (rc < 0 || cfg.nreplay) {
		fprintf(stderr, "tickring mirror: %s\n",
			rc < 0 ? tr_errmsg() : "--replay: not here");
		return TR_CLI_USAGE;
	}
	if (instance)
		snprintf(cfg.instance, sizeof cfg.instance, "%s", instance);
	unsigned n = tr_config_mirror_opts(&cfg, def->name, opts, TR_CFG_MAX_MIRROR_OPTS);
	if (!tr_mirror_opt(opts, n, def->enable)) {
		fprintf(stderr, "tickring mirror: %s needs --%s\n", def->name, def->enable);
		return TR_CLI_USAGE;
	}
	if (cfg.shm_dir[0] && !strchr(cfg.instance, '/'))
		snprintf(region, sizeof region, "%s/tickring.%s", cfg.shm_dir, cfg.instance);
	else
		snprintf(region, sizeof region, "%s", cfg.instance);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	struct tr_mirror_args a = {.instance = region,
				   .journal_dir = cfg.journal_dir,
				   .opts = opts,
				   .nopts = n,
				   .stop = &stop,
				   .stats = &st};
	rc = def->run(&a);
	char line[512];

	tr_mirror_stats_line(def->name, &st, line, sizeof line);
	/* Relaxed: run() has returned; a plain counter. */
	fprintf(stderr, "tickring %s, %llu reconnects\n", line,
		(unsigned long long)atomic_load_explicit(&st.reconnects, memory_order_relaxed));
	if (rc < 0) {
		fprintf(stderr, "tickring mirror %s: %s\n", def->name, tr_errmsg());
		return 1;
	}
	return 0;
}
