/*  wb_embedded - files compiled into the binary by share/embed.sh: the
    kernel logos (for `workbench install`), the Python helper module
    that jobs import (share/workbench.py), and the Python worker that
    loads and scores a user's own models (share/wb_worker.py, with
    share/workbench_mlflow.py, the loader of exported built-in models)
*/
#ifndef WB_EMBEDDED_H
#define WB_EMBEDDED_H

#include <stddef.h>

typedef struct {
    const char *name;           //  file name, e.g. "logo-32x32.png"
    const unsigned char *data;  //  its bytes
    size_t size;                //  how many
} wb_embedded_t;

//  Tables ended by a row with name NULL.
extern const wb_embedded_t wb_logos [];
extern const wb_embedded_t wb_pylib [];
extern const wb_embedded_t wb_pyworker [];

#endif
