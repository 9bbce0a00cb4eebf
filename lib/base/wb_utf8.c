/*  wb_utf8 - code points versus bytes: Jupyter counts cursor positions in
    Unicode code points, C strings count bytes.

    One decoder step serves all three functions. It follows the Unicode
    "maximal subpart" rule: an invalid sequence is cut at the first byte
    that cannot continue it, and each such piece counts as one code point,
    as a U+FFFD replacement would in the front end. So counting and offsets
    stay consistent with each other on any bytes, valid or not; and the
    same pieces are what wb_utf8_valid_dup replaces with U+FFFD.
*/
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "wb_utf8.h"

//  Decode the sequence at text[0..size), size > 0. Returns the number of
//  bytes it takes (at least 1) and sets *valid_p. Rejects overlong forms
//  (C0, C1, E0 80..9F, F0 80..8F), surrogates (ED A0..BF), code points
//  above U+10FFFF (F4 90.., F5..FF), stray continuation bytes and
//  sequences cut short.
static size_t
s_step (const unsigned char *text, size_t size, bool *valid_p)
{
    unsigned char lead = text [0];
    size_t need;                //  continuation bytes the lead announces
    unsigned char low = 0x80;   //  smallest allowed second byte
    unsigned char high = 0xBF;  //  largest allowed second byte

    if (lead < 0x80) {
        *valid_p = true;
        return 1;
    }
    else if (lead >= 0xC2 && lead <= 0xDF)
        need = 1;
    else if (lead == 0xE0) {
        need = 2;
        low = 0xA0;             //  E0 80..9F would be overlong
    }
    else if (lead == 0xED) {
        need = 2;
        high = 0x9F;            //  ED A0..BF would be a surrogate
    }
    else if (lead >= 0xE1 && lead <= 0xEF)
        need = 2;
    else if (lead == 0xF0) {
        need = 3;
        low = 0x90;             //  F0 80..8F would be overlong
    }
    else if (lead >= 0xF1 && lead <= 0xF3)
        need = 3;
    else if (lead == 0xF4) {
        need = 3;
        high = 0x8F;            //  F4 90.. would be above U+10FFFF
    }
    else {
        *valid_p = false;       //  80..BF, C0, C1, F5..FF never start one
        return 1;
    }
    size_t taken = 1;
    while (taken <= need && taken < size) {
        unsigned char byte = text [taken];
        if (byte < (taken == 1? low: 0x80) || byte > (taken == 1? high: 0xBF))
            break;
        taken++;
    }
    *valid_p = taken == need + 1;
    return taken;
}

size_t
wb_utf8_offset (const char *text, size_t cp)
{
    assert (text);
    const unsigned char *bytes = (const unsigned char *) text;
    size_t size = strlen (text);
    size_t offset = 0;
    bool valid;
    while (cp > 0 && offset < size) {
        offset += s_step (bytes + offset, size - offset, &valid);
        cp--;
    }
    return offset;
}

size_t
wb_utf8_count (const char *text, size_t size)
{
    assert (text || size == 0);
    const unsigned char *bytes = (const unsigned char *) text;
    size_t offset = 0;
    size_t count = 0;
    bool valid;
    while (offset < size) {
        offset += s_step (bytes + offset, size - offset, &valid);
        count++;
    }
    return count;
}

bool
wb_utf8_valid (const char *text, size_t size)
{
    assert (text || size == 0);
    const unsigned char *bytes = (const unsigned char *) text;
    size_t offset = 0;
    bool valid = true;
    while (offset < size && valid)
        offset += s_step (bytes + offset, size - offset, &valid);
    return valid;
}

char *
wb_utf8_valid_dup (const char *text, size_t size)
{
    assert (text || size == 0);
    const unsigned char *bytes = (const unsigned char *) text;
    //  Each input byte becomes at most 3 output bytes (one U+FFFD)
    char *copy = malloc (size * 3 + 1);
    if (!copy) {
        fprintf (stderr, "wb_utf8: out of memory\n");
        abort ();
    }
    size_t offset = 0;
    size_t length = 0;
    while (offset < size) {
        bool valid;
        size_t taken = s_step (bytes + offset, size - offset, &valid);
        if (valid && bytes [offset] != 0) {
            memcpy (copy + length, text + offset, taken);
            length += taken;
        }
        else {
            memcpy (copy + length, "\xef\xbf\xbd", 3);
            length += 3;
        }
        offset += taken;
    }
    copy [length] = 0;
    return copy;
}

