/* Kafka record batches (message format v2, no compression) written in one call, byte for
 * byte what aiokafka's DefaultRecordBatchBuilder appends (bus/kafka_batches.py):
 *
 *   kafka_batches(records, topic, partitions, batch_size)
 *       → [(partition index, bytearray, record count), ...]
 *
 * ``records`` are (topic, key, value, headers) tuples; those of ``topic`` with a key are
 * written, each on the partition the default partitioner gives (Java's murmur2 of the key,
 * modulo ``partitions``), in their order. A batch's bytearray starts with the 61 bytes of the
 * batch header left zero (the producer's id, epoch and sequence are only known when the
 * sender drains it); a record joins the open batch of its partition while the batch stays
 * below ``batch_size`` bytes, as aiokafka's builder decides, else it starts the next one.
 * Every record has the timestamp delta 0: the batch header's timestamp is each one's.
 */
#include "_speedups.h"
#include <stdint.h>
#include <string.h>

#define BATCH_HEADER_SIZE 61

typedef struct {
    char *data;
    Py_ssize_t size, capacity, count;
} Chunk;

static int chunk_reserve(Chunk *c, Py_ssize_t more) {
    if (c->size + more <= c->capacity)
        return 0;
    Py_ssize_t capacity = c->capacity ? c->capacity : 16384;
    while (capacity < c->size + more)
        capacity *= 2;
    char *data = PyMem_Realloc(c->data, capacity);
    if (data == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    c->data = data;
    c->capacity = capacity;
    return 0;
}

/* Kafka's varint: zig-zag, then 7 bits per byte (the caller reserved 10 bytes). */
static inline void write_varint(Chunk *c, long long value) {
    unsigned long long n = ((unsigned long long)value << 1) ^ (unsigned long long)(value >> 63);
    while (n & ~0x7FULL) {
        c->data[c->size++] = (char)((n & 0x7F) | 0x80);
        n >>= 7;
    }
    c->data[c->size++] = (char)n;
}

static inline Py_ssize_t varint_size(long long value) {
    unsigned long long n = ((unsigned long long)value << 1) ^ (unsigned long long)(value >> 63);
    Py_ssize_t size = 1;
    while (n & ~0x7FULL) {
        size++;
        n >>= 7;
    }
    return size;
}

static inline void write_raw(Chunk *c, const char *data, Py_ssize_t size) {
    memcpy(c->data + c->size, data, size);
    c->size += size;
}

/* org.apache.kafka.common.utils.Utils.murmur2, as aiokafka.partitioner.murmur2. */
static uint32_t murmur2(const unsigned char *data, Py_ssize_t length) {
    const uint32_t m = 0x5BD1E995;
    uint32_t h = 0x9747B28C ^ (uint32_t)length;
    Py_ssize_t blocks = length / 4;
    for (Py_ssize_t i = 0; i < blocks; i++) {
        const unsigned char *p = data + 4 * i;
        uint32_t k = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
                     ((uint32_t)p[3] << 24);
        k *= m;
        k ^= k >> 24;
        k *= m;
        h *= m;
        h ^= k;
    }
    const unsigned char *tail = data + (length & ~(Py_ssize_t)3);
    switch (length % 4) {
    case 3:
        h ^= (uint32_t)tail[2] << 16;
        /* fall through */
    case 2:
        h ^= (uint32_t)tail[1] << 8;
        /* fall through */
    case 1:
        h ^= (uint32_t)tail[0];
        h *= m;
    }
    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return h;
}

/* The bytes of a key, value or header value: bytes, or any object with a buffer. */
typedef struct {
    const char *data;
    Py_ssize_t size;
    int is_null;
    Py_buffer view;
    int has_view;
} Bytes;

static int bytes_of(PyObject *object, Bytes *out, const char *what) {
    out->has_view = 0;
    out->is_null = object == Py_None;
    if (out->is_null) {
        out->data = NULL;
        out->size = 0;
        return 0;
    }
    if (PyBytes_CheckExact(object)) {
        out->data = PyBytes_AS_STRING(object);
        out->size = PyBytes_GET_SIZE(object);
        return 0;
    }
    if (PyObject_GetBuffer(object, &out->view, PyBUF_SIMPLE) < 0) {
        PyErr_Format(PyExc_TypeError, "%s must be bytes-like, not %.100s", what,
                     Py_TYPE(object)->tp_name);
        return -1;
    }
    out->has_view = 1;
    out->data = out->view.buf;
    out->size = out->view.len;
    return 0;
}

static void bytes_release(Bytes *b) {
    if (b->has_view)
        PyBuffer_Release(&b->view);
}

static inline Py_ssize_t field_size(const Bytes *b) {
    return b->is_null ? 1 : varint_size(b->size) + b->size;
}

static inline void write_field(Chunk *c, const Bytes *b) {
    if (b->is_null) {
        c->data[c->size++] = 1; /* length -1, zig-zag */
        return;
    }
    write_varint(c, b->size);
    write_raw(c, b->data, b->size);
}

/* Move a finished chunk into ``out`` as (partition, bytearray, count); leaves it empty. */
static int flush(PyObject *out, Py_ssize_t partition, Chunk *c) {
    PyObject *buffer = PyByteArray_FromStringAndSize(c->data, c->size);
    if (buffer == NULL)
        return -1;
    PyObject *item = Py_BuildValue("(nNn)", partition, buffer, c->count);
    if (item == NULL)
        return -1;
    int failed = PyList_Append(out, item);
    Py_DECREF(item);
    c->size = 0;
    c->count = 0;
    return failed;
}

#define MAX_HEADERS 64

/* Append one keyed record to ``c`` (its batch may first be flushed into ``out``). */
static int append_record(PyObject *out, Py_ssize_t partition, Chunk *c, const Bytes *key,
                         const Bytes *value, PyObject *headers, Py_ssize_t batch_size) {
    Py_ssize_t header_count = PyList_GET_SIZE(headers);
    if (header_count > MAX_HEADERS) {
        PyErr_SetString(PyExc_ValueError, "too many headers for one record");
        return -1;
    }
    const char *names[MAX_HEADERS];
    Py_ssize_t name_sizes[MAX_HEADERS];
    Bytes values[MAX_HEADERS];
    Py_ssize_t released = 0, body = -1;
    for (Py_ssize_t i = 0; i < header_count; i++, released++) {
        PyObject *pair = PyList_GET_ITEM(headers, i);
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
            PyErr_SetString(PyExc_TypeError, "a header is a (name, value) tuple");
            goto done;
        }
        PyObject *name = PyTuple_GET_ITEM(pair, 0);
        if (!PyUnicode_Check(name)) {
            PyErr_SetString(PyExc_TypeError, "a header name is text");
            goto done;
        }
        names[i] = PyUnicode_AsUTF8AndSize(name, &name_sizes[i]);
        if (names[i] == NULL || bytes_of(PyTuple_GET_ITEM(pair, 1), &values[i],
                                         "a header value") < 0)
            goto done;
    }
    Py_ssize_t offset = c->count;
    body = 1 + 1 + varint_size(offset) + field_size(key) + field_size(value) +
           varint_size(header_count);
    for (Py_ssize_t i = 0; i < header_count; i++)
        body += varint_size(name_sizes[i]) + name_sizes[i] + field_size(&values[i]);
    Py_ssize_t required = body + varint_size(body);
    /* aiokafka's C builder: a record that would fill the batch exactly starts the next one */
    if (c->count > 0 && c->size + required >= batch_size) {
        if (flush(out, partition, c) < 0) {
            body = -1;
            goto done;
        }
        body -= varint_size(offset) - 1; /* the offset delta is now 0: one byte */
        offset = 0;
        required = body + varint_size(body);
    }
    if (c->size == 0) {
        if (chunk_reserve(c, BATCH_HEADER_SIZE) < 0) {
            body = -1;
            goto done;
        }
        memset(c->data, 0, BATCH_HEADER_SIZE);
        c->size = BATCH_HEADER_SIZE;
    }
    if (chunk_reserve(c, required) < 0) {
        body = -1;
        goto done;
    }
    write_varint(c, body);
    c->data[c->size++] = 0; /* attributes */
    c->data[c->size++] = 0; /* timestamp delta */
    write_varint(c, offset);
    write_field(c, key);
    write_field(c, value);
    write_varint(c, header_count);
    for (Py_ssize_t i = 0; i < header_count; i++) {
        write_varint(c, name_sizes[i]);
        write_raw(c, names[i], name_sizes[i]);
        write_field(c, &values[i]);
    }
    c->count++;
done:
    for (Py_ssize_t i = 0; i < released; i++)
        bytes_release(&values[i]);
    return body < 0 ? -1 : 0;
}

