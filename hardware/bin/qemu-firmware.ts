#!/usr/bin/env node
// A QEMU board's firmware process (see src/vm/qemu-firmware.ts): `qemu-firmware <state dir>/firmware.json`.
// Started detached by QemuMachine.powerOn; its output is the board's firmware.log.
import { readFileSync } from 'node:fs';
import { runFirmware, writeFirmwarePid, type FirmwareConfig } from '../src/vm/qemu-firmware';

const config = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8')) as FirmwareConfig;
const log = (line: string) => process.stdout.write(`${new Date().toISOString()} firmware ${config.machine.name}: ${line}\n`);
writeFirmwarePid(config.machine.stateDir);
runFirmware(config, log).then(
  (code) => process.exit(code),
  (err: Error) => {
    log(`failed: ${err.stack ?? err.message}`);
    process.exit(1);
  },
);
