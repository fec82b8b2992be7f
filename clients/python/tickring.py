"""tickring.py - pure-stdlib reader for the tickring shared-memory region.

Written from README.md, section "Shared-memory ABI": the field tables below
are the only description of the bytes this module has, and the layout hash
it checks against the superblock is computed from those same tables, so a
region is only accepted when this reader's idea of the layout is the
engine's.

    import tickring
    r = tickring.Region("default")          # /dev/shm/tickring.default
    c = tickring.Cursor(r, "trades", join="tail")
    while True:
        rec = c.wait(1.0)
        if isinstance(rec, tickring.Trade):
            print(r.symbol_name(rec.symbol_id), tickring.fixed_str(rec.price))
        elif isinstance(rec, tickring.Lapped):
            print("lost", rec.gap, "records")

x86-64 (and other little-endian TSO machines) only; see "Memory ordering"
below. Python 3.9+, no dependencies.

Memory ordering
---------------
Python has no atomic loads or fences. The protocol stays correct here
because:

* every 8-byte word the protocol synchronises on (slot seq, ring head,
  seqlock word, epoch) is 8-aligned in the mapping, and struct.unpack_from
  with "<Q" on a little-endian host uses CPython's native unpacker, a
  memcpy of 8 bytes that compiles to one aligned 8-byte load: it does not
  tear in practice;
* copying a slot is one memcpy (mmap slicing) between the two loads of seq,
  and the interpreter executes them in program order; on x86-64 (TSO) loads
  are not reordered with older loads and stores are seen in the order the
  writer made them, so a load-acquire is an ordinary load and the two loads
  of seq bracket the copy exactly as the C reader's acquire load / acquire
  fence do. A copy whose second seq load still shows s is therefore whole.

On a weakly ordered CPU (ARM, POWER) plain loads may be reordered and this
reasoning fails; the module refuses to run anywhere but x86-64 unless
TICKRING_ANY_ARCH=1 is set.

Reader control file
-------------------
README's optional control file (futex waiter counts, lap statistics) is not
touched: without atomic read-modify-write a Python reader could corrupt
other readers' counts. Cursor.wait() polls with short sleeps instead of the
futex, and lap statistics stay in the cursor (lapped_records, lap_events,
last_gap).
"""

import collections
import mmap
import os
import platform
import stat as _stat
import struct
import sys
import time

__all__ = [
    "TickringError", "RegionNotFoundError", "BadMagicError", "AbiVersionError",
    "LayoutError", "TruncatedError", "NotReadyError", "EngineStoppedError",
    "DeadEngineError", "StaleEngineError", "NoSuchSymbolError", "LatestLockedError",
    "Region", "Cursor", "Trade", "Quote", "Candle", "Event", "Stats24h", "Symbol",
    "SymbolAnalytics", "Indicators", "Mover", "Movers", "MOVER_LISTS", "IND_UNDEF",
    "Lapped", "EpochChanged", "fixed_str", "layout_text", "layout_hash",
    "KINDS", "COUNTERS", "ABI_VERSION", "MAGIC", "SCALE",
]

if sys.byteorder != "little" or (
        platform.machine().lower() not in ("x86_64", "amd64")
        and os.environ.get("TICKRING_ANY_ARCH") != "1"):
    raise ImportError("tickring.py reads the region with plain loads, which is only "
                      "correct on x86-64 (TSO); set TICKRING_ANY_ARCH=1 to override")

MAGIC = 0x474E49524B434954  # the bytes "TICKRING"
ABI_VERSION = 1
SCALE = 100_000_000  # prices and quantities are int64 mantissas at 1e-8
STALE_NS = 3_000_000_000  # README: heartbeat "less than about 3 s old"
SUPERBLOCK_SIZE = 8192
RING_HDR_SIZE = 128
STATE_INIT, STATE_RUNNING, STATE_STOPPED = 0, 1, 2
STATE_NAMES = {0: "being created", 1: "running", 2: "stopped"}

# --------------------------------------------------------------------------
# Errors: one class per way a region can be refused.


class TickringError(Exception):
    """Base class of every error this module raises on purpose."""


class RegionNotFoundError(TickringError):
    """No region file (the engine has not created this instance)."""


class BadMagicError(TickringError):
    """The file is not a tickring region."""


class AbiVersionError(TickringError):
    """The region speaks another ABI version."""


class LayoutError(TickringError):
    """Layout hash differs, or the superblock's section table is inconsistent."""


class TruncatedError(TickringError):
    """The file is shorter than the region it describes."""


class NotReadyError(TickringError):
    """The region is still being created (state 0)."""


class EngineStoppedError(TickringError):
    """The engine detached cleanly (state 2)."""


class DeadEngineError(TickringError):
    """State says running, but the engine process is gone."""


class StaleEngineError(DeadEngineError):
    """State says running, but the heartbeat is older than 3 s (hung or dead)."""


class NoSuchSymbolError(TickringError, LookupError):
    """A symbol id at or above symbol_count."""


class LatestLockedError(TickringError):
    """A latest-table entry stays odd-locked (engine died mid-update)."""


# --------------------------------------------------------------------------
# Field tables, from README. Each struct: (C name, size, fields), each field
# (C name, offset, struct format, Python name or None for "not decoded").
# The C names and the order are those of shm/tr_layout.c fields[], which the
# layout hash covers; the hash text is built from these very tuples.

