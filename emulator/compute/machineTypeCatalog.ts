/**
 * GCE's machine types: how many vCPUs and how much memory each name gives, for the predefined types
 * of the common series and for custom types (`custom-4-8192`, `n2-custom-8-32768-ext`...).
 *
 * Figures are those of Google's machine-family pages (general-purpose, compute-optimized,
 * memory-optimized, accelerator-optimized). Where a series is a rule (every size of `n2-standard-*`
 * has 4 GiB per vCPU) it is written as the rule, not as a table.
 *
 * Differences from GCE that stay:
 * - every zone offers every series here (GCE offers each series in a subset of zones, and says
 *   "does not exist in zone" elsewhere): the emulator has no zone catalog to check against;
 * - series outside this catalog (C4, C4A, T2A, H3, Z3, M2, M3, A3 Ultra...) are refused as unknown;
 * - accelerator-optimized types do not report their bundled GPUs (`accelerators`).
 */

/** One machine type as GCE describes it. */
export interface MachineTypeShape {
  /** Name, e.g. `e2-standard-2`. */
  name: string;
  /** vCPUs the guest sees. */
  guestCpus: number;
  /** Memory in MiB (GCE's `memoryMb` counts MiB: e2-standard-2's 8 GB is 8192). */
  memoryMb: number;
  /** True for shared-core types (e2-micro/small/medium, f1-micro, g1-small). */
  isSharedCpu: boolean;
  /** GCE's one-line description, e.g. `2 vCPUs, 8 GB RAM`. */
  description: string;
}

/** A machine type name that resolved, or why it did not (GCE's sentence, after the field and value). */
export type MachineTypeLookup = { shape: MachineTypeShape } | { error: string };

/** A predefined series' shape: its sizes and the memory each vCPU brings. */
interface SeriesRule {
  /** Name prefix, e.g. `n2-standard`. */
  prefix: string;
  /** The vCPU counts on offer. */
  vcpus: readonly number[];
  /** GiB of memory per vCPU. */
  gibPerVcpu: number;
}

const N2_SIZES = [2, 4, 8, 16, 32, 48, 64, 80, 96, 128] as const;
const N2D_SIZES = [2, 4, 8, 16, 32, 48, 64, 80, 96, 128, 224] as const;
const C2D_SIZES = [2, 4, 8, 16, 32, 56, 112] as const;
const C3_SIZES = [4, 8, 22, 44, 88, 176] as const;
const C3D_SIZES = [4, 8, 16, 30, 60, 90, 180, 360] as const;
const N4_SIZES = [2, 4, 8, 16, 32, 48, 64, 80] as const;

