#!/bin/bash
# Health check of a Meridian node in a container (Dockerfile HEALTHCHECK, Kubernetes
# exec probes, compose healthcheck). Exit 0 when the node answers PING with PONG.
#
# A node accepts RESP clients only after it knows a leader and has applied its log, so
# PONG means "ready"; later it keeps answering while it lost its quorum (reads are served
# locally), so a partitioned node is not restarted by this check.
#
# It reads the node's own environment (the same MERIDIAN_* variables the binary reads):
#   MERIDIAN_PORT      plaintext RESP port (default 6379); 0 = plaintext off, then
#   MERIDIAN_TLS_PORT  RESP over TLS, checked with `openssl s_client` (from ca-certificates),
#                      verifying the node's certificate against MERIDIAN_TLS_CA_CERT_FILE
#                      (and presenting MERIDIAN_TLS_CERT_FILE/KEY_FILE if the node asks)
#   MERIDIAN_PASSWORD  else DATA_DIR/password (the generated one), else no AUTH
# No bash-only tool beyond /dev/tcp; no redis-cli needed.
set -u
export LC_ALL=C
timeout_s=${MERIDIAN_HEALTHCHECK_TIMEOUT:-5}
port=${MERIDIAN_PORT:-6379}
tls_port=${MERIDIAN_TLS_PORT:-}
data_dir=${MERIDIAN_DATA_DIR:-/var/lib/meridian}
pw=${MERIDIAN_PASSWORD:-}
if [ -z "$pw" ] && [ -r "$data_dir/password" ]; then
  pw=$(<"$data_dir/password")
fi

# The request in RESP's multibulk form (a password with spaces or quotes stays one
# argument); QUIT makes the node close the connection after its replies.
req=''
if [ -n "$pw" ]; then
  req+=$'*2\r\n$4\r\nAUTH\r\n$'"${#pw}"$'\r\n'"$pw"$'\r\n'
fi
req+=$'*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nQUIT\r\n'

check_replies() {
  # Reads reply lines until +PONG (healthy) or an error reply.
  local line
  while IFS= read -r -t "$timeout_s" line; do
    case "$line" in
      +PONG*) return 0 ;;
      -*) echo "meridian-healthcheck: ${line%$'\r'}" >&2; return 1 ;;
    esac
  done
  echo "meridian-healthcheck: no PONG" >&2
  return 1
}

if [ "$port" != 0 ]; then
  exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
  printf '%s' "$req" >&3
  check_replies <&3
  exit $?
fi

if [ -n "$tls_port" ] && [ "$tls_port" != 0 ]; then
  args=(s_client -quiet -connect "127.0.0.1:$tls_port" -servername localhost)
  if [ -n "${MERIDIAN_TLS_CA_CERT_FILE:-}" ]; then
    args+=(-CAfile "$MERIDIAN_TLS_CA_CERT_FILE" -verify_return_error -verify_hostname localhost)
  fi
  if [ -r "${MERIDIAN_TLS_CERT_FILE:-/nonexistent}" ] && [ -r "${MERIDIAN_TLS_KEY_FILE:-/nonexistent}" ]; then
    args+=(-cert "$MERIDIAN_TLS_CERT_FILE" -key "$MERIDIAN_TLS_KEY_FILE")
  fi
  printf '%s' "$req" | timeout "$timeout_s" openssl "${args[@]}" 2>/dev/null | check_replies
  exit $?
fi

echo "meridian-healthcheck: MERIDIAN_PORT=0 and no MERIDIAN_TLS_PORT: nothing to check" >&2
exit 1
