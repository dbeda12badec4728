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

/* The 12-byte RTP header: version 2, no padding, extension or CSRCs. */
static void
write_header(unsigned char *header, long b1, unsigned long seq, unsigned long timestamp,
             unsigned long ssrc)
{
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
    write_header(header, b1, seq, timestamp, ssrc);
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

/* ---------------------------------------------------------------------------------------
 * FastGroup: the steady audio frames of many plain streams served by one call per tick.
 *
 * With send_rtp the scheduler still spends Python work per packet around the C send (the
 * wheel's bucket, the stream's _serve and _count, the boxed sequence number, timestamp and
 * times): about 2-2.5 us of the 7-8 us a packet costs in calls (docs/performance.md). A
 * plain stream in its steady state (one audio frame due per slot, nothing queued, not near
 * its end) is handed to a FastGroup instead: the group keeps that stream's slot, sequence
 * number, timing, destination and counts in a C struct, and serve() sends every due frame of
 * every member with no Python object made per packet, the catch-up after a stall included
 * (skip and burst as RtpStream._serve). A member whose last frame is due is given back to
 * Python (the scheduler's own path finishes it exactly as any other stream; so is a frame
 * libsrtp refuses to protect). The Python stream takes its state back with take() before it is
 * paused, stopped, given DTMF or another send path, and reads it with take(id, False) when
 * its counters, sequence number or media clock are asked for (RTCP, the end of a call).
 *
 * The frame of slot n is payloads[n % len], timestamp (ts0 + n * spf + ts_extra) mod 2**32,
 * due at anchor + n * interval: the same arithmetic as RtpStream._serve, so a stream sends
 * the same packets whichever side serves it (tests/media/test_rtpfast.py).
 */

/* The start of CPython's socket object (socketmodule.h, PySocketSockObject): the descriptor
 * right after the object header, set to -1 by close() and detach(). Reading it costs a load
 * where PyObject_AsFileDescriptor costs a fileno() method call and an int object per packet
 * (about 5 % of a sender's CPU at 2,000 streams in calls, `perf`). It is used only for
 * objects of _socket.socket's type and its subclasses, and only when it agrees with fileno()
 * at join; anything else goes through fileno() every packet. */
typedef struct {
    PyObject_HEAD
    int sock_fd;
} socket_head_t;

/* _socket.socket, found at import; NULL when it could not be (fileno() every packet). */
static PyTypeObject *socket_type = NULL;

typedef struct {
    PyObject *sock;     /* NULL: a free entry */
    PyObject *payloads; /* a tuple of bytes */
    struct sockaddr_storage address;
    socklen_t address_len;
    double anchor_s;
    double interval_s;
    long long slot;
    long long total_slots; /* < 0: forever */
    long long ts0;
    long long spf;
    long long ts_extra;
    unsigned long seq;
    unsigned long ssrc;
    long long burst; /* frames sent back to back when overdue; the rest are skipped */
    int b1;
    int marker;
    int given_back;
    int fd_in_object; /* 1: the descriptor is read from the socket object (see socket_head_t) */
    void *protect; /* libsrtp's srtp_protect and the sending srtp_t, or NULL: plain RTP */
    void *context;
    /* counts since the last take() */
    long long protected_count;
    long long sent;
    long long octets;
    long long late;
    long long dropped;
    long long errors;
    long long skipped;
    double max_late_ms;
    double first_sent_s; /* < 0: none yet */
    double last_sent_s;
} member_t;

typedef struct {
    PyObject_HEAD
    member_t *members;
    Py_ssize_t capacity;
    Py_ssize_t used;   /* entries [0, used) may be taken */
    Py_ssize_t count;  /* members */
    Py_ssize_t *free_ids;
    Py_ssize_t free_count;
    double late_after_s;
} FastGroup;

static void
member_clear(member_t *member)
{
    Py_CLEAR(member->sock);
    Py_CLEAR(member->payloads);
}

static int
group_init(FastGroup *self, PyObject *args, PyObject *kwargs)
{
    double late_after_s = 0.010;
    static char *keywords[] = {"", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|d", keywords, &late_after_s)) {
        return -1;
    }
    self->late_after_s = late_after_s;
    return 0;
}

static void
group_dealloc(FastGroup *self)
{
    for (Py_ssize_t i = 0; i < self->used; i++) {
        member_clear(&self->members[i]);
    }
    PyMem_Free(self->members);
    PyMem_Free(self->free_ids);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static member_t *
group_entry(FastGroup *self, PyObject *id_object, Py_ssize_t *id_out)
{
    Py_ssize_t id = PyLong_AsSsize_t(id_object);
    if (id == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (id < 0 || id >= self->used || self->members[id].sock == NULL) {
        PyErr_Format(PyExc_KeyError, "no member %zd in this group", id);
        return NULL;
    }
    if (id_out != NULL) {
        *id_out = id;
    }
    return &self->members[id];
}

/* join(sock, host, port, b1, marker, seq, ssrc, payloads, anchor_s, interval_s, slot,
 *      total_slots, ts0, spf, ts_extra, srtp_protect, srtp_t, burst) -> id
 * srtp_protect and srtp_t as send_srtp takes them, both 0 for plain RTP; burst: how many
 * overdue frames go back to back after a stall (RtpStream._burst), at least 1. */
static PyObject *
group_join(FastGroup *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 18) {
        PyErr_Format(PyExc_TypeError, "join takes 18 arguments (%zd given)", nargs);
        return NULL;
    }
    member_t entry;
    memset(&entry, 0, sizeof(entry));
    long port = PyLong_AsLong(args[2]);
    entry.b1 = (int)(PyLong_AsLong(args[3]) & 0x7F);
    entry.marker = PyObject_IsTrue(args[4]);
    entry.seq = PyLong_AsUnsignedLongMask(args[5]) & 0xFFFF;
    entry.ssrc = PyLong_AsUnsignedLongMask(args[6]) & 0xFFFFFFFFUL;
    entry.anchor_s = PyFloat_AsDouble(args[8]);
    entry.interval_s = PyFloat_AsDouble(args[9]);
    entry.slot = PyLong_AsLongLong(args[10]);
    entry.total_slots = PyLong_AsLongLong(args[11]);
    entry.ts0 = PyLong_AsLongLong(args[12]);
    entry.spf = PyLong_AsLongLong(args[13]);
    entry.ts_extra = PyLong_AsLongLong(args[14]);
    entry.protect = PyLong_AsVoidPtr(args[15]);
    entry.context = PyLong_AsVoidPtr(args[16]);
    entry.burst = PyLong_AsLongLong(args[17]);
    if (PyErr_Occurred() || entry.marker < 0) {
        return NULL;
    }
    if (entry.burst < 1) {
        PyErr_SetString(PyExc_ValueError, "join: burst must be at least 1");
        return NULL;
    }
    if ((entry.protect == NULL) != (entry.context == NULL)) {
        PyErr_SetString(PyExc_ValueError, "join: srtp_protect and srtp_t go together");
        return NULL;
    }
    if (!(entry.interval_s > 0.0)) {
        PyErr_SetString(PyExc_ValueError, "join: interval_s must be positive");
        return NULL;
    }
    if (!PyTuple_Check(args[7]) || PyTuple_GET_SIZE(args[7]) == 0) {
        PyErr_SetString(PyExc_TypeError, "join: payloads must be a non-empty tuple of bytes");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(args[7]); i++) {
        if (!PyBytes_Check(PyTuple_GET_ITEM(args[7], i))) {
            PyErr_SetString(PyExc_TypeError, "join: payloads must be a non-empty tuple of bytes");
            return NULL;
        }
    }
    if (fill_address(args[1], port, &entry.address, &entry.address_len) < 0) {
        return NULL;
    }
    Py_ssize_t id;
    if (self->free_count > 0) {
        id = self->free_ids[--self->free_count];
    } else {
        if (self->used == self->capacity) {
            Py_ssize_t capacity = self->capacity ? self->capacity * 2 : 64;
            member_t *members = PyMem_Realloc(self->members, (size_t)capacity * sizeof(member_t));
            if (members == NULL) {
                return PyErr_NoMemory();
            }
            self->members = members;
            Py_ssize_t *free_ids =
                PyMem_Realloc(self->free_ids, (size_t)capacity * sizeof(Py_ssize_t));
            if (free_ids == NULL) {
                return PyErr_NoMemory();
            }
            self->free_ids = free_ids;
            self->capacity = capacity;
        }
        id = self->used++;
    }
    if (socket_type != NULL && PyObject_TypeCheck(args[0], socket_type)) {
        int fd = PyObject_AsFileDescriptor(args[0]);
        if (fd < 0) {
            PyErr_Clear();
        } else {
            entry.fd_in_object = ((socket_head_t *)args[0])->sock_fd == fd;
        }
    }
    entry.first_sent_s = -1.0;
    entry.sock = Py_NewRef(args[0]);
    entry.payloads = Py_NewRef(args[7]);
    self->members[id] = entry;
    self->count++;
    return PyLong_FromSsize_t(id);
}

/* Append id to *list (made on first use); -1 with the list released on failure. */
static int
give_back(PyObject **list, Py_ssize_t id)
{
    if (*list == NULL && (*list = PyList_New(0)) == NULL) {
        return -1;
    }
    PyObject *id_object = PyLong_FromSsize_t(id);
    if (id_object == NULL || PyList_Append(*list, id_object) < 0) {
        Py_XDECREF(id_object);
        Py_CLEAR(*list);
        return -1;
    }
    Py_DECREF(id_object);
    return 0;
}

/* Send member's frame of its current slot, due at due_s, and count it. 1: done (the slot
 * advanced, whatever the kernel said); 0: libsrtp refused to protect it (nothing changed:
 * Python's path sends that slot and reports why). */
static int
send_frame(FastGroup *self, member_t *member, double due_s, double now_s)
{
    Py_ssize_t frames = PyTuple_GET_SIZE(member->payloads);
    PyObject *payload = PyTuple_GET_ITEM(member->payloads, (Py_ssize_t)(member->slot % frames));
    Py_ssize_t payload_len = PyBytes_GET_SIZE(payload);
    unsigned long timestamp =
        (unsigned long)((member->ts0 + member->slot * member->spf + member->ts_extra)
                        & 0xFFFFFFFFLL);
    /* 32-bit aligned, as libsrtp wants the header; as large as send_srtp's buffer. */
    uint32_t words[SRTP_BUFFER_BYTES / 4];
    unsigned char *header = (unsigned char *)words;
    write_header(header, member->b1 | (member->marker ? 0x80 : 0), member->seq, timestamp,
                 member->ssrc);
    struct iovec parts[2];
    size_t part_count = 2;
    parts[0].iov_base = header;
    parts[0].iov_len = 12;
    parts[1].iov_base = PyBytes_AS_STRING(payload);
    parts[1].iov_len = (size_t)payload_len;
    if (member->protect != NULL) {
        int length = (int)(12 + payload_len);
        int refused = 12 + payload_len > SRTP_BUFFER_BYTES - SRTP_MAX_TRAILER;
        if (!refused) {
            memcpy(header + 12, PyBytes_AS_STRING(payload), (size_t)payload_len);
            refused = ((srtp_protect_fn)member->protect)(member->context, header, &length);
        }
        if (refused) {
            return 0;
        }
        member->protected_count += 1;
        parts[0].iov_len = (size_t)length;
        part_count = 1;
    }
    member->marker = 0;
    member->seq = (member->seq + 1) & 0xFFFF;
    member->slot += 1;
    int status = 0;
    int fd;
    if (member->fd_in_object) {
        fd = ((socket_head_t *)member->sock)->sock_fd;
    } else {
        fd = PyObject_AsFileDescriptor(member->sock);
        if (fd < 0) {
            PyErr_Clear();
        }
    }
    /* fd < 0: a closed socket (fileno() -1): the stream outlived it, the packet is dropped. */
    if (fd >= 0) {
        ssize_t sent;
        if (part_count == 2 && 12 + payload_len <= SRTP_BUFFER_BYTES) {
            /* One buffer and sendto(): the kernel skips the msghdr and iovec copies of
             * sendmsg() (about 5 % of a packet's system time); 172 bytes copied here. */
            memcpy(header + 12, PyBytes_AS_STRING(payload), (size_t)payload_len);
            parts[0].iov_len = (size_t)(12 + payload_len);
            part_count = 1;
        }
        if (part_count == 1) {
            sent = sendto(fd, parts[0].iov_base, parts[0].iov_len, MSG_DONTWAIT,
                          (struct sockaddr *)&member->address, member->address_len);
        } else {
            struct msghdr message;
            memset(&message, 0, sizeof(message));
            message.msg_name = &member->address;
            message.msg_namelen = member->address_len;
            message.msg_iov = parts;
            message.msg_iovlen = part_count;
            sent = sendmsg(fd, &message, MSG_DONTWAIT);
        }
        if (sent >= 0) {
            status = 1;
        } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS
                   && errno != EBADF) {
            status = -1;
        }
    }
    if (status > 0) {
        member->sent += 1;
        member->octets += payload_len;
        double late_s = now_s - due_s;
        if (late_s > self->late_after_s) {
            member->late += 1;
        }
        if (late_s * 1000.0 > member->max_late_ms) {
            member->max_late_ms = late_s * 1000.0;
        }
        if (member->first_sent_s < 0.0) {
            member->first_sent_s = now_s;
        }
        member->last_sent_s = now_s;
    } else if (status < 0) {
        member->errors += 1;
    } else {
        member->dropped += 1;
    }
    return 1;
}

/* serve(horizon_s, now_s) -> (next_due_s, given_back ids or None)
 *
 * A member overdue by several frames after a stall is caught up here as RtpStream._serve
 * does it: the frames beyond its burst are skipped (counted), the rest sent back to back.
 * Handing those members to Python instead cost a take(), the Python send path and a join()
 * each: after a stall of a few frames at 3,000 streams that was tens of ms of work, enough to
 * leave every stream overdue again at the next tick (docs/performance.md). Only a member
 * whose last frame falls in this tick goes back to Python, which finishes streams. */
static PyObject *
group_serve(FastGroup *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "serve takes 2 arguments (%zd given)", nargs);
        return NULL;
    }
    double horizon_s = PyFloat_AsDouble(args[0]);
    double now_s = PyFloat_AsDouble(args[1]);
    if (PyErr_Occurred()) {
        return NULL;
    }
    double next_due_s = Py_HUGE_VAL;
    PyObject *given_back = NULL;
    for (Py_ssize_t id = 0; id < self->used; id++) {
        member_t *member = &self->members[id];
        if (member->sock == NULL || member->given_back) {
            continue;
        }
        double interval_s = member->interval_s;
        double due_s = member->anchor_s + (double)member->slot * interval_s;
        if (due_s >= horizon_s) {
            if (due_s < next_due_s) {
                next_due_s = due_s;
            }
            continue;
        }
        /* The frames due before the horizon, with RtpStream._serve's arithmetic. */
        long long overdue = 1;
        if (due_s + interval_s < horizon_s) {
            overdue = (long long)((horizon_s - due_s) / interval_s);
            if (due_s + (double)overdue * interval_s < horizon_s) {
                overdue += 1;
            }
        }
        if (member->total_slots >= 0) {
            if (overdue > member->total_slots - member->slot) {
                overdue = member->total_slots - member->slot;
            }
            if (member->slot + overdue >= member->total_slots) {
                /* Its last frame: Python's path finishes the stream. */
                member->given_back = 1;
                if (give_back(&given_back, id) < 0) {
                    return NULL;
                }
                continue;
            }
        }
        long long skip = overdue - member->burst;
        if (skip > 0) {
            member->skipped += skip;
            member->slot += skip;
            overdue -= skip;
            due_s = member->anchor_s + (double)member->slot * interval_s;
        }
        for (long long k = 0; k < overdue; k++) {
            if (!send_frame(self, member, due_s, now_s)) {
                member->given_back = 1;
                if (give_back(&given_back, id) < 0) {
                    return NULL;
                }
                break;
            }
            due_s += interval_s;
        }
        if (member->given_back) {
            continue;
        }
        due_s = member->anchor_s + (double)member->slot * interval_s;
        if (due_s < next_due_s) {
            next_due_s = due_s;
        }
    }
    PyObject *result = Py_BuildValue("(dO)", next_due_s, given_back ? given_back : Py_None);
    Py_XDECREF(given_back);
    return result;
}

