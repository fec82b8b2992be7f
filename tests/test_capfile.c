/* test_capfile.c - the capture reader on every recorded Binance file (line
 * counts from SOURCES.md, frames identical to a zlib gzgets reading, µs
 * times converted), plain files, bad lines counted and skipped, truncated
 * and corrupt gzip, concatenated gzip members, and the capture writer read
 * back by the reader.
 *
 * Test files live in a mkdtemp() directory that is removed afterwards. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "tr_capfile.h"
#include "tr_capture.h"
#include "tr_err.h"
#include "tr_uring.h"

static char dir[64];
static struct tr_uring ring;

static void setup(void)
{
	snprintf(dir, sizeof dir, "/tmp/trc-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(tr_uring_init(&ring, 64), 0);
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb, (void)flag, (void)f;
	return remove(p);
}

static void teardown(void)
{
	tr_uring_exit(&ring);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(capfile, .init = setup, .fini = teardown, .timeout = 120);

static void data_path(char *buf, size_t n, const char *rel)
{
	const char *root = getenv("TR_ROOT");

	snprintf(buf, n, "%s/../shared/data/%s", root ? root : ".", rel);
}

/* next(), waiting on the ring for -EAGAIN as an event loop would. */
static int next(struct tr_capfile *r, int64_t *ts, const char **f, size_t *len)
{
	int rc;

	while ((rc = tr_capfile_next(r, ts, f, len)) == -EAGAIN)
		tr_uring_wait(&ring, 1000000000ll);
	return rc;
}

/* Close, then reap until reads still in flight have freed the reader. */
static void close_reader(struct tr_capfile *r)
{
	unsigned left = tr_capfile_inflight(r);

	tr_capfile_close(r);
	while (left--)
		tr_uring_wait(&ring, 1000000000ll);
}

/* Padding: the 64 bytes after the frame must be readable (ASan checks). */
static unsigned touch_padding(const char *f, size_t len)
{
	volatile const char *p = f + len;
	unsigned s = 0;

	for (int i = 0; i < TR_CAPFILE_PADDING; i++)
		s += (unsigned char)p[i];
	return s;
}

static const int64_t T2023 = 1672531200ll * 1000000000; /* 2023-01-01 */
static const int64_t T2025 = 1735689600ll * 1000000000; /* 2025-01-01 */

/* Read a recorded file both ways and compare every line. */
static void compare_with_gzgets(const char *rel, uint64_t want_lines, int us)
{
	size_t cap = 1 << 20;
	char path[512], *line = malloc(cap);
	const struct tr_capfile_stats *st;
	struct tr_capfile *r;
	int64_t ts, first = 0, last = 0;
	const char *f;
	size_t len;
	uint64_t n = 0;
	gzFile gz;
	int rc;

	data_path(path, sizeof path, rel);
	cr_assert_eq(tr_capfile_open(&r, &ring, path, NULL), 0, "%s", tr_errmsg());
	cr_assert_not_null(gz = gzopen(path, "rb"));
	while ((rc = next(r, &ts, &f, &len)) == 1) {
		char *end;

		cr_assert_not_null(gzgets(gz, line, (int)cap), "%s: reader has more lines", rel);
		size_t ll = strlen(line);
		cr_assert(ll && line[ll - 1] == '\n');
		line[--ll] = 0;
		long long t = strtoll(line, &end, 10);
		cr_assert_eq(*end, ' ');
		cr_assert_eq(ts, us ? t * 1000 : t, "%s line %" PRIu64, rel, n + 1);
		cr_assert_eq(len, ll - (size_t)(end + 1 - line), "%s line %" PRIu64, rel, n + 1);
		cr_assert(!memcmp(f, end + 1, len), "%s line %" PRIu64 " differs", rel, n + 1);
		cr_assert_eq(f[len], 0);
		touch_padding(f, len);
		if (!first)
			first = ts;
		cr_assert_geq(ts, T2023);
		cr_assert_lt(ts, T2025);
		last = ts;
		n++;
	}
	cr_assert_eq(rc, 0, "%s: %s", rel, tr_errmsg());
	cr_assert_null(gzgets(gz, line, (int)cap), "%s: gzgets has more lines", rel);
	cr_assert_eq(n, want_lines, "%s: %" PRIu64 " lines", rel, n);
	cr_assert_leq(first, last + 5000000000ll, "%s: times run forward", rel);
	cr_assert_lt(last - first, 3600ll * 1000000000, "%s: under an hour", rel);
	st = tr_capfile_stats(r);
	cr_assert_eq(st->lines, want_lines);
	cr_assert_eq(st->bad_lines, 0);
	cr_assert_eq(st->us_lines, us ? want_lines : 0);
	cr_assert(tr_capfile_is_gzip(r));
	uint64_t done, total;
	tr_capfile_progress(r, &done, &total);
	cr_assert_eq(done, total);
	cr_assert_eq(next(r, &ts, &f, &len), 0, "EOF is sticky");
	gzclose(gz);
	free(line);
	close_reader(r);
}

