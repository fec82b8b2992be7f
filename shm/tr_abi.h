/* tr_abi.h - the tickring shared-memory ABI: region layout and record formats.
 *
 * This header is the contract between the engine (the only writer) and every
 * reader: C programs through libtickring, and readers in other languages that
 * are written from README.md ("Shared-memory ABI"), which describes the same
 * bytes. Everything is little-endian, fixed width, naturally aligned, and
 * checked with _Static_assert below, so a change that moves a field fails the
 * build instead of silently breaking a reader.
 *
 * Region: one file, /dev/shm/tickring.<instance>, mapped whole:
 *
 *   offset 0              superblock (tr_superblock, 8 KiB)
 *   symbols.offset        symbol table: symbol_capacity x tr_symbol (64 B)
 *   latest.offset         latest table: symbol_capacity x tr_latest (8 KiB)
 *   movers.offset         top movers (tr_movers), one table under a seqlock
 *   rings[k].offset       ring k: tr_ring_hdr (128 B), then slot_count slots
 *                         of slot_size bytes; kinds trade, quote, candle, event
 *
 * Every section starts on a 4 KiB boundary. Prices and quantities are int64
 * mantissas at scale 1e-8 (TR_SCALE); times are int64 ns since the Unix epoch.
 *
 * Ring protocol (per-slot seqlock, one writer): a slot holds exactly one
 * record, whose first field `seq` doubles as the slot's lock word. Sequence
 * numbers start at 1 and are contiguous per ring. To publish seq s the writer
 * stores seq = 0 (busy), a release fence, the payload, then a release store of
 * seq = s. A reader wanting s loads seq with acquire: 0 or below s means not
 * yet written; above s means it was lapped (exactly seq' - s records are gone
 * from that slot's point of view); equal means copy the payload, acquire
 * fence, and load seq again: still s means the copy is whole.
 *
 * Latest table: one tr_latest per symbol under a seqlock `lock` (odd while the
 * writer updates it). Readers retry when it is odd or changed across the copy.
 * The movers table has its own seqlock, used the same way.
 */
#ifndef TR_ABI_H
#define TR_ABI_H

#include <stddef.h>
#include <stdint.h>

#define TR_MAGIC 0x474e49524b434954ull /* bytes "TICKRING" in memory */
#define TR_ABI_VERSION 1u
#define TR_SCALE 100000000ll /* 1e8: mantissa units per 1.0 */
#define TR_CACHELINE 64
#define TR_SECTION_ALIGN 4096
#define TR_MAX_INTERVALS 16
#define TR_MAX_VENUES 32
#define TR_MAX_COUNTERS 128
#define TR_NAME_LEN 32
#define TR_VENUE_LEN 16

/* Record kinds, one ring each. */
enum tr_kind {
	TR_KIND_TRADE = 0,
	TR_KIND_QUOTE = 1,
	TR_KIND_CANDLE = 2,
	TR_KIND_EVENT = 3,
	TR_NKINDS = 4
};

/* Engine state in the superblock. */
enum tr_state {
	TR_STATE_INIT = 0,    /* being created; readers must not trust it */
	TR_STATE_RUNNING = 1, /* writer attached, heartbeat live */
	TR_STATE_STOPPED = 2  /* writer detached cleanly */
};

/* Aggressor side of a trade. */
enum tr_side { TR_SIDE_UNKNOWN = 0, TR_SIDE_BUY = 1, TR_SIDE_SELL = 2 };

/* tr_trade.flags */
#define TR_TRADE_NONMARKET (1u << 0) /* not a regular market print (futures X != MARKET) */
#define TR_TRADE_AGG (1u << 1)	     /* from an aggregated-trade stream; trade_count underlying */
#define TR_TRADE_OUTLIER (1u << 2)   /* price far outside the recent range */
#define TR_TRADE_GAP (1u << 3)	     /* trade ids are missing right before this one */
#define TR_TRADE_REPLAY (1u << 4)    /* came from a capture replay, not a live feed */
#define TR_TRADE_GATEWAY (1u << 5)   /* came from the NDJSON gateway */

