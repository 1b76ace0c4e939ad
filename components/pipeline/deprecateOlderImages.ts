import { apiMessage } from "../google/errors";
import type { ComputeApi } from "../google/computeApi";
import { enterPhase, type BuildRun } from "./buildRun";
import type { MadeImage } from "./imageBootDisk";

/**
 * Deprecates every other image of the family that is not deprecated yet, with the new image as
 * replacement and, with a TTL, a deletion date (COS Customizer's `-deprecate-old-images`). Returns
 * the names it deprecated. Idempotent: running it again deprecates nothing new.
 */
export async function deprecateOlderImages(
  api: ComputeApi,
  image: { project: string; name: string; family: string; selfLink: string },
  ttlDays: number | undefined,
  now = Date.now(),
): Promise<string[]> {
  const [members] = await api.read(`listing the images of family ${image.family}`, () =>
    api.clients.images.list(
      {
        project: image.project,
        filter: `(family = "${image.family}") AND (name != "${image.name}")`,
      },
      { ...api.callOptions(), autoPaginate: true },
    ),
  );
  const older = members.filter(
    (m) =>
      m.name &&
      m.name !== image.name &&
      m.family === image.family &&
      (!m.deprecated?.state || m.deprecated.state === "ACTIVE"),
  );
  const deleted = ttlDays ? new Date(now + ttlDays * 86_400_000).toISOString() : undefined;
  await Promise.all(
    older.map((m) =>
      api.mutate(`deprecating the image ${m.name}`, { project: image.project }, (requestId) =>
        api.clients.images.deprecate(
          {
            project: image.project,
            image: m.name as string,
            requestId,
            deprecationStatusResource: {
              state: "DEPRECATED",
              replacement: image.selfLink,
              ...(deleted ? { deleted } : {}),
            },
          },
          api.callOptions(),
        ),
      ),
    ),
  );
  return older.map((m) => m.name as string);
}

/** What deprecating the family came to: the images deprecated, or why it failed (the image stays). */
export interface Deprecation {
  deprecated: string[];
  error?: Error;
}

/** With `deprecateOlderImages` and a family: deprecates the family's other images. Never throws. */
export async function deprecateFamily(run: BuildRun, made: MadeImage): Promise<Deprecation> {
  await enterPhase(run, "deprecate");
  const { image: spec } = run.spec;
  if (!spec.deprecateOlderImages || !spec.family) return { deprecated: [] };
  try {
    const deprecated = await deprecateOlderImages(
      run.api,
      {
        project: made.ref.project,
        name: made.ref.name,
        family: spec.family,
        selfLink: made.selfLink,
      },
      spec.deprecatedImageTtlDays,
      run.now(),
    );
    if (deprecated.length) run.progress.info(`deprecated ${deprecated.join(", ")}`);
    return { deprecated };
  } catch (error) {
    return {
      deprecated: [],
      error: new Error(
        `deprecating older images of the family ${spec.family} failed: ${apiMessage(error)}`,
      ),
    };
  }
}
