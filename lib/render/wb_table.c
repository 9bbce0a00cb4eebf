/*  wb_table - part of wb_render: a table of text cells as aligned
    text/plain and escaped text/html

    A table keeps its cells as text (numbers are formatted when added);
    every piece of text is cleaned on the way in (wb_render__clean).
*/
#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include "wb_render_int.h"
#include "base/wb_utf8.h"
#include "base/wb_util.h"

//  ---- Tables ----

//  One cell of a table
typedef struct {
    char *text;                 //  cleaned text, never NULL
    bool number;                //  added with wb_table_number
} s_cell_t;

//  One column of a table
typedef struct {
    char *name;                 //  header text, cleaned
    wb_align_t align;           //  as declared
} s_column_t;

struct _wb_table_t {
    char *caption;              //  cleaned caption, or NULL
    s_column_t *columns;        //  the columns
    size_t ncolumns;            //  columns in use
    size_t column_room;         //  columns allocated
    s_cell_t **rows;            //  each row has ncolumns cells
    size_t nrows;               //  rows in use
    size_t row_room;            //  rows allocated
    size_t next;                //  next cell to fill in the last row
};

wb_table_t *
wb_table_new (const char *caption)
{
    wb_table_t *self = wb_calloc (1, sizeof (wb_table_t));
    self->caption = wb_render__clean (caption);
    return self;
}

void
wb_table_destroy (wb_table_t **self_p)
{
    assert (self_p);
    wb_table_t *self = *self_p;
    if (self) {
        for (size_t row = 0; row < self->nrows; row++) {
            for (size_t col = 0; col < self->ncolumns; col++)
                free (self->rows [row][col].text);
            free (self->rows [row]);
        }
        free (self->rows);
        for (size_t col = 0; col < self->ncolumns; col++)
            free (self->columns [col].name);
        free (self->columns);
        free (self->caption);
        free (self);
        *self_p = NULL;
    }
}

void
wb_table_column (wb_table_t *self, const char *name, wb_align_t align)
{
    assert (self);
    assert (self->nrows == 0);  //  columns come before rows
    if (self->ncolumns == self->column_room) {
        self->column_room = self->column_room? self->column_room * 2: 8;
        self->columns = wb_realloc (self->columns,
                                    self->column_room * sizeof (s_column_t));
    }
    self->columns [self->ncolumns].name = wb_render__clean (name? name: "");
    self->columns [self->ncolumns].align = align;
    self->ncolumns++;
}

void
wb_table_row (wb_table_t *self)
{
    assert (self);
    assert (self->ncolumns > 0);
    if (self->nrows == self->row_room) {
        self->row_room = self->row_room? self->row_room * 2: 16;
        self->rows = wb_realloc (self->rows, self->row_room * sizeof (s_cell_t *));
    }
    s_cell_t *row = wb_malloc (self->ncolumns * sizeof (s_cell_t));
    for (size_t col = 0; col < self->ncolumns; col++) {
        row [col].text = wb_strdup ("");
        row [col].number = false;
    }
    self->rows [self->nrows++] = row;
    self->next = 0;
}

//  Fill the next cell of the last row; takes ownership of text
static void
s_table_put (wb_table_t *self, char *text, bool number)
{
    assert (self);
    assert (self->nrows > 0);                   //  wb_table_row first
    assert (self->next < self->ncolumns);       //  no more cells than columns
    s_cell_t *cell = &self->rows [self->nrows - 1][self->next++];
    free (cell->text);
    cell->text = text;
    cell->number = number;
}

void
wb_table_cell (wb_table_t *self, const char *text)
{
    s_table_put (self, wb_render__clean (text? text: ""), false);
}

void
wb_table_cellf (wb_table_t *self, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *text = wb_vsprintf (format, args);
    va_end (args);
    s_table_put (self, wb_render__clean (text), false);
    free (text);
}

void
wb_table_number (wb_table_t *self, double value)
{
    char text [40];
    wb_render__format_number (value, text, sizeof (text));
    s_table_put (self, wb_strdup (text), true);
}

size_t
wb_table_rows (wb_table_t *self)
{
    assert (self);
    return self->nrows;
}

//  How a column lines up: as declared, or right when every cell that has
//  text holds a number.
static wb_align_t
s_column_align (wb_table_t *self, size_t col)
{
    if (self->columns [col].align == WB_ALIGN_RIGHT)
        return WB_ALIGN_RIGHT;
    bool any = false;
    for (size_t row = 0; row < self->nrows; row++) {
        s_cell_t *cell = &self->rows [row][col];
        if (*cell->text && !cell->number)
            return WB_ALIGN_LEFT;
        any = any || cell->number;
    }
    return any? WB_ALIGN_RIGHT: WB_ALIGN_LEFT;
}

