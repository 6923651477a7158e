// The delay line's per-frame path: a learning Ethernet switch between the WAN's ports whose frames
// between two sites wait in that directed path's queue until their departure time.
//
// Why native: the same logic in the agent's Node process woke 1-5 ms late now and then (event loop
// hand-offs, not GC), and such a spike decides near-tie races in the lab. This process is one thread on
// SCHED_FIFO with its memory locked: it sleeps in epoll until a frame arrives or a timerfd set for the
// next departure fires. While a departure is near it ticks, and frames on its lazy ports wait for a tick.
//
// The wan-delay role (src/roles/wan-delay.ts) validates the configuration and writes the plan this
// reads; it keeps the process's stdin open and reads the counters from a file this maps. Usage:
//   wan-delay-engine <plan-file> <counters-file>
// stdout: "lazy" and the lazy ports' names, then "ready" once every port is open. stderr: one line per
// problem. Exit: 0 on SIGTERM/SIGINT or when stdin closes (the role is gone), 2 on a bad plan or a missing
// interface, 1 otherwise.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define COUNTERS_MAGIC 0x31455544524e5953ULL /* "SYNRDUE1" */
#define HEADER_WORDS 8
#define PAIR_WORDS 4
#define MAX_FRAME 65536
#define RX_BATCH 64
#define WARM_NS 5000000LL
#define TICK_NS 100000LL
#define RT_PRIORITY 10
#define LAZY_LEAD_NS 1000000LL

// Counter file layout (u64 words): magic, pairs, stations, macMoveRefused, evicted, aged, departures
// more than 1 ms late, the latest departure's lateness in ns; then per pair: forwarded, droppedLoss,
// droppedQueue, refused.
enum { H_MAGIC, H_PAIRS, H_STATIONS, H_MOVE_REFUSED, H_EVICTED, H_AGED, H_LATE_1MS, H_MAX_LATE_NS };
enum { P_FORWARDED, P_LOSS, P_QUEUE, P_REFUSED };

static void die(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  exit(code);
}

