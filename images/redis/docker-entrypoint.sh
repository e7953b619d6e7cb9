#!/bin/sh
# Equivalent of the official redis image's docker-entrypoint.sh.
set -e

# First arg is an option or a config file: run redis-server with it.
case "$1" in
	-*|*.conf) set -- redis-server "$@" ;;
esac

if [ "$1" = 'redis-server' ]; then
	# Started as root (e.g. --user 0): fix ownership of /data and drop to redis.
	if [ "$(id -u)" = '0' ]; then
		find . \! -user redis -exec chown redis '{}' +
		exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
	fi
	# The official image is compiled with protected-mode off by default; the
	# Debian binary has it on. Without a config file, turn it off first so later
	# args (e.g. --protected-mode yes) still win. With a config file, it decides.
	case "${2:-}" in
		''|-*) shift; set -- redis-server --protected-mode no "$@" ;;
	esac
	um="$(umask)"
	if [ "$um" = '0022' ]; then umask 0077; fi
fi

exec "$@"
