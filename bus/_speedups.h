/* What the C files of bus._speedups share. */
#ifndef BUS_SPEEDUPS_H
#define BUS_SPEEDUPS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* A growable byte buffer that starts on the stack (_speedups.c). */
typedef struct {
    char *data;
    Py_ssize_t size, capacity;
    char inline_buffer[1024];
} Buffer;

/* Grows ``b`` to hold ``more`` bytes beyond its size (the slow path of buffer_reserve). */
int buffer_grow(Buffer *b, Py_ssize_t more);
void buffer_free(Buffer *b);

/* Inline: every byte written goes through these, from every C file. */
static inline int buffer_reserve(Buffer *b, Py_ssize_t more) {
    return b->size + more <= b->capacity ? 0 : buffer_grow(b, more);
}

static inline int put_byte(Buffer *b, char c) {
    if (buffer_reserve(b, 1) < 0)
        return -1;
    b->data[b->size++] = c;
    return 0;
}

/* SHA-1 or SHA-256 of ``data`` as lower-case hex into ``hex`` (40 or 64 characters). */
void digest_hex(int sha256, const char *data, size_t size, char *hex, int portable);

/* ``as_text(value)`` → a new reference to its text; ``*clean`` = whether it decoded
 * (_speedups.c). */
PyObject *value_text(PyObject *value, PyObject *as_text, int *clean);

/* Whether datetime.date(year, month, day) exists. */
static inline int valid_date(int year, int month, int day) {
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (year < 1 || year > 9999 || month < 1 || month > 12 || day < 1)
        return 0;
    int leap = month == 2 && year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    return day <= days[month - 1] + leap;
}

/* extract_row(...) of _speedups_extract.c. */
PyObject *extract_row(PyObject *module, PyObject *const *args, Py_ssize_t nargs);

/* kafka_batches(...) and outgoing_records(...) of _speedups_kafka.c. */
PyObject *kafka_batches(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
PyObject *outgoing_records(PyObject *module, PyObject *const *args, Py_ssize_t nargs);

/* csv_records(...) of _speedups_csv.c. */
PyObject *csv_records(PyObject *module, PyObject *const *args, Py_ssize_t nargs);

/* binlog_images(...) of _speedups_binlog.c. */
PyObject *binlog_images(PyObject *module, PyObject *const *args, Py_ssize_t nargs);

#endif
