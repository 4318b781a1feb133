/*
 * The C reference point for bench/transport-rate.sh: the plainest AF_PACKET sender and receiver,
 * one syscall per frame (blocking send(), blocking recv()), so the Java transports are compared
 * against what the kernel costs and nothing more.
 *
 *   afpacket_rate send    IFNAME SECONDS [PEER_MAC]
 *   afpacket_rate receive IFNAME SECONDS
 *
 * Same timing and the same one-line RESULT as org.aoemp.bench.TransportRate: the sender runs
 * 1 s warm-up + SECONDS measured + 1 s tail; the receiver waits for the first frame, skips 1 s,
 * then measures SECONDS. CPU is getrusage(RUSAGE_SELF) user+system over the measured window.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define FRAME_BYTES 1060
#define AOE_ETHERTYPE 0x88A2
#define CLOCK_CHECK_INTERVAL 256

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void report(const char *role, long frames, double seconds, double cpu, const char *extra)
{
    printf("RESULT impl=c role=%s frames=%ld seconds=%.3f fps=%.0f cpu_s=%.3f cpu_us_per_frame=%.3f %s\n",
           role, frames, seconds, frames / seconds, cpu, frames ? cpu * 1e6 / frames : 0.0, extra);
    fflush(stdout);
}

static int open_socket(const char *ifname, struct sockaddr_ll *addr)
{
    int fd = socket(AF_PACKET, SOCK_RAW, htons(AOE_ETHERTYPE));
    if (fd < 0) {
        perror("socket(AF_PACKET)");
        exit(1);
    }
    memset(addr, 0, sizeof *addr);
    addr->sll_family = AF_PACKET;
    addr->sll_protocol = htons(AOE_ETHERTYPE);
    addr->sll_ifindex = if_nametoindex(ifname);
    if (addr->sll_ifindex == 0) {
        fprintf(stderr, "no interface %s\n", ifname);
        exit(1);
    }
    /* The same socket options as AfPacketTransport, so the comparison is about the language and
     * the binding, not about buffer sizes: 4 MiB buffers (FORCE: may exceed rmem_max as root) and
     * no copies of our own transmitted frames. */
    int size = 4 << 20, one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) != 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)addr, sizeof *addr) < 0) {
        perror("bind");
        exit(1);
    }
    return fd;
}

static void own_mac(int fd, const char *ifname, unsigned char mac[6])
{
    char path[128];
    snprintf(path, sizeof path, "/sys/class/net/%s/address", ifname);
    FILE *f = fopen(path, "r");
    unsigned int b[6] = {0};
    if (!f || fscanf(f, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(1);
    }
    fclose(f);
    (void)fd;
    for (int i = 0; i < 6; i++)
        mac[i] = (unsigned char)b[i];
}

static int do_send(const char *ifname, double seconds, const char *peer)
{
    struct sockaddr_ll addr;
    int fd = open_socket(ifname, &addr);
    unsigned char frame[FRAME_BYTES] = {0};
    unsigned int d[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    if (peer && sscanf(peer, "%x:%x:%x:%x:%x:%x", &d[0], &d[1], &d[2], &d[3], &d[4], &d[5]) != 6) {
        fprintf(stderr, "bad MAC %s\n", peer);
        return 2;
    }
    for (int i = 0; i < 6; i++)
        frame[i] = (unsigned char)d[i];
    own_mac(fd, ifname, frame + 6);
    frame[12] = AOE_ETHERTYPE >> 8;
    frame[13] = AOE_ETHERTYPE & 0xff;
    frame[14] = 0x10;               /* AoE version 1, request */
    frame[16] = 0xff;               /* shelf 0xfffe: no target answers */
    frame[17] = 0xfe;

    double start = now_s(), from = start + 1.0, to = from + seconds, end = to + 1.0;
    long sent = 0, refused = 0, sent_from = -1, refused_from = 0, sent_window = -1, refused_window = 0;
    double cpu_from = 0, t_from = 0, cpu_window = 0, t_window = 0;
    uint32_t tag = 0;
    for (;;) {
        for (int i = 0; i < CLOCK_CHECK_INTERVAL; i++) {
            memcpy(frame + 20, &tag, 4);
            tag++;
            if (send(fd, frame, FRAME_BYTES, 0) == FRAME_BYTES)
                sent++;
            else
                refused++;
        }
        double t = now_s();
        if (sent_from < 0 && t >= from) {
            sent_from = sent;
            refused_from = refused;
            cpu_from = cpu_s();
            t_from = t;
        }
        /* Not "else": a sender descheduled for over a second (a busy shared machine) must still
         * close a window it just opened rather than run past the end without one. */
        if (sent_from >= 0 && sent_window < 0 && t >= to) {
            cpu_window = cpu_s() - cpu_from;
            t_window = t - t_from;
            sent_window = sent - sent_from;
            refused_window = refused - refused_from;
        }
        if (t >= end && sent_window >= 0)
            break;
    }
    char extra[64];
    snprintf(extra, sizeof extra, "refused=%ld", refused_window);
    report("send", sent_window, t_window, cpu_window, extra);
    return 0;
}

static int do_receive(const char *ifname, double seconds)
{
    struct sockaddr_ll addr;
    int fd = open_socket(ifname, &addr);
    struct timeval tv = {.tv_sec = 0, .tv_usec = 100000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    unsigned char buf[2048];
    double waited = now_s();
    long frames = 0;
    /* Counting happens in this thread, so the window edges are checked between recv()s; a 100 ms
     * receive timeout bounds how late an edge can be seen on an idle link. */
    while (frames == 0) {
        if (recv(fd, buf, sizeof buf, 0) > 0)
            frames++;
        else if (now_s() - waited > 30) {
            fprintf(stderr, "no frame arrived on %s within 30 s\n", ifname);
            return 1;
        }
    }
    double from = now_s() + 1.0, to = from + seconds;
    struct tpacket_stats stats;
    socklen_t stats_len = sizeof stats;
    long frames_from = -1;
    double cpu_from = 0, t_from = 0, t;
    for (;;) {
        if (recv(fd, buf, sizeof buf, 0) > 0 && (++frames & 63) != 0)
            continue;  /* look at the clock every 64 frames, or after a timeout */
        t = now_s();
        if (frames_from < 0 && t >= from) {
            frames_from = frames;
            getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &stats, &stats_len);  /* reads and resets */
            cpu_from = cpu_s();
            t_from = t;
        } else if (frames_from >= 0 && t >= to) {
            break;
        }
    }
    double cpu = cpu_s() - cpu_from;
    stats_len = sizeof stats;
    getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &stats, &stats_len);
    char extra[64];
    snprintf(extra, sizeof extra, "socket_drops=%u", stats.tp_drops);
    report("receive", frames - frames_from, t - t_from, cpu, extra);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s send IFNAME SECONDS [PEER_MAC] | receive IFNAME SECONDS\n", argv[0]);
        return 2;
    }
    double seconds = atof(argv[3]);
    if (strcmp(argv[1], "send") == 0)
        return do_send(argv[2], seconds, argc > 4 ? argv[4] : NULL);
    if (strcmp(argv[1], "receive") == 0)
        return do_receive(argv[2], seconds);
    fprintf(stderr, "role must be send or receive\n");
    return 2;
}
