//! Python's grpcio as a gRPC peer: the system Python (Debian's
//! `python3-grpcio`; a `python3` earlier on the PATH may lack it) and the
//! protobuf helpers every script starts with, so scripts send and read
//! raw message bytes without generated code.

use std::process::Command;

use serde_json::Value;

/// The Debian Python, which has `python3-grpcio`.
pub const PYTHON: &str = "/usr/bin/python3";

/// Imports and helpers each script gets first: `varint(n)` (an int64 as
/// protobuf writes it), `read_varint(data, i)`, `fields(message)` (a dict
/// of tag → int or bytes), `ident`, the bytes-as-they-are serializer, and
/// `serve(*handlers, options=())`, which serves on a free port it prints
/// first (for [`Server`]).
pub const PRELUDE: &str = r#"
import concurrent.futures, grpc, json, sys, time

def varint(n):
    n &= (1 << 64) - 1
    out = b""
    while True:
        b = n & 0x7f
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])

def read_varint(data, i):
    shift = result = 0
    while True:
        b = data[i]; i += 1
        result |= (b & 0x7f) << shift
        shift += 7
        if not b & 0x80:
            return result, i

def fields(data):
    out, i = {}, 0
    while i < len(data):
        key, i = read_varint(data, i)
        tag, wire = key >> 3, key & 7
        if wire == 0:
            v, i = read_varint(data, i)
            if v >= 1 << 63:
                v -= 1 << 64
            out[tag] = v
        elif wire == 2:
            n, i = read_varint(data, i)
            out[tag] = data[i:i + n]
            i += n
    return out

ident = lambda b: b

def serve(*handlers, options=()):
    # A server on a free port, which it prints first, until killed.
    server = grpc.server(concurrent.futures.ThreadPoolExecutor(8), options=list(options))
    server.add_generic_rpc_handlers(handlers)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    server.wait_for_termination()
"#;

/// The command that runs `script` after the [`PRELUDE`], with `args` as
/// `sys.argv[1:]`.
pub fn command(script: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(PYTHON);
    cmd.arg("-c").arg(format!("{PRELUDE}{script}")).args(args);
    cmd
}

/// Runs `script` to its end and reads what it printed as JSON.
///
/// # Panics
///
/// If the Python or grpcio is missing, the script fails, or its output is
/// not JSON.
pub fn run(script: &str, args: &[&str]) -> Value {
    let out = command(script, args)
        .output()
        .expect("run the system python3 (apt-get install python3-grpcio)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the script's JSON")
}

/// A Python gRPC server run from a script that prints its port on its
/// first line; killed when dropped, even by a failing assertion.
#[derive(Debug)]
pub struct Server {
    child: std::process::Child,
    /// Where it listens, on 127.0.0.1.
    pub addr: std::net::SocketAddr,
}

impl Server {
    /// Starts `script` (after the [`PRELUDE`]) and reads its port.
    ///
    /// # Panics
    ///
    /// If the Python cannot run or prints no port.
    pub fn start(script: &str) -> Server {
        use std::io::{BufRead, BufReader};
        let mut child = command(script, &[])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("run the system python3 (apt-get install python3-grpcio)");
        let mut line = String::new();
        let read = BufReader::new(child.stdout.take().expect("its stdout")).read_line(&mut line);
        let port = read.ok().and_then(|_| line.trim().parse::<u16>().ok());
        let Some(port) = port else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the Python server printed no port: {line:?}");
        };
        Server {
            child,
            addr: ([127, 0, 0, 1], port).into(),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
