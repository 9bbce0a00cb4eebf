/*  fuzz_cells - how a cell is split into lines, magics and words for
    completion, inspection and is_complete (magics/wb_complete.c, through wb_magics)

    Input: two bytes of cursor position (little-endian, taken modulo the
    length), then the cell. Executing a cell would run its shell lines, so
    this target goes through the three read-only entries that take a cell
    apart the same way: wb_magics_complete (which also lists folders and
    reads an empty workspace), wb_magics_inspect and wb_magics_is_complete
    (which asks `bash -n` about shell lines; -n reads without running).
    Each magic line's words are fuzzed through fuzz_args as well.
*/
#include "fuzz.h"
#include "magics/wb_magics.h"

static wb_magics_t *s_magics;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc; (void) argv;
    //  No workspace is found or made: completion that asks for runs sees none
    char *none = wb_sprintf ("%s/no-workspace", s_fuzz_scratch ());
    setenv ("WORKBENCH_WORKSPACE", none, 1);
    free (none);
    s_magics = wb_magics_new ();
    return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t cursor = (size_t) data [0] | (size_t) data [1] << 8;
    char *code = s_fuzz_text (data + 2, size - 2);
    size_t length = strlen (code);
    cursor %= length + 1;

    size_t start = 0, end = 0;
    json_t *matches = wb_magics_complete (s_magics, code, cursor, &start, &end);
    assert (json_is_array (matches));
    assert (start <= end && end == cursor);
    size_t index;
    json_t *match;
    json_array_foreach (matches, index, match)
        assert (json_is_string (match));
    json_decref (matches);
    //  A cursor past the end counts as the end
    matches = wb_magics_complete (s_magics, code, length + 7, &start, &end);
    assert (end == length);
    json_decref (matches);

    char *help = wb_magics_inspect (s_magics, code, cursor);
    free (help);

    const char *status = wb_magics_is_complete (s_magics, code);
    assert (streq (status, "complete") || streq (status, "incomplete")
         || streq (status, "invalid"));
    free (code);
    return 0;
}
