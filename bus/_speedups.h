/* What the C files of bus._speedups share. */
#ifndef BUS_SPEEDUPS_H
#define BUS_SPEEDUPS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

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

/* binlog_images(...) of _speedups_binlog.c. */
PyObject *binlog_images(PyObject *module, PyObject *const *args, Py_ssize_t nargs);

#endif
