// REST services described by OpenAPI documents, served as MCP servers through the gateway: the
// Swagger Petstore 3 document on Stoplight Prism (a real mock server that checks requests against
// the document and its security), and a document of our own in front of a backend that echoes
// the requests it gets: path parameters, query arrays, headers, a JSON body behind a $ref, no
// operationId, a 500, an HTML answer; documents that do not parse are reported.
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { expect } from "chai";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { eventually, startGateway, type GatewayProcess } from "../helpers/gateway-process.js";
import { connectClient, textOf, type TestClient } from "../helpers/mcp-client.js";
import { fetchStatus, serverReady, serverStatus } from "../helpers/registry.js";
import { petstoreDocument, registry, startPrism, type Peer } from "./peers.js";

const ECHO_DOCUMENT = {
  openapi: "3.1.0",
  info: { title: "echo", version: "1.0.0", description: "Answers with the request it got" },
  paths: {
    "/items/{itemId}": {
      parameters: [{ name: "itemId", in: "path", required: true, schema: { type: "string" } }],
      put: {
        operationId: "updateItem",
        summary: "Replaces an item",
        parameters: [
          { name: "tags", in: "query", schema: { type: "array", items: { type: "string" } } },
          { name: "ids", in: "query", explode: false, schema: { type: "array", items: { type: "integer" } } },
          { name: "X-Trace", in: "header", schema: { type: "string" } },
        ],
        requestBody: { required: true, content: { "application/json": { schema: { $ref: "#/components/schemas/Item" } } } },
        responses: { "200": { description: "the request as received" } },
      },
    },
    "/things/{id}/parts": { get: { summary: "Parts of a thing", parameters: [{ name: "id", in: "path", required: true, schema: { type: "integer" } }], responses: { "200": { description: "ok" } } } },
    "/broken": { get: { operationId: "broken", responses: { "500": { description: "always" } } } },
    "/page": { get: { operationId: "page", responses: { "200": { description: "an HTML page" } } } },
  },
  components: { schemas: { Item: { type: "object", required: ["name"], properties: { name: { type: "string", description: "The item's name" }, size: { type: "integer" } } } } },
};

