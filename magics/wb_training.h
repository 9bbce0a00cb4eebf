/*  wb_training - built-in training from a cell: %%train runs a model
    kind on a dataset version as a job, drawn live; %predict scores a
    dataset with a trained model
*/
#ifndef WB_TRAINING_H
#define WB_TRAINING_H

#include "wb_magics.h"

int wb_magic_train (wb_magics_t *self, wb_call_t *call, wb_out_t *out);
int wb_magic_predict (wb_magics_t *self, wb_call_t *call, wb_out_t *out);

//  The model file of a reference: a run id or name (its artifact
//  outputs/model.json). Caller owns; NULL after reporting.
char *
    wb_training_model_file (wb_magics_t *self, const char *ref, size_t *size,
                            char **run_id_p, wb_out_t *out);

#endif
