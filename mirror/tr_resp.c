/* tr_resp.c - RESP2 commands and replies for the Redis mirror (tr_resp.h).
 *
 * The reply parser keeps no state between calls: a reply cut by the end of
 * what was read is parsed again, whole, once more bytes are there. Replies
 * to the mirror's commands are a few bytes each (":0\r\n" for a PUBLISH),
 * so that costs nothing; only a long array split over many reads would be
 * parsed many times, and the mirror sends no command that returns one.
 */
#include "tr_resp.h"

#include <limits.h>
#include <stdlib.h>

#include "tr_fixed.h"
#include "tr_log.h"

void tr_resp_grow(struct tr_resp_buf *b, size_t n)
{
	size_t cap = b->cap ? b->cap : 65536;
	char *p;

	while (cap < b->len + n)
		cap *= 2;
	if (!(p = realloc(b->p, cap))) {
		/* Nothing sensible is left to do without memory for one batch. */
		tr_log(TR_LOG_ERROR, "redis: out of memory (%zu bytes)", cap);
		abort();
	}
	b->p = p;
	b->cap = cap;
}

static const char digits2[] = "00010203040506070809101112131415161718192021222324252627282930313233"
			      "34353637383940414243444546474849"
			      "50515253545556575859606162636465666768697071727374757677787980818283"
			      "84858687888990919293949596979899";

size_t tr_resp_u64(uint64_t v, char *p)
{
	char t[20];
	size_t i = sizeof t;

	while (v >= 100) {
		i -= 2;
		memcpy(t + i, digits2 + 2 * (v % 100), 2);
		v /= 100;
	}
	if (v >= 10) {
		i -= 2;
		memcpy(t + i, digits2 + 2 * v, 2);
	} else {
		t[--i] = (char)('0' + v);
	}
	memcpy(p, t + i, sizeof t - i);
	return sizeof t - i;
}

void tr_resp_arg_u64(struct tr_resp_buf *b, uint64_t v)
{
	char t[20];

	tr_resp_arg(b, t, tr_resp_u64(v, t));
}

void tr_resp_arg_i64(struct tr_resp_buf *b, int64_t v)
{
	char t[21];
	size_t n = 0;

	if (v < 0)
		t[n++] = '-';
	n += tr_resp_u64(v < 0 ? -(uint64_t)v : (uint64_t)v, t + n);
	tr_resp_arg(b, t, n);
}

void tr_resp_arg_fixed(struct tr_resp_buf *b, int64_t v)
{
	char t[TR_FIXED_BUFSZ];

	tr_resp_arg(b, t, tr_fixed_format(v, t));
}

/* The signed decimal s[0..n) into *v: 0, or -1 if it is not one or does
 * not fit. */
static int parse_ll(const char *s, size_t n, long long *v)
{
	int neg = n && s[0] == '-';
	unsigned long long x = 0, lim = neg ? (unsigned long long)LLONG_MAX + 1 : LLONG_MAX;
	size_t i = (size_t)neg;

	if (i == n)
		return -1;
	for (; i < n; i++) {
		unsigned d = (unsigned)(s[i] - '0');
		if (d > 9 || x > (lim - d) / 10)
			return -1;
		x = x * 10 + d;
	}
	*v = neg ? (long long)(0 - x) : (long long)x;
	return 0;
}

static void keep_text(struct tr_resp_reply *r, const char *s, size_t n)
{
	if (n > sizeof r->str - 1)
		n = sizeof r->str - 1;
	memcpy(r->str, s, n);
	r->str[n] = 0;
}

ssize_t tr_resp_parse(const char *p, size_t n, struct tr_resp_reply *r)
{
	size_t off = 0;
	uint64_t pending = 1; /* elements still to read: the reply, then array members */
	int top = 1;

	/* The usual reply: a PUBLISH that reached fewer than ten subscribers. */
	if (n >= 4 && p[0] == ':' && p[1] >= '0' && p[1] <= '9' && p[2] == '\r' && p[3] == '\n') {
		r->type = TR_RESP_INTEGER;
		r->integer = p[1] - '0';
		r->str[0] = 0;
		return 4;
	}
	while (pending) {
		if (off >= n)
			return 0;
		char t = p[off];
		const char *line = p + off + 1;
		const char *cr = memchr(line, '\r', n - off - 1);
		if (!cr || cr + 1 >= p + n)
			return 0;
		if (cr[1] != '\n')
			return -1;
		size_t ll = (size_t)(cr - line), next = (size_t)(cr - p) + 2;
		long long v;

		switch (t) {
		case '+':
		case '-':
			if (top) {
				r->type = t == '+' ? TR_RESP_STATUS : TR_RESP_ERROR;
				r->integer = 0;
				keep_text(r, line, ll);
			}
			break;
		case ':':
			if (parse_ll(line, ll, &v) < 0)
				return -1;
			if (top) {
				r->type = TR_RESP_INTEGER;
				r->integer = v;
				r->str[0] = 0;
			}
			break;
		case '$':
			if (parse_ll(line, ll, &v) < 0 || v < -1)
				return -1;
			if (v >= 0) {
				if ((uint64_t)v > n - next || n - next - (size_t)v < 2)
					return 0;
				if (p[next + (size_t)v] != '\r' || p[next + (size_t)v + 1] != '\n')
					return -1;
			}
			if (top) {
				r->type = v < 0 ? TR_RESP_NIL : TR_RESP_STRING;
				r->integer = 0;
				keep_text(r, p + next, v < 0 ? 0 : (size_t)v);
			}
			if (v > 0)
				next += (size_t)v;
			if (v >= 0)
				next += 2;
			break;
		case '*':
			/* More members than a 32-bit count is no reply of ours. */
			if (parse_ll(line, ll, &v) < 0 || v < -1 || v > INT32_MAX)
				return -1;
			if (top) {
				r->type = v < 0 ? TR_RESP_NIL : TR_RESP_ARRAY;
				r->integer = 0;
				r->str[0] = 0;
			}
			if (v > 0)
				pending += (uint64_t)v;
			break;
		default:
			return -1;
		}
		pending--;
		top = 0;
		off = next;
	}
	return (ssize_t)off;
}
