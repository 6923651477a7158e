import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

/** A candidate's SYN+ACK as it reached the gateway's WAN side. */
export interface RaceAnswer {
  /** The candidate's address: the plain source, or the replica named by the tunnel (B: inner source, C: outer source). */
  answerer: string;
  /** Since the tagged SYN left. */
  atMs: number;
  tunnelled: boolean;
  /** tcpdump's line for it. */
  packet: string;
}

/** A RST the gateway sent to a late answerer. */
export interface RaceReset {
  /** The answerer's address (C tunnels the RST to the replica, inner destination the server). */
  to: string;
  atMs: number;
  tunnelled: boolean;
  packet: string;
}

/** One tagged connection attempt as the gateway's WAN capture shows it. */
export interface RaceTimeline {
  /** `client ip:port -> server ip:port`, the protocol's connection key. */
  key: string;
  clientIp: string;
  clientPort: number;
  serverIp: string;
  serverPort: number;
  /** Epoch seconds at which the tagged SYN left: time zero of the race. */
  synAt: number;
  synPacket: string;
  /** In arrival order. */
  answers: RaceAnswer[];
  resets: RaceReset[];
  /** The first answer, which the gateway binds; null when the capture cannot show it (see problems). */
  winner: RaceAnswer | null;
  /** Where the capture contradicts protocol.md's P500: no winner visible, an unreset loser, a reset nobody earned. */
  problems: string[];
}

interface Endpoint { ip: string; port: number }

/** One TCP segment of `tcpdump -nn -tt` output, with the IPIP outer header when it was tunnelled. */
interface Segment {
  at: number;
  outer: { src: string; dst: string } | null;
  src: Endpoint;
  dst: Endpoint;
  flags: string;
  seq: number | null;
  tagged: boolean;
  line: string;
}

// "<epoch.us> IP <src> > <dst>: [IP <inner src> > <inner dst>: ]Flags [<flags>], ..."; tunnel ends carry no port.
const SEGMENT = /^(\d+\.\d+) IP (\S+) > (\S+): (?:IP (\S+) > (\S+): )?Flags \[([^\]]*)\](?:, seq (\d+))?/;
/** protocol.md's tag: TCP option kind 253, which tcpdump does not know by name. */
const TAG = /unknown-253/;

function endpoint(text: string): Endpoint | null {
  const m = /^(\d+\.\d+\.\d+\.\d+)\.(\d+)$/.exec(text);
  return m ? { ip: m[1], port: Number(m[2]) } : null;
}

function parseSegment(line: string): Segment | null {
  const m = SEGMENT.exec(line);
  if (!m) return null;
  const [, at, a, b, innerA, innerB, flags, seq] = m;
  const tunnelled = innerA !== undefined;
  const src = endpoint(tunnelled ? innerA : a);
  const dst = endpoint(tunnelled ? innerB : b);
  if (!src || !dst) return null;
  return { at: Number(at), outer: tunnelled ? { src: a, dst: b } : null, src, dst, flags, seq: seq === undefined ? null : Number(seq), tagged: TAG.test(line), line };
}

const msSince = (t0: number, t: number): number => Math.round((t - t0) * 1e6) / 1e3;

/**
 * The tunnel names the replica on whichever side is not the server: B wraps the replica's answer in an outer
 * server->client header, C wraps a server->client answer in an outer replica->client one. So no configuration
 * needs to be given, and a pcap of any of A, B and C reads the same way.
 */
function answererOf(s: Segment, serverIp: string): string {
  if (!s.outer) return s.src.ip;
  return s.src.ip === serverIp ? s.outer.src : s.src.ip;
}

function resetTargetOf(s: Segment): string {
  return s.outer ? s.outer.dst : s.dst.ip;
}

/** P500 says the first answer wins and every later answerer gets one RST: the winner, and what the capture shows otherwise. */
function judgeAgainstP500(t: RaceTimeline): void {
  const reset = new Set(t.resets.map((r) => r.to));
  const answered = new Set(t.answers.map((a) => a.answerer));
  const first = t.answers[0];
  if (!first) {
    t.problems.push('no answer reached the gateway');
  } else if (reset.has(first.answerer)) {
    t.problems.push(`the first answer seen, from ${first.answerer} at ${first.atMs} ms, was reset: the winner's answer is not in the capture (an IPIP answer outside the capture filter?)`);
  } else {
    t.winner = first;
  }
  for (const late of t.answers.slice(1)) {
    if (late.answerer !== first.answerer && !reset.has(late.answerer)) t.problems.push(`${late.answerer} answered late at ${late.atMs} ms and was never reset`);
  }
  for (const r of t.resets) {
    if (!answered.has(r.to)) t.problems.push(`a RST went to ${r.to} at ${r.atMs} ms, whose answer is not in the capture`);
  }
}

/** Race timelines from `tcpdump -nn -tt` text of a client gateway's WAN interface, one per tagged SYN. */
export function parseRaceTimelines(tcpdumpText: string): RaceTimeline[] {
  const timelines: RaceTimeline[] = [];
  // By client endpoint: answers and resets name the client, and the server side differs per candidate.
  const racing = new Map<string, { timeline: RaceTimeline; synSeq: number | null }>();
  for (const line of tcpdumpText.split('\n')) {
    const s = parseSegment(line);
    if (!s) continue;
    if (s.flags === 'S' && s.tagged) {
      const client = `${s.src.ip}:${s.src.port}`;
      if (racing.get(client)?.synSeq === s.seq) continue; // a retransmitted SYN belongs to the same race
      const timeline: RaceTimeline = {
        key: `${client} -> ${s.dst.ip}:${s.dst.port}`,
        clientIp: s.src.ip,
        clientPort: s.src.port,
        serverIp: s.dst.ip,
        serverPort: s.dst.port,
        synAt: s.at,
        synPacket: line,
        answers: [],
        resets: [],
        winner: null,
        problems: [],
      };
      timelines.push(timeline);
      racing.set(client, { timeline, synSeq: s.seq });
    } else if (s.flags === 'S.') {
      const t = racing.get(`${s.dst.ip}:${s.dst.port}`)?.timeline;
      if (t) t.answers.push({ answerer: answererOf(s, t.serverIp), atMs: msSince(t.synAt, s.at), tunnelled: s.outer !== null, packet: line });
    } else if (s.flags === 'R') {
      const race = racing.get(`${s.src.ip}:${s.src.port}`);
      // The gateway's RST carries the answer's ack, SYN seq + 1 (P500); a client's own RST after data carries a later one.
      if (race && race.synSeq !== null && s.seq === (race.synSeq + 1) % 2 ** 32) {
        const t = race.timeline;
        t.resets.push({ to: resetTargetOf(s), atMs: msSince(t.synAt, s.at), tunnelled: s.outer !== null, packet: line });
      }
    }
  }
  timelines.forEach(judgeAgainstP500);
  return timelines;
}

/** Reads a pcap with tcpdump (the same reading a person would make of it) and parses its races. */
export async function readRaceTimelines(pcapPath: string): Promise<RaceTimeline[]> {
  const { stdout } = await promisify(execFile)('tcpdump', ['-nn', '-tt', '-r', pcapPath], { maxBuffer: 256 * 1024 * 1024 });
  return parseRaceTimelines(stdout);
}
