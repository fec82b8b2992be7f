/* tr_cli.h - the pieces the `tickring` commands share.
 *
 * Each command is one function taking its own argv (argv[0] is the command
 * name) and the instance chosen with the global --instance (NULL: the
 * library's default). It returns the process exit status: 0 success, 1 an
 * operational failure (no region, engine down), 2 a usage error.
 */
#ifndef TR_CLI_H
#define TR_CLI_H

#include <stddef.h>
#include <stdint.h>

#define TR_CLI_USAGE 2

int tr_cli_tail(int argc, char **argv, const char *instance);
int tr_cli_stat(int argc, char **argv, const char *instance);
int tr_cli_top(int argc, char **argv, const char *instance);
int tr_cli_replay(int argc, char **argv, const char *instance);
int tr_cli_mirror(int argc, char **argv, const char *instance);

/* Print "tickring: <path>: <tr_errmsg()>" on stderr, without repeating the
 * path when the message already starts with it. */
void tr_cli_error(const char *path);

/* The region path an instance name resolves to, as tr_region_open() does. */
void tr_cli_region_path(const char *instance, char *buf, size_t len);

int64_t tr_cli_now_mono(void);
int64_t tr_cli_now_real(void);

#endif
