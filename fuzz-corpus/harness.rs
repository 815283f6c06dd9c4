//! The driver shared by shardwire's deterministic fuzz harnesses
//! (`proxy/tests/fuzz_protocol.rs`, `proxy/tests/fuzz_scram.rs`,
//! `router/tests/fuzz_router.rs`), included into each with `#[path]`.
//!
//! A harness names a target; the driver replays every file of
//! `fuzz-corpus/<target>/` and `fuzz-corpus/<target>/regressions/`, then
//! feeds the target mutants of those seeds made by a fixed-seed xorshift64*
//! generator (bit flips, byte insertion and deletion, truncation, length
//! fields overwritten with extreme values, splices of two seeds, repeated
//! chunks, dictionary tokens, changed numbers). Every input runs under
//! `catch_unwind` on a thread with a 2 MiB stack (a tokio worker's);
//! a panic or a failed property is saved under `regressions/` so it is
//! replayed on every later run, and the test fails with the input
//! hex-dumped.
//!
//! Bounds: `SHARDWIRE_FUZZ_SECS` seconds (default 3) or 20,000 mutants per
//! 3 seconds, whichever comes first. `SHARDWIRE_FUZZ_ITERS` overrides the
//! mutant count, `SHARDWIRE_FUZZ_SEED` the generator's seed, and
//! `SHARDWIRE_FUZZ_TRACE=1` writes each input to
//! `$TMPDIR/shardwire-fuzz-<target>.last` before running it (for crashes
//! that abort the process, such as a stack overflow, which no
//! `catch_unwind` sees).
#![allow(dead_code)]

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::{Duration, Instant};

/// Seconds each target runs by default.
pub const DEFAULT_SECS: f64 = 3.0;
/// Mutants per [`DEFAULT_SECS`] at most.
pub const DEFAULT_ITERATIONS: u64 = 20_000;
/// The generator's seed unless `SHARDWIRE_FUZZ_SEED` says otherwise.
pub const DEFAULT_SEED: u64 = 0x5348_4152_4457_4952; // "SHARDWIR"
/// Stack of the thread the inputs run on (tokio's worker default).
pub const STACK_SIZE: usize = 2 << 20;
/// New kinds of failure collected from mutants before a run stops early.
const MAX_FAILURES: usize = 8;

/// A small deterministic generator: xorshift64*.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator; a zero seed (which xorshift cannot leave) is replaced.
    pub fn new(seed: u64) -> Rng {
        Rng(if seed == 0 { DEFAULT_SEED } else { seed })
    }

    /// A generator seeded from some bytes (FNV-1a), for choices that must
    /// depend only on the input.
    pub fn from_bytes(bytes: &[u8]) -> Rng {
        Rng::new(fnv1a(bytes))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform-ish in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    /// True one time in `n`.
    pub fn one_in(&mut self, n: u64) -> bool {
        n <= 1 || self.below(n as usize) == 0
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        assert!(!items.is_empty(), "Rng::pick needs a non-empty slice");
        &items[self.below(items.len())]
    }
}

/// FNV-1a 64 of `bytes`.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// One corpus file.
#[derive(Clone, Debug)]
pub struct Seed {
    /// Path relative to the target's directory.
    pub name: String,
    /// Contents.
    pub data: Vec<u8>,
}

/// `fuzz-corpus/<target>` of the workspace.
pub fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("fuzz-corpus")
        .join(target)
}

fn read_files(dir: &Path, prefix: &str, out: &mut Vec<Seed>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    for path in paths {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        let data = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("reading corpus file {}: {e}", path.display()));
        out.push(Seed {
            name: format!("{prefix}{name}"),
            data,
        });
    }
}

/// The seeds of `target` (sorted by name), then its saved regressions.
pub fn load_corpus(target: &str) -> Vec<Seed> {
    let dir = corpus_dir(target);
    assert!(
        dir.is_dir(),
        "fuzz corpus {} is missing: every target keeps its seeds in the repository",
        dir.display()
    );
    let mut seeds = Vec::new();
    read_files(&dir, "", &mut seeds);
    read_files(&dir.join("regressions"), "regressions/", &mut seeds);
    assert!(
        !seeds.is_empty(),
        "fuzz corpus {} has no seed files",
        dir.display()
    );
    seeds
}

/// How long a target runs.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Wall time for the mutants (seeds always all run).
    pub time: Duration,
    /// Mutants at most.
    pub iterations: u64,
    /// Seed of the mutation generator.
    pub seed: u64,
}

