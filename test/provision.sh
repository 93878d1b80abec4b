#!/usr/bin/env bash
# Installs the system programs the tests talk to, when missing: a real InfluxDB 1.x, mbpoll and
# pymodbus (third-party Modbus clients), socat (serial PTY pairs), openssl (a test CA for InfluxDB
# over HTTPS), mosquitto (an MQTT broker that asks for credentials), chromium (the Node-RED editor
# test), g++ (builds the reference C frame encoder) and systemd-analyze. Debian packages; needs root (or sudo).
set -euo pipefail
need=()
command -v influxd >/dev/null 2>&1 || need+=(influxdb)
command -v mbpoll >/dev/null 2>&1 || need+=(mbpoll)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
command -v socat >/dev/null 2>&1 || need+=(socat)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
[ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v c++ >/dev/null 2>&1 || need+=(g++) # the reference C encoder and Arduino sketch
command -v curl >/dev/null 2>&1 || need+=(curl) # docs/api.md examples
# Debian's python, not whichever python3 comes first on PATH: that is where the package installs.
/usr/bin/python3 -c 'import pymodbus, serial_asyncio' >/dev/null 2>&1 || need+=(python3-pymodbus python3-serial-asyncio)
[ ${#need[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "provisioning: ${need[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
