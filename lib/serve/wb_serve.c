/*  wb_serve - the scoring server of an endpoint (`workbench serve`), and
    what starts, reloads, stops and calls it

    This file: starting, reloading and stopping a server (a detached
    process found again through the workspace), a small HTTP client, and
    the self-test, which runs a server and talks to it. The server itself
    is wb_serve_process.c (the process, its main loop, the request log),
    wb_serve_answer.c (the answers, the mirror, the warden) and
    wb_serve_config.c (what a generation serves), behind wb_serve_int.h.
*/
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include "wb_serve_int.h"
#include "wb_registry.h"
#include "jobs/wb_job.h"
#include "base/wb_util.h"

#define S_START_TIMEOUT   120.0     //  seconds a start or reload may take (a Python
                                    //  model may import for a while)

//  ---- Starting, reloading, stopping ----

char *
wb_serve_log_path (wb_store_t *store, const char *endpoint)
{
    return wb_sprintf ("%s/endpoints/%s.log", wb_store_path (store), endpoint);
}

char *
wb_serve_owner_key_path (wb_store_t *store, const char *endpoint)
{
    return wb_sprintf ("%s/endpoints/%s.key", wb_store_path (store), endpoint);
}

char *
wb_serve_owner_key (wb_store_t *store, const char *endpoint)
{
    char *path = wb_serve_owner_key_path (store, endpoint);
    size_t size = 0;
    char *key = wb_file_read (path, &size);
    free (path);
    if (key && (size == 0 || size > 128)) {
        free (key);
        key = NULL;
    }
    return key;
}

//  The last non-empty line of a file (caller owns), or NULL
static char *
s_last_line (const char *path)
{
    size_t size;
    char *text = wb_file_read (path, &size);
    if (!text)
        return NULL;
    while (size && (text [size - 1] == '\n' || text [size - 1] == '\r'))
        text [--size] = 0;
    char *line = strrchr (text, '\n');
    char *result = wb_strdup (line? line + 1: text);
    free (text);
    return result;
}

//  Wait until the server has loaded the current generation: 0, or -1
//  with err (it said why, or it died, or it took too long)
static int
s_wait_loaded (wb_store_t *store, const char *endpoint, pid_t pid, wb_error_t *err)
{
    double deadline = wb_time_mono () + S_START_TIMEOUT;
    while (wb_time_mono () < deadline) {
        json_t *record = wb_registry_endpoint_get (store, endpoint, err);
        if (!record)
            return -1;
        json_int_t generation = json_integer_value (json_object_get (record, "generation"));
        json_int_t loaded = json_integer_value (json_object_get (record, "loaded"));
        const char *error = json_string_value (json_object_get (record, "error"));
        bool alive = wb_registry_endpoint_alive (record);
        pid_t recorded = (pid_t) json_integer_value (json_object_get (record, "pid"));
        int rc = 1;
        if (loaded >= generation && error && (!pid || recorded == pid))
            rc = wb_error_set (err, "endpoint %s: %s (it still serves what it served before)",
                               endpoint, error);
        else
        if (loaded >= generation && alive && (!pid || recorded == pid))
            rc = 0;
        json_decref (record);
        if (rc <= 0)
            return rc;
        if (pid && wb_store_process_start (pid) == 0) {
            char *log = wb_serve_log_path (store, endpoint);
            char *line = s_last_line (log);
            wb_error_set (err, "the server of endpoint %s stopped: %s", endpoint,
                          line? line: "(no log)");
            free (line);
            free (log);
            return -1;
        }
        usleep (20 * 1000);
    }
    return wb_error_set (err, "the server of endpoint %s did not answer within %.0f s: see "
                         "%%endpoint show %s", endpoint, S_START_TIMEOUT, endpoint);
}

