# shellcheck shell=bash
# The disk layout of extendOemPartition, sealOemPartition, reclaimRootPartition and
# disableAutoUpdate, made before the first step as COS Customizer does (its repartitionBootDisk), so
# that scripts find the larger OEM partition. Each stage checks the disk and is skipped when its
# work is there, so the phase resumes at the right stage after every reboot:
#   1. switch root (reclaim): copy ROOT-A to ROOT-B, make KERN-B the highest priority, reboot into B;
#   2. disk resize: ask for the boot disk at diskSizeGb when it is smaller (BuildDiskResize:), wait;
#   3. relocation (reclaim or OEM growth): install a unit whose stop action, at shutdown, shrinks
#      ROOT-A to 4 KiB, moves STATE and moves and grows OEM (relocate-partitions.sh), reboot;
#   4. OEM filesystem: grown to the partition (or to the requested size when it is to be sealed).
# The stand-in's boot (and COS's) then grows STATE to the end of the disk.

LAYOUT_RECLAIM=false
LAYOUT_SEAL=false
# Requested OEM filesystem size in bytes (0: OEM is not grown), and the OEM partition it needs.
LAYOUT_OEM_FS_BYTES=0
LAYOUT_OEM_TARGET=0
# Label of the first disk-layout step: the layout's failures are reported as that step's.
LAYOUT_LABEL=""

# disk_layout_load: reads which disk-layout steps the build has.
disk_layout_load() {
  local index type size
  LAYOUT_RECLAIM=false LAYOUT_SEAL=false LAYOUT_OEM_FS_BYTES=0 LAYOUT_OEM_TARGET=0 LAYOUT_LABEL=""
  for ((index = 0; index < STEP_COUNT; index++)); do
    config_read type "steps/$index/type"
    case $type in
    extendOemPartition)
      config_int size "steps/$index/size-bytes"
      LAYOUT_OEM_FS_BYTES=$size
      ;;
    sealOemPartition) LAYOUT_SEAL=true LAYOUT_RECLAIM=true ;;
    reclaimRootPartition | disableAutoUpdate) LAYOUT_RECLAIM=true ;;
    *) continue ;;
    esac
    [[ -n $LAYOUT_LABEL ]] || LAYOUT_LABEL="step $((index + 1))/$STEP_COUNT $type"
  done
  if [[ $LAYOUT_SEAL == true ]] && ((LAYOUT_OEM_FS_BYTES == 0)); then
    LAYOUT_OEM_FS_BYTES=$DEFAULT_OEM_FS_BYTES
  fi
  if ((LAYOUT_OEM_FS_BYTES > 0)); then
    LAYOUT_OEM_TARGET=$(oem_partition_sectors "$LAYOUT_OEM_FS_BYTES" "$LAYOUT_SEAL")
  fi
}

# prepare_disk_layout: runs the stages still to do (some end with a reboot), then marks the layout done.
prepare_disk_layout() {
  disk_layout_load
  [[ -n $LAYOUT_LABEL ]] || return 0
  local finished
  state_read finished layout-done
  [[ $finished == true ]] && return 0
  CURRENT_LABEL=$LAYOUT_LABEL
  state_mark_running "$LAYOUT_LABEL"
  # After every reboot too: the orchestrator names this step if the machine stops before the end
  # (a power cut during the relocation at shutdown says nothing more).
  status "$LAYOUT_LABEL: started (its disk layout, before the first step)"
  layout_switch_root
  layout_resize_disk
  layout_relocate
  layout_grow_oem_filesystem
  state_write layout-done true
  # shellcheck disable=SC2153 # STATE_DIR is lib/paths.sh's
  rm -f "$STATE_DIR/running"
  status "$LAYOUT_LABEL: the disk layout is in place"
}

# layout_reboot WHY: ends this run with a reboot; the next run goes on with the next stage.
layout_reboot() {
  status "$LAYOUT_LABEL: $1; rebooting"
  rm -f "$STATE_DIR/running"
  sync
  reboot_for_step "the disk layout goes on with its next stage after the reboot"
}

