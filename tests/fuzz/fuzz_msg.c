/*  fuzz_msg - the Jupyter wire message decoder (kernel/wb_msg.c)

    Input: one mode byte, then the frames of a multipart message separated
    by the byte 0x1e (so a frame can hold any other byte, NUL included):

        mode  frames...  ("<IDS|MSG>" delimits the routing ids, then come
                          the signature, header, parent, metadata, content
                          and buffers, as on the wire)

    mode % 3 == 0  the frames as given, checked under the key "fuzz-key"
                   (real messages signed by jupyter_client pass; any
                   change to them is a bad signature)
    mode % 3 == 1  the frame after the delimiter is replaced by the right
                   signature of the four frames after it, so that mutated
                   JSON reaches the decoding behind the signature check
    mode % 3 == 2  no key: nothing is checked (a kernel started with an
                   empty key)

    A message that decodes must encode again and decode to the same type.
*/
#include "fuzz.h"
#include "kernel/wb_msg.h"

#define S_KEY "fuzz-key"

static wb_signer_t *s_signer;   //  hmac-sha256 under S_KEY
static wb_signer_t *s_open;     //  no key

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc; (void) argv;
    s_signer = wb_signer_new (S_KEY, "hmac-sha256", NULL);
    s_open = wb_signer_new ("", "", NULL);
    assert (s_signer && s_open);
    return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    int mode = data [0] % 3;
    wb_signer_t *signer = mode == 2? s_open: s_signer;
    zmsg_t *zmsg = zmsg_new ();
    const uint8_t *start = data + 1, *end = data + size;
    while (true) {
        const uint8_t *stop = memchr (start, 0x1e, (size_t) (end - start));
        zmsg_addmem (zmsg, start, (size_t) ((stop? stop: end) - start));
        if (!stop)
            break;
        start = stop + 1;
    }
    if (mode == 1) {
        //  Sign the four frames after the delimiter into the frame after it
        zframe_t *frame = zmsg_first (zmsg);
        while (frame && !zframe_streq (frame, "<IDS|MSG>"))
            frame = zmsg_next (zmsg);
        zframe_t *signature = frame? zmsg_next (zmsg): NULL;
        //  (zmsg_next wraps around to the first frame after the last)
        zframe_t *parts [4] = { NULL, NULL, NULL, NULL };
        for (int i = 0; signature && i < 4 && (i == 0 || parts [i - 1]); i++)
            parts [i] = zmsg_next (zmsg);
        if (parts [0] && parts [1] && parts [2] && parts [3]) {
            char hex [65];
            wb_signer_sign (signer, parts, hex);
            zframe_reset (signature, hex, strlen (hex));
        }
    }
    wb_error_t err;
    wb_msg_t *msg = wb_msg_decode (&zmsg, signer, &err);
    assert (zmsg == NULL);
    if (msg) {
        assert (wb_msg_type (msg));
        assert (json_is_object (wb_msg_header (msg)));
        assert (json_is_object (wb_msg_parent (msg)));
        assert (json_is_object (wb_msg_metadata (msg)));
        assert (json_is_object (wb_msg_content (msg)));
        (void) wb_msg_id (msg);
        //  What we read we can write, and read back
        zmsg_t *again = wb_msg_encode (msg, signer);
        wb_msg_t *copy = wb_msg_decode (&again, signer, &err);
        if (!copy) {
            fprintf (stderr, "fuzz_msg: a decoded message does not decode again: %s\n",
                     err.text);
            abort ();
        }
        assert (streq (wb_msg_type (copy), wb_msg_type (msg)));
        assert (wb_msg_ids (copy) == wb_msg_ids (msg));
        wb_msg_destroy (&copy);
        wb_msg_destroy (&msg);
    }
    else
        assert (*err.text);
    return 0;
}
