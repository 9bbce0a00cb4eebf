/*  wb_history - the input history of the kernel, persisted in SQLite

    One wb_history_t owns one sqlite3 connection to the history file; all
    history SQL lives here, always as prepared statements with bound
    parameters. The file holds two tables:

        sessions (session INTEGER PRIMARY KEY, start REAL)
        history (session, line, source, output, PRIMARY KEY (session, line))

    Opening inserts a sessions row, so its rowid numbers the kernel starts
    1, 2, 3 ... Several kernels may share one file: it runs in WAL mode and
    waits up to 5 s for a lock. The queries return NULL when the database
    fails them (a locked or damaged file); the kernel then sends an empty
    history rather than failing the request.
*/
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sqlite3.h>
#include "wb_history.h"
#include "base/wb_utf8.h"
#include "base/wb_util.h"

#define WB_HISTORY_BUSY_MS  5000    //  how long to wait for another kernel's lock

struct _wb_history_t {
    sqlite3 *db;                //  connection to the history file
    int session;                //  this kernel's session number
};

static const char *s_schema =
    "CREATE TABLE IF NOT EXISTS sessions ("
    "    session INTEGER PRIMARY KEY,"
    "    start REAL);"
    "CREATE TABLE IF NOT EXISTS history ("
    "    session INTEGER,"
    "    line INTEGER,"
    "    source TEXT,"
    "    output TEXT,"
    "    PRIMARY KEY (session, line));";

//  ---- Opening ----

//  mkdir -p the folder that holds path; 0 or -1 with err filled.
static int
s_make_parents (const char *path, wb_error_t *err)
{
    char *folder = wb_strdup (path);
    char *slash = strrchr (folder, '/');
    int rc = 0;
    if (slash && slash != folder) {
        *slash = 0;
        //  Create each prefix in turn: a, a/b, a/b/c
        for (char *cursor = folder + 1; ; cursor++) {
            if (*cursor != '/' && *cursor != 0)
                continue;
            char saved = *cursor;
            *cursor = 0;
            struct stat info;
            if (mkdir (folder, 0700) && errno != EEXIST)    //  its owner's only
                rc = -1;
            else if (stat (folder, &info) == 0 && !S_ISDIR (info.st_mode)) {
                errno = ENOTDIR;
                rc = -1;
            }
            if (rc) {
                wb_error_set (err, "cannot create folder '%s' for history file '%s': %s",
                              folder, path, strerror (errno));
                break;
            }
            *cursor = saved;
            if (!saved)
                break;
        }
    }
    free (folder);
    return rc;
}

//  Fill err with why the database refused to open path.
static void
s_open_failed (sqlite3 *db, const char *path, wb_error_t *err)
{
    int code = db? sqlite3_system_errno (db): 0;
    const char *reason = db? sqlite3_errmsg (db): "out of memory";
    if (code)
        wb_error_set (err, "cannot open history file '%s': %s (%s)",
                      path, reason, strerror (code));
    else
        wb_error_set (err, "cannot open history file '%s': %s", path, reason);
}

wb_history_t *
wb_history_new (const char *path, wb_error_t *err)
{
    assert (path);
    if (s_make_parents (path, err))
        return NULL;
    sqlite3 *db = NULL;
    if (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL)
        != SQLITE_OK) {
        s_open_failed (db, path, err);
        sqlite3_close (db);
        return NULL;
    }
    sqlite3_busy_timeout (db, WB_HISTORY_BUSY_MS);
    //  Every cell ever run is in it: the file (and the -wal and -shm that
    //  SQLite makes with its mode) is its owner's only, an older one too
    for (int i = 0; i < 3; i++) {
        char *file = wb_sprintf ("%s%s", path, i == 0? "": i == 1? "-wal": "-shm");
        wb_path_private (file, false);
        free (file);
    }
    sqlite3_stmt *stmt = NULL;
    //  The first statements read the file: a file that is not a database
    //  fails here
    if (sqlite3_exec (db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL) != SQLITE_OK
    ||  sqlite3_exec (db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL) != SQLITE_OK
    ||  sqlite3_exec (db, s_schema, NULL, NULL, NULL) != SQLITE_OK
    ||  sqlite3_prepare_v2 (db, "INSERT INTO sessions (start) VALUES (?1)", -1,
                            &stmt, NULL) != SQLITE_OK
    ||  sqlite3_bind_double (stmt, 1, wb_time_now ()) != SQLITE_OK
    ||  sqlite3_step (stmt) != SQLITE_DONE) {
        s_open_failed (db, path, err);
        sqlite3_finalize (stmt);
        sqlite3_close (db);
        return NULL;
    }
    sqlite3_finalize (stmt);

    wb_history_t *self = wb_calloc (1, sizeof (wb_history_t));
    self->db = db;
    self->session = (int) sqlite3_last_insert_rowid (db);
    return self;
}

