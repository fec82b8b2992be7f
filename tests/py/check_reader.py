#!/usr/bin/env python3
"""check_reader.py MODE ARGS - drives clients/python/tickring.py for tests/test_python.c.

Every mode prints plain lines on stdout that the C test asserts:

  hash                         "hash %08x" of the reader's own field tables, then "text <...>"
  open NAME [any]              "ok <state> epoch=<n>" or "error <ExceptionClass> <message>"
  decode NAME                  region info, symbols, then every record of every ring from the
                               oldest, one "kind field=value ..." line each (prices exact)
  latest NAME SYM [SYM...]     the latest-table entries of those symbol ids
  analytics NAME SYM [SYM...]  indicators (every interval), analytics block, movers
  epoch NAME                   follow trades across an engine restart (stdin: go)
  lapped NAME TOTAL            join at seq 1 and account for TOTAL trades (records delivered +
                               records lost to laps), checking contiguity and each record's
                               checksum; prints "delivered=.. lost=.. laps=.." and a verdict

Only TickringError is caught: any other exception is a bug and ends in a traceback.
"""

import json
import os
import sys
import time

ROOT = os.environ.get("TR_ROOT") or os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                 "..", "..")
sys.path.insert(0, os.path.join(ROOT, "clients", "python"))

import tickring  # noqa: E402

M64 = (1 << 64) - 1

FIXED = {
    "trade": ("price", "qty"),
    "quote": ("bid_px", "bid_qty", "ask_px", "ask_qty"),
    "candle": ("open", "high", "low", "close", "volume", "quote_volume", "taker_buy_volume",
               "taker_buy_quote_volume", "vwap"),
    "stats": ("last", "open", "high", "low", "change", "change_pct", "volume", "quote_volume",
              "vwap"),
}
FIXED_DETAIL = ("volume", "baseline", "score", "price", "reference", "deviation", "value",
                "threshold")


def val(v):
    if isinstance(v, str):
        # one token: JSON string with spaces escaped
        return json.dumps(v).replace(" ", "\\u0020")
    return str(v)


def line(kind, rec):
    fixed = FIXED.get(kind, ())
    parts = [kind]
    for name, v in rec._asdict().items():
        if name in ("payload", "detail"):
            continue
        parts.append("%s=%s" % (name, tickring.fixed_str(v) if name in fixed else val(v)))
    if kind == "event":
        parts.append("type_name=%s" % tickring.EVENT_TYPES.get(rec.type, "?"))
        for name, v in rec.detail.items():
            parts.append("%s=%s" % (name, tickring.fixed_str(v) if name in FIXED_DETAIL
                                    else val(v)))
    return " ".join(parts)


def mode_hash():
    print("hash %08x" % tickring.layout_hash())
    print("text %s" % tickring.layout_text())


def mode_open(name, *flags):
    try:
        r = tickring.Region(name, any_state="any" in flags)
    except tickring.TickringError as e:
        print("error %s %s" % (type(e).__name__, e))
        return
    print("ok %s epoch=%d" % (r.state_name.replace(" ", "_"), r.epoch))
    r.close()


def mode_decode(name):
    r = tickring.Region(name)
    print("region instance=%s epoch=%d pid=%d state=%s abi=%d hash=%08x intervals=%s" % (
        r.instance, r.epoch, r.pid, r.state_name, r.abi_version, r.layout_hash,
        ",".join(str(i) for i in r.intervals)))
    print("alive %s age_ok=%s" % (r.alive(), r.heartbeat_age < 3))
    c = r.counters()
    print("counters trades=%d quotes=%d bad_json=%d futex_wakes=%d" % (
        c["trades"], c["quotes"], c["bad_json"], c["futex_wakes"]))
    print("venues %s" % ",".join(r.venues()))
    for s in r.symbols():
        print("symbol id=%d venue_id=%d venue=%s status=%d name=%s" % (
            s.id, s.venue_id, s.venue, s.status, s.name))
    print("find %s %s %s" % (r.find_symbol("btcusdt"), r.find_symbol("ETHUSDT", "binance"),
                             r.find_symbol("ETHUSDT", "nowhere")))
    for k, kind in enumerate(("trade", "quote", "candle", "event")):
        cur = tickring.Cursor(r, kind, join="oldest")
        while True:
            rec = cur.poll()
            if rec is None:
                break
            if not hasattr(rec, "_asdict"):
                print("unexpected %r" % (rec,))
                continue
            print(line(kind, rec))
        print("end %s head=%d delivered=%d" % (kind, r.head(k), cur.delivered))


def mode_latest(name, *syms):
    r = tickring.Region(name)
    for s in map(int, syms):
        t = r.latest_trade(s)
        print("latest_trade %d %s" % (s, "none" if t is None else line("trade", t)))
        q = r.latest_quote(s)
        print("latest_quote %d %s" % (s, "none" if q is None else line("quote", q)))
        st = r.latest_stats(s)
        print("latest_stats %d %s" % (s, "none" if st is None else line("stats", st)))
        for i in range(len(r.intervals)):
            cd = r.latest_candle(s, i)
            print("latest_candle %d %d %s" % (s, i, "none" if cd is None else line("candle", cd)))
    try:
        r.latest_trade(r.symbol_count())
        print("unknown_symbol no_error")
    except tickring.NoSuchSymbolError as e:
        print("unknown_symbol %s" % type(e).__name__)


def ind_val(v):
    return "undef" if v == tickring.IND_UNDEF else tickring.fixed_str(v)


