import { defaultPipeline } from '@attachkit/cli';
const p = defaultPipeline();
const req = () => ({ target: { name: 'attachkit-bench' }, command: ['true'], stdio: ['ignore','ignore','ignore'] });
const N = Number(process.argv[2] ?? 1000);
for (let i = 0; i < 100; i++) await p.attach(req());
const xs = []; const c0 = process.cpuUsage();
for (let i = 0; i < N; i++) { const t = performance.now(); await p.attach(req()); xs.push(performance.now() - t); }
const c = process.cpuUsage(c0);
xs.sort((a,b)=>a-b); const q = (f) => xs[Math.floor(N*f)].toFixed(3);
console.log(`p10 ${q(.1)} p25 ${q(.25)} median ${q(.5)} | node cpu/attach user ${(c.user/N/1000).toFixed(3)} sys ${(c.system/N/1000).toFixed(3)} ms`);