/** The predefined series that are exactly "vCPUs x GiB per vCPU". */
const SERIES_RULES: readonly SeriesRule[] = [
  { prefix: "e2-standard", vcpus: [2, 4, 8, 16, 32], gibPerVcpu: 4 },
  { prefix: "e2-highmem", vcpus: [2, 4, 8, 16], gibPerVcpu: 8 },
  { prefix: "e2-highcpu", vcpus: [2, 4, 8, 16, 32], gibPerVcpu: 1 },
  { prefix: "n1-standard", vcpus: [1, 2, 4, 8, 16, 32, 64, 96], gibPerVcpu: 3.75 },
  { prefix: "n1-highmem", vcpus: [2, 4, 8, 16, 32, 64, 96], gibPerVcpu: 6.5 },
  { prefix: "n1-highcpu", vcpus: [2, 4, 8, 16, 32, 64, 96], gibPerVcpu: 0.9 },
  { prefix: "n2-standard", vcpus: N2_SIZES, gibPerVcpu: 4 },
  { prefix: "n2-highmem", vcpus: N2_SIZES, gibPerVcpu: 8 },
  { prefix: "n2-highcpu", vcpus: N2_SIZES.filter((n) => n <= 96), gibPerVcpu: 1 },
  { prefix: "n2d-standard", vcpus: N2D_SIZES, gibPerVcpu: 4 },
  { prefix: "n2d-highmem", vcpus: N2D_SIZES.filter((n) => n <= 96), gibPerVcpu: 8 },
  { prefix: "n2d-highcpu", vcpus: N2D_SIZES, gibPerVcpu: 1 },
  { prefix: "n4-standard", vcpus: N4_SIZES, gibPerVcpu: 4 },
  { prefix: "n4-highmem", vcpus: N4_SIZES, gibPerVcpu: 8 },
  { prefix: "n4-highcpu", vcpus: N4_SIZES, gibPerVcpu: 2 },
  { prefix: "c2-standard", vcpus: [4, 8, 16, 30, 60], gibPerVcpu: 4 },
  { prefix: "c2d-standard", vcpus: C2D_SIZES, gibPerVcpu: 4 },
  { prefix: "c2d-highmem", vcpus: C2D_SIZES, gibPerVcpu: 8 },
  { prefix: "c2d-highcpu", vcpus: C2D_SIZES, gibPerVcpu: 2 },
  { prefix: "c3-standard", vcpus: C3_SIZES, gibPerVcpu: 4 },
  { prefix: "c3-highmem", vcpus: C3_SIZES, gibPerVcpu: 8 },
  { prefix: "c3-highcpu", vcpus: C3_SIZES, gibPerVcpu: 2 },
  { prefix: "c3d-standard", vcpus: C3D_SIZES, gibPerVcpu: 4 },
  { prefix: "c3d-highmem", vcpus: C3D_SIZES, gibPerVcpu: 8 },
  { prefix: "c3d-highcpu", vcpus: C3D_SIZES, gibPerVcpu: 2 },
  { prefix: "t2d-standard", vcpus: [1, 2, 4, 8, 16, 32, 48, 60], gibPerVcpu: 4 },
  { prefix: "g2-standard", vcpus: [4, 8, 12, 16, 24, 32, 48, 96], gibPerVcpu: 4 },
];

/** Series whose `-<n>-lssd` names (bundled local SSD) give the plain `-<n>` type's vCPUs and memory. */
const LSSD_PREFIXES: ReadonlySet<string> = new Set(["c3-standard", "c3d-standard", "c3d-highmem"]);

/** Types that are no rule: shared-core, GPU-bundling and memory-optimized (vCPUs, GiB). */
const LISTED: ReadonlyArray<readonly [name: string, vcpus: number, gib: number, shared?: string]> =
  [
    // E2 shared-core: 2 vCPUs that share a fraction of a physical core.
    ["e2-micro", 2, 1, "1/8"],
    ["e2-small", 2, 2, "1/4"],
    ["e2-medium", 2, 4, "1/2"],
    // N1 shared-core (GCE reports 614 and 1740 MiB, not 0.6 and 1.7 x 1024).
    ["f1-micro", 1, 614 / 1024, "shared"],
    ["g1-small", 1, 1740 / 1024, "shared"],
    // A2: 12 vCPUs and 85 GB (highgpu) or 170 GB (ultragpu) per A100.
    ...[1, 2, 4, 8].map((g) => [`a2-highgpu-${g}g`, 12 * g, 85 * g] as const),
    ["a2-megagpu-16g", 96, 1360],
    ...[1, 2, 4, 8].map((g) => [`a2-ultragpu-${g}g`, 12 * g, 170 * g] as const),
    // A3: 26 vCPUs and 234 GB per H100.
    ...[1, 2, 4, 8].map((g) => [`a3-highgpu-${g}g`, 26 * g, 234 * g] as const),
    ["a3-megagpu-8g", 208, 1872],
    ["a3-edgegpu-8g", 208, 1872],
    // M1 memory-optimized.
    ["m1-ultramem-40", 40, 961],
    ["m1-ultramem-80", 80, 1922],
    ["m1-ultramem-160", 160, 3844],
    ["m1-megamem-96", 96, 1433.6],
  ];

