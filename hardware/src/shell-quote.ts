/** One word for sh, whatever it contains: commands for boards' shells are built as text. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
