/* test_exsim.c - the exchange simulator, driven over a real socket.
 *
 * Every test starts $TR_BUILD/exsim as a child with --port 0, reads the port
 * from its first stdout line, and talks to it with the small blocking
 * WebSocket client below (raw sockets: the handshake, unmasked server frames,
 * masked client frames), so the test depends on no client library and sees
 * exactly the bytes on the wire: envelopes, close frames versus a bare TCP
 * end, pings. Data is the recorded Binance spot traffic in ../shared/data.
 * Nothing here asserts timing; every wait is bounded by a generous poll
 * timeout and the test's own .timeout. Set EXSIM_TEST_LOG=1 to see exsim's
 * log lines.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WAIT_MS 30000
#define BTC_TRADES 9757
#define BTC_BOOK 28040
#define ETH_TRADES 6106

/* ---- the exsim child ---- */

static pid_t child = -1;

static void stop_child(void)
{
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		child = -1;
	}
}

/* After --exit-at-end or a signal: exsim must exit 0 (under ASan, with no
 * leak or error report, which would change the status). */
static void child_exits_zero(void)
{
	int status;

	cr_assert_eq(waitpid(child, &status, 0), child);
	child = -1;
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exsim status %#x", status);
}

static const char *data_file(const char *name)
{
	static char path[4][512];
	static int k;
	const char *root = getenv("TR_ROOT");
	char *p = path[k++ & 3];

	snprintf(p, sizeof path[0], "%s/../shared/data/binance-spot/%s", root ? root : ".", name);
	return p;
}

/* Start exsim with the arguments (NULL-terminated), return its port. */
static int start_exsim(const char *first, ...)
{
	const char *argv[64];
	char bin[512];
	const char *build = getenv("TR_BUILD");
	int n = 0, fds[2];
	va_list ap;

	snprintf(bin, sizeof bin, "%s/exsim", build ? build : "build");
	argv[n++] = bin;
	argv[n++] = "--port";
	argv[n++] = "0";
	va_start(ap, first);
	for (const char *a = first; a && n < 62; a = va_arg(ap, const char *))
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	cr_assert_eq(pipe(fds), 0);
	child = fork();
	cr_assert_geq(child, 0);
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		if (!getenv("EXSIM_TEST_LOG")) {
			FILE *f = freopen("/dev/null", "w", stderr);
			(void)f;
		}
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	char line[256];
	size_t len = 0;
	struct pollfd pfd = {fds[0], POLLIN, 0};
	while (len < sizeof line - 1 && !memchr(line, '\n', len)) {
		cr_assert_gt(poll(&pfd, 1, WAIT_MS), 0, "exsim printed no port");
		ssize_t r = read(fds[0], line + len, sizeof line - 1 - len);
		cr_assert_gt(r, 0, "exsim exited before listening (%s)", bin);
		len += (size_t)r;
	}
	line[len] = 0;
	close(fds[0]);
	int port = 0;
	cr_assert_eq(sscanf(line, "exsim: listening on ws://127.0.0.1:%d", &port), 1, "%s", line);
	cr_assert_gt(port, 0);
	return port;
}

/* ---- a blocking WebSocket client ---- */

struct wsc {
	int fd;
	unsigned char *in; /* bytes read, not yet consumed */
	size_t len, cap;
	char *msg; /* the last message, NUL-terminated */
	size_t msglen, msgcap;
	int close_code;
};

enum { WS_TEXT = 1, WS_CLOSE = 8, WS_PING = 9, WS_PONG = 10 };

static int fill(struct wsc *w, int timeout_ms)
{
	struct pollfd pfd = {w->fd, POLLIN, 0};

	if (poll(&pfd, 1, timeout_ms) <= 0)
		return -1;
	if (w->cap - w->len < 65536) {
		w->cap = w->cap ? w->cap * 2 : 1 << 20;
		w->in = realloc(w->in, w->cap);
		cr_assert_not_null(w->in);
	}
	ssize_t r = read(w->fd, w->in + w->len, w->cap - w->len);
	if (r <= 0)
		return 0;
	w->len += (size_t)r;
	return 1;
}

static void consume(struct wsc *w, size_t n)
{
	memmove(w->in, w->in + n, w->len - n);
	w->len -= n;
}

