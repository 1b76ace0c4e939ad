# shellcheck shell=bash
# installGpuDriver: NVIDIA drivers with the tool current COS ships, `cos-extensions install gpu`,
# which runs Google's cos-gpu-installer container. Arguments after `--` go to the installer:
#   -version=<v>            an exact version, or "latest"; no flag means the release's default driver
#   -host-dir=<dir>         where the driver is installed on the host (installDir)
#   --use-build-tools-cache cos-extensions mounts /var/lib/cos-extensions as the installer's /build,
#                           where it keeps the toolchain; we put that directory on the scratch disk
# The installer downloads only signed drivers and COS artifacts from Google's buckets (or an HTTP
# URL, for unsigned drivers on machines without module signature enforcement); it has no option for
# local files and no checksum option, hence the limits below.

GPU_VERSION=""
GPU_MD5SUM=""
GPU_INSTALL_DIR=""
GPU_DEPS_DIR=""
readonly BUILD_TOOLS_CACHE="$ROOT/var/lib/cos-extensions"
GPU_CREATED_CACHE_DIR=false
GPU_INSTALLERS=()
# The boot-time setup's templates (setup_gpu.sh, the unit), beside this file.
GPU_TEMPLATES_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly GPU_TEMPLATES_DIR
readonly GPU_UNIT_NAME=preloaded-cos-image-gpu.service

