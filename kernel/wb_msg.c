/*  wb_msg - one Jupyter message: routing ids, header, parent header,
    metadata, content and buffers; its wire framing and its HMAC signature

    Signing and comparison go through libsodium (HMAC-SHA256, constant-time
    compare); message ids come from its random generator.
*/
#include <assert.h>
#include <pwd.h>
#include <unistd.h>
#include <sodium.h>
#include "wb_msg.h"
#include "base/wb_util.h"

#define WB_DELIMITER "<IDS|MSG>"

struct _wb_signer_t {
    unsigned char *key;         //  the connection key's bytes
    size_t key_size;            //  its length; 0 = messages are not signed
};

struct _wb_msg_t {
    zlist_t *ids;               //  routing id frames (zframe_t *), owned
    json_t *header;             //  msg_id, session, username, date, msg_type, version
    json_t *parent;             //  the header of the message this answers, or {}
    json_t *metadata;           //  free-form metadata
    json_t *content;            //  the payload
    zlist_t *buffers;           //  extra binary frames (zframe_t *), owned
    char *unreadable;           //  why parent, metadata or content could not
                                //  be read (they stand as {}), or NULL
};

//  ---- Signer ----

wb_signer_t *
wb_signer_new (const char *key, const char *scheme, wb_error_t *err)
{
    if (key && *key && scheme && *scheme && !streq (scheme, "hmac-sha256")) {
        wb_error_set (err, "unsupported signature scheme '%s' in the connection "
                      "file: Workbench speaks hmac-sha256", scheme);
        return NULL;
    }
    if (sodium_init () < 0) {
        wb_error_set (err, "libsodium could not be initialised");
        return NULL;
    }
    wb_signer_t *self = wb_calloc (1, sizeof (wb_signer_t));
    self->key_size = key? strlen (key): 0;
    self->key = (unsigned char *) wb_strndup (key? key: "", self->key_size);
    return self;
}

void
wb_signer_destroy (wb_signer_t **self_p)
{
    assert (self_p);
    wb_signer_t *self = *self_p;
    if (self) {
        sodium_memzero (self->key, self->key_size);
        free (self->key);
        free (self);
        *self_p = NULL;
    }
}

static void
s_hmac (wb_signer_t *self, zframe_t *frames [4], unsigned char *digest)
{
    crypto_auth_hmacsha256_state state;
    crypto_auth_hmacsha256_init (&state, self->key, self->key_size);
    for (int i = 0; i < 4; i++)
        crypto_auth_hmacsha256_update (&state, zframe_data (frames [i]),
                                       zframe_size (frames [i]));
    crypto_auth_hmacsha256_final (&state, digest);
}

void
wb_signer_sign (wb_signer_t *self, zframe_t *frames [4], char *hex)
{
    assert (self);
    if (self->key_size == 0) {
        hex [0] = 0;
        return;
    }
    unsigned char digest [crypto_auth_hmacsha256_BYTES];
    s_hmac (self, frames, digest);
    sodium_bin2hex (hex, 65, digest, sizeof (digest));
}

bool
wb_signer_verify (wb_signer_t *self, zframe_t *frames [4], zframe_t *signature)
{
    assert (self);
    if (self->key_size == 0)
        return true;
    if (zframe_size (signature) != 64)
        return false;
    char expected [65];
    wb_signer_sign (self, frames, expected);
    //  Hex digits are compared as text, in constant time; upper-case hex
    //  from a client is accepted by folding it first.
    char given [64];
    memcpy (given, zframe_data (signature), 64);
    for (int i = 0; i < 64; i++)
        if (given [i] >= 'A' && given [i] <= 'F')
            given [i] = (char) (given [i] - 'A' + 'a');
    return sodium_memcmp (expected, given, 64) == 0;
}

//  ---- Messages ----

