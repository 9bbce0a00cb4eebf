/*  wb_view_data - the views of datasets: the list of datasets, a version's
    first rows and its profile, as MIME bundles (text/plain and text/html,
    a histogram per numeric column as inline SVG)
*/
#ifndef WB_VIEW_DATA_H
#define WB_VIEW_DATA_H

#include <stdbool.h>
#include <jansson.h>
#include "data/wb_frame.h"

//  A table of datasets, from wb_dataset_list.
json_t *
    wb_view_datasets (json_t *list);
//  The first rows (at most rows) of frame as a table, with a caption (may
//  be NULL). Wide frames show their first and last columns.
json_t *
    wb_view_data_head (wb_frame_t *frame, size_t rows, const char *caption);
//  The profile of a version (a record from wb_dataset_resolve or
//  wb_dataset_register): a row per column with type, missing, distinct,
//  min, max, mean, std or the top values, and a small histogram for each
//  numeric column (inline SVG in the HTML, a sparkline in the text).
json_t *
    wb_view_data_profile (json_t *record);

void
    wb_view_data_test (bool verbose);

#endif
