/*  wb_model_check - checking a training request before any work: the
    kind, the target and its classes, the feature columns and their
    values, the validation table; each error says which and what to do
    (part of wb_model; see wb_model_int.h)
*/
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "wb_model_int.h"

#define S_FEW_CLASSES   20      //  a numeric target with at most this many
                                //  distinct whole numbers looks like classes

//  ---- Checking a training request ----

//  A column's type as a phrase for messages
static const char *
s_type_phrase (wb_col_type_t type)
{
    return type == WB_COL_NUMERIC? "numeric": type == WB_COL_CATEGORICAL? "categorical": "free text";
}

//  "a, b, c" (the first few column names of frame), into text
static void
s_columns_text (wb_frame_t *frame, char *text, size_t size)
{
    text [0] = 0;
    size_t cols = wb_frame_cols (frame);
    for (size_t col = 0; col < cols; col++) {
        size_t used = strlen (text);
        if (col == 8) {
            snprintf (text + used, size - used, " and %zu more", cols - col);
            break;
        }
        snprintf (text + used, size - used, "%s%s", col? ", ": "", wb_frame_name (frame, col));
    }
}

int
wb_model__unknown_column (wb_frame_t *frame, const char *name, const char *table, wb_error_t *err)
{
    char columns [512];
    s_columns_text (frame, columns, sizeof (columns));
    return wb_error_set (err, "unknown column '%s' in %s: its columns are %s", name,
                         table, columns);
}

//  Is text an infinity ("inf", "-Infinity", ...)?
static bool
s_is_infinity (const char *text)
{
    if (*text == '+' || *text == '-')
        text++;
    return strcasecmp (text, "inf") == 0 || strcasecmp (text, "infinity") == 0;
}

//  Does text read as a finite number?
bool
wb_model__is_number (const char *text)
{
    char *end;
    double value = strtod (text, &end);
    while (*end == ' ')
        end++;
    return end != text && !*end && isfinite (value);
}

//  Are the values of a feature column usable? Numeric ones must all be
//  present; a column of strings must not hold infinities, nor be numbers
//  but for a few stray words. 0 or -1.
static int
s_check_column (wb_frame_t *frame, size_t col, const char *table, wb_error_t *err)
{
    const char *name = wb_frame_name (frame, col);
    size_t rows = wb_frame_rows (frame);
    const double *numbers = wb_frame_numbers (frame, col);
    if (numbers) {
        size_t missing = 0, first = 0;
        for (size_t row = 0; row < rows; row++)
            if (!isfinite (numbers [row]) && missing++ == 0)
                first = row;
        if (missing)
            return wb_error_set (err, "column '%s' in %s has %zu missing value%s (the first "
                                 "at row %zu): fill or drop them before training, or leave "
                                 "the column out with features=...", name, table, missing,
                                 missing == 1? "": "s", first + 1);
        return 0;
    }
    size_t present = 0, numeric = 0, first_word = 0;
    const char *word = NULL;
    for (size_t row = 0; row < rows; row++) {
        const char *text = wb_frame_text (frame, col, row);
        if (!text)
            continue;
        present++;
        if (s_is_infinity (text))
            return wb_error_set (err, "column '%s' in %s has an infinite value ('%s') at "
                                 "row %zu: replace it with a finite number or drop the row",
                                 name, table, text, row + 1);
        if (wb_model__is_number (text))
            numeric++;
        else
        if (!word) {
            word = text;
            first_word = row;
        }
    }
    if (word && present >= 10 && (double) numeric >= 0.9 * (double) present) {
        char *shown = wb_strdup (word);
        wb_error_set (err, "column '%s' in %s holds numbers but row %zu holds '%s': fix "
                      "that value (or mark it missing) so the column reads as numbers",
                      name, table, first_word + 1, shown);
        free (shown);
        return -1;
    }
    return 0;
}

//  Is a numeric column a handful of whole numbers (class labels)?
static bool
s_numbers_look_like_classes (const double *numbers, size_t rows)
{
    double seen [S_FEW_CLASSES];
    size_t count = 0;
    for (size_t row = 0; row < rows; row++) {
        double value = numbers [row];
        if (isnan (value))
            continue;
        if (value != floor (value) || fabs (value) > 1e15)
            return false;
        size_t i = 0;
        while (i < count && seen [i] != value)
            i++;
        if (i == count) {
            if (count == S_FEW_CLASSES)
                return false;
            seen [count++] = value;
        }
    }
    return true;
}

