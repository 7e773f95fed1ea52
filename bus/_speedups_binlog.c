/* MariaDB/MySQL binlog row images as capture text (adapters/capture/engines/mariadb_binlog.py).
 *
 *   binlog_images(data, at, end, columns, bitmaps, helpers) → [(image, ...), ...] | None
 *
 * reads the rows of one WRITE/UPDATE/DELETE_ROWS event body — data[at:end], after the
 * columns-present bitmaps — as mysql-replication's RowsEvent._read_column_data reads them,
 * and turns each value into the text mariadb.py's _image makes of it: every image is
 * (row dict of text or None, undecodable column names). ``columns`` holds one
 * (name, kind, a, b, extra) per column (see the B_ kinds below), ``bitmaps`` one
 * columns-present bitmap per image of a row (two for updates) and ``helpers`` the Python
 * functions for the rare values: (as_text(bytes), float32_text(float), decimal_text(str)).
 *
 * Whatever this code does not read exactly as the Python does — a value out of range, bytes
 * that do not decode, an event shorter than its rows — returns None, and the caller decodes
 * the event in Python, which then behaves (or fails) as it always has.
 */
#include "_speedups.h"
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

enum {
    B_INT = 1,       /* a: bytes (1, 2, 3, 4, 8), signed */
    B_UINT = 2,      /* a: bytes, unsigned */
    B_YEAR = 3,      /* one byte + 1900 */
    B_FLOAT = 4,     /* float32_text of the single-precision value */
    B_DOUBLE = 5,    /* str(float) */
    B_DECIMAL = 6,   /* a: precision, b: scale */
    B_STRING = 7,    /* a: bytes of the length; extra: encoding (str) or None for bytes */
    B_DATE = 8,
    B_DATETIME2 = 9, /* a: fractional digits */
    B_TIMESTAMP2 = 10,
    B_ENUM = 11,     /* a: bytes of the index; extra: ("", value 1, ...) or None */
};

typedef struct {
    PyObject *name, *extra; /* borrowed */
    int kind, a, b, utf8;
    const char *encoding;
} Column;

typedef struct {
    const unsigned char *data;
    Py_ssize_t at, end;
} Reader;

typedef struct {
    PyObject *as_text, *float32_text, *decimal_text;
} Helpers;

/* A value is NULL with an exception set on error, NULL without one when the Python reader
 * must take the event (UNHANDLED). */
#define UNHANDLED NULL

static int take(Reader *r, Py_ssize_t size, const unsigned char **bytes) {
    if (size < 0 || r->at + size > r->end)
        return -1;
    *bytes = r->data + r->at;
    r->at += size;
    return 0;
}

static unsigned long long little_endian(const unsigned char *p, int size) {
    unsigned long long n = 0;
    for (int i = size - 1; i >= 0; i--)
        n = n << 8 | p[i];
    return n;
}

static unsigned long long big_endian(const unsigned char *p, int size) {
    unsigned long long n = 0;
    for (int i = 0; i < size; i++)
        n = n << 8 | p[i];
    return n;
}

static long long sign_extend(unsigned long long n, int size) {
    if (size >= 8)
        return (long long)n;
    unsigned long long top = 1ULL << (size * 8 - 1);
    return (long long)((n ^ top) - top);
}

static PyObject *text(const char *format, ...) {
    char buffer[64];
    va_list args;
    va_start(args, format);
    int length = vsnprintf(buffer, sizeof buffer, format, args);
    va_end(args);
    return PyUnicode_FromStringAndSize(buffer, length);
}

/* ASCII text as a str, without the UTF-8 decoding PyUnicode_FromStringAndSize does. */
static PyObject *ascii_text(const char *data, Py_ssize_t size) {
    PyObject *value = PyUnicode_New(size, 127);
    if (value != NULL)
        memcpy(PyUnicode_1BYTE_DATA(value), data, size);
    return value;
}

