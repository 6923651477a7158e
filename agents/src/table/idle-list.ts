// A doubly linked list of entries ordered by last activity. Touching moves an
// entry to the tail, so the head is always the idlest: expiry and eviction
// look at heads only, never at the whole table.
import type { TableEntry } from './table-entry';

export class IdleList {
  head: TableEntry | null = null;
  private tail: TableEntry | null = null;

  append(entry: TableEntry): void {
    entry.prev = this.tail;
    entry.next = null;
    if (this.tail) this.tail.next = entry;
    else this.head = entry;
    this.tail = entry;
  }

  remove(entry: TableEntry): void {
    if (entry.prev) entry.prev.next = entry.next;
    else this.head = entry.next;
    if (entry.next) entry.next.prev = entry.prev;
    else this.tail = entry.prev;
    entry.prev = null;
    entry.next = null;
  }

  moveToTail(entry: TableEntry): void {
    if (this.tail === entry) return;
    this.remove(entry);
    this.append(entry);
  }

  *[Symbol.iterator](): IterableIterator<TableEntry> {
    for (let entry = this.head; entry; entry = entry.next) yield entry;
  }
}
