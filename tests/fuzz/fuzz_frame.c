/*  fuzz_frame - the CSV reader (lib/data/wb_frame.c)

    Input: the bytes of a file, read from memory by wb_frame_parse_csv, the
    entry %data register and the dataset loader use; then what the dataset
    code does with a frame (schema and profile, which the workspace stores
    as JSON) and what training reads from it (cells, numbers, a selection
    of rows).
*/
#include "fuzz.h"
#include <math.h>
#include "data/wb_frame.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    //  The parser takes a buffer and size, not a C string: give it exactly
    //  the bytes (in a heap block of that size, so reading past is caught)
    char *bytes = wb_malloc (size? size: 1);
    memcpy (bytes, data, size);
    wb_error_t err;
    wb_frame_t *frame = wb_frame_parse_csv (bytes, size, "fuzz.csv", &err);
    if (!frame) {
        assert (strncmp (err.text, "fuzz.csv", 8) == 0);
        free (bytes);
        return 0;
    }
    size_t rows = wb_frame_rows (frame), cols = wb_frame_cols (frame);
    assert (cols > 0);
    for (size_t col = 0; col < cols; col++) {
        const char *name = wb_frame_name (frame, col);
        assert (name);
        int found = wb_frame_find (frame, name);
        assert (found >= 0 && (size_t) found <= col);
        wb_col_type_t type = wb_frame_type (frame, col);
        const double *numbers = wb_frame_numbers (frame, col);
        assert ((type == WB_COL_NUMERIC) == (numbers != NULL));
        for (size_t row = 0; row < rows; row++) {
            const char *text = wb_frame_text (frame, col, row);
            if (numbers)
                assert ((text == NULL) == (isnan (numbers [row]) != 0));
        }
    }
    //  Every other row, as a split takes them
    size_t count = (rows + 1) / 2;
    size_t *picked = wb_malloc ((count? count: 1) * sizeof (size_t));
    for (size_t i = 0; i < count; i++)
        picked [i] = 2 * i;
    wb_frame_t *half = wb_frame_select (frame, picked, count);
    assert (wb_frame_rows (half) == count && wb_frame_cols (half) == cols);
    for (size_t col = 0; col < cols; col++)
        for (size_t i = 0; i < count; i++) {
            const char *a = wb_frame_text (frame, col, picked [i]);
            const char *b = wb_frame_text (half, col, i);
            assert ((a == NULL) == (b == NULL) && (!a || streq (a, b)));
        }
    wb_frame_destroy (&half);
    free (picked);

    //  What the workspace stores must be JSON it can write
    json_t *schema = wb_frame_schema (frame);
    json_t *profile = wb_frame_profile (frame);
    assert (json_array_size (schema) == cols && json_array_size (profile) == cols);
    char *text = json_dumps (schema, JSON_COMPACT);
    assert (text);
    free (text);
    text = json_dumps (profile, JSON_COMPACT);
    assert (text);
    free (text);
    json_decref (schema);
    json_decref (profile);
    wb_frame_destroy (&frame);
    assert (frame == NULL);
    free (bytes);
    return 0;
}
