/**
 * What the Engine API sends, for the fields sandfleet reads. Lists and maps
 * that the engine may send as null are typed so, and read through values.ts.
 */

type StringMap = Record<string, string> | null;

export interface RawHealthConfig {
  Test?: string[] | null;
  Interval?: number;
  Timeout?: number;
  Retries?: number;
  StartPeriod?: number;
}

export interface RawContainer {
  Id: string;
  Name: string;
  Image: string;
  Created: string;
  State: {
    Status: string;
    Running: boolean;
    ExitCode: number;
    OOMKilled: boolean;
    StartedAt: string;
    FinishedAt: string;
    Pid: number;
    Health?: { Status?: string } | null;
  };
  Config: {
    Image?: string | null;
    Labels?: StringMap;
    User?: string | null;
    WorkingDir?: string | null;
    Env?: string[] | null;
    Cmd?: string[] | null;
    Entrypoint?: string[] | null;
    Healthcheck?: RawHealthConfig | null;
  };
  HostConfig: {
    NanoCpus?: number | null;
    Memory?: number | null;
    PidsLimit?: number | null;
    StorageOpt?: StringMap;
    ReadonlyRootfs?: boolean | null;
    NetworkMode?: string | null;
    CapDrop?: string[] | null;
    CapAdd?: string[] | null;
    SecurityOpt?: string[] | null;
    Privileged?: boolean | null;
    Runtime?: string | null;
    Init?: boolean | null;
    Binds?: string[] | null;
  };
  Mounts?: { Type: string; Name?: string; Destination: string; RW: boolean }[] | null;
  NetworkSettings: {
    Ports?: Record<string, { HostIp: string; HostPort: string }[] | null> | null;
    Networks?: Record<string, { IPAddress: string; MacAddress?: string }> | null;
  };
  ExecIDs?: string[] | null;
}

export interface RawContainerSummary {
  Id: string;
  Names?: string[] | null;
  Labels?: StringMap;
  State: string;
  Created: number;
  Ports?: { IP?: string; PrivatePort: number; PublicPort?: number; Type: string }[] | null;
}

export interface RawImage {
  Id: string;
  RepoTags?: string[] | null;
  Config?: {
    Labels?: StringMap;
    Env?: string[] | null;
    Cmd?: string[] | null;
    Entrypoint?: string[] | null;
    User?: string | null;
    WorkingDir?: string | null;
  } | null;
}

export interface RawImageSummary {
  Id: string;
  RepoTags?: string[] | null;
  Labels?: StringMap;
}

export interface RawNetwork {
  Id: string;
  Name: string;
  Labels?: StringMap;
  Internal: boolean;
  Driver?: string;
  Options?: StringMap;
  IPAM?: { Config?: { Subnet?: string; Gateway?: string }[] | null };
}

export interface RawVolume {
  Name: string;
  Labels?: StringMap;
  Mountpoint: string;
}

export interface RawExec {
  Running: boolean;
  ExitCode: number | null;
}

/** One line of a build's or an import's progress stream. */
export interface RawProgress {
  stream?: string;
  error?: string;
  errorDetail?: { message?: string };
}
