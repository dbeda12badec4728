/* The C accelerator of the media scheduler (issue 17 item 6): one RTP packet built and sent
 * in one call, on a real UDP socket, plain or SRTP-protected.
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
 * send_srtp(sock, host, port, b1, seq, timestamp, ssrc, payload, srtp_protect, srtp_t) -> int
 *   the same packet, SRTP-protected in place by libsrtp before the send (issue 18 item 5):
 *   srtp_protect is the address of libsrtp's function and srtp_t the address of the sending
 *   session's context, both as pylibsrtp's own cffi module holds them (gossipper.media.secure.
 *   srtp.SrtpSession.fast_protect). libsrtp is not linked here: calling it through
 *   pylibsrtp's copy keeps one libsrtp in the process and one packet index per session, so
 *   packets protected here and by pylibsrtp (DTMF, the Python path) follow each other. It
 *   answers as send_rtp does, or SRTP_FAILED + libsrtp's error status when the packet was
 *   not protected (nothing sent). In Python the same packet costs pylibsrtp's buffer copies
 *   and cffi call, the bytes objects and the transport's send: about twice plain RTP's CPU.
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

/* send_srtp's answer when libsrtp refused to protect: SRTP_FAILED + its srtp_err_status_t
 * (SRTP_TOO_LONG: the packet does not fit the buffer, which pylibsrtp refuses as well). */
#define SRTP_FAILED 0x10000
#define SRTP_TOO_LONG 0xFFFF
/* pylibsrtp's protect buffer (1,500 bytes) and libsrtp 2's SRTP_MAX_TRAILER_LEN (tag + MKI). */
#define SRTP_BUFFER_BYTES 1500
#define SRTP_MAX_TRAILER 144

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

/* What both sends share: the arguments read, the address filled, the 12-byte header written
 * into `header`, the descriptor found. Returns 1 ready, 0 for a closed socket (a dropped
 * packet: the caller answers 0), -1 with an exception set. */
static int
prepare(const char *name, PyObject *const *args, struct sockaddr_storage *address,
        socklen_t *address_len, unsigned char *header, int *fd)
{
    if (!PyBytes_Check(args[7])) {
        PyErr_Format(PyExc_TypeError, "%s: payload must be bytes", name);
        return -1;
    }
    long port = PyLong_AsLong(args[2]);
    long b1 = PyLong_AsLong(args[3]);
    unsigned long seq = PyLong_AsUnsignedLongMask(args[4]);
    unsigned long timestamp = PyLong_AsUnsignedLongMask(args[5]);
    unsigned long ssrc = PyLong_AsUnsignedLongMask(args[6]);
    if (PyErr_Occurred()) {
        return -1;
    }
    if (fill_address(args[1], port, address, address_len) < 0) {
        return -1;
    }
    *fd = PyObject_AsFileDescriptor(args[0]);
    if (*fd < 0) {
        if (!PyErr_Occurred()) {
            return 0;
        }
        /* A closed socket object answers fileno() with -1, which PyObject_AsFileDescriptor
         * turns into a ValueError: the stream outlived its socket, the packet is dropped. */
        if (PyErr_ExceptionMatches(PyExc_ValueError)) {
            PyErr_Clear();
            return 0;
        }
        return -1;
    }
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
    return 1;
}

