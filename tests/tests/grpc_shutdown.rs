//! A gRPC server shutting down gracefully: it says GOAWAY (naming the last
//! stream it will serve), finishes the call in flight and answers it,
//! then closes; a stream opened after the GOAWAY is not served.

use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use synkit_core::endpoint::endpoint_fn;
use synkit_core::{Context, Error};
use synkit_examples::addsvc::grpc::{SumReply, SumRequest};
use synkit_tests::h2::{END_STREAM, Peer, hello, kind, sum_call};
use synkit_transports::grpc::Server;
use synkit_transports::http::server::ServerConfig;

const GOAWAY: u8 = 0x7;

/// A gate the test opens: calls wait at it.
#[derive(Default)]
struct Gate {
    open: Mutex<bool>,
    opened: Condvar,
}

impl Gate {
    fn wait(&self) {
        let mut open = self.open.lock().unwrap();
        while !*open {
            open = self.opened.wait(open).unwrap();
        }
    }

    fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.opened.notify_all();
    }
}

#[test]
fn shutdown_says_goaway_finishes_the_call_in_flight_then_closes() {
    let gate = Arc::new(Gate::default());
    let (entered_tx, entered) = mpsc::channel();
    let entered_tx = Mutex::new(entered_tx);
    let held = Arc::clone(&gate);
    let sum = endpoint_fn(move |_: &Context<'_>, r: SumRequest| {
        entered_tx.lock().unwrap().send(()).unwrap();
        held.wait();
        Ok::<_, Error>(SumReply {
            v: r.a + r.b,
            err: String::new(),
        })
    });
    let server = Server::new()
        .method("/pb.Add/Sum", sum)
        .bind("127.0.0.1:0", &ServerConfig::default())
        .unwrap();
    let addr = server.local_addr();
    let mut peer = Peer::connect(addr, &hello());
    let mut call = Vec::new();
    sum_call(&mut call, 1);
    peer.write(&call);
    entered
        .recv_timeout(Duration::from_secs(5))
        .expect("the call runs");
    let stopping = std::thread::spawn(move || server.shutdown(Duration::from_secs(10)));
    // GOAWAY, NO_ERROR, the last stream served: 1.
    let frames = peer.frames_until(|f| f.0 == GOAWAY);
    let goaway = frames.last().expect("a GOAWAY");
    assert_eq!(goaway.0, GOAWAY);
    assert_eq!(u32::from_be_bytes(goaway.3[..4].try_into().unwrap()), 1);
    assert_eq!(u32::from_be_bytes(goaway.3[4..8].try_into().unwrap()), 0);
    // A stream opened now is past it: not served.
    let mut late = Vec::new();
    sum_call(&mut late, 3);
    peer.write(&late);
    gate.open();
    let rest = peer.frames_until(|_| false);
    let ended: Vec<u32> = rest
        .iter()
        .filter(|f| f.0 == kind::HEADERS && f.1 & END_STREAM != 0)
        .map(|f| f.2)
        .collect();
    assert_eq!(
        ended,
        [1],
        "the call in flight is answered, the late one not"
    );
    let data: Vec<&[u8]> = rest
        .iter()
        .filter(|f| f.0 == kind::DATA && f.2 == 1)
        .map(|f| f.3.as_slice())
        .collect();
    assert_eq!(data, [&[0, 0, 0, 0, 2, 0x08, 3][..]], "Sum(1, 2) = 3");
    assert!(peer.closed(), "closed once drained");
    stopping.join().unwrap();
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "no longer listening"
    );
}
