// A replica (P400): cracks the switch's encapsulated start packet and hands the
// inner SYN to the local TCP stack, whose unmodified web server answers. In
// configuration A the SYN is re-addressed to the replica itself, so the stack
// owns the connection under the replica's address and answers plainly.
import { readFileSync } from 'node:fs';
import { IPPROTO_IPIP, IPPROTO_RAW } from '../io/libc';
import { openRawIpSocket } from '../io/raw-ip-socket';
import { crack, createIpv4View, createTcpView, parseIpv4, parseTcp, setDst, TcpFlag } from '../packet';
import { Counters } from '../protocol/counters';
import type { ReplicaConfig } from './replica-config';

const LOAD_SAMPLE_MS = 1000;

export interface Replica {
  counters(): unknown;
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
  let forcedBusy = false;
  let forcedDead = false;
  let load = loadAverage();
  const sampler = setInterval(() => (load = loadAverage()), LOAD_SAMPLE_MS);

  const toStack = openRawIpSocket(IPPROTO_RAW);
  const copies = openRawIpSocket(IPPROTO_IPIP);
  copies.onPacket((packet) => {
    if (forcedDead) return; // a dead replica does nothing at all, as if powered off
    if (parseIpv4(packet, 0, outer) !== 'ok' || outer.dst !== config.ownAddress) return counters.add('copy-not-for-us');
    const status = crack(packet, outer, inner);
    if (status !== 'ok') return counters.add(`copy-dropped-inner-${status}`);
    if (parseTcp(packet, inner, tcp) !== 'ok' || (tcp.flags & (TcpFlag.SYN | TcpFlag.ACK)) !== TcpFlag.SYN) return counters.add('copy-dropped-not-a-start-packet');
    if (!servers.has(inner.dst)) return counters.add('copy-dropped-unknown-server');
    if (forcedBusy || load > config.busyLoad) return counters.add(forcedBusy ? 'busy-dropped-forced' : 'busy-dropped-load');
    setDst(packet, inner, config.ownAddress);
    if (!toStack.sendTo(packet.subarray(inner.offset, inner.offset + inner.totalLength), config.ownAddress)) return counters.add('dropped-send-buffer-full');
    counters.add('start-packets-answered');
  });
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
      toStack.close();
    },
  };
}
