/*  wb_model_prep - preprocessing: a set of strings (the categories of a
    feature, the classes), fitting the features on the training rows
    (statistics, categories, the classes and the target's scale) and
    encoding a table into a row-major matrix (part of wb_model; see
    wb_model_int.h)
*/
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "wb_model_int.h"

static uint64_t
s_hash (const char *text)
{
    uint64_t hash = 14695981039346656037ULL;
    for (; *text; text++) {
        hash ^= (unsigned char) *text;
        hash *= 1099511628211ULL;
    }
    return hash;
}

static int
s_strcmp_p (const void *a, const void *b)
{
    return strcmp (*(char * const *) a, *(char * const *) b);
}

//  ---- A set of strings: category and class lookup ----

void
wb_model__set_free (wb_model__set_t *set)
{
    for (size_t i = 0; i < set->count; i++)
        free (set->items [i]);
    free (set->items);
    free (set->slots);
    memset (set, 0, sizeof (*set));
}

static void
s_set_rehash (wb_model__set_t *set)
{
    free (set->slots);
    set->nslots = 16;
    while (set->nslots < set->count * 2 + 2)
        set->nslots *= 2;
    set->slots = wb_calloc (set->nslots, sizeof (uint32_t));
    for (size_t i = 0; i < set->count; i++) {
        size_t slot = s_hash (set->items [i]) & (set->nslots - 1);
        while (set->slots [slot])
            slot = (slot + 1) & (set->nslots - 1);
        set->slots [slot] = (uint32_t) i + 1;
    }
}

//  Index of text, or -1
int64_t
wb_model__set_find (const wb_model__set_t *set, const char *text)
{
    if (!set->nslots)
        return -1;
    size_t slot = s_hash (text) & (set->nslots - 1);
    while (set->slots [slot]) {
        uint32_t index = set->slots [slot] - 1;
        if (streq (set->items [index], text))
            return index;
        slot = (slot + 1) & (set->nslots - 1);
    }
    return -1;
}

//  Add text if new; its index
size_t
wb_model__set_add (wb_model__set_t *set, const char *text)
{
    int64_t found = wb_model__set_find (set, text);
    if (found >= 0)
        return (size_t) found;
    if (set->count == set->room) {
        set->room = set->room? set->room * 2: 16;
        set->items = wb_realloc (set->items, set->room * sizeof (char *));
    }
    set->items [set->count++] = wb_strdup (text);
    if (set->count * 2 + 2 > set->nslots)
        s_set_rehash (set);
    else {
        size_t slot = s_hash (text) & (set->nslots - 1);
        while (set->slots [slot])
            slot = (slot + 1) & (set->nslots - 1);
        set->slots [slot] = (uint32_t) set->count;
    }
    return set->count - 1;
}

//  Sort the strings (byte order) and rebuild the index
void
wb_model__set_sort (wb_model__set_t *set)
{
    if (set->count)
        qsort (set->items, set->count, sizeof (char *), s_strcmp_p);
    s_set_rehash (set);
}


//  ---- Preprocessing: fitting and encoding ----

//  Mean and standard deviation of the numeric features, a thread taking
//  every count-th feature
typedef struct {
    wb_model_t *model;          //  whose features
    wb_frame_t *frame;          //  the training table
    const size_t *columns;      //  the features' columns
    bool standardize;           //  else mean 0, std 1
} s_stats_t;

static void
s_stats_task (void *arg, size_t index, size_t count)
{
    s_stats_t *stats = arg;
    size_t rows = wb_frame_rows (stats->frame);
    for (size_t i = index; i < stats->model->nfeatures; i += count) {
        wb_model__feature_t *feature = &stats->model->features [i];
        const double *numbers = wb_frame_numbers (stats->frame, stats->columns [i]);
        if (feature->categorical || !stats->standardize || !numbers)
            continue;
        double sum = 0, squares = 0;
        for (size_t row = 0; row < rows; row++)
            sum += numbers [row];
        double mean = sum / (double) rows;
        for (size_t row = 0; row < rows; row++)
            squares += (numbers [row] - mean) * (numbers [row] - mean);
        double std = sqrt (squares / (double) rows);
        feature->mean = mean;
        feature->std = std > 0 && isfinite (std)? std: 1;
    }
}

