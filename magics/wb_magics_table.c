/*  wb_magics_table - the magic table: one row per magic, the one place a
    magic is added. The dispatcher (wb_magics.c), completion and inspection
    (wb_complete.c), %lsmagic and %help (wb_magic_cell.c) and the command-line
    tool (kernel/main.c) all read these rows.

    Each row names its handler, which lives in the magics file of its
    family, named after the lib/ folder it works through: wb_magic_cell (the
    cell language), wb_magic_store (workspace, runs), wb_magic_jobs (jobs,
    compute), wb_magic_data (datasets), wb_magic_train (train, predict),
    wb_magic_serve (registry, endpoints), wb_magic_tune (sweeps).
*/
#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include "wb_magics.h"
#include "wb_magic_cell.h"
#include "wb_magic_store.h"
#include "wb_magic_jobs.h"
#include "wb_magic_data.h"
#include "wb_magic_train.h"
#include "wb_magic_serve.h"
#include "wb_magic_tune.h"
#include "base/wb_util.h"

//  ---- Flags and subcommands ----
//
//  Each list is what the handler parses with (wb_magics_opts), so a flag
//  is added here and nowhere else: name without dashes, a short letter or
//  0, and whether it takes no value (BOOL), one (VALUE) or repeats (MULTI).

#define S_END { NULL, 0, WB_OPT_BOOL }

static const wb_opt_t s_writefile_opts [] = { { "append", 'a', WB_OPT_BOOL }, S_END };
static const wb_opt_t s_log_opts [] = {
    { "step", 's', WB_OPT_VALUE }, { "run", 'r', WB_OPT_VALUE }, S_END
};
static const wb_opt_t s_param_opts [] = { { "run", 'r', WB_OPT_VALUE }, S_END };
static const wb_opt_t s_runs_opts [] = {
    { "experiment", 'e', WB_OPT_VALUE }, { "filter", 'f', WB_OPT_VALUE },
    { "sort", 's', WB_OPT_VALUE }, { "limit", 'n', WB_OPT_VALUE },
    { "all", 'a', WB_OPT_BOOL }, S_END
};
static const wb_opt_t s_show_opts [] = {
    { "metric", 'm', WB_OPT_MULTI }, { "log", 0, WB_OPT_BOOL }, S_END
};
static const wb_opt_t s_artifacts_opts [] = { { "to", 'o', WB_OPT_VALUE }, S_END };
static const wb_opt_t s_delete_opts [] = { { "yes", 'y', WB_OPT_BOOL }, S_END };
static const wb_opt_t s_job_cell_opts [] = {
    { "name", 'n', WB_OPT_VALUE }, { "experiment", 'e', WB_OPT_VALUE },
    { "compute", 'c', WB_OPT_VALUE }, { "code", 0, WB_OPT_VALUE },
    { "param", 'p', WB_OPT_MULTI }, { "env", 0, WB_OPT_MULTI },
    { "timeout", 't', WB_OPT_VALUE }, { "no-wait", 0, WB_OPT_BOOL },
    { "no-code", 0, WB_OPT_BOOL }, S_END
};
static const wb_opt_t s_compute_opts [] = { { "max-jobs", 0, WB_OPT_VALUE }, S_END };
static const wb_opt_t s_train_opts [] = {
    { "data", 'd', WB_OPT_VALUE }, { "target", 't', WB_OPT_VALUE },
    { "model", 'm', WB_OPT_VALUE }, { "name", 'n', WB_OPT_VALUE },
    { "experiment", 'e', WB_OPT_VALUE }, { "validation", 'v', WB_OPT_VALUE },
    { "seed", 's', WB_OPT_VALUE }, { "param", 'p', WB_OPT_MULTI },
    { "no-wait", 0, WB_OPT_BOOL }, S_END
};
static const wb_opt_t s_batch_opts [] = {
    { "data", 'd', WB_OPT_VALUE }, { "mini-batch", 0, WB_OPT_VALUE },
    { "parallel", 'p', WB_OPT_VALUE }, { "error-threshold", 0, WB_OPT_VALUE },
    { "output", 'o', WB_OPT_VALUE }, { "compute", 'c', WB_OPT_VALUE },
    { "name", 'n', WB_OPT_VALUE }, { "experiment", 'e', WB_OPT_VALUE },
    { "no-wait", 0, WB_OPT_BOOL }, S_END
};
static const wb_opt_t s_predict_opts [] = {
    { "data", 'd', WB_OPT_VALUE }, { "output", 'o', WB_OPT_VALUE }, S_END
};
static const wb_opt_t s_deploy_opts [] = {
    { "endpoint", 'e', WB_OPT_VALUE }, { "deployment", 'd', WB_OPT_VALUE },
    { "traffic", 't', WB_OPT_VALUE }, { "port", 'p', WB_OPT_VALUE },
    { "auth", 0, WB_OPT_VALUE }, { "workers", 0, WB_OPT_VALUE },
    { "max-batch-rows", 0, WB_OPT_VALUE }, { "max-batch-delay-ms", 0, WB_OPT_VALUE },
    { "request-timeout", 0, WB_OPT_VALUE }, S_END
};
static const wb_opt_t s_sweep_cell_opts [] = {
    { "metric", 'm', WB_OPT_VALUE }, { "goal", 'g', WB_OPT_VALUE },
    { "sampler", 's', WB_OPT_VALUE }, { "trials", 'n', WB_OPT_VALUE },
    { "parallel", 'p', WB_OPT_VALUE }, { "timeout", 't', WB_OPT_VALUE },
    { "trial-timeout", 0, WB_OPT_VALUE }, { "policy", 0, WB_OPT_VALUE },
    { "seed", 0, WB_OPT_VALUE }, { "name", 0, WB_OPT_VALUE },
    { "experiment", 'e', WB_OPT_VALUE }, { "no-wait", 0, WB_OPT_BOOL }, S_END
};

//  Subcommands: the word, its handler, its arity (words from the
//  subcommand on; -N: at least N), WB_SUB_DEFAULT for what the magic alone
//  means, what its positional words are (completion), its flags, its usage.
#define S_SUB_END { NULL, NULL, 0, 0, WB_ARGS_PATH, NULL, NULL }
static const wb_opt_t s_none [] = { S_END };

