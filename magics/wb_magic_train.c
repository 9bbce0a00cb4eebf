/*  wb_magic_train - built-in training from a cell: %%train runs a model
    kind on a dataset version as a job, drawn live; %predict scores a
    dataset with a trained model

    Everything about a training request is checked in the kernel before
    the job is submitted (the dataset, the columns, the hyperparameters),
    so bad input costs nothing and changes nothing.
*/
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "wb_magic_train.h"
#include "wb_magic_jobs.h"
#include "data/wb_dataset.h"
#include "train/wb_model.h"
#include "jobs/wb_job.h"
#include "train/wb_train.h"
#include "render/wb_view_train.h"
#include "serve/wb_scorer.h"
#include "cell/wb_args.h"
#include "base/wb_util.h"

#define S_PREVIEW_ROWS 10       //  rows %predict draws

json_t *
wb_magic_train_request (wb_session_t *session, wb_call_t *call, bool template, wb_out_t *out)
{
    //  Its flags are the magic table's (wb_magics_table.c)
    wb_error_t err;
    wb_args_t *args = wb_args_parse (call->argc - 1, call->argv + 1, wb_magics_opts (call), &err);
    if (!args) {
        wb_magics_usage (call, out, "%s", err.text);
        return NULL;
    }
    int rc = 0;
    const char *kind = wb_args_get (args, "model");
    const char *target = wb_args_get (args, "target");
    double validation = -1;
    long seed = 0;
    json_t *params = NULL;
    if (wb_args_npos (args))
        rc = wb_magics_usage (call, out, "unexpected '%s': hyperparameters go in the body as "
                              "`name = value` lines", wb_args_pos (args, 0));
    else
    if (!wb_args_has (args, "data") || !kind)
        rc = wb_magics_usage (call, out, "give --data NAME[:VERSION] and --model "
                              "linear|logistic|mlp|kmeans");
    else
    if (!target && !streq (kind, "kmeans"))
        rc = wb_magics_usage (call, out, "give --target COLUMN (what to predict); only kmeans goes without");
    else
    if (wb_args_has (args, "validation")
    &&  (wb_args_double (wb_args_get (args, "validation"), "--validation", &validation, &err)
         || validation < 0 || validation > 0.9))
        rc = wb_magics_usage (call, out, "--validation wants a fraction from 0 to 0.9, got '%s'",
                              wb_args_get (args, "validation"));
    else
    if (wb_args_has (args, "seed")
    &&  (wb_args_long (wb_args_get (args, "seed"), "--seed", &seed, &err) || seed < 0))
        rc = wb_magics_usage (call, out, "--seed wants a whole number >= 0, got '%s'",
                              wb_args_get (args, "seed"));
    else
    if (!(params = template? json_object (): wb_train_body_params (call->body? call->body: "", &err)))
        rc = wb_magics_usage (call, out, "%s", err.text);
    for (size_t i = 0; rc == 0 && i < wb_args_count (args, "param"); i++) {
        const char *value;
        char *key = wb_args_kv (wb_args_nth (args, "param", i), &value);
        if (!key)
            rc = wb_magics_usage (call, out, "--param wants NAME=VALUE, got '%s'", wb_args_nth (args, "param", i));
        else
        if (json_object_get (params, key))
            rc = wb_magics_usage (call, out, "hyperparameter '%s' is given twice", key);
        else
            json_object_set_new (params, key, json_string (value));
        free (key);
    }
    wb_store_t *store = rc == 0? wb_session_open (session, out): NULL;
    if (rc == 0 && !store)
        rc = -1;
    json_t *record = rc == 0? wb_dataset_resolve (store, wb_args_get (args, "data"), &err): NULL;
    if (rc == 0 && !record) {
        wb_out_error (out, "DataError", "%s", err.text);
        rc = -1;
    }
    json_t *request = NULL;
    if (rc == 0) {
        char *data_ref = wb_sprintf ("%s:%lld", json_string_value (json_object_get (record, "name")),
                                     (long long) json_integer_value (json_object_get (record, "version")));
        request = json_pack ("{s:s, s:s, s:s?, s:s, s:f, s:I, s:O, s:s, s:s, s:s?, s:b}",
            "kind", "train", "data", data_ref, "target", target, "model", kind,
            "validation", validation, "seed", (json_int_t) seed, "params", params,
            "body", call->body? call->body: "",
            "experiment", wb_args_has (args, "experiment")? wb_args_get (args, "experiment")
                                                          : wb_session_experiment (session),
            "name", wb_args_get (args, "name"), "no_wait", wb_args_has (args, "no-wait"));
        free (data_ref);
    }
    json_decref (record);
    json_decref (params);
    wb_args_destroy (&args);
    return request;
}

