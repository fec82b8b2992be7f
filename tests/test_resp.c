/* test_resp.c - the Redis mirror's RESP2 code (tr_resp.h): commands encoded
 * byte for byte as hiredis encodes them, and the reply skimmer: each reply
 * type, every prefix of a reply stream reported incomplete, every reply
 * flush against a PROT_NONE page, and malformed input refused. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <hiredis/hiredis.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tr_fixed.h"
#include "tr_resp.h"

/* A command built with the tr_resp writers equals hiredis's own encoding of
 * the same arguments (redisFormatCommandArgv), for arguments of every
 * length class, numbers at every digit count included. */
Test(resp, commands_are_encoded_as_hiredis_encodes_them)
{
	struct tr_resp_buf b = {0};
	char big[70000], num[3][32];
	uint64_t x = 0x9e3779b97f4a7c15ull;

	memset(big, 'j', sizeof big);
	for (int round = 0; round < 400; round++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		/* Every power of ten and its neighbours, then random magnitudes. */
		uint64_t u = round < 60 ? 1 : x >> (x % 64);
		for (int i = 0; round < 60 && i < round / 3; i++)
			u *= 10;
		u += round < 60 ? (uint64_t)(round % 3) - 1 : 0;
		int64_t v = (int64_t)x;
		size_t blen = (size_t)(x % 3 == 0 ? x % sizeof big : x % 300);
		const char *argv[6] = {
		    "PUBLISH", "tickring:trades:binance:BTCUSDT", big, num[0], num[1], num[2]};
		size_t lens[6] = {7, 31, blen, 0, 0, 0};
		char fx[TR_FIXED_BUFSZ];

		lens[3] = (size_t)snprintf(num[0], sizeof num[0], "%llu", (unsigned long long)u);
		lens[4] = (size_t)snprintf(num[1], sizeof num[1], "%lld", (long long)v);
		lens[5] = tr_fixed_format(v, fx);
		memcpy(num[2], fx, lens[5]);
		b.len = 0;
		tr_resp_count(&b, '*', 6);
		tr_resp_arg(&b, argv[0], lens[0]);
		tr_resp_raw(&b, "$31\r\ntickring:trades:binance:BTCUSDT\r\n", 38);
		tr_resp_arg(&b, big, blen);
		tr_resp_arg_u64(&b, u);
		tr_resp_arg_i64(&b, v);
		tr_resp_arg_fixed(&b, v);

		char *want;
		long long wl = redisFormatCommandArgv(&want, 6, argv, lens);
		cr_assert_gt(wl, 0);
		cr_assert_eq(b.len, (size_t)wl, "round %d: %zu bytes, hiredis %lld", round, b.len,
			     wl);
		cr_assert_eq(memcmp(b.p, want, b.len), 0, "round %d: u %llu v %lld", round,
			     (unsigned long long)u, (long long)v);
		free(want);
	}
	free(b.p);
}

Test(resp, decimals_match_printf_at_every_length)
{
	char got[24], want[24];

	for (int d = 0; d <= 20; d++) {
		uint64_t p = 1;
		for (int i = 0; i < d; i++)
			p *= 10;
		uint64_t vs[3] = {p - 1, p, p + 1};
		for (int k = 0; k < 3; k++) {
			if (d == 20)
				vs[k] = UINT64_MAX - (uint64_t)k;
			size_t n = tr_resp_u64(vs[k], got);
			snprintf(want, sizeof want, "%llu", (unsigned long long)vs[k]);
			cr_assert_eq(n, strlen(want));
			cr_assert_eq(memcmp(got, want, n), 0, "%s", want);
		}
	}
}

static void parse_ok(const char *s, int type, long long integer, const char *str)
{
	struct tr_resp_reply r;
	ssize_t n = tr_resp_parse(s, strlen(s), &r);

	cr_assert_eq(n, (ssize_t)strlen(s), "%s: took %zd", s, n);
	cr_assert_eq(r.type, type, "%s", s);
	cr_assert_eq(r.integer, integer, "%s", s);
	cr_assert_str_eq(r.str, str, "%s", s);
}