PyObject *kafka_batches(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 4 || !PyList_Check(args[0]) || !PyUnicode_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError,
                        "kafka_batches(records: list, topic: str, partitions: int, "
                        "batch_size: int)");
        return NULL;
    }
    PyObject *records = args[0], *topic = args[1];
    Py_ssize_t partitions = PyLong_AsSsize_t(args[2]);
    Py_ssize_t batch_size = PyLong_AsSsize_t(args[3]);
    if (PyErr_Occurred())
        return NULL;
    if (partitions < 1) {
        PyErr_SetString(PyExc_ValueError, "a topic has at least one partition");
        return NULL;
    }
    Chunk *chunks = PyMem_Calloc(partitions, sizeof(Chunk));
    PyObject *out = PyList_New(0);
    if (chunks == NULL || out == NULL)
        goto fail;
    Py_ssize_t n = PyList_GET_SIZE(records);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *record = PyList_GET_ITEM(records, i);
        if (!PyTuple_Check(record) || PyTuple_GET_SIZE(record) != 4) {
            PyErr_SetString(PyExc_TypeError, "a record is (topic, key, value, headers)");
            goto fail;
        }
        PyObject *record_topic = PyTuple_GET_ITEM(record, 0);
        PyObject *key_object = PyTuple_GET_ITEM(record, 1);
        if (key_object == Py_None)
            continue;
        if (record_topic != topic) {
            int same = PyUnicode_Check(record_topic) ? PyUnicode_Compare(record_topic, topic) : 1;
            if (same == -1 && PyErr_Occurred())
                goto fail;
            if (same != 0)
                continue;
        }
        PyObject *headers = PyTuple_GET_ITEM(record, 3);
        if (headers == Py_None)
            headers = NULL;
        else if (!PyList_Check(headers)) {
            PyErr_SetString(PyExc_TypeError, "a record's headers are a list");
            goto fail;
        }
        Bytes key, value;
        if (bytes_of(key_object, &key, "a key") < 0)
            goto fail;
        if (bytes_of(PyTuple_GET_ITEM(record, 2), &value, "a value") < 0) {
            bytes_release(&key);
            goto fail;
        }
        Py_ssize_t partition =
            partitions == 1 ? 0
                            : (Py_ssize_t)((murmur2((const unsigned char *)key.data, key.size) &
                                            0x7FFFFFFF) % (uint32_t)partitions);
        PyObject *no_headers = NULL;
        if (headers == NULL && (no_headers = PyList_New(0)) == NULL) {
            bytes_release(&key);
            bytes_release(&value);
            goto fail;
        }
        int failed = append_record(out, partition, &chunks[partition], &key, &value,
                                   headers ? headers : no_headers, batch_size);
        Py_XDECREF(no_headers);
        bytes_release(&key);
        bytes_release(&value);
        if (failed < 0)
            goto fail;
    }
    for (Py_ssize_t p = 0; p < partitions; p++)
        if (chunks[p].count > 0 && flush(out, p, &chunks[p]) < 0)
            goto fail;
    for (Py_ssize_t p = 0; p < partitions; p++)
        PyMem_Free(chunks[p].data);
    PyMem_Free(chunks);
    return out;