int
wb_magic_train (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    json_t *request = wb_magic_train_request (session, call, false, out);
    if (!request)
        return -1;
    //  Check everything before anything is submitted
    wb_error_t err;
    wb_store_t *store = wb_session_open (session, out);
    const char *data = json_string_value (json_object_get (request, "data"));
    const char *target = json_string_value (json_object_get (request, "target"));
    const char *kind = json_string_value (json_object_get (request, "model"));
    json_t *params = json_object_get (request, "params");
    json_t *record = wb_dataset_resolve (store, data, &err);
    wb_frame_t *frame = record? wb_dataset_load (store, json_string_value (json_object_get (record, "name")),
                                                 json_integer_value (json_object_get (record, "version")), &err): NULL;
    json_decref (record);
    int rc = 0;
    if (!frame) {
        wb_out_error (out, "DataError", "%s", err.text);
        rc = -1;
    }
    if (rc == 0 && wb_model_check (frame, NULL, target, kind, params, &err)) {
        wb_out_error (out, "TrainError", "%s", err.text);
        rc = -1;
    }
    wb_frame_destroy (&frame);
    char id [9] = "";
    if (rc == 0) {
        json_t *env = wb_session_environment (session);
        wb_train_job_t job = {
            json_string_value (json_object_get (request, "experiment")),
            json_string_value (json_object_get (request, "name")), "train", NULL, data, target, kind,
            params, json_number_value (json_object_get (request, "validation")),
            (long) json_integer_value (json_object_get (request, "seed")), env, 0
        };
        if (wb_train_submit (store, &job, id, &err)) {
            wb_out_error (out, "TrainError", "%s", err.text);
            rc = -1;
        }
        json_decref (env);
    }
    if (rc == 0) {
        if (json_is_true (json_object_get (request, "no_wait")))
            wb_out_printf (out, "Submitted training %s: %%job wait %s, %%show %s, %%job cancel %s\n",
                           id, id, id, id);
        else
            rc = wb_magic_jobs_watch (session, id, true, out);
    }
    json_decref (request);
    return rc;
}

//  ---- %predict ----

char *
wb_magic_train_model_file (wb_session_t *session, const char *ref, size_t *size,
                        char **run_id_p, wb_out_t *out)
{
    wb_store_t *store = wb_session_open (session, out);
    if (!store)
        return NULL;
    wb_error_t err;
    char *id = wb_store_run_resolve (store, ref, &err);
    json_t *run = id? wb_store_run_get (store, id, &err): NULL;
    if (!run) {
        wb_out_error (out, "ModelError", "%s", err.text);
        free (id);
        return NULL;
    }
    char *data = wb_store_artifact_read (store, run, "outputs/model.json", size);
    if (!data)
        wb_out_error (out, "ModelError", "run %s has no model (outputs/model.json): train one with "
                      "%%%%train, or name a run that did", id);
    json_decref (run);
    if (data && run_id_p)
        *run_id_p = id;
    else
        free (id);
    return data;
}

static int
s_write_predictions (const char *path, wb_frame_t *frame, wb_model_t *model,
                     const double *values, const double *proba, wb_error_t *err)
{
    FILE *file = fopen (path, "w");
    if (!file)
        return wb_error_set (err, "cannot write '%s': %s", path, strerror (errno));
    size_t classes = wb_model_classes (model);
    bool classify = streq (wb_model_task (model), "classification");
    //  The input columns, then the prediction (and class probabilities)
    for (size_t col = 0; col < wb_frame_cols (frame); col++)
        fprintf (file, "%s\"%s\"", col? ",": "", wb_frame_name (frame, col));
    fprintf (file, ",prediction");
    for (size_t c = 0; proba && c < classes; c++)
        fprintf (file, ",\"probability_%s\"", wb_model_class (model, c));
    fprintf (file, "\n");
    for (size_t row = 0; row < wb_frame_rows (frame); row++) {
        for (size_t col = 0; col < wb_frame_cols (frame); col++) {
            const char *text = wb_frame_text (frame, col, row);
            fputs (col? ",": "", file);
            if (text) {
                fputc ('"', file);
                for (const char *c = text; *c; c++) {
                    if (*c == '"')
                        fputc ('"', file);
                    fputc (*c, file);
                }
                fputc ('"', file);
            }
        }
        if (classify)
            fprintf (file, ",\"%s\"", wb_model_class (model, (size_t) values [row]));
        else
            fprintf (file, ",%.17g", values [row]);
        for (size_t c = 0; proba && c < classes; c++)
            fprintf (file, ",%.6g", proba [row * classes + c]);
        fprintf (file, "\n");
    }
    return fclose (file)? wb_error_set (err, "cannot write '%s': %s", path, strerror (errno)): 0;
}

