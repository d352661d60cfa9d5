// The CRDs, samples and install manifests, checked against a real kube-apiserver (hack/envtest):
// the generated files are current, the API server accepts what users will type (the seed guide's
// documents, unchanged) and rejects what it must, with messages that say why.
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { expect } from "chai";
import { parseAllDocuments } from "yaml";
import { z } from "zod";
import { generate, HEADER, outdated, write } from "../../hack/gen-crds.js";
import { crdName } from "../../hack/generate/crd.js";
import { StructuralSchemaError, structuralSchema } from "../../hack/generate/structural.js";
import { API_VERSION, GROUP } from "../../internal/api/group.js";
import { RESOURCES } from "../../internal/api/resources.js";
import { BROKER_STATUS_CONFIGMAP } from "../../internal/contract/broker-status.js";
import { REGISTRY_SECRET_NAME } from "../../internal/contract/registry.js";
import { SESSION_KEY_SECRET_NAME } from "../../internal/contract/session-key.js";
import { sharedEnvtest, type Envtest } from "../helpers/envtest.js";
import { seedDocuments } from "../helpers/seed.js";

const repoRoot = resolve(import.meta.dirname, "../../..");
interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** kubectl with stderr kept (warnings) and the exit code returned rather than thrown. */
function kubectlFull(env: Envtest, args: string[], input?: string): Promise<KubectlResult> {
  return new Promise((resolveResult) => {
    const child = execFile("kubectl", ["--kubeconfig", env.kubeconfig, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === "number" ? err.code : 1;
      resolveResult({ code, stdout, stderr });
    });
    child.stdin?.end(input ?? "");
  });
}

async function expectRejected(env: Envtest, manifest: string, ...fragments: string[]): Promise<string> {
  const result = await kubectlFull(env, ["apply", "-f", "-"], manifest);
  expect(result.code, `applied although invalid:\n${manifest}\n${result.stdout}`).to.not.equal(0);
  for (const fragment of fragments) expect(result.stderr).to.include(fragment);
  return result.stderr;
}

/** kubectl's notes on objects another test wrote with the other kind of apply (client- or server-side) are no problem. */
function withoutLastAppliedWarnings(stderr: string): string {
  return stderr
    .split("\n")
    .filter((line) => line !== "" && !line.includes("kubectl.kubernetes.io/last-applied-configuration"))
    .join("\n");
}

