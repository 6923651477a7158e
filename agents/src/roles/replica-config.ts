import { ConfigError } from '../config-error';
import { address, addressList, arrayAt, nonEmptyAddressList, numberIn, objectAt, oneOf, optionalBoolean, prefixList, type AddressPrefix } from '../config-fields';
import { CONFIGURATIONS, type Configuration } from './client-gateway-config';

export interface ReplicaConfig {
  /** The replica's own address: outer destination of the copies, and in configuration A the address it answers from. */
  ownAddress: number;
  /** Origin servers whose content this replica holds. */
  serverAddresses: number[];
  configuration: Configuration;
  /** P400: above this 1-minute load average the replica drops start packets, as when forced busy. */
  busyLoad: number;
  /** The server switches' addresses: start packets are believed only inside IPIP from one of these. */
  switchAddresses: number[];
  /**
   * B and C: client gateways that tunnel cached start packets here (issue #14): one is believed only from
   * the gateway's address and only for a client inside its prefixes. A has none: its cached SYNs come
   * addressed to the replica, plain.
   */
  gateways: { address: number; clients: AddressPrefix[] }[];
  /** C: the tunnel's ends in the kernel (tcx classifiers) where it can; A and B keep their packets in the agent. */
  kernelPath: boolean;
}

/** The role's part of the board config file, as the orchestrator writes it (addresses dotted). */
export interface ReplicaConfigFile extends Omit<ReplicaConfig, 'ownAddress' | 'serverAddresses' | 'switchAddresses' | 'gateways' | 'kernelPath'> {
  kernelPath?: boolean;
  ownAddress: string;
  serverAddresses: string[];
  switchAddresses: string[];
  gateways?: { address: string; clients: string[] }[];
}

export function parseReplicaConfig(raw: unknown, where = 'replica'): ReplicaConfig {
  const obj = objectAt(raw, where);
  const configuration = oneOf(obj, 'configuration', where, CONFIGURATIONS);
  const gateways = obj.gateways === undefined ? [] : arrayAt(obj, 'gateways', where).map((g: unknown, i) => {
    const at = `${where}.gateways[${i}]`;
    const gateway = objectAt(g, at);
    return { address: address(gateway, 'address', at), clients: prefixList(gateway, 'clients', at) };
  });
  if (configuration === 'A' && gateways.length > 0) throw new ConfigError(`${where}.gateways is for configurations B and C: in A a cached start packet comes addressed to the replica, not tunnelled`);
  return {
    ownAddress: address(obj, 'ownAddress', where),
    serverAddresses: addressList(obj, 'serverAddresses', where),
    configuration,
    busyLoad: numberIn(obj, 'busyLoad', where, 0, Infinity, true),
    switchAddresses: nonEmptyAddressList(obj, 'switchAddresses', where),
    gateways,
    kernelPath: optionalBoolean(obj, 'kernelPath', where, false),
  };
}
