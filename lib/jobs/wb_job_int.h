/*  wb_job_int - private to wb_job*.c: what the parts of the jobs class
    share

    wb_job.c            compute targets, job folders, script parameters, the
                        line protocol, submitting and cancelling, the local
                        target
    wb_job_recover.c    recovery: the runs of dead supervisors, what jobs
                        left running, their folders
    wb_job_supervise.c  the supervisor (`workbench job-run`) that runs a job
*/
#ifndef WB_JOB_INT_H
#define WB_JOB_INT_H

#include <sys/types.h>
#include "wb_job.h"

//  ---- Job folders (wb_job.c) ----

//  The folder of job id in the workspace folder (caller owns)
char *
    wb_job__dir (const char *workspace, const char *id);
//  Remove path and all below it (rm -r), as far as it can
void
    wb_job__remove_tree (const char *path);

//  ---- Recovery (wb_job_recover.c) ----

//  Kill what job id left running: every process whose environment holds
//  WORKBENCH_RUN_ID=id, and its process group pgid (when > 0) if one of
//  those is still in it. Returns how many processes were killed.
int
    wb_job__kill_processes (const char *id, pid_t pgid);
//  Kill this process's children that are not Workbench's own detached
//  processes (the job's orphans, taken in as subreaper). How many.
int
    wb_job__kill_children (void);

//  ---- Self-tests of the parts (wb_job_test runs them all) ----

void
    wb_job_supervise_test (bool verbose);

#endif
