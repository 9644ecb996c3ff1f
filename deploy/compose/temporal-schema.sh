#!/bin/sh
# Creates Temporal's two PostgreSQL databases and applies the schema versions
# shipped with this admin-tools release; run by the temporal-schema service of
# docker-compose.yml. Safe to rerun (temporal-sql-tool keeps an existing
# database, and setup-schema and update-schema skip versions already
# applied), and to be rerun after upgrading the server and admin-tools images
# together. SQL_PASSWORD comes from the environment.
set -eu

for db in temporal visibility; do
  name=temporal
  [ "$db" = visibility ] && name=temporal_visibility
  sql="temporal-sql-tool --plugin postgres12 --ep postgresql -p 5432 -u temporal --db $name"
  $sql create
  $sql setup-schema -v 0.0
  $sql update-schema -d "/etc/temporal/schema/postgresql/v12/$db/versioned"
done
echo "Temporal schema up to date"
