/* C versions of the per-row work of the capture, byte-identical to the Python they stand in
 * for (bus/speedups.py chooses; tests/unit/test_speedups.py and the tests named in each
 * section compare):
 *
 *   write_fields(out, datum, names, kinds, defaults)
 *       appends the Avro body of a record whose fields are all strings, optional strings,
 *       booleans, ints or longs (bus/serde/encoder.py, the compiled record writer);
 *   change_records(plan, changes, captured_ms)
 *       what adapters/capture/record_workers.py builds per change — the Avro key and
 *       change-envelope value in the Confluent wire format, the event id (the SHA-256 of the
 *       repr of the row's sorted (name, value) pairs, then a version-5 UUID in the table's
 *       namespace) and the key text — for a whole batch in one call;
 *   row_digest(row)                      adapters/capture/rows.py's row fingerprint;
 *   text_images(...)                     fetched rows as images (strategies/common.py);
 *   pgoutput_tuple(...), pgoutput_row(...)   PostgreSQL logical replication messages;
 *   mysql_text_row(...)                  MySQL text-protocol result rows (mariadb_rows.py).
 *
 * _speedups_binlog.c reads binlog row events, _speedups_extract.c a file-drop row's state.
 */
#include "_speedups.h"
#include <dlfcn.h>
#include <stdint.h>
#include <string.h>

enum { K_STRING = 0, K_NULL_STRING = 1, K_STRING_NULL = 2, K_BOOLEAN = 3, K_LONG = 4, K_INT = 5 };

int buffer_grow(Buffer *b, Py_ssize_t more) {
    Py_ssize_t capacity = b->capacity * 2;
    while (capacity < b->size + more)
        capacity *= 2;
    char *data = (b->data == b->inline_buffer) ? PyMem_Malloc(capacity)
                                               : PyMem_Realloc(b->data, capacity);
    if (data == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    if (b->data == b->inline_buffer)
        memcpy(data, b->inline_buffer, b->size);
    b->data = data;
    b->capacity = capacity;
    return 0;
}

void buffer_free(Buffer *b) {
    if (b->data != b->inline_buffer)
        PyMem_Free(b->data);
}

/* Zig-zag variable-length encoding of a 64-bit long, as Avro writes int and long. */
static int put_long(Buffer *b, long long value) {
    unsigned long long n = ((unsigned long long)value << 1) ^ (unsigned long long)(value >> 63);
    if (buffer_reserve(b, 10) < 0)
        return -1;
    while (n & ~0x7FULL) {
        b->data[b->size++] = (char)((n & 0x7F) | 0x80);
        n >>= 7;
    }
    b->data[b->size++] = (char)n;
    return 0;
}

static int put_string(Buffer *b, PyObject *value) {
    if (!PyUnicode_Check(value)) {
        PyErr_Format(PyExc_TypeError, "string expected, not %.100s", Py_TYPE(value)->tp_name);
        return -1;
    }
    Py_ssize_t size;
    const char *utf8 = PyUnicode_AsUTF8AndSize(value, &size);
    if (utf8 == NULL)
        return -1;
    if (put_long(b, size) < 0 || buffer_reserve(b, size) < 0)
        return -1;
    memcpy(b->data + b->size, utf8, size);
    b->size += size;
    return 0;
}

static int put_integer(Buffer *b, PyObject *value, long long low, long long high,
                       const char *kind) {
    int overflow = 0;
    long long n = PyLong_Check(value) ? PyLong_AsLongLongAndOverflow(value, &overflow) : 0;
    if (n == -1 && PyErr_Occurred())
        return -1;
    if (!PyLong_Check(value) || overflow || n < low || n > high) {
        PyObject *text = PyObject_Repr(value);
        if (text != NULL) {
            PyErr_Format(PyExc_ValueError, "%s expected, not %U", kind, text);
            Py_DECREF(text);
        }
        return -1;
    }
    return put_long(b, n);
}

static int put_field(Buffer *b, int kind, PyObject *value) {
    switch (kind) {
    case K_STRING:
        return put_string(b, value);
    case K_NULL_STRING:
        if (value == Py_None)
            return put_byte(b, 0);
        return put_byte(b, 2) < 0 ? -1 : put_string(b, value);
    case K_STRING_NULL:
        if (value == Py_None)
            return put_byte(b, 2);
        return put_byte(b, 0) < 0 ? -1 : put_string(b, value);
    case K_BOOLEAN:
        if (value == Py_True)
            return put_byte(b, 1);
        if (value == Py_False)
            return put_byte(b, 0);
        PyErr_Format(PyExc_ValueError, "boolean expected, not %.100s", Py_TYPE(value)->tp_name);
        return -1;
    case K_LONG:
        return put_integer(b, value, LLONG_MIN, LLONG_MAX, "long");
    case K_INT:
        return put_integer(b, value, -2147483648LL, 2147483647LL, "int");
    default:
        PyErr_Format(PyExc_ValueError, "unknown field kind %d", kind);
        return -1;
    }
}

static PyObject *write_fields(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "write_fields(out, datum, names, kinds, defaults)");
        return NULL;
    }
    PyObject *out = args[0], *datum = args[1], *names = args[2], *kinds = args[3],
             *defaults = args[4];
    if (!PyByteArray_Check(out) || !PyDict_Check(datum) || !PyTuple_Check(names) ||
        !PyBytes_Check(kinds) || !PyTuple_Check(defaults)) {
        PyErr_SetString(PyExc_TypeError,
                        "write_fields takes a bytearray, a dict, a tuple, bytes and a tuple");
        return NULL;
    }
    Py_ssize_t count = PyTuple_GET_SIZE(names);
    if (PyBytes_GET_SIZE(kinds) != count || PyTuple_GET_SIZE(defaults) != count) {
        PyErr_SetString(PyExc_ValueError, "names, kinds and defaults differ in length");
        return NULL;
    }
    const char *kind_of = PyBytes_AS_STRING(kinds);
    Buffer b = {.size = 0, .capacity = sizeof b.inline_buffer};
    b.data = b.inline_buffer;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *value = PyDict_GetItemWithError(datum, PyTuple_GET_ITEM(names, i));
        if (value == NULL) {
            if (PyErr_Occurred())
                goto fail;
            value = PyTuple_GET_ITEM(defaults, i); /* a missing field is written as its default */
        }
        if (put_field(&b, kind_of[i], value) < 0)
            goto fail;
    }
    Py_ssize_t start = PyByteArray_GET_SIZE(out);
    if (PyByteArray_Resize(out, start + b.size) < 0)
        goto fail;
    memcpy(PyByteArray_AS_STRING(out) + start, b.data, b.size);
    buffer_free(&b);
    Py_RETURN_NONE;
fail:
    buffer_free(&b);
    return NULL;
}

/* ---- SHA-1 and SHA-256 (FIPS 180-4), for change event ids ------------------------------- */

