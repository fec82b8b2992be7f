/* tshim.c - runner for tests built against tshim.h (the TSan build).
 * Usage: tsan-ring [SUITE]. Runs each registered test of SUITE (default:
 * all) in this process; a failed assertion ends the run with status 1. */
#include "tshim.h"

#include <stdarg.h>

static struct tshim_test tests[256];
static int ntests, passed;

void tshim_register(const char *suite, const char *name, void (*fn)(void))
{
	if (ntests < (int)(sizeof tests / sizeof tests[0]))
		tests[ntests++] = (struct tshim_test){suite, name, fn};
}

void tshim_fail(const char *file, int line, const char *what, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d: assertion failed: %s: ", file, line, what);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%d passed, 1 failed\n", passed);
	exit(1);
}

int main(int argc, char **argv)
{
	const char *suite = argc > 1 ? argv[1] : NULL;

	for (int i = 0; i < ntests; i++) {
		if (suite && strcmp(suite, tests[i].suite))
			continue;
		printf("[RUN ] %s::%s\n", tests[i].suite, tests[i].name);
		fflush(stdout);
		tests[i].fn();
		printf("[PASS] %s::%s\n", tests[i].suite, tests[i].name);
		passed++;
	}
	printf("%d passed, 0 failed\n", passed);
	return passed ? 0 : 1;
}