void
wb_history_destroy (wb_history_t **self_p)
{
    assert (self_p);
    wb_history_t *self = *self_p;
    if (self) {
        sqlite3_close (self->db);
        free (self);
        *self_p = NULL;
    }
}

int
wb_history_session (wb_history_t *self)
{
    assert (self);
    return self->session;
}

//  ---- Writing ----

//  Storing a line again (say, with its output once it is known) replaces it.
int
wb_history_add (wb_history_t *self, int line, const char *input,
                const char *output)
{
    assert (self);
    assert (line > 0);
    assert (input);
    sqlite3_stmt *stmt = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2 (self->db,
            "INSERT OR REPLACE INTO history (session, line, source, output)"
            " VALUES (?1, ?2, ?3, ?4)", -1, &stmt, NULL) == SQLITE_OK
    &&  sqlite3_bind_int (stmt, 1, self->session) == SQLITE_OK
    &&  sqlite3_bind_int (stmt, 2, line) == SQLITE_OK
    &&  sqlite3_bind_text (stmt, 3, input, -1, SQLITE_TRANSIENT) == SQLITE_OK
    &&  (output
         ? sqlite3_bind_text (stmt, 4, output, -1, SQLITE_TRANSIENT)
         : sqlite3_bind_null (stmt, 4)) == SQLITE_OK
    &&  sqlite3_step (stmt) == SQLITE_DONE)
        rc = 0;
    sqlite3_finalize (stmt);
    return rc;
}

//  ---- Reading ----

//  Column col as a JSON string; NULL reads as JSON null. Text that is not
//  UTF-8 (written by some other tool) gets '?' for every byte above 127,
//  since JSON strings must be UTF-8.
static json_t *
s_text (sqlite3_stmt *stmt, int col)
{
    if (sqlite3_column_type (stmt, col) == SQLITE_NULL)
        return json_null ();
    const char *text = (const char *) sqlite3_column_text (stmt, col);
    size_t size = (size_t) sqlite3_column_bytes (stmt, col);
    if (!text)
        return json_string ("");
    if (wb_utf8_valid (text, size))
        return json_stringn (text, size);
    char *ascii = wb_strndup (text, size);
    for (size_t i = 0; i < size; i++)
        if ((unsigned char) ascii [i] > 127)
            ascii [i] = '?';
    json_t *string = json_stringn (ascii, size);
    free (ascii);
    return string;
}

//  Run a prepared query whose rows are (session, line, source, output) and
//  return them as history entries; NULL when the query fails. Finalizes
//  stmt in every case.
static json_t *
s_entries (sqlite3_stmt *stmt, bool output)
{
    json_t *entries = json_array ();
    int rc;
    while ((rc = sqlite3_step (stmt)) == SQLITE_ROW) {
        json_t *input = s_text (stmt, 2);
        if (json_is_null (input)) {
            json_decref (input);
            input = json_string ("");
        }
        json_t *entry = json_array ();
        json_array_append_new (entry, json_integer (sqlite3_column_int (stmt, 0)));
        json_array_append_new (entry, json_integer (sqlite3_column_int (stmt, 1)));
        if (output) {
            json_t *pair = json_array ();
            json_array_append_new (pair, input);
            json_array_append_new (pair, s_text (stmt, 3));
            json_array_append_new (entry, pair);
        }
        else
            json_array_append_new (entry, input);
        json_array_append_new (entries, entry);
    }
    sqlite3_finalize (stmt);
    if (rc != SQLITE_DONE)
        json_decref (entries);
    return rc == SQLITE_DONE? entries: NULL;
}

