/*  train_driver - trains one Workbench model from a CSV file, for
    tests/bench/bench_train.py

    Usage: train_driver --csv FILE --kind KIND [--target NAME] [--params JSON]
                        [--split FRACTION] [--seed N] [--split-out FILE]
                        [--predictions FILE] [--model-out FILE]

    Reads FILE with wb_frame_read_csv, splits it with wb_model_split_rows
    (stratified for classes; --split 0 trains on every row and evaluates on
    them too, as for kmeans), trains, evaluates on the validation rows, and
    prints one JSON object: the OpenBLAS kernels used (blas_core), rows,
    seconds of each phase (parse_s: reading
    the CSV; split_s; train_s: wb_model_train alone, which includes
    encoding the table but not parsing it; evaluate_s), steps, stop, and
    the metrics. --split-out writes the validation row indexes (one a
    line), --predictions the predicted value of each validation row (one a
    line), --model-out the model file.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include "data/wb_frame.h"
#include "train/wb_model.h"
#include "train/wb_blas.h"

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static int
s_fail (const char *what, wb_error_t *err)
{
    fprintf (stderr, "train_driver: %s: %s\n", what, err->text);
    return 1;
}

int
main (int argc, char **argv)
{
    const char *csv = NULL, *kind = NULL, *target = NULL, *params_text = NULL;
    const char *split_out = NULL, *predictions_out = NULL, *model_out = NULL;
    double fraction = 0.2;
    unsigned long long seed = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *flag = argv [i], *value = argv [i + 1];
        if      (!strcmp (flag, "--csv"))         csv = value;
        else if (!strcmp (flag, "--kind"))        kind = value;
        else if (!strcmp (flag, "--target"))      target = value;
        else if (!strcmp (flag, "--params"))      params_text = value;
        else if (!strcmp (flag, "--split"))       fraction = atof (value);
        else if (!strcmp (flag, "--seed"))        seed = strtoull (value, NULL, 10);
        else if (!strcmp (flag, "--split-out"))   split_out = value;
        else if (!strcmp (flag, "--predictions")) predictions_out = value;
        else if (!strcmp (flag, "--model-out"))   model_out = value;
        else {
            fprintf (stderr, "train_driver: unknown flag %s\n", flag);
            return 2;
        }
    }
    if (!csv || !kind) {
        fprintf (stderr, "usage: train_driver --csv FILE --kind KIND [--target NAME] ...\n");
        return 2;
    }
    wb_error_t err = { "" };
    json_t *params = NULL;
    if (params_text) {
        json_error_t jerr;
        params = json_loads (params_text, 0, &jerr);
        if (!params) {
            fprintf (stderr, "train_driver: --params: %s\n", jerr.text);
            return 2;
        }
    }
    //  OpenBLAS is loaded before the clock starts, as numpy is for
    //  scikit-learn
    const wb_blas_t *blas = wb_blas (&err);
    if (!blas)
        return s_fail ("OpenBLAS", &err);
    double t0 = s_now ();
    wb_frame_t *frame = wb_frame_read_csv (csv, &err);
    if (!frame)
        return s_fail (csv, &err);
    double t1 = s_now ();
    wb_frame_t *train = frame, *valid = frame;
    size_t *train_rows = NULL, *valid_rows = NULL, train_count = 0, valid_count = 0;
    if (fraction > 0) {
        if (wb_model_split_rows (frame, target, fraction, seed, &train_rows, &train_count,
                                 &valid_rows, &valid_count, &err))
            return s_fail ("split", &err);
        train = wb_frame_select (frame, train_rows, train_count);
        valid = wb_frame_select (frame, valid_rows, valid_count);
    }
    double t2 = s_now ();
    //  the validation rows are for evaluation afterwards, as for
    //  scikit-learn: none during training
    wb_model_t *model = wb_model_train (train, NULL, target, kind, params, NULL, NULL, &err);
    if (!model)
        return s_fail ("train", &err);
    double t3 = s_now ();
    json_t *metrics = wb_model_evaluate (model, valid, NULL, &err);
    if (!metrics)
        return s_fail ("evaluate", &err);
    double t4 = s_now ();

    if (split_out) {
        FILE *file = fopen (split_out, "w");
        for (size_t i = 0; i < valid_count; i++)
            fprintf (file, "%zu\n", valid_rows [i]);
        fclose (file);
    }
    if (predictions_out) {
        double *values = NULL;
        if (wb_model_predict (model, valid, &values, NULL, &err))
            return s_fail ("predict", &err);
        FILE *file = fopen (predictions_out, "w");
        size_t rows = wb_frame_rows (valid);
        for (size_t row = 0; row < rows; row++) {
            if (strcmp (wb_model_task (model), "classification") == 0)
                fprintf (file, "%s\n", wb_model_class (model, (size_t) values [row]));
            else
                fprintf (file, "%.17g\n", values [row]);
        }
        fclose (file);
        free (values);
    }
    if (model_out) {
        size_t size;
        char *text = wb_model_save (model, &size);
        FILE *file = fopen (model_out, "w");
        fwrite (text, 1, size, file);
        fclose (file);
        free (text);
    }
    json_t *out = json_pack ("{s:s, s:s, s:I, s:I, s:f, s:f, s:f, s:f, s:I, s:s, s:O}",
        "kind", kind, "blas_core", blas->get_corename (),
        "train_rows", (json_int_t) wb_frame_rows (train),
        "valid_rows", (json_int_t) wb_frame_rows (valid),
        "parse_s", t1 - t0, "split_s", t2 - t1, "train_s", t3 - t2, "evaluate_s", t4 - t3,
        "steps", (json_int_t) wb_model_steps (model), "stop", wb_model_stop (model),
        "metrics", metrics);
    char *text = json_dumps (out, JSON_COMPACT);
    puts (text);
    free (text);
    json_decref (out);
    json_decref (metrics);
    json_decref (params);
    wb_model_destroy (&model);
    if (train != frame)
        wb_frame_destroy (&train);
    if (valid != frame)
        wb_frame_destroy (&valid);
    wb_frame_destroy (&frame);
    free (train_rows);
    free (valid_rows);
    return 0;
}
