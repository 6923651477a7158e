// Read-readiness notification for raw fds. The npm `epoll` addon waits in its
// own thread and wakes the event loop per event, so nothing here occupies the
// libuv threadpool and process exit is never held up by a pending read.
import { Epoll } from 'epoll';

/** Calls `onReadable` whenever `fd` is readable (level-triggered). Returns the unwatch function. */
export function watchReadable(fd: number, onReadable: () => void): () => void {
  const poller = new Epoll((err) => {
    if (err) throw err;
    onReadable();
  });
  poller.add(fd, Epoll.EPOLLIN);
  return () => {
    poller.remove(fd).close();
  };
}
