// Structured JSON logs (pino). Per-request detail is logged at debug only, so info stays quiet under load.
import { pino, type Logger } from "pino";

export type { Logger };

export function createLogger(level: string = process.env.LOG_LEVEL ?? "info"): Logger {
  return pino({
    level,
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    // Upstream credentials travel in these fields; they must never reach a log line.
    redact: { paths: ["credential", "*.credential", "headers.authorization", "*.headers.authorization"], censor: "[redacted]" },
  });
}
