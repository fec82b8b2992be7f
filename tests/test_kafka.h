/* test_kafka.h - what the Kafka suites share: the development broker as a
 * child process, kcat as the consumer (its output parsed into messages),
 * and the checks every test makes on a topic: each seq once, the key and
 * headers right, per-key order. Processes are tracked by tproc.h and killed
 * by the test's .fini (and by PR_SET_PDEATHSIG if the test process dies). */
#ifndef TEST_KAFKA_H
#define TEST_KAFKA_H

#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "e2e.h"
#include "tproc.h"

/* One message as kcat printed it. */
struct kmsg {
	int part;
	long long off;
	char key[96];
	uint64_t seq, epoch;
	char schema[40];
	char *json; /* owned by the kmsgs */
};

struct kmsgs {
	struct kmsg *m;
	size_t n, cap;
	char *text; /* kcat's whole output */
};

struct kbroker {
	pid_t pid;
	char addr[192];
};

/* Start build/kafka-dev-broker and read its bootstrap address. */
static inline void kb_start(struct kbroker *b, const char *partitions)
{
	int fd;
	char *argv[] = {(char *)"kafka-dev-broker", (char *)"--partitions", (char *)partitions,
			NULL};
	char buf[160];
	size_t n = 0;
	int64_t deadline = e2e_now() + 20 * 1000000000ll;

	b->pid = e2e_spawn(argv, &fd, tproc_tmpfile("kdb.log"));
	tproc_track(b->pid);
	while (n < sizeof buf - 1 && e2e_now() < deadline) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 100) != 1)
			continue;
		if (read(fd, buf + n, 1) != 1)
			break;
		if (buf[n++] == '\n')
			break;
	}
	close(fd);
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	cr_assert(strncmp(buf, "127.0.0.1:", 10) == 0, "kafka-dev-broker printed '%s'", buf);
	snprintf(b->addr, sizeof b->addr, "%s", buf);
}

static inline void kmsgs_free(struct kmsgs *k)
{
	free(k->m);
	free(k->text);
	memset(k, 0, sizeof *k);
}

/* Run kcat and return everything it printed on stdout (NUL-terminated). */
static inline char *kcat_run(char *const argv[])
{
	int fds[2];
	size_t n = 0, cap = 1 << 20;
	char *out = malloc(cap);
	int64_t deadline = e2e_now() + 120 * 1000000000ll;

	cr_assert_not_null(out);
	cr_assert_eq(pipe(fds), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(fds[1], 1);
		close(fds[0]);
		int dn = open("/dev/null", O_WRONLY);
		if (dn >= 0)
			dup2(dn, 2);
		execvp("kcat", argv);
		_exit(127);
	}
	tproc_track(pid);
	close(fds[1]);
	for (;;) {
		struct pollfd p = {.fd = fds[0], .events = POLLIN};
		cr_assert_lt(e2e_now(), deadline, "kcat did not finish");
		if (poll(&p, 1, 200) != 1)
			continue;
		if (n + 65536 > cap)
			cr_assert_not_null(out = realloc(out, cap *= 2));
		ssize_t k = read(fds[0], out + n, 65536);
		if (k <= 0)
			break;
		n += (size_t)k;
	}
	close(fds[0]);
	out[n] = 0;
	cr_assert_eq(tproc_reap(pid), 0, "kcat failed");
	return out;
}

/* Every message of topic, from the beginning to the end of each partition:
 *   kcat -C -b ADDR -t TOPIC -o beginning -e -q -f '%p\t%o\t%k\t%h\t%s\n'
 * The JSON payload never holds a raw tab or newline (tr_format escapes
 * them), nor do keys (the mirror replaces control bytes). */
static inline void kcat_topic(const char *addr, const char *topic, struct kmsgs *k)
{
	char *argv[] = {(char *)"kcat",
			(char *)"-C",
			(char *)"-b",
			(char *)addr,
			(char *)"-t",
			(char *)topic,
			(char *)"-o",
			(char *)"beginning",
			(char *)"-e",
			(char *)"-q",
			(char *)"-f",
			(char *)"%p\t%o\t%k\t%h\t%s\n",
			NULL};

	memset(k, 0, sizeof *k);
	k->text = kcat_run(argv);
	for (char *line = k->text, *next; *line; line = next) {
		char *nl = strchr(line, '\n');
		cr_assert_not_null(nl, "kcat line without a newline");
		*nl = 0;
		next = nl + 1;
		if (k->n == k->cap) {
			k->cap = k->cap ? k->cap * 2 : 4096;
			cr_assert_not_null(k->m = realloc(k->m, k->cap * sizeof *k->m));
		}
		struct kmsg *m = &k->m[k->n++];
		memset(m, 0, sizeof *m);
		char *f[5], *save = NULL;
		f[0] = strtok_r(line, "\t", &save);
		for (int i = 1; i < 5; i++)
			f[i] = strtok_r(NULL, i < 4 ? "\t" : "", &save);
		cr_assert(f[0] && f[1] && f[2] && f[3] && f[4], "kcat line %zu malformed", k->n);
		m->part = atoi(f[0]);
		m->off = atoll(f[1]);
		snprintf(m->key, sizeof m->key, "%s", f[2]);
		/* headers: seq=N,epoch=N,schema=S */
		int got = sscanf(f[3], "seq=%" SCNu64 ",epoch=%" SCNu64 ",schema=%39s", &m->seq,
				 &m->epoch, m->schema);
		cr_assert_eq(got, 3, "headers '%s'", f[3]);
		m->json = f[4];
	}
}