_TRADE = ("tr_trade", 64, [
    ("seq", 0, "Q", "seq"), ("ts_event", 8, "q", "ts_event"), ("ts_recv", 16, "q", "ts_recv"),
    ("price", 24, "q", "price"), ("qty", 32, "q", "qty"), ("trade_id", 40, "Q", "trade_id"),
    ("symbol_id", 48, "I", "symbol_id"), ("venue_id", 52, "H", "venue_id"),
    ("side", 54, "B", "side"), ("flags", 56, "I", "flags"),
    ("trade_count", 60, "I", "trade_count"),
])
_QUOTE = ("tr_quote", 64, [
    ("seq", 0, "Q", "seq"), ("ts_event", 8, "q", "ts_event"), ("ts_recv", 16, "q", "ts_recv"),
    ("bid_px", 24, "q", "bid_px"), ("bid_qty", 32, "q", "bid_qty"),
    ("ask_px", 40, "q", "ask_px"), ("ask_qty", 48, "q", "ask_qty"),
    ("symbol_id", 56, "I", "symbol_id"), ("venue_id", 60, "H", "venue_id"),
    ("flags", 62, "H", "flags"),
])
_CANDLE = ("tr_candle", 128, [
    ("seq", 0, "Q", "seq"), ("open_time", 8, "q", "open_time"), ("open", 16, "q", "open"),
    ("high", 24, "q", "high"), ("low", 32, "q", "low"), ("close", 40, "q", "close"),
    ("volume", 48, "q", "volume"), ("quote_volume", 56, "q", "quote_volume"),
    ("taker_buy_volume", 64, "q", "taker_buy_volume"),
    ("taker_buy_quote_volume", 72, "q", "taker_buy_quote_volume"),
    ("vwap", 80, "q", "vwap"), ("first_trade_id", 88, "Q", "first_trade_id"),
    ("last_trade_id", 96, "Q", "last_trade_id"), ("ts_update", 104, "q", "ts_update"),
    ("trade_count", 112, "I", "trade_count"), ("symbol_id", 116, "I", "symbol_id"),
    ("interval_s", 120, "I", "interval_s"), ("venue_id", 124, "H", "venue_id"),
    ("flags", 126, "B", "flags"), ("revision", 127, "B", "revision"),
])
_EVENT = ("tr_event", 128, [
    ("seq", 0, "Q", "seq"), ("ts_event", 8, "q", "ts_event"), ("ts_recv", 16, "q", "ts_recv"),
    ("type", 24, "H", "type"), ("severity", 26, "B", "severity"),
    ("symbol_id", 28, "I", "symbol_id"), ("venue_id", 32, "H", "venue_id"),
    ("flags", 34, "H", "flags"), ("aux", 36, "I", "aux"), ("u", 40, "88s", "payload"),
])
_STATS = ("tr_stats24h", 128, [
    ("last", 0, "q", "last"), ("open", 8, "q", "open"), ("high", 16, "q", "high"),
    ("low", 24, "q", "low"), ("change", 32, "q", "change"),
    ("change_pct", 40, "q", "change_pct"), ("volume", 48, "q", "volume"),
    ("quote_volume", 56, "q", "quote_volume"), ("trade_count", 64, "Q", "trade_count"),
    ("open_time", 72, "q", "open_time"), ("close_time", 80, "q", "close_time"),
    ("first_trade_id", 88, "Q", "first_trade_id"),
    ("last_trade_id", 96, "Q", "last_trade_id"), ("vwap", 104, "q", "vwap"),
    ("ts_update", 112, "q", "ts_update"),
])
_SYMA = ("tr_sym_analytics", 64, [
    ("open_1h", 0, "q", "open_1h"), ("change_1h", 8, "q", "change_1h"),
    ("change_pct_1h", 16, "q", "change_pct_1h"), ("reference", 24, "q", "reference"),
    ("mad", 32, "q", "mad"), ("outliers", 40, "Q", "outliers"),
    ("last_trade_ns", 48, "q", "last_trade_ns"), ("flags", 56, "I", "flags"),
])
_IND = ("tr_indicators", 192, [
    ("open_time", 0, "q", "open_time"), ("closes", 8, "Q", "closes"),
    ("valid", 16, "I", "valid"), ("interval_s", 20, "I", "interval_s"),
    ("sma_period", 24, "4H", "sma_period"), ("ema_period", 32, "4H", "ema_period"),
    ("rsi_period", 40, "H", "rsi_period"), ("macd_fast_period", 42, "H", "macd_fast_period"),
    ("macd_slow_period", 44, "H", "macd_slow_period"),
    ("macd_signal_period", 46, "H", "macd_signal_period"),
    ("bb_period", 48, "H", "bb_period"), ("revision", 50, "B", "revision"),
    ("bb_k", 56, "q", "bb_k"), ("sma", 64, "4q", "sma"), ("ema", 96, "4q", "ema"),
    ("rsi", 128, "q", "rsi"), ("macd", 136, "q", "macd"), ("macd_signal", 144, "q", "macd_signal"),
    ("macd_hist", 152, "q", "macd_hist"), ("bb_mid", 160, "q", "bb_mid"),
    ("bb_upper", 168, "q", "bb_upper"), ("bb_lower", 176, "q", "bb_lower"),
    ("close", 184, "q", "close"),
])
_MOVER = ("tr_mover", 32, [
    ("symbol_id", 0, "I", "symbol_id"), ("change_pct", 8, "q", "change_pct"),
    ("last", 16, "q", "last"), ("open", 24, "q", "open"),
])
_MOVERS = ("tr_movers", 4160, [
    ("lock", 0, "Q", "lock"), ("ts_update", 8, "q", "ts_update"), ("count", 16, "4I", "count"),
    ("ranked", 32, "2I", "ranked"), ("list", 64, "4096s", "list"),  # 4 lists x 32 x tr_mover
])
_SYMBOL = ("tr_symbol", 64, [
    ("id", 0, "I", "id"), ("venue_id", 4, "H", "venue_id"), ("status", 8, "I", "status"),
    ("name", 16, "32s", "name"),
])
_LATEST = ("tr_latest", 8192, [
    ("lock", 0, "Q", "lock"), ("symbol_id", 8, "I", "symbol_id"), ("valid", 12, "I", "valid"),
    ("ts_update", 16, "q", "ts_update"), ("trade", 64, "64s", None),
    ("quote", 128, "64s", None), ("stats", 192, "128s", None),
    ("candles", 320, "2048s", None),  # 16 x tr_candle
    ("analytics", 2368, "64s", None), ("indicators", 2432, "3072s", None),  # 16 x tr_indicators
])
_RING_DESC = ("tr_ring_desc", 32, [
    ("offset", 0, "Q", "offset"), ("slot_count", 8, "Q", "slot_count"),
    ("slot_size", 16, "I", "slot_size"), ("kind", 20, "I", "kind"),
])
_RING_HDR = ("tr_ring_hdr", 128, [
    ("head", 0, "Q", "head"), ("published", 64, "Q", "published"),
    ("base_seq", 72, "Q", "base_seq"),
])
_SUPERBLOCK = ("tr_superblock", 8192, [
    ("magic", 0, "Q", "magic"), ("abi_version", 8, "I", "abi_version"),
    ("layout_hash", 12, "I", "layout_hash"), ("region_size", 16, "Q", "region_size"),
    ("superblock_size", 24, "I", "superblock_size"), ("instance", 32, "32s", "instance"),
    ("symbols", 64, "2Q", "symbols"), ("latest", 80, "2Q", "latest"),
    ("symbol_capacity", 96, "I", "symbol_capacity"),
    ("latest_entry_size", 100, "I", "latest_entry_size"),
    ("interval_count", 104, "I", "interval_count"), ("movers", 112, "2Q", "movers"),
    ("intervals_s", 128, "16I", "intervals_s"),
    ("rings", 192, "128s", "rings"),  # 4 x tr_ring_desc
    ("engine_pid", 320, "i", "engine_pid"), ("state", 324, "I", "state"),
    ("epoch", 328, "Q", "epoch"), ("heartbeat_ns", 336, "q", "heartbeat_ns"),
    ("start_ns", 344, "q", "start_ns"), ("created_ns", 352, "q", "created_ns"),
    ("symbol_count", 384, "I", "symbol_count"), ("venue_count", 388, "I", "venue_count"),
    ("venues", 448, "512s", "venues"),  # 32 x char[16]
    ("counters", 960, "128Q", "counters"),
])
# The control file is not mapped by this reader, but its layout is part of
# the hash.
_CTL = ("tr_ctl", 4096, [
    ("magic", 0, "Q", None), ("abi_version", 8, "I", None), ("rings", 64, "256s", None),
])
_CTL_RING = ("tr_ctl_ring", 64, [
    ("waiters", 0, "I", None), ("lap_events", 8, "Q", None), ("lapped_records", 16, "Q", None),
])