Test(capfile, shouldReadBinanceSpotFilesLikeGzgets)
{
	compare_with_gzgets("binance-spot/btcusdt_20240808.gz", 41249, 0);
	compare_with_gzgets("binance-spot/btcusdt_20240809.gz", 58325, 0);
	compare_with_gzgets("binance-spot/ethusdt_20240808.gz", 33618, 0);
	compare_with_gzgets("binance-spot/ethusdt_20240809.gz", 46126, 0);
}

Test(capfile, shouldReadBinanceUsdmFilesLikeGzgets)
{
	compare_with_gzgets("binance-usdm/btcusdt_20230404.dat.gz", 13384, 1);
	compare_with_gzgets("binance-usdm/btcusdt_20230405.dat.gz", 60381, 1);
	compare_with_gzgets("binance-usdm/btcusdt_20240718.gz", 11414, 0);
	compare_with_gzgets("binance-usdm/btcusdt_20240719.gz", 60570, 0);
	compare_with_gzgets("binance-usdm/btcusdt_20240808.gz", 93954, 0);
}

Test(capfile, shouldConvertMicrosecondTimesOfSpot2023)
{
	compare_with_gzgets("binance-spot-2023/btcusdt_20230405.dat.gz", 15088, 1);
}

static void write_file(const char *path, const char *data, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, data, n), (ssize_t)n);
	close(fd);
}

static void write_gz(const char *path, const char *data, size_t n, const char *mode)
{
	gzFile gz = gzopen(path, mode);

	cr_assert_not_null(gz);
	cr_assert_eq(gzwrite(gz, data, (unsigned)n), (int)n);
	gzclose(gz);
}

static const char mixed[] = "1723161600000000001 {\"a\":1}\n"
			    "abc {\"bad\":\"no time\"}\n"
			    "123\n"
			    "1723161600000000002 \n"
			    "99999999999999999999999 {\"overflow\":1}\n"
			    "\n"
			    "1723161600000000003 {\"b\":2}\n"
			    "1680652800004107 {\"micro\":3}\n"
			    "1723161600000000004 {\"last\":\"no newline\"}";

/* Bad lines are counted and skipped; the rest reads on. `tiny`: 7-byte reads,
 * so every line spans chunks. */
static void read_mixed(const char *path, int tiny, int gz)
{
	struct tr_capfile_config cfg;
	struct tr_capfile *r;
	const char *f;
	size_t len;
	int64_t ts;

	tr_capfile_config_default(&cfg);
	if (tiny) {
		cfg.chunk_size = 7;
		cfg.nchunks = 3;
		cfg.max_line = 64;
	}
	cr_assert_eq(tr_capfile_open(&r, &ring, path, &cfg), 0, "%s", tr_errmsg());
	cr_assert_eq(next(r, &ts, &f, &len), 1);
	cr_assert_eq(ts, 1723161600000000001ll);
	cr_assert_str_eq(f, "{\"a\":1}");
	cr_assert_eq(next(r, &ts, &f, &len), 1);
	cr_assert_eq(ts, 1723161600000000003ll);
	cr_assert_str_eq(f, "{\"b\":2}");
	cr_assert_eq(next(r, &ts, &f, &len), 1);
	cr_assert_eq(ts, 1680652800004107000ll, "µs times become ns");
	cr_assert_eq(next(r, &ts, &f, &len), 1);
	cr_assert_eq(ts, 1723161600000000004ll);
	cr_assert_str_eq(f, "{\"last\":\"no newline\"}");
	cr_assert_eq(len, strlen("{\"last\":\"no newline\"}"));
	touch_padding(f, len);
	cr_assert_eq(next(r, &ts, &f, &len), 0);
	const struct tr_capfile_stats *st = tr_capfile_stats(r);
	cr_assert_eq(st->lines, 4);
	cr_assert_eq(st->bad_lines, 5);
	cr_assert_eq(st->bad_timestamp, 4);
	cr_assert_eq(st->empty_frames, 1);
	cr_assert_eq(tr_capfile_is_gzip(r), gz);
	close_reader(r);
}

