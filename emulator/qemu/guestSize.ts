/**
 * How many vCPUs and how much memory a QEMU guest gets: its machine type's (`nproc` and
 * `/proc/meminfo` in a build VM show an e2-standard-2's 2 vCPUs and 8 GiB, as on GCE), capped so
 * that the host can run two e2e test files at once.
 *
 * Differences from GCE that stay, because the host is small:
 * - memory is at most max(1 GiB, (host memory - 4 GiB) / 2): on a 24 GiB host a type with more
 *   than about 10 GiB (n1-standard-4's 15 GiB) boots with less than GCE gives it;
 * - vCPUs are at most the host's cores: on 2 cores an n1-standard-4 boots with 2.
 * QEMU only backs the memory the guest touches, so a large `-m` costs the host little until used.
 *
 * TCG gets no lower vCPU cap: QEMU runs each vCPU on its own host thread (multi-threaded TCG), and
 * `npm run bench:e2e` (an e2-standard-2 build VM on the 2-core host) measured the build about a
 * quarter faster with 2 vCPUs and 8 GiB than with the old 1 vCPU and 1 GiB on a quiet host, and
 * still a little faster with other tests loading both cores (see the README's benchmarks).
 */
import * as os from "node:os";

/** What the host has. */
export interface HostCapacity {
  /** Total memory in MiB. */
  memoryMiB: number;
  /** CPU cores (logical). */
  cores: number;
}

/** The machine type's vCPUs and memory (GCE's `guestCpus` and `memoryMb`). */
export interface TypeSize {
  /** vCPUs. */
  guestCpus: number;
  /** MiB. */
  memoryMb: number;
}

/** A guest's `-smp` and `-m`. */
export interface GuestSize {
  /** Virtual CPUs. */
  cpus: number;
  /** Memory in MiB. */
  memoryMiB: number;
}

/** Memory left to the host and whatever else runs on it (tests, QEMU's own use). */
const HOST_RESERVE_MIB = 4096;

/** Guests may share what is left between this many machines (two e2e files at once). */
const CONCURRENT_GUESTS = 2;

/** The memory cap never goes below this, however small the host (a smaller type keeps its own). */
const MIN_GUEST_MIB = 1024;

/** The host this process runs on. */
export function thisHost(): HostCapacity {
  return {
    memoryMiB: Math.floor(os.totalmem() / (1024 * 1024)),
    cores: os.availableParallelism(),
  };
}

/** The size a guest of machine type `type` boots with on `host` (see the module comment). */
export function guestSize(type: TypeSize, host: HostCapacity = thisHost()): GuestSize {
  const memoryCap = Math.max(
    MIN_GUEST_MIB,
    Math.floor((host.memoryMiB - HOST_RESERVE_MIB) / CONCURRENT_GUESTS),
  );
  return {
    cpus: Math.max(1, Math.min(type.guestCpus, host.cores)),
    memoryMiB: Math.min(type.memoryMb, memoryCap),
  };
}