void
wb_uuid (char *buf)
{
    unsigned char bytes [16];
    randombytes_buf (bytes, sizeof (bytes));
    bytes [6] = (unsigned char) ((bytes [6] & 0x0F) | 0x40);
    bytes [8] = (unsigned char) ((bytes [8] & 0x3F) | 0x80);
    snprintf (buf, 37,
        "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
        bytes [0], bytes [1], bytes [2], bytes [3], bytes [4], bytes [5],
        bytes [6], bytes [7], bytes [8], bytes [9], bytes [10], bytes [11],
        bytes [12], bytes [13], bytes [14], bytes [15]);
}

struct _wb_msg_source_t {
    char session [37];          //  session id (a UUID)
    char *username;             //  the user's name
    uint64_t sequence;          //  messages made so far, for their ids
};

wb_msg_source_t *
wb_msg_source_new (void)
{
    if (sodium_init () < 0)
        return NULL;
    wb_msg_source_t *self = wb_calloc (1, sizeof (wb_msg_source_t));
    wb_uuid (self->session);
    const char *name = getenv ("USER");
    if (!name || !*name) {
        struct passwd *entry = getpwuid (getuid ());
        name = entry? entry->pw_name: "workbench";
    }
    self->username = wb_strdup (name);
    return self;
}

void
wb_msg_source_destroy (wb_msg_source_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        free ((*self_p)->username);
        free (*self_p);
        *self_p = NULL;
    }
}

const char *
wb_msg_source_session (wb_msg_source_t *self)
{
    return self->session;
}

static wb_msg_t *
s_msg_alloc (void)
{
    wb_msg_t *self = wb_calloc (1, sizeof (wb_msg_t));
    self->ids = zlist_new ();
    self->buffers = zlist_new ();
    return self;
}

wb_msg_t *
wb_msg_new (const char *msg_type, wb_msg_source_t *source)
{
    assert (msg_type && source);
    wb_msg_t *self = s_msg_alloc ();
    char msg_id [64], date [40];
    snprintf (msg_id, sizeof (msg_id), "%s_%llu", source->session,
              (unsigned long long) ++source->sequence);
    wb_time_iso (wb_time_now (), date, sizeof (date));
    self->header = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s}",
        "msg_id", msg_id, "session", source->session, "username", source->username,
        "date", date, "msg_type", msg_type, "version", "5.3");
    self->parent = json_object ();
    self->metadata = json_object ();
    self->content = json_object ();
    return self;
}

wb_msg_t *
wb_msg_new_for (wb_msg_t *parent, const char *msg_type, wb_msg_source_t *source, bool route)
{
    wb_msg_t *self = wb_msg_new (msg_type, source);
    if (parent) {
        json_decref (self->parent);
        self->parent = json_deep_copy (parent->header);
        if (route)
            wb_msg_copy_ids (self, parent);
    }
    return self;
}

static void
s_frames_destroy (zlist_t **list_p)
{
    if (*list_p) {
        zframe_t *frame;
        while ((frame = zlist_pop (*list_p)))
            zframe_destroy (&frame);
        zlist_destroy (list_p);
    }
}

void
wb_msg_destroy (wb_msg_t **self_p)
{
    assert (self_p);
    wb_msg_t *self = *self_p;
    if (self) {
        s_frames_destroy (&self->ids);
        s_frames_destroy (&self->buffers);
        json_decref (self->header);
        json_decref (self->parent);
        json_decref (self->metadata);
        json_decref (self->content);
        free (self->unreadable);
        free (self);
        *self_p = NULL;
    }
}

//  Parse one JSON frame that must hold an object. Strings may hold
//  \u0000 (JSON_ALLOW_NUL): whoever reads a string that matters checks it
//  (a cell with a NUL is refused with its own message).
static json_t *
s_parse_frame (zframe_t *frame, const char *what, wb_error_t *err)
{
    json_error_t json_err;
    json_t *value = json_loadb ((const char *) zframe_data (frame),
                                zframe_size (frame), JSON_ALLOW_NUL, &json_err);
    if (!value)
        wb_error_set (err, "the %s frame is not valid JSON (%s at column %d)",
                      what, json_err.text, json_err.column);
    else
    if (!json_is_object (value)) {
        wb_error_set (err, "the %s frame is not a JSON object", what);
        json_decref (value);
        value = NULL;
    }
    return value;
}