Test(capfile, shouldSkipAndCountMalformedLinesInPlainFile)
{
	char path[128];

	snprintf(path, sizeof path, "%s/mixed.txt", dir);
	write_file(path, mixed, sizeof mixed - 1);
	read_mixed(path, 0, 0);
	read_mixed(path, 1, 0);
}

Test(capfile, shouldSkipAndCountMalformedLinesInGzipFile)
{
	char path[128];

	snprintf(path, sizeof path, "%s/mixed.gz", dir);
	write_gz(path, mixed, sizeof mixed - 1, "wb");
	read_mixed(path, 0, 1);
	read_mixed(path, 1, 1);
}

Test(capfile, shouldSkipLinesLongerThanTheLimit)
{
	struct tr_capfile_config cfg;
	struct tr_capfile *r;
	char path[128];
	size_t n = 5000;
	char *buf = malloc(n + 200);
	const char *f;
	size_t len, o = 0;
	int64_t ts;

	o += (size_t)sprintf(buf + o, "1723161600000000001 x\n1723161600000000002 ");
	memset(buf + o, 'y', 3000);
	o += 3000;
	o += (size_t)sprintf(buf + o, "\n1723161600000000003 z\n");
	snprintf(path, sizeof path, "%s/long.txt", dir);
	write_file(path, buf, o);
	tr_capfile_config_default(&cfg);
	cfg.max_line = 1000;
	cfg.chunk_size = 256; /* the long line spans many reads */
	cr_assert_eq(tr_capfile_open(&r, &ring, path, &cfg), 0);
	cr_assert_eq(next(r, &ts, &f, &len), 1);
	cr_assert_str_eq(f, "x");
	cr_assert_eq(next(r, &ts, &f, &len), 1);
	cr_assert_str_eq(f, "z");
	cr_assert_eq(ts, 1723161600000000003ll);
	cr_assert_eq(next(r, &ts, &f, &len), 0);
	cr_assert_eq(tr_capfile_stats(r)->long_lines, 1);
	close_reader(r);
	free(buf);
}

Test(capfile, shouldReadConcatenatedGzipMembers)
{
	char path[128];
	struct tr_capfile *r;
	const char *f;
	size_t len;
	int64_t ts;

	snprintf(path, sizeof path, "%s/two.gz", dir);
	write_gz(path, "1723161600000000001 one\n", 24, "wb");
	write_gz(path, "1723161600000000002 two\n", 24, "ab");
	cr_assert_eq(tr_capfile_open(&r, &ring, path, NULL), 0);
	cr_assert_eq(next(r, &ts, &f, &len), 1);
	cr_assert_str_eq(f, "one");
	cr_assert_eq(next(r, &ts, &f, &len), 1);
	cr_assert_str_eq(f, "two");
	cr_assert_eq(next(r, &ts, &f, &len), 0);
	cr_assert_eq(tr_capfile_stats(r)->gzip_members, 2);
	close_reader(r);
}

/* Copy the first `n` bytes of a recorded file, optionally flipping bytes. */
static void damaged_copy(const char *out, size_t n, int corrupt)
{
	char src[512];
	char *buf = malloc(n);
	int fd;

	data_path(src, sizeof src, "binance-spot/btcusdt_20240808.gz");
	fd = open(src, O_RDONLY);
	cr_assert_geq(fd, 0);
	cr_assert_eq(read(fd, buf, n), (ssize_t)n);
	close(fd);
	if (corrupt)
		for (size_t i = n / 2; i < n / 2 + 64; i++)
			buf[i] ^= 0x5a;
	write_file(out, buf, n);
	free(buf);
}

