/* The records of decoded CSV lines (adapters/capture/engines/files_records.py), for the lines
 * its plain split reads, value for value what the Python builds:
 *
 *   csv_records(texts, columns, delimiter, field_limit, first_number, record_type)
 *       → [record_type(number, {column: value or None}, ()) or None, ...]
 *
 * ``number`` counts from ``first_number``. A line holding '"' or '\r', longer than
 * ``field_limit``, or with another number of fields than ``columns`` is None there: the
 * Python reads it (the csv module, or a bad line). ``record_type`` is a tuple subclass of
 * three fields (the Record named tuple), built as ``tuple.__new__`` builds one.
 */
#include "_speedups.h"

static PyObject *record_of(PyTypeObject *record_type, Py_ssize_t number, PyObject *row,
                           PyObject *empty) {
    PyObject *record = record_type->tp_alloc(record_type, 3);
    if (record == NULL)
        return NULL;
    PyObject *count = PyLong_FromSsize_t(number);
    if (count == NULL) {
        Py_DECREF(record);
        return NULL;
    }
    PyTuple_SET_ITEM(record, 0, count);
    Py_INCREF(row);
    PyTuple_SET_ITEM(record, 1, row);
    Py_INCREF(empty);
    PyTuple_SET_ITEM(record, 2, empty);
    return record;
}

/* The row of ``text`` split on ``delimiter`` into ``columns`` (the caller counted the fields). */
static PyObject *row_of(PyObject *text, PyObject *columns, Py_UCS4 delimiter) {
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t length = PyUnicode_GET_LENGTH(text), start = 0, column = 0;
    PyObject *row = PyDict_New();
    if (row == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i <= length; i++) {
        if (i < length && PyUnicode_READ(kind, data, i) != delimiter)
            continue;
        PyObject *value = i == start ? Py_NewRef(Py_None) : PyUnicode_Substring(text, start, i);
        if (value == NULL || PyDict_SetItem(row, PyTuple_GET_ITEM(columns, column), value) < 0) {
            Py_XDECREF(value);
            Py_DECREF(row);
            return NULL;
        }
        Py_DECREF(value);
        column++;
        start = i + 1;
    }
    return row;
}

/* Whether the plain split reads ``text`` into exactly ``fields`` fields. */
static int plainly_split(PyObject *text, Py_UCS4 delimiter, Py_ssize_t field_limit,
                         Py_ssize_t fields) {
    Py_ssize_t length = PyUnicode_GET_LENGTH(text), found = 1;
    if (length > field_limit)
        return 0;
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    for (Py_ssize_t i = 0; i < length; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c == '"' || c == '\r')
            return 0;
        if (c == delimiter)
            found++;
    }
    return found == fields;
}

PyObject *csv_records(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError, "csv_records takes 6 arguments");
        return NULL;
    }
    PyObject *texts = args[0], *columns = args[1], *delimiter = args[2];
    if (!PyList_Check(texts) || !PyTuple_Check(columns) || !PyUnicode_Check(delimiter)
            || PyUnicode_GET_LENGTH(delimiter) != 1 || !PyType_Check(args[5])
            || !PyType_IsSubtype((PyTypeObject *)args[5], &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError,
                        "csv_records(list, tuple, one-character str, int, int, tuple type)");
        return NULL;
    }
    Py_ssize_t field_limit = PyLong_AsSsize_t(args[3]);
    Py_ssize_t number = PyLong_AsSsize_t(args[4]);
    if ((field_limit == -1 || number == -1) && PyErr_Occurred())
        return NULL;
    PyTypeObject *record_type = (PyTypeObject *)args[5];
    Py_UCS4 separator = PyUnicode_READ_CHAR(delimiter, 0);
    Py_ssize_t fields = PyTuple_GET_SIZE(columns), count = PyList_GET_SIZE(texts);
    PyObject *empty = PyTuple_New(0);
    PyObject *records = PyList_New(count);
    if (empty == NULL || records == NULL) {
        Py_XDECREF(empty);
        Py_XDECREF(records);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *text = PyList_GET_ITEM(texts, i);
        if (!PyUnicode_Check(text) || !plainly_split(text, separator, field_limit, fields)) {
            PyList_SET_ITEM(records, i, Py_NewRef(Py_None));
            continue;
        }
        PyObject *row = row_of(text, columns, separator);
        PyObject *record = row == NULL ? NULL : record_of(record_type, number + i, row, empty);
        Py_XDECREF(row);
        if (record == NULL) {
            Py_DECREF(empty);
            Py_DECREF(records);  /* the items not yet set are NULL, which a list frees fine */
            return NULL;
        }
        PyList_SET_ITEM(records, i, record);
    }
    Py_DECREF(empty);
    return records;
}
