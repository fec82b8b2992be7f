/* tr_parse_binance.cpp - the Binance and gateway extractors over simdjson ondemand.
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
 * The gateway's NDJSON records go through the same walk with their own keys;
 * they live here because they share the parser and the field readers.
 */
#include "tr_parse.h"
extern "C" {
#include "tr_fixed.h" /* a C header without its own extern "C" */
}

#include <new>
#include <utility>
#include <string.h>

#include <simdjson.h>

namespace od = simdjson::ondemand;

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

/* k points just past the key's opening quote. A key matches only if its
 * bytes are the name followed by the closing quote, so "pp" never matches
 * "p" and an escaped key never matches anything (docs/parsing.md). Reading
 * a dozen bytes past k stays inside the frame or its padding: the key is
 * followed by at least `":` and a value. */
static inline bool tr_key_is(const char *k, const char *name, size_t n)
{
	return memcmp(k, name, n) == 0 && k[n] == '"';
}

static inline int tr_binance_slot(const char *k)
{
	if (k[1] == '"') {
		switch (k[0]) {
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

/* ---- field readers ----------------------------------------------------------- */

/* Token -> uint64: plain JSON integer digits only. A sign, fraction or
 * exponent is a value error (the field is an integer), anything else is not
 * JSON at all. */
static bool tr_tok_u64(const tr_tok &t, const tr_whys &w, uint64_t *v, tr_msg *out)
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
	for (uint32_t i = 0; i < t.n; i++) {
		unsigned char c = (unsigned char)t.s[i];

		if (c <= ' ' || c >= 0x7f || c == '"' || c == '\\')
			return tr_fail(out, TR_BAD_VALUE, w[s].junk);
	}
	memcpy(dst, t.s, t.n);
	dst[t.n] = 0;
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

/* Lower-case ASCII compare of a stream's symbol part with "s". */
static bool tr_symbol_matches(const char *stream_sym, size_t n, const char *sym)
{
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
	if (st.n >= sizeof out->stream || memchr(st.s, '\\', st.n) || memchr(st.s, 0, st.n)) {
		tr_fail(out, TR_BAD_VALUE, "envelope: \"stream\" is not a plain name under 64 bytes");
		return tr_bad_frame(out);
	}
	memcpy(out->stream, st.s, st.n);
	out->stream[st.n] = 0;
	const char *at = (const char *)memchr(st.s, '@', st.n);

	if (!at) {
		tr_fail(out, TR_BAD_UNKNOWN_STREAM, "envelope: \"stream\" has no @kind");
		return tr_bad_frame(out);
	}
	size_t symlen = (size_t)(at - st.s);
	tr_family fam = tr_stream_family(at + 1, st.n - symlen - 1);

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
	return new (std::nothrow) tr_parser();
}

void tr_parser_free(struct tr_parser *p)
{
	delete p;
}

enum tr_msg_kind tr_parse_binance(struct tr_parser *p, const char *buf, size_t len,
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