//  Fit the features (statistics, categories), the classes and the target
//  scaling on the training table; lay out the encoded vector
void
wb_model__fit_preprocessing (wb_model_t *self, wb_model__plan_t *plan, wb_frame_t *train,
                             wb_model__pool_t *pool)
{
    size_t rows = wb_frame_rows (train);
    self->nfeatures = plan->ncolumns;
    self->features = wb_calloc (plan->ncolumns, sizeof (wb_model__feature_t));
    self->inputs = 0;
    for (size_t i = 0; i < plan->ncolumns; i++) {
        size_t col = plan->columns [i];
        wb_model__feature_t *feature = &self->features [i];
        feature->name = wb_strdup (wb_frame_name (train, col));
        feature->offset = self->inputs;
        feature->std = 1;
        if (wb_frame_numbers (train, col))
            self->inputs++;
        else {
            feature->categorical = true;
            for (size_t row = 0; row < rows; row++) {
                const char *text = wb_frame_text (train, col, row);
                if (text)
                    wb_model__set_add (&feature->categories, text);
            }
            wb_model__set_sort (&feature->categories);
            self->inputs += feature->categories.count;
        }
    }
    s_stats_t stats = { self, train, plan->columns, plan->params.standardize };
    wb_model__pool_run (pool, s_stats_task, &stats);
    if (plan->target < 0 || self->task == WB_MODEL__CLUSTERING)
        return;
    size_t col = (size_t) plan->target;
    self->target = wb_strdup (wb_frame_name (train, col));
    self->target_type = wb_frame_type (train, col);
    const double *numbers = wb_frame_numbers (train, col);
    if (self->task == WB_MODEL__REGRESSION) {
        double sum = 0, squares = 0;
        for (size_t row = 0; row < rows; row++)
            sum += numbers [row];
        double mean = sum / (double) rows;
        for (size_t row = 0; row < rows; row++)
            squares += (numbers [row] - mean) * (numbers [row] - mean);
        double std = sqrt (squares / (double) rows);
        self->target_mean = mean;
        self->target_std = std > 0 && isfinite (std)? std: 1;
    }
    else
    if (numbers) {
        int64_t count = wb_model__distinct_numbers (numbers, rows, WB_MODEL__MAX_CLASSES,
                                                    &self->class_values);
        assert (count >= 2);
        for (int64_t i = 0; i < count; i++) {
            char text [64];
            wb_double_text (self->class_values [i], text, sizeof (text));
            wb_model__set_add (&self->classes, text);
        }
    }
    else {
        for (size_t row = 0; row < rows; row++)
            wb_model__set_add (&self->classes, wb_frame_text (train, col, row));
        wb_model__set_sort (&self->classes);
    }
}

//  Find the model's feature columns in frame. 0 or -1.
static int
s_find_columns (wb_model_t *self, wb_frame_t *frame, const char *table, size_t *columns,
                wb_error_t *err)
{
    for (size_t i = 0; i < self->nfeatures; i++) {
        wb_model__feature_t *feature = &self->features [i];
        int col = wb_frame_find (frame, feature->name);
        if (col < 0)
            return wb_error_set (err, "column '%s' that the model needs is missing from %s",
                                 feature->name, table);
        if (!feature->categorical && !wb_frame_numbers (frame, (size_t) col)) {
            size_t rows = wb_frame_rows (frame);
            for (size_t row = 0; row < rows; row++) {
                const char *text = wb_frame_text (frame, (size_t) col, row);
                if (text && !wb_model__is_number (text)) {
                    char *shown = wb_strdup (text);
                    wb_error_set (err, "column '%s' in %s must be numeric, as in training, "
                                  "but row %zu holds '%s': fix that value", feature->name,
                                  table, row + 1, shown);
                    free (shown);
                    return -1;
                }
            }
            return wb_error_set (err, "column '%s' in %s must be numeric, as in training",
                                 feature->name, table);
        }
        columns [i] = (size_t) col;
    }
    return 0;
}

//  Encoding a table, the numeric features by row ranges over the pool
typedef struct {
    wb_model_t *model;          //  whose features
    wb_frame_t *frame;          //  the table
    const size_t *columns;      //  the features' columns in it
    double *out;                //  rows x inputs doubles, or
    float *out_f;               //  rows x inputs floats
    bool zero;                  //  some features are categorical: zero rows first
    size_t *bad_row;            //  per thread: first row with a missing number
    size_t *bad_feature;        //  per thread: its feature
} s_encoding_t;

#define S_ENCODE_ROWS   256     //  rows a thread encodes at a time (in cache)

