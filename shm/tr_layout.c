/* tr_layout.c - region geometry, validation and layout hash (tr_layout.h).
 *
 * The layout hash is computed from offsetof/sizeof at run time, so editing a
 * struct without updating readers changes the hash and old readers refuse the
 * region with a clear message instead of misreading it. The field list below
 * is also what a reader in another language hashes (README, "Shared-memory
 * ABI"); keep it in step with tr_abi.h.
 */
#include "tr_layout.h"

#include "tr_err.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define F(s, f)                                                                                    \
	{                                                                                          \
#s "." #f, offsetof(struct s, f), sizeof(((struct s *)0)->f)                       \
	}
#define S(s)                                                                                       \
	{                                                                                          \
#s, 0, sizeof(struct s)                                                            \
	}

static const struct field {
	const char *name;
	size_t off, size;
} fields[] = {
    S(tr_trade),
    F(tr_trade, seq),
    F(tr_trade, ts_event),
    F(tr_trade, ts_recv),
    F(tr_trade, price),
    F(tr_trade, qty),
    F(tr_trade, trade_id),
    F(tr_trade, symbol_id),
    F(tr_trade, venue_id),
    F(tr_trade, side),
    F(tr_trade, flags),
    F(tr_trade, trade_count),
    S(tr_quote),
    F(tr_quote, seq),
    F(tr_quote, ts_event),
    F(tr_quote, ts_recv),
    F(tr_quote, bid_px),
    F(tr_quote, bid_qty),
    F(tr_quote, ask_px),
    F(tr_quote, ask_qty),
    F(tr_quote, symbol_id),
    F(tr_quote, venue_id),
    F(tr_quote, flags),
    S(tr_candle),
    F(tr_candle, seq),
    F(tr_candle, open_time),
    F(tr_candle, open),
    F(tr_candle, high),
    F(tr_candle, low),
    F(tr_candle, close),
    F(tr_candle, volume),
    F(tr_candle, quote_volume),
    F(tr_candle, taker_buy_volume),
    F(tr_candle, taker_buy_quote_volume),
    F(tr_candle, vwap),
    F(tr_candle, first_trade_id),
    F(tr_candle, last_trade_id),
    F(tr_candle, ts_update),
    F(tr_candle, trade_count),
    F(tr_candle, symbol_id),
    F(tr_candle, interval_s),
    F(tr_candle, venue_id),
    F(tr_candle, flags),
    F(tr_candle, revision),
    S(tr_event),
    F(tr_event, seq),
    F(tr_event, ts_event),
    F(tr_event, ts_recv),
    F(tr_event, type),
    F(tr_event, severity),
    F(tr_event, symbol_id),
    F(tr_event, venue_id),
    F(tr_event, flags),
    F(tr_event, aux),
    F(tr_event, u),
    S(tr_stats24h),
    F(tr_stats24h, last),
    F(tr_stats24h, open),
    F(tr_stats24h, high),
    F(tr_stats24h, low),
    F(tr_stats24h, change),
    F(tr_stats24h, change_pct),
    F(tr_stats24h, volume),
    F(tr_stats24h, quote_volume),
    F(tr_stats24h, trade_count),
    F(tr_stats24h, open_time),
    F(tr_stats24h, close_time),
    F(tr_stats24h, first_trade_id),
    F(tr_stats24h, last_trade_id),
    F(tr_stats24h, vwap),
    F(tr_stats24h, ts_update),
    S(tr_sym_analytics),
    F(tr_sym_analytics, open_1h),
    F(tr_sym_analytics, change_1h),
    F(tr_sym_analytics, change_pct_1h),
    F(tr_sym_analytics, reference),
    F(tr_sym_analytics, mad),
    F(tr_sym_analytics, outliers),
    F(tr_sym_analytics, last_trade_ns),
    F(tr_sym_analytics, flags),
    S(tr_indicators),
    F(tr_indicators, open_time),
    F(tr_indicators, closes),
    F(tr_indicators, valid),
    F(tr_indicators, interval_s),
    F(tr_indicators, sma_period),
    F(tr_indicators, ema_period),
    F(tr_indicators, rsi_period),
    F(tr_indicators, macd_fast_period),
    F(tr_indicators, macd_slow_period),
    F(tr_indicators, macd_signal_period),
    F(tr_indicators, bb_period),
    F(tr_indicators, revision),
    F(tr_indicators, bb_k),
    F(tr_indicators, sma),
    F(tr_indicators, ema),
    F(tr_indicators, rsi),
    F(tr_indicators, macd),
    F(tr_indicators, macd_signal),
    F(tr_indicators, macd_hist),
    F(tr_indicators, bb_mid),
    F(tr_indicators, bb_upper),
    F(tr_indicators, bb_lower),
    F(tr_indicators, close),
    S(tr_mover),
    F(tr_mover, symbol_id),
    F(tr_mover, change_pct),
    F(tr_mover, last),
    F(tr_mover, open),
    S(tr_movers),
    F(tr_movers, lock),
    F(tr_movers, ts_update),
    F(tr_movers, count),
    F(tr_movers, ranked),
    F(tr_movers, list),
    S(tr_symbol),
    F(tr_symbol, id),
    F(tr_symbol, venue_id),
    F(tr_symbol, status),
    F(tr_symbol, name),
    S(tr_latest),
    F(tr_latest, lock),
    F(tr_latest, symbol_id),
    F(tr_latest, valid),
    F(tr_latest, ts_update),
    F(tr_latest, trade),
    F(tr_latest, quote),
    F(tr_latest, stats),
    F(tr_latest, candles),
    F(tr_latest, analytics),
    F(tr_latest, indicators),
    S(tr_ring_desc),
    F(tr_ring_desc, offset),
    F(tr_ring_desc, slot_count),
    F(tr_ring_desc, slot_size),
    F(tr_ring_desc, kind),
    S(tr_ring_hdr),
    F(tr_ring_hdr, head),
    F(tr_ring_hdr, published),
    F(tr_ring_hdr, base_seq),
    S(tr_superblock),
    F(tr_superblock, magic),
    F(tr_superblock, abi_version),
    F(tr_superblock, layout_hash),
    F(tr_superblock, region_size),
    F(tr_superblock, superblock_size),
    F(tr_superblock, instance),
    F(tr_superblock, symbols),
    F(tr_superblock, latest),
    F(tr_superblock, symbol_capacity),
    F(tr_superblock, latest_entry_size),
    F(tr_superblock, interval_count),
    F(tr_superblock, movers),
    F(tr_superblock, intervals_s),
    F(tr_superblock, rings),
    F(tr_superblock, engine_pid),
    F(tr_superblock, state),
    F(tr_superblock, epoch),
    F(tr_superblock, heartbeat_ns),
    F(tr_superblock, start_ns),
    F(tr_superblock, created_ns),
    F(tr_superblock, symbol_count),
    F(tr_superblock, venue_count),
    F(tr_superblock, venues),
    F(tr_superblock, counters),
    S(tr_ctl),
    F(tr_ctl, magic),
    F(tr_ctl, abi_version),
    F(tr_ctl, rings),
    S(tr_ctl_ring),
    F(tr_ctl_ring, waiters),
    F(tr_ctl_ring, lap_events),
    F(tr_ctl_ring, lapped_records),
};

