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
#include <utility>
#include <string.h>

#include <simdjson.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace od = simdjson::ondemand;

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

/* k points just past the key's opening quote. A key matches only if its
 * bytes are the name followed by the closing quote, so "pp" never matches
 * "p" and an escaped key never matches anything (docs/parsing.md). Reading
 * a dozen bytes past k stays inside the frame or its padding: the key is
 * followed by at least `":` and a value. */
static inline bool tr_key_is(const char *k, const char *name, size_t n)
{
	return memcmp(k, name, n) == 0 && k[n] == '"';
}

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
	case 's': return tr_key_is(k, "stream", 6) ? S_STREAM : -1;
	case 'd': return tr_key_is(k, "data", 4) ? S_DATA : -1;
	case 'r': return tr_key_is(k, "result", 6) ? S_RESULT : -1;
	case 'e': return tr_key_is(k, "error", 5) ? S_ERROR : -1;
	case 'i': return tr_key_is(k, "id", 2) ? S_ID : -1;
	case 'l': return tr_key_is(k, "lastUpdateId", 12) ? S_LASTUPDATEID : -1;
	}
	return -1;
}

static inline int tr_gateway_slot(const char *k)
{
	switch (k[0]) {
	case 't':
		if (tr_key_is(k, "type", 4)) return G_TYPE;
		if (tr_key_is(k, "trade_id", 8)) return G_TRADE_ID;
		if (tr_key_is(k, "ts_event", 8)) return G_TS_EVENT;
		return -1;
	case 'v': return tr_key_is(k, "venue", 5) ? G_VENUE : -1;
	case 's':
		if (tr_key_is(k, "symbol", 6)) return G_SYMBOL;
		if (tr_key_is(k, "side", 4)) return G_SIDE;
		return -1;
	case 'p': return tr_key_is(k, "price", 5) ? G_PRICE : -1;
	case 'q': return tr_key_is(k, "qty", 3) ? G_QTY : -1;
	case 'b':
		if (tr_key_is(k, "bid_px", 6)) return G_BID_PX;
		if (tr_key_is(k, "bid_qty", 7)) return G_BID_QTY;
		return -1;
	case 'a':
		if (tr_key_is(k, "ask_px", 6)) return G_ASK_PX;
		if (tr_key_is(k, "ask_qty", 7)) return G_ASK_QTY;
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
	if (t->type == T_NULL && !(n == 4 && !memcmp(raw.data(), "null", 4)))
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
 * bytes at p < end stay inside the frame's TR_PARSE_PADDING. */

/* The closing quote of a plain string whose content starts at p, or nullptr:
 * the first byte that is a quote, a backslash, a control character, DEL or
 * non-ASCII must be a quote inside the frame. */
static inline const char *tr_fast_str(const char *p, const char *end)
{
	const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
	const __m128i space = _mm_set1_epi8(0x20), del = _mm_set1_epi8(0x7f);

	for (; p < end; p += 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)p);
		/* signed: bytes >= 0x80 are negative, so below ' ' too */
		__m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, bslash)),
					 _mm_or_si128(_mm_cmplt_epi8(x, space), _mm_cmpeq_epi8(x, del)));
		unsigned bits = (unsigned)_mm_movemask_epi8(m);

		if (bits) {
			p += __builtin_ctz(bits);
			return p < end && *p == '"' ? p : nullptr;
		}
	}
	return nullptr;
}

/* Past the run of digits at p, never past end (padding may hold digits). */
static inline const char *tr_fast_digits(const char *p, const char *end)
{
	const __m128i lo = _mm_set1_epi8('0' - 1), hi = _mm_set1_epi8('9' + 1);

	while (p < end) {
		__m128i x = _mm_loadu_si128((const __m128i *)p);
		__m128i d = _mm_and_si128(_mm_cmpgt_epi8(x, lo), _mm_cmplt_epi8(x, hi));
		unsigned n = (unsigned)__builtin_ctz(~(unsigned)_mm_movemask_epi8(d));

		p += n;
		if (n < 16)
			break;
	}
	return p < end ? p : end;
}
#else
/* Other machines: the same contracts, a byte at a time. */
static inline const char *tr_fast_str(const char *p, const char *end)
{
	for (; p < end && tr_plain_byte((unsigned char)*p); p++)
		;
	return p < end && *p == '"' ? p : nullptr;
}

