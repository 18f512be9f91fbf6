/*
 * idealssl's compiled kernels (an optional extension, built by setup.py; without it the callers use
 * NumPy / Python, with the same results). Written against the buffer protocol only (no NumPy headers
 * are needed to build it). Every argument is validated: a kernel never reads or writes out of bounds.
 *
 * sq_deviations(block, codes, labels, out)   (used by idealssl/checker/stats.py)
 *
 *     out[i] = sum_k (Z[i, k] - R[labels[i], k])^2        for every row i of a block Z,
 *
 * the squared distance of each point to its orbit's code. NumPy needs three passes over each
 * block for this (gather the codes, subtract, reduce) and writes a block-sized temporary; this
 * kernel reads each row and its code once. The arithmetic is the same as the NumPy path: the
 * difference is formed in the data's precision (float32 or float64), the squares are summed in
 * double, in the fixed order stated at DEFINE_GROUP_SUMS below (tests/check/test_fast_paths.py pins
 * it). The codes of the rows a little ahead are prefetched (when orbits are stored in random
 * order, fetching each point's code is a random read from a C x d table that need not fit in
 * cache). The GIL is released, so two threads can run it on two halves of a file.
 *
 * parse_int_list(text, out)   (used by idealssl/inputs/orbits.py)
 *
 *     Parses the inside of a JSON array of integers, ws* int (ws* ',' ws* int)* ws*, with JSON's
 *     integer grammar -?(0|[1-9][0-9]*) (at most 17 digits, so no overflow) and JSON whitespace,
 *     into the int64 buffer out. Returns the count, or -1 when the text is anything else (the caller
 *     then leaves it to the JSON parser) or holds more numbers than out.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int
format_is(const Py_buffer *b, char code)
{
    const char *f = b->format ? b->format : "B";
    if (*f == '@' || *f == '=' || *f == '<') /* native / little-endian standard sizes */
        f++;
    return f[0] == code && f[1] == '\0';
}

static int
is_int64(const Py_buffer *b)
{
    return b->itemsize == 8 && (format_is(b, 'q') || format_is(b, 'l'));
}

#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(p) __builtin_prefetch((p), 0, 3)
#else
#define PREFETCH(p) ((void)0)
#endif

/*
 * One row's sum of squares, in a fixed order written out in the source (so that no compiler choice of
 * vector width changes a bit): W lanes (W = 4 for float32, 2 for float64), lane l summing the terms
 * k = l, l + W, l + 2W, ... of the first W * floor(d / W) columns in order, the remaining columns added to
 * lane 0 in order, then out = (((lane 0 + 0.0) + lane 1) + lane 2) + lane 3. Each term is
 * (double)t * (double)t with t = z_k - r_k formed in the data's precision; setup.py compiles with
 * -ffp-contract=off, so no multiply-add is fused. GROUP rows are summed side by side: their GROUP * W
 * accumulators are independent, so the additions pipeline instead of waiting on one another, and
 * every row's own sequence of operations is the one above.
 */
#define GROUP 4
#define DEFINE_GROUP_SUMS(T, W, NAME)                                              \
    static inline void NAME(const T *const *z, const T *const *r, Py_ssize_t d, double *o) \
    {                                                                              \
        double a[GROUP][W];                                                        \
        for (int j = 0; j < GROUP; j++)                                            \
            for (int l = 0; l < W; l++)                                            \
                a[j][l] = 0.0;                                                     \
        Py_ssize_t k = 0;                                                          \
        for (; k + W <= d; k += W)                                                 \
            for (int j = 0; j < GROUP; j++)                                        \
                for (int l = 0; l < W; l++) {                                      \
                    const T t = z[j][k + l] - r[j][k + l];                         \
                    a[j][l] += (double)t * (double)t;                              \
                }                                                                  \
        for (; k < d; k++)                                                         \
            for (int j = 0; j < GROUP; j++) {                                      \
                const T t = z[j][k] - r[j][k];                                     \
                a[j][0] += (double)t * (double)t;                                  \
            }                                                                      \
        for (int j = 0; j < GROUP; j++) {                                          \
            double acc = a[j][0] + 0.0;                                            \
            for (int l = 1; l < W; l++)                                            \
                acc += a[j][l];                                                    \
            o[j] = acc;                                                            \
        }                                                                          \
    }