/** Memory in MiB of `gib` GiB as GCE rounds it (n1-highcpu-2's 1.8 GB is 1843 MiB). */
function mib(gib: number): number {
  return Math.round(gib * 1024);
}

/** `3.75 GB`, `15 GB`: GCE's descriptions print GB with at most two decimals. */
function gbText(memoryMb: number): string {
  return `${Number((memoryMb / 1024).toFixed(2))} GB`;
}

function predefined(name: string, vcpus: number, memoryMb: number): MachineTypeShape {
  return {
    name,
    guestCpus: vcpus,
    memoryMb,
    isSharedCpu: false,
    description: `${vcpus} vCPU${vcpus === 1 ? "" : "s"}, ${gbText(memoryMb)} RAM`,
  };
}

function listed(entry: (typeof LISTED)[number]): MachineTypeShape {
  const [name, vcpus, gib, shared] = entry;
  const shape = predefined(name, vcpus, mib(gib));
  if (shared === undefined) return shape;
  const core = shared === "shared" ? "shared physical core" : `${shared} shared physical core`;
  const what = name.startsWith("e2-") ? "Efficient Instance, " : "";
  return {
    ...shape,
    isSharedCpu: true,
    description: `${what}${vcpus} vCPU (${core}) and ${gbText(shape.memoryMb)} RAM`,
  };
}

/** Every predefined type, by name (built once: a few hundred small objects). */
const PREDEFINED: ReadonlyMap<string, MachineTypeShape> = (() => {
  const all = new Map<string, MachineTypeShape>();
  for (const rule of SERIES_RULES) {
    for (const n of rule.vcpus) {
      const memoryMb = mib(n * rule.gibPerVcpu);
      all.set(`${rule.prefix}-${n}`, predefined(`${rule.prefix}-${n}`, n, memoryMb));
      if (LSSD_PREFIXES.has(rule.prefix)) {
        const lssd = `${rule.prefix}-${n}-lssd`;
        all.set(lssd, predefined(lssd, n, memoryMb));
      }
    }
  }
  for (const entry of LISTED) all.set(entry[0], listed(entry));
  return all;
})();

