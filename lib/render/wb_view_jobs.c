/*  wb_view_jobs - the views of jobs: the job card and the table of jobs

    The card is redrawn in place while a job runs (about three times a
    second), so it reads only what it is given and the metric histories
    of the charts it draws (at most four).
*/
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "wb_view_jobs.h"
#include "wb_view.h"
#include "wb_render.h"
#include "cell/wb_out.h"
#include "base/wb_util.h"

#define S_TAIL_LINES   12       //  log lines in the card

//  The last lines of text (a pointer into it).
static const char *
s_tail (const char *text, size_t size, int lines)
{
    const char *start = text + size;
    if (start > text && start [-1] == '\n')
        start--;
    int seen = 0;
    while (start > text) {
        if (start [-1] == '\n' && ++seen == lines)
            break;
        start--;
    }
    return start;
}

//  Which metrics share a chart: a metric and its val_ twin (loss and
//  val_loss, the training curve beside the validation one); progress and
//  single end-of-training values get none.
static json_t *
s_chart_groups (json_t *metrics)
{
    json_t *groups = json_array ();
    const char *key;
    json_t *metric;
    json_object_foreach (metrics, key, metric) {
        if (streq (key, "progress") || json_integer_value (json_object_get (metric, "count")) < 2)
            continue;
        if (wb_starts_with (key, "val_")) {
            if (json_object_get (metrics, key + 4)
            &&  json_integer_value (json_object_get (json_object_get (metrics, key + 4), "count")) >= 2)
                continue;       //  drawn with its twin
            json_array_append_new (groups, json_pack ("[s]", key));
        }
        else {
            char *twin = wb_sprintf ("val_%s", key);
            json_array_append_new (groups, json_object_get (metrics, twin)
                ? json_pack ("[s, s]", key, twin): json_pack ("[s]", key));
            free (twin);
        }
    }
    return groups;
}