/* ``n`` in decimal, at least ``width`` digits (zero-padded), at ``out``; the end. A row event
 * holds a number, a date or a time in nearly every row: vsnprintf took most of their cost. */
static char *put_number(char *out, unsigned long long n, int width) {
    char reversed[24];
    int length = 0;
    do {
        reversed[length++] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    while (length < width)
        reversed[length++] = '0';
    while (length)
        *out++ = reversed[--length];
    return out;
}

static PyObject *integer_text(unsigned long long magnitude, int negative) {
    char out[24], *end = out;
    if (negative)
        *end++ = '-';
    end = put_number(end, magnitude, 1);
    return ascii_text(out, end - out);
}

static PyObject *signed_text(long long n) {
    /* the magnitude of LLONG_MIN does not fit a long long: negate as unsigned */
    return n < 0 ? integer_text(0ULL - (unsigned long long)n, 1)
                 : integer_text((unsigned long long)n, 0);
}

/* YYYY-MM-DD, as "%04d-%02d-%02d" writes a valid date. */
static char *put_date(char *out, int year, int month, int day) {
    out = put_number(out, (unsigned long long)year, 4);
    *out++ = '-';
    out = put_number(out, (unsigned long long)month, 2);
    *out++ = '-';
    return put_number(out, (unsigned long long)day, 2);
}

static PyObject *call_text(PyObject *function, PyObject *argument) {
    if (argument == NULL)
        return NULL;
    PyObject *result = PyObject_CallOneArg(function, argument);
    Py_DECREF(argument);
    if (result != NULL && !PyUnicode_Check(result)) {
        Py_DECREF(result);
        PyErr_SetString(PyExc_TypeError, "a binlog text helper returned a non-str");
        return NULL;
    }
    return result;
}

/* RowsEvent.__read_fsp: the fraction's digits big-endian and signed, odd precisions stored
 * times ten. -1 where Python would not give an integer from 0 up. */
static int read_fraction(Reader *r, int fsp, long *micros) {
    static const int sizes[] = {0, 1, 1, 2, 2, 3, 3};
    const unsigned char *p;
    if (fsp < 0 || fsp > 6 || take(r, sizes[fsp], &p) < 0)
        return -1;
    if (sizes[fsp] == 0) {
        *micros = 0;
        return 0;
    }
    long value = (long)sign_extend(big_endian(p, sizes[fsp]), sizes[fsp]);
    if (fsp % 2)
        value /= 10; /* int(value / 10): both truncate toward zero */
    for (int i = fsp; i < 6; i++)
        value *= 10;
    *micros = value;
    return 0;
}

/* datetime.isoformat(sep=" ") with the fraction when there is one. */
static PyObject *datetime_text(int year, int month, int day, int hour, int minute, int second,
                               long micros) {
    char out[32], *end = put_date(out, year, month, day);
    *end++ = ' ';
    end = put_number(end, (unsigned long long)hour, 2);
    *end++ = ':';
    end = put_number(end, (unsigned long long)minute, 2);
    *end++ = ':';
    end = put_number(end, (unsigned long long)second, 2);
    if (micros > 0) {
        *end++ = '.';
        end = put_number(end, (unsigned long long)micros, 6);
    }
    return ascii_text(out, end - out);
}

/* str(Decimal(digits)) for the text RowsEvent.__read_new_decimal builds; the scientific
 * forms Python chooses for tiny values and many-zero scales go to decimal_text. */
static PyObject *decimal_value(Reader *r, const Column *c, const Helpers *h) {
    static const int compressed[] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};
    int precision = c->a, scale = c->b, integral = precision - scale;
    if (precision <= 0 || scale < 0 || integral < 0)
        return UNHANDLED;
    int whole_integral = integral / 9, whole_fraction = scale / 9;
    int rest_integral = integral - whole_integral * 9, rest_fraction = scale - whole_fraction * 9;
    int size = compressed[rest_integral] + 4 * (whole_integral + whole_fraction) +
               compressed[rest_fraction];
    const unsigned char *p;
    if (size == 0 || size > 64 || take(r, size, &p) < 0)
        return UNHANDLED;
    unsigned char bytes[64];
    memcpy(bytes, p, size);
    int negative = !(bytes[0] & 0x80);
    bytes[0] ^= 0x80;

    char digits[160];
    int length = 0, at = 0;
    if (negative)
        digits[length++] = '-';
    /* groups in order: (bytes, zero-padded width; 0: no padding) */
    int groups[24][2], count = 0, dot_after = 0;
    if (compressed[rest_integral])
        groups[count][0] = compressed[rest_integral], groups[count++][1] = 0;
    for (int i = 0; i < whole_integral; i++)
        groups[count][0] = 4, groups[count++][1] = 9;
    dot_after = count;
    for (int i = 0; i < whole_fraction; i++)
        groups[count][0] = 4, groups[count++][1] = 9;
    if (compressed[rest_fraction])
        groups[count][0] = compressed[rest_fraction], groups[count++][1] = rest_fraction;
    if (count > 24)
        return UNHANDLED;
    int fraction_start = 0;
    for (int g = 0; g <= count; g++) {
        if (g == dot_after) {
            digits[length++] = '.';
            fraction_start = length;
        }
        if (g == count)
            break;
        int width = groups[g][0];
        unsigned long long n = big_endian(bytes + at, width);
        at += width;
        unsigned long long top = 1ULL << (width * 8 - 1);
        /* Python reads each group signed and xors it with the sign's mask; both agree with
         * this only while the group's top bit is what the sign says. */
        if (negative ? !(n & top) : (n & top) != 0)
            return UNHANDLED;
        if (negative)
            n = ~n & ((top << 1) - 1);
        int written = groups[g][1] ? snprintf(digits + length, sizeof digits - length, "%0*llu",
                                              groups[g][1], n)
                                   : snprintf(digits + length, sizeof digits - length, "%llu", n);
        if (written < 0 || length + written >= (int)sizeof digits - 2)
            return UNHANDLED;
        length += written;
    }
    digits[length] = '\0';

    /* Decimal's str: the coefficient without leading zeros, the exponent -len(fraction). */
    int sign = negative ? 1 : 0, integral_end = fraction_start - 1;
    int fraction_digits = length - fraction_start;
    int first = sign;
    while (first < integral_end && digits[first] == '0')
        first++;
    int coefficient = (integral_end - first) + fraction_digits;
    if (first == integral_end) { /* integral part zero: leading zeros of the fraction too */
        int f = fraction_start;
        while (f < length && digits[f] == '0')
            f++;
        coefficient = length - f;
    }
    if (coefficient == 0)
        coefficient = 1;
    if (integral_end == sign && fraction_digits == 0)
        return UNHANDLED; /* "." is no number */
    if (coefficient - fraction_digits <= -6)
        return call_text(h->decimal_text, PyUnicode_FromStringAndSize(digits, length));
    char out[168];
    int n = 0;
    if (negative)
        out[n++] = '-';
    if (first == integral_end)
        out[n++] = '0';
    else {
        memcpy(out + n, digits + first, integral_end - first);
        n += integral_end - first;
    }
    if (fraction_digits) {
        out[n++] = '.';
        memcpy(out + n, digits + fraction_start, fraction_digits);
        n += fraction_digits;
    }
    return PyUnicode_FromStringAndSize(out, n);
}

