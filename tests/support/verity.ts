/**
 * The host's check of the dm-verity hash tree that sealOemPartition writes
 * (provisioner-assets/steps/seal-oem-partition/verity-hash-tree.sh), as COS Customizer's tests make
 * it: `veritysetup verify` from Debian's cryptsetup-bin, over a file or device that holds the data
 * and, after it, the tree.
 */

/**
 * The arguments of `veritysetup` verifying `file`: `dataBytes` of data in 4096-byte blocks, the
 * tree right after them (no superblock, SHA-256, no salt), against the root `digest` (hex).
 */
export function veritysetupVerifyArgs(dataBytes: number, file: string, digest: string): string[] {
  return [
    "verify",
    "--no-superblock",
    "--format=1",
    "--hash=sha256",
    "--data-block-size=4096",
    "--hash-block-size=4096",
    `--data-blocks=${dataBytes / 4096}`,
    `--hash-offset=${dataBytes}`,
    "--salt=-",
    file,
    file,
    digest,
  ];
}
