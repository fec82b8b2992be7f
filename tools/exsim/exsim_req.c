/* exsim_req.c - stream names and the clients' JSON requests.
 *
 * Stream names ("btcusdt@trade") are interned once into small ids so that a
 * client's subscription set is a bitmap and routing a frame costs one bit
 * test. Names come from the replayed files, the synthetic symbols and the
 * clients themselves; the table only grows, and is bounded.
 *
 * Requests are Binance's: {"method":"SUBSCRIBE","params":[...],"id":1},
 * UNSUBSCRIBE, LIST_SUBSCRIPTIONS, SET_PROPERTY ["combined",true] and
 * GET_PROPERTY ["combined"]. The parser is a small strict JSON reader for
 * exactly that shape, so it reports errors the way Binance documents them:
 * code 3 "Invalid JSON" when the text is not JSON, code 2 "Invalid request"
 * when it is JSON of the wrong shape, code 0 "Unknown property", code 1
 * "Invalid value type". A reply carries the request's id when one was read,
 * else null.
 */
#define _GNU_SOURCE
#include "exsim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- stream names: open addressing on a power-of-two table ---- */

static char *names[EXSIM_MAX_STREAMS];
static uint32_t nnames;
static int32_t index_tab[EXSIM_MAX_STREAMS * 2]; /* id + 1, 0 = empty */

static uint32_t hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

static bool valid_name(const char *s, size_t n)
{
	if (n == 0 || n >= EXSIM_STREAM_NAME)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '@' || c == '_' || c == '-' || c == '.' || c == '!'))
			return false;
	}
	return true;
}

int exsim_stream_id(const char *name, size_t len)
{
	if (!valid_name(name, len))
		return -1;
	uint32_t mask = EXSIM_MAX_STREAMS * 2 - 1;
	for (uint32_t i = hash(name, len) & mask;; i = (i + 1) & mask) {
		int32_t e = index_tab[i];

		if (!e) {
			if (nnames >= EXSIM_MAX_STREAMS)
				return -1;
			names[nnames] = strndup(name, len);
			if (!names[nnames])
				return -1;
			index_tab[i] = (int32_t)++nnames;
			return (int)nnames - 1;
		}
		const char *s = names[e - 1];
		if (!strncmp(s, name, len) && s[len] == 0)
			return e - 1;
	}
}

const char *exsim_stream_name(uint32_t id)
{
	return id < nnames ? names[id] : "";
}

/* ---- a strict reader for one request object ---- */

struct rd {
	const char *p, *end;
	char *err;
	size_t errlen;
	struct exsim_req *r;
	bool have_id;
};

static void ws(struct rd *d)
{
	while (d->p < d->end && (*d->p == ' ' || *d->p == '\t' || *d->p == '\n' || *d->p == '\r'))
		d->p++;
}

static int fail(struct rd *d, int code, const char *kind, const char *msg)
{
	snprintf(d->err, d->errlen, "{\"error\":{\"code\":%d,\"msg\":\"%s: %s\"},\"id\":%s}", code,
		 kind, msg, d->have_id ? d->r->id : "null");
	return -1;
}

static int bad_json(struct rd *d, const char *msg)
{
	return fail(d, 3, "Invalid JSON", msg);
}

/* A JSON string without escapes other than \" \\ \/ (none occur in stream
 * names or methods; anything fancier is refused). Copies at most cap-1. */
static int string(struct rd *d, char *out, size_t cap, size_t *outlen)
{
	size_t n = 0;

	if (d->p >= d->end || *d->p != '"')
		return bad_json(d, "expected a string");
	d->p++;
	while (d->p < d->end && *d->p != '"') {
		char c = *d->p++;

		if ((unsigned char)c < 0x20)
			return bad_json(d, "control character in string");
		if (c == '\\') {
			if (d->p >= d->end)
				break;
			c = *d->p++;
			if (c != '"' && c != '\\' && c != '/')
				return fail(d, 2, "Invalid request",
					    "unsupported escape in string");
		}
		if (n + 1 < cap)
			out[n] = c;
		n++;
	}
	if (d->p >= d->end)
		return bad_json(d, "EOF while parsing a string");
	d->p++;
	if (n >= cap)
		return fail(d, 2, "Invalid request", "string too long");
	out[n] = 0;
	*outlen = n;
	return 0;
}

