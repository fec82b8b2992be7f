/* test_config.c - tickringd's `directive value` config and flags. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tr_config.h"
#include "tr_err.h"

static char path[64];

static void write_conf(const char *text)
{
	snprintf(path, sizeof path, "/tmp/tr-conf-%d.conf", (int)getpid());
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

static void cleanup(void)
{
	unlink(path);
}

Test(config, reads_directives_comments_and_blank_lines, .fini = cleanup)
{
	struct tr_config c;

	write_conf("# tickringd\n"
		   "instance   prod   # trailing comment\n"
		   "\n"
		   "feed binance wss://stream.binance.com:9443\n"
		   "feed binance-usdm wss://fstream.binance.com\n"
		   "symbols btcusdt, ETHUSDT\n"
		   "streams trade,bookTicker,aggTrade\n"
		   "ring-slots 65536\n"
		   "ring-slots-events 1024\n"
		   "replay-speed 10\n"
		   "verify-tls no\n"
		   "log-level debug\n");
	tr_config_default(&c);
	cr_assert_eq(tr_config_load(&c, path), 0, "%s", tr_errmsg());
	cr_assert_str_eq(c.instance, "prod");
	cr_assert_eq(c.nfeeds, 2);
	cr_assert_str_eq(c.feeds[1].venue, "binance-usdm");
	cr_assert_str_eq(c.feeds[1].url, "wss://fstream.binance.com");
	cr_assert_eq(c.nsymbols, 2);
	cr_assert_str_eq(c.symbols[0], "BTCUSDT", "symbols are upper-cased");
	cr_assert_eq(c.streams, TR_STREAM_TRADE | TR_STREAM_BOOKTICKER | TR_STREAM_AGGTRADE);
	cr_assert_eq(c.ring_slots[0], 65536);
	cr_assert_eq(c.ring_slots[3], 1024);
	cr_assert_eq(c.replay_speed, 10.0);
	cr_assert_eq(c.verify_tls, false);
	cr_assert_eq(c.log_level, 3);
	cr_assert_eq(tr_config_check(&c), 0, "%s", tr_errmsg());
}

static void expect_bad(const char *text, const char *words)
{
	struct tr_config c;

	write_conf(text);
	tr_config_default(&c);
	cr_assert_eq(tr_config_load(&c, path), -EINVAL, "accepted: %s", text);
	cr_assert_not_null(strstr(tr_errmsg(), words), "'%s' lacks '%s'", tr_errmsg(), words);
}

Test(config, bad_lines_stop_with_the_file_and_line, .fini = cleanup)
{
	char where[80];

	expect_bad("instance a\nbogus 1\n", "unknown directive 'bogus'");
	snprintf(where, sizeof where, "%s:2", path);
	cr_assert_not_null(strstr(tr_errmsg(), where), "%s", tr_errmsg());
	expect_bad("ring-slots 1000\n", "not a power of two");
	expect_bad("ring-slots 1\n", "not a number in 2..");
	expect_bad("ring-slots -4\n", "not a number");
	expect_bad("ring-slots 12abc\n", "not a number");
	expect_bad("instance\n", "missing value");
	expect_bad("feed kraken wss://x\n", "not binance");
	expect_bad("feed binance http://x\n", "not a ws:// or wss:// URL");
	expect_bad("symbols BTC/USDT\n", "bad character");
	expect_bad("streams trade,depth\n", "'depth'");
	expect_bad("verify-tls maybe\n", "not yes or no");
	expect_bad("replay-speed -1\n", "positive number or max");
	expect_bad("log-level loud\n", "not error, warn");
	expect_bad("instance 0123456789012345678901234567890123456789\n", "longer than");
}

Test(config, flags_override_the_file_and_collect_replay_files, .fini = cleanup)
{
	struct tr_config c;

	write_conf("instance fromfile\nsymbols BTCUSDT\n");
	char *argv[] = {(char *)"tickringd",
			(char *)"--instance",
			(char *)"fromflag",
			(char *)"--config",
			path,
			(char *)"--replay-speed",
			(char *)"max",
			(char *)"--replay",
			(char *)"a.gz",
			(char *)"b.gz",
			NULL};
	tr_config_default(&c);
	cr_assert_eq(tr_config_args(&c, 10, argv), 0, "%s", tr_errmsg());
	cr_assert_str_eq(c.instance, "fromflag");
	cr_assert_eq(c.nsymbols, 1);
	cr_assert_eq(c.replay_speed, 0.0);
	cr_assert_eq(c.nreplay, 2);
	cr_assert_str_eq(c.replay[1], "b.gz");
	cr_assert_eq(tr_config_check(&c), 0);

	char *bad[] = {(char *)"tickringd", (char *)"--ring-slot", (char *)"4", NULL};
	tr_config_default(&c);
	cr_assert_eq(tr_config_args(&c, 3, bad), -EINVAL);
	cr_assert_not_null(strstr(tr_errmsg(), "--ring-slot"), "%s", tr_errmsg());
	char *nothing[] = {(char *)"tickringd", NULL};
	tr_config_default(&c);
	cr_assert_eq(tr_config_args(&c, 1, nothing), 0);
	cr_assert_eq(tr_config_check(&c), -EINVAL, "no feed, gateway or replay: nothing to do");
}
