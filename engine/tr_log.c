/* tr_log.c - plain or JSON log lines (tr_log.h). */
#include "tr_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static int log_json, log_level = TR_LOG_INFO;
static const char *const names[] = {"error", "warn", "info", "debug"};

void tr_log_setup(int json, int level)
{
	log_json = json;
	log_level = level;
}

void tr_log(int level, const char *fmt, ...)
{
	char msg[1024], esc[2200];
	va_list ap;
	size_t n = 0;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (!log_json) {
		fprintf(stderr, "tickringd: %s: %s\n", names[level], msg);
		return;
	}
	for (const char *p = msg; *p && n < sizeof esc - 8; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '"' || c == '\\') {
			esc[n++] = '\\';
			esc[n++] = (char)c;
		} else if (c < 0x20) {
			n += (size_t)snprintf(esc + n, sizeof esc - n, "\\u%04x", c);
		} else {
			esc[n++] = (char)c;
		}
	}
	esc[n] = 0;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	fprintf(stderr, "{\"ts\":%lld,\"level\":\"%s\",\"msg\":\"%s\"}\n",
		(long long)ts.tv_sec * 1000000000 + ts.tv_nsec, names[level], esc);
}