static int64_t now_ns(clockid_t clock) {
  struct timespec t;
  clock_gettime(clock, &t);
  return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

// xorshift64*: loss and jitter draws; quality far beyond what a delay profile needs.
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static double uniform01(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (double)((rng_state * 2685821657736338717ULL) >> 11) * (1.0 / 9007199254740992.0);
}

/* ---- plan ---- */

struct port {
  char ifname[IF_NAMESIZE];
  int fd;
  uint64_t pinned_mac; // 0: none
  int reported_errno;  // the last send error reported for this port, so a flood of them is one line
};

struct queued {
  uint8_t *frame;
  uint32_t len;
  int port;
  int64_t departure;
};

struct pair {
  int delayed; // 0: a same-site pair, sent at once
  int64_t delay_ns, jitter_ns;
  double loss;
  double ns_per_byte;
  int64_t last_departure;
  struct queued *ring;
  uint32_t head, size;
  int busy; // listed in busy_pairs
};

static struct port *ports;
static int port_count;
static struct pair *pairs;
static int pair_count;
static int *route; // [in * port_count + out] -> pair index, -1 none
static uint32_t queue_limit = 1000, macs_per_port = 1024;
static int64_t ageing_ns = 300000LL * 1000000LL;
static volatile uint64_t *counters;
static int *busy_pairs;
static int busy_count;

static void read_plan(const char *file) {
  FILE *f = fopen(file, "r");
  if (!f) die(2, "plan %s: %s", file, strerror(errno));
  char line[512];
  int lineno = 0, ports_seen = 0;
  while (fgets(line, sizeof line, f)) {
    lineno++;
    char word[32];
    if (sscanf(line, "%31s", word) != 1 || word[0] == '#') continue;
    if (!strcmp(word, "sizes")) {
      if (sscanf(line, "%*s %d %d", &port_count, &pair_count) != 2 || port_count < 1 || pair_count < 0) die(2, "plan line %d: bad sizes", lineno);
      ports = calloc(port_count, sizeof *ports);
      pairs = calloc(pair_count > 0 ? pair_count : 1, sizeof *pairs);
      route = malloc(sizeof *route * port_count * port_count);
      busy_pairs = malloc(sizeof *busy_pairs * (pair_count > 0 ? pair_count : 1));
      if (!ports || !pairs || !route || !busy_pairs) die(1, "out of memory");
      for (int i = 0; i < port_count * port_count; i++) route[i] = -1;
    } else if (!strcmp(word, "queue-limit")) {
      if (sscanf(line, "%*s %u", &queue_limit) != 1 || queue_limit < 1) die(2, "plan line %d: bad queue-limit", lineno);
    } else if (!strcmp(word, "switch")) {
      long long ageing_ms;
      if (sscanf(line, "%*s %u %lld", &macs_per_port, &ageing_ms) != 2 || macs_per_port < 1 || ageing_ms < 1) die(2, "plan line %d: bad switch", lineno);
      ageing_ns = ageing_ms * 1000000LL;
    } else if (!ports) {
      die(2, "plan line %d: '%s' before sizes", lineno, word);
    } else if (!strcmp(word, "port")) {
      int i;
      char ifname[64], mac[32];
      if (sscanf(line, "%*s %d %63s %31s", &i, ifname, mac) != 3 || i < 0 || i >= port_count || strlen(ifname) >= IF_NAMESIZE) die(2, "plan line %d: bad port", lineno);
      strcpy(ports[i].ifname, ifname);
      ports[i].pinned_mac = strcmp(mac, "-") ? strtoull(mac, NULL, 16) : 0;
      ports[i].fd = -1;
      ports_seen++;
    } else if (!strcmp(word, "pair")) {
      int i, delayed;
      long long delay_ns, jitter_ns;
      double loss, ns_per_byte;
      if (sscanf(line, "%*s %d %d %lld %lld %lf %lf", &i, &delayed, &delay_ns, &jitter_ns, &loss, &ns_per_byte) != 6 || i < 0 || i >= pair_count) die(2, "plan line %d: bad pair", lineno);
      pairs[i] = (struct pair){ .delayed = delayed, .delay_ns = delay_ns, .jitter_ns = jitter_ns, .loss = loss, .ns_per_byte = ns_per_byte, .last_departure = INT64_MIN };
    } else if (!strcmp(word, "route")) {
      int in, out, pair;
      if (sscanf(line, "%*s %d %d %d", &in, &out, &pair) != 3 || in < 0 || in >= port_count || out < 0 || out >= port_count || pair < 0 || pair >= pair_count) die(2, "plan line %d: bad route", lineno);
      route[in * port_count + out] = pair;
    } else {
      die(2, "plan line %d: unknown directive '%s'", lineno, word);
    }
  }
  fclose(f);
  if (!ports || ports_seen != port_count) die(2, "plan %s: %d of %d ports listed", file, ports_seen, port_count);
  for (int i = 0; i < pair_count; i++) {
    if (!pairs[i].delayed) continue;
    pairs[i].ring = malloc(sizeof(struct queued) * queue_limit);
    if (!pairs[i].ring) die(1, "out of memory for path queues");
  }
}

static void map_counters(const char *file) {
  size_t bytes = sizeof(uint64_t) * (HEADER_WORDS + (size_t)PAIR_WORDS * pair_count);
  FILE *f = fopen(file, "w+");
  if (!f) die(2, "counters %s: %s", file, strerror(errno));
  if (ftruncate(fileno(f), bytes) < 0) die(1, "counters %s: %s", file, strerror(errno));
  void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fileno(f), 0);
  if (m == MAP_FAILED) die(1, "counters %s: %s", file, strerror(errno));
  fclose(f);
  counters = m;
  counters[H_PAIRS] = pair_count;
  counters[H_MAGIC] = COUNTERS_MAGIC;
}

static inline void count(int pair, int which) { counters[HEADER_WORDS + pair * PAIR_WORDS + which]++; }

/* ---- learning switch: each port learns at most macs_per_port stations, least recently seen out first;
   a fresh station cannot move ports; pinned MACs never move; stale stations are forgotten on lookup ---- */

