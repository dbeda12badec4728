/* The SIP parser's C accelerator (issue 11 item 3, issue 9 item 8): the two loops over a
 * message's header lines that every received message runs, done without a Python object per
 * step.
 *
 * Under load a uas spends about a third of its CPU in them (docs/performance.md, "A C
 * accelerator for the header lines"): SipMessage's split of the header section into lines,
 * then (name, value) pairs and canonical keys; and, on TCP/TLS, the framer's search for
 * Content-Length before the message can be cut from the stream. In compiled Python each line
 * costs a partition, a strip, slices and their objects; here it costs the two strings and the
 * tuple the result is made of.
 *
 * split_head(data, cache) -> (head, first_line, headers, keys, body_start, is_request, method,
 *                             request_uri, status_code, reason, call_id, cseq_number,
 *                             cseq_method, content_length) or None
 *   data     a bytes object holding one message, leading CRLFs already dropped
 *   cache    SipMessage's name cache: header name as written -> canonical key (str -> str)
 *   The usual case only: the header section ends with the first CRLF CRLF, every line ends
 *   with CRLF, every header line has a colon and a name spelling found in the cache (so no
 *   folded line, no new spelling, no error). Then it returns what the Python path computes,
 *   except None for the header section's str (SipMessage makes it from the message's bytes
 *   when asked): its first line, the list of (name, value) tuples (value stripped of spaces and
 *   tabs), the list of keys and the body's offset; then the start line's fields, the first
 *   Call-ID ("" if none), the CSeq's number (-1 if not 1 to 10 digits) and method, and the
 *   first Content-Length's value (-1 without one), when the start line is in its usual form
 *   ("SIP/2.0 NNN reason", or "METHOD URI SIP/2.0" with a token for the method), the CSeq
 *   value printable ASCII and the Content-Length 1 to 10 digits, at most the bytes after the
 *   header section. For anything else it returns None and the Python path (message.py) parses
 *   the message, so every error and every unusual form keeps exactly one implementation.
 *
 * content_length(buffer, end) -> int
 *   buffer   bytes or bytearray holding a stream's bytes from the start of a message
 *   end      offset of the LF that ends the message's last header line
 *   The framer's rule (framing.py, _content_length, which stays the reference): the first
 *   header line (after the start line) whose name, case-insensitive and with trailing spaces
 *   or tabs dropped, is "content-length" or "l" gives the length: its value stripped of
 *   spaces, tabs and CRs if that is 1 to 10 ASCII digits, else 0. -1 when there is none.
 *
 * cut_message(buffer, start, max_size) -> bytes or None
 *   buffer   the framer's bytearray, starting at a message's start line
 *   start    where the search for the end of the headers resumes (framing.py's scan position)
 *   The framer's usual step in one call: find the end of the headers as the framer does, read
 *   Content-Length as above, and when it is present, the whole message is buffered and it fits
 *   max_size, return the message as bytes and delete it from the buffer. Anything else (no end
 *   of headers yet, no Content-Length, a body still on its way, a message too large) returns
 *   None with the buffer untouched, and the framer's Python code takes the step: counting and
 *   errors stay there.
 *
 * joined_line(headers, keys, key) -> str or None
 *   SipMessage.joined_header_line's text ([last_Name:]) from a message's (name, value) pairs and
 *   their keys: "Name: v1, v2" for every line with this key, the name as in the first, "" when
 *   there is none; in one pass over the keys and one string built in place (a count, an index
 *   and an f-string cost three passes and a format call in compiled Python). None for what it
 *   does not build (a str that is not 1-byte, lists of different lengths): the Python path.
 *
 * tests/sip/test_sipfast.py compares all four with the Python path on every sample message and on
 * generated variants.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <string.h>

static int
is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Header lines seen before, by name spelling: the name and canonical key strings to reuse, and
 * the last (name, value) pair made for that spelling. A peer sends the same header names in
 * every message and many values unchanged (Max-Forwards, Contact, Content-Type, a uac's CSeq),
 * so most lines cost a comparison of bytes instead of new strings, a hash, a dict look-up and,
 * later, the frees. Strings are immutable, so sharing them between messages is invisible.
 * The table is filled only from names found in the cache it was given (the parser's checks
 * made them), and emptied when a different cache comes (the tests load the parser twice). */
