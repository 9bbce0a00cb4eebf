/*  wb_model - built-in training on OpenBLAS: linear/ridge regression,
    logistic regression, multi-layer perceptrons and k-means, with the
    preprocessing recorded in the model, metrics, and a model file that a
    scoring server loads without the training code

    Kinds and what they fit:
      linear    least squares; ridge with l2 > 0. Normal equations
                (X^T X + l2 I) solved by Cholesky (LAPACK dpotrf/dpotrs);
                a rank-deficient system (l2 = 0, collinear columns) falls
                back to the minimum-norm SVD solution (dgelsd).
      logistic  binary (sigmoid) or multinomial (softmax) with an L2
                penalty, full-batch L-BFGS; the loss and gradient are one
                GEMM over the rows each.
      mlp       classifier (softmax) or regressor: hidden ReLU layers,
                Adam, shuffled mini-batches, float32 SGEMM, early stopping
                on a validation set.
      kmeans    k-means++ initialisation (greedy, as scikit-learn), Lloyd
                iterations with distances by SGEMM (|x|^2 - 2 x.c + |c|^2,
                rows in float32, distances and sums in double).

    Training runs on "threads" threads of its own, which share the rows
    (each batch's rows, for the mlp) and call OpenBLAS single-threaded;
    their partial results are summed in thread order. OpenBLAS's own
    threads are stopped meanwhile and come back after. Prediction and
    evaluation use OpenBLAS's threads.

    Preprocessing, fitted on the training rows and stored in the model:
    numeric columns standardised (mean, standard deviation; off for kmeans
    by default), categorical columns one-hot encoded over the categories
    seen in training (a category not seen then, or a missing one, encodes
    as all zeros: it gives a prediction, never an error). Text columns
    (free text, many distinct values) are skipped unless named in
    "features", which is an error.

    Everything about the input is checked before any work starts
    (wb_model_check): unknown kind, column or parameter, a target with one
    class, a non-numeric target for regression, missing or infinite values
    in a feature, a parameter out of range. Each error says which, and what
    to do.

    Determinism: all randomness (splits, initialisation, shuffling, k-means
    seeding) comes from one xoshiro256** stream seeded by "seed". With the
    same thread count ("threads"; 0 picks the same on the same machine),
    the same data and seed give the same model, bit for bit (the bytes of
    wb_model_save are identical).

    ---- Hyperparameters (the JSON object "params"; %help train) ----

    Values may be JSON numbers/booleans/arrays or strings that hold them
    ("0.1", "true", "128,64"), as key=value words give them.

      name           kinds                 default       meaning
      l2             linear logistic mlp   0 / 1 / 1e-4  L2 penalty: ridge alpha
                                                         (linear), 1/C (logistic),
                                                         alpha (mlp), as in
                                                         scikit-learn; >= 0
      learning_rate  mlp                   0.001         Adam step size, (0, 10]
      epochs         mlp                   200           passes over the rows, 1..100000
      batch_size     mlp                   200           rows per mini-batch, 1..1000000
                                                         (capped at the row count)
      hidden         mlp                   [100]         hidden layer sizes: [128, 64]
                                                         or "128,64"; 1..16 layers
                                                         of 1..100000 units
      patience       mlp                   10            epochs without improvement
                                                         (of validation loss, else of
                                                         training loss) by more than
                                                         tol before stopping; 0: never
      task           mlp                   auto          classification or regression;
                                                         auto: classification when the
                                                         target is not numeric or
                                                         holds at most 20 distinct
                                                         whole numbers
      max_iter       logistic kmeans       100 / 300     iterations, 1..1000000
      tol            logistic mlp kmeans   1e-4          convergence tolerance, >= 0:
                                                         logistic: largest gradient
                                                         component; kmeans: centre
                                                         movement relative to the
                                                         data's variance; mlp: see
                                                         patience
      k              kmeans                8             clusters, 1..rows
      n_init         kmeans                1             k-means++ starts, best kept, 1..1000
      standardize    all                   true / false  standardise numeric columns
                                                         (kmeans: false)
      features       all                   all others    columns to learn from: a list
                                                         or "a,b,c"; by default every
                                                         column but the target and
                                                         free-text ones
      validation     linear logistic mlp   0 / 0 / 0.1   fraction of the training rows
                                                         held out (stratified) when no
                                                         validation table is given;
                                                         [0, 0.9]
      seed           all                   0             random seed, 0..2^53
      threads        all                   0             training threads (the result
                                                         depends on it); 0: as many as
                                                         have work (64 rows of a batch,
                                                         4096 rows), at most one a core

    Metrics per step (epoch or iteration), passed to the progress callback:
      linear    rmse, r2, and val_rmse, val_r2 with validation rows
      logistic  loss (mean log loss), val_loss, val_accuracy
      mlp       loss, val_loss, and val_accuracy or val_rmse, val_r2
                (regression loss is the mean squared error over the
                target's variance)
      kmeans    inertia, shift (squared movement of the centres)

    ---- The model file (wb_model_save, wb_model_load) ----

    One JSON object (UTF-8, compact, numbers with 17 significant digits so
    doubles read back exactly). Members, in this order:

      "format"    "workbench-model"
      "version"   1
      "kind"      "linear" | "logistic" | "mlp" | "kmeans"
      "task"      "regression" | "classification" | "clustering"
      "target"    the target column: {"name", "type": "numeric" | "categorical"
                  | "text"}, and for regression "mean", "std"; null for
                  clustering
      "classes"   classification: the class labels, sorted (numerically when
                  the target column is numeric, then written as the shortest
                  text that reads back as the number); [] otherwise
      "features"  the input columns, in encoding order:
                    {"name", "type": "numeric", "mean", "std"}
                    {"name", "type": "categorical", "categories": [text, ...]}
      "inputs"    width of the encoded input vector
      "layers"    [{"weights": [[...] x in] each of out numbers, "bias": [out],
                    "activation": "relu" | "identity" | "sigmoid" | "softmax"}]
                  ([] for kmeans)
      "centers"   kmeans: k arrays of "inputs" numbers; [] otherwise
      "params"    the hyperparameters used, defaults filled in
      "training"  {"rows", "valid_rows", "steps", "best_step", "stop":
                  "solved" | "converged" | "max_iter" | "epochs" |
                  "early_stopping" | "interrupted"}
      "metrics"   final metrics (as wb_model_evaluate) of the validation rows
                  (kmeans without them: of the training rows), or null

    Scoring one row x (an object column name -> value) without this code:
      1. Encode: for each feature in order, a numeric one contributes
         (x[name] - mean) / std (a missing or non-numeric value is an
         error); a categorical one contributes one 0/1 number per entry of
         "categories", 1 where the category equals the value's text (a
         number's text is its shortest round-trip form, e.g. "3", "0.5");
         an unseen or missing value gives all zeros. The result has
         "inputs" numbers.
      2. Layers in order: a = activation(a . weights + bias), where
         (a . weights)[j] = sum_i a[i] * weights[i][j]; relu = max(0, z);
         softmax over the outputs; sigmoid = 1 / (1 + e^-z).
      3. Regression: the single output times target.std plus target.mean.
         Classification: with "softmax", output j is the probability of
         classes[j]; with "sigmoid" (one output p), classes[1] has
         probability p and classes[0] 1 - p. The prediction is the most
         probable class (the first on a tie).
         Clustering: the index of the nearest centre (squared Euclidean
         distance in the encoded space), the first on a tie.
*/
#ifndef WB_MODEL_H
#define WB_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "base/wb_error.h"
#include "data/wb_frame.h"

