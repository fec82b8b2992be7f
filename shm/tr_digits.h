/* tr_digits.h - decimal digits two at a time, for tr_fixed.c and
 * tr_format.c (internal, not installed). The mirrors format several
 * prices, quantities and 19-digit ns times per record.
 */
#ifndef TR_DIGITS_H
#define TR_DIGITS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static const char tr_digits2[] =
    "00010203040506070809101112131415161718192021222324252627282930313233"
    "34353637383940414243444546474849"
    "50515253545556575859606162636465666768697071727374757677787980818283"
    "84858687888990919293949596979899";

/* Exactly eight digits of v < 10^8, leading zeros included. */
static inline __attribute__((always_inline)) void tr_digits_w8(char *p, uint32_t v)
{
	uint32_t hi = v / 10000, lo = v % 10000;

	memcpy(p, tr_digits2 + 2 * (hi / 100), 2);
	memcpy(p + 2, tr_digits2 + 2 * (hi % 100), 2);
	memcpy(p + 4, tr_digits2 + 2 * (lo / 100), 2);
	memcpy(p + 6, tr_digits2 + 2 * (lo % 100), 2);
}

/* v < 10^8 at p, no leading zero; returns the length. */
static inline __attribute__((always_inline)) size_t tr_digits_u32(char *p, uint32_t v)
{
	size_t n = v < 10000 ? (v < 100 ? (v < 10 ? 1 : 2) : (v < 1000 ? 3 : 4))
			     : (v < 1000000 ? (v < 100000 ? 5 : 6) : (v < 10000000 ? 7 : 8));
	size_t i = n;

	while (v >= 100) {
		i -= 2;
		memcpy(p + i, tr_digits2 + 2 * (v % 100), 2);
		v /= 100;
	}
	if (v >= 10)
		memcpy(p, tr_digits2 + 2 * v, 2);
	else
		p[0] = (char)('0' + v);
	return n;
}

#endif
