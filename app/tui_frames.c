/*
 * tui_frames.c — the TUI's frame times: a fixed ring, an optional
 * per-frame log (FRONTDESK_FRAME_LOG) and a summary (see tui_frames.h).
 */
#include "app/tui_frames.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

bool tui_frames_open(tui_frames *f, const char *log_path, char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    if (!log_path || !*log_path)
        return true;
    int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0 || !(f->log = fdopen(fd, "a"))) {
        snprintf(err, errlen, "FRONTDESK_FRAME_LOG: cannot open %s: %s", log_path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return false;
    }
    setvbuf(f->log, NULL, _IOLBF, 0); /* each frame's line reaches the file at once */
    return true;
}

void tui_frames_begin(tui_frames *f)
{
    f->start = clock_s(CLOCK_MONOTONIC);
    if (f->log)
        f->cpu_start = clock_s(CLOCK_THREAD_CPUTIME_ID);
}

void tui_frames_end(tui_frames *f, bool busy)
{
    double ms = (clock_s(CLOCK_MONOTONIC) - f->start) * 1000.0;
    f->ms[f->n % TUI_FRAMES_RING] = (float)ms;
    f->n++;
    if (f->log) {
        double cpu_ms = (clock_s(CLOCK_THREAD_CPUTIME_ID) - f->cpu_start) * 1000.0;
        fprintf(f->log, "frame %llu %.3f %s %.3f\n", (unsigned long long)f->n, ms, busy ? "busy" : "idle", cpu_ms);
    }
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* the k-th smallest (k = ceil(p * n), 1-based) of the sorted v[0..n) */
static double rank(const float *v, size_t n, double p)
{
    size_t k = (size_t)ceil(p * (double)n);
    if (k < 1)
        k = 1;
    return v[k - 1];
}

void tui_frames_stats_get(const tui_frames *f, tui_frames_stats *s)
{
    memset(s, 0, sizeof *s);
    size_t n = f->n < TUI_FRAMES_RING ? (size_t)f->n : TUI_FRAMES_RING;
    if (n == 0)
        return;
    float sorted[TUI_FRAMES_RING];
    memcpy(sorted, f->ms, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, cmp_float);
    s->count = n;
    s->p50 = rank(sorted, n, 0.50);
    s->p99 = rank(sorted, n, 0.99);
    s->max = sorted[n - 1];
}

void tui_frames_close(tui_frames *f)
{
    if (!f->log)
        return;
    tui_frames_stats s;
    tui_frames_stats_get(f, &s);
    fprintf(f->log, "# frames %zu p50 %.3f p99 %.3f max %.3f\n", s.count, s.p50, s.p99, s.max);
    fclose(f->log);
    f->log = NULL;
}
