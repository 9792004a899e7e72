/* The C unit tests' one assertion: CHECK(cond, printf-style message) reports a failure and goes on; the test's
 * main returns failures != 0. */
#ifndef BRIDGE_TEST_CHECK_H
#define BRIDGE_TEST_CHECK_H

#include <stdio.h>

static int failures;

#define CHECK(cond, ...)                                                                                            \
    do {                                                                                                            \
        if (!(cond)) {                                                                                              \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                                    \
            fprintf(stderr, __VA_ARGS__);                                                                           \
            fputc('\n', stderr);                                                                                    \
            failures++;                                                                                             \
        }                                                                                                           \
    } while (0)

#endif