function uniqueNamespace(prefix: string): string {
  return `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
}

async function createNamespace(env: Envtest, name: string): Promise<void> {
  await env.kubectl(["apply", "-f", "-"], `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n`);
}

function registration(namespace: string, name: string, spec: string): string {
  return `apiVersion: ${API_VERSION}\nkind: MCPServerRegistration\nmetadata:\n  name: ${name}\n  namespace: ${namespace}\nspec:\n${spec}\n`;
}

function extension(namespace: string, name: string, spec: string): string {
  return `apiVersion: ${API_VERSION}\nkind: MCPGatewayExtension\nmetadata:\n  name: ${name}\n  namespace: ${namespace}\nspec:\n${spec}\n`;
}

function virtualServer(namespace: string, name: string, spec: string): string {
  return `apiVersion: ${API_VERSION}\nkind: MCPVirtualServer\nmetadata:\n  name: ${name}\n  namespace: ${namespace}\nspec:\n${spec}\n`;
}

type KubeObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; [key: string]: unknown };

function parseObjects(text: string): KubeObject[] {
  return parseAllDocuments(text)
    .map((doc) => doc.toJS() as KubeObject | null)
    .filter((object): object is KubeObject => object !== null);
}

function yamlFilesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && /\.ya?ml$/.test(entry.name))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

describe("api: generated CRDs", () => {
  it("config/crd and docs/crd-reference.md are what hack/gen-crds.ts generates from internal/api", () => {
    const stale = outdated(repoRoot);
    expect(stale, "stale generated files: run `npx tsc -p tsconfig.json && node dist/hack/gen-crds.js`").to.deep.equal([]);
  });

  it("generates byte-identical output every time and writes it as checked in", () => {
    const out = mkdtempSync(join(tmpdir(), "gen-crds-"));
    try {
      const first = generate();
      expect(generate()).to.deep.equal(first);
      write(out, first);
      for (const file of first) expect(readFileSync(join(out, file.path), "utf8"), file.path).to.equal(readFileSync(join(repoRoot, file.path), "utf8"));
      expect(outdated(out)).to.deep.equal([]);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it("writes one CRD per resource, each starting with the generated-code header", () => {
    const files = generate();
    expect(files.map((file) => file.path)).to.include.members(RESOURCES.map((resource) => `config/crd/${GROUP}_${resource.plural}.yaml`));
    for (const file of files) {
      const first = file.content.split("\n")[0];
      expect(first, file.path).to.equal(file.path.endsWith(".md") ? `<!-- ${HEADER} -->` : `# ${HEADER}`);
    }
    expect(HEADER).to.equal("Code generated by hack/gen-crds.ts from internal/api; DO NOT EDIT.");
  });

  it("emits a structural schema: every node typed, no $ref, no additionalProperties: false, no unions", () => {
    for (const file of generate().filter((f) => f.path.endsWith(".yaml"))) {
      const [crd] = parseObjects(file.content) as unknown as [{ spec: { versions: { schema: { openAPIV3Schema: unknown } }[] } }];
      const visit = (node: Record<string, unknown>, path: string): void => {
        expect(node, path).to.not.have.any.keys("$ref", "$schema", "$defs", "anyOf", "oneOf", "allOf", "const", "uniqueItems", "propertyNames");
        expect(node.additionalProperties, path).to.not.equal(false);
        const typed = node.type !== undefined || node["x-kubernetes-preserve-unknown-fields"] === true || node["x-kubernetes-int-or-string"] === true;
        expect(typed, `${path} has no type`).to.equal(true);
        if (node.format !== undefined) expect(node.format, path).to.not.equal("starts_with");
        for (const [name, child] of Object.entries((node.properties as Record<string, Record<string, unknown>> | undefined) ?? {})) visit(child, `${path}.${name}`);
        if (node.items !== undefined) visit(node.items as Record<string, unknown>, `${path}[]`);
      };
      visit(crd.spec.versions[0]?.schema.openAPIV3Schema as Record<string, unknown>, file.path);
    }
  });

  it("turns zod's JSON Schema forms into structural ones, and refuses what has none", () => {
    expect(structuralSchema(z.string().nullable(), "t")).to.deep.equal({ type: "string", nullable: true });
    expect(structuralSchema(z.union([z.literal("a"), z.literal("b")]), "t")).to.deep.equal({ type: "string", enum: ["a", "b"] });
    expect(structuralSchema(z.enum(["x", "y"]).default("x"), "t")).to.deep.equal({ type: "string", enum: ["x", "y"], default: "x" });
    expect(structuralSchema(z.number().gt(0), "t")).to.deep.equal({ type: "number", minimum: 0, exclusiveMinimum: true });
    expect(structuralSchema(z.strictObject({ a: z.string() }), "t")).to.deep.equal({ type: "object", properties: { a: { type: "string" } }, required: ["a"] });
    expect(structuralSchema(z.record(z.string(), z.string()), "t")).to.deep.equal({ type: "object", additionalProperties: { type: "string" } });
    expect(structuralSchema(z.unknown(), "t")).to.deep.equal({ "x-kubernetes-preserve-unknown-fields": true });
    expect(structuralSchema(z.string().startsWith("/"), "t")).to.not.have.property("format");
    expect(structuralSchema(z.int(), "t")).to.deep.equal({ type: "integer" });
    expect(structuralSchema(z.array(z.string()).meta({ "x-kubernetes-list-type": "set" }), "t")).to.deep.equal({
      type: "array",
      items: { type: "string" },
      "x-kubernetes-list-type": "set",
    });
    expect(() => structuralSchema(z.union([z.string(), z.number()]), "T.spec.x")).to.throw(StructuralSchemaError, "T.spec.x");
    expect(() => structuralSchema(z.tuple([z.string(), z.number()]), "t")).to.throw(StructuralSchemaError);
    expect(structuralSchema(z.object({ a: z.string() }).and(z.object({ b: z.string() })), "t")).to.deep.equal({
      type: "object",
      properties: { a: { type: "string" }, b: { type: "string" } },
      required: ["a", "b"],
    });
    expect(() => structuralSchema(z.string().and(z.number()), "t")).to.throw(StructuralSchemaError, "allOf");
    const Node: z.ZodType = z.lazy(() => z.object({ children: z.array(Node) }));
    expect(() => structuralSchema(Node, "T.spec")).to.throw(StructuralSchemaError, "T.spec: zod cannot express it");
    expect(() => structuralSchema(z.date(), "t")).to.throw(StructuralSchemaError);
  });

  it("describes every resource in docs/crd-reference.md: fields, defaults, validation, columns", () => {
    const doc = readFileSync(join(repoRoot, "docs/crd-reference.md"), "utf8");
    for (const resource of RESOURCES) {
      expect(doc).to.include(`## ${resource.kind}`);
      for (const column of resource.columns) expect(doc).to.include(`| ${column.name.toUpperCase()} |`);
    }
    expect(doc).to.include("| `spec.path` | string |  | `/mcp` |");
    expect(doc).to.include("| `spec.backendPingIntervalSeconds` | integer |  | `60` | 10–7200 |");
    expect(doc).to.include("toolPrefix is immutable once set");
    expect(doc).to.include("- on `spec`: `!has(oldSelf.toolPrefix) || oldSelf.toolPrefix == ''");
  });
});

