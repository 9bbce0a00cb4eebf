/*  wb_magic_train - built-in training from a cell: %%train runs a model
    kind on a dataset version as a job, drawn live; %predict scores a
    dataset with a trained model
*/
#ifndef WB_MAGIC_TRAIN_H
#define WB_MAGIC_TRAIN_H

#include "wb_magics.h"

int wb_magic_train (wb_session_t *session, wb_call_t *call, wb_out_t *out);
int wb_magic_predict (wb_session_t *session, wb_call_t *call, wb_out_t *out);

//  Parse and check a %%train call without submitting it: a new request
//  {"kind": "train", "data": "NAME:VERSION" (resolved), "target", "model",
//  "validation" (< 0: the default), "seed", "params" (--param, plus the
//  body's unless template), "body", "experiment", "name", "no_wait"}; NULL
//  after reporting. With template, the body is kept as text for a sweep
//  to fill in (${{params.NAME}}).
json_t *
    wb_magic_train_request (wb_session_t *session, wb_call_t *call, bool template, wb_out_t *out);

//  The model file of a reference: a run id or name (its artifact
//  outputs/model.json). Caller owns; NULL after reporting.
char *
    wb_magic_train_model_file (wb_session_t *session, const char *ref, size_t *size,
                            char **run_id_p, wb_out_t *out);

#endif
