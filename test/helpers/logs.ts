// A logger whose lines a test can read, for in-process tests of code that logs.
import { pino } from "pino";
import type { Logger } from "../../internal/log/logger.js";

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** pino's numeric levels. */
export const WARN = 40;
export const INFO = 30;

export function capturingLogger(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = pino({ level: "debug" }, { write: (line: string) => lines.push(JSON.parse(line) as LogLine) });
  return { log, lines };
}
