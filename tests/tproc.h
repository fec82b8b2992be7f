/* tproc.h - per-test bookkeeping for tests that run the project's programs:
 * unique instances, temporary files and child processes, all released by
 * tproc_cleanup() (use it as the test's .fini, so it runs even when an
 * assertion fails). Shared by the CLI and top suites. */
#ifndef TPROC_H
#define TPROC_H

#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tr_writer.h"

#define TPROC_MAX 32

static char tproc_inst[4][64];
static int tproc_ninst;
static pid_t tproc_child[TPROC_MAX];
static int tproc_nchild;
static char tproc_tmp[TPROC_MAX][64];
static int tproc_ntmp;

/* The whole of a file the test's program wrote, NUL-terminated; free() it. */
static inline char *tproc_slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0;

	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	ssize_t n = getdelim(&buf, &cap, '\0', f);
	fclose(f);
	if (n < 0) {
		free(buf);
		return strdup("");
	}
	return buf;
}

static inline void tproc_cleanup(void)
{
	for (int i = 0; i < tproc_nchild; i++)
		if (tproc_child[i] > 0) {
			kill(tproc_child[i], SIGKILL);
			waitpid(tproc_child[i], NULL, 0);
		}
	for (int i = 0; i < tproc_ninst; i++)
		tr_writer_unlink(NULL, tproc_inst[i]);
	for (int i = 0; i < tproc_ntmp; i++)
		unlink(tproc_tmp[i]);
}

/* A fresh instance name "<tag>-<pid>-<n>", unlinked on cleanup. */
static inline const char *tproc_instance(const char *tag)
{
	cr_assert_lt(tproc_ninst, 4);
	char *s = tproc_inst[tproc_ninst++];

	snprintf(s, sizeof tproc_inst[0], "%s-%d-%d", tag, (int)getpid(), tproc_ninst);
	tr_writer_unlink(NULL, s);
	return s;
}

/* A temporary file path, removed on cleanup. */
static inline const char *tproc_tmpfile(const char *tag)
{
	cr_assert_lt(tproc_ntmp, TPROC_MAX);
	char *s = tproc_tmp[tproc_ntmp++];

	snprintf(s, sizeof tproc_tmp[0], "/tmp/tr-%s-%d-%d", tag, (int)getpid(), tproc_ntmp);
	return s;
}

/* Path of a program in $TR_BUILD. */
static inline const char *tproc_prog(const char *name)
{
	static char buf[16][512];
	static int i;
	const char *dir = getenv("TR_BUILD");
	char *b = buf[i++ % 16];

	cr_assert_not_null(dir, "TR_BUILD is not set: run through tests/run.sh");
	snprintf(b, sizeof buf[0], "%s/%s", dir, name);
	return b;
}

/* Remember a child to kill on cleanup. */
static inline void tproc_track(pid_t pid)
{
	cr_assert_lt(tproc_nchild, TPROC_MAX);
	tproc_child[tproc_nchild++] = pid;
}

/* Wait for a child: its exit status, or 128 + signal. */
static inline int tproc_reap(pid_t pid)
{
	int st;

	cr_assert_eq(waitpid(pid, &st, 0), pid);
	for (int i = 0; i < tproc_nchild; i++)
		if (tproc_child[i] == pid)
			tproc_child[i] = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

#endif
