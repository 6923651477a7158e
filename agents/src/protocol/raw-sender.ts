// Packets an agent originates itself (RSTs to late answerers, the switch's encapsulated copies, the
// replica's cracked start packets): one raw IPv4 socket, the kernel routes them. Packets the agents
// steer are never re-sent from here: they go back to the kernel with a verdict (steered-queue.ts).
import { openRawIpSocket, type RawIpSocket } from '../io/raw-ip-socket';
import { IPPROTO_RAW } from '../io/libc';
import type { Counters } from './counters';

export class RawSender {
  private readonly socket: RawIpSocket;

  /** `mark`: SO_MARK for policy routing to recognise the agent's own packets. */
  constructor(private readonly counters: Counters, mark?: number) {
    this.socket = openRawIpSocket(IPPROTO_RAW, mark);
  }

  /** Sends a complete IPv4 packet as is; a refusal is counted, never thrown. */
  send(packet: Buffer, dst: number): void {
    const sent = this.socket.sendTo(packet, dst);
    if (sent !== true) this.counters.add(`dropped-send-${sent}`);
  }

  close(): void {
    this.socket.close();
  }
}
