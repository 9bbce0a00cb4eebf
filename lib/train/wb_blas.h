/*  wb_blas - OpenBLAS and its LAPACK, loaded with dlopen on first use

    The kernel process never trains, so it must not pay for OpenBLAS's
    thread pool and buffers: the library is not linked into the binary but
    opened (libopenblas.so.0) the first time a job process asks for it, and
    its routines are reached through the table of function pointers below.
    Only the runtime library is needed (Debian: libopenblas0); no headers.

    BLAS routines take the CBLAS calling convention (row or column major,
    WB_BLAS_* constants for order, transposition and triangle); LAPACK
    routines are the Fortran ones (arguments by address, column major), and
    each character argument is followed by its hidden length (pass 1), which
    gfortran-built LAPACK expects and OpenBLAS's own C versions ignore.
*/
#ifndef WB_BLAS_H
#define WB_BLAS_H

#include <stdbool.h>
#include <stddef.h>
#include "base/wb_error.h"

//  CBLAS constants (the values cblas.h gives them)
enum {
    WB_BLAS_ROW_MAJOR = 101,
    WB_BLAS_COL_MAJOR = 102,
    WB_BLAS_NO_TRANS  = 111,
    WB_BLAS_TRANS     = 112,
    WB_BLAS_UPPER     = 121,
    WB_BLAS_LOWER     = 122
};

//  The routines Workbench uses. Every pointer is set once loading worked.
typedef struct {
    //  C = alpha op(A) op(B) + beta C, double and float
    void (*dgemm) (int order, int transa, int transb, int m, int n, int k,
                   double alpha, const double *a, int lda, const double *b, int ldb,
                   double beta, double *c, int ldc);
    void (*sgemm) (int order, int transa, int transb, int m, int n, int k,
                   float alpha, const float *a, int lda, const float *b, int ldb,
                   float beta, float *c, int ldc);
    //  y = alpha op(A) x + beta y
    void (*dgemv) (int order, int trans, int m, int n, double alpha,
                   const double *a, int lda, const double *x, int incx,
                   double beta, double *y, int incy);
    void (*sgemv) (int order, int trans, int m, int n, float alpha,
                   const float *a, int lda, const float *x, int incx,
                   float beta, float *y, int incy);
    //  C = alpha op(A) op(A)^T + beta C, one triangle of C
    void (*dsyrk) (int order, int uplo, int trans, int n, int k, double alpha,
                   const double *a, int lda, double beta, double *c, int ldc);
    double (*ddot) (int n, const double *x, int incx, const double *y, int incy);
    void (*daxpy) (int n, double alpha, const double *x, int incx, double *y, int incy);
    double (*dnrm2) (int n, const double *x, int incx);
    //  LAPACK: Cholesky factorisation, solve with it, its condition number
    void (*dpotrf) (const char *uplo, const int *n, double *a, const int *lda,
                    int *info, size_t uplo_len);
    void (*dpotrs) (const char *uplo, const int *n, const int *nrhs,
                    const double *a, const int *lda, double *b, const int *ldb,
                    int *info, size_t uplo_len);
    void (*dpocon) (const char *uplo, const int *n, const double *a, const int *lda,
                    const double *anorm, double *rcond, double *work, int *iwork,
                    int *info, size_t uplo_len);
    //  LAPACK: minimum-norm least squares by SVD (rank-deficient systems)
    void (*dgelsd) (const int *m, const int *n, const int *nrhs, double *a,
                    const int *lda, double *b, const int *ldb, double *s,
                    const double *rcond, int *rank, double *work, const int *lwork,
                    int *iwork, int *info);
    //  OpenBLAS's own: thread count, the kernel it picked, its build
    void (*set_num_threads) (int threads);
    int (*get_num_threads) (void);
    char *(*get_corename) (void);
    char *(*get_config) (void);
    //  Stops OpenBLAS's worker threads (NULL in builds without it)
    int (*thread_shutdown) (void);
} wb_blas_t;

//  The routines, loading OpenBLAS on the first call (thread-safe). NULL
//  with err filled when the library or a routine is missing. The first
//  load uses every core; see wb_blas_set_threads.
const wb_blas_t *
    wb_blas (wb_error_t *err);

//  True when OpenBLAS has been loaded in this process (does not load it).
bool
    wb_blas_loaded (void);

//  Threads OpenBLAS may use: 0 means every online core. Loads OpenBLAS.
//  Results of a run are bit-identical for a given thread count. 0 or -1.
int
    wb_blas_set_threads (int threads, wb_error_t *err);

//  Threads OpenBLAS uses now (loads it); -1 when it cannot be loaded.
int
    wb_blas_threads (void);

//  Stop OpenBLAS's worker threads if it is loaded; the next call that
//  needs them starts them again. For leak checkers, which would otherwise
//  see the threads' memory as possibly lost at exit.
void
    wb_blas_stop_threads (void);

//  Online cores of this machine.
int
    wb_blas_cores (void);

void
    wb_blas_test (bool verbose);

#endif
