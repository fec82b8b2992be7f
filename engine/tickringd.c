/* tickringd.c - the tickring engine process.
 *
 * One thread runs everything: the libwebsockets loop serves the feeds'
 * connections and timers, and the engine's io_uring (journal, capture,
 * gateway) announces its completions on an eventfd that the loop adopts as a
 * raw descriptor. After each turn of the loop the engine commits: readers
 * sleeping on a futex are woken and buffered disk writes are submitted.
 *
 * With --replay FILE... the same engine is fed from capture files instead,
 * at the original pace, N times faster or as fast as possible, and exits at
 * the end.
 *
 * Signals: SIGINT/SIGTERM stop cleanly (region marked stopped, journal
 * flushed); SIGHUP re-reads the config file's symbol list and subscribes or
 * unsubscribes the difference.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <libwebsockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tr_config.h"
#include "tr_engine.h"
#include "tr_err.h"
#include "tr_feed.h"
#include "tr_gateway.h"
#include "tr_log.h"
#include "tr_mirror.h"
#include "tr_replay.h"
#include "tr_uring.h"
#include "tr_writer.h"

static volatile sig_atomic_t stop_flag, hup_flag;
static struct lws_context *ctx;

static struct {
	struct tr_config cfg;
	struct tr_uring u;
	struct tr_engine *e;
	struct tr_feed *feeds[TR_CFG_MAX_FEEDS];
	struct tr_gateway *gw;
	lws_sorted_usec_list_t sul_tick;
	struct tr_mirror_thread *mirrors[8];
	const struct tr_mirror_def *mirror_defs[8];
	struct tr_mirror_opt mirror_opts[8][TR_CFG_MAX_MIRROR_OPTS];
	char region_name[320];
	unsigned nmirrors;
} g;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		hup_flag = 1;
	else
		stop_flag = 1;
	if (ctx)
		lws_cancel_service(ctx); /* wake the loop (writes to lws's pipe) */
}

/* The eventfd of the io_uring, adopted as a raw file descriptor. */
static int uring_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
			  size_t len)
{
	(void)wsi;
	(void)user;
	(void)in;
	(void)len;
	if (reason == LWS_CALLBACK_RAW_RX_FILE)
		tr_uring_reap(&g.u);
	return 0;
}

static const struct lws_protocols protocols[] = {
    {.name = "tr-feed"}, /* filled from tr_feed_protocol at start */
    {.name = "tr-uring", .callback = uring_callback},
    {0},
};

static void on_tick(lws_sorted_usec_list_t *sul)
{
	tr_engine_tick(g.e);
	lws_sul_schedule(ctx, 0, sul, on_tick, 100000);
}

static void on_gateway(void *arg, const struct tr_gateway_ev *ev)
{
	(void)arg;
	if (ev->type == TR_GATEWAY_LINE)
		tr_engine_gateway_line(g.e, tr_now_ns(), ev->data, ev->len);
	else if (ev->type == TR_GATEWAY_OVERSIZE)
		tr_writer_counter_add(tr_engine_writer(g.e), TR_CTR_BAD_OVERSIZE, 1);
}

/* Symbols of venue v no longer configured are marked unsubscribed in the
 * symbol table (ids stay: a later SIGHUP may bring them back). */
static void mark_symbols(const struct tr_config *c, unsigned v)
{
	struct tr_writer *w = tr_engine_writer(g.e);
	const struct tr_symbol *tab = (const struct tr_symbol *)(w->base + w->sb->symbols.offset);

	for (uint32_t id = 0; id < w->sb->symbol_count; id++) {
		bool wanted = false;

		if (tab[id].venue_id != v)
			continue;
		for (unsigned i = 0; i < c->nsymbols && !wanted; i++)
			wanted = !strcmp(tab[id].name, c->symbols[i]);
		tr_writer_symbol_status(w, id, wanted ? TR_SYM_ACTIVE : TR_SYM_UNSUBSCRIBED);
	}
}

