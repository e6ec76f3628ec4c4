#!/bin/sh
# Stand-in for the official nginx image's entrypoint, only the parts this repository relies on:
# - NGINX_ENTRYPOINT_LOCAL_RESOLVERS set: export NGINX_LOCAL_RESOLVERS (the nameservers of /etc/resolv.conf);
# - /etc/nginx/templates/*.template rendered to /etc/nginx/conf.d/ with envsubst, defined variables only.
set -eu
if [ "${1:-}" = nginx ] || [ "${1:-}" = nginx-debug ]; then
    if [ -n "${NGINX_ENTRYPOINT_LOCAL_RESOLVERS:-}" ]; then
        NGINX_LOCAL_RESOLVERS=$(awk 'BEGIN{ORS=" "} $1=="nameserver" {if ($2 ~ ":") print "[" $2 "]"; else print $2}' /etc/resolv.conf)
        NGINX_LOCAL_RESOLVERS=${NGINX_LOCAL_RESOLVERS% }
        export NGINX_LOCAL_RESOLVERS
    fi
    defined=$(awk 'END { for (name in ENVIRON) printf "${%s} ", name }' </dev/null)
    for template in /etc/nginx/templates/*.template; do
        [ -f "$template" ] || continue
        output="/etc/nginx/conf.d/$(basename "$template" .template)"
        echo "$0: rendering $template to $output"
        envsubst "$defined" <"$template" >"$output"
    done
fi
exec "$@"
