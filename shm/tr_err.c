/* tr_err.c - per-thread error messages with context (see tr_err.h). */
#include "tr_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char tr_msg[512];

const char *tr_errmsg(void)
{
	return tr_msg;
}

int tr_err(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tr_msg, sizeof tr_msg, fmt, ap);
	va_end(ap);
	return code > 0 ? -code : code;
}

int tr_err_ctx(int code, const char *fmt, ...)
{
	char old[sizeof tr_msg];
	va_list ap;
	int n;

	memcpy(old, tr_msg, sizeof old);
	va_start(ap, fmt);
	n = vsnprintf(tr_msg, sizeof tr_msg, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof tr_msg && old[0])
		snprintf(tr_msg + n, sizeof tr_msg - (size_t)n, ": %s", old);
	return code > 0 ? -code : code;
}

const char *tr_strerror(int code)
{
	if (code < 0)
		code = -code;
	switch (code) {
	case TR_EBADMAGIC:
		return "not a tickring region";
	case TR_EVERSION:
		return "ABI version mismatch";
	case TR_ELAYOUT:
		return "layout mismatch";
	case TR_ETRUNC:
		return "region truncated";
	case TR_EDEAD:
		return "engine is dead";
	case TR_ESTALE:
		return "engine heartbeat stale";
	case TR_ESTOPPED:
		return "engine stopped";
	case TR_EINIT:
		return "region being created";
	default:
		return strerror(code);
	}
}
