/* tr_parse_binance.cpp - the Binance and gateway extractors: a fast path for
 * Binance's own frames, simdjson ondemand for everything else.
 *
 * One pass, then one decision. tr_collect() walks an object's members once,
 * matches each raw key against the few we use and records its JSON type and
 * raw token (a string's bytes between the quotes, a number's or literal's
 * text) in a slot; a combined-stream envelope's "data" object is walked in
 * the same pass into a second slot set. Only after the walk do we choose the
 * message family (stream suffix, else "e", else key set) and interpret the
 * slots, so neither member order nor the order of "stream" and "data" can
 * change the result, and a key whose meaning depends on the family ("a" is
 * an aggregate id in aggTrade and the ask price in bookTicker) is read only
 * once the family is known. Prices and quantities go from their digits to
 * int64 through tr_fixed_parse, integers through our own digit loop: no
 * double anywhere, and every rejection names its field in a static string.
 *
 * Only members we use are validated in full; the others (depth arrays, "M",
 * order ids) are skipped by simdjson's structural index, so they are checked
 * for structure (brackets, string quoting, UTF-8, control characters) but not
 * for number grammar. docs/parsing.md lists the rules and the decisions.
 *
 * tr_fast_collect() fills the same slots without simdjson for the text
 * Binance sends (flat objects, no whitespace, plain ASCII strings) and
 * declines everything else; the decision code after either walk is shared
 * ("the fast path" below, and docs/parsing.md).
 *
 * The gateway's NDJSON records go through the simdjson walk with their own
 * keys; they live here because they share the parser and the field readers.
 */
#include "tr_parse.h"
extern "C" {
#include "tr_fixed.h" /* a C header without its own extern "C" */
}

#include <new>
#include <string.h>
#include <type_traits>
#include <utility>

#include <simdjson.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace od = simdjson::ondemand;

/* Hot helpers are forced inline; what only bad input reaches is kept out of line. */
#define TR_INLINE inline __attribute__((always_inline))
#define TR_COLD __attribute__((noinline, cold))

/* Parser buffers allocated up front: every recorded frame but the largest
 * depth snapshots fits. */
#define TR_PARSE_PREALLOC (1u << 16)

struct tr_parser {
	od::parser json;
	/* max_capacity: a frame over TR_PARSE_MAX_FRAME never reaches simdjson,
	 * so its buffers grow at most to that and are then reused. */
	tr_parser() : json(TR_PARSE_MAX_FRAME) {}
};

