// Topology and delay-profile files written from code (the scale bench's generated labs, random geographies and
// random labs), in the shipped files' flow style, so that they load with loadTopology and loadProfile like any other.

export interface SiteYaml {
  name: string;
  city: string;
  lan?: string;
}

export interface BoardYaml {
  name: string;
  site: string;
  roles: string[];
  /** Flow mappings, e.g. `{ name: wan0, network: wan, address: 10.255.0.10/24 }`. */
  interfaces: string[];
}

export interface DirectedDelay {
  from: string;
  to: string;
  delayMs: number;
}

/** A topology file on the management and WAN subnets of the shipped labs (a lab that finds them taken picks others). */
export function renderTopologyYaml(name: string, comment: string, sites: SiteYaml[], boards: BoardYaml[]): string {
  // The city is quoted: generated ones carry commas.
  const site = (s: SiteYaml) => `  - { name: ${s.name}, city: ${JSON.stringify(s.city)}${s.lan ? `, lan: ${s.lan}` : ''} }`;
  const board = (b: BoardYaml) => [`  - name: ${b.name}`, `    site: ${b.site}`, `    roles: [${b.roles.join(', ')}]`, '    interfaces:', ...b.interfaces.map((i) => `      - ${i}`)].join('\n');
  return [`# ${comment}`, `name: ${name}`, 'management:', '  subnet: 10.250.0.0/24', 'wan:', '  subnet: 10.255.0.0/24', '', 'sites:', ...sites.map(site), '', 'boards:', ...boards.map(board), ''].join('\n');
}

/** A profile of directed paths with the shipped profiles' jitter (0.2 ms) and no loss. */
export function renderProfileYaml(profile: { name: string; topology: string; comment: string; description: string; paths: DirectedDelay[] }): string {
  return [
    `# ${profile.comment}`,
    `name: ${profile.name}`,
    `topology: ${profile.topology}`,
    `description: ${JSON.stringify(profile.description)}`,
    'defaults:',
    '  jitterMs: 0.2',
    '  lossPct: 0',
    'paths:',
    ...profile.paths.map((p) => `  - { from: ${p.from}, to: ${p.to}, delayMs: ${p.delayMs} }`),
    '',
  ].join('\n');
}