typedef struct {
    uint32_t state[8];
    uint64_t length;
    unsigned char block[64];
    size_t used;
    int words; /* 5: SHA-1, 8: SHA-256 */
} Hash;

static const uint32_t SHA256_K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROTL(x, n) (((x) << (n)) | ((x) >> (32 - (n))))
#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void hash_init(Hash *h, int sha256) {
    static const uint32_t sha1_start[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476,
                                           0xC3D2E1F0};
    static const uint32_t sha256_start[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                             0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    h->words = sha256 ? 8 : 5;
    memcpy(h->state, sha256 ? sha256_start : sha1_start, h->words * sizeof(uint32_t));
    h->length = 0;
    h->used = 0;
}

static void sha256_block(uint32_t *s, const uint32_t *m) {
    uint32_t w[64];
    memcpy(w, m, 16 * sizeof(uint32_t));
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROTR(w[i - 15], 7) ^ ROTR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROTR(w[i - 2], 17) ^ ROTR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = s[0], b = s[1], c = s[2], d = s[3], e = s[4], f = s[5], g = s[6], k = s[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = k + (ROTR(e, 6) ^ ROTR(e, 11) ^ ROTR(e, 25)) + ((e & f) ^ (~e & g)) +
                      SHA256_K[i] + w[i];
        uint32_t t2 = (ROTR(a, 2) ^ ROTR(a, 13) ^ ROTR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        k = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    s[0] += a; s[1] += b; s[2] += c; s[3] += d; s[4] += e; s[5] += f; s[6] += g; s[7] += k;
}

#define SHA1_ROUND(f, k)                                                                       \
    do {                                                                                       \
        uint32_t t = ROTL(a, 5) + (f) + e + (k) + w[i];                                        \
        e = d; d = c; c = ROTL(b, 30); b = a; a = t;                                           \
    } while (0)

static void sha1_block(uint32_t *s, const uint32_t *m) {
    uint32_t w[80];
    memcpy(w, m, 16 * sizeof(uint32_t));
    for (int i = 16; i < 80; i++)
        w[i] = ROTL(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = s[0], b = s[1], c = s[2], d = s[3], e = s[4];
    int i = 0;
    for (; i < 20; i++)
        SHA1_ROUND((b & c) | (~b & d), 0x5A827999);
    for (; i < 40; i++)
        SHA1_ROUND(b ^ c ^ d, 0x6ED9EBA1);
    for (; i < 60; i++)
        SHA1_ROUND((b & c) | (b & d) | (c & d), 0x8F1BBCDC);
    for (; i < 80; i++)
        SHA1_ROUND(b ^ c ^ d, 0xCA62C1D6);
    s[0] += a; s[1] += b; s[2] += c; s[3] += d; s[4] += e;
}

static void hash_block(Hash *h, const unsigned char *p) {
    uint32_t m[16];
    for (int i = 0; i < 16; i++)
        m[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
    if (h->words == 8)
        sha256_block(h->state, m);
    else
        sha1_block(h->state, m);
}

static void hash_update(Hash *h, const void *data, size_t size) {
    const unsigned char *p = data;
    h->length += size;
    if (h->used) {
        size_t take = 64 - h->used < size ? 64 - h->used : size;
        memcpy(h->block + h->used, p, take);
        h->used += take; p += take; size -= take;
        if (h->used < 64)
            return;
        hash_block(h, h->block);
        h->used = 0;
    }
    for (; size >= 64; p += 64, size -= 64)
        hash_block(h, p);
    memcpy(h->block, p, size);
    h->used = size;
}

/* The digest as lower-case hex: 40 (SHA-1) or 64 (SHA-256) characters. */
static void hash_hex(Hash *h, char *hex) {
    static const char digits[] = "0123456789abcdef";
    uint64_t bits = h->length * 8;
    h->block[h->used++] = 0x80; /* there is always room: a full block is hashed at once */
    if (h->used > 56) {
        memset(h->block + h->used, 0, 64 - h->used);
        hash_block(h, h->block);
        h->used = 0;
    }
    memset(h->block + h->used, 0, 56 - h->used);
    for (int i = 0; i < 8; i++)
        h->block[56 + i] = (unsigned char)(bits >> (56 - 8 * i));
    hash_block(h, h->block);
    for (int i = 0; i < h->words; i++)
        for (int j = 0; j < 8; j++)
            hex[8 * i + j] = digits[(h->state[i] >> (28 - 4 * j)) & 0xF];
}

/* OpenSSL's SHA-1 and SHA-256 from the libcrypto hashlib already loaded (they use the CPU's
 * SHA instructions where it has them); the portable code above where it is not. The low-level
 * Init/Update/Final functions, not the one-shot SHA1()/SHA256(): in OpenSSL 3 those look the
 * algorithm up by name on every call, which cost more than hashing a row. */
typedef int (*Init)(void *);
typedef int (*Update)(void *, const void *, size_t);
typedef int (*Final)(unsigned char *, void *);
typedef struct {
    Init init;
    Update update;
    Final final;
} Functions;
static Functions openssl_sha1, openssl_sha256;
static int openssl_looked_up;

static int look_up(void *library, const char *name, Functions *f) {
    char symbol[32];
    snprintf(symbol, sizeof symbol, "%s_Init", name);
    f->init = (Init)dlsym(library, symbol);
    snprintf(symbol, sizeof symbol, "%s_Update", name);
    f->update = (Update)dlsym(library, symbol);
    snprintf(symbol, sizeof symbol, "%s_Final", name);
    f->final = (Final)dlsym(library, symbol);
    return f->init != NULL && f->update != NULL && f->final != NULL;
}

static void look_up_openssl(void) {
    static const char *names[] = {"libcrypto.so.3", "libcrypto.so", "libcrypto.so.1.1"};
    openssl_looked_up = 1;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        void *library = dlopen(names[i], RTLD_NOW | RTLD_NOLOAD);
        if (library == NULL)
            library = dlopen(names[i], RTLD_NOW);
        if (library == NULL)
            continue;
        if (look_up(library, "SHA1", &openssl_sha1) && look_up(library, "SHA256", &openssl_sha256))
            return;
        memset(&openssl_sha1, 0, sizeof openssl_sha1);
        memset(&openssl_sha256, 0, sizeof openssl_sha256);
    }
}

/* The SHA-1 (40) or SHA-256 (64 hex digits) of ``data``, as lower-case hex. */
void digest_hex(int sha256, const char *data, size_t size, char *hex, int portable) {
    if (!openssl_looked_up)
        look_up_openssl();
    const Functions *f = sha256 ? &openssl_sha256 : &openssl_sha1;
    if (portable || f->init == NULL) {
        Hash h;
        hash_init(&h, sha256);
        hash_update(&h, data, size);
        hash_hex(&h, hex);
        return;
    }
    static const char digits[] = "0123456789abcdef";
    unsigned char digest[32];
    int length = sha256 ? 32 : 20;
    uint64_t context[32]; /* SHA256_CTX is 112 bytes, SHA_CTX 96 */
    f->init(context);
    f->update(context, data, size);
    f->final(digest, context);
    for (int i = 0; i < length; i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 0xF];
    }
}

/* ---- repr ------------------------------------------------------------------------------ */

/* Whether repr(text) is text between single quotes: no quote, no backslash, every character
 * printable (what unicode_repr escapes otherwise). */
static int plain_repr(PyObject *text) {
    Py_ssize_t length = PyUnicode_GET_LENGTH(text);
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    if (PyUnicode_IS_ASCII(text)) {
        const unsigned char *p = data;
        for (Py_ssize_t i = 0; i < length; i++)
            if (p[i] < 0x20 || p[i] == 0x7f || p[i] == '\'' || p[i] == '\\')
                return 0;
        return 1;
    }
    for (Py_ssize_t i = 0; i < length; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c == '\'' || c == '\\' || !Py_UNICODE_ISPRINTABLE(c))
            return 0;
    }
    return 1;
}

/* Append repr(value) as UTF-8. */
static int put_repr(Buffer *b, PyObject *value) {
    Py_ssize_t size;
    const char *text;
    if (value == Py_None) {
        if (buffer_reserve(b, 4) < 0)
            return -1;
        memcpy(b->data + b->size, "None", 4);
        b->size += 4;
        return 0;
    }
    if (PyUnicode_CheckExact(value) && plain_repr(value)) {
        text = PyUnicode_AsUTF8AndSize(value, &size);
        if (text == NULL || buffer_reserve(b, size + 2) < 0)
            return -1;
        b->data[b->size++] = '\'';
        memcpy(b->data + b->size, text, size);
        b->size += size;
        b->data[b->size++] = '\'';
        return 0;
    }
    PyObject *repr = PyObject_Repr(value);
    if (repr == NULL)
        return -1;
    text = PyUnicode_AsUTF8AndSize(repr, &size);
    int failed = text == NULL || buffer_reserve(b, size) < 0;
    if (!failed) {
        memcpy(b->data + b->size, text, size);
        b->size += size;
    }
    Py_DECREF(repr);
    return failed ? -1 : 0;
}

/* row_digest(row) → the first 16 hex digits of the SHA-256 of repr(sorted(row.items())), as
 * adapters/capture/rows.py computes it. */
static PyObject *row_digest(PyObject *module, PyObject *row) {
    (void)module;
    if (!PyDict_CheckExact(row)) {
        PyErr_SetString(PyExc_TypeError, "row_digest(row: dict)");
        return NULL;
    }
    PyObject *names = PyDict_Keys(row);
    if (names == NULL || PyList_Sort(names) < 0) {
        Py_XDECREF(names);
        return NULL;
    }
    Buffer b = {.size = 0, .capacity = sizeof b.inline_buffer};
    b.data = b.inline_buffer;
    Py_ssize_t count = PyList_GET_SIZE(names);
    if (put_byte(&b, '[') < 0)
        goto fail;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *name = PyList_GET_ITEM(names, i), *value = PyDict_GetItemWithError(row, name);
        if (value == NULL) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_RuntimeError, "the row changed while it was hashed");
            goto fail;
        }
        if ((i && (put_byte(&b, ',') < 0 || put_byte(&b, ' ') < 0)) || put_byte(&b, '(') < 0 ||
            put_repr(&b, name) < 0 || put_byte(&b, ',') < 0 || put_byte(&b, ' ') < 0 ||
            put_repr(&b, value) < 0 || put_byte(&b, ')') < 0)
            goto fail;
    }
    if (put_byte(&b, ']') < 0)
        goto fail;
    char hex[64];
    digest_hex(1, b.data, b.size, hex, 0);
    buffer_free(&b);
    Py_DECREF(names);
    return PyUnicode_FromStringAndSize(hex, 16);
