//! Where the examples find their instances and register themselves: the
//! command-line flags turned into `synkit_core::sd` instancers and an etcd
//! registrar.
//!
//! - `--proxy a,b,c`: a fixed list (Go kit's `sd.FixedInstancer`);
//! - `--etcd URL [--etcd-prefix P]`: every instance registered under `P`
//!   in etcd (Go kit's `etcdv3.Instancer`);
//! - `--dns-srv NAME --dns-server HOST:PORT [--dns-interval S]`: the
//!   targets of `NAME`'s SRV records (Go kit's `dnssrv.Instancer`);
//! - `--etcd URL --register [--ttl S]`: this instance registered under the
//!   prefix while it serves.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use synkit_core::sd::{FixedInstancer, Instancer, Registrar};
use synkit_transports::sd::dnssrv::{DnsSrvInstancer, Resolver};
use synkit_transports::sd::etcd::{Client, EtcdInstancer, EtcdRegistrar, Service, TtlOption};

use crate::cli::Args;

/// How long a DNS server gets to answer one query.
const DNS_TIMEOUT: Duration = Duration::from_secs(1);

/// The instancer the flags ask for, or `None` if they name no instances
/// (the service then serves locally).
pub fn instancer(args: &Args) -> Result<Option<Arc<dyn Instancer>>, String> {
    let chosen = [
        args.proxy.is_some(),
        args.etcd.is_some() && !args.register,
        args.dns_srv.is_some(),
    ];
    if chosen.iter().filter(|c| **c).count() > 1 {
        return Err("give one of --proxy, --etcd and --dns-srv".into());
    }
    if let Some(list) = &args.proxy {
        return Ok(Some(Arc::new(fixed(list)?)));
    }
    if let (Some(urls), false) = (&args.etcd, args.register) {
        let client = Arc::new(Client::new(urls.split(',').map(str::trim)));
        return Ok(Some(Arc::new(EtcdInstancer::new(
            client,
            args.etcd_prefix.as_str(),
        ))));
    }
    if let Some(name) = &args.dns_srv {
        let Some(server) = &args.dns_server else {
            return Err("--dns-srv needs --dns-server HOST:PORT".into());
        };
        let server: SocketAddr = server
            .parse()
            .map_err(|e| format!("--dns-server takes HOST:PORT, not {server:?}: {e}"))?;
        let resolver = Resolver::new(server, DNS_TIMEOUT);
        let interval = Duration::from_secs(args.dns_interval);
        return Ok(Some(Arc::new(DnsSrvInstancer::new(
            resolver,
            name.as_str(),
            interval,
        ))));
    }
    Ok(None)
}

/// The instances of a `--proxy` list: comma-separated `host:port`s.
pub fn fixed(list: &str) -> Result<FixedInstancer, String> {
    let list: Vec<&str> = list
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .collect();
    if list.is_empty() {
        return Err("no instances to proxy to".into());
    }
    Ok(FixedInstancer::new(list))
}

/// With `--register`, this instance (listening on `addr`) registered in
/// etcd under the prefix, with a lease of `--ttl` seconds renewed every
/// third of that; `None` without it.
pub fn registrar(args: &Args, addr: SocketAddr) -> Result<Option<EtcdRegistrar>, String> {
    if !args.register {
        return Ok(None);
    }
    let Some(urls) = &args.etcd else {
        return Err("--register needs --etcd URL".into());
    };
    let client = Arc::new(Client::new(urls.split(',').map(str::trim)));
    let ttl = Duration::from_secs(args.ttl);
    let registrar = EtcdRegistrar::new(
        client,
        Service::under(&args.etcd_prefix, &addr.to_string()),
        TtlOption::new(ttl / 3, ttl),
    );
    registrar.register().map_err(|e| e.to_string())?;
    Ok(Some(registrar))
}
