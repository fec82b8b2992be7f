/* tr_cli.c - `tickring`: the command-line entry point and shared helpers.
 *
 *   tickring [--instance NAME] <command> [options]
 *
 * The global options are parsed up to the command name; the command parses
 * the rest itself, so `tickring tail --help` and `tickring --help` both work
 * and each command's usage lives next to its code.
 */
#define _GNU_SOURCE
#include "tr_cli.h"

#include "tr_reader.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char usage[] =
    "usage: tickring [--instance NAME] <command> [options]\n"
    "\n"
    "Read a tickring engine's shared-memory region.\n"
    "\n"
    "commands:\n"
    "  tail    print trades, quotes, candles or events as they arrive\n"
    "  stat    show the region, its rings and counters, and whether the engine is alive\n"
    "  top     live view: last price, change, volume, trades/s, spread and lag per symbol\n"
    "  replay  replay capture files into a region\n"
    "  mirror  send the rings to Kafka or Redis (kafka | redis), as tickringd can\n"
    "\n"
    "options:\n"
    "  -i, --instance NAME  region instance (default $TICKRING_INSTANCE or \"default\");\n"
    "                       a name containing '/' is a path to the region file\n"
    "  -h, --help           this help; `tickring <command> --help` for a command\n"
    "\n"
    "Regions live in $TICKRING_DIR, default /dev/shm.\n";

void tr_cli_region_path(const char *name, char *buf, size_t len)
{
	const char *dir = getenv("TICKRING_DIR");

	if (!name || !*name)
		name = getenv("TICKRING_INSTANCE");
	if (!name || !*name)
		name = "default";
	if (strchr(name, '/'))
		snprintf(buf, len, "%s", name);
	else
		snprintf(buf, len, "%s/tickring.%s", dir && *dir ? dir : "/dev/shm", name);
}

void tr_cli_error(const char *path)
{
	const char *msg = tr_errmsg();
	size_t n = path ? strlen(path) : 0;

	if (n && !strncmp(msg, path, n) && msg[n] == ':')
		fprintf(stderr, "tickring: %s\n", msg);
	else if (n)
		fprintf(stderr, "tickring: %s: %s\n", path, msg);
	else
		fprintf(stderr, "tickring: %s\n", msg);
}

static int64_t now(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t tr_cli_now_mono(void)
{
	return now(CLOCK_MONOTONIC);
}

int64_t tr_cli_now_real(void)
{
	return now(CLOCK_REALTIME);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"instance", required_argument, NULL, 'i'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *instance = NULL;
	int c;

	/* '+': stop at the command name; its options are its own. */
	while ((c = getopt_long(argc, argv, "+i:h", opts, NULL)) != -1) {
		switch (c) {
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
	if (optind >= argc) {
		fputs(usage, stderr);
		return TR_CLI_USAGE;
	}
	const char *cmd = argv[optind];
	argc -= optind;
	argv += optind;
	optind = 0; /* glibc: full re-initialisation for the command's parse */
	if (!strcmp(cmd, "tail"))
		return tr_cli_tail(argc, argv, instance);
	if (!strcmp(cmd, "stat"))
		return tr_cli_stat(argc, argv, instance);
	if (!strcmp(cmd, "top"))
		return tr_cli_top(argc, argv, instance);
	if (!strcmp(cmd, "replay"))
		return tr_cli_replay(argc, argv, instance);
	if (!strcmp(cmd, "mirror"))
		return tr_cli_mirror(argc, argv, instance);
	if (!strcmp(cmd, "help")) {
		fputs(usage, stdout);
		return 0;
	}
	fprintf(stderr, "tickring: unknown command '%s'\n\n%s", cmd, usage);
	return TR_CLI_USAGE;
}
