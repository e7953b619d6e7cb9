#!/bin/sh
# vectorstack offline Milvus (2.3.5 server from the PyPI "milvus" wheel).
#
# Presents the interface of the official milvusdb/milvus image:
#   - command `milvus run standalone`, WORKDIR /milvus, configs in /milvus/configs
#   - any config key can be set by env var: key path upper-cased, '.' -> '_'
#     (ETCD_ENDPOINTS, MINIO_ADDRESS, MINIO_ACCESSKEYID, MINIO_SECRETACCESSKEY,
#     MINIO_BUCKETNAME, MINIO_ROOTPATH, ETCD_ROOTPATH, COMMON_STORAGETYPE,
#     COMMON_SECURITY_AUTHORIZATIONENABLED, ...). This is Milvus' own env source
#     (names are compared lower-cased with '_', '.', '/' removed), not this script.
#   - /milvus/configs/user.yaml overrides milvus.yaml. Milvus >= 2.4 reads user.yaml
#     itself; 2.3.5 reads only milvus.yaml, so this script turns each scalar leaf
#     of user.yaml into the matching env var (unless that env var is already set,
#     so env > user.yaml > milvus.yaml, the same precedence as upstream).
#     Supported user.yaml subset: nested maps indented with spaces, scalar values
#     (quoted or not) and flow lists `[a, b]` (passed as "a,b"); comments allowed.
set -eu

USER_YAML="${MILVUS_USER_YAML:-${MILVUSCONF:-/milvus/configs}/user.yaml}"

if [ -f "$USER_YAML" ]; then
  # Emit NAME<TAB>VALUE for each scalar leaf.
  pairs=$(awk '
    function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
    /^[ \t]*(#|$)/ { next }
    /^[ \t]*-/ { next }   # block-list items are not supported (skipped)
    {
      line = $0
      match(line, /^ */); ind = RLENGTH
      colon = index(line, ":"); if (colon == 0) next
      key = trim(substr(line, 1, colon - 1))
      val = substr(line, colon + 1)
      # strip a trailing comment that is not inside quotes
      if (val !~ /^[ \t]*["\047]/) sub(/[ \t]+#.*$/, "", val)
      val = trim(val)
      # maintain the key stack by indentation
      while (depth > 0 && ind <= indent[depth]) depth--
      depth++; indent[depth] = ind; name[depth] = key
      if (val == "") next            # a map: children follow
      if (val ~ /^".*"$/ || val ~ /^\047.*\047$/) val = substr(val, 2, length(val) - 2)
      else if (val ~ /^\[.*\]$/) { val = substr(val, 2, length(val) - 2); gsub(/[ \t]*,[ \t]*/, ",", val); val = trim(val) }
      path = name[1]; for (i = 2; i <= depth; i++) path = path "_" name[i]
      gsub(/[^A-Za-z0-9_]/, "_", path)
      printf "%s\t%s\n", toupper(path), val
    }' "$USER_YAML")
  if [ -n "$pairs" ]; then
    tab=$(printf '\t')
    # shellcheck disable=SC2034
    while IFS="$tab" read -r k v; do
      [ -n "$k" ] || continue
      if eval "[ -z \"\${$k+x}\" ]"; then
        export "$k=$v"
      fi
    done <<EOF
$pairs
EOF
  fi
fi

# Official image semantics: CMD is the milvus command line.
if [ "$#" -eq 0 ]; then set -- milvus run standalone; fi
exec "$@"