static const wb_opt_t s_run_start_opts [] = {
    { "name", 'n', WB_OPT_VALUE }, { "tag", 't', WB_OPT_MULTI }, S_END
};
static const wb_opt_t s_run_end_opts [] = { { "status", 's', WB_OPT_VALUE }, S_END };
static const wb_sub_t s_run_subs [] = {
    { "start", wb_magic_run_start, 1, 0, WB_ARGS_RUN, s_run_start_opts,
      "%run start [--name N] [--tag K=V ...]" },
    { "end", wb_magic_run_end, 1, 0, WB_ARGS_RUN, s_run_end_opts,
      "%run end [--status completed|failed|canceled]" },
    S_SUB_END
};

static const wb_opt_t s_all_opts [] = { { "all", 'a', WB_OPT_BOOL }, S_END };
static const wb_opt_t s_follow_opts [] = { { "follow", 'f', WB_OPT_BOOL }, S_END };
static const wb_sub_t s_job_subs [] = {
    { "list", wb_magic_job_list, 1, 0, WB_ARGS_RUN, s_all_opts, "%job list [--all]" },
    { "show", wb_magic_job_show, 2, 0, WB_ARGS_RUN, s_none, "%job show RUN" },
    { "logs", wb_magic_job_logs, 2, 0, WB_ARGS_RUN, s_follow_opts, "%job logs RUN [--follow]" },
    { "wait", wb_magic_job_wait, 2, 0, WB_ARGS_RUN, s_none, "%job wait RUN" },
    { "cancel", wb_magic_job_cancel, 2, 0, WB_ARGS_RUN, s_none, "%job cancel RUN" },
    S_SUB_END
};

static const wb_opt_t s_data_register_opts [] = { { "description", 'd', WB_OPT_VALUE }, S_END };
static const wb_opt_t s_data_show_opts [] = { { "rows", 'n', WB_OPT_VALUE }, S_END };
static const wb_sub_t s_data_subs [] = {
    { "register", wb_magic_data_register, 3, 0, WB_ARGS_PATH, s_data_register_opts,
      "%data register NAME PATH [--description TEXT]" },
    { "list", wb_magic_data_list, 1, 0, WB_ARGS_RUN, s_none, "%data list" },
    { "show", wb_magic_data_show, 2, 0, WB_ARGS_RUN, s_data_show_opts,
      "%data show NAME[:VERSION] [--rows N]" },
    S_SUB_END
};

static const wb_opt_t s_model_register_opts [] = {
    { "run", 'r', WB_OPT_VALUE }, { "path", 'p', WB_OPT_VALUE },
    { "tag", 't', WB_OPT_MULTI }, { "description", 'd', WB_OPT_VALUE },
    { "flavor", 0, WB_OPT_VALUE }, { "scorer", 0, WB_OPT_VALUE }, { "python", 0, WB_OPT_VALUE },
    S_END
};
static const wb_opt_t s_model_export_opts [] = { { "format", 0, WB_OPT_VALUE }, S_END };
static const wb_sub_t s_model_subs [] = {
    { "register", wb_magic_model_register, 2, 0, WB_ARGS_RUN, s_model_register_opts,
      "%model register NAME --run RUN [--path PATH] [--flavor workbench|sklearn|mlflow|python] "
      "[--scorer score.py] [--python PATH] [--tag K=V ...] [--description TEXT]" },
    { "list", wb_magic_model_list, 1, WB_SUB_DEFAULT, WB_ARGS_RUN, s_all_opts,
      "%model list [--all]" },
    { "show", wb_magic_model_show, 2, 0, WB_ARGS_RUN, s_none, "%model show NAME[:VERSION|@ALIAS]" },
    { "alias", wb_magic_model_alias, 3, 0, WB_ARGS_RUN, s_none, "%model alias NAME:VERSION ALIAS" },
    { "archive", wb_magic_model_archive, 2, 0, WB_ARGS_RUN, s_none, "%model archive NAME:VERSION" },
    { "export", wb_magic_model_export, 3, 0, WB_ARGS_PATH, s_model_export_opts,
      "%model export NAME[:VERSION|@ALIAS] [--format mlflow] DIR" },
    S_SUB_END
};

static const wb_opt_t s_invoke_opts [] = {
    { "deployment", 'd', WB_OPT_VALUE }, { "probabilities", 0, WB_OPT_BOOL }, S_END
};
static const wb_opt_t s_logs_opts [] = { { "limit", 'n', WB_OPT_VALUE }, S_END };
static const wb_opt_t s_keys_opts [] = {
    { "regenerate", 0, WB_OPT_BOOL }, { "key", 0, WB_OPT_VALUE }, { "json", 0, WB_OPT_BOOL }, S_END
};
static const wb_opt_t s_retention_opts [] = {
    { "rows", 0, WB_OPT_VALUE }, { "days", 0, WB_OPT_VALUE }, { "default", 0, WB_OPT_BOOL }, S_END
};
static const wb_sub_t s_endpoint_subs [] = {
    { "list", wb_magic_endpoint_list, 1, WB_SUB_DEFAULT, WB_ARGS_RUN, s_none, "%endpoint list" },
    { "show", wb_magic_endpoint_show, 2, 0, WB_ARGS_RUN, s_none, "%endpoint show EP" },
    { "invoke", wb_magic_endpoint_invoke, 3, 0, WB_ARGS_PATH, s_invoke_opts,
      "%endpoint invoke EP JSON|@FILE [--deployment NAME] [--probabilities]" },
    { "logs", wb_magic_endpoint_logs, 2, 0, WB_ARGS_RUN, s_logs_opts, "%endpoint logs EP [--limit N]" },
    { "keys", wb_magic_endpoint_keys, 2, 0, WB_ARGS_RUN, s_keys_opts,
      "%endpoint keys EP [--regenerate] [--key 1|2] [--json]" },
    { "retention", wb_magic_endpoint_retention, 2, 0, WB_ARGS_RUN, s_retention_opts,
      "%endpoint retention EP [--rows N] [--days D] [--default]" },
    { "traffic", wb_magic_endpoint_traffic, -3, 0, WB_ARGS_RUN, s_none,
      "%endpoint traffic EP NAME=PERCENT ..." },
    { "mirror", wb_magic_endpoint_mirror, -3, 0, WB_ARGS_RUN, s_none,
      "%endpoint mirror EP NAME=PERCENT ..." },
    { "delete", wb_magic_endpoint_delete, 2, 0, WB_ARGS_RUN, s_none, "%endpoint delete EP" },
    S_SUB_END
};

