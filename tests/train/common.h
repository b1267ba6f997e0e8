/* Helpers of the train-suite tests beyond tests/test_util.h: shortening the
 * accuracy tests under valgrind. */
#ifndef TRAIN_COMMON_H
#define TRAIN_COMMON_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hosm.h"

/* Under valgrind (memcheck runs these programs ~500 times slower) the
 * accuracy tests shorten their training: the memory checks see the same code
 * paths, and the accuracy bounds, which need the full training, are checked
 * by the normal run only. */
#ifdef HAVE_VALGRIND_H
#include <valgrind/valgrind.h>
#define UNDER_VALGRIND() (RUNNING_ON_VALGRIND != 0)
#else
#define UNDER_VALGRIND() 0
#endif

#include "../test_util.h"

/* check_le, or, when skip is set, only a report of the measured value. */
static inline void check_le_unless(int skip, const char *what, double measured, double bound)
{
    if (!skip) {
        check_le(what, measured, bound);
        return;
    }
    printf("skip %-58s measured %.4g  (bound %.4g needs the full training; not under "
           "valgrind)\n",
           what, measured, bound);
}

#endif