_ALL_STRUCTS = [_TRADE, _QUOTE, _CANDLE, _EVENT, _STATS, _SYMA, _IND, _MOVER, _MOVERS, _SYMBOL,
                _LATEST, _RING_DESC, _RING_HDR, _SUPERBLOCK, _CTL, _CTL_RING]


def _fsize(fmt):
    return struct.calcsize("<" + fmt)


def layout_text():
    """The canonical 'name@offset:size;' text of README, from this module's tables."""
    out = []
    for cname, size, fields in _ALL_STRUCTS:
        out.append("%s@0:%d;" % (cname, size))
        for fname, off, fmt, _ in fields:
            out.append("%s.%s@%d:%d;" % (cname, fname, off, _fsize(fmt)))
    return "".join(out)


def layout_hash():
    """32-bit FNV-1a of layout_text()."""
    h = 2166136261
    for b in layout_text().encode("ascii"):
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h


def _compile(table):
    """One struct.Struct unpacking every decoded field of a table, in offset order,
    with the gaps as pad bytes; checks the table against itself on the way."""
    cname, size, fields = table
    fmt, pos, names = "<", 0, []
    for fname, off, f, py in sorted(fields, key=lambda x: x[1]):
        align = 1 if f[-1] == "s" else _fsize(f[-1])
        if off < pos or off % align:
            raise AssertionError("%s.%s overlaps or is misaligned" % (cname, fname))
        if off > pos:
            fmt += "%dx" % (off - pos)
        if py is None:
            fmt += "%dx" % _fsize(f)
        else:
            fmt += f
            names.append((py, _fsize(f[-1]) if f[-1] != "s" else 0,
                          int(f[:-1]) if f[:-1] and f[-1] != "s" else 1))
        pos = off + _fsize(f)
    if pos > size:
        raise AssertionError("%s fields run past its size" % cname)
    fmt += "%dx" % (size - pos) if size > pos else ""
    s = struct.Struct(fmt)
    assert s.size == size, (cname, s.size, size)
    return s, names


def _tuple_maker(table, typename, extra=()):
    s, names = _compile(table)
    nt = collections.namedtuple(typename, [n for n, _, _ in names] + list(extra))
    return s, names, nt


def _unpack_grouped(s, names, buf, off=0):
    """Unpack, gathering array fields ("16I") into tuples."""
    vals = s.unpack_from(buf, off)
    out, i = [], 0
    for _, _, count in names:
        if count == 1:
            out.append(vals[i])
        else:
            out.append(tuple(vals[i:i + count]))
        i += count
    return out