//  Prepare sql on self's connection; NULL when it fails.
static sqlite3_stmt *
s_prepare (wb_history_t *self, const char *sql)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2 (self->db, sql, -1, &stmt, NULL) != SQLITE_OK) {
        sqlite3_finalize (stmt);
        return NULL;
    }
    return stmt;
}

//  n <= 0 gives an empty list: the last zero entries.
json_t *
wb_history_tail (wb_history_t *self, int n, bool output)
{
    assert (self);
    sqlite3_stmt *stmt = s_prepare (self,
        "SELECT session, line, source, output FROM ("
        "    SELECT session, line, source, output FROM history"
        "    ORDER BY session DESC, line DESC LIMIT ?1)"
        " ORDER BY session, line");
    if (!stmt)
        return NULL;
    sqlite3_bind_int (stmt, 1, n > 0? n: 0);
    return s_entries (stmt, output);
}

//  A session before the first one gives an empty list; a stop below 0
//  means "to the end", like 0.
json_t *
wb_history_range (wb_history_t *self, int session, int start, int stop,
                  bool output)
{
    assert (self);
    if (session <= 0)
        session += self->session;
    sqlite3_stmt *stmt = s_prepare (self,
        "SELECT session, line, source, output FROM history"
        " WHERE session = ?1 AND line >= ?2 AND (?3 <= 0 OR line < ?3)"
        " ORDER BY line");
    if (!stmt)
        return NULL;
    sqlite3_bind_int (stmt, 1, session);
    sqlite3_bind_int (stmt, 2, start);
    sqlite3_bind_int (stmt, 3, stop);
    return s_entries (stmt, output);
}

