/*
 * hash.h — SHA-256 of a file (through OpenSSL's libcrypto), the identity
 * of a model version in the store.
 */
#ifndef FRONTDESK_HASH_H
#define FRONTDESK_HASH_H

#include <stddef.h>

/* Hash the file at path into hex (64 lowercase hex digits + NUL).
 * Returns 0, or -1 with a message naming the file. */
int util_sha256_file(const char *path, char hex[65], char *err, size_t errlen);

#endif