static PyObject *string_value(Reader *r, const Column *c, const Helpers *h, int *clean) {
    const unsigned char *p;
    if (c->a < 1 || c->a > 4 || take(r, c->a, &p) < 0)
        return UNHANDLED;
    unsigned long long length = little_endian(p, c->a);
    if (length > (unsigned long long)(r->end - r->at) || take(r, (Py_ssize_t)length, &p) < 0)
        return UNHANDLED;
    if (c->encoding == NULL) { /* no Python codec: the bytes, as text_of makes them text */
        PyObject *bytes = PyBytes_FromStringAndSize((const char *)p, (Py_ssize_t)length);
        if (bytes == NULL)
            return NULL;
        PyObject *value = value_text(bytes, h->as_text, clean);
        Py_DECREF(bytes);
        return value;
    }
    PyObject *value = c->utf8 ? PyUnicode_DecodeUTF8((const char *)p, (Py_ssize_t)length, NULL)
                              : PyUnicode_Decode((const char *)p, (Py_ssize_t)length,
                                                 c->encoding, "strict");
    if (value == NULL && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError))
        PyErr_Clear(); /* Python raises it: let it */
    return value;
}

static PyObject *read_value(Reader *r, const Column *c, const Helpers *h, int *clean) {
    const unsigned char *p;
    *clean = 1;
    switch (c->kind) {
    case B_INT:
    case B_UINT: {
        if ((c->a < 1 || c->a > 4) && c->a != 8)
            return UNHANDLED;
        if (take(r, c->a, &p) < 0)
            return UNHANDLED;
        unsigned long long n = little_endian(p, c->a);
        if (c->kind == B_UINT)
            return integer_text(n, 0);
        return signed_text(sign_extend(n, c->a));
    }
    case B_YEAR:
        if (take(r, 1, &p) < 0)
            return UNHANDLED;
        return text("%d", p[0] + 1900);
    case B_FLOAT: {
        if (take(r, 4, &p) < 0)
            return UNHANDLED;
        float f;
        uint32_t bits = (uint32_t)little_endian(p, 4);
        memcpy(&f, &bits, 4);
        return call_text(h->float32_text, PyFloat_FromDouble((double)f));
    }
    case B_DOUBLE: {
        if (take(r, 8, &p) < 0)
            return UNHANDLED;
        double d;
        uint64_t bits = little_endian(p, 8);
        memcpy(&d, &bits, 8);
        PyObject *number = PyFloat_FromDouble(d);
        if (number == NULL)
            return NULL;
        PyObject *value = PyObject_Str(number);
        Py_DECREF(number);
        return value;
    }
    case B_DECIMAL:
        return decimal_value(r, c, h);
    case B_STRING:
        return string_value(r, c, h, clean);
    case B_DATE: {
        if (take(r, 3, &p) < 0)
            return UNHANDLED;
        unsigned long long n = little_endian(p, 3);
        int year = (int)(n >> 9 & 0x7FFF), month = (int)(n >> 5 & 0xF), day = (int)(n & 0x1F);
        if (year == 0 || month == 0 || day == 0)
            Py_RETURN_NONE; /* zero dates are None */
        if (!valid_date(year, month, day))
            return UNHANDLED; /* datetime.date raises */
        char out[16];
        return ascii_text(out, put_date(out, year, month, day) - out);
    }
    case B_DATETIME2: {
        if (take(r, 5, &p) < 0)
            return UNHANDLED;
        unsigned long long n = big_endian(p, 5);
        int year_month = (int)(n >> 22 & 0x1FFFF);
        int year = year_month / 13, month = year_month % 13, day = (int)(n >> 17 & 0x1F);
        int hour = (int)(n >> 12 & 0x1F), minute = (int)(n >> 6 & 0x3F), second = (int)(n & 0x3F);
        long micros;
        if (read_fraction(r, c->a, &micros) < 0)
            return UNHANDLED;
        if (!valid_date(year, month, day) || hour > 23 || minute > 59 || second > 59)
            Py_RETURN_NONE; /* out of datetime's range: None, its fraction read */
        if (micros > 999999)
            return UNHANDLED;
        return datetime_text(year, month, day, hour, minute, second, micros);
    }
    case B_TIMESTAMP2: {
        if (take(r, 4, &p) < 0)
            return UNHANDLED;
        long long seconds = sign_extend(big_endian(p, 4), 4);
        long micros;
        if (read_fraction(r, c->a, &micros) < 0 || micros > 999999)
            return UNHANDLED;
        /* datetime.utcfromtimestamp: civil date of the days since 1970-01-01 */
        long long days = seconds / 86400, rest = seconds % 86400;
        if (rest < 0)
            rest += 86400, days -= 1;
        long long z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
        long long doe = z - era * 146097;
        long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        long long mp = (5 * doy + 2) / 153;
        int day = (int)(doy - (153 * mp + 2) / 5 + 1), month = (int)(mp < 10 ? mp + 3 : mp - 9);
        int year = (int)(yoe + era * 400 + (month <= 2));
        if (!valid_date(year, month, day))
            return UNHANDLED;
        return datetime_text(year, month, day, (int)(rest / 3600), (int)(rest / 60 % 60),
                             (int)(rest % 60), micros);
    }
    case B_ENUM: {
        if (c->a < 1 || c->a > 2 || take(r, c->a, &p) < 0)
            return UNHANDLED;
        unsigned long long index = little_endian(p, c->a);
        if (c->extra == Py_None)
            Py_RETURN_NONE;
        if (!PyTuple_Check(c->extra) || index >= (unsigned long long)PyTuple_GET_SIZE(c->extra))
            return UNHANDLED;
        PyObject *value = PyTuple_GET_ITEM(c->extra, (Py_ssize_t)index);
        if (!PyUnicode_CheckExact(value))
            return UNHANDLED;
        Py_INCREF(value);
        return value;
    }
    default:
        return UNHANDLED;
    }
}

