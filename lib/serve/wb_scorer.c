/*  wb_scorer - scores rows with a model file, for the scoring server

    The model file is read once into flat arrays; scoring a request is
    parse (jansson, or a small CSV reader), encode into a rows x features
    matrix (a number per numeric column, the index of its category per
    categorical one: never a one-hot row, whose width is the number of
    categories, so that a request costs memory in proportion to its body,
    whatever the model), forward through the layers with plain loops (the
    first layer reads the compact rows: the same sums in the same order
    as over one-hot rows), and write the answer into a buffer. Nothing is
    shared between calls but the read-only model, so any number of
    threads may score at once.
*/
#include <assert.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "wb_scorer.h"
#include "data/wb_frame.h"

typedef struct {
    char *name;                 //  column name
    bool categorical;           //  one-hot over categories, else numeric
    double mean, scale;         //  numeric: (x - mean) * scale
    char **categories;          //  categorical: the categories in slot order
    size_t ncategories;         //  how many
    size_t offset;              //  first slot in the encoded vector
} s_feature_t;

typedef struct {
    size_t in, out;             //  shape
    double *weights;            //  in x out, row-major
    double *bias;               //  out
    int activation;             //  S_IDENTITY ...
} s_layer_t;

#define S_MAX_ANSWER_NUMBERS  1000000     //  probabilities an answer may hold (rows x classes)

enum { S_IDENTITY, S_RELU, S_SIGMOID, S_SOFTMAX };
enum { S_REGRESSION, S_CLASSIFICATION, S_CLUSTERING };

struct _wb_scorer_t {
    int task;                   //  S_REGRESSION ...
    char *target;               //  target column, or NULL
    double target_mean, target_std; //  regression: output scale
    bool numeric_classes;       //  class labels are numbers: answer them as numbers
    char **classes;             //  class labels
    size_t nclasses;            //  how many
    s_feature_t *features;      //  input columns in encoding order
    size_t nfeatures;           //  how many
    size_t inputs;              //  encoded width
    s_layer_t *layers;          //  the network (empty for kmeans)
    size_t nlayers;             //  how many
    size_t widest;              //  widest layer output
    double *centers;            //  kmeans: k x inputs
    double *norms;              //  kmeans: |c|^2 per centre
    size_t k;                   //  kmeans: centres
    json_t *expects;            //  what the model takes (for errors, OpenAPI)
};

//  ---- Loading ----

static int
s_activation (const char *name)
{
    if (!name)
        return -1;
    return streq (name, "identity")? S_IDENTITY: streq (name, "relu")? S_RELU:
           streq (name, "sigmoid")? S_SIGMOID: streq (name, "softmax")? S_SOFTMAX: -1;
}

//  Numbers of a JSON array into out (count of them); false if not numbers
static bool
s_numbers (json_t *array, double *out, size_t count)
{
    if (!json_is_array (array) || json_array_size (array) != count)
        return false;
    for (size_t i = 0; i < count; i++) {
        json_t *item = json_array_get (array, i);
        if (!json_is_number (item))
            return false;
        out [i] = json_number_value (item);
    }
    return true;
}

wb_scorer_t *
wb_scorer_new (const char *data, size_t size, wb_error_t *err)
{
    json_error_t json_err;
    json_t *file = json_loadb (data, size, 0, &json_err);
    const char *format = json_string_value (json_object_get (file, "format"));
    if (!file || !format || !streq (format, "workbench-model")) {
        wb_error_set (err, "not a Workbench model file (format workbench-model): %s",
                      file? "no format member": json_err.text);
        json_decref (file);
        return NULL;
    }
    wb_scorer_t *self = wb_calloc (1, sizeof (wb_scorer_t));
    const char *task = json_string_value (json_object_get (file, "task"));
    const char *kind = json_string_value (json_object_get (file, "kind"));
    const char *problem = NULL;
    self->task = !task? -1: streq (task, "regression")? S_REGRESSION:
                 streq (task, "classification")? S_CLASSIFICATION:
                 streq (task, "clustering")? S_CLUSTERING: -1;
    if (self->task < 0 || !kind)
        problem = "its task or kind is missing or unknown";
    json_t *target = json_object_get (file, "target");
    if (!problem && json_is_object (target)
    &&  !json_is_string (json_object_get (target, "name")))
        problem = "its target has no name";
    if (!problem && json_is_object (target)) {
        self->target = wb_strdup (json_string_value (json_object_get (target, "name")));
        self->target_mean = json_number_value (json_object_get (target, "mean"));
        self->target_std = json_number_value (json_object_get (target, "std"));
        const char *type = json_string_value (json_object_get (target, "type"));
        self->numeric_classes = type && streq (type, "numeric");
    }
    json_t *classes = json_object_get (file, "classes");
    self->nclasses = json_array_size (classes);
    self->classes = wb_calloc (self->nclasses + 1, sizeof (char *));
    for (size_t i = 0; i < self->nclasses; i++)
        self->classes [i] = wb_strdup (json_string_value (json_array_get (classes, i))?
                                       json_string_value (json_array_get (classes, i)): "");
    if (!problem && self->task == S_CLASSIFICATION && self->nclasses < 2)
        problem = "a classifier needs two classes or more";
    //  Features
    json_t *features = json_object_get (file, "features");
    self->nfeatures = json_array_size (features);
    self->features = wb_calloc (self->nfeatures + 1, sizeof (s_feature_t));
    json_t *columns = json_array ();
    for (size_t i = 0; i < self->nfeatures && !problem; i++) {
        json_t *item = json_array_get (features, i);
        s_feature_t *feature = &self->features [i];
        const char *name = json_string_value (json_object_get (item, "name"));
        const char *type = json_string_value (json_object_get (item, "type"));
        if (!name || !type) {
            problem = "a feature lacks its name or type";
            break;
        }
        feature->name = wb_strdup (name);
        feature->offset = self->inputs;
        json_t *column = json_pack ("{s:s, s:s}", "name", name, "type", type);
        if (streq (type, "categorical")) {
            json_t *categories = json_object_get (item, "categories");
            feature->categorical = true;
            feature->ncategories = json_array_size (categories);
            feature->categories = wb_calloc (feature->ncategories + 1, sizeof (char *));
            for (size_t c = 0; c < feature->ncategories; c++) {
                const char *text = json_string_value (json_array_get (categories, c));
                feature->categories [c] = wb_strdup (text? text: "");
            }
            json_object_set (column, "categories", categories);
            self->inputs += feature->ncategories;
        }
        else {
            feature->mean = json_number_value (json_object_get (item, "mean"));
            feature->scale = 1 / json_number_value (json_object_get (item, "std"));
            self->inputs += 1;
        }
        json_array_append_new (columns, column);
    }
    if (!problem && (size_t) json_integer_value (json_object_get (file, "inputs")) != self->inputs)
        problem = "its \"inputs\" does not match its features";
    //  Layers or centres
    json_t *layers = json_object_get (file, "layers");
    self->nlayers = json_array_size (layers);
    self->layers = wb_calloc (self->nlayers + 1, sizeof (s_layer_t));
    size_t width = self->inputs;
    self->widest = 1;
    for (size_t l = 0; l < self->nlayers && !problem; l++) {
        json_t *item = json_array_get (layers, l);
        s_layer_t *layer = &self->layers [l];
        json_t *weights = json_object_get (item, "weights");
        json_t *bias = json_object_get (item, "bias");
        layer->in = width;
        layer->out = json_array_size (bias);
        layer->activation = s_activation (json_string_value (json_object_get (item, "activation")));
        //  The shape first: a small file must not claim a large matrix
        bool ok = layer->activation >= 0 && layer->out > 0
               && json_array_size (weights) == layer->in;
        for (size_t i = 0; ok && i < layer->in; i++)
            ok = json_array_size (json_array_get (weights, i)) == layer->out;
        layer->weights = wb_malloc (((ok? layer->in * layer->out: 0) + 1) * sizeof (double));
        layer->bias = wb_malloc ((layer->out + 1) * sizeof (double));
        ok = ok && s_numbers (bias, layer->bias, layer->out);
        for (size_t i = 0; ok && i < layer->in; i++)
            ok = s_numbers (json_array_get (weights, i), layer->weights + i * layer->out, layer->out);
        if (!ok)
            problem = "a layer's weights, bias or activation are malformed";
        width = layer->out;
        self->widest = width > self->widest? width: self->widest;
    }
    json_t *centers = json_object_get (file, "centers");
    self->k = json_array_size (centers);
    bool shaped = !problem;
    for (size_t j = 0; shaped && j < self->k; j++)
        shaped = json_array_size (json_array_get (centers, j)) == self->inputs;
    if (!shaped && !problem)
        problem = "a k-means centre is malformed";
    self->centers = wb_malloc (((shaped? self->k * self->inputs: 0) + 1) * sizeof (double));
    self->norms = wb_malloc ((self->k + 1) * sizeof (double));
    for (size_t j = 0; j < self->k && !problem; j++) {
        if (!s_numbers (json_array_get (centers, j), self->centers + j * self->inputs, self->inputs))
            problem = "a k-means centre is malformed";
        double sum = 0;
        for (size_t i = 0; i < self->inputs; i++)
            sum += self->centers [j * self->inputs + i] * self->centers [j * self->inputs + i];
        self->norms [j] = sum;
    }
    if (!problem && self->task == S_CLUSTERING && self->k == 0)
        problem = "a clustering model needs centres";
    if (!problem && self->task != S_CLUSTERING) {
        size_t outputs = self->nlayers? self->layers [self->nlayers - 1].out: 0;
        int last = self->nlayers? self->layers [self->nlayers - 1].activation: -1;
        bool fits = self->task == S_REGRESSION? outputs == 1:
                    last == S_SIGMOID? outputs == 1 && self->nclasses == 2: outputs == self->nclasses;
        if (!fits)
            problem = "its last layer does not fit its task";
    }
    self->expects = json_pack ("{s:o, s:s, s:s, s:s?, s:O}", "columns", columns,
                               "task", task? task: "", "kind", kind? kind: "",
                               "target", self->target, "classes", classes? classes: json_null ());
    json_decref (file);
    if (problem) {
        wb_error_set (err, "the model file is damaged: %s", problem);
        wb_scorer_destroy (&self);
    }
    return self;
}

