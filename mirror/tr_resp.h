/* tr_resp.h - RESP2, the Redis protocol, as the Redis mirror speaks it:
 * commands encoded straight into a growing buffer, replies skimmed from the
 * bytes read.
 *
 * The mirror sends hundreds of thousands of PUBLISHes a second and needs of
 * each reply only its type, its integer or the start of its text, so it does
 * not build reply objects: tr_resp_parse() reads one reply in place, like
 * picohttpparser reads a request, and says how many bytes it took, that it
 * needs more, or that the bytes are not RESP.
 *
 * The buffer writers are inline: they run several times per record. A buffer
 * that cannot grow aborts the process (the mirror cannot hold one batch).
 * Not thread-safe: a buffer and a reply belong to one thread.
 */
#ifndef TR_RESP_H
#define TR_RESP_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

/* ---- Commands ---- */

struct tr_resp_buf {
	char *p;
	size_t len, cap;
};

/* Grow b to hold n more bytes (first 64 KiB, then doubling). */
void tr_resp_grow(struct tr_resp_buf *b, size_t n);

static inline void tr_resp_need(struct tr_resp_buf *b, size_t n)
{
	if (b->len + n > b->cap)
		tr_resp_grow(b, n);
}

/* Decimal of v at p (20 bytes at most, no NUL); returns its length. */
size_t tr_resp_u64(uint64_t v, char *p);

/* "<c><n>\r\n": an array header (c '*') or a bulk length (c '$'). */
static inline void tr_resp_count(struct tr_resp_buf *b, char c, uint64_t n)
{
	tr_resp_need(b, 24);
	b->p[b->len++] = c;
	b->len += tr_resp_u64(n, b->p + b->len);
	b->p[b->len++] = '\r';
	b->p[b->len++] = '\n';
}

/* One bulk string argument. */
static inline void tr_resp_arg(struct tr_resp_buf *b, const void *s, size_t n)
{
	tr_resp_need(b, n + 24);
	b->p[b->len++] = '$';
	b->len += tr_resp_u64(n, b->p + b->len);
	b->p[b->len++] = '\r';
	b->p[b->len++] = '\n';
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len++] = '\r';
	b->p[b->len++] = '\n';
}

/* Bytes already encoded (a cached command head, a batch of arguments). */
static inline void tr_resp_raw(struct tr_resp_buf *b, const void *s, size_t n)
{
	tr_resp_need(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

/* Arguments in decimal: unsigned, signed, fixed point (tr_fixed_format). */
void tr_resp_arg_u64(struct tr_resp_buf *b, uint64_t v);
void tr_resp_arg_i64(struct tr_resp_buf *b, int64_t v);
void tr_resp_arg_fixed(struct tr_resp_buf *b, int64_t v);

/* ---- Replies ---- */

enum tr_resp_type {
	TR_RESP_STATUS = 1, /* +OK */
	TR_RESP_ERROR,	    /* -ERR ... */
	TR_RESP_INTEGER,    /* :1 */
	TR_RESP_STRING,	    /* $3 abc */
	TR_RESP_NIL,	    /* $-1 or *-1 */
	TR_RESP_ARRAY,	    /* *2 ...: only its type is kept */
};

/* One reply as the mirror needs it: what it is, its integer, and the first
 * bytes of its text (status, error or string; NUL-terminated, truncated). */
struct tr_resp_reply {
	int type; /* enum tr_resp_type */
	long long integer;
	char str[128];
};

/* Parse the reply at p[0..n) into *r. Returns the bytes it takes, 0 if
 * p[0..n) is only its beginning (read more and call again from p), or -1 if
 * the bytes are not RESP2. Arrays are skipped whole, nested ones included;
 * only their type is kept. Reads nothing past p[n - 1]. */
ssize_t tr_resp_parse(const char *p, size_t n, struct tr_resp_reply *r);

#endif