fail:
    buffer_free(&b);
    Py_DECREF(names);
    return NULL;
}

/* ---- change records: capture's per-row work (adapters/capture/record_workers.py) -------- */

static const char VARIANT[] = "89ab89ab89ab89ab";

typedef struct {
    PyObject *columns, *key_columns;        /* tuples of str */
    const char *key_prefix, *value_prefix, *source_head, *id_prefix;
    Py_ssize_t key_prefix_size, value_prefix_size, source_head_size, id_prefix_size;
    PyObject *forms;                        /* op -> (fragments, indices) */
} Plan;

/* ``fragments[0] + repr(v[i0]) + fragments[1] + ...`` hashed with SHA-256, as hex. */
static int pairs_digest(PyObject *form, PyObject *const *values, char *hex) {
    PyObject *fragments = PyTuple_GET_ITEM(form, 0), *indices = PyTuple_GET_ITEM(form, 1);
    Py_ssize_t count = PyTuple_GET_SIZE(indices);
    Buffer b = {.size = 0, .capacity = sizeof b.inline_buffer};
    b.data = b.inline_buffer;
    for (Py_ssize_t i = 0; i <= count; i++) {
        Py_ssize_t size;
        const char *text = PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(fragments, i), &size);
        if (text == NULL || buffer_reserve(&b, size) < 0)
            goto fail;
        memcpy(b.data + b.size, text, size);
        b.size += size;
        if (i == count)
            break;
        if (put_repr(&b, values[PyLong_AsSsize_t(PyTuple_GET_ITEM(indices, i))]) < 0)
            goto fail;
    }
    digest_hex(1, b.data, b.size, hex, 0);
    buffer_free(&b);
    return 0;
fail:
    buffer_free(&b);
    return -1;
}

/* The change event id: uuid5 of "<key text>:<pairs digest>" in the table's namespace. */
static PyObject *event_id(const Plan *plan, PyObject *form, PyObject *const *values,
                          const char *key, Py_ssize_t key_size) {
    char digest[64], hex[40], uuid[36];
    if (pairs_digest(form, values, digest) < 0)
        return NULL;
    Buffer b = {.size = 0, .capacity = sizeof b.inline_buffer};
    b.data = b.inline_buffer;
    if (buffer_reserve(&b, plan->id_prefix_size + key_size + 65) < 0)
        return NULL;
    memcpy(b.data, plan->id_prefix, plan->id_prefix_size);
    memcpy(b.data + plan->id_prefix_size, key, key_size);
    b.size = plan->id_prefix_size + key_size;
    b.data[b.size++] = ':';
    memcpy(b.data + b.size, digest, 64);
    b.size += 64;
    digest_hex(0, b.data, b.size, hex, 0);
    buffer_free(&b);
    /* Version 5 (13th hex digit) and the RFC 4122 variant (top bits 10 of the 17th). */
    memcpy(uuid, hex, 8);
    uuid[8] = '-';
    memcpy(uuid + 9, hex + 8, 4);
    uuid[13] = '-';
    uuid[14] = '5';
    memcpy(uuid + 15, hex + 13, 3);
    uuid[18] = '-';
    uuid[19] = VARIANT[hex[16] <= '9' ? hex[16] - '0' : hex[16] - 'a' + 10];
    memcpy(uuid + 20, hex + 17, 3);
    uuid[23] = '-';
    memcpy(uuid + 24, hex + 20, 12);
    return PyUnicode_FromStringAndSize(uuid, 36);
}

