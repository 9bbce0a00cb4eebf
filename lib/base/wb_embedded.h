/*  wb_embedded - files compiled into the binary by share/embed.sh: the
    kernel logos (for `workbench install`) and the Python helper module
    that jobs import (share/workbench.py)
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

#endif
