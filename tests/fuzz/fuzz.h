/*  fuzz - what the libFuzzer targets in tests/fuzz/ share

    Each fuzz_TARGET.c defines LLVMFuzzerTestOneInput and feeds the bytes
    to one parser through the entry the product uses. This header gives
    them a NUL-terminated copy of the input, a split at a separator, and a
    scratch folder under /tmp that is removed when the fuzzer exits.
    Everything here is static: each target is one translation unit.
*/
#ifndef WB_FUZZ_H
#define WB_FUZZ_H

#include <assert.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "base/wb_util.h"

//  A NUL-terminated copy of size bytes of data (caller frees). Parsers
//  that take a C string see the input up to its first NUL, as they would
//  from a caller.
static inline char *
s_fuzz_text (const uint8_t *data, size_t size)
{
    char *text = wb_malloc (size + 1);
    if (size)
        memcpy (text, data, size);
    text [size] = 0;
    return text;
}

//  Split text in place at the first separator: returns the part after it
//  (text ends before it), or "" when there is none.
static inline char *
s_fuzz_split (char *text, const char *separator)
{
    char *at = strstr (text, separator);
    if (!at)
        return text + strlen (text);
    *at = 0;
    return at + strlen (separator);
}

//  ---- A scratch folder, removed at exit ----

static char s_fuzz_scratch_path [64];

static inline int
s_fuzz_remove (const char *path, const struct stat *info, int flag, struct FTW *ftw)
{
    (void) info; (void) flag; (void) ftw;
    return remove (path);
}

static inline void
s_fuzz_scratch_remove (void)
{
    if (*s_fuzz_scratch_path)
        nftw (s_fuzz_scratch_path, s_fuzz_remove, 16, FTW_DEPTH | FTW_PHYS);
}

//  The scratch folder (made on the first call), lent.
static inline const char *
s_fuzz_scratch (void)
{
    if (!*s_fuzz_scratch_path) {
        strcpy (s_fuzz_scratch_path, "/tmp/wb-fuzz-XXXXXX");
        if (!mkdtemp (s_fuzz_scratch_path)) {
            perror ("fuzz: mkdtemp");
            abort ();
        }
        atexit (s_fuzz_scratch_remove);
    }
    return s_fuzz_scratch_path;
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
int LLVMFuzzerInitialize (int *argc, char ***argv);

#endif
