/* The UDP transport's C accelerator (issue 11 item 3): datagrams received in batches with
 * recvmmsg(2), and sent with the destination's socket address converted once, not per
 * datagram.
 *
 * At 5,000 calls/s a uac spends about a tenth of its CPU in UdpTransport's receive_nowait and
 * send_nowait outside the kernel (docs/performance.md, "UDP receives in batches"): per datagram
 * recvfrom_into formats the source address with sprintf and builds a new (host, port) tuple,
 * and every drain of the socket ends in a BlockingIOError (its message translated through
 * gettext); per send, sendto parses the (host, port) tuple into a socket address again.
 *
 * recv_batch(fd, max_count) -> list[tuple[bytes, tuple[str, int]]]
 *   Up to max_count datagrams waiting on the non-blocking socket fd, oldest first, as
 *   UdpTransport.receive_nowait returns them: the data, and the source as (host, port) (an
 *   IPv6 source loses its flow information and scope id, as there). An empty socket, or an
 *   ICMP error pending from an earlier send (ECONNREFUSED), ends the batch without an
 *   exception. Any other error raises OSError, unless datagrams were already taken: they are
 *   returned and the error is left to the next call. Source tuples are shared between
 *   datagrams from the same address (a small cache of recent sources).
 *
 * send_to(fd, family, data, address) -> True, False or None
 *   One non-blocking sendto of data (bytes) to address, a (host, port) tuple whose host is a
 *   numeric address of the socket's family: True when sent, False when the send buffer is
 *   full (nothing sent), OSError for any other error, as socket.sendto raises it. None when
 *   this function does not handle the arguments (a host name, "" or "<broadcast>", a scope
 *   id, data that is not bytes): the caller sends through socket.sendto, which stays the
 *   reference for every unusual address. Recent destinations keep their converted address.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Datagrams taken per recvmmsg call, each into a slot of the largest UDP payload. The pool is
 * one per process (the transports share it: the data is copied out before returning, and
 * Trio runs one thread), allocated on first use; pages of a slot are touched only as far as
 * its datagrams reach. */
#define SLOTS 32
#define SLOT_BYTES 65536
#define SOURCES_CACHED 16
#define DESTINATIONS_CACHED 16

static char *pool;
static struct mmsghdr headers[SLOTS];
static struct iovec vectors[SLOTS];
static struct sockaddr_storage names[SLOTS];

typedef struct {
    struct sockaddr_storage name;
    PyObject *source; /* (host, port), owned; NULL when the entry is empty */
} source_entry;

static source_entry sources[SOURCES_CACHED];
static int next_source;

typedef struct {
    PyObject *address; /* the (host, port) tuple as given, owned; NULL when empty */
    int family;
    struct sockaddr_storage name;
    socklen_t name_length;
} destination_entry;

static destination_entry destinations[DESTINATIONS_CACHED];
static int next_destination;

static int
same_source(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family) {
        return 0;
    }
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const struct sockaddr_in *)a;
        const struct sockaddr_in *y = (const struct sockaddr_in *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a;
    const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)b;
    return x->sin6_port == y->sin6_port && x->sin6_scope_id == y->sin6_scope_id &&
           memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
}

/* (host, port) for a datagram's source, as Python's socket module writes it: inet_ntop for
 * IPv4, getnameinfo with NI_NUMERICHOST for IPv6 (which appends a link-local scope). */