Test(resp, every_reply_type_is_read)
{
	parse_ok(":0\r\n", TR_RESP_INTEGER, 0, "");
	parse_ok(":7\r\n", TR_RESP_INTEGER, 7, "");
	parse_ok(":1234\r\n", TR_RESP_INTEGER, 1234, "");
	parse_ok(":-3\r\n", TR_RESP_INTEGER, -3, "");
	parse_ok(":9223372036854775807\r\n", TR_RESP_INTEGER, LLONG_MAX, "");
	parse_ok(":-9223372036854775808\r\n", TR_RESP_INTEGER, LLONG_MIN, "");
	parse_ok("+OK\r\n", TR_RESP_STATUS, 0, "OK");
	parse_ok(
	    "-ERR The ID specified in XADD is equal or smaller than the target stream top "
	    "item\r\n",
	    TR_RESP_ERROR, 0,
	    "ERR The ID specified in XADD is equal or smaller than the target stream top item");
	parse_ok("$12\r\n0-17\r\nx\r\ny z\r\n", TR_RESP_STRING, 0, "0-17\r\nx\r\ny z");
	parse_ok("$0\r\n\r\n", TR_RESP_STRING, 0, "");
	parse_ok("$-1\r\n", TR_RESP_NIL, 0, "");
	parse_ok("*-1\r\n", TR_RESP_NIL, 0, "");
	parse_ok("*0\r\n", TR_RESP_ARRAY, 0, "");
	/* Nested arrays are skipped whole, whatever they hold. */
	parse_ok("*3\r\n:1\r\n*2\r\n$3\r\nabc\r\n*1\r\n-E\r\n$-1\r\n", TR_RESP_ARRAY, 0, "");

	/* Long texts are cut to the reply's buffer, and still taken whole. */
	char line[600] = "-", want[128];
	memset(line + 1, 'e', 500);
	strcpy(line + 501, "\r\n");
	memset(want, 'e', sizeof want - 1);
	want[sizeof want - 1] = 0;
	parse_ok(line, TR_RESP_ERROR, 0, want);
}

/* A stream of replies read from one buffer: each taken in turn, and every
 * proper prefix of the one at hand reported incomplete, never misread. */
Test(resp, a_reply_cut_anywhere_is_incomplete_not_wrong)
{
	static const char stream[] = ":0\r\n:12\r\n+OK\r\n-LOADING Redis is loading\r\n"
				     "$5\r\n0-123\r\n$-1\r\n*2\r\n:1\r\n*1\r\n$2\r\nab\r\n:-5\r\n";
	static const int types[] = {TR_RESP_INTEGER, TR_RESP_INTEGER, TR_RESP_STATUS,
				    TR_RESP_ERROR,   TR_RESP_STRING,  TR_RESP_NIL,
				    TR_RESP_ARRAY,   TR_RESP_INTEGER};
	size_t len = sizeof stream - 1, off = 0;
	struct tr_resp_reply r;

	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
		ssize_t whole = tr_resp_parse(stream + off, len - off, &r);
		cr_assert_gt(whole, 0, "reply %zu", i);
		cr_assert_eq(r.type, types[i], "reply %zu", i);
		for (size_t cut = 0; cut < (size_t)whole; cut++)
			cr_assert_eq(tr_resp_parse(stream + off, cut, &r), 0,
				     "reply %zu cut at %zu", i, cut);
		off += (size_t)whole;
	}
	cr_assert_eq(off, len);
}

/* Every prefix of every reply placed flush against an unreadable page:
 * a read past the bytes given would fault. */
Test(resp, nothing_is_read_past_the_bytes_given)
{
	static const char *replies[] = {
	    ":0\r\n",	    ":-42\r\n", "+OK\r\n", "-ERR wrong type\r\n",     "$4\r\n0-17\r\n",
	    "$-1\r\n",	    "*-1\r\n",	"*0\r\n",  "*2\r\n:1\r\n$1\r\nx\r\n", ":1\rx",
	    "?garbage\r\n",
	};
	long pg = sysconf(_SC_PAGESIZE);
	char *map =
	    mmap(NULL, 2 * (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct tr_resp_reply r;

	cr_assert(map != MAP_FAILED);
	cr_assert_eq(mprotect(map + pg, (size_t)pg, PROT_NONE), 0);
	for (size_t i = 0; i < sizeof replies / sizeof replies[0]; i++) {
		size_t n = strlen(replies[i]);
		for (size_t k = 0; k <= n; k++) {
			char *at = map + pg - k;
			memcpy(at, replies[i], k);
			ssize_t got = tr_resp_parse(at, k, &r);
			cr_assert(got >= -1 && got <= (ssize_t)k, "%s: %zd", replies[i], got);
		}
	}
	munmap(map, 2 * (size_t)pg);
}

Test(resp, what_is_not_resp_is_refused)
{
	static const char *bad[] = {
	    "?what\r\n",		 /* no such type */
	    ":12x\r\n",			 /* not a number */
	    ":\r\n",			 /* an empty one */
	    ":-\r\n",			 /* a sign alone */
	    ":9223372036854775808\r\n",	 /* beyond long long */
	    ":-9223372036854775809\r\n", /* below it */
	    "+OK\rX\n",			 /* a CR that does not end the line */
	    "$-2\r\n",			 /* a length below -1 */
	    "$3\r\nabcde\r\n",		 /* a bulk longer than its length */
	    "*-2\r\n",			 /* a count below -1 */
	    "*4294967296\r\n",		 /* a count no reply of ours has */
	    "*2\r\n:1\r\n!x\r\n",	 /* a bad member inside an array */
	    "$x\r\n",			 /* a length that is not one */
	};
	struct tr_resp_reply r;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_assert_eq(tr_resp_parse(bad[i], strlen(bad[i]), &r), -1, "%s", bad[i]);
}