static bool lit(struct rd *d, const char *s)
{
	size_t n = strlen(s);

	if ((size_t)(d->end - d->p) >= n && !memcmp(d->p, s, n)) {
		d->p += n;
		return true;
	}
	return false;
}

static int value_id(struct rd *d)
{
	struct exsim_req *r = d->r;

	if (lit(d, "null")) {
		strcpy(r->id, "null");
	} else if (d->p < d->end && *d->p == '"') {
		char s[24];
		size_t n;

		if (string(d, s, sizeof s, &n))
			return -1;
		snprintf(r->id, sizeof r->id, "\"%s\"", s);
	} else if (d->p < d->end && *d->p >= '0' && *d->p <= '9') {
		const char *s = d->p;

		while (d->p < d->end && *d->p >= '0' && *d->p <= '9')
			d->p++;
		if (d->p - s > 19 || (d->p < d->end && strchr(".eE", *d->p)))
			return fail(d, 2, "Invalid request",
				    "request ID must be an unsigned integer");
		snprintf(r->id, sizeof r->id, "%.*s", (int)(d->p - s), s);
	} else {
		return fail(d, 2, "Invalid request", "request ID must be an unsigned integer");
	}
	d->have_id = true;
	return 0;
}

/* Skip any JSON value (to find the id before reporting a shape error). */
static int skip_value(struct rd *d, int depth)
{
	char tmp[4096];
	size_t n;

	ws(d);
	if (depth > 32)
		return bad_json(d, "nested too deeply");
	if (d->p >= d->end)
		return bad_json(d, "expected value");
	char c = *d->p;
	if (c == '"')
		return string(d, tmp, sizeof tmp, &n);
	if (c == '{' || c == '[') {
		char close = c == '{' ? '}' : ']';

		d->p++;
		ws(d);
		if (d->p < d->end && *d->p == close) {
			d->p++;
			return 0;
		}
		for (;;) {
			if (c == '{') {
				ws(d);
				if (string(d, tmp, sizeof tmp, &n))
					return -1;
				ws(d);
				if (d->p >= d->end || *d->p++ != ':')
					return bad_json(d, "expected `:`");
			}
			if (skip_value(d, depth + 1))
				return -1;
			ws(d);
			if (d->p < d->end && *d->p == ',') {
				d->p++;
				continue;
			}
			if (d->p < d->end && *d->p == close) {
				d->p++;
				return 0;
			}
			return bad_json(d, "expected `,` or a closing bracket");
		}
	}
	if (lit(d, "true") || lit(d, "false") || lit(d, "null"))
		return 0;
	const char *s = d->p;
	while (d->p < d->end && strchr("0123456789+-.eE", *d->p))
		d->p++;
	return d->p > s ? 0 : bad_json(d, "expected value");
}

/* The params array, kept as raw text span for a second pass once the method
 * (which may come after it) is known. */
static int params_span(struct rd *d, const char **s, const char **e)
{
	*s = d->p;
	if (d->p >= d->end || *d->p != '[')
		return 1; /* wrong type: reported once the id is known */
	if (skip_value(d, 0))
		return -1;
	*e = d->p;
	return 0;
}

static int parse_params(struct rd *d, const char *s, const char *e, int max_params)
{
	struct exsim_req *r = d->r;
	struct rd pd = *d;
	char name[EXSIM_STREAM_NAME + 8];
	size_t n;

	pd.p = s + 1;
	pd.end = e;
	r->nparams = 0;
	ws(&pd);
	if (pd.p < pd.end && *pd.p == ']')
		return 0;
	for (;;) {
		ws(&pd);
		if (r->method == EXSIM_SET_PROPERTY && r->nparams == 1) {
			if (lit(&pd, "true"))
				r->prop_value = true;
			else if (lit(&pd, "false"))
				r->prop_value = false;
			else
				return fail(d, 1, "Invalid value type", "expected Boolean");
			r->nparams++;
		} else {
			if (pd.p >= pd.end || *pd.p != '"')
				return fail(d, 2, "Invalid request", "params must be strings");
			if (string(&pd, name, sizeof name, &n))
				return -1;
			if (r->method == EXSIM_SET_PROPERTY || r->method == EXSIM_GET_PROPERTY) {
				if (strcmp(name, "combined"))
					return fail(d, 2, "Invalid request", "unknown property");
				r->prop_combined = true;
				r->nparams++;
			} else {
				if (r->nparams >= max_params ||
				    r->nparams >= (int)(sizeof r->params / sizeof r->params[0]))
					return fail(d, 2, "Invalid request", "too many parameters");
				int id = exsim_stream_id(name, n);
				if (id < 0)
					return fail(d, 2, "Invalid request", "invalid stream name");
				r->params[r->nparams++] = id;
			}
		}
		ws(&pd);
		if (pd.p < pd.end && *pd.p == ',') {
			pd.p++;
			continue;
		}
		break;
	}
	return 0;
}