/* A row image: each column's value (absent: None) as an optional string; ``values`` gets
 * the (borrowed) values in column order. */
static int put_row(Buffer *b, PyObject *row, PyObject *columns, PyObject **values) {
    if (!PyDict_Check(row)) {
        PyErr_Format(PyExc_TypeError, "a row image must be a dict, not %.100s",
                     Py_TYPE(row)->tp_name);
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(columns); i++) {
        PyObject *value = PyDict_GetItemWithError(row, PyTuple_GET_ITEM(columns, i));
        if (value == NULL) {
            if (PyErr_Occurred())
                return -1;
            value = Py_None;
        }
        if (values != NULL)
            values[i] = value;
        if (put_field(b, K_NULL_STRING, value) < 0)
            return -1;
    }
    return 0;
}

/* Whether ``row``'s keys are exactly ``columns``, in that order (its event id form is known). */
static int has_columns_in_order(PyObject *row, PyObject *columns) {
    if (PyDict_GET_SIZE(row) != PyTuple_GET_SIZE(columns))
        return 0;
    Py_ssize_t position = 0, i = 0;
    PyObject *name, *value;
    while (PyDict_Next(row, &position, &name, &value)) {
        PyObject *column = PyTuple_GET_ITEM(columns, i++);
        if (name != column && (!PyUnicode_Check(name) || PyUnicode_Compare(name, column) != 0))
            return 0;
    }
    return 1;
}

/* The key text of ``values``: the only one, or all joined by "|" (None and "" as ""). */
static PyObject *joined_key(PyObject **values, Py_ssize_t count) {
    if (count == 1) {
        PyObject *only = values[0];
        if (only == Py_None || (PyUnicode_Check(only) && PyUnicode_GET_LENGTH(only) == 0))
            return PyUnicode_FromStringAndSize(NULL, 0);
        Py_INCREF(only);
        return only;
    }
    PyObject *parts = PyList_New(count), *bar = PyUnicode_FromString("|"), *result = NULL;
    if (parts == NULL || bar == NULL)
        goto done;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *part = values[i] == Py_None ? NULL : values[i];
        part = part == NULL ? PyUnicode_FromStringAndSize(NULL, 0) : (Py_INCREF(part), part);
        if (part == NULL)
            goto done;
        PyList_SET_ITEM(parts, i, part);
    }
    result = PyUnicode_Join(bar, parts);
done:
    Py_XDECREF(parts);
    Py_XDECREF(bar);
    return result;
}

/* The key as text (:func:`adapters.capture.source.key_text`): its values in dict order, joined
 * by "|"; values must be text or None. */
static PyObject *key_text(PyObject *key) {
    Py_ssize_t count = PyDict_GET_SIZE(key), position = 0, i = 0;
    PyObject **values = PyMem_New(PyObject *, count + 1), *name, *value;
    if (values == NULL)
        return PyErr_NoMemory();
    while (PyDict_Next(key, &position, &name, &value)) {
        if (value != Py_None && !PyUnicode_Check(value)) {
            PyMem_Free(values);
            PyErr_SetString(PyExc_TypeError, "key values must be text");
            return NULL;
        }
        values[i++] = value;
    }
    PyObject *text = joined_key(values, count);
    PyMem_Free(values);
    return text;
}

static int is_op(PyObject *op) {
    if (!PyUnicode_Check(op) || PyUnicode_GET_LENGTH(op) != 1)
        return 0;
    Py_UCS4 c = PyUnicode_READ_CHAR(op, 0);
    return c == 'c' || c == 'u' || c == 'd' || c == 'r';
}

static PyObject *bytes_of(Buffer *b) {
    return PyBytes_FromStringAndSize(b->data, b->size);
}

/* One change → (key bytes, value bytes, ce_id or None, key text). */
static PyObject *change_record(const Plan *plan, PyObject *change, PyObject *captured_ms,
                               PyObject **values) {
    if (!PyTuple_Check(change) || PyTuple_GET_SIZE(change) < 7) {
        PyErr_SetString(PyExc_TypeError, "a change is a tuple of at least 7 items");
        return NULL;
    }
    PyObject *op = PyTuple_GET_ITEM(change, 0), *key = PyTuple_GET_ITEM(change, 1),
             *before = PyTuple_GET_ITEM(change, 2), *after = PyTuple_GET_ITEM(change, 3),
             *position = PyTuple_GET_ITEM(change, 4), *ts_ms = PyTuple_GET_ITEM(change, 5),
             *snapshot = PyTuple_GET_ITEM(change, 6);
    if (!is_op(op)) {
        PyObject *text = PyObject_Repr(op);
        if (text != NULL) {
            PyErr_Format(PyExc_ValueError, "unknown change operation %U", text);
            Py_DECREF(text);
        }
        return NULL;
    }
    if (!PyDict_Check(key)) {
        PyErr_SetString(PyExc_TypeError, "a change's key must be a dict");
        return NULL;
    }
    PyObject *result = NULL, *text = NULL, *key_bytes = NULL, *value_bytes = NULL, *id = NULL;
    Buffer b = {.size = 0, .capacity = sizeof b.inline_buffer};
    b.data = b.inline_buffer;
    text = key_text(key);
    if (text == NULL)
        goto done;
    /* The key record: every key column, missing or empty ones as "". */
    if (buffer_reserve(&b, plan->key_prefix_size) < 0)
        goto done;
    memcpy(b.data, plan->key_prefix, plan->key_prefix_size);
    b.size = plan->key_prefix_size;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(plan->key_columns); i++) {
        PyObject *value = PyDict_GetItemWithError(key, PyTuple_GET_ITEM(plan->key_columns, i));
        if (value == NULL && PyErr_Occurred())
            goto done;
        int truth = value == NULL ? 0 : PyObject_IsTrue(value);
        if (truth < 0)
            goto done;
        if (truth ? put_string(&b, value) < 0 : put_byte(&b, 0) < 0)
            goto done;
    }
    key_bytes = bytes_of(&b);
    if (key_bytes == NULL)
        goto done;
    /* The envelope: op, before, after, source, capture time. */
    b.size = 0;
    if (buffer_reserve(&b, plan->value_prefix_size) < 0)
        goto done;
    memcpy(b.data, plan->value_prefix, plan->value_prefix_size);
    b.size = plan->value_prefix_size;
    if (put_string(&b, op) < 0)
        goto done;
    PyObject *rows[2] = {before, after};
    for (int r = 0; r < 2; r++) {
        if (rows[r] == Py_None) {
            if (put_byte(&b, 0) < 0)
                goto done;
        } else if (put_byte(&b, 2) < 0 ||
                   put_row(&b, rows[r], plan->columns, r == 1 ? values : NULL) < 0) {
            goto done;
        }
    }
    if (buffer_reserve(&b, plan->source_head_size) < 0)
        goto done;
    memcpy(b.data + b.size, plan->source_head, plan->source_head_size);
    b.size += plan->source_head_size;
    if (put_field(&b, K_STRING, position) < 0 || put_field(&b, K_BOOLEAN, snapshot) < 0 ||
        put_field(&b, K_LONG, ts_ms) < 0 || put_field(&b, K_LONG, captured_ms) < 0)
        goto done;
    value_bytes = bytes_of(&b);
    if (value_bytes == NULL)
        goto done;
    /* The event id, when the image is ``after`` with the plan's columns (else Python's). */
    PyObject *form = PyDict_GetItemWithError(plan->forms, op);
    if (form == NULL && PyErr_Occurred())
        goto done;
    if (form != NULL && after != Py_None && PyDict_GET_SIZE(after) > 0 &&
        has_columns_in_order(after, plan->columns)) {
        Py_ssize_t size;
        const char *key_utf8 = PyUnicode_AsUTF8AndSize(text, &size);
        if (key_utf8 == NULL)
            goto done;
        id = event_id(plan, form, values, key_utf8, size);
        if (id == NULL)
            goto done;
    } else {
        id = Py_None;
        Py_INCREF(id);
    }
    result = PyTuple_Pack(4, key_bytes, value_bytes, id, text);