# Records and tables, decoded with one struct.unpack_from each.
_TRADE_S, _, Trade = _tuple_maker(_TRADE, "Trade")
_QUOTE_S, _, Quote = _tuple_maker(_QUOTE, "Quote")
_CANDLE_S, _, Candle = _tuple_maker(_CANDLE, "Candle")
_EVENT_S, _, Event = _tuple_maker(_EVENT, "Event", ("detail",))
_STATS_S, _, Stats24h = _tuple_maker(_STATS, "Stats24h")
_SYMA_S, _, SymbolAnalytics = _tuple_maker(_SYMA, "SymbolAnalytics")
_IND_S, _IND_N, Indicators = _tuple_maker(_IND, "Indicators")
_MOVER_S, _, Mover = _tuple_maker(_MOVER, "Mover")
_MOVERS_S, _MOVERS_N, _MoversRaw = _tuple_maker(_MOVERS, "_MoversRaw")
_SYMBOL_S, _, _SymbolRaw = _tuple_maker(_SYMBOL, "_SymbolRaw")
_DESC_S, _, RingDesc = _tuple_maker(_RING_DESC, "RingDesc")
_SB_S, _SB_N, _SuperRaw = _tuple_maker(_SUPERBLOCK, "_SuperRaw")
_compile(_LATEST), _compile(_RING_HDR), _compile(_CTL), _compile(_CTL_RING)  # self-checks

Symbol = collections.namedtuple("Symbol", "id venue_id venue status name")
# Movers: ts_update (ns, 0 never ranked), ranked_24h, ranked_1h, and the four
# lists by name, each a list of Mover (symbol_id, change_pct, last, open).
Movers = collections.namedtuple("Movers", "ts_update ranked_24h ranked_1h lists")
MOVER_LISTS = ("gain_24h", "loss_24h", "gain_1h", "loss_1h")
IND_UNDEF = -(1 << 63)  # an indicator value whose valid bit is clear
# tr_indicators.valid bits: sma i: 1 << i, ema i: 1 << (4 + i), then these.
IND_RSI, IND_MACD, IND_MACD_SIGNAL, IND_MACD_HIST, IND_BB = (1 << 8, 1 << 9, 1 << 10, 1 << 11,
                                                             1 << 12)
SYMA_STALE, SYMA_OUTLIER, SYMA_H1 = 1, 2, 4
SYMBOL_STATUS = {0: "active", 1: "unsubscribed", 2: "halted"}

Trade.__doc__ = "A trade print; price and qty are int mantissas x 1e-8 (fixed_str)."
Quote.__doc__ = "Best bid and offer; prices and sizes are int mantissas x 1e-8."
Candle.__doc__ = "An OHLCV candle; prices and volumes are int mantissas x 1e-8."
Event.__doc__ = ("A status or analytics event: payload is the raw 88 bytes, detail "
                 "a dict decoded by type (empty for unknown types).")

# Offsets of the words read on their own (from the tables above).
_OFF = {f[0]: f[1] for f in _SUPERBLOCK[2]}
_SYM_OFF = {f[0]: f[1] for f in _SYMBOL[2]}
_LAT_OFF = {f[0]: f[1] for f in _LATEST[2]}
_MOVERS_MAX, _MOVERS_NLISTS = 32, 4
_HDR_OFF = {f[0]: f[1] for f in _RING_HDR[2]}
_LATEST_CANDLES = 16
_MAX_VENUES, _VENUE_LEN = 32, 16

_u64 = struct.Struct("<Q").unpack_from
_u32 = struct.Struct("<I").unpack_from
_i32 = struct.Struct("<i").unpack_from
_i64 = struct.Struct("<q").unpack_from

KINDS = ("trades", "quotes", "candles", "events")
_KIND_TABLES = (_TRADE, _QUOTE, _CANDLE, _EVENT)

# Superblock counter names, index = enum tr_counter (README lists only the
# first few; the rest are from shm/tr_abi.h). Unknown indices read as
# "counter_<i>".
COUNTERS = ("frames_in", "bytes_in", "trades", "quotes", "candles", "events", "bad_json",
            "bad_type", "bad_missing_field", "bad_value", "bad_overflow",
            "bad_unknown_stream", "bad_oversize", "unknown_symbol", "dup_trades",
            "trade_gaps", "update_gaps", "reconnects", "late_trades", "journal_bytes",
            "journal_errors", "futex_wakes")

EVENT_TYPES = {1: "engine_start", 2: "feed_up", 3: "feed_down", 4: "gap", 5: "stale",
               6: "stale_cleared", 7: "volume_spike", 8: "price_outlier", 9: "late_trade",
               10: "alert", 11: "bad_input"}

# Event payloads: (struct format, field names), from README's "Types:" list.
_EV_PAYLOAD = {
    4: ("<QQQI", ("expected_id", "got_id", "missing", "id_kind")),
    5: ("<qq", ("last_trade_ns", "silent_ns")),
    7: ("<qqqqI", ("volume", "baseline", "score", "open_time", "interval_s")),
    8: ("<qqqQ", ("price", "reference", "deviation", "trade_id")),
    9: ("<QqqI", ("trade_id", "trade_ts", "lateness_ns", "interval_s")),
    10: ("<IIqq64s", ("rule_id", "rule_kind", "value", "threshold", "name")),
}
_EV_TEXT = (1, 2, 3, 11)
ALERT_KINDS = {1: "cross", 2: "change", 3: "spike", 4: "stale"}


def _cstr(b):
    """Bytes up to the first NUL, as text (undecodable bytes escaped)."""
    i = b.find(b"\0")
    return (b if i < 0 else b[:i]).decode("utf-8", "backslashreplace")


def _event_detail(etype, payload):
    if etype in _EV_TEXT:
        return {"text": _cstr(payload)}
    spec = _EV_PAYLOAD.get(etype)
    if spec is None:
        return {}
    vals = struct.unpack_from(spec[0], payload)
    d = dict(zip(spec[1], vals))
    if "name" in d:
        d["name"] = _cstr(d["name"])
        d["rule"] = ALERT_KINDS.get(d["rule_kind"], "#%d" % d["rule_kind"])
    return d