#define NAME_SLOTS 256 /* a power of two; a run sees a few dozen spellings */
#define NAME_PROBES 8
#define NAME_MAX_LEN 40

typedef struct {
    Py_ssize_t len; /* 0: empty slot */
    char bytes[NAME_MAX_LEN];
    PyObject *name;
    PyObject *key;
    PyObject *pair; /* the last (name, value) tuple made for this spelling */
} NameSlot;

static NameSlot name_table[NAME_SLOTS];
static PyObject *name_table_cache; /* the cache the table was filled from (strong) */

static void
clear_name_table(void)
{
    for (size_t i = 0; i < NAME_SLOTS; i++) {
        NameSlot *slot = &name_table[i];
        if (slot->len) {
            slot->len = 0;
            Py_CLEAR(slot->name);
            Py_CLEAR(slot->key);
            Py_CLEAR(slot->pair);
        }
    }
}

static size_t
name_hash(const char *name, Py_ssize_t len)
{
    size_t h = 2166136261u; /* FNV-1a */
    for (Py_ssize_t i = 0; i < len; i++) {
        h = (h ^ (unsigned char)name[i]) * 16777619u;
    }
    return h;
}

/* The slot holding this spelling, else NULL with *empty set to a free slot on its probe path
 * (or NULL when there is none, or the name is too long to keep). */
static NameSlot *
find_name(const char *name, Py_ssize_t len, NameSlot **empty)
{
    *empty = NULL;
    if (len > NAME_MAX_LEN) {
        return NULL;
    }
    size_t h = name_hash(name, len);
    for (size_t i = 0; i < NAME_PROBES; i++) {
        NameSlot *slot = &name_table[(h + i) & (NAME_SLOTS - 1)];
        if (slot->len == 0) {
            *empty = slot;
            return NULL;
        }
        if (slot->len == len && memcmp(slot->bytes, name, (size_t)len) == 0) {
            return slot;
        }
    }
    return NULL;
}

/* A latin-1 str equal to the bytes value[0:len]? (The parser makes only 1-byte strings.) */
static int
same_text(PyObject *text, const char *value, Py_ssize_t len)
{
    return PyUnicode_GET_LENGTH(text) == len && PyUnicode_KIND(text) == PyUnicode_1BYTE_KIND &&
           memcmp(PyUnicode_1BYTE_DATA(text), value, (size_t)len) == 0;
}

/* The key is the ASCII text given (keys are the cache's canonical names). */
static int
key_is(PyObject *key, const char *text, Py_ssize_t size)
{
    return PyUnicode_KIND(key) == PyUnicode_1BYTE_KIND && PyUnicode_GET_LENGTH(key) == size &&
           memcmp(PyUnicode_1BYTE_DATA(key), text, (size_t)size) == 0;
}

static int
is_token_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("-.!%*_+`'~", c) != NULL);
}

/* The start line's fields as SipMessage sets them: (is_request, method, request_uri,
 * status_code, reason) into out[0..4] (new references). 0 when done; 1 when the line is not the
 * usual form (the Python path then parses it, errors included); -1 on an exception. */