/* take(id, leave) -> (slot, seq, marker, sent, octets, late, max_late_ms, first_sent_s,
 * last_sent_s, dropped, errors, protected, skipped): the member's state and its counts since
 * the last take (those are reset); leave: the member leaves the group. Times are None when nothing
 * was sent since the last take. */
static PyObject *
group_take(FastGroup *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "take takes 2 arguments (%zd given)", nargs);
        return NULL;
    }
    Py_ssize_t id;
    member_t *member = group_entry(self, args[0], &id);
    int leave = PyObject_IsTrue(args[1]);
    if (member == NULL || leave < 0) {
        return NULL;
    }
    PyObject *first = member->first_sent_s < 0.0 ? Py_NewRef(Py_None)
                                                 : PyFloat_FromDouble(member->first_sent_s);
    PyObject *last = member->first_sent_s < 0.0 ? Py_NewRef(Py_None)
                                                : PyFloat_FromDouble(member->last_sent_s);
    if (first == NULL || last == NULL) {
        Py_XDECREF(first);
        Py_XDECREF(last);
        return NULL;
    }
    PyObject *result = Py_BuildValue(
        "(LkOLLLdNNLLLL)", member->slot, member->seq, member->marker ? Py_True : Py_False,
        member->sent, member->octets, member->late, member->max_late_ms, first, last,
        member->dropped, member->errors, member->protected_count, member->skipped);
    if (result == NULL) {
        return NULL;
    }
    member->sent = member->octets = member->late = member->dropped = member->errors = 0;
    member->protected_count = 0;
    member->skipped = 0;
    member->max_late_ms = 0.0;
    member->first_sent_s = -1.0;
    if (leave) {
        member_clear(member);
        member->given_back = 0;
        self->free_ids[self->free_count++] = id;
        self->count--;
    }
    return result;
}