done:
    buffer_free(&b);
    Py_XDECREF(text);
    Py_XDECREF(key_bytes);
    Py_XDECREF(value_bytes);
    Py_XDECREF(id);
    return result;
}

static int bytes_field(PyObject *plan, Py_ssize_t i, const char **data, Py_ssize_t *size) {
    PyObject *item = PyTuple_GET_ITEM(plan, i);
    if (!PyBytes_Check(item)) {
        PyErr_Format(PyExc_TypeError, "plan item %zd must be bytes", i);
        return -1;
    }
    *data = PyBytes_AS_STRING(item);
    *size = PyBytes_GET_SIZE(item);
    return 0;
}

static PyObject *change_records(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 3 || !PyTuple_Check(args[0]) || PyTuple_GET_SIZE(args[0]) != 7 ||
        !PyList_Check(args[1]) || !PyLong_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "change_records(plan: tuple of 7, changes: list, "
                                         "captured_ms: int)");
        return NULL;
    }
    PyObject *native = args[0], *changes = args[1], *captured_ms = args[2];
    Plan plan = {.columns = PyTuple_GET_ITEM(native, 0), .key_columns = PyTuple_GET_ITEM(native, 1),
                 .forms = PyTuple_GET_ITEM(native, 6)};
    if (!PyTuple_Check(plan.columns) || !PyTuple_Check(plan.key_columns) ||
        !PyDict_Check(plan.forms) ||
        bytes_field(native, 2, &plan.key_prefix, &plan.key_prefix_size) < 0 ||
        bytes_field(native, 3, &plan.value_prefix, &plan.value_prefix_size) < 0 ||
        bytes_field(native, 4, &plan.source_head, &plan.source_head_size) < 0 ||
        bytes_field(native, 5, &plan.id_prefix, &plan.id_prefix_size) < 0) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "malformed change record plan");
        return NULL;
    }
    Py_ssize_t count = PyList_GET_SIZE(changes);
    PyObject **values = PyMem_New(PyObject *, PyTuple_GET_SIZE(plan.columns) + 1);
    PyObject *out = values == NULL ? NULL : PyList_New(count);
    if (out == NULL) {
        PyMem_Free(values);
        return values == NULL ? PyErr_NoMemory() : NULL;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *record = change_record(&plan, PyList_GET_ITEM(changes, i), captured_ms, values);
        if (record == NULL) {
            Py_DECREF(out);
            out = NULL;
            break;
        }
        PyList_SET_ITEM(out, i, record);
    }
    PyMem_Free(values);
    return out;
}

/* ---- row images: capture's text of fetched rows (adapters/capture/strategies/common.py) - */

PyObject *value_text(PyObject *value, PyObject *as_text, int *clean) {
    *clean = 1;
    if (value == Py_None || PyUnicode_CheckExact(value)) {
        Py_INCREF(value);
        return value;
    }
    if (PyLong_CheckExact(value))
        return PyObject_Str(value);
    if (PyBytes_CheckExact(value)) { /* as_text tries UTF-8 first: most bytes end there */
        PyObject *text = PyUnicode_DecodeUTF8(PyBytes_AS_STRING(value), PyBytes_GET_SIZE(value),
                                              NULL);
        if (text != NULL || !PyErr_ExceptionMatches(PyExc_UnicodeDecodeError))
            return text;
        PyErr_Clear();
    }
    PyObject *pair = PyObject_CallOneArg(as_text, value);
    if (pair == NULL)
        return NULL;
    if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
        Py_DECREF(pair);
        PyErr_SetString(PyExc_TypeError, "as_text must return (text, ok)");
        return NULL;
    }
    PyObject *text = PyTuple_GET_ITEM(pair, 0);
    *clean = PyObject_IsTrue(PyTuple_GET_ITEM(pair, 1));
    Py_INCREF(text);
    Py_DECREF(pair);
    if (*clean < 0) {
        Py_DECREF(text);
        return NULL;
    }
    return text;
}

/* text_images(columns, rows, skip, key_columns, as_text)
 *   → (images, keys, key_texts, undecodable), as common.images() computes them. */