//  The live picture of a job: header, metrics (table and small charts),
//  the tail of its log.
json_t *
wb_view_job (wb_store_t *store, const char *id, json_t *run, const char *log, size_t size,
             const char *note)
{
    const char *status = json_string_value (json_object_get (run, "status"));
    double started = json_is_number (json_object_get (run, "started"))
                   ? json_number_value (json_object_get (run, "started")): NAN;
    double ended = json_is_number (json_object_get (run, "ended"))
                 ? json_number_value (json_object_get (run, "ended")): NAN;
    char elapsed [32] = "";
    if (!isnan (started))
        wb_view_duration ((isnan (ended)? wb_time_now (): ended) - started, elapsed, sizeof (elapsed));
    wb_buf_t *plain = wb_buf_new ();
    wb_buf_t *html = wb_buf_new ();
    wb_buf_printf (plain, "Job %s (%s) · %s%s%s%s%s\n",
        json_string_value (json_object_get (run, "name")), id, status,
        *elapsed? " · ": "", elapsed, note? " · ": "", note? note: "");
    wb_buf_puts (html, "<div><b>Job ");
    wb_buf_html (html, json_string_value (json_object_get (run, "name")));
    wb_buf_printf (html, "</b> <code>%s</code> · <b>", id);
    wb_buf_html (html, status);
    wb_buf_printf (html, "</b>%s%s", *elapsed? " · ": "", elapsed);
    if (note) {
        wb_buf_puts (html, " · ");
        wb_buf_html (html, note);
    }
    wb_buf_puts (html, "</div>");
    json_t *progress = json_object_get (json_object_get (json_object_get (run, "metrics"), "progress"), "value");
    if (json_is_number (progress)) {
        double done = json_number_value (progress);
        done = done < 0? 0: done > 1? 1: done;
        int filled = (int) (done * 30 + 0.5);
        wb_buf_puts (plain, "[");
        for (int i = 0; i < 30; i++)
            wb_buf_puts (plain, i < filled? "#": "-");
        wb_buf_printf (plain, "] %3.0f%%\n", done * 100);
        wb_buf_printf (html, "<div style=\"width:320px;height:10px;background:#e6e6e6;border-radius:5px\">"
                       "<div style=\"width:%.0f%%;height:10px;background:#1f4e9a;border-radius:5px\"></div>"
                       "</div><div>%.0f%%</div>", done * 100, done * 100);
    }
    const char *error = json_string_value (json_object_get (run, "error"));
    if (error && *error) {
        wb_buf_printf (plain, "error: %s\n", error);
        wb_buf_puts (html, "<div style=\"color:#b00020\">error: ");
        wb_buf_html (html, error);
        wb_buf_puts (html, "</div>");
    }
    //  Metrics: latest values, and a small chart of each
    json_t *metrics = json_object_get (run, "metrics");
    if (json_object_size (metrics)) {
        wb_table_t *table = wb_table_new (NULL);
        wb_table_column (table, "metric", WB_ALIGN_LEFT);
        wb_table_column (table, "latest", WB_ALIGN_RIGHT);
        wb_table_column (table, "step", WB_ALIGN_RIGHT);
        wb_table_column (table, "min", WB_ALIGN_RIGHT);
        wb_table_column (table, "max", WB_ALIGN_RIGHT);
        const char *key;
        json_t *metric;
        json_object_foreach (metrics, key, metric) {
            wb_table_row (table);
            wb_table_cell (table, key);
            json_t *value = json_object_get (metric, "value");
            wb_table_number (table, json_is_number (value)? json_number_value (value): NAN);
            wb_table_number (table, (double) json_integer_value (json_object_get (metric, "step")));
            value = json_object_get (metric, "min");
            wb_table_number (table, json_is_number (value)? json_number_value (value): NAN);
            value = json_object_get (metric, "max");
            wb_table_number (table, json_is_number (value)? json_number_value (value): NAN);
        }
        char *text = wb_table_plain (table);
        wb_buf_puts (plain, text);
        free (text);
        text = wb_table_html (table);
        wb_buf_puts (html, text);
        free (text);
        wb_table_destroy (&table);
        wb_buf_puts (html, "<div>");
        json_t *groups = s_chart_groups (metrics);
        size_t index;
        json_t *group;
        json_array_foreach (groups, index, group) {
            if (index == 4)
                break;
            wb_chart_t *chart = wb_chart_new (json_string_value (json_array_get (group, 0)),
                                              NULL, NULL);
            wb_chart_set_size (chart, json_array_size (group) > 1? 340: 260, 160);
            wb_chart_set_max_points (chart, 200);
            size_t position;
            json_t *series;
            json_array_foreach (group, position, series) {
                double *steps, *values;
                size_t count;
                if (wb_store_history (store, id, json_string_value (series), &steps, &values,
                                      NULL, &count, NULL))
                    continue;
                wb_chart_series (chart, json_string_value (series), steps, values, count);
                free (steps);
                free (values);
            }
            char *svg = wb_chart_svg (chart);
            wb_buf_puts (html, "<span style=\"display:inline-block\">");
            wb_buf_puts (html, svg);
            wb_buf_puts (html, "</span>");
            free (svg);
            wb_chart_destroy (&chart);
        }
        json_decref (groups);
        wb_buf_puts (html, "</div>");
    }
    //  The end of the log
    const char *tail = s_tail (log? log: "", log? size: 0, S_TAIL_LINES);
    if (*tail) {
        wb_buf_puts (plain, tail);
        if (tail [strlen (tail) - 1] != '\n')
            wb_buf_puts (plain, "\n");
        wb_buf_puts (html, "<pre style=\"max-height:16em;overflow:auto\">");
        wb_buf_html (html, tail);
        wb_buf_puts (html, "</pre>");
    }
    size_t artifacts = json_array_size (json_object_get (run, "artifacts"));
    if (wb_store_status_final (status)) {
        wb_buf_printf (plain, "%zu artifact%s · %%show %s for everything\n",
                       artifacts, artifacts == 1? "": "s", id);
        wb_buf_printf (html, "<div>%zu artifact%s · <code>%%show %s</code> for everything</div>",
                       artifacts, artifacts == 1? "": "s", id);
    }
    json_t *bundle = wb_bundle_new (wb_buf_data (plain));
    wb_bundle_set (bundle, "text/html", wb_buf_data (html));
    wb_buf_destroy (&plain);
    wb_buf_destroy (&html);
    return bundle;
}

