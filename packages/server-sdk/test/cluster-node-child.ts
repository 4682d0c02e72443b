/**
 * One cluster node in its own process, for cluster-registry.test.ts (which kills
 * it with SIGKILL). Usage: cluster-node-child.ts <redisUrl> <keyPrefix> <nodeId>.
 * Prints `{"ready": incarnation}` once registered, then lives until killed
 * (SIGTERM: leaves the cluster cleanly).
 */
import { NodeRegistry } from '@lectern/server-sdk/cluster';

const [url, keyPrefix, nodeId] = process.argv.slice(2);
if (!url || !keyPrefix || !nodeId) throw new Error('usage: cluster-node-child.ts <redisUrl> <keyPrefix> <nodeId>');
const registry = new NodeRegistry({ url, keyPrefix, nodeId, load: () => 0.5, meta: { pid: String(process.pid) } });
await registry.start();
process.stdout.write(`${JSON.stringify({ ready: registry.incarnation })}\n`);
process.once('SIGTERM', () => void registry.close().then(() => process.exit(0)));