bool
wb_model__looks_like_classes (wb_frame_t *frame, size_t col)
{
    const double *numbers = wb_frame_numbers (frame, col);
    return !numbers || s_numbers_look_like_classes (numbers, wb_frame_rows (frame));
}

//  The distinct values of a numeric column, ascending, in *values_p; -1
//  when there are more than limit (values_p untouched)
int64_t
wb_model__distinct_numbers (const double *numbers, size_t rows, size_t limit, double **values_p)
{
    size_t nslots = 64, count = 0;
    while (nslots < limit * 4)
        nslots *= 2;
    double *slots = wb_malloc (nslots * sizeof (double));
    bool *used = wb_calloc (nslots, sizeof (bool));
    double *values = wb_malloc ((limit + 1) * sizeof (double));
    for (size_t row = 0; row < rows; row++) {
        double value = numbers [row];
        if (isnan (value))
            continue;
        if (value == 0)
            value = 0;          //  -0 and 0 are one class
        uint64_t bits;
        memcpy (&bits, &value, sizeof (bits));
        size_t slot = (size_t) ((bits * 0x9E3779B97F4A7C15ULL) >> 32) & (nslots - 1);
        while (used [slot] && slots [slot] != value)
            slot = (slot + 1) & (nslots - 1);
        if (used [slot])
            continue;
        if (count == limit) {
            free (slots);
            free (used);
            free (values);
            return -1;
        }
        used [slot] = true;
        slots [slot] = value;
        values [count++] = value;
    }
    free (slots);
    free (used);
    qsort (values, count, sizeof (double), wb_model__double_cmp);
    *values_p = values;
    return (int64_t) count;
}

void
wb_model__plan_free (wb_model__plan_t *plan)
{
    json_decref (plan->params.features);
    free (plan->columns);
    memset (plan, 0, sizeof (*plan));
}

//  Check the classes of a classification target in the training table
static int
s_check_classes (wb_frame_t *frame, size_t col, wb_error_t *err)
{
    const char *name = wb_frame_name (frame, col);
    size_t rows = wb_frame_rows (frame);
    const double *numbers = wb_frame_numbers (frame, col);
    size_t classes = 0;
    char first [64] = "";
    if (numbers) {
        double *values = NULL;
        int64_t count = wb_model__distinct_numbers (numbers, rows, WB_MODEL__MAX_CLASSES, &values);
        if (count < 0)
            return wb_error_set (err, "target '%s' has more than %d distinct values: too "
                                 "many classes for a classifier; for a numeric target use "
                                 "kind=linear, or kind=mlp task=regression", name,
                                 WB_MODEL__MAX_CLASSES);
        classes = (size_t) count;
        if (count > 0)
            wb_double_text (values [0], first, sizeof (first));
        free (values);
    }
    else {
        wb_model__set_t set = { 0 };
        for (size_t row = 0; row < rows && set.count <= WB_MODEL__MAX_CLASSES; row++) {
            const char *text = wb_frame_text (frame, col, row);
            if (text)
                wb_model__set_add (&set, text);
        }
        classes = set.count;
        if (classes)
            snprintf (first, sizeof (first), "%s", set.items [0]);
        wb_model__set_free (&set);
        if (classes > WB_MODEL__MAX_CLASSES)
            return wb_error_set (err, "target '%s' has more than %d distinct values: too "
                                 "many classes for a classifier; pick a column of labels",
                                 name, WB_MODEL__MAX_CLASSES);
    }
    if (classes < 2)
        return wb_error_set (err, "target '%s' has a single class ('%s') in the training "
                             "rows: a classifier needs at least two; check the column or "
                             "the rows selected", name, first);
    return 0;
}

//  Missing values in the target of a table. 0 or -1.
static int
s_check_target_present (wb_frame_t *frame, size_t col, const char *table, wb_error_t *err)
{
    size_t rows = wb_frame_rows (frame), missing = 0, first = 0;
    const double *numbers = wb_frame_numbers (frame, col);
    for (size_t row = 0; row < rows; row++) {
        bool absent = numbers? isnan (numbers [row]): wb_frame_text (frame, col, row) == NULL;
        if (absent && missing++ == 0)
            first = row;
    }
    if (missing)
        return wb_error_set (err, "target '%s' in %s is missing on %zu row%s (the first is "
                             "row %zu): drop those rows first", wb_frame_name (frame, col),
                             table, missing, missing == 1? "": "s", first + 1);
    return 0;
}

