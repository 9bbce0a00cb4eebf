/*  wb_model - built-in training on OpenBLAS (wb_model.h describes the
    kinds, the hyperparameters and the model file)

    A model is a preprocessing step (the features: standardisation and
    one-hot encoding) followed either by a stack of dense layers (linear,
    logistic and mlp are all one) or by k-means centres. Training checks
    the request and builds the untrained model (s_prepare; every check on
    the input happens there, before any work), fits the preprocessing on
    the training rows, encodes the tables into row-major matrices, then
    fits. Prediction encodes, runs the layers with DGEMM in blocks of rows,
    and reads the outputs.
*/
#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include "wb_model.h"
#include "wb_blas.h"
#include "base/wb_rng.h"
#include "base/wb_util.h"

#define S_MAX_LAYERS    16      //  hidden layers, at most
#define S_MAX_UNITS     100000  //  units in a hidden layer, at most
#define S_MAX_CLASSES   1000    //  classes a classifier takes, at most
#define S_FEW_CLASSES   20      //  a numeric target with at most this many
                                //  distinct whole numbers looks like classes
#define S_MAX_THREADS   256     //  training threads, at most
#define S_BLOCK         4096    //  rows encoded / predicted at a time
#define S_EPS           1e-15   //  probabilities are clipped to [eps, 1 - eps] for log loss

//  Kinds, as bits so that a parameter can list the kinds it applies to
enum {
    S_LINEAR   = 1,
    S_LOGISTIC = 2,
    S_MLP      = 4,
    S_KMEANS   = 8,
    S_ALL      = 15
};

enum { S_REGRESSION, S_CLASSIFICATION, S_CLUSTERING };
static const char *s_task_names [] = { "regression", "classification", "clustering" };

//  Activations of a dense layer
enum { S_IDENTITY, S_RELU, S_SIGMOID, S_SOFTMAX };
static const char *s_activation_names [] = { "identity", "relu", "sigmoid", "softmax" };

static const char *
s_kind_name (int kind)
{
    switch (kind) {
        case S_LINEAR:   return "linear";
        case S_LOGISTIC: return "logistic";
        case S_MLP:      return "mlp";
        default:         return "kmeans";
    }
}

static int
s_kind_parse (const char *name)
{
    if (!name)
        return 0;
    return streq (name, "linear")?   S_LINEAR
         : streq (name, "logistic")? S_LOGISTIC
         : streq (name, "mlp")?      S_MLP
         : streq (name, "kmeans")?   S_KMEANS: 0;
}

//  A finite number as JSON, null otherwise (jansson refuses NaN and inf)
static json_t *
s_real (double value)
{
    return isfinite (value)? json_real (value): json_null ();
}

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

static int
s_double_cmp (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y? -1: x > y? 1: 0;
}


//  ---- Hyperparameters ----

//  How a parameter's value is read
typedef enum {
    S_REAL,                     //  a number
    S_INT,                      //  a whole number
    S_BOOL,                     //  true or false
    S_SIZES,                    //  whole numbers: [128, 64] or "128,64"
    S_NAMES,                    //  column names: ["a", "b"] or "a,b"
    S_TASK                      //  auto, classification or regression
} s_ptype_t;

//  name, kinds it applies to, type, range; the table is the one place to
//  add a parameter (then a field in s_params_t, s_params_set, s_params_json)
typedef struct {
    const char *name;           //  as in params
    int kinds;                  //  the kinds that take it (S_LINEAR | ...)
    s_ptype_t type;             //  how its value is read
    double lowest;              //  smallest value allowed (numbers, list items)
    double highest;             //  largest value allowed
    bool above;                 //  lowest itself is not allowed
} s_param_t;

static const s_param_t s_params [] = {
    { "l2",            S_LINEAR | S_LOGISTIC | S_MLP, S_REAL, 0, 1e12, false },
    { "learning_rate", S_MLP,                  S_REAL,  0, 10, true },
    { "epochs",        S_MLP,                  S_INT,   1, 100000, false },
    { "batch_size",    S_MLP,                  S_INT,   1, 1000000, false },
    { "hidden",        S_MLP,                  S_SIZES, 1, S_MAX_UNITS, false },
    { "patience",      S_MLP,                  S_INT,   0, 100000, false },
    { "task",          S_MLP,                  S_TASK,  0, 0, false },
    { "max_iter",      S_LOGISTIC | S_KMEANS,  S_INT,   1, 1000000, false },
    { "tol",           S_LOGISTIC | S_MLP | S_KMEANS, S_REAL, 0, 1e6, false },
    { "k",             S_KMEANS,               S_INT,   1, 1000000, false },
    { "n_init",        S_KMEANS,               S_INT,   1, 1000, false },
    { "standardize",   S_ALL,                  S_BOOL,  0, 0, false },
    { "features",      S_ALL,                  S_NAMES, 0, 0, false },
    { "validation",    S_LINEAR | S_LOGISTIC | S_MLP, S_REAL, 0, 0.9, false },
    { "seed",          S_ALL,                  S_INT,   0, 9007199254740992.0, false },
    { "threads",       S_ALL,                  S_INT,   0, S_MAX_THREADS, false },
    { NULL, 0, 0, 0, 0, false }
};

//  The hyperparameters of one training, defaults filled in
typedef struct {
    double l2;                  //  L2 penalty
    double learning_rate;       //  Adam step size
    int64_t epochs;             //  passes over the rows (mlp)
    int64_t batch_size;         //  rows per mini-batch (mlp)
    size_t hidden [S_MAX_LAYERS];   //  hidden layer sizes (mlp)
    size_t layers;              //  how many hidden layers
    int64_t patience;           //  epochs without improvement before stopping
    int task;                   //  -1 auto, else S_REGRESSION / S_CLASSIFICATION
    int64_t max_iter;           //  iterations (logistic, kmeans)
    double tol;                 //  convergence tolerance
    int64_t k;                  //  clusters
    int64_t n_init;             //  k-means++ starts
    bool standardize;           //  standardise numeric columns
    json_t *features;           //  column names (owned), NULL for all
    double validation;          //  fraction held out when no validation table
    uint64_t seed;              //  random seed
    int threads;                //  OpenBLAS threads, 0 = every core
} s_params_t;

static void
s_params_defaults (s_params_t *p, int kind)
{
    memset (p, 0, sizeof (*p));
    p->l2 = kind == S_LOGISTIC? 1.0: kind == S_MLP? 1e-4: 0;
    p->learning_rate = 0.001;
    p->epochs = 200;
    p->batch_size = 200;
    p->hidden [0] = 100;
    p->layers = 1;
    p->patience = 10;
    p->task = -1;
    p->max_iter = kind == S_KMEANS? 300: 100;
    p->tol = 1e-4;
    p->k = 8;
    p->n_init = 1;
    p->standardize = kind != S_KMEANS;
    p->validation = kind == S_MLP? 0.1: 0;
}

//  "a, b,c" -> ["a", "b", "c"] (empty items dropped)
static json_t *
s_split_words (const char *text)
{
    json_t *words = json_array ();
    char *copy = wb_strdup (text);
    for (char *word = strtok (copy, ","); word; word = strtok (NULL, ",")) {
        while (*word == ' ' || *word == '\t')
            word++;
        size_t size = strlen (word);
        while (size && (word [size - 1] == ' ' || word [size - 1] == '\t'))
            word [--size] = 0;
        if (*word)
            json_array_append_new (words, json_string (word));
    }
    free (copy);
    return words;
}

//  A number from a JSON number or a string holding one. 0 or -1.
static int
s_read_number (json_t *value, double *number)
{
    if (json_is_number (value))
        *number = json_number_value (value);
    else
    if (json_is_string (value)) {
        const char *text = json_string_value (value);
        char *end;
        while (*text == ' ')
            text++;
        *number = strtod (text, &end);
        while (*end == ' ')
            end++;
        if (end == text || *end)
            return -1;
    }
    else
        return -1;
    return isfinite (*number)? 0: -1;
}

//  The value as text for an error message (caller frees)
static char *
s_value_text (json_t *value)
{
    if (json_is_string (value))
        return wb_strdup (json_string_value (value));
    char *text = json_dumps (value, JSON_ENCODE_ANY | JSON_COMPACT);
    return text? text: wb_strdup ("?");
}

static int
s_range_error (const s_param_t *param, json_t *value, const char *what, wb_error_t *err)
{
    char *text = s_value_text (value);
    char low [32], high [32];
    snprintf (low, sizeof (low), "%g", param->lowest);
    snprintf (high, sizeof (high), "%g", param->highest);
    if (param->type == S_SIZES)
        wb_error_set (err, "%s=%s %s: layer sizes are whole numbers from %s to %s, e.g. "
                      "%s=128,64", param->name, text, what, low, high, param->name);
    else
    if (param->above)
        wb_error_set (err, "%s=%s %s: use a number above %s and at most %s", param->name,
                      text, what, low, high);
    else
        wb_error_set (err, "%s=%s %s: use %s from %s to %s", param->name, text, what,
                      param->type == S_INT? "a whole number": "a number", low, high);
    free (text);
    return -1;
}

//  One number within the parameter's range. 0 or -1.
static int
s_read_ranged (const s_param_t *param, json_t *value, json_t *shown, bool whole,
               double *number, wb_error_t *err)
{
    if (s_read_number (value, number))
        return s_range_error (param, shown, "is not a number", err);
    if (whole && *number != floor (*number))
        return s_range_error (param, shown, "is not a whole number", err);
    if (*number < param->lowest || *number > param->highest
    || (param->above && *number == param->lowest))
        return s_range_error (param, shown, "is out of range", err);
    return 0;
}

static int
s_params_set (s_params_t *p, const s_param_t *param, json_t *value, wb_error_t *err)
{
    const char *name = param->name;
    double number = 0;
    if (param->type == S_REAL || param->type == S_INT) {
        if (s_read_ranged (param, value, value, param->type == S_INT, &number, err))
            return -1;
        if      (streq (name, "l2"))            p->l2 = number;
        else if (streq (name, "learning_rate")) p->learning_rate = number;
        else if (streq (name, "epochs"))        p->epochs = (int64_t) number;
        else if (streq (name, "batch_size"))    p->batch_size = (int64_t) number;
        else if (streq (name, "patience"))      p->patience = (int64_t) number;
        else if (streq (name, "max_iter"))      p->max_iter = (int64_t) number;
        else if (streq (name, "tol"))           p->tol = number;
        else if (streq (name, "k"))             p->k = (int64_t) number;
        else if (streq (name, "n_init"))        p->n_init = (int64_t) number;
        else if (streq (name, "validation"))    p->validation = number;
        else if (streq (name, "seed"))          p->seed = (uint64_t) number;
        else if (streq (name, "threads"))       p->threads = (int) number;
        else
            assert (false);
        return 0;
    }
    if (param->type == S_BOOL) {
        const char *text = json_is_string (value)? json_string_value (value): NULL;
        if (json_is_boolean (value))
            p->standardize = json_is_true (value);
        else
        if (text && (streq (text, "true") || streq (text, "1") || streq (text, "yes")))
            p->standardize = true;
        else
        if (text && (streq (text, "false") || streq (text, "0") || streq (text, "no")))
            p->standardize = false;
        else
        if (json_is_integer (value) && (json_integer_value (value) == 0
                                     || json_integer_value (value) == 1))
            p->standardize = json_integer_value (value) == 1;
        else {
            char *shown = s_value_text (value);
            wb_error_set (err, "%s=%s is not true or false: use %s=true or %s=false",
                          name, shown, name, name);
            free (shown);
            return -1;
        }
        return 0;
    }
    if (param->type == S_TASK) {
        const char *text = json_string_value (value);
        if (text && streq (text, "auto"))
            p->task = -1;
        else
        if (text && streq (text, "classification"))
            p->task = S_CLASSIFICATION;
        else
        if (text && streq (text, "regression"))
            p->task = S_REGRESSION;
        else {
            char *shown = s_value_text (value);
            wb_error_set (err, "task=%s is not a task: use task=classification, "
                          "task=regression or task=auto", shown);
            free (shown);
            return -1;
        }
        return 0;
    }
    //  Lists: a JSON array, a string "a,b", or (sizes) a single number
    json_t *items = NULL;
    if (json_is_array (value))
        items = json_incref (value);
    else
    if (json_is_string (value))
        items = s_split_words (json_string_value (value));
    else
    if (json_is_number (value) && param->type == S_SIZES)
        items = json_pack ("[O]", value);
    if (param->type == S_NAMES) {
        size_t index;
        json_t *item;
        bool good = items && json_array_size (items) > 0;
        if (items)
            json_array_foreach (items, index, item)
                good = good && json_is_string (item) && *json_string_value (item);
        if (!good) {
            char *shown = s_value_text (value);
            wb_error_set (err, "features=%s is not a list of column names: use "
                          "features=a,b,c or a JSON list of names", shown);
            free (shown);
            json_decref (items);
            return -1;
        }
        json_decref (p->features);
        p->features = items;
        return 0;
    }
    assert (param->type == S_SIZES);
    size_t count = items? json_array_size (items): 0;
    if (count == 0 || count > S_MAX_LAYERS) {
        char *shown = s_value_text (value);
        wb_error_set (err, "hidden=%s is not a list of 1 to %d layer sizes: use e.g. "
                      "hidden=128,64", shown, S_MAX_LAYERS);
        free (shown);
        json_decref (items);
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        if (s_read_ranged (param, json_array_get (items, i), value, true, &number, err)) {
            json_decref (items);
            return -1;
        }
        p->hidden [i] = (size_t) number;
    }
    p->layers = count;
    json_decref (items);
    return 0;
}

//  The kinds a parameter applies to, as text ("logistic, kmeans")
static void
s_kinds_text (int kinds, char *text, size_t size)
{
    text [0] = 0;
    for (int kind = S_LINEAR; kind <= S_KMEANS; kind <<= 1)
        if (kinds & kind) {
            size_t used = strlen (text);
            snprintf (text + used, size - used, "%s%s", used? ", ": "", s_kind_name (kind));
        }
}

//  Read params (a JSON object or NULL) for kind into p. 0 or -1.
static int
s_params_read (s_params_t *p, int kind, json_t *params, wb_error_t *err)
{
    s_params_defaults (p, kind);
    if (params && !json_is_object (params))
        return wb_error_set (err, "the parameters are not a JSON object: give them as "
                             "name=value words or {\"name\": value}");
    const char *key;
    json_t *value;
    json_object_foreach (params, key, value) {
        const s_param_t *param = s_params;
        while (param->name && !streq (param->name, key))
            param++;
        if (!param->name || !(param->kinds & kind)) {
            char known [512] = "";
            for (const s_param_t *q = s_params; q->name; q++)
                if (q->kinds & kind) {
                    size_t used = strlen (known);
                    snprintf (known + used, sizeof (known) - used, "%s%s",
                              used? ", ": "", q->name);
                }
            if (param->name) {
                char kinds [64];
                s_kinds_text (param->kinds, kinds, sizeof (kinds));
                return wb_error_set (err, "parameter '%s' does not apply to kind %s "
                                     "(it is for %s): %s takes %s", key,
                                     s_kind_name (kind), kinds, s_kind_name (kind), known);
            }
            return wb_error_set (err, "unknown parameter '%s': kind %s takes %s",
                                 key, s_kind_name (kind), known);
        }
        if (json_is_null (value))
            continue;           //  null: the default
        if (s_params_set (p, param, value, err))
            return -1;
    }
    return 0;
}

//  The parameters that apply to kind, as JSON (caller owns)
static json_t *
s_params_json (const s_params_t *p, int kind, int task)
{
    json_t *json = json_object ();
    for (const s_param_t *q = s_params; q->name; q++) {
        if (!(q->kinds & kind))
            continue;
        const char *name = q->name;
        json_t *value = NULL;
        if      (streq (name, "l2"))            value = json_real (p->l2);
        else if (streq (name, "learning_rate")) value = json_real (p->learning_rate);
        else if (streq (name, "epochs"))        value = json_integer (p->epochs);
        else if (streq (name, "batch_size"))    value = json_integer (p->batch_size);
        else if (streq (name, "patience"))      value = json_integer (p->patience);
        else if (streq (name, "max_iter"))      value = json_integer (p->max_iter);
        else if (streq (name, "tol"))           value = json_real (p->tol);
        else if (streq (name, "k"))             value = json_integer (p->k);
        else if (streq (name, "n_init"))        value = json_integer (p->n_init);
        else if (streq (name, "validation"))    value = json_real (p->validation);
        else if (streq (name, "seed"))          value = json_integer ((json_int_t) p->seed);
        else if (streq (name, "threads"))       value = json_integer (p->threads);
        else if (streq (name, "standardize"))   value = json_boolean (p->standardize);
        else if (streq (name, "task"))          value = json_string (s_task_names [task]);
        else if (streq (name, "features"))
            value = p->features? json_deep_copy (p->features): json_null ();
        else
        if (streq (name, "hidden")) {
            value = json_array ();
            for (size_t i = 0; i < p->layers; i++)
                json_array_append_new (value, json_integer ((json_int_t) p->hidden [i]));
        }
        assert (value);
        json_object_set_new (json, name, value);
    }
    return json;
}


json_t *
wb_model_params_resolved (const char *kind_name, json_t *params, wb_error_t *err)
{
    int kind = kind_name? s_kind_parse (kind_name): 0;
    if (!kind) {
        wb_error_set (err, "unknown model kind '%s': use linear, logistic, mlp or kmeans",
                      kind_name? kind_name: "");
        return NULL;
    }
    s_params_t p;
    json_t *resolved = NULL;
    if (s_params_read (&p, kind, params, err) == 0) {
        int task = kind == S_KMEANS? S_CLUSTERING: kind == S_LINEAR? S_REGRESSION: S_CLASSIFICATION;
        resolved = s_params_json (&p, kind, task);
        if ((kind & S_MLP) && p.task < 0)
            json_object_set_new (resolved, "task", json_string ("auto"));
    }
    json_decref (p.features);
    return resolved;
}

//  ---- A set of strings: category and class lookup ----

//  Strings by index, with a hash table from string to index
typedef struct {
    char **items;               //  the strings (owned), in index order
    size_t count;               //  how many
    size_t room;                //  room in items
    uint32_t *slots;            //  open addressing: index + 1, 0 = empty
    size_t nslots;              //  size of slots, a power of two
} s_set_t;

static void
s_set_free (s_set_t *set)
{
    for (size_t i = 0; i < set->count; i++)
        free (set->items [i]);
    free (set->items);
    free (set->slots);
    memset (set, 0, sizeof (*set));
}