namespace {

/* ---- slots: the keys we use ------------------------------------------------ */

/* Binance keys. Top level and "data" share the numbering; the envelope and
 * reply keys only mean something at the top level. */
enum tr_slot {
	S_e, S_E, S_T, S_s, S_t, S_p, S_q, S_m, S_X, S_a, S_b, S_A, S_B, S_f, S_l, S_u,
	S_STREAM, S_DATA, S_RESULT, S_ERROR, S_ID, S_LASTUPDATEID,
	S_N
};

/* Gateway keys. */
enum tr_gslot {
	G_TYPE, G_VENUE, G_SYMBOL, G_PRICE, G_QTY, G_TRADE_ID, G_TS_EVENT, G_SIDE, G_BID_PX,
	G_BID_QTY, G_ASK_PX, G_ASK_QTY,
	G_N
};

enum tr_tok_type : uint8_t { T_NONE, T_STR, T_NUM, T_BOOL, T_NULL, T_OBJ, T_ARR };

struct tr_tok {
	const char *s; /* string: after the opening quote; scalar: the token */
	uint32_t n;    /* string: up to the closing quote; scalar: trimmed */
	uint8_t type;
	uint8_t pre; /* fast path only: the value, read in the walk, is in u */
	uint64_t u;
};

enum tr_pre : uint8_t {
	PRE_NONE,
	PRE_U64, /* a T_NUM of 1 to 15 digits, no sign, fraction, exponent or leading zero */
	PRE_FIX	 /* a T_STR that tr_plain_fixed reads: u is the int64 at 1e-8 */
};

/* The members of one object we care about; only slots in `seen` are set, so
 * nothing needs clearing per frame. */
template <int N> struct tr_fields {
	uint32_t seen;
	tr_tok tok[N];
	bool has(int s) const { return seen >> s & 1; }
};

typedef tr_fields<S_N> tr_bfields;
typedef tr_fields<G_N> tr_gfields;

static_assert(S_N <= 32 && G_N <= 32, "seen is a 32-bit mask");
static_assert(sizeof(tr_msg::symbol) % 16 == 0 && sizeof(tr_msg::venue) % 16 == 0,
	      "tr_get_name copies names in 16-byte steps");

/* ---- short compares: whole words instead of memcmp ---------------------------- */

/* Every token and key lies in a frame followed by TR_PARSE_PADDING (64)
 * bytes, so 16 bytes may be read from any position inside the frame. */
static inline uint64_t tr_load8(const char *s)
{
	uint64_t x;

	memcpy(&x, s, 8);
	return x;
}

/* The bytes lit[from .. from + 8) of an n-byte literal as a little-endian
 * word (0 beyond n); evaluated at compile time through TR_EQ. */
static constexpr uint64_t tr_word(const char *lit, size_t n, size_t from)
{
	uint64_t v = 0;

	for (size_t i = from; i < n && i < from + 8; i++)
		v |= (uint64_t)(unsigned char)lit[i] << (8 * (i - from));
	return v;
}

static constexpr uint64_t tr_low_bytes(size_t n)
{
	return n >= 8 ? ~0ull : (1ull << (8 * n)) - 1;
}

static inline bool tr_eq_words(const char *s, size_t n, uint64_t w0, uint64_t w1)
{
	if (n <= 8)
		return (tr_load8(s) & tr_low_bytes(n)) == w0;
	return tr_load8(s) == w0 && (tr_load8(s + 8) & tr_low_bytes(n - 8)) == w1;
}

/* Not constexpr: a literal over 16 bytes in TR_EQ fails to compile. */
static inline size_t tr_literal_too_long(size_t n)
{
	return n;
}

static constexpr size_t tr_lit_len(size_t n)
{
	return n <= 16 ? n : tr_literal_too_long(n);
}

/* The bytes at s begin with the literal lit (at most 16 bytes), in one or
 * two loads against constants. */
#define TR_EQ(s, lit)                                                                              \
	tr_eq_words((s), std::integral_constant<size_t, tr_lit_len(sizeof(lit) - 1)>::value,       \
		    std::integral_constant<uint64_t, tr_word(lit, sizeof(lit) - 1, 0)>::value,     \
		    std::integral_constant<uint64_t, tr_word(lit, sizeof(lit) - 1, 8)>::value)

/* k points just past the key's opening quote. A key matches only if its
 * bytes are the name followed by the closing quote, so "pp" never matches
 * "p" and an escaped key never matches anything (docs/parsing.md). The key
 * is followed by at least `":` and a value, and the frame by its padding. */
#define tr_key_is(k, name) TR_EQ(k, name "\"")

/* The one-letter Binance keys. */
static constexpr int tr_binance_slot1(char c)
{
	switch (c) {
	case 'e': return S_e;
	case 'E': return S_E;
	case 'T': return S_T;
	case 's': return S_s;
	case 't': return S_t;
	case 'p': return S_p;
	case 'q': return S_q;
	case 'm': return S_m;
	case 'X': return S_X;
	case 'a': return S_a;
	case 'b': return S_b;
	case 'A': return S_A;
	case 'B': return S_B;
	case 'f': return S_f;
	case 'l': return S_l;
	case 'u': return S_u;
	}
	return -1;
}

static inline int tr_binance_slot(const char *k)
{
	if (k[1] == '"')
		return tr_binance_slot1(k[0]);
	switch (k[0]) {
	case 's':
		return tr_key_is(k, "stream") ? S_STREAM : -1;
	case 'd':
		return tr_key_is(k, "data") ? S_DATA : -1;
	case 'r':
		return tr_key_is(k, "result") ? S_RESULT : -1;
	case 'e':
		return tr_key_is(k, "error") ? S_ERROR : -1;
	case 'i':
		return tr_key_is(k, "id") ? S_ID : -1;
	case 'l':
		return tr_key_is(k, "lastUpdateId") ? S_LASTUPDATEID : -1;
	}
	return -1;
}

static inline int tr_gateway_slot(const char *k)
{
	switch (k[0]) {
	case 't':
		if (tr_key_is(k, "type"))
			return G_TYPE;
		if (tr_key_is(k, "trade_id"))
			return G_TRADE_ID;
		if (tr_key_is(k, "ts_event"))
			return G_TS_EVENT;
		return -1;
	case 'v':
		return tr_key_is(k, "venue") ? G_VENUE : -1;
	case 's':
		if (tr_key_is(k, "symbol"))
			return G_SYMBOL;
		if (tr_key_is(k, "side"))
			return G_SIDE;
		return -1;
	case 'p':
		return tr_key_is(k, "price") ? G_PRICE : -1;
	case 'q':
		return tr_key_is(k, "qty") ? G_QTY : -1;
	case 'b':
		if (tr_key_is(k, "bid_px"))
			return G_BID_PX;
		if (tr_key_is(k, "bid_qty"))
			return G_BID_QTY;
		return -1;
	case 'a':
		if (tr_key_is(k, "ask_px"))
			return G_ASK_PX;
		if (tr_key_is(k, "ask_qty"))
			return G_ASK_QTY;
		return -1;
	}
	return -1;
}

/* ---- rejection texts ----------------------------------------------------------- */

/* Every reason one field can fail for, as static text naming family and
 * field. The tables below are built by the preprocessor, so a `why` is never
 * formatted at run time. */
struct tr_whys {
	const char *missing, *type, *junk, *precision, *overflow, *nonpos, *negative;
};

#define TR_WHYS(fam, fld)                                                                  \
	{                                                                                   \
		fam ": " fld " is missing", fam ": " fld " has the wrong JSON type",        \
			fam ": " fld " is not a valid number",                               \
			fam ": " fld " has more than 8 decimals", fam ": " fld " is out of range", \
			fam ": " fld " is not positive", fam ": " fld " is negative"           \
	}
#define TR_WHYS_TEXT(fam, fld, junk_text)                                                 \
	{                                                                                   \
		fam ": " fld " is missing", fam ": " fld " has the wrong JSON type",        \
			fam ": " fld " " junk_text, nullptr, nullptr, nullptr, nullptr         \
	}

/* One row per tr_slot, for one Binance family; "a" and "T" differ by family. */
#define TR_BINANCE_WHYS(fam, a_name, T_name)                                            \
	{                                                                                   \
		TR_WHYS_TEXT(fam, "event type \"e\"", "is not a known event type"),          \
			TR_WHYS(fam, "event time \"E\""), TR_WHYS(fam, T_name),                \
			TR_WHYS_TEXT(fam, "symbol \"s\"", "is not 1 to 31 printable characters"), \
			TR_WHYS(fam, "trade id \"t\""), TR_WHYS(fam, "price \"p\""),           \
			TR_WHYS(fam, "quantity \"q\""),                                         \
			TR_WHYS_TEXT(fam, "maker flag \"m\"", "is not true or false"),         \
			TR_WHYS_TEXT(fam, "execution type \"X\"", "is not a valid string"),    \
			TR_WHYS(fam, a_name), TR_WHYS(fam, "bid price \"b\""),                  \
			TR_WHYS(fam, "ask quantity \"A\""), TR_WHYS(fam, "bid quantity \"B\""), \
			TR_WHYS(fam, "first id \"f\""), TR_WHYS(fam, "last id \"l\""),          \
			TR_WHYS(fam, "update id \"u\""), TR_WHYS(fam, "\"stream\""),           \
			TR_WHYS(fam, "\"data\""), TR_WHYS(fam, "\"result\""),                  \
			TR_WHYS(fam, "\"error\""), TR_WHYS(fam, "request id \"id\""),          \
			TR_WHYS(fam, "\"lastUpdateId\"")                                       \
	}

static const tr_whys tr_w_trade[S_N] =
	TR_BINANCE_WHYS("trade", "\"a\"", "trade time \"T\"");
static const tr_whys tr_w_agg[S_N] =
	TR_BINANCE_WHYS("aggTrade", "aggregate id \"a\"", "trade time \"T\"");
static const tr_whys tr_w_quote[S_N] =
	TR_BINANCE_WHYS("bookTicker", "ask price \"a\"", "transaction time \"T\"");
static const tr_whys tr_w_reply[S_N] = TR_BINANCE_WHYS("reply", "\"a\"", "\"T\"");

#define TR_GATEWAY_WHYS(fam)                                                               \
	{                                                                                   \
		TR_WHYS_TEXT(fam, "type", "is not trade or quote"),                          \
			TR_WHYS_TEXT(fam, "venue", "is not 1 to 15 printable characters"),     \
			TR_WHYS_TEXT(fam, "symbol", "is not 1 to 31 printable characters"),    \
			TR_WHYS(fam, "price"), TR_WHYS(fam, "qty"), TR_WHYS(fam, "trade_id"),  \
			TR_WHYS(fam, "ts_event"),                                               \
			TR_WHYS_TEXT(fam, "side", "is not buy, sell or unknown"),              \
			TR_WHYS(fam, "bid_px"), TR_WHYS(fam, "bid_qty"), TR_WHYS(fam, "ask_px"), \
			TR_WHYS(fam, "ask_qty")                                                 \
	}

static const tr_whys tr_w_gtrade[G_N] = TR_GATEWAY_WHYS("gateway trade");
static const tr_whys tr_w_gquote[G_N] = TR_GATEWAY_WHYS("gateway quote");
static const tr_whys tr_w_gline[G_N] = TR_GATEWAY_WHYS("gateway");

static const char *const tr_dup_binance[S_N] = {
	"json: duplicate key \"e\"", "json: duplicate key \"E\"", "json: duplicate key \"T\"",
	"json: duplicate key \"s\"", "json: duplicate key \"t\"", "json: duplicate key \"p\"",
	"json: duplicate key \"q\"", "json: duplicate key \"m\"", "json: duplicate key \"X\"",
	"json: duplicate key \"a\"", "json: duplicate key \"b\"", "json: duplicate key \"A\"",
	"json: duplicate key \"B\"", "json: duplicate key \"f\"", "json: duplicate key \"l\"",
	"json: duplicate key \"u\"", "json: duplicate key \"stream\"",
	"json: duplicate key \"data\"", "json: duplicate key \"result\"",
	"json: duplicate key \"error\"", "json: duplicate key \"id\"",
	"json: duplicate key \"lastUpdateId\"",
};

static const char *const tr_dup_gateway[G_N] = {
	"json: duplicate key \"type\"", "json: duplicate key \"venue\"",
	"json: duplicate key \"symbol\"", "json: duplicate key \"price\"",
	"json: duplicate key \"qty\"", "json: duplicate key \"trade_id\"",
	"json: duplicate key \"ts_event\"", "json: duplicate key \"side\"",
	"json: duplicate key \"bid_px\"", "json: duplicate key \"bid_qty\"",
	"json: duplicate key \"ask_px\"", "json: duplicate key \"ask_qty\"",
};

/* ---- outcomes --------------------------------------------------------------- */

static inline bool tr_fail(tr_msg *out, tr_bad bad, const char *why)
{
	out->bad = bad;
	out->why = why;
	return false;
}

static bool tr_json_fail(tr_msg *out, simdjson::error_code e)
{
	switch (e) {
	case simdjson::EMPTY: return tr_fail(out, TR_BAD_JSON, "json: empty frame");
	case simdjson::UNCLOSED_STRING: return tr_fail(out, TR_BAD_JSON, "json: unclosed string");
	case simdjson::UNESCAPED_CHARS:
		return tr_fail(out, TR_BAD_JSON, "json: control character inside a string");
	case simdjson::UTF8_ERROR: return tr_fail(out, TR_BAD_JSON, "json: invalid UTF-8");
	case simdjson::DEPTH_ERROR: return tr_fail(out, TR_BAD_JSON, "json: nested too deeply");
	case simdjson::INCOMPLETE_ARRAY_OR_OBJECT:
		return tr_fail(out, TR_BAD_JSON, "json: unclosed object or array");
	default: return tr_fail(out, TR_BAD_JSON, "json: malformed");
	}
}

/* ---- the walk ---------------------------------------------------------------- */

static inline bool tr_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Record one member's value. simdjson's raw token runs to the next
 * structural character, so it carries trailing whitespace; a string token
 * ends with its closing quote once that is trimmed. */
static inline bool tr_record(od::value &v, tr_tok *t, tr_msg *out)
{
	/* The token's first byte is its type, as simdjson's own type() decides. */
	std::string_view raw = v.raw_json_token();
	size_t n = raw.size();

	t->pre = PRE_NONE;

	switch (n ? raw[0] : 0) {
	case '{': t->type = T_OBJ; return true;
	case '[': t->type = T_ARR; return true;
	case '"': t->type = T_STR; break;
	case 't':
	case 'f': t->type = T_BOOL; break;
	case 'n': t->type = T_NULL; break;
	case '-':
	case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9': t->type = T_NUM; break;
	default: return tr_fail(out, TR_BAD_JSON, "json: malformed value");
	}
	while (n && tr_is_space(raw[n - 1]))
		n--;
	if (t->type == T_STR) {
		if (n < 2 || raw[n - 1] != '"')
			return tr_fail(out, TR_BAD_JSON, "json: malformed string");
		t->s = raw.data() + 1;
		t->n = (uint32_t)(n - 2);
		return true;
	}
	if (t->type == T_NULL && !(n == 4 && TR_EQ(raw.data(), "null")))
		return tr_fail(out, TR_BAD_JSON, "json: malformed literal");
	t->s = raw.data();
	t->n = (uint32_t)n;
	return true;
}

/* Walk obj once into f; the member `data_slot` (if >= 0) must be an object
 * and is walked into *inner. Duplicate keys we use are rejected. */
template <int N, int (*SLOT)(const char *)>
static bool tr_collect(od::object &obj, tr_fields<N> *f, const char *const *dup, int data_slot,
		       tr_fields<N> *inner, const char *data_type_why, tr_msg *out)
{
	f->seen = 0;
	for (auto r : obj) {
		od::field fld;
		simdjson::error_code e = std::move(r).get(fld);

		if (e)
			return tr_json_fail(out, e);
		int s = SLOT(fld.key().raw());
		if (s < 0)
			continue; /* unknown member: skipped, structure-checked only */
		if (f->has(s))
			return tr_fail(out, TR_BAD_JSON, dup[s]);
		f->seen |= 1u << s;
		if (s == data_slot) {
			od::object o;

			e = fld.value().get_object().get(o);
			if (e == simdjson::INCORRECT_TYPE)
				return tr_fail(out, TR_BAD_TYPE, data_type_why);
			if (e)
				return tr_json_fail(out, e);
			f->tok[s].type = T_OBJ;
			f->tok[s].pre = PRE_NONE;
			if (!tr_collect<N, SLOT>(o, inner, dup, -1, nullptr, nullptr, out))
				return false;
			continue;
		}
		if (!tr_record(fld.value(), &f->tok[s], out))
			return false;
	}
	return true;
}

/* ---- the fast path: Binance's own shapes without simdjson ------------------ */

/* simdjson's stage 1 alone costs about 900 instructions on a 130-byte trade,
 * more than a whole frame may take at 5 M frames/s, so the frames Binance
 * actually sends are collected by hand first. tr_fast_collect() accepts a
 * strict subset of JSON and nothing else: one flat object (plus one flat
 * "data" object at the top), no whitespace, strings of printable ASCII
 * without escapes, numbers in full JSON grammar, true/false/null, and no
 * duplicate or misplaced key we use. On such a text simdjson's walk succeeds
 * and records exactly the same slots (same pointers, lengths and types), so
 * the same decision code gives the same struct. Anything else, including
 * every malformed frame, is declined and goes to simdjson, which owns every
 * JSON-level rejection. tests/fuzz/fuzz_parse.cpp checks the equivalence on
 * every input (docs/parsing.md, "The fast path"). */

/* A byte a plain string may hold: printable ASCII but '"' and '\\'. */
static constexpr bool tr_plain_byte(unsigned char c)
{
	return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

/* For a one-letter key "c": its slot + 1 (0 for a key we skip), or -1 when c
 * cannot be a plain one-letter key. Built from tr_binance_slot1, so both
 * paths match keys alike. */
struct tr_key1_table {
	int8_t v[256];
};

static constexpr tr_key1_table tr_make_key1_table()
{
	tr_key1_table t{};

	for (int c = 0; c < 256; c++)
		t.v[c] = (int8_t)(tr_plain_byte((unsigned char)c) ? tr_binance_slot1((char)c) + 1 : -1);
	return t;
}

static constexpr tr_key1_table tr_key1 = tr_make_key1_table();

#if defined(__SSE2__)
/* SSE2 is part of x86-64 itself: no runtime dispatch needed. Loads of 16
 * bytes at p <= end stay inside the frame's TR_PARSE_PADDING. */

/* The bytes of 16 at p a plain string may not hold (quote, backslash,
 * control, DEL, non-ASCII), as a bit mask. */
static inline unsigned tr_str_stops(const char *p)
{
	__m128i x = _mm_loadu_si128((const __m128i *)p);
	/* x + 0x60 takes ' '..'~' to -128..-34 (signed), every other byte above */
	__m128i out = _mm_cmpgt_epi8(_mm_add_epi8(x, _mm_set1_epi8(0x60)), _mm_set1_epi8(-34));
	__m128i m = _mm_or_si128(out, _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')),
						   _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))));

	return (unsigned)_mm_movemask_epi8(m);
}