//  A regression target must be numbers. 0 or -1.
int
wb_model__check_numeric_target (wb_frame_t *frame, size_t col, int kind, const char *table,
                                wb_error_t *err)
{
    if (wb_frame_numbers (frame, col))
        return 0;
    const char *name = wb_frame_name (frame, col);
    size_t rows = wb_frame_rows (frame);
    for (size_t row = 0; row < rows; row++) {
        const char *text = wb_frame_text (frame, col, row);
        if (text && !wb_model__is_number (text)) {
            char *shown = wb_strdup (text);
            wb_error_set (err, "target '%s' in %s is not numeric (row %zu holds '%s'): "
                          "regression needs numbers; %s", name, table, row + 1, shown,
                          kind == WB_MODEL__LINEAR?
                              "to predict classes use the logistic or mlp kind"
                            : "to predict classes use task=classification");
            free (shown);
            return -1;
        }
    }
    return wb_error_set (err, "target '%s' in %s is not numeric: regression needs numbers",
                         name, table);
}

//  Check a training request and work out what to do. 0 or -1.
int
wb_model__prepare (wb_model__plan_t *plan, wb_frame_t *train, wb_frame_t *valid,
                   const char *target, const char *kind_name, json_t *params, wb_error_t *err)
{
    memset (plan, 0, sizeof (*plan));
    plan->target = -1;
    int kind = wb_model__kind_parse (kind_name);
    if (!kind)
        return wb_error_set (err, "unknown model kind '%s': use linear, logistic, mlp or "
                             "kmeans", kind_name? kind_name: "");
    plan->kind = kind;
    if (wb_model__params_read (&plan->params, kind, params, err))
        return -1;
    wb_model__params_t *p = &plan->params;
    if (!train)
        return wb_error_set (err, "no training table: load one first");
    size_t rows = wb_frame_rows (train);
    if (rows < 2)
        return wb_error_set (err, "the training table has %zu row%s: training needs at least 2",
                             rows, rows == 1? "": "s");

    //  The target
    if (!target && kind != WB_MODEL__KMEANS)
        return wb_error_set (err, "kind %s needs a target column: name the column to "
                             "predict", wb_model__kind_name (kind));
    if (target) {
        plan->target = wb_frame_find (train, target);
        if (plan->target < 0)
            return wb_model__unknown_column (train, target, "the training table", err);
    }
    if (kind == WB_MODEL__KMEANS) {
        plan->task = WB_MODEL__CLUSTERING;
        if ((size_t) p->k > rows)
            return wb_error_set (err, "k=%lld is more than the %zu training rows: use a "
                                 "smaller k", (long long) p->k, rows);
    }
    else {
        size_t col = (size_t) plan->target;
        if (kind == WB_MODEL__LINEAR)
            plan->task = WB_MODEL__REGRESSION;
        else
        if (kind == WB_MODEL__LOGISTIC)
            plan->task = WB_MODEL__CLASSIFICATION;
        else
            plan->task = p->task >= 0? p->task
                       : wb_model__looks_like_classes (train, col)? WB_MODEL__CLASSIFICATION
                       : WB_MODEL__REGRESSION;
        if (s_check_target_present (train, col, "the training table", err))
            return -1;
        if (plan->task == WB_MODEL__REGRESSION) {
            if (wb_model__check_numeric_target (train, col, kind, "the training table", err))
                return -1;
        }
        else
        if (s_check_classes (train, col, err))
            return -1;
    }

    //  The features: named, or every column but the target and free text
    plan->columns = wb_malloc ((wb_frame_cols (train) + 1) * sizeof (size_t));
    if (p->features) {
        size_t index;
        json_t *item;
        json_array_foreach (p->features, index, item) {
            const char *name = json_string_value (item);
            int col = wb_frame_find (train, name);
            if (col < 0)
                return wb_model__unknown_column (train, name, "the training table", err);
            if (col == plan->target)
                return wb_error_set (err, "column '%s' is the target: leave it out of "
                                     "features", name);
            if (wb_frame_type (train, (size_t) col) == WB_COL_TEXT)
                return wb_error_set (err, "column '%s' is free text (too many distinct "
                                     "values to encode): leave it out of features", name);
            for (size_t i = 0; i < plan->ncolumns; i++)
                if (plan->columns [i] == (size_t) col)
                    return wb_error_set (err, "column '%s' is named twice in features", name);
            plan->columns [plan->ncolumns++] = (size_t) col;
        }
    }
    else
        for (size_t col = 0; col < wb_frame_cols (train); col++)
            if ((int) col != plan->target && wb_frame_type (train, col) != WB_COL_TEXT)
                plan->columns [plan->ncolumns++] = col;
    if (plan->ncolumns == 0)
        return wb_error_set (err, "no columns to learn from: the table has only the target "
                             "and free text; add numeric or categorical columns");
    for (size_t i = 0; i < plan->ncolumns; i++)
        if (s_check_column (train, plan->columns [i], "the training table", err))
            return -1;
    //  Skipped text columns that are really numbers with a stray word
    if (!p->features)
        for (size_t col = 0; col < wb_frame_cols (train); col++)
            if ((int) col != plan->target && wb_frame_type (train, col) == WB_COL_TEXT
            &&  s_check_column (train, col, "the training table", err))
                return -1;

    //  The validation table: the same columns, usable values
    if (valid) {
        const char *table = "the validation table";
        if (wb_frame_rows (valid) == 0)
            return wb_error_set (err, "the validation table has no rows: give it rows or "
                                 "leave it out");
        for (size_t i = 0; i < plan->ncolumns; i++) {
            const char *name = wb_frame_name (train, plan->columns [i]);
            int col = wb_frame_find (valid, name);
            if (col < 0)
                return wb_model__unknown_column (valid, name, table, err);
            bool numeric = wb_frame_type (train, plan->columns [i]) == WB_COL_NUMERIC;
            if (numeric && !wb_frame_numbers (valid, (size_t) col))
                return wb_error_set (err, "column '%s' is numeric in the training table but "
                                     "%s in the validation table: make the two tables "
                                     "agree", name, s_type_phrase (wb_frame_type (valid, (size_t) col)));
            if (s_check_column (valid, (size_t) col, table, err))
                return -1;
        }
        if (target) {
            int col = wb_frame_find (valid, target);
            if (col < 0) {
                if (kind != WB_MODEL__KMEANS)
                    return wb_model__unknown_column (valid, target, table, err);
            }
            else
            if (kind != WB_MODEL__KMEANS) {
                if (s_check_target_present (valid, (size_t) col, table, err))
                    return -1;
                if (plan->task == WB_MODEL__REGRESSION
                &&  wb_model__check_numeric_target (valid, (size_t) col, kind, table, err))
                    return -1;
            }
        }
    }
    return 0;
}

