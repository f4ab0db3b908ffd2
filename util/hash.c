/*
 * hash.c — SHA-256 of a file, read in 1 MiB pieces (a model is hashed
 * once; the store caches the result by path, size and mtime).
 */
#include "util/hash.h"

#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int util_sha256_file(const char *path, char hex[65], char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        util_errf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        util_errf(err, errlen, "%s: SHA-256 is not available from libcrypto", path);
        EVP_MD_CTX_free(ctx);
        close(fd);
        return -1;
    }
    enum { CHUNK = 1 << 20 };
    unsigned char *buf = xmalloc(CHUNK);
    int rc = 0;
    for (;;) {
        ssize_t n = read(fd, buf, CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            util_errf(err, errlen, "%s: %s", path, strerror(errno));
            rc = -1;
            break;
        }
        if (n == 0)
            break;
        EVP_DigestUpdate(ctx, buf, (size_t)n);
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (rc == 0 && EVP_DigestFinal_ex(ctx, md, &len) == 1 && len == 32) {
        for (unsigned i = 0; i < 32; i++)
            snprintf(hex + 2 * i, 3, "%02x", md[i]);
    } else if (rc == 0) {
        util_errf(err, errlen, "%s: hashing failed", path);
        rc = -1;
    }
    free(buf);
    EVP_MD_CTX_free(ctx);
    close(fd);
    return rc;
}

/* ---- Bytes in pieces ------------------------------------------------------ */

struct util_sha256 {
    EVP_MD_CTX *ctx;
};

util_sha256 *util_sha256_begin(void)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        return NULL;
    }
    util_sha256 *h = xmalloc(sizeof *h);
    h->ctx = ctx;
    return h;
}

void util_sha256_add(util_sha256 *h, const void *p, size_t n)
{
    if (h && n)
        EVP_DigestUpdate(h->ctx, p, n);
}

void util_sha256_end(util_sha256 *h, char hex[65])
{
    hex[0] = 0;
    if (!h)
        return;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(h->ctx, md, &len) == 1 && len == 32)
        for (unsigned i = 0; i < 32; i++)
            snprintf(hex + 2 * i, 3, "%02x", md[i]);
    EVP_MD_CTX_free(h->ctx);
    free(h);
}
