/* LD_PRELOAD shim: several SIPp uas processes share one UDP port, one per uac worker.
 *
 * One SIPp uas saturates a core long before 8 gossipper workers do (bench/workers.py
 * --uas-count). With REUSEPORT_GROUP=K in the environment, every IPv4 UDP socket the process
 * binds joins a SO_REUSEPORT group, and the group steers each datagram to socket
 * (source port mod K) with a classic BPF program. gossipper's worker i sends from -p + i, so K
 * consecutive worker ports land on K different SIPp processes and each worker's calls stay on
 * one of them. Without the variable the shim does nothing.
 *
 *   gcc -O2 -shared -fPIC -o reuseport_shim.so bench/reuseport_shim.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>

#ifndef SO_ATTACH_REUSEPORT_CBPF
#define SO_ATTACH_REUSEPORT_CBPF 51
#endif

typedef int (*bind_fn)(int, const struct sockaddr *, socklen_t);

int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
    static bind_fn real_bind;
    if (real_bind == NULL)
        real_bind = (bind_fn)dlsym(RTLD_NEXT, "bind");
    const char *group = getenv("REUSEPORT_GROUP");
    int type = 0;
    socklen_t type_len = sizeof type;
    int udp4 = group != NULL && addr != NULL && addr->sa_family == AF_INET &&
               getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &type_len) == 0 && type == SOCK_DGRAM;
    if (udp4) {
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    }
    int rc = real_bind(fd, addr, len);
    if (rc == 0 && udp4) {
        unsigned members = (unsigned)atoi(group);
        /* The UDP header follows a 20-byte IPv4 header (loopback sends no options). The
         * program returns a socket index; an index past the group falls back to the hash. */
        struct sock_filter code[] = {
            BPF_STMT(BPF_LD | BPF_H | BPF_ABS, SKF_NET_OFF + 20),
            BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, members ? members : 1),
            BPF_STMT(BPF_RET | BPF_A, 0),
        };
        struct sock_fprog program = {sizeof code / sizeof code[0], code};
        setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &program, sizeof program);
    }
    return rc;
}
