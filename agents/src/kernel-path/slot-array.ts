// A classifier's state map as its agent sees it: an array of u64 slots, some switches the agent sets
// (the classifier reads them per packet), the rest counts the classifier keeps (the agent reads them per
// request). One value in flight at a time, so one key and one value buffer serve every call.
import { BpfMap } from '../io/bpf';

export class SlotArray {
  private readonly key = Buffer.alloc(4);
  private readonly value = Buffer.alloc(8);

  private constructor(private readonly map: BpfMap) {}

  static create(name: string, slotCount: number): SlotArray {
    return new SlotArray(BpfMap.create('array', name, 4, 8, slotCount));
  }

  /** For the program that uses the map. */
  get fd(): number {
    return this.map.fd;
  }

  read(slot: number): number {
    this.key.writeUInt32LE(slot);
    return this.map.lookup(this.key, this.value) ? Number(this.value.readBigUInt64LE(0)) : 0;
  }

  write(slot: number, value: bigint): void {
    this.key.writeUInt32LE(slot);
    this.value.writeBigUInt64LE(value);
    this.map.update(this.key, this.value);
  }

  close(): void {
    this.map.close();
  }
}