def _decode(kind, buf):
    if kind == 0:
        return Trade._make(_TRADE_S.unpack_from(buf))
    if kind == 1:
        return Quote._make(_QUOTE_S.unpack_from(buf))
    if kind == 2:
        return Candle._make(_CANDLE_S.unpack_from(buf))
    v = _EVENT_S.unpack_from(buf)
    return Event._make(v + (_event_detail(v[3], v[-1]),))


def fixed_str(v):
    """Exact decimal text of a 1e-8 mantissa: 6183763000000 -> '61837.63', 0 -> '0'."""
    v = int(v)
    sign = "-" if v < 0 else ""
    ip, fp = divmod(abs(v), SCALE)
    if not fp:
        return "%s%d" % (sign, ip)
    return ("%s%d.%08d" % (sign, ip, fp)).rstrip("0")


def _kind_index(kind):
    if isinstance(kind, int) and 0 <= kind < 4:
        return kind
    if isinstance(kind, str):
        k = kind.lower()
        for i, name in enumerate(KINDS):
            if k in (name, name[:-1]):
                return i
    raise ValueError("ring kind %r: use 0..3 or one of %s" % (kind, ", ".join(KINDS)))


def _resolve_path(name):
    if not name:
        name = os.environ.get("TICKRING_INSTANCE") or "default"
    if "/" in name:
        return name
    return os.path.join(os.environ.get("TICKRING_DIR") or "/dev/shm", "tickring." + name)


class Lapped:
    """Cursor.poll() result: `gap` records from `first` on were overwritten unread;
    the cursor continues at `resume` (= first + gap)."""

    __slots__ = ("gap", "first", "resume")

    def __init__(self, gap, first, resume):
        self.gap, self.first, self.resume = gap, first, resume

    def __repr__(self):
        return "Lapped(gap=%d, first=%d, resume=%d)" % (self.gap, self.first, self.resume)


class EpochChanged:
    """Cursor.poll() result: the engine (re)opened the region (epoch old -> new).
    Sequences continue; `next` is where the cursor goes on."""

    __slots__ = ("old", "new", "next")

    def __init__(self, old, new, nxt):
        self.old, self.new, self.next = old, new, nxt

    def __repr__(self):
        return "EpochChanged(%d -> %d, next=%d)" % (self.old, self.new, self.next)


