// Child process of qemu-interrupted-merge.test.ts: deletes external snapshot `e1` of domain
// `vm` (a `qemu-img commit` of its overlay) so that the test can kill the process group in the
// middle of the merge. Usage: node --import tsx qemu-merge-child.ts URI
import { connect } from 'virtkit';

const [uri = ''] = process.argv.slice(2);
const conn = await connect(uri);
const dom = await conn.lookupDomainByName('vm');
await (await dom.lookupSnapshotByName('e1')).delete();
await conn.close();
process.stdout.write('completed\n');
