import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { runWithFakeGpio, type FakeGpioChip, type FakeGpioEvent } from '../src/index';
import type { RelayStep, RelayStepResult, RelayStepsInput } from './support/relay-steps';

const RELAY_STEPS = join(__dirname, 'support', 'relay-steps.js');
const PI4_CHIPS: FakeGpioChip[] = [
  { base: 512, ngpio: 54, label: 'pinctrl-bcm2711' },
  { base: 566, ngpio: 8, label: 'raspberrypi-exp-gpio' },
];
// mtimes are taken from a coarse clock: allow one tick.
const CLOCK_TICK_MS = 5;

async function runRelay(input: RelayStepsInput, idleLevel: 0 | 1, chips = PI4_CHIPS): Promise<{ results: RelayStepResult[]; events: FakeGpioEvent[] }> {
  const { stdout, events } = await runWithFakeGpio(chips, idleLevel, RELAY_STEPS, [JSON.stringify(input)]);
  return { results: JSON.parse(stdout) as RelayStepResult[], events: events.filter((e) => e.event !== 'barrier') };
}

function valuesOf(results: RelayStepResult[], step: RelayStep): (boolean | undefined)[] {
  return results.filter((r) => JSON.stringify(r.step) === JSON.stringify(step)).map((r) => r.value);
}

function levels(events: FakeGpioEvent[]): { level: 0 | 1; at: number }[] {
  return events.flatMap((e) => (e.event === 'level' ? [{ level: e.level, at: e.at }] : []));
}

function errorsOf(results: RelayStepResult[]): string[] {
  return results.flatMap((r) => (r.error === undefined ? [] : [`${JSON.stringify(r.step)}: ${r.error}`]));
}

describe('relay power through onoff on a fake GPIO sysfs', function () {
  this.timeout(20_000);

  it('drives an active-low relay on BCM 17 as gpio529: low is on, off at export, cycle waits the settle time', async () => {
    const settleMs = 300;
    const { results, events } = await runRelay(
      { board: 'rep-iad', relay: { bcmPin: 17, activeLow: true }, steps: ['isOn', 'on', 'isOn', { cycle: settleMs }, 'isOn', 'off', 'isOn', 'close'] },
      1,
    );
    assert.deepEqual(errorsOf(results), []);
    assert.deepEqual(valuesOf(results, 'isOn'), [false, true, true, false]);
    assert.deepEqual(
      events.map((e) => e.event),
      ['export', 'direction', 'level', 'level', 'level', 'level', 'unexport'],
    );
    assert.ok(events.every((e) => !('gpio' in e) || e.gpio === 529), `only gpio529 is touched: ${JSON.stringify(events)}`);
    // "high" makes it an output already at the off level: no moment of "out" = low = relay closed.
    assert.deepEqual(events[1], { ...events[1], event: 'direction', written: 'high' });
    const [on, cycleOff, cycleOn, off] = levels(events);
    assert.deepEqual([on.level, cycleOff.level, cycleOn.level, off.level], [0, 1, 0, 1]);
    const gap = cycleOn.at - cycleOff.at;
    assert.ok(gap >= settleMs - CLOCK_TICK_MS && gap < settleMs + 250, `power was off for ${gap} ms, settle ${settleMs} ms`);
  });

  it('drives an active-high relay: high is on, low at export, and honours another settle time', async () => {
    const settleMs = 120;
    const { results, events } = await runRelay(
      { board: 'rep-fra', relay: { bcmPin: 4, activeLow: false }, steps: ['isOn', 'on', 'isOn', { cycle: settleMs }, 'off', 'isOn', 'close'] },
      0,
    );
    assert.deepEqual(errorsOf(results), []);
    assert.deepEqual(valuesOf(results, 'isOn'), [false, true, false]);
    const direction = events.find((e) => e.event === 'direction');
    assert.deepEqual(direction, { ...direction, gpio: 516, written: 'low' });
    const wire = levels(events);
    assert.deepEqual(wire.map((l) => l.level), [1, 0, 1, 0]);
    const gap = wire[2].at - wire[1].at;
    assert.ok(gap >= settleMs - CLOCK_TICK_MS && gap < settleMs + 250, `power was off for ${gap} ms, settle ${settleMs} ms`);
    assert.deepEqual(events.at(-1), { ...events.at(-1), event: 'unexport', gpio: 516 });
  });

  it('leaves a board powered when a new driver finds its line already driven', async () => {
    const { results, events } = await runRelay({ board: 'rep-iad', relay: { bcmPin: 17, activeLow: true }, steps: ['on', 'restart', 'isOn', 'off', 'close'] }, 1);
    assert.deepEqual(errorsOf(results), []);
    assert.deepEqual(valuesOf(results, 'isOn'), [true]);
    // The second driver neither exported again nor rewrote the direction (which would have switched it off).
    assert.deepEqual(
      events.map((e) => e.event),
      ['export', 'direction', 'level', 'level', 'unexport'],
    );
    assert.deepEqual(levels(events).map((l) => l.level), [0, 1]);
  });

  it('resets a line that another tool exported inverted, so value is the wire level', async () => {
    const { results, events } = await runRelay(
      {
        board: 'rep-iad',
        relay: { bcmPin: 17, activeLow: true },
        steps: [{ sysfs: ['export', '529'] }, { sysfs: ['gpio529/active_low', '1'] }, 'isOn', 'on', 'isOn', 'off', 'isOn', 'close'],
      },
      1,
    );
    assert.deepEqual(errorsOf(results), []);
    // The first isOn opens the line; what it reads races the fake's reaction
    // to the new active_low (the kernel's is immediate), so it is not judged.
    assert.deepEqual(valuesOf(results, 'isOn').slice(1), [true, false]);
    assert.deepEqual(
      events.flatMap((e) => (e.event === 'active_low' ? [e.written] : [])),
      ['1', '0'],
    );
    assert.deepEqual(levels(events).map((l) => l.level), [0, 1]);
  });

  it('names the board and pin, and exports nothing, when the kernel has no Pi GPIO chip', async () => {
    const { results, events } = await runRelay(
      { board: 'rep-sin', relay: { bcmPin: 17, activeLow: true }, steps: ['on', 'isOn'] },
      1,
      [{ base: 566, ngpio: 8, label: 'raspberrypi-exp-gpio' }],
    );
    assert.equal(results.length, 2);
    for (const result of results) {
      assert.match(result.error ?? '', /^power relay of rep-sin \(BCM 17\): cannot find its GPIO line: no Raspberry Pi GPIO chip .*found: gpiochip566 "raspberrypi-exp-gpio"/);
    }
    assert.deepEqual(events, []);
  });
});