DEFINE_GROUP_SUMS(float, 4, group_sums_f32)
DEFINE_GROUP_SUMS(double, 2, group_sums_f64)

/* out[i] for rows 0..n-1 of Z (n x d) against the codes R (n_codes x d); returns the first row whose
 * label is outside 0..n_codes-1 (nothing from it on is written), or -1. Runs without the GIL. */
#define DEFINE_ROWS(ATTR, T, NAME, SUMS)                                          \
    ATTR static Py_ssize_t NAME(const T *Z, const T *R, const int64_t *lab, double *out, \
                           Py_ssize_t n, Py_ssize_t d, Py_ssize_t n_codes)         \
    {                                                                              \
        for (Py_ssize_t i = 0; i < n; i += GROUP) {                                \
            const int g = n - i < GROUP ? (int)(n - i) : GROUP;                    \
            const T *z[GROUP], *r[GROUP];                                          \
            double o[GROUP];                                                       \
            for (int j = 0; j < GROUP; j++) {                                      \
                const Py_ssize_t row = i + (j < g ? j : 0);                        \
                const int64_t m = lab[row];                                        \
                if (m < 0 || m >= n_codes)                                         \
                    return row;                                                    \
                z[j] = Z + row * d;                                                \
                r[j] = R + m * d;                                                  \
            }                                                                      \
            for (Py_ssize_t ahead = i + GROUP; ahead < i + 2 * GROUP && ahead < n; ahead++) { \
                const int64_t mp = lab[ahead];                                     \
                if (mp >= 0 && mp < n_codes && mp != lab[ahead - 1]) {             \
                    const char *p = (const char *)(R + mp * d);                    \
                    for (Py_ssize_t b = 0; b < d * (Py_ssize_t)sizeof(T); b += 64) \
                        PREFETCH(p + b);                                           \
                }                                                                  \
            }                                                                      \
            SUMS(z, r, d, o);                                                      \
            for (int j = 0; j < g; j++)                                            \
                out[i + j] = o[j];                                                 \
        }                                                                          \
        return -1;                                                                 \
    }

DEFINE_ROWS(, float, rows_f32, group_sums_f32)
DEFINE_ROWS(, double, rows_f64, group_sums_f64)

/* float32 also has an AVX2 version, used where the compiler can target it and the CPU has it (chosen once, at
 * import; IDEALSSL_NO_AVX2=1 keeps the portable one): wider vectors, the same operations in the same order, so
 * the same bits. */
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>
#define HAVE_AVX2_CLONES 1
/* float32 with AVX2: the four lanes of a row are one vector of four doubles (lane l in element l); one
 * subtraction of four floats, one conversion, one multiplication and one addition per four columns */
__attribute__((target("avx2"))) static inline void
group_sums_f32_avx2(const float *const *z, const float *const *r, Py_ssize_t d, double *o)
{
    __m256d a[GROUP];
    for (int j = 0; j < GROUP; j++)
        a[j] = _mm256_setzero_pd();
    Py_ssize_t k = 0;
    for (; k + 4 <= d; k += 4)
        for (int j = 0; j < GROUP; j++) {
            const __m256d t = _mm256_cvtps_pd(_mm_sub_ps(_mm_loadu_ps(z[j] + k), _mm_loadu_ps(r[j] + k)));
            a[j] = _mm256_add_pd(a[j], _mm256_mul_pd(t, t));
        }
    for (int j = 0; j < GROUP; j++) {
        double lane[4];
        _mm256_storeu_pd(lane, a[j]);
        for (Py_ssize_t kk = k; kk < d; kk++) {
            const float t = z[j][kk] - r[j][kk];
            lane[0] += (double)t * (double)t;
        }
        o[j] = (((lane[0] + 0.0) + lane[1]) + lane[2]) + lane[3];
    }
}
DEFINE_ROWS(__attribute__((target("avx2"))), float, rows_f32_avx2, group_sums_f32_avx2)
#endif
static int use_avx2 = 0; /* set at import */