static PyObject *
source_of(const struct sockaddr_storage *name, socklen_t length)
{
    for (int i = 0; i < SOURCES_CACHED; i++) {
        if (sources[i].source != NULL && same_source(&sources[i].name, name)) {
            Py_INCREF(sources[i].source);
            return sources[i].source;
        }
    }
    char host[NI_MAXHOST];
    int port;
    if (name->ss_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)name;
        if (inet_ntop(AF_INET, &v4->sin_addr, host, sizeof host) == NULL) {
            return PyErr_SetFromErrno(PyExc_OSError);
        }
        port = ntohs(v4->sin_port);
    } else if (name->ss_family == AF_INET6) {
        int failed = getnameinfo((const struct sockaddr *)name, length, host, sizeof host, NULL,
                                 0, NI_NUMERICHOST);
        if (failed) {
            PyErr_SetString(PyExc_OSError, gai_strerror(failed));
            return NULL;
        }
        port = ntohs(((const struct sockaddr_in6 *)name)->sin6_port);
    } else {
        PyErr_Format(PyExc_OSError, "datagram from address family %d", (int)name->ss_family);
        return NULL;
    }
    PyObject *source = Py_BuildValue("(si)", host, port);
    if (source == NULL) {
        return NULL;
    }
    source_entry *entry = &sources[next_source];
    next_source = (next_source + 1) % SOURCES_CACHED;
    Py_XDECREF(entry->source);
    entry->name = *name;
    Py_INCREF(source);
    entry->source = source;
    return source;
}

static PyObject *
recv_batch(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "recv_batch(fd, max_count)");
        return NULL;
    }
    int fd = (int)PyLong_AsLong(args[0]);
    Py_ssize_t max_count = PyLong_AsSsize_t(args[1]);
    if (PyErr_Occurred()) {
        return NULL;
    }
    if (pool == NULL) {
        pool = malloc((size_t)SLOTS * SLOT_BYTES);
        if (pool == NULL) {
            return PyErr_NoMemory();
        }
    }
    PyObject *batch = PyList_New(0);
    if (batch == NULL) {
        return NULL;
    }
    Py_ssize_t taken = 0;
    while (taken < max_count) {
        unsigned int wanted = (unsigned int)(max_count - taken < SLOTS ? max_count - taken : SLOTS);
        for (unsigned int i = 0; i < wanted; i++) {
            vectors[i].iov_base = pool + (size_t)i * SLOT_BYTES;
            vectors[i].iov_len = SLOT_BYTES;
            memset(&headers[i].msg_hdr, 0, sizeof headers[i].msg_hdr);
            headers[i].msg_hdr.msg_name = &names[i];
            headers[i].msg_hdr.msg_namelen = sizeof names[i];
            headers[i].msg_hdr.msg_iov = &vectors[i];
            headers[i].msg_hdr.msg_iovlen = 1;
        }
        int received = recvmmsg(fd, headers, wanted, MSG_DONTWAIT, NULL);
        if (received < 0) {
            if (errno == EINTR) {
                if (PyErr_CheckSignals() < 0) {
                    Py_DECREF(batch);
                    return NULL;
                }
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNREFUSED ||
                taken > 0) {
                break;
            }
            Py_DECREF(batch);
            return PyErr_SetFromErrno(PyExc_OSError);
        }
        for (int i = 0; i < received; i++) {
            PyObject *data = PyBytes_FromStringAndSize(pool + (size_t)i * SLOT_BYTES,
                                                       (Py_ssize_t)headers[i].msg_len);
            PyObject *source =
                data == NULL ? NULL : source_of(&names[i], headers[i].msg_hdr.msg_namelen);
            PyObject *item = source == NULL ? NULL : PyTuple_Pack(2, data, source);
            Py_XDECREF(data);
            Py_XDECREF(source);
            if (item == NULL || PyList_Append(batch, item) < 0) {
                Py_XDECREF(item);
                Py_DECREF(batch);
                return NULL;
            }
            Py_DECREF(item);
        }
        taken += received;
        if ((unsigned int)received < wanted) {
            break; /* the socket is empty: one more call would only find EAGAIN */
        }
    }
    return batch;
}

/* The socket address of (host, port) for family, or 0 when it is not a plain numeric
 * address of that family (the caller falls back to socket.sendto). */
