/* agent-test.h: the guest agent's tests are plain C (the agent has no GLib). A failed
 * CHECK reports and counts; main() returns non-zero if any failed. */
#pragma once

#include <stdio.h>
#include <string.h>

static int agent_test_failures;

#define CHECK(cond)                                                                     \
  do {                                                                                  \
    if (!(cond))                                                                        \
      {                                                                                 \
        fprintf (stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);       \
        agent_test_failures++;                                                          \
      }                                                                                 \
  } while (0)

#define CHECK_STR(a, b)                                                                 \
  do {                                                                                  \
    const char *a_ = (a), *b_ = (b);                                                    \
    if (!a_ || !b_ || strcmp (a_, b_) != 0)                                             \
      {                                                                                 \
        fprintf (stderr, "%s:%d: CHECK_STR failed: \"%s\" != \"%s\"\n", __FILE__,       \
                 __LINE__, a_ ? a_ : "(null)", b_ ? b_ : "(null)");                     \
        agent_test_failures++;                                                          \
      }                                                                                 \
  } while (0)

#define RUN(test)                                                                       \
  do {                                                                                  \
    int before_ = agent_test_failures;                                                  \
    test ();                                                                            \
    printf ("%s %s\n", agent_test_failures == before_ ? "ok" : "FAIL", #test);          \
  } while (0)

#define TEST_RESULT() (agent_test_failures ? 1 : 0)