static PyObject *
sq_deviations(PyObject *self, PyObject *args)
{
    PyObject *zo, *ro, *lo, *oo;
    if (!PyArg_ParseTuple(args, "OOOO:sq_deviations", &zo, &ro, &lo, &oo))
        return NULL;
    Py_buffer zb = {0}, rb = {0}, lb = {0}, ob = {0};
    PyObject *result = NULL;
    const int ro_flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT;
    if (PyObject_GetBuffer(zo, &zb, ro_flags) < 0)
        goto done;
    if (PyObject_GetBuffer(ro, &rb, ro_flags) < 0)
        goto done;
    if (PyObject_GetBuffer(lo, &lb, ro_flags) < 0)
        goto done;
    if (PyObject_GetBuffer(oo, &ob, ro_flags | PyBUF_WRITABLE) < 0)
        goto done;
    if (zb.ndim != 2 || rb.ndim != 2 || lb.ndim != 1 || ob.ndim != 1) {
        PyErr_SetString(PyExc_ValueError, "sq_deviations: expected block (n, d), codes (C, d), labels (n,), out (n,)");
        goto done;
    }
    const Py_ssize_t n = zb.shape[0], d = zb.shape[1], n_codes = rb.shape[0];
    if (rb.shape[1] != d || lb.shape[0] != n || ob.shape[0] != n) {
        PyErr_SetString(PyExc_ValueError, "sq_deviations: shapes do not match");
        goto done;
    }
    const int f32 = format_is(&zb, 'f') && zb.itemsize == 4 && format_is(&rb, 'f') && rb.itemsize == 4;
    const int f64 = format_is(&zb, 'd') && zb.itemsize == 8 && format_is(&rb, 'd') && rb.itemsize == 8;
    if (!(f32 || f64) || !is_int64(&lb) || !(format_is(&ob, 'd') && ob.itemsize == 8)) {
        PyErr_SetString(PyExc_TypeError, "sq_deviations: block and codes must both be float32 or both float64, labels int64, out float64");
        goto done;
    }
    const int64_t *lab = (const int64_t *)lb.buf;
    double *out = (double *)ob.buf;
    Py_ssize_t bad;
    Py_BEGIN_ALLOW_THREADS
#ifdef HAVE_AVX2_CLONES
    if (use_avx2 && f32)
        bad = rows_f32_avx2((const float *)zb.buf, (const float *)rb.buf, lab, out, n, d, n_codes);
    else
#endif
        bad = f32 ? rows_f32((const float *)zb.buf, (const float *)rb.buf, lab, out, n, d, n_codes)
                  : rows_f64((const double *)zb.buf, (const double *)rb.buf, lab, out, n, d, n_codes);
    Py_END_ALLOW_THREADS
    if (bad >= 0) {
        PyErr_Format(PyExc_ValueError, "sq_deviations: labels[%zd] = %lld is outside 0..%zd", bad, (long long)lab[bad], n_codes - 1);
        goto done;
    }
    result = Py_NewRef(Py_None);
done:
    if (zb.obj) PyBuffer_Release(&zb);
    if (rb.obj) PyBuffer_Release(&rb);
    if (lb.obj) PyBuffer_Release(&lb);
    if (ob.obj) PyBuffer_Release(&ob);
    return result;
}

/*
 * sq_deviations_file(fd, offset, start, stop, codes, labels, out, buf) -> (status, row)
 *
 *     sq_deviations over rows start..stop-1 of a C-order .npy whose data begin at byte offset of the open
 *     file fd, read with pread into buf (one reused buffer; its size sets the rows per read) and summed
 *     there while it is in cache, all without the GIL: the checker's streaming pass in one call per thread
 *     and segment. status 0: done; 1: the file ends before row `row` is complete (a short read: a file
 *     shortened under the pass, never a fault); 2: a result of the block starting at `row` is not finite
 *     (NaN/inf in the data, or a float32 difference that overflowed), nothing from that block on is
 *     written, and the caller redoes it from there on its own path. OSError on a failed read.
 */