static void
s_encode_task (void *arg, size_t index, size_t count)
{
    s_encoding_t *e = arg;
    wb_model_t *self = e->model;
    size_t rows = wb_frame_rows (e->frame), width = self->inputs, lo, hi;
    wb_model__share (rows, index, count, &lo, &hi);
    e->bad_row [index] = SIZE_MAX;
    for (size_t first = lo; first < hi; first += S_ENCODE_ROWS) {
        size_t last = hi - first < S_ENCODE_ROWS? hi: first + S_ENCODE_ROWS;
        if (e->zero) {
            if (e->out)
                memset (e->out + first * width, 0, (last - first) * width * sizeof (double));
            else
                memset (e->out_f + first * width, 0, (last - first) * width * sizeof (float));
        }
        for (size_t i = 0; i < self->nfeatures; i++) {
            wb_model__feature_t *feature = &self->features [i];
            if (feature->categorical)
                continue;
            const double *numbers = wb_frame_numbers (e->frame, e->columns [i]);
            double mean = feature->mean, scale = 1 / feature->std;
            for (size_t row = first; row < last; row++) {
                double value = numbers [row];
                if (!isfinite (value)) {
                    if (row < e->bad_row [index]) {
                        e->bad_row [index] = row;
                        e->bad_feature [index] = i;
                    }
                    value = mean;
                }
                if (e->out)
                    e->out [row * width + feature->offset] = (value - mean) * scale;
                else
                    e->out_f [row * width + feature->offset] = (float) ((value - mean) * scale);
            }
        }
    }
}

//  The whole frame encoded (rows x inputs), doubles or (single) floats;
//  NULL with err (a missing column, a missing or non-numeric value)
void *
wb_model__encode (wb_model_t *self, wb_frame_t *frame, bool single, wb_model__pool_t *pool,
                  const char *table, wb_error_t *err)
{
    size_t *columns = wb_malloc ((self->nfeatures + 1) * sizeof (size_t));
    if (s_find_columns (self, frame, table, columns, err)) {
        free (columns);
        return NULL;
    }
    size_t rows = wb_frame_rows (frame), width = self->inputs, threads = pool? pool->count: 1;
    size_t size = (rows? rows: 1) * (width? width: 1) * (single? sizeof (float): sizeof (double));
    void *matrix = wb_malloc (size);
    s_encoding_t e = { self, frame, columns, single? NULL: matrix, single? matrix: NULL,
                       false, wb_malloc (threads * sizeof (size_t)),
                       wb_malloc (threads * sizeof (size_t)) };
    for (size_t i = 0; i < self->nfeatures; i++)
        e.zero = e.zero || self->features [i].categorical;
    wb_model__pool_run (pool, s_encode_task, &e);
    size_t bad = SIZE_MAX, bad_feature = 0;
    for (size_t i = 0; i < threads; i++)
        if (e.bad_row [i] < bad) {
            bad = e.bad_row [i];
            bad_feature = e.bad_feature [i];
        }
    free (e.bad_row);
    free (e.bad_feature);
    if (bad != SIZE_MAX) {
        wb_error_set (err, "column '%s' in %s has a missing value at row %zu: fill or drop "
                      "it first", self->features [bad_feature].name, table, bad + 1);
        free (matrix);
        free (columns);
        return NULL;
    }
    //  Categorical features: a one in the category's slot (missing and
    //  unseen values stay all zeros)
    for (size_t i = 0; i < self->nfeatures; i++) {
        wb_model__feature_t *feature = &self->features [i];
        if (!feature->categorical)
            continue;
        const char *last = NULL;
        int64_t last_index = -1;
        for (size_t row = 0; row < rows; row++) {
            const char *text = wb_frame_text (frame, columns [i], row);
            if (!text)
                continue;
            //  a column's strings are interned: equal pointers, equal text
            int64_t index = text == last? last_index
                          : wb_model__set_find (&feature->categories, text);
            last = text;
            last_index = index;
            if (index < 0)
                continue;
            size_t at = row * width + feature->offset + (size_t) index;
            if (single)
                ((float *) matrix) [at] = 1;
            else
                ((double *) matrix) [at] = 1;
        }
    }
    free (columns);
    return matrix;
}

//  Class index of a classification target value, -1 when not a class
static int64_t
s_class_of_number (wb_model_t *self, double value)
{
    size_t low = 0, high = self->classes.count;
    while (low < high) {
        size_t mid = (low + high) / 2;
        if (self->class_values [mid] < value)
            low = mid + 1;
        else
            high = mid;
    }
    return low < self->classes.count && self->class_values [low] == value? (int64_t) low: -1;
}

