// DNS-rebinding protection, in process: Host and Origin pairs a browser can produce.
import { expect } from "chai";
import { defaultAllowedHosts } from "../../internal/config/broker-options.js";
import { HostGuard } from "../../internal/transport/http-checks.js";

describe("unit: HostGuard", () => {
  const loopback = new HostGuard({ allowedHosts: defaultAllowedHosts("127.0.0.1"), allowedOrigins: [] });
  const open = new HostGuard({ allowedHosts: defaultAllowedHosts("0.0.0.0"), allowedOrigins: [] });

  it("listening on 0.0.0.0 allows any Host but no browser Origin at all, the rebinding pair (Origin host = Host) included", () => {
    expect(defaultAllowedHosts("0.0.0.0")).to.deep.equal([]);
    expect(open.check({ host: "gateway.internal:8080" })).to.equal(undefined);
    expect(open.check({ host: "evil.example:8080", origin: "http://evil.example:8080" })).to.match(/need --allowed-origins/);
    expect(open.check({ host: "gateway.internal", origin: "null" })).to.match(/not allowed/);
  });

  it("allowed origins are compared as full origins: scheme, host and port (default ports explicit)", () => {
    const guard = new HostGuard({ allowedHosts: [], allowedOrigins: ["https://app.example", "http://localhost:3000/"] });
    expect(guard.check({ host: "gw", origin: "https://app.example" })).to.equal(undefined);
    expect(guard.check({ host: "gw", origin: "https://app.example:443" })).to.equal(undefined);
    expect(guard.check({ host: "gw", origin: "http://app.example" })).to.match(/not allowed/);
    expect(guard.check({ host: "gw", origin: "https://app.example:8443" })).to.match(/not allowed/);
    expect(guard.check({ host: "gw", origin: "http://localhost:3000" })).to.equal(undefined);
    expect(guard.check({ host: "gw", origin: "http://localhost:3001" })).to.match(/not allowed/);
    expect(guard.check({ host: "gw", origin: "not a url" })).to.match(/not allowed/);
  });

  it("on loopback, only the gateway's own origin passes: another local app's port or scheme does not", () => {
    expect(loopback.check({ host: "127.0.0.1:8001", origin: "http://127.0.0.1:8001" })).to.equal(undefined);
    expect(loopback.check({ host: "127.0.0.1:8001", origin: "http://127.0.0.1:3000" })).to.match(/not allowed/);
    expect(loopback.check({ host: "127.0.0.1:8001", origin: "https://127.0.0.1:8001" })).to.match(/not allowed/);
    expect(loopback.check({ host: "localhost:8001", origin: "http://127.0.0.1:8001" })).to.match(/not allowed/);
    expect(loopback.check({ host: "evil.example:8001" })).to.match(/host "evil.example:8001" is not allowed/);
  });

  it("behind a TLS-terminating proxy, the page of the gateway's https origin passes", () => {
    const guard = new HostGuard({ allowedHosts: ["gw.example"], allowedOrigins: [] });
    expect(guard.check({ host: "gw.example", origin: "https://gw.example", "x-forwarded-proto": "https" })).to.equal(undefined);
    expect(guard.check({ host: "gw.example", origin: "https://gw.example" })).to.match(/not allowed/);
    expect(guard.check({ host: "gw.example", origin: "http://gw.example" })).to.equal(undefined);
  });

  it('"*" allows every origin', () => {
    expect(new HostGuard({ allowedHosts: [], allowedOrigins: ["*"] }).check({ host: "x", origin: "https://anything" })).to.equal(undefined);
  });
});
