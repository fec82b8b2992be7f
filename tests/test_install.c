/* test_install.c - `make install` yields a library a user can build against:
 * headers, static and shared libtickring, tickring.pc, the CLI and the
 * Python module land under DESTDIR, and the copyable C example compiles with
 * pkg-config's flags and reads trades from a live region. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "th.h"

static char root[512], tmp[64];

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	int rc = system(cmd);
	cr_assert_eq(rc, 0, "command failed (%d): %s", rc, cmd);
}

static void exists(const char *rel)
{
	char p[600];
	struct stat st;

	snprintf(p, sizeof p, "%s%s", tmp, rel);
	cr_assert_eq(stat(p, &st), 0, "%s was not installed", rel);
}

static void cleanup(void)
{
	if (tmp[0]) {
		char cmd[128];
		snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
		(void)!system(cmd);
	}
}

Test(install, installed_library_builds_and_runs_the_example, .timeout = 240, .fini = cleanup)
{
	const char *b = getenv("TR_BUILD"), *r = getenv("TR_ROOT");

	cr_assert_not_null(b);
	cr_assert_not_null(r);
	/* sanitizer builds would need their runtime in the user's link too */
	if (strcmp(strrchr(b, '/'), "/build") != 0)
		cr_skip_test("install is checked in the plain build");
	snprintf(root, sizeof root, "%s", r);
	snprintf(tmp, sizeof tmp, "/tmp/tr-install-XXXXXX");
	cr_assert_not_null(mkdtemp(tmp));
	sh("env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make -s -C %s install PREFIX=/usr DESTDIR=%s "
	   ">%s/make.log 2>&1",
	   root, tmp, tmp);
	exists("/usr/bin/tickring");
	exists("/usr/bin/tickringd");
	exists("/usr/bin/exsim");
	exists("/usr/bin/tr-synth");
	exists("/usr/lib/libtickring.a");
	exists("/usr/lib/libtickring.so.1");
	exists("/usr/lib/libtickring.so");
	exists("/usr/include/tickring/tr_reader.h");
	exists("/usr/include/tickring/tr_abi.h");
	exists("/usr/include/tickring/tr_format.h");
	exists("/usr/lib/pkgconfig/tickring.pc");
	exists("/usr/share/tickring/python/tickring.py");

	/* build the example as a user would, against the installed copy only */
	sh("cd %s && cc -Wall -Werror -o tail_trades %s/clients/examples/tail_trades.c "
	   "$(PKG_CONFIG_PATH=%s/usr/lib/pkgconfig pkg-config --define-variable=prefix=%s/usr "
	   "--cflags --libs tickring)",
	   tmp, root, tmp, tmp);
	sh("cd %s && cc -o tail_trades_static %s/clients/examples/tail_trades.c "
	   "-I%s/usr/include/tickring "
	   "%s/usr/lib/libtickring.a -lpthread",
	   tmp, root, tmp, tmp);

	char inst[64];
	th_instance(inst, sizeof inst, "install");
	struct tr_writer *w = th_writer(inst, 64);
	int sym = tr_writer_symbol(w, (unsigned)tr_writer_venue(w, "binance"), "BTCUSDT");
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	pid_t pid = fork();
	if (pid == 0) {
		char exe[128], lib[128];
		snprintf(exe, sizeof exe, "%s/tail_trades", tmp);
		snprintf(lib, sizeof lib, "%s/usr/lib", tmp);
		setenv("LD_LIBRARY_PATH", lib, 1);
		dup2(fds[1], 1);
		close(fds[0]);
		execl(exe, exe, inst, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	/* it joins at the tail: keep publishing until it has printed three */
	char out[4096];
	size_t n = 0;
	int lines = 0;
	struct tr_trade t = {.price = 6183763000000, .qty = 150000, .symbol_id = (uint32_t)sym};
	for (int i = 0; i < 3000 && lines < 3; i++) {
		t.trade_id = 1000 + (uint64_t)i;
		tr_writer_publish(w, TR_KIND_TRADE, &t);
		tr_writer_commit(w);
		tr_writer_heartbeat(w);
		struct pollfd p = {.fd = fds[0], .events = POLLIN};
		if (poll(&p, 1, 10) == 1) {
			ssize_t k = read(fds[0], out + n, sizeof out - 1 - n);
			if (k <= 0)
				break;
			n += (size_t)k;
			out[n] = 0;
			lines = 0;
			for (char *q = out; (q = strchr(q, '\n')); q++)
				lines++;
		}
	}
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	close(fds[0]);
	cr_assert_geq(lines, 3, "the example printed: '%s'", out);
	cr_assert_not_null(strstr(out, "BTCUSDT 61837.63 x 0.0015 id="), "%s", out);
	tr_writer_close(w);
	tr_writer_unlink(NULL, inst);
}