wb_msg_t *
wb_msg_decode (zmsg_t **zmsg_p, wb_signer_t *signer, wb_error_t *err)
{
    assert (zmsg_p && *zmsg_p);
    zmsg_t *zmsg = *zmsg_p;
    wb_msg_t *self = s_msg_alloc ();
    zframe_t *frames [4] = { NULL, NULL, NULL, NULL };
    zframe_t *signature = NULL;
    bool delimited = false;

    //  Routing ids up to the delimiter
    zframe_t *frame;
    while ((frame = zmsg_pop (zmsg))) {
        if (zframe_streq (frame, WB_DELIMITER)) {
            zframe_destroy (&frame);
            delimited = true;
            break;
        }
        zlist_append (self->ids, frame);
    }
    if (!delimited) {
        wb_error_set (err, "no <IDS|MSG> delimiter in a %zu-frame message",
                      zlist_size (self->ids));
        goto fail;
    }
    signature = zmsg_pop (zmsg);
    for (int i = 0; i < 4; i++)
        frames [i] = zmsg_pop (zmsg);
    if (!signature || !frames [3]) {
        wb_error_set (err, "truncated message: expected a signature and four "
                      "JSON frames after the delimiter");
        goto fail;
    }
    if (!wb_signer_verify (signer, frames, signature)) {
        wb_error_set (err, zframe_size (signature)
                      ? "bad message signature": "missing message signature");
        goto fail;
    }
    //  Without a header there is nothing to answer: the message is dropped.
    //  With one, a part that cannot be read (a big integer, bad UTF-8, not
    //  an object) stands as {} and the message says why, so that the
    //  request still gets a reply (an error one).
    if (!(self->header = s_parse_frame (frames [0], "header", err)))
        goto fail;
    json_t *msg_type = json_object_get (self->header, "msg_type");
    if (!json_is_string (msg_type) || json_string_length (msg_type) == 0
    ||  strlen (json_string_value (msg_type)) != json_string_length (msg_type)) {
        wb_error_set (err, "the message header has no msg_type");
        goto fail;
    }
    const char *names [3] = { "parent header", "metadata", "content" };
    json_t **parts [3] = { &self->parent, &self->metadata, &self->content };
    for (int i = 0; i < 3; i++) {
        wb_error_t part_err;
        *parts [i] = s_parse_frame (frames [i + 1], names [i], &part_err);
        if (!*parts [i]) {
            *parts [i] = json_object ();
            if (!self->unreadable)
                self->unreadable = wb_strdup (part_err.text);
        }
    }
    while ((frame = zmsg_pop (zmsg)))
        zlist_append (self->buffers, frame);
    for (int i = 0; i < 4; i++)
        zframe_destroy (&frames [i]);
    zframe_destroy (&signature);
    zmsg_destroy (zmsg_p);
    return self;

fail:
    for (int i = 0; i < 4; i++)
        zframe_destroy (&frames [i]);
    zframe_destroy (&signature);
    wb_msg_destroy (&self);
    zmsg_destroy (zmsg_p);
    return NULL;
}

static zframe_t *
s_json_frame (json_t *value)
{
    char *text = json_dumps (value, JSON_COMPACT | JSON_ENSURE_ASCII);
    assert (text);
    zframe_t *frame = zframe_new (text, strlen (text));
    free (text);
    return frame;
}

