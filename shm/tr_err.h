/* tr_err.h - error codes and the per-thread error message of libtickring.
 *
 * Functions return 0 (or a count) on success and a negative errno or TR_E*
 * code on failure; the message that says why, with context added at each
 * level ("open /dev/shm/tickring.x: layout hash ..."), is in tr_errmsg().
 */
#ifndef TR_ERR_H
#define TR_ERR_H

/* Codes beyond errno's range, returned negated. */
enum {
	TR_EBADMAGIC = 2001, /* not a tickring region */
	TR_EVERSION = 2002,  /* ABI version differs */
	TR_ELAYOUT = 2003,   /* layout hash or geometry differs */
	TR_ETRUNC = 2004,    /* file shorter than its superblock says */
	TR_EDEAD = 2005,     /* engine process is gone */
	TR_ESTALE = 2006,    /* engine heartbeat is too old */
	TR_ESTOPPED = 2007,  /* engine detached cleanly */
	TR_EINIT = 2008	     /* region still being created */
};

/* The message of the last failure on this thread; "" if none. */
const char *tr_errmsg(void);

/* Set the message (printf format) and return -code, for `return tr_err(...)`. */
int tr_err(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefix context to the current message ("ctx: old message"); returns -code. */
int tr_err_ctx(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A short name for a code, errno or TR_E*. */
const char *tr_strerror(int code);

#endif
