// A real Kubernetes API server for tests (hack/envtest): started once per test process and
// shared, stopped when the process exits. Tests create their own namespaces to stay apart.
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { KubeConfig } from "@kubernetes/client-node";

const run = promisify(execFile);
const repoRoot = resolve(import.meta.dirname, "../../..");
const envtestDir = join(repoRoot, "hack/envtest");

export interface Envtest {
  dir: string;
  kubeconfig: string;
  server: string;
  /** Admin bearer token (system:masters). */
  token: string;
  caFile: string;
  /** Runs kubectl against the envtest server; rejects with stderr on failure. */
  kubectl(args: string[], input?: string): Promise<string>;
}

let shared: Promise<Envtest> | undefined;

/** The process-wide API server, started on first use with our CRDs (config/crd) applied. */
export function sharedEnvtest(): Promise<Envtest> {
  shared ??= start();
  return shared;
}

async function start(): Promise<Envtest> {
  const dir = mkdtempSync(join(tmpdir(), "envtest-"));
  await run("bash", [join(envtestDir, "start.sh"), dir, join(repoRoot, "config/crd")], { timeout: 15 * 60_000 });
  process.once("exit", () => {
    try {
      execFileSync("bash", [join(envtestDir, "stop.sh"), dir], { stdio: "ignore", timeout: 20_000 });
    } catch {
      // Best effort: the processes die with the machine's session anyway.
    }
  });
  const env = Object.fromEntries(
    readFileSync(join(dir, "env"), "utf8")
      .split("\n")
      .map((line) => /^export (\w+)='(.*)'$/.exec(line))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1], m[2]]),
  );
  const kubeconfig = join(dir, "kubeconfig");
  return {
    dir,
    kubeconfig,
    server: env.ENVTEST_SERVER ?? "",
    token: env.ENVTEST_TOKEN ?? "",
    caFile: env.ENVTEST_CA_FILE ?? "",
    kubectl: async (args, input) => {
      const child = execFile("kubectl", ["--kubeconfig", kubeconfig, ...args], { timeout: 60_000 });
      if (input !== undefined) child.stdin?.end(input);
      return new Promise((resolveOut, reject) => {
        let stdout = "";
        let stderr = "";
        child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
        child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
        child.on("close", (code) => (code === 0 ? resolveOut(stdout) : reject(new Error(`kubectl ${args.join(" ")} failed (${code}): ${stderr.trim()}`))));
      });
    },
  };
}

/** An admin client configuration for the envtest server. */
export function kubeConfigOf(env: Envtest): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(env.kubeconfig);
  return kc;
}
