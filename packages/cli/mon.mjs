import { LxcMonitor, realLibc } from '@attachkit/core';
const m = new LxcMonitor(realLibc(), '/var/lib/lxc', 'attachkit-bench');
for (let i = 0; i < 200; i++) m.state();
let t = performance.now(); for (let i = 0; i < 2000; i++) m.state(); console.log('GET_STATE us', ((performance.now() - t) / 2).toFixed(1));
t = performance.now(); for (let i = 0; i < 2000; i++) realLibc().close(m.initPidfd()); console.log('GET_INIT_PIDFD us', ((performance.now() - t) / 2).toFixed(1));
t = performance.now(); for (let i = 0; i < 1000; i++) { const c = m.cgroupContext(); for (const fd of c.fds) realLibc().close(fd); } console.log('GET_CGROUP_CTX us', ((performance.now() - t) / 1).toFixed(1));
