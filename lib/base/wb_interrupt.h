/*  wb_interrupt - the one process-wide flag: "the user asked to stop"

    Set by the SIGINT handler and by the kernel on interrupt_request; read by
    every long wait in lib/ (shell commands, jobs, training) which then stops
    what the current cell started. Cleared when a new cell starts.
*/
#ifndef WB_INTERRUPT_H
#define WB_INTERRUPT_H

#include <signal.h>
#include <stdbool.h>

//  The only mutable global of the project (see STYLE.md). Atomic: the
//  kernel's main thread sets and clears it while its executor thread reads
//  it (a lock-free atomic is also safe in a signal handler).
extern volatile _Atomic sig_atomic_t wb_interrupted;

//  Install a SIGINT handler that sets wb_interrupted instead of killing the
//  process.
void
    wb_interrupt_install (void);

//  Set, clear and read the flag.
void
    wb_interrupt_raise (void);
void
    wb_interrupt_clear (void);
bool
    wb_interrupt_pending (void);

#endif