/* 16 bytes of 0xff, then 16 of 0: read from 16 - m, the mask of the first
 * m (0..16) bytes of a vector, in one load. */
static const unsigned char tr_keep_bytes[32] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
						0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

static inline __m128i tr_keep16(size_t m)
{
	return _mm_loadu_si128((const __m128i *)(tr_keep_bytes + 16 - m));
}

/* The ASCII digits among the 16 bytes at p, as a bit mask. */
static inline unsigned tr_digit_mask(const char *p)
{
	__m128i x = _mm_loadu_si128((const __m128i *)p);

	/* x + 0x50 takes '0'..'9' to -128..-119 (signed), every other byte above */
	return (unsigned)_mm_movemask_epi8(
	    _mm_cmpgt_epi8(_mm_set1_epi8(-118), _mm_add_epi8(x, _mm_set1_epi8(0x50))));
}

/* The same for '.'. */
static inline unsigned tr_dot_mask(const char *p)
{
	__m128i x = _mm_loadu_si128((const __m128i *)p);

	return (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8('.')));
}
#else
/* Other machines: the same contracts, a byte at a time. */
static inline unsigned tr_str_stops(const char *p)
{
	unsigned m = 0;

	for (unsigned i = 0; i < 16; i++)
		m |= (unsigned)!tr_plain_byte((unsigned char)p[i]) << i;
	return m;
}

static inline unsigned tr_digit_mask(const char *p)
{
	unsigned m = 0;

	for (unsigned i = 0; i < 16; i++)
		m |= (unsigned)(p[i] >= '0' && p[i] <= '9') << i;
	return m;
}

static inline unsigned tr_dot_mask(const char *p)
{
	unsigned m = 0;

	for (unsigned i = 0; i < 16; i++)
		m |= (unsigned)(p[i] == '.') << i;
	return m;
}
#endif

/* The same contract as tr_fast_str, for strings of 16 bytes or more. */
static __attribute__((noinline)) const char *tr_fast_str_long(const char *p, const char *end)
{
	for (; p < end; p += 16) {
		unsigned bits = tr_str_stops(p);

		if (bits) {
			p += __builtin_ctz(bits);
			return p < end && *p == '"' ? p : nullptr;
		}
	}
	return nullptr;
}

/* The closing quote of a plain string whose content starts at p, or nullptr:
 * the first byte that is a quote, a backslash, a control character, DEL or
 * non-ASCII must be a quote inside the frame. The first 16 bytes inline. */
static TR_INLINE const char *tr_fast_str(const char *p, const char *end)
{
	unsigned bits = tr_str_stops(p);

	if (bits) {
		p += __builtin_ctz(bits);
		return p < end && *p == '"' ? p : nullptr;
	}
	return tr_fast_str_long(p + 16, end);
}

/* How many of the 16 bytes at p are leading ASCII digits (0 to 16). */
static inline unsigned tr_digit_run(const char *p)
{
	return (unsigned)__builtin_ctz(~tr_digit_mask(p)); /* bit 16 and up are set */
}

/* Past the run of digits at p, never past end (padding may hold digits). */
static inline const char *tr_fast_digits(const char *p, const char *end)
{
	unsigned n;

	do {
		n = tr_digit_run(p);
		p += n;
	} while (n == 16 && p < end);
	return p < end ? p : end;
}

/* Past a number in JSON grammar, -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?,
 * or nullptr. */
static inline const char *tr_fast_num(const char *p, const char *end)
{
	const char *d;

	if (*p == '-')
		p++;
	d = p;
	p = tr_fast_digits(p, end);
	if (p == d || (*d == '0' && p - d > 1))
		return nullptr;
	if (p < end && *p == '.') {
		d = ++p;
		if ((p = tr_fast_digits(p, end)) == d)
			return nullptr;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		d = p;
		if ((p = tr_fast_digits(p, end)) == d)
			return nullptr;
	}
	return p;
}

/* Eight ASCII digits (or zero bytes, read as 0) as a number, the first digit
 * in the lowest byte: pairs, then the two halves of each word at once. */
static inline uint64_t tr_eight_digits(uint64_t v)
{
	v &= 0x0f0f0f0f0f0f0f0full;
	v = v * 10 + (v >> 8); /* pairs: d0d1, d2d3, ... */
	return (((v & 0x000000ff000000ffull) * (100 + (1000000ull << 32))) +
		(((v >> 16) & 0x000000ff000000ffull) * (1 + (10000ull << 32)))) >>
	       32;
}

#if defined(__SSE2__)
/* The sixteen digit bytes of x (zero bytes read as 0), the first the most
 * significant, as a number: pairs of digits, then fours (pmaddwd), then
 * eights. */
static inline uint64_t tr_sixteen_vec(__m128i x)
{
	x = _mm_and_si128(x, _mm_set1_epi8(0x0f));
	__m128i two = _mm_add_epi16(
	    _mm_mullo_epi16(_mm_and_si128(x, _mm_set1_epi16(0xff)), _mm_set1_epi16(10)),
	    _mm_srli_epi16(x, 8));
	__m128i four = _mm_madd_epi16(two, _mm_set1_epi32(1 << 16 | 100));
	__m128i eight =
	    _mm_madd_epi16(_mm_packs_epi32(four, four), _mm_set1_epi32(1 << 16 | 10000));
	uint64_t r = (uint64_t)_mm_cvtsi128_si64(eight);

	return (r & 0xffffffff) * 100000000 + (r >> 32);
}
#endif

/* tr_eight_digits(hi) * 1e8 + tr_eight_digits(lo), both words at once. */
static inline uint64_t tr_sixteen_digits(uint64_t hi, uint64_t lo)
{
#if defined(__SSE2__)
	return tr_sixteen_vec(_mm_set_epi64x((long long)lo, (long long)hi));
#else
	return tr_eight_digits(hi) * 100000000 + tr_eight_digits(lo);
#endif
}

/* 5^-k modulo 2^64 (Newton's iteration): a multiple of 10^k divided by
 * 10^k is a shift by k and a multiplication by this. */
struct tr_inv5_table {
	uint64_t v[16];
};

static constexpr tr_inv5_table tr_make_inv5()
{
	tr_inv5_table t{};
	uint64_t p = 1;

	for (int k = 0; k < 16; k++, p *= 5) {
		uint64_t x = p; /* right in 3 bits, doubling each step */

		for (int i = 0; i < 6; i++)
			x *= 2 - p * x;
		t.v[k] = x;
	}
	return t;
}

static constexpr tr_inv5_table tr_inv5 = tr_make_inv5();
static_assert(tr_inv5.v[15] * 30517578125ull == 1, "5^-15 mod 2^64");

/* The n (1..16) ASCII digits at s, known to be digits, as a number. With
 * SSE2 the 16 bytes at s are kept up to n, read as a 16-digit number (the
 * value times 10^(16 - n)) and divided exactly. */
static TR_INLINE uint64_t tr_digits_value(const char *s, unsigned n)
{
#if defined(__SSE2__)
	unsigned k = 16 - n;
	__m128i x = _mm_and_si128(_mm_loadu_si128((const __m128i *)s), tr_keep16(n));

	return (tr_sixteen_vec(x) >> k) * tr_inv5.v[k];
#else
	if (n <= 8)
		return tr_eight_digits(tr_load8(s) << (8 * (8 - n)));
	return tr_sixteen_digits(tr_load8(s) << (8 * (16 - n)), tr_load8(s + n - 8));
#endif
}

/* Collect a frame of the fast path's shape into top (and data); false
 * declines it, having written nothing but the two field sets. Each step
 * starts at the '{' or ',' before a member, so the common `,"c":` of a
 * one-letter key is checked in one load. A plain integer (every id and time
 * Binance sends) is read in the same pass that finds its end. */
