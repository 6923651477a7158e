// The wake-up an idle process gets from this machine for a packet, without Node in the way.
//
// The packet-stages benchmark measures an idle agent's wake-up: the kernel's receive timestamp of a frame
// to the agent's JavaScript callback. This program is the same measurement in C, on the same kind of
// socket, in the same way (a packet socket with SO_TIMESTAMPNS, an epoll wait, ICMP echo requests only),
// so the benchmark can tell what the machine charges every process from what the agent's runtime adds.
// Usage: wake-floor <ifname> <count>. Prints "ready" on stderr once bound; stdout: one JSON object with
// every sample in microseconds. Exit 2 on bad arguments, 1 on a failed system call.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>

static int fail(const char *call) {
  perror(call);
  return 1;
}

int main(int argc, char **argv) {
  long count = argc == 3 ? atol(argv[2]) : 0;
  unsigned ifindex = argc == 3 ? if_nametoindex(argv[1]) : 0;
  if (count <= 0 || ifindex == 0) {
    fprintf(stderr, "usage: wake-floor <ifname> <count> (an interface of this network namespace)\n");
    return 2;
  }
  int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_IP));
  if (fd < 0) return fail("socket");
  struct sockaddr_ll at = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP), .sll_ifindex = (int)ifindex };
  if (bind(fd, (struct sockaddr *)&at, sizeof at) < 0) return fail("bind");
  int on = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) < 0) return fail("setsockopt SO_TIMESTAMPNS");
  int poller = epoll_create1(0);
  struct epoll_event event = { .events = EPOLLIN };
  if (poller < 0 || epoll_ctl(poller, EPOLL_CTL_ADD, fd, &event) < 0) return fail("epoll");
  double *late_us = calloc((size_t)count, sizeof *late_us);
  if (!late_us) return fail("calloc");
  fprintf(stderr, "ready\n");

  long got = 0;
  while (got < count) {
    if (epoll_wait(poller, &event, 1, -1) < 0) return fail("epoll_wait");
    unsigned char frame[128];
    char control[CMSG_SPACE(sizeof(struct timespec))];
    struct iovec iov = { frame, sizeof frame };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control };
    ssize_t n;
    while (got < count && (n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_TRUNC)) >= 0) {
      struct timespec now;
      clock_gettime(CLOCK_REALTIME, &now);
      struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
      // ICMP echo requests only (protocol 1, type 8), as the benchmark's JavaScript receiver counts them.
      if (n >= 35 && frame[23] == 1 && frame[34] == 8 && c && c->cmsg_type == SCM_TIMESTAMPNS) {
        struct timespec rx;
        memcpy(&rx, CMSG_DATA(c), sizeof rx);
        late_us[got++] = ((double)(now.tv_sec - rx.tv_sec) * 1e9 + (double)(now.tv_nsec - rx.tv_nsec)) / 1000.0;
      }
      msg.msg_controllen = sizeof control;
    }
  }
  printf("{\"lateUs\":[");
  for (long i = 0; i < count; i++) printf("%s%.3f", i ? "," : "", late_us[i]);
  printf("]}\n");
  return 0;
}
