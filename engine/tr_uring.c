/* tr_uring.c - io_uring plus eventfd for the engine loop (tr_uring.h). */
#define _GNU_SOURCE
#include "tr_uring.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

int tr_uring_init(struct tr_uring *u, unsigned entries)
{
	int rc;

	memset(u, 0, sizeof *u);
	u->efd = -1;
	if ((rc = io_uring_queue_init(entries, &u->ring, 0)) < 0)
		return rc;
	u->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (u->efd < 0) {
		rc = -errno;
		io_uring_queue_exit(&u->ring);
		return rc;
	}
	if ((rc = io_uring_register_eventfd(&u->ring, u->efd)) < 0) {
		close(u->efd);
		io_uring_queue_exit(&u->ring);
		u->efd = -1;
		return rc;
	}
	return 0;
}

void tr_uring_exit(struct tr_uring *u)
{
	if (u->efd < 0)
		return;
	io_uring_queue_exit(&u->ring);
	close(u->efd);
	u->efd = -1;
}

struct io_uring_sqe *tr_uring_sqe(struct tr_uring *u, struct tr_uring_op *op)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

	if (!sqe) {
		tr_uring_submit(u);
		sqe = io_uring_get_sqe(&u->ring);
		if (!sqe)
			return NULL;
	}
	io_uring_sqe_set_data(sqe, op);
	u->pending++;
	return sqe;
}

int tr_uring_submit(struct tr_uring *u)
{
	int rc;

	if (!u->pending)
		return 0;
	rc = io_uring_submit(&u->ring);
	if (rc < 0)
		return rc;
	u->pending = 0;
	return 0;
}

int tr_uring_reap(struct tr_uring *u)
{
	struct io_uring_cqe *cqe;
	uint64_t v;
	int n = 0;

	/* Clear first: a completion arriving after this read re-arms it. */
	if (read(u->efd, &v, sizeof v) < 0 && errno != EAGAIN)
		return -errno;
	while (io_uring_peek_cqe(&u->ring, &cqe) == 0) {
		struct tr_uring_op *op = io_uring_cqe_get_data(cqe);
		struct io_uring_cqe copy = *cqe;

		/* Mark seen before the callback, which may submit and reap. */
		io_uring_cqe_seen(&u->ring, cqe);
		if (op && op->cb)
			op->cb(op, &copy);
		n++;
	}
	u->reaped += (uint64_t)n;
	tr_uring_submit(u); /* callbacks often queue the next step */
	return n;
}

int tr_uring_wait(struct tr_uring *u, int64_t timeout_ns)
{
	struct __kernel_timespec ts = {timeout_ns / 1000000000, timeout_ns % 1000000000};
	struct io_uring_cqe *cqe;
	int rc;

	tr_uring_submit(u);
	rc = io_uring_wait_cqe_timeout(&u->ring, &cqe, timeout_ns < 0 ? NULL : &ts);
	if (rc < 0 && rc != -ETIME && rc != -EINTR)
		return rc;
	return tr_uring_reap(u);
}