static const wb_opt_t s_sweep_show_opts [] = { { "all", 'a', WB_OPT_BOOL }, S_END };
static const wb_opt_t s_sweep_resume_opts [] = { { "no-wait", 0, WB_OPT_BOOL }, S_END };
static const wb_sub_t s_sweep_subs [] = {
    { "list", wb_magic_sweep_list, 1, 0, WB_ARGS_RUN, s_none, "%sweep list" },
    { "show", wb_magic_sweep_show, 2, 0, WB_ARGS_RUN, s_sweep_show_opts, "%sweep show SWEEP [--all]" },
    { "cancel", wb_magic_sweep_cancel, 2, 0, WB_ARGS_RUN, s_none, "%sweep cancel SWEEP" },
    { "resume", wb_magic_sweep_resume, 2, 0, WB_ARGS_RUN, s_sweep_resume_opts,
      "%sweep resume SWEEP [--no-wait]" },
    S_SUB_END
};

//  ---- The magic table ----
//
//  name:    what follows % or %% (letters, digits, _ and -)
//  handler: does the work, reports through the output sink
//  arity:   number of words including the name; -N means at least N
//  flags:   WB_MAGIC_LINE and/or WB_MAGIC_CELL say where it may stand;
//           READS/WRITES say what it does to the workspace or session;
//           RAW means it takes the rest of its line as text (no arity check)
//  args:    what its positional words are, for completion (paths, runs,
//           experiments, metric keys); after a subcommand, the subcommand's
//  opts:    the flags of its line form (or only form); NULL: no flags, the
//           handler reads its words itself
//  cell_opts: the flags of its cell form, when it has both forms
//  subs:    the subcommands of its line form
//  usage:   one line, the synopsis shown in errors and completion
//  help:    what %help NAME and inspection show

