/* Whole-file helpers. */
#ifndef HOSM_FILE_H
#define HOSM_FILE_H

#include "io/container.h"

/* Encodes obj (see hosmi_encode) and writes it to path atomically; fname
 * names the public function in messages. */
int hosmi_save(const char *fname, const char *magic, hosmi_encode_fn fn, const void *obj,
               const char *path);

/* Whole-file helpers: atomic write (temporary, fsync, rename) and read. */
int hosmi_write_file(const char *path, const void *buf, int64_t size, char *msg);
int hosmi_read_file(const char *path, void **buf, int64_t *size, char *msg);

#endif
