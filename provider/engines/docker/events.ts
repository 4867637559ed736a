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

export function eventClient(docker: EngineHttp): EventClient {
  return {
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
