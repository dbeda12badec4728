/* The C accelerator of the media scheduler (issue 17 item 6): one RTP packet built and sent
 * in one call, for plain (unencrypted) streams on a real UDP socket.
 *
 * In calls a packet's Python path (struct.pack of the header, the bytes concatenation, the
 * transport's send_nowait, socket.sendto's method lookup and address parsing) costs about as
 * much CPU as the kernel's own work for the packet (docs/performance.md, "Where a packet's CPU
 * goes in calls"). Here the 12-byte header is written on the stack and sent together with the
 * payload by one sendmsg() with two iovecs: no Python object is made per packet.
 *
 * send_rtp(sock, host, port, b1, seq, timestamp, ssrc, payload) -> int
 *   sock       the stream's socket object (anything with fileno(); -1 after close())
 *   host, port the destination, a numeric IPv4 or IPv6 address (as the transport gets them)
 *   b1         the header's second byte: marker bit | payload type
 *   seq, timestamp, ssrc   header fields (taken modulo 2**16 / 2**32)
 *   payload    a bytes object
 * Returns 1 when the packet was sent, 0 when it was not sent and that is the buffer's or a
 * closed socket's fault (EAGAIN/EWOULDBLOCK/ENOBUFS, fileno() == -1: a dropped packet), and
 * -errno for any other failure (a send error). Raises only for wrong argument types or a
 * host that is not a numeric address.
 *
 * The pure-Python path in scheduler.py stays the reference (and is what the simulation, SRTP
 * and DTMF use); tests/media/test_rtpfast.py compares the two byte for byte.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

static int
fill_address(PyObject *host, long port, struct sockaddr_storage *out, socklen_t *len)
{
    const char *text = PyUnicode_AsUTF8(host);
    if (text == NULL) {
        return -1;
    }
    if (port < 0 || port > 65535) {
        PyErr_Format(PyExc_ValueError, "port %ld is outside 0..65535", port);
        return -1;
    }
    memset(out, 0, sizeof(*out));
    struct sockaddr_in *v4 = (struct sockaddr_in *)out;
    if (inet_pton(AF_INET, text, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        *len = sizeof(*v4);
        return 0;
    }
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
    if (inet_pton(AF_INET6, text, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*v6);
        return 0;
    }
    PyErr_Format(PyExc_ValueError, "%R is not a numeric IP address", host);
    return -1;
}

static PyObject *
send_rtp(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 8) {
        PyErr_Format(PyExc_TypeError, "send_rtp takes 8 arguments (%zd given)", nargs);
        return NULL;
    }
    PyObject *payload = args[7];
    if (!PyBytes_Check(payload)) {
        PyErr_SetString(PyExc_TypeError, "send_rtp: payload must be bytes");
        return NULL;
    }
    long port = PyLong_AsLong(args[2]);
    long b1 = PyLong_AsLong(args[3]);
    unsigned long seq = PyLong_AsUnsignedLongMask(args[4]);
    unsigned long timestamp = PyLong_AsUnsignedLongMask(args[5]);
    unsigned long ssrc = PyLong_AsUnsignedLongMask(args[6]);
    if (PyErr_Occurred()) {
        return NULL;
    }
    struct sockaddr_storage address;
    socklen_t address_len = 0;
    if (fill_address(args[1], port, &address, &address_len) < 0) {
        return NULL;
    }
    int fd = PyObject_AsFileDescriptor(args[0]);
    if (fd < 0) {
        if (!PyErr_Occurred()) {
            return PyLong_FromLong(0);
        }
        /* A closed socket object answers fileno() with -1, which PyObject_AsFileDescriptor
         * turns into a ValueError: the stream outlived its socket, the packet is dropped. */
        if (PyErr_ExceptionMatches(PyExc_ValueError)) {
            PyErr_Clear();
            return PyLong_FromLong(0);
        }
        return NULL;
    }
    unsigned char header[12];
    header[0] = 0x80;
    header[1] = (unsigned char)(b1 & 0xFF);
    header[2] = (unsigned char)((seq >> 8) & 0xFF);
    header[3] = (unsigned char)(seq & 0xFF);
    header[4] = (unsigned char)((timestamp >> 24) & 0xFF);
    header[5] = (unsigned char)((timestamp >> 16) & 0xFF);
    header[6] = (unsigned char)((timestamp >> 8) & 0xFF);
    header[7] = (unsigned char)(timestamp & 0xFF);
    header[8] = (unsigned char)((ssrc >> 24) & 0xFF);
    header[9] = (unsigned char)((ssrc >> 16) & 0xFF);
    header[10] = (unsigned char)((ssrc >> 8) & 0xFF);
    header[11] = (unsigned char)(ssrc & 0xFF);
    struct iovec parts[2];
    parts[0].iov_base = header;
    parts[0].iov_len = sizeof(header);
    parts[1].iov_base = PyBytes_AS_STRING(payload);
    parts[1].iov_len = (size_t)PyBytes_GET_SIZE(payload);
    struct msghdr message;
    memset(&message, 0, sizeof(message));
    message.msg_name = &address;
    message.msg_namelen = address_len;
    message.msg_iov = parts;
    message.msg_iovlen = 2;
    /* No GIL release: a non-blocking send of one datagram is shorter than the hand-over. */
    ssize_t sent = sendmsg(fd, &message, MSG_DONTWAIT);
    if (sent >= 0) {
        return PyLong_FromLong(1);
    }
    int error = errno;
    if (error == EAGAIN || error == EWOULDBLOCK || error == ENOBUFS || error == EBADF) {
        return PyLong_FromLong(0);
    }
    return PyLong_FromLong(-(long)error);
}

static PyMethodDef methods[] = {
    {"send_rtp", (PyCFunction)(void (*)(void))send_rtp, METH_FASTCALL,
     "send_rtp(sock, host, port, b1, seq, timestamp, ssrc, payload) -> 1 sent, 0 dropped, "
     "-errno failed"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_definition = {
    PyModuleDef_HEAD_INIT, "_rtpfast", "Build and send one RTP packet in C.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__rtpfast(void)
{
    return PyModule_Create(&module_definition);
}