zmsg_t *
wb_msg_encode (wb_msg_t *self, wb_signer_t *signer)
{
    assert (self);
    zmsg_t *zmsg = zmsg_new ();
    zframe_t *frame = zlist_first (self->ids);
    while (frame) {
        zmsg_append (zmsg, &(zframe_t *) { zframe_dup (frame) });
        frame = zlist_next (self->ids);
    }
    zmsg_addstr (zmsg, WB_DELIMITER);
    zframe_t *frames [4] = {
        s_json_frame (self->header), s_json_frame (self->parent),
        s_json_frame (self->metadata), s_json_frame (self->content)
    };
    char hex [65];
    wb_signer_sign (signer, frames, hex);
    zmsg_addstr (zmsg, hex);
    for (int i = 0; i < 4; i++)
        zmsg_append (zmsg, &frames [i]);
    frame = zlist_first (self->buffers);
    while (frame) {
        zmsg_append (zmsg, &(zframe_t *) { zframe_dup (frame) });
        frame = zlist_next (self->buffers);
    }
    return zmsg;
}

int
wb_msg_send (wb_msg_t **self_p, zsock_t *sock, wb_signer_t *signer)
{
    assert (self_p && *self_p);
    zmsg_t *zmsg = wb_msg_encode (*self_p, signer);
    wb_msg_destroy (self_p);
    return zmsg_send (&zmsg, sock);
}

const char *
wb_msg_type (wb_msg_t *self)
{
    return json_string_value (json_object_get (self->header, "msg_type"));
}

const char *
wb_msg_id (wb_msg_t *self)
{
    const char *id = json_string_value (json_object_get (self->header, "msg_id"));
    return id? id: "";
}

json_t *
wb_msg_header (wb_msg_t *self)
{
    return self->header;
}

json_t *
wb_msg_parent (wb_msg_t *self)
{
    return self->parent;
}

json_t *
wb_msg_metadata (wb_msg_t *self)
{
    return self->metadata;
}

json_t *
wb_msg_content (wb_msg_t *self)
{
    return self->content;
}

const char *
wb_msg_unreadable (wb_msg_t *self)
{
    return self->unreadable;
}

void
wb_msg_set_content_new (wb_msg_t *self, json_t *content)
{
    assert (content);
    json_decref (self->content);
    self->content = content;
}

size_t
wb_msg_ids (wb_msg_t *self)
{
    return zlist_size (self->ids);
}

void
wb_msg_copy_ids (wb_msg_t *self, wb_msg_t *source)
{
    s_frames_destroy (&self->ids);
    self->ids = zlist_new ();
    zframe_t *frame = zlist_first (source->ids);
    while (frame) {
        zlist_append (self->ids, zframe_dup (frame));
        frame = zlist_next (source->ids);
    }
}

