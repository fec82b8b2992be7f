/* tr_format.h - records as text: one human line, or one JSON object.
 *
 * The JSON object is tickring's wire schema: the CLI prints it, and the
 * Kafka, Redis and HTTP bridges send it unchanged, so its field names and
 * types are a contract (docs/cli.md lists them). Prices and quantities are
 * exact decimal strings from tr_fixed_format(), never floating point; times
 * are integer nanoseconds since the Unix epoch; flags are arrays of names.
 *
 * Names come from the region, which a reader does not trust: every string is
 * JSON-escaped (invalid UTF-8 becomes U+FFFD), unknown venues print as "?"
 * and unknown symbols as "#<id>". The formatters are pure functions of their
 * arguments plus the region's symbol and venue tables; r may be NULL, and
 * then every name is unknown. Thread-safe; nothing is allocated.
 */
#ifndef TR_FORMAT_H
#define TR_FORMAT_H

#include "tr_abi.h"

#include <stddef.h>
#include <stdint.h>

struct tr_region;

/* Enough for any record in either format. */
#define TR_FORMAT_BUFSZ 2048
/* Enough for any tr_interval_name(): "4294967295s". */
#define TR_INTERVAL_BUFSZ 16

/* Write record rec of ring kind (enum tr_kind) as one JSON object, no newline,
 * NUL-terminated. epoch is the region epoch the record was read in. Returns
 * the length (without the NUL), -ENOSPC if buf[len] is too small (buf then
 * holds a truncated, NUL-terminated prefix; nothing is written past len), or
 * -EINVAL for an unknown kind. */
int tr_format_json(const struct tr_region *r, unsigned kind, const void *rec, uint64_t epoch,
		   char *buf, size_t len);

/* The first members of rec's JSON object, those that depend only on its
 * kind, venue and symbol, without the closing brace:
 *   {"type":"trade","venue":"binance","symbol":"BTCUSDT"
 * Returns as tr_format_json(). *stable is 1 when the venue and the symbol
 * (or its absence, for an event about none) were found in r: names never
 * change in a region, so the head holds for every record of that kind,
 * venue and symbol read while r stays the same region file; 0 when a name
 * printed as unknown, which a later record may know. */
int tr_format_json_head(const struct tr_region *r, unsigned kind, const void *rec, char *buf,
			size_t len, int *stable);

/* tr_format_json() of rec from its head (head[0..hl), from
 * tr_format_json_head() of a record of the same kind, venue and symbol):
 * the same bytes, without looking a name up. For a mirror that keeps the
 * heads of the symbols it sends. Returns as tr_format_json(). */
int tr_format_json_with_head(const char *head, size_t hl, unsigned kind, const void *rec,
			     uint64_t epoch, char *buf, size_t len);

/* Write rec as one compact human line, no newline, NUL-terminated:
 *   2024-05-01T12:00:00.123456789Z synth:BTCUSDT trade 61837.63 x 0.001 buy id=42 seq=7
 * Non-printable bytes of names are shown as '?'. Returns as tr_format_json(). */
int tr_format_text(const struct tr_region *r, unsigned kind, const void *rec, char *buf,
		   size_t len);

/* Write bytes s[0..n), stopping at a NUL, as a quoted JSON string. Returns the
 * length written or -ENOSPC, as above. */
int tr_format_json_string(const char *s, size_t n, char *buf, size_t len);

/* The interval as Binance spells it ("1s", "1m", ..., "1w"), else "<n>s".
 * Writes into buf (TR_INTERVAL_BUFSZ bytes) and returns buf. */
const char *tr_interval_name(uint32_t seconds, char *buf);

/* Parse "1m", "4h", "1w", "90s" or plain seconds "60"; returns seconds (> 0)
 * or -EINVAL. */
int64_t tr_interval_parse(const char *s);

/* Names used by both formats: "trade", "quote", "candle", "event" (or NULL);
 * the event name ("engine_start", ..., NULL if unknown); "buy", "sell",
 * "unknown"; "info", "warning", "error" (NULL if unknown). */
const char *tr_record_type_name(unsigned kind);
const char *tr_event_name(unsigned type);
const char *tr_side_name(unsigned side);
const char *tr_severity_name(unsigned severity);

#endif
