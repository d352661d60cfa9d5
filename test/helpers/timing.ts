// Timings operator tests measure, printed for the report (README quotes some of them).

export function recordTiming(what: string, ms: number): void {
  console.log(`      [timing] ${what}: ${Math.round(ms)} ms`);
}
