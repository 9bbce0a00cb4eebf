/*  wb_utf8 - code points versus bytes: Jupyter counts cursor positions in
    Unicode code points, C strings count bytes.
*/
#ifndef WB_UTF8_H
#define WB_UTF8_H

#include <stdbool.h>
#include <stddef.h>

//  Byte offset of code point index cp in text (clamped to the end).
size_t
    wb_utf8_offset (const char *text, size_t cp);
//  Number of code points in the first size bytes of text.
size_t
    wb_utf8_count (const char *text, size_t size);
//  True when text[0..size) is valid UTF-8.
bool
    wb_utf8_valid (const char *text, size_t size);

void
    wb_utf8_test (bool verbose);

#endif