fn env_number<T: std::str::FromStr>(name: &str) -> Option<T> {
    let text = std::env::var(name).ok()?;
    match text.trim().parse() {
        Ok(v) => Some(v),
        Err(_) => panic!("{name}={text:?} is not a number"),
    }
}

impl Budget {
    /// The budget from `SHARDWIRE_FUZZ_SECS` / `_ITERS` / `_SEED`.
    pub fn from_env() -> Budget {
        let secs = env_number::<f64>("SHARDWIRE_FUZZ_SECS")
            .filter(|s| s.is_finite() && *s >= 0.0)
            .unwrap_or(DEFAULT_SECS);
        let scaled = (secs / DEFAULT_SECS * DEFAULT_ITERATIONS as f64).ceil() as u64;
        let iterations = env_number::<u64>("SHARDWIRE_FUZZ_ITERS").unwrap_or(scaled);
        let seed = match std::env::var("SHARDWIRE_FUZZ_SEED") {
            Ok(s) => {
                let s = s.trim();
                let parsed = match s.strip_prefix("0x") {
                    Some(hex) => u64::from_str_radix(hex, 16),
                    None => s.parse(),
                };
                parsed.unwrap_or_else(|_| panic!("SHARDWIRE_FUZZ_SEED={s:?} is not a number"))
            }
            Err(_) => DEFAULT_SEED,
        };
        Budget {
            time: Duration::from_secs_f64(secs),
            iterations,
            seed,
        }
    }
}

/// What mutations a target gets.
#[derive(Clone, Copy, Debug)]
pub struct Mutations<'a> {
    /// Tokens worth inserting (keywords, quotes, magic numbers…).
    pub dictionary: &'a [&'a [u8]],
    /// Offsets of 4-byte length fields in typical inputs (e.g. 1 for a
    /// tagged frame, 0 for a startup packet); extreme values go there more
    /// often than at random offsets.
    pub length_offsets: &'a [usize],
    /// Mutants are cut to this many bytes.
    pub max_len: usize,
}

const EXTREME_U32: [u32; 13] = [
    0,
    1,
    3,
    4,
    5,
    8,
    10_000,
    10_001,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_fffe,
    0xffff_ffff,
    0x0001_0000,
];
const EXTREME_I16: [i16; 7] = [0, 1, 2, -1, -2, i16::MAX, i16::MIN];
const INTERESTING_BYTES: [u8; 12] = [
    0, 1, 0x7f, 0x80, 0xff, b'\'', b'"', b'$', b';', b'\\', b'(', b',',
];
const NUMBERS: [&str; 12] = [
    "0",
    "1",
    "-1",
    "5",
    "42",
    "4096",
    "2147483648",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "99999999999999999999999",
    "1e308",
];

