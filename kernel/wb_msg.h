/*  wb_msg - one Jupyter message: routing ids, header, parent header,
    metadata, content and buffers; its wire framing and its HMAC signature

    Wire format (messaging spec 5.3):
        [ids ...] "<IDS|MSG>" signature header parent_header metadata content [buffers ...]
    The signature is the lowercase hex HMAC-SHA256 of the four JSON frames
    under the connection key; with an empty key it is "" and not checked.
*/
#ifndef WB_MSG_H
#define WB_MSG_H

#include <stdbool.h>
#include <czmq.h>
#include <jansson.h>
#include "base/wb_error.h"

typedef struct _wb_msg_t wb_msg_t;
typedef struct _wb_signer_t wb_signer_t;

//  ---- Signer: the connection key ----

//  A signer for key under scheme ("hmac-sha256", or "" / NULL when the key
//  is empty). NULL with err filled for an unsupported scheme.
wb_signer_t *
    wb_signer_new (const char *key, const char *scheme, wb_error_t *err);
void
    wb_signer_destroy (wb_signer_t **self_p);
//  Sign the four frames into hex (65 bytes: 64 digits and NUL; "" when
//  there is no key).
void
    wb_signer_sign (wb_signer_t *self, zframe_t *frames [4], char *hex);
//  Check a signature in constant time; true when it matches (always true
//  when there is no key).
bool
    wb_signer_verify (wb_signer_t *self, zframe_t *frames [4], zframe_t *signature);

//  ---- Message source: who sends ----

typedef struct _wb_msg_source_t wb_msg_source_t;

//  A sender with a fresh session id and the user's name, both worked out
//  once; message ids are the session id and a counter.
wb_msg_source_t *
    wb_msg_source_new (void);
void
    wb_msg_source_destroy (wb_msg_source_t **self_p);
const char *
    wb_msg_source_session (wb_msg_source_t *self);

//  ---- Messages ----

//  A new message of msg_type from source (its header filled: fresh
//  msg_id, date, username, session, version 5.3), with empty parent,
//  metadata and content.
wb_msg_t *
    wb_msg_new (const char *msg_type, wb_msg_source_t *source);
//  A new message answering or caused by parent: parent header = parent's
//  header; with route, the same routing ids (replies), without, none
//  (iopub broadcasts).
wb_msg_t *
    wb_msg_new_for (wb_msg_t *parent, const char *msg_type, wb_msg_source_t *source,
                    bool route);
void
    wb_msg_destroy (wb_msg_t **self_p);

//  Take a multipart message off the wire (destroys *zmsg_p): split, verify,
//  parse. NULL with err filled for a bad or missing signature, a missing
//  delimiter or frame, or a header that is not a JSON object with a
//  msg_type. A parent header, metadata or content that cannot be read
//  (invalid JSON, a number too big for 64 bits, not an object) does not
//  lose the message: that part is {} and wb_msg_unreadable says why, so
//  that a request can still be answered. Strings may hold NUL characters
//  (json_string_length tells).
wb_msg_t *
    wb_msg_decode (zmsg_t **zmsg_p, wb_signer_t *signer, wb_error_t *err);
//  Frame and sign the message for the wire; caller owns the return value.
zmsg_t *
    wb_msg_encode (wb_msg_t *self, wb_signer_t *signer);
//  Encode and send on sock; destroys *self_p. Returns 0 or -1.
int
    wb_msg_send (wb_msg_t **self_p, zsock_t *sock, wb_signer_t *signer);

//  Parts (lent; change them in place).
const char *
    wb_msg_type (wb_msg_t *self);
const char *
    wb_msg_id (wb_msg_t *self);
json_t *
    wb_msg_header (wb_msg_t *self);
json_t *
    wb_msg_parent (wb_msg_t *self);
json_t *
    wb_msg_metadata (wb_msg_t *self);
json_t *
    wb_msg_content (wb_msg_t *self);
//  Why the parent header, metadata or content could not be read (each
//  such part is {}), or NULL when the whole message was read.
const char *
    wb_msg_unreadable (wb_msg_t *self);
//  Replace the content; steals content.
void
    wb_msg_set_content_new (wb_msg_t *self, json_t *content);
//  Routing ids: how many, and a copy of them for another message.
size_t
    wb_msg_ids (wb_msg_t *self);
void
    wb_msg_copy_ids (wb_msg_t *self, wb_msg_t *source);

//  A fresh random UUID (version 4) as text into buf (37 bytes).
void
    wb_uuid (char *buf);

void
    wb_msg_test (bool verbose);

#endif
