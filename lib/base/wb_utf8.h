/*  wb_utf8 - code points versus bytes: Jupyter counts cursor positions in
    Unicode code points, C strings count bytes; and any bytes from outside
    (a program's output, a file, a log) made into valid UTF-8 before they
    become a message or a stored text.
*/
#ifndef WB_UTF8_H
#define WB_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

//  Byte offset of code point index cp in text (clamped to the end).
size_t
    wb_utf8_offset (const char *text, size_t cp);
//  Number of code points in the first size bytes of text.
size_t
    wb_utf8_count (const char *text, size_t size);
//  True when text[0..size) is valid UTF-8.
bool
    wb_utf8_valid (const char *text, size_t size);

//  A copy of text[0..size) that is valid UTF-8: each invalid piece (a stray
//  byte, an overlong form, a surrogate, a code point above U+10FFFF, a
//  sequence cut short, at the end too) becomes U+FFFD, the maximal-subpart
//  way Jupyter's own kernels decode with errors="replace". A NUL byte also
//  becomes U+FFFD, so the result is a C string that holds all of the input
//  (jansson and every sink read texts up to their NUL). text may be NULL
//  when size is 0. Caller owns the return value and must free it.
char *
    wb_utf8_valid_dup (const char *text, size_t size);
//  A jansson string of text[0..size) made valid as wb_utf8_valid_dup does.
//  Never NULL (out of memory aborts); caller owns the reference.
json_t *
    wb_utf8_json (const char *text, size_t size);
//  The largest length <= size that does not end inside a character: when
//  text[0..size) ends with the first bytes of a valid multi-byte character
//  (1 to 3 bytes), the length before them; else size. For truncating a
//  text at size bytes and for holding back the unfinished end of a stream
//  chunk until the next chunk completes it. Invalid bytes are not cut
//  (wb_utf8_valid_dup replaces them).
size_t
    wb_utf8_cut (const char *text, size_t size);
//  The number of continuation bytes (0 to 3) that open text[0..size): the
//  rest of a character whose start was cut off, as when a tail of a log is
//  taken from the middle. Skip them to start on a character.
size_t
    wb_utf8_skip (const char *text, size_t size);

void
    wb_utf8_test (bool verbose);

#endif
