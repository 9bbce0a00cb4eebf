/*  wb_view - what the views share: a time and a duration as short text

    The views (wb_view_data, wb_view_jobs, wb_view_train, wb_view_sweep)
    draw workspace records with the renderer's tables and charts; the
    magics that list runs, jobs and sweeps write times the same way.
*/
#ifndef WB_VIEW_H
#define WB_VIEW_H

#include <stdbool.h>
#include <stddef.h>

//  A time as local "2026-11-22 08:10:03" into buf; nothing (an empty
//  string) for no time (NaN, 0: a run that has not started or ended yet),
//  never the epoch.
void
    wb_view_when (double time, char *buf, size_t size);
//  A duration as "1.2 s", "3 min 04 s" or "2 h 05 min" into buf; nothing
//  for a negative or NaN one.
void
    wb_view_duration (double seconds, char *buf, size_t size);

void
    wb_view_test (bool verbose);

#endif