static void reload(void)
{
	struct tr_config c;

	if (!g.cfg.config_path[0]) {
		tr_log(TR_LOG_WARN, "SIGHUP: no config file to reload");
		return;
	}
	tr_config_default(&c);
	if (tr_config_load(&c, g.cfg.config_path) < 0) {
		tr_log(TR_LOG_WARN, "SIGHUP: %s (keeping the old symbols)", tr_errmsg());
		return;
	}
	for (unsigned f = 0; f < g.cfg.nfeeds; f++) {
		int v = tr_engine_venue(g.e, g.cfg.feeds[f].venue);

		for (unsigned i = 0; v >= 0 && i < c.nsymbols; i++)
			if (tr_engine_symbol(g.e, (unsigned)v, c.symbols[i]) < 0)
				tr_log(TR_LOG_ERROR, "SIGHUP: %s", tr_errmsg());
		mark_symbols(&c, (unsigned)v);
		if (g.feeds[f])
			tr_feed_resubscribe(g.feeds[f], &c);
	}
	memcpy(g.cfg.symbols, c.symbols, sizeof c.symbols);
	g.cfg.nsymbols = c.nsymbols;
}

static int run_live(void)
{
	struct lws_context_creation_info info;
	struct lws_protocols protos[3];
	int rc;

	memcpy(protos, protocols, sizeof protos);
	protos[0] = tr_feed_protocol;
	lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protos;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.client_ssl_ca_filepath = "/etc/ssl/certs/ca-certificates.crt";
	info.fd_limit_per_thread = 1024;
	ctx = lws_create_context(&info);
	if (!ctx) {
		tr_log(TR_LOG_ERROR, "cannot create the libwebsockets context");
		return 1;
	}
	struct lws_vhost *vh = lws_get_vhost_by_name(ctx, "default");
	lws_sock_file_fd_type fd = {.filefd = g.u.efd};
	if (!vh || !lws_adopt_descriptor_vhost(vh, LWS_ADOPT_RAW_FILE_DESC, fd, "tr-uring", NULL)) {
		tr_log(TR_LOG_ERROR, "cannot adopt the io_uring eventfd");
		lws_context_destroy(ctx);
		return 1;
	}
	if (g.cfg.gateway_tcp[0] || g.cfg.gateway_unix[0]) {
		struct tr_gateway_config gc;

		tr_gateway_config_default(&gc);
		gc.tcp = g.cfg.gateway_tcp[0] ? g.cfg.gateway_tcp : NULL;
		gc.unix_path = g.cfg.gateway_unix[0] ? g.cfg.gateway_unix : NULL;
		if ((rc = tr_gateway_open(&g.gw, &g.u, &gc, on_gateway, NULL)) < 0) {
			tr_log(TR_LOG_ERROR, "gateway: %s", tr_errmsg());
			lws_context_destroy(ctx);
			return 1;
		}
		if (gc.tcp)
			tr_log(TR_LOG_INFO, "gateway listening on tcp port %u",
			       tr_gateway_tcp_port(g.gw));
	}
	for (unsigned f = 0; f < g.cfg.nfeeds; f++)
		if (tr_feed_start(&g.feeds[f], ctx, g.e, &g.cfg, f) < 0) {
			tr_log(TR_LOG_ERROR, "feed %s: %s", g.cfg.feeds[f].url, tr_errmsg());
			stop_flag = 1;
		}
	lws_sul_schedule(ctx, 0, &g.sul_tick, on_tick, 100000);
	while (!stop_flag) {
		if (lws_service(ctx, 0) < 0)
			break;
		if (hup_flag) {
			hup_flag = 0;
			reload();
		}
		tr_engine_commit(g.e);
	}
	for (unsigned f = 0; f < g.cfg.nfeeds; f++)
		if (g.feeds[f])
			tr_feed_stop(g.feeds[f]);
	for (int i = 0; i < 20; i++)
		lws_service(ctx, 0); /* let the closes go out */
	lws_sul_cancel(&g.sul_tick);
	tr_gateway_close(g.gw);
	lws_context_destroy(ctx);
	ctx = NULL;
	for (unsigned f = 0; f < g.cfg.nfeeds; f++)
		tr_feed_free(g.feeds[f]);
	return 0;
}

/* Each configured mirror on its own thread, reading the rings like any
 * client; the engine thread never waits for them. */