static inline bool tr_fast_collect(const char *buf, size_t len, tr_bfields *top, tr_bfields *data)
{
	const char *p = buf, *end = buf + len, *q;
	tr_bfields *f = top;
	uint64_t w;
	unsigned nd;
	int s;
	tr_tok t;

	top->seen = data->seen = 0;
	if (len < 2 || *p != '{')
		return false;
	for (;;) {
		/* p < end, at the '{' or ',' before a member */
		w = tr_load8(p);
		if ((w & 0xffff00ff00ull) == 0x3a22002200ull && tr_key1.v[w >> 16 & 0xff] >= 0) {
			s = tr_key1.v[w >> 16 & 0xff] - 1;
			p += 5;
		} else {
			if ((w & 0xffff) == ('{' | '}' << 8)) {
				q = p + 1; /* an empty object */
				goto close;
			}
			if (p[1] != '"' || !(q = tr_fast_str(p + 2, end)) || q[1] != ':')
				return false;
			s = tr_binance_slot(p + 2); /* the same function on the same bytes as the walk */
			p = q + 2;
			/* a top-level "data" is an object or a rejection simdjson words */
			if (s == S_DATA && f == top && *p != '{')
				return false;
		}
		if (p >= end)
			return false;
		switch (*p) {
		case '"':
			if (!(q = tr_fast_str(p + 1, end)))
				return false;
			t = {p + 1, (uint32_t)(q - p - 1), T_STR, PRE_NONE, 0};
			q++;
			break;
		case '0': case '1': case '2': case '3': case '4':
		case '5': case '6': case '7': case '8': case '9':
			nd = tr_digit_run(p);
			q = p + nd;
			if (nd < 16 && *q != '.' && (*q | 0x20) != 'e') {
				/* a plain integer; past end it is declined below */
				if (*p == '0' && nd > 1)
					return false;
				t = {p, nd, T_NUM, PRE_U64, tr_digits_value(p, nd)};
				break;
			}
			/* fractions, exponents, 16 digits or more: */
			[[fallthrough]];
		case '-':
			if (!(q = tr_fast_num(p, end)))
				return false;
			t = {p, (uint32_t)(q - p), T_NUM, PRE_NONE, 0};
			break;
		case 't':
			if (end - p < 4 || !TR_EQ(p, "true"))
				return false;
			t = {p, 4, T_BOOL, PRE_NONE, 0};
			q = p + 4;
			break;
		case 'f':
			if (end - p < 5 || !TR_EQ(p, "false"))
				return false;
			t = {p, 5, T_BOOL, PRE_NONE, 0};
			q = p + 5;
			break;
		case 'n':
			if (end - p < 4 || !TR_EQ(p, "null"))
				return false;
			t = {p, 4, T_NULL, PRE_NONE, 0};
			q = p + 4;
			break;
		case '{':
			/* Only the envelope's "data", once, and only one level deep. */
			if (f != top || s != S_DATA || top->has(S_DATA))
				return false;
			top->seen |= 1u << S_DATA;
			top->tok[S_DATA].type = T_OBJ;
			top->tok[S_DATA].pre = PRE_NONE;
			f = data;
			continue;
		default:
			return false; /* arrays, whitespace, junk: simdjson's business */
		}
		if (s >= 0) {
			if (f->has(s))
				return false; /* a duplicate: simdjson words the rejection */
			f->seen |= 1u << s;
			f->tok[s] = t;
		}
		if (q >= end)
			return false;
		if (*q == ',') {
			p = q;
			continue;
		}
		if (*q != '}')
			return false;
	close:
		/* q at a '}' inside the frame */
		if (f == top)
			return q + 1 == end;
		f = top; /* the end of "data": a ',' or the top's '}' follows */
		if (++q >= end)
			return false;
		if (*q == ',') {
			p = q;
			continue;
		}
		return *q == '}' && q + 1 == end;
	}
}

/* ---- field readers ----------------------------------------------------------- */

/* 1 to 19 digits, all of them digits, without a leading zero: the ids and
 * times Binance sends, for tokens the fast path did not read already.
 * Cannot overflow (19 digits < 2^64). */
static inline bool tr_plain_u64(const char *s, size_t n, uint64_t *v)
{
	if (n - 1 >= 19 || (s[0] == '0' && n > 1))
		return false;
	if (n <= 16) {
		if (tr_digit_run(s) < n)
			return false;
		*v = tr_digits_value(s, (unsigned)n);
		return true;
	}
	if (tr_digit_run(s) < 16 || tr_digit_run(s + 16) < n - 16)
		return false;
	*v = tr_digits_value(s, (unsigned)n - 16) * 10000000000000000ull +
	     tr_digits_value(s + n - 16, 16);
	return true;
}

/* The decimals exchanges print, "61837.63000000", "0.002", "10": 1 to 8
 * integer digits (no leading zero), optionally a dot and 1 to 8 fraction
 * digits, no sign, 16 bytes at most. Exactly tr_fixed_parse's value for
 * those (they cannot overflow); false sends everything else, and every
 * error, there. The digits and the dot are found in one 16-byte load. */
static TR_INLINE bool tr_plain_fixed(const char *s, size_t n, int64_t *v)
{
	if (n - 1 >= 16)
		return false;
	unsigned in = (1u << n) - 1, dig = tr_digit_mask(s) & in, dot, d, f;

	if (dig == in) { /* an integer */
		if (n > 8 || (s[0] == '0' && n > 1))
			return false;
		*v = (int64_t)(tr_eight_digits(tr_load8(s) << (8 * (8 - n))) * 100000000);
		return true;
	}
	dot = tr_dot_mask(s) & in;
	if ((dig | dot) != in || (dot & (dot - 1)))
		return false; /* not digits and one dot */
	d = (unsigned)__builtin_ctz(dot);
	f = (unsigned)n - d - 1;
	if (d - 1 >= 8 || f - 1 >= 8 || (s[0] == '0' && d > 1))
		return false;
	/* the integer part under leading zeros, the fraction over trailing ones */
	*v = (int64_t)tr_sixteen_digits(tr_load8(s) << (8 * (8 - d)),
					tr_load8(s + d + 1) & (~0ull >> (8 * (8 - f))));
	return true;
}

/* ---- shapes: the member orders Binance sends ----------------------------------- */

/* Binance writes the members of each payload in one fixed order per venue
 * and event type. tr_shape_collect() tries those orders before the generic
 * walk: each member is one compare of `,"k":` (with a string's opening
 * quote) against a constant, then the reader of the type expected there,
 * straight through, without the walk's key table, type dispatch and
 * duplicate bookkeeping. It fills exactly the slots tr_fast_collect() fills
 * from the same frame (a shape names each key once and takes only values of
 * the fast path's grammar), plus the value of each decimal string
 * (PRE_FIX). A frame in no shape, or with one member out of place, is left
 * to tr_fast_collect(). Which shapes are tried only matters for speed: the
 * decision code still takes the family from "e" or the stream. */

enum tr_vkind { V_STR, V_DEC, V_NUM, V_BOOL };

/* A member "k" of JSON type V (V_DEC: a string that should hold a decimal). */
template <char K, int V> struct tr_m {
	static constexpr char key = K;
	static constexpr int kind = V;
	static constexpr int slot = tr_binance_slot1(K); /* -1: read, not kept ("M") */
};

/* The string at p (after its opening quote) into *t, like tr_fast_str, with
 * its value when tr_plain_fixed reads it (PRE_FIX): the decimals exchanges
 * print, checked and converted from the same 16-byte load as the scan. */
static TR_INLINE bool tr_shape_dec(const char *p, const char *end, tr_tok *t)
{
	static const uint64_t low[9] = {0,	    0xff,	  0xffff,	  0xffffff,
					0xffffffff, 0xffffffffff, 0xffffffffffff, 0xffffffffffffff,
					~0ull};
	unsigned stops = tr_str_stops(p), n, in, nondig, d, f;
	const char *q;

	if (!stops) { /* 16 bytes or more: left to the decision code */
		if (!(q = tr_fast_str_long(p + 16, end)))
			return false;
		*t = {p, (uint32_t)(q - p), T_STR, PRE_NONE, 0};
		return true;
	}
	n = (unsigned)__builtin_ctz(stops);
	q = p + n;
	if (q >= end || *q != '"')
		return false;
	*t = {p, n, T_STR, PRE_NONE, 0};
	/* tr_plain_fixed's rule: 1 to 8 digits without a leading zero, then
	 * maybe a '.' and 1 to 8 digits */
	in = (1u << n) - 1;
	nondig = in & ~tr_digit_mask(p);
	d = (unsigned)__builtin_ctz(nondig | 1u << n); /* the integer digits */
	f = nondig ? n - d - 1 : 0;		       /* the fraction digits */
	if (d - 1 >= 8 || f > 8 || (nondig & (nondig - 1)) || (nondig && (p[d] != '.' || !f)) ||
	    (p[0] == '0' && d > 1))
		return true;
	t->pre = PRE_FIX;
	t->u = tr_sixteen_digits(tr_load8(p) << (8 * (8 - d)), tr_load8(p + d + 1) & low[f]);
	return true;
}

/* The member M at p (FIRST: after the '{', else after a ','); p is moved
 * past its value. False if it is not there or not in the fast grammar. */
template <bool FIRST, class M>
static TR_INLINE bool tr_shape_member(const char *&p, const char *end, tr_bfields *f)
{
	constexpr bool str = M::kind == V_STR || M::kind == V_DEC;
	constexpr uint32_t w4 = (uint32_t)(FIRST ? '{' : ',') | (uint32_t)'"' << 8 |
				(uint32_t)(unsigned char)M::key << 16 | (uint32_t)'"' << 24;
	uint32_t x4;
	uint16_t x2;
	tr_tok t;

	/* `,"k":` or `,"k":"`: two compares against immediates */
	memcpy(&x4, p, 4);
	memcpy(&x2, p + 4, 2);
	if (x4 != w4 || (str ? x2 != (':' | '"' << 8) : (char)x2 != ':'))
		return false;
	p += str ? 6 : 5;
	if constexpr (M::kind == V_STR) {
		const char *q = tr_fast_str(p, end);

		if (!q)
			return false;
		t = {p, (uint32_t)(q - p), T_STR, PRE_NONE, 0};
		p = q + 1;
	} else if constexpr (M::kind == V_DEC) {
		if (!tr_shape_dec(p, end, &t))
			return false;
		p += t.n + 1;
	} else if constexpr (M::kind == V_NUM) {
		unsigned nd = tr_digit_run(p);
		const char *q = p + nd;

		/* 1 to 15 digits, no leading zero, ending inside the frame: what
		 * the walk reads as PRE_U64 when no fraction or exponent follows,
		 * and a ',' or '}' must (the next compare, or tr_shape) */
		if (nd - 1 >= 15 || q >= end || (*p == '0' && nd > 1))
			return false;
		t = {p, nd, T_NUM, PRE_U64, tr_digits_value(p, nd)};
		p = q;
	} else {
		if (end - p > 4 && TR_EQ(p, "true"))
			t = {p, 4, T_BOOL, PRE_NONE, 0};
		else if (end - p > 5 && TR_EQ(p, "false"))
			t = {p, 5, T_BOOL, PRE_NONE, 0};
		else
			return false;
		p += t.n;
	}
	if constexpr (M::slot >= 0)
		f->tok[M::slot] = t;
	return true;
}

