/*  wb_serve_process - the scoring server's process (`workbench serve`):
    the owner's key, the daemon and its threads, and the main loop, which
    takes the signals, writes the request log, keeps it within its
    retention and loads each new generation of the endpoint

    The answers themselves are wb_serve_answer.c.
*/
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sodium.h>
#include "wb_serve_int.h"
#include "base/wb_util.h"

#define S_PRUNE_EVERY      60.0     //  seconds between retention passes at least...
#define S_PRUNE_BATCH      50000    //  ...and rows one pass deletes at most
#define S_CONNECTIONS      16384    //  connections at most (fewer if files are fewer)

//  ---- The server process ----

//  A key for the workspace's owner, made anew by each server process and
//  written where only the owner can read it (0600, in the private
//  workspace folder): the workspace keeps no key an owner could send,
//  only hashes, so this is how %endpoint invoke calls the endpoint. It is
//  removed when the server stops. 0 or -1.
static int
s_owner_key_write (wb_serve__server_t *server, wb_store_t *store, wb_error_t *err)
{
    unsigned char bytes [32];
    char key [64];
    randombytes_buf (bytes, sizeof (bytes));
    sodium_bin2base64 (key, sizeof (key), bytes, sizeof (bytes),
                       sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero (bytes, sizeof (bytes));
    wb_key_hash (key, strlen (key), server->owner_hash);
    char *folder = wb_sprintf ("%s/endpoints", wb_store_path (store));
    mkdir (folder, 0700);
    free (folder);
    server->owner_path = wb_serve_owner_key_path (store, server->endpoint);
    char *temp = wb_sprintf ("%s.%d", server->owner_path, (int) getpid ());
    int fd = open (temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    size_t size = strlen (key);
    bool ok = fd >= 0 && fchmod (fd, 0600) == 0 && write (fd, key, size) == (ssize_t) size;
    if (fd >= 0 && close (fd))
        ok = false;
    if (ok && rename (temp, server->owner_path))
        ok = false;
    sodium_memzero (key, sizeof (key));
    int rc = ok? 0: wb_error_set (err, "cannot write the owner's key '%s': %s",
                                  server->owner_path, strerror (errno));
    if (!ok)
        unlink (temp);
    free (temp);
    return rc;
}

//  Keep the request log within its retention: a pass when a tenth of the
//  rows kept were written since the last, a minute went by, or the
//  retention changed; a pass
//  deletes at most S_PRUNE_BATCH rows, so a long backlog goes in steps
static void
s_prune (wb_serve__server_t *server, wb_store_t *store)
{
    wb_serve__config_t *config = wb_serve__config_hold (server);
    if (!config)
        return;
    size_t due = config->log_rows / 10 > 1? (size_t) config->log_rows / 10: 1;
    if (server->since_prune >= due || wb_time_mono () - server->pruned_at >= S_PRUNE_EVERY) {
        wb_error_t err;
        int64_t deleted = wb_registry_requests_prune (store, server->endpoint,
                                                      config->log_rows > 0? config->log_rows: 1,
                                                      config->log_days > 0? config->log_days: 1,
                                                      S_PRUNE_BATCH, &err);
        if (deleted < 0)
            fprintf (stderr, "workbench serve: %s\n", err.text);
        server->pruned_at = wb_time_mono ();
        server->since_prune = deleted == S_PRUNE_BATCH? due: 0;
    }
    wb_serve__config_release (config);
}

//  Write the log batch (dropped when the workspace refuses it: counted in
//  /metrics), then keep the log within its retention
static void
s_flush (wb_serve__server_t *server, wb_store_t *store)
{
    pthread_mutex_lock (&server->lock);
    wb_request_t *batch = server->log;
    size_t count = server->nlog;
    server->log = NULL;
    server->nlog = server->log_room = 0;
    pthread_mutex_unlock (&server->lock);
    wb_error_t err;
    if (count && wb_registry_requests_add (store, server->endpoint, batch, count, &err)) {
        //  Said once a minute at most: the server's own log stays small
        if (wb_time_mono () - server->complained_at >= 60 || server->complained_at == 0) {
            fprintf (stderr, "workbench serve: %s (%zu requests not logged; /metrics counts "
                     "them in workbench_unlogged_total)\n", err.text, count);
            server->complained_at = wb_time_mono ();
        }
        atomic_fetch_add (&server->unlogged, count);
    }
    else
        server->since_prune += count;
    s_prune (server, store);
    for (size_t i = 0; i < count; i++) {
        free (batch [i].input);
        free (batch [i].output);
    }
    free (batch);
}

//  Load the workspace's generation if it moved on. 1 when the endpoint is
//  gone, else 0.
static int
s_refresh (wb_serve__server_t *server, wb_store_t *store, bool force)
{
    wb_error_t err;
    int64_t generation = wb_registry_endpoint_generation (store, server->endpoint, &err);
    if (generation < 0)
        return strstr (err.text, "no endpoint")? 1: 0;
    if (!force && server->config && server->config->generation == generation)
        return 0;
    char *detail = NULL;
    wb_serve__config_t *config = wb_serve__config_load (server, store, &detail, &err);
    wb_serve__pools_reap (server, false);   //  of a configuration that failed to load
    if (!config) {
        //  The endpoint's row gets the whole story (a Python traceback), for %deploy
        char *why = detail && *detail? wb_sprintf ("%s\n\n%s", err.text, detail): wb_strdup (err.text);
        fprintf (stderr, "workbench serve: %s\n", why);
        wb_registry_endpoint_loaded (store, server->endpoint, generation, why, NULL);
        free (why);
        free (detail);
        return 0;
    }
    free (detail);
    pthread_mutex_lock (&server->lock);
    wb_serve__config_t *old = server->config;
    server->config = config;
    pthread_mutex_unlock (&server->lock);
    if (!old || old->log_rows != config->log_rows || old->log_days != config->log_days)
        server->pruned_at = 0;      //  a retention pass at the next flush
    wb_serve__config_release (old); //  requests under way keep it until they finish
    wb_registry_endpoint_loaded (store, server->endpoint, config->generation, NULL, NULL);
    return 0;
}

int
wb_serve_main (const char *path, const char *endpoint)
{
    wb_error_t err;
    wb_store_t *store = wb_store_open (path, false, &err);
    if (!store) {
        fprintf (stderr, "workbench serve: %s\n", err.text);
        return 1;
    }
    json_t *record = wb_registry_endpoint_get (store, endpoint, &err);
    if (!record) {
        fprintf (stderr, "workbench serve: %s\n", err.text);
        wb_store_destroy (&store);
        return 1;
    }
    if (wb_registry_endpoint_alive (record)
    &&  json_integer_value (json_object_get (record, "pid")) != getpid ()) {
        fprintf (stderr, "workbench serve: endpoint %s is served already (process %lld)\n",
                 endpoint, (long long) json_integer_value (json_object_get (record, "pid")));
        json_decref (record);
        wb_store_destroy (&store);
        return 1;
    }
    int port = (int) json_integer_value (json_object_get (record, "port"));
    json_decref (record);
    //  Signals are taken by the main thread only (sigtimedwait)
    sigset_t signals;
    sigemptyset (&signals);
    sigaddset (&signals, SIGHUP);
    sigaddset (&signals, SIGTERM);
    sigaddset (&signals, SIGINT);
    pthread_sigmask (SIG_BLOCK, &signals, NULL);
    signal (SIGPIPE, SIG_IGN);

    wb_serve__server_t *server = wb_calloc (1, sizeof (wb_serve__server_t));
    server->endpoint = wb_strdup (endpoint);
    pthread_mutex_init (&server->lock, NULL);
    pthread_cond_init (&server->wake, NULL);
    pthread_mutex_init (&server->conns_lock, NULL);
    pthread_mutex_init (&server->jobs_lock, NULL);
    pthread_cond_init (&server->jobs_wake, NULL);
    s_refresh (server, store, true);
    int rc = 0;
    if (!server->config) {
        fprintf (stderr, "workbench serve: endpoint %s: nothing to serve\n", endpoint);
        rc = 1;
    }
    //  The owner's key of this process, for %endpoint invoke
    if (rc == 0 && s_owner_key_write (server, store, &err)) {
        fprintf (stderr, "workbench serve: %s\n", err.text);
        rc = 1;
    }
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    long cores = sysconf (_SC_NPROCESSORS_ONLN);
    unsigned threads = cores < 2? 2: cores > 16? 16: (unsigned) cores;
    //  As many connections as there may be open files (less a margin for
    //  the workspace, the log and the models), up to S_CONNECTIONS
    struct rlimit files;
    if (getrlimit (RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
        files.rlim_cur = files.rlim_max > S_CONNECTIONS + 256? S_CONNECTIONS + 256: files.rlim_max;
        setrlimit (RLIMIT_NOFILE, &files);
        getrlimit (RLIMIT_NOFILE, &files);
    }
    rlim_t room = files.rlim_cur > 320? files.rlim_cur - 256: 64;
    server->max_connections = room < S_CONNECTIONS? (size_t) room: S_CONNECTIONS;
    struct MHD_Daemon *daemon = rc? NULL: MHD_start_daemon (
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TURBO
        | MHD_ALLOW_SUSPEND_RESUME,
        0, NULL, NULL, wb_serve__handle, server,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &address,
        MHD_OPTION_THREAD_POOL_SIZE, threads,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned) server->max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) WB_SERVE__ARRIVAL,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned) 1,
        MHD_OPTION_NOTIFY_COMPLETED, wb_serve__completed, server,
        MHD_OPTION_NOTIFY_CONNECTION, wb_serve__notify_connection, server,
        MHD_OPTION_END);
    if (!rc && !daemon) {
        fprintf (stderr, "workbench serve: cannot listen on 127.0.0.1:%d (%s): choose another "
                 "--port\n", port, port? "in use?": "no free port");
        rc = 1;
    }
    pthread_t mirror, warden;
    if (daemon) {
        const union MHD_DaemonInfo *info = MHD_get_daemon_info (daemon, MHD_DAEMON_INFO_BIND_PORT);
        port = info? info->port: port;
        pthread_create (&mirror, NULL, wb_serve__mirror_thread, server);
        pthread_create (&warden, NULL, wb_serve__warden_thread, server);
        if (wb_registry_endpoint_process (store, endpoint, getpid (), port, &err))
            fprintf (stderr, "workbench serve: %s\n", err.text);
        fprintf (stderr, "workbench serve: endpoint %s on http://127.0.0.1:%d (process %d)\n",
                 endpoint, port, (int) getpid ());
        //  The main loop: signals, the log, the generation, the workspace.
        //  It and the mirror thread yield to the request threads (a lower
        //  priority for this thread only), so that writing the log does
        //  not add to the latency of answers.
        if (setpriority (PRIO_PROCESS, (id_t) syscall (SYS_gettid), 5))
            fprintf (stderr, "workbench serve: cannot lower the logger's priority: %s\n",
                     strerror (errno));
        char *database = wb_sprintf ("%s/workspace.db", path);
        double last_check = wb_time_mono ();
        while (true) {
            struct timespec wait = { 0, 200 * 1000 * 1000 };
            int sig = sigtimedwait (&signals, NULL, &wait);
            if (sig == SIGTERM || sig == SIGINT)
                break;
            s_flush (server, store);
            //  Requests queued for Python workers past their timeout: 504
            for (size_t i = 0; i < server->npools; i++)
                wb_pool_expire (server->pools [i]->pool);
            if (sig == SIGHUP || wb_time_mono () - last_check >= 0.5) {
                last_check = wb_time_mono ();
                if (s_refresh (server, store, false))
                    break;          //  the endpoint was deleted
                wb_serve__pools_reap (server, false);   //  pools no configuration holds
                if (access (database, F_OK)) {
                    fprintf (stderr, "workbench serve: the workspace %s is gone\n", path);
                    break;
                }
            }
        }
        free (database);
        //  Requests at Python workers are answered first (a suspended
        //  connection must be resumed before the daemon stops); new ones
        //  get 503
        pthread_mutex_lock (&server->jobs_lock);
        server->jobs_stopping = true;
        while (server->jobs_out > 0) {
            pthread_mutex_unlock (&server->jobs_lock);
            for (size_t i = 0; i < server->npools; i++)
                wb_pool_expire (server->pools [i]->pool);
            pthread_mutex_lock (&server->jobs_lock);
            struct timespec until;      //  (jobs_wake is on the realtime clock)
            clock_gettime (CLOCK_REALTIME, &until);
            until.tv_nsec += 200 * 1000 * 1000;
            if (until.tv_nsec >= 1000 * 1000 * 1000) {
                until.tv_sec++;
                until.tv_nsec -= 1000 * 1000 * 1000;
            }
            if (server->jobs_out > 0)
                pthread_cond_timedwait (&server->jobs_wake, &server->jobs_lock, &until);
        }
        pthread_mutex_unlock (&server->jobs_lock);
        MHD_stop_daemon (daemon);   //  waits for requests under way
        pthread_mutex_lock (&server->lock);
        server->stopping = true;
        pthread_cond_signal (&server->wake);
        pthread_mutex_unlock (&server->lock);
        pthread_join (mirror, NULL);
        pthread_join (warden, NULL);
        s_flush (server, store);
        //  Say we are gone, unless another server took over
        record = wb_registry_endpoint_get (store, endpoint, NULL);
        if (record && json_integer_value (json_object_get (record, "pid")) == getpid ())
            wb_registry_endpoint_process (store, endpoint, 0, 0, NULL);
        json_decref (record);
        fprintf (stderr, "workbench serve: endpoint %s stopped\n", endpoint);
    }
    if (server->owner_path)
        unlink (server->owner_path);
    free (server->owner_path);
    wb_serve__config_release (server->config);
    server->config = NULL;
    wb_serve__pools_reap (server, true);
    pthread_mutex_destroy (&server->jobs_lock);
    pthread_cond_destroy (&server->jobs_wake);
    pthread_mutex_destroy (&server->lock);
    pthread_cond_destroy (&server->wake);
    pthread_mutex_destroy (&server->conns_lock);
    free (server->conns);
    free (server->log);
    free (server->endpoint);
    free (server);
    wb_store_destroy (&store);
    return rc;
}