class Region:
    """A read-only mapping of one region, validated on open.

    name: instance ("default"), a path if it contains '/', or None for
    $TICKRING_INSTANCE / "default"; instances live in $TICKRING_DIR or
    /dev/shm. any_state=True skips the liveness check (inspect a stopped or
    dead engine's region). Raises a TickringError subclass when the file is
    missing, foreign, of another version or layout, truncated, or (unless
    any_state) its engine is not running and alive.
    """

    def __init__(self, name=None, any_state=False):
        self.path = _resolve_path(name)
        self._mm = None
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise RegionNotFoundError("%s: no region: is the engine running for this "
                                      "instance?" % self.path) from None
        except OSError as e:
            raise TickringError("%s: %s" % (self.path, e.strerror)) from None
        try:
            st = os.fstat(fd)
            if not _stat.S_ISREG(st.st_mode):
                raise TickringError("%s: not a regular file" % self.path)
            self.file_size = st.st_size
            if st.st_size < 8:
                raise TruncatedError("%s: file is %d bytes, shorter than a superblock (%d)"
                                     % (self.path, st.st_size, SUPERBLOCK_SIZE))
            try:
                self._mm = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)  # MAP_SHARED
            except (OSError, ValueError) as e:
                raise TickringError("%s: mmap: %s" % (self.path, e)) from None
        finally:
            os.close(fd)
        try:
            self._validate()
            if not any_state:
                self.check_alive()
        except BaseException:
            self.close()
            raise

    # -- open-time checks ---------------------------------------------------

    def _validate(self):
        mm, p, fsize = self._mm, self.path, self.file_size
        magic = _u64(mm, 0)[0]
        if magic != MAGIC:
            raise BadMagicError("%s: bad magic %#x: not a tickring region" % (p, magic))
        if fsize < SUPERBLOCK_SIZE:
            raise TruncatedError("%s: file is %d bytes, shorter than a superblock (%d)"
                                 % (p, fsize, SUPERBLOCK_SIZE))
        sb = _SuperRaw._make(_unpack_grouped(_SB_S, _SB_N, mm))
        if sb.abi_version != ABI_VERSION:
            raise AbiVersionError(
                "%s: region ABI version %d, this reader speaks %d: %s" % (
                    p, sb.abi_version, ABI_VERSION,
                    "upgrade tickring.py" if sb.abi_version > ABI_VERSION
                    else "the engine is older than this reader"))
        mine = layout_hash()
        if sb.layout_hash != mine:
            raise LayoutError("%s: layout hash %08x, this reader expects %08x: the engine "
                              "was built from a different tr_abi.h" % (p, sb.layout_hash, mine))
        if sb.region_size > fsize:
            raise TruncatedError("%s: file is %d bytes but the region needs %d"
                                 % (p, fsize, sb.region_size))
        lim = sb.region_size

        def section_ok(off, size):
            return off >= SUPERBLOCK_SIZE and off % 64 == 0 and off <= lim and size <= lim - off

        cap = sb.symbol_capacity
        if sb.superblock_size != SUPERBLOCK_SIZE:
            raise LayoutError("%s: superblock_size %d, expected %d"
                              % (p, sb.superblock_size, SUPERBLOCK_SIZE))
        if sb.latest_entry_size != _LATEST[1]:
            raise LayoutError("%s: latest_entry_size %d, expected %d"
                              % (p, sb.latest_entry_size, _LATEST[1]))
        if sb.interval_count > _LATEST_CANDLES or cap == 0:
            raise LayoutError("%s: interval_count %d / symbol_capacity %d out of range"
                              % (p, sb.interval_count, cap))
        for name, (off, size), esize in (("symbols", sb.symbols, _SYMBOL[1]),
                                         ("latest", sb.latest, _LATEST[1])):
            if size != cap * esize or not section_ok(off, size):
                raise LayoutError("%s: %s section (offset %d, size %d) does not fit a region of "
                                  "%d bytes with %d symbols" % (p, name, off, size, lim, cap))
        moff, msize = sb.movers
        if msize != _MOVERS[1] or not section_ok(moff, msize):
            raise LayoutError("%s: movers section (offset %d, size %d) does not fit a region of "
                              "%d bytes" % (p, moff, msize, lim))
        self._movers_off = moff
        rings = []
        for k in range(4):
            d = RingDesc._make(_DESC_S.unpack_from(sb.rings, 32 * k))
            want = _KIND_TABLES[k][1]
            n = d.slot_count
            if (d.kind != k or d.slot_size != want or n < 2 or n & (n - 1) or n > 1 << 30
                    or not section_ok(d.offset, RING_HDR_SIZE + n * d.slot_size)):
                raise LayoutError("%s: inconsistent %s ring descriptor %r" % (p, KINDS[k], d))
            rings.append(d)
        self.rings = tuple(rings)
        self.size = lim
        self.abi_version = sb.abi_version
        self.layout_hash = sb.layout_hash
        self.instance = _cstr(sb.instance)
        self.symbol_capacity = cap
        self.intervals = tuple(sb.intervals_s[:sb.interval_count])
        self.created_ns = sb.created_ns
        self._symbols_off = sb.symbols[0]
        self._latest_off = sb.latest[0]

    # -- superblock, live fields ---------------------------------------------

    def _sb32(self, name):
        return _u32(self._mm, _OFF[name])[0]

    @property
    def epoch(self):
        return _u64(self._mm, _OFF["epoch"])[0]

    @property
    def pid(self):
        return _i32(self._mm, _OFF["engine_pid"])[0]

    @property
    def state(self):
        return self._sb32("state")

    @property
    def state_name(self):
        return STATE_NAMES.get(self.state, "unknown")

    @property
    def heartbeat_ns(self):
        return _i64(self._mm, _OFF["heartbeat_ns"])[0]

    @property
    def heartbeat_age(self):
        """Seconds since the engine's last heartbeat (CLOCK_REALTIME)."""
        return (time.time_ns() - self.heartbeat_ns) / 1e9

    @property
    def start_ns(self):
        return _i64(self._mm, _OFF["start_ns"])[0]

    def head(self, kind):
        """Last published sequence number of a ring (0: none)."""
        return _u64(self._mm, self.rings[_kind_index(kind)].offset + _HDR_OFF["head"])[0]

    def published(self, kind):
        return _u64(self._mm, self.rings[_kind_index(kind)].offset + _HDR_OFF["published"])[0]

    def base_seq(self, kind):
        return _u64(self._mm, self.rings[_kind_index(kind)].offset + _HDR_OFF["base_seq"])[0]

    def counter(self, name_or_index):
        i = name_or_index
        if isinstance(i, str):
            if i in COUNTERS:
                i = COUNTERS.index(i)
            elif i.startswith("counter_") and i[8:].isdigit():
                i = int(i[8:])
            else:
                raise KeyError("no counter named %r" % i)
        if not 0 <= i < 128:
            raise IndexError("counter index %r out of 0..127" % (name_or_index,))
        return _u64(self._mm, _OFF["counters"] + 8 * i)[0]

    def counters(self):
        """Known counters by name (plus any non-zero unknown ones as counter_<i>)."""
        vals = struct.unpack_from("<128Q", self._mm, _OFF["counters"])
        out = {n: vals[i] for i, n in enumerate(COUNTERS)}
        for i in range(len(COUNTERS), 128):
            if vals[i]:
                out["counter_%d" % i] = vals[i]
        return out

    def liveness(self, stale_ns=STALE_NS):
        """None if the engine is running and alive, else the TickringError
        describing why not (not raised)."""
        st, pid = self.state, self.pid
        age = self.heartbeat_age
        p = self.path
        if st == STATE_INIT:
            return NotReadyError("%s: region is still being created" % p)
        if st == STATE_STOPPED:
            return EngineStoppedError("%s: engine (pid %d) stopped %.1f s ago" % (p, pid, age))
        if st != STATE_RUNNING:
            return LayoutError("%s: unknown engine state %d" % (p, st))
        alive = pid > 0
        if alive:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                alive = False
            except PermissionError:
                pass  # exists, another user's
        if not alive:
            return DeadEngineError("%s: engine pid %d is gone without stopping (last heartbeat "
                                   "%.1f s ago): the region is stale" % (p, pid, age))
        if age * 1e9 > stale_ns:
            return StaleEngineError("%s: engine pid %d has not beaten for %.1f s (limit %.1f s)"
                                    % (p, pid, age, stale_ns / 1e9))
        return None

    def check_alive(self, stale_ns=STALE_NS):
        """Raise the liveness() error, if any."""
        err = self.liveness(stale_ns)
        if err is not None:
            raise err

    def alive(self, stale_ns=STALE_NS):
        return self.liveness(stale_ns) is None

    def info(self):
        """The superblock as a dict (for `stat`-like tools)."""
        return {
            "path": self.path, "instance": self.instance, "abi_version": self.abi_version,
            "layout_hash": "%08x" % self.layout_hash, "region_size": self.size,
            "epoch": self.epoch, "pid": self.pid, "state": self.state_name,
            "heartbeat_age_s": self.heartbeat_age, "start_ns": self.start_ns,
            "created_ns": self.created_ns, "symbol_capacity": self.symbol_capacity,
            "symbol_count": self.symbol_count(), "intervals_s": list(self.intervals),
            "rings": {KINDS[k]: {"slot_count": d.slot_count, "slot_size": d.slot_size,
                                 "head": self.head(k), "published": self.published(k)}
                      for k, d in enumerate(self.rings)},
            "counters": self.counters(),
        }

    # -- symbols and venues ---------------------------------------------------

    def symbol_count(self):
        return min(self._sb32("symbol_count"), self.symbol_capacity)

    def venue_count(self):
        return min(self._sb32("venue_count"), _MAX_VENUES)

    def venue_name(self, vid):
        """Venue name of an id, or None if there is no such venue."""
        if not 0 <= vid < self.venue_count():
            return None
        raw = self._mm[_OFF["venues"] + _VENUE_LEN * vid:_OFF["venues"] + _VENUE_LEN * (vid + 1)]
        if b"\0" not in raw:
            return None
        return _cstr(raw)

    def venues(self):
        return [self.venue_name(i) for i in range(self.venue_count())]

    def symbol(self, sid):
        """The Symbol with id sid; NoSuchSymbolError if not counted yet."""
        if not 0 <= sid < self.symbol_count():
            raise NoSuchSymbolError("no symbol id %d" % sid)
        base = self._symbols_off + _SYMBOL[1] * sid
        raw = _SymbolRaw._make(_SYMBOL_S.unpack_from(self._mm, base))
        return Symbol(raw.id, raw.venue_id, self.venue_name(raw.venue_id), raw.status,
                      _cstr(raw.name))

    def symbols(self):
        """Every counted symbol (symbol_count is read first; entries below it are final,
        except status)."""
        return [self.symbol(i) for i in range(self.symbol_count())]

    def symbol_name(self, sid):
        try:
            return self.symbol(sid).name
        except NoSuchSymbolError:
            return "?"

    def find_symbol(self, name, venue=None):
        """Id of a symbol by name (case-insensitive) and optional venue name, or None."""
        want = name.upper()
        for s in self.symbols():
            if s.name.upper() == want and (venue is None or s.venue == venue):
                return s.id
        return None

    def interval_index(self, interval_s):
        """Latest-table candle slot of an interval in seconds, or None."""
        try:
            return self.intervals.index(interval_s)
        except ValueError:
            return None

    # -- latest table -------------------------------------------------------

    def _latest_read(self, sid, off, size, bit, max_wait=1.0):
        if not 0 <= sid < self.symbol_count():
            raise NoSuchSymbolError("no symbol id %d" % sid)
        mm = self._mm
        entry = self._latest_off + _LATEST[1] * sid
        lock_at = entry + _LAT_OFF["lock"]
        valid_at = entry + _LAT_OFF["valid"]
        deadline = None
        tries = 0
        while True:
            # Seqlock: an even lock word, the copy, the same lock word again.
            # See the module docstring for why plain loads suffice on x86-64.
            v = _u64(mm, lock_at)[0]
            if not v & 1:
                valid = _u32(mm, valid_at)[0]
                data = mm[entry + off:entry + off + size]
                if _u64(mm, lock_at)[0] == v:
                    return data if valid & bit else None
            tries += 1
            if tries > 1000:
                now = time.monotonic()
                if deadline is None:
                    deadline = now + max_wait
                elif now > deadline:
                    raise LatestLockedError("latest entry of symbol %d stays locked: engine "
                                            "died mid-update?" % sid)
                time.sleep(0.0001)

    def latest_trade(self, sid):
        """The symbol's last trade, or None if it has none yet."""
        b = self._latest_read(sid, _LAT_OFF["trade"], _TRADE[1], 1 << 0)
        return None if b is None else _decode(0, b)

    def latest_quote(self, sid):
        b = self._latest_read(sid, _LAT_OFF["quote"], _QUOTE[1], 1 << 1)
        return None if b is None else _decode(1, b)

    def latest_stats(self, sid):
        b = self._latest_read(sid, _LAT_OFF["stats"], _STATS[1], 1 << 2)
        return None if b is None else Stats24h._make(_STATS_S.unpack_from(b))

    def latest_candle(self, sid, interval_index):
        """Current candle of interval slot interval_index (see intervals,
        interval_index()), or None."""
        if not 0 <= interval_index < _LATEST_CANDLES:
            raise IndexError("interval index %d" % interval_index)
        b = self._latest_read(sid, _LAT_OFF["candles"] + _CANDLE[1] * interval_index,
                              _CANDLE[1], 1 << (8 + interval_index))
        return None if b is None else _decode(2, b)

    def latest_analytics(self, sid):
        """The symbol's SymbolAnalytics (1 h change, outlier reference, stale flag), or None."""
        b = self._latest_read(sid, _LAT_OFF["analytics"], _SYMA[1], 1 << 3)
        return None if b is None else SymbolAnalytics._make(_SYMA_S.unpack_from(b))

    def latest_indicators(self, sid, interval_index):
        """Indicators of interval slot interval_index after its latest closed candle, or
        None before the first. Values whose bit in .valid is clear hold IND_UNDEF."""
        if not 0 <= interval_index < _LATEST_CANDLES:
            raise IndexError("interval index %d" % interval_index)
        b = self._latest_read(sid, _LAT_OFF["indicators"] + _IND[1] * interval_index, _IND[1],
                              1 << 3)
        if b is None:
            return None
        ind = Indicators._make(_unpack_grouped(_IND_S, _IND_N, b))
        return ind if ind.closes else None

    def movers(self, max_wait=1.0):
        """The movers table (Movers), consistent under its seqlock, or None if the engine
        has not ranked yet."""
        mm, base = self._mm, self._movers_off
        deadline, tries = None, 0
        while True:
            v = _u64(mm, base)[0]
            if not v & 1:
                data = mm[base:base + _MOVERS[1]]
                if _u64(mm, base)[0] == v:
                    break
            tries += 1
            if tries > 1000:
                now = time.monotonic()
                if deadline is None:
                    deadline = now + max_wait
                elif now > deadline:
                    raise LatestLockedError("movers table stays locked: engine died "
                                            "mid-update?")
                time.sleep(0.0001)
        raw = _MoversRaw._make(_unpack_grouped(_MOVERS_S, _MOVERS_N, data))
        if not raw.ts_update:
            return None
        lists = {}
        for i, name in enumerate(MOVER_LISTS):
            n = min(raw.count[i], _MOVERS_MAX)
            lists[name] = [Mover._make(_MOVER_S.unpack_from(raw.list, _MOVER[1] * (
                i * _MOVERS_MAX + j))) for j in range(n)]
        return Movers(raw.ts_update, raw.ranked[0], raw.ranked[1], lists)

    # -- lifetime -------------------------------------------------------------

    def close(self):
        if self._mm is not None:
            try:
                self._mm.close()
            except BufferError:
                pass  # a caller still holds a view; the mapping goes with it
            self._mm = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return "<tickring.Region %s epoch %d %s>" % (self.path, self.epoch, self.state_name)