template <bool FIRST, class M, class... Ms>
static TR_INLINE bool tr_shape_members(const char *&p, const char *end, tr_bfields *f)
{
	if (!tr_shape_member<FIRST, M>(p, end, f))
		return false;
	if constexpr (sizeof...(Ms) > 0)
		return tr_shape_members<false, Ms...>(p, end, f);
	else
		return true;
}

/* The slots a shape fills; ~0 if it names one twice. */
template <class... Ms> static constexpr uint32_t tr_shape_seen()
{
	const int slots[] = {Ms::slot...};
	uint32_t seen = 0;

	for (int s : slots) {
		if (s < 0)
			continue;
		if (seen >> s & 1)
			return ~0u;
		seen |= 1u << s;
	}
	return seen;
}

/* The members Ms, in this order, then the object's '}' (p is left there). */
template <bool FIRST, class... Ms>
static TR_INLINE bool tr_shape(const char *&p, const char *end, tr_bfields *f, uint32_t seen)
{
	constexpr uint32_t mine = tr_shape_seen<Ms...>();
	static_assert(mine != ~0u, "a shape names a key twice");
	const char *q = p;

	if (!tr_shape_members<FIRST, Ms...>(q, end, f) || *q != '}')
		return false;
	f->seen = seen | mine;
	p = q;
	return true;
}

namespace shape
{
using e = tr_m<'e', V_STR>;
using E = tr_m<'E', V_NUM>;
using T = tr_m<'T', V_NUM>;
using s = tr_m<'s', V_STR>;
using t = tr_m<'t', V_NUM>;
using p = tr_m<'p', V_DEC>;
using q = tr_m<'q', V_DEC>;
using m = tr_m<'m', V_BOOL>;
using M = tr_m<'M', V_BOOL>;
using X = tr_m<'X', V_STR>;
using a_id = tr_m<'a', V_NUM>; /* aggTrade id; spot trades of 2023: seller order id */
using b_id = tr_m<'b', V_NUM>; /* spot trades of 2023: buyer order id */
using f = tr_m<'f', V_NUM>;
using l = tr_m<'l', V_NUM>;
using u = tr_m<'u', V_NUM>;
using b = tr_m<'b', V_DEC>;
using B = tr_m<'B', V_DEC>;
using a = tr_m<'a', V_DEC>;
using A = tr_m<'A', V_DEC>;
} /* namespace shape */

/* A payload object at p in one of the shapes of ../shared/data; p is left at
 * its '}'. */
static TR_INLINE bool tr_shape_payload(const char *&pos, const char *end, tr_bfields *fl)
{
	using namespace shape;
	const char *cur = pos;
	constexpr uint32_t has_e = 1u << S_e;

	if (!tr_shape_member<true, e>(cur, end, fl)) /* spot bookTicker has no "e" */
		return tr_shape<true, u, s, b, B, a, A>(pos, end, fl, 0);
	switch (fl->tok[S_e].n) { /* "trade", "aggTrade", "bookTicker": a guess, checked later */
	case 5:
		if (tr_shape<false, E, s, t, p, q, T, m, M>(cur, end, fl, has_e) || /* spot */
		    tr_shape<false, E, T, s, t, p, q, X, m>(cur, end, fl, has_e) || /* USD-M */
		    tr_shape<false, E, s, t, p, q, b_id, a_id, T, m, M>(cur, end, fl, has_e))
			break; /* the last: spot until late 2023 */
		return false;
	case 8:
		if (tr_shape<false, E, s, a_id, p, q, f, l, T, m, M>(cur, end, fl,
								     has_e) ||		/* spot */
		    tr_shape<false, E, a_id, s, p, q, f, l, T, m>(cur, end, fl, has_e)) /* USD-M */
			break;
		return false;
	case 10:
		if (tr_shape<false, u, s, b, B, a, A, T, E>(cur, end, fl, has_e)) /* USD-M */
			break;
		return false;
	default:
		return false;
	}
	pos = cur;
	return true;
}

/* What tr_fast_collect() gives for a raw payload or an envelope whose
 * payload is in a shape, read faster; false leaves the frame to it. */
static TR_INLINE bool tr_shape_collect(const char *buf, size_t len, tr_bfields *top,
				       tr_bfields *data)
{
	const char *p = buf, *end = buf + len, *q;

	if (!TR_EQ(p, "{\"stream\":\"")) {
		data->seen = 0;
		return tr_shape_payload(p, end, top) && p + 1 == end;
	}
	/* {"stream":"...","data":{...}}: p only moves forward, so a frame
	 * that ends early cannot end on the last '}' */
	if (!(q = tr_fast_str(p + 11, end)) || !TR_EQ(q, "\",\"data\":{"))
		return false;
	top->tok[S_STREAM] = {p + 11, (uint32_t)(q - p - 11), T_STR, PRE_NONE, 0};
	top->tok[S_DATA].type = T_OBJ;
	top->tok[S_DATA].pre = PRE_NONE;
	top->seen = 1u << S_STREAM | 1u << S_DATA;
	p = q + 9;
	return tr_shape_payload(p, end, data) && p[1] == '}' && p + 2 == end;
}

/* Each reader below is a short inline test for the well-formed value and a
 * call to its cold twin, which does the whole check again the long way and
 * words every rejection. */

static TR_COLD bool tr_tok_u64_slow(const tr_tok &t, const tr_whys &w, uint64_t *v, tr_msg *out)
{
	if (t.type != T_NUM)
		return tr_fail(out, TR_BAD_TYPE, w.type);
	const char *s = t.s;
	size_t n = t.n;
	uint64_t x = 0;

	if (tr_plain_u64(s, n, v))
		return true;
	if (n && s[0] == '-')
		return tr_fail(out, TR_BAD_VALUE, w.negative);
	if (n == 0 || (s[0] == '0' && n > 1 && s[1] >= '0' && s[1] <= '9'))
		return tr_fail(out, TR_BAD_JSON, "json: malformed number");
	for (size_t i = 0; i < n; i++) {
		unsigned d = (unsigned char)s[i] - '0';

		if (d > 9) {
			if (s[i] == '.' || s[i] == 'e' || s[i] == 'E')
				return tr_fail(out, TR_BAD_VALUE, w.junk);
			return tr_fail(out, TR_BAD_JSON, "json: malformed number");
		}
		/* 19 digits always fit; only the 20th can overflow. */
		if (i >= 19 && x > (UINT64_MAX - d) / 10)
			return tr_fail(out, TR_BAD_OVERFLOW, w.overflow);
		x = x * 10 + d;
	}
	*v = x;
	return true;
}

/* Token -> uint64: plain JSON integer digits only. A sign, fraction or
 * exponent is a value error (the field is an integer), anything else is not
 * JSON at all. The fast path has read plain integers already. */
static TR_INLINE bool tr_tok_u64(const tr_tok &t, const tr_whys &w, uint64_t *v, tr_msg *out)
{
	if (t.pre == PRE_U64) {
		*v = t.u;
		return true;
	}
	return tr_tok_u64_slow(t, w, v, out); /* everything else, and every error */
}

static TR_COLD bool tr_missing(const tr_whys *w, int s, tr_msg *out)
{
	return tr_fail(out, TR_BAD_MISSING, w[s].missing);
}

static TR_INLINE bool tr_get_u64(const tr_bfields &f, int s, const tr_whys *w, uint64_t *v,
				 tr_msg *out)
{
	if (!f.has(s))
		return tr_missing(w, s, out);
	return tr_tok_u64(f.tok[s], w[s], v, out);
}

/* Binance milliseconds -> ns, checked against int64. */
static TR_INLINE bool tr_get_ms(const tr_bfields &f, int s, const tr_whys *w, int64_t *ns,
				tr_msg *out)
{
	uint64_t ms;

	if (!tr_get_u64(f, s, w, &ms, out))
		return false;
	if (ms > (uint64_t)INT64_MAX / 1000000)
		return tr_fail(out, TR_BAD_OVERFLOW, w[s].overflow);
	*ns = (int64_t)ms * 1000000;
	return true;
}

static TR_COLD bool tr_tok_fixed_slow(const tr_tok &t, const tr_whys &w, bool numbers_ok,
				      int64_t *v, tr_msg *out)
{
	if (t.type != T_STR && !(numbers_ok && t.type == T_NUM))
		return tr_fail(out, TR_BAD_TYPE, w.type);
	if (tr_plain_fixed(t.s, t.n, v))
		return true;
	switch (tr_fixed_parse(t.s, t.n, v)) {
	case TR_FIXED_OK: return true;
	case TR_FIXED_PRECISION: return tr_fail(out, TR_BAD_VALUE, w.precision);
	case TR_FIXED_OVERFLOW: return tr_fail(out, TR_BAD_OVERFLOW, w.overflow);
	default: return tr_fail(out, TR_BAD_VALUE, w.junk);
	}
}

/* Decimal string (or number if numbers_ok) -> 1e-8 fixed point. */
static TR_INLINE bool tr_tok_fixed(const tr_tok &t, const tr_whys &w, bool numbers_ok, int64_t *v,
				   tr_msg *out)
{
	if (t.pre == PRE_FIX) {
		*v = (int64_t)t.u;
		return true;
	}
	if (t.type == T_STR && tr_plain_fixed(t.s, t.n, v))
		return true;
	return tr_tok_fixed_slow(t, w, numbers_ok, v, out);
}

template <int N>
static TR_INLINE bool tr_get_fixed(const tr_fields<N> &f, int s, const tr_whys *w, bool numbers_ok,
				   int64_t *v, tr_msg *out)
{
	if (!f.has(s))
		return tr_missing(w, s, out);
	return tr_tok_fixed(f.tok[s], w[s], numbers_ok, v, out);
}

template <int N>
static TR_INLINE bool tr_get_positive(const tr_fields<N> &f, int s, const tr_whys *w,
				      bool numbers_ok, int64_t *v, tr_msg *out)
{
	if (!tr_get_fixed(f, s, w, numbers_ok, v, out))
		return false;
	return *v > 0 || tr_fail(out, TR_BAD_VALUE, w[s].nonpos);
}

/* One side of a book: price and quantity >= 0, and a zero price (an empty
 * side) only with a zero quantity. */