static PyObject *text_images(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 5 || !PyTuple_Check(args[0]) || !PyList_Check(args[1]) ||
        !PyLong_Check(args[2]) || !PyTuple_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError, "text_images(columns: tuple, rows: list, skip: int, "
                                         "key_columns: tuple, as_text)");
        return NULL;
    }
    PyObject *columns = args[0], *rows = args[1], *key_columns = args[3], *as_text = args[4];
    Py_ssize_t skip = PyLong_AsSsize_t(args[2]);
    if (skip < 0) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "skip must not be negative");
        return NULL;
    }
    Py_ssize_t count = PyList_GET_SIZE(rows), width = PyTuple_GET_SIZE(columns),
               key_width = PyTuple_GET_SIZE(key_columns);
    PyObject *images = PyList_New(count), *keys = PyList_New(count),
             *key_texts = PyList_New(count), *undecodable = PyList_New(count),
             *clean = PyTuple_New(0), *result = NULL;
    PyObject **key_values = PyMem_New(PyObject *, key_width + 1);
    if (images == NULL || keys == NULL || key_texts == NULL || undecodable == NULL ||
        clean == NULL || key_values == NULL)
        goto done;
    for (Py_ssize_t r = 0; r < count; r++) {
        PyObject *row = PyList_GET_ITEM(rows, r);
        PyObject *values = PySequence_Fast(row, "a fetched row must be a sequence");
        if (values == NULL)
            goto done;
        if (PySequence_Fast_GET_SIZE(values) != skip + width) {
            PyErr_Format(PyExc_ValueError, "%zd columns named for rows of %zd values", width,
                         PySequence_Fast_GET_SIZE(values) - skip);
            Py_DECREF(values);
            goto done;
        }
        PyObject **items = PySequence_Fast_ITEMS(values) + skip;
        PyObject *image = PyDict_New(), *bad = NULL;
        if (image == NULL) {
            Py_DECREF(values);
            goto done;
        }
        PyList_SET_ITEM(images, r, image);
        for (Py_ssize_t c = 0; c < width; c++) {
            int ok;
            PyObject *text = value_text(items[c], as_text, &ok);
            if (text == NULL || PyDict_SetItem(image, PyTuple_GET_ITEM(columns, c), text) < 0) {
                Py_XDECREF(text);
                Py_XDECREF(bad);
                Py_DECREF(values);
                goto done;
            }
            Py_DECREF(text);
            if (!ok && ((bad == NULL && (bad = PyList_New(0)) == NULL) ||
                        PyList_Append(bad, PyTuple_GET_ITEM(columns, c)) < 0)) {
                Py_XDECREF(bad);
                Py_DECREF(values);
                goto done;
            }
        }
        Py_DECREF(values);
        PyObject *bad_columns = bad == NULL ? (Py_INCREF(clean), clean) : PyList_AsTuple(bad);
        Py_XDECREF(bad);
        if (bad_columns == NULL)
            goto done;
        PyList_SET_ITEM(undecodable, r, bad_columns);
        PyObject *key = PyDict_New();
        if (key == NULL)
            goto done;
        PyList_SET_ITEM(keys, r, key);
        for (Py_ssize_t k = 0; k < key_width; k++) {
            PyObject *column = PyTuple_GET_ITEM(key_columns, k);
            PyObject *value = PyDict_GetItemWithError(image, column);
            if (value == NULL && PyErr_Occurred())
                goto done;
            key_values[k] = value == NULL ? Py_None : value;
            if (PyDict_SetItem(key, column, key_values[k]) < 0)
                goto done;
        }
        PyObject *text = joined_key(key_values, key_width);
        if (text == NULL)
            goto done;
        PyList_SET_ITEM(key_texts, r, text);
    }
    result = PyTuple_Pack(4, images, keys, key_texts, undecodable);
done:
    PyMem_Free(key_values);
    Py_XDECREF(images);
    Py_XDECREF(keys);
    Py_XDECREF(key_texts);
    Py_XDECREF(undecodable);
    Py_XDECREF(clean);
    return result;
}

/* ---- pgoutput tuple data (adapters/capture/engines/postgres_pgoutput.py) --------------- */

static int read_be(const unsigned char *data, Py_ssize_t size, Py_ssize_t *at, int width,
                   long long *value) {
    if (*at + width > size) {
        PyErr_SetString(PyExc_ValueError, "pgoutput message ends inside a tuple");
        return -1;
    }
    unsigned long long n = 0;
    for (int i = 0; i < width; i++)
        n = n << 8 | data[*at + i];
    *at += width;
    /* signed, as struct's "!h" and "!i" read them */
    *value = width == 2 ? (long long)(int16_t)n : (long long)(int32_t)n;
    return 0;
}

/* ``args[0]`` (bytes) and ``args[1]`` (a non-negative offset) of a protocol reader. */
static int data_at(PyObject *const *args, const char *usage, const unsigned char **data,
                   Py_ssize_t *size, Py_ssize_t *at) {
    if (!PyBytes_Check(args[0]) || !PyLong_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, usage);
        return -1;
    }
    *data = (const unsigned char *)PyBytes_AS_STRING(args[0]);
    *size = PyBytes_GET_SIZE(args[0]);
    *at = PyLong_AsSsize_t(args[1]);
    if (*at < 0) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "negative offset");
        return -1;
    }
    return 0;
}

/* pgoutput_tuple(data, at, unchanged) → (values, at after them): None for 'n', ``unchanged``
 * for 'u', the bytes of 't' and 'b' values. */
static PyObject *pgoutput_tuple(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    const char *usage = "pgoutput_tuple(data: bytes, at: int, unchanged)";
    const unsigned char *data;
    Py_ssize_t size, at;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, usage);
        return NULL;
    }
    if (data_at(args, usage, &data, &size, &at) < 0)
        return NULL;
    long long count;
    if (read_be(data, size, &at, 2, &count) < 0)
        return NULL;
    PyObject *values = PyTuple_New(count < 0 ? 0 : count);
    if (values == NULL)
        return NULL;
    for (long long i = 0; i < count; i++) {
        if (at >= size) {
            PyErr_SetString(PyExc_ValueError, "pgoutput message ends inside a tuple");
            goto fail;
        }
        unsigned char kind = data[at++];
        PyObject *value;
        if (kind == 'n') {
            value = Py_None;
            Py_INCREF(value);
        } else if (kind == 'u') {
            value = args[2];
            Py_INCREF(value);
        } else if (kind == 't' || kind == 'b') {
            long long length;
            if (read_be(data, size, &at, 4, &length) < 0)
                goto fail;
            /* a slice past the end is shorter, as Python's would be */
            Py_ssize_t available = length < 0 ? 0 : (length > size - at ? size - at : length);
            value = PyBytes_FromStringAndSize((const char *)data + at, available);
            if (value == NULL)
                goto fail;
            at += length;
        } else {
            PyErr_Format(PyExc_ValueError, "unknown pgoutput tuple value kind '%c'", kind);
            goto fail;
        }
        PyTuple_SET_ITEM(values, i, value);
    }
    PyObject *result = Py_BuildValue("(Nn)", values, at);
    return result;
fail:
    Py_DECREF(values);
    return NULL;
}

/* One TupleData as a row image: (row, undecodable names); NULL without an exception where the
 * Python reader must decide (an unchanged TOASTed value, a count that is not the relation's,
 * an unknown kind, a message that ends early). */
