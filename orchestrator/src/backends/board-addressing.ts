import { addressOf, boardsAt, formatAddress, interfaceOn, isRouter, networkOf, parsePrefix, type Board, type Topology } from '@synrace/netem-profiles';

// Where a lab that makes its own boards puts them: management addresses and the routes between sites.
// The namespace and VM backends share it, so a topology's boards are addressed alike on either.

export interface Route { to: string; via: string }

/** Host .1 owns the management bridge; boards follow from .10 in topology order. */
export function mgmtAddresses(subnet: string, count: number): { host: string; boards: string[]; length: number } {
  const prefix = parsePrefix(subnet);
  if (!prefix) throw new Error(`management subnet ${subnet} is not an IPv4 prefix`);
  const base = networkOf(prefix);
  if (count + 10 >= 2 ** (32 - prefix.length)) throw new Error(`management subnet ${subnet} is too small for ${count} boards`);
  return { host: formatAddress(base + 1), boards: Array.from({ length: count }, (_, i) => formatAddress(base + 10 + i)), length: prefix.length };
}

/** A WAN board's routes to the other sites' LANs, via each site's router; a LAN-only board's default route. */
export function routesFor(topology: Topology, board: Board): Route[] {
  const lan = interfaceOn(board, 'lan');
  const wan = interfaceOn(board, 'wan');
  if (!wan) return lan?.gateway ? [{ to: 'default', via: lan.gateway }] : [];
  const routes: Route[] = [];
  for (const site of topology.sites) {
    if (!site.lan) continue;
    const router = boardsAt(topology, site.name).find(isRouter);
    if (!router || router.name === board.name) continue;
    const via = interfaceOn(router, 'wan');
    if (via) routes.push({ to: site.lan, via: addressOf(via.address) });
  }
  return routes;
}
