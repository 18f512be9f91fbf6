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
 * double. The codes of the rows a little ahead are prefetched (when orbits are stored in random
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

#ifndef PREFETCH_AHEAD
#define PREFETCH_AHEAD 2
#endif
#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(p) __builtin_prefetch((p), 0, 3)
#else
#define PREFETCH(p) ((void)0)
#endif

#define ROW_LOOP(T)                                                              \
    for (Py_ssize_t i = 0; i < n; i++) {                                         \
        const int64_t m = lab[i];                                                \
        if (m < 0 || m >= n_codes) {                                             \
            bad = i;                                                             \
            break;                                                               \
        }                                                                        \
        const T *z = (const T *)zb.buf + i * d;                                  \
        const T *r = (const T *)rb.buf + m * d;                                  \
        if (i + PREFETCH_AHEAD < n) {                                            \
            const int64_t mp = lab[i + PREFETCH_AHEAD];                          \
            if (mp != m && mp >= 0 && mp < n_codes) {                            \
                const char *p = (const char *)((const T *)rb.buf + mp * d);      \
                for (Py_ssize_t b = 0; b < d * (Py_ssize_t)sizeof(T); b += 64)   \
                    PREFETCH(p + b);                                             \
            }                                                                    \
        }                                                                        \
        double acc = 0.0;                                                        \
        _Pragma("omp simd reduction(+:acc)")                                     \
        for (Py_ssize_t k = 0; k < d; k++) {                                     \
            const T t = z[k] - r[k];                                             \
            acc += (double)t * (double)t;                                        \
        }                                                                        \
        out[i] = acc;                                                            \
    }

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
    Py_ssize_t bad = -1;
    Py_BEGIN_ALLOW_THREADS
    if (f32) {
        ROW_LOOP(float)
    } else {
        ROW_LOOP(double)
    }
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
    {"parse_int_list", parse_int_list, METH_VARARGS,
     "parse_int_list(text, out) -> n: the JSON integers of text (the inside of a JSON array) into the int64\n"
     "buffer out; -1 when text is anything else or holds more numbers than out."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_kernels",
    "idealssl's compiled kernels: sq_deviations (the checker's pass), parse_int_list (orbit labels).", -1, methods,
};

PyMODINIT_FUNC
PyInit__kernels(void)
{
    return PyModule_Create(&module);
}
