/* bench_util.h - what every benchmark program prints and writes alike: the
 * machine it ran on, CPU placement, and a results file {"machine": {...},
 * "config": {...}, "metrics": {...}}. Header-only because the Makefile
 * builds each bench/<name>.c on its own. */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

struct bu_machine {
	char cpu[128], kernel[160], date[32];
	char l2[32], l3[32]; /* cpu0's cache sizes, "?" when unknown */
	long cores;
};

static inline void bu_read_line(const char *path, char *buf, size_t n)
{
	FILE *f = fopen(path, "r");

	snprintf(buf, n, "?");
	if (f) {
		if (fgets(buf, (int)n, f))
			buf[strcspn(buf, "\n")] = 0;
		fclose(f);
	}
}

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
				c += 1 + strspn(c + 1, " \t");
				snprintf(m->cpu, sizeof m->cpu, "%.120s", c);
				m->cpu[strcspn(m->cpu, "\n")] = 0;
			}
			break;
		}
	if (f)
		fclose(f);
	snprintf(m->kernel, sizeof m->kernel, "?");
	if (uname(&u) == 0)
		snprintf(m->kernel, sizeof m->kernel, "%s %s", u.sysname, u.release);
	strftime(m->date, sizeof m->date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	m->cores = sysconf(_SC_NPROCESSORS_ONLN);
	bu_read_line("/sys/devices/system/cpu/cpu0/cache/index2/size", m->l2, sizeof m->l2);
	bu_read_line("/sys/devices/system/cpu/cpu0/cache/index3/size", m->l3, sizeof m->l3);
}

/* Pin the calling thread (and what it execs) to cpu; -1 leaves it free. */
static inline void bu_pin(const char *prog, int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof set, &set) < 0)
		fprintf(stderr, "%s: pin to cpu %d: %s\n", prog, cpu, strerror(errno));
}

/* The first two CPUs we may run on; the same twice when there is one. */
static inline void bu_cpus(int cpu[2])
{
	cpu_set_t set;
	int n = 0;

	cpu[0] = cpu[1] = -1;
	if (sched_getaffinity(0, sizeof set, &set) < 0)
		return;
	for (int i = 0; i < CPU_SETSIZE && n < 2; i++)
		if (CPU_ISSET(i, &set))
			cpu[n++] = i;
	if (n == 1)
		cpu[1] = cpu[0];
}

struct bu_metric {
	const char *name;
	double value;
};

/* A JSON string: the few characters a CPU name could break it with. */
static inline void bu_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++)
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s >= ' ')
			fputc(*s, f);
	fputc('"', f);
}

/* Write the results file. config: the body of the "config" object, already
 * JSON, or NULL for none. 0, or -1 after saying why on stderr. */
static inline int bu_write_json(const char *prog, const char *path, const struct bu_machine *m,
				const char *config, const struct bu_metric *mt, int n)
{
	FILE *f = fopen(path, "w");
	const char *slash = strrchr(path, '/');

	if (!f && errno == ENOENT && slash && slash > path) { /* --results-dir made here */
		char dir[1024];

		snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
		if (mkdir(dir, 0755) == 0 || errno == EEXIST)
			f = fopen(path, "w");
		else
			errno = ENOENT;
	}
	if (!f) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		return -1;
	}
	fprintf(f, "{\n  \"machine\": {\"cpu\": ");
	bu_json_str(f, m->cpu);
	fprintf(f, ", \"cores\": %ld, \"kernel\": ", m->cores);
	bu_json_str(f, m->kernel);
	fprintf(f, ", \"date\": \"%s\"},\n", m->date);
	if (config)
		fprintf(f, "  \"config\": {%s},\n", config);
	fprintf(f, "  \"metrics\": {");
	for (int i = 0; i < n; i++)
		fprintf(f, "%s\n    \"%s\": %.6g", i ? "," : "", mt[i].name, mt[i].value);
	fprintf(f, "\n  }\n}\n");
	if (fclose(f) != 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Write dir/name.json without a config object. 0 or -1. */
static inline int bu_write(const char *dir, const char *name, const struct bu_machine *m,
			   const struct bu_metric *mt, int n)
{
	char path[1024], prog[64];

	snprintf(path, sizeof path, "%s/%s.json", dir, name);
	snprintf(prog, sizeof prog, "bench-%s", name);
	return bu_write_json(prog, path, m, NULL, mt, n);
}

#endif