json_t *
wb_view_job_list (json_t *runs)
{
    char caption [64];
    snprintf (caption, sizeof (caption), "%zu job%s", json_array_size (runs),
              json_array_size (runs) == 1? "": "s");
    wb_table_t *table = wb_table_new (caption);
    wb_table_column (table, "id", WB_ALIGN_LEFT);
    wb_table_column (table, "name", WB_ALIGN_LEFT);
    wb_table_column (table, "kind", WB_ALIGN_LEFT);
    wb_table_column (table, "experiment", WB_ALIGN_LEFT);
    wb_table_column (table, "status", WB_ALIGN_LEFT);
    wb_table_column (table, "submitted", WB_ALIGN_LEFT);
    wb_table_column (table, "duration", WB_ALIGN_RIGHT);
    size_t index;
    json_t *run;
    json_array_foreach (runs, index, run) {
        char when [32], duration [32] = "";
        wb_view_when (json_number_value (json_object_get (run, "created")), when, sizeof (when));
        json_t *started = json_object_get (run, "started"), *ended = json_object_get (run, "ended");
        if (json_is_number (started))
            wb_view_duration ((json_is_number (ended)? json_number_value (ended): wb_time_now ())
                              - json_number_value (started), duration, sizeof (duration));
        wb_table_row (table);
        wb_table_cell (table, json_string_value (json_object_get (run, "id")));
        wb_table_cell (table, json_string_value (json_object_get (run, "name")));
        wb_table_cell (table, json_string_value (json_object_get (run, "kind")));
        wb_table_cell (table, json_string_value (json_object_get (run, "experiment")));
        wb_table_cell (table, json_string_value (json_object_get (run, "status")));
        wb_table_cell (table, when);
        wb_table_cell (table, duration);
    }
    json_t *bundle = wb_table_bundle (table);
    wb_table_destroy (&table);
    return bundle;
}

json_t *
wb_view_computes (json_t *targets)
{
    wb_table_t *table = wb_table_new ("Compute targets");
    wb_table_column (table, "name", WB_ALIGN_LEFT);
    wb_table_column (table, "kind", WB_ALIGN_LEFT);
    wb_table_column (table, "max jobs", WB_ALIGN_RIGHT);
    wb_table_column (table, "running", WB_ALIGN_RIGHT);
    wb_table_column (table, "queued", WB_ALIGN_RIGHT);
    size_t index;
    json_t *target;
    json_array_foreach (targets, index, target) {
        wb_table_row (table);
        wb_table_cell (table, json_string_value (json_object_get (target, "name")));
        wb_table_cell (table, json_string_value (json_object_get (target, "kind")));
        wb_table_cellf (table, "%lld", (long long) json_integer_value (json_object_get (target, "max_jobs")));
        wb_table_number (table, (double) json_integer_value (json_object_get (target, "running")));
        wb_table_number (table, (double) json_integer_value (json_object_get (target, "queued")));
    }
    json_t *bundle = wb_table_bundle (table);
    wb_table_destroy (&table);
    return bundle;
}

//  @selftest
static const char *
s_test_str (json_t *object, const char *key)
{
    return json_string_value (json_object_get (object, key));
}

