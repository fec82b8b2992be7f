/* tr_uring.h - the engine's io_uring, woken through an eventfd.
 *
 * One io_uring serves the journal, the capture writer, the replay reader
 * and the gateway. Its completions are announced on an eventfd that the
 * libwebsockets loop adopts as a raw descriptor, so a single engine thread
 * runs WebSockets and io_uring both: when the eventfd is readable, the loop
 * calls tr_uring_reap(), which runs each completion's callback.
 *
 * Each submission carries a caller-owned struct tr_uring_op (callback and
 * context) as its user_data; it must stay valid until its last completion
 * (multishot operations complete many times, with IORING_CQE_F_MORE set on
 * all but the last). Single-threaded: all calls on the engine thread.
 */
#ifndef TR_URING_H
#define TR_URING_H

#include <liburing.h>
#include <stdint.h>

struct tr_uring_op;
typedef void (*tr_uring_cb)(struct tr_uring_op *op, const struct io_uring_cqe *cqe);

struct tr_uring_op {
	tr_uring_cb cb;
	void *ctx;
};

struct tr_uring {
	struct io_uring ring;
	int efd;	  /* eventfd registered for completions */
	unsigned pending; /* sqes prepared but not yet submitted */
	uint64_t reaped;  /* completions handled, for stats */
};

/* Set up a ring of `entries` submissions and its eventfd. 0 or -errno. */
int tr_uring_init(struct tr_uring *u, unsigned entries);
void tr_uring_exit(struct tr_uring *u);

/* A submission slot with user_data = op, or NULL when the submission queue
 * is full even after submitting what is queued (then reap and retry). */
struct io_uring_sqe *tr_uring_sqe(struct tr_uring *u, struct tr_uring_op *op);

/* Submit what is queued; cheap when nothing is. 0 or -errno. */
int tr_uring_submit(struct tr_uring *u);

/* Clear the eventfd and run the callback of every completion available
 * now. Returns the number handled. Never blocks. */
int tr_uring_reap(struct tr_uring *u);

/* Block up to timeout_ns for at least one completion, then reap. For tools
 * and tests without an event loop; the engine never calls it. */
int tr_uring_wait(struct tr_uring *u, int64_t timeout_ns);

#endif
