/* The engine's C accelerator for its tick (issue 11 item 3): the receive loop's sleep after a
 * batch as a wait for a timerfd to become readable, instead of a Trio cancel scope.
 *
 * The receive loop sleeps one tick (-timer_resol) after every batch, up to a thousand times a
 * second under load. A timed sleep in Trio needs a cancel scope: entering it, registering its
 * deadline, expiring it, aborting the wait and leaving it run some thirty-five Python calls
 * (11 us a sleep with hot caches, against 6 us for a wait on a descriptor; docs/
 * performance.md). A timerfd armed for the same instant is one system call and an ordinary
 * wait for readability.
 *
 * tick_timer() -> int
 *   A new non-blocking, close-on-exec CLOCK_MONOTONIC timerfd, disarmed.
 *
 * tick_arm(fd, when_s) -> None
 *   Arms fd for one expiry at when_s seconds of CLOCK_MONOTONIC (time.perf_counter's clock on
 *   Linux), absolute: a time already past expires at once. Arming clears an expiry not yet
 *   read, so fd is readable exactly from when_s on and never needs a read(2).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#ifdef __linux__
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>

static PyObject *
tick_timer(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (fd < 0) {
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    return PyLong_FromLong(fd);
}

static PyObject *
tick_arm(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "tick_arm() takes exactly 2 arguments (fd, when_s)");
        return NULL;
    }
    long fd = PyLong_AsLong(args[0]);
    if (fd == -1 && PyErr_Occurred()) {
        return NULL;
    }
    double when_s = PyFloat_AsDouble(args[1]);
    if (when_s == -1.0 && PyErr_Occurred()) {
        return NULL;
    }
    if (!(when_s < 1e15)) {
        PyErr_SetString(PyExc_ValueError, "tick_arm(): when_s must be a finite time");
        return NULL;
    }
    struct itimerspec spec;
    memset(&spec, 0, sizeof spec);
    if (when_s > 0.0) {
        time_t whole_s = (time_t)when_s;
        long fraction_ns = (long)((when_s - (double)whole_s) * 1e9);
        spec.it_value.tv_sec = whole_s;
        spec.it_value.tv_nsec = fraction_ns < 1000000000L ? fraction_ns : 999999999L;
    }
    if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0) {
        spec.it_value.tv_nsec = 1; /* all zeros would disarm it: the earliest instant instead */
    }
    if (timerfd_settime((int)fd, TFD_TIMER_ABSTIME, &spec, NULL) < 0) {
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"tick_timer", (PyCFunction)tick_timer, METH_NOARGS,
     "A new non-blocking CLOCK_MONOTONIC timerfd, disarmed."},
    {"tick_arm", (PyCFunction)(void (*)(void))tick_arm, METH_FASTCALL,
     "Arm the timerfd for one expiry at when_s monotonic seconds, clearing an unread one."},
    {NULL, NULL, 0, NULL},
};
#else
/* No timerfd: an empty module, and the engine keeps its cancel-scope sleeps. */
static PyMethodDef methods[] = {
    {NULL, NULL, 0, NULL},
};
#endif

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_timerfd", "The engine's tick as a timerfd.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__timerfd(void)
{
    return PyModule_Create(&module_def);
}