static int
parse_start_line(const char *line, Py_ssize_t size, PyObject **out)
{
    static const char version[] = "SIP/2.0";
    if (size >= 8 && memcmp(line, "SIP/2.0 ", 8) == 0) {
        if (size < 11) {
            return 1;
        }
        int status = 0;
        for (int i = 8; i < 11; i++) {
            if (line[i] < '0' || line[i] > '9') {
                return 1;
            }
            status = status * 10 + (line[i] - '0');
        }
        if (status < 100 || status > 699 || (size > 11 && line[11] != ' ')) {
            return 1;
        }
        const char *reason = line + (size > 11 ? 12 : 11);
        const char *reason_end = line + size;
        while (reason < reason_end && is_blank(*reason)) {
            reason++;
        }
        while (reason_end > reason && is_blank(reason_end[-1])) {
            reason_end--;
        }
        out[0] = Py_NewRef(Py_False);
        out[1] = PyUnicode_New(0, 0);
        out[2] = PyUnicode_New(0, 0);
        out[3] = PyLong_FromLong(status);
        out[4] = PyUnicode_DecodeLatin1(reason, reason_end - reason, NULL);
    }
    else {
        const char *first_space = memchr(line, ' ', (size_t)size);
        if (first_space == NULL || first_space == line) {
            return 1;
        }
        const char *uri = first_space + 1;
        const char *second_space = memchr(uri, ' ', (size_t)(line + size - uri));
        if (second_space == NULL || second_space == uri) {
            return 1;
        }
        const char *rest = second_space + 1;
        if (line + size - rest != (Py_ssize_t)sizeof version - 1 ||
            memcmp(rest, version, sizeof version - 1) != 0) {
            return 1;
        }
        for (const char *c = line; c < first_space; c++) {
            if (!is_token_char(*c)) {
                return 1;
            }
        }
        out[0] = Py_NewRef(Py_True);
        out[1] = PyUnicode_DecodeLatin1(line, first_space - line, NULL);
        out[2] = PyUnicode_DecodeLatin1(uri, second_space - uri, NULL);
        out[3] = PyLong_FromLong(0);
        out[4] = PyUnicode_New(0, 0);
    }
    for (int i = 0; i < 5; i++) {
        if (out[i] == NULL) {
            return -1;
        }
    }
    return 0;
}

/* CSeq's number and method as SipMessage takes them from the value's whitespace-separated
 * words: the number if the first is 1 to 10 ASCII digits (else -1), the second word or "".
 * 0 when done; 1 when the value holds anything but printable ASCII, spaces and tabs (Python's
 * split() knows more whitespace: the Python path takes those); -1 on an exception. */
static int
parse_cseq(PyObject *value, PyObject **number, PyObject **method)
{
    if (PyUnicode_KIND(value) != PyUnicode_1BYTE_KIND) {
        return 1;
    }
    const char *text = (const char *)PyUnicode_1BYTE_DATA(value);
    Py_ssize_t size = PyUnicode_GET_LENGTH(value);
    for (Py_ssize_t i = 0; i < size; i++) {
        char c = text[i];
        if (!((c > ' ' && c < 0x7f) || c == ' ' || c == '\t')) {
            return 1;
        }
    }
    const char *p = text;
    const char *stop = text + size;
    const char *words[2] = {NULL, NULL};
    Py_ssize_t lengths[2] = {0, 0};
    for (int w = 0; w < 2; w++) {
        while (p < stop && is_blank(*p)) {
            p++;
        }
        if (p == stop) {
            break;
        }
        words[w] = p;
        while (p < stop && !is_blank(*p)) {
            p++;
        }
        lengths[w] = p - words[w];
    }
    long parsed = -1;
    if (words[0] != NULL && lengths[0] <= 10) {
        parsed = 0;
        for (Py_ssize_t i = 0; i < lengths[0]; i++) {
            char c = words[0][i];
            if (c < '0' || c > '9') {
                parsed = -1;
                break;
            }
            parsed = parsed * 10 + (c - '0');
        }
    }
    *number = PyLong_FromLong(parsed);
    *method = words[1] != NULL ? PyUnicode_DecodeLatin1(words[1], lengths[1], NULL)
                               : PyUnicode_New(0, 0);
    if (*number == NULL || *method == NULL) {
        Py_CLEAR(*number);
        Py_CLEAR(*method);
        return -1;
    }
    return 0;
}

/* The body's length that a Content-Length value gives, as SipMessage reads it: -1 without the
 * header; the value when it is 1 to 10 ASCII digits and at most the bytes there are; -2 for
 * anything else (the Python path raises SipParseError with its message). */
static Py_ssize_t
body_length(PyObject *text, Py_ssize_t available)
{
    if (text == NULL) {
        return -1;
    }
    Py_ssize_t size = PyUnicode_GET_LENGTH(text);
    if (size < 1 || size > 10 || PyUnicode_KIND(text) != PyUnicode_1BYTE_KIND) {
        return -2;
    }
    const Py_UCS1 *digits = PyUnicode_1BYTE_DATA(text);
    long long length = 0;
    for (Py_ssize_t i = 0; i < size; i++) {
        if (digits[i] < '0' || digits[i] > '9') {
            return -2;
        }
        length = length * 10 + (digits[i] - '0');
    }
    return length > (long long)available ? -2 : (Py_ssize_t)length;
}

