/** A boot entry of a grub.cfg: its title and the arguments of its `linux` line (kernel first). */
export type GrubEntry = [title: string, linux: string];

/**
 * The text of a grub.cfg laid out as COS ships it: one `menuentry "<title>" {` block per entry,
 * holding its indented `linux` line, then the `trailer` lines, ending with a newline.
 */
export function grubConfig(entries: GrubEntry[], trailer: string[] = []): string {
  const blocks = entries.flatMap(([title, linux]) => [
    `menuentry "${title}" {`,
    `  linux ${linux}`,
    "}",
  ]);
  return [...blocks, ...trailer, ""].join("\n");
}
