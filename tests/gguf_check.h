/*
 * gguf_check.h — what the GGUF reader's suites (test_gguf: broken files;
 * test_gguf_good: good files and the reference files cut and corrupted)
 * share: expected-message formatting, a writer's
 * image in memory, and parsing an exact-size copy that reads every byte
 * the parse claims to have found (so ASan and UBSan check them).
 */
#ifndef FRONTDESK_TESTS_GGUF_CHECK_H
#define FRONTDESK_TESTS_GGUF_CHECK_H

#include "engine/gguf.h"
#include "engine/gguf_write.h"

#include <stddef.h>
#include <stdint.h>

/* A formatted string that lives until 16 more calls (for expected messages). */
const char *gg_fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
/* Writer → malloc'ed image; frees the writer.  Fails the test on an error. */
uint8_t *gg_image(gguf_writer *w, size_t *len);
/* Parses an exact-size malloc'ed copy of buf[0, len): the reader's code;
 * on success every string, element and tensor's first and last byte read,
 * on failure the handle NULL and a message in err. */
int gg_parse_copy(const void *buf, size_t len, char *err, size_t errlen);
/* gguf_open_memory on buf itself, failing the test when it fails. */
gguf_file *gg_open_ok(const void *buf, size_t len);

#endif
