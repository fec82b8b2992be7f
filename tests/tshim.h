/* tshim.h - the few Criterion macros the ring suites use, for builds where
 * Criterion cannot run: Criterion aborts at start under ThreadSanitizer
 * (its inheritable arena collides with TSan's shadow memory, Criterion issue
 * #274). Tests compiled with -DTR_TSHIM register here instead, run in one
 * process, and the runner prints "N passed, N failed". */
#ifndef TSHIM_H
#define TSHIM_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tshim_test {
	const char *suite, *name;
	void (*fn)(void);
};

void tshim_register(const char *suite, const char *name, void (*fn)(void));
void tshim_fail(const char *file, int line, const char *what, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 4, 5)));

#define Test(suite, name, ...)                                                              \
	static void suite##_##name(void);                                                   \
	__attribute__((constructor)) static void suite##_##name##_reg(void)                \
	{                                                                                   \
		tshim_register(#suite, #name, suite##_##name);                              \
	}                                                                                   \
	static void suite##_##name(void)

/* "" __VA_ARGS__ turns an optional literal format into a (possibly empty) one. */
#define cr_assert(c, ...)                                                                   \
	do {                                                                                \
		if (!(c))                                                                   \
			tshim_fail(__FILE__, __LINE__, #c, "" __VA_ARGS__);                 \
	} while (0)
#define cr_assert_eq(a, b, ...) cr_assert((a) == (b), __VA_ARGS__)
#define cr_assert_neq(a, b, ...) cr_assert((a) != (b), __VA_ARGS__)
#define cr_assert_gt(a, b, ...) cr_assert((a) > (b), __VA_ARGS__)
#define cr_assert_geq(a, b, ...) cr_assert((a) >= (b), __VA_ARGS__)
#define cr_assert_lt(a, b, ...) cr_assert((a) < (b), __VA_ARGS__)
#define cr_assert_leq(a, b, ...) cr_assert((a) <= (b), __VA_ARGS__)
#define cr_assert_null(p, ...) cr_assert((p) == NULL, __VA_ARGS__)
#define cr_assert_not_null(p, ...) cr_assert((p) != NULL, __VA_ARGS__)
#define cr_assert_str_eq(a, b, ...) cr_assert(strcmp((a), (b)) == 0, __VA_ARGS__)
#define cr_assert_fail(...) tshim_fail(__FILE__, __LINE__, "fail", "" __VA_ARGS__)

#endif