//  The target of frame as class codes: 0 .. classes-1, and from classes on
//  the labels not seen in training, which are added to unseen (if not
//  NULL; else they are -1). 0 or -1 (missing values).
int
wb_model__target_codes (wb_model_t *self, wb_frame_t *frame, size_t col, int32_t *codes,
                        wb_model__set_t *unseen, const char *table, wb_error_t *err)
{
    size_t rows = wb_frame_rows (frame);
    const double *numbers = wb_frame_numbers (frame, col);
    for (size_t row = 0; row < rows; row++) {
        int64_t code;
        char text [64];
        const char *label;
        if (numbers) {
            if (isnan (numbers [row]))
                return wb_error_set (err, "target '%s' in %s is missing at row %zu: drop "
                                     "the rows without a target first",
                                     wb_frame_name (frame, col), table, row + 1);
            code = self->class_values? s_class_of_number (self, numbers [row]): -1;
            if (code < 0) {
                wb_double_text (numbers [row], text, sizeof (text));
                code = wb_model__set_find (&self->classes, text);
            }
            label = text;
        }
        else {
            label = wb_frame_text (frame, col, row);
            if (!label)
                return wb_error_set (err, "target '%s' in %s is missing at row %zu: drop "
                                     "the rows without a target first",
                                     wb_frame_name (frame, col), table, row + 1);
            code = wb_model__set_find (&self->classes, label);
            if (code < 0 && self->class_values && wb_model__is_number (label))
                code = s_class_of_number (self, strtod (label, NULL));
        }
        if (code < 0 && unseen)
            code = (int64_t) (self->classes.count + wb_model__set_add (unseen, label));
        codes [row] = (int32_t) code;
    }
    return 0;
}


//  @selftest
void
wb_model_prep_test (bool verbose)
{
    (void) verbose;
    wb_error_t err;
    wb_buf_t *buf;
    wb_model_t *model;
    double *values, *proba;

    //  ---- Categorical features: one-hot, unseen categories ----
    buf = wb_buf_new ();
    wb_buf_puts (buf, "size,colour,price\n");
    for (int i = 0; i < 60; i++) {
        const char *colour = i % 3 == 0? "red": i % 3 == 1? "green": "blue";
        double size = 1 + i % 7;
        wb_buf_printf (buf, "%g,%s,%g\n", size, colour,
                       10 * size + (i % 3 == 0? 5: i % 3 == 1? -5: 0));
    }
    wb_frame_t *shop = wb_model__test_buf_frame (&buf);
    model = wb_model__test_train (shop, NULL, "price", "linear", "{\"l2\": 0.001}");
    assert (wb_model_inputs (model) == 4);      //  size + 3 colours
    json_t *schema = wb_model_schema (model);
    assert (json_array_size (schema) == 2);
    json_t *colour = json_array_get (schema, 1);
    assert (streq (json_string_value (json_object_get (colour, "type")), "categorical"));
    assert (json_array_size (json_object_get (colour, "categories")) == 3);
    assert (streq (json_string_value (json_array_get (json_object_get (colour, "categories"), 0)),
                   "blue"));
    json_decref (schema);
    wb_frame_t *novel = wb_model__test_frame ("size,colour\n3,red\n3,purple\n3,\n");
    assert (wb_model_predict (model, novel, &values, NULL, &err) == 0);
    assert (fabs (values [0] - 35) < 0.1);
    assert (isfinite (values [1]) && isfinite (values [2]));
    assert (values [1] == values [2]);          //  unseen and missing: all zeros
    free (values);
    wb_model__test_round_trip (model, novel);
    //  A classifier on categories gives a class for an unseen one too
    wb_model_t *classifier = wb_model__test_train (shop, NULL, "colour", "mlp",
                                                   "{\"hidden\": [4], \"epochs\": 5, \"threads\": 1}");
    wb_frame_t *novel2 = wb_model__test_frame ("size,price\n3,35\n");
    assert (wb_model_predict (classifier, novel2, &values, &proba, &err) == 0);
    assert (values [0] >= 0 && values [0] < 3);
    assert (fabs (proba [0] + proba [1] + proba [2] - 1) < 1e-12);
    free (values);
    free (proba);
    wb_model_destroy (&classifier);
    wb_frame_destroy (&novel2);
    //  Prediction needs the feature columns, with numbers where numbers were
    wb_frame_t *lacking = wb_model__test_frame ("colour\nred\n");
    assert (wb_model_predict (model, lacking, &values, NULL, &err) == -1);
    assert (strstr (err.text, "column 'size'") && strstr (err.text, "missing"));
    wb_frame_destroy (&lacking);
    wb_frame_t *holes = wb_model__test_frame ("size,colour\n3,red\n,red\n");
    assert (wb_model_predict (model, holes, &values, NULL, &err) == -1);
    assert (strstr (err.text, "column 'size'") && strstr (err.text, "row 2"));
    wb_frame_destroy (&holes);
    wb_model_destroy (&model);
    wb_frame_destroy (&novel);
    wb_frame_destroy (&shop);
}
//  @end