//  Append n spaces
static void
s_put_spaces (wb_buf_t *buf, size_t n)
{
    static const char spaces [] = "                                ";
    while (n > 0) {
        size_t chunk = n < sizeof (spaces) - 1? n: sizeof (spaces) - 1;
        wb_buf_append (buf, spaces, chunk);
        n -= chunk;
    }
}

//  Drop the spaces at the end of buf
static void
s_trim_end (wb_buf_t *buf)
{
    const char *data = wb_buf_data (buf);
    size_t size = wb_buf_size (buf);
    size_t keep = size;
    while (keep > 0 && data [keep - 1] == ' ')
        keep--;
    if (keep < size) {
        char *copy = wb_strndup (data, keep);
        wb_buf_reset (buf);
        wb_buf_append (buf, copy, keep);
        free (copy);
    }
}

//  Append text padded to width; the last column is not padded on the right
static void
s_put_padded (wb_buf_t *buf, const char *text, size_t width, wb_align_t align)
{
    size_t pad = width - wb_render__width (text);
    if (align == WB_ALIGN_RIGHT)
        s_put_spaces (buf, pad);
    wb_buf_puts (buf, text);
    if (align == WB_ALIGN_LEFT)
        s_put_spaces (buf, pad);
}

char *
wb_table_plain (wb_table_t *self)
{
    assert (self);
    wb_buf_t *out = wb_buf_new ();
    if (self->caption) {
        wb_buf_puts (out, self->caption);
        wb_buf_puts (out, "\n");
    }
    if (self->ncolumns == 0)
        return wb_buf_detach (&out);

    size_t *width = wb_calloc (self->ncolumns, sizeof (size_t));
    wb_align_t *align = wb_calloc (self->ncolumns, sizeof (wb_align_t));
    for (size_t col = 0; col < self->ncolumns; col++) {
        width [col] = wb_render__width (self->columns [col].name);
        for (size_t row = 0; row < self->nrows; row++) {
            size_t cell = wb_render__width (self->rows [row][col].text);
            if (cell > width [col])
                width [col] = cell;
        }
        align [col] = s_column_align (self, col);
    }
    wb_buf_t *line = wb_buf_new ();
    //  Header, separator, rows
    for (size_t col = 0; col < self->ncolumns; col++) {
        if (col)
            wb_buf_puts (line, "  ");
        s_put_padded (line, self->columns [col].name, width [col], align [col]);
    }
    s_trim_end (line);
    wb_buf_printf (out, "%s\n", wb_buf_data (line));
    wb_buf_reset (line);
    for (size_t col = 0; col < self->ncolumns; col++) {
        if (col)
            wb_buf_puts (line, "  ");
        for (size_t dash = 0; dash < width [col]; dash++)
            wb_buf_puts (line, "-");
    }
    wb_buf_printf (out, "%s\n", wb_buf_data (line));
    for (size_t row = 0; row < self->nrows; row++) {
        wb_buf_reset (line);
        for (size_t col = 0; col < self->ncolumns; col++) {
            s_cell_t *cell = &self->rows [row][col];
            if (col)
                wb_buf_puts (line, "  ");
            s_put_padded (line, cell->text, width [col],
                          cell->number? WB_ALIGN_RIGHT: align [col]);
        }
        s_trim_end (line);
        wb_buf_printf (out, "%s\n", wb_buf_data (line));
    }
    wb_buf_destroy (&line);
    free (width);
    free (align);
    return wb_buf_detach (&out);
}

char *
wb_table_html (wb_table_t *self)
{
    assert (self);
    //  Notebook style sheets right-align cells by default, so both
    //  alignments are spelled out
    static const char *styles [] = {
        " style=\"text-align:left\"", " style=\"text-align:right\""
    };
    wb_buf_t *out = wb_buf_new ();
    wb_buf_puts (out, "<table>\n");
    if (self->caption) {
        wb_buf_puts (out, "<caption>");
        wb_buf_html (out, self->caption);
        wb_buf_puts (out, "</caption>\n");
    }
    wb_align_t *align = wb_calloc (self->ncolumns + 1, sizeof (wb_align_t));
    wb_buf_puts (out, "<thead>\n<tr>");
    for (size_t col = 0; col < self->ncolumns; col++) {
        align [col] = s_column_align (self, col);
        wb_buf_printf (out, "<th%s>", styles [align [col]]);
        wb_buf_html (out, self->columns [col].name);
        wb_buf_puts (out, "</th>");
    }
    wb_buf_puts (out, "</tr>\n</thead>\n<tbody>\n");
    for (size_t row = 0; row < self->nrows; row++) {
        wb_buf_puts (out, "<tr>");
        for (size_t col = 0; col < self->ncolumns; col++) {
            s_cell_t *cell = &self->rows [row][col];
            wb_buf_printf (out, "<td%s>",
                           styles [cell->number? WB_ALIGN_RIGHT: align [col]]);
            wb_buf_html (out, cell->text);
            wb_buf_puts (out, "</td>");
        }
        wb_buf_puts (out, "</tr>\n");
    }
    wb_buf_puts (out, "</tbody>\n</table>\n");
    free (align);
    return wb_buf_detach (&out);
}