static inline const char *tr_fast_digits(const char *p, const char *end)
{
	for (; p < end && *p >= '0' && *p <= '9'; p++)
		;
	return p;
}
#endif

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

static inline bool tr_fast_lit(const char *p, const char *end, const char *lit, size_t n)
{
	return (size_t)(end - p) >= n && memcmp(p, lit, n) == 0;
}

/* Collect a frame of the fast path's shape into top (and data); false
 * declines it, having written nothing but the two field sets. Each step
 * starts at the '{' or ',' before a member, so the common `,"c":` of a
 * one-letter key is checked in one load. */
static bool tr_fast_collect(const char *buf, size_t len, tr_bfields *top, tr_bfields *data)
{
	const char *p = buf, *end = buf + len, *q;
	tr_bfields *f = top;
	uint64_t w;
	int s;
	tr_tok t;

	top->seen = data->seen = 0;
	if (len < 2 || *p != '{')
		return false;
	for (;;) {
		/* p < end, at the '{' or ',' before a member */
		if (*p == '{' && p + 1 < end && p[1] == '}') {
			q = p + 1; /* an empty object */
			goto close;
		}
		memcpy(&w, p, 8);
		if ((w & 0xffff00ff00ull) == 0x3a22002200ull && tr_key1.v[w >> 16 & 0xff] >= 0) {
			s = tr_key1.v[w >> 16 & 0xff] - 1;
			p += 5;
			if (p >= end)
				return false;
		} else {
			if (p[1] != '"' || !(q = tr_fast_str(p + 2, end)) || q[1] != ':')
				return false;
			s = tr_binance_slot(p + 2); /* the same function on the same bytes as the walk */
			p = q + 2;
			if (p >= end)
				return false;
			/* a top-level "data" is an object or a rejection simdjson words */
			if (s == S_DATA && f == top && *p != '{')
				return false;
		}
		switch (*p) {
		case '"':
			if (!(q = tr_fast_str(p + 1, end)))
				return false;
			t = {p + 1, (uint32_t)(q - p - 1), T_STR};
			q++;
			break;
		case '-':
		case '0': case '1': case '2': case '3': case '4':
		case '5': case '6': case '7': case '8': case '9':
			if (!(q = tr_fast_num(p, end)))
				return false;
			t = {p, (uint32_t)(q - p), T_NUM};
			break;
		case 't':
			if (!tr_fast_lit(p, end, "true", 4))
				return false;
			t = {p, 4, T_BOOL};
			q = p + 4;
			break;
		case 'f':
			if (!tr_fast_lit(p, end, "false", 5))
				return false;
			t = {p, 5, T_BOOL};
			q = p + 5;
			break;
		case 'n':
			if (!tr_fast_lit(p, end, "null", 4))
				return false;
			t = {p, 4, T_NULL};
			q = p + 4;
			break;
		case '{':
			/* Only the envelope's "data", once, and only one level deep. */
			if (f != top || s != S_DATA || top->has(S_DATA))
				return false;
			top->seen |= 1u << S_DATA;
			top->tok[S_DATA].type = T_OBJ;
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

/* The eight ASCII digits of x as a number (the lowest byte is the first
 * digit); false if any byte is not a digit. */
static inline bool tr_eight_digits(uint64_t v, uint64_t *out)
{
	/* every byte in '0'..'9': high nibble 3, and adding 6 does not carry out */
	if ((v & 0xf0f0f0f0f0f0f0f0ull) != 0x3030303030303030ull ||
	    ((v + 0x0606060606060606ull) & 0xf0f0f0f0f0f0f0f0ull) != 0x3030303030303030ull)
		return false;
	v -= 0x3030303030303030ull;
	v = v * 10 + (v >> 8); /* pairs: d0d1, d2d3, ... */
	*out = (((v & 0x000000ff000000ffull) * (100 + (1000000ull << 32))) +
		(((v >> 16) & 0x000000ff000000ffull) * (1 + (10000ull << 32)))) >>
	       32;
	return true;
}

/* The m (1..8) digits at s as a number. Reads 8 bytes: every token lies in
 * a frame followed by TR_PARSE_PADDING bytes. The digits are moved to the
 * top of the word under m - 8 leading '0's. */
static inline bool tr_digits(const char *s, unsigned m, uint64_t *out)
{
	uint64_t x;

	memcpy(&x, s, 8);
	if (m < 8)
		x = x << (8 * (8 - m)) | 0x3030303030303030ull >> (8 * m);
	return tr_eight_digits(x, out);
}

/* 1 to 19 digits, all of them digits, without a leading zero: the ids and
 * times Binance sends, in at most three word steps. Cannot overflow (19
 * digits < 2^64). */
static inline bool tr_plain_u64(const char *s, size_t n, uint64_t *v)
{
	uint64_t a, b, c;

	if (n - 1 >= 19 || (s[0] == '0' && n > 1))
		return false;
	if (n <= 8)
		return tr_digits(s, (unsigned)n, v);
	if (n <= 16) {
		if (!tr_digits(s, (unsigned)n - 8, &a) || !tr_digits(s + n - 8, 8, &b))
			return false;
		*v = a * 100000000 + b;
		return true;
	}
	if (!tr_digits(s, (unsigned)n - 16, &a) || !tr_digits(s + n - 16, 8, &b) ||
	    !tr_digits(s + n - 8, 8, &c))
		return false;
	*v = (a * 100000000 + b) * 100000000 + c;
	return true;
}

/* How many of the eight bytes of x, from the lowest, are ASCII digits. */
static inline unsigned tr_lead_digits(uint64_t x)
{
	/* non-zero exactly on the non-digits, as in tr_eight_digits (a carry out
	 * of a byte >= 0xfa only disturbs bytes above that non-digit) */
	uint64_t nd = ((x & 0xf0f0f0f0f0f0f0f0ull) ^ 0x3030303030303030ull) |
		      (((x + 0x0606060606060606ull) & 0xf0f0f0f0f0f0f0f0ull) ^ 0x3030303030303030ull);

	return nd ? (unsigned)__builtin_ctzll(nd) >> 3 : 8;
}

/* The decimals exchanges print, "61837.63000000", "0.002", "10": 1 to 8
 * integer digits (no leading zero), optionally a dot and 1 to 8 fraction
 * digits, no sign. Exactly tr_fixed_parse's value for those (they cannot
 * overflow); false sends everything else, and every error, there. Reads 8
 * bytes past the dot, inside the padding like every token. */
static inline bool tr_plain_fixed(const char *s, size_t n, int64_t *v)
{
	uint64_t x, ip, fp;
	unsigned d;

	if (n - 1 >= 17)
		return false;
	memcpy(&x, s, 8);
	d = tr_lead_digits(x);
	if (d == 0 || (s[0] == '0' && d > 1) || !tr_digits(s, d, &ip))
		return false;
	if (d == n) {
		*v = (int64_t)(ip * 100000000);
		return true;
	}
	size_t f = n - d - 1;

	if (s[d] != '.' || f - 1 >= 8)
		return false;
	memcpy(&x, s + d + 1, 8);
	if (f < 8) {
		uint64_t keep = (1ull << (8 * f)) - 1; /* the fraction, then '0's to 1e-8 */

		x = (x & keep) | (0x3030303030303030ull & ~keep);
	}
	if (!tr_eight_digits(x, &fp))
		return false;
	*v = (int64_t)(ip * 100000000 + fp);
	return true;
}

static bool tr_tok_u64_slow(const tr_tok &t, const tr_whys &w, uint64_t *v, tr_msg *out)
{
	if (t.type != T_NUM)
		return tr_fail(out, TR_BAD_TYPE, w.type);
	const char *s = t.s;
	size_t n = t.n;
	uint64_t x = 0;

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
 * JSON at all. */
static inline bool tr_tok_u64(const tr_tok &t, const tr_whys &w, uint64_t *v, tr_msg *out)
{
	if (t.type == T_NUM && tr_plain_u64(t.s, t.n, v))
		return true;
	return tr_tok_u64_slow(t, w, v, out); /* everything else, and every error */
}

static bool tr_get_u64(const tr_bfields &f, int s, const tr_whys *w, uint64_t *v, tr_msg *out)
{
	if (!f.has(s))
		return tr_fail(out, TR_BAD_MISSING, w[s].missing);
	return tr_tok_u64(f.tok[s], w[s], v, out);
}

/* Binance milliseconds -> ns, checked against int64. */
static bool tr_get_ms(const tr_bfields &f, int s, const tr_whys *w, int64_t *ns, tr_msg *out)
{
	uint64_t ms;

	if (!tr_get_u64(f, s, w, &ms, out))
		return false;
	if (ms > (uint64_t)INT64_MAX / 1000000)
		return tr_fail(out, TR_BAD_OVERFLOW, w[s].overflow);
	*ns = (int64_t)ms * 1000000;
	return true;
}

/* Decimal string (or number if numbers_ok) -> 1e-8 fixed point. */
static bool tr_tok_fixed(const tr_tok &t, const tr_whys &w, bool numbers_ok, int64_t *v,
			 tr_msg *out)
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

template <int N>
static bool tr_get_fixed(const tr_fields<N> &f, int s, const tr_whys *w, bool numbers_ok,
			 int64_t *v, tr_msg *out)
{
	if (!f.has(s))
		return tr_fail(out, TR_BAD_MISSING, w[s].missing);
	return tr_tok_fixed(f.tok[s], w[s], numbers_ok, v, out);
}

template <int N>
static bool tr_get_positive(const tr_fields<N> &f, int s, const tr_whys *w, bool numbers_ok,
			    int64_t *v, tr_msg *out)
{
	if (!tr_get_fixed(f, s, w, numbers_ok, v, out))
		return false;
	return *v > 0 || tr_fail(out, TR_BAD_VALUE, w[s].nonpos);
}

/* One side of a book: price and quantity >= 0, and a zero price (an empty
 * side) only with a zero quantity. */
template <int N>
static bool tr_get_side(const tr_fields<N> &f, int px_s, int qty_s, const tr_whys *w,
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

/* Printable ASCII without quote or backslash, 1..cap-1 bytes, copied with
 * its NUL. Escapes are not decoded: no symbol or venue needs one. */
template <int N>
static bool tr_get_name(const tr_fields<N> &f, int s, const tr_whys *w, char *dst, size_t cap,
			tr_msg *out)
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
	const __m128i bang = _mm_set1_epi8('!'), del = _mm_set1_epi8(0x7f);
	const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
	__m128i len = _mm_set1_epi8((char)t.n), part[2];

	for (size_t i = 0; i < cap / 16; i++) {
		__m128i x = _mm_loadu_si128((const __m128i *)(t.s + 16 * i));
		__m128i in = _mm_cmpgt_epi8(len, _mm_add_epi8(idx, _mm_set1_epi8((char)(16 * i))));
		/* signed: bytes >= 0x80 are negative, so below '!' too */
		__m128i bad = _mm_or_si128(_mm_or_si128(_mm_cmplt_epi8(x, bang), _mm_cmpeq_epi8(x, del)),
					   _mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, bslash)));

		if (_mm_movemask_epi8(_mm_and_si128(bad, in)))
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

static bool tr_get_bool(const tr_bfields &f, int s, const tr_whys *w, bool *v, tr_msg *out)
{
	if (!f.has(s))
		return tr_fail(out, TR_BAD_MISSING, w[s].missing);
	const tr_tok &t = f.tok[s];

	if (t.type != T_BOOL)
		return tr_fail(out, TR_BAD_TYPE, w[s].type);
	if (t.n == 4 && !memcmp(t.s, "true", 4))
		*v = true;
	else if (t.n == 5 && !memcmp(t.s, "false", 5))
		*v = false;
	else
		return tr_fail(out, TR_BAD_JSON, "json: malformed literal");
	return true;
}

static inline bool tr_tok_eq(const tr_tok &t, const char *s, size_t n)
{
	return t.n == n && memcmp(t.s, s, n) == 0;
}

/* ---- Binance families --------------------------------------------------------- */

enum tr_family { F_TRADE, F_AGG, F_QUOTE, F_IGNORED, F_UNKNOWN };

/* "E" when present (0 otherwise); shared by every family. */
static bool tr_event_time(const tr_bfields &d, const tr_whys *w, int64_t *ns, tr_msg *out)
{
	*ns = 0;
	return !d.has(S_E) || tr_get_ms(d, S_E, w, ns, out);
}

/* Futures "X": absent on spot, "MARKET" for regular prints. */
static bool tr_nonmarket(const tr_bfields &d, const tr_whys *w, uint8_t *nonmarket, tr_msg *out)
{
	*nonmarket = 0;
	if (!d.has(S_X))
		return true;
	const tr_tok &t = d.tok[S_X];

	if (t.type != T_STR)
		return tr_fail(out, TR_BAD_TYPE, w[S_X].type);
	if (t.n == 0 || memchr(t.s, '\\', t.n))
		return tr_fail(out, TR_BAD_VALUE, w[S_X].junk);
	*nonmarket = !tr_tok_eq(t, "MARKET", 6);
	return true;
}

static bool tr_trade(const tr_bfields &d, bool agg, tr_msg *out)
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

static bool tr_quote(const tr_bfields &d, tr_msg *out)
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
static tr_family tr_stream_family(const char *k, size_t n)
{
	if (n == 5 && !memcmp(k, "trade", 5))
		return F_TRADE;
	if (n == 8 && !memcmp(k, "aggTrade", 8))
		return F_AGG;
	if (n == 10 && !memcmp(k, "bookTicker", 10))
		return F_QUOTE;
	if ((n >= 5 && !memcmp(k, "depth", 5)) || (n >= 9 && !memcmp(k, "markPrice", 9)) ||
	    (n > 6 && !memcmp(k, "kline_", 6)))
		return F_IGNORED;
	return F_UNKNOWN;
}

/* The family an "e" names. */
static tr_family tr_event_family(const tr_tok &e)
{
	if (tr_tok_eq(e, "trade", 5))
		return F_TRADE;
	if (tr_tok_eq(e, "aggTrade", 8))
		return F_AGG;
	if (tr_tok_eq(e, "bookTicker", 10))
		return F_QUOTE;
	if (tr_tok_eq(e, "depthUpdate", 11) || tr_tok_eq(e, "markPriceUpdate", 15) ||
	    tr_tok_eq(e, "kline", 5))
		return F_IGNORED;
	return F_UNKNOWN;
}

static tr_msg_kind tr_done(tr_msg *out, tr_msg_kind k)
{
	out->kind = k;
	return k;
}

static tr_msg_kind tr_bad_frame(tr_msg *out)
{
	out->kind = TR_MSG_BAD;
	return TR_MSG_BAD;
}

/* Interpret a payload of a known family. */
static tr_msg_kind tr_payload(const tr_bfields &d, tr_family fam, tr_msg *out)
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

/* Bytes whose index is below n, as a byte mask. */
static inline __m128i tr_below16(size_t n, size_t from)
{
	const __m128i idx = _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);

	return _mm_cmpgt_epi8(_mm_set1_epi8((char)(n - from)), idx); /* n - from < 80 */
}
#endif

/* Lower-case ASCII compare of a stream's symbol part with "s" (sym is the
 * NUL-padded symbol of struct tr_msg; stream_sym has no NUL). */
static bool tr_symbol_matches(const char *stream_sym, size_t n, const char *sym)
{
#if defined(__SSE2__)
	static_assert(sizeof(tr_msg::symbol) == 32, "two 16-byte halves");
	if (n >= 32)
		return false; /* symbols are at most 31 bytes */
	for (size_t i = 0; i < 32; i += 16) {
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
 * '@' (or n), or -1 if it holds a backslash or a NUL. n < 64. */
static ptrdiff_t tr_copy_stream(const char *s, size_t n, tr_msg *out)
{
#if defined(__SSE2__)
	static_assert(sizeof(tr_msg::stream) == 64, "four 16-byte quarters");
	ptrdiff_t at = -1;
	__m128i part[4];

	/* reads stay within 64 bytes of s: inside the frame's padding */
	for (size_t i = 0; i < n; i += 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(s + i)), in = tr_below16(n, i);
		__m128i bad = _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('\\')),
					   _mm_cmpeq_epi8(x, _mm_setzero_si128()));
		unsigned ats = (unsigned)_mm_movemask_epi8(
		    _mm_and_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('@')), in));

		if (_mm_movemask_epi8(_mm_and_si128(bad, in)))
			return -1;
		if (at < 0 && ats)
			at = (ptrdiff_t)(i + (unsigned)__builtin_ctz(ats));
		part[i / 16] = _mm_and_si128(x, in);
	}
	for (size_t i = 0; i < n; i += 16)
		_mm_storeu_si128((__m128i *)(out->stream + i), part[i / 16]);
	return at < 0 ? (ptrdiff_t)n : at;
#else
	if (memchr(s, '\\', n) || memchr(s, 0, n))
		return -1;
	memcpy(out->stream, s, n);
	out->stream[n] = 0;
	const char *at = (const char *)memchr(s, '@', n);

	return at ? at - s : (ptrdiff_t)n;
#endif
}

