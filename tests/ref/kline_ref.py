#!/usr/bin/env python3
"""kline_ref.py - reference Binance klines from recorded @trade frames, in exact decimals.

Independent of the engine: reads the recordings with gzip + json, keeps every
number as a decimal.Decimal (never a float, never a fixed-point integer), and
buckets by the trade time "T" aligned to UTC (weeks open on Monday 00:00 UTC).

    kline_ref.py [--intervals 1m,5m,15m] [--from ISO] [--to ISO] FILE.gz...

prints one JSON object per candle, sorted by symbol, interval, open time, for
every candle whose open time is in [--from, --to] (default: all), with every
field as an exact decimal string (shortest form: no exponent, no trailing
zeros, "0" for zero):

    {"symbol":"BTCUSDT","interval_s":60,"open_time_ms":..,"close_time_ms":..,
     "open":"..","high":"..","low":"..","close":"..","volume":"..",
     "quote_volume":"..","trades":N,"taker_buy_volume":"..",
     "taker_buy_quote_volume":"..","vwap":"..","first_id":N,"last_id":N,
     "covered":true|false}

Rules (docs/candles.md): quote volumes are the exact sum of price*qty rounded
once to 8 decimals, half to even; vwap is that exact sum / volume, rounded to
8 decimals half to even; taker buy = "m": false (the buyer is the aggressor);
futures prints with "X" other than MARKET are left out. "covered" says whether
the recording spans the whole interval. On stderr: how many sums needed
rounding at all (0 means every rounding rule gives the same digits).
"""
import argparse
import datetime as dt
import decimal
import gzip
import json
import sys
from decimal import Decimal

decimal.getcontext().prec = 200
decimal.getcontext().traps[decimal.Inexact] = False
Q8 = Decimal("1e-8")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
WEEK_OFFSET_MS = 4 * 86400 * 1000  # 1970-01-01 was a Thursday; weeks start on Monday


def interval_seconds(text):
    return int(text[:-1]) * UNITS[text[-1]]


def fmt(d):
    """Shortest exact decimal string of d."""
    if d == 0:
        return "0"
    s = format(d.normalize(), "f")
    return s


def align_ms(t_ms, iv_s):
    iv = iv_s * 1000
    off = WEEK_OFFSET_MS if iv_s == 604800 else 0
    return (t_ms - off) // iv * iv + off


def iso_ms(text):
    t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return int(t.timestamp() * 1000)


def read_trades(paths):
    trades = []  # (symbol, T, t, price, qty, buyer_aggressor)
    for path in paths:
        with gzip.open(path, "rt") as f:
            for line in f:
                sp = line.find(" ")
                if sp < 0 or '@trade"' not in line:
                    continue
                frame = json.loads(line[sp + 1:])
                d = frame.get("data", frame)
                if d.get("e") != "trade":
                    continue
                if d.get("X", "MARKET") != "MARKET":
                    continue
                trades.append((d["s"], int(d["T"]), int(d["t"]), Decimal(d["p"]),
                               Decimal(d["q"]), d["m"] is False))
    return trades


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--intervals", default="1m,5m,15m")
    ap.add_argument("--from", dest="t_from")
    ap.add_argument("--to", dest="t_to")
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    lo = iso_ms(a.t_from) if a.t_from else None
    hi = iso_ms(a.t_to) if a.t_to else None
    trades = read_trades(a.files)
    first_t, last_t = {}, {}
    for sym, T, *_ in trades:
        first_t[sym] = min(first_t.get(sym, T), T)
        last_t[sym] = max(last_t.get(sym, T), T)
    inexact = 0
    out = []
    for iv_text in a.intervals.split(","):
        iv_s = interval_seconds(iv_text)
        buckets = {}
        for sym, T, tid, p, q, buy in trades:
            k = (sym, align_ms(T, iv_s))
            b = buckets.setdefault(k, {"n": 0, "v": Decimal(0), "qv": Decimal(0),
                                       "tbv": Decimal(0), "tbqv": Decimal(0),
                                       "h": p, "l": p, "first": (T, tid, p),
                                       "last": (T, tid, p), "fid": tid, "lid": tid})
            b["n"] += 1
            b["v"] += q
            b["qv"] += p * q
            if buy:
                b["tbv"] += q
                b["tbqv"] += p * q
            b["h"] = max(b["h"], p)
            b["l"] = min(b["l"], p)
            b["first"] = min(b["first"], (T, tid, p))
            b["last"] = max(b["last"], (T, tid, p))
            b["fid"] = min(b["fid"], tid)
            b["lid"] = max(b["lid"], tid)
        for (sym, ot), b in buckets.items():
            if (lo is not None and ot < lo) or (hi is not None and ot > hi):
                continue
            for key in ("qv", "tbqv"):
                if b[key] != b[key].quantize(Q8):
                    inexact += 1
            vwap = (b["qv"] / b["v"]).quantize(Q8, rounding=decimal.ROUND_HALF_EVEN)
            ct = ot + iv_s * 1000 - 1
            out.append({
                "symbol": sym, "interval_s": iv_s, "open_time_ms": ot, "close_time_ms": ct,
                "open": fmt(b["first"][2]), "high": fmt(b["h"]), "low": fmt(b["l"]),
                "close": fmt(b["last"][2]), "volume": fmt(b["v"]),
                "quote_volume": fmt(b["qv"].quantize(Q8, rounding=decimal.ROUND_HALF_EVEN)),
                "trades": b["n"], "taker_buy_volume": fmt(b["tbv"]),
                "taker_buy_quote_volume":
                    fmt(b["tbqv"].quantize(Q8, rounding=decimal.ROUND_HALF_EVEN)),
                "vwap": fmt(vwap), "first_id": b["fid"], "last_id": b["lid"],
                "covered": first_t[sym] <= ot and last_t[sym] >= ct,
            })
    out.sort(key=lambda c: (c["symbol"], c["interval_s"], c["open_time_ms"]))
    for c in out:
        print(json.dumps(c, separators=(",", ":")))
    print("kline_ref: %d candles from %d trades; %d quote sums needed rounding to 8 decimals"
          % (len(out), len(trades), inexact), file=sys.stderr)


if __name__ == "__main__":
    main()