json_t *
wb_table_bundle (wb_table_t *self)
{
    char *plain = wb_table_plain (self);
    char *html = wb_table_html (self);
    json_t *bundle = json_object ();
    json_object_set_new (bundle, "text/plain", wb_utf8_json (plain, strlen (plain)));
    json_object_set_new (bundle, "text/html", wb_utf8_json (html, strlen (html)));
    free (plain);
    free (html);
    return bundle;
}

//  @selftest
void
wb_table_test (bool verbose)
{
    //  Table, plain: widths in code points, numbers right, a short row
    wb_table_t *table = wb_table_new ("Runs");
    wb_table_column (table, "name", WB_ALIGN_LEFT);
    wb_table_column (table, "loss", WB_ALIGN_RIGHT);
    wb_table_column (table, "note", WB_ALIGN_LEFT);
    wb_table_row (table);
    wb_table_cell (table, "\xce\xb1-run");          //  "α-run", 5 code points
    wb_table_number (table, 0.95);
    wb_table_cell (table, "ok");
    wb_table_row (table);
    wb_table_cell (table, "b");
    wb_table_number (table, 12);
    wb_table_cell (table, NULL);
    wb_table_row (table);
    wb_table_cellf (table, "%s", "ccc");
    wb_table_number (table, NAN);
    wb_table_cell (table, "\xe6\x97\xa5\xe6\x9c\xac");     //  "日本"
    wb_table_row (table);
    wb_table_cell (table, "d");
    wb_table_number (table, 1234567);
    assert (wb_table_rows (table) == 4);
    char *plain = wb_table_plain (table);
    if (verbose)
        printf ("\n%s", plain);
    assert (streq (plain,
        "Runs\n"
        "name      loss  note\n"
        "-----  -------  ----\n"
        "\xce\xb1-run     0.95  ok\n"
        "b           12\n"
        "ccc             \xe6\x97\xa5\xe6\x9c\xac\n"
        "d      1234567\n"));
    free (plain);
    wb_table_destroy (&table);
    assert (table == NULL);
    wb_table_destroy (&table);

    //  A left column of numbers only lines up right, header too; no caption
    table = wb_table_new (NULL);
    wb_table_column (table, "step", WB_ALIGN_LEFT);
    wb_table_row (table);
    wb_table_number (table, 5);
    wb_table_row (table);
    wb_table_number (table, 100);
    plain = wb_table_plain (table);
    assert (streq (plain, "step\n----\n   5\n 100\n"));
    free (plain);
    wb_table_destroy (&table);

    //  Table, HTML: every piece of text escaped
    table = wb_table_new ("A & <B>");
    wb_table_column (table, "<th>", WB_ALIGN_LEFT);
    wb_table_column (table, "value", WB_ALIGN_RIGHT);
    wb_table_row (table);
    wb_table_cell (table, "<script>alert(1)</script>");
    wb_table_number (table, 0.5);
    char *html = wb_table_html (table);
    if (verbose)
        printf ("%s", html);
    assert (wb_starts_with (html, "<table>\n<caption>A &amp; &lt;B&gt;</caption>\n<thead>\n"));
    assert (strstr (html, "<th style=\"text-align:left\">&lt;th&gt;</th>"));
    assert (strstr (html, "<td style=\"text-align:left\">"
                          "&lt;script&gt;alert(1)&lt;/script&gt;</td>"));
    assert (strstr (html, "<td style=\"text-align:right\">0.5</td>"));
    assert (strstr (html, "</thead>\n<tbody>\n<tr>"));
    assert (!strstr (html, "<script"));
    assert (!strstr (html, "<th>"));
    free (html);
    json_t *bundle = wb_table_bundle (table);
    assert (json_is_string (json_object_get (bundle, "text/plain")));
    assert (json_is_string (json_object_get (bundle, "text/html")));
    assert (json_object_size (bundle) == 2);
    json_decref (bundle);
    wb_table_destroy (&table);
}
//  @end