static const wb_magic_t s_magics [] = {
    { "lsmagic", wb_magic_lsmagic, 1, WB_MAGIC_LINE, WB_ARGS_PATH,
      NULL, NULL, NULL,
      "%lsmagic",
      "List every magic, line and cell." },
    { "help", wb_magic_help, -1, WB_MAGIC_LINE, WB_ARGS_PATH,
      NULL, NULL, NULL,
      "%help [MAGIC]",
      "Show the cell language and every magic, or the usage and help of one\n"
      "magic (with or without its %), in the pager." },
    { "bash", wb_magic_bash, 1, WB_MAGIC_CELL | WB_MAGIC_WRITES, WB_ARGS_PATH,
      NULL, NULL, NULL,
      "%%bash",
      "Run the cell body as a bash script in the notebook's shell session\n"
      "(the same as a cell without magics, but % lines are not magics here).\n"
      "The working directory and exported variables it leaves behind persist." },
    { "writefile", wb_magic_writefile, -2, WB_MAGIC_CELL | WB_MAGIC_WRITES, WB_ARGS_PATH,
      s_writefile_opts, NULL, NULL,
      "%%writefile [-a] PATH",
      "Write the cell body to PATH (relative to the shell session's working\n"
      "directory), replacing the file, or appending to it with -a/--append." },
    { "html", wb_magic_html, 1, WB_MAGIC_CELL, WB_ARGS_PATH,
      NULL, NULL, NULL,
      "%%html",
      "Display the cell body as HTML." },
    { "markdown", wb_magic_markdown, 1, WB_MAGIC_CELL, WB_ARGS_PATH,
      NULL, NULL, NULL,
      "%%markdown",
      "Display the cell body as Markdown." },
    { "svg", wb_magic_svg, 1, WB_MAGIC_CELL, WB_ARGS_PATH,
      NULL, NULL, NULL,
      "%%svg",
      "Display the cell body as an SVG image." },
    { "time", wb_magic_time, -1, WB_MAGIC_LINE | WB_MAGIC_CELL | WB_MAGIC_RAW, WB_ARGS_PATH,
      NULL, NULL, NULL,
      "%time COMMAND  |  %%time",
      "Run a line (%time, a shell command or a magic) or the cell body\n"
      "(%%time) and print its wall time and the CPU time of the processes it ran." },
    { "env", wb_magic_env, -1, WB_MAGIC_LINE | WB_MAGIC_WRITES, WB_ARGS_PATH,
      NULL, NULL, NULL,
      "%env [NAME[=VALUE]]",
      "Without arguments, list the session's environment. With NAME, show\n"
      "its value. With NAME=VALUE (or NAME VALUE), set it for every later\n"
      "shell line and job." },
    { "clear", wb_magic_clear, 1, WB_MAGIC_LINE, WB_ARGS_PATH,
      NULL, NULL, NULL,
      "%clear",
      "Clear the output of the current cell." },
    { "workspace", wb_magic_workspace, -1, WB_MAGIC_LINE | WB_MAGIC_READS, WB_ARGS_PATH,
      NULL, NULL, NULL,
      "%workspace [PATH]",
      "Show the workspace: its folder, counts of experiments, runs, metric\n"
      "points and artifacts, runs by status, size on disk. With PATH, open the\n"
      "workspace folder there (created if missing). Without it, the workspace is\n"
      "$WORKBENCH_WORKSPACE, else the nearest .workbench/ above the notebook's\n"
      "folder, else a new .workbench/ in it." },
    { "experiment", wb_magic_experiment, -1, WB_MAGIC_LINE | WB_MAGIC_WRITES, WB_ARGS_EXPERIMENT,
      NULL, NULL, NULL,
      "%experiment [NAME]",
      "With NAME, make it the current experiment: runs started from now on go\n"
      "into it (it is created with its first run). Without, list the\n"
      "experiments with their run counts. The default experiment is Default." },
    { "run", NULL, -2, WB_MAGIC_LINE | WB_MAGIC_WRITES, WB_ARGS_PATH,
      NULL, NULL, s_run_subs,
      "%run start|end [--name N] [--tag K=V ...] [--status S]",
      "%run start begins an interactive run in the current experiment: %log,\n"
      "%param and %tag go to it, and its card (latest metrics) updates in place\n"
      "as you log. %run end finishes it (--status completed, failed or\n"
      "canceled; default completed). %log starts a run when none is active; a\n"
      "run left open ends as completed when the kernel shuts down, and as\n"
      "failed if the kernel dies." },
    { "log", wb_magic_log, -2, WB_MAGIC_LINE | WB_MAGIC_WRITES, WB_ARGS_METRIC,
      s_log_opts, NULL, NULL,
      "%log KEY=VALUE ... [--step N] [--run RUN]",
      "Log metric values (numbers, or nan) to the active run (started if\n"
      "none), at --step N or the step after the last one of each key. Inside a\n"
      "job, `workbench log KEY=VALUE ...` logs to the job's run." },
    { "param", wb_magic_param, -2, WB_MAGIC_LINE | WB_MAGIC_WRITES, WB_ARGS_PATH,
      s_param_opts, NULL, NULL,
      "%param KEY=VALUE ... [--run RUN]",
      "Record parameters of the active run. A parameter is set once per run:\n"
      "setting it again to another value is an error." },
    { "tag", wb_magic_tag, -2, WB_MAGIC_LINE | WB_MAGIC_WRITES, WB_ARGS_PATH,
      s_param_opts, NULL, NULL,
      "%tag KEY=VALUE ... [--run RUN]",
      "Set tags on the active run (or --run RUN); a tag may change." },
    { "runs", wb_magic_runs, -1, WB_MAGIC_LINE | WB_MAGIC_READS, WB_ARGS_PATH,
      s_runs_opts, NULL, NULL,
      "%runs [--experiment E] [--filter EXPR] [--sort KEY] [--limit N] [--all]",
      "List runs, newest first (50 unless --limit N or --all), with their most\n"
      "common params and latest metrics as columns.\n"
      "--filter takes expressions as in MLflow search, joined with and, or, not\n"
      "and parentheses:\n"
      "  metrics.acc > 0.9 and params.model = 'mlp' and status = 'completed'\n"
      "  keys: metrics.KEY (latest value; .min and .max too), params.KEY,\n"
      "  tags.KEY, and status, name, id, kind, experiment, compute, parent,\n"
      "  created, started, ended (unix seconds or '2026-05-01 12:00'), duration\n"
      "  operators: = != < <= > >= LIKE ILIKE IN (...) NOT IN (...) IS [NOT] NULL\n"
      "  a key with other characters goes in backticks: metrics.`val loss`\n"
      "--sort takes keys separated by commas, each with - or DESC for\n"
      "descending: --sort '-metrics.acc, created'. Runs lacking a key sort last." },
    { "show", wb_magic_show, -2, WB_MAGIC_LINE | WB_MAGIC_READS, WB_ARGS_RUN,
      s_show_opts, NULL, NULL,
      "%show RUN|ENDPOINT [--metric M ...] [--log]",
      "Show a run: its fields, params, latest/min/max of every metric, a chart\n"
      "per metric (--metric picks some, --log for a log scale), tags,\n"
      "artifacts, lineage and the tail of its logs. RUN is an id, a unique id\n"
      "prefix (4+ digits) or a run name." },
    { "compare", wb_magic_compare, -3, WB_MAGIC_LINE | WB_MAGIC_READS, WB_ARGS_RUN,
      s_show_opts, NULL, NULL,
      "%compare RUN RUN ... [--metric M ...] [--log]",
      "Compare runs: params and latest metrics side by side (≠ marks what\n"
      "differs), and each metric they share (or each --metric) overlaid on one\n"
      "chart." },
    { "artifacts", wb_magic_artifacts, -2, WB_MAGIC_LINE | WB_MAGIC_READS, WB_ARGS_RUN,
      s_artifacts_opts, NULL, NULL,
      "%artifacts RUN [PATH] [--to FILE]",
      "List a run's artifacts (path, size, content hash); with PATH, show it\n"
      "(text, SVG) or copy it --to FILE. Artifacts are stored by content: the\n"
      "same file in many runs takes space once." },
    { "delete", wb_magic_delete, -2, WB_MAGIC_LINE | WB_MAGIC_WRITES, WB_ARGS_RUN,
      s_delete_opts, NULL, NULL,
      "%delete RUN [--yes]",
      "Delete a run with its params, metrics, tags and artifact records, and\n"
      "the artifact files no other run uses. Asks for confirmation unless\n"
      "--yes is given." },
    { "job", wb_magic_job, -1, WB_MAGIC_LINE | WB_MAGIC_CELL | WB_MAGIC_WRITES, WB_ARGS_PATH,
      NULL, s_job_cell_opts, s_job_subs,
      "%%job [--name N] [--experiment E] [--compute local] [--code DIR | --no-code] [--param K=V ...] [--env K=V ...] [--timeout SECONDS] [--no-wait]  |  %job list|show|logs|wait|cancel [RUN] [--follow] [--all]",
      "%%job runs the cell body (a bash script: python3 train.py, any program) as\n"
      "a tracked run on a compute target (local: a process pool on this\n"
      "machine, at most one job per core unless %compute says otherwise; more\n"
      "wait in order). The job runs in its own process group, in a fresh folder\n"
      "made from a snapshot of --code (default: the notebook's folder, without\n"
      "the workspace, .git and what .workbenchignore names; --no-code for an\n"
      "empty folder), with the session's environment plus --env.\n"
      "--param NAME=VALUE is recorded on the run, replaces ${{params.NAME}} in\n"
      "the body and is an environment variable NAME in the job.\n"
      "Metrics: `workbench log loss=0.3 --step 5` from the job, or the line\n"
      "protocol: print `##metric loss=0.3 step=5` (also ##param, ##tag), or\n"
      "write `metric loss=0.3 step=5` lines to the descriptor in\n"
      "$WORKBENCH_METRICS_FD; Python: `import workbench; workbench.log(loss=0.3,\n"
      "step=5)` (stdlib only, on the job's PYTHONPATH).\n"
      "Files written to $WORKBENCH_OUTPUTS become the run's artifacts\n"
      "(outputs/...), the log becomes logs/output.log.\n"
      "The cell shows one live display (status, time, metrics, log tail) until\n"
      "the job ends; interrupting the cell cancels the job (SIGTERM, SIGKILL 3 s\n"
      "later). --no-wait returns at once and the job carries on, even if the\n"
      "kernel stops. --timeout SECONDS cancels a job that runs longer. A\n"
      "non-zero exit fails the run with the tail of stderr as its error.\n"
      "%job list shows jobs; %job show RUN, %job logs RUN [--follow], %job wait\n"
      "RUN (an interrupt stops waiting, not the job), %job cancel RUN.\n"
      "From a shell or CI: `workbench job --name x < train.sh` (or --file FILE)\n"
      "submits the script and draws the job as text; `workbench job list` and the\n"
      "other subcommands are the line form." },
    { "compute", wb_magic_compute, -1, WB_MAGIC_LINE | WB_MAGIC_WRITES, WB_ARGS_PATH,
      s_compute_opts, NULL, NULL,
      "%compute [NAME] [--max-jobs N]",
      "List compute targets with their job limits and how many jobs run and\n"
      "wait on each; --max-jobs N sets a target's limit (0: one per core)." },
    { "data", NULL, -2, WB_MAGIC_LINE | WB_MAGIC_WRITES, WB_ARGS_PATH,
      NULL, NULL, s_data_subs,
      "%data register|list|show [NAME[:VERSION]] [PATH] [--description TEXT] [--rows N]",
      "%data register NAME PATH makes the CSV at PATH a version of dataset NAME:\n"
      "the same content is the same version, new content a new one. The CSV has\n"
      "a header row; quoted fields, CRLF, a UTF-8 BOM and missing values (empty,\n"
      "NA, N/A, NaN, null, None, ?) are understood; each column is inferred as\n"
      "numeric, categorical or text. A broken file is refused with the line and\n"
      "column of the problem, and nothing is registered; so is a file that is not\n"
      "UTF-8 (Latin-1: save it as UTF-8 first). PATH must be a regular file: a\n"
      "FIFO, a folder or a device is refused at once.\n"
      "%data list shows the datasets (latest version, rows, columns, versions).\n"
      "%data show NAME[:VERSION] draws the first rows (--rows N) and a profile of\n"
      "every column: type, missing, distinct, min/max/mean/std with a histogram,\n"
      "or the most common values. Runs that read a version record it (lineage)." },
    { "train", wb_magic_train, -1, WB_MAGIC_CELL | WB_MAGIC_WRITES, WB_ARGS_PATH,
      s_train_opts, NULL, NULL,
      "%%train --data NAME[:VERSION] --target COLUMN --model linear|logistic|mlp|kmeans [--name N] [--experiment E] [--validation FRACTION] [--seed N] [--param K=V ...] [--no-wait]",
      "Train a built-in model on a dataset version as a job (its own process,\n"
      "OpenBLAS underneath), drawn live: a progress bar, the loss and validation\n"
      "curves, then the metric table and, for classifiers, a confusion matrix.\n"
      "Hyperparameters go in the body, one `name = value` a line (# comments),\n"
      "or as --param name=value:\n"
      "  linear    least squares; ridge with l2 > 0\n"
      "  logistic  binary or multinomial, L2 (l2 = 1/C), max_iter, tol\n"
      "  mlp       hidden = 128,64 (ReLU layers), learning_rate (Adam), epochs,\n"
      "            batch_size, l2, patience (early stopping on validation loss),\n"
      "            task = classification|regression (auto by default)\n"
      "  kmeans    k, max_iter, tol, n_init (k-means++ starts); no --target\n"
      "  all       features = a,b,c (default: every column but the target and\n"
      "            free text), standardize, threads\n"
      "Numeric columns are standardised and categorical ones one-hot encoded;\n"
      "both are recorded in the model, and a category unseen in training is\n"
      "all zeros at prediction time. --validation holds out a stratified\n"
      "fraction (default 0.2; 0 for kmeans); the same --seed gives the same\n"
      "model, bit for bit. Metrics: loss, val_loss, val_accuracy per step;\n"
      "at the end accuracy, precision, recall, f1 (macro), roc_auc (binary),\n"
      "log_loss and a confusion matrix for classifiers, rmse, mae, r2 for\n"
      "regressors, inertia for kmeans. The model is the run's artifact\n"
      "outputs/model.json (format in lib/train/wb_model.h). Bad input (unknown\n"
      "column, one class, a non-numeric target for regression, missing or\n"
      "infinite values, a parameter out of range) is refused before anything\n"
      "runs. An interrupt stops training at the next batch: the run is\n"
      "canceled and keeps its metrics and model so far.\n"
      "From a shell: `workbench train --data D --target T --model logistic\n"
      "< hyper.txt` (or --file FILE; an empty body for the defaults)." },
    { "predict", wb_magic_predict, -2, WB_MAGIC_LINE | WB_MAGIC_READS, WB_ARGS_RUN,
      s_predict_opts, NULL, NULL,
      "%predict RUN --data NAME[:VERSION] [--output PATH]",
      "Score every row of a dataset version with the model a run trained:\n"
      "the first predictions (with their probability for classifiers), and\n"
      "metrics and a confusion matrix when the dataset has the target column.\n"
      "--output writes the rows with their predictions (and class\n"
      "probabilities) as CSV." },
    { "model", NULL, -1, WB_MAGIC_LINE | WB_MAGIC_WRITES, WB_ARGS_PATH,
      NULL, NULL, s_model_subs,
      "%model register|list|show|alias|archive|export [NAME[:VERSION|@ALIAS]] [--run RUN] [--path ARTIFACT] [--flavor F] [--scorer score.py] [--python PATH] [--tag K=V ...] [--description TEXT] [--all] [--format mlflow] [DIR]",
      "The model registry. %model register NAME --run RUN adds a version of\n"
      "NAME (1, 2, ...) from the run's model (outputs/model.json, or --path\n"
      "ARTIFACT: a file or a folder of the run's outputs), with --tag K=V and\n"
      "--description; the version keeps the run, its metrics and the dataset\n"
      "versions it read (lineage), and its own copy of the files (models/NAME/\n"
      "VERSION in the workspace). Any model can be a version; its flavor is\n"
      "found, or given with --flavor:\n"
      "  workbench  a model.json from %%train (scored by the C scorer)\n"
      "  sklearn    a pickle or joblib file of an estimator (predict, and\n"
      "             predict_proba when it has one): scikit-learn, XGBoost, ...\n"
      "  mlflow     an MLflow model folder (MLmodel: its sklearn or\n"
      "             python_function flavor; its signature gives the columns)\n"
      "  python     any model with a scoring script: --scorer score.py (kept\n"
      "             with the version) defines init(), which loads the model from\n"
      "             $WORKBENCH_MODEL_DIR (the version's folder, holding the file\n"
      "             or folder of --path under its own name: outputs/net is\n"
      "             $WORKBENCH_MODEL_DIR/net), and run(data), which gets the rows (a\n"
      "             list of dicts when the request names columns, else a list of\n"
      "             lists) and returns a list (one item a row) or a dict\n"
      "The Python flavors are loaded once at registration with the version's\n"
      "Python (--python PATH, e.g. a venv's; default: python3 on PATH, which is\n"
      "recorded): a model that does not load is refused with the loader's own\n"
      "error and traceback, and nothing is registered.\n"
      "%model list shows every name with its latest version (--all: archived\n"
      "too). %model show NAME[:VERSION|@ALIAS] draws a version (its flavor,\n"
      "Python and columns), all versions and the alias history. %model alias\n"
      "NAME:VERSION ALIAS points an alias (e.g. production) at a version; every\n"
      "move is kept, so which version was production on a given day has an\n"
      "answer. %model archive NAME:VERSION retires a version (it can no longer\n"
      "be deployed). %model export NAME:VERSION DIR writes any version as an\n"
      "MLflow model folder (built-in models with a pure-Python loader), so that\n"
      "other tools can load it." },
    { "batch", wb_magic_batch, -2, WB_MAGIC_LINE | WB_MAGIC_WRITES, WB_ARGS_RUN,
      s_batch_opts, NULL, NULL,
      "%batch MODEL[:VERSION|@ALIAS] --data NAME[:VERSION] [--mini-batch ROWS] [--parallel N] [--error-threshold N] [--output NAME] [--compute TARGET] [--name N] [--experiment E] [--no-wait]",
      "Score a dataset version with a registered model version of any flavor,\n"
      "as a job (kind batch) on a compute target: the rows are split into\n"
      "mini-batches of --mini-batch rows (default 1000) scored --parallel at\n"
      "once (default one per core; built-in models by the C scorer on as many\n"
      "threads, a user's own by as many Python workers). A mini-batch that\n"
      "fails is counted and its rows get no prediction; more failures than\n"
      "--error-threshold (default -1: any number) fail the job. Its card draws\n"
      "progress; interrupt or %job cancel stops it and its workers. The run\n"
      "keeps outputs/predictions.csv (the input rows, prediction, and a\n"
      "probability_CLASS column per class, as %predict writes it); --output\n"
      "NAME registers it as a new version of dataset NAME, whose lineage\n"
      "names the model version and the input dataset version." },
    { "deploy", wb_magic_deploy, -2, WB_MAGIC_LINE | WB_MAGIC_WRITES, WB_ARGS_PATH,
      s_deploy_opts, NULL, NULL,
      "%deploy MODEL[:VERSION|@ALIAS] --endpoint EP [--deployment NAME] [--traffic PERCENT] [--port PORT] [--auth key|none] [--workers N] [--max-batch-rows N] [--max-batch-delay-ms MS] [--request-timeout S]",
      "Serve a registered model as a REST endpoint on 127.0.0.1: a `workbench\n"
      "serve` process that outlives the kernel and is found again through the\n"
      "workspace. The first %deploy creates the endpoint (two keys, shown this\n"
      "once: the workspace keeps only their hashes; --auth none to go without)\n"
      "and its deployment (default blue) with all the traffic;\n"
      "deploying to an existing deployment updates it to the new version\n"
      "without dropping a request; a new --deployment NAME gets --traffic\n"
      "PERCENT (default 0), the others share the rest. --port picks the port\n"
      "(default: a free one, kept across restarts). On a down endpoint it\n"
      "starts the server again.\n"
      "Routes: POST /score ({\"input_data\": {\"columns\": [...], \"data\": [[...]]}},\n"
      "{\"input_data\": [[...]]}, {\"data\": [[...]]}, dataframe_split,\n"
      "dataframe_records, instances, inputs, or text/csv with a header) ->\n"
      "{\"predictions\": [...]} (?probabilities=true adds class probabilities);\n"
      "GET / (liveness), /health (readiness), /swagger.json (OpenAPI),\n"
      "/metrics (Prometheus). Send `Authorization: Bearer KEY`; the header\n"
      "X-Deployment: NAME pins a deployment. Bad bodies get 400/413/415 with a\n"
      "JSON error saying what was wrong and what the model expects." },
    { "endpoint", NULL, -1, WB_MAGIC_LINE | WB_MAGIC_WRITES, WB_ARGS_PATH,
      NULL, NULL, s_endpoint_subs,
      "%endpoint list|show|invoke|logs|keys|retention|traffic|mirror|delete [EP] [JSON|@FILE] [NAME=PERCENT ...] [--regenerate] [--key 1|2] [--json] [--rows N] [--days D] [--default] [--limit N] [--deployment NAME] [--probabilities]",
      "Endpoints and their deployments.\n"
      "  list                      every endpoint, up or down, with its URL\n"
      "  show EP                   state, deployments, request rate and latency\n"
      "                            (also %show EP)\n"
      "  invoke EP JSON|@FILE      score a body (CSV when it is not JSON) with the\n"
      "                            endpoint's key; --deployment pins one\n"
      "  logs EP [--limit N]       the last requests: time, deployment, status,\n"
      "                            latency, and a sample of inputs and outputs\n"
      "  keys EP --regenerate      new keys (--key 1|2 for one), shown this once\n"
      "                            with the scoring URL (--json: as JSON); the\n"
      "                            old ones stop working at once. Without\n"
      "                            --regenerate: the URL (keys are kept only as\n"
      "                            hashes and cannot be shown again)\n"
      "  retention EP [--rows N] [--days D] [--default]   how much of the\n"
      "                            request log is kept (default: the newest\n"
      "                            1000000 rows of the last 30 days)\n"
      "  traffic EP blue=90 green=10   the split (whole percents summing to 100)\n"
      "  mirror EP green=10        copy 10% of requests to green after answering;\n"
      "                            its answers are logged, never returned\n"
      "  delete EP                 stop the server and forget the endpoint" },
    { "sweep", wb_magic_sweep, -1, WB_MAGIC_LINE | WB_MAGIC_CELL | WB_MAGIC_WRITES, WB_ARGS_PATH,
      NULL, s_sweep_cell_opts, s_sweep_subs,
      "%%sweep --metric NAME --goal max|min [--sampler grid|random|sobol|bayesian] [--trials N] [--parallel N] [--timeout S] [--trial-timeout S] [--policy POLICY] [--seed N] [--name N] [--experiment E] [--no-wait]  |  %sweep list|show|cancel|resume [SWEEP] [--all] [--no-wait]",
      "Tune a %%train or %%job cell: the body is the search space, one\n"
      "`name = expression` a line, then the %%train or %%job line and its body\n"
      "as the trial. Each trial is a child run (kind trial) of the sweep (kind\n"
      "sweep), run as a job; ${{params.NAME}} in the trial's body is the\n"
      "sampled value; for %%train, sampled params the body does not name are\n"
      "hyperparameters, and the cores are shared (threads = cores / parallel).\n"
      "  %%sweep --metric val_accuracy --goal max --trials 20 --policy \"median()\"\n"
      "  learning_rate = loguniform(1e-4, 1e-1)\n"
      "  hidden = choice('32', '64,64')\n"
      "  %%train --data iris --target species --model mlp\n"
      "  epochs = 40\n"
      "Space: choice(a, b, ...), randint(upper) (0..upper-1), uniform(lo, hi),\n"
      "quniform(lo, hi, q), loguniform(lo, hi), qloguniform(lo, hi, q),\n"
      "normal(mu, sigma), qnormal(mu, sigma, q), lognormal(mu, sigma),\n"
      "qlognormal(mu, sigma, q), or a constant. loguniform takes the bounds\n"
      "themselves (1e-4, 1e-1), not exponents; q- forms round to a multiple of\n"
      "q. Samplers: grid (choices only, every point once; --trials defaults to\n"
      "their number), random (seeded), sobol (a scrambled Sobol sequence),\n"
      "bayesian (default: a tree-structured Parzen estimator after 10 random\n"
      "trials; running trials count as bad, so parallel ones spread out).\n"
      "A trial's value is the latest value of --metric it logged; a trial\n"
      "that ends without logging it is marked so (note column) and ranks\n"
      "nowhere. Defaults: --trials 20, --parallel the target's job limit,\n"
      "--seed 0, no policy, no timeout. --timeout ends the sweep (running\n"
      "trials canceled); --trial-timeout cancels one trial.\n"
      "Early termination (--policy), judged at step s of trial T against the\n"
      "trials that logged the metric at steps <= s, when s >= delay_evaluation\n"
      "and s %% evaluation_interval == 0 (defaults 1 and 0):\n"
      "  bandit(slack_factor=F | slack_amount=A, evaluation_interval,\n"
      "    delay_evaluation): stop T when its best so far is worse than the\n"
      "    best of all divided by (1+F) (goal max; times (1+F) for min), or\n"
      "    more than A from it\n"
      "  median(evaluation_interval, delay_evaluation): stop T when its best\n"
      "    so far is worse than the median of the other trials' running\n"
      "    averages\n"
      "  truncation(truncation_percentage=P, evaluation_interval,\n"
      "    delay_evaluation): rank by best so far; stop T when it is in the\n"
      "    worst P percent\n"
      "A stopped trial is canceled with the reason in its note (tag\n"
      "sweep.stop_reason). The cell draws a leaderboard, the best-so-far curve\n"
      "and a parallel-coordinates chart, updated in place, then the best trial\n"
      "and the line to register its model. The sweep runs in a process of its\n"
      "own: an interrupt cancels it and its trials, --no-wait returns at once,\n"
      "and it carries on if the kernel stops. %sweep list; %sweep show SWEEP\n"
      "[--all]; %sweep cancel SWEEP; %sweep resume SWEEP continues a stopped\n"
      "sweep (canceled, timed out, or its process gone) with its trials so far.\n"
      "From a shell: `workbench sweep --metric M --goal max --file sweep.txt`\n"
      "(or the body on standard input); `workbench sweep list` is the line form." },
    { NULL, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, NULL }
};

