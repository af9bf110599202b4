//! What the benchmark programs share: their command-line options and the
//! median. (A subdirectory, so Cargo does not take it for a bench target.)

/// `--quick`, `--repeat N` and `--only PREFIX`, as every bench takes them.
pub struct BenchArgs {
    /// Small sizes and one repetition: a smoke test.
    pub quick: bool,
    /// Repetitions per workload (default 1 with `--quick`, else 5).
    pub repeat: usize,
    only: Option<String>,
}

impl BenchArgs {
    /// Parses the options from `args` (the program's arguments).
    pub fn parse(args: &[String]) -> BenchArgs {
        let value = |name: &str| args.windows(2).find(|w| w[0] == name).map(|w| w[1].clone());
        let quick = args.iter().any(|a| a == "--quick");
        let repeat =
            value("--repeat").map(|r| r.parse().expect("--repeat takes a number")).unwrap_or(if quick { 1 } else { 5 });
        assert!(repeat >= 1, "--repeat must be at least 1");
        BenchArgs { quick, repeat, only: value("--only") }
    }

    /// Whether the workload `name` was asked for (all, without `--only`).
    #[allow(dead_code)] // not every bench filters
    pub fn wanted(&self, name: &str) -> bool {
        self.only.as_deref().is_none_or(|o| name.starts_with(o))
    }

    /// Exits with status 2 and a message when `--only` selects none of
    /// `names` (the bench's workloads): a typo must not pass as a run that
    /// measured nothing.
    #[allow(dead_code)] // not every bench checks
    pub fn check_only(&self, names: &[&str]) {
        if let Some(o) = self.only.as_deref() {
            if !names.iter().any(|n| n.starts_with(o)) {
                eprintln!("--only {o}: no workload starts with it (workloads: {})", names.join(", "));
                std::process::exit(2);
            }
        }
    }
}

/// The value of the numeric option `name` (e.g. `--n 50000`) in `args`,
/// if given; exits with status 2 and a message if it is not a number.
#[allow(dead_code)] // not every bench has size options
pub fn number_arg(args: &[String], name: &str) -> Option<usize> {
    let v = args.windows(2).find(|w| w[0] == name).map(|w| w[1].clone())?;
    match v.parse() {
        Ok(n) => Some(n),
        Err(_) => {
            eprintln!("{name} takes a number, not {v:?}");
            std::process::exit(2);
        }
    }
}

/// The median (the upper one for an even count).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// Reads one byte from `fd` (a start signal between forked processes).
#[allow(dead_code)] // not every bench forks
pub fn wait_byte(fd: i32) {
    let mut b = [0u8; 1];
    // SAFETY: reading into a local buffer from our pipe.
    assert_eq!(unsafe { libc::read(fd, b.as_mut_ptr().cast(), 1) }, 1);
}

/// Writes `n` signal bytes to `fd`.
#[allow(dead_code)]
pub fn signal(fd: i32, n: usize) {
    // SAFETY: writing from a local buffer to our pipe.
    assert_eq!(unsafe { libc::write(fd, vec![1u8; n].as_ptr().cast(), n) }, n as isize);
}

/// A pipe for signalling between forked processes.
#[allow(dead_code)]
pub fn pipe_fds() -> [i32; 2] {
    let mut p = [0i32; 2];
    // SAFETY: a valid array of two ints.
    assert_eq!(unsafe { libc::pipe(p.as_mut_ptr()) }, 0);
    p
}
