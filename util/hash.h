/*
 * hash.h — SHA-256 of a file (through OpenSSL's libcrypto), the identity
 * of a model version in the store; and of any bytes fed piece by piece
 * (the checksums `frontdesk migrate` verifies a copy by).
 */
#ifndef FRONTDESK_HASH_H
#define FRONTDESK_HASH_H

#include <stddef.h>

/* Hash the file at path into hex (64 lowercase hex digits + NUL).
 * Returns 0, or -1 with a message naming the file. */
int util_sha256_file(const char *path, char hex[65], char *err, size_t errlen);

/* SHA-256 of bytes given in pieces: begin, add any number of times, end
 * (which writes the hex digest and frees the state).  begin returns NULL
 * only when libcrypto has no SHA-256; end accepts NULL and then writes "". */
typedef struct util_sha256 util_sha256;
util_sha256 *util_sha256_begin(void);
void util_sha256_add(util_sha256 *h, const void *p, size_t n);
void util_sha256_end(util_sha256 *h, char hex[65]);

#endif