#ifndef _WIN32 /* pread */
#define HAVE_FILE_PASS 1
#include <errno.h>
#include <math.h>
#include <unistd.h>

static PyObject *
sq_deviations_file(PyObject *self, PyObject *args)
{
    int fd;
    long long offset;
    Py_ssize_t start, stop;
    PyObject *ro, *lo, *oo, *bo;
    if (!PyArg_ParseTuple(args, "iLnnOOOO:sq_deviations_file", &fd, &offset, &start, &stop, &ro, &lo, &oo, &bo))
        return NULL;
    Py_buffer rb = {0}, lb = {0}, ob = {0}, bb = {0};
    PyObject *result = NULL;
    const int ro_flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT;
    if (PyObject_GetBuffer(ro, &rb, ro_flags) < 0 || PyObject_GetBuffer(lo, &lb, ro_flags) < 0 ||
        PyObject_GetBuffer(oo, &ob, ro_flags | PyBUF_WRITABLE) < 0 ||
        PyObject_GetBuffer(bo, &bb, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) < 0)
        goto done;
    if (rb.ndim != 2 || lb.ndim != 1 || ob.ndim != 1 || offset < 0) {
        PyErr_SetString(PyExc_ValueError, "sq_deviations_file: expected codes (C, d), labels (N,), out (N,), offset >= 0");
        goto done;
    }
    const Py_ssize_t d = rb.shape[1], n_codes = rb.shape[0];
    const int f32 = format_is(&rb, 'f') && rb.itemsize == 4;
    const int f64 = format_is(&rb, 'd') && rb.itemsize == 8;
    if (!(f32 || f64) || !is_int64(&lb) || !(format_is(&ob, 'd') && ob.itemsize == 8)) {
        PyErr_SetString(PyExc_TypeError, "sq_deviations_file: codes float32 or float64, labels int64, out float64");
        goto done;
    }
    const Py_ssize_t rowbytes = d * rb.itemsize, rows = bb.len / (rowbytes > 0 ? rowbytes : 1);
    if (start < 0 || stop < start || stop > lb.shape[0] || lb.shape[0] != ob.shape[0] || rows < 1 ||
        ((uintptr_t)bb.buf % (uintptr_t)rb.itemsize) != 0) {
        PyErr_SetString(PyExc_ValueError, "sq_deviations_file: rows out of range, or a buffer smaller than one row or misaligned");
        goto done;
    }
    const int64_t *lab = (const int64_t *)lb.buf;
    double *out = (double *)ob.buf;
    Py_ssize_t bad = -1, row = stop;
    int status = 0, err = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = start; i < stop && status == 0 && bad < 0 && err == 0; i += rows) {
        const Py_ssize_t m = stop - i < rows ? stop - i : rows, want = m * rowbytes;
        Py_ssize_t got = 0;
        while (got < want) {
            const ssize_t k = pread(fd, (char *)bb.buf + got, (size_t)(want - got), (off_t)(offset + i * rowbytes + got));
            if (k < 0 && errno == EINTR)
                continue;
            if (k < 0) {
                err = errno;
                break;
            }
            if (k == 0)
                break;
            got += k;
        }
        if (err)
            break;
        if (got < want) {
            status = 1;
            row = i + got / rowbytes;
            break;
        }
#ifdef HAVE_AVX2_CLONES
        if (use_avx2 && f32)
            bad = rows_f32_avx2((const float *)bb.buf, (const float *)rb.buf, lab + i, out + i, m, d, n_codes);
        else
#endif
            bad = f32 ? rows_f32((const float *)bb.buf, (const float *)rb.buf, lab + i, out + i, m, d, n_codes)
                      : rows_f64((const double *)bb.buf, (const double *)rb.buf, lab + i, out + i, m, d, n_codes);
        if (bad >= 0) {
            bad += i;
            break;
        }
        for (Py_ssize_t j = 0; j < m; j++)
            if (!isfinite(out[i + j])) {
                status = 2;
                row = i;
                break;
            }
    }
    Py_END_ALLOW_THREADS
    if (err) {
        errno = err;
        PyErr_SetFromErrno(PyExc_OSError);
        goto done;
    }
    if (bad >= 0) {
        PyErr_Format(PyExc_ValueError, "sq_deviations_file: labels[%zd] = %lld is outside 0..%zd", bad, (long long)lab[bad], n_codes - 1);
        goto done;
    }
    result = Py_BuildValue("(in)", status, row);