template <int N>
static TR_INLINE bool tr_get_side(const tr_fields<N> &f, int px_s, int qty_s, const tr_whys *w,
				  bool numbers_ok, const char *zero_why, int64_t *px, int64_t *qty,
				  tr_msg *out)
{
	if (!tr_get_fixed(f, px_s, w, numbers_ok, px, out) ||
	    !tr_get_fixed(f, qty_s, w, numbers_ok, qty, out))
		return false;
	if (*px < 0)
		return tr_fail(out, TR_BAD_VALUE, w[px_s].negative);
	if (*qty < 0)
		return tr_fail(out, TR_BAD_VALUE, w[qty_s].negative);
	return *px > 0 || *qty == 0 || tr_fail(out, TR_BAD_VALUE, zero_why);
}

#if defined(__SSE2__)
/* The bytes of a name that are not printable ASCII, or are space, quote or
 * backslash, among the 16 of x. */
static inline __m128i tr_name_bad16(__m128i x)
{
	/* x + 0x5f takes '!'..'~' to -128..-35 (signed), every other byte above */
	return _mm_or_si128(
	    _mm_cmpgt_epi8(_mm_add_epi8(x, _mm_set1_epi8(0x5f)), _mm_set1_epi8(-35)),
	    _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')),
			 _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))));
}
#endif

/* Printable ASCII without quote or backslash, 1..cap-1 bytes, copied with
 * its NUL. Escapes are not decoded: no symbol or venue needs one. */
template <int N>
static TR_COLD bool tr_get_name_slow(const tr_fields<N> &f, int s, const tr_whys *w, char *dst,
				     size_t cap, tr_msg *out)
{
	if (!f.has(s))
		return tr_fail(out, TR_BAD_MISSING, w[s].missing);
	const tr_tok &t = f.tok[s];

	if (t.type != T_STR)
		return tr_fail(out, TR_BAD_TYPE, w[s].type);
	if (t.n == 0 || t.n >= cap)
		return tr_fail(out, TR_BAD_VALUE, w[s].junk);
#if defined(__SSE2__)
	/* 16 bytes at a time (cap is 16 or 32; the reads stay in the padding):
	 * flag the bad bytes, keep those inside the name, then copy it with
	 * zeros after it. */
	const __m128i idx = _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
	__m128i len = _mm_set1_epi8((char)t.n), part[2];

	for (size_t i = 0; i < cap / 16; i++) {
		__m128i x = _mm_loadu_si128((const __m128i *)(t.s + 16 * i));
		__m128i in = _mm_cmpgt_epi8(len, _mm_add_epi8(idx, _mm_set1_epi8((char)(16 * i))));

		if (_mm_movemask_epi8(_mm_and_si128(tr_name_bad16(x), in)))
			return tr_fail(out, TR_BAD_VALUE, w[s].junk);
		part[i] = _mm_and_si128(x, in);
	}
	for (size_t i = 0; i < cap / 16; i++)
		_mm_storeu_si128((__m128i *)(dst + 16 * i), part[i]);
#else
	for (uint32_t i = 0; i < t.n; i++) {
		unsigned char c = (unsigned char)t.s[i];

		if (c <= ' ' || c >= 0x7f || c == '"' || c == '\\')
			return tr_fail(out, TR_BAD_VALUE, w[s].junk);
	}
	memcpy(dst, t.s, t.n);
	memset(dst + t.n, 0, cap - t.n);
#endif
	return true;
}

/* The same for a name under 16 bytes, in one load, inline. */
template <int N>
static TR_INLINE bool tr_get_name(const tr_fields<N> &f, int s, const tr_whys *w, char *dst,
				  size_t cap, tr_msg *out)
{
#if defined(__SSE2__)
	const tr_tok &t = f.tok[s];

	if (f.has(s) && t.type == T_STR && t.n - 1 < 15) {
		__m128i x = _mm_loadu_si128((const __m128i *)t.s), in = tr_keep16(t.n);

		if (!_mm_movemask_epi8(_mm_and_si128(tr_name_bad16(x), in))) {
			_mm_storeu_si128((__m128i *)dst, _mm_and_si128(x, in));
			for (size_t i = 16; i < cap; i += 16)
				_mm_storeu_si128((__m128i *)(dst + i), _mm_setzero_si128());
			return true;
		}
	}
#endif
	return tr_get_name_slow(f, s, w, dst, cap, out);
}

/* Token t is the literal lit. */
#define tr_tok_eq(t, lit) ((t).n == sizeof(lit) - 1 && TR_EQ((t).s, lit))

static TR_COLD bool tr_get_bool_slow(const tr_bfields &f, int s, const tr_whys *w, bool *v,
				     tr_msg *out)
{
	if (!f.has(s))
		return tr_fail(out, TR_BAD_MISSING, w[s].missing);
	const tr_tok &t = f.tok[s];

	if (t.type != T_BOOL)
		return tr_fail(out, TR_BAD_TYPE, w[s].type);
	if (tr_tok_eq(t, "true"))
		*v = true;
	else if (tr_tok_eq(t, "false"))
		*v = false;
	else
		return tr_fail(out, TR_BAD_JSON, "json: malformed literal");
	return true;
}

static TR_INLINE bool tr_get_bool(const tr_bfields &f, int s, const tr_whys *w, bool *v,
				  tr_msg *out)
{
	const tr_tok &t = f.tok[s];

	if (f.has(s) && t.type == T_BOOL) {
		if (tr_tok_eq(t, "true")) {
			*v = true;
			return true;
		}
		if (tr_tok_eq(t, "false")) {
			*v = false;
			return true;
		}
	}
	return tr_get_bool_slow(f, s, w, v, out);
}

/* ---- Binance families --------------------------------------------------------- */

enum tr_family { F_TRADE, F_AGG, F_QUOTE, F_IGNORED, F_UNKNOWN };

/* "E" when present (0 otherwise); shared by every family. */
static TR_INLINE bool tr_event_time(const tr_bfields &d, const tr_whys *w, int64_t *ns, tr_msg *out)
{
	*ns = 0;
	return !d.has(S_E) || tr_get_ms(d, S_E, w, ns, out);
}

/* Futures "X": absent on spot, "MARKET" for regular prints. */
static TR_INLINE bool tr_nonmarket(const tr_bfields &d, const tr_whys *w, uint8_t *nonmarket,
				   tr_msg *out)
{
	*nonmarket = 0;
	if (!d.has(S_X))
		return true;
	const tr_tok &t = d.tok[S_X];

	if (t.type != T_STR)
		return tr_fail(out, TR_BAD_TYPE, w[S_X].type);
	if (t.n == 0 || memchr(t.s, '\\', t.n))
		return tr_fail(out, TR_BAD_VALUE, w[S_X].junk);
	*nonmarket = !tr_tok_eq(t, "MARKET");
	return true;
}

static TR_INLINE bool tr_trade(const tr_bfields &d, bool agg, tr_msg *out)
{
	const tr_whys *w = agg ? tr_w_agg : tr_w_trade;
	tr_msg_trade *tr = &out->u.trade;
	bool maker;

	if (!tr_get_name(d, S_s, w, out->symbol, sizeof out->symbol, out) ||
	    !tr_get_u64(d, agg ? S_a : S_t, w, &tr->trade_id, out) ||
	    !tr_get_positive(d, S_p, w, false, &tr->price, out) ||
	    !tr_get_positive(d, S_q, w, false, &tr->qty, out) ||
	    !tr_get_ms(d, S_T, w, &tr->ts_trade, out) || !tr_event_time(d, w, &tr->ts_event, out) ||
	    !tr_get_bool(d, S_m, w, &maker, out) || !tr_nonmarket(d, w, &tr->nonmarket, out))
		return false;
	if (tr->ts_trade == 0)
		return tr_fail(out, TR_BAD_VALUE, w[S_T].nonpos);
	/* "m": the buyer is the maker, so the aggressor sold. */
	tr->side = maker ? 2 /* TR_SIDE_SELL */ : 1 /* TR_SIDE_BUY */;
	if (!agg) {
		tr->first_id = tr->last_id = tr->trade_id;
		return true;
	}
	if (!tr_get_u64(d, S_f, w, &tr->first_id, out) || !tr_get_u64(d, S_l, w, &tr->last_id, out))
		return false;
	if (tr->first_id > tr->last_id)
		return tr_fail(out, TR_BAD_VALUE, "aggTrade: first id \"f\" is after last id \"l\"");
	return true;
}

static TR_INLINE bool tr_quote(const tr_bfields &d, tr_msg *out)
{
	const tr_whys *w = tr_w_quote;
	tr_msg_quote *q = &out->u.quote;

	if (!tr_get_name(d, S_s, w, out->symbol, sizeof out->symbol, out) ||
	    !tr_get_u64(d, S_u, w, &q->update_id, out) ||
	    !tr_get_side(d, S_b, S_B, w, false,
			 "bookTicker: bid price \"b\" is 0 with a non-zero quantity", &q->bid_px,
			 &q->bid_qty, out) ||
	    !tr_get_side(d, S_a, S_A, w, false,
			 "bookTicker: ask price \"a\" is 0 with a non-zero quantity", &q->ask_px,
			 &q->ask_qty, out) ||
	    !tr_event_time(d, w, &q->ts_event, out))
		return false;
	if (!d.has(S_E) && d.has(S_T) && !tr_get_ms(d, S_T, w, &q->ts_event, out))
		return false;
	return true;
}

/* The family a stream suffix names ("btcusdt@trade" -> "trade"). Depth
 * (any level count and speed), mark price and klines are known and unused. */
static TR_INLINE tr_family tr_stream_family(const char *k, size_t n)
{
	if (n == 5 && TR_EQ(k, "trade"))
		return F_TRADE;
	if (n == 8 && TR_EQ(k, "aggTrade"))
		return F_AGG;
	if (n == 10 && TR_EQ(k, "bookTicker"))
		return F_QUOTE;
	if ((n >= 5 && TR_EQ(k, "depth")) || (n >= 9 && TR_EQ(k, "markPrice")) ||
	    (n > 6 && TR_EQ(k, "kline_")))
		return F_IGNORED;
	return F_UNKNOWN;
}