struct station {
  uint64_t mac;
  int port;
  int64_t seen;
  int prev, next; // the port's least-recently-seen list, oldest at head
};

static struct station *stations;
static int station_cap, free_station = -1;
static int *lru_head, *lru_tail, *lru_size;
static int *slots; // open addressing: station index or -1
static uint32_t slot_mask;

static uint32_t slot_of(uint64_t mac) { return (uint32_t)((mac * 0x9e3779b97f4a7c15ULL) >> 32) & slot_mask; }

static void switch_init(void) {
  station_cap = port_count * macs_per_port;
  uint32_t n = 1;
  while (n < (uint32_t)station_cap * 2) n <<= 1;
  slot_mask = n - 1;
  stations = malloc(sizeof *stations * station_cap);
  slots = malloc(sizeof *slots * n);
  lru_head = malloc(sizeof(int) * port_count);
  lru_tail = malloc(sizeof(int) * port_count);
  lru_size = calloc(port_count, sizeof(int));
  if (!stations || !slots || !lru_head || !lru_tail || !lru_size) die(1, "out of memory for the switch");
  for (uint32_t i = 0; i < n; i++) slots[i] = -1;
  for (int p = 0; p < port_count; p++) lru_head[p] = lru_tail[p] = -1;
  for (int i = station_cap - 1; i >= 0; i--) {
    stations[i].next = free_station;
    free_station = i;
  }
}

static int find_slot(uint64_t mac) {
  for (uint32_t s = slot_of(mac);; s = (s + 1) & slot_mask) {
    if (slots[s] < 0 || stations[slots[s]].mac == mac) return (int)s;
  }
}

// Backward-shift deletion keeps every probe chain unbroken without tombstones.
static void slot_delete(uint32_t s) {
  for (uint32_t j = (s + 1) & slot_mask; slots[j] >= 0; j = (j + 1) & slot_mask) {
    uint32_t home = slot_of(stations[slots[j]].mac);
    if (((j - home) & slot_mask) >= ((j - s) & slot_mask)) {
      slots[s] = slots[j];
      s = j;
    }
  }
  slots[s] = -1;
}

static void lru_remove(int i) {
  struct station *st = &stations[i];
  if (st->prev >= 0) stations[st->prev].next = st->next; else lru_head[st->port] = st->next;
  if (st->next >= 0) stations[st->next].prev = st->prev; else lru_tail[st->port] = st->prev;
  lru_size[st->port]--;
}

static void lru_append(int i) {
  struct station *st = &stations[i];
  st->prev = lru_tail[st->port];
  st->next = -1;
  if (st->prev >= 0) stations[st->prev].next = i; else lru_head[st->port] = i;
  lru_tail[st->port] = i;
  lru_size[st->port]++;
}

static void forget(int i) {
  lru_remove(i);
  slot_delete((uint32_t)find_slot(stations[i].mac));
  stations[i].next = free_station;
  free_station = i;
  counters[H_STATIONS]--;
}

static int pinned_port(uint64_t mac) {
  for (int p = 0; p < port_count; p++) if (ports[p].pinned_mac == mac) return p;
  return -1;
}

/** 0 when the frame must be dropped: its source belongs to another port. */
static int learn(int ingress, uint64_t mac, int64_t now) {
  int pinned = pinned_port(mac);
  if (pinned >= 0) {
    if (pinned == ingress) return 1;
    counters[H_MOVE_REFUSED]++;
    return 0;
  }
  int s = find_slot(mac);
  if (slots[s] >= 0) {
    struct station *st = &stations[slots[s]];
    if (st->port != ingress && now - st->seen < ageing_ns) {
      counters[H_MOVE_REFUSED]++;
      return 0;
    }
    int moving = slots[s];
    lru_remove(moving);
    // Aged out on its old port: it really moved, and takes a place on its new one like a new station.
    if (st->port != ingress && (uint32_t)lru_size[ingress] >= macs_per_port) {
      forget(lru_head[ingress]);
      counters[H_EVICTED]++;
    }
    st->port = ingress;
    st->seen = now;
    lru_append(moving);
    return 1;
  }
  if ((uint32_t)lru_size[ingress] >= macs_per_port) {
    forget(lru_head[ingress]);
    counters[H_EVICTED]++;
    s = find_slot(mac); // the deletion may have shifted the chain
  }
  int i = free_station;
  if (i < 0) return 1; // cannot happen while every port keeps to its share; forward without learning
  free_station = stations[i].next;
  stations[i] = (struct station){ .mac = mac, .port = ingress, .seen = now };
  slots[s] = i;
  lru_append(i);
  counters[H_STATIONS]++;
  return 1;
}

