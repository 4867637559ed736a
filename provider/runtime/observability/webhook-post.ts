/**
 * One POST of a webhook, to the address that was checked. A name is looked
 * up here, every address it has is checked, and the connection goes to the
 * address that passed (the check is in the socket's own lookup, so a name
 * that answers once with a public address and then with 127.0.0.1 cannot
 * slip between check and connect). Redirects are never followed.
 */
import type { LookupAddress } from "node:dns";
import type { RequestOptions } from "node:http";
import type { LookupFunction } from "node:net";
import { ALLOW_PRIVATE_WORDS, isIpHost, nonPublicAddress, nonPublicHost } from "../../addresses.ts";

export interface PostResult {
  status: number;
}

/** Why a delivery to this address is refused, or undefined. */
function refusal(host: string, address: string, allowPrivate: boolean): string | undefined {
  if (allowPrivate) return undefined;
  const inside = nonPublicAddress(address);
  return inside ? `${host} resolves to ${address}, ${inside}; ${ALLOW_PRIVATE_WORDS}` : undefined;
}

/** A socket lookup that refuses a name if any of its addresses is inside a network (without allowPrivate). */
function checkedLookup(dnsLookup: typeof import("node:dns").lookup, allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) {
        callback(error, "", 4);
        return;
      }
      const refused = addresses.map((a) => refusal(hostname, a.address, allowPrivate)).find((r) => r !== undefined);
      if (refused) {
        callback(Object.assign(new Error(refused), { code: "EWEBHOOKPRIVATE" }), "", 4);
        return;
      }
      if (options.all) callback(null, addresses);
      else callback(null, addresses[0]?.address ?? "", addresses[0]?.family ?? 4);
    });
  };
}

/**
 * POSTs a body; resolves with the status, rejects on a refusal, a network error or the time limit.
 * Node's HTTP, TLS and DNS modules load here, on the first delivery: every CLI run would pay for them otherwise.
 */
export async function postWebhook(
  url: string,
  headers: Record<string, string>,
  body: string,
  options: { allowPrivate: boolean; timeoutMs: number; signal?: AbortSignal },
): Promise<PostResult> {
  const target = new URL(url);
  const host = target.hostname.replace(/^\[|\]$/g, "");
  // An address in the URL is never looked up: check it as it is.
  const inside = options.allowPrivate ? undefined : nonPublicHost(target.hostname);
  if (inside) throw new Error(`${host} is ${inside}; ${ALLOW_PRIVATE_WORDS}`);
  const [{ lookup: dnsLookup }, { request }] = await Promise.all([
    import("node:dns"),
    target.protocol === "https:" ? import("node:https") : import("node:http"),
  ]);
  const requestOptions: RequestOptions = {
    method: "POST",
    headers: { ...headers, "content-length": String(Buffer.byteLength(body)) },
    signal: options.signal
      ? AbortSignal.any([options.signal, AbortSignal.timeout(options.timeoutMs)])
      : AbortSignal.timeout(options.timeoutMs),
    // A fresh connection each time: a kept-alive socket would skip the lookup and its check.
    agent: false,
    ...(isIpHost(target.hostname) ? {} : { lookup: checkedLookup(dnsLookup, options.allowPrivate) }),
  };
  return new Promise((resolve, reject) => {
    const req = request(target, requestOptions, (response) => {
      response.resume();
      response.on("end", () => {
        resolve({ status: response.statusCode ?? 0 });
      });
      response.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}