/** Every predefined machine type (what `machineTypes.list` serves), in name order. */
export function predefinedMachineTypes(): MachineTypeShape[] {
  return [...PREDEFINED.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** A custom-type series' rules, from Google's custom machine type page. */
interface CustomRule {
  /** Whether `vcpus` is a count this series offers. */
  vcpusAllowed(vcpus: number): boolean;
  /** Memory per vCPU, in GiB, without extended memory. */
  minGibPerVcpu: number;
  maxGibPerVcpu: number;
  /** Total memory cap in GiB with `-ext` (extended memory); undefined when the series has none. */
  extendedMaxGib?: number;
  /** Total memory cap in GiB whatever the vCPUs (E2's 128 GB). */
  maxGib?: number;
}

const evenUpTo = (max: number) => (n: number) => n >= 2 && n <= max && n % 2 === 0;

/** Custom series by the prefix before `custom-` (`""` for the bare `custom-`, which is N1). */
const CUSTOM_RULES: Readonly<Record<string, CustomRule>> = {
  // N1: 1 or an even number up to 96; 0.9 to 6.5 GB per vCPU; up to 624 GB with extended memory.
  "": {
    vcpusAllowed: (n) => n === 1 || evenUpTo(96)(n),
    minGibPerVcpu: 0.9,
    maxGibPerVcpu: 6.5,
    extendedMaxGib: 624,
  },
  n1: {
    vcpusAllowed: (n) => n === 1 || evenUpTo(96)(n),
    minGibPerVcpu: 0.9,
    maxGibPerVcpu: 6.5,
    extendedMaxGib: 624,
  },
  // N2: even up to 32, then multiples of 4 up to 128; 0.5 to 8 GB per vCPU; 864 GB extended.
  n2: {
    vcpusAllowed: (n) => evenUpTo(32)(n) || (n > 32 && n <= 128 && n % 4 === 0),
    minGibPerVcpu: 0.5,
    maxGibPerVcpu: 8,
    extendedMaxGib: 864,
  },
  // N2D: 2, 4, 8, 16, then multiples of 16 up to 96; 0.5 to 8 GB per vCPU; 768 GB extended.
  n2d: {
    vcpusAllowed: (n) => [2, 4, 8].includes(n) || (n >= 16 && n <= 96 && n % 16 === 0),
    minGibPerVcpu: 0.5,
    maxGibPerVcpu: 8,
    extendedMaxGib: 768,
  },
  // E2: even from 2 to 32; 0.5 to 8 GB per vCPU, 128 GB at most; no extended memory.
  e2: { vcpusAllowed: evenUpTo(32), minGibPerVcpu: 0.5, maxGibPerVcpu: 8, maxGib: 128 },
  // N4: even up to 16, then multiples of 4 up to 80; 2 to 8 GB per vCPU; no extended memory.
  n4: {
    vcpusAllowed: (n) => evenUpTo(16)(n) || (n > 16 && n <= 80 && n % 4 === 0),
    minGibPerVcpu: 2,
    maxGibPerVcpu: 8,
  },
};

const CUSTOM_NAME = /^(?:([a-z][a-z0-9]*)-)?custom-(\d+)-(\d+)(-ext)?$/;

/** Memory of a custom type must be a whole number of these. */
const CUSTOM_MEMORY_STEP_MIB = 256;

/**
 * The custom type `name`, or GCE's reason for refusing it. The "multiple of 256MiB" and "does not
 * exist" sentences are GCE's own wording; the per-vCPU bound sentence follows the same pattern
 * (its exact GCE wording is not confirmed).
 */
function customType(name: string, match: RegExpExecArray): MachineTypeLookup {
  const [, series = "", vcpuText = "", memoryText = "", ext] = match;
  const rule = CUSTOM_RULES[series];
  const vcpus = Number(vcpuText);
  const memoryMb = Number(memoryText);
  const missing = { error: `Custom Machine type with name '${name}' does not exist.` };
  if (!rule || !rule.vcpusAllowed(vcpus)) return missing;
  if (ext && rule.extendedMaxGib === undefined) return missing;
  if (memoryMb % CUSTOM_MEMORY_STEP_MIB !== 0) {
    return {
      error: `Memory should be a multiple of ${CUSTOM_MEMORY_STEP_MIB}MiB, while ${memoryMb}MiB is requested.`,
    };
  }
  const min =
    Math.ceil((vcpus * rule.minGibPerVcpu * 1024) / CUSTOM_MEMORY_STEP_MIB) *
    CUSTOM_MEMORY_STEP_MIB;
  const perVcpuMax = mib(vcpus * rule.maxGibPerVcpu);
  const max = ext
    ? mib(rule.extendedMaxGib ?? 0)
    : Math.min(perVcpuMax, rule.maxGib === undefined ? Infinity : mib(rule.maxGib));
  if (memoryMb < min || memoryMb > max) {
    return {
      error: `Memory should be between ${min}MiB and ${max}MiB for the ${vcpus} vCPU machine, while ${memoryMb}MiB is requested.`,
    };
  }
  return {
    shape: {
      name,
      guestCpus: vcpus,
      memoryMb,
      isSharedCpu: false,
      description: "Custom created machine type.",
    },
  };
}

/**
 * Resolves a machine type name in `zone`: its shape, or GCE's sentence for why the name is
 * refused (which `instances.insert` puts after "Invalid value for field 'resource.machineType'").
 */
export function lookUpMachineType(name: string, zone: string): MachineTypeLookup {
  const shape = PREDEFINED.get(name);
  if (shape) return { shape };
  const custom = CUSTOM_NAME.exec(name);
  if (custom) return customType(name, custom);
  return { error: `Machine type with name '${name}' does not exist in zone '${zone}'.` };
}