#define WB_MODEL_FORMAT   "workbench-model"
#define WB_MODEL_VERSION  1

typedef struct _wb_model_t wb_model_t;

//  Progress during training. Called with the metrics of each step (epoch
//  or iteration, counted from 1; metrics lent for the call), and between
//  mini-batches / function evaluations with metrics NULL, only to ask
//  whether to go on. Return non-zero to stop: training ends at the next
//  batch and the model keeps what it has (best weights so far, metrics so
//  far), with stop reason "interrupted". It is always called on the thread
//  that called wb_model_train, and training threads block every signal,
//  so signals reach that thread as before.
typedef int (wb_model_progress_fn) (void *arg, int64_t step, json_t *metrics);

//  Check everything about a training request without training: the kind,
//  every parameter, the target and feature columns in train (and valid,
//  which may be NULL), and their values. 0, or -1 with err saying which
//  and what to do. target is NULL for kmeans (a target given to kmeans is
//  left out of its features). Reads each column once and does not load
//  OpenBLAS: the kernel process can call it before it starts a job.
int
    wb_model_check (wb_frame_t *train, wb_frame_t *valid, const char *target,
                    const char *kind, json_t *params, wb_error_t *err);

//  Check as above, then train. valid (may be NULL) gives the validation
//  rows for per-step metrics, early stopping and the final metrics; when
//  NULL, "validation" > 0 holds out that fraction of train. fn may be NULL.
//  A new model, also when fn stopped training (see wb_model_stop); NULL
//  with err filled on bad input, when OpenBLAS cannot be loaded, or when
//  training was stopped before there was anything to keep.
wb_model_t *
    wb_model_train (wb_frame_t *train, wb_frame_t *valid, const char *target,
                    const char *kind, json_t *params,
                    wb_model_progress_fn *fn, void *arg, wb_error_t *err);