static tr_msg_kind tr_envelope(const tr_bfields &top, const tr_bfields &data, tr_msg *out)
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

static tr_msg_kind tr_raw(const tr_bfields &top, tr_msg *out)
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
static tr_msg_kind tr_binance_decide(const tr_bfields &top, const tr_bfields &data, tr_msg *out)
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
	bool trade = tr_tok_eq(ty, "trade", 5);

	if (!trade && !tr_tok_eq(ty, "quote", 5)) {
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
		if (tr_tok_eq(sd, "buy", 3))
			tr->side = 1;
		else if (tr_tok_eq(sd, "sell", 4))
			tr->side = 2;
		else if (!tr_tok_eq(sd, "unknown", 7)) {
			tr_fail(out, TR_BAD_VALUE, w[G_SIDE].junk);
			return tr_bad_frame(out);
		}
	}
	return tr_done(out, TR_MSG_TRADE);
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
	int k = tr_parse_binance_fast(buf, len, out);

	return k >= 0 ? (enum tr_msg_kind)k : tr_parse_binance_simdjson(p, buf, len, out);
}

int tr_parse_binance_fast(const char *buf, size_t len, struct tr_msg *out)
{
	tr_bfields top, data;

	if (len > TR_PARSE_MAX_FRAME || !tr_fast_collect(buf, len, &top, &data))
		return -1;
	memset(out, 0, sizeof *out);
	return tr_binance_decide(top, data, out);
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