void
wb_scorer_destroy (wb_scorer_t **self_p)
{
    assert (self_p);
    wb_scorer_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->nfeatures; i++) {
        free (self->features [i].name);
        for (size_t c = 0; c < self->features [i].ncategories; c++)
            free (self->features [i].categories [c]);
        free (self->features [i].categories);
    }
    free (self->features);
    for (size_t l = 0; l < self->nlayers; l++) {
        free (self->layers [l].weights);
        free (self->layers [l].bias);
    }
    free (self->layers);
    for (size_t i = 0; i < self->nclasses; i++)
        free (self->classes [i]);
    free (self->classes);
    free (self->centers);
    free (self->norms);
    free (self->target);
    json_decref (self->expects);
    free (self);
    *self_p = NULL;
}

json_t *
wb_scorer_expects (wb_scorer_t *self)
{
    return self->expects;
}

//  ---- Reading a request ----

static int
s_fault (wb_scorer_fault_t *fault, int status, const char *code, const char *format, ...)
    __attribute__ ((format (printf, 4, 5)));

static int
s_fault (wb_scorer_fault_t *fault, int status, const char *code, const char *format, ...)
{
    fault->status = status;
    fault->code = code;
    va_list args;
    va_start (args, format);
    vsnprintf (fault->message, sizeof (fault->message), format, args);
    va_end (args);
    return -1;
}

//  The model's columns as "a, b, c" (at most ~300 bytes)
static void
s_columns_text (wb_scorer_t *self, char *text, size_t size)
{
    size_t used = 0;
    text [0] = 0;
    for (size_t i = 0; i < self->nfeatures && used + 1 < size; i++) {
        int wrote = snprintf (text + used, size - used, "%s%s", i? ", ": "", self->features [i].name);
        if (wrote < 0 || (size_t) wrote >= size - used) {
            snprintf (text + (size > 5? size - 5: 0), 5, "...");
            break;
        }
        used += (size_t) wrote;
    }
}

//  The feature of a column name, -1 when the model has none (-2 for the
//  target, which is ignored)
static int
s_feature_of (wb_scorer_t *self, const char *name)
{
    for (size_t i = 0; i < self->nfeatures; i++)
        if (streq (self->features [i].name, name))
            return (int) i;
    return self->target && streq (self->target, name)? -2: -1;
}

//  Put one value of feature f into the encoded row x (x [f]: the number,
//  or the category's index, -1 when unseen or missing). 0 or -1 (fault).
//  value is a JSON value, or NULL with text (CSV).
static int
s_encode_value (wb_scorer_t *self, size_t f, json_t *value, const char *text, double *x,
                size_t row, wb_scorer_fault_t *fault)
{
    s_feature_t *feature = &self->features [f];
    if (feature->categorical) {
        char number [32];
        const char *category = text;
        if (value) {
            if (json_is_string (value))
                category = json_string_value (value);
            else
            if (json_is_number (value)) {
                wb_double_text (json_number_value (value), number, sizeof (number));
                category = number;
            }
            else
            if (json_is_boolean (value))
                category = json_is_true (value)? "true": "false";
            else
            if (!json_is_null (value))
                return s_fault (fault, 400, "bad_value", "row %zu: column '%s' is categorical "
                                "and takes text or a number, not an array or object",
                                row + 1, feature->name);
        }
        for (size_t c = 0; category && *category && c < feature->ncategories; c++)
            if (streq (feature->categories [c], category)) {
                x [f] = (double) c;
                break;
            }
        return 0;           //  unseen or missing: -1, all zeros in one-hot, as in training
    }
    double number;
    if (value) {
        if (json_is_null (value))
            return s_fault (fault, 400, "missing_value", "row %zu: column '%s' is missing "
                            "(null); it takes a number", row + 1, feature->name);
        if (!json_is_number (value)) {
            char *shown = json_dumps (value, JSON_ENCODE_ANY | JSON_COMPACT);
            s_fault (fault, 400, "not_numeric", "row %zu: column '%s' takes a number, "
                     "not %.60s", row + 1, feature->name, shown? shown: "that");
            free (shown);
            return -1;
        }
        number = json_number_value (value);
    }
    else {
        char *end;
        while (isspace ((unsigned char) *text))
            text++;
        if (!*text)
            return s_fault (fault, 400, "missing_value", "row %zu: column '%s' is empty; "
                            "it takes a number", row + 1, feature->name);
        number = strtod (text, &end);
        while (isspace ((unsigned char) *end))
            end++;
        if (*end)
            return s_fault (fault, 400, "not_numeric", "row %zu: column '%s' takes a number, "
                            "not '%.60s'", row + 1, feature->name, text);
    }
    if (!isfinite (number))
        return s_fault (fault, 400, "not_numeric", "row %zu: column '%s' must be finite",
                        row + 1, feature->name);
    x [f] = (number - feature->mean) * feature->scale;
    return 0;
}

//  The rows being read
typedef struct {
    double *x;                  //  rows x nfeatures, encoded (s_encode_value)
    size_t rows;                //  rows read
    size_t room;                //  rows allocated
} s_rows_t;

