/* tr_atomic.h - the named memory-ordering primitives of tickring.
 *
 * All shared-memory ordering goes through these, so each use site reads as
 * the protocol step it is, and each carries a comment naming the operation on
 * the other side that it pairs with. They are the GCC/Clang __atomic builtins,
 * which the C11 memory model and ThreadSanitizer both understand.
 */
#ifndef TR_ATOMIC_H
#define TR_ATOMIC_H

#include <stddef.h>
#include <stdint.h>

#define tr_load_acquire(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define tr_load_relaxed(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define tr_store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define tr_store_relaxed(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define tr_fetch_add(p, v) __atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST)
#define tr_fetch_sub(p, v) __atomic_fetch_sub((p), (v), __ATOMIC_SEQ_CST)
#define tr_fence_acquire() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define tr_fence_release() __atomic_thread_fence(__ATOMIC_RELEASE)
#define tr_fence_seq_cst() __atomic_thread_fence(__ATOMIC_SEQ_CST)

static inline void tr_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* Copy n bytes (a multiple of 8, 8-aligned) out of shared memory with relaxed
 * word loads. Relaxed atomics keep the racy read defined; the seqlock check
 * that follows decides whether the copy is kept. */
static inline void tr_copy_from_shared(void *dst, const void *src, size_t n)
{
	uint64_t *d = dst;
	const uint64_t *s = src;
	for (size_t i = 0; i < n / 8; i++)
		d[i] = tr_load_relaxed(&s[i]); /* ordered by the caller's acquire fence */
}

/* Copy n bytes (a multiple of 8, 8-aligned) into shared memory with relaxed
 * word stores; the caller's release store of the lock word publishes them. */
static inline void tr_copy_to_shared(void *dst, const void *src, size_t n)
{
	uint64_t *d = dst;
	const uint64_t *s = src;
	/* A record is 7 or 15 words past its lock word: with n known at the
	 * call, fully unrolled, a word costs a load and a store. */
#pragma GCC unroll 16
	for (size_t i = 0; i < n / 8; i++)
		tr_store_relaxed(&d[i], s[i]); /* published by the caller's release store */
}

#endif
