/* tr_fixed.c - exact decimal <-> fixed point (see tr_fixed.h).
 *
 * The parser first checks the grammar and notes where the integer digits,
 * fraction digits and exponent are. The number is then the digit string D
 * (integer digits followed by fraction digits) times 10^E. With D's leading
 * and trailing zeros stripped, the mantissa at 1e-8 is D * 10^(E + 8): a
 * negative shift means a non-zero digit below 1e-8 (not exact), and more than
 * 19 digits after shifting cannot fit int64, so at most 19 digits are ever
 * accumulated and the arithmetic cannot overflow.
 */
#include "tr_fixed.h"
#include "tr_digits.h"

#include <stdbool.h>
#include <string.h>

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Eight ASCII digits at p as a number, in a few word operations (the first
 * digit is the lowest byte of the little-endian word). 0 if any is not a
 * digit. */
static int eight_digits(const char *p, uint64_t *out)
{
	uint64_t v;

	memcpy(&v, p, 8);
	/* every byte in '0'..'9': high nibble 3, and adding 6 does not carry out */
	if ((v & 0xf0f0f0f0f0f0f0f0ull) != 0x3030303030303030ull ||
	    ((v + 0x0606060606060606ull) & 0xf0f0f0f0f0f0f0f0ull) != 0x3030303030303030ull)
		return 0;
	v -= 0x3030303030303030ull;
	v = v * 10 + (v >> 8); /* pairs: d0d1, d2d3, ... */
	v = (((v & 0x000000ff000000ffull) * (100 + (1000000ull << 32))) +
	     (((v >> 16) & 0x000000ff000000ffull) * (1 + (10000ull << 32)))) >>
	    32;
	*out = v;
	return 1;
}

/* The common case in one pass: -?digits(.digits)? with at most 11 integer
 * and 8 fraction digits, as exchanges print prices. Returns 1 when it
 * handled the text (*out set), 0 to defer to the general parser, which also
 * produces every error. */
static int parse_plain(const char *s, size_t len, int64_t *out)
{
	const char *p = s, *end = s + len;
	bool neg = false;
	uint64_t ip = 0, fp = 0;
	int nint = 0, nfrac = 0;
	static const uint64_t pow10[9] = {100000000, 10000000, 1000000, 100000, 10000,
					  1000,	     100,      10,	1};

	if (p < end && *p == '-') {
		neg = true;
		p++;
	}
	for (; p < end && is_digit(*p); p++, nint++)
		ip = ip * 10 + (uint64_t)(*p - '0');
	if (nint == 0 || nint > 11 || (nint > 1 && s[neg] == '0'))
		return 0;
	if (p < end) {
		if (*p != '.')
			return 0;
		p++;
		if (end - p == 8 && eight_digits(p, &fp)) {
			nfrac = 8; /* exchanges print exactly 8 decimals: one step */
			p = end;
		}
		for (; p < end && is_digit(*p) && nfrac < 8; p++, nfrac++)
			fp = fp * 10 + (uint64_t)(*p - '0');
		if (p != end || nfrac == 0)
			return 0; /* more digits, an exponent or junk: the general path */
	}
	uint64_t v = ip * 100000000 + fp * pow10[nfrac];
	if (ip > 92233720368ull || v > (uint64_t)INT64_MAX)
		return 0; /* near the limit: let the general path decide exactly */
	*out = neg ? -(int64_t)v : (int64_t)v;
	return 1;
}

int tr_fixed_parse(const char *s, size_t len, int64_t *out)
{
	if (len <= 21 && parse_plain(s, len, out))
		return TR_FIXED_OK;
	const char *p = s, *end = s + len;
	const char *ib, *ie, *fb = NULL, *fe = NULL;
	bool neg = false;
	long e = 0;

	if (len == 0)
		return TR_FIXED_EMPTY;
	if (len > TR_FIXED_MAX_DIGITS)
		return TR_FIXED_TOOLONG;
	if (*p == '-') {
		neg = true;
		p++;
	}
	ib = p;
	while (p < end && is_digit(*p))
		p++;
	ie = p;
	if (ie == ib || (*ib == '0' && ie - ib > 1))
		return TR_FIXED_JUNK; /* no digit, or a leading zero as JSON forbids */
	if (p < end && *p == '.') {
		fb = ++p;
		while (p < end && is_digit(*p))
			p++;
		fe = p;
		if (fe == fb)
			return TR_FIXED_JUNK;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		bool eneg = false;

		p++;
		if (p < end && (*p == '+' || *p == '-'))
			eneg = *p++ == '-';
		if (p == end || !is_digit(*p))
			return TR_FIXED_JUNK;
		for (; p < end && is_digit(*p); p++)
			if (e < 1000000) /* saturate: far past any representable value */
				e = e * 10 + (*p - '0');
		if (eneg)
			e = -e;
	}
	if (p != end)
		return TR_FIXED_JUNK;

	/* D = [ib,ie) ++ [fb,fe), value = D * 10^(e - fraction digits) */
	char d[TR_FIXED_MAX_DIGITS];
	size_t n = 0;
	for (const char *q = ib; q < ie; q++)
		d[n++] = *q;
	if (fb)
		for (const char *q = fb; q < fe; q++)
			d[n++] = *q;
	long shift = e - (fb ? (long)(fe - fb) : 0) + 8;
	size_t lo = 0;
	while (lo < n && d[lo] == '0')
		lo++;
	while (n > lo && d[n - 1] == '0') {
		n--;
		shift++;
	}
	if (lo == n) {
		*out = 0;
		return TR_FIXED_OK;
	}
	if (shift < 0)
		return TR_FIXED_PRECISION;
	if ((long)(n - lo) + shift > 19)
		return TR_FIXED_OVERFLOW;
	unsigned __int128 m = 0;
	for (size_t i = lo; i < n; i++)
		m = m * 10 + (unsigned)(d[i] - '0');
	for (; shift > 0; shift--)
		m *= 10;
	const unsigned __int128 limit = ((unsigned __int128)1 << 63) - (neg ? 0 : 1);
	if (m > limit)
		return TR_FIXED_OVERFLOW;
	*out = neg ? (int64_t)(0 - (uint64_t)m) : (int64_t)m;
	return TR_FIXED_OK;
}

size_t tr_fixed_format(int64_t v, char *buf)
{
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	uint64_t ip = u / 100000000;
	uint32_t fp = (uint32_t)(u % 100000000);
	size_t n = 0;

	if (v < 0)
		buf[n++] = '-';
	if (ip >= 100000000) { /* at most 92233720368 */
		n += tr_digits_u32(buf + n, (uint32_t)(ip / 100000000));
		tr_digits_w8(buf + n, (uint32_t)(ip % 100000000));
		n += 8;
	} else {
		n += tr_digits_u32(buf + n, (uint32_t)ip);
	}
	if (fp) {
		/* All eight places, then the trailing zeros taken back. */
		buf[n++] = '.';
		tr_digits_w8(buf + n, fp);
		n += 8;
		while (buf[n - 1] == '0')
			n--;
	}
	buf[n] = '\0';
	return n;
}

const char *tr_fixed_strerror(int status)
{
	switch (status) {
	case TR_FIXED_OK:
		return "ok";
	case TR_FIXED_EMPTY:
		return "empty number";
	case TR_FIXED_JUNK:
		return "not a decimal number";
	case TR_FIXED_PRECISION:
		return "more than 8 decimal places";
	case TR_FIXED_OVERFLOW:
		return "out of range for int64 at 1e-8";
	case TR_FIXED_TOOLONG:
		return "number text too long";
	default:
		return "unknown fixed-point error";
	}
}