static double *
s_new_row (wb_scorer_t *self, s_rows_t *rows)
{
    if (rows->rows == rows->room) {
        rows->room = rows->room? rows->room * 2: 4;
        rows->x = wb_realloc (rows->x, rows->room * (self->nfeatures + 1) * sizeof (double));
    }
    double *x = rows->x + rows->rows++ * self->nfeatures;
    for (size_t f = 0; f < self->nfeatures; f++)
        x [f] = self->features [f].categorical? -1: 0;
    return x;
}

//  One row: an array in the model's column order, or an object by name
static int
s_read_row (wb_scorer_t *self, json_t *item, s_rows_t *rows, wb_scorer_fault_t *fault)
{
    size_t row = rows->rows;
    double *x = s_new_row (self, rows);
    char columns [320];
    if (json_is_array (item)) {
        if (json_array_size (item) != self->nfeatures) {
            s_columns_text (self, columns, sizeof (columns));
            return s_fault (fault, 400, "feature_count", "row %zu has %zu values; the model "
                            "takes %zu, in this order: %s", row + 1, json_array_size (item),
                            self->nfeatures, columns);
        }
        for (size_t f = 0; f < self->nfeatures; f++)
            if (s_encode_value (self, f, json_array_get (item, f), NULL, x, row, fault))
                return -1;
        return 0;
    }
    if (json_is_object (item)) {
        const char *key;
        json_t *value;
        size_t seen = 0;
        json_object_foreach (item, key, value) {
            int f = s_feature_of (self, key);
            if (f == -1) {
                s_columns_text (self, columns, sizeof (columns));
                return s_fault (fault, 400, "unknown_column", "row %zu: unknown column '%.80s'; "
                                "the model takes %s", row + 1, key, columns);
            }
            if (f >= 0) {
                if (s_encode_value (self, (size_t) f, value, NULL, x, row, fault))
                    return -1;
                seen++;
            }
        }
        if (seen < self->nfeatures)
            for (size_t f = 0; f < self->nfeatures; f++)
                if (!json_object_get (item, self->features [f].name))
                    return s_fault (fault, 400, "missing_column", "row %zu: column '%s' is "
                                    "missing", row + 1, self->features [f].name);
        return 0;
    }
    return s_fault (fault, 400, "bad_shape", "row %zu is neither an array of values nor an "
                    "object of column: value", row + 1);
}

static int
s_read_rows (wb_scorer_t *self, json_t *array, s_rows_t *rows, wb_scorer_fault_t *fault)
{
    size_t index;
    json_t *item;
    json_array_foreach (array, index, item)
        if (s_read_row (self, item, rows, fault))
            return -1;
    return 0;
}

//  {"columns": [...], "data": [[...]]}: the columns map to features
static int
s_read_split (wb_scorer_t *self, json_t *split, s_rows_t *rows, wb_scorer_fault_t *fault)
{
    json_t *columns = json_object_get (split, "columns");
    json_t *data = json_object_get (split, "data");
    if (!json_is_array (data))
        return s_fault (fault, 400, "bad_shape", "a split frame needs \"data\": an array "
                        "of rows (and \"columns\": their names)");
    if (!columns)
        return s_read_rows (self, data, rows, fault);
    size_t count = json_array_size (columns);
    int *map = wb_malloc ((count + 1) * sizeof (int));
    bool *given = wb_calloc (self->nfeatures + 1, sizeof (bool));
    int rc = json_is_array (columns)? 0: s_fault (fault, 400, "bad_shape",
                                                  "\"columns\" must be an array of names");
    char names [320];
    for (size_t c = 0; c < count && rc == 0; c++) {
        const char *name = json_string_value (json_array_get (columns, c));
        //  the columns are most often in the model's order: try that first
        map [c] = !name? -1: c < self->nfeatures && streq (self->features [c].name, name)?
                  (int) c: s_feature_of (self, name);
        if (map [c] == -1) {
            s_columns_text (self, names, sizeof (names));
            rc = s_fault (fault, 400, "unknown_column", "unknown column '%.80s'; the model "
                          "takes %s", name? name: "(not text)", names);
        }
        else
        if (map [c] >= 0)
            given [map [c]] = true;
    }
    for (size_t f = 0; f < self->nfeatures && rc == 0; f++)
        if (!given [f])
            rc = s_fault (fault, 400, "missing_column", "column '%s' is missing from "
                          "\"columns\"", self->features [f].name);
    size_t index;
    json_t *item;
    json_array_foreach (data, index, item) {
        if (rc)
            break;
        size_t row = rows->rows;
        double *x = s_new_row (self, rows);
        if (!json_is_array (item) || json_array_size (item) != count) {
            rc = s_fault (fault, 400, "feature_count", "row %zu has %zu values but there are "
                          "%zu columns", row + 1, json_array_size (item), count);
            break;
        }
        for (size_t c = 0; c < count && rc == 0; c++)
            if (map [c] >= 0)
                rc = s_encode_value (self, (size_t) map [c], json_array_get (item, c), NULL,
                                     x, row, fault);
    }
    free (map);
    free (given);
    return rc;
}

//  {"col": [values], ...} (or {"col": value} for one row)
static int
s_read_columnar (wb_scorer_t *self, json_t *object, s_rows_t *rows, wb_scorer_fault_t *fault)
{
    size_t count = 0;
    bool scalars = false;
    const char *key;
    json_t *value;
    char names [320];
    json_object_foreach (object, key, value) {
        int f = s_feature_of (self, key);
        if (f == -1) {
            s_columns_text (self, names, sizeof (names));
            return s_fault (fault, 400, "unknown_column", "unknown column '%.80s'; the model "
                            "takes %s", key, names);
        }
        scalars = !json_is_array (value);
        count = scalars? 1: json_array_size (value);
    }
    for (size_t f = 0; f < self->nfeatures; f++) {
        json_t *column = json_object_get (object, self->features [f].name);
        if (!column)
            return s_fault (fault, 400, "missing_column", "column '%s' is missing",
                            self->features [f].name);
        if (json_is_array (column) == scalars || (!scalars && json_array_size (column) != count))
            return s_fault (fault, 400, "bad_shape", "the columns of \"inputs\" must all be "
                            "arrays of the same length (or all single values)");
    }
    for (size_t row = 0; row < count; row++) {
        double *x = s_new_row (self, rows);
        for (size_t f = 0; f < self->nfeatures; f++) {
            json_t *column = json_object_get (object, self->features [f].name);
            if (s_encode_value (self, f, scalars? column: json_array_get (column, row), NULL,
                                x, row, fault))
                return -1;
        }
    }
    return 0;
}

//  ---- The fast path: the common bodies, read without building JSON ----
//
//  {"data": [[n, ...], ...]}, {"instances": ...}, {"input_data": [[...]]}
//  and {"input_data": {"columns": [the model's columns, in order], "data":
//  [[...]]}} with plain numbers, for a model of numeric columns only. Any
//  other body (another shape or key, a string, null, probabilities asked
//  in the body, a column order of its own, bad JSON) is left to the full
//  reader, which also says what is wrong. Numbers go through strtod as in
//  jansson, so both readers give the same doubles.

typedef struct {
    const char *at, *end;
} s_scan_t;

static void
s_scan_space (s_scan_t *scan)
{
    while (scan->at < scan->end
    &&    (*scan->at == ' ' || *scan->at == '\t' || *scan->at == '\n' || *scan->at == '\r'))
        scan->at++;
}

static bool
s_scan_char (s_scan_t *scan, char c)
{
    s_scan_space (scan);
    if (scan->at < scan->end && *scan->at == c) {
        scan->at++;
        return true;
    }
    return false;
}

//  A key or string without escapes; its bytes in *text, *size
static bool
s_scan_string (s_scan_t *scan, const char **text, size_t *size)
{
    if (!s_scan_char (scan, '"'))
        return false;
    const char *start = scan->at;
    while (scan->at < scan->end && *scan->at != '"') {
        if (*scan->at == '\\' || (unsigned char) *scan->at < 0x20)
            return false;
        scan->at++;
    }
    if (scan->at == scan->end)
        return false;
    *text = start;
    *size = (size_t) (scan->at - start);
    scan->at++;
    return true;
}