/* tr_quote.flags */
#define TR_QUOTE_GAP (1u << 0)	  /* update ids are missing right before this one */
#define TR_QUOTE_REPLAY (1u << 1) /* came from a capture replay */

/* tr_candle.flags */
#define TR_CANDLE_FINAL (1u << 0)    /* interval closed; later records are revisions */
#define TR_CANDLE_GAP (1u << 1)	     /* spans a detected data gap or a reconnect */
#define TR_CANDLE_EMPTY (1u << 2)    /* no trade: flat candle carrying the previous close */
#define TR_CANDLE_OVERFLOW (1u << 3) /* a sum saturated at INT64_MAX */

/* A trade print. 64 bytes, one cache line. */
struct tr_trade {
	uint64_t seq;	    /* ring sequence; 0 while being written in a slot */
	int64_t ts_event;   /* exchange trade time, ns */
	int64_t ts_recv;    /* local receive time, ns, CLOCK_REALTIME */
	int64_t price;	    /* x 1e-8 */
	int64_t qty;	    /* x 1e-8 */
	uint64_t trade_id;  /* venue trade id (aggregate id for TR_TRADE_AGG) */
	uint32_t symbol_id; /* index into the symbol table */
	uint16_t venue_id;  /* index into the venue table */
	uint8_t side;	    /* enum tr_side: aggressor */
	uint8_t reserved0;
	uint32_t flags;	      /* TR_TRADE_* */
	uint32_t trade_count; /* underlying trades: 1, or last - first + 1 for aggTrade */
};

/* Best bid and offer. 64 bytes. The venue's update id is checked by the
 * engine (gaps set TR_QUOTE_GAP) but does not fit in the record. */
struct tr_quote {
	uint64_t seq;
	int64_t ts_event; /* exchange time, ns; 0 when the venue sends none */
	int64_t ts_recv;
	int64_t bid_px;
	int64_t bid_qty;
	int64_t ask_px;
	int64_t ask_qty;
	uint32_t symbol_id;
	uint16_t venue_id;
	uint16_t flags; /* TR_QUOTE_* */
};

/* An OHLCV candle (kline). 128 bytes. Close time, as the exchange prints it,
 * is open_time + interval_s * 1e9 - 1 ms. */
struct tr_candle {
	uint64_t seq;
	int64_t open_time; /* ns, UTC-aligned start of the interval */
	int64_t open;
	int64_t high;
	int64_t low;
	int64_t close;
	int64_t volume;		  /* base asset, x 1e-8 */
	int64_t quote_volume;	  /* sum price*qty, rounded once, x 1e-8 */
	int64_t taker_buy_volume; /* base volume of buyer-aggressor trades */
	int64_t taker_buy_quote_volume;
	int64_t vwap; /* quote_volume / volume, x 1e-8 */
	uint64_t first_trade_id;
	uint64_t last_trade_id;
	int64_t ts_update; /* ns, exchange time of the last trade included */
	uint32_t trade_count;
	uint32_t symbol_id;
	uint32_t interval_s; /* interval length in seconds (1w = 604800) */
	uint16_t venue_id;
	uint8_t flags;	  /* TR_CANDLE_* */
	uint8_t revision; /* 0 first final record, +1 per late-trade revision (saturates) */
};

/* Event types for tr_event.type. */
enum tr_event_type {
	TR_EV_NONE = 0,
	TR_EV_ENGINE_START = 1, /* text: version (the epoch is in the superblock) */
	TR_EV_FEED_UP = 2,	/* text: url */
	TR_EV_FEED_DOWN = 3,	/* text: reason */
	TR_EV_GAP = 4,		/* gap: ids missing */
	TR_EV_STALE = 5,	/* stale: no trade for a while */
	TR_EV_STALE_CLEARED = 6,
	TR_EV_VOLUME_SPIKE = 7,
	TR_EV_PRICE_OUTLIER = 8,
	TR_EV_LATE_TRADE = 9,
	TR_EV_ALERT = 10,
	TR_EV_BAD_INPUT = 11 /* text: reason */
};

struct tr_ev_gap {
	uint64_t expected_id; /* next id we expected */
	uint64_t got_id;      /* id that arrived */
	uint64_t missing;     /* got - expected */
	uint32_t id_kind;     /* 0 trade id, 1 update id */
	uint32_t reserved;
};

