#!/bin/sh
# Creates the namespace of deploy/compose/vigil.yaml unless it exists; run by
# the temporal-namespace service of docker-compose.yml once the server
# listens. The frontend may refuse requests for a few seconds after its port
# opens, so this retries for a minute (the service itself does not restart:
# services wait for it to complete). TEMPORAL_ADDRESS comes from the
# environment.
set -u

ns=${VIGIL_NAMESPACE:-default}
i=0
while [ "$i" -lt 30 ]; do
  if temporal operator namespace describe --namespace "$ns" >/dev/null 2>&1; then
    echo "namespace $ns exists"
    exit 0
  fi
  if temporal operator namespace create --namespace "$ns" --retention 72h; then
    exit 0
  fi
  i=$((i + 1))
  sleep 2
done
echo "could not create namespace $ns on $TEMPORAL_ADDRESS" >&2
exit 1