static int bit(const char *bitmap, Py_ssize_t size, Py_ssize_t i) {
    return i / 8 < size && (bitmap[i / 8] >> (i % 8) & 1);
}

/* One row image → (row, undecodable); NULL with or without an exception as read_value. */
static PyObject *read_image(Reader *r, const Column *columns, Py_ssize_t count,
                            PyObject *present, const Helpers *h) {
    const char *bitmap = PyBytes_AS_STRING(present);
    Py_ssize_t bitmap_size = PyBytes_GET_SIZE(present), set = 0;
    for (Py_ssize_t i = 0; i < bitmap_size; i++)
        set += __builtin_popcount((unsigned char)bitmap[i]);
    const unsigned char *nulls;
    Py_ssize_t nulls_size = (set + 7) / 8;
    if (take(r, nulls_size, &nulls) < 0)
        return UNHANDLED;
    PyObject *row = PyDict_New(), *undecodable = PyList_New(0);
    if (row == NULL || undecodable == NULL)
        goto fail;
    Py_ssize_t null_index = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *value;
        int clean = 1;
        if (!bit(bitmap, bitmap_size, i)) {
            value = Py_None; /* not in the image (binlog_row_image=MINIMAL) */
            Py_INCREF(value);
        } else {
            if (null_index / 8 >= nulls_size)
                goto fail;
            if (nulls[null_index / 8] >> (null_index % 8) & 1) {
                value = Py_None;
                Py_INCREF(value);
            } else {
                value = read_value(r, &columns[i], h, &clean);
                if (value == NULL)
                    goto fail;
            }
            null_index++;
        }
        int failed = PyDict_SetItem(row, columns[i].name, value);
        Py_DECREF(value);
        if (failed < 0 || (clean == 0 && PyList_Append(undecodable, columns[i].name) < 0))
            goto fail;
    }
    PyObject *names = PyList_AsTuple(undecodable);
    Py_DECREF(undecodable);
    if (names == NULL) {
        Py_DECREF(row);
        return NULL;
    }
    return Py_BuildValue("(NN)", row, names);
