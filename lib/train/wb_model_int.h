/*  wb_model_int - private to wb_model*.c: the model's structs, the state
    of a training, and the functions the parts share

    The model is one class in several files, one part each:
      wb_model.c           the model: making and destroying it, accessors,
                           helpers of the self-tests
      wb_model_params.c    hyperparameters: the table, reading, defaults
      wb_model_check.c     checking a training request, before any work
      wb_model_pool.c      a pool of training threads
      wb_model_prep.c      a set of strings; preprocessing: fitting, encoding
      wb_model_eval.c      the forward pass in double, prediction, metrics
      wb_model_linear.c    linear and ridge regression
      wb_model_logistic.c  logistic regression, L-BFGS
      wb_model_mlp.c       the multi-layer perceptron, data-parallel batches
      wb_model_kmeans.c    k-means
      wb_model_fit.c       training: its shared state, splits, the driver
      wb_model_file.c      the model file: writing and reading it
    Nothing outside lib/train/wb_model*.c includes this header.
*/
#ifndef WB_MODEL_INT_H
#define WB_MODEL_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "wb_model.h"
#include "wb_blas.h"
#include "base/wb_rng.h"
#include "base/wb_util.h"

#define WB_MODEL__MAX_LAYERS    16      //  hidden layers, at most
#define WB_MODEL__MAX_CLASSES   1000    //  classes a classifier takes, at most
#define WB_MODEL__MAX_THREADS   256     //  training threads, at most
#define WB_MODEL__BLOCK         4096    //  rows encoded / predicted at a time
#define WB_MODEL__EPS           1e-15   //  probabilities are clipped to
                                        //  [eps, 1 - eps] for log loss

//  Kinds, as bits so that a parameter can list the kinds it applies to
enum {
    WB_MODEL__LINEAR   = 1,
    WB_MODEL__LOGISTIC = 2,
    WB_MODEL__MLP      = 4,
    WB_MODEL__KMEANS   = 8,
    WB_MODEL__ALL      = 15
};

enum { WB_MODEL__REGRESSION, WB_MODEL__CLASSIFICATION, WB_MODEL__CLUSTERING };
extern const char *wb_model__task_names [];

//  Activations of a dense layer
enum { WB_MODEL__IDENTITY, WB_MODEL__RELU, WB_MODEL__SIGMOID, WB_MODEL__SOFTMAX };

//  The element-wise steps between the GEMMs (ReLU, its mask in the
//  backward pass, Adam) run once per batch over every unit or weight;
//  they are written with SSE (every x86-64 has it) because -O2 does not
//  vectorise them and a branch per element mispredicts on random signs.
//  Other machines get the plain loops.
#if defined (__SSE2__)
#include <immintrin.h>
#define WB_MODEL__SSE 1
#endif


//  ---- The model (wb_model.c) ----

//  Strings by index, with a hash table from string to index (its
//  functions are in wb_model_prep.c)
typedef struct {
    char **items;               //  the strings (owned), in index order
    size_t count;               //  how many
    size_t room;                //  room in items
    uint32_t *slots;            //  open addressing: index + 1, 0 = empty
    size_t nslots;              //  size of slots, a power of two
} wb_model__set_t;

//  One input column and how it is encoded
typedef struct {
    char *name;                 //  column name
    bool categorical;           //  one-hot over categories (else numeric)
    double mean;                //  numeric: subtracted
    double std;                 //  numeric: divided by (1 when not standardised or constant)
    wb_model__set_t categories; //  categorical: the categories seen in training, sorted
    size_t offset;              //  its first column in the encoded vector
} wb_model__feature_t;

//  A dense layer: out = activation (in . weights + bias)
typedef struct {
    size_t in;                  //  inputs
    size_t out;                 //  outputs
    double *weights;            //  in x out, row-major
    double *bias;               //  out
    int activation;             //  WB_MODEL__IDENTITY, _RELU, _SIGMOID, _SOFTMAX
} wb_model__layer_t;

