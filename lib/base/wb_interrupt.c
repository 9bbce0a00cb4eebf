/*  wb_interrupt - the one process-wide flag: "the user asked to stop"
*/
#include <string.h>
#include "wb_interrupt.h"

volatile _Atomic sig_atomic_t wb_interrupted = 0;

static void
s_on_sigint (int signum)
{
    (void) signum;
    wb_interrupted = 1;
}

void
wb_interrupt_install (void)
{
    struct sigaction action;
    memset (&action, 0, sizeof (action));
    action.sa_handler = s_on_sigint;
    sigemptyset (&action.sa_mask);
    action.sa_flags = SA_RESTART;
    sigaction (SIGINT, &action, NULL);
}

void
wb_interrupt_raise (void)
{
    wb_interrupted = 1;
}

void
wb_interrupt_clear (void)
{
    wb_interrupted = 0;
}

bool
wb_interrupt_pending (void)
{
    return wb_interrupted != 0;
}
