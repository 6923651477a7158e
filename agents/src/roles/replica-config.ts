import { address, addressList, nonEmptyAddressList, numberIn, objectAt, oneOf } from '../config-fields';
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
}

/** The role's part of the board config file, as the orchestrator writes it (addresses dotted). */
export interface ReplicaConfigFile extends Omit<ReplicaConfig, 'ownAddress' | 'serverAddresses' | 'switchAddresses'> {
  ownAddress: string;
  serverAddresses: string[];
  switchAddresses: string[];
}

export function parseReplicaConfig(raw: unknown, where = 'replica'): ReplicaConfig {
  const obj = objectAt(raw, where);
  return {
    ownAddress: address(obj, 'ownAddress', where),
    serverAddresses: addressList(obj, 'serverAddresses', where),
    configuration: oneOf(obj, 'configuration', where, CONFIGURATIONS),
    busyLoad: numberIn(obj, 'busyLoad', where, 0, Infinity, true),
    switchAddresses: nonEmptyAddressList(obj, 'switchAddresses', where),
  };
}