describe("api: CRDs on a real API server", function () {
  this.timeout(120_000);
  let env: Envtest;

  before(async function () {
    this.timeout(15 * 60_000);
    env = await sharedEnvtest();
  });

  it("has every generated CRD Established, with its short names and the mcp category", async () => {
    for (const resource of RESOURCES) {
      const crd = JSON.parse(await env.kubectl(["get", "crd", crdName(resource), "-o", "json"])) as {
        spec: { names: { shortNames: string[]; categories: string[] }; scope: string; versions: { name: string; served: boolean; storage: boolean; subresources?: { status?: object } }[] };
        status: { conditions: { type: string; status: string }[] };
      };
      expect(crd.status.conditions.find((c) => c.type === "Established")?.status, resource.kind).to.equal("True");
      expect(crd.status.conditions.find((c) => c.type === "NamesAccepted")?.status, resource.kind).to.equal("True");
      expect(crd.spec.names.shortNames).to.deep.equal(resource.shortNames);
      expect(crd.spec.names.categories).to.deep.equal(["mcp"]);
      expect(crd.spec.scope).to.equal("Namespaced");
      expect(crd.spec.versions).to.have.length(1);
      expect(crd.spec.versions[0]).to.include({ name: "v1alpha1", served: true, storage: true });
      expect(crd.spec.versions[0]?.subresources?.status).to.deep.equal({});
    }
    await env.kubectl(["get", "mcp", "-A"]);
  });

  it("applies every sample in config/samples (server-side dry run, then for real)", async () => {
    const dir = join(repoRoot, "config/samples");
    const files = yamlFilesUnder(dir);
    expect(files.map((file) => relative(dir, file))).to.include.members([
      "mcp_v1alpha1_mcpgatewayextension.yaml",
      "mcp_v1alpha1_mcpserverregistration.yaml",
      "mcp_v1alpha1_mcpvirtualserver.yaml",
      "gateway_v1_gateway.yaml",
      "gateway_v1_httproute.yaml",
      "gateway_v1beta1_referencegrant.yaml",
    ]);
    const kinds = files.flatMap((file) => parseObjects(readFileSync(file, "utf8")).map((object) => object.kind));
    for (const resource of RESOURCES) expect(kinds).to.include(resource.kind);
    // A dry run cannot create the namespaces the other samples go into: those first, for real.
    await env.kubectl(["apply", "-f", join(dir, "00_namespaces.yaml")]);
    for (const file of files) {
      const dry = await kubectlFull(env, ["apply", "--dry-run=server", "-f", file]);
      expect(dry.code, `${relative(repoRoot, file)}: ${dry.stderr}`).to.equal(0);
    }
    const applied = await kubectlFull(env, ["apply", "-f", dir]);
    expect(applied.code, applied.stderr).to.equal(0);
    expect(withoutLastAppliedWarnings(applied.stderr), "warnings").to.equal("");
    await env.kubectl(["get", "-f", dir]);
  });

  it("applies the documents of the MCP Server Registration guide unchanged", async function () {
    expect(seedDocuments().map((doc) => /^kind: (\w+)$/m.exec(doc)?.[1])).to.deep.equal(["MCPGatewayExtension", "ReferenceGrant", "HTTPRoute", "MCPServerRegistration"]);
    await createNamespace(env, "mcp-test");
    await createNamespace(env, "gateway-system");
    // The guide's order: extension, grant, route, registration; each with `kubectl apply -f - <<EOF`.
    for (const doc of seedDocuments()) {
      const dry = await kubectlFull(env, ["apply", "--dry-run=server", "-f", "-"], doc);
      expect(dry.code, dry.stderr).to.equal(0);
      const result = await kubectlFull(env, ["apply", "-f", "-"], doc);
      expect(result.code, result.stderr).to.equal(0);
      expect(result.stdout).to.match(/ (created|configured|unchanged)\n$/);
    }
    const stored = JSON.parse(await env.kubectl(["get", "mcpserverregistration", "my-mcp-server", "-n", "mcp-test", "-o", "json"])) as { spec: Record<string, unknown> };
    expect(stored.spec).to.deep.equal({
      toolPrefix: "myserver_",
      path: "/mcp",
      targetRef: { group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: "mcp-api-key-server-route", namespace: "mcp-test" },
    });
    const ext = JSON.parse(await env.kubectl(["get", "mcpgatewayextension", "mcp-extension", "-n", "mcp-test", "-o", "json"])) as { spec: Record<string, unknown> };
    expect(ext.spec).to.deep.equal({
      targetRef: { group: "gateway.networking.k8s.io", kind: "Gateway", name: "mcp-gateway", namespace: "gateway-system" },
      backendPingIntervalSeconds: 60,
    });
  });

  it("shows NAME PREFIX TARGET PATH READY TOOLS CREDENTIALS AGE in `kubectl get mcpsr -A`", async () => {
    await createNamespace(env, "mcp-test");
    await env.kubectl(["apply", "-f", "-"], seedDocuments()[3]);
    const out = await env.kubectl(["get", "mcpsr", "-A"]);
    const [header, ...rows] = out.trimEnd().split("\n");
    expect(header?.trim().split(/\s+/)).to.deep.equal(["NAMESPACE", "NAME", "PREFIX", "TARGET", "PATH", "READY", "TOOLS", "CREDENTIALS", "AGE"]);
    const row = rows.map((line) => line.trim().split(/\s+/)).find((cells) => cells[0] === "mcp-test" && cells[1] === "my-mcp-server");
    expect(row?.slice(0, 5)).to.deep.equal(["mcp-test", "my-mcp-server", "myserver_", "mcp-api-key-server-route", "/mcp"]);
    const single = await env.kubectl(["get", "mcpsr", "-n", "mcp-test"]);
    expect(single.split("\n")[0]?.trim().split(/\s+/)).to.deep.equal(["NAME", "PREFIX", "TARGET", "PATH", "READY", "TOOLS", "CREDENTIALS", "AGE"]);
    for (const [shortName, columns] of [
      ["mcpgwext", ["NAME", "READY", "AGE"]],
      ["mcpvs", ["NAME", "READY", "AGE"]],
    ] as const) {
      const text = await env.kubectl(["get", shortName, "-n", "mcp-test"]);
      if (text.trim() !== "") expect(text.split("\n")[0]?.trim().split(/\s+/), shortName).to.deep.equal(columns);
    }
  });

  it("fills in the defaults: path, targetRef group and kind, credentialRef key, backendPingIntervalSeconds", async () => {
    const ns = uniqueNamespace("crd-defaults");
    await createNamespace(env, ns);
    await env.kubectl(["apply", "-f", "-"], registration(ns, "minimal", "  targetRef:\n    name: route\n  credentialRef:\n    name: creds"));
    const reg = JSON.parse(await env.kubectl(["get", "mcpsr", "minimal", "-n", ns, "-o", "json"])) as { spec: Record<string, unknown> };
    expect(reg.spec).to.deep.equal({
      targetRef: { group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: "route" },
      path: "/mcp",
      credentialRef: { name: "creds", key: "token" },
    });
    await env.kubectl(["apply", "-f", "-"], extension(ns, "minimal", "  targetRef:\n    name: gw"));
    const ext = JSON.parse(await env.kubectl(["get", "mcpgwext", "minimal", "-n", ns, "-o", "json"])) as { spec: Record<string, unknown> };
    expect(ext.spec).to.deep.equal({ targetRef: { group: "gateway.networking.k8s.io", kind: "Gateway", name: "gw" }, backendPingIntervalSeconds: 60 });
    await env.kubectl(["apply", "-f", "-"], virtualServer(ns, "minimal", "  tools: [a_echo]"));
    const vs = JSON.parse(await env.kubectl(["get", "mcpvs", "minimal", "-n", ns, "-o", "json"])) as { spec: Record<string, unknown> };
    expect(vs.spec).to.deep.equal({ tools: ["a_echo"] });
  });

  it("rejects invalid resources with a message naming the field and the reason", async () => {
    const ns = uniqueNamespace("crd-invalid");
    await createNamespace(env, ns);
    await expectRejected(env, registration(ns, "no-name", "  targetRef:\n    kind: HTTPRoute"), "spec.targetRef.name: Required value");
    // targetRef became optional beside routeSelector (issue 12): one of the two is required.
    await expectRejected(env, registration(ns, "no-target", "  toolPrefix: a_"), "exactly one of targetRef and routeSelector must be set");
    await expectRejected(env, `apiVersion: ${API_VERSION}\nkind: MCPServerRegistration\nmetadata:\n  name: no-spec\n  namespace: ${ns}\n`, "spec: Required value");
    await expectRejected(env, registration(ns, "wrong-kind", "  targetRef:\n    kind: Service\n    name: route"), 'spec.targetRef.kind: Unsupported value: "Service": supported values: "HTTPRoute"');
    await expectRejected(
      env,
      registration(ns, "wrong-group", "  targetRef:\n    group: networking.k8s.io\n    name: route"),
      'spec.targetRef.group: Unsupported value: "networking.k8s.io": supported values: "gateway.networking.k8s.io"',
    );
    await expectRejected(env, registration(ns, "space", '  toolPrefix: "my server"\n  targetRef:\n    name: route'), "spec.toolPrefix", "should match '^[A-Za-z0-9_-]*$'");
    await expectRejected(env, registration(ns, "dot", '  toolPrefix: "my."\n  targetRef:\n    name: route'), 'spec.toolPrefix: Invalid value: "my."', "should match '^[A-Za-z0-9_-]*$'");
    await expectRejected(env, registration(ns, "long", `  toolPrefix: ${"p".repeat(65)}\n  targetRef:\n    name: route`), "spec.toolPrefix: Too long: may not be more than 64 bytes");
    await expectRejected(env, registration(ns, "relative-path", "  path: mcp\n  targetRef:\n    name: route"), "spec.path", "should match");
    await expectRejected(env, registration(ns, "empty-cred", "  targetRef:\n    name: route\n  credentialRef:\n    key: token"), "spec.credentialRef.name: Required value");
    await expectRejected(env, extension(ns, "ping-5", "  targetRef:\n    name: gw\n  backendPingIntervalSeconds: 5"), "spec.backendPingIntervalSeconds", "should be greater than or equal to 10");
    await expectRejected(env, extension(ns, "ping-big", "  targetRef:\n    name: gw\n  backendPingIntervalSeconds: 7201"), "spec.backendPingIntervalSeconds", "should be less than or equal to 7200");
    await expectRejected(env, extension(ns, "host-url", "  targetRef:\n    name: gw\n  publicHost: https://mcp.example.com"), "spec.publicHost", "should match");
    await expectRejected(env, extension(ns, "host-upper", "  targetRef:\n    name: gw\n  publicHost: MCP.example.com"), "spec.publicHost", "should match");
    await expectRejected(env, extension(ns, "gw-kind", "  targetRef:\n    kind: HTTPRoute\n    name: gw"), 'spec.targetRef.kind: Unsupported value: "HTTPRoute": supported values: "Gateway"');
    await expectRejected(env, virtualServer(ns, "empty", "  tools: []"), "spec.tools", "should have at least 1 items");
    await expectRejected(env, virtualServer(ns, "no-tools", "  description: nothing"), "spec.tools: Required value");
    await expectRejected(env, virtualServer(ns, "blank-tool", '  tools: [""]'), "spec.tools[0]", "should be at least 1 chars long");
    const left = await env.kubectl(["get", "mcp", "-n", ns, "-o", "name"]);
    expect(left.trim(), "nothing invalid was stored").to.equal("");
  });

  it("keeps toolPrefix immutable once set to a non-empty value", async () => {
    const ns = uniqueNamespace("crd-prefix");
    await createNamespace(env, ns);
    const target = "  targetRef:\n    name: route";
    await env.kubectl(["apply", "-f", "-"], registration(ns, "set", `  toolPrefix: a_\n${target}`));
    await expectRejected(env, registration(ns, "set", `  toolPrefix: b_\n${target}`), "toolPrefix is immutable once set");
    await expectRejected(env, registration(ns, "set", `  toolPrefix: ""\n${target}`), "toolPrefix is immutable once set");
    await expectRejected(env, registration(ns, "set", target), "toolPrefix is immutable once set");
    // The same value, and changes elsewhere in spec, are fine.
    await env.kubectl(["apply", "-f", "-"], registration(ns, "set", `  toolPrefix: a_\n  path: /v2/mcp\n${target}`));

    // Empty or unset means "not chosen yet": it may be set once.
    await env.kubectl(["apply", "-f", "-"], registration(ns, "empty", `  toolPrefix: ""\n${target}`));
    await env.kubectl(["apply", "-f", "-"], registration(ns, "empty", `  toolPrefix: x_\n${target}`));
    await expectRejected(env, registration(ns, "empty", `  toolPrefix: y_\n${target}`), "toolPrefix is immutable once set");
    await env.kubectl(["apply", "-f", "-"], registration(ns, "unset", target));
    await env.kubectl(["apply", "-f", "-"], registration(ns, "unset", `  toolPrefix: z_\n${target}`));
    const prefixes = await env.kubectl(["get", "mcpsr", "-n", ns, "-o", "jsonpath={range .items[*]}{.metadata.name}={.spec.toolPrefix} {end}"]);
    expect(prefixes.trim().split(" ").sort()).to.deep.equal(["empty=x_", "set=a_", "unset=z_"]);
  });

  it("lets the status subresource carry conditions, and ignores status in spec writes", async () => {
    const ns = uniqueNamespace("crd-status");
    await createNamespace(env, ns);
    await env.kubectl(["apply", "-f", "-"], registration(ns, "r", "  targetRef:\n    name: route"));
    const condition = { type: "Ready", status: "True", reason: "Ready", message: "server added successfully. Total tools added 5", lastTransitionTime: "2025-01-01T00:00:00Z" };
    await env.kubectl(["patch", "mcpsr", "r", "-n", ns, "--subresource=status", "--type=merge", "-p", JSON.stringify({ status: { conditions: [condition], discoveredTools: 5 } })]);
    const row = (await env.kubectl(["get", "mcpsr", "r", "-n", ns, "--no-headers"])).trim().split(/\s+/);
    expect(row.slice(0, 5)).to.deep.equal(["r", "route", "/mcp", "True", "5"]);
    const negative = await kubectlFull(env, ["patch", "mcpsr", "r", "-n", ns, "--subresource=status", "--type=merge", "-p", '{"status":{"discoveredTools":-1}}']);
    expect(negative.stderr).to.include("status.discoveredTools").and.include("should be greater than or equal to 0");
    // With the status subresource, status in a write of the resource itself is ignored.
    await env.kubectl(["apply", "-f", "-"], registration(ns, "r", "  targetRef:\n    name: route").replace("spec:", "status:\n  discoveredTools: 99\nspec:"));
    expect(await env.kubectl(["get", "mcpsr", "r", "-n", ns, "-o", "jsonpath={.status.discoveredTools}"])).to.equal("5");
    const bad = await kubectlFull(env, ["patch", "mcpsr", "r", "-n", ns, "--subresource=status", "--type=merge", "-p", JSON.stringify({ status: { conditions: [{ ...condition, status: "Maybe" }] } })]);
    expect(bad.code).to.not.equal(0);
    expect(bad.stderr).to.include('Unsupported value: "Maybe"');
  });
});

