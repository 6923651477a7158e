/** Characters XML 1.0 cannot carry at all, even escaped (test output may hold ANSI escapes or NULs). */
const NOT_XML = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

/** Text or attribute value, safe inside any XML or HTML element or double-quoted attribute. */
export function escapeXml(text: string | number): string {
  return String(text)
    .replace(NOT_XML, '\uFFFD')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

type Attributes = Record<string, string | number | undefined>;

/**
 * One element; `children` are markup already (escape text with escapeXml). Always closed explicitly: a
 * self-closed `<td/>` would stay open in HTML. (HTML's void elements, like meta, are not built with it.)
 */
export function tag(name: string, attributes: Attributes = {}, ...children: string[]): string {
  const attrs = Object.entries(attributes)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${escapeXml(v!)}"`)
    .join('');
  return `<${name}${attrs}>${children.join('')}</${name}>`;
}