done:
    if (rb.obj) PyBuffer_Release(&rb);
    if (lb.obj) PyBuffer_Release(&lb);
    if (ob.obj) PyBuffer_Release(&ob);
    if (bb.obj) PyBuffer_Release(&bb);
    return result;
}

/*
 * pread_runs(fd, offset, rowbytes, first, count, at, staging) -> k
 *
 *     For each run k: count[k] rows of rowbytes bytes from row first[k] of the data at byte offset of fd,
 *     into staging at row at[k] (Representation.rows's coalesced reads of a few scattered rows, without
 *     Python between reads and without the GIL). Returns -1 when every run was read whole, else the first
 *     run the file ends inside (the caller names the row). OSError on a failed read.
 */
static PyObject *
pread_runs(PyObject *self, PyObject *args)
{
    int fd;
    long long offset;
    Py_ssize_t rowbytes;
    PyObject *fo, *co, *ao, *so;
    if (!PyArg_ParseTuple(args, "iLnOOOO:pread_runs", &fd, &offset, &rowbytes, &fo, &co, &ao, &so))
        return NULL;
    Py_buffer fb = {0}, cb = {0}, ab = {0}, sb = {0};
    PyObject *result = NULL;
    const int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT;
    if (PyObject_GetBuffer(fo, &fb, flags) < 0 || PyObject_GetBuffer(co, &cb, flags) < 0 ||
        PyObject_GetBuffer(ao, &ab, flags) < 0 || PyObject_GetBuffer(so, &sb, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) < 0)
        goto done;
    if (!is_int64(&fb) || !is_int64(&cb) || !is_int64(&ab) || fb.ndim != 1 || cb.ndim != 1 || ab.ndim != 1 ||
        cb.shape[0] != fb.shape[0] || ab.shape[0] != fb.shape[0] || rowbytes < 1 || offset < 0) {
        PyErr_SetString(PyExc_TypeError, "pread_runs: first, count, at: int64 vectors of one length; rowbytes >= 1");
        goto done;
    }
    const Py_ssize_t runs = fb.shape[0], cap = sb.len / rowbytes;
    const int64_t *first = (const int64_t *)fb.buf, *count = (const int64_t *)cb.buf, *at = (const int64_t *)ab.buf;
    for (Py_ssize_t k = 0; k < runs; k++)
        if (first[k] < 0 || count[k] < 0 || at[k] < 0 || at[k] > cap - count[k]) {
            PyErr_SetString(PyExc_ValueError, "pread_runs: a run outside the file's rows or the staging buffer");
            goto done;
        }
    Py_ssize_t short_run = -1;
    int err = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t k = 0; k < runs && short_run < 0 && !err; k++) {
        char *dst = (char *)sb.buf + at[k] * rowbytes;
        const Py_ssize_t want = count[k] * rowbytes;
        Py_ssize_t got = 0;
        while (got < want) {
            const ssize_t r = pread(fd, dst + got, (size_t)(want - got), (off_t)(offset + first[k] * rowbytes + got));
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0) {
                err = errno;
                break;
            }
            if (r == 0)
                break;
            got += r;
        }
        if (!err && got < want)
            short_run = k;
    }
    Py_END_ALLOW_THREADS
    if (err) {
        errno = err;
        PyErr_SetFromErrno(PyExc_OSError);
        goto done;
    }
    result = PyLong_FromSsize_t(short_run);
done:
    if (fb.obj) PyBuffer_Release(&fb);
    if (cb.obj) PyBuffer_Release(&cb);
    if (ab.obj) PyBuffer_Release(&ab);
    if (sb.obj) PyBuffer_Release(&sb);
    return result;
}
#endif

#define JSON_SPACE(c) ((c) == ' ' || (c) == '\t' || (c) == '\n' || (c) == '\r')