/* The family an "e" names. */
static TR_INLINE tr_family tr_event_family(const tr_tok &e)
{
	if (tr_tok_eq(e, "trade"))
		return F_TRADE;
	if (tr_tok_eq(e, "aggTrade"))
		return F_AGG;
	if (tr_tok_eq(e, "bookTicker"))
		return F_QUOTE;
	if (tr_tok_eq(e, "depthUpdate") || tr_tok_eq(e, "markPriceUpdate") || tr_tok_eq(e, "kline"))
		return F_IGNORED;
	return F_UNKNOWN;
}

static TR_INLINE tr_msg_kind tr_done(tr_msg *out, tr_msg_kind k)
{
	out->kind = k;
	return k;
}

static TR_INLINE tr_msg_kind tr_bad_frame(tr_msg *out)
{
	out->kind = TR_MSG_BAD;
	return TR_MSG_BAD;
}

/* Interpret a payload of a known family. */
static TR_INLINE tr_msg_kind tr_payload(const tr_bfields &d, tr_family fam, tr_msg *out)
{
	switch (fam) {
	case F_TRADE: return tr_trade(d, false, out) ? tr_done(out, TR_MSG_TRADE) : tr_bad_frame(out);
	case F_AGG: return tr_trade(d, true, out) ? tr_done(out, TR_MSG_AGGTRADE) : tr_bad_frame(out);
	case F_QUOTE: return tr_quote(d, out) ? tr_done(out, TR_MSG_QUOTE) : tr_bad_frame(out);
	case F_IGNORED: {
		/* Best effort: the symbol, for per-symbol counts; never an error. */
		tr_msg scratch;

		if (d.has(S_s) && !tr_get_name(d, S_s, tr_w_trade, out->symbol, sizeof out->symbol,
					      &scratch))
			out->symbol[0] = 0;
		return tr_done(out, TR_MSG_IGNORED);
	}
	default: break;
	}
	tr_fail(out, TR_BAD_UNKNOWN_STREAM, "payload: unknown event type");
	return tr_bad_frame(out);
}

static tr_msg_kind tr_reply(const tr_bfields &top, tr_msg *out)
{
	const tr_whys *w = tr_w_reply;

	if (!top.has(S_ID)) {
		tr_fail(out, TR_BAD_MISSING, w[S_ID].missing);
		return tr_bad_frame(out);
	}
	const tr_tok &t = top.tok[S_ID];

	out->u.reply.id = -1; /* null: the venue could not read our request id */
	if (t.type == T_NUM) {
		bool neg = t.n && t.s[0] == '-';
		tr_tok mag = {t.s + neg, t.n - neg, T_NUM};
		uint64_t v;

		if (!tr_tok_u64(mag, w[S_ID], &v, out))
			return tr_bad_frame(out);
		if (v > (uint64_t)INT64_MAX) {
			tr_fail(out, TR_BAD_OVERFLOW, w[S_ID].overflow);
			return tr_bad_frame(out);
		}
		out->u.reply.id = neg ? -(int64_t)v : (int64_t)v;
	} else if (t.type != T_NULL) {
		tr_fail(out, TR_BAD_TYPE, w[S_ID].type);
		return tr_bad_frame(out);
	}
	if (top.has(S_ERROR)) {
		if (top.tok[S_ERROR].type != T_OBJ) {
			tr_fail(out, TR_BAD_TYPE, w[S_ERROR].type);
			return tr_bad_frame(out);
		}
		out->u.reply.is_error = 1;
	}
	return tr_done(out, TR_MSG_REPLY);
}

#if defined(__SSE2__)
/* ASCII upper case to lower case, 16 bytes at once. */
static inline __m128i tr_lower16(__m128i x)
{
	__m128i up = _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8('A' - 1)),
				   _mm_cmplt_epi8(x, _mm_set1_epi8('Z' + 1)));

	return _mm_or_si128(x, _mm_and_si128(up, _mm_set1_epi8(0x20)));
}

/* The bytes of the block at from that lie below n, as a byte mask. */
static inline __m128i tr_below16(size_t n, size_t from)
{
	return tr_keep16(n - from < 16 ? n - from : 16); /* from < n */
}
#endif

/* Lower-case ASCII compare of a stream's symbol part with "s" (sym is the
 * NUL-padded symbol of struct tr_msg; stream_sym has no NUL). */
static TR_INLINE bool tr_symbol_matches(const char *stream_sym, size_t n, const char *sym)
{
#if defined(__SSE2__)
	static_assert(sizeof(tr_msg::symbol) == 32, "two 16-byte halves");
	if (n >= 32)
		return false; /* symbols are at most 31 bytes */
	for (size_t i = 0; i < n; i += 16) {
		__m128i a = tr_lower16(_mm_loadu_si128((const __m128i *)(stream_sym + i)));
		__m128i b = tr_lower16(_mm_loadu_si128((const __m128i *)(sym + i)));
		__m128i ne = _mm_andnot_si128(_mm_cmpeq_epi8(a, b), tr_below16(n, i));

		if (_mm_movemask_epi8(ne))
			return false;
	}
	return sym[n] == 0;
#else
	for (size_t i = 0; i < n; i++) {
		char a = stream_sym[i], b = sym[i];

		if (b == 0)
			return false;
		if (a >= 'A' && a <= 'Z')
			a += 32;
		if (b >= 'A' && b <= 'Z')
			b += 32;
		if (a != b)
			return false;
	}
	return sym[n] == 0;
#endif
}

/* Copy a combined stream's name into out->stream; the position of its first
 * '@' (or n), or -1 if it holds a backslash or a NUL (then some of it may
 * have been copied). n < 64. */
static ptrdiff_t tr_copy_stream(const char *s, size_t n, tr_msg *out)
{
#if defined(__SSE2__)
	static_assert(sizeof(tr_msg::stream) == 64, "four 16-byte quarters");
	uint64_t ats = 0; /* where the '@'s are */

	/* reads stay within 64 bytes of s: inside the frame's padding */
	for (size_t i = 0; i < n; i += 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(s + i)), in = tr_below16(n, i);
		__m128i bad = _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('\\')),
					   _mm_cmpeq_epi8(x, _mm_setzero_si128()));

		if (_mm_movemask_epi8(_mm_and_si128(bad, in)))
			return -1;
		ats |= (uint64_t)_mm_movemask_epi8(
			   _mm_and_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('@')), in))
		       << i;
		_mm_storeu_si128((__m128i *)(out->stream + i), _mm_and_si128(x, in));
	}
	return ats ? (ptrdiff_t)__builtin_ctzll(ats) : (ptrdiff_t)n;
#else
	if (memchr(s, '\\', n) || memchr(s, 0, n))
		return -1;
	memcpy(out->stream, s, n);
	out->stream[n] = 0;
	const char *at = (const char *)memchr(s, '@', n);

	return at ? at - s : (ptrdiff_t)n;
#endif
}

static TR_INLINE tr_msg_kind tr_envelope(const tr_bfields &top, const tr_bfields &data, tr_msg *out)
{
	if (!top.has(S_STREAM)) {
		tr_fail(out, TR_BAD_MISSING, "envelope: \"stream\" is missing");
		return tr_bad_frame(out);
	}
	if (!top.has(S_DATA)) {
		tr_fail(out, TR_BAD_MISSING, "envelope: \"data\" is missing");
		return tr_bad_frame(out);
	}
	const tr_tok &st = top.tok[S_STREAM];

	if (st.type != T_STR) {
		tr_fail(out, TR_BAD_TYPE, "envelope: \"stream\" is not a string");
		return tr_bad_frame(out);
	}
	ptrdiff_t at = st.n < sizeof out->stream ? tr_copy_stream(st.s, st.n, out) : -1;

	if (at < 0) {
		tr_fail(out, TR_BAD_VALUE, "envelope: \"stream\" is not a plain name under 64 bytes");
		return tr_bad_frame(out);
	}
	if ((size_t)at == st.n) {
		tr_fail(out, TR_BAD_UNKNOWN_STREAM, "envelope: \"stream\" has no @kind");
		return tr_bad_frame(out);
	}
	size_t symlen = (size_t)at;
	tr_family fam = tr_stream_family(st.s + at + 1, st.n - symlen - 1);

	if (fam == F_UNKNOWN) {
		tr_fail(out, TR_BAD_UNKNOWN_STREAM, "envelope: unknown stream kind");
		return tr_bad_frame(out);
	}
	if (fam != F_IGNORED && data.has(S_e)) {
		/* The payload must agree with its stream name. */
		if (data.tok[S_e].type != T_STR) {
			tr_fail(out, TR_BAD_TYPE, "envelope: data event type \"e\" is not a string");
			return tr_bad_frame(out);
		}
		if (tr_event_family(data.tok[S_e]) != fam) {
			tr_fail(out, TR_BAD_VALUE, "envelope: data event type \"e\" contradicts the stream");
			return tr_bad_frame(out);
		}
	}
	tr_msg_kind k = tr_payload(data, fam, out);

	if (k != TR_MSG_BAD && fam != F_IGNORED && !tr_symbol_matches(st.s, symlen, out->symbol)) {
		tr_fail(out, TR_BAD_VALUE, "envelope: data symbol \"s\" contradicts the stream");
		return tr_bad_frame(out);
	}
	return k;
}

static TR_INLINE tr_msg_kind tr_raw(const tr_bfields &top, tr_msg *out)
{
	if (top.has(S_e)) {
		if (top.tok[S_e].type != T_STR) {
			tr_fail(out, TR_BAD_TYPE, "payload: event type \"e\" is not a string");
			return tr_bad_frame(out);
		}
		return tr_payload(top, tr_event_family(top.tok[S_e]), out);
	}
	/* Spot bookTicker is the one payload without "e". */
	if (top.has(S_u) && top.has(S_b) && top.has(S_a))
		return tr_payload(top, F_QUOTE, out);
	tr_fail(out, TR_BAD_UNKNOWN_STREAM, "payload: no stream, event type or known key set");
	return tr_bad_frame(out);
}

