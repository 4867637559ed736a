import { StringDecoder } from "node:string_decoder";
import { EngineUnavailableError } from "../../errors.ts";
import { labelFilters } from "./containers.ts";
import { readJsonLines } from "./demux.ts";
import { engineCall } from "./errors.ts";
import type { EngineHttp } from "./http.ts";
import type { EngineEvent, EventClient } from "../port.ts";

interface RawEvent {
  Action?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  timeNano?: number;
  time?: number;
}

/** The Docker engine keeps its newest 256 events, of every kind together (containers, volumes, networks, images). */
const EVENT_BUFFER = 256;
const FULL_MARGIN = 16;

export function eventClient(docker: EngineHttp): EventClient {
  return {
    async heldSince() {
      // Every event it holds, of any kind, up to now (fractional seconds: a past `until` answers at once).
      const raw = await engineCall("read engine events", async () =>
        readJsonLines<RawEvent>(
          await docker.stream("GET", "/events", { query: { since: 1, until: (Date.now() / 1000).toFixed(3) } }),
        ),
      );
      // Events of the last moment, after `until`, may already have pushed out some: near full counts as full.
      if (raw.length < EVENT_BUFFER - FULL_MARGIN) return 0;
      const oldest = raw[Math.max(0, raw.length - EVENT_BUFFER)];
      return oldest ? engineEvent(oldest).timeMs : 0;
    },
    async containerEvents(params) {
      const raw = await engineCall("read engine events", async () => {
        const stream = await docker.stream("GET", "/events", {
          query: {
            since: Math.floor(params.sinceMs / 1000),
            until: Math.ceil(params.untilMs / 1000),
            filters: JSON.stringify({
              type: ["container"],
              event: [...params.actions],
              label: labelFilters(params.labels),
              ...(params.containerId ? { container: [params.containerId] } : {}),
            }),
          },
        });
        return readJsonLines<RawEvent>(stream);
      });
      return raw.map(engineEvent);
    },

    async *watch(params) {
      const stream = await engineCall("watch engine events", () =>
        docker.stream("GET", "/events", {
          query: {
            ...(params.sinceMs !== undefined ? { since: Math.floor(params.sinceMs / 1000) } : {}),
            filters: JSON.stringify({
              type: ["container"],
              event: [...params.actions],
              label: labelFilters(params.labels),
            }),
          },
        }),
      );
      const stop = () => stream.destroy();
      params.signal.addEventListener("abort", stop, { once: true });
      try {
        // A character split across two chunks is decoded whole.
        const decoder = new StringDecoder("utf8");
        let partial = "";
        for await (const chunk of stream) {
          const lines = (partial + decoder.write(chunk as Buffer)).split("\n");
          partial = lines.pop() ?? "";
          for (const line of lines) if (line.trim()) yield engineEvent(JSON.parse(line) as RawEvent);
        }
      } catch (error) {
        if (!params.signal.aborted) throw error;
      } finally {
        params.signal.removeEventListener("abort", stop);
        stream.destroy();
      }
      if (!params.signal.aborted) throw new EngineUnavailableError("the engine closed its event stream");
    },
  };
}

function engineEvent(event: RawEvent): EngineEvent {
  return {
    timeMs: event.timeNano ? Math.floor(event.timeNano / 1e6) : (event.time ?? 0) * 1000,
    // "exec_start: sh -c ..." -> "exec_start", "sh -c ..."
    action: (event.Action ?? "").split(":")[0] ?? "",
    detail: (event.Action ?? "").split(": ").slice(1).join(": "),
    containerId: event.Actor?.ID ?? "",
    execId: event.Actor?.Attributes?.execID,
    attributes: event.Actor?.Attributes ?? {},
  };
}
