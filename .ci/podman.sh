#!/usr/bin/env bash
# For the container suite (test/containers/stack.test.ts): podman, podman-compose and
# mmdebstrap from Debian when missing, and the podman engine settings this kind of machine
# needs as root — runc (crun fails with cgroups in hybrid mode), the cgroupfs manager, no
# default ulimits or pids limit — in /etc/containers/containers.conf.
#
# An existing containers.conf is never replaced: a key it lacks is added to its section;
# a key it sets (to whatever value) is left as it is, and reported if it differs.
set -euo pipefail

# Every package the suite needs, not only the commands: podman installed by hand (with
# its recommends, crun) lacks runc, the runtime configured below.
packages=(podman podman-compose mmdebstrap runc catatonit uidmap slirp4netns fuse-overlayfs
  containernetworking-plugins golang-github-containernetworking-plugin-dnsname)
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "ci: installing ${missing[*]} (and what podman needs here)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # runc: the runtime configured below; catatonit: compose's `init: true`; slirp4netns,
  # uidmap, fuse-overlayfs, the CNI plugins and dnsname: podman 4.3's networking and
  # storage, and service names resolving inside a compose network.
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

conf=/etc/containers/containers.conf
mkdir -p /etc/containers
[ -e "$conf" ] || echo "# Written by idalloc's .ci/podman.sh: podman as root on this machine." >"$conf"

# ensure SECTION KEY VALUE: sets KEY in [SECTION] unless the file already sets it.
ensure() {
  local current
  current=$(python3 - "$conf" "$1" "$2" <<'PY'
import sys, tomllib
with open(sys.argv[1], 'rb') as f:
    section = tomllib.load(f).get(sys.argv[2], {})
print(repr(section[sys.argv[3]]) if sys.argv[3] in section else '')
PY
  )
  if [ -n "$current" ]; then
    [ "$current" = "$4" ] || echo "ci: $conf keeps its [$1] $2 = $current (the suite wants $3)" >&2
    return
  fi
  if grep -q "^\[$1\]" "$conf"; then
    sed -i "/^\[$1\]/a $2 = $3" "$conf"
  else
    printf '\n[%s]\n%s = %s\n' "$1" "$2" "$3" >>"$conf"
  fi
}
# Arguments: section, key, TOML value, the value as Python prints it (to compare).
ensure containers default_ulimits '[]' '[]'
ensure containers pids_limit 0 0
ensure engine cgroup_manager '"cgroupfs"' "'cgroupfs'"
ensure engine runtime '"runc"' "'runc'"
