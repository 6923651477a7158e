export { useLab, leftoversOf, LIVE_LAB, describeOwnLabs, skipBecause } from './lab-fixture';
export { startCli, runCli, waitForStderr } from './cli';
