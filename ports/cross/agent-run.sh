# Sourced by tests/integration/90-mqtt-smoke.sh and ports/footprint/size.sh: start ferry-agent with its own
# config on a free loopback port, and tell "listening" from "crashed" from "no broker in this build yet".
#
#   agent_free_port                           -> prints a free TCP port on 127.0.0.1
#   agent_write_conf FILE DATA_DIR PORT       -> config: data_dir, [mqtt] on 127.0.0.1:PORT, [admin] off
#   agent_start LOG CMD...                    -> starts CMD -c <conf> in the background; sets AGENT_PID
#   agent_wait_listen PORT LOG [SECONDS]      -> 0 listening; 2 the agent has no broker yet (it exited at once
#                                                saying so, or refusing -c); 1 it exited otherwise or timed out
#   agent_stop [SECONDS]                      -> SIGTERM, wait (default 10 s), SIGKILL; 0 if it stopped in time

agent_free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

agent_write_conf() {
  cat >"$1" <<CONF
data_dir $2
[mqtt]
address 127.0.0.1
port $3
[admin]
enabled false
CONF
}

agent_start() {
  local log=$1
  shift
  "$@" >"$log" 2>&1 &
  AGENT_PID=$!
}

agent_wait_listen() {
  local port=$1 log=$2 secs=${3:-30} i
  for ((i = 0; i < secs * 10; i++)); do
    if ! kill -0 "$AGENT_PID" 2>/dev/null; then
      wait "$AGENT_PID" 2>/dev/null
      # Until the broker lands, main() either says so or does not know -c yet.
      grep -qE "not built yet|unknown option '-c'" "$log" && return 2
      return 1
    fi
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

agent_stop() {
  local secs=${1:-10} i
  [ -n "${AGENT_PID:-}" ] || return 0
  kill -TERM "$AGENT_PID" 2>/dev/null || return 0
  for ((i = 0; i < secs * 10; i++)); do
    kill -0 "$AGENT_PID" 2>/dev/null || { wait "$AGENT_PID" 2>/dev/null; return 0; }
    sleep 0.1
  done
  kill -KILL "$AGENT_PID" 2>/dev/null
  return 1
}
