/*  wb_magic_serve_batch - %batch: score a dataset version with a model
    version of any flavor, as a job (lib/serve/wb_batch.h) (part of
    wb_magic_serve)
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "wb_magic_serve_int.h"
#include "wb_magic_jobs.h"
#include "serve/wb_batch.h"
#include "serve/wb_registry.h"
#include "data/wb_dataset.h"
#include "cell/wb_args.h"
#include "base/wb_util.h"

//  A whole number flag from low up (or the fallback); false after reporting
static bool
s_whole (wb_call_t *call, wb_args_t *args, const char *flag, long low, long fallback,
         long *value, wb_out_t *out)
{
    wb_error_t err;
    *value = fallback;
    if (!wb_args_has (args, flag))
        return true;
    char *name = wb_sprintf ("--%s", flag);
    bool ok = wb_args_long (wb_args_get (args, flag), name, value, &err) == 0 && *value >= low;
    free (name);
    if (!ok)
        wb_magics_usage (call, out, "--%s is a whole number from %ld, not '%s'", flag, low,
                         wb_args_get (args, flag));
    return ok;
}

int
wb_magic_batch (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    //  Its flags are the magic table's (wb_magics_table.c)
    wb_args_t *args = call->args;
    if (wb_args_npos (args) != 1)
        return wb_magics_usage (call, out, "give one model: NAME, NAME:VERSION or NAME@ALIAS");
    if (!wb_args_has (args, "data"))
        return wb_magics_usage (call, out, "say which dataset to score: --data NAME[:VERSION]");
    long cores = sysconf (_SC_NPROCESSORS_ONLN);
    long mini, parallel, threshold;
    if (!s_whole (call, args, "mini-batch", 1, WB_BATCH_MINI_BATCH, &mini, out)
    ||  !s_whole (call, args, "parallel", 1, cores > 0? cores: 1, &parallel, out)
    ||  !s_whole (call, args, "error-threshold", -1, -1, &threshold, out))
        return -1;
    if (parallel > 256)
        return wb_magics_usage (call, out, "--parallel is at most 256");
    const char *output = wb_args_get (args, "output");
    wb_store_t *store = wb_session_open (session, out);
    if (!store)
        return -1;
    wb_error_t err;
    json_t *model = wb_registry_model_get (store, wb_args_pos (args, 0), &err);
    if (!model) {
        wb_out_error (out, "ModelError", "%s", err.text);
        return -1;
    }
    const char *name = wb_magic_serve__text (json_object_get (model, "name"));
    int64_t version = json_integer_value (json_object_get (model, "version"));
    int rc = 0;
    if (streq (wb_magic_serve__text (json_object_get (model, "status")), "archived")) {
        wb_out_error (out, "ModelError", "%s:%lld is archived: score with an active version",
                      name, (long long) version);
        rc = -1;
    }
    json_t *data = rc? NULL: wb_dataset_resolve (store, wb_args_get (args, "data"), &err);
    if (rc == 0 && !data) {
        wb_out_error (out, "DataError", "%s", err.text);
        rc = -1;
    }
    if (rc == 0 && output && wb_dataset_check_name (output, &err)) {
        wb_out_error (out, "DataError", "--output: %s", err.text);
        rc = -1;
    }
    char id [9] = "";
    if (rc == 0) {
        char *model_ref = wb_sprintf ("%s:%lld", name, (long long) version);
        char *data_ref = wb_sprintf ("%s:%lld", wb_magic_serve__text (json_object_get (data, "name")),
                                     (long long) json_integer_value (json_object_get (data, "version")));
        json_t *env = wb_session_environment (session);
        wb_batch_job_t job = {
            .experiment = wb_args_get (args, "experiment"), .name = wb_args_get (args, "name"),
            .target = wb_args_get (args, "compute"), .model = model_ref, .data = data_ref,
            .mini_batch = mini, .parallel = (int) parallel, .error_threshold = threshold,
            .output = output, .env = env,
        };
        if (wb_batch_submit (store, &job, id, &err)) {
            wb_out_error (out, "JobError", "%s", err.text);
            rc = -1;
        }
        json_decref (env);
        free (data_ref);
        free (model_ref);
    }
    if (rc == 0) {
        if (wb_args_has (args, "no-wait"))
            wb_out_printf (out, "Submitted batch scoring %s: %%job wait %s, %%show %s, %%job cancel %s\n",
                           id, id, id, id);
        else
            rc = wb_magic_jobs_watch (session, id, true, out);
    }
    json_decref (data);
    json_decref (model);
    return rc;
}
