/*  rtt - round-trip times of signed Jupyter messages, measured from C

    rtt floor N             a DEALER and a ROUTER in one process (the ROUTER
                            in its own thread, over loopback TCP): the client
                            signs a request with HMAC-SHA256, the server
                            verifies it, signs it again and echoes it back,
                            the client verifies. The floor any kernel's round
                            trip sits on.
    rtt kernel FILE N       a signed execute_request with empty code to the
                            kernel of connection file FILE, over a DEALER on
                            its shell port, timed until the execute_reply;
                            iopub is subscribed and drained to status idle
                            between requests (not timed).

    Prints one JSON object: {"n": N, "median_us": ..., "p10_us": ...,
    "p90_us": ..., "min_us": ...}. Exit status 1 on any failure.

    Built by tests/bench/bench.py with
        cc -O2 rtt.c $(pkg-config --cflags --libs libczmq libzmq libsodium jansson)
*/
#include <czmq.h>
#include <jansson.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DELIM "<IDS|MSG>"
#define TIMEOUT_MS 10000

//  ---- Signing ----

typedef struct {
    unsigned char *key;         //  HMAC key (not NUL-terminated)
    size_t key_len;             //  its length; 0 = messages are not signed
} signer_t;

//  Hex HMAC-SHA256 of frames[0..3] into hex (65 bytes).
static void
s_sign (signer_t *signer, zframe_t *frames [4], char *hex)
{
    if (signer->key_len == 0) {
        hex [0] = 0;
        return;
    }
    crypto_auth_hmacsha256_state state;
    unsigned char mac [crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_init (&state, signer->key, signer->key_len);
    for (int i = 0; i < 4; i++)
        crypto_auth_hmacsha256_update (&state, zframe_data (frames [i]),
                                       zframe_size (frames [i]));
    crypto_auth_hmacsha256_final (&state, mac);
    sodium_bin2hex (hex, 65, mac, sizeof mac);
}

//  Find the delimiter in msg; returns the signature frame and fills
//  frames[0..3] with header, parent, metadata, content; NULL if malformed.
static zframe_t *
s_split (zmsg_t *msg, zframe_t *frames [4])
{
    zframe_t *frame = zmsg_first (msg);
    while (frame && !(zframe_size (frame) == strlen (DELIM)
                      && memcmp (zframe_data (frame), DELIM, strlen (DELIM)) == 0))
        frame = zmsg_next (msg);
    if (!frame)
        return NULL;
    zframe_t *signature = zmsg_next (msg);
    for (int i = 0; i < 4; i++)
        if (!(frames [i] = zmsg_next (msg)))
            return NULL;
    return signature;
}

//  Verify msg's signature; true if it is right.
static bool
s_verify (signer_t *signer, zmsg_t *msg, zframe_t *frames [4])
{
    zframe_t *signature = s_split (msg, frames);
    if (!signature)
        return false;
    char hex [65];
    s_sign (signer, frames, hex);
    return zframe_size (signature) == strlen (hex)
        && sodium_memcmp (zframe_data (signature), hex, strlen (hex)) == 0;
}

static json_t *
s_parse (zframe_t *frame)
{
    return json_loadb ((const char *) zframe_data (frame), zframe_size (frame),
                       0, NULL);
}

//  ---- Building requests ----

typedef struct {
    signer_t signer;            //  the key
    char session [33];          //  our session id
    unsigned long counter;      //  for msg ids
} client_t;

//  A signed request (delimiter first); fills msg_id (33 bytes).
static zmsg_t *
s_request (client_t *self, const char *msg_type, json_t *content, char *msg_id)
{
    snprintf (msg_id, 33, "%016lx%016lx", (unsigned long) getpid (), ++self->counter);
    json_t *header = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s}",
                                "msg_id", msg_id, "session", self->session,
                                "username", "bench", "date", "2024-01-01T00:00:00.000000Z",
                                "msg_type", msg_type, "version", "5.3");
    char *parts [4] = {
        json_dumps (header, JSON_COMPACT), strdup ("{}"), strdup ("{}"),
        json_dumps (content, JSON_COMPACT)
    };
    json_decref (header);
    zframe_t *frames [4];
    for (int i = 0; i < 4; i++) {
        frames [i] = zframe_new (parts [i], strlen (parts [i]));
        free (parts [i]);
    }
    char hex [65];
    s_sign (&self->signer, frames, hex);
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, DELIM);
    zmsg_addstr (msg, hex);
    for (int i = 0; i < 4; i++)
        zmsg_append (msg, &frames [i]);
    return msg;
}