json_t *
wb_utf8_json (const char *text, size_t size)
{
    json_t *string;
    //  The common case, valid text without NUL, needs no copy
    if (wb_utf8_valid (text, size) && (size == 0 || !memchr (text, 0, size)))
        string = json_stringn_nocheck (size? text: "", size);
    else {
        char *copy = wb_utf8_valid_dup (text, size);
        string = json_string_nocheck (copy);
        free (copy);
    }
    if (!string) {
        fprintf (stderr, "wb_utf8: out of memory\n");
        abort ();
    }
    return string;
}

size_t
wb_utf8_cut (const char *text, size_t size)
{
    assert (text || size == 0);
    const unsigned char *bytes = (const unsigned char *) text;
    //  Find the last byte that could start a character, at most 3 back
    size_t back = 1;
    while (back <= 3 && back <= size) {
        unsigned char byte = bytes [size - back];
        if (byte < 0x80 || byte > 0xBF)
            break;
        back++;
    }
    if (back > 3 || back > size)
        return size;            //  none: all continuation bytes, or empty
    size_t start = size - back;
    bool valid;
    size_t taken = s_step (bytes + start, back, &valid);
    //  Cut only a valid start that the end of text left unfinished
    if (!valid && taken == back
    &&  bytes [start] >= 0xC2 && bytes [start] <= 0xF4) {
        size_t need = bytes [start] >= 0xF0? 4: bytes [start] >= 0xE0? 3: 2;
        if (back < need)
            return start;
    }
    return size;
}

size_t
wb_utf8_skip (const char *text, size_t size)
{
    assert (text || size == 0);
    const unsigned char *bytes = (const unsigned char *) text;
    size_t skip = 0;
    while (skip < 3 && skip < size && bytes [skip] >= 0x80 && bytes [skip] <= 0xBF)
        skip++;
    return skip;
}

