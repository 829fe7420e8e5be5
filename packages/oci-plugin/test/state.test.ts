import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { findContainer, OciStateError } from '../src/index.js';

describe('finding an OCI container in its runtime state', () => {
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'attachkit-oci-state-'));
    const runc = (id: string, state: object) => {
      mkdirSync(join(root, id));
      writeFileSync(join(root, id, 'state.json'), JSON.stringify(state), { mode: 0o600 });
    };
    runc('3f2a9c0d1e', { init_process_pid: 4242, init_process_start: 777, config: { labels: ['bundle=/b/one'] } });
    runc('3f2a11aa22', { init_process_pid: 4343, init_process_start: 778, config: { labels: ['bundle=/b/two'] } });
    runc('nobundle', { init_process_pid: 1, init_process_start: 2, config: { labels: [] } });
    runc('badjson', {});
    writeFileSync(join(root, 'badjson', 'state.json'), '{not json');
    runc('loose', { init_process_pid: 1, init_process_start: 2, config: { labels: ['bundle=/b'] } });
    chmodSync(join(root, 'loose', 'state.json'), 0o666);
    mkdirSync(join(root, 'crunny'));
    writeFileSync(join(root, 'crunny', 'status'), JSON.stringify({ pid: 99, 'process-start-time': 5, bundle: '/b/crun' }));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  const fails = (id: string, message: RegExp) => assert.throws(() => findContainer(id, root), (err: Error) => err instanceof OciStateError && message.test(err.message));

  it('should find a container by id or unique prefix, in runc\'s and crun\'s state', () => {
    assert.deepEqual(findContainer('3f2a9c', root), {
      id: '3f2a9c0d1e', root: { dir: root, owner: 'the root given' }, runtime: 'runc', bundle: '/b/one', configFile: '/b/one/config.json', pid: 4242, startTime: 777,
    });
    assert.equal(findContainer('3f2a11aa22', root).pid, 4343);
    const crun = findContainer('crunny', root);
    assert.deepEqual([crun.runtime, crun.pid, crun.startTime, crun.configFile], ['crun', 99, 5, '/b/crun/config.json']);
  });

  it('should refuse an ambiguous or unknown id, a state without bundle, bad JSON, a loosely owned file, a bad id', () => {
    fails('3f2a', /^container id '3f2a' is ambiguous: 3f2a11aa22 .*, 3f2a9c0d1e /);
    fails('nothere', /^no OCI container 'nothere' \(looked in /);
    fails('nobundle', /names no bundle/);
    fails('badjson', /state of container 'badjson'.*JSON/);
    fails('loose', /writable by group or others \(mode 666\): not trusted/);
    fails('../etc', /is not a container id/);
  });
});