//  msg_id of a message's header (index 0) or parent header (index 1);
//  true if it equals want. Also returns msg_type / execution_state when asked.
static bool
s_field_is (zframe_t *frame, const char *key, const char *want)
{
    json_t *json = s_parse (frame);
    const char *value = json ? json_string_value (json_object_get (json, key)) : NULL;
    bool same = value && strcmp (value, want) == 0;
    json_decref (json);
    return same;
}

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
s_cmp (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

static void
s_report (double *us, int n)
{
    qsort (us, n, sizeof *us, s_cmp);
    printf ("{\"n\": %d, \"median_us\": %.2f, \"p10_us\": %.2f, \"p90_us\": %.2f, "
            "\"min_us\": %.2f}\n", n, us [n / 2], us [n / 10], us [n * 9 / 10], us [0]);
}

//  ---- The floor: an echo server that verifies and re-signs ----

static void
s_echo_actor (zsock_t *pipe, void *args)
{
    signer_t *signer = (signer_t *) args;
    zsock_t *router = zsock_new_router ("tcp://127.0.0.1:*");
    assert (router);
    zsock_signal (pipe, 0);
    zstr_send (pipe, zsock_endpoint (router));
    zpoller_t *poller = zpoller_new (pipe, router, NULL);
    while (true) {
        void *which = zpoller_wait (poller, -1);
        if (which != router)
            break;                          //  $TERM or interrupted
        zmsg_t *msg = zmsg_recv (router);
        if (!msg)
            break;
        zframe_t *frames [4];
        if (!s_verify (signer, msg, frames)) {
            fprintf (stderr, "rtt: floor server: bad signature\n");
            zmsg_destroy (&msg);
            continue;
        }
        //  sign again, as a reply would be, and send back
        char hex [65];
        s_sign (signer, frames, hex);
        zframe_t *signature = zmsg_first (msg);
        while (signature && !zframe_streq (signature, DELIM))
            signature = zmsg_next (msg);
        signature = zmsg_next (msg);
        zframe_reset (signature, hex, strlen (hex));
        zmsg_send (&msg, router);
    }
    zpoller_destroy (&poller);
    zsock_destroy (&router);
}

static int
s_floor (int n)
{
    signer_t signer = { (unsigned char *) "0123456789abcdef0123456789abcdef", 32 };
    zactor_t *server = zactor_new (s_echo_actor, &signer);
    char *endpoint = zstr_recv (server);
    zsock_t *dealer = zsock_new_dealer (endpoint);
    zstr_free (&endpoint);
    client_t client = { signer, "floorfloorfloorfloorfloorfloor00", 0 };
    json_t *content = json_pack ("{s:s, s:b, s:b, s:{}, s:b, s:b}",
                                 "code", "", "silent", 0, "store_history", 1,
                                 "user_expressions", "allow_stdin", 0,
                                 "stop_on_error", 1);
    int warmup = n / 10 + 10;
    double *us = calloc (n, sizeof *us);
    int rc = 0;
    for (int i = -warmup; i < n && rc == 0; i++) {
        char msg_id [33];
        double t0 = s_now ();
        zmsg_t *msg = s_request (&client, "execute_request", content, msg_id);
        zmsg_send (&msg, dealer);
        zmsg_t *reply = zmsg_recv (dealer);
        zframe_t *frames [4];
        if (!reply || !s_verify (&client.signer, reply, frames)
        ||  !s_field_is (frames [0], "msg_id", msg_id)) {
            fprintf (stderr, "rtt: floor: bad echo\n");
            rc = 1;
        }
        double t1 = s_now ();
        zmsg_destroy (&reply);
        if (i >= 0)
            us [i] = (t1 - t0) * 1e6;
    }
    if (rc == 0)
        s_report (us, n);
    free (us);
    json_decref (content);
    zsock_destroy (&dealer);
    zactor_destroy (&server);
    return rc;
}

//  ---- The kernel ----

//  The endpoint of one channel from the connection info.
static char *
s_endpoint (json_t *info, const char *port_name)
{
    const char *transport = json_string_value (json_object_get (info, "transport"));
    const char *ip = json_string_value (json_object_get (info, "ip"));
    json_int_t port = json_integer_value (json_object_get (info, port_name));
    if (transport && strcmp (transport, "ipc") == 0)
        return zsys_sprintf ("ipc://%s-%d", ip, (int) port);
    return zsys_sprintf ("tcp://%s:%d", ip, (int) port);
}

//  Drain iopub until status idle for msg_id (or timeout); true if seen.
static bool
s_wait_idle (zsock_t *iopub, const char *msg_id)
{
    double deadline = s_now () + TIMEOUT_MS / 1000.0;
    while (s_now () < deadline) {
        zpoller_t *poller = zpoller_new (iopub, NULL);
        void *which = zpoller_wait (poller, 100);
        zpoller_destroy (&poller);
        if (!which)
            continue;
        zmsg_t *msg = zmsg_recv (iopub);
        zframe_t *frames [4];
        bool idle = false;
        if (msg && s_split (msg, frames)
        &&  s_field_is (frames [0], "msg_type", "status")
        &&  s_field_is (frames [1], "msg_id", msg_id)
        &&  s_field_is (frames [3], "execution_state", "idle"))
            idle = true;
        zmsg_destroy (&msg);
        if (idle)
            return true;
    }
    return false;
}

//  Send a request on shell and wait for its verified reply; returns the
//  time the reply came, or -1.
static double
s_round_trip (client_t *client, zsock_t *shell, const char *msg_type,
              json_t *content, char *msg_id, int timeout_ms)
{
    zmsg_t *msg = s_request (client, msg_type, content, msg_id);
    zmsg_send (&msg, shell);
    zpoller_t *poller = zpoller_new (shell, NULL);
    double deadline = s_now () + timeout_ms / 1000.0;
    double when = -1;
    while (when < 0 && s_now () < deadline) {
        if (!zpoller_wait (poller, 100))
            continue;
        zmsg_t *reply = zmsg_recv (shell);
        zframe_t *frames [4];
        if (reply && s_verify (&client->signer, reply, frames)
        &&  s_field_is (frames [1], "msg_id", msg_id))
            when = s_now ();
        else
        if (reply && !s_split (reply, frames))
            fprintf (stderr, "rtt: malformed reply\n");
        zmsg_destroy (&reply);
    }
    zpoller_destroy (&poller);
    return when;
}

static int
s_kernel (const char *connection_file, int n)
{
    json_error_t jerr;
    json_t *info = json_load_file (connection_file, 0, &jerr);
    if (!info) {
        fprintf (stderr, "rtt: %s: %s\n", connection_file, jerr.text);
        return 1;
    }
    const char *key = json_string_value (json_object_get (info, "key"));
    client_t client = { { (unsigned char *) strdup (key ? key : ""),
                          key ? strlen (key) : 0 }, "", 0 };
    snprintf (client.session, sizeof client.session, "rtt%029lx",
              (unsigned long) getpid ());
    char *shell_ep = s_endpoint (info, "shell_port");
    char *iopub_ep = s_endpoint (info, "iopub_port");
    zsock_t *shell = zsock_new_dealer (shell_ep);
    zsock_t *iopub = zsock_new_sub (iopub_ep, "");
    zstr_free (&shell_ep);
    zstr_free (&iopub_ep);
    int rc = 0;

    //  Connected both ways: kernel_info until its idle status comes on iopub.
    json_t *empty = json_object ();
    bool ready = false;
    for (int tries = 0; tries < 100 && !ready; tries++) {
        char msg_id [33];
        if (s_round_trip (&client, shell, "kernel_info_request", empty, msg_id,
                          TIMEOUT_MS) > 0)
            ready = s_wait_idle (iopub, msg_id);
    }
    if (!ready) {
        fprintf (stderr, "rtt: the kernel does not answer\n");
        rc = 1;
    }
    json_t *content = json_pack ("{s:s, s:b, s:b, s:{}, s:b, s:b}",
                                 "code", "", "silent", 0, "store_history", 1,
                                 "user_expressions", "allow_stdin", 0,
                                 "stop_on_error", 1);
    int warmup = n / 10 + 10;
    double *us = calloc (n, sizeof *us);
    for (int i = -warmup; i < n && rc == 0; i++) {
        char msg_id [33];
        double t0 = s_now ();
        double t1 = s_round_trip (&client, shell, "execute_request", content,
                                  msg_id, TIMEOUT_MS);
        if (t1 < 0 || !s_wait_idle (iopub, msg_id)) {
            fprintf (stderr, "rtt: no execute_reply or no idle status\n");
            rc = 1;
        }
        if (i >= 0)
            us [i] = (t1 - t0) * 1e6;
    }
    if (rc == 0)
        s_report (us, n);
    free (us);
    json_decref (content);
    json_decref (empty);
    json_decref (info);
    free (client.signer.key);
    zsock_destroy (&shell);
    zsock_destroy (&iopub);
    return rc;
}

int
main (int argc, char *argv [])
{
    if (sodium_init () < 0)
        return 1;
    zsys_init ();
    zsys_set_linger (0);
    if (argc == 3 && strcmp (argv [1], "floor") == 0)
        return s_floor (atoi (argv [2]));
    if (argc == 4 && strcmp (argv [1], "kernel") == 0)
        return s_kernel (argv [2], atoi (argv [3]));
    fprintf (stderr, "usage: rtt floor N | rtt kernel CONNECTION_FILE N\n");
    return 2;
}
