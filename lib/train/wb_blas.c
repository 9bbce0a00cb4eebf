/*  wb_blas - OpenBLAS and its LAPACK, loaded with dlopen on first use

    The loaded library is process-wide by nature (one dlopen handle, one
    OpenBLAS thread pool), so the table of routines is the one piece of
    state here that is not owned by an object: it is filled once, under
    pthread_once, and only read afterwards.
*/
#include <assert.h>
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "wb_blas.h"
#include "base/wb_util.h"

//  The soname Debian's libopenblas0 installs (through alternatives).
#define S_LIBRARY "libopenblas.so.0"

//  What loading produced: filled once by s_load_once, read-only after.
typedef struct {
    wb_blas_t blas;             //  the routines, when loaded
    void *handle;               //  dlopen handle, NULL when loading failed
    char error [512];           //  why loading failed, "" when it worked
} s_state_t;

static s_state_t s_state;
static pthread_once_t s_once = PTHREAD_ONCE_INIT;

//  A routine and where its pointer goes in the table.
typedef struct {
    const char *symbol;         //  name exported by libopenblas
    size_t offset;              //  offset of the pointer in wb_blas_t
} s_symbol_t;

#define S_SYM(name, field) { name, offsetof (wb_blas_t, field) }
static const s_symbol_t s_symbols [] = {
    S_SYM ("cblas_dgemm", dgemm),
    S_SYM ("cblas_sgemm", sgemm),
    S_SYM ("cblas_dgemv", dgemv),
    S_SYM ("cblas_sgemv", sgemv),
    S_SYM ("cblas_dsyrk", dsyrk),
    S_SYM ("cblas_ddot", ddot),
    S_SYM ("cblas_daxpy", daxpy),
    S_SYM ("cblas_dnrm2", dnrm2),
    S_SYM ("dpotrf_", dpotrf),
    S_SYM ("dpotrs_", dpotrs),
    S_SYM ("dpocon_", dpocon),
    S_SYM ("dgelsd_", dgelsd),
    S_SYM ("openblas_set_num_threads", set_num_threads),
    S_SYM ("openblas_get_num_threads", get_num_threads),
    S_SYM ("openblas_get_corename", get_corename),
    S_SYM ("openblas_get_config", get_config),
    { NULL, 0 }
};

//  Open library and resolve every routine into blas. Returns the handle,
//  or NULL with error filled (and nothing left open).
static void *
s_open (const char *library, wb_blas_t *blas, char *error, size_t size)
{
    void *handle = dlopen (library, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        const char *why = dlerror ();
        snprintf (error, size, "OpenBLAS could not be loaded (%s): install "
                  "libopenblas0 (Debian: apt-get install libopenblas0) and try again",
                  why? why: library);
        return NULL;
    }
    for (const s_symbol_t *sym = s_symbols; sym->symbol; sym++) {
        void *address = dlsym (handle, sym->symbol);
        if (!address) {
            snprintf (error, size, "%s has no routine %s: install a complete "
                      "OpenBLAS with LAPACK (Debian: libopenblas0) and try again",
                      library, sym->symbol);
            dlclose (handle);
            return NULL;
        }
        //  POSIX guarantees data and function pointers share a representation
        memcpy ((char *) blas + sym->offset, &address, sizeof (address));
    }
    return handle;
}

static void
s_load_once (void)
{
    s_state.handle = s_open (S_LIBRARY, &s_state.blas,
                             s_state.error, sizeof (s_state.error));
    if (s_state.handle) {
        //  optional: not every OpenBLAS build (OpenMP ones) has it
        void *address = dlsym (s_state.handle, "blas_thread_shutdown_");
        memcpy (&s_state.blas.thread_shutdown, &address, sizeof (address));
        s_state.blas.set_num_threads (wb_blas_cores ());
    }
}

const wb_blas_t *
wb_blas (wb_error_t *err)
{
    pthread_once (&s_once, s_load_once);
    if (!s_state.handle) {
        wb_error_set (err, "%s", s_state.error);
        return NULL;
    }
    return &s_state.blas;
}

bool
wb_blas_loaded (void)
{
    //  s_state.handle is written once inside pthread_once; a reader that
    //  races the first load may see false, which is the truth a moment ago
    return s_state.handle != NULL;
}

int
wb_blas_cores (void)
{
    long cores = sysconf (_SC_NPROCESSORS_ONLN);
    return cores > 0? (int) cores: 1;
}

int
wb_blas_set_threads (int threads, wb_error_t *err)
{
    if (threads < 0 || threads > 1024)
        return wb_error_set (err, "threads=%d is out of range: use 0 (every core) "
                             "or a count from 1 to 1024", threads);
    const wb_blas_t *blas = wb_blas (err);
    if (!blas)
        return -1;
    blas->set_num_threads (threads? threads: wb_blas_cores ());
    return 0;
}

void
wb_blas_stop_threads (void)
{
    if (wb_blas_loaded () && s_state.blas.thread_shutdown)
        s_state.blas.thread_shutdown ();
}

int
wb_blas_threads (void)
{
    const wb_blas_t *blas = wb_blas (NULL);
    return blas? blas->get_num_threads (): -1;
}