void
    wb_model_destroy (wb_model_t **self_p);

//  The parameters kind would train with: params (may be NULL) with every
//  default filled in, numbers as numbers (caller owns). "task" stays
//  "auto" when not given. NULL with err for an unknown kind or parameter.
json_t *
    wb_model_params_resolved (const char *kind, json_t *params, wb_error_t *err);

//  Split frame's rows into train and valid (about fraction of them, at
//  least one of each when there are two rows or more), shuffled by seed.
//  Stratified (the fraction taken from each class) when target is given
//  and looks like classes: not numeric, or at most 20 distinct whole
//  numbers. New frames in *train_p and *valid_p. 0 or -1.
int
    wb_model_split (wb_frame_t *frame, const char *target, double fraction,
                    uint64_t seed, wb_frame_t **train_p, wb_frame_t **valid_p,
                    wb_error_t *err);
//  The same as row indexes (ascending; caller frees both arrays).
int
    wb_model_split_rows (wb_frame_t *frame, const char *target, double fraction,
                         uint64_t seed, size_t **train_p, size_t *train_count,
                         size_t **valid_p, size_t *valid_count, wb_error_t *err);

//  Predict every row of frame (which needs the feature columns; others,
//  the target included, are ignored). *values_p gets one number a row:
//  the value (regression), the class index (classification: see
//  wb_model_class) or the cluster (clustering). *proba_p (may be NULL)
//  gets rows x classes probabilities, row-major, for classifiers, NULL for
//  others. Caller frees both. 0, or -1 with err (a missing column, a
//  missing or non-numeric value in a numeric feature).
int
    wb_model_predict (wb_model_t *self, wb_frame_t *frame, double **values_p,
                      double **proba_p, wb_error_t *err);

//  Metrics of the model on frame, whose column target (NULL: the model's
//  target) holds the truth. Classifiers: rows, accuracy, precision,
//  recall, f1 (macro over the labels that occur), log_loss, roc_auc
//  (binary; null when a class is absent), confusion_matrix {"labels",
//  "matrix": rows actual, columns predicted} (labels: the classes, then
//  any unseen ones found in frame). Regressors: rows, rmse, mae, r2.
//  k-means: rows, inertia, sizes. Caller owns the result; NULL with err.
json_t *
    wb_model_evaluate (wb_model_t *self, wb_frame_t *frame, const char *target,
                       wb_error_t *err);

//  The same metrics of predictions made elsewhere (by lib/serve/wb_scorer's
//  plain loops, so that the kernel needs no OpenBLAS): values and proba
//  as wb_model_predict gives them (proba needed for classifiers),
//  distances each row's squared distance to its centre (needed for
//  k-means). Does not load OpenBLAS. Caller owns; NULL with err.
json_t *
    wb_model_evaluate_scores (wb_model_t *self, wb_frame_t *frame, const char *target,
                              const double *values, const double *proba,
                              const double *distances, wb_error_t *err);

//  The model file (see above); caller frees. *size_p (may be NULL) gets
//  its length.
char *
    wb_model_save (wb_model_t *self, size_t *size_p);
//  A model from a model file; NULL with err saying what is wrong with it.
wb_model_t *
    wb_model_load (const char *data, size_t size, wb_error_t *err);

//  "linear", "logistic", "mlp" or "kmeans".
const char *
    wb_model_kind (wb_model_t *self);
//  "regression", "classification" or "clustering".
const char *
    wb_model_task (wb_model_t *self);
//  The target column, NULL for clustering.
const char *
    wb_model_target (wb_model_t *self);
//  Classes (classification; else 0) and a class label (lent).
size_t
    wb_model_classes (wb_model_t *self);
const char *
    wb_model_class (wb_model_t *self, size_t index);
//  The feature schema, as "features" in the model file (caller owns).
json_t *
    wb_model_schema (wb_model_t *self);
//  Width of the encoded input vector.
size_t
    wb_model_inputs (wb_model_t *self);
//  The hyperparameters used, defaults filled in (lent).
json_t *
    wb_model_params (wb_model_t *self);
//  The metrics of every step, in order: {"step", and the metrics passed to
//  the progress callback} (lent; empty for a loaded model).
json_t *
    wb_model_history (wb_model_t *self);
//  Final metrics (lent), as wb_model_evaluate gives them: of the
//  validation rows; for kmeans without validation rows, of the training
//  rows; else NULL.
json_t *
    wb_model_metrics (wb_model_t *self);
//  Why training ended: "solved", "converged", "max_iter", "epochs",
//  "early_stopping" or "interrupted"; and the steps it ran.
const char *
    wb_model_stop (wb_model_t *self);
int64_t
    wb_model_steps (wb_model_t *self);

void
    wb_model_test (bool verbose);

#endif
