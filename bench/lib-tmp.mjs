import { defaultPipeline } from '@attachkit/cli';
const p = defaultPipeline();
const req = () => ({ target: { name: 'attachkit-bench' }, command: ['true'], stdio: ['ignore','ignore','ignore'] });
const N = Number(process.argv[2] ?? 300);
for (let i = 0; i < 50; i++) await p.attach(req());
const xs = [];
for (let i = 0; i < N; i++) { const t = performance.now(); await p.attach(req()); xs.push(performance.now() - t); }
xs.sort((a,b)=>a-b); console.log('median', xs[N>>1].toFixed(3), 'p10', xs[N/10|0].toFixed(3), 'p90', xs[N*0.9|0].toFixed(3));
