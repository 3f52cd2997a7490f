#!/usr/bin/python3
"""ferry-agent as a process: config checking, the passwd subcommand, admin HTTP (/healthz, /metrics),
plain and TLS listeners (accept and close until the broker engine lands), SIGHUP reload keeping the old
rules on a bad file, a corrupt database moved aside at startup, and a clean SIGTERM exit."""
import os, shutil, signal, socket, ssl, subprocess, sys, tempfile, time, urllib.request

build = os.environ["FERRY_BUILD"]
agent = os.path.join(build, "ferry-agent")
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def http(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def wait_http(port, proc):
    for _ in range(100):
        if proc.poll() is not None:
            return False
        try:
            http(port, "/healthz")
            return True
        except OSError:
            time.sleep(0.05)
    return False


def mqtt_connack(sock, user=b"", password=b""):
    """An MQTT 3.1.1 CONNECT is answered with a CONNACK accepting it (the broker is bound)."""
    sock.settimeout(3)
    flags, tail = 2, b""
    if user:
        flags |= 0xC0
        tail = len(user).to_bytes(2, "big") + user + len(password).to_bytes(2, "big") + password
    body = bytes([0, 4]) + b"MQTT" + bytes([4, flags, 0, 30, 0, 4]) + b"it10" + tail
    sock.sendall(bytes([0x10, len(body)]) + body)
    try:
        return sock.recv(4) == bytes([0x20, 2, 0, 0])
    except (OSError, ssl.SSLError):
        return False


def closed_by_server(sock):
    sock.settimeout(3)
    try:
        return sock.recv(1) == b""
    except (ConnectionResetError, ssl.SSLError):
        return True
    except socket.timeout:
        return False


tmp = tempfile.mkdtemp(prefix="ferry-it10-")
proc = None
try:
    pki = os.path.join(tmp, "pki")
    subprocess.run(["bash", os.path.join(root, "tests/unit/net/mkcerts.sh"), pki], check=True)

    # --check-config names the file and line of an error
    bad = os.path.join(tmp, "bad.conf")
    open(bad, "w").write("[limits]\nmax_inflight 0\n")
    r = subprocess.run([agent, "--check-config", "-c", bad], capture_output=True, text=True)
    check(r.returncode == 1 and "bad.conf:2:" in r.stderr, f"check-config bad file: {r.returncode} {r.stderr!r}")

    # passwd: from stdin, the file gets a pbkdf2 line and no plaintext
    pw = os.path.join(tmp, "passwords")
    r = subprocess.run([agent, "passwd", "-c", pw, "alice"], input="s3cret\n", capture_output=True, text=True)
    text = open(pw).read() if os.path.exists(pw) else ""
    check(r.returncode == 0 and text.startswith("alice:$pbkdf2-sha256$") and "s3cret" not in text,
          f"passwd: {r.returncode} {r.stderr!r} {text!r}")
    check(oct(os.stat(pw).st_mode & 0o777) == "0o600", "password file mode 0600")

    acl = os.path.join(tmp, "acl")
    open(acl, "w").write("user alice\ntopic readwrite a/#\n")
    mqtt, tls, admin, ws = free_port(), free_port(), free_port(), free_port()
    conf = os.path.join(tmp, "agent.conf")
    open(conf, "w").write(f"""data_dir {tmp}/var
log_level info
[mqtt]
port {mqtt}
[mqtt_tls]
enabled true
address 127.0.0.1
port {tls}
cert_file {pki}/server.crt
key_file {pki}/server.key
ca_file {pki}/ca.crt
require_certificate true
use_identity_as_username true
[websocket]
enabled true
port {ws}
[security]
allow_anonymous false
password_file {pw}
acl_file {acl}
[admin]
port {admin}
""")
    r = subprocess.run([agent, "--check-config", "-c", conf], capture_output=True, text=True)
    check(r.returncode == 0, f"check-config good file: {r.stderr!r}")

    # a corrupt database is moved aside, never deleted
    os.makedirs(f"{tmp}/var")
    open(f"{tmp}/var/agent.db", "wb").write(b"garbage, not sqlite " * 400)

    log = open(os.path.join(tmp, "agent.log"), "w+")
    proc = subprocess.Popen([agent, "-c", conf], stdout=log, stderr=subprocess.STDOUT)
    check(wait_http(admin, proc), "admin HTTP comes up")
    status, body = http(admin, "/healthz")
    check(status == 200 and body == "ok\n", f"/healthz: {status} {body!r}")
    status, body = http(admin, "/metrics")
    check(status == 200 and "ferry_agent_up 1" in body, "/metrics has ferry_agent_up")
    check("ferry_agent_store_recovered 1" in body, "store_recovered metric after a corrupt file")
    aside = [f for f in os.listdir(f"{tmp}/var") if f.startswith("agent.db.corrupt-")]
    check(len(aside) == 1, f"corrupt database kept aside: {aside}")

    s = socket.create_connection(("127.0.0.1", mqtt))
    check(mqtt_connack(s, b"alice", b"s3cret"), "plain connection answers CONNECT")
    s.close()

    ctx = ssl.create_default_context(cafile=f"{pki}/ca.crt")
    ctx.load_cert_chain(f"{pki}/client.crt", f"{pki}/client.key")
    with socket.create_connection(("127.0.0.1", tls)) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as t:
            check(t.version() == "TLSv1.2", f"TLS version {t.version()}")
            check(mqtt_connack(t), "TLS connection answers CONNECT")
    # without a client certificate the handshake fails
    ctx2 = ssl.create_default_context(cafile=f"{pki}/ca.crt")
    try:
        with socket.create_connection(("127.0.0.1", tls)) as raw:
            with ctx2.wrap_socket(raw, server_hostname="localhost") as t:
                t.settimeout(3)
                t.recv(1)
        refused = False
    except (ssl.SSLError, ConnectionResetError, OSError):
        refused = True
    check(refused, "TLS without a client certificate is refused")

    # WebSocket: RFC 6455 §1.3 key, subprotocol mqtt; upgraded (MQTT over it: 24-broker-websocket.py)
    with socket.create_connection(("127.0.0.1", ws)) as w:
        w.sendall(b"GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                  b"Sec-WebSocket-Protocol: mqtt\r\n\r\n")
        w.settimeout(3)
        data = b""
        try:
            while True:
                chunk = w.recv(4096)
                if not chunk:
                    break
                data += chunk
        except OSError:
            pass
        check(data.startswith(b"HTTP/1.1 101 ") and b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in data
              and b"Sec-WebSocket-Protocol: mqtt" in data, f"websocket upgrade: {data[:200]!r}")

    # a real MQTT-over-WebSocket client (paho) connects through the upgrade and gets its CONNACK
    import paho.mqtt.client as paho
    result = {}
    cl = paho.Client(client_id="ws-probe", transport="websockets")
    cl.ws_set_options(path="/mqtt")
    cl.username_pw_set("alice", "s3cret")
    cl.on_connect = lambda c, u, f, rc: result.setdefault("rc", rc)
    try:
        cl.connect("127.0.0.1", ws, keepalive=5)
        for _ in range(30):
            cl.loop(timeout=0.1)
            if "rc" in result:
                break
    except Exception as e:
        result.setdefault("error", repr(e))
    cl.disconnect()
    check(result.get("rc") == 0, f"paho over WebSocket: {result}")

    time.sleep(0.2)
    status, body = http(admin, "/metrics")
    check("ferry_agent_connections_accepted_total 4" in body, "four connections counted")
    check('ferry_agent_listener_handshake_failed_total{listener="mqtt_tls"} 1' in body,
          "the refused TLS handshake is counted")

    # SIGHUP with a broken ACL: logged, old rules kept, still healthy
    open(acl, "w").write("user alice\ntopic readwrite a/#/b\n")
    proc.send_signal(signal.SIGHUP)
    time.sleep(0.3)
    log.seek(0)
    text = log.read()
    check("reload failed, keeping the previous rules" in text, "SIGHUP reload failure logged")
    check("[mqtt_tls] certificate reloaded" in text, "SIGHUP reloads the TLS certificate")
    check(proc.poll() is None and http(admin, "/healthz")[0] == 200, "still serving after a bad reload")

    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        rc = None
    check(rc == 0, f"SIGTERM exit status {rc}")
    proc = None
finally:
    if proc is not None:
        proc.kill()
        proc.wait()
    if failures:
        try:
            print(open(os.path.join(tmp, "agent.log")).read()[-3000:])
        except OSError:
            pass
    shutil.rmtree(tmp, ignore_errors=True)

print("10-agent-admin:", "FAIL" if failures else "ok")
sys.exit(1 if failures else 0)
