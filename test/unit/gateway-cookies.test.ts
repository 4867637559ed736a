import { describe, expect, it } from "vitest";
import { connectOrigin, gatewayBase, originLabel } from "../../provider/runtime/sandboxes/connect-tokens.ts";
import {
  isReservedCookieName,
  sandboxCookieHeader,
  sandboxSetCookies,
  tokenCookies,
} from "../../provider/serve/gateway-cookies.ts";

describe("the gateway's cookies", () => {
  it("reserves sandfleet_* under any case and any stack of __Host-/__Secure- prefixes", () => {
    for (const name of [
      "sandfleet_connect",
      "SANDFLEET_CONNECT",
      " sandfleet_connect ",
      "__Host-sandfleet_connect",
      "__host-sandfleet_connect",
      "__Secure-Sandfleet_Connect",
      "__Host-__Secure-sandfleet_connect",
      "__Host- sandfleet_connect",
      "sandfleet_dashboard",
    ])
      expect(isReservedCookieName(name), name).toBe(true);
    for (const name of ["app", "sandfleet", "my_sandfleet_connect", "__Host-app", "sandfleet-connect"])
      expect(isReservedCookieName(name), name).toBe(false);
  });

  it("drops a sandbox's Set-Cookie of a reserved name (nameless ones too) and its Domain attribute", () => {
    expect(
      sandboxSetCookies([
        "sandfleet_connect=x; Path=/",
        "=sandfleet_connect=x",
        " = sandfleet_connect=x",
        "sandfleet_connect",
        "__Secure-SANDFLEET_CONNECT=x; Secure",
        "a=1; Domain=localhost; Path=/",
        "b=2;domain=.example.com;HttpOnly",
        "c=3; DOMAIN ; Secure",
      ]),
    ).toEqual(["a=1; Path=/", "b=2;HttpOnly", "c=3; Secure"]);
  });

  it("never passes the gateway's cookies on, and reads at most four token cookies of its exact name", () => {
    expect(sandboxCookieHeader("sandfleet_connect=t; a=1; __Host-sandfleet_connect=t; SANDFLEET_CONNECT=t; b=2")).toBe(
      "a=1; b=2",
    );
    expect(sandboxCookieHeader("sandfleet_connect=t")).toBeUndefined();
    expect(
      tokenCookies("a=1; sandfleet_connect=t1; SANDFLEET_CONNECT=x; sandfleet_connect=t2", "sandfleet_connect"),
    ).toEqual(["t1", "t2"]);
    expect(tokenCookies("sandfleet_connect=t1", "__Host-sandfleet_connect")).toEqual([]);
    expect(tokenCookies(Array(9).fill("sandfleet_connect=t").join("; "), "sandfleet_connect")).toHaveLength(4);
  });
});

describe("a sandbox port's own origin", () => {
  it("is a host name under the gateway's, one per sandbox and port", () => {
    const base = gatewayBase("https://sandboxes.example.com:8443");
    const origin = connectOrigin(base, "3f2a", 8000);
    expect(origin.origin).toBe(`https://${originLabel("3f2a", 8000)}.sandboxes.example.com:8443`);
    expect(originLabel("3f2a", 8000)).toMatch(/^[0-9a-f]{16}-8000$/);
    expect(originLabel("3f2a", 8001)).not.toBe(originLabel("3f2a", 8000));
    expect(originLabel("3f2b", 8000)).not.toBe(originLabel("3f2a", 8000));
  });

  it("reads a loopback address as localhost, and refuses other addresses and URLs with more than a host", () => {
    expect(gatewayBase("http://127.0.0.1:8088").host).toBe("localhost:8088");
    expect(gatewayBase("http://[::1]:8088").host).toBe("localhost:8088");
    expect(() => gatewayBase("http://10.0.0.5:8088")).toThrow(/names an address/);
    expect(() => gatewayBase("http://[fd00::1]:8088")).toThrow(/names an address/);
    expect(() => gatewayBase("https://sandboxes.example.com/path")).toThrow(/nothing after its host/);
    expect(() => gatewayBase("ftp://sandboxes.example.com")).toThrow(/http or https/);
    expect(() => gatewayBase("sandboxes")).toThrow(/not a URL/);
  });
});
