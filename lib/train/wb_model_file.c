/*  wb_model_file - the model file (wb_model.h describes it): writing a
    model as one JSON object, and reading one back with an error that
    says what is wrong, refusing a shape that does not follow before
    making room for it (part of wb_model; see wb_model_int.h)
*/
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "wb_model_int.h"

//  ---- The model file ----

static const char *s_activation_names [] = { "identity", "relu", "sigmoid", "softmax" };

static json_t *
s_vector_json (const double *values, size_t count)
{
    json_t *array = json_array ();
    for (size_t i = 0; i < count; i++)
        json_array_append_new (array, json_real (values [i]));
    return array;
}

static json_t *
s_matrix_json (const double *values, size_t rows, size_t cols)
{
    json_t *array = json_array ();
    for (size_t row = 0; row < rows; row++)
        json_array_append_new (array, s_vector_json (values + row * cols, cols));
    return array;
}

static json_t *
s_feature_json (wb_model__feature_t *feature)
{
    if (!feature->categorical)
        return json_pack ("{s:s, s:s, s:f, s:f}", "name", feature->name, "type", "numeric",
                          "mean", feature->mean, "std", feature->std);
    json_t *categories = json_array ();
    for (size_t i = 0; i < feature->categories.count; i++)
        json_array_append_new (categories, json_string (feature->categories.items [i]));
    return json_pack ("{s:s, s:s, s:o}", "name", feature->name, "type", "categorical",
                      "categories", categories);
}

json_t *
wb_model_schema (wb_model_t *self)
{
    assert (self);
    json_t *features = json_array ();
    for (size_t i = 0; i < self->nfeatures; i++)
        json_array_append_new (features, s_feature_json (&self->features [i]));
    return features;
}

char *
wb_model_save (wb_model_t *self, size_t *size_p)
{
    assert (self);
    json_t *doc = json_object ();
    json_object_set_new (doc, "format", json_string (WB_MODEL_FORMAT));
    json_object_set_new (doc, "version", json_integer (WB_MODEL_VERSION));
    json_object_set_new (doc, "kind", json_string (wb_model__kind_name (self->kind)));
    json_object_set_new (doc, "task", json_string (wb_model__task_names [self->task]));
    if (self->target) {
        json_t *target = json_pack ("{s:s, s:s}", "name", self->target,
                                    "type", wb_col_type_name (self->target_type));
        if (self->task == WB_MODEL__REGRESSION) {
            json_object_set_new (target, "mean", json_real (self->target_mean));
            json_object_set_new (target, "std", json_real (self->target_std));
        }
        json_object_set_new (doc, "target", target);
    }
    else
        json_object_set_new (doc, "target", json_null ());
    json_t *classes = json_array ();
    for (size_t i = 0; i < self->classes.count; i++)
        json_array_append_new (classes, json_string (self->classes.items [i]));
    json_object_set_new (doc, "classes", classes);
    json_object_set_new (doc, "features", wb_model_schema (self));
    json_object_set_new (doc, "inputs", json_integer ((json_int_t) self->inputs));
    json_t *layers = json_array ();
    for (size_t l = 0; l < self->nlayers; l++) {
        wb_model__layer_t *layer = &self->layers [l];
        json_array_append_new (layers, json_pack ("{s:o, s:o, s:s}",
            "weights", s_matrix_json (layer->weights, layer->in, layer->out),
            "bias", s_vector_json (layer->bias, layer->out),
            "activation", s_activation_names [layer->activation]));
    }
    json_object_set_new (doc, "layers", layers);
    json_object_set_new (doc, "centers", self->centers?
                         s_matrix_json (self->centers, self->k, self->inputs): json_array ());
    json_object_set_new (doc, "params", self->params? json_incref (self->params): json_object ());
    json_object_set_new (doc, "training", json_pack ("{s:I, s:I, s:I, s:I, s:s}",
        "rows", (json_int_t) self->rows, "valid_rows", (json_int_t) self->valid_rows,
        "steps", (json_int_t) self->steps, "best_step", (json_int_t) self->best_step,
        "stop", self->stop));
    json_object_set_new (doc, "metrics", self->metrics? json_incref (self->metrics): json_null ());
    char *text = json_dumps (doc, JSON_COMPACT | JSON_REAL_PRECISION (17));
    json_decref (doc);
    assert (text);
    if (size_p)
        *size_p = strlen (text);
    return text;
}

