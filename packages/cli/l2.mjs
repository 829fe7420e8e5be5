import { defaultPipeline } from '@attachkit/cli';
const p = defaultPipeline();
const req = () => ({ target: { name: 'attachkit-bench' }, command: ['true'], stdio: ['ignore','ignore','ignore'] });
for (let i = 0; i < 50; i++) await p.attach(req());
const xs = [];
for (let i = 0; i < 500; i++) { const t = performance.now(); await p.attach(req()); xs.push(performance.now() - t); }
const h = new Map(); for (const x of xs) { const b = Math.floor(x * 2) / 2; h.set(b, (h.get(b) ?? 0) + 1); }
console.log([...h].sort((a,b)=>a[0]-b[0]).map(([b,n])=>`${b.toFixed(1)}:${n}`).join(' '));
