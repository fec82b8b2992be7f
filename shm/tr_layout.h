/* tr_layout.h - region geometry, validation and the layout hash.
 *
 * The writer plans the region from a tr_geometry; every reader validates what
 * it maps with tr_layout_check() before trusting a single offset, so a wrong,
 * truncated or foreign file gives an error instead of a wild read.
 */
#ifndef TR_LAYOUT_H
#define TR_LAYOUT_H

#include "tr_abi.h"
#include "tr_err.h"

struct tr_geometry {
	uint64_t ring_slots[TR_NKINDS]; /* powers of two */
	uint32_t symbol_capacity;
	uint32_t interval_count;
	uint32_t intervals_s[TR_MAX_INTERVALS];
};

/* Defaults: 2^20 slots per ring (one second at 1 M records/s), 4096 symbols,
 * candle intervals 1s 1m 5m 15m 1h 1d. */
void tr_geometry_default(struct tr_geometry *g);

/* Fill the static superblock fields (magic, version, hash, sections, rings)
 * for geometry g. Returns the region size in bytes, or 0 if g is invalid
 * (message in tr_errmsg()). */
uint64_t tr_layout_plan(const struct tr_geometry *g, struct tr_superblock *sb);

/* Check a mapped superblock against this build and a file of file_size bytes:
 * magic, ABI version, layout hash, and every section inside the file.
 * Returns 0 or -TR_EBADMAGIC / -TR_EVERSION / -TR_ELAYOUT / -TR_ETRUNC. */
int tr_layout_check(const struct tr_superblock *sb, uint64_t file_size);

/* FNV-1a 32 of the canonical field list (tr_layout_describe()). */
uint32_t tr_layout_hash(void);

/* The canonical field list that the hash covers, as README documents it:
 * "name@offset:size;" for each field a reader interprets. */
const char *tr_layout_describe(void);

const char *tr_kind_name(unsigned kind);     /* "trades", ... or "?" */
int tr_kind_parse(const char *name);	     /* -1 if unknown */
const char *tr_counter_name(unsigned index); /* NULL past the known ones */

#endif
