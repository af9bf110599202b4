//! `mpipc`: the command-line tool.
//!
//! ```text
//! mpipc manager serve --address ADDR [--authkey-file FILE]
//! mpipc version
//! ```
//!
//! `manager serve` runs a standalone manager server until SIGTERM or
//! SIGINT, logging to stderr. ADDR is `unix:/path`, `unix:@name` or
//! `tcp:host:port` (TCP needs an authkey). The authkey file's bytes are the
//! key (one trailing newline is ignored); keep it mode 0600.

use mpipc::{ListenerOptions, ManagerServer};
use std::process::ExitCode;

fn usage() -> ExitCode {
    eprintln!("usage: mpipc manager serve --address ADDR [--authkey-file FILE]\n       mpipc version");
    ExitCode::from(2)
}

fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.windows(2).find(|w| w[0] == name).map(|w| w[1].as_str())
}

fn serve(args: &[String]) -> ExitCode {
    let Some(address) = flag(args, "--address") else { return usage() };
    let authkey = match flag(args, "--authkey-file") {
        None => None,
        Some(path) => match std::fs::read(path) {
            Ok(mut k) => {
                if k.last() == Some(&b'\n') {
                    k.pop();
                }
                Some(k)
            }
            Err(e) => {
                eprintln!("mpipc manager: cannot read the authkey file {path}: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    // Block the stop signals in this thread before any other thread exists
    // (threads inherit the mask), then wait for one with sigwait: no signal
    // handler runs, so nothing async-signal-unsafe can happen.
    // SAFETY: plain signal-mask calls on a local set.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    };
    let server = match ManagerServer::serve(address, &ListenerOptions { authkey, ..Default::default() }) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("mpipc manager: cannot serve at {address}: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!("mpipc manager: serving at {} (pid {})", server.address(), std::process::id());
    let mut sig: libc::c_int = 0;
    // SAFETY: waiting for a signal of the blocked set.
    unsafe { libc::sigwait(&set, &mut sig) };
    eprintln!("mpipc manager: signal {sig}, shutting down");
    server.shutdown();
    eprintln!("mpipc manager: stopped");
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["manager", "serve", ..] => serve(&args[2..]),
        ["version"] => {
            println!("mpipc {}", mpipc::VERSION);
            ExitCode::SUCCESS
        }
        _ => usage(),
    }
}