//  Read count finite numbers from a JSON array into values. 0 or -1.
static int
s_read_vector (json_t *array, size_t count, double *values)
{
    if (!json_is_array (array) || json_array_size (array) != count)
        return -1;
    for (size_t i = 0; i < count; i++) {
        json_t *item = json_array_get (array, i);
        if (!json_is_number (item))
            return -1;
        values [i] = json_number_value (item);
        if (!isfinite (values [i]))
            return -1;
    }
    return 0;
}

//  Whether array is rows arrays of cols items each: checked before room
//  for rows x cols numbers is made, so that a small file that claims a
//  large matrix (many categories, short rows) is refused, not allocated
static bool
s_matrix_shaped (json_t *array, size_t rows, size_t cols)
{
    if (!json_is_array (array) || json_array_size (array) != rows)
        return false;
    for (size_t row = 0; row < rows; row++) {
        json_t *item = json_array_get (array, row);
        if (!json_is_array (item) || json_array_size (item) != cols)
            return false;
    }
    return true;
}

static int
s_read_matrix (json_t *array, size_t rows, size_t cols, double *values)
{
    if (!json_is_array (array) || json_array_size (array) != rows)
        return -1;
    for (size_t row = 0; row < rows; row++)
        if (s_read_vector (json_array_get (array, row), cols, values + row * cols))
            return -1;
    return 0;
}