static PyObject *
split_head(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 2 || !PyBytes_CheckExact(args[0]) || !PyDict_CheckExact(args[1])) {
        PyErr_SetString(PyExc_TypeError, "split_head(data: bytes, cache: dict)");
        return NULL;
    }
    PyObject *cache = args[1];
    const char *data = PyBytes_AS_STRING(args[0]);
    Py_ssize_t size = PyBytes_GET_SIZE(args[0]);
    /* The header section ends at the first CR LF CR LF; every LF before it must end a CRLF
     * (else the Python path handles LF ends). One walk from LF to LF finds both: memchr is
     * the fastest search there is, and a memmem for the end before it cost as much again. */
    const char *stop = data + size;
    const char *end = NULL;
    for (const char *p = data; (p = memchr(p, '\n', stop - p)) != NULL; p++) {
        if (p == data || p[-1] != '\r') {
            Py_RETURN_NONE;
        }
        if (stop - p > 2 && p[1] == '\r' && p[2] == '\n') {
            end = p - 1; /* at the CR of the CR LF CR LF */
            break;
        }
    }
    if (end == NULL) {
        Py_RETURN_NONE;
    }
    if (cache != name_table_cache) {
        clear_name_table();
        Py_INCREF(cache);
        Py_XSETREF(name_table_cache, cache);
    }
    PyObject *headers = PyList_New(0);
    PyObject *keys = PyList_New(0);
    PyObject *first = NULL;
    PyObject *result = NULL;
    PyObject *start[5] = {NULL, NULL, NULL, NULL, NULL};
    PyObject *call_id = NULL; /* borrowed from its pair in headers */
    PyObject *cseq = NULL;    /* borrowed likewise */
    PyObject *length_text = NULL; /* the first Content-Length's value, borrowed likewise */
    PyObject *cseq_number = NULL;
    PyObject *cseq_method = NULL;
    if (headers == NULL || keys == NULL) {
        goto done;
    }
    const char *line = data;
    const char *line_end = memchr(line, '\n', end - line);
    line_end = line_end == NULL ? end : line_end - 1; /* at the CR */
    first = PyUnicode_DecodeLatin1(line, line_end - line, NULL);
    if (first == NULL) {
        goto done;
    }
    int usual = parse_start_line(line, line_end - line, start);
    if (usual != 0) {
        if (usual > 0) {
            result = Py_None;
        }
        goto done;
    }
    while (line_end < end) {
        line = line_end + 2;
        const char *next = memchr(line, '\n', end - line);
        line_end = next == NULL ? end : next - 1;
        const char *colon = memchr(line, ':', line_end - line);
        if (colon == NULL) {
            result = Py_None;
            goto done;
        }
        const char *value = colon + 1;
        const char *value_end = line_end;
        while (value < value_end && is_blank(*value)) {
            value++;
        }
        while (value_end > value && is_blank(value_end[-1])) {
            value_end--;
        }
        Py_ssize_t value_len = value_end - value;
        NameSlot *empty;
        NameSlot *slot = find_name(line, colon - line, &empty);
        PyObject *key; /* borrowed */
        PyObject *pair;
        if (slot != NULL && slot->pair != NULL &&
            same_text(PyTuple_GET_ITEM(slot->pair, 1), value, value_len)) {
            /* The same line as last time: the same pair. */
            key = slot->key;
            pair = slot->pair;
            Py_INCREF(pair);
        }
        else {
            PyObject *name;
            if (slot != NULL) {
                key = slot->key;
                name = slot->name;
                Py_INCREF(name);
            }
            else {
                name = PyUnicode_DecodeLatin1(line, colon - line, NULL);
                if (name == NULL) {
                    goto done;
                }
                key = PyDict_GetItemWithError(cache, name);
                if (key == NULL) {
                    Py_DECREF(name);
                    if (!PyErr_Occurred()) {
                        result = Py_None;
                    }
                    goto done;
                }
                if (empty != NULL) {
                    slot = empty;
                    slot->len = colon - line;
                    memcpy(slot->bytes, line, (size_t)slot->len);
                    Py_INCREF(name);
                    slot->name = name;
                    Py_INCREF(key);
                    slot->key = key;
                    slot->pair = NULL;
                }
            }
            PyObject *text = PyUnicode_DecodeLatin1(value, value_len, NULL);
            if (text == NULL) {
                Py_DECREF(name);
                goto done;
            }
            pair = PyTuple_New(2);
            if (pair == NULL) {
                Py_DECREF(name);
                Py_DECREF(text);
                goto done;
            }
            PyTuple_SET_ITEM(pair, 0, name);
            PyTuple_SET_ITEM(pair, 1, text);
            if (slot != NULL) {
                Py_INCREF(pair);
                Py_XSETREF(slot->pair, pair);
            }
        }
        if (call_id == NULL && key_is(key, "call-id", 7)) {
            call_id = PyTuple_GET_ITEM(pair, 1);
        }
        else if (cseq == NULL && key_is(key, "cseq", 4)) {
            cseq = PyTuple_GET_ITEM(pair, 1);
        }
        else if (length_text == NULL && key_is(key, "content-length", 14)) {
            length_text = PyTuple_GET_ITEM(pair, 1);
        }
        int failed = PyList_Append(headers, pair) < 0 || PyList_Append(keys, key) < 0;
        Py_DECREF(pair);
        if (failed) {
            goto done;
        }
    }
    /* The header section's str (header_text) is made only when asked: SipMessage derives it
     * from the message's bytes. */
    if (cseq == NULL) {
        cseq_number = PyLong_FromLong(-1);
        cseq_method = PyUnicode_New(0, 0);
        if (cseq_number == NULL || cseq_method == NULL) {
            goto done;
        }
    }
    else {
        int parsed = parse_cseq(cseq, &cseq_number, &cseq_method);
        if (parsed != 0) {
            if (parsed > 0) {
                result = Py_None;
            }
            goto done;
        }
    }
    Py_ssize_t body_offset = end - data + 4;
    Py_ssize_t length = body_length(length_text, size - body_offset);
    if (length < -1) {
        result = Py_None; /* a Content-Length the Python path rejects, with its message */
        goto done;
    }
    PyObject *body_start = PyLong_FromSsize_t(body_offset);
    PyObject *content_length = PyLong_FromSsize_t(length);
    if (body_start != NULL && content_length != NULL) {
        PyObject *no_call_id = call_id == NULL ? PyUnicode_New(0, 0) : NULL;
        if (call_id != NULL || no_call_id != NULL) {
            result = PyTuple_Pack(14, Py_None, first, headers, keys, body_start, start[0],
                                  start[1], start[2], start[3], start[4],
                                  call_id != NULL ? call_id : no_call_id, cseq_number,
                                  cseq_method, content_length);
        }
        Py_XDECREF(no_call_id);
    }
    Py_XDECREF(body_start);
    Py_XDECREF(content_length);
