#!/usr/bin/env python3
"""example_tail.py [INSTANCE] - print trades as they arrive (tickring.py example)."""
import sys
import time

import tickring


def main():
    region = tickring.Region(sys.argv[1] if len(sys.argv) > 1 else None)
    cursor = tickring.Cursor(region, "trades", join="tail")
    names = {}
    while True:
        rec = cursor.wait(1.0)
        if isinstance(rec, tickring.Trade):
            if rec.symbol_id not in names:
                names[rec.symbol_id] = region.symbol_name(rec.symbol_id)
            side = {1: "buy", 2: "sell"}.get(rec.side, "?")
            print("%s %-12s %-4s %s @ %s" % (
                time.strftime("%H:%M:%S", time.gmtime(rec.ts_event // 10**9)),
                names[rec.symbol_id], side, tickring.fixed_str(rec.qty),
                tickring.fixed_str(rec.price)), flush=True)
        elif isinstance(rec, tickring.Lapped):
            print("-- lapped: %d trades lost" % rec.gap, file=sys.stderr)
        elif isinstance(rec, tickring.EpochChanged):
            print("-- engine restarted (epoch %d)" % rec.new, file=sys.stderr)
        elif rec is None and not region.alive():
            sys.exit("tickring: %s" % region.liveness())


if __name__ == "__main__":
    try:
        main()
    except tickring.TickringError as e:
        sys.exit("tickring: %s" % e)
    except (KeyboardInterrupt, BrokenPipeError):
        pass