//  A JSON number (its grammar exactly), finite
static bool
s_scan_number (s_scan_t *scan, double *value)
{
    s_scan_space (scan);
    const char *c = scan->at, *end = scan->end;
    if (c < end && *c == '-')
        c++;
    if (c == end || !isdigit ((unsigned char) *c))
        return false;
    if (*c == '0')
        c++;
    else
        while (c < end && isdigit ((unsigned char) *c))
            c++;
    if (c < end && *c == '.') {
        c++;
        if (c == end || !isdigit ((unsigned char) *c))
            return false;
        while (c < end && isdigit ((unsigned char) *c))
            c++;
    }
    if (c < end && (*c == 'e' || *c == 'E')) {
        c++;
        if (c < end && (*c == '+' || *c == '-'))
            c++;
        if (c == end || !isdigit ((unsigned char) *c))
            return false;
        while (c < end && isdigit ((unsigned char) *c))
            c++;
    }
    char digits [64];
    size_t length = (size_t) (c - scan->at);
    if (length >= sizeof (digits))
        return false;
    memcpy (digits, scan->at, length);
    digits [length] = 0;
    *value = strtod (digits, NULL);
    scan->at = c;
    return isfinite (*value);
}

//  [[n, ...], ...] with nfeatures numbers a row
static bool
s_scan_rows (wb_scorer_t *self, s_scan_t *scan, s_rows_t *rows)
{
    if (!s_scan_char (scan, '['))
        return false;
    if (s_scan_char (scan, ']'))
        return false;           //  no rows: the full reader says so
    do {
        if (!s_scan_char (scan, '['))
            return false;
        double *x = s_new_row (self, rows);
        for (size_t f = 0; f < self->nfeatures; f++) {
            double value;
            if ((f && !s_scan_char (scan, ',')) || !s_scan_number (scan, &value))
                return false;
            s_feature_t *feature = &self->features [f];
            x [f] = (value - feature->mean) * feature->scale;
        }
        if (!s_scan_char (scan, ']'))
            return false;
    } while (s_scan_char (scan, ','));
    return s_scan_char (scan, ']');
}

static bool
s_key_is (const char *text, size_t size, const char *key)
{
    return strlen (key) == size && memcmp (text, key, size) == 0;
}

static bool
s_read_fast (wb_scorer_t *self, const char *body, size_t size, s_rows_t *rows)
{
    for (size_t f = 0; f < self->nfeatures; f++)
        if (self->features [f].categorical)
            return false;
    s_scan_t scan = { body, body + size };
    const char *key;
    size_t length;
    if (!s_scan_char (&scan, '{') || !s_scan_string (&scan, &key, &length)
    ||  !s_scan_char (&scan, ':'))
        return false;
    bool ok;
    if (s_key_is (key, length, "data") || s_key_is (key, length, "instances"))
        ok = s_scan_rows (self, &scan, rows);
    else
    if (s_key_is (key, length, "input_data")) {
        s_scan_space (&scan);
        if (scan.at < scan.end && *scan.at == '[')
            ok = s_scan_rows (self, &scan, rows);
        else {
            //  {"columns": [the model's, in order], "data": [[...]]}
            ok = s_scan_char (&scan, '{') && s_scan_string (&scan, &key, &length)
              && s_key_is (key, length, "columns") && s_scan_char (&scan, ':')
              && s_scan_char (&scan, '[');
            for (size_t f = 0; ok && f < self->nfeatures; f++) {
                const char *name;
                size_t name_size;
                ok = (!f || s_scan_char (&scan, ',')) && s_scan_string (&scan, &name, &name_size)
                  && s_key_is (name, name_size, self->features [f].name);
            }
            ok = ok && s_scan_char (&scan, ']') && s_scan_char (&scan, ',')
              && s_scan_string (&scan, &key, &length) && s_key_is (key, length, "data")
              && s_scan_char (&scan, ':') && s_scan_rows (self, &scan, rows)
              && s_scan_char (&scan, '}');
        }
    }
    else
        return false;
    ok = ok && s_scan_char (&scan, '}');
    s_scan_space (&scan);
    if (!ok || scan.at != scan.end) {
        rows->rows = 0;         //  the full reader starts again
        return false;
    }
    return true;
}

static const char *s_shapes =
    "send {\"input_data\": {\"columns\": [...], \"data\": [[...]]}}, {\"input_data\": [[...]]}, "
    "{\"data\": [[...]]}, {\"dataframe_split\": ...}, {\"dataframe_records\": [...]}, "
    "{\"instances\": [...]} or {\"inputs\": ...}";

static int
s_read_json (wb_scorer_t *self, const char *body, size_t size, s_rows_t *rows,
             bool *probabilities, wb_scorer_fault_t *fault)
{
    json_error_t error;
    json_t *root = json_loadb (body, size, 0, &error);
    if (!root)
        return s_fault (fault, 400, "bad_json", "the body is not valid JSON: %s at line %d, "
                        "column %d", error.text, error.line, error.column);
    int rc = 0;
    json_t *value;
    json_t *params = json_object_get (root, "params");
    if (json_is_true (json_object_get (params, "probabilities"))
    ||  json_is_true (json_object_get (root, "probabilities")))
        *probabilities = true;
    if (!json_is_object (root))
        rc = s_fault (fault, 400, "bad_shape", "the body is a JSON %s, not an object: %s",
                      json_is_array (root)? "array": "value", s_shapes);
    else
    if ((value = json_object_get (root, "input_data"))) {
        if (json_is_object (value))
            rc = s_read_split (self, value, rows, fault);
        else
        if (json_is_array (value))
            rc = s_read_rows (self, value, rows, fault);
        else
            rc = s_fault (fault, 400, "bad_shape", "\"input_data\" must be a split frame "
                          "{\"columns\", \"data\"} or an array of rows");
    }
    else
    if ((value = json_object_get (root, "dataframe_split")))
        rc = json_is_object (value)? s_read_split (self, value, rows, fault):
             s_fault (fault, 400, "bad_shape", "\"dataframe_split\" must be an object "
                      "{\"columns\", \"data\"}");
    else
    if ((value = json_object_get (root, "dataframe_records"))
    ||  (value = json_object_get (root, "instances"))
    ||  (value = json_object_get (root, "data"))) {
        if (json_is_array (value))
            rc = s_read_rows (self, value, rows, fault);
        else
            rc = s_fault (fault, 400, "bad_shape", "\"%s\" must be an array of rows",
                          json_object_get (root, "dataframe_records")? "dataframe_records":
                          json_object_get (root, "instances")? "instances": "data");
    }
    else
    if ((value = json_object_get (root, "inputs"))) {
        if (json_is_array (value))
            rc = s_read_rows (self, value, rows, fault);
        else
        if (json_is_object (value))
            rc = s_read_columnar (self, value, rows, fault);
        else
            rc = s_fault (fault, 400, "bad_shape", "\"inputs\" must be an array of rows or "
                          "an object of columns");
    }
    else
        rc = s_fault (fault, 400, "bad_shape", "no input in the body: %s", s_shapes);
    if (rc == 0 && rows->rows == 0)
        rc = s_fault (fault, 400, "bad_shape", "the body holds no rows");
    json_decref (root);
    return rc;
}