//  The model from a parsed document; NULL with err
static wb_model_t *
s_from_json (json_t *doc, wb_error_t *err)
{
    #define S_BAD(...) do { wb_error_set (err, __VA_ARGS__); goto failed; } while (0)
    wb_model_t *self = NULL;
    if (!json_is_object (doc)
    ||  !json_is_string (json_object_get (doc, "format"))
    ||  !streq (json_string_value (json_object_get (doc, "format")), WB_MODEL_FORMAT))
        S_BAD ("model file: not a Workbench model (\"format\" is not \"%s\"): load a file "
               "that %%train saved", WB_MODEL_FORMAT);
    json_t *version = json_object_get (doc, "version");
    if (!json_is_integer (version) || json_integer_value (version) < 1)
        S_BAD ("model file: \"version\" is missing or not a positive whole number");
    if (json_integer_value (version) > WB_MODEL_VERSION)
        S_BAD ("model file: version %lld is newer than this Workbench reads (%d): upgrade "
               "Workbench", (long long) json_integer_value (version), WB_MODEL_VERSION);
    int kind = wb_model__kind_parse (json_string_value (json_object_get (doc, "kind")));
    if (!kind)
        S_BAD ("model file: \"kind\" is not linear, logistic, mlp or kmeans");
    self = wb_model__new (kind);
    const char *task = json_string_value (json_object_get (doc, "task"));
    self->task = -1;
    for (int i = 0; i < 3; i++)
        if (task && streq (task, wb_model__task_names [i]))
            self->task = i;
    if (self->task < 0 || (kind == WB_MODEL__KMEANS) != (self->task == WB_MODEL__CLUSTERING)
    || (kind == WB_MODEL__LINEAR && self->task != WB_MODEL__REGRESSION)
    || (kind == WB_MODEL__LOGISTIC && self->task != WB_MODEL__CLASSIFICATION))
        S_BAD ("model file: \"task\" is missing or does not fit kind %s",
               wb_model__kind_name (kind));

    //  Target and classes
    json_t *target = json_object_get (doc, "target");
    if (self->task != WB_MODEL__CLUSTERING) {
        const char *name = json_string_value (json_object_get (target, "name"));
        const char *type = json_string_value (json_object_get (target, "type"));
        if (!name || !type)
            S_BAD ("model file: \"target\" needs a \"name\" and a \"type\"");
        self->target = wb_strdup (name);
        self->target_type = streq (type, "numeric")? WB_COL_NUMERIC
                          : streq (type, "categorical")? WB_COL_CATEGORICAL: WB_COL_TEXT;
        if (self->task == WB_MODEL__REGRESSION) {
            json_t *mean = json_object_get (target, "mean"), *std = json_object_get (target, "std");
            if (!json_is_number (mean) || !json_is_number (std) || json_number_value (std) <= 0)
                S_BAD ("model file: a regression \"target\" needs a \"mean\" and a positive \"std\"");
            self->target_mean = json_number_value (mean);
            self->target_std = json_number_value (std);
        }
    }
    json_t *classes = json_object_get (doc, "classes");
    if (!json_is_array (classes))
        S_BAD ("model file: \"classes\" is missing");
    size_t index;
    json_t *item;
    json_array_foreach (classes, index, item) {
        if (!json_is_string (item))
            S_BAD ("model file: class %zu is not text", index + 1);
        if (wb_model__set_find (&self->classes, json_string_value (item)) >= 0)
            S_BAD ("model file: class '%s' is listed twice", json_string_value (item));
        wb_model__set_add (&self->classes, json_string_value (item));
    }
    if (self->task == WB_MODEL__CLASSIFICATION && self->classes.count < 2)
        S_BAD ("model file: a classifier needs at least 2 \"classes\"");
    if (self->task == WB_MODEL__CLASSIFICATION && self->target_type == WB_COL_NUMERIC) {
        self->class_values = wb_malloc (self->classes.count * sizeof (double));
        for (size_t i = 0; i < self->classes.count; i++) {
            if (!wb_model__is_number (self->classes.items [i]))
                S_BAD ("model file: class '%s' of a numeric target is not a number",
                       self->classes.items [i]);
            self->class_values [i] = strtod (self->classes.items [i], NULL);
            if (i && self->class_values [i] <= self->class_values [i - 1])
                S_BAD ("model file: the classes of a numeric target are not in ascending order");
        }
    }

    //  Features
    json_t *features = json_object_get (doc, "features");
    if (!json_is_array (features) || json_array_size (features) == 0)
        S_BAD ("model file: \"features\" is missing or empty");
    self->nfeatures = json_array_size (features);
    self->features = wb_calloc (self->nfeatures, sizeof (wb_model__feature_t));
    json_array_foreach (features, index, item) {
        wb_model__feature_t *feature = &self->features [index];
        const char *name = json_string_value (json_object_get (item, "name"));
        const char *type = json_string_value (json_object_get (item, "type"));
        if (!name || !type)
            S_BAD ("model file: feature %zu needs a \"name\" and a \"type\"", index + 1);
        feature->name = wb_strdup (name);
        feature->offset = self->inputs;
        if (streq (type, "numeric")) {
            json_t *mean = json_object_get (item, "mean"), *std = json_object_get (item, "std");
            if (!json_is_number (mean) || !json_is_number (std) || !(json_number_value (std) > 0))
                S_BAD ("model file: numeric feature '%s' needs a \"mean\" and a positive \"std\"",
                       name);
            feature->mean = json_number_value (mean);
            feature->std = json_number_value (std);
            self->inputs++;
        }
        else
        if (streq (type, "categorical")) {
            feature->categorical = true;
            json_t *categories = json_object_get (item, "categories");
            if (!json_is_array (categories))
                S_BAD ("model file: categorical feature '%s' needs \"categories\"", name);
            size_t i;
            json_t *category;
            json_array_foreach (categories, i, category) {
                if (!json_is_string (category)
                ||  wb_model__set_find (&feature->categories, json_string_value (category)) >= 0)
                    S_BAD ("model file: category %zu of feature '%s' is not text or is "
                           "listed twice", i + 1, name);
                wb_model__set_add (&feature->categories, json_string_value (category));
            }
            self->inputs += feature->categories.count;
        }
        else
            S_BAD ("model file: feature '%s' has type '%s': expected numeric or categorical",
                   name, type);
    }
    json_t *inputs = json_object_get (doc, "inputs");
    if (!json_is_integer (inputs) || (size_t) json_integer_value (inputs) != self->inputs)
        S_BAD ("model file: \"inputs\" is not %zu, the width the features encode to",
               self->inputs);

    //  Layers or centres
    json_t *layers = json_object_get (doc, "layers"), *centers = json_object_get (doc, "centers");
    if (!json_is_array (layers) || !json_is_array (centers))
        S_BAD ("model file: \"layers\" and \"centers\" must be arrays");
    if (kind == WB_MODEL__KMEANS) {
        self->k = json_array_size (centers);
        if (self->k == 0)
            S_BAD ("model file: a kmeans model needs \"centers\"");
        if (!s_matrix_shaped (centers, self->k, self->inputs))
            S_BAD ("model file: \"centers\" must be %zu arrays of %zu finite numbers",
                   self->k, self->inputs);
        self->centers = wb_malloc (self->k * self->inputs * sizeof (double));
        if (s_read_matrix (centers, self->k, self->inputs, self->centers))
            S_BAD ("model file: \"centers\" must be %zu arrays of %zu finite numbers",
                   self->k, self->inputs);
    }
    else {
        size_t in = self->inputs, count = json_array_size (layers);
        if (count == 0)
            S_BAD ("model file: \"layers\" is empty");
        json_array_foreach (layers, index, item) {
            json_t *weights = json_object_get (item, "weights");
            json_t *bias = json_object_get (item, "bias");
            const char *activation = json_string_value (json_object_get (item, "activation"));
            int code = -1;
            for (int i = 0; i < 4; i++)
                if (activation && streq (activation, s_activation_names [i]))
                    code = i;
            if (code < 0)
                S_BAD ("model file: layer %zu has no known \"activation\"", index + 1);
            size_t out = json_array_size (bias);
            if (!json_is_array (bias) || out == 0)
                S_BAD ("model file: layer %zu needs a \"bias\"", index + 1);
            if (!s_matrix_shaped (weights, in, out))
                S_BAD ("model file: layer %zu needs %zu x %zu finite \"weights\" and %zu "
                       "\"bias\" numbers", index + 1, in, out, out);
            wb_model__layer_t *layer = wb_model__add_layer (self, in, out, code);
            if (s_read_vector (bias, out, layer->bias)
            ||  s_read_matrix (weights, in, out, layer->weights))
                S_BAD ("model file: layer %zu needs %zu x %zu finite \"weights\" and %zu "
                       "\"bias\" numbers", index + 1, in, out, out);
            in = out;
        }
        wb_model__layer_t *last = &self->layers [self->nlayers - 1];
        bool fits = self->task == WB_MODEL__REGRESSION?
                    last->out == 1 && last->activation == WB_MODEL__IDENTITY
                  : last->activation == WB_MODEL__SOFTMAX? last->out == self->classes.count
                  : last->activation == WB_MODEL__SIGMOID && last->out == 1 && self->classes.count == 2;
        if (!fits)
            S_BAD ("model file: the last layer (%zu outputs, %s) does not fit a %s with "
                   "%zu classes", last->out, s_activation_names [last->activation],
                   wb_model__task_names [self->task], self->classes.count);
    }
    json_t *params = json_object_get (doc, "params");
    self->params = json_is_object (params)? json_incref (params): json_object ();
    json_t *training = json_object_get (doc, "training");
    self->steps = json_integer_value (json_object_get (training, "steps"));
    self->best_step = json_integer_value (json_object_get (training, "best_step"));
    self->rows = (size_t) json_integer_value (json_object_get (training, "rows"));
    self->valid_rows = (size_t) json_integer_value (json_object_get (training, "valid_rows"));
    const char *stop = json_string_value (json_object_get (training, "stop"));
    wb_model__set_stop (self, stop? stop: "solved");
    json_t *metrics = json_object_get (doc, "metrics");
    self->metrics = json_is_object (metrics)? json_incref (metrics): NULL;
    return self;
failed:
    wb_model_destroy (&self);
    return NULL;
    #undef S_BAD
}