/** The port a destination was learnt on; -1 when unknown or aged out (then forgotten). */
static int port_of(uint64_t mac, int64_t now) {
  int pinned = pinned_port(mac);
  if (pinned >= 0) return pinned;
  int s = find_slot(mac);
  if (slots[s] < 0) return -1;
  int i = slots[s];
  if (now - stations[i].seen >= ageing_ns) {
    forget(i);
    counters[H_AGED]++;
    return -1;
  }
  return stations[i].port;
}

static uint64_t mac_at(const uint8_t *b) {
  return ((uint64_t)b[0] << 40) | ((uint64_t)b[1] << 32) | ((uint64_t)b[2] << 24) | ((uint64_t)b[3] << 16) | ((uint64_t)b[4] << 8) | b[5];
}

/* ---- ports and queues ---- */

/*
 * The frames due in one pass leave through one sendmmsg per port, in their order, rather than one send
 * each: at 100k frames/s a system call per frame made the engine fall behind (p99 0.7-6.7 ms late).
 */
#define TX_BATCH 64

struct tx_batch {
  struct mmsghdr msgs[TX_BATCH];
  struct iovec iov[TX_BATCH];
  uint8_t *frames[TX_BATCH];
  int pairs[TX_BATCH];
  int size;
};

static struct tx_batch *tx_batches; // one per port

static void open_ports(void) {
  tx_batches = calloc(port_count, sizeof *tx_batches);
  if (!tx_batches) die(1, "out of memory for the send batches");
  for (int i = 0; i < port_count; i++) {
    unsigned ifindex = if_nametoindex(ports[i].ifname);
    if (!ifindex) die(2, "port %s: interface not found in this network namespace", ports[i].ifname);
    // Protocol 0 until bind names the interface: no frame of another interface slips in.
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) die(1, "port %s: socket: %s", ports[i].ifname, strerror(errno));
    int buf = 8 * 1024 * 1024, one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf) < 0 || setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof buf) < 0 ||
        setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) < 0 || setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one) < 0) {
      die(1, "port %s: setsockopt: %s", ports[i].ifname, strerror(errno));
    }
    struct sockaddr_ll addr = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = (int)ifindex };
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) die(1, "port %s: bind: %s", ports[i].ifname, strerror(errno));
    ports[i].fd = fd;
  }
}

static void transmit(int pair, int port, const uint8_t *frame, uint32_t len) {
  if (send(ports[port].fd, frame, len, 0) == (ssize_t)len) {
    count(pair, P_FORWARDED);
    return;
  }
  count(pair, P_REFUSED);
  if (errno != ports[port].reported_errno) {
    ports[port].reported_errno = errno;
    fprintf(stderr, "dropping frames on %s: %s\n", ports[port].ifname, strerror(errno));
  }
}

