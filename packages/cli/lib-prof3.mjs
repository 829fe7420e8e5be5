import { defaultPipeline } from '@attachkit/cli';
const acc = new Map(); let last;
globalThis.__T = (k) => { const t = performance.now(); if (__on) acc.set(k, (acc.get(k) ?? 0) + (t - last)); last = t; };
let __on = false;
const p = defaultPipeline();
const req = () => ({ target: { name: 'attachkit-bench' }, command: ['true'], stdio: ['ignore','ignore','ignore'] });
const N = 500;
for (let i = 0; i < 50; i++) await p.attach(req());
__on = true;
let tot = 0;
for (let i = 0; i < N; i++) { const t = performance.now(); last = t; await p.attach(req()); const e = performance.now(); acc.set('exit', (acc.get('exit') ?? 0) + e - last); tot += e - t; }
for (const [k, v] of acc) console.log((v / N).toFixed(3).padStart(7), k, );
console.log((tot / N).toFixed(3).padStart(7), 'total mean');