//  The pattern is SQLite GLOB: * and ? and [...], case-sensitive, over the
//  whole input (search for "*word*" to find word anywhere).
json_t *
wb_history_search (wb_history_t *self, const char *pattern, int n,
                   bool unique, bool output)
{
    assert (self);
    assert (pattern);
    //  newer = 1 marks the newest occurrence of each input
    sqlite3_stmt *stmt = s_prepare (self,
        "SELECT session, line, source, output FROM ("
        "    SELECT session, line, source, output FROM ("
        "        SELECT session, line, source, output, row_number () OVER ("
        "            PARTITION BY source ORDER BY session DESC, line DESC) AS newer"
        "        FROM history WHERE source GLOB ?1)"
        "    WHERE ?2 = 0 OR newer = 1"
        "    ORDER BY session DESC, line DESC LIMIT ?3)"
        " ORDER BY session, line");
    if (!stmt)
        return NULL;
    sqlite3_bind_text (stmt, 1, pattern, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int (stmt, 2, unique);
    sqlite3_bind_int (stmt, 3, n > 0? n: -1);   //  LIMIT -1: no limit
    return s_entries (stmt, output);
}

//  @selftest

//  Assert that got (which this call takes) equals the JSON in expected.
static void
s_check (json_t *got, const char *expected)
{
    assert (got);
    json_error_t error;
    json_t *want = json_loads (expected, 0, &error);
    assert (want);
    if (!json_equal (got, want)) {
        char *text = json_dumps (got, JSON_COMPACT);
        fprintf (stderr, "wb_history: got %s\n    expected %s\n", text, expected);
        free (text);
    }
    assert (json_equal (got, want));
    json_decref (want);
    json_decref (got);
}

//  Remove path if it is there (SQLite's -wal and -shm may be gone already).
static void
s_remove (const char *folder, const char *name)
{
    char *path = wb_sprintf ("%s/%s", folder, name);
    int rc = unlink (path);
    assert (rc == 0 || errno == ENOENT);
    (void) rc;
    free (path);
}

void
wb_history_test (bool verbose)
{
    char scratch [] = "/tmp/wb_history_XXXXXX";
    char *made = mkdtemp (scratch);    //  not inside assert: it must run
    assert (made);
    (void) made;
    //  The parent folders do not exist yet: new creates them
    char *path = wb_sprintf ("%s/deep/er/history.sqlite", scratch);
    wb_error_t err = { "" };

    //  First kernel start: session 1
    wb_history_t *first = wb_history_new (path, &err);
    assert (first);
    assert (wb_history_session (first) == 1);
    assert (wb_history_add (first, 1, "import os", NULL) == 0);
    assert (wb_history_add (first, 2, "x = 1", NULL) == 0);
    assert (wb_history_add (first, 3, "print(x)", "1") == 0);
    assert (wb_history_add (first, 4, "x = 1", NULL) == 0);
    wb_history_destroy (&first);
    assert (first == NULL);
    wb_history_destroy (&first);        //  idempotent

    //  Second kernel start on the same file: session 2; a third kernel
    //  running at the same time gets session 3
    wb_history_t *history = wb_history_new (path, &err);
    assert (history);
    assert (wb_history_session (history) == 2);
    wb_history_t *other = wb_history_new (path, &err);
    assert (other);
    assert (wb_history_session (other) == 3);
    assert (wb_history_add (history, 1, "x = 2", NULL) == 0);
    assert (wb_history_add (history, 2, "print(x)", NULL) == 0);
    //  Storing a line again, now with its output, replaces it
    assert (wb_history_add (history, 2, "print(x)", "2") == 0);
    assert (wb_history_add (history, 3, "%history 'h\xc3\xa9llo \xe2\x82\xac\xf0\x9d\x84\x9e'",
                            NULL) == 0);

    //  Tail: last n over all sessions, oldest first
    s_check (wb_history_tail (history, 4, false),
        "[[1, 4, \"x = 1\"], [2, 1, \"x = 2\"], [2, 2, \"print(x)\"],"
        " [2, 3, \"%history 'h\xc3\xa9llo \xe2\x82\xac\xf0\x9d\x84\x9e'\"]]");
    s_check (wb_history_tail (history, 2, true),
        "[[2, 2, [\"print(x)\", \"2\"]],"
        " [2, 3, [\"%history 'h\xc3\xa9llo \xe2\x82\xac\xf0\x9d\x84\x9e'\", null]]]");
    s_check (wb_history_tail (history, 0, false), "[]");
    json_t *all = wb_history_tail (history, 100, false);
    assert (json_array_size (all) == 7);
    json_decref (all);
    s_check (wb_history_tail (other, 1, false), "[[2, 3, \"%history 'h\xc3\xa9llo "
        "\xe2\x82\xac\xf0\x9d\x84\x9e'\"]]");

    //  Range: session 0 is this one, -1 the one before, 1 is absolute;
    //  start <= line < stop, stop 0 to the end
    s_check (wb_history_range (history, 0, 1, 3, false),
        "[[2, 1, \"x = 2\"], [2, 2, \"print(x)\"]]");
    s_check (wb_history_range (history, -1, 2, 4, false),
        "[[1, 2, \"x = 1\"], [1, 3, \"print(x)\"]]");
    s_check (wb_history_range (history, 1, 3, 0, true),
        "[[1, 3, [\"print(x)\", \"1\"]], [1, 4, [\"x = 1\", null]]]");
    s_check (wb_history_range (history, 2, 2, 3, true),
        "[[2, 2, [\"print(x)\", \"2\"]]]");
    s_check (wb_history_range (other, -2, 4, 0, false), "[[1, 4, \"x = 1\"]]");
    s_check (wb_history_range (history, -5, 1, 0, false), "[]");
    s_check (wb_history_range (history, 9, 1, 0, false), "[]");
    s_check (wb_history_range (other, 0, 1, 0, false), "[]");

    //  Search: glob, newest n oldest first, unique keeps the newest
    s_check (wb_history_search (history, "x = *", 0, false, false),
        "[[1, 2, \"x = 1\"], [1, 4, \"x = 1\"], [2, 1, \"x = 2\"]]");
    s_check (wb_history_search (history, "x = *", 0, true, false),
        "[[1, 4, \"x = 1\"], [2, 1, \"x = 2\"]]");
    s_check (wb_history_search (history, "x = *", 1, false, false),
        "[[2, 1, \"x = 2\"]]");
    s_check (wb_history_search (history, "*x*", 4, false, false),
        "[[1, 3, \"print(x)\"], [1, 4, \"x = 1\"], [2, 1, \"x = 2\"],"
        " [2, 2, \"print(x)\"]]");
    s_check (wb_history_search (history, "*x*", 4, true, false),
        "[[1, 4, \"x = 1\"], [2, 1, \"x = 2\"], [2, 2, \"print(x)\"]]");
    s_check (wb_history_search (history, "?rint(x)", 0, true, true),
        "[[2, 2, [\"print(x)\", \"2\"]]]");
    s_check (wb_history_search (history, "?rint(x)", 0, false, true),
        "[[1, 3, [\"print(x)\", \"1\"]], [2, 2, [\"print(x)\", \"2\"]]]");
    s_check (wb_history_search (history, "*\xe2\x82\xac*", 0, false, false),
        "[[2, 3, \"%history 'h\xc3\xa9llo \xe2\x82\xac\xf0\x9d\x84\x9e'\"]]");
    //  GLOB is case-sensitive, and % or ' in a pattern are plain text
    s_check (wb_history_search (history, "IMPORT*", 0, false, false), "[]");
    s_check (wb_history_search (history, "%history '*", 0, false, false),
        "[[2, 3, \"%history 'h\xc3\xa9llo \xe2\x82\xac\xf0\x9d\x84\x9e'\"]]");
    s_check (wb_history_search (history, "x = 1' OR '1'='1", 0, false, false), "[]");

    //  Input that is not UTF-8 comes back with '?' for its odd bytes
    assert (wb_history_add (other, 1, "bad \xff\xc3", NULL) == 0);
    s_check (wb_history_range (other, 0, 1, 0, false), "[[3, 1, \"bad ??\"]]");
    wb_history_destroy (&other);
    wb_history_destroy (&history);

    //  A fourth start: sessions count kernel starts
    history = wb_history_new (path, &err);
    assert (history && wb_history_session (history) == 4);
    s_check (wb_history_range (history, -3, 1, 2, false), "[[1, 1, \"import os\"]]");
    wb_history_destroy (&history);

    //  Errors: a file where a folder should be, a file that is no database
    char *junk = wb_sprintf ("%s/junk.txt", scratch);
    FILE *file = fopen (junk, "w");
    assert (file);
    fputs ("this is a text file, not a SQLite database, and long enough to "
           "hold a whole SQLite file header of one hundred bytes at least\n", file);
    fclose (file);
    char *under = wb_sprintf ("%s/history.sqlite", junk);
    assert (wb_history_new (under, &err) == NULL);
    char *expected = wb_sprintf ("cannot create folder '%s' for history file '%s': %s",
                                 junk, under, strerror (ENOTDIR));
    assert (streq (err.text, expected));
    free (expected);
    assert (wb_history_new (junk, &err) == NULL);
    expected = wb_sprintf ("cannot open history file '%s': file is not a database", junk);
    if (!streq (err.text, expected))
        fprintf (stderr, "wb_history: %s\n", err.text);
    assert (streq (err.text, expected));
    free (expected);
    assert (wb_history_new (junk, NULL) == NULL);
    if (verbose)
        printf ("wb_history: %s\n", err.text);

    //  Leave the scratch folder empty, then remove it
    char *deep = wb_sprintf ("%s/deep/er", scratch);
    s_remove (deep, "history.sqlite");
    s_remove (deep, "history.sqlite-wal");
    s_remove (deep, "history.sqlite-shm");
    assert (rmdir (deep) == 0);
    free (deep);
    deep = wb_sprintf ("%s/deep", scratch);
    assert (rmdir (deep) == 0);
    free (deep);
    s_remove (scratch, "junk.txt");
    assert (rmdir (scratch) == 0);
    free (under);
    free (junk);
    free (path);
}
//  @end
