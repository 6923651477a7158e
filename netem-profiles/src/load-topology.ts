import { validateAgainstSchema } from './schema-validation';
import type { Topology } from './topology';
import { checkTopologyRules } from './topology-rules';
import { YamlDocument } from './yaml-document';

/** Parses, schema-checks and rule-checks a topology file; throws ConfigError. */
export function loadTopology(file: string): Topology {
  const doc = YamlDocument.read(file);
  validateAgainstSchema(doc, 'topology');
  const topology: Topology = { ...(doc.data as Omit<Topology, 'source'>), source: file };
  checkTopologyRules(doc, topology);
  return topology;
}
