#!/bin/sh
# One-shot set-up of the MinIO bucket that deploy/compose/vigil.yaml uses
# (run by the minio-init service of docker-compose.yml; idempotent).
set -eu
mc alias set local http://minio:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD"
mc mb --ignore-existing local/vigil
# The churn model's reference window, unless someone replaced it already.
if ! mc stat "local/vigil/models/churn/reference.csv" >/dev/null 2>&1; then
  mc cp /seed/churn-reference.csv "local/vigil/models/churn/reference.csv"
fi
mc ls --recursive "local/vigil/models"
