#!/usr/bin/env bash
# Trimmed-down equivalent of the official postgres image's docker-entrypoint.sh.
set -Eeo pipefail

# file_env VAR [DEFAULT]: VAR or VAR_FILE (docker secrets), not both.
file_env() {
	local var="$1" fileVar="${1}_FILE" def="${2:-}" val
	if [ "${!var:-}" ] && [ "${!fileVar:-}" ]; then
		echo >&2 "error: both $var and $fileVar are set (but are exclusive)"; exit 1
	fi
	val="$def"
	if [ "${!var:-}" ]; then val="${!var}"
	elif [ "${!fileVar:-}" ]; then val="$(< "${!fileVar}")"; fi
	export "$var"="$val"
	unset "$fileVar"
}

# Arguments starting with "-" are postgres options.
if [ "${1:0:1}" = '-' ]; then set -- postgres "$@"; fi

if [ "$1" != 'postgres' ]; then exec "$@"; fi
for arg; do case "$arg" in -'?'|--help|--describe-config|-V|--version) exec "$@";; esac; done

# Started as root (e.g. --user 0): fix ownership and drop to postgres.
if [ "$(id -u)" = '0' ]; then
	mkdir -p "$PGDATA"; chown postgres:postgres "$PGDATA"
	exec setpriv --reuid=postgres --regid=postgres --init-groups "$BASH_SOURCE" "$@"
fi

file_env POSTGRES_PASSWORD
file_env POSTGRES_USER postgres
file_env POSTGRES_DB "$POSTGRES_USER"
file_env POSTGRES_INITDB_ARGS
: "${POSTGRES_HOST_AUTH_METHOD:=scram-sha-256}"

mkdir -p "$PGDATA"
chmod 00700 "$PGDATA" 2>/dev/null || :

if [ ! -s "$PGDATA/PG_VERSION" ]; then
	if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != 'trust' ]; then
		cat >&2 <<-'EOM'
		Error: Database is uninitialized and superuser password is not specified.
		       Set POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE) to a non-empty value,
		       or POSTGRES_HOST_AUTH_METHOD=trust to allow all connections without one.
		EOM
		exit 1
	fi
	# Local socket: trust (as upstream); every TCP connection, loopback included,
	# uses POSTGRES_HOST_AUTH_METHOD (upstream trusts 127.0.0.1; we do not).
	eval 'initdb --username="$POSTGRES_USER" --pwfile=<(printf "%s\n" "$POSTGRES_PASSWORD") \
		--auth-local=trust --auth-host="$POSTGRES_HOST_AUTH_METHOD" '"$POSTGRES_INITDB_ARGS"
	printf '\nhost all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >> "$PGDATA/pg_hba.conf"
	printf "\nlisten_addresses = '*'\n" >> "$PGDATA/postgresql.conf"

	# Temporary server on the socket only (health check over TCP stays red).
	PGUSER="$POSTGRES_USER" pg_ctl -D "$PGDATA" -w -o "-c listen_addresses='' -p 5432" start
	export PGPASSWORD="$POSTGRES_PASSWORD"
	psql=(psql -v ON_ERROR_STOP=1 --no-password --no-psqlrc --username "$POSTGRES_USER" -p 5432)
	if [ "$POSTGRES_DB" != 'postgres' ]; then
		"${psql[@]}" --dbname postgres --set db="$POSTGRES_DB" <<-'EOSQL'
			CREATE DATABASE :"db" ;
		EOSQL
	fi
	psql+=(--dbname "$POSTGRES_DB")
	for f in /docker-entrypoint-initdb.d/*; do
		case "$f" in
			*.sh)     if [ -x "$f" ]; then echo "running $f"; "$f"; else echo "sourcing $f"; . "$f"; fi ;;
			*.sql)    echo "running $f"; "${psql[@]}" -f "$f" ;;
			*.sql.gz) echo "running $f"; gunzip -c "$f" | "${psql[@]}" ;;
			*)        if [ -e "$f" ]; then echo "ignoring $f"; fi ;;
		esac
	done
	unset PGPASSWORD
	PGUSER="$POSTGRES_USER" pg_ctl -D "$PGDATA" -m fast -w stop
	echo 'PostgreSQL init process complete; ready for start up.'
fi

exec "$@"
