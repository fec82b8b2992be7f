/* e2e.h - helpers for end-to-end tests that run the real programs: start
 * exsim and tickringd as child processes, read exsim's port, wait for the
 * region, follow a ring, stop everything. */
#ifndef E2E_H
#define E2E_H

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tr_reader.h"
#include "tr_writer.h"

static inline int64_t e2e_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline const char *e2e_build(void)
{
	const char *b = getenv("TR_BUILD");

	cr_assert_not_null(b, "TR_BUILD not set: run through tests/run.sh");
	return b;
}

static inline const char *e2e_data(void)
{
	static char p[512];
	const char *r = getenv("TR_ROOT");

	snprintf(p, sizeof p, "%s/../shared/data", r ? r : ".");
	return p;
}

/* Start argv (argv[0] a program in TR_BUILD) with stdout on a pipe if
 * out_fd, stderr to a log file in /tmp. Returns the pid. */
static inline pid_t e2e_spawn(char *const *argv, int *out_fd, const char *log)
{
	int fds[2] = {-1, -1};

	if (out_fd)
		cr_assert_eq(pipe(fds), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		char exe[512];
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* no orphans if the test dies */
		snprintf(exe, sizeof exe, "%s/%s", e2e_build(), argv[0]);
		if (out_fd) {
			dup2(fds[1], 1);
			close(fds[0]);
		}
		int lf = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (lf >= 0)
			dup2(lf, 2);
		execv(exe, argv);
		_exit(127);
	}
	if (out_fd) {
		close(fds[1]);
		*out_fd = fds[0];
	}
	return pid;
}

/* Read exsim's first stdout line "exsim: listening on ws://127.0.0.1:PORT". */
static inline int e2e_exsim_port(int fd)
{
	char buf[256];
	size_t n = 0;
	int64_t deadline = e2e_now() + 20 * 1000000000ll;

	while (n < sizeof buf - 1 && e2e_now() < deadline) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 100) != 1)
			continue;
		ssize_t k = read(fd, buf + n, 1);
		if (k <= 0)
			break;
		if (buf[n++] == '\n')
			break;
	}
	buf[n] = 0;
	char *colon = strrchr(buf, ':');
	cr_assert_not_null(colon, "exsim printed '%s'", buf);
	return atoi(colon + 1);
}

/* Open the instance's region once its engine runs (up to 20 s). */
static inline struct tr_region *e2e_region(const char *inst)
{
	struct tr_region *r = NULL;
	int64_t deadline = e2e_now() + 20 * 1000000000ll;

	while (tr_region_open(&r, inst, 0) < 0) {
		cr_assert_lt(e2e_now(), deadline, "region %s never came up: %s", inst, tr_errmsg());
		usleep(20000);
	}
	return r;
}

static inline void e2e_stop(pid_t pid, int sig)
{
	if (pid <= 0)
		return;
	kill(pid, sig);
	int64_t deadline = e2e_now() + 10 * 1000000000ll;
	while (waitpid(pid, NULL, WNOHANG) == 0) {
		if (e2e_now() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return;
		}
		usleep(10000);
	}
}

/* Until pid catches signal sig (SigCgt in /proc), so that sig stops it
 * cleanly rather than killing it before its handler is installed. */
static inline void e2e_wait_catches(pid_t pid, int sig)
{
	char path[64], line[256];

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	for (int i = 0; i < 1000; i++) {
		FILE *f = fopen(path, "r");
		unsigned long long mask = 0;

		while (f && fgets(line, sizeof line, f))
			if (sscanf(line, "SigCgt: %llx", &mask) == 1)
				break;
		if (f)
			fclose(f);
		if (mask & (1ull << (sig - 1)))
			return;
		usleep(10000);
	}
	cr_assert_fail("pid %d never installed a handler for signal %d", (int)pid, sig);
}

#endif
