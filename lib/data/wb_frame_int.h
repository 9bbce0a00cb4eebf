/*  wb_frame_int - private to lib/data/wb_frame*.c: the frame's structs and
    what its parts share

    The frame is one class in three files behind this header: wb_frame.c
    (the dictionary of distinct strings, the frame, access, the self-test's
    entry), wb_frame_csv.c (values and the CSV parser), wb_frame_profile.c
    (a column's profile: counts, numbers, histogram, top values).
*/
#ifndef WB_FRAME_INT_H
#define WB_FRAME_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdatomic.h>
#include "wb_frame.h"

//  The distinct values of a column of strings. Cells hold codes: 0 for
//  missing, else an index into offsets plus one. The values sit one after
//  the other in one arena (no allocation per value), each NUL-terminated.
//  Frames made by wb_frame_select share the dictionary of their source
//  (selecting from one frame on several threads at once is safe: the count
//  of sharers is atomic, the rest is read-only once parsed).
typedef struct {
    atomic_size_t refs;         //  frames sharing this dictionary
    char *arena;                //  the values, NUL-terminated, back to back
    size_t arena_size;          //  bytes used in arena
    size_t arena_room;          //  bytes allocated
    size_t *offsets;            //  where each value starts in arena
    uint64_t *hashes;           //  the hash of each value (while parsing)
    size_t count;               //  how many values
    size_t room;                //  room in offsets and hashes
    uint64_t *slots;            //  hash table (while parsing): 0 = empty, else
                                //  the code in the low 32 bits, hash above
    size_t nslots;              //  its size, a power of two
} wb_frame__dict_t;

//  One column
typedef struct {
    char *name;                 //  from the header
    wb_col_type_t type;         //  inferred from the data
    double *numbers;            //  numeric: a value per row, NaN = missing
    uint32_t *codes;            //  otherwise: a code per row (0 = missing)
    wb_frame__dict_t *dict;     //  otherwise: what the codes stand for
} wb_frame__column_t;

struct _wb_frame_t {
    size_t rows;                //  data rows (the header is not one)
    size_t cols;                //  columns
    wb_frame__column_t *columns;    //  cols of them
    char cell [40];             //  a number as text, lent by wb_frame_text
};

//  ---- Distinct strings (wb_frame.c) ----

//  A new dictionary, one reference
wb_frame__dict_t *
    wb_frame__dict_new (void);
//  Drop a reference; the last frees it. Nulls *self_p.
void
    wb_frame__dict_release (wb_frame__dict_t **self_p);
//  The value with this code (1 and up)
const char *
    wb_frame__dict_value (wb_frame__dict_t *self, uint32_t code);
//  The code of a value, added when new
uint32_t
    wb_frame__dict_intern (wb_frame__dict_t *self, const char *text, size_t size);
//  Parsing is over: drop what only interning needs
void
    wb_frame__dict_freeze (wb_frame__dict_t *self);

//  ---- Self-tests: one per part, run by wb_frame_test ----

void
    wb_frame_csv_test (bool verbose);
void
    wb_frame_profile_test (bool verbose);
//  Parse text that must parse (wb_frame.c)
wb_frame_t *
    wb_frame__test_parse (const char *text);
//  True when the cell's text is expected (NULL: missing)
bool
    wb_frame__test_text (wb_frame_t *frame, size_t col, size_t row, const char *expected);

#endif
