import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

/**
 * Lowers the calling thread's CPU priority by `steps` nice levels (Linux: a thread is a task with
 * its own id, and setpriority takes it). Background work such as the InfluxDB writer then yields
 * to the thread that serves OPC UA, Modbus and MQTT when both cores are busy. Returns the new nice
 * value, or undefined where the thread's id cannot be known (not Linux) or the call is refused.
 */
export function lowerThreadPriority(steps: number): number | undefined {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (!Number.isInteger(tid)) return undefined;
    const nice = Math.min(19, getPriority(tid) + steps);
    setPriority(tid, nice);
    return nice;
  } catch {
    return undefined;
  }
}
