/**
 * A skip that says why: the reason goes into the test's title, which is what its TAP line shows, and the
 * project's test runner fails every skip that gives none.
 */
export function skipBecause(context: Mocha.Context, reason: string): never {
  const test = context.currentTest ?? context.test;
  if (test) test.title += ` (skipped: ${reason})`;
  context.skip();
}
