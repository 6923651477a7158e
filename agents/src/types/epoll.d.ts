// Minimal typing for the npm `epoll` native addon (v4), which ships none.
declare module 'epoll' {
  export class Epoll {
    static readonly EPOLLIN: number;
    static readonly EPOLLOUT: number;
    static readonly EPOLLERR: number;
    static readonly EPOLLHUP: number;
    constructor(callback: (err: Error | null, fd: number, events: number) => void);
    add(fd: number, events: number): this;
    remove(fd: number): this;
    close(): void;
    readonly closed: boolean;
  }
}