const wb_magic_t *
wb_magics_table (void)
{
    return s_magics;
}

const wb_magic_t *
wb_magics_lookup (const char *name)
{
    for (const wb_magic_t *magic = s_magics; magic->name; magic++)
        if (streq (magic->name, name))
            return magic;
    return NULL;
}

const wb_sub_t *
wb_magics_sub (const wb_magic_t *magic, const char *word)
{
    assert (magic);
    for (const wb_sub_t *sub = magic->subs; word && sub && sub->name; sub++)
        if (streq (sub->name, word))
            return sub;
    return NULL;
}

const wb_opt_t *
wb_magics_form_opts (const wb_magic_t *magic, bool cell, const char *word)
{
    assert (magic);
    if (cell && magic->cell_opts)
        return magic->cell_opts;
    const wb_sub_t *sub = cell? NULL: wb_magics_sub (magic, word);
    //  No subcommand named: the default's, as the dispatcher does
    for (const wb_sub_t *each = magic->subs; !cell && !sub && each && each->name; each++)
        if (each->flags & WB_SUB_DEFAULT)
            sub = each;
    return sub? sub->opts: magic->opts;
}

const wb_opt_t *
wb_magics_opts (const wb_call_t *call)
{
    assert (call && call->magic);
    if (call->sub)
        return call->sub->opts;
    return wb_magics_form_opts (call->magic, call->body != NULL,
                                call->argc > 1? call->argv [1]: NULL);
}