static PyObject *
parse_int_list(PyObject *self, PyObject *args)
{
    Py_buffer tb = {0}, ob = {0};
    if (!PyArg_ParseTuple(args, "y*w*:parse_int_list", &tb, &ob))
        return NULL;
    const unsigned char *p = (const unsigned char *)tb.buf, *end = p + tb.len;
    char *out = (char *)ob.buf;
    const Py_ssize_t cap = ob.len / (Py_ssize_t)sizeof(int64_t);
    Py_ssize_t n = 0;
    int ok = 1;
    while (p < end && JSON_SPACE(*p))
        p++;
    if (p == end)
        ok = 0; /* an empty list: not for this path */
    while (ok) {
        int neg = 0;
        if (p < end && *p == '-') {
            neg = 1;
            p++;
        }
        if (p == end || *p < '0' || *p > '9') {
            ok = 0; /* a number must follow (a lone minus, ",,", a leading or trailing comma) */
            break;
        }
        int64_t v = 0;
        if (*p == '0') {
            p++;
            if (p < end && *p >= '0' && *p <= '9') {
                ok = 0; /* a leading zero */
                break;
            }
        } else {
            int digits = 0;
            while (p < end && *p >= '0' && *p <= '9') {
                if (++digits > 17) {
                    ok = 0; /* long enough to overflow int64: leave it to the JSON parser */
                    break;
                }
                v = v * 10 + (*p - '0');
                p++;
            }
            if (!ok)
                break;
        }
        if (n >= cap) {
            ok = 0;
            break;
        }
        const int64_t w = neg ? -v : v;
        memcpy(out + n * (Py_ssize_t)sizeof(int64_t), &w, sizeof w);
        n++;
        while (p < end && JSON_SPACE(*p))
            p++;
        if (p == end)
            break;
        if (*p != ',') {
            ok = 0; /* anything else after a number ("1 2", "1.5", "1e3", ...) */
            break;
        }
        p++;
        while (p < end && JSON_SPACE(*p))
            p++;
    }
    PyBuffer_Release(&tb);
    PyBuffer_Release(&ob);
    return PyLong_FromSsize_t(ok ? n : -1);
}

static PyMethodDef methods[] = {
    {"sq_deviations", sq_deviations, METH_VARARGS,
     "sq_deviations(block, codes, labels, out): out[i] = sum_k (block[i, k] - codes[labels[i], k])**2.\n\n"
     "block and codes: C-contiguous, both float32 or both float64; labels: int64; out: float64, writable.\n"
     "Squares summed in double; releases the GIL."},
#ifdef HAVE_FILE_PASS
    {"sq_deviations_file", sq_deviations_file, METH_VARARGS,
     "sq_deviations_file(fd, offset, start, stop, codes, labels, out, buf) -> (status, row): sq_deviations over\n"
     "rows start..stop-1 of a C-order .npy (data at byte offset of fd), read by pread into buf; status 0 done,\n"
     "1 the file ends inside row `row`, 2 a non-finite result in the block starting at `row`. Releases the GIL."},
    {"pread_runs", pread_runs, METH_VARARGS,
     "pread_runs(fd, offset, rowbytes, first, count, at, staging) -> k: count[k] rows from row first[k] into\n"
     "staging at row at[k], for every run k; -1, or the first run the file ends inside. Releases the GIL."},
#endif
    {"parse_int_list", parse_int_list, METH_VARARGS,
     "parse_int_list(text, out) -> n: the JSON integers of text (the inside of a JSON array) into the int64\n"
     "buffer out; -1 when text is anything else or holds more numbers than out."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_kernels",
    "idealssl's compiled kernels: sq_deviations and sq_deviations_file (the checker's pass), pread_runs (scattered rows), parse_int_list (orbit labels).", -1, methods,
};

PyMODINIT_FUNC
PyInit__kernels(void)
{
#ifdef HAVE_AVX2_CLONES
    __builtin_cpu_init();
    use_avx2 = __builtin_cpu_supports("avx2") && getenv("IDEALSSL_NO_AVX2") == NULL;
#endif
    return PyModule_Create(&module);
}