static PyObject *pgoutput_image(const unsigned char *data, Py_ssize_t size, Py_ssize_t *at,
                                PyObject *columns, PyObject *as_text) {
    if (*at + 2 > size)
        return NULL;
    Py_ssize_t count = (int16_t)(data[*at] << 8 | data[*at + 1]);
    *at += 2;
    if (count != PyTuple_GET_SIZE(columns))
        return NULL;
    PyObject *row = PyDict_New(), *bad = PyList_New(0);
    if (row == NULL || bad == NULL)
        goto fail;
    for (Py_ssize_t i = 0; i < count; i++) {
        if (*at >= size)
            goto fail;
        unsigned char kind = data[(*at)++];
        PyObject *value;
        int clean = 1;
        if (kind == 'n') {
            value = Py_None;
            Py_INCREF(value);
        } else if (kind == 't' || kind == 'b') {
            long long length;
            if (*at + 4 > size)
                goto fail;
            length = (int32_t)((uint32_t)data[*at] << 24 | (uint32_t)data[*at + 1] << 16 |
                               (uint32_t)data[*at + 2] << 8 | data[*at + 3]);
            *at += 4;
            if (length < 0 || length > size - *at)
                goto fail;
            const char *bytes = (const char *)data + *at;
            *at += (Py_ssize_t)length;
            value = PyUnicode_DecodeUTF8(bytes, (Py_ssize_t)length, NULL);
            if (value == NULL) {
                if (!PyErr_ExceptionMatches(PyExc_UnicodeDecodeError))
                    goto fail;
                PyErr_Clear();
                PyObject *raw = PyBytes_FromStringAndSize(bytes, (Py_ssize_t)length);
                value = raw == NULL ? NULL : value_text(raw, as_text, &clean);
                Py_XDECREF(raw);
                if (value == NULL)
                    goto fail;
            }
        } else {
            goto fail; /* 'u' (unchanged) and anything unknown: the Python reader */
        }
        PyObject *name = PyTuple_GET_ITEM(columns, i);
        int failed = PyDict_SetItem(row, name, value);
        Py_DECREF(value);
        if (failed < 0 || (!clean && PyList_Append(bad, name) < 0))
            goto fail;
    }
    PyObject *names = PyList_AsTuple(bad);
    Py_DECREF(bad);
    return names == NULL ? (Py_DECREF(row), NULL) : Py_BuildValue("(NN)", row, names);
fail:
    Py_XDECREF(row);
    Py_XDECREF(bad);
    return NULL;
}

/* pgoutput_row(payload, oid, columns, as_text) → (kind, old_kind, old, new) for an Insert,
 * Update or Delete of relation ``oid`` whose values are all text or NULL, each image a
 * (row, undecodable) pair as adapters/capture/engines/postgres_stream.py makes it; None for
 * every other message (the Python reader takes it). */
static PyObject *pgoutput_row(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 4 || !PyBytes_Check(args[0]) || !PyLong_Check(args[1]) ||
        !PyTuple_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError,
                        "pgoutput_row(payload: bytes, oid: int, columns: tuple, as_text)");
        return NULL;
    }
    const unsigned char *data = (const unsigned char *)PyBytes_AS_STRING(args[0]);
    Py_ssize_t size = PyBytes_GET_SIZE(args[0]), at = 5;
    unsigned long oid = PyLong_AsUnsignedLong(args[1]);
    if (oid == (unsigned long)-1 && PyErr_Occurred())
        return NULL;
    if (size < 6 || (data[0] != 'I' && data[0] != 'U' && data[0] != 'D') ||
        ((unsigned long)data[1] << 24 | (unsigned long)data[2] << 16 |
         (unsigned long)data[3] << 8 | data[4]) != oid)
        Py_RETURN_NONE;
    char kind = (char)data[0], marker = (char)data[at++];
    PyObject *old = NULL, *new = NULL, *old_kind = Py_None;
    if (kind == 'D' || (kind == 'U' && (marker == 'K' || marker == 'O'))) {
        old_kind = NULL;
        old = pgoutput_image(data, size, &at, args[2], args[3]);
        if (old == NULL)
            goto unhandled;
        old_kind = PyUnicode_FromStringAndSize(&marker, 1);
        if (old_kind == NULL)
            goto fail;
        if (kind == 'U') {
            if (at >= size)
                goto unhandled;
            marker = (char)data[at++];
        }
    }
    if (kind != 'D') {
        if (marker != 'N')
            goto unhandled;
        new = pgoutput_image(data, size, &at, args[2], args[3]);
        if (new == NULL)
            goto unhandled;
    }
    return Py_BuildValue("(s#NNN)", &kind, (Py_ssize_t)1, old_kind == Py_None ? Py_NewRef(Py_None) : old_kind,
                         old == NULL ? Py_NewRef(Py_None) : old,
                         new == NULL ? Py_NewRef(Py_None) : new);
unhandled:
    if (PyErr_Occurred())
        goto fail;
    Py_XDECREF(old);
    Py_XDECREF(new);
    if (old_kind != Py_None)
        Py_XDECREF(old_kind);
    Py_RETURN_NONE;
fail:
    Py_XDECREF(old);
    Py_XDECREF(new);
    if (old_kind != Py_None)
        Py_XDECREF(old_kind);
    return NULL;
}

/* ---- MySQL text-protocol rows (adapters/capture/engines/mariadb_rows.py) -------------- */

/* The capture's text of a server DATETIME/TIMESTAMP ('YYYY-MM-DD hh:mm:ss[.f…]') or DATE
 * ('YYYY-MM-DD') in its canonical form, as adapters/capture/engines/mariadb_times.py makes
 * it; NULL without an exception for any other form (its Python function decides). */