impl Mutations<'_> {
    /// A mutant of `base`: one to four stacked mutations.
    pub fn mutate(&self, rng: &mut Rng, base: &[u8], seeds: &[Seed]) -> Vec<u8> {
        let mut out = base.to_vec();
        let rounds = 1 + rng.below(4);
        for _ in 0..rounds {
            self.mutate_once(rng, &mut out, seeds);
        }
        out.truncate(self.max_len);
        out
    }

    fn offset_for(&self, rng: &mut Rng, len: usize, width: usize) -> Option<usize> {
        if len < width {
            return None;
        }
        if !self.length_offsets.is_empty() && rng.one_in(2) {
            let at = *rng.pick(self.length_offsets);
            if at + width <= len {
                return Some(at);
            }
        }
        Some(rng.below(len - width + 1))
    }

    fn mutate_once(&self, rng: &mut Rng, out: &mut Vec<u8>, seeds: &[Seed]) {
        let len = out.len();
        match rng.below(13) {
            // Flip one bit.
            0 if len > 0 => {
                let at = rng.below(len);
                out[at] ^= 1 << rng.below(8);
            }
            // Set a byte to an interesting or random value.
            1 if len > 0 => {
                let at = rng.below(len);
                out[at] = if rng.one_in(2) {
                    *rng.pick(&INTERESTING_BYTES)
                } else {
                    rng.next_u64() as u8
                };
            }
            // Insert random bytes.
            2 => {
                let at = rng.below(len + 1);
                let n = 1 + rng.below(8);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
                out.splice(at..at, bytes);
            }
            // Delete a range.
            3 if len > 0 => {
                let at = rng.below(len);
                let n = (1 + rng.below(16)).min(len - at);
                out.drain(at..at + n);
            }
            // Truncate.
            4 if len > 0 => {
                let at = rng.below(len);
                out.truncate(at);
            }
            // A 4-byte big-endian length field with an extreme value.
            5 => {
                if let Some(at) = self.offset_for(rng, len, 4) {
                    let v = match rng.below(4) {
                        0 => len as u32,
                        1 => (len as u32).wrapping_sub(at as u32),
                        2 => (len as u32).wrapping_sub(at as u32).wrapping_add(1),
                        _ => *rng.pick(&EXTREME_U32),
                    };
                    out[at..at + 4].copy_from_slice(&v.to_be_bytes());
                }
            }
            // A 2-byte count with an extreme value.
            6 => {
                if let Some(at) = self.offset_for(rng, len, 2) {
                    let v = *rng.pick(&EXTREME_I16);
                    out[at..at + 2].copy_from_slice(&v.to_be_bytes());
                }
            }
            // Splice: a prefix of this input, a suffix of another seed.
            7 if !seeds.is_empty() => {
                let other = &rng.pick(seeds).data;
                let cut = rng.below(len + 1);
                let from = rng.below(other.len() + 1);
                out.truncate(cut);
                out.extend_from_slice(&other[from..]);
            }
            // Repeat a chunk in place.
            8 if len > 0 => {
                let at = rng.below(len);
                let n = (1 + rng.below(32)).min(len - at);
                let chunk = out[at..at + n].to_vec();
                let times = 2 + rng.below(63);
                let repeated: Vec<u8> = chunk
                    .iter()
                    .copied()
                    .cycle()
                    .take(n * times.min(self.max_len / n.max(1)))
                    .collect();
                out.splice(at..at + n, repeated);
            }
            // Insert a dictionary token.
            9 if !self.dictionary.is_empty() => {
                let at = rng.below(len + 1);
                let token = *rng.pick(self.dictionary);
                out.splice(at..at, token.iter().copied());
            }
            // Overwrite with a dictionary token.
            10 if !self.dictionary.is_empty() && len > 0 => {
                let at = rng.below(len);
                let token = *rng.pick(self.dictionary);
                let end = (at + token.len()).min(len);
                out.splice(at..end, token.iter().copied());
            }
            // Replace a run of digits by another number (same shape, other
            // literal: exercises plan caches keyed by shape).
            11 if len > 0 => {
                let start = rng.below(len);
                if let Some(first) = out[start..].iter().position(u8::is_ascii_digit) {
                    let from = start + first;
                    let to = out[from..]
                        .iter()
                        .position(|b| !b.is_ascii_digit())
                        .map_or(len, |p| from + p);
                    let number = rng.pick(&NUMBERS).trim_start_matches('-');
                    out.splice(from..to, number.bytes());
                }
            }
            // Swap two bytes.
            _ if len > 1 => {
                let a = rng.below(len);
                let b = rng.below(len);
                out.swap(a, b);
            }
            _ => out.push(rng.next_u64() as u8),
        }
    }
}

/// One input that panicked or broke a property.
#[derive(Clone, Debug)]
pub struct Failure {
    /// The panic message with its location.
    pub message: String,
    /// The input.
    pub input: Vec<u8>,
    /// Where it came from (seed name, or mutant number).
    pub origin: String,
    /// Where it was saved, for mutants.
    pub saved: Option<PathBuf>,
}

/// What a run did.
#[derive(Debug)]
pub struct Report {
    /// Target name.
    pub target: String,
    /// Corpus files replayed.
    pub seeds: usize,
    /// Mutants run.
    pub iterations: u64,
    /// Wall time of the whole run.
    pub elapsed: Duration,
    /// Generator seed.
    pub seed: u64,
    /// Failures found.
    pub failures: Vec<Failure>,
}

thread_local! {
    static QUIET: Cell<bool> = const { Cell::new(false) };
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
    static REPRO: RefCell<Option<Vec<u8>>> = const { RefCell::new(None) };
    static TALLY: RefCell<std::collections::BTreeMap<&'static str, u64>> =
        const { RefCell::new(std::collections::BTreeMap::new()) };
}