Test(capfile, shouldFailCleanlyOnTruncatedGzip)
{
	char path[128];
	struct tr_capfile *r;
	const char *f;
	size_t len;
	int64_t ts;
	int rc, lines = 0;

	snprintf(path, sizeof path, "%s/cut.gz", dir);
	damaged_copy(path, 300000, 0);
	cr_assert_eq(tr_capfile_open(&r, &ring, path, NULL), 0);
	while ((rc = next(r, &ts, &f, &len)) == 1)
		lines++;
	cr_assert_eq(rc, -EBADMSG, "%d %s", rc, tr_errmsg());
	cr_assert(strstr(tr_errmsg(), "truncated"), "%s", tr_errmsg());
	cr_assert_gt(lines, 1000, "lines before the cut are delivered");
	cr_assert_lt(lines, 41249);
	cr_assert_eq(next(r, &ts, &f, &len), -EBADMSG, "sticky");
	close_reader(r);
}

Test(capfile, shouldFailCleanlyOnCorruptGzip)
{
	char path[128];
	struct tr_capfile *r;
	const char *f;
	size_t len;
	int64_t ts;
	int rc;

	snprintf(path, sizeof path, "%s/bad.gz", dir);
	damaged_copy(path, 600000, 1);
	cr_assert_eq(tr_capfile_open(&r, &ring, path, NULL), 0);
	while ((rc = next(r, &ts, &f, &len)) == 1)
		;
	cr_assert_eq(rc, -EBADMSG, "%d %s", rc, tr_errmsg());
	close_reader(r);
}

Test(capfile, shouldReturnEofForEmptyFile)
{
	char path[128];
	struct tr_capfile *r;
	const char *f;
	size_t len;
	int64_t ts;

	snprintf(path, sizeof path, "%s/empty", dir);
	write_file(path, "", 0);
	cr_assert_eq(tr_capfile_open(&r, &ring, path, NULL), 0);
	cr_assert_eq(next(r, &ts, &f, &len), 0);
	close_reader(r);
	cr_assert_eq(tr_capfile_open(&r, &ring, "/nonexistent/x.gz", NULL), -ENOENT);
}

/* Frames from a recording through the capture writer and back. */
Test(capfile, shouldReadBackWhatTheCaptureWriterWrote)
{
	struct tr_capture_config ccfg = {.buf_size = 64 << 10, .max_backlog = 64 << 20};
	char src[512], path[128];
	struct tr_capfile *r, *back;
	struct tr_capture *c;
	const char *f, *g;
	size_t len, glen;
	int64_t ts, gts;
	uint64_t n = 0;

	data_path(src, sizeof src, "binance-spot/ethusdt_20240808.gz");
	snprintf(path, sizeof path, "%s/capture.txt", dir);
	cr_assert_eq(tr_capture_open(&c, &ring, path, &ccfg), 0, "%s", tr_errmsg());
	cr_assert_eq(tr_capture_write(c, 1, "a\nb", 3), -EINVAL, "newline refused");
	cr_assert_eq(tr_capfile_open(&r, &ring, src, NULL), 0);
	while (next(r, &ts, &f, &len) == 1) {
		cr_assert_eq(tr_capture_write(c, ts, f, len), 0, "%s", tr_errmsg());
		if (++n % 100 == 0) {
			cr_assert_geq(tr_capture_flush(c), 0);
			tr_uring_reap(&ring);
		}
	}
	close_reader(r);
	const struct tr_capture_stats *st = tr_capture_stats(c);
	cr_assert_eq(st->frames, 33618);
	cr_assert_eq(st->rejected, 1);
	cr_assert_eq(st->dropped, 0);
	cr_assert_eq(tr_capture_close(c), 0, "%s", tr_errmsg());

	cr_assert_eq(tr_capfile_open(&r, &ring, src, NULL), 0);
	cr_assert_eq(tr_capfile_open(&back, &ring, path, NULL), 0);
	n = 0;
	while (next(r, &ts, &f, &len) == 1) {
		cr_assert_eq(next(back, &gts, &g, &glen), 1, "line %" PRIu64, n + 1);
		cr_assert_eq(gts, ts);
		cr_assert_eq(glen, len);
		cr_assert(!memcmp(f, g, len), "line %" PRIu64, n + 1);
		n++;
	}
	cr_assert_eq(next(back, &gts, &g, &glen), 0);
	cr_assert_not(tr_capfile_is_gzip(back));
	cr_assert_eq(n, 33618);
	close_reader(r);
	close_reader(back);
}
