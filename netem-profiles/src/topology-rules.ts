import { addressOf, contains, formatAddress, networkOf, overlaps, parseAddress, parsePrefix, type Prefix } from './ipv4';
import type { Board, Role, Topology } from './topology';
import { boardsAt, boardsWithRole, findSite, interfaceOn, isRouter } from './topology-queries';
import type { DataPath, YamlDocument } from './yaml-document';

/** Board names become hostnames and network-namespace suffixes (IFNAMSIZ-bound). */
export const BOARD_NAME = /^[a-z][a-z0-9-]{0,14}$/;

/**
 * The rules JSON Schema cannot express. Throws a ConfigError at the first
 * violation, located at the field a user has to change.
 */
export function checkTopologyRules(doc: YamlDocument, topology: Topology): void {
  const subnets = checkSubnets(doc, topology);
  checkUniqueNames(doc, topology.sites.map((s) => s.name), 'sites', 'site');
  checkBoardNames(doc, topology);
  topology.boards.forEach((board, b) => checkBoard(doc, topology, subnets, board, b));
  checkDuplicateAddresses(doc, topology);
  checkRouters(doc, topology);
  checkRoles(doc, topology);
}

/** Subnet prefixes by the CIDR text they were written as. */
type Subnets = Map<string, Prefix>;

function checkSubnets(doc: YamlDocument, topology: Topology): Subnets {
  const declared: { path: DataPath; cidr: string }[] = [
    { path: ['management', 'subnet'], cidr: topology.management.subnet },
    { path: ['wan', 'subnet'], cidr: topology.wan.subnet },
    ...topology.sites.flatMap((s, i) => (s.lan ? [{ path: ['sites', i, 'lan'], cidr: s.lan }] : [])),
  ];
  const subnets: Subnets = new Map();
  const seen: { path: DataPath; prefix: Prefix }[] = [];
  for (const { path, cidr } of declared) {
    const prefix = parsePrefix(cidr);
    if (!prefix) throw doc.error(path, `"${cidr}" is not a valid IPv4 prefix`);
    if (networkOf(prefix) !== prefix.address) {
      throw doc.error(path, `"${cidr}" has host bits set (did you mean ${formatAddress(networkOf(prefix))}/${prefix.length}?)`);
    }
    const clash = seen.find((s) => overlaps(s.prefix, prefix));
    if (clash) throw doc.error(path, `${cidr} overlaps ${subnetAt(topology, clash.path)}`);
    seen.push({ path, prefix });
    subnets.set(cidr, prefix);
  }
  return subnets;
}

function subnetAt(topology: Topology, path: DataPath): string {
  if (path[0] === 'sites') return `the lan of site "${topology.sites[path[1] as number].name}"`;
  return `the ${path[0]} subnet`;
}

function checkUniqueNames(doc: YamlDocument, names: string[], listPath: string, what: string): void {
  names.forEach((name, i) => {
    if (names.indexOf(name) !== i) throw doc.error([listPath, i, 'name'], `duplicate ${what} name "${name}"`);
  });
}

function checkBoardNames(doc: YamlDocument, topology: Topology): void {
  topology.boards.forEach((board, b) => {
    if (!BOARD_NAME.test(board.name)) {
      throw doc.error(
        ['boards', b, 'name'],
        `"${board.name}" must match ${BOARD_NAME} (it becomes a hostname and a namespace suffix)`,
      );
    }
  });
  checkUniqueNames(doc, topology.boards.map((b) => b.name), 'boards', 'board');
}

function checkBoard(doc: YamlDocument, topology: Topology, subnets: Subnets, board: Board, b: number): void {
  const site = findSite(topology, board.site);
  if (!site) {
    const known = topology.sites.map((s) => s.name).join(', ');
    throw doc.error(['boards', b, 'site'], `unknown site "${board.site}" (sites: ${known})`);
  }
  const lanOnly = interfaceOn(board, 'wan') === undefined;
  board.interfaces.forEach((iface, i) => {
    const at = (field: string): DataPath => ['boards', b, 'interfaces', i, field];
    if (board.interfaces.findIndex((other) => other.name === iface.name) !== i) {
      throw doc.error(at('name'), `duplicate interface name "${iface.name}" on board "${board.name}"`);
    }
    if (board.interfaces.findIndex((other) => other.network === iface.network) !== i) {
      throw doc.error(at('network'), `board "${board.name}" already has a ${iface.network} interface`);
    }
    const subnetCidr = iface.network === 'wan' ? topology.wan.subnet : site.lan;
    if (!subnetCidr) throw doc.error(at('network'), `site "${site.name}" has no lan`);
    const subnet = subnets.get(subnetCidr)!;
    const where = iface.network === 'wan' ? 'the wan subnet' : `the lan of site "${site.name}"`;
    const prefix = parsePrefix(iface.address);
    if (!prefix) throw doc.error(at('address'), `"${iface.address}" is not a valid IPv4 address/prefix`);
    if (!contains(subnet, prefix.address) || prefix.length !== subnet.length) {
      throw doc.error(at('address'), `${iface.address} is not inside ${where} ${subnetCidr}`);
    }
    if (iface.gateway !== undefined) {
      if (!lanOnly) throw doc.error(at('gateway'), 'only lan-only boards take a gateway; this board has a wan interface');
      const gateway = parseAddress(iface.gateway);
      if (gateway === undefined || !contains(subnet, gateway)) {
        throw doc.error(at('gateway'), `${iface.gateway} is not inside ${where} ${subnetCidr}`);
      }
    }
  });
  if (lanOnly && interfaceOn(board, 'lan')?.gateway === undefined) {
    const lan = board.interfaces.findIndex((i) => i.network === 'lan');
    throw doc.error(['boards', b, 'interfaces', lan], 'a lan-only board needs a gateway (its default route)');
  }
}