# The partitions as the kernel sees them now (layout_read_table): start and size in sectors,
# partition number and device.
# shellcheck disable=SC2034 # some are set for completeness, through partition_field
{
  ROOT_A_START=0 ROOT_A_SIZE=0 ROOT_A_NR=0 ROOT_A_DEVICE=""
  STATE_START=0 STATE_SIZE=0 STATE_NR=0 STATE_DEVICE=""
  OEM_START=0 OEM_SIZE=0 OEM_NR=0 OEM_DEVICE=""
  LAYOUT_DISK="" LAYOUT_DISK_SECTORS=0
}

# layout_partition PREFIX NAME: sets <PREFIX>_START, _SIZE, _NR and _DEVICE of partition NAME.
layout_partition() {
  if ! partition_device "$1_DEVICE" "$2" || ! partition_field "$1_START" "$2" start ||
    ! partition_field "$1_SIZE" "$2" size || ! partition_field "$1_NR" "$2" partition; then
    fail "$CURRENT_LABEL" "the boot disk has no $2 partition (COS's GPT names its partitions STATE, ROOT-A, ROOT-B, OEM)"
  fi
}

layout_read_table() {
  layout_partition ROOT_A ROOT-A
  layout_partition STATE STATE
  layout_partition OEM OEM
  boot_disk LAYOUT_DISK || fail "$CURRENT_LABEL" "could not find the disk holding the STATE partition"
  boot_disk_sectors LAYOUT_DISK_SECTORS || fail "$CURRENT_LABEL" "could not read the boot disk's size"
}

layout_is_relocated() {
  local target=$LAYOUT_OEM_TARGET
  # An OEM partition that is already as large as asked stays where it is (COS Customizer warns too).
  if ((target > 0 && target <= OEM_SIZE && OEM_START < ROOT_A_START)); then
    target=0
  fi
  layout_relocated "$LAYOUT_RECLAIM" "$target" "$ROOT_A_START" "$ROOT_A_SIZE" "$STATE_START" "$OEM_START"
}

# Stage 1: run from ROOT-B, so that ROOT-A can be reclaimed.
layout_switch_root() {
  [[ $LAYOUT_RECLAIM == true ]] || return 0
  local running root_b root_a
  running=$(rootdev -s) || fail "$CURRENT_LABEL" "rootdev -s failed: cannot tell which root partition is running"
  partition_device root_b ROOT-B || fail "$CURRENT_LABEL" "the boot disk has no ROOT-B partition"
  [[ $running == "$root_b" ]] && return 0
  layout_read_table
  if layout_is_relocated; then
    fail "$CURRENT_LABEL" "ROOT-A is reclaimed already, but the machine runs from $running, not from ROOT-B ($root_b)"
  fi
  partition_device root_a ROOT-A || fail "$CURRENT_LABEL" "the boot disk has no ROOT-A partition"
  status "$LAYOUT_LABEL: copying ROOT-A ($root_a) to ROOT-B ($root_b), to boot from B and reclaim A"
  run_logged dd "if=$root_a" "of=$root_b" bs=4M conv=fsync status=none ||
    fail "$CURRENT_LABEL" "could not copy ROOT-A to ROOT-B"
  run_logged cgpt prioritize -P 5 -i 4 "$LAYOUT_DISK" ||
    fail "$CURRENT_LABEL" "cgpt prioritize could not make KERN-B the highest priority"
  layout_reboot "ROOT-B holds the root filesystem and KERN-B has the highest priority"
}

# Stage 2: the boot disk at the size the build ends with. The orchestrator created it at the source
# image's size, so that the first boot did not grow STATE into the space the layout needs.
layout_resize_disk() {
  local sectors wanted
  boot_disk_sectors sectors || fail "$CURRENT_LABEL" "could not read the boot disk's size"
  wanted=$((DISK_SIZE_GB * 1024 * 1024 * 1024 / SECTOR_BYTES))
  ((wanted > sectors)) || return 0
  status "$LAYOUT_LABEL: asking for the boot disk at $DISK_SIZE_GB GB (it has $((sectors / 2048)) MiB)"
  request_disk_resize "$DISK_SIZE_GB" ||
    fail "$CURRENT_LABEL" "the boot disk was not resized to $DISK_SIZE_GB GB within $DISK_RESIZE_TIMEOUT_SECONDS s"
  wait_for_disk_sectors "$wanted" && return 0
  # A disk whose driver never reports the new size (QEMU's NVMe controller, unlike GCE's) is read
  # again at boot: one reboot, then the request above finds the disk large enough. Only once.
  local rebooted
  state_read rebooted layout-resize-reboot
  if [[ $rebooted != true ]]; then
    state_write layout-resize-reboot true
    layout_reboot "the kernel still sees $((sectors / 2048)) MiB after the resize, so the disk is read again at boot"
  fi
  fail "$CURRENT_LABEL" "the boot disk was resized to $DISK_SIZE_GB GB, but the kernel still sees $((sectors / 2048)) MiB"
}