size_t
wb_magics_name_size (const char *text)
{
    size_t size = 0;
    while (isalnum ((unsigned char) text [size]) || text [size] == '_' || text [size] == '-')
        size++;
    return size;
}

//  @selftest
//  Every flag a usage line names is one of opts, extra or a subcommand's
static bool
s_takes (const wb_opt_t *opts, bool is_long, const char *word, size_t size)
{
    for (const wb_opt_t *opt = opts; opt && opt->name; opt++)
        if (is_long? strlen (opt->name) == size && !strncmp (opt->name, word, size)
                   : size == 1 && opt->letter == *word)
            return true;
    return false;
}

static void
s_usage_flags_known (const char *name, const char *usage, const wb_opt_t *opts,
                     const wb_opt_t *extra, const wb_sub_t *subs)
{
    for (const char *c = usage; *c; c++) {
        if (*c != '-' || !(c == usage || strchr (" [|", c [-1])))
            continue;
        bool is_long = c [1] == '-';
        const char *word = c + (is_long? 2: 1);
        size_t size = wb_magics_name_size (word);
        if (size == 0)
            continue;
        bool known = s_takes (opts, is_long, word, size) || s_takes (extra, is_long, word, size);
        for (const wb_sub_t *sub = subs; sub && sub->name; sub++)
            known = known || s_takes (sub->opts, is_long, word, size);
        if (!known)
            fprintf (stderr, "%%%s: %.*s in its usage is no flag it takes\n",
                     name, (int) (size + (is_long? 2: 1)), c);
        assert (known);
        c = word + size - 1;
    }
}

