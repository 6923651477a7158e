// Read-readiness notification for raw fds, on Node's own event loop: a libuv
// poll handle (uv_poll_t) on the fd, reached through koffi from the node
// binary's own symbols. The loop's epoll then wakes the agent's thread itself,
// so a packet costs one wake-up. (The npm epoll addon used before woke a
// watcher thread, which woke the loop and waited to be woken back: three
// cross-thread wake-ups per packet, 340 us median on this VM; bench `stages`.)
import koffi from 'koffi';
import * as libc from './libc';

const node = koffi.load(null);
const UV_POLL = 8; // uv_handle_type
const UV_READABLE = 1;

const PollCallback = koffi.proto('void synrace_uv_poll_cb(void *handle, int status, int events)');
const CloseCallback = koffi.proto('void synrace_uv_close_cb(void *handle)');
const uvDefaultLoop = node.func('void *uv_default_loop()') as () => unknown;
const uvHandleSize = node.func('size_t uv_handle_size(int type)') as (type: number) => number;
const uvPollInit = node.func('int uv_poll_init(void *loop, void *handle, int fd)') as (loop: unknown, handle: unknown, fd: number) => number;
const uvPollStart = node.func('int uv_poll_start(void *handle, int events, synrace_uv_poll_cb *cb)') as (handle: unknown, events: number, cb: unknown) => number;
const uvPollStop = node.func('int uv_poll_stop(void *handle)') as (handle: unknown) => number;
const uvClose = node.func('void uv_close(void *handle, synrace_uv_close_cb *cb)') as (handle: unknown, cb: unknown) => void;
const uvStrerror = node.func('const char *uv_strerror(int err)') as (err: number) => string;

const POLL_HANDLE_SIZE = uvHandleSize(UV_POLL);
const LOOP = uvDefaultLoop();

/**
 * Every poll handle that libuv holds, by address: its memory, which libuv owns until the close callback,
 * and its callback while the fd is watched.
 */
interface PollHandle {
  memory: unknown;
  onReadable?: () => void;
}
const handles = new Map<bigint, PollHandle>();

// koffi swallows what a callback throws when libuv, not JavaScript, called it:
// rethrown from an immediate, an error ends the agent as it would anywhere else.
const rethrow = (error: unknown): void => {
  setImmediate(() => {
    throw error;
  });
};

const onPoll = koffi.register((handle: unknown, status: number) => {
  const onReadable = handles.get(koffi.address(handle))?.onReadable;
  if (!onReadable) return;
  try {
    if (status < 0) throw new Error(`waiting for a readable fd: ${uvStrerror(status)}`);
    onReadable();
  } catch (error) {
    rethrow(error);
  }
}, koffi.pointer(PollCallback));

const onClosed = koffi.register((handle: unknown) => {
  const key = koffi.address(handle);
  koffi.free(handles.get(key)?.memory);
  handles.delete(key);
}, koffi.pointer(CloseCallback));

/** Calls `onReadable` whenever `fd` is readable (level-triggered). Returns the unwatch function. */
export function watchReadable(fd: number, onReadable: () => void): () => void {
  const handle = koffi.alloc('uint8_t', POLL_HANDLE_SIZE);
  const key = koffi.address(handle);
  const init = uvPollInit(LOOP, handle, fd);
  if (init < 0) {
    koffi.free(handle);
    throw new Error(`cannot watch fd ${fd}: ${uvStrerror(init)}`);
  }
  const entry: PollHandle = { memory: handle, onReadable };
  handles.set(key, entry);
  const unwatch = (): void => {
    if (entry.onReadable === undefined) return;
    entry.onReadable = undefined;
    uvPollStop(handle);
    uvClose(handle, onClosed);
  };
  const start = uvPollStart(handle, UV_READABLE, onPoll);
  if (start < 0) {
    unwatch();
    throw new Error(`cannot watch fd ${fd}: ${uvStrerror(start)}`);
  }
  return unwatch;
}

const MAX_PACKET = 65535;
// Packets handled per readiness event, so a flood cannot starve timers.
const DRAIN_BUDGET = 512;

/**
 * Delivers each packet read from a non-blocking fd as a private copy, draining until EAGAIN (or the budget)
 * at every readiness event. `read` returns the byte count, or < 0 with errno set. Returns the stop function.
 */
export function watchPackets(fd: number, read: (into: Buffer) => number, onPacket: (packet: Buffer) => void, what: string): () => void {
  const rx = Buffer.allocUnsafe(MAX_PACKET);
  let stopped = false;
  const unwatch = watchReadable(fd, () => {
    for (let i = 0; i < DRAIN_BUDGET && !stopped; i++) {
      const n = read(rx);
      if (n < 0) {
        if (libc.errno() === libc.EAGAIN) return;
        throw libc.sysError('read', what);
      }
      onPacket(Buffer.from(rx.subarray(0, n)));
    }
  });
  return () => {
    stopped = true;
    unwatch();
  };
}