done:
    if (result == Py_None) {
        Py_INCREF(result);
    }
    for (int i = 0; i < 5; i++) {
        Py_XDECREF(start[i]);
    }
    Py_XDECREF(cseq_number);
    Py_XDECREF(cseq_method);
    Py_XDECREF(headers);
    Py_XDECREF(keys);
    Py_XDECREF(first);
    return result;
}

static int
names_content_length(const char *name, Py_ssize_t size)
{
    static const char long_form[] = "content-length";
    if (size == 1) {
        return name[0] == 'l' || name[0] == 'L';
    }
    if (size != (Py_ssize_t)sizeof(long_form) - 1) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < size; i++) {
        char c = name[i];
        if (c >= 'A' && c <= 'Z') {
            c = (char)(c - 'A' + 'a');
        }
        if (c != long_form[i]) {
            return 0;
        }
    }
    return 1;
}

/* The framer's Content-Length of data[0:end] (see content_length below); -1 when missing. */
static long
find_content_length(const char *data, Py_ssize_t end)
{
    const char *stop = data + end;
    long length = -1;
    const char *line = memchr(data, '\n', end);
    while (line != NULL && length < 0) {
        line++; /* the first byte after the LF */
        const char *next = memchr(line, '\n', stop - line);
        const char *line_end = next == NULL ? stop : next;
        const char *colon = memchr(line, ':', line_end - line);
        if (colon != NULL && colon > line && !is_blank(line[0])) {
            const char *name_end = colon;
            while (name_end > line && is_blank(name_end[-1])) {
                name_end--;
            }
            if (names_content_length(line, name_end - line)) {
                const char *value = colon + 1;
                const char *value_end = line_end;
                while (value < value_end && (is_blank(*value) || *value == '\r')) {
                    value++;
                }
                while (value_end > value && (is_blank(value_end[-1]) || value_end[-1] == '\r')) {
                    value_end--;
                }
                Py_ssize_t digits = value_end - value;
                length = 0;
                if (digits >= 1 && digits <= 10) {
                    long parsed = 0;
                    for (const char *p = value; p < value_end; p++) {
                        if (*p < '0' || *p > '9') {
                            parsed = 0;
                            break;
                        }
                        parsed = parsed * 10 + (*p - '0');
                    }
                    length = parsed;
                }
            }
        }
        line = next;
    }
    return length;
}