describe("api: install manifests on a real API server", function () {
  this.timeout(120_000);
  let env: Envtest;

  before(async function () {
    this.timeout(15 * 60_000);
    env = await sharedEnvtest();
  });

  it("lists every file under manifests/ in a kustomization", () => {
    const dir = join(repoRoot, "manifests");
    const listed = new Set<string>();
    for (const file of yamlFilesUnder(dir).filter((f) => /kustomization\.ya?ml$/.test(f))) {
      const { resources } = parseObjects(readFileSync(file, "utf8"))[0] as unknown as { resources: string[] };
      for (const resource of resources) listed.add(resolve(file, "..", resource));
    }
    for (const file of yamlFilesUnder(dir).filter((f) => !/kustomization\.ya?ml$/.test(f))) expect(listed.has(file), `${relative(repoRoot, file)} is in no kustomization`).to.equal(true);
    expect(listed.has(join(repoRoot, "config/crd")), "the base installs the CRDs").to.equal(true);
  });

  it("runs both programs from one image, non-root, read-only, without capabilities, with probes and resources", async () => {
    const objects = parseObjects(await env.kubectl(["kustomize", join(repoRoot, "manifests")]));
    type Container = {
      image: string;
      args?: string[];
      env?: { name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
      ports: { containerPort: number }[];
      livenessProbe: { httpGet: { path: string } };
      readinessProbe: { httpGet: { path: string } };
      resources: { requests: Record<string, string>; limits: Record<string, string> };
      securityContext: { readOnlyRootFilesystem: boolean; allowPrivilegeEscalation: boolean; capabilities: { drop: string[] } };
    };
    type Deployment = KubeObject & { spec: { template: { spec: { serviceAccountName: string; securityContext: { runAsNonRoot: boolean }; containers: Container[] } } } };
    const deployments = new Map(objects.filter((o) => o.kind === "Deployment").map((o) => [o.metadata.name, o as Deployment]));
    expect([...deployments.keys()].sort()).to.deep.equal(["mcp-gateway-broker-router", "mcp-gateway-controller"]);
    const expected = {
      "mcp-gateway-controller": { args: ["dist/cmd/controller/main.js"], port: 8081 },
      "mcp-gateway-broker-router": {
        args: [
          "dist/cmd/broker-router/main.js",
          "--mcp-gateway-config-secret",
          `mcp-system/${REGISTRY_SECRET_NAME}`,
          "--session-key-secret",
          `mcp-system/${SESSION_KEY_SECRET_NAME}`,
          "--mcp-broker-public-address",
          "0.0.0.0:8080",
        ],
        port: 8080,
      },
    };
    for (const [name, want] of Object.entries(expected)) {
      const deployment = deployments.get(name);
      const pod = deployment?.spec.template.spec;
      expect(deployment?.metadata.namespace).to.equal("mcp-system");
      expect(pod?.serviceAccountName).to.equal(name);
      expect(pod?.securityContext.runAsNonRoot).to.equal(true);
      expect(pod?.containers).to.have.length(1);
      const container = pod?.containers[0] as Container;
      expect(container.image).to.equal("ghcr.io/mcp-gateway/mcp-gateway:latest");
      expect(container.args).to.deep.equal(want.args);
      expect(container.ports.map((p) => p.containerPort)).to.deep.equal([want.port]);
      expect(container.livenessProbe.httpGet.path).to.equal("/healthz");
      expect(container.readinessProbe.httpGet.path).to.equal("/readyz");
      expect(container.resources.requests).to.have.keys("cpu", "memory");
      expect(container.resources.limits).to.have.keys("cpu", "memory");
      expect(container.securityContext).to.deep.include({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
      expect(container.securityContext.capabilities.drop).to.deep.equal(["ALL"]);
    }
    const controllerEnv = (deployments.get("mcp-gateway-controller")?.spec.template.spec.containers[0]?.env ?? []).map((e) => [e.name, e.valueFrom?.fieldRef?.fieldPath]);
    expect(controllerEnv).to.deep.equal([
      ["POD_NAMESPACE", "metadata.namespace"],
      ["POD_NAME", "metadata.name"],
    ]);
    const services = objects.filter((o) => o.kind === "Service").map((o) => o.metadata.name);
    expect(services.sort()).to.deep.equal(["mcp-gateway-broker-router", "mcp-gateway-controller"]);
    const accounts = objects.filter((o) => o.kind === "ServiceAccount").map((o) => o.metadata.name);
    expect(accounts.sort()).to.deep.equal(["mcp-gateway-broker-router", "mcp-gateway-controller"]);
  });

  for (const dir of ["manifests", "manifests/examples"]) {
    it(`applies ${dir} (server-side dry run, then for real) without warnings`, async () => {
      const rendered = await env.kubectl(["kustomize", join(repoRoot, dir)]);
      const objects = parseObjects(rendered);
      // A dry run does not create namespaces, so the ones the rest go into are created first.
      const namespaces = objects.filter((o) => o.kind === "Namespace").map((o) => o.metadata.name);
      const needed = [...new Set(objects.flatMap((o) => (o.metadata.namespace === undefined ? [] : [o.metadata.namespace])))];
      for (const ns of needed) {
        const doc = rendered.split(/^---$/m).find((d) => parseObjects(d)[0]?.kind === "Namespace" && parseObjects(d)[0]?.metadata.name === ns);
        if (doc !== undefined) await env.kubectl(["apply", "--server-side", "--force-conflicts", "-f", "-"], doc);
        else if (!namespaces.includes(ns)) await createNamespace(env, ns);
      }
      const dry = await kubectlFull(env, ["apply", "--server-side", "--force-conflicts", "--dry-run=server", "-k", join(repoRoot, dir)]);
      expect(dry.code, dry.stderr).to.equal(0);
      expect(withoutLastAppliedWarnings(dry.stderr), "warnings (PodSecurity restricted, deprecations)").to.equal("");
      const real = await kubectlFull(env, ["apply", "--server-side", "--force-conflicts", "-k", join(repoRoot, dir)]);
      expect(real.code, real.stderr).to.equal(0);
      expect(withoutLastAppliedWarnings(real.stderr), "warnings").to.equal("");
      const lines = real.stdout.trim().split("\n");
      expect(lines).to.have.length(objects.length);
      await env.kubectl(["get", "-k", join(repoRoot, dir)]);
    });
  }

  it("grants the controller and the broker-router what they use and nothing more", async () => {
    await env.kubectl(["apply", "--server-side", "--force-conflicts", "-k", join(repoRoot, "manifests")]);
    const controller = "system:serviceaccount:mcp-system:mcp-gateway-controller";
    const broker = "system:serviceaccount:mcp-system:mcp-gateway-broker-router";
    const cases: [string, string, string, string | undefined, boolean][] = [
      // who, verb, resource, namespace (undefined: all), allowed
      [controller, "watch", `mcpserverregistrations.${GROUP}`, undefined, true],
      [controller, "list", `mcpgatewayextensions.${GROUP}`, undefined, true],
      [controller, "get", `mcpvirtualservers.${GROUP}`, "any", true],
      [controller, "update", `mcpserverregistrations.${GROUP}`, "any", true],
      [controller, "patch", `mcpserverregistrations.${GROUP}/status`, "any", true],
      [controller, "update", `mcpgatewayextensions.${GROUP}/status`, "any", true],
      [controller, "update", `mcpvirtualservers.${GROUP}/status`, "any", true],
      [controller, "create", `mcpserverregistrations.${GROUP}`, "any", false],
      [controller, "delete", `mcpserverregistrations.${GROUP}`, "any", false],
      [controller, "list", "gateways.gateway.networking.k8s.io", undefined, true],
      [controller, "watch", "httproutes.gateway.networking.k8s.io", undefined, true],
      [controller, "get", "referencegrants.gateway.networking.k8s.io", "any", true],
      [controller, "update", "httproutes.gateway.networking.k8s.io", "any", false],
      [controller, "list", "services", undefined, true],
      [controller, "watch", "secrets", undefined, true],
      [controller, "create", "secrets", "any", true],
      [controller, "update", `secrets/${REGISTRY_SECRET_NAME}`, "any", true],
      [controller, "patch", `secrets/${REGISTRY_SECRET_NAME}`, "any", true],
      [controller, "update", `secrets/${SESSION_KEY_SECRET_NAME}`, "any", true],
      [controller, "delete", `secrets/${SESSION_KEY_SECRET_NAME}`, "any", false],
      [controller, "update", "secrets/someone-elses", "any", false],
      [controller, "delete", `secrets/${REGISTRY_SECRET_NAME}`, "any", false],
      [controller, "get", `configmaps/${BROKER_STATUS_CONFIGMAP}`, "any", true],
      // OpenAPI documents of registrations (spec.openapi.configMapRef) have any name; it only reads them.
      [controller, "watch", "configmaps", undefined, true],
      [controller, "update", "configmaps/other", "any", false],
      [controller, "create", "events", "any", true],
      [controller, "patch", "events.events.k8s.io", "any", true],
      [controller, "create", "leases.coordination.k8s.io", "mcp-system", true],
      [controller, "update", "leases.coordination.k8s.io/mcp-gateway-controller", "mcp-system", true],
      [controller, "get", "leases.coordination.k8s.io/mcp-gateway-controller", "mcp-system", true],
      [controller, "update", "leases.coordination.k8s.io/other", "mcp-system", false],
      [controller, "create", "leases.coordination.k8s.io", "default", false],
      [controller, "create", "pods", "any", false],
      [broker, "get", `secrets/${REGISTRY_SECRET_NAME}`, "mcp-system", true],
      [broker, "watch", `secrets/${REGISTRY_SECRET_NAME}`, "mcp-system", true],
      [broker, "get", "secrets/other", "mcp-system", false],
      [broker, "get", `secrets/${REGISTRY_SECRET_NAME}`, "default", false],
      [broker, "create", "configmaps", "mcp-system", true],
      [broker, "update", `configmaps/${BROKER_STATUS_CONFIGMAP}`, "mcp-system", true],
      [broker, "update", "configmaps/other", "mcp-system", false],
      [broker, "create", "configmaps", "default", false],
      [broker, "list", `mcpserverregistrations.${GROUP}`, undefined, false],
    ];
    const failures: string[] = [];
    for (const [who, verb, resource, namespace, allowed] of cases) {
      const scope = namespace === undefined ? ["--all-namespaces"] : ["-n", namespace];
      const result = await kubectlFull(env, ["auth", "can-i", verb, resource, ...scope, "--as", who]);
      const got = result.stdout.trim() === "yes";
      if (got !== allowed) failures.push(`${who.split(":").pop()} ${verb} ${resource} in ${namespace ?? "all namespaces"}: ${got ? "allowed" : "denied"}`);
    }
    expect(failures).to.deep.equal([]);
    // The informers watch single objects by name; RBAC's resourceNames allow exactly that.
    const list = await kubectlFull(env, ["get", "secrets", "-n", "mcp-system", "--field-selector", `metadata.name=${REGISTRY_SECRET_NAME}`, "--as", broker]);
    expect(list.code, list.stderr).to.equal(0);
    const listAll = await kubectlFull(env, ["get", "secrets", "-n", "mcp-system", "--as", broker]);
    expect(listAll.stderr).to.include("forbidden");
  });
});