void
wb_view_jobs_test (bool verbose)
{
    wb_error_t err;
    char scratch [] = "/tmp/wb-view-jobs-XXXXXX";
    assert (mkdtemp (scratch));
    char *ws = wb_sprintf ("%s/ws", scratch);
    wb_store_t *store = wb_store_open (ws, true, &err);
    assert (store);
    wb_run_spec_t spec = { NULL, "<fit>", "job", NULL, NULL, NULL, NULL, 0 };
    char id [9];
    assert (wb_store_run_create (store, &spec, id, &err) == 0);
    wb_metric_t points [] = {
        { "loss", 1, 0.9, 0 }, { "val_loss", 1, 1.0, 0 },
        { "loss", 2, 0.5, 0 }, { "val_loss", 2, 0.7, 0 },
        { "accuracy", 2, 0.8, 0 }, { "progress", 2, 0.5, 0 }
    };
    assert (wb_store_log (store, id, points, sizeof (points) / sizeof (points [0]), &err) == 0);
    json_t *run = wb_store_run_get (store, id, &err);
    assert (run);

    //  Running: header, progress bar, metrics, two charts (loss with its
    //  val_ twin; accuracy has one point), the last 12 lines of the log
    wb_buf_t *log = wb_buf_new ();
    for (int line = 1; line <= 20; line++)
        wb_buf_printf (log, "line %d <b>\n", line);
    json_t *bundle = wb_view_job (store, id, run, wb_buf_data (log), wb_buf_size (log), "canceling");
    const char *plain = s_test_str (bundle, "text/plain");
    const char *html = s_test_str (bundle, "text/html");
    char *header = wb_sprintf ("Job <fit> (%s) · running · ", id);
    assert (strstr (plain, header) && strstr (plain, " · canceling\n"));
    free (header);
    assert (strstr (plain, "[###############---------------]  50%"));
    assert (strstr (plain, "val_loss") && strstr (plain, "accuracy"));
    assert (!strstr (plain, "line 8 ") && strstr (plain, "line 9 <b>\nline 10")
            && strstr (plain, "line 20 <b>\n"));
    assert (strstr (html, "<b>Job &lt;fit&gt;</b>") && !strstr (html, "<b>\n"));
    const char *svg = strstr (html, "<svg");
    assert (svg && !strstr (svg + 1, "<svg"));
    assert (!strstr (plain, "artifact"));
    if (verbose)
        printf ("\n%s", plain);
    json_decref (bundle);
    json_decref (run);

    //  Over: the artifacts line; no log, no note
    assert (wb_store_run_status (store, id, "failed", "it <broke>", &err) == 0);
    run = wb_store_run_get (store, id, &err);
    bundle = wb_view_job (store, id, run, NULL, 0, NULL);
    plain = s_test_str (bundle, "text/plain");
    html = s_test_str (bundle, "text/html");
    assert (strstr (plain, "error: it <broke>\n") && strstr (html, "error: it &lt;broke&gt;"));
    char *footer = wb_sprintf ("0 artifacts · %%show %s for everything\n", id);
    assert (strstr (plain, footer));
    free (footer);
    json_decref (bundle);
    json_decref (run);

    json_t *runs = wb_store_runs (store, NULL, NULL, NULL, 0, &err);
    bundle = wb_view_job_list (runs);
    plain = s_test_str (bundle, "text/plain");
    assert (strstr (plain, "1 job") && strstr (plain, id) && strstr (plain, "failed"));
    assert (strstr (s_test_str (bundle, "text/html"), "&lt;fit&gt;"));
    json_decref (bundle);
    json_decref (runs);

    json_t *targets = json_pack ("[{s:s, s:s, s:i, s:i, s:i}]", "name", "local", "kind", "local",
                                 "max_jobs", 2, "running", 1, "queued", 3);
    bundle = wb_view_computes (targets);
    plain = s_test_str (bundle, "text/plain");
    assert (strstr (plain, "Compute targets") && strstr (plain, "max jobs"));
    assert (strstr (s_test_str (bundle, "text/html"), "<td style=\"text-align:left\">local</td>"));
    json_decref (bundle);
    json_decref (targets);

    wb_buf_destroy (&log);
    wb_store_destroy (&store);
    char *cleanup = wb_sprintf ("rm -rf '%s'", scratch);
    assert (system (cleanup) == 0);
    free (cleanup);
    free (ws);
}
//  @end
