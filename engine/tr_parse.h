/* tr_parse.h - venue extractors: one exchange frame in, one C struct out.
 *
 * The extractors are C++ (tr_parse_*.cpp, compiled without exceptions or
 * RTTI) behind these plain C entry points: a hand-written fast path for the
 * frames Binance sends, simdjson ondemand for everything else. Each loops
 * once over an object's fields and switches on the raw key, so field order
 * never matters, and parses prices and quantities straight from their digits
 * into int64 at 1e-8 (exactly tr_fixed_parse's values), never through double.
 *
 * Buffers: simdjson and the word-at-a-time readers read up to
 * TR_PARSE_PADDING bytes past the end of the frame, so the caller's buffer
 * must have at least len + TR_PARSE_PADDING bytes allocated (their content
 * does not matter). Nothing is copied out of the frame except into *out.
 *
 * Threading: a tr_parser is used by one thread at a time.
 *
 * Rules and decisions (dispatch order, duplicate keys rejected, strings vs
 * numbers, what is validated in ignored frames) are in docs/parsing.md.
 */
#ifndef TR_PARSE_H
#define TR_PARSE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TR_PARSE_PADDING 64	      /* >= SIMDJSON_PADDING */
#define TR_PARSE_MAX_FRAME (1u << 20) /* larger frames are rejected as oversize */

/* What a frame turned out to be. */
enum tr_msg_kind {
	TR_MSG_BAD = 0,	     /* rejected: see tr_msg.bad and tr_msg.why */
	TR_MSG_TRADE = 1,    /* "trade" (spot or futures) */
	TR_MSG_AGGTRADE = 2, /* "aggTrade" */
	TR_MSG_QUOTE = 3,    /* "bookTicker" (spot has no "e", futures has) */
	TR_MSG_REPLY = 4,    /* {"result":...,"id":N}: answer to SUBSCRIBE etc. */
	TR_MSG_IGNORED = 5   /* valid, known and deliberately unused (depth, markPrice,
			      * kline, REST snapshot); counted, not an error */
};

/* Why a frame was rejected; index of the superblock counter family. */
enum tr_bad {
	TR_BAD_NONE = 0,
	TR_BAD_JSON = 1,	   /* not JSON, truncated, trailing junk */
	TR_BAD_TYPE = 2,	   /* a field has the wrong JSON type */
	TR_BAD_MISSING = 3,	   /* a required field is absent */
	TR_BAD_VALUE = 4,	   /* not a decimal, zero or negative price, ... */
	TR_BAD_OVERFLOW = 5,	   /* a number does not fit int64 at 1e-8 / uint64 */
	TR_BAD_UNKNOWN_STREAM = 6, /* a stream or event type we do not handle */
	TR_BAD_OVERSIZE = 7	   /* longer than TR_PARSE_MAX_FRAME */
};

struct tr_msg_trade {
	int64_t price, qty; /* x 1e-8, price > 0, qty > 0 */
	uint64_t trade_id;  /* "t", or "a" for aggTrade */
	uint64_t first_id;  /* aggTrade "f" (else = trade_id) */
	uint64_t last_id;   /* aggTrade "l" (else = trade_id) */
	int64_t ts_trade;   /* "T", ns */
	int64_t ts_event;   /* "E", ns (0 if absent) */
	uint8_t side;	    /* enum tr_side aggressor: Binance "m" true (buyer is maker) = sell */
	uint8_t nonmarket;  /* futures "X" present and not "MARKET" */
};

struct tr_msg_quote {
	int64_t bid_px, bid_qty, ask_px, ask_qty; /* x 1e-8; qty may be 0, px >= 0 */
	uint64_t update_id;			  /* "u" */
	int64_t ts_event;			  /* futures "E" (or "T"), ns; 0 for spot */
};

struct tr_msg {
	enum tr_msg_kind kind;
	enum tr_bad bad; /* TR_BAD_NONE unless kind == TR_MSG_BAD */
	const char *why; /* static text naming the field and problem, for logs */
	char symbol[32]; /* "s", upper case as sent, NUL-terminated */
	char stream[64]; /* combined-stream name if enveloped ("btcusdt@trade"), else "" */
	char venue[16];	 /* gateway records only: "venue", else "" */
	union {
		struct tr_msg_trade trade;
		struct tr_msg_quote quote;
		struct {
			int64_t id;   /* request id echoed; -1 if the venue sent null */
			int is_error; /* {"error":{...}} reply */
		} reply;
	} u;
};

struct tr_parser;

/* Create / free a parser (holds simdjson's reusable buffers). NULL on OOM. */
struct tr_parser *tr_parser_new(void);
void tr_parser_free(struct tr_parser *p);

/* Parse one Binance (spot or USD-M futures) WebSocket frame: a combined
 * stream envelope {"stream":"<sym>@<kind>","data":{...}} or a raw /ws payload
 * {...}, or a reply {"result":null,"id":1}. buf must have len +
 * TR_PARSE_PADDING bytes allocated. Returns out->kind (never negative); on
 * TR_MSG_BAD, out->bad and out->why say why, and the rest of *out is not a
 * record (symbol and stream may hold what was read before the failure). */
enum tr_msg_kind tr_parse_binance(struct tr_parser *p, const char *buf, size_t len,
				  struct tr_msg *out);

/* The two paths of tr_parse_binance, for tests, the differential fuzzer and
 * the benchmark. tr_parse_binance() tries the fast path, a hand-written
 * collector for the shapes Binance sends (one flat object or envelope, no
 * whitespace, plain ASCII strings), and gives every other frame to the
 * general path over simdjson. Both end in the same decision code and give
 * the same *out for every frame the fast path takes (docs/parsing.md).
 * tr_parse_binance_fast returns the kind, or -1 when it declines the frame
 * (then *out is untouched); malformed JSON is always declined, so only the
 * general path words a JSON-level rejection. */
int tr_parse_binance_fast(const char *buf, size_t len, struct tr_msg *out);

/* The fast path's two collectors, for the tests and the fuzzer:
 * tr_parse_binance_fast tries the member orders Binance sends
 * (TR_FAST_SHAPES), then any member order (TR_FAST_WALK); this runs only
 * those named in `collectors`. Same contract as tr_parse_binance_fast. */
#define TR_FAST_SHAPES 1
#define TR_FAST_WALK 2
int tr_parse_binance_fast_with(const char *buf, size_t len, struct tr_msg *out, int collectors);
enum tr_msg_kind tr_parse_binance_simdjson(struct tr_parser *p, const char *buf, size_t len,
					   struct tr_msg *out);

/* Parse one gateway NDJSON line (no newline): the user's own trades and
 * quotes, in the README's JSON record schema subset:
 *   {"type":"trade","venue":"v","symbol":"S","price":"1.5","qty":"2",
 *    "trade_id":7,"ts_event":<ns>,"side":"buy"|"sell"|"unknown"}
 *   {"type":"quote","venue":"v","symbol":"S","bid_px":"1","bid_qty":"2",
 *    "ask_px":"1.1","ask_qty":"3","ts_event":<ns>}
 * Prices and quantities are decimal strings (JSON numbers are accepted too,
 * parsed from their digits); unknown members are ignored. Trades fill
 * u.trade, quotes u.quote; a missing ts_event is 0 (the engine uses receive
 * time). Same buffer rule. */
enum tr_msg_kind tr_parse_gateway(struct tr_parser *p, const char *buf, size_t len,
				  struct tr_msg *out);

/* Name of a tr_bad reason ("bad_json", ...), matching the counter names. */
const char *tr_bad_name(enum tr_bad bad);

#ifdef __cplusplus
}
#endif

#endif
