/* test_fixed.c - exact decimal <-> int64 fixed point: round trips and rejections. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tr_fixed.h"

static int parse(const char *s, int64_t *v)
{
	return tr_fixed_parse(s, strlen(s), v);
}

static void expect_value(const char *s, int64_t want)
{
	int64_t v = 12345;
	int rc = parse(s, &v);

	cr_assert_eq(rc, TR_FIXED_OK, "parse(\"%s\") = %d (%s)", s, rc, tr_fixed_strerror(rc));
	cr_assert_eq(v, want, "parse(\"%s\") = %lld, want %lld", s, (long long)v, (long long)want);
}

static void expect_reject(const char *s, int want)
{
	int64_t v = 777;
	int rc = parse(s, &v);

	cr_assert_eq(rc, want, "parse(\"%s\") = %d, want %d", s, rc, want);
	cr_assert_eq(v, 777, "parse(\"%s\") must leave the output alone on failure", s);
}

Test(fixed, parses_exchange_prices_exactly)
{
	expect_value("61837.63000000", 6183763000000);
	expect_value("0.00000001", 1);
	expect_value("3.78826000", 378826000);
	expect_value("2651.10", 265110000000);
	expect_value("0", 0);
	expect_value("-0", 0);
	expect_value("-0.00000001", -1);
	expect_value("100", 10000000000);
	expect_value("0.10000000000000000000", 10000000);
}

Test(fixed, accepts_the_int64_extremes_and_nothing_beyond)
{
	expect_value("92233720368.54775807", INT64_MAX);
	expect_value("-92233720368.54775808", INT64_MIN);
	expect_reject("92233720368.54775808", TR_FIXED_OVERFLOW);
	expect_reject("-92233720368.54775809", TR_FIXED_OVERFLOW);
	expect_reject("100000000000", TR_FIXED_OVERFLOW);
	expect_reject("99999999999999999999", TR_FIXED_OVERFLOW);
}

Test(fixed, handles_exponents_exactly)
{
	expect_value("1.5e-7", 15);
	expect_value("1E+2", 10000000000);
	expect_value("1e10", 1000000000000000000);
	expect_value("123e-8", 123);
	expect_reject("1e11", TR_FIXED_OVERFLOW);
	expect_reject("1e-9", TR_FIXED_PRECISION);
	expect_reject("1e999999999999999999999", TR_FIXED_OVERFLOW);
	expect_value("0e999999999999", 0);
}

Test(fixed, rejects_digits_below_the_scale)
{
	expect_reject("0.000000001", TR_FIXED_PRECISION);
	expect_reject("1.123456789", TR_FIXED_PRECISION);
	expect_value("1.123456780", 112345678);
}

Test(fixed, rejects_junk)
{
	static const char *junk[] = {"abc", "1 ",  " 1",    "+1",    "01",   ".5",  "1.",
				     "-",   "--1", "1e",    "1e+",   "0x10", "1,5", "1.2.3",
				     "NaN", "inf", "1_000", "\"1\"", "1e5x", "-.1"};

	for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++)
		expect_reject(junk[i], TR_FIXED_JUNK);
	expect_reject("", TR_FIXED_EMPTY);
	char longs[80];
	memset(longs, '1', sizeof longs - 1);
	longs[sizeof longs - 1] = 0;
	expect_reject(longs, TR_FIXED_TOOLONG);
}

Test(fixed, does_not_read_past_len)
{
	int64_t v;

	cr_assert_eq(tr_fixed_parse("12.5junk", 4, &v), TR_FIXED_OK);
	cr_assert_eq(v, 1250000000);
}

static void expect_format(int64_t v, const char *want)
{
	char buf[TR_FIXED_BUFSZ];
	size_t n = tr_fixed_format(v, buf);

	cr_assert_str_eq(buf, want);
	cr_assert_eq(n, strlen(want));
}

Test(fixed, formats_the_shortest_exact_decimal)
{
	expect_format(0, "0");
	expect_format(1, "0.00000001");
	expect_format(-1, "-0.00000001");
	expect_format(6183763000000, "61837.63");
	expect_format(100000000, "1");
	expect_format(-250000000, "-2.5");
	expect_format(INT64_MAX, "92233720368.54775807");
	expect_format(INT64_MIN, "-92233720368.54775808");
}

Test(fixed, round_trips_every_pattern)
{
	/* A deterministic walk over magnitudes and digit patterns. */
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (int i = 0; i < 200000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		int64_t v = (int64_t)(x >> (x % 60));
		if (i & 1)
			v = -v;
		char buf[TR_FIXED_BUFSZ];
		int64_t back = 0;
		size_t n = tr_fixed_format(v, buf);
		cr_assert_eq(tr_fixed_parse(buf, n, &back), TR_FIXED_OK, "%s", buf);
		cr_assert_eq(back, v, "%s", buf);
		/* trailing zeros after a dot change nothing */
		if (strchr(buf, '.') && n + 3 < sizeof buf) {
			strcat(buf, "000");
			cr_assert_eq(tr_fixed_parse(buf, n + 3, &back), TR_FIXED_OK);
			cr_assert_eq(back, v);
		}
	}
}

Test(fixed, eight_decimal_prices_as_exchanges_print_them)
{
	/* The fast path reads 8 fraction digits as one word: check it against
	 * the arithmetic for many values, and that a non-digit anywhere in the
	 * eight still rejects. */
	char buf[40];
	uint64_t x = 88172645463325252ull;

	for (int i = 0; i < 300000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		long long ip = (long long)(x % 92233720368ull), fp = (long long)(x / 7 % 100000000);
		int64_t v = 0;
		snprintf(buf, sizeof buf, "%s%lld.%08lld", i & 1 ? "-" : "", ip, fp);
		cr_assert_eq(tr_fixed_parse(buf, strlen(buf), &v), TR_FIXED_OK, "%s", buf);
		cr_assert_eq(v, (i & 1 ? -1 : 1) * (ip * 100000000 + fp), "%s", buf);
	}
	for (int pos = 0; pos < 8; pos++)
		for (const char *bad = ":/a \x80"; *bad; bad++) {
			int64_t v = 5;
			snprintf(buf, sizeof buf, "61837.63000000");
			buf[6 + pos] = *bad;
			cr_assert_eq(tr_fixed_parse(buf, strlen(buf), &v), TR_FIXED_JUNK, "%s",
				     buf);
			cr_assert_eq(v, 5);
		}
}
