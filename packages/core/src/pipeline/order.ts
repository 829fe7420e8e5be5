import { AttachError, ErrorCodes } from '../errors.js';
import { refId, type Stage } from './stage.js';

/**
 * Order stages from their declared constraints (Kahn's algorithm). Ties are
 * broken by id, so the order never depends on registration or DI resolution
 * order. Refuses duplicate ids, unknown required ids and cycles, naming them.
 */
export function orderStages(stages: readonly Stage[]): Stage[] {
  const byId = new Map<string, Stage>();
  for (const stage of stages) {
    if (byId.has(stage.id)) {
      throw new AttachError(ErrorCodes.STAGE_ORDER, `two stages have the id '${stage.id}'; use replace() to substitute one`);
    }
    byId.set(stage.id, stage);
  }
  const next = new Map<string, Set<string>>([...byId.keys()].map((id) => [id, new Set<string>()]));
  const edge = (from: string, to: string) => next.get(from)!.add(to);
  for (const stage of stages) {
    for (const [refs, relation] of [[stage.after, 'after'], [stage.before, 'before']] as const) {
      for (const ref of refs ?? []) {
        const id = refId(ref);
        if (!byId.has(id)) {
          if (typeof ref !== 'string') continue;
          throw new AttachError(ErrorCodes.STAGE_ORDER,
            `stage '${stage.id}' must run ${relation} '${id}', but no stage '${id}' is in the pipeline`);
        }
        if (relation === 'after') edge(id, stage.id); else edge(stage.id, id);
      }
    }
  }
  const indegree = new Map<string, number>([...byId.keys()].map((id) => [id, 0]));
  for (const targets of next.values()) for (const t of targets) indegree.set(t, indegree.get(t)! + 1);
  const ready = [...indegree].filter(([, d]) => d === 0).map(([id]) => id).sort();
  const ordered: Stage[] = [];
  while (ready.length) {
    const id = ready.shift()!;
    ordered.push(byId.get(id)!);
    for (const t of next.get(id)!) {
      const d = indegree.get(t)! - 1;
      indegree.set(t, d);
      if (d === 0) {
        ready.push(t);
        ready.sort();
      }
    }
  }
  if (ordered.length < stages.length) {
    const cycle = findCycle(next, new Set([...indegree].filter(([, d]) => d > 0).map(([id]) => id)));
    throw new AttachError(ErrorCodes.STAGE_ORDER, `the stage order has a cycle: ${cycle.join(' → ')}`);
  }
  return ordered;
}

/** Every stage left over has a predecessor left over, so walking predecessors must close a cycle. */
function findCycle(next: Map<string, Set<string>>, remaining: Set<string>): string[] {
  const prev = (id: string) => [...next].filter(([from, to]) => remaining.has(from) && to.has(id)).map(([from]) => from).sort()[0]!;
  const path: string[] = [];
  const seen = new Map<string, number>();
  let at = [...remaining].sort()[0]!;
  while (!seen.has(at)) {
    seen.set(at, path.length);
    path.push(at);
    at = prev(at);
  }
  return [...path.slice(seen.get(at)!), at].reverse();
}