static PyObject *
content_length(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "content_length(buffer, end)");
        return NULL;
    }
    Py_ssize_t end = PyLong_AsSsize_t(args[1]);
    if (end == -1 && PyErr_Occurred()) {
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    if (end < 0 || end > view.len) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "end outside the buffer");
        return NULL;
    }
    long length = find_content_length(view.buf, end);
    PyBuffer_Release(&view);
    return PyLong_FromLong(length);
}

static PyObject *
cut_message(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 3 || !PyByteArray_CheckExact(args[0])) {
        PyErr_SetString(PyExc_TypeError, "cut_message(buffer: bytearray, start, max_size)");
        return NULL;
    }
    Py_ssize_t start = PyLong_AsSsize_t(args[1]);
    Py_ssize_t max_size = PyLong_AsSsize_t(args[2]);
    if ((start == -1 || max_size == -1) && PyErr_Occurred()) {
        return NULL;
    }
    PyObject *buffer = args[0];
    const char *data = PyByteArray_AS_STRING(buffer);
    Py_ssize_t size = PyByteArray_GET_SIZE(buffer);
    if (start < 0 || start > size) {
        Py_RETURN_NONE;
    }
    /* The framer's search: the first LF CR LF, unless a bare-LF blank line comes first. One
     * walk from LF to LF finds either (two memmem calls cost more than the whole walk). */
    Py_ssize_t end = -1;
    Py_ssize_t body_start = -1;
    const char *stop = data + size;
    for (const char *p = data + start; (p = memchr(p, '\n', stop - p)) != NULL; p++) {
        if (stop - p > 2 && p[1] == '\r' && p[2] == '\n') {
            end = p - data;
            body_start = end + 3;
            break;
        }
        if (stop - p > 1 && p[1] == '\n') {
            /* A bare-LF blank line first: the header section ends there (as in Python). */
            end = p - data;
            body_start = end + 2;
            break;
        }
    }
    if (end < 0) {
        Py_RETURN_NONE;
    }
    long length = find_content_length(data, end);
    if (length < 0) {
        Py_RETURN_NONE;
    }
    Py_ssize_t total = body_start + (Py_ssize_t)length;
    if (total > max_size || total > size) {
        Py_RETURN_NONE;
    }
    PyObject *message = PyBytes_FromStringAndSize(data, total);
    if (message == NULL) {
        return NULL;
    }
    if (PySequence_DelSlice(buffer, 0, total) < 0) {
        Py_DECREF(message);
        return NULL;
    }
    return message;
}

/* Whether a header key is the key looked for (the same object, as usual, or equal text). */
static int
same_key(PyObject *candidate, PyObject *key)
{
    if (candidate == key) {
        return 1;
    }
    return PyUnicode_Check(candidate) &&
           PyUnicode_GET_LENGTH(candidate) == PyUnicode_GET_LENGTH(key) &&
           PyUnicode_KIND(candidate) == PyUnicode_KIND(key) &&
           memcmp(PyUnicode_DATA(candidate), PyUnicode_DATA(key),
                  (size_t)PyUnicode_GET_LENGTH(key) * PyUnicode_KIND(key)) == 0;
}