function checkDuplicateAddresses(doc: YamlDocument, topology: Topology): void {
  const owners = new Map<string, string>();
  topology.boards.forEach((board, b) =>
    board.interfaces.forEach((iface, i) => {
      const address = addressOf(iface.address);
      const owner = owners.get(address);
      if (owner) throw doc.error(['boards', b, 'interfaces', i, 'address'], `${address} is already used by ${owner}`);
      owners.set(address, `${board.name} ${iface.name}`);
    }),
  );
}

/** Each LAN needs exactly one way out, and hosts must point their default route at it. */
function checkRouters(doc: YamlDocument, topology: Topology): void {
  topology.sites.forEach((site, s) => {
    if (!site.lan) return;
    const routers = boardsAt(topology, site.name).filter(isRouter);
    if (routers.length !== 1) {
      const found = routers.length === 0 ? 'none' : routers.map((r) => r.name).join(', ');
      throw doc.error(['sites', s], `site "${site.name}" has a lan, so it needs exactly one router board (lan + wan interfaces); found ${found}`);
    }
    const routerAddress = addressOf(interfaceOn(routers[0], 'lan')!.address);
    topology.boards.forEach((board, b) => {
      if (board.site !== site.name) return;
      const i = board.interfaces.findIndex((iface) => iface.gateway !== undefined);
      if (i >= 0 && board.interfaces[i].gateway !== routerAddress) {
        throw doc.error(['boards', b, 'interfaces', i, 'gateway'], `must be ${routerAddress}, the lan address of router "${routers[0].name}"`);
      }
    });
  });
}

function checkRoles(doc: YamlDocument, topology: Topology): void {
  const only = (role: Role): Board => {
    const boards = boardsWithRole(topology, role);
    if (boards.length !== 1) {
      const found = boards.length === 0 ? 'none' : boards.map((b) => b.name).join(', ');
      throw doc.error(['boards'], `exactly one board must have role ${role}; found ${found}`);
    }
    return boards[0];
  };
  const boardPath = (board: Board): DataPath => ['boards', topology.boards.indexOf(board), 'roles'];
  const server = only('server-switch');
  const origin = only('origin-server');
  if (origin.site !== server.site) {
    throw doc.error(boardPath(origin), `origin-server "${origin.name}" must be on the site of server-switch "${server.name}" (${server.site})`);
  }
  if (!interfaceOn(server, 'wan')) throw doc.error(boardPath(server), 'a server-switch needs a wan interface');
  if (boardsWithRole(topology, 'replica').length === 0) throw doc.error(['boards'], 'a race needs at least one replica board');
  for (const gateway of boardsWithRole(topology, 'client-gateway')) {
    if (!isRouter(gateway)) throw doc.error(boardPath(gateway), `client-gateway "${gateway.name}" must be its site's router (lan + wan)`);
    if (!boardsAt(topology, gateway.site).some((b) => b.roles.includes('client-host'))) {
      throw doc.error(boardPath(gateway), `site "${gateway.site}" has a client-gateway but no client-host`);
    }
  }
  for (const rogue of boardsWithRole(topology, 'rogue')) {
    if (rogue.roles.length !== 1) throw doc.error(boardPath(rogue), `a rogue board plays no other role ("${rogue.name}" has ${rogue.roles.join(', ')})`);
    if (!interfaceOn(rogue, 'wan')) throw doc.error(boardPath(rogue), `rogue "${rogue.name}" needs a wan interface to attack from`);
  }
  for (const host of boardsWithRole(topology, 'client-host')) {
    if (!boardsAt(topology, host.site).some((b) => b.roles.includes('client-gateway'))) {
      throw doc.error(boardPath(host), `client-host "${host.name}" is on site "${host.site}", which has no client-gateway`);
    }
  }
}