class Cursor:
    """Follows one ring. kind: 0..3 or "trades"/"quotes"/"candles"/"events"
    (singular works too). join: "tail" (the next record published),
    "oldest" (the oldest still in the ring) or an int sequence number.
    lap_policy: "oldest" (resume at the oldest record still there plus 1/8
    ring of slack) or "tail" (skip to the newest).

    poll() never blocks and returns one of
      a record (Trade / Quote / Candle / Event)   cursor advanced by one
      Lapped(gap, first, resume)                   records lost, cursor moved on
      EpochChanged(old, new, next)                 engine restarted
      None                                         nothing new
    Laps are reported as a returned marker, not raised. Attributes: next,
    epoch, delivered, lapped_records, lap_events, last_gap.
    """

    def __init__(self, region, kind, join="tail", lap_policy="oldest"):
        self.region = region
        self.kind = _kind_index(kind)
        d = region.rings[self.kind]
        self._mm = region._mm
        self._head_at = d.offset + _HDR_OFF["head"]
        self._slots = d.offset + RING_HDR_SIZE
        self._mask = d.slot_count - 1
        self._size = d.slot_size
        if lap_policy not in ("oldest", "tail"):
            raise ValueError("lap_policy must be 'oldest' or 'tail'")
        self.lap_policy = lap_policy
        self.epoch = region.epoch
        self.delivered = self.lapped_records = self.lap_events = self.last_gap = 0
        head = self._head()
        if join == "tail":
            self.next = head + 1
        elif join == "oldest":
            self.next = max(1, head - self._mask)  # head - slot_count + 1
        elif isinstance(join, int) and not isinstance(join, bool) and join >= 0:
            self.next = join or 1
        else:
            raise ValueError("join must be 'tail', 'oldest' or a sequence number")

    @property
    def slot_count(self):
        return self._mask + 1

    def _head(self):
        return _u64(self._mm, self._head_at)[0]

    def _lapped(self, s):
        cap = self._mask + 1
        head = self._head()
        if self.lap_policy == "tail":
            resume = head + 1
        else:
            resume = head - cap + 1 + cap // 8 if head >= cap else 1
        if resume <= s:
            resume = s + 1  # head lags the slot we saw: at least skip s
        gap = resume - s
        self.last_gap = gap
        self.lapped_records += gap
        self.lap_events += 1
        self.next = resume
        return Lapped(gap, s, resume)

    def poll(self):
        """Next record, Lapped, EpochChanged, or None (see the class doc)."""
        mm, s = self._mm, self.next
        off = self._slots + (s & self._mask) * self._size
        v = _u64(mm, off)[0]  # load seq (an acquire load on x86-64, see module doc)
        if v == s:
            data = mm[off:off + self._size]  # copy the slot
            if _u64(mm, off)[0] == s:  # re-check: still s, the copy is whole
                self.next = s + 1
                self.delivered += 1
                return _decode(self.kind, data)
            return self._lapped(s)  # overwritten while we copied
        if v > s:
            return self._lapped(s)
        # 0 or older: not there yet. Look at epoch and head.
        e = self.region.epoch
        head = self._head()
        if e != self.epoch:
            old, self.epoch = self.epoch, e
            if head + 1 < self.next:
                self.next = head + 1  # the new engine went back in sequence: rejoin its tail
            return EpochChanged(old, e, self.next)
        if head >= s + self._mask + 1:
            # The slot still shows 0 or an older seq although head is a whole
            # ring ahead: the writer is (or died) rewriting it; we were lapped.
            return self._lapped(s)
        return None

    def wait(self, timeout=None):
        """Like poll(), but waits up to timeout seconds (None: forever) for
        something other than None; returns None on timeout. Spins briefly,
        then sleeps 50 us .. 1 ms between polls."""
        deadline = None if timeout is None else time.monotonic() + timeout
        spins, nap = 0, 0.00005
        while True:
            r = self.poll()
            if r is not None:
                return r
            spins += 1
            if spins < 200:
                continue
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return None
            sleep = nap if deadline is None else min(nap, max(0.0, deadline - now))
            time.sleep(sleep)
            nap = min(nap * 2, 0.001)

    def __iter__(self):
        """Yield every poll result forever (blocking with wait())."""
        while True:
            r = self.wait(1.0)
            if r is not None:
                yield r

    def __repr__(self):
        return "<tickring.Cursor %s next %d delivered %d lapped %d>" % (
            KINDS[self.kind], self.next, self.delivered, self.lapped_records)
