#!/bin/sh
# Same rule as the official minio image: any command other than "minio" is
# passed to minio ("server /data" == "minio server /data").
if [ "${1}" != "minio" ]; then
	if [ -n "${1}" ]; then
		set -- minio "$@"
	fi
fi
exec "$@"
