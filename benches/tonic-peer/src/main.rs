//! addsvc's `pb.Add` on tonic, with Go kit's rules, for the gRPC load test:
//! `addsvc-tonic --addr 127.0.0.1:PORT`.

use tonic::{Request, Response, Status};

pub mod pb {
    tonic::include_proto!("pb");
}

use pb::add_server::{Add, AddServer};
use pb::{ConcatReply, ConcatRequest, SumReply, SumRequest};

#[derive(Default)]
struct Adder;

#[tonic::async_trait]
impl Add for Adder {
    async fn sum(&self, request: Request<SumRequest>) -> Result<Response<SumReply>, Status> {
        let SumRequest { a, b } = request.into_inner();
        let reply = if a == 0 && b == 0 {
            SumReply { v: 0, err: "can't sum two zeroes".into() }
        } else if (b > 0 && a > i64::from(i32::MAX) - b) || (b < 0 && a < i64::from(i32::MIN) - b) {
            SumReply { v: 0, err: "integer overflow".into() }
        } else {
            SumReply { v: a + b, err: String::new() }
        };
        Ok(Response::new(reply))
    }

    async fn concat(&self, request: Request<ConcatRequest>) -> Result<Response<ConcatReply>, Status> {
        let ConcatRequest { a, b } = request.into_inner();
        let reply = if a.len() + b.len() > 10 {
            ConcatReply { v: String::new(), err: "result exceeds maximum size".into() }
        } else {
            ConcatReply { v: a + &b, err: String::new() }
        };
        Ok(Response::new(reply))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut addr = "127.0.0.1:8082".to_owned();
    while let Some(flag) = args.next() {
        if flag == "--addr" {
            addr = args.next().expect("--addr takes HOST:PORT");
        }
    }
    tonic::transport::Server::builder()
        .add_service(AddServer::new(Adder))
        .serve(addr.parse()?)
        .await?;
    Ok(())
}