fail:
    Py_XDECREF(row);
    Py_XDECREF(undecodable);
    return NULL;
}

static int column_of(PyObject *spec, Column *c) {
    if (!PyTuple_Check(spec) || PyTuple_GET_SIZE(spec) != 5 ||
        !PyUnicode_Check(PyTuple_GET_ITEM(spec, 0))) {
        PyErr_SetString(PyExc_TypeError, "columns are (name, kind, a, b, extra)");
        return -1;
    }
    c->name = PyTuple_GET_ITEM(spec, 0);
    c->kind = (int)PyLong_AsLong(PyTuple_GET_ITEM(spec, 1));
    c->a = (int)PyLong_AsLong(PyTuple_GET_ITEM(spec, 2));
    c->b = (int)PyLong_AsLong(PyTuple_GET_ITEM(spec, 3));
    c->extra = PyTuple_GET_ITEM(spec, 4);
    c->encoding = NULL;
    c->utf8 = 0;
    if (PyErr_Occurred())
        return -1;
    if (c->kind == B_STRING && PyUnicode_Check(c->extra)) {
        c->encoding = PyUnicode_AsUTF8(c->extra);
        if (c->encoding == NULL)
            return -1;
        c->utf8 = strcmp(c->encoding, "utf-8") == 0;
    }
    return 0;
}

