import { defaultPipeline } from '@attachkit/cli';
const p = defaultPipeline();
const req = () => ({ target: { name: 'attachkit-bench' }, command: ['true'], stdio: ['ignore','ignore','ignore'] });
for (let i = 0; i < 50; i++) await p.attach(req());
const a = [], b = [];
for (let i = 0; i < 1200; i++) {
  const useB = i % 2 === 1;
  if (useB) process.env.AK_SYNC = '1'; else delete process.env.AK_SYNC;
  const t = performance.now(); await p.attach(req()); (useB ? b : a).push(performance.now() - t);
}
const med = (xs) => { xs.sort((x,y)=>x-y); return `median ${xs[xs.length>>1].toFixed(3)} p25 ${xs[xs.length>>2].toFixed(3)}`; };
console.log('A (async):', med(a)); console.log('B (sync): ', med(b));