int exsim_req_parse(struct exsim_req *r, const char *msg, size_t len, int max_params, char *err,
		    size_t errlen)
{
	struct rd d = {msg, msg + len, err, errlen, r, false};
	char key[32], method[32] = "";
	const char *ps = NULL, *pe = NULL;
	bool have_method = false, params_bad = false;
	char unknown[32] = "";
	size_t n;

	memset(r, 0, offsetof(struct exsim_req, params));
	strcpy(r->id, "null");
	/* First pass: the JSON must be well formed, whatever its shape. */
	if (skip_value(&d, 0))
		return -1;
	ws(&d);
	if (d.p != d.end)
		return bad_json(&d, "trailing characters");
	d.p = msg;
	ws(&d);
	if (*d.p != '{')
		return fail(&d, 2, "Invalid request", "expected an object");
	d.p++;
	ws(&d);
	if (*d.p == '}')
		return fail(&d, 2, "Invalid request", "missing field `method`");
	for (;;) {
		ws(&d);
		if (string(&d, key, sizeof key, &n))
			return fail(&d, 0, "Unknown property", "key too long");
		ws(&d);
		d.p++; /* ':' (checked in the first pass) */
		ws(&d);
		if (!strcmp(key, "method")) {
			if (*d.p != '"')
				return fail(&d, 2, "Invalid request", "method must be a string");
			if (string(&d, method, sizeof method, &n))
				return fail(&d, 2, "Invalid request", "unknown method");
			have_method = true;
		} else if (!strcmp(key, "params")) {
			int rc = params_span(&d, &ps, &pe);

			if (rc < 0)
				return -1;
			if (rc > 0) {
				params_bad = true;
				skip_value(&d, 0);
			}
		} else if (!strcmp(key, "id")) {
			if (value_id(&d))
				return -1;
		} else {
			skip_value(&d, 0); /* reported after the id is read */
			if (!unknown[0])
				snprintf(unknown, sizeof unknown, "%s", key);
		}
		ws(&d);
		if (*d.p == ',') {
			d.p++;
			continue;
		}
		break;
	}
	if (unknown[0])
		return fail(&d, 0, "Unknown property", unknown);
	if (!have_method)
		return fail(&d, 2, "Invalid request", "missing field `method`");
	if (!strcmp(method, "SUBSCRIBE"))
		r->method = EXSIM_SUBSCRIBE;
	else if (!strcmp(method, "UNSUBSCRIBE"))
		r->method = EXSIM_UNSUBSCRIBE;
	else if (!strcmp(method, "LIST_SUBSCRIPTIONS"))
		r->method = EXSIM_LIST_SUBSCRIPTIONS;
	else if (!strcmp(method, "SET_PROPERTY"))
		r->method = EXSIM_SET_PROPERTY;
	else if (!strcmp(method, "GET_PROPERTY"))
		r->method = EXSIM_GET_PROPERTY;
	else
		return fail(&d, 2, "Invalid request",
			    "unknown variant, expected one of SUBSCRIBE, UNSUBSCRIBE, "
			    "LIST_SUBSCRIPTIONS, SET_PROPERTY, GET_PROPERTY");
	if (params_bad)
		return fail(&d, 2, "Invalid request", "params must be an array");
	if (ps && parse_params(&d, ps, pe, max_params))
		return -1;
	bool needs = r->method == EXSIM_SUBSCRIBE || r->method == EXSIM_UNSUBSCRIBE;
	if (needs && (!ps || r->nparams == 0))
		return fail(&d, 2, "Invalid request", "missing or empty params");
	if (r->method == EXSIM_SET_PROPERTY && r->nparams != 2)
		return fail(&d, 2, "Invalid request", "SET_PROPERTY needs [\"combined\", bool]");
	if (r->method == EXSIM_GET_PROPERTY && r->nparams != 1)
		return fail(&d, 2, "Invalid request", "GET_PROPERTY needs [\"combined\"]");
	if (!d.have_id)
		return fail(&d, 2, "Invalid request", "missing field `id`");
	return 0;
}