static int ascii_digits(const char *p, int n) {
    for (int i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return 0;
    return 1;
}

static int two_digits(const char *p) {
    return (p[0] - '0') * 10 + (p[1] - '0');
}

static int canonical_date(const char *p) {
    if (!ascii_digits(p, 4) || p[4] != '-' || !ascii_digits(p + 5, 2) || p[7] != '-' ||
        !ascii_digits(p + 8, 2))
        return 0;
    int year = two_digits(p) * 100 + two_digits(p + 2);
    return valid_date(year, two_digits(p + 5), two_digits(p + 8));
}

enum { TIME_DATETIME = 1, TIME_DATE = 2 };

static PyObject *time_text(int kind, const char *p, Py_ssize_t n) {
    if (kind == TIME_DATE)
        return n == 10 && canonical_date(p) ? PyUnicode_FromStringAndSize(p, 10) : NULL;
    if (n < 19 || !canonical_date(p) || p[10] != ' ' || !ascii_digits(p + 11, 2) ||
        p[13] != ':' || !ascii_digits(p + 14, 2) || p[16] != ':' || !ascii_digits(p + 17, 2) ||
        two_digits(p + 11) >= 24 || two_digits(p + 14) >= 60 || two_digits(p + 17) >= 60)
        return NULL;
    if (n == 19)
        return PyUnicode_FromStringAndSize(p, 19);
    Py_ssize_t digits = n - 20;
    if (p[19] != '.' || digits < 1 || digits > 6 || !ascii_digits(p + 20, (int)digits))
        return NULL;
    int zero = 1;
    for (Py_ssize_t i = 0; i < digits; i++)
        zero &= p[20 + i] == '0';
    if (zero) /* isoformat writes microseconds unless they are zero */
        return PyUnicode_FromStringAndSize(p, 19);
    char text[26];
    memcpy(text, p, 20 + digits);
    memset(text + 20 + digits, '0', 6 - digits);
    return PyUnicode_FromStringAndSize(text, 26);
}

/* mysql_text_row(data, at, converters) → the row PyMySQL's MySQLResult._read_row_from_packet
 * reads: per (encoding, converter) a length-coded string — NULL as None — decoded when an
 * encoding is given and converted when a converter is; the values stop where the data does.
 * A converter (TIME_DATETIME or TIME_DATE, function) reads canonical times here and hands
 * the function the rest. */
static PyObject *mysql_text_row(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    const char *usage = "mysql_text_row(data: bytes, at: int, converters: list)";
    const unsigned char *data;
    Py_ssize_t size, at;
    if (nargs != 3 || !PyList_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, usage);
        return NULL;
    }
    if (data_at(args, usage, &data, &size, &at) < 0)
        return NULL;
    PyObject *converters = args[2];
    Py_ssize_t count = PyList_GET_SIZE(converters), filled = 0;
    PyObject *row = PyTuple_New(count);
    if (row == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < count; i++) {
        if (at >= size)
            break; /* no more columns in this row (PyMySQL pull request 434) */
        PyObject *pair = PyList_GET_ITEM(converters, i);
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
            PyErr_SetString(PyExc_TypeError, "converters are (encoding, converter) pairs");
            goto fail;
        }
        unsigned int first = data[at++];
        unsigned long long length = 0;
        int null = first == 251 || first == 255; /* 255 falls through PyMySQL's reader: None */
        if (first < 251) {
            length = first;
        } else if (first >= 252 && first <= 254) {
            int width = first == 252 ? 2 : first == 253 ? 3 : 8;
            if (at + width > size) {
                PyErr_SetString(PyExc_ValueError, "a length-coded integer ends the packet early");
                goto fail;
            }
            for (int b = width - 1; b >= 0; b--)
                length = length << 8 | data[at + b];
            at += width;
        }
        PyObject *value;
        if (null) {
            value = Py_None;
            Py_INCREF(value);
        } else {
            if (length > (unsigned long long)(size - at)) {
                PyErr_Format(PyExc_AssertionError,
                             "Result length not requested length: Expected=%llu", length);
                goto fail;
            }
            PyObject *encoding = PyTuple_GET_ITEM(pair, 0), *converter = PyTuple_GET_ITEM(pair, 1);
            const char *bytes = (const char *)data + at;
            at += (Py_ssize_t)length;
            if (PyTuple_Check(converter) && PyTuple_GET_SIZE(converter) == 2) {
                /* (TIME_… kind, the Python function for the other forms) */
                value = time_text((int)PyLong_AsLong(PyTuple_GET_ITEM(converter, 0)), bytes,
                                  (Py_ssize_t)length);
                if (value != NULL) {
                    PyTuple_SET_ITEM(row, i, value);
                    filled = i + 1;
                    continue;
                }
                if (PyErr_Occurred())
                    goto fail;
                converter = PyTuple_GET_ITEM(converter, 1);
            }
            if (encoding == Py_None) {
                value = PyBytes_FromStringAndSize(bytes, (Py_ssize_t)length);
            } else {
                const char *name = PyUnicode_AsUTF8(encoding);
                value = name == NULL ? NULL
                                     : PyUnicode_Decode(bytes, (Py_ssize_t)length, name, "strict");
            }
            if (value != NULL && converter != Py_None) {
                PyObject *converted = PyObject_CallOneArg(converter, value);
                Py_DECREF(value);
                value = converted;
            }
            if (value == NULL)
                goto fail;
        }
        PyTuple_SET_ITEM(row, i, value);
        filled = i + 1;
    }
    if (filled < count && _PyTuple_Resize(&row, filled) < 0)
        return NULL;
    return row;
fail:
    Py_DECREF(row);
    return NULL;
}

/* SHA-1 or SHA-256 of ``data`` as hex, by OpenSSL or (``portable``) the code above; for the
 * tests of both. */
static PyObject *hex_digest(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 3 || !PyUnicode_Check(args[0]) || !PyBytes_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "hex_digest('sha1' | 'sha256', data: bytes, portable)");
        return NULL;
    }
    int portable = PyObject_IsTrue(args[2]);
    if (portable < 0)
        return NULL;
    const char *name = PyUnicode_AsUTF8(args[0]);
    if (name == NULL)
        return NULL;
    int sha256 = strcmp(name, "sha256") == 0;
    if (!sha256 && strcmp(name, "sha1") != 0) {
        PyErr_SetString(PyExc_ValueError, "sha1 or sha256");
        return NULL;
    }
    char hex[64];
    digest_hex(sha256, PyBytes_AS_STRING(args[1]), PyBytes_GET_SIZE(args[1]), hex, portable);
    return PyUnicode_FromStringAndSize(hex, sha256 ? 64 : 40);
}

static PyMethodDef methods[] = {
    {"write_fields", (PyCFunction)(void (*)(void))write_fields, METH_FASTCALL,
     "Append the Avro body of a flat record (strings, optional strings, booleans, ints, longs)."},
    {"change_records", (PyCFunction)(void (*)(void))change_records, METH_FASTCALL,
     "Key bytes, value bytes, event id (or None) and key text of each change."},
    {"text_images", (PyCFunction)(void (*)(void))text_images, METH_FASTCALL,
     "Images, keys, key texts and undecodable columns of fetched rows."},
    {"pgoutput_tuple", (PyCFunction)(void (*)(void))pgoutput_tuple, METH_FASTCALL,
     "The values of a pgoutput TupleData and the offset after it."},
    {"pgoutput_row", (PyCFunction)(void (*)(void))pgoutput_row, METH_FASTCALL,
     "The row images of a pgoutput Insert, Update or Delete of one relation (or None)."},
    {"mysql_text_row", (PyCFunction)(void (*)(void))mysql_text_row, METH_FASTCALL,
     "One row of a MySQL text-protocol result packet, as PyMySQL reads it."},
    {"binlog_images", (PyCFunction)(void (*)(void))binlog_images, METH_FASTCALL,
     "Row images of a MariaDB/MySQL binlog rows event, as capture text (or None)."},
    {"extract_row", (PyCFunction)(void (*)(void))extract_row, METH_FASTCALL,
     "Key JSON, hash and JSON of a file-drop row (adapters/capture/engines/files_diff.py)."},
    {"csv_records", (PyCFunction)(void (*)(void))csv_records, METH_FASTCALL,
     "Records of decoded CSV lines the plain split reads (files_records.py), else None."},
    {"kafka_batches", (PyCFunction)(void (*)(void))kafka_batches, METH_FASTCALL,
     "Kafka record batches (format v2, header left zero) of keyed records, per partition."},
    {"outgoing_records", (PyCFunction)(void (*)(void))outgoing_records, METH_FASTCALL,
     "The records publishing built changes: CloudEvents headers, a tombstone after deletes."},
    {"row_digest", (PyCFunction)row_digest, METH_O,
     "The 16-hex-digit fingerprint of a row image (adapters/capture/rows.py row_digest)."},
    {"hex_digest", (PyCFunction)(void (*)(void))hex_digest, METH_FASTCALL,
     "SHA-1 or SHA-256 of bytes, as lower-case hex."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_definition = {
    PyModuleDef_HEAD_INIT, "bus._speedups",
    "C versions of the per-row Avro writing and change event ids (see bus/speedups.py).", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__speedups(void) {
    return PyModule_Create(&module_definition);
}
