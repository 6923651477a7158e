import assert from 'node:assert/strict';
import { compileTcTree, loadProfile, loadTopology, oneWayDelay, renderTcScript, shippedProfilePath, shippedTopologyPath } from '@synrace/netem-profiles';
import { calibratedProfile, calibrationFrom, describeCalibration } from '../src/delays/calibration';
import type { RttSample } from '../src/delays/rtt';

const topology = loadTopology(shippedTopologyPath('atlantic'));
const profile = loadProfile(shippedProfilePath('atlantic'), topology);
/** A client's pings to a site: the fastest given, the median 3 ms slower. */
const sample = (to: string, floorMs: number | null): RttSample => {
  const expectedMs = oneWayDelay(profile, 'newyork', to) + oneWayDelay(profile, to, 'newyork');
  return { from: 'newyork', to, target: 'x', expectedMs, minMs: floorMs, medianMs: floorMs === null ? null : floorMs + 3, statistic: 'median', received: 20, sent: 20 };
};

describe('kernel netem calibration', () => {
  it("takes each fastest round trip's excess over the profile off its two directions, half each, to a tenth of a millisecond", () => {
    // atlantic from New York: London 100 ms, Ashburn 10 ms, Toronto 120 ms round trips.
    const calibration = calibrationFrom([sample('london', 105.4), sample('ashburn', 14.66), sample('toronto', 119.2)], 20, new Date(0));
    const offset = (from: string, to: string) => calibration.paths.find((p) => p.from === from && p.to === to)?.offsetMs;
    assert.equal(offset('newyork', 'london'), 2.7);
    assert.equal(offset('london', 'newyork'), 2.7);
    assert.equal(offset('ashburn', 'newyork'), 2.3);
    assert.equal(offset('newyork', 'toronto'), 0, 'a path already under the profile is left as it is, never lengthened');
    assert.equal(offset('london', 'ashburn'), undefined, 'no client pings between two server sites');

    const set = calibratedProfile(profile, calibration);
    assert.equal(oneWayDelay(set, 'newyork', 'london'), 47.3);
    assert.equal(oneWayDelay(set, 'ashburn', 'newyork'), 2.7);
    assert.equal(oneWayDelay(set, 'london', 'ashburn'), oneWayDelay(profile, 'london', 'ashburn'));
    assert.equal(oneWayDelay(profile, 'newyork', 'london'), 50, 'the profile itself is untouched');
    assert.match(renderTcScript(compileTcTree(topology, set, 'nyc-gw', { netem: true })), /delay 47\.3ms/);
    assert.match(describeCalibration(calibration), /^netem delays shortened .* 1970-01-01T00:00:00\.000Z \(fastest of 20 pings per path\): newyork->london -2\.7 ms/);
  });

  it('never sets a delay below zero, and changes nothing without a calibration', () => {
    const calibration = calibrationFrom([sample('ashburn', 40)], 20);
    assert.equal(oneWayDelay(calibratedProfile(profile, calibration), 'newyork', 'ashburn'), 0);
    assert.equal(calibratedProfile(profile, undefined), profile);
    const precise = { ...profile, paths: profile.paths.map((p) => ({ ...p, delayMs: p.delayMs + 0.04 })) };
    const set = calibratedProfile(precise, calibrationFrom([sample('ashburn', 14)], 20));
    assert.equal(oneWayDelay(set, 'newyork', 'london'), 50.04, 'a path without an offset keeps its delay to the last digit');
  });

  it('refuses to calibrate a path that did not answer, naming it', () => {
    assert.throws(() => calibrationFrom([sample('toronto', null)], 20), /no answer from toronto \(x\) to newyork's pings/);
  });
});