struct tr_ev_stale {
	int64_t last_trade_ns; /* exchange time of the last trade */
	int64_t silent_ns;     /* how long nothing arrived */
};

struct tr_ev_spike {
	int64_t volume;	  /* candle volume, x 1e-8 */
	int64_t baseline; /* rolling baseline, x 1e-8 */
	int64_t score;	  /* z-score or multiple, x 1e-8 */
	int64_t open_time;
	uint32_t interval_s;
	uint32_t reserved;
};

struct tr_ev_outlier {
	int64_t price;	   /* the trade's price */
	int64_t reference; /* robust centre (median) */
	int64_t deviation; /* |price - reference| / MAD, x 1e-8 */
	uint64_t trade_id;
};

struct tr_ev_late {
	uint64_t trade_id;
	int64_t trade_ts; /* ns */
	int64_t lateness_ns;
	uint32_t interval_s;
	uint32_t reserved;
};

struct tr_ev_alert {
	uint32_t rule_id;
	uint32_t rule_kind;
	int64_t value;	   /* observed value, x 1e-8 */
	int64_t threshold; /* configured level, x 1e-8 */
	char text[64];	   /* rule name, NUL-terminated */
};

/* A status or analytics event. 128 bytes. */
struct tr_event {
	uint64_t seq;
	int64_t ts_event; /* ns: when it happened (exchange time where known) */
	int64_t ts_recv;  /* ns: when the engine noticed */
	uint16_t type;	  /* enum tr_event_type */
	uint8_t severity; /* 0 info, 1 warning, 2 error */
	uint8_t reserved0;
	uint32_t symbol_id; /* UINT32_MAX when not about one symbol */
	uint16_t venue_id;
	uint16_t flags;
	uint32_t aux;
	union {
		int64_t arg[11];
		char text[88]; /* NUL-terminated */
		struct tr_ev_gap gap;
		struct tr_ev_stale stale;
		struct tr_ev_spike spike;
		struct tr_ev_outlier outlier;
		struct tr_ev_late late;
		struct tr_ev_alert alert;
	} u;
};

/* Rolling 24 h statistics, as the exchange's 24 h ticker. 128 bytes. */
struct tr_stats24h {
	int64_t last;
	int64_t open;
	int64_t high;
	int64_t low;
	int64_t change;	    /* last - open */
	int64_t change_pct; /* percent, x 1e-8 */
	int64_t volume;
	int64_t quote_volume;
	uint64_t trade_count;
	int64_t open_time; /* ns: start of the window */
	int64_t close_time;
	uint64_t first_trade_id;
	uint64_t last_trade_id;
	int64_t vwap;
	int64_t ts_update;
	uint64_t reserved;
};

/* Symbol table entry. 64 bytes. Entries are append-only: fields other than
 * status never change once symbol_count covers them. */
enum tr_symbol_status { TR_SYM_ACTIVE = 0, TR_SYM_UNSUBSCRIBED = 1, TR_SYM_HALTED = 2 };

struct tr_symbol {
	uint32_t id; /* equals its index */
	uint16_t venue_id;
	uint16_t reserved0;
	uint32_t status; /* enum tr_symbol_status; relaxed atomic */
	uint32_t reserved1;
	char name[TR_NAME_LEN]; /* exchange spelling, upper case, NUL-terminated */
	uint64_t reserved2[2];
};

/* tr_latest.valid bits */
#define TR_LATEST_TRADE (1u << 0)
#define TR_LATEST_QUOTE (1u << 1)
#define TR_LATEST_STATS (1u << 2)
#define TR_LATEST_ANALYTICS (1u << 3)	      /* tr_latest.analytics */
#define TR_LATEST_CANDLE(i) (1u << (8 + (i))) /* i < TR_MAX_INTERVALS */

/* tr_sym_analytics.flags */
#define TR_SYMA_STALE (1u << 0)	  /* no trade for symbol-stale-ms; cleared by the next trade */
#define TR_SYMA_OUTLIER (1u << 1) /* reference and mad are set (the window is full) */
#define TR_SYMA_H1 (1u << 2)	  /* the 1 h window holds trades: open_1h, change_1h valid */