void
wb_magics_table_test (bool verbose)
{
    (void) verbose;
    //  Every row is well-formed: usage starts with its name, help is there
    for (const wb_magic_t *magic = s_magics; magic->name; magic++) {
        //  A magic whose only form is its line form with subcommands has
        //  no handler of its own: its subcommands have
        assert (magic->usage && magic->help);
        assert (magic->handler || (magic->subs && !(magic->flags & WB_MAGIC_CELL)));
        assert (magic->flags & (WB_MAGIC_LINE | WB_MAGIC_CELL));
        assert (wb_magics_name_size (magic->name) == strlen (magic->name));
        char *line_form = wb_sprintf ("%%%s", magic->name);
        char *cell_form = wb_sprintf ("%%%%%s", magic->name);
        assert (wb_starts_with (magic->usage, line_form) || wb_starts_with (magic->usage, cell_form));
        free (line_form);
        free (cell_form);
        assert (wb_magics_lookup (magic->name) == magic);
    }
    assert (wb_magics_lookup ("nosuch") == NULL);

    //  The usage line and the flags agree: every flag a row takes is in its
    //  usage, and every flag its usage names is one it takes
    for (const wb_magic_t *magic = s_magics; magic->name; magic++) {
        const wb_opt_t *lists [3] = { magic->opts, magic->cell_opts, NULL };
        for (int list = 0; list < 2; list++)
            for (const wb_opt_t *opt = lists [list]; opt && opt->name; opt++) {
                char *flag = wb_sprintf ("--%s", opt->name);
                char letter [3] = { '-', opt->letter, 0 };
                if (!strstr (magic->usage, flag) && !(opt->letter && strstr (magic->usage, letter)))
                    fprintf (stderr, "%%%s: %s is not in its usage\n", magic->name, flag);
                assert (strstr (magic->usage, flag) || (opt->letter && strstr (magic->usage, letter)));
                free (flag);
            }
        //  Each subcommand: its handler, its usage starting with its
        //  words, naming each flag it takes and no other; the magic's
        //  usage names it and its flags; one at most is the default
        int defaults = 0;
        for (const wb_sub_t *sub = magic->subs; sub && sub->name; sub++) {
            assert (sub->handler && sub->opts && sub->usage && sub->arity != 0);
            char *words = wb_sprintf ("%%%s %s", magic->name, sub->name);
            assert (wb_starts_with (sub->usage, words));
            assert (strstr (magic->usage, sub->name));
            free (words);
            for (const wb_opt_t *opt = sub->opts; opt->name; opt++) {
                char *flag = wb_sprintf ("--%s", opt->name);
                if (!strstr (sub->usage, flag) || !strstr (magic->usage, flag))
                    fprintf (stderr, "%%%s %s: %s is not in its usage\n", magic->name, sub->name, flag);
                assert (strstr (sub->usage, flag) && strstr (magic->usage, flag));
                free (flag);
            }
            s_usage_flags_known (magic->name, sub->usage, sub->opts, NULL, NULL);
            defaults += (sub->flags & WB_SUB_DEFAULT) != 0;
        }
        assert (defaults <= 1);
        s_usage_flags_known (magic->name, magic->usage, magic->opts, magic->cell_opts,
                             magic->subs);
        //  The command-line tool keeps --file for a cell's body
        for (int list = 0; list < 2; list++)
            for (const wb_opt_t *opt = lists [list]; opt && opt->name; opt++)
                assert (!streq (opt->name, "file"));
    }
    //  Forms and subcommands pick their flags
    const wb_magic_t *job = wb_magics_lookup ("job");
    assert (wb_magics_sub (job, "logs") && !wb_magics_sub (job, "--all"));
    assert (wb_magics_form_opts (job, true, NULL) != wb_magics_form_opts (job, false, "logs"));
    assert (wb_magics_form_opts (job, false, "logs") == wb_magics_sub (job, "logs")->opts);
    assert (wb_magics_sub (job, "logs")->handler == wb_magic_job_logs);
    assert (wb_magics_form_opts (wb_magics_lookup ("env"), false, NULL) == NULL);
    assert (wb_magics_name_size ("run-x start") == 5);
}
//  @end