//  @selftest
void
wb_utf8_test (bool verbose)
{
    //  h é l l o ' ' € 𝄞: 8 code points in 1+2+1+1+1+1+3+4 = 14 bytes
    const char *text = "h\xc3\xa9llo \xe2\x82\xac\xf0\x9d\x84\x9e";
    assert (strlen (text) == 14);
    assert (wb_utf8_valid (text, 14));
    assert (wb_utf8_count (text, 14) == 8);
    assert (wb_utf8_count (text, 3) == 2);      //  "hé"
    assert (wb_utf8_count (text, 10) == 7);     //  up to and with "€"
    assert (wb_utf8_count (text, 0) == 0);
    assert (wb_utf8_count (NULL, 0) == 0);
    assert (wb_utf8_offset (text, 0) == 0);
    assert (wb_utf8_offset (text, 1) == 1);     //  "é" starts at byte 1
    assert (wb_utf8_offset (text, 2) == 3);     //  first "l"
    assert (wb_utf8_offset (text, 6) == 7);     //  "€"
    assert (wb_utf8_offset (text, 7) == 10);    //  "𝄞"
    assert (wb_utf8_offset (text, 8) == 14);    //  the end
    assert (wb_utf8_offset (text, 100) == 14);  //  clamped
    assert (wb_utf8_offset ("", 3) == 0);
    //  Offsets and counts are inverse on code point boundaries
    for (size_t cp = 0; cp <= 8; cp++)
        assert (wb_utf8_count (text, wb_utf8_offset (text, cp)) == cp);
    //  A cursor in "print('é')" after the closing quote: code point 9,
    //  byte 10
    assert (wb_utf8_offset ("print('\xc3\xa9')", 9) == 10);

    //  Valid edges: U+0000 inside size, U+007F, U+0080, U+07FF, U+0800,
    //  U+D7FF, U+E000, U+FFFF, U+10000, U+10FFFF
    assert (wb_utf8_valid ("a\0b", 3));
    assert (wb_utf8_valid ("\x7f", 1));
    assert (wb_utf8_valid ("\xc2\x80", 2));
    assert (wb_utf8_valid ("\xdf\xbf", 2));
    assert (wb_utf8_valid ("\xe0\xa0\x80", 3));
    assert (wb_utf8_valid ("\xed\x9f\xbf", 3));
    assert (wb_utf8_valid ("\xee\x80\x80", 3));
    assert (wb_utf8_valid ("\xef\xbf\xbf", 3));
    assert (wb_utf8_valid ("\xf0\x90\x80\x80", 4));
    assert (wb_utf8_valid ("\xf4\x8f\xbf\xbf", 4));
    assert (wb_utf8_valid ("", 0));

    //  Invalid: overlongs, surrogates, beyond U+10FFFF, truncated, stray
    assert (!wb_utf8_valid ("\xc0\xaf", 2));            //  overlong '/'
    assert (!wb_utf8_valid ("\xc1\xbf", 2));            //  overlong DEL
    assert (!wb_utf8_valid ("\xe0\x80\xaf", 3));        //  overlong '/'
    assert (!wb_utf8_valid ("\xe0\x9f\xbf", 3));        //  overlong U+07FF
    assert (!wb_utf8_valid ("\xf0\x80\x80\xaf", 4));    //  overlong '/'
    assert (!wb_utf8_valid ("\xf0\x8f\xbf\xbf", 4));    //  overlong U+FFFF
    assert (!wb_utf8_valid ("\xed\xa0\x80", 3));        //  U+D800
    assert (!wb_utf8_valid ("\xed\xbf\xbf", 3));        //  U+DFFF
    assert (!wb_utf8_valid ("\xf4\x90\x80\x80", 4));    //  U+110000
    assert (!wb_utf8_valid ("\xf5\x80\x80\x80", 4));
    assert (!wb_utf8_valid ("\xff", 1));
    assert (!wb_utf8_valid ("\x80", 1));                //  stray continuation
    assert (!wb_utf8_valid ("a\xe2\x82", 3));           //  "€" cut short
    assert (!wb_utf8_valid ("\xe2\x82" "a", 3));        //  ... and followed
    assert (!wb_utf8_valid ("\xf0\x9d\x84", 3));        //  "𝄞" cut short
    assert (!wb_utf8_valid (text, 13));                 //  cut by size
    assert (!wb_utf8_valid ("ok\xc3", 3));

    //  Invalid pieces count as one code point each (maximal subparts),
    //  like U+FFFD replacements
    assert (wb_utf8_count ("\xe2\x82" "a", 3) == 2);
    assert (wb_utf8_count ("\xc0\xaf", 2) == 2);
    assert (wb_utf8_count ("\xed\xa0\x80", 3) == 3);
    assert (wb_utf8_count ("\xf0\x9d\x84" "x", 4) == 2);
    assert (wb_utf8_offset ("\xe2\x82" "ab", 1) == 2);
    assert (wb_utf8_count (text, 13) == 8);             //  cut "𝄞" is one

    //  Made valid: each maximal invalid piece becomes one U+FFFD
#   define FFFD "\xef\xbf\xbd"
    struct { const char *in; size_t size; const char *out; } cases [] = {
        { "plain", 5, "plain" },
        { "", 0, "" },
        { "h\xc3\xa9", 3, "h\xc3\xa9" },                  //  valid stays
        { "\xff", 1, FFFD },                               //  printf '\xff'
        { "caf\xe9!", 5, "caf" FFFD "!" },                 //  Latin-1 "café!"
        { "\xc0\xaf", 2, FFFD FFFD },                      //  overlong
        { "\xe0\x80\xaf", 3, FFFD FFFD FFFD },             //  overlong
        { "\xed\xa0\x80", 3, FFFD FFFD FFFD },             //  surrogate
        { "\xf4\x90\x80\x80", 4, FFFD FFFD FFFD FFFD },    //  > U+10FFFF
        { "a\xe2\x82", 3, "a" FFFD },                      //  cut at the end
        { "\xe2\x82" "a", 3, FFFD "a" },                   //  cut, followed
        { "\xf0\x9d\x84" "x", 4, FFFD "x" },
        { "a\0b", 3, "a" FFFD "b" },                        //  NUL
        { "\x80\x80", 2, FFFD FFFD },                      //  strays
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases [0]; index++) {
        char *copy = wb_utf8_valid_dup (cases [index].in, cases [index].size);
        assert (strcmp (copy, cases [index].out) == 0);
        assert (wb_utf8_valid (copy, strlen (copy)));
        free (copy);
        json_t *string = wb_utf8_json (cases [index].in, cases [index].size);
        assert (string && json_is_string (string));
        assert (strcmp (json_string_value (string), cases [index].out) == 0);
        assert (json_string_length (string) == strlen (cases [index].out));
        json_decref (string);
    }
    char *empty = wb_utf8_valid_dup (NULL, 0);
    assert (empty && *empty == 0);
    free (empty);
    json_t *nothing = wb_utf8_json (NULL, 0);
    assert (strcmp (json_string_value (nothing), "") == 0);
    json_decref (nothing);
    //  Random bytes always come out valid
    unsigned int seed = 12;
    for (int round = 0; round < 200; round++) {
        char noise [64];
        for (size_t index = 0; index < sizeof noise; index++) {
            seed = seed * 1103515245u + 12345u;
            noise [index] = (char) (seed >> 16);
        }
        char *copy = wb_utf8_valid_dup (noise, sizeof noise);
        assert (wb_utf8_valid (copy, strlen (copy)));
        assert (wb_utf8_count (copy, strlen (copy))
             == wb_utf8_count (noise, sizeof noise));
        free (copy);
    }
#   undef FFFD

    //  Cut: never end inside a character, never drop invalid bytes
    assert (wb_utf8_cut (text, 14) == 14);
    assert (wb_utf8_cut (text, 13) == 10);      //  inside "𝄞": before it
    assert (wb_utf8_cut (text, 12) == 10);
    assert (wb_utf8_cut (text, 11) == 10);
    assert (wb_utf8_cut (text, 10) == 10);
    assert (wb_utf8_cut (text, 9) == 7);        //  inside "€"
    assert (wb_utf8_cut (text, 2) == 1);        //  inside "é"
    assert (wb_utf8_cut (text, 0) == 0);
    assert (wb_utf8_cut (NULL, 0) == 0);
    assert (wb_utf8_cut ("\xc3", 1) == 0);      //  printf '\xc3' alone
    assert (wb_utf8_cut ("ab\xff", 3) == 3);    //  invalid: kept, replaced
    assert (wb_utf8_cut ("ab\xc0", 3) == 3);    //  C0 never starts one
    assert (wb_utf8_cut ("a\xe0\x80", 3) == 3); //  overlong start: invalid
    assert (wb_utf8_cut ("a\xed\xa0", 3) == 3); //  surrogate start: invalid
    assert (wb_utf8_cut ("\x80\x80\x80\x80", 4) == 4);
    for (size_t size = 0; size <= 14; size++)
        assert (wb_utf8_valid (text, wb_utf8_cut (text, size)));
    //  Skip: the rest of a character cut at the start of a tail
    assert (wb_utf8_skip (text + 11, 3) == 3);
    assert (wb_utf8_skip (text + 2, 12) == 1);    //  the end of "é"
    assert (wb_utf8_skip (text + 3, 11) == 0);
    assert (wb_utf8_skip (text + 8, 6) == 2);
    assert (wb_utf8_skip ("\x80\x80\x80\x80", 4) == 3);
    assert (wb_utf8_skip (NULL, 0) == 0);

    if (verbose)
        printf ("wb_utf8: '%s' is %zu code points in %zu bytes\n",
                text, wb_utf8_count (text, strlen (text)), strlen (text));
}
//  @end