/* One sendmsg of the iovecs; 1 sent, 0 dropped, -errno failed. */
static PyObject *
send_parts(int fd, struct sockaddr_storage *address, socklen_t address_len,
           struct iovec *parts, size_t count)
{
    struct msghdr message;
    memset(&message, 0, sizeof(message));
    message.msg_name = address;
    message.msg_namelen = address_len;
    message.msg_iov = parts;
    message.msg_iovlen = count;
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

static PyObject *
send_rtp(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 8) {
        PyErr_Format(PyExc_TypeError, "send_rtp takes 8 arguments (%zd given)", nargs);
        return NULL;
    }
    struct sockaddr_storage address;
    socklen_t address_len = 0;
    unsigned char header[12];
    int fd = -1;
    int ready = prepare("send_rtp", args, &address, &address_len, header, &fd);
    if (ready <= 0) {
        return ready < 0 ? NULL : PyLong_FromLong(0);
    }
    PyObject *payload = args[7];
    struct iovec parts[2];
    parts[0].iov_base = header;
    parts[0].iov_len = sizeof(header);
    parts[1].iov_base = PyBytes_AS_STRING(payload);
    parts[1].iov_len = (size_t)PyBytes_GET_SIZE(payload);
    return send_parts(fd, &address, address_len, parts, 2);
}

/* libsrtp 2's srtp_protect(srtp_t ctx, void *rtp_hdr, int *len_ptr): protects in place,
 * appending the tag; 0 is srtp_err_status_ok. */
typedef int (*srtp_protect_fn)(void *context, void *packet, int *length);

static PyObject *
send_srtp(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 10) {
        PyErr_Format(PyExc_TypeError, "send_srtp takes 10 arguments (%zd given)", nargs);
        return NULL;
    }
    void *protect = PyLong_AsVoidPtr(args[8]);
    void *context = PyLong_AsVoidPtr(args[9]);
    if (PyErr_Occurred()) {
        return NULL;
    }
    if (protect == NULL || context == NULL) {
        PyErr_SetString(PyExc_ValueError, "send_srtp: null srtp_protect or srtp_t");
        return NULL;
    }
    /* 32-bit aligned, as libsrtp wants the header; as large as pylibsrtp's own buffer. */
    uint32_t words[SRTP_BUFFER_BYTES / 4];
    unsigned char *packet = (unsigned char *)words;
    struct sockaddr_storage address;
    socklen_t address_len = 0;
    int fd = -1;
    int ready = prepare("send_srtp", args, &address, &address_len, packet, &fd);
    if (ready <= 0) {
        return ready < 0 ? NULL : PyLong_FromLong(0);
    }
    PyObject *payload = args[7];
    Py_ssize_t payload_len = PyBytes_GET_SIZE(payload);
    if (12 + payload_len > SRTP_BUFFER_BYTES - SRTP_MAX_TRAILER) {
        return PyLong_FromLong(SRTP_FAILED + SRTP_TOO_LONG);
    }
    memcpy(packet + 12, PyBytes_AS_STRING(payload), (size_t)payload_len);
    int length = (int)(12 + payload_len);
    int status = ((srtp_protect_fn)protect)(context, packet, &length);
    if (status != 0) {
        return PyLong_FromLong(SRTP_FAILED + status);
    }
    struct iovec part;
    part.iov_base = packet;
    part.iov_len = (size_t)length;
    return send_parts(fd, &address, address_len, &part, 1);
}

static PyMethodDef methods[] = {
    {"send_rtp", (PyCFunction)(void (*)(void))send_rtp, METH_FASTCALL,
     "send_rtp(sock, host, port, b1, seq, timestamp, ssrc, payload) -> 1 sent, 0 dropped, "
     "-errno failed"},
    {"send_srtp", (PyCFunction)(void (*)(void))send_srtp, METH_FASTCALL,
     "send_srtp(sock, host, port, b1, seq, timestamp, ssrc, payload, srtp_protect, srtp_t) "
     "-> 1 sent, 0 dropped, -errno failed, SRTP_FAILED + libsrtp status not protected"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_definition = {
    PyModuleDef_HEAD_INIT, "_rtpfast", "Build and send one RTP packet in C.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__rtpfast(void)
{
    PyObject *module = PyModule_Create(&module_definition);
    if (module == NULL) {
        return NULL;
    }
    if (PyModule_AddIntConstant(module, "SRTP_FAILED", SRTP_FAILED) < 0
        || PyModule_AddIntConstant(module, "SRTP_TOO_LONG", SRTP_TOO_LONG) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
