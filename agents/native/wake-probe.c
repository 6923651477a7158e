// How late this machine wakes a real-time thread, measured beside the delay line's engine.
//
// The engine's departures can be no more punctual than the wakeups its machine grants it. On a virtual
// machine the host stops a vCPU for a millisecond or more now and then, whether the thread sleeps or
// spins, and no userspace design avoids that. This probe sleeps on the engine's terms (SCHED_FIFO at the
// same priority, memory locked, absolute CLOCK_MONOTONIC deadlines TICK apart, as the engine ticks
// before a departure) so a benchmark can set a step's errors beside the machine's own in the same seconds.
// Usage: wake-probe <seconds> <tick-us>. stdout: one JSON object. Exit 2 on bad arguments.
#define _GNU_SOURCE
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#define RT_PRIORITY 10 // the engine's

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char **argv) {
  double seconds = argc == 3 ? atof(argv[1]) : 0;
  int64_t tick = argc == 3 ? atoll(argv[2]) * 1000LL : 0;
  if (seconds <= 0 || tick <= 0) {
    fprintf(stderr, "usage: wake-probe <seconds> <tick-us>\n");
    return 2;
  }
  struct sched_param rt = { .sched_priority = RT_PRIORITY };
  int realtime = sched_setscheduler(0, SCHED_FIFO, &rt) == 0;
  mlockall(MCL_CURRENT | MCL_FUTURE);

  long wakes = 0, over_1ms = 0;
  int64_t max_late = 0;
  int64_t end = now_ns() + (int64_t)(seconds * 1e9);
  for (int64_t due = now_ns() + tick; due < end; due += tick) {
    struct timespec at = { due / 1000000000LL, due % 1000000000LL };
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL);
    int64_t late = now_ns() - due;
    wakes++;
    if (late > max_late) max_late = late;
    if (late > 1000000) {
      over_1ms++;
      due = now_ns(); // one stop of the machine counts once, not once per tick it swallowed
    }
  }
  printf("{\"realtime\":%s,\"wakes\":%ld,\"over1ms\":%ld,\"maxLateUs\":%lld}\n", realtime ? "true" : "false", wakes, over_1ms, (long long)(max_late / 1000));
  return 0;
}
