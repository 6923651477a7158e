// A replica (P400A/B/C): cracks the switch's encapsulated start packet and hands
// the inner SYN to the local TCP stack, whose unmodified web server answers.
//   A: the SYN is re-addressed to the replica, whose stack answers plainly.
//   B: as A, but the stack's answers are shaped: the SYN+ACK goes out inside an
//      outer server->client header, later packets with the server as source.
//   C: the stack owns the connection under the server's address (a local,
//      non-ARPing one); everything it sends is tunnelled replica->client, and
//      the gateway's tunnelled client packets are cracked into the stack.
import { readFileSync } from 'node:fs';
import { IPPROTO_IPIP } from '../io/libc';
import { openRawIpSocket } from '../io/raw-ip-socket';
import { openTunDevice, type TunDevice } from '../io/tun-device';
import { crack, createIpv4View, createTcpView, encapsulate, ipToString, parseIpv4, parseTcp, setDst, setSrc, TcpFlag } from '../packet';
import { Counters } from '../protocol/counters';
import { Forwarder } from '../protocol/forwarder';
import { AGENT_MARK, installReplyDiversion } from '../protocol/reply-diversion';
import type { ReplicaConfig } from './replica-config';

const LOAD_SAMPLE_MS = 1000;
const TUN_NAME = 'srtun0';
/** Configuration B: which server each client connection was for, remembered from its SYN; bounded. */
const MAX_REMEMBERED_CLIENTS = 65536;

export interface Replica {
  counters(): Record<string, unknown>;
  setBusy(forced: boolean): void;
  setDead(forced: boolean): void;
  close(): void;
}

function loadAverage(): number {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}

export function startReplica(config: ReplicaConfig, log: (message: string) => void): Replica {
  const counters = new Counters();
  const servers = new Set(config.serverAddresses);
  const outer = createIpv4View();
  const inner = createIpv4View();
  const tcp = createTcpView();
  const serverOfClient = new Map<number, number>();
  let forcedBusy = false;
  let forcedDead = false;
  let load = loadAverage();
  const sampler = setInterval(() => (load = loadAverage()), LOAD_SAMPLE_MS);

  // Marked, so that in B and C the agent's own sends are not diverted back into the TUN device.
  const raw = new Forwarder(counters, AGENT_MARK);
  const copies = openRawIpSocket(IPPROTO_IPIP);
  let tun: TunDevice | undefined;
  let removeDiversion = () => undefined as void;

  function startPacket(packet: Buffer): void {
    if (forcedBusy || load > config.busyLoad) return counters.add(forcedBusy ? 'busy-dropped-forced' : 'busy-dropped-load');
    if (config.configuration === 'B') {
      if (serverOfClient.size >= MAX_REMEMBERED_CLIENTS) serverOfClient.delete(serverOfClient.keys().next().value!);
      serverOfClient.set(inner.src * 0x10000 + tcp.srcPort, inner.dst);
    }
    if (config.configuration !== 'C') setDst(packet, inner, config.ownAddress);
    counters.add('start-packets-answered');
    toStack(packet);
  }

  function toStack(packet: Buffer): void {
    raw.send(packet.subarray(inner.offset, inner.offset + inner.totalLength), inner.dst);
  }

  copies.onPacket((packet) => {
    if (forcedDead) return; // a dead replica does nothing at all, as if powered off
    if (parseIpv4(packet, 0, outer) !== 'ok' || outer.dst !== config.ownAddress) return counters.add('copy-not-for-us');
    const status = crack(packet, outer, inner);
    if (status !== 'ok') return counters.add(`copy-dropped-inner-${status}`);
    if (parseTcp(packet, inner, tcp) !== 'ok') return counters.add('copy-dropped-inner-not-tcp');
    if (!servers.has(inner.dst)) return counters.add('copy-dropped-unknown-server');
    if ((tcp.flags & (TcpFlag.SYN | TcpFlag.ACK)) === TcpFlag.SYN) return startPacket(packet);
    // Only configuration C tunnels the rest of a connection to the replica.
    if (config.configuration !== 'C') return counters.add('copy-dropped-not-a-start-packet');
    counters.add('tunnelled-from-client');
    toStack(packet);
  });

  /** B and C: shapes what the stack sends towards a client. */
  function fromStack(packet: Buffer): void {
    if (parseIpv4(packet, 0, inner) !== 'ok' || parseTcp(packet, inner, tcp) !== 'ok') return counters.add('stack-packet-dropped-unparsable');
    const client = inner.dst;
    if (config.configuration === 'C') {
      const wrapped = encapsulate(packet, inner, config.ownAddress, client);
      if (!wrapped.ok) return counters.add(`stack-packet-dropped-${wrapped.reason}`);
      counters.add('tunnelled-to-client');
      return raw.send(wrapped.packet, client);
    }
    const server = serverOfClient.get(client * 0x10000 + tcp.dstPort) ?? config.serverAddresses[0];
    if ((tcp.flags & (TcpFlag.SYN | TcpFlag.ACK)) === (TcpFlag.SYN | TcpFlag.ACK)) {
      // The gateway learns the replica from the inner source; the outer one is the server it expects.
      const wrapped = encapsulate(packet, inner, server, client);
      if (!wrapped.ok) return counters.add(`stack-packet-dropped-${wrapped.reason}`);
      counters.add('acknowledgements-spoofed');
      return raw.send(wrapped.packet, client);
    }
    setSrc(packet, inner, server);
    counters.add('spoofed-to-client');
    raw.send(packet, client);
  }

  if (config.configuration !== 'A') {
    tun = openTunDevice(TUN_NAME);
    const own = ipToString(config.ownAddress);
    removeDiversion = installReplyDiversion({
      tun: TUN_NAME,
      selector: config.configuration === 'C' ? ['from', ipToString(config.serverAddresses[0])] : ['from', own, 'ipproto', 'tcp', 'sport', '80'],
      localAddresses: config.configuration === 'C' ? config.serverAddresses.map(ipToString) : [],
    });
    tun.onPacket(fromStack);
  }
  log(`replica ready: configuration ${config.configuration}, serving ${config.serverAddresses.length} origin server(s)`);

  return {
    counters: () => ({ ...counters.toJSON(), busy: forcedBusy, dead: forcedDead, loadAverage: load }),
    setBusy(forced) {
      forcedBusy = forced;
      log(`replica: busy ${forced ? 'forced on' : 'off'}`);
    },
    setDead(forced) {
      forcedDead = forced;
      log(`replica: dead ${forced ? 'forced on' : 'off'}`);
    },
    close() {
      clearInterval(sampler);
      copies.close();
      tun?.close();
      removeDiversion();
      raw.close();
    },
  };
}
