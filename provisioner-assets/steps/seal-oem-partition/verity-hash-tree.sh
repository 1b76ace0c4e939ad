# shellcheck shell=bash
# A dm-verity hash tree computed with coreutils alone (dd, split, sha256sum, basenc, truncate):
# COS has no veritysetup, and COS Customizer's way around that (a container image of veritysetup
# shipped on its CIDATA disk and loaded into docker) would make this build depend on docker running
# and on a second architecture-specific image. The tree is the one `veritysetup format
# --no-superblock --format=1 --data-block-size=4096 --hash-block-size=4096 --hash=sha256 --salt=-`
# writes, so the host's `veritysetup verify` checks it and the kernel's dm-verity target reads it:
#   - level 0 holds the SHA-256 of every 4096-byte data block, 128 digests per 4096-byte hash block,
#     the last block zero-padded; level n+1 hashes the blocks of level n, up to a single block;
#   - the levels are stored from the top one down, starting at the hash offset;
#   - the root digest is the SHA-256 of the top block.
# No salt: with a salt every block's digest would need its own sha256sum process (salt and block
# concatenated), far too slow for a 1 GiB partition; the salt only makes precomputed collisions
# useless, and a SHA-256 root digest on the kernel command line protects the data without it.

readonly VERITY_BLOCK=4096
# Blocks hashed per batch: 4 MiB of data in the scratch directory at a time.
readonly VERITY_BATCH=1024

# verity_hash_blocks SOURCE BLOCKS WORK OUT: appends to OUT the binary SHA-256 digests of the first
# BLOCKS 4096-byte blocks of SOURCE (a device or file), in order.
verity_hash_blocks() {
  local source=$1 blocks=$2 work=$3 out=$4 done=0 count
  mkdir -p "$work/blocks"
  while ((done < blocks)); do
    count=$((blocks - done < VERITY_BATCH ? blocks - done : VERITY_BATCH))
    rm -f "$work/blocks/"*
    # skip/count in bytes: the batch starts at block `done`.
    dd "if=$source" "of=$work/batch" bs=1M skip="$((done * VERITY_BLOCK))" \
      count="$((count * VERITY_BLOCK))" iflag=skip_bytes,count_bytes status=none || return 1
    (($(stat -c %s "$work/batch") == count * VERITY_BLOCK)) || return 1
    split -b "$VERITY_BLOCK" -a 4 -d "$work/batch" "$work/blocks/" || return 1
    sha256sum "$work/blocks/"* | cut -d ' ' -f 1 | tr -d '\n' | tr 'a-f' 'A-F' | basenc --base16 -d >>"$out" ||
      return 1
    done=$((done + count))
  done
  rm -rf "$work/blocks" "$work/batch"
}

# verity_format DEVICE DATA_BLOCKS HASH_OFFSET_BYTES WORK: computes the hash tree of the first
# DATA_BLOCKS blocks of DEVICE, writes it to DEVICE at HASH_OFFSET_BYTES and prints the root digest
# (hex). WORK is an empty scratch directory (tmpfs).
verity_format() {
  local device=$1 blocks=$2 offset=$3 work=$4 level=0 size
  local levels=()
  : >"$work/level0"
  verity_hash_blocks "$device" "$blocks" "$work" "$work/level0" || return 1
  while :; do
    size=$(stat -c %s "$work/level$level")
    size=$(((size + VERITY_BLOCK - 1) / VERITY_BLOCK * VERITY_BLOCK))
    truncate -s "$size" "$work/level$level"
    levels=("$work/level$level" "${levels[@]}")
    ((size > VERITY_BLOCK)) || break
    : >"$work/level$((level + 1))"
    verity_hash_blocks "$work/level$level" "$((size / VERITY_BLOCK))" "$work" "$work/level$((level + 1))" ||
      return 1
    level=$((level + 1))
  done
  local file position=$offset
  for file in "${levels[@]}"; do
    dd "if=$file" "of=$device" bs=1M seek="$position" oflag=seek_bytes conv=notrunc,fsync status=none ||
      return 1
    position=$((position + $(stat -c %s "$file")))
  done
  sha256sum "${levels[0]}" | cut -d ' ' -f 1
}

# verity_tree_bytes DATA_BLOCKS: the size of the hash tree for DATA_BLOCKS blocks.
verity_tree_bytes() {
  local blocks=$1 total=0
  while :; do
    blocks=$(((blocks + 127) / 128))
    total=$((total + blocks))
    ((blocks > 1)) || break
  done
  printf '%d' "$((total * VERITY_BLOCK))"
}
