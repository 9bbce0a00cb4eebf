/*  wb_parcoords - a parallel-coordinates chart: one vertical axis per
    parameter and a last one for the metric, one line per trial, coloured
    by the metric (the better, the darker), so that which values of which
    parameters lead where shows at a glance

    Numeric axes run from their smallest to their largest value (log scale
    on request); categorical axes spread their categories evenly, in the
    order given. Emitted as SVG, as Vega-Lite (the same normalised
    positions, for JupyterLab and VS Code) and as a text table.
*/
#ifndef WB_PARCOORDS_H
#define WB_PARCOORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

typedef struct _wb_parcoords_t wb_parcoords_t;

//  title may be NULL; metric names the last axis; maximize says which end
//  of the metric is good (drawn darker).
wb_parcoords_t *
    wb_parcoords_new (const char *title, const char *metric, bool maximize);
void
    wb_parcoords_destroy (wb_parcoords_t **self_p);

//  Add a parameter axis (before any line). log: numbers on a log scale.
void
    wb_parcoords_axis (wb_parcoords_t *self, const char *name, bool log);

//  Add one line: params {axis name: number or text} and the metric value.
//  Text values make their axis categorical (categories in order of first
//  appearance); a line missing an axis's value is drawn up to the gap.
void
    wb_parcoords_line (wb_parcoords_t *self, const char *label, json_t *params,
                       double metric);

//  Lines so far.
size_t
    wb_parcoords_lines (wb_parcoords_t *self);

//  The chart as a new bundle {"text/plain", "image/svg+xml",
//  "application/vnd.vegalite.v5+json"}; NULL when there are no lines.
json_t *
    wb_parcoords_bundle (wb_parcoords_t *self);
//  The SVG alone (caller frees); NULL when there are no lines.
char *
    wb_parcoords_svg (wb_parcoords_t *self);

void
    wb_parcoords_test (bool verbose);

#endif
