import { join } from 'node:path';

/** A directory where an OCI runtime keeps one subdirectory of state per container. */
export interface StateRoot {
  readonly dir: string;
  /** Who keeps it, for messages: `runc`, `crun`, `Docker (runc)`, … */
  readonly owner: string;
}

/**
 * Where runtimes keep their state when nothing else is said (docs: oci.md):
 * runc's and crun's defaults for root, Docker's runc root, containerd's for
 * its usual namespaces, and the caller's own (rootless) roots.
 */
export function defaultRoots(env: NodeJS.ProcessEnv = process.env): StateRoot[] {
  const roots: StateRoot[] = [
    { dir: '/run/runc', owner: 'runc (and Podman with runc)' },
    { dir: '/run/crun', owner: 'crun (and Podman with crun)' },
    { dir: '/run/docker/runtime-runc/moby', owner: 'Docker (runc)' },
    ...['k8s.io', 'moby', 'default'].map((ns) => ({ dir: `/run/containerd/runc/${ns}`, owner: `containerd (runc, namespace ${ns})` })),
  ];
  const runtimeDir = env.XDG_RUNTIME_DIR;
  if (runtimeDir) roots.push({ dir: join(runtimeDir, 'runc'), owner: 'runc (rootless)' }, { dir: join(runtimeDir, 'crun'), owner: 'crun (rootless)' });
  return roots;
}