//  The next CSV field of a line at *cursor into field; false at the end
static bool
s_csv_field (const char **cursor, const char *end, wb_buf_t *field, bool *line_end)
{
    const char *c = *cursor;
    wb_buf_reset (field);
    if (c > end || *line_end)
        return false;
    if (c < end && *c == '"') {
        c++;
        while (c < end) {
            if (*c == '"' && c + 1 < end && c [1] == '"') {
                wb_buf_append (field, "\"", 1);
                c += 2;
            }
            else
            if (*c == '"') {
                c++;
                break;
            }
            else
                wb_buf_append (field, c++, 1);
        }
    }
    while (c < end && *c != ',' && *c != '\n' && *c != '\r')
        wb_buf_append (field, c++, 1);
    *line_end = c >= end || *c == '\n' || *c == '\r';
    if (c < end && *c == '\r')
        c++;
    *cursor = c + 1;
    return true;
}

static int
s_read_csv (wb_scorer_t *self, const char *body, size_t size, s_rows_t *rows,
            wb_scorer_fault_t *fault)
{
    const char *cursor = body, *end = body + size;
    if (size >= 3 && memcmp (body, "\xEF\xBB\xBF", 3) == 0)
        cursor += 3;
    wb_buf_t *field = wb_buf_new ();
    //  Header: the column names
    size_t count = 0, room = 16;
    int *map = wb_malloc (room * sizeof (int));
    bool *given = wb_calloc (self->nfeatures + 1, sizeof (bool));
    bool line_end = false;
    int rc = 0;
    char names [320];
    while (rc == 0 && s_csv_field (&cursor, end, field, &line_end)) {
        if (count == room)
            map = wb_realloc (map, (room *= 2) * sizeof (int));
        const char *name = wb_buf_data (field);
        map [count] = s_feature_of (self, name);
        if (map [count] == -1) {
            s_columns_text (self, names, sizeof (names));
            rc = s_fault (fault, 400, "unknown_column", "CSV header: unknown column '%.80s'; "
                          "the model takes %s (the first line must name the columns)",
                          name, names);
        }
        else
        if (map [count] >= 0)
            given [map [count]] = true;
        count++;
    }
    for (size_t f = 0; f < self->nfeatures && rc == 0; f++)
        if (!given [f])
            rc = s_fault (fault, 400, "missing_column", "CSV header: column '%s' is missing",
                          self->features [f].name);
    //  Rows
    while (rc == 0 && cursor < end) {
        if (*cursor == '\n' || *cursor == '\r') {
            cursor++;
            continue;           //  blank line
        }
        size_t row = rows->rows, column = 0;
        double *x = s_new_row (self, rows);
        line_end = false;
        while (rc == 0 && s_csv_field (&cursor, end, field, &line_end)) {
            if (column < count && map [column] >= 0)
                rc = s_encode_value (self, (size_t) map [column], NULL, wb_buf_data (field),
                                     x, row, fault);
            column++;
        }
        if (rc == 0 && column != count)
            rc = s_fault (fault, 400, "feature_count", "CSV row %zu has %zu fields; the "
                          "header has %zu", row + 1, column, count);
    }
    if (rc == 0 && rows->rows == 0)
        rc = s_fault (fault, 400, "bad_shape", "the CSV holds a header but no rows");
    wb_buf_destroy (&field);
    free (map);
    free (given);
    return rc;
}

//  ---- Scoring ----

//  The non-zero inputs of an encoded row, in the order of the one-hot
//  vector: *slot its position there, *value its value; false at the end.
//  *f is the cursor (start at 0).
static bool
s_next_input (wb_scorer_t *self, const double *x, size_t *f, size_t *slot, double *value)
{
    while (*f < self->nfeatures) {
        s_feature_t *feature = &self->features [*f];
        double v = x [(*f)++];
        if (feature->categorical) {
            if (v < 0)
                continue;
            *slot = feature->offset + (size_t) v;
            *value = 1;
            return true;
        }
        if (v != 0) {
            *slot = feature->offset;
            *value = v;
            return true;
        }
    }
    return false;
}

//  The last layer's outputs of one encoded row into out (widest doubles
//  of room in a and b)
static void
s_forward (wb_scorer_t *self, const double *x, double *a, double *b, double **out_p)
{
    const double *input = x;
    double *output = a;
    for (size_t l = 0; l < self->nlayers; l++) {
        s_layer_t *layer = &self->layers [l];
        output = l % 2? b: a;
        memset (output, 0, layer->out * sizeof (double));
        if (l == 0) {
            //  The compact row: only its non-zero inputs, in the same order
            size_t f = 0, i;
            double value;
            while (s_next_input (self, x, &f, &i, &value)) {
                const double *w = layer->weights + i * layer->out;
                for (size_t j = 0; j < layer->out; j++)
                    output [j] += value * w [j];
            }
        }
        else
        for (size_t i = 0; i < layer->in; i++) {
            double value = input [i];
            if (value == 0)
                continue;
            const double *w = layer->weights + i * layer->out;
            for (size_t j = 0; j < layer->out; j++)
                output [j] += value * w [j];
        }
        double *v = output;
        size_t out = layer->out;
        for (size_t j = 0; j < out; j++)
            v [j] += layer->bias [j];
        if (layer->activation == S_RELU)
            for (size_t j = 0; j < out; j++)
                v [j] = v [j] > 0? v [j]: 0;
        else
        if (layer->activation == S_SIGMOID)
            for (size_t j = 0; j < out; j++)
                v [j] = 1 / (1 + exp (-v [j]));
        else
        if (layer->activation == S_SOFTMAX) {
            double top = v [0], sum = 0;
            for (size_t j = 1; j < out; j++)
                top = v [j] > top? v [j]: top;
            for (size_t j = 0; j < out; j++)
                sum += (v [j] = exp (v [j] - top));
            for (size_t j = 0; j < out; j++)
                v [j] /= sum;
        }
        input = output;
    }
    *out_p = output;
}

//  Score one encoded row (a and b: widest + 1 doubles of room): *value
//  gets the value (regression), the class index or the cluster; proba
//  (room for the classes; may be NULL) the class probabilities of a
//  classifier; *distance (may be NULL) a cluster's squared distance to
//  the row in the encoded space.
static void
s_score_row (wb_scorer_t *self, const double *x, double *a, double *b, double *value,
             double *proba, double *distance)
{
    if (self->task == S_CLUSTERING) {
        size_t best = 0;
        double nearest = 0;
        for (size_t j = 0; j < self->k; j++) {
            const double *c = self->centers + j * self->inputs;
            double dot = 0, input;
            size_t f = 0, i;
            while (s_next_input (self, x, &f, &i, &input))
                dot += input * c [i];
            double squared = -2 * dot + self->norms [j];
            if (j == 0 || squared < nearest) {
                nearest = squared;
                best = j;
            }
        }
        *value = (double) best;
        if (distance) {
            double squares = 0, input;
            size_t f = 0, i;
            while (s_next_input (self, x, &f, &i, &input))
                squares += input * input;
            *distance = squares + nearest > 0? squares + nearest: 0;
        }
        return;
    }
    double *out;
    s_forward (self, x, a, b, &out);
    if (self->task == S_REGRESSION) {
        *value = out [0] * self->target_std + self->target_mean;
        return;
    }
    size_t best = 0;
    bool sigmoid = self->layers [self->nlayers - 1].activation == S_SIGMOID;
    if (sigmoid)
        best = out [0] > 0.5? 1: 0;
    else
        for (size_t j = 1; j < self->nclasses; j++)
            if (out [j] > out [best])
                best = j;
    for (size_t j = 0; proba && j < self->nclasses; j++)
        proba [j] = sigmoid? (j? out [0]: 1 - out [0]): out [j];
    *value = (double) best;
}

static void
s_json_string (wb_buf_t *buf, const char *text)
{
    wb_buf_append (buf, "\"", 1);
    for (const char *c = text; *c; c++) {
        if (*c == '"' || *c == '\\') {
            wb_buf_append (buf, "\\", 1);
            wb_buf_append (buf, c, 1);
        }
        else
        if ((unsigned char) *c < 0x20)
            wb_buf_printf (buf, "\\u%04x", (unsigned char) *c);
        else
            wb_buf_append (buf, c, 1);
    }
    wb_buf_append (buf, "\"", 1);
}