int
wb_serve_start (wb_store_t *store, const char *endpoint, const char *binary, wb_error_t *err)
{
    char self_path [4096];
    if (!binary) {
        const char *exe = getenv ("WORKBENCH_EXE");
        if (exe && *exe)
            binary = exe;
        else
        if (wb_self_path (self_path, sizeof (self_path)))
            binary = self_path;
        else
            return wb_error_set (err, "cannot find the workbench binary to start the server");
    }
    if (access (binary, X_OK))
        return wb_error_set (err, "cannot start the server: '%s' is gone (%s)", binary,
                             strerror (errno));
    char *folder = wb_sprintf ("%s/endpoints", wb_store_path (store));
    mkdir (folder, 0700);
    free (folder);
    char *log = wb_serve_log_path (store, endpoint);
    //  A server started from inside a job is not part of that job (built
    //  before fork: the child only execs)
    char **env = wb_job_detached_environ ();
    char *argv [] = { "workbench", "serve", (char *) wb_store_path (store), (char *) endpoint, NULL };
    //  Fork twice so the server belongs to no one: it outlives the kernel
    int report [2];
    if (pipe2 (report, O_CLOEXEC)) {
        free (env);
        free (log);
        return wb_error_set (err, "cannot start the server: %s", strerror (errno));
    }
    pid_t child = fork ();
    if (child == 0) {
        setsid ();
        pid_t grandchild = fork ();
        if (grandchild == 0) {
            int null = open ("/dev/null", O_RDWR);
            int out = open (log, O_WRONLY | O_CREAT | O_APPEND, 0600);
            dup2 (null, 0);
            dup2 (null, 1);
            dup2 (out >= 0? out: null, 2);
            for (int fd = 3; fd < 1024; fd++)
                close (fd);
            sigset_t none;
            sigemptyset (&none);
            sigprocmask (SIG_SETMASK, &none, NULL);
            signal (SIGINT, SIG_IGN);
            signal (SIGPIPE, SIG_DFL);
            execve (binary, argv, env);
            fprintf (stderr, "workbench serve: cannot run '%s': %s\n", binary, strerror (errno));
            _exit (127);
        }
        ssize_t wrote = write (report [1], &grandchild, sizeof (grandchild));
        _exit (wrote == sizeof (grandchild)? 0: 1);
    }
    close (report [1]);
    free (env);
    free (log);
    pid_t server = -1;
    ssize_t got = child > 0? read (report [0], &server, sizeof (server)): -1;
    close (report [0]);
    if (child > 0)
        waitpid (child, NULL, 0);
    if (got != sizeof (server) || server <= 0)
        return wb_error_set (err, "cannot start the server of endpoint %s: %s", endpoint,
                             strerror (errno));
    return s_wait_loaded (store, endpoint, server, err);
}

int
wb_serve_reload (wb_store_t *store, const char *endpoint, wb_error_t *err)
{
    json_t *record = wb_registry_endpoint_get (store, endpoint, err);
    if (!record)
        return -1;
    bool alive = wb_registry_endpoint_alive (record);
    pid_t pid = (pid_t) json_integer_value (json_object_get (record, "pid"));
    json_decref (record);
    if (!alive)
        return wb_error_set (err, "endpoint %s is down: %%deploy brings it back", endpoint);
    kill (pid, SIGHUP);
    return s_wait_loaded (store, endpoint, pid, err);
}

int
wb_serve_stop (wb_store_t *store, const char *endpoint, wb_error_t *err)
{
    json_t *record = wb_registry_endpoint_get (store, endpoint, err);
    if (!record)
        return -1;
    bool alive = wb_registry_endpoint_alive (record);
    pid_t pid = (pid_t) json_integer_value (json_object_get (record, "pid"));
    int64_t start = json_integer_value (json_object_get (record, "pid_start"));
    json_decref (record);
    if (!alive)
        return 0;
    kill (pid, SIGTERM);
    double deadline = wb_time_mono () + 5;
    while (wb_store_process_start (pid) == start && wb_time_mono () < deadline)
        usleep (10 * 1000);
    if (wb_store_process_start (pid) == start) {
        kill (pid, SIGKILL);
        wb_registry_endpoint_process (store, endpoint, 0, 0, NULL);
    }
    return 0;
}

//  ---- A small HTTP client ----