function startEchoBackend(): Promise<Server> {
  const server = createServer((req: IncomingMessage, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://backend");
      if (url.pathname === "/openapi.json") return res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(ECHO_DOCUMENT));
      if (url.pathname === "/broken") return res.writeHead(500, { "content-type": "text/plain" }).end("database on fire");
      if (url.pathname === "/page") return res.writeHead(200, { "content-type": "text/html" }).end("<html>login here</html>");
      const echoed = { method: req.method, path: url.pathname, search: url.search, trace: req.headers["x-trace"], authorization: req.headers.authorization, contentType: req.headers["content-type"], body: body ? (JSON.parse(body) as unknown) : undefined };
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(echoed));
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

async function call(client: TestClient, name: string, args: Record<string, unknown>): Promise<CallToolResult> {
  return (await client.client.callTool({ name, arguments: args })) as CallToolResult;
}

describe("kinds: OpenAPI services as MCP servers", function () {
  this.timeout(60_000);
  let prism: Peer;
  let backend: Server;
  let gateway: GatewayProcess;
  let client: TestClient;

  before(async () => {
    [prism, backend] = await Promise.all([startPrism(petstoreDocument), startEchoBackend()]);
    const backendUrl = `http://127.0.0.1:${(backend.address() as AddressInfo).port}`;
    const prismUrl = `http://127.0.0.1:${prism.port}`;
    gateway = await startGateway(
      registry([
        { name: "kinds/petstore", transport: "openapi", url: prismUrl, openapi: { document: petstoreDocument }, toolPrefix: "pet_", credential: "Bearer petstore-token" },
        { name: "kinds/petstore-anonymous", transport: "openapi", url: prismUrl, openapi: { document: petstoreDocument }, toolPrefix: "anon_" },
        { name: "kinds/echo", transport: "openapi", url: backendUrl, openapi: { document: ECHO_DOCUMENT }, toolPrefix: "echo_", credential: "Bearer echo-token" },
        { name: "kinds/echo-served", transport: "openapi", url: backendUrl, openapi: { documentPath: "/openapi.json" }, toolPrefix: "served_" },
        { name: "kinds/not-json", transport: "openapi", url: backendUrl, openapi: { document: '{ "openapi": "3.0.0", "info": ' }, toolPrefix: "nj_" },
        { name: "kinds/invalid", transport: "openapi", url: backendUrl, openapi: { document: { openapi: "3.0.0", info: { title: "no version" }, paths: {} } }, toolPrefix: "inv_" },
      ]),
      ["--retry-max-seconds", "1"],
    );
    await Promise.all(["kinds/petstore", "kinds/echo", "kinds/echo-served"].map((name) => serverReady(gateway.baseUrl, name)));
    client = await connectClient(gateway.mcpUrl);
  });

  after(async () => {
    await client?.close();
    await gateway?.stop();
    await prism?.stop();
    backend?.close();
  });

  it("lists one tool per Petstore operation, named <toolPrefix><operationId>, with its summary and parameters", async () => {
    const tools = (await client.client.listTools()).tools.filter((tool) => tool.name.startsWith("pet_"));
    expect(tools.map((tool) => tool.name).sort()).to.deep.equal(
      ["addPet", "createUser", "createUsersWithListInput", "deleteOrder", "deletePet", "deleteUser", "findPetsByStatus", "findPetsByTags", "getInventory", "getOrderById", "getPetById", "getUserByName", "loginUser", "logoutUser", "placeOrder", "updatePet", "updatePetWithForm", "updateUser", "uploadFile"]
        .map((name) => `pet_${name}`)
        .sort(),
    );
    const getPet = tools.find((tool) => tool.name === "pet_getPetById");
    expect(getPet?.description).to.include("Find pet by ID.");
    expect(getPet?.inputSchema).to.deep.include({ required: ["petId"] });
    expect(getPet?.inputSchema.properties?.petId).to.deep.include({ type: "integer", format: "int64" });
    // The request body's $ref (#/components/schemas/Pet) is resolved into the schema.
    const addPet = tools.find((tool) => tool.name === "pet_addPet");
    expect(addPet?.inputSchema.properties?.body).to.deep.include({ required: ["name", "photoUrls"] });
    expect(serverStatus(await fetchStatus(gateway.baseUrl), "kinds/petstore")).to.deep.include({ ready: true, transport: "openapi", totalTools: 19 });
  });

  it("turns a call into the REST request (path parameter, credential) and its JSON answer into the result", async () => {
    const result = await call(client, "pet_getPetById", { petId: 7 });
    expect(result.isError).to.not.equal(true);
    expect(result.structuredContent).to.deep.include({ name: "doggie", status: "available" });
    expect(JSON.parse(textOf(result))).to.deep.equal(result.structuredContent);
    const found = await call(client, "pet_findPetsByStatus", { status: "available" });
    expect(found.structuredContent?.result).to.be.an("array");
  });

  it("answers HTTP errors as isError results with the status and the body", async () => {
    const invalid = await call(client, "pet_getPetById", { petId: "not-a-number" });
    expect(invalid.isError).to.equal(true);
    expect(textOf(invalid)).to.equal("HTTP 400");
    const incomplete = await call(client, "pet_addPet", { body: { name: "rex" } });
    expect(incomplete.isError).to.equal(true);
    // Prism says why in a header (sl-violations) and sends no body; a body is carried (see the 500 below).
    expect(textOf(incomplete)).to.equal("HTTP 422");
    const anonymous = await call(client, "anon_getPetById", { petId: 7 });
    expect(anonymous.isError).to.equal(true);
    expect(textOf(anonymous)).to.match(/^HTTP 401/);
  });

  it("sends path parameters, exploded and comma-joined query arrays, headers and the JSON body of our own document", async () => {
    const result = await call(client, "echo_updateItem", { itemId: "a b/c", tags: ["red", "blue"], ids: [1, 2], "X-Trace": "t-1", body: { name: "widget", size: 3 } });
    expect(result.structuredContent).to.deep.equal({
      method: "PUT",
      path: "/items/a%20b%2Fc",
      search: "?tags=red&tags=blue&ids=1%2C2",
      trace: "t-1",
      authorization: "Bearer echo-token",
      contentType: "application/json",
      body: { name: "widget", size: 3 },
    });
    const tools = (await client.client.listTools()).tools;
    const update = tools.find((tool) => tool.name === "echo_updateItem");
    expect(update?.description).to.equal("Replaces an item");
    expect(update?.inputSchema.required).to.deep.equal(["itemId", "body"]);
    expect(update?.inputSchema.properties?.body).to.deep.include({ required: ["name"] });
    // No operationId: method and path, sanitized to what clients accept.
    expect(tools.map((tool) => tool.name)).to.include.members(["echo_get_things_id_parts", "served_updateItem", "served_get_things_id_parts"]);
    const parts = await call(client, "echo_get_things_id_parts", { id: 5 });
    expect(parts.structuredContent).to.deep.include({ method: "GET", path: "/things/5/parts" });
  });

  it("reports a missing path parameter, a 500 and an HTML answer as isError results", async () => {
    const missing = await call(client, "echo_updateItem", { body: { name: "x" } });
    expect(missing).to.deep.include({ isError: true });
    expect(textOf(missing)).to.equal('missing required path parameter "itemId"');
    const broken = await call(client, "echo_broken", {});
    expect(broken).to.deep.include({ isError: true });
    expect(textOf(broken)).to.equal("HTTP 500: database on fire");
    const page = await call(client, "echo_page", {});
    expect(page).to.deep.include({ isError: true });
    expect(textOf(page)).to.equal("HTTP 200 answered text/html, not JSON: <html>login here</html>");
  });

  it("says why a document that does not parse or is not valid OpenAPI is not served", async () => {
    const [notJson, invalid] = await eventually(async () => {
      const status = await fetchStatus(gateway.baseUrl);
      const found = [serverStatus(status, "kinds/not-json"), serverStatus(status, "kinds/invalid")];
      return found.every((server) => server && server.message !== "connecting") && found;
    });
    expect(notJson?.ready).to.equal(false);
    expect(notJson?.message).to.match(/^invalid OpenAPI document: not JSON or YAML/);
    expect(invalid?.ready).to.equal(false);
    expect(invalid?.message).to.match(/^invalid OpenAPI document: .*#\/info must have required property 'version'/);
  });
});