static int start_mirrors(void)
{
	const struct tr_mirror_def *const *m;

	if (g.cfg.shm_dir[0])
		snprintf(g.region_name, sizeof g.region_name, "%s/tickring.%s", g.cfg.shm_dir,
			 g.cfg.instance);
	else
		snprintf(g.region_name, sizeof g.region_name, "%s", g.cfg.instance);
	for (m = tr_mirror_all(); *m && g.nmirrors < 8; m++) {
		unsigned i = g.nmirrors;
		unsigned n = tr_config_mirror_opts(&g.cfg, (*m)->name, g.mirror_opts[i],
						   TR_CFG_MAX_MIRROR_OPTS);
		struct tr_mirror_args a = {
		    .instance = g.region_name,
		    .journal_dir = g.cfg.journal_dir,
		    .opts = g.mirror_opts[i],
		    .nopts = n,
		};

		if (!tr_mirror_opt(g.mirror_opts[i], n, (*m)->enable))
			continue;
		if (tr_mirror_spawn(&g.mirrors[i], *m, &a) < 0) {
			tr_log(TR_LOG_ERROR, "%s", tr_errmsg());
			return -1;
		}
		g.mirror_defs[i] = *m;
		g.nmirrors++;
		tr_log(TR_LOG_INFO, "%s mirror started", (*m)->name);
	}
	return 0;
}

/* Stop the mirrors: first let them deliver what the rings hold (bounded by
 * mirror-drain-ms), so a replay's records all leave before we exit. */
static int stop_mirrors(void)
{
	struct tr_writer *w = g.e ? tr_engine_writer(g.e) : NULL;
	uint64_t head[TR_NKINDS] = {0};
	int rc = 0;

	for (int k = 0; w && k < TR_NKINDS; k++)
		head[k] = w->rings[k].next - 1;
	for (unsigned i = 0; i < g.nmirrors; i++) {
		const struct tr_mirror_stats *st = tr_mirror_thread_stats(g.mirrors[i]);

		if (w && tr_mirror_drain(g.mirrors[i], head,
					 (int64_t)g.cfg.mirror_drain_ms * 1000000) < 0) {
			tr_log(TR_LOG_WARN, "%s mirror: not every record delivered within %u ms",
			       g.mirror_defs[i]->name, g.cfg.mirror_drain_ms);
			rc = 1;
		}
		char line[512];

		tr_mirror_stats_line(g.mirror_defs[i]->name, st, line, sizeof line);
		tr_log(TR_LOG_INFO, "%s", line);
		if (tr_mirror_join(g.mirrors[i]) < 0) {
			tr_log(TR_LOG_ERROR, "%s mirror: %s", g.mirror_defs[i]->name, tr_errmsg());
			rc = 1;
		}
	}
	g.nmirrors = 0;
	return rc;
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	int rc;

	tr_config_default(&g.cfg);
	rc = tr_config_args(&g.cfg, argc, argv);
	tr_log_setup(g.cfg.log_json, g.cfg.log_level);
	if (rc == 1)
		return 0;
	if (rc < 0 || tr_config_check(&g.cfg) < 0) {
		tr_log(TR_LOG_ERROR, "%s", tr_errmsg());
		return 2;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	srand((unsigned)(tr_now_ns() ^ getpid()));

	if ((rc = tr_uring_init(&g.u, 512)) < 0) {
		tr_log(TR_LOG_ERROR, "io_uring: %s", strerror(-rc));
		return 1;
	}
	if (tr_engine_open(&g.e, &g.cfg, &g.u) < 0) {
		tr_log(TR_LOG_ERROR, "%s", tr_errmsg());
		tr_uring_exit(&g.u);
		return 1;
	}
	tr_log(TR_LOG_INFO, "instance %s, epoch %llu", g.cfg.instance,
	       (unsigned long long)tr_engine_writer(g.e)->sb->epoch);
	if (start_mirrors() < 0) {
		stop_mirrors();
		tr_engine_close(g.e);
		tr_uring_exit(&g.u);
		return 1;
	}
	if (g.cfg.nreplay) {
		struct tr_replay_stats st;

		rc = tr_replay_run(g.e, &g.u, &g.cfg, &stop_flag, &st) < 0;
		if (rc)
			tr_log(TR_LOG_ERROR, "%s", tr_errmsg());
		tr_log(TR_LOG_INFO,
		       "replayed %llu frames into %llu records in %.2f s (%llu bad lines)",
		       (unsigned long long)st.frames, (unsigned long long)st.records, st.seconds,
		       (unsigned long long)st.bad_lines);
	} else {
		rc = run_live();
	}
	tr_engine_finish(g.e); /* the last finals go out before the mirrors drain */
	if (stop_mirrors() && !rc)
		rc = 1;
	tr_engine_close(g.e);
	tr_uring_exit(&g.u);
	tr_log(TR_LOG_INFO, "stopped");
	return rc;
}
