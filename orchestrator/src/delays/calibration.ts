import type { DelayProfile } from '@synrace/netem-profiles';
import type { RttSample } from './rtt';

/**
 * What a lab's own boards add to a directed path on top of its netem delay at the least, measured once the lab is
 * up: the fastest round trip a client host sees, less the profile's, split evenly between the two directions.
 * Boards emulated under TCG spend about a millisecond on every packet they forward; a real Pi spends a fraction
 * of that. The netem delays are set that much shorter. What a busy host adds on top of that floor varies from
 * one round trip to the next and stays in (docs/decisions.md).
 */
export interface DelayCalibration {
  /** One entry per directed path that was measured, never negative. */
  paths: { from: string; to: string; offsetMs: number }[];
  /** When it was measured, and from how many round trips per path. */
  measuredAt: string;
  pings: number;
}

/** netem takes fractions of a millisecond, but tc shows a tenth: the delays set are the ones `tc -s qdisc` shows. */
const roundToTenth = (ms: number): number => Math.round(ms * 10) / 10;

/** Each directed path's share of its round trip's floor over the profile. */
export function calibrationFrom(samples: RttSample[], pings: number, at = new Date()): DelayCalibration {
  const shares = new Map<string, { from: string; to: string; ms: number[] }>();
  const add = (from: string, to: string, ms: number) => {
    const key = `${from}->${to}`;
    if (!shares.has(key)) shares.set(key, { from, to, ms: [] });
    shares.get(key)!.ms.push(ms);
  };
  for (const s of samples) {
    if (s.minMs === null) throw new Error(`calibrating the delays: no answer from ${s.to} (${s.target}) to ${s.from}'s pings`);
    const half = Math.max(0, s.minMs - s.expectedMs) / 2;
    add(s.from, s.to, half);
    add(s.to, s.from, half);
  }
  const paths = [...shares.values()].map(({ from, to, ms }) => ({ from, to, offsetMs: roundToTenth(ms.reduce((a, b) => a + b, 0) / ms.length) }));
  return { paths, measuredAt: at.toISOString(), pings };
}

/** The profile with each calibrated path's delay shortened by its offset (never below zero). */
export function calibratedProfile(profile: DelayProfile, calibration: DelayCalibration | undefined): DelayProfile {
  if (!calibration) return profile;
  const offsetOf = (from: string, to: string) => calibration.paths.find((p) => p.from === from && p.to === to)?.offsetMs ?? 0;
  return {
    ...profile,
    paths: profile.paths.map((p) => {
      const offset = offsetOf(p.from, p.to);
      return offset > 0 ? { ...p, delayMs: roundToTenth(Math.max(0, p.delayMs - offset)) } : p;
    }),
  };
}

/** One line for progress and `netem show`: the offsets, largest first. */
export function describeCalibration(calibration: DelayCalibration): string {
  const shown = [...calibration.paths].sort((a, b) => b.offsetMs - a.offsetMs).map((p) => `${p.from}->${p.to} ${p.offsetMs > 0 ? '-' : ''}${p.offsetMs.toFixed(1)} ms`);
  return `netem delays shortened by what the boards add at the least, measured ${calibration.measuredAt} (fastest of ${calibration.pings} pings per path): ${shown.join(', ')}`;
}
