/*  wb_model_params - the hyperparameters of a training: the table of
    parameters (name, kinds, type, range), reading them from JSON or
    key=value text with an error that says what to use, the defaults, and
    the parameters used as JSON (part of wb_model; see wb_model_int.h)
*/
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "wb_model_int.h"

#define S_MAX_UNITS     100000  //  units in a hidden layer, at most

//  Short names, for the table
#define S_LINEAR        WB_MODEL__LINEAR
#define S_LOGISTIC      WB_MODEL__LOGISTIC
#define S_MLP           WB_MODEL__MLP
#define S_KMEANS        WB_MODEL__KMEANS
#define S_ALL           WB_MODEL__ALL
#define S_MAX_THREADS   WB_MODEL__MAX_THREADS

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
//  add a parameter (then a field in wb_model__params_t, s_params_set, wb_model__params_json)
typedef struct {
    const char *name;           //  as in params
    int kinds;                  //  the kinds that take it (WB_MODEL__LINEAR | ...)
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

static void
s_params_defaults (wb_model__params_t *p, int kind)
{
    memset (p, 0, sizeof (*p));
    p->l2 = kind == WB_MODEL__LOGISTIC? 1.0: kind == WB_MODEL__MLP? 1e-4: 0;
    p->learning_rate = 0.001;
    p->epochs = 200;
    p->batch_size = 200;
    p->hidden [0] = 100;
    p->layers = 1;
    p->patience = 10;
    p->task = -1;
    p->max_iter = kind == WB_MODEL__KMEANS? 300: 100;
    p->tol = 1e-4;
    p->k = 8;
    p->n_init = 1;
    p->standardize = kind != WB_MODEL__KMEANS;
    p->validation = kind == WB_MODEL__MLP? 0.1: 0;
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
s_params_set (wb_model__params_t *p, const s_param_t *param, json_t *value, wb_error_t *err)
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
            p->task = WB_MODEL__CLASSIFICATION;
        else
        if (text && streq (text, "regression"))
            p->task = WB_MODEL__REGRESSION;
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
    if (count == 0 || count > WB_MODEL__MAX_LAYERS) {
        char *shown = s_value_text (value);
        wb_error_set (err, "hidden=%s is not a list of 1 to %d layer sizes: use e.g. "
                      "hidden=128,64", shown, WB_MODEL__MAX_LAYERS);
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
    for (int kind = WB_MODEL__LINEAR; kind <= WB_MODEL__KMEANS; kind <<= 1)
        if (kinds & kind) {
            size_t used = strlen (text);
            snprintf (text + used, size - used, "%s%s", used? ", ": "", wb_model__kind_name (kind));
        }
}

//  Read params (a JSON object or NULL) for kind into p. 0 or -1.
int
wb_model__params_read (wb_model__params_t *p, int kind, json_t *params, wb_error_t *err)
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
                                     wb_model__kind_name (kind), kinds,
                                     wb_model__kind_name (kind), known);
            }
            return wb_error_set (err, "unknown parameter '%s': kind %s takes %s",
                                 key, wb_model__kind_name (kind), known);
        }
        if (json_is_null (value))
            continue;           //  null: the default
        if (s_params_set (p, param, value, err))
            return -1;
    }
    return 0;
}

//  The parameters that apply to kind, as JSON (caller owns)
json_t *
wb_model__params_json (const wb_model__params_t *p, int kind, int task)
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
        else if (streq (name, "task"))          value = json_string (wb_model__task_names [task]);
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
    int kind = kind_name? wb_model__kind_parse (kind_name): 0;
    if (!kind) {
        wb_error_set (err, "unknown model kind '%s': use linear, logistic, mlp or kmeans",
                      kind_name? kind_name: "");
        return NULL;
    }
    wb_model__params_t p;
    json_t *resolved = NULL;
    if (wb_model__params_read (&p, kind, params, err) == 0) {
        int task = kind == WB_MODEL__KMEANS? WB_MODEL__CLUSTERING
                 : kind == WB_MODEL__LINEAR? WB_MODEL__REGRESSION: WB_MODEL__CLASSIFICATION;
        resolved = wb_model__params_json (&p, kind, task);
        if ((kind & WB_MODEL__MLP) && p.task < 0)
            json_object_set_new (resolved, "task", json_string ("auto"));
    }
    json_decref (p.features);
    return resolved;
}


//  @selftest
void
wb_model_params_test (bool verbose)
{
    (void) verbose;
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
//  @end
