/* exsim_replay.c - capture files as a source: several files merged in time order.
 *
 * The files are in the ../shared/data format: gzip or plain text (zlib reads
 * both), one frame per line, `<receive time> <raw frame>`. The time is in
 * ns, µs or ms since the epoch (told apart by magnitude: 2023 files carry µs).
 * Only combined-stream envelopes `{"stream":"...","data":{...}}` are frames;
 * anything else (the REST depth snapshot that opens a session, a blank or
 * broken line) is counted and skipped.
 *
 * Merging is a k-way merge on the receive time with a one-line lookahead per
 * file, so btcusdt and ethusdt files of the same day interleave as recorded,
 * and the next day's file simply follows (its times are later). Ties go to
 * the file named first, which keeps a single file's order intact.
 *
 * For --loop, restart reopens every file and shifts all times by the span of
 * one pass plus a second, so time never goes backwards for the pacer.
 */
#define _GNU_SOURCE
#include "exsim.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

struct rfile {
	const char *path;
	gzFile gz;
	char *line; /* the lookahead, NUL-terminated, without the newline */
	size_t len, cap;
	int64_t ts;
	const char *stream, *data; /* into line */
	size_t slen, dlen;
	bool have, eof;
};

struct replay {
	struct exsim_source base;
	struct rfile *f;
	int n;
	int64_t shift, first_ts, last_ts;
	bool first_set;
};

/* Read one whole line into rf->line, growing it for long REST snapshots.
 * Returns 1, 0 at end of file, -EIO on a read error. */
static int read_line(struct rfile *rf)
{
	rf->len = 0;
	for (;;) {
		if (rf->cap - rf->len < 65536) {
			size_t ncap = rf->cap ? rf->cap * 2 : 1 << 20;
			char *p = realloc(rf->line, ncap);

			if (!p)
				return -ENOMEM;
			rf->line = p;
			rf->cap = ncap;
		}
		if (!gzgets(rf->gz, rf->line + rf->len, (int)(rf->cap - rf->len))) {
			int err;

			gzerror(rf->gz, &err);
			if (err != Z_OK && err != Z_BUF_ERROR)
				return -EIO;
			return rf->len > 0;
		}
		rf->len += strlen(rf->line + rf->len);
		if (rf->len && rf->line[rf->len - 1] == '\n') {
			rf->line[--rf->len] = 0;
			if (rf->len && rf->line[rf->len - 1] == '\r')
				rf->line[--rf->len] = 0;
			return 1;
		}
	}
}

/* Split `<ts> {"stream":"X","data":{...}}`. The recorder wrote the envelope
 * itself, so the key order is fixed; anything else is not a frame. */
static bool split_frame(struct rfile *rf)
{
	char *p = rf->line, *end;
	long long t = strtoll(p, &end, 10);

	if (end == p || *end != ' ' || t <= 0)
		return false;
	if (t < 100000000000000ll) /* ms */
		t *= 1000000;
	else if (t < 100000000000000000ll) /* µs */
		t *= 1000;
	rf->ts = t;
	p = end + 1;
	static const char k1[] = "{\"stream\":\"", k2[] = "\",\"data\":";
	if (strncmp(p, k1, sizeof k1 - 1))
		return false;
	rf->stream = p + sizeof k1 - 1;
	char *q = strchr(rf->stream, '"');
	if (!q || strncmp(q, k2, sizeof k2 - 1))
		return false;
	rf->slen = (size_t)(q - rf->stream);
	rf->data = q + sizeof k2 - 1;
	char *last = rf->line + rf->len;
	while (last > rf->data && last[-1] == ' ')
		last--;
	if (last - rf->data < 3 || last[-1] != '}' || rf->data[0] != '{')
		return false;
	rf->dlen = (size_t)(last - 1 - rf->data);
	return rf->slen > 0 && rf->slen < EXSIM_STREAM_NAME;
}

/* Fill the lookahead of one file, skipping non-frames. */
static int advance(struct replay *r, struct rfile *rf)
{
	rf->have = false;
	while (!rf->eof) {
		int rc = read_line(rf);

		if (rc < 0)
			return rc;
		if (rc == 0) {
			rf->eof = true;
			break;
		}
		if (split_frame(rf)) {
			rf->ts += r->shift;
			rf->have = true;
			return 0;
		}
		r->base.lines_skipped++;
	}
	return 0;
}

