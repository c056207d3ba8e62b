import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's times: 100 on every Linux this runs on (sysconf(_SC_CLK_TCK)). */
const TICKS = 100;

/**
 * A process's resident memory (KiB, VmRSS) and its CPU use since it started, as a percentage of
 * one CPU, from /proc. Undefined when the process is gone.
 */
export function processUsage(pid: number): { memoryKiB: number; cpuPercent: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const memoryKiB = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
    // The command name (field 2) may hold spaces and parentheses: fields are counted after its last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuTicks = Number(fields[11]) + Number(fields[12]);
    const startTicks = Number(fields[19]);
    const uptime = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    const seconds = uptime - startTicks / TICKS;
    const cpuPercent = seconds > 0 ? Math.round((cpuTicks / TICKS / seconds) * 100) : 0;
    return { memoryKiB, cpuPercent };
  } catch {
    return undefined;
  }
}