/* Per-symbol analytics state. 64 bytes. */
struct tr_sym_analytics {
	int64_t open_1h;       /* first trade of the rolling 1 h window */
	int64_t change_1h;     /* last - open_1h */
	int64_t change_pct_1h; /* percent x 1e-8 */
	int64_t reference;     /* price outlier check: median of the recent trades */
	int64_t mad;	       /* their median absolute deviation (before the floor) */
	uint64_t outliers;     /* trades flagged TR_TRADE_OUTLIER */
	int64_t last_trade_ns; /* engine clock of the last trade (stale check) */
	uint32_t flags;	       /* TR_SYMA_* */
	uint32_t reserved;
};

/* tr_indicators.valid bits */
#define TR_IND_V_SMA(i) (1u << (i))	  /* i < 4 */
#define TR_IND_V_EMA(i) (1u << (4 + (i))) /* i < 4 */
#define TR_IND_V_RSI (1u << 8)
#define TR_IND_V_MACD (1u << 9)
#define TR_IND_V_MACD_SIGNAL (1u << 10)
#define TR_IND_V_MACD_HIST (1u << 11)
#define TR_IND_V_BB (1u << 12)	 /* bb_mid, bb_upper, bb_lower */
#define TR_IND_V_UNDEF INT64_MIN /* value of a field whose valid bit is clear */

/* Indicators of one symbol and interval after its latest closed candle.
 * 192 bytes. The periods say what each value is; a period of 0 is off. */
struct tr_indicators {
	int64_t open_time; /* of the last closed candle fed (ns); 0: none yet */
	uint64_t closes;   /* closed candles fed since the engine started (or warm start) */
	uint32_t valid;	   /* TR_IND_V_* */
	uint32_t interval_s;
	uint16_t sma_period[4];
	uint16_t ema_period[4];
	uint16_t rsi_period;
	uint16_t macd_fast_period, macd_slow_period, macd_signal_period;
	uint16_t bb_period;
	uint8_t revision; /* of the candle fed last */
	uint8_t reserved0;
	uint32_t reserved1;
	int64_t bb_k; /* band width in standard deviations x 1e-8 */
	int64_t sma[4];
	int64_t ema[4];
	int64_t rsi; /* 0..100 x 1e-8 */
	int64_t macd, macd_signal, macd_hist;
	int64_t bb_mid, bb_upper, bb_lower;
	int64_t close; /* the close fed last */
};

/* Latest values of one symbol. 8 KiB; the tail is reserved. */
struct tr_latest {
	uint64_t lock; /* seqlock: odd while the writer updates the entry */
	uint32_t symbol_id;
	uint32_t valid;	   /* TR_LATEST_* */
	int64_t ts_update; /* ns, last update */
	uint8_t reserved0[40];
	struct tr_trade trade;
	struct tr_quote quote;
	struct tr_stats24h stats;
	struct tr_candle candles[TR_MAX_INTERVALS]; /* superblock intervals_s[i] */
	struct tr_sym_analytics analytics;
	struct tr_indicators indicators[TR_MAX_INTERVALS]; /* same slots as candles */
	uint8_t reserved1[8192 - 5504];
};

/* Top movers. */
#define TR_MOVERS_MAX 32 /* entries per list */
enum tr_movers_list {
	TR_MOVERS_GAIN_24H = 0, /* largest change_pct first */
	TR_MOVERS_LOSS_24H = 1, /* smallest (most negative) first */
	TR_MOVERS_GAIN_1H = 2,
	TR_MOVERS_LOSS_1H = 3,
	TR_MOVERS_NLISTS = 4
};

/* One ranked symbol. 32 bytes. */
struct tr_mover {
	uint32_t symbol_id;
	uint32_t reserved;
	int64_t change_pct; /* percent x 1e-8 over the list's window */
	int64_t last;
	int64_t open; /* first trade of the window */
};

/* The movers section: four ranked lists under one seqlock, rebuilt by the
 * engine once a second. A symbol is ranked when its window holds trades;
 * equal changes rank the lower symbol id first. 4160 bytes. */
