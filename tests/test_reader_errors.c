/* test_reader_errors.c - a reader given a wrong, truncated, newer or dead
 * region gets a specific error and a message, never a crash. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "th.h"

static char path[256];

static void put_file(const char *p, const void *data, size_t n)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, data, n), (ssize_t)n);
	close(fd);
}

/* Copy a live region's bytes to a plain file we can damage. */
static uint8_t *region_bytes(const char *inst, size_t *n)
{
	char p[128];
	struct stat st;

	snprintf(p, sizeof p, "/dev/shm/tickring.%s", inst);
	int fd = open(p, O_RDONLY);
	cr_assert_geq(fd, 0);
	fstat(fd, &st);
	uint8_t *b = malloc((size_t)st.st_size);
	cr_assert_eq(read(fd, b, (size_t)st.st_size), st.st_size);
	close(fd);
	*n = (size_t)st.st_size;
	return b;
}

static void expect_open_error(const char *p, int code, const char *words)
{
	struct tr_region *r = (struct tr_region *)0x1;
	int rc = tr_region_open(&r, p, 0);

	cr_assert_eq(rc, -code, "open %s: got %d (%s), want %d", p, rc, tr_errmsg(), -code);
	cr_assert_eq(r, (struct tr_region *)0x1, "no region on failure");
	cr_assert_not_null(strstr(tr_errmsg(), words), "message '%s' lacks '%s'", tr_errmsg(),
			   words);
	cr_assert_not_null(strstr(tr_errmsg(), p), "message '%s' names the file", tr_errmsg());
}

Test(reader_errors, missing_region)
{
	expect_open_error("/dev/shm/tickring.no-such-instance-xyz", ENOENT, "is tickringd running");
}

Test(reader_errors, wrong_files)
{
	uint8_t junk[16384];

	snprintf(path, sizeof path, "/dev/shm/t-junk-%d", (int)getpid());
	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = (uint8_t)(i * 131 + 7);
	put_file(path, junk, sizeof junk);
	expect_open_error(path, TR_EBADMAGIC, "not a tickring region");
	memset(junk, 0, sizeof junk);
	put_file(path, junk, sizeof junk);
	expect_open_error(path, TR_EBADMAGIC, "bad magic");
	put_file(path, "hello", 5);
	expect_open_error(path, TR_ETRUNC, "shorter than a superblock");
	put_file(path, "", 0);
	expect_open_error(path, TR_ETRUNC, "shorter than a superblock");
	unlink(path);
	expect_open_error("/dev/shm/", EINVAL, "not a regular file");
}

Test(reader_errors, truncated_newer_and_foreign_layouts)
{
	char inst[64];
	th_instance(inst, sizeof inst, "damage");
	struct tr_writer *w = th_writer(inst, 16);
	size_t n;
	uint8_t *b = region_bytes(inst, &n);
	struct tr_superblock *sb = (struct tr_superblock *)b;

	snprintf(path, sizeof path, "/dev/shm/t-damage-%d", (int)getpid());
	put_file(path, b, n / 2);
	expect_open_error(path, TR_ETRUNC, "region needs");

	sb->abi_version = TR_ABI_VERSION + 1;
	put_file(path, b, n);
	expect_open_error(path, TR_EVERSION, "upgrade libtickring");

	sb->abi_version = TR_ABI_VERSION;
	sb->layout_hash ^= 0x5a5a;
	put_file(path, b, n);
	expect_open_error(path, TR_ELAYOUT, "different tr_abi.h");

	sb->layout_hash ^= 0x5a5a;
	sb->rings[TR_KIND_CANDLE].slot_count = 1ull << 29; /* points far past the file */
	put_file(path, b, n);
	expect_open_error(path, TR_ELAYOUT, "candles ring");

	sb->rings[TR_KIND_CANDLE].slot_count = 16;
	sb->symbol_capacity = 0;
	put_file(path, b, n);
	expect_open_error(path, TR_ELAYOUT, "section table");

	free(b);
	unlink(path);
	tr_writer_close(w);
	tr_writer_unlink(NULL, inst);
}

Test(reader_errors, dead_engine, .timeout = 60)
{
	char inst[64], p[128];
	th_instance(inst, sizeof inst, "dead");
	tr_writer_unlink(NULL, inst);
	pid_t pid = fork();
	if (pid == 0) {
		struct tr_writer_config cfg;
		struct tr_writer *w;

		tr_writer_config_default(&cfg);
		cfg.instance = inst;
		for (int k = 0; k < TR_NKINDS; k++)
			cfg.geometry.ring_slots[k] = 16;
		cfg.geometry.symbol_capacity = 8;
		_exit(tr_writer_open(&w, &cfg) == 0 ? 0 : 1); /* dies without stopping */
	}
	int st;
	waitpid(pid, &st, 0);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	snprintf(p, sizeof p, "/dev/shm/tickring.%s", inst);
	expect_open_error(p, TR_EDEAD, "is gone without stopping");

	struct tr_region *r;
	cr_assert_eq(tr_region_open(&r, inst, TR_OPEN_ANY_STATE), 0, "inspection still works");
	cr_assert_eq(tr_region_liveness(r, 0), -TR_EDEAD);
	tr_region_close(r);
	tr_writer_unlink(NULL, inst);
}

Test(reader_errors, stale_heartbeat_and_clean_stop)
{
	char inst[64], p[128];
	th_instance(inst, sizeof inst, "stale");
	struct tr_writer *w = th_writer(inst, 16);

	snprintf(p, sizeof p, "/dev/shm/tickring.%s", inst);
	w->sb->heartbeat_ns -= 10 * 1000000000ll;
	expect_open_error(p, TR_ESTALE, "has not beaten");
	tr_writer_heartbeat(w);
	struct tr_region *r;
	cr_assert_eq(tr_region_open(&r, inst, 0), 0, "%s", tr_errmsg());
	tr_region_close(r);
	tr_writer_close(w);
	expect_open_error(p, TR_ESTOPPED, "stopped");
	tr_writer_unlink(NULL, inst);
}

static void on_segv(int sig)
{
	(void)sig;
	_exit(42);
}

Test(reader_errors, a_reader_cannot_write_the_region)
{
	char inst[64];
	th_instance(inst, sizeof inst, "ro");
	struct tr_writer *w = th_writer(inst, 16);
	struct tr_region *r;

	cr_assert_eq(tr_region_open(&r, inst, 0), 0);
	pid_t pid = fork();
	if (pid == 0) {
		/* a store through the reader's mapping must fault */
		struct sigaction sa = {.sa_handler = on_segv};
		sigaction(SIGSEGV, &sa, NULL);
		volatile uint64_t *p = (volatile uint64_t *)&tr_region_superblock(r)->epoch;
		*p = 99;
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 42, "the store must fault (status %#x)", st);
	cr_assert_neq(w->sb->epoch, 99);
	tr_region_close(r);
	tr_writer_close(w);
	tr_writer_unlink(NULL, inst);
}
