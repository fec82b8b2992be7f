/* test_layout.c - the region geometry and the layout hash. */
#include <criterion/criterion.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tr_layout.h"

Test(layout, record_sizes_are_the_abi)
{
	cr_assert_eq(sizeof(struct tr_trade), 64);
	cr_assert_eq(sizeof(struct tr_quote), 64);
	cr_assert_eq(sizeof(struct tr_candle), 128);
	cr_assert_eq(sizeof(struct tr_event), 128);
	cr_assert_eq(tr_kind_size(TR_KIND_TRADE), 64);
	cr_assert_eq(tr_kind_size(TR_KIND_QUOTE), 64);
	cr_assert_eq(tr_kind_size(TR_KIND_CANDLE), 128);
	cr_assert_eq(tr_kind_size(TR_KIND_EVENT), 128);
	cr_assert_eq(_Alignof(struct tr_trade), 8);
}

Test(layout, hash_covers_the_field_list_and_is_stable)
{
	const char *d = tr_layout_describe();

	cr_assert(strstr(d, "tr_trade@0:64;tr_trade.seq@0:8;") == d, "%.60s", d);
	cr_assert_not_null(strstr(d, "tr_trade.price@24:8;"));
	cr_assert_not_null(strstr(d, "tr_candle.revision@127:1;"));
	cr_assert_not_null(strstr(d, "tr_superblock.epoch@328:8;"));
	cr_assert_eq(tr_layout_hash(), tr_layout_hash());
	/* FNV-1a of the text, recomputed here independently */
	uint32_t h = 2166136261u;
	for (const char *p = d; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	cr_assert_eq(h, tr_layout_hash());
}

Test(layout, default_geometry_holds_a_second_at_one_million_per_second)
{
	struct tr_geometry g;
	struct tr_superblock sb;

	tr_geometry_default(&g);
	memset(&sb, 0, sizeof sb);
	uint64_t size = tr_layout_plan(&g, &sb);
	cr_assert_gt(size, 0);
	for (int k = 0; k < TR_NKINDS; k++)
		cr_assert_geq(sb.rings[k].slot_count, 1000000);
	cr_assert_eq(sb.interval_count, 6);
	cr_assert_eq(sb.intervals_s[1], 60);
	cr_assert_eq(tr_layout_check(&sb, size), 0, "%s", tr_errmsg());
}

Test(layout, sections_are_aligned_disjoint_and_inside_the_region)
{
	struct tr_geometry g;
	struct tr_superblock sb;

	tr_geometry_default(&g);
	g.ring_slots[TR_KIND_TRADE] = 1024;
	g.ring_slots[TR_KIND_CANDLE] = 8;
	g.symbol_capacity = 3;
	memset(&sb, 0, sizeof sb);
	uint64_t size = tr_layout_plan(&g, &sb);
	uint64_t prev_end = sizeof sb;
	uint64_t starts[6] = {sb.symbols.offset, sb.latest.offset};
	uint64_t sizes[6] = {sb.symbols.size, sb.latest.size};
	for (int k = 0; k < TR_NKINDS; k++) {
		starts[2 + k] = sb.rings[k].offset;
		sizes[2 + k] = 128 + sb.rings[k].slot_count * sb.rings[k].slot_size;
	}
	for (int i = 0; i < 6; i++) {
		cr_assert_eq(starts[i] % TR_SECTION_ALIGN, 0);
		cr_assert_geq(starts[i], prev_end, "section %d overlaps", i);
		prev_end = starts[i] + sizes[i];
	}
	cr_assert_leq(prev_end, size);
	cr_assert_eq(size % TR_SECTION_ALIGN, 0);
}

Test(layout, rejects_bad_geometry_with_a_reason)
{
	struct tr_geometry g;
	struct tr_superblock sb;

	tr_geometry_default(&g);
	g.ring_slots[TR_KIND_QUOTE] = 1000;
	cr_assert_eq(tr_layout_plan(&g, &sb), 0);
	cr_assert_not_null(strstr(tr_errmsg(), "quotes ring"), "%s", tr_errmsg());
	tr_geometry_default(&g);
	g.symbol_capacity = 0;
	cr_assert_eq(tr_layout_plan(&g, &sb), 0);
	tr_geometry_default(&g);
	g.interval_count = TR_MAX_INTERVALS + 1;
	cr_assert_eq(tr_layout_plan(&g, &sb), 0);
}

Test(layout, check_rejects_inconsistent_superblocks)
{
	struct tr_geometry g;
	struct tr_superblock sb, bad;

	tr_geometry_default(&g);
	g.ring_slots[0] = g.ring_slots[1] = g.ring_slots[2] = g.ring_slots[3] = 64;
	memset(&sb, 0, sizeof sb);
	uint64_t size = tr_layout_plan(&g, &sb);
	cr_assert_eq(tr_layout_check(&sb, size - 1), -TR_ETRUNC);
	cr_assert_eq(tr_layout_check(&sb, 100), -TR_ETRUNC);
	bad = sb;
	bad.magic ^= 1;
	cr_assert_eq(tr_layout_check(&bad, size), -TR_EBADMAGIC);
	bad = sb;
	bad.abi_version++;
	cr_assert_eq(tr_layout_check(&bad, size), -TR_EVERSION);
	cr_assert_not_null(strstr(tr_errmsg(), "upgrade"), "%s", tr_errmsg());
	bad = sb;
	bad.layout_hash++;
	cr_assert_eq(tr_layout_check(&bad, size), -TR_ELAYOUT);
	bad = sb;
	bad.rings[2].slot_count = 100;
	cr_assert_eq(tr_layout_check(&bad, size), -TR_ELAYOUT);
	bad = sb;
	bad.rings[3].offset = size - 64;
	cr_assert_eq(tr_layout_check(&bad, size), -TR_ELAYOUT);
	bad = sb;
	bad.latest.offset = UINT64_MAX - 10;
	cr_assert_eq(tr_layout_check(&bad, size), -TR_ELAYOUT);
	bad = sb;
	bad.rings[1].kind = 0;
	cr_assert_eq(tr_layout_check(&bad, size), -TR_ELAYOUT);
	bad = sb;
	bad.movers.size = 64; /* a movers table must be whole */
	cr_assert_eq(tr_layout_check(&bad, size), -TR_ELAYOUT);
	bad = sb;
	bad.movers.offset = size - 64;
	cr_assert_eq(tr_layout_check(&bad, size), -TR_ELAYOUT);
	bad = sb;
	bad.movers.offset = 100; /* inside the superblock */
	cr_assert_eq(tr_layout_check(&bad, size), -TR_ELAYOUT);
}

Test(layout, analytics_records_and_the_movers_section)
{
	struct tr_geometry g;
	struct tr_superblock sb;

	cr_assert_eq(sizeof(struct tr_sym_analytics), 64);
	cr_assert_eq(sizeof(struct tr_indicators), 192);
	cr_assert_eq(sizeof(struct tr_mover), 32);
	cr_assert_eq(sizeof(struct tr_movers), 64 + 4 * 32 * 32);
	cr_assert_eq(offsetof(struct tr_latest, analytics), 2368);
	cr_assert_eq(offsetof(struct tr_latest, indicators), 2432);
	cr_assert_leq(offsetof(struct tr_latest, indicators) +
			  TR_MAX_INTERVALS * sizeof(struct tr_indicators),
		      sizeof(struct tr_latest), "indicators fit the 8 KiB entry");
	const char *d = tr_layout_describe();
	cr_assert_not_null(strstr(d, "tr_latest.indicators@2432:3072;"));
	cr_assert_not_null(strstr(d, "tr_superblock.movers@112:16;"));
	cr_assert_not_null(strstr(d, "tr_indicators.rsi@128:8;"));
	cr_assert_not_null(strstr(d, "tr_movers.list@64:4096;"));
	/* the movers section sits after the latest table, before the rings */
	tr_geometry_default(&g);
	g.symbol_capacity = 3;
	memset(&sb, 0, sizeof sb);
	uint64_t size = tr_layout_plan(&g, &sb);
	cr_assert_eq(sb.movers.size, sizeof(struct tr_movers));
	cr_assert_eq(sb.movers.offset % TR_SECTION_ALIGN, 0);
	cr_assert_geq(sb.movers.offset, sb.latest.offset + sb.latest.size);
	cr_assert_leq(sb.movers.offset + sb.movers.size, sb.rings[0].offset);
	cr_assert_eq(tr_layout_check(&sb, size), 0, "%s", tr_errmsg());
}

Test(layout, names_of_kinds_and_counters)
{
	cr_assert_str_eq(tr_kind_name(TR_KIND_CANDLE), "candles");
	cr_assert_eq(tr_kind_parse("trades"), TR_KIND_TRADE);
	cr_assert_eq(tr_kind_parse("quote"), TR_KIND_QUOTE);
	cr_assert_eq(tr_kind_parse("eventsx"), -1);
	cr_assert_eq(tr_kind_parse("tradeX"), -1);
	for (unsigned i = 0; i < TR_NCOUNTERS; i++)
		cr_assert_not_null(tr_counter_name(i), "counter %u has no name", i);
	cr_assert_null(tr_counter_name(TR_NCOUNTERS));
}

/* The README is the spec for readers in other languages: keep it true. */
static char *read_readme(void)
{
	char path[512];
	const char *root = getenv("TR_ROOT");

	snprintf(path, sizeof path, "%s/README.md", root ? root : ".");
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "cannot open %s", path);
	static char buf[1 << 20];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	return buf;
}

Test(layout, readme_lists_the_exact_hash_text_and_counters)
{
	char *md = read_readme(), text[8192], want[64];
	size_t n = 0;

	char *p = strstr(md, "<!-- layout-hash-text -->\n```\n");
	cr_assert_not_null(p, "README lacks the layout hash block");
	p = strchr(strchr(p, '\n') + 1, '\n') + 1;
	char *end = strstr(p, "```");
	cr_assert_not_null(end);
	for (; p < end; p++)
		if (*p != '\n')
			text[n++] = *p;
	text[n] = 0;
	cr_assert_str_eq(text, tr_layout_describe(), "README's layout hash text is out of date");
	snprintf(want, sizeof want, "the hash is `0x%08x`", tr_layout_hash());
	cr_assert_not_null(strstr(md, want), "README must state %s", want);
	for (unsigned i = 0; i < TR_NCOUNTERS; i++) {
		snprintf(want, sizeof want, " %u %s", i, tr_counter_name(i));
		cr_assert_not_null(strstr(md, want), "README counter list lacks '%s'", want);
	}
}
