/*  fuzz_args - the word splitter and flag parser of every magic line and
    of the command-line tool (lib/cell/wb_args.c)

    Input: a magic's line as typed after its name. It is split into words
    as the dispatcher does, parsed against a table with each kind of flag
    (boolean, valued, repeatable; long and short), and every positional
    word is read as key=value, a whole number and a number, as magics do.
*/
#include "fuzz.h"
#include "cell/wb_args.h"

static const wb_opt_t s_opts [] = {
    { "all",    'a', WB_OPT_BOOL },
    { "name",   'n', WB_OPT_VALUE },
    { "limit",  'l', WB_OPT_VALUE },
    { "tag",    't', WB_OPT_MULTI },
    { "filter",  0,  WB_OPT_VALUE },
    { "sort",    0,  WB_OPT_VALUE },
    { "yes",    'y', WB_OPT_BOOL },
    { NULL,      0,  WB_OPT_BOOL }
};

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char *line = s_fuzz_text (data, size);
    bool unclosed = wb_words_unclosed (line);
    wb_error_t err;
    int count = -1;
    char **words = wb_words_split (line, &count, &err);
    if (!words) {
        //  Only an open quote makes a line unsplittable, and it says where
        assert (unclosed && count == 0);
        assert (strstr (err.text, "unclosed") && strstr (err.text, "column"));
        free (line);
        return 0;
    }
    assert (count >= 0 && words [count] == NULL);
    for (int i = 0; i < count; i++)
        assert (words [i]);

    wb_args_t *args = wb_args_parse (count, words, s_opts, &err);
    if (args) {
        for (const wb_opt_t *opt = s_opts; opt->name; opt++) {
            bool has = wb_args_has (args, opt->name);
            const char *value = wb_args_get (args, opt->name);
            size_t values = wb_args_count (args, opt->name);
            assert (has || (!value && values == 0));
            for (size_t i = 0; i < values; i++)
                assert (wb_args_nth (args, opt->name, i));
            assert (!wb_args_nth (args, opt->name, values));
        }
        const char *limit = wb_args_get (args, "limit");
        long number;
        if (limit)
            wb_args_long (limit, "--limit", &number, &err);
        size_t npos = wb_args_npos (args);
        assert (npos <= (size_t) count);
        for (size_t i = 0; i < npos; i++) {
            const char *word = wb_args_pos (args, i);
            assert (word);
            const char *value = NULL;
            char *key = wb_args_kv (word, &value);
            if (key) {
                assert (*key && value && value [-1] == '=');
                free (key);
            }
            double real;
            if (wb_args_double (word, "a value", &real, &err) == 0)
                assert (real == real);
            wb_args_long (word, "a value", &number, &err);
        }
        assert (!wb_args_pos (args, npos));
        wb_args_destroy (&args);
    }
    else
        assert (*err.text);
    wb_words_free (&words);
    assert (words == NULL);
    free (line);
    return 0;
}