int
wb_model_check (wb_frame_t *train, wb_frame_t *valid, const char *target,
                const char *kind, json_t *params, wb_error_t *err)
{
    //  OpenBLAS is not loaded here: the kernel checks a request before it
    //  starts the job that trains
    wb_model__plan_t plan;
    int rc = wb_model__prepare (&plan, train, valid, target, kind, params, err);
    wb_model__plan_free (&plan);
    return rc;
}


//  @selftest
//  The error of a request that must fail, in check and train alike
static void
s_test_refused (wb_frame_t *train, wb_frame_t *valid, const char *target, const char *kind,
                const char *params_text, const char *expected, bool verbose)
{
    wb_error_t err, again;
    json_t *params = params_text? wb_model__test_params (params_text): NULL;
    assert (wb_model_check (train, valid, target, kind, params, &err) == -1);
    assert (wb_model_train (train, valid, target, kind, params, NULL, NULL, &again) == NULL);
    json_decref (params);
    if (verbose || !strstr (err.text, expected))
        printf ("  refused: %s\n", err.text);
    assert (strstr (err.text, expected));
    assert (streq (err.text, again.text));
}

void
wb_model_check_test (bool verbose)
{
    wb_model_t *model;
    wb_frame_t *blobs = wb_model__test_blobs ();

    //  ---- Bad input: refused before any work, saying which and what to do ----
    s_test_refused (blobs, NULL, "kind", "svm", NULL, "unknown model kind 'svm'", verbose);
    s_test_refused (blobs, NULL, "knd", "logistic", NULL, "unknown column 'knd'", verbose);
    s_test_refused (blobs, NULL, NULL, "mlp", NULL, "needs a target column", verbose);
    s_test_refused (blobs, NULL, "kind", "mlp", "{\"features\": [\"u\", \"w\"]}",
                    "unknown column 'w'", verbose);
    s_test_refused (blobs, NULL, "kind", "mlp", "{\"features\": \"kind\"}",
                    "is the target", verbose);
    s_test_refused (blobs, NULL, "kind", "linear", NULL, "is not numeric", verbose);
    s_test_refused (blobs, NULL, "kind", "mlp", "{\"task\": \"regression\"}",
                    "task=classification", verbose);
    wb_frame_t *single = wb_model__test_frame ("x,y\n1,yes\n2,yes\n3,yes\n");
    s_test_refused (single, NULL, "y", "logistic", NULL, "single class ('yes')", verbose);
    wb_frame_destroy (&single);
    wb_frame_t *gaps = wb_model__test_frame ("x,z,y\n1,2,a\n2,,b\n3,4,a\n,5,b\n");
    s_test_refused (gaps, NULL, "y", "logistic", NULL, "column 'x' in the training table has "
                    "1 missing value (the first at row 4)", verbose);
    wb_frame_destroy (&gaps);
    wb_frame_t *infinite = wb_model__test_frame ("x,y\n1,0\ninf,1\n3,0\n4,1\n");
    s_test_refused (infinite, NULL, "y", "logistic", NULL, "infinite value ('inf') at row 2",
                    verbose);
    wb_frame_destroy (&infinite);
    wb_frame_t *unlabelled = wb_model__test_frame ("x,y\n1,0\n2,\n3,0\n4,1\n");
    s_test_refused (unlabelled, NULL, "y", "logistic", NULL, "target 'y' in the training "
                    "table is missing on 1 row", verbose);
    wb_frame_destroy (&unlabelled);
    s_test_refused (blobs, NULL, "kind", "mlp", "{\"l2\": -1}", "l2=-1 is out of range",
                    verbose);
    s_test_refused (blobs, NULL, "kind", "mlp", "{\"epochs\": 0}", "epochs=0 is out of range",
                    verbose);
    s_test_refused (blobs, NULL, "kind", "mlp", "{\"epochs\": 2.5}", "not a whole number",
                    verbose);
    s_test_refused (blobs, NULL, "kind", "mlp", "{\"learning_rate\": \"fast\"}",
                    "learning_rate=fast is not a number", verbose);
    s_test_refused (blobs, NULL, "kind", "mlp", "{\"learning_rate\": 0}", "above 0", verbose);
    s_test_refused (blobs, NULL, "kind", "mlp", "{\"hidden\": \"128,0\"}",
                    "hidden=128,0 is out of range: layer sizes are whole numbers", verbose);
    s_test_refused (blobs, NULL, "kind", "mlp", "{\"hidden\": []}", "e.g. hidden=128,64",
                    verbose);
    s_test_refused (blobs, NULL, "kind", "mlp", "{\"validation\": 1}", "validation=1 is out "
                    "of range", verbose);
    s_test_refused (blobs, NULL, "kind", "mlp", "{\"lr\": 0.1}", "unknown parameter 'lr': "
                    "kind mlp takes l2, learning_rate", verbose);
    s_test_refused (blobs, NULL, "kind", "mlp", "{\"k\": 3}", "does not apply to kind mlp "
                    "(it is for kmeans)", verbose);
    s_test_refused (blobs, NULL, NULL, "kmeans", "{\"k\": 151}", "k=151 is more than the "
                    "150 training rows", verbose);
    s_test_refused (blobs, NULL, "kind", "logistic", "[1]", "not a JSON object", verbose);
    s_test_refused (blobs, NULL, "kind", "mlp", "{\"standardize\": \"maybe\"}",
                    "standardize=true", verbose);
    wb_frame_t *words = wb_model__test_frame ("x,note,y\n1,hello there,a\n2,second row,b\n"
                                              "3,third,a\n4,fourth,b\n5,fifth,a\n6,sixth,b\n"
                                              "7,seventh,a\n8,eighth,b\n9,ninth,a\n10,tenth,b\n"
                                              "11,eleventh,a\n12,twelfth,b\n13,x13,a\n14,x14,b\n"
                                              "15,x15,a\n16,x16,b\n17,x17,a\n18,x18,b\n19,x19,a\n"
                                              "20,x20,b\n21,x21,a\n22,x22,b\n");
    assert (wb_frame_type (words, 1) == WB_COL_TEXT);
    s_test_refused (words, NULL, "y", "logistic", "{\"features\": [\"note\"]}", "free text",
                    verbose);
    model = wb_model__test_train (words, NULL, "y", "logistic", "{}"); //  text skipped
    assert (wb_model_inputs (model) == 1);
    wb_model_destroy (&model);
    wb_frame_destroy (&words);
    //  The validation table must match
    wb_frame_t *other = wb_model__test_frame ("u,kind\n1,east\n");
    s_test_refused (blobs, other, "kind", "logistic", NULL, "unknown column 'v' in the "
                    "validation table", verbose);
    wb_frame_destroy (&other);
    wb_frame_destroy (&blobs);
}
//  @end
