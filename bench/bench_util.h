/* bench_util.h - what every benchmark program prints and writes alike: the
 * machine it ran on and a results file {"machine": {...}, "metrics": {...}}.
 * Header-only because the Makefile builds each bench/<name>.c on its own.
 * (bench/ring.c and e2e.c predate it and still carry richer copies.) */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

struct bu_machine {
	char cpu[128], kernel[160], date[32];
	long cores;
};

static inline void bu_machine(struct bu_machine *m)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512];
	struct utsname u;
	time_t t = time(NULL);

	snprintf(m->cpu, sizeof m->cpu, "unknown");
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, "model name", 10)) {
			char *c = strchr(line, ':');
			if (c) {
				snprintf(m->cpu, sizeof m->cpu, "%.120s", c + 2);
				m->cpu[strcspn(m->cpu, "\n")] = 0;
			}
			break;
		}
	if (f)
		fclose(f);
	uname(&u);
	snprintf(m->kernel, sizeof m->kernel, "%s %s", u.sysname, u.release);
	strftime(m->date, sizeof m->date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	m->cores = sysconf(_SC_NPROCESSORS_ONLN);
}

struct bu_metric {
	const char *name;
	double value;
};

/* Write dir/name.json. 0 or -1. */
static inline int bu_write(const char *dir, const char *name, const struct bu_machine *m,
			   const struct bu_metric *mt, int n)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s.json", dir, name);
	if (!(f = fopen(path, "w")))
		return -1;
	fprintf(f,
		"{\n  \"machine\": {\"cpu\": \"%s\", \"cores\": %ld, \"kernel\": \"%s\", "
		"\"date\": \"%s\"},\n  \"metrics\": {\n",
		m->cpu, m->cores, m->kernel, m->date);
	for (int i = 0; i < n; i++)
		fprintf(f, "    \"%s\": %.6g%s\n", mt[i].name, mt[i].value, i + 1 < n ? "," : "");
	fprintf(f, "  }\n}\n");
	return fclose(f) ? -1 : 0;
}

#endif