static void
s_set_rehash (s_set_t *set)
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
static int64_t
s_set_find (const s_set_t *set, const char *text)
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
static size_t
s_set_add (s_set_t *set, const char *text)
{
    int64_t found = s_set_find (set, text);
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
static void
s_set_sort (s_set_t *set)
{
    if (set->count)
        qsort (set->items, set->count, sizeof (char *), s_strcmp_p);
    s_set_rehash (set);
}


//  ---- The model ----

//  One input column and how it is encoded
typedef struct {
    char *name;                 //  column name
    bool categorical;           //  one-hot over categories (else numeric)
    double mean;                //  numeric: subtracted
    double std;                 //  numeric: divided by (1 when not standardised or constant)
    s_set_t categories;         //  categorical: the categories seen in training, sorted
    size_t offset;              //  its first column in the encoded vector
} s_feature_t;

//  A dense layer: out = activation (in . weights + bias)
typedef struct {
    size_t in;                  //  inputs
    size_t out;                 //  outputs
    double *weights;            //  in x out, row-major
    double *bias;               //  out
    int activation;             //  S_IDENTITY, S_RELU, S_SIGMOID, S_SOFTMAX
} s_layer_t;

struct _wb_model_t {
    int kind;                   //  S_LINEAR, S_LOGISTIC, S_MLP, S_KMEANS
    int task;                   //  S_REGRESSION, S_CLASSIFICATION, S_CLUSTERING
    json_t *params;             //  hyperparameters used, defaults filled in
    char *target;               //  target column, NULL for clustering
    wb_col_type_t target_type;  //  its type in the training table
    double target_mean;         //  regression: the target's mean ...
    double target_std;          //  ... and standard deviation (outputs are scaled back)
    s_feature_t *features;      //  input columns, in encoding order
    size_t nfeatures;           //  how many
    size_t inputs;              //  width of the encoded vector
    s_set_t classes;            //  classification: labels, in output order
    double *class_values;       //  numeric target: the classes as numbers, ascending
    s_layer_t *layers;          //  dense layers (not kmeans)
    size_t nlayers;             //  how many
    double *centers;            //  kmeans: k x inputs
    size_t k;                   //  kmeans: clusters
    json_t *history;            //  metrics of every step
    json_t *metrics;            //  final validation metrics, NULL without validation
    char *stop;                 //  why training ended
    int64_t steps;              //  steps (epochs, iterations) run
    int64_t best_step;          //  step whose weights were kept
    size_t rows;                //  training rows
    size_t valid_rows;          //  validation rows
};

static wb_model_t *
s_model_new (int kind)
{
    wb_model_t *self = wb_calloc (1, sizeof (wb_model_t));
    self->kind = kind;
    self->task = kind == S_KMEANS? S_CLUSTERING: kind == S_LINEAR? S_REGRESSION: S_CLASSIFICATION;
    self->target_std = 1;
    self->history = json_array ();
    self->stop = wb_strdup ("solved");
    return self;
}

void
wb_model_destroy (wb_model_t **self_p)
{
    assert (self_p);
    wb_model_t *self = *self_p;
    if (!self)
        return;
    json_decref (self->params);
    free (self->target);
    for (size_t i = 0; i < self->nfeatures; i++) {
        free (self->features [i].name);
        s_set_free (&self->features [i].categories);
    }
    free (self->features);
    s_set_free (&self->classes);
    free (self->class_values);
    for (size_t i = 0; i < self->nlayers; i++) {
        free (self->layers [i].weights);
        free (self->layers [i].bias);
    }
    free (self->layers);
    free (self->centers);
    json_decref (self->history);
    json_decref (self->metrics);
    free (self->stop);
    free (self);
    *self_p = NULL;
}

static void
s_set_stop (wb_model_t *self, const char *stop)
{
    free (self->stop);
    self->stop = wb_strdup (stop);
}

static s_layer_t *
s_add_layer (wb_model_t *self, size_t in, size_t out, int activation)
{
    self->layers = wb_realloc (self->layers, (self->nlayers + 1) * sizeof (s_layer_t));
    s_layer_t *layer = &self->layers [self->nlayers++];
    layer->in = in;
    layer->out = out;
    layer->weights = wb_calloc (in * out, sizeof (double));
    layer->bias = wb_calloc (out, sizeof (double));
    layer->activation = activation;
    return layer;
}

//  Number of outputs of the last layer
static size_t
s_outputs (wb_model_t *self)
{
    if (self->kind == S_KMEANS)
        return self->k;
    return self->layers [self->nlayers - 1].out;
}


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

static int
s_unknown_column (wb_frame_t *frame, const char *name, const char *table, wb_error_t *err)
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
static bool
s_is_number (const char *text)
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
        if (s_is_number (text))
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

static bool
s_looks_like_classes (wb_frame_t *frame, size_t col)
{
    const double *numbers = wb_frame_numbers (frame, col);
    return !numbers || s_numbers_look_like_classes (numbers, wb_frame_rows (frame));
}

//  The distinct values of a numeric column, ascending, in *values_p; -1
//  when there are more than limit (values_p untouched)
static int64_t
s_distinct_numbers (const double *numbers, size_t rows, size_t limit, double **values_p)
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
    qsort (values, count, sizeof (double), s_double_cmp);
    *values_p = values;
    return (int64_t) count;
}

//  Everything s_prepare works out about a training request
typedef struct {
    int kind;                   //  S_LINEAR ...
    int task;                   //  S_REGRESSION ...
    s_params_t params;          //  hyperparameters
    int target;                 //  target column in train, -1 for none
    size_t *columns;            //  feature columns in train
    size_t ncolumns;            //  how many
} s_plan_t;

