export { useLab, leftoversOf, LIVE_LAB, describeOwnLabs } from './lab-fixture';
export { startCli, runCli, waitForStderr, SYNRACE_JS } from './cli';
