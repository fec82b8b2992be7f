/* tr_fixed.h - exact decimal text <-> int64 fixed point at scale 1e-8.
 *
 * Prices and quantities never pass through double: the digits of "61837.63"
 * become 6183763000000 and back to "61837.63" exactly. Parsing follows the
 * JSON number grammar, -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, and
 * rejects what it cannot represent exactly instead of rounding or wrapping.
 */
#ifndef TR_FIXED_H
#define TR_FIXED_H

#include <stddef.h>
#include <stdint.h>

/* Parse results. */
enum tr_fixed_status {
	TR_FIXED_OK = 0,
	TR_FIXED_EMPTY = -1,	 /* no characters */
	TR_FIXED_JUNK = -2,	 /* not a decimal number (sign, dot, letters, spaces) */
	TR_FIXED_PRECISION = -3, /* a non-zero digit below 1e-8: not exact at this scale */
	TR_FIXED_OVERFLOW = -4,	 /* magnitude beyond int64 at 1e-8 (about 9.2e10) */
	TR_FIXED_TOOLONG = -5	 /* longer than TR_FIXED_MAX_DIGITS characters */
};

#define TR_FIXED_MAX_DIGITS 64
/* Longest tr_fixed_format() output including the NUL: "-92233720368.54775808". */
#define TR_FIXED_BUFSZ 24

/* Parse s[0..len) into *out (mantissa at 1e-8). Returns TR_FIXED_OK or a
 * negative tr_fixed_status; *out is untouched on failure. */
int tr_fixed_parse(const char *s, size_t len, int64_t *out);

/* Write the shortest exact decimal for v into buf (TR_FIXED_BUFSZ bytes):
 * no exponent, no trailing fractional zeros, "0" for zero. Returns length. */
size_t tr_fixed_format(int64_t v, char *buf);

/* A short reason for a tr_fixed_status. */
const char *tr_fixed_strerror(int status);

#endif
