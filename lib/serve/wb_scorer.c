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

    This file: loading, scoring, the answer. Reading a request is
    wb_scorer_read.c (wb_scorer_int.h).
*/
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "wb_scorer_int.h"

#define S_MAX_ANSWER_NUMBERS  1000000     //  probabilities an answer may hold (rows x classes)

enum { S_IDENTITY, S_RELU, S_SIGMOID, S_SOFTMAX };
enum { S_REGRESSION, S_CLASSIFICATION, S_CLUSTERING };

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
    self->features = wb_calloc (self->nfeatures + 1, sizeof (wb_scorer__feature_t));
    json_t *columns = json_array ();
    for (size_t i = 0; i < self->nfeatures && !problem; i++) {
        json_t *item = json_array_get (features, i);
        wb_scorer__feature_t *feature = &self->features [i];
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
    self->layers = wb_calloc (self->nlayers + 1, sizeof (wb_scorer__layer_t));
    size_t width = self->inputs;
    self->widest = 1;
    for (size_t l = 0; l < self->nlayers && !problem; l++) {
        json_t *item = json_array_get (layers, l);
        wb_scorer__layer_t *layer = &self->layers [l];
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

//  ---- Scoring ----

//  The non-zero inputs of an encoded row, in the order of the one-hot
//  vector: *slot its position there, *value its value; false at the end.
//  *f is the cursor (start at 0).
static bool
s_next_input (wb_scorer_t *self, const double *x, size_t *f, size_t *slot, double *value)
{
    while (*f < self->nfeatures) {
        wb_scorer__feature_t *feature = &self->features [*f];
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
        wb_scorer__layer_t *layer = &self->layers [l];
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
    wb_scorer__rows_t rows = { NULL, 0, 0 };
    int rc;
    bool csv = content_type && strncasecmp (content_type, "text/csv", 8) == 0;
    bool json = !content_type || !*content_type
             || strncasecmp (content_type, "application/json", 16) == 0;
    if (csv)
        rc = wb_scorer__read_csv (self, body, size, &rows, fault);
    else
    if (json)
        rc = wb_scorer__read_fast (self, body, size, &rows)? 0
           : wb_scorer__read_json (self, body, size, &rows, &probabilities, fault);
    else
        rc = wb_scorer__fault (fault, 415, "content_type", "content type '%.80s' is not accepted: "
                               "send application/json or text/csv", content_type);
    if (rc) {
        free (rows.x);
        return -1;
    }
    bool with_proba = probabilities && self->task == S_CLASSIFICATION;
    if (with_proba && rows.rows * self->nclasses > S_MAX_ANSWER_NUMBERS) {
        wb_scorer__fault (fault, 413, "too_large", "an answer with probabilities would hold %zu "
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
        wb_scorer__feature_t *feature = &self->features [f];
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
wb_frame_t *
wb_scorer__test_frame (void)
{
    //  A table with a numeric target, a categorical column and a class
    const char *csv =
        "x,y,colour,label,value\n"
        "1,2,red,a,3.5\n2,1,blue,b,4\n3,3,red,a,7.25\n4,5,green,b,9\n"
        "5,4,blue,a,8.5\n6,7,red,b,13\n7,6,green,a,12.5\n8,9,blue,b,17\n";
    wb_error_t err;
    wb_frame_t *frame = wb_frame_parse_csv (csv, strlen (csv), "test", &err);
    assert (frame);
    return frame;
}

wb_scorer_t *
wb_scorer__test_model (wb_frame_t *frame, const char *kind, const char *target,
                       const char *features, wb_model_t **model_p)
{
    wb_error_t err;
    json_t *params = json_pack ("{s:s, s:i}", "features", features, "seed", 1);
    if (streq (kind, "kmeans"))
        json_object_set_new (params, "k", json_integer (3));
    if (streq (kind, "mlp"))
        json_object_set_new (params, "epochs", json_integer (20));
    wb_model_t *model = wb_model_train (frame, NULL, target, kind, params, NULL, NULL, &err);
    json_decref (params);
    if (!model && strstr (err.text, "OpenBLAS"))
        return NULL;
    assert (model);
    size_t size;
    char *file = wb_model_save (model, &size);
    wb_scorer_t *scorer = wb_scorer_new (file, size, &err);
    assert (scorer);
    free (file);
    *model_p = model;
    return scorer;
}

//  Score body; the answer parsed (caller owns) or NULL with fault
json_t *
wb_scorer__test_score (wb_scorer_t *scorer, const char *type, const char *body,
                       bool proba, wb_scorer_fault_t *fault)
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
    wb_scorer_read_test (verbose);
    wb_frame_t *frame = wb_scorer__test_frame ();
    wb_error_t err;
    const char *kinds [] = { "linear", "logistic", "mlp", "kmeans" };
    const char *targets [] = { "value", "label", "label", NULL };
    for (int k = 0; k < 4; k++) {
        wb_model_t *model;
        wb_scorer_t *scorer = wb_scorer__test_model (frame, kinds [k], targets [k],
                                                     "x,y,colour", &model);
        if (!scorer) {
            wb_frame_destroy (&frame);
            return;             //  no OpenBLAS on this machine: nothing to compare with
        }
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
        json_t *answer = wb_scorer__test_score (scorer, "application/json", wb_buf_data (body), true, &fault);
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
        free (values);
        free (proba);
        wb_scorer_destroy (&scorer);
        wb_model_destroy (&model);
    }
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
