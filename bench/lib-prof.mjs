import { defaultPipeline } from '@attachkit/cli';
const p = defaultPipeline();
const req = () => ({ target: { name: 'attachkit-bench' }, command: ['true'], stdio: ['ignore','ignore','ignore'] });
const acc = new Map(); const add = (k, v) => acc.set(k, (acc.get(k) ?? 0) + v);
let mark;
for (const s of p.order()) {
  const plan = s.plan.bind(s);
  s.plan = async (c) => { const t = performance.now(); try { return await plan(c); } finally { add('plan ' + s.id, performance.now() - t); mark = performance.now(); } };
  if (s.atSyncPoint) { const a = s.atSyncPoint.bind(s); s.atSyncPoint = async (c, i) => { const t = performance.now(); add('launch→sync', t - mark); try { return await a(c, i); } finally { add('sync ' + s.id, performance.now() - t); mark = performance.now(); } }; }
}
const N = 500;
for (let i = 0; i < 50; i++) await p.attach(req());
acc.clear();
let tot = 0, spawned = 0;
for (let i = 0; i < N; i++) { const t = performance.now(); const sp = await p.spawn(req()); const t1 = performance.now(); add('sync→exec\'d', t1 - mark); await sp.exited; const t2 = performance.now(); add('exec\'d→exit', t2 - t1); tot += t2 - t; }
for (const [k, v] of acc) console.log((v / N).toFixed(3).padStart(7), k);
console.log((tot / N).toFixed(3).padStart(7), 'total mean');