struct _wb_model_t {
    int kind;                   //  WB_MODEL__LINEAR, _LOGISTIC, _MLP, _KMEANS
    int task;                   //  WB_MODEL__REGRESSION, _CLASSIFICATION, _CLUSTERING
    json_t *params;             //  hyperparameters used, defaults filled in
    char *target;               //  target column, NULL for clustering
    wb_col_type_t target_type;  //  its type in the training table
    double target_mean;         //  regression: the target's mean ...
    double target_std;          //  ... and standard deviation (outputs are scaled back)
    wb_model__feature_t *features; //  input columns, in encoding order
    size_t nfeatures;           //  how many
    size_t inputs;              //  width of the encoded vector
    wb_model__set_t classes;    //  classification: labels, in output order
    double *class_values;       //  numeric target: the classes as numbers, ascending
    wb_model__layer_t *layers;  //  dense layers (not kmeans)
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

//  Kinds by name: "linear" ... (an unknown kind reads as 0)
const char *
    wb_model__kind_name (int kind);
int
    wb_model__kind_parse (const char *name);
//  A finite number as JSON, null otherwise (jansson refuses NaN and inf)
json_t *
    wb_model__real (double value);
//  qsort order of doubles, ascending
int
    wb_model__double_cmp (const void *a, const void *b);
//  An empty model of kind (its task from the kind, stop "solved")
wb_model_t *
    wb_model__new (int kind);
//  Why training ended (copied)
void
    wb_model__set_stop (wb_model_t *self, const char *stop);
//  Append a dense layer of zeros, in x out
wb_model__layer_t *
    wb_model__add_layer (wb_model_t *self, size_t in, size_t out, int activation);


//  ---- Hyperparameters (wb_model_params.c) ----

//  The hyperparameters of one training, defaults filled in
typedef struct {
    double l2;                  //  L2 penalty
    double learning_rate;       //  Adam step size
    int64_t epochs;             //  passes over the rows (mlp)
    int64_t batch_size;         //  rows per mini-batch (mlp)
    size_t hidden [WB_MODEL__MAX_LAYERS]; //  hidden layer sizes (mlp)
    size_t layers;              //  how many hidden layers
    int64_t patience;           //  epochs without improvement before stopping
    int task;                   //  -1 auto, else WB_MODEL__REGRESSION / _CLASSIFICATION
    int64_t max_iter;           //  iterations (logistic, kmeans)
    double tol;                 //  convergence tolerance
    int64_t k;                  //  clusters
    int64_t n_init;             //  k-means++ starts
    bool standardize;           //  standardise numeric columns
    json_t *features;           //  column names (owned), NULL for all
    double validation;          //  fraction held out when no validation table
    uint64_t seed;              //  random seed
    int threads;                //  OpenBLAS threads, 0 = every core
} wb_model__params_t;

//  Read params (a JSON object or NULL) for kind into p. 0 or -1.
int
    wb_model__params_read (wb_model__params_t *p, int kind, json_t *params, wb_error_t *err);
//  The parameters that apply to kind, as JSON (caller owns)
json_t *
    wb_model__params_json (const wb_model__params_t *p, int kind, int task);


//  ---- Checking a training request (wb_model_check.c) ----

//  Everything wb_model__prepare works out about a training request
typedef struct {
    int kind;                   //  WB_MODEL__LINEAR ...
    int task;                   //  WB_MODEL__REGRESSION ...
    wb_model__params_t params;  //  hyperparameters
    int target;                 //  target column in train, -1 for none
    size_t *columns;            //  feature columns in train
    size_t ncolumns;            //  how many
} wb_model__plan_t;

//  "unknown column 'x' in TABLE: its columns are ..."; returns -1
int
    wb_model__unknown_column (wb_frame_t *frame, const char *name, const char *table,
                              wb_error_t *err);
//  Does text read as a finite number?
bool
    wb_model__is_number (const char *text);
//  Does a column look like class labels: not numeric, or at most a
//  handful of distinct whole numbers?
bool
    wb_model__looks_like_classes (wb_frame_t *frame, size_t col);
//  The distinct values of a numeric column, ascending, in *values_p; -1
//  when there are more than limit (values_p untouched)
int64_t
    wb_model__distinct_numbers (const double *numbers, size_t rows, size_t limit,
                                double **values_p);
void
    wb_model__plan_free (wb_model__plan_t *plan);
//  A regression target must be numbers. 0 or -1.
int
    wb_model__check_numeric_target (wb_frame_t *frame, size_t col, int kind, const char *table,
                                    wb_error_t *err);
//  Check a training request and work out what to do. 0 or -1.
int
    wb_model__prepare (wb_model__plan_t *plan, wb_frame_t *train, wb_frame_t *valid,
                       const char *target, const char *kind_name, json_t *params,
                       wb_error_t *err);


//  ---- A pool of training threads (wb_model_pool.c) ----

//  Where the pool's threads meet (spinning, then sleeping on a futex)
typedef struct {
    atomic_uint arrived;        //  threads at the barrier this round
    atomic_uint round;          //  rounds completed (the futex word)
    atomic_uint sleepers;       //  threads asleep on round
    unsigned count;             //  threads that meet at it
} wb_model__barrier_t;

//  A task: thread index of count does its share of the work in arg
typedef void (wb_model__task_fn) (void *arg, size_t index, size_t count);

typedef struct _wb_model__pool_t wb_model__pool_t;

//  What a pool thread knows about itself
typedef struct {
    wb_model__pool_t *pool;     //  its pool
    size_t index;               //  1 .. count - 1 (0 is the caller)
    pthread_t thread;           //  the thread
} wb_model__member_t;

struct _wb_model__pool_t {
    size_t count;               //  threads, the calling one included
    wb_model__member_t *members; //  the others, from [1] ([0] is the caller's, unused)
    wb_model__barrier_t barrier; //  met before and after each task
    wb_model__task_fn *task;    //  the task of this round
    void *arg;                  //  its argument
    bool quit;                  //  threads leave at the next round
};

//  Wait until all of the barrier's threads are there
void
    wb_model__barrier_wait (wb_model__barrier_t *barrier);
//  count threads, the caller's one of them (0 counts as 1); the others
//  start with every signal blocked
wb_model__pool_t *
    wb_model__pool_new (size_t count);
void
    wb_model__pool_destroy (wb_model__pool_t **pool_p);
//  Run task on every thread of pool (NULL: just this one); returns when
//  all are done
void
    wb_model__pool_run (wb_model__pool_t *pool, wb_model__task_fn *task, void *arg);

//  Thread index's share of count items: [*lo, *hi)
static inline void
wb_model__share (size_t items, size_t index, size_t count, size_t *lo, size_t *hi)
{
    *lo = items * index / count;
    *hi = items * (index + 1) / count;
}


//  ---- A set of strings; preprocessing (wb_model_prep.c) ----

//  Free the strings and the index (the set is empty after)
void
    wb_model__set_free (wb_model__set_t *set);
//  Index of text, or -1
int64_t
    wb_model__set_find (const wb_model__set_t *set, const char *text);
//  Add text if new; its index
size_t
    wb_model__set_add (wb_model__set_t *set, const char *text);
//  Sort the strings (byte order) and rebuild the index
void
    wb_model__set_sort (wb_model__set_t *set);
//  Fit the features (statistics, categories), the classes and the target
//  scaling on the training table; lay out the encoded vector
void
    wb_model__fit_preprocessing (wb_model_t *self, wb_model__plan_t *plan, wb_frame_t *train,
                                 wb_model__pool_t *pool);
//  The whole frame encoded (rows x inputs), doubles or (single) floats;
//  NULL with err (a missing column, a missing or non-numeric value)
void *
    wb_model__encode (wb_model_t *self, wb_frame_t *frame, bool single, wb_model__pool_t *pool,
                      const char *table, wb_error_t *err);
//  The target of frame as class codes: 0 .. classes-1, and from classes on
//  the labels not seen in training, which are added to unseen (if not
//  NULL; else they are -1). 0 or -1 (missing values).
int
    wb_model__target_codes (wb_model_t *self, wb_frame_t *frame, size_t col, int32_t *codes,
                            wb_model__set_t *unseen, const char *table, wb_error_t *err);


//  ---- Forward pass and metrics (wb_model_eval.c) ----

//  Predictions for an encoded matrix: values (one a row) and, for
//  classifiers, probabilities (rows x classes) if proba is not NULL
void
    wb_model__predict_encoded (wb_model_t *self, const wb_blas_t *blas, const double *x,
                               size_t rows, double *values, double *proba);
//  RMSE, MAE and R^2 of predictions against truth
void
    wb_model__reg_scores (const double *predicted, const double *truth, size_t rows,
                          double *rmse, double *mae, double *r2);


//  ---- Training: shared state (wb_model_fit.c), and the kinds ----

//  One training in progress
typedef struct {
    wb_model_t *model;          //  being trained
    const wb_blas_t *blas;      //  the routines
    wb_model__params_t *params; //  hyperparameters
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
    wb_model__pool_t *pool;     //  the threads that share the work
    wb_model_progress_fn *fn;   //  progress callback, may be NULL
    void *arg;                  //  its argument
    bool stopped;               //  the callback asked to stop
} wb_model__train_t;

//  Between batches: should training go on?
bool
    wb_model__go_on (wb_model__train_t *t);
//  The end of a step: record its metrics (steals them), tell the caller
void
    wb_model__step_done (wb_model__train_t *t, json_t *metrics);

//  Fit the model of t by each kind's method (wb_model_linear.c,
//  wb_model_logistic.c, wb_model_mlp.c, wb_model_kmeans.c). 0 or -1.
int
    wb_model__train_linear (wb_model__train_t *t, wb_error_t *err);
int
    wb_model__train_logistic (wb_model__train_t *t, wb_error_t *err);
int
    wb_model__train_mlp (wb_model__train_t *t, wb_error_t *err);
int
    wb_model__train_kmeans (wb_model__train_t *t, wb_error_t *err);


//  ---- Self-tests: each part's, and the helpers they share (wb_model.c) ----

//  A frame from CSV text (asserts it parses)
wb_frame_t *
    wb_model__test_frame (const char *text);
//  The same from a buffer, which it destroys
wb_frame_t *
    wb_model__test_buf_frame (wb_buf_t **buf_p);
//  JSON parameters from text (asserts it parses)
json_t *
    wb_model__test_params (const char *text);
//  Train, asserting it works
wb_model_t *
    wb_model__test_train (wb_frame_t *train, wb_frame_t *valid, const char *target,
                          const char *kind, const char *params_text);
//  A metric that must be a number
double
    wb_model__test_metric (json_t *metrics, const char *name);
//  Predictions of a model on a frame, and the same after a save/load round
//  trip: identical, bit for bit; the reloaded model saves the same bytes
void
    wb_model__test_round_trip (wb_model_t *model, wb_frame_t *frame);
//  Three well-separated blobs of 50 rows each: u, v and a text label kind
wb_frame_t *
    wb_model__test_blobs (void);

//  Each part's self-test, run by wb_model_test
void
    wb_model_params_test (bool verbose);
void
    wb_model_check_test (bool verbose);
void
    wb_model_prep_test (bool verbose);
void
    wb_model_linear_test (bool verbose);
void
    wb_model_logistic_test (bool verbose);
void
    wb_model_mlp_test (bool verbose);
void
    wb_model_kmeans_test (bool verbose);
void
    wb_model_fit_test (bool verbose);
void
    wb_model_file_test (bool verbose);

#endif