# wait_for_disk_sectors N: up to 30 s (at most DISK_RESIZE_TIMEOUT_SECONDS) for the kernel to see the
# disk at N sectors or more (GCE's guests see a resize at once). After 5 s it asks the disk's driver
# to look again: the SCSI device's `rescan`, or the NVMe controller's `rescan_controller`.
wait_for_disk_sectors() {
  local sectors tries=0 disk device_dir limit=30
  ((DISK_RESIZE_TIMEOUT_SECONDS < limit)) && limit=$DISK_RESIZE_TIMEOUT_SECONDS
  # Found here: after the reboot into ROOT-B nothing earlier in this run has read the table.
  boot_disk disk || return 1
  device_dir=$ROOT/sys/class/block/${disk##*/}/device
  while ((tries <= limit)); do
    boot_disk_sectors sectors || return 1
    ((sectors >= $1)) && return 0
    if ((tries == 5)); then
      if [[ -e $device_dir/rescan ]]; then
        echo 1 >"$device_dir/rescan" || true
      elif [[ -e $device_dir/rescan_controller ]]; then
        echo 1 >"$device_dir/rescan_controller" || true
      fi
    fi
    sleep 1
    tries=$((tries + 1))
  done
  return 1
}

# Stage 3: the partitions move at the next shutdown, once they are unmounted.
layout_relocate() {
  layout_read_table
  local pending
  state_read pending layout-relocation
  if layout_is_relocated; then
    rm -f "$STATE_DIR/layout-relocation"
    return 0
  fi
  if [[ -n $pending ]]; then
    fail "$CURRENT_LABEL" "the partitions were not relocated at the last shutdown (its 'disk layout at shutdown' lines say why): $(one_line "$pending")"
  fi
  [[ $LAYOUT_RECLAIM == true || $LAYOUT_OEM_TARGET -gt 0 ]] || return 0
  local target=$LAYOUT_OEM_TARGET plan new_state new_oem_start new_oem_size room
  ((target > OEM_SIZE)) || target=0
  plan=$(relocation_plan "$LAYOUT_RECLAIM" "$target" "$ROOT_A_START" "$STATE_START" "$OEM_SIZE")
  read -r _ new_state new_oem_start new_oem_size <<<"$plan"
  room=$(state_room "$new_state" "$LAYOUT_DISK_SECTORS")
  if ((room < 256 * MIB_SECTORS)); then
    fail "$CURRENT_LABEL" "the boot disk ($((LAYOUT_DISK_SECTORS / 2048)) MiB) leaves STATE only $((room / 2048)) MiB after sector $new_state: raise diskSizeGb"
  fi
  local shrink=false
  [[ $LAYOUT_RECLAIM == true ]] && ((ROOT_A_SIZE > MINIMAL_PARTITION_SECTORS)) && shrink=true
  install_relocation_unit "$shrink" "$new_state" "$new_oem_start" "$new_oem_size"
  state_write layout-relocation "STATE to sector $new_state, OEM to $new_oem_start (+$new_oem_size), ROOT-A shrunk: $shrink"
  layout_reboot "the partitions move at shutdown: STATE to sector $new_state$( ((new_oem_size > 0)) && printf ', OEM to sector %d with %d MiB' "$new_oem_start" "$((new_oem_size / 2048))")"
}

# install_relocation_unit SHRINK NEW_STATE_START NEW_OEM_START NEW_OEM_SIZE
install_relocation_unit() {
  local dir="$RUN_DIR/relocation" unit="$ROOT/etc/systemd/system/pci-relocate-partitions.service"
  local here="${BASH_SOURCE[0]%/*}"
  mkdir -p "$dir"
  cp "$here/relocate-partitions.sh" "$dir/relocate-partitions.sh"
  {
    printf 'STATUS_MARKER=%q\n' "$MARKER_STATUS"
    printf 'DISK=%q\nSTATE_NR=%q\nOEM_NR=%q\nROOT_A_NR=%q\n' "$LAYOUT_DISK" "$STATE_NR" "$OEM_NR" "$ROOT_A_NR"
    printf 'STATE_DEVICE=%q\nOEM_DEVICE=%q\nSHRINK_ROOT_A=%q\n' "$STATE_DEVICE" "$OEM_DEVICE" "$1"
    printf 'NEW_STATE_START=%q\nNEW_OEM_START=%q\nNEW_OEM_SIZE=%q\n' "$2" "$3" "$4"
  } >"$dir/plan"
  sed -e "s|@TOOL@|${dir#"$ROOT"}/relocate-partitions.sh|" -e "s|@PLAN@|${dir#"$ROOT"}/plan|" \
    "$here/relocation-unit.service" >"$unit"
  run_logged systemctl daemon-reload || fail "$CURRENT_LABEL" "systemctl daemon-reload failed"
  run_logged systemctl start pci-relocate-partitions.service ||
    fail "$CURRENT_LABEL" "could not start pci-relocate-partitions.service"
  # journald writes to /var/log/journal on STATE, which would keep STATE mounted: send it back to
  # /run for the rest of this boot.
  run_logged journalctl --relinquish-var || status "warning: journald could not leave /var (STATE may stay mounted)"
}

# Stage 4: the OEM filesystem fills its grown partition; when it is to be sealed, exactly the
# requested size, so the second half is left for the hash tree.
layout_grow_oem_filesystem() {
  ((LAYOUT_OEM_TARGET > 0)) || return 0
  layout_read_table
  ((OEM_START > ROOT_A_START)) || return 0
  local want_bytes=$((OEM_SIZE * SECTOR_BYTES)) have_bytes
  [[ $LAYOUT_SEAL == true ]] && want_bytes=$LAYOUT_OEM_FS_BYTES
  have_bytes=$(ext4_bytes "$OEM_DEVICE") || fail "$CURRENT_LABEL" "could not read the OEM filesystem's size"
  ((have_bytes < want_bytes)) || return 0
  status "$LAYOUT_LABEL: growing the OEM filesystem from $((have_bytes / 1048576)) MiB to $((want_bytes / 1048576)) MiB"
  release_oem_mount
  local status=0
  run_logged e2fsck -f -p "$OEM_DEVICE" || status=$?
  ((status < 4)) || fail "$CURRENT_LABEL" "e2fsck found errors on the OEM filesystem (status $status)"
  run_logged resize2fs "$OEM_DEVICE" "$((want_bytes / 1024))K" ||
    fail "$CURRENT_LABEL" "resize2fs could not grow the OEM filesystem"
  run_logged systemctl start usr-share-oem.mount || status "warning: could not mount OEM on /usr/share/oem again"
}

# ext4_bytes DEVICE: prints the size of the ext4 filesystem on DEVICE in bytes.
ext4_bytes() {
  local header count size
  header=$(dumpe2fs -h "$1" 2>/dev/null) || return 1
  count=$(sed -n 's/^Block count: *//p' <<<"$header")
  size=$(sed -n 's/^Block size: *//p' <<<"$header")
  [[ $count =~ ^[0-9]+$ && $size =~ ^[0-9]+$ ]] || return 1
  printf '%d' "$((count * size))"
}

# ext4_block_size DEVICE: prints the block size of the ext4 filesystem on DEVICE.
ext4_block_size() {
  local size
  size=$(dumpe2fs -h "$1" 2>/dev/null | sed -n 's/^Block size: *//p') || return 1
  [[ $size =~ ^[0-9]+$ ]] || return 1
  printf '%d' "$size"
}

# release_oem_mount: unmounts /usr/share/oem (COS mounts OEM there with usr-share-oem.mount).
release_oem_mount() {
  run_logged systemctl stop usr-share-oem.mount || true
  if findmnt -n "$ROOT/usr/share/oem" >/dev/null 2>&1; then
    run_logged umount "$ROOT/usr/share/oem" || fail "$CURRENT_LABEL" "could not unmount /usr/share/oem"
  fi
}