static void
s_json_label (wb_scorer_t *self, wb_buf_t *buf, size_t index)
{
    if (self->numeric_classes)
        wb_buf_puts (buf, self->classes [index]);
    else
        s_json_string (buf, self->classes [index]);
}

static void
s_json_number (wb_buf_t *buf, double value)
{
    char text [32];
    if (!isfinite (value))
        wb_buf_puts (buf, "null");
    else {
        wb_double_text (value, text, sizeof (text));
        wb_buf_puts (buf, text);
    }
}

int
wb_scorer_score (wb_scorer_t *self, const char *content_type, const char *body, size_t size,
                 bool probabilities, wb_buf_t *answer, wb_scorer_fault_t *fault)
{
    assert (self && answer && fault);
    s_rows_t rows = { NULL, 0, 0 };
    int rc;
    bool csv = content_type && strncasecmp (content_type, "text/csv", 8) == 0;
    bool json = !content_type || !*content_type
             || strncasecmp (content_type, "application/json", 16) == 0;
    if (csv)
        rc = s_read_csv (self, body, size, &rows, fault);
    else
    if (json)
        rc = s_read_fast (self, body, size, &rows)? 0
           : s_read_json (self, body, size, &rows, &probabilities, fault);
    else
        rc = s_fault (fault, 415, "content_type", "content type '%.80s' is not accepted: "
                      "send application/json or text/csv", content_type);
    if (rc) {
        free (rows.x);
        return -1;
    }
    bool with_proba = probabilities && self->task == S_CLASSIFICATION;
    if (with_proba && rows.rows * self->nclasses > S_MAX_ANSWER_NUMBERS) {
        s_fault (fault, 413, "too_large", "an answer with probabilities would hold %zu "
                 "numbers (%zu rows x %zu classes), over %d: send fewer rows per request",
                 rows.rows * self->nclasses, rows.rows, self->nclasses, S_MAX_ANSWER_NUMBERS);
        free (rows.x);
        return -1;
    }
    double *a = wb_malloc ((self->widest + 1) * sizeof (double));
    double *b = wb_malloc ((self->widest + 1) * sizeof (double));
    //  Probabilities are written as they come, after the predictions
    wb_buf_t *proba = with_proba? wb_buf_new (): NULL;
    wb_buf_puts (answer, "{\"predictions\":[");
    double *scores = wb_malloc ((self->nclasses + 1) * sizeof (double));
    for (size_t row = 0; row < rows.rows; row++) {
        const double *x = rows.x + row * self->nfeatures;
        if (row)
            wb_buf_append (answer, ",", 1);
        double value;
        s_score_row (self, x, a, b, &value, proba? scores: NULL, NULL);
        if (self->task == S_CLUSTERING) {
            wb_buf_printf (answer, "%zu", (size_t) value);
            continue;
        }
        if (self->task == S_REGRESSION) {
            s_json_number (answer, value);
            continue;
        }
        if (proba) {
            wb_buf_puts (proba, row? ",[": "[");
            for (size_t j = 0; j < self->nclasses; j++) {
                if (j)
                    wb_buf_append (proba, ",", 1);
                s_json_number (proba, scores [j]);
            }
            wb_buf_append (proba, "]", 1);
        }
        s_json_label (self, answer, (size_t) value);
    }
    free (scores);
    wb_buf_append (answer, "]", 1);
    if (with_proba) {
        wb_buf_puts (answer, ",\"classes\":[");
        for (size_t j = 0; j < self->nclasses; j++) {
            if (j)
                wb_buf_append (answer, ",", 1);
            s_json_label (self, answer, j);
        }
        wb_buf_puts (answer, "],\"probabilities\":[");
        wb_buf_append (answer, wb_buf_data (proba), wb_buf_size (proba));
        wb_buf_append (answer, "]", 1);
    }
    wb_buf_append (answer, "}", 1);
    free (a);
    free (b);
    wb_buf_destroy (&proba);
    free (rows.x);
    return (int) rows.rows;
}

//  ---- Scoring a table ----

//  Whether text reads as a number, as a numeric column's cells must
static bool
s_is_number (const char *text)
{
    char *end;
    double value = strtod (text, &end);
    while (*end == ' ')
        end++;
    return end != text && !*end && isfinite (value);
}

//  The rows of frame encoded as the requests are (rows x nfeatures); NULL
//  with err, in the words training uses for the same faults
static double *
s_encode_frame (wb_scorer_t *self, wb_frame_t *frame, wb_error_t *err)
{
    size_t rows = wb_frame_rows (frame), width = self->nfeatures;
    double *x = wb_malloc ((rows? rows: 1) * (width? width: 1) * sizeof (double));
    size_t bad_row = SIZE_MAX, bad_feature = 0;
    for (size_t f = 0; f < width; f++) {
        s_feature_t *feature = &self->features [f];
        int col = wb_frame_find (frame, feature->name);
        if (col < 0) {
            free (x);
            wb_error_set (err, "column '%s' that the model needs is missing from the table",
                          feature->name);
            return NULL;
        }
        if (feature->categorical) {
            //  a column's strings are interned: equal pointers, equal text
            const char *last = NULL;
            double last_index = -1;
            for (size_t row = 0; row < rows; row++) {
                const char *text = wb_frame_text (frame, (size_t) col, row);
                if (!text || text != last) {
                    last_index = -1;
                    for (size_t c = 0; text && c < feature->ncategories; c++)
                        if (streq (feature->categories [c], text)) {
                            last_index = (double) c;
                            break;
                        }
                    last = text;
                }
                x [row * width + f] = last_index;
            }
            continue;
        }
        const double *numbers = wb_frame_numbers (frame, (size_t) col);
        if (!numbers) {
            for (size_t row = 0; row < rows; row++) {
                const char *text = wb_frame_text (frame, (size_t) col, row);
                if (text && !s_is_number (text)) {
                    wb_error_set (err, "column '%s' in the table must be numeric, as in "
                                  "training, but row %zu holds '%s': fix that value",
                                  feature->name, row + 1, text);
                    free (x);
                    return NULL;
                }
            }
            free (x);
            wb_error_set (err, "column '%s' in the table must be numeric, as in training",
                          feature->name);
            return NULL;
        }
        for (size_t row = 0; row < rows; row++) {
            if (!isfinite (numbers [row])) {
                if (row < bad_row) {
                    bad_row = row;
                    bad_feature = f;
                }
                x [row * width + f] = 0;
            }
            else
                x [row * width + f] = (numbers [row] - feature->mean) * feature->scale;
        }
    }
    if (bad_row != SIZE_MAX) {
        wb_error_set (err, "column '%s' in the table has a missing value at row %zu: fill or "
                      "drop it first", self->features [bad_feature].name, bad_row + 1);
        free (x);
        return NULL;
    }
    return x;
}

int
wb_scorer_frame (wb_scorer_t *self, wb_frame_t *frame, double **values_p, double **proba_p,
                 double **distances_p, wb_error_t *err)
{
    assert (self && frame && values_p);
    *values_p = NULL;
    if (proba_p)
        *proba_p = NULL;
    if (distances_p)
        *distances_p = NULL;
    double *x = s_encode_frame (self, frame, err);
    if (!x)
        return -1;
    size_t rows = wb_frame_rows (frame);
    double *values = wb_malloc ((rows? rows: 1) * sizeof (double));
    double *proba = proba_p && self->task == S_CLASSIFICATION
                  ? wb_malloc ((rows? rows: 1) * self->nclasses * sizeof (double)): NULL;
    double *distances = distances_p && self->task == S_CLUSTERING
                      ? wb_malloc ((rows? rows: 1) * sizeof (double)): NULL;
    double *a = wb_malloc ((self->widest + 1) * sizeof (double));
    double *b = wb_malloc ((self->widest + 1) * sizeof (double));
    for (size_t row = 0; row < rows; row++)
        s_score_row (self, x + row * self->nfeatures, a, b, values + row,
                     proba? proba + row * self->nclasses: NULL, distances? distances + row: NULL);
    free (a);
    free (b);
    free (x);
    *values_p = values;
    if (proba_p)
        *proba_p = proba;
    if (distances_p)
        *distances_p = distances;
    return 0;
}