PyObject *binlog_images(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    const char *usage = "binlog_images(data: bytes, at: int, end: int, columns: tuple, "
                        "bitmaps: tuple[bytes, ...], helpers: tuple)";
    if (nargs != 6 || !PyBytes_Check(args[0]) || !PyLong_Check(args[1]) ||
        !PyLong_Check(args[2]) || !PyTuple_Check(args[3]) || !PyTuple_Check(args[4]) ||
        !PyTuple_Check(args[5]) || PyTuple_GET_SIZE(args[5]) != 3) {
        PyErr_SetString(PyExc_TypeError, usage);
        return NULL;
    }
    Reader r = {(const unsigned char *)PyBytes_AS_STRING(args[0]), PyLong_AsSsize_t(args[1]),
                PyLong_AsSsize_t(args[2])};
    if (PyErr_Occurred())
        return NULL;
    if (r.at < 0 || r.end < r.at || r.end > PyBytes_GET_SIZE(args[0]))
        Py_RETURN_NONE;
    Helpers h = {PyTuple_GET_ITEM(args[5], 0), PyTuple_GET_ITEM(args[5], 1),
                 PyTuple_GET_ITEM(args[5], 2)};
    PyObject *bitmaps = args[4];
    Py_ssize_t images = PyTuple_GET_SIZE(bitmaps), count = PyTuple_GET_SIZE(args[3]);
    for (Py_ssize_t i = 0; i < images; i++)
        if (!PyBytes_Check(PyTuple_GET_ITEM(bitmaps, i))) {
            PyErr_SetString(PyExc_TypeError, usage);
            return NULL;
        }
    if (images == 0)
        Py_RETURN_NONE;
    Column *columns = PyMem_Calloc(count ? count : 1, sizeof(Column));
    if (columns == NULL)
        return PyErr_NoMemory();
    PyObject *rows = NULL;
    for (Py_ssize_t i = 0; i < count; i++)
        if (column_of(PyTuple_GET_ITEM(args[3], i), &columns[i]) < 0)
            goto done;
    rows = PyList_New(0);
    if (rows == NULL)
        goto done;
    while (r.at < r.end) {
        PyObject *row = PyTuple_New(images);
        if (row == NULL)
            goto fail;
        for (Py_ssize_t i = 0; i < images; i++) {
            PyObject *image = read_image(&r, columns, count, PyTuple_GET_ITEM(bitmaps, i), &h);
            if (image == NULL) {
                Py_DECREF(row);
                goto fail;
            }
            PyTuple_SET_ITEM(row, i, image);
        }
        int failed = PyList_Append(rows, row);
        Py_DECREF(row);
        if (failed < 0)
            goto fail;
    }
    goto done;
fail:
    Py_CLEAR(rows);
    if (!PyErr_Occurred()) { /* UNHANDLED: the Python reader takes this event */
        rows = Py_None;
        Py_INCREF(rows);
    }
done:
    PyMem_Free(columns);
    return rows;
}