fail:
    if (chunks != NULL) {
        for (Py_ssize_t p = 0; p < partitions; p++)
            PyMem_Free(chunks[p].data);
        PyMem_Free(chunks);
    }
    Py_XDECREF(out);
    return NULL;
}

/* The records that publish a capture batch, as the runner's Python loop builds them
 * (adapters/capture/record_workers.py outgoing_records):
 *
 *   outgoing_records(built, changes, topic, before_id, after_id, tail, subject_prefix)
 *       → [(topic, key, value, headers), ...]
 *
 * ``built`` holds per change (key, value, ce_id, key text); each record's headers are
 * ``[*before_id, ("ce_id", ce_id), *after_id, ("ce_subject", subject_prefix + key text),
 * *tail]`` (the texts UTF-8), and a delete (op "d") is followed by its tombstone: the same
 * key and headers, value None.
 */
static PyObject *utf8_bytes(PyObject *text, PyObject *prefix) {
    Py_ssize_t prefix_size = 0, size;
    const char *head = "";
    if (prefix != NULL && (head = PyUnicode_AsUTF8AndSize(prefix, &prefix_size)) == NULL)
        return NULL;
    const char *data = PyUnicode_AsUTF8AndSize(text, &size);
    if (data == NULL)
        return NULL;
    PyObject *out = PyBytes_FromStringAndSize(NULL, prefix_size + size);
    if (out == NULL)
        return NULL;
    memcpy(PyBytes_AS_STRING(out), head, prefix_size);
    memcpy(PyBytes_AS_STRING(out) + prefix_size, data, size);
    return out;
}

static PyObject *text_header(PyObject *name, PyObject *text, PyObject *prefix) {
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "an event id and a key text are text");
        return NULL;
    }
    PyObject *value = utf8_bytes(text, prefix);
    if (value == NULL)
        return NULL;
    PyObject *pair = PyTuple_Pack(2, name, value);
    Py_DECREF(value);
    return pair;
}