struct tr_movers {
	uint64_t lock;			  /* seqlock, as tr_latest.lock */
	int64_t ts_update;		  /* engine clock of the ranking, ns; 0: never ranked */
	uint32_t count[TR_MOVERS_NLISTS]; /* entries used in each list */
	uint32_t ranked[2];		  /* symbols ranked: 24 h, 1 h */
	uint8_t reserved0[24];
	struct tr_mover list[TR_MOVERS_NLISTS][TR_MOVERS_MAX];
};

/* Where a ring lives. 32 bytes. */
struct tr_ring_desc {
	uint64_t offset;     /* of its tr_ring_hdr from the region start */
	uint64_t slot_count; /* power of two */
	uint32_t slot_size;  /* record size: 64 or 128 */
	uint32_t kind;	     /* enum tr_kind */
	uint64_t reserved;
};

/* Ring header, followed by the slots. 128 bytes. */
struct tr_ring_hdr {
	uint64_t head; /* last published seq (0: none); its low 32 bits are the futex word */
	uint8_t pad0[TR_CACHELINE - 8];
	uint64_t
	    published;	   /* records published since the file was created, as of the last commit */
	uint64_t base_seq; /* first seq of the current epoch */
	uint8_t pad1[TR_CACHELINE - 16];
};

struct tr_section {
	uint64_t offset;
	uint64_t size;
};

/* The superblock at offset 0. 8 KiB. Static fields are written once before
 * state leaves TR_STATE_INIT; the liveness line is rewritten at >= 10 Hz. */
struct tr_superblock {
	/* identity: 64 bytes */
	uint64_t magic;
	uint32_t abi_version;
	uint32_t layout_hash; /* see tr_layout_hash() and README */
	uint64_t region_size;
	uint32_t superblock_size;
	uint32_t reserved0;
	char instance[TR_NAME_LEN];

	/* sections: 64 bytes */
	struct tr_section symbols;
	struct tr_section latest;
	uint32_t symbol_capacity;
	uint32_t latest_entry_size;
	uint32_t interval_count;
	uint32_t reserved1;
	struct tr_section movers; /* tr_movers */

	/* candle intervals in latest.candles[], seconds: 64 bytes */
	uint32_t intervals_s[TR_MAX_INTERVALS];

	/* rings: 128 bytes */
	struct tr_ring_desc rings[TR_NKINDS];

	/* liveness, offset 320: 64 bytes */
	int32_t engine_pid;
	uint32_t state;	      /* enum tr_state */
	uint64_t epoch;	      /* +1 on every writer open */
	int64_t heartbeat_ns; /* CLOCK_REALTIME, >= 10 Hz while running */
	int64_t start_ns;     /* when this epoch began */
	int64_t created_ns;   /* when the file was created */
	uint8_t pad_live[TR_CACHELINE - 40];

	/* tables published with release order, offset 384: 64 bytes */
	uint32_t symbol_count;
	uint32_t venue_count;
	uint8_t pad_tables[TR_CACHELINE - 8];

	/* venue names, index = venue id, offset 448: 512 bytes */
	char venues[TR_MAX_VENUES][TR_VENUE_LEN];

	/* counters, offset 960: 1024 bytes; index = enum tr_counter */
	uint64_t counters[TR_MAX_COUNTERS];

	uint8_t reserved2[8192 - 1984];
};

/* Superblock counters. Append only: indices are part of the ABI. */
enum tr_counter {
	TR_CTR_FRAMES_IN = 0,
	TR_CTR_BYTES_IN,
	TR_CTR_TRADES,
	TR_CTR_QUOTES,
	TR_CTR_CANDLES,
	TR_CTR_EVENTS,
	TR_CTR_BAD_JSON,
	TR_CTR_BAD_TYPE,
	TR_CTR_BAD_MISSING,
	TR_CTR_BAD_VALUE,
	TR_CTR_BAD_OVERFLOW,
	TR_CTR_BAD_UNKNOWN_STREAM,
	TR_CTR_BAD_OVERSIZE,
	TR_CTR_UNKNOWN_SYMBOL,
	TR_CTR_DUP_TRADES,
	TR_CTR_TRADE_GAPS,
	TR_CTR_UPDATE_GAPS,
	TR_CTR_RECONNECTS,
	TR_CTR_LATE_TRADES,
	TR_CTR_JOURNAL_BYTES,
	TR_CTR_JOURNAL_ERRORS,
	TR_CTR_FUTEX_WAKES,
	TR_NCOUNTERS
};

