// node:perf_hooks: the platform's `performance` (coarse clock, marks and measures).
export const performance = globalThis.performance;
export const Performance = (globalThis as any).Performance;
export const PerformanceEntry = (globalThis as any).PerformanceEntry;
export const PerformanceMark = (globalThis as any).PerformanceMark;
export const PerformanceMeasure = (globalThis as any).PerformanceMeasure;
export const constants = {};
export default { performance, Performance, PerformanceEntry, PerformanceMark, PerformanceMeasure, constants };