/// Counts an outcome (printed after the run), to show how deep the inputs
/// get: e.g. how many mutants reach a proof check rather than a parse error.
pub fn tally(outcome: &'static str) {
    TALLY.with(|t| *t.borrow_mut().entry(outcome).or_insert(0) += 1);
}

/// Called by a check before it fails: save `input` as the regression
/// instead of the input being checked (for failures that need context, such
/// as an earlier query that filled a cache).
pub fn set_repro(input: Vec<u8>) {
    REPRO.with(|r| *r.borrow_mut() = Some(input));
}

/// The message and location of the last panic recorded on this thread
/// while an input ran (for checks that catch panics themselves).
pub fn take_last_panic() -> Option<String> {
    LAST_PANIC.with(|p| p.borrow_mut().take())
}

/// Records panics raised while an input runs (instead of printing them);
/// other panics, such as a test's final assertion, print as usual.
fn install_panic_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if QUIET.with(Cell::get) {
                let message = if let Some(s) = info.payload().downcast_ref::<&str>() {
                    (*s).to_string()
                } else if let Some(s) = info.payload().downcast_ref::<String>() {
                    s.clone()
                } else {
                    "(non-string panic payload)".to_string()
                };
                let at = info
                    .location()
                    .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
                    .unwrap_or_else(|| "unknown location".to_string());
                LAST_PANIC.with(|p| *p.borrow_mut() = Some(format!("{message} (at {at})")));
            } else {
                previous(info);
            }
        }));
    });
}

/// What kind of failure a recorded panic message is: its first line and
/// where it panicked (so the many variants of one bug count once, and
/// other bugs are still looked for).
pub fn failure_kind(message: &str) -> String {
    let first = message.lines().next().unwrap_or("");
    let at = message.rfind(" (at ").map_or("", |i| &message[i..]);
    format!("{first}{at}")
}

/// Runs `check(input)`, returning the panic message if it panicked.
pub fn run_case<F: FnMut(&[u8])>(check: &mut F, input: &[u8]) -> Result<(), String> {
    QUIET.with(|q| q.set(true));
    LAST_PANIC.with(|p| *p.borrow_mut() = None);
    REPRO.with(|r| *r.borrow_mut() = None);
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| check(input)));
    QUIET.with(|q| q.set(false));
    match outcome {
        Ok(()) => Ok(()),
        Err(_) => Err(LAST_PANIC
            .with(|p| p.borrow_mut().take())
            .unwrap_or_else(|| "panic without a message".to_string())),
    }
}

/// A hex dump of at most 1 KiB of `data`, 16 bytes a line.
pub fn hex_dump(data: &[u8]) -> String {
    const SHOWN: usize = 1024;
    let mut out = String::new();
    for (line, chunk) in data.chunks(16).take(SHOWN / 16).enumerate() {
        let hex: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
        let ascii: String = chunk
            .iter()
            .map(|&b| {
                if b.is_ascii_graphic() || b == b' ' {
                    b as char
                } else {
                    '.'
                }
            })
            .collect();
        out.push_str(&format!(
            "  {:06x}  {:<47}  |{}|\n",
            line * 16,
            hex.join(" "),
            ascii
        ));
    }
    if data.len() > SHOWN {
        out.push_str(&format!("  … {} more bytes\n", data.len() - SHOWN));
    }
    if data.is_empty() {
        out.push_str("  (empty input)\n");
    }
    out
}

/// Saves a failing mutant as `regressions/crash-<fnv>.bin`.
fn save_regression(target: &str, input: &[u8]) -> Option<PathBuf> {
    let dir = corpus_dir(target).join("regressions");
    std::fs::create_dir_all(&dir).ok()?;
    let path = dir.join(format!("crash-{:016x}.bin", fnv1a(input)));
    if !path.exists() {
        std::fs::write(&path, input).ok()?;
    }
    Some(path)
}

fn trace(target: &str, input: &[u8]) {
    let path = std::env::temp_dir().join(format!("shardwire-fuzz-{target}.last"));
    // Best effort: tracing is a debugging aid and must not fail a run.
    let _ = std::fs::write(path, input);
}

