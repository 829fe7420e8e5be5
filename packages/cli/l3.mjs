import { defaultPipeline } from '@attachkit/cli';
let cur, last;
globalThis.__T = (k) => { const t = performance.now(); if (cur) cur[k] = t - last; last = t; };
const p = defaultPipeline();
const req = () => ({ target: { name: 'attachkit-bench' }, command: ['true'], stdio: ['ignore','ignore','ignore'] });
for (let i = 0; i < 50; i++) await p.attach(req());
const all = [];
for (let i = 0; i < 500; i++) { cur = {}; const t = performance.now(); last = t; await p.attach(req()); const e = performance.now(); cur.exit = e - last; cur.total = e - t; all.push(cur); }
const avg = (xs) => { const o = {}; for (const x of xs) for (const k in x) o[k] = (o[k] ?? 0) + x[k] / xs.length; return Object.entries(o).map(([k,v]) => `${k}=${v.toFixed(2)}`).join(' '); };
all.sort((a,b)=>a.total-b.total);
console.log('fast half:', avg(all.slice(0, 250)));
console.log('slow 20% :', avg(all.slice(400)));