/* A 1-byte str's characters appended at *out. */
static void
append_text(Py_UCS1 **out, PyObject *text)
{
    Py_ssize_t size = PyUnicode_GET_LENGTH(text);
    memcpy(*out, PyUnicode_1BYTE_DATA(text), (size_t)size);
    *out += size;
}

static PyObject *
joined_line(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 3 || !PyList_CheckExact(args[0]) || !PyList_CheckExact(args[1]) ||
        !PyUnicode_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "joined_line(headers: list, keys: list, key: str)");
        return NULL;
    }
    PyObject *headers = args[0];
    PyObject *keys = args[1];
    PyObject *key = args[2];
    Py_ssize_t count = PyList_GET_SIZE(keys);
    if (PyList_GET_SIZE(headers) != count) {
        Py_RETURN_NONE;
    }
    /* One pass: the lines with this key, the length of the result and its widest character. */
    Py_ssize_t first = -1;
    Py_ssize_t size = 0;
    Py_UCS4 max_char = 127;
    for (Py_ssize_t i = 0; i < count; i++) {
        if (!same_key(PyList_GET_ITEM(keys, i), key)) {
            continue;
        }
        PyObject *pair = PyList_GET_ITEM(headers, i);
        if (!PyTuple_CheckExact(pair) || PyTuple_GET_SIZE(pair) != 2) {
            Py_RETURN_NONE;
        }
        PyObject *value = PyTuple_GET_ITEM(pair, 1);
        if (!PyUnicode_Check(value) || PyUnicode_KIND(value) != PyUnicode_1BYTE_KIND) {
            Py_RETURN_NONE;
        }
        if (first < 0) {
            PyObject *name = PyTuple_GET_ITEM(pair, 0);
            if (!PyUnicode_Check(name) || PyUnicode_KIND(name) != PyUnicode_1BYTE_KIND) {
                Py_RETURN_NONE;
            }
            first = i;
            size = PyUnicode_GET_LENGTH(name) + 2;
            max_char = PyUnicode_MAX_CHAR_VALUE(name);
        } else {
            size += 2;
        }
        size += PyUnicode_GET_LENGTH(value);
        if (PyUnicode_MAX_CHAR_VALUE(value) > max_char) {
            max_char = PyUnicode_MAX_CHAR_VALUE(value);
        }
    }
    if (first < 0) {
        return PyUnicode_New(0, 0);
    }
    PyObject *text = PyUnicode_New(size, max_char);
    if (text == NULL) {
        return NULL;
    }
    Py_UCS1 *out = PyUnicode_1BYTE_DATA(text);
    append_text(&out, PyTuple_GET_ITEM(PyList_GET_ITEM(headers, first), 0));
    *out++ = ':';
    *out++ = ' ';
    append_text(&out, PyTuple_GET_ITEM(PyList_GET_ITEM(headers, first), 1));
    for (Py_ssize_t i = first + 1; i < count; i++) {
        if (same_key(PyList_GET_ITEM(keys, i), key)) {
            *out++ = ',';
            *out++ = ' ';
            append_text(&out, PyTuple_GET_ITEM(PyList_GET_ITEM(headers, i), 1));
        }
    }
    return text;
}

static PyMethodDef methods[] = {
    {"split_head", (PyCFunction)(void (*)(void))split_head, METH_FASTCALL,
     "The header section of the usual message as SipMessage stores it, or None."},
    {"content_length", (PyCFunction)(void (*)(void))content_length, METH_FASTCALL,
     "The framer's Content-Length of a message's header section (-1 when missing)."},
    {"cut_message", (PyCFunction)(void (*)(void))cut_message, METH_FASTCALL,
     "The next whole message with a Content-Length, cut from the buffer, or None."},
    {"joined_line", (PyCFunction)(void (*)(void))joined_line, METH_FASTCALL,
     "'Name: v1, v2' of the header lines with a key, '' if none; None for a str not 1-byte."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_sipfast", "The SIP parser's C accelerator.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__sipfast(void)
{
    return PyModule_Create(&module_def);
}
