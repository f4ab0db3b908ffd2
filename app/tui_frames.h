/*
 * tui_frames.h — the TUI's own frame time.
 *
 * A frame's time runs from the start of building it (polling the worker,
 * rebuilding the views' data, rendering the shell into a ui_frame) to the
 * end of flushing it to the terminal (term_draw), on CLOCK_MONOTONIC; the
 * wait for a key between frames is not part of it.  The most recent
 * TUI_FRAMES_RING frame times are kept in a fixed ring; nothing is
 * allocated per frame.
 *
 * With FRONTDESK_FRAME_LOG=PATH in the environment the times also go to
 * PATH (appended; created 0600), one line a frame:
 *     frame N MS busy|idle CPU_MS
 * busy: a reply was streaming; CPU_MS: the UI thread's own CPU time in the
 * frame (CLOCK_THREAD_CPUTIME_ID), which tells work from waiting for a core
 * on a busy machine;
 * and, at exit, one summary line over the ring:
 *     # frames COUNT p50 MS p99 MS max MS
 * Percentiles are nearest-rank: the k-th smallest of n, k = ceil(p * n).
 */
#ifndef FRONTDESK_TUI_FRAMES_H
#define FRONTDESK_TUI_FRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum { TUI_FRAMES_RING = 4096 };

typedef struct {
    float ms[TUI_FRAMES_RING]; /* ring: frame i is at ms[i % TUI_FRAMES_RING] */
    uint64_t n;                /* frames measured since tui_frames_open        */
    double start;              /* seconds (monotonic) when this frame began     */
    double cpu_start;          /* the thread's CPU seconds then (with a log)    */
    FILE *log;                 /* FRONTDESK_FRAME_LOG, or NULL                  */
} tui_frames;

typedef struct {
    size_t count; /* frames in the ring (at most TUI_FRAMES_RING) */
    double p50, p99, max;
} tui_frames_stats;

/* Start measuring; log_path (may be NULL) is the per-frame log.  Returns
 * false with a message in err when the log cannot be opened (the times
 * are still measured). */
bool tui_frames_open(tui_frames *f, const char *log_path, char *err, size_t errlen);
/* Around one frame: begin before building it, end after flushing it. */
void tui_frames_begin(tui_frames *f);
void tui_frames_end(tui_frames *f, bool busy);
/* count, p50, p99 and max of the frames in the ring (zeros when none). */
void tui_frames_stats_get(const tui_frames *f, tui_frames_stats *s);
/* Write the summary line to the log, if any, and close it (accepts a
 * zeroed struct). */
void tui_frames_close(tui_frames *f);

#endif
