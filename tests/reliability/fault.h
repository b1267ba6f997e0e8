/* Fault injection for the test-only build (-Dfault_injection=true): the
 * tests link the library's objects (hosm_internal) with
 * -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=write,--wrap=fsync,
 * so that the library's own calls (and the test's, which it does not arm
 * around) go through fault.c. BLIS and libc are shared libraries: their
 * internal calls are not affected. */
#ifndef HOSM_FAULT_H
#define HOSM_FAULT_H

#include <stdint.h>

/* Fail the k-th allocation (malloc, calloc or realloc) from now on (k >= 1);
 * 0 disarms. Counting starts at 0 on every call. */
void fault_alloc_arm(int64_t k);
/* Allocations seen since the last arm, and whether one was failed. */
int64_t fault_alloc_count(void);
int fault_alloc_failed(void);

/* Fail the k-th write() (with errno = err, e.g. ENOSPC) or the k-th fsync()
 * from now on; 0 disarms. */
void fault_write_arm(int64_t k, int err);
void fault_fsync_arm(int64_t k, int err);
int64_t fault_write_count(void);
int fault_io_failed(void);



/* With on != 0, openat() with O_TMPFILE fails with EOPNOTSUPP (a file
 * system or kernel without it), so that saves take the named fallback. */
void fault_no_tmpfile(int on);
#endif
