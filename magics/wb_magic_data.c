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
wb_magic_data (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    //  Its flags are the magic table's (wb_magics_table.c)
    wb_error_t err;
    wb_args_t *args = call->args;
    const char *verb = wb_args_npos (args)? wb_args_pos (args, 0): "";
    size_t npos = wb_args_npos (args);
    int rc = 0;
    long rows = S_HEAD_ROWS;
    if (!streq (verb, "register") && !streq (verb, "list") && !streq (verb, "show"))
        rc = wb_magics_usage (call, out, "say register, list or show");
    else
    if (streq (verb, "register") && npos != 3)
        rc = wb_magics_usage (call, out, "%%data register takes a NAME and a PATH");
    else
    if (streq (verb, "list") && npos != 1)
        rc = wb_magics_usage (call, out, "%%data list takes no other word");
    else
    if (streq (verb, "show") && npos != 2)
        rc = wb_magics_usage (call, out, "%%data show takes one NAME[:VERSION]");
    else
    if (wb_args_has (args, "description") && !streq (verb, "register"))
        rc = wb_magics_usage (call, out, "--description goes with %%data register");
    else
    if (wb_args_has (args, "rows")
    &&  (wb_args_long (wb_args_get (args, "rows"), "--rows", &rows, &err) || rows < 0))
        rc = wb_magics_usage (call, out, "--rows wants a whole number >= 0, got '%s'",
                              wb_args_get (args, "rows"));
    wb_store_t *store = rc == 0? wb_session_open (session, out): NULL;
    if (rc == 0 && !store)
        rc = -1;
    if (rc == 0 && streq (verb, "register")) {
        char *path = wb_shell_path (wb_session_shell (session), wb_args_pos (args, 2));
        json_t *record = wb_dataset_register (store, wb_args_pos (args, 1), path,
                                              wb_args_get (args, "description"), &err);
        if (!record) {
            wb_out_error (out, "DataError", "%s", err.text);
            rc = -1;
        }
        else {
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
        }
        free (path);
    }
    else
    if (rc == 0 && streq (verb, "list")) {
        json_t *list = wb_dataset_list (store, &err);
        if (!list) {
            wb_out_error (out, "DataError", "%s", err.text);
            rc = -1;
        }
        else
            wb_out_display_new (out, wb_view_datasets (list), NULL);
        json_decref (list);
    }
    else
    if (rc == 0) {
        json_t *record = wb_dataset_resolve (store, wb_args_pos (args, 1), &err);
        wb_frame_t *frame = record? wb_dataset_load (store,
            json_string_value (json_object_get (record, "name")),
            json_integer_value (json_object_get (record, "version")), &err): NULL;
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
    }
    return rc;
}