/* The writable reader-control file, /dev/shm/tickring.<instance>.ctl. Readers
 * map the region read-only, so the little they must tell the writer lives
 * here: futex waiter counts (the writer wakes only when one is non-zero) and
 * lap statistics for `tickring stat`. Losing or corrupting this file costs
 * only wake-ups (readers wait with a timeout) and statistics. */
#define TR_CTL_MAGIC 0x4c544347474e4952ull /* bytes "RINGGCTL" */
struct tr_ctl_ring {
	uint32_t waiters; /* readers blocked in futex wait on this ring */
	uint32_t reserved0;
	uint64_t lap_events;	 /* times a reader was lapped */
	uint64_t lapped_records; /* records those readers lost */
	uint8_t pad[TR_CACHELINE - 24];
};

struct tr_ctl {
	uint64_t magic;
	uint32_t abi_version;
	uint32_t reserved0;
	uint8_t pad0[TR_CACHELINE - 16];
	struct tr_ctl_ring rings[TR_NKINDS];
	uint8_t reserved1[4096 - 5 * TR_CACHELINE];
};

/* Layout checks: a reader in any language relies on these offsets. */
#define TR_ASSERT_OFF(t, f, o) _Static_assert(offsetof(struct t, f) == (o), #t "." #f)
_Static_assert(sizeof(struct tr_trade) == 64, "trade is one cache line");
TR_ASSERT_OFF(tr_trade, ts_event, 8);
TR_ASSERT_OFF(tr_trade, price, 24);
TR_ASSERT_OFF(tr_trade, trade_id, 40);
TR_ASSERT_OFF(tr_trade, symbol_id, 48);
TR_ASSERT_OFF(tr_trade, venue_id, 52);
TR_ASSERT_OFF(tr_trade, side, 54);
TR_ASSERT_OFF(tr_trade, flags, 56);
TR_ASSERT_OFF(tr_trade, trade_count, 60);
_Static_assert(sizeof(struct tr_quote) == 64, "quote is one cache line");
TR_ASSERT_OFF(tr_quote, bid_px, 24);
TR_ASSERT_OFF(tr_quote, ask_qty, 48);
TR_ASSERT_OFF(tr_quote, symbol_id, 56);
TR_ASSERT_OFF(tr_quote, venue_id, 60);
TR_ASSERT_OFF(tr_quote, flags, 62);
_Static_assert(sizeof(struct tr_candle) == 128, "candle is two cache lines");
TR_ASSERT_OFF(tr_candle, open_time, 8);
TR_ASSERT_OFF(tr_candle, close, 40);
TR_ASSERT_OFF(tr_candle, vwap, 80);
TR_ASSERT_OFF(tr_candle, first_trade_id, 88);
TR_ASSERT_OFF(tr_candle, ts_update, 104);
TR_ASSERT_OFF(tr_candle, trade_count, 112);
TR_ASSERT_OFF(tr_candle, interval_s, 120);
TR_ASSERT_OFF(tr_candle, venue_id, 124);
TR_ASSERT_OFF(tr_candle, flags, 126);
TR_ASSERT_OFF(tr_candle, revision, 127);
_Static_assert(sizeof(struct tr_event) == 128, "event is two cache lines");
TR_ASSERT_OFF(tr_event, type, 24);
TR_ASSERT_OFF(tr_event, symbol_id, 28);
TR_ASSERT_OFF(tr_event, venue_id, 32);
TR_ASSERT_OFF(tr_event, aux, 36);
TR_ASSERT_OFF(tr_event, u, 40);
_Static_assert(sizeof(struct tr_stats24h) == 128, "stats");
_Static_assert(sizeof(struct tr_symbol) == 64, "symbol entry");
TR_ASSERT_OFF(tr_symbol, status, 8);
TR_ASSERT_OFF(tr_symbol, name, 16);
_Static_assert(sizeof(struct tr_latest) == 8192, "latest entry");
TR_ASSERT_OFF(tr_latest, trade, 64);
TR_ASSERT_OFF(tr_latest, quote, 128);
TR_ASSERT_OFF(tr_latest, stats, 192);
TR_ASSERT_OFF(tr_latest, candles, 320);
TR_ASSERT_OFF(tr_latest, analytics, 2368);
TR_ASSERT_OFF(tr_latest, indicators, 2432);
TR_ASSERT_OFF(tr_latest, reserved1, 5504);
_Static_assert(sizeof(struct tr_sym_analytics) == 64, "symbol analytics");
TR_ASSERT_OFF(tr_sym_analytics, reference, 24);
TR_ASSERT_OFF(tr_sym_analytics, last_trade_ns, 48);
TR_ASSERT_OFF(tr_sym_analytics, flags, 56);
_Static_assert(sizeof(struct tr_indicators) == 192, "indicators");
TR_ASSERT_OFF(tr_indicators, valid, 16);
TR_ASSERT_OFF(tr_indicators, interval_s, 20);
TR_ASSERT_OFF(tr_indicators, sma_period, 24);
TR_ASSERT_OFF(tr_indicators, ema_period, 32);
TR_ASSERT_OFF(tr_indicators, rsi_period, 40);
TR_ASSERT_OFF(tr_indicators, bb_period, 48);
TR_ASSERT_OFF(tr_indicators, revision, 50);
TR_ASSERT_OFF(tr_indicators, bb_k, 56);
TR_ASSERT_OFF(tr_indicators, sma, 64);
TR_ASSERT_OFF(tr_indicators, ema, 96);
TR_ASSERT_OFF(tr_indicators, rsi, 128);
TR_ASSERT_OFF(tr_indicators, macd, 136);
TR_ASSERT_OFF(tr_indicators, bb_mid, 160);
TR_ASSERT_OFF(tr_indicators, close, 184);
_Static_assert(sizeof(struct tr_mover) == 32, "mover");
TR_ASSERT_OFF(tr_mover, change_pct, 8);
TR_ASSERT_OFF(tr_mover, last, 16);
TR_ASSERT_OFF(tr_mover, open, 24);
_Static_assert(sizeof(struct tr_movers) == 64 + TR_MOVERS_NLISTS * TR_MOVERS_MAX * 32, "movers");
TR_ASSERT_OFF(tr_movers, ts_update, 8);
TR_ASSERT_OFF(tr_movers, count, 16);
TR_ASSERT_OFF(tr_movers, ranked, 32);
TR_ASSERT_OFF(tr_movers, list, 64);
_Static_assert(sizeof(struct tr_ring_desc) == 32, "ring desc");
_Static_assert(sizeof(struct tr_ring_hdr) == 128, "ring header");
TR_ASSERT_OFF(tr_ring_hdr, published, 64);
_Static_assert(sizeof(struct tr_superblock) == 8192, "superblock");
TR_ASSERT_OFF(tr_superblock, symbols, 64);
TR_ASSERT_OFF(tr_superblock, movers, 112);
TR_ASSERT_OFF(tr_superblock, intervals_s, 128);
TR_ASSERT_OFF(tr_superblock, rings, 192);
TR_ASSERT_OFF(tr_superblock, engine_pid, 320);
TR_ASSERT_OFF(tr_superblock, epoch, 328);
TR_ASSERT_OFF(tr_superblock, heartbeat_ns, 336);
TR_ASSERT_OFF(tr_superblock, symbol_count, 384);
TR_ASSERT_OFF(tr_superblock, venues, 448);
TR_ASSERT_OFF(tr_superblock, counters, 960);
_Static_assert(TR_NCOUNTERS <= TR_MAX_COUNTERS, "counter space");
_Static_assert(sizeof(struct tr_ctl) == 4096, "ctl file");
TR_ASSERT_OFF(tr_ctl, rings, 64);

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the ABI is little-endian");

/* Record size of a ring kind. */
static inline uint32_t tr_kind_size(unsigned kind)
{
	return kind == TR_KIND_TRADE || kind == TR_KIND_QUOTE ? 64u : 128u;
}

#endif