/* retarget(id, host, port): the member's packets go to a new numeric address. */
static PyObject *
group_retarget(FastGroup *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError, "retarget takes 3 arguments (%zd given)", nargs);
        return NULL;
    }
    member_t *member = group_entry(self, args[0], NULL);
    if (member == NULL) {
        return NULL;
    }
    long port = PyLong_AsLong(args[2]);
    if (port == -1 && PyErr_Occurred()) {
        return NULL;
    }
    struct sockaddr_storage address;
    socklen_t address_len = 0;
    if (fill_address(args[1], port, &address, &address_len) < 0) {
        return NULL;
    }
    member->address = address;
    member->address_len = address_len;
    Py_RETURN_NONE;
}

static Py_ssize_t
group_length(FastGroup *self)
{
    return self->count;
}

static PyMethodDef group_methods[] = {
    {"join", (PyCFunction)(void (*)(void))group_join, METH_FASTCALL,
     "join(sock, host, port, b1, marker, seq, ssrc, payloads, anchor_s, interval_s, slot, "
     "total_slots, ts0, spf, ts_extra, srtp_protect, srtp_t, burst) -> id"},
    {"serve", (PyCFunction)(void (*)(void))group_serve, METH_FASTCALL,
     "serve(horizon_s, now_s) -> (next_due_s, ids given back or None)"},
    {"take", (PyCFunction)(void (*)(void))group_take, METH_FASTCALL,
     "take(id, leave) -> (slot, seq, marker, sent, octets, late, max_late_ms, first_sent_s, "
     "last_sent_s, dropped, errors, protected, skipped)"},
    {"retarget", (PyCFunction)(void (*)(void))group_retarget, METH_FASTCALL,
     "retarget(id, host, port)"},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods group_as_sequence = {
    .sq_length = (lenfunc)group_length,
};

static PyTypeObject FastGroupType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "gossipper.media._rtpfast.FastGroup",
    .tp_basicsize = sizeof(FastGroup),
    .tp_dealloc = (destructor)group_dealloc,
    .tp_as_sequence = &group_as_sequence,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The steady audio frames of plain RTP streams, served in C once per tick.",
    .tp_methods = group_methods,
    .tp_init = (initproc)group_init,
    .tp_new = PyType_GenericNew,
};

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
    if (PyType_Ready(&FastGroupType) < 0) {
        return NULL;
    }
    PyObject *socket_module = PyImport_ImportModule("_socket");
    if (socket_module == NULL) {
        PyErr_Clear();
    } else {
        PyObject *type = PyObject_GetAttrString(socket_module, "socket");
        Py_DECREF(socket_module);
        if (type != NULL && PyType_Check(type)) {
            socket_type = (PyTypeObject *)type; /* kept for the process's life */
        } else {
            Py_XDECREF(type);
            PyErr_Clear();
        }
    }
    PyObject *module = PyModule_Create(&module_definition);
    if (module == NULL) {
        return NULL;
    }
    if (PyModule_AddObjectRef(module, "FastGroup", (PyObject *)&FastGroupType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    if (PyModule_AddIntConstant(module, "SRTP_FAILED", SRTP_FAILED) < 0
        || PyModule_AddIntConstant(module, "SRTP_TOO_LONG", SRTP_TOO_LONG) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
