/* What the C files of bus._speedups share. */
#ifndef BUS_SPEEDUPS_H
#define BUS_SPEEDUPS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* ``as_text(value)`` → a new reference to its text; ``*clean`` = whether it decoded
 * (_speedups.c). */
PyObject *value_text(PyObject *value, PyObject *as_text, int *clean);

/* binlog_images(...) of _speedups_binlog.c. */
PyObject *binlog_images(PyObject *module, PyObject *const *args, Py_ssize_t nargs);

#endif