//  @selftest
void
wb_msg_test (bool verbose)
{
    (void) verbose;
    wb_error_t err;
    assert (wb_signer_new ("k", "hmac-md5", &err) == NULL);
    assert (strstr (err.text, "hmac-md5"));

    wb_signer_t *signer = wb_signer_new ("secret-key", "hmac-sha256", NULL);
    //  A known vector: HMAC-SHA256("key", "The quick brown fox jumps over
    //  the lazy dog") split over four frames
    wb_signer_t *known = wb_signer_new ("key", "hmac-sha256", NULL);
    zframe_t *parts [4] = {
        zframe_new ("The quick ", 10), zframe_new ("brown fox ", 10),
        zframe_new ("jumps over ", 11), zframe_new ("the lazy dog", 12)
    };
    char hex [65];
    wb_signer_sign (known, parts, hex);
    assert (streq (hex, "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"));
    zframe_t *good = zframe_new (hex, 64);
    assert (wb_signer_verify (known, parts, good));
    zframe_t *bad = zframe_new ("f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd9", 64);
    assert (!wb_signer_verify (known, parts, bad));
    zframe_t *empty = zframe_new ("", 0);
    assert (!wb_signer_verify (known, parts, empty));
    zframe_destroy (&good);
    zframe_destroy (&bad);
    zframe_destroy (&empty);
    for (int i = 0; i < 4; i++)
        zframe_destroy (&parts [i]);
    wb_signer_destroy (&known);

    //  Round trip with routing ids and a buffer
    wb_msg_source_t *client = wb_msg_source_new ();
    wb_msg_source_t *kernel = wb_msg_source_new ();
    assert (!streq (wb_msg_source_session (client), wb_msg_source_session (kernel)));
    wb_msg_t *request = wb_msg_new ("execute_request", client);
    json_object_set_new (wb_msg_content (request), "code", json_string ("echo héllo"));
    zlist_append (request->ids, zframe_new ("peer-1", 6));
    zlist_append (request->buffers, zframe_new ("\x00\x01", 2));
    char id_a [64], id_b [64];
    strcpy (id_a, wb_msg_id (request));
    zmsg_t *wire = wb_msg_encode (request, signer);
    assert (zmsg_size (wire) == 1 + 1 + 1 + 4 + 1);
    wb_msg_t *copy = wb_msg_decode (&wire, signer, &err);
    assert (copy && wire == NULL);
    assert (streq (wb_msg_type (copy), "execute_request"));
    assert (streq (json_string_value (json_object_get (wb_msg_content (copy), "code")), "echo héllo"));
    assert (wb_msg_ids (copy) == 1);
    assert (zlist_size (copy->buffers) == 1);

    //  A reply keeps the routing ids and names its parent
    wb_msg_t *reply = wb_msg_new_for (copy, "execute_reply", kernel, true);
    strcpy (id_b, wb_msg_id (reply));
    assert (!streq (id_a, id_b));
    assert (wb_msg_ids (reply) == 1);
    assert (streq (json_string_value (json_object_get (wb_msg_parent (reply), "msg_id")), id_a));
    const char *date = json_string_value (json_object_get (wb_msg_header (reply), "date"));
    assert (date && strlen (date) == 27 && date [10] == 'T' && date [26] == 'Z');
    assert (streq (json_string_value (json_object_get (wb_msg_header (reply), "version")), "5.3"));
    assert (json_object_get (wb_msg_header (reply), "username"));
    assert (streq (json_string_value (json_object_get (wb_msg_header (reply), "session")),
                   wb_msg_source_session (kernel)));
    wb_msg_destroy (&reply);
    //  A broadcast names its parent but has no routing ids
    wb_msg_t *status = wb_msg_new_for (copy, "status", kernel, false);
    assert (wb_msg_ids (status) == 0);
    assert (streq (json_string_value (json_object_get (wb_msg_parent (status), "msg_id")), id_a));
    assert (!streq (wb_msg_id (status), id_b));
    wb_msg_destroy (&status);
    wb_msg_destroy (&copy);

    //  A tampered content frame fails verification
    wire = wb_msg_encode (request, signer);
    zframe_t *content = zmsg_first (wire);
    for (int i = 0; i < 6; i++)         //  ids, delimiter, signature, header,
        content = zmsg_next (wire);     //  parent, metadata: then content
    zframe_reset (content, "{\"code\": \"rm -rf /\"}", 20);
    assert (wb_msg_decode (&wire, signer, &err) == NULL);
    assert (wire == NULL);

    //  Wrong key
    wb_signer_t *other = wb_signer_new ("other-key", "hmac-sha256", NULL);
    wire = wb_msg_encode (request, signer);
    assert (wb_msg_decode (&wire, other, &err) == NULL);
    assert (streq (err.text, "bad message signature"));
    wb_signer_destroy (&other);

    //  No delimiter, truncated, bad JSON
    wire = zmsg_new ();
    zmsg_addstr (wire, "hello");
    assert (wb_msg_decode (&wire, signer, &err) == NULL);
    assert (strstr (err.text, "delimiter"));
    wire = zmsg_new ();
    zmsg_addstr (wire, "<IDS|MSG>");
    zmsg_addstr (wire, "abc");
    assert (wb_msg_decode (&wire, signer, &err) == NULL);
    assert (strstr (err.text, "truncated"));

    wb_signer_t *open = wb_signer_new ("", "", NULL);
    wire = zmsg_new ();
    zmsg_addstr (wire, "<IDS|MSG>");
    zmsg_addstr (wire, "");
    zmsg_addstr (wire, "{not json");
    zmsg_addstr (wire, "{}");
    zmsg_addstr (wire, "{}");
    zmsg_addstr (wire, "{}");
    assert (wb_msg_decode (&wire, open, &err) == NULL);
    assert (strstr (err.text, "header frame is not valid JSON"));
    wire = zmsg_new ();
    zmsg_addstr (wire, "<IDS|MSG>");
    zmsg_addstr (wire, "");
    zmsg_addstr (wire, "{\"msg_id\": \"x\"}");
    zmsg_addstr (wire, "{}");
    zmsg_addstr (wire, "{}");
    zmsg_addstr (wire, "{}");
    assert (wb_msg_decode (&wire, open, &err) == NULL);
    assert (strstr (err.text, "msg_type"));

    //  A readable header with content that is not (a number of 2^63, bad
    //  UTF-8, not an object): the message stays, its content is {}
    const char *contents [] = {
        "{\"cursor_pos\": 9223372036854775808}", "{\"code\": \"\xff\"}", "[1]", NULL
    };
    for (int i = 0; contents [i]; i++) {
        wire = zmsg_new ();
        zmsg_addstr (wire, "peer");
        zmsg_addstr (wire, "<IDS|MSG>");
        zmsg_addstr (wire, "");
        zmsg_addstr (wire, "{\"msg_id\": \"m1\", \"msg_type\": \"complete_request\"}");
        zmsg_addstr (wire, "{}");
        zmsg_addstr (wire, "{}");
        zmsg_addstr (wire, contents [i]);
        wb_msg_t *partial = wb_msg_decode (&wire, open, &err);
        assert (partial && wire == NULL);
        assert (streq (wb_msg_type (partial), "complete_request"));
        assert (wb_msg_ids (partial) == 1);
        assert (json_object_size (wb_msg_content (partial)) == 0);
        assert (wb_msg_unreadable (partial) && strstr (wb_msg_unreadable (partial), "content"));
        wb_msg_destroy (&partial);
    }
    //  A NUL in a string is read (the kernel refuses such a cell itself)
    wire = zmsg_new ();
    zmsg_addstr (wire, "<IDS|MSG>");
    zmsg_addstr (wire, "");
    zmsg_addstr (wire, "{\"msg_type\": \"execute_request\"}");
    zmsg_addstr (wire, "{}");
    zmsg_addstr (wire, "{}");
    zmsg_addstr (wire, "{\"code\": \"a\\u0000b\"}");
    wb_msg_t *nul = wb_msg_decode (&wire, open, &err);
    assert (nul && wb_msg_unreadable (nul) == NULL);
    assert (json_string_length (json_object_get (wb_msg_content (nul), "code")) == 3);
    wb_msg_destroy (&nul);
    //  ... but not in the message type
    wire = zmsg_new ();
    zmsg_addstr (wire, "<IDS|MSG>");
    zmsg_addstr (wire, "");
    zmsg_addstr (wire, "{\"msg_type\": \"kernel_info_request\\u0000x\"}");
    zmsg_addstr (wire, "{}");
    zmsg_addstr (wire, "{}");
    zmsg_addstr (wire, "{}");
    assert (wb_msg_decode (&wire, open, &err) == NULL);
    assert (strstr (err.text, "msg_type"));
    wb_signer_destroy (&open);

    wb_msg_destroy (&request);
    wb_msg_source_destroy (&client);
    wb_msg_source_destroy (&kernel);
    wb_signer_destroy (&signer);
    assert (signer == NULL);
}
//  @end
