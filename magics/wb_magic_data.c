/*  wb_magic_data - the dataset magic: %data register, list and show

    A dataset is a named, versioned CSV: registering the same content again
    gives the same version, new content a new one. Showing a version draws
    its first rows and a profile of every column.
*/
#include <assert.h>
#include <stdlib.h>
#include "wb_magic_data.h"
#include "data/wb_dataset.h"
#include "render/wb_view_data.h"
#include "cell/wb_args.h"
#include "base/wb_util.h"

#define S_HEAD_ROWS  10         //  rows %data show draws unless told

int
wb_magic_data_register (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    //  Its flags and arity are the magic table's (wb_magics_table.c)
    wb_error_t err;
    wb_args_t *args = call->args;
    wb_store_t *store = wb_session_open (session, out);
    if (!store)
        return -1;
    char *path = wb_shell_path (wb_session_shell (session), wb_args_pos (args, 2));
    json_t *record = wb_dataset_register (store, wb_args_pos (args, 1), path,
                                          wb_args_get (args, "description"), &err);
    free (path);
    if (!record) {
        wb_out_error (out, "DataError", "%s", err.text);
        return -1;
    }
    bool created = json_is_true (json_object_get (record, "created"));
    wb_out_printf (out, created
        ? "Registered %s version %lld: %lld rows, %lld columns\n"
        : "%s version %lld has this content already (%lld rows, %lld columns): no new version\n",
        wb_args_pos (args, 1),
        (long long) json_integer_value (json_object_get (record, "version")),
        (long long) json_integer_value (json_object_get (record, "rows")),
        (long long) json_integer_value (json_object_get (record, "cols")));
    wb_out_display_new (out, wb_view_data_profile (record), NULL);
    json_decref (record);
    return 0;
}

int
wb_magic_data_list (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    (void) call;
    wb_error_t err;
    wb_store_t *store = wb_session_open (session, out);
    json_t *list = store? wb_dataset_list (store, &err): NULL;
    if (!list) {
        if (store)
            wb_out_error (out, "DataError", "%s", err.text);
        return -1;
    }
    wb_out_display_new (out, wb_view_datasets (list), NULL);
    json_decref (list);
    return 0;
}

int
wb_magic_data_show (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    //  Its flags and arity are the magic table's (wb_magics_table.c)
    wb_error_t err;
    wb_args_t *args = call->args;
    long rows = S_HEAD_ROWS;
    if (wb_args_has (args, "rows")
    &&  (wb_args_long (wb_args_get (args, "rows"), "--rows", &rows, &err) || rows < 0))
        return wb_magics_usage (call, out, "--rows wants a whole number >= 0, got '%s'",
                                wb_args_get (args, "rows"));
    wb_store_t *store = wb_session_open (session, out);
    if (!store)
        return -1;
    json_t *record = wb_dataset_resolve (store, wb_args_pos (args, 1), &err);
    wb_frame_t *frame = record? wb_dataset_load (store,
        json_string_value (json_object_get (record, "name")),
        json_integer_value (json_object_get (record, "version")), &err): NULL;
    int rc = 0;
    if (!frame) {
        wb_out_error (out, "DataError", "%s", err.text);
        rc = -1;
    }
    else {
        char *caption = wb_sprintf ("%s version %lld: first %ld of %zu rows",
            json_string_value (json_object_get (record, "name")),
            (long long) json_integer_value (json_object_get (record, "version")),
            rows < (long) wb_frame_rows (frame)? rows: (long) wb_frame_rows (frame),
            wb_frame_rows (frame));
        if (rows > 0)
            wb_out_display_new (out, wb_view_data_head (frame, (size_t) rows, caption), NULL);
        wb_out_display_new (out, wb_view_data_profile (record), NULL);
        free (caption);
    }
    wb_frame_destroy (&frame);
    json_decref (record);
    return rc;
}