wb_model_t *
wb_model_load (const char *data, size_t size, wb_error_t *err)
{
    json_error_t error;
    json_t *doc = json_loadb (data, size, 0, &error);
    if (!doc) {
        wb_error_set (err, "model file: not valid JSON (line %d: %s): load a file that "
                      "%%train saved", error.line, error.text);
        return NULL;
    }
    wb_model_t *self = s_from_json (doc, err);
    json_decref (doc);
    return self;
}


//  @selftest
void
wb_model_file_test (bool verbose)
{
    (void) verbose;
    wb_error_t err;
    wb_frame_t *blobs = wb_model__test_blobs ();
    //  the seeded mlp of wb_model_fit_test
    const char *seeded = "{\"hidden\": [8, 8], \"epochs\": 4, \"batch_size\": 8, \"seed\": 7, "
                         "\"threads\": 2}";
    wb_model_t *model = wb_model__test_train (blobs, NULL, "kind", "mlp", seeded);
    char *bytes = wb_model_save (model, NULL);

    //  ---- The model file: documented members, and what load refuses ----
    json_t *doc = json_loads (bytes, 0, NULL);
    assert (streq (json_string_value (json_object_get (doc, "format")), WB_MODEL_FORMAT));
    assert (json_integer_value (json_object_get (doc, "version")) == WB_MODEL_VERSION);
    assert (streq (json_string_value (json_object_get (doc, "kind")), "mlp"));
    assert (json_array_size (json_object_get (doc, "layers")) == 3);
    json_t *hidden = json_object_get (json_object_get (doc, "params"), "hidden");
    assert (json_array_size (hidden) == 2 && json_integer_value (json_array_get (hidden, 0)) == 8);
    json_t *training = json_object_get (doc, "training");
    assert (streq (json_string_value (json_object_get (training, "stop")), "epochs"));
    assert (json_integer_value (json_object_get (training, "steps")) == 4);
    free (bytes);
    const char *broken [][2] = {
        { "not json", "not valid JSON" },
        { "{\"format\": \"other\"}", "not a Workbench model" },
        { "{\"format\": \"workbench-model\", \"version\": 99}", "upgrade Workbench" },
        { "{\"format\": \"workbench-model\", \"version\": 1, \"kind\": \"svm\"}", "\"kind\"" },
    };
    for (size_t i = 0; i < sizeof (broken) / sizeof (broken [0]); i++) {
        assert (wb_model_load (broken [i][0], strlen (broken [i][0]), &err) == NULL);
        assert (strstr (err.text, broken [i][1]));
    }
    //  A layer whose shape does not follow the features
    json_t *layer = json_array_get (json_object_get (doc, "layers"), 0);
    json_array_remove (json_object_get (layer, "weights"), 0);
    char *damaged = json_dumps (doc, JSON_COMPACT);
    assert (wb_model_load (damaged, strlen (damaged), &err) == NULL);
    assert (strstr (err.text, "layer 1 needs"));
    free (damaged);
    json_decref (doc);
    wb_model_destroy (&model);
    //  A small file that claims a large matrix is refused before room for
    //  it is made (found by tests/fuzz/): 3000 categories, so 3000 inputs,
    //  with 3000 empty centres, or a layer of 3000 outputs without weights
    for (int layered = 0; layered < 2; layered++) {
        json_t *categories = json_array (), *rows = json_array (), *bias = json_array ();
        for (int i = 0; i < 3000; i++) {
            json_array_append_new (categories, json_sprintf ("%d", i));
            json_array_append_new (rows, json_array ());
            json_array_append_new (bias, json_real (0));
        }
        json_t *claim = json_pack ("{s:s, s:i, s:s, s:s, s:{s:s, s:s, s:f, s:f}, s:[], "
                                   "s:[{s:s, s:s, s:o}], s:i}",
            "format", WB_MODEL_FORMAT, "version", 1, "kind", layered? "linear": "kmeans",
            "task", layered? "regression": "clustering",
            "target", "name", "y", "type", "numeric", "mean", 0.0, "std", 1.0, "classes",
            "features", "name", "c", "type", "categorical", "categories", categories,
            "inputs", 3000);
        assert (claim);
        if (layered) {
            json_object_set_new (claim, "centers", json_array ());
            json_object_set_new (claim, "layers", json_pack ("[{s:s, s:o, s:[]}]",
                "activation", "identity", "bias", bias, "weights"));
            json_decref (rows);
        }
        else {
            json_object_set_new (claim, "centers", rows);
            json_object_set_new (claim, "layers", json_array ());
            json_decref (bias);
        }
        char *text = json_dumps (claim, JSON_COMPACT);
        assert (wb_model_load (text, strlen (text), &err) == NULL);
        assert (strstr (err.text, layered? "layer 1 needs 3000 x 3000": "\"centers\" must be"));
        free (text);
        json_decref (claim);
    }
    wb_frame_destroy (&blobs);
}
//  @end
