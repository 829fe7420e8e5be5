import { defaultPipeline } from '@attachkit/cli';
import { realLibc } from '@attachkit/core';
const libc = realLibc();
const acc = new Map(); const add = (k, v) => acc.set(k, (acc.get(k) ?? 0) + v);
for (const m of ['spawn', 'pidfdOpen', 'socketpair', 'pipe', 'fcntl', 'pidfdSendSignal', 'close', 'socket','connect','sendmsg','recvmsg', 'write', 'open', 'openat2', 'syscall']) {
  if (!libc[m]) continue;
  const f = libc[m].bind(libc);
  libc[m] = (...a) => { const t = performance.now(); try { return f(...a); } finally { add('libc.' + m, performance.now() - t); } };
}
const p = defaultPipeline();
const req = () => ({ target: { name: 'attachkit-bench' }, command: ['true'], stdio: ['ignore','ignore','ignore'] });
const N = 500;
for (let i = 0; i < 50; i++) await p.attach(req());
acc.clear();
let tot = 0;
for (let i = 0; i < N; i++) { const t = performance.now(); await p.attach(req()); tot += performance.now() - t; }
for (const [k, v] of [...acc].sort((a,b)=>b[1]-a[1])) console.log((v / N).toFixed(3).padStart(7), k, );
console.log((tot / N).toFixed(3).padStart(7), 'total mean');