static void
s_plan_free (s_plan_t *plan)
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
        int64_t count = s_distinct_numbers (numbers, rows, S_MAX_CLASSES, &values);
        if (count < 0)
            return wb_error_set (err, "target '%s' has more than %d distinct values: too "
                                 "many classes for a classifier; for a numeric target use "
                                 "kind=linear, or kind=mlp task=regression", name, S_MAX_CLASSES);
        classes = (size_t) count;
        if (count > 0)
            wb_double_text (values [0], first, sizeof (first));
        free (values);
    }
    else {
        s_set_t set = { 0 };
        for (size_t row = 0; row < rows && set.count <= S_MAX_CLASSES; row++) {
            const char *text = wb_frame_text (frame, col, row);
            if (text)
                s_set_add (&set, text);
        }
        classes = set.count;
        if (classes)
            snprintf (first, sizeof (first), "%s", set.items [0]);
        s_set_free (&set);
        if (classes > S_MAX_CLASSES)
            return wb_error_set (err, "target '%s' has more than %d distinct values: too "
                                 "many classes for a classifier; pick a column of labels",
                                 name, S_MAX_CLASSES);
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
static int
s_check_numeric_target (wb_frame_t *frame, size_t col, int kind, const char *table,
                        wb_error_t *err)
{
    if (wb_frame_numbers (frame, col))
        return 0;
    const char *name = wb_frame_name (frame, col);
    size_t rows = wb_frame_rows (frame);
    for (size_t row = 0; row < rows; row++) {
        const char *text = wb_frame_text (frame, col, row);
        if (text && !s_is_number (text)) {
            char *shown = wb_strdup (text);
            wb_error_set (err, "target '%s' in %s is not numeric (row %zu holds '%s'): "
                          "regression needs numbers; %s", name, table, row + 1, shown,
                          kind == S_LINEAR? "to predict classes use the logistic or mlp kind"
                                          : "to predict classes use task=classification");
            free (shown);
            return -1;
        }
    }
    return wb_error_set (err, "target '%s' in %s is not numeric: regression needs numbers",
                         name, table);
}

//  Check a training request and work out what to do. 0 or -1.
static int
s_prepare (s_plan_t *plan, wb_frame_t *train, wb_frame_t *valid, const char *target,
           const char *kind_name, json_t *params, wb_error_t *err)
{
    memset (plan, 0, sizeof (*plan));
    plan->target = -1;
    int kind = s_kind_parse (kind_name);
    if (!kind)
        return wb_error_set (err, "unknown model kind '%s': use linear, logistic, mlp or "
                             "kmeans", kind_name? kind_name: "");
    plan->kind = kind;
    if (s_params_read (&plan->params, kind, params, err))
        return -1;
    s_params_t *p = &plan->params;
    if (!train)
        return wb_error_set (err, "no training table: load one first");
    size_t rows = wb_frame_rows (train);
    if (rows < 2)
        return wb_error_set (err, "the training table has %zu row%s: training needs at least 2",
                             rows, rows == 1? "": "s");

    //  The target
    if (!target && kind != S_KMEANS)
        return wb_error_set (err, "kind %s needs a target column: name the column to "
                             "predict", s_kind_name (kind));
    if (target) {
        plan->target = wb_frame_find (train, target);
        if (plan->target < 0)
            return s_unknown_column (train, target, "the training table", err);
    }
    if (kind == S_KMEANS) {
        plan->task = S_CLUSTERING;
        if ((size_t) p->k > rows)
            return wb_error_set (err, "k=%lld is more than the %zu training rows: use a "
                                 "smaller k", (long long) p->k, rows);
    }
    else {
        size_t col = (size_t) plan->target;
        if (kind == S_LINEAR)
            plan->task = S_REGRESSION;
        else
        if (kind == S_LOGISTIC)
            plan->task = S_CLASSIFICATION;
        else
            plan->task = p->task >= 0? p->task
                       : s_looks_like_classes (train, col)? S_CLASSIFICATION: S_REGRESSION;
        if (s_check_target_present (train, col, "the training table", err))
            return -1;
        if (plan->task == S_REGRESSION) {
            if (s_check_numeric_target (train, col, kind, "the training table", err))
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
                return s_unknown_column (train, name, "the training table", err);
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
                return s_unknown_column (valid, name, table, err);
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
                if (kind != S_KMEANS)
                    return s_unknown_column (valid, target, table, err);
            }
            else
            if (kind != S_KMEANS) {
                if (s_check_target_present (valid, (size_t) col, table, err))
                    return -1;
                if (plan->task == S_REGRESSION
                &&  s_check_numeric_target (valid, (size_t) col, kind, table, err))
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
    s_plan_t plan;
    int rc = s_prepare (&plan, train, valid, target, kind, params, err);
    s_plan_free (&plan);
    return rc;
}


//  ---- A pool of training threads ----

//  Training splits its work by rows over a few threads of its own, each
//  calling OpenBLAS single-threaded, and sums their partial results in
//  thread order: the same thread count gives the same bits whatever the
//  timing. (OpenBLAS's own threads do worse on the small GEMMs of
//  mini-batches, and they spin for a while after each call, taking the
//  cores from ours; training stops them and restores them after.)
//
//  The element-wise steps between the GEMMs (ReLU, its mask in the
//  backward pass, Adam) run once per batch over every unit or weight;
//  they are written with SSE (every x86-64 has it) because -O2 does not
//  vectorise them and a branch per element mispredicts on random signs.
//  Other machines get the plain loops.
#if defined (__SSE2__)
#include <immintrin.h>
#define S_SSE 1
#endif

static void
s_pause (void)
{
#ifdef S_SSE
    _mm_pause ();
#endif
}

//  Where the threads meet. Waits between GEMMs are microseconds, so a
//  waiter spins first; past S_SPIN_SECONDS (the other side is busy, or
//  the machine has more work than cores) it sleeps on a futex, and the
//  last to arrive wakes the sleepers.
#define S_SPIN_SECONDS  100e-6

typedef struct {
    atomic_uint arrived;        //  threads at the barrier this round
    atomic_uint round;          //  rounds completed (the futex word)
    atomic_uint sleepers;       //  threads asleep on round
    unsigned count;             //  threads that meet at it
} s_barrier_t;

static void
s_barrier_wait (s_barrier_t *barrier)
{
    unsigned round = atomic_load (&barrier->round);
    if (atomic_fetch_add (&barrier->arrived, 1) + 1 == barrier->count) {
        atomic_store (&barrier->arrived, 0);
        atomic_fetch_add (&barrier->round, 1);
        if (atomic_load (&barrier->sleepers))
            syscall (SYS_futex, (uint32_t *) &barrier->round, FUTEX_WAKE_PRIVATE, INT_MAX,
                     NULL, NULL, 0);
        return;
    }
    double start = 0;
    for (unsigned spins = 1; atomic_load (&barrier->round) == round; spins++) {
        s_pause ();
        if (spins % 64)
            continue;
        double now = wb_time_mono ();
        if (start == 0)
            start = now;
        else
        if (now - start > S_SPIN_SECONDS) {
            //  seen by the last to arrive, or it moved round first
            atomic_fetch_add (&barrier->sleepers, 1);
            while (atomic_load (&barrier->round) == round)
                syscall (SYS_futex, (uint32_t *) &barrier->round, FUTEX_WAIT_PRIVATE, round,
                         NULL, NULL, 0);
            atomic_fetch_sub (&barrier->sleepers, 1);
            break;
        }
    }
}

//  A task: thread index of count does its share of the work in arg
typedef void (s_task_fn) (void *arg, size_t index, size_t count);

typedef struct _s_pool_t s_pool_t;

//  What a pool thread knows about itself
typedef struct {
    s_pool_t *pool;             //  its pool
    size_t index;               //  1 .. count - 1 (0 is the caller)
    pthread_t thread;           //  the thread
} s_member_t;

struct _s_pool_t {
    size_t count;               //  threads, the calling one included
    s_member_t *members;        //  the others, from [1] ([0] is the caller's, unused)
    s_barrier_t barrier;        //  met before and after each task
    s_task_fn *task;            //  the task of this round
    void *arg;                  //  its argument
    bool quit;                  //  threads leave at the next round
};

static void *
s_pool_thread (void *arg)
{
    s_member_t *member = arg;
    s_pool_t *pool = member->pool;
    while (true) {
        s_barrier_wait (&pool->barrier);
        if (pool->quit)
            break;
        pool->task (pool->arg, member->index, pool->count);
        s_barrier_wait (&pool->barrier);
    }
    return NULL;
}

static s_pool_t *
s_pool_new (size_t count)
{
    s_pool_t *pool = wb_calloc (1, sizeof (s_pool_t));
    pool->count = count? count: 1;
    pool->barrier.count = (unsigned) pool->count;
    pool->members = wb_calloc (pool->count, sizeof (s_member_t));
    //  The threads start with every signal blocked, so that signals (an
    //  interrupt, a cancel) reach the caller's thread as before
    sigset_t all, saved;
    sigfillset (&all);
    pthread_sigmask (SIG_SETMASK, &all, &saved);
    for (size_t i = 1; i < pool->count; i++) {
        pool->members [i].pool = pool;
        pool->members [i].index = i;
        if (pthread_create (&pool->members [i].thread, NULL, s_pool_thread, &pool->members [i])) {
            fprintf (stderr, "workbench: cannot start a training thread\n");
            abort ();
        }
    }
    pthread_sigmask (SIG_SETMASK, &saved, NULL);
    return pool;
}

static void
s_pool_destroy (s_pool_t **pool_p)
{
    s_pool_t *pool = *pool_p;
    if (!pool)
        return;
    if (pool->count > 1) {
        pool->quit = true;
        s_barrier_wait (&pool->barrier);
        for (size_t i = 1; i < pool->count; i++)
            pthread_join (pool->members [i].thread, NULL);
    }
    free (pool->members);
    free (pool);
    *pool_p = NULL;
}

//  Run task on every thread of pool (NULL: just this one); returns when
//  all are done
static void
s_pool_run (s_pool_t *pool, s_task_fn *task, void *arg)
{
    if (!pool || pool->count == 1) {
        task (arg, 0, 1);
        return;
    }
    pool->task = task;
    pool->arg = arg;
    s_barrier_wait (&pool->barrier);
    task (arg, 0, pool->count);
    s_barrier_wait (&pool->barrier);
}

//  Thread index's share of count items: [*lo, *hi)
static void
s_share (size_t items, size_t index, size_t count, size_t *lo, size_t *hi)
{
    *lo = items * index / count;
    *hi = items * (index + 1) / count;
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
        s_feature_t *feature = &stats->model->features [i];
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
static void
s_fit_preprocessing (wb_model_t *self, s_plan_t *plan, wb_frame_t *train, s_pool_t *pool)
{
    size_t rows = wb_frame_rows (train);
    self->nfeatures = plan->ncolumns;
    self->features = wb_calloc (plan->ncolumns, sizeof (s_feature_t));
    self->inputs = 0;
    for (size_t i = 0; i < plan->ncolumns; i++) {
        size_t col = plan->columns [i];
        s_feature_t *feature = &self->features [i];
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
                    s_set_add (&feature->categories, text);
            }
            s_set_sort (&feature->categories);
            self->inputs += feature->categories.count;
        }
    }
    s_stats_t stats = { self, train, plan->columns, plan->params.standardize };
    s_pool_run (pool, s_stats_task, &stats);
    if (plan->target < 0 || self->task == S_CLUSTERING)
        return;
    size_t col = (size_t) plan->target;
    self->target = wb_strdup (wb_frame_name (train, col));
    self->target_type = wb_frame_type (train, col);
    const double *numbers = wb_frame_numbers (train, col);
    if (self->task == S_REGRESSION) {
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
        int64_t count = s_distinct_numbers (numbers, rows, S_MAX_CLASSES, &self->class_values);
        assert (count >= 2);
        for (int64_t i = 0; i < count; i++) {
            char text [64];
            wb_double_text (self->class_values [i], text, sizeof (text));
            s_set_add (&self->classes, text);
        }
    }
    else {
        for (size_t row = 0; row < rows; row++)
            s_set_add (&self->classes, wb_frame_text (train, col, row));
        s_set_sort (&self->classes);
    }
}

//  Find the model's feature columns in frame. 0 or -1.
static int
s_find_columns (wb_model_t *self, wb_frame_t *frame, const char *table, size_t *columns,
                wb_error_t *err)
{
    for (size_t i = 0; i < self->nfeatures; i++) {
        s_feature_t *feature = &self->features [i];
        int col = wb_frame_find (frame, feature->name);
        if (col < 0)
            return wb_error_set (err, "column '%s' that the model needs is missing from %s",
                                 feature->name, table);
        if (!feature->categorical && !wb_frame_numbers (frame, (size_t) col)) {
            size_t rows = wb_frame_rows (frame);
            for (size_t row = 0; row < rows; row++) {
                const char *text = wb_frame_text (frame, (size_t) col, row);
                if (text && !s_is_number (text)) {
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
    s_share (rows, index, count, &lo, &hi);
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
            s_feature_t *feature = &self->features [i];
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
static void *
s_encode (wb_model_t *self, wb_frame_t *frame, bool single, s_pool_t *pool,
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
    s_pool_run (pool, s_encode_task, &e);
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
        s_feature_t *feature = &self->features [i];
        if (!feature->categorical)
            continue;
        const char *last = NULL;
        int64_t last_index = -1;
        for (size_t row = 0; row < rows; row++) {
            const char *text = wb_frame_text (frame, columns [i], row);
            if (!text)
                continue;
            //  a column's strings are interned: equal pointers, equal text
            int64_t index = text == last? last_index: s_set_find (&feature->categories, text);
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
static int
s_target_codes (wb_model_t *self, wb_frame_t *frame, size_t col, int32_t *codes,
                s_set_t *unseen, const char *table, wb_error_t *err)
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
                code = s_set_find (&self->classes, text);
            }
            label = text;
        }
        else {
            label = wb_frame_text (frame, col, row);
            if (!label)
                return wb_error_set (err, "target '%s' in %s is missing at row %zu: drop "
                                     "the rows without a target first",
                                     wb_frame_name (frame, col), table, row + 1);
            code = s_set_find (&self->classes, label);
            if (code < 0 && self->class_values && s_is_number (label))
                code = s_class_of_number (self, strtod (label, NULL));
        }
        if (code < 0 && unseen)
            code = (int64_t) (self->classes.count + s_set_add (unseen, label));
        codes [row] = (int32_t) code;
    }
    return 0;
}


//  ---- Forward pass in double (prediction, evaluation) ----

static void
s_activate (double *z, size_t rows, size_t out, const double *bias, int activation)
{
    for (size_t row = 0; row < rows; row++) {
        double *v = z + row * out;
        for (size_t j = 0; j < out; j++)
            v [j] += bias [j];
        if (activation == S_RELU)
            for (size_t j = 0; j < out; j++)
                v [j] = v [j] > 0? v [j]: 0;
        else
        if (activation == S_SIGMOID)
            for (size_t j = 0; j < out; j++)
                v [j] = 1 / (1 + exp (-v [j]));
        else
        if (activation == S_SOFTMAX) {
            double top = v [0], sum = 0;
            for (size_t j = 1; j < out; j++)
                top = v [j] > top? v [j]: top;
            for (size_t j = 0; j < out; j++)
                sum += (v [j] = exp (v [j] - top));
            for (size_t j = 0; j < out; j++)
                v [j] /= sum;
        }
    }
}

//  The last layer's activations for rows x inputs of X, into out (rows x
//  outputs); blocks of rows through DGEMM
static void
s_forward (wb_model_t *self, const wb_blas_t *blas, const double *x, size_t rows, double *out)
{
    size_t widest = 1;
    for (size_t l = 0; l < self->nlayers; l++)
        widest = self->layers [l].out > widest? self->layers [l].out: widest;
    double *a = wb_malloc (S_BLOCK * widest * sizeof (double));
    double *b = wb_malloc (S_BLOCK * widest * sizeof (double));
    for (size_t first = 0; first < rows; first += S_BLOCK) {
        size_t count = rows - first < S_BLOCK? rows - first: S_BLOCK;
        const double *input = x + first * self->inputs;
        for (size_t l = 0; l < self->nlayers; l++) {
            s_layer_t *layer = &self->layers [l];
            bool last = l + 1 == self->nlayers;
            double *output = last? out + first * layer->out: (l % 2? b: a);
            blas->dgemm (WB_BLAS_ROW_MAJOR, WB_BLAS_NO_TRANS, WB_BLAS_NO_TRANS,
                         (int) count, (int) layer->out, (int) layer->in, 1.0,
                         input, (int) layer->in, layer->weights, (int) layer->out,
                         0.0, output, (int) layer->out);
            s_activate (output, count, layer->out, layer->bias, layer->activation);
            input = output;
        }
    }
    free (a);
    free (b);
}

//  Nearest centre of every row: labels, and squared distances if wanted.
//  Distances by GEMM: |x|^2 - 2 x.c + |c|^2, in blocks of rows.
static void
s_nearest (const wb_blas_t *blas, const double *x, size_t rows, size_t width,
           const double *centers, size_t k, int32_t *labels, double *distances)
{
    double *norms = wb_malloc (k * sizeof (double));
    for (size_t j = 0; j < k; j++) {
        double sum = 0;
        for (size_t i = 0; i < width; i++)
            sum += centers [j * width + i] * centers [j * width + i];
        norms [j] = sum;
    }
    double *dots = wb_malloc (S_BLOCK * k * sizeof (double));
    for (size_t first = 0; first < rows; first += S_BLOCK) {
        size_t count = rows - first < S_BLOCK? rows - first: S_BLOCK;
        const double *block = x + first * width;
        blas->dgemm (WB_BLAS_ROW_MAJOR, WB_BLAS_NO_TRANS, WB_BLAS_TRANS, (int) count,
                     (int) k, (int) width, -2.0, block, (int) width, centers, (int) width,
                     0.0, dots, (int) k);
        for (size_t row = 0; row < count; row++) {
            const double *d = dots + row * k;
            size_t best = 0;
            double nearest = d [0] + norms [0];
            for (size_t j = 1; j < k; j++)
                if (d [j] + norms [j] < nearest) {
                    nearest = d [j] + norms [j];
                    best = j;
                }
            labels [first + row] = (int32_t) best;
            if (distances) {
                const double *v = block + row * width;
                double squares = 0;
                for (size_t i = 0; i < width; i++)
                    squares += v [i] * v [i];
                double distance = squares + nearest;
                distances [first + row] = distance > 0? distance: 0;
            }
        }
    }
    free (dots);
    free (norms);
}

//  Predictions for an encoded matrix: values (one a row) and, for
//  classifiers, probabilities (rows x classes) if proba is not NULL
static void
s_predict_encoded (wb_model_t *self, const wb_blas_t *blas, const double *x, size_t rows,
                   double *values, double *proba)
{
    if (self->kind == S_KMEANS) {
        int32_t *labels = wb_malloc ((rows? rows: 1) * sizeof (int32_t));
        s_nearest (blas, x, rows, self->inputs, self->centers, self->k, labels, NULL);
        for (size_t row = 0; row < rows; row++)
            values [row] = labels [row];
        free (labels);
        return;
    }
    size_t outputs = s_outputs (self);
    double *out = wb_malloc ((rows? rows: 1) * outputs * sizeof (double));
    s_forward (self, blas, x, rows, out);
    if (self->task == S_REGRESSION)
        for (size_t row = 0; row < rows; row++)
            values [row] = out [row] * self->target_std + self->target_mean;
    else {
        size_t classes = self->classes.count;
        bool sigmoid = self->layers [self->nlayers - 1].activation == S_SIGMOID;
        for (size_t row = 0; row < rows; row++) {
            size_t best = 0;
            if (sigmoid) {
                double p = out [row];
                best = p > 0.5? 1: 0;
                if (proba) {
                    proba [row * 2] = 1 - p;
                    proba [row * 2 + 1] = p;
                }
            }
            else {
                const double *p = out + row * classes;
                for (size_t j = 1; j < classes; j++)
                    if (p [j] > p [best])
                        best = j;
                if (proba)
                    memcpy (proba + row * classes, p, classes * sizeof (double));
            }
            values [row] = (double) best;
        }
    }
    free (out);
}

int
wb_model_predict (wb_model_t *self, wb_frame_t *frame, double **values_p, double **proba_p,
                  wb_error_t *err)
{
    assert (self && frame && values_p);
    *values_p = NULL;
    if (proba_p)
        *proba_p = NULL;
    const wb_blas_t *blas = wb_blas (err);
    if (!blas)
        return -1;
    double *x = s_encode (self, frame, false, NULL, "the table", err);
    if (!x)
        return -1;
    size_t rows = wb_frame_rows (frame);
    double *values = wb_malloc ((rows? rows: 1) * sizeof (double));
    double *proba = NULL;
    if (proba_p && self->task == S_CLASSIFICATION)
        proba = wb_malloc ((rows? rows: 1) * self->classes.count * sizeof (double));
    s_predict_encoded (self, blas, x, rows, values, proba);
    free (x);
    *values_p = values;
    if (proba_p)
        *proba_p = proba;
    return 0;
}


//  ---- Metrics ----

//  Area under the ROC curve from scores and 0/1 truth (ties share ranks);
//  NaN when one class is absent
static double
s_roc_auc (const double *scores, const int32_t *truth, size_t rows)
{
    typedef struct { double score; int positive; } s_pair_t;
    s_pair_t *pairs = wb_malloc ((rows? rows: 1) * sizeof (s_pair_t));
    size_t count = 0, positives = 0;
    for (size_t row = 0; row < rows; row++)
        if (truth [row] == 0 || truth [row] == 1) {
            pairs [count].score = scores [row];
            pairs [count].positive = truth [row];
            positives += truth [row] == 1;
            count++;
        }
    size_t negatives = count - positives;
    if (positives == 0 || negatives == 0) {
        free (pairs);
        return NAN;
    }
    qsort (pairs, count, sizeof (s_pair_t), s_double_cmp);    //  score is first
    double ranks = 0;
    for (size_t i = 0; i < count;) {
        size_t j = i;
        size_t tied_positives = 0;
        while (j < count && pairs [j].score == pairs [i].score)
            tied_positives += pairs [j++].positive;
        double rank = (double) (i + 1 + j) / 2;     //  average of ranks i+1 .. j
        ranks += rank * (double) tied_positives;
        i = j;
    }
    free (pairs);
    double p = (double) positives, n = (double) negatives;
    return (ranks - p * (p + 1) / 2) / (p * n);
}

//  Classification metrics from probabilities (rows x classes) and truth
//  codes (0 .. labels-1; codes from classes on are unseen labels)
static json_t *
s_class_metrics (const double *proba, const int32_t *truth, size_t rows, size_t classes,
                 char **labels, size_t nlabels)
{
    size_t *matrix = wb_calloc (nlabels * nlabels, sizeof (size_t));
    double log_loss = 0;
    size_t correct = 0;
    for (size_t row = 0; row < rows; row++) {
        const double *p = proba + row * classes;
        size_t best = 0;
        for (size_t j = 1; j < classes; j++)
            if (p [j] > p [best])
                best = j;
        size_t actual = (size_t) truth [row];
        matrix [actual * nlabels + best]++;
        correct += actual == best;
        double q = actual < classes? p [actual]: 0;
        q = q < S_EPS? S_EPS: q > 1 - S_EPS? 1 - S_EPS: q;
        log_loss -= log (q);
    }
    //  Macro averages over the labels that occur (as truth or prediction)
    double precision = 0, recall = 0, f1 = 0;
    size_t occurring = 0;
    for (size_t i = 0; i < nlabels; i++) {
        size_t tp = matrix [i * nlabels + i], predicted = 0, actual = 0;
        for (size_t j = 0; j < nlabels; j++) {
            predicted += matrix [j * nlabels + i];
            actual += matrix [i * nlabels + j];
        }
        if (predicted == 0 && actual == 0)
            continue;
        occurring++;
        double pr = predicted? (double) tp / (double) predicted: 0;
        double re = actual? (double) tp / (double) actual: 0;
        precision += pr;
        recall += re;
        f1 += pr + re > 0? 2 * pr * re / (pr + re): 0;
    }
    double n = rows? (double) rows: 1, m = occurring? (double) occurring: 1;
    json_t *metrics = json_object ();
    json_object_set_new (metrics, "rows", json_integer ((json_int_t) rows));
    json_object_set_new (metrics, "accuracy", s_real ((double) correct / n));
    json_object_set_new (metrics, "precision", s_real (precision / m));
    json_object_set_new (metrics, "recall", s_real (recall / m));
    json_object_set_new (metrics, "f1", s_real (f1 / m));
    json_object_set_new (metrics, "log_loss", s_real (log_loss / n));
    if (classes == 2) {
        double *scores = wb_malloc ((rows? rows: 1) * sizeof (double));
        for (size_t row = 0; row < rows; row++)
            scores [row] = proba [row * 2 + 1];
        json_object_set_new (metrics, "roc_auc", s_real (s_roc_auc (scores, truth, rows)));
        free (scores);
    }
    json_t *names = json_array (), *table = json_array ();
    for (size_t i = 0; i < nlabels; i++) {
        json_array_append_new (names, json_string (labels [i]));
        json_t *line = json_array ();
        for (size_t j = 0; j < nlabels; j++)
            json_array_append_new (line, json_integer ((json_int_t) matrix [i * nlabels + j]));
        json_array_append_new (table, line);
    }
    json_object_set_new (metrics, "confusion_matrix",
                         json_pack ("{s:o, s:o}", "labels", names, "matrix", table));
    free (matrix);
    return metrics;
}

//  RMSE, MAE and R^2 of predictions against truth
static void
s_reg_scores (const double *predicted, const double *truth, size_t rows,
              double *rmse, double *mae, double *r2)
{
    double mean = 0, squares = 0, absolute = 0, total = 0;
    for (size_t row = 0; row < rows; row++)
        mean += truth [row];
    mean /= rows? (double) rows: 1;
    for (size_t row = 0; row < rows; row++) {
        double error = predicted [row] - truth [row];
        squares += error * error;
        absolute += fabs (error);
        total += (truth [row] - mean) * (truth [row] - mean);
    }
    double n = rows? (double) rows: 1;
    *rmse = sqrt (squares / n);
    if (mae)
        *mae = absolute / n;
    //  as scikit-learn: a constant truth scores 1 when matched exactly, else 0
    *r2 = total > 0? 1 - squares / total: squares == 0? 1: 0;
}

static json_t *
s_reg_metrics (const double *predicted, const double *truth, size_t rows)
{
    double rmse, mae, r2;
    s_reg_scores (predicted, truth, rows, &rmse, &mae, &r2);
    json_t *metrics = json_object ();
    json_object_set_new (metrics, "rows", json_integer ((json_int_t) rows));
    json_object_set_new (metrics, "rmse", s_real (rmse));
    json_object_set_new (metrics, "mae", s_real (mae));
    json_object_set_new (metrics, "r2", s_real (r2));
    return metrics;
}

//  The column of the truth in frame for metrics (target NULL: the
//  model's), checked; -1 for clustering, which has none; -2 with err
static int
s_truth_column (wb_model_t *self, wb_frame_t *frame, const char *target, wb_error_t *err)
{
    if (self->task == S_CLUSTERING)
        return -1;
    if (!target)
        target = self->target;
    int col = wb_frame_find (frame, target);
    if (col < 0)
        return s_unknown_column (frame, target, "the table", err), -2;
    if (self->task == S_REGRESSION
    &&  s_check_numeric_target (frame, (size_t) col, self->kind, "the table", err))
        return -2;
    return col;
}

//  Metrics from predictions (values, proba, distances as
//  wb_model_evaluate_scores takes them) against the truth in column col
static json_t *
s_metrics (wb_model_t *self, wb_frame_t *frame, int col, const double *values,
           const double *proba, const double *distances, wb_error_t *err)
{
    size_t rows = wb_frame_rows (frame);
    json_t *metrics = NULL;
    if (self->task == S_CLUSTERING) {
        double inertia = 0;
        json_t *sizes = json_array ();
        size_t *counts = wb_calloc (self->k, sizeof (size_t));
        for (size_t row = 0; row < rows; row++) {
            inertia += distances [row];
            counts [(size_t) values [row]]++;
        }
        for (size_t j = 0; j < self->k; j++)
            json_array_append_new (sizes, json_integer ((json_int_t) counts [j]));
        metrics = json_pack ("{s:I, s:o, s:o}", "rows", (json_int_t) rows,
                             "inertia", s_real (inertia), "sizes", sizes);
        free (counts);
    }
    else
    if (self->task == S_REGRESSION) {
        const double *truth = wb_frame_numbers (frame, (size_t) col);
        for (size_t row = 0; row < rows; row++)
            if (isnan (truth [row])) {
                wb_error_set (err, "target '%s' in the table is missing at row %zu: drop the "
                              "rows without a target first", wb_frame_name (frame, (size_t) col),
                              row + 1);
                return NULL;
            }
        metrics = s_reg_metrics (values, truth, rows);
    }
    else {
        size_t classes = self->classes.count;
        int32_t *truth = wb_malloc ((rows? rows: 1) * sizeof (int32_t));
        s_set_t unseen = { 0 };
        if (s_target_codes (self, frame, (size_t) col, truth, &unseen, "the table", err)) {
            free (truth);
            s_set_free (&unseen);
            return NULL;
        }
        size_t nlabels = classes + unseen.count;
        char **labels = wb_malloc (nlabels * sizeof (char *));
        memcpy (labels, self->classes.items, classes * sizeof (char *));
        if (unseen.count)
            memcpy (labels + classes, unseen.items, unseen.count * sizeof (char *));
        metrics = s_class_metrics (proba, truth, rows, classes, labels, nlabels);
        free (labels);
        free (truth);
        s_set_free (&unseen);
    }
    return metrics;
}

json_t *
wb_model_evaluate (wb_model_t *self, wb_frame_t *frame, const char *target, wb_error_t *err)
{
    assert (self && frame);
    const wb_blas_t *blas = wb_blas (err);
    if (!blas)
        return NULL;
    int col = s_truth_column (self, frame, target, err);
    if (col == -2)
        return NULL;
    double *x = s_encode (self, frame, false, NULL, "the table", err);
    if (!x)
        return NULL;
    size_t rows = wb_frame_rows (frame);
    double *values = wb_malloc ((rows? rows: 1) * sizeof (double));
    double *proba = NULL, *distances = NULL;
    if (self->task == S_CLUSTERING) {
        int32_t *labels = wb_malloc ((rows? rows: 1) * sizeof (int32_t));
        distances = wb_malloc ((rows? rows: 1) * sizeof (double));
        s_nearest (blas, x, rows, self->inputs, self->centers, self->k, labels, distances);
        for (size_t row = 0; row < rows; row++)
            values [row] = labels [row];
        free (labels);
    }
    else {
        if (self->task == S_CLASSIFICATION)
            proba = wb_malloc ((rows? rows: 1) * self->classes.count * sizeof (double));
        s_predict_encoded (self, blas, x, rows, values, proba);
    }
    free (x);
    json_t *metrics = s_metrics (self, frame, col, values, proba, distances, err);
    free (values);
    free (proba);
    free (distances);
    return metrics;
}

json_t *
wb_model_evaluate_scores (wb_model_t *self, wb_frame_t *frame, const char *target,
                          const double *values, const double *proba, const double *distances,
                          wb_error_t *err)
{
    assert (self && frame && values);
    assert (self->task != S_CLASSIFICATION || proba);
    assert (self->task != S_CLUSTERING || distances);
    int col = s_truth_column (self, frame, target, err);
    return col == -2? NULL: s_metrics (self, frame, col, values, proba, distances, err);
}


//  ---- Training: shared state ----

//  One training in progress
typedef struct {
    wb_model_t *model;          //  being trained
    const wb_blas_t *blas;      //  the routines
    s_params_t *params;         //  hyperparameters
    wb_rng_t rng;                //  the one random stream
    double *x;                  //  training rows, encoded (rows x inputs), double
    float *xf;                  //  the same as floats (mlp), else NULL
    size_t rows;                //  training rows
    double *y;                  //  regression: standardised target
    int32_t *codes;             //  classification: class codes
    double *vx;                 //  validation rows encoded, NULL without
    float *vxf;                 //  the same as floats (mlp)
    size_t vrows;               //  validation rows
    double *vy;                 //  regression: the validation target (original units)
    int32_t *vcodes;            //  classification: codes (-1: unseen class)
    s_pool_t *pool;             //  the threads that share the work
    wb_model_progress_fn *fn;   //  progress callback, may be NULL
    void *arg;                  //  its argument
    bool stopped;               //  the callback asked to stop
} s_train_t;

//  Between batches: should training go on?
static bool
s_go_on (s_train_t *t)
{
    if (!t->stopped && t->fn && t->fn (t->arg, t->model->steps + 1, NULL))
        t->stopped = true;
    return !t->stopped;
}

//  The end of a step: record its metrics (steals them), tell the caller
static void
s_step_done (s_train_t *t, json_t *metrics)
{
    wb_model_t *self = t->model;
    self->steps++;
    json_t *entry = json_pack ("{s:I}", "step", (json_int_t) self->steps);
    json_object_update (entry, metrics);
    json_decref (metrics);
    json_array_append_new (self->history, entry);
    if (t->fn && t->fn (t->arg, self->steps, entry))
        t->stopped = true;
}

//  Validation loss and accuracy (classification) of probabilities;
//  unseen classes count as wrong, with the clipped probability
static void
s_val_class (const double *proba, const int32_t *codes, size_t rows, size_t classes,
             double *loss, double *accuracy)
{
    double sum = 0;
    size_t correct = 0;
    for (size_t row = 0; row < rows; row++) {
        const double *p = proba + row * classes;
        size_t best = 0;
        for (size_t j = 1; j < classes; j++)
            if (p [j] > p [best])
                best = j;
        int32_t code = codes [row];
        double q = code >= 0? p [code]: 0;
        q = q < S_EPS? S_EPS: q > 1 - S_EPS? 1 - S_EPS: q;
        sum -= log (q);
        correct += code >= 0 && (size_t) code == best;
    }
    *loss = sum / (double) (rows? rows: 1);
    *accuracy = (double) correct / (double) (rows? rows: 1);
}


//  ---- Linear and ridge regression: normal equations, Cholesky ----

//  Minimum-norm least squares of [X 1] w = y (+ ridge rows) by SVD, when
//  the normal equations are singular. w gets inputs + 1 numbers.
static int
s_linear_svd (s_train_t *t, double *w, wb_error_t *err)
{
    const wb_blas_t *blas = t->blas;
    size_t n = t->rows, p = t->model->inputs;
    bool ridge = t->params->l2 > 0;
    size_t m = n + (ridge? p: 0), cols = p + 1;
    double *a = wb_calloc (m * cols, sizeof (double));     //  column-major
    double *b = wb_calloc (m, sizeof (double));
    for (size_t row = 0; row < n; row++) {
        for (size_t j = 0; j < p; j++)
            a [j * m + row] = t->x [row * p + j];
        a [p * m + row] = 1;
        b [row] = t->y [row];
    }
    if (ridge)
        for (size_t j = 0; j < p; j++)
            a [j * m + n + j] = sqrt (t->params->l2);
    int im = (int) m, in = (int) cols, one = 1, rank = 0, info = 0, lwork = -1, iquery = 0;
    double rcond = 1e-12, query = 0;
    double *s = wb_malloc (cols * sizeof (double));
    blas->dgelsd (&im, &in, &one, a, &im, b, &im, s, &rcond, &rank, &query, &lwork,
                  &iquery, &info);
    lwork = (int) query + 1;
    int liwork = iquery > 1? iquery: 1;
    double *work = wb_malloc ((size_t) lwork * sizeof (double));
    int *iwork = wb_malloc ((size_t) liwork * sizeof (int));
    blas->dgelsd (&im, &in, &one, a, &im, b, &im, s, &rcond, &rank, work, &lwork,
                  iwork, &info);
    memcpy (w, b, cols * sizeof (double));
    free (work);
    free (iwork);
    free (s);
    free (a);
    free (b);
    if (info != 0)
        return wb_error_set (err, "the least squares solver did not converge (LAPACK "
                             "dgelsd info %d): check the data for extreme values", info);
    return 0;
}

//  A thread's part of the normal equations: X^T X (lower triangle,
//  column-major), X^T y, X^T 1, and the sum of y, over its rows
typedef struct {
    s_train_t *t;               //  the training
    const double *ones;         //  rows ones
    double **xx;                //  per thread: inputs x inputs
    double **xy;                //  per thread: inputs
    double **sums;              //  per thread: inputs
    double *ysum;               //  per thread
} s_normal_t;

static void
s_normal_task (void *arg, size_t index, size_t count)
{
    s_normal_t *ne = arg;
    s_train_t *t = ne->t;
    size_t p = t->model->inputs, lo, hi;
    s_share (t->rows, index, count, &lo, &hi);
    size_t rows = hi - lo;
    memset (ne->xx [index], 0, p * p * sizeof (double));
    memset (ne->xy [index], 0, p * sizeof (double));
    memset (ne->sums [index], 0, p * sizeof (double));
    ne->ysum [index] = 0;
    if (!rows)
        return;
    const double *x = t->x + lo * p;
    //  row-major X is column-major X^T (inputs x rows)
    t->blas->dsyrk (WB_BLAS_COL_MAJOR, WB_BLAS_LOWER, WB_BLAS_NO_TRANS, (int) p, (int) rows,
                    1.0, x, (int) p, 0.0, ne->xx [index], (int) p);
    t->blas->dgemv (WB_BLAS_ROW_MAJOR, WB_BLAS_TRANS, (int) rows, (int) p, 1.0, x, (int) p,
                    t->y + lo, 1, 0.0, ne->xy [index], 1);
    t->blas->dgemv (WB_BLAS_ROW_MAJOR, WB_BLAS_TRANS, (int) rows, (int) p, 1.0, x, (int) p,
                    ne->ones, 1, 0.0, ne->sums [index], 1);
    double sum = 0;
    for (size_t row = lo; row < hi; row++)
        sum += t->y [row];
    ne->ysum [index] = sum;
}

static int
s_train_linear (s_train_t *t, wb_error_t *err)
{
    wb_model_t *self = t->model;
    const wb_blas_t *blas = t->blas;
    size_t n = t->rows, p = self->inputs, q = p + 1, threads = t->pool->count;
    if (!s_go_on (t))
        return 0;
    //  A = [X 1]^T [X 1] + l2 diag (1 .. 1 0), c = [X 1]^T y: q x q,
    //  column-major, lower triangle; partial sums added in thread order
    s_normal_t ne = { t, NULL, wb_malloc (threads * sizeof (double *)),
                      wb_malloc (threads * sizeof (double *)),
                      wb_malloc (threads * sizeof (double *)),
                      wb_malloc (threads * sizeof (double)) };
    double *ones = wb_malloc (n * sizeof (double));
    for (size_t row = 0; row < n; row++)
        ones [row] = 1;
    ne.ones = ones;
    for (size_t i = 0; i < threads; i++) {
        ne.xx [i] = wb_malloc (p * p * sizeof (double));
        ne.xy [i] = wb_malloc (p * sizeof (double));
        ne.sums [i] = wb_malloc (p * sizeof (double));
    }
    s_pool_run (t->pool, s_normal_task, &ne);
    double *a = wb_calloc (q * q, sizeof (double));
    double *c = wb_calloc (q, sizeof (double));
    for (size_t i = 0; i < threads; i++) {
        for (size_t j = 0; j < p; j++) {
            for (size_t k = j; k < p; k++)
                a [j * q + k] += ne.xx [i][j * p + k];
            a [j * q + p] += ne.sums [i][j];        //  last row, lower triangle
            c [j] += ne.xy [i][j];
        }
        c [p] += ne.ysum [i];
        free (ne.xx [i]);
        free (ne.xy [i]);
        free (ne.sums [i]);
    }
    free (ne.xx);
    free (ne.xy);
    free (ne.sums);
    free (ne.ysum);
    free (ones);
    for (size_t j = 0; j < p; j++)
        a [j * q + j] += t->params->l2;
    a [p * q + p] = (double) n;
    //  1-norm of A for the condition estimate (symmetric: from the lower part)
    double anorm = 0;
    for (size_t j = 0; j < q; j++) {
        double sum = 0;
        for (size_t i = 0; i < q; i++)
            sum += fabs (i >= j? a [j * q + i]: a [i * q + j]);
        anorm = sum > anorm? sum: anorm;
    }
    int iq = (int) q, one = 1, info = 0;
    blas->dpotrf ("L", &iq, a, &iq, &info, 1);
    double rcond = 0;
    if (info == 0) {
        double *work = wb_malloc (3 * q * sizeof (double));
        int *iwork = wb_malloc (q * sizeof (int));
        int info2 = 0;
        blas->dpocon ("L", &iq, a, &iq, &anorm, &rcond, work, iwork, &info2, 1);
        free (work);
        free (iwork);
    }
    double *w = wb_calloc (q, sizeof (double));
    int rc = 0;
    if (info == 0 && rcond > 1e-12) {
        memcpy (w, c, q * sizeof (double));
        blas->dpotrs ("L", &iq, &one, a, &iq, w, &iq, &info, 1);
    }
    else
        rc = s_linear_svd (t, w, err);      //  singular: collinear columns
    free (a);
    free (c);
    if (rc == 0) {
        s_layer_t *layer = s_add_layer (self, p, 1, S_IDENTITY);
        memcpy (layer->weights, w, p * sizeof (double));
        layer->bias [0] = w [p];
        s_set_stop (self, "solved");
        //  The step's metrics: training and validation fit
        double *predicted = wb_malloc (n * sizeof (double));
        double *truth = wb_malloc (n * sizeof (double));
        s_predict_encoded (self, t->blas, t->x, n, predicted, NULL);
        for (size_t row = 0; row < n; row++)
            truth [row] = t->y [row] * self->target_std + self->target_mean;
        double rmse, r2;
        s_reg_scores (predicted, truth, n, &rmse, NULL, &r2);
        json_t *metrics = json_pack ("{s:o, s:o}", "rmse", s_real (rmse), "r2", s_real (r2));
        free (predicted);
        free (truth);
        if (t->vx) {
            predicted = wb_malloc (t->vrows * sizeof (double));
            s_predict_encoded (self, t->blas, t->vx, t->vrows, predicted, NULL);
            s_reg_scores (predicted, t->vy, t->vrows, &rmse, NULL, &r2);
            json_object_set_new (metrics, "val_rmse", s_real (rmse));
            json_object_set_new (metrics, "val_r2", s_real (r2));
            free (predicted);
        }
        s_step_done (t, metrics);
        self->best_step = 1;
    }
    free (w);
    return rc;
}


//  ---- Logistic regression: full-batch L-BFGS ----

#define S_LOGIT_ROWS    512     //  rows per block: read once from memory, used twice

//  The objective, evaluated by the pool over blocks of rows
typedef struct {
    s_train_t *t;               //  the training
    size_t outputs;             //  1 (binary, sigmoid) or classes (softmax)
    const double *w;            //  the point: weights (inputs x outputs) then biases
    double **z;                 //  per thread: a block's logits, then residuals
    double **g;                 //  per thread: the gradient's sum over its rows
    double *loss;               //  per thread: the loss summed over its rows
} s_logit_t;

//  Summed log loss of rows x outputs logits in z against codes; z becomes
//  the residual (probability - truth)
static double
s_logit_loss (double *z, const int32_t *codes, size_t rows, size_t outputs)
{
    double loss = 0;
    if (outputs == 1)
        for (size_t row = 0; row < rows; row++) {
            double v = z [row], y = codes [row] == 1;
            //  log (1 + e^v) - y v and the sigmoid, with one exp
            double e = exp (-fabs (v));
            loss += (v > 0? v: 0) + log1p (e) - y * v;
            z [row] = (v >= 0? 1 / (1 + e): e / (1 + e)) - y;
        }
    else
        for (size_t row = 0; row < rows; row++) {
            double *v = z + row * outputs;
            double top = v [0], sum = 0;
            for (size_t j = 1; j < outputs; j++)
                top = v [j] > top? v [j]: top;
            for (size_t j = 0; j < outputs; j++)
                sum += (v [j] = exp (v [j] - top));
            int32_t code = codes [row];
            loss += log (sum) - log (v [code]);
            for (size_t j = 0; j < outputs; j++)
                v [j] = v [j] / sum - ((int32_t) j == code);
        }
    return loss;
}

static void
s_logit_task (void *arg, size_t index, size_t count)
{
    s_logit_t *o = arg;
    s_train_t *t = o->t;
    size_t p = t->model->inputs, k = o->outputs, lo, hi;
    s_share (t->rows, index, count, &lo, &hi);
    double *z = o->z [index], *g = o->g [index];
    const double *bias = o->w + p * k;
    memset (g, 0, (p * k + k) * sizeof (double));
    double loss = 0;
    for (size_t first = lo; first < hi; first += S_LOGIT_ROWS) {
        size_t rows = hi - first < S_LOGIT_ROWS? hi - first: S_LOGIT_ROWS;
        const double *x = t->x + first * p;
        for (size_t row = 0; row < rows; row++)
            memcpy (z + row * k, bias, k * sizeof (double));
        if (k == 1)
            t->blas->dgemv (WB_BLAS_ROW_MAJOR, WB_BLAS_NO_TRANS, (int) rows, (int) p, 1.0,
                            x, (int) p, o->w, 1, 1.0, z, 1);
        else
            t->blas->dgemm (WB_BLAS_ROW_MAJOR, WB_BLAS_NO_TRANS, WB_BLAS_NO_TRANS, (int) rows,
                            (int) k, (int) p, 1.0, x, (int) p, o->w, (int) k, 1.0, z, (int) k);
        loss += s_logit_loss (z, t->codes + first, rows, k);
        if (k == 1)
            t->blas->dgemv (WB_BLAS_ROW_MAJOR, WB_BLAS_TRANS, (int) rows, (int) p, 1.0, x,
                            (int) p, z, 1, 1.0, g, 1);
        else
            t->blas->dgemm (WB_BLAS_ROW_MAJOR, WB_BLAS_TRANS, WB_BLAS_NO_TRANS, (int) p,
                            (int) k, (int) rows, 1.0, x, (int) p, z, (int) k, 1.0, g, (int) k);
        for (size_t row = 0; row < rows; row++)
            for (size_t j = 0; j < k; j++)
                g [p * k + j] += z [row * k + j];
    }
    o->loss [index] = loss;
}

//  f (w) = mean log loss + l2 / (2 n) |W|^2 (the same minimum as
//  scikit-learn's sum of losses + |W|^2 / 2C), and its gradient; the
//  penalty-free mean log loss into *data_loss
static double
s_logit_eval (s_logit_t *o, const double *w, double *g, double *data_loss)
{
    s_train_t *t = o->t;
    size_t n = t->rows, p = t->model->inputs, k = o->outputs, dim = p * k + k;
    o->w = w;
    s_pool_run (t->pool, s_logit_task, o);
    double loss = 0;
    memset (g, 0, dim * sizeof (double));
    for (size_t i = 0; i < t->pool->count; i++) {
        loss += o->loss [i];
        for (size_t j = 0; j < dim; j++)
            g [j] += o->g [i][j];
    }
    double scale = 1 / (double) n, l2 = t->params->l2 / (double) n, penalty = 0;
    for (size_t j = 0; j < dim; j++)
        g [j] *= scale;
    for (size_t j = 0; j < p * k; j++) {
        penalty += w [j] * w [j];
        g [j] += l2 * w [j];
    }
    *data_loss = loss * scale;
    return loss * scale + 0.5 * l2 * penalty;
}

static double
s_dot (const double *a, const double *b, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += a [i] * b [i];
    return sum;
}

//  Put the weights w into the model's single layer
static void
s_logit_store (s_train_t *t, s_logit_t *o, const double *w)
{
    wb_model_t *self = t->model;
    size_t p = self->inputs, k = o->outputs;
    if (!self->nlayers)
        s_add_layer (self, p, k, k == 1? S_SIGMOID: S_SOFTMAX);
    memcpy (self->layers [0].weights, w, p * k * sizeof (double));
    memcpy (self->layers [0].bias, w + p * k, k * sizeof (double));
}

static int
s_train_logistic (s_train_t *t, wb_error_t *err)
{
    (void) err;
    wb_model_t *self = t->model;
    size_t classes = self->classes.count, threads = t->pool->count;
    size_t p = self->inputs, k = classes == 2? 1: classes, dim = p * k + k, memory = 10;
    s_logit_t o = { t, k, NULL, wb_malloc (threads * sizeof (double *)),
                    wb_malloc (threads * sizeof (double *)), wb_malloc (threads * sizeof (double)) };
    for (size_t i = 0; i < threads; i++) {
        o.z [i] = wb_malloc (S_LOGIT_ROWS * k * sizeof (double));
        o.g [i] = wb_malloc (dim * sizeof (double));
    }
    double *w = wb_calloc (dim, sizeof (double)), *g = wb_malloc (dim * sizeof (double));
    double *w_new = wb_malloc (dim * sizeof (double)), *g_new = wb_malloc (dim * sizeof (double));
    double *d = wb_malloc (dim * sizeof (double)), *alpha = wb_malloc (memory * sizeof (double));
    double *s = wb_malloc (memory * dim * sizeof (double)), *y = wb_malloc (memory * dim * sizeof (double));
    double *rho = wb_malloc (memory * sizeof (double));
    double *vvalues = t->vx? wb_malloc (t->vrows * sizeof (double)): NULL;
    double *vproba = t->vx? wb_malloc (t->vrows * classes * sizeof (double)): NULL;
    size_t stored = 0, newest = 0;          //  pairs (s, y) kept, the next slot

    if (s_go_on (t)) {
        double data_loss = 0, data_loss_new = 0;
        double f = s_logit_eval (&o, w, g, &data_loss);
        s_set_stop (self, "max_iter");
        for (int64_t iteration = 1; iteration <= t->params->max_iter; iteration++) {
            //  Direction: the two-loop recursion over the stored pairs
            for (size_t i = 0; i < dim; i++)
                d [i] = -g [i];
            for (size_t m = 0; m < stored; m++) {
                size_t at = (newest + memory - 1 - m) % memory;
                alpha [at] = rho [at] * s_dot (s + at * dim, d, dim);
                for (size_t i = 0; i < dim; i++)
                    d [i] -= alpha [at] * y [at * dim + i];
            }
            if (stored) {
                size_t last = (newest + memory - 1) % memory;
                double gamma = s_dot (s + last * dim, y + last * dim, dim)
                             / s_dot (y + last * dim, y + last * dim, dim);
                for (size_t i = 0; i < dim; i++)
                    d [i] *= gamma;
            }
            for (size_t m = stored; m-- > 0;) {
                size_t at = (newest + memory - 1 - m) % memory;
                double beta = rho [at] * s_dot (y + at * dim, d, dim);
                for (size_t i = 0; i < dim; i++)
                    d [i] += s [at * dim + i] * (alpha [at] - beta);
            }
            double slope = s_dot (g, d, dim);
            if (slope >= 0) {           //  not a descent direction: start over
                stored = 0;
                for (size_t i = 0; i < dim; i++)
                    d [i] = -g [i];
                slope = s_dot (g, d, dim);
            }
            //  Backtracking line search (Armijo); the first step scaled to 1/|g|
            double step = stored? 1: 1 / sqrt (s_dot (g, g, dim));
            double f_new = f;
            bool accepted = false;
            for (int tries = 0; tries < 40 && s_go_on (t); tries++) {
                for (size_t i = 0; i < dim; i++)
                    w_new [i] = w [i] + step * d [i];
                f_new = s_logit_eval (&o, w_new, g_new, &data_loss_new);
                if (f_new <= f + 1e-4 * step * slope) {
                    accepted = true;
                    break;
                }
                step *= 0.5;
            }
            if (t->stopped)
                break;
            if (!accepted) {
                s_set_stop (self, "converged");     //  no further progress possible
                break;
            }
            //  Keep the pair (s, y) when the curvature is positive
            double *s_at = s + newest * dim, *y_at = y + newest * dim;
            for (size_t i = 0; i < dim; i++) {
                s_at [i] = w_new [i] - w [i];
                y_at [i] = g_new [i] - g [i];
            }
            double sy = s_dot (s_at, y_at, dim);
            if (sy > 1e-12) {
                rho [newest] = 1 / sy;
                newest = (newest + 1) % memory;
                stored = stored < memory? stored + 1: memory;
            }
            double f_old = f;
            memcpy (w, w_new, dim * sizeof (double));
            memcpy (g, g_new, dim * sizeof (double));
            f = f_new;
            data_loss = data_loss_new;

            //  The step's metrics
            s_logit_store (t, &o, w);
            json_t *metrics = json_pack ("{s:o}", "loss", s_real (data_loss));
            if (t->vx) {
                s_predict_encoded (self, t->blas, t->vx, t->vrows, vvalues, vproba);
                double loss, accuracy;
                s_val_class (vproba, t->vcodes, t->vrows, classes, &loss, &accuracy);
                json_object_set_new (metrics, "val_loss", s_real (loss));
                json_object_set_new (metrics, "val_accuracy", s_real (accuracy));
            }
            s_step_done (t, metrics);
            self->best_step = self->steps;
            //  Converged: the largest gradient component is small, or the
            //  objective no longer moves (relative to its size)
            double largest = 0;
            for (size_t i = 0; i < dim; i++)
                largest = fabs (g [i]) > largest? fabs (g [i]): largest;
            double scale = fabs (f_old) > fabs (f)? fabs (f_old): fabs (f);
            if (largest <= t->params->tol
            ||  f_old - f <= 2.2e-9 * (scale > 1? scale: 1)) {
                s_set_stop (self, "converged");
                break;
            }
            if (t->stopped)
                break;
        }
    }
    if (t->stopped)
        s_set_stop (self, "interrupted");
    if (self->steps > 0)
        s_logit_store (t, &o, w);
    for (size_t i = 0; i < threads; i++) {
        free (o.z [i]);
        free (o.g [i]);
    }
    free (o.z);
    free (o.g);
    free (o.loss);
    free (vvalues);
    free (vproba);
    free (w);
    free (g);
    free (w_new);
    free (g_new);
    free (d);
    free (alpha);
    free (s);
    free (y);
    free (rho);
    return 0;
}


//  ---- Multi-layer perceptron: float32 mini-batch GEMM, Adam ----

//  v = max (v + bias, 0), rows x out
static void
s_bias_relu (float *v, size_t rows, size_t out, const float *bias)
{
    for (size_t row = 0; row < rows; row++, v += out) {
        size_t j = 0;
#ifdef S_SSE
        __m128 zero = _mm_setzero_ps ();
        for (; j + 4 <= out; j += 4)
            _mm_storeu_ps (v + j, _mm_max_ps (_mm_add_ps (_mm_loadu_ps (v + j),
                                                          _mm_loadu_ps (bias + j)), zero));
#endif
        for (; j < out; j++) {
            float value = v [j] + bias [j];
            v [j] = value > 0? value: 0;
        }
    }
}

//  delta = 0 where the unit's output a was not positive
static void
s_relu_mask (float *delta, const float *a, size_t count)
{
    size_t i = 0;
#ifdef S_SSE
    __m128 zero = _mm_setzero_ps ();
    for (; i + 4 <= count; i += 4)
        _mm_storeu_ps (delta + i, _mm_and_ps (_mm_cmpgt_ps (_mm_loadu_ps (a + i), zero),
                                              _mm_loadu_ps (delta + i)));
#endif
    for (; i < count; i++)
        delta [i] = a [i] > 0? delta [i]: 0;
}

//  One Adam step over count parameters, whose gradient is the sum of
//  sources partial gradients (added in order)
static void
s_adam (float *params, const float *const *grads, size_t sources, float *m1, float *m2,
        size_t count, float rate, float beta1, float beta2, float epsilon)
{
    size_t i = 0;
#ifdef S_SSE
    __m128 b1 = _mm_set1_ps (beta1), c1 = _mm_set1_ps (1 - beta1);
    __m128 b2 = _mm_set1_ps (beta2), c2 = _mm_set1_ps (1 - beta2);
    __m128 r = _mm_set1_ps (rate), e = _mm_set1_ps (epsilon);
    for (; i + 4 <= count; i += 4) {
        __m128 g = _mm_loadu_ps (grads [0] + i);
        for (size_t source = 1; source < sources; source++)
            g = _mm_add_ps (g, _mm_loadu_ps (grads [source] + i));
        __m128 m = _mm_add_ps (_mm_mul_ps (b1, _mm_loadu_ps (m1 + i)), _mm_mul_ps (c1, g));
        __m128 v = _mm_add_ps (_mm_mul_ps (b2, _mm_loadu_ps (m2 + i)),
                               _mm_mul_ps (c2, _mm_mul_ps (g, g)));
        _mm_storeu_ps (m1 + i, m);
        _mm_storeu_ps (m2 + i, v);
        __m128 step = _mm_div_ps (_mm_mul_ps (r, m), _mm_add_ps (_mm_sqrt_ps (v), e));
        _mm_storeu_ps (params + i, _mm_sub_ps (_mm_loadu_ps (params + i), step));
    }
#endif
    for (; i < count; i++) {
        float g = grads [0][i];
        for (size_t source = 1; source < sources; source++)
            g += grads [source][i];
        m1 [i] = beta1 * m1 [i] + (1 - beta1) * g;
        m2 [i] = beta2 * m2 [i] + (1 - beta2) * (g * g);
        params [i] -= (rate * m1 [i]) / (sqrtf (m2 [i]) + epsilon);
    }
}

//  The network being trained, in floats
typedef struct {
    size_t layers;              //  dense layers (hidden + output)
    size_t sizes [S_MAX_LAYERS + 2];    //  units: [0] inputs, [layers] outputs
    float *params;              //  every layer's weights (in x out) then bias
    size_t count;               //  numbers in params
    size_t offsets [S_MAX_LAYERS + 1];  //  where each layer starts in params
    bool softmax;               //  classification output (else identity)
} s_net_t;

static float *
s_net_weights (s_net_t *net, float *base, size_t layer)
{
    return base + net->offsets [layer];
}

static float *
s_net_bias (s_net_t *net, float *base, size_t layer)
{
    return base + net->offsets [layer] + net->sizes [layer] * net->sizes [layer + 1];
}

//  Forward pass over rows of x: acts[l] gets layer l's output (acts[0] is
//  x itself); acts[layers] holds probabilities (softmax) or values
static void
s_net_forward (s_net_t *net, const wb_blas_t *blas, const float *x, size_t rows, float **acts)
{
    const float *input = x;
    for (size_t l = 0; l < net->layers; l++) {
        size_t in = net->sizes [l], out = net->sizes [l + 1];
        float *output = acts [l + 1];
        blas->sgemm (WB_BLAS_ROW_MAJOR, WB_BLAS_NO_TRANS, WB_BLAS_NO_TRANS, (int) rows,
                     (int) out, (int) in, 1.0f, input, (int) in,
                     s_net_weights (net, net->params, l), (int) out, 0.0f, output, (int) out);
        const float *bias = s_net_bias (net, net->params, l);
        bool last = l + 1 == net->layers;
        if (!last)
            s_bias_relu (output, rows, out, bias);
        else
        if (net->softmax)
            for (size_t row = 0; row < rows; row++) {
                float *v = output + row * out;
                float top = v [0] + bias [0];
                for (size_t j = 0; j < out; j++) {
                    v [j] += bias [j];
                    top = v [j] > top? v [j]: top;
                }
                float sum = 0;
                for (size_t j = 0; j < out; j++)
                    sum += (v [j] = expf (v [j] - top));
                for (size_t j = 0; j < out; j++)
                    v [j] /= sum;
            }
        else
            for (size_t row = 0; row < rows; row++)
                output [row] += bias [0];
        input = output;
    }
}

//  Validation loss (log loss, or MSE over the target's variance) and
//  accuracy or RMSE / R^2 of the network, in blocks of rows
static json_t *
s_net_validate (s_train_t *t, s_net_t *net, float **acts)
{
    wb_model_t *self = t->model;
    size_t outputs = net->sizes [net->layers];
    double loss = 0, squares = 0, total = 0, mean = 0;
    size_t correct = 0;
    if (!net->softmax) {
        for (size_t row = 0; row < t->vrows; row++)
            mean += t->vy [row];
        mean /= (double) t->vrows;
    }
    for (size_t first = 0; first < t->vrows; first += S_BLOCK) {
        size_t count = t->vrows - first < S_BLOCK? t->vrows - first: S_BLOCK;
        s_net_forward (net, t->blas, t->vxf + first * net->sizes [0], count, acts);
        const float *out = acts [net->layers];
        for (size_t row = 0; row < count; row++) {
            if (net->softmax) {
                const float *p = out + row * outputs;
                size_t best = 0;
                for (size_t j = 1; j < outputs; j++)
                    if (p [j] > p [best])
                        best = j;
                int32_t code = t->vcodes [first + row];
                double q = code >= 0? p [code]: 0;
                q = q < S_EPS? S_EPS: q > 1 - S_EPS? 1 - S_EPS: q;
                loss -= log (q);
                correct += code >= 0 && (size_t) code == best;
            }
            else {
                double truth = t->vy [first + row];
                double value = out [row] * self->target_std + self->target_mean;
                squares += (value - truth) * (value - truth);
                total += (truth - mean) * (truth - mean);
            }
        }
    }
    double n = (double) t->vrows;
    json_t *metrics = json_object ();
    if (net->softmax) {
        json_object_set_new (metrics, "val_loss", s_real (loss / n));
        json_object_set_new (metrics, "val_accuracy", s_real ((double) correct / n));
    }
    else {
        double variance = self->target_std * self->target_std;
        json_object_set_new (metrics, "val_loss", s_real (squares / n / variance));
        json_object_set_new (metrics, "val_rmse", s_real (sqrt (squares / n)));
        json_object_set_new (metrics, "val_r2", s_real (total > 0? 1 - squares / total: 0));
    }
    return metrics;
}

//  ---- Data-parallel mini-batches ----

//  Each batch is shared by the pool's threads: each runs the forward and
//  backward GEMMs for its slice of the rows into its own gradient; then
//  each sums one slice of the parameters' gradients, in thread order, and
//  takes the Adam step there.

typedef struct _s_mlp_t s_mlp_t;

//  One training thread: its share of a batch and its buffers
typedef struct {
    s_mlp_t *mlp;               //  the training it works for
    size_t index;               //  its thread in the pool
    float *acts [S_MAX_LAYERS + 2];     //  each layer's output for its rows
    float *delta;               //  error at a layer's output, rows x widest
    float *delta_in;            //  the same one layer down
    float *grads;               //  its gradient, laid out as the parameters
    float *targets;             //  regression: its rows' targets
    int32_t *labels;            //  classification: its rows' classes
    double loss;                //  summed loss of its rows in this batch
} s_worker_t;

struct _s_mlp_t {
    s_train_t *t;               //  the training
    s_net_t net;                //  the network
    size_t workers;             //  threads sharing each batch (the pool's)
    s_worker_t *worker;         //  their state
    const size_t *order;        //  this epoch's row order
    size_t batch;               //  rows per batch
    int64_t steps;              //  Adam steps taken before this epoch
    int64_t batches;            //  batches run in this epoch
    double loss;                //  summed loss of this epoch's rows
    bool go;                    //  thread 0's answer: run the next batch
    float *m1;                  //  Adam first moments
    float *m2;                  //  Adam second moments
    float *ones;                //  ones, for bias gradients by GEMV
};

#define S_BETA1     0.9f        //  Adam, as scikit-learn
#define S_BETA2     0.999f
#define S_EPSILON   1e-8f

//  A worker's share of the batch order [first .. first + count): forward,
//  loss, backward into its grads
static void
s_mlp_share (s_worker_t *w, size_t first, size_t count)
{
    s_mlp_t *mlp = w->mlp;
    s_net_t *net = &mlp->net;
    s_train_t *t = mlp->t;
    const wb_blas_t *blas = t->blas;
    size_t lo = count * w->index / mlp->workers;
    size_t rows = count * (w->index + 1) / mlp->workers - lo;
    size_t inputs = net->sizes [0], outputs = net->sizes [net->layers];
    float scale = 1.0f / (float) count, decay = (float) t->params->l2 * scale;
    w->loss = 0;
    if (rows) {
        for (size_t i = 0; i < rows; i++) {
            size_t row = mlp->order [first + lo + i];
            memcpy (w->acts [0] + i * inputs, t->xf + row * inputs, inputs * sizeof (float));
            if (net->softmax)
                w->labels [i] = t->codes [row];
            else
                w->targets [i] = (float) t->y [row];
        }
        s_net_forward (net, blas, w->acts [0], rows, w->acts);
        //  Output error (probability - truth, or value - truth) and loss
        const float *out = w->acts [net->layers];
        for (size_t i = 0; i < rows; i++)
            if (net->softmax) {
                float *d = w->delta + i * outputs;
                memcpy (d, out + i * outputs, outputs * sizeof (float));
                float q = d [w->labels [i]];
                w->loss -= log (q > 1e-7f? q: 1e-7f);
                d [w->labels [i]] -= 1;
            }
            else {
                float error = out [i] - w->targets [i];
                w->delta [i] = error;
                w->loss += (double) error * error;
            }
    }
    //  Back-propagate: gW = A^T delta / rows (+ l2 W / rows, once, by
    //  worker 0), gb = delta^T 1 / rows, delta_in = delta W^T * relu'
    for (size_t l = net->layers; l-- > 0;) {
        size_t in = net->sizes [l], out = net->sizes [l + 1];
        float *gw = s_net_weights (net, w->grads, l), *gb = s_net_bias (net, w->grads, l);
        const float *weights = s_net_weights (net, net->params, l);
        if (w->index == 0)
            memcpy (gw, weights, in * out * sizeof (float));
        if (rows) {
            blas->sgemm (WB_BLAS_ROW_MAJOR, WB_BLAS_TRANS, WB_BLAS_NO_TRANS, (int) in,
                         (int) out, (int) rows, scale, w->acts [l], (int) in, w->delta,
                         (int) out, w->index == 0? decay: 0.0f, gw, (int) out);
            blas->sgemv (WB_BLAS_ROW_MAJOR, WB_BLAS_TRANS, (int) rows, (int) out, scale,
                         w->delta, (int) out, mlp->ones, 1, 0.0f, gb, 1);
        }
        else {
            for (size_t i = 0; i < in * out; i++)
                gw [i] = w->index == 0? gw [i] * decay: 0;
            memset (gb, 0, out * sizeof (float));
        }
        if (l == 0 || !rows)
            continue;
        blas->sgemm (WB_BLAS_ROW_MAJOR, WB_BLAS_NO_TRANS, WB_BLAS_TRANS, (int) rows,
                     (int) in, (int) out, 1.0f, w->delta, (int) out, weights, (int) out,
                     0.0f, w->delta_in, (int) in);
        s_relu_mask (w->delta_in, w->acts [l], rows * in);
        float *swap = w->delta;
        w->delta = w->delta_in;
        w->delta_in = swap;
    }
}

//  A worker's slice of the parameters: Adam step number step with the
//  sum of the workers' gradients (in worker order)
static void
s_mlp_update (s_worker_t *w, int64_t step)
{
    s_mlp_t *mlp = w->mlp;
    size_t count = mlp->net.count;
    size_t lo = count * w->index / mlp->workers, hi = count * (w->index + 1) / mlp->workers;
    const float *grads [S_MAX_THREADS];
    for (size_t v = 0; v < mlp->workers; v++)
        grads [v] = mlp->worker [v].grads + lo;
    double rate = mlp->t->params->learning_rate * sqrt (1 - pow (S_BETA2, (double) step))
                / (1 - pow (S_BETA1, (double) step));
    s_adam (mlp->net.params + lo, grads, mlp->workers, mlp->m1 + lo, mlp->m2 + lo, hi - lo,
            (float) rate, S_BETA1, S_BETA2, S_EPSILON);
}

//  One epoch, on every thread: two meetings a batch (gradients done,
//  updates done). Thread 0, the caller's, asks the progress callback
//  before each batch, and the others follow its answer.
static void
s_mlp_epoch_task (void *arg, size_t index, size_t count)
{
    (void) count;
    s_mlp_t *mlp = arg;
    s_train_t *t = mlp->t;
    s_worker_t *w = &mlp->worker [index];
    int64_t batches = 0;
    for (size_t first = 0; first < t->rows; first += mlp->batch) {
        if (index == 0)
            mlp->go = s_go_on (t);
        s_barrier_wait (&t->pool->barrier);
        if (!mlp->go)
            break;
        size_t rows = t->rows - first < mlp->batch? t->rows - first: mlp->batch;
        s_mlp_share (w, first, rows);
        s_barrier_wait (&t->pool->barrier);
        if (index == 0)         //  the others write theirs after the next meeting
            for (size_t v = 0; v < mlp->workers; v++)
                mlp->loss += mlp->worker [v].loss;
        s_mlp_update (w, mlp->steps + ++batches);
    }
    if (index == 0)
        mlp->batches = batches;
}

static int
s_train_mlp (s_train_t *t, wb_error_t *err)
{
    (void) err;
    wb_model_t *self = t->model;
    s_params_t *p = t->params;
    s_mlp_t mlp = { 0 };
    mlp.t = t;
    s_net_t *net = &mlp.net;
    net->softmax = self->task == S_CLASSIFICATION;
    net->layers = p->layers + 1;
    net->sizes [0] = self->inputs;
    for (size_t l = 0; l < p->layers; l++)
        net->sizes [l + 1] = p->hidden [l];
    net->sizes [net->layers] = net->softmax? self->classes.count: 1;
    size_t widest = net->sizes [0];
    for (size_t l = 0; l < net->layers; l++) {
        net->offsets [l] = net->count;
        net->count += net->sizes [l] * net->sizes [l + 1] + net->sizes [l + 1];
        widest = net->sizes [l + 1] > widest? net->sizes [l + 1]: widest;
    }
    //  Glorot uniform initialisation, as scikit-learn: weights and biases
    //  from +-sqrt (6 / (in + out))
    net->params = wb_malloc (net->count * sizeof (float));
    for (size_t l = 0; l < net->layers; l++) {
        size_t in = net->sizes [l], out = net->sizes [l + 1];
        double bound = sqrt (6.0 / (double) (in + out));
        float *w = s_net_weights (net, net->params, l);
        for (size_t i = 0; i < in * out + out; i++)
            w [i] = (float) ((2 * wb_rng_uniform (&t->rng) - 1) * bound);
    }
    size_t batch = (size_t) p->batch_size < t->rows? (size_t) p->batch_size: t->rows;
    mlp.workers = t->pool->count;
    size_t share = (batch + mlp.workers - 1) / mlp.workers;
    mlp.worker = wb_calloc (mlp.workers, sizeof (s_worker_t));
    for (size_t v = 0; v < mlp.workers; v++) {
        s_worker_t *w = &mlp.worker [v];
        w->mlp = &mlp;
        w->index = v;
        //  worker 0 also runs validation, S_BLOCK rows at a time
        size_t rows = v == 0 && share < S_BLOCK? S_BLOCK: share;
        w->acts [0] = wb_malloc (share * net->sizes [0] * sizeof (float));
        for (size_t l = 1; l <= net->layers; l++)
            w->acts [l] = wb_malloc (rows * net->sizes [l] * sizeof (float));
        w->delta = wb_malloc (share * widest * sizeof (float));
        w->delta_in = wb_malloc (share * widest * sizeof (float));
        w->grads = wb_calloc (net->count, sizeof (float));
        w->targets = wb_malloc (share * sizeof (float));
        w->labels = wb_malloc (share * sizeof (int32_t));
    }
    mlp.m1 = wb_calloc (net->count, sizeof (float));
    mlp.m2 = wb_calloc (net->count, sizeof (float));
    mlp.ones = wb_malloc (share * sizeof (float));
    for (size_t i = 0; i < share; i++)
        mlp.ones [i] = 1;

    float *best = wb_malloc (net->count * sizeof (float));
    bool have_best = false;
    size_t *order = wb_malloc (t->rows * sizeof (size_t));
    for (size_t row = 0; row < t->rows; row++)
        order [row] = row;
    mlp.order = order;
    double best_score = INFINITY;
    int64_t since_best = 0;
    mlp.batch = batch;
    s_set_stop (self, "epochs");

    for (int64_t epoch = 1; epoch <= p->epochs && !t->stopped; epoch++) {
        wb_rng_shuffle (&t->rng, order, t->rows);
        mlp.loss = 0;
        s_pool_run (t->pool, s_mlp_epoch_task, &mlp);
        mlp.steps += mlp.batches;
        double epoch_loss = mlp.loss;
        if (t->stopped)
            break;
        //  The epoch's metrics
        json_t *metrics = t->vxf? s_net_validate (t, net, mlp.worker [0].acts): json_object ();
        double train_loss = epoch_loss / (double) t->rows;
        json_t *entry = json_pack ("{s:o}", "loss", s_real (train_loss));
        json_object_update (entry, metrics);
        double score = t->vxf? json_real_value (json_object_get (metrics, "val_loss")): train_loss;
        json_decref (metrics);
        s_step_done (t, entry);
        if (score < best_score - p->tol || !isfinite (best_score))
            since_best = 0;
        else
            since_best++;
        if (score < best_score) {
            best_score = score;
            self->best_step = self->steps;
            if (t->vxf) {
                memcpy (best, net->params, net->count * sizeof (float));
                have_best = true;
            }
        }
        if (p->patience > 0 && since_best >= p->patience) {
            s_set_stop (self, "early_stopping");
            break;
        }
    }
    if (t->stopped)
        s_set_stop (self, "interrupted");
    if (have_best)
        memcpy (net->params, best, net->count * sizeof (float));
    else
        self->best_step = self->steps;
    //  The weights, in double, into the model's layers
    if (self->steps > 0)
        for (size_t l = 0; l < net->layers; l++) {
            bool last = l + 1 == net->layers;
            s_layer_t *layer = s_add_layer (self, net->sizes [l], net->sizes [l + 1],
                                            !last? S_RELU: net->softmax? S_SOFTMAX: S_IDENTITY);
            const float *w = s_net_weights (net, net->params, l);
            const float *b = s_net_bias (net, net->params, l);
            for (size_t i = 0; i < layer->in * layer->out; i++)
                layer->weights [i] = w [i];
            for (size_t j = 0; j < layer->out; j++)
                layer->bias [j] = b [j];
        }
    for (size_t v = 0; v < mlp.workers; v++) {
        s_worker_t *w = &mlp.worker [v];
        for (size_t l = 0; l <= net->layers; l++)
            free (w->acts [l]);
        free (w->delta);
        free (w->delta_in);
        free (w->grads);
        free (w->targets);
        free (w->labels);
    }
    free (mlp.worker);
    free (mlp.m1);
    free (mlp.m2);
    free (mlp.ones);
    free (best);
    free (order);
    free (net->params);
    return 0;
}


//  ---- k-means: k-means++ seeding, Lloyd iterations ----

//  The rows are float32, as the mlp's: k-means reads them a dozen times
//  (seeding, iterations), each pass bound by memory. Distances are taken
//  in double from a float GEMM, and sums and inertia are double.

#define S_KMEANS_ROWS   1024    //  rows per GEMM of distances
#define S_MAX_TRIALS    16      //  k-means++ candidates per centre, at most (2 + log k)

//  Squared distances from the rows to count centres, by GEMM
//  (|x|^2 - 2 x.c + |c|^2), and what each thread sums from them
typedef struct {
    s_train_t *t;               //  the training: its rows (t->xf)
    const double *norms;        //  |x|^2 of every row
    float *centers;             //  count x inputs, as floats for the GEMM
    size_t count;               //  centres
    double *cnorms;             //  |c|^2 of each
    float *fnorms;              //  the same as floats
    float **dots;               //  per thread: S_KMEANS_ROWS x count scratch
    float **block;              //  per thread: count x inputs sums of a block
    //  seeding: every distance, and potentials against the closest so far
    float *out;                 //  rows x count, or NULL (then Lloyd)
    const double *closest;      //  rows: distance to the nearest centre yet, or NULL
    double **potential;         //  per thread: count sums of min (out, closest)
    //  Lloyd: the nearest centre of each row, per-thread sums
    int32_t *labels;            //  rows
    double *distances;          //  rows: squared distance to it
    double **sums;              //  per thread: count x inputs sums of rows by label
    size_t **counts;            //  per thread: rows by label
    double *inertia;            //  per thread: summed distances
    size_t *changed;            //  per thread: rows whose label changed
} s_dist_t;

static void
s_dist_task (void *arg, size_t index, size_t threads)
{
    s_dist_t *o = arg;
    s_train_t *t = o->t;
    size_t d = t->model->inputs, k = o->count, lo, hi;
    s_share (t->rows, index, threads, &lo, &hi);
    float *dots = o->dots [index];
    //  Accumulators in locals: through the pointers, every add would be a
    //  store the next one waits for
    double potential [S_MAX_TRIALS] = { 0 }, inertia = 0;
    size_t changed = 0;
    if (o->labels) {
        memset (o->sums [index], 0, k * d * sizeof (double));
        memset (o->counts [index], 0, k * sizeof (size_t));
    }
    for (size_t first = lo; first < hi; first += S_KMEANS_ROWS) {
        size_t rows = hi - first < S_KMEANS_ROWS? hi - first: S_KMEANS_ROWS;
        const float *x = t->xf + first * d;
        t->blas->sgemm (WB_BLAS_ROW_MAJOR, WB_BLAS_NO_TRANS, WB_BLAS_TRANS, (int) rows,
                        (int) k, (int) d, -2.0f, x, (int) d, o->centers, (int) d, 0.0f,
                        dots, (int) k);
        if (o->out)                 //  seeding: k is a handful of candidates
            for (size_t row = 0; row < rows; row++) {
                const float *dot = dots + row * k;
                double norm = o->norms [first + row];
                float *out = o->out + (first + row) * k;
                double closest = o->closest? o->closest [first + row]: INFINITY;
                for (size_t j = 0; j < k; j++) {
                    double value = (double) dot [j] + norm + o->cnorms [j];
                    out [j] = value > 0? (float) value: 0;     //  as kept
                    potential [j] += out [j] < closest? out [j]: closest;
                }
            }
        else {                      //  Lloyd: the nearest centre, sums by it
            //  the block's sums in floats (a few hundred rows a centre), then
            //  added to the double sums
            float *block = o->block [index];
            memset (block, 0, k * d * sizeof (float));
            for (size_t row = 0; row < rows; row++) {
                const float *dot = dots + row * k;
                float nearest = INFINITY;
                size_t best = 0;
                for (size_t j = 0; j < k; j++) {
                    float value = dot [j] + o->fnorms [j];
                    if (value < nearest) {
                        nearest = value;
                        best = j;
                    }
                }
                double distance = (double) dot [best] + o->cnorms [best] + o->norms [first + row];
                distance = distance > 0? distance: 0;
                changed += o->labels [first + row] != (int32_t) best;
                o->labels [first + row] = (int32_t) best;
                o->distances [first + row] = distance;
                inertia += distance;
                o->counts [index][best]++;
                float *sum = block + best * d;
                const float *v = x + row * d;
                size_t i = 0;
#ifdef S_SSE
                for (; i + 4 <= d; i += 4)
                    _mm_storeu_ps (sum + i, _mm_add_ps (_mm_loadu_ps (sum + i),
                                                        _mm_loadu_ps (v + i)));
#endif
                for (; i < d; i++)
                    sum [i] += v [i];
            }
            double *sums = o->sums [index];
            for (size_t i = 0; i < k * d; i++)
                sums [i] += block [i];
        }
    }
    if (o->out)
        memcpy (o->potential [index], potential, k * sizeof (double));
    else {
        o->inertia [index] = inertia;
        o->changed [index] = changed;
    }
}

//  Distances to centers (count x inputs, double) through the pool, and
//  what o is set to collect
static void
s_dist_run (s_dist_t *o, const double *centers, size_t count)
{
    size_t d = o->t->model->inputs;
    o->count = count;
    for (size_t j = 0; j < count; j++) {
        double norm = 0;
        for (size_t i = 0; i < d; i++) {
            float value = (float) centers [j * d + i];
            o->centers [j * d + i] = value;
            norm += (double) value * value;
        }
        o->cnorms [j] = norm;
        o->fnorms [j] = (float) norm;
    }
    s_pool_run (o->t->pool, s_dist_task, o);
}

//  Row i of the training rows as doubles
static void
s_row_double (s_train_t *t, size_t row, double *out)
{
    size_t d = t->model->inputs;
    for (size_t i = 0; i < d; i++)
        out [i] = t->xf [row * d + i];
}

//  k-means++ (greedy, as scikit-learn: 2 + log k candidates per centre,
//  the one that lowers the potential most) into centers
static void
s_kmeans_seed (s_train_t *t, s_dist_t *o, size_t k, double *centers)
{
    size_t n = t->rows, d = t->model->inputs, threads = t->pool->count;
    size_t trials = 2 + (size_t) log ((double) k);
    assert (trials <= S_MAX_TRIALS);
    double *closest = wb_malloc (n * sizeof (double));
    double *cumulative = wb_malloc (n * sizeof (double));
    double *candidates = wb_malloc (trials * d * sizeof (double));
    o->out = wb_malloc (n * trials * sizeof (float));
    o->closest = NULL;
    o->labels = NULL;
    s_row_double (t, wb_rng_below (&t->rng, n), centers);
    s_dist_run (o, centers, 1);
    for (size_t row = 0; row < n; row++)
        closest [row] = o->out [row];
    for (size_t c = 1; c < k; c++) {
        double sum = 0;
        for (size_t row = 0; row < n; row++)
            cumulative [row] = (sum += closest [row]);
        for (size_t i = 0; i < trials; i++) {
            double target = wb_rng_uniform (&t->rng) * sum;
            size_t low = 0, high = n - 1;
            while (low < high) {            //  the first row past target
                size_t mid = (low + high) / 2;
                if (cumulative [mid] <= target)
                    low = mid + 1;
                else
                    high = mid;
            }
            s_row_double (t, low, candidates + i * d);
        }
        o->closest = closest;
        s_dist_run (o, candidates, trials);
        size_t best = 0;
        double best_potential = INFINITY;
        for (size_t i = 0; i < trials; i++) {
            double potential = 0;
            for (size_t thread = 0; thread < threads; thread++)
                potential += o->potential [thread][i];
            if (potential < best_potential) {
                best_potential = potential;
                best = i;
            }
        }
        for (size_t row = 0; row < n; row++) {
            double distance = o->out [row * trials + best];
            if (distance < closest [row])
                closest [row] = distance;
        }
        memcpy (centers + c * d, candidates + best * d, d * sizeof (double));
    }
    free (o->out);
    o->out = NULL;
    o->closest = NULL;
    free (closest);
    free (cumulative);
    free (candidates);
}

//  One run of Lloyd's algorithm from k-means++ seeds: its centres and the
//  inertia of them. The steps of the first run are reported.
static double
s_kmeans_run (s_train_t *t, s_dist_t *o, double tol_abs, size_t k, double *centers,
              bool report, bool *converged, size_t *sizes)
{
    size_t n = t->rows, d = t->model->inputs, threads = t->pool->count;
    s_kmeans_seed (t, o, k, centers);
    double *sums = wb_malloc (k * d * sizeof (double));
    double *far_row = wb_malloc (d * sizeof (double));
    size_t *counts = wb_malloc (k * sizeof (size_t));
    o->labels = wb_malloc (n * sizeof (int32_t));
    o->distances = wb_malloc (n * sizeof (double));
    bool same = false;
    //  -1: no label yet, so the first pass counts every row as changed
    memset (o->labels, 0xff, n * sizeof (int32_t));
    double inertia = 0;
    *converged = false;
    for (int64_t iteration = 1; iteration <= t->params->max_iter; iteration++) {
        if (!s_go_on (t))
            break;
        s_dist_run (o, centers, k);
        inertia = 0;
        memset (sums, 0, k * d * sizeof (double));
        memset (counts, 0, k * sizeof (size_t));
        for (size_t thread = 0; thread < threads; thread++) {
            inertia += o->inertia [thread];
            for (size_t j = 0; j < k; j++)
                counts [j] += o->counts [thread][j];
            for (size_t i = 0; i < k * d; i++)
                sums [i] += o->sums [thread][i];
        }
        size_t changed = 0;
        for (size_t thread = 0; thread < threads; thread++)
            changed += o->changed [thread];
        same = changed == 0;
        double shift = 0;
        for (size_t j = 0; j < k; j++) {
            double *center = centers + j * d;
            const double *from = sums + j * d;
            double divisor = (double) counts [j];
            if (counts [j] == 0) {
                //  An empty cluster takes the row farthest from its centre
                size_t far = 0;
                for (size_t row = 1; row < n; row++)
                    if (o->distances [row] > o->distances [far])
                        far = row;
                o->distances [far] = 0;
                s_row_double (t, far, far_row);
                from = far_row;
                divisor = 1;
            }
            for (size_t i = 0; i < d; i++) {
                double value = from [i] / divisor;
                shift += (value - center [i]) * (value - center [i]);
                center [i] = value;
            }
        }
        if (report) {
            t->model->steps = iteration - 1;
            s_step_done (t, json_pack ("{s:o, s:o}", "inertia", s_real (inertia),
                                       "shift", s_real (shift)));
        }
        if (same || shift <= tol_abs) {
            *converged = true;
            break;
        }
    }
    //  The inertia of the final centres: the last step's when the labels
    //  did not change (the centres are then the same), else one more pass
    if (!same) {
        s_dist_run (o, centers, k);
        inertia = 0;
        memset (counts, 0, k * sizeof (size_t));
        for (size_t thread = 0; thread < threads; thread++) {
            inertia += o->inertia [thread];
            for (size_t j = 0; j < k; j++)
                counts [j] += o->counts [thread][j];
        }
    }
    memcpy (sizes, counts, k * sizeof (size_t));
    free (o->labels);
    free (o->distances);
    o->labels = NULL;
    o->distances = NULL;
    free (sums);
    free (far_row);
    free (counts);
    return inertia;
}

//  Per thread: |x|^2 of its rows, and sums and squares of each column
typedef struct {
    s_train_t *t;               //  the rows
    double *norms;              //  rows
    double **sums;              //  per thread: inputs
    double **squares;           //  per thread: inputs
} s_row_stats_t;

static void
s_row_stats_task (void *arg, size_t index, size_t count)
{
    s_row_stats_t *o = arg;
    size_t d = o->t->model->inputs, lo, hi;
    s_share (o->t->rows, index, count, &lo, &hi);
    double *sums = o->sums [index], *squares = o->squares [index];
    memset (sums, 0, d * sizeof (double));
    memset (squares, 0, d * sizeof (double));
    for (size_t row = lo; row < hi; row++) {
        const float *v = o->t->xf + row * d;
        double norm = 0;
        for (size_t i = 0; i < d; i++) {
            double value = v [i];
            norm += value * value;
            sums [i] += value;
            squares [i] += value * value;
        }
        o->norms [row] = norm;
    }
}

static int
s_train_kmeans (s_train_t *t, wb_error_t *err)
{
    (void) err;
    wb_model_t *self = t->model;
    size_t n = t->rows, d = self->inputs, k = (size_t) t->params->k;
    size_t threads = t->pool->count, slots = k > 64? k: 64;
    s_row_stats_t stats = { t, wb_malloc (n * sizeof (double)),
                            wb_malloc (threads * sizeof (double *)),
                            wb_malloc (threads * sizeof (double *)) };
    for (size_t i = 0; i < threads; i++) {
        stats.sums [i] = wb_malloc (d * sizeof (double));
        stats.squares [i] = wb_malloc (d * sizeof (double));
    }
    s_pool_run (t->pool, s_row_stats_task, &stats);
    //  as scikit-learn: tol relative to the mean variance of the columns
    double variance = 0;
    for (size_t i = 0; i < d; i++) {
        double sum = 0, squares = 0;
        for (size_t thread = 0; thread < threads; thread++) {
            sum += stats.sums [thread][i];
            squares += stats.squares [thread][i];
        }
        double mean = sum / (double) n;
        variance += squares / (double) n - mean * mean;
    }
    for (size_t i = 0; i < threads; i++) {
        free (stats.sums [i]);
        free (stats.squares [i]);
    }
    free (stats.sums);
    free (stats.squares);
    double tol_abs = t->params->tol * (variance > 0? variance: 0) / (double) (d? d: 1);
    s_dist_t o = { 0 };
    o.t = t;
    o.norms = stats.norms;
    o.centers = wb_malloc (slots * d * sizeof (float));
    o.cnorms = wb_malloc (slots * sizeof (double));
    o.fnorms = wb_malloc (slots * sizeof (float));
    o.dots = wb_malloc (threads * sizeof (float *));
    o.block = wb_malloc (threads * sizeof (float *));
    o.potential = wb_malloc (threads * sizeof (double *));
    o.sums = wb_malloc (threads * sizeof (double *));
    o.counts = wb_malloc (threads * sizeof (size_t *));
    o.inertia = wb_malloc (threads * sizeof (double));
    o.changed = wb_malloc (threads * sizeof (size_t));
    for (size_t i = 0; i < threads; i++) {
        o.dots [i] = wb_malloc (S_KMEANS_ROWS * slots * sizeof (float));
        o.block [i] = wb_malloc (k * d * sizeof (float));
        o.potential [i] = wb_malloc (slots * sizeof (double));
        o.sums [i] = wb_malloc (k * d * sizeof (double));
        o.counts [i] = wb_malloc (k * sizeof (size_t));
    }
    double *centers = wb_malloc (k * d * sizeof (double));
    double best_inertia = INFINITY;
    size_t *sizes = wb_malloc (k * sizeof (size_t)), *best_sizes = wb_calloc (k, sizeof (size_t));
    self->k = k;
    self->centers = wb_calloc (k * d, sizeof (double));
    bool converged = false;
    int64_t steps = 0;
    for (int64_t run = 0; run < t->params->n_init && !t->stopped; run++) {
        bool done = false;
        double inertia = s_kmeans_run (t, &o, tol_abs, k, centers, run == 0, &done, sizes);
        if (run == 0) {
            steps = self->steps;
            converged = done;
        }
        if (t->stopped && self->steps == 0)
            break;
        if (inertia < best_inertia) {
            best_inertia = inertia;
            memcpy (best_sizes, sizes, k * sizeof (size_t));
            memcpy (self->centers, centers, k * d * sizeof (double));
        }
    }
    self->steps = steps;
    self->best_step = steps;
    s_set_stop (self, t->stopped? "interrupted": converged? "converged": "max_iter");
    //  The final metrics of the training rows (evaluation replaces them
    //  when there are validation rows)
    json_t *counts = json_array ();
    for (size_t j = 0; j < k; j++)
        json_array_append_new (counts, json_integer ((json_int_t) best_sizes [j]));
    self->metrics = json_pack ("{s:I, s:o, s:o}", "rows", (json_int_t) n,
                               "inertia", s_real (best_inertia), "sizes", counts);
    free (sizes);
    free (best_sizes);
    for (size_t i = 0; i < threads; i++) {
        free (o.dots [i]);
        free (o.block [i]);
        free (o.potential [i]);
        free (o.sums [i]);
        free (o.counts [i]);
    }
    free (o.dots);
    free (o.block);
    free (o.fnorms);
    free (o.potential);
    free (o.sums);
    free (o.counts);
    free (o.inertia);
    free (o.changed);
    free (o.cnorms);
    free (o.centers);
    free (centers);
    free (stats.norms);
    return 0;
}


//  ---- Training ----

//  Split row indexes: stratified by codes (classes 0 .. classes-1, -1 for
//  none) when codes is not NULL. Ascending index lists.
static void
s_split (size_t rows, const int32_t *codes, size_t classes, double fraction, wb_rng_t *rng,
         size_t *train, size_t *train_count, size_t *valid, size_t *valid_count)
{
    bool *held = wb_calloc (rows, sizeof (bool));
    size_t held_count = 0;
    size_t groups = codes? classes + 1: 1;
    size_t *members = wb_malloc (rows * sizeof (size_t));
    size_t largest_group = 0, largest_size = 0;
    for (size_t group = 0; group < groups; group++) {
        size_t count = 0;
        for (size_t row = 0; row < rows; row++) {
            int32_t code = codes? codes [row]: 0;
            size_t row_group = codes? (code < 0? classes: (size_t) code): 0;
            if (row_group == group)
                members [count++] = row;
        }
        if (count == 0)
            continue;
        wb_rng_shuffle (rng, members, count);
        size_t take = (size_t) floor (fraction * (double) count + 0.5);
        if (take >= count)
            take = count - 1;
        for (size_t i = 0; i < take; i++)
            held [members [i]] = true;
        held_count += take;
        if (count > largest_size) {
            largest_size = count;
            largest_group = group;
        }
    }
    //  At least one row on each side
    if (held_count == 0) {
        size_t count = 0;
        for (size_t row = 0; row < rows; row++) {
            int32_t code = codes? codes [row]: 0;
            size_t row_group = codes? (code < 0? classes: (size_t) code): 0;
            if (row_group == largest_group)
                members [count++] = row;
        }
        held [members [wb_rng_below (rng, count)]] = true;
    }
    *train_count = *valid_count = 0;
    for (size_t row = 0; row < rows; row++)
        if (held [row])
            valid [(*valid_count)++] = row;
        else
            train [(*train_count)++] = row;
    free (members);
    free (held);
}

//  Class codes of a column for stratifying (classes in order of first
//  sight; -1 for missing). Number of classes.
static size_t
s_strata (wb_frame_t *frame, size_t col, int32_t *codes)
{
    s_set_t set = { 0 };
    size_t rows = wb_frame_rows (frame);
    const double *numbers = wb_frame_numbers (frame, col);
    double *values = NULL;
    int64_t count = numbers? s_distinct_numbers (numbers, rows, S_MAX_CLASSES, &values): -1;
    if (count >= 0) {
        //  a handful of numbers: look each row's up among them
        for (size_t row = 0; row < rows; row++) {
            codes [row] = -1;
            if (isnan (numbers [row]))
                continue;
            size_t low = 0, high = (size_t) count;
            while (low < high) {
                size_t mid = (low + high) / 2;
                if (values [mid] < numbers [row])
                    low = mid + 1;
                else
                    high = mid;
            }
            codes [row] = (int32_t) low;
        }
        free (values);
        return (size_t) count;
    }
    for (size_t row = 0; row < rows; row++) {
        char text [64];
        const char *label = NULL;
        if (numbers) {
            if (!isnan (numbers [row])) {
                wb_double_text (numbers [row], text, sizeof (text));
                label = text;
            }
        }
        else
            label = wb_frame_text (frame, col, row);
        codes [row] = label? (int32_t) s_set_add (&set, label): -1;
    }
    size_t classes = set.count;
    s_set_free (&set);
    return classes;
}

int
wb_model_split_rows (wb_frame_t *frame, const char *target, double fraction, uint64_t seed,
                     size_t **train_p, size_t *train_count, size_t **valid_p,
                     size_t *valid_count, wb_error_t *err)
{
    assert (frame && train_p && train_count && valid_p && valid_count);
    if (!(fraction > 0 && fraction < 1))
        return wb_error_set (err, "a validation fraction of %g is out of range: use a "
                             "number between 0 and 1, e.g. 0.2", fraction);
    size_t rows = wb_frame_rows (frame);
    if (rows < 2)
        return wb_error_set (err, "the table has %zu row%s: a split needs at least 2",
                             rows, rows == 1? "": "s");
    int32_t *codes = NULL;
    size_t classes = 0;
    if (target) {
        int col = wb_frame_find (frame, target);
        if (col < 0)
            return s_unknown_column (frame, target, "the table", err);
        if (s_looks_like_classes (frame, (size_t) col)) {
            codes = wb_malloc (rows * sizeof (int32_t));
            classes = s_strata (frame, (size_t) col, codes);
        }
    }
    wb_rng_t rng;
    wb_rng_seed (&rng, seed);
    *train_p = wb_malloc (rows * sizeof (size_t));
    *valid_p = wb_malloc (rows * sizeof (size_t));
    s_split (rows, codes, classes, fraction, &rng, *train_p, train_count, *valid_p, valid_count);
    free (codes);
    return 0;
}

int
wb_model_split (wb_frame_t *frame, const char *target, double fraction, uint64_t seed,
                wb_frame_t **train_p, wb_frame_t **valid_p, wb_error_t *err)
{
    assert (train_p && valid_p);
    size_t *train, *valid, train_count, valid_count;
    if (wb_model_split_rows (frame, target, fraction, seed, &train, &train_count,
                             &valid, &valid_count, err))
        return -1;
    *train_p = wb_frame_select (frame, train, train_count);
    *valid_p = wb_frame_select (frame, valid, valid_count);
    free (train);
    free (valid);
    return 0;
}

//  Threads to train on: as asked, or with threads=0 as many as have
//  enough work (64 rows of a mini-batch, 4096 rows otherwise), at most
//  one a core
static size_t
s_threads (s_plan_t *plan, size_t rows)
{
    if (plan->params.threads)
        return (size_t) plan->params.threads;
    size_t batch = (size_t) plan->params.batch_size < rows? (size_t) plan->params.batch_size: rows;
    size_t useful = plan->kind == S_MLP? batch / 64: rows / 4096;
    size_t cores = (size_t) wb_blas_cores ();
    return useful < 1? 1: useful > cores? cores: useful;
}

//  The training target into t (codes or standardised values)
static int
s_train_target (s_train_t *t, wb_frame_t *frame, int32_t **codes_p, double **values_p,
                const char *table, wb_error_t *err)
{
    wb_model_t *self = t->model;
    size_t rows = wb_frame_rows (frame);
    int col = wb_frame_find (frame, self->target);
    assert (col >= 0);
    if (self->task == S_CLASSIFICATION) {
        *codes_p = wb_malloc ((rows? rows: 1) * sizeof (int32_t));
        return s_target_codes (self, frame, (size_t) col, *codes_p, NULL, table, err);
    }
    const double *numbers = wb_frame_numbers (frame, (size_t) col);
    *values_p = wb_malloc ((rows? rows: 1) * sizeof (double));
    for (size_t row = 0; row < rows; row++)
        (*values_p) [row] = numbers? numbers [row]: strtod (wb_frame_text (frame, (size_t) col, row), NULL);
    return 0;
}

wb_model_t *
wb_model_train (wb_frame_t *train, wb_frame_t *valid, const char *target, const char *kind,
                json_t *params, wb_model_progress_fn *fn, void *arg, wb_error_t *err)
{
    s_plan_t plan;
    if (s_prepare (&plan, train, valid, target, kind, params, err)) {
        s_plan_free (&plan);
        return NULL;
    }
    const wb_blas_t *blas = wb_blas (err);
    if (!blas || wb_blas_set_threads (plan.params.threads, err)) {
        s_plan_free (&plan);
        return NULL;
    }
    wb_model_t *self = s_model_new (plan.kind);
    self->task = plan.task;
    self->params = s_params_json (&plan.params, plan.kind, plan.task);
    s_train_t t = { 0 };
    t.model = self;
    t.blas = blas;
    t.params = &plan.params;
    t.fn = fn;
    t.arg = arg;
    wb_rng_seed (&t.rng, plan.params.seed);
    //  Training runs on its own threads, each calling OpenBLAS alone;
    //  OpenBLAS's threads, which spin for a while after each call, are
    //  stopped so as not to take the cores from ours, and come back after
    int blas_threads = blas->get_num_threads ();
    blas->set_num_threads (1);
    wb_blas_stop_threads ();
    t.pool = s_pool_new (s_threads (&plan, wb_frame_rows (train)));

    //  Hold out validation rows from train when there is no validation table
    wb_frame_t *own_train = NULL, *own_valid = NULL;
    if (!valid && plan.params.validation > 0 && plan.kind != S_KMEANS) {
        size_t rows = wb_frame_rows (train);
        int32_t *codes = NULL;
        size_t classes = 0;
        if (plan.task == S_CLASSIFICATION) {
            codes = wb_malloc (rows * sizeof (int32_t));
            classes = s_strata (train, (size_t) plan.target, codes);
        }
        size_t *train_rows = wb_malloc (rows * sizeof (size_t));
        size_t *valid_rows = wb_malloc (rows * sizeof (size_t));
        size_t train_count, valid_count;
        s_split (rows, codes, classes, plan.params.validation, &t.rng, train_rows,
                 &train_count, valid_rows, &valid_count);
        own_train = wb_frame_select (train, train_rows, train_count);
        own_valid = wb_frame_select (train, valid_rows, valid_count);
        train = own_train;
        valid = own_valid;
        free (codes);
        free (train_rows);
        free (valid_rows);
    }
    s_fit_preprocessing (self, &plan, train, t.pool);
    self->rows = t.rows = wb_frame_rows (train);
    self->valid_rows = t.vrows = valid? wb_frame_rows (valid): 0;
    int rc = 0;
    bool single = plan.kind == S_MLP || plan.kind == S_KMEANS;
    void *x = s_encode (self, train, single, t.pool, "the training table", err);
    if (!x)
        rc = -1;
    else
    if (single)
        t.xf = x;
    else
        t.x = x;
    if (rc == 0 && plan.kind != S_KMEANS)
        rc = s_train_target (&t, train, &t.codes, &t.y, "the training table", err);
    if (rc == 0 && t.y)
        for (size_t row = 0; row < t.rows; row++)
            t.y [row] = (t.y [row] - self->target_mean) / self->target_std;
    if (rc == 0 && valid && plan.kind != S_KMEANS) {
        void *vx = s_encode (self, valid, single, t.pool, "the validation table", err);
        if (!vx)
            rc = -1;
        else
        if (single)
            t.vxf = vx;
        else
            t.vx = vx;
        if (rc == 0)
            rc = s_train_target (&t, valid, &t.vcodes, &t.vy, "the validation table", err);
    }
    if (rc == 0) {
        switch (plan.kind) {
            case S_LINEAR:   rc = s_train_linear (&t, err); break;
            case S_LOGISTIC: rc = s_train_logistic (&t, err); break;
            case S_MLP:      rc = s_train_mlp (&t, err); break;
            default:         rc = s_train_kmeans (&t, err); break;
        }
    }
    s_pool_destroy (&t.pool);
    blas->set_num_threads (blas_threads);
    if (rc == 0 && self->steps == 0 && streq (self->stop? self->stop: "", "interrupted")) {
        rc = wb_error_set (err, "training was stopped before its first %s finished: there "
                           "is no model to keep", plan.kind == S_MLP? "epoch": "iteration");
    }
    //  Final validation metrics
    if (rc == 0 && valid) {
        json_decref (self->metrics);
        self->metrics = wb_model_evaluate (self, valid, NULL, err);
        if (!self->metrics)
            rc = -1;
    }
    free (t.x);
    free (t.xf);
    free (t.vx);
    free (t.vxf);
    free (t.y);
    free (t.vy);
    free (t.codes);
    free (t.vcodes);
    wb_frame_destroy (&own_train);
    wb_frame_destroy (&own_valid);
    s_plan_free (&plan);
    if (rc)
        wb_model_destroy (&self);
    return self;
}


//  ---- The model file ----

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
s_feature_json (s_feature_t *feature)
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
    json_object_set_new (doc, "kind", json_string (s_kind_name (self->kind)));
    json_object_set_new (doc, "task", json_string (s_task_names [self->task]));
    if (self->target) {
        json_t *target = json_pack ("{s:s, s:s}", "name", self->target,
                                    "type", wb_col_type_name (self->target_type));
        if (self->task == S_REGRESSION) {
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
        s_layer_t *layer = &self->layers [l];
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
    int kind = s_kind_parse (json_string_value (json_object_get (doc, "kind")));
    if (!kind)
        S_BAD ("model file: \"kind\" is not linear, logistic, mlp or kmeans");
    self = s_model_new (kind);
    const char *task = json_string_value (json_object_get (doc, "task"));
    self->task = -1;
    for (int i = 0; i < 3; i++)
        if (task && streq (task, s_task_names [i]))
            self->task = i;
    if (self->task < 0 || (kind == S_KMEANS) != (self->task == S_CLUSTERING)
    || (kind == S_LINEAR && self->task != S_REGRESSION)
    || (kind == S_LOGISTIC && self->task != S_CLASSIFICATION))
        S_BAD ("model file: \"task\" is missing or does not fit kind %s", s_kind_name (kind));

    //  Target and classes
    json_t *target = json_object_get (doc, "target");
    if (self->task != S_CLUSTERING) {
        const char *name = json_string_value (json_object_get (target, "name"));
        const char *type = json_string_value (json_object_get (target, "type"));
        if (!name || !type)
            S_BAD ("model file: \"target\" needs a \"name\" and a \"type\"");
        self->target = wb_strdup (name);
        self->target_type = streq (type, "numeric")? WB_COL_NUMERIC
                          : streq (type, "categorical")? WB_COL_CATEGORICAL: WB_COL_TEXT;
        if (self->task == S_REGRESSION) {
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
        if (s_set_find (&self->classes, json_string_value (item)) >= 0)
            S_BAD ("model file: class '%s' is listed twice", json_string_value (item));
        s_set_add (&self->classes, json_string_value (item));
    }
    if (self->task == S_CLASSIFICATION && self->classes.count < 2)
        S_BAD ("model file: a classifier needs at least 2 \"classes\"");
    if (self->task == S_CLASSIFICATION && self->target_type == WB_COL_NUMERIC) {
        self->class_values = wb_malloc (self->classes.count * sizeof (double));
        for (size_t i = 0; i < self->classes.count; i++) {
            if (!s_is_number (self->classes.items [i]))
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
    self->features = wb_calloc (self->nfeatures, sizeof (s_feature_t));
    json_array_foreach (features, index, item) {
        s_feature_t *feature = &self->features [index];
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
                ||  s_set_find (&feature->categories, json_string_value (category)) >= 0)
                    S_BAD ("model file: category %zu of feature '%s' is not text or is "
                           "listed twice", i + 1, name);
                s_set_add (&feature->categories, json_string_value (category));
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
    if (kind == S_KMEANS) {
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
            s_layer_t *layer = s_add_layer (self, in, out, code);
            if (s_read_vector (bias, out, layer->bias)
            ||  s_read_matrix (weights, in, out, layer->weights))
                S_BAD ("model file: layer %zu needs %zu x %zu finite \"weights\" and %zu "
                       "\"bias\" numbers", index + 1, in, out, out);
            in = out;
        }
        s_layer_t *last = &self->layers [self->nlayers - 1];
        bool fits = self->task == S_REGRESSION? last->out == 1 && last->activation == S_IDENTITY
                  : last->activation == S_SOFTMAX? last->out == self->classes.count
                  : last->activation == S_SIGMOID && last->out == 1 && self->classes.count == 2;
        if (!fits)
            S_BAD ("model file: the last layer (%zu outputs, %s) does not fit a %s with "
                   "%zu classes", last->out, s_activation_names [last->activation],
                   s_task_names [self->task], self->classes.count);
    }
    json_t *params = json_object_get (doc, "params");
    self->params = json_is_object (params)? json_incref (params): json_object ();
    json_t *training = json_object_get (doc, "training");
    self->steps = json_integer_value (json_object_get (training, "steps"));
    self->best_step = json_integer_value (json_object_get (training, "best_step"));
    self->rows = (size_t) json_integer_value (json_object_get (training, "rows"));
    self->valid_rows = (size_t) json_integer_value (json_object_get (training, "valid_rows"));
    const char *stop = json_string_value (json_object_get (training, "stop"));
    s_set_stop (self, stop? stop: "solved");
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


//  ---- Accessors ----

const char *
wb_model_kind (wb_model_t *self)
{
    assert (self);
    return s_kind_name (self->kind);
}

const char *
wb_model_task (wb_model_t *self)
{
    assert (self);
    return s_task_names [self->task];
}

const char *
wb_model_target (wb_model_t *self)
{
    assert (self);
    return self->target;
}

size_t
wb_model_classes (wb_model_t *self)
{
    assert (self);
    return self->classes.count;
}

const char *
wb_model_class (wb_model_t *self, size_t index)
{
    assert (self && index < self->classes.count);
    return self->classes.items [index];
}

size_t
wb_model_inputs (wb_model_t *self)
{
    assert (self);
    return self->inputs;
}

json_t *
wb_model_params (wb_model_t *self)
{
    assert (self);
    return self->params;
}

json_t *
wb_model_history (wb_model_t *self)
{
    assert (self);
    return self->history;
}

json_t *
wb_model_metrics (wb_model_t *self)
{
    assert (self);
    return self->metrics;
}

const char *
wb_model_stop (wb_model_t *self)
{
    assert (self);
    return self->stop;
}

int64_t
wb_model_steps (wb_model_t *self)
{
    assert (self);
    return self->steps;
}


//  @selftest

//  A frame from CSV text (asserts it parses)
static wb_frame_t *
s_test_frame (const char *text)
{
    wb_error_t err;
    wb_frame_t *frame = wb_frame_parse_csv (text, strlen (text), "test.csv", &err);
    if (!frame)
        fprintf (stderr, "%s\n", err.text);
    assert (frame);
    return frame;
}

static wb_frame_t *
s_test_buf_frame (wb_buf_t **buf_p)
{
    wb_frame_t *frame = s_test_frame (wb_buf_data (*buf_p));
    wb_buf_destroy (buf_p);
    return frame;
}

static json_t *
s_test_params (const char *text)
{
    json_t *params = json_loads (text, 0, NULL);
    assert (params);
    return params;
}

//  Train, asserting it works
static wb_model_t *
s_test_train (wb_frame_t *train, wb_frame_t *valid, const char *target, const char *kind,
              const char *params_text)
{
    wb_error_t err;
    json_t *params = s_test_params (params_text);
    wb_model_t *model = wb_model_train (train, valid, target, kind, params, NULL, NULL, &err);
    if (!model)
        fprintf (stderr, "%s\n", err.text);
    assert (model);
    json_decref (params);
    return model;
}

//  The error of a request that must fail, in check and train alike
static void
s_test_refused (wb_frame_t *train, wb_frame_t *valid, const char *target, const char *kind,
                const char *params_text, const char *expected, bool verbose)
{
    wb_error_t err, again;
    json_t *params = params_text? s_test_params (params_text): NULL;
    assert (wb_model_check (train, valid, target, kind, params, &err) == -1);
    assert (wb_model_train (train, valid, target, kind, params, NULL, NULL, &again) == NULL);
    json_decref (params);
    if (verbose || !strstr (err.text, expected))
        printf ("  refused: %s\n", err.text);
    assert (strstr (err.text, expected));
    assert (streq (err.text, again.text));
}

static double
s_test_metric (json_t *metrics, const char *name)
{
    json_t *value = json_object_get (metrics, name);
    assert (json_is_number (value));
    return json_number_value (value);
}

//  Predictions of a model on a frame, and the same after a save/load round
//  trip: identical, bit for bit; the reloaded model saves the same bytes
static void
s_test_round_trip (wb_model_t *model, wb_frame_t *frame)
{
    wb_error_t err;
    size_t size, size2;
    char *text = wb_model_save (model, &size);
    assert (text && size == strlen (text));
    wb_model_t *loaded = wb_model_load (text, size, &err);
    if (!loaded)
        fprintf (stderr, "%s\n", err.text);
    assert (loaded);
    char *text2 = wb_model_save (loaded, &size2);
    assert (size == size2 && memcmp (text, text2, size) == 0);
    double *values, *proba, *values2, *proba2;
    assert (wb_model_predict (model, frame, &values, &proba, &err) == 0);
    assert (wb_model_predict (loaded, frame, &values2, &proba2, &err) == 0);
    size_t rows = wb_frame_rows (frame);
    assert (memcmp (values, values2, rows * sizeof (double)) == 0);
    assert ((proba == NULL) == (proba2 == NULL));
    if (proba)
        assert (memcmp (proba, proba2, rows * wb_model_classes (model) * sizeof (double)) == 0);
    assert (streq (wb_model_kind (loaded), wb_model_kind (model)));
    assert (streq (wb_model_task (loaded), wb_model_task (model)));
    assert (wb_model_classes (loaded) == wb_model_classes (model));
    free (values);
    free (proba);
    free (values2);
    free (proba2);
    free (text);
    free (text2);
    wb_model_destroy (&loaded);
}

//  Progress callback: counts steps, stops after stop_after of them (0: never)
typedef struct {
    int64_t steps;              //  steps seen with metrics
    int64_t asks;               //  calls without metrics
    int64_t stop_after;         //  stop once this many steps were seen
    bool stop_at_once;          //  stop at the first call
} s_test_progress_t;

static int
s_test_progress (void *arg, int64_t step, json_t *metrics)
{
    s_test_progress_t *progress = arg;
    if (progress->stop_at_once)
        return 1;
    if (metrics) {
        progress->steps++;
        assert (step == progress->steps);
        assert (json_integer_value (json_object_get (metrics, "step")) == step);
    }
    else
        progress->asks++;
    return progress->stop_after && progress->steps >= progress->stop_after;
}

void
wb_model_test (bool verbose)
{
    wb_error_t err;
    wb_rng_t rng;
    wb_rng_seed (&rng, 42);

    //  ---- Exact least squares: y = 2 x1 - 3 x2 + 5 ----
    wb_buf_t *buf = wb_buf_new ();
    wb_buf_puts (buf, "x1,x2,y\n");
    for (int i = 0; i < 20; i++) {
        double x1 = i * 0.5 - 3, x2 = (i * 7 % 11) - 4.5;
        wb_buf_printf (buf, "%.17g,%.17g,%.17g\n", x1, x2, 2 * x1 - 3 * x2 + 5);
    }
    wb_frame_t *line = s_test_buf_frame (&buf);
    wb_frame_t *probe = s_test_frame ("x1,x2\n0,0\n1,0\n0,1\n10,-10\n");
    const double expected [] = { 5, 7, 2, 55 };
    wb_model_t *model = s_test_train (line, NULL, "y", "linear", "{\"threads\": 1}");
    assert (streq (wb_model_kind (model), "linear"));
    assert (streq (wb_model_task (model), "regression"));
    assert (streq (wb_model_stop (model), "solved") && wb_model_steps (model) == 1);
    double *values, *proba;
    assert (wb_model_predict (model, probe, &values, &proba, &err) == 0);
    assert (proba == NULL);
    for (int i = 0; i < 4; i++)
        assert (fabs (values [i] - expected [i]) < 1e-9);
    free (values);
    json_t *metrics = wb_model_evaluate (model, line, NULL, &err);
    assert (s_test_metric (metrics, "rmse") < 1e-9);
    assert (fabs (s_test_metric (metrics, "r2") - 1) < 1e-12);
    assert (s_test_metric (metrics, "rows") == 20);
    json_decref (metrics);
    s_test_round_trip (model, probe);
    wb_model_destroy (&model);

    //  A repeated column makes X^T X singular: the SVD fallback gives the
    //  same fit
    buf = wb_buf_new ();
    wb_buf_puts (buf, "x1,x2,copy,y\n");
    for (int i = 0; i < 20; i++) {
        double x1 = i * 0.5 - 3, x2 = (i * 7 % 11) - 4.5;
        wb_buf_printf (buf, "%.17g,%.17g,%.17g,%.17g\n", x1, x2, x1, 2 * x1 - 3 * x2 + 5);
    }
    wb_frame_t *collinear = s_test_buf_frame (&buf);
    wb_frame_t *probe3 = s_test_frame ("x1,x2,copy\n0,0,0\n1,0,1\n0,1,0\n10,-10,10\n");
    model = s_test_train (collinear, NULL, "y", "linear", "{\"threads\": 1}");
    assert (wb_model_predict (model, probe3, &values, NULL, &err) == 0);
    for (int i = 0; i < 4; i++)
        assert (fabs (values [i] - expected [i]) < 1e-8);
    free (values);
    wb_model_destroy (&model);
    wb_frame_destroy (&collinear);
    wb_frame_destroy (&probe3);

    //  ---- Ridge: a larger l2 shrinks the weights ----
    buf = wb_buf_new ();
    wb_buf_puts (buf, "x1,x2,y\n");
    for (int i = 0; i < 50; i++) {
        double x1 = wb_rng_uniform (&rng), x2 = wb_rng_uniform (&rng);
        wb_buf_printf (buf, "%.17g,%.17g,%.17g\n", x1, x2,
                       3 * x1 + x2 + 0.1 * (wb_rng_uniform (&rng) - 0.5));
    }
    wb_frame_t *noisy = s_test_buf_frame (&buf);
    double last_norm = INFINITY;
    const char *ridges [] = { "{\"l2\": 0}", "{\"l2\": 1}", "{\"l2\": 10}", "{\"l2\": 1000}" };
    for (int i = 0; i < 4; i++) {
        model = s_test_train (noisy, NULL, "y", "linear", ridges [i]);
        s_layer_t *layer = &model->layers [0];
        double norm = sqrt (s_dot (layer->weights, layer->weights, 2));
        assert (norm < last_norm);
        last_norm = norm;
        if (i == 3)
            assert (norm < 0.1);
        wb_model_destroy (&model);
    }
    wb_frame_destroy (&noisy);

    //  ---- Logistic, separable: every row right; numeric labels ----
    buf = wb_buf_new ();
    wb_buf_puts (buf, "a,b,label\n");
    for (int i = 0; i < 200; i++) {
        double x = 4 * wb_rng_uniform (&rng) - 2, y = 4 * wb_rng_uniform (&rng) - 2;
        if (fabs (x + y) < 0.3)
            continue;           //  a margin
        wb_buf_printf (buf, "%.6f,%.6f,%d\n", x, y, x + y > 0);
    }
    wb_frame_t *separable = s_test_buf_frame (&buf);
    wb_frame_t *sep_train, *sep_valid;
    assert (wb_model_split (separable, "label", 0.25, 1, &sep_train, &sep_valid, &err) == 0);
    model = s_test_train (sep_train, sep_valid, "label", "logistic",
                          "{\"l2\": 0.001, \"threads\": 1}");
    assert (wb_model_classes (model) == 2);
    assert (streq (wb_model_class (model, 0), "0") && streq (wb_model_class (model, 1), "1"));
    metrics = wb_model_evaluate (model, separable, NULL, &err);
    assert (s_test_metric (metrics, "accuracy") == 1);
    assert (s_test_metric (metrics, "roc_auc") == 1);
    assert (s_test_metric (metrics, "f1") == 1);
    json_decref (metrics);
    assert (s_test_metric (wb_model_metrics (model), "accuracy") == 1);
    assert (json_array_size (wb_model_history (model)) == (size_t) wb_model_steps (model));
    assert (json_object_get (json_array_get (wb_model_history (model), 0), "val_accuracy"));
    s_test_round_trip (model, separable);
    wb_model_destroy (&model);

    //  ---- Multinomial: three well-separated blobs, text labels ----
    buf = wb_buf_new ();
    wb_buf_puts (buf, "u,v,kind\n");
    const double centres [3][2] = { { 0, 0 }, { 10, 0 }, { 0, 10 } };
    const char *names [3] = { "north", "east", "origin" };
    for (int i = 0; i < 150; i++) {
        int c = i % 3;
        wb_buf_printf (buf, "%.6f,%.6f,%s\n", centres [c][0] + 2 * wb_rng_uniform (&rng) - 1,
                       centres [c][1] + 2 * wb_rng_uniform (&rng) - 1,
                       c == 0? names [2]: c == 1? names [1]: names [0]);
    }
    wb_frame_t *blobs = s_test_buf_frame (&buf);
    model = s_test_train (blobs, NULL, "kind", "logistic", "{\"threads\": 1}");
    assert (wb_model_classes (model) == 3);
    assert (streq (wb_model_class (model, 0), "east"));     //  sorted
    assert (model->layers [0].activation == S_SOFTMAX);
    metrics = wb_model_evaluate (model, blobs, NULL, &err);
    assert (s_test_metric (metrics, "accuracy") == 1);
    assert (!json_object_get (metrics, "roc_auc"));         //  binary only
    json_t *confusion = json_object_get (metrics, "confusion_matrix");
    assert (json_array_size (json_object_get (confusion, "labels")) == 3);
    json_t *matrix = json_object_get (confusion, "matrix");
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 3; j++)
            assert (json_integer_value (json_array_get (json_array_get (matrix, i), j))
                    == (i == j? 50: 0));
    json_decref (metrics);
    //  A class the model never saw is counted, in the matrix and as wrong
    wb_frame_t *surprise = s_test_frame ("u,v,kind\n0,0,origin\n10,0,west\n");
    metrics = wb_model_evaluate (model, surprise, NULL, &err);
    assert (s_test_metric (metrics, "accuracy") == 0.5);
    confusion = json_object_get (metrics, "confusion_matrix");
    assert (json_array_size (json_object_get (confusion, "labels")) == 4);
    assert (streq (json_string_value (json_array_get (json_object_get (confusion, "labels"), 3)),
                   "west"));
    json_decref (metrics);
    wb_frame_destroy (&surprise);
    s_test_round_trip (model, blobs);
    wb_model_destroy (&model);

    //  ---- k-means recovers three planted clusters ----
    //  (a target given to kmeans is left out of its features)
    model = s_test_train (blobs, NULL, "kind", "kmeans", "{\"k\": 3, \"threads\": 1}");
    assert (streq (wb_model_task (model), "clustering"));
    assert (wb_model_target (model) == NULL);
    assert (wb_model_inputs (model) == 2);
    assert (wb_model_predict (model, blobs, &values, &proba, &err) == 0);
    assert (proba == NULL);
    int cluster_of [3] = { -1, -1, -1 };
    for (size_t row = 0; row < 150; row++) {
        int planted = (int) (row % 3), found = (int) values [row];
        assert (found >= 0 && found < 3);
        if (cluster_of [planted] < 0)
            cluster_of [planted] = found;
        assert (cluster_of [planted] == found);
    }
    assert (cluster_of [0] != cluster_of [1] && cluster_of [1] != cluster_of [2]
         && cluster_of [0] != cluster_of [2]);
    free (values);
    metrics = wb_model_evaluate (model, blobs, NULL, &err);
    assert (s_test_metric (metrics, "inertia") < 150 * 2.0 / 3 * 1.3);   //  E = 2/3 a row
    assert (json_array_size (json_object_get (metrics, "sizes")) == 3);
    json_decref (metrics);
    assert (streq (wb_model_stop (model), "converged"));
    //  the training rows' metrics, as evaluation gives them
    json_t *own = wb_model_metrics (model);
    metrics = wb_model_evaluate (model, blobs, NULL, &err);
    assert (s_test_metric (own, "rows") == 150);
    assert (fabs (s_test_metric (own, "inertia") - s_test_metric (metrics, "inertia"))
            < 1e-6 * s_test_metric (metrics, "inertia"));
    assert (json_equal (json_object_get (own, "sizes"), json_object_get (metrics, "sizes")));
    json_decref (metrics);
    s_test_round_trip (model, blobs);
    wb_model_destroy (&model);

    //  ---- MLP: XOR (not linearly separable) ----
    buf = wb_buf_new ();
    wb_buf_puts (buf, "p,q,xor\n");
    for (int i = 0; i < 200; i++) {
        int p = i % 2, q = (i / 2) % 2;
        wb_buf_printf (buf, "%.4f,%.4f,%s\n", p + 0.1 * wb_rng_uniform (&rng),
                       q + 0.1 * wb_rng_uniform (&rng), p != q? "yes": "no");
    }
    wb_frame_t *xor = s_test_buf_frame (&buf);
    model = s_test_train (xor, NULL, "xor", "mlp", "{\"hidden\": \"16\", \"epochs\": 150, "
                          "\"learning_rate\": 0.02, \"batch_size\": 20, \"validation\": 0, "
                          "\"threads\": 1}");
    assert (streq (wb_model_task (model), "classification"));
    metrics = wb_model_evaluate (model, xor, NULL, &err);
    if (verbose)
        printf ("  xor: accuracy %g after %lld epochs\n", s_test_metric (metrics, "accuracy"),
                (long long) wb_model_steps (model));
    assert (s_test_metric (metrics, "accuracy") == 1);
    json_decref (metrics);
    //  A logistic regression cannot: XOR is not linearly separable
    wb_model_t *linear = s_test_train (xor, NULL, "xor", "logistic", "{\"threads\": 1}");
    metrics = wb_model_evaluate (linear, xor, NULL, &err);
    assert (s_test_metric (metrics, "accuracy") < 0.8);
    json_decref (metrics);
    wb_model_destroy (&linear);
    s_test_round_trip (model, xor);
    wb_model_destroy (&model);

    //  ---- MLP regression of a smooth curve, early stopping on validation ----
    buf = wb_buf_new ();
    wb_buf_puts (buf, "t,wave\n");
    for (int i = 0; i < 300; i++) {
        double t = 6 * wb_rng_uniform (&rng) - 3;
        wb_buf_printf (buf, "%.17g,%.17g\n", t, sin (t) + 0.5 * t);
    }
    wb_frame_t *wave = s_test_buf_frame (&buf);
    wb_frame_t *wave_train, *wave_valid;
    assert (wb_model_split (wave, "wave", 0.2, 3, &wave_train, &wave_valid, &err) == 0);
    assert (wb_frame_rows (wave_valid) == 60);
    model = s_test_train (wave_train, wave_valid, "wave", "mlp",
                          "{\"hidden\": [32, 32], \"epochs\": 300, \"learning_rate\": 0.01, "
                          "\"batch_size\": 16, \"patience\": 20, \"threads\": 1}");
    assert (streq (wb_model_task (model), "regression"));
    double r2 = s_test_metric (wb_model_metrics (model), "r2");
    if (verbose)
        printf ("  wave: R^2 %.4f, %lld epochs, stop %s, best %lld\n", r2,
                (long long) wb_model_steps (model), wb_model_stop (model),
                (long long) model->best_step);
    assert (r2 > 0.98);
    json_t *first = json_array_get (wb_model_history (model), 0);
    assert (json_object_get (first, "loss") && json_object_get (first, "val_r2"));
    s_test_round_trip (model, wave_valid);
    wb_model_destroy (&model);

    //  ---- Categorical features: one-hot, unseen categories ----
    buf = wb_buf_new ();
    wb_buf_puts (buf, "size,colour,price\n");
    for (int i = 0; i < 60; i++) {
        const char *colour = i % 3 == 0? "red": i % 3 == 1? "green": "blue";
        double size = 1 + i % 7;
        wb_buf_printf (buf, "%g,%s,%g\n", size, colour,
                       10 * size + (i % 3 == 0? 5: i % 3 == 1? -5: 0));
    }
    wb_frame_t *shop = s_test_buf_frame (&buf);
    model = s_test_train (shop, NULL, "price", "linear", "{\"l2\": 0.001}");
    assert (wb_model_inputs (model) == 4);      //  size + 3 colours
    json_t *schema = wb_model_schema (model);
    assert (json_array_size (schema) == 2);
    json_t *colour = json_array_get (schema, 1);
    assert (streq (json_string_value (json_object_get (colour, "type")), "categorical"));
    assert (json_array_size (json_object_get (colour, "categories")) == 3);
    assert (streq (json_string_value (json_array_get (json_object_get (colour, "categories"), 0)),
                   "blue"));
    json_decref (schema);
    wb_frame_t *novel = s_test_frame ("size,colour\n3,red\n3,purple\n3,\n");
    assert (wb_model_predict (model, novel, &values, NULL, &err) == 0);
    assert (fabs (values [0] - 35) < 0.1);
    assert (isfinite (values [1]) && isfinite (values [2]));
    assert (values [1] == values [2]);          //  unseen and missing: all zeros
    free (values);
    s_test_round_trip (model, novel);
    //  A classifier on categories gives a class for an unseen one too
    wb_model_t *classifier = s_test_train (shop, NULL, "colour", "mlp",
                                           "{\"hidden\": [4], \"epochs\": 5, \"threads\": 1}");
    wb_frame_t *novel2 = s_test_frame ("size,price\n3,35\n");
    assert (wb_model_predict (classifier, novel2, &values, &proba, &err) == 0);
    assert (values [0] >= 0 && values [0] < 3);
    assert (fabs (proba [0] + proba [1] + proba [2] - 1) < 1e-12);
    free (values);
    free (proba);
    wb_model_destroy (&classifier);
    wb_frame_destroy (&novel2);
    //  Prediction needs the feature columns, with numbers where numbers were
    wb_frame_t *lacking = s_test_frame ("colour\nred\n");
    assert (wb_model_predict (model, lacking, &values, NULL, &err) == -1);
    assert (strstr (err.text, "column 'size'") && strstr (err.text, "missing"));
    wb_frame_destroy (&lacking);
    wb_frame_t *holes = s_test_frame ("size,colour\n3,red\n,red\n");
    assert (wb_model_predict (model, holes, &values, NULL, &err) == -1);
    assert (strstr (err.text, "column 'size'") && strstr (err.text, "row 2"));
    wb_frame_destroy (&holes);
    wb_model_destroy (&model);
    wb_frame_destroy (&novel);

    //  ---- The same seed gives the same bytes; threads share the work ----
    const char *seeded = "{\"hidden\": [8, 8], \"epochs\": 4, \"batch_size\": 8, \"seed\": 7, "
                         "\"threads\": 2}";
    model = s_test_train (blobs, NULL, "kind", "mlp", seeded);
    wb_model_t *again = s_test_train (blobs, NULL, "kind", "mlp", seeded);
    char *bytes = wb_model_save (model, NULL), *bytes2 = wb_model_save (again, NULL);
    assert (streq (bytes, bytes2));
    free (bytes2);
    wb_model_destroy (&again);
    again = s_test_train (blobs, NULL, "kind", "mlp", "{\"hidden\": [8, 8], \"epochs\": 4, "
                          "\"batch_size\": 8, \"seed\": 8, \"threads\": 2}");
    bytes2 = wb_model_save (again, NULL);
    assert (!streq (bytes, bytes2));
    free (bytes2);
    wb_model_destroy (&again);
    //  ... for every kind
    const char *kinds [] = { "logistic", "kmeans", "linear" };
    const char *targets [] = { "kind", "kind", "u" };
    for (int i = 0; i < 3; i++) {
        wb_model_t *one = s_test_train (blobs, NULL, targets [i], kinds [i],
                                        "{\"seed\": 5, \"threads\": 2}");
        wb_model_t *two = s_test_train (blobs, NULL, targets [i], kinds [i],
                                        "{\"seed\": 5, \"threads\": 2}");
        char *x1 = wb_model_save (one, NULL), *x2 = wb_model_save (two, NULL);
        assert (streq (x1, x2));
        free (x1);
        free (x2);
        wb_model_destroy (&one);
        wb_model_destroy (&two);
    }

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

    //  ---- Interrupt: stop at the next batch, keep what there is ----
    s_test_progress_t progress = { 0, 0, 2, false };
    json_t *params = s_test_params ("{\"hidden\": [4], \"epochs\": 50, \"batch_size\": 10, "
                                    "\"validation\": 0.2, \"threads\": 1}");
    model = wb_model_train (blobs, NULL, "kind", "mlp", params, s_test_progress, &progress, &err);
    assert (model);
    assert (progress.steps == 2 && wb_model_steps (model) == 2);
    assert (progress.asks >= 2 * 12);           //  asked before every batch
    assert (streq (wb_model_stop (model), "interrupted"));
    assert (json_array_size (wb_model_history (model)) == 2);
    assert (wb_model_metrics (model));          //  final metrics of what was kept
    wb_model_destroy (&model);
    progress = (s_test_progress_t) { 0, 0, 1, false };
    model = wb_model_train (blobs, NULL, "kind", "logistic", NULL, s_test_progress, &progress, &err);
    assert (model && wb_model_steps (model) == 1 && streq (wb_model_stop (model), "interrupted"));
    wb_model_destroy (&model);
    progress = (s_test_progress_t) { 0, 0, 0, true };
    model = wb_model_train (blobs, NULL, "kind", "mlp", params, s_test_progress, &progress, &err);
    assert (model == NULL && strstr (err.text, "stopped before its first epoch"));
    json_decref (params);

    //  ---- Splits: stratified, seeded ----
    buf = wb_buf_new ();
    wb_buf_puts (buf, "x,group\n");
    for (int i = 0; i < 100; i++)
        wb_buf_printf (buf, "%d,%s\n", i, i < 80? "big": "small");
    wb_frame_t *groups = s_test_buf_frame (&buf);
    size_t *train_rows, *valid_rows, train_count, valid_count;
    assert (wb_model_split_rows (groups, "group", 0.25, 9, &train_rows, &train_count,
                                 &valid_rows, &valid_count, &err) == 0);
    assert (train_count == 75 && valid_count == 25);
    size_t small = 0;
    for (size_t i = 0; i < valid_count; i++) {
        small += valid_rows [i] >= 80;
        assert (i == 0 || valid_rows [i] > valid_rows [i - 1]);
    }
    assert (small == 5);                        //  a quarter of each class
    size_t *train_rows2, *valid_rows2, train_count2, valid_count2;
    assert (wb_model_split_rows (groups, "group", 0.25, 9, &train_rows2, &train_count2,
                                 &valid_rows2, &valid_count2, &err) == 0);
    assert (memcmp (valid_rows, valid_rows2, valid_count * sizeof (size_t)) == 0);
    free (train_rows2);
    free (valid_rows2);
    assert (wb_model_split_rows (groups, "group", 0.25, 10, &train_rows2, &train_count2,
                                 &valid_rows2, &valid_count2, &err) == 0);
    assert (memcmp (valid_rows, valid_rows2, valid_count * sizeof (size_t)) != 0);
    free (train_rows2);
    free (valid_rows2);
    free (train_rows);
    free (valid_rows);
    wb_frame_t *t1, *v1;
    assert (wb_model_split (groups, "group", 1.5, 0, &t1, &v1, &err) == -1);
    assert (strstr (err.text, "between 0 and 1"));
    assert (wb_model_split (groups, "nope", 0.5, 0, &t1, &v1, &err) == -1);
    assert (strstr (err.text, "unknown column 'nope'"));

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
    wb_frame_t *single = s_test_frame ("x,y\n1,yes\n2,yes\n3,yes\n");
    s_test_refused (single, NULL, "y", "logistic", NULL, "single class ('yes')", verbose);
    wb_frame_destroy (&single);
    wb_frame_t *gaps = s_test_frame ("x,z,y\n1,2,a\n2,,b\n3,4,a\n,5,b\n");
    s_test_refused (gaps, NULL, "y", "logistic", NULL, "column 'x' in the training table has "
                    "1 missing value (the first at row 4)", verbose);
    wb_frame_destroy (&gaps);
    wb_frame_t *infinite = s_test_frame ("x,y\n1,0\ninf,1\n3,0\n4,1\n");
    s_test_refused (infinite, NULL, "y", "logistic", NULL, "infinite value ('inf') at row 2",
                    verbose);
    wb_frame_destroy (&infinite);
    wb_frame_t *unlabelled = s_test_frame ("x,y\n1,0\n2,\n3,0\n4,1\n");
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
    wb_frame_t *words = s_test_frame ("x,note,y\n1,hello there,a\n2,second row,b\n"
                                      "3,third,a\n4,fourth,b\n5,fifth,a\n6,sixth,b\n"
                                      "7,seventh,a\n8,eighth,b\n9,ninth,a\n10,tenth,b\n"
                                      "11,eleventh,a\n12,twelfth,b\n13,x13,a\n14,x14,b\n"
                                      "15,x15,a\n16,x16,b\n17,x17,a\n18,x18,b\n19,x19,a\n"
                                      "20,x20,b\n21,x21,a\n22,x22,b\n");
    assert (wb_frame_type (words, 1) == WB_COL_TEXT);
    s_test_refused (words, NULL, "y", "logistic", "{\"features\": [\"note\"]}", "free text",
                    verbose);
    model = s_test_train (words, NULL, "y", "logistic", "{}");     //  text skipped
    assert (wb_model_inputs (model) == 1);
    wb_model_destroy (&model);
    wb_frame_destroy (&words);
    //  The validation table must match
    wb_frame_t *other = s_test_frame ("u,kind\n1,east\n");
    s_test_refused (blobs, other, "kind", "logistic", NULL, "unknown column 'v' in the "
                    "validation table", verbose);
    wb_frame_destroy (&other);

    wb_frame_destroy (&groups);
    wb_frame_destroy (&wave);
    wb_frame_destroy (&wave_train);
    wb_frame_destroy (&wave_valid);
    wb_frame_destroy (&shop);
    wb_frame_destroy (&xor);
    wb_frame_destroy (&blobs);
    wb_frame_destroy (&separable);
    wb_frame_destroy (&sep_train);
    wb_frame_destroy (&sep_valid);
    wb_frame_destroy (&line);
    wb_frame_destroy (&probe);
    wb_blas_stop_threads ();        //  for leak checkers

    {
        //  Parameters with their defaults, without training
        json_t *asked = json_pack ("{s:s, s:s}", "epochs", "5", "features", "a,b");
        json_t *resolved = wb_model_params_resolved ("mlp", asked, NULL);
        assert (resolved && json_integer_value (json_object_get (resolved, "epochs")) == 5);
        assert (json_integer_value (json_object_get (resolved, "batch_size")) == 200);
        assert (streq (json_string_value (json_object_get (resolved, "task")), "auto"));
        json_decref (resolved);
        resolved = wb_model_params_resolved ("logistic", NULL, NULL);
        assert (json_integer_value (json_object_get (resolved, "max_iter")) == 100);
        json_decref (resolved);
        wb_error_t resolve_err;
        assert (!wb_model_params_resolved ("forest", NULL, &resolve_err));
        assert (!wb_model_params_resolved ("kmeans", asked, &resolve_err));   //  epochs is mlp's
        json_decref (asked);
    }
}
//  @end