static void enqueue(int pair, int port, const uint8_t *frame, uint32_t len, int64_t arrival) {
  struct pair *p = &pairs[pair];
  if (p->loss > 0 && uniform01() < p->loss) {
    count(pair, P_LOSS);
    return;
  }
  if (p->size == queue_limit) {
    count(pair, P_QUEUE);
    return;
  }
  uint8_t *copy = malloc(len);
  if (!copy) {
    count(pair, P_QUEUE);
    return;
  }
  memcpy(copy, frame, len);
  int64_t delay = p->delay_ns;
  if (p->jitter_ns > 0) delay += (int64_t)((2 * uniform01() - 1) * (double)p->jitter_ns);
  if (delay < 0) delay = 0;
  // Departures never decrease: jitter and the rate delay frames without reordering them.
  int64_t departure = arrival + delay;
  int64_t paced = p->last_departure == INT64_MIN ? INT64_MIN : p->last_departure + (int64_t)(len * p->ns_per_byte);
  if (paced > departure) departure = paced;
  p->last_departure = departure;
  p->ring[(p->head + p->size) % queue_limit] = (struct queued){ copy, len, port, departure };
  p->size++;
  if (!p->busy) {
    p->busy = 1;
    busy_pairs[busy_count++] = pair;
  }
}

static void flush(int port) {
  struct tx_batch *t = &tx_batches[port];
  int done = 0;
  while (done < t->size) {
    int n = sendmmsg(ports[port].fd, t->msgs + done, (unsigned)(t->size - done), 0);
    if (n > 0) {
      for (int i = done; i < done + n; i++) count(t->pairs[i], P_FORWARDED);
      done += n;
      continue;
    }
    // The first frame left unsent is refused; the rest are tried again.
    count(t->pairs[done++], P_REFUSED);
    if (errno != ports[port].reported_errno) {
      ports[port].reported_errno = errno;
      fprintf(stderr, "dropping frames on %s: %s\n", ports[port].ifname, strerror(errno));
    }
  }
  for (int i = 0; i < t->size; i++) free(t->frames[i]);
  t->size = 0;
}

static void batch(int pair, struct queued *q) {
  struct tx_batch *t = &tx_batches[q->port];
  t->iov[t->size] = (struct iovec){ q->frame, q->len };
  t->msgs[t->size].msg_hdr = (struct msghdr){ .msg_iov = &t->iov[t->size], .msg_iovlen = 1 };
  t->frames[t->size] = q->frame;
  t->pairs[t->size++] = pair;
  if (t->size == TX_BATCH) flush(q->port);
}

/** Sends what is due; returns the next departure (INT64_MAX when nothing waits). */
static int64_t release_due(int64_t now) {
  int64_t next = INT64_MAX;
  for (int b = 0; b < busy_count;) {
    int pair = busy_pairs[b];
    struct pair *p = &pairs[pair];
    while (p->size > 0 && p->ring[p->head].departure <= now) {
      struct queued *q = &p->ring[p->head];
      int64_t late = now - q->departure;
      if (late > 1000000) counters[H_LATE_1MS]++;
      if ((uint64_t)late > counters[H_MAX_LATE_NS]) counters[H_MAX_LATE_NS] = (uint64_t)late;
      batch(pair, q);
      p->head = (p->head + 1) % queue_limit;
      p->size--;
    }
    if (p->size == 0) {
      p->busy = 0;
      busy_pairs[b] = busy_pairs[--busy_count];
      continue;
    }
    if (p->ring[p->head].departure < next) next = p->ring[p->head].departure;
    b++;
  }
  for (int port = 0; port < port_count; port++) {
    if (tx_batches[port].size > 0) flush(port);
  }
  return next;
}

static void on_frame(int ingress, const uint8_t *frame, uint32_t len, int64_t arrival) {
  if (len < 14) return;
  // Group bit in the source: an invalid frame, never learnt; broadcast destinations flood.
  if (!(frame[6] & 1) && !learn(ingress, mac_at(frame + 6), arrival)) return;
  int only = -1;
  if (!(frame[0] & 1)) {
    only = port_of(mac_at(frame), arrival);
    if (only == ingress) return; // already on the segment it is meant for
  }
  for (int out = 0; out < port_count; out++) {
    if (out == ingress || (only >= 0 && out != only)) continue;
    int pair = route[ingress * port_count + out];
    if (pair < 0) continue;
    if (pairs[pair].delayed) enqueue(pair, out, frame, len, arrival);
    else transmit(pair, out, frame, len);
  }
}

/* ---- main loop ---- */

