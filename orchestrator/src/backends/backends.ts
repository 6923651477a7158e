import type { LabInputs } from '../inputs/lab-inputs';
import type { BackendKind } from '../labs/lab-state';
import type { RunDir } from '../labs/run-dir';
import { HardwareBackend } from './hardware/hardware-backend';
import type { LabBackend } from './lab-backend';
import { NamespaceBackend } from './namespace/namespace-backend';
import { VmBackend } from './vm/vm-backend';

/** The backend a lab of this kind runs on, over its inputs. */
export function backendFor(kind: BackendKind, runDir: RunDir, inputs: LabInputs): LabBackend {
  switch (kind) {
    case 'namespace':
      return new NamespaceBackend(runDir, inputs);
    case 'vm':
      return new VmBackend(runDir);
    case 'hardware':
      return new HardwareBackend(runDir, inputs);
  }
}
