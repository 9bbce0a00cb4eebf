/*  wb_kernel - the kernel process: binds the five channels of a connection
    file, answers the messaging protocol, and runs cells on an executor
    thread so that control, heartbeat and interrupt are served while a cell
    runs. The only code that touches sockets.
*/
#ifndef WB_KERNEL_H
#define WB_KERNEL_H

#include <stdbool.h>
#include "base/wb_error.h"

typedef struct _wb_kernel_t wb_kernel_t;

//  Load the connection file, bind every channel, start the heartbeat and
//  the executor. NULL with err filled when any of that fails.
wb_kernel_t *
    wb_kernel_new (const char *connection_file, wb_error_t *err);
void
    wb_kernel_destroy (wb_kernel_t **self_p);
//  Serve until a shutdown request. Returns 0.
int
    wb_kernel_run (wb_kernel_t *self);

#endif