# load_install_gpu_driver INDEX: reads the step's config into the GPU_* variables.
load_install_gpu_driver() {
  local dir="steps/$1"
  config_read GPU_VERSION "$dir/version"
  config_read GPU_MD5SUM "$dir/md5sum"
  config_read GPU_INSTALL_DIR "$dir/install-dir"
  config_read GPU_DEPS_DIR "$dir/deps-dir"
  [[ $GPU_INSTALL_DIR == /* ]] || config_error "install-dir '$(one_line "$GPU_INSTALL_DIR")' is not absolute"
  [[ -z $GPU_MD5SUM || $GPU_MD5SUM =~ ^[0-9a-fA-F]{32}$ ]] || config_error "md5sum is not 32 hex digits"
}

step_install_gpu_driver() {
  load_install_gpu_driver "$1"
  if [[ -n $GPU_DEPS_DIR || $GPU_VERSION == *.run ]]; then
    fail "$CURRENT_LABEL" "installers from depsDir (.run files) are not supported yet: cos-extensions downloads drivers only from Google's buckets or from an HTTP URL, and installs unsigned drivers only where module signing is off"
  fi
  command -v cos-extensions >/dev/null ||
    fail "$CURRENT_LABEL" "cos-extensions is not installed on this machine: installGpuDriver needs a Container-Optimized OS image"
  mkdir -p "$ROOT$GPU_INSTALL_DIR"
  local args=(install gpu --)
  if use_scratch_for_toolchain; then
    args+=(--use-build-tools-cache)
  fi
  [[ $GPU_VERSION == default || -z $GPU_VERSION ]] || args+=("-version=$GPU_VERSION")
  args+=("-host-dir=$ROOT$GPU_INSTALL_DIR")
  status "installing the GPU driver (version ${GPU_VERSION:-default}) into $GPU_INSTALL_DIR"
  run_logged cos-extensions "${args[@]}" || fail "$CURRENT_LABEL" "cos-extensions install gpu failed"
  release_scratch
  find_driver_installers
  [[ -z $GPU_MD5SUM ]] || verify_driver_md5sum
  write_boot_setup
  remove_driver_installers
  status "GPU driver installed; instances load it at boot with $GPU_INSTALL_DIR/setup_gpu.sh, run by the unit $GPU_INSTALL_DIR/$GPU_UNIT_NAME, which cloud-init links and starts at every boot (see installGpuDriver in the README)"
}

# use_scratch_for_toolchain: when the orchestrator attached a scratch disk, format it (ext4) unless
# it already is, mount it and put the installer's toolchain cache on it, off the boot disk.
use_scratch_for_toolchain() {
  if [[ ! -e $SCRATCH_DEVICE ]]; then
    status "no scratch disk attached: the toolchain stays inside the installer container"
    return 1
  fi
  if [[ $(blkid -o value -s TYPE "$SCRATCH_DEVICE" 2>/dev/null) != ext4 ]]; then
    run_logged mkfs.ext4 -q -F -L pci-scratch "$SCRATCH_DEVICE" || fail "$CURRENT_LABEL" "could not format the scratch disk"
  fi
  mkdir -p "$SCRATCH_MOUNT"
  run_logged mount -t ext4 "$SCRATCH_DEVICE" "$SCRATCH_MOUNT" || fail "$CURRENT_LABEL" "could not mount the scratch disk"
  add_cleanup_hook release_scratch
  mkdir -p "$SCRATCH_MOUNT/cos-extensions"
  if [[ ! -d $BUILD_TOOLS_CACHE ]]; then
    GPU_CREATED_CACHE_DIR=true
    mkdir -p "$BUILD_TOOLS_CACHE"
  fi
  run_logged mount --bind "$SCRATCH_MOUNT/cos-extensions" "$BUILD_TOOLS_CACHE" ||
    fail "$CURRENT_LABEL" "could not put the toolchain cache on the scratch disk"
  status "the toolchain goes to the scratch disk"
}

# release_scratch: unmounts what use_scratch_for_toolchain mounted (nothing if it mounted nothing).
release_scratch() {
  local hooks=" ${CLEANUP_HOOKS[*]} "
  [[ $hooks == *" release_scratch "* ]] || return 0
  remove_cleanup_hook release_scratch
  run_logged umount "$BUILD_TOOLS_CACHE" || status "warning: could not unmount $BUILD_TOOLS_CACHE"
  if [[ $GPU_CREATED_CACHE_DIR == true ]]; then
    rmdir "$BUILD_TOOLS_CACHE" 2>/dev/null || true
  fi
  run_logged umount "$SCRATCH_MOUNT" || status "warning: could not unmount the scratch disk"
  rmdir "$SCRATCH_MOUNT" 2>/dev/null || true
}

# find_driver_installers: GPU_INSTALLERS, the NVIDIA-Linux-*.run files the installer left in the
# install directory. For the precompiled, signed drivers that cos-extensions installs, that is the
# installer it downloaded from Google's driver bucket: COS's build of NVIDIA's driver, not the .run
# file NVIDIA publishes (whose md5 differs).
find_driver_installers() {
  local file
  GPU_INSTALLERS=()
  for file in "$ROOT$GPU_INSTALL_DIR"/NVIDIA-Linux-*.run; do
    [[ -f $file ]] && GPU_INSTALLERS+=("$file")
  done
  return 0
}

# verify_driver_md5sum: the installer has no checksum option, so the check is on the installer file
# it downloaded and left in the install directory (see find_driver_installers), after the
# installation; a mismatch fails the build, so no image is made with that driver.
verify_driver_md5sum() {
  local file sum expected
  expected=$(printf '%s' "$GPU_MD5SUM" | tr '[:upper:]' '[:lower:]')
  ((${#GPU_INSTALLERS[@]} > 0)) ||
    fail "$CURRENT_LABEL" "md5sum given, but no NVIDIA-Linux-*.run installer was left in $GPU_INSTALL_DIR to check it against"
  for file in "${GPU_INSTALLERS[@]}"; do
    sum=$(md5sum "$file")
    if [[ ${sum%% *} == "$expected" ]]; then
      status "md5sum of ${file##*/} matches"
      return 0
    fi
  done
  fail "$CURRENT_LABEL" "md5sum mismatch: no driver installer in $GPU_INSTALL_DIR has md5 $expected"
}

# remove_driver_installers: the installer files are not needed once the driver is installed (the
# boot-time setup loads the cached driver), and would only make the image larger.
remove_driver_installers() {
  local file
  for file in "${GPU_INSTALLERS[@]}"; do
    rm -f "$file"
    status "removed the driver installer ${file##*/} from $GPU_INSTALL_DIR"
  done
  GPU_INSTALLERS=()
}

# installed_driver_version: the version the boot-time setup asks for: the one installed, read from
# the installer's name (NVIDIA-Linux-x86_64-535.183.01.run), so that "latest" at build time does not
# become a newer driver at boot; otherwise the step's own version.
installed_driver_version() {
  local file name
  for file in "${GPU_INSTALLERS[@]}"; do
    name=${file##*/}
    if [[ $name =~ ^NVIDIA-Linux-[A-Za-z0-9_]+-([0-9]+(\.[0-9]+)+)[.-] ]]; then
      printf '%s' "${BASH_REMATCH[1]}"
      return 0
    fi
  done
  printf '%s' "$GPU_VERSION"
}

# write_boot_setup: <installDir>/setup_gpu.sh and <installDir>/preloaded-cos-image-gpu.service, from
# the templates beside this file. The unit is not enabled in /etc/systemd/system: COS's /etc is a
# tmpfs, lost at every reboot, and COS reads units from nowhere persistent, so the instance's
# cloud-init links and starts it at every boot (documented in the step's TSDoc, components/args.ts).
write_boot_setup() {
  local dir="$ROOT$GPU_INSTALL_DIR" script unit quoted
  script=$(<"$GPU_TEMPLATES_DIR/setup_gpu.sh")
  printf -v quoted '%q' "$GPU_INSTALL_DIR"
  script=${script//"'{{INSTALL_DIR}}'"/"$quoted"}
  printf -v quoted '%q' "$(installed_driver_version)"
  script=${script//"'{{VERSION}}'"/"$quoted"}
  printf '%s\n' "$script" >"$dir/setup_gpu.sh.new"
  chmod 0755 "$dir/setup_gpu.sh.new"
  mv -f "$dir/setup_gpu.sh.new" "$dir/setup_gpu.sh"
  unit=$(<"$GPU_TEMPLATES_DIR/$GPU_UNIT_NAME")
  unit=${unit//"{{SETUP_SCRIPT}}"/"$(systemd_quoted "$GPU_INSTALL_DIR/setup_gpu.sh")"}
  printf '%s\n' "$unit" >"$dir/$GPU_UNIT_NAME.new"
  chmod 0644 "$dir/$GPU_UNIT_NAME.new"
  mv -f "$dir/$GPU_UNIT_NAME.new" "$dir/$GPU_UNIT_NAME"
  status "wrote $GPU_INSTALL_DIR/setup_gpu.sh and $GPU_INSTALL_DIR/$GPU_UNIT_NAME"
}

# systemd_quoted TEXT: TEXT for a double-quoted word of a unit's ExecStart (backslashes and quotes
# escaped, % doubled so it is no specifier).
systemd_quoted() {
  local text=$1
  text=${text//\\/\\\\}
  text=${text//\"/\\\"}
  text=${text//%/%%}
  printf '%s' "$text"
}