static int open_all(struct replay *r)
{
	for (int i = 0; i < r->n; i++) {
		struct rfile *rf = &r->f[i];

		if (rf->gz)
			gzclose(rf->gz);
		rf->gz = gzopen(rf->path, "rb");
		if (!rf->gz)
			return errno ? -errno : -ENOMEM;
		gzbuffer(rf->gz, 1 << 18);
		rf->eof = false;
		int rc = advance(r, rf);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static struct rfile *earliest(struct replay *r)
{
	struct rfile *best = NULL;

	for (int i = 0; i < r->n; i++)
		if (r->f[i].have && (!best || r->f[i].ts < best->ts))
			best = &r->f[i];
	return best;
}

static int replay_peek(struct exsim_source *s, int64_t *ts)
{
	struct rfile *rf = earliest((struct replay *)s);

	if (!rf)
		return 0;
	*ts = rf->ts;
	return 1;
}

static int replay_take(struct exsim_source *s, struct exsim_frame *f)
{
	struct replay *r = (struct replay *)s;
	struct rfile *rf = earliest(r);

	if (!rf)
		return -ENODATA;
	int rc = exsim_frame_set(f, rf->stream, rf->slen, rf->data, rf->dlen);
	if (rc < 0)
		return rc;
	f->ts = rf->ts;
	if (!r->first_set) {
		r->first_ts = rf->ts;
		r->first_set = true;
	}
	r->last_ts = rf->ts;
	return advance(r, rf);
}

static int replay_restart(struct exsim_source *s)
{
	struct replay *r = (struct replay *)s;

	r->shift += r->last_ts - r->first_ts + 1000000000ll;
	r->first_set = false;
	return open_all(r);
}

static void replay_destroy(struct exsim_source *s)
{
	struct replay *r = (struct replay *)s;

	for (int i = 0; i < r->n; i++) {
		if (r->f[i].gz)
			gzclose(r->f[i].gz);
		free(r->f[i].line);
	}
	free(r->f);
	free(r);
}

/* Open the files; returns 0 or -errno (a missing file is reported here, not
 * in the middle of a replay). */
int exsim_replay_open(struct exsim_source **out, const char **paths, int n)
{
	struct replay *r = calloc(1, sizeof *r);

	if (!r)
		return -ENOMEM;
	r->f = calloc((size_t)n, sizeof *r->f);
	if (!r->f) {
		free(r);
		return -ENOMEM;
	}
	r->n = n;
	for (int i = 0; i < n; i++)
		r->f[i].path = paths[i];
	r->base.peek = replay_peek;
	r->base.take = replay_take;
	r->base.restart = replay_restart;
	r->base.destroy = replay_destroy;
	int rc = open_all(r);
	if (rc < 0) {
		replay_destroy(&r->base);
		return rc;
	}
	*out = &r->base;
	return 0;
}

int exsim_frame_set(struct exsim_frame *f, const char *stream, size_t slen, const char *data,
		    size_t dlen)
{
	static const char k1[] = "{\"stream\":\"", k2[] = "\",\"data\":";
	size_t need = sizeof k1 - 1 + slen + sizeof k2 - 1 + dlen + 2;

	if (need > f->cap) {
		size_t ncap = need < 512 ? 512 : need * 2;
		char *p = realloc(f->buf, ncap);

		if (!p)
			return -ENOMEM;
		f->buf = p;
		f->cap = (uint32_t)ncap;
	}
	char *p = f->buf;
	memcpy(p, k1, sizeof k1 - 1);
	p += sizeof k1 - 1;
	memcpy(p, stream, slen);
	p += slen;
	memcpy(p, k2, sizeof k2 - 1);
	p += sizeof k2 - 1;
	f->data_off = (uint32_t)(p - f->buf);
	f->data_len = (uint32_t)dlen;
	memcpy(p, data, dlen);
	p += dlen;
	*p++ = '}';
	*p = 0;
	f->len = (uint32_t)(p - f->buf);
	int id = exsim_stream_id(stream, slen);
	if (id < 0)
		return -ENOSPC;
	f->stream = (uint32_t)id;
	f->flags = 0;
	if (slen >= 6 && !memcmp(stream + slen - 6, "@trade", 6))
		f->flags = EXSIM_F_TRADE;
	return 0;
}
