#!/usr/bin/env bash
# Installs what steady's drills and tests need from Debian's packages when
# it is missing: PostgreSQL and Redis binaries (for private sandboxes),
# tmux and the OpenSSH client (end-to-end tests), pgBackRest (the backup
# action's pgbackrest mode), GNU time (make bench),
# and Django, Celery and friends for the example application. Nothing is installed when all is
# present. Without apt-get, root or sudo it prints what to install.
set -euo pipefail

missing=()
have() { command -v "$1" >/dev/null 2>&1; }

pg_bin() {
	have initdb && return 0
	compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}
pg_bin || missing+=(postgresql)
have pg_dump || missing+=(postgresql-client)
have redis-server || missing+=(redis-server)
have redis-cli || missing+=(redis-tools)
have tmux || missing+=(tmux)
have ssh || missing+=(openssh-client)
have ssh-keygen || missing+=(openssh-client)
# pgBackRest, for the backup action's pgbackrest mode (tested against a
# real repository).
have pgbackrest || missing+=(pgbackrest)
# GNU time, for the peak memory row of make bench.
[ -x /usr/bin/time ] || missing+=(time)

python=${STEADY_PYTHON:-/usr/bin/python3}
# From / so that a directory of the working tree (this repository has a Go
# package named celery) is not mistaken for the Python module.
py_has() { [ -x "$python" ] && (cd / && "$python" -c "import $1") >/dev/null 2>&1; }
[ -x "$python" ] || missing+=(python3)
py_has django || missing+=(python3-django)
py_has celery || missing+=(python3-celery)
py_has django_redis || missing+=(python3-django-redis)
py_has psycopg2 || missing+=(python3-psycopg2)
py_has simple_history || missing+=(python3-django-simple-history)
py_has redis || missing+=(python3-redis)

if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
# De-duplicate while keeping the order.
pkgs=$(printf '%s\n' "${missing[@]}" | awk '!seen[$0]++' | tr '\n' ' ')

sudo=""
if [ "$(id -u)" -ne 0 ]; then
	if have sudo && sudo -n true 2>/dev/null; then
		sudo="sudo -n"
	else
		sudo="none"
	fi
fi
if ! have apt-get || [ "$sudo" = "none" ]; then
	echo "steady needs these Debian packages: $pkgs" >&2
	echo "install them with: sudo apt-get install -y $pkgs" >&2
	exit 1
fi
echo "installing: $pkgs"
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086
if ! $sudo apt-get install -y --no-install-recommends $pkgs; then
	$sudo apt-get update
	# shellcheck disable=SC2086
	$sudo apt-get install -y --no-install-recommends $pkgs
fi
