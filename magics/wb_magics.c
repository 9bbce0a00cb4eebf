/*  wb_magics - the cell language: one table of magics, a dispatcher, and
    everything that reads the table (completion, inspection, %lsmagic,
    %help, the command-line tool)

    A cell is either a cell magic (`%%name args` on its first line, the rest
    is its body) or a sequence of lines: runs of ordinary lines go to the
    shell as one script, and each `%name args` line is a line magic, in
    order; the first error stops the cell. The dispatcher hands each
    handler the session (wb_session_t) and the call, which carries the
    magic's own row of the table; a magic that needs the workspace opens
    it (wb_session_open), nothing opens it on the side.

    Threads: a wb_magics_t belongs to the thread that runs its cells (the
    kernel's executor). Completion, inspection and is_complete may be asked
    from one other thread while a cell runs: they never touch the shell
    session or the cell's workspace connection. After each cell the
    running thread publishes (wb_session_publish), under a lock, a copy of what completion
    needs (the shell's directory and the workspace folder); completion
    reads that copy and queries the workspace through a connection of its
    own, opened read-mostly on the published folder. SQLite connections are
    opened NOMUTEX, so no connection is ever used by two threads.
*/
#include <assert.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "wb_magics.h"
#include "wb_builtin.h"
#include "wb_tracking.h"
#include "wb_jobs.h"
#include "wb_data.h"
#include "wb_training.h"
#include "wb_models.h"
#include "wb_sweeps.h"
#include "cell/wb_args.h"
#include "base/wb_utf8.h"
#include "base/wb_util.h"

extern char **environ;