int
wb_magic_predict (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    //  Its flags are the magic table's (wb_magics_table.c)
    wb_error_t err;
    wb_args_t *args = call->args;
    if (wb_args_npos (args) != 1 || !wb_args_has (args, "data")) {
        return wb_magics_usage (call, out, "give a run (or model) and --data NAME[:VERSION]");
    }
    size_t size;
    char *run_id = NULL;
    char *data = wb_magic_train_model_file (session, wb_args_pos (args, 0), &size, &run_id, out);
    //  The model for what it is (its classes, its metrics); the scorer for
    //  the predictions, with the server's plain loops: the kernel never
    //  loads OpenBLAS
    wb_model_t *model = data? wb_model_load (data, size, &err): NULL;
    wb_scorer_t *scorer = model? wb_scorer_new (data, size, &err): NULL;
    int rc = scorer? 0: -1;
    if (data && !scorer)
        wb_out_error (out, "ModelError", "%s", err.text);
    free (data);
    wb_store_t *store = wb_session_store (session);
    json_t *record = rc == 0? wb_dataset_resolve (store, wb_args_get (args, "data"), &err): NULL;
    wb_frame_t *frame = record? wb_dataset_load (store, json_string_value (json_object_get (record, "name")),
                                                 json_integer_value (json_object_get (record, "version")), &err): NULL;
    if (rc == 0 && !frame) {
        wb_out_error (out, "DataError", "%s", err.text);
        rc = -1;
    }
    double *values = NULL, *proba = NULL, *distances = NULL;
    if (rc == 0 && wb_scorer_frame (scorer, frame, &values, &proba, &distances, &err)) {
        wb_out_error (out, "ModelError", "%s", err.text);
        rc = -1;
    }
    if (rc == 0) {
        const char *target = wb_model_target (model);
        int truth = target? wb_frame_find (frame, target): -1;
        size_t nclasses = wb_model_classes (model);
        const char **classes = wb_calloc (nclasses + 1, sizeof (char *));
        for (size_t c = 0; c < nclasses; c++)
            classes [c] = wb_model_class (model, c);
        char *caption = wb_sprintf ("Predictions of run %s (%s) for %s:%lld, first %d of %zu rows",
            run_id, wb_model_kind (model), json_string_value (json_object_get (record, "name")),
            (long long) json_integer_value (json_object_get (record, "version")),
            (int) (wb_frame_rows (frame) < S_PREVIEW_ROWS? wb_frame_rows (frame): S_PREVIEW_ROWS),
            wb_frame_rows (frame));
        wb_view_scores_t scores = { frame, truth >= 0? target: NULL, wb_model_task (model),
                                    values, proba, classes, nclasses };
        wb_out_display_new (out, wb_view_predictions (&scores, caption, S_PREVIEW_ROWS), NULL);
        free (caption);
        free (classes);
        //  Metrics when the truth is there
        if (truth >= 0 || streq (wb_model_task (model), "clustering")) {
            json_t *metrics = wb_model_evaluate_scores (model, frame, NULL, values, proba,
                                                        distances, &err);
            if (!metrics) {
                wb_out_error (out, "ModelError", "%s", err.text);
                rc = -1;
            }
            else {
                wb_out_display_new (out, wb_view_metrics (metrics), NULL);
                json_t *bundle = wb_view_confusion (json_object_get (metrics, "confusion_matrix"),
                                                    "Confusion matrix");
                if (bundle)
                    wb_out_display_new (out, bundle, NULL);
                json_decref (metrics);
            }
        }
        if (rc == 0 && wb_args_has (args, "output")) {
            char *path = wb_shell_path (wb_session_shell (session), wb_args_get (args, "output"));
            if (s_write_predictions (path, frame, model, values, proba, &err)) {
                wb_out_error (out, "OSError", "%s", err.text);
                rc = -1;
            }
            else
                wb_out_printf (out, "Wrote %zu predictions to %s\n", wb_frame_rows (frame),
                               wb_args_get (args, "output"));
            free (path);
        }
    }
    free (values);
    free (proba);
    free (distances);
    wb_frame_destroy (&frame);
    json_decref (record);
    wb_scorer_destroy (&scorer);
    wb_model_destroy (&model);
    free (run_id);
    return rc;
}