static socklen_t
destination_of(PyObject *address, int family, struct sockaddr_storage *name)
{
    if (!PyTuple_CheckExact(address) || PyTuple_GET_SIZE(address) != 2) {
        return 0;
    }
    PyObject *host = PyTuple_GET_ITEM(address, 0);
    PyObject *port_object = PyTuple_GET_ITEM(address, 1);
    if (!PyUnicode_Check(host) || !PyLong_CheckExact(port_object)) {
        return 0;
    }
    long port = PyLong_AsLong(port_object);
    if (port < 0 || port > 65535) {
        PyErr_Clear();
        return 0; /* socket.sendto raises its own OverflowError */
    }
    const char *text = PyUnicode_AsUTF8(host);
    if (text == NULL) {
        PyErr_Clear();
        return 0;
    }
    memset(name, 0, sizeof *name);
    if (family == AF_INET) {
        struct sockaddr_in *v4 = (struct sockaddr_in *)name;
        if (inet_pton(AF_INET, text, &v4->sin_addr) != 1) {
            return 0;
        }
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        return sizeof *v4;
    }
    if (family == AF_INET6) {
        struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)name;
        if (inet_pton(AF_INET6, text, &v6->sin6_addr) != 1) {
            return 0; /* also "fe80::1%eth0": the scope needs the reference path */
        }
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        return sizeof *v6;
    }
    return 0;
}

static PyObject *
send_to(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "send_to(fd, family, data, address)");
        return NULL;
    }
    int fd = (int)PyLong_AsLong(args[0]);
    int family = (int)PyLong_AsLong(args[1]);
    if (PyErr_Occurred()) {
        return NULL;
    }
    PyObject *data = args[2];
    PyObject *address = args[3];
    if (!PyBytes_CheckExact(data)) {
        Py_RETURN_NONE;
    }
    destination_entry *found = NULL;
    for (int i = 0; i < DESTINATIONS_CACHED; i++) {
        if (destinations[i].address == address && destinations[i].family == family) {
            found = &destinations[i];
            break;
        }
    }
    if (found == NULL) {
        /* Equal tuples that are different objects (a call's address built again) match
         * too; the comparison of a str and an int cannot fail. */
        for (int i = 0; i < DESTINATIONS_CACHED; i++) {
            if (destinations[i].address != NULL && destinations[i].family == family &&
                PyObject_RichCompareBool(destinations[i].address, address, Py_EQ) == 1) {
                found = &destinations[i];
                break;
            }
        }
        PyErr_Clear();
    }
    if (found == NULL) {
        struct sockaddr_storage name;
        socklen_t length = destination_of(address, family, &name);
        if (length == 0) {
            Py_RETURN_NONE;
        }
        found = &destinations[next_destination];
        next_destination = (next_destination + 1) % DESTINATIONS_CACHED;
        Py_XDECREF(found->address);
        Py_INCREF(address);
        found->address = address;
        found->family = family;
        found->name = name;
        found->name_length = length;
    }
    for (;;) {
        ssize_t sent = sendto(fd, PyBytes_AS_STRING(data), (size_t)PyBytes_GET_SIZE(data),
                              MSG_DONTWAIT, (const struct sockaddr *)&found->name,
                              found->name_length);
        if (sent >= 0) {
            Py_RETURN_TRUE;
        }
        if (errno == EINTR) {
            if (PyErr_CheckSignals() < 0) {
                return NULL;
            }
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            Py_RETURN_FALSE;
        }
        return PyErr_SetFromErrno(PyExc_OSError);
    }
}

static PyMethodDef methods[] = {
    {"recv_batch", (PyCFunction)(void (*)(void))recv_batch, METH_FASTCALL,
     "Up to max_count waiting datagrams as [(data, (host, port))], [] when none wait."},
    {"send_to", (PyCFunction)(void (*)(void))send_to, METH_FASTCALL,
     "Send data to a numeric (host, port): True, False (buffer full) or None (not handled)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_udpfast", "The UDP transport's C accelerator.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__udpfast(void)
{
    return PyModule_Create(&module_def);
}