static char describe_buf[8192];

const char *tr_layout_describe(void)
{
	if (!describe_buf[0]) {
		size_t n = 0;

		for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
			n += (size_t)snprintf(describe_buf + n, sizeof describe_buf - n,
					      "%s@%zu:%zu;", fields[i].name, fields[i].off,
					      fields[i].size);
	}
	return describe_buf;
}

uint32_t tr_layout_hash(void)
{
	const char *s = tr_layout_describe();
	uint32_t h = 2166136261u;

	for (; *s; s++) {
		h ^= (uint8_t)*s;
		h *= 16777619u;
	}
	return h;
}

void tr_geometry_default(struct tr_geometry *g)
{
	static const uint32_t iv[] = {1, 60, 300, 900, 3600, 86400};

	memset(g, 0, sizeof *g);
	for (int k = 0; k < TR_NKINDS; k++)
		g->ring_slots[k] = 1u << 20;
	g->symbol_capacity = 4096;
	g->interval_count = sizeof iv / sizeof iv[0];
	memcpy(g->intervals_s, iv, sizeof iv);
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static int is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

uint64_t tr_layout_plan(const struct tr_geometry *g, struct tr_superblock *sb)
{
	uint64_t off = sizeof *sb;

	if (g->symbol_capacity == 0 || g->symbol_capacity > (1u << 20)) {
		tr_err(TR_ELAYOUT, "symbol capacity %u out of range 1..1048576",
		       g->symbol_capacity);
		return 0;
	}
	if (g->interval_count > TR_MAX_INTERVALS) {
		tr_err(TR_ELAYOUT, "%u candle intervals, at most %d", g->interval_count,
		       TR_MAX_INTERVALS);
		return 0;
	}
	for (int k = 0; k < TR_NKINDS; k++)
		if (!is_pow2(g->ring_slots[k]) || g->ring_slots[k] < 2 ||
		    g->ring_slots[k] > (1ull << 30)) {
			tr_err(TR_ELAYOUT,
			       "%s ring: %" PRIu64 " slots is not a power of two in 2..2^30",
			       tr_kind_name((unsigned)k), g->ring_slots[k]);
			return 0;
		}
	sb->magic = TR_MAGIC;
	sb->abi_version = TR_ABI_VERSION;
	sb->layout_hash = tr_layout_hash();
	sb->superblock_size = sizeof *sb;
	sb->symbol_capacity = g->symbol_capacity;
	sb->latest_entry_size = sizeof(struct tr_latest);
	sb->interval_count = g->interval_count;
	memcpy(sb->intervals_s, g->intervals_s, sizeof sb->intervals_s);
	off = align_up(off, TR_SECTION_ALIGN);
	sb->symbols.offset = off;
	sb->symbols.size = (uint64_t)g->symbol_capacity * sizeof(struct tr_symbol);
	off = align_up(off + sb->symbols.size, TR_SECTION_ALIGN);
	sb->latest.offset = off;
	sb->latest.size = (uint64_t)g->symbol_capacity * sizeof(struct tr_latest);
	off = align_up(off + sb->latest.size, TR_SECTION_ALIGN);
	sb->movers.offset = off;
	sb->movers.size = sizeof(struct tr_movers);
	off = align_up(off + sb->movers.size, TR_SECTION_ALIGN);
	for (unsigned k = 0; k < TR_NKINDS; k++) {
		struct tr_ring_desc *d = &sb->rings[k];

		d->offset = off;
		d->slot_count = g->ring_slots[k];
		d->slot_size = tr_kind_size(k);
		d->kind = k;
		off = align_up(off + sizeof(struct tr_ring_hdr) + d->slot_count * d->slot_size,
			       TR_SECTION_ALIGN);
	}
	sb->region_size = off;
	return off;
}

static int section_ok(uint64_t off, uint64_t size, uint64_t limit)
{
	return off >= sizeof(struct tr_superblock) && off % 64 == 0 && off <= limit &&
	       size <= limit - off;
}

int tr_layout_check(const struct tr_superblock *sb, uint64_t file_size)
{
	if (file_size < sizeof *sb)
		return tr_err(TR_ETRUNC,
			      "file is %" PRIu64 " bytes, shorter than a superblock (%zu)",
			      file_size, sizeof *sb);
	if (sb->magic != TR_MAGIC)
		return tr_err(TR_EBADMAGIC, "bad magic %#" PRIx64 ": not a tickring region",
			      sb->magic);
	if (sb->abi_version != TR_ABI_VERSION)
		return tr_err(TR_EVERSION, "region ABI version %u, this reader speaks %u: %s",
			      sb->abi_version, TR_ABI_VERSION,
			      sb->abi_version > TR_ABI_VERSION
				  ? "upgrade libtickring"
				  : "the engine is older than this reader");
	if (sb->layout_hash != tr_layout_hash())
		return tr_err(
		    TR_ELAYOUT,
		    "layout hash %08x, this reader expects %08x: built from a different tr_abi.h",
		    sb->layout_hash, tr_layout_hash());
	if (sb->region_size > file_size)
		return tr_err(TR_ETRUNC, "file is %" PRIu64 " bytes but the region needs %" PRIu64,
			      file_size, sb->region_size);
	uint64_t lim = sb->region_size;
	if (sb->superblock_size != sizeof *sb ||
	    sb->latest_entry_size != sizeof(struct tr_latest) ||
	    sb->interval_count > TR_MAX_INTERVALS || sb->symbol_capacity == 0 ||
	    sb->symbols.size != (uint64_t)sb->symbol_capacity * sizeof(struct tr_symbol) ||
	    sb->latest.size != (uint64_t)sb->symbol_capacity * sizeof(struct tr_latest) ||
	    !section_ok(sb->symbols.offset, sb->symbols.size, lim) ||
	    !section_ok(sb->latest.offset, sb->latest.size, lim) ||
	    sb->movers.size != sizeof(struct tr_movers) ||
	    !section_ok(sb->movers.offset, sb->movers.size, lim))
		return tr_err(TR_ELAYOUT, "inconsistent section table");
	for (unsigned k = 0; k < TR_NKINDS; k++) {
		const struct tr_ring_desc *d = &sb->rings[k];

		if (d->kind != k || d->slot_size != tr_kind_size(k) || !is_pow2(d->slot_count) ||
		    d->slot_count > (1ull << 30) ||
		    !section_ok(d->offset,
				sizeof(struct tr_ring_hdr) + d->slot_count * d->slot_size, lim))
			return tr_err(TR_ELAYOUT, "inconsistent %s ring descriptor",
				      tr_kind_name(k));
	}
	return 0;
}

static const char *const kind_names[TR_NKINDS] = {"trades", "quotes", "candles", "events"};

const char *tr_kind_name(unsigned kind)
{
	return kind < TR_NKINDS ? kind_names[kind] : "?";
}

int tr_kind_parse(const char *name)
{
	for (int k = 0; k < TR_NKINDS; k++) {
		size_t n = strlen(kind_names[k]) - 1; /* singular: "trade" */

		if (!strcmp(name, kind_names[k]) ||
		    (strlen(name) == n && !strncmp(name, kind_names[k], n)))
			return k;
	}
	return -1;
}

static const char *const counter_names[TR_NCOUNTERS] = {
    [TR_CTR_FRAMES_IN] = "frames_in",
    [TR_CTR_BYTES_IN] = "bytes_in",
    [TR_CTR_TRADES] = "trades",
    [TR_CTR_QUOTES] = "quotes",
    [TR_CTR_CANDLES] = "candles",
    [TR_CTR_EVENTS] = "events",
    [TR_CTR_BAD_JSON] = "bad_json",
    [TR_CTR_BAD_TYPE] = "bad_type",
    [TR_CTR_BAD_MISSING] = "bad_missing_field",
    [TR_CTR_BAD_VALUE] = "bad_value",
    [TR_CTR_BAD_OVERFLOW] = "bad_overflow",
    [TR_CTR_BAD_UNKNOWN_STREAM] = "bad_unknown_stream",
    [TR_CTR_BAD_OVERSIZE] = "bad_oversize",
    [TR_CTR_UNKNOWN_SYMBOL] = "unknown_symbol",
    [TR_CTR_DUP_TRADES] = "dup_trades",
    [TR_CTR_TRADE_GAPS] = "trade_gaps",
    [TR_CTR_UPDATE_GAPS] = "update_gaps",
    [TR_CTR_RECONNECTS] = "reconnects",
    [TR_CTR_LATE_TRADES] = "late_trades",
    [TR_CTR_JOURNAL_BYTES] = "journal_bytes",
    [TR_CTR_JOURNAL_ERRORS] = "journal_errors",
    [TR_CTR_FUTEX_WAKES] = "futex_wakes",
};

const char *tr_counter_name(unsigned index)
{
	return index < TR_NCOUNTERS ? counter_names[index] : NULL;
}