/// Replays the corpus of `target`, then runs mutants within the budget.
/// `check` must panic (assert) when an input breaks a property.
pub fn fuzz<F: FnMut(&[u8])>(target: &str, mutations: Mutations<'_>, mut check: F) -> Report {
    install_panic_hook();
    let budget = Budget::from_env();
    let tracing = std::env::var_os("SHARDWIRE_FUZZ_TRACE").is_some_and(|v| v != "0");
    let seeds = load_corpus(target);
    let started = Instant::now();
    let mut failures: Vec<Failure> = Vec::new();
    let mut seen_kinds = std::collections::HashSet::new();
    TALLY.with(|t| t.borrow_mut().clear());

    // Mutants are made from the files that pass: mutating a known failure
    // mostly finds it again.
    let mut bases: Vec<Seed> = Vec::new();
    for seed in &seeds {
        if tracing {
            trace(target, &seed.data);
        }
        match run_case(&mut check, &seed.data) {
            Ok(()) => bases.push(seed.clone()),
            Err(message) => {
                seen_kinds.insert(failure_kind(&message));
                failures.push(Failure {
                    message,
                    input: seed.data.clone(),
                    origin: format!("corpus file {}", seed.name),
                    saved: None,
                });
            }
        }
    }
    if bases.is_empty() {
        bases = seeds.clone();
    }

    let mut rng = Rng::new(budget.seed ^ fnv1a(target.as_bytes()));
    let mut previous: Vec<u8> = Vec::new();
    let mut iterations = 0;
    let mutants_started = Instant::now();
    let known_failures = failures.len();
    while iterations < budget.iterations
        && mutants_started.elapsed() < budget.time
        && failures.len() - known_failures < MAX_FAILURES
    {
        // Mostly mutate a seed; sometimes keep mutating the last mutant.
        let base = if !previous.is_empty() && rng.one_in(4) {
            std::mem::take(&mut previous)
        } else {
            rng.pick(&bases).data.clone()
        };
        let input = mutations.mutate(&mut rng, &base, &bases);
        iterations += 1;
        if tracing {
            trace(target, &input);
        }
        if let Err(message) = run_case(&mut check, &input) {
            // One example of each kind of failure is enough.
            if seen_kinds.insert(failure_kind(&message)) {
                let failing = REPRO
                    .with(|r| r.borrow_mut().take())
                    .unwrap_or_else(|| input.clone());
                let saved = save_regression(target, &failing);
                failures.push(Failure {
                    message,
                    input: failing,
                    origin: format!("mutant #{iterations}"),
                    saved,
                });
            }
        }
        previous = input;
    }

    let outcomes = TALLY.with(|t| std::mem::take(&mut *t.borrow_mut()));
    let report = Report {
        target: target.to_string(),
        seeds: seeds.len(),
        iterations,
        elapsed: started.elapsed(),
        seed: budget.seed,
        failures,
    };
    println!(
        "fuzz[{}]: {} corpus files, {} mutants in {:.2?} (seed {:#x}), {} failures",
        report.target,
        report.seeds,
        report.iterations,
        report.elapsed,
        report.seed,
        report.failures.len()
    );
    for (outcome, count) in outcomes {
        println!("fuzz[{}]:   {count:>7}  {outcome}", report.target);
    }
    report
}

/// Fails the test with every failure of `report`, hex-dumped.
pub fn assert_clean(report: &Report) {
    if report.failures.is_empty() {
        return;
    }
    let mut text = format!(
        "fuzz target `{}`: {} input(s) panicked or broke a property\n",
        report.target,
        report.failures.len()
    );
    for f in &report.failures {
        text.push_str(&format!("\n--- {}: {}\n", f.origin, f.message));
        if let Some(path) = &f.saved {
            text.push_str(&format!("    saved as {}\n", path.display()));
        }
        text.push_str(&format!(
            "    {} bytes:\n{}",
            f.input.len(),
            hex_dump(&f.input)
        ));
    }
    panic!("{text}");
}

/// Runs `f` on a thread with a tokio worker's stack, passing its panic on.
pub fn on_worker_stack<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    let handle = std::thread::Builder::new()
        .name("fuzz".to_string())
        .stack_size(STACK_SIZE)
        .spawn(f)
        .expect("spawning the fuzz thread");
    match handle.join() {
        Ok(r) => r,
        Err(payload) => panic::resume_unwind(payload),
    }
}

/// Whether `part` is a sub-slice of `whole` (empty slices always are: they
/// hold no bytes that could lie outside the input).
pub fn is_within(whole: &[u8], part: &[u8]) -> bool {
    let start = whole.as_ptr() as usize;
    let p = part.as_ptr() as usize;
    part.is_empty() || (p >= start && p + part.len() <= start + whole.len())
}