/* ``pairs`` (a tuple) into ``list`` from ``at`` on; the index after them. */
static Py_ssize_t put_pairs(PyObject *list, Py_ssize_t at, PyObject *pairs) {
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(pairs); i++, at++) {
        PyObject *pair = PyTuple_GET_ITEM(pairs, i);
        Py_INCREF(pair);
        PyList_SET_ITEM(list, at, pair);
    }
    return at;
}

/* Whether ``change`` is a delete: its op (item 0 of the Change named tuple) is "d". */
static int is_delete(PyObject *change) {
    PyObject *op;
    if (PyTuple_Check(change) && PyTuple_GET_SIZE(change) > 0) {
        op = PyTuple_GET_ITEM(change, 0);
        Py_INCREF(op);
    } else {
        op = PyObject_GetAttrString(change, "op");
    }
    if (op == NULL)
        return -1;
    int delete = PyUnicode_Check(op) && PyUnicode_GET_LENGTH(op) == 1 &&
                 PyUnicode_READ_CHAR(op, 0) == 'd';
    Py_DECREF(op);
    return delete;
}

PyObject *outgoing_records(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 7 || !PyList_Check(args[0]) || !PyList_Check(args[1]) ||
        !PyTuple_Check(args[3]) || !PyTuple_Check(args[4]) || !PyTuple_Check(args[5]) ||
        !PyUnicode_Check(args[6])) {
        PyErr_SetString(PyExc_TypeError,
                        "outgoing_records(built: list, changes: list, topic, before_id: tuple, "
                        "after_id: tuple, tail: tuple, subject_prefix: str)");
        return NULL;
    }
    PyObject *built = args[0], *changes = args[1], *topic = args[2];
    PyObject *before_id = args[3], *after_id = args[4], *tail = args[5], *prefix = args[6];
    Py_ssize_t n = PyList_GET_SIZE(built);
    if (PyList_GET_SIZE(changes) != n) {
        PyErr_SetString(PyExc_ValueError, "one built record per change");
        return NULL;
    }
    Py_ssize_t before_count = PyTuple_GET_SIZE(before_id), after_count = PyTuple_GET_SIZE(after_id);
    Py_ssize_t tail_count = PyTuple_GET_SIZE(tail);
    Py_ssize_t header_count = before_count + after_count + tail_count + 2;
    PyObject *id_name = PyUnicode_FromString("ce_id");
    PyObject *subject_name = PyUnicode_FromString("ce_subject");
    PyObject *out = PyList_New(0);
    if (id_name == NULL || subject_name == NULL || out == NULL)
        goto fail;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(built, i);
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 4) {
            PyErr_SetString(PyExc_TypeError, "a built record is (key, value, ce_id, key text)");
            goto fail;
        }
        int delete = is_delete(PyList_GET_ITEM(changes, i));
        if (delete < 0)
            goto fail;
        PyObject *headers = PyList_New(header_count);
        if (headers == NULL)
            goto fail;
        Py_ssize_t at = put_pairs(headers, 0, before_id);
        PyObject *pair = text_header(id_name, PyTuple_GET_ITEM(item, 2), NULL);
        if (pair == NULL) {
            Py_DECREF(headers);
            goto fail;
        }
        PyList_SET_ITEM(headers, at++, pair);
        at = put_pairs(headers, at, after_id);
        pair = text_header(subject_name, PyTuple_GET_ITEM(item, 3), prefix);
        if (pair == NULL) {
            Py_DECREF(headers);
            goto fail;
        }
        PyList_SET_ITEM(headers, at++, pair);
        put_pairs(headers, at, tail);
        PyObject *key = PyTuple_GET_ITEM(item, 0);
        PyObject *record = PyTuple_Pack(4, topic, key, PyTuple_GET_ITEM(item, 1), headers);
        int failed = record == NULL || PyList_Append(out, record) < 0;
        Py_XDECREF(record);
        if (!failed && delete) { /* compacted consumers forget the row */
            record = PyTuple_Pack(4, topic, key, Py_None, headers);
            failed = record == NULL || PyList_Append(out, record) < 0;
            Py_XDECREF(record);
        }
        Py_DECREF(headers);
        if (failed)
            goto fail;
    }
    Py_DECREF(id_name);
    Py_DECREF(subject_name);
    return out;
fail:
    Py_XDECREF(id_name);
    Py_XDECREF(subject_name);
    Py_XDECREF(out);
    return NULL;
}
