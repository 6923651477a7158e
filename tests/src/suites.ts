// The end-to-end suites `synrace test` runs against a live lab, registered with the orchestrator's runner
// when this module is loaded.
import { join } from 'node:path';
import { registerSuite } from '@synrace/orchestrator';

registerSuite({ name: 'lab', specFile: join(__dirname, '..', 'test', 'virtual-lab.test.js'), description: 'the lab itself: RTT matrix, SSH, consoles, power, tc trees' });
registerSuite({ name: 'protocol', specFile: join(__dirname, '..', 'test', 'protocol.test.js'), description: 'the SYN race in configurations A, B and C, and attacks from the rogue board' });
registerSuite({ name: 'winner-cache', specFile: join(__dirname, '..', 'test', 'winner-cache.test.js'), description: 'race once, remember the winner: cached connections, TTL, a powered-off cached winner, the bounded race' });
