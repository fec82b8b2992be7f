/* tr_kafka.h - the Kafka mirror: every record of the configured rings, as
 * tr_format_json(), to the topics <prefix>.trades|quotes|candles|events.
 *
 * Keyed `<venue>:<SYMBOL>` (`<venue>` alone for events about no symbol), so
 * each symbol stays in one partition and in order; headers `seq`, `epoch`
 * and `schema` ("tickring.trade.v1" ...); an idempotent librdkafka producer
 * with lz4 compression and throughput batching, every other librdkafka
 * property settable as `kafka.<property> value`.
 *
 * No loss: delivery reports acknowledge seqs in a tr_ackwin per kind, whose
 * watermark is saved to the checkpoint file (at most every 100 ms, and at
 * stop); a restart resumes after it from the ring or the journal. While the
 * broker is away librdkafka's bounded queue fills, the mirror stops reading
 * and the rings may lap it: the records are read back from the journal later
 * (backpressure to the journal, not to RAM). A final delivery error re-sends
 * the kind from its watermark. Duplicates arise only from such re-sends and
 * from records acknowledged after the last checkpoint write when the process
 * dies; consumers drop them by the `seq` header (docs/mirrors.md).
 *
 * Directives (check() validates, run() uses): kafka-brokers (turns it on),
 * kafka-topic-prefix, kafka-kinds, kafka-checkpoint, kafka-start,
 * kafka-flush-ms, kafka.<property>.
 */
#ifndef TR_KAFKA_H
#define TR_KAFKA_H

#include <stdint.h>

#include "tr_mirror.h"

extern const struct tr_mirror_def tr_mirror_kafka;

/* Observation points for tests and the benchmark, called on the mirror's
 * thread from librdkafka's delivery reports. */
struct tr_kafka_hooks {
	/* err: 0 delivered, else an rd_kafka_resp_err_t (purges at stop included) */
	void (*delivered)(void *arg, unsigned kind, uint64_t seq, int err);
	void *arg;
};

/* tr_mirror_kafka.run() with hooks (h may be NULL). */
int tr_kafka_run(const struct tr_mirror_args *a, const struct tr_kafka_hooks *h);

#endif
