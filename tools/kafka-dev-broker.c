/* kafka-dev-broker.c - a local Kafka broker for development, tests and
 * benchmarks: librdkafka's mock cluster (rdkafka_mock.h) run as a process.
 *
 * It speaks the Kafka protocol on 127.0.0.1 (producer, idempotent producer,
 * fetch, offsets, metadata), so the Kafka mirror and kcat talk to it exactly
 * as to a real cluster. It is NOT a real broker: everything lives in this
 * process's memory, nothing is replicated or written to disk, and the
 * listening ports are chosen by the kernel. Production points the mirror at
 * a real cluster.
 *
 * The first line on stdout is the bootstrap address ("127.0.0.1:PORT[,...]"),
 * then the process runs until SIGINT or SIGTERM. For outage tests SIGUSR1
 * takes every broker down (connections closed, new ones refused) and SIGUSR2
 * brings them back with the topics' contents intact; a plain SIGSTOP/SIGCONT
 * works too (the clients see a silent broker instead of refused connections).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TOPICS 32

static const char usage[] =
    "usage: kafka-dev-broker [options]\n"
    "\n"
    "A development Kafka broker: librdkafka's in-memory mock cluster on 127.0.0.1.\n"
    "Prints its bootstrap address as the first line on stdout and runs until\n"
    "SIGINT/SIGTERM. Data lives only in memory; production uses a real cluster.\n"
    "\n"
    "  -b, --brokers N        brokers in the cluster (default 1)\n"
    "  -p, --partitions N     partitions per topic (default 4)\n"
    "  -P, --prefix P         create P.trades, P.quotes, P.candles, P.events\n"
    "                         (default tickring; repeatable)\n"
    "  -t, --topic NAME       create one more topic (repeatable)\n"
    "  -h, --help             this help\n"
    "\n"
    "Signals: SIGUSR1 takes every broker down (connections refused), SIGUSR2\n"
    "brings them up again with the topics' contents kept; SIGINT/SIGTERM stop.\n"
    "Tap it with: kcat -C -b ADDR -t tickring.trades -o beginning -e\n";

static const char *const kinds[] = {"trades", "quotes", "candles", "events"};

static long parse_count(const char *s, const char *what, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 1 || v > max) {
		fprintf(stderr, "kafka-dev-broker: %s must be 1..%ld, not '%s'\n", what, max, s);
		exit(2);
	}
	return v;
}

/* Append prefix.trades ... prefix.events; returns the new count. */
static int add_prefix(char **topics, int *owned, int n, const char *prefix)
{
	for (int k = 0; k < 4; k++) {
		if (asprintf(&topics[n], "%s.%s", prefix, kinds[k]) < 0) {
			perror("kafka-dev-broker");
			exit(1);
		}
		owned[n++] = 1;
	}
	return n;
}

static void set_all(rd_kafka_mock_cluster_t *mc, int brokers, int up)
{
	for (int id = 1; id <= brokers; id++) {
		rd_kafka_resp_err_t err = up ? rd_kafka_mock_broker_set_up(mc, id)
					     : rd_kafka_mock_broker_set_down(mc, id);
		if (err)
			fprintf(stderr, "kafka-dev-broker: broker %d %s: %s\n", id,
				up ? "up" : "down", rd_kafka_err2str(err));
	}
	fprintf(stderr, "kafka-dev-broker: brokers %s\n", up ? "up" : "down");
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
	    {"brokers", required_argument, 0, 'b'}, {"partitions", required_argument, 0, 'p'},
	    {"prefix", required_argument, 0, 'P'},  {"topic", required_argument, 0, 't'},
	    {"help", no_argument, 0, 'h'},	    {0, 0, 0, 0}};
	char *topics[MAX_TOPICS];
	int owned[MAX_TOPICS] = {0};
	int ntopics = 0, brokers = 1, partitions = 4, nprefix = 0, c;
	char errstr[256];

	while ((c = getopt_long(argc, argv, "b:p:P:t:h", lopts, NULL)) != -1) {
		switch (c) {
		case 'b':
			brokers = (int)parse_count(optarg, "--brokers", 16);
			break;
		case 'p':
			partitions = (int)parse_count(optarg, "--partitions", 1024);
			break;
		case 'P':
		case 't':
			if (ntopics + (c == 'P' ? 4 : 1) > MAX_TOPICS) {
				fprintf(stderr, "kafka-dev-broker: at most %d topics\n",
					MAX_TOPICS);
				return 2;
			}
			if (c == 't') {
				topics[ntopics++] = optarg; /* argv: not owned */
				break;
			}
			nprefix++;
			ntopics = add_prefix(topics, owned, ntopics, optarg);
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "kafka-dev-broker: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (!nprefix)
		ntopics = add_prefix(topics, owned, ntopics, "tickring");

	/* Signals are taken synchronously by sigwaitinfo(): block them before
	 * librdkafka starts its threads, which inherit the mask. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	/* The mock cluster needs a handle for its bookkeeping; this one never
	 * produces. */
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	if (rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr)) {
		fprintf(stderr, "kafka-dev-broker: %s\n", errstr);
		return 1;
	}
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
	if (!rk) {
		fprintf(stderr, "kafka-dev-broker: rd_kafka_new: %s\n", errstr);
		return 1;
	}
	rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
	if (!mc) {
		fprintf(stderr, "kafka-dev-broker: cannot create the mock cluster\n");
		rd_kafka_destroy(rk);
		return 1;
	}
	int rf = brokers < 3 ? brokers : 3;
	for (int i = 0; i < ntopics; i++) {
		rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mc, topics[i], partitions, rf);
		if (err) {
			fprintf(stderr, "kafka-dev-broker: topic %s: %s\n", topics[i],
				rd_kafka_err2str(err));
			rd_kafka_mock_cluster_destroy(mc);
			rd_kafka_destroy(rk);
			return 1;
		}
	}
	printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
	fflush(stdout);
	fprintf(stderr, "kafka-dev-broker: %d broker(s) at %s, %d topic(s) of %d partition(s)\n",
		brokers, rd_kafka_mock_cluster_bootstraps(mc), ntopics, partitions);

	for (;;) {
		int sig = sigwaitinfo(&set, NULL);
		if (sig == SIGUSR1)
			set_all(mc, brokers, 0);
		else if (sig == SIGUSR2)
			set_all(mc, brokers, 1);
		else if (sig == SIGINT || sig == SIGTERM)
			break;
	}
	fprintf(stderr, "kafka-dev-broker: stopping\n");
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(rk);
	for (int i = 0; i < ntopics; i++)
		if (owned[i])
			free(topics[i]);
	return 0;
}