//  ---- Self-test ----

//  @selftest
#include "train/wb_model.h"
#include "data/wb_frame.h"

//  Score body; the answer parsed (caller owns) or NULL with fault
static json_t *
s_test_score (wb_scorer_t *scorer, const char *type, const char *body, bool proba,
              wb_scorer_fault_t *fault)
{
    wb_buf_t *answer = wb_buf_new ();
    json_t *result = NULL;
    if (wb_scorer_score (scorer, type, body, strlen (body), proba, answer, fault) >= 0) {
        result = json_loadb (wb_buf_data (answer), wb_buf_size (answer), 0, NULL);
        assert (result);
    }
    else
        assert (wb_buf_size (answer) == 0);
    wb_buf_destroy (&answer);
    return result;
}

void
wb_scorer_test (bool verbose)
{
    (void) verbose;
    //  A table with a numeric target, a categorical column and a class
    const char *csv =
        "x,y,colour,label,value\n"
        "1,2,red,a,3.5\n2,1,blue,b,4\n3,3,red,a,7.25\n4,5,green,b,9\n"
        "5,4,blue,a,8.5\n6,7,red,b,13\n7,6,green,a,12.5\n8,9,blue,b,17\n";
    wb_error_t err;
    wb_frame_t *frame = wb_frame_parse_csv (csv, strlen (csv), "test", &err);
    assert (frame);
    const char *kinds [] = { "linear", "logistic", "mlp", "kmeans" };
    const char *targets [] = { "value", "label", "label", NULL };
    for (int k = 0; k < 4; k++) {
        json_t *params = json_pack ("{s:s, s:i}", "features", "x,y,colour", "seed", 1);
        if (streq (kinds [k], "kmeans"))
            json_object_set_new (params, "k", json_integer (3));
        if (streq (kinds [k], "mlp"))
            json_object_set_new (params, "epochs", json_integer (20));
        wb_model_t *model = wb_model_train (frame, NULL, targets [k], kinds [k], params,
                                            NULL, NULL, &err);
        json_decref (params);
        if (!model && strstr (err.text, "OpenBLAS")) {
            wb_frame_destroy (&frame);
            return;             //  no OpenBLAS on this machine: nothing to compare with
        }
        assert (model);
        size_t size;
        char *file = wb_model_save (model, &size);
        wb_scorer_t *scorer = wb_scorer_new (file, size, &err);
        assert (scorer);
        free (file);
        double *values, *proba;
        assert (wb_model_predict (model, frame, &values, &proba, &err) == 0);
        //  The same rows as records: predictions equal %predict's
        wb_buf_t *body = wb_buf_new ();
        wb_buf_puts (body, "{\"dataframe_records\":[");
        for (size_t row = 0; row < wb_frame_rows (frame); row++)
        {
            //  (wb_frame_text lends its text until the next call)
            wb_buf_printf (body, "%s{\"x\":%s,", row? ",": "", wb_frame_text (frame, 0, row));
            wb_buf_printf (body, "\"y\":%s,", wb_frame_text (frame, 1, row));
            wb_buf_printf (body, "\"colour\":\"%s\",", wb_frame_text (frame, 2, row));
            wb_buf_printf (body, "\"%s\":\"z\"}", targets [k]? targets [k]: "colour");
        }
        wb_buf_puts (body, "]}");
        wb_scorer_fault_t fault;
        json_t *answer = s_test_score (scorer, "application/json", wb_buf_data (body), true, &fault);
        assert (answer);
        json_t *predictions = json_object_get (answer, "predictions");
        assert (json_array_size (predictions) == wb_frame_rows (frame));
        for (size_t row = 0; row < wb_frame_rows (frame); row++) {
            json_t *got = json_array_get (predictions, row);
            if (streq (kinds [k], "linear"))
                assert (fabs (json_number_value (got) - values [row]) <= 1e-9 * (1 + fabs (values [row])));
            else
            if (streq (kinds [k], "kmeans"))
                assert (json_integer_value (got) == (json_int_t) values [row]);
            else {
                assert (streq (json_string_value (got), wb_model_class (model, (size_t) values [row])));
                json_t *p = json_array_get (json_object_get (answer, "probabilities"), row);
                for (size_t c = 0; c < 2; c++)
                    assert (fabs (json_number_value (json_array_get (p, c)) - proba [row * 2 + c]) < 1e-9);
            }
        }
        json_decref (answer);
        wb_buf_destroy (&body);
        //  The table scored at once: the same predictions again, and for
        //  k-means the distances the inertia sums
        double *scored, *scored_proba, *distances;
        assert (wb_scorer_frame (scorer, frame, &scored, &scored_proba, &distances, &err) == 0);
        json_t *metrics = wb_model_evaluate (model, frame, NULL, &err);
        assert (metrics);
        double inertia = 0;
        for (size_t row = 0; row < wb_frame_rows (frame); row++) {
            if (streq (kinds [k], "linear"))
                assert (fabs (scored [row] - values [row]) <= 1e-9 * (1 + fabs (values [row])));
            else
                assert (scored [row] == values [row]);
            if (proba)
                for (size_t c = 0; c < 2; c++)
                    assert (fabs (scored_proba [row * 2 + c] - proba [row * 2 + c]) < 1e-9);
            if (distances)
                inertia += distances [row];
        }
        assert (!proba == !scored_proba && !distances == !streq (kinds [k], "kmeans"));
        if (distances) {
            double expected = json_number_value (json_object_get (metrics, "inertia"));
            assert (fabs (inertia - expected) <= 1e-9 * (1 + expected));
        }
        //  and the metrics of these scores are wb_model_evaluate's
        json_t *same = wb_model_evaluate_scores (model, frame, NULL, scored, scored_proba,
                                                 distances, &err);
        assert (same && json_object_size (same) == json_object_size (metrics));
        const char *key;
        json_t *number;
        json_object_foreach (metrics, key, number)
            if (json_is_number (number))
                assert (fabs (json_number_value (json_object_get (same, key)) - json_number_value (number))
                        <= 1e-9 * (1 + fabs (json_number_value (number))));
            else
                assert (json_equal (json_object_get (same, key), number));
        json_decref (same);
        json_decref (metrics);
        free (scored);
        free (scored_proba);
        free (distances);
        //  Scoring a table says what is wrong with it as training does
        const char *partial = "x,colour\n1,red\n";
        wb_frame_t *table = wb_frame_parse_csv (partial, strlen (partial), "test", &err);
        assert (wb_scorer_frame (scorer, table, &scored, NULL, NULL, &err) == -1 && !scored);
        assert (strstr (err.text, "column 'y' that the model needs is missing from the table"));
        wb_frame_destroy (&table);
        const char *gaps = "x,y,colour\n1,2,red\n3,,blue\n";
        table = wb_frame_parse_csv (gaps, strlen (gaps), "test", &err);
        assert (wb_scorer_frame (scorer, table, &scored, NULL, NULL, &err) == -1);
        assert (strstr (err.text, "column 'y' in the table has a missing value at row 2"));
        wb_frame_destroy (&table);
        const char *words = "x,y,colour\n1,two,red\n";
        table = wb_frame_parse_csv (words, strlen (words), "test", &err);
        assert (wb_scorer_frame (scorer, table, &scored, NULL, NULL, &err) == -1);
        assert (strstr (err.text, "column 'y' in the table must be numeric, as in training, "
                        "but row 1 holds 'two'"));
        wb_frame_destroy (&table);
        //  Every shape gives the same first prediction
        const char *shapes [] = {
            "{\"input_data\":{\"columns\":[\"colour\",\"x\",\"y\"],\"data\":[[\"red\",1,2]]}}",
            "{\"input_data\":[[1,2,\"red\"]]}",
            "{\"data\":[[1,2,\"red\"]]}",
            "{\"dataframe_split\":{\"columns\":[\"x\",\"y\",\"colour\"],\"data\":[[1,2,\"red\"]]}}",
            "{\"instances\":[{\"x\":1,\"y\":2,\"colour\":\"red\"}]}",
            "{\"inputs\":{\"x\":[1],\"y\":[2],\"colour\":[\"red\"]}}",
            "{\"inputs\":[[1,2,\"red\"]]}",
        };
        char *first = NULL;
        for (size_t s = 0; s < sizeof (shapes) / sizeof (shapes [0]); s++) {
            answer = s_test_score (scorer, NULL, shapes [s], false, &fault);
            assert (answer);
            char *text = json_dumps (json_object_get (answer, "predictions"), JSON_ENCODE_ANY);
            if (first)
                assert (streq (first, text));
            else
                first = wb_strdup (text);
            free (text);
            json_decref (answer);
        }
        answer = s_test_score (scorer, "text/csv; charset=utf-8", "y,x,colour\n2,1,red\n", false, &fault);
        assert (answer);
        char *text = json_dumps (json_object_get (answer, "predictions"), JSON_ENCODE_ANY);
        assert (streq (text, first));
        free (text);
        free (first);
        json_decref (answer);
        //  Bad requests: each says what was wrong
        struct { const char *type, *body; int status; const char *code, *says; } bad [] = {
            { NULL, "{\"data\":[[1,2]]}", 400, "feature_count", "takes 3, in this order: x, y, colour" },
            { NULL, "{\"data\":[[1,\"two\",\"red\"]]}", 400, "not_numeric", "column 'y' takes a number" },
            { NULL, "{\"instances\":[{\"x\":1,\"y\":2,\"colour\":\"red\",\"w\":1}]}", 400, "unknown_column", "unknown column 'w'" },
            { NULL, "{\"instances\":[{\"x\":1,\"colour\":\"red\"}]}", 400, "missing_column", "column 'y' is missing" },
            { NULL, "{\"data\":[[1,null,\"red\"]]}", 400, "missing_value", "column 'y' is missing (null)" },
            { NULL, "{\"data\":", 400, "bad_json", "not valid JSON" },
            { NULL, "{\"rows\":[]}", 400, "bad_shape", "no input in the body" },
            { NULL, "[[1,2,\"red\"]]", 400, "bad_shape", "not an object" },
            { NULL, "{\"data\":[]}", 400, "bad_shape", "no rows" },
            { "text/plain", "1,2,red", 415, "content_type", "application/json or text/csv" },
            { "text/csv", "x,y\n1,2\n", 400, "missing_column", "'colour' is missing" },
            { "text/csv", "x,y,colour\n1,zz,red\n", 400, "not_numeric", "not 'zz'" },
        };
        for (size_t b = 0; b < sizeof (bad) / sizeof (bad [0]); b++) {
            answer = s_test_score (scorer, bad [b].type, bad [b].body, false, &fault);
            if (answer || fault.status != bad [b].status || !streq (fault.code, bad [b].code)
            ||  !strstr (fault.message, bad [b].says))
                fprintf (stderr, "case %zu: %d %s %s\n", b, fault.status, fault.code, fault.message);
            assert (!answer);
            assert (fault.status == bad [b].status);
            assert (streq (fault.code, bad [b].code));
            assert (strstr (fault.message, bad [b].says));
        }
        assert (json_array_size (json_object_get (wb_scorer_expects (scorer), "columns")) == 3);
        free (values);
        free (proba);
        wb_scorer_destroy (&scorer);
        wb_model_destroy (&model);
    }
    //  A model of numeric columns only: the fast path and the full reader
    //  answer the same bytes, and whatever the fast path does not take
    //  goes to the full reader (with its errors)
    json_t *params = json_pack ("{s:s, s:i}", "features", "x,y", "seed", 1);
    wb_model_t *model = wb_model_train (frame, NULL, "label", "logistic", params, NULL, NULL, &err);
    json_decref (params);
    assert (model);
    size_t size;
    char *file = wb_model_save (model, &size);
    wb_scorer_t *scorer = wb_scorer_new (file, size, &err);
    free (file);
    const char *same [] = {
        "{\"data\": [[1, 2], [6.5e0, -7.25]]}",                              //  fast
        " {\"instances\":[[1,2],[6.5,-7.25]]} ",                              //  fast
        "{\"input_data\": [[1, 2], [6.5, -7.25]]}",                           //  fast
        "{\"input_data\": {\"columns\": [\"x\", \"y\"], \"data\": [[1, 2], [6.5, -7.25]]}}",   //  fast
        "{\"input_data\": {\"columns\": [\"y\", \"x\"], \"data\": [[2, 1], [-7.25, 6.5]]}}",   //  full
        "{\"data\": [[1, 2], [6.5, -7.25]], \"params\": {}}",                  //  full
        "{\"dataframe_records\": [{\"x\": 1, \"y\": 2}, {\"x\": 6.5, \"y\": -7.25}]}"       //  full
    };
    wb_buf_t *first = wb_buf_new (), *answer_buf = wb_buf_new ();
    wb_scorer_fault_t fault;
    for (size_t b = 0; b < sizeof (same) / sizeof (same [0]); b++) {
        wb_buf_reset (answer_buf);
        assert (wb_scorer_score (scorer, "application/json", same [b], strlen (same [b]), true,
                                 answer_buf, &fault) == 2);
        if (b == 0)
            wb_buf_puts (first, wb_buf_data (answer_buf));
        assert (streq (wb_buf_data (first), wb_buf_data (answer_buf)));
        s_rows_t rows = { NULL, 0, 0 };
        assert (s_read_fast (scorer, same [b], strlen (same [b]), &rows) == (b < 4));
        free (rows.x);
    }
    const struct { const char *body, *code; } refused [] = {
        { "{\"data\": [[1, null]]}", "missing_value" },
        { "{\"data\": [[1, 2, 3]]}", "feature_count" },
        { "{\"data\": [[01, 2]]}", "bad_json" },
        { "{\"data\": [[1, \"2\"]]}", "not_numeric" },
        { "{\"data\": []}", "bad_shape" },
        { "{\"data\": [[1, 2]]", "bad_json" }
    };
    for (size_t b = 0; b < sizeof (refused) / sizeof (refused [0]); b++) {
        wb_buf_reset (answer_buf);
        assert (wb_scorer_score (scorer, "application/json", refused [b].body,
                                 strlen (refused [b].body), false, answer_buf, &fault) == -1);
        assert (streq (fault.code, refused [b].code));
    }
    wb_buf_destroy (&first);
    wb_buf_destroy (&answer_buf);
    wb_scorer_destroy (&scorer);
    wb_model_destroy (&model);
    wb_frame_destroy (&frame);
    //  Not a model file
    assert (!wb_scorer_new ("{}", 2, &err));
    assert (strstr (err.text, "not a Workbench model file"));
    const char *damaged = "{\"format\":\"workbench-model\",\"kind\":\"linear\","
        "\"task\":\"regression\",\"features\":[{\"name\":\"x\",\"type\":\"numeric\","
        "\"mean\":0,\"std\":1}],\"inputs\":1,\"layers\":[{\"weights\":[[1,2]],"
        "\"bias\":[0],\"activation\":\"identity\"}]}";
    assert (!wb_scorer_new (damaged, strlen (damaged), &err));
    assert (strstr (err.text, "damaged"));
}
//  @end