struct _wb_magics_t {
    wb_session_t *session;      //  shell, workspace, experiment, active run
    //  Completion's own, used only by the completing thread
    wb_store_t *lookup;         //  its workspace connection, or NULL
    char *lookup_path;          //  the folder lookup is open on
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
//           experiments, metric keys, or the subcommands in its usage)
//  usage:   one line, the synopsis shown in errors and completion
//  help:    what %help NAME and inspection show

static const wb_magic_t s_magics [] = {
    { "lsmagic", wb_magic_lsmagic, 1, WB_MAGIC_LINE, WB_ARGS_PATH,
      "%lsmagic",
      "List every magic, line and cell." },
    { "help", wb_magic_help, -1, WB_MAGIC_LINE, WB_ARGS_PATH,
      "%help [MAGIC]",
      "Show the cell language and every magic, or the usage and help of one\n"
      "magic (with or without its %), in the pager." },
    { "bash", wb_magic_bash, 1, WB_MAGIC_CELL | WB_MAGIC_WRITES, WB_ARGS_PATH,
      "%%bash",
      "Run the cell body as a bash script in the notebook's shell session\n"
      "(the same as a cell without magics, but % lines are not magics here).\n"
      "The working directory and exported variables it leaves behind persist." },
    { "writefile", wb_magic_writefile, -2, WB_MAGIC_CELL | WB_MAGIC_WRITES, WB_ARGS_PATH,
      "%%writefile [-a] PATH",
      "Write the cell body to PATH (relative to the shell session's working\n"
      "directory), replacing the file, or appending to it with -a/--append." },
    { "html", wb_magic_html, 1, WB_MAGIC_CELL, WB_ARGS_PATH,
      "%%html",
      "Display the cell body as HTML." },
    { "markdown", wb_magic_markdown, 1, WB_MAGIC_CELL, WB_ARGS_PATH,
      "%%markdown",
      "Display the cell body as Markdown." },
    { "svg", wb_magic_svg, 1, WB_MAGIC_CELL, WB_ARGS_PATH,
      "%%svg",
      "Display the cell body as an SVG image." },
    { "time", wb_magic_time, -1, WB_MAGIC_LINE | WB_MAGIC_CELL | WB_MAGIC_RAW, WB_ARGS_PATH,
      "%time COMMAND  |  %%time",
      "Run a line (%time, a shell command or a magic) or the cell body\n"
      "(%%time) and print its wall time and the CPU time of the processes it ran." },
    { "env", wb_magic_env, -1, WB_MAGIC_LINE | WB_MAGIC_WRITES, WB_ARGS_PATH,
      "%env [NAME[=VALUE]]",
      "Without arguments, list the session's environment. With NAME, show\n"
      "its value. With NAME=VALUE (or NAME VALUE), set it for every later\n"
      "shell line and job." },
    { "clear", wb_magic_clear, 1, WB_MAGIC_LINE, WB_ARGS_PATH,
      "%clear",
      "Clear the output of the current cell." },
    { "workspace", wb_magic_workspace, -1, WB_MAGIC_LINE | WB_MAGIC_READS, WB_ARGS_PATH,
      "%workspace [PATH]",
      "Show the workspace: its folder, counts of experiments, runs, metric\n"
      "points and artifacts, runs by status, size on disk. With PATH, open the\n"
      "workspace folder there (created if missing). Without it, the workspace is\n"
      "$WORKBENCH_WORKSPACE, else the nearest .workbench/ above the notebook's\n"
      "folder, else a new .workbench/ in it." },
    { "experiment", wb_magic_experiment, -1, WB_MAGIC_LINE | WB_MAGIC_WRITES, WB_ARGS_EXPERIMENT,
      "%experiment [NAME]",
      "With NAME, make it the current experiment: runs started from now on go\n"
      "into it (it is created with its first run). Without, list the\n"
      "experiments with their run counts. The default experiment is Default." },
    { "run", wb_magic_run, -2, WB_MAGIC_LINE | WB_MAGIC_WRITES, WB_ARGS_WORDS,
      "%run start|end [--name N] [--tag K=V ...] [--status S]",
      "%run start begins an interactive run in the current experiment: %log,\n"
      "%param and %tag go to it, and its card (latest metrics) updates in place\n"
      "as you log. %run end finishes it (--status completed, failed or\n"
      "canceled; default completed). %log starts a run when none is active; a\n"
      "run left open ends as completed when the kernel shuts down, and as\n"
      "failed if the kernel dies." },
    { "log", wb_magic_log, -2, WB_MAGIC_LINE | WB_MAGIC_WRITES, WB_ARGS_METRIC,
      "%log KEY=VALUE ... [--step N] [--run RUN]",
      "Log metric values (numbers, or nan) to the active run (started if\n"
      "none), at --step N or the step after the last one of each key. Inside a\n"
      "job, `workbench log KEY=VALUE ...` logs to the job's run." },
    { "param", wb_magic_param, -2, WB_MAGIC_LINE | WB_MAGIC_WRITES, WB_ARGS_PATH,
      "%param KEY=VALUE ... [--run RUN]",
      "Record parameters of the active run. A parameter is set once per run:\n"
      "setting it again to another value is an error." },
    { "tag", wb_magic_tag, -2, WB_MAGIC_LINE | WB_MAGIC_WRITES, WB_ARGS_PATH,
      "%tag KEY=VALUE ... [--run RUN]",
      "Set tags on the active run (or --run RUN); a tag may change." },
    { "runs", wb_magic_runs, -1, WB_MAGIC_LINE | WB_MAGIC_READS, WB_ARGS_PATH,
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
      "%show RUN|ENDPOINT [--metric M ...] [--log]",
      "Show a run: its fields, params, latest/min/max of every metric, a chart\n"
      "per metric (--metric picks some, --log for a log scale), tags,\n"
      "artifacts, lineage and the tail of its logs. RUN is an id, a unique id\n"
      "prefix (4+ digits) or a run name." },
    { "compare", wb_magic_compare, -3, WB_MAGIC_LINE | WB_MAGIC_READS, WB_ARGS_RUN,
      "%compare RUN RUN ... [--metric M ...] [--log]",
      "Compare runs: params and latest metrics side by side (≠ marks what\n"
      "differs), and each metric they share (or each --metric) overlaid on one\n"
      "chart." },
    { "artifacts", wb_magic_artifacts, -2, WB_MAGIC_LINE | WB_MAGIC_READS, WB_ARGS_RUN,
      "%artifacts RUN [PATH] [--to FILE]",
      "List a run's artifacts (path, size, content hash); with PATH, show it\n"
      "(text, SVG) or copy it --to FILE. Artifacts are stored by content: the\n"
      "same file in many runs takes space once." },
    { "delete", wb_magic_delete, -2, WB_MAGIC_LINE | WB_MAGIC_WRITES, WB_ARGS_RUN,
      "%delete RUN [--yes]",
      "Delete a run with its params, metrics, tags and artifact records, and\n"
      "the artifact files no other run uses. Asks for confirmation unless\n"
      "--yes is given." },
    { "job", wb_magic_job, -1, WB_MAGIC_LINE | WB_MAGIC_CELL | WB_MAGIC_WRITES, WB_ARGS_WORDS,
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
      "RUN (an interrupt stops waiting, not the job), %job cancel RUN." },
    { "compute", wb_magic_compute, -1, WB_MAGIC_LINE | WB_MAGIC_WRITES, WB_ARGS_PATH,
      "%compute [NAME] [--max-jobs N]",
      "List compute targets with their job limits and how many jobs run and\n"
      "wait on each; --max-jobs N sets a target's limit (0: one per core)." },
    { "data", wb_magic_data, -2, WB_MAGIC_LINE | WB_MAGIC_WRITES, WB_ARGS_WORDS,
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
      "canceled and keeps its metrics and model so far." },
    { "predict", wb_magic_predict, -2, WB_MAGIC_LINE | WB_MAGIC_READS, WB_ARGS_RUN,
      "%predict RUN --data NAME[:VERSION] [--output PATH]",
      "Score every row of a dataset version with the model a run trained:\n"
      "the first predictions (with their probability for classifiers), and\n"
      "metrics and a confusion matrix when the dataset has the target column.\n"
      "--output writes the rows with their predictions (and class\n"
      "probabilities) as CSV." },
    { "model", wb_magic_model, -1, WB_MAGIC_LINE | WB_MAGIC_WRITES, WB_ARGS_WORDS,
      "%model register|list|show|alias|archive [NAME[:VERSION|@ALIAS]] [--run RUN] [--path ARTIFACT] [--tag K=V ...] [--description TEXT] [--all]",
      "The model registry. %model register NAME --run RUN adds a version of\n"
      "NAME (1, 2, ...) from the run's model (outputs/model.json, or --path\n"
      "ARTIFACT), with --tag K=V and --description; the version keeps the run,\n"
      "its metrics and the dataset versions it read (lineage).\n"
      "%model list shows every name with its latest version (--all: archived\n"
      "too). %model show NAME[:VERSION|@ALIAS] draws a version, all versions\n"
      "and the alias history. %model alias NAME:VERSION ALIAS points an alias\n"
      "(e.g. production) at a version; every move is kept, so which version\n"
      "was production on a given day has an answer. %model archive\n"
      "NAME:VERSION retires a version (it can no longer be deployed)." },
    { "deploy", wb_magic_deploy, -2, WB_MAGIC_LINE | WB_MAGIC_WRITES, WB_ARGS_PATH,
      "%deploy MODEL[:VERSION|@ALIAS] --endpoint EP [--deployment NAME] [--traffic PERCENT] [--port PORT] [--auth key|none]",
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
    { "endpoint", wb_magic_endpoint, -1, WB_MAGIC_LINE | WB_MAGIC_WRITES, WB_ARGS_WORDS,
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
    { "sweep", wb_magic_sweep, -1, WB_MAGIC_LINE | WB_MAGIC_CELL | WB_MAGIC_WRITES, WB_ARGS_WORDS,
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
      "sweep (canceled, timed out, or its process gone) with its trials so far." },
    { NULL, NULL, 0, 0, 0, NULL, NULL }
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

//  ---- Life cycle ----

wb_magics_t *
wb_magics_new (void)
{
    wb_magics_t *self = wb_calloc (1, sizeof (wb_magics_t));
    self->session = wb_session_new ();
    return self;
}

void
wb_magics_destroy (wb_magics_t **self_p)
{
    assert (self_p);
    wb_magics_t *self = *self_p;
    if (self) {
        wb_session_destroy (&self->session);
        wb_store_destroy (&self->lookup);
        free (self->lookup_path);
        free (self);
        *self_p = NULL;
    }
}

wb_session_t *
wb_magics_session (wb_magics_t *self)
{
    assert (self);
    return self->session;
}

int
wb_magics_usage (wb_call_t *call, wb_out_t *out, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *what = wb_vsprintf (format, args);
    va_end (args);
    wb_out_error (out, "UsageError", "%s\nusage: %s", what, call->magic->usage);
    free (what);
    return -1;
}

//  ---- Dispatch ----

static bool
s_is_name_char (char c)
{
    return isalnum ((unsigned char) c) || c == '_' || c == '-';
}

//  Dispatch one magic given its header text (after the % or %%).
static int
s_dispatch (wb_magics_t *self, const char *header, const char *body, wb_out_t *out)
{
    bool cell = body != NULL;
    const char *prefix = cell? "%%": "%";
    size_t name_size = 0;
    while (s_is_name_char (header [name_size]))
        name_size++;
    char *name = wb_strndup (header, name_size);
    const char *line = header + name_size;
    while (*line == ' ' || *line == '\t')
        line++;

    const wb_magic_t *magic = wb_magics_lookup (name);
    if (!magic) {
        wb_out_error (out, "UsageError", "unknown magic '%s%s' — try %%lsmagic",
                      prefix, name);
        free (name);
        return -1;
    }
    if (cell && !(magic->flags & WB_MAGIC_CELL)) {
        wb_out_error (out, "UsageError",
            "%%%%%s is a line magic: write it as %%%s on a line of its own\nusage: %s",
            name, name, magic->usage);
        free (name);
        return -1;
    }
    if (!cell && !(magic->flags & WB_MAGIC_LINE)) {
        wb_out_error (out, "UsageError",
            "%%%s is a cell magic: put %%%%%s on the first line of a cell, "
            "with its content below\nusage: %s", name, name, magic->usage);
        free (name);
        return -1;
    }
    wb_error_t err;
    int argc = 0;
    char **words = NULL;
    if (magic->flags & WB_MAGIC_RAW)
        words = wb_words_split ("", &argc, &err);
    else {
        words = wb_words_split (line, &argc, &err);
        if (!words) {
            wb_out_error (out, "UsageError", "%s\nusage: %s", err.text, magic->usage);
            free (name);
            return -1;
        }
    }
    //  argv = name + words
    char **argv = wb_calloc ((size_t) argc + 2, sizeof (char *));
    argv [0] = name;
    for (int i = 0; i < argc; i++)
        argv [i + 1] = words [i];
    wb_call_t call = { self, magic, argc + 1, argv, line, body };

    int rc;
    bool arity_ok = (magic->flags & WB_MAGIC_RAW)
        || (magic->arity >= 0? call.argc == magic->arity: call.argc >= -magic->arity);
    if (!arity_ok)
        rc = wb_magics_usage (&call, out, "%s%s takes %s %d argument%s, got %d",
            prefix, name, magic->arity >= 0? "exactly": "at least",
            abs (magic->arity) - 1, abs (magic->arity) == 2? "": "s", call.argc - 1);
    else
        rc = magic->handler (self->session, &call, out);

    free (argv);
    wb_words_free (&words);
    free (name);
    return rc;
}

static bool
s_blank (const char *text, size_t size)
{
    for (size_t i = 0; i < size; i++)
        if (!isspace ((unsigned char) text [i]))
            return false;
    return true;
}

static int
s_execute (wb_magics_t *self, const char *code, wb_out_t *out)
{
    //  Leading blank lines do not count: %% may follow them
    const char *start = code;
    while (true) {
        const char *eol = strchr (start, '\n');
        if (eol && s_blank (start, (size_t) (eol - start)))
            start = eol + 1;
        else
            break;
    }
    const char *first = start;
    while (*first == ' ' || *first == '\t')
        first++;
    if (wb_starts_with (first, "%%")) {
        const char *eol = strchr (first, '\n');
        char *header = wb_strndup (first + 2, eol? (size_t) (eol - first - 2): strlen (first + 2));
        int rc = s_dispatch (self, header, eol? eol + 1: "", out);
        free (header);
        wb_out_flush (out);     //  an unfinished character ends with the cell
        return rc;
    }
    //  A sequence of shell runs and line magics
    wb_buf_t *script = wb_buf_new ();
    const char *cursor = start;
    int rc = 0;
    while (*cursor && rc == 0) {
        const char *eol = strchr (cursor, '\n');
        size_t size = eol? (size_t) (eol - cursor): strlen (cursor);
        const char *text = cursor;
        while (text < cursor + size && (*text == ' ' || *text == '\t'))
            text++;
        if (*text == '%' && text [1] != '%') {
            if (!s_blank (wb_buf_data (script), wb_buf_size (script)))
                rc = wb_builtin_shell (self->session, wb_buf_data (script), out);
            wb_buf_reset (script);
            if (rc == 0) {
                char *header = wb_strndup (text + 1, size - (size_t) (text + 1 - cursor));
                rc = s_dispatch (self, header, NULL, out);
                free (header);
            }
        }
        else {
            wb_buf_append (script, cursor, size);
            wb_buf_puts (script, "\n");
        }
        cursor = eol? eol + 1: cursor + size;
    }
    if (rc == 0 && !s_blank (wb_buf_data (script), wb_buf_size (script)))
        rc = wb_builtin_shell (self->session, wb_buf_data (script), out);
    wb_buf_destroy (&script);
    wb_out_flush (out);
    return rc;
}

int
wb_magics_execute (wb_magics_t *self, const char *code, wb_out_t *out)
{
    assert (self && code && out);
    int rc = s_execute (self, code, out);
    wb_session_publish (self->session);
    return rc;
}

int
wb_magics_call (wb_magics_t *self, int argc, char **argv, const char *body, wb_out_t *out)
{
    assert (argc >= 1);
    //  Quote the words back into a line, so the one dispatcher parses them
    wb_buf_t *header = wb_buf_new ();
    wb_buf_puts (header, argv [0]);
    for (int i = 1; i < argc; i++) {
        wb_buf_puts (header, " '");
        for (const char *c = argv [i]; *c; c++)
            if (*c == '\'')
                wb_buf_puts (header, "'\\''");
            else
                wb_buf_append (header, c, 1);
        wb_buf_puts (header, "'");
    }
    const wb_magic_t *magic = wb_magics_lookup (argv [0]);
    if (magic && (magic->flags & WB_MAGIC_RAW)) {
        //  Raw magics take the words as one line of text
        wb_buf_reset (header);
        wb_buf_puts (header, argv [0]);
        for (int i = 1; i < argc; i++) {
            wb_buf_puts (header, " ");
            wb_buf_puts (header, argv [i]);
        }
    }
    int rc = s_dispatch (self, wb_buf_data (header), body, out);
    wb_buf_destroy (&header);
    wb_session_publish (self->session);
    return rc;
}

//  ---- Completion ----

static void
s_complete_magics (const char *prefix, bool cells, bool lines, json_t *matches)
{
    //  prefix includes its % or %%. A cell magic is offered for a single %
    //  too (%tra -> %%train), as IPython does: users type one % first.
    //  The line form comes first (%time, then %%time).
    bool single = prefix [0] == '%' && prefix [1] != '%';
    for (const wb_magic_t *magic = s_magics; magic->name; magic++) {
        if (lines && (magic->flags & WB_MAGIC_LINE)) {
            char *candidate = wb_sprintf ("%%%s", magic->name);
            if (wb_starts_with (candidate, prefix))
                json_array_append_new (matches, json_string (candidate));
            free (candidate);
        }
        if (cells && (magic->flags & WB_MAGIC_CELL)) {
            char *candidate = wb_sprintf ("%%%%%s", magic->name);
            if (wb_starts_with (candidate, prefix)
            ||  (single && wb_starts_with (candidate + 1, prefix)))
                json_array_append_new (matches, json_string (candidate));
            free (candidate);
        }
    }
}

//  Flags named in a usage line: --word and -x
static void
s_complete_flags (const wb_magic_t *magic, const char *prefix, json_t *matches)
{
    const char *usage = magic->usage;
    for (const char *c = usage; *c; c++) {
        if (*c == '-' && (c == usage || c [-1] == ' ' || c [-1] == '[' || c [-1] == '|')) {
            size_t size = 1;
            while (c [size] == '-' || s_is_name_char (c [size]))
                size++;
            if (size > 1) {
                char *flag = wb_strndup (c, size);
                bool seen = false;
                size_t index;
                json_t *value;
                json_array_foreach (matches, index, value)
                    if (streq (json_string_value (value), flag))
                        seen = true;
                if (!seen && wb_starts_with (flag, prefix))
                    json_array_append_new (matches, json_string (flag));
                free (flag);
            }
            c += size - 1;
        }
    }
}

static int
s_compare_strings (const void *a, const void *b)
{
    return strcmp (*(const char * const *) a, *(const char * const *) b);
}

//  path made absolute against cwd; caller owns the return value
static char *
s_path_in (const char *cwd, const char *path)
{
    if (*path == '/')
        return wb_strdup (path);
    if (*path == 0)
        return wb_strdup (cwd);
    return wb_sprintf ("%s%s%s", cwd, streq (cwd, "/")? "": "/", path);
}

static void
s_complete_paths (const char *cwd, const char *token, json_t *matches)
{
    //  Split the token into a directory part and a name prefix
    const char *slash = strrchr (token, '/');
    char *dir_part = slash? wb_strndup (token, (size_t) (slash - token + 1)): wb_strdup ("");
    const char *name_prefix = slash? slash + 1: token;
    char *dir_path;
    if (*dir_part == '~' && (dir_part [1] == '/' || dir_part [1] == 0) && getenv ("HOME"))
        dir_path = wb_sprintf ("%s%s", getenv ("HOME"), dir_part + 1);
    else
        dir_path = s_path_in (cwd, *dir_part? dir_part: ".");
    DIR *dir = opendir (dir_path);
    if (dir) {
        char **names = NULL;
        size_t count = 0;
        struct dirent *entry;
        while ((entry = readdir (dir))) {
            if (streq (entry->d_name, ".") || streq (entry->d_name, ".."))
                continue;
            if (entry->d_name [0] == '.' && name_prefix [0] != '.')
                continue;
            if (!wb_starts_with (entry->d_name, name_prefix))
                continue;
            char *full = wb_sprintf ("%s/%s", dir_path, entry->d_name);
            struct stat info;
            bool is_dir = stat (full, &info) == 0 && S_ISDIR (info.st_mode);
            free (full);
            names = wb_realloc (names, (count + 1) * sizeof (char *));
            names [count++] = wb_sprintf ("%s%s%s", dir_part, entry->d_name, is_dir? "/": "");
        }
        closedir (dir);
        if (count)              //  names is NULL when nothing matched
            qsort (names, count, sizeof (char *), s_compare_strings);
        for (size_t i = 0; i < count; i++) {
            //  A file name is any bytes: shown valid (U+FFFD for the rest)
            json_array_append_new (matches, wb_utf8_json (names [i], strlen (names [i])));
            free (names [i]);
        }
        free (names);
    }
    free (dir_path);
    free (dir_part);
}

static void
s_add_match (json_t *matches, const char *candidate, const char *prefix)
{
    if (!candidate || !wb_starts_with (candidate, prefix))
        return;
    size_t index;
    json_t *value;
    json_array_foreach (matches, index, value)
        if (streq (json_string_value (value), candidate))
            return;
    json_array_append_new (matches, wb_utf8_json (candidate, strlen (candidate)));
}

//  Completion's workspace connection for folder (the published one, else
//  where the session would find one), opened without creating anything.
//  Only the completing thread calls this. NULL when there is none.
static wb_store_t *
s_lookup_store (wb_magics_t *self, const char *folder)
{
    char *path = folder? wb_strdup (folder): wb_store_locate (wb_session_home (self->session));
    if (self->lookup && !streq (self->lookup_path, path)) {
        wb_store_destroy (&self->lookup);
        free (self->lookup_path);
        self->lookup_path = NULL;
    }
    if (!self->lookup) {
        self->lookup = wb_store_open (path, false, NULL);
        if (self->lookup) {
            self->lookup_path = path;
            path = NULL;
        }
    }
    free (path);
    return self->lookup;
}

//  Workspace names for a magic's arguments: runs, experiments, metric keys,
//  subcommand words. line is the magic's line up to the token (at offset
//  token_at). Returns true when it knew what to offer (even if nothing).
static bool
s_complete_args (wb_magics_t *self, const char *folder, const wb_magic_t *magic,
                 const char *line, size_t token_at, const char *token, json_t *matches)
{
    //  The word before the token, and how many positional words precede it
    char *head = wb_strndup (line, token_at);
    int count = 0;
    char **words = wb_words_split (head, &count, NULL);
    free (head);
    const char *previous = words && count > 1? words [count - 1]: "";
    int positionals = 0;
    for (int i = 1; words && i < count; i++)
        if (words [i][0] != '-' && (i == 1 || words [i - 1][0] != '-' || strchr (words [i - 1], '=')))
            positionals++;
    wb_args_kind_t kind = magic->args;
    if (streq (previous, "--experiment") || streq (previous, "-e"))
        kind = WB_ARGS_EXPERIMENT;
    else
    if (streq (previous, "--metric") || streq (previous, "--sort"))
        kind = WB_ARGS_METRIC;
    else
    if (streq (previous, "--filter") || wb_starts_with (token, "metrics."))
        kind = WB_ARGS_METRIC;
    else
    if (kind == WB_ARGS_WORDS && positionals > 0)
        kind = WB_ARGS_RUN;     //  after a subcommand come runs

    wb_store_t *store = kind == WB_ARGS_PATH || kind == WB_ARGS_WORDS
                      ? NULL: s_lookup_store (self, folder);
    if (kind == WB_ARGS_WORDS) {
        //  "%run start|end ...": the words after the line form of the name
        char *form = wb_sprintf ("%%%s ", magic->name);
        const char *usage = magic->usage;
        while ((usage = strstr (usage, form)) && usage > magic->usage && usage [-1] == '%')
            usage += strlen (form);
        if (usage)
            usage += strlen (form) - 1;
        free (form);
        if (usage) {
            size_t size = strcspn (usage + 1, " [");
            char *choices = wb_strndup (usage + 1, size);
            for (char *word = strtok (choices, "|"); word; word = strtok (NULL, "|"))
                s_add_match (matches, word, token);
            free (choices);
        }
    }
    else
    if (kind == WB_ARGS_RUN && store) {
        json_t *runs = wb_store_run_ids (store);
        size_t index;
        json_t *pair;
        json_array_foreach (runs, index, pair) {
            s_add_match (matches, json_string_value (json_array_get (pair, 0)), token);
            s_add_match (matches, json_string_value (json_array_get (pair, 1)), token);
        }
        json_decref (runs);
    }
    else
    if (kind == WB_ARGS_EXPERIMENT && store) {
        json_t *list = wb_store_experiments (store, NULL);
        size_t index;
        json_t *experiment;
        json_array_foreach (list, index, experiment)
            s_add_match (matches, json_string_value (json_object_get (experiment, "name")), token);
        json_decref (list);
    }
    else
    if (kind == WB_ARGS_METRIC && store) {
        json_t *keys = wb_store_metric_keys (store, NULL);
        bool prefixed = wb_starts_with (token, "metrics.") || wb_starts_with (token, "-metrics.")
                     || streq (previous, "--filter") || streq (previous, "--sort");
        size_t index;
        json_t *key;
        json_array_foreach (keys, index, key) {
            char *candidate = prefixed
                ? wb_sprintf ("%smetrics.%s", token [0] == '-'? "-": "", json_string_value (key))
                : magic->args == WB_ARGS_METRIC && !streq (previous, "--metric")
                ? wb_sprintf ("%s=", json_string_value (key))
                : wb_strdup (json_string_value (key));
            s_add_match (matches, candidate, token);
            free (candidate);
        }
        json_decref (keys);
    }
    wb_words_free (&words);
    return kind != WB_ARGS_PATH;
}

json_t *
wb_magics_complete (wb_magics_t *self, const char *code, size_t cursor,
                    size_t *start, size_t *end)
{
    assert (self && code);
    size_t size = strlen (code);
    if (cursor > size)
        cursor = size;
    //  The line holding the cursor, and the token ending at the cursor
    size_t line_start = cursor;
    while (line_start > 0 && code [line_start - 1] != '\n')
        line_start--;
    size_t token_start = cursor;
    while (token_start > line_start
        && !isspace ((unsigned char) code [token_start - 1])
        && !strchr ("\"'=<>|;&(", code [token_start - 1]))
        token_start--;
    char *token = wb_strndup (code + token_start, cursor - token_start);
    //  The session as the last cell left it (a cell may be running)
    char *cwd, *folder;
    wb_session_seen (self->session, &cwd, &folder);
    *start = token_start;
    *end = cursor;
    json_t *matches = json_array ();

    size_t indent = line_start;
    while (indent < token_start && (code [indent] == ' ' || code [indent] == '\t'))
        indent++;
    bool first_line = true;
    for (size_t i = 0; i < line_start; i++)
        if (!isspace ((unsigned char) code [i]))
            first_line = false;

    if (token [0] == '%' && indent == token_start) {
        //  A magic name at the start of a line
        bool cells = first_line;
        bool lines = !wb_starts_with (token, "%%");
        s_complete_magics (token, cells, lines, matches);
    }
    else {
        //  Inside a magic's line: its flags
        const char *line = code + indent;
        const wb_magic_t *magic = NULL;
        if (*line == '%') {
            const char *name = line + (line [1] == '%'? 2: 1);
            size_t name_size = 0;
            while (s_is_name_char (name [name_size]))
                name_size++;
            char *magic_name = wb_strndup (name, name_size);
            magic = wb_magics_lookup (magic_name);
            free (magic_name);
        }
        if (magic && token [0] == '-')
            s_complete_flags (magic, token, matches);
        else
        if (!magic || !s_complete_args (self, folder, magic, code + indent,
                                        token_start - indent, token, matches))
            s_complete_paths (cwd, token, matches);
    }
    free (token);
    free (cwd);
    free (folder);
    return matches;
}

//  ---- Inspection ----

char *
wb_magics_inspect (wb_magics_t *self, const char *code, size_t cursor)
{
    assert (self && code);
    size_t size = strlen (code);
    if (cursor > size)
        cursor = size;
    //  The magic of the line under the cursor, wherever on the line it is
    size_t line_start = cursor;
    while (line_start > 0 && code [line_start - 1] != '\n')
        line_start--;
    const char *line = code + line_start;
    while (*line == ' ' || *line == '\t')
        line++;
    if (*line != '%')
        return NULL;
    line += line [1] == '%'? 2: 1;
    size_t name_size = 0;
    while (s_is_name_char (line [name_size]))
        name_size++;
    char *name = wb_strndup (line, name_size);
    const wb_magic_t *magic = wb_magics_lookup (name);
    free (name);
    if (!magic)
        return NULL;
    return wb_sprintf ("%s\n\n%s\n", magic->usage, magic->help);
}

//  ---- Is the cell complete? ----

//  Ask bash whether script parses: 0 = yes, 1 = it ends too early, 2 = no.
//  The script goes to `bash -n` on its stdin, not in argv (a cell may be
//  over the 128 KiB one argument may hold), written as bash reads it while
//  its messages are read (neither side waits on the other).
static int
s_bash_syntax (const char *script)
{
    int in_fds [2], err_fds [2];
    if (pipe2 (in_fds, O_CLOEXEC))
        return 0;
    if (pipe2 (err_fds, O_CLOEXEC)) {
        close (in_fds [0]);
        close (in_fds [1]);
        return 0;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init (&actions);
    posix_spawn_file_actions_adddup2 (&actions, in_fds [0], 0);
    posix_spawn_file_actions_addopen (&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2 (&actions, err_fds [1], 2);
    char *argv [] = { "bash", "-n", NULL };
    pid_t pid;
    int rc = posix_spawnp (&pid, "bash", &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy (&actions);
    close (in_fds [0]);
    close (err_fds [1]);
    wb_buf_t *errors = wb_buf_new ();
    if (rc == 0) {
        //  A bash that stops reading early must not kill us with SIGPIPE
        sigset_t pipe_set, saved;
        sigemptyset (&pipe_set);
        sigaddset (&pipe_set, SIGPIPE);
        pthread_sigmask (SIG_BLOCK, &pipe_set, &saved);
        fcntl (in_fds [1], F_SETFL, fcntl (in_fds [1], F_GETFL) | O_NONBLOCK);
        size_t size = strlen (script), done = 0;
        int in_fd = in_fds [1];
        bool reading = true;
        while (reading) {
            struct pollfd items [2] = {
                { err_fds [0], POLLIN, 0 }, { in_fd, POLLOUT, 0 }
            };
            if (poll (items, in_fd >= 0? 2: 1, -1) < 0) {
                if (errno == EINTR)
                    continue;
                break;
            }
            if (in_fd >= 0 && items [1].revents) {
                ssize_t put = write (in_fd, script + done, size - done);
                if (put > 0)
                    done += (size_t) put;
                if ((put < 0 && errno != EAGAIN && errno != EINTR) || done == size) {
                    close (in_fd);
                    in_fd = -1;
                }
            }
            if (items [0].revents) {
                char chunk [1024];
                ssize_t got = read (err_fds [0], chunk, sizeof (chunk));
                if (got > 0)
                    wb_buf_append (errors, chunk, (size_t) got);
                else
                if (got == 0 || errno != EINTR)
                    reading = false;
            }
        }
        if (in_fd >= 0)
            close (in_fd);
        sigset_t pending;
        if (sigpending (&pending) == 0 && sigismember (&pending, SIGPIPE)) {
            struct timespec now = { 0, 0 };
            sigtimedwait (&pipe_set, NULL, &now);
        }
        pthread_sigmask (SIG_SETMASK, &saved, NULL);
        int status;
        while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
            ;
        rc = WIFEXITED (status) && WEXITSTATUS (status) == 0? 0: 2;
        if (rc && (strstr (wb_buf_data (errors), "unexpected end of file")
               ||  strstr (wb_buf_data (errors), "unexpected EOF")))
            rc = 1;
    }
    else {
        close (in_fds [1]);
        rc = 0;                 //  no bash to ask: let the run say
    }
    close (err_fds [0]);
    wb_buf_destroy (&errors);
    return rc;
}

const char *
wb_magics_is_complete (wb_magics_t *self, const char *code)
{
    assert (self && code);
    const char *first = code;
    while (isspace ((unsigned char) *first))
        first++;
    if (!*first)
        return "complete";
    if (wb_starts_with (first, "%%")) {
        //  As in IPython: a cell magic goes on until an empty last line
        const char *eol = strchr (first, '\n');
        if (!eol || !eol [1])
            return "incomplete";
        size_t size = strlen (code);
        return code [size - 1] == '\n'? "complete": "incomplete";
    }
    wb_buf_t *script = wb_buf_new ();
    const char *status = "complete";
    const char *cursor = code;
    while (*cursor) {
        const char *eol = strchr (cursor, '\n');
        size_t size = eol? (size_t) (eol - cursor): strlen (cursor);
        const char *text = cursor;
        while (text < cursor + size && (*text == ' ' || *text == '\t'))
            text++;
        if (*text == '%') {
            char *line = wb_strndup (text, size - (size_t) (text - cursor));
            if (wb_words_unclosed (line))
                status = "incomplete";
            free (line);
        }
        else {
            wb_buf_append (script, cursor, size);
            wb_buf_puts (script, "\n");
        }
        cursor = eol? eol + 1: cursor + size;
    }
    if (streq (status, "complete") && !s_blank (wb_buf_data (script), wb_buf_size (script))) {
        //  A line ending in a backslash continues
        const char *data = wb_buf_data (script);
        size_t size = wb_buf_size (script);
        while (size > 0 && (data [size - 1] == '\n' || data [size - 1] == ' '))
            size--;
        if (size > 0 && data [size - 1] == '\\')
            status = "incomplete";
        else {
            int syntax = s_bash_syntax (data);
            status = syntax == 0? "complete": syntax == 1? "incomplete": "invalid";
        }
    }
    wb_buf_destroy (&script);
    return status;
}

//  @selftest

//  A thread that completes until told to stop
typedef struct {
    wb_magics_t *magics;        //  lent
    _Atomic bool stop;          //  set by the test when done
    int asked;                  //  completions made
    int rooted;                 //  ... that listed the root's folders
} s_completer_t;

static void *
s_test_completer (void *arg)
{
    s_completer_t *self = arg;
    while (!atomic_load (&self->stop)) {
        size_t start, end;
        json_t *matches = wb_magics_complete (self->magics, "ls ./e", 6, &start, &end);
        size_t index;
        json_t *match;
        json_array_foreach (matches, index, match)
            if (streq (json_string_value (match), "./etc/"))
                self->rooted++;
        json_decref (matches);
        matches = wb_magics_complete (self->magics, "%experiment ", 12, &start, &end);
        json_decref (matches);
        self->asked++;
    }
    return NULL;
}

void
wb_magics_test (bool verbose)
{
    wb_session_test (verbose);
    //  Every row is well-formed: usage starts with its name, help is there
    for (const wb_magic_t *magic = s_magics; magic->name; magic++) {
        assert (magic->handler && magic->usage && magic->help);
        assert (magic->flags & (WB_MAGIC_LINE | WB_MAGIC_CELL));
        char *line_form = wb_sprintf ("%%%s", magic->name);
        char *cell_form = wb_sprintf ("%%%%%s", magic->name);
        assert (wb_starts_with (magic->usage, line_form) || wb_starts_with (magic->usage, cell_form));
        free (line_form);
        free (cell_form);
    }
    char scratch [] = "/tmp/wb-magics-XXXXXX";
    assert (mkdtemp (scratch));
    wb_magics_t *magics = wb_magics_new ();
    wb_shell_chdir (wb_session_shell (wb_magics_session (magics)), scratch, NULL);
    wb_out_t *out = wb_out_new_test (NULL);

    //  Shell lines and line magics interleave, in order
    assert (wb_magics_execute (magics, "echo one\n%env WB_X=7\necho $WB_X", out) == 0);
    char *text = wb_out_text (out, "stdout");
    assert (streq (text, "one\nenv: WB_X=7\n7\n"));
    free (text);

    //  Unknown magic, wrong form, arity
    assert (wb_magics_execute (magics, "%nosuch", out) == -1);
    assert (streq (wb_out_ename (out), "UsageError"));
    assert (strstr (wb_out_evalue (out), "unknown magic '%nosuch'"));
    assert (strstr (wb_out_evalue (out), "%lsmagic"));
    wb_out_reset (out);
    assert (wb_magics_execute (magics, "%writefile x", out) == -1);
    assert (strstr (wb_out_evalue (out), "cell magic"));
    wb_out_reset (out);
    assert (wb_magics_execute (magics, "%%writefile\nabc", out) == -1);
    assert (strstr (wb_out_evalue (out), "usage: %%writefile [-a] PATH"));
    wb_out_reset (out);
    assert (wb_magics_execute (magics, "%lsmagic extra", out) == -1);
    assert (strstr (wb_out_evalue (out), "exactly 0 arguments"));
    wb_out_reset (out);
    assert (wb_magics_execute (magics, "%env \"unclosed", out) == -1);
    assert (strstr (wb_out_evalue (out), "unclosed"));
    wb_out_reset (out);

    //  The first error stops the cell
    json_array_clear (wb_out_log (out));
    assert (wb_magics_execute (magics, "%nosuch\necho never", out) == -1);
    text = wb_out_text (out, "stdout");
    assert (streq (text, ""));
    free (text);
    wb_out_reset (out);

    //  %%writefile, then the shell sees the file
    assert (wb_magics_execute (magics, "%%writefile notes.txt\nhello\n", out) == 0);
    assert (wb_magics_execute (magics, "%%writefile -a notes.txt\nagain\n", out) == 0);
    json_array_clear (wb_out_log (out));
    assert (wb_magics_execute (magics, "cat notes.txt", out) == 0);
    text = wb_out_text (out, "stdout");
    assert (streq (text, "hello\nagain\n"));
    free (text);

    //  Completion
    size_t start, end;
    json_t *matches = wb_magics_complete (magics, "%lsma", 5, &start, &end);
    assert (json_array_size (matches) == 1);
    assert (streq (json_string_value (json_array_get (matches, 0)), "%lsmagic"));
    assert (start == 0 && end == 5);
    json_decref (matches);
    matches = wb_magics_complete (magics, "%%wri", 5, &start, &end);
    assert (streq (json_string_value (json_array_get (matches, 0)), "%%writefile"));
    json_decref (matches);
    matches = wb_magics_complete (magics, "%tra", 4, &start, &end);
    assert (json_array_size (matches) == 1);        //  a cell magic for one %
    assert (streq (json_string_value (json_array_get (matches, 0)), "%%train"));
    json_decref (matches);
    matches = wb_magics_complete (magics, "echo 1\n%tra", 11, &start, &end);
    assert (json_array_size (matches) == 0);        //  ... on the first line only
    json_decref (matches);
    matches = wb_magics_complete (magics, "echo 1\n%%wri", 12, &start, &end);
    assert (json_array_size (matches) == 0);        //  %% only on the first line
    json_decref (matches);
    matches = wb_magics_complete (magics, "%%writefile -", 13, &start, &end);
    assert (json_array_size (matches) == 1);
    assert (streq (json_string_value (json_array_get (matches, 0)), "-a"));
    assert (start == 12);
    json_decref (matches);
    matches = wb_magics_complete (magics, "cat no", 6, &start, &end);
    assert (json_array_size (matches) == 1);
    assert (streq (json_string_value (json_array_get (matches, 0)), "notes.txt"));
    assert (start == 4 && end == 6);
    json_decref (matches);

    //  Inspection
    text = wb_magics_inspect (magics, "%%writefile -a x", 3);
    assert (text && wb_starts_with (text, "%%writefile [-a] PATH"));
    free (text);
    assert (wb_magics_inspect (magics, "echo hi", 2) == NULL);

    //  Completeness
    assert (streq (wb_magics_is_complete (magics, "echo hi"), "complete"));
    assert (streq (wb_magics_is_complete (magics, "%lsmagic"), "complete"));
    assert (streq (wb_magics_is_complete (magics, "%%bash"), "incomplete"));
    assert (streq (wb_magics_is_complete (magics, "%%bash\necho hi"), "incomplete"));
    assert (streq (wb_magics_is_complete (magics, "%%bash\necho hi\n"), "complete"));
    assert (streq (wb_magics_is_complete (magics, "echo \"unclosed"), "incomplete"));
    assert (streq (wb_magics_is_complete (magics, "if true; then"), "incomplete"));
    assert (streq (wb_magics_is_complete (magics, "echo a \\"), "incomplete"));
    assert (streq (wb_magics_is_complete (magics, "%env 'x"), "incomplete"));
    assert (streq (wb_magics_is_complete (magics, "fi"), "invalid"));
    //  A cell far over one argument's 128 KiB is asked about whole
    wb_buf_t *big = wb_buf_new ();
    for (int line = 0; line < 30000; line++)
        wb_buf_puts (big, ": xxxxxxxx\n");
    wb_buf_puts (big, "if true; then");
    assert (streq (wb_magics_is_complete (magics, wb_buf_data (big)), "incomplete"));
    wb_buf_puts (big, "\nfi\nfi");
    assert (streq (wb_magics_is_complete (magics, wb_buf_data (big)), "invalid"));
    wb_buf_destroy (&big);

    //  The command-line form reaches the same magics
    json_array_clear (wb_out_log (out));
    char *argv [] = { "env", "WB_Y=it's", NULL };
    assert (wb_magics_call (magics, 2, argv, NULL, out) == 0);
    assert (streq (wb_shell_getenv (wb_session_shell (wb_magics_session (magics)), "WB_Y"), "it's"));

    //  Completion from another thread while cells change the session (as
    //  the kernel's control channel asks): it sees the session the last
    //  cell left, never the one being changed
    s_completer_t completer = { magics, false, 0, 0 };
    pthread_t thread;
    assert (pthread_create (&thread, NULL, s_test_completer, &completer) == 0);
    for (int cell = 0; cell < 4; cell++) {
        wb_out_reset (out);
        assert (wb_magics_execute (magics, "for i in $(seq 300); do cd /tmp; "
            "cd - >/dev/null; export WB_X$i=1; done; cd /", out) == 0);
        assert (wb_magics_execute (magics, "%env WB_Z=1\ncd /tmp\n%env WB_Z=2\ncd /", out) == 0);
    }
    atomic_store (&completer.stop, true);
    pthread_join (thread, NULL);
    assert (completer.asked > 0);
    if (verbose)
        printf ("  %d completions from another thread, %d of them of /\n",
                completer.asked, completer.rooted);

    wb_out_destroy (&out);
    wb_magics_destroy (&magics);
    char *cleanup = wb_sprintf ("rm -rf '%s'", scratch);
    assert (system (cleanup) == 0);
    free (cleanup);
}
//  @end
