/*  wb_dataset - the dataset registry: named, versioned tables registered
    from CSV files, kept by content in the workspace with an inferred schema
    and a profile; and the tables and charts that show them

    Same content, same version; new content, new version. A file is parsed
    and profiled before anything is stored, so a broken file registers
    nothing. A run that reads a dataset records which version (lineage).
*/
#ifndef WB_DATASET_H
#define WB_DATASET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "base/wb_error.h"
#include "wb_frame.h"
#include "store/wb_store.h"

//  Register the CSV file at path as dataset name (letters, digits, '_',
//  '-', '.'), with a description (may be NULL). Returns the version's
//  record as wb_store_dataset_get gives it, plus "created": true for new
//  content, false when an existing version has the same content (that
//  version is returned, its description unchanged). Caller owns. NULL
//  (err) for a bad name, a file that cannot be read, or a broken CSV (the
//  message gives the line and column); then nothing is stored.
//  Is name a valid dataset name? 0, or -1 with err saying what one is.
int
    wb_dataset_check_name (const char *name, wb_error_t *err);
json_t *
    wb_dataset_register (wb_store_t *store, const char *name, const char *path,
                         const char *description, wb_error_t *err);

//  The record of a reference: "NAME", "NAME:VERSION" or "NAME:latest"
//  (caller owns). NULL (err) for a reference that is not one, an unknown
//  dataset or an unknown version; the message lists what exists.
json_t *
    wb_dataset_resolve (wb_store_t *store, const char *ref, wb_error_t *err);

//  A version (0 = the latest) as a frame, read from the content store.
wb_frame_t *
    wb_dataset_load (wb_store_t *store, const char *name, int64_t version,
                     wb_error_t *err);

//  What a run calls to read a dataset: resolve ref, load that version, and
//  record that run id read it (lineage; id may be NULL). When record_p is
//  not NULL it receives the version's record (caller owns).
wb_frame_t *
    wb_dataset_use (wb_store_t *store, const char *ref, const char *id,
                    json_t **record_p, wb_error_t *err);

//  The latest version of every dataset with its count of versions, by name
//  (caller owns); see wb_store_datasets.
json_t *
    wb_dataset_list (wb_store_t *store, wb_error_t *err);

void
    wb_dataset_test (bool verbose);

#endif
