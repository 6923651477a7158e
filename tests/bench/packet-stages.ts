import type { PacketStages } from '@synrace/agents/bench';
import { renderTable } from '@synrace/orchestrator';
import { agentBenchmarkSection } from './agent-benchmark';

function render(r: PacketStages): string {
  const us = (x: number): string => x.toFixed(3);
  return [
    'mean per packet for the in-process stages (1,000,000 packets) and the raw send (100,000 sends across a veth and a bridge);',
    'wake-up: kernel receive timestamp to the packet socket callback, for packets 20 ms apart, so the process is idle before each;',
    'in C: the same packets received by a C program on the same kind of socket, what the machine charges any idle process',
    '',
    renderTable(['stage', 'us per packet'], [
      ['parse (IPv4 + TCP headers of a full segment)', us(r.parseUs)],
      ['table (client-side lookup, 10,000 entries)', us(r.tableUs)],
      ['checksum update (address rewrite, IPv4 and TCP)', us(r.checksumUs)],
      ['send (raw socket, 1,500 bytes)', us(r.sendUs)],
      ['wake-up, median', us(r.wakeMedianUs)],
      ['wake-up, p99', us(r.wakeP99Us)],
      ['wake-up, max', us(r.wakeMaxUs)],
      ['wake-up in C, median', us(r.floorWakeMedianUs)],
      ['wake-up in C, p99', us(r.floorWakeP99Us)],
      ['wake-up in C, max', us(r.floorWakeMaxUs)],
    ]),
  ].join('\n');
}

export const packetStages = agentBenchmarkSection<PacketStages>('stages', 'packet-stages', "An agent's per-packet cost, stage by stage", 'parse, table, checksum update, send, wake-up', render);