/* Connect and upgrade; returns 0, or -1 when the server refuses or is gone. */
static int wsc_open(struct wsc *w, int port, const char *path)
{
	struct sockaddr_in sa = {0};
	char req[16384];

	memset(w, 0, sizeof *w);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	w->fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(w->fd, 0);
	if (connect(w->fd, (struct sockaddr *)&sa, sizeof sa)) {
		close(w->fd);
		w->fd = -1;
		return -1;
	}
	int one = 1;
	setsockopt(w->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	int n = snprintf(req, sizeof req,
			 "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
			 "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
			 "Sec-WebSocket-Version: 13\r\n\r\n",
			 path, port);
	if (send(w->fd, req, (size_t)n, MSG_NOSIGNAL) != n)
		return -1;
	for (;;) {
		void *end = w->len ? memmem(w->in, w->len, "\r\n\r\n", 4) : NULL;

		if (end) {
			size_t hl = (size_t)((unsigned char *)end - w->in) + 4;
			bool ok = w->len > 12 && !memcmp(w->in, "HTTP/1.1 101", 12);

			consume(w, hl);
			return ok ? 0 : -1;
		}
		if (fill(w, WAIT_MS) <= 0)
			return -1;
	}
}

static void wsc_close(struct wsc *w)
{
	if (w->fd >= 0)
		close(w->fd);
	free(w->in);
	free(w->msg);
	memset(w, 0, sizeof *w);
	w->fd = -1;
}

static void wsc_send(struct wsc *w, int op, const char *p, size_t n)
{
	unsigned char hdr[14], mask[4] = {0x12, 0x34, 0x56, 0x78};
	size_t h = 0;

	hdr[h++] = (unsigned char)(0x80 | op);
	if (n < 126) {
		hdr[h++] = (unsigned char)(0x80 | n);
	} else if (n < 65536) {
		hdr[h++] = 0x80 | 126;
		hdr[h++] = (unsigned char)(n >> 8);
		hdr[h++] = (unsigned char)n;
	} else {
		hdr[h++] = 0x80 | 127;
		for (int i = 7; i >= 0; i--)
			hdr[h++] = (unsigned char)(n >> (8 * i));
	}
	memcpy(hdr + h, mask, 4);
	h += 4;
	unsigned char *buf = malloc(h + n);
	cr_assert_not_null(buf);
	memcpy(buf, hdr, h);
	for (size_t i = 0; i < n; i++)
		buf[h + i] = (unsigned char)p[i] ^ mask[i & 3];
	/* No assertion: a write racing the server's close (the rate-limit test)
	 * may fail; what matters is read back. MSG_NOSIGNAL: no SIGPIPE. */
	(void)!send(w->fd, buf, h + n, MSG_NOSIGNAL);
	free(buf);
}

static void wsc_text(struct wsc *w, const char *s)
{
	wsc_send(w, WS_TEXT, s, strlen(s));
}

/* Read one whole message. Returns its opcode (text, close, ping, pong), 0 when
 * the TCP stream ended without a close frame, -1 on timeout. */
static int wsc_read(struct wsc *w, int timeout_ms)
{
	int op = -1;

	w->msglen = 0;
	for (;;) {
		size_t need = 2;
		if (w->len >= 2) {
			uint64_t n = w->in[1] & 0x7f;

			need = 2 + (n == 126 ? 2 : n == 127 ? 8 : 0);
			if (w->len >= need) {
				if (n == 126)
					n = (uint64_t)w->in[2] << 8 | w->in[3];
				else if (n == 127)
					for (int i = 0; i < 8; i++)
						n = (i ? n << 8 : 0) | w->in[2 + i];
				cr_assert_eq(w->in[1] & 0x80, 0, "server frames are unmasked");
				size_t hl = need;
				need += n;
				if (w->len >= need) {
					int fop = w->in[0] & 0x0f;
					bool fin = w->in[0] & 0x80;

					if (fop != 0)
						op = fop;
					if (w->msgcap < w->msglen + n + 1) {
						w->msgcap = (w->msglen + n + 1) * 2;
						w->msg = realloc(w->msg, w->msgcap);
					}
					memcpy(w->msg + w->msglen, w->in + hl, n);
					w->msglen += n;
					w->msg[w->msglen] = 0;
					consume(w, need);
					if (fin) {
						if (op == WS_CLOSE)
							w->close_code =
							    w->msglen >= 2
								? ((unsigned char)w->msg[0] << 8 |
								   (unsigned char)w->msg[1])
								: 1005;
						return op;
					}
					continue;
				}
			}
		}
		int rc = fill(w, timeout_ms);
		if (rc <= 0)
			return rc;
	}
}

/* The next text message, answering pings on the way. */
static int wsc_next(struct wsc *w)
{
	for (;;) {
		int op = wsc_read(w, WAIT_MS);

		if (op == WS_PING) {
			wsc_send(w, WS_PONG, w->msg, w->msglen);
			continue;
		}
		if (op == WS_PONG)
			continue;
		return op;
	}
}

/* ---- frame checks ---- */

static long long field_int(const char *s, const char *key)
{
	const char *p = strstr(s, key);

	return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

static bool starts(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

static bool digit_after(const char *s, const char *key)
{
	const char *p = strstr(s, key);

	return p && p[strlen(key)] >= '0' && p[strlen(key)] <= '9';
}

static bool good_trade(const char *m, const char *stream)
{
	char env[128];
	size_t n = strlen(m);

	snprintf(env, sizeof env, "{\"stream\":\"%s\",\"data\":{\"e\":\"trade\",", stream);
	return starts(m, env) && n > 2 && !strcmp(m + n - 2, "}}") && digit_after(m, "\"E\":") &&
	       digit_after(m, "\"t\":") && digit_after(m, "\"p\":\"") &&
	       digit_after(m, "\"q\":\"") && digit_after(m, "\"T\":");
}

static void fini_all(void)
{
	stop_child();
}

TestSuite(exsim, .fini = fini_all, .timeout = 240);

Test(exsim, help_exits_zero)
{
	char cmd[600];

	snprintf(cmd, sizeof cmd, "%s/exsim --help >/dev/null", getenv("TR_BUILD"));
	cr_assert_eq(system(cmd), 0);
}

Test(exsim, subscribe_gets_result_then_list_and_property)
{
	struct wsc w;
	int port = start_exsim("--replay", data_file("btcusdt_20240808.gz"), NULL);

	cr_assert_eq(wsc_open(&w, port, "/ws"), 0);
	wsc_text(&w, "{\"method\":\"SUBSCRIBE\",\"params\":[\"btcusdt@trade\","
		     "\"btcusdt@bookTicker\"],\"id\":1}");
	cr_assert_eq(wsc_next(&w), WS_TEXT);
	cr_assert_str_eq(w.msg, "{\"result\":null,\"id\":1}");
	wsc_text(&w, "{\"method\":\"LIST_SUBSCRIPTIONS\",\"id\":2}");
	while (wsc_next(&w) == WS_TEXT && !starts(w.msg, "{\"result\""))
		;
	cr_assert_str_eq(w.msg, "{\"result\":[\"btcusdt@trade\",\"btcusdt@bookTicker\"],\"id\":2}");
	wsc_text(&w, "{\"method\":\"UNSUBSCRIBE\",\"params\":[\"btcusdt@trade\"],\"id\":3}");
	while (wsc_next(&w) == WS_TEXT && !starts(w.msg, "{\"result\""))
		;
	cr_assert_str_eq(w.msg, "{\"result\":null,\"id\":3}");
	wsc_text(&w, "{\"method\":\"LIST_SUBSCRIPTIONS\",\"id\":4}");
	while (wsc_next(&w) == WS_TEXT && !starts(w.msg, "{\"result\""))
		;
	cr_assert_str_eq(w.msg, "{\"result\":[\"btcusdt@bookTicker\"],\"id\":4}");
	wsc_text(&w, "{\"method\":\"GET_PROPERTY\",\"params\":[\"combined\"],\"id\":5}");
	while (wsc_next(&w) == WS_TEXT && !starts(w.msg, "{\"result\""))
		;
	cr_assert_str_eq(w.msg, "{\"result\":false,\"id\":5}");
	wsc_close(&w);
}

Test(exsim, replay_at_max_speed_delivers_every_trade_in_order)
{
	struct wsc w;
	int port = start_exsim("--replay", data_file("btcusdt_20240808.gz"), "--speed", "max",
			       "--exit-at-end", "--grace", "0.2", NULL);
	long long prev = -1, n = 0;
	int op;

	cr_assert_eq(wsc_open(&w, port, "/stream?streams=btcusdt@trade"), 0);
	while ((op = wsc_next(&w)) == WS_TEXT) {
		cr_assert(good_trade(w.msg, "btcusdt@trade"), "frame %lld: %s", n, w.msg);
		long long t = field_int(w.msg, "\"t\":");
		if (prev >= 0)
			cr_assert_eq(t, prev + 1, "frame %lld: id %lld after %lld", n, t, prev);
		prev = t;
		n++;
	}
	cr_assert_eq(op, WS_CLOSE, "ends with a close frame, got %d", op);
	cr_assert_eq(w.close_code, 1000);
	cr_assert_eq(n, BTC_TRADES);
	wsc_close(&w);
	child_exits_zero();
}

Test(exsim, book_ticker_frames_are_routed_by_stream)
{
	struct wsc w;
	int port = start_exsim("--replay", data_file("btcusdt_20240808.gz"), "--speed", "max",
			       "--exit-at-end", "--grace", "0.2", NULL);
	long long n = 0, last_u = 0;

	cr_assert_eq(wsc_open(&w, port, "/stream?streams=btcusdt@bookTicker"), 0);
	while (wsc_next(&w) == WS_TEXT) {
		cr_assert(starts(w.msg, "{\"stream\":\"btcusdt@bookTicker\",\"data\":{\"u\":"),
			  "%s", w.msg);
		cr_assert(digit_after(w.msg, "\"b\":\"") && digit_after(w.msg, "\"A\":\""));
		long long u = field_int(w.msg, "\"u\":");
		cr_assert_geq(u, last_u, "update ids never go back");
		last_u = u;
		n++;
	}
	cr_assert_eq(n, BTC_BOOK);
	wsc_close(&w);
}

Test(exsim, raw_stream_payloads_have_no_envelope)
{
	struct wsc w;
	int port = start_exsim("--replay", data_file("btcusdt_20240808.gz"), "--speed", "max",
			       "--exit-at-end", "--grace", "0.2", NULL);
	long long n = 0;

	cr_assert_eq(wsc_open(&w, port, "/ws/btcusdt@trade"), 0);
	while (wsc_next(&w) == WS_TEXT) {
		cr_assert(starts(w.msg, "{\"e\":\"trade\",\"E\":"), "%s", w.msg);
		cr_assert_null(strstr(w.msg, "\"stream\""));
		n++;
	}
	cr_assert_eq(n, BTC_TRADES);
	wsc_close(&w);
}

Test(exsim, two_files_merge_with_each_symbol_contiguous)
{
	struct wsc w;
	int port = start_exsim("--replay", data_file("btcusdt_20240808.gz"),
			       data_file("ethusdt_20240808.gz"), "--speed", "max", "--exit-at-end",
			       "--grace", "0.2", NULL);
	long long nb = 0, ne = 0, pb = -1, pe = -1;

	cr_assert_eq(wsc_open(&w, port, "/stream?streams=btcusdt@trade/ethusdt@trade"), 0);
	while (wsc_next(&w) == WS_TEXT) {
		bool btc = good_trade(w.msg, "btcusdt@trade");
		long long t = field_int(w.msg, "\"t\":");
		long long *prev = btc ? &pb : &pe;

		cr_assert(btc || good_trade(w.msg, "ethusdt@trade"), "%s", w.msg);
		if (*prev >= 0)
			cr_assert_eq(t, *prev + 1);
		*prev = t;
		*(btc ? &nb : &ne) += 1;
	}
	cr_assert_eq(nb, BTC_TRADES);
	cr_assert_eq(ne, ETH_TRADES);
	wsc_close(&w);
}

Test(exsim, server_pings_and_keeps_a_ponging_client)
{
	struct wsc w;
	int port = start_exsim("--replay", data_file("btcusdt_20240808.gz"), "--ping-interval",
			       "0.5", "--pong-timeout", "1", NULL);
	int pings = 0;

	/* 8 pings at 0.5 s outlast the 1 s pong timeout: answered ones count */
	cr_assert_eq(wsc_open(&w, port, "/ws"), 0);
	while (pings < 8) {
		int op = wsc_read(&w, WAIT_MS);

		cr_assert(op == WS_PING, "got %d", op);
		wsc_send(&w, WS_PONG, w.msg, w.msglen);
		pings++;
	}
	wsc_close(&w);
}

Test(exsim, missing_pong_closes_the_connection)
{
	struct wsc w;
	int port = start_exsim("--replay", data_file("btcusdt_20240808.gz"), "--ping-interval",
			       "0.3", "--pong-timeout", "0.5", NULL);
	int op;

	cr_assert_eq(wsc_open(&w, port, "/ws"), 0);
	while ((op = wsc_read(&w, WAIT_MS)) == WS_PING)
		; /* never answered */
	cr_assert_eq(op, WS_CLOSE);
	cr_assert_eq(w.close_code, 1008);
	wsc_close(&w);
}

Test(exsim, drop_every_ends_the_stream_without_a_close_frame)
{
	struct wsc w;
	int port =
	    start_exsim("--replay", data_file("btcusdt_20240808.gz"), "--drop-every", "0.5", NULL);
	int op;

	cr_assert_eq(wsc_open(&w, port, "/stream?streams=btcusdt@trade/btcusdt@bookTicker"), 0);
	while ((op = wsc_next(&w)) == WS_TEXT)
		;
	cr_assert_eq(op, 0, "the TCP stream just ends (got opcode %d)", op);
	wsc_close(&w);
}

/* Reconnect after every drop: thanks to hold and rewind, the union of what
 * the connections received is every trade, with duplicates. */
Test(exsim, drops_with_rewind_lose_no_trade)
{
	int port = start_exsim("--replay", data_file("btcusdt_20240808.gz"), "--speed", "100",
			       "--drop-every", "1", "--exit-at-end", "--grace", "0.5", NULL);
	static uint8_t seen[BTC_TRADES];
	long long first = 3735683259ll, dups = 0, total = 0;
	int conns = 0, drops = 0;
	struct wsc w;

	memset(seen, 0, sizeof seen);
	while (wsc_open(&w, port, "/stream?streams=btcusdt@trade") == 0) {
		int op;

		conns++;
		while ((op = wsc_next(&w)) == WS_TEXT) {
			long long t = field_int(w.msg, "\"t\":") - first;

			cr_assert(t >= 0 && t < BTC_TRADES, "id offset %lld", t);
			dups += seen[t];
			seen[t] = 1;
			total++;
		}
		drops += op == 0;
		wsc_close(&w);
		cr_assert_lt(conns, 1000);
	}
	wsc_close(&w);
	long long missing = 0;
	for (int i = 0; i < BTC_TRADES; i++)
		missing += !seen[i];
	cr_assert_eq(missing, 0, "%lld trades never delivered over %d connections", missing, conns);
	cr_assert_geq(drops, 1, "the replay outlived at least one drop");
	cr_assert_gt(dups, 0, "the rewind resends the last --rewind-ms of frames");
	cr_assert_eq(total, BTC_TRADES + dups);
	child_exits_zero();
}

/* Under --hold, a client that vanishes (closes without a close frame, like a
 * killed process) rewinds the replay for the next one, past anything that
 * may have been in the socket buffers. */
Test(exsim, hold_rewinds_when_the_last_client_vanishes)
{
	int port = start_exsim("--replay", data_file("btcusdt_20240808.gz"), "--speed", "100",
			       "--hold", "--exit-at-end", "--grace", "0.5", NULL);
	static uint8_t seen[BTC_TRADES];
	long long first = 3735683259ll, n = 0;
	struct wsc w;
	int op;

	memset(seen, 0, sizeof seen);
	cr_assert_eq(wsc_open(&w, port, "/stream?streams=btcusdt@trade"), 0);
	while (n < 3000 && wsc_next(&w) == WS_TEXT)
		n++;
	cr_assert_eq(n, 3000);
	long long last = field_int(w.msg, "\"t\":");
	wsc_close(&w); /* mid-stream, no close frame: the client is gone */
	cr_assert_eq(wsc_open(&w, port, "/stream?streams=btcusdt@trade"), 0);
	long long again = 0;
	while ((op = wsc_next(&w)) == WS_TEXT) {
		long long t = field_int(w.msg, "\"t\":");

		cr_assert(t >= first && t < first + BTC_TRADES, "id %lld", t);
		again += t <= last;
		seen[t - first] = 1;
	}
	cr_assert_eq(op, WS_CLOSE);
	for (long long t = first + 3000; t < first + BTC_TRADES; t++)
		cr_assert(seen[t - first], "trade %lld never delivered", t);
	cr_assert_gt(again, 0, "trades the first client was sent are sent again");
	wsc_close(&w);
}

Test(exsim, malformed_every_replaces_every_nth_frame)
{
	struct wsc w;
	int port = start_exsim("--replay", data_file("btcusdt_20240808.gz"), "--speed", "max",
			       "--malformed-every", "7", "--exit-at-end", "--grace", "0.2", NULL);
	long long n = 0, bad = 0;

	cr_assert_eq(wsc_open(&w, port, "/stream?streams=btcusdt@trade"), 0);
	while (wsc_next(&w) == WS_TEXT) {
		n++;
		if (!good_trade(w.msg, "btcusdt@trade")) {
			bad++;
			cr_assert_eq(n % 7, 0, "frame %lld is malformed: %s", n, w.msg);
		}
	}
	cr_assert_eq(n, BTC_TRADES);
	cr_assert_eq(bad, BTC_TRADES / 7);
	wsc_close(&w);
}

Test(exsim, skip_and_dup_ids_make_exact_gaps_and_repeats)
{
	struct wsc w;
	int port = start_exsim("--replay", data_file("btcusdt_20240808.gz"), "--speed", "max",
			       "--skip-ids-every", "10", "--dup-ids-every", "7", "--exit-at-end",
			       "--grace", "0.2", NULL);
	long long prev = -1, gaps = 0, dups = 0, n = 0;

	cr_assert_eq(wsc_open(&w, port, "/ws/btcusdt@trade"), 0);
	while (wsc_next(&w) == WS_TEXT) {
		long long t = field_int(w.msg, "\"t\":");

		if (prev >= 0) {
			cr_assert(t == prev || t == prev + 1 || t == prev + 2, "%lld after %lld", t,
				  prev);
			gaps += t == prev + 2;
			dups += t == prev;
		}
		prev = t;
		n++;
	}
	long long want_dups = BTC_TRADES / 7 - BTC_TRADES / 70;
	cr_assert_eq(gaps, BTC_TRADES / 10);
	cr_assert_eq(dups, want_dups);
	cr_assert_eq(n, BTC_TRADES - BTC_TRADES / 10 + want_dups);
	wsc_close(&w);
}

Test(exsim, bad_requests_get_binance_errors)
{
	struct wsc w;
	int port = start_exsim("--replay", data_file("btcusdt_20240808.gz"), NULL);

	cr_assert_eq(wsc_open(&w, port, "/ws"), 0);
	wsc_text(&w, "{not json");
	cr_assert_eq(wsc_next(&w), WS_TEXT);
	cr_assert(starts(w.msg, "{\"error\":{\"code\":3,\"msg\":\"Invalid JSON"), "%s", w.msg);
	cr_assert(strstr(w.msg, "\"id\":null}"), "%s", w.msg);
	wsc_text(&w, "{\"method\":\"FOO\",\"params\":[],\"id\":9}");
	cr_assert_eq(wsc_next(&w), WS_TEXT);
	cr_assert(starts(w.msg, "{\"error\":{\"code\":2,\"msg\":\"Invalid request"), "%s", w.msg);
	cr_assert(strstr(w.msg, "\"id\":9}"), "%s", w.msg);
	wsc_text(&w, "{\"method\":\"SUBSCRIBE\",\"params\":\"btcusdt@trade\",\"id\":10}");
	cr_assert_eq(wsc_next(&w), WS_TEXT);
	cr_assert(starts(w.msg, "{\"error\":{\"code\":2,"), "%s", w.msg);
	wsc_text(&w, "{\"method\":\"SUBSCRIBE\",\"params\":[\"btcusdt@trade\"],\"id\":1.5}");
	cr_assert_eq(wsc_next(&w), WS_TEXT);
	cr_assert(starts(w.msg, "{\"error\":{\"code\":2,"), "%s", w.msg);
	cr_assert(strstr(w.msg, "\"id\":null}"), "%s", w.msg);
	wsc_close(&w);
}

Test(exsim, more_than_1024_streams_is_refused)
{
	struct wsc w;
	int port = start_exsim("--replay", data_file("btcusdt_20240808.gz"), NULL);
	size_t cap = 1100 * 24, n = 0;
	char *req = malloc(cap);

	n += (size_t)snprintf(req, cap, "{\"method\":\"SUBSCRIBE\",\"params\":[");
	for (int i = 0; i < 1025; i++)
		n += (size_t)snprintf(req + n, cap - n, "%s\"s%dusdt@trade\"", i ? "," : "", i);
	snprintf(req + n, cap - n, "],\"id\":7}");
	cr_assert_eq(wsc_open(&w, port, "/ws"), 0);
	wsc_text(&w, req);
	cr_assert_eq(wsc_next(&w), WS_TEXT);
	cr_assert(starts(w.msg, "{\"error\":{\"code\":2,"), "%s", w.msg);
	cr_assert(strstr(w.msg, "\"id\":7}"), "%s", w.msg);
	wsc_text(&w, "{\"method\":\"LIST_SUBSCRIPTIONS\",\"id\":8}");
	cr_assert_eq(wsc_next(&w), WS_TEXT);
	cr_assert_str_eq(w.msg, "{\"result\":[],\"id\":8}");
	free(req);
	wsc_close(&w);
}

Test(exsim, more_than_five_messages_a_second_closes)
{
	struct wsc w;
	int port = start_exsim("--replay", data_file("btcusdt_20240808.gz"), NULL);
	int op;

	cr_assert_eq(wsc_open(&w, port, "/ws"), 0);
	for (int i = 0; i < 20; i++)
		wsc_text(&w, "{\"method\":\"LIST_SUBSCRIPTIONS\",\"id\":1}");
	while ((op = wsc_next(&w)) == WS_TEXT)
		;
	cr_assert_eq(op, WS_CLOSE);
	cr_assert_eq(w.close_code, 1008);
	wsc_close(&w);
}

Test(exsim, max_conn_age_closes_cleanly)
{
	struct wsc w;
	int port = start_exsim("--replay", data_file("btcusdt_20240808.gz"), "--max-conn-age",
			       "0.5", NULL);
	int op;

	cr_assert_eq(wsc_open(&w, port, "/stream?streams=btcusdt@trade"), 0);
	while ((op = wsc_next(&w)) == WS_TEXT)
		;
	cr_assert_eq(op, WS_CLOSE);
	cr_assert_eq(w.close_code, 1000);
	wsc_close(&w);
}

Test(exsim, synthetic_market_has_contiguous_ids_and_exact_decimals)
{
	struct wsc w;
	int port = start_exsim("--synthetic", "--symbols", "BTCUSDT,ETHUSDT,SOLUSDT", "--rate",
			       "20000", "--burst", "20", NULL);
	long long prev[3] = {-1, -1, -1};
	const char *streams[3] = {"btcusdt@trade", "ethusdt@trade", "solusdt@trade"};
	int trades = 0, books = 0;

	cr_assert_eq(wsc_open(&w, port,
			      "/stream?streams=btcusdt@trade/ethusdt@trade/solusdt@trade/"
			      "btcusdt@bookTicker"),
		     0);
	while (trades < 3000 || books < 100) {
		cr_assert_eq(wsc_next(&w), WS_TEXT);
		if (starts(w.msg, "{\"stream\":\"btcusdt@bookTicker\"")) {
			books++;
			continue;
		}
		int k = 0;
		while (k < 3 && !good_trade(w.msg, streams[k]))
			k++;
		cr_assert_lt(k, 3, "%s", w.msg);
		long long t = field_int(w.msg, "\"t\":");
		if (prev[k] >= 0)
			cr_assert_eq(t, prev[k] + 1);
		prev[k] = t;
		const char *p = strstr(w.msg, "\"p\":\"") + 5;
		const char *dot = strchr(p, '.');
		cr_assert_not_null(dot);
		cr_assert_eq(strspn(dot + 1, "0123456789"), 8, "%s", w.msg);
		cr_assert_eq(dot[9], '"');
		trades++;
	}
	wsc_close(&w);
}

Test(exsim, sigterm_exits_cleanly)
{
	struct wsc w;
	int port = start_exsim("--synthetic", "--rate", "1000", NULL);

	cr_assert_eq(wsc_open(&w, port, "/stream?streams=btcusdt@trade"), 0);
	cr_assert_eq(wsc_next(&w), WS_TEXT);
	kill(child, SIGTERM);
	int op;
	while ((op = wsc_next(&w)) == WS_TEXT)
		;
	cr_assert_eq(op, WS_CLOSE);
	wsc_close(&w);
	child_exits_zero();
}