/*
 * Whether a frame from this port may wait for the engine's next tick rather than wake it: every frame it
 * forwards is delayed by at least LAZY_LEAD_NS, far more than a tick, and its kernel timestamp keeps its
 * departure exact. Under load a wakeup per arriving frame cost its sender an interrupt to the engine's
 * vCPU (issue 16); while departures are near, the engine ticks anyway.
 */
static int lazy_port(int port) {
  for (int out = 0; out < port_count; out++) {
    int pair = route[port * port_count + out];
    if (pair >= 0 && (!pairs[pair].delayed || pairs[pair].delay_ns - pairs[pair].jitter_ns < LAZY_LEAD_NS)) return 0;
  }
  return 1;
}

static volatile sig_atomic_t stopping;
static void on_signal(int sig) { (void)sig; stopping = 1; }

static uint8_t rx_frames[RX_BATCH][MAX_FRAME];
static char rx_control[RX_BATCH][64];

static void drain(int port, int64_t realtime_to_mono) {
  struct mmsghdr msgs[RX_BATCH];
  struct iovec iov[RX_BATCH];
  for (int i = 0; i < RX_BATCH; i++) {
    iov[i] = (struct iovec){ rx_frames[i], MAX_FRAME };
    msgs[i].msg_hdr = (struct msghdr){ .msg_iov = &iov[i], .msg_iovlen = 1, .msg_control = rx_control[i], .msg_controllen = sizeof rx_control[i] };
  }
  // A bounded number of batches per wakeup, so a flood on one port cannot starve departures.
  for (int round = 0; round < 8; round++) {
    int n = recvmmsg(ports[port].fd, msgs, RX_BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0) return;
    for (int i = 0; i < n; i++) {
      int64_t arrival = -1;
      for (struct cmsghdr *c = CMSG_FIRSTHDR(&msgs[i].msg_hdr); c; c = CMSG_NXTHDR(&msgs[i].msg_hdr, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPNS) {
          struct timespec ts;
          memcpy(&ts, CMSG_DATA(c), sizeof ts);
          arrival = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec - realtime_to_mono;
        }
      }
      if (arrival < 0) arrival = now_ns(CLOCK_MONOTONIC); // no kernel timestamp: now is the nearest
      on_frame(port, rx_frames[i], msgs[i].msg_len, arrival);
      msgs[i].msg_hdr.msg_controllen = sizeof rx_control[i];
    }
    if (n < RX_BATCH) return;
  }
}

/*
 * When to wake for the departure at `next`. A vCPU of a virtual machine that halts for a millisecond or
 * more is sometimes woken several milliseconds late by its host; one that halts for a tenth of that is
 * not. So a departure far off is slept towards until WARM_NS before it, and from there the engine wakes
 * every TICK_NS until the departure's own time. The last stretch is not spun: this VM's timer wakes the
 * engine about 10 us late even on a busy vCPU, and spinning before every departure took a sixth of a
 * core from the boards under load (issue 16). Kernel netem waits for its timer the same way.
 */
static int64_t wake_time(int64_t now, int64_t next) {
  if (next == INT64_MAX) return INT64_MAX;
  if (next - now > WARM_NS) return next - WARM_NS;
  int64_t tick = now + TICK_NS;
  return next < tick ? next : tick;
}

static void arm(int timer, int64_t at) {
  struct itimerspec spec = { 0 };
  if (at != INT64_MAX) spec.it_value = (struct timespec){ at / 1000000000LL, at % 1000000000LL };
  if (at != INT64_MAX && at < 1) spec.it_value.tv_nsec = 1; // all-zero would disarm
  timerfd_settime(timer, TFD_TIMER_ABSTIME, &spec, NULL);
}

