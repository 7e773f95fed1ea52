/* A file-drop row's state for the full-extract comparison
 * (adapters/capture/engines/files_diff.py), byte for byte what its Python writes:
 *
 *   extract_row(row, key_columns, skip) → (key_json, digest, row_json) | None
 *
 * key_json  = json of [row.get(k) for k in key_columns],
 * digest    = sha256(json of sorted(row.items())).hexdigest()[:32],
 * row_json  = json of the row,
 * where json is json.JSONEncoder(ensure_ascii=False).encode and the row leaves out the column
 * ``skip``. None when a name or value is neither text nor None (the Python then decides).
 */
#include "_speedups.h"
#include <string.h>

static int put_bytes(Buffer *b, const char *data, Py_ssize_t size) {
    if (buffer_reserve(b, size) < 0)
        return -1;
    memcpy(b->data + b->size, data, size);
    b->size += size;
    return 0;
}

/* Returned for text with lone surrogates: the Python then writes (and fails) as it does. */
#define UNHANDLED (-2)

/* A JSON string as the json module's C encoder writes it with ensure_ascii=False. */
static int put_json_string(Buffer *b, PyObject *text) {
    Py_ssize_t size;
    const char *p = PyUnicode_AsUTF8AndSize(text, &size);
    if (p == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError))
            return -1;
        PyErr_Clear();
        return UNHANDLED;
    }
    if (put_byte(b, '"') < 0)
        return -1;
    Py_ssize_t start = 0;
    for (Py_ssize_t i = 0; i < size; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        if (put_bytes(b, p + start, i - start) < 0)
            return -1;
        char escape[7];
        int length = 2;
        escape[0] = '\\';
        switch (c) {
        case '"': escape[1] = '"'; break;
        case '\\': escape[1] = '\\'; break;
        case '\n': escape[1] = 'n'; break;
        case '\r': escape[1] = 'r'; break;
        case '\t': escape[1] = 't'; break;
        case '\b': escape[1] = 'b'; break;
        case '\f': escape[1] = 'f'; break;
        default:
            length = snprintf(escape, sizeof escape, "\\u%04x", c);
        }
        if (put_bytes(b, escape, length) < 0)
            return -1;
        start = i + 1;
    }
    if (put_bytes(b, p + start, size - start) < 0)
        return -1;
    return put_byte(b, '"');
}

static int put_json_value(Buffer *b, PyObject *value) {
    if (value == Py_None)
        return put_bytes(b, "null", 4);
    return put_json_string(b, value);
}

static int is_text_or_none(PyObject *value) {
    return value == Py_None || PyUnicode_CheckExact(value);
}

PyObject *extract_row(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 3 || !PyDict_CheckExact(args[0]) || !PyTuple_Check(args[1]) ||
        !PyUnicode_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError,
                        "extract_row(row: dict, key_columns: tuple[str, ...], skip: str)");
        return NULL;
    }
    PyObject *row = args[0], *key_columns = args[1], *skip = args[2];
    PyObject *names = PyList_New(0), *result = NULL;
    Buffer key = {.size = 0, .capacity = sizeof key.inline_buffer};
    Buffer sorted = {.size = 0, .capacity = sizeof sorted.inline_buffer};
    Buffer plain = {.size = 0, .capacity = sizeof plain.inline_buffer};
    key.data = key.inline_buffer;
    sorted.data = sorted.inline_buffer;
    plain.data = plain.inline_buffer;
    if (names == NULL)
        return NULL;
    int unhandled = 0, failed = 0;

    /* key_json */
    if (put_byte(&key, '[') < 0)
        goto done;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(key_columns); i++) {
        PyObject *value = PyDict_GetItemWithError(row, PyTuple_GET_ITEM(key_columns, i));
        if (value == NULL && PyErr_Occurred())
            goto done;
        value = value == NULL ? Py_None : value;
        if (!is_text_or_none(value)) {
            unhandled = 1;
            goto done;
        }
        if ((i && put_bytes(&key, ", ", 2) < 0) || (failed = put_json_value(&key, value)) < 0)
            goto done;
    }
    if (put_byte(&key, ']') < 0)
        goto done;

    /* row_json, in the row's order; the names for the sorted form */
    PyObject *name, *value;
    Py_ssize_t at = 0, written = 0;
    if (put_byte(&plain, '{') < 0)
        goto done;
    while (PyDict_Next(row, &at, &name, &value)) {
        if (!PyUnicode_CheckExact(name) || !is_text_or_none(value)) {
            unhandled = 1;
            goto done;
        }
        int equal = PyUnicode_Compare(name, skip);
        if (equal == -1 && PyErr_Occurred())
            goto done;
        if (equal == 0)
            continue;
        if ((written++ && put_bytes(&plain, ", ", 2) < 0) ||
            (failed = put_json_string(&plain, name)) < 0 || put_bytes(&plain, ": ", 2) < 0 ||
            (failed = put_json_value(&plain, value)) < 0 || PyList_Append(names, name) < 0)
            goto done;
    }
    if (put_byte(&plain, '}') < 0)
        goto done;

    /* digest: json of sorted(row.items()) (names are distinct: the values never compare) */
    if (PyList_Sort(names) < 0 || put_byte(&sorted, '[') < 0)
        goto done;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(names); i++) {
        name = PyList_GET_ITEM(names, i);
        value = PyDict_GetItemWithError(row, name);
        if (value == NULL) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_RuntimeError, "the row changed while it was read");
            goto done;
        }
        if ((i && put_bytes(&sorted, ", ", 2) < 0) || put_byte(&sorted, '[') < 0 ||
            put_json_string(&sorted, name) < 0 || put_bytes(&sorted, ", ", 2) < 0 ||
            put_json_value(&sorted, value) < 0 || put_byte(&sorted, ']') < 0)
            goto done;
    }
    if (put_byte(&sorted, ']') < 0)
        goto done;
    char hex[64];
    digest_hex(1, sorted.data, sorted.size, hex, 0);
    result = Py_BuildValue("(s#s#s#)", key.data, key.size, hex, (Py_ssize_t)32, plain.data,
                           plain.size);
done:
    buffer_free(&key);
    buffer_free(&sorted);
    buffer_free(&plain);
    Py_DECREF(names);
    if ((unhandled || failed == UNHANDLED) && result == NULL && !PyErr_Occurred())
        Py_RETURN_NONE;
    return result;
}
