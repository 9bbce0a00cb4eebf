/*  wb_scorer_int - private to wb_scorer*.c: the scorer's struct and what
    its two parts share

    wb_scorer.c        loading a model file; scoring rows and tables; the answer
    wb_scorer_read.c   reading a request into encoded rows: the fast path for
                       the common bodies, the full JSON reader, CSV
*/
#ifndef WB_SCORER_INT_H
#define WB_SCORER_INT_H

#include "wb_scorer.h"
#include "data/wb_frame.h"
#include "train/wb_model.h"

typedef struct {
    char *name;                 //  column name
    bool categorical;           //  one-hot over categories, else numeric
    double mean, scale;         //  numeric: (x - mean) * scale
    char **categories;          //  categorical: the categories in slot order
    size_t ncategories;         //  how many
    size_t offset;              //  first slot in the encoded vector
} wb_scorer__feature_t;

typedef struct {
    size_t in, out;             //  shape
    double *weights;            //  in x out, row-major
    double *bias;               //  out
    int activation;             //  S_IDENTITY ...
} wb_scorer__layer_t;

struct _wb_scorer_t {
    int task;                   //  S_REGRESSION ...
    char *target;               //  target column, or NULL
    double target_mean, target_std; //  regression: output scale
    bool numeric_classes;       //  class labels are numbers: answer them as numbers
    char **classes;             //  class labels
    size_t nclasses;            //  how many
    wb_scorer__feature_t *features; //  input columns in encoding order
    size_t nfeatures;           //  how many
    size_t inputs;              //  encoded width
    wb_scorer__layer_t *layers; //  the network (empty for kmeans)
    size_t nlayers;             //  how many
    size_t widest;              //  widest layer output
    double *centers;            //  kmeans: k x inputs
    double *norms;              //  kmeans: |c|^2 per centre
    size_t k;                   //  kmeans: centres
    json_t *expects;            //  what the model takes (for errors, OpenAPI)
};


//  The rows being read
typedef struct {
    double *x;                  //  rows x nfeatures, encoded (s_encode_value)
    size_t rows;                //  rows read
    size_t room;                //  rows allocated
} wb_scorer__rows_t;


//  ---- Reading a request (wb_scorer_read.c) ----

//  Fill fault (status, code, message); returns -1
int
    wb_scorer__fault (wb_scorer_fault_t *fault, int status, const char *code,
                      const char *format, ...) __attribute__ ((format (printf, 4, 5)));
//  The common bodies (rows of numbers under "data", "instances",
//  "input_data") read without building JSON: true when body was one of
//  them and is in rows, false to hand it to the full reader
bool
    wb_scorer__read_fast (wb_scorer_t *self, const char *body, size_t size,
                          wb_scorer__rows_t *rows);
//  A JSON body of any accepted shape into rows (*probabilities set when
//  the body asks for them). 0, or -1 with fault.
int
    wb_scorer__read_json (wb_scorer_t *self, const char *body, size_t size,
                          wb_scorer__rows_t *rows, bool *probabilities,
                          wb_scorer_fault_t *fault);
//  A CSV body with a header line into rows. 0, or -1 with fault.
int
    wb_scorer__read_csv (wb_scorer_t *self, const char *body, size_t size,
                         wb_scorer__rows_t *rows, wb_scorer_fault_t *fault);

//  ---- Self-tests of the parts (wb_scorer_test runs them all) ----

//  The table the tests train on: x, y, colour (categorical), label, value
wb_frame_t *
    wb_scorer__test_frame (void);
//  A model of kind trained on frame (target may be NULL; features a
//  comma list) and the scorer of its file; *model_p gets the model.
//  NULL when this machine has no OpenBLAS to train with.
wb_scorer_t *
    wb_scorer__test_model (wb_frame_t *frame, const char *kind, const char *target,
                           const char *features, wb_model_t **model_p);
//  Score body; the answer parsed (caller owns) or NULL with fault
json_t *
    wb_scorer__test_score (wb_scorer_t *scorer, const char *type, const char *body,
                           bool proba, wb_scorer_fault_t *fault);
void
    wb_scorer_read_test (bool verbose);

#endif
