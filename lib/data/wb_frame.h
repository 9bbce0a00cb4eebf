/*  wb_frame - a table read from CSV: named columns, each numeric,
    categorical or text, with missing values

    Numeric columns are doubles (NaN for missing); categorical and text
    columns keep their strings (NULL for missing). Types are inferred from
    the data. Knows nothing of the workspace.
*/
#ifndef WB_FRAME_H
#define WB_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "base/wb_error.h"

typedef enum {
    WB_COL_NUMERIC,             //  every present value is a number
    WB_COL_CATEGORICAL,         //  few distinct values (labels, classes)
    WB_COL_TEXT                 //  free text (many distinct values)
} wb_col_type_t;

typedef struct _wb_frame_t wb_frame_t;

//  Parse CSV text (RFC 4180: quoted fields with "" escapes and newlines,
//  CRLF or LF, an optional UTF-8 BOM, a header row). Missing values: empty,
//  NA, N/A, NaN, null, None, ?. origin names the input in errors, which give
//  the line and column and what was expected ("iris.csv: line 7, column 12:
//  expected 5 fields as in the header, found 6"). NULL with err filled.
wb_frame_t *
    wb_frame_parse_csv (const char *data, size_t size, const char *origin, wb_error_t *err);
//  The same from a file (read with wb_fs_read: a FIFO, a folder or a
//  device is refused at once).
wb_frame_t *
    wb_frame_read_csv (const char *path, wb_error_t *err);
void
    wb_frame_destroy (wb_frame_t **self_p);

size_t
    wb_frame_rows (wb_frame_t *self);
size_t
    wb_frame_cols (wb_frame_t *self);
//  Column name (lent), type, index by name (-1 if none).
const char *
    wb_frame_name (wb_frame_t *self, size_t col);
wb_col_type_t
    wb_frame_type (wb_frame_t *self, size_t col);
int
    wb_frame_find (wb_frame_t *self, const char *name);
//  A numeric column's values (lent; NaN = missing), NULL for other types.
const double *
    wb_frame_numbers (wb_frame_t *self, size_t col);
//  A cell as text (lent; NULL = missing), any type.
const char *
    wb_frame_text (wb_frame_t *self, size_t col, size_t row);
//  A new frame of the given rows (indexes into self), same columns/types.
wb_frame_t *
    wb_frame_select (wb_frame_t *self, const size_t *rows, size_t count);
//  "numeric", "categorical" or "text".
const char *
    wb_col_type_name (wb_col_type_t type);

//  The schema: [{"name", "type"}] (caller owns).
json_t *
    wb_frame_schema (wb_frame_t *self);
//  A profile per column (caller owns): [{"name", "type", "missing",
//  "distinct", and for numeric "min", "max", "mean", "std", "histogram":
//  {"edges": [...], "counts": [...]}, else "top": [[value, count], ...]}].
json_t *
    wb_frame_profile (wb_frame_t *self);

void
    wb_frame_test (bool verbose);

#endif
