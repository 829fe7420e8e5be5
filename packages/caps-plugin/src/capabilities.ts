import { allCapabilities, capabilityBit, CAPABILITY_NAMES } from '@attachkit/core';

export { CAPABILITY_NAMES };

/** `CAP_SYS_ADMIN`, or `capability 41` for one newer than this table. */
export function capabilityLabel(cap: number): string {
  const name = CAPABILITY_NAMES[cap];
  return name ? `CAP_${name.toUpperCase()}` : `capability ${cap}`;
}

export const bit = capabilityBit;
export const fullSet = allCapabilities;

/** A capability set line of /proc/<pid>/status (`CapBnd:\t000001fffeffffff`). */
export function statusCapSet(status: string, field: 'CapBnd' | 'CapPrm' | 'CapEff' | 'CapInh' | 'CapAmb'): bigint {
  const m = new RegExp(`^${field}:\\s*([0-9a-f]+)$`, 'm').exec(status);
  if (!m) throw new Error(`no ${field} line in the process status`);
  return BigInt(`0x${m[1]}`);
}