//  @selftest
void
wb_blas_test (bool verbose)
{
    wb_error_t err;
    //  A missing library gives the message a user can act on
    wb_blas_t scratch;
    char error [512] = "";
    assert (s_open ("libopenblas-missing.so.9", &scratch, error, sizeof (error)) == NULL);
    assert (strstr (error, "install libopenblas0"));

    assert (!wb_blas_loaded ());
    const wb_blas_t *blas = wb_blas (&err);
    assert (blas);
    assert (wb_blas_loaded ());
    assert (wb_blas_threads () == wb_blas_cores ());
    if (verbose)
        printf ("  %s, core %s, %d threads\n", blas->get_config (),
                blas->get_corename (), wb_blas_threads ());
    assert (wb_blas_set_threads (1, &err) == 0);
    assert (wb_blas_threads () == 1);
    assert (wb_blas_set_threads (-1, &err) == -1);
    assert (strstr (err.text, "threads=-1"));

    //  dgemm, row major: [1 2; 3 4] [5 6; 7 8] = [19 22; 43 50]
    double a [] = { 1, 2, 3, 4 }, b [] = { 5, 6, 7, 8 }, c [4];
    blas->dgemm (WB_BLAS_ROW_MAJOR, WB_BLAS_NO_TRANS, WB_BLAS_NO_TRANS, 2, 2, 2,
                 1.0, a, 2, b, 2, 0.0, c, 2);
    assert (c [0] == 19 && c [1] == 22 && c [2] == 43 && c [3] == 50);
    //  A^T B = [26 30; 38 44]
    blas->dgemm (WB_BLAS_ROW_MAJOR, WB_BLAS_TRANS, WB_BLAS_NO_TRANS, 2, 2, 2,
                 1.0, a, 2, b, 2, 0.0, c, 2);
    assert (c [0] == 26 && c [1] == 30 && c [2] == 38 && c [3] == 44);
    float fa [] = { 1, 2, 3, 4 }, fb [] = { 5, 6, 7, 8 }, fc [4];
    blas->sgemm (WB_BLAS_ROW_MAJOR, WB_BLAS_NO_TRANS, WB_BLAS_TRANS, 2, 2, 2,
                 1.0f, fa, 2, fb, 2, 0.0f, fc, 2);
    assert (fc [0] == 17 && fc [1] == 23 && fc [2] == 39 && fc [3] == 53);
    double x [] = { 1, 1 }, y [2];
    blas->dgemv (WB_BLAS_ROW_MAJOR, WB_BLAS_NO_TRANS, 2, 2, 1.0, a, 2, x, 1, 0.0, y, 1);
    assert (y [0] == 3 && y [1] == 7);
    assert (blas->ddot (2, a, 1, b, 1) == 17);
    assert (blas->dnrm2 (2, (double []) { 3, 4 }, 1) == 5);

    //  dpotrf + dpotrs: [4 2; 2 3] z = [2; 1] has z = [0.5; 0]
    double spd [] = { 4, 2, 2, 3 }, rhs [] = { 2, 1 };
    int n = 2, one = 1, info = -1;
    blas->dpotrf ("L", &n, spd, &n, &info, 1);
    assert (info == 0);
    blas->dpotrs ("L", &n, &one, spd, &n, rhs, &n, &info, 1);
    assert (info == 0);
    assert (fabs (rhs [0] - 0.5) < 1e-15 && fabs (rhs [1]) < 1e-15);
    //  Not positive definite: info names the failing minor
    double singular [] = { 1, 1, 1, 1 };
    blas->dpotrf ("L", &n, singular, &n, &info, 1);
    assert (info == 2);

    //  dgelsd: least squares of an overdetermined, rank-deficient system
    //  (column-major 3x2 with equal columns): minimum-norm answer [1; 1]
    double m [] = { 1, 2, 3, 1, 2, 3 }, rhs3 [] = { 2, 4, 6 }, sv [2], rcond = 1e-10;
    int rows = 3, cols = 2, rank = 0, lwork = -1, iwork [64];
    double query;
    blas->dgelsd (&rows, &cols, &one, m, &rows, rhs3, &rows, sv, &rcond, &rank,
                  &query, &lwork, iwork, &info);
    assert (info == 0);
    lwork = (int) query;
    double *work = wb_malloc (sizeof (double) * (size_t) lwork);
    blas->dgelsd (&rows, &cols, &one, m, &rows, rhs3, &rows, sv, &rcond, &rank,
                  work, &lwork, iwork, &info);
    free (work);
    assert (info == 0 && rank == 1);
    assert (fabs (rhs3 [0] - 1) < 1e-12 && fabs (rhs3 [1] - 1) < 1e-12);

    //  Threads stop, and start again when a call needs them
    assert (wb_blas_set_threads (0, &err) == 0);
    wb_blas_stop_threads ();
    double big [64 * 64], out [64 * 64];
    for (size_t i = 0; i < 64 * 64; i++)
        big [i] = (double) (i % 7);
    blas->dgemm (WB_BLAS_ROW_MAJOR, WB_BLAS_NO_TRANS, WB_BLAS_NO_TRANS, 64, 64, 64,
                 1.0, big, 64, big, 64, 0.0, out, 64);
    double sum = 0;
    for (size_t k = 0; k < 64; k++)
        sum += big [k] * big [k * 64];
    assert (out [0] == sum);
    wb_blas_stop_threads ();
}
//  @end