/* After the walk, either walk: choose the family and read the slots. */
static TR_INLINE tr_msg_kind tr_binance_decide(const tr_bfields &top, const tr_bfields &data,
					       tr_msg *out)
{
	if (top.has(S_STREAM) || top.has(S_DATA))
		return tr_envelope(top, data, out);
	if (top.has(S_RESULT) || top.has(S_ERROR))
		return tr_reply(top, out);
	if (top.has(S_LASTUPDATEID)) {
		/* REST depth snapshot (or a partial-depth payload): known, unused. */
		if (top.tok[S_LASTUPDATEID].type != T_NUM) {
			tr_fail(out, TR_BAD_TYPE, "snapshot: \"lastUpdateId\" is not a number");
			return tr_bad_frame(out);
		}
		return tr_done(out, TR_MSG_IGNORED);
	}
	return tr_raw(top, out);
}

/* *out = {0}, in twelve 16-byte stores rather than a call (written out: GCC
 * turns a loop of them back into memset, then into `rep stos`). */
static inline void tr_clear(tr_msg *out)
{
#if defined(__SSE2__)
	static_assert(sizeof *out == 192, "twelve 16-byte stores");
	__m128i z = _mm_setzero_si128(), *o = (__m128i *)out;

	_mm_storeu_si128(o + 0, z);
	_mm_storeu_si128(o + 1, z);
	_mm_storeu_si128(o + 2, z);
	_mm_storeu_si128(o + 3, z);
	_mm_storeu_si128(o + 4, z);
	_mm_storeu_si128(o + 5, z);
	_mm_storeu_si128(o + 6, z);
	_mm_storeu_si128(o + 7, z);
	_mm_storeu_si128(o + 8, z);
	_mm_storeu_si128(o + 9, z);
	_mm_storeu_si128(o + 10, z);
	_mm_storeu_si128(o + 11, z);
#else
	memset(out, 0, sizeof *out);
#endif
}

/* Common prologue: clear *out, size check, iterate, require an object. */
static bool tr_begin(tr_parser *p, const char *buf, size_t len, tr_msg *out, od::document *doc,
		     od::object *obj)
{
	memset(out, 0, sizeof *out);
	if (len > TR_PARSE_MAX_FRAME)
		return tr_fail(out, TR_BAD_OVERSIZE, "frame: longer than TR_PARSE_MAX_FRAME");
	simdjson::error_code e = p->json.iterate(buf, len, len + TR_PARSE_PADDING).get(*doc);

	if (e)
		return tr_json_fail(out, e);
	e = doc->get_object().get(*obj);
	od::json_type t;
	if (e == simdjson::INCORRECT_TYPE && !doc->type().get(t)) /* an array, a string, ... */
		return tr_fail(out, TR_BAD_TYPE, "frame: not a JSON object");
	if (e)
		return tr_json_fail(out, e);
	return true;
}

/* The object must be the whole frame: simdjson reports a position past the
 * last structural character as out of bounds. */
static bool tr_end(od::document *doc, tr_msg *out)
{
	const char *at;

	if (doc->current_location().get(at) == simdjson::OUT_OF_BOUNDS)
		return true;
	return tr_fail(out, TR_BAD_JSON, "json: content after the object");
}

/* ---- gateway ------------------------------------------------------------------- */

static tr_msg_kind tr_gateway(const tr_gfields &g, tr_msg *out)
{
	const tr_whys *w = tr_w_gline;

	if (!g.has(G_TYPE)) {
		tr_fail(out, TR_BAD_MISSING, w[G_TYPE].missing);
		return tr_bad_frame(out);
	}
	const tr_tok &ty = g.tok[G_TYPE];

	if (ty.type != T_STR) {
		tr_fail(out, TR_BAD_TYPE, w[G_TYPE].type);
		return tr_bad_frame(out);
	}
	bool trade = tr_tok_eq(ty, "trade");

	if (!trade && !tr_tok_eq(ty, "quote")) {
		tr_fail(out, TR_BAD_UNKNOWN_STREAM, w[G_TYPE].junk);
		return tr_bad_frame(out);
	}
	w = trade ? tr_w_gtrade : tr_w_gquote;
	int64_t ts = 0;

	if (!tr_get_name(g, G_VENUE, w, out->venue, sizeof out->venue, out) ||
	    !tr_get_name(g, G_SYMBOL, w, out->symbol, sizeof out->symbol, out))
		return tr_bad_frame(out);
	if (g.has(G_TS_EVENT)) {
		uint64_t v;

		if (!tr_tok_u64(g.tok[G_TS_EVENT], w[G_TS_EVENT], &v, out))
			return tr_bad_frame(out);
		if (v > (uint64_t)INT64_MAX) {
			tr_fail(out, TR_BAD_OVERFLOW, w[G_TS_EVENT].overflow);
			return tr_bad_frame(out);
		}
		ts = (int64_t)v;
	}
	if (!trade) {
		tr_msg_quote *q = &out->u.quote;

		if (!tr_get_side(g, G_BID_PX, G_BID_QTY, w, true,
				 "gateway quote: bid_px is 0 with a non-zero bid_qty", &q->bid_px,
				 &q->bid_qty, out) ||
		    !tr_get_side(g, G_ASK_PX, G_ASK_QTY, w, true,
				 "gateway quote: ask_px is 0 with a non-zero ask_qty", &q->ask_px,
				 &q->ask_qty, out))
			return tr_bad_frame(out);
		q->ts_event = ts;
		return tr_done(out, TR_MSG_QUOTE);
	}
	tr_msg_trade *tr = &out->u.trade;

	if (!tr_get_positive(g, G_PRICE, w, true, &tr->price, out) ||
	    !tr_get_positive(g, G_QTY, w, true, &tr->qty, out))
		return tr_bad_frame(out);
	if (g.has(G_TRADE_ID) && !tr_tok_u64(g.tok[G_TRADE_ID], w[G_TRADE_ID], &tr->trade_id, out))
		return tr_bad_frame(out);
	tr->first_id = tr->last_id = tr->trade_id;
	tr->ts_trade = tr->ts_event = ts;
	tr->side = 0; /* TR_SIDE_UNKNOWN */
	if (g.has(G_SIDE)) {
		const tr_tok &sd = g.tok[G_SIDE];

		if (sd.type != T_STR) {
			tr_fail(out, TR_BAD_TYPE, w[G_SIDE].type);
			return tr_bad_frame(out);
		}
		if (tr_tok_eq(sd, "buy"))
			tr->side = 1;
		else if (tr_tok_eq(sd, "sell"))
			tr->side = 2;
		else if (!tr_tok_eq(sd, "unknown")) {
			tr_fail(out, TR_BAD_VALUE, w[G_SIDE].junk);
			return tr_bad_frame(out);
		}
	}
	return tr_done(out, TR_MSG_TRADE);
}

/* The fast path: -1 declines, *out untouched. One copy for the two exported
 * functions (with -fPIC they would not be inlined into each other). */
static __attribute__((noinline)) int tr_fast(const char *buf, size_t len, tr_msg *out,
					     int collectors)
{
	tr_bfields top, data;

	if (len > TR_PARSE_MAX_FRAME ||
	    !((collectors & TR_FAST_SHAPES && tr_shape_collect(buf, len, &top, &data)) ||
	      (collectors & TR_FAST_WALK && tr_fast_collect(buf, len, &top, &data))))
		return -1;
	tr_clear(out);
	return tr_binance_decide(top, data, out);
}

} /* namespace */

/* ---- C entry points ------------------------------------------------------------- */

extern "C" {

struct tr_parser *tr_parser_new(void)
{
	tr_parser *p = new (std::nothrow) tr_parser();

	/* Sized once for ordinary frames, so the first ones do not allocate;
	 * simdjson grows the buffers only for a longer frame, and never shrinks
	 * them. */
	if (p && p->json.allocate(TR_PARSE_PREALLOC)) {
		delete p;
		return nullptr;
	}
	return p;
}

void tr_parser_free(struct tr_parser *p)
{
	delete p;
}

enum tr_msg_kind tr_parse_binance(struct tr_parser *p, const char *buf, size_t len,
				  struct tr_msg *out)
{
	int k = tr_fast(buf, len, out, TR_FAST_SHAPES | TR_FAST_WALK);

	return k >= 0 ? (enum tr_msg_kind)k : tr_parse_binance_simdjson(p, buf, len, out);
}

int tr_parse_binance_fast(const char *buf, size_t len, struct tr_msg *out)
{
	return tr_fast(buf, len, out, TR_FAST_SHAPES | TR_FAST_WALK);
}

int tr_parse_binance_fast_with(const char *buf, size_t len, struct tr_msg *out, int collectors)
{
	return tr_fast(buf, len, out, collectors);
}

enum tr_msg_kind tr_parse_binance_simdjson(struct tr_parser *p, const char *buf, size_t len,
					   struct tr_msg *out)
{
	od::document doc;
	od::object obj;
	tr_bfields top, data;

	data.seen = 0;
	if (!tr_begin(p, buf, len, out, &doc, &obj) ||
	    !tr_collect<S_N, tr_binance_slot>(obj, &top, tr_dup_binance, S_DATA, &data,
					      "envelope: \"data\" is not an object", out) ||
	    !tr_end(&doc, out))
		return tr_bad_frame(out);
	return tr_binance_decide(top, data, out);
}

enum tr_msg_kind tr_parse_gateway(struct tr_parser *p, const char *buf, size_t len,
				  struct tr_msg *out)
{
	od::document doc;
	od::object obj;
	tr_gfields g;

	if (!tr_begin(p, buf, len, out, &doc, &obj) ||
	    !tr_collect<G_N, tr_gateway_slot>(obj, &g, tr_dup_gateway, -1, nullptr, nullptr, out) ||
	    !tr_end(&doc, out))
		return tr_bad_frame(out);
	return tr_gateway(g, out);
}

const char *tr_bad_name(enum tr_bad bad)
{
	switch (bad) {
	case TR_BAD_NONE: return "none";
	case TR_BAD_JSON: return "bad_json";
	case TR_BAD_TYPE: return "bad_type";
	case TR_BAD_MISSING: return "bad_missing_field";
	case TR_BAD_VALUE: return "bad_value";
	case TR_BAD_OVERFLOW: return "bad_overflow";
	case TR_BAD_UNKNOWN_STREAM: return "bad_unknown_stream";
	case TR_BAD_OVERSIZE: return "bad_oversize";
	}
	return "unknown";
}

} /* extern "C" */