int
wb_serve_request (int port, const char *method, const char *target, const char *headers,
                  const char *body, size_t size, double timeout, int *status, char **answer,
                  wb_error_t *err)
{
    if (answer)
        *answer = NULL;
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return wb_error_set (err, "cannot open a socket: %s", strerror (errno));
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    if (connect (fd, (struct sockaddr *) &address, sizeof (address))) {
        int failure = errno;
        close (fd);
        return wb_error_set (err, "cannot reach 127.0.0.1:%d: %s", port, strerror (failure));
    }
    wb_buf_t *request = wb_buf_new ();
    wb_buf_printf (request, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n"
                   "%sContent-Length: %zu\r\n\r\n", method, target, port, headers? headers: "",
                   body? size: 0);
    if (body)
        wb_buf_append (request, body, size);
    double deadline = wb_time_mono () + timeout;
    const char *data = wb_buf_data (request);
    size_t left = wb_buf_size (request);
    int rc = 0;
    while (left && rc == 0) {
        ssize_t sent = send (fd, data, left, MSG_NOSIGNAL);
        if (sent < 0 && errno != EINTR)
            rc = wb_error_set (err, "cannot send to 127.0.0.1:%d: %s", port, strerror (errno));
        if (sent > 0) {
            data += sent;
            left -= (size_t) sent;
        }
    }
    wb_buf_t *reply = wb_buf_new ();
    while (rc == 0) {
        int wait = (int) ((deadline - wb_time_mono ()) * 1000);
        struct pollfd item = { fd, POLLIN, 0 };
        if (wait <= 0 || poll (&item, 1, wait) == 0) {
            rc = wb_error_set (err, "127.0.0.1:%d did not answer within %.0f s", port, timeout);
            break;
        }
        char chunk [16384];
        ssize_t got = recv (fd, chunk, sizeof (chunk), 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        wb_buf_append (reply, chunk, (size_t) got);
    }
    close (fd);
    wb_buf_destroy (&request);
    const char *text = wb_buf_data (reply);
    const char *split = rc? NULL: strstr (text, "\r\n\r\n");
    if (rc == 0 && (!split || sscanf (text, "HTTP/1.%*d %d", status) != 1))
        rc = wb_error_set (err, "127.0.0.1:%d answered something that is not HTTP", port);
    if (rc == 0 && answer)
        *answer = wb_strndup (split + 4, wb_buf_size (reply) - (size_t) (split + 4 - text));
    wb_buf_destroy (&reply);
    return rc;
}

//  ---- Self-test ----

//  @selftest
void
wb_serve_test (bool verbose)
{
    (void) verbose;
    wb_serve_rows_test (verbose);      //  its parts: bodies as rows for Python workers
    char folder [] = "/tmp/wb-serve-test-XXXXXX";
    assert (mkdtemp (folder));
    wb_error_t err;
    wb_store_t *store = wb_store_open (folder, true, &err);
    assert (store);
    //  A linear model y = 2 a + 3 b + 1 (written by hand)
    const char *model =
        "{\"format\":\"workbench-model\",\"version\":1,\"kind\":\"linear\","
        "\"task\":\"regression\",\"target\":{\"name\":\"y\",\"type\":\"numeric\","
        "\"mean\":0,\"std\":1},\"classes\":[],\"features\":["
        "{\"name\":\"a\",\"type\":\"numeric\",\"mean\":0,\"std\":1},"
        "{\"name\":\"b\",\"type\":\"numeric\",\"mean\":0,\"std\":1}],\"inputs\":2,"
        "\"layers\":[{\"weights\":[[2],[3]],\"bias\":[1],\"activation\":\"identity\"}],"
        "\"centers\":[],\"params\":{},\"training\":{},\"metrics\":null}";
    char run [16];
    wb_run_spec_t spec = { .name = "fit", .kind = "train" };
    assert (wb_store_run_create (store, &spec, run, &err) == 0);
    assert (wb_store_artifact_data (store, run, "outputs/model.json", model, strlen (model), &err) == 0);
    wb_model_spec_t registration = { .name = "line", .run = run };
    assert (wb_registry_model_register (store, &registration, NULL, &err) == 1);
    wb_keys_t made;
    assert (wb_registry_endpoint_create (store, "ep", "key", &made, &err) == 0);
    assert (wb_registry_deploy (store, "ep", "blue", "line", 1, -1, NULL, &err) == 0);
    json_t *record;
    char *key = wb_strdup (made.key [1]);
    //  The server in a child process
    pid_t child = fork ();
    assert (child >= 0);
    if (child == 0)
        _exit (wb_serve_main (folder, "ep"));
    int port = 0;
    for (int i = 0; i < 500 && !port; i++) {
        record = wb_registry_endpoint_get (store, "ep", &err);
        if (json_integer_value (json_object_get (record, "pid")) == child
        &&  json_integer_value (json_object_get (record, "loaded")) >= 1)
            port = (int) json_integer_value (json_object_get (record, "port"));
        json_decref (record);
        if (!port)
            usleep (10 * 1000);
    }
    assert (port > 0);
    int status;
    char *answer;
    const char *body = "{\"data\": [[1, 2], [0, 0]]}";
    //  No key, a wrong key: 401; the right key: predictions
    assert (wb_serve_request (port, "POST", "/score", "Content-Type: application/json\r\n",
                              body, strlen (body), 5, &status, &answer, &err) == 0);
    assert (status == 401 && strstr (answer, "unauthorized"));
    free (answer);
    char *auth = wb_sprintf ("Content-Type: application/json\r\nAuthorization: Bearer %sx\r\n", key);
    assert (wb_serve_request (port, "POST", "/score", auth, body, strlen (body), 5, &status,
                              &answer, &err) == 0);
    assert (status == 401);
    free (answer);
    free (auth);
    auth = wb_sprintf ("Content-Type: application/json\r\nAuthorization: Bearer %s\r\n", key);
    assert (wb_serve_request (port, "POST", "/score", auth, body, strlen (body), 5, &status,
                              &answer, &err) == 0);
    assert (status == 200);
    assert (streq (answer, "{\"predictions\":[9,1]}"));
    free (answer);
    //  A bad body says what the model expects
    assert (wb_serve_request (port, "POST", "/score", auth, "{\"data\": [[1]]}", 15, 5,
                              &status, &answer, &err) == 0);
    assert (status == 400 && strstr (answer, "feature_count") && strstr (answer, "\"expects\""));
    free (answer);
    //  Routes
    assert (wb_serve_request (port, "GET", "/health", NULL, NULL, 0, 5, &status, &answer, &err) == 0);
    assert (status == 200 && strstr (answer, "ready"));
    free (answer);
    assert (wb_serve_request (port, "GET", "/swagger.json", NULL, NULL, 0, 5, &status, &answer, &err) == 0);
    assert (status == 200 && strstr (answer, "openapi") && strstr (answer, "\"a\""));
    free (answer);
    assert (wb_serve_request (port, "GET", "/nope", NULL, NULL, 0, 5, &status, &answer, &err) == 0);
    assert (status == 404);
    free (answer);
    assert (wb_serve_request (port, "GET", "/metrics", NULL, NULL, 0, 5, &status, &answer, &err) == 0);
    assert (status == 200);
    assert (strstr (answer, "workbench_requests_total{endpoint=\"ep\",deployment=\"blue\",outcome=\"ok\"} 1"));
    assert (strstr (answer, "outcome=\"error\"} 1"));
    free (answer);
    //  A new version, loaded while running
    const char *model2 = "{\"format\":\"workbench-model\",\"version\":1,\"kind\":\"linear\","
        "\"task\":\"regression\",\"target\":{\"name\":\"y\",\"type\":\"numeric\","
        "\"mean\":0,\"std\":1},\"classes\":[],\"features\":["
        "{\"name\":\"a\",\"type\":\"numeric\",\"mean\":0,\"std\":1},"
        "{\"name\":\"b\",\"type\":\"numeric\",\"mean\":0,\"std\":1}],\"inputs\":2,"
        "\"layers\":[{\"weights\":[[0],[0]],\"bias\":[5],\"activation\":\"identity\"}],"
        "\"centers\":[],\"params\":{},\"training\":{},\"metrics\":null}";
    assert (wb_store_artifact_data (store, run, "outputs/model2.json", model2, strlen (model2), &err) == 0);
    registration.path = "outputs/model2.json";
    assert (wb_registry_model_register (store, &registration, NULL, &err) == 2);
    assert (wb_registry_deploy (store, "ep", "blue", "line", 2, -1, NULL, &err) == 0);
    assert (wb_serve_reload (store, "ep", &err) == 0);
    assert (wb_serve_request (port, "POST", "/score", auth, body, strlen (body), 5, &status,
                              &answer, &err) == 0);
    assert (status == 200 && streq (answer, "{\"predictions\":[5,5]}"));
    free (answer);
    free (auth);
    free (key);
    //  Stop: the log is written, the endpoint says it is down
    kill (child, SIGTERM);
    int child_status;
    assert (waitpid (child, &child_status, 0) == child);
    assert (WIFEXITED (child_status) && WEXITSTATUS (child_status) == 0);
    json_t *log = wb_registry_requests (store, "ep", 0, &err);
    assert (json_array_size (log) == 5);
    json_decref (log);
    record = wb_registry_endpoint_get (store, "ep", &err);
    assert (!wb_registry_endpoint_alive (record));
    json_decref (record);
    assert (wb_serve_request (port, "GET", "/", NULL, NULL, 0, 1, &status, &answer, &err) == -1);
    assert (strstr (err.text, "cannot reach"));
    wb_store_destroy (&store);
    char *command = wb_sprintf ("rm -rf '%s'", folder);
    assert (system (command) == 0);
    free (command);
}
//  @end