def mode_analytics(name, *syms):
    """Indicators of every interval slot, the analytics block, and the movers."""
    r = tickring.Region(name, any_state=True)
    for s in map(int, syms):
        for i in range(len(r.intervals)):
            d = r.latest_indicators(s, i)
            if d is None:
                print("indicators %d %d none" % (s, i))
                continue
            print("indicators %d %d closes=%d open_time=%d valid=%d close=%s sma=%s ema=%s "
                  "rsi=%s macd=%s,%s,%s bb=%s,%s,%s periods=%s/%s/%d/%d,%d,%d/%d" % (
                      s, i, d.closes, d.open_time, d.valid, tickring.fixed_str(d.close),
                      ",".join(ind_val(v) for v in d.sma), ",".join(ind_val(v) for v in d.ema),
                      ind_val(d.rsi), ind_val(d.macd), ind_val(d.macd_signal),
                      ind_val(d.macd_hist), ind_val(d.bb_mid), ind_val(d.bb_upper),
                      ind_val(d.bb_lower), ",".join(map(str, d.sma_period)),
                      ",".join(map(str, d.ema_period)), d.rsi_period, d.macd_fast_period,
                      d.macd_slow_period, d.macd_signal_period, d.bb_period))
        a = r.latest_analytics(s)
        print("analytics %d %s" % (s, "none" if a is None else (
            "open_1h=%s change_pct_1h=%s reference=%s mad=%s outliers=%d flags=%d" % (
                tickring.fixed_str(a.open_1h), tickring.fixed_str(a.change_pct_1h),
                tickring.fixed_str(a.reference), tickring.fixed_str(a.mad), a.outliers,
                a.flags))))
    m = r.movers()
    if m is None:
        print("movers none")
        return
    print("movers ranked=%d,%d" % (m.ranked_24h, m.ranked_1h))
    for name in tickring.MOVER_LISTS:
        print("movers %s %s" % (name, " ".join("%d:%s" % (x.symbol_id,
                                                        tickring.fixed_str(x.change_pct))
                                               for x in m.lists[name])))


# Same mixing function and checksum as tests/test_python.c (py_fill_trade).
def mix(x):
    x &= M64
    x ^= x >> 33
    x = (x * 0xFF51AFD7ED558CCD) & M64
    x ^= x >> 33
    x = (x * 0xC4CEB9FE1A85EC53) & M64
    x ^= x >> 33
    return x


def checksum_ok(t):
    want = mix((t.ts_event & M64) ^ ((t.ts_recv * 3) & M64) ^ ((t.price * 5) & M64)
               ^ ((t.qty * 7) & M64) ^ ((t.seq * 11) & M64) ^ t.flags)
    return t.trade_id == want and t.flags == t.seq & 0xFFFFFFFF


def mode_lapped(name, total, deadline_s="50"):
    total = int(total)
    r = tickring.Region(name)
    cur = tickring.Cursor(r, "trades", join=1)
    print("ready next=%d" % cur.next)
    sys.stdout.flush()
    expect = 1
    bad = []
    deadline = time.monotonic() + float(deadline_s)
    while cur.delivered + cur.lapped_records < total:
        if time.monotonic() > deadline:
            bad.append("timeout at next=%d" % cur.next)
            break
        rec = cur.wait(0.5)
        if rec is None:
            continue
        if isinstance(rec, tickring.Lapped):
            if rec.first != expect or rec.resume != expect + rec.gap or rec.gap <= 0:
                bad.append("lap %r while expecting %d" % (rec, expect))
            expect = rec.resume
        elif isinstance(rec, tickring.Trade):
            if rec.seq != expect:
                bad.append("seq %d, expected %d" % (rec.seq, expect))
            if not checksum_ok(rec):
                bad.append("checksum of seq %d" % rec.seq)
            expect = rec.seq + 1
        elif isinstance(rec, tickring.EpochChanged):
            bad.append("unexpected %r" % (rec,))
        if len(bad) > 5:
            break
    print("delivered=%d lost=%d laps=%d last_gap=%d next=%d" % (
        cur.delivered, cur.lapped_records, cur.lap_events, cur.last_gap, cur.next))
    for b in bad[:5]:
        print("problem %s" % b)
    print("verdict %s" % ("OK" if not bad else "FAIL"))


def mode_epoch(name, deadline_s="30"):
    r = tickring.Region(name)
    cur = tickring.Cursor(r, "trades", join="tail")
    print("ready next=%d" % cur.next)
    sys.stdout.flush()
    sys.stdin.readline()  # the test restarts the engine, then says go
    got, epochs, bad = [], [], []
    deadline = time.monotonic() + float(deadline_s)
    while (len(got) < 2 or not epochs) and time.monotonic() < deadline:
        rec = cur.wait(0.2)
        if isinstance(rec, tickring.Trade):
            got.append(rec.seq)
            print("got seq=%d checksum=%s" % (rec.seq, "ok" if checksum_ok(rec) else "BAD"))
        elif isinstance(rec, tickring.EpochChanged):
            epochs.append(rec)
            print("epoch old=%d new=%d next=%d" % (rec.old, rec.new, rec.next))
        elif rec is not None:
            bad.append(repr(rec))
    ok = got == [4, 5] and len(epochs) == 1 and not bad and r.alive()
    for b in bad:
        print("problem %s" % b)
    print("verdict %s" % ("OK" if ok else "FAIL got=%s epochs=%d" % (got, len(epochs))))


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    mode, args = argv[1], argv[2:]
    modes = {"hash": mode_hash, "open": mode_open, "decode": mode_decode,
             "latest": mode_latest, "lapped": mode_lapped, "epoch": mode_epoch,
             "analytics": mode_analytics}
    if mode not in modes:
        sys.exit("unknown mode %s\n%s" % (mode, __doc__))
    try:
        modes[mode](*args)
    except tickring.TickringError as e:
        print("error %s %s" % (type(e).__name__, e))
    sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv)
