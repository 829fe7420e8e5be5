import { defaultPipeline } from '@attachkit/cli';
const p = defaultPipeline();
const req = () => ({ target: { name: 'attachkit-bench' }, command: ['true'], stdio: ['ignore','ignore','ignore'] });
for (let i = 0; i < 50; i++) await p.attach(req());
process.stderr.write('MARK\n');
for (let i = 0; i < 100; i++) await p.attach(req());