int main(int argc, char **argv) {
  if (argc != 3) die(2, "usage: wan-delay-engine <plan-file> <counters-file>");
  read_plan(argv[1]);
  switch_init();
  open_ports();
  map_counters(argv[2]);
  rng_state ^= (uint64_t)now_ns(CLOCK_MONOTONIC) | 1;

  struct sched_param rt = { .sched_priority = RT_PRIORITY };
  if (sched_setscheduler(0, SCHED_FIFO, &rt) < 0) fprintf(stderr, "WARNING: SCHED_FIFO %d: %s; delays will be less precise\n", RT_PRIORITY, strerror(errno));
  if (mlockall(MCL_CURRENT | MCL_FUTURE) < 0) fprintf(stderr, "WARNING: mlockall: %s\n", strerror(errno));

  struct sigaction sa = { .sa_handler = on_signal };
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  // The lazy ports wait in an epoll of their own, which the main one listens to only while no tick is due.
  int ep = epoll_create1(EPOLL_CLOEXEC);
  int lazy_ep = epoll_create1(EPOLL_CLOEXEC);
  int timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (ep < 0 || lazy_ep < 0 || timer < 0) die(1, "epoll/timerfd: %s", strerror(errno));
  const uint32_t LAZY = (uint32_t)port_count + 2;
  printf("lazy");
  for (uint32_t i = 0; i <= LAZY; i++) {
    int lazy = i < (uint32_t)port_count && lazy_port((int)i);
    if (lazy) printf(" %s", ports[i].ifname);
    int fd = i < (uint32_t)port_count ? ports[i].fd : i == (uint32_t)port_count ? timer : i == LAZY ? lazy_ep : STDIN_FILENO;
    struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };
    if (epoll_ctl(lazy ? lazy_ep : ep, EPOLL_CTL_ADD, fd, &ev) < 0) die(1, "epoll_ctl: %s", strerror(errno));
  }
  int listening_lazy = 1;
  printf("\nready\n");
  fflush(stdout);

  int64_t next = INT64_MAX;  // the earliest departure waiting
  int64_t wake = INT64_MAX;  // when the engine wants to look at its queues again
  int64_t armed = INT64_MAX; // what the timer is set for; INT64_MAX: not set, or its expiry read
  while (!stopping) {
    // Setting a timer is dear on a virtual machine (on this one, half the engine's CPU at 100k frames/s):
    // an earlier timer still pending serves, since waking early only means looking again.
    int64_t before = now_ns(CLOCK_MONOTONIC);
    if (wake > before && (armed == INT64_MAX || armed <= before || wake < armed)) {
      arm(timer, wake);
      armed = wake;
    }
    int ticking = next != INT64_MAX && next - before <= WARM_NS;
    if (ticking == listening_lazy) {
      struct epoll_event ev = { .events = ticking ? 0 : EPOLLIN, .data.u32 = LAZY };
      if (epoll_ctl(ep, EPOLL_CTL_MOD, lazy_ep, &ev) < 0) die(1, "epoll_ctl: %s", strerror(errno));
      listening_lazy = !ticking;
    }
    struct epoll_event events[2 * 64];
    int n = epoll_wait(ep, events, 64, wake <= before ? 0 : -1);
    if (n < 0 && errno != EINTR) die(1, "epoll_wait: %s", strerror(errno));
    if (n < 0) n = 0;
    int lazy_ready = !listening_lazy;
    for (int i = 0; i < n; i++) lazy_ready |= events[i].data.u32 == LAZY;
    if (lazy_ready) {
      int m = epoll_wait(lazy_ep, events + n, 64, 0);
      if (m > 0) n += m;
    }
    int64_t offset = now_ns(CLOCK_REALTIME) - now_ns(CLOCK_MONOTONIC);
    for (int i = 0; i < n; i++) {
      uint32_t which = events[i].data.u32;
      if (which == LAZY) continue;
      if (which < (uint32_t)port_count) {
        drain((int)which, offset);
      } else if (which == (uint32_t)port_count) {
        uint64_t expirations;
        if (read(timer, &expirations, sizeof expirations) < 0 && errno != EAGAIN) die(1, "timerfd: %s", strerror(errno));
        armed = INT64_MAX;
      } else {
        char buf[64];
        if (read(STDIN_FILENO, buf, sizeof buf) <= 0) stopping = 1; // the role that started this is gone
      }
    }
    int64_t now = now_ns(CLOCK_MONOTONIC);
    next = release_due(now);
    wake = wake_time(now, next);
  }
  return 0;
}