/* Two payloads of one record: equal but for "epoch" (a copy re-sent from
 * the journal after its epoch ended says 0). */
static inline int json_same_record(const char *a, const char *b)
{
	const char *ea = strstr(a, ",\"epoch\":"), *eb = strstr(b, ",\"epoch\":");

	if (!ea || !eb || ea - a != eb - b || strncmp(a, b, (size_t)(ea - a)))
		return 0;
	ea += 9;
	eb += 9;
	while (*ea >= '0' && *ea <= '9')
		ea++;
	while (*eb >= '0' && *eb <= '9')
		eb++;
	return !strcmp(ea, eb);
}

/* seq -> index in k, every seq in [1, n] exactly once; dup counts seqs seen
 * more than once (NULL: none allowed). Returns the index table (free it). */
static inline size_t *kmsgs_by_seq(const struct kmsgs *k, uint64_t n, size_t *dup)
{
	size_t *idx = malloc((n + 1) * sizeof *idx);

	cr_assert_not_null(idx);
	for (uint64_t s = 0; s <= n; s++)
		idx[s] = SIZE_MAX;
	if (dup)
		*dup = 0;
	for (size_t i = 0; i < k->n; i++) {
		uint64_t s = k->m[i].seq;
		cr_assert(s >= 1 && s <= n, "seq %" PRIu64 " outside 1..%" PRIu64, s, n);
		if (idx[s] != SIZE_MAX) {
			cr_assert_not_null(dup, "seq %" PRIu64 " delivered twice", s);
			cr_assert(json_same_record(k->m[i].json, k->m[idx[s]].json),
				  "seq %" PRIu64 " twice with different payloads:\n%s\n%s", s,
				  k->m[i].json, k->m[idx[s]].json);
			(*dup)++;
			continue;
		}
		idx[s] = i;
	}
	for (uint64_t s = 1; s <= n; s++)
		cr_assert_neq(idx[s], SIZE_MAX, "seq %" PRIu64 " missing of %" PRIu64, s, n);
	return idx;
}

static const struct kmsgs *korder_k;

static inline int korder_cmp(const void *a, const void *b)
{
	const struct kmsg *x = &korder_k->m[*(const size_t *)a],
			  *y = &korder_k->m[*(const size_t *)b];
	int c = strcmp(x->key, y->key);

	if (c)
		return c;
	if (x->part != y->part)
		return x->part < y->part ? -1 : 1;
	return x->off < y->off ? -1 : x->off > y->off;
}

/* Per key: one partition, and in offset order every message either carries
 * a seq above all before it or repeats one already seen (a re-send, only
 * when allow_dups). So first sightings are in seq order. seqs are <= n. */
static inline void kmsgs_check_order(const struct kmsgs *k, uint64_t n, int allow_dups)
{
	size_t *ix = malloc((k->n + 1) * sizeof *ix);
	uint8_t *seen = calloc(n + 1, 1);

	cr_assert(ix && seen);
	for (size_t i = 0; i < k->n; i++)
		ix[i] = i;
	korder_k = k;
	qsort(ix, k->n, sizeof *ix, korder_cmp);
	uint64_t max = 0;
	for (size_t i = 0; i < k->n; i++) {
		const struct kmsg *m = &k->m[ix[i]];
		if (i == 0 || strcmp(m->key, k->m[ix[i - 1]].key)) {
			max = 0;
		} else {
			cr_assert_eq(m->part, k->m[ix[i - 1]].part,
				     "key %s in partitions %d and %d", m->key, m->part,
				     k->m[ix[i - 1]].part);
		}
		cr_assert_leq(m->seq, n);
		if (m->seq > max) {
			max = m->seq;
		} else {
			cr_assert(allow_dups && seen[m->seq],
				  "key %s: seq %" PRIu64 " at offset %lld after seq %" PRIu64,
				  m->key, m->seq, m->off, max);
		}
		seen[m->seq] = 1;
	}
	free(ix);
	free(seen);
}

#endif
